// Copyright 2026 The Cascade Authors.
//
// The rules that carry one job's change through its family (contract §3, §4),
// as plain functions over the job model. Each rule only sends events; the
// state machine table decides which jobs they move, and the model keeps the
// graph counters the rules read.
//
//   cancel closure     E: the named jobs; R: a job one of whose
//                      prerequisites is cancelled; U: a job whose dependents
//                      are all cancelled or failed
//   failure            a pending dependent of a failed job fails (or goes on,
//                      if it ignores failures); U ends useless prerequisites
//   resolution         a pending job whose last prerequisite finished queues
//   retry              the named jobs, and every job that ended because a
//                      job of the set ended, transitively (contract §14)

#ifndef CASCADE_ENGINE_MODEL_CASCADE_RULES_H_
#define CASCADE_ENGINE_MODEL_CASCADE_RULES_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "engine/model/job_model.h"

namespace cascade::internal {

// The dependsOn rule (contract §3): a job may depend on the team's jobs that
// have not ended without output. NotFound (every id unknown to the team) or
// FailedPrecondition (every one in error or manually_cancelled) for a bad
// `depends_on` anywhere in the tree.
absl::Status CheckDependencies(const JobModel& model, TeamNo team, const JobSpec& spec);

// Cancels `named` (REQUIRES: the table accepts Cancel for each) and the least
// fixpoint of rules E, R and U around them; appends every slot cancelled,
// named ones first, each once.
void CancelClosure(JobModel& model, absl::Span<const uint32_t> named, int64_t now_ms,
                   std::vector<uint32_t>& cancelled);

// What follows from `slot` having just ended: a finished job resolves its
// dependents; a failed one fails its pending dependents and its useless
// prerequisites; a cancelled one (an abort) cancels by rules R and U.
void FollowUp(JobModel& model, uint32_t slot, int64_t now_ms);

// The jobs a Retry of `named` (each in error or manually_cancelled) revives:
// the least fixpoint of "the named jobs; every job that ended because a job
// of the set ended" (its recorded cause: a cascade from it, its prerequisite
// failed, its dependents failed). `revive` lists each once, every job after
// the prerequisites it has in the set, with the job of the set that brought
// it (kNone32 for a named one). `blocked` pairs a revived job with a
// prerequisite outside the set that has ended and would hold it forever
// (error, unless it ignores failures; manually_cancelled); the retry is
// refused when any is found.
struct RetryPlan {
  std::vector<std::pair<uint32_t, uint32_t>> revive;   // (slot, brought by)
  std::vector<std::pair<uint32_t, uint32_t>> blocked;  // (revived, prerequisite)
};
RetryPlan PlanRetry(const JobModel& model, absl::Span<const uint32_t> named);

// FailedPrecondition naming each blocked job and the prerequisite that holds
// it, unless none is.
absl::Status RetryRefusal(const JobModel& model, const RetryPlan& plan);

// Revives the plan's jobs in its order (REQUIRES: no job is blocked): each
// goes to queued or pending by its prerequisites. Appends their slots.
void Revive(JobModel& model, const RetryPlan& plan, int64_t now_ms, std::vector<uint32_t>& revived);

// Every job of `batch`: its top-level jobs and, after each, its nested
// children, transitively.
std::vector<uint32_t> BatchJobs(const JobModel& model, const BatchRecord& batch);

// The family of `slot`: the jobs its edges (and, `through_batches`, its
// batch) connect it to, transitively, in slot order; and the batches met.
void CollectFamily(const JobModel& model, uint32_t slot, bool through_batches,
                   std::vector<uint32_t>& jobs, std::vector<BatchNo>& batches);

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_MODEL_CASCADE_RULES_H_
