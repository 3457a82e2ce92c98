// The serving layer against the real binary (docs/security.md): bytes the
// server cannot decode, Timestamps at and beyond their range, oversized and
// over-count requests, consistency-token waits that hold no thread,
// per-client limits, idle subscribers and HTTP connections, bearer-token
// auth and region scope, TLS and mutual TLS, and the refusal to listen on a
// non-loopback address without TLS and auth.
#include <arpa/inet.h>
#include <fcntl.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "custops/event/time.h"
#include "custops/internal/state.pb.h"
#include "custops/projection/token.h"
#include "custops/rpc/auth.h"
#include "custops/testing/events.h"
#include "custops/v1/admin.grpc.pb.h"
#include "custops/v1/commands.grpc.pb.h"
#include "custops/v1/ingest.grpc.pb.h"
#include "custops/v1/lifecycle.grpc.pb.h"
#include "custops/v1/review.grpc.pb.h"
#include "custops/v1/value.grpc.pb.h"
#include "gtest/gtest.h"
#include "http_client.h"
#include "server_process.h"

namespace custops {
namespace {

namespace fs = std::filesystem;
namespace pb = google::protobuf;
using testing::Registered;
using testing::Signed;
using testing::Visited;

// 2026-11-23T00:00:00Z, the server's --fixed-clock.
const absl::Time kNow = absl::FromUnixSeconds(1'795'392'000);
constexpr int64_t kMinTimestampSeconds = -62'135'596'800;  // 0001-01-01T00:00:00Z
constexpr int64_t kMaxTimestampSeconds = 253'402'300'799;  // 9999-12-31T23:59:59Z
const char kCustomerTopic[] = "custops.customer-events.v1";

absl::Duration Days(int n) { return absl::Hours(24 * n); }

std::chrono::system_clock::time_point In(absl::Duration d) {
  return absl::ToChronoTime(absl::Now() + d);
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

void WriteFile(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

std::string BufferToString(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const grpc::Slice& s : slices) {
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return out;
}

grpc::ByteBuffer ToBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

// The p-th percentile (0 < p <= 100) of `values` (sorted in place).
double Percentile(std::vector<double>& values, double p) {
  std::sort(values.begin(), values.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

// ---- Wire bytes by hand ----

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

std::string LengthDelimited(int field_number, const std::string& payload) {
  std::string out;
  PutVarint(&out, (static_cast<uint64_t>(field_number) << 3) | 2);
  PutVarint(&out, payload.size());
  out += payload;
  return out;
}

// A request of `type` whose first string field reachable through message
// fields holds invalid UTF-8 ("\xc3\x28"); nullopt when `type` has none.
// `path` gets the field path ("events.event_id").
std::optional<std::string> InvalidUtf8Request(const pb::Descriptor& type, int depth,
                                              std::string* path) {
  for (int i = 0; i < type.field_count(); ++i) {
    const pb::FieldDescriptor* f = type.field(i);
    if (f->type() == pb::FieldDescriptor::TYPE_STRING) {
      *path = f->name();
      return LengthDelimited(f->number(), std::string("\xc3\x28", 2));
    }
  }
  if (depth >= 3) return std::nullopt;
  for (int i = 0; i < type.field_count(); ++i) {
    const pb::FieldDescriptor* f = type.field(i);
    if (f->type() != pb::FieldDescriptor::TYPE_MESSAGE || f->is_map()) continue;
    std::string inner_path;
    std::optional<std::string> inner =
        InvalidUtf8Request(*f->message_type(), depth + 1, &inner_path);
    if (inner) {
      *path = absl::StrCat(f->name(), ".", inner_path);
      return LengthDelimited(f->number(), *inner);
    }
  }
  return std::nullopt;
}

// A valid serialized `type` with one length-delimited field set, cut by its
// last byte (so the field runs past the end); nullopt when `type` has no
// string, bytes or message field.
std::optional<std::string> TruncatedRequest(const pb::Descriptor& type) {
  std::unique_ptr<pb::Message> m(
      pb::MessageFactory::generated_factory()->GetPrototype(&type)->New());
  const pb::Reflection* r = m->GetReflection();
  for (int i = 0; i < type.field_count(); ++i) {
    const pb::FieldDescriptor* f = type.field(i);
    if (f->type() == pb::FieldDescriptor::TYPE_STRING ||
        f->type() == pb::FieldDescriptor::TYPE_BYTES) {
      if (f->is_repeated()) {
        r->AddString(m.get(), f, "abc");
      } else {
        r->SetString(m.get(), f, "abc");
      }
    } else if (f->type() == pb::FieldDescriptor::TYPE_MESSAGE) {
      if (f->is_repeated()) {
        r->AddMessage(m.get(), f);
      } else {
        r->MutableMessage(m.get(), f);
      }
    } else {
      continue;
    }
    std::string bytes = m->SerializeAsString();
    bytes.pop_back();
    return bytes;
  }
  return std::nullopt;
}

// The first google.protobuf.Timestamp in `m` outside 0001..9999 or with
// nanos outside [0, 1e9), as "field: seconds/nanos"; "" when there is none.
std::string BadTimestampIn(const pb::Message& m, const std::string& prefix = "") {
  const pb::Descriptor* d = m.GetDescriptor();
  if (d->full_name() == "google.protobuf.Timestamp") {
    const auto& ts = static_cast<const pb::Timestamp&>(m);
    if (ts.seconds() < kMinTimestampSeconds || ts.seconds() > kMaxTimestampSeconds ||
        ts.nanos() < 0 || ts.nanos() > 999'999'999) {
      return absl::StrCat(prefix, ": ", ts.seconds(), "/", ts.nanos());
    }
    return "";
  }
  const pb::Reflection* r = m.GetReflection();
  std::vector<const pb::FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const pb::FieldDescriptor* f : fields) {
    if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    const std::string name = prefix.empty() ? f->name() : absl::StrCat(prefix, ".", f->name());
    if (f->is_repeated()) {
      for (int i = 0; i < r->FieldSize(m, f); ++i) {
        std::string bad =
            BadTimestampIn(r->GetRepeatedMessage(m, f, i), absl::StrCat(name, "[", i, "]"));
        if (!bad.empty()) return bad;
      }
    } else {
      std::string bad = BadTimestampIn(r->GetMessage(m, f), name);
      if (!bad.empty()) return bad;
    }
  }
  return "";
}

// ---- Generic gRPC calls ----

struct RawAnswer {
  grpc::Status status;
  std::string response;
};

RawAnswer RawUnary(grpc::GenericStub& stub, const std::string& method, const std::string& bytes,
                   absl::Duration timeout = absl::Seconds(30), const std::string& token = "") {
  grpc::ClientContext ctx;
  ctx.set_deadline(In(timeout));
  if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
  grpc::ByteBuffer request = ToBuffer(bytes);
  grpc::ByteBuffer response;
  absl::Notification done;
  RawAnswer answer;
  stub.UnaryCall(&ctx, method, grpc::StubOptions(), &request, &response, [&](grpc::Status s) {
    answer.status = std::move(s);
    done.Notify();
  });
  done.WaitForNotification();
  if (answer.status.ok()) answer.response = BufferToString(response);
  return answer;
}

// A server-streaming call with raw request bytes; Await() gives its final
// status and the number of messages it delivered.
class RawStream : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  RawStream(grpc::GenericStub& stub, const std::string& method, const std::string& bytes,
            absl::Duration timeout) {
    ctx_.set_deadline(In(timeout));
    request_ = ToBuffer(bytes);
    stub.PrepareBidiStreamingCall(&ctx_, method, grpc::StubOptions(), this);
    StartWriteLast(&request_, grpc::WriteOptions());
    StartRead(&response_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    ++messages_;
    // A stream that answers is a failure of the tests using this; stop it.
    ctx_.TryCancel();
  }
  void OnDone(const grpc::Status& s) override {
    status_ = s;
    done_.Notify();
  }
  grpc::Status Await() {
    done_.WaitForNotification();
    return status_;
  }
  int messages() const { return messages_; }

 private:
  grpc::ClientContext ctx_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  grpc::Status status_;
  int messages_ = 0;
  absl::Notification done_;
};

// A Subscribe stream that is opened and never read.
class IdleSubscriber : public grpc::ClientReadReactor<v1::EventRecord> {
 public:
  IdleSubscriber(v1::Subscriptions::Stub& stub, const std::string& from) {
    request_.set_from(from);
    stub.async()->Subscribe(&ctx_, &request_, this);
    StartCall();
  }
  void OnDone(const grpc::Status& s) override {
    status_ = s;
    done_.Notify();
  }
  void Cancel() { ctx_.TryCancel(); }
  bool AwaitDone(absl::Duration timeout) { return done_.WaitForNotificationWithTimeout(timeout); }
  const grpc::Status& status() const { return status_; }
  bool done() const { return done_.HasBeenNotified(); }

 private:
  grpc::ClientContext ctx_;
  v1::SubscribeRequest request_;
  grpc::Status status_;
  absl::Notification done_;
};

// One asynchronous GetCustomer.
struct PendingGet {
  grpc::ClientContext ctx;
  v1::GetCustomerRequest request;
  v1::CustomerView response;
  grpc::Status status;
  absl::Notification done;
};

std::unique_ptr<PendingGet> StartGet(v1::Lifecycle::Stub& stub, const std::string& customer,
                                     const std::string& token, absl::Duration timeout) {
  auto p = std::make_unique<PendingGet>();
  p->ctx.set_deadline(In(timeout));
  p->request.set_customer_id(customer);
  p->request.set_consistency_token(token);
  PendingGet* raw = p.get();
  stub.async()->GetCustomer(&raw->ctx, &raw->request, &raw->response, [raw](grpc::Status s) {
    raw->status = std::move(s);
    raw->done.Notify();
  });
  return p;
}

// A consistency token of offsets that never exist (2^62 on every partition).
std::string NeverToken(int partitions) {
  projection::PositionSet positions;
  positions.set_topic(kCustomerTopic);
  for (int i = 0; i < partitions; ++i) positions.add_next_offsets(int64_t{1} << 62);
  return projection::EncodeToken(positions);
}

// ---- HTTP by hand (tests/testing/http_client.h) ----

using ::custops::testing::ConnectTcp;
using ::custops::testing::HttpGet;
using HttpAnswer = ::custops::testing::HttpReply;

// The value of an unlabelled metric in Prometheus text; -1 when absent.
double MetricValue(const std::string& text, const std::string& name) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::StartsWith(line, name + " ")) continue;
    double v = 0;
    if (absl::SimpleAtod(line.substr(name.size() + 1), &v)) return v;
  }
  return -1;
}

// Whether `pid` has a library whose path contains `name` mapped.
bool MapsLibrary(pid_t pid, std::string_view name) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/maps"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.find(name) != std::string::npos) return true;
  }
  return false;
}

// VmRSS of `pid` in KiB; -1 when unreadable.
int64_t RssKiB(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with("VmRSS:")) continue;
    int64_t kib = 0;
    std::string digits;
    for (char c : line) {
      if (c >= '0' && c <= '9') digits.push_back(c);
    }
    if (absl::SimpleAtoi(digits, &kib)) return kib;
  }
  return -1;
}

bool HaveTool(const std::string& name) {
  return std::system(absl::StrCat("command -v ", name, " >/dev/null 2>&1").c_str()) == 0;
}

// Runs a shell command; its exit status (0 = success).
int Shell(const std::string& command) {
  int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// ---- The fixture ----

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           absl::StrCat("security_", ::getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "data");
  }
  void TearDown() override {
    if (server_ && server_->running()) {
      EXPECT_EQ(server_->Stop(), 0);
    }
    server_.reset();
    fs::remove_all(dir_);
  }

  std::vector<std::string> BaseArgs() const {
    return {"--data-dir",           (dir_ / "data").string(), "--fixed-clock",
            "2026-11-23T00:00:00Z", "--partitions",           "4"};
  }

  // Starts custops with BaseArgs() + `extra`; `configure` sets credentials,
  // the probe token or output files first.
  void StartServer(const std::vector<std::string>& extra = {},
                   const std::function<void(testing::ServerProcess&)>& configure = nullptr) {
    std::vector<std::string> args = BaseArgs();
    args.insert(args.end(), extra.begin(), extra.end());
    server_ = std::make_unique<testing::ServerProcess>(CUSTOPS_BINARY, args);
    if (configure) configure(*server_);
    absl::Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started;
  }

  // A plaintext channel of its own (a new connection) to the server.
  std::shared_ptr<grpc::Channel> NewChannel(
      std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr) const {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    // Distinct arguments: gRPC shares one subchannel among equal channels.
    args.SetInt("custops.test.channel", ++channels_);
    return grpc::CreateCustomChannel(
        server_->address(), credentials ? credentials : grpc::InsecureChannelCredentials(), args);
  }

  static std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token = "",
                                                  absl::Duration timeout = absl::Seconds(30)) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(In(timeout));
    if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
    return ctx;
  }

  grpc::Status Append(v1::EventIngest::Stub& stub, const v1::AppendRequest& req,
                      v1::AppendResponse* resp = nullptr, const std::string& token = "") {
    v1::AppendResponse ignored;
    return stub.Append(Ctx(token).get(), req, resp ? resp : &ignored);
  }

  // Writes `content` to a file in the temp dir; its path.
  std::string TempFile(const std::string& name, const std::string& content) const {
    WriteFile(dir_ / name, content);
    return (dir_ / name).string();
  }

  fs::path dir_;
  std::unique_ptr<testing::ServerProcess> server_;
  mutable int channels_ = 0;
};

// ---- 1 ----

TEST_F(SecurityTest, GarbageAndTruncatedBytesToEveryMethod) {
  StartServer();
  grpc::GenericStub generic(server_->Channel());

  // Every service of the public contract, from the generated pool.
  std::set<const pb::FileDescriptor*> files = {
      v1::AppendRequest::descriptor()->file(),   v1::GetCustomerRequest::descriptor()->file(),
      v1::StatusRequest::descriptor()->file(),   v1::RegisterCustomerRequest::descriptor()->file(),
      v1::GetValueRequest::descriptor()->file(), v1::GetReviewRequest::descriptor()->file()};
  std::vector<const pb::ServiceDescriptor*> services;
  std::set<std::string> names;
  for (const pb::FileDescriptor* file : files) {
    for (int i = 0; i < file->service_count(); ++i) {
      const pb::ServiceDescriptor* s =
          pb::DescriptorPool::generated_pool()->FindServiceByName(file->service(i)->full_name());
      ASSERT_NE(s, nullptr);
      if (!s->full_name().starts_with("custops.v1.")) continue;
      services.push_back(s);
      names.insert(s->full_name());
    }
  }
  EXPECT_EQ(names,
            (std::set<std::string>{"custops.v1.EventIngest", "custops.v1.Subscriptions",
                                   "custops.v1.Customers", "custops.v1.Visits", "custops.v1.Deals",
                                   "custops.v1.Complaints", "custops.v1.Lifecycle",
                                   "custops.v1.Value", "custops.v1.Review", "custops.v1.Admin"}));

  const std::string garbage("\xff\xff\xff\xff\x0f", 5);
  int methods = 0, truncated = 0, utf8 = 0;
  std::vector<std::string> no_string_field;
  for (const pb::ServiceDescriptor* service : services) {
    for (int m = 0; m < service->method_count(); ++m) {
      const pb::MethodDescriptor* method = service->method(m);
      ASSERT_FALSE(method->client_streaming()) << method->full_name();
      ++methods;
      const std::string path = absl::StrCat("/", service->full_name(), "/", method->name());
      auto call = [&](const std::string& bytes) {
        if (method->server_streaming()) {
          RawStream stream(generic, path, bytes, absl::Seconds(10));
          grpc::Status s = stream.Await();
          EXPECT_EQ(stream.messages(), 0) << path;
          return s;
        }
        return RawUnary(generic, path, bytes, absl::Seconds(10)).status;
      };
      // (a) not a message at all.
      grpc::Status s = call(garbage);
      EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
          << path << " garbage: " << s.error_message();
      // (b) a valid request cut by one byte.
      if (std::optional<std::string> cut = TruncatedRequest(*method->input_type())) {
        ++truncated;
        s = call(*cut);
        EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
            << path << " truncated: " << s.error_message();
      }
      // (c) a string field holding invalid UTF-8.
      std::string field;
      if (std::optional<std::string> bad = InvalidUtf8Request(*method->input_type(), 0, &field)) {
        ++utf8;
        s = call(*bad);
        EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
            << path << " " << field << ": " << s.error_message();
        EXPECT_TRUE(absl::StrContains(s.error_message(), "invalid UTF-8"))
            << path << " " << field << ": " << s.error_message();
      } else {
        no_string_field.push_back(method->full_name());
      }
    }
  }
  std::cout << "methods: " << methods << ", truncated requests: " << truncated
            << ", invalid UTF-8 requests: " << utf8 << " (no string field in "
            << absl::StrJoin(no_string_field, ", ") << ")" << std::endl;
  EXPECT_GE(methods, 39);

  // Subscribe through the generated stub too: invalid UTF-8 in `from`.
  {
    grpc::GenericStub raw(server_->Channel());
    RawStream stream(raw, "/custops.v1.Subscriptions/Subscribe",
                     LengthDelimited(1, std::string("\xc3\x28", 2)), absl::Seconds(10));
    grpc::Status s = stream.Await();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(absl::StrContains(s.error_message(), "from: invalid UTF-8")) << s.error_message();
  }

  // Still serving.
  auto ingest = v1::EventIngest::NewStub(server_->Channel());
  v1::AppendRequest ok;
  *ok.add_events() = Registered("alive-1", "alive", kNow);
  grpc::Status appended = Append(*ingest, ok);
  EXPECT_TRUE(appended.ok()) << appended.error_message();
}

// ---- 2 ----

TEST_F(SecurityTest, TimestampsAtAndBeyondTheLimits) {
  StartServer();
  auto customers = v1::Customers::NewStub(server_->Channel());
  auto deals = v1::Deals::NewStub(server_->Channel());
  auto ingest = v1::EventIngest::NewStub(server_->Channel());
  auto lifecycle = v1::Lifecycle::NewStub(server_->Channel());
  auto review = v1::Review::NewStub(server_->Channel());

  v1::RegisterCustomerRequest reg;
  reg.set_request_id("reg-ts");
  reg.set_customer_id("c-ts");
  *reg.mutable_occurred_at() = event::ToProto(kNow - Days(2));
  reg.set_actor_id("rep-1");
  reg.set_name("Timestamp Customer");
  reg.set_kind(v1::CUSTOMER_KIND_CUSTOMER);
  reg.set_industry("retail");
  reg.set_region("East");
  reg.set_owner_id("rep-1");
  reg.set_channel("web");
  for (int32_t nanos : {1'000'000'000, -1, std::numeric_limits<int32_t>::min(), 1'999'999'999}) {
    v1::RegisterCustomerRequest bad = reg;
    bad.mutable_occurred_at()->set_nanos(nanos);
    v1::CommandResponse resp;
    grpc::Status s = customers->RegisterCustomer(Ctx().get(), bad, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << nanos;
    EXPECT_TRUE(absl::StrContains(s.error_message(), "occurred_at"))
        << nanos << ": " << s.error_message();
  }
  v1::CommandResponse registered;
  grpc::Status s = customers->RegisterCustomer(Ctx().get(), reg, &registered);
  ASSERT_TRUE(s.ok()) << s.error_message();

  v1::SignContractRequest sign;
  sign.set_request_id("sign-ts");
  sign.set_customer_id("c-ts");
  *sign.mutable_occurred_at() = event::ToProto(kNow - Days(1));
  sign.set_actor_id("rep-1");
  sign.set_contract_id("k-ts");
  *sign.mutable_amount() = testing::Cny(1000);
  *sign.mutable_start() = event::ToProto(kNow - Days(1));
  sign.mutable_start()->set_nanos(1'000'000'000);
  *sign.mutable_end() = event::ToProto(kNow + Days(365));
  sign.set_product("widget");
  {
    v1::CommandResponse resp;
    s = deals->SignContract(Ctx().get(), sign, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_TRUE(absl::StrContains(s.error_message(), "start")) << s.error_message();
  }

  {
    v1::AppendRequest req;
    v1::Event e = Registered("ts-max", "c-ts-max", kNow);
    e.mutable_occurred_at()->set_seconds(kMaxTimestampSeconds + 1);
    e.mutable_occurred_at()->set_nanos(0);
    *req.add_events() = e;
    s = Append(*ingest, req);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_TRUE(absl::StrContains(s.error_message(), "occurred_at")) << s.error_message();
  }

  // The first valid instant is a valid question.
  {
    v1::GetCustomerRequest req;
    req.set_customer_id("c-ts");
    req.mutable_as_of()->set_seconds(kMinTimestampSeconds);
    req.set_consistency_token(registered.consistency_token());
    v1::CustomerView view;
    s = lifecycle->GetCustomer(Ctx().get(), req, &view);
    EXPECT_NE(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    std::cout << "GetCustomer as_of 0001-01-01: " << s.error_code() << " " << s.error_message()
              << std::endl;
    if (s.ok()) {
      EXPECT_EQ(BadTimestampIn(view), "");
    }
  }

  // Periods at the ends of the range: the answer cannot be written.
  for (v1::Granularity g : {v1::GRANULARITY_DAY, v1::GRANULARITY_WEEK, v1::GRANULARITY_MONTH,
                            v1::GRANULARITY_QUARTER, v1::GRANULARITY_YEAR}) {
    for (int64_t seconds : {kMinTimestampSeconds, kMaxTimestampSeconds}) {
      v1::GetReviewRequest req;
      req.set_granularity(g);
      req.mutable_period_start()->set_seconds(seconds);
      req.set_dimension(v1::DIMENSION_ALL);
      v1::ReviewReport report;
      s = review->GetReview(Ctx().get(), req, &report);
      EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
          << v1::Granularity_Name(g) << " " << seconds << ": " << s.error_message();
      if (s.ok()) {
        EXPECT_EQ(BadTimestampIn(report), "") << v1::Granularity_Name(g) << " " << seconds;
      }
    }
  }
}

// ---- 3 ----

TEST_F(SecurityTest, OversizedAndOverCountRequestsReturnMemory) {
  StartServer();
  auto ingest = v1::EventIngest::NewStub(server_->Channel());
  v1::AppendRequest ok;
  *ok.add_events() = Registered("rss-1", "rss", kNow);
  v1::AppendResponse appended;
  ASSERT_TRUE(Append(*ingest, ok, &appended).ok());
  // The measurement starts once the projections have applied that event and
  // value has built its first snapshot (and model), so the growth measured
  // below is the refused requests', not that start-up work's.
  {
    v1::GetValueRequest get;
    get.set_customer_id("rss");
    get.set_consistency_token(appended.consistency_token());
    v1::ValueView view;
    const grpc::Status s = v1::Value::NewStub(server_->Channel())
                               ->GetValue(Ctx("", absl::Seconds(60)).get(), get, &view);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  // The figure below is the allocator's the build links (docs/operations.md
  // "Memory allocator"): jemalloc, freeing through a background thread.
#if CUSTOPS_WITH_JEMALLOC
  EXPECT_TRUE(MapsLibrary(server_->pid(), "libjemalloc"));
#else
  EXPECT_FALSE(MapsLibrary(server_->pid(), "libjemalloc"));
#endif
  const int64_t before = RssKiB(server_->pid());
  ASSERT_GT(before, 0);
  grpc::GenericStub generic(server_->Channel());
  const std::string method = "/custops.v1.EventIngest/Append";

  // ~1.9M empty events in 3.8 MB: under the size limit, over the count limit.
  std::string many;
  many.reserve(3'800'000);
  for (int i = 0; i < 1'900'000; ++i) many.append("\x0a\x00", 2);
  ASSERT_LT(many.size(), size_t{4} << 20);
  for (int i = 0; i < 4; ++i) {
    RawAnswer a = RawUnary(generic, method, many, absl::Seconds(60));
    EXPECT_EQ(a.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << a.status.error_message();
    EXPECT_TRUE(absl::StrContains(a.status.error_message(), "events: at most"))
        << a.status.error_message();
  }
  // 5 MiB: over the 4 MiB limit.
  std::string big;
  big.reserve(5 << 20);
  while (big.size() < (size_t{5} << 20)) big.append("\x0a\x00", 2);
  for (int i = 0; i < 4; ++i) {
    RawAnswer a = RawUnary(generic, method, big, absl::Seconds(60));
    EXPECT_EQ(a.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << a.status.error_message();
  }

  const int64_t limit = before + 64 * 1024;
  int64_t after = RssKiB(server_->pid());
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (after > limit && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(200));
    after = RssKiB(server_->pid());
  }
  std::cout << "VmRSS before: " << before / 1024 << " MiB (" << before
            << " kB), after: " << after / 1024 << " MiB (" << after << " kB)" << std::endl;
  EXPECT_LE(after, limit);
  EXPECT_TRUE(Append(*ingest, ok).ok());
}

// ---- 4 ----

TEST_F(SecurityTest, PendingTokenWaitsDoNotStallOtherCallers) {
  StartServer();
  auto ingest = v1::EventIngest::NewStub(server_->Channel());
  v1::AppendRequest req;
  *req.add_events() = Registered("wait-1", "waiter", kNow - Days(1));
  v1::AppendResponse appended;
  ASSERT_TRUE(Append(*ingest, req, &appended).ok());
  ASSERT_FALSE(appended.consistency_token().empty());
  auto waiting_channel = NewChannel();
  auto waiting = v1::Lifecycle::NewStub(waiting_channel);
  {
    // The customer is there (the real token is reached).
    v1::GetCustomerRequest get;
    get.set_customer_id("waiter");
    get.set_consistency_token(appended.consistency_token());
    v1::CustomerView view;
    grpc::Status s = waiting->GetCustomer(Ctx().get(), get, &view);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  const std::string never = NeverToken(4);
  auto ordinary = v1::Lifecycle::NewStub(NewChannel());

  auto measure = [&](int n) {
    std::vector<double> ms;
    for (int i = 0; i < n; ++i) {
      v1::GetCustomerRequest get;
      get.set_customer_id("waiter");
      v1::CustomerView view;
      const absl::Time start = absl::Now();
      grpc::Status s = ordinary->GetCustomer(Ctx("", absl::Seconds(10)).get(), get, &view);
      ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return ms;
  };
  // After the waits were sent, one ordinary call on their connection: the
  // server has taken the earlier streams by the time it answers.
  auto barrier = [&] {
    v1::GetCustomerRequest get;
    get.set_customer_id("waiter");
    v1::CustomerView view;
    EXPECT_TRUE(waiting->GetCustomer(Ctx().get(), get, &view).ok());
  };

  std::vector<std::unique_ptr<PendingGet>> pending;
  for (int i = 0; i < 100; ++i) {
    pending.push_back(StartGet(*waiting, "waiter", never, absl::Seconds(5)));
  }
  barrier();
  std::vector<double> ms = measure(300);
  const double p50 = Percentile(ms, 50), p99 = Percentile(ms, 99);
  std::cout << "100 pending waits: ordinary GetCustomer p50 " << p50 << " ms, p99 " << p99 << " ms"
            << std::endl;
  EXPECT_LT(p99, 50.0);
  for (const auto& p : pending) {
    if (p->done.HasBeenNotified())
      ADD_FAILURE() << "a wait ended early: " << p->status.error_message();
  }

  for (int i = 0; i < 1000; ++i) {
    pending.push_back(StartGet(*waiting, "waiter", never, absl::Seconds(5)));
  }
  barrier();
  ms = measure(300);
  std::cout << "1100 pending waits: ordinary GetCustomer p50 " << Percentile(ms, 50) << " ms, p99 "
            << Percentile(ms, 99) << " ms" << std::endl;

  std::map<grpc::StatusCode, int> codes;
  for (const auto& p : pending) {
    ASSERT_TRUE(p->done.WaitForNotificationWithTimeout(absl::Seconds(30)));
    ++codes[p->status.error_code()];
  }
  EXPECT_EQ(codes[grpc::StatusCode::DEADLINE_EXCEEDED], 1100);
  for (const auto& [code, n] : codes) std::cout << "waits ended " << code << ": " << n << std::endl;
}

// ---- 5 ----

TEST_F(SecurityTest, PerClientLimits) {
  const std::string config =
      TempFile("custops.toml", "[server]\nmax_waits_per_client = 10\nmax_streams_per_client = 5\n");
  const int http_port = testing::FreePort();
  StartServer({"--config", config, "--http-listen", absl::StrCat("127.0.0.1:", http_port)});
  auto ingest = v1::EventIngest::NewStub(server_->Channel());
  v1::AppendRequest req;
  *req.add_events() = Registered("limit-1", "limited", kNow - Days(1));
  ASSERT_TRUE(Append(*ingest, req).ok());

  // Waits.
  auto lifecycle = v1::Lifecycle::NewStub(server_->Channel());
  const std::string never = NeverToken(4);
  std::vector<std::unique_ptr<PendingGet>> pending;
  for (int i = 0; i < 10; ++i) {
    pending.push_back(StartGet(*lifecycle, "limited", never, absl::Seconds(4)));
  }
  // All ten are admitted and waiting before the eleventh is sent (the calls
  // are asynchronous: without this the eleventh could overtake one of them).
  {
    const absl::Time deadline = absl::Now() + absl::Seconds(3);
    double waits = -1;
    while (waits < 10 && absl::Now() < deadline) {
      waits = MetricValue(HttpGet(http_port, "/metrics").body, "custops_waits_pending");
    }
    ASSERT_EQ(waits, 10);
  }
  {
    v1::GetCustomerRequest get;
    get.set_customer_id("limited");
    v1::CustomerView view;
    grpc::Status s = lifecycle->GetCustomer(Ctx().get(), get, &view);  // no wait: admitted
    EXPECT_TRUE(s.ok()) << s.error_message();
  }
  {
    v1::GetCustomerRequest get;
    get.set_customer_id("limited");
    get.set_consistency_token(never);
    v1::CustomerView view;
    grpc::Status s = lifecycle->GetCustomer(Ctx("", absl::Seconds(3)).get(), get, &view);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
    std::cout << "11th wait: " << s.error_message() << std::endl;
  }
  for (const auto& p : pending) {
    ASSERT_TRUE(p->done.WaitForNotificationWithTimeout(absl::Seconds(30)));
    EXPECT_EQ(p->status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
        << p->status.error_message();
  }
  // Ended waits give their slots back: a new one is admitted (and waits).
  {
    grpc::Status s;
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    do {
      v1::GetCustomerRequest get;
      get.set_customer_id("limited");
      get.set_consistency_token(never);
      v1::CustomerView view;
      s = lifecycle->GetCustomer(Ctx("", absl::Milliseconds(300)).get(), get, &view);
    } while (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED && absl::Now() < deadline);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << s.error_message();
  }

  // Streams: each of the first 5 delivers a record (it is open), the 6th is refused.
  auto subs = v1::Subscriptions::NewStub(server_->Channel());
  struct Open {
    std::unique_ptr<grpc::ClientContext> ctx;
    std::unique_ptr<grpc::ClientReader<v1::EventRecord>> reader;
  };
  std::vector<Open> open;
  v1::SubscribeRequest from_earliest;
  from_earliest.set_from("earliest");
  for (int i = 0; i < 5; ++i) {
    Open o{Ctx("", absl::Seconds(60)), nullptr};
    o.reader = subs->Subscribe(o.ctx.get(), from_earliest);
    v1::EventRecord rec;
    EXPECT_TRUE(o.reader->Read(&rec)) << "stream " << i;
    open.push_back(std::move(o));
  }
  {
    auto ctx = Ctx("", absl::Seconds(10));
    auto reader = subs->Subscribe(ctx.get(), from_earliest);
    v1::EventRecord rec;
    EXPECT_FALSE(reader->Read(&rec));
    grpc::Status s = reader->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
    std::cout << "6th stream: " << s.error_message() << std::endl;
  }
  for (Open& o : open) {
    o.ctx->TryCancel();
    EXPECT_EQ(o.reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  // Closed streams give their slots back.
  {
    bool admitted = false;
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (!admitted && absl::Now() < deadline) {
      auto ctx = Ctx("", absl::Seconds(5));
      auto reader = subs->Subscribe(ctx.get(), from_earliest);
      v1::EventRecord rec;
      admitted = reader->Read(&rec);
      ctx->TryCancel();
      reader->Finish();
    }
    EXPECT_TRUE(admitted);
  }
}

// ---- 6 ----

TEST_F(SecurityTest, IdleSubscribersAndIdleHttpConnections) {
  const int http_port = testing::FreePort();
  StartServer({"--http-listen", absl::StrCat("127.0.0.1:", http_port)});
  auto ingest = v1::EventIngest::NewStub(server_->Channel());
  v1::AppendRequest first;
  *first.add_events() = Registered("idle-0", "idle", kNow - Days(2));
  ASSERT_TRUE(Append(*ingest, first).ok());

  auto subs_channel = NewChannel();
  auto subs = v1::Subscriptions::NewStub(subs_channel);
  std::vector<std::unique_ptr<IdleSubscriber>> idle;
  for (int i = 0; i < 500; ++i) {
    idle.push_back(std::make_unique<IdleSubscriber>(*subs, i % 2 == 0 ? "earliest" : "latest"));
  }
  // All 500 are open on the server.
  double open = -1;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    HttpAnswer metrics = HttpGet(http_port, "/metrics");
    open = MetricValue(metrics.body, "custops_subscriptions_open");
    if (open >= 500) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_GE(open, 500);
  for (const auto& s : idle) {
    if (s->done()) ADD_FAILURE() << "an idle stream ended: " << s->status().error_message();
  }

  // Ingest still appends (and fans out to 500 streams nobody reads).
  for (int i = 1; i <= 3; ++i) {
    v1::AppendRequest req;
    *req.add_events() = Visited(absl::StrCat("idle-", i), "idle", kNow - Days(1));
    v1::AppendResponse resp;
    const absl::Time start = absl::Now();
    grpc::Status s = ingest->Append(Ctx("", absl::Seconds(5)).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::cout << "Append with 500 idle subscribers: "
              << absl::ToDoubleMilliseconds(absl::Now() - start) << " ms" << std::endl;
  }

  // 50 idle TCP connections to the HTTP listener, then a GET.
  std::vector<int> sockets;
  for (int i = 0; i < 50; ++i) {
    int fd = ConnectTcp(http_port);
    EXPECT_GE(fd, 0);
    if (fd >= 0) sockets.push_back(fd);
  }
  const absl::Time start = absl::Now();
  HttpAnswer metrics = HttpGet(http_port, "/metrics", "", absl::Seconds(5));
  const absl::Duration took = absl::Now() - start;
  std::cout << "GET /metrics with 50 idle connections: " << absl::ToDoubleMilliseconds(took)
            << " ms, status " << metrics.status << std::endl;
  EXPECT_EQ(metrics.status, 200);
  EXPECT_LT(took, absl::Seconds(1));
  HttpAnswer health = HttpGet(http_port, "/healthz", "", absl::Seconds(5));
  EXPECT_EQ(health.status, 200);
  // Every projection of the embedded mode has restored: ready.
  EXPECT_EQ(HttpGet(http_port, "/readyz", "", absl::Seconds(5)).status, 200);
  EXPECT_EQ(HttpGet(http_port, "/no-such-page", "", absl::Seconds(5)).status, 404);
  for (int fd : sockets) ::close(fd);

  for (const auto& s : idle) s->Cancel();
  for (const auto& s : idle) {
    ASSERT_TRUE(s->AwaitDone(absl::Seconds(30)));
    EXPECT_EQ(s->status().error_code(), grpc::StatusCode::CANCELLED) << s->status().error_message();
  }
}

// ---- 7 ----

class SecurityAuthTest : public SecurityTest {
 protected:
  static constexpr char kSecret[] = "custops-test-secret-0123456789abcdef";
  static constexpr char kIssuer[] = "custops-test";
  static constexpr char kAudience[] = "custops";

  static std::string Mint(const std::string& subject, std::vector<std::string> roles,
                          std::optional<std::vector<std::string>> regions = std::nullopt,
                          absl::Duration ttl = absl::Hours(1), std::string issuer = kIssuer,
                          std::string audience = kAudience, std::string secret = kSecret) {
    rpc::MintRequest claims;
    claims.subject = subject;
    claims.roles = std::move(roles);
    claims.regions = std::move(regions);
    claims.issuer = std::move(issuer);
    claims.audience = std::move(audience);
    claims.expires = absl::Now() + ttl;
    absl::StatusOr<std::string> jwt = rpc::MintHs256(secret, claims);
    EXPECT_TRUE(jwt.ok()) << jwt.status();
    return jwt.ok() ? *jwt : std::string();
  }

  // custops with HS256 auth: the secret file on the command line, issuer and
  // audience in the config file. `probe` is the readiness probe's token.
  void StartAuthServer(const std::string& probe, const std::vector<std::string>& extra = {}) {
    const std::string secret = TempFile("jwt.key", std::string(kSecret) + "\n");
    const std::string config =
        TempFile("custops.toml",
                 absl::StrCat("[auth]\njwt_hs256_secret_file = \"", secret, "\"\nissuer = \"",
                              kIssuer, "\"\naudience = \"", kAudience, "\"\n"));
    std::vector<std::string> args = {"--config", config, "--jwt-hs256-secret-file", secret};
    args.insert(args.end(), extra.begin(), extra.end());
    stderr_file_ = (dir_ / "stderr.log").string();
    stdout_file_ = (dir_ / "stdout.log").string();
    StartServer(args, [&](testing::ServerProcess& s) {
      s.set_probe_token(probe);
      s.set_stderr_file(stderr_file_);
      s.set_stdout_file(stdout_file_);
    });
  }

  // Waits (up to 10 s) until the server's stderr holds `text`.
  bool StderrContains(const std::string& text) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      if (absl::StrContains(ReadFile(stderr_file_), text)) return true;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }

  std::string stderr_file_;
  std::string stdout_file_;
};

// /metrics needs a reader token when auth is on; health and readiness do not.
TEST_F(SecurityAuthTest, HttpListenerChecksTokensForMetrics) {
  const std::string reader = Mint("reader-1", {"reader"});
  const std::string emitter = Mint("emitter-1", {"emitter"});
  const int http_port = testing::FreePort();
  ASSERT_NO_FATAL_FAILURE(
      StartAuthServer(reader, {"--http-listen", absl::StrCat("127.0.0.1:", http_port)}));
  EXPECT_EQ(HttpGet(http_port, "/metrics").status, 401);
  EXPECT_EQ(HttpGet(http_port, "/metrics", "garbage").status, 401);
  EXPECT_EQ(HttpGet(http_port, "/metrics", emitter).status, 403);
  HttpAnswer metrics = HttpGet(http_port, "/metrics", reader);
  EXPECT_EQ(metrics.status, 200);
  EXPECT_TRUE(absl::StrContains(metrics.body, "custops_events_appended_total")) << metrics.body;
  EXPECT_EQ(HttpGet(http_port, "/healthz").status, 200);
  EXPECT_EQ(HttpGet(http_port, "/readyz").status, 200);
}

TEST_F(SecurityAuthTest, AuthMatrix) {
  const std::string admin = Mint("admin-1", {"admin"});
  const std::string emitter = Mint("emitter-1", {"emitter"});
  const std::string reader = Mint("reader-1", {"reader"});
  const std::string no_roles = Mint("nobody-1", {});
  ASSERT_NO_FATAL_FAILURE(StartAuthServer(reader));
  auto channel = NewChannel();
  auto ingest = v1::EventIngest::NewStub(channel);
  auto customers = v1::Customers::NewStub(channel);
  auto lifecycle = v1::Lifecycle::NewStub(channel);
  auto value = v1::Value::NewStub(channel);
  auto review = v1::Review::NewStub(channel);
  auto subs = v1::Subscriptions::NewStub(channel);
  auto admin_stub = v1::Admin::NewStub(channel);

  // Audit lines first (the audit log is rate-limited): a denial and an
  // admin-role call.
  {
    v1::ClvModel model;
    grpc::Status s = value->RefitClv(Ctx(reader).get(), v1::RefitClvRequest(), &model);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
    s = value->RefitClv(Ctx(admin, absl::Seconds(60)).get(), v1::RefitClvRequest(), &model);
    EXPECT_NE(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
    EXPECT_NE(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
    const std::string denial =
        "audit: sub=reader-1 method=custops.v1.Value/RefitClv outcome=PERMISSION_DENIED "
        "peer=127.0.0.1";
    const std::string refit = "audit: sub=admin-1 method=custops.v1.Value/RefitClv outcome=";
    EXPECT_TRUE(StderrContains(denial))
        << "not in stderr: " << denial
        << "\nin stdout: " << absl::StrContains(ReadFile(stdout_file_), denial) << "\nstderr:\n"
        << ReadFile(stderr_file_);
    EXPECT_TRUE(StderrContains(refit))
        << "not in stderr: " << refit
        << "\nin stdout: " << absl::StrContains(ReadFile(stdout_file_), refit);
  }

  // Some events to read.
  {
    v1::AppendRequest req;
    *req.add_events() = Registered("auth-0", "auth-customer", kNow - Days(2));
    grpc::Status s = Append(*ingest, req, nullptr, admin);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  // Who is calling: each of these is UNAUTHENTICATED, on a query and a write.
  struct Bad {
    std::string name;
    std::string header;  // the whole authorization value; "" = none
  };
  const std::vector<Bad> bad = {
      {"no token", ""},
      {"garbage", "Bearer garbage"},
      {"other scheme", "Basic " + admin},
      {"wrong signature", "Bearer " + Mint("admin-1", {"admin"}, std::nullopt, absl::Hours(1),
                                           kIssuer, kAudience, "another-secret-0123456789abcdef")},
      {"expired", "Bearer " + Mint("admin-1", {"admin"}, std::nullopt, -absl::Hours(1))},
      {"wrong issuer", "Bearer " + Mint("admin-1", {"admin"}, std::nullopt, absl::Hours(1),
                                        "someone-else", kAudience)},
      {"no issuer",
       "Bearer " + Mint("admin-1", {"admin"}, std::nullopt, absl::Hours(1), "", kAudience)},
      {"wrong audience", "Bearer " + Mint("admin-1", {"admin"}, std::nullopt, absl::Hours(1),
                                          kIssuer, "another-service")},
  };
  for (const Bad& b : bad) {
    auto ctx = [&] {
      auto c = Ctx();
      if (!b.header.empty()) c->AddMetadata("authorization", b.header);
      return c;
    };
    v1::StatusResponse status;
    grpc::Status s = admin_stub->Status(ctx().get(), v1::StatusRequest(), &status);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << b.name << ": " << s.error_message();
    v1::ListDeadLettersResponse dead;
    s = admin_stub->ListDeadLetters(ctx().get(), v1::ListDeadLettersRequest(), &dead);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << b.name << ": " << s.error_message();
    v1::ReplayDeadLettersRequest replay;
    replay.set_projection("lifecycle");
    v1::ReplayDeadLettersResponse replayed;
    s = admin_stub->ReplayDeadLetters(ctx().get(), replay, &replayed);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << b.name << ": " << s.error_message();
    v1::RebuildRequest rebuild;
    rebuild.set_projection("lifecycle");
    v1::RebuildResponse rebuilding;
    s = admin_stub->Rebuild(ctx().get(), rebuild, &rebuilding);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << b.name << ": " << s.error_message();
    v1::GetCustomerRequest get;
    get.set_customer_id("auth-customer");
    v1::CustomerView view;
    s = lifecycle->GetCustomer(ctx().get(), get, &view);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << b.name << ": " << s.error_message();
    v1::AppendRequest req;
    *req.add_events() = Registered("auth-bad", "auth-bad", kNow);
    v1::AppendResponse appended;
    s = ingest->Append(ctx().get(), req, &appended);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << b.name << ": " << s.error_message();
    auto sctx = ctx();
    v1::SubscribeRequest sub;
    sub.set_from("earliest");
    auto reader_stream = subs->Subscribe(sctx.get(), sub);
    v1::EventRecord rec;
    EXPECT_FALSE(reader_stream->Read(&rec)) << b.name;
    s = reader_stream->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << b.name << ": " << s.error_message();
  }

  // Dead letters carry every region's events: an admin scoped to a 片区 is
  // refused, an unscoped one reads them.
  {
    v1::ListDeadLettersResponse dead;
    const std::string scoped = Mint("admin-east", {"admin"}, std::vector<std::string>{"华东"});
    grpc::Status s =
        admin_stub->ListDeadLetters(Ctx(scoped).get(), v1::ListDeadLettersRequest(), &dead);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
    s = admin_stub->ListDeadLetters(Ctx(admin).get(), v1::ListDeadLettersRequest(), &dead);
    EXPECT_TRUE(s.ok()) << s.error_message();
    v1::ReplayDeadLettersRequest replay;
    replay.set_projection("lifecycle");
    v1::ReplayDeadLettersResponse replayed;
    s = admin_stub->ReplayDeadLetters(Ctx(scoped).get(), replay, &replayed);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
    s = admin_stub->ReplayDeadLetters(Ctx(admin).get(), replay, &replayed);
    EXPECT_TRUE(s.ok()) << s.error_message();
    // A rebuild derives every region's state again: the same rule.
    v1::RebuildRequest rebuild;
    rebuild.set_projection("value");
    v1::RebuildResponse rebuilding;
    s = admin_stub->Rebuild(Ctx(scoped).get(), rebuild, &rebuilding);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
    rebuild.set_projection("no-such");
    s = admin_stub->Rebuild(Ctx(admin).get(), rebuild, &rebuilding);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_TRUE(absl::StartsWith(s.error_message(), "projection:")) << s.error_message();
  }

  // What each role may call.
  int serial = 0;
  using Method = std::function<grpc::Status(const std::string& token)>;
  const std::vector<std::pair<std::string, Method>> methods = {
      {"EventIngest/Append",
       [&](const std::string& token) {
         v1::AppendRequest req;
         const std::string id = absl::StrCat("matrix-", ++serial);
         *req.add_events() = Registered(id, id, kNow - Days(1));
         v1::AppendResponse resp;
         return ingest->Append(Ctx(token).get(), req, &resp);
       }},
      {"Customers/RegisterCustomer",
       [&](const std::string& token) {
         v1::RegisterCustomerRequest req;
         const std::string id = absl::StrCat("cmd-", ++serial);
         req.set_request_id(id);
         req.set_customer_id(id);
         *req.mutable_occurred_at() = event::ToProto(kNow - Days(1));
         req.set_actor_id("rep-1");
         req.set_name("Command Customer");
         req.set_kind(v1::CUSTOMER_KIND_CUSTOMER);
         req.set_industry("retail");
         req.set_region("East");
         req.set_owner_id("rep-1");
         req.set_channel("web");
         v1::CommandResponse resp;
         return customers->RegisterCustomer(Ctx(token).get(), req, &resp);
       }},
      {"Lifecycle/GetCustomer",
       [&](const std::string& token) {
         v1::GetCustomerRequest req;
         req.set_customer_id("auth-customer");
         v1::CustomerView view;
         return lifecycle->GetCustomer(Ctx(token).get(), req, &view);
       }},
      {"Value/GetValue",
       [&](const std::string& token) {
         v1::GetValueRequest req;
         req.set_customer_id("auth-customer");
         v1::ValueView view;
         return value->GetValue(Ctx(token).get(), req, &view);
       }},
      {"Review/GetReview",
       [&](const std::string& token) {
         v1::GetReviewRequest req;
         req.set_granularity(v1::GRANULARITY_MONTH);
         *req.mutable_period_start() = event::ToProto(kNow - Days(10));
         req.set_dimension(v1::DIMENSION_ALL);
         v1::ReviewReport report;
         return review->GetReview(Ctx(token).get(), req, &report);
       }},
      {"Subscriptions/Subscribe",
       [&](const std::string& token) {
         auto ctx = Ctx(token, absl::Seconds(10));
         v1::SubscribeRequest req;
         req.set_from("earliest");
         auto stream = subs->Subscribe(ctx.get(), req);
         v1::EventRecord rec;
         if (stream->Read(&rec)) {
           ctx->TryCancel();
           stream->Finish();
           return grpc::Status::OK;  // it delivered: allowed
         }
         return stream->Finish();
       }},
      {"Admin/Status",
       [&](const std::string& token) {
         v1::StatusResponse status;
         return admin_stub->Status(Ctx(token).get(), v1::StatusRequest(), &status);
       }},
      {"Value/RefitClv",
       [&](const std::string& token) {
         v1::ClvModel model;
         return value->RefitClv(Ctx(token, absl::Seconds(60)).get(), v1::RefitClvRequest(), &model);
       }},
      {"Admin/ListDeadLetters",
       [&](const std::string& token) {
         v1::ListDeadLettersResponse page;
         return admin_stub->ListDeadLetters(Ctx(token).get(), v1::ListDeadLettersRequest(), &page);
       }},
      {"Admin/ReplayDeadLetters",
       [&](const std::string& token) {
         v1::ReplayDeadLettersRequest replay;
         replay.set_projection("review");
         v1::ReplayDeadLettersResponse replayed;
         return admin_stub->ReplayDeadLetters(Ctx(token).get(), replay, &replayed);
       }},
      {"Admin/Rebuild",
       [&](const std::string& token) {
         v1::RebuildRequest rebuild;
         rebuild.set_projection("value");
         v1::RebuildResponse rebuilding;
         return admin_stub->Rebuild(Ctx(token).get(), rebuild, &rebuilding);
       }},
  };
  // Allowed methods per role (docs/security.md).
  const std::map<std::string, std::set<std::string>> allowed = {
      {"emitter", {"EventIngest/Append", "Customers/RegisterCustomer"}},
      {"reader",
       {"Lifecycle/GetCustomer", "Value/GetValue", "Review/GetReview", "Subscriptions/Subscribe",
        "Admin/Status"}},
      {"admin",
       {"EventIngest/Append", "Customers/RegisterCustomer", "Lifecycle/GetCustomer",
        "Value/GetValue", "Review/GetReview", "Subscriptions/Subscribe", "Admin/Status",
        "Value/RefitClv", "Admin/ListDeadLetters", "Admin/ReplayDeadLetters", "Admin/Rebuild"}},
      {"none", {}},
  };
  const std::map<std::string, std::string> tokens = {
      {"emitter", emitter}, {"reader", reader}, {"admin", admin}, {"none", no_roles}};
  for (const auto& [role, token] : tokens) {
    for (const auto& [name, call] : methods) {
      grpc::Status s = call(token);
      if (allowed.at(role).contains(name)) {
        EXPECT_NE(s.error_code(), grpc::StatusCode::PERMISSION_DENIED)
            << role << " " << name << ": " << s.error_message();
        EXPECT_NE(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
            << role << " " << name << ": " << s.error_message();
      } else {
        EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED)
            << role << " " << name << ": " << s.error_message();
      }
    }
  }

  // Health needs no token.
  grpc::GenericStub generic(channel);
  RawAnswer health = RawUnary(generic, "/grpc.health.v1.Health/Check", "", absl::Seconds(10));
  EXPECT_TRUE(health.status.ok()) << health.status.error_code() << " "
                                  << health.status.error_message();
}

// ---- 8 ----

TEST_F(SecurityAuthTest, RegionScope) {
  const std::string admin = Mint("admin-1", {"admin"});
  const std::string east = Mint("east-reader", {"reader"}, std::vector<std::string>{"华东"});
  ASSERT_NO_FATAL_FAILURE(StartAuthServer(admin));
  auto channel = NewChannel();
  auto ingest = v1::EventIngest::NewStub(channel);
  auto lifecycle = v1::Lifecycle::NewStub(channel);
  auto value = v1::Value::NewStub(channel);
  auto review = v1::Review::NewStub(channel);
  auto subs = v1::Subscriptions::NewStub(channel);

  const std::vector<std::string> east_ids = {"e1", "e2", "e3"};
  const std::vector<std::string> north_ids = {"n1", "n2"};
  v1::AppendRequest req;
  std::set<std::string> east_events;
  int amount = 1000;
  for (const auto& [ids, region] :
       {std::pair{east_ids, std::string("华东")}, std::pair{north_ids, std::string("华北")}}) {
    for (const std::string& id : ids) {
      *req.add_events() = Registered("reg-" + id, id, kNow - Days(60), region);
      *req.add_events() = Signed("sign-" + id, id, kNow - Days(20), amount);
      amount += 1000;
      if (region == "华东") east_events.insert({"reg-" + id, "sign-" + id});
    }
  }
  // The last one: a marker of the east region.
  *req.add_events() = Visited("marker", "e1", kNow - Days(1));
  east_events.insert("marker");
  v1::AppendResponse appended;
  grpc::Status s = Append(*ingest, req, &appended, admin);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const std::string token = appended.consistency_token();

  // ListCustomers: the unscoped list filtered to 华东.
  auto list = [&](const std::string& who) {
    v1::ListCustomersRequest r;
    r.set_page_size(1000);
    r.set_consistency_token(token);
    v1::ListCustomersResponse resp;
    grpc::Status st = lifecycle->ListCustomers(Ctx(who).get(), r, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp;
  };
  v1::ListCustomersResponse all = list(admin);
  v1::ListCustomersResponse scoped = list(east);
  std::vector<std::string> expected, got;
  for (const auto& c : all.customers()) {
    if (c.region() == "华东") expected.push_back(c.SerializeAsString());
  }
  for (const auto& c : scoped.customers()) got.push_back(c.SerializeAsString());
  EXPECT_EQ(all.customers_size(), 5);
  EXPECT_EQ(expected.size(), 3u);
  EXPECT_EQ(got, expected);

  // StageSummary by region and in all.
  for (v1::Dimension d : {v1::DIMENSION_REGION, v1::DIMENSION_ALL}) {
    v1::StageSummaryRequest r;
    r.set_dimension(d);
    r.set_consistency_token(token);
    v1::StageSummaryResponse resp;
    s = lifecycle->StageSummary(Ctx(east).get(), r, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.total(), 3) << v1::Dimension_Name(d);
    int64_t sum = 0;
    for (const auto& c : resp.counts()) {
      sum += c.count();
      if (d == v1::DIMENSION_REGION) {
        EXPECT_EQ(c.dimension_value(), "华东");
      }
    }
    EXPECT_EQ(sum, 3) << v1::Dimension_Name(d);
  }

  // Value: tiers and Pareto count only 华东's customers.
  {
    v1::TierSummaryRequest r;
    r.set_consistency_token(token);
    v1::TierSummaryResponse resp;
    s = value->TierSummary(Ctx(east).get(), r, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.total(), 3);
  }
  {
    v1::ParetoRequest r;
    r.set_consistency_token(token);
    v1::ParetoResponse scoped_pareto;
    s = value->Pareto(Ctx(east).get(), r, &scoped_pareto);
    ASSERT_TRUE(s.ok()) << s.error_message();
    int64_t customers = 0;
    for (const auto& slice : scoped_pareto.slices()) customers += slice.customers();
    EXPECT_EQ(customers, 3);
    r.set_dimension(v1::DIMENSION_REGION);
    v1::ParetoResponse by_region;
    s = value->Pareto(Ctx(admin).get(), r, &by_region);
    ASSERT_TRUE(s.ok()) << s.error_message();
    for (const auto& slice : by_region.slices()) {
      if (slice.dimension_value() == "华东") {
        EXPECT_EQ(slice.customers(), customers);
      }
    }
  }

  // Another region's customer does not exist for this reader.
  {
    v1::GetCustomerRequest r;
    r.set_customer_id("n1");
    r.set_consistency_token(token);
    v1::CustomerView view;
    s = lifecycle->GetCustomer(Ctx(east).get(), r, &view);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
    r.set_customer_id("e1");
    s = lifecycle->GetCustomer(Ctx(east).get(), r, &view);
    EXPECT_TRUE(s.ok()) << s.error_message();
    v1::GetValueRequest vr;
    vr.set_customer_id("n1");
    vr.set_consistency_token(token);
    v1::ValueView vv;
    s = value->GetValue(Ctx(east).get(), vr, &vv);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
    v1::TimelineRequest tr;
    tr.set_customer_id("n1");
    tr.set_consistency_token(token);
    v1::TimelineResponse tl;
    s = lifecycle->Timeline(Ctx(east).get(), tr, &tl);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  }

  // Review: another region is denied; ALL answers the one region's report.
  auto get_review = [&](v1::Dimension d, const std::string& v, v1::ReviewReport* report) {
    v1::GetReviewRequest r;
    r.set_granularity(v1::GRANULARITY_MONTH);
    *r.mutable_period_start() = event::ToProto(kNow - Days(10));
    r.set_dimension(d);
    r.set_dimension_value(v);
    r.set_consistency_token(token);
    return review->GetReview(Ctx(east).get(), r, report);
  };
  {
    v1::ReviewReport north, region, all_report;
    s = get_review(v1::DIMENSION_REGION, "华北", &north);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
    s = get_review(v1::DIMENSION_REGION, "华东", &region);
    EXPECT_TRUE(s.ok()) << s.error_message();
    s = get_review(v1::DIMENSION_ALL, "", &all_report);
    EXPECT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(all_report.metrics_size(), region.metrics_size());
    for (int i = 0; i < region.metrics_size(); ++i) {
      EXPECT_EQ(all_report.metrics(i).SerializeAsString(), region.metrics(i).SerializeAsString())
          << region.metrics(i).DebugString() << " vs " << all_report.metrics(i).DebugString();
    }
  }

  // Subscribe from earliest: only 华东's events, up to the marker and every one of them.
  {
    auto ctx = Ctx(east, absl::Seconds(20));
    v1::SubscribeRequest r;
    r.set_from("earliest");
    auto stream = subs->Subscribe(ctx.get(), r);
    std::set<std::string> seen;
    std::vector<std::string> foreign;
    v1::EventRecord rec;
    while ((!seen.contains("marker") || seen.size() < east_events.size()) && stream->Read(&rec)) {
      const std::string& customer = rec.event().customer_id();
      if (std::find(east_ids.begin(), east_ids.end(), customer) == east_ids.end()) {
        foreign.push_back(rec.event().event_id() + " of " + customer);
      }
      seen.insert(rec.event().event_id());
    }
    ctx->TryCancel();
    stream->Finish();
    EXPECT_EQ(seen, east_events);
    EXPECT_TRUE(foreign.empty()) << absl::StrJoin(foreign, ", ");
  }
}

// ---- 9 ----

TEST_F(SecurityTest, TlsAndMutualTls) {
  if (!HaveTool("openssl")) GTEST_SKIP() << "no openssl CLI";
  const std::string d = dir_.string();
  const std::string ext_server =
      TempFile("server.ext",
               "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
               "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n");
  const std::string ext_client =
      TempFile("client.ext",
               "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
               "extendedKeyUsage=clientAuth\n");
  const std::string q = " >>" + d + "/openssl.log 2>&1";
  ASSERT_EQ(Shell("cd " + d +
                  " && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem "
                  "-days 30 -subj /CN=custops-test-ca" +
                  q),
            0)
      << ReadFile(dir_ / "openssl.log");
  for (const auto& [name, cn, ext] :
       {std::tuple{std::string("server"), std::string("localhost"), ext_server},
        std::tuple{std::string("client"), std::string("custops-client"), ext_client}}) {
    ASSERT_EQ(
        Shell("cd " + d + " && openssl req -newkey rsa:2048 -nodes -keyout " + name + ".key -out " +
              name + ".csr -subj /CN=" + cn + q + " && openssl x509 -req -in " + name +
              ".csr -CA ca.pem -CAkey ca.key -CAcreateserial -out " + name +
              ".pem -days 30 -extfile " + ext + q),
        0)
        << ReadFile(dir_ / "openssl.log");
  }
  const std::string ca = ReadFile(dir_ / "ca.pem");
  const std::string client_cert = ReadFile(dir_ / "client.pem");
  const std::string client_key = ReadFile(dir_ / "client.key");
  grpc::SslCredentialsOptions server_only{.pem_root_certs = ca};
  grpc::SslCredentialsOptions with_client{
      .pem_root_certs = ca, .pem_private_key = client_key, .pem_cert_chain = client_cert};

  // TLS.
  const int http_port = testing::FreePort();
  const std::vector<std::string> tls = {"--tls-cert", d + "/server.pem", "--tls-key",
                                        d + "/server.key"};
  std::vector<std::string> args = tls;
  args.insert(args.end(), {"--http-listen", absl::StrCat("127.0.0.1:", http_port)});
  ASSERT_NO_FATAL_FAILURE(StartServer(args, [&](testing::ServerProcess& s) {
    s.set_credentials(grpc::SslCredentials(server_only));
  }));
  auto status = [&](std::shared_ptr<grpc::Channel> channel) {
    auto admin = v1::Admin::NewStub(channel);
    v1::StatusResponse resp;
    return admin->Status(Ctx("", absl::Seconds(10)).get(), v1::StatusRequest(), &resp);
  };
  grpc::Status s = status(NewChannel(grpc::SslCredentials(server_only)));
  EXPECT_TRUE(s.ok()) << s.error_message();
  {
    // The certificate names localhost too.
    grpc::ChannelArguments cargs;
    cargs.SetSslTargetNameOverride("localhost");
    s = status(
        grpc::CreateCustomChannel(server_->address(), grpc::SslCredentials(server_only), cargs));
    EXPECT_TRUE(s.ok()) << s.error_message();
  }
  s = status(NewChannel());
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  if (HaveTool("curl")) {
    const std::string out = d + "/curl.out";
    const int rc =
        Shell(absl::StrCat("curl -sS --max-time 10 --cacert ", d,
                           "/ca.pem -o /dev/null -w '%{http_code}' https://127.0.0.1:", http_port,
                           "/healthz >", out, " 2>&1"));
    EXPECT_EQ(rc, 0) << ReadFile(out);
    EXPECT_EQ(ReadFile(out), "200");
    // Plain HTTP to the TLS listener gets no answer.
    const int plain =
        Shell(absl::StrCat("curl -sS --max-time 5 -o /dev/null http://127.0.0.1:", http_port,
                           "/healthz >/dev/null 2>&1"));
    EXPECT_NE(plain, 0);
  } else {
    std::cout << "no curl: the HTTPS part is skipped" << std::endl;
  }
  ASSERT_EQ(server_->Stop(), 0);

  // Mutual TLS.
  args = tls;
  args.insert(args.end(), {"--tls-client-ca", d + "/ca.pem"});
  ASSERT_NO_FATAL_FAILURE(StartServer(args, [&](testing::ServerProcess& s) {
    s.set_credentials(grpc::SslCredentials(with_client));
  }));
  s = status(NewChannel(grpc::SslCredentials(server_only)));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  s = status(NewChannel(grpc::SslCredentials(with_client)));
  EXPECT_TRUE(s.ok()) << s.error_message();
  s = status(NewChannel());
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
}

// ---- 10 ----

// custops run by hand (not ServerProcess: it listens on 0.0.0.0).
class Child {
 public:
  Child(std::vector<std::string> argv, const std::string& out, const std::string& err) {
    std::vector<char*> cargv;
    for (std::string& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(o, STDOUT_FILENO);
      ::dup2(e, STDERR_FILENO);
      ::execv(cargv[0], cargv.data());
      ::_exit(127);
    }
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  // Its exit status once it exits within `timeout`; nullopt otherwise.
  std::optional<int> Wait(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (pid_ > 0) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      if (absl::Now() >= deadline) break;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return std::nullopt;
  }
  void Terminate() {
    if (pid_ > 0) ::kill(pid_, SIGTERM);
  }

 private:
  pid_t pid_ = -1;
};

TEST_F(SecurityTest, NonLoopbackListenRefusedWithoutAuth) {
  const int port = testing::FreePort();
  const std::string out = (dir_ / "stdout.log").string();
  const std::string err = (dir_ / "stderr.log").string();
  std::vector<std::string> argv = {CUSTOPS_BINARY,
                                   "--listen",
                                   absl::StrCat("0.0.0.0:", port),
                                   "--data-dir",
                                   (dir_ / "data").string(),
                                   "--metrics-listen",
                                   "",
                                   "--fixed-clock",
                                   "2026-11-23T00:00:00Z",
                                   "--partitions",
                                   "4"};
  {
    Child refused(argv, out, err);
    std::optional<int> code = refused.Wait(absl::Seconds(30));
    ASSERT_TRUE(code.has_value()) << "still running after 30 s";
    EXPECT_NE(*code, 0);
    EXPECT_TRUE(absl::StrContains(ReadFile(err), "not a loopback address"))
        << "stderr:\n"
        << ReadFile(err) << "\nstdout:\n"
        << ReadFile(out);
    std::cout << "refused with exit " << *code << ": " << ReadFile(err);
  }
  argv.push_back("--insecure");
  Child insecure(argv, out, err);
  grpc::ChannelArguments cargs;
  cargs.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  cargs.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  cargs.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
  auto channel = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                           grpc::InsecureChannelCredentials(), cargs);
  auto admin = v1::Admin::NewStub(channel);
  grpc::Status s;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  do {
    auto ctx = Ctx("", absl::Seconds(5));
    ctx->set_wait_for_ready(true);
    v1::StatusResponse resp;
    s = admin->Status(ctx.get(), v1::StatusRequest(), &resp);
  } while (!s.ok() && absl::Now() < deadline && !insecure.Wait(absl::ZeroDuration()));
  EXPECT_TRUE(s.ok()) << s.error_message() << "\nstderr:\n" << ReadFile(err);
  const std::string logs = ReadFile(out) + ReadFile(err);
  EXPECT_TRUE(absl::StrContains(logs, "INSECURE")) << logs;
  std::cout << "INSECURE logged on "
            << (absl::StrContains(ReadFile(err), "INSECURE") ? "stderr" : "stdout") << std::endl;
  admin.reset();
  channel.reset();
  const absl::Time stopping = absl::Now();
  insecure.Terminate();
  std::optional<int> code = insecure.Wait(absl::Seconds(60));
  std::cout << "stopped in " << absl::ToDoubleMilliseconds(absl::Now() - stopping) << " ms"
            << std::endl;
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
}

}  // namespace
}  // namespace custops
