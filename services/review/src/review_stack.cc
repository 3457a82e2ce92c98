#include "custops/review/review_stack.h"

#include "absl/strings/str_cat.h"
#include "custops/base/status_macros.h"
#include "custops/review/org_index.h"
#include "custops/review/review_projection.h"
#include "custops/review/review_service.h"

namespace custops::review {

struct ReviewStack::Impl {
  std::unique_ptr<projection::ProjectionRuntime> runtime;
  std::unique_ptr<OrgIndex> org;
  std::unique_ptr<ReviewQueries> queries;
  std::unique_ptr<ReviewService> service;
};

absl::StatusOr<std::unique_ptr<ReviewStack>> ReviewStack::Open(log::EventLog& log,
                                                               const ReviewStackOptions& o) {
  absl::TimeZone zone;
  if (!absl::LoadTimeZone(o.time_zone, &zone)) {
    return absl::InvalidArgumentError(absl::StrCat("time_zone: unknown zone ", o.time_zone));
  }
  ReviewRules rules{.zone = zone};
  rules.metrics.top_customers_percent = o.top_customers_percent;
  rules.worklist.sla.near_percent = o.sla_near_percent;
  rules.worklist.birthday_days = o.birthday_days;
  rules.worklist.contract_ending_window = absl::Hours(24 * o.contract_ending_days);
  if (o.configure) o.configure(rules);
  RETURN_IF_ERROR(domain::ValidateFindingRules(rules.findings));
  auto impl = std::make_unique<Impl>();
  ASSIGN_OR_RETURN(impl->runtime, projection::ProjectionRuntime::Open(
                                      log, std::make_unique<ReviewProjection>(rules),
                                      {.path = o.path,
                                       .validation = o.validation,
                                       .clock = o.clock,
                                       .own_all = o.own_all,
                                       .bulk = o.bulk}));
  ASSIGN_OR_RETURN(impl->org, OrgIndex::Open(log, zone));
  impl->queries = std::make_unique<ReviewQueries>(
      impl->runtime->store(), impl->runtime->partitions(), rules, impl->org.get(), o.currency);
  impl->queries->set_state_outdated(impl->runtime->state_outdated());
  impl->service = std::make_unique<ReviewService>(
      *impl->runtime, impl->org.get(), *impl->queries,
      o.clock != nullptr ? *o.clock : base::SystemClock::Instance());
  return std::unique_ptr<ReviewStack>(new ReviewStack(std::move(impl)));
}

ReviewStack::ReviewStack(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ReviewStack::~ReviewStack() { (void)Stop(); }

ReviewService& ReviewStack::service() { return *impl_->service; }
void ReviewStack::AbandonWaits(const absl::Status& status) {
  impl_->runtime->AbandonWaits(status);
  impl_->org->AbandonWaits(status);
}
absl::Status ReviewStack::CatchUpOrg() { return impl_->org->CatchUp(); }

const projection::ProjectionRuntime& ReviewStack::runtime() const { return *impl_->runtime; }
projection::ProjectionRuntime& ReviewStack::mutable_runtime() { return *impl_->runtime; }

absl::Status ReviewStack::Start() {
  RETURN_IF_ERROR(impl_->runtime->Start());
  return impl_->org->Start();
}

absl::Status ReviewStack::Stop() {
  impl_->org->Stop();
  return impl_->runtime->Stop();
}

}  // namespace custops::review
