// Admin (docs/operations.md): per-partition log ends, applied offsets and lag
// of every projection, counters, dead letters, rebuilds.
#ifndef CUSTOPS_ADMIN_ADMIN_SERVICE_H_
#define CUSTOPS_ADMIN_ADMIN_SERVICE_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "custops/log/event_log.h"
#include "custops/projection/runtime.h"
#include "custops/rpc/gateway.h"
#include "custops/v1/admin.pb.h"

namespace custops::admin {

// Each partition's owner address ("" when none) of the named projection,
// when projection instances share partitions or elect a leader (Kafka mode);
// an empty vector for a projection that does neither; empty function otherwise.
using OwnersFn = std::function<absl::StatusOr<std::vector<std::string>>(std::string_view)>;

// The projections a process runs, as served at the time of the call (a
// rebuild swaps a copy for another), and their rebuilds.
struct Projections {
  // Each runtime stays open while the caller holds it.
  std::function<std::vector<std::shared_ptr<projection::ProjectionRuntime>>()> runtimes;
  // Starts a rebuild of the named projection (or finds it running);
  // NOT_FOUND when it does not run here.
  std::function<absl::StatusOr<v1::RebuildProgress>(std::string_view)> rebuild;
  // The named projection's rebuild progress; nullopt when it does not run here.
  std::function<std::optional<v1::RebuildProgress>(std::string_view)> progress;
};

// INVALID_ARGUMENT naming the field unless `name` is lifecycle, value or review.
absl::Status CheckProjectionName(const std::string& name);

// Builds the status answer. `log` and the runtimes must outlive the call.
absl::StatusOr<v1::StatusResponse> BuildStatus(
    log::EventLog& log, const std::vector<const projection::ProjectionRuntime*>& runtimes,
    const std::string& mode, const OwnersFn& owners = {});

// One page of dead letters (custops.v1.Admin/ListDeadLetters). At most
// `max_scanned` records of the topic are read per call.
absl::StatusOr<v1::ListDeadLettersResponse> ListDeadLetters(
    log::EventLog& log, const v1::ListDeadLettersRequest& request, int64_t max_scanned = 10'000);

// Re-applies parked records (custops.v1.Admin/ReplayDeadLetters) of the
// named runtime, after checking the request.
absl::StatusOr<v1::ReplayDeadLettersResponse> ReplayDeadLetters(
    const std::vector<projection::ProjectionRuntime*>& runtimes,
    const v1::ReplayDeadLettersRequest& request);

class AdminService {
 public:
  // All references must outlive the service.
  AdminService(log::EventLog& log, Projections projections, std::string mode, OwnersFn owners = {})
      : log_(log),
        projections_(std::move(projections)),
        mode_(std::move(mode)),
        owners_(std::move(owners)) {}

  // Adds custops.v1.Admin's methods to `table`: Status needs the reader
  // role, ListDeadLetters, ReplayDeadLetters and Rebuild the admin role and
  // no region scope; all run on the worker pool (they ask the log or apply
  // records).
  void Register(rpc::MethodTable& table);

 private:
  log::EventLog& log_;
  Projections projections_;
  std::string mode_;
  OwnersFn owners_;
};

}  // namespace custops::admin

#endif  // CUSTOPS_ADMIN_ADMIN_SERVICE_H_
