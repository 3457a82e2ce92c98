// Runs the EventLog conformance suite against KafkaEventLog on a real Apache
// Kafka broker (the ctest fixture `kafka`). Topics are unique per test, so
// the broker is shared by every test of the run.
#include <memory>
#include <string>

#include "custops/log/kafka_event_log.h"
#include "custops/log/testing/conformance.h"
#include "gtest/gtest.h"
#include "kafka_testing.h"

namespace custops::log::testing {
namespace {

absl::StatusOr<std::unique_ptr<EventLog>> OpenKafka(const LogFactory::Env& env) {
  absl::StatusOr<std::string> bootstrap = KafkaBootstrap();
  if (!bootstrap.ok()) return bootstrap.status();
  return KafkaEventLog::Open({.bootstrap_servers = *bootstrap,
                              .clock = env.clock,
                              .append_timeout = absl::Seconds(30),
                              .request_timeout = absl::Seconds(20)});
}

INSTANTIATE_TEST_SUITE_P(
    Kafka, EventLogConformanceTest,
    ::testing::Values(LogFactory{.name = "kafka", .open = &OpenKafka, .reopen = &OpenKafka}),
    [](const ::testing::TestParamInfo<LogFactory>& info) { return info.param.name; });

}  // namespace
}  // namespace custops::log::testing
