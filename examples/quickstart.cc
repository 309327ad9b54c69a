// Copyright 2026 The Cascade Authors.
//
// The complete program of docs/embedding.md: a scheduler that embeds the
// engine, submits a family and a batch, drives a worker, reads progress and
// cancels.
//
//        intro   outro
//           \     /
//            edit

#include <iostream>
#include <vector>

#include "cascade/cascade.h"

int main() {
  // 1. An engine. Tests and simulations use a manual clock and a fixed seed.
  cascade::ManualClock clock;
  cascade::Options options;
  options.clock = &clock;
  options.id_seed = 42;
  options.output_url_template = "s3://renders/{team}/{id}.mp4";
  absl::StatusOr<std::unique_ptr<cascade::Engine>> created = cascade::Engine::Create(options);
  if (!created.ok()) {
    std::cerr << created.status() << "\n";
    return 1;
  }
  cascade::Engine& engine = **created;

  // 2. A nested job: the edit stays pending until intro and outro finish.
  cascade::JobSpec edit;
  edit.template_id = "01HZX3C5Y5V7E8W3J6T9Q2M1NB";
  edit.composition = "edit";
  for (const char* part : {"intro", "outro"}) {
    cascade::JobSpec child;
    child.template_id = edit.template_id;
    child.composition = part;
    child.tags = {"gpu"};
    edit.children.push_back(child);
  }
  absl::StatusOr<cascade::CreatedJob> family = engine.Submit("studio", edit);
  if (!family.ok()) {
    std::cerr << family.status() << "\n";
    return 1;
  }
  std::cout << "edit " << family->id.ToString() << " is " << cascade::StateName(family->state)
            << "\n";  // pending

  // 3. A worker claims the children one by one and finishes them.
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<cascade::ClaimedJob> claim = engine.Claim({.worker = "node-7", .tags = {"gpu"}});
    if (!claim.ok()) break;
    clock.Advance(absl::Seconds(30));  // rendering...
    absl::StatusOr<cascade::Job> done = engine.Finish(claim->job.id, claim->lease.token, {});
    std::cout << "finished " << done->id.ToString() << " in " << *done->stats.render_duration
              << " s\n";
  }
  std::cout << "edit is now " << cascade::StateName(engine.Get("studio", family->id)->state)
            << "\n";  // queued

  // 4. A batch, and its progress read without a lock.
  std::vector<cascade::JobSpec> spots(3, cascade::JobSpec{.template_id = edit.template_id});
  absl::StatusOr<cascade::BatchSubmitResult> batch = engine.SubmitBatch("studio", spots);
  absl::StatusOr<cascade::BatchCounts> counts = engine.GetBatchCounts("studio", batch->batch_id);
  std::cout << "batch " << cascade::BatchStatusName(cascade::StatusOf(*counts)) << ": "
            << counts->pending() << " of " << counts->total << " pending\n";

  // 5. Cancel the batch: every top-level job is reported, cascades included.
  absl::StatusOr<cascade::BatchCancelResult> cancelled =
      engine.CancelBatch("studio", batch->batch_id);
  std::cout << "batch cancel: " << cascade::BatchCancelStatusName(cancelled->status) << ", "
            << cancelled->cancelled_jobs.size() << " jobs cancelled\n";

  // 6. Errors are absl::Status values with canonical codes.
  absl::StatusOr<std::vector<cascade::Job>> first = engine.Cancel("studio", family->id);
  std::cout << "cancel the edit: " << first->size() << " job cancelled\n";
  absl::StatusOr<std::vector<cascade::Job>> again = engine.Cancel("studio", family->id);
  std::cout << "cancel it again: " << again.status() << "\n";  // FAILED_PRECONDITION
  absl::StatusOr<cascade::Job> other_team = engine.Get("another-team", family->id);
  std::cout << "another team sees: " << other_team.status() << "\n";  // NOT_FOUND
  return 0;
}
