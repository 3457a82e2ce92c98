#include "custops/app/config.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "custops/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace custops::app {
namespace {

using ::custops::testing::StatusIs;
using ::testing::StartsWith;

constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;

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
  ASSERT_OK(c);
  EXPECT_EQ(c->listen, "0.0.0.0:6000");
  EXPECT_EQ(c->partitions, 4);
  EXPECT_FALSE(c->sync);
  EXPECT_EQ(c->lifecycle.lost_silence, absl::Hours(24 * 400));
  EXPECT_EQ(c->lifecycle.growth_permille, 1200);
  EXPECT_EQ(c->lifecycle.dormant_lead, absl::Hours(24 * 180));  // untouched default
  EXPECT_EQ(c->currency, "CNY");
  EXPECT_OK(Validate(*c));
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
  ASSERT_OK(c);
  EXPECT_EQ(c->log, "kafka");
  EXPECT_EQ(c->kafka_bootstrap, "k1:9092,k2:9092");
  EXPECT_EQ(c->kafka_session_timeout_ms, 10000);
  EXPECT_EQ(c->advertise, "p-0.custops:50051");
  EXPECT_EQ(c->kafka_properties,
            (std::map<std::string, std::string>{{"enable.ssl.certificate.verification", "true"},
                                                {"linger.ms", "5"},
                                                {"sasl.mechanism", "SCRAM-SHA-512"},
                                                {"security.protocol", "SASL_SSL"}}));
  EXPECT_OK(Validate(*c));
  EXPECT_TRUE(HasRole(*c, "lifecycle"));
  EXPECT_TRUE(HasRole(*c, "admin"));
  EXPECT_FALSE(HasRole(*c, "ingest"));
  EXPECT_TRUE(HasRole(Config(), "commands"));  // "all"
  // The round trip through --print-config keeps the Kafka keys.
  const std::string again = WriteFile("cfg_kafka_again", ToToml(*c));
  absl::StatusOr<Config> reloaded = LoadConfigFile(again);
  ASSERT_OK(reloaded);
  EXPECT_EQ(ToToml(*reloaded), ToToml(*c));
  EXPECT_EQ(reloaded->kafka_properties, c->kafka_properties);
  auto nested =
      LoadConfigFile(WriteFile("cfg_kafka_props", "[kafka.properties]\n\"linger.ms\" = [1, 2]\n"));
  EXPECT_THAT(nested, StatusIs(kInvalid, StartsWith("kafka.properties.linger.ms: wrong type")));

  Config bad = *c;
  bad.kafka_bootstrap = "";
  EXPECT_THAT(Validate(bad),
              StatusIs(kInvalid, "kafka.bootstrap: required with storage.log = \"kafka\""));
  bad = *c;
  bad.roles = "lifecycle,projector";
  EXPECT_THAT(Validate(bad),
              StatusIs(kInvalid, StartsWith("server.roles: unknown role \"projector\"")));
  bad = *c;
  bad.log = "embedded";  // one process: a subset is fine if something can write
  EXPECT_THAT(Validate(bad),
              StatusIs(kInvalid, StartsWith("server.roles: on the embedded log include ingest")));
  bad.roles = "ingest,lifecycle,admin";
  EXPECT_OK(Validate(bad));
  bad = *c;
  bad.log = "zookeeper";
  EXPECT_THAT(Validate(bad), StatusIs(kInvalid, "storage.log: embedded or kafka"));
}

TEST(ConfigTest, UnknownKeysAndWrongTypesNameTheKey) {
  auto unknown = LoadConfigFile(WriteFile("cfg_unknown", "[storage]\npartitons = 3\n"));
  EXPECT_THAT(unknown, StatusIs(kInvalid, "storage.partitons: unknown key"));
  auto wrong = LoadConfigFile(WriteFile("cfg_type", "[storage]\npartitions = \"twelve\"\n"));
  EXPECT_THAT(wrong, StatusIs(kInvalid, "storage.partitions: wrong type"));
  const std::string syntax = WriteFile("cfg_syntax", "[storage\n");
  EXPECT_THAT(LoadConfigFile(syntax), StatusIs(kInvalid, StartsWith("config " + syntax + " ")));
  EXPECT_THAT(LoadConfigFile("/nonexistent/custops.toml"),
              StatusIs(absl::StatusCode::kNotFound,
                       "config file /nonexistent/custops.toml does not exist"));
}

TEST(ConfigTest, ValidateRejectsOutOfRangeValues) {
  Config c;
  c.partitions = 0;
  EXPECT_THAT(Validate(c), StatusIs(kInvalid, "storage.partitions: 1..1024"));
  c = Config();
  c.time_zone = "Mars/Olympus";
  EXPECT_THAT(Validate(c), StatusIs(kInvalid, "domain.time_zone: unknown zone Mars/Olympus"));
  c = Config();
  c.fixed_clock = "yesterday";
  EXPECT_THAT(Validate(c), StatusIs(kInvalid, StartsWith("domain.fixed_clock: not RFC 3339 (")));
  c = Config();
  c.fixed_clock = "2026-11-23T08:00:00+08:00";
  EXPECT_OK(Validate(c));
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
  ASSERT_OK(back) << "\n" << printed;
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
  ASSERT_OK(c);
  EXPECT_FALSE(c->commands.reject_overpayment);
  EXPECT_EQ(c->commands.default_payment_terms, absl::Hours(24 * 45));
  EXPECT_EQ(c->commands.opportunity_reopen_window, absl::Hours(24 * 90));  // default
  auto bad = LoadConfigFile(WriteFile("cfg_cmd_bad", "[commands]\npayment_terms_days = -1\n"));
  EXPECT_THAT(bad, StatusIs(kInvalid, "commands.payment_terms_days: 0..36500"));
}

TEST(ConfigTest, FindingThresholdsAndSeveritiesAreConfiguration) {
  absl::StatusOr<Config> c = LoadConfigFile(WriteFile("cfg_findings", R"(
[review]
finding_negative_assets_up_threshold = 2
finding_attainment_below_threshold = "9/10"
finding_churn_up_severity = "CRITICAL"
declining_days = 14
)"));
  ASSERT_OK(c);
  std::map<std::string, domain::FindingRule> rules;
  for (const auto& r : c->review.findings.rules) rules.emplace(r.id, r);
  EXPECT_EQ(rules.at("negative_assets_up").threshold, domain::Ratio::Integer(2));
  EXPECT_EQ(rules.at("attainment_below").threshold, *domain::Ratio::Of(9, 10));
  EXPECT_EQ(rules.at("churn_up").severity, v1::SEVERITY_CRITICAL);
  EXPECT_EQ(rules.at("churn_up").threshold, *domain::Ratio::Of(1, 5));  // default kept
  EXPECT_EQ(c->review.declining_days, 14);
  EXPECT_OK(Validate(*c));
  const std::string printed = ToToml(*c);
  EXPECT_NE(printed.find("finding_attainment_below_threshold = '9/10'"), std::string::npos)
      << printed;
  absl::StatusOr<Config> back = LoadConfigFile(WriteFile("cfg_findings_back", printed));
  ASSERT_OK(back);
  EXPECT_EQ(ToToml(*back), printed);

  auto bad = LoadConfigFile(
      WriteFile("cfg_findings_bad", "[review]\nfinding_churn_up_threshold = \"1/0\"\n"));
  EXPECT_THAT(bad, StatusIs(kInvalid, StartsWith("review.finding_churn_up_threshold: ")));
  auto severity = LoadConfigFile(
      WriteFile("cfg_findings_sev", "[review]\nfinding_churn_up_severity = \"URGENT\"\n"));
  EXPECT_THAT(
      severity,
      StatusIs(kInvalid, "review.finding_churn_up_severity: LOW, MEDIUM, HIGH or CRITICAL"));
  auto unknown = LoadConfigFile(
      WriteFile("cfg_findings_unknown", "[review]\nfinding_no_such_rule_threshold = 1\n"));
  EXPECT_THAT(unknown, StatusIs(kInvalid, "review.finding_no_such_rule_threshold: unknown key"));
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
  EXPECT_THAT(Validate(c),
              StatusIs(kInvalid, "tls.cert_file and tls.key_file: set both or neither"));
  c.tls_key_file = "key.pem";
  EXPECT_OK(Validate(c));
  c.jwt_hs256_secret_file = "s";
  c.jwt_public_key_file = "p";
  EXPECT_THAT(Validate(c), StatusIs(kInvalid,
                                    "auth.jwt_hs256_secret_file and auth.jwt_public_key_file: set "
                                    "one, not both"));
  Config d;
  d.tls_client_ca_file = "ca.pem";
  EXPECT_THAT(Validate(d),
              StatusIs(kInvalid, "tls.client_ca_file: needs tls.cert_file and tls.key_file"));
  Config e;
  e.max_request_bytes = e.max_message_bytes + 1;
  EXPECT_THAT(Validate(e), StatusIs(kInvalid, StartsWith("server.max_request_bytes: ")));
}

TEST(ConfigTest, ShippedSampleIsTheDefaultConfiguration) {
  absl::StatusOr<Config> sample = LoadConfigFile(CUSTOPS_SOURCE_DIR "/deploy/custops.toml");
  ASSERT_OK(sample);
  EXPECT_EQ(ToToml(*sample), ToToml(Config()));
}

}  // namespace
}  // namespace custops::app

// The key table (config.h): every key printed, loaded back, range-checked and
// named in its errors exactly as before the table; these pin what the tests
// above only sample.
namespace custops::app {
namespace {

// "section.key = value" for every key line of a printed config, in order;
// section headers go to `sections`. Fails on any other non-blank line.
std::vector<std::string> Pairs(const std::string& toml,
                               std::vector<std::string>* sections = nullptr) {
  std::vector<std::string> pairs;
  std::string section;
  for (absl::string_view line : absl::StrSplit(toml, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    if (absl::StartsWith(line, "[") && absl::EndsWith(line, "]")) {
      section = std::string(line.substr(1, line.size() - 2));
      if (sections != nullptr) sections->push_back(section);
      continue;
    }
    const size_t eq = line.find(" = ");
    EXPECT_NE(eq, absl::string_view::npos) << "not a key line: " << line;
    if (eq == absl::string_view::npos) continue;
    pairs.push_back(absl::StrCat(section, ".", line));
  }
  return pairs;
}

std::string Section(const ConfigKey& key) {
  return std::string(key.name.substr(0, key.name.find('.')));
}
std::string Leaf(const ConfigKey& key) {
  return std::string(key.name.substr(key.name.find('.') + 1));
}
std::string Name(const ConfigKey& key) { return std::string(key.name); }

// A file setting only `key`, to `literal` (TOML).
std::string OneKeyFile(const ConfigKey& key, const std::string& literal) {
  return WriteFile(absl::StrCat("cfg_key_", Name(key)),
                   absl::StrCat("[", Section(key), "]\n", Leaf(key), " = ", literal, "\n"));
}

bool Scalar(const ConfigKey& key) {
  return std::holds_alternative<ConfigAccessor<std::string>>(key.field) ||
         std::holds_alternative<ConfigAccessor<int64_t>>(key.field) ||
         std::holds_alternative<ConfigAccessor<bool>>(key.field);
}

// ToToml(Config()) (deploy/custops.toml), a "section.key = value" line per key.
constexpr char kDefaultPairs[] = R"(auth.audience = ''
auth.cache_entries = 10000
auth.issuer = ''
auth.jwt_hs256_secret_file = ''
auth.jwt_public_key_file = ''
commands.opportunity_reopen_window_days = 90
commands.payment_terms_days = 30
commands.reject_overpayment = true
demo.customers = 3000
demo.load = false
demo.seed = 42
domain.currency = 'CNY'
domain.fixed_clock = ''
domain.time_zone = 'Asia/Shanghai'
kafka.bootstrap = ''
kafka.group_prefix = 'custops'
kafka.poll_interval_ms = 100
kafka.session_timeout_ms = 6000
lifecycle.decline_permille = 700
lifecycle.default_median_gap_days = 365
lifecycle.dormant_lead_days = 180
lifecycle.dormant_risk_silence_days = 150
lifecycle.growth_permille = 1100
lifecycle.lost_silence_days = 365
lifecycle.man_budget_threshold_units = 10000000
lifecycle.min_decline_silence_days = 180
lifecycle.new_period_days = 180
lifecycle.revenue_window_days = 365
log.level = 'info'
review.birthday_days = 7
review.contract_ending_days = 60
review.declining_days = 30
review.finding_attainment_below_severity = 'HIGH'
review.finding_attainment_below_threshold = '4/5'
review.finding_churn_up_severity = 'HIGH'
review.finding_churn_up_threshold = '1/5'
review.finding_complaints_up_severity = 'MEDIUM'
review.finding_complaints_up_threshold = '1/5'
review.finding_concentration_above_severity = 'LOW'
review.finding_concentration_above_threshold = '4/5'
review.finding_contact_coverage_below_severity = 'MEDIUM'
review.finding_contact_coverage_below_threshold = '3/5'
review.finding_marketing_roi_below_severity = 'MEDIUM'
review.finding_marketing_roi_below_threshold = '0/1'
review.finding_negative_assets_up_severity = 'MEDIUM'
review.finding_negative_assets_up_threshold = '0/1'
review.finding_revenue_drop_yoy_severity = 'MEDIUM'
review.finding_revenue_drop_yoy_threshold = '1/5'
review.finding_satisfaction_below_severity = 'MEDIUM'
review.finding_satisfaction_below_threshold = '7/2'
review.finding_sla_breaches_severity = 'HIGH'
review.finding_sla_breaches_threshold = '0/1'
review.finding_win_rate_drop_severity = 'MEDIUM'
review.finding_win_rate_drop_threshold = '1/5'
review.sla_near_percent = 25
review.tier_dimension = true
review.top_customers_percent = 20
server.advertise = ''
server.console_dev_token_file = ''
server.console_dir = ''
server.http_listen = '127.0.0.1:9464'
server.insecure = false
server.listen = '127.0.0.1:50051'
server.max_events_per_request = 1000
server.max_message_bytes = 16777216
server.max_request_bytes = 4194304
server.max_streams_per_client = 1000
server.max_wait_ms = 30000
server.max_waits_per_client = 5000
server.roles = 'all'
server.workers = 32
storage.data_dir = './data'
storage.log = 'embedded'
storage.partitions = 12
storage.sync = true
tls.cert_file = ''
tls.client_ca_file = ''
tls.key_file = ''
value.abc_a_percent = 80
value.abc_b_percent = 95
value.clv_annual_discount_percent = 10
value.clv_horizon_months = 12
value.clv_refit_hours = 24
value.clv_refit_population_change_percent = 10
value.complaint_critical_units = 200000
value.complaint_high_units = 50000
value.complaint_low_units = 5000
value.complaint_medium_units = 20000
value.loyalty_advocate_nps = 9
value.loyalty_approving_purchases = 2
value.loyalty_dependent_days = 1095
value.loyalty_loyal_renewals = 2
value.prospect_big_pipeline_units = 10000000
value.service_event_units = 10000
value.snapshot_max_staleness_seconds = 10
value.tier_diamond_percent = 1
value.tier_gold_percent = 20
value.tier_platinum_percent = 5
value.tier_silver_percent = 50
value.visit_cost_units = 20000
value.window_days = 365
)";

TEST(ConfigKeyTableTest, DefaultPrintedConfigIsPinned) {
  const std::vector<std::string> expected =
      absl::StrSplit(absl::StripSuffix(kDefaultPairs, "\n"), '\n');
  std::vector<std::string> sections;
  const std::string printed = ToToml(Config());
  EXPECT_EQ(Pairs(printed, &sections), expected) << printed;
  EXPECT_EQ(sections, (std::vector<std::string>{"auth", "commands", "demo", "domain", "kafka",
                                                "kafka.properties", "lifecycle", "log", "review",
                                                "server", "storage", "tls", "value"}))
      << printed;
  for (const std::string& pair : expected) {
    const std::string name = pair.substr(0, pair.find(" = "));
    EXPECT_NE(FindConfigKey(name), nullptr) << name;
  }
  EXPECT_FALSE(absl::StartsWith(printed, "\n")) << printed;
  EXPECT_TRUE(absl::EndsWith(printed, "window_days = 365\n")) << printed;
}

// Sets `key` in `c` to a value other than its default; returns it as TOML.
std::string SetOtherValue(const ConfigKey& key, Config& c) {
  if (const auto* a = std::get_if<ConfigAccessor<std::string>>(&key.field)) {
    const std::string v = absl::StrCat("x-", Name(key));
    a->set(c, v);
    return absl::StrCat("'", v, "'");
  }
  if (const auto* a = std::get_if<ConfigAccessor<bool>>(&key.field)) {
    const bool v = !a->get(c);
    a->set(c, v);
    return v ? "true" : "false";
  }
  const auto& a = std::get<ConfigAccessor<int64_t>>(key.field);
  int64_t v = a.get(c) + 1;
  if (key.limits.when != ConfigLimits::When::kNever) {
    v = a.get(c) != key.limits.lo ? key.limits.lo : key.limits.hi;
  }
  a.set(c, v);
  return absl::StrCat(v);
}

TEST(ConfigKeyTableTest, EveryKeyRoundTripsThroughPrintAndLoad) {
  int scalars = 0;
  for (const ConfigKey& key : ConfigKeys()) {
    if (!Scalar(key)) continue;
    ++scalars;
    SCOPED_TRACE(Name(key));
    Config c;
    const std::string literal = SetOtherValue(key, c);
    const std::string printed = ToToml(c);
    EXPECT_NE(printed, ToToml(Config())) << "the value does not show";

    // The file with the key alone sets it...
    absl::StatusOr<Config> alone = LoadConfigFile(OneKeyFile(key, literal));
    ASSERT_OK(alone);
    EXPECT_EQ(ToToml(*alone), printed);
    // ...and --print-config writes it under its name, and reads back.
    if (!key.printed) continue;
    const std::vector<std::string> pairs = Pairs(printed);
    EXPECT_NE(std::find(pairs.begin(), pairs.end(), absl::StrCat(Name(key), " = ", literal)),
              pairs.end())
        << printed;
    absl::StatusOr<Config> back = LoadConfigFile(WriteFile("cfg_key_back", printed));
    ASSERT_OK(back);
    EXPECT_EQ(ToToml(*back), printed);
  }
  EXPECT_EQ(scalars, 80);  // printed: 101 - 22 finding keys; and server.metrics_listen
}

TEST(ConfigKeyTableTest, EveryKeyNamesItselfOnAWrongType) {
  for (const ConfigKey& key : ConfigKeys()) {
    if (!Scalar(key)) continue;
    const std::string wrong =
        std::holds_alternative<ConfigAccessor<std::string>>(key.field) ? "1" : "'x'";
    absl::StatusOr<Config> c = LoadConfigFile(OneKeyFile(key, wrong));
    EXPECT_THAT(c, StatusIs(kInvalid, absl::StrCat(Name(key), ": wrong type")));
  }
}

// Every integer key with limits: the error text, and whether loading the
// file ("load") or Validate ("validate") refuses the value.
TEST(ConfigKeyTableTest, EveryLimitIsPinned) {
  const std::map<std::string, std::pair<std::string, std::string>> expected = {
      {"storage.partitions", {"validate", "storage.partitions: 1..1024"}},
      {"server.max_events_per_request", {"validate", "server.max_events_per_request: 1..100000"}},
      {"server.max_message_bytes", {"validate", "server.max_message_bytes: at least 4096"}},
      {"server.max_wait_ms", {"validate", "server.max_wait_ms: at least 1"}},
      {"server.max_streams_per_client", {"validate", "server.max_streams_per_client: at least 1"}},
      {"server.max_waits_per_client", {"validate", "server.max_waits_per_client: at least 1"}},
      {"server.workers", {"validate", "server.workers: 1..256"}},
      {"auth.cache_entries", {"validate", "auth.cache_entries: at least 0"}},
      {"demo.customers", {"validate", "demo.customers: 1..1000000"}},
      {"kafka.session_timeout_ms", {"validate", "kafka.session_timeout_ms: 1000..600000"}},
      {"kafka.poll_interval_ms", {"validate", "kafka.poll_interval_ms: 1..60000"}},
      {"value.window_days", {"load", "value.window_days: 1..36500"}},
      {"value.abc_a_percent", {"load", "value.abc_a_percent: 1..100"}},
      {"value.abc_b_percent", {"load", "value.abc_b_percent: 1..100"}},
      {"value.tier_diamond_percent", {"load", "value.tier_diamond_percent: 0..100"}},
      {"value.tier_platinum_percent", {"load", "value.tier_platinum_percent: 0..100"}},
      {"value.tier_gold_percent", {"load", "value.tier_gold_percent: 0..100"}},
      {"value.tier_silver_percent", {"load", "value.tier_silver_percent: 0..100"}},
      {"value.prospect_big_pipeline_units",
       {"load", "value.prospect_big_pipeline_units: 0..1125899906842624"}},
      {"value.visit_cost_units", {"load", "value.visit_cost_units: 0..1125899906842624"}},
      {"value.complaint_low_units", {"load", "value.complaint_low_units: 0..1125899906842624"}},
      {"value.complaint_medium_units",
       {"load", "value.complaint_medium_units: 0..1125899906842624"}},
      {"value.complaint_high_units", {"load", "value.complaint_high_units: 0..1125899906842624"}},
      {"value.complaint_critical_units",
       {"load", "value.complaint_critical_units: 0..1125899906842624"}},
      {"value.service_event_units", {"load", "value.service_event_units: 0..1125899906842624"}},
      {"value.loyalty_approving_purchases", {"load", "value.loyalty_approving_purchases: 1..1000"}},
      {"value.loyalty_advocate_nps", {"load", "value.loyalty_advocate_nps: 0..10"}},
      {"value.loyalty_loyal_renewals", {"load", "value.loyalty_loyal_renewals: 1..1000"}},
      {"value.loyalty_dependent_days", {"load", "value.loyalty_dependent_days: 1..36500"}},
      {"value.clv_horizon_months", {"load", "value.clv_horizon_months: 1..600"}},
      {"value.clv_annual_discount_percent", {"load", "value.clv_annual_discount_percent: 0..1000"}},
      {"value.clv_refit_hours", {"load", "value.clv_refit_hours: 1..87600"}},
      {"value.clv_refit_population_change_percent",
       {"load", "value.clv_refit_population_change_percent: 0..1000"}},
      {"value.snapshot_max_staleness_seconds",
       {"load", "value.snapshot_max_staleness_seconds: 0..86400"}},
      {"review.top_customers_percent", {"load", "review.top_customers_percent: 1..100"}},
      {"review.sla_near_percent", {"load", "review.sla_near_percent: 0..100"}},
      {"review.birthday_days", {"load", "review.birthday_days: 0..366"}},
      {"review.contract_ending_days", {"load", "review.contract_ending_days: 0..36500"}},
      {"review.declining_days", {"load", "review.declining_days: 0..36500"}},
      {"lifecycle.new_period_days", {"load", "lifecycle.new_period_days: 1..36500"}},
      {"lifecycle.dormant_lead_days", {"load", "lifecycle.dormant_lead_days: 1..36500"}},
      {"lifecycle.lost_silence_days", {"load", "lifecycle.lost_silence_days: 1..36500"}},
      {"lifecycle.revenue_window_days", {"load", "lifecycle.revenue_window_days: 1..36500"}},
      {"lifecycle.growth_permille", {"load", "lifecycle.growth_permille: must not be negative"}},
      {"lifecycle.decline_permille", {"load", "lifecycle.decline_permille: must not be negative"}},
      {"lifecycle.min_decline_silence_days",
       {"load", "lifecycle.min_decline_silence_days: 1..36500"}},
      {"lifecycle.default_median_gap_days",
       {"load", "lifecycle.default_median_gap_days: 1..36500"}},
      {"lifecycle.dormant_risk_silence_days",
       {"load", "lifecycle.dormant_risk_silence_days: 1..36500"}},
      {"lifecycle.man_budget_threshold_units",
       {"load", "lifecycle.man_budget_threshold_units: must not be negative"}},
      {"commands.opportunity_reopen_window_days",
       {"load", "commands.opportunity_reopen_window_days: 0..36500"}},
      {"commands.payment_terms_days", {"load", "commands.payment_terms_days: 0..36500"}},
  };
  std::set<std::string> limited;
  for (const ConfigKey& key : ConfigKeys()) {
    if (key.limits.when == ConfigLimits::When::kNever) continue;
    limited.insert(Name(key));
    SCOPED_TRACE(Name(key));
    ASSERT_TRUE(expected.contains(Name(key)));
    const auto& [when, message] = expected.at(Name(key));
    std::vector<int64_t> outside = {key.limits.lo - 1};
    if (key.limits.hi != std::numeric_limits<int64_t>::max()) outside.push_back(key.limits.hi + 1);
    for (int64_t v : outside) {
      absl::StatusOr<Config> c = LoadConfigFile(OneKeyFile(key, absl::StrCat(v)));
      if (when == "load") {
        EXPECT_THAT(c, StatusIs(kInvalid, message)) << v;
      } else {
        ASSERT_OK(c);
        EXPECT_THAT(Validate(*c), StatusIs(kInvalid, message)) << v;
      }
    }
    absl::StatusOr<Config> at_lo = LoadConfigFile(OneKeyFile(key, absl::StrCat(key.limits.lo)));
    EXPECT_OK(at_lo);
  }
  EXPECT_EQ(limited.size(), expected.size());
}

// Validate names the first wrong key in this order (the order of the key
// table); each step breaks one more key, last in the order first.
TEST(ConfigKeyTableTest, ValidateNamesTheFirstWrongKeyInItsOrder) {
  struct Step {
    std::function<void(Config&)> breaks;
    std::string message;  // a prefix for the fixed clock (absl's reason follows)
  };
  const std::vector<Step> steps = {
      {[](Config& c) { c.listen = ""; }, "server.listen: required"},
      {[](Config& c) { c.data_dir = ""; }, "storage.data_dir: required"},
      {[](Config& c) { c.partitions = 0; }, "storage.partitions: 1..1024"},
      {[](Config& c) { c.currency = "EURO"; }, "domain.currency: an ISO 4217 code such as CNY"},
      {[](Config& c) { c.time_zone = "Mars/Olympus"; },
       "domain.time_zone: unknown zone Mars/Olympus"},
      {[](Config& c) { c.fixed_clock = "yesterday"; }, "domain.fixed_clock: not RFC 3339 ("},
      {[](Config& c) { c.max_events_per_request = 0; }, "server.max_events_per_request: 1..100000"},
      {[](Config& c) { c.max_message_bytes = 4095; }, "server.max_message_bytes: at least 4096"},
      {[](Config& c) { c.max_request_bytes = 4095; },
       "server.max_request_bytes: at least 4096 and at most server.max_message_bytes"},
      {[](Config& c) { c.max_wait_ms = 0; }, "server.max_wait_ms: at least 1"},
      {[](Config& c) { c.max_streams_per_client = 0; },
       "server.max_streams_per_client: at least 1"},
      {[](Config& c) { c.max_waits_per_client = 0; }, "server.max_waits_per_client: at least 1"},
      {[](Config& c) { c.workers = 257; }, "server.workers: 1..256"},
      {[](Config& c) { c.jwt_cache_entries = -1; }, "auth.cache_entries: at least 0"},
      {[](Config& c) { c.tls_cert_file = "cert.pem"; },
       "tls.cert_file and tls.key_file: set both or neither"},
      {[](Config& c) { c.tls_client_ca_file = "ca.pem"; },
       "tls.client_ca_file: needs tls.cert_file and tls.key_file"},
      {[](Config& c) {
         c.jwt_hs256_secret_file = "s";
         c.jwt_public_key_file = "p";
       },
       "auth.jwt_hs256_secret_file and auth.jwt_public_key_file: set one, not both"},
      {[](Config& c) { c.demo_customers = 0; }, "demo.customers: 1..1000000"},
      {[](Config& c) { c.value.abc.a_percent = 96; },
       "value.abc_a_percent: must not exceed value.abc_b_percent"},
      {[](Config& c) { c.review.findings.rules[0].severity = v1::SEVERITY_UNSPECIFIED; },
       "review.finding_*: finding rule attainment_below: no severity"},
      {[](Config& c) { c.value.tiers.diamond_cum_percent = 6; },
       "value.tier_diamond_percent: tier bounds must be cumulative (diamond <= platinum <= gold "
       "<= silver)"},
      {[](Config& c) { c.log = "zookeeper"; }, "storage.log: embedded or kafka"},
      {[](Config& c) {
         c.log = "kafka";
         c.kafka_bootstrap = "";
       },
       "kafka.bootstrap: required with storage.log = \"kafka\""},
      {[](Config& c) { c.kafka_group_prefix = ""; }, "kafka.group_prefix: required"},
      {[](Config& c) { c.kafka_session_timeout_ms = 999; },
       "kafka.session_timeout_ms: 1000..600000"},
      {[](Config& c) { c.kafka_poll_interval_ms = 0; }, "kafka.poll_interval_ms: 1..60000"},
      {[](Config& c) { c.roles = "lifecycle,projector"; },
       "server.roles: unknown role \"projector\" (ingest, commands, lifecycle, value, review, "
       "admin, all)"},
      {[](Config& c) { c.roles = "lifecycle"; },
       "server.roles: on the embedded log include ingest or commands (or use storage.log = "
       "\"kafka\")"},
      {[](Config& c) { c.log_level = "loud"; },
       "log.level: one of trace, debug, info, warn, error"},
  };
  Config c;
  ASSERT_OK(Validate(c));
  for (auto step = steps.rbegin(); step != steps.rend(); ++step) {
    step->breaks(c);
    if (absl::EndsWith(step->message, "(")) {  // the rest is the parser's
      EXPECT_THAT(Validate(c), StatusIs(kInvalid, StartsWith(step->message)));
    } else {
      EXPECT_THAT(Validate(c), StatusIs(kInvalid, step->message));
    }
  }
  Config no_roles;
  no_roles.roles = "";
  EXPECT_THAT(Validate(no_roles), StatusIs(kInvalid, "server.roles: at least one role"));
}

TEST(ConfigKeyTableTest, EveryFindingRuleRoundTrips) {
  Config c;
  for (domain::FindingRule& rule : c.review.findings.rules) {
    rule.threshold = *domain::Ratio::Of(3, 7);
    rule.severity =
        rule.severity == v1::SEVERITY_CRITICAL ? v1::SEVERITY_LOW : v1::SEVERITY_CRITICAL;
  }
  const std::string printed = ToToml(c);
  const std::vector<std::string> pairs = Pairs(printed);
  for (const domain::FindingRule& rule : c.review.findings.rules) {
    for (const std::string& pair :
         {absl::StrCat("review.finding_", rule.id, "_threshold = '3/7'"),
          absl::StrCat("review.finding_", rule.id, "_severity = '",
                       rule.severity == v1::SEVERITY_LOW ? "LOW" : "CRITICAL", "'")}) {
      EXPECT_NE(std::find(pairs.begin(), pairs.end(), pair), pairs.end()) << pair;
    }
    const ConfigKey* threshold =
        FindConfigKey(absl::StrCat("review.finding_", rule.id, "_threshold"));
    ASSERT_NE(threshold, nullptr);
    EXPECT_EQ(threshold->name, "review.finding_<id>_threshold");
  }
  EXPECT_EQ(pairs.size(), 101u);
  absl::StatusOr<Config> back = LoadConfigFile(WriteFile("cfg_rules_back", printed));
  ASSERT_OK(back);
  ASSERT_EQ(back->review.findings.rules.size(), c.review.findings.rules.size());
  for (size_t i = 0; i < c.review.findings.rules.size(); ++i) {
    EXPECT_EQ(back->review.findings.rules[i].threshold, c.review.findings.rules[i].threshold);
    EXPECT_EQ(back->review.findings.rules[i].severity, c.review.findings.rules[i].severity);
  }
  EXPECT_EQ(FindConfigKey("review.finding_no_such_rule_threshold"), nullptr);
  EXPECT_THAT(
      LoadConfigFile(WriteFile("cfg_rules_type", "[review]\nfinding_churn_up_severity = 1\n")),
      StatusIs(kInvalid, "review.finding_churn_up_severity: wrong type"));
  EXPECT_THAT(
      LoadConfigFile(WriteFile("cfg_rules_ratio", "[review]\nfinding_churn_up_threshold = '5'\n")),
      StatusIs(kInvalid,
               "review.finding_churn_up_threshold: an integer or \"numerator/denominator\" "
               "(denominator not 0)"));
  EXPECT_THAT(
      LoadConfigFile(
          WriteFile("cfg_rules_sev", "[review]\nfinding_churn_up_severity = 'URGENT'\n")),
      StatusIs(kInvalid, "review.finding_churn_up_severity: LOW, MEDIUM, HIGH or CRITICAL"));
}

TEST(ConfigKeyTableTest, OtherLoadErrorsArePinned) {
  EXPECT_THAT(LoadConfigFile(WriteFile("cfg_err_unknown", "[storage]\npartitons = 3\n")),
              StatusIs(kInvalid, "storage.partitons: unknown key"));
  EXPECT_THAT(LoadConfigFile(WriteFile("cfg_err_section", "partitions = 3\n")),
              StatusIs(kInvalid, "partitions: expected a [section]"));
  EXPECT_THAT(LoadConfigFile(WriteFile("cfg_err_props", "[kafka]\nproperties = 1\n")),
              StatusIs(kInvalid, "kafka.properties: expected a table of librdkafka properties"));
  EXPECT_THAT(
      LoadConfigFile(WriteFile("cfg_err_prop", "[kafka.properties]\n\"a.b\" = 1.5\n")),
      StatusIs(kInvalid, "kafka.properties.a.b: wrong type (a string, integer or boolean)"));
  absl::StatusOr<Config> older =
      LoadConfigFile(WriteFile("cfg_err_older", "[server]\nmetrics_listen = '10.0.0.1:9'\n"));
  ASSERT_OK(older);
  EXPECT_EQ(older->metrics_listen, "10.0.0.1:9");
  EXPECT_TRUE(absl::StrContains(ToToml(*older), "http_listen = '10.0.0.1:9'"));
  EXPECT_FALSE(absl::StrContains(ToToml(*older), "metrics_listen"));
}

// custops's flags (main.cc registers them from the table): names, help and
// how they take their values, as before the table.
TEST(ConfigKeyTableTest, FlagsArePinned) {
  const auto style = [](ConfigFlagStyle s) -> std::string {
    switch (s) {
      case ConfigFlagStyle::kValue:
        return "value";
      case ConfigFlagStyle::kOptionalValue:
        return "optional";
      case ConfigFlagStyle::kSwitch:
        return "switch";
      case ConfigFlagStyle::kRepeated:
        return "repeated";
    }
    return "?";
  };
  const auto type = [](const ConfigKey& key) -> std::string {
    if (std::holds_alternative<ConfigAccessor<std::string>>(key.field)) return "string";
    if (std::holds_alternative<ConfigAccessor<int64_t>>(key.field)) return "int";
    if (std::holds_alternative<ConfigAccessor<bool>>(key.field)) return "bool";
    return "properties";
  };
  std::vector<std::string> flags;
  for (const ConfigKey& key : ConfigKeys()) {
    if (key.flag.empty()) continue;
    flags.push_back(absl::StrCat(std::string(key.flag), " ", Name(key), " ", type(key), " ",
                                 style(key.flag_style), ": ", ConfigFlagHelp(key)));
    if (!key.flag_implies_key.empty()) {
      flags.push_back(absl::StrCat("  implies ", std::string(key.flag_implies_key), " = ",
                                   std::string(key.flag_implies_value)));
    }
  }
  const std::vector<std::string> expected = {
      "--listen server.listen string value: gRPC address host:port (default 127.0.0.1:50051)",
      "--http-listen,--metrics-listen server.http_listen string value: HTTP address host:port for "
      "/metrics, /healthz, /readyz; empty disables (default 127.0.0.1:9464)",
      "--data-dir storage.data_dir string value: Data directory (default ./data)",
      "--partitions storage.partitions int value: Partitions per topic for a new data dir "
      "(default 12)",
      "--sync storage.sync bool value: fsync every append: true|false (default true)",
      "--fixed-clock domain.fixed_clock string value: Run on a fixed instant (RFC 3339) instead "
      "of the system clock",
      "--insecure server.insecure bool switch: Allow a non-loopback listen address without TLS "
      "and token auth",
      "--console-dir server.console_dir string value: The ops console's built files "
      "(scripts/build-web.sh), served at / on the HTTP listener (default: found beside the "
      "binary)",
      "--console-dev-token-file server.console_dev_token_file string value: A token the console "
      "offers loopback clients (development)",
      "--tls-cert tls.cert_file string value: PEM certificate chain: TLS on gRPC and HTTP",
      "--tls-key tls.key_file string value: PEM private key of --tls-cert",
      "--tls-client-ca tls.client_ca_file string value: PEM CA: require client certificates it "
      "signed (mutual TLS)",
      "--jwt-hs256-secret-file auth.jwt_hs256_secret_file string value: Bearer JWT auth with "
      "this HS256 shared secret (docs/security.md)",
      "--jwt-public-key-file auth.jwt_public_key_file string value: Bearer JWT auth with this "
      "PEM public key (RS256 or ES256)",
      "--demo demo.load bool optional: Load the demo population: true|false",
      "--demo-customers demo.customers int value: Demo population size (default 3000)",
      "--log storage.log string value: Event log: embedded|kafka (default embedded)",
      "--kafka-bootstrap,--brokers kafka.bootstrap string value: Kafka bootstrap servers "
      "host:port[,...] (implies --log kafka)",
      "  implies storage.log = kafka",
      "--kafka-poll-interval-ms kafka.poll_interval_ms int value: How often to look for appends "
      "by other processes (default 100)",
      "--kafka-property kafka.properties properties repeated: A librdkafka property NAME=VALUE "
      "for every Kafka client (repeatable)",
      "--roles server.roles string value: Services to run: all, or some of "
      "ingest,commands,lifecycle,admin (default all)",
      "--advertise server.advertise string value: gRPC address other instances reach this one "
      "on (default: --listen)",
      "--log-level log.level string value: trace|debug|info|warn|error",
  };
  EXPECT_EQ(flags, expected);
}

}  // namespace
}  // namespace custops::app
