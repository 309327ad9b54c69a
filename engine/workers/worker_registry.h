// Copyright 2026 The Cascade Authors.
//
// WorkerRegistry: every worker that claimed (with a name) or heartbeat, for
// the worker list (contract §15). A worker is remembered by its name with
// the tags of its last claim, when it was last seen and the length of the
// last lease it was granted. Which jobs it holds is not kept here: each
// lease names its worker (engine/lease/lease_book.h), so the list is read
// from the leases and can never disagree with them.
//
// Journaled: a worker's row is written when it is first seen, when its tags
// or lease length change, and when its last sighting moves by more than a
// quarter of its lease length (at most once a minute), so a worker that
// only polls costs a few rows an hour, and a restart loses less than a
// quarter lease of "last seen" (a worker is lost only after two).
//
// NOTE: not thread-safe; the engine's lock guards it. Names are never
// forgotten, so the views of them that leases keep stay valid.

#ifndef CASCADE_ENGINE_WORKERS_WORKER_REGISTRY_H_
#define CASCADE_ENGINE_WORKERS_WORKER_REGISTRY_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/node_hash_map.h"
#include "absl/types/span.h"
#include "cascade/engine.h"

namespace cascade::internal {

class Journal;

// At most this many bytes of a worker's name are kept; at most kMaxWorkerTags
// tags of at most kMaxWorkerTagBytes each.
inline constexpr size_t kMaxWorkerNameBytes = 256;
inline constexpr size_t kMaxWorkerTags = 64;
inline constexpr size_t kMaxWorkerTagBytes = 64;

class WorkerRegistry {
 public:
  struct Record {
    std::vector<std::string> tags;
    int64_t last_seen_ms = 0;
    int64_t lease_ms = 0;
    int64_t journaled_seen_ms = 0;  // last_seen_ms as the journal has it
  };

  // `journal`: where rows go (it keeps nothing in memory).
  explicit WorkerRegistry(Journal& journal) : journal_(journal) {}

  // A claim by `request.worker` at `now_ms` with a lease of `lease_ms`. The
  // worker's name as the registry keeps it (a view that stays valid), or an
  // empty view for a claim without a name, which is not remembered.
  std::string_view SawClaim(const ClaimRequest& request, int64_t now_ms, int64_t lease_ms);
  // A call of the worker named `name` (a view SawClaim returned) on a job it
  // holds: a heartbeat, finish, fail, release or log line. Nothing for an
  // empty name.
  void Saw(std::string_view name, int64_t now_ms);

  // The view of `name` the registry keeps, remembering it if new (recovery:
  // a lease naming a worker).
  std::string_view Intern(std::string_view name);
  // Recovery: a worker as its row holds it.
  void Restore(std::string name, Record record);

  // Every worker, by name.
  template <typename Visit>  // void(std::string_view name, const Record&)
  void ForEach(Visit visit) const {
    std::vector<std::string_view> names;
    names.reserve(workers_.size());
    for (const auto& [name, record] : workers_) names.push_back(name);
    std::sort(names.begin(), names.end());
    for (std::string_view name : names)
      visit(name, workers_.find(absl::string_view(name.data(), name.size()))->second);
  }

  // The status of a worker holding `held` jobs at `now_ms`.
  static WorkerStatus StatusOf(const Record& record, size_t held, int64_t now_ms);

 private:
  // Writes the worker's row.
  void Persist(std::string_view name, Record& record);

  Journal& journal_;
  absl::node_hash_map<std::string, Record> workers_;
};

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_WORKERS_WORKER_REGISTRY_H_
