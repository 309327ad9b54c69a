// Copyright 2026 The Cascade Authors.
//
// File: tests/durability/history.h
// -----------------------------------------------------------------------------
// Random histories for the durability tests, and what they compare:
//
//   - History drives one engine through random operations of every kind
//     (submits with children, dependencies, tags, payloads and webhooks;
//     batches; every cancel; claims, heartbeats, finishes, failures,
//     releases, aborts; time passing, lease expiry and webhook retries). It
//     names jobs by creation index, so one History can drive two engines
//     whose ids differ, step for step. With HistoryOptions::contract14 it
//     also draws contract §14's operations and fields: specs with their own
//     max attempts, retry backoffs and time limits, fails to be retried or
//     final, Retry, Suspend, Resume, SuspendBatch, ResumeBatch and
//     SetPriority (so journal rows carry held, retryAt, maxAttempts, the
//     cause of a retried job and a lease's time limit). With
//     HistoryOptions::contract15, claims come from named workers (a small
//     pool, with an empty name and one that is not UTF-8) with "any of"
//     tags, and it draws AppendLog (short lines, big ones of 400-900 KiB,
//     a NUL byte) and ListWorkers. Without these the draws are those of
//     before, one for one.
//   - Dump renders everything an engine would answer about its state (every
//     job of every team, every batch, the dead letters and the outbox, each
//     job's render log as its size and a hash, and the worker list of each
//     team without `last_seen` and `status`) as text; Canonical replaces
//     every id in it by its rank, so two engines that made the same things
//     in the same order dump the same text.
//   - A worker's `last_seen` is journaled only when it moved by a quarter of
//     its lease (at least 1 s, at most 60 s: docs/durability.md), so after a
//     reopen it may be behind by less than that, and its status judged from
//     it: CheckWorkersAgainst compares a worker list with a reference one
//     (an engine never closed, or the list before the close) on that
//     allowance, and everything else exactly.
//   - CheckInvariants checks the relations contract §1-7 and §14 promise
//     between jobs through the public API, and DrainAndCheck resumes what is
//     held, then claims and finishes until nothing is left, which a wrong
//     rebuilt counter or index cannot survive.

#ifndef CASCADE_TESTS_DURABILITY_HISTORY_H_
#define CASCADE_TESTS_DURABILITY_HISTORY_H_

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/types/span.h"
#include "cascade/cascade.h"
#include "wire/job_json.h"
#include "wire/json.h"

namespace cascade::durability {

inline const std::vector<std::string>& Teams() {
  // The third is not UTF-8: it is journaled in base64.
  static const auto* teams =
      new std::vector<std::string>{"team-a", "t\xc3\xa9\x61m-b", "t\xfe\xff"};
  return *teams;
}

// What the engine answered, reduced to what two engines must agree on.
struct Outcome {
  absl::StatusCode code = absl::StatusCode::kOk;
  std::string text;  // canonical form of the answer, when OK
  bool operator==(const Outcome&) const = default;
};

// One engine's names for the things a History made: the k-th job, batch and
// lease it made, in order.
struct Names {
  std::vector<JobId> jobs;
  std::vector<std::string> job_teams;
  std::vector<std::pair<BatchId, std::string>> batches;
  // Job index -> lease token of its current claim (as far as the engine said).
  std::map<size_t, std::string> leases;
};

// A random operation, drawn once and applied to any number of engines.
struct Operation {
  enum Kind {
    kSubmit,
    kSubmitBatch,
    kCancel,
    kCancelMany,
    kCancelBatch,
    kClaim,
    kHeartbeat,
    kFinish,
    kFail,
    kRelease,
    kAbort,
    kAdvance,
    kReplay,
    // Contract §14 (HistoryOptions::contract14).
    kRetry,
    kSuspend,
    kResume,
    kSuspendBatch,
    kResumeBatch,
    kSetPriority,
    // Contract §15 (HistoryOptions::contract15).
    kLog,          // AppendLog to the first target, with its lease
    kListWorkers,  // ListWorkers(team)
  } kind;
  std::string team;
  std::vector<JobSpec> specs;                     // submits: dependencies by index below
  std::vector<std::vector<size_t>> depends_on;    // per spec: job indexes
  std::vector<size_t> targets;                    // job indexes (or one batch index)
  std::vector<std::string> tags;                  // claims
  std::string worker;                             // claims: the worker's name
  std::vector<std::string> any_tags;              // claims
  std::vector<std::string> lines;                 // kLog
  absl::Duration advance = absl::ZeroDuration();  // kAdvance, claim leases
  double progress = 0;
  bool retry = true;  // kFail: FailReport::retry
  int priority = 0;   // kSetPriority
};

struct HistoryOptions {
  // Draw contract §14's operations and spec fields too.
  bool contract14 = false;
  // Draw contract §15's: named workers, any-of tags, logs, the worker list.
  bool contract15 = false;
};

// Worker names of contract15 histories: none, plain, UTF-8, not UTF-8.
inline const std::vector<std::string>& WorkerNames() {
  static const auto* names =
      new std::vector<std::string>{"", "node-a", "node-b", "n\xc5\x93ud-c", "w\xff"};
  return *names;
}

class History {
 public:
  explicit History(uint64_t seed, HistoryOptions options = {}) : rng_(seed), options_(options) {}

  // Draws the next operation, given what `names` (any engine's) made so far.
  Operation Next(const Names& names) {
    if (options_.contract15 && Uniform(0, 99) < 18) return NextContract15(names);
    if (options_.contract14 && !names.jobs.empty() && Uniform(0, 99) < 20) {
      return NextContract14(names);
    }
    Operation op;
    const int roll = Uniform(0, 99);
    op.team = Teams()[Uniform(0, static_cast<int>(Teams().size()) - 1)];
    auto any_job = [&] { return static_cast<size_t>(Uniform(0, names.jobs.size() - 1)); };
    auto leased = [&]() -> std::optional<size_t> {
      if (names.leases.empty()) return std::nullopt;
      auto it = names.leases.begin();
      std::advance(it, Uniform(0, names.leases.size() - 1));
      return it->first;
    };
    if (names.jobs.empty() || roll < 22) {
      op.kind = Operation::kSubmit;
      AddSpec(op, names);
    } else if (roll < 30) {
      op.kind = Operation::kSubmitBatch;
      const int n = Uniform(1, 5);
      for (int i = 0; i < n; ++i) AddSpec(op, names);
    } else if (roll < 36) {
      op.kind = Operation::kCancel;
      op.targets = {any_job()};
    } else if (roll < 40) {
      op.kind = Operation::kCancelMany;
      std::set<size_t> picked;
      for (int i = Uniform(1, 3); i > 0; --i) picked.insert(any_job());
      op.targets.assign(picked.begin(), picked.end());
    } else if (roll < 43 && !names.batches.empty()) {
      op.kind = Operation::kCancelBatch;
      op.targets = {static_cast<size_t>(Uniform(0, names.batches.size() - 1))};
    } else if (roll < 60) {
      op.kind = Operation::kClaim;
      if (Uniform(0, 3) == 0) op.tags = {Uniform(0, 1) == 0 ? "gpu" : "cpu"};
      op.advance = absl::Seconds(Uniform(5, 120));
      if (options_.contract15) {
        op.worker = WorkerNames()[Uniform(0, WorkerNames().size() - 1)];
        if (Uniform(0, 3) == 0) {
          static const char* const kAny[] = {"gpu", "cpu", "x:y/z-1", "nope"};
          for (int i = Uniform(1, 2); i > 0; --i) op.any_tags.push_back(kAny[Uniform(0, 3)]);
        }
      }
    } else if (roll < 88 && leased()) {
      const int which = Uniform(0, 9);
      op.kind = which < 2   ? Operation::kHeartbeat
                : which < 6 ? Operation::kFinish
                : which < 8 ? Operation::kFail
                : which < 9 ? Operation::kRelease
                            : Operation::kAbort;
      op.targets = {*leased()};
      op.progress = Uniform(0, 100);
      if (options_.contract14) op.retry = Uniform(0, 2) != 0;
    } else if (roll < 96) {
      op.kind = Operation::kAdvance;
      op.advance = absl::Seconds(Uniform(0, 70));
    } else {
      op.kind = Operation::kReplay;
    }
    return op;
  }

  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  int Uniform(int lo, size_t hi) { return Uniform(lo, static_cast<int>(hi)); }

 private:
  // One of contract §15's calls: a log append on a leased job (most lines
  // short; now and then a big one, so a log passes its 1 MiB bound and its
  // journal rows are compacted; or a NUL byte, refused), or the worker list.
  Operation NextContract15(const Names& names) {
    Operation op;
    op.team = Teams()[Uniform(0, static_cast<int>(Teams().size()) - 1)];
    if (names.leases.empty() || Uniform(0, 99) < 30) {
      op.kind = Operation::kListWorkers;
      return op;
    }
    op.kind = Operation::kLog;
    auto it = names.leases.begin();
    std::advance(it, Uniform(0, names.leases.size() - 1));
    op.targets = {it->first};
    const int roll = Uniform(0, 99);
    if (roll < 25) {
      std::string big(static_cast<size_t>(Uniform(400'000, 900'000)), 'a');
      for (size_t i = 0; i < big.size(); i += 4099) big[i] = static_cast<char>('b' + i % 23);
      if (Uniform(0, 1) == 0) big[big.size() / 2] = '\n';
      op.lines = {"big:", std::move(big)};
    } else if (roll < 29) {
      op.lines = {"ok", std::string("nul\0byte", 8)};
    } else {
      for (int i = Uniform(0, 4); i > 0; --i) {
        op.lines.push_back(absl::StrCat("frame ", Uniform(0, 999), " \xc3\xa9\xff"));
      }
    }
    return op;
  }

  // One of contract §14's calls, on jobs (or a batch) of the team of the
  // first target.
  Operation NextContract14(const Names& names) {
    Operation op;
    const int roll = Uniform(0, 99);
    // One or two jobs, of one team (mostly).
    auto some_jobs = [&] {
      const size_t first = static_cast<size_t>(Uniform(0, names.jobs.size() - 1));
      std::set<size_t> picked{first};
      if (Uniform(0, 1) == 0) {
        for (int tries = 0; tries < 4; ++tries) {
          const size_t other = static_cast<size_t>(Uniform(0, names.jobs.size() - 1));
          if (names.job_teams[other] == names.job_teams[first] || tries == 3) {
            picked.insert(other);
            break;
          }
        }
      }
      op.targets.assign(picked.begin(), picked.end());
    };
    if (roll < 35) {
      op.kind = Operation::kRetry;
      some_jobs();
    } else if (roll < 55) {
      op.kind = Operation::kSuspend;
      some_jobs();
    } else if (roll < 72) {
      op.kind = Operation::kResume;
      some_jobs();
    } else if (roll < 85 && !names.batches.empty()) {
      op.kind = Uniform(0, 1) == 0 ? Operation::kSuspendBatch : Operation::kResumeBatch;
      op.targets = {static_cast<size_t>(Uniform(0, names.batches.size() - 1))};
    } else {
      op.kind = Operation::kSetPriority;
      op.targets = {static_cast<size_t>(Uniform(0, names.jobs.size() - 1))};
      op.priority = Uniform(-3, 3);
    }
    return op;
  }

  void AddSpec(Operation& op, const Names& names) {
    JobSpec spec;
    spec.template_id = Uniform(0, 3) == 0 ? "" : "01HZX3C5Y5V7E8W3J6T9Q2M1NB";
    spec.composition = "main";
    spec.total_assets = Uniform(0, 3);
    for (int i = Uniform(0, 2); i > 0; --i) {
      JobSpec child;
      child.composition = "child";
      if (Uniform(0, 2) == 0) child.tags = {"cpu"};
      spec.children.push_back(child);
    }
    if (Uniform(0, 2) == 0) spec.tags = {Uniform(0, 1) == 0 ? "gpu" : "cpu"};
    if (Uniform(0, 4) == 0) spec.tags.push_back("x:y/z-1");
    spec.priority = Uniform(-2, 2);
    if (Uniform(0, 3) == 0) spec.on_prerequisite_failure = PrerequisiteFailurePolicy::kIgnore;
    if (Uniform(0, 4) == 0) spec.output_url = "s3://out/{team}/{id}.mov";
    if (Uniform(0, 3) == 0) spec.payload = std::string("{\"k\":1}\xff\x00\n", 10);
    if (Uniform(0, 2) == 0) {
      WebhookSpec hook;
      hook.url = "https://hooks.example.com/cascade";
      if (Uniform(0, 1) == 0) hook.headers = {{"X-Farm", "north"}};
      if (Uniform(0, 2) == 0) {
        hook.custom = true;
        hook.data = "{\"n\":1}";
      }
      spec.webhook = hook;
    }
    if (options_.contract14) {
      // Short enough for the histories' clock steps (0-70 s) to pass them.
      if (Uniform(0, 3) == 0) spec.max_attempts = Uniform(1, 4);
      if (Uniform(0, 3) == 0) spec.retry_backoff = absl::Seconds(Uniform(0, 10));
      if (Uniform(0, 3) == 0) spec.timeout = absl::Seconds(Uniform(5, 60));
      if (!spec.children.empty() && Uniform(0, 2) == 0) {
        spec.children[0].max_attempts = Uniform(1, 3);
        spec.children[0].timeout = absl::Milliseconds(Uniform(2000, 30000));
      }
    }
    std::vector<size_t> deps;
    if (!names.jobs.empty() && Uniform(0, 2) == 0) {
      // Jobs of the same team (others would be refused; some are, on purpose).
      for (int i = Uniform(1, 2); i > 0; --i) {
        deps.push_back(static_cast<size_t>(Uniform(0, names.jobs.size() - 1)));
      }
      std::sort(deps.begin(), deps.end());
      deps.erase(std::unique(deps.begin(), deps.end()), deps.end());
    }
    op.specs.push_back(std::move(spec));
    op.depends_on.push_back(std::move(deps));
  }

  std::mt19937_64 rng_;
  HistoryOptions options_;
};

// Canonical text of a list of jobs: ids are ranked later by Canonical.
inline std::string JobsText(const std::vector<Job>& jobs) {
  std::string out;
  for (const Job& job : jobs) absl::StrAppend(&out, wire::JobToJsonText(job), "\n");
  return out;
}

// A job's render log as its size and a hash (logs reach 1 MiB; the ids in
// a dump are ranked by a regex), or the code GetLog answered.
inline std::string LogText(const Engine& engine, const std::string& team, JobId id) {
  absl::StatusOr<std::string> log = engine.GetLog(team, id);
  if (!log.ok()) return absl::StatusCodeToString(log.status().code());
  return absl::StrCat(log->size(), " bytes, hash ", std::hash<std::string>()(*log));
}

// A worker list without what a reopen may set back (`last_seen`, and the
// `status` judged from it): see CheckWorkersAgainst.
inline std::string WorkersText(const std::vector<WorkerInfo>& workers) {
  std::string out;
  for (const WorkerInfo& w : workers) {
    std::vector<std::string> jobs;
    for (JobId id : w.jobs) jobs.push_back(id.ToString());
    absl::StrAppend(&out, "worker \"", absl::CEscape(w.name), "\" tags=[",
                    absl::CEscape(absl::StrJoin(w.tags, ",")),
                    "] lease=", absl::ToInt64Milliseconds(w.lease), "ms jobs=[",
                    absl::StrJoin(jobs, ","), "]\n");
  }
  return out;
}

// How far behind a worker's journaled `last_seen` may be: a quarter of its
// lease, at least 1 s, at most 60 s (docs/durability.md, `workers`).
inline absl::Duration SightingAllowance(absl::Duration lease) {
  return std::clamp(lease / 4, absl::Seconds(1), absl::Seconds(60));
}

// Applies `op` to `engine`, updating `names`, and returns the outcome.
// `clock` is advanced by kAdvance (shared by the engines a caller compares,
// it is advanced once by the caller instead when `advance_clock` is false).
inline Outcome Apply(Engine& engine, ManualClock& clock, const Operation& op, Names& names,
                     bool advance_clock = true) {
  Outcome out;
  auto fail = [&](const absl::Status& s) {
    out.code = s.code();
    return out;
  };
  auto job = [&](size_t i) { return names.jobs[i]; };
  switch (op.kind) {
    case Operation::kSubmit:
    case Operation::kSubmitBatch: {
      std::vector<JobSpec> specs = op.specs;
      for (size_t i = 0; i < specs.size(); ++i) {
        for (size_t d : op.depends_on[i]) specs[i].depends_on.push_back(job(d));
      }
      auto record = [&](const CreatedJob& created, auto& self) -> void {
        names.jobs.push_back(created.id);
        names.job_teams.push_back(op.team);
        for (const CreatedJob& child : created.children) self(child, self);
      };
      if (op.kind == Operation::kSubmit) {
        absl::StatusOr<CreatedJob> created = engine.Submit(op.team, specs[0]);
        if (!created.ok()) return fail(created.status());
        record(*created, record);
        out.text = wire::WriteJson(wire::JobCreationResponseToJson(*created));
      } else {
        absl::StatusOr<BatchSubmitResult> result = engine.SubmitBatch(op.team, specs);
        if (!result.ok()) return fail(result.status());
        for (const BatchJobResult& r : result->jobs) record(r.job, record);
        if (result->success_count > 0) names.batches.emplace_back(result->batch_id, op.team);
        out.text = wire::WriteJson(wire::BatchCreationResponseToJson(*result));
      }
      return out;
    }
    case Operation::kCancel: {
      auto r = engine.Cancel(names.job_teams[op.targets[0]], job(op.targets[0]));
      if (!r.ok()) return fail(r.status());
      out.text = JobsText(*r);
      return out;
    }
    case Operation::kCancelMany: {
      std::vector<JobId> ids;
      for (size_t t : op.targets) ids.push_back(job(t));
      auto r = engine.CancelMany(names.job_teams[op.targets[0]], ids);
      if (!r.ok()) return fail(r.status());
      out.text = JobsText(*r);
      return out;
    }
    case Operation::kCancelBatch: {
      const auto& [id, team] = names.batches[op.targets[0]];
      auto r = engine.CancelBatch(team, id);
      if (!r.ok()) return fail(r.status());
      out.text = wire::WriteJson(wire::BatchCancellationResponseToJson(*r));
      return out;
    }
    case Operation::kClaim: {
      ClaimRequest request;
      request.worker = op.worker;
      request.tags = op.tags;
      request.any_tags = op.any_tags;
      request.lease = op.advance;
      auto r = engine.Claim(request);
      if (!r.ok()) return fail(r.status());
      const auto it = std::find(names.jobs.begin(), names.jobs.end(), r->job.id);
      names.leases[static_cast<size_t>(it - names.jobs.begin())] = r->lease.token;
      out.text =
          absl::StrCat(JobsText({r->job}), FormatTimestamp(r->lease.expires_at), "\n", r->payload);
      return out;
    }
    case Operation::kHeartbeat:
    case Operation::kFinish:
    case Operation::kFail:
    case Operation::kRelease: {
      const size_t t = op.targets[0];
      const std::string token = names.leases.count(t) ? names.leases.at(t) : "";
      absl::StatusOr<Job> r;
      if (op.kind == Operation::kHeartbeat) {
        HeartbeatReport report;
        report.progress = op.progress;
        auto h = engine.Heartbeat(job(t), token, report);
        if (!h.ok()) {
          names.leases.erase(t);  // stale: the lease ended meanwhile
          return fail(h.status());
        }
        out.text = absl::StrCat(JobsText({h->job}), FormatTimestamp(h->lease.expires_at),
                                h->cancel_requested ? " abort" : "");
        return out;
      }
      if (op.kind == Operation::kFinish) r = engine.Finish(job(t), token, {});
      if (op.kind == Operation::kFail) {
        r = engine.Fail(job(t), token, {.error = "render \xff failed", .retry = op.retry});
      }
      if (op.kind == Operation::kRelease) r = engine.Release(job(t), token);
      names.leases.erase(t);
      if (!r.ok()) return fail(r.status());
      out.text = JobsText({*r});
      return out;
    }
    case Operation::kAbort: {
      const size_t t = op.targets[0];
      auto r = engine.RequestAbort(names.job_teams[t], job(t));
      if (!r.ok()) return fail(r.status());
      out.text = JobsText({*r});
      return out;
    }
    case Operation::kAdvance:
      if (advance_clock) clock.Advance(op.advance);
      out.text = absl::StrCat(engine.RunDueWork());
      return out;
    case Operation::kReplay: {
      for (const std::string& team : Teams()) {
        auto letters = engine.ListDeadLetters(team);
        if (letters.ok() && !letters->empty()) {
          absl::Status s = engine.ReplayDeadLetter(team, letters->front().delivery_id);
          out.code = s.code();
          return out;
        }
      }
      return out;
    }
    case Operation::kRetry:
    case Operation::kSuspend:
    case Operation::kResume: {
      std::vector<JobId> ids;
      for (size_t t : op.targets) ids.push_back(job(t));
      const std::string& team = names.job_teams[op.targets[0]];
      absl::StatusOr<std::vector<Job>> r = op.kind == Operation::kRetry ? engine.Retry(team, ids)
                                           : op.kind == Operation::kSuspend
                                               ? engine.Suspend(team, ids)
                                               : engine.Resume(team, ids);
      if (!r.ok()) return fail(r.status());
      out.text = JobsText(*r);
      return out;
    }
    case Operation::kSuspendBatch:
    case Operation::kResumeBatch: {
      const auto& [id, team] = names.batches[op.targets[0]];
      absl::StatusOr<std::vector<Job>> r = op.kind == Operation::kSuspendBatch
                                               ? engine.SuspendBatch(team, id)
                                               : engine.ResumeBatch(team, id);
      if (!r.ok()) return fail(r.status());
      out.text = JobsText(*r);
      return out;
    }
    case Operation::kSetPriority: {
      const size_t t = op.targets[0];
      absl::StatusOr<Job> r = engine.SetPriority(names.job_teams[t], job(t), op.priority);
      if (!r.ok()) return fail(r.status());
      out.text = JobsText({*r});
      return out;
    }
    case Operation::kLog: {
      const size_t t = op.targets[0];
      const std::string token = names.leases.count(t) ? names.leases.at(t) : "";
      absl::Status s = engine.AppendLog(job(t), token, op.lines);
      if (s.code() == absl::StatusCode::kFailedPrecondition) names.leases.erase(t);  // stale
      if (!s.ok()) return fail(s);
      out.text = LogText(engine, names.job_teams[t], job(t));
      return out;
    }
    case Operation::kListWorkers:
      out.text = WorkersText(engine.ListWorkers(op.team));
      return out;
  }
  return out;
}

// Forgets the leases of jobs no longer rendering: stale, or ended by a time
// limit, whose memory (the heartbeat's cancelRequested) does not survive a
// reopen (docs/semantics.md, contract §14). Two engines in the same state
// forget the same ones; the heartbeats that follow would be refused anyway.
inline void ForgetLeasesOfJobsNotRendering(const Engine& engine, Names& names) {
  for (auto it = names.leases.begin(); it != names.leases.end();) {
    absl::StatusOr<Job> job = engine.Get(names.job_teams[it->first], names.jobs[it->first]);
    if (job.ok() && job->state == JobState::kRendering) {
      ++it;
    } else {
      it = names.leases.erase(it);
    }
  }
}

// Every job of `team`, oldest first.
inline std::vector<Job> AllJobs(const Engine& engine, const std::string& team) {
  std::vector<Job> all;
  ListQuery query;
  query.limit = ListQuery::kMaxLimit;
  while (true) {
    query.offset = all.size();
    absl::StatusOr<std::vector<Job>> page = engine.List(team, query);
    if (!page.ok() || page->empty()) return all;
    all.insert(all.end(), page->begin(), page->end());
  }
}

// Everything the engine answers about its state, as text (ids as they are).
inline std::string Dump(const Engine& engine) {
  std::string out;
  for (const std::string& team : Teams()) {
    absl::StrAppend(&out, "team ", team, "\n");
    std::vector<Job> jobs = AllJobs(engine, team);
    out += JobsText(jobs);
    for (const Job& job : jobs) {
      const std::string log = LogText(engine, team, job.id);
      if (log != "NOT_FOUND") absl::StrAppend(&out, "log ", job.id.ToString(), " ", log, "\n");
    }
    out += WorkersText(engine.ListWorkers(team));
    std::set<BatchId> batches;
    for (const Job& job : jobs) {
      if (job.batch_id) batches.insert(*job.batch_id);
    }
    for (const BatchId& id : batches) {
      absl::StatusOr<BatchView> view = engine.GetBatch(team, id);
      absl::StrAppend(&out, "batch ",
                      view.ok() ? wire::WriteJson(wire::BatchStatusResponseToJson(*view))
                                : view.status().ToString(),
                      "\n");
    }
    absl::StatusOr<std::vector<DeadLetter>> letters = engine.ListDeadLetters(team);
    for (const DeadLetter& letter : letters.value_or(std::vector<DeadLetter>{})) {
      absl::StrAppend(&out, "dead ", letter.delivery_id, " ", letter.job_id.ToString(), " ",
                      letter.url, " ", letter.attempts, " ", letter.last_error, " ",
                      FormatTimestamp(letter.created_at), " ", FormatTimestamp(letter.died_at),
                      "\n");
    }
  }
  const OutboxCounts counts = engine.GetOutboxCounts();
  absl::StrAppend(&out, "outbox pending=", counts.pending, " in_flight=", counts.in_flight,
                  " dead=", counts.dead, "\n");
  return out;
}

// `text` with every ULID replaced by "#<rank among the ULIDs in it>".
inline std::string Canonical(const std::string& text) {
  static const std::regex kUlid("[0-9A-HJKMNP-TV-Z]{26}");
  std::set<std::string> ids;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kUlid);
       it != std::sregex_iterator(); ++it) {
    ids.insert(it->str());
  }
  std::map<std::string, size_t> rank;
  for (const std::string& id : ids) rank.emplace(id, rank.size());
  std::string out;
  size_t last = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kUlid);
       it != std::sregex_iterator(); ++it) {
    out.append(text, last, it->position() - last);
    absl::StrAppend(&out, "#", rank[it->str()]);
    last = it->position() + it->length();
  }
  out.append(text, last);
  return out;
}

// Compares `got` (a reopened engine's list, at `now`) with `want` (the same
// list from an engine never closed, or from before the close): everything
// is equal (job ids compared by rank, as Canonical does) but `last_seen`, which may be behind by
// less than SightingAllowance (never ahead), and the status, which is judged from it (lost when
// `now` is more than two leases after it; else what `want` says). Returns "" or what differs.
inline std::string CheckWorkersAgainst(const std::vector<WorkerInfo>& want,
                                       const std::vector<WorkerInfo>& got, absl::Time now) {
  const std::string want_text = Canonical(WorkersText(want));
  const std::string got_text = Canonical(WorkersText(got));
  if (want_text != got_text) {
    return absl::StrCat("worker lists differ:\nwant\n", want_text, "got\n", got_text);
  }
  for (size_t i = 0; i < want.size(); ++i) {
    const WorkerInfo& w = want[i];
    const WorkerInfo& g = got[i];
    const std::string who = absl::StrCat("worker \"", absl::CEscape(w.name), "\": ");
    if (g.last_seen > w.last_seen || w.last_seen - g.last_seen >= SightingAllowance(w.lease)) {
      return absl::StrCat(who, "last seen ", absl::FormatTime(g.last_seen), ", want ",
                          absl::FormatTime(w.last_seen), " or less than ",
                          absl::FormatDuration(SightingAllowance(w.lease)), " before");
    }
    const bool lost = now - g.last_seen > 2 * g.lease;
    if (lost ? g.status != WorkerStatus::kLost : g.status != w.status) {
      return absl::StrCat(who, "status ", std::string(WorkerStatusName(g.status)), ", want ",
                          lost ? "lost" : std::string(WorkerStatusName(w.status)), " (last seen ",
                          absl::FormatTime(g.last_seen), ")");
    }
  }
  return "";
}

// The relations between jobs that contract §1-7 and §14 promise, checked
// through the public API. Returns the first one broken, or "".
inline std::string CheckInvariants(const Engine& engine) {
  absl::flat_hash_map<JobId, Job> by_id;
  for (const std::string& team : Teams()) {
    for (Job& job : AllJobs(engine, team)) by_id.emplace(job.id, std::move(job));
  }
  for (const auto& [id, job] : by_id) {
    const std::string who =
        absl::StrCat("job ", id.ToString(), " (", std::string(StateName(job.state)), ")");
    std::vector<JobId> prerequisites = job.children;
    prerequisites.insert(prerequisites.end(), job.depends_on.begin(), job.depends_on.end());
    bool all_finished = true, any_cancelled = false, any_failed = false;
    for (const JobId& p : prerequisites) {
      auto it = by_id.find(p);
      if (it == by_id.end()) return absl::StrCat(who, ": prerequisite ", p.ToString(), " missing");
      all_finished &= it->second.state == JobState::kFinished;
      any_cancelled |= it->second.state == JobState::kCancelled;
      any_failed |= it->second.state == JobState::kError;
    }
    for (const JobId& c : job.children) {
      if (by_id.at(c).parent_id != id) return absl::StrCat(who, ": child's parent is not it");
    }
    if (job.parent_id) {
      auto parent = by_id.find(*job.parent_id);
      if (parent == by_id.end()) return absl::StrCat(who, ": parent missing");
      const auto& kids = parent->second.children;
      if (std::find(kids.begin(), kids.end(), id) == kids.end()) {
        return absl::StrCat(who, ": not among its parent's children");
      }
    }
    const bool ignores = job.on_prerequisite_failure == PrerequisiteFailurePolicy::kIgnore;
    if (job.state == JobState::kPending && !prerequisites.empty()) {
      bool waiting = false;
      for (const JobId& p : prerequisites) {
        const JobState s = by_id.at(p).state;
        waiting |= !IsTerminal(s);
      }
      if (!waiting) return absl::StrCat(who, ": pending with every prerequisite ended");
    }
    if (job.state == JobState::kPending && prerequisites.empty()) {
      return absl::StrCat(who, ": pending with no prerequisite");
    }
    if (job.state == JobState::kQueued && !all_finished) {
      // Only a job that ignores failures is queued past a failed prerequisite
      // (which a Retry may since have revived: the job stays queued).
      for (const JobId& p : prerequisites) {
        const JobState s = by_id.at(p).state;
        if (s != JobState::kFinished && !(ignores && (s == JobState::kError || !IsTerminal(s)))) {
          return absl::StrCat(who, ": queued before prerequisite ", p.ToString(), " finished");
        }
      }
    }
    if (IsCancellable(job.state) && any_cancelled) {
      return absl::StrCat(who, ": still waiting on a cancelled prerequisite");
    }
    if (IsCancellable(job.state) && any_failed && !ignores) {
      return absl::StrCat(who, ": still waiting on a failed prerequisite");
    }
    if (job.state == JobState::kRendering && job.attempts < 1) {
      return absl::StrCat(who, ": rendering without an attempt");
    }
    if (job.state == JobState::kFinished && job.progress != 100.0) {
      return absl::StrCat(who, ": finished at ", job.progress, "%");
    }
    // Contract §14.
    if (job.max_attempts < kMinMaxAttempts || job.max_attempts > kMaxMaxAttempts ||
        job.attempts > job.max_attempts) {
      return absl::StrCat(who, ": ", job.attempts, " attempts of ", job.max_attempts);
    }
    if (job.suspended && !IsCancellable(job.state)) return absl::StrCat(who, ": held");
    if (job.retry_at && (job.state != JobState::kQueued || job.suspended)) {
      return absl::StrCat(who, ": waits for a retry");
    }
    if (job.batch_id) {
      absl::StatusOr<BatchCounts> counts = engine.GetBatchCounts(job.team, *job.batch_id);
      if (!counts.ok()) return absl::StrCat(who, ": its batch is missing");
    }
  }
  // Each batch's lock-free aggregate agrees with its jobs.
  std::set<std::pair<BatchId, std::string>> batches;
  for (const auto& [id, job] : by_id) {
    if (job.batch_id) batches.insert({*job.batch_id, job.team});
  }
  for (const auto& [batch, team] : batches) {
    absl::StatusOr<BatchView> view = engine.GetBatch(team, batch);
    if (!view.ok()) return absl::StrCat("batch ", batch.ToString(), ": ", view.status().ToString());
    std::array<int, kNumJobStates> by_state{};
    for (const auto& entry : view->jobs) ++by_state[static_cast<int>(entry.job.state)];
    for (int s = 0; s < kNumJobStates; ++s) {
      if (by_state[s] != view->counts.by_state[s]) {
        return absl::StrCat("batch ", batch.ToString(), ": aggregate disagrees with its jobs");
      }
    }
  }
  return "";
}

// Resumes every held job, then claims and finishes every job that can run
// until none is left, then checks that nothing is left queued, pending or
// rendering. Returns "" or what is wrong. The leases held before (by workers
// that are gone) run out first: the clock moves an hour, unless the caller
// moved it already (`advance`). A lease that runs out then may leave its
// job waiting out a retry backoff, which would be left queued: with
// backoffs, the caller moves the clock past them too (and passes `advance`
// false).
inline std::string DrainAndCheck(Engine& engine, ManualClock& clock, bool advance = true) {
  for (const std::string& team : Teams()) {
    std::vector<JobId> held;
    for (const Job& job : AllJobs(engine, team)) {
      if (job.suspended) held.push_back(job.id);
    }
    for (size_t i = 0; i < held.size(); i += kMaxCancelIds) {
      const size_t n = std::min(kMaxCancelIds, held.size() - i);
      absl::StatusOr<std::vector<Job>> resumed =
          engine.Resume(team, absl::MakeConstSpan(held).subspan(i, n));
      if (!resumed.ok()) return absl::StrCat("resume: ", resumed.status().ToString());
    }
  }
  if (advance) clock.Advance(absl::Hours(1));
  engine.RunDueWork();
  for (int rounds = 0; rounds < 100000; ++rounds) {
    absl::StatusOr<ClaimedJob> claimed = engine.Claim({});
    if (!claimed.ok()) break;
    absl::StatusOr<Job> finished = engine.Finish(claimed->job.id, claimed->lease.token, {});
    if (!finished.ok()) return absl::StrCat("finish: ", finished.status().ToString());
  }
  for (const std::string& team : Teams()) {
    for (const Job& job : AllJobs(engine, team)) {
      if (!IsTerminal(job.state)) {
        return absl::StrCat("job ", job.id.ToString(), " is still ",
                            std::string(StateName(job.state)), " after the drain");
      }
    }
  }
  return CheckInvariants(engine);
}

}  // namespace cascade::durability

#endif  // CASCADE_TESTS_DURABILITY_HISTORY_H_
