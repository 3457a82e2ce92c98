// PartySim, accounts: a customer's life after its first contract — service
// visits, complaints with their SLAs, satisfaction surveys, new contacts,
// upsells and renewals until its fate plays out (termination, churn, lapse
// through silence) and sometimes a win-back.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "custops/v1/events.pb.h"
#include "party_sim.h"
#include "vocabulary.h"

namespace custops::demo::internal {

void PartySim::RunAccount(Contract main) {
  while (!Over()) {
    const int64_t renewal_at = WorkTime(DayOf(main.end) - rng_.Between(5, 30));
    switch (fate_) {
      case Fate::kSilent: {
        // A little service early on, then nothing: the contract runs out
        // and the customer is lost through silence.
        const int64_t quiet = WorkTime(DayOf(main.start) + rng_.Between(20, 60));
        Service(t_, std::min(quiet, renewal_at));
        MaybeWinBack(main.end);
        return;
      }
      case Fate::kChurner: {
        int64_t churn_at = renewal_at;
        if (rng_.Chance(50) && main.term_days > 150) {
          churn_at = WorkTime(DayOf(main.start) + rng_.Between(60, main.term_days - 45));
        }
        Service(t_, churn_at);
        t_ = std::max(t_, churn_at);
        if (churn_at < renewal_at) {
          v1::Event& e = Emit(t_);
          v1::ContractTerminated* x = e.mutable_contract_terminated();
          x->set_contract_id(main.id);
          x->set_reason(rng_.Pick(kTerminationReasons));
          Later(30, 300);
        }
        {
          v1::Event& e = Emit(t_);
          e.mutable_customer_churned()->set_reason(rng_.Pick(kChurnReasons));
        }
        MaybeWinBack(t_);
        return;
      }
      default:
        break;
    }
    // Growing, stable and declining accounts are served and renew.
    const int64_t period_start = t_;
    Service(period_start, renewal_at);
    const int upsell_chance = fate_ == Fate::kGrower ? 55 : fate_ == Fate::kStable ? 15 : 0;
    if (rng_.Chance(upsell_chance)) {
      const int64_t saved = t_;
      t_ = WorkTime(DayOf(period_start) + rng_.Between(60, 200));
      if (t_ < renewal_at - 45 * kDay) {
        Contract addon;
        RunDeal(DealKind::kUpsell, main.end, addon);
      }
      t_ = saved;
    }
    t_ = std::max(t_, renewal_at);
    if (Over()) return;
    int64_t percent = 100;
    switch (fate_) {
      case Fate::kGrower:
        percent = rng_.Between(115, 160);
        break;
      case Fate::kDecliner:
        percent = renewals_ == 0 ? rng_.Between(40, 65) : rng_.Between(80, 100);
        break;
      default:
        percent = rng_.Between(95, 110);
        break;
    }
    // Whole hundreds of yuan, at least 5,000 yuan.
    const int64_t amount =
        std::max<int64_t>(main.amount * percent / 100 / 10'000 * 10'000, 500'000);
    const int64_t new_end = main.end + main.term_days * kDay;
    {
      v1::Event& e = Emit(t_);
      v1::ContractRenewed* r = e.mutable_contract_renewed();
      r->set_contract_id(main.id);
      SetTime(r->mutable_new_end(), new_end);
      SetMoney(r->mutable_amount(), amount);
      SetMoney(r->mutable_cost(), amount * rng_.Between(30, 55) / 100);
    }
    ++renewals_;
    SchedulePayments(main.id, amount, t_, main.end + 30 * kDay);
    main.amount = amount;
    main.start = main.end;
    main.end = new_end;
  }
}

void PartySim::Service(int64_t from, int64_t until) {
  if (until <= from) return;
  const int64_t last_day = std::min(DayOf(until), DayOf(world_.end) + 1);
  // Visits at the account's cadence.
  for (int64_t day = DayOf(from) + rng_.Between(size_->min_cadence_days, size_->max_cadence_days);
       day < last_day; day += rng_.Between(size_->min_cadence_days, size_->max_cadence_days)) {
    const int64_t at = WorkTime(day);
    if (at >= until) break;
    static constexpr v1::VisitOutcome kOutcomes[] = {
        v1::VISIT_OUTCOME_NEUTRAL, v1::VISIT_OUTCOME_INTERESTED, v1::VISIT_OUTCOME_NEED_CONFIRMED};
    Visit(at, kOutcomes[rng_.Weighted({70, 25, 5})]);
  }
  // Month by month: complaints and the odd new contact.
  const int complaint_rate = fate_ == Fate::kChurner || fate_ == Fate::kDecliner ? 12 : 5;
  for (int64_t day = DayOf(from); day < last_day; day += 30) {
    if (rng_.Chance(complaint_rate)) {
      const int64_t at = WorkTime(day + rng_.Between(0, 29));
      if (at < until) Complaint(at);
    }
    if (rng_.Chance(4)) {
      const int64_t at = WorkTime(day + rng_.Between(0, 29));
      if (at < until) AddContact(at, false);
    }
  }
  // A satisfaction survey per year of service.
  for (int64_t day = DayOf(from) + rng_.Between(60, 150); day < last_day; day += 365) {
    const int64_t at = WorkTime(day);
    if (at >= until || !rng_.Chance(75)) continue;
    int csat = 0;
    switch (fate_) {
      case Fate::kGrower:
        csat = static_cast<int>(rng_.Between(4, 5));
        break;
      case Fate::kDecliner:
        csat = static_cast<int>(rng_.Between(2, 4));
        break;
      case Fate::kChurner:
        csat = static_cast<int>(rng_.Between(1, 3));
        break;
      default:
        csat = static_cast<int>(rng_.Between(3, 5));
        break;
    }
    csat = std::max(1, csat - std::min(complaints_count_, 2) / 2);
    v1::Event& e = Emit(at);
    v1::SatisfactionSurveyed* s = e.mutable_satisfaction_surveyed();
    s->set_survey_id(NextId("survey", surveys_count_));
    s->set_csat(csat);
    if (rng_.Chance(60)) {
      static constexpr int kNpsLow[] = {0, 0, 2, 5, 7, 9};
      static constexpr int kNpsHigh[] = {0, 3, 5, 7, 9, 10};
      s->set_nps(static_cast<int32_t>(rng_.Between(kNpsLow[csat], kNpsHigh[csat])));
    }
  }
}

void PartySim::Complaint(int64_t at) {
  static constexpr v1::Severity kSeverities[] = {v1::SEVERITY_LOW, v1::SEVERITY_MEDIUM,
                                                 v1::SEVERITY_HIGH, v1::SEVERITY_CRITICAL};
  const size_t s = rng_.Weighted({35, 35, 22, 8});
  // Minutes to respond and to resolve: {ok lo, ok hi, breach lo, breach hi}
  // per severity (SLA: LOW 72 h / 14 d, MEDIUM 24 h / 7 d, HIGH 4 h / 72 h,
  // CRITICAL 1 h / 24 h).
  static constexpr int64_t kRespond[4][4] = {
      {120, 4'200, 4'400, 7'200}, {60, 1'380, 1'500, 2'880}, {20, 230, 300, 600}, {5, 55, 70, 240}};
  static constexpr int64_t kResolve[4][4] = {{2'880, 18'720, 20'400, 28'800},
                                             {1'440, 9'360, 10'200, 15'600},
                                             {360, 4'200, 4'500, 7'200},
                                             {120, 1'320, 1'560, 3'600}};
  const bool respond_late = rng_.Chance(12);
  const bool resolve_late = rng_.Chance(12);
  const int64_t respond =
      rng_.Between(kRespond[s][respond_late ? 2 : 0], kRespond[s][respond_late ? 3 : 1]) * kMinute;
  const int64_t resolve = std::max(
      rng_.Between(kResolve[s][resolve_late ? 2 : 0], kResolve[s][resolve_late ? 3 : 1]) * kMinute,
      respond + 30 * kMinute);
  static constexpr v1::ComplaintCategory kCategories[] = {
      v1::COMPLAINT_CATEGORY_PRODUCT, v1::COMPLAINT_CATEGORY_SERVICE,
      v1::COMPLAINT_CATEGORY_DELIVERY, v1::COMPLAINT_CATEGORY_BILLING,
      v1::COMPLAINT_CATEGORY_ATTITUDE};
  const v1::ComplaintCategory category = kCategories[rng_.Weighted({35, 25, 15, 15, 10})];
  const std::string id = NextId("complaint", complaints_count_);
  {
    v1::Event& e = Emit(at);
    v1::ComplaintFiled* f = e.mutable_complaint_filed();
    f->set_complaint_id(id);
    f->set_category(category);
    f->set_severity(kSeverities[s]);
    f->set_channel(rng_.Pick(kComplaintChannels));
    f->set_description(kComplaintDescriptions[category]);
  }
  {
    v1::Event& e = Emit(at + respond);
    v1::ComplaintResponded* r = e.mutable_complaint_responded();
    r->set_complaint_id(id);
    r->set_note(rng_.Pick(kResponseNotes));
  }
  const bool satisfied = rng_.Chance(respond_late || resolve_late ? 55 : 85);
  int64_t resolved_at = at + resolve;
  {
    v1::Event& e = Emit(resolved_at);
    v1::ComplaintResolved* r = e.mutable_complaint_resolved();
    r->set_complaint_id(id);
    r->set_resolution(rng_.Pick(kResolutions));
    r->set_satisfied(satisfied);
  }
  if (rng_.Chance(satisfied ? 4 : 25)) {
    const int64_t reopened_at = resolved_at + rng_.Between(1, 5) * kDay;
    {
      v1::Event& e = Emit(reopened_at);
      v1::ComplaintReopened* r = e.mutable_complaint_reopened();
      r->set_complaint_id(id);
      r->set_reason(rng_.Pick(kReopenReasons));
    }
    v1::Event& e = Emit(reopened_at + rng_.Between(1, 4) * kDay);
    v1::ComplaintResolved* r = e.mutable_complaint_resolved();
    r->set_complaint_id(id);
    r->set_resolution(rng_.Pick(kResolutions));
    r->set_satisfied(rng_.Chance(70));
  }
}

void PartySim::MaybeWinBack(int64_t lapsed_at) {
  const bool churned = fate_ == Fate::kChurner;
  if (won_back_ || !rng_.Chance(churned ? 40 : 20)) return;
  won_back_ = true;
  t_ = WorkTime(DayOf(std::max(t_, lapsed_at)) +
                (churned ? rng_.Between(45, 150) : rng_.Between(120, 320)));
  if (Over()) return;
  Visit(t_, v1::VISIT_OUTCOME_INTERESTED, true);
  Contract contract;
  if (RunDeal(DealKind::kWinBack, kNever, contract) != DealResult::kWon) return;
  fate_ = rng_.Chance(60) ? Fate::kStable : Fate::kGrower;
  renewals_ = 0;
  RunAccount(contract);
}
}  // namespace custops::demo::internal
