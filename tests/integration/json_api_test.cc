// The JSON API (docs/json-api.md) against the real binary with the demo
// population and token auth: every unary method answers over HTTP exactly
// what it answers over gRPC for the same request; errors carry the Connect
// code and HTTP status of their gRPC code; tokens, roles and region scopes
// apply; hostile bodies are refused naming the cause; the subscriptions
// stream as Server-Sent Events; the console's files, /v1/whoami and the dev
// token are served; per-RPC metrics count both transports.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "custops/rpc/auth.h"
#include "custops/v1/admin.pb.h"
#include "custops/v1/commands.pb.h"
#include "custops/v1/ingest.pb.h"
#include "custops/v1/lifecycle.pb.h"
#include "custops/v1/review.pb.h"
#include "custops/v1/value.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "http_client.h"
#include "server_process.h"

namespace custops {
namespace {

namespace fs = std::filesystem;
namespace pb = google::protobuf;
using testing::HttpCall;
using testing::HttpGet;
using testing::HttpHeaders;
using testing::HttpReply;

constexpr char kSecret[] = "custops-json-api-test-secret-0123456789";
constexpr char kClock[] = "2026-11-23T00:00:00Z";

std::string Mint(const std::string& subject, std::vector<std::string> roles,
                 std::optional<std::vector<std::string>> regions = std::nullopt) {
  rpc::MintRequest claims;
  claims.subject = subject;
  claims.roles = std::move(roles);
  claims.regions = std::move(regions);
  claims.expires = absl::Now() + absl::Hours(2);
  absl::StatusOr<std::string> jwt = rpc::MintHs256(kSecret, claims);
  EXPECT_TRUE(jwt.ok()) << jwt.status();
  return jwt.ok() ? *jwt : std::string();
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteFile(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

// The gRPC code a Connect code names.
const std::map<std::string, grpc::StatusCode>& ConnectCodes() {
  static const auto* codes = new std::map<std::string, grpc::StatusCode>{
      {"canceled", grpc::StatusCode::CANCELLED},
      {"unknown", grpc::StatusCode::UNKNOWN},
      {"invalid_argument", grpc::StatusCode::INVALID_ARGUMENT},
      {"deadline_exceeded", grpc::StatusCode::DEADLINE_EXCEEDED},
      {"not_found", grpc::StatusCode::NOT_FOUND},
      {"already_exists", grpc::StatusCode::ALREADY_EXISTS},
      {"permission_denied", grpc::StatusCode::PERMISSION_DENIED},
      {"resource_exhausted", grpc::StatusCode::RESOURCE_EXHAUSTED},
      {"failed_precondition", grpc::StatusCode::FAILED_PRECONDITION},
      {"aborted", grpc::StatusCode::ABORTED},
      {"out_of_range", grpc::StatusCode::OUT_OF_RANGE},
      {"unimplemented", grpc::StatusCode::UNIMPLEMENTED},
      {"internal", grpc::StatusCode::INTERNAL},
      {"unavailable", grpc::StatusCode::UNAVAILABLE},
      {"data_loss", grpc::StatusCode::DATA_LOSS},
      {"unauthenticated", grpc::StatusCode::UNAUTHENTICATED}};
  return *codes;
}

// The HTTP status the Connect protocol gives a gRPC code.
int HttpStatusOf(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return 200;
    case grpc::StatusCode::CANCELLED:
      return 499;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::OUT_OF_RANGE:
      return 400;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return 504;
    case grpc::StatusCode::NOT_FOUND:
      return 404;
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED:
      return 409;
    case grpc::StatusCode::PERMISSION_DENIED:
      return 403;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return 429;
    case grpc::StatusCode::UNIMPLEMENTED:
      return 501;
    case grpc::StatusCode::UNAVAILABLE:
      return 503;
    case grpc::StatusCode::UNAUTHENTICATED:
      return 401;
    default:
      return 500;
  }
}

struct ConnectError {
  std::string code;
  std::string message;
};

// Parses Connect error JSON; nullopt when `body` is not one.
std::optional<ConnectError> ParseError(const std::string& body) {
  pb::Struct s;
  if (!pb::util::JsonStringToMessage(body, &s).ok()) return std::nullopt;
  auto code = s.fields().find("code");
  auto message = s.fields().find("message");
  if (code == s.fields().end()) return std::nullopt;
  return ConnectError{code->second.string_value(),
                      message == s.fields().end() ? "" : message->second.string_value()};
}

struct GrpcAnswer {
  grpc::Status status;
  std::string bytes;
};

GrpcAnswer GrpcUnary(grpc::GenericStub& stub, const std::string& method, const std::string& bytes,
                     const std::string& token) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  absl::Notification done;
  GrpcAnswer answer;
  stub.UnaryCall(&ctx, "/" + method, grpc::StubOptions(), &request, &response, [&](grpc::Status s) {
    answer.status = std::move(s);
    done.Notify();
  });
  done.WaitForNotification();
  if (answer.status.ok()) {
    std::vector<grpc::Slice> slices;
    EXPECT_TRUE(response.Dump(&slices).ok());
    for (const grpc::Slice& s : slices) {
      answer.bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
  }
  return answer;
}

// Every unary method of the public contract (custops.v1 and health), as
// "package.Service/Method".
std::vector<const pb::MethodDescriptor*> UnaryMethods() {
  // Referenced so that the linker keeps every file's descriptors.
  for (const pb::Descriptor* d :
       {v1::AppendRequest::descriptor(), v1::AcceptQuoteRequest::descriptor(),
        v1::GetCustomerRequest::descriptor(), v1::GetValueRequest::descriptor(),
        v1::GetReviewRequest::descriptor(), v1::StatusRequest::descriptor(),
        ::grpc::health::v1::HealthCheckRequest::descriptor()}) {
    EXPECT_NE(d, nullptr);
  }
  std::vector<const pb::MethodDescriptor*> out;
  const pb::DescriptorPool* pool = pb::DescriptorPool::generated_pool();
  for (const char* file :
       {"custops/v1/ingest.proto", "custops/v1/commands.proto", "custops/v1/lifecycle.proto",
        "custops/v1/value.proto", "custops/v1/review.proto", "custops/v1/admin.proto",
        "grpc/health/v1/health.proto"}) {
    const pb::FileDescriptor* f = pool->FindFileByName(file);
    EXPECT_NE(f, nullptr) << file;
    if (f == nullptr) continue;
    for (int s = 0; s < f->service_count(); ++s) {
      for (int m = 0; m < f->service(s)->method_count(); ++m) {
        const pb::MethodDescriptor* method = f->service(s)->method(m);
        if (!method->server_streaming()) out.push_back(method);
      }
    }
  }
  return out;
}

std::string NameOf(const pb::MethodDescriptor* m) {
  return absl::StrCat(m->service()->full_name(), "/", m->name());
}

class JsonApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() /
                        absl::StrCat("custops_json_api_test_", ::getpid()));
    fs::remove_all(*dir_);
    fs::create_directories(*dir_ / "data");
    WriteFile(*dir_ / "jwt.key", std::string(kSecret) + "\n");
    admin_ = new std::string(Mint("ops-admin", {"admin"}));
    // The console's files: a stand-in build (the real one is tested in a
    // browser, tests/console).
    WriteFile(*dir_ / "console/index.html", "<!doctype html><title>custops</title>");
    WriteFile(*dir_ / "console/assets/app-3f2a.js", "console.log('custops');");
    WriteFile(*dir_ / "console/assets/app-3f2a.js.gz", std::string("\x1f\x8b fake gzip", 12));
    WriteFile(*dir_ / "dev.token", *admin_ + "\n");
    WriteFile(*dir_ / "secret.txt", "not for the web");
    http_port_ = testing::FreePort();
    server_ = new testing::ServerProcess(
        CUSTOPS_BINARY,
        {"--data-dir", (*dir_ / "data").string(), "--fixed-clock", kClock, "--partitions", "4",
         "--sync", "false", "--demo", "--demo-customers", "300", "--jwt-hs256-secret-file",
         (*dir_ / "jwt.key").string(), "--http-listen", absl::StrCat("127.0.0.1:", http_port_),
         "--console-dir", (*dir_ / "console").string(), "--console-dev-token-file",
         (*dir_ / "dev.token").string()});
    server_->set_probe_token(*admin_);
    server_->set_stdout_file((*dir_ / "stdout.log").string());
    ASSERT_TRUE(server_->Start().ok());
    // The demo loads after the server starts; its line ends the load.
    const absl::Time deadline = absl::Now() + absl::Seconds(240);
    // ("ready." without it: the load failed, see stderr.)
    while (!absl::StrContains(ReadFile(*dir_ / "stdout.log"), "demo data:") &&
           !absl::StrContains(ReadFile(*dir_ / "stdout.log"), "ready.") && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(100));
    }
    ASSERT_TRUE(absl::StrContains(ReadFile(*dir_ / "stdout.log"), "demo data:"));
    // Every projection has applied every event (the answers compared below
    // must not move while they are compared).
    bool caught_up = false;
    while (!caught_up && absl::Now() < deadline) {
      HttpReply status = Post("custops.v1.Admin/Status", "{}", *admin_);
      v1::StatusResponse response;
      caught_up = status.status == 200 &&
                  pb::util::JsonStringToMessage(status.body, &response).ok() &&
                  response.projections_size() > 0;
      for (const v1::ProjectionStatus& p : response.projections()) {
        for (const v1::PartitionStatus& partition : p.partitions()) {
          caught_up = caught_up && partition.lag() == 0 && !partition.restoring();
        }
        caught_up = caught_up && p.outbox_pending() == 0;
      }
      if (!caught_up) absl::SleepFor(absl::Milliseconds(200));
    }
    ASSERT_TRUE(caught_up);
    // And the value projection has published its first population.
    bool ranked = false;
    while (!ranked && absl::Now() < deadline) {
      HttpReply value = Post("custops.v1.Value/ListCustomers", R"({"pageSize": 1})", *admin_);
      ranked = value.status == 200 && absl::StrContains(value.body, "customerId");
      if (!ranked) absl::SleepFor(absl::Milliseconds(200));
    }
    ASSERT_TRUE(ranked);
  }

  static void TearDownTestSuite() {
    if (server_) server_->Stop();
    delete server_;
    server_ = nullptr;
    fs::remove_all(*dir_);
    delete dir_;
    delete admin_;
  }

  static HttpReply Post(const std::string& method, const std::string& json,
                        const std::string& token, HttpHeaders extra = {}) {
    HttpHeaders headers = {{"Content-Type", "application/json"}};
    if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
    headers.insert(headers.end(), extra.begin(), extra.end());
    return HttpCall(http_port_, "POST", "/" + method, headers, json, absl::Seconds(30));
  }

  // A region of the demo and customers in and out of it.
  struct Regions {
    std::string region;
    std::string inside;   // a customer of `region`
    std::string outside;  // a customer of another region
    std::string valued;   // a customer the value projection ranks
  };
  static Regions FindRegions() {
    Regions r;
    HttpReply list = Post("custops.v1.Lifecycle/ListCustomers", R"({"pageSize": 1000})", *admin_);
    EXPECT_EQ(list.status, 200) << list.body;
    v1::ListCustomersResponse customers;
    EXPECT_TRUE(pb::util::JsonStringToMessage(list.body, &customers).ok());
    for (const v1::CustomerSummary& c : customers.customers()) {
      if (c.region().empty()) continue;
      if (r.region.empty()) {
        r.region = c.region();
        r.inside = c.customer_id();
      } else if (c.region() != r.region && r.outside.empty()) {
        r.outside = c.customer_id();
      }
    }
    EXPECT_FALSE(r.outside.empty());
    HttpReply value = Post("custops.v1.Value/ListCustomers", R"({"pageSize": 1})", *admin_);
    v1::ListValueCustomersResponse valued;
    EXPECT_TRUE(pb::util::JsonStringToMessage(value.body, &valued).ok()) << value.body;
    if (valued.customers_size() > 0) r.valued = valued.customers(0).customer_id();
    EXPECT_FALSE(r.valued.empty());
    return r;
  }

  static fs::path* dir_;
  static std::string* admin_;
  static int http_port_;
  static testing::ServerProcess* server_;
};

fs::path* JsonApiTest::dir_ = nullptr;
std::string* JsonApiTest::admin_ = nullptr;
int JsonApiTest::http_port_ = 0;
testing::ServerProcess* JsonApiTest::server_ = nullptr;

// The queries answer the same message over both transports. Methods that
// change state (commands, appends, the refit) are called with an empty
// request, which every one of them refuses the same way on both.
TEST_F(JsonApiTest, EveryUnaryMethodAnswersAsOverGrpc) {
  const Regions regions = FindRegions();
  const std::string period = R"("2026-10-01T00:00:00+08:00")";
  const std::map<std::string, std::string> queries = {
      {"custops.v1.Lifecycle/GetCustomer",
       absl::StrCat(R"({"customerId":")", regions.inside, R"("})")},
      {"custops.v1.Lifecycle/ListCustomers",
       R"({"pageSize":50,"filter":{"region":")" + regions.region + R"("}})"},
      {"custops.v1.Lifecycle/StageSummary", R"({"dimension":"DIMENSION_REGION"})"},
      {"custops.v1.Lifecycle/Timeline",
       absl::StrCat(R"({"customer_id":")", regions.inside, R"(","pageSize":20})")},
      {"custops.v1.Value/GetValue", absl::StrCat(R"({"customerId":")", regions.valued, R"("})")},
      {"custops.v1.Value/ListCustomers", R"({"pageSize":50})"},
      {"custops.v1.Value/TierSummary", R"({"dimension":"DIMENSION_REGION"})"},
      {"custops.v1.Value/Pareto", R"({})"},
      {"custops.v1.Value/GetClvModel", R"({})"},
      {"custops.v1.Review/GetReview",
       absl::StrCat(R"({"granularity":"GRANULARITY_MONTH","periodStart":)", period, "}")},
      {"custops.v1.Review/Funnel",
       absl::StrCat(R"({"period":{"granularity":"GRANULARITY_MONTH","start":)", period,
                    R"(},"dimension":"DIMENSION_REGION"})")},
      {"custops.v1.Review/Worklist", absl::StrCat(R"({"region":")", regions.region, R"("})")},
      {"custops.v1.Review/CompareReview",
       absl::StrCat(R"({"granularity":"GRANULARITY_MONTH","periodStart":)", period,
                    R"(,"dimension":"DIMENSION_OWNER"})")},
      {"custops.v1.Review/CustomerActivity",
       absl::StrCat(R"({"customerId":")", regions.inside, R"("})")},
      {"custops.v1.Admin/Status", R"({})"},
      {"custops.v1.Admin/ListDeadLetters", R"({"pageSize":10})"},
      {"custops.v1.Admin/ReplayDeadLetters", R"({"projection":"lifecycle"})"},
      {"grpc.health.v1.Health/Check", R"({})"},
  };
  grpc::GenericStub stub(server_->Channel());
  int compared = 0;
  for (const pb::MethodDescriptor* method : UnaryMethods()) {
    const std::string name = NameOf(method);
    SCOPED_TRACE(name);
    const bool query = queries.contains(name);
    const std::string json = query ? queries.at(name) : "{}";
    // A query service's method must have a real request here. Rebuild
    // starts work: its second call would answer a later moment of it, so
    // the two transports are compared on a refusal (rebuild_test calls it).
    for (const char* service : {"Lifecycle/", "Value/", "Review/", "Admin/"}) {
      if (absl::StrContains(name, service) && name != "custops.v1.Value/RefitClv" &&
          name != "custops.v1.Admin/Rebuild") {
        EXPECT_TRUE(query) << "no sample request for " << name;
      }
    }
    pb::DynamicMessageFactory factory;
    std::unique_ptr<pb::Message> request(factory.GetPrototype(method->input_type())->New());
    ASSERT_TRUE(pb::util::JsonStringToMessage(json, request.get()).ok()) << json;
    const GrpcAnswer grpc_answer = GrpcUnary(stub, name, request->SerializeAsString(), *admin_);
    const HttpReply http = Post(name, json, *admin_);
    if (query) {
      ASSERT_TRUE(grpc_answer.status.ok()) << grpc_answer.status.error_message();
      ASSERT_EQ(http.status, 200) << http.body;
      EXPECT_EQ(http.Header("content-type"), "application/json");
      std::unique_ptr<pb::Message> over_http(factory.GetPrototype(method->output_type())->New());
      ASSERT_TRUE(pb::util::JsonStringToMessage(http.body, over_http.get()).ok()) << http.body;
      std::unique_ptr<pb::Message> over_grpc(factory.GetPrototype(method->output_type())->New());
      ASSERT_TRUE(over_grpc->ParseFromString(grpc_answer.bytes));
      std::string diff;
      pb::util::MessageDifferencer differ;
      differ.ReportDifferencesToString(&diff);
      EXPECT_TRUE(differ.Compare(*over_grpc, *over_http)) << diff;
      EXPECT_EQ(over_http->SerializeAsString(), grpc_answer.bytes);
      ++compared;
      continue;
    }
    // A change of state refused alike on both.
    ASSERT_FALSE(grpc_answer.status.ok() && name != "custops.v1.Value/RefitClv")
        << "an empty " << name << " was accepted";
    if (grpc_answer.status.ok()) {
      EXPECT_EQ(http.status, 200);
      continue;
    }
    EXPECT_EQ(http.status, HttpStatusOf(grpc_answer.status.error_code())) << http.body;
    std::optional<ConnectError> error = ParseError(http.body);
    ASSERT_TRUE(error.has_value()) << http.body;
    ASSERT_TRUE(ConnectCodes().contains(error->code)) << error->code;
    EXPECT_EQ(ConnectCodes().at(error->code), grpc_answer.status.error_code());
    EXPECT_EQ(error->message, grpc_answer.status.error_message());
  }
  EXPECT_EQ(compared, static_cast<int>(queries.size()));

  // The binary form of the Connect protocol answers the same bytes.
  HttpReply proto =
      HttpCall(http_port_, "POST", "/custops.v1.Lifecycle/StageSummary",
               {{"Content-Type", "application/proto"}, {"Authorization", "Bearer " + *admin_}},
               std::string(), absl::Seconds(30));
  ASSERT_EQ(proto.status, 200);
  EXPECT_EQ(proto.Header("content-type"), "application/proto");
  const GrpcAnswer summary = GrpcUnary(stub, "custops.v1.Lifecycle/StageSummary", "", *admin_);
  EXPECT_EQ(proto.body, summary.bytes);
}

TEST_F(JsonApiTest, ErrorsCarryTheConnectCodeAndStatus) {
  struct Case {
    std::string method, body;
    int status;
    std::string code, message_part;
    HttpHeaders headers = {};
  };
  const std::vector<Case> cases = {
      {"custops.v1.Lifecycle/GetCustomer", R"({"customerId":"NO-SUCH"})", 404, "not_found",
       "NO-SUCH"},
      {"custops.v1.Lifecycle/GetCustomer", R"({})", 400, "invalid_argument", "customer_id"},
      // The JSON names the field at fault.
      {"custops.v1.Lifecycle/GetCustomer", R"({"customerId": 5})", 400, "invalid_argument",
       "customer_id"},
      {"custops.v1.Lifecycle/GetCustomer", R"({"customerNumber":"C1"})", 400, "invalid_argument",
       "customerNumber"},
      {"custops.v1.Review/GetReview", R"({"granularity":"GRANULARITY_FORTNIGHT"})", 400,
       "invalid_argument", "granularity"},
      {"custops.v1.Review/GetReview",
       R"({"granularity":"GRANULARITY_MONTH","periodStart":"0001-01-01T00:00:00Z"})", 400,
       "invalid_argument", "0001-01-01"},
      {"custops.v1.Lifecycle/GetCustomer", R"({"customerId":"C1")", 400, "invalid_argument",
       "GetCustomerRequest"},
      {"custops.v1.Lifecycle/GetCustomer", "[1,2,3]", 400, "invalid_argument",
       "GetCustomerRequest"},
      // A command on something that does not exist.
      {"custops.v1.Deals/AcceptQuote",
       R"({"requestId":"json-api-1","customerId":"C000001","quoteId":"Q-NONE",
           "occurredAt":"2026-11-01T00:00:00Z"})",
       404, "not_found", "Q-NONE"},
      {"custops.v1.Lifecycle/GetCustomer",
       R"({"customerId":"C1"})",
       400,
       "invalid_argument",
       "connect-timeout-ms",
       {{"Connect-Timeout-Ms", "soon"}}},
      {"custops.v1.Lifecycle/GetCustomer",
       R"({"customerId":"C1"})",
       501,
       "unimplemented",
       "content-encoding",
       {{"Content-Encoding", "br"}}},
      {"custops.v1.NoSuch/Method", R"({})", 501, "unimplemented", "custops.v1.NoSuch/Method"},
      {"custops.v1.Subscriptions/Subscribe", R"({})", 501, "unimplemented", "/v1/subscribe"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.method + " " + c.body);
    HttpReply r = Post(c.method, c.body, *admin_, c.headers);
    EXPECT_EQ(r.status, c.status) << r.body;
    std::optional<ConnectError> error = ParseError(r.body);
    ASSERT_TRUE(error.has_value()) << r.body;
    EXPECT_EQ(error->code, c.code) << error->message;
    EXPECT_TRUE(absl::StrContains(error->message, c.message_part)) << error->message;
  }
  // Only POST with JSON or protobuf bodies.
  HttpReply get = HttpGet(http_port_, "/custops.v1.Lifecycle/StageSummary", *admin_);
  EXPECT_EQ(get.status, 405);
  EXPECT_EQ(get.Header("allow"), "POST");
  HttpReply form = HttpCall(http_port_, "POST", "/custops.v1.Lifecycle/StageSummary",
                            {{"Content-Type", "application/x-www-form-urlencoded"},
                             {"Authorization", "Bearer " + *admin_}},
                            "a=b");
  EXPECT_EQ(form.status, 415);
  EXPECT_EQ(form.Header("accept-post"), "application/json, application/proto");
  // A page that is not part of the API.
  EXPECT_EQ(HttpGet(http_port_, "/no/such/page").status, 404);
}

TEST_F(JsonApiTest, TokensRolesAndRegionScopesApply) {
  const Regions regions = FindRegions();
  const std::string reader = Mint("reader-1", {"reader"});
  const std::string emitter = Mint("emitter-1", {"emitter"});
  const std::string scoped = Mint("manager-1", {"reader"}, std::vector{regions.region});
  const std::string get_inside = R"({"customerId":")" + regions.inside + R"("})";
  const std::string get_outside = R"({"customerId":")" + regions.outside + R"("})";

  HttpReply none = Post("custops.v1.Lifecycle/GetCustomer", get_inside, "");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.Header("www-authenticate"), "Bearer");
  EXPECT_EQ(ParseError(none.body)->code, "unauthenticated");
  HttpReply forged = Post("custops.v1.Lifecycle/GetCustomer", get_inside, admin_->substr(0, 40));
  EXPECT_EQ(forged.status, 401);
  EXPECT_EQ(Post("custops.v1.Lifecycle/GetCustomer", get_inside, reader).status, 200);
  // A role that does not allow the method.
  HttpReply refit = Post("custops.v1.Value/RefitClv", "{}", reader);
  EXPECT_EQ(refit.status, 403);
  EXPECT_EQ(ParseError(refit.body)->code, "permission_denied");
  EXPECT_EQ(Post("custops.v1.Lifecycle/GetCustomer", get_inside, emitter).status, 403);
  // A body is not even parsed for a caller without a token.
  HttpReply garbage = Post("custops.v1.Lifecycle/GetCustomer", "{{{", "");
  EXPECT_EQ(garbage.status, 401);

  // Region scope: another region's customer does not exist.
  EXPECT_EQ(Post("custops.v1.Lifecycle/GetCustomer", get_inside, scoped).status, 200);
  HttpReply outside = Post("custops.v1.Lifecycle/GetCustomer", get_outside, scoped);
  EXPECT_EQ(outside.status, 404);
  EXPECT_EQ(ParseError(outside.body)->code, "not_found");
  EXPECT_EQ(Post("custops.v1.Value/GetValue", get_outside, scoped).status, 404);
  HttpReply list = Post("custops.v1.Lifecycle/ListCustomers", R"({"pageSize":1000})", scoped);
  ASSERT_EQ(list.status, 200);
  v1::ListCustomersResponse customers;
  ASSERT_TRUE(pb::util::JsonStringToMessage(list.body, &customers).ok());
  ASSERT_GT(customers.customers_size(), 0);
  for (const v1::CustomerSummary& c : customers.customers()) EXPECT_EQ(c.region(), regions.region);
  HttpReply review = Post("custops.v1.Review/GetReview",
                          R"({"granularity":"GRANULARITY_MONTH","dimension":"DIMENSION_OWNER",
                              "dimensionValue":"someone"})",
                          scoped);
  EXPECT_EQ(review.status, 403);

  // Who am I.
  HttpReply who = HttpGet(http_port_, "/v1/whoami", scoped);
  ASSERT_EQ(who.status, 200);
  pb::Struct me;
  ASSERT_TRUE(pb::util::JsonStringToMessage(who.body, &me).ok()) << who.body;
  EXPECT_EQ(me.fields().at("subject").string_value(), "manager-1");
  EXPECT_TRUE(me.fields().at("auth").bool_value());
  ASSERT_EQ(me.fields().at("regions").list_value().values_size(), 1);
  EXPECT_EQ(me.fields().at("regions").list_value().values(0).string_value(), regions.region);
  EXPECT_EQ(me.fields().at("roles").list_value().values(0).string_value(), "reader");
  EXPECT_EQ(HttpGet(http_port_, "/v1/whoami").status, 401);
  // Health needs no token.
  EXPECT_EQ(Post("grpc.health.v1.Health/Check", "{}", "").status, 200);
}

// Nothing a client sends over HTTP crashes or stalls the server: every
// method refuses undecodable bodies as invalid_argument, never 5xx.
TEST_F(JsonApiTest, HostileBodiesAreRefusedNamingTheCause) {
  const std::vector<std::string> bodies = {"\x01\x02\x03garbage",
                                           "{\"customerId\":\"\xff\xfe\"}",
                                           std::string(200, '['),
                                           std::string(20000, '[') + std::string(20000, ']'),
                                           "{\"a\":",
                                           "null",
                                           "\"str\""};
  for (const pb::MethodDescriptor* method : UnaryMethods()) {
    const std::string name = NameOf(method);
    for (const std::string& body : bodies) {
      SCOPED_TRACE(name + " " + body.substr(0, 20));
      HttpReply r = Post(name, body, *admin_);
      ASSERT_EQ(r.status, 400) << r.body;
      std::optional<ConnectError> error = ParseError(r.body);
      ASSERT_TRUE(error.has_value()) << r.body;
      EXPECT_EQ(error->code, "invalid_argument");
      EXPECT_FALSE(error->message.empty());
    }
  }
  // Invalid protobuf bytes in the binary form name the field.
  HttpReply bad_utf8 =
      HttpCall(http_port_, "POST", "/custops.v1.Lifecycle/GetCustomer",
               {{"Content-Type", "application/proto"}, {"Authorization", "Bearer " + *admin_}},
               std::string("\x0a\x02\xff\xfe", 4));
  EXPECT_EQ(bad_utf8.status, 400);
  EXPECT_TRUE(absl::StrContains(ParseError(bad_utf8.body)->message, "customer_id: invalid UTF-8"))
      << bad_utf8.body;
  // A body over the limit is refused before it is read.
  HttpReply huge = Post("custops.v1.Lifecycle/GetCustomer",
                        R"({"customerId":")" + std::string(5 << 20, 'x') + R"("})", *admin_);
  EXPECT_EQ(huge.status, 413);
  // The server still answers.
  EXPECT_EQ(Post("custops.v1.Lifecycle/StageSummary", "{}", *admin_).status, 200);
}

TEST_F(JsonApiTest, SubscriptionsStreamAsServerSentEvents) {
  const Regions regions = FindRegions();
  testing::SseReader sse(http_port_, "/v1/changes?from=earliest", *admin_);
  ASSERT_EQ(sse.reply().status, 200) << sse.reply().body;
  EXPECT_TRUE(absl::StartsWith(sse.reply().Header("content-type"), "text/event-stream"));
  std::vector<testing::SseEvent> events;
  for (int i = 0; i < 5; ++i) {
    std::optional<testing::SseEvent> e = sse.Next(absl::Seconds(20));
    ASSERT_TRUE(e.has_value());
    events.push_back(*e);
  }
  for (const testing::SseEvent& e : events) {
    v1::ChangeRecord record;
    ASSERT_TRUE(pb::util::JsonStringToMessage(e.data, &record).ok()) << e.data;
    EXPECT_EQ(e.id, record.resume_token());
    EXPECT_FALSE(record.change().customer_id().empty());
  }
  sse.Close();
  // Resuming after the second event (as a reconnecting EventSource does
  // with Last-Event-ID) repeats neither of the first two: on each partition
  // it goes on past what they delivered.
  {
    std::map<int, int64_t> delivered;  // partition -> last offset seen
    for (int i = 0; i < 2; ++i) {
      v1::ChangeRecord seen;
      ASSERT_TRUE(pb::util::JsonStringToMessage(events[i].data, &seen).ok());
      delivered[seen.position().partition()] = seen.position().offset();
    }
    testing::SseReader resumed(http_port_, "/v1/changes", *admin_,
                               {{"Last-Event-ID", events[1].id}});
    ASSERT_EQ(resumed.reply().status, 200);
    for (int i = 0; i < 3; ++i) {
      std::optional<testing::SseEvent> next = resumed.Next(absl::Seconds(20));
      ASSERT_TRUE(next.has_value());
      v1::ChangeRecord record;
      ASSERT_TRUE(pb::util::JsonStringToMessage(next->data, &record).ok());
      auto it = delivered.find(record.position().partition());
      if (it != delivered.end()) {
        EXPECT_GT(record.position().offset(), it->second);
      }
      delivered[record.position().partition()] = record.position().offset();
    }
  }
  // Events of one customer, by type.
  {
    testing::SseReader one(
        http_port_,
        "/v1/subscribe?from=earliest&types=customer_registered&customer_ids=" + regions.inside,
        *admin_);
    std::optional<testing::SseEvent> e = one.Next(absl::Seconds(20));
    ASSERT_TRUE(e.has_value());
    v1::EventRecord record;
    ASSERT_TRUE(pb::util::JsonStringToMessage(e->data, &record).ok()) << e->data;
    EXPECT_EQ(record.event().customer_id(), regions.inside);
    EXPECT_TRUE(record.event().has_customer_registered());
  }
  // A region-scoped token receives only its region's customers.
  {
    const std::string scoped = Mint("manager-2", {"reader"}, std::vector{regions.region});
    HttpReply list =
        Post("custops.v1.Lifecycle/ListCustomers",
             R"({"pageSize":1000,"filter":{"region":")" + regions.region + R"("}})", *admin_);
    v1::ListCustomersResponse in_region;
    ASSERT_TRUE(pb::util::JsonStringToMessage(list.body, &in_region).ok());
    std::set<std::string> ids;
    for (const auto& c : in_region.customers()) ids.insert(c.customer_id());
    testing::SseReader scoped_stream(http_port_, "/v1/subscribe?from=earliest", scoped);
    for (int i = 0; i < 20; ++i) {
      std::optional<testing::SseEvent> e = scoped_stream.Next(absl::Seconds(20));
      ASSERT_TRUE(e.has_value());
      v1::EventRecord record;
      ASSERT_TRUE(pb::util::JsonStringToMessage(e->data, &record).ok());
      EXPECT_TRUE(ids.contains(record.event().customer_id())) << record.event().customer_id();
    }
  }
  // Refusals come before the stream starts, as Connect error JSON.
  testing::SseReader bad(http_port_, "/v1/subscribe?types=no_such_event", *admin_);
  EXPECT_EQ(bad.reply().status, 400);
  EXPECT_TRUE(absl::StrContains(ParseError(bad.reply().body)->message, "event_types[0]"));
  testing::SseReader bad_utf8(http_port_, "/v1/subscribe?customer_ids=%ff%fe", *admin_);
  EXPECT_EQ(bad_utf8.reply().status, 400);
  EXPECT_EQ(ParseError(bad_utf8.reply().body)->message, "customer_ids: invalid UTF-8");
  testing::SseReader anonymous(http_port_, "/v1/changes");
  EXPECT_EQ(anonymous.reply().status, 401);
  HttpReply post =
      HttpCall(http_port_, "POST", "/v1/changes", {{"Authorization", "Bearer " + *admin_}}, "{}");
  EXPECT_EQ(post.status, 405);
}

// Idle SSE streams hold no serving thread: with 300 open, a call answers.
TEST_F(JsonApiTest, IdleStreamsHoldNoThread) {
  std::vector<std::unique_ptr<testing::SseReader>> idle;
  for (int i = 0; i < 300; ++i) {
    idle.push_back(
        std::make_unique<testing::SseReader>(http_port_, "/v1/changes?from=latest", *admin_));
    ASSERT_EQ(idle.back()->reply().status, 200);
  }
  const absl::Time start = absl::Now();
  HttpReply r = Post("custops.v1.Lifecycle/StageSummary", "{}", *admin_);
  const absl::Duration took = absl::Now() - start;
  std::cout << "StageSummary over HTTP with 300 idle SSE streams: "
            << absl::ToDoubleMilliseconds(took) << " ms" << std::endl;
  EXPECT_EQ(r.status, 200);
  EXPECT_LT(took, absl::Seconds(2));
}

TEST_F(JsonApiTest, ServesTheConsoleAndItsDevToken) {
  HttpReply index = HttpGet(http_port_, "/");
  ASSERT_EQ(index.status, 200);
  EXPECT_EQ(index.body, "<!doctype html><title>custops</title>");
  EXPECT_EQ(index.Header("content-type"), "text/html; charset=utf-8");
  EXPECT_TRUE(absl::StrContains(index.Header("content-security-policy"), "default-src 'self'"));
  EXPECT_EQ(index.Header("cache-control"), "no-cache");
  // A revalidation of an unchanged page.
  HttpReply again = HttpCall(http_port_, "GET", "/", {{"If-None-Match", index.Header("etag")}});
  EXPECT_EQ(again.status, 304);

  HttpReply gz = HttpCall(http_port_, "GET", "/assets/app-3f2a.js", {{"Accept-Encoding", "gzip"}});
  ASSERT_EQ(gz.status, 200);
  EXPECT_EQ(gz.Header("content-encoding"), "gzip");
  EXPECT_EQ(gz.body, std::string("\x1f\x8b fake gzip", 12));
  EXPECT_TRUE(absl::StrContains(gz.Header("cache-control"), "immutable"));
  HttpReply plain = HttpGet(http_port_, "/assets/app-3f2a.js");
  EXPECT_EQ(plain.body, "console.log('custops');");
  EXPECT_EQ(plain.Header("content-encoding"), "");
  EXPECT_EQ(plain.Header("content-type"), "text/javascript; charset=utf-8");
  // Only the loaded files: no way out of the directory.
  EXPECT_EQ(HttpGet(http_port_, "/../secret.txt").status, 404);
  EXPECT_EQ(HttpGet(http_port_, "/assets/../../secret.txt").status, 404);
  EXPECT_EQ(HttpGet(http_port_, "/%2e%2e/secret.txt").status, 404);

  // The dev token, to this loopback client.
  HttpReply dev = HttpGet(http_port_, "/v1/console/dev-token");
  ASSERT_EQ(dev.status, 200);
  pb::Struct token;
  ASSERT_TRUE(pb::util::JsonStringToMessage(dev.body, &token).ok());
  EXPECT_EQ(token.fields().at("token").string_value(), *admin_);
  EXPECT_EQ(dev.Header("cache-control"), "no-store");
}

TEST_F(JsonApiTest, HealthIsInReflectionAndWatchable) {
  using ::grpc::health::v1::HealthCheckRequest;
  using ::grpc::health::v1::HealthCheckResponse;
  grpc::GenericStub stub(server_->Channel());
  HealthCheckRequest overall;
  GrpcAnswer check =
      GrpcUnary(stub, "grpc.health.v1.Health/Check", overall.SerializeAsString(), "");
  ASSERT_TRUE(check.status.ok()) << check.status.error_message();
  HealthCheckResponse status;
  ASSERT_TRUE(status.ParseFromString(check.bytes));
  EXPECT_EQ(status.status(), HealthCheckResponse::SERVING);
  HealthCheckRequest review;
  review.set_service("custops.v1.Review");
  check = GrpcUnary(stub, "grpc.health.v1.Health/Check", review.SerializeAsString(), "");
  ASSERT_TRUE(check.status.ok());
  ASSERT_TRUE(status.ParseFromString(check.bytes));
  EXPECT_EQ(status.status(), HealthCheckResponse::SERVING);
  HealthCheckRequest unknown;
  unknown.set_service("no.such.Service");
  check = GrpcUnary(stub, "grpc.health.v1.Health/Check", unknown.SerializeAsString(), "");
  EXPECT_EQ(check.status.error_code(), grpc::StatusCode::NOT_FOUND);

  // Watch: the status now, as the first message of the stream.
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto watch = ::grpc::health::v1::Health::NewStub(server_->Channel());
  std::unique_ptr<grpc::ClientReader<HealthCheckResponse>> reader = watch->Watch(&ctx, overall);
  HealthCheckResponse first;
  ASSERT_TRUE(reader->Read(&first));
  EXPECT_EQ(first.status(), HealthCheckResponse::SERVING);
  ctx.TryCancel();
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

// Large answers travel gzipped to clients that accept it, and decode to
// the same JSON.
TEST_F(JsonApiTest, LargeAnswersAreGzippedWhenAccepted) {
  const std::string list = R"({"pageSize":500})";
  HttpReply plain = Post("custops.v1.Lifecycle/ListCustomers", list, *admin_);
  ASSERT_EQ(plain.status, 200);
  ASSERT_GT(plain.body.size(), 10000u);
  EXPECT_EQ(plain.Header("content-encoding"), "");
  HttpReply gz = Post("custops.v1.Lifecycle/ListCustomers", list, *admin_,
                      {{"Accept-Encoding", "gzip, deflate"}});
  ASSERT_EQ(gz.status, 200);
  EXPECT_EQ(gz.Header("content-encoding"), "gzip");
  EXPECT_LT(gz.body.size(), plain.body.size() / 3);
  z_stream z{};
  ASSERT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
  std::string inflated(plain.body.size() + 1, '\0');
  z.next_in = reinterpret_cast<Bytef*>(gz.body.data());
  z.avail_in = static_cast<uInt>(gz.body.size());
  z.next_out = reinterpret_cast<Bytef*>(inflated.data());
  z.avail_out = static_cast<uInt>(inflated.size());
  EXPECT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
  inflated.resize(z.total_out);
  inflateEnd(&z);
  EXPECT_EQ(inflated, plain.body);
}

TEST_F(JsonApiTest, MetricsCountCallsByMethodTransportAndCode) {
  ASSERT_EQ(Post("custops.v1.Lifecycle/GetCustomer", R"({"customerId":"NOBODY"})", *admin_).status,
            404);
  HttpReply metrics = HttpGet(http_port_, "/metrics", *admin_);
  ASSERT_EQ(metrics.status, 200);
  EXPECT_TRUE(absl::StrContains(
      metrics.body,
      "custops_rpc_requests_total{method=\"custops.v1.Lifecycle/GetCustomer\",transport=\"http\","
      "code=\"NOT_FOUND\"}"))
      << metrics.body.substr(0, 2000);
  EXPECT_TRUE(absl::StrContains(metrics.body,
                                "custops_rpc_duration_seconds_bucket{method=\"custops.v1."
                                "Lifecycle/GetCustomer\",transport=\"http\",le=\"+Inf\"}"));
  EXPECT_TRUE(absl::StrContains(metrics.body, "# TYPE custops_rpc_duration_seconds histogram"));
  // The probe's Admin.Status calls came over gRPC.
  EXPECT_TRUE(absl::StrContains(metrics.body,
                                "custops_rpc_requests_total{method=\"custops.v1.Admin/Status\","
                                "transport=\"grpc\",code=\"OK\"}"));
}

// SSE streams count against the same per-client limit as gRPC streams, and
// a closed stream gives its slot back.
TEST(JsonApiLimitsTest, StreamsPerClientAreLimitedAndReturned) {
  const fs::path dir =
      fs::temp_directory_path() / absl::StrCat("custops_json_api_limits_", ::getpid());
  fs::remove_all(dir);
  WriteFile(dir / "custops.toml", "[server]\nmax_streams_per_client = 2\n");
  const int http_port = testing::FreePort();
  testing::ServerProcess server(
      CUSTOPS_BINARY, {"--data-dir", (dir / "data").string(), "--config",
                       (dir / "custops.toml").string(), "--partitions", "2", "--sync", "false",
                       "--http-listen", absl::StrCat("127.0.0.1:", http_port)});
  ASSERT_TRUE(server.Start().ok());
  auto first = std::make_unique<testing::SseReader>(http_port, "/v1/changes?from=latest");
  testing::SseReader second(http_port, "/v1/subscribe?from=latest");
  ASSERT_EQ(first->reply().status, 200);
  ASSERT_EQ(second.reply().status, 200);
  {
    testing::SseReader third(http_port, "/v1/changes?from=latest");
    EXPECT_EQ(third.reply().status, 429);
    std::optional<ConnectError> error = ParseError(third.reply().body);
    ASSERT_TRUE(error.has_value()) << third.reply().body;
    EXPECT_EQ(error->code, "resource_exhausted");
    EXPECT_TRUE(absl::StrContains(error->message, "max_streams_per_client")) << error->message;
  }
  // The client leaves one stream; the server notices and frees its slot.
  first->Close();
  first.reset();
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  int status = 0;
  while (status != 200 && absl::Now() < deadline) {
    testing::SseReader again(http_port, "/v1/changes?from=latest");
    status = again.reply().status;
    if (status != 200) absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(status, 200);
  server.Stop();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace custops
