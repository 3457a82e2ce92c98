// OwnerDirectory (routing.h): the cache, one fetch at a time, and Cached,
// which readiness uses and which never waits for a fetch in flight.
#include "custops/rpc/routing.h"

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "custops/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace custops::rpc {
namespace {

using ::custops::testing::StatusIs;

TEST(OwnerDirectoryTest, CachesForTheTtlAndFetchesAgainWhenInvalidated) {
  std::atomic<int> fetches{0};
  OwnerDirectory owners(
      [&]() -> absl::StatusOr<std::vector<std::string>> {
        ++fetches;
        return std::vector<std::string>{"a:1", "b:2"};
      },
      absl::Hours(1));
  EXPECT_FALSE(owners.Cached(absl::Hours(1)).has_value());  // nothing fetched yet
  ASSERT_TRUE(owners.Owners().ok());
  ASSERT_TRUE(owners.Owners().ok());
  EXPECT_EQ(fetches, 1);
  std::optional<std::vector<std::string>> cached = owners.Cached(absl::Hours(1));
  ASSERT_TRUE(cached.has_value());
  EXPECT_EQ((*cached)[1], "b:2");
  EXPECT_FALSE(owners.Cached(absl::ZeroDuration()).has_value());  // older than asked
  owners.Invalidate();
  EXPECT_FALSE(owners.Cached(absl::Hours(1)).has_value());
  ASSERT_TRUE(owners.Owners().ok());
  EXPECT_EQ(fetches, 2);
}

TEST(OwnerDirectoryTest, CachedDoesNotWaitForAFetchInFlight) {
  absl::Notification fetching, release;
  int calls = 0;
  OwnerDirectory owners(
      [&]() -> absl::StatusOr<std::vector<std::string>> {
        if (++calls == 2) {
          fetching.Notify();
          release.WaitForNotification();  // a broker that does not answer
        }
        return std::vector<std::string>{"a:1"};
      },
      absl::Hours(1));
  ASSERT_TRUE(owners.Owners().ok());
  owners.Invalidate();
  std::thread slow([&] { ASSERT_TRUE(owners.Owners().ok()); });
  fetching.WaitForNotification();
  // The fetch is blocked; Cached answers at once (nothing fresh: invalidated).
  EXPECT_FALSE(owners.Cached(absl::Hours(1)).has_value());
  release.Notify();
  slow.join();
  EXPECT_TRUE(owners.Cached(absl::Hours(1)).has_value());
}

TEST(OwnerDirectoryTest, AFailedFetchKeepsNothingNew) {
  OwnerDirectory owners(
      []() -> absl::StatusOr<std::vector<std::string>> {
        return absl::UnavailableError("broker down");
      },
      absl::Hours(1));
  EXPECT_THAT(owners.Owners(), StatusIs(absl::StatusCode::kUnavailable, "broker down"));
  EXPECT_FALSE(owners.Cached(absl::Hours(1)).has_value());
}

}  // namespace
}  // namespace custops::rpc
