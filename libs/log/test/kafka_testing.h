// Where the Kafka tests find their broker: CUSTOPS_KAFKA_BOOTSTRAP
// (host:port), or the file named by CUSTOPS_KAFKA_BOOTSTRAP_FILE, which the
// ctest fixture `kafka` (deploy/kafka/kafka.sh start) writes.
#ifndef CUSTOPS_LOG_TEST_KAFKA_TESTING_H_
#define CUSTOPS_LOG_TEST_KAFKA_TESTING_H_

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace custops::log::testing {

inline absl::StatusOr<std::string> KafkaBootstrap() {
  if (const char* bootstrap = std::getenv("CUSTOPS_KAFKA_BOOTSTRAP");
      bootstrap != nullptr && *bootstrap != '\0') {
    return std::string(bootstrap);
  }
  const char* file = std::getenv("CUSTOPS_KAFKA_BOOTSTRAP_FILE");
  if (file == nullptr || *file == '\0') {
    return absl::FailedPreconditionError(
        "no broker: set CUSTOPS_KAFKA_BOOTSTRAP=host:port or run through ctest (fixture kafka)");
  }
  std::ifstream in(file);
  std::string line;
  if (!in || !std::getline(in, line) || absl::StripAsciiWhitespace(line).empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no broker address in ", file, " (did deploy/kafka/kafka.sh start fail?)"));
  }
  return std::string(absl::StripAsciiWhitespace(line));
}

}  // namespace custops::log::testing

#endif  // CUSTOPS_LOG_TEST_KAFKA_TESTING_H_
