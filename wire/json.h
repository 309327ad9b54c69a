// Copyright 2026 The Cascade Authors.
//
// The wire library (namespace cascade::wire): the JSON shapes of Nexrender's
// Cloud API v2 (the `components.schemas` of
// tests/data/nexrender-openapi-v2.json) and the other request parts
// cascade-server reads, written from and read into the public API's types
// (include/cascade/) with Boost.JSON:
//
//   wire/json.h            JSON text: the writer, UTF-8, reading a body (this file)
//   wire/job_json.h        Job, job creation/join, batch and cancel bodies
//   wire/errors.h          ErrorResponse / ValidationErrorResponse
//   wire/worker_bodies.h   claim, heartbeat, finish, fail, release, log bodies; workers
//   wire/v1_json.h         nexrender v1 job JSON (the /api/v1 bridge)
//   wire/query.h           query strings; GET /jobs into a ListQuery
//   wire/strings.h         Sv, std::string_view to absl::string_view
//
// Layering. wire/ sits below both of its users: cascade-server (server/,
// which includes only include/cascade/ and wire/) and the engine's webhook
// bodies and journal rows (engine/). It includes nothing from server/ or
// engine/ (engine/util/strings.h forwards to wire/strings.h, not the other
// way round). What it needs of the public API beyond its headers
// (StateName, FormatTimestamp, ErrorCodeName, InvalidArgumentWithViolations,
// JobId::Parse, ParseListQuery, ...) is implemented in engine/api/*.cc and
// engine/ids/ulid.cc, code that needs no engine: those files are built as a
// library of their own, `cascade_api` (top-level CMakeLists.txt), which
// `cascade_wire` links and which `cascade` links publicly. So the link graph
// is cascade_api <- cascade_wire <- {cascade, cascade_server}, with no cycle
// and no symbol defined twice.
//
// ---- Decisions (text) -----------------------------------------------------------
//
//   - Text is made by WriteJson, not boost::json::serialize: Boost 1.81
//     writes every double in exponent form ("progress": 5E1) and copies
//     invalid UTF-8 through. WriteJson writes the shortest decimal that reads
//     back to the same double ("progress": 50, "renderDuration": 22.304),
//     null for a non-finite number, and U+FFFD for each invalid UTF-8 byte,
//     so its output is always RFC 8259 JSON.
//   - Input is untrusted: parsing never throws and never crashes. JSON is
//     read with parse_options::max_depth = kMaxJsonDepth; a body must be in
//     valid UTF-8 (Boost.JSON checks; a leading UTF-8 byte order mark is
//     skipped); a number beyond the range of a double is refused. Numbers are
//     read as the nearest double (Boost 1.81's own reading can be one unit in
//     the last place off; see DomBuilder in json.cc) and written in shortest
//     form, so they survive the trip; an integer beyond 64 bits becomes the
//     nearest double. The size limit is the server's (contract §9).

#ifndef CASCADE_WIRE_JSON_H_
#define CASCADE_WIRE_JSON_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "boost/json.hpp"

namespace cascade::wire {

// Deepest nesting of arrays and objects a body may have.
inline constexpr size_t kMaxJsonDepth = 64;
// Most field violations one parse reports, before a last one saying there
// are more.
inline constexpr size_t kMaxViolations = 50;

// True iff `text` is valid UTF-8 (RFC 3629), which the writer keeps as is;
// it replaces each invalid byte with U+FFFD.
bool IsValidUtf8(std::string_view text);

// "null", "a boolean", "a number", "a string", "an array", "an object": the
// kind of `v`, for messages ("must be a string, not an array").
const char* KindName(const boost::json::value& v);

// Compact RFC 8259 text of `value` (see the file comment for numbers and
// invalid UTF-8).
std::string WriteJson(const boost::json::value& value);
std::string WriteJson(const boost::json::object& object);  // no copy into a value
std::string WriteJson(const boost::json::array& array);
// Append the text to `*out`.
void AppendJson(const boost::json::value& value, std::string* out);
void AppendJson(const boost::json::object& object, std::string* out);
void AppendJson(const boost::json::array& array, std::string* out);

// Writes JSON text straight into a string, value by value: the text WriteJson
// writes for the boost::json value built in the same order, without building
// it (no allocation per member). For text made often from a fixed shape: the
// journal writes every changed job's row with it (engine/journal/rows.cc),
// where building a boost::json::object first cost ~2 µs a row. The caller
// nests correctly: each Begin has its End, and in an object each value
// follows a Key. Nothing is checked.
//
//   std::string text;
//   JsonWriter w(&text);
//   w.BeginObject();
//   w.Key("team");
//   w.String(team);
//   w.Key("tags");
//   w.BeginArray();
//   for (const std::string& tag : tags) w.String(tag);
//   w.EndArray();
//   w.EndObject();  // {"team":"...","tags":[...]}
class JsonWriter {
 public:
  // Appends to `*out`, which must outlive the writer.
  explicit JsonWriter(std::string* out) : out_(out) {}

  void BeginObject() { Open('{'); }
  void EndObject() { Close('}'); }
  void BeginArray() { Open('['); }
  void EndArray() { Close(']'); }
  // A member's name; its value is the next thing written.
  void Key(std::string_view key);
  // Quoted and escaped, U+FFFD for each invalid UTF-8 byte (as WriteJson).
  void String(std::string_view text);
  void Integer(int64_t n);
  // As WriteJson writes it: the shortest decimal that reads back as `d`
  // (-0.0 as "-0.0"), null when not finite.
  void Number(double d);
  void Bool(bool b);
  void Null();

 private:
  // Before a key, or a value that is not a member's: the comma after the
  // container's previous item.
  void Item();
  // A container's bracket, opening (an item of its parent) or closing.
  void Open(char bracket);
  void Close(char bracket);

  std::string* const out_;
  bool first_ = true;       // the next item is its container's first
  bool after_key_ = false;  // the next value is a member's (no comma)
};

// Parses `text` as one JSON value with the limits above. InvalidArgument with
// one violation on `body` naming the problem and its byte offset when it is
// empty, malformed, too deep, not UTF-8, or holds a number out of range.
// Never throws. The value's memory comes from `storage` (default: the heap).
[[nodiscard]] absl::StatusOr<boost::json::value> ParseJsonBody(
    std::string_view text, boost::json::storage_ptr storage = {});

}  // namespace cascade::wire

#endif  // CASCADE_WIRE_JSON_H_
