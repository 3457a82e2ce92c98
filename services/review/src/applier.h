// Applier: the review projection's rules, one event (or one due entry of a
// tick) at a time, over a ReviewProjection::Batch. Apply dispatches on the
// payload (review_projection.cc, the file docs/adding-an-event.md names) to
// the per-payload rules (applier_payloads.cc), which move slices, funnel
// tables, distinct counters and snapshot deltas; the steps several of them
// and the ticker share (SLA clocks, contact cadence, derived timelines,
// indexes) are in applier.cc. Short-lived: one per Apply or Tick call; the
// batch and the rules must outlive it.
//
//   batch.Begin(txn);
//   Applier applier(batch, rules, families, ctx.now);
//   RETURN_IF_ERROR(applier.Apply(ctx, event));
#ifndef CUSTOPS_REVIEW_SRC_APPLIER_H_
#define CUSTOPS_REVIEW_SRC_APPLIER_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "custops/internal/review_state.pb.h"
#include "custops/projection/projection.h"
#include "custops/review/review_projection.h"
#include "custops/v1/events.pb.h"
#include "review_batch.h"

namespace custops::review {

// Applies one event to the batch. Helpers share the batch and the rules.
class Applier {
 public:
  Applier(ReviewProjection::Batch& b, const ReviewRules& rules,
          const ReviewProjection::Families& cf, absl::Time now)
      : b_(b), rules_(rules), cf_(cf), now_(now) {}

  absl::Status Apply(const projection::ApplyContext& ctx, const v1::Event& e);
  // Re-evaluates a complaint's SLA clocks: counts new breaches (in the
  // period of their due instant) and re-indexes the next due.
  absl::Status Sla(const std::string& customer_id, internal::ReviewCustomer& c,
                   internal::ReviewComplaint& complaint);
  // Re-indexes the customer's contact due and emits ContactOverdue when due.
  void Cadence(const std::string& customer_id, internal::ReviewCustomer& c);
  // Recomputes the customer's derived timelines (lifecycle stages and
  // losses, negative asset, overdue receivables) up to the horizon, counts
  // the difference from what was counted, and indexes the next change.
  // The horizon is max(now, the customer's latest event, at_least).
  absl::Status Derive(const std::string& customer_id, internal::ReviewCustomer& c,
                      int64_t at_least = 0);

 private:
  // Per payload (applier_payloads.cc): what the event at t (micros) by
  // `actor` moves for customer `id` with state `c`. An error leaves the
  // event's remaining steps undone (Apply returns it).
  absl::Status OnProfile(const std::string& id, internal::ReviewCustomer& c, int64_t t,
                         const v1::Event& e);  // CustomerRegistered, CustomerProfileUpdated
  void OnContactAdded(internal::ReviewCustomer& c, const v1::ContactAdded& a);
  absl::Status OnVisitLogged(const std::string& id, internal::ReviewCustomer& c, int64_t t,
                             const std::string& actor);
  absl::Status OnOpportunityOpened(const std::string& id, internal::ReviewCustomer& c, int64_t t,
                                   const std::string& actor, const v1::OpportunityOpened& o);
  absl::Status OnOpportunityStageChanged(const std::string& id, internal::ReviewCustomer& c,
                                         int64_t t, const std::string& actor,
                                         const v1::OpportunityStageChanged& s);
  absl::Status OnQuoteIssued(internal::ReviewCustomer& c, int64_t t, const std::string& actor,
                             const v1::QuoteIssued& q);
  absl::Status OnContractSigned(const std::string& id, internal::ReviewCustomer& c, int64_t t,
                                const std::string& actor, const v1::ContractSigned& s);
  absl::Status OnContractRenewed(const std::string& id, internal::ReviewCustomer& c, int64_t t,
                                 const std::string& actor, const v1::ContractRenewed& r);
  void OnContractTerminated(internal::ReviewCustomer& c, int64_t t,
                            const v1::ContractTerminated& terminated);
  absl::Status OnPaymentReceived(internal::ReviewCustomer& c, int64_t t, const std::string& actor,
                                 const v1::PaymentReceived& p);
  absl::Status OnComplaintFiled(const std::string& id, internal::ReviewCustomer& c, int64_t t,
                                const v1::ComplaintFiled& f);
  absl::Status OnComplaintStep(const std::string& id, internal::ReviewCustomer& c, int64_t t,
                               const v1::Event& e);  // ComplaintResponded, -Resolved, -Reopened
  absl::Status OnSatisfactionSurveyed(internal::ReviewCustomer& c, int64_t t,
                                      const v1::SatisfactionSurveyed& survey);
  // A signed or renewed contract's purchase (applier_payloads.cc).
  absl::Status Purchase(const std::string& id, internal::ReviewCustomer& c, int64_t t,
                        const std::string& actor, const std::string& product, int64_t amount,
                        int64_t cost);

  // Shared steps (applier.cc).
  void Reindex(const std::string& id, internal::ReviewCustomer& c);
  void SaveTierFacts(const std::string& id, const internal::ReviewCustomer& c);
  // rv_activity: the customer's name as of its latest naming event (event
  // time; at equal times the later in the log), and a complaint's category.
  absl::Status SaveName(const std::string& id, int64_t t, const std::string& name);
  void SaveComplaintCategory(const std::string& id, const std::string& complaint_id,
                             v1::ComplaintCategory category);

  ReviewProjection::Batch& b_;
  const ReviewRules& rules_;
  const ReviewProjection::Families& cf_;
  absl::Time now_;
  const projection::ApplyContext* ctx_ = nullptr;
};

}  // namespace custops::review

#endif  // CUSTOPS_REVIEW_SRC_APPLIER_H_
