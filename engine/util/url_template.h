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
#include <utility>

#include "cascade/ids.h"

namespace cascade::internal {

// Appends `pattern` to `out` with {id}, {team} and {batch} expanded; any
// other text, braces included, is literal. `batch` is null for a job outside
// any batch ({batch} expands to nothing).
inline void AppendExpandedUrl(std::string_view pattern, const JobId& id, std::string_view team,
                              const BatchId* batch, std::string& out) {
  enum class Field { kId, kTeam, kBatch };
  static constexpr std::pair<std::string_view, Field> kFields[] = {
      {"{id}", Field::kId}, {"{team}", Field::kTeam}, {"{batch}", Field::kBatch}};
  const auto append_id = [&out](const Ulid& ulid) {
    char text[Ulid::kTextSize];
    ulid.AppendTo(text);
    out.append(text, sizeof(text));
  };
  size_t literal_start = 0;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '{') continue;
    const std::string_view rest = pattern.substr(i);
    for (const auto& [name, field] : kFields) {
      if (!rest.starts_with(name)) continue;
      out.append(pattern.substr(literal_start, i - literal_start));
      switch (field) {
        case Field::kId:
          append_id(id);
          break;
        case Field::kTeam:
          out.append(team);
          break;
        case Field::kBatch:
          if (batch != nullptr) append_id(*batch);
          break;
      }
      i += name.size() - 1;
      literal_start = i + 1;
      break;
    }
  }
  out.append(pattern.substr(literal_start));
}

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_UTIL_URL_TEMPLATE_H_
