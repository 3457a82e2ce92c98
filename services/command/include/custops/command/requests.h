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
#include "custops/rpc/status.h"
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

// One unary command call: map, execute (bounded by the call's deadline, at
// most 30 s), finish.
template <typename Request>
grpc::ServerUnaryReactor* Serve(CommandCore& core, std::string_view source,
                                grpc::CallbackServerContext* context, const Request& request,
                                v1::CommandResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<v1::CommandResponse> result =
      core.Execute(ContextOf(request, source), ToCommand(request), rpc::CallDeadline(*context));
  if (result.ok()) *response = std::move(*result);
  reactor->Finish(rpc::ToGrpcStatus(result.status()));
  return reactor;
}

}  // namespace custops::command

#endif  // CUSTOPS_COMMAND_REQUESTS_H_
