// Copyright 2026 The Cascade Authors.
//
// Private to wire/*.cc: the helpers the body readers share (field paths, type
// names, the exception guard). Not for users of the wire library.

#ifndef CASCADE_WIRE_JSON_INTERNAL_H_
#define CASCADE_WIRE_JSON_INTERNAL_H_

#include <cstddef>
#include <cstdint>
#include <exception>
#include <new>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "boost/json.hpp"
#include "wire/json.h"

namespace cascade::wire::json_detail {

// `path.key`, or `key` at the root; a key longer than 64 bytes is cut, with
// "..." (keys come from the request).
std::string Field(const std::string& path, std::string_view key);
// `path[i]`.
std::string Index(const std::string& path, size_t i);
using ::cascade::wire::KindName;  // wire/json.h
// "must be <expected>, got <KindName(got)>".
std::string WrongType(const char* expected, const boost::json::value& got);

inline std::string_view View(const boost::json::string& s) {
  return std::string_view(s.data(), s.size());
}
inline boost::json::string Str(std::string_view s) {
  return boost::json::string(boost::json::string_view(s.data(), s.size()));
}

// The writer's pieces (WriteJson's text, wire/json.h), for the writers that
// put their text together without a boost::json value (wire/job_json.cc).
// A string, quoted and escaped (U+FFFD for an invalid UTF-8 byte):
void AppendJsonString(std::string_view s, std::string* out);
// The shortest decimal that reads back as `d`; null when not finite:
void AppendJsonNumber(double d, std::string* out);
void AppendJsonInteger(int64_t n, std::string* out);

// InvalidArgument `summary` with one violation on `body`.
absl::Status BodyError(std::string_view summary, std::string message);

// ParseJsonBody, without the exception guard (the callers run under NoThrow).
absl::StatusOr<boost::json::value> ParseBody(std::string_view text,
                                             boost::json::storage_ptr storage);
// ParseBody, requiring an object at the top.
absl::StatusOr<boost::json::value> ParseObjectBody(std::string_view text,
                                                   boost::json::storage_ptr storage);

// Runs `parse`, turning any exception (out of memory: Boost.JSON's error_code
// overloads throw nothing else) into a status.
template <typename F>
auto NoThrow(F&& parse) -> decltype(parse()) {
  try {
    return parse();
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory while reading the request body");
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("unreadable request body: ", e.what()));
  }
}

}  // namespace cascade::wire::json_detail

#endif  // CASCADE_WIRE_JSON_INTERNAL_H_
