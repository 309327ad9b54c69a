// Copyright 2026 The Cascade Authors.
//
// EngineImpl: cascade::Engine's implementation, an orchestrator. Each public
// call validates its input, opens a write section (or takes the reader
// lock), asks its collaborators, builds the answer and commits. It changes
// no job itself: docs/architecture.md draws who owns what.
//
//   model_      JobModel: every job, index, queue, aggregate and graph counter,
//               and the only code that drives a job's state machine
//   rules       engine/model/cascade_rules.h: the cancel closure, failure
//               propagation and dependency resolution, as functions
//   journal_    the rows a section changed, one group per section
//   events_     the section's events, published once durable
//   leases_     leases and due times               (own lock)
//   outbox_     webhook deliveries and their senders (own lock)
//   retention_  which terminal families to purge
//   timer_      runs RunDueWork when something is due (own lock)
//
// Locking: one reader/writer lock, `mu_`, guards the model. Calls that change
// state hold it exclusively for their whole duration, which is what makes a
// bulk cancel atomic; reads share it; batch aggregates are read with no lock
// (engine/index/batch_directory.h). The collaborators' own locks are taken
// after mu_, never before it. Delivery threads never take mu_; the timer
// thread takes it only through RunDueWork, holding no other lock.

#ifndef CASCADE_ENGINE_ENGINE_IMPL_H_
#define CASCADE_ENGINE_ENGINE_IMPL_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "cascade/engine.h"
#include "engine/events/event_hub.h"
#include "engine/events/section_events.h"
#include "engine/journal/journal.h"
#include "engine/lease/lease_book.h"
#include "engine/logs/log_book.h"
#include "engine/model/job_model.h"
#include "engine/retention/retention.h"
#include "engine/store/store.h"
#include "engine/timer/due_timer.h"
#include "engine/timer/retry_waits.h"
#include "engine/util/shared_mutex.h"
#include "engine/webhook/outbox.h"
#include "engine/webhook/webhook_trigger.h"
#include "engine/workers/worker_registry.h"

namespace cascade::internal {

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

  // Restores the store's state, ends the leases that expired while no engine
  // had the directory, and starts the timer and delivery threads.
  absl::Status Start();

  using Engine::Subscribe;
  absl::StatusOr<CreatedJob> Submit(std::string_view team, const JobSpec& spec) override;
  absl::StatusOr<BatchSubmitResult> SubmitBatch(std::string_view team,
                                                absl::Span<const JobSpec> specs) override;
  absl::StatusOr<BatchSubmitResult> SubmitBatchEntries(
      std::string_view team, absl::Span<const absl::StatusOr<JobSpec>> entries) override;
  absl::StatusOr<Job> Get(std::string_view team, JobId id) const override;
  absl::StatusOr<std::string> GetPayload(std::string_view team, JobId id) const override;
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
  absl::StatusOr<Job> Fail(JobId id, std::string_view lease_token,
                           const FailReport& report) override;
  absl::StatusOr<HeartbeatResult> Heartbeat(JobId id, std::string_view lease_token,
                                            const HeartbeatReport& report) override;
  absl::StatusOr<Job> Release(JobId id, std::string_view lease_token) override;
  absl::StatusOr<Job> RequestAbort(std::string_view team, JobId id) override;
  absl::StatusOr<std::vector<Job>> Retry(std::string_view team,
                                         absl::Span<const JobId> ids) override;
  absl::Status AppendLog(JobId id, std::string_view lease_token,
                         absl::Span<const std::string> lines) override;
  absl::StatusOr<std::string> GetLog(std::string_view team, JobId id) const override;
  std::vector<WorkerInfo> ListWorkers(std::string_view team) const override;
  absl::StatusOr<std::vector<Job>> Suspend(std::string_view team,
                                           absl::Span<const JobId> ids) override {
    return Hold(team, ids, JobEvent::kSuspend);
  }
  absl::StatusOr<std::vector<Job>> Resume(std::string_view team,
                                          absl::Span<const JobId> ids) override {
    return Hold(team, ids, JobEvent::kResume);
  }
  absl::StatusOr<std::vector<Job>> SuspendBatch(std::string_view team, BatchId id) override {
    return HoldBatch(team, id, JobEvent::kSuspend);
  }
  absl::StatusOr<std::vector<Job>> ResumeBatch(std::string_view team, BatchId id) override {
    return HoldBatch(team, id, JobEvent::kResume);
  }
  absl::StatusOr<Job> SetPriority(std::string_view team, JobId id, int32_t priority) override;
  size_t RunDueWork() override;
  Subscription Subscribe(EventCallback callback, const SubscribeOptions& options) override;
  absl::StatusOr<std::vector<DeadLetter>> ListDeadLetters(std::string_view team) const override;
  absl::Status ReplayDeadLetter(std::string_view team, std::string_view delivery_id) override;
  OutboxCounts GetOutboxCounts() const override;
  std::optional<LeaderStatus> Leader() const override {
    return journal_.journaling() ? journal_.store()->Lease() : std::nullopt;
  }

 private:
  // Holds mu_ exclusively for its scope; every call that changes state runs
  // in one, and reads the clock inside it, so that changes are stamped in the
  // order they happen (a claim never starts before the retry backoff that
  // held its job ended, whoever waited for the lock). Commit journals what the section changed as
  // one group (under the lock, so groups are in the order of operations), makes its deliveries
  // sendable, releases the lock, waits until the group is durable, then
  // publishes its events. A call answers OK only if Commit does.
  class ABSL_SCOPED_LOCKABLE WriteSection {
   public:
    explicit WriteSection(EngineImpl* engine) ABSL_EXCLUSIVE_LOCK_FUNCTION(engine->mu_);
    // Ends the section if Commit did not: a call that returns early changed
    // nothing (or is failing anyway).
    ~WriteSection() ABSL_UNLOCK_FUNCTION();
    WriteSection(const WriteSection&) = delete;
    WriteSection& operator=(const WriteSection&) = delete;

    // OK, or the error of the store's failed commit: after one, the engine
    // takes no more changes, so a call checks this before it changes anything.
    absl::Status writable() const { return engine_->journal_.writable(); }
    absl::Status Commit() ABSL_UNLOCK_FUNCTION();

   private:
    EngineImpl* const engine_;
    bool ended_ = false;
  };

  // NotFound naming the job unless `slot` is set.
  static absl::StatusOr<uint32_t> Found(std::optional<uint32_t> slot, JobId id);
  // The batch if it belongs to `team`, or null. Lock-free.
  const BatchRecord* FindBatch(std::string_view team, BatchId id) const;
  // Writes the creation answer of the tree rooted at `slot` into `created`
  // (built in place: a batch's answers are not moved); `batch` while it is
  // being made.
  void Created(uint32_t slot, const BatchRecord* batch, CreatedJob& created) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Both SubmitBatch overloads: `count` entries, entry i being *spec_at(i),
  // or, when spec_at(i) is null, an entry that failed with rejected(i).
  absl::StatusOr<BatchSubmitResult> SubmitBatchImpl(
      std::string_view team, size_t count, absl::FunctionRef<const JobSpec*(size_t)> spec_at,
      absl::FunctionRef<absl::Status(size_t)> rejected);
  // The slots of 1-1000 distinct ids of the team's jobs: InvalidArgument
  // (none, too many, repeats) or NotFound (listing every unknown id).
  absl::StatusOr<std::vector<uint32_t>> FindNamed(std::string_view team,
                                                  absl::Span<const JobId> ids,
                                                  std::string_view request) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // FailedPrecondition, `refusal` and each job whose machine refuses `event`
  // with its state, unless every one accepts it.
  absl::Status AllAccept(absl::Span<const uint32_t> slots, JobEvent event,
                         std::string_view refusal) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Suspend / Resume (`event`) of named jobs, or of every job of a batch that
  // is queued or pending.
  absl::StatusOr<std::vector<Job>> Hold(std::string_view team, absl::Span<const JobId> ids,
                                        JobEvent event);
  absl::StatusOr<std::vector<Job>> HoldBatch(std::string_view team, BatchId id, JobEvent event);
  // Applies `event` unless the job's hold already is what it asks for;
  // whether the job changed.
  bool SetHold(uint32_t slot, JobEvent event, int64_t now_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // FailedPrecondition naming the job, its state and the event refused.
  absl::Status Refused(uint32_t slot, JobEvent event) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // The rendering job `id` if `lease_token` is its lease's and the table
  // accepts `event` now; FailedPrecondition (stale lease, or refused) or
  // NotFound otherwise. The lease's worker is seen at `now_ms`.
  absl::StatusOr<uint32_t> FindLeased(JobId id, std::string_view lease_token, JobEvent event,
                                      int64_t now_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies `event` (accepted: the caller checked) and what follows from it.
  void ApplyAndFollow(uint32_t slot, JobEvent event, const EventArgs& args,
                      std::string_view text = {}) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the leases (and attempts) whose time has come, and the retry
  // backoffs that are over.
  size_t EndDueLeases(int64_t now_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Job View(uint32_t slot) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  int64_t NowMillis() const { return absl::ToUnixMillis(clock_->Now()); }
  uint64_t NextRandom() const;

  const Options options_;
  Clock* const clock_;
  mutable SharedMutex mu_;
  JobModel model_ ABSL_GUARDED_BY(mu_);
  Journal journal_;
  EventHub hub_;
  SectionEvents events_;
  LeaseBook leases_;
  std::unique_ptr<WebhookTransport> owned_transport_;  // when options name none
  Outbox outbox_;
  WebhookTrigger webhooks_;
  Retention retention_;
  RetryWaits waits_;
  WorkerRegistry workers_ ABSL_GUARDED_BY(mu_);
  LogBook logs_ ABSL_GUARDED_BY(mu_);
  DueTimer timer_;
  // Feeds `random` orders; atomic so readers may draw.
  mutable std::atomic<uint64_t> random_state_;
};

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_ENGINE_IMPL_H_
