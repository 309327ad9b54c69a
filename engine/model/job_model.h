// Copyright 2026 The Cascade Authors.
//
// JobModel: the jobs, and the only code that changes them. It owns the job
// table, the id index, the interned names, the dependency graph, the per-team
// list indexes, the claim queues and the batch directory, and keeps every one
// of them in step with each job's state machine. Creating a job, applying an
// event, restoring a job at recovery and purging a family all go through it;
// after each complete change it tells its listeners (events, journal, leases,
// webhook outbox, retention), so no side effect depends on a caller
// remembering it.
//
// The derived state it keeps, and the one place each is updated:
//   team indexes, claim queues, batch aggregates   Reindex (and Purge, which
//                                                  forgets a family)
//   graph counters (live dependents, unresolved)   AddEdge, and Apply via
//                                                  CountTransition
//
// NOTE: not thread-safe. The engine calls the mutators under its writer lock
// and the readers under at least its reader lock; batch aggregates are also
// read with no lock (engine/index/batch_directory.h).

#ifndef CASCADE_ENGINE_MODEL_JOB_MODEL_H_
#define CASCADE_ENGINE_MODEL_JOB_MODEL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/types/span.h"
#include "cascade/events.h"
#include "cascade/ids.h"
#include "cascade/job.h"
#include "engine/graph/dependency_graph.h"
#include "engine/index/batch_directory.h"
#include "engine/index/list_index.h"
#include "engine/model/claim_queues.h"
#include "engine/model/interner.h"
#include "engine/table/job_table.h"
#include "engine/util/huge_pages.h"

namespace cascade::internal {

// Error and manually_cancelled: the states that end a job without its output.
inline bool IsDead(JobState s) { return s == JobState::kError || s == JobState::kCancelled; }

// Whether a prerequisite in state `s` no longer holds back a dependent with
// `policy`: it finished, or it failed and the dependent ignores failures.
inline bool Resolves(PrerequisiteFailurePolicy policy, JobState s) {
  return s == JobState::kFinished ||
         (policy == PrerequisiteFailurePolicy::kIgnore && s == JobState::kError);
}

// One complete change of a job's state (wire state or sub-state).
struct JobChange {
  uint32_t slot = kNone32;
  std::optional<JobState> from;  // nullopt: the job was just created
  JobState to = JobState::kQueued;
  int64_t now_ms = 0;
  TransitionCause cause = TransitionCause::kSubmitted;
  uint32_t related = kNone32;  // the slot the cause names, or kNone32
  SubState from_sub = SubState::kNone;
  SubState sub = SubState::kNone;  // the sub-state after the change
  bool restored = false;           // recovery put it back: nothing happened now
};

// Told about every change the model makes, in the order it makes them.
// Called under the engine's writer lock; a listener must not call back into
// the model's mutators. A listener is added for the hooks it overrides
// (ModelListener::Hook), and only those are called: most changes concern one
// listener or two, and a job's every transition passes here.
class ModelListener {
 public:
  enum Hook : uint8_t {
    kTransitions = 1 << 0,    // OnTransition
    kRecordChanges = 1 << 1,  // OnRecordChanged
    kEdges = 1 << 2,          // OnEdgeAdded
    kBatches = 1 << 3,        // OnBatchAdded
    kPurges = 1 << 4,         // OnPurge
  };
  virtual ~ModelListener() = default;
  // A job was created, or its machine moved (Progress moves nothing).
  virtual void OnTransition(const JobChange& change) {}
  // The job's record changed (every change, transitions included).
  virtual void OnRecordChanged(uint32_t slot) {}
  // The edge P -> D was added, with its journal key.
  virtual void OnEdgeAdded(uint64_t key, uint32_t prerequisite, uint32_t dependent) {}
  // A batch was made (it becomes visible once the write section ends).
  virtual void OnBatchAdded(const BatchRecord& batch, int64_t created_ms) {}
  // These are about to be forgotten (the jobs' ids are still set).
  virtual void OnPurge(absl::Span<const uint32_t> jobs, absl::Span<const uint64_t> edges,
                       absl::Span<const BatchNo> batches) {}
};

// A job's fields at creation, from a validated spec (children excluded).
struct NewJob {
  TeamNo team{};
  uint32_t parent = kNone32;
  BatchRecord* batch = nullptr;  // not yet in the directory while it is made
  BatchNo batch_number = kNo<BatchNo>;
  size_t batch_index = 0;
  int64_t now_ms = 0;
};

// A job's record as the journal holds it, for Restore.
struct RestoredJob {
  JobId id;
  std::string team;
  JobState state = JobState::kQueued;
  SubState sub = SubState::kNone;
  JobTimeline timeline;
  int64_t created_ms = 0;
  std::string template_id;
  uint32_t total_assets = 0;
  int32_t priority = 0;
  // The job's retry settings; 0 (attempts) or -1 (the others): the model's
  // default, as for a row written before they were journaled.
  int max_attempts = 0;
  int64_t retry_backoff_ms = -1;
  int64_t timeout_ms = -1;
  PrerequisiteFailurePolicy policy = PrerequisiteFailurePolicy::kFail;
  uint32_t parent = kNone32;
  BatchNo batch = kNo<BatchNo>;
  std::optional<uint16_t> batch_index;  // set for a top-level job of its batch
  std::string output_url, error, payload;
  std::vector<std::string> tags;
  std::unique_ptr<WebhookSpec> webhook;
};

// What a job gets when its spec does not say (contract §14).
struct JobDefaults {
  int max_attempts = 3;
  int64_t retry_backoff_ms = 0;
  int64_t timeout_ms = 0;  // 0: no time limit
};

class JobModel {
 public:
  JobModel(const std::string& output_url_template, const JobDefaults& defaults,
           std::optional<uint64_t> seed);
  JobModel(const JobModel&) = delete;
  JobModel& operator=(const JobModel&) = delete;

  // Listeners are told in the order they were added, through the hooks
  // given (a mask of ModelListener::Hook); they outlive the model.
  void AddListener(ModelListener* listener, uint8_t hooks);

  // ---- Reading ----
  const JobRecord& job(uint32_t slot) const { return table_[slot]; }
  const JobTable& table() const { return table_; }
  uint32_t size() const { return table_.size(); }
  size_t live_jobs() const { return table_.size() - purged_jobs_; }
  // The slot of `id`, whatever its team; nullopt if unknown.
  std::optional<uint32_t> FindAny(JobId id) const;
  // The slot of `id` if it belongs to team `team`; nullopt otherwise.
  std::optional<uint32_t> Find(std::string_view team, JobId id) const;
  // The slot of each id, or kNone32 where it is unknown or another team's;
  // the index probes and record loads of many ids overlap.
  std::vector<uint32_t> FindMany(std::string_view team, absl::Span<const JobId> ids) const;
  const Interner<TeamNo>& teams() const { return teams_; }
  const Interner<TemplateNo>& templates() const { return templates_; }
  const Interner<TagNo>& tags() const { return tags_; }
  const DependencyGraph& graph() const { return graph_; }
  const TeamIndex& team_index(TeamNo team) const { return *team_index_[Raw(team)]; }
  const ClaimQueues& queues() const { return queues_; }
  const BatchDirectory& batches() const { return batches_; }
  BatchDirectory& batches() { return batches_; }  // lock-free readers' Find
  // Options::output_url_template and a team's name, kept for the life of the
  // process (util/stable_text.h): answers point at them (cascade::OutputUrl).
  std::string_view output_url_pattern() const { return output_url_pattern_; }
  std::string_view team_text(TeamNo team) const { return team_texts_[Raw(team)]; }
  const JobDefaults& defaults() const { return defaults_; }
  // The graph vertex of `slot`, or kNoVertex when it has no edge.
  Vertex vertex(uint32_t slot) const { return table_[slot].vertex; }
  // The counters contract §3 and §4 read (0 for a job without edges).
  uint32_t live_dependents(uint32_t slot) const;
  uint32_t unresolved_prerequisites(uint32_t slot) const;

  // ---- Changing ----
  // The team's number, interning a name seen for the first time.
  TeamNo InternTeam(std::string_view team);
  // A fresh id for something made at `now_ms` (jobs, batches, deliveries).
  Ulid NextId(int64_t now_ms) { return ids_.NextAtMillis(now_ms); }
  // Makes a batch record (published when `Publish` is called).
  std::unique_ptr<BatchRecord> NewBatch(BatchId id, std::string_view team) const;
  // Puts a batch made by NewBatch in the directory, where readers find it.
  BatchNo PublishBatch(std::unique_ptr<BatchRecord> batch, int64_t created_ms);

  // Creates `spec`'s job and, pre-order, its nested children (so ids follow
  // the tree), with their edges, and submits each to its machine. Returns the
  // slot of `spec`'s job. REQUIRES: the spec is valid and its dependsOn ids
  // name jobs of the team that are not dead.
  uint32_t CreateTree(const JobSpec& spec, const NewJob& where);

  // Runs `event` through the job's machine (filling in what the record
  // knows: its policy and attempt budget). If the table accepts it, applies
  // the event's payload (Finish: `output_url`; Fail: `error`), keeps every
  // index, queue, aggregate and graph counter in step, and tells the
  // listeners. False, changing nothing, if the table refuses.
  bool Apply(uint32_t slot, JobEvent event, EventArgs args, std::string_view text = {});

  // Whether the state machine table can reach `state` (and the abort
  // sub-state): what Restore requires of a row.
  static bool CanRestore(JobState state, SubState sub);
  // Recovery: appends a job as the journal describes it. REQUIRES: ids come
  // in increasing order, the parent and batch were restored before.
  uint32_t Restore(RestoredJob job);
  // Recovery: the job a restored job's cause names, once every job is back
  // (a cause may name a later job).
  void RestoreCause(uint32_t slot, uint32_t cause_slot);
  // Recovery: restores a batch; returns its number.
  BatchNo RestoreBatch(BatchId id, std::string_view team);
  // Adds the edge P -> D (recovery passes the journal's key, creation none).
  void AddEdge(uint32_t prerequisite, uint32_t dependent, std::optional<uint64_t> key = {});
  // Makes later ids sort after `id`.
  void ObserveId(Ulid id) { ids_.Observe(id); }

  // Forgets a whole family (retention): its rows, indexes, edges and ids.
  void Purge(absl::Span<const uint32_t> jobs, absl::Span<const BatchNo> batches);

 private:
  // Moves `slot` from `from` (nullopt: new to every index) to `to` (nullopt:
  // purged, out of every index) in the team index and its batch's aggregate,
  // and in or out of the claim queues as it became claimable or stopped being
  // so (`was_claimable`: before the change): the one place derived state
  // follows a job's state.
  void Reindex(uint32_t slot, std::optional<JobState> from, std::optional<JobState> to,
               bool was_claimable);
  // The job's retry settings; a negative (or, for attempts, zero) value
  // takes the model's default.
  void SetRetryPolicy(JobRecord& job, int max_attempts, int64_t retry_backoff_ms,
                      int64_t timeout_ms);
  BatchRecord& batch_record(BatchNo number) {
    return number == creating_batch_number_ ? *creating_batch_ : batches_.at(number);
  }
  // Keeps the graph counters in step with `slot` moving from -> to.
  void CountTransition(uint32_t slot, JobState from, JobState to);
  Vertex EnsureVertex(uint32_t slot);
  void Tell(const JobChange& change);
  void SetExtras(JobRecord& job, std::string output_url, std::string error, std::string payload,
                 const std::vector<std::string>& tags, std::unique_ptr<WebhookSpec> webhook);

  const std::string_view output_url_pattern_;
  const JobDefaults defaults_;
  IdGenerator ids_;
  JobTable table_;
  // Its backing array (~50 MB at 1M jobs) in huge pages: one TLB entry covers
  // 2 MiB of it, so a lookup's probe misses the TLB less often.
  absl::flat_hash_map<JobId, uint32_t, absl::Hash<JobId>, std::equal_to<JobId>,
                      HugePageAllocator<std::pair<const JobId, uint32_t>>>
      by_id_;
  DependencyGraph graph_;
  Interner<TeamNo> teams_;
  Interner<TemplateNo> templates_;
  Interner<TagNo> tags_;
  std::vector<std::unique_ptr<TeamIndex>> team_index_;
  std::vector<std::string_view> team_texts_;  // by TeamNo, StableText
  ClaimQueues queues_;
  BatchDirectory batches_;
  int64_t last_created_ms_ = 0;
  uint64_t next_edge_key_ = 0;
  size_t purged_jobs_ = 0;
  // The listeners of each hook, in the order they were added.
  std::vector<ModelListener*> on_transition_, on_record_changed_, on_edge_added_, on_batch_added_,
      on_purge_;
  // The batch CreateTree is filling, before it is published.
  BatchRecord* creating_batch_ = nullptr;
  BatchNo creating_batch_number_ = kNo<BatchNo>;
};

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_MODEL_JOB_MODEL_H_
