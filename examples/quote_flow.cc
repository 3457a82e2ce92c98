// An internal service using the custops client library: registers a
// customer, walks one deal through its business actions, reads the customer
// back with its own write's consistency token, and lists the customer's
// events through a subscription (which resumes by itself if the connection
// breaks).
//
//   bash scripts/run.sh &                       # the platform, on :50051
//   build/examples/quote_flow --server 127.0.0.1:50051 --customer ACME-1
//   # A server with auth on wants a token (--token, or the CUSTOPS_TOKEN variable):
//   custopsctl token --secret-file jwt.key --sub quote-flow --roles emitter,reader > token
//   build/examples/quote_flow --token "$(cat token)"
//
// Run it twice: the second run's actions are retries of the same request ids
// (derived from --customer), so nothing is emitted twice.
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "custops/client/client.h"
#include "custops/event/time.h"

namespace {

custops::v1::Money Cny(int64_t units) {
  custops::v1::Money m;
  m.set_units(units);
  m.set_currency("CNY");
  return m;
}

// Prints one action's outcome; false on an error other than a refusal of a
// state the first run already reached.
bool Report(const std::string& action, const absl::StatusOr<custops::v1::CommandResponse>& r) {
  if (r.ok()) {
    std::cout << action << ": " << r->event_id() << (r->duplicate() ? " (retry: already done)" : "")
              << "\n";
    return true;
  }
  std::cout << action << ": " << r.status() << "\n";
  return r.status().code() != absl::StatusCode::kUnavailable;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"custops client example: one deal as business actions"};
  std::string server = "127.0.0.1:50051";
  std::string customer = "ACME-1";
  std::string token;
  app.add_option("--server", server, "custops gRPC address")->capture_default_str();
  app.add_option("--customer", customer, "Customer id")->capture_default_str();
  app.add_option("--token", token, "Bearer token (JWT) for a server with auth on")
      ->envname("CUSTOPS_TOKEN");
  CLI11_PARSE(app, argc, argv);

  custops::client::Client client({.target = server, .actor_id = "example", .bearer_token = token});
  const absl::Time now = absl::Now();
  auto id = [&](const char* what) { return absl::StrCat(customer, "/", what); };

  custops::v1::RegisterCustomerRequest reg;
  reg.set_request_id(id("register"));
  reg.set_customer_id(customer);
  reg.set_name("Acme Trading Co.");
  reg.set_kind(custops::v1::CUSTOMER_KIND_CUSTOMER);
  reg.set_region("East");
  reg.set_industry("wholesale");
  bool ok = Report("RegisterCustomer", client.RegisterCustomer(reg));

  custops::v1::OpenOpportunityRequest open;
  open.set_request_id(id("open"));
  open.set_customer_id(customer);
  open.set_opportunity_id("O-1");
  *open.mutable_amount() = Cny(1'200'000);
  ok = ok && Report("OpenOpportunity", client.OpenOpportunity(open));

  custops::v1::IssueQuoteRequest quote;
  quote.set_request_id(id("quote"));
  quote.set_customer_id(customer);
  quote.set_quote_id("Q-1");
  quote.set_opportunity_id("O-1");
  *quote.mutable_amount() = Cny(1'150'000);
  *quote.mutable_valid_until() = custops::event::ToProto(now + absl::Hours(24 * 14));
  ok = ok && Report("IssueQuote", client.IssueQuote(quote));

  custops::v1::AcceptQuoteRequest accept;
  accept.set_request_id(id("accept"));
  accept.set_customer_id(customer);
  accept.set_quote_id("Q-1");
  ok = ok && Report("AcceptQuote", client.AcceptQuote(accept));

  custops::v1::SignContractRequest sign;
  sign.set_request_id(id("sign"));
  sign.set_customer_id(customer);
  sign.set_contract_id("K-1");
  sign.set_quote_id("Q-1");
  *sign.mutable_amount() = Cny(1'150'000);
  *sign.mutable_start() = custops::event::ToProto(now);
  *sign.mutable_end() = custops::event::ToProto(now + absl::Hours(24 * 365));
  absl::StatusOr<custops::v1::CommandResponse> signed_contract = client.SignContract(sign);
  ok = ok && Report("SignContract", signed_contract);
  if (!ok) return 1;

  absl::StatusOr<custops::v1::CustomerView> view = client.GetCustomer(
      customer, signed_contract.ok() ? signed_contract->consistency_token() : "");
  if (!view.ok()) {
    std::cerr << "GetCustomer: " << view.status() << "\n";
    return 1;
  }
  std::cout << customer << " is " << custops::v1::LifecycleStage_Name(view->stage()) << "\n";

  // The customer's events from the beginning, up to the contract.
  custops::v1::SubscribeRequest tail;
  tail.set_from("earliest");
  tail.add_customer_ids(customer);
  absl::Status s = client.Subscribe(tail, [&](const custops::v1::EventRecord& r) {
    std::cout << "  " << r.event().event_id() << " at partition " << r.position().partition()
              << " offset " << r.position().offset() << " (" << r.event().source() << ")\n";
    return r.event().event_id() != signed_contract->event_id();
  });
  return s.ok() ? 0 : 1;
}
