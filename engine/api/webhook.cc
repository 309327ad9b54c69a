// Copyright 2026 The Cascade Authors.
//
// HTTP method names for webhooks (cascade/webhook.h).

#include "cascade/webhook.h"

#include "absl/strings/str_cat.h"
#include "engine/util/strings.h"

namespace cascade {

std::string_view HttpMethodName(HttpMethod method) {
  switch (method) {
    case HttpMethod::kGet:
      return "GET";
    case HttpMethod::kPost:
      return "POST";
    case HttpMethod::kPut:
      return "PUT";
    case HttpMethod::kDelete:
      return "DELETE";
  }
  return "POST";  // unreachable for a valid enumerator
}

absl::StatusOr<HttpMethod> ParseHttpMethod(std::string_view name) {
  for (HttpMethod method :
       {HttpMethod::kGet, HttpMethod::kPost, HttpMethod::kPut, HttpMethod::kDelete}) {
    if (name == HttpMethodName(method)) return method;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown HTTP method \"",
                                                 internal::Sv(name.substr(0, 32)),
                                                 "\": expected GET, POST, PUT or DELETE"));
}

}  // namespace cascade
