#include "custops/review/review_service.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "custops/base/status_macros.h"
#include "custops/event/time.h"
#include "custops/projection/token.h"

namespace custops::review {

absl::StatusOr<ScopedRead> ScopedSlice(const rpc::Identity& identity, v1::Dimension dimension,
                                       const std::string& value) {
  ScopedRead read{.dimension = dimension, .value = value, .regions = std::nullopt};
  if (!identity.regions) return read;
  if (dimension == v1::DIMENSION_REGION && !value.empty()) {
    if (identity.SeesRegion(value)) return read;
    return absl::PermissionDeniedError(
        absl::StrCat("dimension_value: region ", value, " is outside this token's regions"));
  }
  if (dimension == v1::DIMENSION_ALL || dimension == v1::DIMENSION_UNSPECIFIED) {
    // The merge of the token's regions (its one region's figures when one).
    read.regions = identity.regions;
    return read;
  }
  return absl::PermissionDeniedError(
      "dimension: a region-scoped token reads the review by DIMENSION_REGION for one of its "
      "regions, or DIMENSION_ALL (the merge of its regions)");
}

ReviewService::ReviewService(const projection::ProjectionRuntime& runtime, const OrgIndex* org,
                             const ReviewQueries& queries, const base::Clock& clock)
    : runtime_(runtime), org_(org), queries_(queries), clock_(clock) {}

void ReviewService::AwaitToken(rpc::Call& call, const std::string& token, rpc::Done then) {
  if (token.empty()) return std::move(then)(absl::OkStatus());
  absl::StatusOr<projection::PositionSet> positions =
      projection::DecodeToken(token, "consistency_token");
  if (!positions.ok()) return std::move(then)(positions.status());
  if (absl::Status s = call.AdmitWait(); !s.ok()) return std::move(then)(s);
  if (positions->topic() == log::kOrgEvents) {
    if (org_ == nullptr) return std::move(then)(absl::OkStatus());
    org_->NotifyApplied(*positions, call.deadline(), std::move(then));
    return;
  }
  runtime_.NotifyApplied(*positions, call.deadline(), std::move(then));
}

void ReviewService::Register(rpc::MethodTable& table) {
  table.Unary<v1::GetReviewRequest, v1::ReviewReport>(
      "custops.v1.Review/GetReview", rpc::Access::kReader,
      [this](rpc::Call& call, const v1::GetReviewRequest& r, v1::ReviewReport* out,
             rpc::Done done) {
        absl::StatusOr<ScopedRead> slice =
            ScopedSlice(call.identity(), r.dimension(), r.dimension_value());
        if (!slice.ok()) return std::move(done)(slice.status());
        v1::GetReviewRequest scoped = r;
        scoped.set_dimension(slice->dimension);
        scoped.set_dimension_value(slice->value);
        rpc::AnswerAfter<v1::ReviewReport>(
            call,
            [this, &call, &r](rpc::Done d) {
              AwaitToken(call, r.consistency_token(), std::move(d));
            },
            [this, scoped = std::move(scoped), regions = std::move(slice->regions)]() {
              return queries_.GetReview(scoped, regions ? &*regions : nullptr);
            },
            out, std::move(done), /*offload=*/true);
      });
  table.Unary<v1::FunnelRequest, v1::FunnelResponse>(
      "custops.v1.Review/Funnel", rpc::Access::kReader,
      [this](rpc::Call& call, const v1::FunnelRequest& r, v1::FunnelResponse* out, rpc::Done done) {
        v1::FunnelRequest scoped = r;
        std::optional<std::vector<std::string>> regions;
        const bool every_region =
            r.dimension() == v1::DIMENSION_REGION && r.dimension_value().empty();
        if (!every_region) {
          absl::StatusOr<ScopedRead> slice =
              ScopedSlice(call.identity(), r.dimension(), r.dimension_value());
          if (!slice.ok()) return std::move(done)(slice.status());
          scoped.set_dimension(slice->dimension);
          scoped.set_dimension_value(slice->value);
          regions = std::move(slice->regions);
        }
        rpc::AnswerAfter<v1::FunnelResponse>(
            call,
            [this, &call, &r](rpc::Done d) {
              AwaitToken(call, r.consistency_token(), std::move(d));
            },
            [this, &call, scoped = std::move(scoped), regions = std::move(regions),
             every_region]() -> absl::StatusOr<v1::FunnelResponse> {
              ASSIGN_OR_RETURN(v1::FunnelResponse response,
                               queries_.Funnel(scoped, regions ? &*regions : nullptr));
              if (every_region && call.identity().regions) {
                // Only the scope's regions' rows.
                auto* slices = response.mutable_slices();
                for (int i = slices->size() - 1; i >= 0; --i) {
                  if (!call.identity().SeesRegion(slices->Get(i).dimension_value())) {
                    slices->DeleteSubrange(i, 1);
                  }
                }
              }
              return response;
            },
            out, std::move(done), /*offload=*/true);
      });
  table.Unary<v1::WorklistRequest, v1::WorklistResponse>(
      "custops.v1.Review/Worklist", rpc::Access::kReader,
      [this](rpc::Call& call, const v1::WorklistRequest& r, v1::WorklistResponse* out,
             rpc::Done done) {
        absl::StatusOr<absl::Time> as_of =
            event::TimeOf(r.has_as_of(), r.as_of(), "as_of", clock_.Now());
        if (!as_of.ok()) return std::move(done)(as_of.status());
        if (call.identity().regions) {
          if (r.region().empty()) {
            return std::move(done)(absl::PermissionDeniedError(
                "region: a region-scoped token reads worklists by region"));
          }
          if (!call.identity().SeesRegion(r.region())) {
            return std::move(done)(absl::PermissionDeniedError(
                absl::StrCat("region: ", r.region(), " is outside this token's regions")));
          }
        }
        rpc::AnswerAfter<v1::WorklistResponse>(
            call,
            [this, &call, &r](rpc::Done d) {
              AwaitToken(call, r.consistency_token(), std::move(d));
            },
            [this, &r, as_of = *as_of]() { return queries_.Worklist(r, as_of); }, out,
            std::move(done), /*offload=*/true);
      });
  table.Unary<v1::CompareReviewRequest, v1::CompareReviewResponse>(
      "custops.v1.Review/CompareReview", rpc::Access::kReader,
      [this](rpc::Call& call, const v1::CompareReviewRequest& r, v1::CompareReviewResponse* out,
             rpc::Done done) {
        // A region-scoped token compares its regions only (GetReview's rule:
        // no other dimension); a dimension nobody compares is the query's
        // INVALID_ARGUMENT.
        std::optional<std::vector<std::string>> regions = call.identity().regions;
        if (regions && r.dimension() != v1::DIMENSION_REGION &&
            IsComparedDimension(r.dimension())) {
          return std::move(done)(absl::PermissionDeniedError(
              "dimension: a region-scoped token compares by DIMENSION_REGION (its regions' "
              "rows)"));
        }
        rpc::AnswerAfter<v1::CompareReviewResponse>(
            call,
            [this, &call, &r](rpc::Done d) {
              AwaitToken(call, r.consistency_token(), std::move(d));
            },
            [this, &r, regions = std::move(regions)]() {
              return queries_.CompareReview(r, regions ? &*regions : nullptr);
            },
            out, std::move(done), /*offload=*/true);
      });
  table.Unary<v1::CustomerActivityRequest, v1::CustomerActivityResponse>(
      "custops.v1.Review/CustomerActivity", rpc::Access::kReader,
      [this](rpc::Call& call, const v1::CustomerActivityRequest& r,
             v1::CustomerActivityResponse* out, rpc::Done done) {
        if (r.customer_id().empty() || r.customer_id().size() > 128) {
          return std::move(done)(absl::InvalidArgumentError("customer_id: required, 1-128 bytes"));
        }
        absl::StatusOr<absl::Time> as_of =
            event::TimeOf(r.has_as_of(), r.as_of(), "as_of", clock_.Now());
        if (!as_of.ok()) return std::move(done)(as_of.status());
        rpc::AnswerAfter<v1::CustomerActivityResponse>(
            call,
            [this, &call, &r](rpc::Done d) {
              AwaitToken(call, r.consistency_token(), std::move(d));
            },
            [this, &call, &r, as_of = *as_of]() {
              // Outside the token's regions: NOT_FOUND, as an unknown customer.
              const auto& regions = call.identity().regions;
              return queries_.CustomerActivity(r.customer_id(), as_of,
                                               regions ? &*regions : nullptr);
            },
            out, std::move(done), /*offload=*/true);
      });
}

}  // namespace custops::review
