// Copyright 2026 The Cascade Authors.
//
// Retention (SPEC §10): terminal job families older than the retention period
// are purged from memory and from the journal, a whole family at a time.
//
// A family is what a job cannot be separated from: the jobs its edges join it
// to (nested children, parents, prerequisites, dependents), transitively, and
// every job of a batch any of them belongs to. Purging part of one would leave
// a job whose view names a job that is gone, or a batch whose counts no
// longer add up. A family is purged when every job in it ended (finished,
// error or manually_cancelled) more than `retention` ago and none has a
// webhook delivery still pending or in flight; its dead letters go with it.
//
//   ended_ (by end time)      family of the oldest        purge?
//   ───────────────────       ────────────────────        ──────
//   (t1, A) ◀── oldest        A ─▶ B ─▶ C                 every job ended before
//   (t2, C)                   └───── batch ─▶ D           now - retention, and no
//   (t5, B)                                               delivery waiting
//
// Each terminal job has one entry in ended_, at the time it ended, so the
// entry that brings a family to be purged is its last job's. An earlier
// entry that finds a job of its family still running, or ended too recently,
// drops the entries of the family's other old jobs too: the later job's
// entry (or its end, when it has not ended) will bring the family back, and a
// large family is not walked once per job.
//
// What a purge leaves in memory: the job's fixed-size record in the table
// (with its id cleared and its extras freed; slots are never reused, as every
// index is keyed by slot), its graph vertex (with no edges) and the batch's
// record (which lock-free readers may hold). None of it is reachable; the
// next open of the data directory does not load it at all.

#include <algorithm>
#include <deque>
#include <limits>
#include <optional>

#include "absl/container/flat_hash_set.h"
#include "engine/engine_impl.h"

namespace cascade::internal {

void EngineImpl::CollectFamily(uint32_t slot, bool through_batches, std::vector<uint32_t>& jobs,
                               std::vector<uint32_t>& batches) const {
  jobs.clear();
  batches.clear();
  absl::flat_hash_set<uint32_t> seen_jobs{slot};
  absl::flat_hash_set<uint32_t> seen_batches;
  std::deque<uint32_t> work{slot};
  auto visit = [&](uint32_t s) {
    if (seen_jobs.insert(s).second) work.push_back(s);
  };
  while (!work.empty()) {
    const uint32_t s = work.front();
    work.pop_front();
    jobs.push_back(s);
    const JobRecord& job = table_[s];
    if (job.vertex != kNoVertex) {
      graph_.ForEachDependent(job.vertex, visit);
      graph_.ForEachPrerequisite(job.vertex, visit);
    }
    if (through_batches && job.batch != kNone32 && seen_batches.insert(job.batch).second) {
      batches.push_back(job.batch);
      for (uint32_t member : batches_.at(job.batch).top_level()) visit(member);
    }
  }
  std::sort(jobs.begin(), jobs.end());
}

size_t EngineImpl::PurgeExpiredFamilies(int64_t now_ms, size_t budget) {
  const int64_t retention_ms = absl::ToInt64Milliseconds(options_.durability.retention);
  if (now_ms < std::numeric_limits<int64_t>::min() + retention_ms) return 0;
  // A job that ended before the cutoff ended more than `retention` ago.
  const int64_t cutoff = now_ms - retention_ms;
  // Jobs with a delivery not yet done (pending or in flight); found once.
  std::optional<absl::flat_hash_set<uint32_t>> delivering;
  std::vector<uint32_t> jobs, batches;
  size_t purged = 0, walked = 0;
  while (walked < budget && !ended_.empty() && ended_.begin()->first < cutoff) {
    const uint32_t slot = ended_.begin()->second;
    ended_.erase(ended_.begin());
    if (table_[slot].purged()) continue;
    CollectFamily(slot, /*through_batches=*/true, jobs, batches);
    walked += jobs.size();
    const bool all_old = std::all_of(jobs.begin(), jobs.end(), [&](uint32_t s) {
      return IsTerminal(table_[s].state()) && table_[s].timeline.updated_ms < cutoff;
    });
    if (!all_old) {
      for (uint32_t s : jobs) {
        if (IsTerminal(table_[s].state()) && table_[s].timeline.updated_ms < cutoff) {
          ended_.erase({table_[s].timeline.updated_ms, s});
        }
      }
      continue;
    }
    if (!delivering) {
      delivering.emplace();
      for (const auto& [key, delivery] : outbox_) {
        if (delivery.stage != Delivery::Stage::kDead) delivering->insert(delivery.slot);
      }
    }
    if (std::any_of(jobs.begin(), jobs.end(),
                    [&](uint32_t s) { return delivering->contains(s); })) {
      // Look again in a minute: a delivery ends within its retries.
      ended_.insert({cutoff + 60'000, slot});
      continue;
    }
    PurgeFamily(jobs, batches);
    purged += jobs.size();
  }
  return purged;
}

void EngineImpl::PurgeFamily(absl::Span<const uint32_t> jobs, absl::Span<const uint32_t> batches) {
  const absl::flat_hash_set<uint32_t> members(jobs.begin(), jobs.end());
  // The rows first, while the ids are still there to name them.
  std::vector<uint64_t> edge_keys;
  for (uint32_t s : jobs) {
    if (table_[s].vertex != kNoVertex) {
      graph_.ForEachEdgeKey(table_[s].vertex, [&](uint64_t key) { edge_keys.push_back(key); });
    }
  }
  std::sort(edge_keys.begin(), edge_keys.end());
  edge_keys.erase(std::unique(edge_keys.begin(), edge_keys.end()), edge_keys.end());
  std::vector<uint64_t> letters;
  for (const auto& [key, delivery] : outbox_) {
    if (members.contains(delivery.slot)) letters.push_back(key);  // dead ones only, here
  }
  JournalPurge(jobs, edge_keys, batches, letters);

  for (uint64_t key : letters) {
    outbox_.erase(key);
    --outbox_counts_.dead;
  }
  for (uint32_t s : jobs) {
    JobRecord& job = table_[s];
    if (job.vertex != kNoVertex) graph_.ClearVertex(job.vertex);
    team_index_[job.team]->Remove(
        s, job.state(),
        job.extras ? absl::Span<const uint32_t>(job.extras->tags) : absl::Span<const uint32_t>());
    by_id_.erase(job.id);
    job.extras.reset();
    job.id = JobId();  // purged()
  }
  for (uint32_t b : batches) {
    BatchRecord& batch = batches_.at(b);
    batch.MarkPurged();
    batch.top_level().clear();
  }
  purged_jobs_ += jobs.size();
}

}  // namespace cascade::internal
