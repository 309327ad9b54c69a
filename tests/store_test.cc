// Copyright 2026 The Cascade Authors.
//
// The SQLite store (engine/store/sqlite_store.h) as a specification: what a
// reopened store holds, how groups commit (whole, in ticket order, shared by
// concurrent callers), what every kind of bad file gives at open (and that
// the file is left as it was), the migration path, the directory lock, and
// what happens after a failed commit. The kill -9 test is store_kill_test.cc.

#include "engine/store/store.h"

#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
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
#include "engine/store/sqlite_store.h"
#include "tests/testutil.h"

namespace cascade::internal {
namespace {

namespace fs = std::filesystem;
using ::cascade::testing::IsOk;
using ::cascade::testing::StatusIs;
using ::testing::_;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
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

// ---- Contents ------------------------------------------------------------------

TEST(SqliteStoreTest, ReopenLoadsExactlyTheFinalStateInKeyOrder) {
  TempDir dir;
  std::map<Table, Rows> expected;
  for (Table table : kAllTables) expected[table] = {};
  {
    std::unique_ptr<Store> store = OpenOrDie(dir.path());
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
    };
    expected[Table::kJobs]["a"] = "job:a v2";
    expected[Table::kJobs].erase("b");
    expected[Table::kOutbox]["0001"] = "delivery";
    expected[Table::kOutbox]["0002"] = "delivery 2";
    ASSERT_THAT(store->Commit(std::move(second)), IsOk());
    ASSERT_THAT(store->Commit({Change::Delete(Table::kOutbox, "0001")}), IsOk());
    expected[Table::kOutbox].erase("0001");
    ASSERT_THAT(store->Commit({}), IsOk());  // an empty group is fine
    EXPECT_EQ(LoadAll(*store), expected) << "Load sees committed groups before a reopen too";
    ASSERT_THAT(store->Close(), IsOk());
  }
  // A clean close checkpoints: the directory holds the database and the lock.
  EXPECT_TRUE(fs::exists(dir.db()));
  EXPECT_TRUE(fs::exists(dir.path() + "/LOCK"));
  EXPECT_FALSE(fs::exists(dir.db() + "-wal"));

  std::unique_ptr<Store> store = OpenOrDie(dir.path());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(LoadAll(*store), expected);
  EXPECT_THAT(LoadTable(*store, Table::kJobs),
              ElementsAre(Pair("", "job:"), Pair(std::string("\x00\x01", 2), _), Pair("A", _),
                          Pair("a", "job:a v2"), Pair(std::string("a\0", 2), _), Pair("ab", _),
                          Pair("\xff", _)));
  EXPECT_THAT(store->Close(), IsOk());
  EXPECT_EQ(RawQueryInt(dir.db(), "PRAGMA application_id"), kSqliteApplicationId);
  EXPECT_EQ(RawQueryInt(dir.db(), "PRAGMA user_version"), 2);
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

TEST(SqliteStoreTest, LoadStopsAtTheVisitorsError) {
  TempDir dir;
  std::unique_ptr<Store> store = OpenOrDie(dir.path());
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
  EXPECT_EQ(LoadTable(*store, Table::kJobs).size(), 3u) << "the statement was reset";
  EXPECT_THAT(store->Load(static_cast<Table>(9), [](auto, auto) { return absl::OkStatus(); }),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// ---- Groups and tickets ----------------------------------------------------------

TEST(SqliteStoreTest, TicketsAreConsecutiveAndGroupsApplyInTicketOrder) {
  TempDir dir;
  CommitGate gate;
  SqliteStoreSeams seams;
  seams.before_commit = gate.Hook();
  absl::StatusOr<std::unique_ptr<Store>> opened = OpenSqliteStore(dir.path(), Fast(), seams);
  ASSERT_THAT(opened, IsOk());
  Store& store = **opened;
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

TEST(SqliteStoreTest, ACommitTakesAtMostMaxCommitBytesButAtLeastOneGroup) {
  TempDir dir;
  CommitGate gate;
  SqliteStoreSeams seams;
  seams.before_commit = gate.Hook();
  SqliteStoreOptions options = Fast();
  options.max_commit_bytes = 1000;
  absl::StatusOr<std::unique_ptr<Store>> opened = OpenSqliteStore(dir.path(), options, seams);
  ASSERT_THAT(opened, IsOk());
  Store& store = **opened;
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
  EXPECT_THAT(store.Close(), IsOk());
}

TEST(SqliteStoreTest, ConcurrentCallersShareACommit) {
  TempDir dir;
  CommitGate gate;
  SqliteStoreSeams seams;
  seams.before_commit = gate.Hook();
  absl::StatusOr<std::unique_ptr<Store>> opened = OpenSqliteStore(dir.path(), Fast(), seams);
  ASSERT_THAT(opened, IsOk());
  Store& store = **opened;
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

TEST(SqliteStoreTest, ManyThreadsAppendAndWaitAndEachSeesItsGroupAfterReopen) {
  TempDir dir;
  constexpr int kThreads = 8;
  constexpr int kGroupsPerThread = 150;
  StoreStats stats;
  {
    std::unique_ptr<Store> store = OpenOrDie(dir.path(), Fast());
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

  std::unique_ptr<Store> store = OpenOrDie(dir.path());
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

TEST(SqliteStoreTest, AppendRejectsAChangeThatNamesNoTableAndQueuesNothing) {
  TempDir dir;
  std::unique_ptr<Store> store = OpenOrDie(dir.path(), Fast());
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(store->Append({Change::Put(Table::kJobs, "ok", "v"),
                             Change::Put(static_cast<Table>(7), "bad", "v")}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("change 1")));
  absl::StatusOr<uint64_t> ticket = store->Append({Change::Put(Table::kJobs, "next", "v")});
  ASSERT_THAT(ticket, IsOk());
  EXPECT_EQ(*ticket, 1u);
  ASSERT_THAT(store->WaitDurable(*ticket), IsOk());
  EXPECT_EQ(LoadTable(*store, Table::kJobs).count("ok"), 0u);
  EXPECT_THAT(store->Close(), IsOk());
}

// ---- Close ---------------------------------------------------------------------------

TEST(SqliteStoreTest, CloseCommitsWhatIsQueuedAndTwiceIsHarmless) {
  TempDir dir;
  {
    std::unique_ptr<Store> store = OpenOrDie(dir.path(), Fast());
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
    std::unique_ptr<Store> store = OpenOrDie(dir.path(), Fast());
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(LoadTable(*store, Table::kJobs).size(), 100u);
    ASSERT_THAT(store->Append({Change::Put(Table::kJobs, "from-destructor", "v")}), IsOk());
  }
  std::unique_ptr<Store> store = OpenOrDie(dir.path(), Fast());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(LoadTable(*store, Table::kJobs).count("from-destructor"), 1u);
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

// ---- A failed commit -----------------------------------------------------------------------

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

TEST(SqliteStoreTest, AFailedCommitFailsItsGroupAndEveryLaterOneAndIsNeverDropped) {
  TempDir dir;
  CommitGate gate;
  SqliteStoreSeams seams;
  seams.on_open = &CapPages;
  seams.before_commit = gate.Hook();
  absl::StatusOr<std::unique_ptr<Store>> opened = OpenSqliteStore(dir.path(), Fast(), seams);
  ASSERT_THAT(opened, IsOk());
  Store& store = **opened;
  // The writer takes the first group alone and waits at the gate; the next
  // two queue up behind it: one group with a small row and a 1 MB row (which
  // does not fit), and a small group.
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
  EXPECT_THAT(store.WaitDurable(*big),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       AllOf(HasSubstr("cascade.db: commit of groups"), HasSubstr("SQLITE_FULL"))));
  EXPECT_THAT(store.WaitDurable(*after), StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(store.WaitDurable(*small), IsOk()) << "committed before the failure";
  EXPECT_THAT(store.Append({Change::Put(Table::kJobs, "later", "v")}),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(store.Close(), StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(store.Close(), StatusIs(absl::StatusCode::kResourceExhausted));

  // The failed group left nothing, not even its small row (a group is whole
  // or absent), and nothing after it was committed.
  std::unique_ptr<Store> reopened = OpenOrDie(dir.path());
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(LoadTable(*reopened, Table::kJobs), (Rows{{"small", "fits"}}));
}

}  // namespace
}  // namespace cascade::internal
