// Copyright 2026 The Cascade Authors.
//
// Expanding an output URL pattern ("s3://renders/{team}/{id}.mp4") for one
// job, appended to the caller's string as the pattern is read: no parts list,
// no string of its own (a planned OutputUrl is expanded each time it is
// written, once per answer that carries it).

#ifndef CASCADE_ENGINE_UTIL_URL_TEMPLATE_H_
#define CASCADE_ENGINE_UTIL_URL_TEMPLATE_H_

#include <string>
#include <string_view>

#include "cascade/ids.h"

namespace cascade::internal {

// Appends `pattern` to `out` with {id}, {team} and {batch} expanded; any
// other text, braces included, is literal. `batch` is null for a job outside
// any batch ({batch} expands to nothing).
inline void AppendExpandedUrl(std::string_view pattern, const JobId& id, std::string_view team,
                              const BatchId* batch, std::string& out) {
  const auto append_id = [&out](const Ulid& ulid) {
    char text[Ulid::kTextSize];
    ulid.AppendTo(text);
    out.append(text, sizeof(text));
  };
  size_t literal_start = 0;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '{') continue;
    const std::string_view rest = pattern.substr(i);
    size_t name_size = 0;
    if (rest.starts_with("{id}")) {
      name_size = 4;
    } else if (rest.starts_with("{team}")) {
      name_size = 6;
    } else if (rest.starts_with("{batch}")) {
      name_size = 7;
    } else {
      continue;
    }
    out.append(pattern.substr(literal_start, i - literal_start));
    if (name_size == 4) {
      append_id(id);
    } else if (name_size == 6) {
      out.append(team);
    } else if (batch != nullptr) {
      append_id(*batch);
    }
    i += name_size - 1;
    literal_start = i + 1;
  }
  out.append(pattern.substr(literal_start));
}

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_UTIL_URL_TEMPLATE_H_
