// Human-readable tables for custopsctl: the stage summary and the admin
// status. Columns are aligned by display width (a CJK character such as
// the 华 of 华东 takes two terminal cells), numbers to the right.
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

#include "custops/v1/admin.pb.h"
#include "custops/v1/lifecycle.pb.h"

namespace custops::ctl {

// Terminal cells taken by UTF-8 `text`: 2 for East Asian wide and full-width
// characters, 1 for the rest (invalid bytes count 1 each).
size_t DisplayWidth(std::string_view text);

// A text table. Not thread-safe.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}

  // A row with as many cells as the header (missing cells are blank).
  void AddRow(std::vector<std::string> cells);

  // Columns separated by two spaces; a column whose cells are all numbers
  // is right-aligned. One line per row, each ending with '\n'; no trailing
  // spaces.
  std::string Render() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

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

}  // namespace custops::ctl

#endif  // CUSTOPS_CTL_FORMAT_H_
