// Internal to the rpc library: what gateway.cc (a unary call's dispatch)
// and grpc_transport.cc (a server stream's start) share: the check that a
// request or an answer holds no Timestamp outside protobuf's range.
#ifndef CUSTOPS_RPC_SRC_GATEWAY_INTERNAL_H_
#define CUSTOPS_RPC_SRC_GATEWAY_INTERNAL_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "custops/event/time.h"
#include "custops/rpc/gateway.h"

namespace custops::rpc::gateway_internal {

namespace pb = google::protobuf;

// Records in `holds`, for `root` and every message type reachable from it,
// whether messages of that type can hold a Timestamp (at any depth, through
// cycles too). TimestampProblem then skips the subtrees that cannot.
inline void IndexTimestamps(const pb::Descriptor* root, TimestampTypes& holds) {
  // The types reachable from `root`, each once.
  std::vector<const pb::Descriptor*> reachable = {root};
  absl::flat_hash_set<const pb::Descriptor*> seen = {root};
  for (size_t i = 0; i < reachable.size(); ++i) {
    for (int f = 0; f < reachable[i]->field_count(); ++f) {
      const pb::Descriptor* m = reachable[i]->field(f)->message_type();
      if (m != nullptr && seen.insert(m).second) reachable.push_back(m);
    }
  }
  // A type holds one when a Timestamp is reachable from it: a search from
  // each type (the schemas are small; this runs once at start).
  for (const pb::Descriptor* type : reachable) {
    if (holds.contains(type)) continue;
    std::vector<const pb::Descriptor*> stack = {type};
    absl::flat_hash_set<const pb::Descriptor*> visited = {type};
    bool any = false;
    while (!stack.empty() && !any) {
      const pb::Descriptor* t = stack.back();
      stack.pop_back();
      for (int f = 0; f < t->field_count() && !any; ++f) {
        const pb::Descriptor* m = t->field(f)->message_type();
        if (m == nullptr) continue;
        any = m->full_name() == "google.protobuf.Timestamp";
        if (visited.insert(m).second) stack.push_back(m);
      }
    }
    holds[type] = any;
  }
}

// Whether `m` holds a Timestamp outside protobuf's range; `path` then names
// it ("events[2].occurred_at") and `why` says what is wrong. Only fields
// whose type can hold a Timestamp are visited, and paths are built only on
// the way back from a problem.
inline bool TimestampProblem(const pb::Message& m, const TimestampTypes& holds, std::string* path,
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
inline std::string TimestampProblem(const pb::Message& m, const TimestampTypes& holds) {
  std::string path, why;
  if (!TimestampProblem(m, holds, &path, &why)) return "";
  return absl::StrCat(path, why);
}

}  // namespace custops::rpc::gateway_internal

#endif  // CUSTOPS_RPC_SRC_GATEWAY_INTERNAL_H_
