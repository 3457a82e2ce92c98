// Shared by the lifecycle projection (lifecycle_projection.cc, which writes
// the column families) and its queries (lifecycle_queries.cc, which read
// them): the keys of the families listed in
// custops/lifecycle/lifecycle_projection.h, and the dimensions whose summary
// counts lc_counts keeps.
#ifndef CUSTOPS_LIFECYCLE_SRC_LIFECYCLE_KEYS_H_
#define CUSTOPS_LIFECYCLE_SRC_LIFECYCLE_KEYS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "custops/base/types.h"
#include "custops/store/keys.h"
#include "custops/v1/lifecycle.pb.h"

namespace custops::lifecycle::keys_internal {

// The dimensions lc_counts keeps counts for (StageSummary answers these).
inline constexpr v1::Dimension kCountedDimensions[] = {v1::DIMENSION_ALL,      v1::DIMENSION_REGION,
                                                       v1::DIMENSION_INDUSTRY, v1::DIMENSION_OWNER,
                                                       v1::DIMENSION_CHANNEL,  v1::DIMENSION_KIND};

// The key prefix of partition `p` (every family's keys start with it).
inline std::string PartitionKey(Partition p) {
  std::string key;
  store::AppendU32(key, static_cast<uint32_t>(p.value()));
  return key;
}

// P|customer_id: the key of lc_facts and lc_index.
inline std::string CustomerKey(Partition p, std::string_view customer_id) {
  std::string key = PartitionKey(p);
  key.append(customer_id);
  return key;
}

// P|stage|sub_stage|customer_id: the key of lc_by_stage (with "" for the
// customer, the prefix of a stage's customers).
inline std::string StageKey(Partition p, int stage, int sub_stage, std::string_view customer_id) {
  std::string key = PartitionKey(p);
  store::AppendU32(key, static_cast<uint32_t>(stage));
  store::AppendU32(key, static_cast<uint32_t>(sub_stage));
  key.append(customer_id);
  return key;
}

}  // namespace custops::lifecycle::keys_internal

#endif  // CUSTOPS_LIFECYCLE_SRC_LIFECYCLE_KEYS_H_
