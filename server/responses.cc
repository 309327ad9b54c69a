// Copyright 2026 The Cascade Authors.
//
// The handlers' shared pieces (responses.h).

#include "server/responses.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cascade/status.h"
#include "wire/errors.h"
#include "wire/json.h"
#include "wire/strings.h"

namespace cascade::server {

Response Json(int status, const boost::json::value& body) {
  Response r;
  r.status = status;
  r.body = wire::WriteJson(body);
  return r;
}

Response JsonText(int status, std::string text) {
  Response r;
  r.status = status;
  r.body = std::move(text);
  return r;
}

int HttpStatusOf(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

Response Error(const absl::Status& status) {
  const int code = HttpStatusOf(status);
  if (code == 400) return Json(code, wire::ValidationErrorResponseToJson(status));
  return Json(code, wire::ErrorResponseToJson(status));
}

Response Error(int code, const absl::Status& status) {
  Response r = Error(status);
  r.status = code;
  return r;
}

absl::Status BadField(std::string_view field, std::string message) {
  return InvalidArgumentWithViolations(absl::StrCat("invalid ", wire::Sv(field)),
                                       {{std::string(field), std::move(message)}});
}

bool MatchPath(std::string_view pattern, std::string_view path,
               std::vector<std::string_view>& ids) {
  // One pass over both, segment by segment, so that a route is given up at
  // its first differing character: FindRoute tries every route on every
  // request, and splitting each pattern and the path at every '/' first made
  // routing a tenth of the CPU time of a GET /jobs/{id}.
  constexpr std::string_view kId = "{id}";
  ids.clear();
  size_t i = 0, j = 0;  // the starts of the current segments of pattern, path
  while (true) {
    const bool id_segment = pattern.compare(i, kId.size(), kId) == 0 &&
                            (i + kId.size() == pattern.size() || pattern[i + kId.size()] == '/');
    if (id_segment) {
      const size_t end = std::min(path.find('/', j), path.size());
      if (end == j) return false;  // an empty segment is no id
      ids.push_back(path.substr(j, end - j));
      i += kId.size();
      j = end;
    } else {
      for (; i < pattern.size() && pattern[i] != '/'; ++i, ++j) {
        if (j == path.size() || path[j] != pattern[i]) return false;
      }
      if (j < path.size() && path[j] != '/') return false;  // the path's segment is longer
    }
    // Both at the end of a segment: the end of the text, or a '/'.
    if (i == pattern.size() || j == path.size()) return i == pattern.size() && j == path.size();
    ++i;
    ++j;
  }
}

PathSegments::PathSegments(std::string_view path) : path_(path) {
  size_t start = 0;
  while (true) {
    const size_t end = std::min(path.find('/', start), path.size());
    if (count_ < kMaxSegments) segments_[count_] = path.substr(start, end - start);
    ++count_;
    if (end == path.size()) break;
    start = end + 1;
  }
}

bool MatchPath(std::string_view pattern, const PathSegments& path,
               std::vector<std::string_view>& ids) {
  if (!path.split()) return MatchPath(pattern, path.path(), ids);
  constexpr std::string_view kId = "{id}";
  ids.clear();
  size_t i = 0;  // the start of the pattern's current segment
  for (size_t k = 0; k < path.size(); ++k) {
    const std::string_view got = path[k];
    if (pattern.size() - i >= kId.size() && pattern[i] == '{' &&
        pattern.substr(i, kId.size()) == kId &&
        (i + kId.size() == pattern.size() || pattern[i + kId.size()] == '/')) {
      if (got.empty()) return false;  // an empty segment is no id
      ids.push_back(got);
      i += kId.size();
    } else {
      size_t c = 0;
      for (; i < pattern.size() && pattern[i] != '/'; ++i, ++c) {
        if (c == got.size() || got[c] != pattern[i]) return false;
      }
      if (c != got.size()) return false;
    }
    if (i == pattern.size()) return k + 1 == path.size();  // the pattern ends here
    ++i;                                                   // past its '/'
  }
  return false;  // the path ended first
}

Response MethodNotAllowed(std::string_view method, const std::vector<std::string>& allowed) {
  Response r = Error(405, absl::FailedPreconditionError(absl::StrCat(
                              "method ", absl::CHexEscape(wire::Sv(method.substr(0, 16))),
                              " is not allowed here; allowed: ", absl::StrJoin(allowed, ", "))));
  r.headers.emplace_back("Allow", absl::StrJoin(allowed, ", "));
  return r;
}

bool SameSecret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace cascade::server
