// Copyright 2026 The Cascade Authors.
//
// EngineImpl: the in-memory engine behind cascade::Engine. It owns the job
// table, the dependency graph, the per-team indexes and the batch directory,
// and is the only code that changes them. docs/architecture.md draws it.
//
// Durability: with a store (a data directory), every write section journals
// the rows it changed as one group before it returns; engine_journal.cc
// encodes rows and recovers from them. docs/durability.md.
//
// Locking: one reader/writer lock, `mu_` (engine/util/shared_mutex.h), guards everything but the
// batch aggregates. Calls that change state hold it exclusively for their whole duration, which is
// what makes a bulk cancel atomic; reads share it. Batch aggregates are read with no lock at all
// (see batch_directory.h). With a real clock a timer thread runs RunDueWork; the lock order is
// mu_ before timer_mu_, and the timer thread never holds timer_mu_ while it takes mu_.

#ifndef CASCADE_ENGINE_ENGINE_IMPL_H_
#define CASCADE_ENGINE_ENGINE_IMPL_H_

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "cascade/engine.h"
#include "cascade/events.h"
#include "cascade/webhook.h"
#include "engine/events/event_hub.h"
#include "engine/graph/dependency_graph.h"
#include "engine/index/batch_directory.h"
#include "engine/index/list_index.h"
#include "engine/store/store.h"
#include "engine/table/job_table.h"
#include "engine/util/huge_pages.h"
#include "engine/util/shared_mutex.h"
#include "engine/util/strings.h"
#include "engine/util/url_template.h"

namespace cascade::internal {

// Interns strings to dense 32-bit ids (teams, templates, tags).
class Interner {
 public:
  uint32_t Intern(std::string_view s) {
    // A batch's jobs usually share their template and team: one comparison
    // instead of a hash lookup.
    if (last_ < names_.size() && names_[last_] == s) return last_;
    auto [it, inserted] = ids_.try_emplace(Sv(s), static_cast<uint32_t>(names_.size()));
    if (inserted) names_.emplace_back(s);
    last_ = it->second;
    return it->second;
  }
  std::optional<uint32_t> Find(std::string_view s) const {
    auto it = ids_.find(Sv(s));
    if (it == ids_.end()) return std::nullopt;
    return it->second;
  }
  const std::string& name(uint32_t id) const { return names_[id]; }
  size_t size() const { return names_.size(); }

 private:
  absl::flat_hash_map<std::string, uint32_t> ids_;
  std::vector<std::string> names_;
  uint32_t last_ = std::numeric_limits<uint32_t>::max();  // the last name interned
};

// Error and manually_cancelled: the states that end a job without its output.
inline bool IsDead(JobState s) { return s == JobState::kError || s == JobState::kCancelled; }

class EngineImpl;

// Makes an engine over `store` (null: in memory), restoring what the store
// holds. Engine::Create opens the store of options.durability.data_dir and
// calls this; tests pass stores of their own.
absl::StatusOr<std::unique_ptr<EngineImpl>> CreateEngine(const Options& options,
                                                         std::unique_ptr<Store> store);

class EngineImpl final : public Engine {
 public:
  // Start() must run before any other call.
  EngineImpl(const Options& options, std::unique_ptr<Store> store);
  // Stops the timer and delivery threads, then closes the store.
  ~EngineImpl() override;

  // Restores the store's state (Recover), ends the leases that expired while
  // no engine had the directory, and starts the timer and delivery threads.
  absl::Status Start();

  using Engine::Subscribe;
  absl::StatusOr<CreatedJob> Submit(std::string_view team, const JobSpec& spec) override;
  absl::StatusOr<BatchSubmitResult> SubmitBatch(std::string_view team,
                                                absl::Span<const JobSpec> specs) override;
  absl::StatusOr<BatchSubmitResult> SubmitBatchEntries(
      std::string_view team, absl::Span<const absl::StatusOr<JobSpec>> entries) override;
  absl::StatusOr<Job> Get(std::string_view team, JobId id) const override;
  absl::StatusOr<std::vector<Job>> List(std::string_view team,
                                        const ListQuery& query) const override;
  absl::StatusOr<BatchCounts> GetBatchCounts(std::string_view team, BatchId id) const override;
  absl::StatusOr<BatchView> GetBatch(std::string_view team, BatchId id) const override;
  size_t JobCount() const override;
  absl::StatusOr<std::vector<Job>> GetFamily(std::string_view team, JobId id) const override;
  absl::StatusOr<std::vector<Job>> Cancel(std::string_view team, JobId id) override;
  absl::StatusOr<std::vector<Job>> CancelMany(std::string_view team,
                                              absl::Span<const JobId> ids) override;
  absl::StatusOr<BatchCancelResult> CancelBatch(std::string_view team, BatchId id) override;
  absl::StatusOr<ClaimedJob> Claim(const ClaimRequest& request) override;
  absl::StatusOr<Job> Finish(JobId id, std::string_view lease_token,
                             const FinishReport& report) override;
  absl::StatusOr<Job> Fail(JobId id, std::string_view lease_token, std::string_view error) override;
  absl::StatusOr<HeartbeatResult> Heartbeat(JobId id, std::string_view lease_token,
                                            const HeartbeatReport& report) override;
  absl::StatusOr<Job> Release(JobId id, std::string_view lease_token) override;
  absl::StatusOr<Job> RequestAbort(std::string_view team, JobId id) override;
  size_t RunDueWork() override;
  Subscription Subscribe(EventCallback callback, const SubscribeOptions& options) override;
  absl::StatusOr<std::vector<DeadLetter>> ListDeadLetters(std::string_view team) const override;
  absl::Status ReplayDeadLetter(std::string_view team, std::string_view delivery_id) override;
  OutboxCounts GetOutboxCounts() const override;

 private:
  // Holds mu_ exclusively for its scope. On leaving, while still holding it,
  // publishes the events the section produced (so subscribers see one total
  // order), then wakes the delivery threads if the section queued a
  // delivery. Every call that changes state runs in one.
  class ABSL_SCOPED_LOCKABLE WriteSection {
   public:
    explicit WriteSection(EngineImpl* engine) ABSL_EXCLUSIVE_LOCK_FUNCTION(engine->mu_);
    // Ends the section if Commit did not: a call that returns early changed
    // nothing (or is failing anyway).
    ~WriteSection() ABSL_UNLOCK_FUNCTION();
    WriteSection(const WriteSection&) = delete;
    WriteSection& operator=(const WriteSection&) = delete;

    // OK, or the error of the store's failed commit: after one, the engine
    // takes no more changes (its memory holds changes the disk does not), so
    // a call checks this before it changes anything.
    absl::Status writable() const;

    // Ends the section: journals the rows it changed as one group (under the
    // lock, so groups are in the order of operations), queues its events,
    // releases the lock, then waits until the group is durable and publishes
    // the events. A call answers OK only if this returns OK. In memory, it
    // publishes and releases the lock, and returns OK.
    absl::Status Commit() ABSL_UNLOCK_FUNCTION();

   private:
    EngineImpl* const engine_;
    bool ended_ = false;
  };
  // ---- Lookup ----
  // The slot of `id` if it belongs to `team`; NotFound otherwise.
  absl::StatusOr<uint32_t> FindJob(std::string_view team, JobId id) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // The slot of each id, or kNone32 where the id is unknown or another
  // team's; the index lookups and record loads of many ids overlap.
  std::vector<uint32_t> FindJobs(std::string_view team, absl::Span<const JobId> ids) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // The slot of `id` whatever its team (worker calls); NotFound otherwise.
  absl::StatusOr<uint32_t> FindAnyJob(JobId id) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // The batch if it belongs to `team`, or null. Lock-free.
  const BatchRecord* FindBatch(std::string_view team, BatchId id) const;

  // ---- Submit ----
  // NotFound / FailedPrecondition for a bad `depends_on` anywhere in the tree.
  absl::Status CheckDependencies(uint32_t team, const JobSpec& spec) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Creates `spec` and its children (pre-order, so ids follow the tree).
  // REQUIRES: ValidateSpec and CheckDependencies passed.
  uint32_t CreateTree(uint32_t team, const JobSpec& spec, uint32_t parent, BatchRecord* batch,
                      uint32_t batch_number, size_t batch_index, int64_t now_ms, CreatedJob* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Vertex EnsureVertex(uint32_t slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Both SubmitBatch overloads: `count` entries, entry i being *spec_at(i),
  // or, when spec_at(i) is null, an entry that failed with rejected(i).
  absl::StatusOr<BatchSubmitResult> SubmitBatchImpl(
      std::string_view team, size_t count, absl::FunctionRef<const JobSpec*(size_t)> spec_at,
      absl::FunctionRef<absl::Status(size_t)> rejected);

  // ---- Transitions ----
  // Why a transition happens, for its event; `related` is a slot or kNone32.
  struct Cause {
    TransitionCause why;
    uint32_t related;
  };
  // The cause a transition by `event` has unless the caller says otherwise.
  static TransitionCause DefaultCause(JobEvent event);
  // Runs `event` through the job's state machine; on success keeps every
  // index, aggregate and graph counter in step, records the event and, when
  // the job ends with a webhook, queues its delivery. False if the table
  // refuses.
  bool Transition(uint32_t slot, JobEvent event, const EventArgs& args,
                  std::optional<Cause> cause = std::nullopt) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records a transition event for subscribers (when there are any).
  void RecordEvent(uint32_t slot, std::optional<JobState> from, JobState to, int64_t now_ms,
                   Cause cause) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Refused(uint32_t slot, JobEvent event) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Cancels `named` (all cancellable) and the closure of rules E, R, U;
  // appends every slot cancelled to `cancelled`.
  void CancelClosure(absl::Span<const uint32_t> named, int64_t now_ms,
                     std::vector<uint32_t>& cancelled) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The R/U walk from jobs just cancelled, each paired with the named job
  // its cascade started from.
  void CancelCascade(std::deque<std::pair<uint32_t, uint32_t>>& work, int64_t now_ms,
                     std::vector<uint32_t>& cancelled) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends a rendering job whose abort was requested: manually_cancelled, then
  // the cancel cascade from it.
  // `acknowledged`: by the worker's release, else by the grace running out.
  void EndAborted(uint32_t slot, int64_t now_ms, bool acknowledged)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends an attempt without a result (release, lease expiry): back to queued,
  // or error with propagation after max_attempts.
  void EndAttempt(uint32_t slot, JobEvent event, int64_t now_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After `slot` ended in error: SPEC §3's propagation.
  void PropagateFailure(uint32_t slot, int64_t now_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After `slot` finished: dependents whose last prerequisite it was are queued.
  void ResolveDependents(uint32_t slot, int64_t now_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Keeps queued_, queued_by_priority_ and queued_by_tag_ in step with a job
  // entering or leaving the queued state.
  void Enqueue(uint32_t slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Dequeue(uint32_t slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The queued job the pickup order gives first among those carrying every
  // tag of `wanted` (interned, sorted, unique). Walks the queued jobs of the
  // rarest wanted tag, never every queued job.
  std::optional<uint32_t> PickQueued(absl::Span<const uint32_t> wanted) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // ---- Leases ----
  // A rendering job's lease. Only rendering jobs have one.
  struct ActiveLease {
    uint64_t token = 0;
    int64_t expires_ms = 0;
    int64_t length_ms = 0;                     // what the claim granted
    int64_t abort_deadline_ms = kUnsetMillis;  // set by RequestAbort
    int64_t due_ms() const {
      return abort_deadline_ms == kUnsetMillis ? expires_ms
                                               : std::min(expires_ms, abort_deadline_ms);
    }
  };
  // Installs or replaces the lease of `slot`, keeping deadlines_ in step, and
  // wakes the timer thread if the lease is due before it would wake.
  void SetLease(uint32_t slot, const ActiveLease& lease) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DropLease(uint32_t slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A new lease token for `slot`: 32 random bits (never zero) above the slot
  // masked with lease_slot_key_, so FindLeased finds the job without a search.
  // The slot half is only a hint; the whole token is compared with the lease.
  uint64_t MakeLeaseToken(uint32_t slot) const;
  // Validates the lease of a rendering job for `event`.
  absl::StatusOr<uint32_t> FindLeased(JobId id, std::string_view lease_token, JobEvent event) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  // ---- Views ----
  Job View(uint32_t slot) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Fills a default-constructed `job` (building it in place saves a move).
  void ViewInto(uint32_t slot, Job& job) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  std::vector<Job> Views(std::vector<uint32_t> slots) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // `batch`: the job's batch while it is being created (not yet published);
  // null to look it up.
  std::string OutputUrl(const JobRecord& job, const BatchRecord* batch = nullptr) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  std::string ErrorText(const JobRecord& job) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  // ---- Webhook outbox ----
  // A delivery waiting in the outbox (pending or in flight) or dead.
  struct Delivery {
    enum class Stage : uint8_t { kPending, kInFlight, kDead };
    std::string id;  // Cascade-Delivery-Id: a ULID
    uint32_t slot = 0;
    uint32_t team = 0;
    Stage stage = Stage::kPending;
    int attempts = 0;
    int64_t created_ms = 0;
    int64_t due_ms = 0;  // pending: when the next attempt may start
    int64_t died_ms = kUnsetMillis;
    std::string last_error;
    // Built at the first attempt (the job's view is final by then) and kept,
    // so every attempt sends the same bytes under the same signature.
    std::optional<WebhookRequest> request;
  };
  // Queues the delivery of `slot`'s webhook, due at once.
  void QueueDelivery(uint32_t slot, int64_t now_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The first pending delivery due at `now_ms`, marked in flight, with the
  // request to send; nullopt if none is due.
  std::optional<std::pair<uint64_t, WebhookRequest>> TakeDueDelivery(int64_t now_ms)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  WebhookRequest BuildRequest(uint32_t slot, const std::string& delivery_id) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Ends the attempt of delivery `key`: delivered (dropped from the outbox),
  // rescheduled with backoff, or dead after the last attempt.
  void RecordAttempt(uint64_t key, const absl::StatusOr<int>& result, int64_t now_ms)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  DeadLetter DeadLetterView(const Delivery& delivery) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // The next delivery due now, marked in flight, once the change that queued
  // it is durable (a webhook never announces a change a crash could take
  // back). nullopt if none is due (`next_due_ms` then gets when the next one
  // is, if any) or the engine takes no more changes.
  std::optional<std::pair<uint64_t, WebhookRequest>> TakeSendable(int64_t* next_due_ms);
  // Records the result of sending delivery `key`.
  void FinishSend(uint64_t key, const absl::StatusOr<int>& result);
  // Sends every delivery due now, one after the other (ManualClock only:
  // RunDueWork calls it).
  void SendDueDeliveries();
  // A delivery thread (real clocks only).
  void DeliveryLoop();
  void WakeDeliveryThreads();

  // ---- Journal (engine_journal.cc) ----
  // What the current write section changed, to be written as one group.
  struct Journal {
    std::vector<uint32_t> jobs;    // slots (may repeat)
    std::vector<uint32_t> leases;  // slots whose lease was set or dropped
    std::vector<uint64_t> outbox;  // delivery keys changed or removed
    std::vector<Change> rows;      // rows written whole when made (edges, batches)
    bool empty() const { return jobs.empty() && leases.empty() && outbox.empty() && rows.empty(); }
  };
  bool journaling() const { return store_ != nullptr; }
  void JournalJob(uint32_t slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (journaling()) journal_.jobs.push_back(slot);
  }
  void JournalLease(uint32_t slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (journaling()) journal_.leases.push_back(slot);
  }
  void JournalDelivery(uint64_t key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (journaling()) journal_.outbox.push_back(key);
  }
  // The edge P -> D, just added with `key`, and the batch row of a batch just
  // made.
  void JournalEdge(uint64_t key, uint32_t prerequisite, uint32_t dependent)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void JournalBatch(const BatchRecord& batch, int64_t created_ms)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Deletes the rows of a family being purged. REQUIRES: the jobs' ids are
  // still set.
  void JournalPurge(absl::Span<const uint32_t> jobs, absl::Span<const uint64_t> edges,
                    absl::Span<const uint32_t> batches, absl::Span<const uint64_t> deliveries)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The section's changes as rows (the current value of every job, lease and
  // delivery it touched); empties the journal.
  std::vector<Change> TakeJournal() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string EncodeJob(uint32_t slot) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  std::string EncodeLease(const ActiveLease& lease) const;
  std::string EncodeDelivery(const Delivery& delivery) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Rebuilds every table, index, graph counter, aggregate, lease and
  // delivery from the store's rows. DataLoss naming the row for a row that
  // does not decode or names what is not there.
  absl::Status Recover() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RecoverJob(std::string_view key, std::string_view value,
                          std::vector<std::pair<uint32_t, JobId>>& parents,
                          std::vector<std::pair<uint32_t, JobId>>& causes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RecoverEdge(std::string_view key, std::string_view value)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RecoverLease(std::string_view key, std::string_view value)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RecoverDelivery(std::string_view key, std::string_view value)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Publishes, in ticket order, the events of every group up to `ticket`
  // (all durable).
  void PublishDurable(uint64_t ticket);
  void RecordStoreFailure(const absl::Status& status);
  // Ends the leases whose time has come (RunDueWork's first half).
  size_t EndDueLeases(int64_t now_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // ---- Retention (engine_retention.cc) ----
  bool retaining() const { return options_.durability.retention != absl::InfiniteDuration(); }
  // Notes that `slot` just ended, for retention.
  void NoteEnded(uint32_t slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (retaining()) ended_.insert({table_[slot].timeline.updated_ms, slot});
  }
  // Purges the families whose every job ended before now - retention, at
  // most about `budget` jobs per call (the rest wait for the next). Returns
  // the number of jobs purged.
  size_t PurgeExpiredFamilies(int64_t now_ms, size_t budget) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The family of `slot`: the jobs its edges (and, `through_batches`, its
  // batch) connect it to, transitively, in slot order; and the batches met.
  void CollectFamily(uint32_t slot, bool through_batches, std::vector<uint32_t>& jobs,
                     std::vector<uint32_t>& batches) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  void PurgeFamily(absl::Span<const uint32_t> jobs, absl::Span<const uint32_t> batches)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  int64_t NowMillis() const { return absl::ToUnixMillis(clock_->Now()); }
  uint64_t NextRandom() const;

  const Options options_;
  Clock* const clock_;
  const UrlTemplate output_url_template_;

  mutable SharedMutex mu_;
  IdGenerator ids_ ABSL_GUARDED_BY(mu_);
  JobTable table_ ABSL_GUARDED_BY(mu_);
  // Its backing array (~50 MB at 1M jobs) in huge pages: one TLB entry covers
  // 2 MiB of it, so a lookup's probe misses the TLB less often.
  absl::flat_hash_map<JobId, uint32_t, absl::Hash<JobId>, std::equal_to<JobId>,
                      HugePageAllocator<std::pair<const JobId, uint32_t>>>
      by_id_ ABSL_GUARDED_BY(mu_);
  DependencyGraph graph_ ABSL_GUARDED_BY(mu_);
  Interner teams_ ABSL_GUARDED_BY(mu_);
  Interner templates_ ABSL_GUARDED_BY(mu_);
  Interner tags_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<TeamIndex>> team_index_ ABSL_GUARDED_BY(mu_);
  // Every team's queued jobs: what claims pick from, in slot (age) order and
  // grouped by priority, highest first.
  SlotSet queued_ ABSL_GUARDED_BY(mu_);
  absl::btree_map<int32_t, SlotSet, std::greater<int32_t>> queued_by_priority_ ABSL_GUARDED_BY(mu_);
  // Queued jobs carrying each tag (interned id), for claims with tags.
  absl::flat_hash_map<uint32_t, SlotSet> queued_by_tag_ ABSL_GUARDED_BY(mu_);
  int64_t last_created_ms_ ABSL_GUARDED_BY(mu_) = 0;
  // Leases of rendering jobs, and their next due times (the earlier of lease
  // expiry and abort deadline) in time order.
  absl::flat_hash_map<uint32_t, ActiveLease> leases_ ABSL_GUARDED_BY(mu_);
  absl::btree_set<std::pair<int64_t, uint32_t>> deadlines_ ABSL_GUARDED_BY(mu_);
  // Writers hold mu_ exclusively; Find and the aggregates need no lock.
  BatchDirectory batches_;

  // ---- Events ----
  EventHub hub_;
  // The current write section's events, published when it ends.
  std::vector<TransitionEvent> section_events_ ABSL_GUARDED_BY(mu_);
  uint64_t last_event_sequence_ ABSL_GUARDED_BY(mu_) = 0;

  // ---- Outbox ----
  // Keyed by queue order; pending ones are also in outbox_due_ by due time.
  absl::btree_map<uint64_t, Delivery> outbox_ ABSL_GUARDED_BY(mu_);
  absl::btree_set<std::pair<int64_t, uint64_t>> outbox_due_ ABSL_GUARDED_BY(mu_);
  uint64_t next_delivery_key_ ABSL_GUARDED_BY(mu_) = 0;
  OutboxCounts outbox_counts_ ABSL_GUARDED_BY(mu_);
  // Set by a write section that made a delivery due; read when it ends.
  bool delivery_due_in_section_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<WebhookTransport> owned_transport_;
  WebhookTransport* const transport_;
  std::mutex delivery_mu_;
  std::condition_variable delivery_cv_;
  bool delivery_stop_ ABSL_GUARDED_BY(delivery_mu_) = false;
  uint64_t delivery_generation_ ABSL_GUARDED_BY(delivery_mu_) = 0;
  std::vector<std::thread> delivery_threads_;

  // ---- Journal ----
  // Null in memory. Closed by the destructor after the threads stop.
  std::unique_ptr<Store> store_;
  Journal journal_ ABSL_GUARDED_BY(mu_);
  uint64_t next_edge_key_ ABSL_GUARDED_BY(mu_) = 0;
  // The last group appended: a delivery is sent only once it is durable.
  uint64_t last_ticket_ ABSL_GUARDED_BY(mu_) = 0;
  // Events of groups not yet durable, by ticket.
  std::mutex publish_mu_;
  absl::btree_map<uint64_t, std::vector<TransitionEvent>> unpublished_ ABSL_GUARDED_BY(publish_mu_);
  // Set once, by the first failed commit.
  std::atomic<bool> store_failed_{false};
  mutable std::mutex failure_mu_;
  absl::Status store_failure_ ABSL_GUARDED_BY(failure_mu_);

  // ---- Retention ----
  // Terminal jobs by (the time they ended, slot); kept only with a finite
  // retention.
  absl::btree_set<std::pair<int64_t, uint32_t>> ended_ ABSL_GUARDED_BY(mu_);
  size_t purged_jobs_ ABSL_GUARDED_BY(mu_) = 0;

  // ---- Timer (real clocks only): runs RunDueWork when something is due ----
  void TimerLoop();
  // Wakes the timer thread if `due_ms` is before the time it plans to wake
  // (so a new lease 60 s out costs nothing when it already wakes within 1 s).
  void WakeTimerFor(int64_t due_ms);
  std::mutex timer_mu_;
  std::condition_variable timer_cv_;
  bool timer_stop_ ABSL_GUARDED_BY(timer_mu_) = false;
  uint64_t timer_generation_ ABSL_GUARDED_BY(timer_mu_) = 0;
  // When the timer thread will next wake by itself (Unix ms): max while it is
  // working out its wait (any deadline then wakes it again), min when there
  // is no timer thread (a manual clock: nothing to wake).
  std::atomic<int64_t> timer_planned_wake_ms_{std::numeric_limits<int64_t>::max()};
  std::thread timer_;  // last member: starts after everything it uses
  // Feeds `random` orders and lease tokens; atomic so readers may draw.
  mutable std::atomic<uint64_t> random_state_;
  // Masks the slot half of lease tokens (so they do not read as a job count).
  uint32_t lease_slot_key_ = 0;
};

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_ENGINE_IMPL_H_
