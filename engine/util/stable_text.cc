// Copyright 2026 The Cascade Authors.

#include "engine/util/stable_text.h"

#include <string>

#include "absl/container/node_hash_set.h"
#include "base/mutex.h"

namespace cascade::internal {

std::string_view StableText(std::string_view text) {
  struct Texts {
    Mutex mu;
    // Node-based: a text's characters keep their address as the set grows.
    absl::node_hash_set<std::string> kept ABSL_GUARDED_BY(mu);
  };
  static Texts* const texts = new Texts;  // never freed: answers point into it
  MutexLock lock(&texts->mu);
  return *texts->kept.emplace(text).first;
}

}  // namespace cascade::internal
