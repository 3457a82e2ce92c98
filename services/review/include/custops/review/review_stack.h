// The review projection, org index, queries and gRPC service as one unit for
// the all-in-one binary. Deliberately free of libs/domain headers so that a
// composer can include it beside any other service.
//
//   ASSIGN_OR_RETURN(auto review, ReviewStack::Open(log, {.path = dir + "/projections/review"}));
//   review->service().Register(table);
//   RETURN_IF_ERROR(review->Start());
//   ...
//   review->Stop();
#ifndef CUSTOPS_REVIEW_REVIEW_STACK_H_
#define CUSTOPS_REVIEW_REVIEW_STACK_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "custops/base/clock.h"
#include "custops/event/validate.h"
#include "custops/log/event_log.h"
#include "custops/projection/runtime.h"
#include "custops/review/review_service.h"

namespace grpc {
class Service;
}

namespace custops::review {

struct ReviewRules;  // review_projection.h

struct ReviewStackOptions {
  // State directory of the projection. Required.
  std::string path;
  // Reporting zone (IANA). Default: Asia/Shanghai
  std::string time_zone = "Asia/Shanghai";
  // Reporting currency. Default: CNY
  std::string currency = "CNY";
  // Thresholds (docs/review.md). Defaults: 20, 25, 7, 60
  int64_t top_customers_percent = 20;
  int64_t sla_near_percent = 25;
  int64_t birthday_days = 7;
  int64_t contract_ending_days = 60;
  // Applied to the rules after the fields above: lifecycle and value rules,
  // findings (a composer that has the domain headers sets them here).
  std::function<void(ReviewRules&)> configure;
  event::ValidationOptions validation;
  // Must outlive the stack. Default: the system clock.
  const base::Clock* clock = nullptr;
  // RuntimeOptions::own_all: false when an election decides (Kafka mode,
  // docs/kafka.md); the leader then Assign()s every partition.
  // Default: true
  bool own_all = true;
  // RuntimeOptions::bulk: a copy built by a rebuild. Default: false
  bool bulk = false;
};

class ReviewStack {
 public:
  // `log` must outlive the stack. INVALID_ARGUMENT for an unknown zone.
  static absl::StatusOr<std::unique_ptr<ReviewStack>> Open(log::EventLog& log,
                                                           const ReviewStackOptions& options);
  ~ReviewStack();

  ReviewService& service();
  // Completes every pending consistency-token wait, and any added later,
  // with `status` (see ProjectionRuntime::AbandonWaits).
  void AbandonWaits(const absl::Status& status =
                        absl::UnavailableError("shutting down: consistency-token wait abandoned"));
  // Folds what the org topic has now, on the calling thread (a rebuilt copy
  // before it is swapped in).
  absl::Status CatchUpOrg();
  const projection::ProjectionRuntime& runtime() const;
  projection::ProjectionRuntime& mutable_runtime();
  // Starts the projection and the org index threads.
  absl::Status Start();
  // Stops both; idempotent.
  absl::Status Stop();

 private:
  struct Impl;
  explicit ReviewStack(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace custops::review

#endif  // CUSTOPS_REVIEW_REVIEW_STACK_H_
