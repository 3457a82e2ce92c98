// Queries that route themselves (docs/kafka.md "Queries route to the owner"):
// any instance answers any query by forwarding it over gRPC to the instance
// that owns the partition. This file holds what every routed service shares:
// who owns which partition (a cached directory), channels to the owners, and
// the metadata that marks a forwarded call and the partitions it is about.
//
//   rpc::OwnerDirectory owners([&] { return group_directory->Owners(...); }, absl::Seconds(1));
//   ASSIGN_OR_RETURN(std::vector<std::string> addresses, owners.Owners());
//   grpc::ClientContext ctx;
//   rpc::MarkForwarded(ctx, {Partition(3)});
//   auto stub = v1::Lifecycle::NewStub(channels.Get(addresses[3]));
#ifndef CUSTOPS_RPC_ROUTING_H_
#define CUSTOPS_RPC_ROUTING_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "custops/base/types.h"
#include "custops/rpc/gateway.h"

namespace custops::rpc {

// Metadata of a forwarded call: present on every forwarded call (the
// receiver answers from its own state or refuses, never forwards again).
inline constexpr char kForwardedHeader[] = "x-custops-forwarded";
// The partitions a forwarded scatter query (summaries, lists) is about,
// comma-separated ("0,3,7"). Absent: the partition of the call's key.
inline constexpr char kPartitionsHeader[] = "x-custops-partitions";

// Partition -> owner address, cached. Thread-safe.
class OwnerDirectory {
 public:
  // `fetch` returns each partition's owner address, "" when none.
  using Fetch = std::function<absl::StatusOr<std::vector<std::string>>()>;
  OwnerDirectory(Fetch fetch, absl::Duration ttl) : fetch_(std::move(fetch)), ttl_(ttl) {}

  // The cached map, fetched again when older than the ttl (or invalidated).
  // One fetch at a time; the cache stays readable (Cached) while it runs.
  absl::StatusOr<std::vector<std::string>> Owners();
  // The cached map if fetched less than `max_age` ago, without fetching
  // (readiness, which may not wait on the broker); nullopt otherwise.
  std::optional<std::vector<std::string>> Cached(absl::Duration max_age);
  // Forget the cache (a forward found the owner gone).
  void Invalidate();

 private:
  Fetch fetch_;
  absl::Duration ttl_;
  absl::Mutex fetch_mu_;  // held during a fetch, before mu_
  absl::Mutex mu_;
  std::vector<std::string> owners_ ABSL_GUARDED_BY(mu_);
  absl::Time fetched_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// One channel per address, kept. Thread-safe.
class ChannelCache {
 public:
  // `credentials`: how to reach the other instances (TLS when the server
  // has it). Default: plaintext.
  explicit ChannelCache(std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr)
      : credentials_(credentials ? std::move(credentials) : grpc::InsecureChannelCredentials()) {}
  std::shared_ptr<grpc::Channel> Get(const std::string& address);
  void set_credentials(std::shared_ptr<grpc::ChannelCredentials> credentials) {
    absl::MutexLock lock(&mu_);
    credentials_ = std::move(credentials);
  }

 private:
  std::shared_ptr<grpc::ChannelCredentials> credentials_ ABSL_GUARDED_BY(mu_);
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_ ABSL_GUARDED_BY(mu_);
};

// Marks `context` as forwarded, about `partitions` (empty: the key's), with
// the deadline of the incoming call.
void MarkForwarded(grpc::ClientContext& context, const std::vector<Partition>& partitions,
                   absl::Time deadline);

// The partitions named by kPartitionsHeader; nullopt when absent.
// INVALID_ARGUMENT when malformed or out of [0, partitions).
absl::StatusOr<std::optional<std::vector<Partition>>> ForwardedPartitions(const Call& call,
                                                                          int partitions);

// Sends `call`'s request bytes to the same method at `address` without
// holding a thread, marked forwarded (about `partitions`; empty: the key's),
// with the caller's deadline and bearer token, so the receiver checks the
// same identity and region scope. `done` gets the response bytes, or the
// receiver's status unchanged.
void ForwardRaw(ChannelCache& channels, const Call& call, const std::string& address,
                const std::vector<Partition>& partitions,
                absl::AnyInvocable<void(absl::StatusOr<std::string>) &&> done);

// Forwards and parses the answer into a `Resp`; a refusal gets
// " (from <address>)" appended (which instance answered).
template <typename Resp>
void Forward(ChannelCache& channels, const Call& call, const std::string& address,
             const std::vector<Partition>& partitions,
             absl::AnyInvocable<void(absl::StatusOr<Resp>) &&> done) {
  ForwardRaw(channels, call, address, partitions,
             [done = std::move(done), address](absl::StatusOr<std::string> bytes) mutable {
               if (!bytes.ok()) {
                 return std::move(done)(
                     absl::Status(bytes.status().code(),
                                  absl::StrCat(bytes.status().message(), " (from ", address, ")")));
               }
               Resp r;
               if (!r.ParseFromString(*bytes)) {
                 return std::move(done)(
                     absl::InternalError(absl::StrCat("unreadable answer from ", address)));
               }
               std::move(done)(std::move(r));
             });
}

}  // namespace custops::rpc

#endif  // CUSTOPS_RPC_ROUTING_H_
