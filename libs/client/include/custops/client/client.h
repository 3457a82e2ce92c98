// The C++ client for internal services (docs/client.md): typed business
// actions, Append, queries and subscriptions that resume by themselves, with
// retries that reuse the same ids so a retry is never counted twice.
//
//   custops::client::Client c({.target = "127.0.0.1:50051", .actor_id = "crm"});
//   v1::AcceptQuoteRequest accept;
//   accept.set_customer_id("C1");
//   accept.set_quote_id("Q1");
//   absl::StatusOr<v1::CommandResponse> r = c.AcceptQuote(accept);  // request_id filled in
//   absl::StatusOr<v1::CustomerView> view =
//       c.GetCustomer("C1", r->consistency_token());               // reads its own write
//
// Retried: UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED and ABORTED,
// with exponential backoff, up to `max_attempts`, each attempt with its own
// deadline. Everything else is returned at once.
//
// A server with auth on wants a bearer token (a JWT, e.g. from `custopsctl
// token`), usually over TLS:
//
//   custops::client::Client c({.target = "custops.internal:50051", .actor_id = "crm",
//                              .bearer_token = jwt, .tls = true, .ca_cert_pem = ca_pem});
#ifndef CUSTOPS_CLIENT_CLIENT_H_
#define CUSTOPS_CLIENT_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "custops/v1/commands.grpc.pb.h"
#include "custops/v1/ingest.grpc.pb.h"
#include "custops/v1/lifecycle.grpc.pb.h"
#include "custops/v1/value.grpc.pb.h"

namespace custops::client {

struct ClientOptions {
  std::string target = "127.0.0.1:50051";
  // Per attempt. Default: 10 s.
  absl::Duration deadline = absl::Seconds(10);
  // Attempts of one call (1 = no retry). Default: 6.
  int max_attempts = 6;
  // First backoff, doubled per attempt, capped at 2 s. Default: 50 ms.
  absl::Duration initial_backoff = absl::Milliseconds(50);
  // Put on commands that carry no actor_id. Default: "".
  std::string actor_id;
  // A JWT sent as "authorization: Bearer <token>" metadata on every call,
  // retries and subscriptions included; empty = no authorization header.
  // Default: "".
  std::string bearer_token;
  // TLS instead of plaintext (grpc::SslCredentials). Ignored by the
  // constructor that takes a channel. Default: false.
  bool tls = false;
  // With tls: PEM roots to trust; empty = gRPC's default roots. Default: "".
  std::string ca_cert_pem;
  // With tls, for mutual TLS: this client's PEM certificate chain and its
  // PEM private key (both or neither). Default: "".
  std::string client_cert_pem;
  std::string client_key_pem;
};

class Client {
 public:
  // Opens a channel to options.target: plaintext, or TLS when options.tls.
  explicit Client(ClientOptions options);
  // Shares a channel (tests, several clients on one connection); the
  // options' TLS fields are not used, bearer_token is.
  Client(std::shared_ptr<grpc::Channel> channel, ClientOptions options);

  // ---- Business actions (commands.proto). An empty request_id is filled
  // with a fresh random id, which the retries reuse; actor_id likewise from
  // the options. ----
  absl::StatusOr<v1::CommandResponse> RegisterCustomer(v1::RegisterCustomerRequest r);
  absl::StatusOr<v1::CommandResponse> UpdateProfile(v1::UpdateProfileRequest r);
  absl::StatusOr<v1::CommandResponse> AddContact(v1::AddContactRequest r);
  absl::StatusOr<v1::CommandResponse> RecordSurvey(v1::RecordSurveyRequest r);
  absl::StatusOr<v1::CommandResponse> RecordReferral(v1::RecordReferralRequest r);
  absl::StatusOr<v1::CommandResponse> MarkLost(v1::MarkLostRequest r);
  absl::StatusOr<v1::CommandResponse> LogVisit(v1::LogVisitRequest r);
  absl::StatusOr<v1::CommandResponse> OpenOpportunity(v1::OpenOpportunityRequest r);
  absl::StatusOr<v1::CommandResponse> AdvanceOpportunity(v1::AdvanceOpportunityRequest r);
  absl::StatusOr<v1::CommandResponse> ReopenOpportunity(v1::ReopenOpportunityRequest r);
  absl::StatusOr<v1::CommandResponse> IssueQuote(v1::IssueQuoteRequest r);
  absl::StatusOr<v1::CommandResponse> AcceptQuote(v1::AcceptQuoteRequest r);
  absl::StatusOr<v1::CommandResponse> RejectQuote(v1::RejectQuoteRequest r);
  absl::StatusOr<v1::CommandResponse> SignContract(v1::SignContractRequest r);
  absl::StatusOr<v1::CommandResponse> RenewContract(v1::RenewContractRequest r);
  absl::StatusOr<v1::CommandResponse> TerminateContract(v1::TerminateContractRequest r);
  absl::StatusOr<v1::CommandResponse> RecordPayment(v1::RecordPaymentRequest r);
  absl::StatusOr<v1::CommandResponse> FileComplaint(v1::FileComplaintRequest r);
  absl::StatusOr<v1::CommandResponse> RespondComplaint(v1::RespondComplaintRequest r);
  absl::StatusOr<v1::CommandResponse> ResolveComplaint(v1::ResolveComplaintRequest r);
  absl::StatusOr<v1::CommandResponse> ReopenComplaint(v1::ReopenComplaintRequest r);

  // Sends a ready event as the business action that emits it (importers,
  // the demo loader): request_id = the event's id, occurred_at = its time.
  // INVALID_ARGUMENT for an event without payload.
  absl::StatusOr<v1::CommandResponse> Submit(const v1::Event& event);

  // ---- Raw events: every event needs its event_id (the idempotency key). ----
  absl::StatusOr<v1::AppendResponse> Append(const v1::AppendRequest& request);

  // ---- Queries ----
  absl::StatusOr<v1::CustomerView> GetCustomer(const std::string& customer_id,
                                               const std::string& consistency_token = "");

  // ---- Value ----
  // Refits the CLV model once the value projection has applied what
  // `consistency_token` covers (e.g. an import's merged token); needs the
  // admin role when auth is on.
  absl::StatusOr<v1::ClvModel> RefitClv(const std::string& consistency_token = "");

  // ---- Subscriptions ----
  // Streams events to `on_record` from `request.from`, reconnecting after a
  // broken stream from the last delivered record's resume token (no gaps, no
  // repeats). Returns when `on_record` returns false or `stop` becomes true
  // (checked between records and while reconnecting), with OK; or with the
  // error of a non-retryable failure.
  absl::Status Subscribe(v1::SubscribeRequest request,
                         const std::function<bool(const v1::EventRecord&)>& on_record,
                         const std::atomic<bool>* stop = nullptr);

  // Reconnections made by Subscribe so far (for tests and metrics).
  int64_t resubscribes() const { return resubscribes_; }

 private:
  // Every ClientContext goes through here: the authorization metadata.
  void Prepare(grpc::ClientContext& context) const;
  template <typename Request, typename Response, typename Method>
  absl::StatusOr<Response> Call(Method method, const Request& request);
  template <typename Request, typename Stub, typename Method>
  absl::StatusOr<v1::CommandResponse> Command(Stub& stub, Method method, Request request);

  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Customers::Stub> customers_;
  std::unique_ptr<v1::Visits::Stub> visits_;
  std::unique_ptr<v1::Deals::Stub> deals_;
  std::unique_ptr<v1::Complaints::Stub> complaints_;
  std::unique_ptr<v1::EventIngest::Stub> ingest_;
  std::unique_ptr<v1::Lifecycle::Stub> lifecycle_;
  std::unique_ptr<v1::Value::Stub> value_;
  std::unique_ptr<v1::Subscriptions::Stub> subscriptions_;
  std::atomic<int64_t> resubscribes_{0};
};

// A fresh random request id (32 hex digits).
std::string NewRequestId();

}  // namespace custops::client

#endif  // CUSTOPS_CLIENT_CLIENT_H_
