// Copyright 2026 The Cascade Authors.
//
// ServerClient: the worker routes over net::HttpClient.

#include "worker/server_client.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "wire/json.h"
#include "wire/strings.h"

namespace cascade::worker {
namespace {

namespace json = boost::json;
using wire::Sv;

json::string Str(std::string_view s) { return json::string(s.data(), s.size()); }

}  // namespace

ServerClient::ServerClient(ServerClientOptions options)
    : options_(std::move(options)), http_("cascade-worker/0.1") {
  absl::string_view url = options_.url;
  while (absl::ConsumeSuffix(&url, "/")) {
  }
  base_ = absl::EndsWith(url, "/api/v2") ? std::string(url) : absl::StrCat(url, "/api/v2");
}

CallResult ServerClient::Post(std::string_view path, const json::object& body) {
  net::HttpRequest request;
  request.method = net::Method::kPost;
  request.url = absl::StrCat(base_, Sv(path));
  request.headers = {{"Authorization", absl::StrCat("Bearer ", options_.token)},
                     {"Content-Type", "application/json"}};
  request.body = wire::WriteJson(body);
  absl::StatusOr<net::HttpResponse> response = http_.Send(request, options_.timeout);
  CallResult result;
  result.date = absl::InfinitePast();
  if (!response.ok()) {
    result.outcome =
        absl::IsInvalidArgument(response.status()) ? Outcome::kRefused : Outcome::kUnavailable;
    result.error = std::string(response.status().message());
    return result;
  }
  result.http_status = response->status;
  for (const auto& [name, value] : response->headers) {
    if (!absl::EqualsIgnoreCase(name, "Date")) continue;
    std::string error;
    absl::Time date;
    if (absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", value, &date, &error)) result.date = date;
  }
  if (!response->body.empty()) {
    absl::StatusOr<json::value> parsed = wire::ParseJsonBody(response->body);
    if (parsed.ok()) result.body = *std::move(parsed);
  }
  const int status = response->status;
  if (status == 200 || (status == 204 && path != "/workers/claim")) {
    result.outcome = Outcome::kOk;
    if (status == 200 && result.body.is_null() && path != "/workers/claim" &&
        !path.ends_with("/logs")) {
      result.outcome = Outcome::kUnavailable;  // a 200 that is not JSON: a proxy, say
      result.error = "the answer is not JSON";
    }
    if (path == "/workers/claim" && !result.body.is_object()) {
      result.outcome = Outcome::kUnavailable;
      result.error = "the claim answer is not a JSON object";
    }
    return result;
  }
  if (status == 204) {
    result.outcome = Outcome::kNothing;
    return result;
  }
  std::string said;
  if (const json::object* o = result.body.if_object()) {
    if (const json::value* e = o->if_contains("error"); e != nullptr && e->is_string()) {
      said = std::string(e->get_string().data(), e->get_string().size());
    }
  }
  result.error = absl::StrCat("HTTP ", status, said.empty() ? "" : ": ", said);
  if (status == 409 || status == 404) {
    result.outcome = Outcome::kStale;
  } else if (status >= 500 || status == 429 || status == 408) {
    result.outcome = Outcome::kUnavailable;
  } else {
    result.outcome = Outcome::kRefused;
  }
  return result;
}

CallResult ServerClient::Claim(std::string_view worker, const std::vector<std::string>& tags,
                               std::optional<absl::Duration> lease) {
  json::object body;
  body["worker"] = Str(worker);
  json::array t;
  for (const std::string& tag : tags) t.emplace_back(Str(tag));
  body["tags"] = std::move(t);
  if (lease.has_value()) body["leaseSeconds"] = absl::ToDoubleSeconds(*lease);
  return Post("/workers/claim", body);
}

CallResult ServerClient::Heartbeat(std::string_view job, std::string_view lease,
                                   std::optional<double> progress) {
  json::object body{{"lease", Str(lease)}};
  if (progress.has_value()) body["progress"] = *progress;
  return Post(absl::StrCat("/jobs/", Sv(job), "/heartbeat"), body);
}

CallResult ServerClient::AppendLog(std::string_view job, std::string_view lease,
                                   const std::vector<std::string>& lines) {
  json::array items;
  items.reserve(lines.size());
  for (const std::string& line : lines) items.emplace_back(Str(line));
  return Post(absl::StrCat("/jobs/", Sv(job), "/logs"),
              json::object{{"lease", Str(lease)}, {"lines", std::move(items)}});
}

CallResult ServerClient::Finish(std::string_view job, std::string_view lease,
                                std::string_view output_url) {
  json::object body{{"lease", Str(lease)}};
  if (!output_url.empty()) body["outputUrl"] = Str(output_url);
  return Post(absl::StrCat("/jobs/", Sv(job), "/finish"), body);
}

CallResult ServerClient::Fail(std::string_view job, std::string_view lease, std::string_view error,
                              bool retry) {
  return Post(absl::StrCat("/jobs/", Sv(job), "/fail"),
              json::object{{"lease", Str(lease)}, {"error", Str(error)}, {"retry", retry}});
}

CallResult ServerClient::Release(std::string_view job, std::string_view lease) {
  return Post(absl::StrCat("/jobs/", Sv(job), "/release"), json::object{{"lease", Str(lease)}});
}

}  // namespace cascade::worker
