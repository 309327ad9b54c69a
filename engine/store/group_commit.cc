// Copyright 2026 The Cascade Authors.

#include "engine/store/group_commit.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"

namespace cascade::internal {
namespace {

// The longest a commit waits for more groups (see WriterLoop).
constexpr std::chrono::microseconds kMaxCommitDelay{1000};

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
                               std::function<void()> before_commit)
    : name_(std::move(name)),
      max_commit_bytes_(max_commit_bytes),
      commit_(std::move(commit)),
      before_commit_(std::move(before_commit)),
      writer_([this] { WriterLoop(); }) {}

GroupCommitter::~GroupCommitter() { Stop().IgnoreError(); }

absl::StatusOr<uint64_t> GroupCommitter::Append(std::vector<Change> changes) {
  absl::StatusOr<size_t> bytes = GroupBytes(changes);
  if (!bytes.ok()) return bytes.status();
  uint64_t ticket;
  {
    MutexLock lock(&mu_);
    if (!failure_.ok()) return failure_;
    if (stopping_) return absl::FailedPreconditionError(absl::StrCat(name_, ": store is closed"));
    ticket = ++last_ticket_;
    queue_.push_back(Group{ticket, *bytes, std::move(changes)});
    ++stats_.groups_appended;
  }
  work_cv_.Signal();
  return ticket;
}

absl::Status GroupCommitter::WaitDurable(uint64_t ticket) {
  MutexLock lock(&mu_);
  if (ticket == 0 || ticket > last_ticket_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "WaitDurable: ticket ", ticket, " was never issued (the last is ", last_ticket_, ")"));
  }
  while (durable_ticket_ < ticket && failure_.ok()) durable_cv_.Wait(&mu_);
  if (durable_ticket_ >= ticket) return absl::OkStatus();
  return failure_;
}

void GroupCommitter::Fail(absl::Status why) {
  {
    MutexLock lock(&mu_);
    if (!failure_.ok()) return;
    failure_ = std::move(why);
    queue_.clear();  // never committed; their waiters get failure_
  }
  durable_cv_.SignalAll();
  work_cv_.SignalAll();
}

absl::Status GroupCommitter::Stop() {
  MutexLock stop_lock(&stop_mu_);
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  work_cv_.SignalAll();
  if (writer_.joinable()) writer_.join();  // it commits what is queued first
  MutexLock lock(&mu_);
  return failure_;
}

StoreStats GroupCommitter::stats() const {
  MutexLock lock(&mu_);
  return stats_;
}

// Takes what is queued (up to max_commit_bytes), commits it in one
// transaction, wakes the waiters; until Stop and an empty queue, or the
// first failure.
void GroupCommitter::WriterLoop() {
  std::vector<Group> batch;
  // The last commit: how many groups it carried and how long it took.
  size_t last_groups = 0;
  std::chrono::steady_clock::duration last_duration{};
  for (;;) {
    size_t bytes = 0;
    {
      MutexLock lock(&mu_);
      while (queue_.empty() && !stopping_ && failure_.ok()) work_cv_.Wait(&mu_);
      if (queue_.empty() || !failure_.ok()) return;  // stopping with all committed, or failed
      // Commit delay. The callers the last commit released are appending
      // their next groups now; taking the queue at once would leave them
      // for the commit after, and concurrent callers would settle into two
      // cohorts that alternate, each sharing half as many commits. So when
      // fewer groups are queued than the last commit carried, wait for the
      // rest a little: at most half the last commit's duration (which caps
      // the added latency) and kMaxCommitDelay. A lone caller never waits
      // (its last commit carried one group); when callers go away, the
      // target shrinks to what the wait collected.
      if (last_groups > 1 && queue_.size() < last_groups && !stopping_) {
        work_cv_.WaitFor(
            &mu_, std::min<std::chrono::steady_clock::duration>(last_duration / 2, kMaxCommitDelay),
            [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
              return queue_.size() >= last_groups || stopping_ || !failure_.ok();
            });
        if (!failure_.ok()) return;
      }
      while (!queue_.empty() &&
             (batch.empty() || bytes + queue_.front().bytes <= max_commit_bytes_)) {
        bytes += queue_.front().bytes;
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    if (before_commit_) before_commit_();
    const std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    const absl::Status status = commit_(batch);
    last_duration = std::chrono::steady_clock::now() - start;
    last_groups = batch.size();
    {
      MutexLock lock(&mu_);
      if (status.ok()) {
        durable_ticket_ = batch.back().ticket;
        stats_.groups_committed += batch.size();
        stats_.commits += 1;
        stats_.bytes_committed += bytes;
      } else {
        const absl::Status failure(
            status.code(), absl::StrCat(name_, ": commit of groups ", batch.front().ticket, "..",
                                        batch.back().ticket,
                                        " failed, so no later group will be: ", status.message()));
        if (failure_.ok()) failure_ = failure;
        queue_.clear();  // never committed; their waiters get failure_
      }
    }
    durable_cv_.SignalAll();
    if (!status.ok()) return;
    batch.clear();
  }
}

}  // namespace cascade::internal
