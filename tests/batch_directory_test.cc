// Copyright 2026 The Cascade Authors.
//
// BatchDirectory (SPEC §5): one writer inserting batches and moving their
// counts, and lock-free readers that must always see whole records and
// consistent aggregates, also while the table is copied into a larger one.

#include "engine/index/batch_directory.h"

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "cascade/batch.h"
#include "cascade/ids.h"
#include "cascade/job.h"
#include "gtest/gtest.h"

namespace cascade::internal {
namespace {

using Counts = std::array<int, kNumJobStates>;

int& At(Counts& c, JobState s) { return c[static_cast<int>(s)]; }

std::unique_ptr<BatchRecord> MakeBatch(BatchId id, std::string team, int queued) {
  auto record = std::make_unique<BatchRecord>(id, std::move(team));
  for (int i = 0; i < queued; ++i) record->Add(JobState::kQueued);
  return record;
}

TEST(BatchDirectoryTest, FindsWhatWasInsertedAndNothingElse) {
  BatchDirectory dir;
  IdGenerator ids(1);
  const BatchId a = ids.Next(absl::FromUnixSeconds(1'700'000'000));
  const BatchId b = ids.Next(absl::FromUnixSeconds(1'700'000'000));
  const BatchId never = ids.Next(absl::FromUnixSeconds(1'700'000'000));
  EXPECT_EQ(dir.next_number(), BatchNo{0});
  EXPECT_EQ(dir.Insert(MakeBatch(a, "team-a", 3)), BatchNo{0});
  EXPECT_EQ(dir.Insert(MakeBatch(b, "team-b", 1)), BatchNo{1});
  EXPECT_EQ(dir.size(), 2u);
  EXPECT_EQ(dir.id_of(BatchNo{1}), b);
  EXPECT_EQ(&dir.at(BatchNo{0}), dir.Find(a));
  ASSERT_NE(dir.Find(b), nullptr);
  EXPECT_EQ(dir.Find(b)->team_name(), "team-b");
  EXPECT_EQ(dir.Find(never), nullptr);
  EXPECT_EQ(dir.Find(BatchId()), nullptr);
}

TEST(BatchDirectoryTest, MovesKeepTheTotalAndAPurgedBatchIsNotFound) {
  BatchDirectory dir;
  const BatchId id(0x0123456789ABCDEFull, 42);
  dir.Insert(MakeBatch(id, "team-a", 4));
  BatchRecord& batch = dir.at(BatchNo{0});
  batch.Move(JobState::kQueued, JobState::kRendering);
  batch.Move(JobState::kQueued, JobState::kRendering);
  batch.Move(JobState::kRendering, JobState::kFinished);
  batch.Move(JobState::kQueued, JobState::kCancelled);
  const BatchCounts counts = dir.Find(id)->Snapshot();
  EXPECT_EQ(counts.total, 4);
  EXPECT_EQ(counts.count(JobState::kQueued), 1);
  EXPECT_EQ(counts.count(JobState::kRendering), 1);
  EXPECT_EQ(counts.count(JobState::kFinished), 1);
  EXPECT_EQ(counts.count(JobState::kCancelled), 1);
  EXPECT_EQ(counts.count(JobState::kPending), 0);
  EXPECT_EQ(counts.count(JobState::kError), 0);
  batch.MarkPurged();
  EXPECT_EQ(dir.Find(id), nullptr);
  EXPECT_TRUE(dir.at(BatchNo{0}).purged()) << "the record itself stays for readers holding it";
}

TEST(BatchDirectoryTest, ABatchOfAThousandJobsFitsItsCounters) {
  BatchDirectory dir;
  const BatchId id(1, 1);
  dir.Insert(MakeBatch(id, "team-a", static_cast<int>(kMaxBatchJobs)));
  for (size_t i = 0; i < kMaxBatchJobs; ++i) {
    dir.at(BatchNo{0}).Move(JobState::kQueued, JobState::kFinished);
  }
  const BatchCounts counts = dir.Find(id)->Snapshot();
  EXPECT_EQ(counts.total, static_cast<int>(kMaxBatchJobs));
  EXPECT_EQ(counts.finished(), static_cast<int>(kMaxBatchJobs));
  EXPECT_EQ(counts.count(JobState::kQueued), 0);
}

// The concurrent test's batches: some share one hash (long probe chains
// across every copy of the table), the rest are a generator's ids.
struct Fixture {
  static constexpr int kBatches = 3000;  // the table grows 16 -> 8192
  static constexpr int kColliding = 64;  // one hash for all of them
  static constexpr int kNeverInserted = 50;

  Fixture() {
    IdGenerator gen(7);
    for (int i = 0; i < kBatches + kNeverInserted; ++i) {
      if (i < kColliding) {
        // Hash = lo ^ (hi >> 16): equal for all of these.
        ids.emplace_back((uint64_t{0xABCD} << 16) | static_cast<uint64_t>(i), 0x5555);
      } else {
        ids.push_back(gen.Next(absl::FromUnixMillis(1'700'000'000'000 + i / 3)));
      }
    }
  }
  static int Total(int i) { return 1 + (i % 10) * 37; }  // 1..334 jobs
  static std::string Team(int i) { return "team-" + std::to_string(i % 5); }

  std::vector<BatchId> ids;
};

// What a reader found wrong in one round.
struct ReaderFindings {
  int missing = 0;               // a published batch was not found
  int wrong_record = 0;          // a found record had another id or team
  int wrong_total = 0;           // a snapshot did not sum to the batch's jobs
  int bad_count = 0;             // a state's count out of [0, total]
  int finished_went_back = 0;    // a later snapshot had fewer finished jobs
  int found_never_inserted = 0;  // an id never inserted was found
  int64_t reads = 0;
};

// One round: a fresh directory, a reader thread checking Find and Snapshot
// in a loop, and this thread inserting every batch of `f` and moving jobs of
// the newest ones (queued -> rendering -> finished, or back to queued).
// Returns the writer's final counts; `findings` gets the reader's.
std::vector<Counts> RunRound(const Fixture& f, uint64_t seed, BatchDirectory& dir,
                             ReaderFindings& findings) {
  constexpr int kHot = 8;         // the newest batches, where the moves happen
  std::atomic<int> published{0};  // batches [0, published) are in the directory
  std::atomic<int64_t> reads{0};
  std::atomic<bool> writer_done{false};

  std::thread reader([&] {
    std::mt19937_64 rng(seed + 1);
    std::vector<int> last_finished(Fixture::kBatches, 0);
    auto check_once = [&] {
      const int n = published.load(std::memory_order_acquire);
      if (n > 0) {
        // Half the reads on the batches being moved, half on any.
        const uint64_t r = rng();
        const int i = r % 2 == 0 ? n - 1 - static_cast<int>((r >> 1) % std::min(n, kHot))
                                 : static_cast<int>((r >> 1) % n);
        const BatchRecord* record = dir.Find(f.ids[i]);
        if (record == nullptr) {
          ++findings.missing;
        } else {
          if (record->id() != f.ids[i] || record->team_name() != Fixture::Team(i)) {
            ++findings.wrong_record;
          }
          const BatchCounts c = record->Snapshot();
          int sum = 0;
          for (int s = 0; s < kNumJobStates; ++s) {
            if (c.by_state[s] < 0 || c.by_state[s] > Fixture::Total(i)) ++findings.bad_count;
            sum += c.by_state[s];
          }
          if (sum != c.total || c.total != Fixture::Total(i)) ++findings.wrong_total;
          // Jobs only move into finished: a later snapshot never has fewer.
          if (c.finished() < last_finished[i]) ++findings.finished_went_back;
          last_finished[i] = c.finished();
        }
      }
      const int never = Fixture::kBatches + static_cast<int>(rng() % Fixture::kNeverInserted);
      if (dir.Find(f.ids[never]) != nullptr) ++findings.found_never_inserted;
      reads.fetch_add(1, std::memory_order_release);
    };
    while (!writer_done.load(std::memory_order_acquire)) check_once();
    for (int k = 0; k < 1000; ++k) check_once();  // and a few after the last write
    findings.reads = reads.load();
  });

  std::vector<Counts> expected(Fixture::kBatches, Counts{});
  std::mt19937_64 rng(seed);
  int64_t reads_seen = 0;
  for (int i = 0; i < Fixture::kBatches; ++i) {
    // Every few batches, let the reader catch up, so that it reads while the
    // table grows even on a busy machine.
    if (i % 64 == 0) {
      while (reads.load(std::memory_order_acquire) == reads_seen) std::this_thread::yield();
      reads_seen = reads.load(std::memory_order_acquire);
    }
    At(expected[i], JobState::kQueued) = Fixture::Total(i);
    const BatchNo number = dir.Insert(MakeBatch(f.ids[i], Fixture::Team(i), Fixture::Total(i)));
    EXPECT_EQ(number, BatchNo{static_cast<uint32_t>(i)});
    published.store(i + 1, std::memory_order_release);
    for (int m = 0; m < 8; ++m) {
      const int j = i - static_cast<int>(rng() % std::min(i + 1, kHot));
      Counts& c = expected[j];
      BatchRecord& batch = dir.at(BatchNo{static_cast<uint32_t>(j)});
      switch (rng() % 4) {
        case 0:
        case 1:
          if (At(c, JobState::kQueued) > 0) {
            batch.Move(JobState::kQueued, JobState::kRendering);
            --At(c, JobState::kQueued), ++At(c, JobState::kRendering);
          }
          break;
        case 2:
          if (At(c, JobState::kRendering) > 0) {
            batch.Move(JobState::kRendering, JobState::kFinished);
            --At(c, JobState::kRendering), ++At(c, JobState::kFinished);
          }
          break;
        case 3:
          if (At(c, JobState::kRendering) > 0) {
            batch.Move(JobState::kRendering, JobState::kQueued);
            --At(c, JobState::kRendering), ++At(c, JobState::kQueued);
          }
          break;
      }
    }
  }
  writer_done.store(true, std::memory_order_release);
  reader.join();
  return expected;
}

TEST(BatchDirectoryTest, ConcurrentReaderNeverSeesATornBatchOrAnInconsistentSnapshot) {
  const Fixture f;
  constexpr int kRounds = 4;  // each grows a fresh table 16 -> 8192
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    BatchDirectory dir;
    ReaderFindings found;
    const std::vector<Counts> expected = RunRound(f, 100 + round, dir, found);

    EXPECT_EQ(found.missing, 0) << "a published batch was not found";
    EXPECT_EQ(found.wrong_record, 0) << "a found batch had another id or team";
    EXPECT_EQ(found.wrong_total, 0) << "a snapshot's counts did not sum to the batch's jobs";
    EXPECT_EQ(found.bad_count, 0);
    EXPECT_EQ(found.finished_went_back, 0);
    EXPECT_EQ(found.found_never_inserted, 0);
    EXPECT_GE(found.reads, Fixture::kBatches / 64);

    // Afterwards every batch is found, with exactly the writer's counts.
    ASSERT_EQ(dir.size(), static_cast<size_t>(Fixture::kBatches));
    for (int i = 0; i < Fixture::kBatches; ++i) {
      const BatchRecord* r = dir.Find(f.ids[i]);
      ASSERT_NE(r, nullptr) << i;
      EXPECT_EQ(r, &dir.at(BatchNo{static_cast<uint32_t>(i)}));
      EXPECT_EQ(dir.id_of(BatchNo{static_cast<uint32_t>(i)}), f.ids[i]);
      EXPECT_EQ(r->Snapshot().by_state, expected[i]) << "batch " << i;
    }
  }
}

}  // namespace
}  // namespace cascade::internal
