// The EventLog conformance suite: one set of TEST_Ps that every EventLog
// implementation must pass (ordering, dense offsets, partitioning, reads,
// idempotent append, durability across reopen, topics, concurrency, waiting,
// timestamps, Close). An implementation joins by instantiating it with a
// factory; the suite's tests are compiled once, in custops::log_testing.
//
//   // libs/log/test/embedded_conformance_test.cc
//   INSTANTIATE_TEST_SUITE_P(
//       Embedded, EventLogConformanceTest,
//       ::testing::Values(LogFactory{
//           .name = "embedded",
//           .open = [](const LogFactory::Env& env) {
//             return EmbeddedEventLog::Open({.path = env.dir, .clock = env.clock});
//           }}),
//       [](const auto& info) { return info.param.name; });
//
// Link custops::log_testing (an object library, so the TEST_Ps are linked in
// even though nothing references them) and GTest.
#ifndef CUSTOPS_LOG_TESTING_CONFORMANCE_H_
#define CUSTOPS_LOG_TESTING_CONFORMANCE_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "custops/base/clock.h"
#include "custops/log/event_log.h"
#include "gtest/gtest.h"

namespace custops::log::testing {

// How the suite opens the implementation under test.
struct LogFactory {
  // What a test hands the factory. Stable for the whole test, across reopen.
  struct Env {
    // A fresh, empty directory owned by the test (removed afterwards); an
    // implementation that keeps no local files may ignore it.
    std::string dir;
    // Unique per test (letters, digits, '-'); an implementation backed by
    // shared infrastructure (a Kafka cluster) can use it to isolate tests.
    // The suite already appends it to every topic name it creates.
    std::string unique_id;
    // Record timestamps must come from this clock. Outlives the log.
    const base::Clock* clock = nullptr;
  };

  using OpenFn = std::function<absl::StatusOr<std::unique_ptr<EventLog>>(const Env& env)>;

  // Names the instantiation (letters, digits and '_' only).
  std::string name;
  // Opens a fresh, empty log for `env`, at the start of every test.
  OpenFn open;
  // Opens the same log again after the test Close()d the previous instance;
  // it must hold everything that instance acknowledged. When empty, `open` is
  // called again with the same `env`.
  OpenFn reopen;
};

inline std::ostream& operator<<(std::ostream& os, const LogFactory& factory) {
  return os << factory.name;
}

// The parameterised fixture. Instantiate with INSTANTIATE_TEST_SUITE_P.
class EventLogConformanceTest : public ::testing::TestWithParam<LogFactory> {
 protected:
  // Simulated-clock start: a whole second, so millisecond-precision logs
  // (Kafka) round-trip timestamps exactly.
  static constexpr absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);

  EventLogConformanceTest();
  ~EventLogConformanceTest() override;
  void SetUp() override;
  void TearDown() override;

  // `base` made unique to this test (see LogFactory::Env::unique_id).
  std::string TopicName(std::string_view base) const;

  // Closes `log_` (expecting OK) and opens it again through the factory.
  void Reopen();

  base::SimulatedClock clock_{kStart};
  LogFactory::Env env_;
  std::unique_ptr<EventLog> log_;
};

}  // namespace custops::log::testing

#endif  // CUSTOPS_LOG_TESTING_CONFORMANCE_H_
