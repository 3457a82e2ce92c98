#include "custops/rpc/page_token.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace custops::rpc {

std::string EncodePageToken(std::string_view prefix, std::string_view last) {
  return absl::StrCat(std::string(prefix), absl::WebSafeBase64Escape(std::string(last)));
}

absl::StatusOr<std::string> DecodePageToken(std::string_view prefix, std::string_view token) {
  std::string out;
  if (token.empty()) return out;
  if (token.size() > 4096 || !token.starts_with(prefix) ||
      !absl::WebSafeBase64Unescape(std::string(token.substr(prefix.size())), &out)) {
    return absl::InvalidArgumentError("page_token: not a token from this list");
  }
  return out;
}

absl::StatusOr<int> PageSize(int requested) {
  if (requested < 0) return absl::InvalidArgumentError("page_size: must not be negative");
  if (requested == 0) return 100;
  return std::min(requested, 1000);
}

}  // namespace custops::rpc
