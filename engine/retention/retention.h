// Copyright 2026 The Cascade Authors.
//
// Retention (contract §10): terminal job families older than the retention
// period are purged from memory and from the journal, a whole family at a
// time.
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
//
// NOTE: not thread-safe; used under the engine's writer lock.

#ifndef CASCADE_ENGINE_RETENTION_RETENTION_H_
#define CASCADE_ENGINE_RETENTION_RETENTION_H_

#include <cstdint>
#include <utility>

#include "absl/container/btree_set.h"
#include "absl/time/time.h"
#include "engine/journal/journal.h"
#include "engine/model/job_model.h"
#include "engine/webhook/outbox.h"

namespace cascade::internal {

class Retention final : public ModelListener {
 public:
  explicit Retention(absl::Duration retention) : retention_(retention) {}

  bool enabled() const { return retention_ != absl::InfiniteDuration(); }
  // Notes each job that ends (or is restored ended).
  void OnTransition(const JobChange& change) override;

  // Purges the families whose every job ended before now - retention, at
  // most about `budget` jobs per call (the rest wait for the next). Returns
  // the number of jobs purged.
  size_t PurgeExpired(JobModel& model, Outbox& outbox, Journal& journal, int64_t now_ms,
                      size_t budget);

 private:
  const absl::Duration retention_;
  // Terminal jobs by (the time they ended, slot).
  absl::btree_set<std::pair<int64_t, uint32_t>> ended_;
};

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_RETENTION_RETENTION_H_
