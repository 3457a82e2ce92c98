// The per-customer queries of ReviewQueries: Worklist (an owner's or a
// region's customers' worklist items) and CustomerActivity (one customer's
// complaints with their SLA clocks, receivables and worklist items), with the
// customer state, names and worklist input they read.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "custops/base/saturating.h"
#include "custops/base/status_macros.h"
#include "custops/domain/complaint_sla.h"
#include "custops/domain/derived_timelines.h"
#include "custops/event/time.h"
#include "custops/log/partitioner.h"
#include "custops/review/review_projection.h"
#include "custops/rpc/page_token.h"
#include "custops/store/keys.h"
#include "review_query_keys.h"

namespace custops::review {
namespace {

constexpr std::string_view kWorklistToken = "w1.";

// A contract as known at as_of: the signed amount plus the renewals by then,
// the payments by then, terminated by then (the receivable of Worklist and
// CustomerActivity; the projection's overdue-receivables snapshot follows
// the same rule).
struct ContractAt {
  int64_t amount_units = 0;
  int64_t paid_units = 0;
  bool terminated = false;
};
ContractAt ContractAsOf(const internal::ReviewContract& k, int64_t as_of) {
  ContractAt at{.amount_units = k.signed_amount_units(), .paid_units = 0, .terminated = false};
  for (int i = 0; i < k.renewal_micros_size() && i < k.renewal_units_size(); ++i) {
    if (k.renewal_micros(i) <= as_of) {
      at.amount_units = base::SaturatingAdd(at.amount_units, k.renewal_units(i));
    }
  }
  for (int i = 0; i < k.payment_micros_size() && i < k.payment_units_size(); ++i) {
    if (k.payment_micros(i) <= as_of) {
      at.paid_units = base::SaturatingAdd(at.paid_units, k.payment_units(i));
    }
  }
  at.terminated = k.terminated_micros() != 0 && k.terminated_micros() <= as_of;
  return at;
}

}  // namespace

absl::StatusOr<std::optional<internal::ReviewCustomer>> ReviewQueries::LoadCustomer(
    int partition, const std::string& customer_id) const {
  ASSIGN_OR_RETURN(std::optional<std::string> stored,
                   store_.Get(cf_.customer, PartitionKey(partition) + customer_id));
  if (!stored) return std::nullopt;
  internal::ReviewCustomer c;
  if (!c.ParseFromString(*stored)) return absl::DataLossError("corrupt review customer");
  return c;
}

absl::StatusOr<std::string> ReviewQueries::NameOf(int partition,
                                                  const std::string& customer_id) const {
  std::string key = PartitionKey(partition);
  store::AppendId(key, customer_id);
  ASSIGN_OR_RETURN(std::optional<std::string> stored, store_.Get(cf_.activity, key));
  if (!stored || stored->size() < 8) return std::string();
  return stored->substr(8);
}

domain::WorklistCustomer ReviewQueries::WorklistInput(const std::string& id,
                                                      const internal::ReviewCustomer& c,
                                                      absl::Time as_of) const {
  domain::WorklistCustomer w;
  w.customer_id = id;
  // Stage, since when and DECLINING by the lifecycle rules at as_of.
  const domain::LifecycleResult lr = domain::Classify(c.lifecycle(), as_of, rules_.lifecycle);
  w.stage = lr.stage == v1::LIFECYCLE_STAGE_UNSPECIFIED ? v1::LIFECYCLE_STAGE_PROSPECT : lr.stage;
  w.tracked_since = absl::FromUnixMicros(c.registered_micros());
  for (const v1::StageTransition& h : lr.history) {
    if (h.from() != h.to()) w.tracked_since = event::FromProto(h.at());
    const bool into_declining =
        h.to() == v1::LIFECYCLE_STAGE_CUSTOMER && h.to_sub_stage() == v1::SUB_STAGE_DECLINING &&
        (h.from() != v1::LIFECYCLE_STAGE_CUSTOMER || h.from_sub_stage() != v1::SUB_STAGE_DECLINING);
    if (into_declining) w.declining_since = event::FromProto(h.at());
  }
  if (lr.stage != v1::LIFECYCLE_STAGE_CUSTOMER || lr.sub_stage != v1::SUB_STAGE_DECLINING) {
    w.declining_since.reset();
  }
  w.turned_declining =
      w.declining_since.has_value() && as_of - *w.declining_since <= rules_.declining_recent;
  if (c.first_purchase_micros() != 0) {
    const int64_t last = c.purchase_micros(c.purchase_micros_size() - 1);
    w.last_purchase_at = absl::FromUnixMicros(last);
    if (c.purchase_micros_size() >= 2) {
      std::vector<int64_t> gaps;
      for (int i = 1; i < c.purchase_micros_size(); ++i) {
        gaps.push_back(c.purchase_micros(i) - c.purchase_micros(i - 1));
      }
      std::sort(gaps.begin(), gaps.end());
      w.median_purchase_gap = absl::Microseconds(gaps[(gaps.size() - 1) / 2]);
    }
  }
  if (c.last_visit_micros() != 0) w.last_visit_at = absl::FromUnixMicros(c.last_visit_micros());
  const int64_t as_of_micros = absl::ToUnixMicros(as_of);
  for (const auto& k : c.contracts()) {
    if (k.end_micros() == 0 || k.signed_micros() > as_of_micros) continue;
    // Amount, payments and termination as known at as_of.
    const ContractAt at = ContractAsOf(k, as_of_micros);
    w.contracts.push_back(
        {.contract_id = k.contract_id(),
         .end = absl::FromUnixMicros(k.end_micros()),
         .terminated = at.terminated,
         .payment_due = absl::FromUnixMicros(k.payment_due_micros()),
         .outstanding_units = base::SaturatingSub(at.amount_units, at.paid_units)});
  }
  for (const auto& k : c.complaints()) {
    w.complaints.push_back({.complaint_id = k.complaint_id(),
                            .severity = static_cast<v1::Severity>(k.severity()),
                            .filed_at = absl::FromUnixMicros(k.filed_micros()),
                            .steps = domain::StepsOf(k)});
  }
  for (const auto& k : c.contacts()) {
    domain::WorklistContact wc{.contact_id = k.contact_id(), .birthday = std::nullopt};
    if (k.birthday_month() != 0) {
      v1::Date d;
      d.set_year(k.birthday_year());
      d.set_month(k.birthday_month());
      d.set_day(k.birthday_day());
      wc.birthday = d;
    }
    w.contacts.push_back(std::move(wc));
  }
  return w;
}

void ReviewQueries::AddWorklistItems(
    const internal::ReviewCustomer& c, const std::string& name, const domain::WorklistCustomer& w,
    absl::Time as_of, google::protobuf::RepeatedPtrField<v1::WorklistItem>* out) const {
  // The current profile: the latest by event time.
  static const internal::ReviewProfileAt kNoProfile;
  const internal::ReviewProfileAt& profile =
      c.profile_size() > 0 ? c.profile(c.profile_size() - 1) : kNoProfile;
  for (const domain::WorklistItem& item :
       domain::BuildWorklist(w, as_of, rules_.zone, rules_.worklist)) {
    v1::WorklistItem* o = out->Add();
    o->set_customer_id(w.customer_id);
    o->set_reason(std::string(domain::WorklistReasonName(item.reason)));
    o->set_subject_id(item.subject_id);
    *o->mutable_at() = event::ToProto(item.at);
    if (item.reason == domain::WorklistReason::kComplaintSla) {
      o->set_urgency(std::string(domain::SlaUrgencyName(item.urgency)));
    }
    o->set_customer_name(name);
    o->set_owner_id(profile.owner_id());
    o->set_region(profile.region());
  }
}

absl::StatusOr<v1::WorklistResponse> ReviewQueries::Worklist(const v1::WorklistRequest& request,
                                                             absl::Time as_of) const {
  if (request.owner_id().empty() == request.region().empty()) {
    return absl::InvalidArgumentError("owner_id, region: exactly one is required");
  }
  ASSIGN_OR_RETURN(int page_size, rpc::PageSize(request.page_size()));
  ASSIGN_OR_RETURN(std::string after, rpc::DecodePageToken(kWorklistToken, request.page_token()));
  const bool by_owner = !request.owner_id().empty();
  const std::string& value = by_owner ? request.owner_id() : request.region();
  if (value.size() > 128) return absl::InvalidArgumentError("owner_id/region: at most 128 bytes");

  // The customers of the owner (region) in id order across partitions.
  std::vector<std::pair<std::string, int>> customers;
  for (int p = 0; p < partitions_; ++p) {
    std::string prefix = PartitionKey(p);
    store::AppendId(prefix, value);
    std::unique_ptr<store::Iterator> it =
        store_.NewIterator(by_owner ? cf_.owner : cf_.region, prefix);
    int n = 0;
    for (it->Seek(prefix + after); it->Valid() && n <= page_size; it->Next()) {
      std::string id(it->key().substr(prefix.size()));
      if (!after.empty() && id <= after) continue;
      customers.emplace_back(std::move(id), p);
      ++n;
    }
    RETURN_IF_ERROR(it->status());
  }
  std::sort(customers.begin(), customers.end());
  ASSIGN_OR_RETURN(const auto tiers, TiersAt(as_of));
  v1::WorklistResponse response;
  if (static_cast<int>(customers.size()) > page_size) {
    customers.resize(page_size);
    response.set_next_page_token(rpc::EncodePageToken(kWorklistToken, customers.back().first));
  }
  for (const auto& [id, p] : customers) {
    ASSIGN_OR_RETURN(std::optional<internal::ReviewCustomer> c, LoadCustomer(p, id));
    if (!c) continue;
    domain::WorklistCustomer w = WorklistInput(id, *c, as_of);
    // The cadence of the customer's tier at as_of (value rules).
    if (auto t = tiers.find(id); t != tiers.end()) w.tier = t->second;
    ASSIGN_OR_RETURN(std::string name, NameOf(p, id));
    AddWorklistItems(*c, name, w, as_of, response.mutable_items());
  }
  return response;
}

absl::StatusOr<v1::CustomerActivityResponse> ReviewQueries::CustomerActivity(
    const std::string& customer_id, absl::Time as_of,
    const std::vector<std::string>* regions) const {
  if (customer_id.empty() || customer_id.size() > 128) {
    return absl::InvalidArgumentError("customer_id: required, 1-128 bytes");
  }
  const int partition = log::PartitionForKey(customer_id, partitions_).value();
  ASSIGN_OR_RETURN(std::optional<internal::ReviewCustomer> c, LoadCustomer(partition, customer_id));
  // A customer outside the caller's regions (its current one) is not found
  // either: its existence is not revealed.
  const std::string region =
      c && c->profile_size() > 0 ? c->profile(c->profile_size() - 1).region() : "";
  if (!c || !c->registered() ||
      (regions != nullptr &&
       std::find(regions->begin(), regions->end(), region) == regions->end())) {
    return absl::NotFoundError(absl::StrCat("customer_id: no customer ", customer_id));
  }
  // Its name and complaint categories (rv_activity: P|id\0 and P|id\0|complaint).
  std::string name;
  std::map<std::string, v1::ComplaintCategory, std::less<>> categories;
  {
    std::string prefix = PartitionKey(partition);
    store::AppendId(prefix, customer_id);
    std::unique_ptr<store::Iterator> it = store_.NewIterator(cf_.activity, prefix);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string_view rest = it->key().substr(prefix.size());
      std::string_view v = it->value();
      if (rest.empty()) {
        if (v.size() >= 8) name = std::string(v.substr(8));
      } else if (v.size() == 4) {
        categories.emplace(rest, static_cast<v1::ComplaintCategory>(store::ReadU32(v)));
      }
    }
    RETURN_IF_ERROR(it->status());
  }
  const int64_t as_of_micros = absl::ToUnixMicros(as_of);
  v1::CustomerActivityResponse response;
  response.set_customer_id(customer_id);

  // Complaints filed by as_of, with the SLA clocks the worklist uses.
  struct Complaint {
    bool open;
    int64_t filed;
    v1::ComplaintStatus status;
  };
  std::vector<Complaint> complaints;
  for (const internal::ReviewComplaint& k : c->complaints()) {
    if (k.filed_micros() > as_of_micros) continue;
    const v1::Severity severity = static_cast<v1::Severity>(k.severity());
    const domain::ComplaintSla sla =
        domain::EvaluateComplaintSla(severity, absl::FromUnixMicros(k.filed_micros()),
                                     domain::StepsOf(k), as_of, rules_.worklist.sla);
    const domain::SlaEpisode& episode = sla.current();
    Complaint& out = complaints.emplace_back(Complaint{sla.open, k.filed_micros(), {}});
    v1::ComplaintStatus& s = out.status;
    s.set_complaint_id(k.complaint_id());
    if (auto it = categories.find(k.complaint_id()); it != categories.end()) {
      s.set_category(it->second);
    }
    s.set_severity(severity);
    *s.mutable_filed_at() = event::ToProto(absl::FromUnixMicros(k.filed_micros()));
    if (episode.response.done_at)
      *s.mutable_responded_at() = event::ToProto(*episode.response.done_at);
    if (!sla.open && episode.resolution.done_at) {
      *s.mutable_resolved_at() = event::ToProto(*episode.resolution.done_at);
    }
    if (sla.open) {
      *s.mutable_due() =
          event::ToProto(episode.response.done_at ? episode.resolution.due : episode.response.due);
    }
    if (sla.urgency != domain::SlaUrgency::kNone) {
      s.set_urgency(std::string(domain::SlaUrgencyName(sla.urgency)));
    }
  }
  std::sort(complaints.begin(), complaints.end(), [](const Complaint& a, const Complaint& b) {
    if (a.open != b.open) return a.open;
    if (a.filed != b.filed) return a.filed < b.filed;
    return a.status.complaint_id() < b.status.complaint_id();
  });
  for (Complaint& k : complaints) *response.add_complaints() = std::move(k.status);

  // Receivables of the contracts signed by as_of, as known at as_of.
  std::vector<const internal::ReviewContract*> contracts;
  for (const internal::ReviewContract& k : c->contracts()) {
    if (k.signed_micros() <= as_of_micros) contracts.push_back(&k);
  }
  std::sort(contracts.begin(), contracts.end(), [](const auto* a, const auto* b) {
    if (a->payment_due_micros() != b->payment_due_micros()) {
      return a->payment_due_micros() < b->payment_due_micros();
    }
    return a->contract_id() < b->contract_id();
  });
  for (const internal::ReviewContract* k : contracts) {
    const ContractAt at = ContractAsOf(*k, as_of_micros);
    const int64_t owed = base::SaturatingSub(at.amount_units, at.paid_units);
    const absl::Time due = absl::FromUnixMicros(k->payment_due_micros());
    v1::Receivable* r = response.add_receivables();
    r->set_contract_id(k->contract_id());
    r->mutable_amount()->set_units(at.amount_units);
    r->mutable_amount()->set_currency(currency_);
    r->mutable_paid()->set_units(at.paid_units);
    r->mutable_paid()->set_currency(currency_);
    r->mutable_outstanding()->set_units(std::max<int64_t>(owed, 0));
    r->mutable_outstanding()->set_currency(currency_);
    *r->mutable_payment_due() = event::ToProto(due);
    r->set_overdue(domain::PaymentOverdue(due, owed, at.terminated, as_of));
  }

  // Its worklist items at as_of; the cadence of a CUSTOMER is its tier's.
  domain::WorklistCustomer w = WorklistInput(customer_id, *c, as_of);
  if (w.stage == v1::LIFECYCLE_STAGE_CUSTOMER) {
    ASSIGN_OR_RETURN(const auto tiers, TiersAt(as_of));
    if (auto t = tiers.find(customer_id); t != tiers.end()) w.tier = t->second;
  }
  AddWorklistItems(*c, name, w, as_of, response.mutable_worklist());
  return response;
}

}  // namespace custops::review
