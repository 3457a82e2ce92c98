// One party's history in the demo population (demo.cc says how the whole
// population is built): the world the simulations share (reps, regions, the
// parties), the drafts they emit, and PartySim, which simulates one party
// with its own random stream. PartySim's members are defined in
// party_sim.cc (the party: registration, contacts, visits), deals.cc
// (prospects, the funnel, quotes, contracts, payments) and account.cc (life
// as a customer: service, complaints, surveys, upsells, renewals, churn,
// win-backs). Internal to the demo library.
#ifndef CUSTOPS_DEMO_SRC_PARTY_SIM_H_
#define CUSTOPS_DEMO_SRC_PARTY_SIM_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "custops/v1/events.pb.h"
#include "rng.h"
#include "vocabulary.h"

namespace custops::demo::internal {

inline constexpr int64_t kMinute = 60;
inline constexpr int64_t kHour = 3600;
inline constexpr int64_t kDay = 86400;
inline constexpr int64_t kUtcOffset = 8 * kHour;  // Asia/Shanghai
inline constexpr int64_t kNever = INT64_MAX;

// ---- the world ---------------------------------------------------------

// What a customer's account does after its first contract.
enum class Fate { kGrower, kStable, kDecliner, kSilent, kChurner };
// How a customer pays its invoices.
enum class Payer { kPrompt, kInstallments, kLate, kPartial };
// Why a deal is being worked.
enum class DealKind { kFirst, kRetry, kUpsell, kWinBack };
enum class DealResult { kWon, kLost, kOpen };

struct Party {
  std::string id;
  v1::CustomerKind kind = v1::CUSTOMER_KIND_CUSTOMER;
  int region = 0;
  int owner = 0;                 // rep index at registration
  int64_t handover_at = kNever;  // when the customer passes to new_owner
  int new_owner = -1;
  int64_t registered_at = 0;
  bool referred = false;     // acquired through 转介绍
  bool established = false;  // the existing book, entered when the CRM went live
  // Found by the simulation (events up to the end only).
  int64_t first_purchase_at = kNever;
  int64_t last_activity_at = kNever;
  int64_t churned_at = kNever;

  int OwnerAt(int64_t t) const { return t >= handover_at ? new_owner : owner; }
};

struct World {
  std::string currency;
  int64_t end = 0;   // Unix seconds
  int64_t base = 0;  // the first local midnight at or after end - span
  int64_t days = 0;  // whole days from base to end
  std::vector<std::string> rep_ids;
  std::vector<int> rep_region;
  std::vector<std::vector<int>> reps_by_region;
  std::vector<int64_t> rep_left_at;  // kNever unless the rep leaves
  std::vector<int> rep_successor;
};

// One event before it is numbered.
struct Draft {
  int64_t at;
  int64_t seq;  // generation order within the party
  int party;
  v1::Event event;
};

struct Contact {
  std::string id;
  int64_t added_at;
  v1::ContactRole role;
};

struct Contract {
  std::string id;
  int64_t amount = 0;  // fen, of the last signature or renewal
  int64_t start = 0;
  int64_t end = 0;
  int term_days = 365;
};

// ---- one party's history -----------------------------------------------

class PartySim {
 public:
  PartySim(const World& world, Party& party, int index, uint64_t seed)
      : world_(world), party_(party), index_(index), rng_(seed) {}

  // Appends the party's events, in generation order, to `out`.
  void Run(std::vector<Draft>& out);

  int64_t next_seq() const { return seq_; }

 private:
  // ---- time ----

  int64_t DayOf(int64_t t) const { return (t - world_.base) / kDay; }
  int64_t Midnight(int64_t day) const { return world_.base + day * kDay; }
  // Somewhere in office hours (09:00-18:00 local) on `day`.
  int64_t WorkTime(int64_t day) {
    return Midnight(day) + 9 * kHour + rng_.Between(0, 9 * 60 - 1) * kMinute;
  }
  // Moves the cursor on by min..max days (same day: a little later).
  void Wait(int min_days, int max_days) {
    const int64_t d = rng_.Between(min_days, max_days);
    if (d == 0) {
      t_ += rng_.Between(15, 120) * kMinute;
    } else {
      t_ = WorkTime(DayOf(t_) + d);
    }
  }
  void Later(int min_minutes, int max_minutes) {
    t_ += rng_.Between(min_minutes, max_minutes) * kMinute;
  }
  bool Over() const { return t_ > world_.end; }

  // ---- emitting ----

  // The returned reference is valid until the next Emit.
  v1::Event& Emit(int64_t at) {
    out_->push_back(Draft{.at = at, .seq = seq_++, .party = index_, .event = {}});
    v1::Event& e = out_->back().event;
    e.set_customer_id(party_.id);
    e.mutable_occurred_at()->set_seconds(at);
    e.set_source("demo");
    e.set_actor_id(world_.rep_ids[party_.OwnerAt(at)]);
    return e;
  }

  void SetMoney(v1::Money* money, int64_t fen) const {
    money->set_units(fen);
    money->set_currency(world_.currency);
  }

  static void SetTime(google::protobuf::Timestamp* ts, int64_t seconds) {
    ts->set_seconds(seconds);
  }

  std::string NextId(const char* what, int& counter) {
    return absl::StrCat(party_.id, "-", what, "-", ++counter);
  }

  // ---- the party (party_sim.cc) ----

  void Register();
  // The acquisition channel, never 转介绍: referred customers are chosen by
  // the world so that each has a referrer.
  size_t PickChannel();
  void AddContact(int64_t at, bool first);
  // A contact known at `at`, a decision maker when asked and one exists;
  // empty sometimes (a visit to the front desk).
  std::string ContactFor(int64_t at, bool decision_maker);
  void Visit(int64_t at, v1::VisitOutcome outcome, bool decision_maker = false,
             v1::VisitChannel channel = v1::VISIT_CHANNEL_UNSPECIFIED);
  // Suppliers and partners: regular meetings, no deals.
  void RunRelationship();

  // ---- prospects and deals (deals.cc) ----

  void RunProspect();
  int64_t DealAmountFen(DealKind kind);
  void StageChanged(const std::string& opportunity, v1::FunnelStage stage,
                    const std::string& competitor = "", const std::string& reason = "");
  void Lose(const std::string& opportunity, int stage);

  struct Quote {
    std::string id;
    int64_t amount = 0;
    int64_t cost = 0;
  };

  Quote IssueQuote(const std::string& opportunity, int64_t amount);
  void RejectQuote(const Quote& q, const char* reason, const std::string& competitor);
  // Works one opportunity through the funnel from the cursor. On a win,
  // `contract` is the signed contract; a contract co-terminates with
  // `co_term_end` when that is set (add-ons to a running contract).
  DealResult RunDeal(DealKind kind, int64_t co_term_end, Contract& contract);
  // Payments of `billed` fen on a contract invoiced at `billed_at`, due at
  // `due`, as this customer pays. They never add up to more than `billed`.
  void SchedulePayments(const std::string& contract, int64_t billed, int64_t billed_at,
                        int64_t due);

  // ---- accounts (account.cc) ----

  // Life after the first contract, until the end or the fate plays out.
  void RunAccount(Contract main);
  // Service visits, complaints, surveys and new contacts in [from, until).
  void Service(int64_t from, int64_t until);
  // A complaint filed at `at`, answered and resolved as its severity's SLA
  // asks (mostly), sometimes reopened.
  void Complaint(int64_t at);
  // Some lapsed customers are won back (挽回) months later: those who left
  // explicitly sooner and more often than those who drifted away.
  void MaybeWinBack(int64_t lapsed_at);

  const World& world_;
  Party& party_;
  const int index_;
  Rng rng_;
  std::vector<Draft>* out_ = nullptr;
  int64_t t_ = 0;  // the cursor: when the next step of a flow happens
  int64_t seq_ = 0;
  const Size* size_ = nullptr;
  std::string channel_;
  int64_t budget_yuan_ = 0;
  Fate fate_ = Fate::kStable;
  Payer payer_ = Payer::kPrompt;
  int renewals_ = 0;
  bool won_back_ = false;
  std::vector<Contact> contacts_;
  int contacts_count_ = 0;
  int visits_count_ = 0;
  int opps_count_ = 0;
  int quotes_count_ = 0;
  int contracts_count_ = 0;
  int payments_count_ = 0;
  int complaints_count_ = 0;
  int surveys_count_ = 0;
};

}  // namespace custops::demo::internal

#endif  // CUSTOPS_DEMO_SRC_PARTY_SIM_H_
