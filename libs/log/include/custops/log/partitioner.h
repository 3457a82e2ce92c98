// Key -> partition, exactly as Apache Kafka's Java client (and librdkafka's
// "murmur2" partitioner) computes it, so a customer lands on the same
// partition in the embedded log and on Kafka.
//
//   Partition p = PartitionForKey("customer-42", 12);
#ifndef CUSTOPS_LOG_PARTITIONER_H_
#define CUSTOPS_LOG_PARTITIONER_H_

#include <cstdint>
#include <string_view>

#include "custops/base/types.h"

namespace custops::log {

// Kafka's murmur2 (seed 0x9747b28c), as a signed 32-bit value like Java's.
int32_t Murmur2(std::string_view data);

// (Murmur2(key) & 0x7fffffff) % partitions. Requires partitions > 0.
Partition PartitionForKey(std::string_view key, int partitions);

}  // namespace custops::log

#endif  // CUSTOPS_LOG_PARTITIONER_H_
