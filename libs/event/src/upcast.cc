#include "custops/event/upcast.h"

#include <array>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace custops::event {
namespace {

// "华东/上海" → ("华东", "上海"); false when there is no '/'. Whitespace
// around either part is dropped.
bool SplitAtSlash(const std::string& combined, std::string& region, std::string& city) {
  const size_t slash = combined.find('/');
  if (slash == std::string::npos) return false;
  region = std::string(absl::StripAsciiWhitespace(combined.substr(0, slash)));
  city = std::string(absl::StripAsciiWhitespace(combined.substr(slash + 1)));
  return true;
}

// 1 → 2: version 1 had no city field, and producers wrote the city into the
// region after a '/'. A city given explicitly wins over the split one.
void SplitRegionCity(v1::Event& e) {
  std::string region, city;
  if (e.has_customer_registered()) {
    v1::CustomerRegistered& r = *e.mutable_customer_registered();
    if (!SplitAtSlash(r.region(), region, city)) return;
    r.set_region(region);
    if (r.city().empty()) r.set_city(city);
  } else if (e.has_customer_profile_updated()) {
    v1::CustomerProfileUpdated& u = *e.mutable_customer_profile_updated();
    if (!u.has_region() || !SplitAtSlash(u.region(), region, city)) return;
    u.set_region(region);
    if (!u.has_city()) u.set_city(city);
  }
}

constexpr std::array<Upcaster, kSchemaVersion - 1> kUpcasters = {{
    {.from = 1, .name = "split_region_city", .apply = &SplitRegionCity},
}};

}  // namespace

std::span<const Upcaster> Upcasters() { return kUpcasters; }

uint32_t SchemaVersionOf(const v1::Event& event) {
  return event.schema_version() == 0 ? 1 : event.schema_version();
}

absl::StatusOr<bool> Upcast(v1::Event& event) {
  const uint32_t version = SchemaVersionOf(event);
  if (version > kSchemaVersion) {
    return absl::InvalidArgumentError(absl::StrCat("schema_version: ", version,
                                                   " is newer than the newest this build reads (",
                                                   kSchemaVersion, "); upgrade custops"));
  }
  if (event.schema_version() == kSchemaVersion) return false;
  for (const Upcaster& step : kUpcasters) {
    if (step.from >= version) step.apply(event);
  }
  event.set_schema_version(kSchemaVersion);
  return true;
}

}  // namespace custops::event
