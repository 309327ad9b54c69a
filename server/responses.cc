// Copyright 2026 The Cascade Authors.
//
// The handlers' shared pieces (responses.h).

#include "server/responses.h"

#include <openssl/crypto.h>

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
  ids.clear();
  while (true) {
    const size_t p = pattern.find('/');
    const size_t q = path.find('/');
    const std::string_view want = pattern.substr(0, p);
    const std::string_view got = path.substr(0, q);
    if (want == "{id}") {
      if (got.empty()) return false;
      ids.push_back(got);
    } else if (want != got) {
      return false;
    }
    if (p == std::string_view::npos || q == std::string_view::npos) {
      return p == std::string_view::npos && q == std::string_view::npos;
    }
    pattern.remove_prefix(p + 1);
    path.remove_prefix(q + 1);
  }
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
