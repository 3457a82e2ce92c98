// import_cdnow: sends the CDNOW purchase log to a custops server through the
// command services (docs/value.md "CDNOW import"), then prints a report,
// including every row it could not map with its line number and reason.
//
//   import_cdnow --target 127.0.0.1:50051 --file .cache/data/cdnow/CDNOW_master.txt
#include <fstream>
#include <iostream>

#include "CLI/CLI.hpp"
#include "custops/cdnow/cdnow.h"
#include "custops/client/bulk.h"
#include "custops/client/client.h"

int main(int argc, char** argv) {
  CLI::App app{"import_cdnow: CDNOW purchases into custops as registrations and contracts"};
  std::string target = "127.0.0.1:50051";
  std::string file;
  std::string currency = "CNY";
  int parallelism = 8;
  bool dry_run = false;
  bool refit_clv = true;
  app.add_option("--target", target, "custops gRPC address host:port");
  app.add_option("--file", file, "CDNOW_master.txt or CDNOW_sample.txt")->required();
  app.add_option("--currency", currency, "the server's reporting currency (default CNY)");
  app.add_option("--parallelism", parallelism, "customers sent at a time (default 8)")
      ->check(CLI::Range(1, 256));
  app.add_flag("--dry-run", dry_run, "parse and report, send nothing");
  app.add_flag("--refit-clv,!--no-refit-clv", refit_clv,
               "refit the CLV model on everything imported once value has applied it "
               "(default on)");
  CLI11_PARSE(app, argc, argv);

  std::ifstream in(file);
  if (!in) {
    std::cerr << "import_cdnow: cannot read " << file << "\n";
    return 2;
  }
  const custops::cdnow::CdnowImport imp = custops::cdnow::ParseCdnow(in, {.currency = currency});
  std::cout << "rows " << imp.rows << ", customers " << imp.customers << ", purchases "
            << imp.purchases << ", events " << imp.events.size() << ", unmapped "
            << imp.unmapped.size() << "\n";
  for (const custops::cdnow::CdnowRowError& e : imp.unmapped) {
    std::cout << "unmapped line " << e.line << ": " << e.reason << ": " << e.text << "\n";
  }
  if (dry_run) return 0;
  custops::client::Client client(
      {.target = target, .deadline = absl::Seconds(30), .actor_id = "import_cdnow"});
  const custops::client::SubmitReport r =
      custops::client::SubmitAll(client, imp.events, parallelism);
  std::cout << "accepted " << r.accepted << ", duplicates " << r.duplicates << ", refused "
            << r.refused << "\n";
  for (const auto& [code, n] : r.refused_by_code)
    std::cout << "refused " << code << ": " << n << "\n";
  for (const std::string& example : r.examples) std::cout << "  " << example << "\n";
  if (!r.error.ok()) {
    std::cerr << "import_cdnow: " << r.error.ToString() << "\n";
    return 1;
  }
  std::cout << "consistency_token " << r.consistency_token << "\n";
  if (refit_clv && !r.consistency_token.empty()) {
    (void)custops::client::RefitAfterImport(client, r.consistency_token, std::cout);
  }
  return r.refused == 0 ? 0 : 3;
}
