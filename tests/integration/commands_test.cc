// The command services end to end, over real gRPC against the real custops
// binary, through the C++ client library: a whole deal as business actions
// read back from Lifecycle, Value and Review, refusals with their codes,
// idempotent retries, one acceptance out of two concurrent accepts, and
// effectively-once under SIGKILL while a client keeps retrying with the same
// request ids.
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "custops/client/bulk.h"
#include "custops/client/client.h"
#include "custops/event/time.h"
#include "custops/testing/events.h"
#include "custops/v1/admin.grpc.pb.h"
#include "custops/v1/review.grpc.pb.h"
#include "custops/v1/value.grpc.pb.h"
#include "gtest/gtest.h"
#include "server_process.h"

namespace custops {
namespace {

using absl::StatusCode;
using testing::Cny;

const absl::Time kNow = absl::FromUnixSeconds(1'795'392'000);  // 2026-11-23T00:00:00Z
constexpr absl::Duration kDay = absl::Hours(24);

google::protobuf::Timestamp Ts(absl::Time t) { return event::ToProto(t); }

class CommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("commands_", ::getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    server_ = std::make_unique<testing::ServerProcess>(
        CUSTOPS_BINARY, std::vector<std::string>{"--data-dir", dir_.string(), "--fixed-clock",
                                                 "2026-11-23T00:00:00Z", "--partitions", "4",
                                                 "--metrics-listen", ""});
    ASSERT_TRUE(server_->Start().ok());
    client_ = std::make_unique<client::Client>(server_->Channel(),
                                               client::ClientOptions{.actor_id = "rep-1"});
  }
  void TearDown() override {
    client_.reset();
    if (server_->running()) {
      EXPECT_EQ(server_->Stop(), 0);
    }
    std::filesystem::remove_all(dir_);
  }

  absl::StatusOr<v1::CommandResponse> Register(const std::string& customer) {
    v1::RegisterCustomerRequest r;
    r.set_customer_id(customer);
    r.set_name("Customer " + customer);
    r.set_kind(v1::CUSTOMER_KIND_CUSTOMER);
    r.set_region("East");
    r.set_owner_id("rep-1");
    *r.mutable_occurred_at() = Ts(kNow - 30 * kDay);
    return client_->RegisterCustomer(r);
  }

  // Every event in the log, read with the client's own subscription up to
  // the log ends Admin.Status reports.
  std::vector<v1::Event> AllEvents() {
    auto admin = v1::Admin::NewStub(server_->Channel());
    v1::StatusResponse status;
    grpc::ClientContext ctx;
    EXPECT_TRUE(admin->Status(&ctx, v1::StatusRequest(), &status).ok());
    std::map<int, int64_t> remaining;  // partition -> records still to see
    for (const v1::TopicStatus& t : status.topics()) {
      if (t.topic() != "custops.customer-events.v1") continue;
      for (const v1::PartitionStatus& p : t.partitions()) {
        if (p.log_end() > 0) remaining[p.partition()] = p.log_end();
      }
    }
    std::vector<v1::Event> out;
    if (remaining.empty()) return out;
    v1::SubscribeRequest from;
    from.set_from("earliest");
    EXPECT_TRUE(client_
                    ->Subscribe(from,
                                [&](const v1::EventRecord& r) {
                                  out.push_back(r.event());
                                  auto it = remaining.find(r.position().partition());
                                  if (it != remaining.end() &&
                                      r.position().offset() + 1 >= it->second) {
                                    remaining.erase(it);
                                  }
                                  return !remaining.empty();
                                })
                    .ok());
    return out;
  }

  std::filesystem::path dir_;
  std::unique_ptr<testing::ServerProcess> server_;
  std::unique_ptr<client::Client> client_;
};

TEST_F(CommandsTest, AWholeDealAsBusinessActionsReadBackFromLifecycleValueAndReview) {
  ASSERT_TRUE(Register("C1").ok());
  v1::AddContactRequest contact;
  contact.set_customer_id("C1");
  contact.set_contact_id("P1");
  contact.set_name("Wang Fang");
  contact.set_role(v1::CONTACT_ROLE_DECISION_MAKER);
  *contact.mutable_occurred_at() = Ts(kNow - 29 * kDay);
  ASSERT_TRUE(client_->AddContact(contact).ok());
  v1::LogVisitRequest visit;
  visit.set_customer_id("C1");
  visit.set_visit_id("V1");
  visit.set_contact_id("P1");
  visit.set_channel(v1::VISIT_CHANNEL_ONSITE);
  visit.set_outcome(v1::VISIT_OUTCOME_NEED_CONFIRMED);
  *visit.mutable_occurred_at() = Ts(kNow - 28 * kDay);
  ASSERT_TRUE(client_->LogVisit(visit).ok());
  v1::OpenOpportunityRequest open;
  open.set_customer_id("C1");
  open.set_opportunity_id("O1");
  *open.mutable_amount() = Cny(500'000);
  *open.mutable_occurred_at() = Ts(kNow - 27 * kDay);
  ASSERT_TRUE(client_->OpenOpportunity(open).ok());
  v1::IssueQuoteRequest quote;
  quote.set_customer_id("C1");
  quote.set_quote_id("Q1");
  quote.set_opportunity_id("O1");
  *quote.mutable_amount() = Cny(480'000);
  *quote.mutable_valid_until() = Ts(kNow - 10 * kDay);
  *quote.mutable_occurred_at() = Ts(kNow - 20 * kDay);
  ASSERT_TRUE(client_->IssueQuote(quote).ok());
  v1::AcceptQuoteRequest accept;
  accept.set_customer_id("C1");
  accept.set_quote_id("Q1");
  accept.set_request_id("accept-Q1");
  *accept.mutable_occurred_at() = Ts(kNow - 15 * kDay);
  absl::StatusOr<v1::CommandResponse> accepted = client_->AcceptQuote(accept);
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  v1::SignContractRequest sign;
  sign.set_customer_id("C1");
  sign.set_contract_id("K1");
  sign.set_quote_id("Q1");
  sign.set_opportunity_id("O1");
  *sign.mutable_amount() = Cny(480'000);
  *sign.mutable_start() = Ts(kNow - 14 * kDay);
  *sign.mutable_end() = Ts(kNow + 351 * kDay);
  *sign.mutable_occurred_at() = Ts(kNow - 14 * kDay);
  absl::StatusOr<v1::CommandResponse> signed_ = client_->SignContract(sign);
  ASSERT_TRUE(signed_.ok()) << signed_.status();

  absl::StatusOr<v1::CustomerView> view = client_->GetCustomer("C1", signed_->consistency_token());
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_EQ(view->stage(), v1::LIFECYCLE_STAGE_CUSTOMER);
  EXPECT_EQ(view->sub_stage(), v1::SUB_STAGE_NEW);
  EXPECT_EQ(event::FromProto(view->first_purchase_at()), kNow - 14 * kDay);
  EXPECT_EQ(view->profile().region(), "East");

  // The value and review projections saw the same business actions.
  {
    auto value = v1::Value::NewStub(server_->Channel());
    v1::GetValueRequest req;
    req.set_customer_id("C1");
    req.set_consistency_token(signed_->consistency_token());
    v1::ValueView v;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Status s = value->GetValue(&ctx, req, &v);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(v.revenue().units(), 480'000);
    EXPECT_EQ(v.rfm().frequency(), 1);
  }
  {
    auto review = v1::Review::NewStub(server_->Channel());
    v1::GetReviewRequest req;
    req.set_granularity(v1::GRANULARITY_MONTH);
    *req.mutable_period_start() = Ts(kNow - 14 * kDay);  // November 2026
    req.set_dimension(v1::DIMENSION_REGION);
    req.set_dimension_value("East");
    req.set_consistency_token(signed_->consistency_token());
    v1::ReviewReport report;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Status s = review->GetReview(&ctx, req, &report);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(report.period_key(), "2026-11");
    std::map<std::string, v1::MetricValue> metrics;
    for (const v1::Metric& m : report.metrics()) metrics[m.name()] = m.value();
    EXPECT_EQ(metrics["revenue"].money().units(), 480'000);
    EXPECT_EQ(metrics["visits"].count(), 0);  // the visit was on 2026-10-26: October's
    EXPECT_EQ(metrics["quotes"].count(), 1);
  }

  // The retry of the acceptance returns the same event, marked duplicate.
  absl::StatusOr<v1::CommandResponse> again = client_->AcceptQuote(accept);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->duplicate());
  EXPECT_EQ(again->event_id(), accepted->event_id());
  // A new acceptance is refused, naming the state.
  accept.set_request_id("accept-Q1-bis");
  absl::StatusOr<v1::CommandResponse> twice = client_->AcceptQuote(accept);
  EXPECT_EQ(twice.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(twice.status().message(), "quote Q1 is ACCEPTED, not ISSUED");

  // The events carry the command's context.
  std::vector<v1::Event> events = AllEvents();
  ASSERT_EQ(events.size(), 7u);
  for (const v1::Event& e : events) {
    EXPECT_EQ(e.actor_id(), "rep-1");
    EXPECT_EQ(e.event_id().rfind("cmd-", 0), 0u) << e.event_id();
  }
  std::map<std::string, int> sources;
  for (const v1::Event& e : events) sources[e.source()]++;
  EXPECT_EQ(sources["customers"], 2);
  EXPECT_EQ(sources["visits"], 1);
  EXPECT_EQ(sources["deals"], 4);
}

TEST_F(CommandsTest, RefusalsCarryTheirCodesAndNameTheField) {
  v1::LogVisitRequest visit;
  visit.set_customer_id("C9");
  visit.set_visit_id("V1");
  visit.set_channel(v1::VISIT_CHANNEL_PHONE);
  visit.set_outcome(v1::VISIT_OUTCOME_NEUTRAL);
  absl::StatusOr<v1::CommandResponse> r = client_->LogVisit(visit);
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.status().message(), "customer 'C9' is not registered");

  ASSERT_TRUE(Register("C1").ok());
  v1::AcceptQuoteRequest accept;
  accept.set_customer_id("C1");
  accept.set_quote_id("Q404");
  EXPECT_EQ(client_->AcceptQuote(accept).status().code(), StatusCode::kNotFound);

  v1::OpenOpportunityRequest open;
  open.set_customer_id("C1");
  open.set_opportunity_id("O1");
  open.mutable_amount()->set_units(100);
  open.mutable_amount()->set_currency("USD");
  r = client_->OpenOpportunity(open);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "amount.currency must be CNY, got 'USD'");

  v1::RecordSurveyRequest survey;
  survey.set_customer_id("C1");
  survey.set_survey_id("S1");
  survey.set_csat(9);
  EXPECT_EQ(client_->RecordSurvey(survey).status().message(), "csat must be 1..5, got 9");

  v1::ResolveComplaintRequest resolve;
  resolve.set_customer_id("C1");
  resolve.set_request_id("x");
  resolve.set_complaint_id("X1");
  EXPECT_EQ(client_->ResolveComplaint(resolve).status().code(), StatusCode::kNotFound);
  // The server is still answering and nothing was emitted by the refusals.
  EXPECT_EQ(AllEvents().size(), 1u);
}

TEST_F(CommandsTest, TwoConcurrentAcceptsGiveOneAcceptance) {
  ASSERT_TRUE(Register("C1").ok());
  constexpr int kQuotes = 20;
  for (int i = 0; i < kQuotes; ++i) {
    v1::IssueQuoteRequest q;
    q.set_customer_id("C1");
    q.set_quote_id(absl::StrCat("Q", i));
    *q.mutable_amount() = Cny(1000);
    *q.mutable_valid_until() = Ts(kNow + kDay);
    ASSERT_TRUE(client_->IssueQuote(q).ok());
  }
  client::Client other(server_->Channel(), {});
  std::atomic<int> ok{0}, refused{0};
  for (int i = 0; i < kQuotes; ++i) {
    auto accept = [&, i](client::Client* c) {
      v1::AcceptQuoteRequest a;
      a.set_customer_id("C1");
      a.set_quote_id(absl::StrCat("Q", i));
      absl::StatusOr<v1::CommandResponse> r = c->AcceptQuote(a);
      if (r.ok()) ok++;
      if (r.status().code() == StatusCode::kFailedPrecondition) refused++;
    };
    std::thread a(accept, client_.get()), b(accept, &other);
    a.join();
    b.join();
  }
  EXPECT_EQ(ok, kQuotes);
  EXPECT_EQ(refused, kQuotes);
  int acceptances = 0;
  for (const v1::Event& e : AllEvents()) acceptances += e.has_quote_accepted();
  EXPECT_EQ(acceptances, kQuotes);
}

// Seven business actions per customer, each a ready event for Submit.
std::vector<v1::Event> Deals(int customers) {
  std::vector<v1::Event> out;
  for (int c = 0; c < customers; ++c) {
    const std::string id = absl::StrCat("K", c);
    const absl::Time t0 = kNow - 200 * kDay + c * absl::Minutes(1);
    auto env = [&](const std::string& what, absl::Time at) {
      return testing::Envelope(absl::StrCat(id, "-", what), id, at);
    };
    out.push_back(testing::Registered(absl::StrCat(id, "-reg"), id, t0));
    v1::Event visit = env("visit", t0 + kDay);
    visit.mutable_visit_logged()->set_visit_id("V1");
    visit.mutable_visit_logged()->set_channel(v1::VISIT_CHANNEL_PHONE);
    visit.mutable_visit_logged()->set_outcome(v1::VISIT_OUTCOME_INTERESTED);
    out.push_back(visit);
    v1::Event opp = env("opp", t0 + 2 * kDay);
    opp.mutable_opportunity_opened()->set_opportunity_id("O1");
    *opp.mutable_opportunity_opened()->mutable_amount() = Cny(10'000 + c);
    out.push_back(opp);
    v1::Event quote = env("quote", t0 + 3 * kDay);
    quote.mutable_quote_issued()->set_quote_id("Q1");
    quote.mutable_quote_issued()->set_opportunity_id("O1");
    *quote.mutable_quote_issued()->mutable_amount() = Cny(9'000 + c);
    *quote.mutable_quote_issued()->mutable_valid_until() = Ts(t0 + 30 * kDay);
    out.push_back(quote);
    v1::Event accept = env("accept", t0 + 4 * kDay);
    accept.mutable_quote_accepted()->set_quote_id("Q1");
    out.push_back(accept);
    v1::Event sign = env("sign", t0 + 5 * kDay);
    auto* s = sign.mutable_contract_signed();
    s->set_contract_id("K1");
    s->set_quote_id("Q1");
    *s->mutable_amount() = Cny(9'000 + c);
    *s->mutable_start() = Ts(t0 + 5 * kDay);
    *s->mutable_end() = Ts(t0 + 370 * kDay);
    out.push_back(sign);
    v1::Event pay = env("pay", t0 + 20 * kDay);
    pay.mutable_payment_received()->set_payment_id("P1");
    pay.mutable_payment_received()->set_contract_id("K1");
    *pay.mutable_payment_received()->mutable_amount() = Cny(9'000 + c);
    out.push_back(pay);
  }
  return out;
}

TEST_F(CommandsTest, EffectivelyOnceWhileTheServerIsKilled) {
  constexpr int kCustomers = 400;
  const std::vector<v1::Event> events = Deals(kCustomers);
  client::Client patient(server_->Channel(), {.deadline = absl::Seconds(5),
                                              .max_attempts = 200,
                                              .initial_backoff = absl::Milliseconds(20)});
  client::SubmitReport report;
  std::atomic<bool> finished{false};
  std::thread submitter([&] {
    report = client::SubmitAll(patient, events, 4);
    finished = true;
  });
  int kills_mid_stream = 0;
  for (int kill = 0; kill < 3 && !finished; ++kill) {
    absl::SleepFor(absl::Milliseconds(400));
    if (finished) break;
    server_->Kill();
    ++kills_mid_stream;
    ASSERT_TRUE(server_->Start().ok());
  }
  submitter.join();
  EXPECT_GE(kills_mid_stream, 1);
  std::cout << "kills mid-stream: " << kills_mid_stream << ", accepted " << report.accepted
            << ", answered as duplicates " << report.duplicates << "\n";
  ASSERT_TRUE(report.error.ok()) << report.error;
  EXPECT_EQ(report.refused, 0) << (report.examples.empty() ? "" : report.examples[0]);
  EXPECT_EQ(report.accepted + report.duplicates, static_cast<int64_t>(events.size()));
  EXPECT_GT(report.accepted, 0);

  // Every action is in the log exactly once.
  std::map<std::string, int> per_customer;
  std::set<std::string> ids;
  for (const v1::Event& e : AllEvents()) {
    EXPECT_TRUE(ids.insert(e.event_id()).second) << "repeated " << e.event_id();
    per_customer[e.customer_id()]++;
  }
  EXPECT_EQ(ids.size(), events.size());
  ASSERT_EQ(per_customer.size(), static_cast<size_t>(kCustomers));
  for (const auto& [customer, n] : per_customer) EXPECT_EQ(n, 7) << customer;
  // And a resubmission after the restarts is all duplicates.
  client::SubmitReport again = client::SubmitAll(patient, events, 4);
  EXPECT_EQ(again.duplicates, static_cast<int64_t>(events.size()));
  EXPECT_EQ(again.accepted, 0);
}

TEST_F(CommandsTest, ClientSubscriptionResumesAcrossAServerRestart) {
  // 3000 events before the kill, 1000 after the restart: the later ones can
  // only arrive through a new stream, so the subscription must reconnect.
  constexpr int kBefore = 3000, kAfter = 1000;
  auto append = [&](int from, int to) {
    for (int b = from; b < to; b += 500) {
      v1::AppendRequest batch;
      for (int i = b; i < std::min(to, b + 500); ++i) {
        *batch.add_events() = testing::Registered(absl::StrCat("e", i), absl::StrCat("S", i), kNow);
      }
      ASSERT_TRUE(client_->Append(batch).ok());
    }
  };
  append(0, kBefore);
  client::Client subscriber(server_->Channel(),
                            {.max_attempts = 100, .initial_backoff = absl::Milliseconds(20)});
  std::vector<std::string> ids;
  std::atomic<int> delivered{0};
  absl::Status status;
  std::thread reader([&] {
    v1::SubscribeRequest from;
    from.set_from("earliest");
    status = subscriber.Subscribe(from, [&](const v1::EventRecord& r) {
      ids.push_back(r.event().event_id());
      if (++delivered < 200) absl::SleepFor(absl::Milliseconds(2));  // slow at first
      return static_cast<int>(ids.size()) < kBefore + kAfter;
    });
  });
  while (delivered < 100) absl::SleepFor(absl::Milliseconds(5));
  server_->Kill();  // mid-stream
  ASSERT_TRUE(server_->Start().ok());
  append(kBefore, kBefore + kAfter);
  reader.join();
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_GE(subscriber.resubscribes(), 1);
  std::set<std::string> unique(ids.begin(), ids.end());
  EXPECT_EQ(unique.size(), ids.size()) << "a record was delivered twice";
  EXPECT_EQ(unique.size(), static_cast<size_t>(kBefore + kAfter)) << "a record was skipped";
}

// The example program of docs/client.md against the real server, twice: the
// second run's actions are all retries of the first run's request ids.
TEST_F(CommandsTest, TheClientExampleRunsAndIsIdempotent) {
  auto run = [&] {
    const std::string cmd =
        absl::StrCat(QUOTE_FLOW_BINARY, " --server ", server_->address(), " --customer EX-1 2>&1");
    FILE* pipe = ::popen(cmd.c_str(), "r");
    std::string out;
    if (pipe == nullptr) return std::make_pair(-1, out);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
    const int status = ::pclose(pipe);
    return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : -1, out);
  };
  auto [code, out] = run();
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("EX-1 is LIFECYCLE_STAGE_CUSTOMER"), std::string::npos) << out;
  EXPECT_EQ(out.find("already done"), std::string::npos) << out;
  auto [code2, out2] = run();
  ASSERT_EQ(code2, 0) << out2;
  size_t retries = 0;
  for (size_t at = out2.find("already done"); at != std::string::npos;
       at = out2.find("already done", at + 1)) {
    ++retries;
  }
  EXPECT_EQ(retries, 5u) << out2;  // all five actions
  EXPECT_EQ(AllEvents().size(), 5u);
}

}  // namespace
}  // namespace custops
