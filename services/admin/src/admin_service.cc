#include "custops/admin/admin_service.h"

#include "custops/base/status_macros.h"

namespace custops::admin {

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
    for (const projection::PartitionProgress& pp : stats.partitions) {
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
  }
  return response;
}

void AdminService::Register(rpc::MethodTable& table) {
  table.Sync<v1::StatusRequest, v1::StatusResponse>(
      "custops.v1.Admin/Status", rpc::Access::kReader, /*offload=*/true,
      [this](rpc::Call&, const v1::StatusRequest&) {
        return BuildStatus(log_, runtimes_, mode_, owners_);
      });
}

}  // namespace custops::admin
