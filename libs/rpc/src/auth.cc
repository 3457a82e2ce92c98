#include "custops/rpc/auth.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <list>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "custops/base/status_macros.h"

namespace custops::rpc {
namespace {

using google::protobuf::ListValue;
using google::protobuf::Struct;
using google::protobuf::Value;

// Longer tokens are refused unread.
constexpr size_t kMaxTokenBytes = 16 * 1024;

constexpr char kSecretOption[] = "auth.jwt_hs256_secret_file";
constexpr char kPublicKeyOption[] = "auth.jwt_public_key_file";

struct JwtFree {
  void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtFree>;
struct CharFree {
  void operator()(char* p) const { free(p); }
};
using MallocedString = std::unique_ptr<char, CharFree>;
struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

absl::Status Unauthenticated(absl::string_view reason) {
  return absl::UnauthenticatedError(reason);
}

// Never prompts for a passphrase (OpenSSL's default reads the terminal).
int NoPassphrase(char*, int, int, void*) { return -1; }

enum class KeyKind { kRsa, kEcP256, kOther };

KeyKind KindOf(EVP_PKEY* key) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
      return EVP_PKEY_get_bits(key) >= 2048 ? KeyKind::kRsa : KeyKind::kOther;
    case EVP_PKEY_EC: {
      char group[64];
      size_t length = 0;
      if (EVP_PKEY_get_group_name(key, group, sizeof(group), &length) != 1) return KeyKind::kOther;
      return std::string_view(group, length) == "prime256v1" ? KeyKind::kEcP256 : KeyKind::kOther;
    }
    default:
      return KeyKind::kOther;
  }
}

// The key in `pem`, public or (unencrypted) private; null when it is not one.
PkeyPtr ReadPem(std::string_view pem, bool private_key) {
  if (pem.size() > INT_MAX) return nullptr;
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) return nullptr;
  PkeyPtr key(private_key ? PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr)
                          : PEM_read_bio_PUBKEY(bio.get(), nullptr, NoPassphrase, nullptr));
  ERR_clear_error();  // a failed read leaves errors on this thread's queue
  return key;
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::string contents((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  return contents;
}

// The JSON object in base64url `segment`; nullopt when it is not one.
std::optional<Struct> DecodeSegment(absl::string_view segment) {
  std::string json;
  if (segment.empty() || !absl::WebSafeBase64Unescape(segment, &json)) return std::nullopt;
  Struct object;
  if (!google::protobuf::util::JsonStringToMessage(json, &object).ok()) return std::nullopt;
  return object;
}

const Value* Field(const Struct& object, const char* name) {
  auto it = object.fields().find(name);
  return it == object.fields().end() ? nullptr : &it->second;
}

// "alg X not accepted", with X only when it looks like an algorithm name.
absl::Status AlgNotAccepted(absl::string_view alg) {
  const bool plain =
      !alg.empty() && alg.size() <= 16 &&
      std::all_of(alg.begin(), alg.end(), [](char c) { return absl::ascii_isalnum(c); });
  return Unauthenticated(
      absl::StrCat("alg ", plain ? alg : absl::string_view("(invalid)"), " not accepted"));
}

// The NumericDate claim `name`: InfinitePast when absent.
absl::StatusOr<absl::Time> TimeClaim(const Struct& claims, const char* name, bool required) {
  const Value* v = Field(claims, name);
  if (v == nullptr) {
    if (required) return Unauthenticated(absl::StrCat(name, " required"));
    return absl::InfinitePast();
  }
  if (v->kind_case() != Value::kNumberValue || !std::isfinite(v->number_value())) {
    return Unauthenticated(absl::StrCat(name, ": must be a number"));
  }
  return absl::UnixEpoch() + absl::Seconds(v->number_value());
}

absl::Status CheckTimes(absl::Time now, absl::Duration leeway, absl::Time expires,
                        absl::Time not_before) {
  if (now >= expires + leeway) return Unauthenticated("token expired");
  if (now + leeway < not_before) return Unauthenticated("token not yet valid");
  return absl::OkStatus();
}

bool AudienceMatches(const Value* aud, std::string_view audience) {
  if (aud == nullptr) return false;
  if (aud->kind_case() == Value::kStringValue) return aud->string_value() == audience;
  if (aud->kind_case() != Value::kListValue) return false;
  for (const Value& v : aud->list_value().values()) {
    if (v.kind_case() == Value::kStringValue && v.string_value() == audience) return true;
  }
  return false;
}

// The identity in verified `claims` (sub, roles, regions).
absl::StatusOr<Identity> IdentityOf(const Struct& claims) {
  Identity identity;
  const Value* sub = Field(claims, "sub");
  if (sub == nullptr || sub->kind_case() != Value::kStringValue || sub->string_value().empty()) {
    return Unauthenticated("sub required");
  }
  identity.subject = sub->string_value();
  if (const Value* roles = Field(claims, "roles"); roles != nullptr) {
    const absl::Status bad = Unauthenticated("roles: must be an array of emitter/reader/admin");
    if (roles->kind_case() != Value::kListValue) return bad;
    for (const Value& v : roles->list_value().values()) {
      if (v.kind_case() != Value::kStringValue) return bad;
      std::optional<Role> role = ParseRole(v.string_value());
      if (!role.has_value()) return bad;
      identity.roles |= static_cast<uint8_t>(*role);
    }
  }
  if (const Value* regions = Field(claims, "regions"); regions != nullptr) {
    const absl::Status bad = Unauthenticated("regions: must be an array of strings");
    if (regions->kind_case() != Value::kListValue) return bad;
    std::vector<std::string> names;
    for (const Value& v : regions->list_value().values()) {
      if (v.kind_case() != Value::kStringValue) return bad;
      names.push_back(v.string_value());
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    identity.regions = std::move(names);
  }
  return identity;
}

// The JWT of an "authorization" header value.
absl::StatusOr<absl::string_view> BearerToken(absl::string_view authorization) {
  authorization = absl::StripAsciiWhitespace(authorization);
  const size_t space = authorization.find(' ');
  if (space == absl::string_view::npos ||
      !absl::EqualsIgnoreCase(authorization.substr(0, space), "bearer")) {
    return Unauthenticated("missing bearer token");
  }
  absl::string_view token = absl::StripLeadingAsciiWhitespace(authorization.substr(space + 1));
  if (token.empty()) return Unauthenticated("missing bearer token");
  return token;
}

absl::StatusOr<std::string> Mint(jwt_alg_t alg, std::string_view key, const MintRequest& r) {
  if (r.subject.empty()) return absl::InvalidArgumentError("subject: required");
  if (r.expires == absl::InfinitePast() || r.expires == absl::InfiniteFuture()) {
    return absl::InvalidArgumentError("expires: required");
  }
  if (key.size() > INT_MAX) return absl::InvalidArgumentError("key: too long");
  Struct arrays;
  if (!r.roles.empty()) {
    ListValue* roles = (*arrays.mutable_fields())["roles"].mutable_list_value();
    for (const std::string& name : r.roles) {
      if (!ParseRole(name).has_value()) {
        return absl::InvalidArgumentError(
            absl::StrCat("roles: unknown role '", name, "' (one of emitter, reader, admin)"));
      }
      roles->add_values()->set_string_value(name);
    }
  }
  if (r.regions.has_value()) {
    ListValue* regions = (*arrays.mutable_fields())["regions"].mutable_list_value();
    for (const std::string& name : *r.regions) regions->add_values()->set_string_value(name);
  }
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) return absl::ResourceExhaustedError("jwt_new failed");
  JwtPtr jwt(raw);
  int rc = jwt_add_grant(jwt.get(), "sub", r.subject.c_str());
  if (rc == 0 && !r.issuer.empty()) rc = jwt_add_grant(jwt.get(), "iss", r.issuer.c_str());
  if (rc == 0 && !r.audience.empty()) rc = jwt_add_grant(jwt.get(), "aud", r.audience.c_str());
  if (rc == 0) rc = jwt_add_grant_int(jwt.get(), "exp", absl::ToUnixSeconds(r.expires));
  if (rc == 0 && r.issued_at != absl::InfinitePast() && r.issued_at != absl::InfiniteFuture()) {
    rc = jwt_add_grant_int(jwt.get(), "iat", absl::ToUnixSeconds(r.issued_at));
  }
  if (rc == 0 && r.not_before.has_value()) {
    rc = jwt_add_grant_int(jwt.get(), "nbf", absl::ToUnixSeconds(*r.not_before));
  }
  if (rc == 0 && !arrays.fields().empty()) {
    std::string json;
    if (!google::protobuf::util::MessageToJsonString(arrays, &json).ok()) {
      return absl::InvalidArgumentError("roles / regions: not valid UTF-8");
    }
    rc = jwt_add_grants_json(jwt.get(), json.c_str());
  }
  if (rc != 0) return absl::InvalidArgumentError("claims: not accepted by libjwt");
  if (jwt_set_alg(jwt.get(), alg, reinterpret_cast<const unsigned char*>(key.data()),
                  static_cast<int>(key.size())) != 0) {
    return absl::InvalidArgumentError("key: not accepted by libjwt");
  }
  MallocedString token(jwt_encode_str(jwt.get()));
  ERR_clear_error();
  if (token == nullptr) return absl::InvalidArgumentError("key: signing failed");
  return std::string(token.get());
}

}  // namespace

std::optional<Role> ParseRole(std::string_view name) {
  if (name == "emitter") return Role::kEmitter;
  if (name == "reader") return Role::kReader;
  if (name == "admin") return Role::kAdmin;
  return std::nullopt;
}

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kEmitter:
      return "emitter";
    case Role::kReader:
      return "reader";
    case Role::kAdmin:
      return "admin";
  }
  return "unknown";
}

bool Identity::Has(Role r) const {
  return (roles & (static_cast<uint8_t>(r) | static_cast<uint8_t>(Role::kAdmin))) != 0;
}

bool Identity::SeesRegion(std::string_view region) const {
  if (!regions.has_value()) return true;
  return std::binary_search(regions->begin(), regions->end(), region,
                            [](std::string_view a, std::string_view b) { return a < b; });
}

Identity Identity::Anonymous() {
  return Identity{.subject = "anonymous",
                  .roles = static_cast<uint8_t>(Role::kEmitter) |
                           static_cast<uint8_t>(Role::kReader) | static_cast<uint8_t>(Role::kAdmin),
                  .regions = std::nullopt};
}

absl::StatusOr<std::string> ReadSecretFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string secret, ReadWholeFile(path));
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.empty()) return absl::InvalidArgumentError(absl::StrCat(path, " is empty"));
  return secret;
}

// The configured key: the algorithm it verifies and the bytes libjwt takes.
struct TokenVerifier::Key {
  jwt_alg_t alg;
  std::string bytes;  // the HS256 secret, or the PEM public key
};

// Verified tokens, least recently used first out. Thread-safe.
class TokenVerifier::Cache {
 public:
  explicit Cache(size_t capacity) : capacity_(capacity) {}

  // The identity of `token` when cached and still within its times.
  std::optional<Identity> Lookup(absl::string_view token, absl::Time now, absl::Duration leeway) {
    absl::MutexLock lock(&mu_);
    auto it = index_.find(token);
    if (it == index_.end()) return std::nullopt;
    const Entry& entry = *it->second;
    if (!CheckTimes(now, leeway, entry.expires, entry.not_before).ok()) {
      lru_.erase(it->second);
      index_.erase(it);
      return std::nullopt;
    }
    lru_.splice(lru_.begin(), lru_, it->second);
    return entry.identity;
  }

  void Insert(absl::string_view token, const Identity& identity, absl::Time expires,
              absl::Time not_before) {
    absl::MutexLock lock(&mu_);
    if (auto it = index_.find(token); it != index_.end()) {
      lru_.erase(it->second);
      index_.erase(it);
    }
    while (!lru_.empty() && lru_.size() >= capacity_) {
      index_.erase(lru_.back().token);
      lru_.pop_back();
    }
    lru_.push_front(Entry{.token = std::string(token),
                          .identity = identity,
                          .expires = expires,
                          .not_before = not_before});
    index_.emplace(lru_.front().token, lru_.begin());
  }

  size_t size() const {
    absl::MutexLock lock(&mu_);
    return lru_.size();
  }

 private:
  struct Entry {
    std::string token;
    Identity identity;
    absl::Time expires;
    absl::Time not_before;
  };
  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::list<Entry> lru_ ABSL_GUARDED_BY(mu_);  // most recently used first
  // Views of the tokens in lru_ (list nodes do not move).
  absl::flat_hash_map<absl::string_view, std::list<Entry>::iterator> index_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<std::unique_ptr<TokenVerifier>> TokenVerifier::Create(const AuthOptions& options) {
  const bool has_secret = !options.hs256_secret_file.empty();
  const bool has_public_key = !options.public_key_file.empty();
  if (has_secret == has_public_key) {
    return absl::InvalidArgumentError(absl::StrCat(kSecretOption, ", ", kPublicKeyOption,
                                                   ": exactly one is required, got ",
                                                   has_secret ? "both" : "neither"));
  }
  if (options.leeway < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("auth.jwt_leeway: must not be negative");
  }
  auto key = std::make_unique<Key>();
  if (has_secret) {
    absl::StatusOr<std::string> secret = ReadSecretFile(options.hs256_secret_file);
    if (!secret.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(kSecretOption, ": ", secret.status().message()));
    }
    key->alg = JWT_ALG_HS256;
    key->bytes = *std::move(secret);
  } else {
    absl::StatusOr<std::string> pem = ReadWholeFile(options.public_key_file);
    if (!pem.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(kPublicKeyOption, ": ", pem.status().message()));
    }
    PkeyPtr public_key = ReadPem(*pem, /*private_key=*/false);
    if (public_key == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          kPublicKeyOption, ": ", options.public_key_file, " is not a PEM public key"));
    }
    switch (KindOf(public_key.get())) {
      case KeyKind::kRsa:
        key->alg = JWT_ALG_RS256;
        break;
      case KeyKind::kEcP256:
        key->alg = JWT_ALG_ES256;
        break;
      case KeyKind::kOther:
        return absl::InvalidArgumentError(
            absl::StrCat(kPublicKeyOption, ": ", options.public_key_file,
                         " is neither an RSA (>= 2048 bits) nor an EC P-256 public key"));
    }
    key->bytes = *std::move(pem);
  }
  if (key->bytes.size() > INT_MAX) {
    return absl::InvalidArgumentError(
        absl::StrCat(has_secret ? kSecretOption : kPublicKeyOption, ": too long"));
  }
  return std::unique_ptr<TokenVerifier>(new TokenVerifier(options, std::move(key)));
}

TokenVerifier::TokenVerifier(const AuthOptions& options, std::unique_ptr<Key> key)
    : options_(options),
      clock_(options.clock != nullptr ? options.clock : &base::SystemClock::Instance()),
      key_(std::move(key)),
      cache_(options.cache_entries > 0 ? std::make_unique<Cache>(options.cache_entries) : nullptr) {
}

TokenVerifier::~TokenVerifier() = default;

absl::StatusOr<Identity> TokenVerifier::Verify(std::string_view authorization) const {
  ASSIGN_OR_RETURN(const absl::string_view token,
                   BearerToken(absl::string_view(authorization.data(), authorization.size())));
  const absl::Time now = clock_->Now();
  if (cache_ != nullptr) {
    if (std::optional<Identity> cached = cache_->Lookup(token, now, options_.leeway)) {
      return *std::move(cached);
    }
  }

  // Shape, header and payload first, so that the reason is precise and no
  // algorithm but the configured one reaches libjwt's verification.
  if (token.size() > kMaxTokenBytes) return Unauthenticated("malformed token");
  const bool token_chars = std::all_of(token.begin(), token.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.';
  });
  const std::vector<absl::string_view> segments = absl::StrSplit(token, '.');
  if (!token_chars || segments.size() != 3) return Unauthenticated("malformed token");
  std::optional<Struct> header = DecodeSegment(segments[0]);
  if (!header.has_value() || !DecodeSegment(segments[1]).has_value()) {
    return Unauthenticated("malformed token");
  }
  const Value* alg = Field(*header, "alg");
  if (alg == nullptr || alg->kind_case() != Value::kStringValue) {
    return Unauthenticated("malformed token");
  }
  if (alg->string_value() != jwt_alg_str(key_->alg)) return AlgNotAccepted(alg->string_value());
  if (const Value* typ = Field(*header, "typ"); typ != nullptr) {
    // libjwt refuses any other typ; say so rather than "bad signature".
    if (typ->kind_case() != Value::kStringValue ||
        !absl::EqualsIgnoreCase(typ->string_value(), "JWT")) {
      return Unauthenticated("typ must be JWT");
    }
  }
  if (Field(*header, "crit") != nullptr) return Unauthenticated("crit header not supported");
  if (segments[2].empty()) return Unauthenticated("bad signature");

  // libjwt checks the signature with the key, for the header's algorithm
  // (checked above to be the key's: it would also verify an HS256 token
  // against a public key's PEM bytes used as an HMAC secret).
  jwt_t* raw = nullptr;
  const std::string nul_terminated(token);
  const int rc = jwt_decode(&raw, nul_terminated.c_str(),
                            reinterpret_cast<const unsigned char*>(key_->bytes.data()),
                            static_cast<int>(key_->bytes.size()));
  JwtPtr jwt(raw);
  ERR_clear_error();
  if (rc != 0 || jwt == nullptr) return Unauthenticated("bad signature");
  if (const jwt_alg_t decoded = jwt_get_alg(jwt.get()); decoded != key_->alg) {
    const char* name = jwt_alg_str(decoded);
    return AlgNotAccepted(name != nullptr ? name : "");
  }

  // The claims as libjwt verified them.
  MallocedString json(jwt_get_grants_json(jwt.get(), nullptr));
  Struct claims;
  if (json == nullptr || !google::protobuf::util::JsonStringToMessage(json.get(), &claims).ok()) {
    return Unauthenticated("malformed token");
  }
  ASSIGN_OR_RETURN(const absl::Time expires, TimeClaim(claims, "exp", /*required=*/true));
  ASSIGN_OR_RETURN(const absl::Time not_before, TimeClaim(claims, "nbf", /*required=*/false));
  RETURN_IF_ERROR(CheckTimes(now, options_.leeway, expires, not_before));
  if (!options_.issuer.empty()) {
    const Value* iss = Field(claims, "iss");
    if (iss == nullptr || iss->kind_case() != Value::kStringValue ||
        iss->string_value() != options_.issuer) {
      return Unauthenticated("wrong issuer");
    }
  }
  if (!options_.audience.empty() && !AudienceMatches(Field(claims, "aud"), options_.audience)) {
    return Unauthenticated("wrong audience");
  }
  ASSIGN_OR_RETURN(Identity identity, IdentityOf(claims));
  if (cache_ != nullptr) cache_->Insert(token, identity, expires, not_before);
  return identity;
}

size_t TokenVerifier::CachedTokens() const { return cache_ == nullptr ? 0 : cache_->size(); }

absl::StatusOr<std::string> MintHs256(std::string_view secret, const MintRequest& request) {
  if (secret.empty()) return absl::InvalidArgumentError("secret: required");
  return Mint(JWT_ALG_HS256, secret, request);
}

absl::StatusOr<std::string> MintWithPrivateKey(std::string_view private_key_pem,
                                               const MintRequest& request) {
  PkeyPtr key = ReadPem(private_key_pem, /*private_key=*/true);
  if (key == nullptr) {
    return absl::InvalidArgumentError("private key: not an unencrypted PEM private key");
  }
  switch (KindOf(key.get())) {
    case KeyKind::kRsa:
      return Mint(JWT_ALG_RS256, private_key_pem, request);
    case KeyKind::kEcP256:
      return Mint(JWT_ALG_ES256, private_key_pem, request);
    case KeyKind::kOther:
      break;
  }
  return absl::InvalidArgumentError(
      "private key: neither an RSA (>= 2048 bits) nor an EC P-256 key");
}

}  // namespace custops::rpc
