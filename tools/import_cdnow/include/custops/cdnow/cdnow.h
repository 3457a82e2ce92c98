// Reading the CDNOW purchase logs (docs/import.md "Data sets", docs/value.md
// "CDNOW import") into custops events: each customer's registration and one
// ContractSigned per purchase row, with deterministic ids so a re-import
// adds nothing.
//
//   std::ifstream in("CDNOW_master.txt");
//   CdnowImport imp = ParseCdnow(in, {.currency = "CNY"});
//   for (const CdnowRowError& e : imp.unmapped) std::cerr << e.line << ": " << e.reason;
//   client::SubmitAll(client, imp.events);
#ifndef CUSTOPS_CDNOW_CDNOW_H_
#define CUSTOPS_CDNOW_CDNOW_H_

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

#include "custops/v1/events.pb.h"

namespace custops::cdnow {

struct CdnowOptions {
  // Currency of the amounts (the deployment's). Default: CNY
  std::string currency = "CNY";
  // Prefix of customer ids: "<prefix><CDNOW id>". Default: "cdnow-"
  std::string id_prefix = "cdnow-";
  // Region / owner put on the registrations. Defaults: "CDNOW", "import"
  std::string region = "CDNOW";
  std::string owner_id = "import";
};

struct CdnowRowError {
  int64_t line = 0;  // 1-based
  std::string text;
  std::string reason;
};

struct CdnowImport {
  int64_t rows = 0;       // data rows read (not the header or blank lines)
  int64_t purchases = 0;  // rows mapped to a ContractSigned
  int64_t customers = 0;
  // Per customer (in order of first appearance): CustomerRegistered, then
  // its purchases in file order.
  std::vector<v1::Event> events;
  std::vector<CdnowRowError> unmapped;
};

// Rows: "id YYYYMMDD quantity dollars" (CDNOW_master.txt) or "id sample_id
// YYYYMMDD quantity dollars" (CDNOW_sample.txt); whitespace separated, CRLF
// accepted, a header line is skipped. The customer id is the first column.
// A row that does not parse (columns, date, quantity, amount with more than
// two decimals or negative) is reported in `unmapped` and skipped.
CdnowImport ParseCdnow(std::istream& in, const CdnowOptions& options);

}  // namespace custops::cdnow

#endif  // CUSTOPS_CDNOW_CDNOW_H_
