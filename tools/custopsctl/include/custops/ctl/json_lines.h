// JSON lines (one message per line, protobuf JSON mapping) in and out: what
// `custopsctl append` reads and what `tail`, `list` and `timeline` print.
// Field names may be snake_case (as in the .proto) or lowerCamelCase; enums
// by name. Blank lines and lines starting with '#' are skipped; a UTF-8 BOM
// and CR line ends are tolerated.
//
//   std::istringstream in(R"({"event_id":"e1","customer_id":"C1",...})");
//   absl::StatusOr<JsonLines<v1::Event>> lines = ReadJsonLines<v1::Event>(in);
//   // INVALID_ARGUMENT "line 3: ..." for a bad line
#ifndef CUSTOPS_CTL_JSON_LINES_H_
#define CUSTOPS_CTL_JSON_LINES_H_

#include <cstdint>
#include <istream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message.h"

namespace custops::ctl {

// Parses one JSON object into `out` (cleared first). Unknown fields are an
// error. INVALID_ARGUMENT with the parser's reason.
absl::Status ParseJsonMessage(std::string_view json, google::protobuf::Message& out);

// Reads messages one line at a time. Not thread-safe.
class JsonLinesReader {
 public:
  // `in` must outlive the reader.
  explicit JsonLinesReader(std::istream& in) : in_(in) {}

  // Parses the next message into `out`: true, or false at the end of the
  // input. INVALID_ARGUMENT "line N: <why>" for a line that is not a
  // message; the reader may be used on after an error (the next call reads
  // the following line).
  absl::StatusOr<bool> Next(google::protobuf::Message& out);

  // The 1-based number of the line last read.
  int64_t line() const { return line_; }

 private:
  std::istream& in_;
  int64_t line_ = 0;
  std::string buffer_;
};

// Messages with the input line each came from.
template <typename M>
struct JsonLines {
  std::vector<M> messages;
  std::vector<int64_t> lines;  // lines[i] is the line of messages[i]
};

// Reads the whole input; INVALID_ARGUMENT naming the first bad line.
template <typename M>
absl::StatusOr<JsonLines<M>> ReadJsonLines(std::istream& in) {
  JsonLines<M> out;
  JsonLinesReader reader(in);
  M message;
  while (true) {
    absl::StatusOr<bool> more = reader.Next(message);
    if (!more.ok()) return more.status();
    if (!*more) break;
    out.messages.push_back(std::move(message));
    out.lines.push_back(reader.line());
    message.Clear();
  }
  return out;
}

// The message as one line of JSON (snake_case field names, defaults left
// out), without a trailing newline.
std::string ToJsonLine(const google::protobuf::Message& message);

// The message as indented JSON (snake_case field names, defaults left out),
// ending with a newline.
std::string ToPrettyJson(const google::protobuf::Message& message);

}  // namespace custops::ctl

#endif  // CUSTOPS_CTL_JSON_LINES_H_
