// Copyright 2026 The Cascade Authors.
//
// Leases, their tokens and their due times.

#include "engine/lease/lease_book.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "engine/util/strings.h"

namespace cascade::internal {
namespace {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

std::string LeaseTokenText(uint64_t token) { return absl::StrFormat("%016x", token); }

std::optional<uint64_t> ParseLeaseToken(std::string_view text) {
  uint64_t token = 0;
  if (text.size() != 16 || !absl::SimpleHexAtoi(Sv(text), &token)) return std::nullopt;
  return token;
}

LeaseBook::LeaseBook(absl::Duration abort_grace, uint64_t seed, std::function<void(int64_t)> wake)
    : abort_grace_ms_(absl::ToInt64Milliseconds(abort_grace)),
      wake_(std::move(wake)),
      slot_key_(static_cast<uint32_t>(SplitMix64(seed ^ 0xA5A5A5A5ull))),
      random_state_(seed) {}

std::optional<int64_t> LeaseBook::Put(uint32_t slot, const Lease& lease) {
  changed_.push_back(slot);
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
    high = SplitMix64(random_state_.fetch_add(0x9E3779B97F4A7C15ull, std::memory_order_relaxed)) >>
           32;
  }
  Lease lease;
  lease.token = (high << 32) | (slot ^ slot_key_);
  lease.length_ms = length_ms;
  lease.expires_ms = now_ms + length_ms;
  std::optional<int64_t> wake;
  {
    absl::MutexLock lock(&mu_);
    wake = Put(slot, lease);
  }
  Wake(wake);
  return lease;
}

Lease LeaseBook::Extend(uint32_t slot, int64_t expires_ms) {
  Lease lease;
  std::optional<int64_t> wake;
  {
    absl::MutexLock lock(&mu_);
    lease = leases_.at(slot);
    lease.expires_ms = expires_ms;
    wake = Put(slot, lease);
  }
  Wake(wake);
  return lease;
}

std::optional<Lease> LeaseBook::Find(uint32_t slot) const {
  absl::MutexLock lock(&mu_);
  auto it = leases_.find(slot);
  if (it == leases_.end()) return std::nullopt;
  return it->second;
}

std::optional<uint32_t> LeaseBook::NextDue(int64_t now_ms) const {
  absl::MutexLock lock(&mu_);
  if (deadlines_.empty() || deadlines_.begin()->first > now_ms) return std::nullopt;
  return deadlines_.begin()->second;
}

std::optional<int64_t> LeaseBook::next_due_ms() const {
  absl::MutexLock lock(&mu_);
  if (deadlines_.empty()) return std::nullopt;
  return deadlines_.begin()->first;
}

void LeaseBook::Restore(uint32_t slot, const Lease& lease) {
  absl::MutexLock lock(&mu_);
  leases_[slot] = lease;
  deadlines_.insert({lease.due_ms(), slot});
}

std::vector<uint32_t> LeaseBook::TakeChanged() {
  absl::MutexLock lock(&mu_);
  return std::exchange(changed_, {});
}

size_t LeaseBook::size() const {
  absl::MutexLock lock(&mu_);
  return leases_.size();
}

void LeaseBook::OnTransition(const JobChange& change) {
  if (change.restored || change.from != JobState::kRendering) return;
  std::optional<int64_t> wake;
  {
    absl::MutexLock lock(&mu_);
    auto it = leases_.find(change.slot);
    if (it == leases_.end()) return;
    if (change.to != JobState::kRendering) {
      changed_.push_back(change.slot);
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
