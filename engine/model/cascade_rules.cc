// Copyright 2026 The Cascade Authors.
//
// The cascade rules of contract §3 and §4 over the job model.

#include "engine/model/cascade_rules.h"

#include <algorithm>
#include <deque>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/util/check.h"
#include "engine/util/strings.h"

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

bool HasDependsOn(const JobSpec& spec) {
  if (!spec.depends_on.empty()) return true;
  for (const JobSpec& child : spec.children) {
    if (HasDependsOn(child)) return true;
  }
  return false;
}

}  // namespace

absl::Status CheckDependencies(const JobModel& model, TeamNo team, const JobSpec& spec) {
  if (!HasDependsOn(spec)) return absl::OkStatus();
  std::vector<std::string> unknown, dead;
  auto visit = [&](const JobSpec& s, auto& self) -> void {
    for (JobId id : s.depends_on) {
      std::optional<uint32_t> slot = model.FindAny(id);
      if (!slot || model.job(*slot).team != team) {
        unknown.push_back(id.ToString());
      } else if (IsDead(model.job(*slot).state())) {
        dead.push_back(
            absl::StrCat(id.ToString(), " (", Sv(StateName(model.job(*slot).state())), ")"));
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

RetryPlan PlanRetry(const JobModel& model, absl::Span<const uint32_t> named) {
  // The jobs that ended with the named ones: a cascade spreads, and a failure
  // propagates, along edges, each job reached from one that ended the same
  // way. So every job the fixpoint can add is in the ended part of the graph
  // around the named jobs; collect that part, then close over causes.
  absl::flat_hash_map<uint32_t, std::vector<uint32_t>> ended_by;  // cause slot -> jobs
  absl::flat_hash_set<uint32_t> seen(named.begin(), named.end());
  std::vector<uint32_t> stack(named.begin(), named.end());
  auto visit = [&](uint32_t s) {
    if (!IsDead(model.job(s).state()) || !seen.insert(s).second) return;
    stack.push_back(s);
    const JobTimeline& t = model.job(s).timeline;
    const bool caused = t.cause == TransitionCause::kCascade ||
                        t.cause == TransitionCause::kPrerequisiteFailed ||
                        t.cause == TransitionCause::kDependentsFailed;
    if (caused && t.cause_slot != kNone32) ended_by[t.cause_slot].push_back(s);
  };
  while (!stack.empty()) {
    const uint32_t s = stack.back();
    stack.pop_back();
    const Vertex v = model.vertex(s);
    if (v == kNoVertex) continue;
    model.graph().ForEachDependent(v, visit);
    model.graph().ForEachPrerequisite(v, visit);
  }
  RetryPlan plan;
  absl::flat_hash_map<uint32_t, uint32_t> brought_by;
  std::vector<uint32_t> set;
  for (uint32_t s : named) {
    if (brought_by.emplace(s, kNone32).second) set.push_back(s);
  }
  for (size_t i = 0; i < set.size(); ++i) {
    auto it = ended_by.find(set[i]);
    if (it == ended_by.end()) continue;
    for (uint32_t s : it->second) {
      if (brought_by.emplace(s, set[i]).second) set.push_back(s);
    }
  }
  // Blocked: a prerequisite outside the set that ended and does not resolve.
  // Order: prerequisites in the set first (Kahn's algorithm on the set).
  absl::flat_hash_map<uint32_t, int> waiting_on;  // prerequisites in the set not yet placed
  for (uint32_t s : set) {
    int& count = waiting_on[s];
    const Vertex v = model.vertex(s);
    if (v == kNoVertex) continue;
    model.graph().ForEachPrerequisite(v, [&](uint32_t p) {
      if (brought_by.contains(p)) {
        ++count;
      } else if (IsDead(model.job(p).state()) &&
                 !Resolves(model.job(s).policy, model.job(p).state())) {
        plan.blocked.emplace_back(s, p);
      }
    });
  }
  std::vector<uint32_t> ready;
  for (uint32_t s : set) {
    if (waiting_on[s] == 0) ready.push_back(s);
  }
  while (!ready.empty()) {
    const uint32_t s = ready.back();
    ready.pop_back();
    plan.revive.emplace_back(s, brought_by[s]);
    const Vertex v = model.vertex(s);
    if (v == kNoVertex) continue;
    model.graph().ForEachDependent(v, [&](uint32_t d) {
      auto it = waiting_on.find(d);
      if (it != waiting_on.end() && --it->second == 0) ready.push_back(d);
    });
  }
  CASCADE_CHECK(plan.revive.size() == set.size());  // the graph has no cycle
  std::sort(plan.blocked.begin(), plan.blocked.end());
  return plan;
}

absl::Status RetryRefusal(const JobModel& model, const RetryPlan& plan) {
  if (plan.blocked.empty()) return absl::OkStatus();
  std::vector<std::string> blocked;
  for (const auto& [revived, prerequisite] : plan.blocked) {
    const JobRecord& p = model.job(prerequisite);
    blocked.push_back(absl::StrCat(model.job(revived).id.ToString(), " needs ", p.id.ToString(),
                                   " (", Sv(StateName(p.state())), ")"));
  }
  return absl::FailedPreconditionError(
      absl::StrCat("retrying would leave jobs waiting for a prerequisite that ended and is not "
                   "retried with them: ",
                   absl::StrJoin(blocked, ", ")));
}

void Revive(JobModel& model, const RetryPlan& plan, int64_t now_ms,
            std::vector<uint32_t>& revived) {
  for (const auto& [slot, brought_by] : plan.revive) {
    const EventArgs args{.now_ms = now_ms,
                         .related = brought_by,
                         .blocked = model.unresolved_prerequisites(slot) > 0};
    CASCADE_CHECK(model.Apply(slot, JobEvent::kRetry, args));
    revived.push_back(slot);
  }
}

std::vector<uint32_t> BatchJobs(const JobModel& model, const BatchRecord& batch) {
  std::vector<uint32_t> jobs(batch.top_level().begin(), batch.top_level().end());
  for (size_t i = 0; i < jobs.size(); ++i) {
    const uint32_t slot = jobs[i];
    if (const Vertex v = model.vertex(slot); v != kNoVertex) {
      model.graph().ForEachPrerequisite(v, [&](uint32_t p) {
        if (model.job(p).parent == slot) jobs.push_back(p);
      });
    }
  }
  return jobs;
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
