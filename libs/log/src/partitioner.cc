// Kafka's murmur2, transcribed from org.apache.kafka.common.utils.Utils#murmur2
// (which librdkafka's rd_murmur2 reproduces). Every step is done on uint32_t so
// the arithmetic wraps exactly like Java's int; the result is then reinterpreted
// as signed.
#include "custops/log/partitioner.h"

#include <cstddef>
#include <cstdint>

#include "custops/base/check.h"

namespace custops::log {

int32_t Murmur2(std::string_view data) {
  constexpr uint32_t kSeed = 0x9747b28c;
  constexpr uint32_t kM = 0x5bd1e995;
  constexpr int kR = 24;

  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  const size_t length = data.size();
  // Java hashes an int length; keys are far below 2 GiB.
  uint32_t h = kSeed ^ static_cast<uint32_t>(length);

  const size_t whole_words = length / 4;
  for (size_t i = 0; i < whole_words; ++i) {
    const size_t base = i * 4;
    // Little-endian word, bytes taken as unsigned (Java masks with 0xff).
    uint32_t k = static_cast<uint32_t>(bytes[base]) |
                 (static_cast<uint32_t>(bytes[base + 1]) << 8) |
                 (static_cast<uint32_t>(bytes[base + 2]) << 16) |
                 (static_cast<uint32_t>(bytes[base + 3]) << 24);
    k *= kM;
    k ^= k >> kR;
    k *= kM;
    h *= kM;
    h ^= k;
  }

  const size_t tail = whole_words * 4;
  switch (length % 4) {
    case 3:
      h ^= static_cast<uint32_t>(bytes[tail + 2]) << 16;
      [[fallthrough]];
    case 2:
      h ^= static_cast<uint32_t>(bytes[tail + 1]) << 8;
      [[fallthrough]];
    case 1:
      h ^= static_cast<uint32_t>(bytes[tail]);
      h *= kM;
      break;
    default:
      break;
  }

  h ^= h >> 13;
  h *= kM;
  h ^= h >> 15;
  return static_cast<int32_t>(h);
}

Partition PartitionForKey(std::string_view key, int partitions) {
  CHECK(partitions > 0) << "PartitionForKey needs at least one partition";
  const uint32_t positive = static_cast<uint32_t>(Murmur2(key)) & 0x7fffffffu;
  return Partition(static_cast<int32_t>(positive % static_cast<uint32_t>(partitions)));
}

}  // namespace custops::log
