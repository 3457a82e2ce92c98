#include "custops/projection/token.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace custops::projection {
namespace {
constexpr std::string_view kPrefix = "c1.";
}  // namespace

std::string EncodeToken(const PositionSet& positions) {
  std::string bytes;
  positions.SerializeToString(&bytes);
  return absl::StrCat(std::string(kPrefix), absl::WebSafeBase64Escape(bytes));
}

absl::StatusOr<PositionSet> DecodeToken(std::string_view token, std::string_view field) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(field), ": ", std::string(why)));
  };
  if (token.size() > 64 * 1024) return bad("too long to be a token");
  if (!token.starts_with(kPrefix)) return bad("not a custops token");
  std::string bytes;
  if (!absl::WebSafeBase64Unescape(std::string(token.substr(kPrefix.size())), &bytes)) {
    return bad("not a custops token (bad encoding)");
  }
  PositionSet positions;
  if (!positions.ParseFromString(bytes) || positions.topic().empty()) {
    return bad("not a custops token (bad contents)");
  }
  for (int64_t offset : positions.next_offsets()) {
    if (offset < 0) return bad("not a custops token (negative offset)");
  }
  return positions;
}

void MergePositions(PositionSet& into, const PositionSet& other) {
  if (into.topic().empty()) into.set_topic(other.topic());
  while (into.next_offsets_size() < other.next_offsets_size()) into.add_next_offsets(0);
  for (int p = 0; p < other.next_offsets_size(); ++p) {
    into.set_next_offsets(p, std::max(into.next_offsets(p), other.next_offsets(p)));
  }
}

}  // namespace custops::projection
