// Copyright 2026 The Cascade Authors.
//
// LeaseBook: the leases of rendering jobs and when each is next due (contract
// §7, §14): its expiry, or the end of an abort's grace or of the attempt's
// time limit if that comes first. It
// hears every change of the job model, so a job that stops rendering loses
// its lease and a job asked to abort gets its grace, whatever path changed
// it. The engine's timer asks it what is due.
//
// Thread-safe: its own lock, a leaf (taken after the engine's, never
// before), so the timer thread reads the next due time without the engine's
// lock.

#ifndef CASCADE_ENGINE_LEASE_LEASE_BOOK_H_
#define CASCADE_ENGINE_LEASE_LEASE_BOOK_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "engine/model/job_model.h"

namespace cascade::internal {

struct Lease {
  uint64_t token = 0;
  int64_t expires_ms = 0;
  int64_t length_ms = 0;                     // what the claim granted
  int64_t abort_deadline_ms = kUnsetMillis;  // set when an abort is asked for
  int64_t time_limit_ms = kUnsetMillis;      // when the attempt times out, if it can
  // The worker that holds it: the worker registry's view of its name, empty
  // for a claim without one.
  std::string_view worker;
  // Once an abort is asked for, its grace decides and the time limit no
  // longer applies.
  int64_t due_ms() const {
    const int64_t limit = abort_deadline_ms != kUnsetMillis ? abort_deadline_ms : time_limit_ms;
    return limit == kUnsetMillis ? expires_ms : std::min(expires_ms, limit);
  }
  // What ends the attempt at due_ms(): its time limit, or the lease's end
  // (an expiry, or an abort's grace: the machine tells them apart).
  JobEvent due_event() const {
    return abort_deadline_ms == kUnsetMillis && time_limit_ms != kUnsetMillis &&
                   time_limit_ms <= expires_ms
               ? JobEvent::kTimedOut
               : JobEvent::kLeaseExpired;
  }
};

// A lease token's text: 16 hex digits.
std::string LeaseTokenText(uint64_t token);
// The token of `text`, or nullopt if it is not 16 hex digits.
std::optional<uint64_t> ParseLeaseToken(std::string_view text);

class LeaseBook final : public ModelListener {
 public:
  // `track_changes`: remember which leases changed, for TakeChanged (only a
  // journaling engine asks). `wake(due_ms)` is called, with the book's lock released (the engine's
  // may be held), when a lease becomes due earlier than any other; `seed`
  // feeds the tokens.
  LeaseBook(absl::Duration abort_grace, uint64_t seed, bool track_changes,
            std::function<void(int64_t)> wake);

  // Grants `worker` a lease of `length_ms` on a job just claimed, whose
  // attempt times out after `time_limit_ms` (0: never).
  Lease Grant(uint32_t slot, int64_t now_ms, int64_t length_ms, int64_t time_limit_ms = 0,
              std::string_view worker = {}) ABSL_LOCKS_EXCLUDED(mu_);
  // Renews the lease from `now_ms` for `length_ms`, or for the length its
  // claim granted. REQUIRES: `slot` has a lease.
  Lease Extend(uint32_t slot, int64_t now_ms, std::optional<int64_t> length_ms = std::nullopt)
      ABSL_LOCKS_EXCLUDED(mu_);
  std::optional<Lease> Find(uint32_t slot) const ABSL_LOCKS_EXCLUDED(mu_);
  // Whether `slot`'s lease is the one `token` names.
  bool Holds(uint32_t slot, uint64_t token) const ABSL_LOCKS_EXCLUDED(mu_);
  // The worker holding `slot`'s lease if `token` names it; nullopt if not.
  std::optional<std::string_view> Holder(uint32_t slot, uint64_t token) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Calls `visit(slot, worker)` for every lease, in no order.
  void ForEachHolder(const std::function<void(uint32_t, std::string_view)>& visit) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Whether `token` was `slot`'s lease when its attempt timed out, and would
  // not have expired yet: its worker is told to stop (contract §14).
  bool TimedOut(uint32_t slot, uint64_t token) const ABSL_LOCKS_EXCLUDED(mu_);
  // Forgets the timed-out leases that would have expired by `now_ms`.
  void ForgetTimedOut(int64_t now_ms) ABSL_LOCKS_EXCLUDED(mu_);
  // The slot a token was issued for. Only a hint: a caller compares the
  // whole token with the lease of the job it names.
  uint32_t SlotHint(uint64_t token) const { return static_cast<uint32_t>(token) ^ slot_key_; }

  // The job whose lease is due first, if it is due at `now_ms`, and the event
  // that ends its attempt.
  struct Due {
    uint32_t slot;
    JobEvent event;
  };
  std::optional<Due> NextDue(int64_t now_ms) const ABSL_LOCKS_EXCLUDED(mu_);
  // When the next lease is due; nullopt if none.
  std::optional<int64_t> next_due_ms() const ABSL_LOCKS_EXCLUDED(mu_);

  // Recovery: a lease as the journal holds it.
  void Restore(uint32_t slot, const Lease& lease) ABSL_LOCKS_EXCLUDED(mu_);
  // The jobs whose lease was set or dropped since the last call (their
  // journal rows).
  std::vector<uint32_t> TakeChanged() ABSL_LOCKS_EXCLUDED(mu_);
  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);

  // A job that stops rendering loses its lease (kept as timed out if its
  // time limit ended it); one that starts aborting gets the abort's grace.
  void OnTransition(const JobChange& change) override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Installs `lease`, keeping deadlines_ in step; the due time to wake the
  // timer for, if it is now the first.
  std::optional<int64_t> Put(uint32_t slot, const Lease& lease) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Wake(std::optional<int64_t> due_ms) const {
    if (due_ms) wake_(*due_ms);
  }

  const int64_t abort_grace_ms_;
  const bool track_changes_;
  const std::function<void(int64_t)> wake_;
  // Masks the slot half of tokens (so they do not read as a job count).
  const uint32_t slot_key_;
  std::atomic<uint64_t> random_state_;
  mutable Mutex mu_;
  absl::flat_hash_map<uint32_t, Lease> leases_ ABSL_GUARDED_BY(mu_);
  absl::btree_set<std::pair<int64_t, uint32_t>> deadlines_ ABSL_GUARDED_BY(mu_);
  std::vector<uint32_t> changed_ ABSL_GUARDED_BY(mu_);
  // Token -> (slot, when the lease would have expired) of attempts ended by
  // their time limit.
  absl::flat_hash_map<uint64_t, std::pair<uint32_t, int64_t>> timed_out_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_LEASE_LEASE_BOOK_H_
