// Strong types where a mix-up costs correctness: a partition number is not an
// offset. Both are cheap value types with the usual comparisons.
//
//   Partition p(3);
//   Offset next = Offset(41).Next();
#ifndef CUSTOPS_BASE_TYPES_H_
#define CUSTOPS_BASE_TYPES_H_

#include <compare>
#include <cstdint>
#include <functional>
#include <ostream>

namespace custops {

template <typename T, typename Tag>
class NamedType {
 public:
  using ValueType = T;
  constexpr NamedType() = default;
  constexpr explicit NamedType(T value) : value_(value) {}
  constexpr T value() const { return value_; }
  constexpr auto operator<=>(const NamedType&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const NamedType& v) {
    return H::combine(std::move(h), v.value_);
  }
  friend std::ostream& operator<<(std::ostream& os, const NamedType& v) { return os << v.value_; }

 private:
  T value_{};
};

// A partition of a topic, 0-based.
using Partition = NamedType<int32_t, struct PartitionTag>;

// A record's offset inside its partition, 0-based and dense.
class Offset : public NamedType<int64_t, struct OffsetTag> {
 public:
  using NamedType::NamedType;
  constexpr Offset Next() const { return Offset(value() + 1); }
};

}  // namespace custops

template <>
struct std::hash<custops::Partition> {
  size_t operator()(const custops::Partition& p) const { return std::hash<int32_t>()(p.value()); }
};

#endif  // CUSTOPS_BASE_TYPES_H_
