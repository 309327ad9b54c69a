// Copyright 2026 The Cascade Authors.
//
// The cascade rules of contract §3 and §4 over the job model.

#include "engine/model/cascade_rules.h"

#include <algorithm>
#include <deque>
#include <utility>

#include "absl/container/flat_hash_set.h"

namespace cascade::internal {
namespace {

// Rules R and U from jobs just cancelled, breadth-first; each entry carries
// the job its cascade started from.
void CancelCascade(JobModel& model, std::deque<std::pair<uint32_t, uint32_t>>& work, int64_t now_ms,
                   std::vector<uint32_t>* cancelled) {
  auto cascade = [&](uint32_t slot, uint32_t origin) {
    if (!model.Apply(slot, JobEvent::kCancel,
                     {.now_ms = now_ms, .cause = TransitionCause::kCascade, .related = origin})) {
      return;  // not cancellable: rendering or ended
    }
    if (cancelled != nullptr) cancelled->push_back(slot);
    work.emplace_back(slot, origin);
  };
  while (!work.empty()) {
    auto [slot, origin] = work.front();
    work.pop_front();
    const Vertex v = model.vertex(slot);
    if (v == kNoVertex) continue;
    // R: a job one of whose prerequisites is cancelled.
    model.graph().ForEachDependent(v, [&](uint32_t d) { cascade(d, origin); });
    // U: a job whose dependents are all cancelled (or failed).
    model.graph().ForEachPrerequisite(v, [&](uint32_t p) {
      if (model.live_dependents(p) == 0) cascade(p, origin);
    });
  }
}

void PropagateFailure(JobModel& model, uint32_t failed, int64_t now_ms) {
  std::deque<uint32_t> work{failed};
  while (!work.empty()) {
    const uint32_t slot = work.front();
    work.pop_front();
    const Vertex v = model.vertex(slot);
    if (v == kNoVertex) continue;
    // A pending dependent fails with it, unless it ignores failures (then it
    // goes on once the rest have finished). Rendering ones run on.
    model.graph().ForEachDependent(v, [&](uint32_t d) {
      const EventArgs args{
          .now_ms = now_ms, .related = slot, .blocked = model.unresolved_prerequisites(d) > 0};
      if (model.Apply(d, JobEvent::kPrerequisiteFailed, args) &&
          model.job(d).state() == JobState::kError) {
        work.push_back(d);
      }
    });
    // U: a prerequisite no live dependent needs any more.
    model.graph().ForEachPrerequisite(v, [&](uint32_t p) {
      if (model.live_dependents(p) == 0 &&
          model.Apply(p, JobEvent::kDependentsFailed, {.now_ms = now_ms, .related = slot})) {
        work.push_back(p);
      }
    });
  }
}

void ResolveDependents(JobModel& model, uint32_t slot, int64_t now_ms) {
  const Vertex v = model.vertex(slot);
  if (v == kNoVertex) return;
  model.graph().ForEachDependent(v, [&](uint32_t d) {
    if (model.unresolved_prerequisites(d) == 0) {
      (void)model.Apply(d, JobEvent::kPrerequisitesMet, {.now_ms = now_ms, .related = slot});
    }
  });
}

}  // namespace

void CancelClosure(JobModel& model, absl::Span<const uint32_t> named, int64_t now_ms,
                   std::vector<uint32_t>& cancelled) {
  std::deque<std::pair<uint32_t, uint32_t>> work;
  // E: every named job first, so a named job is always "Cancelled via API"
  // even when another named job's cascade would reach it.
  for (uint32_t slot : named) {
    if (!model.Apply(slot, JobEvent::kCancel, {.now_ms = now_ms})) continue;
    cancelled.push_back(slot);
    work.emplace_back(slot, slot);
  }
  CancelCascade(model, work, now_ms, &cancelled);
}

void FollowUp(JobModel& model, uint32_t slot, int64_t now_ms) {
  switch (model.job(slot).state()) {
    case JobState::kFinished:
      ResolveDependents(model, slot, now_ms);
      break;
    case JobState::kError:
      PropagateFailure(model, slot, now_ms);
      break;
    case JobState::kCancelled: {
      std::deque<std::pair<uint32_t, uint32_t>> work{{slot, slot}};
      CancelCascade(model, work, now_ms, nullptr);
      break;
    }
    default:
      break;  // requeued: nothing follows
  }
}

void CollectFamily(const JobModel& model, uint32_t slot, bool through_batches,
                   std::vector<uint32_t>& jobs, std::vector<BatchNo>& batches) {
  jobs.clear();
  batches.clear();
  absl::flat_hash_set<uint32_t> seen_jobs{slot};
  absl::flat_hash_set<BatchNo> seen_batches;
  std::deque<uint32_t> work{slot};
  auto visit = [&](uint32_t s) {
    if (seen_jobs.insert(s).second) work.push_back(s);
  };
  while (!work.empty()) {
    const uint32_t s = work.front();
    work.pop_front();
    jobs.push_back(s);
    const JobRecord& job = model.job(s);
    if (job.vertex != kNoVertex) {
      model.graph().ForEachDependent(job.vertex, visit);
      model.graph().ForEachPrerequisite(job.vertex, visit);
    }
    if (through_batches && job.batch != kNo<BatchNo> && seen_batches.insert(job.batch).second) {
      batches.push_back(job.batch);
      for (uint32_t member : model.batches().at(job.batch).top_level()) visit(member);
    }
  }
  std::sort(jobs.begin(), jobs.end());
}

}  // namespace cascade::internal
