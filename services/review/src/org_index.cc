#include "custops/review/org_index.h"

#include "absl/strings/str_cat.h"
#include "custops/base/status_macros.h"
#include "custops/domain/period.h"
#include "custops/event/time.h"

namespace custops::review {

absl::StatusOr<std::unique_ptr<OrgIndex>> OrgIndex::Open(const log::EventLog& log,
                                                         absl::TimeZone zone) {
  ASSIGN_OR_RETURN(int partitions, log.PartitionCount(log::kOrgEvents));
  return std::unique_ptr<OrgIndex>(new OrgIndex(log, zone, partitions));
}

OrgIndex::OrgIndex(const log::EventLog& log, absl::TimeZone zone, int partitions)
    : log_(log), zone_(zone), partitions_(partitions), next_(partitions, 0) {}

OrgIndex::~OrgIndex() { Stop(); }

absl::Status OrgIndex::Start() {
  if (running_.exchange(true)) return absl::FailedPreconditionError("org index already running");
  thread_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

void OrgIndex::Stop() {
  if (!running_.exchange(false)) return;
  if (thread_.joinable()) thread_.join();
}

void OrgIndex::Loop() {
  while (running_.load()) {
    const uint64_t seen = log_.Generation(log::kOrgEvents);
    if (absl::Status s = CatchUp(); !s.ok()) {
      absl::SleepFor(absl::Milliseconds(100));
      continue;
    }
    log_.WaitForAppend(log::kOrgEvents, seen, absl::Now() + absl::Milliseconds(200));
  }
}

absl::Status OrgIndex::CatchUp() {
  for (int p = 0; p < partitions_; ++p) {
    while (true) {
      int64_t from;
      {
        absl::MutexLock lock(&mu_);
        from = next_[p];
      }
      ASSIGN_OR_RETURN(std::vector<log::LogRecord> records,
                       log_.Read(log::kOrgEvents, Partition(p), Offset(from), 1000));
      if (records.empty()) break;
      for (const log::LogRecord& r : records) {
        v1::OrgEvent e;
        // Ingest validated it; an unreadable record is skipped, not fatal.
        if (e.ParseFromString(r.value)) Apply(e);
        absl::MutexLock lock(&mu_);
        next_[p] = r.offset.value() + 1;
      }
      if (waiters_.pending() > 0) {
        std::vector<int64_t> next;
        {
          absl::MutexLock lock(&mu_);
          next = next_;
        }
        waiters_.Update(next, {});
      }
    }
  }
  return absl::OkStatus();
}

absl::Status OrgIndex::WaitApplied(const projection::PositionSet& token,
                                   absl::Time deadline) const {
  if (token.topic() != log::kOrgEvents) return absl::OkStatus();
  if (token.next_offsets_size() > partitions_) {
    return absl::InvalidArgumentError("consistency_token: more partitions than the org topic");
  }
  absl::MutexLock lock(&mu_);
  auto reached = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    for (int p = 0; p < token.next_offsets_size(); ++p) {
      if (next_[p] < token.next_offsets(p)) return false;
    }
    return true;
  };
  if (!mu_.AwaitWithDeadline(absl::Condition(&reached), deadline)) {
    return absl::DeadlineExceededError("consistency_token: org events not applied in time");
  }
  return absl::OkStatus();
}

void OrgIndex::NotifyApplied(const projection::PositionSet& token, absl::Time deadline,
                             projection::PositionWaiters::Done done) const {
  if (token.topic() != log::kOrgEvents) {
    std::move(done)(absl::OkStatus());
    return;
  }
  if (token.next_offsets_size() > partitions_) {
    std::move(done)(
        absl::InvalidArgumentError("consistency_token: more partitions than the org topic"));
    return;
  }
  std::vector<int64_t> targets(token.next_offsets().begin(), token.next_offsets().end());
  {
    absl::MutexLock lock(&mu_);
    if (!projection::Reached(targets, next_, {})) {
      waiters_.Add(std::move(targets), deadline,
                   absl::DeadlineExceededError("consistency_token: org events not applied in time"),
                   std::move(done));
      return;
    }
  }
  std::move(done)(absl::OkStatus());
}

void OrgIndex::AbandonWaits(const absl::Status& status) const { waiters_.Close(status); }

void OrgIndex::Apply(const v1::OrgEvent& e) {
  absl::MutexLock lock(&mu_);
  switch (e.payload_case()) {
    case v1::OrgEvent::kTargetSet: {
      const auto& t = e.target_set();
      if (t.metric() != "revenue" || !t.value().has_money()) break;
      auto period = domain::PeriodFromRequest(t.period().granularity(),
                                              event::FromProto(t.period().start()), zone_);
      if (!period.ok()) break;
      const int dim =
          t.dimension() == v1::DIMENSION_UNSPECIFIED ? v1::DIMENSION_ALL : t.dimension();
      // The last TargetSet in log order wins.
      targets_[{period->Key(), dim, t.dimension_value()}] = t.value().money().units();
      break;
    }
    case v1::OrgEvent::kMarketingSpendRecorded: {
      const auto& m = e.marketing_spend_recorded();
      const absl::CivilDay day(m.date().year(), m.date().month(), m.date().day());
      const int dim =
          m.dimension() == v1::DIMENSION_UNSPECIFIED ? v1::DIMENSION_ALL : m.dimension();
      for (v1::Granularity g : {v1::GRANULARITY_DAY, v1::GRANULARITY_WEEK, v1::GRANULARITY_MONTH,
                                v1::GRANULARITY_QUARTER, v1::GRANULARITY_YEAR}) {
        const std::string key = domain::PeriodContaining(day, g).Key();
        spend_[{key, dim, m.dimension_value()}] += m.amount().units();
        // Spend recorded for a slice also counts in `all` (record it once,
        // at its most specific level).
        if (dim != v1::DIMENSION_ALL) spend_[{key, v1::DIMENSION_ALL, ""}] += m.amount().units();
      }
      break;
    }
    case v1::OrgEvent::kMarketSizeDeclared: {
      const auto& m = e.market_size_declared();
      auto period = domain::PeriodFromRequest(m.period().granularity(),
                                              event::FromProto(m.period().start()), zone_);
      if (!period.ok()) break;
      SliceKey key{period->Key(), v1::DIMENSION_ALL, ""};
      if (!m.region().empty() && m.industry().empty()) {
        key = {period->Key(), v1::DIMENSION_REGION, m.region()};
      } else if (m.region().empty() && !m.industry().empty()) {
        key = {period->Key(), v1::DIMENSION_INDUSTRY, m.industry()};
      } else if (!m.region().empty()) {
        break;  // a region x industry market has no slice of its own
      }
      market_[key] = m.amount().units();
      break;
    }
    case v1::OrgEvent::kReviewActionPlanned: {
      const auto& a = e.review_action_planned();
      Action& x = actions_[a.action_id()];
      x.action.set_action_id(a.action_id());
      auto period = domain::PeriodFromRequest(a.review_period().granularity(),
                                              event::FromProto(a.review_period().start()), zone_);
      if (period.ok()) x.action.set_review_period(period->Key());
      x.action.set_finding(a.finding());
      x.action.set_owner(a.owner());
      if (a.has_due()) *x.action.mutable_due() = a.due();
      x.action.set_description(a.description());
      x.dim = a.dimension() == v1::DIMENSION_UNSPECIFIED ? v1::DIMENSION_ALL : a.dimension();
      x.value = a.dimension_value();
      break;
    }
    case v1::OrgEvent::kReviewActionClosed: {
      auto it = actions_.find(e.review_action_closed().action_id());
      if (it == actions_.end()) break;
      it->second.action.set_closed(true);
      it->second.action.set_note(e.review_action_closed().note());
      it->second.closed_at = event::FromProto(e.occurred_at());
      break;
    }
    case v1::OrgEvent::PAYLOAD_NOT_SET:
      break;
  }
}

std::optional<int64_t> OrgIndex::Target(const std::string& period_key, v1::Dimension dim,
                                        const std::string& value) const {
  absl::MutexLock lock(&mu_);
  auto it = targets_.find({period_key, dim, value});
  if (it == targets_.end()) return std::nullopt;
  return it->second;
}

int64_t OrgIndex::MarketingSpend(const std::string& period_key, v1::Dimension dim,
                                 const std::string& value) const {
  absl::MutexLock lock(&mu_);
  auto it = spend_.find({period_key, dim, value});
  return it == spend_.end() ? 0 : it->second;
}

std::optional<int64_t> OrgIndex::MarketSize(const std::string& period_key, v1::Dimension dim,
                                            const std::string& value) const {
  absl::MutexLock lock(&mu_);
  auto it = market_.find({period_key, dim, value});
  if (it == market_.end()) return std::nullopt;
  return it->second;
}

std::vector<v1::ReviewAction> OrgIndex::Actions(v1::Dimension dim, const std::string& value,
                                                absl::Time period_start) const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::ReviewAction> out;
  for (const auto& [id, a] : actions_) {
    if (a.dim != dim || a.value != value) continue;
    if (a.action.closed() && a.closed_at < period_start) continue;
    out.push_back(a.action);
  }
  return out;
}

}  // namespace custops::review
