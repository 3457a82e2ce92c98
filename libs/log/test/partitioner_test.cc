// PartitionForKey must put a key where Kafka's Java client and librdkafka's
// "murmur2" partitioner put it. Two independent references: the vectors
// published in Kafka's own UtilsTest#testMurmur2, and librdkafka's public
// rd_kafka_msg_partitioner_murmur2 over thousands of generated keys.
#include "custops/log/partitioner.h"

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace custops::log {
namespace {

struct KafkaVector {
  std::string input;
  int32_t murmur2;
};

// org.apache.kafka.common.utils.UtilsTest#testMurmur2, plus one binary key
// (bytes >= 0x80 absent, tail of 2) computed with the JVM Kafka 1.0.0 client
// by the Go port github.com/burdiyan/kafkautil.
const std::vector<KafkaVector>& KafkaVectors() {
  static const auto* const kVectors = new std::vector<KafkaVector>{
      {"21", -973932308},
      {"foobar", -790332482},
      {"a-little-bit-long-string", -985981536},
      {"a-little-bit-longer-string", -1486304829},
      {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
      {"abc", 479470107},
      {std::string("\x0c\x2a\x38\x18\x6d\x6f", 6), 274204207},
  };
  return *kVectors;
}

TEST(Murmur2Test, MatchesKafkaUtilsTestVectors) {
  for (const KafkaVector& v : KafkaVectors()) {
    EXPECT_EQ(Murmur2(v.input), v.murmur2) << '"' << v.input << '"';
  }
}

TEST(PartitionForKeyTest, IsThePositiveHashModuloTheCount) {
  for (const KafkaVector& v : KafkaVectors()) {
    const uint32_t positive = static_cast<uint32_t>(v.murmur2) & 0x7fffffffu;
    for (int n : {1, 2, 3, 7, 12, 64, 1000, 10000}) {
      EXPECT_EQ(PartitionForKey(v.input, n), Partition(static_cast<int32_t>(positive % n)))
          << '"' << v.input << "\" over " << n;
    }
  }
}

// librdkafka's murmur2 partitioner ignores its topic and opaque arguments
// (rdkafka_msg.c: `return (rd_murmur2(key, keylen) & 0x7fffffff) %
// partition_cnt;`), so no client handle is needed.
int32_t LibrdkafkaPartition(const std::string& key, int32_t partitions) {
  return rd_kafka_msg_partitioner_murmur2(/*rkt=*/nullptr, key.data(), key.size(), partitions,
                                          /*rkt_opaque=*/nullptr, /*msg_opaque=*/nullptr);
}

std::vector<std::string> GeneratedKeys() {
  std::mt19937 random(20240601);
  std::vector<std::string> keys;
  // Every length 0..63 (all tail cases), random bytes including >= 0x80.
  for (int length = 0; length < 64; ++length) {
    for (int i = 0; i < 40; ++i) {
      std::string key(length, '\0');
      for (char& c : key) c = static_cast<char>(random() & 0xff);
      keys.push_back(std::move(key));
    }
  }
  // Keys shaped like ours.
  for (int i = 0; i < 2000; ++i) keys.push_back(absl::StrCat("customer-", i));
  for (int i = 0; i < 500; ++i) keys.push_back(absl::StrCat("org/", i, "/region-", i % 7));
  return keys;
}

TEST(PartitionForKeyTest, AgreesWithLibrdkafka) {
  const std::vector<std::string> keys = GeneratedKeys();
  ASSERT_GT(keys.size(), 4000u);
  int mismatches = 0;
  for (int32_t partitions : {1, 2, 3, 5, 12, 16, 100, 997, 10000}) {
    for (const std::string& key : keys) {
      const int32_t expected = LibrdkafkaPartition(key, partitions);
      const Partition actual = PartitionForKey(key, partitions);
      if (actual.value() != expected && ++mismatches <= 10) {
        ADD_FAILURE() << "key of " << key.size() << " bytes over " << partitions
                      << " partitions: librdkafka " << expected << ", ours " << actual;
      }
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(Murmur2Test, AgreesWithLibrdkafkaOnAll31Bits) {
  // With a partition count of 2^31 - 1 librdkafka returns the hash's low 31
  // bits (except when they are all ones).
  for (const std::string& key : GeneratedKeys()) {
    const uint32_t ours = static_cast<uint32_t>(Murmur2(key)) & 0x7fffffffu;
    EXPECT_EQ(static_cast<int64_t>(ours % 0x7fffffffu), LibrdkafkaPartition(key, 0x7fffffff))
        << "key of " << key.size() << " bytes";
  }
}

TEST(PartitionForKeyDeathTest, RequiresAPositiveCount) {
  EXPECT_DEATH((void)PartitionForKey("k", 0), "partition");
}

}  // namespace
}  // namespace custops::log
