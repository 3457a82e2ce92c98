#include "custops/deals/deals_service.h"

#include "custops/command/requests.h"

namespace custops::deals {

grpc::ServerUnaryReactor* DealsService::OpenOpportunity(grpc::CallbackServerContext* context,
                                                        const v1::OpenOpportunityRequest* request,
                                                        v1::CommandResponse* response) {
  return command::Serve(core_, kSource, context, *request, response);
}

grpc::ServerUnaryReactor* DealsService::AdvanceOpportunity(
    grpc::CallbackServerContext* context, const v1::AdvanceOpportunityRequest* request,
    v1::CommandResponse* response) {
  return command::Serve(core_, kSource, context, *request, response);
}

grpc::ServerUnaryReactor* DealsService::ReopenOpportunity(
    grpc::CallbackServerContext* context, const v1::ReopenOpportunityRequest* request,
    v1::CommandResponse* response) {
  return command::Serve(core_, kSource, context, *request, response);
}

grpc::ServerUnaryReactor* DealsService::IssueQuote(grpc::CallbackServerContext* context,
                                                   const v1::IssueQuoteRequest* request,
                                                   v1::CommandResponse* response) {
  return command::Serve(core_, kSource, context, *request, response);
}

grpc::ServerUnaryReactor* DealsService::AcceptQuote(grpc::CallbackServerContext* context,
                                                    const v1::AcceptQuoteRequest* request,
                                                    v1::CommandResponse* response) {
  return command::Serve(core_, kSource, context, *request, response);
}

grpc::ServerUnaryReactor* DealsService::RejectQuote(grpc::CallbackServerContext* context,
                                                    const v1::RejectQuoteRequest* request,
                                                    v1::CommandResponse* response) {
  return command::Serve(core_, kSource, context, *request, response);
}

grpc::ServerUnaryReactor* DealsService::SignContract(grpc::CallbackServerContext* context,
                                                     const v1::SignContractRequest* request,
                                                     v1::CommandResponse* response) {
  return command::Serve(core_, kSource, context, *request, response);
}

grpc::ServerUnaryReactor* DealsService::RenewContract(grpc::CallbackServerContext* context,
                                                      const v1::RenewContractRequest* request,
                                                      v1::CommandResponse* response) {
  return command::Serve(core_, kSource, context, *request, response);
}

grpc::ServerUnaryReactor* DealsService::TerminateContract(
    grpc::CallbackServerContext* context, const v1::TerminateContractRequest* request,
    v1::CommandResponse* response) {
  return command::Serve(core_, kSource, context, *request, response);
}

grpc::ServerUnaryReactor* DealsService::RecordPayment(grpc::CallbackServerContext* context,
                                                      const v1::RecordPaymentRequest* request,
                                                      v1::CommandResponse* response) {
  return command::Serve(core_, kSource, context, *request, response);
}

}  // namespace custops::deals
