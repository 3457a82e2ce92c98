// The gRPC adapter of the Gateway (custops/rpc/gateway.h): the raw
// (byte-buffer) generic services it registers, one per service of the
// MethodTable, with callback-API handlers; the Gateway's construction (it
// builds those services); the unary and server-stream calls and reactors;
// and the glue between gRPC and the transport-independent dispatch in
// gateway.cc (peer, metadata, byte buffers, protobuf's log).
#include <google/protobuf/descriptor.h>
#include <google/protobuf/stubs/logging.h>
#include <grpcpp/impl/codegen/server_callback_handlers.h>
#include <grpcpp/impl/rpc_service_method.h>
#include <grpcpp/impl/service_type.h>
#include <spdlog/spdlog.h>

#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "custops/base/check.h"
#include "custops/rpc/gateway.h"
#include "custops/rpc/log_limiter.h"
#include "custops/rpc/status.h"
#include "gateway_internal.h"

namespace custops::rpc {
namespace {

namespace pb = google::protobuf;
using gateway_internal::TimestampProblem;

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

// ---- the gRPC adapter ----

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
  // Which request and answer types can hold a Timestamp: the range check
  // walks only those.
  for (const std::string& name : table_.Names()) {
    const MethodEntry* entry = table_.Find(name);
    gateway_internal::IndexTimestamps(entry->descriptor->input_type(), timestamp_types_);
    gateway_internal::IndexTimestamps(entry->descriptor->output_type(), timestamp_types_);
  }
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
