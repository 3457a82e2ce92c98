// A builder of customer events for the review tests, in the order given.
//
//   Events ev;
//   ev.Register("c1", At(2024, 1, 2), "East", "owner-a");
//   ev.Contract("c1", At(2024, 3, 10), "rep-x", 80'000);
//   Append(ev.Take());
//
// Event ids are the prefix and a counter from 0: distinct prefixes for
// builders whose events go to one log (the projection drops a repeated event
// id). Generated contract, payment and visit ids are a letter (k, p, v) and
// the number of events built so far, this one included. Customers are of
// industry "manufacturing"; opportunities and contracts of product "GTX", in
// CNY; contracts run 365 days and cost half their amount.
#ifndef CUSTOPS_REVIEW_TEST_REVIEW_EVENTS_H_
#define CUSTOPS_REVIEW_TEST_REVIEW_EVENTS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "custops/event/time.h"
#include "custops/testing/money.h"
#include "custops/v1/events.pb.h"

namespace custops::review::testing {

class Events {
 public:
  explicit Events(std::string prefix = "e") : prefix_(std::move(prefix)) {}

  // The envelope: the next event id, `customer`, `at` and `actor`.
  v1::Event& Add(const std::string& customer, absl::Time at, const std::string& actor = "") {
    v1::Event& e = events_.emplace_back();
    e.set_event_id(absl::StrCat(prefix_, next_++));
    e.set_customer_id(customer);
    *e.mutable_occurred_at() = event::ToProto(at);
    e.set_actor_id(actor);
    return e;
  }
  // Named "Customer <c>" unless `name` is given.
  void Register(const std::string& c, absl::Time at, const std::string& region,
                const std::string& owner, const std::string& name = "") {
    auto* r = Add(c, at).mutable_customer_registered();
    r->set_name(name.empty() ? "Customer " + c : name);
    r->set_kind(v1::CUSTOMER_KIND_CUSTOMER);
    r->set_region(region);
    r->set_industry("manufacturing");
    r->set_owner_id(owner);
  }
  void Move(const std::string& c, absl::Time at, const std::string& region) {
    Add(c, at).mutable_customer_profile_updated()->set_region(region);
  }
  void Churn(const std::string& c, absl::Time at) {
    Add(c, at).mutable_customer_churned()->set_reason("gone");
  }
  void Open(const std::string& c, const std::string& opp, absl::Time at, const std::string& rep,
            int64_t amount) {
    auto* o = Add(c, at, rep).mutable_opportunity_opened();
    o->set_opportunity_id(opp);
    *o->mutable_amount() = ::custops::testing::Cny(amount);
    o->set_product("GTX");
  }
  void Stage(const std::string& c, const std::string& opp, absl::Time at, const std::string& rep,
             v1::FunnelStage stage, const std::string& competitor = "") {
    auto* s = Add(c, at, rep).mutable_opportunity_stage_changed();
    s->set_opportunity_id(opp);
    s->set_stage(stage);
    s->set_competitor(competitor);
  }
  // Contract `id`.
  v1::ContractSigned& Contract(const std::string& c, const std::string& id, absl::Time at,
                               const std::string& rep, int64_t units) {
    auto* k = Add(c, at, rep).mutable_contract_signed();
    k->set_contract_id(id);
    *k->mutable_amount() = ::custops::testing::Cny(units);
    *k->mutable_cost() = ::custops::testing::Cny(units / 2);
    *k->mutable_start() = event::ToProto(at);
    *k->mutable_end() = event::ToProto(at + absl::Hours(24 * 365));
    k->set_product("GTX");
    return *k;
  }
  // Contract "k<n>".
  void Contract(const std::string& c, absl::Time at, const std::string& rep, int64_t units) {
    Contract(c, absl::StrCat("k", next_ + 1), at, rep, units);
  }
  // Payment "p<n>".
  void Pay(const std::string& c, const std::string& contract, absl::Time at, int64_t units) {
    auto* p = Add(c, at).mutable_payment_received();
    p->set_payment_id(absl::StrCat("p", next_));
    p->set_contract_id(contract);
    *p->mutable_amount() = ::custops::testing::Cny(units);
  }
  // A neutral phone visit "v<n>".
  void Visit(const std::string& c, absl::Time at, const std::string& rep) {
    auto* v = Add(c, at, rep).mutable_visit_logged();
    v->set_visit_id(absl::StrCat("v", next_));
    v->set_channel(v1::VISIT_CHANNEL_PHONE);
    v->set_outcome(v1::VISIT_OUTCOME_NEUTRAL);
  }
  void File(const std::string& c, const std::string& id, absl::Time at, v1::Severity severity,
            v1::ComplaintCategory category) {
    auto* f = Add(c, at).mutable_complaint_filed();
    f->set_complaint_id(id);
    f->set_severity(severity);
    f->set_category(category);
  }
  void Respond(const std::string& c, const std::string& id, absl::Time at) {
    Add(c, at).mutable_complaint_responded()->set_complaint_id(id);
  }
  // Resolved to the customer's satisfaction.
  void Resolve(const std::string& c, const std::string& id, absl::Time at) {
    auto* r = Add(c, at).mutable_complaint_resolved();
    r->set_complaint_id(id);
    r->set_satisfied(true);
  }
  void Reopen(const std::string& c, const std::string& id, absl::Time at) {
    Add(c, at).mutable_complaint_reopened()->set_complaint_id(id);
  }

  // The events built so far; the counter goes on.
  std::vector<v1::Event> Take() { return std::exchange(events_, {}); }

 private:
  std::string prefix_;
  int next_ = 0;
  std::vector<v1::Event> events_;
};

}  // namespace custops::review::testing

#endif  // CUSTOPS_REVIEW_TEST_REVIEW_EVENTS_H_
