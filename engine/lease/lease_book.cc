// Copyright 2026 The Cascade Authors.
//
// Leases, their tokens and their due times.

#include "engine/lease/lease_book.h"

#include <array>

#include "engine/util/random.h"

namespace cascade::internal {

// Both directions by hand, without branching on the digits: a worker's every
// call parses a token and every claim prints one, and absl's general
// formatting and parsing cost about a tenth of a whole claim + finish cycle.
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// A character's value as a hex digit, or -1.
constexpr std::array<int8_t, 256> kHexValue = [] {
  std::array<int8_t, 256> value{};
  value.fill(-1);
  for (int i = 0; i < 10; ++i) value['0' + i] = static_cast<int8_t>(i);
  for (int i = 0; i < 6; ++i) {
    value['a' + i] = static_cast<int8_t>(10 + i);
    value['A' + i] = static_cast<int8_t>(10 + i);
  }
  return value;
}();

}  // namespace

std::string LeaseTokenText(uint64_t token) {
  std::string text(16, '0');
  for (int i = 15; i >= 0; --i, token >>= 4) text[i] = kHexDigits[token & 0xf];
  return text;
}

std::optional<uint64_t> ParseLeaseToken(std::string_view text) {
  if (text.size() != 16) return std::nullopt;
  uint64_t token = 0;
  int8_t bad = 0;  // any digit's -1 sets the sign bit
  for (char c : text) {
    const int8_t digit = kHexValue[static_cast<unsigned char>(c)];
    bad |= digit;
    token = (token << 4) | static_cast<uint8_t>(digit & 0xf);
  }
  if (bad < 0) return std::nullopt;  // also whitespace, a sign or a 0x prefix
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

Lease LeaseBook::Grant(uint32_t slot, int64_t now_ms, int64_t length_ms, int64_t time_limit_ms,
                       std::string_view worker) {
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
  if (time_limit_ms > 0) lease.time_limit_ms = now_ms + time_limit_ms;
  lease.worker = worker;
  std::optional<int64_t> wake;
  {
    MutexLock lock(&mu_);
    wake = Put(slot, lease);
  }
  Wake(wake);
  return lease;
}

Lease LeaseBook::Extend(uint32_t slot, int64_t now_ms, std::optional<int64_t> length_ms) {
  Lease lease;
  std::optional<int64_t> wake;
  {
    MutexLock lock(&mu_);
    lease = leases_.at(slot);
    lease.expires_ms = now_ms + length_ms.value_or(lease.length_ms);
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

bool LeaseBook::Holds(uint32_t slot, uint64_t token) const {
  MutexLock lock(&mu_);
  auto it = leases_.find(slot);
  return it != leases_.end() && it->second.token == token;
}

std::optional<std::string_view> LeaseBook::Holder(uint32_t slot, uint64_t token) const {
  MutexLock lock(&mu_);
  auto it = leases_.find(slot);
  if (it == leases_.end() || it->second.token != token) return std::nullopt;
  return it->second.worker;
}

void LeaseBook::ForEachHolder(const std::function<void(uint32_t, std::string_view)>& visit) const {
  MutexLock lock(&mu_);
  for (const auto& [slot, lease] : leases_) visit(slot, lease.worker);
}

bool LeaseBook::TimedOut(uint32_t slot, uint64_t token) const {
  MutexLock lock(&mu_);
  auto it = timed_out_.find(token);
  return it != timed_out_.end() && it->second.first == slot;
}

void LeaseBook::ForgetTimedOut(int64_t now_ms) {
  MutexLock lock(&mu_);
  for (auto it = timed_out_.begin(); it != timed_out_.end();) {
    if (it->second.second <= now_ms) {
      timed_out_.erase(it++);
    } else {
      ++it;
    }
  }
}

std::optional<LeaseBook::Due> LeaseBook::NextDue(int64_t now_ms) const {
  MutexLock lock(&mu_);
  if (deadlines_.empty() || deadlines_.begin()->first > now_ms) return std::nullopt;
  const uint32_t slot = deadlines_.begin()->second;
  return Due{slot, leases_.at(slot).due_event()};
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
      if (change.cause == TransitionCause::kTimedOut) {
        timed_out_[it->second.token] = {change.slot, it->second.expires_ms};
      }
      deadlines_.erase({it->second.due_ms(), change.slot});
      leases_.erase(it);
    } else if (change.sub == SubState::kAborting && it->second.abort_deadline_ms == kUnsetMillis) {
      Lease lease = it->second;
      lease.abort_deadline_ms = change.now_ms + abort_grace_ms_;
      wake = Put(change.slot, lease);
    }
  }
  Wake(wake);
}

}  // namespace cascade::internal
