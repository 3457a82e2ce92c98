#include "custops/rpc/routing.h"

#include <grpcpp/generic/generic_stub.h>

#include <chrono>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "custops/rpc/status.h"

namespace custops::rpc {

absl::StatusOr<std::vector<std::string>> OwnerDirectory::Owners() {
  {
    absl::MutexLock lock(&mu_);
    if (absl::Now() - fetched_ < ttl_) return owners_;
  }
  absl::MutexLock fetching(&fetch_mu_);
  {
    absl::MutexLock lock(&mu_);  // fetched while this caller waited?
    if (absl::Now() - fetched_ < ttl_) return owners_;
  }
  const absl::Time started = absl::Now();
  absl::StatusOr<std::vector<std::string>> fetched = fetch_();
  if (!fetched.ok()) return fetched.status();
  absl::MutexLock lock(&mu_);
  owners_ = std::move(*fetched);
  fetched_ = started;
  return owners_;
}

std::optional<std::vector<std::string>> OwnerDirectory::Cached(absl::Duration max_age) {
  absl::MutexLock lock(&mu_);
  if (absl::Now() - fetched_ >= max_age) return std::nullopt;
  return owners_;
}

void OwnerDirectory::Invalidate() {
  absl::MutexLock lock(&mu_);
  fetched_ = absl::InfinitePast();
}

std::shared_ptr<grpc::Channel> ChannelCache::Get(const std::string& address) {
  absl::MutexLock lock(&mu_);
  std::shared_ptr<grpc::Channel>& channel = channels_[address];
  if (channel == nullptr) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    channel = grpc::CreateCustomChannel(address, credentials_, args);
  }
  return channel;
}

void MarkForwarded(grpc::ClientContext& context, const std::vector<Partition>& partitions,
                   absl::Time deadline) {
  context.AddMetadata(kForwardedHeader, "1");
  if (!partitions.empty()) {
    context.AddMetadata(kPartitionsHeader,
                        absl::StrJoin(partitions, ",", [](std::string* out, Partition p) {
                          absl::StrAppend(out, p.value());
                        }));
  }
  if (deadline != absl::InfiniteFuture()) context.set_deadline(absl::ToChronoTime(deadline));
}

absl::StatusOr<std::optional<std::vector<Partition>>> ForwardedPartitions(const Call& call,
                                                                          int partitions) {
  const std::string value = call.Metadata(kPartitionsHeader);
  if (value.empty()) return std::nullopt;
  std::vector<Partition> out;
  for (absl::string_view part : absl::StrSplit(value, ',')) {
    int p = -1;
    if (!absl::SimpleAtoi(part, &p) || p < 0 || p >= partitions) {
      return absl::InvalidArgumentError(
          absl::StrCat(kPartitionsHeader, ": not a partition list: ", value));
    }
    out.push_back(Partition(p));
  }
  return out;
}

void ForwardRaw(ChannelCache& channels, const Call& call, const std::string& address,
                const std::vector<Partition>& partitions,
                absl::AnyInvocable<void(absl::StatusOr<std::string>) &&> done) {
  struct Flight {
    grpc::ClientContext context;
    grpc::ByteBuffer request;
    grpc::ByteBuffer response;
    std::unique_ptr<grpc::GenericStub> stub;
    absl::AnyInvocable<void(absl::StatusOr<std::string>) &&> done;
    std::string address;
  };
  auto* f = new Flight;
  f->done = std::move(done);
  f->address = address;
  MarkForwarded(f->context, partitions, call.deadline());
  if (const std::string auth = call.Metadata("authorization"); !auth.empty()) {
    f->context.AddMetadata("authorization", auth);
  }
  grpc::Slice slice(call.raw_request());
  f->request = grpc::ByteBuffer(&slice, 1);
  f->stub = std::make_unique<grpc::GenericStub>(channels.Get(address));
  f->stub->UnaryCall(&f->context, absl::StrCat("/", call.method()), grpc::StubOptions(),
                     &f->request, &f->response, [f](grpc::Status s) {
                       std::unique_ptr<Flight> owned(f);
                       if (!s.ok()) {
                         std::move(owned->done)(FromGrpcStatus(s));
                         return;
                       }
                       std::move(owned->done)(BytesOf(owned->response));
                     });
}

}  // namespace custops::rpc
