// Copyright 2026 The Cascade Authors.
//
// File: bench/sqlite_peer.h
// -----------------------------------------------------------------------------
// The peer of contract §12: what a user would build instead of Cascade, a jobs
// table in SQLite (in memory, or a file in WAL mode), written the way a
// competent engineer would write it in a day: a normalized schema with an
// index for every query the operations make, prepared statements reused for
// every call, and one transaction per operation. bench/report/peer.md
// describes the design and what it leaves out; tests/sqlite_peer_test.cc
// checks that it gives the engine's answers on the operations the
// benchmarks time.
//
// The operations mirror cascade::Engine's (same ids, from the same
// IdGenerator and clock, so a peer and an engine fed the same calls name the
// same jobs): SubmitBatch, Get, CancelMany (contract §4's closure, atomic),
// GetBatchCounts, Claim, Finish and List with one state filter.
//
// Example:
//
//   cascade::ManualClock clock;
//   cascade::bench::SqlitePeerOptions options;  // in memory
//   options.clock = &clock;
//   options.id_seed = 42;
//   auto peer = cascade::bench::SqlitePeer::Open(options);
//   std::vector<cascade::JobSpec> specs(1000, leaf_spec);
//   auto created = (*peer)->SubmitBatch("team-a", specs);
//   auto cancelled = (*peer)->CancelMany("team-a", {created->jobs[0].job.id});
//   // cancelled->front().state == cascade::JobState::kCancelled
//
// Thread safety: every method may be called from any thread at any time. In
// memory there is one connection, held under a mutex for each operation. A
// file has one connection per concurrent caller (a pool: an operation takes
// a connection, uses it, and gives it back), so concurrent writers meet at
// SQLite's write lock and wait in its busy handler.

#ifndef CASCADE_BENCH_SQLITE_PEER_H_
#define CASCADE_BENCH_SQLITE_PEER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "base/mutex.h"
#include "cascade/batch.h"
#include "cascade/clock.h"
#include "cascade/ids.h"
#include "cascade/job.h"

namespace cascade::bench {

inline constexpr char kSqliteInMemory[] = ":memory:";

struct SqlitePeerOptions {
  // The database: kSqliteInMemory (the default), or a file path, opened in
  // WAL mode and created if missing. The file is the caller's to remove (with
  // its -wal and -shm companions).
  std::string path = kSqliteInMemory;

  // PRAGMA synchronous for a file. kNormal: the log is synced at
  // checkpoints only, so a power loss may take back the last commits (never
  // half of one); kFull: every commit is synced before it returns. Ignored
  // in memory.
  enum class Sync : uint8_t { kNormal, kFull };
  Sync sync = Sync::kNormal;

  // Where timestamps come from. Not owned; must outlive the peer.
  // Default: Clock::Real().
  Clock* clock = Clock::Real();

  // Seed of the IdGenerator (as Options::id_seed). Default: from the OS.
  std::optional<uint64_t> id_seed;

  // Lease granted by Claim. Default: 60 s, as Options::lease_duration.
  absl::Duration lease_duration = absl::Seconds(60);

  // PRAGMA cache_size, per connection, in bytes. Default: 256 MiB, enough
  // for every page the benchmarks touch. In memory the database IS the page
  // cache and this does not limit it.
  int64_t cache_bytes = int64_t{256} << 20;

  // PRAGMA mmap_size for a file. Default: 2 GiB (SQLite caps it at its
  // compile-time limit, 2 GiB on Linux). Pages of the database file are then
  // read through the mapping, shared by every connection, instead of being
  // copied into each connection's cache; pages still in the WAL are read
  // with read(2).
  int64_t mmap_bytes = int64_t{2} << 30;

  // PRAGMA wal_autocheckpoint for a file: SQLite copies the log into the
  // database file (and under NORMAL syncs both) once a commit leaves it this
  // many pages long. Default: 10,000 pages (~40 MB), the engine's own store's
  // setting (engine/store/sqlite_store.cc: a checkpoint copies a page once
  // however often the log holds it, so a longer log means fewer copies and
  // syncs per commit); SQLite's default is 1000.
  int wal_autocheckpoint_pages = 10'000;

  // PRAGMA journal_size_limit for a file: the log is truncated back to this
  // size after a checkpoint. Default: 64 MiB, as the engine's store.
  int64_t journal_size_limit_bytes = int64_t{64} << 20;

  // How long a writer waits for another connection's write lock before the
  // operation fails with Unavailable. Default: 10 s.
  absl::Duration busy_timeout = absl::Seconds(10);

  // How a writer waits for the write lock. kShortSleeps (the default): a
  // busy handler of our own that sleeps 20 us, doubling to at most 1 ms;
  // kSqliteDefault: PRAGMA busy_timeout, whose handler sleeps 1, 2, 5, 10,
  // ... 100 ms, far longer than a commit under synchronous=NORMAL takes.
  enum class BusyWait : uint8_t { kShortSleeps, kSqliteDefault };
  BusyWait busy_wait = BusyWait::kShortSleeps;

  // A file: write transactions also take a mutex of the peer's, so that a
  // writer waiting for another in this process sleeps on the mutex and is
  // woken when it is released, instead of polling SQLite's lock from the
  // busy handler (which leaves the lock idle between a release and the next
  // poll). Default: off, the plain one-connection-per-thread design; on is
  // what an engineer who profiled many writers in one process might add.
  bool serialize_writers = false;

  // Keep a `batch_counts` table (batch, state, n) up to date with triggers on
  // `jobs`, and read GetBatchCounts from it instead of counting the batch's
  // rows. Default: off (count over the covering batch index).
  bool batch_counts_table = false;
};

// One row of `jobs`, copied out. Times are Unix milliseconds.
struct PeerJob {
  JobId id;
  std::string team;
  std::optional<BatchId> batch_id;
  std::optional<JobId> parent_id;
  JobState state = JobState::kQueued;
  std::optional<std::string> template_id;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  std::optional<int64_t> started_ms;
  std::optional<int64_t> finished_ms;
  std::optional<int64_t> error_ms;
  std::optional<std::string> error;
  int attempts = 0;
  double progress = 0.0;
  std::optional<std::string> worker;
  std::optional<int64_t> lease_token;
  std::optional<int64_t> lease_expires_ms;
};

// A job created by SubmitBatch, and its nested children.
struct PeerCreatedJob {
  JobId id;
  JobState state = JobState::kQueued;
  std::vector<PeerCreatedJob> children;
};

struct PeerBatchEntry {
  size_t index = 0;  // position in the request
  PeerCreatedJob job;
};

struct PeerBatchError {
  size_t index = 0;  // position in the request
  absl::Status status;
};

struct PeerBatchResult {
  // No job carries it when every spec failed (as BatchSubmitResult).
  BatchId batch_id;
  std::vector<PeerBatchEntry> jobs;    // in request order
  std::vector<PeerBatchError> errors;  // in request order
};

struct PeerClaim {
  PeerJob job;  // as claimed: render:dorender, with its lease columns
  int64_t lease_token = 0;
};

// Totals since the peer was opened.
struct PeerStats {
  // Times a writer found the write lock taken and slept in the busy handler.
  uint64_t busy_waits = 0;
  // Transactions that gave up waiting (SQLITE_BUSY) and were started again.
  uint64_t busy_retries = 0;
  // Connections opened (a file: at most the callers ever concurrent).
  uint64_t connections = 0;
};

class PeerConnection;

class SqlitePeer {
 public:
  // Opens (and for a new database, creates the schema of) options.path.
  // InvalidArgument if options.clock is null; Internal with SQLite's message
  // if the database cannot be opened or prepared.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<SqlitePeer>> Open(
      const SqlitePeerOptions& options);

  ~SqlitePeer();
  SqlitePeer(const SqlitePeer&) = delete;
  SqlitePeer& operator=(const SqlitePeer&) = delete;

  // Engine::SubmitBatch for specs of template ids, nested children and
  // depends_on (tags, priorities, payloads, webhooks and output URLs are not
  // stored): one transaction inserting the batch row, every job (a parent
  // pending, with an edge from each child; a job with an unfinished
  // depends_on job pending, with an edge from it) and its edges. A spec whose
  // depends_on names an unknown or other team's job (NotFound) or one that
  // ended in error or manually_cancelled (FailedPrecondition) is reported at
  // its index, with the engine's message, and not created.
  // Errors: InvalidArgument if `specs` is empty or over 1000.
  [[nodiscard]] absl::StatusOr<PeerBatchResult> SubmitBatch(std::string_view team,
                                                            absl::Span<const JobSpec> specs);

  // The job's row, if it belongs to `team`; NotFound otherwise.
  [[nodiscard]] absl::StatusOr<PeerJob> Get(std::string_view team, JobId id) const;

  // Engine::CancelMany: cancels the named jobs and the closure of contract §4
  // (rules E, R, U) in one transaction; returns every row it changed, in id
  // order. Errors, with the engine's codes and messages, and nothing
  // changed: InvalidArgument (empty, over 1000, duplicates); NotFound
  // (listing every unknown or other team's id); FailedPrecondition (listing
  // every named job that is not queued or pending, with its state).
  [[nodiscard]] absl::StatusOr<std::vector<PeerJob>> CancelMany(std::string_view team,
                                                                absl::Span<const JobId> ids);

  // The batch's top-level jobs by state, as Engine::GetBatchCounts. NotFound
  // unless the batch belongs to `team`.
  [[nodiscard]] absl::StatusOr<BatchCounts> GetBatchCounts(std::string_view team, BatchId id) const;

  // The oldest queued job of any team (lowest id, which is creation order)
  // becomes render:dorender: started_at, attempts + 1, progress 0, the
  // worker, a lease token and its expiry. NotFound when none is queued.
  [[nodiscard]] absl::StatusOr<PeerClaim> Claim(std::string_view worker);

  // Ends the attempt: finished, finished_at, progress 100, lease cleared;
  // each pending dependent whose prerequisites have now all finished becomes
  // queued. Errors as Engine::Finish: NotFound (unknown job);
  // FailedPrecondition (not rendering, or a stale lease).
  [[nodiscard]] absl::StatusOr<PeerJob> Finish(JobId id, int64_t lease_token);

  // Up to `limit` (1-1000) of the team's jobs in `state`, oldest (lowest id)
  // first: Engine::List with states = {state} and the default order.
  [[nodiscard]] absl::StatusOr<std::vector<PeerJob>> List(std::string_view team, JobState state,
                                                          size_t limit) const;

  // Opens connections until `n` are idle in the pool (a file only), so that
  // n concurrent callers find one each without opening one mid-run.
  absl::Status Warm(size_t n);

  // Copies the WAL into the database file and truncates the log (a file
  // only; a no-op in memory).
  absl::Status Checkpoint();

  // Bytes of the database file and its WAL (a file only; 0 in memory).
  int64_t FileBytes() const;

  // Bytes SQLite has allocated in this process, all connections and
  // databases (sqlite3_memory_used).
  static int64_t MemoryUsed();

  PeerStats stats() const;
  bool in_memory() const { return in_memory_; }

 private:
  explicit SqlitePeer(const SqlitePeerOptions& options);

  // Runs `op` on a connection: in memory the one connection, under mem_mu_;
  // a file, one from the pool (opened if none is idle).
  template <typename Op>
  auto WithConnection(Op&& op) const -> decltype(op(std::declval<PeerConnection&>()));

  absl::StatusOr<std::unique_ptr<PeerConnection>> OpenConnection(bool create_schema) const;
  int64_t NowMillis() const { return absl::ToUnixMillis(options_.clock->Now()); }
  int64_t NextLeaseToken();

  friend class PeerConnection;

  const SqlitePeerOptions options_;
  const bool in_memory_;

  // In memory: the one connection (another would open another database).
  // Lock order: pool_mu_, then mem_mu_ (only the destructor holds both).
  mutable internal::Mutex mem_mu_ ABSL_ACQUIRED_AFTER(pool_mu_);
  std::unique_ptr<PeerConnection> mem_connection_ ABSL_GUARDED_BY(mem_mu_);

  // A file: connections no caller is using.
  mutable internal::Mutex pool_mu_;
  mutable std::vector<std::unique_ptr<PeerConnection>> idle_ ABSL_GUARDED_BY(pool_mu_);

  // Ids and creation times are taken inside a write transaction, so in the
  // order the transactions commit; ids_mu_ only keeps the generator's state
  // whole.
  internal::Mutex ids_mu_;
  IdGenerator ids_ ABSL_GUARDED_BY(ids_mu_);
  int64_t last_created_ms_ ABSL_GUARDED_BY(ids_mu_) = 0;

  // SqlitePeerOptions::serialize_writers. A std::mutex, not annotated: it
  // guards no member, and a Transaction holds it from Begin to its end only
  // when the option is on, which the analysis cannot follow.
  std::mutex writer_mu_;

  std::atomic<uint64_t> lease_state_;
  mutable std::atomic<uint64_t> busy_waits_{0};
  mutable std::atomic<uint64_t> busy_retries_{0};
  mutable std::atomic<uint64_t> connections_{0};
};

// One worker cycle, as the claim + finish benchmarks run it: Claim("") of the
// oldest queued job, then Finish with its lease; each its own transaction.
inline absl::Status ClaimThenFinish(SqlitePeer& peer) {
  absl::StatusOr<PeerClaim> claimed = peer.Claim("");
  if (!claimed.ok()) return claimed.status();
  return peer.Finish(claimed->job.id, claimed->lease_token).status();
}

}  // namespace cascade::bench

#endif  // CASCADE_BENCH_SQLITE_PEER_H_
