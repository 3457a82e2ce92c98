// Organisation figures for the review (targets, marketing spend, market size,
// review actions) from custops.org-events.v1.
//
// The projection runtime consumes one topic of customer events; org events
// are a different message on another topic and are few (a target per period
// and slice, a spend record per day and channel). So they are folded into
// memory by this index, which reads the org topic from the beginning at start
// and then follows it on its own thread; nothing is persisted, so there is no
// offset to keep consistent with state (docs/review.md).
//
//   ASSIGN_OR_RETURN(auto org, OrgIndex::Open(log, zone));
//   RETURN_IF_ERROR(org->Start());
//   org->Target("2024-03", v1::DIMENSION_REGION, "East");
#ifndef CUSTOPS_REVIEW_ORG_INDEX_H_
#define CUSTOPS_REVIEW_ORG_INDEX_H_

#include <atomic>
#include <map>
#include <memory>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "custops/log/event_log.h"
#include "custops/projection/position_waiters.h"
#include "custops/projection/token.h"
#include "custops/review/review_projection.h"
#include "custops/v1/events.pb.h"

namespace custops::review {

class OrgIndex final : public OrgFigures {
 public:
  // `log` must outlive the index; the org topic must exist.
  static absl::StatusOr<std::unique_ptr<OrgIndex>> Open(const log::EventLog& log,
                                                        absl::TimeZone zone);
  ~OrgIndex() override;

  // Follows the topic on a thread until Stop(). FAILED_PRECONDITION if running.
  absl::Status Start();
  void Stop();
  // Folds everything the log has now on the calling thread (tests, tools).
  absl::Status CatchUp();
  // Blocks until the org-topic positions of `token` are folded; positions of
  // other topics are ignored. DEADLINE_EXCEEDED after `deadline`.
  absl::Status WaitApplied(const projection::PositionSet& token, absl::Time deadline) const;
  // The same wait without a thread (see ProjectionRuntime::NotifyApplied).
  void NotifyApplied(const projection::PositionSet& token, absl::Time deadline,
                     projection::PositionWaiters::Done done) const;
  // Completes every pending NotifyApplied, and any added later, with
  // `status` (see ProjectionRuntime::AbandonWaits).
  void AbandonWaits(const absl::Status& status = absl::UnavailableError(
                        "shutting down: consistency-token wait abandoned")) const;

  // Folds one org event (exposed for tests).
  void Apply(const v1::OrgEvent& event);

  std::optional<int64_t> Target(const std::string& period_key, v1::Dimension dim,
                                const std::string& value) const override;
  int64_t MarketingSpend(const std::string& period_key, v1::Dimension dim,
                         const std::string& value) const override;
  std::optional<int64_t> MarketSize(const std::string& period_key, v1::Dimension dim,
                                    const std::string& value) const override;
  std::vector<v1::ReviewAction> Actions(v1::Dimension dim, const std::string& value,
                                        absl::Time period_start) const override;

 private:
  OrgIndex(const log::EventLog& log, absl::TimeZone zone, int partitions);
  void Loop();

  using SliceKey = std::tuple<std::string, int, std::string>;  // period key, dim, value
  const log::EventLog& log_;
  absl::TimeZone zone_;
  int partitions_;
  mutable absl::Mutex mu_;
  std::vector<int64_t> next_ ABSL_GUARDED_BY(mu_);
  mutable projection::PositionWaiters waiters_;
  std::map<SliceKey, int64_t> targets_ ABSL_GUARDED_BY(mu_);
  std::map<SliceKey, int64_t> spend_ ABSL_GUARDED_BY(mu_);
  std::map<SliceKey, int64_t> market_ ABSL_GUARDED_BY(mu_);
  struct Action {
    v1::ReviewAction action;
    int dim = 0;
    std::string value;
    absl::Time closed_at = absl::InfiniteFuture();
  };
  std::map<std::string, Action> actions_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> running_{false};
  std::thread thread_;
};

}  // namespace custops::review

#endif  // CUSTOPS_REVIEW_ORG_INDEX_H_
