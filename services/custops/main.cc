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
#include <deque>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "custops/app/app.h"
#include "custops/app/config.h"
#include "custops/base/process.h"

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
  using custops::app::ConfigAccessor;
  using custops::app::ConfigFlagStyle;
  using custops::app::ConfigKey;
  custops::base::SetUpServingProcess();
  CLI::App cli{"custops: event-sourced customer operations (客户经营平台), all in one process"};
  std::string config_path;
  bool print_config = false;
  cli.add_option("--config", config_path, "TOML configuration file");
  cli.add_flag("--print-config", print_config, "Print the effective configuration and exit");
  // The configuration keys' flags come from the key table (config.h).
  struct KeyFlag {
    const ConfigKey* key;
    std::optional<std::string> text;  // a string key
    std::optional<int> number;        // an integer key
    std::optional<bool> boolean;      // a bool key
    bool on = false;                  // a bool key's kSwitch flag
    std::vector<std::string> items;   // kRepeated: NAME=VALUE
    bool given() const { return text || number || boolean || on || !items.empty(); }
  };
  std::deque<KeyFlag> key_flags;  // CLI11 holds references to the members
  for (const ConfigKey& key : custops::app::ConfigKeys()) {
    if (key.flag.empty()) continue;
    KeyFlag& flag = key_flags.emplace_back(KeyFlag{.key = &key});
    const std::string names(key.flag);
    const std::string help = custops::app::ConfigFlagHelp(key);
    switch (key.flag_style) {
      case ConfigFlagStyle::kValue:
        if (std::holds_alternative<ConfigAccessor<std::string>>(key.field)) {
          cli.add_option(names, flag.text, help);
        } else if (std::holds_alternative<ConfigAccessor<int64_t>>(key.field)) {
          cli.add_option(names, flag.number, help);
        } else {
          cli.add_option(names, flag.boolean, help);
        }
        break;
      case ConfigFlagStyle::kOptionalValue:
        cli.add_option(names, flag.boolean, help)->expected(0, 1)->default_str("true");
        break;
      case ConfigFlagStyle::kSwitch:
        cli.add_flag(names, flag.on, help);
        break;
      case ConfigFlagStyle::kRepeated:
        cli.add_option(names, flag.items, help);
        break;
    }
  }
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
  // Flags override the file. What a flag implies goes first, so that the
  // other key's own flag wins (--kafka-bootstrap with --log embedded).
  for (const KeyFlag& flag : key_flags) {
    if (!flag.given() || flag.key->flag_implies_key.empty()) continue;
    std::get<ConfigAccessor<std::string>>(
        custops::app::FindConfigKey(flag.key->flag_implies_key)->field)
        .set(config, std::string(flag.key->flag_implies_value));
  }
  for (const KeyFlag& flag : key_flags) {
    const custops::app::ConfigField& field = flag.key->field;
    if (flag.text) std::get<ConfigAccessor<std::string>>(field).set(config, *flag.text);
    if (flag.number) std::get<ConfigAccessor<int64_t>>(field).set(config, *flag.number);
    if (flag.boolean) std::get<ConfigAccessor<bool>>(field).set(config, *flag.boolean);
    if (flag.on) std::get<ConfigAccessor<bool>>(field).set(config, true);
    for (const std::string& item : flag.items) {
      const size_t eq = item.find('=');
      if (eq == std::string::npos || eq == 0) {
        std::cerr << "custops: " << flag.key->flag << ": expected NAME=VALUE, got \"" << item
                  << "\"\n";
        return 2;
      }
      (config.*std::get<custops::app::ConfigProperties>(field).member)[item.substr(0, eq)] =
          item.substr(eq + 1);
    }
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
