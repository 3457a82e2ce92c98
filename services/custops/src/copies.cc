#include "copies.h"

#include <utility>

#include "custops/base/status_macros.h"

namespace custops::app {

namespace {

projection::RuntimeOptions RuntimeOptionsOf(const CopyOptions& o) {
  return {.path = o.path,
          .validation = o.validation,
          .clock = o.clock,
          .own_all = o.own_all,
          .bulk = o.bulk};
}

const base::Clock& ClockOf(const CopyOptions& o) {
  return o.clock != nullptr ? *o.clock : base::SystemClock::Instance();
}

}  // namespace

absl::StatusOr<std::unique_ptr<LifecycleCopy>> LifecycleCopy::Open(
    log::EventLog& log, const CopyOptions& options, const domain::LifecycleRules& rules,
    lifecycle::Routing routing) {
  std::unique_ptr<LifecycleCopy> copy(new LifecycleCopy());
  projection::RuntimeOptions runtime_options = RuntimeOptionsOf(options);
  runtime_options.restore_batch = lifecycle::kCatchUpBatch;
  ASSIGN_OR_RETURN(copy->runtime_, projection::ProjectionRuntime::Open(
                                       log, std::make_unique<lifecycle::LifecycleProjection>(rules),
                                       runtime_options));
  copy->queries_ = std::make_unique<lifecycle::LifecycleQueries>(
      copy->runtime_->store(), copy->runtime_->partitions(), rules);
  copy->service_ = std::make_unique<lifecycle::LifecycleService>(
      *copy->runtime_, *copy->queries_, ClockOf(options), std::move(routing));
  copy->service_->Register(copy->methods_);
  return copy;
}

LifecycleCopy::~LifecycleCopy() { (void)Stop(); }

absl::StatusOr<std::unique_ptr<ValueCopy>> ValueCopy::Open(log::EventLog& log,
                                                           const CopyOptions& options,
                                                           const value::ValueRules& rules) {
  std::unique_ptr<ValueCopy> copy(new ValueCopy());
  copy->queries_ = std::make_unique<value::ValueQueries>(rules, ClockOf(options));
  ASSIGN_OR_RETURN(copy->runtime_,
                   projection::ProjectionRuntime::Open(
                       log, std::make_unique<value::ValueProjection>(rules, *copy->queries_),
                       RuntimeOptionsOf(options)));
  copy->queries_->SetPositions([rt = copy->runtime_.get()] { return rt->AppliedOffsets(); });
  copy->service_ =
      std::make_unique<value::ValueService>(*copy->runtime_, *copy->queries_, ClockOf(options));
  copy->service_->Register(copy->methods_);
  return copy;
}

ValueCopy::~ValueCopy() { (void)Stop(); }

absl::StatusOr<std::unique_ptr<ReviewCopy>> ReviewCopy::Open(log::EventLog& log,
                                                             const CopyOptions& options,
                                                             review::ReviewStackOptions stack) {
  stack.path = options.path;
  stack.bulk = options.bulk;
  stack.own_all = options.own_all;
  stack.clock = options.clock;
  stack.validation = options.validation;
  std::unique_ptr<ReviewCopy> copy(new ReviewCopy());
  ASSIGN_OR_RETURN(copy->stack_, review::ReviewStack::Open(log, stack));
  copy->stack_->service().Register(copy->methods_);
  return copy;
}

ReviewCopy::~ReviewCopy() { (void)Stop(); }

}  // namespace custops::app
