// `custopsctl token`: an HS256 JWT for local use and tests, with the claims
// the front door reads (custops::rpc::TokenVerifier, libs/rpc/auth.h).
//
//   TokenArgs args{.secret_file = "jwt.key", .subject = "alice", .roles = {"reader"},
//                  .regions = std::vector<std::string>{"华东"}};
//   absl::StatusOr<std::string> jwt = MintToken(args, absl::Now());
#ifndef CUSTOPS_CTL_TOKEN_H_
#define CUSTOPS_CTL_TOKEN_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace custops::ctl {

struct TokenArgs {
  // File with the HS256 shared secret, read as the server reads it
  // (trailing newlines stripped). Required.
  std::string secret_file;
  // "sub". Required.
  std::string subject;
  // "roles": each emitter, reader or admin. Default: none.
  std::vector<std::string> roles;
  // "regions"; nullopt = every region (no claim); empty names are dropped.
  std::optional<std::vector<std::string>> regions;
  // Lifetime, absl::ParseDuration syntax ("24h", "90m"). Default: "24h".
  std::string ttl = "24h";
  // "iss" / "aud" when not empty.
  std::string issuer;
  std::string audience;
};

// The JWT, issued at `now` (whole seconds) and expiring ttl later.
// INVALID_ARGUMENT naming the flag ("--roles: unknown role 'root' (one of
// emitter, reader, admin)", "--ttl: ...", "--sub: required",
// "--secret-file: ...").
absl::StatusOr<std::string> MintToken(const TokenArgs& args, absl::Time now);

}  // namespace custops::ctl

#endif  // CUSTOPS_CTL_TOKEN_H_
