#include "custops/app/config.h"

#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace custops::app {
namespace {

std::string WriteFile(const std::string& name, const std::string& text) {
  const std::string path =
      (std::filesystem::temp_directory_path() / (name + std::to_string(::getpid()))).string();
  std::ofstream(path) << text;
  return path;
}

TEST(ConfigTest, FileOverridesDefaultsAndKeepsTheRest) {
  const std::string path = WriteFile("cfg_ok", R"(
[server]
listen = "0.0.0.0:6000"
[storage]
partitions = 4
sync = false
[lifecycle]
lost_silence_days = 400
growth_permille = 1200
)");
  absl::StatusOr<Config> c = LoadConfigFile(path);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen, "0.0.0.0:6000");
  EXPECT_EQ(c->partitions, 4);
  EXPECT_FALSE(c->sync);
  EXPECT_EQ(c->lifecycle.lost_silence, absl::Hours(24 * 400));
  EXPECT_EQ(c->lifecycle.growth_permille, 1200);
  EXPECT_EQ(c->lifecycle.dormant_lead, absl::Hours(24 * 180));  // untouched default
  EXPECT_EQ(c->currency, "CNY");
  EXPECT_TRUE(Validate(*c).ok());
}

TEST(ConfigTest, KafkaModeAndRoles) {
  const std::string path = WriteFile("cfg_kafka", R"(
[storage]
log = "kafka"
[kafka]
bootstrap = "k1:9092,k2:9092"
session_timeout_ms = 10000
[kafka.properties]
"security.protocol" = "SASL_SSL"
"sasl.mechanism" = "SCRAM-SHA-512"
"linger.ms" = 5
"enable.ssl.certificate.verification" = true
[server]
roles = "lifecycle,admin"
advertise = "p-0.custops:50051"
)");
  absl::StatusOr<Config> c = LoadConfigFile(path);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->log, "kafka");
  EXPECT_EQ(c->kafka_bootstrap, "k1:9092,k2:9092");
  EXPECT_EQ(c->kafka_session_timeout_ms, 10000);
  EXPECT_EQ(c->advertise, "p-0.custops:50051");
  EXPECT_EQ(c->kafka_properties,
            (std::map<std::string, std::string>{{"enable.ssl.certificate.verification", "true"},
                                                {"linger.ms", "5"},
                                                {"sasl.mechanism", "SCRAM-SHA-512"},
                                                {"security.protocol", "SASL_SSL"}}));
  EXPECT_TRUE(Validate(*c).ok()) << Validate(*c);
  EXPECT_TRUE(HasRole(*c, "lifecycle"));
  EXPECT_TRUE(HasRole(*c, "admin"));
  EXPECT_FALSE(HasRole(*c, "ingest"));
  EXPECT_TRUE(HasRole(Config(), "commands"));  // "all"
  // The round trip through --print-config keeps the Kafka keys.
  const std::string again = WriteFile("cfg_kafka_again", ToToml(*c));
  absl::StatusOr<Config> reloaded = LoadConfigFile(again);
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_EQ(ToToml(*reloaded), ToToml(*c));
  EXPECT_EQ(reloaded->kafka_properties, c->kafka_properties);
  auto nested =
      LoadConfigFile(WriteFile("cfg_kafka_props", "[kafka.properties]\n\"linger.ms\" = [1, 2]\n"));
  EXPECT_NE(nested.status().message().find("kafka.properties.linger.ms: wrong type"),
            std::string::npos)
      << nested.status();

  Config bad = *c;
  bad.kafka_bootstrap = "";
  EXPECT_NE(Validate(bad).message().find("kafka.bootstrap"), std::string::npos);
  bad = *c;
  bad.roles = "lifecycle,projector";
  EXPECT_NE(Validate(bad).message().find("projector"), std::string::npos);
  bad = *c;
  bad.log = "embedded";  // one process: a subset is fine if something can write
  EXPECT_NE(Validate(bad).message().find("server.roles"), std::string::npos);
  bad.roles = "ingest,lifecycle,admin";
  EXPECT_TRUE(Validate(bad).ok()) << Validate(bad);
  bad = *c;
  bad.log = "zookeeper";
  EXPECT_NE(Validate(bad).message().find("storage.log"), std::string::npos);
}

TEST(ConfigTest, UnknownKeysAndWrongTypesNameTheKey) {
  auto unknown = LoadConfigFile(WriteFile("cfg_unknown", "[storage]\npartitons = 3\n"));
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("storage.partitons"), std::string::npos);
  auto wrong = LoadConfigFile(WriteFile("cfg_type", "[storage]\npartitions = \"twelve\"\n"));
  EXPECT_NE(wrong.status().message().find("storage.partitions: wrong type"), std::string::npos);
  auto syntax = LoadConfigFile(WriteFile("cfg_syntax", "[storage\n"));
  EXPECT_EQ(syntax.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadConfigFile("/nonexistent/custops.toml").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ConfigTest, ValidateRejectsOutOfRangeValues) {
  Config c;
  c.partitions = 0;
  EXPECT_NE(Validate(c).message().find("storage.partitions"), std::string::npos);
  c = Config();
  c.time_zone = "Mars/Olympus";
  EXPECT_NE(Validate(c).message().find("domain.time_zone"), std::string::npos);
  c = Config();
  c.fixed_clock = "yesterday";
  EXPECT_NE(Validate(c).message().find("domain.fixed_clock"), std::string::npos);
  c = Config();
  c.fixed_clock = "2026-11-23T08:00:00+08:00";
  EXPECT_TRUE(Validate(c).ok());
}

TEST(ConfigTest, PrintedConfigReadsBackToTheSameConfig) {
  Config c;
  c.listen = "127.0.0.1:7000";
  c.partitions = 6;
  c.demo = true;
  c.lifecycle.new_period = absl::Hours(24 * 90);
  c.lifecycle.man_budget_threshold_units = 5'000'000;
  c.commands.reject_overpayment = false;
  c.commands.opportunity_reopen_window = absl::ZeroDuration();
  const std::string printed = ToToml(c);
  absl::StatusOr<Config> back = LoadConfigFile(WriteFile("cfg_round", printed));
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << printed;
  EXPECT_EQ(ToToml(*back), printed);
  EXPECT_EQ(back->lifecycle.new_period, absl::Hours(24 * 90));
  EXPECT_FALSE(back->commands.reject_overpayment);
  EXPECT_EQ(back->commands.opportunity_reopen_window, absl::ZeroDuration());
}

TEST(ConfigTest, CommandRulesFromTheFile) {
  absl::StatusOr<Config> c = LoadConfigFile(WriteFile("cfg_cmd", R"(
[commands]
reject_overpayment = false
payment_terms_days = 45
)"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->commands.reject_overpayment);
  EXPECT_EQ(c->commands.default_payment_terms, absl::Hours(24 * 45));
  EXPECT_EQ(c->commands.opportunity_reopen_window, absl::Hours(24 * 90));  // default
  auto bad = LoadConfigFile(WriteFile("cfg_cmd_bad", "[commands]\npayment_terms_days = -1\n"));
  EXPECT_EQ(bad.status().message(), "commands.payment_terms_days: 0..36500");
}

TEST(ConfigTest, FindingThresholdsAndSeveritiesAreConfiguration) {
  absl::StatusOr<Config> c = LoadConfigFile(WriteFile("cfg_findings", R"(
[review]
finding_negative_assets_up_threshold = 2
finding_attainment_below_threshold = "9/10"
finding_churn_up_severity = "CRITICAL"
declining_days = 14
)"));
  ASSERT_TRUE(c.ok()) << c.status();
  std::map<std::string, domain::FindingRule> rules;
  for (const auto& r : c->review.findings.rules) rules.emplace(r.id, r);
  EXPECT_EQ(rules.at("negative_assets_up").threshold, domain::Ratio::Integer(2));
  EXPECT_EQ(rules.at("attainment_below").threshold, *domain::Ratio::Of(9, 10));
  EXPECT_EQ(rules.at("churn_up").severity, v1::SEVERITY_CRITICAL);
  EXPECT_EQ(rules.at("churn_up").threshold, *domain::Ratio::Of(1, 5));  // default kept
  EXPECT_EQ(c->review.declining_days, 14);
  EXPECT_TRUE(Validate(*c).ok());
  const std::string printed = ToToml(*c);
  EXPECT_NE(printed.find("finding_attainment_below_threshold = '9/10'"), std::string::npos)
      << printed;
  absl::StatusOr<Config> back = LoadConfigFile(WriteFile("cfg_findings_back", printed));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(ToToml(*back), printed);

  auto bad = LoadConfigFile(
      WriteFile("cfg_findings_bad", "[review]\nfinding_churn_up_threshold = \"1/0\"\n"));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "review.finding_churn_up_threshold"));
  auto severity = LoadConfigFile(
      WriteFile("cfg_findings_sev", "[review]\nfinding_churn_up_severity = \"URGENT\"\n"));
  EXPECT_EQ(severity.status().code(), absl::StatusCode::kInvalidArgument);
  auto unknown = LoadConfigFile(
      WriteFile("cfg_findings_unknown", "[review]\nfinding_no_such_rule_threshold = 1\n"));
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace custops::app

namespace custops::app {
namespace {

// The sample shipped for operators must load and stay equal to the defaults.
TEST(ConfigTest, PrintedConfigRedactsSecrets) {
  Config c;
  c.kafka_properties["sasl.password"] = "hunter2-sasl";
  c.kafka_properties["ssl.key.password"] = "hunter2-key";
  c.kafka_properties["sasl.oauthbearer.config"] = "secret=hunter2-oauth";
  c.kafka_properties["security.protocol"] = "SASL_SSL";
  c.jwt_hs256_secret_file = "/etc/custops/jwt.secret";
  const std::string printed = ToToml(c);
  for (const char* secret : {"hunter2-sasl", "hunter2-key", "hunter2-oauth"}) {
    EXPECT_FALSE(absl::StrContains(printed, secret)) << printed;
  }
  EXPECT_TRUE(absl::StrContains(printed, "'sasl.password' = '<redacted>'")) << printed;
  EXPECT_TRUE(absl::StrContains(printed, "security.protocol' = 'SASL_SSL'")) << printed;
  // Key files are named by path, never read into the configuration.
  EXPECT_TRUE(absl::StrContains(printed, "jwt_hs256_secret_file = '/etc/custops/jwt.secret'"))
      << printed;
}

TEST(ConfigTest, SecurityKeysAreValidated) {
  Config c;
  c.tls_cert_file = "cert.pem";
  EXPECT_EQ(Validate(c).code(), absl::StatusCode::kInvalidArgument);
  c.tls_key_file = "key.pem";
  EXPECT_TRUE(Validate(c).ok());
  c.jwt_hs256_secret_file = "s";
  c.jwt_public_key_file = "p";
  EXPECT_EQ(Validate(c).code(), absl::StatusCode::kInvalidArgument);
  Config d;
  d.tls_client_ca_file = "ca.pem";
  EXPECT_EQ(Validate(d).code(), absl::StatusCode::kInvalidArgument);
  Config e;
  e.max_request_bytes = e.max_message_bytes + 1;
  EXPECT_EQ(Validate(e).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ConfigTest, ShippedSampleIsTheDefaultConfiguration) {
  absl::StatusOr<Config> sample = LoadConfigFile(CUSTOPS_SOURCE_DIR "/deploy/custops.toml");
  ASSERT_TRUE(sample.ok()) << sample.status();
  EXPECT_EQ(ToToml(*sample), ToToml(Config()));
}

}  // namespace
}  // namespace custops::app
