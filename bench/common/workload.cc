#include "common/workload.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <random>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "custops/event/time.h"

namespace custops::bench {
namespace {

constexpr const char* kRegions[] = {"East",    "North",     "South",    "West",
                                    "Central", "Northeast", "Southwest"};
constexpr const char* kIndustries[] = {"retail",    "manufacturing", "finance", "healthcare",
                                       "education", "logistics",     "energy",  "government"};
constexpr const char* kChannels[] = {"web", "referral", "trade_show", "partner", "cold_call"};
constexpr const char* kSizes[] = {"1-50", "50-200", "200-1000", "1000+"};
constexpr const char* kProducts[] = {"crm-basic", "crm-pro", "analytics", "support-suite"};
constexpr const char* kCompetitors[] = {"Acme", "Globex", "Initech"};

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

constexpr absl::Duration kDay = absl::Hours(24);

// Builds one customer's events. The cursor only moves forward, so the story
// is in time order; an event past `end` stops the story.
class Story {
 public:
  Story(const WorkloadOptions& options, int64_t n, std::vector<v1::Event>& out)
      : options_(options),
        customer_id_(CustomerId(options, n)),
        rng_(SplitMix64(options.seed * 0x100000001b3ULL + static_cast<uint64_t>(n))),
        out_(out) {}

  void Tell() {
    const int64_t span_days = std::max<int64_t>(1, absl::ToInt64Hours(options_.span) / 24 - 30);
    t_ = options_.end - options_.span + kDay * Uniform(0, span_days - 1) +
         absl::Minutes(Uniform(0, 24 * 60 - 1));
    owner_ = absl::StrFormat("rep-%02d", Uniform(1, std::max(1, options_.owners)));
    const int64_t kind_roll = Uniform(1, 100);
    const v1::CustomerKind kind = kind_roll <= 88   ? v1::CUSTOMER_KIND_CUSTOMER
                                  : kind_roll <= 94 ? v1::CUSTOMER_KIND_AGENT
                                  : kind_roll <= 96 ? v1::CUSTOMER_KIND_SUPPLIER
                                  : kind_roll <= 99 ? v1::CUSTOMER_KIND_PARTNER
                                                    : v1::CUSTOMER_KIND_COMPETITOR;
    Register(kind);
    if (!options_.full_history) return;

    contacts_ = Chance(40) ? 2 : 1;
    for (int i = 0; i < contacts_ && Advance(0, 3); ++i) AddContact(i);
    if (kind != v1::CUSTOMER_KIND_CUSTOMER && kind != v1::CUSTOMER_KIND_AGENT) {
      for (int i = Uniform(1, 2); i > 0 && Advance(5, 60); --i) Visit();
      return;
    }
    // Prospecting.
    for (int i = Uniform(1, 4); i > 0 && Advance(3, 30); --i) Visit();
    if (Chance(10) && Advance(1, 20)) UpdateProfile();
    const bool won = Chance(65) && Advance(1, 20) && Pursue();
    if (!won) {
      // A lead that went nowhere: a few more touches, then silence.
      for (int i = Uniform(0, 3); i > 0 && Advance(30, 90); --i) Visit();
      if (Chance(5) && Advance(5, 60)) Complain();
      return;
    }
    // Account management until the end of the history (or churn).
    while (Advance(4, 20)) {
      RenewOrLapse();
      const int64_t roll = Uniform(1, 100);
      if (roll <= 40) {
        Visit();
      } else if (roll <= 62) {
        Pay();
      } else if (roll <= 70) {
        Complain();
      } else if (roll <= 74) {
        Survey();
      } else if (roll <= 78) {
        Pursue();  // an upsell: another opportunity through the funnel
      } else if (roll <= 79) {
        Refer(n_other());
      } else if (roll <= 80) {
        Churn();
        return;
      }
    }
  }

 private:
  int64_t Uniform(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  bool Chance(int percent) { return Uniform(1, 100) <= percent; }
  // Moves the cursor by lo..hi days (plus a few hours so no two events of a
  // customer share an instant); false when that is past the end.
  bool Advance(int64_t lo_days, int64_t hi_days) {
    t_ += kDay * Uniform(lo_days, hi_days) + absl::Hours(Uniform(1, 8));
    return t_ <= options_.end;
  }
  int64_t n_other() { return Uniform(0, 999'999); }

  v1::Money Money(int64_t units) {
    v1::Money m;
    m.set_units(units);
    m.set_currency(options_.currency);
    return m;
  }
  std::string NextId(const char* kind) { return absl::StrCat(customer_id_, "-", kind, ++ids_); }
  v1::Event& Emit() {
    v1::Event& e = out_.emplace_back();
    e.set_event_id(absl::StrCat(customer_id_, "-", ++events_));
    e.set_customer_id(customer_id_);
    *e.mutable_occurred_at() = event::ToProto(t_);
    e.set_source("bench");
    e.set_actor_id(owner_);
    return e;
  }

  void Register(v1::CustomerKind kind) {
    auto* r = Emit().mutable_customer_registered();
    r->set_name(absl::StrCat("Company ", customer_id_));
    r->set_kind(kind);
    r->set_industry(kIndustries[Uniform(0, std::size(kIndustries) - 1)]);
    r->set_region(kRegions[Uniform(0, std::size(kRegions) - 1)]);
    r->set_owner_id(owner_);
    r->set_channel(kChannels[Uniform(0, std::size(kChannels) - 1)]);
    r->set_size(kSizes[Uniform(0, std::size(kSizes) - 1)]);
    *r->mutable_budget() = Money(Uniform(1, 500) * 100'000);
    r->set_need(static_cast<v1::Need>(Uniform(v1::NEED_NONE, v1::NEED_HIGH)));
  }
  void AddContact(int i) {
    auto* c = Emit().mutable_contact_added();
    c->set_contact_id(absl::StrCat(customer_id_, "-contact", i));
    c->set_name(absl::StrCat("Contact ", i));
    c->set_role(i == 0 && Chance(60) ? v1::CONTACT_ROLE_DECISION_MAKER
                                     : static_cast<v1::ContactRole>(Uniform(2, 5)));
    if (Chance(50)) {
      v1::Date* b = c->mutable_birthday();
      b->set_year(static_cast<int32_t>(Uniform(1960, 1995)));
      b->set_month(static_cast<int32_t>(Uniform(1, 12)));
      b->set_day(static_cast<int32_t>(Uniform(1, 28)));
    }
  }
  void Visit() {
    auto* v = Emit().mutable_visit_logged();
    v->set_visit_id(NextId("visit"));
    v->set_channel(static_cast<v1::VisitChannel>(Uniform(1, 5)));
    if (Chance(70))
      v->set_contact_id(absl::StrCat(customer_id_, "-contact", Uniform(0, contacts_ - 1)));
    const int64_t roll = Uniform(1, 100);
    v->set_outcome(roll <= 45   ? v1::VISIT_OUTCOME_NEUTRAL
                   : roll <= 75 ? v1::VISIT_OUTCOME_INTERESTED
                   : roll <= 90 ? v1::VISIT_OUTCOME_NEED_CONFIRMED
                                : v1::VISIT_OUTCOME_NOT_INTERESTED);
    if (Chance(30)) v->set_note("discussed roadmap and pricing");
  }
  void UpdateProfile() {
    auto* u = Emit().mutable_customer_profile_updated();
    owner_ = absl::StrFormat("rep-%02d", Uniform(1, std::max(1, options_.owners)));
    u->set_owner_id(owner_);
    if (Chance(50)) u->set_need(v1::NEED_HIGH);
  }
  void StageChange(const std::string& opportunity, v1::FunnelStage stage) {
    auto* s = Emit().mutable_opportunity_stage_changed();
    s->set_opportunity_id(opportunity);
    s->set_stage(stage);
    if (stage == v1::FUNNEL_STAGE_LOST) {
      s->set_competitor(kCompetitors[Uniform(0, std::size(kCompetitors) - 1)]);
      s->set_reason("price");
    }
  }
  // Opportunity -> funnel -> quote -> contract; payments and renewals come later.
  // Returns true when a contract was signed.
  bool Pursue() {
    const std::string opportunity = NextId("opp");
    const int64_t amount = Uniform(50, 2000) * 100'000;
    {
      auto* o = Emit().mutable_opportunity_opened();
      o->set_opportunity_id(opportunity);
      *o->mutable_amount() = Money(amount);
      o->set_product(kProducts[Uniform(0, std::size(kProducts) - 1)]);
      *o->mutable_expected_close() = event::ToProto(t_ + kDay * 90);
    }
    if (!Advance(3, 20)) return false;
    StageChange(opportunity, v1::FUNNEL_STAGE_FIRST_VISIT);
    if (Chance(25)) {
      if (Chance(50) && Advance(5, 40)) StageChange(opportunity, v1::FUNNEL_STAGE_LOST);
      return false;
    }
    if (!Advance(3, 30)) return false;
    StageChange(opportunity, v1::FUNNEL_STAGE_NEED_CONFIRMED);
    if (!Advance(3, 30)) return false;
    const std::string quote = NextId("quote");
    const int64_t quoted = amount * Uniform(80, 100) / 100;
    {
      auto* q = Emit().mutable_quote_issued();
      q->set_quote_id(quote);
      q->set_opportunity_id(opportunity);
      *q->mutable_amount() = Money(quoted);
      *q->mutable_list_amount() = Money(amount);
      *q->mutable_cost() = Money(quoted * 55 / 100);
      *q->mutable_valid_until() = event::ToProto(t_ + kDay * 30);
    }
    if (!Advance(1, 20)) return false;
    if (Chance(35)) {
      auto* r = Emit().mutable_quote_rejected();
      r->set_quote_id(quote);
      r->set_reason("budget");
      r->set_competitor(kCompetitors[Uniform(0, std::size(kCompetitors) - 1)]);
      if (Advance(0, 5)) StageChange(opportunity, v1::FUNNEL_STAGE_LOST);
      return false;
    }
    Emit().mutable_quote_accepted()->set_quote_id(quote);
    if (!Advance(1, 10)) return false;
    const std::string contract = NextId("contract");
    const absl::Time start = t_;
    const absl::Time end = start + kDay * 365;
    {
      auto* c = Emit().mutable_contract_signed();
      c->set_contract_id(contract);
      c->set_quote_id(quote);
      c->set_opportunity_id(opportunity);
      *c->mutable_amount() = Money(quoted);
      *c->mutable_cost() = Money(quoted * 55 / 100);
      *c->mutable_start() = event::ToProto(start);
      *c->mutable_end() = event::ToProto(end);
      *c->mutable_payment_due() = event::ToProto(start + kDay * 30);
      c->set_product("crm-pro");
      c->set_channel("direct");
    }
    if (Advance(0, 2)) StageChange(opportunity, v1::FUNNEL_STAGE_CONTRACT_SIGNED);
    contracts_.push_back({.id = contract, .amount = quoted, .end = end});
    return true;
  }
  // Pays part of the oldest contract with an outstanding amount.
  void Pay() {
    for (Contract& c : contracts_) {
      if (c.paid >= c.amount) continue;
      const int64_t amount = std::max<int64_t>(1, std::min(c.amount - c.paid, c.amount / 6 + 1));
      c.paid += amount;
      auto* p = Emit().mutable_payment_received();
      p->set_payment_id(NextId("pay"));
      p->set_contract_id(c.id);
      *p->mutable_amount() = Money(amount);
      return;
    }
    Visit();
  }
  // A contract about to end is renewed (60%), terminated (5%) or left to lapse.
  void RenewOrLapse() {
    for (Contract& c : contracts_) {
      if (c.done || t_ < c.end - kDay * 30) continue;
      c.done = true;
      const int64_t roll = Uniform(1, 100);
      if (roll <= 60) {
        c.end += kDay * 365;
        c.done = false;
        c.paid = 0;
        c.amount = c.amount * Uniform(90, 130) / 100;
        auto* r = Emit().mutable_contract_renewed();
        r->set_contract_id(c.id);
        *r->mutable_new_end() = event::ToProto(c.end);
        *r->mutable_amount() = Money(c.amount);
        *r->mutable_cost() = Money(c.amount / 2);
      } else if (roll <= 65) {
        auto* x = Emit().mutable_contract_terminated();
        x->set_contract_id(c.id);
        x->set_reason("budget cut");
      }
      return;
    }
  }
  void Survey() {
    auto* s = Emit().mutable_satisfaction_surveyed();
    s->set_survey_id(NextId("survey"));
    s->set_csat(static_cast<int32_t>(Uniform(1, 5)));
    if (Chance(60)) s->set_nps(static_cast<int32_t>(Uniform(0, 10)));
  }
  void Refer(int64_t other) {
    std::string referred = CustomerId(options_, other);
    if (referred == customer_id_) referred = CustomerId(options_, other + 1);
    Emit().mutable_referral_made()->set_referred_customer_id(referred);
  }
  void Churn() { Emit().mutable_customer_churned()->set_reason("moved to a competitor"); }
  void Complain() {
    const std::string complaint = NextId("complaint");
    {
      auto* c = Emit().mutable_complaint_filed();
      c->set_complaint_id(complaint);
      c->set_category(static_cast<v1::ComplaintCategory>(Uniform(1, 5)));
      c->set_severity(static_cast<v1::Severity>(Uniform(1, 4)));
      c->set_channel("phone");
      c->set_description("service interruption");
    }
    if (Chance(90) && Advance(0, 2)) {
      Emit().mutable_complaint_responded()->set_complaint_id(complaint);
      if (Chance(80) && Advance(1, 10)) {
        auto* r = Emit().mutable_complaint_resolved();
        r->set_complaint_id(complaint);
        r->set_resolution("fixed");
        r->set_satisfied(Chance(75));
      }
    }
  }

  const WorkloadOptions& options_;
  const std::string customer_id_;
  std::mt19937_64 rng_;
  std::vector<v1::Event>& out_;
  struct Contract {
    std::string id;
    int64_t amount = 0;
    absl::Time end;
    int64_t paid = 0;
    bool done = false;
  };

  absl::Time t_;
  std::string owner_;
  int contacts_ = 1;
  std::vector<Contract> contracts_;
  int events_ = 0;
  int ids_ = 0;
};

}  // namespace

std::string CustomerId(const WorkloadOptions& options, int64_t n) {
  return absl::StrFormat("%s-c%08d", options.id_prefix, n);
}

void AppendCustomerEvents(const WorkloadOptions& options, int64_t n, std::vector<v1::Event>& out) {
  Story(options, n, out).Tell();
}

std::vector<v1::Event> GenerateCustomers(const WorkloadOptions& options, int64_t first,
                                         int64_t count) {
  std::vector<v1::Event> events;
  events.reserve(static_cast<size_t>(count) * (options.full_history ? 16 : 1));
  for (int64_t n = first; n < first + count; ++n) AppendCustomerEvents(options, n, events);
  std::vector<size_t> order(events.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto key = [&](size_t i) {
    const auto& t = events[i].occurred_at();
    return std::tuple<int64_t, int32_t, const std::string&>(t.seconds(), t.nanos(),
                                                            events[i].event_id());
  };
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key(a) < key(b); });
  std::vector<v1::Event> sorted;
  sorted.reserve(events.size());
  for (size_t i : order) sorted.push_back(std::move(events[i]));
  return sorted;
}

std::string DescribeMix(const std::vector<v1::Event>& events) {
  std::map<std::string, int64_t> counts;
  for (const v1::Event& e : events) {
    const auto* field = v1::Event::descriptor()->FindFieldByNumber(e.payload_case());
    ++counts[field != nullptr ? field->name() : "none"];
  }
  std::vector<std::pair<int64_t, std::string>> sorted;
  for (const auto& [name, n] : counts) sorted.emplace_back(n, name);
  std::sort(sorted.rbegin(), sorted.rend());
  std::string out = absl::StrCat(events.size(), " events:");
  for (const auto& [n, name] : sorted) {
    absl::StrAppend(&out, " ", name, " ",
                    absl::StrFormat("%.1f%%", 100.0 * static_cast<double>(n) /
                                                  static_cast<double>(events.size())));
  }
  return out;
}

}  // namespace custops::bench
