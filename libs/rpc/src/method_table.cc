// What a handler sees of a call and how methods reach their handlers
// (custops/rpc/gateway.h): Call and UnaryCall's completion, the per-client
// limits of streams and waits that calls count against, and the
// MethodTable.
#include <google/protobuf/descriptor.h>

#include <algorithm>
#include <array>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "custops/base/check.h"
#include "custops/rpc/gateway.h"
#include "custops/rpc/routing.h"

namespace custops::rpc {
namespace {

namespace pb = google::protobuf;

std::string ServiceOf(std::string_view method) {
  return std::string(method.substr(0, method.find('/')));
}

}  // namespace

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

}  // namespace custops::rpc
