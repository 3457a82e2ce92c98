#include "custops/base/types.h"

#include <functional>
#include <sstream>
#include <type_traits>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "gtest/gtest.h"

namespace custops {
namespace {

// A partition is not an offset: neither converts to the other nor from a
// bare integer.
static_assert(!std::is_convertible_v<Partition, Offset>);
static_assert(!std::is_convertible_v<Offset, Partition>);
static_assert(!std::is_convertible_v<int, Partition>);
static_assert(!std::is_convertible_v<int64_t, Offset>);
static_assert(std::is_same_v<Partition::ValueType, int32_t>);
static_assert(std::is_same_v<Offset::ValueType, int64_t>);
// Cheap values, usable at compile time.
static_assert(std::is_trivially_copyable_v<Partition>);
static_assert(std::is_trivially_copyable_v<Offset>);
static_assert(Offset(41).Next() == Offset(42));
static_assert(Partition() == Partition(0));

TEST(NamedTypeTest, DefaultsToZeroAndKeepsItsValue) {
  EXPECT_EQ(Partition().value(), 0);
  EXPECT_EQ(Offset().value(), 0);
  EXPECT_EQ(Partition(7).value(), 7);
  EXPECT_EQ(Offset(int64_t{1} << 40).value(), int64_t{1} << 40);
}

TEST(NamedTypeTest, ComparesByValue) {
  EXPECT_EQ(Offset(3), Offset(3));
  EXPECT_NE(Offset(3), Offset(4));
  EXPECT_LT(Offset(3), Offset(4));
  EXPECT_GT(Partition(2), Partition(1));
  EXPECT_LE(Partition(2), Partition(2));
  EXPECT_TRUE((Offset(-1) <=> Offset(0)) < 0);
}

TEST(NamedTypeTest, NextIsTheFollowingOffset) {
  EXPECT_EQ(Offset(0).Next(), Offset(1));
  EXPECT_EQ(Offset(-1).Next(), Offset(0));
  const Offset o(41);
  EXPECT_EQ(o.Next().Next().value(), 43);
  EXPECT_EQ(o.value(), 41);  // Next does not change the offset itself
}

TEST(NamedTypeTest, PrintsItsValue) {
  std::ostringstream os;
  os << Partition(3) << "/" << Offset(1234567890123);
  EXPECT_EQ(os.str(), "3/1234567890123");
}

TEST(NamedTypeTest, HashesLikeItsValue) {
  EXPECT_EQ(absl::Hash<Partition>()(Partition(5)), absl::Hash<Partition>()(Partition(5)));
  EXPECT_NE(absl::Hash<Offset>()(Offset(5)), absl::Hash<Offset>()(Offset(6)));
  EXPECT_EQ(std::hash<Partition>()(Partition(9)), std::hash<int32_t>()(9));
  absl::flat_hash_set<Partition> set = {Partition(1), Partition(2), Partition(1)};
  EXPECT_EQ(set.size(), 2u);
  EXPECT_TRUE(set.contains(Partition(2)));
  EXPECT_FALSE(set.contains(Partition(3)));
}

}  // namespace
}  // namespace custops
