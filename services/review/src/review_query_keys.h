// The keys ReviewQueries reads the review's column families by (the layouts
// are listed in custops/review/review_projection.h): a partition's key
// prefix, a slice's period | dimension | value suffix and the day number of
// rv_delta keys. Shared by review_queries.cc, review_report_queries.cc and
// review_customer_queries.cc.
#ifndef CUSTOPS_REVIEW_SRC_REVIEW_QUERY_KEYS_H_
#define CUSTOPS_REVIEW_SRC_REVIEW_QUERY_KEYS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/time/civil_time.h"
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

// The day of rv_delta keys: days since 1970-01-01.
inline int64_t DayNumber(absl::CivilDay day) { return day - absl::CivilDay(1970, 1, 1); }

}  // namespace custops::review

#endif  // CUSTOPS_REVIEW_SRC_REVIEW_QUERY_KEYS_H_
