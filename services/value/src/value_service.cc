#include "custops/value/value_service.h"

#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "custops/base/status_macros.h"
#include "custops/event/time.h"
#include "custops/projection/token.h"

namespace custops::value {
namespace {

absl::StatusOr<std::optional<absl::Time>> AsOf(const google::protobuf::Timestamp& ts, bool has) {
  if (!has) return std::nullopt;
  RETURN_IF_ERROR(event::CheckTimestamp(ts, "as_of"));
  return event::FromProto(ts);
}

absl::Status CheckDimension(v1::Dimension d) {
  if (!v1::Dimension_IsValid(d)) return absl::InvalidArgumentError("dimension: unknown value");
  switch (d) {
    case v1::DIMENSION_UNSPECIFIED:
    case v1::DIMENSION_ALL:
    case v1::DIMENSION_REGION:
    case v1::DIMENSION_INDUSTRY:
    case v1::DIMENSION_OWNER:
      return absl::OkStatus();
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("dimension: ", v1::Dimension_Name(d),
                       " is not a value dimension (ALL, REGION, INDUSTRY, OWNER)"));
  }
}

const std::vector<std::string>* Scope(const rpc::Call& call) {
  const auto& regions = call.identity().regions;
  return regions ? &*regions : nullptr;
}

absl::Status CheckFilter(const v1::ValueFilter& f) {
  if (!v1::Tier_IsValid(f.tier())) return absl::InvalidArgumentError("filter.tier: unknown value");
  const std::string& abc = f.abc_class();
  if (!abc.empty() && abc != "A" && abc != "B" && abc != "C") {
    return absl::InvalidArgumentError("filter.abc_class: must be \"A\", \"B\" or \"C\"");
  }
  if (!f.segment().empty()) {
    bool known = false;
    for (int s = 0; s <= static_cast<int>(domain::RfmSegment::kLost); ++s) {
      known |= domain::RfmSegmentName(static_cast<domain::RfmSegment>(s)) == f.segment();
    }
    if (!known) return absl::InvalidArgumentError("filter.segment: unknown segment");
  }
  return absl::OkStatus();
}

}  // namespace

ValueService::ValueService(const projection::ProjectionRuntime& runtime, ValueQueries& queries,
                           const base::Clock& clock)
    : runtime_(runtime), queries_(queries), clock_(clock) {}

template <typename Resp, typename Answer>
void ValueService::AfterToken(rpc::Call& call, const std::string& token, Resp* out, rpc::Done done,
                              Answer answer) {
  auto min = std::make_shared<std::vector<int64_t>>();
  rpc::AnswerAfter<Resp>(
      call,
      [this, &call, token, min](rpc::Done then) {
        if (token.empty()) return std::move(then)(absl::OkStatus());
        absl::StatusOr<projection::PositionSet> positions =
            projection::DecodeToken(token, "consistency_token");
        if (!positions.ok()) return std::move(then)(positions.status());
        if (absl::Status s = call.AdmitWait(); !s.ok()) return std::move(then)(s);
        min->assign(positions->next_offsets().begin(), positions->next_offsets().end());
        runtime_.NotifyApplied(*positions, call.deadline(), std::move(then));
      },
      [answer = std::move(answer), min]() mutable { return answer(*min); }, out, std::move(done),
      /*offload=*/true);
}

void ValueService::Register(rpc::MethodTable& table) {
  table.Unary<v1::GetValueRequest, v1::ValueView>(
      "custops.v1.Value/GetValue", rpc::Access::kReader,
      [this](rpc::Call& call, const v1::GetValueRequest& r, v1::ValueView* out, rpc::Done done) {
        const std::string& id = r.customer_id();
        if (id.empty() || id.size() > 128) {
          return std::move(done)(absl::InvalidArgumentError("customer_id: required, 1-128 bytes"));
        }
        absl::StatusOr<std::optional<absl::Time>> as_of = AsOf(r.as_of(), r.has_as_of());
        if (!as_of.ok()) return std::move(done)(as_of.status());
        AfterToken(call, r.consistency_token(), out, std::move(done),
                   [this, &call, &r, as_of = *as_of](const std::vector<int64_t>& min) {
                     return queries_.GetValue(r.customer_id(), as_of, min, call.deadline(),
                                              Scope(call));
                   });
      });
  table.Unary<v1::ListValueCustomersRequest, v1::ListValueCustomersResponse>(
      "custops.v1.Value/ListCustomers", rpc::Access::kReader,
      [this](rpc::Call& call, const v1::ListValueCustomersRequest& r,
             v1::ListValueCustomersResponse* out, rpc::Done done) {
        absl::StatusOr<std::optional<absl::Time>> as_of = AsOf(r.as_of(), r.has_as_of());
        if (!as_of.ok()) return std::move(done)(as_of.status());
        if (absl::Status s = CheckFilter(r.filter()); !s.ok()) return std::move(done)(s);
        AfterToken(call, r.consistency_token(), out, std::move(done),
                   [this, &call, &r, as_of = *as_of](const std::vector<int64_t>& min) {
                     return queries_.ListCustomers(r, as_of, min, call.deadline(), Scope(call));
                   });
      });
  table.Unary<v1::TierSummaryRequest, v1::TierSummaryResponse>(
      "custops.v1.Value/TierSummary", rpc::Access::kReader,
      [this](rpc::Call& call, const v1::TierSummaryRequest& r, v1::TierSummaryResponse* out,
             rpc::Done done) {
        absl::StatusOr<std::optional<absl::Time>> as_of = AsOf(r.as_of(), r.has_as_of());
        if (!as_of.ok()) return std::move(done)(as_of.status());
        if (absl::Status s = CheckDimension(r.dimension()); !s.ok()) return std::move(done)(s);
        AfterToken(call, r.consistency_token(), out, std::move(done),
                   [this, &call, &r, as_of = *as_of](const std::vector<int64_t>& min) {
                     return queries_.TierSummary(r.dimension(), as_of, min, call.deadline(),
                                                 Scope(call));
                   });
      });
  table.Unary<v1::ParetoRequest, v1::ParetoResponse>(
      "custops.v1.Value/Pareto", rpc::Access::kReader,
      [this](rpc::Call& call, const v1::ParetoRequest& r, v1::ParetoResponse* out, rpc::Done done) {
        absl::StatusOr<std::optional<absl::Time>> as_of = AsOf(r.as_of(), r.has_as_of());
        if (!as_of.ok()) return std::move(done)(as_of.status());
        if (absl::Status s = CheckDimension(r.dimension()); !s.ok()) return std::move(done)(s);
        AfterToken(call, r.consistency_token(), out, std::move(done),
                   [this, &call, &r, as_of = *as_of](const std::vector<int64_t>& min) {
                     return queries_.Pareto(r.dimension(), as_of, min, call.deadline(),
                                            Scope(call));
                   });
      });
  table.Unary<v1::RefitClvRequest, v1::ClvModel>(
      "custops.v1.Value/RefitClv", rpc::Access::kAdmin,
      [this](rpc::Call& call, const v1::RefitClvRequest& r, v1::ClvModel* out, rpc::Done done) {
        absl::StatusOr<std::optional<absl::Time>> as_of = AsOf(r.as_of(), r.has_as_of());
        if (!as_of.ok()) return std::move(done)(as_of.status());
        AfterToken(
            call, r.consistency_token(), out, std::move(done),
            [this, as_of = *as_of](const std::vector<int64_t>&) -> absl::StatusOr<v1::ClvModel> {
              ASSIGN_OR_RETURN(internal::ValueClvModel model,
                               queries_.Refit(as_of.value_or(clock_.Now())));
              return ClvModelToProto(model);
            });
      });
  table.Unary<v1::RefitClvRequest, v1::ClvModel>(
      "custops.v1.Value/GetClvModel", rpc::Access::kReader,
      [this](rpc::Call& call, const v1::RefitClvRequest& r, v1::ClvModel* out, rpc::Done done) {
        AfterToken(call, r.consistency_token(), out, std::move(done),
                   [this](const std::vector<int64_t>&) -> absl::StatusOr<v1::ClvModel> {
                     std::optional<internal::ValueClvModel> model = queries_.Model();
                     if (!model) return absl::FailedPreconditionError("no CLV model fitted yet");
                     return ClvModelToProto(*model);
                   });
      });
}

}  // namespace custops::value
