#include "custops/ctl/token.h"

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "custops/base/clock.h"
#include "custops/rpc/auth.h"
#include "custops/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace custops::ctl {
namespace {

using ::custops::testing::StatusIs;
using ::testing::StartsWith;

const absl::Time kNow = absl::FromUnixSeconds(1750000000);

std::string SecretFile() {
  const std::string path = absl::StrCat(::testing::TempDir(), "/token_test_secret");
  std::ofstream(path, std::ios::binary | std::ios::trunc) << "local-dev-secret\n";
  return path;
}

TEST(TokenTest, MintsWhatTheServerVerifies) {
  base::SimulatedClock clock(kNow);
  absl::StatusOr<std::unique_ptr<rpc::TokenVerifier>> verifier =
      rpc::TokenVerifier::Create({.hs256_secret_file = SecretFile(),
                                  .issuer = "custops-dev",
                                  .audience = "custops",
                                  .leeway = absl::ZeroDuration(),
                                  .clock = &clock});
  ASSERT_OK(verifier);

  absl::StatusOr<std::string> jwt =
      MintToken({.secret_file = SecretFile(),
                 .subject = "alice",
                 .roles = {"reader", "emitter"},
                 .regions = std::vector<std::string>{"华东", "华北", ""},
                 .ttl = "90m",
                 .issuer = "custops-dev",
                 .audience = "custops"},
                kNow + absl::Milliseconds(700));
  ASSERT_OK(jwt);
  absl::StatusOr<rpc::Identity> who = (*verifier)->Verify(absl::StrCat("Bearer ", *jwt));
  ASSERT_OK(who);
  EXPECT_EQ(who->subject, "alice");
  EXPECT_TRUE(who->Has(rpc::Role::kReader));
  EXPECT_TRUE(who->Has(rpc::Role::kEmitter));
  EXPECT_FALSE(who->Has(rpc::Role::kAdmin));
  EXPECT_EQ(who->regions, (std::vector<std::string>{"华东", "华北"}));

  // Expires ttl after now (whole seconds).
  clock.Advance(absl::Minutes(90) - absl::Seconds(1));
  EXPECT_OK((*verifier)->Verify(absl::StrCat("Bearer ", *jwt)));
  clock.Advance(absl::Seconds(1));
  EXPECT_THAT((*verifier)->Verify(absl::StrCat("Bearer ", *jwt)),
              StatusIs(absl::StatusCode::kUnauthenticated, "token expired"));
}

TEST(TokenTest, WithoutRegionsSeesEveryRegion) {
  base::SimulatedClock clock(kNow);
  absl::StatusOr<std::unique_ptr<rpc::TokenVerifier>> verifier =
      rpc::TokenVerifier::Create({.hs256_secret_file = SecretFile(), .clock = &clock});
  ASSERT_OK(verifier);
  absl::StatusOr<std::string> jwt =
      MintToken({.secret_file = SecretFile(), .subject = "ops", .roles = {"admin"}}, kNow);
  ASSERT_OK(jwt);
  absl::StatusOr<rpc::Identity> who = (*verifier)->Verify(absl::StrCat("Bearer ", *jwt));
  ASSERT_OK(who);
  EXPECT_EQ(who->regions, std::nullopt);
  EXPECT_TRUE(who->Has(rpc::Role::kAdmin));
  clock.Advance(absl::Hours(24));                                 // the default ttl
  EXPECT_OK((*verifier)->Verify(absl::StrCat("Bearer ", *jwt)));  // within the 30 s leeway
  clock.Advance(absl::Seconds(30));
  EXPECT_THAT((*verifier)->Verify(absl::StrCat("Bearer ", *jwt)),
              StatusIs(absl::StatusCode::kUnauthenticated, "token expired"));
}

TEST(TokenTest, BadArgumentsNameTheFlag) {
  const std::string secret = SecretFile();
  struct Case {
    TokenArgs args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{.secret_file = secret, .subject = "a", .roles = {"reader", "root"}},
       "--roles: unknown role 'root' (one of emitter, reader, admin)"},
      {{.secret_file = secret, .subject = "a", .roles = {"Reader"}}, "--roles: unknown role"},
      {{.secret_file = secret, .subject = ""}, "--sub: required"},
      {{.secret_file = secret, .subject = "a", .ttl = "1 day"}, "--ttl: "},
      {{.secret_file = secret, .subject = "a", .ttl = "-1h"}, "--ttl: "},
      {{.secret_file = secret, .subject = "a", .ttl = "0s"}, "--ttl: "},
      {{.secret_file = secret, .subject = "a", .ttl = "inf"}, "--ttl: "},
      {{.secret_file = "/nonexistent/secret", .subject = "a"}, "--secret-file: cannot read"},
      {{.secret_file = "", .subject = "a"}, "--secret-file: required"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(MintToken(c.args, kNow),
                StatusIs(absl::StatusCode::kInvalidArgument, StartsWith(c.message)));
  }
}

}  // namespace
}  // namespace custops::ctl
