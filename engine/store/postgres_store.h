// Copyright 2026 The Cascade Authors.
//
// The PostgreSQL Store (contract §17): the journal's tables in a PostgreSQL
// database, committed in groups as the SQLite store commits them, and a
// LEADER LEASE that makes one store at a time the database's writer.
//
// Everything lives in the schema `cascade` of the database the URL names:
//
//   cascade.meta     (key text PRIMARY KEY, value text): application =
//                    "cascade", schema_version
//   cascade.leader   one row: epoch, holder, acquired_at, renewed_at,
//                    expires_at (timestamps on PostgreSQL's clock)
//   cascade.jobs, .edges, .batches, .leases, .outbox, .workers, .logs
//                    (key bytea PRIMARY KEY, value bytea NOT NULL): the same
//                    rows as the SQLite store's tables
//
// The lease. Open takes the leader row if its lease has lapsed (expires_at
// before PostgreSQL's now), with the next epoch, and fails with Unavailable
// while another store holds it: the caller is a standby and tries again
// later. A thread renews the lease every `renew_every` on a connection of its
// own. Every commit transaction first reads the leader row FOR SHARE and goes
// on only if it still names this store's epoch and has not lapsed; the row
// lock orders the check against a takeover (whose UPDATE waits for the
// commit, and whose next commit waits for nothing). So once another store has
// taken over, this one commits nothing more: FENCING. A takeover that waits
// half a lease for that row lock (held by a commit stalled in a statement:
// its process paused mid-send, where PostgreSQL's idle-in-transaction
// timeout does not reach) ends the sessions that hold it; if PostgreSQL
// refuses, it gives up with Unavailable. The lease is lost when
//  - a commit finds another epoch, or a lapsed lease;
//  - a renewal finds the same;
//  - `lease` passes, by this process's monotonic clock, since the start of
//    the last renewal the database accepted (a store paused, partitioned or
//    starved knows it may no longer lead before anyone could take over);
//  - a commit fails (the store's state and the database's may differ).
// A store that lost the lease fails every later Append and WaitDurable with
// Unavailable (as after any failed commit), and Lease() says so; it never
// leads again: a new store must be opened (and restore what the database
// holds). Close, when the lease is still held, gives it up (expires_at =
// -infinity), so that a standby takes over at once.
//
// Example:
//
//   PostgresStoreOptions options;
//   absl::StatusOr<std::unique_ptr<Store>> store =
//       OpenPostgresStore("postgresql://cascade@db.example/farm", options);
//   if (absl::IsUnavailable(store.status())) { /* another leads: wait, retry */ }
//
// docs/high-availability.md describes the deployment and its limits.

#ifndef CASCADE_ENGINE_STORE_POSTGRES_STORE_H_
#define CASCADE_ENGINE_STORE_POSTGRES_STORE_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cascade/options.h"
#include "engine/store/store.h"

namespace cascade::internal {

// IsPostgresUrl and RedactPostgresUrl, which tell a URL from a directory and
// show it without its password, are public: cascade/options.h.

struct PostgresStoreOptions {
  // PostgreSQL's synchronous_commit for the store's commits. true ("on"):
  // an acknowledged group is in PostgreSQL's fsynced WAL. false ("off"): it
  // survives the death of this process, not a crash of PostgreSQL's machine
  // (PostgreSQL's documentation: "Asynchronous Commit"). Default: true.
  bool synchronous_commit = true;
  // As SqliteStoreOptions::max_commit_bytes. Default: 4 MiB. REQUIRES: > 0.
  size_t max_commit_bytes = size_t{4} << 20;
  // The leader lease: how long one renewal holds it, and how often it is
  // renewed. REQUIRES: 0 < renew_every < lease. Defaults: 10 s, 2 s, so a
  // standby polling each second takes over within about 11 s of the
  // leader's death.
  absl::Duration lease = absl::Seconds(10);
  absl::Duration renew_every = absl::Seconds(2);
  // Who holds the lease, as the leader row and the messages name it.
  // Default (empty): "<host name> pid <pid>".
  std::string holder;
  // libpq's connect_timeout, unless the URL sets one. Default: 5 s.
  absl::Duration connect_timeout = absl::Seconds(5);
};

// Test seams. Production code calls OpenPostgresStore(url, options).
struct PostgresStoreSeams {
  // Runs on the writer thread before each commit, with no lock held.
  std::function<void()> before_commit;
  // Asked before each renewal; false skips it (a test lets the lease lapse
  // while the store goes on).
  std::function<bool()> renew;
  // Commits without checking the epoch. ONLY for the test that shows what
  // fencing prevents (tests/postgres_store_test.cc).
  bool unfenced = false;
};

// Connects to `url`, creates the schema in an empty database (or checks and
// migrates it), takes the leader lease and starts the writer and renewal
// threads. Errors, each naming the URL without its password:
//   InvalidArgument     `url` is not a postgresql:// URL; an option is out of
//                       range.
//   Unavailable         PostgreSQL is unreachable; another store holds the
//                       lease (its holder, epoch and remaining time named);
//                       it lapsed, but a stalled commit that PostgreSQL
//                       would not end for this role still holds its row.
//   PermissionDenied    PostgreSQL refused the credentials, or the role may
//                       not create the schema.
//   FailedPrecondition  the schema `cascade` exists but is not Cascade's, or
//                       was written by a newer Cascade.
// Nothing is changed in the database when Open fails, except that a new
// (empty) database gets the schema before the lease is tried.
absl::StatusOr<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url,
                                                         const PostgresStoreOptions& options,
                                                         const PostgresStoreSeams& seams = {});

// This build's schema version.
inline constexpr int kPostgresSchemaVersion = 1;

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_STORE_POSTGRES_STORE_H_
