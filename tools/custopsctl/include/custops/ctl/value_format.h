// Customer value (客户价值) as tables (docs/custopsctl.md "value"): one
// customer's ValueView, value lists, tier summaries, revenue concentration
// (二八) and the CLV model. Money in 元 from minor units and shares as
// percentages, exactly (numbers.h). The model's own estimates (P(alive),
// expected purchases, the lifetimes summary, fitted parameters) are doubles
// on the wire and are printed as such, rounded; expected margin is rounded
// to whole minor units before it is written as money.
//
//   std::cout << FormatTierSummary(response, Lang::kZh);
//
// Pure functions, thread-safe.
#ifndef CUSTOPS_CTL_VALUE_FORMAT_H_
#define CUSTOPS_CTL_VALUE_FORMAT_H_

#include <string>

#include "custops/ctl/labels.h"
#include "custops/v1/value.pb.h"

namespace custops::ctl {

// Profile line, then label / field / value rows: tier, segment, ABC,
// window revenue, margin, cost to serve, net contribution, negative asset,
// pipeline, referred margin, margin rank, loyalty, RFM, CLV and the
// lifetimes summary.
std::string FormatValueView(const v1::ValueView& view, Lang lang);

// One row per customer and a count.
std::string FormatValueList(const v1::ListValueCustomersResponse& list, Lang lang);

// One row per dimension value and tier: customers, their share of the
// value's customers, margin, revenue, negative assets; a subtotal per value
// when there are several, and a total.
std::string FormatTierSummary(const v1::TierSummaryResponse& summary, Lang lang);

// One row per slice: customers, revenue, the top 20%'s revenue and share,
// and A/B/C customers and revenue.
std::string FormatPareto(const v1::ParetoResponse& pareto, Lang lang);

// The fitted BG/NBD + Gamma-Gamma model.
std::string FormatClvModel(const v1::ClvModel& model, Lang lang);

}  // namespace custops::ctl

#endif  // CUSTOPS_CTL_VALUE_FORMAT_H_
