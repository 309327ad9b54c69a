// Copyright 2026 The Cascade Authors.
//
// The SQLite Store: one database file, <data_dir>/cascade.db, in WAL mode,
// written by one thread that commits whatever groups are queued in one
// transaction (group commit): callers that wait at the same time share one
// commit (and, under Sync::kFull, one fsync, which a thread of its own runs
// while the next transactions are written). A third thread checkpoints the
// log into the database file beside the writer. docs/durability.md describes
// the file, the guarantees, the threads and how to back it up and restore it.
//
//   <data_dir>/LOCK            flock()ed while a store has the directory open
//   <data_dir>/cascade.db      the database: tables jobs, edges, batches,
//                              leases, outbox (key BLOB PRIMARY KEY,
//                              value BLOB NOT NULL, WITHOUT ROWID) and meta
//   <data_dir>/cascade.db-wal  SQLite's write-ahead log, and -shm its index:
//                              part of the database while it is open
//
// Example:
//
//   SqliteStoreOptions options;
//   options.synchronous = SqliteStoreOptions::Sync::kNormal;
//   CASCADE_ASSIGN_OR_RETURN(std::unique_ptr<Store> store,
//                            OpenSqliteStore("/var/lib/cascade", options));
//   CASCADE_RETURN_IF_ERROR(store->Commit({Change::Put(Table::kJobs, id, json)}));
//
// Open never changes a file it refuses: a file that is not a SQLite database,
// is damaged or empty (DataLoss), belongs to another application or to a
// newer Cascade (FailedPrecondition) is reported with its path and SQLite's
// message and left byte for byte as it was (beside a WAL-mode file SQLite may
// leave an empty cascade.db-wal and a cascade.db-shm, which hold nothing).
//
// Other programs may read the database while a store has it open (the sqlite3
// shell, `VACUUM INTO` for a backup); they must not write to it.

#ifndef CASCADE_ENGINE_STORE_SQLITE_STORE_H_
#define CASCADE_ENGINE_STORE_SQLITE_STORE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/store/store.h"

struct sqlite3;  // <sqlite3.h>'s connection; only tests and migrations use it

namespace cascade::internal {

struct SqliteStoreOptions {
  // What a successful WaitDurable guarantees (SQLite's PRAGMA synchronous, in
  // WAL mode). The SQLite documentation this relies on:
  //   https://www.sqlite.org/pragma.html#pragma_synchronous
  //   https://www.sqlite.org/wal.html (section "Performance Considerations")
  // "Transactions are durable across application crashes regardless of the
  // synchronous setting or journal mode" (pragma.html): once WaitDurable has
  // returned, the group survives the death of the process (kill -9, a crash,
  // an abort) under EVERY setting, because a commit has handed the log's
  // bytes to the operating system with write(2) before it returns. The
  // settings differ in what survives the operating system: a kernel crash,
  // a power loss, a hard reset.
  enum class Sync {
    // FULL: the log is synced (fdatasync) before WaitDurable returns. An
    // acknowledged group survives process death, OS crash and power loss, as
    // far as the disk honours fsync (a drive or a virtual disk that lies
    // about flushing its cache breaks every database's promise, not only
    // this one). One sync covers every commit written before it began, and
    // group commit shares it among concurrent callers. The store syncs the
    // log itself, on a thread of its own, rather than through SQLite's
    // PRAGMA synchronous = FULL (which syncs inside COMMIT, on the writer
    // thread): the connection runs with NORMAL, and the next transactions are
    // written while a sync is under way. The file's bytes and syncs are
    // otherwise SQLite's FULL ones (NORMAL syncs the log's header when it
    // starts over, and both files around each checkpoint, exactly as FULL
    // does); docs/durability.md has the argument.
    kFull,
    // NORMAL: the log is fsync()ed only around checkpoints (when SQLite
    // copies the log into the database file: here once the log reaches
    // 10,000 pages, ~40 MB), not at commits. An acknowledged group survives
    // process death; an OS crash or power loss may roll back the last groups
    // acknowledged before it (those since the last checkpoint's sync),
    // always whole groups and always a suffix of them: "WAL mode is always
    // consistent with synchronous=NORMAL, but WAL mode does lose durability"
    // (pragma.html). The database is never damaged. A clean Close
    // checkpoints, which syncs everything.
    kNormal,
    // OFF: SQLite never calls fsync. An acknowledged group survives process
    // death (see above); an OS crash or power loss may lose any number of
    // acknowledged groups AND may leave the database damaged ("the database
    // might become corrupted if the operating system crashes or the computer
    // loses power", pragma.html), which the next open reports as DataLoss.
    // For tests and throwaway data only.
    kOff,
  };

  // Default: kFull.
  Sync synchronous = Sync::kFull;

  // The most bytes (keys and values) of queued groups that one commit takes;
  // a single group larger than this is still committed, alone. Bounds the
  // size of a transaction, and so the WAL's growth and the wait of the
  // callers behind a burst. Default: 4 MiB. REQUIRES: > 0.
  size_t max_commit_bytes = size_t{4} << 20;

  // Run PRAGMA quick_check at open, which reads every page of the file: a
  // damaged file is then refused at open (DataLoss) rather than failing a
  // commit or a Load later.
  // PERFORMANCE: about a second per GB of database on a warm page cache.
  // Default: true.
  bool quick_check = true;

  // How long a commit waits for a lock held by another connection before it
  // fails (readers never block it in WAL mode; a program that opened a write
  // transaction on the file would, and must not). Default: 5000 ms.
  int busy_timeout_ms = 5000;
};

// Opens (creating it if missing, and the directory too) the store of
// `data_dir`. Errors, each naming the path:
//   InvalidArgument     `data_dir` is empty, or an option is out of range.
//   FailedPrecondition  `data_dir` exists but is not a directory; another
//                       store (this process or another) has it open; it holds
//                       a database of another application ("not a Cascade
//                       data directory") or of a newer Cascade ("written by a
//                       newer Cascade (schema N, this build reads up to M)");
//                       cascade.db-wal exists but cascade.db does not.
//   DataLoss            cascade.db is empty, is not a SQLite database, or is
//                       damaged (truncated, overwritten; PRAGMA quick_check).
//   other               the file system's or SQLite's error (permissions, ...).
// A database of an older schema is migrated, one version at a time, each step
// in a transaction of its own.
absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::string& data_dir,
                                                       const SqliteStoreOptions& options = {});

// ---- Schema versions ---------------------------------------------------------
//
// The file's identity is PRAGMA application_id = kSqliteApplicationId, its
// schema version PRAGMA user_version. Step k of the migration list moves a
// file from version k to k + 1; the list's length is the version this build
// writes. Version 0 is a new, empty file: step 0 creates the schema and sets
// the application id.

inline constexpr int32_t kSqliteApplicationId = 0x43534344;  // "CSCD"

struct SqliteMigration {
  // For messages: "create the schema".
  std::string_view what;
  // Runs inside a transaction that the caller begins and commits (and that
  // also sets user_version); must not begin or end one itself.
  absl::Status (*apply)(sqlite3* db);
};

// This build's migrations; its schema version is their number (1).
std::span<const SqliteMigration> SqliteMigrations();

// Runs `sql` (one or more statements) on `db`; for migrations and tests.
absl::Status SqliteExec(sqlite3* db, std::string_view sql);

// Test seams. Production code calls OpenSqliteStore(dir, options).
struct SqliteStoreSeams {
  // The migration list to open with (a test adds a step to prove the path).
  std::span<const SqliteMigration> migrations = SqliteMigrations();
  // Runs on the store's connection once the file is open, checked and
  // migrated, before the writer thread starts (a test lowers max_page_count
  // to make a commit fail).
  std::function<absl::Status(sqlite3* db)> on_open;
  // Runs on the writer thread before each commit, with no lock held (a test
  // blocks it to make groups pile up).
  std::function<void()> before_commit;
  // Runs on the writer thread after each successful commit, with no lock held
  // (a benchmark reads the thread's CPU time around commits).
  std::function<void()> after_commit;
  // Sync::kFull only: runs on the store's sync thread before each sync of the
  // log, with no lock held; a non-OK status fails that sync as a disk error
  // would (a test blocks it, or makes it fail). after_sync runs there once a
  // sync's groups are acknowledged (a benchmark times the wake-ups).
  std::function<absl::Status()> before_sync;
  std::function<void()> after_sync;
  // Runs on the store's checkpoint thread before each checkpoint it starts
  // (a test blocks it to show that commits go on meanwhile).
  std::function<void()> before_checkpoint;
  // The log's length, in pages, that starts a checkpoint; 0: the store's
  // (10,000). A test lowers it to see the log start over.
  int checkpoint_pages = 0;
};

absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::string& data_dir,
                                                       const SqliteStoreOptions& options,
                                                       const SqliteStoreSeams& seams);

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_STORE_SQLITE_STORE_H_
