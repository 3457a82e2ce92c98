// The keys the review's column families are read and written by (the layouts
// are listed in custops/review/review_projection.h): a partition's key
// prefix, a slice's period | dimension | value suffix, a customer's day
// slices and the day number of rv_delta keys. Shared by the projection's
// batch and by review_queries.cc, review_report_queries.cc and
// review_customer_queries.cc.
#ifndef CUSTOPS_REVIEW_SRC_REVIEW_QUERY_KEYS_H_
#define CUSTOPS_REVIEW_SRC_REVIEW_QUERY_KEYS_H_

#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>

#include "absl/time/civil_time.h"
#include "custops/review/review_projection.h"
#include "custops/store/keys.h"
#include "custops/v1/review.pb.h"

namespace custops::review {

// The key prefix of partition `p` (every family's keys start with it).
inline std::string PartitionKey(int p) {
  std::string key;
  store::AppendU32(key, static_cast<uint32_t>(p));
  return key;
}

// A slice's key after the partition: period_key\0|dim|value\0 (rv_slice;
// rv_seen's subjects follow it too).
inline std::string SliceSuffix(std::string_view period_key, v1::Dimension dim,
                               std::string_view value) {
  std::string key;
  store::AppendId(key, period_key);
  store::AppendU32(key, static_cast<uint32_t>(dim));
  store::AppendId(key, value);
  return key;
}

// The granularities a slice is kept for, finest first. A customer's day
// slice keeps its distinct counters as a bit mask over this order
// (CustomerDayBit).
inline constexpr v1::Granularity kGranularities[] = {v1::GRANULARITY_DAY, v1::GRANULARITY_WEEK,
                                                     v1::GRANULARITY_MONTH, v1::GRANULARITY_QUARTER,
                                                     v1::GRANULARITY_YEAR};

// The bit of granularity g in a customer day slice's distinct counters
// (its index in kGranularities); -1 when g is not one of them.
inline int CustomerDayBit(v1::Granularity g) {
  for (int i = 0; i < static_cast<int>(std::size(kGranularities)); ++i) {
    if (kGranularities[i] == g) return i;
  }
  return -1;
}

// The key prefix of a customer's day slices after the partition:
// dim(kDimensionCustomer)|customer_id\0 -- the dimension token DimKeys
// gives the customer. Each day slice appends day_key\0 (2024-03-31), so one
// customer's days are contiguous and in time order (rv_slice; rv_seen's
// subjects follow it too, after their kind).
inline std::string CustomerDaysPrefix(std::string_view customer_id) {
  std::string key;
  store::AppendU32(key, static_cast<uint32_t>(kDimensionCustomer));
  store::AppendId(key, customer_id);
  return key;
}

// The day of rv_delta keys: days since 1970-01-01.
inline int64_t DayNumber(absl::CivilDay day) { return day - absl::CivilDay(1970, 1, 1); }

}  // namespace custops::review

#endif  // CUSTOPS_REVIEW_SRC_REVIEW_QUERY_KEYS_H_
