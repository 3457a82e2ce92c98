#include "custops/ctl/format.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "custops/ctl/labels.h"
#include "custops/ctl/numbers.h"
#include "custops/ctl/parse.h"
#include "custops/ctl/width.h"
#include "custops/event/payload.h"
#include "custops/event/time.h"
#include "custops/v1/admin.pb.h"
#include "custops/v1/common.pb.h"
#include "custops/v1/lifecycle.pb.h"
#include "custops/v1/lifecycle_types.pb.h"

namespace custops::ctl {
namespace {

// Strips `prefix` from the front of `s` when it is there.
bool Consume(std::string_view& s, std::string_view prefix) {
  if (s.substr(0, prefix.size()) != prefix) return false;
  s.remove_prefix(prefix.size());
  return true;
}

bool ConsumeSuffix(std::string_view& s, std::string_view suffix) {
  if (s.size() < suffix.size() || s.substr(s.size() - suffix.size()) != suffix) return false;
  s.remove_suffix(suffix.size());
  return true;
}

std::string StageName(int stage) { return ShortEnumName(*v1::LifecycleStage_descriptor(), stage); }

}  // namespace

bool LooksNumeric(std::string_view s) {
  if (!Consume(s, "-") && !Consume(s, "+") && !Consume(s, "↑")) Consume(s, "↓");
  Consume(s, "¥");
  for (std::string_view unit : {"%", "‰", " 天", " days", " 小时", " h"}) {
    if (ConsumeSuffix(s, unit)) break;
  }
  if (s.size() > 4 && s[s.size() - 4] == ' ' &&
      std::all_of(s.end() - 3, s.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    s.remove_suffix(4);  // a currency code: "1.00 USD"
  }
  // Digits, grouped by three with commas or not at all, then an optional
  // fraction.
  const size_t dot = s.find('.');
  std::string_view integer = s.substr(0, dot);
  if (dot != std::string_view::npos) {
    const std::string_view fraction = s.substr(dot + 1);
    if (fraction.empty() || !std::all_of(fraction.begin(), fraction.end(), absl::ascii_isdigit)) {
      return false;
    }
  }
  if (integer.empty()) return false;
  const bool grouped = integer.find(',') != std::string_view::npos;
  size_t group = 0;  // digits since the last comma
  for (size_t i = 0; i < integer.size(); ++i) {
    const char c = integer[i];
    if (absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      ++group;
      if (grouped && i > 0 && group > 3) return false;
    } else if (c == ',') {
      if (group == 0 || group > 3 || (i > group && group != 3)) return false;
      group = 0;
    } else {
      return false;
    }
  }
  return !grouped || group == 3;
}

std::string FormatTimestamp(bool has, const google::protobuf::Timestamp& t) {
  if (!has) return std::string(kNull);
  return FormatRfc3339(event::FromProto(t));
}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(header_.size());
  rows_.push_back(std::move(cells));
}

void Table::SetAlign(size_t column, Align align) {
  if (align_.size() <= column) align_.resize(column + 1, Align::kAuto);
  align_[column] = align;
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
      if (row[c].empty() || row[c] == kNull) continue;
      any[c] = true;
      if (!LooksNumeric(row[c])) numeric[c] = false;
    }
  }
  std::vector<bool> right(columns, false);
  for (size_t c = 0; c < columns; ++c) {
    const Align align = c < align_.size() ? align_[c] : Align::kAuto;
    right[c] = align == Align::kRight || (align == Align::kAuto && numeric[c] && any[c]);
  }
  auto render_row = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (size_t c = 0; c < columns; ++c) {
      if (c > 0) line += "  ";
      line += right[c] ? PadLeft(cells[c], width[c]) : PadRight(cells[c], width[c]);
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

std::string FormatDeadLetters(const v1::ListDeadLettersResponse& page) {
  Table table({"PARTITION", "OFFSET", "PROJECTION", "SOURCE", "KEY", "RECORDED", "REASON"});
  for (const v1::DeadLetterEntry& e : page.dead_letters()) {
    const v1::DeadLetter& d = e.dead_letter();
    table.AddRow({absl::StrCat(e.partition()), absl::StrCat(e.offset()), d.projection(),
                  absl::StrCat(d.source_topic(), "/", d.source_partition(), "@", d.source_offset()),
                  d.key(), FormatTimestamp(d.has_recorded_at(), d.recorded_at()), d.reason()});
  }
  std::string out = table.Render();
  absl::StrAppend(&out, "\n", page.dead_letters_size(), " dead letters\n");
  return out;
}

std::string FormatReplay(const v1::ReplayDeadLettersResponse& replay) {
  std::string out = absl::StrCat("released: ", replay.customers_released(), " customers, ",
                                 replay.events_replayed(), " records\n",
                                 "still parked: ", replay.customers_parked(), " customers, ",
                                 replay.events_parked(), " records\n");
  if (replay.parked_size() > 0) {
    Table table({"CUSTOMER", "PARTITION", "PARKED", "HEAD OFFSET", "REASON"});
    for (const v1::ParkedCustomer& c : replay.parked()) {
      table.AddRow({c.customer_id(), absl::StrCat(c.partition()), absl::StrCat(c.parked_events()),
                    absl::StrCat(c.head_offset()), c.reason()});
    }
    out += "\n" + table.Render();
  }
  if (replay.more()) out += "\nmore to replay: run the command again\n";
  if (replay.partitions_not_owned_size() > 0) {
    out += absl::StrCat("\npartitions owned by other instances (replay there): ",
                        absl::StrJoin(replay.partitions_not_owned(), ", "), "\n");
  }
  return out;
}

std::string ProgressBar(int percent, int width) {
  percent = std::clamp(percent, 0, 100);
  const int done = percent * width / 100;
  return absl::StrCat("[", std::string(static_cast<size_t>(done), '#'),
                      std::string(static_cast<size_t>(width - done), '.'), "] ",
                      absl::StrFormat("%3d%%", percent));
}

std::string FormatRebuild(const std::string& projection, const v1::RebuildProgress& p) {
  if (p.running()) {
    return absl::StrCat(
        projection, ": rebuilding generation ", p.generation() + 1, ": ",
        ProgressBar(p.percent(), 20), " ", p.applied(), " of ", p.target(), " records, ",
        p.records_per_second(), " records/s, ETA ",
        p.eta_seconds() < 0 ? std::string("?") : absl::StrCat(p.eta_seconds(), " s"));
  }
  if (!p.error().empty()) {
    return absl::StrCat(projection, ": rebuild failed: ", p.error());
  }
  std::string out = absl::StrCat(projection, ": generation ", p.generation(), " serves");
  if (p.has_started_at() && p.has_finished_at()) {
    absl::StrAppend(&out, " (rebuilt in ", p.finished_at().seconds() - p.started_at().seconds(),
                    " s)");
  }
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
    Table projections({"PROJECTION", "STATE", "TOPIC", "APPLIED", "LAG", "NOOPS", "DEAD LETTERS",
                       "PARKED", "CHANGES", "OUTBOX"});
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
      std::string state = p.state() == v1::PROJECTION_STATE_UNSPECIFIED
                              ? std::string(kNull)
                              : ShortEnumName(*v1::ProjectionState_descriptor(), p.state());
      if (p.rebuild().running()) absl::StrAppend(&state, " ", p.rebuild().percent(), "%");
      projections.AddRow({p.name(), state, p.topic(), absl::StrCat(p.events_applied()),
                          absl::StrCat(lag), absl::StrCat(p.noops()),
                          absl::StrCat(p.dead_letters()),
                          absl::StrCat(p.parked_customers(), " (", p.parked_events(), ")"),
                          absl::StrCat(p.changes_emitted()), absl::StrCat(p.outbox_pending())});
    }
    out += "\n" + projections.Render();
    if (any_partition) out += "\n" + partitions.Render();
    if (any_reason) out += "\n" + reasons.Render();
  }
  return out;
}

namespace {

std::string Or(const std::string& s) { return s.empty() ? std::string(kNull) : s; }

std::string Money(const v1::Money& m, bool has) {
  return has ? FormatMoney(m.units(), m.currency()) : std::string(kNull);
}

// "成交 / 成长" — the stage and, for CUSTOMER, its sub-stage.
std::string StageText(v1::LifecycleStage stage, v1::SubStage sub, Lang lang) {
  std::string out = Or(StageLabel(stage, lang));
  if (sub != v1::SUB_STAGE_UNSPECIFIED) absl::StrAppend(&out, " / ", SubStageLabel(sub, lang));
  return out;
}

std::string KindName(v1::CustomerKind kind) {
  return kind == v1::CUSTOMER_KIND_UNSPECIFIED
             ? std::string(kNull)
             : ShortEnumName(*v1::CustomerKind_descriptor(), kind);
}

}  // namespace

std::string FormatCustomerView(const v1::CustomerView& view, Lang lang) {
  const v1::CustomerProfile& p = view.profile();
  std::string out = absl::StrCat(Pick(lang, "客户 ", "customer "), view.customer_id());
  if (!p.name().empty()) absl::StrAppend(&out, " ", p.name());
  if (view.has_as_of()) {
    absl::StrAppend(&out, Pick(lang, " 截至 ", " as of "), FormatTimestamp(true, view.as_of()));
  }
  out += "\n\n";

  Table facts({std::string(Pick(lang, "项目", "FIELD")), std::string(Pick(lang, "字段", "NAME")),
               std::string(Pick(lang, "值", "VALUE"))});
  auto row = [&](const char* zh, const char* en, const char* field, std::string value) {
    facts.AddRow({std::string(Pick(lang, zh, en)), std::string(field), std::move(value)});
  };
  row("阶段", "Stage", "stage", StageText(view.stage(), view.sub_stage(), lang));
  row("类型", "Kind", "profile.kind", KindName(p.kind()));
  row("区域", "Region", "profile.region", Or(p.region()));
  row("行业", "Industry", "profile.industry", Or(p.industry()));
  row("负责人", "Owner", "profile.owner_id", Or(p.owner_id()));
  row("渠道", "Channel", "profile.channel", Or(p.channel()));
  row("规模", "Size", "profile.size", Or(p.size()));
  row("预算", "Budget", "profile.budget", Money(p.budget(), p.has_budget()));
  row("注册时间", "Registered", "profile.registered_at",
      FormatTimestamp(p.has_registered_at(), p.registered_at()));
  if (!view.man_class().empty()) row("MAN 分类", "MAN class", "man_class", view.man_class());
  row("赢回次数", "Win-backs", "win_back_count", FormatInteger(view.win_back_count()));
  row("购买次数", "Purchases", "purchase_count", FormatInteger(view.purchase_count()));
  row("近365天营收", "Revenue, last 365 d", "revenue_last_365d",
      Money(view.revenue_last_365d(), view.has_revenue_last_365d()));
  row("前365天营收", "Revenue, prior 365 d", "revenue_prior_365d",
      Money(view.revenue_prior_365d(), view.has_revenue_prior_365d()));
  row("首次购买", "First purchase", "first_purchase_at",
      FormatTimestamp(view.has_first_purchase_at(), view.first_purchase_at()));
  row("最近购买", "Last purchase", "last_purchase_at",
      FormatTimestamp(view.has_last_purchase_at(), view.last_purchase_at()));
  row("最近活动", "Last activity", "last_activity_at",
      FormatTimestamp(view.has_last_activity_at(), view.last_activity_at()));
  row("标记", "Flags", "flags",
      view.flags().empty() ? std::string(kNull) : absl::StrJoin(view.flags(), ", "));
  out += facts.Render();

  if (view.stage_history_size() > 0) {
    Table history({std::string(Pick(lang, "时间", "AT")), std::string(Pick(lang, "从", "FROM")),
                   std::string(Pick(lang, "到", "TO")), std::string(Pick(lang, "原因", "REASON"))});
    for (const v1::StageTransition& t : view.stage_history()) {
      history.AddRow({FormatTimestamp(t.has_at(), t.at()),
                      StageText(t.from(), t.from_sub_stage(), lang),
                      StageText(t.to(), t.to_sub_stage(), lang), Or(t.reason())});
    }
    absl::StrAppend(&out, "\n", Pick(lang, "阶段历史", "stage history"), "\n", history.Render());
  }
  if (view.open_opportunities_size() > 0) {
    Table opportunities(
        {std::string(Pick(lang, "商机", "OPPORTUNITY")), std::string(Pick(lang, "阶段", "STAGE")),
         std::string(Pick(lang, "概率", "PROBABILITY")), std::string(Pick(lang, "金额", "AMOUNT")),
         std::string(Pick(lang, "产品", "PRODUCT")), std::string(Pick(lang, "开始", "OPENED"))});
    for (const v1::OpenOpportunity& o : view.open_opportunities()) {
      opportunities.AddRow({o.opportunity_id(), Or(FunnelStageLabel(o.stage(), lang)),
                            FormatPercent(o.probability(), 100, 0),
                            Money(o.amount(), o.has_amount()), Or(o.product()),
                            FormatTimestamp(o.has_opened_at(), o.opened_at())});
    }
    absl::StrAppend(&out, "\n", Pick(lang, "在途商机", "open opportunities"), "\n",
                    opportunities.Render());
  }
  if (view.contacts_size() > 0) {
    Table contacts(
        {std::string(Pick(lang, "联系人", "CONTACT")), std::string(Pick(lang, "姓名", "NAME")),
         std::string(Pick(lang, "角色", "ROLE")), std::string(Pick(lang, "生日", "BIRTHDAY")),
         std::string(Pick(lang, "已拜访", "VISITED"))});
    for (const v1::Contact& c : view.contacts()) {
      std::string birthday(kNull);
      if (c.has_birthday() && c.birthday().month() > 0) {
        char buf[16];
        std::snprintf(buf, sizeof(buf), "%02d-%02d", c.birthday().month(), c.birthday().day());
        birthday = buf;
      }
      contacts.AddRow(
          {c.contact_id(), Or(c.name()),
           c.role() == 0 ? std::string(kNull)
                         : ShortEnumName(*v1::ContactRole_descriptor(), c.role()),
           birthday, std::string(c.visited() ? Pick(lang, "是", "yes") : Pick(lang, "否", "no"))});
    }
    absl::StrAppend(&out, "\n", Pick(lang, "联系人", "contacts"), "\n", contacts.Render());
  }
  return out;
}

std::string FormatCustomerList(const v1::ListCustomersResponse& list, Lang lang) {
  Table table({std::string(Pick(lang, "客户", "CUSTOMER")), std::string(Pick(lang, "名称", "NAME")),
               std::string(Pick(lang, "类型", "KIND")), std::string(Pick(lang, "阶段", "STAGE")),
               std::string(Pick(lang, "区域", "REGION")),
               std::string(Pick(lang, "行业", "INDUSTRY")),
               std::string(Pick(lang, "负责人", "OWNER")), "MAN",
               std::string(Pick(lang, "最近活动", "LAST ACTIVITY"))});
  for (const v1::CustomerSummary& c : list.customers()) {
    table.AddRow({c.customer_id(), Or(c.name()), KindName(c.kind()),
                  StageText(c.stage(), c.sub_stage(), lang), Or(c.region()), Or(c.industry()),
                  Or(c.owner_id()), Or(c.man_class()),
                  FormatTimestamp(c.has_last_activity_at(), c.last_activity_at())});
  }
  return absl::StrCat(table.Render(), "\n", Pick(lang, "客户数: ", "customers: "),
                      FormatInteger(list.customers_size()), "\n");
}

std::string FormatTimeline(const v1::TimelineResponse& timeline, Lang lang) {
  Table table(
      {std::string(Pick(lang, "时间", "OCCURRED AT")), std::string(Pick(lang, "事件", "TYPE")),
       std::string(Pick(lang, "事件ID", "EVENT ID")), std::string(Pick(lang, "执行人", "ACTOR")),
       std::string(Pick(lang, "位置", "POSITION"))});
  for (const v1::TimelineEntry& e : timeline.entries()) {
    const std::string_view type = event::PayloadName(e.event());
    table.AddRow({FormatTimestamp(e.event().has_occurred_at(), e.event().occurred_at()),
                  type.empty() ? std::string(kNull) : std::string(type), e.event().event_id(),
                  Or(e.event().actor_id()),
                  absl::StrCat(e.position().partition(), ":", e.position().offset())});
  }
  return absl::StrCat(table.Render(), "\n", Pick(lang, "事件数: ", "events: "),
                      FormatInteger(timeline.entries_size()), "\n");
}

}  // namespace custops::ctl
