// Copyright 2026 The Cascade Authors.
//
// Interner: strings (team names, template ids, tags) interned to dense 32-bit
// numbers of type `Number` (engine/table/numbers.h), so a job record holds a
// number rather than a string.
//
// NOTE: not thread-safe; the job model's owner locks it.

#ifndef CASCADE_ENGINE_MODEL_INTERNER_H_
#define CASCADE_ENGINE_MODEL_INTERNER_H_

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "engine/table/numbers.h"
#include "engine/util/strings.h"

namespace cascade::internal {

template <typename Number>
class Interner {
 public:
  Number Intern(std::string_view s) {
    // A batch's jobs usually share their template and team: one comparison
    // instead of a hash lookup.
    if (last_ < names_.size() && names_[last_] == s) return Number{last_};
    auto [it, inserted] = ids_.try_emplace(Sv(s), Number{static_cast<uint32_t>(names_.size())});
    if (inserted) names_.emplace_back(s);
    last_ = Raw(it->second);
    return it->second;
  }
  std::optional<Number> Find(std::string_view s) const {
    auto it = ids_.find(Sv(s));
    if (it == ids_.end()) return std::nullopt;
    return it->second;
  }
  const std::string& name(Number n) const { return names_[Raw(n)]; }
  size_t size() const { return names_.size(); }

 private:
  absl::flat_hash_map<std::string, Number> ids_;
  std::vector<std::string> names_;
  uint32_t last_ = std::numeric_limits<uint32_t>::max();  // the last name interned
};

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_MODEL_INTERNER_H_
