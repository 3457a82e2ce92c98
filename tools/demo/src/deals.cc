// PartySim, prospects and deals: a prospect's warming up (or not), each
// opportunity's way through the funnel with visits, quotes and competitors,
// the signed contract and the payments it brings.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "custops/v1/events.pb.h"
#include "party_sim.h"
#include "vocabulary.h"

namespace custops::demo::internal {

void PartySim::RunProspect() {
  fate_ = static_cast<Fate>(rng_.Weighted({24, 36, 14, 13, 13}));
  payer_ = fate_ == Fate::kChurner  ? static_cast<Payer>(rng_.Weighted({40, 20, 25, 15}))
           : fate_ == Fate::kSilent ? Payer::kPrompt
                                    : static_cast<Payer>(rng_.Weighted({65, 20, 10, 5}));
  // Referred customers and the existing book come warm.
  const bool warm = party_.referred || party_.established;
  const int cold = warm ? 5 : 20;
  const int dormant = warm ? 5 : 12;
  const size_t archetype = rng_.Weighted({cold, dormant, 100 - cold - dormant});
  Wait(1, 20);
  if (archetype == 0) {  // cold: never warms up
    const int visits = static_cast<int>(rng_.Between(0, 2));
    for (int i = 0; i < visits && !Over(); ++i) {
      Visit(t_, rng_.Chance(50) ? v1::VISIT_OUTCOME_NEUTRAL : v1::VISIT_OUTCOME_NOT_INTERESTED);
      Wait(10, 60);
    }
    return;
  }
  if (archetype == 1) {  // dormant lead: interested once, then silence
    if (rng_.Chance(50)) {
      Visit(t_, v1::VISIT_OUTCOME_NEUTRAL);
      Wait(5, 30);
    }
    Visit(t_, v1::VISIT_OUTCOME_INTERESTED);
    return;
  }
  Visit(t_, rng_.Chance(60) ? v1::VISIT_OUTCOME_INTERESTED : v1::VISIT_OUTCOME_NEUTRAL);
  DealKind kind = DealKind::kFirst;
  for (int attempt = 0; attempt < 3 && !Over(); ++attempt) {
    Contract contract;
    const DealResult result = RunDeal(kind, kNever, contract);
    if (result == DealResult::kWon) {
      RunAccount(contract);
      return;
    }
    if (result == DealResult::kOpen || !rng_.Chance(35)) return;
    // Lost, but the rep tries again later.
    Wait(60, 200);
    Visit(t_, rng_.Chance(70) ? v1::VISIT_OUTCOME_INTERESTED : v1::VISIT_OUTCOME_NEUTRAL);
    kind = DealKind::kRetry;
  }
}

int64_t PartySim::DealAmountFen(DealKind kind) {
  int64_t yuan = budget_yuan_ * rng_.Between(30, 110) / 100;
  if (kind == DealKind::kUpsell) yuan = yuan * rng_.Between(20, 50) / 100;
  yuan = std::max<int64_t>(yuan / 100 * 100, 5'000);
  return yuan * 100;
}

void PartySim::StageChanged(const std::string& opportunity, v1::FunnelStage stage,
                            const std::string& competitor, const std::string& reason) {
  v1::Event& e = Emit(t_);
  v1::OpportunityStageChanged* s = e.mutable_opportunity_stage_changed();
  s->set_opportunity_id(opportunity);
  s->set_stage(stage);
  s->set_competitor(competitor);
  s->set_reason(reason);
}

void PartySim::Lose(const std::string& opportunity, int stage) {
  const char* reason = rng_.Pick(kLossReasons);
  const std::string competitor = rng_.Chance(stage >= 4 ? 80 : 55) ? rng_.Pick(kCompetitors) : "";
  Wait(5, 30);
  StageChanged(opportunity, v1::FUNNEL_STAGE_LOST, competitor,
               competitor.empty() ? reason : "客户选择了竞品");
}

PartySim::Quote PartySim::IssueQuote(const std::string& opportunity, int64_t amount) {
  Quote q;
  q.id = NextId("quote", quotes_count_);
  q.amount = amount;
  q.cost = amount * rng_.Between(30, 60) / 100;
  const int64_t discount = rng_.Between(0, 30);  // percent
  const int64_t list = (amount * 100 / (100 - discount) + 9'999) / 10'000 * 10'000;
  v1::Event& e = Emit(t_);
  v1::QuoteIssued* qi = e.mutable_quote_issued();
  qi->set_quote_id(q.id);
  qi->set_opportunity_id(opportunity);
  SetMoney(qi->mutable_amount(), q.amount);
  SetMoney(qi->mutable_list_amount(), std::max(list, amount));
  SetMoney(qi->mutable_cost(), q.cost);
  SetTime(qi->mutable_valid_until(), Midnight(DayOf(t_) + 31));
  return q;
}

void PartySim::RejectQuote(const Quote& q, const char* reason, const std::string& competitor) {
  v1::Event& e = Emit(t_);
  v1::QuoteRejected* r = e.mutable_quote_rejected();
  r->set_quote_id(q.id);
  r->set_reason(reason);
  r->set_competitor(competitor);
}

DealResult PartySim::RunDeal(DealKind kind, int64_t co_term_end, Contract& contract) {
  Wait(3, 20);
  const std::string opp = NextId("opp", opps_count_);
  const int64_t amount = DealAmountFen(kind);
  const char* product = kind == DealKind::kUpsell
                            ? (rng_.Chance(50) ? "实施与培训服务" : "营销自动化")
                            : kProducts[rng_.PickWeightedIndex(kProducts)].name;
  {
    v1::Event& e = Emit(t_);
    v1::OpportunityOpened* o = e.mutable_opportunity_opened();
    o->set_opportunity_id(opp);
    SetMoney(o->mutable_amount(), amount);
    o->set_product(product);
    SetTime(o->mutable_expected_close(), Midnight(DayOf(t_) + rng_.Between(30, 120)));
  }
  size_t fate = 0;  // 0 won, 1 lost, 2 stalled
  switch (kind) {
    case DealKind::kFirst:
      fate = party_.established ? rng_.Weighted({75, 15, 10}) : rng_.Weighted({50, 30, 20});
      break;
    case DealKind::kRetry:
      fate = rng_.Weighted({45, 35, 20});
      break;
    case DealKind::kUpsell:
      fate = rng_.Weighted({60, 20, 20});
      break;
    case DealKind::kWinBack:
      fate = rng_.Weighted({70, 20, 10});
      break;
  }
  // The stage where a lost deal is lost, or the last one a stalled deal
  // reaches.
  const int stop = fate == 1   ? static_cast<int>(2 + rng_.Weighted({15, 20, 15, 50}))
                   : fate == 2 ? static_cast<int>(1 + rng_.Weighted({25, 30, 20, 15, 10}))
                               : 7;
  auto stalled = [&](int stage) {
    if (fate != 2 || stage <= stop) return false;
    // Half of the stale opportunities are closed by the rep in a clean-up.
    if (rng_.Chance(50)) {
      Wait(60, 150);
      StageChanged(opp, v1::FUNNEL_STAGE_LOST, "", "长期无进展，关闭商机");
      return true;
    }
    return true;
  };

  if (stalled(2)) return DealResult::kOpen;
  Wait(3, 15);
  Visit(t_, v1::VISIT_OUTCOME_INTERESTED, true,
        rng_.Chance(60) ? v1::VISIT_CHANNEL_ONSITE : v1::VISIT_CHANNEL_MEETING);
  Later(30, 240);
  StageChanged(opp, v1::FUNNEL_STAGE_FIRST_VISIT);
  if (fate == 1 && stop == 2) {
    Lose(opp, 2);
    return DealResult::kLost;
  }

  if (stalled(3)) return DealResult::kOpen;
  Wait(5, 20);
  Visit(t_, v1::VISIT_OUTCOME_NEED_CONFIRMED, rng_.Chance(75));
  if (kind != DealKind::kUpsell && rng_.Chance(25)) {
    Later(30, 180);
    v1::Event& e = Emit(t_);
    v1::CustomerProfileUpdated* u = e.mutable_customer_profile_updated();
    u->set_need(v1::NEED_HIGH);
    budget_yuan_ = budget_yuan_ * rng_.Between(110, 150) / 100 / 1000 * 1000;
    SetMoney(u->mutable_budget(), budget_yuan_ * 100);
  }
  Later(30, 240);
  StageChanged(opp, v1::FUNNEL_STAGE_NEED_CONFIRMED);
  if (fate == 1 && stop == 3) {
    Lose(opp, 3);
    return DealResult::kLost;
  }

  if (stalled(4)) return DealResult::kOpen;
  Wait(5, 25);
  if (rng_.Chance(50)) {
    Visit(t_, v1::VISIT_OUTCOME_INTERESTED, true, v1::VISIT_CHANNEL_MEETING);
    Later(60, 300);
  }
  StageChanged(opp, v1::FUNNEL_STAGE_PROPOSAL_ACCEPTED, "", "方案评审通过");
  if (fate == 1 && stop == 4) {
    Lose(opp, 4);
    return DealResult::kLost;
  }

  if (stalled(5)) return DealResult::kOpen;
  Wait(3, 15);
  Quote quote = IssueQuote(opp, amount);
  Later(10, 120);
  StageChanged(opp, v1::FUNNEL_STAGE_COMMERCIAL_TERMS);
  if (fate != 2 && rng_.Chance(25)) {  // a price objection, then a better offer
    Wait(3, 10);
    RejectQuote(quote, "价格高于预算", "");
    Wait(1, 7);
    quote = IssueQuote(opp, quote.amount * rng_.Between(88, 97) / 100 / 100 * 100);
  }
  if (fate == 1) {
    Wait(3, 20);
    const std::string competitor = rng_.Chance(70) ? rng_.Pick(kCompetitors) : "";
    const char* reason = competitor.empty() ? rng_.Pick(kQuoteRejectReasons) : "竞品报价更低";
    RejectQuote(quote, reason, competitor);
    Later(10, 240);
    StageChanged(opp, v1::FUNNEL_STAGE_LOST, competitor, reason);
    return DealResult::kLost;
  }
  if (fate == 2) {
    // The quote expires unanswered.
    stalled(6);
    return DealResult::kOpen;
  }
  Wait(2, 14);
  {
    v1::Event& e = Emit(t_);
    e.mutable_quote_accepted()->set_quote_id(quote.id);
  }

  Wait(1, 10);
  contract.id = NextId("contract", contracts_count_);
  contract.amount = quote.amount;
  contract.start = Midnight(DayOf(t_) + rng_.Between(0, 14));
  if (co_term_end != kNever && co_term_end - contract.start >= 60 * kDay) {
    contract.end = co_term_end;
    contract.term_days = static_cast<int>((co_term_end - contract.start) / kDay);
  } else {
    static constexpr int kTerms[] = {365, 730, 182};
    // Accounts that will not last mostly start on half-year trials.
    const bool short_lived = fate_ == Fate::kSilent || fate_ == Fate::kChurner;
    contract.term_days =
        short_lived ? (rng_.Chance(70) ? 182 : 365) : kTerms[rng_.Weighted({78, 10, 12})];
    contract.end = contract.start + contract.term_days * kDay;
  }
  static constexpr int kDueDays[] = {30, 15, 60};
  const int64_t due = contract.start + kDueDays[rng_.Weighted({70, 10, 20})] * kDay;
  const int64_t signed_at = t_;
  {
    v1::Event& e = Emit(t_);
    v1::ContractSigned* c = e.mutable_contract_signed();
    c->set_contract_id(contract.id);
    c->set_quote_id(quote.id);
    SetMoney(c->mutable_amount(), quote.amount);
    SetMoney(c->mutable_cost(), quote.cost);
    SetTime(c->mutable_start(), contract.start);
    SetTime(c->mutable_end(), contract.end);
    SetTime(c->mutable_payment_due(), due);
    c->set_product(product);
    c->set_channel(party_.kind == v1::CUSTOMER_KIND_AGENT || channel_ == kAgentChannel ? "代理"
                   : rng_.Chance(80)                                                   ? "直销"
                                                                                       : "线上");
    c->set_opportunity_id(opp);
  }
  Later(5, 60);
  StageChanged(opp, v1::FUNNEL_STAGE_CONTRACT_SIGNED);
  SchedulePayments(contract.id, quote.amount, signed_at, due);
  return DealResult::kWon;
}

void PartySim::SchedulePayments(const std::string& contract, int64_t billed, int64_t billed_at,
                                int64_t due) {
  const int64_t first_day = DayOf(billed_at) + 1;
  const int64_t due_day = std::max(DayOf(due), first_day);
  auto pay = [&](int64_t at, int64_t fen) {
    if (fen <= 0) return;
    v1::Event& e = Emit(at);
    v1::PaymentReceived* p = e.mutable_payment_received();
    p->set_payment_id(NextId("payment", payments_count_));
    p->set_contract_id(contract);
    SetMoney(p->mutable_amount(), fen);
  };
  switch (payer_) {
    case Payer::kPrompt:
      pay(WorkTime(rng_.Between(first_day, due_day)), billed);
      break;
    case Payer::kInstallments: {
      const int64_t first = billed * rng_.Between(30, 60) / 100;
      const int64_t first_at = rng_.Between(first_day, first_day + 10);
      pay(WorkTime(first_at), first);
      pay(WorkTime(std::max(first_at + 1, due_day + rng_.Between(-5, 5))), billed - first);
      break;
    }
    case Payer::kLate:
      pay(WorkTime(due_day + rng_.Between(10, 90)), billed);
      break;
    case Payer::kPartial:
      pay(WorkTime(due_day + rng_.Between(0, 30)), billed * rng_.Between(30, 70) / 100);
      break;
  }
}
}  // namespace custops::demo::internal
