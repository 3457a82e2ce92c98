#include "custops/domain/activity.h"

namespace custops::domain {

bool IsActivity(v1::Event::PayloadCase payload) {
  using E = v1::Event;
  switch (payload) {
    case E::kCustomerRegistered:
    case E::kCustomerProfileUpdated:
    case E::kContactAdded:
    case E::PAYLOAD_NOT_SET:
      return false;
    case E::kVisitLogged:
    case E::kOpportunityOpened:
    case E::kOpportunityStageChanged:
    case E::kQuoteIssued:
    case E::kQuoteAccepted:
    case E::kQuoteRejected:
    case E::kContractSigned:
    case E::kContractRenewed:
    case E::kContractTerminated:
    case E::kPaymentReceived:
    case E::kComplaintFiled:
    case E::kComplaintResponded:
    case E::kComplaintResolved:
    case E::kComplaintReopened:
    case E::kSatisfactionSurveyed:
    case E::kReferralMade:
    case E::kCustomerChurned:
      return true;
  }
  return true;  // not reached: every case returns
}

}  // namespace custops::domain
