#include "custops/client/client.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "custops/rpc/status.h"

namespace custops::client {
namespace {

bool Retryable(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED ||
         code == grpc::StatusCode::RESOURCE_EXHAUSTED || code == grpc::StatusCode::ABORTED;
}

std::shared_ptr<grpc::Channel> OpenChannel(const ClientOptions& o) {
  if (!o.tls) return grpc::CreateChannel(o.target, grpc::InsecureChannelCredentials());
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = o.ca_cert_pem;
  ssl.pem_cert_chain = o.client_cert_pem;
  ssl.pem_private_key = o.client_key_pem;
  return grpc::CreateChannel(o.target, grpc::SslCredentials(ssl));
}

std::chrono::system_clock::time_point DeadlineIn(absl::Duration d) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(d);
}

void Backoff(const ClientOptions& o, int attempt) {
  absl::Duration wait = o.initial_backoff;
  for (int i = 1; i < attempt && wait < absl::Seconds(2); ++i) wait *= 2;
  absl::SleepFor(std::min(wait, absl::Seconds(2)));
}

// The four common fields of a command request from an event's envelope.
template <typename Request>
Request FromEnvelope(const v1::Event& e) {
  Request r;
  r.set_request_id(e.event_id());
  r.set_customer_id(e.customer_id());
  *r.mutable_occurred_at() = e.occurred_at();
  r.set_actor_id(e.actor_id());
  return r;
}

}  // namespace

std::string NewRequestId() {
  static thread_local absl::BitGen gen;
  return absl::StrFormat("%016x%016x", absl::Uniform<uint64_t>(gen), absl::Uniform<uint64_t>(gen));
}

Client::Client(ClientOptions options) : Client(OpenChannel(options), options) {}

Client::Client(std::shared_ptr<grpc::Channel> channel, ClientOptions options)
    : options_(std::move(options)),
      channel_(std::move(channel)),
      customers_(v1::Customers::NewStub(channel_)),
      visits_(v1::Visits::NewStub(channel_)),
      deals_(v1::Deals::NewStub(channel_)),
      complaints_(v1::Complaints::NewStub(channel_)),
      ingest_(v1::EventIngest::NewStub(channel_)),
      lifecycle_(v1::Lifecycle::NewStub(channel_)),
      value_(v1::Value::NewStub(channel_)),
      subscriptions_(v1::Subscriptions::NewStub(channel_)) {}

void Client::Prepare(grpc::ClientContext& context) const {
  if (!options_.bearer_token.empty()) {
    context.AddMetadata("authorization", absl::StrCat("Bearer ", options_.bearer_token));
  }
}

template <typename Request, typename Response, typename Method>
absl::StatusOr<Response> Client::Call(Method method, const Request& request) {
  grpc::Status last;
  for (int attempt = 1; attempt <= std::max(1, options_.max_attempts); ++attempt) {
    if (attempt > 1) Backoff(options_, attempt - 1);
    grpc::ClientContext context;
    Prepare(context);
    context.set_deadline(DeadlineIn(options_.deadline));
    Response response;
    last = method(&context, request, &response);
    if (last.ok()) return response;
    if (!Retryable(last.error_code())) break;
  }
  return rpc::FromGrpcStatus(last);
}

template <typename Request, typename Stub, typename Method>
absl::StatusOr<v1::CommandResponse> Client::Command(Stub& stub, Method method, Request request) {
  if (request.request_id().empty()) request.set_request_id(NewRequestId());
  if (request.actor_id().empty()) request.set_actor_id(options_.actor_id);
  return Call<Request, v1::CommandResponse>(
      [&](grpc::ClientContext* c, const Request& r, v1::CommandResponse* out) {
        return (stub.*method)(c, r, out);
      },
      request);
}

#define CUSTOPS_CLIENT_COMMAND(Stub, Name)                                                \
  absl::StatusOr<v1::CommandResponse> Client::Name(v1::Name##Request r) {                 \
    return Command(*Stub, &std::remove_reference_t<decltype(*Stub)>::Name, std::move(r)); \
  }
CUSTOPS_CLIENT_COMMAND(customers_, RegisterCustomer)
CUSTOPS_CLIENT_COMMAND(customers_, UpdateProfile)
CUSTOPS_CLIENT_COMMAND(customers_, AddContact)
CUSTOPS_CLIENT_COMMAND(customers_, RecordSurvey)
CUSTOPS_CLIENT_COMMAND(customers_, RecordReferral)
CUSTOPS_CLIENT_COMMAND(customers_, MarkLost)
CUSTOPS_CLIENT_COMMAND(visits_, LogVisit)
CUSTOPS_CLIENT_COMMAND(deals_, OpenOpportunity)
CUSTOPS_CLIENT_COMMAND(deals_, AdvanceOpportunity)
CUSTOPS_CLIENT_COMMAND(deals_, ReopenOpportunity)
CUSTOPS_CLIENT_COMMAND(deals_, IssueQuote)
CUSTOPS_CLIENT_COMMAND(deals_, AcceptQuote)
CUSTOPS_CLIENT_COMMAND(deals_, RejectQuote)
CUSTOPS_CLIENT_COMMAND(deals_, SignContract)
CUSTOPS_CLIENT_COMMAND(deals_, RenewContract)
CUSTOPS_CLIENT_COMMAND(deals_, TerminateContract)
CUSTOPS_CLIENT_COMMAND(deals_, RecordPayment)
CUSTOPS_CLIENT_COMMAND(complaints_, FileComplaint)
CUSTOPS_CLIENT_COMMAND(complaints_, RespondComplaint)
CUSTOPS_CLIENT_COMMAND(complaints_, ResolveComplaint)
CUSTOPS_CLIENT_COMMAND(complaints_, ReopenComplaint)
#undef CUSTOPS_CLIENT_COMMAND

absl::StatusOr<v1::CommandResponse> Client::Submit(const v1::Event& e) {
  using E = v1::Event;
  switch (e.payload_case()) {
    case E::kCustomerRegistered: {
      auto r = FromEnvelope<v1::RegisterCustomerRequest>(e);
      const auto& p = e.customer_registered();
      r.set_name(p.name());
      r.set_kind(p.kind());
      r.set_industry(p.industry());
      r.set_region(p.region());
      r.set_city(p.city());
      r.set_owner_id(p.owner_id());
      r.set_channel(p.channel());
      r.set_size(p.size());
      if (p.has_budget()) *r.mutable_budget() = p.budget();
      r.set_need(p.need());
      return RegisterCustomer(std::move(r));
    }
    case E::kCustomerProfileUpdated: {
      auto r = FromEnvelope<v1::UpdateProfileRequest>(e);
      const auto& p = e.customer_profile_updated();
      if (p.has_name()) r.set_name(p.name());
      if (p.has_industry()) r.set_industry(p.industry());
      if (p.has_region()) r.set_region(p.region());
      if (p.has_city()) r.set_city(p.city());
      if (p.has_owner_id()) r.set_owner_id(p.owner_id());
      if (p.has_channel()) r.set_channel(p.channel());
      if (p.has_size()) r.set_size(p.size());
      if (p.has_budget()) *r.mutable_budget() = p.budget();
      r.set_need(p.need());
      r.set_kind(p.kind());
      return UpdateProfile(std::move(r));
    }
    case E::kContactAdded: {
      auto r = FromEnvelope<v1::AddContactRequest>(e);
      const auto& p = e.contact_added();
      r.set_contact_id(p.contact_id());
      r.set_name(p.name());
      r.set_role(p.role());
      if (p.has_birthday()) *r.mutable_birthday() = p.birthday();
      return AddContact(std::move(r));
    }
    case E::kVisitLogged: {
      auto r = FromEnvelope<v1::LogVisitRequest>(e);
      const auto& p = e.visit_logged();
      r.set_visit_id(p.visit_id());
      r.set_channel(p.channel());
      r.set_contact_id(p.contact_id());
      r.set_outcome(p.outcome());
      r.set_note(p.note());
      return LogVisit(std::move(r));
    }
    case E::kOpportunityOpened: {
      auto r = FromEnvelope<v1::OpenOpportunityRequest>(e);
      const auto& p = e.opportunity_opened();
      r.set_opportunity_id(p.opportunity_id());
      if (p.has_amount()) *r.mutable_amount() = p.amount();
      r.set_product(p.product());
      if (p.has_expected_close()) *r.mutable_expected_close() = p.expected_close();
      return OpenOpportunity(std::move(r));
    }
    case E::kOpportunityStageChanged: {
      const auto& p = e.opportunity_stage_changed();
      if (p.stage() == v1::FUNNEL_STAGE_OPPORTUNITY) {  // back to stage 1: a reopen
        auto r = FromEnvelope<v1::ReopenOpportunityRequest>(e);
        r.set_opportunity_id(p.opportunity_id());
        r.set_reason(p.reason());
        return ReopenOpportunity(std::move(r));
      }
      auto r = FromEnvelope<v1::AdvanceOpportunityRequest>(e);
      r.set_opportunity_id(p.opportunity_id());
      r.set_stage(p.stage());
      r.set_competitor(p.competitor());
      r.set_reason(p.reason());
      return AdvanceOpportunity(std::move(r));
    }
    case E::kQuoteIssued: {
      auto r = FromEnvelope<v1::IssueQuoteRequest>(e);
      const auto& p = e.quote_issued();
      r.set_quote_id(p.quote_id());
      r.set_opportunity_id(p.opportunity_id());
      if (p.has_amount()) *r.mutable_amount() = p.amount();
      if (p.has_list_amount()) *r.mutable_list_amount() = p.list_amount();
      if (p.has_cost()) *r.mutable_cost() = p.cost();
      if (p.has_valid_until()) *r.mutable_valid_until() = p.valid_until();
      return IssueQuote(std::move(r));
    }
    case E::kQuoteAccepted: {
      auto r = FromEnvelope<v1::AcceptQuoteRequest>(e);
      r.set_quote_id(e.quote_accepted().quote_id());
      return AcceptQuote(std::move(r));
    }
    case E::kQuoteRejected: {
      auto r = FromEnvelope<v1::RejectQuoteRequest>(e);
      const auto& p = e.quote_rejected();
      r.set_quote_id(p.quote_id());
      r.set_reason(p.reason());
      r.set_competitor(p.competitor());
      return RejectQuote(std::move(r));
    }
    case E::kContractSigned: {
      auto r = FromEnvelope<v1::SignContractRequest>(e);
      const auto& p = e.contract_signed();
      r.set_contract_id(p.contract_id());
      r.set_quote_id(p.quote_id());
      r.set_opportunity_id(p.opportunity_id());
      if (p.has_amount()) *r.mutable_amount() = p.amount();
      if (p.has_cost()) *r.mutable_cost() = p.cost();
      if (p.has_start()) *r.mutable_start() = p.start();
      if (p.has_end()) *r.mutable_end() = p.end();
      if (p.has_payment_due()) *r.mutable_payment_due() = p.payment_due();
      r.set_product(p.product());
      r.set_channel(p.channel());
      return SignContract(std::move(r));
    }
    case E::kContractRenewed: {
      auto r = FromEnvelope<v1::RenewContractRequest>(e);
      const auto& p = e.contract_renewed();
      r.set_contract_id(p.contract_id());
      if (p.has_new_end()) *r.mutable_new_end() = p.new_end();
      if (p.has_amount()) *r.mutable_amount() = p.amount();
      if (p.has_cost()) *r.mutable_cost() = p.cost();
      return RenewContract(std::move(r));
    }
    case E::kContractTerminated: {
      auto r = FromEnvelope<v1::TerminateContractRequest>(e);
      r.set_contract_id(e.contract_terminated().contract_id());
      r.set_reason(e.contract_terminated().reason());
      return TerminateContract(std::move(r));
    }
    case E::kPaymentReceived: {
      auto r = FromEnvelope<v1::RecordPaymentRequest>(e);
      const auto& p = e.payment_received();
      r.set_payment_id(p.payment_id());
      r.set_contract_id(p.contract_id());
      if (p.has_amount()) *r.mutable_amount() = p.amount();
      return RecordPayment(std::move(r));
    }
    case E::kComplaintFiled: {
      auto r = FromEnvelope<v1::FileComplaintRequest>(e);
      const auto& p = e.complaint_filed();
      r.set_complaint_id(p.complaint_id());
      r.set_category(p.category());
      r.set_severity(p.severity());
      r.set_channel(p.channel());
      r.set_description(p.description());
      return FileComplaint(std::move(r));
    }
    case E::kComplaintResponded: {
      auto r = FromEnvelope<v1::RespondComplaintRequest>(e);
      r.set_complaint_id(e.complaint_responded().complaint_id());
      r.set_note(e.complaint_responded().note());
      return RespondComplaint(std::move(r));
    }
    case E::kComplaintResolved: {
      auto r = FromEnvelope<v1::ResolveComplaintRequest>(e);
      const auto& p = e.complaint_resolved();
      r.set_complaint_id(p.complaint_id());
      r.set_resolution(p.resolution());
      r.set_satisfied(p.satisfied());
      return ResolveComplaint(std::move(r));
    }
    case E::kComplaintReopened: {
      auto r = FromEnvelope<v1::ReopenComplaintRequest>(e);
      r.set_complaint_id(e.complaint_reopened().complaint_id());
      r.set_reason(e.complaint_reopened().reason());
      return ReopenComplaint(std::move(r));
    }
    case E::kSatisfactionSurveyed: {
      auto r = FromEnvelope<v1::RecordSurveyRequest>(e);
      const auto& p = e.satisfaction_surveyed();
      r.set_survey_id(p.survey_id());
      r.set_csat(p.csat());
      if (p.has_nps()) r.set_nps(p.nps());
      return RecordSurvey(std::move(r));
    }
    case E::kReferralMade: {
      auto r = FromEnvelope<v1::RecordReferralRequest>(e);
      r.set_referred_customer_id(e.referral_made().referred_customer_id());
      return RecordReferral(std::move(r));
    }
    case E::kCustomerChurned: {
      auto r = FromEnvelope<v1::MarkLostRequest>(e);
      r.set_reason(e.customer_churned().reason());
      return MarkLost(std::move(r));
    }
    case E::PAYLOAD_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("payload: required");
}

absl::StatusOr<v1::AppendResponse> Client::Append(const v1::AppendRequest& request) {
  return Call<v1::AppendRequest, v1::AppendResponse>(
      [&](grpc::ClientContext* c, const v1::AppendRequest& r, v1::AppendResponse* out) {
        return ingest_->Append(c, r, out);
      },
      request);
}

absl::StatusOr<v1::CustomerView> Client::GetCustomer(const std::string& customer_id,
                                                     const std::string& consistency_token) {
  v1::GetCustomerRequest request;
  request.set_customer_id(customer_id);
  request.set_consistency_token(consistency_token);
  return Call<v1::GetCustomerRequest, v1::CustomerView>(
      [&](grpc::ClientContext* c, const v1::GetCustomerRequest& r, v1::CustomerView* out) {
        return lifecycle_->GetCustomer(c, r, out);
      },
      request);
}

absl::StatusOr<v1::ClvModel> Client::RefitClv(const std::string& consistency_token) {
  v1::RefitClvRequest request;
  request.set_consistency_token(consistency_token);
  return Call<v1::RefitClvRequest, v1::ClvModel>(
      [&](grpc::ClientContext* c, const v1::RefitClvRequest& r, v1::ClvModel* out) {
        return value_->RefitClv(c, r, out);
      },
      request);
}

absl::Status Client::Subscribe(v1::SubscribeRequest request,
                               const std::function<bool(const v1::EventRecord&)>& on_record,
                               const std::atomic<bool>* stop) {
  auto stopped = [stop] { return stop != nullptr && stop->load(); };
  int failures = 0;
  while (!stopped()) {
    grpc::ClientContext context;
    Prepare(context);
    std::unique_ptr<grpc::ClientReader<v1::EventRecord>> reader =
        subscriptions_->Subscribe(&context, request);
    v1::EventRecord record;
    bool delivered_any = false;
    while (reader->Read(&record)) {
      delivered_any = true;
      request.set_from(record.resume_token());
      if (!on_record(record) || stopped()) {
        context.TryCancel();
        (void)reader->Finish();
        return absl::OkStatus();
      }
    }
    // A stream the server ended (OK, at shutdown) or broke is reopened from
    // the last token; anything else is the caller's to see.
    grpc::Status s = reader->Finish();
    if (!s.ok() && !Retryable(s.error_code())) return rpc::FromGrpcStatus(s);
    failures = delivered_any ? 1 : failures + 1;
    if (failures > options_.max_attempts) {
      return s.ok() ? absl::UnavailableError("subscription ended by the server")
                    : rpc::FromGrpcStatus(s);
    }
    resubscribes_++;
    Backoff(options_, failures);
  }
  return absl::OkStatus();
}

}  // namespace custops::client
