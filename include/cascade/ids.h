// Copyright 2026 The Cascade Authors.
//
// File: cascade/ids.h
// -----------------------------------------------------------------------------
// Identifiers. Every job and batch is named by a ULID: 48 bits of Unix time in
// milliseconds followed by 80 random bits, written as 26 characters of
// Crockford base32 (`^[0-9A-HJKMNP-TV-Z]{26}$`). Ids made by one generator are
// strictly increasing, so creation order is id order.
//
// Example:
//
//   cascade::IdGenerator ids(/*seed=*/42);
//   cascade::JobId id = ids.Next(absl::Now());
//   std::string text = id.ToString();                    // "01J..."
//   absl::StatusOr<cascade::JobId> back = cascade::JobId::Parse(text);
//   assert(*back == id);

#ifndef CASCADE_IDS_H_
#define CASCADE_IDS_H_

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace cascade {

// A 128-bit ULID. Trivially copyable; ordered by value, which for ids from one
// generator is creation order.
class Ulid {
 public:
  // Characters in the text form.
  static constexpr size_t kTextSize = 26;

  // The zero id. It is never generated; it parses as "00000000000000000000000000".
  constexpr Ulid() = default;
  constexpr Ulid(uint64_t hi, uint64_t lo) : hi_(hi), lo_(lo) {}

  // Parses the 26-character text form. Returns InvalidArgument naming the
  // text when it is not 26 characters of the pattern above, or when its first
  // character is above '7' (the value would not fit in 128 bits; the ULID
  // specification rejects such strings).
  [[nodiscard]] static absl::StatusOr<Ulid> Parse(std::string_view text);

  // True iff Parse(text) would succeed.
  [[nodiscard]] static bool IsValid(std::string_view text);

  // The 26-character text form.
  std::string ToString() const;
  // Writes the 26 characters to `out`, which must have room for them.
  void AppendTo(char* out) const;

  // Milliseconds since the Unix epoch encoded in the id.
  uint64_t unix_millis() const { return hi_ >> 16; }
  uint64_t hi() const { return hi_; }
  uint64_t lo() const { return lo_; }
  bool is_zero() const { return hi_ == 0 && lo_ == 0; }

  friend constexpr bool operator==(const Ulid&, const Ulid&) = default;
  friend constexpr std::strong_ordering operator<=>(const Ulid&, const Ulid&) = default;

  template <typename H>
  friend H AbslHashValue(H h, const Ulid& id) {
    return H::combine(std::move(h), id.hi_, id.lo_);
  }

 private:
  uint64_t hi_ = 0;
  uint64_t lo_ = 0;
};

// Jobs and batches share the id format and generator.
using JobId = Ulid;
using BatchId = Ulid;

// Parses each text as a JobId. On any failure returns InvalidArgument listing
// every bad entry with its position in the request's `jobs` array
// ("jobs[3]: 'x' is not a ULID: ..."), and the
// returned status carries them as field violations (see cascade/status.h).
[[nodiscard]] absl::StatusOr<std::vector<JobId>> ParseJobIds(absl::Span<const std::string> texts);

// Makes monotonic ULIDs. Within one millisecond, and when the clock steps
// back, the next id is the previous one plus one, so ids never repeat and
// never decrease.
//
// NOTE: not thread-safe; the engine calls it under its lock.
class IdGenerator {
 public:
  // Random part drawn from a generator seeded with `seed`: two generators with
  // the same seed and the same sequence of times make the same ids.
  explicit IdGenerator(uint64_t seed);
  // Seeded from the operating system's entropy.
  IdGenerator();

  JobId Next(absl::Time now);
  // The same, for a time in milliseconds since the Unix epoch.
  JobId NextAtMillis(int64_t unix_millis);

  // Makes every later id greater than `id` (an engine reopening a data
  // directory observes the ids it restored, so new ones still sort last).
  void Observe(Ulid id);

 private:
  uint64_t NextRandom();

  uint64_t state_;
  uint64_t last_millis_ = 0;
  Ulid last_;
};

}  // namespace cascade

#endif  // CASCADE_IDS_H_
