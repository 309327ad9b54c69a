// Copyright 2026 The Cascade Authors.
//
// The public view of a job record.

#include "engine/model/job_views.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace cascade::internal {
namespace {

std::optional<absl::Time> OptionalTime(int64_t ms) {
  if (ms == kUnsetMillis) return std::nullopt;
  return absl::FromUnixMillis(ms);
}

}  // namespace

cascade::OutputUrl PlannedOutputUrl(const JobModel& model, const JobRecord& job,
                                    const BatchRecord* batch_record) {
  std::optional<BatchId> batch;
  if (batch_record != nullptr) {
    batch = batch_record->id();
  } else if (job.batch != kNo<BatchNo>) {
    batch = model.batches().id_of(job.batch);
  }
  const std::string_view team = model.team_text(job.team);
  if (job.extras && !job.extras->output_url.empty()) {
    // The job's own pattern may change (Finish reports one): copied.
    return cascade::OutputUrl::PlannedOwned(job.extras->output_url, job.id, team, batch);
  }
  return cascade::OutputUrl::Planned(model.output_url_pattern(), job.id, team, batch);
}

std::optional<cascade::ErrorText> JobErrorText(const JobModel& model, const JobRecord& job) {
  // An ended job's reason; a job retried after a failed attempt shows that
  // attempt's until it ends (contract §14).
  if (job.state() == JobState::kFinished) return std::nullopt;
  const JobTimeline& t = job.timeline;
  switch (t.cause) {
    case TransitionCause::kFailed:
      if (!job.extras || job.extras->error.empty()) return std::nullopt;
      return cascade::ErrorText(job.extras->error);
    case TransitionCause::kCancelled:
    case TransitionCause::kAbortAcknowledged:
    case TransitionCause::kAbortGraceExpired:
      return cascade::ErrorText::Static("Cancelled via API");
    case TransitionCause::kCascade:
      return cascade::ErrorText::NamingJob("Cancelled: cascade from ", model.job(t.cause_slot).id,
                                           "");
    case TransitionCause::kPrerequisiteFailed:
      return cascade::ErrorText::NamingJob("prerequisite ", model.job(t.cause_slot).id, " failed");
    case TransitionCause::kDependentsFailed:
      return cascade::ErrorText::NamingJob("dependent ", model.job(t.cause_slot).id, " failed");
    case TransitionCause::kLeaseExpired:
    case TransitionCause::kReleased:
      // The attempts made when the lease ended (a job rendering again is on
      // the next one).
      return cascade::ErrorText::WithNumber(
          "lease expired after ", t.attempts - (job.state() == JobState::kRendering ? 1 : 0),
          " attempts");
    case TransitionCause::kTimedOut:
      return cascade::ErrorText::WithNumber("timed out after ", job.timeout_ms / 1000.0, " s");
    default:
      return std::nullopt;
  }
}

Job View(const JobModel& model, uint32_t slot) {
  Job job;
  ViewInto(model, slot, job);
  return job;
}

void ViewInto(const JobModel& model, uint32_t slot, Job& job) {
  const JobRecord& r = model.job(slot);
  job.id = r.id;
  job.team = model.teams().name(r.team);
  if (r.template_ref != kNo<TemplateNo>) job.template_id = model.templates().name(r.template_ref);
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
  job.stats.error = JobErrorText(model, r);
  job.output_url = PlannedOutputUrl(model, r);
  if (r.extras && !r.extras->tags.empty()) {
    // By name: the interned order depends on history (a reopen, a purge).
    for (TagNo t : r.extras->tags) job.tags.push_back(model.tags().name(t));
    std::sort(job.tags.begin(), job.tags.end());
  }
  job.priority = r.priority;
  if (r.batch != kNo<BatchNo>) job.batch_id = model.batches().id_of(r.batch);
  if (r.parent != kNone32) job.parent_id = model.job(r.parent).id;
  if (r.vertex != kNoVertex) {
    const DependencyGraph& graph = model.graph();
    // Sized first (a family's parent has many children): one allocation each.
    if (const size_t prerequisites = graph.PrerequisiteCount(r.vertex); prerequisites > 1) {
      size_t children = 0;
      graph.ForEachPrerequisite(r.vertex,
                                [&](uint32_t p) { children += model.job(p).parent == slot; });
      job.children.reserve(children);
      job.depends_on.reserve(prerequisites - children);
    }
    graph.ForEachPrerequisite(r.vertex, [&](uint32_t p) {
      if (model.job(p).parent == slot)
        job.children.push_back(model.job(p).id);
      else
        job.depends_on.push_back(model.job(p).id);
    });
  }
  job.on_prerequisite_failure = r.policy;
  job.attempts = r.timeline.attempts;
  job.cancel_requested = r.timeline.abort_asked;
  job.max_attempts = r.max_attempts;
  if (r.sub_state() == SubState::kWaiting) job.retry_at = absl::FromUnixMillis(r.timeline.retry_ms);
  job.suspended = r.sub_state() == SubState::kHeld;
}

std::vector<Job> Views(const JobModel& model, std::vector<uint32_t> slots) {
  std::sort(slots.begin(), slots.end());  // slot order is id order
  std::vector<Job> jobs(slots.size());
  constexpr size_t kAhead = 4;  // records prefetched ahead of the one viewed
  for (size_t i = 0; i < std::min(kAhead, slots.size()); ++i) model.table().Prefetch(slots[i]);
  for (size_t i = 0; i < slots.size(); ++i) {
    if (i + kAhead < slots.size()) model.table().Prefetch(slots[i + kAhead]);
    ViewInto(model, slots[i], jobs[i]);
  }
  return jobs;
}

}  // namespace cascade::internal
