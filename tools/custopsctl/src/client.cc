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
#include "custops/v1/admin.grpc.pb.h"
#include "custops/v1/ingest.grpc.pb.h"
#include "custops/v1/lifecycle.grpc.pb.h"

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

}  // namespace

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status out(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
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
      admin_(v1::Admin::NewStub(channel_)) {}

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

absl::Status Client::GetCustomer(const v1::GetCustomerRequest& request, std::ostream& out) {
  grpc::ClientContext context;
  Prepare(context, options_.timeout);
  v1::CustomerView view;
  const grpc::Status status = lifecycle_->GetCustomer(&context, request, &view);
  if (!status.ok()) return Annotate(FromGrpcStatus(status));
  out << ToPrettyJson(view);
  return absl::OkStatus();
}

// Calls `call` page by page (all pages with --all), printing each item of
// `items(response)` as a JSON line.
template <typename Request, typename Response, typename Call, typename Items>
absl::Status Client::Pages(Request request, const PageOptions& options, std::ostream& out,
                           std::ostream& err, Call call, Items items) {
  while (true) {
    grpc::ClientContext context;
    Prepare(context, options_.timeout);
    Response response;
    const grpc::Status status = call(&context, request, &response);
    if (!status.ok()) return Annotate(FromGrpcStatus(status));
    for (const auto& item : items(response)) out << ToJsonLine(item) << '\n';
    if (response.next_page_token().empty()) return absl::OkStatus();
    if (!options.all) {
      err << "more: --page-token " << response.next_page_token() << " (or --all)\n";
      return absl::OkStatus();
    }
    if (response.next_page_token() == request.page_token()) {
      return absl::InternalError("the server returned the same page token twice");
    }
    request.set_page_token(response.next_page_token());
  }
}

absl::Status Client::ListCustomers(v1::ListCustomersRequest request, const PageOptions& options,
                                   std::ostream& out, std::ostream& err) {
  return Pages<v1::ListCustomersRequest, v1::ListCustomersResponse>(
      std::move(request), options, out, err,
      [&](grpc::ClientContext* c, const v1::ListCustomersRequest& r, v1::ListCustomersResponse* p) {
        return lifecycle_->ListCustomers(c, r, p);
      },
      [](const v1::ListCustomersResponse& p) -> const auto& { return p.customers(); });
}

absl::Status Client::StageSummary(const v1::StageSummaryRequest& request, std::ostream& out) {
  grpc::ClientContext context;
  Prepare(context, options_.timeout);
  v1::StageSummaryResponse response;
  const grpc::Status status = lifecycle_->StageSummary(&context, request, &response);
  if (!status.ok()) return Annotate(FromGrpcStatus(status));
  out << FormatStageSummary(response);
  return absl::OkStatus();
}

absl::Status Client::Timeline(v1::TimelineRequest request, const PageOptions& options,
                              std::ostream& out, std::ostream& err) {
  return Pages<v1::TimelineRequest, v1::TimelineResponse>(
      std::move(request), options, out, err,
      [&](grpc::ClientContext* c, const v1::TimelineRequest& r, v1::TimelineResponse* p) {
        return lifecycle_->Timeline(c, r, p);
      },
      [](const v1::TimelineResponse& p) -> const auto& { return p.entries(); });
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

absl::Status Client::ServerStatus(std::ostream& out) {
  grpc::ClientContext context;
  Prepare(context, options_.timeout);
  v1::StatusResponse response;
  const grpc::Status status = admin_->Status(&context, v1::StatusRequest(), &response);
  if (!status.ok()) return Annotate(FromGrpcStatus(status));
  out << FormatStatus(response);
  return absl::OkStatus();
}

}  // namespace custops::ctl
