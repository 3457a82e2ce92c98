// One copy of a projection as this process serves it: its runtime and what
// answers from it (queries, the gRPC service, review's org index), in one
// shape for the three projections. A ProjectionSlot (projection_slot.h)
// serves one copy and builds the next one beside it (Admin.Rebuild).
#ifndef CUSTOPS_APP_COPIES_H_
#define CUSTOPS_APP_COPIES_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "custops/base/clock.h"
#include "custops/domain/lifecycle.h"
#include "custops/event/validate.h"
#include "custops/lifecycle/lifecycle_projection.h"
#include "custops/lifecycle/lifecycle_service.h"
#include "custops/log/event_log.h"
#include "custops/projection/runtime.h"
#include "custops/review/review_stack.h"
#include "custops/rpc/gateway.h"
#include "custops/value/value_projection.h"
#include "custops/value/value_service.h"

namespace custops::app {

class ProjectionCopy {
 public:
  virtual ~ProjectionCopy() = default;

  virtual projection::ProjectionRuntime& runtime() = 0;
  // The copy's own methods, bound to it.
  const rpc::MethodTable& methods() const { return methods_; }
  // Starts the runtime's threads (and the helpers').
  virtual absl::Status Start() = 0;
  // Stops them; idempotent.
  virtual absl::Status Stop() = 0;
  // Brings what the copy answers from besides its runtime up to the log end,
  // on the calling thread (before a rebuilt copy is swapped in).
  virtual absl::Status CatchUpHelpers() { return absl::OkStatus(); }
  // Completes every pending consistency-token wait, and any added later,
  // with `status`.
  virtual void AbandonWaits(const absl::Status& status) = 0;

 protected:
  rpc::MethodTable methods_;
};

// Where a copy keeps its state and how it runs.
struct CopyOptions {
  std::string path;  // its state store
  // Built by a rebuild: bulk writes until RuntimeOptions::bulk ends.
  bool bulk = false;
  // RuntimeOptions::own_all: false on Kafka (a group or election decides).
  bool own_all = true;
  const base::Clock* clock = nullptr;
  event::ValidationOptions validation;
};

class LifecycleCopy : public ProjectionCopy {
 public:
  // `log` and the routing's pointers must outlive the copy.
  static absl::StatusOr<std::unique_ptr<LifecycleCopy>> Open(log::EventLog& log,
                                                             const CopyOptions& options,
                                                             const domain::LifecycleRules& rules,
                                                             lifecycle::Routing routing);
  ~LifecycleCopy() override;
  projection::ProjectionRuntime& runtime() override { return *runtime_; }
  const lifecycle::LifecycleQueries& queries() const { return *queries_; }
  absl::Status Start() override { return runtime_->Start(); }
  absl::Status Stop() override { return runtime_->Stop(); }
  void AbandonWaits(const absl::Status& status) override { runtime_->AbandonWaits(status); }

 private:
  LifecycleCopy() = default;
  std::unique_ptr<projection::ProjectionRuntime> runtime_;
  std::unique_ptr<lifecycle::LifecycleQueries> queries_;
  std::unique_ptr<lifecycle::LifecycleService> service_;
};

class ValueCopy : public ProjectionCopy {
 public:
  // `log` and the clock must outlive the copy.
  static absl::StatusOr<std::unique_ptr<ValueCopy>> Open(log::EventLog& log,
                                                         const CopyOptions& options,
                                                         const value::ValueRules& rules);
  ~ValueCopy() override;
  projection::ProjectionRuntime& runtime() override { return *runtime_; }
  const value::ValueQueries& queries() const { return *queries_; }
  absl::Status Start() override { return runtime_->Start(); }
  absl::Status Stop() override { return runtime_->Stop(); }
  void AbandonWaits(const absl::Status& status) override { runtime_->AbandonWaits(status); }

 private:
  ValueCopy() = default;
  std::unique_ptr<value::ValueQueries> queries_;  // before runtime_: outlives it
  std::unique_ptr<projection::ProjectionRuntime> runtime_;
  std::unique_ptr<value::ValueService> service_;
};

class ReviewCopy : public ProjectionCopy {
 public:
  // `options.path`, `bulk`, `own_all`, `clock` and `validation` override the
  // stack options' own.
  static absl::StatusOr<std::unique_ptr<ReviewCopy>> Open(log::EventLog& log,
                                                          const CopyOptions& options,
                                                          review::ReviewStackOptions stack);
  ~ReviewCopy() override;
  projection::ProjectionRuntime& runtime() override { return stack_->mutable_runtime(); }
  absl::Status Start() override { return stack_->Start(); }
  absl::Status Stop() override { return stack_->Stop(); }
  absl::Status CatchUpHelpers() override { return stack_->CatchUpOrg(); }
  void AbandonWaits(const absl::Status& status) override { stack_->AbandonWaits(status); }

 private:
  ReviewCopy() = default;
  std::unique_ptr<review::ReviewStack> stack_;
};

}  // namespace custops::app

#endif  // CUSTOPS_APP_COPIES_H_
