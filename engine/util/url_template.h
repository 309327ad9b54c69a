// Copyright 2026 The Cascade Authors.
//
// An output URL pattern ("s3://renders/{team}/{id}.mp4") split once into
// literal text and placeholders, so that expanding it for a job is a few
// appends into one reserved string.

#ifndef CASCADE_ENGINE_UTIL_URL_TEMPLATE_H_
#define CASCADE_ENGINE_UTIL_URL_TEMPLATE_H_

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "cascade/ids.h"

namespace cascade::internal {

class UrlTemplate {
 public:
  // Recognizes {id}, {team} and {batch}; any other text, braces included, is literal.
  explicit UrlTemplate(std::string_view pattern) {
    size_t literal_start = 0;
    for (size_t i = 0; i < pattern.size(); ++i) {
      if (pattern[i] != '{') continue;
      for (auto [name, kind] : {std::pair{std::string_view("{id}"), Kind::kId},
                                std::pair{std::string_view("{team}"), Kind::kTeam},
                                std::pair{std::string_view("{batch}"), Kind::kBatch}}) {
        if (pattern.substr(i, name.size()) != name) continue;
        if (i > literal_start) AddLiteral(pattern.substr(literal_start, i - literal_start));
        parts_.push_back({kind, {}});
        i += name.size() - 1;
        literal_start = i + 1;
        break;
      }
    }
    if (literal_start < pattern.size()) AddLiteral(pattern.substr(literal_start));
  }

  // `batch` is null for a job outside any batch ({batch} expands to nothing).
  // Sizes the result first and writes it in place: one allocation.
  std::string Expand(const JobId& id, std::string_view team, const BatchId* batch) const {
    size_t size = literal_bytes_;
    for (const Part& part : parts_) {
      if (part.kind == Kind::kId || (part.kind == Kind::kBatch && batch != nullptr)) {
        size += Ulid::kTextSize;
      } else if (part.kind == Kind::kTeam) {
        size += team.size();
      }
    }
    std::string out(size, '\0');
    char* at = out.data();
    for (const Part& part : parts_) {
      switch (part.kind) {
        case Kind::kLiteral:
          at = std::copy(part.text.begin(), part.text.end(), at);
          break;
        case Kind::kId:
          id.AppendTo(at);
          at += Ulid::kTextSize;
          break;
        case Kind::kTeam:
          at = std::copy(team.begin(), team.end(), at);
          break;
        case Kind::kBatch:
          if (batch != nullptr) {
            batch->AppendTo(at);
            at += Ulid::kTextSize;
          }
          break;
      }
    }
    return out;
  }

 private:
  enum class Kind : uint8_t { kLiteral, kId, kTeam, kBatch };
  struct Part {
    Kind kind;
    std::string text;
  };
  void AddLiteral(std::string_view text) {
    parts_.push_back({Kind::kLiteral, std::string(text)});
    literal_bytes_ += text.size();
  }
  std::vector<Part> parts_;
  size_t literal_bytes_ = 0;
};

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_UTIL_URL_TEMPLATE_H_
