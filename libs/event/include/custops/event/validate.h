// Validation of events as they enter the platform: every field of every
// payload, with an error that names the field path. The rules, field by field,
// are in docs/validation.md. All functions are pure and thread-safe; a valid
// event is checked without allocating.
//
//   absl::Status s = ValidateAppendRequest(request, {});
//   // INVALID_ARGUMENT "events[3].contract_signed.amount.currency: must be CNY, got USD"
#ifndef CUSTOPS_EVENT_VALIDATE_H_
#define CUSTOPS_EVENT_VALIDATE_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "custops/v1/events.pb.h"
#include "custops/v1/ingest.pb.h"

namespace custops::event {

struct ValidationOptions {
  // The one reporting currency; every Money must carry it. Default: "CNY"
  std::string currency = "CNY";
  // Ids are 1..max_id_bytes bytes of valid UTF-8. Default: 128
  size_t max_id_bytes = 128;
  // Free-text fields (names, notes, reasons) at most this long. Default: 4096
  size_t max_text_bytes = 4096;
  // Events per Append / AppendOrg request. Default: 1000
  size_t max_events_per_request = 1000;
};

// Checks one customer event. `path` prefixes field names in the error
// ("events[3]"). INVALID_ARGUMENT naming the first bad field; OK otherwise.
// recorded_at is ignored (the log sets it).
absl::Status ValidateEvent(const v1::Event& event, const ValidationOptions& options,
                           std::string_view path = "event");

// Checks one organisation event, like ValidateEvent.
absl::Status ValidateOrgEvent(const v1::OrgEvent& event, const ValidationOptions& options,
                              std::string_view path = "event");

// Checks a whole request: not empty, not over max_events_per_request, and
// every event ("events[i]..."). Nothing may be appended unless this is OK.
absl::Status ValidateAppendRequest(const v1::AppendRequest& request,
                                   const ValidationOptions& options);
absl::Status ValidateAppendOrgRequest(const v1::AppendOrgRequest& request,
                                      const ValidationOptions& options);

}  // namespace custops::event

#endif  // CUSTOPS_EVENT_VALIDATE_H_
