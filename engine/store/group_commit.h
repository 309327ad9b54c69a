// Copyright 2026 The Cascade Authors.
//
// GroupCommitter: the part of Store that both stores share (SQLite and
// PostgreSQL): the queue of appended groups and their tickets, the writer
// thread that commits whatever is queued in one transaction, the optional
// syncer thread that makes commits durable after the fact, the waiters, and
// the failure after which nothing more is committed. The store supplies the
// transaction (`commit`), the sync if it has one, and keeps its connection.
//
//   callers                 writer thread               syncer thread (sync only)
//   ───────                 ─────────────               ─────────────────────────
//   Append: queue, ticket   takes what is queued
//   WaitDurable(ticket):    commit (one transaction)
//     sleeps on durable_    committed_ = last ticket ─▶ waits for the callers the
//                           takes what queued meanwhile last sync released, then
//                                                       sync(): every commit made
//     ◀──── wakes all ─────────────────────────────────  before it is durable;
//                                                       durable_ = what it covered
//
// Without a sync (PostgreSQL, SQLite under NORMAL and OFF) a commit is as
// durable as it gets when it returns, and the writer itself moves durable_.
// With one (SQLite under FULL: the log's fdatasync) the writer commits while
// the syncer syncs, so the transaction's CPU and the fsync overlap, and one
// sync covers every commit made before it began.
//
// Who waits on what: a caller reads one atomic word, durable_ (the last
// durable ticket, with a bit for "failed"), and sleeps on a futex beside it
// (durable_seq_); whoever moves durable_ wakes one sleeper, and that one
// wakes the others, so the writer (or syncer) pays for one wake-up a step
// however many wait. No caller takes a lock to wait or to wake, so a
// commit's waiters do not queue on a mutex after it, and none spins.
//
// How groups form (the gather): the callers that one commit (or sync)
// released are running their next operation and will append again a few µs
// later. Taking the queue at once would leave most of them for the step
// after, and concurrent callers would settle into cohorts that alternate,
// each sharing part of the steps. So the next step first waits until those
// callers have appended again (the last ticket passes the one issued when
// the step ended plus the groups it released), for at most half the last
// step's duration (which caps the added latency) and 1 ms. A lone caller
// never waits (its next group is the one expected); callers that went away
// cost one wait each. With a sync, the syncer gathers (it is the step every
// caller waits for) and the writer commits whatever is queued as soon as it
// can, so the transactions are written while the callers come back. Appends
// wake the writer, and commits the syncer, only when it waits for them.
//
// Why a writer thread rather than letting the first waiting caller commit for
// the others (as LevelDB does): measured here with 8 callers on 2 cores (on
// SQLite), the caller that had just committed was always first back in the
// queue and committed its next group nearly alone (1.1 groups a commit, 25%
// fewer groups/s), while the writer thread's wake-up gives the queue time to
// fill. The caller-commits design was 25% faster for a lone caller (no thread
// switch); the engine's goal is throughput under concurrency.
//
// Thread safety: every method may be called from any thread, concurrently.

#ifndef CASCADE_ENGINE_STORE_GROUP_COMMIT_H_
#define CASCADE_ENGINE_STORE_GROUP_COMMIT_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/mutex.h"
#include "engine/store/store.h"

namespace cascade::internal {

class GroupCommitter {
 public:
  struct Group {
    uint64_t ticket;
    size_t bytes;  // keys and values
    std::vector<Change> changes;
  };
  // Writes `groups` (one or more, in ticket order) in one transaction, or
  // fails and leaves none of them written. Called on the writer thread only,
  // one call at a time.
  using CommitFn = std::function<absl::Status(const std::vector<Group>& groups)>;

  struct Hooks {
    // Makes durable every commit that returned before it was called (SQLite
    // under FULL: fdatasync of the log). Called on the syncer thread only,
    // one call at a time, while the writer goes on committing. Empty: a
    // commit is durable when it returns, and there is no syncer thread.
    std::function<absl::Status()> sync;
    // Runs on the writer thread after each successful commit has been handed
    // on (its waiters woken, or the syncer told), with no lock held: the
    // store's own upkeep between transactions (SQLite's checkpoints).
    std::function<void()> after_commit;
    // Test seams. before_commit runs on the writer thread before each commit;
    // before_sync on the syncer thread before each sync, and a non-OK status
    // from it fails that sync as a disk error would; after_sync once a sync
    // has moved durable_ and woken the waiters. No lock is held.
    std::function<void()> before_commit;
    std::function<absl::Status()> before_sync;
    std::function<void()> after_sync;
  };

  // `name` begins the messages (the store's path or URL). Starts the writer
  // thread, and the syncer thread if hooks.sync is set.
  GroupCommitter(std::string name, size_t max_commit_bytes, CommitFn commit, Hooks hooks);
  // Stop().
  ~GroupCommitter();
  GroupCommitter(const GroupCommitter&) = delete;
  GroupCommitter& operator=(const GroupCommitter&) = delete;

  // Store::Append and Store::WaitDurable.
  absl::StatusOr<uint64_t> Append(std::vector<Change> changes);
  absl::Status WaitDurable(uint64_t ticket);

  // Fails the store from outside the writer (the PostgreSQL store, when its
  // lease is lost): unless a commit failed first, `why` becomes the error of
  // every group not durable yet and of every later Append. A commit or sync
  // under way may still succeed (its groups are then durable, and their
  // waiters told so).
  void Fail(absl::Status why);

  // Takes no more groups, commits and syncs what is queued, and joins the
  // threads. Returns the failure, if any. Idempotent.
  absl::Status Stop();

  StoreStats stats() const;

 private:
  using Clock = std::chrono::steady_clock;

  void WriterLoop();
  void SyncerLoop();
  // Moves durable_ to `ticket` (keeping its failed bit) and wakes the waiters.
  void PublishDurable(uint64_t ticket);
  // After durable_ moved: bumps durable_seq_ and wakes every sleeper.
  void WakeWaiters();
  // Records `failure` (unless one was recorded), drops the queue, and wakes
  // the waiters and both threads.
  void FailWith(absl::Status failure);
  // The gather (see the file comment): waits on `cv` until ready(), for at
  // most `limit` (and kMaxGather), or until stopping or failed; meanwhile
  // `wake_at` (writer_wake_at_ or syncer_wake_at_) is `at`.
  template <typename Ready>
  void Gather(CondVar& cv, uint64_t& wake_at, uint64_t at, Clock::duration limit, Ready ready)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // durable_: the last durable ticket, and kFailedBit once the store failed.
  static constexpr uint64_t kFailedBit = uint64_t{1} << 63;
  // A *_wake_at_ that nothing reaches.
  static constexpr uint64_t kNever = ~uint64_t{0};

  const std::string name_;
  const size_t max_commit_bytes_;
  const CommitFn commit_;
  const Hooks hooks_;

  std::atomic<uint64_t> durable_{0};
  // The futex waiters sleep on (a 32-bit word; durable_ is 64): moved after
  // every change of durable_. sleepers_ counts the waiters about to sleep or
  // asleep, so that a publication with none makes no system call.
  std::atomic<uint32_t> durable_seq_{0};
  std::atomic<uint32_t> sleepers_{0};
  // Set with the wake-up of one sleeper: the first to see it wakes the rest.
  std::atomic<bool> pass_on_{false};
  // The last ticket Append returned (also under mu_; read without it by
  // WaitDurable's check).
  std::atomic<uint64_t> last_ticket_{0};

  // Appenders, the writer, the syncer and Fail take it briefly; nobody does
  // I/O or waits for a commit while holding it.
  mutable Mutex mu_;
  CondVar work_cv_;  // the writer: work queued, stopping, or failed
  CondVar sync_cv_;  // the syncer: a commit, the writer done, or failed
  std::deque<Group> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t committed_ticket_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t synced_ticket_ ABSL_GUARDED_BY(mu_) = 0;  // with a sync only
  absl::Status failure_ ABSL_GUARDED_BY(mu_);        // the first failure's
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool writer_done_ ABSL_GUARDED_BY(mu_) = false;
  // Whom a state change wakes: Append signals the writer once the ticket it
  // issues reaches writer_wake_at_, the writer signals the syncer once the
  // ticket it committed reaches syncer_wake_at_ (each sets its own before it
  // waits, and kNever when it runs). Stop and failures wake both.
  uint64_t writer_wake_at_ ABSL_GUARDED_BY(mu_) = kNever;
  uint64_t syncer_wake_at_ ABSL_GUARDED_BY(mu_) = kNever;
  StoreStats stats_ ABSL_GUARDED_BY(mu_);

  Mutex stop_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::thread writer_;  // last: they start once everything above exists
  std::thread syncer_;
};

// Checks `changes` for Append (every change names a Table) and returns their
// bytes; InvalidArgument naming the first bad change.
absl::StatusOr<size_t> GroupBytes(const std::vector<Change>& changes);

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_STORE_GROUP_COMMIT_H_
