#include "custops/rpc/connect.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>
#include <zlib.h>

#include <map>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"

namespace custops::rpc {
namespace {

namespace pb = google::protobuf;

// The Connect-Timeout-Ms header holds at most 10 digits.
constexpr size_t kMaxTimeoutDigits = 10;
const std::string kEmptyObject = "{}";

// `s` as the inside of a JSON string. Bytes that are not UTF-8 (a parser's
// message may quote the client's bytes) become U+FFFD, so the answer is
// always valid JSON.
std::string JsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const int n = (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
      const bool ok = n > 0 && i + n < s.size() && ValidUtf8(s.substr(i, n + 1));
      if (ok) {
        out.append(s.substr(i, n + 1));
        i += n + 1;
      } else {
        out += "\\ufffd";
        ++i;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          absl::StrAppend(&out, "\\u00", absl::Hex(c, absl::kZeroPad2));
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  return out;
}

std::string ErrorJson(const absl::Status& status) {
  return absl::StrCat("{\"code\":\"", ConnectCode(status.code()), "\",\"message\":\"",
                      JsonEscape(std::string(status.message())), "\"}");
}

// "application/json; charset=utf-8" -> "application/json".
std::string MediaType(const std::string& content_type) {
  const std::string type = content_type.substr(0, content_type.find(';'));
  return absl::AsciiStrToLower(absl::StripAsciiWhitespace(type));
}

absl::StatusOr<std::string> ToJson(const pb::Message& message) {
  std::string out;
  pb::util::JsonPrintOptions options;
  const auto s = pb::util::MessageToJsonString(message, &out, options);
  if (!s.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot write the answer as JSON: ", std::string(s.message())));
  }
  return out;
}

// Answers at least this large are gzipped for clients that accept it.
constexpr size_t kGzipFrom = 1024;

// `body` gzipped (zlib level 5: most of the gain for little CPU); "" if
// zlib fails.
std::string Gzip(const std::string& body) {
  z_stream z{};
  if (deflateInit2(&z, 5, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return "";
  std::string out(deflateBound(&z, body.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  z.avail_in = static_cast<uInt>(body.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int result = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return result == Z_STREAM_END ? out : "";
}

// A request's deadline: Connect-Timeout-Ms from now, capped at max_wait.
absl::StatusOr<absl::Time> DeadlineOf(const HttpRequest& request, absl::Duration max_wait) {
  const absl::Time now = absl::Now();
  const std::string timeout = request.Header("connect-timeout-ms");
  if (timeout.empty()) return now + max_wait;
  int64_t ms = 0;
  if (timeout.size() > kMaxTimeoutDigits || !absl::SimpleAtoi(timeout, &ms) || ms < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "connect-timeout-ms: \"", timeout, "\" is not a count of milliseconds (1..10 digits)"));
  }
  return now + std::min(absl::Milliseconds(ms), max_wait);
}

class HttpUnaryCall final : public UnaryCall {
 public:
  HttpUnaryCall(const MethodEntry& entry, Identity identity, absl::Time deadline,
                std::string client, std::string raw, Gateway& gateway,
                std::shared_ptr<HttpExchange> exchange, std::map<std::string, std::string> headers,
                bool json, std::string peer)
      : UnaryCall(entry.name, std::move(identity), deadline, std::move(client), std::move(raw),
                  gateway.workers(), gateway.limits()),
        entry_(entry),
        exchange_(std::move(exchange)),
        headers_(std::move(headers)),
        json_(json),
        peer_(std::move(peer)) {}

  std::string Metadata(std::string_view name) const override {
    auto it = headers_.find(std::string(name));
    return it == headers_.end() ? std::string() : it->second;
  }

 protected:
  void Deliver(absl::StatusOr<std::string> bytes) override {
    if (Audited(entry_)) Gateway::Audit(identity(), entry_.name, bytes.status(), peer_);
    if (!bytes.ok()) {
      exchange_->Respond(ConnectError(bytes.status()));
      return;
    }
    if (!json_) {
      Respond("application/proto", std::move(*bytes));
      return;
    }
    std::unique_ptr<pb::Message> answer(pb::MessageFactory::generated_factory()
                                            ->GetPrototype(entry_.descriptor->output_type())
                                            ->New());
    absl::StatusOr<std::string> json =
        answer->ParseFromString(*bytes)
            ? ToJson(*answer)
            : absl::InternalError("the answer is not a valid " +
                                  entry_.descriptor->output_type()->full_name());
    if (!json.ok()) {
      exchange_->Respond(ConnectError(json.status()));
      return;
    }
    Respond("application/json", std::move(*json));
  }
  Transport transport() const override { return Transport::kHttp; }

 private:
  // Sends an answer, gzipped when large and the client accepts gzip (the
  // Connect protocol's unary compression is plain HTTP content coding).
  void Respond(std::string content_type, std::string body) {
    HttpResponse response{.content_type = std::move(content_type)};
    if (body.size() >= kGzipFrom && absl::StrContains(Metadata("accept-encoding"), "gzip")) {
      std::string gz = Gzip(body);
      if (!gz.empty()) {
        body = std::move(gz);
        response.headers.emplace_back("Content-Encoding", "gzip");
      }
    }
    response.headers.emplace_back("Vary", "Accept-Encoding");
    response.body = std::move(body);
    exchange_->Respond(std::move(response));
  }

  const MethodEntry& entry_;
  std::shared_ptr<HttpExchange> exchange_;
  std::map<std::string, std::string> headers_;
  bool json_;
  std::string peer_;
};

class HttpStreamCall final : public Call {
 public:
  HttpStreamCall(std::string method, Identity identity, std::string client, std::string raw,
                 Gateway& gateway, std::map<std::string, std::string> headers)
      : Call(std::move(method), std::move(identity), absl::InfiniteFuture(), std::move(client),
             std::move(raw), gateway.workers(), gateway.limits()),
        headers_(std::move(headers)) {}

  std::string Metadata(std::string_view name) const override {
    auto it = headers_.find(std::string(name));
    return it == headers_.end() ? std::string() : it->second;
  }

 private:
  std::map<std::string, std::string> headers_;
};

// A server stream as Server-Sent Events on one HTTP exchange. The stream's
// call and request live as long as the sink (the handler holds it).
class SseSink final : public StreamSink, public std::enable_shared_from_this<SseSink> {
 public:
  SseSink(std::shared_ptr<HttpExchange> exchange, base::Executor& workers,
          const pb::Descriptor& record)
      : exchange_(std::move(exchange)),
        workers_(workers),
        resume_token_(record.FindFieldByName("resume_token")) {}

  // Ties the sink to its exchange: the client leaving cancels the stream
  // and `on_close` (releasing the stream's slot) runs once.
  void Watch(absl::AnyInvocable<void()> on_close) {
    exchange_->OnClose([weak = weak_from_this(), on_close = std::move(on_close)]() mutable {
      on_close();
      if (std::shared_ptr<SseSink> self = weak.lock()) self->Closed();
    });
  }

  void Write(const pb::Message& message, absl::AnyInvocable<void(bool) &&> written) override {
    bool ok = false;
    {
      absl::MutexLock lock(&mu_);
      if (!finished_) {
        StartLocked();
        absl::StatusOr<std::string> json = ToJson(message);
        if (json.ok()) {
          std::string chunk;
          if (resume_token_ != nullptr) {
            const std::string token = message.GetReflection()->GetString(message, resume_token_);
            if (!token.empty() && token.find_first_of("\r\n") == std::string::npos) {
              absl::StrAppend(&chunk, "id: ", token, "\n");
            }
          }
          absl::StrAppend(&chunk, "data: ", *json, "\n\n");
          ok = exchange_->Send(std::move(chunk));
        }
      }
    }
    // On the worker pool: the handler's next Write comes from `written`, and
    // Send never waits, so calling it here would recurse once per record.
    workers_.Schedule([written = std::move(written), ok]() mutable { std::move(written)(ok); });
  }

  void Finish(absl::Status status) override {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    finished_ = true;
    on_cancel_ = nullptr;
    if (!started_) {
      if (!status.ok()) {
        exchange_->Respond(ConnectError(status));
        return;
      }
      StartLocked();
    }
    if (!status.ok() && status.code() != absl::StatusCode::kCancelled) {
      exchange_->Send(absl::StrCat("event: error\ndata: ", ErrorJson(status), "\n\n"));
    }
    exchange_->Close();
  }

  void OnCancel(absl::AnyInvocable<void() &&> on_cancel) override {
    absl::MutexLock lock(&mu_);
    if (!finished_) on_cancel_ = std::move(on_cancel);
  }

  // After the handler returned: a stream it neither answered nor wrote to
  // starts now, so the client sees its headers (200) at once.
  void StartIfPending() {
    absl::MutexLock lock(&mu_);
    if (!finished_) StartLocked();
  }

  std::unique_ptr<HttpStreamCall> call;
  std::unique_ptr<pb::Message> request;

 private:
  void StartLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (started_) return;
    started_ = true;
    exchange_->StartStream(200, "text/event-stream; charset=utf-8",
                           {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}});
  }

  void Closed() {
    absl::AnyInvocable<void() &&> on_cancel;
    {
      absl::MutexLock lock(&mu_);
      on_cancel = std::move(on_cancel_);
    }
    if (on_cancel) std::move(on_cancel)();
  }

  std::shared_ptr<HttpExchange> exchange_;
  base::Executor& workers_;
  const pb::FieldDescriptor* resume_token_;
  absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  absl::AnyInvocable<void() &&> on_cancel_ ABSL_GUARDED_BY(mu_);
};

// The query parameter `name` as a list: repeated and comma-separated
// values alike ("types=a,b&types=c").
std::vector<std::string> ListParam(const HttpRequest& request, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& [key, value] : request.query) {
    if (key != name) continue;
    for (absl::string_view v : absl::StrSplit(value, ',', absl::SkipEmpty())) out.emplace_back(v);
  }
  return out;
}

}  // namespace

const char* ConnectCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return "ok";
    case absl::StatusCode::kCancelled:
      return "canceled";
    case absl::StatusCode::kUnknown:
      return "unknown";
    case absl::StatusCode::kInvalidArgument:
      return "invalid_argument";
    case absl::StatusCode::kDeadlineExceeded:
      return "deadline_exceeded";
    case absl::StatusCode::kNotFound:
      return "not_found";
    case absl::StatusCode::kAlreadyExists:
      return "already_exists";
    case absl::StatusCode::kPermissionDenied:
      return "permission_denied";
    case absl::StatusCode::kResourceExhausted:
      return "resource_exhausted";
    case absl::StatusCode::kFailedPrecondition:
      return "failed_precondition";
    case absl::StatusCode::kAborted:
      return "aborted";
    case absl::StatusCode::kOutOfRange:
      return "out_of_range";
    case absl::StatusCode::kUnimplemented:
      return "unimplemented";
    case absl::StatusCode::kInternal:
      return "internal";
    case absl::StatusCode::kUnavailable:
      return "unavailable";
    case absl::StatusCode::kDataLoss:
      return "data_loss";
    case absl::StatusCode::kUnauthenticated:
      return "unauthenticated";
    default:
      return "unknown";
  }
}

int ConnectHttpStatus(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kCancelled:
      return 499;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    default:
      return 500;
  }
}

HttpResponse ConnectError(const absl::Status& status) {
  HttpResponse response{.status = ConnectHttpStatus(status.code()),
                        .content_type = "application/json",
                        .body = ErrorJson(status)};
  if (status.code() == absl::StatusCode::kUnauthenticated) {
    response.headers.emplace_back("WWW-Authenticate", "Bearer");
  }
  return response;
}

ConnectHandler::ConnectHandler(Gateway& gateway, const MethodTable& table)
    : gateway_(gateway), table_(table) {}

bool ConnectHandler::Serve(const HttpRequest& request,
                           const std::shared_ptr<HttpExchange>& exchange) {
  if (request.path == "/v1/subscribe" || request.path == "/v1/changes") {
    const MethodEntry* entry =
        table_.Find(request.path == "/v1/subscribe" ? "custops.v1.Subscriptions/Subscribe"
                                                    : "custops.v1.Subscriptions/SubscribeChanges");
    if (entry == nullptr) {
      exchange->Respond(ConnectError(
          absl::UnimplementedError("this instance serves no subscriptions (its roles)")));
    } else if (request.method != "GET") {
      HttpResponse r = ConnectError(absl::InvalidArgumentError(
          absl::StrCat(request.path, " is a stream of Server-Sent Events: use GET")));
      r.status = 405;
      r.headers.emplace_back("Allow", "GET");
      exchange->Respond(std::move(r));
    } else {
      ServeStream(*entry, request, exchange);
    }
    return true;
  }
  if (request.path.size() < 2 || request.path[0] != '/') return false;
  const std::string name = request.path.substr(1);
  const MethodEntry* entry = table_.Find(name);
  if (entry == nullptr) {
    // A method of the API that this instance does not serve (its roles), or
    // a streaming one: answer as Connect would rather than as a missing page.
    if (name.find('/') != std::string::npos && name.rfind("custops.v1.", 0) == 0) {
      exchange->Respond(ConnectError(
          absl::UnimplementedError(absl::StrCat(name, " is not served by this instance"))));
      return true;
    }
    return false;
  }
  if (!entry->unary) {
    exchange->Respond(ConnectError(absl::UnimplementedError(
        absl::StrCat(name,
                     " is a server stream: read it as Server-Sent Events at /v1/subscribe or "
                     "/v1/changes, or over gRPC"))));
    return true;
  }
  if (request.method != "POST") {
    HttpResponse r = ConnectError(
        absl::InvalidArgumentError(absl::StrCat(name, " answers POST (the Connect protocol)")));
    r.status = 405;
    r.headers.emplace_back("Allow", "POST");
    exchange->Respond(std::move(r));
    return true;
  }
  ServeUnary(*entry, request, exchange);
  return true;
}

void ConnectHandler::ServeUnary(const MethodEntry& entry, const HttpRequest& request,
                                const std::shared_ptr<HttpExchange>& exchange) {
  const absl::Time started = absl::Now();
  auto refuse = [&](const absl::Status& s) {
    gateway_.stats().Record(entry.name, Transport::kHttp, s.code(), absl::Now() - started);
    exchange->Respond(ConnectError(s));
  };
  const std::string media = MediaType(request.Header("content-type"));
  const bool json = media == "application/json";
  if (!json && media != "application/proto") {
    HttpResponse r = ConnectError(absl::InvalidArgumentError(
        absl::StrCat("content-type: \"", request.Header("content-type"),
                     "\" is not served; use application/json or application/proto")));
    r.status = 415;
    r.headers.emplace_back("Accept-Post", "application/json, application/proto");
    gateway_.stats().Record(entry.name, Transport::kHttp, absl::StatusCode::kInvalidArgument,
                            absl::Now() - started);
    exchange->Respond(std::move(r));
    return;
  }
  const std::string encoding = absl::AsciiStrToLower(request.Header("content-encoding"));
  if (!encoding.empty() && encoding != "identity") {
    refuse(absl::UnimplementedError(
        absl::StrCat("content-encoding: \"", encoding, "\" is not served; send identity")));
    return;
  }
  absl::StatusOr<absl::Time> deadline = DeadlineOf(request, gateway_.options().max_wait);
  if (!deadline.ok()) return refuse(deadline.status());
  const std::string authorization = request.Header("authorization");
  std::string raw;
  absl::StatusOr<Identity> identity;
  if (json) {
    // The token first: a JSON body is parsed only for a caller who may call.
    identity = gateway_.Authorize(entry, authorization, request.peer);
    if (!identity.ok()) return refuse(identity.status());
    if (request.body.size() > gateway_.LimitOf(entry)) {
      return refuse(gateway_.TooLarge(entry, request.body.size()));
    }
    std::unique_ptr<pb::Message> message(pb::MessageFactory::generated_factory()
                                             ->GetPrototype(entry.descriptor->input_type())
                                             ->New());
    const std::string& body =
        absl::StripAsciiWhitespace(request.body).empty() ? kEmptyObject : request.body;
    pb::util::JsonParseOptions options;
    if (const auto s = pb::util::JsonStringToMessage(body, message.get(), options); !s.ok()) {
      return refuse(absl::InvalidArgumentError(absl::StrCat(
          "request is not valid JSON for ", entry.descriptor->input_type()->full_name(), ": ",
          std::string(s.message()))));
    }
    raw = message->SerializeAsString();
    if (absl::Status checked = gateway_.Check(entry, raw); !checked.ok()) return refuse(checked);
  } else {
    identity = gateway_.Admit(entry, authorization, request.peer, request.body);
    if (!identity.ok()) return refuse(identity.status());
    raw = request.body;
  }
  std::string client = gateway_.ClientOf(*identity, request.peer);
  auto call = std::make_unique<HttpUnaryCall>(entry, std::move(*identity), *deadline,
                                              std::move(client), std::move(raw), gateway_, exchange,
                                              request.headers, json, request.peer);
  gateway_.Dispatch(entry, std::move(call), started);
}

void ConnectHandler::ServeStream(const MethodEntry& entry, const HttpRequest& request,
                                 const std::shared_ptr<HttpExchange>& exchange) {
  const pb::Descriptor& input = *entry.descriptor->input_type();
  const pb::Descriptor& output = *entry.descriptor->output_type();
  std::unique_ptr<pb::Message> message(
      pb::MessageFactory::generated_factory()->GetPrototype(&input)->New());
  const pb::Reflection& reflection = *message->GetReflection();
  // The query's parameters onto the request: from (or Last-Event-ID, where
  // a reconnecting EventSource resumes), types, customer_ids.
  std::string from = request.Query("from");
  if (from.empty()) from = request.Header("last-event-id");
  const std::vector<std::string> types = ListParam(request, "types");
  const std::vector<std::string> customers = ListParam(request, "customer_ids");
  // Undecodable text is refused as over gRPC (proto3 strings are UTF-8).
  for (const auto& [name, values] :
       {std::pair{"from", std::vector<std::string>{from}}, std::pair{"types", types},
        std::pair{"customer_ids", customers}}) {
    for (const std::string& v : values) {
      if (!ValidUtf8(v)) {
        exchange->Respond(
            ConnectError(absl::InvalidArgumentError(absl::StrCat(name, ": invalid UTF-8"))));
        return;
      }
    }
  }
  reflection.SetString(message.get(), input.FindFieldByName("from"), from);
  const pb::FieldDescriptor* types_field = input.FindFieldByName("event_types");
  if (types_field == nullptr) types_field = input.FindFieldByName("change_types");
  for (const std::string& t : types) reflection.AddString(message.get(), types_field, t);
  for (const std::string& id : customers) {
    reflection.AddString(message.get(), input.FindFieldByName("customer_ids"), id);
  }
  std::string raw = message->SerializeAsString();
  absl::StatusOr<Identity> identity =
      gateway_.Admit(entry, request.Header("authorization"), request.peer, raw);
  if (!identity.ok()) {
    exchange->Respond(ConnectError(identity.status()));
    return;
  }
  std::string client = gateway_.ClientOf(*identity, request.peer);
  if (absl::Status s = gateway_.limits().Acquire(client, ClientLimits::kStream); !s.ok()) {
    exchange->Respond(ConnectError(s));
    return;
  }
  auto sink = std::make_shared<SseSink>(exchange, gateway_.workers(), output);
  sink->Watch(
      [&limits = gateway_.limits(), client] { limits.Release(client, ClientLimits::kStream); });
  sink->call = std::make_unique<HttpStreamCall>(entry.name, std::move(*identity), client,
                                                std::move(raw), gateway_, request.headers);
  sink->request = std::move(message);
  entry.stream(*sink->call, *sink->request, sink);
  sink->StartIfPending();
}

}  // namespace custops::rpc
