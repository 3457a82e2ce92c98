// ReviewProjection (review_projection.h): its column families, the batch it
// applies into (review_batch.h), the ticker's due entries, and
// Applier::Apply, the one switch over event payloads (each case hands the
// payload to its rule in applier_payloads.cc; docs/adding-an-event.md names
// this file as the review's place for a new event type).
#include "custops/review/review_projection.h"

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "applier.h"
#include "attribution.h"
#include "custops/base/status_macros.h"
#include "custops/domain/activity.h"
#include "custops/domain/lifecycle.h"
#include "custops/event/time.h"
#include "custops/store/keys.h"
#include "review_batch.h"
#include "review_units.h"

namespace custops::review {

ReviewProjection::ReviewProjection(ReviewRules rules) : rules_(std::move(rules)) {}
ReviewProjection::~ReviewProjection() = default;

std::vector<std::string> ReviewProjection::ColumnFamilies() const {
  return {"rv_slice", "rv_delta",  "rv_seen", "rv_customer", "rv_opp",
          "rv_owner", "rv_region", "rv_due",  "rv_tier",     "rv_activity"};
}

absl::Status ReviewProjection::Attach(store::Store& store, int partitions) {
  store_ = &store;
  cf_ = {.slice = store.Family("rv_slice"),
         .delta = store.Family("rv_delta"),
         .seen = store.Family("rv_seen"),
         .customer = store.Family("rv_customer"),
         .opp = store.Family("rv_opp"),
         .owner = store.Family("rv_owner"),
         .region = store.Family("rv_region"),
         .due = store.Family("rv_due"),
         .tier = store.Family("rv_tier"),
         .activity = store.Family("rv_activity")};
  batch_ = std::make_unique<Batch>(rules_, cf_, partitions);
  return absl::OkStatus();
}

absl::Status Applier::Apply(const projection::ApplyContext& ctx, const v1::Event& e) {
  ctx_ = &ctx;
  const std::string& id = e.customer_id();
  ASSIGN_OR_RETURN(internal::ReviewCustomer * cp, b_.Customer(id));
  internal::ReviewCustomer& c = *cp;
  if (c.customer_id().empty()) c.set_customer_id(id);
  const int64_t t = event::ToUnixMicros(e.occurred_at());
  const absl::Time at = FromMicros(t);
  const std::string& actor = e.actor_id();

  if (domain::IsActivity(e)) {
    RETURN_IF_ERROR(b_.CountDistinct(c, kSeenActive, at, BaseDims(c, t), id,
                                     &domain::ReviewAccumulator::active_customers));
  }
  switch (e.payload_case()) {
    case v1::Event::kCustomerRegistered:
    case v1::Event::kCustomerProfileUpdated:
      RETURN_IF_ERROR(OnProfile(id, c, t, e));
      break;
    case v1::Event::kContactAdded:
      OnContactAdded(c, e.contact_added());
      break;
    case v1::Event::kVisitLogged:
      RETURN_IF_ERROR(OnVisitLogged(id, c, t, actor));
      break;
    case v1::Event::kOpportunityOpened:
      RETURN_IF_ERROR(OnOpportunityOpened(id, c, t, actor, e.opportunity_opened()));
      break;
    case v1::Event::kOpportunityStageChanged:
      RETURN_IF_ERROR(OnOpportunityStageChanged(id, c, t, actor, e.opportunity_stage_changed()));
      break;
    case v1::Event::kQuoteIssued:
      RETURN_IF_ERROR(OnQuoteIssued(c, t, actor, e.quote_issued()));
      break;
    case v1::Event::kContractSigned:
      RETURN_IF_ERROR(OnContractSigned(id, c, t, actor, e.contract_signed()));
      break;
    case v1::Event::kContractRenewed:
      RETURN_IF_ERROR(OnContractRenewed(id, c, t, actor, e.contract_renewed()));
      break;
    case v1::Event::kContractTerminated:
      OnContractTerminated(c, t, e.contract_terminated());
      break;
    case v1::Event::kPaymentReceived:
      RETURN_IF_ERROR(OnPaymentReceived(c, t, actor, e.payment_received()));
      break;
    case v1::Event::kComplaintFiled:
      RETURN_IF_ERROR(OnComplaintFiled(id, c, t, e.complaint_filed()));
      break;
    case v1::Event::kComplaintResponded:
    case v1::Event::kComplaintResolved:
    case v1::Event::kComplaintReopened:
      RETURN_IF_ERROR(OnComplaintStep(id, c, t, e));
      break;
    case v1::Event::kSatisfactionSurveyed:
      RETURN_IF_ERROR(OnSatisfactionSurveyed(c, t, e.satisfaction_surveyed()));
      break;
    case v1::Event::kReferralMade:
      RETURN_IF_ERROR(b_.ForEach(at, BaseDims(c, t),
                                 [](SliceState& s, const std::string&) { s.acc.referrals += 1; }));
      break;
    case v1::Event::kCustomerChurned:
      // Counted as a loss through the lifecycle rules (Derive).
      c.set_churned_micros(std::max(c.churned_micros(), t));
      break;
    case v1::Event::kQuoteAccepted:
    case v1::Event::kQuoteRejected:
    case v1::Event::PAYLOAD_NOT_SET:
      break;
  }
  // The lifecycle's facts (profile updates and contacts do not move stages).
  if (!e.has_customer_profile_updated() && !e.has_contact_added()) {
    (void)domain::Evolve(*c.mutable_lifecycle(), e);
  }
  c.set_latest_event_micros(std::max(c.latest_event_micros(), t));
  RETURN_IF_ERROR(Derive(id, c));
  Cadence(id, c);
  return absl::OkStatus();
}

absl::Status ReviewProjection::Apply(const projection::ApplyContext& ctx, const v1::Event& event,
                                     projection::Txn& txn) {
  batch_->Begin(txn);
  Applier applier(*batch_, rules_, cf_, ctx.now);
  return applier.Apply(ctx, event);
}

absl::Status ReviewProjection::Flush(Partition /*partition*/, absl::Time /*now*/,
                                     projection::Txn& txn) {
  batch_->Begin(txn);
  return batch_->Flush();
}

void ReviewProjection::Abandon(Partition /*partition*/) { batch_->Abandon(); }

absl::Status ReviewProjection::Tick(Partition partition, absl::Time now, projection::Txn& txn) {
  batch_->Begin(txn);
  // Collect the due entries first: re-indexing writes to the same family.
  std::vector<std::pair<std::string, std::string>> due;  // (customer, subject)
  std::vector<std::string> keys;
  {
    const std::string prefix = batch_->prefix();
    std::unique_ptr<store::Iterator> it = store_->NewIterator(cf_.due, prefix);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::string_view k = it->key();
      k.remove_prefix(prefix.size());
      if (k.size() < 8) continue;
      std::string_view rest = k;
      const int64_t at = store::ReadI64(rest);
      if (at > absl::ToUnixMicros(now)) break;
      const std::string_view customer = store::ReadId(rest);
      due.emplace_back(std::string(customer), std::string(rest));
      keys.emplace_back(it->key());
      if (due.size() >= 10'000) break;  // the rest at the next tick
    }
    RETURN_IF_ERROR(it->status());
  }
  (void)partition;
  Applier applier(*batch_, rules_, cf_, now);
  for (const auto& [customer, subject] : due) {
    ASSIGN_OR_RETURN(internal::ReviewCustomer * c, batch_->Customer(customer));
    if (subject == "~") {
      applier.Cadence(customer, *c);
      continue;
    }
    if (subject == "L") {
      RETURN_IF_ERROR(applier.Derive(customer, *c));
      applier.Cadence(customer, *c);
      continue;
    }
    for (auto& k : *c->mutable_complaints()) {
      if ("c" + k.complaint_id() == subject) RETURN_IF_ERROR(applier.Sla(customer, *c, k));
    }
  }
  return batch_->Flush();
}

}  // namespace custops::review
