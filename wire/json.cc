// Copyright 2026 The Cascade Authors.
//
// JSON text: the writer (shortest doubles, U+FFFD for invalid UTF-8) and the
// reader of untrusted bodies (limits, nearest doubles), for the whole wire
// library (decisions in json.h).

#include "wire/json.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "boost/json/basic_parser_impl.hpp"
#include "cascade/status.h"
#include "wire/json_internal.h"
#include "wire/strings.h"

namespace cascade::wire {
namespace json = ::boost::json;

const char* KindName(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "a number";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "a value";
}

namespace json_detail {

std::string Field(const std::string& path, std::string_view key) {
  // Keys come from the request: keep a path readable whatever they hold.
  constexpr size_t kMaxKeyBytes = 64;
  std::string_view shown = key.substr(0, kMaxKeyBytes);
  const char* ellipsis = key.size() > kMaxKeyBytes ? "..." : "";
  return path.empty() ? absl::StrCat(Sv(shown), ellipsis)
                      : absl::StrCat(path, ".", Sv(shown), ellipsis);
}

std::string Index(const std::string& path, size_t i) { return absl::StrCat(path, "[", i, "]"); }

std::string WrongType(const char* expected, const json::value& got) {
  return absl::StrCat("must be ", expected, ", got ", KindName(got));
}

absl::Status BodyError(std::string_view summary, std::string message) {
  return InvalidArgumentWithViolations(summary, {{"body", std::move(message)}});
}

}  // namespace json_detail

namespace {

using json_detail::Field;
using json_detail::Index;
using json_detail::View;

// Length of the valid UTF-8 sequence starting at s[i], or 0 if there is none
// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto byte = [&s](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    n = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    n = 3;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    n = 4;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return n;
}

void AppendString(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    // Copy the longest run that needs no escape in one go.
    size_t run = i;
    while (run < s.size()) {
      const auto c = static_cast<unsigned char>(s[run]);
      if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
      ++run;
    }
    out->append(s.data() + i, run - i);
    i = run;
    if (i == s.size()) break;
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t n = Utf8SequenceLength(s, i);
      if (n == 0) {
        out->append("\xEF\xBF\xBD");  // U+FFFD for one bad byte
        ++i;
      } else {
        out->append(s.data() + i, n);
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        out->append("\\u00");
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 0xF]);
        break;
    }
    ++i;
  }
  out->push_back('"');
}

template <typename T>
void AppendNumber(T n, std::string* out) {
  char buf[32];
  const std::to_chars_result r = std::to_chars(buf, buf + sizeof(buf), n);
  out->append(buf, r.ptr);
}

void AppendDouble(double d, std::string* out) {
  if (!std::isfinite(d)) {
    out->append("null");  // JSON has no infinity or NaN
    return;
  }
  if (d == 0 && std::signbit(d)) {
    out->append("-0.0");  // "-0" would read back as the integer 0
    return;
  }
  AppendNumber(d, out);  // shortest text that reads back as `d`
}

// The path of the first number in `v` beyond the range of a double (Boost.JSON
// reads it as infinity), or nullopt.
std::optional<std::string> FindNonFinite(const json::value& v, const std::string& path) {
  switch (v.kind()) {
    case json::kind::double_:
      if (!std::isfinite(v.get_double())) return path;
      return std::nullopt;
    case json::kind::array: {
      const json::array& a = v.get_array();
      for (size_t i = 0; i < a.size(); ++i) {
        if (auto found = FindNonFinite(a[i], Index(path, i))) return found;
      }
      return std::nullopt;
    }
    case json::kind::object:
      for (const json::key_value_pair& kv : v.get_object()) {
        if (auto found = FindNonFinite(kv.value(), Field(path, View(kv.key())))) return found;
      }
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

// The handler of json::basic_parser that builds the DOM, as stream_parser
// does, except for doubles: Boost 1.81 reads a number with a large exponent
// to within one unit in the last place (-3e50 as -3.0000000000000002e+50);
// this reads each from its text with std::from_chars, which gives the nearest
// double, so a number survives a round trip through the payload.
class DomBuilder {
 public:
  static constexpr size_t max_object_size = json::object::max_size();
  static constexpr size_t max_array_size = json::array::max_size();
  static constexpr size_t max_key_size = json::string::max_size();
  static constexpr size_t max_string_size = json::string::max_size();

  explicit DomBuilder(json::storage_ptr storage) { stack_.reset(std::move(storage)); }

  json::value Release() { return stack_.release(); }
  // Some number was beyond the range of a double.
  bool non_finite() const { return non_finite_; }

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) { return true; }
  bool on_object_end(size_t n, json::error_code&) {
    stack_.push_object(n);
    return true;
  }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(size_t n, json::error_code&) {
    stack_.push_array(n);
    return true;
  }
  bool on_key_part(json::string_view s, size_t, json::error_code&) {
    stack_.push_chars(s);
    return true;
  }
  bool on_key(json::string_view s, size_t, json::error_code&) {
    stack_.push_key(s);
    return true;
  }
  bool on_string_part(json::string_view s, size_t, json::error_code&) {
    stack_.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, size_t, json::error_code&) {
    stack_.push_string(s);
    return true;
  }
  bool on_number_part(json::string_view s, json::error_code&) {
    number_.append(s.data(), s.size());
    return true;
  }
  bool on_int64(int64_t i, json::string_view, json::error_code&) {
    number_.clear();
    stack_.push_int64(i);
    return true;
  }
  bool on_uint64(uint64_t u, json::string_view, json::error_code&) {
    number_.clear();
    stack_.push_uint64(u);
    return true;
  }
  bool on_double(double d, json::string_view s, json::error_code&) {
    number_.append(s.data(), s.size());
    double nearest;
    const char* end = number_.data() + number_.size();
    const std::from_chars_result r = std::from_chars(number_.data(), end, nearest);
    // Out of range (beyond a double, or below its smallest): keep Boost's
    // infinity or zero; the caller refuses infinities.
    if (r.ec == std::errc() && r.ptr == end) d = nearest;
    if (!std::isfinite(d)) non_finite_ = true;
    number_.clear();
    stack_.push_double(d);
    return true;
  }
  bool on_bool(bool b, json::error_code&) {
    stack_.push_bool(b);
    return true;
  }
  bool on_null(json::error_code&) {
    stack_.push_null();
    return true;
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  json::value_stack stack_;
  std::string number_;  // the text of a number split across calls
  bool non_finite_ = false;
};

}  // namespace

namespace json_detail {

void AppendJsonString(std::string_view s, std::string* out) { AppendString(s, out); }
void AppendJsonNumber(double d, std::string* out) { AppendDouble(d, out); }
void AppendJsonInteger(int64_t n, std::string* out) { AppendNumber(n, out); }

absl::StatusOr<json::value> ParseBody(std::string_view text, json::storage_ptr storage) {
  constexpr std::string_view kSummary = "malformed JSON";
  size_t base = 0;  // offsets are reported in the original text
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") {
    text.remove_prefix(3);
    base = 3;
  }
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return BodyError(kSummary, "the body is empty");
  }
  json::parse_options options;
  options.max_depth = kMaxJsonDepth;
  json::basic_parser<DomBuilder> parser(options, std::move(storage));
  json::error_code ec;
  // more = false: this is the whole text; the parser stops after one value.
  const size_t used = parser.write_some(false, text.data(), text.size(), ec);
  if (!ec && used < text.size()) {
    return BodyError(kSummary,
                     absl::StrCat("unexpected data after the JSON value at byte ", base + used));
  }
  if (!ec && !parser.done()) ec = json::error::incomplete;
  if (ec) {
    const size_t at = base + used;
    std::string what;
    if (ec == json::error::too_deep) {
      what = absl::StrCat("nested deeper than ", kMaxJsonDepth, " levels at byte ", at);
    } else if (ec == json::error::incomplete) {
      what = absl::StrCat("the JSON text ends early (", text.size() + base, " bytes)");
    } else if (ec == json::error::syntax && used < text.size() &&
               static_cast<unsigned char>(text[used]) >= 0x80) {
      what = absl::StrCat("invalid UTF-8 at byte ", at);
    } else {
      what = absl::StrCat(ec.message(), " at byte ", at);
    }
    return BodyError(kSummary, std::move(what));
  }
  json::value value = parser.handler().Release();
  if (!parser.handler().non_finite()) return value;
  if (std::optional<std::string> where = FindNonFinite(value, "")) {
    return InvalidArgumentWithViolations(
        "invalid number", {{where->empty() ? "body" : *where, "number out of range"}});
  }
  return value;
}

absl::StatusOr<json::value> ParseObjectBody(std::string_view text, json::storage_ptr storage) {
  absl::StatusOr<json::value> value = ParseBody(text, std::move(storage));
  if (value.ok() && !value->is_object()) {
    return BodyError("invalid request body", WrongType("a JSON object", *value));
  }
  return value;
}

}  // namespace json_detail

// ---- Public -------------------------------------------------------------------------

bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    const size_t n = Utf8SequenceLength(text, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

void AppendJson(const json::value& value, std::string* out) {
  switch (value.kind()) {
    case json::kind::null:
      out->append("null");
      return;
    case json::kind::bool_:
      out->append(value.get_bool() ? "true" : "false");
      return;
    case json::kind::int64:
      AppendNumber(value.get_int64(), out);
      return;
    case json::kind::uint64:
      AppendNumber(value.get_uint64(), out);
      return;
    case json::kind::double_:
      AppendDouble(value.get_double(), out);
      return;
    case json::kind::string:
      AppendString(View(value.get_string()), out);
      return;
    case json::kind::array:
      AppendJson(value.get_array(), out);
      return;
    case json::kind::object:
      AppendJson(value.get_object(), out);
      return;
  }
}

void JsonWriter::Item() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_) out_->push_back(',');
  first_ = false;
}

void JsonWriter::Open(char bracket) {
  Item();
  out_->push_back(bracket);
  first_ = true;
}

void JsonWriter::Close(char bracket) {
  out_->push_back(bracket);
  first_ = false;  // the container just closed is an item of its parent
}

void JsonWriter::Key(std::string_view key) {
  Item();
  AppendString(key, out_);
  out_->push_back(':');
  after_key_ = true;
}

void JsonWriter::String(std::string_view text) {
  Item();
  AppendString(text, out_);
}

void JsonWriter::Integer(int64_t n) {
  Item();
  AppendNumber(n, out_);
}

void JsonWriter::Number(double d) {
  Item();
  AppendDouble(d, out_);
}

void JsonWriter::Bool(bool b) {
  Item();
  out_->append(b ? "true" : "false");
}

void JsonWriter::Null() {
  Item();
  out_->append("null");
}

void AppendJson(const json::array& array, std::string* out) {
  out->push_back('[');
  bool first = true;
  for (const json::value& item : array) {
    if (!first) out->push_back(',');
    first = false;
    AppendJson(item, out);
  }
  out->push_back(']');
}

void AppendJson(const json::object& object, std::string* out) {
  out->push_back('{');
  bool first = true;
  for (const json::key_value_pair& kv : object) {
    if (!first) out->push_back(',');
    first = false;
    AppendString(std::string_view(kv.key().data(), kv.key().size()), out);
    out->push_back(':');
    AppendJson(kv.value(), out);
  }
  out->push_back('}');
}

std::string WriteJson(const json::value& value) {
  std::string out;
  AppendJson(value, &out);
  return out;
}

std::string WriteJson(const json::object& object) {
  std::string out;
  AppendJson(object, &out);
  return out;
}

std::string WriteJson(const json::array& array) {
  std::string out;
  AppendJson(array, &out);
  return out;
}

absl::StatusOr<json::value> ParseJsonBody(std::string_view text, json::storage_ptr storage) {
  return json_detail::NoThrow([&]() { return json_detail::ParseBody(text, std::move(storage)); });
}

}  // namespace cascade::wire
