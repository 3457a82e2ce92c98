#include "custops/ctl/token.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "custops/rpc/auth.h"

namespace custops::ctl {

absl::StatusOr<std::string> MintToken(const TokenArgs& args, absl::Time now) {
  if (args.subject.empty()) return absl::InvalidArgumentError("--sub: required");
  for (const std::string& role : args.roles) {
    if (!rpc::ParseRole(role).has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--roles: unknown role '", role, "' (one of emitter, reader, admin)"));
    }
  }
  absl::Duration ttl;
  if (!absl::ParseDuration(args.ttl, &ttl) || ttl <= absl::ZeroDuration() ||
      ttl == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--ttl: '", args.ttl, "' is not a positive duration such as 24h or 90m"));
  }
  if (args.secret_file.empty()) return absl::InvalidArgumentError("--secret-file: required");
  absl::StatusOr<std::string> secret = rpc::ReadSecretFile(args.secret_file);
  if (!secret.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--secret-file: ", secret.status().message()));
  }
  rpc::MintRequest request{.subject = args.subject,
                           .roles = args.roles,
                           .issuer = args.issuer,
                           .audience = args.audience,
                           .issued_at = absl::FromUnixSeconds(absl::ToUnixSeconds(now))};
  request.expires = request.issued_at + ttl;
  if (args.regions.has_value()) {
    request.regions.emplace();
    for (const std::string& region : *args.regions) {
      if (!region.empty()) request.regions->push_back(region);
    }
  }
  return rpc::MintHs256(*secret, request);
}

}  // namespace custops::ctl
