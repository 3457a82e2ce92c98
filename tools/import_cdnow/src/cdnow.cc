#include "custops/cdnow/cdnow.h"

#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "custops/event/time.h"

namespace custops::cdnow {
namespace {

// "29.33" -> 2933; at most two decimals; no sign.
bool ParseCents(const std::string& s, int64_t& out) {
  const size_t dot = s.find('.');
  const std::string whole = s.substr(0, dot);
  const std::string frac = dot == std::string::npos ? "" : s.substr(dot + 1);
  if (whole.empty() || frac.size() > 2) return false;
  int64_t w = 0, f = 0;
  for (char c : whole) {
    if (c < '0' || c > '9' || w > 1'000'000'000'000) return false;
    w = w * 10 + (c - '0');
  }
  for (char c : frac) {
    if (c < '0' || c > '9') return false;
    f = f * 10 + (c - '0');
  }
  if (frac.size() == 1) f *= 10;
  out = w * 100 + f;
  return true;
}

bool ParseDay(const std::string& s, absl::CivilDay& out) {
  int64_t v;
  if (s.size() != 8 || !absl::SimpleAtoi(s, &v)) return false;
  const int64_t y = v / 10000, m = v / 100 % 100, d = v % 100;
  const absl::CivilDay day(y, static_cast<int>(m), static_cast<int>(d));
  if (day.year() != y || day.month() != m || day.day() != d) return false;  // normalised: invalid
  out = day;
  return true;
}

}  // namespace

CdnowImport ParseCdnow(std::istream& in, const CdnowOptions& options) {
  CdnowImport out;
  std::map<std::string, std::vector<v1::Event>> by_customer;
  std::vector<std::string> order;
  std::map<std::pair<std::string, std::string>, int> same_day;  // (customer, date) -> rows seen
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    const std::string text(absl::StripAsciiWhitespace(line));
    if (text.empty()) continue;
    const std::vector<std::string> cols = absl::StrSplit(text, ' ', absl::SkipEmpty());
    if (number == 1 && !cols.empty() && !absl::ascii_isdigit(cols[0][0])) continue;  // header
    ++out.rows;
    auto fail = [&](std::string reason) {
      out.unmapped.push_back(
          {.line = number, .text = std::string(text), .reason = std::move(reason)});
    };
    if (cols.size() != 4 && cols.size() != 5) {
      fail(absl::StrCat("expected 4 or 5 columns, got ", cols.size()));
      continue;
    }
    const size_t base = cols.size() - 3;  // date, quantity, amount
    const std::string& id = cols[0];
    bool id_ok = !id.empty() && id.size() <= 64;
    for (char c : id) id_ok &= absl::ascii_isalnum(c);
    if (!id_ok) {
      fail(absl::StrCat("customer id \"", std::string(id), "\" is not 1-64 letters or digits"));
      continue;
    }
    absl::CivilDay day;
    if (!ParseDay(cols[base], day)) {
      fail(absl::StrCat("date \"", std::string(cols[base]), "\" is not a valid YYYYMMDD"));
      continue;
    }
    int64_t quantity;
    if (!absl::SimpleAtoi(cols[base + 1], &quantity) || quantity < 0) {
      fail(absl::StrCat("quantity \"", std::string(cols[base + 1]),
                        "\" is not a whole number >= 0"));
      continue;
    }
    int64_t cents;
    if (!ParseCents(cols[base + 2], cents)) {
      fail(absl::StrCat("amount \"", std::string(cols[base + 2]),
                        "\" is not dollars >= 0 with at most two decimals"));
      continue;
    }
    const std::string customer = absl::StrCat(options.id_prefix, std::string(id));
    const absl::Time at = absl::FromCivil(day, absl::UTCTimeZone());
    const std::string date(cols[base]);
    const int k = same_day[{customer, date}]++;
    std::vector<v1::Event>& events = by_customer[customer];
    if (events.empty()) {
      order.push_back(customer);
      v1::Event& reg = events.emplace_back();
      reg.set_event_id(absl::StrCat("cdnow:", customer, ":registered"));
      reg.set_customer_id(customer);
      *reg.mutable_occurred_at() = event::ToProto(at);
      reg.set_source("import_cdnow");
      v1::CustomerRegistered* r = reg.mutable_customer_registered();
      r->set_name(absl::StrCat("CDNOW customer ", std::string(id)));
      r->set_kind(v1::CUSTOMER_KIND_CUSTOMER);
      r->set_region(options.region);
      r->set_industry("music retail");
      r->set_owner_id(options.owner_id);
      r->set_channel("online");
    } else if (at < event::FromProto(events.front().occurred_at())) {
      // Registered at the customer's earliest purchase.
      *events.front().mutable_occurred_at() = event::ToProto(at);
    }
    v1::Event& e = events.emplace_back();
    e.set_event_id(absl::StrCat("cdnow:", customer, ":", date, ":", k));
    e.set_customer_id(customer);
    *e.mutable_occurred_at() = event::ToProto(at);
    e.set_source("import_cdnow");
    v1::ContractSigned* c = e.mutable_contract_signed();
    c->set_contract_id(absl::StrCat(customer, "-", date, "-", k));
    c->mutable_amount()->set_units(cents);
    c->mutable_amount()->set_currency(options.currency);
    *c->mutable_start() = event::ToProto(at);
    *c->mutable_end() = event::ToProto(at + absl::Hours(24));
    c->set_product(absl::StrCat(quantity, " CD", quantity == 1 ? "" : "s"));
    c->set_channel("online");
    ++out.purchases;
  }
  out.customers = static_cast<int64_t>(order.size());
  for (const std::string& customer : order) {
    for (v1::Event& e : by_customer[customer]) out.events.push_back(std::move(e));
  }
  return out;
}

}  // namespace custops::cdnow
