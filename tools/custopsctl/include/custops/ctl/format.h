// Human-readable tables for custopsctl: the table renderer every command
// uses, the stage summary, the admin status and the lifecycle views (get,
// list, timeline). Columns are aligned by display width (width.h: a CJK
// character such as the 华 of 华东 takes two terminal cells, a combining
// mark none), numbers to the right. Review and value tables are in
// review_format.h and value_format.h.
//
//   Table t({"REGION", "COUNT"});
//   t.AddRow({"华东", "120"});
//   std::cout << t.Render();
#ifndef CUSTOPS_CTL_FORMAT_H_
#define CUSTOPS_CTL_FORMAT_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "custops/ctl/labels.h"
#include "custops/ctl/width.h"
#include "custops/v1/admin.pb.h"
#include "custops/v1/lifecycle.pb.h"

namespace custops::ctl {

// True for a cell that reads as a number: an optional sign or arrow (-, +,
// ↑, ↓), an optional ¥, digits with optional thousands separators and one
// decimal point, and an optional unit (%, ‰, " 天", " days", " 小时", " h",
// or a space and a three-letter currency code): "1,234", "-¥0.05",
// "↑12.5%", "90.5 天", "1.00 USD".
bool LooksNumeric(std::string_view cell);

// A text table. Not thread-safe.
class Table {
 public:
  enum class Align { kAuto, kLeft, kRight };

  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}

  // A row with as many cells as the header (missing cells are blank).
  void AddRow(std::vector<std::string> cells);
  // Forces the alignment of `column` (default kAuto).
  void SetAlign(size_t column, Align align);
  size_t rows() const { return rows_.size(); }

  // Columns separated by two spaces and padded by display width. A kAuto
  // column is right-aligned when every non-blank cell LooksNumeric (null
  // cells, kNull, do not count). One line per row, each ending with '\n';
  // no trailing spaces.
  std::string Render() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<Align> align_;
};

// RFC 3339 in UTC of a Timestamp; kNull when unset.
std::string FormatTimestamp(bool has, const google::protobuf::Timestamp& t);

// StageSummary as a table: one row per dimension value with PROSPECT,
// INTENT, CUSTOMER (and its sub-stages NEW, GROWING, STABLE, DECLINING),
// LOST and TOTAL, then a TOTAL row; a title line with the dimension and
// as_of first.
std::string FormatStageSummary(const v1::StageSummaryResponse& summary);

// Admin.Status as tables: mode and version; topics with their partitions;
// per projection applied events, no-ops, dead letters, changes and outbox;
// per projection and partition the applied offset and lag; no-ops by
// reason.
std::string FormatStatus(const v1::StatusResponse& status);
// `dead-letters`: one row per dead letter (where it is, the projection, the
// reason, its source record and key).
std::string FormatDeadLetters(const v1::ListDeadLettersResponse& page);
// What a replay released and what is still parked (`dead-letters replay`).
std::string FormatReplay(const v1::ReplayDeadLettersResponse& replay);
// A rebuild in one line (`rebuild`): running with its percentage, counts,
// rate and ETA; swapped with the generation now serving; or failed.
std::string FormatRebuild(const std::string& projection, const v1::RebuildProgress& progress);
// `[#########...........]  45%`: `width` cells between the brackets.
std::string ProgressBar(int percent, int width);

// GetCustomer as tables: the profile and state as label / field / value
// rows, then the stage history, open opportunities and contacts.
std::string FormatCustomerView(const v1::CustomerView& view, Lang lang);

// ListCustomers as one row per customer and a count.
std::string FormatCustomerList(const v1::ListCustomersResponse& list, Lang lang);

// Timeline as one row per event: time, type, event id, actor, position.
std::string FormatTimeline(const v1::TimelineResponse& timeline, Lang lang);

}  // namespace custops::ctl

#endif  // CUSTOPS_CTL_FORMAT_H_
