// Copyright 2026 The Cascade Authors.
//
// The job model: the one place a job's machine is driven and the derived
// state kept in step with it.

#include "engine/model/job_model.h"

#include <algorithm>

#include "engine/util/check.h"
#include "engine/util/stable_text.h"

namespace cascade::internal {
namespace {

absl::Span<const TagNo> TagsOf(const JobRecord& job) {
  return job.extras ? absl::Span<const TagNo>(job.extras->tags) : absl::Span<const TagNo>();
}

}  // namespace

JobModel::JobModel(const std::string& output_url_template, const JobDefaults& defaults,
                   std::optional<uint64_t> seed)
    : output_url_pattern_(StableText(output_url_template)),
      defaults_(defaults),
      ids_(seed ? IdGenerator(*seed) : IdGenerator()) {}

// ---- Reading ------------------------------------------------------------------

std::optional<uint32_t> JobModel::FindAny(JobId id) const {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  return it->second;
}

std::optional<uint32_t> JobModel::Find(std::string_view team, JobId id) const {
  by_id_.prefetch(id);  // the probe's control bytes and slots load together
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  // All the record's lines at once: the caller reads more of it than the
  // team, and these misses then overlap instead of following one another.
  table_.Prefetch(it->second);
  if (teams_.name(table_[it->second].team) != team) return std::nullopt;
  return it->second;
}

std::vector<uint32_t> JobModel::FindMany(std::string_view team, absl::Span<const JobId> ids) const {
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

uint32_t JobModel::live_dependents(uint32_t slot) const {
  const Vertex v = table_[slot].vertex;
  return v == kNoVertex ? 0 : graph_.node(v).live_dependents;
}

uint32_t JobModel::unresolved_prerequisites(uint32_t slot) const {
  const Vertex v = table_[slot].vertex;
  return v == kNoVertex ? 0 : graph_.node(v).unresolved_prerequisites;
}

void JobModel::AddListener(ModelListener* listener, uint8_t hooks) {
  if (hooks & ModelListener::kTransitions) on_transition_.push_back(listener);
  if (hooks & ModelListener::kRecordChanges) on_record_changed_.push_back(listener);
  if (hooks & ModelListener::kEdges) on_edge_added_.push_back(listener);
  if (hooks & ModelListener::kBatches) on_batch_added_.push_back(listener);
  if (hooks & ModelListener::kPurges) on_purge_.push_back(listener);
}

// ---- Creating -----------------------------------------------------------------

TeamNo JobModel::InternTeam(std::string_view team) {
  const TeamNo id = teams_.Intern(team);
  if (Raw(id) == team_index_.size()) {
    team_index_.push_back(std::make_unique<TeamIndex>());
    team_texts_.push_back(StableText(team));
  }
  return id;
}

std::unique_ptr<BatchRecord> JobModel::NewBatch(BatchId id, std::string_view team) const {
  return std::make_unique<BatchRecord>(id, std::string(team));
}

BatchNo JobModel::PublishBatch(std::unique_ptr<BatchRecord> batch, int64_t created_ms) {
  const BatchRecord& record = *batch;
  for (ModelListener* l : on_batch_added_) l->OnBatchAdded(record, created_ms);
  return batches_.Insert(std::move(batch));  // readers see it whole
}

void JobModel::SetExtras(JobRecord& job, std::string output_url, std::string error,
                         std::string payload, const std::vector<std::string>& tags,
                         std::unique_ptr<WebhookSpec> webhook) {
  if (tags.empty() && output_url.empty() && error.empty() && payload.empty() && !webhook) return;
  JobExtras& extras = job.mutable_extras();
  extras.output_url = std::move(output_url);
  extras.error = std::move(error);
  extras.payload = std::move(payload);
  extras.webhook = std::move(webhook);
  for (const std::string& tag : tags) extras.tags.push_back(tags_.Intern(tag));
  std::sort(extras.tags.begin(), extras.tags.end());
  extras.tags.erase(std::unique(extras.tags.begin(), extras.tags.end()), extras.tags.end());
}

uint32_t JobModel::CreateTree(const JobSpec& spec, const NewJob& where) {
  if (where.batch != nullptr) {
    creating_batch_ = where.batch;
    creating_batch_number_ = where.batch_number;
  }
  const uint32_t slot = table_.Append();
  JobRecord& job = table_[slot];
  last_created_ms_ = std::max(last_created_ms_, where.now_ms);
  job.created_ms = last_created_ms_;
  job.id = ids_.NextAtMillis(where.now_ms);
  job.team = where.team;
  if (!spec.template_id.empty()) job.template_ref = templates_.Intern(spec.template_id);
  job.total_assets = static_cast<uint32_t>(spec.total_assets);
  job.priority = spec.priority;
  SetRetryPolicy(
      job, spec.max_attempts.value_or(0),
      spec.retry_backoff ? absl::ToInt64Milliseconds(*spec.retry_backoff) : -1,
      spec.timeout ? std::max<int64_t>(1, absl::ToInt64Milliseconds(*spec.timeout)) : -1);
  job.policy = spec.on_prerequisite_failure;
  job.parent = where.parent;
  if (where.batch != nullptr) {
    job.batch = where.batch_number;
    job.top_level_of_batch = where.parent == kNone32;
    job.batch_index = static_cast<uint16_t>(where.batch_index);
    if (job.top_level_of_batch) where.batch->top_level().push_back(slot);
  }
  if (!spec.output_url.empty() || !spec.payload.empty() || !spec.tags.empty() || spec.webhook) {
    SetExtras(job, spec.output_url, "", spec.payload, spec.tags,
              spec.webhook ? std::make_unique<WebhookSpec>(*spec.webhook) : nullptr);
  }  // most jobs have no extras: no strings made for them
  by_id_.emplace(job.id, slot);

  // Pending iff a prerequisite is unresolved: every new child is.
  size_t unresolved = spec.children.size();
  for (JobId dep : spec.depends_on) {
    if (!Resolves(job.policy, table_[by_id_.at(dep)].state())) ++unresolved;
  }
  CASCADE_CHECK(
      Apply(slot, JobEvent::kSubmit, {.now_ms = where.now_ms, .blocked = unresolved > 0}));
  for (JobId dep : spec.depends_on) AddEdge(by_id_.at(dep), slot);
  NewJob child = where;
  child.parent = slot;
  child.batch_index = 0;
  for (const JobSpec& child_spec : spec.children) AddEdge(CreateTree(child_spec, child), slot);
  if (where.parent == kNone32) {
    creating_batch_ = nullptr;
    creating_batch_number_ = kNo<BatchNo>;
  }
  return slot;
}

// ---- Changing -----------------------------------------------------------------

void JobModel::SetRetryPolicy(JobRecord& job, int max_attempts, int64_t retry_backoff_ms,
                              int64_t timeout_ms) {
  job.max_attempts = static_cast<uint8_t>(max_attempts > 0 ? max_attempts : defaults_.max_attempts);
  job.retry_backoff_ms =
      static_cast<uint32_t>(retry_backoff_ms >= 0 ? retry_backoff_ms : defaults_.retry_backoff_ms);
  job.timeout_ms = static_cast<uint32_t>(timeout_ms >= 0 ? timeout_ms : defaults_.timeout_ms);
}

bool JobModel::Apply(uint32_t slot, JobEvent event, EventArgs args, std::string_view text) {
  JobRecord& job = table_[slot];
  args.policy = job.policy;
  args.max_attempts = job.max_attempts;
  args.retry_backoff_ms = job.retry_backoff_ms;
  const std::optional<JobState> from = job.machine.state();
  const SubState from_sub = job.sub_state();
  const bool was_claimable = job.machine.claimable();
  if (!job.machine.Apply(event, args, job.timeline)) return false;
  // The event's payload, before anyone hears of the change.
  if (event == JobEvent::kFinish && !text.empty()) job.mutable_extras().output_url = text;
  if (event == JobEvent::kFail) job.mutable_extras().error = text;
  if (event == JobEvent::kReprioritize && args.priority != job.priority) {
    if (was_claimable) queues_.Dequeue(slot, job.priority, TagsOf(job));
    job.priority = args.priority;
    if (was_claimable) queues_.Enqueue(slot, job.priority, TagsOf(job));
  }
  for (ModelListener* l : on_record_changed_) l->OnRecordChanged(slot);
  const JobState to = job.state();
  const SubState sub = job.sub_state();
  if (from == to && from_sub == sub) return true;  // progress, a priority
  Reindex(slot, from, to, was_claimable);
  if (from && from != to) CountTransition(slot, *from, to);
  JobChange change{.slot = slot,
                   .from = from,
                   .to = to,
                   .now_ms = args.now_ms,
                   .from_sub = from_sub,
                   .sub = sub};
  if (IsDead(to)) {  // the action wrote the cause the job ended with
    change.cause = job.timeline.cause;
    change.related = job.timeline.cause_slot;
  } else {
    change.cause = args.cause.value_or(DefaultCause(event, to));
    change.related = args.related;
  }
  Tell(change);
  return true;
}

void JobModel::Reindex(uint32_t slot, std::optional<JobState> from, std::optional<JobState> to,
                       bool was_claimable) {
  const JobRecord& job = table_[slot];
  TeamIndex& index = *team_index_[Raw(job.team)];
  if (!to) {  // purged: an ended job, so in no queue; its batch is purged with it
    index.Remove(slot, *from, TagsOf(job));
    return;
  }
  // The claim queues hold the claimable jobs: queued, neither waiting out a
  // backoff nor held.
  const bool claimable = job.machine.claimable();
  if (was_claimable && !claimable) queues_.Dequeue(slot, job.priority, TagsOf(job));
  if (!was_claimable && claimable) queues_.Enqueue(slot, job.priority, TagsOf(job));
  if (from == to) return;  // a sub-state only
  if (from) {
    index.Move(slot, *from, *to);
  } else {
    index.Add(slot, *to, TagsOf(job));
  }
  if (job.top_level_of_batch) {
    BatchRecord& batch = batch_record(job.batch);
    if (from) {
      batch.Move(*from, *to);
    } else {
      batch.Add(*to);
    }
  }
}

void JobModel::CountTransition(uint32_t slot, JobState from, JobState to) {
  const Vertex v = table_[slot].vertex;
  if (v == kNoVertex) return;
  if (IsDead(from) != IsDead(to)) {
    // Rule U counts the dependents neither cancelled nor failed.
    graph_.ForEachPrerequisite(v, [&](uint32_t p) {
      uint32_t& live = graph_.node(table_[p].vertex).live_dependents;
      live = IsDead(to) ? live - 1 : live + 1;
    });
  }
  graph_.ForEachDependent(v, [&](uint32_t d) {
    const PrerequisiteFailurePolicy policy = table_[d].policy;
    if (Resolves(policy, from) == Resolves(policy, to)) return;
    uint32_t& unresolved = graph_.node(table_[d].vertex).unresolved_prerequisites;
    unresolved = Resolves(policy, to) ? unresolved - 1 : unresolved + 1;
  });
}

Vertex JobModel::EnsureVertex(uint32_t slot) {
  JobRecord& job = table_[slot];
  if (job.vertex == kNoVertex) job.vertex = graph_.AddVertex(slot);
  return job.vertex;
}

void JobModel::AddEdge(uint32_t prerequisite, uint32_t dependent, std::optional<uint64_t> key) {
  const Vertex pv = EnsureVertex(prerequisite);
  const Vertex dv = EnsureVertex(dependent);
  const uint64_t k = key.value_or(next_edge_key_);
  next_edge_key_ = std::max(next_edge_key_, k + 1);
  graph_.AddEdge(pv, dv, k);
  // The counters, from the two ends' states: the same rule CountTransition
  // keeps as they change.
  if (!IsDead(table_[dependent].state())) ++graph_.node(pv).live_dependents;
  if (!Resolves(table_[dependent].policy, table_[prerequisite].state())) {
    ++graph_.node(dv).unresolved_prerequisites;
  }
  if (!key) {
    for (ModelListener* l : on_edge_added_) l->OnEdgeAdded(k, prerequisite, dependent);
  }
}

void JobModel::Tell(const JobChange& change) {
  for (ModelListener* l : on_transition_) l->OnTransition(change);
}

// ---- Recovery and retention ---------------------------------------------------

BatchNo JobModel::RestoreBatch(BatchId id, std::string_view team) {
  InternTeam(team);
  ids_.Observe(id);
  return batches_.Insert(NewBatch(id, team));
}

bool JobModel::CanRestore(JobState state, SubState sub) {
  JobMachine scratch;
  return scratch.Restore(state, sub);
}

uint32_t JobModel::Restore(RestoredJob r) {
  const uint32_t slot = table_.Append();
  JobRecord& job = table_[slot];
  CASCADE_CHECK(job.machine.Restore(r.state, r.sub));  // REQUIRES: CanRestore
  job.id = r.id;
  job.timeline = r.timeline;
  last_created_ms_ = std::max(last_created_ms_, r.created_ms);
  job.created_ms = last_created_ms_;  // never decreasing, whatever the row says
  job.team = InternTeam(r.team);
  if (!r.template_id.empty()) job.template_ref = templates_.Intern(r.template_id);
  job.total_assets = r.total_assets;
  job.priority = r.priority;
  SetRetryPolicy(job, r.max_attempts, r.retry_backoff_ms, r.timeout_ms);
  job.policy = r.policy;
  job.parent = r.parent;
  job.batch = r.batch;
  if (r.batch_index) {
    job.top_level_of_batch = true;
    job.batch_index = *r.batch_index;
    batches_.at(r.batch).top_level().push_back(slot);
  }
  SetExtras(job, std::move(r.output_url), std::move(r.error), std::move(r.payload), r.tags,
            std::move(r.webhook));
  by_id_.emplace(job.id, slot);
  ids_.Observe(job.id);
  Reindex(slot, std::nullopt, r.state, /*was_claimable=*/false);
  Tell({.slot = slot,
        .from = std::nullopt,  // restored: as created, in its state
        .to = r.state,
        .now_ms = job.timeline.updated_ms,
        .cause = job.timeline.cause,
        .related = job.timeline.cause_slot,
        .sub = job.sub_state(),
        .restored = true});
  return slot;
}

void JobModel::RestoreCause(uint32_t slot, uint32_t cause_slot) {
  table_[slot].timeline.cause_slot = cause_slot;
}

void JobModel::Purge(absl::Span<const uint32_t> jobs, absl::Span<const BatchNo> batches) {
  std::vector<uint64_t> edge_keys;
  for (uint32_t s : jobs) {
    if (table_[s].vertex != kNoVertex) {
      graph_.ForEachEdgeKey(table_[s].vertex, [&](uint64_t key) { edge_keys.push_back(key); });
    }
  }
  std::sort(edge_keys.begin(), edge_keys.end());
  edge_keys.erase(std::unique(edge_keys.begin(), edge_keys.end()), edge_keys.end());
  for (ModelListener* l : on_purge_) l->OnPurge(jobs, edge_keys, batches);
  for (uint32_t s : jobs) {
    JobRecord& job = table_[s];
    if (job.vertex != kNoVertex) graph_.ClearVertex(job.vertex);
    Reindex(s, job.state(), std::nullopt, /*was_claimable=*/false);
    by_id_.erase(job.id);
    job.extras.reset();
    job.id = JobId();  // purged()
  }
  for (BatchNo b : batches) {
    BatchRecord& batch = batches_.at(b);
    batch.MarkPurged();
    batch.top_level().clear();
  }
  purged_jobs_ += jobs.size();
}

}  // namespace cascade::internal
