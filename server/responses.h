// Copyright 2026 The Cascade Authors.
//
// What the handlers of cascade-server (server/api.cc, and the nexrender v1
// bridge, server/v1_api.cc) share: making responses from JSON and from
// engine errors, matching a path against a route pattern, and comparing
// secrets. Internal to server/.

#ifndef CASCADE_SERVER_RESPONSES_H_
#define CASCADE_SERVER_RESPONSES_H_

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "boost/json.hpp"
#include "server/http_types.h"

namespace cascade::server {

// `status` with `body` as JSON text (application/json).
Response Json(int status, const boost::json::value& body);
// `status` with `text`, JSON a wire writer made (wire/job_json.h's …Text).
Response JsonText(int status, std::string text);

// The HTTP status of an engine error: InvalidArgument and OutOfRange 400,
// Unauthenticated 401, PermissionDenied 403, NotFound 404,
// FailedPrecondition, AlreadyExists and Aborted 409, ResourceExhausted 429,
// Unavailable 503, anything else 500.
int HttpStatusOf(const absl::Status& status);

// An error answer: a ValidationErrorResponse for 400, an ErrorResponse
// otherwise (wire/errors.h); the second form forces the status code.
// REQUIRES: !status.ok().
Response Error(const absl::Status& status);
Response Error(int code, const absl::Status& status);

// InvalidArgument with one violation on `field`.
absl::Status BadField(std::string_view field, std::string message);

// Whether `path` matches `pattern`, both '/'-separated; a pattern segment
// "{id}" matches any one non-empty segment, which goes to `ids`. Allocates
// nothing once `ids` has room.
bool MatchPath(std::string_view pattern, std::string_view path, std::vector<std::string_view>& ids);

// A path split at every '/' ("/jobs/x" is "", "jobs", "x"), once for all
// the patterns FindRoute tries. Up to kMaxSegments segments; a longer path
// is matched by MatchPath instead.
class PathSegments {
 public:
  static constexpr size_t kMaxSegments = 8;

  explicit PathSegments(std::string_view path);

  std::string_view path() const { return path_; }
  // Whether the path has at most kMaxSegments segments (then all are here).
  bool split() const { return count_ <= kMaxSegments; }
  size_t size() const { return count_; }
  std::string_view operator[](size_t i) const { return segments_[i]; }

 private:
  std::string_view path_;
  size_t count_ = 0;
  std::string_view segments_[kMaxSegments];
};

// MatchPath(pattern, path.path(), ids), faster: a pattern is given up at its
// first segment that differs, without reading the rest of the path.
bool MatchPath(std::string_view pattern, const PathSegments& path,
               std::vector<std::string_view>& ids);

// The route of `routes` (each with `method` and `pattern` members) that
// `method` and `path` take, as OpenAPI matches paths: of the patterns the
// path matches, only those with the fewest {id} segments count, so a
// concrete path wins over a templated one (`PATCH /jobs/cancel` is a wrong
// method on /jobs/cancel, not PATCH /jobs/{id} of a job named "cancel").
template <typename Route>
struct RouteLookup {
  const Route* route = nullptr;       // null: no route takes the request
  std::vector<std::string> allowed;   // then: the methods the path takes (405), or none (404)
  std::vector<std::string_view> ids;  // the {id} segments of `route`
};
// `routes` is a template argument so that each table counts its patterns'
// segments once: FindRoute<kRoutes>(method, path).
template <const auto& routes>
auto FindRoute(std::string_view method, std::string_view path) {
  using Route = std::remove_cv_t<std::remove_reference_t<decltype(routes[0])>>;
  constexpr size_t N = std::size(routes);
  // A pattern matches only paths of as many segments as it has ('/' + 1),
  // counted once per route table: most routes are given up on the count.
  static constexpr std::array<size_t, N> kSegmentCounts = [] {
    std::array<size_t, N> counts{};
    for (size_t i = 0; i < N; ++i) {
      counts[i] = 1 + std::count(routes[i].pattern.begin(), routes[i].pattern.end(), '/');
    }
    return counts;
  }();
  RouteLookup<Route> found;
  found.ids.reserve(2);
  const PathSegments segments(path);
  size_t fewest_ids = SIZE_MAX;
  for (size_t i = 0; i < N; ++i) {
    const Route& r = routes[i];
    if (segments.split() && kSegmentCounts[i] != segments.size()) continue;
    if (!MatchPath(r.pattern, segments, found.ids) || found.ids.size() > fewest_ids) continue;
    if (found.ids.size() < fewest_ids) {  // more concrete than what matched so far
      fewest_ids = found.ids.size();
      found.route = nullptr;
      found.allowed.clear();
    }
    if (r.method != method) {
      found.allowed.emplace_back(r.method);
    } else if (found.route == nullptr) {
      found.route = &r;
    }
  }
  if (found.route != nullptr) MatchPath(found.route->pattern, segments, found.ids);
  return found;
}

// 405 naming the methods `allowed`, also in an Allow header.
Response MethodNotAllowed(std::string_view method, const std::vector<std::string>& allowed);

// Compares in time that depends only on the lengths, not on where the texts
// differ (contract §9).
bool SameSecret(std::string_view a, std::string_view b);

}  // namespace cascade::server

#endif  // CASCADE_SERVER_RESPONSES_H_
