// From the wire (commands.proto) to the domain: the four common fields to a
// CommandContext, the rest to a domain::Command, and one generic unary
// handler every command service uses.
#ifndef CUSTOPS_COMMAND_REQUESTS_H_
#define CUSTOPS_COMMAND_REQUESTS_H_

#include <grpcpp/grpcpp.h>

#include <string>
#include <string_view>

#include "custops/command/command_core.h"
#include "custops/domain/aggregates.h"
#include "custops/event/time.h"
#include "custops/rpc/gateway.h"
#include "custops/v1/commands.pb.h"

namespace custops::command {

template <typename Request>
CommandContext ContextOf(const Request& r, std::string_view source) {
  CommandContext c{.request_id = r.request_id(),
                   .customer_id = r.customer_id(),
                   .actor_id = r.actor_id(),
                   .source = std::string(source)};
  if (r.has_occurred_at()) c.occurred_at = event::FromProto(r.occurred_at());
  return c;
}

domain::Command ToCommand(const v1::RegisterCustomerRequest& r);
domain::Command ToCommand(const v1::UpdateProfileRequest& r);
domain::Command ToCommand(const v1::AddContactRequest& r);
domain::Command ToCommand(const v1::RecordSurveyRequest& r);
domain::Command ToCommand(const v1::RecordReferralRequest& r);
domain::Command ToCommand(const v1::MarkLostRequest& r);
domain::Command ToCommand(const v1::LogVisitRequest& r);
domain::Command ToCommand(const v1::OpenOpportunityRequest& r);
domain::Command ToCommand(const v1::AdvanceOpportunityRequest& r);
domain::Command ToCommand(const v1::ReopenOpportunityRequest& r);
domain::Command ToCommand(const v1::IssueQuoteRequest& r);
domain::Command ToCommand(const v1::AcceptQuoteRequest& r);
domain::Command ToCommand(const v1::RejectQuoteRequest& r);
domain::Command ToCommand(const v1::SignContractRequest& r);
domain::Command ToCommand(const v1::RenewContractRequest& r);
domain::Command ToCommand(const v1::TerminateContractRequest& r);
domain::Command ToCommand(const v1::RecordPaymentRequest& r);
domain::Command ToCommand(const v1::FileComplaintRequest& r);
domain::Command ToCommand(const v1::RespondComplaintRequest& r);
domain::Command ToCommand(const v1::ResolveComplaintRequest& r);
domain::Command ToCommand(const v1::ReopenComplaintRequest& r);

// Adds one command method (emitter role) to `table`: map, execute on the
// worker pool (bounded by the call's deadline, at most 30 s without one).
// `core` must outlive the table.
template <typename Request>
void AddCommand(rpc::MethodTable& table, CommandCore& core, std::string source,
                std::string method) {
  table.Sync<Request, v1::CommandResponse>(
      std::move(method), rpc::Access::kEmitter, /*offload=*/true,
      [&core, source = std::move(source)](rpc::Call& call, const Request& request) {
        return core.Execute(ContextOf(request, source), ToCommand(request), call.deadline());
      });
}

}  // namespace custops::command

#endif  // CUSTOPS_COMMAND_REQUESTS_H_
