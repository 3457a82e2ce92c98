// custops: the platform, all in one process on the embedded log, or its
// services as separate processes on Kafka (docs/kafka.md).
//
//   custops                       # ./data, 127.0.0.1:50051, metrics on :9464
//   custops --demo                # also load the demo population (idempotent)
//   custops --config custops.toml --print-config
//   custops --log kafka --kafka-bootstrap 127.0.0.1:9092 --roles ingest,commands,admin
//   custops --log kafka --kafka-bootstrap 127.0.0.1:9092 --roles lifecycle,admin
//           --listen 127.0.0.1:50061 --data-dir data/p1   # one projection instance
#include <pthread.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <string>
#include <system_error>
#include <thread>

#include "absl/strings/str_cat.h"
#include "custops/app/app.h"
#include "custops/app/config.h"

namespace {

// The console's files beside the binary: build/console for the build tree's
// build/services/custops/custops, share/custops/console for an install's
// bin/custops. "" when neither holds an index.html.
std::string FindConsole() {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  for (const fs::path& candidate :
       {exe.parent_path() / "../../console", exe.parent_path() / "../share/custops/console"}) {
    if (fs::is_regular_file(candidate / "index.html", ec)) {
      return fs::weakly_canonical(candidate, ec).string();
    }
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  using custops::app::Config;
  CLI::App cli{"custops: event-sourced customer operations (客户经营平台), all in one process"};
  std::string config_path;
  bool print_config = false;
  std::optional<std::string> listen, metrics_listen, data_dir, fixed_clock, log_level;
  std::optional<std::string> log_kind, kafka_bootstrap, roles, advertise;
  std::optional<std::string> tls_cert, tls_key, tls_client_ca, jwt_secret, jwt_public_key;
  std::optional<std::string> console_dir, console_dev_token_file;
  bool insecure = false;
  std::optional<int> partitions, demo_customers, kafka_poll_ms;
  std::optional<bool> sync, demo;
  cli.add_option("--config", config_path, "TOML configuration file");
  cli.add_flag("--print-config", print_config, "Print the effective configuration and exit");
  cli.add_option("--listen", listen, "gRPC address host:port (default 127.0.0.1:50051)");
  cli.add_option("--http-listen,--metrics-listen", metrics_listen,
                 "HTTP address host:port for /metrics, /healthz, /readyz; empty disables "
                 "(default 127.0.0.1:9464)");
  cli.add_option("--tls-cert", tls_cert, "PEM certificate chain: TLS on gRPC and HTTP");
  cli.add_option("--tls-key", tls_key, "PEM private key of --tls-cert");
  cli.add_option("--tls-client-ca", tls_client_ca,
                 "PEM CA: require client certificates it signed (mutual TLS)");
  cli.add_option("--jwt-hs256-secret-file", jwt_secret,
                 "Bearer JWT auth with this HS256 shared secret (docs/security.md)");
  cli.add_option("--jwt-public-key-file", jwt_public_key,
                 "Bearer JWT auth with this PEM public key (RS256 or ES256)");
  cli.add_option("--console-dir", console_dir,
                 "The ops console's built files (scripts/build-web.sh), served at / on the HTTP "
                 "listener (default: found beside the binary)");
  cli.add_option("--console-dev-token-file", console_dev_token_file,
                 "A token the console offers loopback clients (development)");
  cli.add_flag("--insecure", insecure,
               "Allow a non-loopback listen address without TLS and token auth");
  cli.add_option("--data-dir", data_dir, "Data directory (default ./data)");
  cli.add_option("--partitions", partitions,
                 "Partitions per topic for a new data dir (default 12)");
  cli.add_option("--sync", sync, "fsync every append: true|false (default true)");
  cli.add_option("--demo", demo, "Load the demo population: true|false")
      ->expected(0, 1)
      ->default_str("true");
  cli.add_option("--demo-customers", demo_customers, "Demo population size (default 3000)");
  cli.add_option("--fixed-clock", fixed_clock,
                 "Run on a fixed instant (RFC 3339) instead of the system clock");
  cli.add_option("--log-level", log_level, "trace|debug|info|warn|error");
  cli.add_option("--log", log_kind, "Event log: embedded|kafka (default embedded)");
  cli.add_option("--kafka-bootstrap,--brokers", kafka_bootstrap,
                 "Kafka bootstrap servers host:port[,...] (implies --log kafka)");
  cli.add_option("--kafka-poll-interval-ms", kafka_poll_ms,
                 "How often to look for appends by other processes (default 100)");
  std::vector<std::string> kafka_properties;
  cli.add_option("--kafka-property", kafka_properties,
                 "A librdkafka property NAME=VALUE for every Kafka client (repeatable)");
  cli.add_option("--roles", roles,
                 "Services to run: all, or some of ingest,commands,lifecycle,admin (default all)");
  cli.add_option("--advertise", advertise,
                 "gRPC address other instances reach this one on (default: --listen)");
  CLI11_PARSE(cli, argc, argv);

  Config config;
  if (!config_path.empty()) {
    absl::StatusOr<Config> loaded = custops::app::LoadConfigFile(config_path);
    if (!loaded.ok()) {
      std::cerr << "custops: " << loaded.status().message() << "\n";
      return 2;
    }
    config = *loaded;
  }
  if (listen) config.listen = *listen;
  if (metrics_listen) config.metrics_listen = *metrics_listen;
  if (data_dir) config.data_dir = *data_dir;
  if (partitions) config.partitions = *partitions;
  if (sync) config.sync = *sync;
  if (demo) config.demo = *demo;
  if (demo_customers) config.demo_customers = *demo_customers;
  if (fixed_clock) config.fixed_clock = *fixed_clock;
  if (log_level) config.log_level = *log_level;
  if (kafka_bootstrap) {
    config.kafka_bootstrap = *kafka_bootstrap;
    config.log = "kafka";
  }
  if (log_kind) config.log = *log_kind;
  if (roles) config.roles = *roles;
  if (kafka_poll_ms) config.kafka_poll_interval_ms = *kafka_poll_ms;
  if (advertise) config.advertise = *advertise;
  if (tls_cert) config.tls_cert_file = *tls_cert;
  if (tls_key) config.tls_key_file = *tls_key;
  if (tls_client_ca) config.tls_client_ca_file = *tls_client_ca;
  if (jwt_secret) config.jwt_hs256_secret_file = *jwt_secret;
  if (jwt_public_key) config.jwt_public_key_file = *jwt_public_key;
  if (insecure) config.insecure = true;
  if (console_dir) config.console_dir = *console_dir;
  if (console_dev_token_file) config.console_dev_token_file = *console_dev_token_file;
  for (const std::string& property : kafka_properties) {
    const size_t eq = property.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << "custops: --kafka-property: expected NAME=VALUE, got \"" << property << "\"\n";
      return 2;
    }
    config.kafka_properties[property.substr(0, eq)] = property.substr(eq + 1);
  }
  if (absl::Status s = custops::app::Validate(config); !s.ok()) {
    std::cerr << "custops: " << s.message() << "\n";
    return 2;
  }
  if (print_config) {
    std::cout << custops::app::ToToml(config);
    return 0;
  }
  if (config.console_dir.empty()) config.console_dir = FindConsole();
  // Logs (including audit lines, docs/security.md) go to stderr; stdout
  // carries only what the binary prints for its user.
  spdlog::set_default_logger(spdlog::stderr_color_mt("custops"));
  spdlog::set_level(spdlog::level::from_str(config.log_level));

  // Signals are taken by one thread with sigwait; every other thread blocks them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<std::unique_ptr<custops::app::App>> app = custops::app::App::Start(config);
  if (!app.ok()) {
    std::cerr << "custops: " << app.status().message() << "\n";
    return 1;
  }
  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    spdlog::info("signal {}: shutting down", sig);
    (*app)->Shutdown();
  });
  signal_thread.detach();

  std::cout << "custops "
            << "listening on " << (*app)->address() << " ("
            << (config.log == "kafka" ? "Kafka at " + config.kafka_bootstrap
                                      : "embedded log in " + config.data_dir)
            << ", " << config.partitions << " partitions, roles " << config.roles << ")"
            << std::endl;
  if ((*app)->metrics_port() != 0) {
    const std::string base =
        absl::StrCat(config.tls_cert_file.empty() ? "http" : "https", "://",
                     config.metrics_listen.substr(0, config.metrics_listen.rfind(':')), ":",
                     (*app)->metrics_port());
    std::cout << "console on " << base << "/"
              << ((*app)->console_served() ? "" : " (not built: run scripts/build-web.sh)") << "\n"
              << "JSON API on " << base << "/custops.v1.<Service>/<Method>\n"
              << "metrics on " << base << "/metrics" << std::endl;
  }
  if (config.demo) {
    absl::StatusOr<custops::app::DemoLoadResult> loaded = (*app)->LoadDemo();
    if (!loaded.ok()) {
      std::cerr << "custops: demo data: " << loaded.status().message() << "\n";
    } else {
      std::cout << "demo data: " << loaded->appended << " business actions accepted, "
                << loaded->duplicates << " already there, " << loaded->refused << " refused; "
                << loaded->org_appended << " organisation events (" << loaded->org_duplicates
                << " already there)" << std::endl;
      for (const std::string& example : loaded->examples) {
        std::cout << "  refused: " << example << std::endl;
      }
    }
  }
  std::cout << "ready. try:\n"
            << "  build/tools/custopsctl/custopsctl --server " << (*app)->address() << " summary\n"
            << "  grpcurl " << (config.tls_cert_file.empty() ? "-plaintext " : "")
            << (*app)->address() << " custops.v1.Lifecycle/StageSummary\n"
            << "stop with Ctrl-C" << std::endl;
  (*app)->Wait();
  return 0;
}
