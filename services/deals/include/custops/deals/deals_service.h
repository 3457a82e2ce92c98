// The `Deals` command service (DESIGN.md §5): opportunities, quotes, contracts and payments.
// Each RPC maps its request to a domain command and runs it through the
// shared CommandCore (docs/commands.md); the rules are libs/domain's.
#ifndef CUSTOPS_DEALS_DEALS_SERVICE_H_
#define CUSTOPS_DEALS_DEALS_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "custops/command/command_core.h"
#include "custops/v1/commands.grpc.pb.h"

namespace custops::deals {

// The `source` of the events this service emits.
inline constexpr char kSource[] = "deals";

class DealsService final : public v1::Deals::CallbackService {
 public:
  // `core` must outlive the service.
  explicit DealsService(command::CommandCore& core) : core_(core) {}

  grpc::ServerUnaryReactor* OpenOpportunity(grpc::CallbackServerContext* context,
                                            const v1::OpenOpportunityRequest* request,
                                            v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* AdvanceOpportunity(grpc::CallbackServerContext* context,
                                               const v1::AdvanceOpportunityRequest* request,
                                               v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* ReopenOpportunity(grpc::CallbackServerContext* context,
                                              const v1::ReopenOpportunityRequest* request,
                                              v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* IssueQuote(grpc::CallbackServerContext* context,
                                       const v1::IssueQuoteRequest* request,
                                       v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* AcceptQuote(grpc::CallbackServerContext* context,
                                        const v1::AcceptQuoteRequest* request,
                                        v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* RejectQuote(grpc::CallbackServerContext* context,
                                        const v1::RejectQuoteRequest* request,
                                        v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* SignContract(grpc::CallbackServerContext* context,
                                         const v1::SignContractRequest* request,
                                         v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* RenewContract(grpc::CallbackServerContext* context,
                                          const v1::RenewContractRequest* request,
                                          v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* TerminateContract(grpc::CallbackServerContext* context,
                                              const v1::TerminateContractRequest* request,
                                              v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* RecordPayment(grpc::CallbackServerContext* context,
                                          const v1::RecordPaymentRequest* request,
                                          v1::CommandResponse* response) override;

 private:
  command::CommandCore& core_;
};

}  // namespace custops::deals

#endif  // CUSTOPS_DEALS_DEALS_SERVICE_H_
