#include "custops/rpc/gateway.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/wire_format_lite.h>
#include <grpcpp/impl/codegen/server_callback_handlers.h>
#include <grpcpp/impl/rpc_service_method.h>
#include <grpcpp/impl/service_type.h>
#include <spdlog/spdlog.h>

#include <array>
#include <deque>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "custops/base/check.h"
#include "custops/base/status_macros.h"
#include "custops/event/time.h"
#include "custops/rpc/log_limiter.h"
#include "custops/rpc/routing.h"
#include "custops/rpc/status.h"

namespace custops::rpc {
namespace {

namespace pb = google::protobuf;
using WireType = int;
constexpr WireType kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kStartGroup = 3, kEndGroup = 4,
                   kFixed32 = 5;

}  // namespace

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  while (i < s.size()) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    int n;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    for (int k = 1; k <= n; ++k) {
      if (i + k >= s.size() || (p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

namespace {

// Walks `raw` as a message of `type` (nullptr: unknown, only the framing
// is checked) and reports the first string field holding invalid UTF-8 or
// the first framing error. Empty when the walk finds nothing.
std::string Walk(const pb::Descriptor* type, std::string_view raw, const std::string& path,
                 int depth) {
  if (depth > 64) return absl::StrCat(path.empty() ? "request" : path, ": nested too deeply");
  pb::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(raw.data()),
                              static_cast<int>(raw.size()));
  std::map<int, int> seen;  // field number -> occurrences so far (for [i])
  while (true) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) {
      if (in.CurrentPosition() < static_cast<int>(raw.size())) {
        return absl::StrCat("malformed field tag at byte ", in.CurrentPosition());
      }
      return "";
    }
    const int number = static_cast<int>(tag >> 3);
    const WireType wire = static_cast<WireType>(tag & 7);
    const pb::FieldDescriptor* field = type ? type->FindFieldByNumber(number) : nullptr;
    std::string name = field ? field->name() : absl::StrCat("field ", number);
    const int index = seen[number]++;
    if (field && field->is_repeated()) absl::StrAppend(&name, "[", index, "]");
    const std::string here = path.empty() ? name : absl::StrCat(path, ".", name);
    switch (wire) {
      case kVarint: {
        uint64_t v;
        if (!in.ReadVarint64(&v)) return absl::StrCat(here, ": truncated varint");
        break;
      }
      case kFixed64: {
        uint64_t v;
        if (!in.ReadLittleEndian64(&v)) return absl::StrCat(here, ": truncated");
        break;
      }
      case kFixed32: {
        uint32_t v;
        if (!in.ReadLittleEndian32(&v)) return absl::StrCat(here, ": truncated");
        break;
      }
      case kLengthDelimited: {
        uint32_t length;
        if (!in.ReadVarint32(&length)) return absl::StrCat(here, ": truncated length");
        const int at = in.CurrentPosition();
        if (length > raw.size() - static_cast<size_t>(at)) {
          return absl::StrCat(here, ": length ", length, " runs past the end of the message");
        }
        const std::string_view bytes = raw.substr(at, length);
        if (!in.Skip(static_cast<int>(length))) return absl::StrCat(here, ": truncated");
        if (field == nullptr) break;
        if (field->type() == pb::FieldDescriptor::TYPE_STRING && !ValidUtf8(bytes)) {
          return absl::StrCat(here, ": invalid UTF-8");
        }
        if (field->type() == pb::FieldDescriptor::TYPE_MESSAGE) {
          std::string inner = Walk(field->message_type(), bytes, here, depth + 1);
          if (!inner.empty()) return inner;
        }
        break;
      }
      case kStartGroup:
      case kEndGroup:
        return absl::StrCat(here, ": groups are not used by this API");
      default:
        return absl::StrCat(here, ": unknown wire type ", wire);
    }
  }
}

// Equal without a timing side channel.
bool SameSecret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string PeerHost(const std::string& peer) {
  // "ipv4:127.0.0.1:5555", "ipv6:[::1]:5555", "unix:/path".
  std::string_view p = peer;
  if (const size_t colon = p.find(':'); colon != std::string_view::npos) p = p.substr(colon + 1);
  if (!p.empty() && p.front() == '[') {
    const size_t close = p.find(']');
    return std::string(p.substr(1, close == std::string_view::npos ? p.size() : close - 1));
  }
  if (const size_t colon = p.rfind(':'); colon != std::string_view::npos) p = p.substr(0, colon);
  return std::string(p);
}

std::string ServiceOf(std::string_view method) {
  return std::string(method.substr(0, method.find('/')));
}

grpc::ByteBuffer ToByteBuffer(std::string bytes) {
  grpc::Slice slice(std::move(bytes));
  return grpc::ByteBuffer(&slice, 1);
}

std::string MetadataOf(const grpc::ServerContextBase& ctx, std::string_view name) {
  auto it = ctx.client_metadata().find(grpc::string_ref(name.data(), name.size()));
  if (it == ctx.client_metadata().end()) return "";
  return std::string(it->second.data(), it->second.size());
}

// Routes protobuf's own log lines (e.g. "String field contains invalid
// UTF-8", written while a client's bytes are parsed) through the limiter.
void ProtobufLog(pb::LogLevel level, const char* file, int line, const std::string& message) {
  static LogLimiter limiter(absl::Seconds(10), 5);
  if (level < pb::LOGLEVEL_WARNING || !limiter.Allow()) return;
  spdlog::warn("protobuf ({}:{}): {}", file, line, message);
}

// Records in `holds` whether messages of `type` (and every type reachable
// from it) can hold a Timestamp.
bool IndexTimestamps(const pb::Descriptor* type, TimestampTypes& holds) {
  if (auto it = holds.find(type); it != holds.end()) return it->second;
  holds[type] = false;  // breaks cycles while computing
  bool any = false;
  for (int i = 0; i < type->field_count(); ++i) {
    const pb::Descriptor* m = type->field(i)->message_type();
    if (m == nullptr) continue;
    const bool here = m->full_name() == "google.protobuf.Timestamp" || IndexTimestamps(m, holds);
    any = any || here;
  }
  holds[type] = any;
  return any;
}

// Whether `m` holds a Timestamp outside protobuf's range; `path` then names
// it ("events[2].occurred_at") and `why` says what is wrong. Only fields
// whose type can hold a Timestamp are visited, and paths are built only on
// the way back from a problem.
bool TimestampProblem(const pb::Message& m, const TimestampTypes& holds, std::string* path,
                      std::string* why) {
  auto type_holds = [&holds](const pb::Descriptor* t) {
    auto it = holds.find(t);
    return it == holds.end() || it->second;  // unknown type: look
  };
  if (!type_holds(m.GetDescriptor())) return false;
  const pb::Reflection* r = m.GetReflection();
  std::vector<const pb::FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const pb::FieldDescriptor* f : fields) {
    const pb::Descriptor* t = f->message_type();
    if (t == nullptr) continue;
    const bool timestamp = t->full_name() == "google.protobuf.Timestamp";
    if (!timestamp && !type_holds(t)) continue;
    const int n = f->is_repeated() ? r->FieldSize(m, f) : 1;
    for (int i = 0; i < n; ++i) {
      const pb::Message& inner =
          f->is_repeated() ? r->GetRepeatedMessage(m, f, i) : r->GetMessage(m, f);
      std::string inner_path;
      if (timestamp) {
        absl::Status s = event::CheckTimestamp(static_cast<const pb::Timestamp&>(inner), "");
        if (s.ok()) continue;
        *why = std::string(s.message());  // ".nanos: ..." or ".seconds: ..."
      } else if (!TimestampProblem(inner, holds, &inner_path, why)) {
        continue;
      }
      *path = f->is_repeated() ? absl::StrCat(f->name(), "[", i, "]") : f->name();
      if (!inner_path.empty()) absl::StrAppend(path, ".", inner_path);
      return true;
    }
  }
  return false;
}

// The first invalid Timestamp of `m` as "path.nanos: ...", or "".
std::string TimestampProblem(const pb::Message& m, const TimestampTypes& holds) {
  std::string path, why;
  if (!TimestampProblem(m, holds, &path, &why)) return "";
  return absl::StrCat(path, why);
}

}  // namespace

std::string BytesOf(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  out.reserve(buffer.Length());
  for (const grpc::Slice& s : slices) {
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return out;
}

// ---- ClientLimits ----

absl::Status ClientLimits::Acquire(const std::string& client, Kind kind) {
  absl::MutexLock lock(&mu_);
  std::array<int, 2>& used = used_[client];
  if (used[kind] >= max_[kind]) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "this client already has ", used[kind],
        kind == kStream ? " open streams" : " pending waits", " (the limit: server.max_",
        kind == kStream ? "streams" : "waits", "_per_client)"));
  }
  ++used[kind];
  return absl::OkStatus();
}

void ClientLimits::Release(const std::string& client, Kind kind) {
  absl::MutexLock lock(&mu_);
  auto it = used_.find(client);
  if (it == used_.end()) return;
  if (--it->second[kind] <= 0 && it->second[1 - kind] <= 0) used_.erase(it);
}

int ClientLimits::InUse(const std::string& client, Kind kind) const {
  absl::MutexLock lock(&mu_);
  auto it = used_.find(client);
  return it == used_.end() ? 0 : it->second[kind];
}

// ---- Call ----

Call::Call(std::string method, Identity identity, absl::Time deadline, std::string client,
           std::string raw_request, base::Executor& workers, ClientLimits& limits)
    : method_(std::move(method)),
      identity_(std::move(identity)),
      deadline_(deadline),
      client_(std::move(client)),
      raw_request_(std::move(raw_request)),
      workers_(workers),
      limits_(limits) {}

Call::~Call() {
  for (int i = 0; i < waits_; ++i) limits_.Release(client_, ClientLimits::kWait);
}

bool Call::forwarded() const { return !Metadata(kForwardedHeader).empty(); }

void Call::Offload(absl::AnyInvocable<void() &&> fn) { workers_.Schedule(std::move(fn)); }

absl::Status Call::AdmitWait() {
  if (absl::Status s = limits_.Acquire(client_, ClientLimits::kWait); !s.ok()) return s;
  ++waits_;
  return absl::OkStatus();
}

void UnaryCall::Finish(absl::StatusOr<std::string> bytes) {
  if (stats_ != nullptr) {
    stats_->Record(method(), transport(), bytes.status().code(), absl::Now() - started_);
  }
  Deliver(std::move(bytes));
  delete this;
}

// ---- MethodTable ----

void MethodTable::Add(std::string name, Access access, UnaryHandler unary, StreamHandler stream) {
  const pb::MethodDescriptor* descriptor = pb::DescriptorPool::generated_pool()->FindMethodByName(
      absl::StrCat(name.substr(0, name.find('/')), ".", name.substr(name.find('/') + 1)));
  CUSTOPS_CHECK(descriptor != nullptr) << "no such method in the generated pool: " << name;
  Insert({.name = std::move(name),
          .descriptor = descriptor,
          .access = access,
          .unary = std::move(unary),
          .stream = std::move(stream)});
}

void MethodTable::Insert(MethodEntry entry) {
  const std::string service = ServiceOf(entry.name);
  if (std::find(services_.begin(), services_.end(), service) == services_.end()) {
    services_.push_back(service);
  }
  methods_[entry.name] = std::move(entry);
}

void MethodTable::SetPrecheck(const std::string& name, Precheck precheck) {
  auto it = methods_.find(name);
  CUSTOPS_CHECK(it != methods_.end()) << "no such method registered: " << name;
  it->second.precheck = std::move(precheck);
}

void MethodTable::Route(const std::string& service, Router router) {
  for (auto& [name, e] : methods_) {
    if (ServiceOf(name) == service) e.router = router;
  }
}

const MethodEntry* MethodTable::Find(std::string_view name) const {
  auto it = methods_.find(name);
  return it == methods_.end() ? nullptr : &it->second;
}

std::vector<std::string> MethodTable::Services() const { return services_; }

std::vector<std::string> MethodTable::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, e] : methods_) names.push_back(name);
  return names;
}

// ---- wire helpers ----

absl::StatusOr<int64_t> CountField(std::string_view raw, int field_number) {
  pb::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(raw.data()),
                              static_cast<int>(raw.size()));
  int64_t count = 0;
  while (true) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) break;
    if (static_cast<int>(tag >> 3) == field_number) ++count;
    if (!pb::internal::WireFormatLite::SkipField(&in, tag)) {
      return absl::InvalidArgumentError("request is not a valid message (truncated)");
    }
  }
  if (in.CurrentPosition() < static_cast<int>(raw.size())) {
    return absl::InvalidArgumentError("request is not a valid message (malformed tag)");
  }
  return count;
}

std::string DescribeParseError(const pb::Descriptor& type, std::string_view raw) {
  std::string why = Walk(&type, raw, "", 0);
  if (why.empty()) return absl::StrCat("request is not a valid ", type.full_name());
  return absl::StrCat("request is not a valid ", type.full_name(), ": ", why);
}

bool Allows(const Identity& identity, Access access) {
  switch (access) {
    case Access::kEmitter:
      return identity.Has(Role::kEmitter);
    case Access::kReader:
      return identity.Has(Role::kReader);
    case Access::kAdmin:
      return identity.Has(Role::kAdmin);
    case Access::kPublic:
      return true;
  }
  return false;
}

// ---- the gRPC adapter ----

bool Audited(const MethodEntry& entry) {
  return entry.access == Access::kAdmin || absl::StartsWith(entry.name, "custops.v1.Admin/");
}

class Gateway::RawService final : public grpc::Service {
 public:
  RawService(Gateway& gateway, const pb::ServiceDescriptor& service) : gateway_(gateway) {
    for (int i = 0; i < service.method_count(); ++i) {
      const pb::MethodDescriptor& m = *service.method(i);
      paths_.push_back(absl::StrCat("/", service.full_name(), "/", m.name()));
      const std::string name = absl::StrCat(service.full_name(), "/", m.name());
      const MethodEntry* entry = gateway_.table_.Find(name);
      const bool streaming = m.server_streaming();
      AddMethod(new grpc::internal::RpcServiceMethod(
          paths_.back().c_str(),
          streaming ? grpc::internal::RpcMethod::SERVER_STREAMING
                    : grpc::internal::RpcMethod::NORMAL_RPC,
          nullptr));
      if (streaming) {
        MarkMethodRawCallback(
            i,
            new grpc::internal::CallbackServerStreamingHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
                [this, entry, name](grpc::CallbackServerContext* ctx,
                                    const grpc::ByteBuffer* request) {
                  return gateway_.StartStream(entry, name, ctx, request);
                }));
      } else {
        MarkMethodRawCallback(
            i,
            new grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
                [this, entry, name](grpc::CallbackServerContext* ctx,
                                    const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
                  return gateway_.StartUnary(entry, name, ctx, request, response);
                }));
      }
    }
  }

 private:
  Gateway& gateway_;
  std::deque<std::string> paths_;  // RpcServiceMethod keeps the pointers
};

namespace {

class GrpcCall final : public UnaryCall {
 public:
  GrpcCall(const MethodEntry& entry, Identity identity, absl::Time deadline, std::string client,
           std::string raw, base::Executor& workers, ClientLimits& limits,
           grpc::CallbackServerContext* ctx, grpc::ServerUnaryReactor* reactor,
           grpc::ByteBuffer* response, std::string peer)
      : UnaryCall(entry.name, std::move(identity), deadline, std::move(client), std::move(raw),
                  workers, limits),
        entry_(entry),
        ctx_(ctx),
        reactor_(reactor),
        response_(response),
        peer_(std::move(peer)) {}

  std::string Metadata(std::string_view name) const override { return MetadataOf(*ctx_, name); }

 protected:
  void Deliver(absl::StatusOr<std::string> bytes) override {
    if (bytes.ok()) *response_ = ToByteBuffer(std::move(*bytes));
    if (Audited(entry_)) Gateway::Audit(identity(), entry_.name, bytes.status(), peer_);
    reactor_->Finish(ToGrpcStatus(bytes.status()));
  }
  Transport transport() const override { return Transport::kGrpc; }

 private:
  const MethodEntry& entry_;
  grpc::CallbackServerContext* ctx_;
  grpc::ServerUnaryReactor* reactor_;
  grpc::ByteBuffer* response_;
  std::string peer_;
};

class GrpcStreamCall final : public Call {
 public:
  GrpcStreamCall(std::string method, Identity identity, absl::Time deadline, std::string client,
                 std::string raw, base::Executor& workers, ClientLimits& limits)
      : Call(std::move(method), std::move(identity), deadline, std::move(client), std::move(raw),
             workers, limits) {}
  void set_context(grpc::CallbackServerContext* ctx) { ctx_ = ctx; }
  std::string Metadata(std::string_view name) const override { return MetadataOf(*ctx_, name); }

 private:
  grpc::CallbackServerContext* ctx_ = nullptr;
};

// A server stream: the reactor deletes itself at OnDone; the sink the
// handler holds outlives it and then refuses writes.
class StreamReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  class Sink final : public StreamSink {
   public:
    void Write(const pb::Message& message, absl::AnyInvocable<void(bool) &&> written) override {
      {
        absl::MutexLock lock(&mu_);
        if (reactor_ != nullptr && !finished_) {
          buffer_ = ToByteBuffer(message.SerializeAsString());
          written_ = std::move(written);
          reactor_->StartWrite(&buffer_);
          return;
        }
      }
      std::move(written)(false);
    }
    void Finish(absl::Status status) override {
      absl::MutexLock lock(&mu_);
      if (reactor_ == nullptr || finished_) return;
      finished_ = true;
      reactor_->Finish(ToGrpcStatus(status));
    }
    void OnCancel(absl::AnyInvocable<void() &&> on_cancel) override {
      absl::MutexLock lock(&mu_);
      on_cancel_ = std::move(on_cancel);
    }

   private:
    friend class StreamReactor;
    absl::Mutex mu_;
    StreamReactor* reactor_ ABSL_GUARDED_BY(mu_) = nullptr;
    bool finished_ ABSL_GUARDED_BY(mu_) = false;
    grpc::ByteBuffer buffer_;
    absl::AnyInvocable<void(bool) &&> written_;
    absl::AnyInvocable<void() &&> on_cancel_ ABSL_GUARDED_BY(mu_);
  };

  StreamReactor(ClientLimits& limits) : limits_(limits), sink_(std::make_shared<Sink>()) {
    absl::MutexLock lock(&sink_->mu_);
    sink_->reactor_ = this;
  }

  void Fail(const absl::Status& s) { sink_->Finish(s); }

  // Holds a stream slot of `client` until OnDone.
  void Hold(std::string client) { client_ = std::move(client); }

  std::shared_ptr<Sink> sink() { return sink_; }
  std::unique_ptr<GrpcStreamCall> call;
  std::unique_ptr<pb::Message> request;

  void OnWriteDone(bool ok) override {
    absl::AnyInvocable<void(bool)&&> written = std::move(sink_->written_);
    if (written) std::move(written)(ok);
  }
  void OnCancel() override {
    absl::AnyInvocable<void() &&> on_cancel;
    {
      absl::MutexLock lock(&sink_->mu_);
      on_cancel = std::move(sink_->on_cancel_);
      if (!on_cancel && !sink_->finished_) {
        // No handler is listening: end the stream here.
        sink_->finished_ = true;
        Finish(grpc::Status::CANCELLED);
      }
    }
    if (on_cancel) std::move(on_cancel)();
  }
  void OnDone() override {
    {
      absl::MutexLock lock(&sink_->mu_);
      sink_->reactor_ = nullptr;
      sink_->on_cancel_ = nullptr;
    }
    if (!client_.empty()) limits_.Release(client_, ClientLimits::kStream);
    delete this;
  }

 private:
  ClientLimits& limits_;
  std::shared_ptr<Sink> sink_;
  std::string client_;
};

}  // namespace

Gateway::Gateway(const MethodTable& table, const TokenVerifier* verifier, ServingOptions options)
    : table_(table),
      verifier_(verifier),
      options_(std::move(options)),
      limits_(options_.max_streams_per_client, options_.max_waits_per_client),
      workers_(std::make_unique<base::Executor>(
          base::ExecutorOptions{.threads = options_.workers, .name = "rpc"})) {
  pb::SetLogHandler(&ProtobufLog);
  stats_ = std::make_unique<RpcStats>(table_.Names());
  for (const std::string& service : table_.Services()) {
    const pb::ServiceDescriptor* d =
        pb::DescriptorPool::generated_pool()->FindServiceByName(service);
    CUSTOPS_CHECK(d != nullptr) << "no such service in the generated pool: " << service;
    services_.push_back(std::make_unique<RawService>(*this, *d));
  }
}

Gateway::~Gateway() = default;

std::vector<grpc::Service*> Gateway::services() {
  std::vector<grpc::Service*> out;
  for (auto& s : services_) out.push_back(s.get());
  return out;
}

size_t Gateway::max_request_bytes() const {
  size_t m = options_.max_request_bytes;
  for (const auto& [name, limit] : options_.max_request_bytes_by_method) m = std::max(m, limit);
  return m;
}

absl::Status Gateway::TooLarge(const MethodEntry& entry, size_t size) const {
  return absl::ResourceExhaustedError(absl::StrCat("request of ", size, " bytes exceeds the ",
                                                   LimitOf(entry), "-byte limit of ", entry.name,
                                                   " (server.max_request_bytes)"));
}

size_t Gateway::LimitOf(const MethodEntry& entry) const {
  auto it = options_.max_request_bytes_by_method.find(entry.name);
  return it == options_.max_request_bytes_by_method.end() ? options_.max_request_bytes : it->second;
}

void Gateway::Audit(const Identity& identity, const std::string& method, const absl::Status& s,
                    std::string_view peer) {
  static LogLimiter limiter(absl::Seconds(1), 50);
  if (!limiter.Allow()) return;
  spdlog::info("audit: sub={} method={} outcome={} peer={}", identity.subject, method,
               s.ok() ? "OK" : absl::StatusCodeToString(s.code()), peer);
}

absl::StatusOr<Identity> Gateway::Authorize(const MethodEntry& entry,
                                            std::string_view authorization,
                                            std::string_view peer) const {
  if (verifier_ == nullptr) return Identity::Anonymous();
  // No token needed (health): a caller without roles, counted by address.
  if (entry.access == Access::kPublic) return Identity{};
  if (!options_.internal_token.empty() &&
      SameSecret(authorization, absl::StrCat("Bearer ", options_.internal_token))) {
    Identity self = Identity::Anonymous();
    self.subject = "custops (this process)";
    return self;
  }
  absl::StatusOr<Identity> identity = verifier_->Verify(authorization);
  if (!identity.ok()) {
    Identity unknown;
    unknown.subject = "-";
    Audit(unknown, entry.name, identity.status(), peer);
    return identity.status();
  }
  if (!Allows(*identity, entry.access)) {
    const absl::Status denied =
        absl::PermissionDeniedError(absl::StrCat(entry.name, " needs the ",
                                                 entry.access == Access::kEmitter  ? "emitter"
                                                 : entry.access == Access::kReader ? "reader"
                                                                                   : "admin",
                                                 " role"));
    Audit(*identity, entry.name, denied, peer);
    return denied;
  }
  return identity;
}

absl::StatusOr<Identity> Gateway::Admit(const MethodEntry& entry, std::string_view authorization,
                                        std::string_view peer, std::string_view raw) const {
  ASSIGN_OR_RETURN(Identity identity, Authorize(entry, authorization, peer));
  RETURN_IF_ERROR(Check(entry, raw));
  return identity;
}

absl::Status Gateway::Check(const MethodEntry& entry, std::string_view raw) const {
  if (raw.size() > LimitOf(entry)) return TooLarge(entry, raw.size());
  if (entry.precheck) RETURN_IF_ERROR(entry.precheck(raw));
  return absl::OkStatus();
}

std::string Gateway::ClientOf(const Identity& identity, std::string_view peer) const {
  return verifier_ && !identity.subject.empty() ? identity.subject : std::string(peer);
}

void Gateway::Dispatch(const MethodEntry& entry, std::unique_ptr<UnaryCall> owned,
                       absl::Time started) {
  UnaryCall* call = owned.release();  // Finish deletes it
  call->stats_ = stats_.get();
  call->started_ = started;
  if (entry.router) {
    RawDone raw_done = [call](absl::StatusOr<std::string> bytes) {
      call->Finish(std::move(bytes));
    };
    if (entry.router(*call, raw_done)) return;
  }
  pb::MessageFactory* factory = pb::MessageFactory::generated_factory();
  call->request.reset(factory->GetPrototype(entry.descriptor->input_type())->New());
  if (!call->request->ParseFromString(call->raw_request())) {
    call->Finish(absl::InvalidArgumentError(
        DescribeParseError(*entry.descriptor->input_type(), call->raw_request())));
    return;
  }
  if (std::string bad = TimestampProblem(*call->request, timestamp_types_); !bad.empty()) {
    call->Finish(absl::InvalidArgumentError(bad));
    return;
  }
  call->response.reset(factory->GetPrototype(entry.descriptor->output_type())->New());
  entry.unary(*call, *call->request, call->response.get(), [this, call](absl::Status s) {
    if (!s.ok()) {
      call->Finish(std::move(s));
      return;
    }
    if (std::string bad = TimestampProblem(*call->response, timestamp_types_); !bad.empty()) {
      // An answer that cannot be written as a valid Timestamp: the request
      // reaches past the range (a period at year 1 or 9999).
      call->Finish(absl::InvalidArgumentError(
          absl::StrCat("the answer would hold a time outside 0001-01-01..9999-12-31 (", bad,
                       "): ask for an instant further from the range's ends")));
      return;
    }
    call->Finish(call->response->SerializeAsString());
  });
}

grpc::ServerUnaryReactor* Gateway::StartUnary(const MethodEntry* entry, const std::string& name,
                                              grpc::CallbackServerContext* ctx,
                                              const grpc::ByteBuffer* request,
                                              grpc::ByteBuffer* response) {
  const absl::Time started = absl::Now();
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (entry == nullptr || !entry->unary) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                                 absl::StrCat(name, " is not served by this instance")));
    return reactor;
  }
  const std::string peer = PeerHost(ctx->peer());
  const std::string authorization = MetadataOf(*ctx, "authorization");
  // The size limit is checked before the bytes are copied out of gRPC's
  // buffer (after the credentials: an unauthenticated caller learns nothing
  // of limits).
  std::string raw;
  absl::StatusOr<Identity> identity;
  if (request->Length() > LimitOf(*entry)) {
    identity = Authorize(*entry, authorization, peer);
    if (identity.ok()) identity = TooLarge(*entry, request->Length());
  } else {
    raw = BytesOf(*request);
    identity = Admit(*entry, authorization, peer, raw);
  }
  if (!identity.ok()) {
    stats_->Record(entry->name, Transport::kGrpc, identity.status().code(), absl::Now() - started);
    reactor->Finish(ToGrpcStatus(identity.status()));
    return reactor;
  }
  std::string client = ClientOf(*identity, peer);
  auto call = std::make_unique<GrpcCall>(
      *entry, std::move(*identity), CallDeadline(*ctx, options_.max_wait), std::move(client),
      std::move(raw), *workers_, limits_, ctx, reactor, response, peer);
  Dispatch(*entry, std::move(call), started);
  return reactor;
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* Gateway::StartStream(const MethodEntry* entry,
                                                                 const std::string& name,
                                                                 grpc::CallbackServerContext* ctx,
                                                                 const grpc::ByteBuffer* request) {
  auto* reactor = new StreamReactor(limits_);
  if (entry == nullptr || !entry->stream) {
    reactor->Fail(absl::UnimplementedError(absl::StrCat(name, " is not served by this instance")));
    return reactor;
  }
  const std::string peer = PeerHost(ctx->peer());
  absl::StatusOr<Identity> identity = Authorize(*entry, MetadataOf(*ctx, "authorization"), peer);
  if (!identity.ok()) {
    reactor->Fail(identity.status());
    return reactor;
  }
  if (request->Length() > LimitOf(*entry)) {
    reactor->Fail(TooLarge(*entry, request->Length()));
    return reactor;
  }
  std::string client = ClientOf(*identity, peer);
  if (absl::Status s = limits_.Acquire(client, ClientLimits::kStream); !s.ok()) {
    reactor->Fail(s);
    return reactor;
  }
  reactor->Hold(client);
  reactor->call =
      std::make_unique<GrpcStreamCall>(name, std::move(*identity), absl::InfiniteFuture(),
                                       std::move(client), BytesOf(*request), *workers_, limits_);
  reactor->call->set_context(ctx);
  pb::MessageFactory* factory = pb::MessageFactory::generated_factory();
  reactor->request.reset(factory->GetPrototype(entry->descriptor->input_type())->New());
  if (!reactor->request->ParseFromString(reactor->call->raw_request())) {
    reactor->Fail(absl::InvalidArgumentError(
        DescribeParseError(*entry->descriptor->input_type(), reactor->call->raw_request())));
    return reactor;
  }
  if (std::string bad = TimestampProblem(*reactor->request, timestamp_types_); !bad.empty()) {
    reactor->Fail(absl::InvalidArgumentError(bad));
    return reactor;
  }
  entry->stream(*reactor->call, *reactor->request, reactor->sink());
  return reactor;
}

}  // namespace custops::rpc
