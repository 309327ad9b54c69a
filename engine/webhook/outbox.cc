// Copyright 2026 The Cascade Authors.
//
// The webhook outbox and its delivery threads.

#include "engine/webhook/outbox.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "engine/journal/rows.h"
#include "engine/util/strings.h"

namespace cascade::internal {

Outbox::Outbox(const WebhookOptions& options, Clock* clock, WebhookTransport* transport,
               Journal* journal)
    : options_(options), clock_(clock), transport_(transport), journal_(journal) {}

Outbox::~Outbox() { Stop(); }

void Outbox::Start() {
  for (int i = 0; i < std::max(1, options_.delivery_threads); ++i) {
    threads_.emplace_back(&Outbox::DeliveryLoop, this);
  }
}

void Outbox::Stop() {
  wakeup_.Stop();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

void Outbox::Stage(Delivery delivery) {
  MutexLock lock(&mu_);
  const uint64_t key = next_key_++;
  journal_->AddRow(Change::Put(Table::kOutbox, HexKey(key), EncodeDelivery(delivery)));
  deliveries_.emplace(key, std::move(delivery));
  staged_.push_back(key);
  ++counts_.pending;
}

void Outbox::Publish(uint64_t ticket) {
  if (staged_.empty()) return;
  {
    MutexLock lock(&mu_);
    for (uint64_t key : staged_) {
      Delivery& delivery = deliveries_.at(key);
      delivery.ticket = ticket;
      due_.insert({delivery.due_ms, key});
    }
    staged_.clear();
  }
  wakeup_.Wake();
}

void Outbox::DropStaged() {
  if (staged_.empty()) return;
  MutexLock lock(&mu_);
  for (uint64_t key : staged_) {
    deliveries_.erase(key);
    --counts_.pending;
  }
  staged_.clear();
}

bool Outbox::RemoveIfIdle(const absl::flat_hash_set<uint32_t>& jobs,
                          std::vector<uint64_t>* removed) {
  MutexLock lock(&mu_);
  std::vector<uint64_t> letters;
  for (const auto& [key, delivery] : deliveries_) {
    if (!jobs.contains(delivery.slot)) continue;
    if (delivery.stage != Delivery::Stage::kDead) return false;
    letters.push_back(key);
  }
  for (uint64_t key : letters) {
    deliveries_.erase(key);
    --counts_.dead;
  }
  *removed = std::move(letters);
  return true;
}

void Outbox::Restore(uint64_t key, Delivery delivery) {
  MutexLock lock(&mu_);
  if (delivery.stage == Delivery::Stage::kDead) {
    ++counts_.dead;
  } else {
    due_.insert({delivery.due_ms, key});
    ++counts_.pending;
  }
  deliveries_.emplace(key, std::move(delivery));
  next_key_ = std::max(next_key_, key + 1);
}

std::optional<std::pair<uint64_t, Delivery>> Outbox::TakeDue(int64_t now_ms, int64_t* next_due_ms) {
  if (!journal_->writable().ok()) return std::nullopt;
  MutexLock lock(&mu_);
  if (due_.empty()) return std::nullopt;
  if (due_.begin()->first > now_ms) {
    *next_due_ms = due_.begin()->first;
    return std::nullopt;
  }
  const uint64_t key = due_.begin()->second;
  due_.erase(due_.begin());
  Delivery& delivery = deliveries_.at(key);
  delivery.stage = Delivery::Stage::kInFlight;
  --counts_.pending;
  ++counts_.in_flight;
  return std::make_pair(key, delivery);
}

absl::StatusOr<uint64_t> Outbox::JournalRow(uint64_t key) {
  auto it = deliveries_.find(key);
  return journal_->AppendNow({it == deliveries_.end() ? Change::Delete(Table::kOutbox, HexKey(key))
                                                      : Change::Put(Table::kOutbox, HexKey(key),
                                                                    EncodeDelivery(it->second))});
}

void Outbox::Send(uint64_t key, const Delivery& delivery) {
  // The change that queued it is durable before anyone hears of it.
  if (!journal_->WaitDurable(delivery.ticket).ok()) return;
  const absl::StatusOr<int> result = transport_->Send(delivery.request, options_.timeout);
  const int64_t now_ms = NowMillis();
  absl::StatusOr<uint64_t> ticket;
  {
    MutexLock lock(&mu_);
    Delivery& d = deliveries_.at(key);
    --counts_.in_flight;
    ++counts_.attempts_total;
    ++d.attempts;
    if (result.ok() && *result >= 200 && *result < 300) {
      ++counts_.delivered_total;
      deliveries_.erase(key);
    } else {
      d.last_error =
          result.ok() ? absl::StrCat("HTTP ", *result) : std::string(result.status().message());
      if (d.attempts > options_.max_retries) {
        d.stage = Delivery::Stage::kDead;
        d.died_ms = now_ms;
        ++counts_.dead;
      } else {
        // Retry n (n = attempts so far) waits initial_backoff * factor^(n-1).
        const double wait_ms = absl::ToDoubleMilliseconds(options_.initial_backoff) *
                               std::pow(options_.backoff_factor, d.attempts - 1);
        d.stage = Delivery::Stage::kPending;
        d.due_ms = now_ms + static_cast<int64_t>(std::llround(wait_ms));
        due_.insert({d.due_ms, key});
        ++counts_.pending;
      }
    }
    ticket = JournalRow(key);
  }
  if (!ticket.ok()) {
    journal_->RecordFailure(ticket.status());
  } else {
    journal_->WaitDurable(*ticket).IgnoreError();  // a failure is recorded
  }
}

void Outbox::SendDue() {
  while (true) {
    int64_t next_due_ms = 0;
    std::optional<std::pair<uint64_t, Delivery>> work = TakeDue(NowMillis(), &next_due_ms);
    if (!work) return;
    Send(work->first, work->second);
  }
}

void Outbox::DeliveryLoop() {
  constexpr int64_t kMaxWaitMs = 1000;
  while (std::optional<uint64_t> generation = wakeup_.Generation()) {
    int64_t next_due_ms = std::numeric_limits<int64_t>::max();
    std::optional<std::pair<uint64_t, Delivery>> work = TakeDue(NowMillis(), &next_due_ms);
    if (work) {
      Send(work->first, work->second);
      continue;  // there may be more due: look again at once
    }
    const int64_t wait_ms = next_due_ms == std::numeric_limits<int64_t>::max()
                                ? kMaxWaitMs
                                : std::clamp<int64_t>(next_due_ms - NowMillis(), 1, kMaxWaitMs);
    wakeup_.WaitFor(*generation, std::chrono::milliseconds(wait_ms));
  }
}

std::vector<DeadLetter> Outbox::DeadLetters(std::string_view team) const {
  MutexLock lock(&mu_);
  std::vector<DeadLetter> letters;
  for (const auto& [key, d] : deliveries_) {
    if (d.stage != Delivery::Stage::kDead || d.team != team) continue;
    DeadLetter& letter = letters.emplace_back();
    letter.delivery_id = d.id;
    letter.job_id = d.job_id;
    letter.url = d.request.url;
    letter.attempts = d.attempts;
    letter.last_error = d.last_error;
    letter.created_at = absl::FromUnixMillis(d.created_ms);
    letter.died_at = absl::FromUnixMillis(d.died_ms);
  }
  return letters;
}

absl::Status Outbox::Replay(std::string_view team, std::string_view delivery_id) {
  if (absl::Status writable = journal_->writable(); !writable.ok()) return writable;
  const int64_t now_ms = NowMillis();
  absl::StatusOr<uint64_t> ticket;
  {
    MutexLock lock(&mu_);
    auto it = std::find_if(deliveries_.begin(), deliveries_.end(), [&](const auto& entry) {
      const Delivery& d = entry.second;
      return d.stage == Delivery::Stage::kDead && d.team == team && d.id == delivery_id;
    });
    if (it == deliveries_.end()) {
      return absl::NotFoundError(absl::StrCat("no dead letter ", Sv(delivery_id)));
    }
    Delivery& d = it->second;
    d.stage = Delivery::Stage::kPending;
    d.attempts = 0;
    d.due_ms = now_ms;
    d.died_ms = kUnsetMillis;
    --counts_.dead;
    ++counts_.pending;
    ticket = JournalRow(it->first);
    if (ticket.ok()) {
      d.ticket = *ticket;
      due_.insert({now_ms, it->first});
    }
  }
  wakeup_.Wake();
  if (!ticket.ok()) {
    journal_->RecordFailure(ticket.status());
    return ticket.status();
  }
  return journal_->WaitDurable(*ticket);
}

OutboxCounts Outbox::counts() const {
  MutexLock lock(&mu_);
  return counts_;
}

size_t Outbox::size() const {
  MutexLock lock(&mu_);
  return deliveries_.size();
}

}  // namespace cascade::internal
