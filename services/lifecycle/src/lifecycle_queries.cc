// The lifecycle projection's read side: LifecycleQueries (GetCustomer,
// ListCustomers, StageSummary and Timeline over the store, RegionOf and the
// region-scope check) and the merges of the answers of instances that own
// disjoint partitions (MergeStageSummaries, MergeCustomerLists).
#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "custops/base/status_macros.h"
#include "custops/event/time.h"
#include "custops/lifecycle/lifecycle_projection.h"
#include "custops/log/partitioner.h"
#include "custops/rpc/page_token.h"
#include "custops/store/keys.h"
#include "lifecycle_keys.h"

namespace custops::lifecycle {
namespace {

// A summary's counts (the zero ones left out) and their total.
void AddCounts(const std::map<std::tuple<std::string, int, int>, int64_t>& counts,
               v1::StageSummaryResponse& response) {
  int64_t total = 0;
  for (const auto& [k, n] : counts) {
    if (n == 0) continue;
    v1::StageCount* c = response.add_counts();
    c->set_dimension_value(std::get<0>(k));
    c->set_stage(static_cast<v1::LifecycleStage>(std::get<1>(k)));
    c->set_sub_stage(static_cast<v1::SubStage>(std::get<2>(k)));
    c->set_count(n);
    total += n;
  }
  response.set_total(total);
}

using keys_internal::CustomerKey;
using keys_internal::kCountedDimensions;
using keys_internal::PartitionKey;
using keys_internal::StageKey;

v1::CustomerSummary SummaryFromEntry(std::string_view customer_id,
                                     const internal::LifecycleIndexEntry& e) {
  v1::CustomerSummary s;
  s.set_customer_id(std::string(customer_id));
  s.set_name(e.name());
  s.set_kind(static_cast<v1::CustomerKind>(e.kind()));
  s.set_stage(static_cast<v1::LifecycleStage>(e.stage()));
  s.set_sub_stage(static_cast<v1::SubStage>(e.sub_stage()));
  s.set_region(e.region());
  s.set_industry(e.industry());
  s.set_owner_id(e.owner_id());
  s.set_man_class(e.man_class());
  if (e.last_activity_micros() != 0) {
    *s.mutable_last_activity_at() = event::ToProto(absl::FromUnixMicros(e.last_activity_micros()));
  }
  return s;
}

bool Matches(const v1::CustomerFilter& f, const internal::LifecycleIndexEntry& e) {
  if (f.stage() != v1::LIFECYCLE_STAGE_UNSPECIFIED && f.stage() != e.stage()) return false;
  if (f.sub_stage() != v1::SUB_STAGE_UNSPECIFIED && f.sub_stage() != e.sub_stage()) return false;
  if (!f.region().empty() && f.region() != e.region()) return false;
  if (!f.owner_id().empty() && f.owner_id() != e.owner_id()) return false;
  if (!f.industry().empty() && f.industry() != e.industry()) return false;
  if (f.kind() != v1::CUSTOMER_KIND_UNSPECIFIED && f.kind() != e.kind()) return false;
  return true;
}

// Whether `region` is in the caller's scope (null: every region).
bool InScope(const std::vector<std::string>* regions, const std::string& region) {
  return regions == nullptr || std::binary_search(regions->begin(), regions->end(), region);
}

constexpr std::string_view kListTokenPrefix = "l1.";
constexpr std::string_view kTimelineTokenPrefix = "t1.";

// `only` when given, else every partition.
std::vector<Partition> PartitionsOrAll(const std::vector<Partition>* only, int partitions) {
  if (only != nullptr) return *only;
  std::vector<Partition> all;
  for (int i = 0; i < partitions; ++i) all.push_back(Partition(i));
  return all;
}

}  // namespace

LifecycleQueries::LifecycleQueries(const store::Store& store, int partitions,
                                   domain::LifecycleRules rules)
    : store_(store), partitions_(partitions), rules_(rules) {}

absl::StatusOr<v1::CustomerView> LifecycleQueries::GetCustomer(const std::string& customer_id,
                                                               absl::Time as_of) const {
  ASSIGN_OR_RETURN(internal::CustomerFacts facts, LoadFacts(customer_id));
  return domain::BuildCustomerView(facts, as_of, rules_);
}

absl::StatusOr<internal::CustomerFacts> LifecycleQueries::LoadFacts(
    const std::string& customer_id) const {
  const Partition p = log::PartitionForKey(customer_id, partitions_);
  ASSIGN_OR_RETURN(std::optional<std::string> stored,
                   store_.Get(store_.Family("lc_facts"), CustomerKey(p, customer_id)));
  internal::CustomerFacts facts;
  if (stored && !facts.ParseFromString(*stored)) {
    return absl::DataLossError(absl::StrCat("corrupt facts of customer ", customer_id));
  }
  if (!stored || !domain::Exists(facts)) {
    return absl::NotFoundError(absl::StrCat("customer_id: no customer ", customer_id));
  }
  return facts;
}

std::string LifecycleQueries::RegionOf(const std::string& customer_id) const {
  const Partition p = log::PartitionForKey(customer_id, partitions_);
  absl::StatusOr<std::optional<std::string>> stored =
      store_.Get(store_.Family("lc_index"), CustomerKey(p, customer_id));
  internal::LifecycleIndexEntry e;
  if (!stored.ok() || !stored->has_value() || !e.ParseFromString(**stored)) return "";
  return e.region();
}

absl::Status LifecycleQueries::CheckScope(const std::string& customer_id,
                                          const std::vector<std::string>* regions) const {
  if (regions == nullptr || InScope(regions, RegionOf(customer_id))) return absl::OkStatus();
  return absl::NotFoundError(absl::StrCat("customer_id: no customer ", customer_id));
}

absl::StatusOr<v1::ListCustomersResponse> LifecycleQueries::ListCustomers(
    const v1::ListCustomersRequest& request, absl::Time as_of, bool use_index,
    const std::vector<Partition>* only, const std::vector<std::string>* regions) const {
  ASSIGN_OR_RETURN(int page_size, rpc::PageSize(request.page_size()));
  ASSIGN_OR_RETURN(std::string after, rpc::DecodePageToken(kListTokenPrefix, request.page_token()));
  const v1::CustomerFilter& filter = request.filter();
  // Each stream yields customer ids in order; the page is the k-way merge.
  std::map<std::string, v1::CustomerSummary> found;
  auto take = [&](std::string_view id, const internal::LifecycleIndexEntry& e) {
    if (!Matches(filter, e) || !InScope(regions, e.region())) return false;
    found.emplace(std::string(id), SummaryFromEntry(id, e));
    return true;
  };
  auto seek_after = [&](store::Iterator& it, const std::string& prefix) {
    if (after.empty()) {
      it.SeekToFirst();
    } else {
      it.Seek(prefix + after + std::string(1, '\0'));
    }
  };
  const store::ColumnFamily index_cf = store_.Family("lc_index");
  for (const Partition p : PartitionsOrAll(only, partitions_)) {
    if (use_index && filter.stage() != v1::LIFECYCLE_STAGE_UNSPECIFIED) {
      std::vector<int> subs;
      if (filter.sub_stage() != v1::SUB_STAGE_UNSPECIFIED) {
        subs.push_back(filter.sub_stage());
      } else {
        for (int s = 0; s <= v1::SubStage_MAX; ++s) subs.push_back(s);
      }
      for (int sub : subs) {
        const std::string prefix = StageKey(p, filter.stage(), sub, "");
        auto it = store_.NewIterator(store_.Family("lc_by_stage"), prefix);
        int taken = 0;
        for (seek_after(*it, prefix); it->Valid() && taken <= page_size; it->Next()) {
          std::string id(it->key().substr(prefix.size()));
          ASSIGN_OR_RETURN(std::optional<std::string> stored,
                           store_.Get(index_cf, CustomerKey(p, id)));
          internal::LifecycleIndexEntry e;
          if (stored && e.ParseFromString(*stored) && take(id, e)) ++taken;
        }
        RETURN_IF_ERROR(it->status());
      }
    } else if (use_index) {
      const std::string prefix = PartitionKey(p);
      auto it = store_.NewIterator(index_cf, prefix);
      int taken = 0;
      for (seek_after(*it, prefix); it->Valid() && taken <= page_size; it->Next()) {
        internal::LifecycleIndexEntry e;
        if (!e.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
          return absl::DataLossError("corrupt lifecycle index");
        }
        if (take(it->key().substr(prefix.size()), e)) ++taken;
      }
      RETURN_IF_ERROR(it->status());
    } else {
      const std::string prefix = PartitionKey(p);
      auto it = store_.NewIterator(store_.Family("lc_facts"), prefix);
      int taken = 0;
      for (seek_after(*it, prefix); it->Valid() && taken <= page_size; it->Next()) {
        internal::CustomerFacts facts;
        if (!facts.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
          return absl::DataLossError("corrupt lifecycle facts");
        }
        if (!domain::Exists(facts)) continue;
        if (take(it->key().substr(prefix.size()),
                 IndexEntryOf(domain::Summarize(facts, as_of, rules_)))) {
          ++taken;
        }
      }
      RETURN_IF_ERROR(it->status());
    }
  }
  v1::ListCustomersResponse response;
  for (auto& [id, summary] : found) {
    if (response.customers_size() == page_size) {
      response.set_next_page_token(
          rpc::EncodePageToken(kListTokenPrefix, response.customers().rbegin()->customer_id()));
      break;
    }
    *response.add_customers() = std::move(summary);
  }
  return response;
}

absl::StatusOr<v1::StageSummaryResponse> LifecycleQueries::StageSummary(
    v1::Dimension dimension, absl::Time as_of, bool use_index, const std::vector<Partition>* only,
    const std::vector<std::string>* regions) const {
  if (dimension == v1::DIMENSION_UNSPECIFIED) dimension = v1::DIMENSION_ALL;
  if (std::find(std::begin(kCountedDimensions), std::end(kCountedDimensions), dimension) ==
      std::end(kCountedDimensions)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dimension: ", v1::Dimension_Name(dimension),
        " is not a lifecycle dimension (ALL, REGION, INDUSTRY, OWNER, CHANNEL, KIND)"));
  }
  std::map<std::tuple<std::string, int, int>, int64_t> counts;
  for (const Partition p : PartitionsOrAll(only, partitions_)) {
    if (use_index && regions != nullptr) {
      // The counts are not kept per region x dimension: count the scope's
      // customers from the index entries.
      const std::string prefix = PartitionKey(p);
      auto it = store_.NewIterator(store_.Family("lc_index"), prefix);
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        internal::LifecycleIndexEntry e;
        if (!e.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
          return absl::DataLossError("corrupt lifecycle index");
        }
        if (!InScope(regions, e.region())) continue;
        counts[{DimensionValue(dimension, e), e.stage(), e.sub_stage()}] += 1;
      }
      RETURN_IF_ERROR(it->status());
    } else if (use_index) {
      std::string prefix = PartitionKey(p);
      store::AppendU32(prefix, static_cast<uint32_t>(dimension));
      auto it = store_.NewIterator(store_.Family("lc_counts"), prefix);
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        std::string_view rest = it->key().substr(prefix.size());
        std::string value(store::ReadId(rest));
        if (rest.size() != 8 || it->value().size() != 8) {
          return absl::DataLossError("corrupt lifecycle count");
        }
        const int stage = static_cast<int>(store::ReadU32(rest));
        const int sub = static_cast<int>(store::ReadU32(rest));
        std::string_view v = it->value();
        counts[{value, stage, sub}] += static_cast<int64_t>(store::ReadU64(v));
      }
      RETURN_IF_ERROR(it->status());
    } else {
      const std::string prefix = PartitionKey(p);
      auto it = store_.NewIterator(store_.Family("lc_facts"), prefix);
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        internal::CustomerFacts facts;
        if (!facts.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
          return absl::DataLossError("corrupt lifecycle facts");
        }
        if (!domain::Exists(facts)) continue;
        const internal::LifecycleIndexEntry e =
            IndexEntryOf(domain::Summarize(facts, as_of, rules_));
        if (!InScope(regions, e.region())) continue;
        counts[{DimensionValue(dimension, e), e.stage(), e.sub_stage()}] += 1;
      }
      RETURN_IF_ERROR(it->status());
    }
  }
  v1::StageSummaryResponse response;
  response.set_dimension(dimension);
  *response.mutable_as_of() = event::ToProto(as_of);
  AddCounts(counts, response);
  return response;
}

v1::StageSummaryResponse MergeStageSummaries(std::vector<v1::StageSummaryResponse> parts) {
  v1::StageSummaryResponse response;
  if (parts.empty()) return response;
  std::map<std::tuple<std::string, int, int>, int64_t> counts;
  for (const v1::StageSummaryResponse& part : parts) {
    for (const v1::StageCount& c : part.counts()) {
      counts[{c.dimension_value(), c.stage(), c.sub_stage()}] += c.count();
    }
  }
  response.set_dimension(parts.front().dimension());
  *response.mutable_as_of() = parts.front().as_of();
  AddCounts(counts, response);
  return response;
}

absl::StatusOr<v1::ListCustomersResponse> MergeCustomerLists(
    const v1::ListCustomersRequest& request, std::vector<v1::ListCustomersResponse> parts) {
  ASSIGN_OR_RETURN(int page_size, rpc::PageSize(request.page_size()));
  // Each part is the first page of its partitions after the token; the first
  // page_size of their union is the first page of all. There is more when the
  // union overflows the page or a part had more of its own.
  std::map<std::string, v1::CustomerSummary> found;
  bool more = false;
  for (v1::ListCustomersResponse& part : parts) {
    more = more || !part.next_page_token().empty();
    for (v1::CustomerSummary& c : *part.mutable_customers()) {
      std::string id = c.customer_id();
      found.emplace(std::move(id), std::move(c));
    }
  }
  v1::ListCustomersResponse response;
  for (auto& [id, summary] : found) {
    if (response.customers_size() == page_size) {
      more = true;
      break;
    }
    *response.add_customers() = std::move(summary);
  }
  if (more && response.customers_size() > 0) {
    response.set_next_page_token(
        rpc::EncodePageToken(kListTokenPrefix, response.customers().rbegin()->customer_id()));
  }
  return response;
}

absl::StatusOr<v1::TimelineResponse> LifecycleQueries::Timeline(
    const v1::TimelineRequest& request) const {
  ASSIGN_OR_RETURN(int page_size, rpc::PageSize(request.page_size()));
  ASSIGN_OR_RETURN(std::string after,
                   rpc::DecodePageToken(kTimelineTokenPrefix, request.page_token()));
  ASSIGN_OR_RETURN(internal::CustomerFacts facts, LoadFacts(request.customer_id()));
  (void)facts;
  const Partition p = log::PartitionForKey(request.customer_id(), partitions_);
  std::string prefix = PartitionKey(p);
  store::AppendId(prefix, request.customer_id());
  auto it = store_.NewIterator(store_.Family("lc_timeline"), prefix);
  if (after.empty()) {
    it->SeekToFirst();
  } else {
    it->Seek(prefix + after);
    if (it->Valid() && it->key().substr(prefix.size()) == after) it->Next();
  }
  v1::TimelineResponse response;
  std::string last_key;
  for (; it->Valid(); it->Next()) {
    if (response.entries_size() == page_size) {
      response.set_next_page_token(rpc::EncodePageToken(
          kTimelineTokenPrefix, std::string_view(last_key).substr(prefix.size())));
      break;
    }
    last_key = it->key();
    if (!response.add_entries()->ParseFromArray(it->value().data(),
                                                static_cast<int>(it->value().size()))) {
      return absl::DataLossError("corrupt timeline entry");
    }
  }
  RETURN_IF_ERROR(it->status());
  return response;
}

}  // namespace custops::lifecycle
