// Copyright 2026 The Cascade Authors.
//
// ErrorResponse and ValidationErrorResponse (errors.h).

#include "wire/errors.h"

#include <utility>

#include "cascade/status.h"
#include "wire/json_internal.h"

namespace cascade::wire {
namespace json = ::boost::json;

using json_detail::Str;

json::object ErrorResponseToJson(const absl::Status& status) {
  const absl::string_view message = status.message();
  return ErrorResponseToJson(std::string_view(message.data(), message.size()),
                             ErrorCodeName(status.code()));
}

json::object ErrorResponseToJson(std::string_view message, std::string_view error_code) {
  return json::object{{"error", Str(message)}, {"errorCode", Str(error_code)}};
}

json::object ValidationErrorResponseToJson(const absl::Status& status) {
  json::object o = ErrorResponseToJson(status);
  json::array details;
  for (const FieldViolation& v : GetFieldViolations(status)) {
    details.emplace_back(json::object{{"field", Str(v.field)}, {"message", Str(v.message)}});
  }
  o["details"] = std::move(details);
  return o;
}

}  // namespace cascade::wire
