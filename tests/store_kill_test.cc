// Copyright 2026 The Cascade Authors.
//
// kill -9 at the store level (the engine-level kill test comes with recovery).
// Each cycle forks a child that opens the store on one shared directory and
// appends numbered groups forever from 4 threads; after each WaitDurable
// returns, the thread writes (cycle, thread, seq) to a pipe. The parent kills
// the child with SIGKILL at a random moment (a quarter of the cycles count
// from the fork, so some kills land in the middle of an open or of the
// database's creation; the others from the child's first acknowledgement),
// reads every acknowledgement the child managed to send, reopens the
// directory and checks the whole history so far:
//   - every acknowledged group is there;
//   - every group that is there is whole (a group of n job rows has all n);
//   - each thread's groups are a prefix 0..k of its sequence (groups commit in
//     ticket order, and a thread appends its next group only after its last
//     one was acknowledged), and the rows each group updates or deletes agree
//     with k: the thread's head row says k, and of the temporary rows (each
//     group puts its own and deletes its predecessor's) only k's is left.
// While the child runs, the parent also checks that it cannot open the same
// directory (another process holds the lock).
//
// Seeded: CASCADE_STORE_KILL_SEED (default 20260417) and
// CASCADE_STORE_KILL_CYCLES (default 24) override; the seed is printed.
// Three cycles in four use synchronous NORMAL, one FULL (a process kill does
// not tell them apart; both are exercised).

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "engine/store/sqlite_store.h"
#include "engine/store/store.h"
#include "engine/util/strings.h"
#include "tests/kill_harness.h"
#include "tests/testutil.h"

namespace cascade::internal {
namespace {

namespace fs = std::filesystem;
using ::cascade::testing::IsOk;
using ::cascade::testing::StatusIs;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

constexpr int kChildThreads = 4;

struct Ack {
  uint32_t cycle;
  uint32_t thread;
  uint64_t seq;
};
static_assert(sizeof(Ack) == 16);

// (cycle, thread): one appender's history.
using Appender = std::pair<uint32_t, uint32_t>;

std::string JobKey(uint32_t cycle, uint32_t thread, uint64_t seq, int part) {
  return absl::StrFormat("g/%04u/%u/%010u/%d", cycle, thread, seq, part);
}
std::string HeadKey(uint32_t cycle, uint32_t thread) {
  return absl::StrFormat("head/%04u/%u", cycle, thread);
}
std::string TmpKey(uint32_t cycle, uint32_t thread, uint64_t seq) {
  return absl::StrFormat("tmp/%04u/%u/%010u", cycle, thread, seq);
}

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  uint64_t parsed;
  if (value != nullptr && absl::SimpleAtoi(value, &parsed)) return parsed;
  return fallback;
}

[[noreturn]] void Die(int code, const std::string& what) {
  std::fprintf(stderr, "store_kill_test child: %s\n", what.c_str());
  _exit(code);
}

// The child: appends groups from kChildThreads threads until it is killed.
[[noreturn]] void RunChild(const std::string& dir, uint32_t cycle, SqliteStoreOptions::Sync sync,
                           int ack_fd) {
  SqliteStoreOptions options;
  options.synchronous = sync;
  absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(dir, options);
  if (!store.ok()) Die(3, store.status().ToString());
  std::vector<std::thread> threads;
  for (uint32_t t = 0; t < kChildThreads; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t seq = 0;; ++seq) {
        const int parts = 1 + static_cast<int>(seq % 3);
        std::vector<Change> group;
        for (int p = 0; p < parts; ++p) {
          group.push_back(Change::Put(Table::kJobs, JobKey(cycle, t, seq, p),
                                      absl::StrCat(parts, ";", std::string(120, 'j'))));
        }
        group.push_back(Change::Put(Table::kBatches, HeadKey(cycle, t), absl::StrCat(seq)));
        group.push_back(Change::Put(Table::kLeases, TmpKey(cycle, t, seq), "tmp"));
        if (seq > 0) group.push_back(Change::Delete(Table::kLeases, TmpKey(cycle, t, seq - 1)));
        absl::Status status = (*store)->Commit(std::move(group));
        if (!status.ok()) Die(4, status.ToString());
        const Ack ack{cycle, t, seq};
        if (write(ack_fd, &ack, sizeof(ack)) != static_cast<ssize_t>(sizeof(ack))) {
          Die(5, absl::StrCat("write to the pipe: ", std::strerror(errno)));
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();  // never: the threads never end
  _exit(6);
}

// The acknowledgements the child writes (tests/kill_harness.h).
using AckReader = ::cascade::testing::RecordReader<Ack>;

struct Found {
  std::map<Appender, std::map<uint64_t, std::set<int>>> parts;  // seq -> parts present
  std::map<Appender, std::map<uint64_t, int>> declared;         // seq -> parts it should have
};

// Opens the directory and checks every invariant of the file comment against
// `acked` (the highest acknowledged seq of each appender).
void Verify(const std::string& dir, const std::map<Appender, uint64_t>& acked, int cycle) {
  SqliteStoreOptions options;
  options.synchronous = SqliteStoreOptions::Sync::kNormal;
  absl::StatusOr<std::unique_ptr<Store>> opened = OpenSqliteStore(dir, options);
  ASSERT_THAT(opened, IsOk()) << "cycle " << cycle;
  Store& store = **opened;

  Found found;
  ASSERT_THAT(store.Load(Table::kJobs,
                         [&](std::string_view key, std::string_view value) {
                           std::vector<std::string> f = absl::StrSplit(Sv(key), '/');
                           uint32_t c, t;
                           uint64_t seq;
                           int part, declared;
                           std::vector<std::string> v = absl::StrSplit(Sv(value), ';');
                           if (f.size() != 5 || !absl::SimpleAtoi(f[1], &c) ||
                               !absl::SimpleAtoi(f[2], &t) || !absl::SimpleAtoi(f[3], &seq) ||
                               !absl::SimpleAtoi(f[4], &part) ||
                               !absl::SimpleAtoi(v[0], &declared)) {
                             return absl::DataLossError(absl::StrCat("bad row ", Sv(key)));
                           }
                           found.parts[{c, t}][seq].insert(part);
                           found.declared[{c, t}][seq] = declared;
                           return absl::OkStatus();
                         }),
              IsOk());
  std::map<std::string, std::string> heads, tmps;
  ASSERT_THAT(store.Load(Table::kBatches,
                         [&](std::string_view key, std::string_view value) {
                           heads[std::string(key)] = std::string(value);
                           return absl::OkStatus();
                         }),
              IsOk());
  ASSERT_THAT(store.Load(Table::kLeases,
                         [&](std::string_view key, std::string_view) {
                           tmps[std::string(key)] = "";
                           return absl::OkStatus();
                         }),
              IsOk());

  size_t groups = 0;
  std::set<std::string> expected_tmps;
  for (const auto& [appender, seqs] : found.parts) {
    const auto [c, t] = appender;
    // A prefix 0..k, each group whole.
    uint64_t expect = 0;
    for (const auto& [seq, parts] : seqs) {
      ASSERT_EQ(seq, expect) << "cycle " << c << " thread " << t << ": group " << expect
                             << " is missing but a later one is there";
      ++expect;
      const int n = found.declared[appender][seq];
      ASSERT_EQ(parts.size(), static_cast<size_t>(n))
          << "partial group: cycle " << c << " thread " << t << " seq " << seq;
      ASSERT_EQ(*parts.rbegin(), n - 1);
      ++groups;
    }
    const uint64_t last = seqs.rbegin()->first;
    EXPECT_EQ(heads[HeadKey(c, t)], absl::StrCat(last))
        << "head row of cycle " << c << " thread " << t;
    expected_tmps.insert(TmpKey(c, t, last));
  }
  std::set<std::string> actual_tmps;
  for (const auto& [key, unused] : tmps) actual_tmps.insert(key);
  EXPECT_EQ(actual_tmps, expected_tmps) << "each appender keeps exactly its last temporary row";
  EXPECT_EQ(heads.size(), found.parts.size());

  for (const auto& [appender, seq] : acked) {
    auto it = found.parts.find(appender);
    ASSERT_TRUE(it != found.parts.end())
        << "cycle " << appender.first << " thread " << appender.second
        << ": acknowledged groups up to " << seq << " but none is there";
    EXPECT_GE(it->second.rbegin()->first, seq)
        << "cycle " << appender.first << " thread " << appender.second << ": acknowledged group "
        << seq << " is lost";
  }
  ASSERT_THAT(store.Close(), IsOk());
  std::printf("[          ] cycle %d: %zu groups in the file\n", cycle, groups);
}

TEST(StoreKillTest, EveryAcknowledgedGroupSurvivesKillNineAndNoGroupIsPartial) {
  const uint64_t seed = EnvOr("CASCADE_STORE_KILL_SEED", 20260417);
  const int cycles = static_cast<int>(EnvOr("CASCADE_STORE_KILL_CYCLES", 24));
  std::printf("[          ] seed %" PRIu64
              ", %d cycles (CASCADE_STORE_KILL_SEED, "
              "CASCADE_STORE_KILL_CYCLES)\n",
              seed, cycles);
  std::mt19937_64 rng(seed);
  std::string dir_template =
      (fs::path(::testing::TempDir()) / "cascade-store-kill-XXXXXX").string();
  ASSERT_NE(mkdtemp(dir_template.data()), nullptr);
  const std::string dir = dir_template;

  std::map<Appender, uint64_t> acked;
  size_t total_acks = 0;
  int killed_before_any_ack = 0;
  const Clock::time_point start = Clock::now();
  for (int cycle = 0; cycle < cycles; ++cycle) {
    const SqliteStoreOptions::Sync sync =
        cycle % 4 == 3 ? SqliteStoreOptions::Sync::kFull : SqliteStoreOptions::Sync::kNormal;
    const bool from_fork = rng() % 4 == 0;
    const auto delay = std::chrono::milliseconds(from_fork ? rng() % 150 : rng() % 200);

    int fds[2];
    ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      RunChild(dir, static_cast<uint32_t>(cycle), sync, fds[1]);
    }
    close(fds[1]);
    AckReader reader(fds[0]);
    std::vector<Ack> acks;
    Clock::time_point deadline = from_fork ? Clock::now() + delay : Clock::time_point::max();
    const Clock::time_point give_up = Clock::now() + std::chrono::seconds(20);
    bool open = true;
    bool checked_lock = false;
    const Clock::time_point forked = Clock::now();
    double first_ack_ms = -1;
    while (open && Clock::now() < deadline) {
      open = reader.ReadSome(5, &acks);
      if (!acks.empty() && !checked_lock) {
        checked_lock = true;
        first_ack_ms = std::chrono::duration<double, std::milli>(Clock::now() - forked).count();
        if (deadline == Clock::time_point::max()) deadline = Clock::now() + delay;
        // The child holds the directory: another process cannot open it.
        EXPECT_THAT(OpenSqliteStore(dir, {}),
                    StatusIs(absl::StatusCode::kFailedPrecondition,
                             HasSubstr(absl::StrCat("is in use: another Cascade store holds ", dir,
                                                    "/LOCK (it names process ", pid, ")"))));
      }
      if (Clock::now() > give_up) {
        ADD_FAILURE() << "cycle " << cycle << ": no acknowledgement in 20 s";
        break;
      }
    }
    ASSERT_TRUE(open) << "cycle " << cycle << ": the child exited by itself (see its stderr)";
    const std::string reaped = ::cascade::testing::KillAndReap(pid, fds[0], reader, &acks);
    ASSERT_EQ(reaped, "") << "cycle " << cycle;

    for (const Ack& ack : acks) {
      ASSERT_EQ(ack.cycle, static_cast<uint32_t>(cycle));
      uint64_t& high = acked[{ack.cycle, ack.thread}];
      high = std::max(high, ack.seq);
    }
    total_acks += acks.size();
    if (acks.empty()) ++killed_before_any_ack;
    std::printf(
        "[          ] cycle %d (%s, kill %lld ms after %s): %zu acknowledged, the first %.0f ms "
        "after the fork\n",
        cycle, sync == SqliteStoreOptions::Sync::kFull ? "FULL" : "NORMAL",
        static_cast<long long>(delay.count()), from_fork ? "the fork" : "the first acknowledgement",
        acks.size(), first_ack_ms);
    Verify(dir, acked, cycle);
    if (::testing::Test::HasFatalFailure()) break;
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf(
      "[          ] %zu acknowledged groups over %d cycles (%d killed before their "
      "first acknowledgement) in %.1f s\n",
      total_acks, cycles, killed_before_any_ack, seconds);
  EXPECT_GT(total_acks, 0u);
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace cascade::internal
