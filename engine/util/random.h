// Copyright 2026 The Cascade Authors.
//
// SplitMix64: a fast, well-mixed 64-bit hash of a counter (Steele, Lea and
// Flood), for the engine's non-cryptographic random draws (`random` pick
// orders, lease token salt). Not for secrets.

#ifndef CASCADE_ENGINE_UTIL_RANDOM_H_
#define CASCADE_ENGINE_UTIL_RANDOM_H_

#include <cstdint>

namespace cascade::internal {

inline constexpr uint64_t kSplitMixGamma = 0x9E3779B97F4A7C15ull;

inline uint64_t SplitMix64(uint64_t x) {
  x += kSplitMixGamma;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_UTIL_RANDOM_H_
