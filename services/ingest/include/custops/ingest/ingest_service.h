// EventIngest (DESIGN.md §5): validated, idempotent appends to the event log.
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
#include "custops/v1/ingest.grpc.pb.h"

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

 private:
  log::EventLog& log_;
  const base::Clock& clock_;
  event::ValidationOptions validation_;
  IngestCounters counters_;
};

class IngestService final : public v1::EventIngest::CallbackService {
 public:
  // `ingestor` must outlive the service.
  explicit IngestService(Ingestor& ingestor) : ingestor_(ingestor) {}

  grpc::ServerUnaryReactor* Append(grpc::CallbackServerContext* context,
                                   const v1::AppendRequest* request,
                                   v1::AppendResponse* response) override;
  grpc::ServerUnaryReactor* AppendOrg(grpc::CallbackServerContext* context,
                                      const v1::AppendOrgRequest* request,
                                      v1::AppendResponse* response) override;

 private:
  Ingestor& ingestor_;
};

}  // namespace custops::ingest

#endif  // CUSTOPS_INGEST_INGEST_SERVICE_H_
