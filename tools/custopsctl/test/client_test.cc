#include "custops/ctl/client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "custops/testing/status_matchers.h"
#include "custops/v1/admin.grpc.pb.h"
#include "custops/v1/ingest.grpc.pb.h"
#include "custops/v1/lifecycle.grpc.pb.h"
#include "custops/v1/review.grpc.pb.h"
#include "custops/v1/value.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace custops::ctl {
namespace {

using ::custops::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Ingest: appends everything; ids starting with "dup" are duplicates; an
// event whose id starts with "bad" is rejected like the real validator does.
class FakeIngest final : public v1::EventIngest::Service {
 public:
  grpc::Status Append(grpc::ServerContext*, const v1::AppendRequest* request,
                      v1::AppendResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (int i = 0; i < request->events_size(); ++i) {
      if (absl::StartsWith(request->events(i).event_id(), "bad")) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            absl::StrCat("events[", i, "].event_id: rejected"));
      }
    }
    batches_.push_back(request->events_size());
    for (const v1::Event& e : request->events()) {
      v1::AppendResult* r = response->add_results();
      r->set_event_id(e.event_id());
      r->set_duplicate(absl::StartsWith(e.event_id(), "dup"));
    }
    response->set_consistency_token(absl::StrCat("token-", batches_.size()));
    return grpc::Status::OK;
  }
  grpc::Status AppendOrg(grpc::ServerContext*, const v1::AppendOrgRequest* request,
                         v1::AppendResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    batches_.push_back(request->events_size());
    for (const v1::OrgEvent& e : request->events()) {
      response->add_results()->set_event_id(e.event_id());
    }
    response->set_consistency_token("org-token");
    return grpc::Status::OK;
  }
  std::vector<int> batches() {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_;
  }

 private:
  std::mutex mu_;
  std::vector<int> batches_;
};

// Lifecycle: customers C1..C5 in pages of two; C404 is unknown.
class FakeLifecycle final : public v1::Lifecycle::Service {
 public:
  grpc::Status GetCustomer(grpc::ServerContext* context, const v1::GetCustomerRequest* request,
                           v1::CustomerView* view) override {
    auto metadata = context->client_metadata().find("authorization");
    if (metadata != context->client_metadata().end()) {
      std::lock_guard<std::mutex> lock(mu_);
      authorization_ = std::string(metadata->second.data(), metadata->second.size());
    }
    if (request->customer_id() == "C404") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "customer C404 not found");
    }
    view->set_customer_id(request->customer_id());
    view->set_stage(v1::LIFECYCLE_STAGE_INTENT);
    return grpc::Status::OK;
  }
  grpc::Status ListCustomers(grpc::ServerContext*, const v1::ListCustomersRequest* request,
                             v1::ListCustomersResponse* response) override {
    const int start = request->page_token().empty() ? 1 : std::stoi(request->page_token());
    for (int i = start; i < start + 2 && i <= 5; ++i) {
      v1::CustomerSummary* c = response->add_customers();
      c->set_customer_id(absl::StrCat("C", i));
      c->set_region(request->filter().region());
    }
    if (start + 2 <= 5) response->set_next_page_token(absl::StrCat(start + 2));
    return grpc::Status::OK;
  }
  std::string authorization() {
    std::lock_guard<std::mutex> lock(mu_);
    return authorization_;
  }

 private:
  std::mutex mu_;
  std::string authorization_;
};

// Subscriptions: an endless stream of records until the client cancels.
class FakeSubscriptions final : public v1::Subscriptions::Service {
 public:
  grpc::Status Subscribe(grpc::ServerContext* context, const v1::SubscribeRequest* request,
                         grpc::ServerWriter<v1::EventRecord>* writer) override {
    for (int i = 0; i < 100000 && !context->IsCancelled(); ++i) {
      v1::EventRecord record;
      record.mutable_position()->set_offset(i);
      record.mutable_event()->set_event_id(absl::StrCat(request->from(), "-", i));
      record.set_resume_token(absl::StrCat("r", i));
      if (!writer->Write(record)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return grpc::Status::OK;
  }
};

class FakeAdmin final : public v1::Admin::Service {
 public:
  grpc::Status Status(grpc::ServerContext*, const v1::StatusRequest*,
                      v1::StatusResponse* response) override {
    response->set_mode("embedded");
    response->add_projections()->set_name("lifecycle");
    return grpc::Status::OK;
  }
};

// Value: tier summaries; RefitClv needs "Bearer admin".
class FakeValue final : public v1::Value::Service {
 public:
  grpc::Status TierSummary(grpc::ServerContext*, const v1::TierSummaryRequest* request,
                           v1::TierSummaryResponse* response) override {
    response->set_dimension(request->dimension());
    v1::TierCount* c = response->add_counts();
    c->set_tier(v1::TIER_GOLD);
    c->set_count(3);
    c->mutable_margin()->set_units(123456);
    c->mutable_revenue()->set_units(234567);
    response->set_total(3);
    return grpc::Status::OK;
  }
  grpc::Status RefitClv(grpc::ServerContext* context, const v1::RefitClvRequest*,
                        v1::ClvModel* model) override {
    auto it = context->client_metadata().find("authorization");
    if (it == context->client_metadata().end() || it->second != "Bearer admin") {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "RefitClv needs the admin role");
    }
    model->set_customers(10);
    return grpc::Status::OK;
  }
};

// Review: a worklist of customers W1..W5, two per page; a one-metric report.
class FakeReview final : public v1::Review::Service {
 public:
  grpc::Status Worklist(grpc::ServerContext*, const v1::WorklistRequest* request,
                        v1::WorklistResponse* response) override {
    const int start = request->page_token().empty() ? 1 : std::stoi(request->page_token());
    for (int i = start; i < start + 2 && i <= 5; ++i) {
      v1::WorklistItem* item = response->add_items();
      item->set_customer_id(absl::StrCat("W", i));
      item->set_reason("BIRTHDAY");
      item->set_region(request->region());
    }
    if (start + 2 <= 5) response->set_next_page_token(absl::StrCat(start + 2));
    return grpc::Status::OK;
  }
  grpc::Status GetReview(grpc::ServerContext*, const v1::GetReviewRequest* request,
                         v1::ReviewReport* report) override {
    report->set_period_key("2024-03");
    report->set_dimension(request->dimension());
    v1::Metric* m = report->add_metrics();
    m->set_name("win_rate");
    m->set_unit(v1::METRIC_UNIT_SHARE);
    m->mutable_value()->mutable_ratio()->set_numerator(3);
    m->mutable_value()->mutable_ratio()->set_denominator(4);
    return grpc::Status::OK;
  }
};

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&ingest_);
    builder.RegisterService(&lifecycle_);
    builder.RegisterService(&subscriptions_);
    builder.RegisterService(&admin_);
    builder.RegisterService(&value_);
    builder.RegisterService(&review_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    client_ = Client::Connect(Options());
  }
  void TearDown() override { server_->Shutdown(std::chrono::system_clock::now()); }

  ConnectionOptions Options() const {
    ConnectionOptions options;
    options.server = absl::StrCat("127.0.0.1:", port_);
    options.timeout = absl::Seconds(10);
    return options;
  }

  static std::string EventLines(int n, const std::string& prefix = "e") {
    std::string out;
    for (int i = 0; i < n; ++i) {
      absl::StrAppend(&out, R"({"event_id":")", prefix, i,
                      R"(","customer_id":"C1","occurred_at":"2025-06-30T16:00:00Z"})", "\n");
    }
    return out;
  }

  FakeIngest ingest_;
  FakeLifecycle lifecycle_;
  FakeSubscriptions subscriptions_;
  FakeAdmin admin_;
  FakeValue value_;
  FakeReview review_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(ClientTest, AppendSendsBatchesAndCounts) {
  std::istringstream in(EventLines(1200) + EventLines(3, "dup"));
  std::ostringstream out;
  const absl::Status status = client_->Append(in, {.batch = 500}, out);
  ASSERT_OK(status);
  EXPECT_THAT(ingest_.batches(), ElementsAre(500, 500, 203));
  EXPECT_EQ(out.str(), "appended: 1200\nduplicates: 3\nconsistency_token: token-3\n");
  EXPECT_EQ(ExitCode(status), 0);
}

TEST_F(ClientTest, AppendOrgUsesAppendOrg) {
  std::istringstream in(R"({"event_id":"o1","occurred_at":"2025-06-30T16:00:00Z","scope":"org"})"
                        "\n");
  std::ostringstream out;
  ASSERT_OK(client_->AppendOrg(in, {}, out));
  EXPECT_EQ(out.str(), "appended: 1\nduplicates: 0\nconsistency_token: org-token\n");
}

TEST_F(ClientTest, BadJsonLineSendsNothing) {
  std::istringstream in(EventLines(3) + "{not json}\n" + EventLines(2));
  std::ostringstream out;
  const absl::Status status = client_->Append(in, {}, out);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                               StartsWith("line 4: not a custops.v1.Event in JSON: ")));
  EXPECT_FALSE(IsServerError(status));
  EXPECT_EQ(ExitCode(status), 1);
  EXPECT_TRUE(ingest_.batches().empty());
  EXPECT_EQ(out.str(), "");
}

TEST_F(ClientTest, ServerRejectionNamesTheInputLine) {
  // Line 1 is a comment: the events sit on lines 2..; the bad one is the
  // 504th event, the 4th of the second batch, on line 505.
  std::istringstream in("# header\n" + EventLines(503) + EventLines(1, "bad") + EventLines(10));
  std::ostringstream out;
  const absl::Status status = client_->Append(in, {.batch = 500}, out);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(IsServerError(status));
  EXPECT_EQ(ExitCode(status), 2);
  EXPECT_EQ(ErrorLine(status),
            "error: INVALID_ARGUMENT: events[3].event_id: rejected (input line 505); batch of "
            "line 502 to line 515 not appended; earlier batches appended 500 events and found 0 "
            "duplicates");
  EXPECT_THAT(ingest_.batches(), ElementsAre(500));
}

TEST_F(ClientTest, GetCustomerPrintsJsonAndSendsTheBearerToken) {
  ConnectionOptions options = Options();
  options.bearer_token = "s3cret";
  std::unique_ptr<Client> client = Client::Connect(options);
  std::ostringstream out;
  v1::GetCustomerRequest request;
  request.set_customer_id("C1");
  ASSERT_OK(client->GetCustomer(request, out));
  EXPECT_EQ(out.str(), "{\n \"customer_id\": \"C1\",\n \"stage\": \"LIFECYCLE_STAGE_INTENT\"\n}\n");
  EXPECT_EQ(lifecycle_.authorization(), "Bearer s3cret");
}

TEST_F(ClientTest, NotFoundIsAServerError) {
  std::ostringstream out;
  v1::GetCustomerRequest request;
  request.set_customer_id("C404");
  const absl::Status status = client_->GetCustomer(request, out);
  EXPECT_EQ(ErrorLine(status), "error: NOT_FOUND: customer C404 not found");
  EXPECT_EQ(ExitCode(status), 2);
}

TEST_F(ClientTest, ListFollowsPagesWithAll) {
  v1::ListCustomersRequest request;
  request.mutable_filter()->set_region("华东");
  std::ostringstream out;
  std::ostringstream err;
  ASSERT_OK(client_->ListCustomers(request, {.all = true}, out, err));
  EXPECT_EQ(out.str(),
            "{\"customer_id\":\"C1\",\"region\":\"华东\"}\n"
            "{\"customer_id\":\"C2\",\"region\":\"华东\"}\n"
            "{\"customer_id\":\"C3\",\"region\":\"华东\"}\n"
            "{\"customer_id\":\"C4\",\"region\":\"华东\"}\n"
            "{\"customer_id\":\"C5\",\"region\":\"华东\"}\n");
  EXPECT_EQ(err.str(), "");
}

TEST_F(ClientTest, ListWithoutAllReportsTheNextPage) {
  std::ostringstream out;
  std::ostringstream err;
  ASSERT_OK(client_->ListCustomers({}, {}, out, err));
  EXPECT_EQ(out.str(), "{\"customer_id\":\"C1\"}\n{\"customer_id\":\"C2\"}\n");
  EXPECT_EQ(err.str(), "more: --page-token 3 (or --all)\n");
}

TEST_F(ClientTest, TailStopsAtTheLimit) {
  v1::SubscribeRequest request;
  request.set_from("earliest");
  std::ostringstream out;
  const absl::Status status = client_->Tail(request, {.limit = 3}, out);
  ASSERT_OK(status);
  EXPECT_EQ(out.str(),
            "{\"position\":{},\"event\":{\"event_id\":\"earliest-0\"},\"resume_token\":\"r0\"}\n"
            "{\"position\":{\"offset\":\"1\"},\"event\":{\"event_id\":\"earliest-1\"},"
            "\"resume_token\":\"r1\"}\n"
            "{\"position\":{\"offset\":\"2\"},\"event\":{\"event_id\":\"earliest-2\"},"
            "\"resume_token\":\"r2\"}\n");
}

TEST_F(ClientTest, TailEventsOnlyAndTimeoutEndsNormally) {
  ConnectionOptions options = Options();
  options.stream_timeout = absl::Milliseconds(300);
  std::unique_ptr<Client> client = Client::Connect(options);
  std::ostringstream out;
  const absl::Status status = client->Tail({}, {.events_only = true}, out);
  ASSERT_OK(status);
  EXPECT_THAT(out.str(), StartsWith("{\"event_id\":\"-0\"}\n{\"event_id\":\"-1\"}\n"));
}

TEST_F(ClientTest, StatusPrintsTables) {
  std::ostringstream out;
  ASSERT_OK(client_->ServerStatus(out));
  EXPECT_THAT(out.str(), HasSubstr("mode: embedded\n"));
  EXPECT_THAT(out.str(), HasSubstr("\nlifecycle "));
}

TEST_F(ClientTest, UnimplementedServiceIsAServerError) {
  std::ostringstream out;
  const absl::Status status = client_->StageSummary({}, out);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnimplemented));
  EXPECT_EQ(ExitCode(status), 2);
}

TEST_F(ClientTest, ListAsOneJsonObjectMergesEveryPage) {
  std::ostringstream out;
  std::ostringstream err;
  ASSERT_OK(client_->ListCustomers({}, {.all = true}, out, err, {.output = Output::kJson}));
  EXPECT_EQ(out.str(),
            "{\n \"customers\": [\n  {\n   \"customer_id\": \"C1\"\n  },\n  {\n   "
            "\"customer_id\": \"C2\"\n  },\n  {\n   \"customer_id\": \"C3\"\n  },\n  {\n   "
            "\"customer_id\": \"C4\"\n  },\n  {\n   \"customer_id\": \"C5\"\n  }\n ]\n}\n");
  EXPECT_EQ(err.str(), "");
}

TEST_F(ClientTest, ListAsATableReportsTheNextPage) {
  std::ostringstream out;
  std::ostringstream err;
  ASSERT_OK(
      client_->ListCustomers({}, {}, out, err, {.output = Output::kTable, .lang = Lang::kEn}));
  EXPECT_EQ(out.str(),
            "CUSTOMER  NAME  KIND  STAGE  REGION  INDUSTRY  OWNER  MAN  LAST ACTIVITY\n"
            "C1        —     —     —      —       —         —      —    —\n"
            "C2        —     —     —      —       —         —      —    —\n"
            "\n"
            "customers: 2\n");
  EXPECT_EQ(err.str(), "more: --page-token 3 (or --all)\n");
}

TEST_F(ClientTest, GetCustomerAsATable) {
  std::ostringstream out;
  v1::GetCustomerRequest request;
  request.set_customer_id("C1");
  ASSERT_OK(client_->GetCustomer(request, out, {.output = Output::kTable}));
  EXPECT_THAT(out.str(), StartsWith("客户 C1\n\n项目         字段                   值\n"
                                    "阶段         stage                  意向\n"));
}

TEST_F(ClientTest, SummaryAndStatusAsJson) {
  std::ostringstream out;
  ASSERT_OK(client_->ServerStatus(out, {.output = Output::kJson}));
  EXPECT_EQ(out.str(),
            "{\n \"mode\": \"embedded\",\n \"projections\": [\n  {\n   \"name\": "
            "\"lifecycle\"\n  }\n ]\n}\n");
  std::ostringstream line;
  ASSERT_OK(client_->ServerStatus(line, {.output = Output::kJsonLines}));
  EXPECT_EQ(line.str(), "{\"mode\":\"embedded\",\"projections\":[{\"name\":\"lifecycle\"}]}\n");
}

TEST_F(ClientTest, WorklistTableHasEveryPageWithAll) {
  v1::WorklistRequest request;
  request.set_region("华东");
  std::ostringstream out;
  std::ostringstream err;
  ASSERT_OK(client_->Worklist(request, {.all = true}, out, err));
  EXPECT_EQ(out.str(),
            "客户  客户名称  负责人  区域  事项      对象  时间  紧急\n"
            "W1    —         —       华东  生日关怀  —     —     —\n"
            "W2    —         —       华东  生日关怀  —     —     —\n"
            "W3    —         —       华东  生日关怀  —     —     —\n"
            "W4    —         —       华东  生日关怀  —     —     —\n"
            "W5    —         —       华东  生日关怀  —     —     —\n"
            "\n"
            "共 5 项, 5 个客户\n");
  EXPECT_EQ(err.str(), "");
  std::ostringstream lines;
  ASSERT_OK(client_->Worklist(request, {.all = true}, lines, err, {.output = Output::kJsonLines}));
  const std::string jsonl = lines.str();
  EXPECT_EQ(std::count(jsonl.begin(), jsonl.end(), '\n'), 5);
  EXPECT_THAT(jsonl, StartsWith("{\"customer_id\":\"W1\",\"reason\":\"BIRTHDAY\""));
}

TEST_F(ClientTest, ReviewReportAndTierSummaryDefaultToTables) {
  std::ostringstream out;
  ASSERT_OK(client_->GetReview({}, out));
  EXPECT_THAT(out.str(), HasSubstr("赢单率  win_rate  75.0%"));
  std::ostringstream tiers;
  ASSERT_OK(client_->TierSummary({}, tiers, {.lang = Lang::kEn}));
  EXPECT_THAT(tiers.str(), HasSubstr("GOLD           3  100.0%  ¥1,234.56  ¥2,345.67"));
}

TEST_F(ClientTest, RefitNeedsTheAdminRole) {
  std::ostringstream out;
  const absl::Status denied = client_->RefitClv({}, out);
  EXPECT_EQ(ErrorLine(denied), "error: PERMISSION_DENIED: RefitClv needs the admin role");
  EXPECT_EQ(ExitCode(denied), 2);
  ConnectionOptions options = Options();
  options.bearer_token = "admin";
  std::ostringstream json;
  ASSERT_OK(Client::Connect(options)->RefitClv({}, json, {.output = Output::kJson}));
  EXPECT_EQ(json.str(), "{\n \"customers\": \"10\"\n}\n");
}

TEST(ParseOutputTest, Names) {
  EXPECT_EQ(*ParseOutput("table"), Output::kTable);
  EXPECT_EQ(*ParseOutput("JSON"), Output::kJson);
  EXPECT_EQ(*ParseOutput("jsonl"), Output::kJsonLines);
  EXPECT_THAT(ParseOutput("yaml"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "--output: unknown output 'yaml' (one of table, json, jsonl)"));
  EXPECT_EQ(*ParseLang("en_US"), Lang::kEn);
  EXPECT_EQ(*ParseLang("zh-CN"), Lang::kZh);
  EXPECT_THAT(ParseLang("fr"),
              StatusIs(absl::StatusCode::kInvalidArgument, "unknown language 'fr' (zh or en)"));
}

TEST(ClientConnectionTest, NoServerIsAConnectionError) {
  // Nothing listens on port 1 of loopback.
  ConnectionOptions options;
  options.server = "127.0.0.1:1";
  options.timeout = absl::Seconds(5);
  std::unique_ptr<Client> client = Client::Connect(options);
  std::ostringstream out;
  const absl::Status status = client->ServerStatus(out);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_FALSE(IsServerError(status));
  EXPECT_EQ(ExitCode(status), 1);
  EXPECT_THAT(ErrorLine(status), StartsWith("error: UNAVAILABLE: "));
}

TEST(ExitCodeTest, Codes) {
  EXPECT_EQ(ExitCode(absl::OkStatus()), 0);
  EXPECT_EQ(ExitCode(absl::InvalidArgumentError("local")), 1);
  EXPECT_EQ(ExitCode(FromGrpcStatus(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "x"))), 2);
  EXPECT_EQ(ExitCode(FromGrpcStatus(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "x"))), 2);
  EXPECT_EQ(ExitCode(FromGrpcStatus(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "x"))), 1);
  EXPECT_OK(FromGrpcStatus(grpc::Status::OK));
}

TEST(EventIndexInErrorTest, Parses) {
  EXPECT_EQ(EventIndexInError("events[3].contract_signed.amount: bad"), 3);
  EXPECT_EQ(EventIndexInError("events[0]: x"), 0);
  EXPECT_EQ(EventIndexInError("events: at least one event required"), -1);
  EXPECT_EQ(EventIndexInError("events[]"), -1);
  EXPECT_EQ(EventIndexInError("events[12"), -1);
  EXPECT_EQ(EventIndexInError("event.x"), -1);
}

}  // namespace
}  // namespace custops::ctl
