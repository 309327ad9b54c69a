// Copyright 2026 The Cascade Authors.
//
// Leases, their tokens and their due times.

#include "engine/lease/lease_book.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "engine/util/random.h"
#include "engine/util/strings.h"

namespace cascade::internal {

std::string LeaseTokenText(uint64_t token) { return absl::StrFormat("%016x", token); }

std::optional<uint64_t> ParseLeaseToken(std::string_view text) {
  // SimpleHexAtoi alone would also take whitespace, a sign or a 0x prefix.
  if (text.size() != 16 || !std::all_of(text.begin(), text.end(), absl::ascii_isxdigit)) {
    return std::nullopt;
  }
  uint64_t token = 0;
  if (!absl::SimpleHexAtoi(Sv(text), &token)) return std::nullopt;
  return token;
}

LeaseBook::LeaseBook(absl::Duration abort_grace, uint64_t seed, bool track_changes,
                     std::function<void(int64_t)> wake)
    : abort_grace_ms_(absl::ToInt64Milliseconds(abort_grace)),
      track_changes_(track_changes),
      wake_(std::move(wake)),
      slot_key_(static_cast<uint32_t>(SplitMix64(seed ^ 0xA5A5A5A5ull))),
      random_state_(seed) {}

std::optional<int64_t> LeaseBook::Put(uint32_t slot, const Lease& lease) {
  if (track_changes_) changed_.push_back(slot);
  auto [it, inserted] = leases_.try_emplace(slot, lease);
  if (!inserted) {
    deadlines_.erase({it->second.due_ms(), slot});
    it->second = lease;
  }
  deadlines_.insert({lease.due_ms(), slot});
  if (deadlines_.begin()->second != slot) return std::nullopt;
  return lease.due_ms();
}

Lease LeaseBook::Grant(uint32_t slot, int64_t now_ms, int64_t length_ms) {
  // 32 random bits (never zero) above the slot masked with slot_key_, so a
  // worker's call finds the job without a search.
  uint64_t high = 0;
  while (high == 0) {
    high = SplitMix64(random_state_.fetch_add(kSplitMixGamma, std::memory_order_relaxed)) >> 32;
  }
  Lease lease;
  lease.token = (high << 32) | (slot ^ slot_key_);
  lease.length_ms = length_ms;
  lease.expires_ms = now_ms + length_ms;
  std::optional<int64_t> wake;
  {
    MutexLock lock(&mu_);
    wake = Put(slot, lease);
  }
  Wake(wake);
  return lease;
}

Lease LeaseBook::Extend(uint32_t slot, int64_t expires_ms) {
  Lease lease;
  std::optional<int64_t> wake;
  {
    MutexLock lock(&mu_);
    lease = leases_.at(slot);
    lease.expires_ms = expires_ms;
    wake = Put(slot, lease);
  }
  Wake(wake);
  return lease;
}

std::optional<Lease> LeaseBook::Find(uint32_t slot) const {
  MutexLock lock(&mu_);
  auto it = leases_.find(slot);
  if (it == leases_.end()) return std::nullopt;
  return it->second;
}

std::optional<uint32_t> LeaseBook::NextDue(int64_t now_ms) const {
  MutexLock lock(&mu_);
  if (deadlines_.empty() || deadlines_.begin()->first > now_ms) return std::nullopt;
  return deadlines_.begin()->second;
}

std::optional<int64_t> LeaseBook::next_due_ms() const {
  MutexLock lock(&mu_);
  if (deadlines_.empty()) return std::nullopt;
  return deadlines_.begin()->first;
}

void LeaseBook::Restore(uint32_t slot, const Lease& lease) {
  MutexLock lock(&mu_);
  leases_[slot] = lease;
  deadlines_.insert({lease.due_ms(), slot});
}

std::vector<uint32_t> LeaseBook::TakeChanged() {
  MutexLock lock(&mu_);
  return std::exchange(changed_, {});
}

size_t LeaseBook::size() const {
  MutexLock lock(&mu_);
  return leases_.size();
}

void LeaseBook::OnTransition(const JobChange& change) {
  if (change.restored || change.from != JobState::kRendering) return;
  std::optional<int64_t> wake;
  {
    MutexLock lock(&mu_);
    auto it = leases_.find(change.slot);
    if (it == leases_.end()) return;
    if (change.to != JobState::kRendering) {
      if (track_changes_) changed_.push_back(change.slot);
      deadlines_.erase({it->second.due_ms(), change.slot});
      leases_.erase(it);
    } else if (change.aborting && it->second.abort_deadline_ms == kUnsetMillis) {
      Lease lease = it->second;
      lease.abort_deadline_ms = change.now_ms + abort_grace_ms_;
      wake = Put(change.slot, lease);
    }
  }
  Wake(wake);
}

}  // namespace cascade::internal
