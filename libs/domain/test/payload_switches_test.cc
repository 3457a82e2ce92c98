// One classification of payloads, and every place a new event type must be
// handled listed (docs/adding-an-event.md):
// - domain::IsActivity classifies every payload of the Event oneof (read
//   from the descriptor, so a new payload is checked without editing this);
// - every `switch (… payload_case())` in the sources lists its cases without
//   a `default:` (so -Wswitch, an error in the project's builds, names each
//   place a new payload type is not handled yet) and its file is in
//   docs/adding-an-event.md.
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "custops/domain/activity.h"
#include "gtest/gtest.h"

namespace custops::domain {
namespace {

namespace fs = std::filesystem;

TEST(PayloadClassesTest, EveryPayloadIsClassified) {
  const std::set<std::string> master_data = {"customer_registered", "customer_profile_updated",
                                             "contact_added"};
  const google::protobuf::OneofDescriptor* oneof =
      v1::Event::descriptor()->FindOneofByName("payload");
  ASSERT_NE(oneof, nullptr);
  ASSERT_GE(oneof->field_count(), 20);
  for (int i = 0; i < oneof->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = oneof->field(i);
    const auto payload = static_cast<v1::Event::PayloadCase>(field->number());
    EXPECT_EQ(IsActivity(payload), !master_data.contains(field->name())) << field->name();
  }
  EXPECT_FALSE(IsActivity(v1::Event::PAYLOAD_NOT_SET));
}

std::string Read(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Lines of `text` from each `switch (... payload_case())` to its closing
// brace, with the depth of each line relative to the switch's body.
struct PayloadSwitch {
  int line;
  std::vector<std::string> default_lines;
};
std::vector<PayloadSwitch> PayloadSwitches(const std::string& text) {
  std::vector<PayloadSwitch> out;
  std::vector<std::string> lines;
  std::stringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  static const std::regex kSwitch(R"(switch \(.*payload_case\(\)\) \{)");
  static const std::regex kDefault(R"(^\s*default:)");
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!std::regex_search(lines[i], kSwitch)) continue;
    PayloadSwitch s{.line = static_cast<int>(i) + 1, .default_lines = {}};
    int depth = 0;
    for (size_t j = i; j < lines.size(); ++j) {
      if (depth == 1 && std::regex_search(lines[j], kDefault)) {
        s.default_lines.push_back(std::to_string(j + 1));
      }
      for (char c : lines[j]) depth += c == '{' ? 1 : c == '}' ? -1 : 0;
      if (depth == 0 && j > i) break;
    }
    out.push_back(std::move(s));
  }
  return out;
}

TEST(PayloadClassesTest, EverySwitchOverPayloadsIsExhaustiveAndListed) {
  const fs::path root = CUSTOPS_SOURCE_DIR;
  const std::string guide = Read(root / "docs" / "adding-an-event.md");
  ASSERT_FALSE(guide.empty()) << "docs/adding-an-event.md missing";
  int switches = 0;
  for (const char* dir : {"libs", "services", "tools"}) {
    for (const auto& entry : fs::recursive_directory_iterator(root / dir)) {
      if (!entry.is_regular_file() || entry.path().extension() != ".cc") continue;
      const std::string relative = fs::relative(entry.path(), root).string();
      if (relative.find("/test/") != std::string::npos) continue;
      for (const PayloadSwitch& s : PayloadSwitches(Read(entry.path()))) {
        ++switches;
        EXPECT_TRUE(s.default_lines.empty())
            << relative << ":" << s.line << " has a default: (line " << s.default_lines.front()
            << "); list the payload cases instead, so a new payload type fails the build here";
        EXPECT_NE(guide.find(relative), std::string::npos)
            << relative << ":" << s.line << " switches over payloads but is not in "
            << "docs/adding-an-event.md";
      }
    }
  }
  EXPECT_GE(switches, 8);  // the scan found the known ones
}

}  // namespace
}  // namespace custops::domain
