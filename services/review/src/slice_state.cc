// The slice and delta values of review_projection.h as stored: SliceState
// <-> internal.ReviewSlice (ToProto, FromProto) and EncodeSlice, which writes
// the same message in protobuf wire format directly (maps in key order, so a
// slice's bytes depend only on its value); and the sums the batch and the
// queries share (MergeInto, AddDeltaInto, DeltaIsZero). Pure functions, no
// store access.
#include <array>
#include <cstdint>
#include <iterator>
#include <string>

#include "custops/base/saturating.h"
#include "custops/review/review_projection.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/wire_format_lite.h"

namespace custops::review {
namespace {

using domain::ReviewAccumulator;

// The int64 fields of ReviewAccumulator in their stored order (ReviewSlice
// counters). Append only: a stored slice keeps its meaning.
constexpr int64_t ReviewAccumulator::*kCounters[] = {
    &ReviewAccumulator::revenue_units,
    &ReviewAccumulator::cost_units,
    &ReviewAccumulator::payments_units,
    &ReviewAccumulator::new_customers,
    &ReviewAccumulator::lost_customers,
    &ReviewAccumulator::active_customers,
    &ReviewAccumulator::customers_at_start,
    &ReviewAccumulator::purchasing_customers,
    &ReviewAccumulator::repeat_purchasing_customers,
    &ReviewAccumulator::win_backs,
    &ReviewAccumulator::referrals,
    &ReviewAccumulator::visits,
    &ReviewAccumulator::coverage_base,
    &ReviewAccumulator::covered_customers,
    &ReviewAccumulator::quotes,
    &ReviewAccumulator::quoted_units,
    &ReviewAccumulator::quoted_list_units,
    &ReviewAccumulator::opportunities_won,
    &ReviewAccumulator::opportunities_lost,
    &ReviewAccumulator::won_cycle_seconds,
    &ReviewAccumulator::won_with_cycle,
    &ReviewAccumulator::pipeline_percent_units,
    &ReviewAccumulator::complaints,
    &ReviewAccumulator::sla_breaches,
    &ReviewAccumulator::complaints_resolved,
    &ReviewAccumulator::complaints_resolved_satisfied,
    &ReviewAccumulator::csat_sum,
    &ReviewAccumulator::csat_surveys,
    &ReviewAccumulator::marketing_spend_units,
    &ReviewAccumulator::negative_asset_customers,
    &ReviewAccumulator::overdue_receivables_units,
};

}  // namespace

void MergeInto(SliceState& into, const SliceState& other) {
  into.acc = domain::Merge(into.acc, other.acc);
  for (int k = 0; k < 7; ++k) {
    into.entered[k] += other.entered[k];
    into.advanced[k] += other.advanced[k];
  }
  for (const auto& [c, n] : other.lost_by_competitor) into.lost_by_competitor[c] += n;
  for (const auto& [c, n] : other.lost_amount_by_competitor) {
    into.lost_amount_by_competitor[c] = base::SaturatingAdd(into.lost_amount_by_competitor[c], n);
  }
}

internal::ReviewSlice ToProto(const SliceState& s) {
  internal::ReviewSlice p;
  for (auto field : kCounters) p.add_counters(s.acc.*field);
  for (int64_t v : s.acc.response_seconds) p.add_response_seconds(v);
  for (int64_t v : s.acc.resolution_seconds) p.add_resolution_seconds(v);
  for (const auto& [c, v] : s.acc.revenue_by_customer) (*p.mutable_revenue_by_customer())[c] = v;
  for (int k = 0; k < 7; ++k) {
    p.add_entered(s.entered[k]);
    p.add_advanced(s.advanced[k]);
  }
  for (const auto& [c, n] : s.lost_by_competitor) (*p.mutable_lost_by_competitor())[c] = n;
  for (const auto& [c, n] : s.lost_amount_by_competitor) {
    (*p.mutable_lost_amount_by_competitor())[c] = n;
  }
  return p;
}

SliceState FromProto(const internal::ReviewSlice& p) {
  SliceState s;
  int i = 0;
  for (auto field : kCounters) {
    if (i < p.counters_size()) s.acc.*field = p.counters(i);
    ++i;
  }
  s.acc.response_seconds.assign(p.response_seconds().begin(), p.response_seconds().end());
  s.acc.resolution_seconds.assign(p.resolution_seconds().begin(), p.resolution_seconds().end());
  for (const auto& [c, v] : p.revenue_by_customer()) s.acc.revenue_by_customer[c] = v;
  for (int k = 0; k < 7 && k < p.entered_size(); ++k) s.entered[k] = p.entered(k);
  for (int k = 0; k < 7 && k < p.advanced_size(); ++k) s.advanced[k] = p.advanced(k);
  for (const auto& [c, n] : p.lost_by_competitor()) s.lost_by_competitor[c] = n;
  for (const auto& [c, n] : p.lost_amount_by_competitor()) s.lost_amount_by_competitor[c] = n;
  return s;
}

// Protobuf wire format of ReviewSlice, written directly with protobuf's own
// writer (the reader parses it as internal.ReviewSlice): ToProto +
// SerializeAsString built a message with three protobuf maps per slice and
// serialized them in hash order; this writes the same fields, maps in key
// order, without the message.
namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedOutputStream;

// A packed repeated int64 (nothing when empty).
template <typename Range>
void PutPacked(CodedOutputStream& out, int field, const Range& values) {
  size_t size = 0;
  for (int64_t v : values) size += WireFormatLite::Int64Size(v);
  if (size == 0) return;
  WireFormatLite::WriteTag(field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED, &out);
  out.WriteVarint64(size);
  for (int64_t v : values) WireFormatLite::WriteInt64NoTag(v, &out);
}
// map<string, int64>: one entry message (key = 1, value = 2) per element.
void PutMap(CodedOutputStream& out, int field, const auto& map) {
  for (const auto& [key, value] : map) {
    const size_t size = 1 + WireFormatLite::StringSize(key) + 1 + WireFormatLite::Int64Size(value);
    WireFormatLite::WriteTag(field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED, &out);
    out.WriteVarint64(size);
    WireFormatLite::WriteString(1, key, &out);
    WireFormatLite::WriteInt64(2, value, &out);
  }
}

}  // namespace

void EncodeSlice(const SliceState& s, std::string& out) {
  out.clear();
  google::protobuf::io::StringOutputStream stream(&out);
  CodedOutputStream coded(&stream);  // trims `out` to what was written when destroyed
  std::array<int64_t, std::size(kCounters)> counters;
  for (size_t i = 0; i < std::size(kCounters); ++i) counters[i] = s.acc.*kCounters[i];
  PutPacked(coded, 1, counters);
  PutPacked(coded, 2, s.acc.response_seconds);
  PutPacked(coded, 3, s.acc.resolution_seconds);
  PutMap(coded, 4, s.acc.revenue_by_customer);
  PutPacked(coded, 5, s.entered);
  PutPacked(coded, 6, s.advanced);
  PutMap(coded, 7, s.lost_by_competitor);
  PutMap(coded, 8, s.lost_amount_by_competitor);
}

void AddDeltaInto(internal::ReviewDelta& into, const internal::ReviewDelta& d) {
  into.set_pipeline_percent_units(into.pipeline_percent_units() + d.pipeline_percent_units());
  into.set_open_opportunities(into.open_opportunities() + d.open_opportunities());
  into.set_customers(into.customers() + d.customers());
  into.set_intent(into.intent() + d.intent());
  into.set_negative_assets(into.negative_assets() + d.negative_assets());
  into.set_overdue_units(base::SaturatingAdd(into.overdue_units(), d.overdue_units()));
}

bool DeltaIsZero(const internal::ReviewDelta& d) {
  return d.pipeline_percent_units() == 0 && d.open_opportunities() == 0 && d.customers() == 0 &&
         d.intent() == 0 && d.negative_assets() == 0 && d.overdue_units() == 0;
}

}  // namespace custops::review
