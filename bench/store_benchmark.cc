// Copyright 2026 The Cascade Authors.
//
// File: bench/store_benchmark.cc
// -----------------------------------------------------------------------------
// The durable store (engine/store/sqlite_store.h, group commit) beside the
// store a competent engineer writes first: the same SQLite schema, one
// transaction per call (contract §12, "durable (WAL, synchronous), 8 submitters":
// >= 50k acknowledged transitions/s, >= 10x one-transaction-per-call).
//
// Each operation is one engine transition as the store sees it: one job row
// (a 26-byte id and a ~400-byte compact JSON value) rewritten, and
// acknowledged (durable under the run's synchronous setting) before the
// caller goes on. The table starts with 10,000 job rows; each thread rewrites
// random ones (seeded per thread). Every run (every repetition and every
// thread count) gets a fresh database in a new directory under
// $CASCADE_BENCH_DIR (default: the system temp directory, $TMPDIR or /tmp),
// which is removed afterwards; the directory and its file system are printed
// in the context. Use a directory on the disk you care about: on tmpfs, fsync
// costs nothing and FULL measures nothing.
//
//   BM_GroupCommit/sync:S/real_time/threads:T
//       T threads, each: store->Append({one job row}); store->WaitDurable().
//       Concurrent callers share commits; the `groups_per_commit` counter is
//       how many groups a commit carried on average, and under FULL
//       `groups_per_sync` how many a sync of the log acknowledged (the store
//       syncs on a thread of its own, one sync for every commit before it).
//   BM_PerCallCommit/sync:S/real_time/threads:T
//       The naive store: one connection behind a std::mutex, one prepared
//       upsert per call in autocommit mode, i.e. one transaction (and, under
//       FULL, one fsync) per call.
//
//   S is the PRAGMA synchronous value: 1 = NORMAL, 2 = FULL (both WAL mode).
//   T is 1 or 8. items_per_second is acknowledged operations per second over
//   all threads (wall clock).
//
// Goal: BM_GroupCommit/.../threads:8 >= 50,000 items/s and >= 10x
// BM_PerCallCommit at the same synchronous setting and thread count.
//
// Example:
//
//   scripts/build.sh build-bench -DCASCADE_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=Release
//   build-bench/bench/cascade_store_bench --benchmark_repetitions=3 \
//       --benchmark_report_aggregates_only=true
//   CASCADE_BENCH_DIR=/var/lib/cascade-bench build-bench/bench/cascade_store_bench

#include <sqlite3.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "bench/bench_dir.h"
#include "benchmark/benchmark.h"
#include "engine/store/sqlite_store.h"
#include "engine/store/store.h"

namespace cascade::internal {
namespace {

namespace fs = std::filesystem;

constexpr int kRows = 10'000;
constexpr int64_t kSyncNormal = 1;
constexpr int64_t kSyncFull = 2;

using ::cascade::bench::BenchRoot;
using ::cascade::bench::FileSystemOf;

// A new directory for one run.
std::string MakeRunDir() { return ::cascade::bench::MakeRunDir("cascade-store-bench"); }

// ULID-shaped, sortable: row i's id.
std::string JobKey(int i) {
  std::string key = absl::StrCat(i);
  return std::string("01J") + std::string(23 - key.size(), '0') + key;
}

// A job as the engine will write it: compact JSON of about 400 bytes. The
// counter makes every write's value new.
std::string JobValue(const std::string& key, uint64_t counter) {
  std::string v = absl::StrCat(
      R"({"id":")", key, R"(","team":"studio","state":"rendering","templateId":)",
      R"("01HZX3C5Y5V7E8W3J6T9Q2M1NB","composition":"main","priority":0,"attempts":1,)",
      R"("maxAttempts":3,"progress":)", counter % 100, R"(,"tags":["gpu","4k"],)",
      R"("createdAt":"2026-04-17T10:00:00.000Z","updatedAt":"2026-04-17T10:00:)", counter,
      R"(Z","batchId":"01J0000000000000000000BATCH","worker":"render-node-17",)",
      R"("outputUrl":"s3://renders/studio/)", key, R"(.mp4","payload":)");
  v.append(400 - std::min<size_t>(v.size(), 390), 'x');
  v += "\"}";
  return v;
}

SqliteStoreOptions::Sync SyncOf(int64_t arg) {
  return arg == kSyncFull ? SqliteStoreOptions::Sync::kFull : SqliteStoreOptions::Sync::kNormal;
}

void Check(const absl::Status& status, const char* what) {
  if (!status.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, status.ToString().c_str());
    std::abort();
  }
}

// ---- The store, group commit -------------------------------------------------

struct GroupCommitRun {
  std::string dir;
  std::unique_ptr<Store> store;
};
GroupCommitRun* group_run = nullptr;

void BM_GroupCommit(benchmark::State& state) {
  if (state.thread_index() == 0) {
    group_run = new GroupCommitRun;
    group_run->dir = MakeRunDir();
    SqliteStoreOptions options;
    options.synchronous = SyncOf(state.range(0));
    absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(group_run->dir, options);
    Check(store.status(), "OpenSqliteStore");
    group_run->store = std::move(store).value();
    std::vector<Change> rows;
    for (int i = 0; i < kRows; ++i) {
      rows.push_back(Change::Put(Table::kJobs, JobKey(i), JobValue(JobKey(i), 0)));
    }
    Check(group_run->store->Commit(std::move(rows)), "populate");
  }
  std::mt19937 rng(static_cast<uint32_t>(state.thread_index()) + 1);
  std::uniform_int_distribution<int> pick(0, kRows - 1);
  uint64_t counter = 0;
  StoreStats before;
  if (state.thread_index() == 0) before = group_run->store->GetStats();
  for (auto _ : state) {
    const std::string key = JobKey(pick(rng));
    std::vector<Change> group;
    group.push_back(Change::Put(Table::kJobs, key, JobValue(key, ++counter)));
    absl::StatusOr<uint64_t> ticket = group_run->store->Append(std::move(group));
    Check(ticket.status(), "Append");
    Check(group_run->store->WaitDurable(*ticket), "WaitDurable");
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    const StoreStats after = group_run->store->GetStats();
    const uint64_t commits = after.commits - before.commits;
    const uint64_t groups = after.groups_committed - before.groups_committed;
    state.counters["groups_per_commit"] =
        commits == 0 ? 0.0 : static_cast<double>(groups) / static_cast<double>(commits);
    const uint64_t syncs = after.syncs - before.syncs;
    if (syncs > 0) {
      state.counters["groups_per_sync"] =
          static_cast<double>(after.groups_durable - before.groups_durable) /
          static_cast<double>(syncs);
    }
    Check(group_run->store->Close(), "Close");
    std::error_code ec;
    fs::remove_all(group_run->dir, ec);
    delete group_run;
    group_run = nullptr;
  }
}

// ---- The naive store: one transaction per call --------------------------------

class PerCallStore {
 public:
  PerCallStore(const std::string& path, int64_t sync) {
    if (sqlite3_open_v2(path.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      std::fprintf(stderr, "open %s: %s\n", path.c_str(), sqlite3_errmsg(db_));
      std::abort();
    }
    Exec("PRAGMA journal_mode = WAL");
    Exec(sync == kSyncFull ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
    // The store's schema (engine/store/sqlite_store.cc).
    Exec("CREATE TABLE jobs (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID");
    if (sqlite3_prepare_v3(db_,
                           "INSERT INTO jobs (key, value) VALUES (?1, ?2) ON CONFLICT (key) "
                           "DO UPDATE SET value = excluded.value",
                           -1, SQLITE_PREPARE_PERSISTENT, &upsert_, nullptr) != SQLITE_OK) {
      std::abort();
    }
  }
  ~PerCallStore() {
    sqlite3_finalize(upsert_);
    sqlite3_close(db_);
  }

  // One autocommit statement: one transaction, durable when it returns.
  void Put(const std::string& key, const std::string& value) {
    std::lock_guard<std::mutex> lock(mu_);
    sqlite3_bind_blob64(upsert_, 1, key.data(), key.size(), SQLITE_STATIC);
    sqlite3_bind_blob64(upsert_, 2, value.data(), value.size(), SQLITE_STATIC);
    if (sqlite3_step(upsert_) != SQLITE_DONE) {
      std::fprintf(stderr, "upsert: %s\n", sqlite3_errmsg(db_));
      std::abort();
    }
    sqlite3_reset(upsert_);
  }

  void Exec(const char* sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
      std::fprintf(stderr, "%s: %s\n", sql, error);
      std::abort();
    }
  }

 private:
  std::mutex mu_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* upsert_ = nullptr;
};

struct PerCallRun {
  std::string dir;
  std::unique_ptr<PerCallStore> store;
};
PerCallRun* per_call_run = nullptr;

void BM_PerCallCommit(benchmark::State& state) {
  if (state.thread_index() == 0) {
    per_call_run = new PerCallRun;
    per_call_run->dir = MakeRunDir();
    per_call_run->store =
        std::make_unique<PerCallStore>(per_call_run->dir + "/naive.db", state.range(0));
    per_call_run->store->Exec("BEGIN");
    for (int i = 0; i < kRows; ++i) per_call_run->store->Put(JobKey(i), JobValue(JobKey(i), 0));
    per_call_run->store->Exec("COMMIT");
  }
  std::mt19937 rng(static_cast<uint32_t>(state.thread_index()) + 1);
  std::uniform_int_distribution<int> pick(0, kRows - 1);
  uint64_t counter = 0;
  for (auto _ : state) {
    const std::string key = JobKey(pick(rng));
    per_call_run->store->Put(key, JobValue(key, ++counter));
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    per_call_run->store.reset();
    std::error_code ec;
    fs::remove_all(per_call_run->dir, ec);
    delete per_call_run;
    per_call_run = nullptr;
  }
}

BENCHMARK(BM_GroupCommit)
    ->ArgName("sync")
    ->Arg(kSyncNormal)
    ->Arg(kSyncFull)
    ->UseRealTime()
    ->Threads(1)
    ->Threads(8);
BENCHMARK(BM_PerCallCommit)
    ->ArgName("sync")
    ->Arg(kSyncNormal)
    ->Arg(kSyncFull)
    ->UseRealTime()
    ->Threads(1)
    ->Threads(8);

}  // namespace
}  // namespace cascade::internal

int main(int argc, char** argv) {
  const std::filesystem::path root = cascade::internal::BenchRoot();
  benchmark::AddCustomContext("store_dir", root.string());
  benchmark::AddCustomContext("store_dir_filesystem", cascade::internal::FileSystemOf(root));
  benchmark::AddCustomContext("sqlite_version", sqlite3_libversion());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
