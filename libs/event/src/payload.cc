#include "custops/event/payload.h"

#include <optional>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "custops/v1/events.pb.h"
#include "google/protobuf/descriptor.h"

namespace custops::event {
namespace {

// Both directions of the `payload` oneof of `Message`, built once from its
// descriptor. Views point into the generated descriptor pool, which lives
// for the whole program.
template <typename Message>
class PayloadTable {
 public:
  using Case = typename Message::PayloadCase;

  PayloadTable() {
    const google::protobuf::OneofDescriptor* oneof =
        Message::descriptor()->FindOneofByName("payload");
    for (int i = 0; i < oneof->field_count(); ++i) {
      const google::protobuf::FieldDescriptor* field = oneof->field(i);
      // The generated PayloadCase of a oneof member is its field number.
      const auto payload_case = static_cast<Case>(field->number());
      names_.emplace(field->number(), field->name());
      cases_.emplace(field->name(), payload_case);
      cases_.emplace(field->message_type()->name(), payload_case);
    }
  }

  std::string_view Name(Case payload_case) const {
    auto it = names_.find(static_cast<int>(payload_case));
    return it == names_.end() ? std::string_view() : it->second;
  }

  std::optional<Case> FromName(std::string_view name) const {
    auto it = cases_.find(name);
    if (it == cases_.end()) return std::nullopt;
    return it->second;
  }

  static const PayloadTable& Get() {
    static const PayloadTable table;
    return table;
  }

 private:
  absl::flat_hash_map<int, std::string_view> names_;
  absl::flat_hash_map<std::string_view, Case> cases_;
};

}  // namespace

std::string_view PayloadName(const v1::Event& event) { return PayloadName(event.payload_case()); }

std::string_view PayloadName(v1::Event::PayloadCase payload_case) {
  return PayloadTable<v1::Event>::Get().Name(payload_case);
}

std::optional<v1::Event::PayloadCase> PayloadCaseFromName(std::string_view name) {
  return PayloadTable<v1::Event>::Get().FromName(name);
}

std::string_view PayloadName(const v1::OrgEvent& event) {
  return PayloadName(event.payload_case());
}

std::string_view PayloadName(v1::OrgEvent::PayloadCase payload_case) {
  return PayloadTable<v1::OrgEvent>::Get().Name(payload_case);
}

std::optional<v1::OrgEvent::PayloadCase> OrgPayloadCaseFromName(std::string_view name) {
  return PayloadTable<v1::OrgEvent>::Get().FromName(name);
}

}  // namespace custops::event
