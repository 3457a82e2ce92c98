// Tests of the lifecycle rules (docs/lifecycle.md): tables of event streams
// with the expected classification, exact boundaries to the microsecond,
// history contents, next_change_at, MAN, the funnel, Evolve errors, the view,
// and properties over random streams (arrival-order independence, history
// prefixes, a naive reference for sub-stages).
#include "custops/domain/lifecycle.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "custops/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "gtest/gtest.h"

namespace custops::domain {
namespace {

using ::custops::testing::StatusIs;
using internal::CustomerFacts;
using v1::LifecycleStage;
using v1::SubStage;

constexpr LifecycleStage kUnspecified = v1::LIFECYCLE_STAGE_UNSPECIFIED;
constexpr LifecycleStage kProspect = v1::LIFECYCLE_STAGE_PROSPECT;
constexpr LifecycleStage kIntent = v1::LIFECYCLE_STAGE_INTENT;
constexpr LifecycleStage kCustomer = v1::LIFECYCLE_STAGE_CUSTOMER;
constexpr LifecycleStage kLost = v1::LIFECYCLE_STAGE_LOST;
constexpr SubStage kNone = v1::SUB_STAGE_UNSPECIFIED;
constexpr SubStage kNew = v1::SUB_STAGE_NEW;
constexpr SubStage kGrowing = v1::SUB_STAGE_GROWING;
constexpr SubStage kStable = v1::SUB_STAGE_STABLE;
constexpr SubStage kDeclining = v1::SUB_STAGE_DECLINING;

constexpr absl::Duration kDay = absl::Hours(24);
constexpr absl::Duration kUs = absl::Microseconds(1);
const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);  // 2023-11-14T22:13:20Z

absl::Time D(int64_t days) { return kT0 + days * kDay; }

google::protobuf::Timestamp Ts(absl::Time t) {
  int64_t us = absl::ToUnixMicros(t);
  int64_t s = us / 1'000'000;
  int64_t rem = us % 1'000'000;
  if (rem < 0) {
    rem += 1'000'000;
    --s;
  }
  google::protobuf::Timestamp ts;
  ts.set_seconds(s);
  ts.set_nanos(static_cast<int32_t>(rem * 1000));
  return ts;
}

absl::Time FromTs(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

std::string Bytes(const google::protobuf::MessageLite& m) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream sos(&out);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&cos);
  }
  return out;
}

// Builds one customer's events; event ids "e0000", "e0001", ... in call
// order, so at one instant the earlier call comes first.
class Stream {
 public:
  explicit Stream(std::string customer_id = "c1") : customer_id_(std::move(customer_id)) {}

  Stream& Register(absl::Time at, int64_t budget = 0, v1::Need need = v1::NEED_UNSPECIFIED) {
    v1::CustomerRegistered* r = Add(at).mutable_customer_registered();
    r->set_name("Acme");
    r->set_kind(v1::CUSTOMER_KIND_CUSTOMER);
    r->set_industry("retail");
    r->set_region("East");
    r->set_owner_id("rep1");
    r->mutable_budget()->set_units(budget);
    r->mutable_budget()->set_currency("CNY");
    r->set_need(need);
    return *this;
  }
  Stream& Update(absl::Time at, const std::function<void(v1::CustomerProfileUpdated&)>& edit) {
    edit(*Add(at).mutable_customer_profile_updated());
    return *this;
  }
  Stream& Contact(absl::Time at, const std::string& id, v1::ContactRole role,
                  const std::string& name = "Li") {
    v1::ContactAdded* c = Add(at).mutable_contact_added();
    c->set_contact_id(id);
    c->set_name(name);
    c->set_role(role);
    return *this;
  }
  Stream& Visit(absl::Time at, v1::VisitOutcome outcome = v1::VISIT_OUTCOME_NEUTRAL,
                const std::string& contact = "") {
    v1::VisitLogged* v = Add(at).mutable_visit_logged();
    v->set_visit_id(absl::StrCat("v", events_.size()));
    v->set_channel(v1::VISIT_CHANNEL_ONSITE);
    v->set_contact_id(contact);
    v->set_outcome(outcome);
    return *this;
  }
  Stream& Quote(absl::Time at) {
    v1::QuoteIssued* q = Add(at).mutable_quote_issued();
    q->set_quote_id(absl::StrCat("q", events_.size()));
    q->mutable_amount()->set_units(100);
    return *this;
  }
  Stream& Open(absl::Time at, const std::string& id, int64_t amount,
               const std::string& product = "widget") {
    v1::OpportunityOpened* o = Add(at).mutable_opportunity_opened();
    o->set_opportunity_id(id);
    o->mutable_amount()->set_units(amount);
    o->mutable_amount()->set_currency("CNY");
    o->set_product(product);
    return *this;
  }
  Stream& Advance(absl::Time at, const std::string& id, v1::FunnelStage stage) {
    v1::OpportunityStageChanged* s = Add(at).mutable_opportunity_stage_changed();
    s->set_opportunity_id(id);
    s->set_stage(stage);
    return *this;
  }
  // A signed contract; `end` nullopt = open-ended, `start` nullopt = signing time.
  Stream& Sign(absl::Time at, const std::string& id, int64_t amount, std::optional<absl::Time> end,
               std::optional<absl::Time> start = std::nullopt) {
    v1::ContractSigned* c = Add(at).mutable_contract_signed();
    c->set_contract_id(id);
    c->mutable_amount()->set_units(amount);
    c->mutable_amount()->set_currency("CNY");
    if (start) *c->mutable_start() = Ts(*start);
    if (end) *c->mutable_end() = Ts(*end);
    return *this;
  }
  // A one-day contract: a purchase that never keeps the customer active.
  Stream& Buy(absl::Time at, int64_t amount) {
    return Sign(at, absl::StrCat("k", events_.size()), amount, at + kDay, at);
  }
  // An open-ended contract: the customer never goes LOST through silence.
  Stream& BuyForever(absl::Time at, int64_t amount) {
    return Sign(at, absl::StrCat("k", events_.size()), amount, std::nullopt, at);
  }
  Stream& Renew(absl::Time at, const std::string& id, std::optional<absl::Time> new_end,
                int64_t amount) {
    v1::ContractRenewed* r = Add(at).mutable_contract_renewed();
    r->set_contract_id(id);
    if (new_end) *r->mutable_new_end() = Ts(*new_end);
    r->mutable_amount()->set_units(amount);
    r->mutable_amount()->set_currency("CNY");
    return *this;
  }
  Stream& Terminate(absl::Time at, const std::string& id) {
    Add(at).mutable_contract_terminated()->set_contract_id(id);
    return *this;
  }
  Stream& Churn(absl::Time at) {
    Add(at).mutable_customer_churned()->set_reason("moved");
    return *this;
  }
  Stream& Pay(absl::Time at) {
    v1::PaymentReceived* p = Add(at).mutable_payment_received();
    p->set_payment_id(absl::StrCat("p", events_.size()));
    p->mutable_amount()->set_units(1);
    return *this;
  }

  v1::Event& Add(absl::Time at) {
    v1::Event& e = events_.emplace_back();
    e.set_event_id(absl::StrFormat("e%04d", events_.size() - 1));
    e.set_customer_id(customer_id_);
    *e.mutable_occurred_at() = Ts(at);
    return e;
  }

  const std::vector<v1::Event>& events() const { return events_; }
  v1::Event& Last() { return events_.back(); }

  CustomerFacts Facts() const { return FactsOf(events_); }

  static CustomerFacts FactsOf(const std::vector<v1::Event>& events) {
    CustomerFacts facts;
    for (const v1::Event& e : events) {
      absl::Status s = Evolve(facts, e);
      EXPECT_TRUE(s.ok()) << s << " for " << e.ShortDebugString();
    }
    return facts;
  }

 private:
  std::string customer_id_;
  std::vector<v1::Event> events_;
};

using Build = std::function<void(Stream&)>;

// One history entry, comparable and printable.
struct H {
  absl::Time at;
  LifecycleStage from;
  LifecycleStage to;
  std::string reason;
  SubStage from_sub = kNone;
  SubStage to_sub = kNone;

  bool operator==(const H& o) const {
    return at == o.at && from == o.from && to == o.to && reason == o.reason &&
           from_sub == o.from_sub && to_sub == o.to_sub;
  }
  friend std::ostream& operator<<(std::ostream& os, const H& h) {
    return os << "{day " << absl::FDivDuration(h.at - kT0, kDay) << ", "
              << v1::LifecycleStage_Name(h.from) << "/" << v1::SubStage_Name(h.from_sub) << " -> "
              << v1::LifecycleStage_Name(h.to) << "/" << v1::SubStage_Name(h.to_sub) << ", "
              << h.reason << "}";
  }
};

std::vector<H> HistoryOf(const std::vector<v1::StageTransition>& history) {
  std::vector<H> out;
  for (const v1::StageTransition& t : history) {
    out.push_back(
        H{FromTs(t.at()), t.from(), t.to(), t.reason(), t.from_sub_stage(), t.to_sub_stage()});
  }
  return out;
}

const LifecycleRules kRules;

LifecycleResult ClassifyStream(const Build& build, absl::Time as_of,
                               const LifecycleRules& rules = kRules) {
  Stream s;
  build(s);
  return Classify(s.Facts(), as_of, rules);
}

// ---------------------------------------------------------------------------
// Stage and sub-stage at an instant.

struct StageCase {
  std::string name;
  Build build;
  absl::Time as_of;
  LifecycleStage stage;
  SubStage sub = kNone;
  int32_t win_backs = 0;
  std::optional<LifecycleRules> rules = std::nullopt;
};

void RunStageCases(const std::vector<StageCase>& cases) {
  for (const StageCase& c : cases) {
    SCOPED_TRACE(c.name);
    LifecycleResult r = ClassifyStream(c.build, c.as_of, c.rules.value_or(kRules));
    EXPECT_EQ(v1::LifecycleStage_Name(r.stage), v1::LifecycleStage_Name(c.stage));
    EXPECT_EQ(v1::SubStage_Name(r.sub_stage), v1::SubStage_Name(c.sub));
    EXPECT_EQ(r.win_back_count, c.win_backs);
    // History ends in the answered state.
    if (c.stage == kUnspecified) {
      EXPECT_TRUE(r.history.empty());
    } else {
      ASSERT_FALSE(r.history.empty());
      EXPECT_EQ(r.history.back().to(), c.stage);
      EXPECT_EQ(r.history.back().to_sub_stage(), c.sub);
      EXPECT_LE(FromTs(r.history.back().at()), c.as_of);
    }
  }
}

TEST(ClassifyTest, StageTransitions) {
  std::vector<StageCase> cases = {
      {"registered_is_prospect", [](Stream& s) { s.Register(D(0)); }, D(1), kProspect},
      {"registration_instant_inclusive", [](Stream& s) { s.Register(D(0)); }, D(0), kProspect},
      {"before_registration_unspecified", [](Stream& s) { s.Register(D(0)); }, D(0) - kUs,
       kUnspecified},
      {"no_facts_unspecified", [](Stream&) {}, D(0), kUnspecified},
      {"quote_makes_intent", [](Stream& s) { s.Register(D(0)).Quote(D(1)); }, D(1), kIntent},
      {"quote_later_than_as_of_ignored", [](Stream& s) { s.Register(D(0)).Quote(D(2)); },
       D(2) - kUs, kProspect},
      {"opportunity_stage_1_stays_prospect",
       [](Stream& s) {
         s.Register(D(0)).Open(D(1), "o1", 5).Advance(D(2), "o1", v1::FUNNEL_STAGE_OPPORTUNITY);
       },
       D(3), kProspect},
      {"opportunity_lost_stays_prospect",
       [](Stream& s) {
         s.Register(D(0)).Open(D(1), "o1", 5).Advance(D(2), "o1", v1::FUNNEL_STAGE_LOST);
       },
       D(3), kProspect},
      {"opportunity_opened_stays_prospect", [](Stream& s) { s.Register(D(0)).Open(D(1), "o1", 5); },
       D(3), kProspect},
      {"visit_neutral_stays_prospect",
       [](Stream& s) { s.Register(D(0)).Visit(D(1), v1::VISIT_OUTCOME_NEUTRAL); }, D(2), kProspect},
      {"visit_not_interested_stays_prospect",
       [](Stream& s) { s.Register(D(0)).Visit(D(1), v1::VISIT_OUTCOME_NOT_INTERESTED); }, D(2),
       kProspect},
      {"visit_interested_intent",
       [](Stream& s) { s.Register(D(0)).Visit(D(1), v1::VISIT_OUTCOME_INTERESTED); }, D(2),
       kIntent},
      {"visit_need_confirmed_intent",
       [](Stream& s) { s.Register(D(0)).Visit(D(1), v1::VISIT_OUTCOME_NEED_CONFIRMED); }, D(2),
       kIntent},
      {"payment_alone_stays_prospect", [](Stream& s) { s.Register(D(0)).Pay(D(1)); }, D(2),
       kProspect},
      {"dormant_lead_exactly_180d", [](Stream& s) { s.Register(D(0)).Quote(D(10)); }, D(190),
       kProspect},
      {"dormant_lead_1us_before", [](Stream& s) { s.Register(D(0)).Quote(D(10)); }, D(190) - kUs,
       kIntent},
      {"activity_postpones_dormancy_before",
       [](Stream& s) { s.Register(D(0)).Quote(D(10)).Pay(D(100)); }, D(280) - absl::Seconds(1),
       kIntent},
      {"activity_postpones_dormancy_at",
       [](Stream& s) { s.Register(D(0)).Quote(D(10)).Pay(D(100)); }, D(280), kProspect},
      {"profile_update_does_not_postpone_dormancy",
       [](Stream& s) {
         s.Register(D(0)).Quote(D(10)).Update(D(100), [](auto& u) { u.set_region("West"); });
       },
       D(190), kProspect},
      {"contact_added_does_not_postpone_dormancy",
       [](Stream& s) { s.Register(D(0)).Quote(D(10)).Contact(D(100), "x", v1::CONTACT_ROLE_USER); },
       D(190), kProspect},
      {"interest_after_dormancy",
       [](Stream& s) { s.Register(D(0)).Quote(D(10)).Visit(D(300), v1::VISIT_OUTCOME_INTERESTED); },
       D(300), kIntent},
      {"purchase_from_prospect", [](Stream& s) { s.Register(D(0)).Buy(D(5), 100); }, D(5),
       kCustomer, kNew},
      {"purchase_from_intent", [](Stream& s) { s.Register(D(0)).Quote(D(1)).Buy(D(5), 100); }, D(5),
       kCustomer, kNew},
      {"renewal_is_a_purchase",
       [](Stream& s) { s.Register(D(0)).Renew(D(5), "unknown", std::nullopt, 100); }, D(5),
       kCustomer, kNew},
      {"new_until_180d_minus_1s", [](Stream& s) { s.Register(D(0)).BuyForever(D(0), 1000); },
       D(180) - absl::Seconds(1), kCustomer, kNew},
      {"new_ends_at_exactly_180d", [](Stream& s) { s.Register(D(0)).BuyForever(D(0), 1000); },
       D(180), kCustomer, kGrowing},
      {"lost_at_exactly_365d_silence", [](Stream& s) { s.Register(D(0)).Buy(D(0), 1000); }, D(365),
       kLost},
      {"customer_1s_before_365d_silence", [](Stream& s) { s.Register(D(0)).Buy(D(0), 1000); },
       D(365) - absl::Seconds(1), kCustomer, kGrowing},
      {"activity_postpones_lost_before",
       [](Stream& s) { s.Register(D(0)).Buy(D(0), 1000).Pay(D(100)); }, D(465) - kUs, kCustomer,
       kDeclining},
      {"activity_postpones_lost_at",
       [](Stream& s) { s.Register(D(0)).Buy(D(0), 1000).Pay(D(100)); }, D(465), kLost},
      {"active_contract_keeps_silent_customer",
       [](Stream& s) { s.Register(D(0)).Sign(D(0), "k1", 1000, D(500)); }, D(499), kCustomer,
       kDeclining},
      {"lost_at_contract_end_1us_before",
       [](Stream& s) { s.Register(D(0)).Sign(D(0), "k1", 1000, D(500)); }, D(500) - kUs, kCustomer,
       kDeclining},
      {"lost_at_contract_end", [](Stream& s) { s.Register(D(0)).Sign(D(0), "k1", 1000, D(500)); },
       D(500), kLost},
      {"contract_ending_before_silence_is_irrelevant",
       [](Stream& s) { s.Register(D(0)).Sign(D(0), "k1", 1000, D(200)); }, D(365), kLost},
      {"terminated_contract_stops_covering_before",
       [](Stream& s) { s.Register(D(0)).Sign(D(0), "k1", 1000, D(1000)).Terminate(D(100), "k1"); },
       D(465) - kUs, kCustomer, kDeclining},
      {"terminated_contract_stops_covering_at",
       [](Stream& s) { s.Register(D(0)).Sign(D(0), "k1", 1000, D(1000)).Terminate(D(100), "k1"); },
       D(465), kLost},
      {"renewal_extends_contract_before",
       [](Stream& s) {
         s.Register(D(0)).Sign(D(0), "k1", 1000, D(400)).Renew(D(300), "k1", D(900), 1000);
       },
       D(900) - kUs, kCustomer, kDeclining},
      {"renewal_extends_contract_at",
       [](Stream& s) {
         s.Register(D(0)).Sign(D(0), "k1", 1000, D(400)).Renew(D(300), "k1", D(900), 1000);
       },
       D(900), kLost},
      {"contract_starting_later_does_not_cover",
       [](Stream& s) { s.Register(D(0)).Sign(D(0), "k1", 1000, D(800), D(400)); }, D(365), kLost},
      {"lost_stays_lost_when_contract_starts",
       [](Stream& s) { s.Register(D(0)).Sign(D(0), "k1", 1000, D(800), D(400)); }, D(500), kLost},
      {"chained_contracts_cover_before",
       [](Stream& s) {
         s.Register(D(0)).Sign(D(0), "k1", 1000, D(400)).Sign(D(0), "k2", 1, D(700), D(350));
       },
       D(700) - kUs, kCustomer, kDeclining},
      {"chained_contracts_cover_at",
       [](Stream& s) {
         s.Register(D(0)).Sign(D(0), "k1", 1000, D(400)).Sign(D(0), "k2", 1, D(700), D(350));
       },
       D(700), kLost},
      {"open_ended_contract_never_lost", [](Stream& s) { s.Register(D(0)).BuyForever(D(0), 10); },
       D(5000), kCustomer, kDeclining},
      {"churn_from_prospect", [](Stream& s) { s.Register(D(0)).Churn(D(1)); }, D(1), kLost},
      {"churn_from_intent", [](Stream& s) { s.Register(D(0)).Quote(D(1)).Churn(D(2)); }, D(2),
       kLost},
      {"churn_from_customer", [](Stream& s) { s.Register(D(0)).BuyForever(D(0), 5).Churn(D(2)); },
       D(2), kLost},
      {"churn_while_growing", [](Stream& s) { s.Register(D(0)).BuyForever(D(0), 5).Churn(D(200)); },
       D(200), kLost},
      {"churn_twice_stays_lost", [](Stream& s) { s.Register(D(0)).Churn(D(1)).Churn(D(2)); }, D(3),
       kLost},
      {"activity_does_not_revive_lost",
       [](Stream& s) {
         s.Register(D(0))
             .Churn(D(1))
             .Visit(D(2), v1::VISIT_OUTCOME_INTERESTED)
             .Quote(D(3))
             .Pay(D(4));
       },
       D(5), kLost},
      {"purchase_after_churn_wins_back",
       [](Stream& s) { s.Register(D(0)).Buy(D(0), 1).Churn(D(10)).Buy(D(20), 1); }, D(20),
       kCustomer, kNew, 1},
      {"purchase_after_silence_lost_wins_back",
       [](Stream& s) { s.Register(D(0)).Buy(D(0), 100).Buy(D(400), 100); }, D(400), kCustomer,
       kStable, 1},
      {"two_win_backs",
       [](Stream& s) {
         s.Register(D(0)).Buy(D(0), 100).Buy(D(400), 100).Churn(D(410)).Buy(D(420), 100);
       },
       D(420), kCustomer, kGrowing, 2},
      {"prospect_churned_then_buys_counts_win_back",
       [](Stream& s) { s.Register(D(0)).Churn(D(1)).Buy(D(2), 100); }, D(2), kCustomer, kNew, 1},
      {"lost_after_win_back_keeps_count",
       [](Stream& s) { s.Register(D(0)).Buy(D(0), 100).Churn(D(1)).Buy(D(2), 100); }, D(800), kLost,
       kNone, 1},
      {"event_before_registration_counts",
       [](Stream& s) { s.Visit(D(-10), v1::VISIT_OUTCOME_INTERESTED).Register(D(0)); }, D(-5),
       kIntent},
      {"event_before_registration_counts_after",
       [](Stream& s) { s.Visit(D(-10), v1::VISIT_OUTCOME_INTERESTED).Register(D(0)); }, D(0),
       kIntent},
      {"unregistered_facts_classify", [](Stream& s) { s.Quote(D(1)); }, D(2), kIntent},
      {"same_instant_purchase_then_churn",
       [](Stream& s) { s.Register(D(0)).Buy(D(5), 1).Churn(D(5)); }, D(5), kLost},
      {"same_instant_churn_then_purchase",
       [](Stream& s) { s.Register(D(0)).Churn(D(5)).Buy(D(5), 1); }, D(5), kCustomer, kNew, 1},
      {"rule_due_at_event_instant_fires_first",
       [](Stream& s) { s.Register(D(0)).Buy(D(0), 1).Buy(D(365), 1); }, D(365), kCustomer, kStable,
       1},
  };
  for (int stage = v1::FUNNEL_STAGE_FIRST_VISIT; stage <= v1::FUNNEL_STAGE_CONTRACT_SIGNED;
       ++stage) {
    cases.push_back({absl::StrCat("opportunity_stage_", stage, "_makes_intent"),
                     [stage](Stream& s) {
                       s.Register(D(0))
                           .Open(D(1), "o1", 5)
                           .Advance(D(2), "o1", static_cast<v1::FunnelStage>(stage));
                     },
                     D(2), kIntent});
  }
  RunStageCases(cases);
}

TEST(ClassifyTest, SubStageBoundaries) {
  // Prior window holds 10,000 (day 0), last window the day-400 purchase; at
  // day 500 nothing else applies (gap 400 d, silence threshold 800 d).
  auto ratio = [](int64_t last) {
    return [last](Stream& s) { s.Register(D(0)).BuyForever(D(0), 10'000).Buy(D(400), last); };
  };
  LifecycleRules quick_silence;
  quick_silence.min_decline_silence = 10 * kDay;
  quick_silence.default_median_gap = 5 * kDay;
  std::vector<StageCase> cases = {
      {"growth_exactly_1.1x", ratio(11'000), D(500), kCustomer, kGrowing},
      {"growth_1_unit_above_1.1x", ratio(11'001), D(500), kCustomer, kGrowing},
      {"growth_1_unit_below_1.1x", ratio(10'999), D(500), kCustomer, kStable},
      {"decline_exactly_0.7x", ratio(7'000), D(500), kCustomer, kDeclining},
      {"decline_1_unit_below_0.7x", ratio(6'999), D(500), kCustomer, kDeclining},
      {"decline_1_unit_above_0.7x", ratio(7'001), D(500), kCustomer, kStable},
      {"equal_revenue_stable", ratio(10'000), D(500), kCustomer, kStable},
      {"prior_zero_last_positive_growing",
       [](Stream& s) { s.Register(D(0)).BuyForever(D(0), 1000).Buy(D(800), 1); }, D(1000),
       kCustomer, kGrowing},
      {"both_windows_empty_stable",
       [](Stream& s) { s.Register(D(0)).BuyForever(D(0), 1000).Buy(D(800), 1); }, D(2000),
       kCustomer, kStable},
      {"purchase_entering_prior_window_at_exactly_365d",
       [](Stream& s) { s.Register(D(0)).BuyForever(D(0), 1000); }, D(365), kCustomer, kDeclining},
      {"purchase_still_in_last_window_1us_before_365d",
       [](Stream& s) { s.Register(D(0)).BuyForever(D(0), 1000); }, D(365) - kUs, kCustomer,
       kGrowing},
      {"purchase_leaving_prior_window_at_exactly_730d",
       [](Stream& s) { s.Register(D(0)).BuyForever(D(0), 1000).Buy(D(400), 700); }, D(730),
       kCustomer, kGrowing},
      {"purchase_in_prior_window_1us_before_730d",
       [](Stream& s) { s.Register(D(0)).BuyForever(D(0), 1000).Buy(D(400), 700); }, D(730) - kUs,
       kCustomer, kDeclining},
      {"new_beats_declining", [](Stream& s) { s.Register(D(0)).BuyForever(D(0), 1000); }, D(100),
       kCustomer, kNew, 0, quick_silence},
      {"declining_by_silence_after_new", [](Stream& s) { s.Register(D(0)).BuyForever(D(0), 1000); },
       D(180), kCustomer, kDeclining, 0, quick_silence},
  };
  RunStageCases(cases);
}

TEST(ClassifyTest, MedianGapSilenceThreshold) {
  // Each stream keeps last/prior revenue between 0.7x and 1.1x (or prior 0)
  // around the tested instant, so only the silence rule can decline.
  std::vector<StageCase> cases = {
      // One purchase instant: median gap 365 d, threshold 730 d. Amounts of
      // zero keep both revenue rules out of the way.
      {"single_purchase_threshold_730d_before",
       [](Stream& s) { s.Register(D(0)).BuyForever(D(0), 0).Buy(D(0), 0); }, D(730) - kUs,
       kCustomer, kStable},
      {"single_purchase_threshold_730d_at",
       [](Stream& s) { s.Register(D(0)).BuyForever(D(0), 0).Buy(D(0), 0); }, D(730), kCustomer,
       kDeclining},
      // Odd number of gaps: 100, 150, 50 -> median 100 -> threshold 200 d.
      {"odd_gaps_before",
       [](Stream& s) {
         s.Register(D(0)).BuyForever(D(0), 100).Buy(D(100), 100).Buy(D(250), 100).Buy(D(300), 100);
       },
       D(500) - kUs, kCustomer, kStable},
      {"odd_gaps_at",
       [](Stream& s) {
         s.Register(D(0)).BuyForever(D(0), 100).Buy(D(100), 100).Buy(D(250), 100).Buy(D(300), 100);
       },
       D(500), kCustomer, kDeclining},
      // Even number of gaps: 100, 200 -> median 150 -> threshold 300 d.
      {"even_gaps_before",
       [](Stream& s) { s.Register(D(0)).BuyForever(D(0), 100).Buy(D(100), 100).Buy(D(300), 200); },
       D(600) - kUs, kCustomer, kStable},
      {"even_gaps_at",
       [](Stream& s) { s.Register(D(0)).BuyForever(D(0), 100).Buy(D(100), 100).Buy(D(300), 200); },
       D(600), kCustomer, kDeclining},
      // Even median truncated to whole seconds: gaps 100 d and 200 d + 1 s ->
      // mean 150 d + 0.5 s -> 150 d -> threshold 300 d after day 300 + 1 s.
      {"even_median_truncated_before",
       [](Stream& s) {
         s.Register(D(0))
             .BuyForever(D(0), 100)
             .Buy(D(100), 100)
             .Buy(D(300) + absl::Seconds(1), 200);
       },
       D(600) + absl::Seconds(1) - kUs, kCustomer, kStable},
      {"even_median_truncated_at",
       [](Stream& s) {
         s.Register(D(0))
             .BuyForever(D(0), 100)
             .Buy(D(100), 100)
             .Buy(D(300) + absl::Seconds(1), 200);
       },
       D(600) + absl::Seconds(1), kCustomer, kDeclining},
      // Median 2 x 30 d = 60 d < 180 d: the floor applies.
      {"minimum_silence_before",
       [](Stream& s) { s.Register(D(0)).BuyForever(D(0), 1).Buy(D(30), 1).Buy(D(60), 1); },
       D(240) - kUs, kCustomer, kGrowing},
      {"minimum_silence_at",
       [](Stream& s) { s.Register(D(0)).BuyForever(D(0), 1).Buy(D(30), 1).Buy(D(60), 1); }, D(240),
       kCustomer, kDeclining},
      // Purchases at one instant count once: gaps [100] not [0, 100].
      {"same_instant_purchases_count_once_before",
       [](Stream& s) { s.Register(D(0)).BuyForever(D(0), 1).Buy(D(0), 1).Buy(D(100), 1); },
       D(300) - kUs, kCustomer, kGrowing},
      {"same_instant_purchases_count_once_at",
       [](Stream& s) { s.Register(D(0)).BuyForever(D(0), 1).Buy(D(0), 1).Buy(D(100), 1); }, D(300),
       kCustomer, kDeclining},
  };
  RunStageCases(cases);
  LifecycleResult r =
      ClassifyStream([](Stream& s) { s.Register(D(0)).BuyForever(D(0), 0); }, D(800));
  EXPECT_EQ(r.history.back().reason(), "purchase_silence");
  EXPECT_EQ(FromTs(r.history.back().at()), D(730));
  // A configured default gap moves it.
  LifecycleRules rules;
  rules.default_median_gap = 100 * kDay;
  r = ClassifyStream([](Stream& s) { s.Register(D(0)).BuyForever(D(0), 0); }, D(800), rules);
  EXPECT_EQ(FromTs(r.history.back().at()), D(200));
}

TEST(ClassifyTest, LostReasonFollowsConfiguredSilence) {
  struct Case {
    absl::Duration silence;
    std::string reason;
  };
  for (const Case& c : std::vector<Case>{{365 * kDay, "no_activity_365d"},
                                         {30 * kDay, "no_activity_30d"},
                                         {absl::Hours(36), "no_activity_36h"},
                                         {absl::Seconds(90), "no_activity_90s"}}) {
    LifecycleRules rules;
    rules.lost_silence = c.silence;
    LifecycleResult r = ClassifyStream(
        [](Stream& s) { s.Register(D(0)).Sign(D(0), "k", 1, D(0) + absl::Seconds(1)); },
        D(0) + c.silence, rules);
    EXPECT_EQ(r.stage, kLost);
    EXPECT_EQ(r.history.back().reason(), c.reason);
    EXPECT_EQ(FromTs(r.history.back().at()), D(0) + c.silence);
  }
}

// ---------------------------------------------------------------------------
// History contents.

struct HistoryCase {
  std::string name;
  Build build;
  absl::Time as_of;
  std::vector<H> expected;
};

TEST(ClassifyTest, History) {
  const absl::Duration s1 = absl::Seconds(1);
  std::vector<HistoryCase> cases = {
      {"journey_with_silence_loss_and_win_back",
       [](Stream& s) {
         s.Register(D(0))
             .Visit(D(10), v1::VISIT_OUTCOME_INTERESTED)
             .Buy(D(20), 1000)
             .Buy(D(500), 2000);
       },
       D(2000),
       {
           {D(0), kUnspecified, kProspect, "registered"},
           {D(10), kProspect, kIntent, "visit_interested"},
           {D(20), kIntent, kCustomer, "first_purchase", kNone, kNew},
           {D(200), kCustomer, kCustomer, "new_period_ended", kNew, kGrowing},
           // Silence and the window move coincide: LOST wins.
           {D(385), kCustomer, kLost, "no_activity_365d", kGrowing, kNone},
           {D(500), kLost, kCustomer, "win_back", kNone, kGrowing},
           {D(865), kCustomer, kLost, "no_activity_365d", kGrowing, kNone},
       }},
      {"churn_while_growing",
       [](Stream& s) { s.Register(D(0)).BuyForever(D(0), 1000).Churn(D(200)); },
       D(300),
       {
           {D(0), kUnspecified, kProspect, "registered"},
           {D(0), kProspect, kCustomer, "first_purchase", kNone, kNew},
           {D(180), kCustomer, kCustomer, "new_period_ended", kNew, kGrowing},
           {D(200), kCustomer, kLost, "churned", kGrowing, kNone},
       }},
      {"dormancy_fires_before_event_at_same_instant",
       [](Stream& s) { s.Register(D(0)).Quote(D(10)).Visit(D(190), v1::VISIT_OUTCOME_INTERESTED); },
       D(400),
       {
           {D(0), kUnspecified, kProspect, "registered"},
           {D(10), kProspect, kIntent, "quote_issued"},
           {D(190), kIntent, kProspect, "dormant_lead"},
           {D(190), kProspect, kIntent, "visit_interested"},
           {D(370), kIntent, kProspect, "dormant_lead"},
       }},
      {"silence_loss_fires_before_purchase_at_same_instant",
       [](Stream& s) { s.Register(D(0)).Buy(D(0), 100).Buy(D(365), 100); },
       D(365),
       {
           {D(0), kUnspecified, kProspect, "registered"},
           {D(0), kProspect, kCustomer, "first_purchase", kNone, kNew},
           {D(180), kCustomer, kCustomer, "new_period_ended", kNew, kGrowing},
           {D(365), kCustomer, kLost, "no_activity_365d", kGrowing, kNone},
           {D(365), kLost, kCustomer, "win_back", kNone, kStable},
       }},
      {"intent_and_purchase_at_one_instant",
       [](Stream& s) { s.Register(D(0)).Quote(D(5)).Buy(D(5), 1); },
       D(5),
       {
           {D(0), kUnspecified, kProspect, "registered"},
           {D(5), kProspect, kIntent, "quote_issued"},
           {D(5), kIntent, kCustomer, "first_purchase", kNone, kNew},
       }},
      {"need_confirmed_and_opportunity_reasons",
       [](Stream& s) {
         s.Register(D(0))
             .Visit(D(1), v1::VISIT_OUTCOME_NEED_CONFIRMED)
             .Churn(D(2))
             .Buy(D(3), 1)
             .Churn(D(4));
       },
       D(5),
       {
           {D(0), kUnspecified, kProspect, "registered"},
           {D(1), kProspect, kIntent, "visit_need_confirmed"},
           {D(2), kIntent, kLost, "churned"},
           {D(3), kLost, kCustomer, "win_back", kNone, kNew},
           {D(4), kCustomer, kLost, "churned", kNew, kNone},
       }},
      {"opportunity_advanced_reason",
       [](Stream& s) {
         s.Register(D(0)).Open(D(1), "o", 1).Advance(D(2), "o", v1::FUNNEL_STAGE_NEED_CONFIRMED);
       },
       D(3),
       {
           {D(0), kUnspecified, kProspect, "registered"},
           {D(2), kProspect, kIntent, "opportunity_advanced"},
       }},
      {"sub_stage_moves_inside_customer",
       [](Stream& s) { s.Register(D(0)).BuyForever(D(0), 1000).Buy(D(400), 1100); },
       D(1300),
       {
           {D(0), kUnspecified, kProspect, "registered"},
           {D(0), kProspect, kCustomer, "first_purchase", kNone, kNew},
           {D(180), kCustomer, kCustomer, "new_period_ended", kNew, kGrowing},
           {D(365), kCustomer, kCustomer, "revenue_decline", kGrowing, kDeclining},
           {D(400), kCustomer, kCustomer, "revenue_growth", kDeclining, kGrowing},
           // Day 730: the day-0 purchase leaves the prior window: still growing.
           {D(765), kCustomer, kCustomer, "revenue_decline", kGrowing, kDeclining},
           // Day 1130: both windows empty, silence 730 d < 800 d.
           {D(1130), kCustomer, kCustomer, "stable_revenue", kDeclining, kStable},
           {D(1200), kCustomer, kCustomer, "purchase_silence", kStable, kDeclining},
       }},
      {"event_before_registration_starts_history",
       [](Stream& s) { s.Visit(D(-10), v1::VISIT_OUTCOME_INTERESTED).Register(D(0)); },
       D(1),
       {
           {D(-10), kUnspecified, kProspect, "registered"},
           {D(-10), kProspect, kIntent, "visit_interested"},
       }},
      {"history_stops_at_as_of",
       [](Stream& s) { s.Register(D(0)).Buy(D(0), 1); },
       D(180) - s1,
       {
           {D(0), kUnspecified, kProspect, "registered"},
           {D(0), kProspect, kCustomer, "first_purchase", kNone, kNew},
       }},
  };
  for (const HistoryCase& c : cases) {
    SCOPED_TRACE(c.name);
    LifecycleResult r = ClassifyStream(c.build, c.as_of);
    EXPECT_EQ(HistoryOf(r.history), c.expected);
  }
}

// ---------------------------------------------------------------------------
// next_change_at.

struct NextCase {
  std::string name;
  Build build;
  absl::Time as_of;
  std::optional<absl::Time> expected;
};

TEST(ClassifyTest, NextChangeAt) {
  std::vector<NextCase> cases = {
      {"prospect_has_none", [](Stream& s) { s.Register(D(0)); }, D(5), std::nullopt},
      {"before_registration", [](Stream& s) { s.Register(D(0)); }, D(-1), D(0)},
      {"no_facts", [](Stream&) {}, D(0), std::nullopt},
      {"intent_dormancy", [](Stream& s) { s.Register(D(0)).Quote(D(10)); }, D(50), D(190)},
      {"intent_dormancy_1us_before", [](Stream& s) { s.Register(D(0)).Quote(D(10)); }, D(190) - kUs,
       D(190)},
      {"after_dormancy_none", [](Stream& s) { s.Register(D(0)).Quote(D(10)); }, D(190),
       std::nullopt},
      {"new_period_end", [](Stream& s) { s.Register(D(0)).BuyForever(D(0), 1000); }, D(10), D(180)},
      {"window_move", [](Stream& s) { s.Register(D(0)).BuyForever(D(0), 1000); }, D(200), D(365)},
      {"window_move_before_loss", [](Stream& s) { s.Register(D(0)).Buy(D(0), 1000).Pay(D(10)); },
       D(200), D(365)},
      {"silence_loss", [](Stream& s) { s.Register(D(0)).Buy(D(0), 1000).Pay(D(300)); }, D(400),
       D(665)},
      {"loss_at_contract_end", [](Stream& s) { s.Register(D(0)).Sign(D(0), "k1", 1000, D(500)); },
       D(400), D(500)},
      {"lost_has_none", [](Stream& s) { s.Register(D(0)).Churn(D(1)); }, D(2), std::nullopt},
      {"future_fact", [](Stream& s) { s.Register(D(0)).Quote(D(50)); }, D(10), D(50)},
      {"future_activity_that_changes_nothing", [](Stream& s) { s.Register(D(0)).Pay(D(50)); },
       D(10), std::nullopt},
      {"skips_breakpoints_that_change_nothing",
       [](Stream& s) { s.Register(D(0)).BuyForever(D(0), 1000).Buy(D(400), 1100); }, D(500),
       D(765)},
      {"declining_by_silence",
       [](Stream& s) { s.Register(D(0)).BuyForever(D(0), 1000).Buy(D(400), 1100); }, D(1130),
       D(1200)},
      {"open_ended_settled_none",
       [](Stream& s) { s.Register(D(0)).BuyForever(D(0), 1000).Buy(D(400), 1100); }, D(1200),
       std::nullopt},
  };
  for (const NextCase& c : cases) {
    SCOPED_TRACE(c.name);
    LifecycleResult r = ClassifyStream(c.build, c.as_of);
    ASSERT_EQ(r.next_change_at.has_value(), c.expected.has_value());
    if (c.expected) {
      EXPECT_EQ(*r.next_change_at, *c.expected);
    }
  }
}

// ---------------------------------------------------------------------------
// MAN.

TEST(ManClassTest, AllEightClasses) {
  // Bits: M = budget at the threshold, A = a decision maker visited,
  // N = need HIGH (odd rows) or a NEED_CONFIRMED visit (even rows).
  const std::map<int, std::string> expected = {
      {0b111, "MAN"}, {0b110, "MAn"}, {0b101, "MaN"}, {0b011, "mAN"},
      {0b001, "maN"}, {0b010, "mAn"}, {0b100, "Man"}, {0b000, "man"},
  };
  for (const auto& [bits, want] : expected) {
    for (bool need_by_visit : {false, true}) {
      SCOPED_TRACE(absl::StrCat(want, need_by_visit ? " need_by_visit" : " need_by_profile"));
      bool m = bits & 0b100, a = bits & 0b010, n = bits & 0b001;
      Stream s;
      s.Register(D(0), m ? 10'000'000 : 9'999'999);
      s.Contact(D(1), "boss", v1::CONTACT_ROLE_DECISION_MAKER);
      s.Contact(D(1), "user", v1::CONTACT_ROLE_USER);
      s.Visit(D(2), v1::VISIT_OUTCOME_NEUTRAL, a ? "boss" : "user");
      if (n && need_by_visit) s.Visit(D(3), v1::VISIT_OUTCOME_NEED_CONFIRMED);
      if (n && !need_by_visit) s.Update(D(3), [](auto& u) { u.set_need(v1::NEED_HIGH); });
      CustomerFacts facts = s.Facts();
      EXPECT_EQ(ManClass(facts, D(10), kRules), want);
      EXPECT_EQ(BuildCustomerView(facts, D(10), kRules).man_class(), want);
    }
  }
}

TEST(ManClassTest, Details) {
  struct Case {
    std::string name;
    Build build;
    absl::Time as_of;
    std::string expected;
    std::optional<LifecycleRules> rules = std::nullopt;
  };
  LifecycleRules low_threshold;
  low_threshold.man_budget_threshold_units = 500;
  std::vector<Case> cases = {
      {"budget_raised_later",
       [](Stream& s) {
         s.Register(D(0), 1).Update(D(5),
                                    [](auto& u) { u.mutable_budget()->set_units(20'000'000); });
       },
       D(4), "man"},
      {"budget_raised",
       [](Stream& s) {
         s.Register(D(0), 1).Update(D(5),
                                    [](auto& u) { u.mutable_budget()->set_units(20'000'000); });
       },
       D(5), "Man"},
      {"update_without_budget_keeps_it",
       [](Stream& s) {
         s.Register(D(0), 20'000'000).Update(D(5), [](auto& u) { u.set_region("West"); });
       },
       D(6), "Man"},
      {"configured_threshold", [](Stream& s) { s.Register(D(0), 500); }, D(1), "Man",
       low_threshold},
      {"decision_maker_not_visited",
       [](Stream& s) {
         s.Register(D(0)).Contact(D(1), "boss", v1::CONTACT_ROLE_DECISION_MAKER).Visit(D(2));
       },
       D(3), "man"},
      {"visited_influencer",
       [](Stream& s) {
         s.Register(D(0))
             .Contact(D(1), "x", v1::CONTACT_ROLE_INFLUENCER)
             .Visit(D(2), v1::VISIT_OUTCOME_NEUTRAL, "x");
       },
       D(3), "man"},
      {"visit_before_contact_added",
       [](Stream& s) {
         s.Register(D(0))
             .Visit(D(1), v1::VISIT_OUTCOME_NEUTRAL, "boss")
             .Contact(D(2), "boss", v1::CONTACT_ROLE_DECISION_MAKER);
       },
       D(3), "mAn"},
      {"contact_added_after_as_of",
       [](Stream& s) {
         s.Register(D(0))
             .Visit(D(1), v1::VISIT_OUTCOME_NEUTRAL, "boss")
             .Contact(D(5), "boss", v1::CONTACT_ROLE_DECISION_MAKER);
       },
       D(3), "man"},
      {"visit_after_as_of",
       [](Stream& s) {
         s.Register(D(0))
             .Contact(D(1), "boss", v1::CONTACT_ROLE_DECISION_MAKER)
             .Visit(D(5), v1::VISIT_OUTCOME_NEUTRAL, "boss");
       },
       D(3), "man"},
      {"role_changed_to_decision_maker",
       [](Stream& s) {
         s.Register(D(0))
             .Contact(D(1), "x", v1::CONTACT_ROLE_USER)
             .Visit(D(2), v1::VISIT_OUTCOME_NEUTRAL, "x")
             .Contact(D(3), "x", v1::CONTACT_ROLE_DECISION_MAKER);
       },
       D(4), "mAn"},
      {"role_before_change",
       [](Stream& s) {
         s.Register(D(0))
             .Contact(D(1), "x", v1::CONTACT_ROLE_USER)
             .Visit(D(2), v1::VISIT_OUTCOME_NEUTRAL, "x")
             .Contact(D(3), "x", v1::CONTACT_ROLE_DECISION_MAKER);
       },
       D(2), "man"},
      {"need_high_at_registration", [](Stream& s) { s.Register(D(0), 0, v1::NEED_HIGH); }, D(1),
       "maN"},
      {"need_lowered",
       [](Stream& s) {
         s.Register(D(0), 0, v1::NEED_HIGH).Update(D(2), [](auto& u) { u.set_need(v1::NEED_LOW); });
       },
       D(3), "man"},
      {"need_confirmed_visit_stays",
       [](Stream& s) {
         s.Register(D(0)).Visit(D(1), v1::VISIT_OUTCOME_NEED_CONFIRMED).Update(D(2), [](auto& u) {
           u.set_need(v1::NEED_LOW);
         });
       },
       D(3), "maN"},
      {"need_confirmed_after_as_of",
       [](Stream& s) { s.Register(D(0)).Visit(D(5), v1::VISIT_OUTCOME_NEED_CONFIRMED); }, D(3),
       "man"},
      {"intent_has_class", [](Stream& s) { s.Register(D(0)).Quote(D(1)); }, D(2), "man"},
      {"customer_has_none", [](Stream& s) { s.Register(D(0), 20'000'000).Buy(D(1), 1); }, D(2), ""},
      {"lost_has_none", [](Stream& s) { s.Register(D(0), 20'000'000).Churn(D(1)); }, D(2), ""},
      {"before_registration_none", [](Stream& s) { s.Register(D(5)); }, D(2), ""},
      {"dormant_lead_back_to_prospect_has_class",
       [](Stream& s) { s.Register(D(0), 20'000'000).Quote(D(1)); }, D(400), "Man"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Stream s;
    c.build(s);
    EXPECT_EQ(ManClass(s.Facts(), c.as_of, c.rules.value_or(kRules)), c.expected);
  }
}

// ---------------------------------------------------------------------------
// Funnel.

TEST(FunnelTest, Probabilities) {
  const std::vector<std::pair<v1::FunnelStage, int32_t>> cases = {
      {v1::FUNNEL_STAGE_UNSPECIFIED, 0},        {v1::FUNNEL_STAGE_OPPORTUNITY, 5},
      {v1::FUNNEL_STAGE_FIRST_VISIT, 10},       {v1::FUNNEL_STAGE_NEED_CONFIRMED, 30},
      {v1::FUNNEL_STAGE_PROPOSAL_ACCEPTED, 50}, {v1::FUNNEL_STAGE_COMMERCIAL_TERMS, 70},
      {v1::FUNNEL_STAGE_CONTRACT_SIGNED, 100},  {v1::FUNNEL_STAGE_LOST, 0},
      {static_cast<v1::FunnelStage>(42), 0},
  };
  for (const auto& [stage, percent] : cases) {
    EXPECT_EQ(FunnelProbability(stage), percent) << stage;
  }
}

TEST(FunnelTest, OpenOpportunitiesInView) {
  Stream s;
  s.Register(D(0));
  s.Open(D(1), "o3", 300, "gadget");
  s.Open(D(1), "o1", 100);
  s.Advance(D(2), "o1", v1::FUNNEL_STAGE_NEED_CONFIRMED);
  s.Advance(D(4), "o1", v1::FUNNEL_STAGE_COMMERCIAL_TERMS);
  s.Open(D(1), "won", 1);
  s.Advance(D(2), "won", v1::FUNNEL_STAGE_CONTRACT_SIGNED);
  s.Open(D(1), "lost", 1);
  s.Advance(D(2), "lost", v1::FUNNEL_STAGE_LOST);
  s.Open(D(8), "later", 1);
  // Stage change recorded before its opening arrives (and dated before it).
  s.Advance(D(0), "o2", v1::FUNNEL_STAGE_FIRST_VISIT);
  s.Open(D(1), "o2", 200);
  // At one instant the later funnel stage wins.
  s.Open(D(1), "tie", 7);
  s.Advance(D(3), "tie", v1::FUNNEL_STAGE_PROPOSAL_ACCEPTED);
  s.Advance(D(3), "tie", v1::FUNNEL_STAGE_FIRST_VISIT);
  CustomerFacts facts = s.Facts();

  struct Want {
    std::string id;
    v1::FunnelStage stage;
    int32_t probability;
    int64_t amount;
  };
  auto check = [&](absl::Time as_of, const std::vector<Want>& wants) {
    v1::CustomerView view = BuildCustomerView(facts, as_of, kRules);
    ASSERT_EQ(view.open_opportunities_size(), static_cast<int>(wants.size()));
    for (size_t i = 0; i < wants.size(); ++i) {
      const v1::OpenOpportunity& o = view.open_opportunities(static_cast<int>(i));
      EXPECT_EQ(o.opportunity_id(), wants[i].id);
      EXPECT_EQ(o.stage(), wants[i].stage) << wants[i].id;
      EXPECT_EQ(o.probability(), wants[i].probability) << wants[i].id;
      EXPECT_EQ(o.amount().units(), wants[i].amount);
      EXPECT_EQ(o.amount().currency(), "CNY");
      EXPECT_EQ(FromTs(o.opened_at()), wants[i].id == "later" ? D(8) : D(1));
    }
  };
  check(D(1), {{"lost", v1::FUNNEL_STAGE_OPPORTUNITY, 5, 1},
               {"o1", v1::FUNNEL_STAGE_OPPORTUNITY, 5, 100},
               {"o2", v1::FUNNEL_STAGE_FIRST_VISIT, 10, 200},
               {"o3", v1::FUNNEL_STAGE_OPPORTUNITY, 5, 300},
               {"tie", v1::FUNNEL_STAGE_OPPORTUNITY, 5, 7},
               {"won", v1::FUNNEL_STAGE_OPPORTUNITY, 5, 1}});
  check(D(5), {{"o1", v1::FUNNEL_STAGE_COMMERCIAL_TERMS, 70, 100},
               {"o2", v1::FUNNEL_STAGE_FIRST_VISIT, 10, 200},
               {"o3", v1::FUNNEL_STAGE_OPPORTUNITY, 5, 300},
               {"tie", v1::FUNNEL_STAGE_PROPOSAL_ACCEPTED, 50, 7}});
  v1::CustomerView later = BuildCustomerView(facts, D(9), kRules);
  EXPECT_EQ(later.open_opportunities_size(), 5);
  EXPECT_EQ(later.open_opportunities(1).product(), "widget");
  EXPECT_EQ(later.open_opportunities(3).product(), "gadget");
}

// ---------------------------------------------------------------------------
// Evolve.

TEST(EvolveTest, Errors) {
  struct Case {
    std::string name;
    Build before;
    std::function<v1::Event()> event;
    absl::StatusCode code;
    std::string message;
  };
  auto one = [](const Build& b) {
    return [b]() {
      Stream s;
      b(s);
      return s.events().back();
    };
  };
  std::vector<Case> cases = {
      {"no_payload", [](Stream& s) { s.Register(D(0)); },
       []() {
         v1::Event e;
         e.set_event_id("x");
         e.set_customer_id("c1");
         *e.mutable_occurred_at() = Ts(D(1));
         return e;
       },
       absl::StatusCode::kInvalidArgument, "missing_payload"},
      {"no_occurred_at", [](Stream& s) { s.Register(D(0)); },
       []() {
         v1::Event e;
         e.set_event_id("x");
         e.set_customer_id("c1");
         e.mutable_payment_received();
         return e;
       },
       absl::StatusCode::kInvalidArgument, "missing_occurred_at"},
      {"occurred_at_out_of_range", [](Stream& s) { s.Register(D(0)); },
       []() {
         v1::Event e;
         e.set_customer_id("c1");
         e.mutable_occurred_at()->set_seconds(int64_t{1} << 62);
         e.mutable_payment_received();
         return e;
       },
       absl::StatusCode::kInvalidArgument, "invalid_occurred_at"},
      {"already_registered", [](Stream& s) { s.Register(D(0)); },
       one([](Stream& s) { s.Pay(D(0)).Register(D(5)); }), absl::StatusCode::kFailedPrecondition,
       "already_registered"},
      {"customer_id_mismatch", [](Stream& s) { s.Register(D(0)); },
       []() {
         Stream other("c2");
         other.Pay(D(1));
         return other.events().back();
       },
       absl::StatusCode::kFailedPrecondition, "customer_id_mismatch"},
      {"opportunity_already_opened", [](Stream& s) { s.Register(D(0)).Open(D(1), "o1", 1); },
       one([](Stream& s) { s.Pay(D(0)).Pay(D(0)).Open(D(2), "o1", 2); }),
       absl::StatusCode::kFailedPrecondition, "opportunity_already_opened"},
      {"contract_already_signed", [](Stream& s) { s.Register(D(0)).Buy(D(1), 1); },
       []() {
         Stream s;
         s.Pay(D(0)).Pay(D(0)).Sign(D(2), "k1", 5, D(9));
         return s.events().back();
       },
       absl::StatusCode::kFailedPrecondition, "contract_already_signed"},
      {"contract_already_terminated",
       [](Stream& s) { s.Register(D(0)).Buy(D(1), 1).Terminate(D(2), "k1"); },
       one([](Stream& s) { s.Pay(D(0)).Pay(D(0)).Pay(D(0)).Terminate(D(3), "k1"); }),
       absl::StatusCode::kFailedPrecondition, "contract_already_terminated"},
      {"duplicate_milestone_event", [](Stream& s) { s.Register(D(0)).Quote(D(1)); },
       one([](Stream& s) { s.Pay(D(0)).Quote(D(1)); }), absl::StatusCode::kFailedPrecondition,
       "duplicate_event"},
      {"bad_contract_end", [](Stream& s) { s.Register(D(0)); },
       []() {
         Stream s;
         s.Sign(D(1), "k9", 5, D(9));
         v1::Event e = s.events().back();
         e.mutable_contract_signed()->mutable_end()->set_nanos(-1);
         return e;
       },
       absl::StatusCode::kInvalidArgument, "invalid_contract_end"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Stream s;
    c.before(s);
    CustomerFacts facts = s.Facts();
    const std::string before = Bytes(facts);
    absl::Status status = Evolve(facts, c.event());
    EXPECT_THAT(status, StatusIs(c.code, c.message));
    EXPECT_EQ(Bytes(facts), before) << "an error must change nothing";
  }
}

TEST(EvolveTest, RecordsOutOfOrderFactsInsteadOfDropping) {
  // Renewal, termination and stage change before what they refer to.
  Stream s;
  s.Renew(D(5), "k1", D(900), 50);
  s.Terminate(D(6), "k2");
  s.Advance(D(4), "o1", v1::FUNNEL_STAGE_FIRST_VISIT);
  s.Register(D(0));
  s.Sign(D(1), "k1", 100, D(400));
  s.Sign(D(2), "k2", 100, D(1000));
  s.Open(D(3), "o1", 10);
  CustomerFacts facts = s.Facts();
  ASSERT_EQ(facts.contracts_size(), 2);
  EXPECT_EQ(facts.contracts(0).contract_id(), "k1");
  EXPECT_EQ(facts.contracts(0).renewals_size(), 1);
  EXPECT_TRUE(facts.contracts(1).has_terminated_at_us());
  ASSERT_EQ(facts.opportunities_size(), 1);
  EXPECT_EQ(facts.opportunities(0).stages_size(), 1);
  EXPECT_EQ(facts.customer_id(), "c1");
  EXPECT_TRUE(Exists(facts));
  // Renewed to day 900, with the last activity at day 6: LOST at day 900.
  EXPECT_EQ(Classify(facts, D(900) - kUs, kRules).stage, kCustomer);
  EXPECT_EQ(Classify(facts, D(900), kRules).stage, kLost);
  EXPECT_EQ(BuildCustomerView(facts, D(10), kRules).open_opportunities(0).stage(),
            v1::FUNNEL_STAGE_FIRST_VISIT);
}

TEST(EvolveTest, ExistsOnlyAfterRegistration) {
  CustomerFacts facts;
  EXPECT_FALSE(Exists(facts));
  Stream s;
  s.Pay(D(1));
  ASSERT_OK(Evolve(facts, s.events()[0]));
  EXPECT_FALSE(Exists(facts));
  s.Register(D(0));
  ASSERT_OK(Evolve(facts, s.events()[1]));
  EXPECT_TRUE(Exists(facts));
  EXPECT_EQ(facts.registered_at_us(), absl::ToUnixMicros(D(0)));
}

TEST(EvolveTest, ActivityInstantsAreKeptOnce) {
  Stream s;
  s.Register(D(0)).Pay(D(2)).Pay(D(1)).Pay(D(2)).Quote(D(1));
  CustomerFacts facts = s.Facts();
  ASSERT_EQ(facts.activity_us_size(), 2);
  EXPECT_EQ(facts.activity_us(0), absl::ToUnixMicros(D(1)));
  EXPECT_EQ(facts.activity_us(1), absl::ToUnixMicros(D(2)));
}

// ---------------------------------------------------------------------------
// The view.

TEST(ViewTest, Fields) {
  Stream s;
  s.Register(D(0), 5'000'000);
  s.Update(D(10), [](auto& u) {
    u.set_owner_id("rep2");
    u.set_name("Acme Ltd");
  });
  s.Update(D(900), [](auto& u) { u.set_owner_id("rep3"); });  // after as_of
  s.Contact(D(1), "aide", v1::CONTACT_ROLE_USER, "Zhao");
  s.Contact(D(1), "boss", v1::CONTACT_ROLE_DECISION_MAKER, "Wang");
  s.Last().mutable_contact_added()->mutable_birthday()->set_month(5);
  s.Visit(D(3), v1::VISIT_OUTCOME_INTERESTED, "boss");
  s.Buy(D(20), 700);                     // prior window at day 400: (-330, 35]
  s.Buy(D(100), 300);                    // last window at day 400: (35, 400]
  s.Sign(D(300), "long", 2000, D(600));  // gaps 80 d, 200 d: silence threshold 280 d
  s.Pay(D(390));
  s.Contact(D(500), "later", v1::CONTACT_ROLE_USER);  // after as_of
  CustomerFacts facts = s.Facts();

  v1::CustomerView v = BuildCustomerView(facts, D(400), kRules);
  EXPECT_EQ(v.customer_id(), "c1");
  EXPECT_EQ(v.profile().name(), "Acme Ltd");
  EXPECT_EQ(v.profile().owner_id(), "rep2");
  EXPECT_EQ(v.profile().region(), "East");
  EXPECT_EQ(v.profile().kind(), v1::CUSTOMER_KIND_CUSTOMER);
  EXPECT_EQ(v.profile().budget().units(), 5'000'000);
  EXPECT_EQ(FromTs(v.profile().registered_at()), D(0));
  EXPECT_EQ(v.stage(), kCustomer);
  // last = 300 + 2000, prior = 700 -> growing.
  EXPECT_EQ(v.sub_stage(), kGrowing);
  EXPECT_EQ(v.win_back_count(), 0);
  EXPECT_EQ(v.man_class(), "");
  EXPECT_EQ(FromTs(v.last_activity_at()), D(390));
  EXPECT_EQ(FromTs(v.first_purchase_at()), D(20));
  EXPECT_EQ(FromTs(v.last_purchase_at()), D(300));
  EXPECT_EQ(v.purchase_count(), 3);
  EXPECT_EQ(v.revenue_last_365d().units(), 2300);
  EXPECT_EQ(v.revenue_last_365d().currency(), "CNY");
  EXPECT_EQ(v.revenue_prior_365d().units(), 700);
  EXPECT_EQ(FromTs(v.as_of()), D(400));
  ASSERT_EQ(v.contacts_size(), 2);
  EXPECT_EQ(v.contacts(0).contact_id(), "aide");
  EXPECT_FALSE(v.contacts(0).visited());
  EXPECT_EQ(v.contacts(1).contact_id(), "boss");
  EXPECT_EQ(v.contacts(1).name(), "Wang");
  EXPECT_EQ(v.contacts(1).role(), v1::CONTACT_ROLE_DECISION_MAKER);
  EXPECT_TRUE(v.contacts(1).visited());
  EXPECT_EQ(v.contacts(1).birthday().month(), 5);
  EXPECT_EQ(std::vector<std::string>(v.flags().begin(), v.flags().end()),
            std::vector<std::string>{"has_active_contract"});
  LifecycleResult r = Classify(facts, D(400), kRules);
  ASSERT_EQ(v.stage_history_size(), static_cast<int>(r.history.size()));
  for (size_t i = 0; i < r.history.size(); ++i) {
    EXPECT_EQ(Bytes(v.stage_history(static_cast<int>(i))), Bytes(r.history[i]));
  }
}

TEST(ViewTest, UnsetTimestampsStayUnset) {
  Stream s;
  s.Register(D(0));
  v1::CustomerView v = BuildCustomerView(s.Facts(), D(1), kRules);
  EXPECT_FALSE(v.has_last_activity_at());
  EXPECT_FALSE(v.has_first_purchase_at());
  EXPECT_FALSE(v.has_last_purchase_at());
  EXPECT_EQ(v.purchase_count(), 0);
  EXPECT_EQ(v.revenue_last_365d().units(), 0);
  EXPECT_EQ(v.revenue_last_365d().currency(), "CNY");
  EXPECT_EQ(v.man_class(), "man");
  EXPECT_EQ(v.stage(), kProspect);
  EXPECT_TRUE(v.flags().empty());
}

TEST(ViewTest, Flags) {
  struct Case {
    std::string name;
    Build build;
    absl::Time as_of;
    std::vector<std::string> flags;
  };
  std::vector<Case> cases = {
      {"churned_explicitly",
       [](Stream& s) { s.Register(D(0)).Churn(D(1)); },
       D(2),
       {"churned_explicitly"}},
      {"silence_loss_is_not_explicit",
       [](Stream& s) { s.Register(D(0)).Buy(D(0), 1); },
       D(400),
       {}},
      {"dormant_risk_after_150d",
       [](Stream& s) { s.Register(D(0)).Quote(D(10)); },
       D(160) + kUs,
       {"dormant_risk"}},
      {"no_dormant_risk_at_exactly_150d",
       [](Stream& s) { s.Register(D(0)).Quote(D(10)); },
       D(160),
       {}},
      {"no_dormant_risk_once_prospect",
       [](Stream& s) { s.Register(D(0)).Quote(D(10)); },
       D(190),
       {}},
      {"active_contract",
       [](Stream& s) { s.Register(D(0)).Sign(D(0), "k", 1, D(10)); },
       D(9),
       {"has_active_contract"}},
      {"contract_ended", [](Stream& s) { s.Register(D(0)).Sign(D(0), "k", 1, D(10)); }, D(10), {}},
      {"contract_not_started",
       [](Stream& s) { s.Register(D(0)).Sign(D(0), "k", 1, D(20), D(10)); },
       D(5),
       {}},
      {"contract_terminated",
       [](Stream& s) { s.Register(D(0)).Sign(D(0), "k", 1, D(20)).Terminate(D(5), "k"); },
       D(5),
       {}},
      {"won_back_and_active",
       [](Stream& s) { s.Register(D(0)).Churn(D(1)).Sign(D(2), "k", 1, D(20)); },
       D(3),
       {"has_active_contract", "won_back"}},
      {"won_back_then_churned",
       [](Stream& s) { s.Register(D(0)).Churn(D(1)).Buy(D(2), 1).Churn(D(3)); },
       D(3),
       {"churned_explicitly", "won_back"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Stream s;
    c.build(s);
    v1::CustomerView v = BuildCustomerView(s.Facts(), c.as_of, kRules);
    EXPECT_EQ(std::vector<std::string>(v.flags().begin(), v.flags().end()), c.flags);
  }
}

TEST(ViewTest, RevenueWindowsAreHalfOpen) {
  // last = (as_of - 365 d, as_of], prior = (as_of - 730 d, as_of - 365 d].
  Stream s;
  s.Register(D(0)).Buy(D(0), 100).Buy(D(365), 10).Buy(D(365) + kUs, 1);
  CustomerFacts facts = s.Facts();
  struct Case {
    absl::Time as_of;
    int64_t last;
    int64_t prior;
  };
  for (const Case& c : std::vector<Case>{{D(365), 10, 100},
                                         {D(365) - kUs, 100, 0},
                                         {D(730), 1, 10},
                                         {D(730) + kUs, 0, 11},
                                         {D(1095), 0, 1},
                                         {D(1095) + kUs, 0, 0}}) {
    v1::CustomerView v = BuildCustomerView(facts, c.as_of, kRules);
    EXPECT_EQ(v.revenue_last_365d().units(), c.last) << c.as_of;
    EXPECT_EQ(v.revenue_prior_365d().units(), c.prior) << c.as_of;
  }
}

TEST(ViewTest, ProfileFoldsInEventTimeOrder) {
  Stream s;
  s.Update(D(-1), [](auto& u) { u.set_industry("energy"); });  // before registration
  s.Register(D(0));
  s.Update(D(2), [](auto& u) { u.set_owner_id("rep9"); });
  s.Update(D(1), [](auto& u) { u.set_owner_id("rep8"); });
  CustomerFacts facts = s.Facts();
  // Registration sets its non-empty fields over the earlier update.
  EXPECT_EQ(BuildCustomerView(facts, D(0), kRules).profile().industry(), "retail");
  EXPECT_EQ(BuildCustomerView(facts, D(-1), kRules).profile().industry(), "energy");
  EXPECT_EQ(BuildCustomerView(facts, D(1), kRules).profile().owner_id(), "rep8");
  EXPECT_EQ(BuildCustomerView(facts, D(2), kRules).profile().owner_id(), "rep9");
}

// ---------------------------------------------------------------------------
// Properties over random streams.

// A random valid stream: every entity opened/signed/terminated at most once.
Stream RandomStream(uint32_t seed) {
  std::mt19937 rng(seed);
  auto day = [&](int lo, int hi) {
    return D(std::uniform_int_distribution<int>(lo, hi)(rng)) +
           absl::Seconds(std::uniform_int_distribution<int>(0, 2)(rng) * 3600);
  };
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  Stream s;
  s.Register(day(-20, 40), pick(3) == 0 ? 20'000'000 : 0);
  int contracts = 0, opportunities = 0;
  std::set<int> terminated;
  int n = 5 + pick(30);
  for (int i = 0; i < n; ++i) {
    absl::Time at = day(0, 1600);
    switch (pick(12)) {
      case 0:
        s.Visit(at, static_cast<v1::VisitOutcome>(1 + pick(4)), pick(2) ? "boss" : "");
        break;
      case 1:
        s.Quote(at);
        break;
      case 2:
        s.Open(at, absl::StrCat("o", opportunities++), 100 + pick(1000));
        break;
      case 3:
        if (opportunities > 0) {
          s.Advance(at, absl::StrCat("o", pick(opportunities)),
                    static_cast<v1::FunnelStage>(1 + pick(7)));
        }
        break;
      case 4:
      case 5: {
        int len = pick(3) == 0 ? 0 : 30 + pick(700);
        std::optional<absl::Time> end;
        if (len > 0) end = at + len * kDay;
        s.Sign(at, absl::StrCat("k", contracts++), 1 + pick(5000), end,
               at + pick(40) * kDay - absl::Hours(24 * 10));
        break;
      }
      case 6:
        if (contracts > 0) {
          s.Renew(at, absl::StrCat("k", pick(contracts)),
                  pick(2) ? std::optional<absl::Time>(at + (100 + pick(500)) * kDay) : std::nullopt,
                  1 + pick(5000));
        }
        break;
      case 7:
        if (contracts > 0) {
          int k = pick(contracts);
          if (terminated.insert(k).second) s.Terminate(at, absl::StrCat("k", k));
        }
        break;
      case 8:
        if (pick(4) == 0) s.Churn(at);
        break;
      case 9:
        s.Contact(at, pick(2) ? "boss" : "aide",
                  pick(2) ? v1::CONTACT_ROLE_DECISION_MAKER : v1::CONTACT_ROLE_USER);
        break;
      case 10:
        s.Update(at, [&](auto& u) { u.set_need(pick(2) ? v1::NEED_HIGH : v1::NEED_LOW); });
        break;
      default:
        s.Pay(at);
        break;
    }
  }
  return s;
}

TEST(PropertyTest, ArrivalOrderDoesNotMatter) {
  for (uint32_t seed = 1; seed <= 150; ++seed) {
    SCOPED_TRACE(seed);
    Stream s = RandomStream(seed);
    CustomerFacts facts = s.Facts();
    const std::string bytes = Bytes(facts);
    std::vector<absl::Time> probes = {D(0), D(200), D(500), D(1000), D(1700), D(3000)};
    std::vector<std::string> views;
    for (absl::Time t : probes) views.push_back(Bytes(BuildCustomerView(facts, t, kRules)));
    std::mt19937 rng(seed);
    for (int round = 0; round < 4; ++round) {
      std::vector<v1::Event> events = s.events();
      std::shuffle(events.begin(), events.end(), rng);
      CustomerFacts shuffled = Stream::FactsOf(events);
      ASSERT_EQ(Bytes(shuffled), bytes);
      for (size_t i = 0; i < probes.size(); ++i) {
        EXPECT_EQ(Bytes(BuildCustomerView(shuffled, probes[i], kRules)), views[i]);
      }
    }
  }
}

// Classify at any t agrees with one sweep to the far future: its history is
// the prefix up to t, its stage the last entry's, and next_change_at the time
// of the first later entry.
TEST(PropertyTest, HistoryPrefixAndNextChange) {
  std::set<std::string> reasons_seen;
  for (uint32_t seed = 1; seed <= 150; ++seed) {
    SCOPED_TRACE(seed);
    CustomerFacts facts = RandomStream(seed).Facts();
    LifecycleResult full = Classify(facts, D(10'000), kRules);
    std::vector<H> all = HistoryOf(full.history);
    for (const H& h : all) reasons_seen.insert(h.reason);
    ASSERT_FALSE(all.empty());
    for (size_t i = 1; i < all.size(); ++i) {
      ASSERT_LE(all[i - 1].at, all[i].at);
      ASSERT_EQ(all[i - 1].to, all[i].from);
      ASSERT_EQ(all[i - 1].to_sub, all[i].from_sub);
      ASSERT_TRUE(all[i].from != all[i].to || all[i].from_sub != all[i].to_sub);
      ASSERT_EQ(all[i].to == kCustomer, all[i].to_sub != kNone);
    }
    std::vector<absl::Time> probes;
    for (const H& h : all) {
      probes.push_back(h.at - kUs);
      probes.push_back(h.at);
      probes.push_back(h.at + kUs);
    }
    for (int d = -30; d < 2500; d += 37) probes.push_back(D(d));
    for (absl::Time t : probes) {
      LifecycleResult r = Classify(facts, t, kRules);
      std::vector<H> prefix;
      std::optional<absl::Time> next;
      for (const H& h : all) {
        if (h.at <= t) {
          prefix.push_back(h);
        } else if (!next) {
          next = h.at;
        }
      }
      ASSERT_EQ(HistoryOf(r.history), prefix) << t;
      ASSERT_EQ(r.stage, prefix.empty() ? kUnspecified : prefix.back().to);
      ASSERT_EQ(r.sub_stage, prefix.empty() ? kNone : prefix.back().to_sub);
      ASSERT_EQ(r.next_change_at, next) << t;
      int32_t win_backs = 0;
      for (const H& h : prefix) win_backs += h.reason == "win_back";
      ASSERT_EQ(r.win_back_count, win_backs);
    }
  }
  // The random streams reach every rule.
  for (const char* reason :
       {"registered", "quote_issued", "opportunity_advanced", "visit_interested",
        "visit_need_confirmed", "first_purchase", "win_back", "churned", "no_activity_365d",
        "dormant_lead", "new_period_ended", "revenue_growth", "revenue_decline", "purchase_silence",
        "stable_revenue"}) {
    EXPECT_TRUE(reasons_seen.count(reason)) << reason;
  }
}

// The sub-stage rule written the slow, obvious way.
SubStage NaiveSubStage(const std::vector<std::pair<absl::Time, int64_t>>& purchases, absl::Time t) {
  absl::Time first = absl::InfiniteFuture(), last_p = absl::InfinitePast();
  int64_t last = 0, prior = 0;
  std::set<absl::Time> instants;
  for (const auto& [at, amount] : purchases) {
    if (at > t) continue;
    first = std::min(first, at);
    last_p = std::max(last_p, at);
    instants.insert(at);
    if (at > t - 365 * kDay) {
      last += amount;
    } else if (at > t - 730 * kDay) {
      prior += amount;
    }
  }
  if (t - first < 180 * kDay) return kNew;
  std::vector<absl::Duration> gaps;
  for (auto it = std::next(instants.begin()); it != instants.end(); ++it) {
    gaps.push_back(*it - *std::prev(it));
  }
  std::sort(gaps.begin(), gaps.end());
  absl::Duration median = 365 * kDay;
  if (!gaps.empty()) {
    size_t n = gaps.size();
    median =
        n % 2 ? gaps[n / 2] : absl::Trunc((gaps[n / 2 - 1] + gaps[n / 2]) / 2, absl::Seconds(1));
  }
  absl::Duration threshold = std::max(180 * kDay, 2 * median);
  if ((prior > 0 && 10 * last <= 7 * prior) || t - last_p >= threshold) return kDeclining;
  if ((prior > 0 && 10 * last >= 11 * prior) || (prior == 0 && last > 0)) return kGrowing;
  return kStable;
}

TEST(PropertyTest, SubStageMatchesNaiveReference) {
  for (uint32_t seed = 1; seed <= 200; ++seed) {
    SCOPED_TRACE(seed);
    std::mt19937 rng(seed);
    auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
    Stream s;
    s.Register(D(0));
    std::vector<std::pair<absl::Time, int64_t>> purchases;
    // An open-ended first contract: the customer never goes LOST.
    absl::Time first = D(pick(100));
    purchases.emplace_back(first, 1 + pick(1000));
    s.BuyForever(first, purchases.back().second);
    int n = pick(12);
    for (int i = 0; i < n; ++i) {
      absl::Time at = first + pick(1500) * kDay + pick(3) * absl::Hours(7);
      purchases.emplace_back(at, pick(5) == 0 ? 0 : 1 + pick(1000));
      if (pick(2)) {
        s.Buy(at, purchases.back().second);
      } else {
        s.Renew(at, "k1", std::nullopt, purchases.back().second);
      }
    }
    CustomerFacts facts = s.Facts();
    std::vector<absl::Time> probes;
    for (const auto& [at, amount] : purchases) {
      for (absl::Duration d : {absl::ZeroDuration(), 180 * kDay, 365 * kDay, 730 * kDay}) {
        probes.push_back(at + d - kUs);
        probes.push_back(at + d);
      }
    }
    for (int d = 0; d < 3000; d += 11) probes.push_back(D(d) + absl::Hours(5));
    for (const H& h : HistoryOf(Classify(facts, D(4000), kRules).history)) {
      probes.push_back(h.at - kUs);
      probes.push_back(h.at);
    }
    for (absl::Time t : probes) {
      if (t < first) continue;
      LifecycleResult r = Classify(facts, t, kRules);
      ASSERT_EQ(r.stage, kCustomer) << t;
      ASSERT_EQ(v1::SubStage_Name(r.sub_stage), v1::SubStage_Name(NaiveSubStage(purchases, t)))
          << "day " << absl::FDivDuration(t - kT0, kDay);
    }
  }
}

}  // namespace
}  // namespace custops::domain

namespace custops::domain {
namespace {

// Summarize is the index's cheap path; it must agree with the full answers.
TEST(PropertyTest, SummarizeAgreesWithClassifyAndTheView) {
  for (uint32_t seed = 1; seed <= 150; ++seed) {
    SCOPED_TRACE(seed);
    const CustomerFacts facts = RandomStream(seed).Facts();
    for (absl::Time t : {D(0), D(200), D(500), D(1000), D(1700), D(3000)}) {
      const LifecycleSummary s = Summarize(facts, t, kRules);
      const LifecycleResult r = Classify(facts, t, kRules);
      // With the history from the same sweep: the same summary, and
      // Classify's history.
      std::vector<v1::StageTransition> history(1);  // replaced, not appended to
      const LifecycleSummary sh = Summarize(facts, t, kRules, &history);
      EXPECT_EQ(sh.stage, s.stage);
      EXPECT_EQ(sh.sub_stage, s.sub_stage);
      EXPECT_EQ(sh.next_change_at, s.next_change_at);
      EXPECT_EQ(Bytes(sh.profile), Bytes(s.profile));
      EXPECT_EQ(sh.man_class, s.man_class);
      ASSERT_EQ(history.size(), r.history.size());
      for (size_t i = 0; i < history.size(); ++i) {
        EXPECT_EQ(Bytes(history[i]), Bytes(r.history[i])) << i;
      }
      const v1::CustomerView v = BuildCustomerView(facts, t, kRules);
      EXPECT_EQ(s.stage, r.stage);
      EXPECT_EQ(s.sub_stage, r.sub_stage);
      EXPECT_EQ(s.next_change_at, r.next_change_at);
      ASSERT_EQ(s.last_transition.has_value(), !r.history.empty());
      if (s.last_transition) {
        EXPECT_EQ(Bytes(*s.last_transition), Bytes(r.history.back()));
      }
      EXPECT_EQ(s.man_class, v.man_class());
      v1::CustomerProfile profile = v.profile();
      profile.clear_registered_at();
      EXPECT_EQ(Bytes(s.profile), Bytes(profile));
      EXPECT_EQ(s.last_activity_at.has_value(), v.has_last_activity_at());
      if (s.last_activity_at) {
        EXPECT_EQ(absl::ToUnixMicros(*s.last_activity_at),
                  v.last_activity_at().seconds() * 1'000'000 + v.last_activity_at().nanos() / 1000);
      }
    }
  }
}

// The lifecycle projection classifies a customer once per batch, after all
// its events of the batch, and announces from that history what each event
// would have seen: it relies on the history at t being the same whatever
// facts come after t.
TEST(PropertyTest, HistoryAtTIgnoresEventsAfterT) {
  for (uint32_t seed = 1; seed <= 150; ++seed) {
    SCOPED_TRACE(seed);
    const Stream s = RandomStream(seed);
    const CustomerFacts all = s.Facts();
    for (absl::Time t : {D(0), D(200), D(500), D(1000), D(1700)}) {
      std::vector<v1::Event> until;
      for (const v1::Event& e : s.events()) {
        const int64_t at_us =
            e.occurred_at().seconds() * 1'000'000 + e.occurred_at().nanos() / 1000;
        if (at_us <= absl::ToUnixMicros(t)) {
          until.push_back(e);
        }
      }
      const LifecycleResult partial = Classify(Stream::FactsOf(until), t, kRules);
      const LifecycleResult full = Classify(all, t, kRules);
      EXPECT_EQ(partial.stage, full.stage);
      EXPECT_EQ(partial.sub_stage, full.sub_stage);
      ASSERT_EQ(partial.history.size(), full.history.size()) << t;
      for (size_t i = 0; i < full.history.size(); ++i) {
        EXPECT_EQ(Bytes(partial.history[i]), Bytes(full.history[i])) << i;
      }
    }
  }
}

}  // namespace
}  // namespace custops::domain
