// Copyright 2026 The Cascade Authors.
//
// A small render farm, simulated end to end on an embedded engine:
//
//        intro   outro          (children: render in parallel)
//           \     /
//            edit               (parent: pending until both finish)
//
//   + a batch of 6 spots, two workers, one failure, one cancelled family,
//     and a batch cancel, with the lock-free batch aggregate printed as
//     the farm moves.
//
// Built with the examples (CASCADE_BUILD_EXAMPLES, on by default) as
// build/render_farm_example; ./scripts/test.sh builds it.

#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "cascade/cascade.h"

namespace {

constexpr char kTeam[] = "studio";

void Print(const std::string& what) { std::cout << what << "\n"; }

std::string Describe(const cascade::Job& job) {
  return absl::StrFormat("  %s  %-18s %s", job.id.ToString(), cascade::StateName(job.state),
                         job.stats.error ? job.stats.error->str() : "");
}

void PrintCounts(cascade::Engine& engine, cascade::BatchId batch) {
  auto counts = engine.GetBatchCounts(kTeam, batch);
  if (!counts.ok()) return;
  Print(absl::StrFormat("  batch %s: %s  total=%d finished=%d error=%d pending=%d",
                        batch.ToString(), cascade::BatchStatusName(cascade::StatusOf(*counts)),
                        counts->total, counts->finished(), counts->failed(), counts->pending()));
}

// One worker step: claim the next queued job and finish it (or fail it).
bool WorkOnce(cascade::Engine& engine, cascade::ManualClock& clock, const std::string& worker,
              bool fail) {
  auto claimed = engine.Claim({.worker = worker});
  if (!claimed.ok()) return false;
  clock.Advance(absl::Seconds(12));
  const cascade::JobId id = claimed->job.id;
  auto done = fail ? engine.Fail(id, claimed->lease.token, "After Effects crashed")
                   : engine.Finish(id, claimed->lease.token, {});
  Print(absl::StrFormat("%s %s %s -> %s", worker, fail ? "failed" : "rendered", id.ToString(),
                        done.ok() ? cascade::StateName(done->state) : "?"));
  return true;
}

}  // namespace

int main() {
  cascade::ManualClock clock(absl::FromUnixSeconds(1'790'000'000));
  cascade::Options options;
  options.clock = &clock;
  options.id_seed = 2026;
  options.output_url_template = "s3://renders/{team}/{id}.mp4";
  auto engine_or = cascade::Engine::Create(options);
  if (!engine_or.ok()) {
    std::cerr << engine_or.status() << "\n";
    return 1;
  }
  cascade::Engine& engine = **engine_or;

  // A nested job: the edit waits for its intro and outro.
  cascade::JobSpec edit;
  edit.template_id = "01HZX3C5Y5V7E8W3J6T9Q2M1NB";
  edit.composition = "edit";
  for (const char* part : {"intro", "outro"}) {
    cascade::JobSpec child;
    child.template_id = edit.template_id;
    child.composition = part;
    edit.children.push_back(child);
  }
  auto family = engine.Submit(kTeam, edit);
  Print("Submitted a family (parent waits for its children):");
  Print(absl::StrFormat("  parent %s %s -> %s", family->id.ToString(),
                        cascade::StateName(family->state), family->output_url.str()));
  for (const auto& c : family->children) {
    Print(absl::StrFormat("  child  %s %s", c.id.ToString(), cascade::StateName(c.state)));
  }

  // A batch of six spots.
  std::vector<cascade::JobSpec> spots;
  for (int i = 0; i < 6; ++i) {
    cascade::JobSpec spot;
    spot.template_id = "01HZX3C5Y5V7E8W3J6T9Q2M1NC";
    spot.composition = absl::StrFormat("spot-%d", i);
    spots.push_back(spot);
  }
  auto batch = engine.SubmitBatch(kTeam, spots);
  Print(absl::StrFormat("\nSubmitted batch %s: %s, %d jobs", batch->batch_id.ToString(),
                        cascade::BatchSubmitStatusName(batch->status), batch->success_count));
  PrintCounts(engine, batch->batch_id);

  // Two workers render: the children first (oldest first), then the parent.
  Print("\nTwo workers at work:");
  for (int round = 0; round < 3; ++round) {
    WorkOnce(engine, clock, "worker-a", /*fail=*/false);
    WorkOnce(engine, clock, "worker-b", /*fail=*/round == 2);
  }
  auto parent = engine.Get(kTeam, family->id);
  Print(absl::StrFormat("The parent is now %s (renderDuration %.1f s).",
                        cascade::StateName(parent->state),
                        parent->stats.render_duration.value_or(0)));
  PrintCounts(engine, batch->batch_id);

  // Cancel one more family from a child: its parent and waiting sibling go too.
  auto family2 = engine.Submit(kTeam, edit);
  auto cancelled = engine.Cancel(kTeam, family2->children[0].id);
  Print("\nCancelled one child of a new family; the cascade took:");
  for (const auto& job : *cancelled) Print(Describe(job));

  // Cancel what is left of the batch: rendered spots are skipped.
  auto batch_cancel = engine.CancelBatch(kTeam, batch->batch_id);
  Print(absl::StrFormat("\nBatch cancel: %s (%d cancelled, %d skipped)",
                        cascade::BatchCancelStatusName(batch_cancel->status),
                        batch_cancel->cancelled_count, batch_cancel->skipped_count));
  for (const auto& r : batch_cancel->jobs) {
    Print(absl::StrFormat("  [%d] %s %-9s %-18s %s", r.index, r.id.ToString(),
                          r.cancelled ? "cancelled" : "skipped", cascade::StateName(r.state),
                          r.reason));
  }
  PrintCounts(engine, batch->batch_id);

  cascade::ListQuery query;
  query.states = {cascade::JobState::kFinished};
  auto finished = engine.List(kTeam, query);
  Print(
      absl::StrFormat("\n%d jobs finished, %d held in all.", finished->size(), engine.JobCount()));
  return 0;
}
