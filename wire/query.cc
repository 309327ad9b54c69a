// Copyright 2026 The Cascade Authors.
//
// Query strings (query.h).

#include "wire/query.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "cascade/status.h"
#include "wire/strings.h"

namespace cascade::wire {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes a query component ('+' is a space). False if an escape is
// malformed.
bool Unescape(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out->push_back(' ');
    } else if (in[i] == '%') {
      if (i + 2 >= in.size()) return false;  // needs two more characters
      const int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out->push_back(in[i]);
    }
  }
  return true;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// `tags`' pattern in the document: `^[a-zA-Z0-9-_]+(,[a-zA-Z0-9-_]+)*$`.
bool IsTagList(std::string_view s) {
  bool empty_tag = true;
  for (char c : s) {
    if (c == ',') {
      if (empty_tag) return false;
      empty_tag = true;
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '-' ||
               c == '_') {
      empty_tag = false;
    } else {
      return false;
    }
  }
  return !empty_tag;
}

// `format: date-time` (RFC 3339 section 5.6): 2026-11-22T18:30:00Z,
// 2026-11-22T18:30:00.123+01:00. Only the shape: ParseTimestamp checks that
// the fields name a real time.
bool IsDateTime(std::string_view s) {
  auto digits = [&s](size_t at, size_t n) {
    if (s.size() < at + n) return false;
    for (size_t i = at; i < at + n; ++i) {
      if (!IsDigit(s[i])) return false;
    }
    return true;
  };
  // YYYY-MM-DDTHH:MM:SS
  if (!digits(0, 4) || s.size() < 19 || s[4] != '-' || !digits(5, 2) || s[7] != '-' ||
      !digits(8, 2) || (s[10] != 'T' && s[10] != 't') || !digits(11, 2) || s[13] != ':' ||
      !digits(14, 2) || s[16] != ':' || !digits(17, 2)) {
    return false;
  }
  size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    const size_t start = ++i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i == start) return false;
  }
  const std::string_view offset = s.substr(i);
  if (offset == "Z" || offset == "z") return true;
  return offset.size() == 6 && (offset[0] == '+' || offset[0] == '-') && digits(i + 1, 2) &&
         offset[3] == ':' && digits(i + 4, 2);
}

// A `states` or `exclude_states` value with the document's example state
// name `processing` (`"queued,processing,finished"`) spelled as the state it
// means, `render:dorender`.
std::string WithStateAliases(std::string_view list) {
  std::vector<std::string> names = absl::StrSplit(Sv(list), ',');
  for (std::string& name : names) {
    if (name == "processing") name = "render:dorender";
  }
  return absl::StrJoin(names, ",");
}

}  // namespace

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseQueryString(
    std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  if (query.empty()) return params;
  for (absl::string_view part : absl::StrSplit(Sv(query), '&', absl::SkipEmpty())) {
    const size_t eq = part.find('=');
    std::string key, value;
    const std::string_view raw_key(part.data(), eq == part.npos ? part.size() : eq);
    const std::string_view raw_value =
        eq == part.npos ? std::string_view()
                        : std::string_view(part.data() + eq + 1, part.size() - eq - 1);
    if (!Unescape(raw_key, &key) || !Unescape(raw_value, &value)) {
      return InvalidArgumentWithViolations(
          "invalid query", {{"query", absl::StrCat("malformed percent-escape in '",
                                                   absl::CHexEscape(part.substr(0, 64)), "'")}});
    }
    params.emplace_back(std::move(key), std::move(value));
  }
  return params;
}

absl::StatusOr<ListQuery> ParseJobsQuery(std::string_view query) {
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> params = ParseQueryString(query);
  if (!params.ok()) return params.status();
  // The document's constraints that ParseListQuery does not hold (it is the
  // engine's, and more lenient), on every occurrence of a parameter.
  std::vector<FieldViolation> bad;
  auto refuse = [&bad](std::string_view field, std::string message) {
    for (const FieldViolation& v : bad) {
      if (v.field == field) return;  // one per parameter
    }
    bad.push_back({std::string(field), std::move(message)});
  };
  for (auto& [key, value] : *params) {
    const std::string shown(Sv(value).substr(0, 64));
    if (key == "tags" && !IsTagList(value)) {
      refuse(key, absl::StrCat("'", shown,
                               "' is not a comma-separated list of tags of letters, digits, '-' "
                               "and '_' (^[a-zA-Z0-9-_]+(,[a-zA-Z0-9-_]+)*$)"));
    } else if ((key == "from_date" || key == "to_date") && !IsDateTime(value)) {
      refuse(key, absl::StrCat("'", shown,
                               "' is not an RFC 3339 date-time (e.g. 2026-11-22T18:30:00Z)"));
    } else if (key == "states" || key == "exclude_states") {
      value = WithStateAliases(value);
    }
  }
  absl::StatusOr<ListQuery> list = ParseListQuery(*params);
  if (bad.empty()) return list;
  if (!list.ok()) {
    for (const FieldViolation& v : GetFieldViolations(list.status())) refuse(v.field, v.message);
  }
  return InvalidArgumentWithViolations("invalid query parameters", bad);
}

}  // namespace cascade::wire
