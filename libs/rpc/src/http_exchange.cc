// The answers: Exchange, which holds a request's answer from the handler's
// call to the connection's completion (a response, a stream, suspending and
// resuming the connection while it waits), the handle the handler gets, and
// queuing responses and streams on MHD.
#include <microhttpd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "http_server_internal.h"

namespace custops::rpc::http_internal {
namespace {

constexpr size_t kStreamBlockBytes = 32 << 10;

unsigned int ClampStatus(int status) {
  return status >= 100 && status <= 599 ? static_cast<unsigned int>(status) : 500u;
}

void AddHeaders(MHD_Response* response, const std::string& content_type,
                const std::vector<std::pair<std::string, std::string>>& headers, LogLimiter& log) {
  bool has_server = false;
  for (const auto& [name, value] : headers) {
    if (Lower(name) == "server") has_server = true;
    if (MHD_add_response_header(response, name.c_str(), value.c_str()) != MHD_YES) {
      log.Log(absl::StrCat("response header refused: ", name));
    }
  }
  if (!content_type.empty()) {
    if (MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type.c_str()) !=
        MHD_YES) {
      log.Log(absl::StrCat("response Content-Type refused: ", content_type));
    }
  }
  if (!has_server) MHD_add_response_header(response, MHD_HTTP_HEADER_SERVER, "custops");
}

void FreeBody(void* cls) { delete static_cast<std::string*>(cls); }

// Queues a complete response on `connection` (from its access handler).
MHD_Result QueueResponse(MHD_Connection* connection, HttpResponse response, LogLimiter& log) {
  auto* body = new std::string(std::move(response.body));
  MHD_Response* mhd = MHD_create_response_from_buffer_with_free_callback_cls(
      body->size(), body->data(), &FreeBody, body);
  if (mhd == nullptr) {
    delete body;
    return MHD_NO;
  }
  AddHeaders(mhd, response.content_type, response.headers, log);
  MHD_Result result = MHD_queue_response(connection, ClampStatus(response.status), mhd);
  MHD_destroy_response(mhd);
  return result;
}

// What the handler holds. When the last one goes, an unanswered exchange is
// answered 500 and an open stream is closed.
class ExchangeHandle final : public HttpExchange {
 public:
  explicit ExchangeHandle(std::shared_ptr<Exchange> exchange) : exchange_(std::move(exchange)) {}
  ~ExchangeHandle() override { exchange_->Abandon(); }

  void Respond(HttpResponse response) override { exchange_->Respond(std::move(response)); }
  void StartStream(int status, std::string content_type,
                   std::vector<std::pair<std::string, std::string>> headers) override {
    exchange_->StartStream(status, std::move(content_type), std::move(headers));
  }
  bool Send(std::string chunk) override { return exchange_->Send(std::move(chunk)); }
  void Close() override { exchange_->Close(); }
  bool closed() const override { return exchange_->closed(); }
  void OnClose(absl::AnyInvocable<void()> callback) override {
    exchange_->OnClose(std::move(callback));
  }

 private:
  const std::shared_ptr<Exchange> exchange_;
};

}  // namespace

MHD_Result QueueText(MHD_Connection* connection, int status, std::string text, LogLimiter& log) {
  return QueueResponse(connection, {.status = status, .body = std::move(text)}, log);
}

MHD_Result Exchange::OnBody(const char* data, size_t size) {
  size_t limit = core_->options.max_body_bytes;
  if (too_large_) {
    discarded_ += size;
    return discarded_ > 2 * limit ? MHD_NO : MHD_YES;
  }
  if (request_.body.size() + size > limit) {
    too_large_ = true;
    discarded_ = request_.body.size() + size;
    std::string().swap(request_.body);
    return MHD_YES;
  }
  request_.body.append(data, size);
  return MHD_YES;
}

MHD_Result Exchange::OnRequestComplete() {
  if (!handler_called_) {
    handler_called_ = true;
    if (too_large_) {
      {
        absl::MutexLock lock(&mu_);
        answer_ = Answer::kResponse;
      }
      return QueueText(connection_, 413, "request body too large\n", core_->log);
    }
    std::shared_ptr<HttpExchange> handle = MakeHandle();
    core_->handler(request_, handle);
    request_ = HttpRequest();
    handle.reset();  // answers 500 when the handler kept no reference
  }
  std::optional<HttpResponse> response;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ || client_gone_ || answer_ == Answer::kAbort) return MHD_NO;
    switch (answer_) {
      case Answer::kNone:
        Suspend();
        return MHD_YES;
      case Answer::kResponse:
        response = std::move(response_);
        response_.reset();
        break;
      case Answer::kStream:
        break;
      case Answer::kAbort:
        return MHD_NO;
    }
  }
  if (response.has_value()) return QueueResponse(connection_, *std::move(response), core_->log);
  return QueueStream();
}

ssize_t Exchange::ReadStream(char* buffer, size_t max) {
  absl::MutexLock lock(&mu_);
  if (stopping_ || client_gone_ || overflow_) return MHD_CONTENT_READER_END_WITH_ERROR;
  size_t n = 0;
  while (n < max && !chunks_.empty()) {
    std::string& front = chunks_.front();
    size_t take = std::min(max - n, front.size() - front_offset_);
    std::memcpy(buffer + n, front.data() + front_offset_, take);
    n += take;
    front_offset_ += take;
    queued_bytes_ -= take;
    if (front_offset_ == front.size()) {
      chunks_.pop_front();
      front_offset_ = 0;
    }
  }
  if (n > 0) return static_cast<ssize_t>(n);
  if (stream_end_) return MHD_CONTENT_READER_END_OF_STREAM;
  // Nothing to send: returning 0 without suspending would make MHD call
  // again at once (a busy loop). Suspend; Send/Close/Stop resume.
  Suspend();
  return 0;
}

void Exchange::OnHangup(uint64_t token) {
  absl::MutexLock lock(&mu_);
  if (!suspended_ || token != watch_token_) return;
  client_gone_ = true;
  Resume();
}

void Exchange::BeginStop() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
  if (suspended_) Resume();
}

void Exchange::Respond(HttpResponse response) {
  absl::MutexLock lock(&mu_);
  if (answer_ != Answer::kNone || ClosedLocked()) return;
  answer_ = Answer::kResponse;
  response_ = std::move(response);
  if (suspended_) Resume();
}

void Exchange::StartStream(int status, std::string content_type,
                           std::vector<std::pair<std::string, std::string>> headers) {
  absl::MutexLock lock(&mu_);
  if (answer_ != Answer::kNone || ClosedLocked()) return;
  answer_ = Answer::kStream;
  stream_head_ = {
      .status = status, .content_type = std::move(content_type), .headers = std::move(headers)};
  if (suspended_) Resume();
}

bool Exchange::Send(std::string chunk) {
  bool overflowed = false;
  {
    absl::MutexLock lock(&mu_);
    if (answer_ != Answer::kStream || stream_end_ || ClosedLocked()) return false;
    if (chunk.empty()) return true;
    if (queued_bytes_ + chunk.size() > core_->options.max_stream_queue_bytes) {
      overflow_ = true;
      chunks_.clear();
      queued_bytes_ = 0;
      if (suspended_) {
        Resume();
      } else if (!completed_) {
        // MHD is blocked writing to a client that does not read; it would
        // notice only at the idle timeout. The socket stays open until
        // the request completes (MHD closes it after notifying), so
        // shutting it down here is safe and makes the write fail now.
        ::shutdown(fd_, SHUT_RDWR);
      }
      overflowed = true;
    } else {
      queued_bytes_ += chunk.size();
      chunks_.push_back(std::move(chunk));
      if (suspended_) Resume();
    }
  }
  if (overflowed) {
    core_->log.Log(absl::StrCat("stream closed: client does not read (more than ",
                                core_->options.max_stream_queue_bytes, " bytes queued)"));
    return false;
  }
  return true;
}

void Exchange::Close() {
  absl::MutexLock lock(&mu_);
  if (ClosedLocked()) return;
  if (answer_ == Answer::kNone) {
    answer_ = Answer::kAbort;
  } else if (answer_ == Answer::kStream) {
    stream_end_ = true;
  } else {
    return;
  }
  if (suspended_) Resume();
}

bool Exchange::closed() const {
  absl::MutexLock lock(&mu_);
  return ClosedLocked();
}

void Exchange::OnClose(absl::AnyInvocable<void()> callback) {
  {
    absl::MutexLock lock(&mu_);
    if (!completed_) {
      on_close_.push_back(std::move(callback));
      return;
    }
  }
  callback();
}

void Exchange::Abandon() {
  bool unanswered = false;
  {
    absl::MutexLock lock(&mu_);
    if (ClosedLocked()) return;
    if (answer_ == Answer::kNone) {
      unanswered = true;
      answer_ = Answer::kResponse;
      response_ = HttpResponse{.status = 500, .body = "request dropped without an answer\n"};
    } else if (answer_ == Answer::kStream && !stream_end_) {
      stream_end_ = true;
    } else {
      return;
    }
    if (suspended_) Resume();
  }
  if (unanswered) core_->log.Log("handler dropped an exchange without answering: sent 500");
}

std::shared_ptr<HttpExchange> Exchange::MakeHandle() {
  return std::make_shared<ExchangeHandle>(shared_from_this());
}

void Exchange::Suspend() {
  MHD_suspend_connection(connection_);
  suspended_ = true;
  watch_token_ = core_->watcher.Watch(fd_, weak_from_this());
  if (watch_token_ == 0) {
    core_->log.Log(
        "cannot watch a suspended connection for hang-ups; its client leaving "
        "goes unnoticed until it is answered");
  }
}

void Exchange::Resume() {
  core_->watcher.Unwatch(fd_, watch_token_);
  watch_token_ = 0;
  suspended_ = false;
  MHD_resume_connection(connection_);
}

MHD_Result Exchange::QueueStream() {
  HttpResponse head;
  {
    absl::MutexLock lock(&mu_);
    head = std::move(stream_head_);
  }
  auto* holder = new std::shared_ptr<Exchange>(shared_from_this());
  MHD_Response* mhd = MHD_create_response_from_callback(
      MHD_SIZE_UNKNOWN, kStreamBlockBytes,
      [](void* cls, uint64_t, char* buffer, size_t max) {
        return (*static_cast<std::shared_ptr<Exchange>*>(cls))->ReadStream(buffer, max);
      },
      holder, [](void* cls) { delete static_cast<std::shared_ptr<Exchange>*>(cls); });
  if (mhd == nullptr) {
    delete holder;
    return MHD_NO;
  }
  AddHeaders(mhd, head.content_type, head.headers, core_->log);
  MHD_Result result = MHD_queue_response(connection_, ClampStatus(head.status), mhd);
  MHD_destroy_response(mhd);
  return result;
}

void Exchange::Complete() {
  std::vector<absl::AnyInvocable<void()>> callbacks;
  std::optional<HttpResponse> response;
  std::deque<std::string> chunks;
  {
    absl::MutexLock lock(&mu_);
    if (completed_) return;
    completed_ = true;
    if (suspended_) {  // not expected: MHD completes only running connections
      core_->watcher.Unwatch(fd_, watch_token_);
      suspended_ = false;
    }
    connection_ = nullptr;
    callbacks.swap(on_close_);
    response.swap(response_);
    chunks.swap(chunks_);
    queued_bytes_ = 0;
  }
  core_->Unregister(this);
  for (auto& callback : callbacks) callback();
}

}  // namespace custops::rpc::http_internal
