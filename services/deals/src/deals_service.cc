#include "custops/deals/deals_service.h"

#include "custops/command/requests.h"

namespace custops::deals {

void DealsService::Register(rpc::MethodTable& table) {
  command::AddCommand<v1::OpenOpportunityRequest>(table, core_, kSource,
                                                  "custops.v1.Deals/OpenOpportunity");
  command::AddCommand<v1::AdvanceOpportunityRequest>(table, core_, kSource,
                                                     "custops.v1.Deals/AdvanceOpportunity");
  command::AddCommand<v1::ReopenOpportunityRequest>(table, core_, kSource,
                                                    "custops.v1.Deals/ReopenOpportunity");
  command::AddCommand<v1::IssueQuoteRequest>(table, core_, kSource, "custops.v1.Deals/IssueQuote");
  command::AddCommand<v1::AcceptQuoteRequest>(table, core_, kSource,
                                              "custops.v1.Deals/AcceptQuote");
  command::AddCommand<v1::RejectQuoteRequest>(table, core_, kSource,
                                              "custops.v1.Deals/RejectQuote");
  command::AddCommand<v1::SignContractRequest>(table, core_, kSource,
                                               "custops.v1.Deals/SignContract");
  command::AddCommand<v1::RenewContractRequest>(table, core_, kSource,
                                                "custops.v1.Deals/RenewContract");
  command::AddCommand<v1::TerminateContractRequest>(table, core_, kSource,
                                                    "custops.v1.Deals/TerminateContract");
  command::AddCommand<v1::RecordPaymentRequest>(table, core_, kSource,
                                                "custops.v1.Deals/RecordPayment");
}

}  // namespace custops::deals
