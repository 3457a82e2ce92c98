// The review (复盘) as tables (docs/custopsctl.md "review"): GetReview's
// metrics with 环比/同比, findings and actions; the funnel; the worklist;
// CompareReview's side-by-side table. Metric values are rendered by unit
// (numbers.h, exact): money in 元 ("¥1,234.50"), counts with thousands
// separators, shares as percentages ("75.0%"), days and hours with one
// decimal ("90.5 天"), scores with two; null values as "—".
//
//   std::cout << FormatReviewReport(report, {.lang = Lang::kZh});
//
// Pure functions, thread-safe.
#ifndef CUSTOPS_CTL_REVIEW_FORMAT_H_
#define CUSTOPS_CTL_REVIEW_FORMAT_H_

#include <string>
#include <vector>

#include "custops/ctl/labels.h"
#include "custops/v1/review.pb.h"

namespace custops::ctl {

// One metric value by unit; kNull when no kind is set. A ratio of a money
// metric is rounded to whole minor units; a unit this build does not know
// is rendered by the value's kind (a ratio with two decimals).
std::string FormatMetricValue(const v1::MetricValue& value, v1::MetricUnit unit, Lang lang);

// A Fraction as FormatChange does ("↑12.5%"); kNull when `has` is false or
// the denominator is 0.
std::string FormatFractionChange(bool has, const v1::Fraction& change);

// Eight levels (▁▂▃▄▅▆▇█) from each value's place between the smallest and
// largest non-null value, a space for null; all levels ▄ when every value
// is equal. Values are compared exactly (128-bit cross multiplication).
std::string Sparkline(const std::vector<const v1::MetricValue*>& values);

struct ReviewFormatOptions {
  Lang lang = Lang::kZh;
  // The funnel's dimension (FunnelResponse does not carry it), for the
  // slice headings; UNSPECIFIED = show the bare values.
  v1::Dimension dimension = v1::DIMENSION_UNSPECIFIED;
};

// Title lines (period, dimension, 环比/同比 bases), one row per metric —
// label, snake_case name, value, previous, 环比, year ago, 同比, and a
// trend column when the report carries history — then findings and
// actions when there are any.
std::string FormatReviewReport(const v1::ReviewReport& report, const ReviewFormatOptions& options);

// Per slice: entered / advanced / conversion per stage, the slice's wins,
// losses, win rate, cycle and pipeline, and losses by competitor.
std::string FormatFunnel(const v1::FunnelResponse& funnel, const ReviewFormatOptions& options);

// One row per item: customer, name, owner, region, reason, subject, time,
// urgency; then the number of items and customers.
std::string FormatWorklist(const v1::WorklistResponse& worklist,
                           const ReviewFormatOptions& options);

struct CompareFormatOptions {
  Lang lang = Lang::kZh;
  // The metrics to show, as columns, in this order; empty = every metric of
  // the first row.
  std::vector<std::string> metrics;
  // Append each value's 环比 ("¥1,200.00 ↑5.0%"). Default: false.
  bool changes = false;
};

// One row per dimension value, one column per metric.
std::string FormatCompareReview(const v1::CompareReviewResponse& compare,
                                const CompareFormatOptions& options);

}  // namespace custops::ctl

#endif  // CUSTOPS_CTL_REVIEW_FORMAT_H_
