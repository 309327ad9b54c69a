// Copyright 2026 The Cascade Authors.
//
// The project's HTTP client: HTTP/1.1 over TCP, and over TLS for https://
// URLs, one connection per request, on Boost.Beast. Two users: the engine's
// webhook transport (engine/webhook/http_transport.h), which needs only the
// status, and cascade-worker (worker/), which reads the JSON answers of
// cascade-server. Beast and Asio stay inside http_client.cc so that nothing
// including this header pays for them.
//
// Example:
//
//   cascade::net::HttpClient client;
//   cascade::net::HttpRequest request;
//   request.method = cascade::net::Method::kPost;
//   request.url = "http://127.0.0.1:8080/api/v2/workers/claim";
//   request.headers = {{"Authorization", "Bearer w-token"},
//                      {"Content-Type", "application/json"}};
//   request.body = R"({"worker": "node-1"})";
//   absl::StatusOr<cascade::net::HttpResponse> response =
//       client.Send(request, absl::Seconds(10));
//   if (response.ok() && response->status == 200) Use(response->body);
//
// What goes on the wire, in order:
//   <METHOD> <path?query> HTTP/1.1
//   Host: <host>[:<port> when not the scheme's default]
//   User-Agent: <HttpClient's user agent>   (unless the request carries one)
//   Content-Length: <n>            (see below)
//   <the request's headers, in the request's order>
//   <the body, when not empty>
// Content-Length is sent when there is a body, and as "Content-Length: 0" for
// a POST, PUT or PATCH without one (servers may answer 411 otherwise). A GET
// or a DELETE without a body sends none (RFC 9110 §8.6). Never chunked.
//
// The response: its status line and headers are read (1xx interim responses
// are skipped), then its body, as `BodyMode` says (or, for Stream, handed to
// the caller piece by piece); the connection is closed.
// A body may be framed by Content-Length, chunked, or end when the server
// closes the connection. Over TLS, such an until-close body must end with
// the server's close_notify: one cut short without it is Unavailable under
// kRead (anyone on the path could have truncated it).
//
// TLS: OpenSSL, TLS 1.2 at least, the peer verified against the system's
// default verify paths (SSL_CERT_FILE / SSL_CERT_DIR are honoured), the host
// name (sent as SNI) or IP literal checked against the certificate.
//
// Time: one deadline, now + timeout (clamped to 24 hours), bounds the whole
// exchange (for Stream: up to the response's headers; its body has an idle
// limit instead). Name resolution runs on a helper thread that the call waits for
// until the deadline and then abandons (getaddrinfo cannot be cancelled; see
// docs/architecture.md, "HTTP client"); connect, TLS handshake, write and
// read run as asynchronous operations on a private io_context that is run
// only until the deadline.
//
// Thread-safe: Send may run on many threads at once. The only state shared
// between calls is the TLS client context, built once on the first https://
// request and read-only after that.

#ifndef CASCADE_NET_HTTP_CLIENT_H_
#define CASCADE_NET_HTTP_CLIENT_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cascade::net {

enum class Method : uint8_t { kGet, kPost, kPut, kPatch, kDelete };

// A URL the client can send to.
struct HttpUrl {
  bool tls = false;         // https
  std::string host;         // a name or an IP literal, without brackets
  uint16_t port = 0;        // explicit, or 80 / 443
  std::string target;       // path and query; "/" at least
  std::string host_header;  // the Host value: host (bracketed when IPv6)
                            // and ":port" unless it is the default
};

// Parses `url`: scheme http or https (any case), then a host (a name of
// letters, digits, '-', '.', '_'; an IPv4 literal; or a bracketed IPv6
// literal without zone), an optional port 1-65535, and an optional path and
// query. A fragment is dropped. InvalidArgument, saying what is wrong, for
// anything else: another scheme, no host, userinfo ("user@host"), a bad
// port, or a space, control or non-ASCII character anywhere.
[[nodiscard]] absl::StatusOr<HttpUrl> ParseHttpUrl(std::string_view url);

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  Method method = Method::kGet;
  std::string url;  // as ParseHttpUrl reads it
  Headers headers;  // sent in this order; no Host, Content-Length or
                    // Transfer-Encoding (the client writes those)
  std::string body;
};

// What the caller needs of the response body.
enum class BodyMode : uint8_t {
  // The status is the answer: up to `max_body_bytes` of the body (rounded up
  // to the next 8 KiB read) are read and thrown away; a body that is too
  // large, broken or still arriving at the deadline does not turn the answer
  // into an error (webhooks).
  kDiscard,
  // The whole body is the answer: it is returned in HttpResponse::body; one
  // over `max_body_bytes` is ResourceExhausted (at once when Content-Length
  // says so, else as soon as byte max_body_bytes + 1 arrives), a broken one
  // (cut short, bad chunking) Unavailable, one still arriving at the deadline
  // DeadlineExceeded (API clients).
  kRead,
  // The third way to take a body, for answers that never end (an event
  // stream) is HttpClient::Stream with a BodyStream: each piece is handed
  // over as it arrives.
};

struct HttpResponse {
  int status = 0;    // of the final response (not a 1xx)
  Headers headers;   // as received, names as spelled, no trailers; in
                     // arrival order, except that fields sharing a name
                     // are kept together where the first of them arrived
                     // (Beast's field container does so)
  std::string body;  // empty under BodyMode::kDiscard
};

// What HttpClient::Stream does with a response: whom it hands the head and
// the body's pieces to, and how long it waits for the next piece.
struct BodyStream {
  // Called once with the status and headers (body empty) before any body
  // byte is read. Returning false ends the exchange there: Stream returns
  // the response without reading its body. May be empty (read on).
  std::function<bool(const HttpResponse& head)> on_head;
  // Called with each piece of the body (never empty) as soon as it has
  // arrived and been unframed (chunked or not), in order. Returning false
  // stops reading: Stream returns the response at once. REQUIRES: set.
  std::function<bool(std::string_view bytes)> on_bytes;
  // Once the headers are in, the longest wait for the next body byte (any
  // byte counts, e.g. a keep-alive comment); then DeadlineExceeded. There is
  // no deadline for the body as a whole. Default: 60 s. Must be > 0.
  absl::Duration idle_timeout = absl::Seconds(60);
  // When not null and set to true (by another thread or a signal handler),
  // the exchange stops within about 100 ms, at any step, with Cancelled. It
  // must outlive the call.
  const std::atomic<bool>* cancel = nullptr;
};

struct TlsClientContext;  // the OpenSSL context; defined in the .cc

class HttpClient {
 public:
  // `user_agent`: sent unless a request carries its own User-Agent; empty
  // sends none. One with CR, LF or NUL makes every Send that would send it
  // InvalidArgument.
  explicit HttpClient(std::string user_agent = "cascade/0.1");
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `request` and waits at most `timeout` for the whole exchange.
  // Any status code is a response, not an error. Errors, with nothing sent:
  // InvalidArgument for a bad URL ("invalid URL: ...") or a request header
  // that is not a token name with a value free of CR, LF and NUL, or that
  // names Host, Content-Length or Transfer-Encoding ("request header ...");
  // DeadlineExceeded for a timeout <= 0. After that: Unavailable
  // (resolution, connection, TLS or a broken exchange; the message names the
  // step and the peer, e.g. "connect to 127.0.0.1:8080: Connection
  // refused"), DeadlineExceeded "timed out after <timeout>" (the deadline
  // passed), and, under kRead, ResourceExhausted for a body over
  // `max_body_bytes`; Internal for anything unexpected. Never throws.
  [[nodiscard]] absl::StatusOr<HttpResponse> Send(const HttpRequest& request,
                                                  absl::Duration timeout,
                                                  BodyMode body_mode = BodyMode::kRead,
                                                  size_t max_body_bytes = size_t{16} << 20);

  // Sends `request` and streams the response body to `stream`: for answers
  // read while they are written, such as Server-Sent Events. `timeout` bounds
  // the exchange up to the end of the response's headers, as for Send;
  // after that only `stream.idle_timeout` bounds each wait for more bytes.
  // Returns the status and headers (body empty) when the body has ended,
  // when a callback returned false, or when the response has no body. The
  // errors are Send's under kRead (the same messages; no ResourceExhausted:
  // nothing is kept), and: InvalidArgument when `stream.on_bytes` is empty
  // or the idle timeout is not positive; DeadlineExceeded "no data for
  // <idle_timeout>" when the body stalls; Unavailable "... connection closed
  // before the body ended" when the connection ends inside a framed body;
  // Cancelled when `stream.cancel` was set. The callbacks run on the calling
  // thread. Never throws (an exception from a callback is Internal).
  [[nodiscard]] absl::StatusOr<HttpResponse> Stream(const HttpRequest& request,
                                                    absl::Duration timeout,
                                                    const BodyStream& stream);

 private:
  // The shared client context, built on first use; an error when OpenSSL
  // could not make one or load the system's trust store.
  absl::StatusOr<TlsClientContext*> Tls();
  // Send and Stream: `stream` is null for Send.
  absl::StatusOr<HttpResponse> Exchange(const HttpRequest& request, absl::Duration timeout,
                                        BodyMode body_mode, size_t max_body_bytes,
                                        const BodyStream* stream);

  std::string user_agent_;
  std::once_flag tls_once_;
  std::unique_ptr<TlsClientContext> tls_;  // set once under tls_once_
  absl::Status tls_status_;                // set once under tls_once_
};

}  // namespace cascade::net

#endif  // CASCADE_NET_HTTP_CLIENT_H_
