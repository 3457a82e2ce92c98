// GoogleTest helpers for absl::Status / absl::StatusOr, private to the log
// tests (absl 20220623 ships no status matchers).
#ifndef CUSTOPS_LOG_TEST_STATUS_TESTING_H_
#define CUSTOPS_LOG_TEST_STATUS_TESTING_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace custops::log::testing {

inline const absl::Status& StatusOf(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

// Success, or a failure that prints the status.
inline ::testing::AssertionResult IsOk(const absl::Status& status) {
  if (status.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << status;
}
template <typename T>
::testing::AssertionResult IsOk(const absl::StatusOr<T>& status_or) {
  return IsOk(status_or.status());
}

}  // namespace custops::log::testing

#define LOG_TEST_CONCAT_INNER_(a, b) a##b
#define LOG_TEST_CONCAT_(a, b) LOG_TEST_CONCAT_INNER_(a, b)

#define EXPECT_OK(expr) EXPECT_TRUE(::custops::log::testing::IsOk(expr))
#define ASSERT_OK(expr) ASSERT_TRUE(::custops::log::testing::IsOk(expr))

// Evaluates a StatusOr; fails the test unless OK, else moves the value to lhs.
#define ASSERT_OK_AND_ASSIGN(lhs, rexpr) \
  LOG_TEST_ASSERT_OK_AND_ASSIGN_IMPL_(LOG_TEST_CONCAT_(log_test_statusor_, __LINE__), lhs, rexpr)
#define LOG_TEST_ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                        \
  ASSERT_TRUE(statusor.ok()) << statusor.status();                \
  lhs = std::move(statusor).value()

// The status code of a Status or StatusOr.
#define STATUS_CODE(expr) ::custops::log::testing::StatusOf(expr).code()

#endif  // CUSTOPS_LOG_TEST_STATUS_TESTING_H_
