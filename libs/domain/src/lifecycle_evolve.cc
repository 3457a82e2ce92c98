// Lifecycle facts: Evolve inserts each event into the customer's facts in
// canonical order ((occurred_at, event_id), lists by id), so the same events
// give the same facts in any arrival order (docs/lifecycle.md). The
// classification is lifecycle.cc, the view lifecycle_view.cc.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "custops/domain/lifecycle.h"
#include "google/protobuf/timestamp.pb.h"
#include "lifecycle_internal.h"

namespace custops::domain {
namespace {

using internal::CustomerFacts;
using internal::Milestone;
using internal::MilestoneKind;
using lifecycle_internal::kInf;
using lifecycle_internal::kMicrosPerSecond;

// google.protobuf.Timestamp's valid range: 0001-01-01 .. 9999-12-31.
constexpr int64_t kMinTimestampSeconds = -62'135'596'800;
constexpr int64_t kMaxTimestampSeconds = 253'402'300'799;

// Floors sub-microsecond precision. False when outside Timestamp's range.
bool TimestampToMicros(const google::protobuf::Timestamp& ts, int64_t* us) {
  if (ts.seconds() < kMinTimestampSeconds || ts.seconds() > kMaxTimestampSeconds ||
      ts.nanos() < 0 || ts.nanos() > 999'999'999) {
    return false;
  }
  *us = ts.seconds() * kMicrosPerSecond + ts.nanos() / 1000;
  return true;
}

// ---------------------------------------------------------------------------
// Evolve helpers: sorted insertion into repeated fields.

// Moves the last element of `field` to index `pos` (shifting the tail).
template <typename Field>
void MoveLastTo(Field* field, int pos) {
  for (int i = field->size() - 1; i > pos; --i) field->SwapElements(i, i - 1);
}

// Index of the first element whose key is not less than `key`.
template <typename Field, typename Key, typename KeyOf>
int LowerBound(const Field& field, const Key& key, KeyOf key_of) {
  auto it = std::lower_bound(field.begin(), field.end(), key,
                             [&](const auto& e, const Key& k) { return key_of(e) < k; });
  return static_cast<int>(it - field.begin());
}

// Finds the entry with `id` in a field ordered by id, inserting an empty one
// (with the id set through `set_id`) when missing.
template <typename T, typename IdOf, typename SetId>
T* FindOrInsertById(google::protobuf::RepeatedPtrField<T>* field, std::string_view id, IdOf id_of,
                    SetId set_id) {
  int pos = LowerBound(*field, id, [&](const T& e) { return std::string_view(id_of(e)); });
  if (pos < field->size() && id_of(field->Get(pos)) == id) return field->Mutable(pos);
  T* added = field->Add();
  set_id(added);
  MoveLastTo(field, pos);
  return added;
}

template <typename T>
const T* FindById(const google::protobuf::RepeatedPtrField<T>& field, std::string_view id,
                  const std::string& (T::*id_of)() const) {
  int pos = LowerBound(field, id, [&](const T& e) { return std::string_view((e.*id_of)()); });
  if (pos < field.size() && (field.Get(pos).*id_of)() == id) return &field.Get(pos);
  return nullptr;
}

// Key of entries ordered by (at_us, event_id).
template <typename T>
std::pair<int64_t, std::string_view> EventKey(const T& e) {
  return {e.at_us(), e.event_id()};
}

// Position for a new (at_us, event_id) entry; -1 when that key is present.
template <typename T>
int EventInsertPos(const google::protobuf::RepeatedPtrField<T>& field, int64_t at_us,
                   std::string_view event_id) {
  std::pair<int64_t, std::string_view> key(at_us, event_id);
  int pos = LowerBound(field, key, EventKey<T>);
  if (pos < field.size() && EventKey(field.Get(pos)) == key) return -1;
  return pos;
}

template <typename T>
T* InsertAt(google::protobuf::RepeatedPtrField<T>* field, int pos) {
  T* added = field->Add();
  MoveLastTo(field, pos);
  return added;
}

void AddActivity(CustomerFacts& facts, int64_t at_us) {
  auto* times = facts.mutable_activity_us();
  auto it = std::lower_bound(times->begin(), times->end(), at_us);
  if (it != times->end() && *it == at_us) return;
  int pos = static_cast<int>(it - times->begin());
  times->Add(at_us);
  MoveLastTo(times, pos);
}

void NoteCurrency(CustomerFacts& facts, const v1::Money& money) {
  if (money.currency().empty()) return;
  if (facts.currency().empty() || money.currency() < facts.currency()) {
    facts.set_currency(money.currency());
  }
}

absl::Status FailedPrecondition(const char* reason) {
  return absl::FailedPreconditionError(reason);
}

// Records a milestone (and its activity). `pos` from EventInsertPos.
void AddMilestone(CustomerFacts& facts, int pos, int64_t at_us, const std::string& event_id,
                  MilestoneKind kind, int64_t amount_units) {
  Milestone* m = InsertAt(facts.mutable_milestones(), pos);
  m->set_at_us(at_us);
  m->set_event_id(event_id);
  m->set_kind(kind);
  m->set_amount_units(amount_units);
  AddActivity(facts, at_us);
}

}  // namespace

absl::Status Evolve(CustomerFacts& facts, const v1::Event& event) {
  if (event.payload_case() == v1::Event::PAYLOAD_NOT_SET) {
    return absl::InvalidArgumentError("missing_payload");
  }
  if (!event.has_occurred_at()) return absl::InvalidArgumentError("missing_occurred_at");
  int64_t at;
  if (!TimestampToMicros(event.occurred_at(), &at)) {
    return absl::InvalidArgumentError("invalid_occurred_at");
  }
  if (!facts.customer_id().empty() && event.customer_id() != facts.customer_id()) {
    return FailedPrecondition("customer_id_mismatch");
  }
  const std::string& id = event.event_id();

  // Every branch checks first and mutates only once the event is accepted.
  switch (event.payload_case()) {
    case v1::Event::kCustomerRegistered: {
      if (facts.registered()) return FailedPrecondition("already_registered");
      int pos = EventInsertPos(facts.profile_changes(), at, id);
      if (pos < 0) return FailedPrecondition("duplicate_event");
      internal::ProfileChange* pc = InsertAt(facts.mutable_profile_changes(), pos);
      pc->set_at_us(at);
      pc->set_event_id(id);
      *pc->mutable_registered() = event.customer_registered();
      facts.set_registered(true);
      facts.set_registered_at_us(at);
      NoteCurrency(facts, event.customer_registered().budget());
      break;
    }
    case v1::Event::kCustomerProfileUpdated: {
      int pos = EventInsertPos(facts.profile_changes(), at, id);
      if (pos < 0) return FailedPrecondition("duplicate_event");
      internal::ProfileChange* pc = InsertAt(facts.mutable_profile_changes(), pos);
      pc->set_at_us(at);
      pc->set_event_id(id);
      *pc->mutable_updated() = event.customer_profile_updated();
      NoteCurrency(facts, event.customer_profile_updated().budget());
      break;
    }
    case v1::Event::kContactAdded: {
      const v1::ContactAdded& ca = event.contact_added();
      const internal::ContactFacts* existing =
          FindById(facts.contacts(), ca.contact_id(), &internal::ContactFacts::contact_id);
      int pos = existing == nullptr ? 0 : EventInsertPos(existing->versions(), at, id);
      if (pos < 0) return FailedPrecondition("duplicate_event");
      internal::ContactFacts* contact = FindOrInsertById(
          facts.mutable_contacts(), ca.contact_id(),
          [](const internal::ContactFacts& c) -> const std::string& { return c.contact_id(); },
          [&](internal::ContactFacts* c) { c->set_contact_id(ca.contact_id()); });
      internal::ContactVersion* v = InsertAt(contact->mutable_versions(), pos);
      v->set_at_us(at);
      v->set_event_id(id);
      v->set_name(ca.name());
      v->set_role(ca.role());
      if (ca.has_birthday()) *v->mutable_birthday() = ca.birthday();
      break;
    }
    case v1::Event::kVisitLogged: {
      const v1::VisitLogged& visit = event.visit_logged();
      MilestoneKind kind = internal::MILESTONE_KIND_UNSPECIFIED;
      if (visit.outcome() == v1::VISIT_OUTCOME_INTERESTED) {
        kind = internal::MILESTONE_KIND_VISIT_INTERESTED;
      } else if (visit.outcome() == v1::VISIT_OUTCOME_NEED_CONFIRMED) {
        kind = internal::MILESTONE_KIND_VISIT_NEED_CONFIRMED;
      }
      int pos = 0;
      if (kind != internal::MILESTONE_KIND_UNSPECIFIED) {
        pos = EventInsertPos(facts.milestones(), at, id);
        if (pos < 0) return FailedPrecondition("duplicate_event");
        AddMilestone(facts, pos, at, id, kind, 0);
      }
      if (!visit.contact_id().empty()) {
        internal::ContactFacts* contact = FindOrInsertById(
            facts.mutable_contacts(), visit.contact_id(),
            [](const internal::ContactFacts& c) -> const std::string& { return c.contact_id(); },
            [&](internal::ContactFacts* c) { c->set_contact_id(visit.contact_id()); });
        if (!contact->has_first_visit_us() || at < contact->first_visit_us()) {
          contact->set_first_visit_us(at);
        }
      }
      AddActivity(facts, at);
      break;
    }
    case v1::Event::kOpportunityOpened: {
      const v1::OpportunityOpened& oo = event.opportunity_opened();
      const internal::OpportunityFacts* existing = FindById(
          facts.opportunities(), oo.opportunity_id(), &internal::OpportunityFacts::opportunity_id);
      if (existing != nullptr && existing->has_opened_at_us()) {
        return FailedPrecondition("opportunity_already_opened");
      }
      internal::OpportunityFacts* opp = FindOrInsertById(
          facts.mutable_opportunities(), oo.opportunity_id(),
          [](const internal::OpportunityFacts& o) -> const std::string& {
            return o.opportunity_id();
          },
          [&](internal::OpportunityFacts* o) { o->set_opportunity_id(oo.opportunity_id()); });
      opp->set_opened_at_us(at);
      opp->set_amount_units(oo.amount().units());
      opp->set_product(oo.product());
      NoteCurrency(facts, oo.amount());
      AddActivity(facts, at);
      break;
    }
    case v1::Event::kOpportunityStageChanged: {
      // Recorded even before its OpportunityOpened arrives (events may come
      // out of order); the opportunity is open only once opened.
      const v1::OpportunityStageChanged& sc = event.opportunity_stage_changed();
      bool advanced = sc.stage() >= v1::FUNNEL_STAGE_FIRST_VISIT &&
                      sc.stage() <= v1::FUNNEL_STAGE_CONTRACT_SIGNED;
      int pos = 0;
      if (advanced) {
        pos = EventInsertPos(facts.milestones(), at, id);
        if (pos < 0) return FailedPrecondition("duplicate_event");
      }
      internal::OpportunityFacts* opp = FindOrInsertById(
          facts.mutable_opportunities(), sc.opportunity_id(),
          [](const internal::OpportunityFacts& o) -> const std::string& {
            return o.opportunity_id();
          },
          [&](internal::OpportunityFacts* o) { o->set_opportunity_id(sc.opportunity_id()); });
      std::pair<int64_t, int> key(at, sc.stage());
      int spos = LowerBound(opp->stages(), key, [](const internal::OpportunityStageFact& s) {
        return std::pair<int64_t, int>(s.at_us(), s.stage());
      });
      internal::OpportunityStageFact* s = InsertAt(opp->mutable_stages(), spos);
      s->set_at_us(at);
      s->set_stage(sc.stage());
      if (advanced) {
        AddMilestone(facts, pos, at, id, internal::MILESTONE_KIND_OPPORTUNITY_ADVANCED, 0);
      }
      AddActivity(facts, at);
      break;
    }
    case v1::Event::kQuoteIssued: {
      int pos = EventInsertPos(facts.milestones(), at, id);
      if (pos < 0) return FailedPrecondition("duplicate_event");
      AddMilestone(facts, pos, at, id, internal::MILESTONE_KIND_QUOTE_ISSUED, 0);
      break;
    }
    case v1::Event::kContractSigned: {
      const v1::ContractSigned& cs = event.contract_signed();
      const internal::ContractFacts* existing =
          FindById(facts.contracts(), cs.contract_id(), &internal::ContractFacts::contract_id);
      if (existing != nullptr && existing->has_signed_at_us()) {
        return FailedPrecondition("contract_already_signed");
      }
      int64_t start = at;
      if (cs.has_start() && !TimestampToMicros(cs.start(), &start)) {
        return absl::InvalidArgumentError("invalid_contract_start");
      }
      int64_t end = kInf;
      if (cs.has_end() && !TimestampToMicros(cs.end(), &end)) {
        return absl::InvalidArgumentError("invalid_contract_end");
      }
      int pos = EventInsertPos(facts.milestones(), at, id);
      if (pos < 0) return FailedPrecondition("duplicate_event");
      internal::ContractFacts* c = FindOrInsertById(
          facts.mutable_contracts(), cs.contract_id(),
          [](const internal::ContractFacts& c) -> const std::string& { return c.contract_id(); },
          [&](internal::ContractFacts* c) { c->set_contract_id(cs.contract_id()); });
      c->set_signed_at_us(at);
      c->set_start_us(start);
      if (cs.has_end()) c->set_end_us(end);
      NoteCurrency(facts, cs.amount());
      AddMilestone(facts, pos, at, id, internal::MILESTONE_KIND_CONTRACT_SIGNED,
                   cs.amount().units());
      break;
    }
    case v1::Event::kContractRenewed: {
      // Recorded even before its ContractSigned arrives (out-of-order events).
      const v1::ContractRenewed& cr = event.contract_renewed();
      int64_t new_end = 0;
      if (cr.has_new_end() && !TimestampToMicros(cr.new_end(), &new_end)) {
        return absl::InvalidArgumentError("invalid_new_end");
      }
      int pos = EventInsertPos(facts.milestones(), at, id);
      if (pos < 0) return FailedPrecondition("duplicate_event");
      internal::ContractFacts* c = FindOrInsertById(
          facts.mutable_contracts(), cr.contract_id(),
          [](const internal::ContractFacts& c) -> const std::string& { return c.contract_id(); },
          [&](internal::ContractFacts* c) { c->set_contract_id(cr.contract_id()); });
      if (cr.has_new_end()) {
        std::pair<int64_t, int64_t> key(at, new_end);
        int rpos = LowerBound(c->renewals(), key, [](const internal::Renewal& r) {
          return std::pair<int64_t, int64_t>(r.at_us(), r.new_end_us());
        });
        internal::Renewal* r = InsertAt(c->mutable_renewals(), rpos);
        r->set_at_us(at);
        r->set_new_end_us(new_end);
      }
      NoteCurrency(facts, cr.amount());
      AddMilestone(facts, pos, at, id, internal::MILESTONE_KIND_CONTRACT_RENEWED,
                   cr.amount().units());
      break;
    }
    case v1::Event::kContractTerminated: {
      const v1::ContractTerminated& ct = event.contract_terminated();
      const internal::ContractFacts* existing =
          FindById(facts.contracts(), ct.contract_id(), &internal::ContractFacts::contract_id);
      if (existing != nullptr && existing->has_terminated_at_us()) {
        return FailedPrecondition("contract_already_terminated");
      }
      internal::ContractFacts* c = FindOrInsertById(
          facts.mutable_contracts(), ct.contract_id(),
          [](const internal::ContractFacts& c) -> const std::string& { return c.contract_id(); },
          [&](internal::ContractFacts* c) { c->set_contract_id(ct.contract_id()); });
      c->set_terminated_at_us(at);
      AddActivity(facts, at);
      break;
    }
    case v1::Event::kCustomerChurned: {
      int pos = EventInsertPos(facts.milestones(), at, id);
      if (pos < 0) return FailedPrecondition("duplicate_event");
      AddMilestone(facts, pos, at, id, internal::MILESTONE_KIND_CHURNED, 0);
      break;
    }
    case v1::Event::kQuoteAccepted:
    case v1::Event::kQuoteRejected:
    case v1::Event::kPaymentReceived:
    case v1::Event::kComplaintFiled:
    case v1::Event::kComplaintResponded:
    case v1::Event::kComplaintResolved:
    case v1::Event::kComplaintReopened:
    case v1::Event::kSatisfactionSurveyed:
    case v1::Event::kReferralMade:
    case v1::Event::PAYLOAD_NOT_SET:
      // Payments, quote answers, complaints, surveys, referrals: activity only.
      AddActivity(facts, at);
      break;
  }
  if (facts.customer_id().empty()) facts.set_customer_id(event.customer_id());
  return absl::OkStatus();
}

bool Exists(const CustomerFacts& facts) { return facts.registered(); }

}  // namespace custops::domain
