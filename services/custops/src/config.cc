#include "custops/app/config.h"

#include <filesystem>
#include <functional>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
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

std::map<std::string, Setter> Setters() {
  using R = domain::LifecycleRules;
  return {
      {"server.listen", String(&Config::listen, "server.listen")},
      {"server.metrics_listen", String(&Config::metrics_listen, "server.metrics_listen")},
      {"server.max_events_per_request",
       Int(&Config::max_events_per_request, "server.max_events_per_request")},
      {"server.max_message_bytes", Int(&Config::max_message_bytes, "server.max_message_bytes")},
      {"storage.data_dir", String(&Config::data_dir, "storage.data_dir")},
      {"storage.partitions", Int(&Config::partitions, "storage.partitions")},
      {"storage.sync", Bool(&Config::sync, "storage.sync")},
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
  if (c.demo_customers < 1 || c.demo_customers > 1'000'000) {
    return absl::InvalidArgumentError("demo.customers: 1..1000000");
  }
  static const char* kLevels[] = {"trace", "debug", "info", "warn", "error"};
  if (std::find(std::begin(kLevels), std::end(kLevels), c.log_level) == std::end(kLevels)) {
    return absl::InvalidArgumentError("log.level: one of trace, debug, info, warn, error");
  }
  return absl::OkStatus();
}

std::string ToToml(const Config& c) {
  const domain::LifecycleRules& r = c.lifecycle;
  toml::table t{
      {"server", toml::table{{"listen", c.listen},
                             {"metrics_listen", c.metrics_listen},
                             {"max_events_per_request", c.max_events_per_request},
                             {"max_message_bytes", c.max_message_bytes}}},
      {"storage",
       toml::table{{"data_dir", c.data_dir}, {"partitions", c.partitions}, {"sync", c.sync}}},
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
      {"demo", toml::table{{"load", c.demo},
                           {"customers", c.demo_customers},
                           {"seed", static_cast<int64_t>(c.demo_seed)}}},
      {"log", toml::table{{"level", c.log_level}}},
      {"review", toml::table{{"top_customers_percent", c.review.top_customers_percent},
                             {"sla_near_percent", c.review.sla_near_percent},
                             {"birthday_days", c.review.birthday_days},
                             {"contract_ending_days", c.review.contract_ending_days}}},
  };
  std::ostringstream out;
  out << t << "\n";
  return out.str();
}

}  // namespace custops::app
