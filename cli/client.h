// Copyright 2026 The Cascade Authors.
//
// ApiClient: `cascade`'s calls to cascade-server's client routes
// (docs/http.md) on the project's HTTP client (net/http_client.h), and what
// their failures mean for the command line: the server's own message, and
// the exit status (docs/cli.md, "Exit status").
//
// Example:
//
//   ApiClient api({.url = "http://127.0.0.1:8080", .token = "t"});
//   absl::StatusOr<boost::json::value> job = api.CallJson(net::Method::kGet, "/jobs/01J...");
//   if (!job.ok()) return ReportError(job.status(), std::cerr);
//   // stderr: error: job 01J... not found (not_found, HTTP 404)
//
// Thread-safe: calls may run on many threads at once (submit --wait reads
// the event stream on one thread and the counts on another).

#ifndef CASCADE_CLI_CLIENT_H_
#define CASCADE_CLI_CLIENT_H_

#include <ostream>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "boost/json.hpp"
#include "net/http_client.h"

namespace cascade::cli {

// The exit statuses of `cascade` (docs/cli.md).
enum ExitCode : int {
  kExitOk = 0,
  kExitRefused = 1,         // the server answered with an error (4xx, 5xx)
  kExitUsage = 2,           // bad flags or arguments, an unreadable or unusable FILE
  kExitNotAllFinished = 3,  // submit --wait: a job ended in error or manually_cancelled
  kExitUnreachable = 4,     // no answer: connection refused, name lookup, timeout
  kExitInterrupted = 130,   // submit --wait stopped by SIGINT (128 + 2)
};

struct ClientOptions {
  // cascade-server's address, "http://host:port" (https too), with or
  // without the "/api/v2" the routes are under.
  std::string url = "http://127.0.0.1:8080";
  std::string token;                           // a client token (--token of the server)
  absl::Duration timeout = absl::Seconds(30);  // per request (a stream: up to its headers)
};

// An answer in 2xx.
struct Answer {
  int status = 0;
  std::string content_type;
  std::string body;
};

// Checks `url` as ClientOptions::url: InvalidArgument ("invalid URL: ...")
// when the HTTP client could not send to it.
absl::Status CheckServerUrl(std::string_view url);

class ApiClient {
 public:
  explicit ApiClient(ClientOptions options);
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // `method` on `path` (under /api/v2, with its query: "/jobs?limit=5"),
  // with `body` as JSON when not empty. A 2xx answer is returned; another is
  // the error AnswerError makes of it; no answer is the HTTP client's error
  // (Unavailable, DeadlineExceeded, ...).
  absl::StatusOr<Answer> Call(net::Method method, std::string_view path,
                              std::string body = "") const;
  // The same, for routes that answer JSON: the parsed body, or Internal
  // "the answer to <path> is not JSON" (a proxy's page, say).
  absl::StatusOr<boost::json::value> CallJson(net::Method method, std::string_view path,
                                              std::string body = "") const;
  // GET `path` as a stream (net::HttpClient::Stream), sending Last-Event-ID
  // when `last_event_id` is not empty. The sink sees every answer, errors
  // included: its caller reads their body.
  absl::StatusOr<net::HttpResponse> Stream(std::string_view path, std::string_view last_event_id,
                                           const net::BodyStream& sink) const;

  const std::string& base_url() const { return base_; }
  bool has_token() const { return !options_.token.empty(); }

 private:
  net::HttpRequest Request(net::Method method, std::string_view path, std::string body) const;

  const ClientOptions options_;
  std::string base_;  // options_.url with "/api/v2", no trailing '/'
  mutable net::HttpClient http_;
};

// The error for an answer outside 2xx. Its message is the server's:
// "<error> (<errorCode>, HTTP <status>)", plus one line per refused entry of
// a batch ("  jobs[2]: ..."); for a body that is not the server's error JSON,
// "HTTP <status>: <its first line>". Its code follows the status (404
// NotFound, 409 FailedPrecondition, 401 Unauthenticated, ...), and it is
// marked as an answer (HttpStatusOf).
absl::Status AnswerError(int http_status, std::string_view body);

// The HTTP status of an error AnswerError made; 0 for any other status
// (no answer at all).
int HttpStatusOf(const absl::Status& status);

// The exit status for a failed call: kExitRefused for an answer,
// kExitUnreachable when there was none (Unavailable, DeadlineExceeded),
// kExitUsage for a request the client refused to send (InvalidArgument),
// else kExitRefused.
int ExitCodeFor(const absl::Status& status);

// Prints "error: <message>" to `err` (and a hint for a 401 without a token
// when `has_token` is false); returns ExitCodeFor(status).
int ReportError(const absl::Status& status, std::ostream& err, bool has_token = true);

}  // namespace cascade::cli

#endif  // CASCADE_CLI_CLIENT_H_
