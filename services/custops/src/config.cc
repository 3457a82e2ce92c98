#include "custops/app/config.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "toml++/toml.h"

namespace custops::app {
namespace {

using Limits = ConfigLimits;
using Style = ConfigFlagStyle;

// ---- Accessors ----

// The field at the end of a path of pointers to members: At<&Config::value,
// &value::ValueRules::abc>(c) is c.value.abc (const when `c` is).
template <auto First, auto... Rest, typename C>
constexpr auto& At(C& c) {
  if constexpr (sizeof...(Rest) == 0) {
    return c.*First;
  } else {
    return At<Rest...>(c.*First);
  }
}

// A string, bool or integer field as a key of that type.
template <auto... Path>
constexpr auto Member() {
  using T = std::remove_cvref_t<decltype(At<Path...>(std::declval<Config&>()))>;
  if constexpr (std::is_same_v<T, std::string>) {
    return ConfigAccessor<std::string>{
        .get = [](const Config& c) { return At<Path...>(c); },
        .set = [](Config& c, std::string v) { At<Path...>(c) = std::move(v); }};
  } else if constexpr (std::is_same_v<T, bool>) {
    return ConfigAccessor<bool>{.get = [](const Config& c) { return At<Path...>(c); },
                                .set = [](Config& c, bool v) { At<Path...>(c) = v; }};
  } else {
    static_assert(std::is_integral_v<T>, "a key is a string, a bool or an integer");
    return ConfigAccessor<int64_t>{
        .get = [](const Config& c) { return static_cast<int64_t>(At<Path...>(c)); },
        .set = [](Config& c, int64_t v) { At<Path...>(c) = static_cast<T>(v); }};
  }
}

// absl::Duration fields as whole days, hours or seconds.
template <auto... Path>
constexpr ConfigAccessor<int64_t> Days() {
  return {.get = [](const Config& c) { return absl::ToInt64Hours(At<Path...>(c)) / 24; },
          .set = [](Config& c, int64_t days) { At<Path...>(c) = absl::Hours(24 * days); }};
}
template <auto... Path>
constexpr ConfigAccessor<int64_t> Hours() {
  return {.get = [](const Config& c) { return absl::ToInt64Hours(At<Path...>(c)); },
          .set = [](Config& c, int64_t hours) { At<Path...>(c) = absl::Hours(hours); }};
}
template <auto... Path>
constexpr ConfigAccessor<int64_t> Seconds() {
  return {.get = [](const Config& c) { return absl::ToInt64Seconds(At<Path...>(c)); },
          .set = [](Config& c, int64_t seconds) { At<Path...>(c) = absl::Seconds(seconds); }};
}

// (1 + monthly)^12 - 1 in whole percent, and back.
int64_t AnnualPercent(double monthly) {
  return std::llround((std::pow(1 + monthly, 12) - 1) * 100);
}
double MonthlyRate(int64_t annual_percent) {
  return std::pow(1 + static_cast<double>(annual_percent) / 100, 1.0 / 12) - 1;
}

// value.clv_annual_discount_percent: the monthly rate as an annual percent.
constexpr ConfigAccessor<int64_t> AnnualDiscountPercent() {
  return {.get = [](const Config& c) { return AnnualPercent(c.value.clv.monthly_discount_rate); },
          .set = [](Config& c,
                    int64_t percent) { c.value.clv.monthly_discount_rate = MonthlyRate(percent); }};
}

// ---- Limits ----

constexpr int64_t kMaxUnits = int64_t{1} << 50;

// Checked by Validate.
constexpr Limits Range(int64_t lo, int64_t hi) {
  return {
      .when = Limits::When::kOnValidate, .wording = Limits::Wording::kRange, .lo = lo, .hi = hi};
}
constexpr Limits AtLeast(int64_t lo) {
  return {.when = Limits::When::kOnValidate, .wording = Limits::Wording::kAtLeast, .lo = lo};
}
constexpr Limits NotNegative() {
  return {.when = Limits::When::kOnValidate, .wording = Limits::Wording::kNotNegative, .lo = 0};
}
// Checked by LoadConfigFile instead.
constexpr Limits OnLoad(Limits limits) {
  limits.when = Limits::When::kOnLoad;
  return limits;
}

absl::Status CheckLimits(const ConfigKey& key, int64_t v) {
  const Limits& l = key.limits;
  if (v >= l.lo && v <= l.hi) return absl::OkStatus();
  switch (l.wording) {
    case Limits::Wording::kRange:
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(key.name), ": ", l.lo, "..", l.hi));
    case Limits::Wording::kAtLeast:
      return absl::InvalidArgumentError(absl::StrCat(std::string(key.name), ": at least ", l.lo));
    case Limits::Wording::kNotNegative:
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(key.name), ": must not be negative"));
  }
  return absl::InvalidArgumentError(absl::StrCat(std::string(key.name), ": out of range"));
}

// ---- The checks of Validate beyond limits and `required` ----

absl::Status CheckCurrency(const Config& c) {
  if (c.currency.size() != 3) {
    return absl::InvalidArgumentError("domain.currency: an ISO 4217 code such as CNY");
  }
  return absl::OkStatus();
}

absl::Status CheckTimeZone(const Config& c) {
  absl::TimeZone tz;
  if (!absl::LoadTimeZone(c.time_zone, &tz)) {
    return absl::InvalidArgumentError(absl::StrCat("domain.time_zone: unknown zone ", c.time_zone));
  }
  return absl::OkStatus();
}

absl::Status CheckFixedClock(const Config& c) {
  if (!c.fixed_clock.empty()) {
    absl::Time t;
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, c.fixed_clock, &t, &err)) {
      return absl::InvalidArgumentError(
          absl::StrCat("domain.fixed_clock: not RFC 3339 (", err, ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckRequestBytes(const Config& c) {
  if (c.max_request_bytes < 4096 || c.max_request_bytes > c.max_message_bytes) {
    return absl::InvalidArgumentError(
        "server.max_request_bytes: at least 4096 and at most server.max_message_bytes");
  }
  return absl::OkStatus();
}

absl::Status CheckTlsPair(const Config& c) {
  if (c.tls_cert_file.empty() != c.tls_key_file.empty()) {
    return absl::InvalidArgumentError("tls.cert_file and tls.key_file: set both or neither");
  }
  return absl::OkStatus();
}

absl::Status CheckTlsClientCa(const Config& c) {
  if (!c.tls_client_ca_file.empty() && c.tls_cert_file.empty()) {
    return absl::InvalidArgumentError("tls.client_ca_file: needs tls.cert_file and tls.key_file");
  }
  return absl::OkStatus();
}

absl::Status CheckJwtKeys(const Config& c) {
  if (!c.jwt_hs256_secret_file.empty() && !c.jwt_public_key_file.empty()) {
    return absl::InvalidArgumentError(
        "auth.jwt_hs256_secret_file and auth.jwt_public_key_file: set one, not both");
  }
  return absl::OkStatus();
}

absl::Status CheckAbc(const Config& c) {
  if (c.value.abc.a_percent > c.value.abc.b_percent) {
    return absl::InvalidArgumentError("value.abc_a_percent: must not exceed value.abc_b_percent");
  }
  return absl::OkStatus();
}

absl::Status CheckFindings(const Config& c) {
  if (absl::Status s = domain::ValidateFindingRules(c.review.findings); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("review.finding_*: ", s.message()));
  }
  return absl::OkStatus();
}

absl::Status CheckTiers(const Config& c) {
  const domain::TierRules& t = c.value.tiers;
  if (t.diamond_cum_percent > t.platinum_cum_percent ||
      t.platinum_cum_percent > t.gold_cum_percent || t.gold_cum_percent > t.silver_cum_percent) {
    return absl::InvalidArgumentError(
        "value.tier_diamond_percent: tier bounds must be cumulative (diamond <= platinum <= gold "
        "<= silver)");
  }
  return absl::OkStatus();
}

absl::Status CheckLog(const Config& c) {
  if (c.log != "embedded" && c.log != "kafka") {
    return absl::InvalidArgumentError("storage.log: embedded or kafka");
  }
  return absl::OkStatus();
}

absl::Status CheckKafkaBootstrap(const Config& c) {
  if (c.log == "kafka" && c.kafka_bootstrap.empty()) {
    return absl::InvalidArgumentError("kafka.bootstrap: required with storage.log = \"kafka\"");
  }
  return absl::OkStatus();
}

absl::Status CheckRoles(const Config& c) {
  static const char* kRoles[] = {"all",   "ingest", "commands", "lifecycle",
                                 "value", "review", "admin"};
  if (c.roles.empty()) return absl::InvalidArgumentError("server.roles: at least one role");
  for (absl::string_view role : absl::StrSplit(c.roles, ',')) {
    if (std::find(std::begin(kRoles), std::end(kRoles), std::string(role)) == std::end(kRoles)) {
      return absl::InvalidArgumentError(
          absl::StrCat("server.roles: unknown role \"", std::string(role),
                       "\" (ingest, commands, lifecycle, value, review, admin, all)"));
    }
  }
  if (c.log == "embedded" && !HasRole(c, "ingest") && !HasRole(c, "commands")) {
    // The embedded log belongs to this one process: without a writer role
    // nothing could ever reach it.
    return absl::InvalidArgumentError(
        "server.roles: on the embedded log include ingest or commands (or use storage.log = "
        "\"kafka\")");
  }
  return absl::OkStatus();
}

absl::Status CheckLogLevel(const Config& c) {
  static const char* kLevels[] = {"trace", "debug", "info", "warn", "error"};
  if (std::find(std::begin(kLevels), std::end(kLevels), c.log_level) == std::end(kLevels)) {
    return absl::InvalidArgumentError("log.level: one of trace, debug, info, warn, error");
  }
  return absl::OkStatus();
}

// ---- The key table ----

// Stands for the rule id in the names of the finding keys.
constexpr std::string_view kRuleId = "<id>";

using R = domain::LifecycleRules;
using K = domain::CommandRules;
using V = value::ValueRules;

// Every key once: its dotted TOML name; its field (Member<path to the field>,
// or Days/Hours/Seconds for an absl::Duration); its limits (Range, AtLeast,
// NotNegative: checked by Validate, or by LoadConfigFile when OnLoad, as
// each key always was); `required` and `check` for the rest of Validate; its
// flag. Its default is the initializer in Config (config.h).
//
// In the order Validate checks the keys, which decides which of several
// wrong keys it names. Loading and printing do not depend on the order (TOML
// tables are sorted); --help lists the flags in it.
constexpr ConfigKey kKeys[] = {
    {.name = "server.listen",
     .field = Member<&Config::listen>(),
     .required = true,
     .flag = "--listen",
     .help = "gRPC address host:port",
     .help_shows_default = true},
    {.name = "server.http_listen",
     .field = Member<&Config::metrics_listen>(),
     .flag = "--http-listen,--metrics-listen",
     .help = "HTTP address host:port for /metrics, /healthz, /readyz; empty disables",
     .help_shows_default = true},
    {.name = "server.metrics_listen", .field = Member<&Config::metrics_listen>(), .printed = false},
    {.name = "storage.data_dir",
     .field = Member<&Config::data_dir>(),
     .required = true,
     .flag = "--data-dir",
     .help = "Data directory",
     .help_shows_default = true},
    {.name = "storage.partitions",
     .field = Member<&Config::partitions>(),
     .limits = Range(1, 1024),
     .flag = "--partitions",
     .help = "Partitions per topic for a new data dir",
     .help_shows_default = true},
    {.name = "storage.sync",
     .field = Member<&Config::sync>(),
     .flag = "--sync",
     .help = "fsync every append: true|false",
     .help_shows_default = true},
    {.name = "domain.currency", .field = Member<&Config::currency>(), .check = CheckCurrency},
    {.name = "domain.time_zone", .field = Member<&Config::time_zone>(), .check = CheckTimeZone},
    {.name = "domain.fixed_clock",
     .field = Member<&Config::fixed_clock>(),
     .check = CheckFixedClock,
     .flag = "--fixed-clock",
     .help = "Run on a fixed instant (RFC 3339) instead of the system clock"},
    {.name = "server.max_events_per_request",
     .field = Member<&Config::max_events_per_request>(),
     .limits = Range(1, 100'000)},
    {.name = "server.max_message_bytes",
     .field = Member<&Config::max_message_bytes>(),
     .limits = AtLeast(4096)},
    {.name = "server.max_request_bytes",
     .field = Member<&Config::max_request_bytes>(),
     .check = CheckRequestBytes},
    {.name = "server.max_wait_ms", .field = Member<&Config::max_wait_ms>(), .limits = AtLeast(1)},
    {.name = "server.max_streams_per_client",
     .field = Member<&Config::max_streams_per_client>(),
     .limits = AtLeast(1)},
    {.name = "server.max_waits_per_client",
     .field = Member<&Config::max_waits_per_client>(),
     .limits = AtLeast(1)},
    {.name = "server.workers", .field = Member<&Config::workers>(), .limits = Range(1, 256)},
    {.name = "server.insecure",
     .field = Member<&Config::insecure>(),
     .flag = "--insecure",
     .flag_style = Style::kSwitch,
     .help = "Allow a non-loopback listen address without TLS and token auth"},
    {.name = "server.console_dir",
     .field = Member<&Config::console_dir>(),
     .flag = "--console-dir",
     .help = "The ops console's built files (scripts/build-web.sh), served at / on the HTTP "
             "listener (default: found beside the binary)"},
    {.name = "server.console_dev_token_file",
     .field = Member<&Config::console_dev_token_file>(),
     .flag = "--console-dev-token-file",
     .help = "A token the console offers loopback clients (development)"},
    {.name = "auth.cache_entries",
     .field = Member<&Config::jwt_cache_entries>(),
     .limits = AtLeast(0)},
    {.name = "tls.cert_file",
     .field = Member<&Config::tls_cert_file>(),
     .check = CheckTlsPair,
     .flag = "--tls-cert",
     .help = "PEM certificate chain: TLS on gRPC and HTTP"},
    {.name = "tls.key_file",
     .field = Member<&Config::tls_key_file>(),
     .flag = "--tls-key",
     .help = "PEM private key of --tls-cert"},
    {.name = "tls.client_ca_file",
     .field = Member<&Config::tls_client_ca_file>(),
     .check = CheckTlsClientCa,
     .flag = "--tls-client-ca",
     .help = "PEM CA: require client certificates it signed (mutual TLS)"},
    {.name = "auth.jwt_hs256_secret_file",
     .field = Member<&Config::jwt_hs256_secret_file>(),
     .check = CheckJwtKeys,
     .flag = "--jwt-hs256-secret-file",
     .help = "Bearer JWT auth with this HS256 shared secret (docs/security.md)"},
    {.name = "auth.jwt_public_key_file",
     .field = Member<&Config::jwt_public_key_file>(),
     .flag = "--jwt-public-key-file",
     .help = "Bearer JWT auth with this PEM public key (RS256 or ES256)"},
    {.name = "auth.issuer", .field = Member<&Config::jwt_issuer>()},
    {.name = "auth.audience", .field = Member<&Config::jwt_audience>()},
    {.name = "demo.load",
     .field = Member<&Config::demo>(),
     .flag = "--demo",
     .flag_style = Style::kOptionalValue,
     .help = "Load the demo population: true|false"},
    {.name = "demo.customers",
     .field = Member<&Config::demo_customers>(),
     .limits = Range(1, 1'000'000),
     .flag = "--demo-customers",
     .help = "Demo population size",
     .help_shows_default = true},
    {.name = "demo.seed", .field = Member<&Config::demo_seed>()},
    {.name = "value.window_days",
     .field = Days<&Config::value, &V::rfm, &domain::RfmRules::window>(),
     .limits = OnLoad(Range(1, 36500))},
    {.name = "value.abc_a_percent",
     .field = Member<&Config::value, &V::abc, &domain::AbcRules::a_percent>(),
     .limits = OnLoad(Range(1, 100)),
     .check = CheckAbc},
    {.name = "value.abc_b_percent",
     .field = Member<&Config::value, &V::abc, &domain::AbcRules::b_percent>(),
     .limits = OnLoad(Range(1, 100))},
    // The findings are checked between the ABC and the tier bounds of [value].
    {.name = "review.finding_<id>_threshold",
     .field = ConfigFindingPart::kThreshold,
     .check = CheckFindings},
    {.name = "review.finding_<id>_severity", .field = ConfigFindingPart::kSeverity},
    {.name = "value.tier_diamond_percent",
     .field = Member<&Config::value, &V::tiers, &domain::TierRules::diamond_cum_percent>(),
     .limits = OnLoad(Range(0, 100)),
     .check = CheckTiers},
    {.name = "value.tier_platinum_percent",
     .field = Member<&Config::value, &V::tiers, &domain::TierRules::platinum_cum_percent>(),
     .limits = OnLoad(Range(0, 100))},
    {.name = "value.tier_gold_percent",
     .field = Member<&Config::value, &V::tiers, &domain::TierRules::gold_cum_percent>(),
     .limits = OnLoad(Range(0, 100))},
    {.name = "value.tier_silver_percent",
     .field = Member<&Config::value, &V::tiers, &domain::TierRules::silver_cum_percent>(),
     .limits = OnLoad(Range(0, 100))},
    {.name = "value.prospect_big_pipeline_units",
     .field = Member<&Config::value, &V::prospects, &domain::ProspectRules::big_pipeline_units>(),
     .limits = OnLoad(Range(0, kMaxUnits))},
    {.name = "value.visit_cost_units",
     .field = Member<&Config::value, &V::cost, &domain::CostToServeRules::visit_cost_units>(),
     .limits = OnLoad(Range(0, kMaxUnits))},
    {.name = "value.complaint_low_units",
     .field = Member<&Config::value, &V::cost, &domain::CostToServeRules::complaint_low_units>(),
     .limits = OnLoad(Range(0, kMaxUnits))},
    {.name = "value.complaint_medium_units",
     .field = Member<&Config::value, &V::cost, &domain::CostToServeRules::complaint_medium_units>(),
     .limits = OnLoad(Range(0, kMaxUnits))},
    {.name = "value.complaint_high_units",
     .field = Member<&Config::value, &V::cost, &domain::CostToServeRules::complaint_high_units>(),
     .limits = OnLoad(Range(0, kMaxUnits))},
    {.name = "value.complaint_critical_units",
     .field =
         Member<&Config::value, &V::cost, &domain::CostToServeRules::complaint_critical_units>(),
     .limits = OnLoad(Range(0, kMaxUnits))},
    {.name = "value.service_event_units",
     .field = Member<&Config::value, &V::cost, &domain::CostToServeRules::service_event_units>(),
     .limits = OnLoad(Range(0, kMaxUnits))},
    {.name = "value.loyalty_approving_purchases",
     .field = Member<&Config::value, &V::loyalty, &domain::LoyaltyRules::approving_purchases>(),
     .limits = OnLoad(Range(1, 1000))},
    {.name = "value.loyalty_advocate_nps",
     .field = Member<&Config::value, &V::loyalty, &domain::LoyaltyRules::advocate_nps>(),
     .limits = OnLoad(Range(0, 10))},
    {.name = "value.loyalty_loyal_renewals",
     .field = Member<&Config::value, &V::loyalty, &domain::LoyaltyRules::loyal_renewals>(),
     .limits = OnLoad(Range(1, 1000))},
    {.name = "value.loyalty_dependent_days",
     .field = Days<&Config::value, &V::loyalty, &domain::LoyaltyRules::dependent_tenure>(),
     .limits = OnLoad(Range(1, 36500))},
    {.name = "value.clv_horizon_months",
     .field = Member<&Config::value, &V::clv, &domain::ClvOptions::horizon_months>(),
     .limits = OnLoad(Range(1, 600))},
    {.name = "value.clv_annual_discount_percent",
     .field = AnnualDiscountPercent(),
     .limits = OnLoad(Range(0, 1000))},
    {.name = "value.clv_refit_hours",
     .field = Hours<&Config::value, &V::refit_interval>(),
     .limits = OnLoad(Range(1, 24 * 3650))},
    {.name = "value.clv_refit_population_change_percent",
     .field = Member<&Config::value, &V::refit_population_change_percent>(),
     .limits = OnLoad(Range(0, 1000))},
    {.name = "value.snapshot_max_staleness_seconds",
     .field = Seconds<&Config::value, &V::snapshot_max_staleness>(),
     .limits = OnLoad(Range(0, 86400))},
    {.name = "review.top_customers_percent",
     .field = Member<&Config::review, &ReviewConfig::top_customers_percent>(),
     .limits = OnLoad(Range(1, 100))},
    {.name = "review.sla_near_percent",
     .field = Member<&Config::review, &ReviewConfig::sla_near_percent>(),
     .limits = OnLoad(Range(0, 100))},
    {.name = "review.birthday_days",
     .field = Member<&Config::review, &ReviewConfig::birthday_days>(),
     .limits = OnLoad(Range(0, 366))},
    {.name = "review.contract_ending_days",
     .field = Member<&Config::review, &ReviewConfig::contract_ending_days>(),
     .limits = OnLoad(Range(0, 36500))},
    {.name = "review.declining_days",
     .field = Member<&Config::review, &ReviewConfig::declining_days>(),
     .limits = OnLoad(Range(0, 36500))},
    {.name = "review.tier_dimension",
     .field = Member<&Config::review, &ReviewConfig::tier_dimension>()},
    {.name = "lifecycle.new_period_days",
     .field = Days<&Config::lifecycle, &R::new_period>(),
     .limits = OnLoad(Range(1, 36500))},
    {.name = "lifecycle.dormant_lead_days",
     .field = Days<&Config::lifecycle, &R::dormant_lead>(),
     .limits = OnLoad(Range(1, 36500))},
    {.name = "lifecycle.lost_silence_days",
     .field = Days<&Config::lifecycle, &R::lost_silence>(),
     .limits = OnLoad(Range(1, 36500))},
    {.name = "lifecycle.revenue_window_days",
     .field = Days<&Config::lifecycle, &R::revenue_window>(),
     .limits = OnLoad(Range(1, 36500))},
    {.name = "lifecycle.growth_permille",
     .field = Member<&Config::lifecycle, &R::growth_permille>(),
     .limits = OnLoad(NotNegative())},
    {.name = "lifecycle.decline_permille",
     .field = Member<&Config::lifecycle, &R::decline_permille>(),
     .limits = OnLoad(NotNegative())},
    {.name = "lifecycle.min_decline_silence_days",
     .field = Days<&Config::lifecycle, &R::min_decline_silence>(),
     .limits = OnLoad(Range(1, 36500))},
    {.name = "lifecycle.default_median_gap_days",
     .field = Days<&Config::lifecycle, &R::default_median_gap>(),
     .limits = OnLoad(Range(1, 36500))},
    {.name = "lifecycle.dormant_risk_silence_days",
     .field = Days<&Config::lifecycle, &R::dormant_risk_silence>(),
     .limits = OnLoad(Range(1, 36500))},
    {.name = "lifecycle.man_budget_threshold_units",
     .field = Member<&Config::lifecycle, &R::man_budget_threshold_units>(),
     .limits = OnLoad(NotNegative())},
    {.name = "commands.reject_overpayment",
     .field = Member<&Config::commands, &K::reject_overpayment>()},
    {.name = "commands.opportunity_reopen_window_days",
     .field = Days<&Config::commands, &K::opportunity_reopen_window>(),
     .limits = OnLoad(Range(0, 36500))},
    {.name = "commands.payment_terms_days",
     .field = Days<&Config::commands, &K::default_payment_terms>(),
     .limits = OnLoad(Range(0, 36500))},
    {.name = "storage.log",
     .field = Member<&Config::log>(),
     .check = CheckLog,
     .flag = "--log",
     .help = "Event log: embedded|kafka",
     .help_shows_default = true},
    {.name = "kafka.bootstrap",
     .field = Member<&Config::kafka_bootstrap>(),
     .check = CheckKafkaBootstrap,
     .flag = "--kafka-bootstrap,--brokers",
     .help = "Kafka bootstrap servers host:port[,...] (implies --log kafka)",
     .flag_implies_key = "storage.log",
     .flag_implies_value = "kafka"},
    {.name = "kafka.group_prefix",
     .field = Member<&Config::kafka_group_prefix>(),
     .required = true},
    {.name = "kafka.session_timeout_ms",
     .field = Member<&Config::kafka_session_timeout_ms>(),
     .limits = Range(1000, 600'000)},
    {.name = "kafka.poll_interval_ms",
     .field = Member<&Config::kafka_poll_interval_ms>(),
     .limits = Range(1, 60'000),
     .flag = "--kafka-poll-interval-ms",
     .help = "How often to look for appends by other processes",
     .help_shows_default = true},
    {.name = "kafka.properties",
     .field = ConfigProperties{.member = &Config::kafka_properties},
     .flag = "--kafka-property",
     .flag_style = Style::kRepeated,
     .help = "A librdkafka property NAME=VALUE for every Kafka client (repeatable)"},
    {.name = "server.roles",
     .field = Member<&Config::roles>(),
     .check = CheckRoles,
     .flag = "--roles",
     .help = "Services to run: all, or some of ingest,commands,lifecycle,admin",
     .help_shows_default = true},
    {.name = "server.advertise",
     .field = Member<&Config::advertise>(),
     .flag = "--advertise",
     .help = "gRPC address other instances reach this one on (default: --listen)"},
    {.name = "log.level",
     .field = Member<&Config::log_level>(),
     .check = CheckLogLevel,
     .flag = "--log-level",
     .help = "trace|debug|info|warn|error"},
};

template <typename T>
constexpr bool Is(const ConfigKey& key) {
  return std::holds_alternative<T>(key.field);
}

// What the code reading the table relies on.
constexpr bool TableIsConsistent() {
  for (const ConfigKey& key : kKeys) {
    if (key.name.find('.') == std::string_view::npos) return false;
    if (key.limits.when != Limits::When::kNever && !Is<ConfigAccessor<int64_t>>(key)) return false;
    if (key.required && !Is<ConfigAccessor<std::string>>(key)) return false;
    if (Is<ConfigFindingPart>(key) != (key.name.find(kRuleId) != std::string_view::npos)) {
      return false;
    }
    if (key.flag.empty() != key.help.empty()) return false;
    if (!key.flag.empty()) {
      const bool scalar = Is<ConfigAccessor<std::string>>(key) ||
                          Is<ConfigAccessor<int64_t>>(key) || Is<ConfigAccessor<bool>>(key);
      switch (key.flag_style) {
        case Style::kValue:
          if (!scalar) return false;
          break;
        case Style::kOptionalValue:
        case Style::kSwitch:
          if (!Is<ConfigAccessor<bool>>(key)) return false;
          break;
        case Style::kRepeated:
          if (!Is<ConfigProperties>(key)) return false;
          break;
      }
    }
    if (!key.flag_implies_key.empty()) {
      bool found = false;
      for (const ConfigKey& other : kKeys) {
        found = found || (other.name == key.flag_implies_key && !other.flag.empty() &&
                          Is<ConfigAccessor<std::string>>(other));
      }
      if (!found) return false;
    }
    int same_name = 0;
    for (const ConfigKey& other : kKeys) same_name += other.name == key.name ? 1 : 0;
    if (same_name != 1) return false;
  }
  return true;
}
static_assert(TableIsConsistent());

// ---- Loading ----

template <typename T>
absl::StatusOr<T> As(const toml::node& node, const std::string& key) {
  if (std::optional<T> v = node.value<T>()) return *v;
  return absl::InvalidArgumentError(absl::StrCat(key, ": wrong type"));
}

// The ids of the default finding rules: the finding keys a file may set.
const std::set<std::string>& FindingIds() {
  static const auto* ids = [] {
    auto* ids = new std::set<std::string>();
    for (const domain::FindingRule& rule : domain::DefaultFindingRules()) ids->insert(rule.id);
    return ids;
  }();
  return *ids;
}

// A name in a file: its key, and the rule id of a finding key.
struct Resolved {
  const ConfigKey* key = nullptr;
  std::string rule_id;
};

std::optional<Resolved> Resolve(std::string_view name) {
  for (const ConfigKey& key : kKeys) {
    const size_t at = key.name.find(kRuleId);
    if (at == std::string_view::npos) {
      if (key.name == name) return Resolved{.key = &key};
      continue;
    }
    const std::string_view prefix = key.name.substr(0, at);
    const std::string_view suffix = key.name.substr(at + kRuleId.size());
    if (name.size() > prefix.size() + suffix.size() && name.starts_with(prefix) &&
        name.ends_with(suffix)) {
      std::string id(name.substr(prefix.size(), name.size() - prefix.size() - suffix.size()));
      if (FindingIds().contains(id)) return Resolved{.key = &key, .rule_id = std::move(id)};
    }
  }
  return std::nullopt;
}

domain::FindingRule* FindRule(Config& c, const std::string& id) {
  for (domain::FindingRule& r : c.review.findings.rules) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

std::string RatioText(const domain::Ratio& r) {
  return absl::StrCat(r.numerator(), "/", r.denominator());
}

absl::Status LoadProperties(const ConfigKey& key, const toml::node& n,
                            std::map<std::string, std::string>& properties) {
  const toml::table* t = n.as_table();
  if (t == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(key.name), ": expected a table of librdkafka properties"));
  }
  for (const auto& [name, value] : *t) {
    const std::string property = absl::StrCat(std::string(key.name), ".", std::string(name.str()));
    std::string text;
    if (value.is_string()) {
      text = *value.value<std::string>();
    } else if (value.is_boolean()) {
      text = *value.value<bool>() ? "true" : "false";
    } else if (value.is_integer()) {
      text = absl::StrCat(*value.value<int64_t>());
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(property, ": wrong type (a string, integer or boolean)"));
    }
    properties[std::string(name.str())] = text;
  }
  return absl::OkStatus();
}

absl::Status LoadFindingPart(ConfigFindingPart part, const std::string& name,
                             domain::FindingRule& rule, const toml::node& n) {
  switch (part) {
    case ConfigFindingPart::kThreshold: {
      std::optional<domain::Ratio> ratio;
      if (std::optional<int64_t> i = n.value<int64_t>()) {
        ratio = domain::Ratio::Integer(*i);
      } else if (std::optional<std::string> text = n.value<std::string>()) {
        std::vector<std::string> parts = absl::StrSplit(*text, '/');
        int64_t num = 0, den = 0;
        if (parts.size() == 2 && absl::SimpleAtoi(parts[0], &num) &&
            absl::SimpleAtoi(parts[1], &den)) {
          ratio = domain::Ratio::Of(num, den);
        }
      }
      if (!ratio) {
        return absl::InvalidArgumentError(
            absl::StrCat(name, ": an integer or \"numerator/denominator\" (denominator not 0)"));
      }
      rule.threshold = *ratio;
      return absl::OkStatus();
    }
    case ConfigFindingPart::kSeverity: {
      auto v = As<std::string>(n, name);
      if (!v.ok()) return v.status();
      v1::Severity severity;
      if (!v1::Severity_Parse(absl::StrCat("SEVERITY_", *v), &severity) ||
          severity == v1::SEVERITY_UNSPECIFIED) {
        return absl::InvalidArgumentError(absl::StrCat(name, ": LOW, MEDIUM, HIGH or CRITICAL"));
      }
      rule.severity = severity;
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(name, ": unknown key"));
}

// Sets the key `name` resolved to from its value `n` in a file.
absl::Status Load(const Resolved& resolved, const std::string& name, const toml::node& n,
                  Config& c) {
  const ConfigKey& key = *resolved.key;
  if (const auto* a = std::get_if<ConfigAccessor<std::string>>(&key.field)) {
    absl::StatusOr<std::string> v = As<std::string>(n, name);
    if (!v.ok()) return v.status();
    a->set(c, *std::move(v));
  } else if (const auto* a = std::get_if<ConfigAccessor<int64_t>>(&key.field)) {
    absl::StatusOr<int64_t> v = As<int64_t>(n, name);
    if (!v.ok()) return v.status();
    if (key.limits.when == Limits::When::kOnLoad) {
      if (absl::Status s = CheckLimits(key, *v); !s.ok()) return s;
    }
    a->set(c, *v);
  } else if (const auto* a = std::get_if<ConfigAccessor<bool>>(&key.field)) {
    absl::StatusOr<bool> v = As<bool>(n, name);
    if (!v.ok()) return v.status();
    a->set(c, *v);
  } else if (const auto* p = std::get_if<ConfigProperties>(&key.field)) {
    return LoadProperties(key, n, c.*p->member);
  } else if (const auto* part = std::get_if<ConfigFindingPart>(&key.field)) {
    domain::FindingRule* rule = FindRule(c, resolved.rule_id);
    if (rule == nullptr) return absl::InvalidArgumentError(absl::StrCat(name, ": unknown key"));
    return LoadFindingPart(*part, name, *rule, n);
  }
  return absl::OkStatus();
}

// ---- Printing ----

// Whether a librdkafka property holds a secret (shown as <redacted>).
bool SecretProperty(const std::string& name) {
  return name.find("password") != std::string::npos || name.find("secret") != std::string::npos ||
         name == "ssl.key.pem" || name == "ssl_key" || name == "sasl.oauthbearer.config" ||
         name == "ssl.keystore.password";
}

toml::table Redacted(const std::map<std::string, std::string>& properties) {
  toml::table t;
  for (const auto& [name, value] : properties) {
    t.insert(name, SecretProperty(name) ? std::string("<redacted>") : value);
  }
  return t;
}

// `[name]` of `root`, added if missing.
toml::table& Section(toml::table& root, std::string_view name) {
  return *root.insert(name, toml::table{}).first->second.as_table();
}

// Adds the key to its section of `root` as --print-config shows it.
void Print(const ConfigKey& key, const Config& c, toml::table& root) {
  const size_t dot = key.name.find('.');
  toml::table& section = Section(root, key.name.substr(0, dot));
  const std::string_view leaf = key.name.substr(dot + 1);
  if (const auto* a = std::get_if<ConfigAccessor<std::string>>(&key.field)) {
    section.insert(leaf, a->get(c));
  } else if (const auto* a = std::get_if<ConfigAccessor<int64_t>>(&key.field)) {
    section.insert(leaf, a->get(c));
  } else if (const auto* a = std::get_if<ConfigAccessor<bool>>(&key.field)) {
    section.insert(leaf, a->get(c));
  } else if (const auto* p = std::get_if<ConfigProperties>(&key.field)) {
    section.insert(leaf, Redacted(c.*p->member));
  } else if (const auto* part = std::get_if<ConfigFindingPart>(&key.field)) {
    const size_t at = leaf.find(kRuleId);
    for (const domain::FindingRule& rule : c.review.findings.rules) {
      const std::string name = absl::StrCat(std::string(leaf.substr(0, at)), rule.id,
                                            std::string(leaf.substr(at + kRuleId.size())));
      if (*part == ConfigFindingPart::kThreshold) {
        section.insert(name, RatioText(rule.threshold));
      } else {
        std::string severity = v1::Severity_Name(rule.severity);
        if (severity.starts_with("SEVERITY_")) severity = severity.substr(9);
        section.insert(name, severity);
      }
    }
  }
}

}  // namespace

std::span<const ConfigKey> ConfigKeys() { return kKeys; }

const ConfigKey* FindConfigKey(std::string_view name) {
  for (const ConfigKey& key : kKeys) {
    if (key.name == name) return &key;
  }
  std::optional<Resolved> resolved = Resolve(name);
  return resolved ? resolved->key : nullptr;
}

std::string ConfigFlagHelp(const ConfigKey& key) {
  if (!key.help_shows_default) return std::string(key.help);
  const Config defaults = Config();
  std::string value;
  if (const auto* a = std::get_if<ConfigAccessor<std::string>>(&key.field)) {
    value = a->get(defaults);
  } else if (const auto* a = std::get_if<ConfigAccessor<int64_t>>(&key.field)) {
    value = absl::StrCat(a->get(defaults));
  } else if (const auto* a = std::get_if<ConfigAccessor<bool>>(&key.field)) {
    value = a->get(defaults) ? "true" : "false";
  }
  return absl::StrCat(std::string(key.help), " (default ", value, ")");
}

absl::StatusOr<Config> LoadConfigFile(const std::string& path, Config base) {
  if (!std::filesystem::exists(path)) {
    return absl::NotFoundError(absl::StrCat("config file ", path, " does not exist"));
  }
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::ostringstream where;
    where << e.source().begin;
    return absl::InvalidArgumentError(
        absl::StrCat("config ", path, " ", where.str(), ": ", std::string(e.description())));
  }
  for (const auto& [section, node] : table) {
    const toml::table* inner = node.as_table();
    if (inner == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(section.str()), ": expected a [section]"));
    }
    for (const auto& [name, value] : *inner) {
      const std::string key =
          absl::StrCat(std::string(section.str()), ".", std::string(name.str()));
      std::optional<Resolved> resolved = Resolve(key);
      if (!resolved) return absl::InvalidArgumentError(absl::StrCat(key, ": unknown key"));
      if (absl::Status s = Load(*resolved, key, value, base); !s.ok()) return s;
    }
  }
  return base;
}

absl::Status Validate(const Config& c) {
  for (const ConfigKey& key : kKeys) {
    if (key.limits.when == Limits::When::kOnValidate) {
      const int64_t v = std::get<ConfigAccessor<int64_t>>(key.field).get(c);
      if (absl::Status s = CheckLimits(key, v); !s.ok()) return s;
    }
    if (key.required && std::get<ConfigAccessor<std::string>>(key.field).get(c).empty()) {
      return absl::InvalidArgumentError(absl::StrCat(std::string(key.name), ": required"));
    }
    if (key.check != nullptr) {
      if (absl::Status s = key.check(c); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

std::string ToToml(const Config& c) {
  toml::table t;
  for (const ConfigKey& key : kKeys) {
    if (key.printed) Print(key, c, t);
  }
  std::ostringstream out;
  out << t << "\n";
  return out.str();
}

bool HasRole(const Config& config, std::string_view role) {
  for (absl::string_view r : absl::StrSplit(config.roles, ',')) {
    if (r == "all" || r == absl::string_view(role.data(), role.size())) return true;
  }
  return false;
}

}  // namespace custops::app
