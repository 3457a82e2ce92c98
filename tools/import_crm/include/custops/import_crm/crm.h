// The B2B CRM data set (Maven Analytics "CRM Sales Opportunities", docs/import.md
// "Data sets") as custops events: accounts become
// customers, pipeline rows become opportunities, stage changes and contracts.
// Event ids are deterministic, so importing twice appends nothing new.
// The mapping is in docs/import.md.
//
//   ASSIGN_OR_RETURN(CrmImport plan, MapCrm(ReadCrmFiles(dir).value(), {}));
//   for (const v1::Event& e : plan.events) ...;          // send them
//   for (const UnmappedRow& r : plan.unmapped) ...;     // report them
#ifndef CUSTOPS_IMPORT_CRM_CRM_H_
#define CUSTOPS_IMPORT_CRM_CRM_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "custops/v1/events.pb.h"

namespace custops::import_crm {

// A CSV file: the header's column names and the rows (one value per column).
struct CsvTable {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
};

// Parses CSV text (RFC 4180 quoting). INVALID_ARGUMENT naming the line for a
// row with another number of fields than the header.
absl::StatusOr<CsvTable> ParseCsv(const std::string& text, const std::string& name);

struct CrmFiles {
  CsvTable accounts, products, sales_teams, sales_pipeline;
};
// Reads the four CSV files of `dir`. NOT_FOUND naming a missing file.
absl::StatusOr<CrmFiles> ReadCrmFiles(const std::string& dir);

struct CrmOptions {
  // The reporting currency the amounts (whole dollars in the data) are sent
  // in, as its major unit (x 100 minor units). Default: CNY
  std::string currency = "CNY";
  // Zone of the data's civil dates; each becomes 12:00 local. Default: Asia/Shanghai
  absl::TimeZone zone = absl::UTCTimeZone();
  // Event id prefix. Default: "crm"
  std::string id_prefix = "crm";
};

// A row the importer could not map, or mapped with an assumption.
struct UnmappedRow {
  std::string file;
  int line = 0;  // 1-based line in the file (the header is line 1)
  std::string id;
  std::string reason;
};

struct CrmImport {
  std::vector<v1::Event> events;  // one customer's events in time order
  std::vector<UnmappedRow> unmapped;
  // Rows mapped after fixing a known quirk ("GTXPro" -> "GTX Pro",
  // "technolgy" -> "technology") or with an assumed date (Prospecting rows
  // without an engage date), by what was done.
  std::map<std::string, int64_t> adjusted;
  int64_t customers = 0;
  int64_t opportunities = 0;
  int64_t contracts = 0;
};

// Maps the files. INVALID_ARGUMENT when a file lacks a needed column.
absl::StatusOr<CrmImport> MapCrm(const CrmFiles& files, const CrmOptions& options);

}  // namespace custops::import_crm

#endif  // CUSTOPS_IMPORT_CRM_CRM_H_
