#include "custops/app/config.h"

#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "toml++/toml.h"

namespace custops::app {
namespace {

int64_t Days(absl::Duration d) { return absl::ToInt64Hours(d) / 24; }

// One setter per known key; unknown keys are errors so typos are not ignored.
using Setter = std::function<absl::Status(const toml::node&, Config&)>;

template <typename T>
absl::StatusOr<T> As(const toml::node& node, const std::string& key) {
  if (std::optional<T> v = node.value<T>()) return *v;
  return absl::InvalidArgumentError(absl::StrCat(key, ": wrong type"));
}

Setter String(std::string Config::*field, const std::string& key) {
  return [field, key](const toml::node& n, Config& c) -> absl::Status {
    auto v = As<std::string>(n, key);
    if (!v.ok()) return v.status();
    c.*field = *v;
    return absl::OkStatus();
  };
}

template <typename T>
Setter Int(T Config::*field, const std::string& key) {
  return [field, key](const toml::node& n, Config& c) -> absl::Status {
    auto v = As<int64_t>(n, key);
    if (!v.ok()) return v.status();
    c.*field = static_cast<T>(*v);
    return absl::OkStatus();
  };
}

Setter Bool(bool Config::*field, const std::string& key) {
  return [field, key](const toml::node& n, Config& c) -> absl::Status {
    auto v = As<bool>(n, key);
    if (!v.ok()) return v.status();
    c.*field = *v;
    return absl::OkStatus();
  };
}

Setter RuleDays(absl::Duration domain::LifecycleRules::*field, const std::string& key) {
  return [field, key](const toml::node& n, Config& c) -> absl::Status {
    auto v = As<int64_t>(n, key);
    if (!v.ok()) return v.status();
    if (*v < 1 || *v > 36500) return absl::InvalidArgumentError(absl::StrCat(key, ": 1..36500"));
    c.lifecycle.*field = absl::Hours(24 * *v);
    return absl::OkStatus();
  };
}

Setter RuleInt(int64_t domain::LifecycleRules::*field, const std::string& key) {
  return [field, key](const toml::node& n, Config& c) -> absl::Status {
    auto v = As<int64_t>(n, key);
    if (!v.ok()) return v.status();
    if (*v < 0) return absl::InvalidArgumentError(absl::StrCat(key, ": must not be negative"));
    c.lifecycle.*field = *v;
    return absl::OkStatus();
  };
}

Setter CommandDays(absl::Duration domain::CommandRules::*field, const std::string& key) {
  return [field, key](const toml::node& n, Config& c) -> absl::Status {
    auto v = As<int64_t>(n, key);
    if (!v.ok()) return v.status();
    if (*v < 0 || *v > 36500) return absl::InvalidArgumentError(absl::StrCat(key, ": 0..36500"));
    c.commands.*field = absl::Hours(24 * *v);
    return absl::OkStatus();
  };
}

std::map<std::string, Setter> BaseSetters();

// [value] integer keys: a range and where the value goes.
Setter ValueInt(const std::string& key, int64_t lo, int64_t hi,
                std::function<void(value::ValueRules&, int64_t)> set) {
  return [key, lo, hi, set](const toml::node& n, Config& c) -> absl::Status {
    auto v = As<int64_t>(n, key);
    if (!v.ok()) return v.status();
    if (*v < lo || *v > hi) {
      return absl::InvalidArgumentError(absl::StrCat(key, ": ", lo, "..", hi));
    }
    set(c.value, *v);
    return absl::OkStatus();
  };
}

Setter ReviewInt(int64_t ReviewConfig::*field, const std::string& key, int64_t lo, int64_t hi) {
  return [field, key, lo, hi](const toml::node& n, Config& c) -> absl::Status {
    auto v = As<int64_t>(n, key);
    if (!v.ok()) return v.status();
    if (*v < lo || *v > hi) {
      return absl::InvalidArgumentError(absl::StrCat(key, ": ", lo, "..", hi));
    }
    c.review.*field = *v;
    return absl::OkStatus();
  };
}

// (1 + monthly)^12 - 1 in whole percent, and back.
int64_t AnnualPercent(double monthly) {
  return std::llround((std::pow(1 + monthly, 12) - 1) * 100);
}
double MonthlyRate(int64_t annual_percent) {
  return std::pow(1 + static_cast<double>(annual_percent) / 100, 1.0 / 12) - 1;
}

void AddValueSetters(std::map<std::string, Setter>& s) {
  using V = value::ValueRules;
  constexpr int64_t kMaxUnits = int64_t{1} << 50;
  s["value.window_days"] = ValueInt("value.window_days", 1, 36500,
                                    [](V& v, int64_t x) { v.rfm.window = absl::Hours(24 * x); });
  s["value.abc_a_percent"] =
      ValueInt("value.abc_a_percent", 1, 100, [](V& v, int64_t x) { v.abc.a_percent = x; });
  s["value.abc_b_percent"] =
      ValueInt("value.abc_b_percent", 1, 100, [](V& v, int64_t x) { v.abc.b_percent = x; });
  s["value.tier_diamond_percent"] =
      ValueInt("value.tier_diamond_percent", 0, 100,
               [](V& v, int64_t x) { v.tiers.diamond_cum_percent = x; });
  s["value.tier_platinum_percent"] =
      ValueInt("value.tier_platinum_percent", 0, 100,
               [](V& v, int64_t x) { v.tiers.platinum_cum_percent = x; });
  s["value.tier_gold_percent"] = ValueInt("value.tier_gold_percent", 0, 100,
                                          [](V& v, int64_t x) { v.tiers.gold_cum_percent = x; });
  s["value.tier_silver_percent"] = ValueInt(
      "value.tier_silver_percent", 0, 100, [](V& v, int64_t x) { v.tiers.silver_cum_percent = x; });
  s["value.prospect_big_pipeline_units"] =
      ValueInt("value.prospect_big_pipeline_units", 0, kMaxUnits,
               [](V& v, int64_t x) { v.prospects.big_pipeline_units = x; });
  s["value.visit_cost_units"] = ValueInt("value.visit_cost_units", 0, kMaxUnits,
                                         [](V& v, int64_t x) { v.cost.visit_cost_units = x; });
  s["value.complaint_low_units"] =
      ValueInt("value.complaint_low_units", 0, kMaxUnits,
               [](V& v, int64_t x) { v.cost.complaint_low_units = x; });
  s["value.complaint_medium_units"] =
      ValueInt("value.complaint_medium_units", 0, kMaxUnits,
               [](V& v, int64_t x) { v.cost.complaint_medium_units = x; });
  s["value.complaint_high_units"] =
      ValueInt("value.complaint_high_units", 0, kMaxUnits,
               [](V& v, int64_t x) { v.cost.complaint_high_units = x; });
  s["value.complaint_critical_units"] =
      ValueInt("value.complaint_critical_units", 0, kMaxUnits,
               [](V& v, int64_t x) { v.cost.complaint_critical_units = x; });
  s["value.service_event_units"] =
      ValueInt("value.service_event_units", 0, kMaxUnits,
               [](V& v, int64_t x) { v.cost.service_event_units = x; });
  s["value.loyalty_approving_purchases"] =
      ValueInt("value.loyalty_approving_purchases", 1, 1000,
               [](V& v, int64_t x) { v.loyalty.approving_purchases = x; });
  s["value.loyalty_advocate_nps"] =
      ValueInt("value.loyalty_advocate_nps", 0, 10,
               [](V& v, int64_t x) { v.loyalty.advocate_nps = static_cast<int32_t>(x); });
  s["value.loyalty_loyal_renewals"] =
      ValueInt("value.loyalty_loyal_renewals", 1, 1000,
               [](V& v, int64_t x) { v.loyalty.loyal_renewals = x; });
  s["value.loyalty_dependent_days"] =
      ValueInt("value.loyalty_dependent_days", 1, 36500,
               [](V& v, int64_t x) { v.loyalty.dependent_tenure = absl::Hours(24 * x); });
  s["value.clv_horizon_months"] = ValueInt("value.clv_horizon_months", 1, 600, [](V& v, int64_t x) {
    v.clv.horizon_months = static_cast<int>(x);
  });
  s["value.clv_annual_discount_percent"] =
      ValueInt("value.clv_annual_discount_percent", 0, 1000,
               [](V& v, int64_t x) { v.clv.monthly_discount_rate = MonthlyRate(x); });
  s["value.clv_refit_hours"] = ValueInt("value.clv_refit_hours", 1, 24 * 3650,
                                        [](V& v, int64_t x) { v.refit_interval = absl::Hours(x); });
  s["value.clv_refit_population_change_percent"] =
      ValueInt("value.clv_refit_population_change_percent", 0, 1000,
               [](V& v, int64_t x) { v.refit_population_change_percent = x; });
  s["value.snapshot_max_staleness_seconds"] =
      ValueInt("value.snapshot_max_staleness_seconds", 0, 86400,
               [](V& v, int64_t x) { v.snapshot_max_staleness = absl::Seconds(x); });
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

// review.finding_<id>_threshold / _severity for every default rule.
void AddFindingSetters(std::map<std::string, Setter>& s) {
  for (const domain::FindingRule& rule : domain::DefaultFindingRules()) {
    const std::string id = rule.id;
    const std::string tkey = absl::StrCat("review.finding_", id, "_threshold");
    s[tkey] = [id, tkey](const toml::node& n, Config& c) -> absl::Status {
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
            absl::StrCat(tkey, ": an integer or \"numerator/denominator\" (denominator not 0)"));
      }
      FindRule(c, id)->threshold = *ratio;
      return absl::OkStatus();
    };
    const std::string skey = absl::StrCat("review.finding_", id, "_severity");
    s[skey] = [id, skey](const toml::node& n, Config& c) -> absl::Status {
      auto v = As<std::string>(n, skey);
      if (!v.ok()) return v.status();
      v1::Severity severity;
      if (!v1::Severity_Parse(absl::StrCat("SEVERITY_", *v), &severity) ||
          severity == v1::SEVERITY_UNSPECIFIED) {
        return absl::InvalidArgumentError(absl::StrCat(skey, ": LOW, MEDIUM, HIGH or CRITICAL"));
      }
      FindRule(c, id)->severity = severity;
      return absl::OkStatus();
    };
  }
}

std::map<std::string, Setter> Setters() {
  std::map<std::string, Setter> s = BaseSetters();
  AddValueSetters(s);
  AddFindingSetters(s);
  return s;
}

std::map<std::string, Setter> BaseSetters() {
  using R = domain::LifecycleRules;
  return {
      {"server.listen", String(&Config::listen, "server.listen")},
      {"server.metrics_listen", String(&Config::metrics_listen, "server.metrics_listen")},
      {"server.http_listen", String(&Config::metrics_listen, "server.http_listen")},
      {"server.max_request_bytes", Int(&Config::max_request_bytes, "server.max_request_bytes")},
      {"server.max_wait_ms", Int(&Config::max_wait_ms, "server.max_wait_ms")},
      {"server.max_streams_per_client",
       Int(&Config::max_streams_per_client, "server.max_streams_per_client")},
      {"server.max_waits_per_client",
       Int(&Config::max_waits_per_client, "server.max_waits_per_client")},
      {"server.workers", Int(&Config::workers, "server.workers")},
      {"server.insecure", Bool(&Config::insecure, "server.insecure")},
      {"server.console_dir", String(&Config::console_dir, "server.console_dir")},
      {"server.console_dev_token_file",
       String(&Config::console_dev_token_file, "server.console_dev_token_file")},
      {"tls.cert_file", String(&Config::tls_cert_file, "tls.cert_file")},
      {"tls.key_file", String(&Config::tls_key_file, "tls.key_file")},
      {"tls.client_ca_file", String(&Config::tls_client_ca_file, "tls.client_ca_file")},
      {"auth.jwt_hs256_secret_file",
       String(&Config::jwt_hs256_secret_file, "auth.jwt_hs256_secret_file")},
      {"auth.jwt_public_key_file",
       String(&Config::jwt_public_key_file, "auth.jwt_public_key_file")},
      {"auth.issuer", String(&Config::jwt_issuer, "auth.issuer")},
      {"auth.audience", String(&Config::jwt_audience, "auth.audience")},
      {"auth.cache_entries", Int(&Config::jwt_cache_entries, "auth.cache_entries")},
      {"server.max_events_per_request",
       Int(&Config::max_events_per_request, "server.max_events_per_request")},
      {"server.max_message_bytes", Int(&Config::max_message_bytes, "server.max_message_bytes")},
      {"storage.data_dir", String(&Config::data_dir, "storage.data_dir")},
      {"storage.partitions", Int(&Config::partitions, "storage.partitions")},
      {"storage.sync", Bool(&Config::sync, "storage.sync")},
      {"storage.log", String(&Config::log, "storage.log")},
      {"kafka.bootstrap", String(&Config::kafka_bootstrap, "kafka.bootstrap")},
      {"kafka.group_prefix", String(&Config::kafka_group_prefix, "kafka.group_prefix")},
      {"kafka.session_timeout_ms",
       Int(&Config::kafka_session_timeout_ms, "kafka.session_timeout_ms")},
      {"kafka.poll_interval_ms", Int(&Config::kafka_poll_interval_ms, "kafka.poll_interval_ms")},
      {"kafka.properties",
       [](const toml::node& n, Config& c) -> absl::Status {
         const toml::table* t = n.as_table();
         if (t == nullptr) {
           return absl::InvalidArgumentError(
               "kafka.properties: expected a table of librdkafka properties");
         }
         for (const auto& [name, value] : *t) {
           const std::string key = absl::StrCat("kafka.properties.", std::string(name.str()));
           std::string text;
           if (value.is_string()) {
             text = *value.value<std::string>();
           } else if (value.is_boolean()) {
             text = *value.value<bool>() ? "true" : "false";
           } else if (value.is_integer()) {
             text = absl::StrCat(*value.value<int64_t>());
           } else {
             return absl::InvalidArgumentError(
                 absl::StrCat(key, ": wrong type (a string, integer or boolean)"));
           }
           c.kafka_properties[std::string(name.str())] = text;
         }
         return absl::OkStatus();
       }},
      {"server.roles", String(&Config::roles, "server.roles")},
      {"server.advertise", String(&Config::advertise, "server.advertise")},
      {"domain.currency", String(&Config::currency, "domain.currency")},
      {"domain.time_zone", String(&Config::time_zone, "domain.time_zone")},
      {"domain.fixed_clock", String(&Config::fixed_clock, "domain.fixed_clock")},
      {"demo.load", Bool(&Config::demo, "demo.load")},
      {"demo.customers", Int(&Config::demo_customers, "demo.customers")},
      {"demo.seed", Int(&Config::demo_seed, "demo.seed")},
      {"log.level", String(&Config::log_level, "log.level")},
      {"lifecycle.new_period_days", RuleDays(&R::new_period, "lifecycle.new_period_days")},
      {"lifecycle.dormant_lead_days", RuleDays(&R::dormant_lead, "lifecycle.dormant_lead_days")},
      {"lifecycle.lost_silence_days", RuleDays(&R::lost_silence, "lifecycle.lost_silence_days")},
      {"lifecycle.revenue_window_days",
       RuleDays(&R::revenue_window, "lifecycle.revenue_window_days")},
      {"lifecycle.min_decline_silence_days",
       RuleDays(&R::min_decline_silence, "lifecycle.min_decline_silence_days")},
      {"lifecycle.default_median_gap_days",
       RuleDays(&R::default_median_gap, "lifecycle.default_median_gap_days")},
      {"lifecycle.dormant_risk_silence_days",
       RuleDays(&R::dormant_risk_silence, "lifecycle.dormant_risk_silence_days")},
      {"lifecycle.growth_permille", RuleInt(&R::growth_permille, "lifecycle.growth_permille")},
      {"lifecycle.decline_permille", RuleInt(&R::decline_permille, "lifecycle.decline_permille")},
      {"lifecycle.man_budget_threshold_units",
       RuleInt(&R::man_budget_threshold_units, "lifecycle.man_budget_threshold_units")},
      {"commands.reject_overpayment",
       [](const toml::node& n, Config& c) -> absl::Status {
         auto v = As<bool>(n, "commands.reject_overpayment");
         if (!v.ok()) return v.status();
         c.commands.reject_overpayment = *v;
         return absl::OkStatus();
       }},
      {"commands.opportunity_reopen_window_days",
       CommandDays(&domain::CommandRules::opportunity_reopen_window,
                   "commands.opportunity_reopen_window_days")},
      {"commands.payment_terms_days",
       CommandDays(&domain::CommandRules::default_payment_terms, "commands.payment_terms_days")},
      {"review.top_customers_percent",
       ReviewInt(&ReviewConfig::top_customers_percent, "review.top_customers_percent", 1, 100)},
      {"review.sla_near_percent",
       ReviewInt(&ReviewConfig::sla_near_percent, "review.sla_near_percent", 0, 100)},
      {"review.birthday_days",
       ReviewInt(&ReviewConfig::birthday_days, "review.birthday_days", 0, 366)},
      {"review.contract_ending_days",
       ReviewInt(&ReviewConfig::contract_ending_days, "review.contract_ending_days", 0, 36500)},
      {"review.declining_days",
       ReviewInt(&ReviewConfig::declining_days, "review.declining_days", 0, 36500)},
      {"review.tier_dimension",
       [](const toml::node& n, Config& c) -> absl::Status {
         auto v = As<bool>(n, "review.tier_dimension");
         if (!v.ok()) return v.status();
         c.review.tier_dimension = *v;
         return absl::OkStatus();
       }},
  };
}

}  // namespace

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
  const std::map<std::string, Setter> setters = Setters();
  for (const auto& [section, node] : table) {
    const toml::table* inner = node.as_table();
    if (inner == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(section.str()), ": expected a [section]"));
    }
    for (const auto& [name, value] : *inner) {
      const std::string key =
          absl::StrCat(std::string(section.str()), ".", std::string(name.str()));
      auto it = setters.find(key);
      if (it == setters.end())
        return absl::InvalidArgumentError(absl::StrCat(key, ": unknown key"));
      if (absl::Status s = it->second(value, base); !s.ok()) return s;
    }
  }
  return base;
}

absl::Status Validate(const Config& c) {
  if (c.listen.empty()) return absl::InvalidArgumentError("server.listen: required");
  if (c.data_dir.empty()) return absl::InvalidArgumentError("storage.data_dir: required");
  if (c.partitions < 1 || c.partitions > 1024) {
    return absl::InvalidArgumentError("storage.partitions: 1..1024");
  }
  if (c.currency.size() != 3) {
    return absl::InvalidArgumentError("domain.currency: an ISO 4217 code such as CNY");
  }
  absl::TimeZone tz;
  if (!absl::LoadTimeZone(c.time_zone, &tz)) {
    return absl::InvalidArgumentError(absl::StrCat("domain.time_zone: unknown zone ", c.time_zone));
  }
  if (!c.fixed_clock.empty()) {
    absl::Time t;
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, c.fixed_clock, &t, &err)) {
      return absl::InvalidArgumentError(
          absl::StrCat("domain.fixed_clock: not RFC 3339 (", err, ")"));
    }
  }
  if (c.max_events_per_request < 1 || c.max_events_per_request > 100'000) {
    return absl::InvalidArgumentError("server.max_events_per_request: 1..100000");
  }
  if (c.max_message_bytes < 4096) {
    return absl::InvalidArgumentError("server.max_message_bytes: at least 4096");
  }
  if (c.max_request_bytes < 4096 || c.max_request_bytes > c.max_message_bytes) {
    return absl::InvalidArgumentError(
        "server.max_request_bytes: at least 4096 and at most server.max_message_bytes");
  }
  if (c.max_wait_ms < 1) return absl::InvalidArgumentError("server.max_wait_ms: at least 1");
  if (c.max_streams_per_client < 1) {
    return absl::InvalidArgumentError("server.max_streams_per_client: at least 1");
  }
  if (c.max_waits_per_client < 1) {
    return absl::InvalidArgumentError("server.max_waits_per_client: at least 1");
  }
  if (c.workers < 1 || c.workers > 256) return absl::InvalidArgumentError("server.workers: 1..256");
  if (c.jwt_cache_entries < 0) return absl::InvalidArgumentError("auth.cache_entries: at least 0");
  if (c.tls_cert_file.empty() != c.tls_key_file.empty()) {
    return absl::InvalidArgumentError("tls.cert_file and tls.key_file: set both or neither");
  }
  if (!c.tls_client_ca_file.empty() && c.tls_cert_file.empty()) {
    return absl::InvalidArgumentError("tls.client_ca_file: needs tls.cert_file and tls.key_file");
  }
  if (!c.jwt_hs256_secret_file.empty() && !c.jwt_public_key_file.empty()) {
    return absl::InvalidArgumentError(
        "auth.jwt_hs256_secret_file and auth.jwt_public_key_file: set one, not both");
  }
  if (c.demo_customers < 1 || c.demo_customers > 1'000'000) {
    return absl::InvalidArgumentError("demo.customers: 1..1000000");
  }
  if (c.value.abc.a_percent > c.value.abc.b_percent) {
    return absl::InvalidArgumentError("value.abc_a_percent: must not exceed value.abc_b_percent");
  }
  if (absl::Status s = domain::ValidateFindingRules(c.review.findings); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("review.finding_*: ", s.message()));
  }
  const domain::TierRules& t = c.value.tiers;
  if (t.diamond_cum_percent > t.platinum_cum_percent ||
      t.platinum_cum_percent > t.gold_cum_percent || t.gold_cum_percent > t.silver_cum_percent) {
    return absl::InvalidArgumentError(
        "value.tier_diamond_percent: tier bounds must be cumulative (diamond <= platinum <= gold "
        "<= silver)");
  }
  if (c.log != "embedded" && c.log != "kafka") {
    return absl::InvalidArgumentError("storage.log: embedded or kafka");
  }
  if (c.log == "kafka" && c.kafka_bootstrap.empty()) {
    return absl::InvalidArgumentError("kafka.bootstrap: required with storage.log = \"kafka\"");
  }
  if (c.kafka_group_prefix.empty())
    return absl::InvalidArgumentError("kafka.group_prefix: required");
  if (c.kafka_session_timeout_ms < 1000 || c.kafka_session_timeout_ms > 600'000) {
    return absl::InvalidArgumentError("kafka.session_timeout_ms: 1000..600000");
  }
  if (c.kafka_poll_interval_ms < 1 || c.kafka_poll_interval_ms > 60'000) {
    return absl::InvalidArgumentError("kafka.poll_interval_ms: 1..60000");
  }
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
  static const char* kLevels[] = {"trace", "debug", "info", "warn", "error"};
  if (std::find(std::begin(kLevels), std::end(kLevels), c.log_level) == std::end(kLevels)) {
    return absl::InvalidArgumentError("log.level: one of trace, debug, info, warn, error");
  }
  return absl::OkStatus();
}

static toml::table ReviewTable(const ReviewConfig& r) {
  toml::table t{{"top_customers_percent", r.top_customers_percent},
                {"sla_near_percent", r.sla_near_percent},
                {"birthday_days", r.birthday_days},
                {"contract_ending_days", r.contract_ending_days},
                {"declining_days", r.declining_days},
                {"tier_dimension", r.tier_dimension}};
  for (const domain::FindingRule& rule : r.findings.rules) {
    std::string severity = v1::Severity_Name(rule.severity);
    if (severity.starts_with("SEVERITY_")) severity = severity.substr(9);
    t.insert(absl::StrCat("finding_", rule.id, "_threshold"), RatioText(rule.threshold));
    t.insert(absl::StrCat("finding_", rule.id, "_severity"), severity);
  }
  return t;
}

// Whether a librdkafka property holds a secret (shown as <redacted>).
static bool SecretProperty(const std::string& name) {
  return name.find("password") != std::string::npos || name.find("secret") != std::string::npos ||
         name == "ssl.key.pem" || name == "ssl_key" || name == "sasl.oauthbearer.config" ||
         name == "ssl.keystore.password";
}

static toml::table KafkaProperties(const Config& c) {
  toml::table t;
  for (const auto& [name, value] : c.kafka_properties) {
    t.insert(name, SecretProperty(name) ? std::string("<redacted>") : value);
  }
  return t;
}

std::string ToToml(const Config& c) {
  const domain::LifecycleRules& r = c.lifecycle;
  toml::table t{
      {"server", toml::table{{"listen", c.listen},
                             {"roles", c.roles},
                             {"advertise", c.advertise},
                             {"http_listen", c.metrics_listen},
                             {"max_events_per_request", c.max_events_per_request},
                             {"max_message_bytes", c.max_message_bytes},
                             {"max_request_bytes", c.max_request_bytes},
                             {"max_wait_ms", c.max_wait_ms},
                             {"max_streams_per_client", c.max_streams_per_client},
                             {"max_waits_per_client", c.max_waits_per_client},
                             {"workers", c.workers},
                             {"insecure", c.insecure},
                             {"console_dir", c.console_dir},
                             {"console_dev_token_file", c.console_dev_token_file}}},
      {"tls", toml::table{{"cert_file", c.tls_cert_file},
                          {"key_file", c.tls_key_file},
                          {"client_ca_file", c.tls_client_ca_file}}},
      {"auth", toml::table{{"jwt_hs256_secret_file", c.jwt_hs256_secret_file},
                           {"jwt_public_key_file", c.jwt_public_key_file},
                           {"issuer", c.jwt_issuer},
                           {"audience", c.jwt_audience},
                           {"cache_entries", c.jwt_cache_entries}}},
      {"storage", toml::table{{"data_dir", c.data_dir},
                              {"partitions", c.partitions},
                              {"sync", c.sync},
                              {"log", c.log}}},
      {"kafka", toml::table{{"bootstrap", c.kafka_bootstrap},
                            {"group_prefix", c.kafka_group_prefix},
                            {"session_timeout_ms", c.kafka_session_timeout_ms},
                            {"poll_interval_ms", c.kafka_poll_interval_ms},
                            {"properties", KafkaProperties(c)}}},
      {"domain",
       toml::table{
           {"currency", c.currency}, {"time_zone", c.time_zone}, {"fixed_clock", c.fixed_clock}}},
      {"lifecycle", toml::table{{"new_period_days", Days(r.new_period)},
                                {"dormant_lead_days", Days(r.dormant_lead)},
                                {"lost_silence_days", Days(r.lost_silence)},
                                {"revenue_window_days", Days(r.revenue_window)},
                                {"growth_permille", r.growth_permille},
                                {"decline_permille", r.decline_permille},
                                {"min_decline_silence_days", Days(r.min_decline_silence)},
                                {"default_median_gap_days", Days(r.default_median_gap)},
                                {"dormant_risk_silence_days", Days(r.dormant_risk_silence)},
                                {"man_budget_threshold_units", r.man_budget_threshold_units}}},
      {"commands",
       toml::table{{"reject_overpayment", c.commands.reject_overpayment},
                   {"opportunity_reopen_window_days", Days(c.commands.opportunity_reopen_window)},
                   {"payment_terms_days", Days(c.commands.default_payment_terms)}}},
      {"value",
       toml::table{
           {"window_days", Days(c.value.rfm.window)},
           {"abc_a_percent", c.value.abc.a_percent},
           {"abc_b_percent", c.value.abc.b_percent},
           {"tier_diamond_percent", c.value.tiers.diamond_cum_percent},
           {"tier_platinum_percent", c.value.tiers.platinum_cum_percent},
           {"tier_gold_percent", c.value.tiers.gold_cum_percent},
           {"tier_silver_percent", c.value.tiers.silver_cum_percent},
           {"prospect_big_pipeline_units", c.value.prospects.big_pipeline_units},
           {"visit_cost_units", c.value.cost.visit_cost_units},
           {"complaint_low_units", c.value.cost.complaint_low_units},
           {"complaint_medium_units", c.value.cost.complaint_medium_units},
           {"complaint_high_units", c.value.cost.complaint_high_units},
           {"complaint_critical_units", c.value.cost.complaint_critical_units},
           {"service_event_units", c.value.cost.service_event_units},
           {"loyalty_approving_purchases", c.value.loyalty.approving_purchases},
           {"loyalty_advocate_nps", c.value.loyalty.advocate_nps},
           {"loyalty_loyal_renewals", c.value.loyalty.loyal_renewals},
           {"loyalty_dependent_days", Days(c.value.loyalty.dependent_tenure)},
           {"clv_horizon_months", c.value.clv.horizon_months},
           {"clv_annual_discount_percent", AnnualPercent(c.value.clv.monthly_discount_rate)},
           {"clv_refit_hours", absl::ToInt64Hours(c.value.refit_interval)},
           {"clv_refit_population_change_percent", c.value.refit_population_change_percent},
           {"snapshot_max_staleness_seconds",
            absl::ToInt64Seconds(c.value.snapshot_max_staleness)}}},
      {"demo", toml::table{{"load", c.demo},
                           {"customers", c.demo_customers},
                           {"seed", static_cast<int64_t>(c.demo_seed)}}},
      {"log", toml::table{{"level", c.log_level}}},
      {"review", ReviewTable(c.review)},
  };
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
