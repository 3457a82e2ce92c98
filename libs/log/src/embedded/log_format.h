// On-disk format of the embedded event log. Private to libs/log.
//
// Column families:
//   default      "format"        -> kFormatVersion (decimal text)
//                "t/" + topic    -> fixed32le topic id, fixed32le partition count
//   records      BE32 topic id, BE32 partition, BE64 offset (16 bytes)
//                                -> RecordValue (below)
//   idempotency  BE32 topic id, idempotency key bytes
//                                -> BE32 partition, BE64 offset
//
// Big-endian fixed-width integers make RocksDB's bytewise order equal to
// (topic, partition, offset) order, so a partition is one contiguous key range
// in offset order and its end is found by seeking to its last key.
//
// RecordValue: u8 kRecordVersion, fixed64le timestamp (Unix microseconds,
// two's complement), varint32 key length, key bytes, value bytes (the rest).
#ifndef CUSTOPS_LOG_SRC_EMBEDDED_LOG_FORMAT_H_
#define CUSTOPS_LOG_SRC_EMBEDDED_LOG_FORMAT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"

namespace custops::log::internal {

inline constexpr std::string_view kFormatKey = "format";
inline constexpr std::string_view kFormatVersion = "1";
inline constexpr std::string_view kTopicPrefix = "t/";
inline constexpr std::string_view kRecordsFamily = "records";
inline constexpr std::string_view kIdempotencyFamily = "idempotency";
inline constexpr uint8_t kRecordVersion = 1;
inline constexpr size_t kRecordKeySize = 16;

inline void PutBigEndian32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

inline void PutBigEndian64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

inline void PutLittleEndian32(std::string& out, uint32_t v) {
  for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

inline void PutLittleEndian64(std::string& out, uint64_t v) {
  for (int shift = 0; shift < 64; shift += 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

inline uint32_t GetBigEndian32(std::string_view in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

inline uint64_t GetBigEndian64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

inline uint32_t GetLittleEndian32(std::string_view in) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

inline uint64_t GetLittleEndian64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

inline std::string TopicMetaKey(std::string_view topic) {
  std::string key(kTopicPrefix);
  key.append(topic);
  return key;
}

struct TopicMeta {
  uint32_t id = 0;
  int32_t partitions = 0;
};

inline std::string EncodeTopicMeta(const TopicMeta& meta) {
  std::string out;
  PutLittleEndian32(out, meta.id);
  PutLittleEndian32(out, static_cast<uint32_t>(meta.partitions));
  return out;
}

inline std::optional<TopicMeta> DecodeTopicMeta(std::string_view in) {
  if (in.size() != 8) return std::nullopt;
  return TopicMeta{.id = GetLittleEndian32(in),
                   .partitions = static_cast<int32_t>(GetLittleEndian32(in.substr(4)))};
}

// The 8-byte prefix shared by every record key of one partition.
inline std::string PartitionPrefix(uint32_t topic_id, int32_t partition) {
  std::string out;
  out.reserve(kRecordKeySize);
  PutBigEndian32(out, topic_id);
  PutBigEndian32(out, static_cast<uint32_t>(partition));
  return out;
}

inline std::string RecordKey(uint32_t topic_id, int32_t partition, int64_t offset) {
  std::string out = PartitionPrefix(topic_id, partition);
  PutBigEndian64(out, static_cast<uint64_t>(offset));
  return out;
}

struct RecordKeyParts {
  uint32_t topic_id = 0;
  int32_t partition = 0;
  int64_t offset = 0;
};

inline std::optional<RecordKeyParts> DecodeRecordKey(std::string_view in) {
  if (in.size() != kRecordKeySize) return std::nullopt;
  return RecordKeyParts{.topic_id = GetBigEndian32(in),
                        .partition = static_cast<int32_t>(GetBigEndian32(in.substr(4))),
                        .offset = static_cast<int64_t>(GetBigEndian64(in.substr(8)))};
}

inline std::string IdempotencyKey(uint32_t topic_id, std::string_view idempotency_key) {
  std::string out;
  out.reserve(4 + idempotency_key.size());
  PutBigEndian32(out, topic_id);
  out.append(idempotency_key);
  return out;
}

struct Position {
  int32_t partition = 0;
  int64_t offset = 0;
};

inline std::string EncodePosition(const Position& position) {
  std::string out;
  PutBigEndian32(out, static_cast<uint32_t>(position.partition));
  PutBigEndian64(out, static_cast<uint64_t>(position.offset));
  return out;
}

inline std::optional<Position> DecodePosition(std::string_view in) {
  if (in.size() != 12) return std::nullopt;
  return Position{.partition = static_cast<int32_t>(GetBigEndian32(in)),
                  .offset = static_cast<int64_t>(GetBigEndian64(in.substr(4)))};
}

inline void EncodeRecordValue(absl::Time timestamp, std::string_view key, std::string_view value,
                              std::string& out) {
  out.clear();
  out.reserve(1 + 8 + 5 + key.size() + value.size());
  out.push_back(static_cast<char>(kRecordVersion));
  PutLittleEndian64(out, static_cast<uint64_t>(absl::ToUnixMicros(timestamp)));
  uint32_t length = static_cast<uint32_t>(key.size());
  while (length >= 0x80) {
    out.push_back(static_cast<char>((length & 0x7f) | 0x80));
    length >>= 7;
  }
  out.push_back(static_cast<char>(length));
  out.append(key);
  out.append(value);
}

struct RecordValue {
  absl::Time timestamp;
  std::string_view key;
  std::string_view value;
};

// The views point into `in`.
inline std::optional<RecordValue> DecodeRecordValue(std::string_view in) {
  if (in.size() < 1 + 8 + 1 || static_cast<uint8_t>(in[0]) != kRecordVersion) return std::nullopt;
  RecordValue out;
  out.timestamp = absl::FromUnixMicros(static_cast<int64_t>(GetLittleEndian64(in.substr(1))));
  size_t pos = 9;
  uint32_t length = 0;
  for (int shift = 0;; shift += 7) {
    if (pos >= in.size() || shift > 28) return std::nullopt;
    const auto byte = static_cast<unsigned char>(in[pos++]);
    length |= static_cast<uint32_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) break;
  }
  if (in.size() - pos < length) return std::nullopt;
  out.key = in.substr(pos, length);
  out.value = in.substr(pos + length);
  return out;
}

}  // namespace custops::log::internal

#endif  // CUSTOPS_LOG_SRC_EMBEDDED_LOG_FORMAT_H_
