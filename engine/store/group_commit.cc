// Copyright 2026 The Cascade Authors.

#include "engine/store/group_commit.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace cascade::internal {
namespace {

// Linux futexes on a 32-bit word, without the spinning of std::atomic::wait
// (libstdc++ 12 spins, then calls sched_yield a few times before it sleeps:
// with dozens of waiters on 2 cores that was an eighth of the CPU, measured,
// and gave the cores to whoever else was runnable).
static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
void FutexWait(std::atomic<uint32_t>* word, uint32_t expected) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_PRIVATE, expected, nullptr,
          nullptr, 0);
}
void FutexWake(std::atomic<uint32_t>* word, int n) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE_PRIVATE, n, nullptr, nullptr, 0);
}

// The longest a step waits for more groups (see Gather).
constexpr std::chrono::microseconds kMaxGather{1000};
// How long a step waits for the callers the last one released: this
// fraction of the last step's duration (and at most kMaxGather). It caps the
// latency the wait adds; a closed loop of callers is back well within it.
// Measured with 8 callers on 2 cores: longer waits bought no more sharing.
constexpr double kGatherFraction = 0.5;

std::chrono::steady_clock::duration GatherLimit(std::chrono::steady_clock::duration last) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(last * kGatherFraction);
}

uint64_t Nanos(std::chrono::steady_clock::duration d) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}

}  // namespace

absl::StatusOr<size_t> GroupBytes(const std::vector<Change>& changes) {
  size_t bytes = 0;
  for (size_t i = 0; i < changes.size(); ++i) {
    const Change& c = changes[i];
    if (TableName(c.table).empty()) {
      return absl::InvalidArgumentError(absl::StrCat("Append: change ", i, " names table ",
                                                     static_cast<int>(c.table),
                                                     ", which does not exist"));
    }
    bytes += c.key.size() + (c.value.has_value() ? c.value->size() : 0);
  }
  return bytes;
}

GroupCommitter::GroupCommitter(std::string name, size_t max_commit_bytes, CommitFn commit,
                               Hooks hooks)
    : name_(std::move(name)),
      max_commit_bytes_(max_commit_bytes),
      commit_(std::move(commit)),
      hooks_(std::move(hooks)),
      writer_([this] { WriterLoop(); }),
      syncer_(hooks_.sync ? std::thread([this] { SyncerLoop(); }) : std::thread()) {}

GroupCommitter::~GroupCommitter() { Stop().IgnoreError(); }

absl::StatusOr<uint64_t> GroupCommitter::Append(std::vector<Change> changes) {
  absl::StatusOr<size_t> bytes = GroupBytes(changes);
  if (!bytes.ok()) return bytes.status();
  uint64_t ticket;
  bool wake_writer;
  {
    MutexLock lock(&mu_);
    if (!failure_.ok()) return failure_;
    if (stopping_) return absl::FailedPreconditionError(absl::StrCat(name_, ": store is closed"));
    ticket = last_ticket_.load(std::memory_order_relaxed) + 1;
    last_ticket_.store(ticket, std::memory_order_release);
    queue_.push_back(Group{ticket, *bytes, std::move(changes)});
    ++stats_.groups_appended;
    // Wakes the writer only when it waits for this ticket: a wake-up per
    // Append would cost the writer a thread switch per group while it
    // gathers.
    wake_writer = ticket >= writer_wake_at_;
    if (wake_writer) writer_wake_at_ = kNever;
  }
  if (wake_writer) work_cv_.Signal();
  return ticket;
}

absl::Status GroupCommitter::WaitDurable(uint64_t ticket) {
  const uint64_t last = last_ticket_.load(std::memory_order_acquire);
  if (ticket == 0 || ticket > last) {
    return absl::InvalidArgumentError(
        absl::StrCat("WaitDurable: ticket ", ticket, " was never issued (the last is ", last, ")"));
  }
  for (;;) {
    // The sequence first: a publication after this load moves it, so the
    // futex below returns at once rather than sleep through it.
    const uint32_t seq = durable_seq_.load(std::memory_order_seq_cst);
    const uint64_t state = durable_.load(std::memory_order_seq_cst);
    if ((state & ~kFailedBit) >= ticket) return absl::OkStatus();
    if ((state & kFailedBit) != 0) {
      MutexLock lock(&mu_);
      return failure_;
    }
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    FutexWait(&durable_seq_, seq);
    sleepers_.fetch_sub(1, std::memory_order_seq_cst);
    // The first sleeper the publisher woke wakes the rest. (A counted
    // sleeper that had not slept yet returns at once, and passes it on too.)
    if (pass_on_.exchange(false, std::memory_order_seq_cst)) FutexWake(&durable_seq_, INT_MAX);
  }
}

void GroupCommitter::Fail(absl::Status why) { FailWith(std::move(why)); }

void GroupCommitter::FailWith(absl::Status failure) {
  {
    MutexLock lock(&mu_);
    if (!failure_.ok()) return;
    failure_ = std::move(failure);
    queue_.clear();  // never committed; their waiters get failure_
  }
  // failure_ is set before the bit, so a waiter that sees the bit finds it.
  durable_.fetch_or(kFailedBit, std::memory_order_seq_cst);
  WakeWaiters();
  work_cv_.SignalAll();
  sync_cv_.SignalAll();
}

void GroupCommitter::PublishDurable(uint64_t ticket) {
  // One thread publishes (the writer without a sync, else the syncer); Fail
  // may set the bit meanwhile, which the exchange keeps.
  uint64_t state = durable_.load(std::memory_order_relaxed);
  while (!durable_.compare_exchange_weak(state, (state & kFailedBit) | ticket,
                                         std::memory_order_seq_cst, std::memory_order_relaxed)) {
  }
  WakeWaiters();
}

void GroupCommitter::WakeWaiters() {
  durable_seq_.fetch_add(1, std::memory_order_seq_cst);
  // A waiter counts itself before it sleeps and compares the sequence as it
  // goes to sleep (in the kernel), so either it is counted here or it sees
  // the new sequence and does not sleep.
  if (sleepers_.load(std::memory_order_seq_cst) > 0) {
    // Wakes one sleeper, which wakes the others (WaitDurable): waking a
    // thread costs the waker a few µs in the kernel, and the publisher is the
    // writer (or the syncer), whose time every caller waits for. Waking all
    // from here cost the writer a tenth of its time with 8 callers (measured;
    // with the hand-off, 1.3-1.9x the transitions/s under NORMAL).
    pass_on_.store(true, std::memory_order_seq_cst);
    FutexWake(&durable_seq_, 1);
  }
}

absl::Status GroupCommitter::Stop() {
  MutexLock stop_lock(&stop_mu_);
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  work_cv_.SignalAll();
  sync_cv_.SignalAll();
  if (writer_.joinable()) writer_.join();  // it commits what is queued first
  if (syncer_.joinable()) syncer_.join();  // and it syncs what was committed
  MutexLock lock(&mu_);
  return failure_;
}

StoreStats GroupCommitter::stats() const {
  MutexLock lock(&mu_);
  return stats_;
}

template <typename Ready>
void GroupCommitter::Gather(CondVar& cv, uint64_t& wake_at, uint64_t at, Clock::duration limit,
                            Ready ready) {
  if (limit <= Clock::duration::zero() || ready() || stopping_ || !failure_.ok()) return;
  wake_at = at;
  cv.WaitFor(
      &mu_, std::min<Clock::duration>(limit, kMaxGather),
      [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ready() || stopping_ || !failure_.ok(); });
  wake_at = kNever;
}

// Takes what is queued (up to max_commit_bytes), commits it in one
// transaction, hands it on (to the waiters, or to the syncer); until Stop and
// an empty queue, or the first failure.
void GroupCommitter::WriterLoop() {
  const bool has_sync = static_cast<bool>(hooks_.sync);
  std::vector<Group> batch;
  // The gather: the ticket that the callers the last commit released bring
  // the queue to once they have all appended again, and how long the last
  // commit took.
  uint64_t expect = 0;
  Clock::duration last_duration{};
  for (;;) {
    size_t bytes = 0;
    {
      MutexLock lock(&mu_);
      while (queue_.empty() && !stopping_ && failure_.ok()) {
        writer_wake_at_ = last_ticket_.load(std::memory_order_relaxed) + 1;
        work_cv_.Wait(&mu_);
      }
      writer_wake_at_ = kNever;
      if (queue_.empty() || !failure_.ok()) break;  // stopping with all committed, or failed
      // With a sync, the syncer gathers and the writer writes at once, so
      // that the callers' transactions are in the log when the sync starts.
      if (!has_sync) {
        Gather(work_cv_, writer_wake_at_, expect, GatherLimit(last_duration),
               [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
                 return last_ticket_.load(std::memory_order_relaxed) >= expect;
               });
        if (!failure_.ok()) break;
      }
      while (!queue_.empty() &&
             (batch.empty() || bytes + queue_.front().bytes <= max_commit_bytes_)) {
        bytes += queue_.front().bytes;
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    if (hooks_.before_commit) hooks_.before_commit();
    const Clock::time_point start = Clock::now();
    const absl::Status status = commit_(batch);
    last_duration = Clock::now() - start;
    const uint64_t last = batch.back().ticket;
    if (!status.ok()) {
      FailWith(
          absl::Status(status.code(),
                       absl::StrCat(name_, ": commit of groups ", batch.front().ticket, "..", last,
                                    " failed, so no later group will be: ", status.message())));
      break;
    }
    bool wake_syncer = false;
    {
      MutexLock lock(&mu_);
      committed_ticket_ = last;
      wake_syncer = last >= syncer_wake_at_;
      if (wake_syncer) syncer_wake_at_ = kNever;
      stats_.groups_committed += batch.size();
      stats_.commits += 1;
      stats_.bytes_committed += bytes;
      stats_.commit_ns += Nanos(last_duration);
      if (!has_sync) stats_.groups_durable = last;
      expect = last_ticket_.load(std::memory_order_relaxed) + batch.size();
    }
    if (has_sync) {
      if (wake_syncer) sync_cv_.Signal();
    } else {
      PublishDurable(last);
    }
    batch.clear();
    if (hooks_.after_commit) hooks_.after_commit();
  }
  {
    MutexLock lock(&mu_);
    writer_done_ = true;
  }
  sync_cv_.SignalAll();
}

// Syncs what the writer committed, after gathering the callers the last sync
// released; until the writer is done and everything it committed is synced,
// or a sync fails. After a failed commit it still syncs the commits made
// before it.
void GroupCommitter::SyncerLoop() {
  uint64_t expect = 0;  // as the writer's (see WriterLoop), in commits
  Clock::duration last_duration{};
  for (;;) {
    uint64_t from;
    uint64_t target;
    {
      MutexLock lock(&mu_);
      while (committed_ticket_ == synced_ticket_ && !writer_done_) {
        syncer_wake_at_ = synced_ticket_ + 1;
        sync_cv_.Wait(&mu_);
      }
      syncer_wake_at_ = kNever;
      if (committed_ticket_ == synced_ticket_) return;  // the writer is done, and all is synced
      Gather(sync_cv_, syncer_wake_at_, expect, GatherLimit(last_duration),
             [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return committed_ticket_ >= expect; });
      from = synced_ticket_ + 1;
      target = committed_ticket_;
    }
    const Clock::time_point start = Clock::now();
    absl::Status status = hooks_.before_sync ? hooks_.before_sync() : absl::OkStatus();
    if (status.ok()) status = hooks_.sync();
    last_duration = Clock::now() - start;
    if (!status.ok()) {
      // The kernel may have dropped the pages it could not write (and a
      // later sync would then succeed without them): nothing unsynced may
      // ever be acknowledged, so the store fails.
      FailWith(absl::Status(
          status.code(),
          absl::StrCat(name_, ": sync of groups ", from, "..", target,
                       " failed, so no later group will be durable: ", status.message())));
      return;
    }
    {
      MutexLock lock(&mu_);
      synced_ticket_ = target;
      stats_.syncs += 1;
      stats_.sync_ns += Nanos(last_duration);
      stats_.groups_durable = target;
      expect = last_ticket_.load(std::memory_order_relaxed) + (target - from + 1);
    }
    PublishDurable(target);
    if (hooks_.after_sync) hooks_.after_sync();
  }
}

}  // namespace cascade::internal
