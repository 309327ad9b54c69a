// Copyright 2026 The Cascade Authors.
//
// ApiClient: the requests (token, JSON), and the errors made of the
// server's answers.

#include "cli/client.h"

#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "wire/json.h"
#include "wire/strings.h"

namespace cascade::cli {
namespace {

namespace json = boost::json;
using wire::Sv;

// The payload that marks a Status as the server's answer.
constexpr char kHttpStatusPayload[] = "cascade.cli/http-status";

// Longest piece of a non-JSON error body that is shown.
constexpr size_t kShownBodyBytes = 200;

std::string StringField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(json::string_view(key.data(), key.size()));
  if (v == nullptr || !v->is_string()) return "";
  return std::string(v->get_string().data(), v->get_string().size());
}

absl::StatusCode CodeForHttp(int status) {
  switch (status) {
    case 400:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 409:
      return absl::StatusCode::kFailedPrecondition;
    case 413:
    case 429:
      return absl::StatusCode::kResourceExhausted;
    case 501:
      return absl::StatusCode::kUnimplemented;
    case 503:
      return absl::StatusCode::kUnavailable;
  }
  if (status >= 500) return absl::StatusCode::kInternal;
  return absl::StatusCode::kUnknown;
}

}  // namespace

absl::Status CheckServerUrl(std::string_view url) { return net::ParseHttpUrl(url).status(); }

ApiClient::ApiClient(ClientOptions options) : options_(std::move(options)), http_("cascade/0.1") {
  absl::string_view url = Sv(options_.url);
  while (absl::ConsumeSuffix(&url, "/")) {
  }
  base_ = absl::EndsWith(url, "/api/v2") ? std::string(url) : absl::StrCat(url, "/api/v2");
}

net::HttpRequest ApiClient::Request(net::Method method, std::string_view path,
                                    std::string body) const {
  net::HttpRequest request;
  request.method = method;
  request.url = absl::StrCat(base_, Sv(path));
  if (!options_.token.empty()) {
    request.headers.emplace_back("Authorization", absl::StrCat("Bearer ", options_.token));
  }
  if (!body.empty()) request.headers.emplace_back("Content-Type", "application/json");
  request.body = std::move(body);
  return request;
}

absl::StatusOr<Answer> ApiClient::Call(net::Method method, std::string_view path,
                                       std::string body) const {
  absl::StatusOr<net::HttpResponse> response =
      http_.Send(Request(method, path, std::move(body)), options_.timeout);
  if (!response.ok()) return response.status();
  if (response->status < 200 || response->status > 299) {
    return AnswerError(response->status, response->body);
  }
  Answer answer;
  answer.status = response->status;
  for (const auto& [name, value] : response->headers) {
    if (absl::EqualsIgnoreCase(name, "content-type")) answer.content_type = value;
  }
  answer.body = std::move(response->body);
  return answer;
}

absl::StatusOr<json::value> ApiClient::CallJson(net::Method method, std::string_view path,
                                                std::string body) const {
  absl::StatusOr<Answer> answer = Call(method, path, std::move(body));
  if (!answer.ok()) return answer.status();
  absl::StatusOr<json::value> parsed = wire::ParseJsonBody(answer->body);
  if (!parsed.ok()) {
    // An answer, but not the server's (a proxy's page, say).
    return absl::InternalError(absl::StrCat("the answer to ", Sv(path), " is not JSON"));
  }
  return parsed;
}

absl::StatusOr<net::HttpResponse> ApiClient::Stream(std::string_view path,
                                                    std::string_view last_event_id,
                                                    const net::BodyStream& sink) const {
  net::HttpRequest request = Request(net::Method::kGet, path, "");
  request.headers.emplace_back("Accept", "text/event-stream");
  if (!last_event_id.empty()) request.headers.emplace_back("Last-Event-ID", last_event_id);
  return http_.Stream(request, options_.timeout, sink);
}

absl::Status AnswerError(int http_status, std::string_view body) {
  std::string message;
  absl::StatusOr<json::value> parsed = wire::ParseJsonBody(body);
  const json::object* o = parsed.ok() ? parsed->if_object() : nullptr;
  if (o != nullptr && !StringField(*o, "error").empty()) {
    const std::string code = StringField(*o, "errorCode");
    message = absl::StrCat(StringField(*o, "error"), " (", code, code.empty() ? "" : ", ", "HTTP ",
                           http_status, ")");
  } else if (const json::value* errors = o == nullptr ? nullptr : o->if_contains("errors");
             errors != nullptr && errors->is_array()) {
    // POST /batches refused every entry: each has its own error.
    message = absl::StrCat("no job of the batch was created (HTTP ", http_status, ")");
    for (const json::value& e : errors->get_array()) {
      if (!e.is_object()) continue;
      absl::StrAppend(&message, "\n  ", StringField(e.get_object(), "error"));
      const std::string code = StringField(e.get_object(), "errorCode");
      if (!code.empty()) absl::StrAppend(&message, " (", code, ")");
    }
  } else {
    std::string_view first = body.substr(0, body.find_first_of("\r\n"));
    if (first.size() > kShownBodyBytes) first = first.substr(0, kShownBodyBytes);
    message = first.empty() ? absl::StrCat("HTTP ", http_status)
                            : absl::StrCat("HTTP ", http_status, ": ", Sv(first));
  }
  absl::Status status(CodeForHttp(http_status), message);
  status.SetPayload(kHttpStatusPayload, absl::Cord(absl::StrCat(http_status)));
  return status;
}

int HttpStatusOf(const absl::Status& status) {
  // Debian's Abseil has its own optional.
  const auto payload = status.GetPayload(kHttpStatusPayload);
  int http_status = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &http_status)) return 0;
  return http_status;
}

int ExitCodeFor(const absl::Status& status) {
  if (status.ok()) return kExitOk;
  if (HttpStatusOf(status) != 0) return kExitRefused;
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitUnreachable;
    case absl::StatusCode::kInvalidArgument:
      return kExitUsage;
    case absl::StatusCode::kCancelled:
      return kExitInterrupted;
    default:
      return kExitRefused;
  }
}

int ReportError(const absl::Status& status, std::ostream& err, bool has_token) {
  err << "error: " << status.message() << "\n";
  if (HttpStatusOf(status) == 401 && !has_token) {
    err << "hint: give a client token with --token or CASCADE_TOKEN\n";
  }
  return ExitCodeFor(status);
}

}  // namespace cascade::cli
