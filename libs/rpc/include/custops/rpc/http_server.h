// An HTTP/1.1 (and HTTPS) server for custops' HTTP listener, on GNU
// libmicrohttpd (MHD). Why MHD: it is event-driven (epoll; a small internal
// thread pool serves thousands of connections, so idle keep-alive connections
// and long-lived streams hold no thread, unlike cpp-httplib's thread per
// connection); it can suspend a connection and resume it later from any
// thread, which is how answers that complete asynchronously (consistency-token
// waits, Server-Sent Events) are served without blocking a thread; and it does
// TLS through GnuTLS, client certificates included.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<rpc::HttpServer> server,
//                    rpc::HttpServer::Start({.host = "0.0.0.0", .port = 8080},
//                        [&](const rpc::HttpRequest& request,
//                            std::shared_ptr<rpc::HttpExchange> exchange) {
//                          if (request.path == "/healthz") {
//                            exchange->Respond({.body = "ok\n"});
//                            return;
//                          }
//                          // Answer later, from any thread; the handler returns at once.
//                          waiters.Add(request.Query("token"), exchange);
//                          exchange->OnClose([&waiters, raw = exchange.get()] {
//                            waiters.Drop(raw);
//                          });
//                        }));
//   ...
//   server->Stop();
//
// Behaviour worth knowing:
// - Every request is handed to the handler once, complete (body included),
//   on one of MHD's threads. The handler must not block: it answers now or
//   later through the HttpExchange; the connection waits (suspended, holding
//   no thread) until it does.
// - A pending exchange or an idle stream is suspended in MHD, so
//   `idle_timeout` does not apply to it (MHD stops the clock of a suspended
//   connection) and MHD itself would not notice the client leaving; the
//   server watches the sockets of suspended connections for a hang-up
//   (FIN or RST) and ends their exchanges when the client goes away, which
//   fires OnClose. A FIN cannot be told from a full close, so a client that
//   half-closes its socket (shutdown(SHUT_WR)) after its request counts as
//   gone while its answer is pending (an answer given during the handler
//   call is still sent).
// - A request whose Content-Length exceeds `max_body_bytes` is answered 413
//   right after its headers, before any of the body is read (and the
//   connection is closed after the answer); a chunked body that grows past
//   the limit is read to its end without being buffered and answered 413,
//   unless it goes on past twice the limit, which closes the connection
//   without an answer.
// - Mutual TLS (`tls_client_ca_file`): a client certificate is required and
//   verified against that CA during the TLS handshake; a client without one,
//   or with one the CA did not sign, fails the handshake and gets no HTTP
//   answer. As a second line of defence every request on such a server is
//   checked again before the handler sees it and refused with 403 "client
//   certificate required" if its peer is not verified.
// - A plaintext request to an HTTPS server gets no HTTP answer (the TLS
//   handshake fails and the connection is closed).
// - MHD's error log goes to spdlog at warn level, at most 5 lines a second
//   (the count of suppressed lines is logged), so a hostile client cannot
//   flood the log; the lines MHD writes when this server ends a connection
//   on purpose (client gone, Close() before an answer) go to debug.
// - Responses carry `Server: custops` and MHD's `Date`.
#ifndef CUSTOPS_RPC_HTTP_SERVER_H_
#define CUSTOPS_RPC_HTTP_SERVER_H_

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace custops::rpc {

// One complete HTTP request, as handed to the HttpHandler. Plain data; valid
// only during the handler call (copy what outlives it).
struct HttpRequest {
  // "GET", "POST", ... as sent (upper case by convention).
  std::string method;
  // The path without the query string, percent-decoded: "/metrics".
  std::string path;
  // The query parameters, percent-decoded, in the order sent; a parameter
  // without "=" has an empty value.
  std::vector<std::pair<std::string, std::string>> query;
  // Header names lower-cased; a repeated header's values joined with ", ".
  std::map<std::string, std::string> headers;
  // The whole body (at most HttpServerOptions::max_body_bytes).
  std::string body;
  // The client's IP address without the port ("127.0.0.1", "::1"; an
  // IPv4-mapped IPv6 address is given as IPv4).
  std::string peer;
  // True when the request came over TLS.
  bool tls = false;
  // The subject DN of the client certificate, when mutual TLS verified one;
  // "" otherwise.
  std::string client_cert_subject;

  // The value of header `name` (matched case-insensitively); "" when absent.
  std::string Header(std::string_view name) const;
  // The first value of query parameter `name`; "" when absent.
  std::string Query(std::string_view name) const;
};

// A complete answer.
struct HttpResponse {
  // HTTP status; outside [100, 599] is sent as 500.
  int status = 200;
  // The Content-Type header; "" sends none.
  std::string content_type = "text/plain; charset=utf-8";
  // Extra headers. Content-Length, Transfer-Encoding and headers whose name
  // or value holds CR, LF or TAB are refused by MHD: dropped and logged.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// One request's answer channel, handed to the handler as a shared_ptr that
// the handler may keep and use from any thread, now or later. Thread-safe.
//
// The exchange answers exactly once: either Respond, or StartStream followed
// by any number of Send and one Close. Calls beyond that are no-ops. If the
// client goes away first (or the server stops), closed() turns true, Respond
// and StartStream become no-ops and Send returns false.
//
// Dropping every reference to an exchange that has not answered answers it
// with 500 (and logs it); dropping every reference to an open stream closes
// the stream. So a waiter list may hold weak_ptrs, but whoever owes the
// answer must hold a shared_ptr.
class HttpExchange {
 public:
  virtual ~HttpExchange() = default;

  // Sends `response`. No-op after the exchange answered or closed.
  virtual void Respond(HttpResponse response) = 0;

  // Starts a streamed answer (Server-Sent Events and the like): the status
  // line and headers, then a chunked body made of the Send chunks (for an
  // HTTP/1.0 client: the raw chunks, ended by closing the connection).
  // `content_type` "" sends none. No-op after the exchange answered or
  // closed.
  virtual void StartStream(int status, std::string content_type,
                           std::vector<std::pair<std::string, std::string>> headers) = 0;

  // Queues `chunk` on the stream and returns at once (never blocks). Returns
  // false, dropping the chunk, when there is no open stream: StartStream was
  // not called, Close was, the client is gone, the server stopped, or the
  // chunks queued and not yet taken by the client would exceed
  // HttpServerOptions::max_stream_queue_bytes, which also ends the stream (a
  // client that does not read is dropped rather than buffered for).
  virtual bool Send(std::string chunk) = 0;

  // On a stream: ends it once the queued chunks are written. Before any
  // answer: drops the connection without an HTTP answer. Otherwise a no-op.
  virtual void Close() = 0;

  // True once nothing more can reach the client: it went away, the server is
  // stopping, the stream overflowed its queue, or the exchange ended.
  virtual bool closed() const = 0;

  // Calls `callback` once when the exchange ends: answered and written, the
  // client disconnected, or the server stopped (to drop waits and
  // subscriptions). Called on an MHD thread or, when the exchange already
  // ended, at once on the caller's thread; never with a lock of the
  // exchange held, so it may call the exchange. Several callbacks may be
  // registered; they run in registration order.
  virtual void OnClose(absl::AnyInvocable<void()> callback) = 0;
};

// Serves one request. Called on an MHD thread, concurrently for different
// requests; must not block and must not throw. Answers through `exchange`,
// now or later.
using HttpHandler = std::function<void(const HttpRequest&, std::shared_ptr<HttpExchange>)>;

struct HttpServerOptions {
  // Address to listen on: an IPv4 or IPv6 literal. "::" listens on IPv6 and
  // IPv4 (dual stack).
  // Default: "127.0.0.1"
  std::string host = "127.0.0.1";
  // TCP port; 0 picks a free one (see HttpServer::port()).
  // Default: 0
  int port = 0;
  // PEM certificate chain of the server. With tls_key_file: HTTPS only (no
  // plain HTTP on the port); one set without the other is INVALID_ARGUMENT.
  // Default: "" (plain HTTP)
  std::string tls_cert_file;
  // PEM private key (unencrypted, PKCS#1/PKCS#8/SEC1) of tls_cert_file.
  // Default: ""
  std::string tls_key_file;
  // PEM CA certificate(s). Set: mutual TLS, every client must present a
  // certificate signed by one of them (see the file comment). Requires
  // tls_cert_file.
  // Default: "" (no client certificates)
  std::string tls_client_ca_file;
  // Size of MHD's internal thread pool, which runs the handler. At least 1.
  // Default: 2
  int threads = 2;
  // Largest request body accepted; larger ones are answered 413.
  // Default: 4 MiB
  size_t max_body_bytes = 4 << 20;
  // Most connections open at once; further ones wait in the kernel's listen
  // backlog until one closes (MHD stops accepting). MHD splits the limit
  // evenly between its threads. At least 1.
  // Default: 10000
  int max_connections = 10000;
  // A connection with no traffic for this long is closed (rounded up to whole
  // seconds; zero or less: never). Not applied to a connection whose
  // exchange is pending or whose stream has nothing queued (see the file
  // comment); applied to a stream whose client stops taking queued data.
  // Default: 60 s
  absl::Duration idle_timeout = absl::Seconds(60);
  // Per stream: most bytes queued by Send and not yet taken by the client.
  // Default: 1 MiB
  size_t max_stream_queue_bytes = 1 << 20;
  // MHD's per-connection memory (request line, headers and I/O buffers);
  // requests whose headers do not fit are refused by MHD (413/431).
  // Default: 64 KiB
  size_t connection_memory_bytes = 64 << 10;
};

namespace http_internal {
class ServerCore;
}  // namespace http_internal

// The server. Start it, then Stop it (or destroy it). Thread-safe.
class HttpServer {
 public:
  // Binds and starts serving; `handler` is called on MHD's threads (see
  // HttpHandler). INVALID_ARGUMENT for a host that is not an IP literal, an
  // option out of range, or TLS files that are unreadable, not PEM or do not
  // match, naming the option ("tls.cert_file: ...", "tls.key_file: ...",
  // "tls.client_ca_file: ..."); UNAVAILABLE when the address cannot be bound
  // (e.g. the port is taken); INTERNAL when MHD fails to start.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                           HttpHandler handler);

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Stop().
  ~HttpServer();

  // The bound TCP port (the one picked when options.port was 0).
  int port() const { return port_; }

  // Closes the listener, every connection and every stream; fires the
  // OnClose callbacks of every live exchange. Pending exchanges' Respond
  // become no-ops and Send returns false. No handler runs after it returns.
  // Idempotent; concurrent calls wait for the first. Must not be called from
  // a handler or an OnClose callback (it joins MHD's threads).
  void Stop();

 private:
  HttpServer(std::shared_ptr<http_internal::ServerCore> core, int port);

  std::shared_ptr<http_internal::ServerCore> core_;
  int port_;
  absl::Mutex stop_mu_;
  bool stopped_ ABSL_GUARDED_BY(stop_mu_) = false;
};

}  // namespace custops::rpc

#endif  // CUSTOPS_RPC_HTTP_SERVER_H_
