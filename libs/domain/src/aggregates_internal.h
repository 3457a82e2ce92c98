// Shared by the command side's three files (private to libs/domain): the
// command-field checks, the event skeleton and the map lookups used by Evolve
// (aggregates.cc) and by Decide (aggregates_customer_commands.cc,
// aggregates_sales_commands.cc), and the two status macros they all use.
#ifndef CUSTOPS_DOMAIN_SRC_AGGREGATES_INTERNAL_H_
#define CUSTOPS_DOMAIN_SRC_AGGREGATES_INTERNAL_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "custops/domain/aggregates.h"
#include "google/protobuf/timestamp.pb.h"

namespace custops::domain::aggregates_internal {

inline constexpr size_t kMaxIdBytes = 128;

inline void ToProto(absl::Time t, google::protobuf::Timestamp* ts) {
  const int64_t s = absl::ToUnixSeconds(t);
  ts->set_seconds(s);
  ts->set_nanos(static_cast<int32_t>((t - absl::FromUnixSeconds(s)) / absl::Nanoseconds(1)));
}

inline absl::Status ValidateId(const char* field, const std::string& id, bool required) {
  if (id.empty()) {
    if (!required) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat(field, " is required"));
  }
  if (id.size() > kMaxIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " must be at most ", kMaxIdBytes, " bytes, got ", id.size()));
  }
  return absl::OkStatus();
}

enum class MoneyRule { kOptional, kRequired, kPositive };

inline absl::Status ValidateMoney(const char* field, const v1::Money& m, const CommandRules& rules,
                                  MoneyRule rule) {
  if (rule == MoneyRule::kOptional && m.units() == 0 && m.currency().empty()) {
    return absl::OkStatus();
  }
  if (m.currency() != rules.currency) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".currency must be ", rules.currency, ", got '", m.currency(), "'"));
  }
  if (rule == MoneyRule::kPositive ? m.units() <= 0 : m.units() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".units must be ",
                                                   rule == MoneyRule::kPositive ? "> 0" : ">= 0",
                                                   ", got ", m.units()));
  }
  return absl::OkStatus();
}

inline absl::Status RequireRegistered(const CustomerAggregate& agg) {
  if (!agg.registered) {
    return absl::FailedPreconditionError(
        absl::StrCat("customer '", agg.customer_id, "' is not registered"));
  }
  return absl::OkStatus();
}

inline v1::Event NewEvent(const CustomerAggregate& agg, absl::Time now) {
  v1::Event e;
  e.set_customer_id(agg.customer_id);
  ToProto(now, e.mutable_occurred_at());
  return e;
}

template <typename Map>
absl::StatusOr<const typename Map::mapped_type*> Find(const Map& map, const char* kind,
                                                      const std::string& id) {
  auto it = map.find(id);
  if (it == map.end()) {
    return absl::NotFoundError(absl::StrCat(kind, " ", id, " not found"));
  }
  return &it->second;
}

template <typename Map>
absl::Status RequireNew(const Map& map, const char* kind, const std::string& id) {
  if (map.count(id) != 0) {
    return absl::AlreadyExistsError(absl::StrCat(kind, " ", id, " already exists"));
  }
  return absl::OkStatus();
}

}  // namespace custops::domain::aggregates_internal

#define CUSTOPS_AGG_RETURN_IF_ERROR(expr) \
  do {                                    \
    absl::Status status_ = (expr);        \
    if (!status_.ok()) return status_;    \
  } while (false)

#define CUSTOPS_AGG_ASSIGN_OR_RETURN(lhs, expr) \
  auto lhs##_or = (expr);                       \
  if (!lhs##_or.ok()) return lhs##_or.status(); \
  auto lhs = *lhs##_or

#endif  // CUSTOPS_DOMAIN_SRC_AGGREGATES_INTERNAL_H_
