// EventIngest (docs/validation.md "Requests"): validated, idempotent appends to
// the event log.
//
// A request is validated whole before anything is appended; event_id is the
// idempotency key on the log, so a retried Append returns the original
// positions marked duplicate. The response carries a consistency token
// covering every event of the request.
#ifndef CUSTOPS_INGEST_INGEST_SERVICE_H_
#define CUSTOPS_INGEST_INGEST_SERVICE_H_

#include <atomic>
#include <cstdint>

#include "absl/status/statusor.h"
#include "custops/base/clock.h"
#include "custops/event/validate.h"
#include "custops/log/event_log.h"
#include "custops/rpc/gateway.h"
#include "custops/v1/ingest.pb.h"

namespace custops::ingest {

struct IngestCounters {
  std::atomic<int64_t> appended{0};
  std::atomic<int64_t> duplicates{0};
  std::atomic<int64_t> rejected_requests{0};
};

// The transport-free core, also used in-process (demo loader, benchmarks).
// Thread-safe; `log` and `clock` must outlive it.
class Ingestor {
 public:
  Ingestor(log::EventLog& log, const base::Clock& clock, event::ValidationOptions validation);

  // INVALID_ARGUMENT naming "events[i].field" and nothing appended; else the
  // log's errors (UNAVAILABLE, ...).
  absl::StatusOr<v1::AppendResponse> Append(const v1::AppendRequest& request);
  absl::StatusOr<v1::AppendResponse> AppendOrg(const v1::AppendOrgRequest& request);

  const IngestCounters& counters() const { return counters_; }
  // Counts a request refused before it reached Append (too many events).
  void CountRejected() { counters_.rejected_requests++; }

 private:
  log::EventLog& log_;
  const base::Clock& clock_;
  event::ValidationOptions validation_;
  IngestCounters counters_;
};

// EventIngest over the front door: the emitter role; appends run on the
// worker pool (they may wait for an fsync or a broker); an Append with more
// events than the limit is refused from its wire bytes, before the events
// are materialised.
class IngestService {
 public:
  // `ingestor` must outlive the service.
  IngestService(Ingestor& ingestor, size_t max_events_per_request)
      : ingestor_(ingestor), max_events_(max_events_per_request) {}

  // Adds custops.v1.EventIngest's methods to `table`.
  void Register(rpc::MethodTable& table);

 private:
  Ingestor& ingestor_;
  size_t max_events_;
};

}  // namespace custops::ingest

#endif  // CUSTOPS_INGEST_INGEST_SERVICE_H_
