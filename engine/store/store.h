// Copyright 2026 The Cascade Authors.
//
// Store: the engine's durable journal, behind an interface with two
// implementations: one SQLite file (engine/store/sqlite_store.h) and a
// PostgreSQL database shared by several servers, one of which leads
// (engine/store/postgres_store.h).
//
// A store holds seven tables of rows, each row a key and a value that are
// opaque bytes to the store (the engine encodes them; compact JSON, so that a
// person can read the file with a database's own tools). The engine changes
// them in GROUPS: one group is every row one engine operation changed, and a
// group becomes durable whole or not at all. Groups become durable in the
// order they were appended, so what survives a crash is always a prefix of
// the appended sequence.
//
// Appending and waiting are separate calls, so that the engine can append
// while it holds its writer lock (which fixes the order of groups to the
// order of operations) and wait after it has released it (so that other
// callers can append meanwhile and share the same commit):
//
//   // Inside the engine's critical section: no I/O, no waiting.
//   CASCADE_ASSIGN_OR_RETURN(uint64_t ticket, store->Append(std::move(changes)));
//   // After releasing the lock, before answering the caller:
//   CASCADE_RETURN_IF_ERROR(store->WaitDurable(ticket));
//
// At open, before the first Append, the engine reads every table back with
// Load and rebuilds its state from the rows.
//
// Thread safety: every method may be called from any thread, concurrently.

#ifndef CASCADE_ENGINE_STORE_STORE_H_
#define CASCADE_ENGINE_STORE_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cascade/options.h"

namespace cascade::internal {

// The store's tables. Their names in a database are TableName()'s.
enum class Table : uint8_t { kJobs, kEdges, kBatches, kLeases, kOutbox, kWorkers, kLogs };

inline constexpr Table kAllTables[] = {Table::kJobs,   Table::kEdges,  Table::kBatches,
                                       Table::kLeases, Table::kOutbox, Table::kWorkers,
                                       Table::kLogs};

// "jobs", "edges", "batches", "leases", "outbox", "workers", "logs"; "" for a
// value that is not a Table.
constexpr std::string_view TableName(Table table) {
  switch (table) {
    case Table::kJobs:
      return "jobs";
    case Table::kEdges:
      return "edges";
    case Table::kBatches:
      return "batches";
    case Table::kLeases:
      return "leases";
    case Table::kOutbox:
      return "outbox";
    case Table::kWorkers:
      return "workers";
    case Table::kLogs:
      return "logs";
  }
  return "";
}

// One row written or deleted.
struct Change {
  Table table;
  std::string key;
  // The row's new value; nullopt deletes the key (deleting a key that is not
  // there is not an error).
  std::optional<std::string> value;

  static Change Put(Table table, std::string key, std::string value) {
    return Change{table, std::move(key), std::move(value)};
  }
  static Change Delete(Table table, std::string key) {
    return Change{table, std::move(key), std::nullopt};
  }
};

// Counters since the store was opened (for metrics, tests and benchmarks).
struct StoreStats {
  uint64_t groups_appended = 0;
  uint64_t groups_committed = 0;
  // Transactions committed. groups_committed / commits is how many groups a
  // commit carried on average: the sharing that group commit buys.
  uint64_t commits = 0;
  uint64_t bytes_committed = 0;  // keys and values
  // Groups whose WaitDurable returns OK (a prefix of the committed ones).
  uint64_t groups_durable = 0;
  // Syncs that made commits durable after they were written (SQLite under
  // kFull: one fdatasync of its log covers every commit made before it
  // began). groups_durable / syncs is then the sharing that counts: callers
  // per fsync. 0 where a commit is durable when it returns.
  uint64_t syncs = 0;
  // Wall time spent in commits (the transactions) and in syncs.
  uint64_t commit_ns = 0;
  uint64_t sync_ns = 0;
  // SQLite: checkpoints (the log copied into the database file) run by the
  // store's checkpoint thread, and the wall time the writer thread spent in
  // the last step of each (the few frames committed during the first, so
  // that the log can start over), when it commits nothing.
  uint64_t checkpoints = 0;
  uint64_t checkpoint_ns = 0;
  uint64_t writer_checkpoint_ns = 0;
  // SQLite: pages (log frames) the commits wrote.
  uint64_t log_pages = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Queues `changes` as one group, to be made durable atomically (all of them
  // or none) and after every group appended before it. Within a group,
  // changes apply in order (a put then a delete of one key leaves no row).
  // Returns the group's ticket: 1 for the first group of this open store,
  // then consecutive. An empty group is allowed (it orders nothing, but its
  // ticket can be waited for like any other).
  //
  // Does no I/O and never waits for a commit: it takes a small mutex and
  // moves the vector into a queue. Fails with InvalidArgument if a change
  // names no Table (nothing is queued), FailedPrecondition after Close, and
  // with the commit's error once a commit has failed.
  [[nodiscard]] virtual absl::StatusOr<uint64_t> Append(std::vector<Change> changes) = 0;

  // Blocks until the group of `ticket` and every group before it are durable
  // (what "durable" means depends on the implementation's settings; see
  // SqliteStoreOptions::Sync), then returns OK. If a commit failed first,
  // returns its error, for that group and every later one: no group after a
  // failed one is ever committed, and the store takes no more groups. A
  // ticket made durable before the failure still returns OK (under SQLite's
  // Sync::kFull, a group committed but not yet synced when the failure came
  // may get the error: it had not been acknowledged).
  // InvalidArgument for a ticket Append never returned.
  [[nodiscard]] virtual absl::Status WaitDurable(uint64_t ticket) = 0;

  // Append then WaitDurable.
  [[nodiscard]] absl::Status Commit(std::vector<Change> changes) {
    absl::StatusOr<uint64_t> ticket = Append(std::move(changes));
    if (!ticket.ok()) return ticket.status();
    return WaitDurable(*ticket);
  }

  // Calls `visit` with every row of `table`, in increasing key order (bytes
  // compared as unsigned, shorter first on a common prefix). Stops at the
  // first non-OK status `visit` returns and returns it. Reads committed rows
  // only; meant for open, before the first Append. The views are valid only
  // during the call.
  [[nodiscard]] virtual absl::Status Load(
      Table table,
      absl::FunctionRef<absl::Status(std::string_view key, std::string_view value)> visit) = 0;

  // Commits every group already appended, stops the store's threads and
  // releases its files; later Appends fail with FailedPrecondition. Returns
  // the commit error if a commit failed (now or before), else OK. Calling it
  // again returns the same status. The destructor closes a store that was not
  // closed.
  [[nodiscard]] virtual absl::Status Close() = 0;

  virtual StoreStats GetStats() const = 0;

  // The store's leader lease (contract §17); nullopt for a store without
  // one (SQLite). `leader` is false once the lease is lost or given up by
  // Close: the store commits nothing more.
  virtual std::optional<LeaderStatus> Lease() const { return std::nullopt; }
};

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_STORE_STORE_H_
