// The gRPC side of custopsctl: one method per subcommand, each printing its
// result to `out` and returning a status. Errors are absl::Status values:
//  - a status the server returned keeps its code and message and is marked
//    as coming from the server (IsServerError), so that the CLI can tell
//    "the server said no" (exit 2) from "could not ask" (exit 1);
//  - local problems (a bad JSON line, an unreadable file) are plain
//    INVALID_ARGUMENT / NOT_FOUND statuses.
//
//   ConnectionOptions options{.server = "127.0.0.1:50051"};
//   std::unique_ptr<Client> client = Client::Connect(options);
//   absl::Status s = client->Append(std::cin, {.batch = 500}, std::cout);
//   return ExitCode(s);
//
// A Client may be used from one thread at a time.
#ifndef CUSTOPS_CTL_CLIENT_H_
#define CUSTOPS_CTL_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <istream>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "custops/ctl/labels.h"
#include "custops/ctl/review_format.h"
#include "custops/v1/admin.grpc.pb.h"
#include "custops/v1/events.pb.h"
#include "custops/v1/ingest.grpc.pb.h"
#include "custops/v1/lifecycle.grpc.pb.h"
#include "custops/v1/review.grpc.pb.h"
#include "custops/v1/value.grpc.pb.h"

namespace custops::ctl {

struct ConnectionOptions {
  // host:port of any custops server. Default: "127.0.0.1:50051"
  std::string server = "127.0.0.1:50051";
  // Deadline of each unary call. Default: 30 s
  absl::Duration timeout = absl::Seconds(30);
  // Deadline of a streaming call (tail, changes); InfiniteDuration = none.
  // Default: none
  absl::Duration stream_timeout = absl::InfiniteDuration();
  // Sent as "authorization: Bearer <token>" when not empty. Default: none
  std::string bearer_token;
  // TLS instead of plaintext. Default: false
  bool tls = false;
  // With tls: PEM roots to trust; empty = the system's. Default: empty
  std::string ca_cert_pem;
};

struct AppendOptions {
  // Events per Append request. Default: 500
  int batch = 500;
};

struct PageOptions {
  // Follow next_page_token to the end. Default: false (one page)
  bool all = false;
};

// How a query's answer is printed (--output, --lang).
enum class Output {
  kDefault,    // the command's own default (docs/custopsctl.md "Output")
  kTable,      // readable tables
  kJson,       // the response as one JSON object (protobuf JSON mapping), indented
  kJsonLines,  // one JSON object per line: a list's items, else the response
};

// "table", "json" or "jsonl" (any case). INVALID_ARGUMENT otherwise.
absl::StatusOr<Output> ParseOutput(std::string_view text);

struct OutputOptions {
  Output output = Output::kDefault;
  Lang lang = Lang::kZh;
};

struct StreamOptions {
  // Stop after this many records; 0 = run until the stream ends. Default: 0
  int64_t limit = 0;
  // Print only the event of each record (input for `append`). Default: false
  bool events_only = false;
};

// The status of a failed call, marked as the server's answer.
absl::Status FromGrpcStatus(const grpc::Status& status);
// True for a status made by FromGrpcStatus that the server itself gave (not
// UNAVAILABLE / DEADLINE_EXCEEDED / CANCELLED, which mean it was not
// reached or did not answer).
bool IsServerError(const absl::Status& status);
// 0 for OK, 2 for a server error, 1 for anything else.
int ExitCode(const absl::Status& status);
// "error: <CODE>: <message>".
std::string ErrorLine(const absl::Status& status);

// "events[3].contract_signed.amount: ..." → 3, or -1 when the message does
// not start with an event index.
int64_t EventIndexInError(std::string_view message);

// The totals of an append run.
struct AppendTotals {
  int64_t appended = 0;
  int64_t duplicates = 0;
  std::string consistency_token;  // of the last request
};

class Client {
 public:
  // Does not connect yet: the first call does.
  static std::unique_ptr<Client> Connect(const ConnectionOptions& options);
  Client(std::shared_ptr<grpc::Channel> channel, const ConnectionOptions& options);

  // `append`: JSON lines of Event from `in`. The whole input is parsed
  // before anything is sent (a bad line → INVALID_ARGUMENT "line N: ..." and
  // nothing appended); then batches are sent in order. A server rejection
  // names the input line of the offending event and how many events earlier
  // batches appended. Prints "appended: N", "duplicates: N" and
  // "consistency_token: T".
  absl::Status Append(std::istream& in, const AppendOptions& options, std::ostream& out);
  // `append-org`: the same for OrgEvent through AppendOrg.
  absl::Status AppendOrg(std::istream& in, const AppendOptions& options, std::ostream& out);
  // Sends events already in memory (the `demo` subcommand); `lines`, when
  // not empty, gives each event's input line for error messages.
  absl::Status AppendEvents(const std::vector<v1::Event>& events, const std::vector<int64_t>& lines,
                            const AppendOptions& options, AppendTotals& totals);
  // The same for organisation events, through AppendOrg.
  absl::Status AppendOrgEvents(const std::vector<v1::OrgEvent>& events,
                               const AppendOptions& options, AppendTotals& totals);

  // Queries print their answer per `output` (the default in brackets).
  // Paged queries fetch one page, or every page with `all`, and print them
  // together (JSON: one response with every page's items and the last
  // page's next_page_token; JSON lines: each page's items as it arrives);
  // without `all`, a next page token is reported on `err` as
  // "more: --page-token T (or --all)".

  // `get` [json]: the CustomerView.
  absl::Status GetCustomer(const v1::GetCustomerRequest& request, std::ostream& out,
                           const OutputOptions& output = {});
  // `list` [jsonl]: one line per customer.
  absl::Status ListCustomers(v1::ListCustomersRequest request, const PageOptions& options,
                             std::ostream& out, std::ostream& err,
                             const OutputOptions& output = {});
  // `summary` [table]: the stage summary.
  absl::Status StageSummary(const v1::StageSummaryRequest& request, std::ostream& out,
                            const OutputOptions& output = {});
  // `timeline` [jsonl]: one line per entry, oldest first.
  absl::Status Timeline(v1::TimelineRequest request, const PageOptions& options, std::ostream& out,
                        std::ostream& err, const OutputOptions& output = {});
  // `tail`: one JSON line per EventRecord (flushed as it arrives).
  absl::Status Tail(const v1::SubscribeRequest& request, const StreamOptions& options,
                    std::ostream& out);
  // `changes`: one JSON line per ChangeRecord.
  absl::Status Changes(const v1::SubscribeChangesRequest& request, const StreamOptions& options,
                       std::ostream& out);
  // `status` [table]: Admin.Status.
  absl::Status ServerStatus(std::ostream& out, const OutputOptions& output = {});
  // `dead-letters` [table]: Admin.ListDeadLetters, paged.
  absl::Status ListDeadLetters(v1::ListDeadLettersRequest request, const PageOptions& options,
                               std::ostream& out, std::ostream& err,
                               const OutputOptions& output = {});
  // `dead-letters replay` [table]: Admin.ReplayDeadLetters, called again
  // while the server says `more` (unless `once`); the counts are summed and
  // what is still parked comes from the last call.
  absl::Status ReplayDeadLetters(const v1::ReplayDeadLettersRequest& request, bool once,
                                 std::ostream& out, const OutputOptions& output = {});
  // `rebuild` [table]: Admin.Rebuild; with `wait`, follows Admin.Status every
  // `poll` until the new copy is swapped in (or the rebuild fails: ABORTED
  // with its reason), drawing a progress bar on `err` (redrawn in place when
  // `tty`, a line per 10% otherwise).
  absl::Status Rebuild(const std::string& projection, bool wait, std::ostream& out,
                       std::ostream& err, bool tty, const OutputOptions& output = {},
                       absl::Duration poll = absl::Milliseconds(500));

  // `value get` [table]: Value.GetValue.
  absl::Status GetValue(const v1::GetValueRequest& request, std::ostream& out,
                        const OutputOptions& output = {});
  // `value list` [table]: Value.ListCustomers, paged.
  absl::Status ListValueCustomers(v1::ListValueCustomersRequest request, const PageOptions& options,
                                  std::ostream& out, std::ostream& err,
                                  const OutputOptions& output = {});
  // `value tiers` [table]: Value.TierSummary.
  absl::Status TierSummary(const v1::TierSummaryRequest& request, std::ostream& out,
                           const OutputOptions& output = {});
  // `value pareto` [table]: Value.Pareto.
  absl::Status Pareto(const v1::ParetoRequest& request, std::ostream& out,
                      const OutputOptions& output = {});
  // `value refit` [table]: Value.RefitClv (the admin role).
  absl::Status RefitClv(const v1::RefitClvRequest& request, std::ostream& out,
                        const OutputOptions& output = {});
  // `value model` [table]: Value.GetClvModel.
  absl::Status GetClvModel(std::ostream& out, const OutputOptions& output = {});

  // `review report` [table]: Review.GetReview.
  absl::Status GetReview(const v1::GetReviewRequest& request, std::ostream& out,
                         const OutputOptions& output = {});
  // `review funnel` [table]: Review.Funnel, paged over slices.
  absl::Status Funnel(v1::FunnelRequest request, const PageOptions& options, std::ostream& out,
                      std::ostream& err, const OutputOptions& output = {});
  // `review worklist` [table]: Review.Worklist, paged over customers.
  absl::Status Worklist(v1::WorklistRequest request, const PageOptions& options, std::ostream& out,
                        std::ostream& err, const OutputOptions& output = {});
  // `review compare` [table]: Review.CompareReview, paged over rows; the
  // table shows `compare.metrics` (empty = all).
  absl::Status CompareReview(v1::CompareReviewRequest request, const PageOptions& options,
                             const CompareFormatOptions& compare, std::ostream& out,
                             std::ostream& err, const OutputOptions& output = {});

 private:
  void Prepare(grpc::ClientContext& context, absl::Duration timeout) const;
  // Names the server in a status that says it could not be reached.
  absl::Status Annotate(const absl::Status& status) const;
  // One unary call, its answer printed per `output` (`fallback` for
  // kDefault) with `table` for kTable.
  template <typename Request, typename Response, typename Call, typename Table>
  absl::Status Query(const Request& request, const OutputOptions& output, Output fallback,
                     std::ostream& out, Call call, Table table);
  // A paged call; `items(response)` is the mutable repeated field of items.
  template <typename Request, typename Response, typename Call, typename Items, typename Table>
  absl::Status Pages(Request request, const PageOptions& options, const OutputOptions& output,
                     Output fallback, std::ostream& out, std::ostream& err, Call call, Items items,
                     Table table);
  template <typename Request, typename Message>
  absl::Status AppendAll(const std::vector<Message>& messages, const std::vector<int64_t>& lines,
                         const AppendOptions& options, AppendTotals& totals);

  ConnectionOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::EventIngest::Stub> ingest_;
  std::unique_ptr<v1::Subscriptions::Stub> subscriptions_;
  std::unique_ptr<v1::Lifecycle::Stub> lifecycle_;
  std::unique_ptr<v1::Admin::Stub> admin_;
  std::unique_ptr<v1::Value::Stub> value_;
  std::unique_ptr<v1::Review::Stub> review_;
};

// "appended: N\nduplicates: N\nconsistency_token: T\n".
std::string FormatAppendTotals(const AppendTotals& totals);

}  // namespace custops::ctl

#endif  // CUSTOPS_CTL_CLIENT_H_
