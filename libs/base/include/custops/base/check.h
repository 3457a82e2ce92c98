// CHECK(cond) << "context": a violated invariant crashes loudly with the
// condition, file, line and message. Not for input validation: bad input is
// an absl::Status, never a crash.
#ifndef CUSTOPS_BASE_CHECK_H_
#define CUSTOPS_BASE_CHECK_H_

#include <sstream>
#include <string_view>

namespace custops::base {

class CheckFailure {
 public:
  CheckFailure(const char* condition, const char* file, int line);
  [[noreturn]] ~CheckFailure();
  template <typename T>
  CheckFailure& operator<<(const T& v) {
    stream_ << v;
    return *this;
  }

 private:
  std::ostringstream stream_;
};

// Makes `CHECK(c) << x` a void expression in both branches.
struct Voidify {
  void operator&(const CheckFailure&) {}
};

}  // namespace custops::base

#define CUSTOPS_CHECK(condition) \
  (condition)                    \
      ? (void)0                  \
      : ::custops::base::Voidify() & ::custops::base::CheckFailure(#condition, __FILE__, __LINE__)

#ifndef CHECK
#define CHECK(condition) CUSTOPS_CHECK(condition)
#endif

#endif  // CUSTOPS_BASE_CHECK_H_
