// The review projection's state does not depend on how the log is cut into
// batches, nor on whether the process restarted in between (the projection
// keeps decoded state cached across batches, docs/review.md "Replay speed"):
// the same random log (every payload the projection folds, late events,
// duplicates and no-ops) replayed with max_batch 5000, 1 and 7 with restarts
// and a failed commit in between leaves byte-identical column families.
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "custops/event/time.h"
#include "custops/log/embedded_event_log.h"
#include "custops/projection/runtime.h"
#include "custops/review/review_projection.h"
#include "custops/testing/money.h"
#include "custops/testing/status_matchers.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace custops::review {
namespace {

using ::custops::testing::Cny;

constexpr int kPartitions = 3;
const char* const kFamilies[] = {"rv_slice", "rv_delta",  "rv_seen", "rv_customer", "rv_opp",
                                 "rv_owner", "rv_region", "rv_due",  "rv_activity"};

// A random but valid history of `customers` customers over two years,
// interleaved by time, with ~5% of the events delivered late.
std::vector<v1::Event> History(int customers, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto uniform = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  const char* const regions[] = {"East", "North", "South"};
  const char* const products[] = {"GTX", "MG", ""};
  const absl::Time start = absl::FromUnixSeconds(1672531200);  // 2023-01-01
  std::vector<std::pair<absl::Time, v1::Event>> timed;
  int next_id = 0;
  for (int c = 0; c < customers; ++c) {
    const std::string id = absl::StrCat("c", c);
    absl::Time t = start + absl::Hours(uniform(0, 24 * 300));
    auto add = [&](const std::string& actor = "") -> v1::Event& {
      t += absl::Hours(uniform(1, 24 * 20));
      auto& [at, e] = timed.emplace_back();
      at = t;
      e.set_event_id(absl::StrCat("e", next_id++));
      e.set_customer_id(id);
      *e.mutable_occurred_at() = event::ToProto(t);
      e.set_actor_id(actor);
      return e;
    };
    std::string owner = absl::StrCat("owner-", uniform(1, 4));
    {
      auto* r = add().mutable_customer_registered();
      r->set_name("Customer " + id);
      r->set_kind(v1::CUSTOMER_KIND_CUSTOMER);
      r->set_region(regions[uniform(0, 2)]);
      r->set_industry(uniform(0, 1) ? "retail" : "manufacturing");
      r->set_owner_id(owner);
      r->set_channel(uniform(0, 1) ? "web" : "");
    }
    std::vector<std::string> opps, complaints, contracts;
    const int steps = static_cast<int>(uniform(3, 40));
    for (int s = 0; s < steps; ++s) {
      const std::string rep = uniform(0, 2) ? owner : absl::StrCat("rep-", uniform(1, 3));
      switch (uniform(0, 15)) {
        case 0:
        case 1:
        case 2: {
          auto* v = add(rep).mutable_visit_logged();
          v->set_visit_id(absl::StrCat(id, "-v", s));
          v->set_channel(v1::VISIT_CHANNEL_ONSITE);
          v->set_outcome(v1::VISIT_OUTCOME_NEUTRAL);
          break;
        }
        case 3: {
          const std::string o = absl::StrCat(id, "-o", s);
          auto* op = add(rep).mutable_opportunity_opened();
          op->set_opportunity_id(o);
          *op->mutable_amount() = Cny(uniform(1, 500) * 1000);
          op->set_product(products[uniform(0, 2)]);
          opps.push_back(o);
          break;
        }
        case 4:
        case 5: {
          // Also on unknown or closed opportunities (no-ops and unknown opens).
          const std::string o = opps.empty() || uniform(0, 9) == 0
                                    ? absl::StrCat(id, "-x", s)
                                    : opps[uniform(0, static_cast<int64_t>(opps.size()) - 1)];
          auto* st = add(rep).mutable_opportunity_stage_changed();
          st->set_opportunity_id(o);
          st->set_stage(static_cast<v1::FunnelStage>(uniform(1, 7)));
          if (st->stage() == v1::FUNNEL_STAGE_LOST) st->set_competitor(uniform(0, 1) ? "acme" : "");
          break;
        }
        case 6: {
          auto* q = add(rep).mutable_quote_issued();
          q->set_quote_id(absl::StrCat(id, "-q", s));
          *q->mutable_amount() = Cny(uniform(1, 100) * 1000);
          if (uniform(0, 1)) *q->mutable_list_amount() = Cny(120'000);
          break;
        }
        case 7: {
          const std::string k = absl::StrCat(id, "-k", s);
          auto* ks = add(rep).mutable_contract_signed();
          ks->set_contract_id(k);
          *ks->mutable_amount() = Cny(uniform(1, 300) * 1000);
          *ks->mutable_cost() = Cny(uniform(0, 100) * 1000);
          *ks->mutable_start() = event::ToProto(t);
          *ks->mutable_end() = event::ToProto(t + absl::Hours(24 * 365));
          ks->set_product(products[uniform(0, 2)]);
          contracts.push_back(k);
          break;
        }
        case 8:
          if (!contracts.empty()) {
            auto* p = add(rep).mutable_payment_received();
            p->set_payment_id(absl::StrCat(id, "-p", s));
            p->set_contract_id(contracts.back());
            *p->mutable_amount() = Cny(uniform(1, 50) * 1000);
          }
          break;
        case 9:
          if (!contracts.empty()) {
            auto* r = add(rep).mutable_contract_renewed();
            r->set_contract_id(contracts.front());
            *r->mutable_new_end() = event::ToProto(t + absl::Hours(24 * 700));
            *r->mutable_amount() = Cny(uniform(1, 50) * 1000);
          }
          break;
        case 10: {
          // Sometimes the same complaint id twice (a no-op).
          const std::string k =
              complaints.empty() || uniform(0, 5) ? absl::StrCat(id, "-cp", s) : complaints.back();
          auto* f = add().mutable_complaint_filed();
          f->set_complaint_id(k);
          f->set_category(static_cast<v1::ComplaintCategory>(1 + s % 5));
          f->set_severity(static_cast<v1::Severity>(uniform(1, 4)));
          complaints.push_back(k);
          break;
        }
        case 11:
          if (!complaints.empty()) {
            const std::string& k = complaints.back();
            switch (uniform(0, 2)) {
              case 0:
                add().mutable_complaint_responded()->set_complaint_id(k);
                break;
              case 1: {
                auto* r = add().mutable_complaint_resolved();
                r->set_complaint_id(k);
                r->set_satisfied(uniform(0, 1) == 1);
                break;
              }
              default:
                add().mutable_complaint_reopened()->set_complaint_id(k);
            }
          }
          break;
        case 12: {
          auto* s2 = add().mutable_satisfaction_surveyed();
          s2->set_survey_id(absl::StrCat(id, "-s", s));
          s2->set_csat(static_cast<int32_t>(uniform(1, 5)));
          break;
        }
        case 13:
          add().mutable_referral_made()->set_referred_customer_id(
              absl::StrCat("c", (c + uniform(1, customers - 1)) % customers));
          add().mutable_customer_churned()->set_reason("moved");
          break;
        case 14: {
          owner = absl::StrCat("owner-", uniform(1, 4));
          auto* u = add().mutable_customer_profile_updated();
          u->set_owner_id(owner);
          if (uniform(0, 1)) u->set_region(regions[uniform(0, 2)]);
          u->set_name(absl::StrCat("Customer ", id, " (", s, ")"));  // late ones too (rv_activity)
          break;
        }
        default: {
          auto* ct = add().mutable_contact_added();
          ct->set_contact_id(absl::StrCat(id, "-ct", s));
          ct->set_name("Contact");
          break;
        }
      }
    }
  }
  std::stable_sort(timed.begin(), timed.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<v1::Event> out;
  std::vector<v1::Event> late;
  for (auto& [at, e] : timed) {
    if (uniform(0, 19) == 0) {
      late.push_back(std::move(e));
    } else {
      out.push_back(std::move(e));
    }
    // Late events arrive some time after their occurrence; some twice.
    if (!late.empty() && uniform(0, 29) == 0) {
      if (uniform(0, 3) == 0) out.push_back(late.front());
      out.push_back(std::move(late.front()));
      late.erase(late.begin());
    }
  }
  for (auto& e : late) out.push_back(std::move(e));
  return out;
}

class ReviewReplayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("rv_replay_test_", ::getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    log_ = log::EmbeddedEventLog::Open(
               {.path = (dir_ / "log").string(), .sync = false, .clock = &clock_})
               .value();
    for (auto topic :
         {log::kCustomerEvents, log::kOrgEvents, log::kStateChanges, log::kDeadLetter}) {
      ASSERT_OK(log_->CreateTopic(topic, kPartitions));
    }
    rules_.zone = domain::LoadReportingZone("Asia/Shanghai").value();
  }
  void TearDown() override {
    ASSERT_OK(log_->Close());
    std::filesystem::remove_all(dir_);
  }
  void Append(const std::vector<v1::Event>& events, size_t from, size_t to) {
    std::vector<log::Record> records;
    for (size_t i = from; i < to; ++i) {
      records.push_back({events[i].customer_id(), events[i].SerializeAsString()});
    }
    ASSERT_OK(log_->Append(log::kCustomerEvents, records, {}));
  }
  std::unique_ptr<projection::ProjectionRuntime> Open(const std::string& name, size_t max_batch) {
    auto rt = projection::ProjectionRuntime::Open(*log_, std::make_unique<ReviewProjection>(rules_),
                                                  {.path = (dir_ / name).string(),
                                                   .max_batch = max_batch,
                                                   .clock = &clock_,
                                                   .restore_batch = max_batch});
    EXPECT_OK(rt);
    return rt.ok() ? std::move(*rt) : nullptr;
  }
  // Every key and value of the review's column families.
  static std::map<std::string, std::string> Dump(const store::Store& store) {
    std::map<std::string, std::string> out;
    for (const char* family : kFamilies) {
      auto it = store.NewIterator(store.Family(family));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        std::string value(it->value());
        if (std::string_view(family) == "rv_slice") {
          // Protobuf writes map entries in no fixed order: compare contents.
          internal::ReviewSlice slice;
          EXPECT_TRUE(slice.ParseFromString(value));
          value.clear();
          google::protobuf::io::StringOutputStream stream(&value);
          google::protobuf::io::CodedOutputStream coded(&stream);
          coded.SetSerializationDeterministic(true);
          slice.SerializeToCodedStream(&coded);
        }
        out[absl::StrCat(family, "/", std::string(it->key()))] = std::move(value);
      }
    }
    return out;
  }
  static void ExpectSame(const std::map<std::string, std::string>& want,
                         const std::map<std::string, std::string>& got, const std::string& what) {
    EXPECT_EQ(want.size(), got.size()) << what;
    int reported = 0;
    for (const auto& [k, v] : want) {
      auto it = got.find(k);
      if (it == got.end() || it->second != v) {
        ADD_FAILURE() << what << ": differs at " << absl::CHexEscape(k);
        if (++reported == 5) return;
      }
    }
  }

  base::SimulatedClock clock_{absl::FromUnixSeconds(1735689600)};  // 2025-01-01
  std::filesystem::path dir_;
  ReviewRules rules_;
  std::unique_ptr<log::EventLog> log_;
};

TEST_F(ReviewReplayTest, StateIsTheSameWhateverTheBatchesAndRestarts) {
  const std::vector<v1::Event> events = History(120, 42);
  ASSERT_GT(events.size(), 1500u);
  const size_t half = events.size() / 2;
  Append(events, 0, half);

  // B: batches of one record; C: batches of 7, restarted twice.
  auto b = Open("b", 1);
  ASSERT_OK(b->CatchUp());
  auto c = Open("c", 7);
  ASSERT_OK(c->CatchUp());
  c.reset();
  c = Open("c", 7);
  Append(events, half, events.size());
  ASSERT_OK(b->CatchUp());
  ASSERT_OK(c->CatchUp());
  c.reset();
  c = Open("c", 7);
  ASSERT_OK(c->CatchUp());

  // A: everything in batches of 5000, from scratch.
  auto a = Open("a", 5000);
  ASSERT_OK(a->CatchUp());
  const projection::RuntimeStats stats = a->Stats();
  EXPECT_EQ(stats.dead_letters, 0);
  EXPECT_GT(stats.noops, 0);  // duplicates and impossible events
  EXPECT_GT(stats.events_applied, static_cast<int64_t>(events.size() * 9 / 10));

  const auto want = Dump(a->store());
  EXPECT_GT(want.size(), 1000u);
  ExpectSame(want, Dump(b->store()), "max_batch 1");
  ExpectSame(want, Dump(c->store()), "max_batch 7 with restarts");
  EXPECT_EQ(b->Stats().events_applied, stats.events_applied);
  EXPECT_EQ(c->Stats().noops, stats.noops);
  EXPECT_EQ(b->Stats().changes_emitted, stats.changes_emitted);
}

TEST(EncodeSliceTest, ParsesToTheSameMessageAsToProto) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 50; ++round) {
    SliceState s;
    auto value = [&] { return static_cast<int64_t>(rng()) >> (rng() % 64); };  // any sign, size
    s.acc.revenue_units = value();
    s.acc.visits = value();
    s.acc.overdue_receivables_units = value();
    for (int i = 0; i < round % 5; ++i) {
      s.acc.response_seconds.push_back(value());
      s.acc.resolution_seconds.push_back(value());
      s.acc.revenue_by_customer[absl::StrCat("c", rng() % 1000)] = value();
      s.lost_by_competitor[round % 2 ? "" : absl::StrCat("k", i)] = value();
      s.lost_amount_by_competitor[absl::StrCat("k", i)] = 0;
    }
    s.entered[static_cast<size_t>(round % 7)] = value();
    s.advanced[3] = value();
    std::string encoded;
    EncodeSlice(s, encoded);
    internal::ReviewSlice parsed;
    ASSERT_TRUE(parsed.ParseFromString(encoded));
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(parsed, ToProto(s)))
        << parsed.DebugString() << "\nvs\n"
        << ToProto(s).DebugString();
  }
}

}  // namespace
}  // namespace custops::review
