// Copyright 2026 The Cascade Authors.
//
// The built-in webhook transport (WebhookTransport::CreateHttp): a thin
// adapter over the project's HTTP client, net::HttpClient (net/http_client.h),
// which does all the work and whose file comment lists exactly what goes on
// the wire and how one deadline bounds the exchange.
//
// What the adapter decides:
//   - the method: WebhookRequest's HttpMethod as net::Method;
//   - User-Agent: cascade/0.1 (kWebhookUserAgent), unless the request carries
//     its own;
//   - the body: BodyMode::kDiscard. Up to kMaxResponseBodyBytes (rounded up to
//     the next 8 KiB read) of the response body are read and thrown away; the
//     connection is closed. Once the status is known it is the answer: a body
//     that is too large, broken or still arriving at the deadline does not
//     turn it into an error.
//
// Thread-safe: Send may run on many threads at once (the engine's delivery
// threads share one transport), as net::HttpClient::Send may.

#ifndef CASCADE_ENGINE_WEBHOOK_HTTP_TRANSPORT_H_
#define CASCADE_ENGINE_WEBHOOK_HTTP_TRANSPORT_H_

#include <cstddef>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cascade/webhook.h"
#include "net/http_client.h"

namespace cascade::internal {

// How much of a response body is read (and thrown away) before the
// connection is closed.
inline constexpr size_t kMaxResponseBodyBytes = size_t{64} << 10;

// The User-Agent the transport sends.
inline constexpr std::string_view kWebhookUserAgent = "cascade/0.1";

class HttpTransport final : public WebhookTransport {
 public:
  HttpTransport();
  ~HttpTransport() override;
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  // As WebhookTransport::Send (cascade/webhook.h): the response's status.
  // Errors are net::HttpClient::Send's: InvalidArgument, with nothing sent,
  // for a bad URL or a request header that is not a token name with a value
  // free of CR, LF and NUL, or that names Host, Content-Length or
  // Transfer-Encoding; DeadlineExceeded for a timeout <= 0 (no connection) or
  // one that passes; Unavailable when resolution, connection, TLS or the
  // exchange fails before the status is known. Never throws.
  absl::StatusOr<int> Send(const WebhookRequest& request, absl::Duration timeout) override;

 private:
  net::HttpClient client_;
};

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_WEBHOOK_HTTP_TRANSPORT_H_
