#include "custops/rpc/routing.h"

#include <chrono>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace custops::rpc {

absl::StatusOr<std::vector<std::string>> OwnerDirectory::Owners() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  if (now - fetched_ < ttl_) return owners_;
  absl::StatusOr<std::vector<std::string>> fetched = fetch_();
  if (!fetched.ok()) return fetched.status();
  owners_ = std::move(*fetched);
  fetched_ = now;
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
    channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
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

bool IsForwarded(const grpc::CallbackServerContext& context) {
  return context.client_metadata().count(kForwardedHeader) > 0;
}

absl::StatusOr<std::optional<std::vector<Partition>>> ForwardedPartitions(
    const grpc::CallbackServerContext& context, int partitions) {
  auto it = context.client_metadata().find(kPartitionsHeader);
  if (it == context.client_metadata().end()) return std::nullopt;
  const std::string value(it->second.data(), it->second.size());
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

}  // namespace custops::rpc
