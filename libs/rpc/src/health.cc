#include "custops/rpc/health.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "custops/base/executor.h"
#include "grpc/health/v1/health.pb.h"

namespace custops::rpc {
namespace {

using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;

HealthCheckResponse::ServingStatus StatusOf(std::optional<bool> serving) {
  if (!serving) return HealthCheckResponse::SERVICE_UNKNOWN;
  return *serving ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
}

// One Watch stream: sends the status, then looks again every interval and
// sends it when it changed, until the client goes away.
class Watcher : public std::enable_shared_from_this<Watcher> {
 public:
  Watcher(HealthService::StatusFn status, std::string service, absl::Duration interval,
          std::shared_ptr<StreamSink> sink)
      : status_(std::move(status)),
        service_(std::move(service)),
        interval_(interval),
        sink_(std::move(sink)) {}

  void Start() {
    sink_->OnCancel([self = shared_from_this()] { self->Cancel(); });
    Look();
  }

 private:
  void Look() {
    const HealthCheckResponse::ServingStatus now = StatusOf(status_(service_));
    {
      absl::MutexLock lock(&mu_);
      if (done_) return;
      if (sent_ && now == last_) {
        ScheduleLocked();
        return;
      }
      last_ = now;
      sent_ = true;
      response_.set_status(now);
    }
    sink_->Write(response_, [self = shared_from_this()](bool ok) {
      if (!ok) return self->Cancel();
      absl::MutexLock lock(&self->mu_);
      if (!self->done_) self->ScheduleLocked();
    });
  }

  void ScheduleLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    timer_ = base::TimerQueue::Default().Schedule(absl::Now() + interval_,
                                                  [self = shared_from_this()] { self->Look(); });
  }

  void Cancel() {
    {
      absl::MutexLock lock(&mu_);
      if (done_) return;
      done_ = true;
      base::TimerQueue::Default().Cancel(timer_);
    }
    sink_->Finish(absl::CancelledError("the client went away"));
  }

  HealthService::StatusFn status_;
  const std::string service_;
  const absl::Duration interval_;
  std::shared_ptr<StreamSink> sink_;
  HealthCheckResponse response_;  // kept until its write completes
  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool sent_ ABSL_GUARDED_BY(mu_) = false;
  HealthCheckResponse::ServingStatus last_ ABSL_GUARDED_BY(mu_) = HealthCheckResponse::UNKNOWN;
  base::TimerId timer_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

HealthService::HealthService(StatusFn status, absl::Duration watch_interval)
    : status_(std::move(status)), watch_interval_(watch_interval) {}

void HealthService::Register(MethodTable& table) {
  table.Sync<HealthCheckRequest, HealthCheckResponse>(
      "grpc.health.v1.Health/Check", Access::kPublic, /*offload=*/false,
      [this](Call&, const HealthCheckRequest& r) -> absl::StatusOr<HealthCheckResponse> {
        const std::optional<bool> serving = status_(r.service());
        if (!serving) {
          return absl::NotFoundError(
              absl::StrCat("service: \"", r.service(), "\" is not served here"));
        }
        HealthCheckResponse out;
        out.set_status(StatusOf(serving));
        return out;
      });
  table.Stream<HealthCheckRequest>(
      "grpc.health.v1.Health/Watch", Access::kPublic,
      [this](Call&, const HealthCheckRequest& r, std::shared_ptr<StreamSink> sink) {
        std::make_shared<Watcher>(status_, r.service(), watch_interval_, std::move(sink))->Start();
      });
}

}  // namespace custops::rpc
