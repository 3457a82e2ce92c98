// The CRM Sales Opportunities data set replayed into the real custops binary
// through the import_crm tool, then win rate, revenue, sales cycle and
// weighted pipeline per agent (owner), manager, regional office and quarter
// from Review.GetReview / Review.Funnel, checked against SQL over the CSV
// files in SQLite: an independent computation that follows the documented
// mapping (docs/import.md), not the projection's code path.
#include <sqlite3.h>
#include <stdio.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "custops/event/time.h"
#include "custops/v1/review.grpc.pb.h"
#include "gtest/gtest.h"
#include "server_process.h"
#include "test_data.h"

namespace custops {
namespace {

namespace fs = std::filesystem;

// Runs a command; returns its stdout and sets `status` to its exit status.
std::string RunCommand(const std::string& cmd, int* status) {
  std::string out;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) {
    *status = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  *status = pclose(pipe);
  return out;
}

// "key value" lines of the importer's report.
std::map<std::string, std::string> ReportValues(const std::string& report) {
  std::map<std::string, std::string> out;
  for (absl::string_view line : absl::StrSplit(report, '\n')) {
    const size_t sp = line.find(' ');
    if (sp == absl::string_view::npos) continue;
    out.emplace(std::string(line.substr(0, sp)), std::string(line.substr(sp + 1)));
  }
  return out;
}

class Sqlite {
 public:
  Sqlite() { EXPECT_EQ(sqlite3_open(":memory:", &db_), SQLITE_OK); }
  ~Sqlite() { sqlite3_close(db_); }

  void Exec(const std::string& sql) {
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
        << (err ? err : "") << "\n"
        << sql;
  }
  // Loads a CSV file (no quoted fields in this data set) as a table of TEXT.
  void LoadCsv(const fs::path& file, const std::string& table) {
    std::ifstream in(file);
    std::string line;
    ASSERT_TRUE(std::getline(in, line));
    const std::vector<std::string> cols = absl::StrSplit(line, ',');
    std::string ddl = absl::StrCat("CREATE TABLE ", table, " (");
    for (size_t i = 0; i < cols.size(); ++i) {
      absl::StrAppend(&ddl, i ? ", " : "", cols[i], " TEXT");
    }
    Exec(ddl + ")");
    std::string insert = absl::StrCat("INSERT INTO ", table, " VALUES (");
    for (size_t i = 0; i < cols.size(); ++i) absl::StrAppend(&insert, i ? ",?" : "?");
    insert += ")";
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db_, insert.c_str(), -1, &st, nullptr), SQLITE_OK);
    Exec("BEGIN");
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;
      const std::vector<std::string> v = absl::StrSplit(line, ',');
      ASSERT_EQ(v.size(), cols.size()) << line;
      for (size_t i = 0; i < v.size(); ++i) {
        sqlite3_bind_text(st, static_cast<int>(i + 1), v[i].c_str(), -1, SQLITE_TRANSIENT);
      }
      ASSERT_EQ(sqlite3_step(st), SQLITE_DONE);
      sqlite3_reset(st);
    }
    Exec("COMMIT");
    sqlite3_finalize(st);
  }
  // Rows as strings (NULL -> "").
  std::vector<std::vector<std::string>> Query(const std::string& sql) {
    std::vector<std::vector<std::string>> rows;
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db_) << "\n"
        << sql;
    while (sqlite3_step(st) == SQLITE_ROW) {
      auto& row = rows.emplace_back();
      for (int i = 0; i < sqlite3_column_count(st); ++i) {
        const unsigned char* t = sqlite3_column_text(st, i);
        row.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
      }
    }
    sqlite3_finalize(st);
    return rows;
  }

 private:
  sqlite3* db_ = nullptr;
};

int64_t I(const std::string& s) {
  int64_t v = 0;
  EXPECT_TRUE(absl::SimpleAtoi(s, &v)) << s;
  return v;
}

int64_t Gcd(int64_t a, int64_t b) { return b == 0 ? (a < 0 ? -a : a) : Gcd(b, a % b); }

// An exact fraction, reduced, or nullopt for x/0: compared with the API's.
std::optional<std::pair<int64_t, int64_t>> Frac(int64_t n, int64_t d) {
  if (d == 0) return std::nullopt;
  const int64_t g = Gcd(n, d);
  return std::make_pair(n / g, d / g);
}
std::optional<std::pair<int64_t, int64_t>> Frac(const v1::Fraction& f, bool present) {
  if (!present) return std::nullopt;
  return std::make_pair(f.numerator(), f.denominator());
}

// The figures compared, per slice and quarter.
struct Figures {
  int64_t won = 0, lost = 0, revenue_units = 0, cycle_days = 0, pipeline_percent_units = 0;
  bool operator==(const Figures&) const = default;
};

// Quarters of the data set: 2016-Q4 .. 2017-Q4, by first and last day.
struct Quarter {
  std::string key;
  absl::CivilDay first, last;
};
std::vector<Quarter> Quarters() {
  std::vector<Quarter> q;
  for (absl::CivilMonth m(2016, 10); m <= absl::CivilMonth(2017, 10); m += 3) {
    q.push_back({absl::StrCat(m.year(), "-Q", (m.month() + 2) / 3), absl::CivilDay(m),
                 absl::CivilDay(m + 3) - 1});
  }
  return q;
}

class CrmReviewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crm_ = testing::DataDir("crm-sales-opportunities", "sales_pipeline.csv");
    if (crm_.empty()) GTEST_SKIP() << testing::DataMissing("crm-sales-opportunities");
    dir_ = fs::temp_directory_path() / absl::StrCat("crm_review_", ::getpid());
    fs::remove_all(dir_);
    server_ = std::make_unique<testing::ServerProcess>(
        CUSTOPS_BINARY,
        std::vector<std::string>{"--data-dir", dir_.string(), "--fixed-clock",
                                 "2018-06-01T00:00:00Z", "--partitions", "4", "--metrics-listen",
                                 absl::StrCat("127.0.0.1:", testing::FreePort())});
    ASSERT_TRUE(server_->Start().ok());
    stub_ = v1::Review::NewStub(server_->Channel());
  }
  void TearDown() override {
    if (server_) {
      EXPECT_EQ(server_->Stop(), 0);
    }
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  v1::ReviewReport Review(const Quarter& q, v1::Dimension dim, const std::string& value) {
    v1::GetReviewRequest req;
    req.set_granularity(v1::GRANULARITY_QUARTER);
    *req.mutable_period_start() = event::ToProto(absl::FromCivil(q.first, Shanghai()));
    req.set_dimension(dim);
    req.set_dimension_value(value);
    req.set_consistency_token(token_);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    v1::ReviewReport r;
    grpc::Status s = stub_->GetReview(&ctx, req, &r);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return r;
  }
  std::vector<v1::FunnelSlice> Funnel(const Quarter& q) {
    std::vector<v1::FunnelSlice> out;
    v1::FunnelRequest req;
    req.mutable_period()->set_granularity(v1::GRANULARITY_QUARTER);
    *req.mutable_period()->mutable_start() = event::ToProto(absl::FromCivil(q.first, Shanghai()));
    req.set_dimension(v1::DIMENSION_OWNER);
    req.set_page_size(7);  // several pages
    req.set_consistency_token(token_);
    do {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
      v1::FunnelResponse r;
      grpc::Status s = stub_->Funnel(&ctx, req, &r);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      for (const auto& slice : r.slices()) out.push_back(slice);
      req.set_page_token(r.next_page_token());
    } while (!req.page_token().empty());
    return out;
  }
  static absl::TimeZone Shanghai() {
    absl::TimeZone tz;
    EXPECT_TRUE(absl::LoadTimeZone("Asia/Shanghai", &tz));
    return tz;
  }
  static const v1::Metric& M(const v1::ReviewReport& r, const std::string& name) {
    for (const auto& m : r.metrics()) {
      if (m.name() == name) return m;
    }
    ADD_FAILURE() << "no metric " << name;
    static v1::Metric none;
    return none;
  }

  fs::path crm_, dir_;
  std::unique_ptr<testing::ServerProcess> server_;
  std::unique_ptr<v1::Review::Stub> stub_;
  std::string token_;
};

TEST_F(CrmReviewTest, ReviewAndFunnelEqualSqlOverTheCsvFiles) {
  // Import through the tool, twice: the second run appends nothing.
  const std::string cmd =
      absl::StrCat(IMPORT_CRM_BINARY, " --data ", crm_.string(), " --target ", server_->address());
  int status = 0;
  const auto first = ReportValues(RunCommand(cmd, &status));
  ASSERT_EQ(status, 0);
  const int64_t events = I(first.at("events"));
  EXPECT_EQ(I(first.at("appended")), events);
  const auto second = ReportValues(RunCommand(cmd, &status));
  ASSERT_EQ(status, 0);
  EXPECT_EQ(I(second.at("appended")), 0);
  EXPECT_EQ(I(second.at("duplicates")), events);
  token_ = first.at("consistency_token");
  // A query waits for the token at most 30 s: slow builds (sanitizers) may
  // need longer to apply the whole import, so wait here first.
  for (absl::Time until = absl::Now() + absl::Minutes(10);;) {
    v1::GetReviewRequest req;
    req.set_granularity(v1::GRANULARITY_QUARTER);
    *req.mutable_period_start() = event::ToProto(absl::FromCivil(Quarters()[0].first, Shanghai()));
    req.set_consistency_token(token_);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    v1::ReviewReport r;
    const grpc::Status s = stub_->GetReview(&ctx, req, &r);
    if (s.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED || absl::Now() > until) {
      ASSERT_TRUE(s.ok()) << s.error_message();
      break;
    }
  }

  Sqlite db;
  db.LoadCsv(crm_ / "sales_pipeline.csv", "pipeline");
  db.LoadCsv(crm_ / "sales_teams.csv", "teams");
  db.LoadCsv(crm_ / "products.csv", "products");
  db.LoadCsv(crm_ / "accounts.csv", "accounts");
  // The rows the documented mapping imports (an account in accounts.csv, an
  // agent in sales_teams.csv, a product of products.csv after the GTXPro
  // fix), with the open date (Prospecting rows without one: the data set's
  // last date) and the list price in minor units.
  db.Exec(R"sql(
    CREATE VIEW opps AS
    SELECT p.opportunity_id AS id, p.sales_agent AS agent, t.manager AS manager,
           t.regional_office AS office, p.deal_stage AS stage,
           CASE WHEN p.engage_date = '' THEN (SELECT MAX(MAX(engage_date), MAX(close_date))
                                                FROM pipeline) ELSE p.engage_date END AS opened,
           p.close_date AS closed, CAST(p.close_value AS INTEGER) * 100 AS value_units,
           CAST(pr.sales_price AS INTEGER) * 100 AS list_units
      FROM pipeline p
      JOIN accounts a ON a.account = p.account
      JOIN teams t ON t.sales_agent = p.sales_agent
      JOIN products pr ON pr.product = REPLACE(p.product, 'GTXPro', 'GTX Pro')
  )sql");
  EXPECT_EQ(I(db.Query("SELECT COUNT(*) FROM opps")[0][0]), I(first.at("opportunities")));

  // SQL figures per (group, quarter) for a grouping column.
  auto sql_figures =
      [&](const std::string& group) -> std::map<std::pair<std::string, std::string>, Figures> {
    std::map<std::pair<std::string, std::string>, Figures> out;
    for (const Quarter& q : Quarters()) {
      const std::string first_day = absl::FormatCivilTime(q.first);
      const std::string last_day = absl::FormatCivilTime(q.last);
      for (const auto& r : db.Query(absl::StrCat(
               "SELECT ", group,
               ", SUM(stage = 'Won'), SUM(stage = 'Lost'),"
               " SUM(CASE WHEN stage = 'Won' THEN value_units ELSE 0 END),"
               " SUM(CASE WHEN stage = 'Won' THEN julianday(closed) - julianday(opened)"
               " ELSE 0 END)"
               " FROM opps WHERE closed BETWEEN '",
               first_day, "' AND '", last_day, "' GROUP BY ", group))) {
        Figures& f = out[{r[0], q.key}];
        f.won = I(r[1]);
        f.lost = I(r[2]);
        f.revenue_units = I(r[3]);
        double days = 0;
        EXPECT_TRUE(absl::SimpleAtod(r[4], &days));
        f.cycle_days = static_cast<int64_t>(days);
        EXPECT_EQ(static_cast<double>(f.cycle_days), days);
      }
      // Open at the quarter's end: opened on or before its last day and not
      // closed by then; stage 1 (5%) for Prospecting, 2 (10%) otherwise.
      for (const auto& r : db.Query(absl::StrCat(
               "SELECT ", group,
               ", SUM(list_units * CASE WHEN stage = 'Prospecting' THEN 5 ELSE 10 END)"
               " FROM opps WHERE opened <= '",
               last_day, "' AND (closed = '' OR closed > '", last_day, "') GROUP BY ", group))) {
        out[{r[0], q.key}].pipeline_percent_units = I(r[1]);
      }
    }
    return out;
  };

  // The agents, their managers and offices.
  std::map<std::string, std::pair<std::string, std::string>> team;
  for (const auto& r : db.Query("SELECT sales_agent, manager, regional_office FROM teams")) {
    team[r[0]] = {r[1], r[2]};
  }
  ASSERT_EQ(team.size(), 35u);

  // Per agent and quarter from GetReview (owner = the rep on the event).
  const auto by_agent = sql_figures("agent");
  int64_t compared = 0;
  for (const Quarter& q : Quarters()) {
    for (const auto& [agent, unused] : team) {
      const v1::ReviewReport r = Review(q, v1::DIMENSION_OWNER, agent);
      ASSERT_EQ(r.period_key(), q.key);
      auto it = by_agent.find({agent, q.key});
      const Figures want = it == by_agent.end() ? Figures() : it->second;
      SCOPED_TRACE(absl::StrCat(agent, " ", q.key));
      EXPECT_EQ(M(r, "revenue").value().money().units(), want.revenue_units);
      const v1::Metric& win = M(r, "win_rate");
      EXPECT_EQ(Frac(win.value().ratio(), win.value().has_ratio()),
                Frac(want.won, want.won + want.lost));
      const v1::Metric& cycle = M(r, "sales_cycle_days");
      EXPECT_EQ(Frac(cycle.value().ratio(), cycle.value().has_ratio()),
                Frac(want.cycle_days, want.won));
      EXPECT_EQ(M(r, "weighted_pipeline").value().money().units(),
                want.pipeline_percent_units / 100);
      ++compared;
    }
  }
  EXPECT_EQ(compared, 35 * 5);
  EXPECT_GT(by_agent.size(), 100u);  // the comparison is not over empty slices

  // Per manager and regional office: the Funnel's per-agent counts summed by
  // the team table, against SQL grouped by manager / office.
  for (const auto& [column, pick] :
       {std::pair<std::string, int>{"manager", 0}, std::pair<std::string, int>{"office", 1}}) {
    const auto want = sql_figures(column);
    std::map<std::pair<std::string, std::string>, Figures> got;
    for (const Quarter& q : Quarters()) {
      for (const v1::FunnelSlice& s : Funnel(q)) {
        auto t = team.find(s.dimension_value());
        ASSERT_NE(t, team.end()) << s.dimension_value();
        const std::string& group = pick == 0 ? t->second.first : t->second.second;
        Figures& f = got[{group, q.key}];
        f.won += s.won();
        f.lost += s.lost();
        ASSERT_EQ(s.won_cycle_days().denominator(), 1);  // whole days: noon to noon
        f.cycle_days += s.won_cycle_days().numerator();
        f.pipeline_percent_units += s.weighted_pipeline().units() * 100;
        // The slice's own rates agree with its counts.
        EXPECT_EQ(Frac(s.win_rate(), s.has_win_rate()), Frac(s.won(), s.won() + s.lost()));
      }
      for (const auto& [key, f] : want) {
        if (key.second != q.key) continue;
        const Figures& g = got[key];
        SCOPED_TRACE(absl::StrCat(column, " ", key.first, " ", q.key));
        EXPECT_EQ(g.won, f.won);
        EXPECT_EQ(g.lost, f.lost);
        EXPECT_EQ(g.cycle_days, f.cycle_days);
        // Σ of per-agent floors: each agent's floor(x/100) was exact here
        // (list prices are whole dollars, so every Σ amount x % is a multiple of 100).
        EXPECT_EQ(g.pipeline_percent_units, f.pipeline_percent_units);
      }
    }
    // Revenue per group: the agents' GetReview revenue summed.
    for (const auto& [key, f] : want) {
      if (key.second != "2017-Q2") continue;
      int64_t revenue = 0;
      for (const auto& [agent, mo] : team) {
        if ((pick == 0 ? mo.first : mo.second) != key.first) continue;
        revenue +=
            M(Review(Quarters()[2], v1::DIMENSION_OWNER, agent), "revenue").value().money().units();
      }
      EXPECT_EQ(revenue, f.revenue_units) << column << " " << key.first;
    }
  }

  // The whole company per quarter (DIMENSION_ALL).
  const auto all = sql_figures("'all'");
  for (const Quarter& q : Quarters()) {
    const v1::ReviewReport r = Review(q, v1::DIMENSION_ALL, "");
    const Figures& f = all.at({"all", q.key});
    EXPECT_EQ(M(r, "revenue").value().money().units(), f.revenue_units) << q.key;
    EXPECT_EQ(M(r, "weighted_pipeline").value().money().units(), f.pipeline_percent_units / 100)
        << q.key;
  }
}

}  // namespace
}  // namespace custops
