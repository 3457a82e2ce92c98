#include "custops/ctl/client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <istream>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "custops/ctl/format.h"
#include "custops/ctl/json_lines.h"
#include "custops/ctl/review_format.h"
#include "custops/ctl/value_format.h"
#include "custops/rpc/status.h"
#include "custops/v1/admin.grpc.pb.h"
#include "custops/v1/ingest.grpc.pb.h"
#include "custops/v1/lifecycle.grpc.pb.h"
#include "custops/v1/review.grpc.pb.h"
#include "custops/v1/value.grpc.pb.h"

namespace custops::ctl {
namespace {

// Marks a status as the server's answer.
constexpr char kOriginPayload[] = "type.custops.dev/custopsctl.origin";

// Responses can be large (a timeline page of 1000 events).
constexpr int kMaxReceiveBytes = 64 << 20;

// Rebuilds `status` with a new message, keeping whether it came from the
// server.
absl::Status WithMessage(const absl::Status& status, std::string message) {
  absl::Status out(status.code(), message);
  if (auto origin = status.GetPayload(kOriginPayload)) out.SetPayload(kOriginPayload, *origin);
  return out;
}

Output Resolve(const OutputOptions& options, Output fallback) {
  return options.output == Output::kDefault ? fallback : options.output;
}

}  // namespace

absl::StatusOr<Output> ParseOutput(std::string_view text) {
  const std::string name = absl::AsciiStrToLower(
      absl::StripAsciiWhitespace(absl::string_view(text.data(), text.size())));
  if (name == "table") return Output::kTable;
  if (name == "json") return Output::kJson;
  if (name == "jsonl" || name == "json-lines") return Output::kJsonLines;
  return absl::InvalidArgumentError(absl::StrCat("--output: unknown output '", std::string(text),
                                                 "' (one of table, json, jsonl)"));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status out = rpc::FromGrpcStatus(status);
  out.SetPayload(kOriginPayload, absl::Cord("server"));
  return out;
}

bool IsServerError(const absl::Status& status) {
  if (status.ok() || !status.GetPayload(kOriginPayload).has_value()) return false;
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kCancelled:
      return false;
    default:
      return true;
  }
}

int ExitCode(const absl::Status& status) {
  if (status.ok()) return 0;
  return IsServerError(status) ? 2 : 1;
}

std::string ErrorLine(const absl::Status& status) {
  return absl::StrCat("error: ", absl::StatusCodeToString(status.code()), ": ",
                      std::string(status.message()));
}

int64_t EventIndexInError(std::string_view message) {
  constexpr std::string_view kPrefix = "events[";
  if (message.substr(0, kPrefix.size()) != kPrefix) return -1;
  int64_t index = 0;
  size_t i = kPrefix.size();
  if (i >= message.size() || !absl::ascii_isdigit(static_cast<unsigned char>(message[i]))) {
    return -1;
  }
  for (; i < message.size() && absl::ascii_isdigit(static_cast<unsigned char>(message[i])); ++i) {
    if (index > (INT64_MAX - 9) / 10) return -1;
    index = index * 10 + (message[i] - '0');
  }
  if (i >= message.size() || message[i] != ']') return -1;
  return index;
}

std::string FormatAppendTotals(const AppendTotals& totals) {
  return absl::StrCat("appended: ", totals.appended, "\nduplicates: ", totals.duplicates,
                      "\nconsistency_token: ", totals.consistency_token, "\n");
}

std::unique_ptr<Client> Client::Connect(const ConnectionOptions& options) {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.ca_cert_pem;
    credentials = grpc::SslCredentials(ssl);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxReceiveBytes);
  return std::make_unique<Client>(grpc::CreateCustomChannel(options.server, credentials, args),
                                  options);
}

Client::Client(std::shared_ptr<grpc::Channel> channel, const ConnectionOptions& options)
    : options_(options),
      channel_(std::move(channel)),
      ingest_(v1::EventIngest::NewStub(channel_)),
      subscriptions_(v1::Subscriptions::NewStub(channel_)),
      lifecycle_(v1::Lifecycle::NewStub(channel_)),
      admin_(v1::Admin::NewStub(channel_)),
      value_(v1::Value::NewStub(channel_)),
      review_(v1::Review::NewStub(channel_)) {}

void Client::Prepare(grpc::ClientContext& context, absl::Duration timeout) const {
  if (timeout != absl::InfiniteDuration()) {
    context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMicroseconds(timeout));
  }
  if (!options_.bearer_token.empty()) {
    context.AddMetadata("authorization", absl::StrCat("Bearer ", options_.bearer_token));
  }
}

absl::Status Client::Annotate(const absl::Status& status) const {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return WithMessage(
          status, absl::StrCat("server ", options_.server, ": ", std::string(status.message())));
    default:
      return status;
  }
}

template <typename Request, typename Message>
absl::Status Client::AppendAll(const std::vector<Message>& messages,
                               const std::vector<int64_t>& lines, const AppendOptions& options,
                               AppendTotals& totals) {
  if (options.batch < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch size must be at least 1, got ", options.batch));
  }
  const size_t batch = static_cast<size_t>(options.batch);
  auto where = [&](size_t i) {
    return lines.empty() ? absl::StrCat("event #", i + 1) : absl::StrCat("line ", lines[i]);
  };
  for (size_t begin = 0; begin < messages.size(); begin += batch) {
    const size_t end = std::min(messages.size(), begin + batch);
    Request request;
    request.mutable_events()->Reserve(static_cast<int>(end - begin));
    for (size_t i = begin; i < end; ++i) *request.add_events() = messages[i];
    v1::AppendResponse response;
    grpc::ClientContext context;
    Prepare(context, options_.timeout);
    grpc::Status status;
    if constexpr (std::is_same_v<Request, v1::AppendOrgRequest>) {
      status = ingest_->AppendOrg(&context, request, &response);
    } else {
      status = ingest_->Append(&context, request, &response);
    }
    if (!status.ok()) {
      const absl::Status error = Annotate(FromGrpcStatus(status));
      std::string message(error.message());
      const int64_t index = EventIndexInError(message);
      if (index >= 0 && static_cast<size_t>(index) < end - begin) {
        absl::StrAppend(&message, " (input ", where(begin + static_cast<size_t>(index)), ")");
      }
      absl::StrAppend(&message, "; batch of ", where(begin), " to ", where(end - 1),
                      " not appended");
      if (begin > 0) {
        absl::StrAppend(&message, "; earlier batches appended ", totals.appended,
                        " events and found ", totals.duplicates, " duplicates");
      }
      return WithMessage(error, std::move(message));
    }
    for (const v1::AppendResult& result : response.results()) {
      ++(result.duplicate() ? totals.duplicates : totals.appended);
    }
    if (!response.consistency_token().empty()) {
      totals.consistency_token = response.consistency_token();
    }
  }
  return absl::OkStatus();
}

absl::Status Client::Append(std::istream& in, const AppendOptions& options, std::ostream& out) {
  absl::StatusOr<JsonLines<v1::Event>> input = ReadJsonLines<v1::Event>(in);
  if (!input.ok()) return input.status();
  AppendTotals totals;
  absl::Status status =
      AppendAll<v1::AppendRequest>(input->messages, input->lines, options, totals);
  if (status.ok()) out << FormatAppendTotals(totals);
  return status;
}

absl::Status Client::AppendOrg(std::istream& in, const AppendOptions& options, std::ostream& out) {
  absl::StatusOr<JsonLines<v1::OrgEvent>> input = ReadJsonLines<v1::OrgEvent>(in);
  if (!input.ok()) return input.status();
  AppendTotals totals;
  absl::Status status =
      AppendAll<v1::AppendOrgRequest>(input->messages, input->lines, options, totals);
  if (status.ok()) out << FormatAppendTotals(totals);
  return status;
}

absl::Status Client::AppendEvents(const std::vector<v1::Event>& events,
                                  const std::vector<int64_t>& lines, const AppendOptions& options,
                                  AppendTotals& totals) {
  return AppendAll<v1::AppendRequest>(events, lines, options, totals);
}

template <typename Request, typename Response, typename Call, typename Table>
absl::Status Client::Query(const Request& request, const OutputOptions& output, Output fallback,
                           std::ostream& out, Call call, Table table) {
  grpc::ClientContext context;
  Prepare(context, options_.timeout);
  Response response;
  const grpc::Status status = call(&context, request, &response);
  if (!status.ok()) return Annotate(FromGrpcStatus(status));
  switch (Resolve(output, fallback)) {
    case Output::kJson:
      out << ToPrettyJson(response);
      break;
    case Output::kJsonLines:
      out << ToJsonLine(response) << '\n';
      break;
    default:
      out << table(response);
      break;
  }
  return absl::OkStatus();
}

template <typename Request, typename Response, typename Call, typename Items, typename Table>
absl::Status Client::Pages(Request request, const PageOptions& options, const OutputOptions& output,
                           Output fallback, std::ostream& out, std::ostream& err, Call call,
                           Items items, Table table) {
  const Output mode = Resolve(output, fallback);
  Response all;  // every page's items (table and JSON)
  bool first = true;
  while (true) {
    grpc::ClientContext context;
    Prepare(context, options_.timeout);
    Response response;
    const grpc::Status status = call(&context, request, &response);
    if (!status.ok()) return Annotate(FromGrpcStatus(status));
    const std::string next = response.next_page_token();
    if (mode == Output::kJsonLines) {
      for (const auto& item : *items(response)) out << ToJsonLine(item) << '\n';
    } else if (first) {
      all = std::move(response);  // the answer's other fields come from the first page
    } else {
      auto* kept = items(all);
      for (auto& item : *items(response)) kept->Add(std::move(item));
      all.set_next_page_token(next);
    }
    first = false;
    if (next.empty() || !options.all) {
      if (!next.empty()) err << "more: --page-token " << next << " (or --all)\n";
      break;
    }
    if (next == request.page_token()) {
      return absl::InternalError("the server returned the same page token twice");
    }
    request.set_page_token(next);
  }
  if (mode == Output::kJson) {
    out << ToPrettyJson(all);
  } else if (mode != Output::kJsonLines) {
    out << table(all);
  }
  return absl::OkStatus();
}

absl::Status Client::AppendOrgEvents(const std::vector<v1::OrgEvent>& events,
                                     const AppendOptions& options, AppendTotals& totals) {
  return AppendAll<v1::AppendOrgRequest>(events, {}, options, totals);
}

absl::Status Client::GetCustomer(const v1::GetCustomerRequest& request, std::ostream& out,
                                 const OutputOptions& output) {
  return Query<v1::GetCustomerRequest, v1::CustomerView>(
      request, output, Output::kJson, out,
      [&](grpc::ClientContext* c, const v1::GetCustomerRequest& r, v1::CustomerView* p) {
        return lifecycle_->GetCustomer(c, r, p);
      },
      [&](const v1::CustomerView& v) { return FormatCustomerView(v, output.lang); });
}

absl::Status Client::ListCustomers(v1::ListCustomersRequest request, const PageOptions& options,
                                   std::ostream& out, std::ostream& err,
                                   const OutputOptions& output) {
  return Pages<v1::ListCustomersRequest, v1::ListCustomersResponse>(
      std::move(request), options, output, Output::kJsonLines, out, err,
      [&](grpc::ClientContext* c, const v1::ListCustomersRequest& r, v1::ListCustomersResponse* p) {
        return lifecycle_->ListCustomers(c, r, p);
      },
      [](v1::ListCustomersResponse& p) { return p.mutable_customers(); },
      [&](const v1::ListCustomersResponse& p) { return FormatCustomerList(p, output.lang); });
}

absl::Status Client::StageSummary(const v1::StageSummaryRequest& request, std::ostream& out,
                                  const OutputOptions& output) {
  return Query<v1::StageSummaryRequest, v1::StageSummaryResponse>(
      request, output, Output::kTable, out,
      [&](grpc::ClientContext* c, const v1::StageSummaryRequest& r, v1::StageSummaryResponse* p) {
        return lifecycle_->StageSummary(c, r, p);
      },
      [](const v1::StageSummaryResponse& p) { return FormatStageSummary(p); });
}

absl::Status Client::Timeline(v1::TimelineRequest request, const PageOptions& options,
                              std::ostream& out, std::ostream& err, const OutputOptions& output) {
  return Pages<v1::TimelineRequest, v1::TimelineResponse>(
      std::move(request), options, output, Output::kJsonLines, out, err,
      [&](grpc::ClientContext* c, const v1::TimelineRequest& r, v1::TimelineResponse* p) {
        return lifecycle_->Timeline(c, r, p);
      },
      [](v1::TimelineResponse& p) { return p.mutable_entries(); },
      [&](const v1::TimelineResponse& p) { return FormatTimeline(p, output.lang); });
}

absl::Status Client::GetValue(const v1::GetValueRequest& request, std::ostream& out,
                              const OutputOptions& output) {
  return Query<v1::GetValueRequest, v1::ValueView>(
      request, output, Output::kTable, out,
      [&](grpc::ClientContext* c, const v1::GetValueRequest& r, v1::ValueView* p) {
        return value_->GetValue(c, r, p);
      },
      [&](const v1::ValueView& v) { return FormatValueView(v, output.lang); });
}

absl::Status Client::ListValueCustomers(v1::ListValueCustomersRequest request,
                                        const PageOptions& options, std::ostream& out,
                                        std::ostream& err, const OutputOptions& output) {
  return Pages<v1::ListValueCustomersRequest, v1::ListValueCustomersResponse>(
      std::move(request), options, output, Output::kTable, out, err,
      [&](grpc::ClientContext* c, const v1::ListValueCustomersRequest& r,
          v1::ListValueCustomersResponse* p) { return value_->ListCustomers(c, r, p); },
      [](v1::ListValueCustomersResponse& p) { return p.mutable_customers(); },
      [&](const v1::ListValueCustomersResponse& p) { return FormatValueList(p, output.lang); });
}

absl::Status Client::TierSummary(const v1::TierSummaryRequest& request, std::ostream& out,
                                 const OutputOptions& output) {
  return Query<v1::TierSummaryRequest, v1::TierSummaryResponse>(
      request, output, Output::kTable, out,
      [&](grpc::ClientContext* c, const v1::TierSummaryRequest& r, v1::TierSummaryResponse* p) {
        return value_->TierSummary(c, r, p);
      },
      [&](const v1::TierSummaryResponse& p) { return FormatTierSummary(p, output.lang); });
}

absl::Status Client::Pareto(const v1::ParetoRequest& request, std::ostream& out,
                            const OutputOptions& output) {
  return Query<v1::ParetoRequest, v1::ParetoResponse>(
      request, output, Output::kTable, out,
      [&](grpc::ClientContext* c, const v1::ParetoRequest& r, v1::ParetoResponse* p) {
        return value_->Pareto(c, r, p);
      },
      [&](const v1::ParetoResponse& p) { return FormatPareto(p, output.lang); });
}

absl::Status Client::RefitClv(const v1::RefitClvRequest& request, std::ostream& out,
                              const OutputOptions& output) {
  return Query<v1::RefitClvRequest, v1::ClvModel>(
      request, output, Output::kTable, out,
      [&](grpc::ClientContext* c, const v1::RefitClvRequest& r, v1::ClvModel* p) {
        return value_->RefitClv(c, r, p);
      },
      [&](const v1::ClvModel& p) { return FormatClvModel(p, output.lang); });
}

absl::Status Client::GetClvModel(std::ostream& out, const OutputOptions& output) {
  return Query<v1::RefitClvRequest, v1::ClvModel>(
      v1::RefitClvRequest(), output, Output::kTable, out,
      [&](grpc::ClientContext* c, const v1::RefitClvRequest& r, v1::ClvModel* p) {
        return value_->GetClvModel(c, r, p);
      },
      [&](const v1::ClvModel& p) { return FormatClvModel(p, output.lang); });
}

absl::Status Client::GetReview(const v1::GetReviewRequest& request, std::ostream& out,
                               const OutputOptions& output) {
  return Query<v1::GetReviewRequest, v1::ReviewReport>(
      request, output, Output::kTable, out,
      [&](grpc::ClientContext* c, const v1::GetReviewRequest& r, v1::ReviewReport* p) {
        return review_->GetReview(c, r, p);
      },
      [&](const v1::ReviewReport& p) { return FormatReviewReport(p, {.lang = output.lang}); });
}

absl::Status Client::Funnel(v1::FunnelRequest request, const PageOptions& options,
                            std::ostream& out, std::ostream& err, const OutputOptions& output) {
  const ReviewFormatOptions format{.lang = output.lang, .dimension = request.dimension()};
  return Pages<v1::FunnelRequest, v1::FunnelResponse>(
      std::move(request), options, output, Output::kTable, out, err,
      [&](grpc::ClientContext* c, const v1::FunnelRequest& r, v1::FunnelResponse* p) {
        return review_->Funnel(c, r, p);
      },
      [](v1::FunnelResponse& p) { return p.mutable_slices(); },
      [&](const v1::FunnelResponse& p) { return FormatFunnel(p, format); });
}

absl::Status Client::Worklist(v1::WorklistRequest request, const PageOptions& options,
                              std::ostream& out, std::ostream& err, const OutputOptions& output) {
  return Pages<v1::WorklistRequest, v1::WorklistResponse>(
      std::move(request), options, output, Output::kTable, out, err,
      [&](grpc::ClientContext* c, const v1::WorklistRequest& r, v1::WorklistResponse* p) {
        return review_->Worklist(c, r, p);
      },
      [](v1::WorklistResponse& p) { return p.mutable_items(); },
      [&](const v1::WorklistResponse& p) { return FormatWorklist(p, {.lang = output.lang}); });
}

absl::Status Client::CompareReview(v1::CompareReviewRequest request, const PageOptions& options,
                                   const CompareFormatOptions& compare, std::ostream& out,
                                   std::ostream& err, const OutputOptions& output) {
  CompareFormatOptions format = compare;
  format.lang = output.lang;
  return Pages<v1::CompareReviewRequest, v1::CompareReviewResponse>(
      std::move(request), options, output, Output::kTable, out, err,
      [&](grpc::ClientContext* c, const v1::CompareReviewRequest& r, v1::CompareReviewResponse* p) {
        return review_->CompareReview(c, r, p);
      },
      [](v1::CompareReviewResponse& p) { return p.mutable_rows(); },
      [&](const v1::CompareReviewResponse& p) { return FormatCompareReview(p, format); });
}

namespace {

// Reads a server stream, printing each record, until it ends, the limit is
// reached or the deadline passes (a deadline ends a tail normally).
template <typename Record, typename Print>
absl::Status Drain(grpc::ClientContext& context, grpc::ClientReader<Record>& reader,
                   const StreamOptions& options, bool has_deadline, Print print) {
  Record record;
  int64_t n = 0;
  bool limit_reached = false;
  while (reader.Read(&record)) {
    print(record);
    if (options.limit > 0 && ++n >= options.limit) {
      limit_reached = true;
      context.TryCancel();
      while (reader.Read(&record)) {
      }
      break;
    }
  }
  const grpc::Status status = reader.Finish();
  if (status.ok()) return absl::OkStatus();
  if (limit_reached && status.error_code() == grpc::StatusCode::CANCELLED) {
    return absl::OkStatus();
  }
  if (has_deadline && status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return absl::OkStatus();
  }
  return FromGrpcStatus(status);
}

}  // namespace

absl::Status Client::Tail(const v1::SubscribeRequest& request, const StreamOptions& options,
                          std::ostream& out) {
  grpc::ClientContext context;
  Prepare(context, options_.stream_timeout);
  std::unique_ptr<grpc::ClientReader<v1::EventRecord>> reader =
      subscriptions_->Subscribe(&context, request);
  return Annotate(Drain(
      context, *reader, options, options_.stream_timeout != absl::InfiniteDuration(),
      [&](const v1::EventRecord& record) {
        out << (options.events_only ? ToJsonLine(record.event()) : ToJsonLine(record)) << std::endl;
      }));
}

absl::Status Client::Changes(const v1::SubscribeChangesRequest& request,
                             const StreamOptions& options, std::ostream& out) {
  grpc::ClientContext context;
  Prepare(context, options_.stream_timeout);
  std::unique_ptr<grpc::ClientReader<v1::ChangeRecord>> reader =
      subscriptions_->SubscribeChanges(&context, request);
  return Annotate(
      Drain(context, *reader, options, options_.stream_timeout != absl::InfiniteDuration(),
            [&](const v1::ChangeRecord& record) {
              out << (options.events_only ? ToJsonLine(record.change()) : ToJsonLine(record))
                  << std::endl;
            }));
}

absl::Status Client::ServerStatus(std::ostream& out, const OutputOptions& output) {
  return Query<v1::StatusRequest, v1::StatusResponse>(
      v1::StatusRequest(), output, Output::kTable, out,
      [&](grpc::ClientContext* c, const v1::StatusRequest& r, v1::StatusResponse* p) {
        return admin_->Status(c, r, p);
      },
      [](const v1::StatusResponse& p) { return FormatStatus(p); });
}

absl::Status Client::ListDeadLetters(v1::ListDeadLettersRequest request, const PageOptions& options,
                                     std::ostream& out, std::ostream& err,
                                     const OutputOptions& output) {
  return Pages<v1::ListDeadLettersRequest, v1::ListDeadLettersResponse>(
      std::move(request), options, output, Output::kTable, out, err,
      [&](grpc::ClientContext* c, const v1::ListDeadLettersRequest& r,
          v1::ListDeadLettersResponse* p) { return admin_->ListDeadLetters(c, r, p); },
      [](v1::ListDeadLettersResponse& p) { return p.mutable_dead_letters(); },
      [](const v1::ListDeadLettersResponse& p) { return FormatDeadLetters(p); });
}

absl::Status Client::ReplayDeadLetters(const v1::ReplayDeadLettersRequest& request, bool once,
                                       std::ostream& out, const OutputOptions& output) {
  v1::ReplayDeadLettersResponse total;
  while (true) {
    grpc::ClientContext context;
    Prepare(context, options_.timeout);
    v1::ReplayDeadLettersResponse response;
    const grpc::Status status = admin_->ReplayDeadLetters(&context, request, &response);
    if (!status.ok()) return Annotate(FromGrpcStatus(status));
    const int64_t released = total.customers_released() + response.customers_released();
    const int64_t replayed = total.events_replayed() + response.events_replayed();
    total = std::move(response);
    total.set_customers_released(released);
    total.set_events_replayed(replayed);
    // A call that moved nothing while saying `more` would loop forever.
    if (!total.more() || once || replayed == 0) break;
  }
  switch (Resolve(output, Output::kTable)) {
    case Output::kJson:
      out << ToPrettyJson(total);
      break;
    case Output::kJsonLines:
      out << ToJsonLine(total) << '\n';
      break;
    default:
      out << FormatReplay(total);
      break;
  }
  return absl::OkStatus();
}

absl::Status Client::Rebuild(const std::string& projection, bool wait, std::ostream& out,
                             std::ostream& err, bool tty, const OutputOptions& output,
                             absl::Duration poll) {
  v1::RebuildRequest request;
  request.set_projection(projection);
  v1::RebuildProgress progress;
  {
    grpc::ClientContext context;
    Prepare(context, options_.timeout);
    v1::RebuildResponse response;
    const grpc::Status status = admin_->Rebuild(&context, request, &response);
    if (!status.ok()) return Annotate(FromGrpcStatus(status));
    progress = response.progress();
  }
  // Done once the generation moved on (swapped) or the rebuild stopped.
  const int64_t from = progress.generation();
  int shown = -10;
  while (wait && progress.running()) {
    absl::SleepFor(poll);
    grpc::ClientContext context;
    Prepare(context, options_.timeout);
    v1::StatusResponse status;
    if (const grpc::Status s = admin_->Status(&context, v1::StatusRequest(), &status); !s.ok()) {
      return Annotate(FromGrpcStatus(s));
    }
    for (const v1::ProjectionStatus& p : status.projections()) {
      if (p.name() == projection) progress = p.rebuild();
    }
    if (tty) {
      err << "\r" << FormatRebuild(projection, progress) << "\x1b[K" << std::flush;
    } else if (progress.running() && progress.percent() >= shown + 10) {
      shown = progress.percent();
      err << FormatRebuild(projection, progress) << '\n';
    }
  }
  if (wait && tty) err << '\n';
  switch (Resolve(output, Output::kTable)) {
    case Output::kJson:
      out << ToPrettyJson(progress);
      break;
    case Output::kJsonLines:
      out << ToJsonLine(progress) << '\n';
      break;
    default:
      out << FormatRebuild(projection, progress) << '\n';
      break;
  }
  if (wait && !progress.running() && progress.generation() == from) {
    return absl::AbortedError(
        absl::StrCat("rebuild of ", projection, " stopped: ",
                     progress.error().empty() ? std::string("no reason given") : progress.error()));
  }
  return absl::OkStatus();
}

}  // namespace custops::ctl
