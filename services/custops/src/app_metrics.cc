// App::Impl's Prometheus metrics (/metrics): the gateway's call statistics,
// ingest and command counters, and each projection's progress, rebuild and
// RocksDB figures.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "app_impl.h"

namespace custops::app {

void App::Impl::RegisterMetrics() {
  metrics.AddCollector([this](rpc::MetricsWriter& w) { gateway->stats().Collect(w); });
  metrics.AddCollector([this](rpc::MetricsWriter& w) {
    // A process with some roles reports what it runs.
    const ingest::IngestCounters& c = ingestor->counters();
    w.Counter("custops_events_appended_total", "Events appended through EventIngest.", {},
              static_cast<double>(c.appended.load()));
    w.Counter("custops_events_duplicate_total", "Appends recognised as retries by event_id.", {},
              static_cast<double>(c.duplicates.load()));
    w.Counter("custops_append_rejected_total", "Append requests rejected as invalid.", {},
              static_cast<double>(c.rejected_requests.load()));
    if (subscriptions_service) {
      w.Gauge("custops_subscriptions_open", "Open subscription streams.", {},
              static_cast<double>(subscriptions_service->open_streams()));
    }
    const command::CommandStats cs = command_core ? command_core->stats() : command::CommandStats();
    for (const auto& [result, n] : {std::pair<const char*, int64_t>{"accepted", cs.accepted},
                                    {"duplicate", cs.duplicates},
                                    {"refused", cs.refused}}) {
      w.Counter("custops_commands_total", "Business commands by result.", {{"result", result}},
                static_cast<double>(n));
    }
    w.Gauge("custops_command_view_customers", "Customers in the command services' view.", {},
            static_cast<double>(cs.customers));
    size_t waits = 0;
    for (ProjectionSlot* slot : Slots()) waits += slot->Runtime()->pending_waits();
    w.Gauge("custops_waits_pending", "Consistency-token waits pending (holding no thread).", {},
            static_cast<double>(waits));
    if (value) {
      const std::shared_ptr<ProjectionCopy> copy = value->Current();
      const projection::RuntimeStats s = copy->runtime().Stats();
      int64_t lag = 0;
      for (const projection::PartitionProgress& p : s.partitions) {
        lag += std::max<int64_t>(0, p.log_end.value() - p.applied.value());
      }
      w.Gauge("custops_value_lag", "Records not yet applied by the value projection.", {},
              static_cast<double>(lag));
      std::shared_ptr<const value::Population> pop =
          static_cast<const ValueCopy&>(*copy).queries().Latest();
      w.Gauge("custops_value_snapshot_customers", "Customers in the latest value snapshot.", {},
              pop ? static_cast<double>(pop->customers.size()) : 0.0);
    }
    for (ProjectionSlot* slot : Slots()) {
      const std::shared_ptr<projection::ProjectionRuntime> rt = slot->Runtime();
      const std::string name(rt->projection().Name());
      const v1::RebuildProgress rebuild = slot->Progress();
      w.Gauge("custops_projection_generation",
              "The serving copy's generation (+1 at each rebuild's swap).", {{"projection", name}},
              static_cast<double>(rebuild.generation()));
      w.Gauge("custops_rebuild_running", "1 while a rebuild builds a fresh copy.",
              {{"projection", name}}, rebuild.running() ? 1.0 : 0.0);
      if (rebuild.running()) {
        w.Gauge("custops_rebuild_progress_ratio",
                "Records the rebuilt copy has applied over what the serving copy has.",
                {{"projection", name}},
                rebuild.target() == 0 ? 1.0
                                      : static_cast<double>(rebuild.applied()) /
                                            static_cast<double>(rebuild.target()));
        w.Gauge("custops_rebuild_eta_seconds", "Time left until the rebuilt copy catches up.",
                {{"projection", name}}, static_cast<double>(rebuild.eta_seconds()));
      }
      const projection::RuntimeStats s = rt->Stats();
      w.Counter("custops_events_applied_total", "Events applied by a projection.",
                {{"projection", name}}, static_cast<double>(s.events_applied));
      for (const auto& [reason, n] : s.noops_by_reason) {
        w.Counter("custops_events_noop_total", "Events that changed nothing, by reason.",
                  {{"projection", name}, {"reason", reason}}, static_cast<double>(n));
      }
      w.Counter("custops_dead_letters_total", "Records sent to dead letters.",
                {{"projection", name}}, static_cast<double>(s.dead_letters));
      w.Counter("custops_changes_emitted_total", "Derived changes emitted.", {{"projection", name}},
                static_cast<double>(s.changes_emitted));
      w.Gauge("custops_outbox_pending", "Derived changes not yet published.",
              {{"projection", name}}, static_cast<double>(s.outbox_pending));
      w.Gauge("custops_parked_customers",
              "Customers whose records wait behind a dead letter (owned partitions).",
              {{"projection", name}}, static_cast<double>(s.parked_customers));
      w.Gauge("custops_parked_events", "Records parked behind dead letters, heads included.",
              {{"projection", name}}, static_cast<double>(s.parked_events));
      w.Counter("custops_parked_replayed_total", "Parked records re-applied by a replay.",
                {{"projection", name}}, static_cast<double>(s.replayed));
      w.Counter("custops_apply_batches_total", "Batches applied and committed.",
                {{"projection", name}}, static_cast<double>(s.batches));
      w.Counter("custops_apply_seconds_total",
                "Time spent reading, applying and committing batches.", {{"projection", name}},
                absl::ToDoubleSeconds(s.apply_time));
      w.Gauge("custops_apply_batch_seconds_max", "The slowest batch since start.",
              {{"projection", name}}, absl::ToDoubleSeconds(s.max_batch_time));
      for (const projection::PartitionProgress& p : s.partitions) {
        const rpc::Labels labels = {{"projection", name},
                                    {"partition", absl::StrCat(p.partition.value())}};
        w.Gauge("custops_projection_applied_offset", "Next offset to apply.", labels,
                static_cast<double>(p.applied.value()));
        w.Gauge("custops_projection_lag", "Records in the log not yet applied.", labels,
                static_cast<double>(std::max<int64_t>(0, p.log_end.value() - p.applied.value())));
      }
      for (const std::string& family : rt->projection().ColumnFamilies()) {
        w.Gauge("custops_rocksdb_estimate_num_keys", "RocksDB estimated keys.",
                {{"projection", name}, {"column_family", family}},
                static_cast<double>(rt->store().IntProperty(rt->store().Family(family),
                                                            "rocksdb.estimate-num-keys")));
        w.Gauge("custops_rocksdb_memtable_bytes", "RocksDB memtable size.",
                {{"projection", name}, {"column_family", family}},
                static_cast<double>(rt->store().IntProperty(rt->store().Family(family),
                                                            "rocksdb.cur-size-all-mem-tables")));
      }
    }
  });
}

}  // namespace custops::app
