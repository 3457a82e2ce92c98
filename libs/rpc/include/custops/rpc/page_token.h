// Paging of list requests: the page size and the opaque page token of the
// lists that page by key (Lifecycle, Value, Review). A token is `prefix` (the
// list and the token's version, e.g. "l1.") followed by the web-safe base64
// of the last key returned; tokens already issued keep decoding.
//
//   ASSIGN_OR_RETURN(int page_size, rpc::PageSize(request.page_size()));
//   ASSIGN_OR_RETURN(std::string after, rpc::DecodePageToken("l1.", request.page_token()));
//   response.set_next_page_token(rpc::EncodePageToken("l1.", last_key));
#ifndef CUSTOPS_RPC_PAGE_TOKEN_H_
#define CUSTOPS_RPC_PAGE_TOKEN_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace custops::rpc {

// The token of a page whose last key is `last`.
std::string EncodePageToken(std::string_view prefix, std::string_view last);

// The last key of the previous page: "" for an empty token (the first page).
// INVALID_ARGUMENT "page_token: not a token from this list" when the token is
// over 4096 bytes, lacks `prefix` or is not web-safe base64 after it.
absl::StatusOr<std::string> DecodePageToken(std::string_view prefix, std::string_view token);

// The page size to answer: 100 for 0, at most 1000. INVALID_ARGUMENT
// "page_size: must not be negative" below 0.
absl::StatusOr<int> PageSize(int requested);

}  // namespace custops::rpc

#endif  // CUSTOPS_RPC_PAGE_TOKEN_H_
