// Copyright 2026 The Cascade Authors.
//
// ServerClient: cascade-worker's calls to cascade-server's worker routes
// (docs/http.md, "Worker routes"), on the project's HTTP client
// (net/http_client.h) with JSON from wire/json.h. Each call is one request;
// it never retries: what a failure means for the job is the agent's to
// decide, from the Outcome.
//
// Example:
//
//   ServerClient server({.url = "http://127.0.0.1:8080", .token = "w-token"});
//   CallResult r = server.Heartbeat(job_id, lease, 40.0);
//   if (r.outcome == Outcome::kStale) DropTheJob();
//
// Thread-safe: calls may run on many threads at once.

#ifndef CASCADE_WORKER_SERVER_CLIENT_H_
#define CASCADE_WORKER_SERVER_CLIENT_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "boost/json.hpp"
#include "net/http_client.h"

namespace cascade::worker {

struct ServerClientOptions {
  // cascade-server's address, "http://host:port" (https too), with or
  // without the "/api/v2" the routes are under.
  std::string url;
  std::string token;                           // a worker token (--worker-token of the server)
  absl::Duration timeout = absl::Seconds(10);  // per request
};

// What a call's answer means for the worker.
enum class Outcome {
  kOk,           // 200 (or 204 for logs)
  kNothing,      // 204 on a claim: nothing is queued
  kStale,        // 409 (the lease is no longer this worker's) or 404 (no such job)
  kUnavailable,  // no answer (connection, timeout), 5xx, 429 or 408: try again later
  kRefused,      // any other answer: 401/403 (the token), 400 (the body), ...
};

struct CallResult {
  Outcome outcome = Outcome::kUnavailable;
  int http_status = 0;  // 0 when there was no answer
  // Why, for kStale, kUnavailable and kRefused: the transport's error or the
  // server's {"error"} text with the status.
  std::string error;
  boost::json::value body;  // the answer's JSON (null when none)
  absl::Time date;          // the answer's Date header, or InfinitePast
};

class ServerClient {
 public:
  explicit ServerClient(ServerClientOptions options);

  // POST /workers/claim {"worker", "tags", "leaseSeconds" (when given)}.
  CallResult Claim(std::string_view worker, const std::vector<std::string>& tags,
                   std::optional<absl::Duration> lease);
  // POST /jobs/{id}/heartbeat {"lease", "progress" (when known)}.
  CallResult Heartbeat(std::string_view job, std::string_view lease,
                       std::optional<double> progress);
  // POST /jobs/{id}/logs {"lease", "lines"}.
  CallResult AppendLog(std::string_view job, std::string_view lease,
                       const std::vector<std::string>& lines);
  // POST /jobs/{id}/finish {"lease", "outputUrl" (when not empty)}.
  CallResult Finish(std::string_view job, std::string_view lease, std::string_view output_url);
  // POST /jobs/{id}/fail {"lease", "error", "retry"}.
  CallResult Fail(std::string_view job, std::string_view lease, std::string_view error, bool retry);
  // POST /jobs/{id}/release {"lease"}.
  CallResult Release(std::string_view job, std::string_view lease);

  const std::string& base_url() const { return base_; }

 private:
  CallResult Post(std::string_view path, const boost::json::object& body);

  const ServerClientOptions options_;
  std::string base_;  // ".../api/v2"
  net::HttpClient http_;
};

}  // namespace cascade::worker

#endif  // CASCADE_WORKER_SERVER_CLIENT_H_
