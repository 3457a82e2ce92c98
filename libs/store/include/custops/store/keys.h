// Order-preserving key encoding: big-endian integers, so byte order of keys
// is numeric order; ids are terminated by '\0' (validated ids never contain it).
//
//   std::string key;
//   AppendU32(key, partition);
//   AppendId(key, customer_id);
//   AppendI64(key, absl::ToUnixMicros(at));
#ifndef CUSTOPS_STORE_KEYS_H_
#define CUSTOPS_STORE_KEYS_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace custops::store {

inline void AppendU32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

inline void AppendU64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

// Signed values sort correctly: the sign bit is flipped.
inline void AppendI64(std::string& out, int64_t v) {
  AppendU64(out, static_cast<uint64_t>(v) ^ (uint64_t{1} << 63));
}

inline void AppendId(std::string& out, std::string_view id) {
  out.append(id);
  out.push_back('\0');
}

// Decoders read from the front of `in` and advance it. The caller checks sizes.
inline uint32_t ReadU32(std::string_view& in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  in.remove_prefix(4);
  return v;
}

inline uint64_t ReadU64(std::string_view& in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  in.remove_prefix(8);
  return v;
}

inline int64_t ReadI64(std::string_view& in) {
  return static_cast<int64_t>(ReadU64(in) ^ (uint64_t{1} << 63));
}

// Reads up to the next '\0' (consumed); the whole rest when there is none.
inline std::string_view ReadId(std::string_view& in) {
  size_t end = in.find('\0');
  std::string_view id = in.substr(0, end);
  in.remove_prefix(end == std::string_view::npos ? in.size() : end + 1);
  return id;
}

inline std::string U64Value(uint64_t v) {
  std::string s;
  AppendU64(s, v);
  return s;
}

}  // namespace custops::store

#endif  // CUSTOPS_STORE_KEYS_H_
