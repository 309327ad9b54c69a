// Copyright 2026 The Cascade Authors.
//
// ULID text form (Crockford base32), parsing, and the monotonic generator.

#include <array>
#include <cstring>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cascade/ids.h"
#include "cascade/status.h"
#include "engine/util/strings.h"

namespace cascade {
namespace {

constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr int kTextLength = 26;

// Maps a character to its 5-bit value, or -1. Only the canonical upper-case
// alphabet is accepted: the wire pattern is ^[0-9A-HJKMNP-TV-Z]{26}$.
constexpr std::array<int8_t, 256> MakeDecodeTable() {
  std::array<int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (int i = 0; i < 32; ++i) table[static_cast<unsigned char>(kAlphabet[i])] = int8_t(i);
  return table;
}
constexpr std::array<int8_t, 256> kDecode = MakeDecodeTable();

// The two characters of every 10-bit value (high 5 bits first): AppendTo
// writes a pair per lookup, 13 lookups an id.
constexpr std::array<std::array<char, 2>, 1024> MakePairTable() {
  std::array<std::array<char, 2>, 1024> table{};
  for (int v = 0; v < 1024; ++v) table[v] = {kAlphabet[v >> 5], kAlphabet[v & 31]};
  return table;
}
constexpr std::array<std::array<char, 2>, 1024> kPairs = MakePairTable();

// Writes the 12 characters of a 60-bit value, most significant first.
inline void WriteSixty(uint64_t value, char* out) {
  for (int pair = 5; pair >= 0; --pair, value >>= 10) {
    std::memcpy(out + 2 * pair, kPairs[value & 1023].data(), 2);
  }
}

// splitmix64: small, fast, good enough for the random part of ids.
uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

absl::StatusOr<Ulid> Ulid::Parse(std::string_view text) {
  if (text.size() != kTextLength) {
    return absl::InvalidArgumentError(absl::StrCat("'", internal::Sv(text),
                                                   "' is not a ULID: expected ", kTextLength,
                                                   " characters, got ", text.size()));
  }
  unsigned __int128 value = 0;
  for (char c : text) {
    int8_t d = kDecode[static_cast<unsigned char>(c)];
    if (d < 0) {
      return absl::InvalidArgumentError(absl::StrCat("'", internal::Sv(text), "' is not a ULID: '",
                                                     absl::string_view(&c, 1),
                                                     "' is not in ^[0-9A-HJKMNP-TV-Z]{26}$"));
    }
    value = (value << 5) | static_cast<unsigned>(d);
  }
  if (kDecode[static_cast<unsigned char>(text[0])] > 7) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", internal::Sv(text), "' is not a ULID: the first character must be 0-7 (128 bits)"));
  }
  return Ulid(static_cast<uint64_t>(value >> 64), static_cast<uint64_t>(value));
}

bool Ulid::IsValid(std::string_view text) { return Parse(text).ok(); }

void Ulid::AppendTo(char* out) const {
  // 26 groups of 5 bits, most significant first; the top group has 3 bits.
  // Three independent 60-, 60- and 8-bit words avoid a two-word shift per
  // character: characters 14-25 come from lo's low 60 bits, 2-13 from the
  // next 60, and 0-1 from hi's top 8.
  WriteSixty(lo_ & ((uint64_t{1} << 60) - 1), out + 14);
  WriteSixty(((lo_ >> 60) | (hi_ << 4)) & ((uint64_t{1} << 60) - 1), out + 2);
  std::memcpy(out, kPairs[hi_ >> 56].data(), 2);
}

std::string Ulid::ToString() const {
  std::string s(kTextLength, '0');
  AppendTo(s.data());
  return s;
}

absl::StatusOr<std::vector<JobId>> ParseJobIds(absl::Span<const std::string> texts) {
  std::vector<JobId> ids;
  ids.reserve(texts.size());
  std::vector<FieldViolation> bad;
  for (size_t i = 0; i < texts.size(); ++i) {
    absl::StatusOr<JobId> id = JobId::Parse(texts[i]);
    if (id.ok()) {
      ids.push_back(*id);
    } else {
      bad.push_back({absl::StrCat("jobs[", i, "]"), std::string(id.status().message())});
    }
  }
  if (!bad.empty()) {
    return InvalidArgumentWithViolations(absl::StrCat(bad.size(), " malformed job id(s)"), bad);
  }
  return ids;
}

IdGenerator::IdGenerator(uint64_t seed) : state_(seed) {}

IdGenerator::IdGenerator()
    : state_((uint64_t{std::random_device{}()} << 32) ^ std::random_device{}()) {}

uint64_t IdGenerator::NextRandom() { return SplitMix64(state_); }

JobId IdGenerator::Next(absl::Time now) { return NextAtMillis(absl::ToUnixMillis(now)); }

JobId IdGenerator::NextAtMillis(int64_t ms) {
  uint64_t millis = ms < 0 ? 0 : static_cast<uint64_t>(ms) & ((uint64_t{1} << 48) - 1);
  if (millis > last_millis_ || last_.is_zero()) {
    // 80 random bits: 16 in hi, 64 in lo.
    uint64_t hi = (millis << 16) | (NextRandom() & 0xFFFF);
    last_ = Ulid(hi, NextRandom());
    last_millis_ = millis;
  } else {
    // Same millisecond, or the clock stepped back: previous id plus one. A carry
    // out of the 80 random bits moves into the time part, which stays monotonic.
    uint64_t lo = last_.lo() + 1;
    uint64_t hi = last_.hi() + (lo == 0 ? 1 : 0);
    last_ = Ulid(hi, lo);
    last_millis_ = last_.unix_millis();
  }
  return last_;
}

void IdGenerator::Observe(Ulid id) {
  if (last_.is_zero() || last_.hi() < id.hi() || (last_.hi() == id.hi() && last_.lo() < id.lo())) {
    last_ = id;
    last_millis_ = id.unix_millis();
  }
}

}  // namespace cascade
