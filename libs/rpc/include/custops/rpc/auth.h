// Who is calling: JWT bearer tokens for the gRPC / HTTP front door. A
// TokenVerifier checks the "authorization: Bearer <jwt>" header of a call
// (signature through libjwt, then exp / nbf / iss / aud and the custops
// claims) and returns the caller's Identity: subject, roles and the regions
// (片区) it may see. Verified tokens are cached until they expire.
//
// Accepted algorithms: HS256 with a shared secret, or RS256 / ES256 (P-256)
// with a PEM public key, whichever the key file is; anything else, "none"
// included, is refused before the signature is looked at.
//
// Claims: "sub" (required), "exp" (required), "nbf" (honoured), "iss" and
// "aud" (checked when configured), "roles" (optional array of "emitter",
// "reader", "admin"), "regions" (optional array of region names; absent =
// every region).
//
//   rpc::AuthOptions options{.hs256_secret_file = "/etc/custops/jwt.key", .issuer = "custops"};
//   ASSIGN_OR_RETURN(std::unique_ptr<rpc::TokenVerifier> verifier,
//                    rpc::TokenVerifier::Create(options));
//   absl::StatusOr<rpc::Identity> who = verifier->Verify(authorization_header);
//   if (!who.ok()) return who.status();  // UNAUTHENTICATED
//   if (!who->Has(rpc::Role::kReader)) return absl::PermissionDeniedError("reader role required");
//   if (!who->SeesRegion("华东")) ...
//
//   // Minting (custopsctl token, tests):
//   rpc::MintRequest claims{.subject = "crm", .roles = {"emitter"}};
//   claims.expires = now + absl::Hours(24);
//   ASSIGN_OR_RETURN(std::string jwt, rpc::MintHs256(secret, claims));
#ifndef CUSTOPS_RPC_AUTH_H_
#define CUSTOPS_RPC_AUTH_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "custops/base/clock.h"

namespace custops::rpc {

// What a caller may do; an Identity holds a bitmask of these.
enum class Role : uint8_t { kEmitter = 1, kReader = 2, kAdmin = 4 };

// Parses "emitter" / "reader" / "admin" (exactly, lower case); nullopt otherwise.
std::optional<Role> ParseRole(std::string_view name);
// "emitter", "reader" or "admin".
std::string_view RoleName(Role role);

// The verified caller of one call.
struct Identity {
  // The token's "sub"; "anonymous" when auth is off.
  std::string subject;
  // Bitmask of Role.
  uint8_t roles = 0;
  // The regions (片区) the caller may see; nullopt = every region. Sorted, unique.
  std::optional<std::vector<std::string>> regions;

  // True when the caller has `r`; kAdmin implies every role.
  bool Has(Role r) const;
  // True when `region` is among `regions`, or `regions` is nullopt.
  bool SeesRegion(std::string_view region) const;
  // The identity of every call when auth is off: subject "anonymous", all
  // roles, all regions.
  static Identity Anonymous();

  bool operator==(const Identity&) const = default;
};

struct AuthOptions {
  // File holding the HS256 shared secret (its bytes; trailing newlines
  // stripped). Exactly one of this and `public_key_file`.
  std::string hs256_secret_file;
  // PEM public key ("BEGIN PUBLIC KEY"): RSA (>= 2048 bits) → RS256 tokens,
  // EC P-256 → ES256 tokens.
  std::string public_key_file;
  // Required "iss" when not empty. Default: not checked.
  std::string issuer;
  // Required "aud" (a string equal to it, or an array containing it) when
  // not empty. Default: not checked.
  std::string audience;
  // Clock skew allowed on exp and nbf. Default: 30 s.
  absl::Duration leeway = absl::Seconds(30);
  // Verified tokens kept (by the token string), least recently used evicted
  // first; 0 = no cache. Default: 10000.
  size_t cache_entries = 10000;
  // Time for exp / nbf; must outlive the verifier. Default: base::SystemClock.
  const base::Clock* clock = nullptr;
};

// Verifies bearer tokens. Thread-safe.
class TokenVerifier {
 public:
  // INVALID_ARGUMENT naming the option ("auth.jwt_hs256_secret_file: ...",
  // "auth.jwt_public_key_file: ...") when the options are unusable: no key,
  // both keys, an unreadable or empty file, a public key that is neither
  // RSA (>= 2048 bits) nor EC P-256, a negative leeway.
  static absl::StatusOr<std::unique_ptr<TokenVerifier>> Create(const AuthOptions& options);

  ~TokenVerifier();
  TokenVerifier(const TokenVerifier&) = delete;
  TokenVerifier& operator=(const TokenVerifier&) = delete;

  // `authorization` is the header value, "Bearer <jwt>" (scheme in any
  // case). The caller's identity, or UNAUTHENTICATED with a short reason
  // that never echoes the token: "missing bearer token" (empty header, other
  // scheme, no token), "malformed token", "typ must be JWT", "alg X not
  // accepted", "bad signature", "exp required", "exp: must be a number",
  // "nbf: must be a number", "token expired", "token not yet valid", "wrong
  // issuer", "wrong audience", "sub required", "roles: must be an array of
  // emitter/reader/admin", "regions: must be an array of strings".
  absl::StatusOr<Identity> Verify(std::string_view authorization) const;

  // Tokens in the cache now (tests, metrics).
  size_t CachedTokens() const;

 private:
  class Cache;
  struct Key;
  TokenVerifier(const AuthOptions& options, std::unique_ptr<Key> key);

  const AuthOptions options_;
  const base::Clock* clock_;
  std::unique_ptr<Key> key_;
  std::unique_ptr<Cache> cache_;  // null when cache_entries == 0
};

// The contents of an HS256 secret file exactly as TokenVerifier reads it
// (trailing newline stripped). NOT_FOUND when unreadable, INVALID_ARGUMENT
// when empty.
absl::StatusOr<std::string> ReadSecretFile(const std::string& path);

// The claims of a minted token.
struct MintRequest {
  // "sub". Required.
  std::string subject;
  // "roles": each one of "emitter", "reader", "admin"; left out when empty.
  std::vector<std::string> roles;
  // "regions"; left out when nullopt (= every region).
  std::optional<std::vector<std::string>> regions;
  // "iss" / "aud"; left out when empty.
  std::string issuer;
  std::string audience;
  // "exp", whole seconds. Required (finite).
  absl::Time expires = absl::InfinitePast();
  // "iat"; left out when not finite. Default: left out.
  absl::Time issued_at = absl::InfinitePast();
  // "nbf"; left out when nullopt.
  std::optional<absl::Time> not_before;
};

// An HS256 token signed with `secret` (the bytes). For custopsctl token and
// tests. INVALID_ARGUMENT for an empty secret or subject, an unknown role or
// no expiry.
absl::StatusOr<std::string> MintHs256(std::string_view secret, const MintRequest& request);

// An RS256 (RSA key) or ES256 (EC P-256 key) token signed with an
// unencrypted PEM private key. For tests. INVALID_ARGUMENT as MintHs256, and
// for a key that is not an unencrypted RSA or P-256 PEM private key.
absl::StatusOr<std::string> MintWithPrivateKey(std::string_view private_key_pem,
                                               const MintRequest& request);

}  // namespace custops::rpc

#endif  // CUSTOPS_RPC_AUTH_H_
