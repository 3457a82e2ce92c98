// Runs the EventLog conformance suite against EmbeddedEventLog, with fsync on
// (the product default) and off (what tests and benchmarks use).
#include <memory>

#include "custops/log/embedded_event_log.h"
#include "custops/log/testing/conformance.h"
#include "gtest/gtest.h"

namespace custops::log::testing {
namespace {

LogFactory EmbeddedFactory(std::string name, bool sync) {
  return LogFactory{
      .name = std::move(name),
      .open =
          [sync](const LogFactory::Env& env) {
            return EmbeddedEventLog::Open({.path = env.dir, .sync = sync, .clock = env.clock});
          },
      .reopen = {},  // the same path opens the same log
  };
}

INSTANTIATE_TEST_SUITE_P(Embedded, EventLogConformanceTest,
                         ::testing::Values(EmbeddedFactory("embedded_sync", true),
                                           EmbeddedFactory("embedded_nosync", false)),
                         [](const ::testing::TestParamInfo<LogFactory>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace custops::log::testing
