// The client against in-process fakes of the services (no custops server):
// request building, ids and actor, retries, the bearer token, Submit's
// mapping of events to business actions, Subscribe's resumption, SubmitAll
// and RefitAfterImport.
#include "custops/client/client.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "custops/client/bulk.h"
#include "custops/event/time.h"
#include "custops/projection/token.h"
#include "custops/testing/events.h"
#include "custops/testing/money.h"
#include "custops/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace custops::client {
namespace {

using ::custops::testing::Churned;
using ::custops::testing::Cny;
using ::custops::testing::Envelope;
using ::custops::testing::Registered;
using ::custops::testing::Signed;
using ::custops::testing::StatusIs;
using ::custops::testing::Visited;
using ::google::protobuf::util::MessageDifferencer;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::SizeIs;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

const absl::Time kAt = absl::FromUnixSeconds(1'700'000'000);
// The topic of the fake's consistency tokens.
constexpr char kTopic[] = "custops.customer-events.v1";

// One call a fake received.
struct Received {
  std::string method;   // "SignContract"
  std::string request;  // the serialized request
  std::optional<std::string> authorization;
};

template <typename Message>
Message Parse(const Received& r) {
  Message m;
  EXPECT_TRUE(m.ParseFromString(r.request)) << r.method;
  return m;
}

// What every fake shares: the calls, in arrival order, and how to answer.
// Forced failures (FailNext) answer the next calls first; then a command is
// answered by its request id: "bad-*" INVALID_ARGUMENT, "gone-*" NOT_FOUND,
// "late-*" FAILED_PRECONDITION, "down-*" UNAVAILABLE; otherwise it succeeds
// (duplicate for "dup-*"), with a consistency token whose partition 0 is the
// number of successful commands so far.
class Calls {
 public:
  void FailNext(grpc::StatusCode code, const std::string& message) {
    std::lock_guard<std::mutex> lock(mu_);
    failures_.emplace_back(code, message);
  }
  std::vector<Received> received() {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }

  template <typename Request>
  grpc::Status Command(grpc::ServerContext* context, const char* method, const Request& request,
                       v1::CommandResponse* response) {
    std::lock_guard<std::mutex> lock(mu_);
    Record(context, method, request);
    if (!failures_.empty()) return PopFailure();
    const std::string& id = request.request_id();
    if (absl::StartsWith(id, "bad-")) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "amount: must be > 0");
    }
    if (absl::StartsWith(id, "gone-")) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "customer unknown");
    }
    if (absl::StartsWith(id, "late-")) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "customer is LOST");
    }
    if (absl::StartsWith(id, "down-")) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "overloaded");
    }
    ++succeeded_;
    response->set_event_id(id);
    response->set_duplicate(absl::StartsWith(id, "dup-"));
    projection::PositionSet token;
    token.set_topic(kTopic);
    token.add_next_offsets(succeeded_);
    token.add_next_offsets(0);
    response->set_consistency_token(projection::EncodeToken(token));
    return grpc::Status::OK;
  }

  // Any other call: a forced failure or OK.
  grpc::Status Plain(grpc::ServerContext* context, const char* method,
                     const google::protobuf::Message& request) {
    std::lock_guard<std::mutex> lock(mu_);
    Record(context, method, request);
    if (!failures_.empty()) return PopFailure();
    return grpc::Status::OK;
  }

 private:
  void Record(grpc::ServerContext* context, const char* method,
              const google::protobuf::Message& request) {
    Received r{.method = method, .request = request.SerializeAsString()};
    auto it = context->client_metadata().find("authorization");
    if (it != context->client_metadata().end()) {
      r.authorization = std::string(it->second.data(), it->second.size());
    }
    received_.push_back(std::move(r));
  }
  grpc::Status PopFailure() {
    grpc::Status s = failures_.front();
    failures_.pop_front();
    return s;
  }

  std::mutex mu_;
  std::deque<grpc::Status> failures_;
  std::vector<Received> received_;
  int64_t succeeded_ = 0;
};

class FakeCustomers final : public v1::Customers::Service {
 public:
  explicit FakeCustomers(Calls& calls) : calls_(calls) {}
  grpc::Status RegisterCustomer(grpc::ServerContext* c, const v1::RegisterCustomerRequest* r,
                                v1::CommandResponse* out) override {
    return calls_.Command(c, "RegisterCustomer", *r, out);
  }
  grpc::Status MarkLost(grpc::ServerContext* c, const v1::MarkLostRequest* r,
                        v1::CommandResponse* out) override {
    return calls_.Command(c, "MarkLost", *r, out);
  }

 private:
  Calls& calls_;
};

class FakeVisits final : public v1::Visits::Service {
 public:
  explicit FakeVisits(Calls& calls) : calls_(calls) {}
  grpc::Status LogVisit(grpc::ServerContext* c, const v1::LogVisitRequest* r,
                        v1::CommandResponse* out) override {
    return calls_.Command(c, "LogVisit", *r, out);
  }

 private:
  Calls& calls_;
};

class FakeDeals final : public v1::Deals::Service {
 public:
  explicit FakeDeals(Calls& calls) : calls_(calls) {}
  grpc::Status AdvanceOpportunity(grpc::ServerContext* c, const v1::AdvanceOpportunityRequest* r,
                                  v1::CommandResponse* out) override {
    return calls_.Command(c, "AdvanceOpportunity", *r, out);
  }
  grpc::Status ReopenOpportunity(grpc::ServerContext* c, const v1::ReopenOpportunityRequest* r,
                                 v1::CommandResponse* out) override {
    return calls_.Command(c, "ReopenOpportunity", *r, out);
  }
  grpc::Status AcceptQuote(grpc::ServerContext* c, const v1::AcceptQuoteRequest* r,
                           v1::CommandResponse* out) override {
    return calls_.Command(c, "AcceptQuote", *r, out);
  }
  grpc::Status SignContract(grpc::ServerContext* c, const v1::SignContractRequest* r,
                            v1::CommandResponse* out) override {
    return calls_.Command(c, "SignContract", *r, out);
  }

 private:
  Calls& calls_;
};

class FakeIngest final : public v1::EventIngest::Service {
 public:
  explicit FakeIngest(Calls& calls) : calls_(calls) {}
  grpc::Status Append(grpc::ServerContext* c, const v1::AppendRequest* r,
                      v1::AppendResponse* out) override {
    const grpc::Status s = calls_.Plain(c, "Append", *r);
    if (s.ok()) out->set_consistency_token("appended");
    return s;
  }

 private:
  Calls& calls_;
};

class FakeLifecycle final : public v1::Lifecycle::Service {
 public:
  explicit FakeLifecycle(Calls& calls) : calls_(calls) {}
  grpc::Status GetCustomer(grpc::ServerContext* c, const v1::GetCustomerRequest* r,
                           v1::CustomerView* out) override {
    const grpc::Status s = calls_.Plain(c, "GetCustomer", *r);
    if (s.ok()) out->set_customer_id(r->customer_id());
    return s;
  }

 private:
  Calls& calls_;
};

class FakeValue final : public v1::Value::Service {
 public:
  explicit FakeValue(Calls& calls) : calls_(calls) {}
  grpc::Status RefitClv(grpc::ServerContext* c, const v1::RefitClvRequest* r,
                        v1::ClvModel* out) override {
    const grpc::Status s = calls_.Plain(c, "RefitClv", *r);
    out->set_customers(10);
    out->set_repeat_buyers(4);
    return s;
  }

 private:
  Calls& calls_;
};

// Subscribe answers each stream from a script: records with these resume
// tokens (event ids "e-<token>"), then the end status. Past the script a
// stream ends at once with OK.
class FakeSubscriptions final : public v1::Subscriptions::Service {
 public:
  struct Stream {
    std::vector<std::string> tokens;
    grpc::Status end = grpc::Status::OK;
  };
  void Add(Stream stream) {
    std::lock_guard<std::mutex> lock(mu_);
    script_.push_back(std::move(stream));
  }
  // The `from` of every stream opened, in order.
  std::vector<std::string> froms() {
    std::lock_guard<std::mutex> lock(mu_);
    return froms_;
  }
  std::vector<std::string> authorizations() {
    std::lock_guard<std::mutex> lock(mu_);
    return authorizations_;
  }

  grpc::Status Subscribe(grpc::ServerContext* context, const v1::SubscribeRequest* request,
                         grpc::ServerWriter<v1::EventRecord>* writer) override {
    Stream stream;
    {
      std::lock_guard<std::mutex> lock(mu_);
      froms_.push_back(request->from());
      auto it = context->client_metadata().find("authorization");
      authorizations_.push_back(it == context->client_metadata().end()
                                    ? ""
                                    : std::string(it->second.data(), it->second.size()));
      if (!script_.empty()) {
        stream = std::move(script_.front());
        script_.pop_front();
      }
    }
    for (const std::string& token : stream.tokens) {
      v1::EventRecord record;
      record.mutable_event()->set_event_id("e-" + token);
      record.set_resume_token(token);
      if (!writer->Write(record)) return grpc::Status::OK;  // the client went away
    }
    return stream.end;
  }

 private:
  std::mutex mu_;
  std::deque<Stream> script_;
  std::vector<std::string> froms_;
  std::vector<std::string> authorizations_;
};

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&customers_);
    builder.RegisterService(&visits_);
    builder.RegisterService(&deals_);
    builder.RegisterService(&ingest_);
    builder.RegisterService(&lifecycle_);
    builder.RegisterService(&value_);
    builder.RegisterService(&subscriptions_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
  }

  // A client of the fakes; backoff kept short.
  std::unique_ptr<Client> MakeClient(ClientOptions options = {}) {
    options.target = absl::StrCat("127.0.0.1:", port_);
    options.initial_backoff = absl::Milliseconds(1);
    return std::make_unique<Client>(std::move(options));
  }
  // The calls of `method`, in order.
  std::vector<Received> SentTo(const std::string& method) {
    std::vector<Received> out;
    for (Received& r : calls_.received()) {
      if (r.method == method) out.push_back(std::move(r));
    }
    return out;
  }
  static bool IsRequestId(const std::string& id) {
    if (id.size() != 32) return false;
    for (char c : id) {
      if (!absl::ascii_isxdigit(c) || absl::ascii_isupper(c)) return false;
    }
    return true;
  }

  Calls calls_;
  FakeCustomers customers_{calls_};
  FakeVisits visits_{calls_};
  FakeDeals deals_{calls_};
  FakeIngest ingest_{calls_};
  FakeLifecycle lifecycle_{calls_};
  FakeValue value_{calls_};
  FakeSubscriptions subscriptions_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

TEST(NewRequestIdTest, Is32LowercaseHexDigitsAndFreshEveryTime) {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = NewRequestId();
    ASSERT_EQ(id.size(), 32u) << id;
    for (char c : id) {
      ASSERT_TRUE(absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f')) << id;
    }
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 1000u);
}

// ---- Commands: ids, actor, retries, token ----

TEST_F(ClientTest, ACommandWithoutIdsGetsAFreshRequestIdAndTheOptionsActor) {
  auto client = MakeClient({.actor_id = "crm"});
  v1::AcceptQuoteRequest accept;
  accept.set_customer_id("C1");
  accept.set_quote_id("Q1");
  ASSERT_OK_AND_ASSIGN(v1::CommandResponse first, client->AcceptQuote(accept));
  ASSERT_OK_AND_ASSIGN(v1::CommandResponse second, client->AcceptQuote(accept));

  const std::vector<Received> sent = SentTo("AcceptQuote");
  ASSERT_EQ(sent.size(), 2u);
  const auto a = Parse<v1::AcceptQuoteRequest>(sent[0]);
  const auto b = Parse<v1::AcceptQuoteRequest>(sent[1]);
  EXPECT_TRUE(IsRequestId(a.request_id())) << a.request_id();
  EXPECT_NE(a.request_id(), b.request_id());  // two actions, two ids
  EXPECT_EQ(a.actor_id(), "crm");
  EXPECT_EQ(a.customer_id(), "C1");
  EXPECT_EQ(a.quote_id(), "Q1");
  EXPECT_EQ(first.event_id(), a.request_id());  // the fake's answer came back
}

TEST_F(ClientTest, ACommandKeepsTheIdsItWasGiven) {
  auto client = MakeClient({.actor_id = "crm"});
  v1::AcceptQuoteRequest accept;
  accept.set_request_id("req-1");
  accept.set_actor_id("rep-9");
  accept.set_customer_id("C1");
  accept.set_quote_id("Q1");
  ASSERT_OK(client->AcceptQuote(accept));
  const auto sent = Parse<v1::AcceptQuoteRequest>(SentTo("AcceptQuote").at(0));
  EXPECT_TRUE(MessageDifferencer::Equals(sent, accept)) << sent.ShortDebugString();
}

TEST_F(ClientTest, RetryableCodesAreRetriedWithTheSameRequestId) {
  auto client = MakeClient({.max_attempts = 6});
  calls_.FailNext(grpc::StatusCode::UNAVAILABLE, "restarting");
  calls_.FailNext(grpc::StatusCode::DEADLINE_EXCEEDED, "slow");
  calls_.FailNext(grpc::StatusCode::RESOURCE_EXHAUSTED, "busy");
  calls_.FailNext(grpc::StatusCode::ABORTED, "conflict");
  v1::AcceptQuoteRequest accept;
  accept.set_customer_id("C1");
  accept.set_quote_id("Q1");
  ASSERT_OK_AND_ASSIGN(v1::CommandResponse response, client->AcceptQuote(accept));

  const std::vector<Received> sent = SentTo("AcceptQuote");
  ASSERT_EQ(sent.size(), 5u);
  const std::string id = Parse<v1::AcceptQuoteRequest>(sent[0]).request_id();
  EXPECT_TRUE(IsRequestId(id)) << id;
  for (const Received& r : sent) {
    EXPECT_EQ(Parse<v1::AcceptQuoteRequest>(r).request_id(), id);  // a retry is the same action
  }
  EXPECT_EQ(response.event_id(), id);
}

TEST_F(ClientTest, RetriesStopAtMaxAttemptsWithTheLastError) {
  auto client = MakeClient({.max_attempts = 3});
  for (int i = 0; i < 5; ++i) calls_.FailNext(grpc::StatusCode::UNAVAILABLE, "overloaded");
  v1::AcceptQuoteRequest accept;
  accept.set_customer_id("C1");
  EXPECT_THAT(client->AcceptQuote(accept), StatusIs(absl::StatusCode::kUnavailable, "overloaded"));
  EXPECT_THAT(SentTo("AcceptQuote"), SizeIs(3));
}

TEST_F(ClientTest, MaxAttemptsBelowOneStillMakesOneAttempt) {
  auto client = MakeClient({.max_attempts = 0});
  calls_.FailNext(grpc::StatusCode::UNAVAILABLE, "overloaded");
  v1::AcceptQuoteRequest accept;
  accept.set_customer_id("C1");
  EXPECT_THAT(client->AcceptQuote(accept), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(SentTo("AcceptQuote"), SizeIs(1));
}

TEST_F(ClientTest, OtherCodesAreReturnedAtOnceAsTheyAre) {
  const std::vector<std::pair<grpc::StatusCode, absl::StatusCode>> codes = {
      {grpc::StatusCode::INVALID_ARGUMENT, absl::StatusCode::kInvalidArgument},
      {grpc::StatusCode::FAILED_PRECONDITION, absl::StatusCode::kFailedPrecondition},
      {grpc::StatusCode::NOT_FOUND, absl::StatusCode::kNotFound},
      {grpc::StatusCode::ALREADY_EXISTS, absl::StatusCode::kAlreadyExists},
      {grpc::StatusCode::PERMISSION_DENIED, absl::StatusCode::kPermissionDenied},
      {grpc::StatusCode::UNAUTHENTICATED, absl::StatusCode::kUnauthenticated},
      {grpc::StatusCode::INTERNAL, absl::StatusCode::kInternal},
  };
  auto client = MakeClient({.max_attempts = 6});
  size_t expected_calls = 0;
  for (const auto& [grpc_code, absl_code] : codes) {
    SCOPED_TRACE(absl::StatusCodeToString(absl_code));
    calls_.FailNext(grpc_code, "quote_id: unknown quote");
    v1::AcceptQuoteRequest accept;
    accept.set_customer_id("C1");
    EXPECT_THAT(client->AcceptQuote(accept), StatusIs(absl_code, "quote_id: unknown quote"));
    EXPECT_THAT(SentTo("AcceptQuote"), SizeIs(++expected_calls));  // no second attempt
  }
}

TEST_F(ClientTest, TheBearerTokenGoesWithEveryAttempt) {
  auto with_token = MakeClient({.bearer_token = "jwt-abc"});
  calls_.FailNext(grpc::StatusCode::UNAVAILABLE, "restarting");
  v1::AcceptQuoteRequest accept;
  accept.set_customer_id("C1");
  ASSERT_OK(with_token->AcceptQuote(accept));
  ASSERT_OK(with_token->GetCustomer("C1"));
  ASSERT_OK(with_token->Append(v1::AppendRequest()));
  const std::vector<Received> sent = calls_.received();
  ASSERT_EQ(sent.size(), 4u);
  for (const Received& r : sent) {
    EXPECT_EQ(r.authorization, "Bearer jwt-abc") << r.method;
  }

  auto without = MakeClient();
  ASSERT_OK(without->AcceptQuote(accept));
  EXPECT_FALSE(calls_.received().back().authorization.has_value());
}

TEST_F(ClientTest, QueriesAndAppendAreRetriedToo) {
  auto client = MakeClient({.max_attempts = 2});
  calls_.FailNext(grpc::StatusCode::UNAVAILABLE, "restarting");
  ASSERT_OK_AND_ASSIGN(v1::CustomerView view, client->GetCustomer("C7", "c1.token"));
  EXPECT_EQ(view.customer_id(), "C7");
  const std::vector<Received> sent = SentTo("GetCustomer");
  ASSERT_EQ(sent.size(), 2u);
  const auto request = Parse<v1::GetCustomerRequest>(sent[1]);
  EXPECT_EQ(request.customer_id(), "C7");
  EXPECT_EQ(request.consistency_token(), "c1.token");

  calls_.FailNext(grpc::StatusCode::ABORTED, "conflict");
  v1::AppendRequest append;
  *append.add_events() = Visited("e1", "C1", kAt);
  ASSERT_OK_AND_ASSIGN(v1::AppendResponse appended, client->Append(append));
  EXPECT_EQ(appended.consistency_token(), "appended");
  const std::vector<Received> appends = SentTo("Append");
  ASSERT_EQ(appends.size(), 2u);
  EXPECT_TRUE(MessageDifferencer::Equals(Parse<v1::AppendRequest>(appends[1]), append));

  calls_.FailNext(grpc::StatusCode::INVALID_ARGUMENT, "consistency_token: not a token");
  EXPECT_THAT(client->RefitClv("bad"),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("consistency_token")));
  EXPECT_THAT(SentTo("RefitClv"), SizeIs(1));
}

// ---- Submit: events as business actions ----

TEST_F(ClientTest, SubmitRefusesAnEventWithoutPayloadWithoutCalling) {
  auto client = MakeClient();
  EXPECT_THAT(client->Submit(Envelope("e1", "C1", kAt)),
              StatusIs(absl::StatusCode::kInvalidArgument, "payload: required"));
  EXPECT_THAT(calls_.received(), IsEmpty());
}

TEST_F(ClientTest, SubmitSendsTheEnvelopeAsTheCommandsCommonFields) {
  auto client = MakeClient({.actor_id = "importer"});
  const v1::Event signed_event = Signed("e1", "C1", kAt, 1'000'000);
  ASSERT_OK_AND_ASSIGN(v1::CommandResponse response, client->Submit(signed_event));
  EXPECT_EQ(response.event_id(), "e1");  // request_id = event_id
  const auto sign = Parse<v1::SignContractRequest>(SentTo("SignContract").at(0));
  EXPECT_EQ(sign.request_id(), "e1");
  EXPECT_EQ(sign.customer_id(), "C1");
  EXPECT_EQ(event::FromProto(sign.occurred_at()), kAt);
  EXPECT_EQ(sign.actor_id(), "rep-1");  // the event's actor, not the options'
  const v1::ContractSigned& c = signed_event.contract_signed();
  EXPECT_EQ(sign.contract_id(), c.contract_id());
  EXPECT_TRUE(MessageDifferencer::Equals(sign.amount(), Cny(1'000'000)));
  EXPECT_TRUE(MessageDifferencer::Equals(sign.cost(), Cny(500'000)));
  EXPECT_TRUE(MessageDifferencer::Equals(sign.start(), c.start()));
  EXPECT_TRUE(MessageDifferencer::Equals(sign.end(), c.end()));
  EXPECT_FALSE(sign.has_payment_due());
  EXPECT_EQ(sign.product(), "widget");

  // An event without an actor takes the options'.
  v1::Event anonymous = Churned("e2", "C1", kAt);
  anonymous.clear_actor_id();
  ASSERT_OK(client->Submit(anonymous));
  const auto lost = Parse<v1::MarkLostRequest>(SentTo("MarkLost").at(0));
  EXPECT_EQ(lost.request_id(), "e2");
  EXPECT_EQ(lost.actor_id(), "importer");
  EXPECT_EQ(lost.reason(), "moved to a competitor");
}

TEST_F(ClientTest, SubmitMapsPayloadsToTheirActions) {
  auto client = MakeClient();
  v1::Event registered = Registered("e1", "C1", kAt, "华东");
  registered.mutable_customer_registered()->set_city("上海");
  ASSERT_OK(client->Submit(registered));
  const auto reg = Parse<v1::RegisterCustomerRequest>(SentTo("RegisterCustomer").at(0));
  EXPECT_EQ(reg.name(), "Customer C1");
  EXPECT_EQ(reg.kind(), v1::CUSTOMER_KIND_CUSTOMER);
  EXPECT_EQ(reg.region(), "华东");
  EXPECT_EQ(reg.city(), "上海");
  EXPECT_EQ(reg.industry(), "retail");
  EXPECT_EQ(reg.owner_id(), "rep-1");
  EXPECT_EQ(reg.channel(), "web");
  EXPECT_FALSE(reg.has_budget());  // not set on the event: not sent

  ASSERT_OK(client->Submit(Visited("e2", "C1", kAt, v1::VISIT_OUTCOME_NEUTRAL)));
  const auto visit = Parse<v1::LogVisitRequest>(SentTo("LogVisit").at(0));
  EXPECT_EQ(visit.visit_id(), "visit-e2");
  EXPECT_EQ(visit.channel(), v1::VISIT_CHANNEL_ONSITE);
  EXPECT_EQ(visit.outcome(), v1::VISIT_OUTCOME_NEUTRAL);

  // A stage change is an advance, or a reopen when back to stage 1.
  v1::Event advance = Envelope("e3", "C1", kAt);
  advance.mutable_opportunity_stage_changed()->set_opportunity_id("O1");
  advance.mutable_opportunity_stage_changed()->set_stage(v1::FUNNEL_STAGE_LOST);
  advance.mutable_opportunity_stage_changed()->set_competitor("Acme");
  advance.mutable_opportunity_stage_changed()->set_reason("price");
  ASSERT_OK(client->Submit(advance));
  v1::Event reopen = Envelope("e4", "C1", kAt);
  reopen.mutable_opportunity_stage_changed()->set_opportunity_id("O1");
  reopen.mutable_opportunity_stage_changed()->set_stage(v1::FUNNEL_STAGE_OPPORTUNITY);
  reopen.mutable_opportunity_stage_changed()->set_reason("budget back");
  ASSERT_OK(client->Submit(reopen));
  const auto adv = Parse<v1::AdvanceOpportunityRequest>(SentTo("AdvanceOpportunity").at(0));
  EXPECT_EQ(adv.request_id(), "e3");
  EXPECT_EQ(adv.opportunity_id(), "O1");
  EXPECT_EQ(adv.stage(), v1::FUNNEL_STAGE_LOST);
  EXPECT_EQ(adv.competitor(), "Acme");
  EXPECT_EQ(adv.reason(), "price");
  const auto re = Parse<v1::ReopenOpportunityRequest>(SentTo("ReopenOpportunity").at(0));
  EXPECT_EQ(re.request_id(), "e4");
  EXPECT_EQ(re.opportunity_id(), "O1");
  EXPECT_EQ(re.reason(), "budget back");
  EXPECT_THAT(SentTo("AdvanceOpportunity"), SizeIs(1));
}

// ---- Subscribe ----

TEST_F(ClientTest, SubscribeResumesABrokenStreamFromTheLastToken) {
  subscriptions_.Add(
      {.tokens = {"r1", "r2"}, .end = grpc::Status(grpc::StatusCode::UNAVAILABLE, "broker moved")});
  subscriptions_.Add({.tokens = {"r3", "r4", "r5"}});
  auto client = MakeClient({.bearer_token = "jwt-abc"});
  v1::SubscribeRequest request;
  request.set_from("earliest");
  std::vector<std::string> seen;
  ASSERT_OK(client->Subscribe(request, [&seen](const v1::EventRecord& r) {
    seen.push_back(r.event().event_id());
    return seen.size() < 3;  // enough after the third
  }));
  EXPECT_THAT(seen, ElementsAre("e-r1", "e-r2", "e-r3"));
  EXPECT_THAT(subscriptions_.froms(), ElementsAre("earliest", "r2"));  // no gap, no repeat
  EXPECT_EQ(client->resubscribes(), 1);
  EXPECT_THAT(subscriptions_.authorizations(), Each("Bearer jwt-abc"));
}

TEST_F(ClientTest, SubscribeReturnsANonRetryableError) {
  subscriptions_.Add({.end = grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                                          "Subscribe needs the reader role")});
  auto client = MakeClient();
  EXPECT_THAT(
      client->Subscribe(v1::SubscribeRequest(), [](const v1::EventRecord&) { return true; }),
      StatusIs(absl::StatusCode::kPermissionDenied, "Subscribe needs the reader role"));
  EXPECT_THAT(subscriptions_.froms(), SizeIs(1));
  EXPECT_EQ(client->resubscribes(), 0);
}

TEST_F(ClientTest, SubscribeGivesUpOnStreamsThatDeliverNothing) {
  // Past the script every stream ends at once with OK and no record.
  auto client = MakeClient({.max_attempts = 2});
  EXPECT_THAT(
      client->Subscribe(v1::SubscribeRequest(), [](const v1::EventRecord&) { return true; }),
      StatusIs(absl::StatusCode::kUnavailable, "subscription ended by the server"));
  EXPECT_THAT(subscriptions_.froms(), SizeIs(3));  // the first and two reconnections
  EXPECT_EQ(client->resubscribes(), 2);
}

TEST_F(ClientTest, SubscribeStopsWhenAskedTo) {
  auto client = MakeClient();
  std::atomic<bool> stop{true};
  EXPECT_OK(client->Subscribe(
      v1::SubscribeRequest(), [](const v1::EventRecord&) { return true; }, &stop));
  EXPECT_THAT(subscriptions_.froms(), IsEmpty());  // not even one stream

  subscriptions_.Add({.tokens = {"r1", "r2", "r3"}});
  stop = false;
  std::vector<std::string> seen;
  EXPECT_OK(client->Subscribe(
      v1::SubscribeRequest(),
      [&](const v1::EventRecord& r) {
        seen.push_back(r.resume_token());
        if (seen.size() == 2) stop = true;
        return true;
      },
      &stop));
  EXPECT_THAT(seen, ElementsAre("r1", "r2"));
  EXPECT_EQ(client->resubscribes(), 0);
}

// ---- SubmitAll and RefitAfterImport ----

TEST_F(ClientTest, SubmitAllCountsOutcomesKeepsEachCustomersOrderAndMergesTokens) {
  auto client = MakeClient();
  const std::vector<v1::Event> events = {
      Visited("v1", "C1", kAt),      Visited("gone-v4", "C2", kAt), Visited("dup-v2", "C1", kAt),
      Visited("late-v6", "C3", kAt), Visited("bad-v3", "C1", kAt),  Visited("v5", "C2", kAt)};
  const SubmitReport report = SubmitAll(*client, events, /*parallelism=*/2);
  EXPECT_OK(report.error);
  EXPECT_EQ(report.accepted, 2);
  EXPECT_EQ(report.duplicates, 1);
  EXPECT_EQ(report.refused, 3);
  EXPECT_THAT(report.refused_by_code,
              UnorderedElementsAre(Pair("INVALID_ARGUMENT", 1), Pair("NOT_FOUND", 1),
                                   Pair("FAILED_PRECONDITION", 1)));
  EXPECT_THAT(report.examples,
              UnorderedElementsAre("bad-v3: amount: must be > 0", "gone-v4: customer unknown",
                                   "late-v6: customer is LOST"));
  // The merged token covers the three successes (the fake's tokens count them).
  ASSERT_OK_AND_ASSIGN(projection::PositionSet token,
                       projection::DecodeToken(report.consistency_token, "token"));
  EXPECT_EQ(token.topic(), kTopic);
  EXPECT_THAT(token.next_offsets(), ElementsAre(3, 0));

  std::map<std::string, std::vector<std::string>> order;
  for (const Received& r : SentTo("LogVisit")) {
    const auto visit = Parse<v1::LogVisitRequest>(r);
    order[visit.customer_id()].push_back(visit.request_id());
  }
  EXPECT_THAT(order, UnorderedElementsAre(Pair("C1", ElementsAre("v1", "dup-v2", "bad-v3")),
                                          Pair("C2", ElementsAre("gone-v4", "v5")),
                                          Pair("C3", ElementsAre("late-v6"))));
}

TEST_F(ClientTest, SubmitAllStopsAtTheFirstFailureThatIsNotARefusal) {
  auto client = MakeClient({.max_attempts = 1});
  const std::vector<v1::Event> events = {Visited("v1", "C1", kAt), Visited("down-v2", "C1", kAt),
                                         Visited("v3", "C1", kAt), Visited("v4", "C2", kAt)};
  const SubmitReport report = SubmitAll(*client, events, /*parallelism=*/1);
  EXPECT_THAT(report.error, StatusIs(absl::StatusCode::kUnavailable, "overloaded"));
  EXPECT_EQ(report.accepted, 1);
  EXPECT_EQ(report.refused, 0);
  std::vector<std::string> sent;
  for (const Received& r : SentTo("LogVisit")) {
    sent.push_back(Parse<v1::LogVisitRequest>(r).request_id());
  }
  EXPECT_THAT(sent, ElementsAre("v1", "down-v2"));
}

TEST_F(ClientTest, SubmitAllWithNothingAcceptedHasNoToken) {
  auto client = MakeClient();
  const SubmitReport report = SubmitAll(*client, {Visited("bad-1", "C1", kAt)});
  EXPECT_EQ(report.refused, 1);
  EXPECT_EQ(report.consistency_token, "");
  EXPECT_OK(report.error);
}

TEST_F(ClientTest, RefitAfterImportReportsTheFitOrWhatToRunInstead) {
  auto client = MakeClient();
  std::ostringstream out;
  EXPECT_OK(RefitAfterImport(*client, "c1.merged", out));
  EXPECT_EQ(out.str(), "clv_refit customers 10, repeat buyers 4\n");
  EXPECT_EQ(Parse<v1::RefitClvRequest>(SentTo("RefitClv").at(0)).consistency_token(), "c1.merged");

  calls_.FailNext(grpc::StatusCode::PERMISSION_DENIED, "RefitClv needs the admin role");
  std::ostringstream refused;
  EXPECT_THAT(RefitAfterImport(*client, "c1.merged", refused),
              StatusIs(absl::StatusCode::kPermissionDenied, "RefitClv needs the admin role"));
  EXPECT_THAT(refused.str(), StartsWith("clv_refit skipped: PERMISSION_DENIED: RefitClv needs "
                                        "the admin role"));
  EXPECT_THAT(refused.str(), HasSubstr("custopsctl value refit"));
}

}  // namespace
}  // namespace custops::client
