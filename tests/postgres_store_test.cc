// Copyright 2026 The Cascade Authors.
//
// The PostgreSQL store's leader lease and fencing (engine/store/postgres_store.h,
// contract §17), against a real PostgreSQL (tests/pg_harness.h): one store
// leads at a time; a second open is a standby's Unavailable; Close hands the
// lease over at once; a store whose lease lapsed and was taken over commits
// nothing more, and without the epoch check (the `unfenced` seam) it would
// have overwritten the new leader's rows; a takeover ends an old leader's
// commit stalled in a statement. What every store must do (both backends) is
// store_test.cc's.

#include "engine/store/postgres_store.h"

#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "engine/store/store.h"
#include "tests/pg_harness.h"
#include "tests/testutil.h"

namespace cascade::internal {
namespace {

using ::cascade::testing::IsOk;
using ::cascade::testing::StatusIs;
using ::cascade::testing::TestDatabase;
using ::cascade::testing::WithCredentials;
using ::testing::AllOf;
using ::testing::HasSubstr;

PostgresStoreOptions Short(std::string holder) {
  PostgresStoreOptions options;
  options.lease = absl::Milliseconds(1500);
  options.renew_every = absl::Milliseconds(300);
  options.holder = std::move(holder);
  return options;
}

std::string Rows(const TestDatabase& db, const std::string& table) {
  return db.Query(
      absl::StrCat("SELECT string_agg(convert_from(key, 'UTF8') || '=' ||"
                   " convert_from(value, 'UTF8'), ',' ORDER BY key) FROM cascade.",
                   table));
}

// Opens a store on `url`, retrying while another holds the lease, up to
// `limit`.
absl::StatusOr<std::unique_ptr<Store>> TakeOver(const std::string& url,
                                                const PostgresStoreOptions& options,
                                                absl::Duration limit) {
  const absl::Time deadline = absl::Now() + limit;
  for (;;) {
    absl::StatusOr<std::unique_ptr<Store>> store = OpenPostgresStore(url, options);
    if (store.ok() || !absl::IsUnavailable(store.status()) || absl::Now() > deadline) return store;
    absl::SleepFor(absl::Milliseconds(100));
  }
}

TEST(PostgresLeaseTest, OneStoreLeadsAndASecondOpenIsAStandbyUntilTheFirstCloses) {
  TestDatabase db;
  absl::StatusOr<std::unique_ptr<Store>> first = OpenPostgresStore(db.url(), Short("first"));
  ASSERT_THAT(first.status(), IsOk());
  std::optional<LeaderStatus> lease = (*first)->Lease();
  ASSERT_TRUE(lease.has_value());
  EXPECT_TRUE(lease->leader);
  EXPECT_EQ(lease->epoch, 1u);
  EXPECT_EQ(lease->holder, "first");
  ASSERT_THAT((*first)->Commit({Change::Put(Table::kJobs, "a", "1")}), IsOk());

  absl::StatusOr<std::unique_ptr<Store>> second = OpenPostgresStore(db.url(), Short("second"));
  EXPECT_THAT(second.status(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("held by \"first\" (epoch 1)")));
  // The renewal keeps it: still refused after several lease lengths.
  absl::SleepFor(absl::Milliseconds(3500));
  EXPECT_TRUE((*first)->Lease()->leader);
  EXPECT_THAT(OpenPostgresStore(db.url(), Short("second")).status(),
              StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_THAT((*first)->Commit({Change::Put(Table::kJobs, "b", "2")}), IsOk());

  // Close gives the lease up: the next open takes it at once, with the
  // next epoch, and reads what the first committed.
  ASSERT_THAT((*first)->Close(), IsOk());
  EXPECT_FALSE((*first)->Lease()->leader);
  second = OpenPostgresStore(db.url(), Short("second"));
  ASSERT_THAT(second.status(), IsOk());
  EXPECT_EQ((*second)->Lease()->epoch, 2u);
  EXPECT_EQ(db.Query("SELECT holder || ' ' || epoch FROM cascade.leader"), "second 2");
  EXPECT_EQ(Rows(db, "jobs"), "a=1,b=2");
}

TEST(PostgresLeaseTest, AStandbyTakesOverWhenTheLeasesRenewalsStop) {
  TestDatabase db;
  std::atomic<bool> renew{true};
  PostgresStoreSeams seams;
  seams.renew = [&] { return renew.load(); };
  absl::StatusOr<std::unique_ptr<Store>> old = OpenPostgresStore(db.url(), Short("old"), seams);
  ASSERT_THAT(old.status(), IsOk());
  renew = false;  // as if paused or cut off from the database
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<Store>> next =
      TakeOver(db.url(), Short("next"), absl::Seconds(10));
  ASSERT_THAT(next.status(), IsOk());
  // Not before the lease (1.5 s) lapsed on PostgreSQL's clock.
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(1000));
  EXPECT_EQ((*next)->Lease()->epoch, 2u);
  // The old store knows by its own clock that it no longer leads.
  EXPECT_FALSE((*old)->Lease()->leader);
  EXPECT_THAT((*old)->Commit({Change::Put(Table::kJobs, "x", "old")}),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("lost the leader lease")));
  EXPECT_EQ(Rows(db, "jobs"), "");
}

TEST(PostgresLeaseTest, ConnectionsCutWhileIdleAreMadeAgainAndTheLeaseIsKept) {
  TestDatabase db;
  absl::StatusOr<std::unique_ptr<Store>> store = OpenPostgresStore(db.url(), Short("leader"));
  ASSERT_THAT(store.status(), IsOk());
  ASSERT_THAT((*store)->Commit({Change::Put(Table::kJobs, "a", "1")}), IsOk());
  // As a PostgreSQL restart (or a failover to another host of the URL) does
  // to every connection: this store's, on this test's database only (the
  // server is shared with the other tests).
  EXPECT_EQ(db.Query("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                     " WHERE application_name = 'cascade' AND datname = current_database()"),
            "2");
  // The commit's BEGIN finds its connection gone: nothing of it reached the
  // server, so it is carried on a new one, under the same fence.
  ASSERT_THAT((*store)->Commit({Change::Put(Table::kJobs, "b", "2")}), IsOk());
  // The renewals go on too: still the leader several leases later.
  absl::SleepFor(absl::Milliseconds(3500));
  EXPECT_TRUE((*store)->Lease()->leader);
  ASSERT_THAT((*store)->Commit({Change::Put(Table::kJobs, "c", "3")}), IsOk());
  EXPECT_EQ(Rows(db, "jobs"), "a=1,b=2,c=3");
  EXPECT_EQ(db.Query("SELECT epoch FROM cascade.leader"), "1");
}

// The fence itself, without the old store's own clock to save it: the old
// store's commit is held at the start of its transaction while its lease
// lapses and another store takes over and commits; then it goes on. The
// epoch check refuses it. The same run with the `unfenced` seam shows what
// the check prevents: the old store's write lands over the new leader's.
void RunPausedCommit(bool unfenced, absl::Status& old_commit, std::string& rows,
                     const TestDatabase& db) {
  std::atomic<bool> renew{true};
  std::atomic<int> commits{0};
  std::atomic<bool> release{false};
  PostgresStoreSeams seams;
  seams.renew = [&] { return renew.load(); };
  seams.unfenced = unfenced;
  seams.before_commit = [&] {
    if (commits.fetch_add(1) == 1) {  // the second commit: the stale one
      while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  };
  PostgresStoreOptions options = Short("old");
  options.lease = absl::Seconds(60);  // its own clock must not notice
  options.renew_every = absl::Seconds(1);
  absl::StatusOr<std::unique_ptr<Store>> old = OpenPostgresStore(db.url(), options, seams);
  ASSERT_THAT(old.status(), IsOk());
  ASSERT_THAT((*old)->Commit({Change::Put(Table::kJobs, "job", "queued")}), IsOk());
  renew = false;
  std::thread stale(
      [&] { old_commit = (*old)->Commit({Change::Put(Table::kJobs, "job", "stale-finish")}); });
  // Lapse the lease on PostgreSQL's clock, as time passing would.
  db.Query("UPDATE cascade.leader SET expires_at = clock_timestamp() - interval '1 s'");
  absl::StatusOr<std::unique_ptr<Store>> next =
      OpenPostgresStore(db.url(), Short("next"), PostgresStoreSeams());
  ASSERT_THAT(next.status(), IsOk());
  ASSERT_THAT((*next)->Commit({Change::Put(Table::kJobs, "job", "cancelled")}), IsOk());
  release = true;
  stale.join();
  rows = Rows(db, "jobs");
  (*old)->Close().IgnoreError();
}

TEST(PostgresLeaseTest, AStoreThatLostTheLeaseCommitsNothingMore) {
  TestDatabase db;
  absl::Status old_commit;
  std::string rows;
  RunPausedCommit(/*unfenced=*/false, old_commit, rows, db);
  EXPECT_THAT(old_commit, StatusIs(absl::StatusCode::kUnavailable,
                                   HasSubstr("another server took over with epoch 2")));
  EXPECT_EQ(rows, "job=cancelled");
}

TEST(PostgresLeaseTest, WithoutTheEpochCheckTheStaleLeaderWouldOverwriteTheNewOne) {
  TestDatabase db;
  absl::Status old_commit;
  std::string rows;
  RunPausedCommit(/*unfenced=*/true, old_commit, rows, db);
  // What fencing prevents: acknowledged, and over the new leader's row.
  EXPECT_THAT(old_commit, IsOk());
  EXPECT_EQ(rows, "job=stale-finish");
}

// An old leader's commit stalled in a statement: its fence (the leader row
// FOR SHARE), then a statement PostgreSQL waits for the client to finish
// (here a COPY whose data never comes; a leader paused half-way through
// sending a commit's large INSERT leaves its session the same). PostgreSQL's
// idle-in-transaction timeout does not end it, short as it is here: the
// session is not idle but in a statement. Ends when destroyed.
class StalledCommit {
 public:
  explicit StalledCommit(const std::string& url) : conn_(PQconnectdb(url.c_str())) {}
  ~StalledCommit() { PQfinish(conn_); }
  StalledCommit(const StalledCommit&) = delete;
  StalledCommit& operator=(const StalledCommit&) = delete;

  absl::Status Start() {
    if (PQstatus(conn_) != CONNECTION_OK) return absl::InternalError(PQerrorMessage(conn_));
    for (const char* sql : {"SET idle_in_transaction_session_timeout = 100", "BEGIN",
                            "SELECT epoch FROM cascade.leader WHERE id = 1 FOR SHARE",
                            "COPY cascade.jobs (key, value) FROM STDIN"}) {
      PGresult* result = PQexec(conn_, sql);
      const ExecStatusType status = PQresultStatus(result);
      PQclear(result);
      if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && status != PGRES_COPY_IN) {
        return absl::InternalError(absl::StrCat(sql, ": ", PQerrorMessage(conn_)));
      }
    }
    return absl::OkStatus();
  }
  int pid() const { return PQbackendPID(conn_); }

 private:
  PGconn* conn_;
};

// "1" while the session `pid` is connected to `db`, "0" once it is gone.
std::string Connected(const TestDatabase& db, int pid) {
  return db.Query(absl::StrCat("SELECT count(*) FROM pg_stat_activity WHERE pid = ", pid));
}

// Ends the session `pid` if it is still there after `limit`, so that a
// takeover that would wait on it forever fails its test instead.
class Watchdog {
 public:
  Watchdog(const TestDatabase& db, int pid, absl::Duration limit)
      : thread_([this, &db, pid, limit] {
          const absl::Time deadline = absl::Now() + limit;
          while (!done_.load() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
          if (!done_.load()) db.Query(absl::StrCat("SELECT pg_terminate_backend(", pid, ")"));
        }) {}
  ~Watchdog() {
    done_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// The lease lapsed (Close gave it up), and the schema exists.
void LeadAndClose(const TestDatabase& db) {
  absl::StatusOr<std::unique_ptr<Store>> first = OpenPostgresStore(db.url(), Short("first"));
  ASSERT_THAT(first.status(), IsOk());
  ASSERT_THAT((*first)->Commit({Change::Put(Table::kJobs, "a", "1")}), IsOk());
  ASSERT_THAT((*first)->Close(), IsOk());
}

TEST(PostgresLeaseTest, ATakeoverEndsAnOldLeadersCommitStalledInAStatement) {
  TestDatabase db;
  LeadAndClose(db);
  StalledCommit stalled(db.url());
  ASSERT_THAT(stalled.Start(), IsOk());
  absl::SleepFor(absl::Milliseconds(300));  // thrice the idle timeout: still there
  ASSERT_EQ(Connected(db, stalled.pid()), "1");

  // Renewals far apart: the lease the takeover writes counts from before
  // its wait, and would lapse before the first of them (2 s after the
  // UPDATE was sent, the renewal 1 + 1.5 s after) if the takeover did not
  // renew it at once.
  PostgresStoreOptions options = Short("next");
  options.lease = absl::Seconds(2);
  options.renew_every = absl::Milliseconds(1500);
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<Store>> next;
  {
    Watchdog watchdog(db, stalled.pid(), absl::Seconds(20));
    next = OpenPostgresStore(db.url(), options);
  }
  const absl::Duration waited = absl::Now() - start;
  ASSERT_THAT(next.status(), IsOk());
  EXPECT_EQ((*next)->Lease()->epoch, 2u);
  // Half a lease (1 s) for the stalled commit to end by itself, then it is
  // ended: well before the watchdog's 20 s.
  EXPECT_GE(waited, absl::Milliseconds(950));
  EXPECT_LT(waited, absl::Seconds(5));
  EXPECT_EQ(Connected(db, stalled.pid()), "0");
  EXPECT_EQ(db.Query("SELECT holder || ' ' || epoch FROM cascade.leader"), "next 2");
  absl::SleepFor(absl::Milliseconds(2500));
  EXPECT_TRUE((*next)->Lease()->leader);
  ASSERT_THAT((*next)->Commit({Change::Put(Table::kJobs, "b", "2")}), IsOk());
  EXPECT_EQ(Rows(db, "jobs"), "a=1,b=2");
}

TEST(PostgresLeaseTest, AStalledCommitThatCannotBeEndedKeepsTheTakeoverBackAndItSaysWhy) {
  TestDatabase db;
  LeadAndClose(db);
  // The standby's role may use the tables but not end the superuser's
  // sessions.
  db.Query(
      "GRANT USAGE ON SCHEMA cascade TO cascade_pw;"
      " GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA cascade TO cascade_pw");
  const std::string url = WithCredentials(db.url(), "cascade_pw", "cascade-test-password");
  auto stalled = std::make_unique<StalledCommit>(db.url());  // the superuser's
  ASSERT_THAT(stalled->Start(), IsOk());
  const int pid = stalled->pid();
  {
    Watchdog watchdog(db, pid, absl::Seconds(20));
    EXPECT_THAT(OpenPostgresStore(url, Short("next")).status(),
                StatusIs(absl::StatusCode::kUnavailable,
                         AllOf(HasSubstr("the leader lease lapsed, but a transaction still holds "
                                         "its row after "),
                               HasSubstr("(ending it: "), HasSubstr("terminate"),
                               HasSubstr("waits as a standby"))));
  }
  // The attempt changed nothing: its UPDATE was cancelled, not left waiting
  // to take the lease for a connection that is gone.
  EXPECT_EQ(Connected(db, pid), "1");
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(db.Query("SELECT holder || ' ' || epoch FROM cascade.leader"), "first 1");
  EXPECT_EQ(db.Query("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                     " AND wait_event_type = 'Lock'"),
            "0");
  // Once the stalled session ends, the standby takes over.
  stalled.reset();
  absl::StatusOr<std::unique_ptr<Store>> next = OpenPostgresStore(url, Short("next"));
  ASSERT_THAT(next.status(), IsOk());
  EXPECT_EQ((*next)->Lease()->epoch, 2u);
}

}  // namespace
}  // namespace cascade::internal
