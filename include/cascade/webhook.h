// Copyright 2026 The Cascade Authors.
//
// File: cascade/webhook.h
// -----------------------------------------------------------------------------
// Webhooks (contract §8): a job whose spec carries a `webhook` is delivered to its
// URL when it reaches finished, error or manually_cancelled. Deliveries wait
// in the engine's outbox; each is sent at least once and at most
// 1 + WebhookOptions::max_retries times, with exponential backoff, and the
// ones that exhaust their attempts become dead letters that can be listed and
// replayed (Engine::ListDeadLetters, Engine::ReplayDeadLetter).
// docs/webhooks.md describes the guarantees and the headers, and shows how a
// receiver checks a signature.
//
// Example:
//
//   cascade::JobSpec spec;
//   spec.template_id = "tpl-1";
//   spec.webhook = cascade::WebhookSpec{.url = "https://hooks.example.com/render"};
//   cascade::Options options;
//   options.webhooks.signing_secret = "s3cret";   // adds Cascade-Signature
//
// Each request carries:
//   Content-Type: application/json   (when there is a body)
//   Cascade-Delivery-Id: <ULID>      (the same on every attempt of a delivery)
//   Cascade-Job-Id: <job id>
//   Cascade-Signature: sha256=<hex HMAC-SHA256 of the body>  (with a secret)
// plus the spec's own headers. The body is the Job's wire JSON, or only the
// spec's `data` when `custom` is set.

#ifndef CASCADE_WEBHOOK_H_
#define CASCADE_WEBHOOK_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cascade/ids.h"

namespace cascade {

enum class HttpMethod : uint8_t { kGet, kPost, kPut, kDelete };

// "GET", "POST", "PUT", "DELETE".
std::string_view HttpMethodName(HttpMethod method);
// Inverse of HttpMethodName (exact, upper case). InvalidArgument otherwise.
[[nodiscard]] absl::StatusOr<HttpMethod> ParseHttpMethod(std::string_view name);

// A job's `webhook` (the `JobWebhook` wire schema). Limits, checked at
// submit (InvalidArgument with a field violation naming `webhook.<field>`):
//   - url: http:// or https://, a host, at most 2048 bytes, no whitespace;
//   - headers: at most 32; names are HTTP tokens of at most 64 bytes, values
//     at most 1024 bytes without CR, LF or NUL; the request's own headers
//     (Host, Content-Length, Content-Type, Transfer-Encoding, Connection and
//     every Cascade-*) cannot be set;
//   - data: empty or the JSON text of an object, at most 64 KiB.
struct WebhookSpec {
  std::string url;
  HttpMethod method = HttpMethod::kPost;
  std::vector<std::pair<std::string, std::string>> headers;
  // The JSON text of `data`; empty when the spec has none.
  std::string data;
  // Send only `data` (or `{}` without it) instead of the job.
  bool custom = false;
};

// One HTTP request, as the engine hands it to a transport.
struct WebhookRequest {
  std::string url;
  HttpMethod method = HttpMethod::kPost;
  // In order: the spec's headers, then the engine's (see the file comment).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// How deliveries reach their endpoints. The engine calls Send from its own
// delivery threads (with a manual clock: from RunDueWork), never while it
// holds a lock, and possibly from several threads at once.
class WebhookTransport {
 public:
  virtual ~WebhookTransport() = default;

  // Sends `request` and waits at most `timeout` for the whole exchange.
  // Returns the response's status code, whatever it is (any 2xx counts as
  // delivered), or an error: DeadlineExceeded when `timeout` passed,
  // Unavailable when no connection could be made or it broke,
  // InvalidArgument for a request this transport cannot send (its URL or a
  // header), Internal for anything unexpected. The engine counts every error
  // as a failed attempt and keeps its message as the delivery's last error.
  virtual absl::StatusOr<int> Send(const WebhookRequest& request, absl::Duration timeout) = 0;

  // The built-in transport: HTTP/1.1 over TCP, and TLS (OpenSSL, verifying
  // the peer against the system's trust store) for https:// URLs, through
  // Boost.Beast. One connection per request.
  static std::unique_ptr<WebhookTransport> CreateHttp();
};

struct WebhookOptions {
  // Where requests go. Not owned; must outlive the engine. Null (the default)
  // makes the engine create WebhookTransport::CreateHttp() for itself.
  WebhookTransport* transport = nullptr;
  // Attempts after the first; a delivery is tried at most 1 + max_retries
  // times. Default 3. REQUIRES: >= 0.
  int max_retries = 3;
  // Wait before the first retry; each later wait is `backoff_factor` times
  // the previous one (1 s, 2 s, 4 s by default), counted from the end of the
  // attempt that failed. REQUIRES: initial_backoff > 0, backoff_factor >= 1.
  absl::Duration initial_backoff = absl::Seconds(1);
  double backoff_factor = 2.0;
  // Limit on one attempt, connection included. REQUIRES: > 0.
  absl::Duration timeout = absl::Seconds(2);
  // When not empty, every request carries Cascade-Signature.
  std::string signing_secret;
  // Threads sending deliveries when the clock is real (with a ManualClock
  // RunDueWork sends them). A dead endpoint holds one of them for at most
  // `timeout` per attempt. Default 4. REQUIRES: >= 1.
  int delivery_threads = 4;
};

// A delivery that used up its attempts.
struct DeadLetter {
  std::string delivery_id;  // Cascade-Delivery-Id
  JobId job_id;
  std::string url;
  int attempts = 0;
  std::string last_error;  // "HTTP 500", "timed out after 2s", ...
  absl::Time created_at;   // when the job reached its terminal state
  absl::Time died_at;      // when the last attempt failed
};

// What the outbox holds right now, and what it has done since the engine
// started.
struct OutboxCounts {
  int64_t pending = 0;    // waiting for their first attempt or a retry
  int64_t in_flight = 0;  // being sent
  int64_t dead = 0;       // dead letters
  int64_t delivered_total = 0;
  int64_t attempts_total = 0;
};

// "sha256=" followed by the lower-case hex HMAC-SHA256 of `body` under
// `secret`: the value of Cascade-Signature.
std::string WebhookSignature(std::string_view secret, std::string_view body);

}  // namespace cascade

#endif  // CASCADE_WEBHOOK_H_
