#include "custops/rpc/auth.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "custops/base/clock.h"
#include "custops/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace custops::rpc {
namespace {

using ::custops::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr absl::StatusCode kUnauthenticated = absl::StatusCode::kUnauthenticated;

constexpr char kSecret[] = "0123456789abcdef0123456789abcdef";
constexpr char kIssuer[] = "custops-test";
constexpr char kAudience[] = "custops";
const absl::Time kNow = absl::FromUnixSeconds(1700000000);

int64_t At(absl::Duration from_now) { return absl::ToUnixSeconds(kNow + from_now); }

std::string B64(absl::string_view bytes) {
  std::string out;
  absl::WebSafeBase64Escape(bytes, &out);  // unpadded
  return out;
}

std::string HmacSha256(absl::string_view key, absl::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &length);
  return std::string(reinterpret_cast<const char*>(mac), length);
}

// A token made by hand: base64url(header).base64url(payload).HMAC-SHA256
// with `secret`.
std::string HandToken(absl::string_view header, absl::string_view payload,
                      absl::string_view secret = kSecret) {
  const std::string signing_input = absl::StrCat(B64(header), ".", B64(payload));
  return absl::StrCat(signing_input, ".", B64(HmacSha256(secret, signing_input)));
}

constexpr char kHs256Header[] = R"({"alg":"HS256","typ":"JWT"})";

// Claims with the standard ones valid at kNow, then `extra` (JSON members).
std::string Claims(absl::string_view extra = R"("roles":["reader"])") {
  return absl::StrCat(R"({"sub":"alice","iss":")", kIssuer, R"(","aud":")", kAudience,
                      R"(","exp":)", At(absl::Hours(1)), extra.empty() ? "" : ",", extra, "}");
}

std::string Bearer(absl::string_view token) { return absl::StrCat("Bearer ", token); }

std::string WriteTemp(const std::string& name, absl::string_view contents) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/auth_test_", name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  return path;
}

struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

std::string PemOf(EVP_PKEY* key, bool private_key) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (private_key) {
    PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  } else {
    PEM_write_bio_PUBKEY(bio, key);
  }
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(length));
  BIO_free(bio);
  return pem;
}

// Key pairs made once (RSA generation is slow).
struct Keys {
  Pkey rsa{EVP_RSA_gen(2048)};
  Pkey rsa_other{EVP_RSA_gen(2048)};
  Pkey ec{EVP_EC_gen("P-256")};
  static const Keys& Get() {
    static const Keys* keys = new Keys();
    return *keys;
  }
};

class AuthTest : public ::testing::Test {
 protected:
  base::SimulatedClock clock_{kNow};

  std::unique_ptr<TokenVerifier> Hs256Verifier(size_t cache_entries = 10000) {
    absl::StatusOr<std::unique_ptr<TokenVerifier>> v = TokenVerifier::Create(
        {.hs256_secret_file = WriteTemp("secret", absl::StrCat(kSecret, "\n")),
         .issuer = kIssuer,
         .audience = kAudience,
         .cache_entries = cache_entries,
         .clock = &clock_});
    EXPECT_OK(v);
    return *std::move(v);
  }

  std::unique_ptr<TokenVerifier> PublicKeyVerifier(EVP_PKEY* key, const std::string& name) {
    absl::StatusOr<std::unique_ptr<TokenVerifier>> v = TokenVerifier::Create(
        {.public_key_file = WriteTemp(name, PemOf(key, false)), .clock = &clock_});
    EXPECT_OK(v);
    return *std::move(v);
  }

  MintRequest Request() const {
    return MintRequest{.subject = "svc-crm",
                       .roles = {"emitter", "reader"},
                       .regions = std::vector<std::string>{"华北", "华东"},
                       .expires = kNow + absl::Hours(1),
                       .issued_at = kNow};
  }
};

TEST(RoleTest, ParsesTheThreeNames) {
  EXPECT_EQ(ParseRole("emitter"), Role::kEmitter);
  EXPECT_EQ(ParseRole("reader"), Role::kReader);
  EXPECT_EQ(ParseRole("admin"), Role::kAdmin);
  EXPECT_EQ(ParseRole("Admin"), std::nullopt);
  EXPECT_EQ(ParseRole(""), std::nullopt);
  EXPECT_EQ(ParseRole("root"), std::nullopt);
  EXPECT_EQ(RoleName(Role::kReader), "reader");
}

TEST(IdentityTest, AdminImpliesEveryRoleAndRegionsAreSorted) {
  Identity admin{.subject = "a", .roles = static_cast<uint8_t>(Role::kAdmin)};
  EXPECT_TRUE(admin.Has(Role::kEmitter));
  EXPECT_TRUE(admin.Has(Role::kReader));
  Identity reader{.subject = "r",
                  .roles = static_cast<uint8_t>(Role::kReader),
                  .regions = std::vector<std::string>{"华东", "西南"}};
  EXPECT_TRUE(reader.Has(Role::kReader));
  EXPECT_FALSE(reader.Has(Role::kEmitter));
  EXPECT_FALSE(reader.Has(Role::kAdmin));
  EXPECT_TRUE(reader.SeesRegion("华东"));
  EXPECT_TRUE(reader.SeesRegion("西南"));
  EXPECT_FALSE(reader.SeesRegion("华北"));

  const Identity anonymous = Identity::Anonymous();
  EXPECT_EQ(anonymous.subject, "anonymous");
  EXPECT_TRUE(anonymous.Has(Role::kEmitter) && anonymous.Has(Role::kReader) &&
              anonymous.Has(Role::kAdmin));
  EXPECT_EQ(anonymous.regions, std::nullopt);
  EXPECT_TRUE(anonymous.SeesRegion("任何"));
}

TEST_F(AuthTest, Hs256TokenGivesTheIdentity) {
  std::unique_ptr<TokenVerifier> verifier = Hs256Verifier();
  const std::string token = HandToken(
      kHs256Header, Claims(R"("roles":["reader","emitter"],"regions":["华东","华北","华东"])"));
  for (const std::string& header :
       {Bearer(token), absl::StrCat("bearer ", token), absl::StrCat("  BEARER   ", token, " ")}) {
    absl::StatusOr<Identity> who = verifier->Verify(header);
    ASSERT_OK(who);
    EXPECT_EQ(who->subject, "alice");
    EXPECT_TRUE(who->Has(Role::kReader));
    EXPECT_TRUE(who->Has(Role::kEmitter));
    EXPECT_FALSE(who->Has(Role::kAdmin));
    ASSERT_TRUE(who->regions.has_value());
    // Sorted (by UTF-8 bytes: 东 U+4E1C < 北 U+5317), unique.
    EXPECT_EQ(*who->regions, (std::vector<std::string>{"华东", "华北"}));
    EXPECT_TRUE(who->SeesRegion("华东"));
    EXPECT_FALSE(who->SeesRegion("华南"));
  }
}

TEST_F(AuthTest, NoRolesAndNoRegions) {
  std::unique_ptr<TokenVerifier> verifier = Hs256Verifier();
  absl::StatusOr<Identity> who = verifier->Verify(Bearer(HandToken(kHs256Header, Claims(""))));
  ASSERT_OK(who);
  EXPECT_EQ(who->roles, 0);
  EXPECT_EQ(who->regions, std::nullopt);
  EXPECT_TRUE(who->SeesRegion("华东"));

  who = verifier->Verify(Bearer(HandToken(kHs256Header, Claims(R"("roles":[],"regions":[])"))));
  ASSERT_OK(who);
  EXPECT_EQ(who->roles, 0);
  EXPECT_EQ(who->regions, std::vector<std::string>{});
  EXPECT_FALSE(who->SeesRegion("华东"));
}

struct Case {
  std::string name;
  std::string authorization;
  absl::StatusCode code;
  std::string message;  // exact; "" for OK
};

TEST_F(AuthTest, Hs256Table) {
  const std::string good = HandToken(kHs256Header, Claims());
  const std::string signing_input = good.substr(0, good.rfind('.'));
  const std::string payload_segment = B64(Claims());
  auto claims_with = [](absl::string_view exp_and_more) {
    return absl::StrCat(R"({"sub":"alice","iss":")", kIssuer, R"(","aud":")", kAudience, R"(",)",
                        exp_and_more, "}");
  };
  const std::string exp = absl::StrCat(R"("exp":)", At(absl::Hours(1)));
  const absl::StatusCode kUnauth = absl::StatusCode::kUnauthenticated;
  const absl::StatusCode kOk = absl::StatusCode::kOk;
  const std::vector<Case> cases = {
      {"good", Bearer(good), kOk, ""},
      {"empty header", "", kUnauth, "missing bearer token"},
      {"blank header", "   ", kUnauth, "missing bearer token"},
      {"basic scheme", "Basic dXNlcjpwYXNzd29yZA==", kUnauth, "missing bearer token"},
      {"token without scheme", good, kUnauth, "missing bearer token"},
      {"scheme without token", "Bearer ", kUnauth, "missing bearer token"},
      {"garbage", "Bearer garbage", kUnauth, "malformed token"},
      {"two segments", Bearer(signing_input), kUnauth, "malformed token"},
      {"four segments", Bearer(absl::StrCat(good, ".x")), kUnauth, "malformed token"},
      {"bad base64 header", Bearer(absl::StrCat("!!!.", payload_segment, ".sig")), kUnauth,
       "malformed token"},
      {"bad base64 payload", Bearer(absl::StrCat(B64(kHs256Header), ".A.sig")), kUnauth,
       "malformed token"},
      {"bad base64 characters", Bearer(absl::StrCat(signing_input, ".a+b/c=")), kUnauth,
       "malformed token"},
      {"payload not json", Bearer(HandToken(kHs256Header, "not json")), kUnauth, "malformed token"},
      {"payload not an object", Bearer(HandToken(kHs256Header, "[1,2]")), kUnauth,
       "malformed token"},
      {"header without alg", Bearer(HandToken(R"({"typ":"JWT"})", Claims())), kUnauth,
       "malformed token"},
      {"too long", Bearer(std::string(20000, 'a')), kUnauth, "malformed token"},
      {"wrong secret", Bearer(HandToken(kHs256Header, Claims(), "another secret")), kUnauth,
       "bad signature"},
      {"tampered payload",
       Bearer(absl::StrCat(B64(kHs256Header), ".", B64(Claims(R"("roles":["admin"])")),
                           good.substr(good.rfind('.')))),
       kUnauth, "bad signature"},
      {"empty signature", Bearer(absl::StrCat(signing_input, ".")), kUnauth, "bad signature"},
      {"alg none", Bearer(absl::StrCat(B64(R"({"alg":"none"})"), ".", payload_segment, ".")),
       kUnauth, "alg none not accepted"},
      {"alg none signed anyway", Bearer(HandToken(R"({"alg":"none"})", Claims())), kUnauth,
       "alg none not accepted"},
      {"alg HS512", Bearer(HandToken(R"({"alg":"HS512"})", Claims())), kUnauth,
       "alg HS512 not accepted"},
      {"alg lower case", Bearer(HandToken(R"({"alg":"hs256"})", Claims())), kUnauth,
       "alg hs256 not accepted"},
      {"alg junk", Bearer(HandToken(R"({"alg":"<script>"})", Claims())), kUnauth,
       "alg (invalid) not accepted"},
      {"typ other", Bearer(HandToken(R"({"alg":"HS256","typ":"at+jwt"})", Claims())), kUnauth,
       "typ must be JWT"},
      {"crit", Bearer(HandToken(R"({"alg":"HS256","crit":["b64"]})", Claims())), kUnauth,
       "crit header not supported"},
      {"no typ", Bearer(HandToken(R"({"alg":"HS256"})", Claims())), kOk, ""},
      {"expired",
       Bearer(
           HandToken(kHs256Header, claims_with(absl::StrCat(R"("exp":)", At(-absl::Seconds(31)))))),
       kUnauth, "token expired"},
      {"expired within leeway",
       Bearer(
           HandToken(kHs256Header, claims_with(absl::StrCat(R"("exp":)", At(-absl::Seconds(29)))))),
       kOk, ""},
      {"expires exactly at leeway",
       Bearer(
           HandToken(kHs256Header, claims_with(absl::StrCat(R"("exp":)", At(-absl::Seconds(30)))))),
       kUnauth, "token expired"},
      {"no exp", Bearer(HandToken(kHs256Header, claims_with(R"("roles":["reader"])"))), kUnauth,
       "exp required"},
      {"exp a string",
       Bearer(HandToken(kHs256Header,
                        claims_with(absl::StrCat(R"("exp":")", At(absl::Hours(1)), R"(")")))),
       kUnauth, "exp: must be a number"},
      {"fractional exp",
       Bearer(HandToken(kHs256Header,
                        claims_with(absl::StrCat(R"("exp":)", At(absl::Hours(1)), ".5")))),
       kOk, ""},
      {"not yet valid",
       Bearer(HandToken(kHs256Header,
                        claims_with(absl::StrCat(exp, R"(,"nbf":)", At(absl::Seconds(31)))))),
       kUnauth, "token not yet valid"},
      {"nbf within leeway",
       Bearer(HandToken(kHs256Header,
                        claims_with(absl::StrCat(exp, R"(,"nbf":)", At(absl::Seconds(29)))))),
       kOk, ""},
      {"nbf a string",
       Bearer(HandToken(kHs256Header, claims_with(absl::StrCat(exp, R"(,"nbf":"0")")))), kUnauth,
       "nbf: must be a number"},
      {"wrong issuer",
       Bearer(HandToken(kHs256Header, absl::StrCat(R"({"sub":"alice","iss":"evil","aud":")",
                                                   kAudience, R"(",)", exp, "}"))),
       kUnauth, "wrong issuer"},
      {"no issuer",
       Bearer(HandToken(kHs256Header,
                        absl::StrCat(R"({"sub":"alice","aud":")", kAudience, R"(",)", exp, "}"))),
       kUnauth, "wrong issuer"},
      {"wrong audience string",
       Bearer(HandToken(kHs256Header, absl::StrCat(R"({"sub":"alice","iss":")", kIssuer,
                                                   R"(","aud":"other",)", exp, "}"))),
       kUnauth, "wrong audience"},
      {"wrong audience array",
       Bearer(HandToken(kHs256Header, absl::StrCat(R"({"sub":"alice","iss":")", kIssuer,
                                                   R"(","aud":["a","b"],)", exp, "}"))),
       kUnauth, "wrong audience"},
      {"no audience",
       Bearer(HandToken(kHs256Header,
                        absl::StrCat(R"({"sub":"alice","iss":")", kIssuer, R"(",)", exp, "}"))),
       kUnauth, "wrong audience"},
      {"audience in array",
       Bearer(HandToken(kHs256Header,
                        absl::StrCat(R"({"sub":"alice","iss":")", kIssuer, R"(","aud":["other",")",
                                     kAudience, R"("],)", exp, "}"))),
       kOk, ""},
      {"no sub",
       Bearer(HandToken(kHs256Header, absl::StrCat(R"({"iss":")", kIssuer, R"(","aud":")",
                                                   kAudience, R"(",)", exp, "}"))),
       kUnauth, "sub required"},
      {"roles a string", Bearer(HandToken(kHs256Header, Claims(R"("roles":"admin")"))), kUnauth,
       "roles: must be an array of emitter/reader/admin"},
      {"unknown role", Bearer(HandToken(kHs256Header, Claims(R"("roles":["reader","root"])"))),
       kUnauth, "roles: must be an array of emitter/reader/admin"},
      {"role a number", Bearer(HandToken(kHs256Header, Claims(R"("roles":[1])"))), kUnauth,
       "roles: must be an array of emitter/reader/admin"},
      {"regions a string", Bearer(HandToken(kHs256Header, Claims(R"("regions":"华东")"))), kUnauth,
       "regions: must be an array of strings"},
      {"region a number", Bearer(HandToken(kHs256Header, Claims(R"("regions":["华东",7])"))),
       kUnauth, "regions: must be an array of strings"},
  };
  for (const Case& c : cases) {
    // A fresh verifier per case: no case is answered from another's cache.
    std::unique_ptr<TokenVerifier> verifier = Hs256Verifier();
    absl::StatusOr<Identity> who = verifier->Verify(c.authorization);
    if (c.code == kOk) {
      EXPECT_OK(who) << c.name;
    } else {
      EXPECT_THAT(who, StatusIs(c.code, c.message)) << c.name;
      EXPECT_THAT(std::string(who.status().message()), Not(HasSubstr(payload_segment))) << c.name;
    }
  }
}

TEST_F(AuthTest, MintHs256RoundTrips) {
  std::unique_ptr<TokenVerifier> verifier = Hs256Verifier();
  MintRequest request = Request();
  request.issuer = kIssuer;
  request.audience = kAudience;
  request.not_before = kNow - absl::Minutes(1);
  absl::StatusOr<std::string> token = MintHs256(kSecret, request);
  ASSERT_OK(token);
  absl::StatusOr<Identity> who = verifier->Verify(Bearer(*token));
  ASSERT_OK(who);
  EXPECT_EQ(who->subject, "svc-crm");
  EXPECT_EQ(who->roles, static_cast<uint8_t>(Role::kEmitter) | static_cast<uint8_t>(Role::kReader));
  EXPECT_EQ(who->regions, (std::vector<std::string>{"华东", "华北"}));

  // Without iss / aud the configured checks refuse it.
  absl::StatusOr<std::string> plain = MintHs256(kSecret, Request());
  ASSERT_OK(plain);
  EXPECT_THAT(verifier->Verify(Bearer(*plain)), StatusIs(kUnauthenticated, "wrong issuer"));
}

TEST_F(AuthTest, MintRefusesBadRequests) {
  MintRequest unknown_role = Request();
  unknown_role.roles = {"reader", "superuser"};
  constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;
  EXPECT_THAT(MintHs256(kSecret, unknown_role),
              StatusIs(kInvalid, StartsWith("roles: unknown role 'superuser'")));

  MintRequest no_subject = Request();
  no_subject.subject.clear();
  EXPECT_THAT(MintHs256(kSecret, no_subject), StatusIs(kInvalid, "subject: required"));

  MintRequest no_expiry = Request();
  no_expiry.expires = absl::InfinitePast();
  EXPECT_THAT(MintHs256(kSecret, no_expiry), StatusIs(kInvalid, "expires: required"));

  EXPECT_THAT(MintHs256("", Request()), StatusIs(kInvalid, "secret: required"));
  EXPECT_THAT(MintWithPrivateKey("not a key", Request()),
              StatusIs(kInvalid, "private key: not an unencrypted PEM private key"));
  // A public key is not a private key.
  EXPECT_THAT(MintWithPrivateKey(PemOf(Keys::Get().rsa.get(), false), Request()),
              StatusIs(kInvalid, "private key: not an unencrypted PEM private key"));
}

TEST_F(AuthTest, Rs256AndEs256) {
  const Keys& keys = Keys::Get();
  std::unique_ptr<TokenVerifier> rs256 = PublicKeyVerifier(keys.rsa.get(), "rsa.pem");
  std::unique_ptr<TokenVerifier> es256 = PublicKeyVerifier(keys.ec.get(), "ec.pem");

  absl::StatusOr<std::string> rs_token = MintWithPrivateKey(PemOf(keys.rsa.get(), true), Request());
  ASSERT_OK(rs_token);
  EXPECT_THAT(*rs_token, StartsWith(B64(R"({"alg":"RS256","typ":"JWT"})")));
  absl::StatusOr<std::string> es_token = MintWithPrivateKey(PemOf(keys.ec.get(), true), Request());
  ASSERT_OK(es_token);
  EXPECT_THAT(*es_token, StartsWith(B64(R"({"alg":"ES256","typ":"JWT"})")));

  const std::vector<std::pair<TokenVerifier*, std::string>> good = {{rs256.get(), *rs_token},
                                                                    {es256.get(), *es_token}};
  for (const auto& [verifier, token] : good) {
    absl::StatusOr<Identity> who = verifier->Verify(Bearer(token));
    ASSERT_OK(who);
    EXPECT_EQ(who->subject, "svc-crm");
    EXPECT_TRUE(who->Has(Role::kEmitter));
    EXPECT_TRUE(who->SeesRegion("华北"));
    EXPECT_FALSE(who->SeesRegion("东北"));
  }

  // Each verifier takes only its key's algorithm.
  EXPECT_THAT(es256->Verify(Bearer(*rs_token)),
              StatusIs(kUnauthenticated, "alg RS256 not accepted"));
  EXPECT_THAT(rs256->Verify(Bearer(*es_token)),
              StatusIs(kUnauthenticated, "alg ES256 not accepted"));

  // Signed by another RSA key.
  absl::StatusOr<std::string> forged =
      MintWithPrivateKey(PemOf(keys.rsa_other.get(), true), Request());
  ASSERT_OK(forged);
  EXPECT_THAT(rs256->Verify(Bearer(*forged)), StatusIs(kUnauthenticated, "bad signature"));

  // An HS256 verifier refuses both.
  std::unique_ptr<TokenVerifier> hs256 = Hs256Verifier();
  EXPECT_THAT(hs256->Verify(Bearer(*rs_token)),
              StatusIs(kUnauthenticated, "alg RS256 not accepted"));
}

// The classic confusion: the public key's PEM bytes are public, so an
// attacker can HMAC a token with them. libjwt 1.10 would verify that token
// against the PEM "key" as an HS256 secret; the verifier must refuse it.
TEST_F(AuthTest, Hs256SignedWithThePublicKeyIsRefused) {
  const Keys& keys = Keys::Get();
  const std::string public_pem = PemOf(keys.rsa.get(), false);
  std::unique_ptr<TokenVerifier> rs256 = PublicKeyVerifier(keys.rsa.get(), "rsa-confusion.pem");
  for (const char* header : {R"({"alg":"HS256","typ":"JWT"})", R"({"alg":"HS256"})"}) {
    const std::string forged = HandToken(
        header,
        absl::StrCat(R"({"sub":"mallory","roles":["admin"],"exp":)", At(absl::Hours(1)), "}"),
        public_pem);
    EXPECT_THAT(rs256->Verify(Bearer(forged)),
                StatusIs(kUnauthenticated, "alg HS256 not accepted"));
  }
  // And alg none with an RSA verifier.
  const std::string none =
      absl::StrCat(B64(R"({"alg":"none","typ":"JWT"})"), ".",
                   B64(absl::StrCat(R"({"sub":"mallory","exp":)", At(absl::Hours(1)), "}")), ".");
  EXPECT_THAT(rs256->Verify(Bearer(none)), StatusIs(kUnauthenticated, "alg none not accepted"));
}

TEST_F(AuthTest, CacheAnswersUntilTheTokenExpires) {
  std::unique_ptr<TokenVerifier> verifier = Hs256Verifier();
  const std::string token = HandToken(
      kHs256Header,
      absl::StrCat(R"({"sub":"alice","iss":")", kIssuer, R"(","aud":")", kAudience,
                   R"(","roles":["admin"],"regions":["华东"],"exp":)", At(absl::Minutes(5)), "}"));
  absl::StatusOr<Identity> first = verifier->Verify(Bearer(token));
  ASSERT_OK(first);
  EXPECT_EQ(verifier->CachedTokens(), 1u);
  clock_.Advance(absl::Minutes(5));  // past exp, within the leeway
  absl::StatusOr<Identity> second = verifier->Verify(absl::StrCat("bearer ", token));
  ASSERT_OK(second);
  EXPECT_EQ(*second, *first);
  EXPECT_EQ(verifier->CachedTokens(), 1u);

  clock_.Advance(absl::Seconds(30));  // exp + leeway
  EXPECT_THAT(verifier->Verify(Bearer(token)), StatusIs(kUnauthenticated, "token expired"));
  EXPECT_EQ(verifier->CachedTokens(), 0u);

  // Failures are not cached.
  EXPECT_THAT(verifier->Verify(Bearer(token)), StatusIs(kUnauthenticated, "token expired"));
  EXPECT_EQ(verifier->CachedTokens(), 0u);
}

TEST_F(AuthTest, CacheIsBounded) {
  std::unique_ptr<TokenVerifier> verifier = Hs256Verifier(/*cache_entries=*/2);
  std::vector<std::string> tokens;
  for (int i = 0; i < 5; ++i) {
    tokens.push_back(HandToken(kHs256Header, Claims(absl::StrCat(R"("jti":")", i, R"(")"))));
    ASSERT_OK(verifier->Verify(Bearer(tokens.back())));
    EXPECT_LE(verifier->CachedTokens(), 2u);
  }
  EXPECT_EQ(verifier->CachedTokens(), 2u);
  // Evicted tokens are verified again, and still good.
  for (const std::string& token : tokens) EXPECT_OK(verifier->Verify(Bearer(token)));

  std::unique_ptr<TokenVerifier> uncached = Hs256Verifier(/*cache_entries=*/0);
  EXPECT_OK(uncached->Verify(Bearer(tokens[0])));
  EXPECT_EQ(uncached->CachedTokens(), 0u);
}

TEST_F(AuthTest, ConcurrentVerification) {
  std::unique_ptr<TokenVerifier> verifier = Hs256Verifier(/*cache_entries=*/3);
  std::vector<std::string> tokens;
  for (int i = 0; i < 6; ++i) {
    tokens.push_back(HandToken(kHs256Header, Claims(absl::StrCat(R"("jti":")", i, R"(")"))));
  }
  tokens.push_back(HandToken(kHs256Header, Claims(), "wrong"));
  std::atomic<int> ok{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        absl::StatusOr<Identity> who = verifier->Verify(Bearer(tokens[(i + t) % tokens.size()]));
        (who.ok() ? ok : refused)++;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  int want_refused = 0;
  for (int t = 0; t < 4; ++t) {
    for (int i = 0; i < 200; ++i) want_refused += (i + t) % tokens.size() == tokens.size() - 1;
  }
  EXPECT_EQ(ok + refused, 800);
  EXPECT_EQ(refused, want_refused);
}

TEST_F(AuthTest, SecretFileTrailingNewlineIsStripped) {
  const std::string path = WriteTemp("secret-crlf", "s3cret\r\n");
  absl::StatusOr<std::string> secret = ReadSecretFile(path);
  ASSERT_OK(secret);
  EXPECT_EQ(*secret, "s3cret");
  absl::StatusOr<std::unique_ptr<TokenVerifier>> verifier =
      TokenVerifier::Create({.hs256_secret_file = path, .clock = &clock_});
  ASSERT_OK(verifier);
  absl::StatusOr<std::string> token = MintHs256("s3cret", Request());
  ASSERT_OK(token);
  EXPECT_OK((*verifier)->Verify(Bearer(*token)));
}

TEST_F(AuthTest, CreateRefusesUnusableOptions) {
  Pkey p384(EVP_EC_gen("P-384"));
  Pkey rsa1024(EVP_RSA_gen(1024));
  Pkey ed25519(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  ASSERT_NE(p384, nullptr);
  ASSERT_NE(rsa1024, nullptr);
  ASSERT_NE(ed25519, nullptr);
  const std::string secret_file = WriteTemp("good-secret", kSecret);
  const std::string public_file = WriteTemp("good-public", PemOf(Keys::Get().ec.get(), false));
  struct Bad {
    std::string name;
    AuthOptions options;
    std::string prefix;  // of the message
  };
  const std::vector<Bad> cases = {
      {"neither", {}, "auth.jwt_hs256_secret_file, auth.jwt_public_key_file: exactly one"},
      {"both",
       {.hs256_secret_file = secret_file, .public_key_file = public_file},
       "auth.jwt_hs256_secret_file, auth.jwt_public_key_file: exactly one"},
      {"missing secret file",
       {.hs256_secret_file = "/nonexistent/secret"},
       "auth.jwt_hs256_secret_file: cannot read /nonexistent/secret"},
      {"empty secret file",
       {.hs256_secret_file = WriteTemp("empty-secret", "\n")},
       "auth.jwt_hs256_secret_file: "},
      {"missing public key file",
       {.public_key_file = "/nonexistent/key.pem"},
       "auth.jwt_public_key_file: cannot read"},
      {"not pem", {.public_key_file = WriteTemp("not-pem", "hello")}, "auth.jwt_public_key_file: "},
      {"private key given as public",
       {.public_key_file = WriteTemp("private-as-public", PemOf(Keys::Get().ec.get(), true))},
       "auth.jwt_public_key_file: "},
      {"P-384",
       {.public_key_file = WriteTemp("p384", PemOf(p384.get(), false))},
       "auth.jwt_public_key_file: "},
      {"RSA 1024",
       {.public_key_file = WriteTemp("rsa1024", PemOf(rsa1024.get(), false))},
       "auth.jwt_public_key_file: "},
      {"Ed25519",
       {.public_key_file = WriteTemp("ed25519", PemOf(ed25519.get(), false))},
       "auth.jwt_public_key_file: "},
      {"negative leeway",
       {.hs256_secret_file = secret_file, .leeway = -absl::Seconds(1)},
       "auth.jwt_leeway: "},
  };
  for (const Bad& c : cases) {
    absl::StatusOr<std::unique_ptr<TokenVerifier>> v = TokenVerifier::Create(c.options);
    EXPECT_THAT(v, StatusIs(absl::StatusCode::kInvalidArgument, StartsWith(c.prefix))) << c.name;
  }
  EXPECT_OK(TokenVerifier::Create({.hs256_secret_file = secret_file}));
  EXPECT_OK(TokenVerifier::Create({.public_key_file = public_file}));
}

}  // namespace
}  // namespace custops::rpc
