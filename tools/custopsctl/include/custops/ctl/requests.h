// Requests built from custopsctl's flags, checked before anything is sent:
// enum names, RFC 3339 times and event type names. Errors are
// INVALID_ARGUMENT naming the flag ("--stage: unknown stage 'X' (one of
// ...)"). Pure functions, thread-safe.
//
//   ListArgs args{.stage = "intent", .region = "华东"};
//   absl::StatusOr<v1::ListCustomersRequest> request = MakeListCustomersRequest(args);
#ifndef CUSTOPS_CTL_REQUESTS_H_
#define CUSTOPS_CTL_REQUESTS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "custops/v1/ingest.pb.h"
#include "custops/v1/lifecycle.pb.h"

namespace custops::ctl {

// Flags every query takes. Empty = not given.
struct QueryArgs {
  std::string as_of;              // RFC 3339
  std::string consistency_token;  // from an append
};

absl::StatusOr<v1::GetCustomerRequest> MakeGetCustomerRequest(const std::string& customer_id,
                                                              const QueryArgs& query);

struct ListArgs {
  std::string stage;      // "INTENT" or "LIFECYCLE_STAGE_INTENT", any case
  std::string sub_stage;  // "GROWING" or "SUB_STAGE_GROWING"
  std::string region;
  std::string owner;
  std::string industry;
  std::string kind;   // "AGENT" or "CUSTOMER_KIND_AGENT"
  int page_size = 0;  // 0 = the server's default
  std::string page_token;
  QueryArgs query;
};

absl::StatusOr<v1::ListCustomersRequest> MakeListCustomersRequest(const ListArgs& args);

// `dimension` "REGION" or "DIMENSION_REGION"; empty = ALL.
absl::StatusOr<v1::StageSummaryRequest> MakeStageSummaryRequest(const std::string& dimension,
                                                                const QueryArgs& query);

absl::StatusOr<v1::TimelineRequest> MakeTimelineRequest(const std::string& customer_id,
                                                        int page_size,
                                                        const std::string& page_token,
                                                        const std::string& consistency_token);

// `from`: "earliest", "latest" or a resume token (empty = latest). `types`:
// payload names, "contract_signed" or "ContractSigned" (sent as
// snake_case); an unknown name is an error.
absl::StatusOr<v1::SubscribeRequest> MakeSubscribeRequest(
    const std::string& from, const std::vector<std::string>& types,
    const std::vector<std::string>& customers);

// Like MakeSubscribeRequest; change type names are passed as given.
absl::StatusOr<v1::SubscribeChangesRequest> MakeSubscribeChangesRequest(
    const std::string& from, const std::vector<std::string>& types,
    const std::vector<std::string>& customers);

}  // namespace custops::ctl

#endif  // CUSTOPS_CTL_REQUESTS_H_
