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
#include "absl/time/time.h"
#include "custops/ctl/parse.h"
#include "custops/v1/ingest.pb.h"
#include "custops/v1/lifecycle.pb.h"
#include "custops/v1/review.pb.h"
#include "custops/v1/value.pb.h"

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

// --- value -----------------------------------------------------------------

absl::StatusOr<v1::GetValueRequest> MakeGetValueRequest(const std::string& customer_id,
                                                        const QueryArgs& query);

struct ValueListArgs {
  std::string tier;  // "GOLD" or "TIER_GOLD"
  std::string segment;
  std::string abc_class;  // A, B or C
  bool negative_asset_only = false;
  bool vip_only = false;
  std::string region;
  std::string industry;
  std::string owner;
  int page_size = 0;
  std::string page_token;
  QueryArgs query;
};

absl::StatusOr<v1::ListValueCustomersRequest> MakeListValueCustomersRequest(
    const ValueListArgs& args);

// `dimension`: ALL (empty), REGION, INDUSTRY or OWNER.
absl::StatusOr<v1::TierSummaryRequest> MakeTierSummaryRequest(const std::string& dimension,
                                                              const QueryArgs& query);
absl::StatusOr<v1::ParetoRequest> MakeParetoRequest(const std::string& dimension,
                                                    const QueryArgs& query);
// `query.as_of` RFC 3339 (empty = now); `query.consistency_token`: fit once
// value has applied what it covers (e.g. an import's token).
absl::StatusOr<v1::RefitClvRequest> MakeRefitClvRequest(const QueryArgs& query);

// --- review ----------------------------------------------------------------

struct ReviewArgs {
  PeriodArgs period;
  std::string dimension;  // empty = ALL
  std::string value;      // --value: one dimension value
  int history = 0;        // --history: periods of Metric.history, 0..24
  int page_size = 0;      // funnel and compare
  std::string page_token;
  std::string consistency_token;
};

// `now` picks the period when --period is not given.
absl::StatusOr<v1::GetReviewRequest> MakeGetReviewRequest(const ReviewArgs& args, absl::Time now);
absl::StatusOr<v1::FunnelRequest> MakeFunnelRequest(const ReviewArgs& args, absl::Time now);
// --dimension is required and may not be ALL; --value is not taken.
absl::StatusOr<v1::CompareReviewRequest> MakeCompareReviewRequest(const ReviewArgs& args,
                                                                  absl::Time now);

struct WorklistArgs {
  std::string owner;  // exactly one of owner and region
  std::string region;
  int page_size = 0;
  std::string page_token;
  QueryArgs query;
};

absl::StatusOr<v1::WorklistRequest> MakeWorklistRequest(const WorklistArgs& args);

// "revenue,win_rate" → {"revenue", "win_rate"}; "all" or "" → {} (every
// metric). Each name must be a review metric (labels.h KnownMetrics).
absl::StatusOr<std::vector<std::string>> ParseMetricList(const std::string& text);

}  // namespace custops::ctl

#endif  // CUSTOPS_CTL_REQUESTS_H_
