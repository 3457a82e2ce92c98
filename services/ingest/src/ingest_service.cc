#include "custops/ingest/ingest_service.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "custops/base/status_macros.h"
#include "custops/event/time.h"
#include "custops/event/upcast.h"
#include "custops/log/partitioner.h"
#include "custops/projection/token.h"

namespace custops::ingest {
namespace {

// Appends serialized events and builds the response + consistency token.
template <typename EventT>
absl::StatusOr<v1::AppendResponse> AppendAll(log::EventLog& log, std::string_view topic,
                                             const google::protobuf::RepeatedPtrField<EventT>& in,
                                             absl::Time now, IngestCounters& counters,
                                             std::string (*key_of)(const EventT&)) {
  std::vector<log::Record> records;
  records.reserve(in.size());
  EventT copy;
  for (const EventT& e : in) {
    copy = e;
    *copy.mutable_recorded_at() = event::ToProto(now);
    records.push_back(
        {.key = key_of(e), .value = copy.SerializeAsString(), .idempotency_key = e.event_id()});
  }
  ASSIGN_OR_RETURN(std::vector<log::AppendResult> results, log.Append(topic, records, {}));
  ASSIGN_OR_RETURN(int partitions, log.PartitionCount(topic));
  projection::PositionSet token;
  token.set_topic(std::string(topic));
  token.mutable_next_offsets()->Resize(partitions, 0);
  v1::AppendResponse response;
  for (size_t i = 0; i < results.size(); ++i) {
    v1::AppendResult* r = response.add_results();
    r->set_event_id(in[static_cast<int>(i)].event_id());
    r->mutable_position()->set_topic(std::string(topic));
    r->mutable_position()->set_partition(results[i].partition.value());
    r->mutable_position()->set_offset(results[i].offset.value());
    r->set_duplicate(results[i].duplicate);
    (results[i].duplicate ? counters.duplicates : counters.appended)++;
    int64_t& next = *token.mutable_next_offsets()->Mutable(results[i].partition.value());
    next = std::max(next, results[i].offset.value() + 1);
  }
  response.set_consistency_token(projection::EncodeToken(token));
  return response;
}

std::string CustomerKey(const v1::Event& e) { return e.customer_id(); }
std::string ScopeKey(const v1::OrgEvent& e) { return e.scope(); }

}  // namespace

Ingestor::Ingestor(log::EventLog& log, const base::Clock& clock,
                   event::ValidationOptions validation)
    : log_(log), clock_(clock), validation_(std::move(validation)) {}

absl::StatusOr<v1::AppendResponse> Ingestor::Append(const v1::AppendRequest& request) {
  // Events of an older schema version (or none stated) are upcast first, so
  // what is validated and written is the current version
  // (docs/schema-evolution.md); the request is copied only then.
  std::optional<v1::AppendRequest> upcast;
  for (int i = 0; i < request.events_size(); ++i) {
    if (request.events(i).schema_version() == event::kSchemaVersion) continue;
    if (!upcast) upcast = request;
    if (absl::StatusOr<bool> s = event::Upcast(*upcast->mutable_events(i)); !s.ok()) {
      counters_.rejected_requests++;
      return absl::InvalidArgumentError(absl::StrCat("events[", i, "].", s.status().message()));
    }
  }
  const v1::AppendRequest& current = upcast ? *upcast : request;
  if (absl::Status s = event::ValidateAppendRequest(current, validation_); !s.ok()) {
    counters_.rejected_requests++;
    return s;
  }
  return AppendAll(log_, log::kCustomerEvents, current.events(), clock_.Now(), counters_,
                   &CustomerKey);
}

absl::StatusOr<v1::AppendResponse> Ingestor::AppendOrg(const v1::AppendOrgRequest& request) {
  if (absl::Status s = event::ValidateAppendOrgRequest(request, validation_); !s.ok()) {
    counters_.rejected_requests++;
    return s;
  }
  return AppendAll(log_, log::kOrgEvents, request.events(), clock_.Now(), counters_, &ScopeKey);
}

void IngestService::Register(rpc::MethodTable& table) {
  table.Sync<v1::AppendRequest, v1::AppendResponse>(
      "custops.v1.EventIngest/Append", rpc::Access::kEmitter, /*offload=*/true,
      [this](rpc::Call&, const v1::AppendRequest& r) { return ingestor_.Append(r); });
  table.Sync<v1::AppendOrgRequest, v1::AppendResponse>(
      "custops.v1.EventIngest/AppendOrg", rpc::Access::kEmitter, /*offload=*/true,
      [this](rpc::Call&, const v1::AppendOrgRequest& r) { return ingestor_.AppendOrg(r); });
  // events = 1 in both requests: counted on the wire, so an over-count
  // request costs no more memory than its bytes.
  for (const char* method : {"custops.v1.EventIngest/Append", "custops.v1.EventIngest/AppendOrg"}) {
    table.SetPrecheck(method, [this](std::string_view raw) -> absl::Status {
      ASSIGN_OR_RETURN(int64_t count, rpc::CountField(raw, 1));
      if (static_cast<size_t>(count) > max_events_) {
        ingestor_.CountRejected();
        return absl::InvalidArgumentError(
            absl::StrCat("events: at most ", max_events_, " events per request, got ", count));
      }
      return absl::OkStatus();
    });
  }
}

}  // namespace custops::ingest
