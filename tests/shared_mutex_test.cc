// Copyright 2026 The Cascade Authors.
//
// The engine's reader/writer lock (engine/util/shared_mutex.h): writers
// exclude everyone, readers share. The guarded values here are plain ints, so
// under ThreadSanitizer (CI's TSan pass) these tests also prove that TSan
// sees the lock's synchronization: without the annotations it would report
// each guarded access as a race and fail the test.

#include "engine/util/shared_mutex.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace cascade::internal {
namespace {

TEST(SharedMutexTest, WritersExcludeEachOther) {
  SharedMutex mu;
  int count = 0;  // guarded by mu
  constexpr int kThreads = 4, kEach = 20'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        WriterLock lock(&mu);
        ++count;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  WriterLock lock(&mu);
  EXPECT_EQ(count, kThreads * kEach);
}

TEST(SharedMutexTest, ReadersNeverSeeAWriteHalfDone) {
  SharedMutex mu;
  int a = 0, b = 0;  // guarded by mu; b == 2 * a outside a write
  std::atomic<bool> done{false};
  std::atomic<int> torn{0}, reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      while (!done.load()) {
        ReaderLock lock(&mu);
        if (b != 2 * a) torn.fetch_add(1);
        reads.fetch_add(1);
      }
    });
  }
  // Writes go on until the readers have read while they went on (writers
  // come first, so the readers may not get in at once), for at most 10 s.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (int i = 1;
       (i <= 20'000 || reads.load() < 1'000) && std::chrono::steady_clock::now() < give_up; ++i) {
    WriterLock lock(&mu);
    a = i;
    std::atomic_signal_fence(std::memory_order_seq_cst);  // keep the two stores apart
    b = 2 * i;
  }
  done.store(true);
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_GE(reads.load(), 1'000);
}

TEST(SharedMutexTest, ReadersHoldItTogether) {
  SharedMutex mu;
  std::atomic<int> holding{0}, saw_the_other{0};
  auto read = [&] {
    ReaderLock lock(&mu);
    holding.fetch_add(1);
    // Each waits, still holding, until the other holds it too (or gives up
    // after 10 s, which fails the test instead of hanging it).
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (holding.load() < 2 && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::yield();
    }
    if (holding.load() == 2) saw_the_other.fetch_add(1);
  };
  std::thread first(read), second(read);
  first.join();
  second.join();
  EXPECT_EQ(saw_the_other.load(), 2);  // each held it while the other did
}

}  // namespace
}  // namespace cascade::internal
