// Copyright 2026 The Cascade Authors.
//
// The engine's reader/writer lock: an absl::Mutex, annotated as a capability
// so ABSL_GUARDED_BY and friends check its use.
//
// Why absl::Mutex: under contention it costs the engine less than the
// writer-preferring pthread rwlock it replaced. A waiter spins briefly before
// it sleeps (an engine call holds the lock for well under a microsecond, so the
// spin often outlasts it), and a running thread may take the lock again before
// a woken sleeper does, so a burst of calls from many threads makes few futex
// round trips. It prefers writers too: a reader that finds a writer waiting
// queues behind it, so a steady stream of gets and lists does not starve
// submits and cancels. Measured on the 2-vCPU VM (the old and the new lock's
// benchmarks alternated, docs/benchmarks.md, "Claim + finish"): the claim +
// finish cycle from 8 threads went from 0.71-0.79x to 1.04-1.10x of one
// thread's rate, from 2 threads from 0.45-0.47x to 0.56-0.69x; one thread's
// cycle, a get, a list, a cancel and a submit as before; durable transitions
// with 64 callers about a fifth less user CPU each. That is with Abseil's debug
// deadlock detection off, as a release build of Abseil has it (Debian's has it
// on: docs/embedding.md, "Threads").
//
// ThreadSanitizer: Debian's Abseil is not built with it, so TSan cannot see
// how absl::Mutex synchronizes (its atomics run in uninstrumented code) and
// would report every guarded access as a race. Under TSan this class tells
// it about each lock and unlock, shared or exclusive, with the mutex
// annotations Abseil itself makes when it is built with TSan
// (sanitizer/tsan_interface.h), so TSan checks the engine's locking as it
// would a pthread lock's. base/mutex.h (std::mutex, which TSan intercepts)
// serves the project's other locks.

#ifndef CASCADE_ENGINE_UTIL_SHARED_MUTEX_H_
#define CASCADE_ENGINE_UTIL_SHARED_MUTEX_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

#if defined(__SANITIZE_THREAD__)
#define CASCADE_SHARED_MUTEX_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CASCADE_SHARED_MUTEX_TSAN 1
#endif
#endif

#ifdef CASCADE_SHARED_MUTEX_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace cascade::internal {

class ABSL_LOCKABLE SharedMutex {
 public:
  SharedMutex() { Tell(kCreate, 0); }
  ~SharedMutex() { Tell(kDestroy, 0); }
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() {
    Tell(kPreLock, 0);
    mu_.Lock();
    Tell(kPostLock, 0);
  }
  void Unlock() ABSL_UNLOCK_FUNCTION() {
    Tell(kPreUnlock, 0);
    mu_.Unlock();
    Tell(kPostUnlock, 0);
  }
  void ReaderLock() ABSL_SHARED_LOCK_FUNCTION() {
    Tell(kPreLock, kShared);
    mu_.ReaderLock();
    Tell(kPostLock, kShared);
  }
  void ReaderUnlock() ABSL_UNLOCK_FUNCTION() {
    Tell(kPreUnlock, kShared);
    mu_.ReaderUnlock();
    Tell(kPostUnlock, kShared);
  }
  // Tell the analysis that the caller holds this lock (exclusively, or at
  // least shared), where it cannot see it: a lambda run under the lock.
  // Check nothing at run time.
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {}
  void AssertReaderHeld() const ABSL_ASSERT_SHARED_LOCK() {}

 private:
  enum Step { kCreate, kDestroy, kPreLock, kPostLock, kPreUnlock, kPostUnlock };
#ifdef CASCADE_SHARED_MUTEX_TSAN
  static constexpr unsigned kShared = __tsan_mutex_read_lock;
  // ThreadSanitizer's view of the lock (a no-op in other builds).
  void Tell(Step step, unsigned flags) {
    switch (step) {
      case kCreate:
        return __tsan_mutex_create(this, 0);
      case kDestroy:
        return __tsan_mutex_destroy(this, 0);
      case kPreLock:
        return __tsan_mutex_pre_lock(this, flags);
      case kPostLock:
        return __tsan_mutex_post_lock(this, flags, 0);
      case kPreUnlock:
        return static_cast<void>(__tsan_mutex_pre_unlock(this, flags));
      case kPostUnlock:
        return __tsan_mutex_post_unlock(this, flags);
    }
  }
#else
  static constexpr unsigned kShared = 0;
  void Tell(Step, unsigned) {}
#endif

  absl::Mutex mu_;
};

// Holds `mu` exclusively for the scope.
class ABSL_SCOPED_LOCKABLE WriterLock {
 public:
  explicit WriterLock(SharedMutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~WriterLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  SharedMutex* const mu_;
};

// Holds `mu` shared for the scope.
class ABSL_SCOPED_LOCKABLE ReaderLock {
 public:
  explicit ReaderLock(SharedMutex* mu) ABSL_SHARED_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->ReaderLock();
  }
  ~ReaderLock() ABSL_UNLOCK_FUNCTION() { mu_->ReaderUnlock(); }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;

 private:
  SharedMutex* const mu_;
};

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_UTIL_SHARED_MUTEX_H_
