#include "custops/ctl/format.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "custops/ctl/parse.h"
#include "custops/event/time.h"
#include "custops/v1/admin.pb.h"
#include "custops/v1/common.pb.h"
#include "custops/v1/lifecycle.pb.h"
#include "custops/v1/lifecycle_types.pb.h"

namespace custops::ctl {
namespace {

bool IsWide(uint32_t c) {
  return (c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0x303E) ||
         (c >= 0x3041 && c <= 0x33FF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xA000 && c <= 0xA4CF) ||
         (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) ||
         (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60) ||
         (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x1F300 && c <= 0x1F64F) ||
         (c >= 0x20000 && c <= 0x3FFFD);
}

bool IsNumber(std::string_view s) {
  if (!s.empty() && s.front() == '-') s.remove_prefix(1);
  if (!s.empty() && s.back() == '%') s.remove_suffix(1);
  if (s.empty()) return false;
  bool digit = false;
  bool dot = false;
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      digit = true;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      return false;
    }
  }
  return digit;
}

std::string Pad(const std::string& s, size_t width, bool right) {
  const size_t w = DisplayWidth(s);
  const std::string fill(width > w ? width - w : 0, ' ');
  return right ? fill + s : s + fill;
}

std::string StageName(int stage) { return ShortEnumName(*v1::LifecycleStage_descriptor(), stage); }

}  // namespace

size_t DisplayWidth(std::string_view text) {
  size_t width = 0;
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char b = static_cast<unsigned char>(text[i]);
    size_t len = 1;
    uint32_t c = b;
    if (b >= 0xF0 && b <= 0xF4) {
      len = 4;
      c = b & 0x07;
    } else if (b >= 0xE0) {
      len = 3;
      c = b & 0x0F;
    } else if (b >= 0xC2 && b < 0xE0) {
      len = 2;
      c = b & 0x1F;
    }
    bool valid = len == 1 || i + len <= text.size();
    for (size_t k = 1; valid && k < len; ++k) {
      const unsigned char cont = static_cast<unsigned char>(text[i + k]);
      valid = (cont & 0xC0) == 0x80;
      c = (c << 6) | (cont & 0x3F);
    }
    if (!valid) {
      len = 1;
      c = b;
    }
    width += (len > 1 && IsWide(c)) ? 2 : 1;
    i += len;
  }
  return width;
}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(std::max(cells.size(), header_.size()));
  rows_.push_back(std::move(cells));
}

std::string Table::Render() const {
  const size_t columns = header_.size();
  std::vector<size_t> width(columns, 0);
  std::vector<bool> numeric(columns, true);
  std::vector<bool> any(columns, false);
  for (size_t c = 0; c < columns; ++c) width[c] = DisplayWidth(header_[c]);
  for (const auto& row : rows_) {
    for (size_t c = 0; c < columns; ++c) {
      width[c] = std::max(width[c], DisplayWidth(row[c]));
      if (row[c].empty()) continue;
      any[c] = true;
      if (!IsNumber(row[c])) numeric[c] = false;
    }
  }
  auto render_row = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (size_t c = 0; c < columns; ++c) {
      if (c > 0) line += "  ";
      line += Pad(cells[c], width[c], numeric[c] && any[c]);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    return line + "\n";
  };
  std::string out = render_row(header_);
  for (const auto& row : rows_) out += render_row(row);
  return out;
}

std::string FormatStageSummary(const v1::StageSummaryResponse& summary) {
  const bool by_all =
      summary.dimension() == v1::DIMENSION_UNSPECIFIED || summary.dimension() == v1::DIMENSION_ALL;
  std::string out = "stage summary";
  if (!by_all) {
    absl::StrAppend(&out, " by ", ShortEnumName(*v1::Dimension_descriptor(), summary.dimension()));
  }
  if (summary.has_as_of()) {
    absl::StrAppend(&out, " as of ", FormatRfc3339(event::FromProto(summary.as_of())));
  }
  out += "\n\n";

  // Pivot: one row per dimension value, in the order the server gave.
  enum Column {
    kProspect,
    kIntent,
    kCustomer,
    kNew,
    kGrowing,
    kStable,
    kDeclining,
    kLost,
    kOther,
    kTotal,
    kColumns
  };
  std::vector<std::string> values;
  std::map<std::string, std::vector<int64_t>> rows;
  std::vector<int64_t> totals(kColumns, 0);
  for (const v1::StageCount& count : summary.counts()) {
    auto [it, inserted] = rows.try_emplace(count.dimension_value(), kColumns, 0);
    if (inserted) values.push_back(count.dimension_value());
    std::vector<Column> columns;
    switch (count.stage()) {
      case v1::LIFECYCLE_STAGE_PROSPECT:
        columns = {kProspect};
        break;
      case v1::LIFECYCLE_STAGE_INTENT:
        columns = {kIntent};
        break;
      case v1::LIFECYCLE_STAGE_CUSTOMER:
        columns = {kCustomer};
        switch (count.sub_stage()) {
          case v1::SUB_STAGE_NEW:
            columns.push_back(kNew);
            break;
          case v1::SUB_STAGE_GROWING:
            columns.push_back(kGrowing);
            break;
          case v1::SUB_STAGE_STABLE:
            columns.push_back(kStable);
            break;
          case v1::SUB_STAGE_DECLINING:
            columns.push_back(kDeclining);
            break;
          default:
            break;
        }
        break;
      case v1::LIFECYCLE_STAGE_LOST:
        columns = {kLost};
        break;
      default:
        columns = {kOther};
        break;
    }
    columns.push_back(kTotal);
    for (Column c : columns) {
      it->second[c] += count.count();
      totals[c] += count.count();
    }
  }
  const bool other = totals[kOther] != 0;
  std::vector<std::string> header = {
      by_all ? "ALL" : ShortEnumName(*v1::Dimension_descriptor(), summary.dimension()),
      StageName(v1::LIFECYCLE_STAGE_PROSPECT),
      StageName(v1::LIFECYCLE_STAGE_INTENT),
      StageName(v1::LIFECYCLE_STAGE_CUSTOMER),
      "NEW",
      "GROWING",
      "STABLE",
      "DECLINING",
      StageName(v1::LIFECYCLE_STAGE_LOST)};
  if (other) header.push_back("OTHER");
  header.push_back("TOTAL");
  Table table(header);
  auto add = [&](const std::string& label, const std::vector<int64_t>& n) {
    std::vector<std::string> cells = {label};
    for (int c = kProspect; c < kColumns; ++c) {
      if (c == kOther && !other) continue;
      cells.push_back(absl::StrCat(n[c]));
    }
    table.AddRow(std::move(cells));
  };
  for (const std::string& value : values) {
    add(value.empty() ? (by_all ? "(all)" : "(none)") : value, rows[value]);
  }
  if (!by_all || values.size() != 1) add("TOTAL", totals);
  out += table.Render();
  absl::StrAppend(&out, "\ntotal: ", summary.total(), "\n");
  return out;
}

std::string FormatStatus(const v1::StatusResponse& status) {
  std::string out;
  absl::StrAppend(&out, "mode: ", status.mode().empty() ? "?" : status.mode(), "\n");
  absl::StrAppend(&out, "version: ", status.version().empty() ? "?" : status.version(), "\n");
  absl::StrAppend(&out, "dead letters: ", status.dead_letters(), "\n");

  if (status.topics_size() > 0) {
    Table topics({"TOPIC", "PARTITION", "LOG START", "LOG END"});
    for (const v1::TopicStatus& t : status.topics()) {
      for (const v1::PartitionStatus& p : t.partitions()) {
        topics.AddRow({t.topic(), absl::StrCat(p.partition()), absl::StrCat(p.log_start()),
                       absl::StrCat(p.log_end())});
      }
      if (t.partitions_size() == 0) topics.AddRow({t.topic()});
    }
    out += "\n" + topics.Render();
  }

  if (status.projections_size() > 0) {
    Table projections(
        {"PROJECTION", "TOPIC", "APPLIED", "LAG", "NOOPS", "DEAD LETTERS", "CHANGES", "OUTBOX"});
    Table partitions({"PROJECTION", "PARTITION", "APPLIED OFFSET", "LOG END", "LAG"});
    Table reasons({"PROJECTION", "NOOP REASON", "COUNT"});
    bool any_partition = false;
    bool any_reason = false;
    for (const v1::ProjectionStatus& p : status.projections()) {
      int64_t lag = 0;
      for (const v1::PartitionStatus& part : p.partitions()) {
        lag += part.lag();
        any_partition = true;
        partitions.AddRow({p.name(), absl::StrCat(part.partition()),
                           absl::StrCat(part.applied_offset()), absl::StrCat(part.log_end()),
                           absl::StrCat(part.lag())});
      }
      for (const v1::ReasonCount& r : p.noops_by_reason()) {
        any_reason = true;
        reasons.AddRow({p.name(), r.reason(), absl::StrCat(r.count())});
      }
      projections.AddRow({p.name(), p.topic(), absl::StrCat(p.events_applied()), absl::StrCat(lag),
                          absl::StrCat(p.noops()), absl::StrCat(p.dead_letters()),
                          absl::StrCat(p.changes_emitted()), absl::StrCat(p.outbox_pending())});
    }
    out += "\n" + projections.Render();
    if (any_partition) out += "\n" + partitions.Render();
    if (any_reason) out += "\n" + reasons.Render();
  }
  return out;
}

}  // namespace custops::ctl
