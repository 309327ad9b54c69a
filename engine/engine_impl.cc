// Copyright 2026 The Cascade Authors.
//
// The engine's operations: submit, read, list, cancel (with the E/R/U
// closure), failure propagation, and the minimal worker calls.

#include "engine/engine_impl.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <random>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cascade/status.h"
#include "engine/json/wire.h"
#include "engine/spec/spec_validation.h"
#include "engine/store/sqlite_store.h"
#include "engine/util/status_macros.h"
#include "engine/util/strings.h"

namespace cascade {

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(const Options& options) {
  std::vector<FieldViolation> bad;
  if (options.clock == nullptr) bad.push_back({"clock", "must not be null"});
  if (options.max_attempts < 1) bad.push_back({"max_attempts", "must be at least 1"});
  if (options.lease_duration <= absl::ZeroDuration()) {
    bad.push_back({"lease_duration", "must be positive"});
  }
  if (options.abort_grace <= absl::ZeroDuration()) {
    bad.push_back({"abort_grace", "must be positive"});
  }
  const WebhookOptions& hooks = options.webhooks;
  if (hooks.max_retries < 0) bad.push_back({"webhooks.max_retries", "must be >= 0"});
  if (hooks.initial_backoff <= absl::ZeroDuration()) {
    bad.push_back({"webhooks.initial_backoff", "must be positive"});
  }
  if (!(hooks.backoff_factor >= 1.0 && hooks.backoff_factor <= 1000.0)) {
    bad.push_back({"webhooks.backoff_factor", "must be 1-1000"});
  }
  if (hooks.timeout <= absl::ZeroDuration())
    bad.push_back({"webhooks.timeout", "must be positive"});
  if (hooks.delivery_threads < 1 || hooks.delivery_threads > 256) {
    bad.push_back({"webhooks.delivery_threads", "must be 1-256"});
  }
  if (options.durability.retention <= absl::ZeroDuration()) {
    bad.push_back({"durability.retention", "must be positive"});
  }
  if (!bad.empty()) return InvalidArgumentWithViolations("invalid options", bad);
  std::unique_ptr<internal::Store> store;
  if (!options.durability.data_dir.empty()) {
    internal::SqliteStoreOptions store_options;
    switch (options.durability.sync) {
      case DurabilityOptions::Sync::kFull:
        store_options.synchronous = internal::SqliteStoreOptions::Sync::kFull;
        break;
      case DurabilityOptions::Sync::kNormal:
        store_options.synchronous = internal::SqliteStoreOptions::Sync::kNormal;
        break;
      case DurabilityOptions::Sync::kOff:
        store_options.synchronous = internal::SqliteStoreOptions::Sync::kOff;
        break;
    }
    CASCADE_ASSIGN_OR_RETURN(store,
                             internal::OpenSqliteStore(options.durability.data_dir, store_options));
  }
  CASCADE_ASSIGN_OR_RETURN(std::unique_ptr<internal::EngineImpl> engine,
                           internal::CreateEngine(options, std::move(store)));
  return std::unique_ptr<Engine>(std::move(engine));
}

namespace internal {
namespace {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

std::optional<absl::Time> OptionalTime(int64_t ms) {
  if (ms == kUnsetMillis) return std::nullopt;
  return absl::FromUnixMillis(ms);
}

std::string LeaseToken(uint64_t token) { return absl::StrFormat("%016x", token); }

}  // namespace

absl::StatusOr<std::unique_ptr<EngineImpl>> CreateEngine(const Options& options,
                                                         std::unique_ptr<Store> store) {
  auto engine = std::make_unique<EngineImpl>(options, std::move(store));
  CASCADE_RETURN_IF_ERROR(engine->Start());
  return engine;
}

EngineImpl::EngineImpl(const Options& options, std::unique_ptr<Store> store)
    : options_(options),
      clock_(options.clock),
      output_url_template_(options.output_url_template),
      ids_(options.id_seed ? IdGenerator(*options.id_seed) : IdGenerator()),
      owned_transport_(options.webhooks.transport == nullptr ? WebhookTransport::CreateHttp()
                                                             : nullptr),
      transport_(options.webhooks.transport == nullptr ? owned_transport_.get()
                                                       : options.webhooks.transport),
      store_(std::move(store)),
      random_state_(options.id_seed ? SplitMix64(*options.id_seed ^ 0x5DEECE66Dull)
                                    : std::random_device{}()) {
  lease_slot_key_ = static_cast<uint32_t>(NextRandom());
}

absl::Status EngineImpl::Start() {
  if (store_ != nullptr) {
    {
      WriteSection section(this);
      CASCADE_RETURN_IF_ERROR(Recover());
      // A lease that ran out while no engine had the directory ends now, as
      // any expiry does (SPEC §7).
      EndDueLeases(NowMillis());
      CASCADE_RETURN_IF_ERROR(section.Commit());
    }
  }
  // A manual clock moves only when told to, and its owner calls RunDueWork,
  // which also sends the deliveries that are due.
  if (clock_->IsManual()) {
    timer_planned_wake_ms_.store(std::numeric_limits<int64_t>::min());
  } else {
    for (int i = 0; i < std::max(1, options_.webhooks.delivery_threads); ++i) {
      delivery_threads_.emplace_back(&EngineImpl::DeliveryLoop, this);
    }
    timer_ = std::thread(&EngineImpl::TimerLoop, this);
  }
  return absl::OkStatus();
}

EngineImpl::~EngineImpl() {
  {
    std::lock_guard<std::mutex> lock(delivery_mu_);
    delivery_stop_ = true;
  }
  delivery_cv_.notify_all();
  for (std::thread& thread : delivery_threads_) thread.join();
  {
    std::lock_guard<std::mutex> lock(timer_mu_);
    timer_stop_ = true;
  }
  timer_cv_.notify_all();
  if (timer_.joinable()) timer_.join();
  // Every group was waited for by the call that made it; Close only commits
  // what an early return left queued, and checkpoints.
  if (store_ != nullptr) store_->Close().IgnoreError();
}

uint64_t EngineImpl::NextRandom() const {
  return SplitMix64(random_state_.fetch_add(0x9E3779B97F4A7C15ull, std::memory_order_relaxed));
}

// ---- Lookup -----------------------------------------------------------------

absl::StatusOr<uint32_t> EngineImpl::FindAnyJob(JobId id) const {
  auto it = by_id_.find(id);
  if (it == by_id_.end())
    return absl::NotFoundError(absl::StrCat("job ", id.ToString(), " not found"));
  return it->second;
}

absl::StatusOr<uint32_t> EngineImpl::FindJob(std::string_view team, JobId id) const {
  by_id_.prefetch(id);  // the probe's control bytes and slots load together
  auto it = by_id_.find(id);
  if (it == by_id_.end() || teams_.name(table_[it->second].team) != team) {
    return absl::NotFoundError(absl::StrCat("job ", id.ToString(), " not found"));
  }
  return it->second;
}

std::vector<uint32_t> EngineImpl::FindJobs(std::string_view team,
                                           absl::Span<const JobId> ids) const {
  // Software-pipelined: the index probes kAhead ids ahead and each found
  // record are prefetched, so the cache misses of many ids overlap.
  constexpr size_t kAhead = 8;
  const size_t n = ids.size();
  std::vector<uint32_t> slots(n, kNone32);
  for (size_t i = 0; i < std::min(kAhead, n); ++i) by_id_.prefetch(ids[i]);
  for (size_t i = 0; i < n; ++i) {
    if (i + kAhead < n) by_id_.prefetch(ids[i + kAhead]);
    auto it = by_id_.find(ids[i]);
    if (it == by_id_.end()) continue;
    slots[i] = it->second;
    table_.Prefetch(it->second);
  }
  for (uint32_t& slot : slots) {
    if (slot != kNone32 && teams_.name(table_[slot].team) != team) slot = kNone32;
  }
  return slots;
}

const BatchRecord* EngineImpl::FindBatch(std::string_view team, BatchId id) const {
  const BatchRecord* batch = batches_.Find(id);
  if (batch == nullptr || batch->team_name() != team) return nullptr;
  return batch;
}

// ---- Transitions ------------------------------------------------------------

EngineImpl::WriteSection::WriteSection(EngineImpl* engine) : engine_(engine) {
  engine_->mu_.Lock();
}

EngineImpl::WriteSection::~WriteSection() {
  if (!ended_) Commit().IgnoreError();
}

absl::Status EngineImpl::WriteSection::writable() const {
  if (!engine_->store_failed_.load(std::memory_order_acquire)) return absl::OkStatus();
  std::lock_guard<std::mutex> lock(engine_->failure_mu_);
  return absl::Status(engine_->store_failure_.code(),
                      absl::StrCat("the engine takes no more changes since a commit to its data "
                                   "directory failed (reopen it to recover): ",
                                   engine_->store_failure_.message()));
}

absl::Status EngineImpl::WriteSection::Commit() {
  EngineImpl& e = *engine_;
  ended_ = true;
  absl::Status status;
  uint64_t ticket = 0;
  if (e.journaling() && !e.journal_.empty()) {
    absl::StatusOr<uint64_t> appended = e.store_->Append(e.TakeJournal());
    if (appended.ok()) {
      ticket = e.last_ticket_ = *appended;
    } else {
      status = appended.status();
    }
  }
  if (!e.section_events_.empty()) {
    if (!e.journaling()) {
      e.hub_.Publish(std::exchange(e.section_events_, {}));
    } else if (ticket != 0) {
      // Published once durable: a subscriber never hears of a change a crash
      // could take back.
      std::lock_guard<std::mutex> lock(e.publish_mu_);
      e.unpublished_.emplace(ticket, std::exchange(e.section_events_, {}));
    } else {
      e.section_events_.clear();  // never journaled, so never published
    }
  }
  // A section that changed nothing still answers from the state it read,
  // which may hold another call's change whose group is not durable yet (an
  // abort requested twice answers "cancelRequested" from the first; a
  // refusal names a state). Its answer waits for that group too, so nothing
  // a call reports can be lost by a crash after it returns.
  const uint64_t read_ticket = ticket == 0 && status.ok() ? e.last_ticket_ : 0;
  const bool wake = std::exchange(e.delivery_due_in_section_, false);
  e.mu_.Unlock();
  if (wake) e.WakeDeliveryThreads();
  if (ticket != 0) {
    status = e.store_->WaitDurable(ticket);
    if (status.ok()) e.PublishDurable(ticket);
  } else if (read_ticket != 0) {
    status = e.store_->WaitDurable(read_ticket);
  }
  if (!status.ok()) e.RecordStoreFailure(status);
  return status;
}

TransitionCause EngineImpl::DefaultCause(JobEvent event) {
  switch (event) {
    case JobEvent::kSubmit:
      return TransitionCause::kSubmitted;
    case JobEvent::kPrerequisitesMet:
      return TransitionCause::kPrerequisitesFinished;
    case JobEvent::kPrerequisiteFailed:
      return TransitionCause::kPrerequisiteFailed;
    case JobEvent::kDependentsFailed:
      return TransitionCause::kDependentsFailed;
    case JobEvent::kCancel:
      return TransitionCause::kCancelled;
    case JobEvent::kClaim:
      return TransitionCause::kClaimed;
    case JobEvent::kProgress:
      return TransitionCause::kClaimed;  // never a change of state
    case JobEvent::kFinish:
      return TransitionCause::kFinished;
    case JobEvent::kFail:
      return TransitionCause::kFailed;
    case JobEvent::kRelease:
      return TransitionCause::kReleased;
    case JobEvent::kLeaseExpired:
      return TransitionCause::kLeaseExpired;
    case JobEvent::kAbortAcknowledged:
      return TransitionCause::kAbortAcknowledged;
  }
  return TransitionCause::kSubmitted;
}

void EngineImpl::RecordEvent(uint32_t slot, std::optional<JobState> from, JobState to,
                             int64_t now_ms, Cause cause) {
  if (!hub_.active()) return;
  const JobRecord& job = table_[slot];
  TransitionEvent& event = section_events_.emplace_back();
  event.sequence = ++last_event_sequence_;
  event.job_id = job.id;
  event.team = teams_.name(job.team);
  event.from = from;
  event.to = to;
  event.time = absl::FromUnixMillis(now_ms);
  event.cause = cause.why;
  if (cause.related != kNone32) event.related_job = table_[cause.related].id;
}

bool EngineImpl::Transition(uint32_t slot, JobEvent event, const EventArgs& args,
                            std::optional<Cause> cause) {
  JobRecord& job = table_[slot];
  const JobState from = job.state();
  if (!job.machine.Apply(event, args, job.timeline)) return false;
  JournalJob(slot);
  const JobState to = job.state();
  if (from == to) return true;
  RecordEvent(slot, from, to, args.now_ms, cause.value_or(Cause{DefaultCause(event), kNone32}));
  if (IsTerminal(to)) {
    NoteEnded(slot);
    if (job.extras && job.extras->webhook) QueueDelivery(slot, args.now_ms);
  }
  team_index_[job.team]->Move(slot, from, to);
  if (from == JobState::kQueued) Dequeue(slot);
  if (to == JobState::kQueued) Enqueue(slot);
  if (job.top_level_of_batch) batches_.at(job.batch).Move(from, to);
  if (IsDead(to) && job.vertex != kNoVertex) {
    // One dependent fewer needs each of this job's prerequisites (rule U).
    graph_.ForEachPrerequisite(
        job.vertex, [this](uint32_t p) { --graph_.node(table_[p].vertex).live_dependents; });
  }
  return true;
}

void EngineImpl::Enqueue(uint32_t slot) {
  const JobRecord& job = table_[slot];
  queued_.insert(slot);
  queued_by_priority_[job.priority].insert(slot);
  if (job.extras) {
    for (uint32_t tag : job.extras->tags) queued_by_tag_[tag].insert(slot);
  }
}

void EngineImpl::Dequeue(uint32_t slot) {
  const JobRecord& job = table_[slot];
  queued_.erase(slot);
  auto it = queued_by_priority_.find(job.priority);
  it->second.erase(slot);
  if (it->second.empty()) queued_by_priority_.erase(it);
  if (job.extras) {
    for (uint32_t tag : job.extras->tags) {
      auto t = queued_by_tag_.find(tag);
      t->second.erase(slot);
      if (t->second.empty()) queued_by_tag_.erase(t);
    }
  }
}

std::optional<uint32_t> EngineImpl::PickQueued(absl::Span<const uint32_t> wanted) const {
  // Candidates: the queued jobs of the rarest wanted tag (or all of them).
  const SlotSet* candidates = &queued_;
  for (uint32_t tag : wanted) {
    auto it = queued_by_tag_.find(tag);
    if (it == queued_by_tag_.end()) return std::nullopt;
    if (candidates == &queued_ || it->second.size() < candidates->size()) {
      candidates = &it->second;
    }
  }
  auto carries = [&](uint32_t slot) {
    if (wanted.size() <= 1) return true;  // a candidate carries the one tag
    const std::vector<uint32_t>& have = table_[slot].extras->tags;  // sorted
    return std::includes(have.begin(), have.end(), wanted.begin(), wanted.end());
  };
  std::optional<uint32_t> found;
  auto take = [&](uint32_t slot) {
    if (!carries(slot)) return true;
    found = slot;
    return false;
  };
  switch (options_.pickup_order) {
    case SortOrder::kOldestFirst:
      candidates->ForEach(take);
      break;
    case SortOrder::kNewestFirst:
      candidates->ForEachDescending(take);
      break;
    case SortOrder::kPriority:
      // Highest priority first; within one, oldest first.
      for (const auto& [priority, group] : queued_by_priority_) {
        if (candidates == &queued_) {
          group.ForEach(take);
        } else {
          SlotSet::ForEachInBoth(group, *candidates, take);
        }
        if (found) break;
      }
      break;
    case SortOrder::kRandom: {
      // A uniformly random candidate; when it lacks another wanted tag, the
      // first candidate after it (wrapping around) that has them all.
      if (candidates->empty()) break;
      const uint32_t start = candidates->Select(NextRandom() % candidates->size());
      candidates->ForEach([&](uint32_t slot) { return slot < start || take(slot); });
      if (!found) candidates->ForEach([&](uint32_t slot) { return slot < start && take(slot); });
      break;
    }
  }
  return found;
}

absl::Status EngineImpl::Refused(uint32_t slot, JobEvent event) const {
  const JobRecord& job = table_[slot];
  return absl::FailedPreconditionError(absl::StrCat("job ", job.id.ToString(), " is ",
                                                    Sv(StateName(job.state())), "; ",
                                                    Sv(EventName(event)), " is not allowed"));
}

void EngineImpl::CancelClosure(absl::Span<const uint32_t> named, int64_t now_ms,
                               std::vector<uint32_t>& cancelled) {
  const EventArgs args{.now_ms = now_ms};
  // Breadth-first from the named jobs, in request order; each entry carries
  // the named job its cascade started from.
  std::deque<std::pair<uint32_t, uint32_t>> work;
  // E: every named job first, so a named job is always "Cancelled via API"
  // even when another named job's cascade would reach it.
  for (uint32_t slot : named) {
    bool ok = Transition(slot, JobEvent::kCancel, args);
    assert(ok && "named jobs are checked cancellable before the closure runs");
    (void)ok;
    table_[slot].cause = ErrorCause::kCancelledViaApi;
    cancelled.push_back(slot);
    work.emplace_back(slot, slot);
  }
  CancelCascade(work, now_ms, cancelled);
}

void EngineImpl::CancelCascade(std::deque<std::pair<uint32_t, uint32_t>>& work, int64_t now_ms,
                               std::vector<uint32_t>& cancelled) {
  const EventArgs args{.now_ms = now_ms};
  auto cascade = [&](uint32_t slot, uint32_t origin) {
    Transition(slot, JobEvent::kCancel, args, Cause{TransitionCause::kCascade, origin});
    JobRecord& job = table_[slot];
    job.cause = ErrorCause::kCancelCascade;
    job.cause_slot = origin;
    cancelled.push_back(slot);
    work.emplace_back(slot, origin);
  };
  while (!work.empty()) {
    auto [slot, origin] = work.front();
    work.pop_front();
    const Vertex v = table_[slot].vertex;
    if (v == kNoVertex) continue;
    // R: a job one of whose prerequisites is cancelled.
    graph_.ForEachDependent(v, [&](uint32_t d) {
      if (IsCancellable(table_[d].state())) cascade(d, origin);
    });
    // U: a job whose dependents are all cancelled (or failed).
    graph_.ForEachPrerequisite(v, [&](uint32_t p) {
      const JobRecord& pre = table_[p];
      if (IsCancellable(pre.state()) && graph_.node(pre.vertex).live_dependents == 0) {
        cascade(p, origin);
      }
    });
  }
}

void EngineImpl::EndAborted(uint32_t slot, int64_t now_ms, bool acknowledged) {
  DropLease(slot);
  bool ok = Transition(slot, JobEvent::kAbortAcknowledged, {.now_ms = now_ms},
                       Cause{acknowledged ? TransitionCause::kAbortAcknowledged
                                          : TransitionCause::kAbortGraceExpired,
                             kNone32});
  assert(ok);
  (void)ok;
  table_[slot].cause = ErrorCause::kCancelledViaApi;  // the abort named it
  std::deque<std::pair<uint32_t, uint32_t>> work{{slot, slot}};
  std::vector<uint32_t> cancelled;
  CancelCascade(work, now_ms, cancelled);
}

void EngineImpl::EndAttempt(uint32_t slot, JobEvent event, int64_t now_ms) {
  DropLease(slot);
  JobRecord& job = table_[slot];
  const bool attempts_left = job.timeline.attempts < options_.max_attempts;
  bool ok = Transition(slot, event, {.now_ms = now_ms, .attempts_left = attempts_left});
  assert(ok);
  (void)ok;
  if (job.state() == JobState::kError) {
    job.cause = ErrorCause::kLeaseExpired;
    PropagateFailure(slot, now_ms);
  }
}

void EngineImpl::SetLease(uint32_t slot, const ActiveLease& lease) {
  JournalLease(slot);
  auto [it, inserted] = leases_.try_emplace(slot, lease);
  if (!inserted) {
    deadlines_.erase({it->second.due_ms(), slot});
    it->second = lease;
  }
  deadlines_.insert({lease.due_ms(), slot});
  WakeTimerFor(lease.due_ms());
}

void EngineImpl::DropLease(uint32_t slot) {
  auto it = leases_.find(slot);
  if (it == leases_.end()) return;
  JournalLease(slot);
  deadlines_.erase({it->second.due_ms(), slot});
  leases_.erase(it);
}

void EngineImpl::PropagateFailure(uint32_t failed, int64_t now_ms) {
  const EventArgs args{.now_ms = now_ms};
  std::deque<uint32_t> work{failed};
  while (!work.empty()) {
    const uint32_t slot = work.front();
    work.pop_front();
    const Vertex v = table_[slot].vertex;
    if (v == kNoVertex) continue;
    graph_.ForEachDependent(v, [&](uint32_t d) {
      JobRecord& dep = table_[d];
      if (dep.state() != JobState::kPending) return;  // rendering ones run on
      if (dep.policy == PrerequisiteFailurePolicy::kIgnore) {
        if (--graph_.node(dep.vertex).unresolved_prerequisites == 0) {
          Transition(d, JobEvent::kPrerequisitesMet, args,
                     Cause{TransitionCause::kPrerequisitesFinished, slot});
        }
        return;
      }
      Transition(d, JobEvent::kPrerequisiteFailed, args,
                 Cause{TransitionCause::kPrerequisiteFailed, slot});
      dep.cause = ErrorCause::kPrerequisiteFailed;
      dep.cause_slot = slot;
      work.push_back(d);
    });
    graph_.ForEachPrerequisite(v, [&](uint32_t p) {
      JobRecord& pre = table_[p];
      if (IsCancellable(pre.state()) && graph_.node(pre.vertex).live_dependents == 0) {
        Transition(p, JobEvent::kDependentsFailed, args,
                   Cause{TransitionCause::kDependentsFailed, slot});
        pre.cause = ErrorCause::kDependentFailed;
        pre.cause_slot = slot;
        work.push_back(p);
      }
    });
  }
}

void EngineImpl::ResolveDependents(uint32_t slot, int64_t now_ms) {
  const Vertex v = table_[slot].vertex;
  if (v == kNoVertex) return;
  const EventArgs args{.now_ms = now_ms};
  graph_.ForEachDependent(v, [&](uint32_t d) {
    JobRecord& dep = table_[d];
    if (--graph_.node(dep.vertex).unresolved_prerequisites == 0 &&
        dep.state() == JobState::kPending) {
      Transition(d, JobEvent::kPrerequisitesMet, args,
                 Cause{TransitionCause::kPrerequisitesFinished, slot});
    }
  });
}

// ---- Submit -----------------------------------------------------------------

namespace {

bool HasDependsOn(const JobSpec& spec) {
  if (!spec.depends_on.empty()) return true;
  for (const JobSpec& child : spec.children) {
    if (HasDependsOn(child)) return true;
  }
  return false;
}

}  // namespace

absl::Status EngineImpl::CheckDependencies(uint32_t team, const JobSpec& spec) const {
  if (!HasDependsOn(spec)) return absl::OkStatus();
  std::vector<std::string> unknown, dead;
  auto visit = [&](const JobSpec& s, auto& self) -> void {
    for (JobId id : s.depends_on) {
      auto it = by_id_.find(id);
      if (it == by_id_.end() || table_[it->second].team != team) {
        unknown.push_back(id.ToString());
      } else if (IsDead(table_[it->second].state())) {
        dead.push_back(
            absl::StrCat(id.ToString(), " (", Sv(StateName(table_[it->second].state())), ")"));
      }
    }
    for (const JobSpec& child : s.children) self(child, self);
  };
  visit(spec, visit);
  if (!unknown.empty()) {
    return absl::NotFoundError(
        absl::StrCat("dependsOn: job(s) not found: ", absl::StrJoin(unknown, ", ")));
  }
  if (!dead.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "dependsOn: job(s) already ended without finishing: ", absl::StrJoin(dead, ", ")));
  }
  return absl::OkStatus();
}

Vertex EngineImpl::EnsureVertex(uint32_t slot) {
  JobRecord& job = table_[slot];
  if (job.vertex == kNoVertex) job.vertex = graph_.AddVertex(slot);
  return job.vertex;
}

uint32_t EngineImpl::CreateTree(uint32_t team, const JobSpec& spec, uint32_t parent,
                                BatchRecord* batch, uint32_t batch_number, size_t batch_index,
                                int64_t now_ms, CreatedJob* out) {
  const uint32_t slot = table_.Append();
  JobRecord& job = table_[slot];
  last_created_ms_ = std::max(last_created_ms_, now_ms);
  job.created_ms = last_created_ms_;
  job.id = ids_.Next(absl::FromUnixMillis(now_ms));
  job.team = team;
  if (!spec.template_id.empty()) job.template_ref = templates_.Intern(spec.template_id);
  job.total_assets = static_cast<uint32_t>(spec.total_assets);
  job.priority = spec.priority;
  job.policy = spec.on_prerequisite_failure;
  job.parent = parent;
  if (batch != nullptr) {
    job.batch = batch_number;
    job.top_level_of_batch = parent == kNone32;
    job.batch_index = static_cast<uint16_t>(batch_index);
  }
  if (!spec.tags.empty() || !spec.output_url.empty() || !spec.payload.empty() || spec.webhook) {
    JobExtras& extras = job.mutable_extras();
    extras.output_url = spec.output_url;
    extras.payload = spec.payload;
    if (spec.webhook) extras.webhook = std::make_unique<WebhookSpec>(*spec.webhook);
    for (const std::string& tag : spec.tags) extras.tags.push_back(tags_.Intern(tag));
    std::sort(extras.tags.begin(), extras.tags.end());
    extras.tags.erase(std::unique(extras.tags.begin(), extras.tags.end()), extras.tags.end());
  }
  by_id_.emplace(job.id, slot);
  JournalJob(slot);

  // Pending iff a prerequisite is unfinished: every new child is.
  uint32_t unresolved = static_cast<uint32_t>(spec.children.size());
  for (JobId dep : spec.depends_on) {
    if (table_[by_id_.at(dep)].state() != JobState::kFinished) ++unresolved;
  }
  EventArgs args{.now_ms = now_ms, .blocked = unresolved > 0};
  bool ok = job.machine.Apply(JobEvent::kSubmit, args, job.timeline);
  assert(ok);
  (void)ok;
  const JobState state = job.state();
  RecordEvent(slot, std::nullopt, state, now_ms, Cause{TransitionCause::kSubmitted, kNone32});
  team_index_[team]->Add(
      slot, state,
      job.extras ? absl::Span<const uint32_t>(job.extras->tags) : absl::Span<const uint32_t>());
  if (state == JobState::kQueued) Enqueue(slot);
  if (job.top_level_of_batch) {
    batch->top_level().push_back(slot);
    batch->Add(state);
  }

  if (!spec.depends_on.empty() || !spec.children.empty()) {
    EnsureVertex(slot);
    graph_.node(job.vertex).unresolved_prerequisites = unresolved;
  }
  for (JobId dep : spec.depends_on) {
    const uint32_t p = by_id_.at(dep);
    const Vertex pv = EnsureVertex(p);
    const uint64_t key = next_edge_key_++;
    graph_.AddEdge(pv, table_[slot].vertex, key);
    ++graph_.node(pv).live_dependents;
    JournalEdge(key, p, slot);
  }
  if (out != nullptr) out->id = job.id;
  for (const JobSpec& child_spec : spec.children) {
    CreatedJob* child_out = nullptr;
    if (out != nullptr) child_out = &out->children.emplace_back();
    const uint32_t c =
        CreateTree(team, child_spec, slot, batch, batch_number, 0, now_ms, child_out);
    const Vertex cv = EnsureVertex(c);
    const uint64_t key = next_edge_key_++;
    graph_.AddEdge(cv, table_[slot].vertex, key);
    ++graph_.node(cv).live_dependents;
    JournalEdge(key, c, slot);
  }
  if (out != nullptr) {
    out->state = table_[slot].state();
    out->output_url = OutputUrl(table_[slot], batch);  // not published yet
  }
  return slot;
}

absl::StatusOr<CreatedJob> EngineImpl::Submit(std::string_view team, const JobSpec& spec) {
  CASCADE_RETURN_IF_ERROR(ValidateTeam(team));
  CASCADE_RETURN_IF_ERROR(ValidateSpec(spec));
  const int64_t now_ms = NowMillis();
  WriteSection section(this);
  CASCADE_RETURN_IF_ERROR(section.writable());
  const uint32_t team_id = teams_.Intern(team);
  if (team_id == team_index_.size()) team_index_.push_back(std::make_unique<TeamIndex>());
  CASCADE_RETURN_IF_ERROR(CheckDependencies(team_id, spec));
  CreatedJob created;
  CreateTree(team_id, spec, kNone32, nullptr, 0, 0, now_ms, &created);
  CASCADE_RETURN_IF_ERROR(section.Commit());
  return created;
}

absl::StatusOr<BatchSubmitResult> EngineImpl::SubmitBatch(std::string_view team,
                                                          absl::Span<const JobSpec> specs) {
  return SubmitBatchImpl(
      team, specs.size(), [&](size_t i) { return &specs[i]; },
      [](size_t) { return absl::OkStatus(); });
}

absl::StatusOr<BatchSubmitResult> EngineImpl::SubmitBatchEntries(
    std::string_view team, absl::Span<const absl::StatusOr<JobSpec>> entries) {
  return SubmitBatchImpl(
      team, entries.size(), [&](size_t i) { return entries[i].ok() ? &*entries[i] : nullptr; },
      [&](size_t i) { return entries[i].status(); });
}

absl::StatusOr<BatchSubmitResult> EngineImpl::SubmitBatchImpl(
    std::string_view team, size_t count, absl::FunctionRef<const JobSpec*(size_t)> spec_at,
    absl::FunctionRef<absl::Status(size_t)> rejected) {
  CASCADE_RETURN_IF_ERROR(ValidateTeam(team));
  if (count == 0 || count > kMaxBatchJobs) {
    return InvalidArgumentWithViolations(
        "invalid batch",
        {{"jobs", absl::StrCat("a batch has 1-", kMaxBatchJobs, " jobs, got ", count)}});
  }
  // Static checks need no lock.
  std::vector<absl::Status> checks;
  checks.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const JobSpec* spec = spec_at(i);
    checks.push_back(spec != nullptr ? ValidateSpec(*spec) : rejected(i));
  }

  const int64_t now_ms = NowMillis();
  WriteSection section(this);
  CASCADE_RETURN_IF_ERROR(section.writable());
  const uint32_t team_id = teams_.Intern(team);
  if (team_id == team_index_.size()) team_index_.push_back(std::make_unique<TeamIndex>());

  BatchSubmitResult result;
  result.total_jobs = count;
  result.batch_id = ids_.Next(absl::FromUnixMillis(now_ms));
  auto batch = std::make_unique<BatchRecord>(result.batch_id, std::string(team));
  const uint32_t number = batches_.next_number();
  for (size_t i = 0; i < count; ++i) {
    absl::Status status = checks[i];
    if (status.ok()) status = CheckDependencies(team_id, *spec_at(i));
    if (!status.ok()) {
      result.errors.push_back({i, std::string(status.message()), ErrorCodeName(status.code())});
      continue;
    }
    BatchJobResult& created = result.jobs.emplace_back();
    created.index = i;
    CreateTree(team_id, *spec_at(i), kNone32, batch.get(), number, i, now_ms, &created.job);
  }
  result.success_count = result.jobs.size();
  if (result.success_count == 0) {
    result.status = BatchSubmitStatus::kError;  // the batch id stays unused
  } else {
    result.status =
        result.errors.empty() ? BatchSubmitStatus::kCreated : BatchSubmitStatus::kPartial;
    JournalBatch(*batch, now_ms);
    batches_.Insert(std::move(batch));  // publish: readers see it whole
  }
  CASCADE_RETURN_IF_ERROR(section.Commit());
  return result;
}

// ---- Read -------------------------------------------------------------------

absl::StatusOr<Job> EngineImpl::Get(std::string_view team, JobId id) const {
  // Every path returns `job`, so the compiler builds it in the caller's
  // storage (an early `return status;` would make it move the Job instead).
  absl::StatusOr<Job> job(absl::in_place);
  if (absl::Status valid = ValidateTeam(team); !valid.ok()) {
    job = std::move(valid);
    return job;
  }
  ReaderLock lock(&mu_);
  absl::StatusOr<uint32_t> slot = FindJob(team, id);
  if (!slot.ok()) {
    job = std::move(slot).status();
    return job;
  }
  ViewInto(*slot, *job);
  return job;
}

absl::StatusOr<std::vector<Job>> EngineImpl::GetFamily(std::string_view team, JobId id) const {
  CASCADE_RETURN_IF_ERROR(ValidateTeam(team));
  ReaderLock lock(&mu_);
  CASCADE_ASSIGN_OR_RETURN(uint32_t slot, FindJob(team, id));
  std::vector<uint32_t> jobs, batches;
  CollectFamily(slot, /*through_batches=*/false, jobs, batches);
  return Views(std::move(jobs));
}

size_t EngineImpl::JobCount() const {
  ReaderLock lock(&mu_);
  return table_.size() - purged_jobs_;
}

absl::StatusOr<std::vector<Job>> EngineImpl::List(std::string_view team,
                                                  const ListQuery& query) const {
  CASCADE_RETURN_IF_ERROR(ValidateTeam(team));
  if (query.limit < 1 || query.limit > ListQuery::kMaxLimit) {
    return InvalidArgumentWithViolations(
        "invalid list query",
        {{"limit", absl::StrCat("must be 1-", ListQuery::kMaxLimit, ", got ", query.limit)}});
  }
  Selection sel;
  for (int s = 0; s < kNumJobStates; ++s) sel.states[s] = query.states.empty();
  for (JobState s : query.states) sel.states[static_cast<int>(s)] = true;
  for (JobState s : query.exclude_states) sel.states[static_cast<int>(s)] = false;
  sel.sort = query.sort;
  sel.offset = query.offset;
  sel.limit = query.limit;

  ReaderLock lock(&mu_);
  std::optional<uint32_t> team_id = teams_.Find(team);
  if (!team_id) return std::vector<Job>();
  for (const std::string& tag : query.tags) {
    std::optional<uint32_t> t = tags_.Find(tag);
    if (!t) return std::vector<Job>();  // nobody carries it
    sel.tags.push_back(*t);
  }
  sel.lo = query.from_date ? table_.LowerBoundCreated(absl::ToUnixMillis(*query.from_date)) : 0;
  sel.hi =
      query.to_date ? table_.LowerBoundCreated(absl::ToUnixMillis(*query.to_date)) : table_.size();
  std::vector<uint32_t> page = SelectPage(*team_index_[*team_id], table_, sel, NextRandom());
  std::vector<Job> jobs(page.size());
  for (size_t i = 0; i < page.size(); ++i) ViewInto(page[i], jobs[i]);
  return jobs;
}

absl::StatusOr<BatchCounts> EngineImpl::GetBatchCounts(std::string_view team, BatchId id) const {
  CASCADE_RETURN_IF_ERROR(ValidateTeam(team));
  const BatchRecord* batch = FindBatch(team, id);
  if (batch == nullptr) {
    return absl::NotFoundError(absl::StrCat("batch ", id.ToString(), " not found"));
  }
  return batch->Snapshot();
}

absl::StatusOr<BatchView> EngineImpl::GetBatch(std::string_view team, BatchId id) const {
  CASCADE_RETURN_IF_ERROR(ValidateTeam(team));
  const BatchRecord* batch = FindBatch(team, id);
  if (batch == nullptr) {
    return absl::NotFoundError(absl::StrCat("batch ", id.ToString(), " not found"));
  }
  ReaderLock lock(&mu_);
  if (batch->purged()) {  // by retention, since FindBatch
    return absl::NotFoundError(absl::StrCat("batch ", id.ToString(), " not found"));
  }
  BatchView view;
  view.batch_id = id;
  view.counts = batch->Snapshot();  // under the lock: agrees with the views
  view.status = StatusOf(view.counts);
  for (uint32_t slot : batch->top_level()) {
    view.jobs.push_back({table_[slot].batch_index, View(slot)});
  }
  return view;
}

// ---- Cancel -----------------------------------------------------------------

absl::StatusOr<std::vector<Job>> EngineImpl::Cancel(std::string_view team, JobId id) {
  CASCADE_RETURN_IF_ERROR(ValidateTeam(team));
  const int64_t now_ms = NowMillis();
  WriteSection section(this);
  CASCADE_RETURN_IF_ERROR(section.writable());
  CASCADE_ASSIGN_OR_RETURN(uint32_t slot, FindJob(team, id));
  if (!table_[slot].machine.Accepts(JobEvent::kCancel, {})) return Refused(slot, JobEvent::kCancel);
  std::vector<uint32_t> cancelled;
  const uint32_t named[] = {slot};
  CancelClosure(named, now_ms, cancelled);
  std::vector<Job> views = Views(std::move(cancelled));
  CASCADE_RETURN_IF_ERROR(section.Commit());
  return views;
}

absl::StatusOr<std::vector<Job>> EngineImpl::CancelMany(std::string_view team,
                                                        absl::Span<const JobId> ids) {
  CASCADE_RETURN_IF_ERROR(ValidateTeam(team));
  if (ids.empty() || ids.size() > kMaxCancelIds) {
    return InvalidArgumentWithViolations(
        "invalid cancel request",
        {{"jobs", absl::StrCat("expected 1-", kMaxCancelIds, " ids, got ", ids.size())}});
  }
  {
    absl::flat_hash_map<JobId, size_t> first;
    first.reserve(ids.size());
    std::vector<FieldViolation> dups;
    for (size_t i = 0; i < ids.size(); ++i) {
      auto [it, inserted] = first.emplace(ids[i], i);
      if (!inserted) {
        dups.push_back({absl::StrCat("jobs[", i, "]"),
                        absl::StrCat(ids[i].ToString(), " repeats jobs[", it->second, "]")});
      }
    }
    if (!dups.empty()) return InvalidArgumentWithViolations("duplicate job ids", dups);
  }
  const int64_t now_ms = NowMillis();
  WriteSection section(this);
  CASCADE_RETURN_IF_ERROR(section.writable());
  std::vector<uint32_t> slots = FindJobs(team, ids);
  std::vector<std::string> unknown;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (slots[i] == kNone32) unknown.push_back(ids[i].ToString());
  }
  if (!unknown.empty()) {
    return absl::NotFoundError(absl::StrCat("job(s) not found: ", absl::StrJoin(unknown, ", ")));
  }
  std::vector<std::string> refused;
  for (uint32_t slot : slots) {
    if (!table_[slot].machine.Accepts(JobEvent::kCancel, {})) {
      refused.push_back(
          absl::StrCat(table_[slot].id.ToString(), " (", Sv(StateName(table_[slot].state())), ")"));
    }
  }
  if (!refused.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("job(s) not cancellable (only queued or pending jobs are): ",
                     absl::StrJoin(refused, ", ")));
  }
  std::vector<uint32_t> cancelled;
  cancelled.reserve(slots.size());
  CancelClosure(slots, now_ms, cancelled);
  std::vector<Job> views = Views(std::move(cancelled));
  CASCADE_RETURN_IF_ERROR(section.Commit());
  return views;
}

absl::StatusOr<BatchCancelResult> EngineImpl::CancelBatch(std::string_view team, BatchId id) {
  CASCADE_RETURN_IF_ERROR(ValidateTeam(team));
  const BatchRecord* batch = FindBatch(team, id);
  if (batch == nullptr) {
    return absl::NotFoundError(absl::StrCat("batch ", id.ToString(), " not found"));
  }
  const int64_t now_ms = NowMillis();
  WriteSection section(this);
  CASCADE_RETURN_IF_ERROR(section.writable());
  if (batch->purged()) {  // by retention, since FindBatch
    return absl::NotFoundError(absl::StrCat("batch ", id.ToString(), " not found"));
  }
  BatchCancelResult result;
  result.batch_id = id;
  result.total_jobs = batch->top_level().size();
  std::vector<uint32_t> cancelled;
  for (uint32_t slot : batch->top_level()) {
    if (table_[slot].machine.Accepts(JobEvent::kCancel, {})) {
      const uint32_t named[] = {slot};
      CancelClosure(named, now_ms, cancelled);
    }
  }
  absl::flat_hash_set<uint32_t> by_request(cancelled.begin(), cancelled.end());
  for (uint32_t slot : batch->top_level()) {
    const JobRecord& job = table_[slot];
    BatchCancelJobResult& r = result.jobs.emplace_back();
    r.index = job.batch_index;
    r.id = job.id;
    r.state = job.state();
    r.cancelled = by_request.contains(slot);
    if (r.cancelled) {
      ++result.cancelled_count;
    } else {
      ++result.skipped_count;
      r.reason = absl::StrCat("job is ", Sv(StateName(job.state())));
    }
  }
  result.status = result.cancelled_count == 0 ? BatchCancelStatus::kUnchanged
                  : result.skipped_count == 0 ? BatchCancelStatus::kCancelled
                                              : BatchCancelStatus::kPartial;
  result.cancelled_jobs = Views(std::move(cancelled));
  CASCADE_RETURN_IF_ERROR(section.Commit());
  return result;
}

// ---- Workers ----------------------------------------------------------------

absl::StatusOr<ClaimedJob> EngineImpl::Claim(const ClaimRequest& request) {
  if (request.lease && *request.lease <= absl::ZeroDuration()) {
    return InvalidArgumentWithViolations("invalid claim", {{"leaseSeconds", "must be positive"}});
  }
  const int64_t now_ms = NowMillis();
  WriteSection section(this);
  CASCADE_RETURN_IF_ERROR(section.writable());
  std::vector<uint32_t> wanted;
  for (const std::string& tag : request.tags) {
    std::optional<uint32_t> t = tags_.Find(tag);
    if (!t) return absl::NotFoundError("no queued job carries the requested tags");
    wanted.push_back(*t);
  }
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());  // a set of tags
  std::optional<uint32_t> found = PickQueued(wanted);
  if (!found) return absl::NotFoundError("no queued job to claim");
  const uint32_t slot = *found;
  bool ok = Transition(slot, JobEvent::kClaim, {.now_ms = now_ms});
  assert(ok);
  (void)ok;
  const JobRecord& job = table_[slot];
  ActiveLease lease;
  lease.token = MakeLeaseToken(slot);
  lease.length_ms = absl::ToInt64Milliseconds(request.lease.value_or(options_.lease_duration));
  lease.expires_ms = now_ms + lease.length_ms;
  SetLease(slot, lease);
  ClaimedJob claimed;
  ViewInto(slot, claimed.job);
  claimed.lease = {LeaseToken(lease.token), absl::FromUnixMillis(lease.expires_ms)};
  if (job.extras) claimed.payload = job.extras->payload;
  CASCADE_RETURN_IF_ERROR(section.Commit());
  return claimed;
}

uint64_t EngineImpl::MakeLeaseToken(uint32_t slot) const {
  uint64_t high = 0;
  while (high == 0) high = NextRandom() >> 32;
  return (high << 32) | (slot ^ lease_slot_key_);
}

absl::StatusOr<uint32_t> EngineImpl::FindLeased(JobId id, std::string_view lease_token,
                                                JobEvent event) const {
  uint64_t token = 0;
  const bool parsed = lease_token.size() == 16 && absl::SimpleHexAtoi(Sv(lease_token), &token);
  // The token's low half names the slot it was issued for: when that slot
  // still holds `id` there is no need to search the id map (a cache miss in
  // a large engine). Otherwise search it; a token that does not parse, or
  // names another job, is caught by the comparison below either way.
  uint32_t slot = static_cast<uint32_t>(token) ^ lease_slot_key_;
  if (!parsed || slot >= table_.size() || table_[slot].id != id) {
    CASCADE_ASSIGN_OR_RETURN(slot, FindAnyJob(id));
  }
  const JobRecord& job = table_[slot];
  if (job.state() != JobState::kRendering) return Refused(slot, event);
  auto lease = leases_.find(slot);
  if (!parsed || lease == leases_.end() || token != lease->second.token) {
    return absl::FailedPreconditionError(
        absl::StrCat("job ", id.ToString(), ": the lease is stale or not this job's"));
  }
  return slot;
}

absl::StatusOr<Job> EngineImpl::Finish(JobId id, std::string_view lease_token,
                                       const FinishReport& report) {
  const int64_t now_ms = NowMillis();
  WriteSection section(this);
  CASCADE_RETURN_IF_ERROR(section.writable());
  CASCADE_ASSIGN_OR_RETURN(uint32_t slot, FindLeased(id, lease_token, JobEvent::kFinish));
  if (report.output_url.size() > kMaxOutputUrlBytes) {
    return InvalidArgumentWithViolations(
        "invalid finish report",
        {{"outputUrl", absl::StrCat("longer than ", kMaxOutputUrlBytes, " bytes")}});
  }
  DropLease(slot);
  Transition(slot, JobEvent::kFinish, {.now_ms = now_ms});
  JobRecord& job = table_[slot];
  if (!report.output_url.empty()) job.mutable_extras().output_url = report.output_url;
  ResolveDependents(slot, now_ms);
  Job view = View(slot);
  CASCADE_RETURN_IF_ERROR(section.Commit());
  return view;
}

absl::StatusOr<Job> EngineImpl::Fail(JobId id, std::string_view lease_token,
                                     std::string_view error) {
  const int64_t now_ms = NowMillis();
  WriteSection section(this);
  CASCADE_RETURN_IF_ERROR(section.writable());
  CASCADE_ASSIGN_OR_RETURN(uint32_t slot, FindLeased(id, lease_token, JobEvent::kFail));
  DropLease(slot);
  Transition(slot, JobEvent::kFail, {.now_ms = now_ms});
  JobRecord& job = table_[slot];
  job.cause = ErrorCause::kCustom;
  job.mutable_extras().error = error.empty() ? "render failed" : std::string(error.substr(0, 4096));
  PropagateFailure(slot, now_ms);
  Job view = View(slot);
  CASCADE_RETURN_IF_ERROR(section.Commit());
  return view;
}

absl::StatusOr<HeartbeatResult> EngineImpl::Heartbeat(JobId id, std::string_view lease_token,
                                                      const HeartbeatReport& report) {
  std::vector<FieldViolation> bad;
  if (report.progress && !(*report.progress >= 0.0 && *report.progress <= 100.0)) {
    bad.push_back({"progress", absl::StrCat("must be 0-100, got ", *report.progress)});
  }
  if (report.extend && *report.extend <= absl::ZeroDuration()) {
    bad.push_back({"extend", "must be positive"});
  }
  if (!bad.empty()) return InvalidArgumentWithViolations("invalid heartbeat", bad);
  const int64_t now_ms = NowMillis();
  WriteSection section(this);
  CASCADE_RETURN_IF_ERROR(section.writable());
  CASCADE_ASSIGN_OR_RETURN(uint32_t slot, FindLeased(id, lease_token, JobEvent::kProgress));
  if (report.progress) {
    Transition(slot, JobEvent::kProgress,
               {.now_ms = now_ms, .progress = static_cast<float>(*report.progress)});
  }
  ActiveLease lease = leases_.at(slot);
  lease.expires_ms =
      now_ms + (report.extend ? absl::ToInt64Milliseconds(*report.extend) : lease.length_ms);
  SetLease(slot, lease);
  HeartbeatResult result;
  ViewInto(slot, result.job);
  result.lease = {std::string(lease_token), absl::FromUnixMillis(lease.expires_ms)};
  result.cancel_requested = table_[slot].cancel_requested;
  CASCADE_RETURN_IF_ERROR(section.Commit());
  return result;
}

absl::StatusOr<Job> EngineImpl::Release(JobId id, std::string_view lease_token) {
  const int64_t now_ms = NowMillis();
  WriteSection section(this);
  CASCADE_RETURN_IF_ERROR(section.writable());
  CASCADE_ASSIGN_OR_RETURN(uint32_t slot, FindLeased(id, lease_token, JobEvent::kRelease));
  if (table_[slot].cancel_requested) {
    EndAborted(slot, now_ms, /*acknowledged=*/true);  // releasing acknowledges the abort
  } else {
    EndAttempt(slot, JobEvent::kRelease, now_ms);
  }
  Job view = View(slot);
  CASCADE_RETURN_IF_ERROR(section.Commit());
  return view;
}

absl::StatusOr<Job> EngineImpl::RequestAbort(std::string_view team, JobId id) {
  CASCADE_RETURN_IF_ERROR(ValidateTeam(team));
  const int64_t now_ms = NowMillis();
  WriteSection section(this);
  CASCADE_RETURN_IF_ERROR(section.writable());
  CASCADE_ASSIGN_OR_RETURN(uint32_t slot, FindJob(team, id));
  JobRecord& job = table_[slot];
  if (job.state() != JobState::kRendering) {
    return absl::FailedPreconditionError(absl::StrCat("job ", id.ToString(), " is ",
                                                      Sv(StateName(job.state())),
                                                      "; only a rendering job can be aborted"));
  }
  if (!job.cancel_requested) {
    job.cancel_requested = true;
    job.timeline.updated_ms = now_ms;
    JournalJob(slot);
    ActiveLease lease = leases_.at(slot);
    lease.abort_deadline_ms = now_ms + absl::ToInt64Milliseconds(options_.abort_grace);
    SetLease(slot, lease);
  }
  Job view = View(slot);
  CASCADE_RETURN_IF_ERROR(section.Commit());
  return view;
}

size_t EngineImpl::EndDueLeases(int64_t now_ms) {
  size_t changed = 0;
  while (!deadlines_.empty() && deadlines_.begin()->first <= now_ms) {
    const uint32_t slot = deadlines_.begin()->second;
    // An abort requested and not acknowledged in time, or a lease lost while
    // an abort was pending: the job was asked to stop, so it is cancelled.
    if (table_[slot].cancel_requested) {
      EndAborted(slot, now_ms, /*acknowledged=*/false);
    } else {
      EndAttempt(slot, JobEvent::kLeaseExpired, now_ms);
    }
    ++changed;
  }
  return changed;
}

size_t EngineImpl::RunDueWork() {
  size_t changed = 0;
  {
    const int64_t now_ms = NowMillis();
    WriteSection section(this);
    // After a failed commit nothing changes; the caller of a timer has no
    // answer to give, and the next write call reports the failure.
    if (section.writable().ok()) {
      changed = EndDueLeases(now_ms);
      // Bounded, so that a backlog (after a restart, say) is purged over
      // several passes rather than in one long hold of the lock.
      if (retaining()) PurgeExpiredFamilies(now_ms, /*budget=*/4096);
      section.Commit().IgnoreError();
    }
  }
  // With a real clock the delivery threads send; with a manual one, this.
  if (clock_->IsManual()) SendDueDeliveries();
  return changed;
}

void EngineImpl::WakeTimerFor(int64_t due_ms) {
  if (due_ms >= timer_planned_wake_ms_.load(std::memory_order_acquire)) return;
  {
    std::lock_guard<std::mutex> lock(timer_mu_);
    ++timer_generation_;
  }
  timer_cv_.notify_one();
}

void EngineImpl::TimerLoop() {
  // Lock order: mu_ before timer_mu_. This thread never holds timer_mu_ while
  // it takes mu_ (RunDueWork and the deadline read happen unlocked).
  constexpr int64_t kMaxWaitMs = 1000;
  std::unique_lock<std::mutex> timer_lock(timer_mu_);
  while (!timer_stop_) {
    const uint64_t generation = timer_generation_;
    timer_lock.unlock();
    RunDueWork();
    // While the wait is being worked out, any new deadline wakes the thread
    // again (the predicate below sees the generation move).
    timer_planned_wake_ms_.store(std::numeric_limits<int64_t>::max(), std::memory_order_release);
    const int64_t now_ms = NowMillis();
    int64_t wait_ms = kMaxWaitMs;
    {
      ReaderLock lock(&mu_);
      if (!deadlines_.empty()) {
        wait_ms = std::clamp<int64_t>(deadlines_.begin()->first - now_ms, 1, kMaxWaitMs);
      }
    }
    timer_planned_wake_ms_.store(now_ms + wait_ms, std::memory_order_release);
    timer_lock.lock();
    timer_cv_.wait_for(timer_lock, std::chrono::milliseconds(wait_ms),
                       [&] { return timer_stop_ || timer_generation_ != generation; });
  }
}

// ---- Events -----------------------------------------------------------------

Subscription EngineImpl::Subscribe(EventCallback callback, const SubscribeOptions& options) {
  // Under the writer lock, so the first event it sees starts an operation.
  WriteSection section(this);
  return hub_.Subscribe(std::move(callback), options.max_queued);
}

// ---- Webhook outbox ----------------------------------------------------------

void EngineImpl::QueueDelivery(uint32_t slot, int64_t now_ms) {
  const uint64_t key = next_delivery_key_++;
  Delivery& delivery = outbox_[key];
  delivery.id = ids_.Next(absl::FromUnixMillis(now_ms)).ToString();
  delivery.slot = slot;
  delivery.team = table_[slot].team;
  delivery.created_ms = now_ms;
  delivery.due_ms = now_ms;
  outbox_due_.insert({now_ms, key});
  ++outbox_counts_.pending;
  delivery_due_in_section_ = true;
  JournalDelivery(key);
}

WebhookRequest EngineImpl::BuildRequest(uint32_t slot, const std::string& delivery_id) const {
  const JobRecord& job = table_[slot];
  const WebhookSpec& spec = *job.extras->webhook;
  WebhookRequest request;
  request.url = spec.url;
  request.method = spec.method;
  request.headers = spec.headers;
  if (spec.custom) {
    request.body = spec.data.empty() ? "{}" : spec.data;
  } else {
    request.body = JobToJsonText(View(slot));
  }
  request.headers.emplace_back("Content-Type", "application/json");
  request.headers.emplace_back("Cascade-Delivery-Id", delivery_id);
  request.headers.emplace_back("Cascade-Job-Id", job.id.ToString());
  if (!options_.webhooks.signing_secret.empty()) {
    request.headers.emplace_back("Cascade-Signature",
                                 WebhookSignature(options_.webhooks.signing_secret, request.body));
  }
  return request;
}

std::optional<std::pair<uint64_t, WebhookRequest>> EngineImpl::TakeDueDelivery(int64_t now_ms) {
  if (outbox_due_.empty() || outbox_due_.begin()->first > now_ms) return std::nullopt;
  const uint64_t key = outbox_due_.begin()->second;
  outbox_due_.erase(outbox_due_.begin());
  Delivery& delivery = outbox_.at(key);
  delivery.stage = Delivery::Stage::kInFlight;
  --outbox_counts_.pending;
  ++outbox_counts_.in_flight;
  if (!delivery.request) {
    delivery.request = BuildRequest(delivery.slot, delivery.id);
    JournalDelivery(key);  // kept, so a retry after a restart sends the same bytes
  }
  return std::make_pair(key, *delivery.request);
}

void EngineImpl::RecordAttempt(uint64_t key, const absl::StatusOr<int>& result, int64_t now_ms) {
  Delivery& delivery = outbox_.at(key);
  JournalDelivery(key);
  --outbox_counts_.in_flight;
  ++outbox_counts_.attempts_total;
  ++delivery.attempts;
  if (result.ok() && *result >= 200 && *result < 300) {
    ++outbox_counts_.delivered_total;
    outbox_.erase(key);
    return;
  }
  delivery.last_error =
      result.ok() ? absl::StrCat("HTTP ", *result) : std::string(result.status().message());
  const WebhookOptions& options = options_.webhooks;
  if (delivery.attempts > options.max_retries) {
    delivery.stage = Delivery::Stage::kDead;
    delivery.died_ms = now_ms;
    ++outbox_counts_.dead;
    return;
  }
  // Retry n (n = attempts so far) waits initial_backoff * factor^(n-1).
  const double wait_ms = absl::ToDoubleMilliseconds(options.initial_backoff) *
                         std::pow(options.backoff_factor, delivery.attempts - 1);
  delivery.stage = Delivery::Stage::kPending;
  delivery.due_ms = now_ms + static_cast<int64_t>(std::llround(wait_ms));
  outbox_due_.insert({delivery.due_ms, key});
  ++outbox_counts_.pending;
  delivery_due_in_section_ = true;
}

std::optional<std::pair<uint64_t, WebhookRequest>> EngineImpl::TakeSendable(int64_t* next_due_ms) {
  std::optional<std::pair<uint64_t, WebhookRequest>> work;
  uint64_t ticket = 0;
  {
    const int64_t now_ms = NowMillis();
    WriteSection section(this);
    if (!section.writable().ok()) return std::nullopt;
    work = TakeDueDelivery(now_ms);
    if (!work && !outbox_due_.empty()) *next_due_ms = outbox_due_.begin()->first;
    ticket = last_ticket_;
    if (!section.Commit().ok()) return std::nullopt;
  }
  // The group that queued the delivery is at or before `ticket`.
  if (work && ticket != 0 && !store_->WaitDurable(ticket).ok()) return std::nullopt;
  return work;
}

void EngineImpl::FinishSend(uint64_t key, const absl::StatusOr<int>& result) {
  const int64_t now_ms = NowMillis();
  WriteSection section(this);
  if (!section.writable().ok()) return;
  RecordAttempt(key, result, now_ms);
  section.Commit().IgnoreError();  // a failure is the next write call's answer
}

void EngineImpl::SendDueDeliveries() {
  while (true) {
    int64_t next_due_ms = 0;
    std::optional<std::pair<uint64_t, WebhookRequest>> work = TakeSendable(&next_due_ms);
    if (!work) return;
    FinishSend(work->first, transport_->Send(work->second, options_.webhooks.timeout));
  }
}

void EngineImpl::WakeDeliveryThreads() {
  if (delivery_threads_.empty()) return;
  {
    std::lock_guard<std::mutex> lock(delivery_mu_);
    ++delivery_generation_;
  }
  delivery_cv_.notify_all();
}

void EngineImpl::DeliveryLoop() {
  // Lock order: mu_ before delivery_mu_; this thread never holds
  // delivery_mu_ while it takes mu_.
  constexpr int64_t kMaxWaitMs = 1000;
  std::unique_lock<std::mutex> delivery_lock(delivery_mu_);
  while (!delivery_stop_) {
    const uint64_t generation = delivery_generation_;
    delivery_lock.unlock();
    int64_t next_due_ms = std::numeric_limits<int64_t>::max();
    std::optional<std::pair<uint64_t, WebhookRequest>> work = TakeSendable(&next_due_ms);
    if (work) {
      FinishSend(work->first, transport_->Send(work->second, options_.webhooks.timeout));
      delivery_lock.lock();
      continue;  // there may be more due: look again at once
    }
    const int64_t wait_ms = next_due_ms == std::numeric_limits<int64_t>::max()
                                ? kMaxWaitMs
                                : std::clamp<int64_t>(next_due_ms - NowMillis(), 1, kMaxWaitMs);
    delivery_lock.lock();
    delivery_cv_.wait_for(delivery_lock, std::chrono::milliseconds(wait_ms),
                          [&] { return delivery_stop_ || delivery_generation_ != generation; });
  }
}

DeadLetter EngineImpl::DeadLetterView(const Delivery& delivery) const {
  DeadLetter letter;
  letter.delivery_id = delivery.id;
  letter.job_id = table_[delivery.slot].id;
  letter.url = table_[delivery.slot].extras->webhook->url;
  letter.attempts = delivery.attempts;
  letter.last_error = delivery.last_error;
  letter.created_at = absl::FromUnixMillis(delivery.created_ms);
  letter.died_at = absl::FromUnixMillis(delivery.died_ms);
  return letter;
}

absl::StatusOr<std::vector<DeadLetter>> EngineImpl::ListDeadLetters(std::string_view team) const {
  CASCADE_RETURN_IF_ERROR(ValidateTeam(team));
  ReaderLock lock(&mu_);
  std::vector<DeadLetter> letters;
  const std::optional<uint32_t> team_id = teams_.Find(team);
  if (!team_id) return letters;
  for (const auto& [key, delivery] : outbox_) {
    if (delivery.stage == Delivery::Stage::kDead && delivery.team == *team_id) {
      letters.push_back(DeadLetterView(delivery));
    }
  }
  return letters;
}

absl::Status EngineImpl::ReplayDeadLetter(std::string_view team, std::string_view delivery_id) {
  CASCADE_RETURN_IF_ERROR(ValidateTeam(team));
  const int64_t now_ms = NowMillis();
  WriteSection section(this);
  CASCADE_RETURN_IF_ERROR(section.writable());
  const std::optional<uint32_t> team_id = teams_.Find(team);
  for (auto& [key, delivery] : outbox_) {
    if (delivery.stage != Delivery::Stage::kDead || !team_id || delivery.team != *team_id ||
        delivery.id != delivery_id) {
      continue;
    }
    delivery.stage = Delivery::Stage::kPending;
    delivery.attempts = 0;
    delivery.due_ms = now_ms;
    delivery.died_ms = kUnsetMillis;
    JournalDelivery(key);
    outbox_due_.insert({now_ms, key});
    --outbox_counts_.dead;
    ++outbox_counts_.pending;
    delivery_due_in_section_ = true;
    return section.Commit();
  }
  return absl::NotFoundError(absl::StrCat("no dead letter ", Sv(delivery_id)));
}

OutboxCounts EngineImpl::GetOutboxCounts() const {
  ReaderLock lock(&mu_);
  return outbox_counts_;
}

// ---- Views ------------------------------------------------------------------

std::string EngineImpl::OutputUrl(const JobRecord& job, const BatchRecord* batch_record) const {
  const BatchId* batch = batch_record != nullptr ? &batch_record->id()
                         : job.batch != kNone32  ? &batches_.id_of(job.batch)
                                                 : nullptr;
  const std::string_view team = teams_.name(job.team);
  if (job.extras && !job.extras->output_url.empty()) {
    return UrlTemplate(job.extras->output_url).Expand(job.id, team, batch);
  }
  return output_url_template_.Expand(job.id, team, batch);
}

namespace {

// `prefix` + the id's text + `suffix`, in one allocation.
std::string WithId(std::string_view prefix, const Ulid& id, std::string_view suffix) {
  std::string text(prefix.size() + Ulid::kTextSize + suffix.size(), '\0');
  char* at = std::copy(prefix.begin(), prefix.end(), text.data());
  id.AppendTo(at);
  std::copy(suffix.begin(), suffix.end(), at + Ulid::kTextSize);
  return text;
}

}  // namespace

std::string EngineImpl::ErrorText(const JobRecord& job) const {
  switch (job.cause) {
    case ErrorCause::kNone:
      return "";
    case ErrorCause::kCustom:
      return job.extras ? job.extras->error : "";
    case ErrorCause::kCancelledViaApi:
      return "Cancelled via API";
    case ErrorCause::kCancelCascade:
      return WithId("Cancelled: cascade from ", table_[job.cause_slot].id, "");
    case ErrorCause::kPrerequisiteFailed:
      return WithId("prerequisite ", table_[job.cause_slot].id, " failed");
    case ErrorCause::kDependentFailed:
      return WithId("dependent ", table_[job.cause_slot].id, " failed");
    case ErrorCause::kLeaseExpired:
      return absl::StrCat("lease expired after ", job.timeline.attempts, " attempts");
  }
  return "";
}

Job EngineImpl::View(uint32_t slot) const {
  Job job;
  ViewInto(slot, job);
  return job;
}

void EngineImpl::ViewInto(uint32_t slot, Job& job) const {
  const JobRecord& r = table_[slot];
  job.id = r.id;
  job.team = teams_.name(r.team);
  if (r.template_ref != kNone32) job.template_id = templates_.name(r.template_ref);
  job.state = r.state();
  job.progress = r.timeline.progress;
  job.stats.created_at = absl::FromUnixMillis(r.created_ms);
  job.stats.updated_at = absl::FromUnixMillis(r.timeline.updated_ms);
  job.stats.started_at = OptionalTime(r.timeline.started_ms);
  job.stats.finished_at = OptionalTime(r.timeline.finished_ms);
  job.stats.error_at = OptionalTime(r.timeline.error_ms);
  job.stats.total_assets = static_cast<int>(r.total_assets);
  if (r.timeline.finished_ms != kUnsetMillis && r.timeline.started_ms != kUnsetMillis) {
    job.stats.render_duration = (r.timeline.finished_ms - r.timeline.started_ms) / 1000.0;
  }
  if (r.cause != ErrorCause::kNone) job.stats.error = ErrorText(r);
  job.output_url = OutputUrl(r);
  if (r.extras && !r.extras->tags.empty()) {
    // By name: the interned order depends on history (a reopen, a purge).
    for (uint32_t t : r.extras->tags) job.tags.push_back(tags_.name(t));
    std::sort(job.tags.begin(), job.tags.end());
  }
  job.priority = r.priority;
  if (r.batch != kNone32) job.batch_id = batches_.id_of(r.batch);
  if (r.parent != kNone32) job.parent_id = table_[r.parent].id;
  if (r.vertex != kNoVertex) {
    // Sized first (a family's parent has many children): one allocation each.
    if (const size_t prerequisites = graph_.PrerequisiteCount(r.vertex); prerequisites > 1) {
      size_t children = 0;
      graph_.ForEachPrerequisite(r.vertex,
                                 [&](uint32_t p) { children += table_[p].parent == slot; });
      job.children.reserve(children);
      job.depends_on.reserve(prerequisites - children);
    }
    graph_.ForEachPrerequisite(r.vertex, [&](uint32_t p) {
      if (table_[p].parent == slot)
        job.children.push_back(table_[p].id);
      else
        job.depends_on.push_back(table_[p].id);
    });
  }
  job.on_prerequisite_failure = r.policy;
  job.attempts = r.timeline.attempts;
  job.cancel_requested = r.cancel_requested;
}

std::vector<Job> EngineImpl::Views(std::vector<uint32_t> slots) const {
  std::sort(slots.begin(), slots.end());  // slot order is id order
  std::vector<Job> jobs(slots.size());
  constexpr size_t kAhead = 4;  // records prefetched ahead of the one viewed
  for (size_t i = 0; i < std::min(kAhead, slots.size()); ++i) table_.Prefetch(slots[i]);
  for (size_t i = 0; i < slots.size(); ++i) {
    if (i + kAhead < slots.size()) table_.Prefetch(slots[i + kAhead]);
    ViewInto(slots[i], jobs[i]);
  }
  return jobs;
}

}  // namespace internal
}  // namespace cascade
