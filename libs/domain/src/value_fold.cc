// The value fold (custops/domain/value_fold.h, docs/value.md "Facts"):
// EvolveValue folds each event into the customer's value facts, keeping
// every list in canonical order so any arrival order gives the same facts.
// Pure: no I/O, no clock. The population evaluation is value_population.cc.
#include "custops/domain/value_fold.h"

#include <algorithm>
#include <string>
#include <utility>

#include "google/protobuf/timestamp.pb.h"

namespace custops::domain {
namespace {

// google.protobuf.Timestamp -> microseconds, as custops/event/time.h's
// FromProto (exact to the microsecond).
int64_t Micros(const google::protobuf::Timestamp& t) {
  return absl::ToUnixMicros(absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos()));
}

void InsertSorted(google::protobuf::RepeatedField<int64_t>& list, int64_t v) {
  list.Add(v);
  auto pos = std::upper_bound(list.begin(), list.end() - 1, v);
  std::rotate(pos, list.end() - 1, list.end());
}

// Inserts `item` into `list` keeping it sorted by `less`; returns it.
template <typename T, typename Less>
T* InsertOrdered(google::protobuf::RepeatedPtrField<T>& list, T item, Less less) {
  *list.Add() = std::move(item);
  auto pos = std::upper_bound(list.begin(), list.end() - 1, list[list.size() - 1], less);
  const int index = static_cast<int>(pos - list.begin());
  for (int i = list.size() - 1; i > index; --i) list.SwapElements(i, i - 1);
  return &list[index];
}

template <typename T>
T* FindOrInsertById(google::protobuf::RepeatedPtrField<T>& list, const std::string& id,
                    std::string (*id_of)(const T&), void (*set_id)(T&, const std::string&)) {
  auto pos = std::lower_bound(list.begin(), list.end(), id,
                              [&](const T& t, const std::string& key) { return id_of(t) < key; });
  if (pos != list.end() && id_of(*pos) == id) return &*pos;
  T item;
  set_id(item, id);
  return InsertOrdered(list, std::move(item),
                       [&](const T& a, const T& b) { return id_of(a) < id_of(b); });
}

std::string ComplaintId(const internal::ValueComplaintFact& c) { return c.complaint_id(); }
void SetComplaintId(internal::ValueComplaintFact& c, const std::string& id) {
  c.set_complaint_id(id);
}
std::string OpportunityId(const internal::ValueOpportunityFact& o) { return o.opportunity_id(); }
void SetOpportunityId(internal::ValueOpportunityFact& o, const std::string& id) {
  o.set_opportunity_id(id);
}

}  // namespace

absl::Status EvolveValue(internal::ValueFacts& f, const v1::Event& e) {
  const int64_t at = Micros(e.occurred_at());
  switch (e.payload_case()) {
    case v1::Event::kCustomerRegistered: {
      const v1::CustomerRegistered& r = e.customer_registered();
      if (!f.registered() || at < f.registered_micros()) f.set_registered_micros(at);
      f.set_registered(true);
      if (at >= f.profile_micros()) {
        f.set_profile_micros(at);
        f.set_name(r.name());
        f.set_kind(r.kind());
        f.set_region(r.region());
        f.set_industry(r.industry());
        f.set_owner_id(r.owner_id());
      }
      return absl::OkStatus();
    }
    case v1::Event::kCustomerProfileUpdated: {
      const v1::CustomerProfileUpdated& u = e.customer_profile_updated();
      if (at < f.profile_micros()) return absl::OkStatus();  // an older profile
      f.set_profile_micros(at);
      if (u.has_name()) f.set_name(u.name());
      if (u.has_region()) f.set_region(u.region());
      if (u.has_industry()) f.set_industry(u.industry());
      if (u.has_owner_id()) f.set_owner_id(u.owner_id());
      if (u.kind() != v1::CUSTOMER_KIND_UNSPECIFIED) f.set_kind(u.kind());
      return absl::OkStatus();
    }
    case v1::Event::kContactAdded:
    case v1::Event::PAYLOAD_NOT_SET:
      return absl::OkStatus();
    case v1::Event::kVisitLogged:
    case v1::Event::kOpportunityOpened:
    case v1::Event::kOpportunityStageChanged:
    case v1::Event::kQuoteIssued:
    case v1::Event::kQuoteAccepted:
    case v1::Event::kQuoteRejected:
    case v1::Event::kContractSigned:
    case v1::Event::kContractRenewed:
    case v1::Event::kContractTerminated:
    case v1::Event::kPaymentReceived:
    case v1::Event::kComplaintFiled:
    case v1::Event::kComplaintResponded:
    case v1::Event::kComplaintResolved:
    case v1::Event::kComplaintReopened:
    case v1::Event::kSatisfactionSurveyed:
    case v1::Event::kReferralMade:
    case v1::Event::kCustomerChurned:
      break;
  }
  // Everything else is activity (engagement).
  if (f.first_activity_micros() == 0 || at < f.first_activity_micros()) {
    f.set_first_activity_micros(at);
  }
  switch (e.payload_case()) {
    case v1::Event::kVisitLogged:
      InsertSorted(*f.mutable_visit_micros(), at);
      break;
    case v1::Event::kOpportunityOpened: {
      const v1::OpportunityOpened& o = e.opportunity_opened();
      internal::ValueOpportunityFact* opp = FindOrInsertById(
          *f.mutable_opportunities(), o.opportunity_id(), &OpportunityId, &SetOpportunityId);
      opp->set_opened_micros(at);
      opp->set_amount_units(o.amount().units());
      break;
    }
    case v1::Event::kOpportunityStageChanged: {
      const v1::OpportunityStageChanged& s = e.opportunity_stage_changed();
      internal::ValueOpportunityFact* opp = FindOrInsertById(
          *f.mutable_opportunities(), s.opportunity_id(), &OpportunityId, &SetOpportunityId);
      // (time, stage) ascending; at one instant the later funnel stage wins.
      int i = 0;
      while (i < opp->stage_micros_size() &&
             std::make_pair(opp->stage_micros(i), opp->stages(i)) <=
                 std::make_pair(at, static_cast<int32_t>(s.stage()))) {
        ++i;
      }
      opp->add_stage_micros(at);
      opp->add_stages(s.stage());
      for (int j = opp->stage_micros_size() - 1; j > i; --j) {
        opp->mutable_stage_micros()->SwapElements(j, j - 1);
        opp->mutable_stages()->SwapElements(j, j - 1);
      }
      break;
    }
    case v1::Event::kContractSigned:
    case v1::Event::kContractRenewed: {
      const bool renewal = e.has_contract_renewed();
      internal::ValuePurchaseFact p;
      p.set_at_micros(at);
      p.set_renewal(renewal);
      p.set_event_id(e.event_id());
      if (renewal) {
        p.set_amount_units(e.contract_renewed().amount().units());
        p.set_cost_units(e.contract_renewed().cost().units());
        p.set_contract_id(e.contract_renewed().contract_id());
      } else {
        p.set_amount_units(e.contract_signed().amount().units());
        p.set_cost_units(e.contract_signed().cost().units());
        p.set_contract_id(e.contract_signed().contract_id());
      }
      InsertOrdered(*f.mutable_purchases(), std::move(p),
                    [](const internal::ValuePurchaseFact& a, const internal::ValuePurchaseFact& b) {
                      return std::make_pair(a.at_micros(), a.event_id()) <
                             std::make_pair(b.at_micros(), b.event_id());
                    });
      break;
    }
    case v1::Event::kComplaintFiled: {
      internal::ValueComplaintFact* c =
          FindOrInsertById(*f.mutable_complaints(), e.complaint_filed().complaint_id(),
                           &ComplaintId, &SetComplaintId);
      c->set_at_micros(at);
      c->set_severity(e.complaint_filed().severity());
      break;
    }
    case v1::Event::kComplaintResponded:
      InsertSorted(*f.mutable_service_micros(), at);
      break;
    case v1::Event::kComplaintResolved: {
      InsertSorted(*f.mutable_service_micros(), at);
      internal::ValueComplaintFact* c =
          FindOrInsertById(*f.mutable_complaints(), e.complaint_resolved().complaint_id(),
                           &ComplaintId, &SetComplaintId);
      if (c->resolved_micros() == 0 || at < c->resolved_micros()) c->set_resolved_micros(at);
      break;
    }
    case v1::Event::kSatisfactionSurveyed:
      if (e.satisfaction_surveyed().has_nps()) {
        internal::ValueNpsFact n;
        n.set_at_micros(at);
        n.set_nps(e.satisfaction_surveyed().nps());
        n.set_event_id(e.event_id());
        InsertOrdered(*f.mutable_nps(), std::move(n),
                      [](const internal::ValueNpsFact& a, const internal::ValueNpsFact& b) {
                        return std::make_pair(a.at_micros(), a.event_id()) <
                               std::make_pair(b.at_micros(), b.event_id());
                      });
      }
      break;
    case v1::Event::kReferralMade: {
      InsertSorted(*f.mutable_referral_micros(), at);
      const std::string& id = e.referral_made().referred_customer_id();
      auto& ids = *f.mutable_referred_ids();
      auto pos = std::lower_bound(ids.begin(), ids.end(), id);
      if (pos == ids.end() || *pos != id) {
        const int index = static_cast<int>(pos - ids.begin());
        *ids.Add() = id;
        for (int i = ids.size() - 1; i > index; --i) ids.SwapElements(i, i - 1);
      }
      break;
    }
    case v1::Event::kCustomerRegistered:
    case v1::Event::kCustomerProfileUpdated:
    case v1::Event::kContactAdded:
    case v1::Event::kQuoteIssued:
    case v1::Event::kQuoteAccepted:
    case v1::Event::kQuoteRejected:
    case v1::Event::kContractTerminated:
    case v1::Event::kPaymentReceived:
    case v1::Event::kComplaintReopened:
    case v1::Event::kCustomerChurned:
    case v1::Event::PAYLOAD_NOT_SET:
      break;
  }
  return absl::OkStatus();
}

bool TakesPart(const internal::ValueFacts& f) {
  return f.registered() &&
         (f.kind() == v1::CUSTOMER_KIND_CUSTOMER || f.kind() == v1::CUSTOMER_KIND_AGENT);
}

}  // namespace custops::domain
