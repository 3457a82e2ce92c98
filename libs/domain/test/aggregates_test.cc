// Tests of the command-side state machines (docs/state-machines.md): for each
// machine, every state x every command against an expected table written
// here independently of the implementation; for every allowed cell the
// emitted event, once evolved, must move the machine to the documented next
// state. Plus boundaries to the microsecond / minor unit, field validation,
// unknown ids, unregistered customers and Evolve errors.
#include "custops/domain/aggregates.h"

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "custops/testing/money.h"
#include "custops/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace custops::domain {
namespace {

using ::absl::StatusCode;
using ::custops::testing::Cny;
using ::custops::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::StartsWith;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);
constexpr absl::Duration kDay = absl::Hours(24);
constexpr absl::Duration kUs = absl::Microseconds(1);

void SetTs(absl::Time t, google::protobuf::Timestamp* ts) {
  const int64_t s = absl::ToUnixSeconds(t);
  ts->set_seconds(s);
  ts->set_nanos(static_cast<int32_t>((t - absl::FromUnixSeconds(s)) / absl::Nanoseconds(1)));
}

v1::Event Env(absl::Time at) {
  v1::Event e;
  e.set_event_id("e");
  e.set_customer_id("C1");
  SetTs(at, e.mutable_occurred_at());
  return e;
}

// Evolves and asserts success.
void Apply(CustomerAggregate& agg, const v1::Event& e) {
  absl::Status s = Evolve(agg, e);
  ASSERT_OK(s) << " for " << e.ShortDebugString();
}

CustomerAggregate Registered() {
  CustomerAggregate agg;
  v1::Event e = Env(kT0 - kDay);
  e.mutable_customer_registered()->set_name("Acme");
  Apply(agg, e);
  return agg;
}

void OpenOpp(CustomerAggregate& agg, const std::string& id, absl::Time at) {
  v1::Event e = Env(at);
  e.mutable_opportunity_opened()->set_opportunity_id(id);
  *e.mutable_opportunity_opened()->mutable_amount() = Cny(100'000);
  Apply(agg, e);
}

void MoveOpp(CustomerAggregate& agg, const std::string& id, v1::FunnelStage stage, absl::Time at) {
  v1::Event e = Env(at);
  e.mutable_opportunity_stage_changed()->set_opportunity_id(id);
  e.mutable_opportunity_stage_changed()->set_stage(stage);
  Apply(agg, e);
}

void IssueQ(CustomerAggregate& agg, const std::string& id, absl::Time valid_until) {
  v1::Event e = Env(kT0);
  e.mutable_quote_issued()->set_quote_id(id);
  *e.mutable_quote_issued()->mutable_amount() = Cny(50'000);
  SetTs(valid_until, e.mutable_quote_issued()->mutable_valid_until());
  Apply(agg, e);
}

void SignC(CustomerAggregate& agg, const std::string& id, int64_t amount, absl::Time end,
           const std::string& quote_id = "") {
  v1::Event e = Env(kT0);
  auto* p = e.mutable_contract_signed();
  p->set_contract_id(id);
  p->set_quote_id(quote_id);
  *p->mutable_amount() = Cny(amount);
  SetTs(kT0, p->mutable_start());
  SetTs(end, p->mutable_end());
  Apply(agg, e);
}

void FileC(CustomerAggregate& agg, const std::string& id) {
  v1::Event e = Env(kT0);
  e.mutable_complaint_filed()->set_complaint_id(id);
  e.mutable_complaint_filed()->set_category(v1::COMPLAINT_CATEGORY_SERVICE);
  e.mutable_complaint_filed()->set_severity(v1::SEVERITY_HIGH);
  Apply(agg, e);
}

// ---- The generic table runner ----

struct Expect {
  StatusCode code;
  std::string next;  // the state after evolving the event (allowed cells only)
  std::string msg;   // a substring of the error message (refused cells), may be empty
};
Expect Ok(std::string next) { return {StatusCode::kOk, std::move(next), ""}; }
Expect Fp(std::string msg) { return {StatusCode::kFailedPrecondition, "", std::move(msg)}; }
Expect Ia(std::string msg) { return {StatusCode::kInvalidArgument, "", std::move(msg)}; }
Expect Ae() { return {StatusCode::kAlreadyExists, "", "already exists"}; }

struct StateFixture {
  CustomerAggregate agg;
  absl::Time now;
};

struct Machine {
  std::vector<std::pair<std::string, std::function<StateFixture()>>> states;
  std::vector<std::pair<std::string, Command>> commands;
  std::function<std::string(const CustomerAggregate&, absl::Time)> identify;
  std::vector<std::vector<Expect>> table;  // [state][command]
};

int RunMachine(const Machine& m, const CommandRules& rules = CommandRules{}) {
  EXPECT_EQ(m.table.size(), m.states.size());
  int cells = 0;
  for (size_t s = 0; s < m.states.size(); ++s) {
    EXPECT_EQ(m.table[s].size(), m.commands.size()) << m.states[s].first;
    for (size_t c = 0; c < m.commands.size(); ++c) {
      SCOPED_TRACE(absl::StrCat("state ", m.states[s].first, " x command ", m.commands[c].first));
      StateFixture f = m.states[s].second();
      const std::string before = m.identify(f.agg, f.now);
      EXPECT_EQ(before, m.states[s].first) << "fixture is not in its state";
      const Expect& want = m.table[s][c];
      absl::StatusOr<v1::Event> got = Decide(f.agg, m.commands[c].second, f.now, rules);
      ++cells;
      if (want.code != StatusCode::kOk) {
        EXPECT_THAT(got, StatusIs(want.code, HasSubstr(want.msg)));
        continue;
      }
      EXPECT_OK(got);
      if (!got.ok()) continue;
      EXPECT_EQ(got->customer_id(), "C1");
      EXPECT_TRUE(got->event_id().empty());
      EXPECT_EQ(absl::FromUnixSeconds(got->occurred_at().seconds()) +
                    absl::Nanoseconds(got->occurred_at().nanos()),
                f.now);
      const absl::Status evolved = Evolve(f.agg, *got);
      EXPECT_OK(evolved) << " " << got->ShortDebugString();
      EXPECT_EQ(m.identify(f.agg, f.now), want.next);
    }
  }
  return cells;
}

// ---- Opportunity ----

std::string OppState(const CustomerAggregate& agg, absl::Time) {
  const Opportunity& o = agg.opportunities.at("O1");
  switch (o.stage) {
    case v1::FUNNEL_STAGE_CONTRACT_SIGNED:
      return "WON";
    case v1::FUNNEL_STAGE_LOST:
      return "LOST";
    default:
      return absl::StrCat("S", static_cast<int>(o.stage));
  }
}

Machine OpportunityMachine() {
  Machine m;
  const absl::Time now = kT0 + 2 * kDay;
  for (int k = 1; k <= 5; ++k) {
    m.states.push_back({absl::StrCat("S", k), [k, now] {
                          StateFixture f{Registered(), now};
                          OpenOpp(f.agg, "O1", kT0);
                          if (k > 1) MoveOpp(f.agg, "O1", static_cast<v1::FunnelStage>(k), kT0);
                          return f;
                        }});
  }
  m.states.push_back({"WON", [now] {
                        StateFixture f{Registered(), now};
                        OpenOpp(f.agg, "O1", kT0);
                        MoveOpp(f.agg, "O1", v1::FUNNEL_STAGE_CONTRACT_SIGNED, kT0);
                        return f;
                      }});
  m.states.push_back({"LOST", [now] {
                        StateFixture f{Registered(), now};
                        OpenOpp(f.agg, "O1", kT0);
                        MoveOpp(f.agg, "O1", v1::FUNNEL_STAGE_NEED_CONFIRMED, kT0);
                        MoveOpp(f.agg, "O1", v1::FUNNEL_STAGE_LOST, kT0 + kDay);
                        return f;
                      }});
  for (int k = 1; k <= 7; ++k) {
    m.commands.push_back({absl::StrCat("Advance", k),
                          AdvanceOpportunity{"O1", static_cast<v1::FunnelStage>(k), "", "r"}});
  }
  m.commands.push_back({"Reopen", ReopenOpportunity{"O1", "back"}});
  m.commands.push_back({"OpenSame", OpenOpportunity{"O1", Cny(1), "p", std::nullopt}});
  m.commands.push_back({"IssueQuoteOnIt", IssueQuote{"Qx", "O1", Cny(1), {}, {}, kT0 + 30 * kDay}});

  const Expect I = Ia("stage");
  const Expect F = Fp("forward");
  const Expect W = Fp("WON");
  const Expect L = Fp("LOST");
  const Expect A = Ae();
  // clang-format off
  //            Adv1 Adv2      Adv3      Adv4      Adv5      Adv6       AdvLOST     Reopen    OpenSame IssueQuote
  m.table = {
    /* S1 */   {I,   Ok("S2"), Ok("S3"), Ok("S4"), Ok("S5"), Ok("WON"), Ok("LOST"), Fp("open at FUNNEL_STAGE_OPPORTUNITY, not LOST"), A, Ok("S1")},
    /* S2 */   {I,   F,        Ok("S3"), Ok("S4"), Ok("S5"), Ok("WON"), Ok("LOST"), Fp("not LOST"), A, Ok("S2")},
    /* S3 */   {I,   F,        F,        Ok("S4"), Ok("S5"), Ok("WON"), Ok("LOST"), Fp("not LOST"), A, Ok("S3")},
    /* S4 */   {I,   F,        F,        F,        Ok("S5"), Ok("WON"), Ok("LOST"), Fp("not LOST"), A, Ok("S4")},
    /* S5 */   {I,   F,        F,        F,        F,        Ok("WON"), Ok("LOST"), Fp("not LOST"), A, Ok("S5")},
    /* WON */  {I,   W,        W,        W,        W,        W,         W,          Fp("WON"),      A, Fp("WON")},
    /* LOST */ {I,   L,        L,        L,        L,        L,         L,          Ok("S1"),       A, Fp("LOST")},
  };
  // clang-format on
  m.identify = OppState;
  return m;
}

TEST(OpportunityMachine, EveryStateTimesEveryCommand) {
  EXPECT_EQ(RunMachine(OpportunityMachine()), 7 * 10);
}

TEST(OpportunityMachine, ReopenWindowBoundary) {
  CustomerAggregate agg = Registered();
  OpenOpp(agg, "O1", kT0);
  MoveOpp(agg, "O1", v1::FUNNEL_STAGE_LOST, kT0);
  CommandRules rules;  // 90 days
  EXPECT_OK(Decide(agg, ReopenOpportunity{"O1", ""}, kT0 + 90 * kDay, rules));
  absl::StatusOr<v1::Event> late =
      Decide(agg, ReopenOpportunity{"O1", ""}, kT0 + 90 * kDay + kUs, rules);
  EXPECT_THAT(late, StatusIs(StatusCode::kFailedPrecondition, HasSubstr("reopen window")));
  rules.opportunity_reopen_window = absl::ZeroDuration();
  absl::StatusOr<v1::Event> off = Decide(agg, ReopenOpportunity{"O1", ""}, kT0, rules);
  EXPECT_THAT(off, StatusIs(StatusCode::kFailedPrecondition, HasSubstr("disabled")));
}

TEST(OpportunityMachine, LostCarriesCompetitorAndReopenedOpportunityAdvancesAgain) {
  CustomerAggregate agg = Registered();
  OpenOpp(agg, "O1", kT0);
  absl::StatusOr<v1::Event> lost = Decide(
      agg, AdvanceOpportunity{"O1", v1::FUNNEL_STAGE_LOST, "Rival", "price"}, kT0, CommandRules{});
  ASSERT_OK(lost);
  EXPECT_EQ(lost->opportunity_stage_changed().competitor(), "Rival");
  EXPECT_EQ(lost->opportunity_stage_changed().reason(), "price");
  Apply(agg, *lost);
  absl::StatusOr<v1::Event> back = Decide(agg, ReopenOpportunity{"O1", "budget"}, kT0 + kDay, {});
  ASSERT_OK(back);
  EXPECT_EQ(back->opportunity_stage_changed().stage(), v1::FUNNEL_STAGE_OPPORTUNITY);
  Apply(agg, *back);
  EXPECT_OK(
      Decide(agg, AdvanceOpportunity{"O1", v1::FUNNEL_STAGE_FIRST_VISIT, "", ""}, kT0 + kDay, {}));
}

// ---- Quote ----

std::string QuoteState(const CustomerAggregate& agg, absl::Time now) {
  const Quote& q = agg.quotes.at("Q1");
  std::string s = QuoteStatusName(StatusAt(q, now));
  if (!q.contract_id.empty()) s += "+SIGNED";
  return s;
}

Machine QuoteMachine() {
  Machine m;
  const absl::Time valid_until = kT0 + 10 * kDay;
  const absl::Time before = kT0 + kDay;
  const absl::Time after = valid_until + kUs;
  auto issued = [valid_until](absl::Time now) {
    StateFixture f{Registered(), now};
    IssueQ(f.agg, "Q1", valid_until);
    return f;
  };
  auto decided = [issued](absl::Time now, bool accept) {
    StateFixture f = issued(now);
    v1::Event e = Env(kT0);
    if (accept) {
      e.mutable_quote_accepted()->set_quote_id("Q1");
    } else {
      e.mutable_quote_rejected()->set_quote_id("Q1");
    }
    Apply(f.agg, e);
    return f;
  };
  m.states = {
      {"ISSUED", [=] { return issued(before); }},
      {"EXPIRED", [=] { return issued(after); }},
      {"ACCEPTED", [=] { return decided(before, true); }},
      {"ACCEPTED(late)", [=] { return decided(after, true); }},
      {"REJECTED", [=] { return decided(before, false); }},
      {"REJECTED(late)", [=] { return decided(after, false); }},
      {"ACCEPTED+SIGNED",
       [=] {
         StateFixture f = decided(before, true);
         SignC(f.agg, "C0", 50'000, kT0 + 365 * kDay, "Q1");
         return f;
       }},
  };
  m.commands = {
      {"Accept", AcceptQuote{"Q1"}},
      {"Reject", RejectQuote{"Q1", "price", "Rival"}},
      {"IssueSame", IssueQuote{"Q1", "", Cny(1), {}, {}, kT0 + 300 * kDay}},
      {"SignOnQuote",
       SignContract{"CQ", "Q1", "", Cny(50'000), {}, kT0, kT0 + 365 * kDay, std::nullopt, "", ""}},
  };
  // The late states are identified by the plain name: strip "(late)".
  m.identify = QuoteState;
  for (auto& [name, fn] : m.states) {
    if (name.find("(late)") != std::string::npos) name = name.substr(0, name.find('('));
  }
  const Expect A = Ae();
  // clang-format off
  //                Accept                            Reject                Issue Sign
  m.table = {
    /* ISSUED */   {Ok("ACCEPTED"),                   Ok("REJECTED"),       A, Fp("quote Q1 is ISSUED, not ACCEPTED")},
    /* EXPIRED */  {Fp("quote Q1 is EXPIRED"),        Fp("EXPIRED"),        A, Fp("quote Q1 is EXPIRED, not ACCEPTED")},
    /* ACCEPTED */ {Fp("quote Q1 is ACCEPTED, not ISSUED"), Fp("ACCEPTED, not ISSUED"), A, Ok("ACCEPTED+SIGNED")},
    /* ACC late */ {Fp("quote Q1 is ACCEPTED, not ISSUED"), Fp("ACCEPTED, not ISSUED"), A, Ok("ACCEPTED+SIGNED")},
    /* REJECTED */ {Fp("quote Q1 is REJECTED, not ISSUED"), Fp("REJECTED, not ISSUED"), A, Fp("REJECTED, not ACCEPTED")},
    /* REJ late */ {Fp("quote Q1 is REJECTED, not ISSUED"), Fp("REJECTED, not ISSUED"), A, Fp("REJECTED, not ACCEPTED")},
    /* SIGNED */   {Fp("ACCEPTED, not ISSUED"),       Fp("ACCEPTED, not ISSUED"), A, Fp("already signed as contract C0")},
  };
  // clang-format on
  return m;
}

TEST(QuoteMachine, EveryStateTimesEveryCommand) { EXPECT_EQ(RunMachine(QuoteMachine()), 7 * 4); }

TEST(QuoteMachine, AcceptExactlyAtValidUntilButNotOneMicrosecondAfter) {
  CustomerAggregate agg = Registered();
  const absl::Time valid_until = kT0 + 10 * kDay;
  IssueQ(agg, "Q1", valid_until);
  EXPECT_OK(Decide(agg, AcceptQuote{"Q1"}, valid_until, {}));
  absl::StatusOr<v1::Event> late = Decide(agg, AcceptQuote{"Q1"}, valid_until + kUs, {});
  EXPECT_THAT(late, StatusIs(StatusCode::kFailedPrecondition, HasSubstr("EXPIRED")));
  EXPECT_EQ(StatusAt(agg.quotes.at("Q1"), valid_until), QuoteStatus::kIssued);
  EXPECT_EQ(StatusAt(agg.quotes.at("Q1"), valid_until + kUs), QuoteStatus::kExpired);
}

TEST(QuoteMachine, ExactMessage) {
  CustomerAggregate agg = Registered();
  IssueQ(agg, "Q1", kT0 + kDay);
  v1::Event e = Env(kT0);
  e.mutable_quote_accepted()->set_quote_id("Q1");
  Apply(agg, e);
  EXPECT_EQ(Decide(agg, AcceptQuote{"Q1"}, kT0, {}).status(),
            absl::FailedPreconditionError("quote Q1 is ACCEPTED, not ISSUED"));
}

TEST(QuoteMachine, IssueOnOpportunityAndValidUntilBoundary) {
  CustomerAggregate agg = Registered();
  EXPECT_THAT(Decide(agg, IssueQuote{"Q1", "", Cny(1), {}, {}, kT0}, kT0, {}),
              StatusIs(StatusCode::kInvalidArgument, StartsWith("valid_until (")));
  EXPECT_OK(Decide(agg, IssueQuote{"Q1", "", Cny(1), {}, {}, kT0 + kUs}, kT0, {}));
  EXPECT_THAT(Decide(agg, IssueQuote{"Q1", "O9", Cny(1), {}, {}, kT0 + kDay}, kT0, {}),
              StatusIs(StatusCode::kNotFound, "opportunity O9 not found"));
}

// ---- Contract ----

std::string ContractState(const CustomerAggregate& agg, absl::Time now) {
  return ContractStatusName(StatusAt(agg.contracts.at("K1"), now));
}

Machine ContractMachine() {
  Machine m;
  const absl::Time end = kT0 + 365 * kDay;
  const absl::Time renewed_end = kT0 + 500 * kDay;
  const absl::Time now = kT0 + 100 * kDay;
  auto signed_at = [end](absl::Time at) {
    StateFixture f{Registered(), at};
    SignC(f.agg, "K1", 10'000, end);
    return f;
  };
  auto renewed = [=](absl::Time at) {
    StateFixture f = signed_at(at);
    v1::Event e = Env(kT0 + kDay);
    e.mutable_contract_renewed()->set_contract_id("K1");
    SetTs(renewed_end, e.mutable_contract_renewed()->mutable_new_end());
    *e.mutable_contract_renewed()->mutable_amount() = Cny(5'000);
    Apply(f.agg, e);
    return f;
  };
  auto terminated = [=](StateFixture f) {
    v1::Event e = Env(kT0 + 2 * kDay);
    e.mutable_contract_terminated()->set_contract_id("K1");
    Apply(f.agg, e);
    return f;
  };
  m.states = {
      {"ACTIVE", [=] { return signed_at(now); }},
      {"ACTIVE", [=] { return signed_at(end - kUs); }},
      {"RENEWED", [=] { return renewed(now); }},
      {"TERMINATED", [=] { return terminated(signed_at(now)); }},
      {"TERMINATED", [=] { return terminated(renewed(now)); }},
      {"ENDED", [=] { return signed_at(end); }},
      {"ENDED", [=] { return renewed(renewed_end); }},
  };
  m.commands = {
      {"Renew", RenewContract{"K1", kT0 + 800 * kDay, Cny(5'000), {}}},
      {"Terminate", TerminateContract{"K1", "breach"}},
      {"Pay1", RecordPayment{"P1", "K1", Cny(1)}},
      {"SignSame", SignContract{"K1", "", "", Cny(1), {}, kT0, end, std::nullopt, "", ""}},
  };
  m.identify = ContractState;
  const Expect A = Ae();
  // Paying leaves the state unchanged.
  // clang-format off
  //                     Renew                  Terminate              Pay1              SignSame
  m.table = {
    /* ACTIVE */        {Ok("RENEWED"),         Ok("TERMINATED"),       Ok("ACTIVE"),     A},
    /* ACTIVE end-1us*/ {Ok("RENEWED"),         Ok("TERMINATED"),       Ok("ACTIVE"),     A},
    /* RENEWED */       {Ok("RENEWED"),         Ok("TERMINATED"),       Ok("RENEWED"),    A},
    /* TERMINATED */    {Fp("contract K1 is TERMINATED, not active"), Fp("TERMINATED"), Ok("TERMINATED"), A},
    /* TERM renewed */  {Fp("TERMINATED"),      Fp("TERMINATED"),       Ok("TERMINATED"), A},
    /* ENDED at end */  {Fp("contract K1 is ENDED"), Fp("ENDED"),       Ok("ENDED"),      A},
    /* ENDED renewed */ {Fp("ENDED"),           Fp("ENDED"),            Ok("ENDED"),      A},
  };
  // clang-format on
  return m;
}

TEST(ContractMachine, EveryStateTimesEveryCommand) {
  EXPECT_EQ(RunMachine(ContractMachine()), 7 * 4);
}

TEST(ContractMachine, RenewalNewEndMustBeAfterCurrentEnd) {
  CustomerAggregate agg = Registered();
  const absl::Time end = kT0 + 365 * kDay;
  SignC(agg, "K1", 10'000, end);
  absl::StatusOr<v1::Event> same = Decide(agg, RenewContract{"K1", end, Cny(1), {}}, kT0, {});
  EXPECT_THAT(same, StatusIs(StatusCode::kInvalidArgument, StartsWith("new_end (")));
  EXPECT_THAT(Decide(agg, RenewContract{"K1", end - kDay, Cny(1), {}}, kT0, {}),
              StatusIs(StatusCode::kInvalidArgument, StartsWith("new_end (")));
  absl::StatusOr<v1::Event> ok = Decide(agg, RenewContract{"K1", end + kUs, Cny(1), {}}, kT0, {});
  ASSERT_OK(ok);
  Apply(agg, *ok);
  EXPECT_EQ(agg.contracts.at("K1").end, end + kUs);
  EXPECT_EQ(StatusAt(agg.contracts.at("K1"), end), ContractStatus::kRenewed);
}

TEST(ContractMachine, SignDefaultsPaymentDueAndValidatesDates) {
  CustomerAggregate agg = Registered();
  absl::StatusOr<v1::Event> e =
      Decide(agg, SignContract{"K1", "", "", Cny(1), {}, kT0, kT0 + kDay, std::nullopt, "p", "c"},
             kT0, {});
  ASSERT_OK(e);
  EXPECT_EQ(e->contract_signed().payment_due().seconds(), absl::ToUnixSeconds(kT0 + 30 * kDay));
  absl::StatusOr<v1::Event> bad =
      Decide(agg, SignContract{"K1", "", "", Cny(1), {}, kT0, kT0, std::nullopt, "", ""}, kT0, {});
  EXPECT_THAT(bad, StatusIs(StatusCode::kInvalidArgument, StartsWith("end (")));
  OpenOpp(agg, "O1", kT0);
  MoveOpp(agg, "O1", v1::FUNNEL_STAGE_LOST, kT0);
  EXPECT_THAT(
      Decide(agg, SignContract{"K1", "", "O1", Cny(1), {}, kT0, kT0 + kDay, std::nullopt, "", ""},
             kT0, {}),
      StatusIs(StatusCode::kFailedPrecondition, "opportunity O1 is LOST"));
}

// ---- Payments ----

TEST(Payments, OutstandingBoundaryWithAndWithoutTheFlag) {
  CustomerAggregate agg = Registered();
  SignC(agg, "K1", 10'000, kT0 + 365 * kDay);
  v1::Event renew = Env(kT0);
  renew.mutable_contract_renewed()->set_contract_id("K1");
  SetTs(kT0 + 700 * kDay, renew.mutable_contract_renewed()->mutable_new_end());
  *renew.mutable_contract_renewed()->mutable_amount() = Cny(3'000);
  Apply(agg, renew);
  v1::Event paid = Env(kT0);
  paid.mutable_payment_received()->set_payment_id("P0");
  paid.mutable_payment_received()->set_contract_id("K1");
  *paid.mutable_payment_received()->mutable_amount() = Cny(4'000);
  Apply(agg, paid);
  ASSERT_EQ(Outstanding(agg.contracts.at("K1")), 10'000 + 3'000 - 4'000);

  CommandRules on;
  on.reject_overpayment = true;
  CommandRules off;
  off.reject_overpayment = false;
  EXPECT_OK(Decide(agg, RecordPayment{"P1", "K1", Cny(9'000)}, kT0, on));
  absl::StatusOr<v1::Event> over = Decide(agg, RecordPayment{"P1", "K1", Cny(9'001)}, kT0, on);
  EXPECT_THAT(over,
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("outstanding amount 9000")));
  absl::StatusOr<v1::Event> over_off = Decide(agg, RecordPayment{"P1", "K1", Cny(9'001)}, kT0, off);
  ASSERT_OK(over_off);
  Apply(agg, *over_off);
  EXPECT_EQ(Outstanding(agg.contracts.at("K1")), -1);
  // Fully paid: any further payment is an overpayment when the flag is on.
  EXPECT_THAT(Decide(agg, RecordPayment{"P2", "K1", Cny(1)}, kT0, on),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("outstanding amount -1")));
  // A payment id is used once.
  EXPECT_THAT(Decide(agg, RecordPayment{"P1", "K1", Cny(1)}, kT0, off),
              StatusIs(StatusCode::kAlreadyExists, "payment P1 already exists"));
}

// ---- Complaint ----

std::string ComplaintState(const CustomerAggregate& agg, absl::Time) {
  return ComplaintStatusName(agg.complaints.at("X1").status);
}

Machine ComplaintMachine() {
  Machine m;
  auto with = [](std::vector<int> steps) {  // 1 respond, 2 resolve, 3 reopen
    StateFixture f{Registered(), kT0 + kDay};
    FileC(f.agg, "X1");
    for (int s : steps) {
      v1::Event e = Env(kT0);
      if (s == 1) e.mutable_complaint_responded()->set_complaint_id("X1");
      if (s == 2) e.mutable_complaint_resolved()->set_complaint_id("X1");
      if (s == 3) e.mutable_complaint_reopened()->set_complaint_id("X1");
      Apply(f.agg, e);
    }
    return f;
  };
  m.states = {
      {"FILED", [=] { return with({}); }},
      {"RESPONDED", [=] { return with({1}); }},
      {"RESOLVED",
       [=] {
         return with({1, 2});
       }},
      {"RESOLVED", [=] { return with({2}); }},
      {"REOPENED",
       [=] {
         return with({1, 2, 3});
       }},
      {"RESPONDED",
       [=] {
         return with({1, 2, 3, 1});
       }},
      {"RESOLVED",
       [=] {
         return with({1, 2, 3, 2});
       }},
  };
  m.commands = {
      {"Respond", RespondComplaint{"X1", "on it"}},
      {"Resolve", ResolveComplaint{"X1", "refund", true}},
      {"Reopen", ReopenComplaint{"X1", "again"}},
      {"FileSame", FileComplaint{"X1", v1::COMPLAINT_CATEGORY_PRODUCT, v1::SEVERITY_LOW, "", ""}},
  };
  m.identify = ComplaintState;
  const Expect A = Ae();
  const Expect RespondResolved = Fp("complaint X1 is RESOLVED, not open");
  const Expect ResolveTwice = Fp("complaint X1 is already RESOLVED");
  // clang-format off
  //                   Respond          Resolve          Reopen                                FileSame
  m.table = {
    /* FILED */       {Ok("RESPONDED"), Ok("RESOLVED"), Fp("complaint X1 is FILED, not RESOLVED"),     A},
    /* RESPONDED */   {Ok("RESPONDED"), Ok("RESOLVED"), Fp("complaint X1 is RESPONDED, not RESOLVED"), A},
    /* RESOLVED */    {RespondResolved, ResolveTwice,   Ok("REOPENED"),                                A},
    /* RESOLVED */    {RespondResolved, ResolveTwice,   Ok("REOPENED"),                                A},
    /* REOPENED */    {Ok("RESPONDED"), Ok("RESOLVED"), Fp("complaint X1 is REOPENED, not RESOLVED"),  A},
    /* RESPONDED */   {Ok("RESPONDED"), Ok("RESOLVED"), Fp("RESPONDED, not RESOLVED"),                 A},
    /* RESOLVED */    {RespondResolved, ResolveTwice,   Ok("REOPENED"),                                A},
  };
  // clang-format on
  return m;
}

TEST(ComplaintMachine, EveryStateTimesEveryCommand) {
  EXPECT_EQ(RunMachine(ComplaintMachine()), 7 * 4);
}

TEST(ComplaintMachine, ReopenCountsAndEventFields) {
  CustomerAggregate agg = Registered();
  absl::StatusOr<v1::Event> filed = Decide(
      agg, FileComplaint{"X1", v1::COMPLAINT_CATEGORY_BILLING, v1::SEVERITY_CRITICAL, "phone", "d"},
      kT0, {});
  ASSERT_OK(filed);
  EXPECT_EQ(filed->complaint_filed().severity(), v1::SEVERITY_CRITICAL);
  Apply(agg, *filed);
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<v1::Event> r = Decide(agg, ResolveComplaint{"X1", "fix", i == 2}, kT0, {});
    ASSERT_OK(r);
    Apply(agg, *r);
    absl::StatusOr<v1::Event> o = Decide(agg, ReopenComplaint{"X1", "no"}, kT0, {});
    ASSERT_OK(o);
    Apply(agg, *o);
  }
  EXPECT_EQ(agg.complaints.at("X1").reopen_count, 3);
  EXPECT_EQ(agg.complaints.at("X1").status, ComplaintStatus::kReopened);
}

// ---- Across machines ----

// One command of each kind, each naming ids that do not exist.
std::vector<std::pair<std::string, Command>> UnknownIdCommands() {
  return {
      {"AdvanceOpportunity", AdvanceOpportunity{"O9", v1::FUNNEL_STAGE_FIRST_VISIT, "", ""}},
      {"ReopenOpportunity", ReopenOpportunity{"O9", ""}},
      {"IssueQuote(opp)", IssueQuote{"Q9", "O9", Cny(1), {}, {}, kT0 + kDay}},
      {"AcceptQuote", AcceptQuote{"Q9"}},
      {"RejectQuote", RejectQuote{"Q9", "", ""}},
      {"SignContract(quote)",
       SignContract{"K9", "Q9", "", Cny(1), {}, kT0, kT0 + kDay, std::nullopt, "", ""}},
      {"SignContract(opp)",
       SignContract{"K9", "", "O9", Cny(1), {}, kT0, kT0 + kDay, std::nullopt, "", ""}},
      {"RenewContract", RenewContract{"K9", kT0 + kDay, Cny(1), {}}},
      {"TerminateContract", TerminateContract{"K9", ""}},
      {"RecordPayment", RecordPayment{"P9", "K9", Cny(1)}},
      {"RespondComplaint", RespondComplaint{"X9", ""}},
      {"ResolveComplaint", ResolveComplaint{"X9", "", false}},
      {"ReopenComplaint", ReopenComplaint{"X9", ""}},
  };
}

TEST(AllMachines, UnknownIdsAreNotFound) {
  CustomerAggregate agg = Registered();
  for (const auto& [name, cmd] : UnknownIdCommands()) {
    absl::StatusOr<v1::Event> got = Decide(agg, cmd, kT0, {});
    EXPECT_THAT(got, StatusIs(StatusCode::kNotFound, HasSubstr("9 not found"))) << name;
  }
}

TEST(AllMachines, UnregisteredCustomerIsRefused) {
  CustomerAggregate agg;
  agg.customer_id = "C1";
  std::vector<std::pair<std::string, Command>> cmds = UnknownIdCommands();
  cmds.push_back({"OpenOpportunity", OpenOpportunity{"O1", Cny(1), "", std::nullopt}});
  cmds.push_back({"IssueQuote", IssueQuote{"Q1", "", Cny(1), {}, {}, kT0 + kDay}});
  cmds.push_back({"FileComplaint",
                  FileComplaint{"X1", v1::COMPLAINT_CATEGORY_PRODUCT, v1::SEVERITY_LOW, "", ""}});
  for (const auto& [name, cmd] : cmds) {
    absl::StatusOr<v1::Event> got = Decide(agg, cmd, kT0, {});
    EXPECT_THAT(got, StatusIs(StatusCode::kFailedPrecondition, "customer 'C1' is not registered"))
        << name;
  }
}

TEST(AllMachines, BadFieldsAreInvalidArgumentNamingTheField) {
  CustomerAggregate agg = Registered();
  OpenOpp(agg, "O1", kT0);
  SignC(agg, "K1", 100, kT0 + kDay);
  v1::Money usd;
  usd.set_units(1);
  usd.set_currency("USD");
  const std::string long_id(129, 'x');
  struct Case {
    Command cmd;
    std::string field;
  };
  const std::vector<Case> cases = {
      {OpenOpportunity{"", Cny(1), "", std::nullopt}, "opportunity_id"},
      {OpenOpportunity{long_id, Cny(1), "", std::nullopt}, "opportunity_id"},
      {OpenOpportunity{"O2", usd, "", std::nullopt}, "amount.currency"},
      {OpenOpportunity{"O2", Cny(-1), "", std::nullopt}, "amount.units"},
      {AdvanceOpportunity{"", v1::FUNNEL_STAGE_FIRST_VISIT, "", ""}, "opportunity_id"},
      {AdvanceOpportunity{"O1", v1::FUNNEL_STAGE_UNSPECIFIED, "", ""}, "stage"},
      {AdvanceOpportunity{"O1", static_cast<v1::FunnelStage>(8), "", ""}, "stage"},
      {ReopenOpportunity{"", ""}, "opportunity_id"},
      {IssueQuote{"", "", Cny(1), {}, {}, kT0 + kDay}, "quote_id"},
      {IssueQuote{"Q2", "", usd, {}, {}, kT0 + kDay}, "amount.currency"},
      {IssueQuote{"Q2", "", Cny(1), usd, {}, kT0 + kDay}, "list_amount.currency"},
      {IssueQuote{"Q2", "", Cny(1), {}, Cny(-5), kT0 + kDay}, "cost.units"},
      {IssueQuote{"Q2", "", Cny(1), {}, {}, kT0 - kUs}, "valid_until"},
      {AcceptQuote{""}, "quote_id"},
      {RejectQuote{""}, "quote_id"},
      {SignContract{"", "", "", Cny(1), {}, kT0, kT0 + kDay, std::nullopt, "", ""}, "contract_id"},
      {SignContract{"K2", "", "", Cny(1), {}, absl::InfinitePast(), kT0, std::nullopt, "", ""},
       "start"},
      {SignContract{"K2", "", "", Cny(1), {}, kT0, kT0 - kDay, std::nullopt, "", ""}, "end"},
      {SignContract{"K2", "", "", Cny(1), {}, kT0, kT0 + kDay, kT0 - kUs, "", ""}, "payment_due"},
      {SignContract{"K2", "", "", usd, {}, kT0, kT0 + kDay, std::nullopt, "", ""},
       "amount.currency"},
      {RenewContract{"", kT0 + 9 * kDay, Cny(1), {}}, "contract_id"},
      {RenewContract{"K1", absl::InfinitePast(), Cny(1), {}}, "new_end"},
      {RenewContract{"K1", kT0 + 9 * kDay, Cny(-1), {}}, "amount.units"},
      {TerminateContract{"", ""}, "contract_id"},
      {RecordPayment{"", "K1", Cny(1)}, "payment_id"},
      {RecordPayment{"P1", "", Cny(1)}, "contract_id"},
      {RecordPayment{"P1", "K1", Cny(0)}, "amount.units"},
      {RecordPayment{"P1", "K1", usd}, "amount.currency"},
      {FileComplaint{"", v1::COMPLAINT_CATEGORY_PRODUCT, v1::SEVERITY_LOW, "", ""}, "complaint_id"},
      {FileComplaint{"X2", v1::COMPLAINT_CATEGORY_UNSPECIFIED, v1::SEVERITY_LOW, "", ""},
       "category"},
      {FileComplaint{"X2", v1::COMPLAINT_CATEGORY_PRODUCT, v1::SEVERITY_UNSPECIFIED, "", ""},
       "severity"},
      {RespondComplaint{"", ""}, "complaint_id"},
      {ResolveComplaint{"", "", false}, "complaint_id"},
      {ReopenComplaint{"", ""}, "complaint_id"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    absl::StatusOr<v1::Event> got = Decide(agg, cases[i].cmd, kT0, {});
    EXPECT_THAT(got, StatusIs(StatusCode::kInvalidArgument, StartsWith(cases[i].field)))
        << "case " << i;
  }
}

TEST(AllMachines, CreatingAnExistingIdIsAlreadyExists) {
  CustomerAggregate agg = Registered();
  OpenOpp(agg, "O1", kT0);
  IssueQ(agg, "Q1", kT0 + kDay);
  SignC(agg, "K1", 1, kT0 + kDay);
  FileC(agg, "X1");
  const std::vector<Command> cmds = {
      OpenOpportunity{"O1", Cny(1), "", std::nullopt},
      IssueQuote{"Q1", "", Cny(1), {}, {}, kT0 + kDay},
      SignContract{"K1", "", "", Cny(1), {}, kT0, kT0 + kDay, std::nullopt, "", ""},
      FileComplaint{"X1", v1::COMPLAINT_CATEGORY_PRODUCT, v1::SEVERITY_LOW, "", ""},
  };
  for (const Command& c : cmds) {
    EXPECT_THAT(Decide(agg, c, kT0, {}),
                StatusIs(StatusCode::kAlreadyExists, HasSubstr(" already exists")));
  }
}

TEST(Evolve, Errors) {
  CustomerAggregate agg = Registered();
  EXPECT_THAT(Evolve(agg, Env(kT0)),
              StatusIs(StatusCode::kInvalidArgument, "event has no payload"));
  v1::Event reg = Env(kT0);
  reg.mutable_customer_registered();
  EXPECT_THAT(Evolve(agg, reg),
              StatusIs(StatusCode::kAlreadyExists, "customer already registered"));
  v1::Event other = Env(kT0);
  other.set_customer_id("C2");
  other.mutable_complaint_filed()->set_complaint_id("X1");
  EXPECT_THAT(Evolve(agg, other),
              StatusIs(StatusCode::kInvalidArgument, "event customer_id 'C2' is not 'C1'"));
  EXPECT_TRUE(agg.complaints.empty());

  v1::Event e = Env(kT0);
  e.mutable_quote_accepted()->set_quote_id("Q9");
  EXPECT_THAT(Evolve(agg, e), StatusIs(StatusCode::kNotFound, "quote Q9 not found"));
  e = Env(kT0);
  e.mutable_payment_received()->set_contract_id("K9");
  EXPECT_THAT(Evolve(agg, e), StatusIs(StatusCode::kNotFound, "contract K9 not found"));
  EXPECT_TRUE(agg.payment_ids.empty());
  e = Env(kT0);
  e.mutable_complaint_resolved()->set_complaint_id("X9");
  EXPECT_THAT(Evolve(agg, e), StatusIs(StatusCode::kNotFound, "complaint X9 not found"));
  e = Env(kT0);
  e.mutable_opportunity_stage_changed()->set_opportunity_id("O9");
  EXPECT_THAT(Evolve(agg, e), StatusIs(StatusCode::kNotFound, "opportunity O9 not found"));
  e = Env(kT0);
  e.mutable_contract_renewed()->set_contract_id("K9");
  EXPECT_THAT(Evolve(agg, e), StatusIs(StatusCode::kNotFound, "contract K9 not found"));

  OpenOpp(agg, "O1", kT0);
  v1::Event dup = Env(kT0);
  dup.mutable_opportunity_opened()->set_opportunity_id("O1");
  EXPECT_THAT(Evolve(agg, dup),
              StatusIs(StatusCode::kAlreadyExists, "opportunity O1 already exists"));

  // Events that are not command-side facts are accepted and ignored.
  v1::Event visit = Env(kT0);
  visit.mutable_visit_logged()->set_visit_id("V1");
  EXPECT_OK(Evolve(agg, visit));
}

TEST(Decide, VariantDispatchMatchesOverload) {
  CustomerAggregate agg = Registered();
  IssueQ(agg, "Q1", kT0 + kDay);
  const Command cmd = RejectQuote{"Q1", "price", "Rival"};
  absl::StatusOr<v1::Event> a = Decide(agg, cmd, kT0, {});
  absl::StatusOr<v1::Event> b = Decide(agg, RejectQuote{"Q1", "price", "Rival"}, kT0, {});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->SerializeAsString(), b->SerializeAsString());
  EXPECT_EQ(a->quote_rejected().competitor(), "Rival");
}

// A whole deal through Decide/Evolve only, as a command service would run it.
TEST(Decide, FullDealFlow) {
  CustomerAggregate agg = Registered();
  CommandRules rules;
  absl::Time now = kT0;
  auto run = [&](const Command& c) {
    absl::StatusOr<v1::Event> e = Decide(agg, c, now, rules);
    ASSERT_OK(e);
    Apply(agg, *e);
    now += kDay;
  };
  run(OpenOpportunity{"O1", Cny(1'000'000), "crm", kT0 + 60 * kDay});
  run(AdvanceOpportunity{"O1", v1::FUNNEL_STAGE_NEED_CONFIRMED, "", ""});
  run(IssueQuote{"Q1", "O1", Cny(900'000), Cny(1'000'000), Cny(500'000), kT0 + 30 * kDay});
  run(AcceptQuote{"Q1"});
  run(SignContract{"K1", "Q1", "O1", Cny(900'000), Cny(500'000), now, now + 365 * kDay,
                   std::nullopt, "crm", "direct"});
  run(AdvanceOpportunity{"O1", v1::FUNNEL_STAGE_CONTRACT_SIGNED, "", ""});
  run(RecordPayment{"P1", "K1", Cny(900'000)});
  EXPECT_EQ(Outstanding(agg.contracts.at("K1")), 0);
  EXPECT_EQ(agg.opportunities.at("O1").stage, v1::FUNNEL_STAGE_CONTRACT_SIGNED);
  EXPECT_EQ(agg.quotes.at("Q1").contract_id, "K1");
}

// ---- Customer-level commands ----

namespace cust {

RegisterCustomer Reg(const std::string& name) {
  RegisterCustomer r;
  r.profile.set_name(name);
  r.profile.set_kind(v1::CUSTOMER_KIND_CUSTOMER);
  return r;
}

AddContact Contact(const std::string& id) {
  AddContact c;
  c.contact.set_contact_id(id);
  c.contact.set_name("Li Lei");
  return c;
}

LogVisit Visit(const std::string& id, const std::string& contact) {
  LogVisit v;
  v.visit.set_visit_id(id);
  v.visit.set_channel(v1::VISIT_CHANNEL_ONSITE);
  v.visit.set_outcome(v1::VISIT_OUTCOME_INTERESTED);
  v.visit.set_contact_id(contact);
  return v;
}

RecordSurvey Survey(const std::string& id, int csat) {
  RecordSurvey s;
  s.survey.set_survey_id(id);
  s.survey.set_csat(csat);
  return s;
}

// Decides and evolves; returns the decision's status.
absl::Status Run(CustomerAggregate& agg, const Command& cmd, absl::Time now = kT0) {
  absl::StatusOr<v1::Event> e = Decide(agg, cmd, now, {});
  if (!e.ok()) return e.status();
  return Evolve(agg, *e);
}

}  // namespace cust

TEST(CustomerCommands, RegisterOnceThenAlreadyExists) {
  CustomerAggregate agg;
  agg.customer_id = "C1";
  absl::StatusOr<v1::Event> e = Decide(agg, cust::Reg("Acme"), kT0, {});
  ASSERT_OK(e);
  EXPECT_EQ(e->customer_id(), "C1");
  EXPECT_EQ(e->customer_registered().name(), "Acme");
  ASSERT_OK(Evolve(agg, *e));
  EXPECT_TRUE(agg.registered);
  EXPECT_THAT(cust::Run(agg, cust::Reg("Acme")),
              StatusIs(StatusCode::kAlreadyExists, "customer 'C1' is already registered"));
}

TEST(CustomerCommands, RegisterFieldsAreChecked) {
  CustomerAggregate agg;
  agg.customer_id = "C1";
  EXPECT_THAT(cust::Run(agg, cust::Reg("")),
              StatusIs(StatusCode::kInvalidArgument, "name is required"));
  RegisterCustomer no_kind = cust::Reg("Acme");
  no_kind.profile.set_kind(v1::CUSTOMER_KIND_UNSPECIFIED);
  EXPECT_THAT(cust::Run(agg, no_kind), StatusIs(StatusCode::kInvalidArgument, "kind is required"));
  RegisterCustomer usd = cust::Reg("Acme");
  usd.profile.mutable_budget()->set_units(5);
  usd.profile.mutable_budget()->set_currency("USD");
  EXPECT_THAT(cust::Run(agg, usd),
              StatusIs(StatusCode::kInvalidArgument, StartsWith("budget.currency must be CNY")));
  EXPECT_FALSE(agg.registered);
}

TEST(CustomerCommands, EveryOtherCommandNeedsARegisteredCustomer) {
  CustomerAggregate agg;
  agg.customer_id = "C1";
  UpdateProfile update;
  update.changes.set_region("East");
  const std::vector<std::pair<std::string, Command>> cmds = {
      {"UpdateProfile", update},
      {"AddContact", cust::Contact("P1")},
      {"LogVisit", cust::Visit("V1", "")},
      {"RecordSurvey", cust::Survey("S1", 4)},
      {"RecordReferral", RecordReferral{"C2"}},
      {"MarkLost", MarkLost{"moved away"}},
  };
  for (const auto& [name, cmd] : cmds) {
    EXPECT_THAT(cust::Run(agg, cmd),
                StatusIs(StatusCode::kFailedPrecondition, "customer 'C1' is not registered"))
        << name;
  }
}

TEST(CustomerCommands, UpdateProfileNeedsAChange) {
  CustomerAggregate agg = Registered();
  EXPECT_THAT(cust::Run(agg, UpdateProfile{}),
              StatusIs(StatusCode::kInvalidArgument, "changes: at least one field must be set"));
  UpdateProfile empty_name;
  empty_name.changes.set_name("");
  EXPECT_THAT(cust::Run(agg, empty_name),
              StatusIs(StatusCode::kInvalidArgument, "name must not be empty"));
  UpdateProfile need;
  need.changes.set_need(v1::NEED_HIGH);
  EXPECT_OK(cust::Run(agg, need));
}

TEST(CustomerCommands, ContactsAndVisits) {
  CustomerAggregate agg = Registered();
  // A visit naming an unknown contact is NOT_FOUND; without a contact it is fine.
  EXPECT_THAT(cust::Run(agg, cust::Visit("V1", "P1")),
              StatusIs(StatusCode::kNotFound, "contact P1 not found"));
  EXPECT_OK(cust::Run(agg, cust::Visit("V1", "")));
  EXPECT_THAT(cust::Run(agg, cust::Visit("V1", "")),
              StatusIs(StatusCode::kAlreadyExists, "visit V1 already exists"));
  ASSERT_OK(cust::Run(agg, cust::Contact("P1")));
  EXPECT_THAT(cust::Run(agg, cust::Contact("P1")),
              StatusIs(StatusCode::kAlreadyExists, "contact P1 already exists"));
  EXPECT_OK(cust::Run(agg, cust::Visit("V2", "P1")));
  LogVisit no_channel = cust::Visit("V3", "");
  no_channel.visit.set_channel(v1::VISIT_CHANNEL_UNSPECIFIED);
  EXPECT_THAT(cust::Run(agg, no_channel),
              StatusIs(StatusCode::kInvalidArgument, "channel is required"));
  LogVisit no_outcome = cust::Visit("V3", "");
  no_outcome.visit.set_outcome(v1::VISIT_OUTCOME_UNSPECIFIED);
  EXPECT_THAT(cust::Run(agg, no_outcome),
              StatusIs(StatusCode::kInvalidArgument, "outcome is required"));
  EXPECT_EQ(agg.visit_ids.size(), 2u);
}

TEST(CustomerCommands, SurveyScoreBoundaries) {
  CustomerAggregate agg = Registered();
  EXPECT_THAT(cust::Run(agg, cust::Survey("S0", 0)),
              StatusIs(StatusCode::kInvalidArgument, "csat must be 1..5, got 0"));
  EXPECT_THAT(cust::Run(agg, cust::Survey("S6", 6)),
              StatusIs(StatusCode::kInvalidArgument, "csat must be 1..5, got 6"));
  EXPECT_OK(cust::Run(agg, cust::Survey("S1", 1)));
  EXPECT_OK(cust::Run(agg, cust::Survey("S5", 5)));
  EXPECT_THAT(cust::Run(agg, cust::Survey("S5", 5)),
              StatusIs(StatusCode::kAlreadyExists, "survey S5 already exists"));
  RecordSurvey nps = cust::Survey("S7", 3);
  nps.survey.set_nps(11);
  EXPECT_THAT(cust::Run(agg, nps),
              StatusIs(StatusCode::kInvalidArgument, "nps must be 0..10, got 11"));
  nps.survey.set_nps(10);
  EXPECT_OK(cust::Run(agg, nps));
  nps.survey.set_survey_id("S8");
  nps.survey.set_nps(0);
  EXPECT_OK(cust::Run(agg, nps));
}

TEST(CustomerCommands, ReferralOfSelfIsRefused) {
  CustomerAggregate agg = Registered();
  EXPECT_THAT(
      cust::Run(agg, RecordReferral{"C1"}),
      StatusIs(StatusCode::kInvalidArgument, "referred_customer_id must differ from customer_id"));
  EXPECT_THAT(cust::Run(agg, RecordReferral{""}),
              StatusIs(StatusCode::kInvalidArgument, "referred_customer_id is required"));
  EXPECT_OK(cust::Run(agg, RecordReferral{"C2"}));
}

TEST(CustomerCommands, MarkLostOnceUntilTheNextContract) {
  CustomerAggregate agg = Registered();
  ASSERT_OK(cust::Run(agg, MarkLost{"budget cut"}));
  EXPECT_THAT(cust::Run(agg, MarkLost{"again"}),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("is already marked lost")));
  // A new contract (win-back) makes the customer active again.
  SignC(agg, "K1", 100, kT0 + kDay);
  EXPECT_OK(cust::Run(agg, MarkLost{"gone again"}, kT0 + 2 * kDay));
}

TEST(Decide, OptionalMoneyLeftEmptyStaysUnset) {
  CustomerAggregate agg = Registered();
  absl::StatusOr<v1::Event> q =
      Decide(agg, IssueQuote{"Q1", "", Cny(5), {}, {}, kT0 + kDay}, kT0, {});
  ASSERT_OK(q);
  EXPECT_FALSE(q->quote_issued().has_list_amount());
  EXPECT_FALSE(q->quote_issued().has_cost());
  q = Decide(agg, IssueQuote{"Q1", "", Cny(5), Cny(7), Cny(3), kT0 + kDay}, kT0, {});
  ASSERT_OK(q);
  EXPECT_EQ(q->quote_issued().list_amount().units(), 7);
  EXPECT_EQ(q->quote_issued().cost().units(), 3);
}

}  // namespace
}  // namespace custops::domain
