// The effective configuration of a custops process: defaults, then the TOML
// file, then flags. `custops --print-config` prints it back as TOML.
//
//   ASSIGN_OR_RETURN(Config config, LoadConfigFile("custops.toml"));
//   std::cout << ToToml(config);
//
// Every key has one entry in the key table (ConfigKeys(), below): its TOML
// name, its field in Config, its limits and its flag. Loading, Validate,
// ToToml and custops's flags all read that table.
#ifndef CUSTOPS_APP_CONFIG_H_
#define CUSTOPS_APP_CONFIG_H_

#include <cstdint>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "custops/domain/aggregates.h"
#include "custops/domain/lifecycle.h"
#include "custops/domain/review.h"
#include "custops/value/value_engine.h"

namespace custops::app {

// Review (复盘) and worklist thresholds (docs/review.md); the reporting zone
// is `time_zone`.
struct ReviewConfig {
  // top20_revenue_share: share of the top this-percent of customers. Default: 20
  int64_t top_customers_percent = 20;
  // Worklist: a complaint is NEAR in the last this-percent of an SLA clock. Default: 25
  int64_t sla_near_percent = 25;
  // Worklist: birthdays this many days ahead (0 = today only). Default: 7
  int64_t birthday_days = 7;
  // Worklist: contracts ending within this many days. Default: 60
  int64_t contract_ending_days = 60;
  // Worklist: customers whose sub-stage turned DECLINING at most this many
  // days ago. Default: 30
  int64_t declining_days = 30;
  // Keep the per-customer slices behind the tier dimension (costs one more
  // dimension value per event when applying). Default: true
  bool tier_dimension = true;
  // Findings (docs/review.md): every rule's threshold and severity, as keys
  // `finding_<rule id>_threshold` (an integer or "numerator/denominator",
  // e.g. "4/5") and `finding_<rule id>_severity` (LOW, MEDIUM, HIGH,
  // CRITICAL). Default: domain::DefaultFindingRules()
  domain::FindingRules findings;
};

struct Config {
  // gRPC listen address. Default: 127.0.0.1:50051
  std::string listen = "127.0.0.1:50051";
  // The HTTP listener (/metrics, /healthz, /readyz); empty disables.
  // `server.http_listen` / --http-listen; `server.metrics_listen` /
  // --metrics-listen is its older name. Default: 127.0.0.1:9464
  std::string metrics_listen = "127.0.0.1:9464";
  // The front door (docs/security.md). Largest request per method, before
  // it is parsed. Default: 4 MiB
  int max_request_bytes = 4 << 20;
  // A consistency-token wait of a call without a deadline ends after this.
  // Default: 30000
  int max_wait_ms = 30'000;
  // Open streams / pending waits per client (token subject, or peer
  // address without auth). Default: 1000 / 5000
  int max_streams_per_client = 1000;
  int max_waits_per_client = 5000;
  // Worker threads for work that may block (appends, commands, value and
  // review evaluations). A command holds its worker until its append is
  // durable, so the workers bound how many commands share one fsync'd group
  // commit (docs/benchmarks.md "Where the business-command time goes").
  // Default: 32
  int workers = 32;
  // Allow a non-loopback listen address without TLS and token auth (logged
  // loudly). Default: false
  bool insecure = false;
  // The ops console's built files (scripts/build-web.sh), served at / on the
  // HTTP listener; `server.console_dir` / --console-dir. Empty: the binary
  // looks beside itself (docs/console.md); none found: / says how to build
  // it. Default: ""
  std::string console_dir;
  // A file holding a token the console offers loopback clients as "use the
  // dev token" (`server.console_dev_token_file`); empty: none. Default: ""
  std::string console_dev_token_file;
  // [tls]: PEM files; cert + key turn TLS on for gRPC and HTTP; client_ca
  // requires client certificates signed by it (mutual TLS).
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
  // [auth]: bearer JWTs; exactly one of the secret file (HS256) or the
  // public key file (RS256 / ES256) turns auth on.
  std::string jwt_hs256_secret_file;
  std::string jwt_public_key_file;
  std::string jwt_issuer;
  std::string jwt_audience;
  // Verified tokens kept (by their text, until they expire); 0 verifies
  // every call's signature. Default: 10000
  int jwt_cache_entries = 10'000;
  // Data directory (event log + projection state). Default: ./data
  std::string data_dir = "./data";
  // Partitions of the customer-events topic (and the others). Default: 12
  int partitions = 12;
  // fsync the event log on every append. Default: true
  bool sync = true;
  // The one reporting currency. Default: CNY
  std::string currency = "CNY";
  // Reporting time zone (IANA). Default: Asia/Shanghai
  std::string time_zone = "Asia/Shanghai";
  // Largest Append batch. Default: 1000
  int max_events_per_request = 1000;
  // Largest gRPC message in bytes. Default: 16 MiB
  int max_message_bytes = 16 << 20;
  // A fixed instant (RFC 3339) for the injected clock instead of the system
  // clock: deterministic answers for replays and tests. Default: "" (system)
  std::string fixed_clock;
  // Load the demo population at start (idempotent). Default: false
  bool demo = false;
  // Demo population size. Default: 3000
  int demo_customers = 3000;
  // Demo random seed. Default: 42
  uint64_t demo_seed = 42;
  // Log level: trace, debug, info, warn, error. Default: info
  std::string log_level = "info";
  // Which event log: "embedded" (RocksDB under data_dir) or "kafka" (the
  // cluster at kafka_bootstrap; data_dir then holds projection state only).
  // Default: embedded
  std::string log = "embedded";
  // Kafka bootstrap servers host:port[,...]; required with log = "kafka".
  // Default: ""
  std::string kafka_bootstrap;
  // Prefix of the projections' consumer groups ("<prefix>.lifecycle").
  // Default: custops
  std::string kafka_group_prefix = "custops";
  // How long a crashed projection instance keeps its partitions (ms).
  // Default: 6000
  int kafka_session_timeout_ms = 6000;
  // How often a process looks for appends by other processes (projections,
  // subscriptions): the floor of event -> query freshness. Default: 100
  int kafka_poll_interval_ms = 100;
  // librdkafka properties for every producer, consumer and group member of
  // this process ([kafka.properties] or --kafka-property NAME=VALUE):
  // security.protocol, sasl.*, ssl.* for a secured cluster; linger.ms,
  // compression.codec, fetch.* to tune. Applied after custops's own settings,
  // so they override them; a name librdkafka does not know fails the start.
  // Default: none
  std::map<std::string, std::string> kafka_properties;
  // The services this process runs, comma-separated, from: ingest (EventIngest,
  // Subscriptions), commands (Customers, Visits, Deals, Complaints),
  // lifecycle (the projection and its queries), admin; "all" for every one.
  // Default: all
  std::string roles = "all";
  // The gRPC address other instances reach this one on (query routing);
  // empty: the bound listen address. Default: ""
  std::string advertise;
  // Lifecycle thresholds (docs/lifecycle.md).
  domain::LifecycleRules lifecycle;
  // Command-side rules (docs/state-machines.md); `currency` above wins over
  // commands.currency.
  domain::CommandRules commands;
  // Value rules (docs/value.md); `currency` above wins over value.currency.
  value::ValueRules value;
  // Review and worklist thresholds.
  ReviewConfig review;
};

// Reads a TOML file over the defaults. INVALID_ARGUMENT naming the key for a
// wrong type or unknown key; NOT_FOUND for a missing file.
absl::StatusOr<Config> LoadConfigFile(const std::string& path, Config base = Config());

// Checks ranges and formats. INVALID_ARGUMENT naming the key.
absl::Status Validate(const Config& config);

std::string ToToml(const Config& config);

// Whether `config.roles` includes `role` ("all" includes every role).
bool HasRole(const Config& config, std::string_view role);

// The key table, after RocksDB's options type map: one ConfigKey per key.
// A key's default is the initializer of its field in Config above.

// A key's value in Config, as the file and --print-config write it. `get`
// reads it; `set` stores a value that has passed the key's load limits.
// Keys in days, hours or seconds convert here.
template <typename T>
struct ConfigAccessor {
  T (*get)(const Config&) = nullptr;
  void (*set)(Config&, T) = nullptr;
};

// A table of NAME = VALUE texts (kafka.properties).
struct ConfigProperties {
  std::map<std::string, std::string> Config::*member = nullptr;
};

// One key per rule of review.findings, the rule id in place of "<id>" in
// the key's name: its threshold (an integer or "numerator/denominator") or
// its severity (LOW, MEDIUM, HIGH, CRITICAL).
enum class ConfigFindingPart { kThreshold, kSeverity };

using ConfigField = std::variant<ConfigAccessor<std::string>, ConfigAccessor<int64_t>,
                                 ConfigAccessor<bool>, ConfigProperties, ConfigFindingPart>;

// An integer key's limits, lo..hi inclusive, and its error when outside:
// "<key>: <lo>..<hi>", "<key>: at least <lo>" or "<key>: must not be negative".
struct ConfigLimits {
  // LoadConfigFile refuses the file, or Validate refuses the Config.
  enum class When { kNever, kOnLoad, kOnValidate };
  enum class Wording { kRange, kAtLeast, kNotNegative };
  When when = When::kNever;
  Wording wording = Wording::kRange;
  int64_t lo = std::numeric_limits<int64_t>::min();
  int64_t hi = std::numeric_limits<int64_t>::max();
};

// How a key's command-line flag takes its value.
enum class ConfigFlagStyle {
  kValue,          // --name VALUE
  kOptionalValue,  // --name [true|false]; a bare --name is true (a bool key)
  kSwitch,         // --name turns a bool key on; without it the key keeps its value
  kRepeated,       // --name NAME=VALUE, repeatable (a ConfigProperties key)
};

struct ConfigKey {
  // Dotted TOML name: "storage.partitions" is `partitions` under [storage].
  std::string_view name;
  ConfigField field;
  ConfigLimits limits;
  // A string key that must not be empty (Validate: "<name>: required").
  bool required = false;
  // The rest of Validate for this key (formats, keys it must agree with).
  absl::Status (*check)(const Config&) = nullptr;
  // False for an older name that loads but is not printed.
  bool printed = true;
  // The command-line flag's names for CLI11 ("--http-listen,--metrics-listen");
  // empty: the key has no flag.
  std::string_view flag;
  ConfigFlagStyle flag_style = ConfigFlagStyle::kValue;
  std::string_view help;
  // Whether ConfigFlagHelp appends " (default <the default>)".
  bool help_shows_default = false;
  // Another string key the flag sets too, unless that key's own flag is
  // given: --kafka-bootstrap implies --log kafka.
  std::string_view flag_implies_key;
  std::string_view flag_implies_value;
};

// Every key, in the order Validate checks them.
std::span<const ConfigKey> ConfigKeys();

// The key named `name`, or nullptr. A finding key answers to its table name
// ("review.finding_<id>_threshold") and to each default rule's
// ("review.finding_churn_up_threshold").
const ConfigKey* FindConfigKey(std::string_view name);

// The flag's help: `help`, then " (default X)" when help_shows_default.
std::string ConfigFlagHelp(const ConfigKey& key);

}  // namespace custops::app

#endif  // CUSTOPS_APP_CONFIG_H_
