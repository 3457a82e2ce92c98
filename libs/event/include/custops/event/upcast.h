// Event schema evolution (docs/schema-evolution.md): a registered chain of
// upcasters that turns an event written in an older schema version into the
// current one. Every reader of the customer-events log runs it before
// validation and the projections (the projection runtime, the command
// services' view, Subscribe), and the write paths (EventIngest.Append, the
// command services) run it before validating, so a producer still writing an
// old version is understood and the log keeps the current version from then
// on. The log itself is never rewritten: old records are upcast each time
// they are read, the same way every time (pure functions of the record).
//
//   v1::Event e;
//   e.ParseFromString(record.value);
//   absl::StatusOr<bool> changed = event::Upcast(e);  // now kSchemaVersion
//
// Versions: Event.schema_version; 0 (unset) is version 1.
//   1 → 2  SplitRegionCity: CustomerRegistered / CustomerProfileUpdated
//          `region` "华东/上海" becomes region "华东" and city "上海".
#ifndef CUSTOPS_EVENT_UPCAST_H_
#define CUSTOPS_EVENT_UPCAST_H_

#include <cstdint>
#include <span>
#include <string_view>

#include "absl/status/statusor.h"
#include "custops/v1/events.pb.h"

namespace custops::event {

// The version this build writes and reads; older ones are upcast.
inline constexpr uint32_t kSchemaVersion = 2;

// One step of the chain: turns an event of version `from` into `from + 1`.
// Steps are pure (the result depends on the event alone) and leave payloads
// they do not concern as they are.
struct Upcaster {
  uint32_t from;
  std::string_view name;
  void (*apply)(v1::Event& event);
};

// The registered steps, in order of `from` (1, 2, ... kSchemaVersion - 1).
std::span<const Upcaster> Upcasters();

// The event's version: schema_version, or 1 when unset.
uint32_t SchemaVersionOf(const v1::Event& event);

// Upcasts `event` in place to kSchemaVersion and stamps it (schema_version =
// kSchemaVersion). Returns whether the event changed, the stamp included:
// false only for an event already stamped with the current version.
// INVALID_ARGUMENT naming schema_version for a version newer than this build
// knows (written by a newer custops).
absl::StatusOr<bool> Upcast(v1::Event& event);

}  // namespace custops::event

#endif  // CUSTOPS_EVENT_UPCAST_H_
