// Copyright 2026 The Cascade Authors.
//
// The built-in webhook transport (WebhookTransport::CreateHttp): HTTP/1.1 over
// TCP, and over TLS for https:// URLs, one connection per request, on
// Boost.Beast. Beast and Asio stay inside http_transport.cc so that nothing
// including this header pays for them.
//
// What goes on the wire, in order:
//   <METHOD> <path?query> HTTP/1.1
//   Host: <host>[:<port> when not the scheme's default]
//   User-Agent: cascade/0.1        (unless the request carries its own)
//   Content-Length: <n>            (see below)
//   <the request's headers, in the request's order>
//   <the body, when not empty>
// Content-Length is sent when there is a body, and as "Content-Length: 0" for
// a POST or PUT without one (servers may answer 411 otherwise). A GET or a
// DELETE without a body sends none: RFC 9110 §8.6 says a user agent should
// not when the method does not anticipate content.
//
// The response: its status line and headers are read (1xx interim responses
// are skipped), then its body up to kMaxResponseBodyBytes (rounded up to the
// next 8 KiB read), which is discarded; the connection is closed. Once the
// status is known it is the answer: a body that is too large, broken or still
// arriving at the deadline does not turn it into an error.
//
// Time: one deadline, now + timeout, bounds the whole exchange. Name
// resolution runs on a helper thread that the call waits for until the
// deadline and then abandons (getaddrinfo cannot be cancelled; see
// docs/architecture.md, "Webhook transport"); connect, TLS handshake, write
// and read run as asynchronous operations on a private io_context that is
// run only until the deadline, and beast::tcp_stream carries the same
// deadline as its expiry.
//
// Thread-safe: Send may run on many threads at once. The only state shared
// between calls is the TLS client context, built once on the first https://
// request and read-only after that.

#ifndef CASCADE_ENGINE_WEBHOOK_HTTP_TRANSPORT_H_
#define CASCADE_ENGINE_WEBHOOK_HTTP_TRANSPORT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cascade/webhook.h"

namespace cascade::internal {

// How much of a response body is read (and thrown away) before the
// connection is closed.
inline constexpr size_t kMaxResponseBodyBytes = size_t{64} << 10;

// The User-Agent the transport sends.
inline constexpr std::string_view kWebhookUserAgent = "cascade/0.1";

// A URL the transport can send to.
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

struct TlsClientContext;  // the OpenSSL context; defined in the .cc

class HttpTransport final : public WebhookTransport {
 public:
  HttpTransport();
  ~HttpTransport() override;
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  // As WebhookTransport::Send (cascade/webhook.h). Also InvalidArgument, with
  // nothing sent, for a request header that is not a token name with a value
  // free of CR, LF and NUL, or that names Host, Content-Length or
  // Transfer-Encoding (the transport writes those). A timeout <= 0 is
  // DeadlineExceeded without a connection. Never throws.
  absl::StatusOr<int> Send(const WebhookRequest& request, absl::Duration timeout) override;

 private:
  // The shared client context, built on first use; an error when OpenSSL
  // could not make one or load the system's trust store. Not const only
  // because Asio takes it by reference: nothing changes it once built.
  absl::StatusOr<TlsClientContext*> Tls();

  std::once_flag tls_once_;
  std::unique_ptr<TlsClientContext> tls_;  // set once under tls_once_
  absl::Status tls_status_;                // set once under tls_once_
};

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_WEBHOOK_HTTP_TRANSPORT_H_
