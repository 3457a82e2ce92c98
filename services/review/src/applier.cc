// The applier's steps that several payloads and the ticker share
// (applier.h): indexing the current owner and region, the complaint SLA
// clocks, the contact cadence, counting the derived timelines, and the
// rv_tier / rv_activity writes.
#include "applier.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "attribution.h"
#include "custops/base/status_macros.h"
#include "custops/domain/complaint_sla.h"
#include "custops/event/time.h"
#include "custops/store/keys.h"
#include "custops/v1/changes.pb.h"
#include "derived_timelines.h"
#include "review_units.h"

namespace custops::review {

void Applier::Reindex(const std::string& id, internal::ReviewCustomer& c) {
  if (c.profile_size() == 0) return;
  const internal::ReviewProfileAt& now = c.profile(c.profile_size() - 1);
  if (now.owner_id() != c.indexed_owner()) {
    if (!c.indexed_owner().empty()) b_.Index(cf_.owner, c.indexed_owner(), id, false);
    if (!now.owner_id().empty()) b_.Index(cf_.owner, now.owner_id(), id, true);
    c.set_indexed_owner(now.owner_id());
  }
  if (now.region() != c.indexed_region()) {
    if (!c.indexed_region().empty()) b_.Index(cf_.region, c.indexed_region(), id, false);
    if (!now.region().empty()) b_.Index(cf_.region, now.region(), id, true);
    c.set_indexed_region(now.region());
  }
}

void Applier::Cadence(const std::string& id, internal::ReviewCustomer& c) {
  const std::optional<domain::ContactDue> due = ContactDueOf(c, rules_.worklist.cadence);
  // Overdue strictly after due: index the first microsecond after it.
  const int64_t at = due ? absl::ToUnixMicros(due->due) + 1 : 0;
  if (due && due->overdue(now_) && c.overdue_emitted_due_micros() != at) {
    c.set_overdue_emitted_due_micros(at);
    v1::StateChange change;
    change.set_customer_id(id);
    *change.mutable_at() = event::ToProto(FromMicros(at));
    v1::ContactOverdue* d = change.mutable_contact_overdue();
    d->set_owner_id(c.indexed_owner());
    *d->mutable_due() = event::ToProto(due->due);
    if (c.last_visit_micros() != 0) {
      *d->mutable_last_visit_at() = event::ToProto(FromMicros(c.last_visit_micros()));
    }
    // Named by the fact (docs/review.md "Derived changes"): a re-derivation
    // (a rebuild) gives the same id, a different fact another.
    change.set_change_id(absl::StrCat(b_.txn().partition().value(), "/overdue/", id, "/", at));
    b_.txn().Emit(std::move(change));
  }
  const int64_t next = (due && !due->overdue(now_)) ? at : 0;
  if (next == c.contact_due_micros()) return;
  if (c.contact_due_micros() != 0) b_.Due(c.contact_due_micros(), id, "~", false);
  if (next != 0) b_.Due(next, id, "~", true);
  c.set_contact_due_micros(next);
}

absl::Status Applier::Sla(const std::string& id, internal::ReviewCustomer& c,
                          internal::ReviewComplaint& cp) {
  const v1::Severity severity = static_cast<v1::Severity>(cp.severity());
  const domain::ComplaintSla sla = domain::EvaluateComplaintSla(
      severity, FromMicros(cp.filed_micros()), StepsOf(cp), now_, rules_.worklist.sla);
  std::optional<int64_t> next;
  for (size_t i = 0; i < sla.episodes.size(); ++i) {
    const domain::SlaEpisode& ep = sla.episodes[i];
    for (const auto& [clock, tag, name] :
         {std::tuple{&ep.response, 'r', "first_response"}, {&ep.resolution, 's', "resolution"}}) {
      if (clock->state == domain::SlaState::kPending) {
        const int64_t due = absl::ToUnixMicros(clock->due);
        if (!next || due < *next) next = due;
        continue;
      }
      if (clock->state != domain::SlaState::kBreached) continue;
      const std::string mark = absl::StrCat(i, "/", std::string(1, tag));
      if (std::find(cp.counted().begin(), cp.counted().end(), mark) != cp.counted().end()) continue;
      cp.add_counted(mark);
      const int64_t due = absl::ToUnixMicros(clock->due);
      absl::Status status;
      RETURN_IF_ERROR(
          b_.ForEach(clock->due, BaseDims(c, due), [&](SliceState& s, const std::string& suffix) {
            s.acc.sla_breaches += 1;
            if (status.ok()) status = b_.FirstSeen(kSubjectBreach, suffix, id).status();
          }));
      RETURN_IF_ERROR(status);
      v1::StateChange change;
      change.set_customer_id(id);
      *change.mutable_at() = event::ToProto(clock->due);
      v1::ComplaintSlaBreached* d = change.mutable_complaint_sla_breached();
      d->set_complaint_id(cp.complaint_id());
      d->set_severity(severity);
      d->set_clock(name);
      *d->mutable_due() = event::ToProto(clock->due);
      d->set_episode(static_cast<int32_t>(i));
      if (ctx_ != nullptr) {
        change.mutable_source()->set_topic(std::string(ctx_->topic));
        change.mutable_source()->set_partition(ctx_->partition.value());
        change.mutable_source()->set_offset(ctx_->offset.value());
      }
      change.set_change_id(absl::StrCat(b_.txn().partition().value(), "/sla/", id, "/",
                                        cp.complaint_id(), "/", i, "/", name));
      b_.txn().Emit(std::move(change));
    }
  }
  const int64_t due = next.value_or(0);
  if (due != cp.due_micros()) {
    if (cp.due_micros() != 0) b_.Due(cp.due_micros(), id, "c" + cp.complaint_id(), false);
    if (due != 0) b_.Due(due, id, "c" + cp.complaint_id(), true);
    cp.set_due_micros(due);
  }
  return absl::OkStatus();
}

void Applier::SaveTierFacts(const std::string& id, const internal::ReviewCustomer& c) {
  b_.txn().Put(cf_.tier, b_.prefix() + id, c.tier_facts().SerializeAsString());
}

absl::Status Applier::SaveName(const std::string& id, int64_t t, const std::string& name) {
  std::string key = b_.prefix();
  store::AppendId(key, id);
  ASSIGN_OR_RETURN(std::optional<std::string> stored, b_.txn().Get(cf_.activity, key));
  if (stored && stored->size() >= 8) {
    std::string_view v = *stored;
    if (store::ReadI64(v) > t) return absl::OkStatus();  // a late event: not the current name
  }
  std::string value;
  store::AppendI64(value, t);
  value.append(name);
  b_.txn().Put(cf_.activity, key, value);
  return absl::OkStatus();
}

void Applier::SaveComplaintCategory(const std::string& id, const std::string& complaint_id,
                                    v1::ComplaintCategory category) {
  std::string key = b_.prefix();
  store::AppendId(key, id);
  key.append(complaint_id);
  std::string value;
  store::AppendU32(value, static_cast<uint32_t>(category));
  b_.txn().Put(cf_.activity, key, value);
}

absl::Status Applier::Derive(const std::string& id, internal::ReviewCustomer& c, int64_t at_least) {
  const int64_t horizon = std::max({absl::ToUnixMicros(now_), c.latest_event_micros(), at_least});
  int64_t next = kForever;
  std::vector<internal::ReviewDerived> pieces;
  const v1::LifecycleStage stage = LifecyclePieces(c, horizon, rules_.lifecycle, pieces, next);
  NegativePieces(c, horizon, rules_, pieces, next);
  OverduePieces(c, horizon, pieces, next);
  // Each piece counts under the dimensions the customer had when it started.
  for (internal::ReviewDerived& p : pieces) {
    const Dims d = BaseDims(c, p.from());
    p.set_region(d.region);
    p.set_industry(d.industry);
    p.set_owner_id(d.owner);
    p.set_channel(d.channel);
  }
  // Counted at the batch's Flush: the difference from what is counted.
  b_.SetDerived(c, std::move(pieces));
  c.set_stage_now(stage);
  c.set_derived_horizon_micros(horizon);
  const int64_t due = next == kForever ? 0 : next;
  if (due != c.derive_due_micros()) {
    if (c.derive_due_micros() != 0) b_.Due(c.derive_due_micros(), id, "L", false);
    if (due != 0) b_.Due(due, id, "L", true);
    c.set_derive_due_micros(due);
  }
  return absl::OkStatus();
}

}  // namespace custops::review
