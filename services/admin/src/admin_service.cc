#include "custops/admin/admin_service.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "custops/base/status_macros.h"
#include "custops/v1/changes.pb.h"

namespace custops::admin {
namespace {

constexpr absl::string_view kDeadLetterToken = "d1.";

// "d1.<partition>.<offset>": where the next page starts.
std::string DeadLetterToken(int partition, int64_t offset) {
  return absl::StrCat(kDeadLetterToken, partition, ".", offset);
}

absl::Status ParseDeadLetterToken(absl::string_view token, int partitions, int* partition,
                                  int64_t* offset) {
  auto bad = [] {
    return absl::InvalidArgumentError("page_token: not a token from ListDeadLetters");
  };
  if (!absl::ConsumePrefix(&token, kDeadLetterToken)) return bad();
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  // Digits only: SimpleAtoi alone would take " 3" or "+3", not tokens of ours.
  for (absl::string_view part : parts) {
    if (part.empty() || !std::all_of(part.begin(), part.end(), absl::ascii_isdigit)) return bad();
  }
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], partition) ||
      !absl::SimpleAtoi(parts[1], offset) || *partition < 0 || *partition >= partitions ||
      *offset < 0) {
    return bad();
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckProjectionName(const std::string& name) {
  if (name.empty()) {
    return absl::InvalidArgumentError("projection: required (lifecycle, value or review)");
  }
  if (name != "lifecycle" && name != "value" && name != "review") {
    return absl::InvalidArgumentError(absl::StrCat("projection: \"",
                                                   absl::CHexEscape(name.substr(0, 64)),
                                                   "\" is not one of lifecycle, value, review"));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::StatusResponse> BuildStatus(
    log::EventLog& log, const std::vector<const projection::ProjectionRuntime*>& runtimes,
    const std::string& mode, const OwnersFn& owners_fn) {
  v1::StatusResponse response;
  response.set_mode(mode);
  response.set_version(CUSTOPS_VERSION);
  for (std::string_view topic :
       {log::kCustomerEvents, log::kOrgEvents, log::kStateChanges, log::kDeadLetter}) {
    ASSIGN_OR_RETURN(std::vector<Offset> ends, log.EndOffsets(topic));
    v1::TopicStatus* t = response.add_topics();
    t->set_topic(std::string(topic));
    for (int p = 0; p < static_cast<int>(ends.size()); ++p) {
      const Offset end = ends[p];
      v1::PartitionStatus* ps = t->add_partitions();
      ps->set_partition(p);
      ps->set_log_end(end.value());
      if (topic == log::kDeadLetter)
        response.set_dead_letters(response.dead_letters() + end.value());
    }
  }
  for (const projection::ProjectionRuntime* rt : runtimes) {
    const projection::RuntimeStats stats = rt->Stats();
    std::vector<std::string> owners;
    if (owners_fn) {
      // Best effort: a status without owners beats no status.
      absl::StatusOr<std::vector<std::string>> fetched = owners_fn(rt->projection().Name());
      if (fetched.ok()) owners = std::move(*fetched);
    }
    v1::ProjectionStatus* ps = response.add_projections();
    ps->set_name(std::string(rt->projection().Name()));
    ps->set_topic(rt->topic());
    ps->set_state(v1::PROJECTION_STATE_READY);
    for (const projection::PartitionProgress& pp : stats.partitions) {
      if (pp.owned && pp.restoring) ps->set_state(v1::PROJECTION_STATE_RESTORING);
      v1::PartitionStatus* s = ps->add_partitions();
      s->set_partition(pp.partition.value());
      s->set_log_end(pp.log_end.value());
      s->set_applied_offset(pp.applied.value());
      s->set_lag(std::max<int64_t>(0, pp.log_end.value() - pp.applied.value()));
      s->set_owned(pp.owned);
      s->set_restoring(pp.restoring);
      if (pp.restoring) s->set_restore_target(pp.restore_target.value());
      if (pp.partition.value() < static_cast<int>(owners.size())) {
        s->set_owner(owners[pp.partition.value()]);
      }
    }
    ps->set_events_applied(stats.events_applied);
    ps->set_noops(stats.noops);
    for (const auto& [reason, n] : stats.noops_by_reason) {
      v1::ReasonCount* rc = ps->add_noops_by_reason();
      rc->set_reason(reason);
      rc->set_count(n);
    }
    ps->set_dead_letters(stats.dead_letters);
    ps->set_changes_emitted(stats.changes_emitted);
    ps->set_outbox_pending(stats.outbox_pending);
    ps->set_parked_customers(stats.parked_customers);
    ps->set_parked_events(stats.parked_events);
    ps->set_replayed(stats.replayed);
  }
  return response;
}

absl::StatusOr<v1::ListDeadLettersResponse> ListDeadLetters(
    log::EventLog& log, const v1::ListDeadLettersRequest& request, int64_t max_scanned) {
  if (request.page_size() < 0 || request.page_size() > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: 0-1000 (0 = 100), got ", request.page_size()));
  }
  if (request.projection().size() > 64) {
    return absl::InvalidArgumentError("projection: at most 64 bytes");
  }
  if (request.customer_id().size() > 128) {
    return absl::InvalidArgumentError("customer_id: at most 128 bytes");
  }
  const int page_size = request.page_size() == 0 ? 100 : request.page_size();
  ASSIGN_OR_RETURN(std::vector<Offset> ends, log.EndOffsets(log::kDeadLetter));
  const int partitions = static_cast<int>(ends.size());
  int partition = 0;
  int64_t offset = 0;
  if (!request.page_token().empty()) {
    RETURN_IF_ERROR(ParseDeadLetterToken(request.page_token(), partitions, &partition, &offset));
  }
  v1::ListDeadLettersResponse response;
  int64_t scanned = 0;
  while (partition < partitions) {
    if (offset >= ends[partition].value()) {
      ++partition;
      offset = 0;
      continue;
    }
    if (response.dead_letters_size() >= page_size || scanned >= max_scanned) break;
    const size_t want = static_cast<size_t>(
        std::min<int64_t>({500, max_scanned - scanned, ends[partition].value() - offset}));
    ASSIGN_OR_RETURN(std::vector<log::LogRecord> records,
                     log.Read(log::kDeadLetter, Partition(partition), Offset(offset), want));
    if (records.empty()) {  // nothing readable there (retention): the partition is done
      ++partition;
      offset = 0;
      continue;
    }
    for (const log::LogRecord& r : records) {
      offset = r.offset.value() + 1;
      ++scanned;
      v1::DeadLetterEntry entry;
      entry.set_partition(partition);
      entry.set_offset(r.offset.value());
      if (!entry.mutable_dead_letter()->ParseFromString(r.value)) {
        // Not written by custops: shown with the reason, its bytes as they are.
        entry.mutable_dead_letter()->Clear();
        entry.mutable_dead_letter()->set_reason("undecodable dead-letter record");
        entry.mutable_dead_letter()->set_key(r.key);
        entry.mutable_dead_letter()->set_value(r.value);
      }
      const v1::DeadLetter& d = entry.dead_letter();
      if (!request.projection().empty() && d.projection() != request.projection()) continue;
      if (!request.customer_id().empty() && d.key() != request.customer_id()) continue;
      *response.add_dead_letters() = std::move(entry);
      if (response.dead_letters_size() >= page_size || scanned >= max_scanned) break;
    }
  }
  while (partition < partitions && offset >= ends[partition].value()) {
    ++partition;
    offset = 0;
  }
  if (partition < partitions) response.set_next_page_token(DeadLetterToken(partition, offset));
  return response;
}

absl::StatusOr<v1::ReplayDeadLettersResponse> ReplayDeadLetters(
    const std::vector<projection::ProjectionRuntime*>& runtimes,
    const v1::ReplayDeadLettersRequest& request) {
  RETURN_IF_ERROR(CheckProjectionName(request.projection()));
  if (request.customer_id().size() > 128) {
    return absl::InvalidArgumentError("customer_id: at most 128 bytes");
  }
  if (request.max_events() < 0 || request.max_events() > 100'000) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_events: 0-100000 (0 = 20000), got ", request.max_events()));
  }
  projection::ProjectionRuntime* runtime = nullptr;
  for (projection::ProjectionRuntime* rt : runtimes) {
    if (rt->projection().Name() == request.projection()) runtime = rt;
  }
  if (runtime == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("projection: this instance does not run ", request.projection(),
                     " (its roles leave it out); ask an instance that does"));
  }
  ASSIGN_OR_RETURN(projection::ReplayResult result,
                   runtime->ReplayParked(
                       {.customer_id = request.customer_id(),
                        .max_events = request.max_events() == 0 ? 20'000 : request.max_events(),
                        .discard_heads = request.discard_heads()}));
  v1::ReplayDeadLettersResponse response;
  response.set_customers_released(result.customers_released);
  response.set_events_replayed(result.events_replayed);
  response.set_customers_parked(result.customers_parked);
  response.set_events_parked(result.events_parked);
  for (const projection::ParkedCustomer& c : result.parked) {
    v1::ParkedCustomer* out = response.add_parked();
    out->set_customer_id(c.customer_id);
    out->set_partition(c.partition.value());
    out->set_parked_events(c.events);
    out->set_head_offset(c.head.value());
    out->set_reason(c.reason);
  }
  response.set_more(result.more);
  for (Partition p : result.not_owned) response.add_partitions_not_owned(p.value());
  return response;
}

void AdminService::Register(rpc::MethodTable& table) {
  table.Sync<v1::StatusRequest, v1::StatusResponse>(
      "custops.v1.Admin/Status", rpc::Access::kReader, /*offload=*/true,
      [this](rpc::Call&, const v1::StatusRequest&) -> absl::StatusOr<v1::StatusResponse> {
        const std::vector<std::shared_ptr<projection::ProjectionRuntime>> held =
            projections_.runtimes();
        std::vector<const projection::ProjectionRuntime*> runtimes;
        for (const auto& rt : held) runtimes.push_back(rt.get());
        ASSIGN_OR_RETURN(v1::StatusResponse response, BuildStatus(log_, runtimes, mode_, owners_));
        for (v1::ProjectionStatus& ps : *response.mutable_projections()) {
          std::optional<v1::RebuildProgress> rebuild = projections_.progress(ps.name());
          if (!rebuild) continue;
          if (rebuild->running()) ps.set_state(v1::PROJECTION_STATE_REBUILDING);
          *ps.mutable_rebuild() = std::move(*rebuild);
        }
        return response;
      });
  table.Sync<v1::ListDeadLettersRequest, v1::ListDeadLettersResponse>(
      "custops.v1.Admin/ListDeadLetters", rpc::Access::kAdmin, /*offload=*/true,
      [this](rpc::Call& call,
             const v1::ListDeadLettersRequest& r) -> absl::StatusOr<v1::ListDeadLettersResponse> {
        // Dead letters are not filtered by region: a 片区 scope may not read them.
        if (call.identity().regions) {
          return absl::PermissionDeniedError(
              "ListDeadLetters: a region-scoped token cannot read every region's dead letters");
        }
        return ListDeadLetters(log_, r);
      });
  table.Sync<v1::ReplayDeadLettersRequest, v1::ReplayDeadLettersResponse>(
      "custops.v1.Admin/ReplayDeadLetters", rpc::Access::kAdmin, /*offload=*/true,
      [this](rpc::Call& call, const v1::ReplayDeadLettersRequest& r)
          -> absl::StatusOr<v1::ReplayDeadLettersResponse> {
        if (call.identity().regions) {
          return absl::PermissionDeniedError(
              "ReplayDeadLetters: a region-scoped token cannot replay every region's records");
        }
        const std::vector<std::shared_ptr<projection::ProjectionRuntime>> held =
            projections_.runtimes();
        std::vector<projection::ProjectionRuntime*> runtimes;
        for (const auto& rt : held) runtimes.push_back(rt.get());
        return ReplayDeadLetters(runtimes, r);
      });
  table.Sync<v1::RebuildRequest, v1::RebuildResponse>(
      "custops.v1.Admin/Rebuild", rpc::Access::kAdmin, /*offload=*/true,
      [this](rpc::Call& call, const v1::RebuildRequest& r) -> absl::StatusOr<v1::RebuildResponse> {
        if (call.identity().regions) {
          return absl::PermissionDeniedError(
              "Rebuild: a region-scoped token cannot rebuild every region's state");
        }
        RETURN_IF_ERROR(CheckProjectionName(r.projection()));
        absl::StatusOr<v1::RebuildProgress> progress = projections_.rebuild(r.projection());
        if (absl::IsNotFound(progress.status())) {
          return absl::FailedPreconditionError(
              absl::StrCat("projection: this instance does not run ", r.projection(),
                           " (its roles leave it out); ask an instance that does"));
        }
        RETURN_IF_ERROR(progress.status());
        v1::RebuildResponse response;
        *response.mutable_progress() = std::move(*progress);
        return response;
      });
}

}  // namespace custops::admin
