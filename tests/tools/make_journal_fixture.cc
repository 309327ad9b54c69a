// Copyright 2026 The Cascade Authors.
//
// make_journal_fixture: writes a data directory that holds a row of every
// kind the journal has, and what the engine that wrote it answers about it.
// tests/data/journal_v1 was made by this program built against Cascade 0.1.0
// (tag pre-issue13); tests/journal_compat_test.cc opens it with the current
// engine and compares. docs/durability.md ("Compatibility fixture") has the
// commands that rebuild it.
//
//   make_journal_fixture WORK_DIR
//
// WORK_DIR must not exist or be empty. The program leaves there:
//
//   WORK_DIR/journal_v1/cascade.db      the data directory, closed cleanly
//   WORK_DIR/journal_v1/expected.json   what this engine answers about it
//   WORK_DIR/scratch/                   the copies the phases opened
//
// Public API only, so that it builds against any version of the library.
// Everything is deterministic: a ManualClock, a fixed id seed, a scripted
// fake webhook transport. Run it twice and the two expected.json are the same.
//
// What the fixture holds when the engine is closed (tags name the jobs):
//
//   studio (team)
//     dead-hook     error, custom cause: a worker's non-UTF-8 fail text; its
//                   webhook (PUT, custom data, a header) failed twice: dead
//                   letter (outbox stage dead, died, lastError, request)
//     lease-loser   error: lease expired after 2 attempts (max_attempts 2);
//                   priority 3; webhook with a non-UTF-8 header value, first
//                   attempt HTTP 500: outbox pending, retry due in 1 h, the
//                   request (job JSON body, signature) stored
//     requeued      queued, attempts 1: its lease (20 s) ran out once
//     abort-timeout manually_cancelled: abort requested, grace ran out
//     parent        pending, 2 nested children: c1 (pending, nested child g,
//                   queued), c2 (finished, worker outputUrl, progress)
//     q1            queued, priority 5, binary payload (NUL, 0xfe 0xff),
//                   outputUrl template of its own, two tags
//     dep-fail      pending, dependsOn parent and q1
//     e             error: a worker's fail text
//     e-dep         error: prerequisite e failed (dependsOn e and w)
//     w             error: its only dependent (e-dep) failed
//     e-ignore      pending, ignores prerequisite failures: dependsOn e
//                   (error) and x (queued); priority -7
//     x             queued
//     k-named       manually_cancelled, named
//     k-dep         manually_cancelled, cascade from k-named (dependsOn)
//     kp            manually_cancelled, named; webhook DELETE, custom without
//                   data: outbox pending, never attempted (no request yet)
//     kc            manually_cancelled, cascade from kp (nested child)
//     batch 1       b0 (cancelled by the batch cancel, priority -2), entry 1
//                   rejected (no job), b2 (finished, planned outputUrl with
//                   {batch}; skipped by the batch cancel), b3 (cancelled) with
//                   nested b3c (cancelled by cascade)
//     r-abort       render:dorender, abort requested (lease with abortBy)
//   night\xfe\xffshift (a non-UTF-8 team: base64 in the journal)
//     released      queued, attempts 1: released by its worker
//     batch 2       r1 (render:dorender, live lease of 10 min extended to
//                   15 min, progress 42.5, payload), q2 (queued, non-UTF-8
//                   template id), q3 (queued, no template)
//   équipe-b
//     delivered     finished, worker outputUrl, payload; webhook delivered
//                   (its outbox row is gone)
//     u-queued      queued, no template, no assets
//
// Leases left: r1 and r-abort. Edges: children (c1, c2 -> parent, g -> c1,
// kc -> kp, b3c -> b3) and dependsOn (parent, q1 -> dep-fail; e, w -> e-dep;
// e, x -> e-ignore; k-named -> k-dep).

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cascade/cascade.h"
#include "cascade/testing/fake_transport.h"
#include "tests/tools/journal_fixture_dump.h"

// The library version the program is built against, for expected.json's
// "about" line (the regeneration commands pass it).
#ifndef CASCADE_FIXTURE_VERSION
#define CASCADE_FIXTURE_VERSION "(version not given)"
#endif

namespace cascade::journal_fixture {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "make_journal_fixture: " << what << "\n";
  std::exit(1);
}

template <typename T>
T Must(absl::StatusOr<T> result, const std::string& what) {
  if (!result.ok()) Die(absl::StrCat(what, ": ", result.status().ToString()));
  return *std::move(result);
}
void Must(const absl::Status& status, const std::string& what) {
  if (!status.ok()) Die(absl::StrCat(what, ": ", status.ToString()));
}
void Expect(bool ok, const std::string& what) {
  if (!ok) Die(absl::StrCat("unexpected: ", what));
}

// A leaf spec tagged "fx:<name>" (every job has a tag of its own, so that a
// claim restricted to it takes exactly that job).
JobSpec Leaf(const std::string& name, std::vector<std::string> more_tags = {}) {
  JobSpec spec;
  spec.template_id = "01HZX3C5Y5V7E8W3J6T9Q2M1NB";
  spec.composition = name;
  spec.total_assets = 1;
  spec.tags = {"fx:" + name};
  for (std::string& tag : more_tags) spec.tags.push_back(std::move(tag));
  return spec;
}

class Scenario {
 public:
  Scenario(Engine& engine, ManualClock& clock, testing::FakeTransport& transport)
      : engine_(engine), clock_(clock), transport_(transport) {}

  void Run(Inputs& inputs);

 private:
  static const std::string& Team(int i) { return Teams()[i]; }
  // Every call happens 1.25 s after the one before, so no two share a time.
  void Tick() { clock_.Advance(absl::Milliseconds(1250)); }

  CreatedJob Submit(int team, const JobSpec& spec) {
    Tick();
    return Must(engine_.Submit(Team(team), spec), absl::StrCat("Submit ", spec.tags[0]));
  }
  ClaimedJob Claim(const std::string& name, std::optional<absl::Duration> lease = std::nullopt) {
    Tick();
    ClaimRequest request;
    request.worker = "fixture-worker";
    request.tags = {"fx:" + name};
    request.lease = lease;
    return Must(engine_.Claim(request), absl::StrCat("Claim ", name));
  }
  Job Finish(const ClaimedJob& claimed, std::string output_url = "") {
    Tick();
    return Must(engine_.Finish(claimed.job.id, claimed.lease.token, {.output_url = output_url}),
                "Finish");
  }
  Job Fail(const ClaimedJob& claimed, const std::string& error) {
    Tick();
    return Must(engine_.Fail(claimed.job.id, claimed.lease.token, error), "Fail");
  }
  HeartbeatResult Heartbeat(const ClaimedJob& claimed, HeartbeatReport report) {
    Tick();
    return Must(engine_.Heartbeat(claimed.job.id, claimed.lease.token, report), "Heartbeat");
  }
  std::vector<Job> Cancel(int team, JobId id) {
    Tick();
    return Must(engine_.Cancel(Team(team), id), "Cancel");
  }
  Job RequestAbort(int team, JobId id) {
    Tick();
    return Must(engine_.RequestAbort(Team(team), id), "RequestAbort");
  }
  size_t RunDueWork() { return engine_.RunDueWork(); }
  JobState StateOf(int team, JobId id) { return Must(engine_.Get(Team(team), id), "Get").state; }

  Engine& engine_;
  ManualClock& clock_;
  testing::FakeTransport& transport_;
};

void Scenario::Run(Inputs& inputs) {
  constexpr int kStudio = 0, kNight = 1, kEquipe = 2;

  // ---- Webhooks: a dead letter and a delivery that succeeded ----
  JobSpec dead_hook = Leaf("dead-hook");
  dead_hook.webhook = WebhookSpec{.url = "http://hooks.example.com/render/dead",
                                  .method = HttpMethod::kPut,
                                  .headers = {{"X-Trace", "trace-42"}},
                                  .data = R"({"shot":"010","note":"caf\u00e9"})",
                                  .custom = true};
  const JobId dead_hook_id = Submit(kStudio, dead_hook).id;
  JobSpec delivered = Leaf("delivered");
  delivered.payload = R"({"frames":[1,240]})";
  delivered.webhook = WebhookSpec{.url = "https://hooks.example.com/render/ok"};
  Submit(kEquipe, delivered);
  Fail(Claim("dead-hook"), std::string("GPU \xff\xfe") + " overheated on frame 17");
  {
    ClaimedJob claimed = Claim("delivered");
    Heartbeat(claimed, {.progress = 50.0});
    Finish(claimed, "s3://worker-7/delivered.mov");
  }
  // Oldest first: dead-hook's delivery gets the 500, delivered's the 200.
  transport_.Script({500, 200});
  Tick();
  RunDueWork();
  clock_.Advance(absl::Hours(1));  // initial_backoff: dead-hook's retry is due
  transport_.Script({absl::DeadlineExceededError("timed out after 2s")});
  RunDueWork();
  Expect(Must(engine_.ListDeadLetters(Team(kStudio)), "ListDeadLetters").size() == 1,
         "one dead letter");
  Expect(StateOf(kStudio, dead_hook_id) == JobState::kError, "dead-hook in error");

  // ---- Leases: expiry, requeue, abort grace, release ----
  JobSpec lease_loser = Leaf("lease-loser", {"render"});
  lease_loser.priority = 3;
  lease_loser.webhook =
      WebhookSpec{.url = "https://hooks.example.com/render/lease",
                  .headers = {{"X-Studio", std::string("night \xff") + " shift"}, {"X-Empty", ""}}};
  const JobId lease_loser_id = Submit(kStudio, lease_loser).id;
  const JobId requeued_id = Submit(kStudio, Leaf("requeued")).id;
  const JobId abort_timeout_id = Submit(kStudio, Leaf("abort-timeout")).id;
  const JobId released_id = Submit(kNight, Leaf("released")).id;
  Claim("lease-loser");
  Claim("requeued", absl::Seconds(20));
  Claim("abort-timeout");
  RequestAbort(kStudio, abort_timeout_id);
  {
    ClaimedJob claimed = Claim("released");
    Tick();
    Must(engine_.Release(claimed.job.id, claimed.lease.token), "Release");
  }
  clock_.Advance(absl::Seconds(61));
  Expect(RunDueWork() == 3, "three leases end");
  Expect(StateOf(kStudio, requeued_id) == JobState::kQueued, "requeued queued");
  Expect(StateOf(kStudio, abort_timeout_id) == JobState::kCancelled, "abort-timeout cancelled");
  Expect(StateOf(kNight, released_id) == JobState::kQueued, "released queued");
  Claim("lease-loser");  // the second and last attempt
  clock_.Advance(absl::Seconds(61));
  transport_.Script({500});
  Expect(RunDueWork() == 1, "lease-loser's lease ends");
  Expect(StateOf(kStudio, lease_loser_id) == JobState::kError, "lease-loser in error");
  // From here on RunDueWork is not called again: the outbox keeps a delivery
  // waiting for its retry and, below, one never attempted.

  // ---- A family: nested children, one finished ----
  JobSpec parent = Leaf("parent", {"family"});
  parent.composition = "edit";
  parent.total_assets = 2;
  JobSpec c1 = Leaf("c1", {"family"});
  c1.children.push_back(Leaf("g", {"family"}));
  parent.children.push_back(c1);
  parent.children.push_back(Leaf("c2", {"family"}));
  const JobId parent_id = Submit(kStudio, parent).id;
  {
    ClaimedJob claimed = Claim("c2");
    Heartbeat(claimed, {.progress = 80.0});
    Finish(claimed, "s3://worker-2/outro.mov");
  }

  // ---- Dependencies, failure propagation, a policy that ignores it ----
  JobSpec q1 = Leaf("q1", {"kind:leaf"});
  q1.priority = 5;
  q1.payload = std::string("\x00\x01\xfe\xff", 4) + " binary payload";
  q1.output_url = "s3://explicit/{team}/{id}.exr";
  const JobId q1_id = Submit(kStudio, q1).id;
  JobSpec dep_fail = Leaf("dep-fail");
  dep_fail.depends_on = {parent_id, q1_id};
  Expect(Submit(kStudio, dep_fail).state == JobState::kPending, "dep-fail pending");
  const JobId w_id = Submit(kStudio, Leaf("w")).id;
  const JobId e_id = Submit(kStudio, Leaf("e")).id;
  JobSpec e_dep = Leaf("e-dep");
  e_dep.depends_on = {e_id, w_id};
  const JobId e_dep_id = Submit(kStudio, e_dep).id;
  const JobId x_id = Submit(kStudio, Leaf("x")).id;
  JobSpec e_ignore = Leaf("e-ignore");
  e_ignore.depends_on = {e_id, x_id};
  e_ignore.on_prerequisite_failure = PrerequisiteFailurePolicy::kIgnore;
  e_ignore.priority = -7;
  const JobId e_ignore_id = Submit(kStudio, e_ignore).id;
  Fail(Claim("e"), "out of memory on frame 12");
  Expect(StateOf(kStudio, e_dep_id) == JobState::kError, "e-dep in error");
  Expect(StateOf(kStudio, w_id) == JobState::kError, "w in error");
  Expect(StateOf(kStudio, e_ignore_id) == JobState::kPending, "e-ignore pending");

  // ---- Cancels: named, by cascade through dependsOn and through nesting ----
  const JobId k_named_id = Submit(kStudio, Leaf("k-named")).id;
  JobSpec k_dep = Leaf("k-dep");
  k_dep.depends_on = {k_named_id};
  Submit(kStudio, k_dep);
  Expect(Cancel(kStudio, k_named_id).size() == 2, "k-named cancels k-dep");
  JobSpec kp = Leaf("kp");
  kp.children.push_back(Leaf("kc"));
  kp.webhook = WebhookSpec{.url = "https://hooks.example.com/render/cancelled",
                           .method = HttpMethod::kDelete,
                           .custom = true};
  const JobId kp_id = Submit(kStudio, kp).id;
  Expect(Cancel(kStudio, kp_id).size() == 2, "kp cancels kc");

  // ---- Batch 1: a rejected entry, a finished member, a batch cancel ----
  {
    JobSpec b0 = Leaf("b0");
    b0.priority = -2;
    JobSpec bad = Leaf("bad");
    bad.tags.push_back("bad tag!");
    JobSpec b3 = Leaf("b3");
    b3.children.push_back(Leaf("b3c"));
    Tick();
    BatchSubmitResult batch =
        Must(engine_.SubmitBatch(Team(kStudio), {b0, bad, Leaf("b2"), b3}), "SubmitBatch");
    Expect(batch.status == BatchSubmitStatus::kPartial, "batch 1 partial");
    Finish(Claim("b2"));
    Tick();
    BatchCancelResult cancelled =
        Must(engine_.CancelBatch(Team(kStudio), batch.batch_id), "CancelBatch");
    Expect(cancelled.cancelled_count == 2 && cancelled.skipped_count == 1, "batch 1 cancel");
  }

  // ---- Batch 2, in the non-UTF-8 team: a live lease ----
  {
    JobSpec r1 = Leaf("r1");
    r1.payload = "frames 1-240, camera B";
    JobSpec q2 = Leaf("q2");
    q2.template_id = std::string("tpl-\xfe\xff");
    JobSpec q3 = Leaf("q3", {"night"});
    q3.template_id.clear();
    Tick();
    BatchSubmitResult batch = Must(engine_.SubmitBatch(Team(kNight), {r1, q2, q3}), "SubmitBatch");
    Expect(batch.status == BatchSubmitStatus::kCreated, "batch 2 created");
    ClaimedJob claimed = Claim("r1", absl::Minutes(10));
    Heartbeat(claimed, {.progress = 42.5, .extend = absl::Minutes(15)});
    inputs.lease_tokens[claimed.job.id.ToString()] = claimed.lease.token;
  }

  // ---- A rendering job whose abort was requested ----
  {
    const JobId r_abort_id = Submit(kStudio, Leaf("r-abort")).id;
    ClaimedJob claimed = Claim("r-abort");
    RequestAbort(kStudio, r_abort_id);
    inputs.lease_tokens[claimed.job.id.ToString()] = claimed.lease.token;
  }

  JobSpec u_queued = Leaf("u-queued", {"night"});
  u_queued.template_id.clear();
  u_queued.total_assets = 0;  // the row has no "totalAssets"
  Submit(kEquipe, u_queued);
  inputs.end_ms = absl::ToUnixMillis(clock_.Now());
}

// Copies the data directory's database to a new directory `to`.
void CopyDatabase(const fs::path& from, const fs::path& to) {
  fs::create_directories(to);
  fs::copy_file(from / "cascade.db", to / "cascade.db", fs::copy_options::overwrite_existing);
}

int Main(int argc, char** argv) {
  if (argc != 2) Die("usage: make_journal_fixture WORK_DIR");
  const fs::path work = argv[1];
  if (fs::exists(work) && !fs::is_empty(work)) Die(absl::StrCat(work.string(), " is not empty"));
  const fs::path data = work / "scratch" / "data";
  const fs::path out = work / "journal_v1";
  fs::create_directories(data);
  fs::create_directories(out);

  Inputs inputs;
  std::vector<std::string> live_state;
  {
    ManualClock clock(absl::FromUnixMillis(kStartMs));
    testing::FakeTransport transport(&clock);
    std::unique_ptr<Engine> engine =
        Must(Engine::Create(MakeOptions(&clock, &transport, data.string())), "Engine::Create");
    Scenario(*engine, clock, transport).Run(inputs);
    live_state = DumpState(*engine, /*with_totals=*/false);
  }  // destroyed: the store is closed, the log checkpointed into cascade.db

  // Only the database and the lock file may be left: no -wal, no -shm.
  for (const fs::directory_entry& entry : fs::directory_iterator(data)) {
    const std::string name = entry.path().filename().string();
    if (name != "cascade.db" && name != "LOCK") Die(absl::StrCat("left in the data dir: ", name));
  }
  CopyDatabase(data, out);

  // Each phase opens a copy of its own, so the fixture stays as written.
  CopyDatabase(data, work / "scratch" / "restored");
  CopyDatabase(data, work / "scratch" / "followup");
  CopyDatabase(data, work / "scratch" / "later");
  std::vector<std::string> restored =
      PhaseRestored((work / "scratch" / "restored").string(), inputs);
  {
    // The engine that wrote the fixture restores it exactly: what it answered
    // before closing is what it answers after reopening.
    ManualClock clock(absl::FromUnixMillis(inputs.end_ms));
    testing::FakeTransport transport(&clock);
    CopyDatabase(data, work / "scratch" / "check");
    std::unique_ptr<Engine> engine =
        Must(Engine::Create(MakeOptions(&clock, &transport, (work / "scratch" / "check").string())),
             "reopen");
    if (DumpState(*engine, false) != live_state) Die("this engine does not restore its own state");
  }
  std::vector<std::string> followup_state;
  Sections followup =
      PhaseFollowUp((work / "scratch" / "followup").string(), inputs, &followup_state);
  if (followup.size() != 2 || followup[1].second != followup_state) {
    Die("the follow-up state does not survive a reopen");
  }
  Sections later = PhaseLater((work / "scratch" / "later").string(), inputs);

  Sections document;
  document.push_back({"about",
                      {"{\"writtenBy\":\"tests/tools/make_journal_fixture.cc against "
                       "Cascade " CASCADE_FIXTURE_VERSION
                       "\",\"see\":\"docs/durability.md, Compatibility fixture\"}"}});
  document.push_back({"inputs", InputLines(inputs)});
  document.push_back({"restored", std::move(restored)});
  // Not "followup_reopened": checked above to be the follow-up's final state
  // (the test checks the same against its own run), so it is in the file once.
  document.push_back(std::move(followup[0]));
  for (auto& section : later) document.push_back(std::move(section));
  std::ofstream(out / "expected.json", std::ios::binary) << WriteDocument(document);

  std::cout << "wrote " << (out / "cascade.db").string() << " ("
            << fs::file_size(out / "cascade.db") << " bytes) and "
            << (out / "expected.json").string() << " (" << fs::file_size(out / "expected.json")
            << " bytes); the fixture ends at "
            << absl::FormatTime(absl::FromUnixMillis(inputs.end_ms), absl::UTCTimeZone()) << "\n";
  return 0;
}

}  // namespace
}  // namespace cascade::journal_fixture

int main(int argc, char** argv) { return cascade::journal_fixture::Main(argc, argv); }
