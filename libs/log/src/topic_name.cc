#include "topic_name.h"

#include <cstddef>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace custops::log::internal {

absl::Status ValidateTopicName(std::string_view topic) {
  constexpr size_t kMaxTopicNameLength = 249;  // Kafka's limit
  const std::string name(topic);
  if (topic.empty() || topic.size() > kMaxTopicNameLength || topic == "." || topic == "..") {
    return absl::InvalidArgumentError(absl::StrCat("invalid topic name '", name, "'"));
  }
  for (char c : topic) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid topic name '", name, "': only [a-zA-Z0-9._-] allowed"));
    }
  }
  return absl::OkStatus();
}

}  // namespace custops::log::internal
