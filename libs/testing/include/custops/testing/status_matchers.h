// gMock matchers and assertions for absl::Status and absl::StatusOr<T>
// (Abseil 20220623, the Debian one, ships no status matchers).
//
//   using ::custops::testing::IsOk;
//   using ::custops::testing::StatusIs;
//   EXPECT_THAT(ListDeadLetters(log, request), StatusIs(absl::StatusCode::kInvalidArgument,
//                                                       ::testing::StartsWith("page_size")));
//   EXPECT_THAT(log->Close(), IsOk());
//   EXPECT_OK(log->CreateTopic(topic, 4));  // prints the status when it is not OK
//   ASSERT_OK_AND_ASSIGN(std::unique_ptr<log::EventLog> log, EmbeddedEventLog::Open(options));
//
// Every matcher takes a Status, a StatusOr<T> of any T, or a reference to
// either; on a mismatch it explains with the actual code and message.
#ifndef CUSTOPS_TESTING_STATUS_MATCHERS_H_
#define CUSTOPS_TESTING_STATUS_MATCHERS_H_

#include <optional>
#include <ostream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace custops::testing {
namespace internal_status {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

// "OK", or "INVALID_ARGUMENT: page_size: ..." (absl's own rendering).
inline std::string StatusText(const absl::Status& status) { return status.ToString(); }

// What StatusIs does for every status type it is converted to.
class StatusIsImpl {
 public:
  StatusIsImpl(::testing::Matcher<absl::StatusCode> code,
               std::optional<::testing::Matcher<const std::string&>> message)
      : code_(std::move(code)), message_(std::move(message)) {}

  void DescribeTo(std::ostream* os) const {
    *os << "has a status code that ";
    code_.DescribeTo(os);
    if (message_) {
      *os << ", and has an error message that ";
      message_->DescribeTo(os);
    }
  }

  void DescribeNegationTo(std::ostream* os) const {
    *os << "has a status code that ";
    code_.DescribeNegationTo(os);
    if (message_) {
      *os << ", or has an error message that ";
      message_->DescribeNegationTo(os);
    }
  }

  bool MatchAndExplain(const absl::Status& status, ::testing::MatchResultListener* listener) const {
    *listener << "which has status " << StatusText(status);
    ::testing::StringMatchResultListener code_listener;
    if (!code_.MatchAndExplain(status.code(), &code_listener)) {
      *listener << ", whose code " << status.code() << " is wrong";
      if (!code_listener.str().empty()) *listener << " (" << code_listener.str() << ")";
      return false;
    }
    if (!message_) return true;
    const std::string message(status.message());
    ::testing::StringMatchResultListener message_listener;
    if (!message_->MatchAndExplain(message, &message_listener)) {
      *listener << ", whose error message is wrong";
      if (!message_listener.str().empty()) *listener << " (" << message_listener.str() << ")";
      return false;
    }
    return true;
  }

 private:
  ::testing::Matcher<absl::StatusCode> code_;
  std::optional<::testing::Matcher<const std::string&>> message_;
};

// StatusIs for one type T (a Status, a StatusOr<U> or a reference to one).
template <typename T>
class MonoStatusIsMatcher : public ::testing::MatcherInterface<T> {
 public:
  explicit MonoStatusIsMatcher(StatusIsImpl impl) : impl_(std::move(impl)) {}
  void DescribeTo(std::ostream* os) const override { impl_.DescribeTo(os); }
  void DescribeNegationTo(std::ostream* os) const override { impl_.DescribeNegationTo(os); }
  bool MatchAndExplain(T actual, ::testing::MatchResultListener* listener) const override {
    return impl_.MatchAndExplain(GetStatus(actual), listener);
  }

 private:
  StatusIsImpl impl_;
};

// The polymorphic StatusIs: becomes a Matcher<T> of whatever status type
// EXPECT_THAT hands it.
class StatusIsMatcher {
 public:
  explicit StatusIsMatcher(StatusIsImpl impl) : impl_(std::move(impl)) {}
  template <typename T>
  operator ::testing::Matcher<T>() const {  // NOLINT(google-explicit-constructor)
    return ::testing::Matcher<T>(new MonoStatusIsMatcher<const T&>(impl_));
  }

 private:
  StatusIsImpl impl_;
};

// IsOk for one type T.
template <typename T>
class MonoIsOkMatcher : public ::testing::MatcherInterface<T> {
 public:
  void DescribeTo(std::ostream* os) const override { *os << "is OK"; }
  void DescribeNegationTo(std::ostream* os) const override { *os << "is not OK"; }
  bool MatchAndExplain(T actual, ::testing::MatchResultListener* listener) const override {
    const absl::Status& status = GetStatus(actual);
    *listener << "which has status " << StatusText(status);
    return status.ok();
  }
};

class IsOkMatcher {
 public:
  template <typename T>
  operator ::testing::Matcher<T>() const {  // NOLINT(google-explicit-constructor)
    return ::testing::Matcher<T>(new MonoIsOkMatcher<const T&>());
  }
};

// The predicate-formatter behind EXPECT_OK / ASSERT_OK.
template <typename T>
::testing::AssertionResult AssertOk(const char* expression, const T& status_like) {
  const absl::Status& status = GetStatus(status_like);
  if (status.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << expression << " is not OK: " << StatusText(status);
}

}  // namespace internal_status

// Matches a Status or StatusOr whose code matches `code`: an
// absl::StatusCode, or a matcher of one (AnyOf(kNotFound, kUnavailable)).
template <typename CodeMatcher>
internal_status::StatusIsMatcher StatusIs(CodeMatcher&& code) {
  return internal_status::StatusIsMatcher(internal_status::StatusIsImpl(
      ::testing::MatcherCast<absl::StatusCode>(std::forward<CodeMatcher>(code)), std::nullopt));
}

// ... and whose message matches `message`: a string (equality) or a string
// matcher (::testing::StartsWith("page_size: "), HasSubstr, ContainsRegex).
template <typename CodeMatcher, typename MessageMatcher>
internal_status::StatusIsMatcher StatusIs(CodeMatcher&& code, MessageMatcher&& message) {
  return internal_status::StatusIsMatcher(internal_status::StatusIsImpl(
      ::testing::MatcherCast<absl::StatusCode>(std::forward<CodeMatcher>(code)),
      ::testing::MatcherCast<const std::string&>(std::forward<MessageMatcher>(message))));
}

// Matches an OK Status, or a StatusOr that holds a value.
inline internal_status::IsOkMatcher IsOk() { return internal_status::IsOkMatcher(); }

}  // namespace custops::testing

// Non-fatal / fatal: `expr` (a Status or StatusOr) is OK; the failure shows
// the expression and its status.
#define EXPECT_OK(expr) EXPECT_PRED_FORMAT1(::custops::testing::internal_status::AssertOk, expr)
#define ASSERT_OK(expr) ASSERT_PRED_FORMAT1(::custops::testing::internal_status::AssertOk, expr)

// Evaluates `rexpr` (a StatusOr); fails the test (fatally) unless it is OK,
// else moves its value into `lhs`, which may be a declaration.
#define ASSERT_OK_AND_ASSIGN(lhs, rexpr)      \
  CUSTOPS_TESTING_ASSERT_OK_AND_ASSIGN_IMPL_( \
      CUSTOPS_TESTING_CONCAT_(custops_testing_statusor_, __LINE__), lhs, rexpr)
#define CUSTOPS_TESTING_CONCAT_INNER_(a, b) a##b
#define CUSTOPS_TESTING_CONCAT_(a, b) CUSTOPS_TESTING_CONCAT_INNER_(a, b)
#define CUSTOPS_TESTING_ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, rexpr)       \
  auto statusor = (rexpr);                                                     \
  ASSERT_TRUE(statusor.ok()) << #rexpr << " is not OK: " << statusor.status(); \
  lhs = std::move(statusor).value()

#endif  // CUSTOPS_TESTING_STATUS_MATCHERS_H_
