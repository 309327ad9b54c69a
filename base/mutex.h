// Copyright 2026 The Cascade Authors.
//
// base/: header-only basics below every library of the project (engine/,
// wire/, server/), so no layer includes another's internals to get them.
//
// The project's exclusive lock and condition variable: std::mutex and
// std::condition_variable, annotated as a capability so ABSL_GUARDED_BY,
// ABSL_EXCLUSIVE_LOCKS_REQUIRED and ABSL_ACQUIRED_AFTER check their use under
// clang's -Wthread-safety (scripts/thread_safety.sh; GCC ignores the
// attributes). The engine's reader/writer lock is engine/util/shared_mutex.h.
//
//   Mutex mu_;
//   CondVar cv_;
//   bool ready_ ABSL_GUARDED_BY(mu_) = false;
//
//   void Set()  { { MutexLock lock(&mu_); ready_ = true; } cv_.SignalAll(); }
//   void Wait() { MutexLock lock(&mu_); while (!ready_) cv_.Wait(&mu_); }
//
// Why not absl::Mutex and absl::CondVar, which are annotated already:
// Debian's Abseil is not built with ThreadSanitizer, so TSan cannot see the
// happens-before edges of its lock: two threads that increment a counter
// under an absl::MutexLock are reported as a data race (measured with Debian
// 12's libabsl-dev 20220623 and GCC 12's -fsanitize=thread), and CI runs
// every suite under TSan. std::mutex is a pthread mutex, which TSan
// intercepts, and costs what the code paid before. The engine's own lock,
// the one contended call after call, is an absl::Mutex that tells TSan of
// each lock and unlock itself (engine/util/shared_mutex.h, which says why);
// a condition variable would need the same, and these locks are held briefly
// and seldom contended.
// Lock order (ABSL_ACQUIRED_AFTER / ABSL_ACQUIRED_BEFORE) needs no help from
// the lock type: clang checks it on any capability, with -Wthread-safety-beta.
// What the analysis checks: within one function body, every guarded access
// and every call to an ABSL_EXCLUSIVE_LOCKS_REQUIRED function happens with the
// lock held, and two locks with a declared order are taken in that order. It
// does not follow locks into callees that are not annotated.

#ifndef CASCADE_BASE_MUTEX_H_
#define CASCADE_BASE_MUTEX_H_

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <utility>

#include "absl/base/thread_annotations.h"

namespace cascade::internal {

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }
  bool TryLock() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true) { return mu_.try_lock(); }

  // Tells the analysis that the caller holds this lock, where it cannot see
  // it (a callback that runs under the lock). Checks nothing at run time:
  // std::mutex does not record its owner.
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {}

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Holds `mu` for the scope. Unlock() and Lock() release and retake it inside
// the scope (around a callback, say); the destructor releases it only if held.
class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() {
    if (held_) mu_->Unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void Unlock() ABSL_UNLOCK_FUNCTION() {
    mu_->Unlock();
    held_ = false;
  }
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() {
    mu_->Lock();
    held_ = true;
  }

 private:
  Mutex* const mu_;
  bool held_ = true;
};

// A condition variable for Mutex: std::condition_variable on the Mutex's
// std::mutex, so no cost over the plain pair. Every wait requires the Mutex
// held, releases it while blocked and holds it again when it returns; as with
// any condition variable a wait may return spuriously, so callers wait in a
// loop on their condition:
//
//   while (!ready_) cv_.Wait(&mu_);
//
// The overloads that take the condition as a predicate call it with `mu`
// held, which the analysis cannot see (it checks function bodies one by one),
// so the predicate must say so itself, or its reads of guarded members warn:
//
//   cv_.Wait(&mu_, [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ready_; });
class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

  void Wait(Mutex* mu) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    Adopted lock(mu);
    cv_.wait(lock.lock);
  }
  // std::cv_status::timeout once `deadline` has passed.
  template <typename Clock, typename Duration>
  std::cv_status WaitUntil(Mutex* mu, const std::chrono::time_point<Clock, Duration>& deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    Adopted lock(mu);
    return cv_.wait_until(lock.lock, deadline);
  }
  template <typename Rep, typename Period>
  std::cv_status WaitFor(Mutex* mu, const std::chrono::duration<Rep, Period>& timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    Adopted lock(mu);
    return cv_.wait_for(lock.lock, timeout);
  }

  // Until done() (called with `mu` held; see above).
  template <typename Predicate>
  void Wait(Mutex* mu, Predicate done)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    while (!done()) Wait(mu);
  }
  // Until done() or `deadline`; returns done().
  template <typename Clock, typename Duration, typename Predicate>
  bool WaitUntil(Mutex* mu, const std::chrono::time_point<Clock, Duration>& deadline,
                 Predicate done) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    Adopted lock(mu);
    return cv_.wait_until(lock.lock, deadline, std::move(done));
  }
  // Until done() or `timeout` has passed; returns done().
  template <typename Rep, typename Period, typename Predicate>
  bool WaitFor(Mutex* mu, const std::chrono::duration<Rep, Period>& timeout, Predicate done)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    Adopted lock(mu);
    return cv_.wait_for(lock.lock, timeout, std::move(done));
  }

 private:
  // The caller's hold on `mu` as the std::unique_lock that std's waits take,
  // given back (still held) when the wait returns, also by an exception.
  struct Adopted {
    explicit Adopted(Mutex* mu) : lock(mu->mu_, std::adopt_lock) {}
    ~Adopted() { lock.release(); }
    std::unique_lock<std::mutex> lock;
  };

  std::condition_variable cv_;
};

}  // namespace cascade::internal

#endif  // CASCADE_BASE_MUTEX_H_
