// Sending many ready events as business actions (the demo loader,
// importers): one customer's events in order, customers in parallel.
#ifndef CUSTOPS_CLIENT_BULK_H_
#define CUSTOPS_CLIENT_BULK_H_

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "custops/client/client.h"

namespace custops::client {

struct SubmitReport {
  int64_t accepted = 0;
  int64_t duplicates = 0;  // already submitted earlier (same event id)
  // Refused by the business rules (INVALID_ARGUMENT, FAILED_PRECONDITION,
  // NOT_FOUND, ALREADY_EXISTS): counted by status code name, with the first
  // few "event_id: message" lines as examples.
  int64_t refused = 0;
  std::map<std::string, int64_t> refused_by_code;
  std::vector<std::string> examples;
  // The first failure that was not a refusal (the server unreachable after
  // the client's retries); the submission stops there.
  absl::Status error;
  // A consistency token covering every accepted or duplicate submission
  // (empty when there was none): a query passing it reads all of them.
  std::string consistency_token;
};

// Submits `events` with Client::Submit: the events of one customer one after
// the other in the given order; `parallelism` customers at a time.
SubmitReport SubmitAll(Client& client, const std::vector<v1::Event>& events, int parallelism = 8);

// After a bulk import: refits the CLV model once value has applied
// everything `consistency_token` covers, so "now" answers use a fit on all
// of it (docs/value.md "CLV refit"), and prints a line about it to `out`.
// Not an error when it cannot (no Value service at the target, no admin
// role): it prints what to run instead and returns the status.
absl::Status RefitAfterImport(Client& client, const std::string& consistency_token,
                              std::ostream& out);

}  // namespace custops::client

#endif  // CUSTOPS_CLIENT_BULK_H_
