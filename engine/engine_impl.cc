// Copyright 2026 The Cascade Authors.
//
// The engine's public calls, each as: validate, open a write section (or take
// the reader lock), ask the collaborators, build the answer, commit.

#include "engine/engine_impl.h"

#include <algorithm>
#include <random>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cascade/status.h"
#include "engine/journal/recovery.h"
#include "engine/model/cascade_rules.h"
#include "engine/model/job_views.h"
#include "engine/spec/spec_validation.h"
#include "engine/util/check.h"
#include "engine/util/random.h"
#include "engine/util/status_macros.h"
#include "engine/util/strings.h"

namespace cascade {
namespace internal {
namespace {

uint64_t Seed(const Options& options) {
  return options.id_seed ? SplitMix64(*options.id_seed ^ 0x5DEECE66Dull) : std::random_device{}();
}

absl::Status NotFoundBatch(BatchId id) {
  return absl::NotFoundError(absl::StrCat("batch ", id.ToString(), " not found"));
}

// A call's answer built in the caller's storage: `fill` writes it and returns
// OK, or returns the call's error. The one StatusOr is every path's return, so
// the compiler elides its copy. A Job (~600 bytes of strings, vectors and
// optionals) made in a function that also has `return status;` paths is
// moved into the StatusOr instead, ~70 instructions a move (callgrind, a
// claim + finish cycle made 6 of them).
template <typename T, typename Fill>
absl::StatusOr<T> AnswerInPlace(Fill fill) {
  absl::StatusOr<T> answer(absl::in_place);
  if (absl::Status status = fill(*answer); !status.ok()) answer = std::move(status);
  return answer;
}

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
      model_(options.output_url_template,
             {.max_attempts = options.max_attempts,
              .retry_backoff_ms = absl::ToInt64Milliseconds(options.retry_backoff),
              .timeout_ms =
                  options.render_timeout ? absl::ToInt64Milliseconds(*options.render_timeout) : 0},
             options.id_seed),
      journal_(std::move(store), model_),
      events_(hub_, model_),
      leases_(options.abort_grace, Seed(options), /*track_changes=*/journal_.journaling(),
              [this](int64_t due) { timer_.WakeFor(due); }),
      owned_transport_(options.webhooks.transport == nullptr ? WebhookTransport::CreateHttp()
                                                             : nullptr),
      outbox_(options.webhooks, options.clock,
              options.webhooks.transport == nullptr ? owned_transport_.get()
                                                    : options.webhooks.transport,
              &journal_),
      webhooks_(model_, outbox_, options.webhooks.signing_secret),
      retention_(options.durability.retention),
      waits_(model_, [this](int64_t due) { timer_.WakeFor(due); }),
      workers_(journal_),
      logs_(journal_, model_, kMaxJobLogBytes),
      timer_(
          options.clock, [this] { RunDueWork(); },
          [this]() -> std::optional<int64_t> {
            const std::optional<int64_t> lease = leases_.next_due_ms(), wait = waits_.next_due_ms();
            if (lease && wait) return std::min(*lease, *wait);
            return lease ? lease : wait;
          }),
      random_state_(Seed(options) ^ 0x2545F4914F6CDD1Dull) {
  // In this order: a change is journaled and its event staged before the
  // collaborators that follow from it act.
  using L = ModelListener;
  model_.AddListener(&journal_, L::kRecordChanges | L::kEdges | L::kBatches | L::kPurges);
  model_.AddListener(&events_, L::kTransitions);
  model_.AddListener(&leases_, L::kTransitions);
  model_.AddListener(&webhooks_, L::kTransitions);
  model_.AddListener(&retention_, L::kTransitions);
  model_.AddListener(&waits_, L::kTransitions);
  model_.AddListener(&logs_, L::kPurges);
}

absl::Status EngineImpl::Start() {
  if (journal_.journaling()) {
    WriteSection section(this);
    CASCADE_RETURN_IF_ERROR(Recover(
        *journal_.store(),
        {.model = model_, .leases = leases_, .outbox = outbox_, .workers = workers_, .logs = logs_},
        [this](uint32_t slot, const std::string& delivery_id) ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return BuildWebhookRequest(model_, slot, delivery_id, options_.webhooks.signing_secret);
        }));
    // A lease that ran out while no engine had the directory ends now, as
    // any expiry does (contract §7).
    EndDueLeases(NowMillis());
    CASCADE_RETURN_IF_ERROR(section.Commit());
  }
  // A manual clock moves only when told to, and its owner calls RunDueWork,
  // which also sends the deliveries that are due.
  if (!clock_->IsManual()) {
    outbox_.Start();
    timer_.Start();
  }
  return absl::OkStatus();
}

EngineImpl::~EngineImpl() {
  timer_.Stop();
  outbox_.Stop();
}

uint64_t EngineImpl::NextRandom() const {
  return SplitMix64(random_state_.fetch_add(kSplitMixGamma, std::memory_order_relaxed));
}

// ---- Write sections ---------------------------------------------------------

EngineImpl::WriteSection::WriteSection(EngineImpl* engine) : engine_(engine) {
  engine_->mu_.Lock();
}

EngineImpl::WriteSection::~WriteSection() {
  if (!ended_) Commit().IgnoreError();
}

absl::Status EngineImpl::WriteSection::Commit() {
  EngineImpl& e = *engine_;
  ended_ = true;
  absl::Status status;
  uint64_t ticket = 0;
  absl::StatusOr<uint64_t> appended = e.journal_.AppendSection(e.leases_);
  if (appended.ok()) {
    ticket = *appended;
    e.outbox_.Publish(ticket);
  } else {
    status = appended.status();
    e.outbox_.DropStaged();  // never journaled, so never sent
  }
  e.events_.EndSection(e.journal_.journaling(), ticket, !status.ok());
  // A section that changed nothing still answers from the state it read,
  // which may hold another call's change whose group is not durable yet (an
  // abort requested twice answers "cancelRequested" from the first; a
  // refusal names a state). Its answer waits for that group too, so nothing
  // a call reports can be lost by a crash after it returns.
  const uint64_t read_ticket = ticket == 0 && status.ok() ? e.journal_.last_ticket() : 0;
  e.mu_.Unlock();
  if (ticket != 0) {
    status = e.journal_.WaitDurable(ticket);
    if (status.ok()) e.events_.PublishDurable(ticket);
  } else if (read_ticket != 0) {
    status = e.journal_.WaitDurable(read_ticket);
  }
  if (!status.ok()) e.journal_.RecordFailure(status);
  return status;
}

// ---- Lookup -----------------------------------------------------------------

absl::StatusOr<uint32_t> EngineImpl::Found(std::optional<uint32_t> slot, JobId id) {
  if (!slot) return absl::NotFoundError(absl::StrCat("job ", id.ToString(), " not found"));
  return *slot;
}

// The batch directory is read without a lock by design (batch_directory.h).
const BatchRecord* EngineImpl::FindBatch(std::string_view team,
                                         BatchId id) const ABSL_NO_THREAD_SAFETY_ANALYSIS {
  const BatchRecord* batch = model_.batches().Find(id);
  if (batch == nullptr || batch->team_name() != team) return nullptr;
  return batch;
}

absl::Status EngineImpl::Refused(uint32_t slot, JobEvent event) const {
  const JobRecord& job = model_.job(slot);
  return absl::FailedPreconditionError(absl::StrCat("job ", job.id.ToString(), " is ",
                                                    Sv(StateName(job.state())), "; ",
                                                    Sv(EventName(event)), " is not allowed"));
}

Job EngineImpl::View(uint32_t slot) const { return internal::View(model_, slot); }

// ---- Submit -----------------------------------------------------------------

void EngineImpl::Created(uint32_t slot, const BatchRecord* batch, CreatedJob& created) const {
  const JobRecord& job = model_.job(slot);
  created.id = job.id;
  created.state = job.state();
  created.output_url = PlannedOutputUrl(model_, job, batch);
  if (job.vertex != kNoVertex) {
    model_.graph().ForEachPrerequisite(job.vertex, [&](uint32_t p) {
      mu_.AssertReaderHeld();  // the analysis checks a lambda on its own
      if (model_.job(p).parent == slot) Created(p, batch, created.children.emplace_back());
    });
  }
}

absl::StatusOr<CreatedJob> EngineImpl::Submit(std::string_view team, const JobSpec& spec) {
  CASCADE_RETURN_IF_ERROR(ValidateTeam(team));
  CASCADE_RETURN_IF_ERROR(ValidateSpec(spec));
  WriteSection section(this);
  const int64_t now_ms = NowMillis();
  CASCADE_RETURN_IF_ERROR(section.writable());
  const TeamNo team_id = model_.InternTeam(team);
  CASCADE_RETURN_IF_ERROR(CheckDependencies(model_, team_id, spec));
  CreatedJob created;
  Created(model_.CreateTree(spec, {.team = team_id, .now_ms = now_ms}), nullptr, created);
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

  WriteSection section(this);
  const int64_t now_ms = NowMillis();
  CASCADE_RETURN_IF_ERROR(section.writable());
  const TeamNo team_id = model_.InternTeam(team);
  BatchSubmitResult result;
  result.total_jobs = count;
  result.batch_id = model_.NextId(now_ms);
  std::unique_ptr<BatchRecord> batch = model_.NewBatch(result.batch_id, team);
  const NewJob where{.team = team_id,
                     .batch = batch.get(),
                     .batch_number = model_.batches().next_number(),
                     .now_ms = now_ms};
  // Sized once: growing it would move every answer made so far, under the lock.
  result.jobs.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    absl::Status status = checks[i];
    if (status.ok()) status = CheckDependencies(model_, team_id, *spec_at(i));
    if (!status.ok()) {
      result.errors.push_back({i, std::string(status.message()), ErrorCodeName(status.code())});
      continue;
    }
    BatchJobResult& created = result.jobs.emplace_back();
    created.index = i;
    NewJob at = where;
    at.batch_index = i;
    Created(model_.CreateTree(*spec_at(i), at), batch.get(), created.job);
  }
  result.success_count = result.jobs.size();
  if (result.success_count == 0) {
    result.status = BatchSubmitStatus::kError;  // the batch id stays unused
  } else {
    result.status =
        result.errors.empty() ? BatchSubmitStatus::kCreated : BatchSubmitStatus::kPartial;
    model_.PublishBatch(std::move(batch), now_ms);
  }
  CASCADE_RETURN_IF_ERROR(section.Commit());
  return result;
}

// ---- Read -------------------------------------------------------------------

absl::StatusOr<Job> EngineImpl::Get(std::string_view team, JobId id) const {
  return AnswerInPlace<Job>([&](Job& job) -> absl::Status {
    CASCADE_RETURN_IF_ERROR(ValidateTeam(team));
    ReaderLock lock(&mu_);
    // Found's StatusOr only when it is an error: the hit is the hot path.
    const std::optional<uint32_t> slot = model_.Find(team, id);
    if (!slot) return Found(slot, id).status();
    ViewInto(model_, *slot, job);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::string> EngineImpl::GetPayload(std::string_view team, JobId id) const {
  CASCADE_RETURN_IF_ERROR(ValidateTeam(team));
  ReaderLock lock(&mu_);
  CASCADE_ASSIGN_OR_RETURN(uint32_t slot, Found(model_.Find(team, id), id));
  const JobRecord& job = model_.job(slot);
  return job.extras ? job.extras->payload : std::string();
}

absl::StatusOr<std::vector<Job>> EngineImpl::GetFamily(std::string_view team, JobId id) const {
  CASCADE_RETURN_IF_ERROR(ValidateTeam(team));
  ReaderLock lock(&mu_);
  CASCADE_ASSIGN_OR_RETURN(uint32_t slot, Found(model_.Find(team, id), id));
  std::vector<uint32_t> jobs;
  std::vector<BatchNo> batches;
  CollectFamily(model_, slot, /*through_batches=*/false, jobs, batches);
  return Views(model_, std::move(jobs));
}

size_t EngineImpl::JobCount() const {
  ReaderLock lock(&mu_);
  return model_.live_jobs();
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
  std::optional<TeamNo> team_id = model_.teams().Find(team);
  if (!team_id) return std::vector<Job>();
  for (const std::string& tag : query.tags) {
    std::optional<TagNo> t = model_.tags().Find(tag);
    if (!t) return std::vector<Job>();  // nobody carries it
    sel.tags.push_back(*t);
  }
  const JobTable& table = model_.table();
  sel.lo = query.from_date ? table.LowerBoundCreated(absl::ToUnixMillis(*query.from_date)) : 0;
  sel.hi =
      query.to_date ? table.LowerBoundCreated(absl::ToUnixMillis(*query.to_date)) : table.size();
  std::vector<uint32_t> page = SelectPage(model_.team_index(*team_id), table, sel, NextRandom());
  std::vector<Job> jobs(page.size());
  for (size_t i = 0; i < page.size(); ++i) ViewInto(model_, page[i], jobs[i]);
  return jobs;
}

absl::StatusOr<BatchCounts> EngineImpl::GetBatchCounts(std::string_view team, BatchId id) const {
  CASCADE_RETURN_IF_ERROR(ValidateTeam(team));
  const BatchRecord* batch = FindBatch(team, id);
  if (batch == nullptr) return NotFoundBatch(id);
  return batch->Snapshot();
}

absl::StatusOr<BatchView> EngineImpl::GetBatch(std::string_view team, BatchId id) const {
  CASCADE_RETURN_IF_ERROR(ValidateTeam(team));
  const BatchRecord* batch = FindBatch(team, id);
  if (batch == nullptr) return NotFoundBatch(id);
  ReaderLock lock(&mu_);
  if (batch->purged()) return NotFoundBatch(id);  // by retention, since FindBatch
  BatchView view;
  view.batch_id = id;
  view.counts = batch->Snapshot();  // under the lock: agrees with the views
  view.status = StatusOf(view.counts);
  for (uint32_t slot : batch->top_level()) {
    view.jobs.push_back({model_.job(slot).batch_index, View(slot)});
  }
  return view;
}

// ---- Cancel -----------------------------------------------------------------

absl::StatusOr<std::vector<Job>> EngineImpl::Cancel(std::string_view team, JobId id) {
  CASCADE_RETURN_IF_ERROR(ValidateTeam(team));
  WriteSection section(this);
  const int64_t now_ms = NowMillis();
  CASCADE_RETURN_IF_ERROR(section.writable());
  CASCADE_ASSIGN_OR_RETURN(uint32_t slot, Found(model_.Find(team, id), id));
  if (!model_.job(slot).machine.Accepts(JobEvent::kCancel)) {
    return Refused(slot, JobEvent::kCancel);
  }
  std::vector<uint32_t> cancelled;
  const uint32_t named[] = {slot};
  CancelClosure(model_, named, now_ms, cancelled);
  std::vector<Job> views = Views(model_, std::move(cancelled));
  CASCADE_RETURN_IF_ERROR(section.Commit());
  return views;
}

absl::StatusOr<std::vector<uint32_t>> EngineImpl::FindNamed(std::string_view team,
                                                            absl::Span<const JobId> ids,
                                                            std::string_view request) const {
  CASCADE_RETURN_IF_ERROR(ValidateIdList(ids, request));
  std::vector<uint32_t> slots = model_.FindMany(team, ids);
  std::vector<std::string> unknown;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (slots[i] == kNone32) unknown.push_back(ids[i].ToString());
  }
  if (!unknown.empty()) {
    return absl::NotFoundError(absl::StrCat("job(s) not found: ", absl::StrJoin(unknown, ", ")));
  }
  return slots;
}

absl::Status EngineImpl::AllAccept(absl::Span<const uint32_t> slots, JobEvent event,
                                   std::string_view refusal) const {
  std::vector<std::string> refused;
  for (uint32_t slot : slots) {
    const JobRecord& job = model_.job(slot);
    if (!job.machine.Accepts(event)) {
      refused.push_back(absl::StrCat(job.id.ToString(), " (", Sv(StateName(job.state())), ")"));
    }
  }
  if (refused.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat(Sv(refusal), ": ", absl::StrJoin(refused, ", ")));
}

absl::StatusOr<std::vector<Job>> EngineImpl::CancelMany(std::string_view team,
                                                        absl::Span<const JobId> ids) {
  CASCADE_RETURN_IF_ERROR(ValidateTeam(team));
  WriteSection section(this);
  const int64_t now_ms = NowMillis();
  CASCADE_RETURN_IF_ERROR(section.writable());
  CASCADE_ASSIGN_OR_RETURN(std::vector<uint32_t> slots, FindNamed(team, ids, "cancel"));
  CASCADE_RETURN_IF_ERROR(AllAccept(slots, JobEvent::kCancel,
                                    "job(s) not cancellable (only queued or pending jobs are)"));
  std::vector<uint32_t> cancelled;
  cancelled.reserve(slots.size());
  CancelClosure(model_, slots, now_ms, cancelled);
  std::vector<Job> views = Views(model_, std::move(cancelled));
  CASCADE_RETURN_IF_ERROR(section.Commit());
  return views;
}

absl::StatusOr<BatchCancelResult> EngineImpl::CancelBatch(std::string_view team, BatchId id) {
  CASCADE_RETURN_IF_ERROR(ValidateTeam(team));
  const BatchRecord* batch = FindBatch(team, id);
  if (batch == nullptr) return NotFoundBatch(id);
  WriteSection section(this);
  const int64_t now_ms = NowMillis();
  CASCADE_RETURN_IF_ERROR(section.writable());
  if (batch->purged()) return NotFoundBatch(id);  // by retention, since FindBatch
  BatchCancelResult result;
  result.batch_id = id;
  result.total_jobs = batch->top_level().size();
  std::vector<uint32_t> cancelled;
  for (uint32_t slot : batch->top_level()) {
    if (model_.job(slot).machine.Accepts(JobEvent::kCancel)) {
      const uint32_t named[] = {slot};
      CancelClosure(model_, named, now_ms, cancelled);
    }
  }
  absl::flat_hash_set<uint32_t> by_request(cancelled.begin(), cancelled.end());
  for (uint32_t slot : batch->top_level()) {
    const JobRecord& job = model_.job(slot);
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
  result.cancelled_jobs = Views(model_, std::move(cancelled));
  CASCADE_RETURN_IF_ERROR(section.Commit());
  return result;
}

// ---- Retries, holds and priorities (contract §14) ------------------------------

absl::StatusOr<std::vector<Job>> EngineImpl::Retry(std::string_view team,
                                                   absl::Span<const JobId> ids) {
  CASCADE_RETURN_IF_ERROR(ValidateTeam(team));
  WriteSection section(this);
  const int64_t now_ms = NowMillis();
  CASCADE_RETURN_IF_ERROR(section.writable());
  CASCADE_ASSIGN_OR_RETURN(std::vector<uint32_t> slots, FindNamed(team, ids, "retry"));
  CASCADE_RETURN_IF_ERROR(
      AllAccept(slots, JobEvent::kRetry,
                "job(s) not retryable (only jobs in error or manually_cancelled are)"));
  const RetryPlan plan = PlanRetry(model_, slots);
  CASCADE_RETURN_IF_ERROR(RetryRefusal(model_, plan));
  std::vector<uint32_t> revived;
  Revive(model_, plan, now_ms, revived);
  std::vector<Job> views = Views(model_, std::move(revived));
  CASCADE_RETURN_IF_ERROR(section.Commit());
  return views;
}

absl::StatusOr<std::vector<Job>> EngineImpl::Hold(std::string_view team,
                                                  absl::Span<const JobId> ids, JobEvent event) {
  CASCADE_RETURN_IF_ERROR(ValidateTeam(team));
  WriteSection section(this);
  const int64_t now_ms = NowMillis();
  CASCADE_RETURN_IF_ERROR(section.writable());
  CASCADE_ASSIGN_OR_RETURN(
      std::vector<uint32_t> slots,
      FindNamed(team, ids, event == JobEvent::kSuspend ? "suspend" : "resume"));
  CASCADE_RETURN_IF_ERROR(AllAccept(
      slots, event, "job(s) cannot be held or resumed (only queued or pending jobs can)"));
  for (uint32_t slot : slots) SetHold(slot, event, now_ms);
  std::vector<Job> views = Views(model_, std::move(slots));
  CASCADE_RETURN_IF_ERROR(section.Commit());
  return views;
}

bool EngineImpl::SetHold(uint32_t slot, JobEvent event, int64_t now_ms) {
  // A job already held (or not held) is left as it is: no change to journal.
  const bool held = model_.job(slot).sub_state() == SubState::kHeld;
  if (held == (event == JobEvent::kSuspend)) return false;
  return model_.Apply(slot, event, {.now_ms = now_ms});
}

absl::StatusOr<std::vector<Job>> EngineImpl::HoldBatch(std::string_view team, BatchId id,
                                                       JobEvent event) {
  CASCADE_RETURN_IF_ERROR(ValidateTeam(team));
  const BatchRecord* batch = FindBatch(team, id);
  if (batch == nullptr) return NotFoundBatch(id);
  WriteSection section(this);
  const int64_t now_ms = NowMillis();
  CASCADE_RETURN_IF_ERROR(section.writable());
  if (batch->purged()) return NotFoundBatch(id);  // by retention, since FindBatch
  std::vector<uint32_t> changed;
  for (uint32_t slot : BatchJobs(model_, *batch)) {
    if (model_.job(slot).machine.Accepts(event) && SetHold(slot, event, now_ms)) {
      changed.push_back(slot);
    }
  }
  std::vector<Job> views = Views(model_, std::move(changed));
  CASCADE_RETURN_IF_ERROR(section.Commit());
  return views;
}

absl::StatusOr<Job> EngineImpl::SetPriority(std::string_view team, JobId id, int32_t priority) {
  return AnswerInPlace<Job>([&](Job& view) -> absl::Status {
    CASCADE_RETURN_IF_ERROR(ValidateTeam(team));
    WriteSection section(this);
    const int64_t now_ms = NowMillis();
    CASCADE_RETURN_IF_ERROR(section.writable());
    CASCADE_ASSIGN_OR_RETURN(uint32_t slot, Found(model_.Find(team, id), id));
    if (!model_.Apply(slot, JobEvent::kReprioritize, {.now_ms = now_ms, .priority = priority})) {
      return Refused(slot, JobEvent::kReprioritize);
    }
    ViewInto(model_, slot, view);
    return section.Commit();
  });
}

// ---- Workers ----------------------------------------------------------------

void EngineImpl::ApplyAndFollow(uint32_t slot, JobEvent event, const EventArgs& args,
                                std::string_view text) {
  CASCADE_CHECK(model_.Apply(slot, event, args, text));
  FollowUp(model_, slot, args.now_ms);
}

absl::StatusOr<ClaimedJob> EngineImpl::Claim(const ClaimRequest& request) {
  return AnswerInPlace<ClaimedJob>([&](ClaimedJob& claimed) -> absl::Status {
    if (request.lease && *request.lease <= absl::ZeroDuration()) {
      return InvalidArgumentWithViolations("invalid claim", {{"leaseSeconds", "must be positive"}});
    }
    WriteSection section(this);
    const int64_t now_ms = NowMillis();
    CASCADE_RETURN_IF_ERROR(section.writable());
    const int64_t lease_ms =
        absl::ToInt64Milliseconds(request.lease.value_or(options_.lease_duration));
    const std::string_view worker = workers_.SawClaim(request, now_ms, lease_ms);
    std::vector<TagNo> wanted, any_of;
    for (const std::string& tag : request.tags) {
      std::optional<TagNo> t = model_.tags().Find(tag);
      if (!t) return absl::NotFoundError("no queued job carries the requested tags");
      wanted.push_back(*t);
    }
    for (const std::string& tag : request.any_tags) {
      if (std::optional<TagNo> t = model_.tags().Find(tag)) any_of.push_back(*t);
    }
    if (!request.any_tags.empty() && any_of.empty()) {
      return absl::NotFoundError("no queued job carries any of the requested tags");
    }
    for (std::vector<TagNo>* set : {&wanted, &any_of}) {
      std::sort(set->begin(), set->end());
      set->erase(std::unique(set->begin(), set->end()), set->end());
    }
    auto tags_of = [this](uint32_t slot) ABSL_NO_THREAD_SAFETY_ANALYSIS {  // under mu_, by Pick
      const JobRecord& job = model_.job(slot);
      return job.extras ? absl::Span<const TagNo>(job.extras->tags) : absl::Span<const TagNo>();
    };
    std::optional<uint32_t> found =
        any_of.empty()
            ? model_.queues().Pick(wanted, options_.pickup_order, NextRandom(), tags_of)
            : model_.queues().PickAny(wanted, any_of, options_.pickup_order, NextRandom(), tags_of,
                                      [this](uint32_t slot) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                                        return model_.job(slot).priority;
                                      });
    if (!found) return absl::NotFoundError("no queued job to claim");
    const uint32_t slot = *found;
    CASCADE_CHECK(model_.Apply(slot, JobEvent::kClaim, {.now_ms = now_ms}));
    const Lease lease = leases_.Grant(slot, now_ms, lease_ms, model_.job(slot).timeout_ms, worker);
    ViewInto(model_, slot, claimed.job);
    if (const JobRecord& job = model_.job(slot); job.extras) claimed.payload = job.extras->payload;
    CASCADE_RETURN_IF_ERROR(section.Commit());
    // The token's text is the lease's number written out: made after the lock.
    claimed.lease = {LeaseTokenText(lease.token), absl::FromUnixMillis(lease.expires_ms)};
    return absl::OkStatus();
  });
}

absl::StatusOr<uint32_t> EngineImpl::FindLeased(JobId id, std::string_view lease_token,
                                                JobEvent event, int64_t now_ms) {
  const std::optional<uint64_t> token = ParseLeaseToken(lease_token);
  // The token's low half names the slot it was issued for: when that slot
  // still holds `id` there is no need to search the id map (a cache miss in
  // a large engine). Otherwise search it; a token that does not parse, or
  // names another job, is caught by the comparison below either way.
  uint32_t slot = token ? leases_.SlotHint(*token) : kNone32;
  if (!token || slot >= model_.size() || model_.job(slot).id != id) {
    CASCADE_ASSIGN_OR_RETURN(slot, Found(model_.FindAny(id), id));
  }
  if (!model_.job(slot).machine.Accepts(event)) return Refused(slot, event);
  const std::optional<std::string_view> holder =
      token ? leases_.Holder(slot, *token) : std::nullopt;
  if (!holder) {
    return absl::FailedPreconditionError(
        absl::StrCat("job ", id.ToString(), ": the lease is stale or not this job's"));
  }
  workers_.Saw(*holder, now_ms);
  return slot;
}

absl::StatusOr<Job> EngineImpl::Finish(JobId id, std::string_view lease_token,
                                       const FinishReport& report) {
  return AnswerInPlace<Job>([&](Job& view) -> absl::Status {
    WriteSection section(this);
    const int64_t now_ms = NowMillis();
    CASCADE_RETURN_IF_ERROR(section.writable());
    CASCADE_ASSIGN_OR_RETURN(uint32_t slot, FindLeased(id, lease_token, JobEvent::kFinish, now_ms));
    if (report.output_url.size() > kMaxOutputUrlBytes) {
      return InvalidArgumentWithViolations(
          "invalid finish report",
          {{"outputUrl", absl::StrCat("longer than ", kMaxOutputUrlBytes, " bytes")}});
    }
    ApplyAndFollow(slot, JobEvent::kFinish, {.now_ms = now_ms}, report.output_url);
    ViewInto(model_, slot, view);
    return section.Commit();
  });
}

absl::StatusOr<Job> EngineImpl::Fail(JobId id, std::string_view lease_token,
                                     const FailReport& report) {
  return AnswerInPlace<Job>([&](Job& view) -> absl::Status {
    WriteSection section(this);
    const int64_t now_ms = NowMillis();
    CASCADE_RETURN_IF_ERROR(section.writable());
    CASCADE_ASSIGN_OR_RETURN(uint32_t slot, FindLeased(id, lease_token, JobEvent::kFail, now_ms));
    const std::string_view error = report.error;
    ApplyAndFollow(slot, JobEvent::kFail, {.now_ms = now_ms, .final = !report.retry},
                   error.empty() ? std::string_view("render failed") : error.substr(0, 4096));
    ViewInto(model_, slot, view);
    return section.Commit();
  });
}

absl::StatusOr<HeartbeatResult> EngineImpl::Heartbeat(JobId id, std::string_view lease_token,
                                                      const HeartbeatReport& report) {
  return AnswerInPlace<HeartbeatResult>([&](HeartbeatResult& result) -> absl::Status {
    std::vector<FieldViolation> bad;
    if (report.progress && !(*report.progress >= 0.0 && *report.progress <= 100.0)) {
      bad.push_back({"progress", absl::StrCat("must be 0-100, got ", *report.progress)});
    }
    if (report.extend && *report.extend <= absl::ZeroDuration()) {
      bad.push_back({"extend", "must be positive"});
    }
    if (!bad.empty()) return InvalidArgumentWithViolations("invalid heartbeat", bad);
    WriteSection section(this);
    const int64_t now_ms = NowMillis();
    CASCADE_RETURN_IF_ERROR(section.writable());
    // The worker of an attempt its time limit ended learns it here, once or
    // until its lease would have run out (contract §14).
    if (const std::optional<uint64_t> token = ParseLeaseToken(lease_token)) {
      if (const std::optional<uint32_t> slot = model_.FindAny(id);
          slot && leases_.TimedOut(*slot, *token)) {
        ViewInto(model_, *slot, result.job);
        result.lease = {std::string(lease_token), absl::FromUnixMillis(now_ms)};
        result.cancel_requested = true;
        return section.Commit();
      }
    }
    CASCADE_ASSIGN_OR_RETURN(uint32_t slot,
                             FindLeased(id, lease_token, JobEvent::kProgress, now_ms));
    if (report.progress) {
      const float before = model_.job(slot).timeline.progress;
      CASCADE_CHECK(
          model_.Apply(slot, JobEvent::kProgress,
                       {.now_ms = now_ms, .progress = static_cast<float>(*report.progress)}));
      if (model_.job(slot).timeline.progress != before) events_.OnProgress(slot, now_ms);
    }
    const Lease lease = leases_.Extend(
        slot, now_ms,
        report.extend ? std::optional(absl::ToInt64Milliseconds(*report.extend)) : std::nullopt);
    ViewInto(model_, slot, result.job);
    result.lease = {std::string(lease_token), absl::FromUnixMillis(lease.expires_ms)};
    result.cancel_requested = model_.job(slot).abort_requested();
    return section.Commit();
  });
}

absl::StatusOr<Job> EngineImpl::Release(JobId id, std::string_view lease_token) {
  return AnswerInPlace<Job>([&](Job& view) -> absl::Status {
    WriteSection section(this);
    const int64_t now_ms = NowMillis();
    CASCADE_RETURN_IF_ERROR(section.writable());
    CASCADE_ASSIGN_OR_RETURN(uint32_t slot,
                             FindLeased(id, lease_token, JobEvent::kRelease, now_ms));
    // The table decides: back to queued, error after the last attempt, or
    // cancelled when an abort was asked for (the release acknowledges it).
    ApplyAndFollow(slot, JobEvent::kRelease, {.now_ms = now_ms});
    ViewInto(model_, slot, view);
    return section.Commit();
  });
}

absl::StatusOr<Job> EngineImpl::RequestAbort(std::string_view team, JobId id) {
  return AnswerInPlace<Job>([&](Job& view) -> absl::Status {
    CASCADE_RETURN_IF_ERROR(ValidateTeam(team));
    WriteSection section(this);
    const int64_t now_ms = NowMillis();
    CASCADE_RETURN_IF_ERROR(section.writable());
    CASCADE_ASSIGN_OR_RETURN(uint32_t slot, Found(model_.Find(team, id), id));
    const JobRecord& job = model_.job(slot);
    // A repeated request changes nothing and does not extend the grace.
    if (!model_.Apply(slot, JobEvent::kAbortRequested, {.now_ms = now_ms}) &&
        !job.abort_requested()) {
      return absl::FailedPreconditionError(absl::StrCat("job ", id.ToString(), " is ",
                                                        Sv(StateName(job.state())),
                                                        "; only a rendering job can be aborted"));
    }
    ViewInto(model_, slot, view);
    return section.Commit();
  });
}

size_t EngineImpl::EndDueLeases(int64_t now_ms) {
  size_t changed = 0;
  // The table decides what an expiry means: requeued, error after the last
  // attempt, or cancelled when an abort's grace ran out.
  while (std::optional<LeaseBook::Due> due = leases_.NextDue(now_ms)) {
    ApplyAndFollow(due->slot, due->event, {.now_ms = now_ms});
    ++changed;
  }
  leases_.ForgetTimedOut(now_ms);
  // Retry backoffs that are over: the jobs become claimable.
  while (std::optional<uint32_t> slot = waits_.NextDue(now_ms)) {
    CASCADE_CHECK(model_.Apply(*slot, JobEvent::kRetryDue, {.now_ms = now_ms}));
    ++changed;
  }
  return changed;
}

size_t EngineImpl::RunDueWork() {
  size_t changed = 0;
  {
    WriteSection section(this);
    const int64_t now_ms = NowMillis();
    // After a failed commit nothing changes; the caller of a timer has no
    // answer to give, and the next write call reports the failure.
    if (section.writable().ok()) {
      changed = EndDueLeases(now_ms);
      // Bounded, so that a backlog (after a restart, say) is purged over
      // several passes rather than in one long hold of the lock.
      retention_.PurgeExpired(model_, outbox_, journal_, now_ms, /*budget=*/4096);
      section.Commit().IgnoreError();
    }
  }
  // With a real clock the delivery threads send; with a manual one, this.
  if (clock_->IsManual()) outbox_.SendDue();
  return changed;
}

// ---- Events and webhooks ----------------------------------------------------

Subscription EngineImpl::Subscribe(EventCallback callback, const SubscribeOptions& options) {
  // Under the writer lock, so the first event it sees starts an operation.
  WriteSection section(this);
  return hub_.Subscribe(std::move(callback), options);
}

absl::StatusOr<std::vector<DeadLetter>> EngineImpl::ListDeadLetters(std::string_view team) const {
  CASCADE_RETURN_IF_ERROR(ValidateTeam(team));
  return outbox_.DeadLetters(team);
}

absl::Status EngineImpl::ReplayDeadLetter(std::string_view team, std::string_view delivery_id) {
  CASCADE_RETURN_IF_ERROR(ValidateTeam(team));
  return outbox_.Replay(team, delivery_id);
}

OutboxCounts EngineImpl::GetOutboxCounts() const { return outbox_.counts(); }

}  // namespace internal
}  // namespace cascade
