// Copyright 2026 The Cascade Authors.
//
// The stores (engine/store/store.h) as a specification. One suite, the
// CONTRACT every Store keeps, runs against both backends, a SQLite data
// directory and a PostgreSQL database (tests/pg_harness.h): what a reopened
// store holds, how groups commit (whole, in ticket order, shared by
// concurrent callers, bounded in bytes), Append's and Close's rules, and what
// happens after a failed commit. Then what each backend's open refuses: the
// SQLite store's bad files, migrations and directory lock, and the
// PostgreSQL store's unreachable server, bad credentials, missing database
// and foreign or newer schema (each leaving everything as it was). The
// PostgreSQL lease and fencing are postgres_store_test.cc's; kill -9 is
// store_kill_test.cc's.

#include "engine/store/store.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/store/postgres_store.h"
#include "engine/store/sqlite_store.h"
#include "tests/pg_harness.h"
#include "tests/testutil.h"

namespace cascade::internal {
namespace {

namespace fs = std::filesystem;
using ::cascade::testing::IsOk;
using ::cascade::testing::PgQuery;
using ::cascade::testing::PostgresClusterUrl;
using ::cascade::testing::StatusIs;
using ::cascade::testing::TestDatabase;
using ::cascade::testing::WithCredentials;
using ::cascade::testing::WithDatabase;
using ::testing::_;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;

// A fresh directory under the test temp dir, removed at the end.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::path(::testing::TempDir()) / "cascade-store-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string db() const { return path_ + "/cascade.db"; }

 private:
  std::string path_;
};

using Rows = std::map<std::string, std::string>;  // std::string orders bytes like memcmp

Rows LoadTable(Store& store, Table table) {
  Rows rows;
  std::string previous;
  bool first = true;
  absl::Status status = store.Load(table, [&](std::string_view key, std::string_view value) {
    // Load promises increasing key order.
    EXPECT_TRUE(first || std::string(key) > previous) << "key order broken at " << key;
    first = false;
    previous = std::string(key);
    rows.emplace(std::string(key), std::string(value));
    return absl::OkStatus();
  });
  EXPECT_THAT(status, IsOk());
  return rows;
}

std::map<Table, Rows> LoadAll(Store& store) {
  std::map<Table, Rows> all;
  for (Table table : kAllTables) all[table] = LoadTable(store, table);
  return all;
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Runs SQL on a database file with a plain connection (as an operator's
// sqlite3 shell would), then closes it.
void RawExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_THAT(SqliteExec(db, sql), IsOk());
  ASSERT_EQ(sqlite3_close(db), SQLITE_OK);
}

int64_t RawQueryInt(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK);
  EXPECT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  const int64_t value = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

std::unique_ptr<Store> OpenOrDie(const std::string& dir, SqliteStoreOptions options = {}) {
  absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(dir, options);
  if (!store.ok()) {
    ADD_FAILURE() << store.status();
    return nullptr;
  }
  return std::move(store).value();
}

SqliteStoreOptions Fast() {
  SqliteStoreOptions options;
  options.synchronous = SqliteStoreOptions::Sync::kNormal;
  return options;
}

// A store with `rows` job rows of ~400 bytes, closed.
void MakeDatabase(const std::string& dir, int rows) {
  std::unique_ptr<Store> store = OpenOrDie(dir, Fast());
  ASSERT_NE(store, nullptr);
  std::vector<Change> changes;
  for (int i = 0; i < rows; ++i) {
    changes.push_back(Change::Put(Table::kJobs, absl::StrCat("job-", 100000 + i),
                                  std::string(400, static_cast<char>('a' + i % 26))));
  }
  ASSERT_THAT(store->Commit(std::move(changes)), IsOk());
  ASSERT_THAT(store->Close(), IsOk());
}

// Blocks the writer thread in before_commit until released, counting the
// commits that reached it.
class CommitGate {
 public:
  std::function<void()> Hook() {
    return [this] {
      std::unique_lock<std::mutex> lock(mu_);
      ++arrived_;
      cv_.notify_all();
      cv_.wait(lock, [this] { return open_; });
    };
  }
  void WaitArrived(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return arrived_ >= n; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;
  bool open_ = false;
};

void WaitAppended(Store& store, uint64_t n) {
  while (store.GetStats().groups_appended < n) std::this_thread::yield();
}

// Caps the database at its current size plus a few pages (as a full disk
// would), so a large group cannot commit.
absl::Status CapPages(sqlite3* db) {
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &stmt, nullptr);
  sqlite3_step(stmt);
  const int64_t pages = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  return SqliteExec(db, absl::StrCat("PRAGMA max_page_count = ", pages + 4));
}

// ---- The backends of the contract suite ----------------------------------------

// What a contract test asks of the store it opens; each backend maps it to
// its own options and seams.
struct StoreSettings {
  size_t max_commit_bytes = size_t{4} << 20;
  // Runs on the writer thread before each commit (a CommitGate's Hook).
  std::function<void()> before_commit;
  // The database refuses to commit a row of 1 MiB, from outside the store:
  // SQLite's disk is all but full; PostgreSQL has a CHECK constraint an
  // operator added. A small row still commits.
  bool refuse_large_rows = false;
};

// Why a backend refused the commit of a large row: its status code and a
// part of its message.
struct Refusal {
  absl::StatusCode code;
  std::string cause;
};

// Where one test's stores live, and how to open one there: the first Open
// finds nothing; a later one, after the store before it was closed, is a
// reopen.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual absl::StatusOr<std::unique_ptr<Store>> Open(const StoreSettings& settings) = 0;
  // How the store names itself in its errors.
  virtual std::string Where() const = 0;
  virtual Refusal LargeRowRefusal() const = 0;
  // Lets a store that failed a commit stop holding up the next open. Only the
  // PostgreSQL store holds anything: a failed commit ends its lease, and
  // Close gives up only a lease still held, so the database's lease row
  // lapses on its own. Here it lapses at once, as time passing would.
  virtual void LetAFailedStoresHoldLapse() {}
};

class SqliteBackend final : public Backend {
 public:
  absl::StatusOr<std::unique_ptr<Store>> Open(const StoreSettings& settings) override {
    SqliteStoreOptions options = Fast();
    options.max_commit_bytes = settings.max_commit_bytes;
    SqliteStoreSeams seams;
    seams.before_commit = settings.before_commit;
    if (settings.refuse_large_rows) seams.on_open = &CapPages;
    return OpenSqliteStore(dir_.path(), options, seams);
  }
  std::string Where() const override { return dir_.db(); }
  Refusal LargeRowRefusal() const override {
    return {absl::StatusCode::kResourceExhausted, "SQLITE_FULL"};
  }

 private:
  TempDir dir_;
};

class PostgresBackend final : public Backend {
 public:
  absl::StatusOr<std::unique_ptr<Store>> Open(const StoreSettings& settings) override {
    PostgresStoreOptions options;
    options.max_commit_bytes = settings.max_commit_bytes;
    options.holder = "store_test";
    PostgresStoreSeams seams;
    seams.before_commit = settings.before_commit;
    absl::StatusOr<std::unique_ptr<Store>> store = OpenPostgresStore(db_.url(), options, seams);
    // The constraint needs the schema, which the first open creates.
    if (store.ok() && settings.refuse_large_rows && !refusing_) {
      db_.Query(
          "ALTER TABLE cascade.jobs ADD CONSTRAINT values_under_64_kib"
          " CHECK (length(value) < 65536)");
      refusing_ = true;
    }
    return store;
  }
  std::string Where() const override { return db_.url(); }  // it has no password to redact
  Refusal LargeRowRefusal() const override {
    return {absl::StatusCode::kInternal, "violates check constraint \"values_under_64_kib\""};
  }
  void LetAFailedStoresHoldLapse() override {
    db_.Query("UPDATE cascade.leader SET expires_at = clock_timestamp() - interval '1 ms'");
  }

 private:
  TestDatabase db_;
  bool refusing_ = false;
};

enum class BackendKind { kSqlite, kPostgres };

std::string BackendName(const ::testing::TestParamInfo<BackendKind>& info) {
  return info.param == BackendKind::kSqlite ? "Sqlite" : "Postgres";
}

void PrintTo(BackendKind kind, std::ostream* os) {
  *os << (kind == BackendKind::kSqlite ? "SQLite" : "PostgreSQL");
}

// The contract every Store keeps, run once per backend.
class StoreContractTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  StoreContractTest() {
    if (GetParam() == BackendKind::kSqlite) {
      backend_ = std::make_unique<SqliteBackend>();
    } else {
      backend_ = std::make_unique<PostgresBackend>();
    }
  }

  // A store on the test's location, or null (and a failure) if it does not
  // open.
  std::unique_ptr<Store> Open(const StoreSettings& settings = {}) {
    absl::StatusOr<std::unique_ptr<Store>> store = backend_->Open(settings);
    if (!store.ok()) {
      ADD_FAILURE() << store.status();
      return nullptr;
    }
    return std::move(store).value();
  }
  Backend& backend() { return *backend_; }

 private:
  std::unique_ptr<Backend> backend_;
};

INSTANTIATE_TEST_SUITE_P(, StoreContractTest,
                         ::testing::Values(BackendKind::kSqlite, BackendKind::kPostgres),
                         BackendName);

// ---- Contents ------------------------------------------------------------------

TEST_P(StoreContractTest, ReopenLoadsExactlyTheFinalStateInKeyOrder) {
  std::map<Table, Rows> expected;
  for (Table table : kAllTables) expected[table] = {};
  {
    std::unique_ptr<Store> store = Open();
    ASSERT_NE(store, nullptr);
    // Keys chosen to test byte order: a prefix sorts first, 0x00 and 0xff
    // bytes, the empty key.
    const std::vector<std::string> keys = {"b", "a", std::string("a\0", 2),     "ab", "\xff",
                                           "",  "A", std::string("\x00\x01", 2)};
    std::vector<Change> first;
    for (const std::string& key : keys) {
      first.push_back(Change::Put(Table::kJobs, key, "job:" + key));
      expected[Table::kJobs][key] = "job:" + key;
    }
    first.push_back(Change::Put(Table::kEdges, "p>d", ""));  // an empty value
    expected[Table::kEdges]["p>d"] = "";
    first.push_back(Change::Put(Table::kBatches, "batch-1", R"({"total":3})"));
    expected[Table::kBatches]["batch-1"] = R"({"total":3})";
    ASSERT_THAT(store->Commit(std::move(first)), IsOk());

    // Updates, deletes (one of a missing key), and a put then delete of one
    // key inside one group.
    std::vector<Change> second = {
        Change::Put(Table::kJobs, "a", "job:a v2"),
        Change::Delete(Table::kJobs, "b"),
        Change::Delete(Table::kJobs, "never-there"),
        Change::Put(Table::kLeases, "lease-1", "held"),
        Change::Delete(Table::kLeases, "lease-1"),
        Change::Put(Table::kOutbox, "0001", "delivery"),
        Change::Put(Table::kOutbox, "0002", "delivery 2"),
        Change::Put(Table::kWorkers, "node-a", "seen"),
        Change::Put(Table::kLogs, "job-1", std::string("line\0\xff\n", 7)),
    };
    expected[Table::kJobs]["a"] = "job:a v2";
    expected[Table::kJobs].erase("b");
    expected[Table::kOutbox]["0001"] = "delivery";
    expected[Table::kOutbox]["0002"] = "delivery 2";
    expected[Table::kWorkers]["node-a"] = "seen";
    expected[Table::kLogs]["job-1"] = std::string("line\0\xff\n", 7);
    ASSERT_THAT(store->Commit(std::move(second)), IsOk());
    ASSERT_THAT(store->Commit({Change::Delete(Table::kOutbox, "0001")}), IsOk());
    expected[Table::kOutbox].erase("0001");
    ASSERT_THAT(store->Commit({}), IsOk());  // an empty group is fine
    EXPECT_EQ(LoadAll(*store), expected) << "Load sees committed groups before a reopen too";
    ASSERT_THAT(store->Close(), IsOk());
  }
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(LoadAll(*store), expected);
  EXPECT_THAT(LoadTable(*store, Table::kJobs),
              ElementsAre(Pair("", "job:"), Pair(std::string("\x00\x01", 2), _), Pair("A", _),
                          Pair("a", "job:a v2"), Pair(std::string("a\0", 2), _), Pair("ab", _),
                          Pair("\xff", _)));
  EXPECT_THAT(store->Close(), IsOk());
}

TEST_P(StoreContractTest, LoadStopsAtTheVisitorsError) {
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(
      store->Commit({Change::Put(Table::kJobs, "a", "1"), Change::Put(Table::kJobs, "b", "2"),
                     Change::Put(Table::kJobs, "c", "3")}),
      IsOk());
  int visited = 0;
  absl::Status status = store->Load(Table::kJobs, [&](std::string_view key, std::string_view) {
    ++visited;
    if (key == "b") return absl::DataLossError("bad row b");
    return absl::OkStatus();
  });
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kDataLoss, HasSubstr("bad row b")));
  EXPECT_EQ(visited, 2);
  EXPECT_EQ(LoadTable(*store, Table::kJobs).size(), 3u) << "the next Load reads every row again";
  EXPECT_THAT(store->Load(static_cast<Table>(9), [](auto, auto) { return absl::OkStatus(); }),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store->Commit({Change::Put(Table::kJobs, "d", "4")}), IsOk())
      << "the store goes on after the visitor's error";
}

// ---- Groups and tickets ----------------------------------------------------------

TEST_P(StoreContractTest, TicketsAreConsecutiveAndGroupsApplyInTicketOrder) {
  CommitGate gate;
  std::unique_ptr<Store> opened = Open({.before_commit = gate.Hook()});
  ASSERT_NE(opened, nullptr);
  Store& store = *opened;
  // Every group writes the same key: the survivor is the last ticket's.
  for (uint64_t i = 1; i <= 50; ++i) {
    absl::StatusOr<uint64_t> ticket =
        store.Append({Change::Put(Table::kJobs, "same", absl::StrCat(i)),
                      Change::Put(Table::kJobs, absl::StrCat("g", 100 + i), "x")});
    ASSERT_THAT(ticket, IsOk());
    EXPECT_EQ(*ticket, i);
    if (i == 1) gate.WaitArrived(1);  // group 1 is taken alone; 2..50 queue up
  }
  EXPECT_THAT(store.WaitDurable(0), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store.WaitDurable(51), StatusIs(absl::StatusCode::kInvalidArgument));
  gate.Open();
  ASSERT_THAT(store.WaitDurable(50), IsOk());
  EXPECT_THAT(store.WaitDurable(1), IsOk());
  Rows rows = LoadTable(store, Table::kJobs);
  EXPECT_EQ(rows["same"], "50");
  EXPECT_EQ(rows.size(), 51u);
  const StoreStats stats = store.GetStats();
  EXPECT_EQ(stats.groups_appended, 50u);
  EXPECT_EQ(stats.groups_committed, 50u);
  EXPECT_EQ(stats.commits, 2u) << "the 49 groups queued behind the first shared one commit";
  EXPECT_THAT(store.Close(), IsOk());
}

TEST_P(StoreContractTest, ACommitTakesAtMostMaxCommitBytesButAtLeastOneGroup) {
  CommitGate gate;
  std::unique_ptr<Store> opened = Open({.max_commit_bytes = 1000, .before_commit = gate.Hook()});
  ASSERT_NE(opened, nullptr);
  Store& store = *opened;
  ASSERT_THAT(store.Append({Change::Put(Table::kJobs, "first", "")}), IsOk());
  gate.WaitArrived(1);
  // 10 groups of 400 bytes (key 3 + value 397): two fit in 1000 bytes.
  for (int i = 0; i < 10; ++i) {
    ASSERT_THAT(
        store.Append({Change::Put(Table::kJobs, absl::StrCat("k", i), std::string(397, 'v'))}),
        IsOk());
  }
  // One group over the bound is committed alone.
  ASSERT_THAT(store.Append({Change::Put(Table::kJobs, "big", std::string(5000, 'b'))}), IsOk());
  gate.Open();
  ASSERT_THAT(store.WaitDurable(12), IsOk());
  EXPECT_EQ(store.GetStats().commits, 1u + 5u + 1u);
  EXPECT_EQ(LoadTable(store, Table::kJobs).size(), 12u);
  EXPECT_THAT(store.Close(), IsOk());
}

TEST_P(StoreContractTest, ConcurrentCallersShareACommit) {
  CommitGate gate;
  std::unique_ptr<Store> opened = Open({.before_commit = gate.Hook()});
  ASSERT_NE(opened, nullptr);
  Store& store = *opened;
  ASSERT_THAT(store.Append({Change::Put(Table::kJobs, "first", "")}), IsOk());
  gate.WaitArrived(1);
  std::vector<std::thread> callers;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    callers.emplace_back([&, t] {
      if (store.Commit({Change::Put(Table::kJobs, absl::StrCat("caller-", t), "v")}).ok()) ++ok;
    });
  }
  WaitAppended(store, 9);
  gate.Open();
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(store.GetStats().commits, 2u) << "8 callers, one commit";
  EXPECT_THAT(store.Close(), IsOk());
}

TEST_P(StoreContractTest, ManyThreadsAppendAndWaitAndEachSeesItsGroupAfterReopen) {
  constexpr int kThreads = 8;
  constexpr int kGroupsPerThread = 150;
  StoreStats stats;
  {
    std::unique_ptr<Store> store = Open();
    ASSERT_NE(store, nullptr);
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kGroupsPerThread; ++i) {
          // 1 to 3 rows per group, and a per-thread row every group updates.
          std::vector<Change> group;
          for (int j = 0; j <= i % 3; ++j) {
            group.push_back(Change::Put(Table::kJobs, absl::StrCat("t", t, "/g", i, "/", j),
                                        absl::StrCat(t, ":", i)));
          }
          group.push_back(Change::Put(Table::kBatches, absl::StrCat("head-", t), absl::StrCat(i)));
          absl::StatusOr<uint64_t> ticket = store->Append(std::move(group));
          if (!ticket.ok() || !store->WaitDurable(*ticket).ok()) {
            ++failures;
            return;
          }
          // Acknowledged: this thread's group is there now.
          bool seen = false;
          if (i % 50 == 0) {
            EXPECT_THAT(store->Load(Table::kBatches,
                                    [&](std::string_view key, std::string_view value) {
                                      if (key == absl::StrCat("head-", t)) {
                                        seen = std::stoi(std::string(value)) >= i;
                                      }
                                      return absl::OkStatus();
                                    }),
                        IsOk());
            EXPECT_TRUE(seen) << "thread " << t << " group " << i;
          }
        }
      });
    }
    for (std::thread& t : threads) t.join();
    ASSERT_EQ(failures.load(), 0);
    stats = store->GetStats();
    ASSERT_THAT(store->Close(), IsOk());
  }
  EXPECT_EQ(stats.groups_committed, static_cast<uint64_t>(kThreads * kGroupsPerThread));
  EXPECT_LE(stats.commits, stats.groups_committed);
  std::cout << "[          ] " << stats.groups_committed << " groups in " << stats.commits
            << " commits (" << static_cast<double>(stats.groups_committed) / stats.commits
            << " groups per commit)\n";

  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  Rows jobs = LoadTable(*store, Table::kJobs);
  Rows heads = LoadTable(*store, Table::kBatches);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(heads[absl::StrCat("head-", t)], absl::StrCat(kGroupsPerThread - 1));
    for (int i = 0; i < kGroupsPerThread; ++i) {
      for (int j = 0; j <= i % 3; ++j) {
        EXPECT_EQ(jobs[absl::StrCat("t", t, "/g", i, "/", j)], absl::StrCat(t, ":", i));
      }
    }
  }
  EXPECT_THAT(store->Close(), IsOk());
}

TEST_P(StoreContractTest, AppendRejectsAChangeThatNamesNoTableAndQueuesNothing) {
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(store->Append({Change::Put(Table::kJobs, "ok", "v"),
                             Change::Put(static_cast<Table>(7), "bad", "v")}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("change 1")));
  absl::StatusOr<uint64_t> ticket = store->Append({Change::Put(Table::kJobs, "next", "v")});
  ASSERT_THAT(ticket, IsOk());
  EXPECT_EQ(*ticket, 1u);
  ASSERT_THAT(store->WaitDurable(*ticket), IsOk());
  EXPECT_EQ(LoadTable(*store, Table::kJobs), (Rows{{"next", "v"}}));
  EXPECT_THAT(store->Close(), IsOk());
}

// ---- Close ---------------------------------------------------------------------------

TEST_P(StoreContractTest, CloseCommitsWhatIsQueuedAndTwiceIsHarmless) {
  {
    std::unique_ptr<Store> store = Open();
    ASSERT_NE(store, nullptr);
    uint64_t last = 0;
    for (int i = 0; i < 100; ++i) {
      absl::StatusOr<uint64_t> ticket =
          store->Append({Change::Put(Table::kJobs, absl::StrCat("k", 1000 + i), "v")});
      ASSERT_THAT(ticket, IsOk());
      last = *ticket;
    }
    EXPECT_THAT(store->Close(), IsOk());  // no WaitDurable before it
    EXPECT_THAT(store->Close(), IsOk());
    EXPECT_THAT(store->WaitDurable(last), IsOk());
    EXPECT_THAT(store->Append({Change::Put(Table::kJobs, "late", "v")}),
                StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("closed")));
    EXPECT_THAT(store->Load(Table::kJobs, [](auto, auto) { return absl::OkStatus(); }),
                StatusIs(absl::StatusCode::kFailedPrecondition));
  }
  {
    // The destructor closes (and commits) too.
    std::unique_ptr<Store> store = Open();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(LoadTable(*store, Table::kJobs).size(), 100u);
    ASSERT_THAT(store->Append({Change::Put(Table::kJobs, "from-destructor", "v")}), IsOk());
  }
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(LoadTable(*store, Table::kJobs).count("from-destructor"), 1u);
}

// ---- A failed commit -----------------------------------------------------------------------

TEST_P(StoreContractTest, AFailedCommitFailsItsGroupAndEveryLaterOneAndIsNeverDropped) {
  CommitGate gate;
  std::unique_ptr<Store> opened = Open({.before_commit = gate.Hook(), .refuse_large_rows = true});
  ASSERT_NE(opened, nullptr);
  Store& store = *opened;
  // The writer takes the first group alone and waits at the gate; the next
  // two queue up behind it: one group with a small row and a 1 MiB row (which
  // the database refuses), and a small group.
  absl::StatusOr<uint64_t> small = store.Append({Change::Put(Table::kJobs, "small", "fits")});
  ASSERT_THAT(small, IsOk());
  gate.WaitArrived(1);
  absl::StatusOr<uint64_t> big =
      store.Append({Change::Put(Table::kJobs, "a-small-row", "v"),
                    Change::Put(Table::kJobs, "huge", std::string(1 << 20, 'h'))});
  absl::StatusOr<uint64_t> after = store.Append({Change::Put(Table::kJobs, "behind", "v")});
  ASSERT_THAT(big, IsOk());
  ASSERT_THAT(after, IsOk());
  gate.Open();
  const Refusal refusal = backend().LargeRowRefusal();
  EXPECT_THAT(store.WaitDurable(*big),
              StatusIs(refusal.code,
                       AllOf(HasSubstr(absl::StrCat(backend().Where(), ": commit of groups 2..3")),
                             HasSubstr(refusal.cause))));
  EXPECT_THAT(store.WaitDurable(*after), StatusIs(refusal.code));
  EXPECT_THAT(store.WaitDurable(*small), IsOk()) << "committed before the failure";
  EXPECT_THAT(store.Append({Change::Put(Table::kJobs, "later", "v")}), StatusIs(refusal.code));
  EXPECT_THAT(store.Close(), StatusIs(refusal.code));
  EXPECT_THAT(store.Close(), StatusIs(refusal.code));

  // The failed group left nothing, not even its small row (a group is whole
  // or absent), and nothing after it was committed.
  backend().LetAFailedStoresHoldLapse();
  std::unique_ptr<Store> reopened = Open();
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(LoadTable(*reopened, Table::kJobs), (Rows{{"small", "fits"}}));
}

// ---- SQLite only: the data directory -------------------------------------------------

TEST(SqliteStoreTest, ACleanCloseLeavesTheCheckpointedDatabaseBesideItsLock) {
  TempDir dir;
  std::unique_ptr<Store> store = OpenOrDie(dir.path());
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(store->Commit({Change::Put(Table::kJobs, "k", "v")}), IsOk());
  ASSERT_THAT(store->Close(), IsOk());
  EXPECT_TRUE(fs::exists(dir.db()));
  EXPECT_TRUE(fs::exists(dir.path() + "/LOCK"));
  EXPECT_FALSE(fs::exists(dir.db() + "-wal")) << "a clean close checkpoints";
  EXPECT_EQ(RawQueryInt(dir.db(), "PRAGMA application_id"), kSqliteApplicationId);
  EXPECT_EQ(RawQueryInt(dir.db(), "PRAGMA user_version"), 2);
  EXPECT_EQ(RawQueryInt(dir.db(), "SELECT count(*) FROM jobs"), 1);
}

TEST(SqliteStoreTest, CreatesTheDataDirectoryWithItsParents) {
  TempDir dir;
  const std::string nested = dir.path() + "/a/b/data/";
  std::unique_ptr<Store> store = OpenOrDie(nested);
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(store->Commit({Change::Put(Table::kJobs, "k", "v")}), IsOk());
  EXPECT_THAT(store->Close(), IsOk());
  EXPECT_TRUE(fs::is_regular_file(dir.path() + "/a/b/data/cascade.db"));
}

// ---- Sync::kFull: the log's sync, apart from the commit ----------------------------

// A gate for before_sync: the first `pass` syncs go through, the next one
// waits at the gate until Open (then it and the rest go through), and the
// sync numbered `fail_at` (1-based; 0: none) fails as a disk error would.
class SyncGate {
 public:
  explicit SyncGate(int pass, int fail_at = 0) : pass_(pass), fail_at_(fail_at) {}
  std::function<absl::Status()> Hook() {
    return [this]() -> absl::Status {
      std::unique_lock<std::mutex> lock(mu_);
      const int n = ++arrived_;
      cv_.notify_all();
      if (n == fail_at_) return absl::DataLossError("fdatasync: Input/output error");
      if (n > pass_) cv_.wait(lock, [this] { return open_; });
      return absl::OkStatus();
    };
  }
  void WaitArrived(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return arrived_ >= n; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  const int pass_;
  const int fail_at_;
  int arrived_ = 0;
  bool open_ = false;
};

void WaitCommitted(Store& store, uint64_t n) {
  while (store.GetStats().groups_committed < n) std::this_thread::yield();
}

std::unique_ptr<Store> OpenWithSeams(const std::string& dir, SqliteStoreOptions::Sync sync,
                                     const SqliteStoreSeams& seams) {
  SqliteStoreOptions options;
  options.synchronous = sync;
  absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(dir, options, seams);
  if (!store.ok()) {
    ADD_FAILURE() << store.status();
    return nullptr;
  }
  return std::move(store).value();
}

TEST(SqliteStoreTest, UnderFullAGroupIsAcknowledgedOnlyOnceASyncOfTheLogCoversIt) {
  TempDir dir;
  SyncGate gate(/*pass=*/0);
  SqliteStoreSeams seams;
  seams.before_sync = gate.Hook();
  std::unique_ptr<Store> opened = OpenWithSeams(dir.path(), SqliteStoreOptions::Sync::kFull, seams);
  ASSERT_NE(opened, nullptr);
  Store& store = *opened;
  absl::StatusOr<uint64_t> ticket = store.Append({Change::Put(Table::kJobs, "k", "v")});
  ASSERT_THAT(ticket, IsOk());
  std::promise<absl::Status> answered;
  std::thread waiter([&] { answered.set_value(store.WaitDurable(*ticket)); });
  std::future<absl::Status> answer = answered.get_future();
  // The group is committed (in the log, and readable), and its sync has
  // begun, but it is not acknowledged until the sync returns.
  WaitCommitted(store, 1);
  gate.WaitArrived(1);
  EXPECT_EQ(LoadTable(store, Table::kJobs), (Rows{{"k", "v"}}));
  EXPECT_EQ(answer.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout)
      << "acknowledged before the log was synced";
  EXPECT_EQ(store.GetStats().groups_durable, 0u);
  gate.Open();
  EXPECT_THAT(answer.get(), IsOk());
  waiter.join();
  const StoreStats stats = store.GetStats();
  EXPECT_EQ(stats.groups_durable, 1u);
  EXPECT_EQ(stats.syncs, 1u);
  EXPECT_THAT(store.Close(), IsOk());
}

TEST(SqliteStoreTest, UnderNormalACommitIsAcknowledgedWithoutASyncOfItsOwn) {
  TempDir dir;
  SyncGate gate(/*pass=*/0);  // would block every sync, if there were one
  SqliteStoreSeams seams;
  seams.before_sync = gate.Hook();
  std::unique_ptr<Store> store =
      OpenWithSeams(dir.path(), SqliteStoreOptions::Sync::kNormal, seams);
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(store->Commit({Change::Put(Table::kJobs, "k", "v")}), IsOk());
  EXPECT_EQ(store->GetStats().syncs, 0u);
  EXPECT_THAT(store->Close(), IsOk());
}

TEST(SqliteStoreTest, UnderFullTheCallersWhoCommittedDuringASyncShareTheNext) {
  TempDir dir;
  SyncGate gate(/*pass=*/0);
  SqliteStoreSeams seams;
  seams.before_sync = gate.Hook();
  std::unique_ptr<Store> opened = OpenWithSeams(dir.path(), SqliteStoreOptions::Sync::kFull, seams);
  ASSERT_NE(opened, nullptr);
  Store& store = *opened;
  // The first sync (of group 1) waits at the gate; 8 callers commit
  // meanwhile, and one sync covers them all.
  ASSERT_THAT(store.Append({Change::Put(Table::kJobs, "first", "")}), IsOk());
  gate.WaitArrived(1);
  std::vector<std::thread> callers;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    callers.emplace_back([&, t] {
      if (store.Commit({Change::Put(Table::kJobs, absl::StrCat("caller-", t), "v")}).ok()) ++ok;
    });
  }
  WaitCommitted(store, 9);
  gate.Open();
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(ok.load(), 8);
  const StoreStats stats = store.GetStats();
  EXPECT_EQ(stats.syncs, 2u) << "8 callers, one sync";
  EXPECT_EQ(stats.groups_durable, 9u);
  EXPECT_THAT(store.Close(), IsOk());
}

TEST(SqliteStoreTest, AFailedSyncFailsEveryGroupNotYetDurableAndTheStore) {
  TempDir dir;
  SyncGate gate(/*pass=*/1000, /*fail_at=*/2);
  SqliteStoreSeams seams;
  seams.before_sync = gate.Hook();
  std::unique_ptr<Store> opened = OpenWithSeams(dir.path(), SqliteStoreOptions::Sync::kFull, seams);
  ASSERT_NE(opened, nullptr);
  Store& store = *opened;
  ASSERT_THAT(store.Commit({Change::Put(Table::kJobs, "synced", "v")}), IsOk());
  absl::StatusOr<uint64_t> lost = store.Append({Change::Put(Table::kJobs, "unsynced", "v")});
  ASSERT_THAT(lost, IsOk());
  EXPECT_THAT(store.WaitDurable(*lost),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr(absl::StrCat(dir.db(), ": sync of groups 2..2 failed")),
                             HasSubstr("Input/output error"))));
  EXPECT_THAT(store.WaitDurable(1), IsOk()) << "synced before the failure";
  EXPECT_THAT(store.Append({Change::Put(Table::kJobs, "later", "v")}),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(store.Close(), StatusIs(absl::StatusCode::kDataLoss));
  // What was acknowledged is there; what was not may be (it reached the log,
  // and the process did not die), but nothing after the failure was written.
  std::unique_ptr<Store> reopened = OpenOrDie(dir.path());
  ASSERT_NE(reopened, nullptr);
  Rows rows = LoadTable(*reopened, Table::kJobs);
  EXPECT_EQ(rows.count("synced"), 1u);
  EXPECT_EQ(rows.count("later"), 0u);
}

// ---- Checkpoints, beside the writer ---------------------------------------------------

TEST(SqliteStoreTest, CommitsGoOnWhileTheCheckpointThreadCopiesAndTheLogStartsOver) {
  TempDir dir;
  constexpr int kCheckpointPages = 64;
  CommitGate gate;  // holds the first checkpoint
  SqliteStoreSeams seams;
  seams.before_checkpoint = gate.Hook();
  seams.checkpoint_pages = kCheckpointPages;
  std::unique_ptr<Store> opened =
      OpenWithSeams(dir.path(), SqliteStoreOptions::Sync::kNormal, seams);
  ASSERT_NE(opened, nullptr);
  Store& store = *opened;
  // One page-sized row a group, over 64 keys, so the database stays small
  // and the log grows by a page or two a commit.
  int next = 0;
  auto commit_one = [&] {
    const std::string key = absl::StrCat("k", next % 64);
    return store.Commit({Change::Put(Table::kJobs, key, std::string(3000, 'a' + next++ % 26))});
  };
  // Past the threshold the writer asks for a checkpoint; while the checkpoint
  // thread is held, commits go on (a checkpoint on the writer would hold them
  // too: the test would then time out here).
  std::future<bool> written = std::async(std::launch::async, [&] {
    for (int i = 0; i < 3 * kCheckpointPages; ++i) {
      if (!commit_one().ok()) return false;
    }
    return true;
  });
  gate.WaitArrived(1);
  ASSERT_EQ(written.wait_for(std::chrono::seconds(60)), std::future_status::ready)
      << "commits stopped while the checkpoint thread was held";
  ASSERT_TRUE(written.get());
  EXPECT_EQ(store.GetStats().checkpoints, 0u);
  gate.Open();
  // The log starts over once a checkpoint has copied it whole: it then holds
  // fewer pages than the commits wrote into it.
  const std::string wal = dir.db() + "-wal";
  auto log_pages_on_disk = [&] { return fs::file_size(wal) / (4096 + 24); };
  int commits = 0;
  while (log_pages_on_disk() >= store.GetStats().log_pages && commits < 20'000) {
    ASSERT_THAT(commit_one(), IsOk());
    ++commits;
  }
  const StoreStats stats = store.GetStats();
  EXPECT_LT(log_pages_on_disk(), stats.log_pages) << "the log never started over";
  EXPECT_GE(stats.checkpoints, 1u);
  EXPECT_THAT(store.Close(), IsOk());
  EXPECT_FALSE(fs::exists(wal)) << "a clean close still checkpoints and removes the log";
  std::unique_ptr<Store> reopened = OpenOrDie(dir.path());
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(LoadTable(*reopened, Table::kJobs).size(), 64u);
}

// ---- The directory lock ------------------------------------------------------------

TEST(SqliteStoreTest, ASecondOpenOfTheDirectoryFailsWhileTheFirstIsOpen) {
  TempDir dir;
  std::unique_ptr<Store> first = OpenOrDie(dir.path());
  ASSERT_NE(first, nullptr);
  ASSERT_THAT(first->Commit({Change::Put(Table::kJobs, "k", "v")}), IsOk());
  const std::string before = ReadBytes(dir.db());
  EXPECT_THAT(OpenSqliteStore(dir.path(), {}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("is in use"), HasSubstr(dir.path() + "/LOCK"),
                             HasSubstr(absl::StrCat("process ", getpid(), ", this one")))));
  EXPECT_EQ(ReadBytes(dir.db()), before);
  ASSERT_THAT(first->Commit({Change::Put(Table::kJobs, "k2", "v")}), IsOk())
      << "the first store is unaffected";
  ASSERT_THAT(first->Close(), IsOk());
  std::unique_ptr<Store> second = OpenOrDie(dir.path());
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(LoadTable(*second, Table::kJobs).size(), 2u);
}

// ---- Bad files -------------------------------------------------------------------------

// Every file in `dir` but LOCK, with its bytes.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name == "LOCK" || !entry.is_regular_file()) continue;
    files[name] = ReadBytes(entry.path().string());
  }
  return files;
}

struct BadFileCase {
  std::string name;
  // Prepares the directory (which is empty, or holds a store of 2000 rows
  // when `real_database`).
  bool real_database;
  std::function<void(const TempDir&)> damage;
  absl::StatusCode code;
  std::vector<std::string> message_parts;
};

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string bytes(n, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  return bytes;
}

void PrintTo(const BadFileCase& c, std::ostream* os) { *os << c.name; }

class BadFileTest : public ::testing::TestWithParam<BadFileCase> {};

TEST_P(BadFileTest, GivesTheDocumentedErrorAndChangesNothing) {
  const BadFileCase& c = GetParam();
  TempDir dir;
  if (c.real_database) MakeDatabase(dir.path(), 2000);
  c.damage(dir);
  const std::map<std::string, std::string> before = Snapshot(dir.path());

  for (SqliteStoreOptions options : {SqliteStoreOptions(), Fast()}) {
    absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(dir.path(), options);
    ASSERT_FALSE(store.ok()) << c.name << " opened";
    EXPECT_EQ(store.status().code(), c.code) << store.status();
    if (options.synchronous == SqliteStoreOptions::Sync::kFull) {
      std::cout << "[          ] " << store.status() << "\n";
    }
    for (const std::string& part : c.message_parts) {
      EXPECT_THAT(std::string(store.status().message()), HasSubstr(part));
    }
  }
  // The files are as they were. SQLite may leave an empty log and its index
  // beside a WAL-mode file it has read; nothing else may appear.
  const std::map<std::string, std::string> after = Snapshot(dir.path());
  for (const auto& [name, bytes] : before) {
    ASSERT_TRUE(after.count(name)) << name << " disappeared";
    EXPECT_TRUE(after.at(name) == bytes) << name << " changed";
  }
  for (const auto& [name, bytes] : after) {
    if (before.count(name)) continue;
    EXPECT_TRUE((name == "cascade.db-wal" && bytes.empty()) || name == "cascade.db-shm")
        << name << " appeared (" << bytes.size() << " bytes)";
  }
}

std::string Db(const TempDir& dir) { return dir.db(); }

INSTANTIATE_TEST_SUITE_P(
    SqliteStore, BadFileTest,
    ::testing::Values(
        BadFileCase{"RandomBytes",
                    false,
                    [](const TempDir& d) { WriteBytes(Db(d), RandomBytes(3 * 4096, 1)); },
                    absl::StatusCode::kDataLoss,
                    {"cascade.db is not a SQLite database (no SQLite header)"}},
        BadFileCase{"SqliteHeaderThenNoise",
                    false,
                    [](const TempDir& d) {
                      WriteBytes(Db(d), std::string("SQLite format 3\0", 16) +
                                            RandomBytes(3 * 4096 - 16, 6));
                    },
                    absl::StatusCode::kDataLoss,
                    {"cascade.db is damaged", "SQLITE_NOTADB"}},
        BadFileCase{"TextFile",
                    false,
                    [](const TempDir& d) { WriteBytes(Db(d), "hello, I am not a database\n"); },
                    absl::StatusCode::kDataLoss,
                    {"not a SQLite database"}},
        BadFileCase{"ZeroLength",
                    false,
                    [](const TempDir& d) { WriteBytes(Db(d), ""); },
                    absl::StatusCode::kDataLoss,
                    {"cascade.db is empty (0 bytes)"}},
        BadFileCase{"TruncatedToHalf",
                    true,
                    [](const TempDir& d) { fs::resize_file(Db(d), fs::file_size(Db(d)) / 2); },
                    absl::StatusCode::kDataLoss,
                    {"cascade.db is damaged", "SQLITE_CORRUPT"}},
        BadFileCase{"TruncatedInsideTheHeader",
                    true,
                    [](const TempDir& d) { fs::resize_file(Db(d), 60); },
                    absl::StatusCode::kDataLoss,
                    {"cascade.db is not a SQLite database (60 bytes"}},
        BadFileCase{"PageOverwritten",
                    true,
                    [](const TempDir& d) {
                      std::string bytes = ReadBytes(Db(d));
                      const std::string noise = RandomBytes(4096, 2);
                      bytes.replace(bytes.size() / 2 / 4096 * 4096, 4096, noise);
                      WriteBytes(Db(d), bytes);
                    },
                    absl::StatusCode::kDataLoss,
                    {"cascade.db is damaged (PRAGMA quick_check: "}},
        BadFileCase{
            "ForeignDatabase",
            false,
            [](const TempDir& d) {
              RawExec(Db(d),
                      "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL);"
                      "CREATE TABLE customers (name TEXT);"
                      "INSERT INTO invoices (total) VALUES (12.5);");
            },
            absl::StatusCode::kFailedPrecondition,
            {"not a Cascade data directory", "application_id 0", "tables: customers, invoices"}},
        BadFileCase{"OtherApplicationId",
                    true,
                    [](const TempDir& d) { RawExec(Db(d), "PRAGMA application_id = 1234;"); },
                    absl::StatusCode::kFailedPrecondition,
                    {"not a Cascade data directory", "application_id 1234"}},
        BadFileCase{"ForeignTableInACascadeFile",
                    true,
                    [](const TempDir& d) { RawExec(Db(d), "CREATE TABLE notes (text TEXT);"); },
                    absl::StatusCode::kFailedPrecondition,
                    {"not a Cascade data directory", "does not know: notes"}},
        BadFileCase{"NewerSchema",
                    true,
                    [](const TempDir& d) { RawExec(Db(d), "PRAGMA user_version = 7;"); },
                    absl::StatusCode::kFailedPrecondition,
                    {"cascade.db was written by a newer Cascade (schema 7, this build reads up "
                     "to 2)"}},
        BadFileCase{"NoSchemaVersion",
                    true,
                    [](const TempDir& d) { RawExec(Db(d), "PRAGMA user_version = 0;"); },
                    absl::StatusCode::kDataLoss,
                    {"no schema version"}},
        BadFileCase{"MissingTable",
                    true,
                    [](const TempDir& d) { RawExec(Db(d), "DROP TABLE leases;"); },
                    absl::StatusCode::kDataLoss,
                    {"table(s) leases missing"}},
        BadFileCase{"DatabaseIsADirectory",
                    false,
                    [](const TempDir& d) { fs::create_directory(Db(d)); },
                    absl::StatusCode::kFailedPrecondition,
                    {"cascade.db is not a regular file"}},
        BadFileCase{"LogWithoutDatabase",
                    false,
                    [](const TempDir& d) { WriteBytes(Db(d) + "-wal", RandomBytes(8192, 3)); },
                    absl::StatusCode::kFailedPrecondition,
                    {"cascade.db-wal exists but"}}),
    [](const ::testing::TestParamInfo<BadFileCase>& info) { return info.param.name; });

TEST(SqliteStoreTest, ADataDirectoryThatIsAFileIsRefused) {
  TempDir dir;
  const std::string file = dir.path() + "/not-a-dir";
  WriteBytes(file, "x");
  EXPECT_THAT(OpenSqliteStore(file, {}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is not a directory")));
  EXPECT_EQ(ReadBytes(file), "x");
  EXPECT_THAT(OpenSqliteStore("", {}), StatusIs(absl::StatusCode::kInvalidArgument));
  SqliteStoreOptions zero;
  zero.max_commit_bytes = 0;
  EXPECT_THAT(OpenSqliteStore(dir.path(), zero), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(SqliteStoreTest, LeftoversOfAnInterruptedCreationAreReplaced) {
  TempDir dir;
  WriteBytes(dir.path() + "/cascade.db-new", RandomBytes(1000, 4));
  WriteBytes(dir.path() + "/cascade.db-new-wal", RandomBytes(1000, 5));
  std::unique_ptr<Store> store = OpenOrDie(dir.path());
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(store->Close(), IsOk());
  EXPECT_FALSE(fs::exists(dir.path() + "/cascade.db-new"));
  EXPECT_FALSE(fs::exists(dir.path() + "/cascade.db-new-wal"));
}

// ---- Migrations --------------------------------------------------------------------------

// A second schema version, for the test: marks every job value and records
// that it ran.
absl::Status FakeStepOneToTwo(sqlite3* db) {
  return SqliteExec(db,
                    "UPDATE jobs SET value = value || X'21';"
                    "INSERT INTO meta (key, value) VALUES ('fake_step', 'ran');");
}

absl::Status FailingStep(sqlite3* db) {
  absl::Status status = SqliteExec(db, "UPDATE jobs SET value = X'00';");
  if (!status.ok()) return status;
  return absl::InternalError("step failed half-way");
}

TEST(SqliteStoreTest, AnOlderFileIsMigratedOneStepAtATime) {
  TempDir dir;
  {
    std::unique_ptr<Store> store = OpenOrDie(dir.path());
    ASSERT_NE(store, nullptr);
    ASSERT_THAT(
        store->Commit({Change::Put(Table::kJobs, "a", "x"), Change::Put(Table::kJobs, "b", "y")}),
        IsOk());
    ASSERT_THAT(store->Close(), IsOk());
  }
  std::vector<SqliteMigration> one_more(SqliteMigrations().begin(), SqliteMigrations().end());
  ASSERT_EQ(one_more.size(), 2u) << "this build's steps: create, add workers and logs";
  one_more.push_back({"mark the jobs", &FakeStepOneToTwo});
  SqliteStoreSeams seams;
  seams.migrations = one_more;
  for (int open = 0; open < 2; ++open) {  // the second open has nothing to migrate
    absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(dir.path(), {}, seams);
    ASSERT_THAT(store, IsOk());
    EXPECT_EQ(LoadTable(**store, Table::kJobs), (Rows{{"a", "x!"}, {"b", "y!"}}));
    ASSERT_THAT((*store)->Close(), IsOk());
  }
  EXPECT_EQ(RawQueryInt(dir.db(), "PRAGMA user_version"), 3);
  EXPECT_EQ(RawQueryInt(dir.db(), "SELECT count(*) FROM meta WHERE key = 'fake_step'"), 1);
  // This build (schema 2) now refuses the file.
  EXPECT_THAT(
      OpenSqliteStore(dir.path(), {}),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("written by a newer Cascade (schema 3, this build reads up to 2)")));

  // A new directory runs every step.
  TempDir fresh;
  absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(fresh.path(), {}, seams);
  ASSERT_THAT(store, IsOk());
  ASSERT_THAT((*store)->Close(), IsOk());
  EXPECT_EQ(RawQueryInt(fresh.db(), "PRAGMA user_version"), 3);
  EXPECT_EQ(RawQueryInt(fresh.db(), "PRAGMA application_id"), kSqliteApplicationId);
}

TEST(SqliteStoreTest, AFailedMigrationStepLeavesTheFileAtItsVersion) {
  TempDir dir;
  MakeDatabase(dir.path(), 3);
  const std::string before_jobs =
      absl::StrCat(RawQueryInt(dir.db(), "SELECT sum(length(value)) FROM jobs"));
  std::vector<SqliteMigration> failing(SqliteMigrations().begin(), SqliteMigrations().end());
  failing.push_back({"a step that fails", &FailingStep});
  SqliteStoreSeams seams;
  seams.migrations = failing;
  EXPECT_THAT(OpenSqliteStore(dir.path(), {}, seams),
              StatusIs(absl::StatusCode::kInternal,
                       AllOf(HasSubstr("migrating from schema 2 to 3 (a step that fails)"),
                             HasSubstr("step failed half-way"))));
  EXPECT_EQ(RawQueryInt(dir.db(), "PRAGMA user_version"), 2);
  EXPECT_EQ(absl::StrCat(RawQueryInt(dir.db(), "SELECT sum(length(value)) FROM jobs")), before_jobs)
      << "the step's update was rolled back";
  std::unique_ptr<Store> store = OpenOrDie(dir.path());
  EXPECT_NE(store, nullptr) << "the file is still good for this build";
}

// ---- PostgreSQL only: what open refuses ------------------------------------------------

// Everything in the database that open could change: its schemas, and the
// columns, constraints and rows of every table in `cascade` (the leader row
// with its epoch and times among them).
std::string DumpCascadeSchema(const TestDatabase& db) {
  std::string out = db.Query(
      "SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace"
      " WHERE nspname NOT LIKE 'pg\\_%'");
  absl::StrAppend(&out, "\ncolumns: ",
                  db.Query("SELECT string_agg(table_name || '.' || column_name || ' ' || data_type,"
                           " ',' ORDER BY table_name, ordinal_position)"
                           " FROM information_schema.columns WHERE table_schema = 'cascade'"));
  absl::StrAppend(&out, "\nconstraints: ",
                  db.Query("SELECT string_agg(conname || ' ' || pg_get_constraintdef(c.oid), ','"
                           " ORDER BY conname) FROM pg_constraint c JOIN pg_namespace n"
                           " ON n.oid = c.connamespace WHERE n.nspname = 'cascade'"));
  const std::string tables = db.Query(
      "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
      " WHERE n.nspname = 'cascade' AND c.relkind = 'r' ORDER BY 1");
  for (absl::string_view table : absl::StrSplit(tables, '\n', absl::SkipEmpty())) {
    absl::StrAppend(&out, "\n", table, ": ",
                    db.Query(absl::StrCat("SELECT string_agg(t::text, ' | ' ORDER BY t::text)"
                                          " FROM cascade.\"",
                                          table, "\" t")));
  }
  return out;
}

// A PostgreSQL store of a few rows in `db`, closed.
void MakePostgresStore(const TestDatabase& db) {
  absl::StatusOr<std::unique_ptr<Store>> store = OpenPostgresStore(db.url(), {});
  ASSERT_THAT(store, IsOk());
  ASSERT_THAT((*store)->Commit({Change::Put(Table::kJobs, "job-1", "queued"),
                                Change::Put(Table::kBatches, "batch-1", "{}")}),
              IsOk());
  ASSERT_THAT((*store)->Close(), IsOk());
}

struct PostgresRefusalCase {
  std::string name;
  // A Cascade store is made first (else the database is empty), then `sql`
  // is run.
  bool cascade_store;
  std::string sql;
  absl::StatusCode code;
  std::vector<std::string> message_parts;
};

void PrintTo(const PostgresRefusalCase& c, std::ostream* os) { *os << c.name; }

class PostgresRefusalTest : public ::testing::TestWithParam<PostgresRefusalCase> {};

TEST_P(PostgresRefusalTest, GivesTheDocumentedErrorAndChangesNothing) {
  const PostgresRefusalCase& c = GetParam();
  TestDatabase db;
  if (c.cascade_store) MakePostgresStore(db);
  db.Query(c.sql);
  const std::string before = DumpCascadeSchema(db);
  // The superuser needs no password (trust), but the URL carries one, which
  // no message may show.
  const std::string url = WithCredentials(db.url(), "cascade", "s3cret-in-url");
  for (int attempt = 0; attempt < 2; ++attempt) {  // a refusal changes nothing, so again
    absl::StatusOr<std::unique_ptr<Store>> store = OpenPostgresStore(url, {});
    ASSERT_FALSE(store.ok()) << c.name << " opened";
    EXPECT_EQ(store.status().code(), c.code) << store.status();
    if (attempt == 0) std::cout << "[          ] " << store.status() << "\n";
    const std::string message(store.status().message());
    EXPECT_THAT(message, HasSubstr(RedactPostgresUrl(url)));
    EXPECT_THAT(message, Not(HasSubstr("s3cret-in-url")));
    for (const std::string& part : c.message_parts) EXPECT_THAT(message, HasSubstr(part));
  }
  EXPECT_EQ(DumpCascadeSchema(db), before);
}

INSTANTIATE_TEST_SUITE_P(
    PostgresStore, PostgresRefusalTest,
    ::testing::Values(
        PostgresRefusalCase{
            "NewerSchema",
            true,
            "UPDATE cascade.meta SET value = '99' WHERE key = 'schema_version'",
            absl::StatusCode::kFailedPrecondition,
            {"was written by a newer Cascade (schema 99, this build reads up to 1)"}},
        PostgresRefusalCase{"ForeignSchema",
                            false,
                            "CREATE SCHEMA cascade;"
                            "CREATE TABLE cascade.invoices (id int PRIMARY KEY, total numeric);"
                            "INSERT INTO cascade.invoices VALUES (1, 12.5);",
                            absl::StatusCode::kFailedPrecondition,
                            {"not a Cascade database", "without Cascade's table cascade.meta",
                             "its tables: invoices"}},
        PostgresRefusalCase{"EmptySchemaNamedCascade",
                            false,
                            "CREATE SCHEMA cascade",
                            absl::StatusCode::kFailedPrecondition,
                            {"not a Cascade database", "its tables: none"}},
        PostgresRefusalCase{"MetaOfAnotherApplication",
                            false,
                            "CREATE SCHEMA cascade;"
                            "CREATE TABLE cascade.meta (key text PRIMARY KEY, value text);"
                            "INSERT INTO cascade.meta VALUES ('application', 'billing'),"
                            " ('schema_version', '1');",
                            absl::StatusCode::kFailedPrecondition,
                            {"not a Cascade database", "names another application"}},
        PostgresRefusalCase{"NoSchemaVersion",
                            true,
                            "DELETE FROM cascade.meta WHERE key = 'schema_version'",
                            absl::StatusCode::kFailedPrecondition,
                            {"no schema version"}}),
    [](const ::testing::TestParamInfo<PostgresRefusalCase>& info) { return info.param.name; });

// A TCP port on 127.0.0.1 that refuses connections: bound, never listening,
// so nothing else takes it while the test runs.
class ClosedPort {
 public:
  ClosedPort() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      std::abort();
    }
    port_ = ntohs(address.sin_port);
  }
  ~ClosedPort() { close(fd_); }
  ClosedPort(const ClosedPort&) = delete;
  ClosedPort& operator=(const ClosedPort&) = delete;
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(PostgresStoreOpenTest, AnUnreachableServerIsUnavailableNamingTheUrlWithoutItsPassword) {
  ClosedPort closed;
  const std::string url =
      absl::StrCat("postgresql://cascade:s3cret@127.0.0.1:", closed.port(), "/farm");
  absl::StatusOr<std::unique_ptr<Store>> store = OpenPostgresStore(url, {});
  std::cout << "[          ] " << store.status() << "\n";
  EXPECT_THAT(store,
              StatusIs(absl::StatusCode::kUnavailable,
                       AllOf(HasSubstr(absl::StrCat("connecting to postgresql://cascade:****@"
                                                    "127.0.0.1:",
                                                    closed.port(), "/farm")),
                             Not(HasSubstr("s3cret")))));
}

TEST(PostgresStoreOpenTest, AWrongPasswordIsPermissionDeniedAndTheMessageHidesIt) {
  TestDatabase db;
  const std::string url = WithCredentials(db.url(), "cascade_pw", "wrong-password");
  absl::StatusOr<std::unique_ptr<Store>> store = OpenPostgresStore(url, {});
  std::cout << "[          ] " << store.status() << "\n";
  EXPECT_THAT(store, StatusIs(absl::StatusCode::kPermissionDenied,
                              AllOf(HasSubstr("cascade_pw:****@"),
                                    HasSubstr("password authentication failed"),
                                    Not(HasSubstr("wrong-password")))));
  EXPECT_EQ(db.Query("SELECT count(*) FROM pg_namespace WHERE nspname = 'cascade'"), "0");
}

TEST(PostgresStoreOpenTest, ARoleThatMayNotCreateTheSchemaIsPermissionDeniedAndCreatesNothing) {
  TestDatabase db;  // owned by the superuser; cascade_pw may connect, not create
  const std::string url = WithCredentials(db.url(), "cascade_pw", "cascade-test-password");
  absl::StatusOr<std::unique_ptr<Store>> store = OpenPostgresStore(url, {});
  std::cout << "[          ] " << store.status() << "\n";
  EXPECT_THAT(store, StatusIs(absl::StatusCode::kPermissionDenied,
                              AllOf(HasSubstr("cascade_pw:****@"), HasSubstr("creating the schema"),
                                    Not(HasSubstr("cascade-test-password")))));
  EXPECT_EQ(db.Query("SELECT count(*) FROM pg_namespace WHERE nspname = 'cascade'"), "0");
}

TEST(PostgresStoreOpenTest, ADatabaseThatDoesNotExistIsNamedAndNotCreated) {
  const std::string cluster = PostgresClusterUrl();
  ASSERT_FALSE(cluster.empty());
  const std::string name = absl::StrCat("cascade_test_missing_", getpid());
  absl::StatusOr<std::unique_ptr<Store>> store = OpenPostgresStore(WithDatabase(cluster, name), {});
  std::cout << "[          ] " << store.status() << "\n";
  EXPECT_THAT(store, StatusIs(absl::StatusCode::kFailedPrecondition,
                              HasSubstr(absl::StrCat("database \"", name, "\" does not exist"))));
  EXPECT_EQ(PgQuery(cluster,
                    absl::StrCat("SELECT count(*) FROM pg_database WHERE datname = '", name, "'")),
            "0");
}

TEST(PostgresStoreOpenTest, BadArgumentsAreInvalidArgumentAndConnectToNothing) {
  EXPECT_THAT(OpenPostgresStore("/var/lib/cascade", {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a postgresql:// URL")));
  EXPECT_THAT(OpenPostgresStore("mysql://root:pw@db/farm", {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("mysql://root:****@db/farm"), Not(HasSubstr(":pw@")))));
  // Out-of-range options are refused before any connection is tried (the
  // port refuses connections).
  ClosedPort closed;
  const std::string url = absl::StrCat("postgresql://cascade@127.0.0.1:", closed.port(), "/x");
  PostgresStoreOptions zero_bytes;
  zero_bytes.max_commit_bytes = 0;
  EXPECT_THAT(OpenPostgresStore(url, zero_bytes), StatusIs(absl::StatusCode::kInvalidArgument));
  PostgresStoreOptions renew_too_slow;
  renew_too_slow.renew_every = renew_too_slow.lease;
  EXPECT_THAT(OpenPostgresStore(url, renew_too_slow), StatusIs(absl::StatusCode::kInvalidArgument));
  PostgresStoreOptions no_renewal;
  no_renewal.renew_every = absl::ZeroDuration();
  EXPECT_THAT(OpenPostgresStore(url, no_renewal), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(PostgresStoreOpenTest, RedactPostgresUrlHidesOnlyThePassword) {
  EXPECT_EQ(RedactPostgresUrl("postgresql://farm:s3cret@db.example:5432/cascade"),
            "postgresql://farm:****@db.example:5432/cascade");
  EXPECT_EQ(RedactPostgresUrl("postgres://farm:s3cret@db.example"),
            "postgres://farm:****@db.example");
  // A password holding ':' or '@' (libpq takes the last '@' before the host).
  EXPECT_EQ(RedactPostgresUrl("postgresql://farm:a:b@c@db/cascade"),
            "postgresql://farm:****@db/cascade");
  EXPECT_EQ(RedactPostgresUrl("postgresql://farm:@db/cascade"),
            "postgresql://farm:****@db/cascade");
  // Nothing to hide.
  EXPECT_EQ(RedactPostgresUrl("postgresql://farm@db/cascade"), "postgresql://farm@db/cascade");
  EXPECT_EQ(RedactPostgresUrl("postgresql://db/cascade"), "postgresql://db/cascade");
  EXPECT_EQ(RedactPostgresUrl("postgresql:///cascade"), "postgresql:///cascade");
  EXPECT_EQ(RedactPostgresUrl("postgresql://db/cascade?application_name=a:b@c"),
            "postgresql://db/cascade?application_name=a:b@c")
      << "an '@' after the host is not a password's end";
  // A password among the query's parameters (libpq reads them there too).
  EXPECT_EQ(RedactPostgresUrl("postgresql://db/cascade?user=farm&password=s3cret&sslmode=require"),
            "postgresql://db/cascade?user=farm&password=****&sslmode=require");
  EXPECT_EQ(RedactPostgresUrl("postgresql://farm:a@db/cascade?password=b"),
            "postgresql://farm:****@db/cascade?password=****");
  EXPECT_EQ(RedactPostgresUrl("/var/lib/cascade"), "/var/lib/cascade");
  EXPECT_EQ(RedactPostgresUrl(""), "");

  EXPECT_TRUE(IsPostgresUrl("postgresql://db/cascade"));
  EXPECT_TRUE(IsPostgresUrl("postgres://db/cascade"));
  EXPECT_FALSE(IsPostgresUrl("/var/lib/cascade"));
  EXPECT_FALSE(IsPostgresUrl("postgresql:/db"));
  EXPECT_FALSE(IsPostgresUrl("mysql://db/cascade"));
  EXPECT_FALSE(IsPostgresUrl(""));
}

}  // namespace
}  // namespace cascade::internal
