// Names of event payloads: the snake_case oneof field name is the event type
// ("contract_signed"), used in subscriptions, metrics and the CLI. Names come
// from the protobuf descriptor of the `payload` oneof, so they never drift
// from events.proto. All functions are thread-safe; returned views point
// into the descriptor pool and stay valid for the life of the program.
//
//   PayloadName(event);                        // "contract_signed"
//   PayloadCaseFromName("ContractSigned");     // Event::kContractSigned
#ifndef CUSTOPS_EVENT_PAYLOAD_H_
#define CUSTOPS_EVENT_PAYLOAD_H_

#include <optional>
#include <string_view>

#include "custops/v1/events.pb.h"

namespace custops::event {

// "contract_signed" for an event holding a ContractSigned; "" when unset.
std::string_view PayloadName(const v1::Event& event);
std::string_view PayloadName(v1::Event::PayloadCase payload_case);

// Accepts "contract_signed" or "ContractSigned"; nullopt for anything else.
std::optional<v1::Event::PayloadCase> PayloadCaseFromName(std::string_view name);

// The same for organisation events: "target_set" for an OrgEvent holding a
// TargetSet; "" when unset.
std::string_view PayloadName(const v1::OrgEvent& event);
std::string_view PayloadName(v1::OrgEvent::PayloadCase payload_case);

// Accepts "target_set" or "TargetSet"; nullopt for anything else.
std::optional<v1::OrgEvent::PayloadCase> OrgPayloadCaseFromName(std::string_view name);

}  // namespace custops::event

#endif  // CUSTOPS_EVENT_PAYLOAD_H_
