// Kafka's topic-name rule, shared by both EventLog implementations so a topic
// that works in the embedded log also works on a broker.
#ifndef CUSTOPS_LOG_SRC_TOPIC_NAME_H_
#define CUSTOPS_LOG_SRC_TOPIC_NAME_H_

#include <string_view>

#include "absl/status/status.h"

namespace custops::log::internal {

// OK for 1..249 characters of [a-zA-Z0-9._-] other than "." and "..";
// INVALID_ARGUMENT naming the topic otherwise.
absl::Status ValidateTopicName(std::string_view topic);

}  // namespace custops::log::internal

#endif  // CUSTOPS_LOG_SRC_TOPIC_NAME_H_
