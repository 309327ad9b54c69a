// Copyright 2026 The Cascade Authors.
//
// Query strings (query.h).

#include "wire/query.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
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
  return ParseListQuery(*params);
}

}  // namespace cascade::wire
