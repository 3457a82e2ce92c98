#include "custops/import_crm/crm.h"

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "custops/event/time.h"

namespace custops::import_crm {
namespace {

absl::StatusOr<std::vector<std::string>> SplitRecord(const std::string& line) {
  std::vector<std::string> out;
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(std::move(field));
      field.clear();
    } else {
      field.push_back(c);
    }
  }
  if (quoted) return absl::InvalidArgumentError("unterminated quote");
  out.push_back(std::move(field));
  return out;
}

// A column index by name; INVALID_ARGUMENT when absent.
absl::StatusOr<size_t> Column(const CsvTable& t, const std::string& file, const std::string& name) {
  auto it = std::find(t.columns.begin(), t.columns.end(), name);
  if (it == t.columns.end()) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": no column \"", name, "\""));
  }
  return static_cast<size_t>(it - t.columns.begin());
}

std::optional<absl::CivilDay> ParseDate(const std::string& s) {
  absl::CivilDay day;
  if (s.empty() || !absl::ParseCivilTime(s, &day)) return std::nullopt;
  return day;
}

// "1054" or "1054.50" dollars -> minor units (exact).
std::optional<int64_t> ParseUnits(const std::string& s) {
  const size_t dot = s.find('.');
  int64_t whole = 0;
  if (!absl::SimpleAtoi(s.substr(0, dot), &whole) || whole < 0) return std::nullopt;
  int64_t cents = 0;
  if (dot != std::string::npos) {
    std::string frac = s.substr(dot + 1);
    if (frac.empty() || frac.size() > 2 || !absl::SimpleAtoi(frac, &cents)) return std::nullopt;
    if (frac.size() == 1) cents *= 10;
  }
  return whole * 100 + cents;
}

}  // namespace

absl::StatusOr<CsvTable> ParseCsv(const std::string& text, const std::string& name) {
  CsvTable t;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    absl::StatusOr<std::vector<std::string>> fields = SplitRecord(line);
    if (!fields.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " line ", n, ": ", fields.status().message()));
    }
    if (n == 1) {
      t.columns = std::move(*fields);
      continue;
    }
    if (fields->size() != t.columns.size()) {
      return absl::InvalidArgumentError(absl::StrCat(name, " line ", n, ": ", fields->size(),
                                                     " fields, the header has ", t.columns.size()));
    }
    t.rows.push_back(std::move(*fields));
  }
  return t;
}

absl::StatusOr<CrmFiles> ReadCrmFiles(const std::string& dir) {
  CrmFiles files;
  for (auto [name, table] : {std::pair<const char*, CsvTable*>{"accounts.csv", &files.accounts},
                             {"products.csv", &files.products},
                             {"sales_teams.csv", &files.sales_teams},
                             {"sales_pipeline.csv", &files.sales_pipeline}}) {
    std::ifstream in(dir + "/" + name);
    if (!in) return absl::NotFoundError(absl::StrCat(dir, "/", name, ": cannot open"));
    std::stringstream ss;
    ss << in.rdbuf();
    absl::StatusOr<CsvTable> t = ParseCsv(ss.str(), name);
    if (!t.ok()) return t.status();
    *table = std::move(*t);
  }
  return files;
}

absl::StatusOr<CrmImport> MapCrm(const CrmFiles& f, const CrmOptions& o) {
  CrmImport out;
  auto noon = [&](absl::CivilDay d) {
    return absl::FromCivil(absl::CivilSecond(d.year(), d.month(), d.day(), 12, 0, 0), o.zone);
  };
  auto money = [&](int64_t units) {
    v1::Money m;
    m.set_units(units);
    m.set_currency(o.currency);
    return m;
  };
  // products: name -> price in minor units.
  std::map<std::string, int64_t> price;
  absl::StatusOr<size_t> pn = Column(f.products, "products.csv", "product");
  absl::StatusOr<size_t> pp = Column(f.products, "products.csv", "sales_price");
  if (!pn.ok()) return pn.status();
  if (!pp.ok()) return pp.status();
  for (size_t i = 0; i < f.products.rows.size(); ++i) {
    const auto& r = f.products.rows[i];
    std::optional<int64_t> units = ParseUnits(r[*pp]);
    if (!units) {
      out.unmapped.push_back({"products.csv", static_cast<int>(i + 2), r[*pn], "bad sales_price"});
      continue;
    }
    price[r[*pn]] = *units;
  }
  std::map<std::string, bool> agents;
  {
    absl::StatusOr<size_t> a = Column(f.sales_teams, "sales_teams.csv", "sales_agent");
    if (!a.ok()) return a.status();
    for (const auto& r : f.sales_teams.rows) agents[r[*a]] = true;
  }
  // Pipeline columns.
  const CsvTable& p = f.sales_pipeline;
  size_t c_id, c_agent, c_product, c_account, c_stage, c_engage, c_close, c_value;
  for (auto [name, slot] : {std::pair<const char*, size_t*>{"opportunity_id", &c_id},
                            {"sales_agent", &c_agent},
                            {"product", &c_product},
                            {"account", &c_account},
                            {"deal_stage", &c_stage},
                            {"engage_date", &c_engage},
                            {"close_date", &c_close},
                            {"close_value", &c_value}}) {
    absl::StatusOr<size_t> c = Column(p, "sales_pipeline.csv", name);
    if (!c.ok()) return c.status();
    *slot = *c;
  }
  // The data set's last date: the assumed open date of undated rows.
  std::optional<absl::CivilDay> last_date;
  std::map<std::string, absl::CivilDay> first_date_of_account;
  for (const auto& r : p.rows) {
    for (size_t c : {c_engage, c_close}) {
      if (auto d = ParseDate(r[c])) {
        if (!last_date || *d > *last_date) last_date = *d;
        if (!r[c_account].empty()) {
          auto [it, inserted] = first_date_of_account.emplace(r[c_account], *d);
          if (!inserted && *d < it->second) it->second = *d;
        }
      }
    }
  }
  if (!last_date) return absl::InvalidArgumentError("sales_pipeline.csv: no dates");

  // Accounts -> CustomerRegistered, at 00:00 local of the account's first date.
  std::map<std::string, std::vector<v1::Event>> by_customer;
  std::map<std::string, std::string> customer_of_account;
  {
    absl::StatusOr<size_t> a = Column(f.accounts, "accounts.csv", "account");
    absl::StatusOr<size_t> s = Column(f.accounts, "accounts.csv", "sector");
    absl::StatusOr<size_t> l = Column(f.accounts, "accounts.csv", "office_location");
    if (!a.ok()) return a.status();
    if (!s.ok()) return s.status();
    if (!l.ok()) return l.status();
    for (size_t i = 0; i < f.accounts.rows.size(); ++i) {
      const auto& r = f.accounts.rows[i];
      const std::string id = absl::StrCat(o.id_prefix, ":", r[*a]);
      customer_of_account[r[*a]] = id;
      std::string sector = r[*s];
      if (sector == "technolgy") {
        sector = "technology";
        ++out.adjusted["sector technolgy -> technology"];
      }
      auto first = first_date_of_account.find(r[*a]);
      const absl::CivilDay day = first != first_date_of_account.end() ? first->second : *last_date;
      v1::Event e;
      e.set_event_id(absl::StrCat(id, ":registered"));
      e.set_customer_id(id);
      *e.mutable_occurred_at() = event::ToProto(absl::FromCivil(day, o.zone));
      e.set_source("import_crm");
      auto* reg = e.mutable_customer_registered();
      reg->set_name(r[*a]);
      reg->set_kind(v1::CUSTOMER_KIND_CUSTOMER);
      reg->set_industry(sector);
      reg->set_region(r[*l]);
      by_customer[id].push_back(std::move(e));
      ++out.customers;
    }
  }

  for (size_t i = 0; i < p.rows.size(); ++i) {
    const auto& r = p.rows[i];
    const int line = static_cast<int>(i + 2);
    const std::string& opp = r[c_id];
    auto unmapped = [&](std::string reason) {
      out.unmapped.push_back({"sales_pipeline.csv", line, opp, std::move(reason)});
    };
    if (opp.empty()) {
      unmapped("no opportunity_id");
      continue;
    }
    if (r[c_account].empty()) {
      unmapped("no account: an opportunity needs a customer");
      continue;
    }
    auto customer = customer_of_account.find(r[c_account]);
    if (customer == customer_of_account.end()) {
      unmapped("account not in accounts.csv");
      continue;
    }
    if (!agents.contains(r[c_agent])) {
      unmapped("sales_agent not in sales_teams.csv");
      continue;
    }
    std::string product = r[c_product];
    if (product == "GTXPro") {
      product = "GTX Pro";
      ++out.adjusted["product GTXPro -> GTX Pro"];
    }
    auto list = price.find(product);
    if (list == price.end()) {
      unmapped("product not in products.csv");
      continue;
    }
    const std::string& stage = r[c_stage];
    std::optional<absl::CivilDay> engage = ParseDate(r[c_engage]);
    std::optional<absl::CivilDay> close = ParseDate(r[c_close]);
    const bool closed = stage == "Won" || stage == "Lost";
    if (stage != "Prospecting" && stage != "Engaging" && !closed) {
      unmapped("unknown deal_stage");
      continue;
    }
    if (!engage && stage != "Prospecting") {
      unmapped("no engage_date");
      continue;
    }
    std::optional<int64_t> value;
    if (closed) {
      if (!close) {
        unmapped("closed without close_date");
        continue;
      }
      if (*close < *engage) {
        unmapped("close_date before engage_date");
        continue;
      }
      value = ParseUnits(r[c_value]);
      if (!value) {
        unmapped("bad close_value");
        continue;
      }
    }
    if (!engage) {
      engage = *last_date;
      ++out.adjusted["Prospecting without engage_date: opened on the data set's last date"];
    }
    const std::string& cid = customer->second;
    std::vector<v1::Event>& events = by_customer[cid];
    const std::string base = absl::StrCat(o.id_prefix, ":", opp);
    const std::string opportunity_id = absl::StrCat(o.id_prefix, ":", opp);
    auto add = [&](const std::string& suffix, absl::CivilDay day) -> v1::Event& {
      v1::Event& e = events.emplace_back();
      e.set_event_id(absl::StrCat(base, ":", suffix));
      e.set_customer_id(cid);
      *e.mutable_occurred_at() = event::ToProto(noon(day));
      e.set_source("import_crm");
      e.set_actor_id(r[c_agent]);
      return e;
    };
    auto* opened = add("opened", *engage).mutable_opportunity_opened();
    opened->set_opportunity_id(opportunity_id);
    *opened->mutable_amount() = money(list->second);
    opened->set_product(product);
    ++out.opportunities;
    if (stage == "Prospecting") continue;
    auto* engaged = add("engaging", *engage).mutable_opportunity_stage_changed();
    engaged->set_opportunity_id(opportunity_id);
    engaged->set_stage(v1::FUNNEL_STAGE_FIRST_VISIT);
    if (!closed) continue;
    auto* done = add("closed", *close).mutable_opportunity_stage_changed();
    done->set_opportunity_id(opportunity_id);
    done->set_stage(stage == "Won" ? v1::FUNNEL_STAGE_CONTRACT_SIGNED : v1::FUNNEL_STAGE_LOST);
    if (stage != "Won") continue;
    auto* k = add("contract", *close).mutable_contract_signed();
    k->set_contract_id(absl::StrCat(o.id_prefix, ":", opp));
    k->set_opportunity_id(opportunity_id);
    *k->mutable_amount() = money(*value);
    *k->mutable_cost() = money(0);
    *k->mutable_start() = event::ToProto(noon(*close));
    *k->mutable_end() = event::ToProto(noon(*close + 365));
    k->set_product(product);
    ++out.contracts;
  }
  for (auto& [id, events] : by_customer) {
    // Registration first, then by event time; equal times keep file order.
    std::stable_sort(events.begin() + 1, events.end(), [](const v1::Event& a, const v1::Event& b) {
      return event::FromProto(a.occurred_at()) < event::FromProto(b.occurred_at());
    });
    for (v1::Event& e : events) out.events.push_back(std::move(e));
  }
  return out;
}

}  // namespace custops::import_crm
