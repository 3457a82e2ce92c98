// The front door (docs/security.md): one table maps every public method to
// its handler, whatever the transport, and one gRPC adapter serves the table
// with raw (byte-buffer) handlers, so that before any handler runs:
//   1. the bearer token is verified and the method's role checked
//      (UNAUTHENTICATED / PERMISSION_DENIED, with an audit line);
//   2. the request's size is checked against the method's limit and its
//      element count (events per Append) counted on the wire, before a
//      message is built;
//   3. the bytes are parsed here, so undecodable input answers
//      INVALID_ARGUMENT naming the cause (gRPC's own callback handlers
//      answer UNIMPLEMENTED with an empty message).
// Handlers complete asynchronously through `Done`: a wait (consistency
// token, forwarded call) registers a callback and returns, so no serving
// thread is held; work that may block runs on the worker pool (Offload).
//
//   rpc::MethodTable table;
//   table.Unary<v1::GetCustomerRequest, v1::CustomerView>(
//       "custops.v1.Lifecycle/GetCustomer", rpc::Access::kReader,
//       [&](rpc::Call& call, const v1::GetCustomerRequest& r, v1::CustomerView* out,
//           rpc::Done done) { std::move(done)(Answer(r, out)); });
//   rpc::Gateway gateway(table, verifier.get(), {});
//   for (grpc::Service* s : gateway.services()) builder.RegisterService(s);
#ifndef CUSTOPS_RPC_GATEWAY_H_
#define CUSTOPS_RPC_GATEWAY_H_

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "custops/base/executor.h"
#include "custops/rpc/auth.h"
#include "custops/rpc/rpc_stats.h"

namespace custops::rpc {

// The role a method needs (docs/security.md): emitter for EventIngest and
// the command services; reader for queries, subscriptions and Admin.Status;
// admin for everything else (RefitClv, rebuilds, dead-letter replay);
// public for health checks, which need no token.
enum class Access { kEmitter, kReader, kAdmin, kPublic };

// Completes a call; call exactly once.
using Done = absl::AnyInvocable<void(absl::Status) &&>;

struct ServingOptions {
  // Largest request a method accepts unless `max_request_bytes_by_method`
  // names it. Default: 4 MiB
  size_t max_request_bytes = 4 << 20;
  // Per-method overrides, keyed "custops.v1.EventIngest/Append". Default: none
  std::map<std::string, size_t> max_request_bytes_by_method;
  // A wait (consistency token) of a call without a deadline ends after this.
  // Default: 30 s
  absl::Duration max_wait = absl::Seconds(30);
  // Open server streams per client (token subject, or peer address without
  // auth); more answer RESOURCE_EXHAUSTED. Default: 1000
  int max_streams_per_client = 1000;
  // Pending waits per client; more answer RESOURCE_EXHAUSTED. Default: 5000
  int max_waits_per_client = 5000;
  // Worker threads for work that may block. Default: 8
  int workers = 8;
  // A bearer token that stands for the process itself (every role, all
  // regions), for its own calls such as loading the demo: random, made at
  // start and never written anywhere. Empty: none. Default: ""
  std::string internal_token;
};

// Counts of streams and waits per client. Thread-safe.
class ClientLimits {
 public:
  enum Kind { kStream = 0, kWait = 1 };
  ClientLimits(int max_streams, int max_waits) : max_{max_streams, max_waits} {}
  // RESOURCE_EXHAUSTED when `client` is at its limit of `kind`.
  absl::Status Acquire(const std::string& client, Kind kind);
  void Release(const std::string& client, Kind kind);
  int InUse(const std::string& client, Kind kind) const;

 private:
  const int max_[2];
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::array<int, 2>> used_ ABSL_GUARDED_BY(mu_);
};

// One call, whatever the transport. Owned by the transport until the call
// is done; a handler must not touch it after calling Done.
class Call {
 public:
  virtual ~Call();
  // "custops.v1.Lifecycle/GetCustomer".
  const std::string& method() const { return method_; }
  const Identity& identity() const { return identity_; }
  // The client's deadline, capped at arrival + ServingOptions::max_wait.
  absl::Time deadline() const { return deadline_; }
  // Request metadata (gRPC) or header (HTTP), lower-case name; "" if absent.
  virtual std::string Metadata(std::string_view name) const = 0;
  // Whether another instance forwarded this call (x-custops-forwarded).
  bool forwarded() const;
  // The key per-client limits count under.
  const std::string& client() const { return client_; }
  // The request as it arrived on the wire (protobuf bytes).
  const std::string& raw_request() const { return raw_request_; }
  // Runs `fn` on the worker pool (work that may block).
  void Offload(absl::AnyInvocable<void() &&> fn);
  // Counts one pending wait of this call against the client's limit
  // (RESOURCE_EXHAUSTED beyond it); released when the call completes.
  absl::Status AdmitWait();

 protected:
  Call(std::string method, Identity identity, absl::Time deadline, std::string client,
       std::string raw_request, base::Executor& workers, ClientLimits& limits);

 private:
  std::string method_;
  Identity identity_;
  absl::Time deadline_;
  std::string client_;
  std::string raw_request_;
  base::Executor& workers_;
  ClientLimits& limits_;
  int waits_ = 0;
};

// A unary call of any transport. The gateway parses `raw_request()` into
// `request`, runs the handler and hands the serialized answer (or the
// refusal) to Deliver, once; the call is deleted right after.
class UnaryCall : public Call {
 public:
  std::unique_ptr<google::protobuf::Message> request;
  std::unique_ptr<google::protobuf::Message> response;

  // Records the outcome in the gateway's statistics, delivers it and
  // deletes the call.
  void Finish(absl::StatusOr<std::string> bytes);

 protected:
  using Call::Call;
  // Hands the answer to the transport.
  virtual void Deliver(absl::StatusOr<std::string> bytes) = 0;
  virtual Transport transport() const = 0;

 private:
  friend class Gateway;
  RpcStats* stats_ = nullptr;
  absl::Time started_ = absl::InfinitePast();
};

// Where a server stream's messages go. Thread-safe; Write calls must not
// overlap (call the next one from the previous one's callback).
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  // Sends `message`; `written(ok)` runs when the transport is ready for the
  // next one (false: the stream is gone; finish it).
  virtual void Write(const google::protobuf::Message& message,
                     absl::AnyInvocable<void(bool) &&> written) = 0;
  // Ends the stream with `status`; once.
  virtual void Finish(absl::Status status) = 0;
  // `on_cancel` runs once if the client goes away (or the server stops)
  // before Finish. Set it before the first Write.
  virtual void OnCancel(absl::AnyInvocable<void() &&> on_cancel) = 0;
};

using UnaryHandler =
    std::function<void(Call&, const google::protobuf::Message&, google::protobuf::Message*, Done)>;
using StreamHandler =
    std::function<void(Call&, const google::protobuf::Message&, std::shared_ptr<StreamSink>)>;
// A check on the raw request before it is parsed (e.g. counting events).
using Precheck = std::function<absl::Status(std::string_view raw)>;
// Answers a call from raw bytes instead of the handler (forwarding to
// another instance): returns false to let the handler answer; true when it
// took the call and will call `done` with the response bytes.
using RawDone = absl::AnyInvocable<void(absl::StatusOr<std::string>) &&>;
using Router = std::function<bool(Call&, RawDone&)>;

struct MethodEntry {
  std::string name;  // "custops.v1.Lifecycle/GetCustomer"
  const google::protobuf::MethodDescriptor* descriptor = nullptr;
  Access access = Access::kReader;
  UnaryHandler unary;  // one of unary / stream
  StreamHandler stream;
  Precheck precheck;
  Router router;  // set by MethodTable::Route for the whole service
};

// The one map from method to handler. Fill it before serving; reads are
// then thread-safe.
class MethodTable {
 public:
  template <typename Req, typename Resp>
  void Unary(std::string name, Access access,
             std::function<void(Call&, const Req&, Resp*, Done)> fn) {
    Add(
        std::move(name), access,
        [fn = std::move(fn)](Call& call, const google::protobuf::Message& req,
                             google::protobuf::Message* resp, Done done) {
          fn(call, static_cast<const Req&>(req), static_cast<Resp*>(resp), std::move(done));
        },
        nullptr);
  }
  // A handler that answers synchronously; `offload` runs it on the worker
  // pool (for work that may block).
  template <typename Req, typename Resp>
  void Sync(std::string name, Access access, bool offload,
            std::function<absl::StatusOr<Resp>(Call&, const Req&)> fn) {
    Unary<Req, Resp>(
        std::move(name), access,
        [fn = std::move(fn), offload](Call& call, const Req& req, Resp* resp, Done done) mutable {
          auto run = [&fn, &call, &req, resp, done = std::move(done)]() mutable {
            absl::StatusOr<Resp> r = fn(call, req);
            if (r.ok()) *resp = std::move(*r);
            std::move(done)(r.status());
          };
          if (offload) {
            call.Offload(std::move(run));
          } else {
            run();
          }
        });
  }
  template <typename Req>
  void Stream(std::string name, Access access,
              std::function<void(Call&, const Req&, std::shared_ptr<StreamSink>)> fn) {
    Add(std::move(name), access, nullptr,
        [fn = std::move(fn)](Call& call, const google::protobuf::Message& req,
                             std::shared_ptr<StreamSink> sink) {
          fn(call, static_cast<const Req&>(req), std::move(sink));
        });
  }
  // Adds a method entry as it is, e.g. one that hands each call to the table
  // of whichever copy of a projection serves at the time (a rebuild's swap).
  void Insert(MethodEntry entry);
  // Adds a precheck to a registered method.
  void SetPrecheck(const std::string& name, Precheck precheck);
  // Routes every method of `service` ("custops.v1.Value") through `router`.
  void Route(const std::string& service, Router router);

  const MethodEntry* Find(std::string_view name) const;
  // Registered service names, in order of registration.
  std::vector<std::string> Services() const;
  // Registered method names ("svc/Method"), sorted.
  std::vector<std::string> Names() const;

 private:
  void Add(std::string name, Access access, UnaryHandler unary, StreamHandler stream);
  std::map<std::string, MethodEntry, std::less<>> methods_;
  std::vector<std::string> services_;
};

// Completes `done` with `answer()` once `wait` has called back OK (or with
// the wait's error). `wait` gets the continuation and must call it once;
// the answer runs on the worker pool when `offload`, or when the wait
// completed on another thread (the apply or the timer thread must not run
// queries), else inline.
template <typename Resp>
void AnswerAfter(Call& call, absl::AnyInvocable<void(Done) &&> wait,
                 absl::AnyInvocable<absl::StatusOr<Resp>() &&> answer, Resp* out, Done done,
                 bool offload = false) {
  const std::thread::id caller = std::this_thread::get_id();
  std::move(wait)([&call, caller, offload, answer = std::move(answer), out,
                   done = std::move(done)](absl::Status waited) mutable {
    if (!waited.ok()) {
      std::move(done)(std::move(waited));
      return;
    }
    auto run = [answer = std::move(answer), out, done = std::move(done)]() mutable {
      absl::StatusOr<Resp> r = std::move(answer)();
      if (r.ok()) *out = std::move(*r);
      std::move(done)(r.status());
    };
    if (offload || std::this_thread::get_id() != caller) {
      call.Offload(std::move(run));
    } else {
      run();
    }
  });
}

// Message types -> whether they can hold a google.protobuf.Timestamp.
using TimestampTypes = absl::flat_hash_map<const google::protobuf::Descriptor*, bool>;

// Strict UTF-8 (no overlong forms, no surrogates, at most U+10FFFF): what
// protobuf requires of proto3 strings.
bool ValidUtf8(std::string_view s);

// The bytes of a gRPC message buffer, contiguous.
std::string BytesOf(const grpc::ByteBuffer& buffer);

// Counts the occurrences of top-level field `field_number` in a serialized
// message without parsing it; INVALID_ARGUMENT when the bytes are not a
// well-formed message.
absl::StatusOr<int64_t> CountField(std::string_view raw, int field_number);

// Why `raw` does not parse as `type`: "events[3].customer_id: invalid
// UTF-8", or "request is not a valid custops.v1.AppendRequest (...)".
std::string DescribeParseError(const google::protobuf::Descriptor& type, std::string_view raw);

// Whether calls of `entry` go to the audit log even when allowed (admin
// methods and Admin.*).
bool Audited(const MethodEntry& entry);

// Whether `identity` may call a method needing `access`.
bool Allows(const Identity& identity, Access access);

// Serves a MethodTable over gRPC. `table` (and `verifier`, may be null: auth
// off) must outlive the gateway; register services() on a ServerBuilder
// before it starts; call Shutdown() before the server's Shutdown.
class Gateway {
 public:
  Gateway(const MethodTable& table, const TokenVerifier* verifier, ServingOptions options);
  ~Gateway();
  std::vector<grpc::Service*> services();
  // The largest request any method accepts (gRPC's receive limit).
  size_t max_request_bytes() const;
  base::Executor& workers() { return *workers_; }
  ClientLimits& limits() { return limits_; }
  const ServingOptions& options() const { return options_; }

  // Checks a call's credentials against `entry`: the identity, or
  // UNAUTHENTICATED / PERMISSION_DENIED (audited). For any transport.
  absl::StatusOr<Identity> Authorize(const MethodEntry& entry, std::string_view authorization,
                                     std::string_view peer) const;
  // The size limit of `entry`, and the refusal of a request of `size` bytes
  // over it (RESOURCE_EXHAUSTED).
  size_t LimitOf(const MethodEntry& entry) const;
  absl::Status TooLarge(const MethodEntry& entry, size_t size) const;
  // Admits one arriving request of `entry` with its serialized bytes:
  // credentials and role (UNAUTHENTICATED / PERMISSION_DENIED), the size
  // limit (RESOURCE_EXHAUSTED) and the method's precheck. The identity, or
  // the refusal. For any transport.
  absl::StatusOr<Identity> Admit(const MethodEntry& entry, std::string_view authorization,
                                 std::string_view peer, std::string_view raw) const;
  // The size limit and the method's precheck alone.
  absl::Status Check(const MethodEntry& entry, std::string_view raw) const;
  // The key per-client limits count `identity` calling from `peer` under.
  std::string ClientOf(const Identity& identity, std::string_view peer) const;
  // Serves an admitted unary call: the service's router (forwarding) or the
  // parse (INVALID_ARGUMENT naming the field), the Timestamp checks on the
  // request and the answer, and the handler. Takes `call`, which Finish
  // deletes; its latency counts from `started` (its arrival).
  void Dispatch(const MethodEntry& entry, std::unique_ptr<UnaryCall> call, absl::Time started);
  // Per-method counts and latencies (docs/operations.md).
  RpcStats& stats() { return *stats_; }
  // Logs an audit line for a call of an admin method (or a denial).
  static void Audit(const Identity& identity, const std::string& method, const absl::Status& s,
                    std::string_view peer);

 private:
  class RawService;
  grpc::ServerUnaryReactor* StartUnary(const MethodEntry* entry, const std::string& name,
                                       grpc::CallbackServerContext* ctx,
                                       const grpc::ByteBuffer* request, grpc::ByteBuffer* response);
  grpc::ServerWriteReactor<grpc::ByteBuffer>* StartStream(const MethodEntry* entry,
                                                          const std::string& name,
                                                          grpc::CallbackServerContext* ctx,
                                                          const grpc::ByteBuffer* request);
  const MethodTable& table_;
  const TokenVerifier* verifier_;
  ServingOptions options_;
  ClientLimits limits_;
  std::unique_ptr<base::Executor> workers_;
  std::unique_ptr<RpcStats> stats_;
  // Filled before serving, read-only after: which request and answer types
  // the Timestamp check must walk.
  TimestampTypes timestamp_types_;
  std::vector<std::unique_ptr<RawService>> services_;
};

}  // namespace custops::rpc

#endif  // CUSTOPS_RPC_GATEWAY_H_
