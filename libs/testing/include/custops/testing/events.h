// Builders of valid custops.v1 events for the unit and integration tests
// (custops::testing).
//
//   v1::Event e = custops::testing::Signed("e3", "C1", at, /*units=*/1'000'000);
#ifndef CUSTOPS_TESTING_EVENTS_H_
#define CUSTOPS_TESTING_EVENTS_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "custops/event/time.h"
#include "custops/testing/money.h"
#include "custops/v1/events.pb.h"

namespace custops::testing {

// The envelope alone (no payload): source "test", actor "rep-1".
inline v1::Event Envelope(const std::string& id, const std::string& customer, absl::Time at) {
  v1::Event e;
  e.set_event_id(id);
  e.set_customer_id(customer);
  *e.mutable_occurred_at() = event::ToProto(at);
  e.set_source("test");
  e.set_actor_id("rep-1");
  return e;
}

// A retail customer of `region`, owned by rep-1, from the web channel.
inline v1::Event Registered(const std::string& id, const std::string& customer, absl::Time at,
                            const std::string& region = "East") {
  v1::Event e = Envelope(id, customer, at);
  auto* r = e.mutable_customer_registered();
  r->set_name("Customer " + customer);
  r->set_kind(v1::CUSTOMER_KIND_CUSTOMER);
  r->set_industry("retail");
  r->set_region(region);
  r->set_owner_id("rep-1");
  r->set_channel("web");
  return e;
}

// An onsite visit "visit-<id>".
inline v1::Event Visited(const std::string& id, const std::string& customer, absl::Time at,
                         v1::VisitOutcome outcome = v1::VISIT_OUTCOME_INTERESTED) {
  v1::Event e = Envelope(id, customer, at);
  auto* v = e.mutable_visit_logged();
  v->set_visit_id("visit-" + id);
  v->set_channel(v1::VISIT_CHANNEL_ONSITE);
  v->set_outcome(outcome);
  return e;
}

// Contract "contract-<id>" of `units` fen (cost half of it) from `at` for
// `term`.
inline v1::Event Signed(const std::string& id, const std::string& customer, absl::Time at,
                        int64_t units, absl::Duration term = absl::Hours(24 * 365)) {
  v1::Event e = Envelope(id, customer, at);
  auto* c = e.mutable_contract_signed();
  c->set_contract_id("contract-" + id);
  *c->mutable_amount() = Cny(units);
  *c->mutable_cost() = Cny(units / 2);
  *c->mutable_start() = event::ToProto(at);
  *c->mutable_end() = event::ToProto(at + term);
  c->set_product("widget");
  return e;
}

inline v1::Event Churned(const std::string& id, const std::string& customer, absl::Time at) {
  v1::Event e = Envelope(id, customer, at);
  e.mutable_customer_churned()->set_reason("moved to a competitor");
  return e;
}

}  // namespace custops::testing

#endif  // CUSTOPS_TESTING_EVENTS_H_
