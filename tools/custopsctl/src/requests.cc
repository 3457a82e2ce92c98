#include "custops/ctl/requests.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
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
  absl::Status status = CheckPageSize(args.page_size);
  if (!status.ok()) return status;
  request.set_page_size(args.page_size);
  request.set_page_token(args.page_token);
  status = ApplyQuery(args.query, request.mutable_as_of(), request.mutable_consistency_token());
  if (!status.ok()) return status;
  if (args.query.as_of.empty()) request.clear_as_of();
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

}  // namespace custops::ctl
