#include "custops/ctl/json_lines.h"

#include <istream>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/json_util.h"

namespace custops::ctl {

absl::Status ParseJsonMessage(std::string_view json, google::protobuf::Message& out) {
  out.Clear();
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &out, options);
  if (status.ok()) return absl::OkStatus();
  std::string why(status.message().data(), status.message().size());
  // The parser quotes the input after a newline; keep the message on one line.
  for (char& c : why) {
    if (c == '\n') c = ' ';
  }
  return absl::InvalidArgumentError(absl::StrCat("not a ", out.GetDescriptor()->full_name(),
                                                 " in JSON: ", absl::StripAsciiWhitespace(why)));
}

absl::StatusOr<bool> JsonLinesReader::Next(google::protobuf::Message& out) {
  while (std::getline(in_, buffer_)) {
    ++line_;
    std::string_view line = buffer_;
    if (line_ == 1 && line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);  // BOM
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t first = 0;
    while (first < line.size() && absl::ascii_isspace(static_cast<unsigned char>(line[first]))) {
      ++first;
    }
    line.remove_prefix(first);
    if (line.empty() || line.front() == '#') continue;
    absl::Status status = ParseJsonMessage(line, out);
    if (!status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("line ", line_, ": ", status.message()));
    }
    return true;
  }
  if (in_.bad()) return absl::DataLossError(absl::StrCat("read error after line ", line_));
  return false;
}

namespace {

std::string ToJson(const google::protobuf::Message& message, bool pretty) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = pretty;
  options.always_print_primitive_fields = false;
  options.preserve_proto_field_names = true;
  std::string out;
  const auto status = google::protobuf::util::MessageToJsonString(message, &out, options);
  // Printing a valid message cannot fail; say so rather than print nothing.
  if (!status.ok()) {
    return absl::StrCat("{\"error\":\"cannot print ", message.GetDescriptor()->full_name(), "\"}",
                        pretty ? "\n" : "");
  }
  return out;
}

}  // namespace

std::string ToJsonLine(const google::protobuf::Message& message) { return ToJson(message, false); }

std::string ToPrettyJson(const google::protobuf::Message& message) {
  std::string out = ToJson(message, true);
  if (out.empty() || out.back() != '\n') out += '\n';
  return out;
}

}  // namespace custops::ctl
