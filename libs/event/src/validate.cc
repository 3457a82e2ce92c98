#include "custops/event/validate.h"

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "custops/base/status_macros.h"
#include "custops/event/upcast.h"
#include "custops/v1/events.pb.h"
#include "custops/v1/ingest.pb.h"
#include "field_checks.h"
#include "google/protobuf/descriptor.h"

// The rules are written down, field by field, in docs/validation.md; keep
// the two in step.

namespace custops::event {
namespace {

using internal::CheckDate;
using internal::CheckEnum;
using internal::CheckId;
using internal::CheckLabel;
using internal::CheckMoney;
using internal::CheckPeriod;
using internal::CheckText;
using internal::CheckTimestamp;
using internal::CompareTimestamps;
using internal::FieldPath;
using internal::Invalid;
using internal::Presence;
using internal::Required;
using internal::Shown;
using internal::Sign;

constexpr Presence kRequired = Presence::kRequired;
constexpr Presence kOptional = Presence::kOptional;

// "payload: required (one of a, b, ...)", listing the oneof's members from
// the descriptor. An unset payload on a message that carries unknown fields
// is most likely a payload type newer than this build: say so.
absl::Status PayloadRequired(const google::protobuf::Message& event, const FieldPath& path) {
  const google::protobuf::OneofDescriptor* oneof =
      event.GetDescriptor()->FindOneofByName("payload");
  std::string what = "required (one of ";
  for (int i = 0; i < oneof->field_count(); ++i) {
    absl::StrAppend(&what, i == 0 ? "" : ", ", oneof->field(i)->name());
  }
  what += ")";
  if (!event.GetReflection()->GetUnknownFields(event).empty()) {
    what += "; the event carries fields unknown to this server (a newer payload type?)";
  }
  return Invalid(path.Child("payload"), what);
}

// ---- customer event payloads ------------------------------------------

// A region (片区) since schema version 2: a label without '/', which
// version 1 used to append the city (the upcaster splits it off first).
absl::Status CheckRegion(std::string_view region, const FieldPath& path,
                         const ValidationOptions& options) {
  RETURN_IF_ERROR(CheckLabel(region, path, options));
  if (region.find('/') != std::string_view::npos) {
    return Invalid(path, "may not contain '/': the city has its own field (city)");
  }
  return absl::OkStatus();
}

absl::Status CheckCustomerRegistered(const v1::CustomerRegistered& m, const FieldPath& path,
                                     const ValidationOptions& options) {
  RETURN_IF_ERROR(CheckLabel(m.name(), path.Child("name"), options, kRequired));
  RETURN_IF_ERROR(CheckEnum(m.kind(), &v1::CustomerKind_IsValid, path.Child("kind"), kRequired));
  RETURN_IF_ERROR(CheckLabel(m.industry(), path.Child("industry"), options));
  RETURN_IF_ERROR(CheckRegion(m.region(), path.Child("region"), options));
  RETURN_IF_ERROR(CheckLabel(m.city(), path.Child("city"), options));
  RETURN_IF_ERROR(CheckId(m.owner_id(), path.Child("owner_id"), options, kOptional));
  RETURN_IF_ERROR(CheckLabel(m.channel(), path.Child("channel"), options));
  RETURN_IF_ERROR(CheckLabel(m.size(), path.Child("size"), options));
  RETURN_IF_ERROR(CheckMoney(m.has_budget(), m.budget(), path.Child("budget"), options, kOptional));
  return CheckEnum(m.need(), &v1::Need_IsValid, path.Child("need"), kOptional);
}

absl::Status CheckCustomerProfileUpdated(const v1::CustomerProfileUpdated& m, const FieldPath& path,
                                         const ValidationOptions& options) {
  // A set name replaces the name: it may not blank it out.
  if (m.has_name()) RETURN_IF_ERROR(CheckLabel(m.name(), path.Child("name"), options, kRequired));
  RETURN_IF_ERROR(CheckLabel(m.industry(), path.Child("industry"), options));
  RETURN_IF_ERROR(CheckRegion(m.region(), path.Child("region"), options));
  RETURN_IF_ERROR(CheckLabel(m.city(), path.Child("city"), options));
  // A set owner_id hands the customer over: it must name an owner.
  if (m.has_owner_id()) {
    RETURN_IF_ERROR(CheckId(m.owner_id(), path.Child("owner_id"), options, kRequired));
  }
  RETURN_IF_ERROR(CheckLabel(m.channel(), path.Child("channel"), options));
  RETURN_IF_ERROR(CheckLabel(m.size(), path.Child("size"), options));
  RETURN_IF_ERROR(CheckMoney(m.has_budget(), m.budget(), path.Child("budget"), options, kOptional));
  RETURN_IF_ERROR(CheckEnum(m.need(), &v1::Need_IsValid, path.Child("need"), kOptional));
  RETURN_IF_ERROR(CheckEnum(m.kind(), &v1::CustomerKind_IsValid, path.Child("kind"), kOptional));
  const bool changes_something =
      m.has_name() || m.has_industry() || m.has_region() || m.has_city() || m.has_owner_id() ||
      m.has_channel() || m.has_size() || m.has_budget() || m.need() != v1::NEED_UNSPECIFIED ||
      m.kind() != v1::CUSTOMER_KIND_UNSPECIFIED;
  if (!changes_something) return Invalid(path, "must change at least one field");
  return absl::OkStatus();
}

absl::Status CheckContactAdded(const v1::ContactAdded& m, const FieldPath& path,
                               const ValidationOptions& options) {
  RETURN_IF_ERROR(CheckId(m.contact_id(), path.Child("contact_id"), options));
  RETURN_IF_ERROR(CheckLabel(m.name(), path.Child("name"), options, kRequired));
  // A contact's role may be unknown when first recorded.
  RETURN_IF_ERROR(CheckEnum(m.role(), &v1::ContactRole_IsValid, path.Child("role"), kOptional));
  return CheckDate(m.has_birthday(), m.birthday(), path.Child("birthday"), kOptional);
}

absl::Status CheckVisitLogged(const v1::VisitLogged& m, const FieldPath& path,
                              const ValidationOptions& options) {
  RETURN_IF_ERROR(CheckId(m.visit_id(), path.Child("visit_id"), options));
  RETURN_IF_ERROR(
      CheckEnum(m.channel(), &v1::VisitChannel_IsValid, path.Child("channel"), kRequired));
  RETURN_IF_ERROR(CheckId(m.contact_id(), path.Child("contact_id"), options, kOptional));
  RETURN_IF_ERROR(
      CheckEnum(m.outcome(), &v1::VisitOutcome_IsValid, path.Child("outcome"), kRequired));
  return CheckText(m.note(), path.Child("note"), options);
}

absl::Status CheckOpportunityOpened(const v1::OpportunityOpened& m, const FieldPath& path,
                                    const ValidationOptions& options) {
  RETURN_IF_ERROR(CheckId(m.opportunity_id(), path.Child("opportunity_id"), options));
  RETURN_IF_ERROR(CheckMoney(m.has_amount(), m.amount(), path.Child("amount"), options, kRequired));
  RETURN_IF_ERROR(CheckLabel(m.product(), path.Child("product"), options));
  return CheckTimestamp(m.has_expected_close(), m.expected_close(), path.Child("expected_close"),
                        kOptional);
}

absl::Status CheckOpportunityStageChanged(const v1::OpportunityStageChanged& m,
                                          const FieldPath& path, const ValidationOptions& options) {
  RETURN_IF_ERROR(CheckId(m.opportunity_id(), path.Child("opportunity_id"), options));
  RETURN_IF_ERROR(CheckEnum(m.stage(), &v1::FunnelStage_IsValid, path.Child("stage"), kRequired));
  RETURN_IF_ERROR(CheckLabel(m.competitor(), path.Child("competitor"), options));
  return CheckText(m.reason(), path.Child("reason"), options);
}

absl::Status CheckQuoteIssued(const v1::QuoteIssued& m, const FieldPath& path,
                              const ValidationOptions& options) {
  RETURN_IF_ERROR(CheckId(m.quote_id(), path.Child("quote_id"), options));
  RETURN_IF_ERROR(CheckId(m.opportunity_id(), path.Child("opportunity_id"), options, kOptional));
  RETURN_IF_ERROR(CheckMoney(m.has_amount(), m.amount(), path.Child("amount"), options, kRequired));
  RETURN_IF_ERROR(CheckMoney(m.has_list_amount(), m.list_amount(), path.Child("list_amount"),
                             options, kOptional));
  // The discount (1 - amount / list_amount) is never negative.
  if (m.has_list_amount() && m.list_amount().units() < m.amount().units()) {
    return Invalid(path.Child("list_amount"),
                   absl::StrCat("must be >= amount (", m.amount().units(), "), got ",
                                m.list_amount().units()));
  }
  RETURN_IF_ERROR(CheckMoney(m.has_cost(), m.cost(), path.Child("cost"), options, kOptional));
  return CheckTimestamp(m.has_valid_until(), m.valid_until(), path.Child("valid_until"), kOptional);
}

absl::Status CheckQuoteAccepted(const v1::QuoteAccepted& m, const FieldPath& path,
                                const ValidationOptions& options) {
  return CheckId(m.quote_id(), path.Child("quote_id"), options);
}

absl::Status CheckQuoteRejected(const v1::QuoteRejected& m, const FieldPath& path,
                                const ValidationOptions& options) {
  RETURN_IF_ERROR(CheckId(m.quote_id(), path.Child("quote_id"), options));
  RETURN_IF_ERROR(CheckText(m.reason(), path.Child("reason"), options));
  return CheckLabel(m.competitor(), path.Child("competitor"), options);
}

absl::Status CheckContractSigned(const v1::ContractSigned& m, const FieldPath& path,
                                 const ValidationOptions& options) {
  RETURN_IF_ERROR(CheckId(m.contract_id(), path.Child("contract_id"), options));
  RETURN_IF_ERROR(CheckId(m.quote_id(), path.Child("quote_id"), options, kOptional));
  RETURN_IF_ERROR(CheckMoney(m.has_amount(), m.amount(), path.Child("amount"), options, kRequired));
  RETURN_IF_ERROR(CheckMoney(m.has_cost(), m.cost(), path.Child("cost"), options, kOptional));
  RETURN_IF_ERROR(CheckTimestamp(m.has_start(), m.start(), path.Child("start"), kRequired));
  RETURN_IF_ERROR(CheckTimestamp(m.has_end(), m.end(), path.Child("end"), kRequired));
  if (CompareTimestamps(m.end(), m.start()) <= 0) {
    return Invalid(path.Child("end"), "must be after start");
  }
  RETURN_IF_ERROR(
      CheckTimestamp(m.has_payment_due(), m.payment_due(), path.Child("payment_due"), kOptional));
  if (m.has_payment_due() && CompareTimestamps(m.payment_due(), m.start()) < 0) {
    return Invalid(path.Child("payment_due"), "must not be before start");
  }
  RETURN_IF_ERROR(CheckLabel(m.product(), path.Child("product"), options));
  RETURN_IF_ERROR(CheckLabel(m.channel(), path.Child("channel"), options));
  return CheckId(m.opportunity_id(), path.Child("opportunity_id"), options, kOptional);
}

absl::Status CheckContractRenewed(const v1::ContractRenewed& m, const FieldPath& path,
                                  const ValidationOptions& options) {
  RETURN_IF_ERROR(CheckId(m.contract_id(), path.Child("contract_id"), options));
  RETURN_IF_ERROR(CheckTimestamp(m.has_new_end(), m.new_end(), path.Child("new_end"), kRequired));
  // A renewal is a purchase: its amount counts as revenue.
  RETURN_IF_ERROR(CheckMoney(m.has_amount(), m.amount(), path.Child("amount"), options, kRequired));
  return CheckMoney(m.has_cost(), m.cost(), path.Child("cost"), options, kOptional);
}

absl::Status CheckContractTerminated(const v1::ContractTerminated& m, const FieldPath& path,
                                     const ValidationOptions& options) {
  RETURN_IF_ERROR(CheckId(m.contract_id(), path.Child("contract_id"), options));
  return CheckText(m.reason(), path.Child("reason"), options);
}

absl::Status CheckPaymentReceived(const v1::PaymentReceived& m, const FieldPath& path,
                                  const ValidationOptions& options) {
  RETURN_IF_ERROR(CheckId(m.payment_id(), path.Child("payment_id"), options));
  RETURN_IF_ERROR(CheckId(m.contract_id(), path.Child("contract_id"), options));
  // A payment of nothing is not a payment.
  return CheckMoney(m.has_amount(), m.amount(), path.Child("amount"), options, kRequired,
                    Sign::kPositive);
}

absl::Status CheckComplaintFiled(const v1::ComplaintFiled& m, const FieldPath& path,
                                 const ValidationOptions& options) {
  RETURN_IF_ERROR(CheckId(m.complaint_id(), path.Child("complaint_id"), options));
  RETURN_IF_ERROR(
      CheckEnum(m.category(), &v1::ComplaintCategory_IsValid, path.Child("category"), kRequired));
  RETURN_IF_ERROR(
      CheckEnum(m.severity(), &v1::Severity_IsValid, path.Child("severity"), kRequired));
  RETURN_IF_ERROR(CheckLabel(m.channel(), path.Child("channel"), options));
  return CheckText(m.description(), path.Child("description"), options);
}

absl::Status CheckComplaintResponded(const v1::ComplaintResponded& m, const FieldPath& path,
                                     const ValidationOptions& options) {
  RETURN_IF_ERROR(CheckId(m.complaint_id(), path.Child("complaint_id"), options));
  return CheckText(m.note(), path.Child("note"), options);
}

absl::Status CheckComplaintResolved(const v1::ComplaintResolved& m, const FieldPath& path,
                                    const ValidationOptions& options) {
  RETURN_IF_ERROR(CheckId(m.complaint_id(), path.Child("complaint_id"), options));
  return CheckText(m.resolution(), path.Child("resolution"), options);
}

absl::Status CheckComplaintReopened(const v1::ComplaintReopened& m, const FieldPath& path,
                                    const ValidationOptions& options) {
  RETURN_IF_ERROR(CheckId(m.complaint_id(), path.Child("complaint_id"), options));
  return CheckText(m.reason(), path.Child("reason"), options);
}

absl::Status CheckSatisfactionSurveyed(const v1::SatisfactionSurveyed& m, const FieldPath& path,
                                       const ValidationOptions& options) {
  RETURN_IF_ERROR(CheckId(m.survey_id(), path.Child("survey_id"), options));
  if (m.csat() < 1 || m.csat() > 5) {
    return Invalid(path.Child("csat"), absl::StrCat("must be 1..5, got ", m.csat()));
  }
  if (m.has_nps() && (m.nps() < 0 || m.nps() > 10)) {
    return Invalid(path.Child("nps"), absl::StrCat("must be 0..10, got ", m.nps()));
  }
  return absl::OkStatus();
}

absl::Status CheckReferralMade(const v1::ReferralMade& m, const v1::Event& event,
                               const FieldPath& path, const ValidationOptions& options) {
  const FieldPath referred = path.Child("referred_customer_id");
  RETURN_IF_ERROR(CheckId(m.referred_customer_id(), referred, options));
  if (m.referred_customer_id() == event.customer_id()) {
    return Invalid(referred, "must differ from customer_id");
  }
  return absl::OkStatus();
}

absl::Status CheckCustomerChurned(const v1::CustomerChurned& m, const FieldPath& path,
                                  const ValidationOptions& options) {
  return CheckText(m.reason(), path.Child("reason"), options);
}

// Dispatches on the payload. Every case is listed and there is no default:
// a payload added to events.proto fails the build (-Wswitch) until it has
// its rules here.
absl::Status CheckEventPayload(const v1::Event& e, const FieldPath& path,
                               const ValidationOptions& o) {
  using E = v1::Event;
  switch (e.payload_case()) {
    case E::kCustomerRegistered:
      return CheckCustomerRegistered(e.customer_registered(), path.Child("customer_registered"), o);
    case E::kCustomerProfileUpdated:
      return CheckCustomerProfileUpdated(e.customer_profile_updated(),
                                         path.Child("customer_profile_updated"), o);
    case E::kContactAdded:
      return CheckContactAdded(e.contact_added(), path.Child("contact_added"), o);
    case E::kVisitLogged:
      return CheckVisitLogged(e.visit_logged(), path.Child("visit_logged"), o);
    case E::kOpportunityOpened:
      return CheckOpportunityOpened(e.opportunity_opened(), path.Child("opportunity_opened"), o);
    case E::kOpportunityStageChanged:
      return CheckOpportunityStageChanged(e.opportunity_stage_changed(),
                                          path.Child("opportunity_stage_changed"), o);
    case E::kQuoteIssued:
      return CheckQuoteIssued(e.quote_issued(), path.Child("quote_issued"), o);
    case E::kQuoteAccepted:
      return CheckQuoteAccepted(e.quote_accepted(), path.Child("quote_accepted"), o);
    case E::kQuoteRejected:
      return CheckQuoteRejected(e.quote_rejected(), path.Child("quote_rejected"), o);
    case E::kContractSigned:
      return CheckContractSigned(e.contract_signed(), path.Child("contract_signed"), o);
    case E::kContractRenewed:
      return CheckContractRenewed(e.contract_renewed(), path.Child("contract_renewed"), o);
    case E::kContractTerminated:
      return CheckContractTerminated(e.contract_terminated(), path.Child("contract_terminated"), o);
    case E::kPaymentReceived:
      return CheckPaymentReceived(e.payment_received(), path.Child("payment_received"), o);
    case E::kComplaintFiled:
      return CheckComplaintFiled(e.complaint_filed(), path.Child("complaint_filed"), o);
    case E::kComplaintResponded:
      return CheckComplaintResponded(e.complaint_responded(), path.Child("complaint_responded"), o);
    case E::kComplaintResolved:
      return CheckComplaintResolved(e.complaint_resolved(), path.Child("complaint_resolved"), o);
    case E::kComplaintReopened:
      return CheckComplaintReopened(e.complaint_reopened(), path.Child("complaint_reopened"), o);
    case E::kSatisfactionSurveyed:
      return CheckSatisfactionSurveyed(e.satisfaction_surveyed(),
                                       path.Child("satisfaction_surveyed"), o);
    case E::kReferralMade:
      return CheckReferralMade(e.referral_made(), e, path.Child("referral_made"), o);
    case E::kCustomerChurned:
      return CheckCustomerChurned(e.customer_churned(), path.Child("customer_churned"), o);
    case E::PAYLOAD_NOT_SET:
      break;
  }
  return PayloadRequired(e, path);
}

// ---- organisation event payloads --------------------------------------

// A dimension slice: with a dimension other than ALL, the value names the
// slice ("East"); for ALL (or an unset dimension where that is allowed) the
// value must be empty.
absl::Status CheckDimensionSlice(v1::Dimension dimension, std::string_view value,
                                 const FieldPath& path, const ValidationOptions& options,
                                 Presence presence) {
  RETURN_IF_ERROR(CheckEnum(dimension, &v1::Dimension_IsValid, path.Child("dimension"), presence));
  const FieldPath value_path = path.Child("dimension_value");
  if (dimension == v1::DIMENSION_UNSPECIFIED || dimension == v1::DIMENSION_ALL) {
    if (!value.empty()) {
      return Invalid(value_path,
                     absl::StrCat("must be empty when dimension is ", v1::Dimension_Name(dimension),
                                  ", got ", Shown(value)));
    }
    return absl::OkStatus();
  }
  return CheckLabel(value, value_path, options, kRequired);
}

// A review metric name such as "revenue" or "win_rate".
absl::Status CheckMetricName(std::string_view name, const FieldPath& path,
                             const ValidationOptions& options) {
  if (name.empty()) return Required(path);
  bool ok = name.size() <= options.max_id_bytes && absl::ascii_islower(name.front());
  for (char c : name) {
    ok = ok && (absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_');
  }
  if (!ok) {
    return Invalid(
        path, absl::StrCat("must be a snake_case metric name of at most ", options.max_id_bytes,
                           " bytes (e.g. revenue), got ", Shown(name)));
  }
  return absl::OkStatus();
}

// A non-negative plain decimal: digits with an optional fraction ("0.85").
bool IsPlainDecimal(std::string_view s) {
  const size_t dot = s.find('.');
  const std::string_view whole = s.substr(0, dot);
  const std::string_view fraction = dot == std::string_view::npos ? "" : s.substr(dot + 1);
  auto all_digits = [](std::string_view part) {
    if (part.empty()) return false;
    for (char c : part) {
      if (!absl::ascii_isdigit(c)) return false;
    }
    return true;
  };
  return all_digits(whole) && (dot == std::string_view::npos || all_digits(fraction));
}

absl::Status CheckQuantity(bool has, const v1::Quantity& q, const FieldPath& path,
                           const ValidationOptions& options) {
  if (!has || q.kind_case() == v1::Quantity::KIND_NOT_SET) {
    return Invalid(path, "required (one of money, count, decimal)");
  }
  switch (q.kind_case()) {
    case v1::Quantity::kMoney:
      return CheckMoney(true, q.money(), path.Child("money"), options, kRequired);
    case v1::Quantity::kCount:
      if (q.count() < 0) {
        return Invalid(path.Child("count"), absl::StrCat("must be >= 0, got ", q.count()));
      }
      return absl::OkStatus();
    case v1::Quantity::kDecimal:
      if (q.decimal().size() > options.max_id_bytes || !IsPlainDecimal(q.decimal())) {
        return Invalid(
            path.Child("decimal"),
            absl::StrCat("must be a non-negative decimal such as 0.85, got ", Shown(q.decimal())));
      }
      return absl::OkStatus();
    case v1::Quantity::KIND_NOT_SET:
      break;
  }
  return Invalid(path, "required (one of money, count, decimal)");
}

absl::Status CheckTargetSet(const v1::TargetSet& m, const FieldPath& path,
                            const ValidationOptions& options) {
  RETURN_IF_ERROR(CheckPeriod(m.has_period(), m.period(), path.Child("period"), kRequired));
  RETURN_IF_ERROR(
      CheckDimensionSlice(m.dimension(), m.dimension_value(), path, options, kRequired));
  RETURN_IF_ERROR(CheckMetricName(m.metric(), path.Child("metric"), options));
  return CheckQuantity(m.has_value(), m.value(), path.Child("value"), options);
}

absl::Status CheckMarketingSpendRecorded(const v1::MarketingSpendRecorded& m, const FieldPath& path,
                                         const ValidationOptions& options) {
  RETURN_IF_ERROR(CheckDate(m.has_date(), m.date(), path.Child("date"), kRequired));
  RETURN_IF_ERROR(
      CheckDimensionSlice(m.dimension(), m.dimension_value(), path, options, kOptional));
  RETURN_IF_ERROR(CheckLabel(m.channel(), path.Child("channel"), options));
  return CheckMoney(m.has_amount(), m.amount(), path.Child("amount"), options, kRequired);
}

absl::Status CheckMarketSizeDeclared(const v1::MarketSizeDeclared& m, const FieldPath& path,
                                     const ValidationOptions& options) {
  RETURN_IF_ERROR(CheckPeriod(m.has_period(), m.period(), path.Child("period"), kRequired));
  RETURN_IF_ERROR(CheckLabel(m.region(), path.Child("region"), options));
  RETURN_IF_ERROR(CheckLabel(m.industry(), path.Child("industry"), options));
  return CheckMoney(m.has_amount(), m.amount(), path.Child("amount"), options, kRequired);
}

absl::Status CheckReviewActionPlanned(const v1::ReviewActionPlanned& m, const FieldPath& path,
                                      const ValidationOptions& options) {
  RETURN_IF_ERROR(CheckId(m.action_id(), path.Child("action_id"), options));
  RETURN_IF_ERROR(CheckPeriod(m.has_review_period(), m.review_period(), path.Child("review_period"),
                              kRequired));
  RETURN_IF_ERROR(
      CheckDimensionSlice(m.dimension(), m.dimension_value(), path, options, kOptional));
  RETURN_IF_ERROR(CheckText(m.finding(), path.Child("finding"), options, kRequired));
  RETURN_IF_ERROR(CheckId(m.owner(), path.Child("owner"), options, kOptional));
  RETURN_IF_ERROR(CheckTimestamp(m.has_due(), m.due(), path.Child("due"), kOptional));
  return CheckText(m.description(), path.Child("description"), options);
}

absl::Status CheckReviewActionClosed(const v1::ReviewActionClosed& m, const FieldPath& path,
                                     const ValidationOptions& options) {
  RETURN_IF_ERROR(CheckId(m.action_id(), path.Child("action_id"), options));
  return CheckText(m.note(), path.Child("note"), options);
}

absl::Status CheckOrgPayload(const v1::OrgEvent& e, const FieldPath& path,
                             const ValidationOptions& o) {
  using E = v1::OrgEvent;
  switch (e.payload_case()) {
    case E::kTargetSet:
      return CheckTargetSet(e.target_set(), path.Child("target_set"), o);
    case E::kMarketingSpendRecorded:
      return CheckMarketingSpendRecorded(e.marketing_spend_recorded(),
                                         path.Child("marketing_spend_recorded"), o);
    case E::kMarketSizeDeclared:
      return CheckMarketSizeDeclared(e.market_size_declared(), path.Child("market_size_declared"),
                                     o);
    case E::kReviewActionPlanned:
      return CheckReviewActionPlanned(e.review_action_planned(),
                                      path.Child("review_action_planned"), o);
    case E::kReviewActionClosed:
      return CheckReviewActionClosed(e.review_action_closed(), path.Child("review_action_closed"),
                                     o);
    case E::PAYLOAD_NOT_SET:
      break;
  }
  return PayloadRequired(e, path);
}

absl::Status CheckEvent(const v1::Event& event, const FieldPath& path,
                        const ValidationOptions& options) {
  RETURN_IF_ERROR(CheckId(event.event_id(), path.Child("event_id"), options));
  RETURN_IF_ERROR(CheckId(event.customer_id(), path.Child("customer_id"), options));
  RETURN_IF_ERROR(CheckTimestamp(event.has_occurred_at(), event.occurred_at(),
                                 path.Child("occurred_at"), kRequired));
  RETURN_IF_ERROR(CheckId(event.source(), path.Child("source"), options, kOptional));
  RETURN_IF_ERROR(CheckId(event.actor_id(), path.Child("actor_id"), options, kOptional));
  if (event.schema_version() > kSchemaVersion) {
    return Invalid(
        path.Child("schema_version"),
        absl::StrCat("is newer than the newest this build reads (", kSchemaVersion, ")"));
  }
  return CheckEventPayload(event, path, options);
}

absl::Status CheckOrgEvent(const v1::OrgEvent& event, const FieldPath& path,
                           const ValidationOptions& options) {
  RETURN_IF_ERROR(CheckId(event.event_id(), path.Child("event_id"), options));
  RETURN_IF_ERROR(CheckTimestamp(event.has_occurred_at(), event.occurred_at(),
                                 path.Child("occurred_at"), kRequired));
  RETURN_IF_ERROR(CheckId(event.scope(), path.Child("scope"), options));
  RETURN_IF_ERROR(CheckId(event.source(), path.Child("source"), options, kOptional));
  RETURN_IF_ERROR(CheckId(event.actor_id(), path.Child("actor_id"), options, kOptional));
  return CheckOrgPayload(event, path, options);
}

absl::Status CheckEventCount(int count, const ValidationOptions& options) {
  if (count == 0) return absl::InvalidArgumentError("events: at least one event required");
  if (static_cast<size_t>(count) > options.max_events_per_request) {
    return absl::InvalidArgumentError(absl::StrCat(
        "events: at most ", options.max_events_per_request, " events per request, got ", count));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateEvent(const v1::Event& event, const ValidationOptions& options,
                           std::string_view path) {
  return CheckEvent(event, FieldPath(path), options);
}

absl::Status ValidateOrgEvent(const v1::OrgEvent& event, const ValidationOptions& options,
                              std::string_view path) {
  return CheckOrgEvent(event, FieldPath(path), options);
}

absl::Status ValidateAppendRequest(const v1::AppendRequest& request,
                                   const ValidationOptions& options) {
  RETURN_IF_ERROR(CheckEventCount(request.events_size(), options));
  for (int i = 0; i < request.events_size(); ++i) {
    RETURN_IF_ERROR(CheckEvent(request.events(i), FieldPath("events", i), options));
  }
  return absl::OkStatus();
}

absl::Status ValidateAppendOrgRequest(const v1::AppendOrgRequest& request,
                                      const ValidationOptions& options) {
  RETURN_IF_ERROR(CheckEventCount(request.events_size(), options));
  for (int i = 0; i < request.events_size(); ++i) {
    RETURN_IF_ERROR(CheckOrgEvent(request.events(i), FieldPath("events", i), options));
  }
  return absl::OkStatus();
}

}  // namespace custops::event
