#include "custops/ctl/requests.h"

#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "custops/ctl/labels.h"
#include "custops/ctl/parse.h"
#include "custops/event/payload.h"
#include "custops/event/time.h"

namespace custops::ctl {
namespace {

// `status` with the flag in front: "--stage: unknown stage ...".
absl::Status ForFlag(const char* flag, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(flag, ": ", std::string(status.message())));
}

absl::Status ApplyQuery(const QueryArgs& query, google::protobuf::Timestamp* as_of,
                        std::string* consistency_token) {
  if (!query.as_of.empty()) {
    absl::StatusOr<absl::Time> t = ParseRfc3339(query.as_of);
    if (!t.ok()) return ForFlag("--as-of", t.status());
    *as_of = event::ToProto(*t);
  }
  *consistency_token = query.consistency_token;
  return absl::OkStatus();
}

absl::Status CheckPageSize(int page_size) {
  if (page_size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--page-size: must be positive, got ", page_size));
  }
  return absl::OkStatus();
}

// The paging flags onto a request.
template <typename Args, typename Request>
absl::Status SetPage(const Args& args, Request& request) {
  if (absl::Status status = CheckPageSize(args.page_size); !status.ok()) return status;
  request.set_page_size(args.page_size);
  request.set_page_token(args.page_token);
  return absl::OkStatus();
}

// The paging flags and --as-of / --consistency-token onto a request (as_of
// left unset when not given: the server's now).
template <typename Args, typename Request>
absl::Status SetPageAndQuery(const Args& args, Request& request) {
  if (absl::Status status = SetPage(args, request); !status.ok()) return status;
  absl::Status status =
      ApplyQuery(args.query, request.mutable_as_of(), request.mutable_consistency_token());
  if (!status.ok()) return status;
  if (args.query.as_of.empty()) request.clear_as_of();
  return absl::OkStatus();
}

// ALL (empty) or one of `allowed`.
absl::StatusOr<v1::Dimension> DimensionFlag(const std::string& text,
                                            std::initializer_list<v1::Dimension> allowed) {
  if (text.empty()) return v1::DIMENSION_ALL;
  absl::StatusOr<v1::Dimension> d = ParseDimension(text);
  if (!d.ok()) return ForFlag("--dimension", d.status());
  if (*d == v1::DIMENSION_ALL) return *d;
  for (v1::Dimension a : allowed) {
    if (a == *d) return *d;
  }
  std::vector<std::string> names = {"ALL"};
  for (v1::Dimension a : allowed) names.push_back(ShortEnumName(*v1::Dimension_descriptor(), a));
  return absl::InvalidArgumentError(
      absl::StrCat("--dimension: ", text, " is not one of ", absl::StrJoin(names, ", "), " here"));
}

// The dimension and value of a review slice: --value needs a dimension
// other than ALL.
absl::Status ApplySlice(const ReviewArgs& args, v1::Dimension* dimension,
                        std::string* dimension_value) {
  absl::StatusOr<v1::Dimension> d = DimensionFlag(
      args.dimension, {v1::DIMENSION_REGION, v1::DIMENSION_INDUSTRY, v1::DIMENSION_OWNER,
                       v1::DIMENSION_CHANNEL, v1::DIMENSION_PRODUCT, v1::DIMENSION_TIER});
  if (!d.ok()) return d.status();
  if (*d == v1::DIMENSION_ALL && !args.value.empty()) {
    return absl::InvalidArgumentError(
        "--value: needs --dimension (e.g. --dimension region --value 华东)");
  }
  *dimension = *d;
  *dimension_value = args.value;
  if (*d == v1::DIMENSION_TIER && !args.value.empty()) {
    // Tier values are the tier names: accept gold / TIER_GOLD for GOLD.
    absl::StatusOr<v1::Tier> tier = ParseTier(args.value);
    if (!tier.ok()) return ForFlag("--value", tier.status());
    *dimension_value = ShortEnumName(*v1::Tier_descriptor(), *tier);
  }
  return absl::OkStatus();
}

absl::StatusOr<ResolvedPeriod> Period(const ReviewArgs& args, absl::Time now) {
  return ResolvePeriod(args.period, now);
}

}  // namespace

absl::StatusOr<v1::GetCustomerRequest> MakeGetCustomerRequest(const std::string& customer_id,
                                                              const QueryArgs& query) {
  if (customer_id.empty()) return absl::InvalidArgumentError("CUSTOMER_ID: required");
  v1::GetCustomerRequest request;
  request.set_customer_id(customer_id);
  absl::Status status =
      ApplyQuery(query, request.mutable_as_of(), request.mutable_consistency_token());
  if (!status.ok()) return status;
  if (query.as_of.empty()) request.clear_as_of();
  return request;
}

absl::StatusOr<v1::ListCustomersRequest> MakeListCustomersRequest(const ListArgs& args) {
  v1::ListCustomersRequest request;
  v1::CustomerFilter& filter = *request.mutable_filter();
  if (!args.stage.empty()) {
    absl::StatusOr<v1::LifecycleStage> stage = ParseLifecycleStage(args.stage);
    if (!stage.ok()) return ForFlag("--stage", stage.status());
    filter.set_stage(*stage);
  }
  if (!args.sub_stage.empty()) {
    absl::StatusOr<v1::SubStage> sub_stage = ParseSubStage(args.sub_stage);
    if (!sub_stage.ok()) return ForFlag("--sub-stage", sub_stage.status());
    filter.set_sub_stage(*sub_stage);
  }
  if (!args.kind.empty()) {
    absl::StatusOr<v1::CustomerKind> kind = ParseCustomerKind(args.kind);
    if (!kind.ok()) return ForFlag("--kind", kind.status());
    filter.set_kind(*kind);
  }
  filter.set_region(args.region);
  filter.set_owner_id(args.owner);
  filter.set_industry(args.industry);
  if (absl::Status status = SetPageAndQuery(args, request); !status.ok()) return status;
  return request;
}

absl::StatusOr<v1::StageSummaryRequest> MakeStageSummaryRequest(const std::string& dimension,
                                                                const QueryArgs& query) {
  v1::StageSummaryRequest request;
  request.set_dimension(v1::DIMENSION_ALL);
  if (!dimension.empty()) {
    absl::StatusOr<v1::Dimension> d = ParseDimension(dimension);
    if (!d.ok()) return ForFlag("--dimension", d.status());
    request.set_dimension(*d);
  }
  absl::Status status =
      ApplyQuery(query, request.mutable_as_of(), request.mutable_consistency_token());
  if (!status.ok()) return status;
  if (query.as_of.empty()) request.clear_as_of();
  return request;
}

absl::StatusOr<v1::TimelineRequest> MakeTimelineRequest(const std::string& customer_id,
                                                        int page_size,
                                                        const std::string& page_token,
                                                        const std::string& consistency_token) {
  if (customer_id.empty()) return absl::InvalidArgumentError("CUSTOMER_ID: required");
  absl::Status status = CheckPageSize(page_size);
  if (!status.ok()) return status;
  v1::TimelineRequest request;
  request.set_customer_id(customer_id);
  request.set_page_size(page_size);
  request.set_page_token(page_token);
  request.set_consistency_token(consistency_token);
  return request;
}

absl::StatusOr<v1::SubscribeRequest> MakeSubscribeRequest(
    const std::string& from, const std::vector<std::string>& types,
    const std::vector<std::string>& customers) {
  v1::SubscribeRequest request;
  // "earliest", "latest" or a resume token, opaque to the client.
  request.set_from(from.empty() ? "latest" : from);
  for (const std::string& type : types) {
    std::optional<v1::Event::PayloadCase> payload = event::PayloadCaseFromName(type);
    if (!payload.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--type: unknown event type '", type,
                       "' (a payload name such as contract_signed or ContractSigned)"));
    }
    request.add_event_types(std::string(event::PayloadName(*payload)));
  }
  for (const std::string& customer : customers) request.add_customer_ids(customer);
  return request;
}

absl::StatusOr<v1::SubscribeChangesRequest> MakeSubscribeChangesRequest(
    const std::string& from, const std::vector<std::string>& types,
    const std::vector<std::string>& customers) {
  v1::SubscribeChangesRequest request;
  request.set_from(from.empty() ? "latest" : from);
  for (const std::string& type : types) request.add_change_types(type);
  for (const std::string& customer : customers) request.add_customer_ids(customer);
  return request;
}

absl::StatusOr<v1::GetValueRequest> MakeGetValueRequest(const std::string& customer_id,
                                                        const QueryArgs& query) {
  if (customer_id.empty()) return absl::InvalidArgumentError("CUSTOMER_ID: required");
  v1::GetValueRequest request;
  request.set_customer_id(customer_id);
  absl::Status status =
      ApplyQuery(query, request.mutable_as_of(), request.mutable_consistency_token());
  if (!status.ok()) return status;
  if (query.as_of.empty()) request.clear_as_of();
  return request;
}

absl::StatusOr<v1::ListValueCustomersRequest> MakeListValueCustomersRequest(
    const ValueListArgs& args) {
  v1::ListValueCustomersRequest request;
  v1::ValueFilter& filter = *request.mutable_filter();
  if (!args.tier.empty()) {
    absl::StatusOr<v1::Tier> tier = ParseTier(args.tier);
    if (!tier.ok()) return ForFlag("--tier", tier.status());
    filter.set_tier(*tier);
  }
  const std::string abc = absl::AsciiStrToUpper(args.abc_class);
  if (!abc.empty() && abc != "A" && abc != "B" && abc != "C") {
    return absl::InvalidArgumentError(
        absl::StrCat("--abc: unknown ABC class '", args.abc_class, "' (one of A, B, C)"));
  }
  filter.set_abc_class(abc);
  filter.set_segment(args.segment);
  filter.set_negative_asset_only(args.negative_asset_only);
  filter.set_vip_only(args.vip_only);
  filter.set_region(args.region);
  filter.set_industry(args.industry);
  filter.set_owner_id(args.owner);
  if (absl::Status status = SetPageAndQuery(args, request); !status.ok()) return status;
  return request;
}

namespace {

// TierSummary and Pareto take the same fields: a value dimension and the
// query flags.
template <typename Request>
absl::StatusOr<Request> MakeValueDimensionRequest(const std::string& dimension,
                                                  const QueryArgs& query) {
  absl::StatusOr<v1::Dimension> d =
      DimensionFlag(dimension, {v1::DIMENSION_REGION, v1::DIMENSION_INDUSTRY, v1::DIMENSION_OWNER});
  if (!d.ok()) return d.status();
  Request request;
  request.set_dimension(*d);
  absl::Status status =
      ApplyQuery(query, request.mutable_as_of(), request.mutable_consistency_token());
  if (!status.ok()) return status;
  if (query.as_of.empty()) request.clear_as_of();
  return request;
}

}  // namespace

absl::StatusOr<v1::TierSummaryRequest> MakeTierSummaryRequest(const std::string& dimension,
                                                              const QueryArgs& query) {
  return MakeValueDimensionRequest<v1::TierSummaryRequest>(dimension, query);
}

absl::StatusOr<v1::ParetoRequest> MakeParetoRequest(const std::string& dimension,
                                                    const QueryArgs& query) {
  return MakeValueDimensionRequest<v1::ParetoRequest>(dimension, query);
}

absl::StatusOr<v1::RefitClvRequest> MakeRefitClvRequest(const QueryArgs& query) {
  v1::RefitClvRequest request;
  request.set_consistency_token(query.consistency_token);
  if (!query.as_of.empty()) {
    absl::StatusOr<absl::Time> t = ParseRfc3339(query.as_of);
    if (!t.ok()) return ForFlag("--as-of", t.status());
    *request.mutable_as_of() = event::ToProto(*t);
  }
  return request;
}

absl::StatusOr<v1::GetReviewRequest> MakeGetReviewRequest(const ReviewArgs& args, absl::Time now) {
  absl::StatusOr<ResolvedPeriod> period = Period(args, now);
  if (!period.ok()) return period.status();
  v1::GetReviewRequest request;
  request.set_granularity(period->granularity);
  *request.mutable_period_start() = event::ToProto(period->instant);
  v1::Dimension dimension = v1::DIMENSION_ALL;
  absl::Status status = ApplySlice(args, &dimension, request.mutable_dimension_value());
  if (!status.ok()) return status;
  request.set_dimension(dimension);
  if (args.history < 0 || args.history > 24) {
    return absl::InvalidArgumentError(
        absl::StrCat("--history: must be between 0 and 24 periods, got ", args.history));
  }
  request.set_history_periods(args.history);
  request.set_consistency_token(args.consistency_token);
  return request;
}

absl::StatusOr<v1::FunnelRequest> MakeFunnelRequest(const ReviewArgs& args, absl::Time now) {
  absl::StatusOr<ResolvedPeriod> period = Period(args, now);
  if (!period.ok()) return period.status();
  v1::FunnelRequest request;
  request.mutable_period()->set_granularity(period->granularity);
  *request.mutable_period()->mutable_start() = event::ToProto(period->instant);
  v1::Dimension dimension = v1::DIMENSION_ALL;
  absl::Status status = ApplySlice(args, &dimension, request.mutable_dimension_value());
  if (!status.ok()) return status;
  request.set_dimension(dimension);
  status = SetPage(args, request);
  if (!status.ok()) return status;
  request.set_consistency_token(args.consistency_token);
  return request;
}

absl::StatusOr<v1::CompareReviewRequest> MakeCompareReviewRequest(const ReviewArgs& args,
                                                                  absl::Time now) {
  if (args.dimension.empty()) {
    return absl::InvalidArgumentError(
        "--dimension: required (REGION, INDUSTRY, OWNER, CHANNEL, PRODUCT or TIER)");
  }
  if (!args.value.empty()) {
    return absl::InvalidArgumentError(
        "--value: compare shows every value of the dimension; use `review report` for one");
  }
  absl::StatusOr<v1::Dimension> d = DimensionFlag(
      args.dimension, {v1::DIMENSION_REGION, v1::DIMENSION_INDUSTRY, v1::DIMENSION_OWNER,
                       v1::DIMENSION_CHANNEL, v1::DIMENSION_PRODUCT, v1::DIMENSION_TIER});
  if (!d.ok()) return d.status();
  if (*d == v1::DIMENSION_ALL) {
    return absl::InvalidArgumentError(
        "--dimension: compare needs REGION, INDUSTRY, OWNER, CHANNEL, PRODUCT or TIER, not ALL");
  }
  absl::StatusOr<ResolvedPeriod> period = Period(args, now);
  if (!period.ok()) return period.status();
  v1::CompareReviewRequest request;
  request.set_granularity(period->granularity);
  *request.mutable_period_start() = event::ToProto(period->instant);
  request.set_dimension(*d);
  if (absl::Status status = SetPage(args, request); !status.ok()) return status;
  request.set_consistency_token(args.consistency_token);
  return request;
}

absl::StatusOr<v1::WorklistRequest> MakeWorklistRequest(const WorklistArgs& args) {
  if (args.owner.empty() == args.region.empty()) {
    return absl::InvalidArgumentError(
        "--owner / --region: give exactly one (e.g. --owner rep-01 or --region 华东)");
  }
  v1::WorklistRequest request;
  request.set_owner_id(args.owner);
  request.set_region(args.region);
  if (absl::Status status = SetPageAndQuery(args, request); !status.ok()) return status;
  return request;
}

absl::StatusOr<std::vector<std::string>> ParseMetricList(const std::string& text) {
  std::vector<std::string> out;
  const std::string trimmed(absl::StripAsciiWhitespace(text));
  if (trimmed.empty() || absl::AsciiStrToLower(trimmed) == "all") return out;
  for (absl::string_view part : absl::StrSplit(trimmed, ',', absl::SkipWhitespace())) {
    const std::string name(absl::StripAsciiWhitespace(part));
    if (FindMetric(name) == nullptr) {
      std::vector<std::string> known;
      for (const MetricInfo& m : KnownMetrics()) known.emplace_back(m.name);
      return absl::InvalidArgumentError(absl::StrCat(
          "--metrics: unknown metric '", name, "' (one of ", absl::StrJoin(known, ", "), ")"));
    }
    out.push_back(name);
  }
  return out;
}

}  // namespace custops::ctl
