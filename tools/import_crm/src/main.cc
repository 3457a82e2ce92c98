// import_crm: imports the B2B CRM data set (docs/import.md "Data sets") into
// a custops server through EventIngest.Append, and
// reports the rows it could not map (docs/import.md). Event ids are
// deterministic: a second import appends nothing.
//
//   import_crm --data .cache/data/crm-sales-opportunities --target 127.0.0.1:50051
//
// Exit codes: 0 ok, 1 usage, unreadable files or a server error.
#include <CLI/CLI.hpp>
#include <iostream>
#include <map>

#include "absl/strings/str_cat.h"
#include "custops/client/bulk.h"
#include "custops/client/client.h"
#include "custops/import_crm/crm.h"
#include "custops/projection/token.h"

namespace {

using custops::import_crm::CrmImport;

int Run(const std::string& data, const std::string& target, const std::string& currency,
        const std::string& zone_name, int batch, bool dry_run, bool refit_clv) {
  absl::TimeZone zone;
  if (!absl::LoadTimeZone(zone_name, &zone)) {
    std::cerr << "error: unknown time zone " << zone_name << std::endl;
    return 1;
  }
  auto files = custops::import_crm::ReadCrmFiles(data);
  if (!files.ok()) {
    std::cerr << "error: " << files.status() << std::endl;
    return 1;
  }
  auto plan = custops::import_crm::MapCrm(*files, {.currency = currency, .zone = zone});
  if (!plan.ok()) {
    std::cerr << "error: " << plan.status() << std::endl;
    return 1;
  }
  for (const auto& u : plan->unmapped) {
    std::cout << "unmapped " << u.file << ":" << u.line << " " << u.id << ": " << u.reason << "\n";
  }
  std::map<std::string, int64_t> by_reason;
  for (const auto& u : plan->unmapped) ++by_reason[u.reason];
  for (const auto& [reason, n] : by_reason)
    std::cout << "unmapped_rows " << n << " " << reason << "\n";
  for (const auto& [what, n] : plan->adjusted)
    std::cout << "adjusted_rows " << n << " " << what << "\n";
  std::cout << "customers " << plan->customers << "\nopportunities " << plan->opportunities
            << "\ncontracts " << plan->contracts << "\nevents " << plan->events.size() << "\n";
  if (dry_run) return 0;

  custops::client::Client client({.target = target, .deadline = absl::Seconds(60)});
  // The token of the whole import: the furthest position per partition.
  custops::projection::PositionSet merged;
  int64_t appended = 0, duplicates = 0;
  for (size_t i = 0; i < plan->events.size(); i += batch) {
    custops::v1::AppendRequest req;
    for (size_t j = i; j < std::min(plan->events.size(), i + batch); ++j) {
      *req.add_events() = plan->events[j];
    }
    auto resp = client.Append(req);
    if (!resp.ok()) {
      std::cerr << "error: append: " << resp.status() << std::endl;
      return 1;
    }
    for (const auto& r : resp->results()) (r.duplicate() ? duplicates : appended) += 1;
    auto token = custops::projection::DecodeToken(resp->consistency_token(), "consistency_token");
    if (token.ok()) custops::projection::MergePositions(merged, *token);
  }
  const std::string token = custops::projection::EncodeToken(merged);
  std::cout << "appended " << appended << "\nduplicates " << duplicates << "\n"
            << "consistency_token " << token << std::endl;
  if (refit_clv && !merged.topic().empty()) {
    (void)custops::client::RefitAfterImport(client, token, std::cout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Import the CRM Sales Opportunities data set into custops"};
  std::string data, target = "127.0.0.1:50051", currency = "CNY", zone = "Asia/Shanghai";
  int batch = 500;
  bool dry_run = false;
  bool refit_clv = true;
  app.add_option("--data", data, "folder with accounts.csv, products.csv, ...")->required();
  app.add_option("--target", target, "custops gRPC address");
  app.add_option("--currency", currency, "the server's reporting currency");
  app.add_option("--time-zone", zone, "zone of the data's dates (each at 12:00 local)");
  app.add_option("--batch", batch, "events per Append")->check(CLI::Range(1, 1000));
  app.add_flag("--dry-run", dry_run, "map and report only");
  app.add_flag("--refit-clv,!--no-refit-clv", refit_clv,
               "refit the CLV model on everything imported once value has applied it "
               "(default on)");
  CLI11_PARSE(app, argc, argv);
  return Run(data, target, currency, zone, batch, dry_run, refit_clv);
}
