// One projection as the process serves it, and its rebuild
// (docs/operations.md "Rebuild"): the copy serving now, and a fresh copy
// built from offset 0 beside it in bulk (no WAL), swapped in once caught up.
//
// On disk, under `root`: the copy of generation 0 in `<name>/`, generation g
// in `<name>.g<g>/`, and `<name>.generation` naming the one that serves (no
// file: 0). The swap is that file's atomic replacement: a crash before it
// leaves the old copy serving and the new one half built (the next start
// resumes the rebuild from where its last flush left it); a crash after it
// serves the new copy and drops the old one.
//
//   ASSIGN_OR_RETURN(auto slot, ProjectionSlot::Open({.name = "lifecycle", ...}));
//   slot->Register(table);           // each call answered by the copy serving then
//   RETURN_IF_ERROR(slot->Start());
//   RETURN_IF_ERROR(slot->Rebuild());  // returns at once; Progress() follows it
#ifndef CUSTOPS_APP_PROJECTION_SLOT_H_
#define CUSTOPS_APP_PROJECTION_SLOT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "copies.h"
#include "custops/base/types.h"
#include "custops/rpc/gateway.h"
#include "custops/v1/admin.pb.h"

namespace custops::app {

struct SlotOptions {
  std::string name;  // the projection's: "lifecycle"
  std::string root;  // the projections' directory
  // Whether copies own every partition (embedded); otherwise they own what
  // Assign gives them (Kafka: a consumer group or an election).
  bool own_all = true;
  // Opens a copy with its state in `path`; `bulk` for one a rebuild builds.
  std::function<absl::StatusOr<std::unique_ptr<ProjectionCopy>>(const std::string& path, bool bulk)>
      open;
};

class ProjectionSlot {
 public:
  // Opens the serving copy; drops copies left behind by a swap.
  static absl::StatusOr<std::unique_ptr<ProjectionSlot>> Open(SlotOptions options);
  // Stops a rebuild in progress (it resumes at the next start), then the copy.
  ~ProjectionSlot();

  const std::string& name() const { return options_.name; }
  // The copy serving now; it stays open while the caller holds it.
  std::shared_ptr<ProjectionCopy> Current() const;
  // Its runtime, held the same way.
  std::shared_ptr<projection::ProjectionRuntime> Runtime() const;

  // Adds the copy's methods to `table`; each call is answered by the copy
  // serving when it arrives, and a call waiting on a consistency token when
  // a swap retires its copy is answered again by the new copy.
  void Register(rpc::MethodTable& table);

  // Starts the serving copy, then resumes a rebuild a crash interrupted.
  absl::Status Start();
  // Stops the rebuild (resumable) and the serving copy.
  absl::Status Stop();
  // Completes every pending consistency-token wait with UNAVAILABLE.
  void AbandonWaits();

  // Ownership (Kafka): given to the serving copy and to a copy being built.
  absl::Status Assign(const std::vector<Partition>& partitions);
  void Revoke(const std::vector<Partition>& partitions);

  // Starts building a fresh copy on a thread of its own; OK as well when one
  // is being built already. FAILED_PRECONDITION when this instance owns no
  // partition (Kafka: a standby, or a member without an assignment).
  absl::Status Rebuild();
  // The rebuild running now, or the last one since start.
  v1::RebuildProgress Progress() const;

 private:
  explicit ProjectionSlot(SlotOptions options) : options_(std::move(options)) {}
  std::string PathOf(int64_t generation) const;
  void StartRebuildThread() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RunRebuild();
  absl::Status BuildAndSwap();
  // Updates the progress from the copy being built and the serving one.
  void Measure(projection::ProjectionRuntime& building, projection::ProjectionRuntime& serving);

  SlotOptions options_;
  // Held by ownership changes (Assign, Revoke) and by a swap, which must not
  // interleave; taken before mu_, never while holding it.
  absl::Mutex ownership_mu_;
  // Guards the pointers and the progress; held only briefly (every call
  // takes it in Current()).
  mutable absl::Mutex mu_;
  std::shared_ptr<ProjectionCopy> current_ ABSL_GUARDED_BY(mu_);
  int64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  // The copy being built (ownership changes reach it too).
  std::shared_ptr<ProjectionCopy> building_ ABSL_GUARDED_BY(mu_);
  // Partitions assigned to this instance (own_all = false), for a new copy.
  std::vector<Partition> assigned_ ABSL_GUARDED_BY(mu_);
  bool resume_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool running_ ABSL_GUARDED_BY(mu_) = false;  // a rebuild thread runs
  v1::RebuildProgress progress_ ABSL_GUARDED_BY(mu_);
  absl::Time progress_since_ ABSL_GUARDED_BY(mu_);
  int64_t progress_from_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<bool> cancel_{false};
  std::thread thread_;
};

}  // namespace custops::app

#endif  // CUSTOPS_APP_PROJECTION_SLOT_H_
