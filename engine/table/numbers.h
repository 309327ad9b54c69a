// Copyright 2026 The Cascade Authors.
//
// The dense numbers the job model gives teams, templates, tags and batches.
// Each is a type of its own (an enum class: no arithmetic, no implicit
// conversion), so the compiler refuses one where another is expected, and
// any of them where a job's slot (a plain uint32_t index into the job table)
// is expected, or the reverse. Raw() turns one into an index into the
// model's own arrays; only the code that owns those arrays calls it.

#ifndef CASCADE_ENGINE_TABLE_NUMBERS_H_
#define CASCADE_ENGINE_TABLE_NUMBERS_H_

#include <cstdint>
#include <limits>
#include <type_traits>

namespace cascade::internal {

enum class TeamNo : uint32_t {};
enum class TemplateNo : uint32_t {};
enum class TagNo : uint32_t {};
enum class BatchNo : uint32_t {};

// "None" for each: a number no team, template, tag or batch has.
template <typename Number>
inline constexpr Number kNo = Number{std::numeric_limits<uint32_t>::max()};

template <typename Number>
constexpr uint32_t Raw(Number n) {
  static_assert(std::is_enum_v<Number>);
  return static_cast<uint32_t>(n);
}

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_TABLE_NUMBERS_H_
