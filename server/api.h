// Copyright 2026 The Cascade Authors.
//
// File: server/api.h
// -----------------------------------------------------------------------------
// Api: cascade-server's request handler. It turns a Request into a Response:
// routing under /api/v2, Bearer tokens to teams (client tokens) or to the
// worker routes (worker tokens), the nexrender v1 bridge under /api/v1
// (v1_api.h, on with `v1_secrets`), the per-token rate limit, the wire library
// (wire/: JSON bodies, errors, query strings) for what it reads and writes,
// and the engine for everything else. It
// knows nothing of sockets: HttpServer (http_server.h) feeds it, and the
// tests and the fuzzer call it directly. docs/http.md is the reference of
// what each route takes and answers.
//
// Example:
//
//   ApiOptions options;
//   options.client_tokens = {{"s3cr3t", "default"}};
//   Api api(engine.get(), options);
//   Response r = api.Handle({.method = "GET", .target = "/api/v2/jobs",
//                            .headers = {{"authorization", "Bearer s3cr3t"}}});
//
// Thread safety: Handle may be called from any number of threads at once.

#ifndef CASCADE_SERVER_API_H_
#define CASCADE_SERVER_API_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "cascade/cascade.h"
#include "server/event_feed.h"
#include "server/http_types.h"
#include "server/v1_api.h"

namespace cascade::server {

struct ApiOptions {
  // Client tokens and the team each one acts for. A request on a client route
  // needs one (401 without; 403 with a worker token).
  std::vector<std::pair<std::string, std::string>> client_tokens;
  // Tokens of the worker routes (claim, heartbeat, finish, fail, release).
  std::vector<std::string> worker_tokens;
  // Requests per second each token may make, sustained, with bursts up to
  // the same number (a token bucket). 0: no limit. Default: 0.
  double rate_limit = 0;
  // Bodies longer than this get 413. Default: 10 MiB (contract §9).
  size_t max_body_bytes = size_t{10} << 20;
  // Where the rate limiter and the v1 bridge read time. Not owned.
  // Default: Clock::Real().
  Clock* clock = Clock::Real();
  // nexrender v1 secrets (the `nexrender-secret` header of the /api/v1
  // routes, v1_api.h) and the team each one acts for. Empty: /api/v1 is off
  // (404). Default: empty.
  std::vector<std::pair<std::string, std::string>> v1_secrets;
  // The lease a v1 pickup gets. Default: 4 h (contract §15).
  absl::Duration v1_lease = absl::Hours(4);
  // GET /api/v2/events: its window, stream limit and intervals (its clock is
  // `clock`). The feed starts with the first stream.
  EventFeedOptions events;
};

class Api {
 public:
  // `engine` is not owned and must outlive the Api.
  Api(Engine* engine, const ApiOptions& options);
  ~Api();
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  // Answers one request. Never throws; whatever the request holds, the answer
  // is a well-formed response (4xx for what is wrong with the request, 5xx
  // when the engine's store failed).
  Response Handle(const Request& request);

  // The feed of GET /api/v2/events, made on first use.
  EventFeed& feed();

 private:
  class RateLimiter;

  // Handle, but for the metrics: `route_name` gets the route's method and
  // pattern when one matched.
  Response Route(const Request& request, std::string& route_name);
  // The Prometheus text of GET /api/v2/metrics.
  std::string MetricsText() const;
  // The rate limit of `key` (a token, or a v1 secret): the 429 to answer
  // instead of serving the request, or nothing.
  std::optional<Response> Admit(const std::string& key);
  // GET /api/v2/events.
  Response Events(const Request& request, std::string_view query, const std::string& team);

  Engine* const engine_;
  const ApiOptions options_;
  std::unique_ptr<RateLimiter> limiter_;
  std::unique_ptr<V1Api> v1_;  // the /api/v1 routes
  std::once_flag feed_once_;
  std::unique_ptr<EventFeed> feed_;              // set once, by feed()
  std::atomic<EventFeed*> feed_ready_{nullptr};  // feed_, for the metrics

  // Requests answered, by route (its pattern, or "unmatched") and status.
  mutable internal::Mutex metrics_mu_;  // a leaf
  std::map<std::pair<std::string, int>, uint64_t> requests_ ABSL_GUARDED_BY(metrics_mu_);
  std::atomic<uint64_t> rate_limited_{0};
};

}  // namespace cascade::server

#endif  // CASCADE_SERVER_API_H_
