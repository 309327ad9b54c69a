// Copyright 2026 The Cascade Authors.
//
// Field violations carried as an absl::Status payload.

#include "cascade/status.h"

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace cascade {
namespace {

constexpr absl::string_view kViolationsUrl = "type.cascade.dev/cascade.FieldViolations";

// Payload encoding: one "field\tmessage\n" line per violation; tabs and
// newlines inside either part are replaced by spaces when attached.
std::string Clean(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c == '\t' || c == '\n') c = ' ';
  }
  return out;
}

}  // namespace

absl::Status InvalidArgumentWithViolations(std::string_view summary,
                                           absl::Span<const FieldViolation> violations) {
  std::string message(summary);
  std::string payload;
  for (size_t i = 0; i < violations.size(); ++i) {
    absl::StrAppend(&message, i == 0 ? ": " : "; ", violations[i].field, ": ",
                    violations[i].message);
    absl::StrAppend(&payload, Clean(violations[i].field), "\t", Clean(violations[i].message), "\n");
  }
  absl::Status status = absl::InvalidArgumentError(message);
  if (!violations.empty()) status.SetPayload(kViolationsUrl, absl::Cord(payload));
  return status;
}

std::vector<FieldViolation> GetFieldViolations(const absl::Status& status) {
  std::vector<FieldViolation> out;
  auto payload = status.GetPayload(kViolationsUrl);  // absl::optional here
  if (!payload) return out;
  for (absl::string_view line : absl::StrSplit(std::string(*payload), '\n', absl::SkipEmpty())) {
    std::pair<std::string, std::string> parts = absl::StrSplit(line, absl::MaxSplits('\t', 1));
    out.push_back({std::move(parts.first), std::move(parts.second)});
  }
  return out;
}

std::string ErrorCodeName(absl::StatusCode code) {
  return absl::AsciiStrToLower(absl::StatusCodeToString(code));
}

}  // namespace cascade
