// Copyright 2026 The Cascade Authors.
//
// File: tests/tools/journal_fixture_dump.h
// -----------------------------------------------------------------------------
// Shared by tests/tools/make_journal_fixture.cc (built against an old engine:
// it wrote tests/data/journal_v1) and tests/journal_compat_test.cc (built
// against the current one): the options the fixture's engine runs with, a
// text rendering of everything the public API answers about an engine's
// state, the steps taken after reopening the fixture, and the file format of
// expected.json. Both sides run this same code, so what the old engine wrote
// into expected.json and what the current engine answers can only differ
// because the engines differ.
//
// Public API only (cascade/cascade.h and the fake webhook transport): it must
// compile against every version of the engine that is compared, and must not
// reuse the engine's own names or encoders, so that a change in them shows.
//
// Text rules. Every line is one JSON object. Text is written byte for byte:
// printable ASCII as is (with \" and \\), every other byte as \u00XX, so the
// file is ASCII and shows the exact bytes of a non-UTF-8 team, payload or
// error (\u00c3\u00a9 is the two bytes of "é", not two characters). Times are
// ISO 8601 UTC with milliseconds; numbers are written with %.17g.

#ifndef CASCADE_TESTS_TOOLS_JOURNAL_FIXTURE_DUMP_H_
#define CASCADE_TESTS_TOOLS_JOURNAL_FIXTURE_DUMP_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "cascade/cascade.h"
#include "cascade/testing/fake_transport.h"

namespace cascade::journal_fixture {

// ---- The fixture's engine ------------------------------------------------------

// 2026-01-01T00:00:00.000Z: the clock's time when the fixture starts.
inline constexpr int64_t kStartMs = 1'767'225'600'000;
inline constexpr uint64_t kIdSeed = 20'260'101;
inline constexpr char kSigningSecret[] = "fixture-secret";
// How much later than the fixture's end the "later" phase opens it.
inline constexpr absl::Duration kLaterGap = absl::Hours(1);

// The fixture's teams, in the order they are dumped. The second is not UTF-8
// (journaled as base64), the third is UTF-8 beyond ASCII.
inline const std::vector<std::string>& Teams() {
  static const auto* teams = new std::vector<std::string>{
      "studio", std::string("night\xfe\xff") + "shift", std::string("\xc3\xa9") + "quipe-b"};
  return *teams;
}

// The options of every engine that opens the fixture. None of them is in the
// journal; these make the fixture's lease, abort and webhook timings short
// enough to script.
inline Options MakeOptions(ManualClock* clock, WebhookTransport* transport,
                           const std::string& data_dir) {
  Options options;
  options.clock = clock;
  options.id_seed = kIdSeed;
  options.output_url_template = "s3://renders/{team}/{batch}/{id}.mp4";
  options.max_attempts = 2;
  options.lease_duration = absl::Seconds(60);
  options.abort_grace = absl::Seconds(30);
  options.webhooks.transport = transport;
  options.webhooks.max_retries = 1;
  options.webhooks.initial_backoff = absl::Hours(1);
  options.webhooks.backoff_factor = 2.0;
  options.webhooks.timeout = absl::Seconds(2);
  options.webhooks.signing_secret = kSigningSecret;
  options.durability.data_dir = data_dir;
  options.durability.sync = DurabilityOptions::Sync::kNormal;
  return options;
}

// ---- Text -----------------------------------------------------------------------

inline std::string Quote(std::string_view bytes) {
  std::string out = "\"";
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (b >= 0x20 && b < 0x7f) {
      out += c;
    } else {
      out += absl::StrFormat("\\u%04x", b);
    }
  }
  out += '"';
  return out;
}

inline std::string TimeText(absl::Time t) {
  return Quote(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone()));
}
inline std::string TimeText(const std::optional<absl::Time>& t) {
  return t ? TimeText(*t) : "null";
}
inline std::string NumberText(double d) { return absl::StrFormat("%.17g", d); }
inline std::string BoolText(bool b) { return b ? "true" : "false"; }
inline std::string IdText(const Ulid& id) { return Quote(id.ToString()); }
template <typename T>
std::string OptionalIdText(const std::optional<T>& id) {
  return id ? IdText(*id) : "null";
}
inline std::string IdsText(const std::vector<JobId>& ids) {
  std::string out = "[";
  for (size_t i = 0; i < ids.size(); ++i) absl::StrAppend(&out, i ? "," : "", IdText(ids[i]));
  return out + "]";
}
inline std::string StringsText(const std::vector<std::string>& texts) {
  std::string out = "[";
  for (size_t i = 0; i < texts.size(); ++i) absl::StrAppend(&out, i ? "," : "", Quote(texts[i]));
  return out + "]";
}
inline std::string StatusText(const absl::Status& status) {
  // The code only: messages are free to improve.
  return Quote(absl::StatusCodeToString(status.code()));
}

// Our own names, not the engine's, so that a renamed state shows as a diff.
inline std::string StateText(JobState state) {
  static constexpr std::string_view kNames[] = {"queued",   "pending", "render:dorender",
                                                "finished", "error",   "manually_cancelled"};
  const auto i = static_cast<size_t>(state);
  return Quote(i < std::size(kNames) ? kNames[i] : "unknown");
}
inline std::string BatchStatusText(BatchStatus status) {
  switch (status) {
    case BatchStatus::kProcessing:
      return "\"processing\"";
    case BatchStatus::kFinished:
      return "\"finished\"";
    case BatchStatus::kError:
      return "\"error\"";
  }
  return "\"unknown\"";
}
inline std::string MethodText(HttpMethod method) {
  switch (method) {
    case HttpMethod::kGet:
      return "\"GET\"";
    case HttpMethod::kPost:
      return "\"POST\"";
    case HttpMethod::kPut:
      return "\"PUT\"";
    case HttpMethod::kDelete:
      return "\"DELETE\"";
  }
  return "\"unknown\"";
}

// Every field of a Job.
inline std::string JobLine(const Job& j) {
  return absl::StrCat(
      "{\"job\":", IdText(j.id), ",\"team\":", Quote(j.team),
      ",\"template\":", j.template_id ? Quote(*j.template_id) : "null",
      ",\"state\":", StateText(j.state), ",\"progress\":", NumberText(j.progress),
      ",\"created\":", TimeText(j.stats.created_at), ",\"updated\":", TimeText(j.stats.updated_at),
      ",\"started\":", TimeText(j.stats.started_at),
      ",\"finished\":", TimeText(j.stats.finished_at), ",\"errorAt\":", TimeText(j.stats.error_at),
      ",\"totalAssets\":", j.stats.total_assets, ",\"renderDuration\":",
      j.stats.render_duration ? NumberText(*j.stats.render_duration) : "null",
      ",\"error\":", j.stats.error ? Quote(j.stats.error->str()) : "null",
      ",\"outputUrl\":", Quote(j.output_url.str()), ",\"tags\":", StringsText(j.tags),
      ",\"priority\":", j.priority, ",\"batch\":", OptionalIdText(j.batch_id),
      ",\"parent\":", OptionalIdText(j.parent_id), ",\"children\":", IdsText(j.children),
      ",\"dependsOn\":", IdsText(j.depends_on), ",\"onPrerequisiteFailure\":",
      j.on_prerequisite_failure == PrerequisiteFailurePolicy::kIgnore ? "\"ignore\"" : "\"fail\"",
      ",\"attempts\":", j.attempts, ",\"cancelRequested\":", BoolText(j.cancel_requested), "}");
}

inline std::string CountsText(const BatchCounts& counts) {
  std::string out = absl::StrCat("{\"total\":", counts.total);
  for (int s = 0; s < kNumJobStates; ++s) {
    absl::StrAppend(&out, ",", StateText(static_cast<JobState>(s)), ":", counts.by_state[s]);
  }
  return out + "}";
}

inline std::string DeadLetterLine(const std::string& team, const DeadLetter& d) {
  return absl::StrCat("{\"deadLetter\":", Quote(d.delivery_id), ",\"team\":", Quote(team),
                      ",\"job\":", IdText(d.job_id), ",\"url\":", Quote(d.url),
                      ",\"attempts\":", d.attempts, ",\"lastError\":", Quote(d.last_error),
                      ",\"created\":", TimeText(d.created_at), ",\"died\":", TimeText(d.died_at),
                      "}");
}

inline std::string OutboxLine(const OutboxCounts& c, bool with_totals) {
  std::string out = absl::StrCat("{\"outbox\":{\"pending\":", c.pending,
                                 ",\"inFlight\":", c.in_flight, ",\"dead\":", c.dead);
  // The totals count since the engine started: they are the same for two
  // engines that did the same things since they opened the directory.
  if (with_totals) {
    absl::StrAppend(&out, ",\"deliveredTotal\":", c.delivered_total,
                    ",\"attemptsTotal\":", c.attempts_total);
  }
  return out + "}}";
}

// The requests a transport was asked to send, from the `from`-th on.
inline std::vector<std::string> CallLines(const std::vector<testing::FakeTransport::Call>& calls,
                                          size_t from = 0) {
  std::vector<std::string> lines;
  for (size_t i = from; i < calls.size(); ++i) {
    const testing::FakeTransport::Call& call = calls[i];
    std::string headers = "[";
    for (size_t h = 0; h < call.request.headers.size(); ++h) {
      absl::StrAppend(&headers, h ? "," : "", "[", Quote(call.request.headers[h].first), ",",
                      Quote(call.request.headers[h].second), "]");
    }
    headers += "]";
    lines.push_back(absl::StrCat("{\"send\":", i, ",\"at\":", TimeText(call.at),
                                 ",\"timeoutMs\":", absl::ToInt64Milliseconds(call.timeout),
                                 ",\"method\":", MethodText(call.request.method),
                                 ",\"url\":", Quote(call.request.url), ",\"headers\":", headers,
                                 ",\"body\":", Quote(call.request.body), "}"));
  }
  return lines;
}

// ---- The whole state ---------------------------------------------------------------

// Every job of `query` for `team`, through every page.
inline absl::StatusOr<std::vector<Job>> ListAll(const Engine& engine, const std::string& team,
                                                ListQuery query) {
  std::vector<Job> all;
  query.limit = ListQuery::kMaxLimit;
  for (query.offset = 0;; query.offset += query.limit) {
    absl::StatusOr<std::vector<Job>> page = engine.List(team, query);
    if (!page.ok()) return page.status();
    all.insert(all.end(), page->begin(), page->end());
    if (page->size() < query.limit) return all;
  }
}

inline std::string ListLine(const Engine& engine, const std::string& team, const std::string& what,
                            const ListQuery& query) {
  absl::StatusOr<std::vector<Job>> jobs = ListAll(engine, team, query);
  std::string head = absl::StrCat("{\"list\":", Quote(team), ",", what);
  if (!jobs.ok()) return absl::StrCat(head, ",\"status\":", StatusText(jobs.status()), "}");
  std::vector<JobId> ids;
  for (const Job& j : *jobs) ids.push_back(j.id);
  return absl::StrCat(head, ",\"ids\":", IdsText(ids), "}");
}

// Everything the public API answers about the engine's state: every job of
// every team (Get, and List's view of it), the lists by state, order and tag,
// each job's family, every batch, the dead letters, the outbox.
inline std::vector<std::string> DumpState(const Engine& engine, bool with_totals) {
  std::vector<std::string> lines;
  lines.push_back(absl::StrCat("{\"jobCount\":", engine.JobCount(), "}"));
  std::vector<std::pair<std::string, JobId>> firsts;  // each team's first job
  for (const std::string& team : Teams()) {
    absl::StatusOr<std::vector<Job>> all = ListAll(engine, team, ListQuery{});
    if (!all.ok()) {
      lines.push_back(
          absl::StrCat("{\"list\":", Quote(team), ",\"status\":", StatusText(all.status()), "}"));
      continue;
    }
    std::vector<JobId> ids;
    for (const Job& j : *all) ids.push_back(j.id);
    lines.push_back(absl::StrCat("{\"team\":", Quote(team), ",\"ids\":", IdsText(ids), "}"));
    if (!ids.empty()) firsts.emplace_back(team, ids.front());
    std::set<std::string> tags;
    std::vector<BatchId> batches;
    for (const Job& listed : *all) {
      absl::StatusOr<Job> job = engine.Get(team, listed.id);
      if (!job.ok()) {
        lines.push_back(absl::StrCat("{\"get\":", IdText(listed.id),
                                     ",\"status\":", StatusText(job.status()), "}"));
        continue;
      }
      lines.push_back(JobLine(*job));
      if (JobLine(listed) != JobLine(*job)) {
        lines.push_back(absl::StrCat("{\"listViewDiffers\":", JobLine(listed), "}"));
      }
      tags.insert(job->tags.begin(), job->tags.end());
      if (job->batch_id &&
          std::find(batches.begin(), batches.end(), *job->batch_id) == batches.end()) {
        batches.push_back(*job->batch_id);
      }
    }
    for (int s = 0; s < kNumJobStates; ++s) {
      ListQuery query;
      query.states = {static_cast<JobState>(s)};
      lines.push_back(
          ListLine(engine, team, absl::StrCat("\"state\":", StateText(query.states[0])), query));
    }
    for (SortOrder order : {SortOrder::kNewestFirst, SortOrder::kPriority}) {
      ListQuery query;
      query.sort = order;
      lines.push_back(ListLine(
          engine, team,
          order == SortOrder::kPriority ? "\"sort\":\"priority\"" : "\"sort\":\"newest_first\"",
          query));
    }
    for (const std::string& tag : tags) {
      // Not the "fx:" tags, one per job: the phases list by them anyway.
      if (tag.starts_with("fx:")) continue;
      ListQuery query;
      query.tags = {tag};
      lines.push_back(ListLine(engine, team, absl::StrCat("\"tag\":", Quote(tag)), query));
    }
    // Each family once, with the jobs it was asked of (every member, if the
    // graph came back right); the jobs without edges on one line.
    std::vector<std::pair<std::vector<JobId>, std::vector<JobId>>> families;
    std::vector<JobId> alone;
    for (const JobId& id : ids) {
      absl::StatusOr<std::vector<Job>> family = engine.GetFamily(team, id);
      if (!family.ok()) {
        lines.push_back(absl::StrCat("{\"family\":", IdText(id),
                                     ",\"status\":", StatusText(family.status()), "}"));
        continue;
      }
      std::vector<JobId> members;
      for (const Job& j : *family) members.push_back(j.id);
      if (members.size() == 1 && members[0] == id) {
        alone.push_back(id);
        continue;
      }
      auto it = std::find_if(families.begin(), families.end(),
                             [&](const auto& f) { return f.first == members; });
      if (it == families.end()) {
        families.push_back({std::move(members), {id}});
      } else {
        it->second.push_back(id);
      }
    }
    for (const auto& [members, asked] : families) {
      lines.push_back(
          absl::StrCat("{\"family\":", IdsText(members), ",\"askedOf\":", IdsText(asked), "}"));
    }
    lines.push_back(absl::StrCat("{\"alone\":", IdsText(alone), "}"));
    for (const BatchId& id : batches) {
      absl::StatusOr<BatchView> view = engine.GetBatch(team, id);
      absl::StatusOr<BatchCounts> counts = engine.GetBatchCounts(team, id);
      std::string head = absl::StrCat("{\"batch\":", IdText(id), ",\"team\":", Quote(team));
      if (!view.ok() || !counts.ok()) {
        lines.push_back(absl::StrCat(
            head, ",\"status\":", StatusText(view.ok() ? counts.status() : view.status()), "}"));
        continue;
      }
      std::string jobs = "[";
      for (size_t i = 0; i < view->jobs.size(); ++i) {
        const BatchJobView& j = view->jobs[i];
        absl::StrAppend(&jobs, i ? "," : "", "[", j.index, ",", IdText(j.job.id), ",",
                        StateText(j.job.state), "]");
      }
      jobs += "]";
      lines.push_back(absl::StrCat(head, ",\"status\":", BatchStatusText(view->status),
                                   ",\"counts\":", CountsText(view->counts), ",\"lockFreeCounts\":",
                                   CountsText(*counts), ",\"jobs\":", jobs, "}"));
    }
    absl::StatusOr<std::vector<DeadLetter>> letters = engine.ListDeadLetters(team);
    if (!letters.ok()) {
      lines.push_back(absl::StrCat("{\"deadLetters\":", Quote(team),
                                   ",\"status\":", StatusText(letters.status()), "}"));
    } else {
      for (const DeadLetter& d : *letters) lines.push_back(DeadLetterLine(team, d));
    }
  }
  // Teams do not see each other's jobs.
  for (const auto& [owner, id] : firsts) {
    for (const std::string& team : Teams()) {
      if (team == owner) continue;
      lines.push_back(absl::StrCat("{\"crossTeamGet\":", IdText(id), ",\"team\":", Quote(team),
                                   ",\"status\":", StatusText(engine.Get(team, id).status()), "}"));
    }
  }
  lines.push_back(OutboxLine(engine.GetOutboxCounts(), with_totals));
  return lines;
}

// ---- expected.json -----------------------------------------------------------------

// A named list of lines, in file order.
using Sections = std::vector<std::pair<std::string, std::vector<std::string>>>;

// What the phases need from the fixture's run: when it ended, and the lease
// token of each job left rendering (only the worker that claimed it knew).
struct Inputs {
  int64_t end_ms = 0;
  std::map<std::string, std::string> lease_tokens;  // job id -> token
};

inline std::vector<std::string> InputLines(const Inputs& inputs) {
  std::vector<std::string> lines = {absl::StrCat("{\"endMs\":", inputs.end_ms, "}")};
  for (const auto& [job, token] : inputs.lease_tokens) {
    lines.push_back(absl::StrCat("{\"lease\":", Quote(job), ",\"token\":", Quote(token), "}"));
  }
  return lines;
}

// The file: a JSON object of arrays, one element a line.
inline std::string WriteDocument(const Sections& sections) {
  std::string out = "{\n";
  for (size_t s = 0; s < sections.size(); ++s) {
    absl::StrAppend(&out, Quote(sections[s].first), ": [\n");
    const std::vector<std::string>& lines = sections[s].second;
    for (size_t i = 0; i < lines.size(); ++i) {
      absl::StrAppend(&out, lines[i], i + 1 < lines.size() ? ",\n" : "\n");
    }
    absl::StrAppend(&out, s + 1 < sections.size() ? "],\n" : "]\n");
  }
  return out + "}\n";
}

// Reads what WriteDocument wrote (only that). Empty on a malformed file.
inline std::map<std::string, std::vector<std::string>> ReadDocument(const std::string& text) {
  std::map<std::string, std::vector<std::string>> sections;
  std::istringstream in(text);
  std::string line;
  std::vector<std::string>* current = nullptr;
  while (std::getline(in, line)) {
    if (current == nullptr) {
      if (line.size() > 5 && line.front() == '"' && line.ends_with("\": [")) {
        current = &sections[line.substr(1, line.size() - 5)];
      }
    } else if (line == "]" || line == "],") {
      current = nullptr;
    } else {
      if (line.ends_with(",")) line.pop_back();
      current->push_back(line);
    }
  }
  return sections;
}

// The inputs back from their lines; nullopt if they are not there.
inline std::optional<Inputs> ParseInputs(const std::vector<std::string>& lines) {
  Inputs inputs;
  bool have_end = false;
  for (const std::string& line : lines) {
    if (line.starts_with("{\"endMs\":")) {
      inputs.end_ms = std::stoll(line.substr(9));
      have_end = true;
    } else if (line.starts_with("{\"lease\":\"")) {
      // {"lease":"<26>","token":"<hex>"}: neither needs unescaping.
      const std::string job = line.substr(10, Ulid::kTextSize);
      const size_t at = line.find("\"token\":\"");
      if (at == std::string::npos) return std::nullopt;
      const size_t start = at + 9;
      inputs.lease_tokens[job] = line.substr(start, line.find('"', start) - start);
    }
  }
  if (!have_end) return std::nullopt;
  return inputs;
}

// ---- The phases: what is done with a copy of the fixture ------------------------

// The only job of `team` carrying `tag` (each fixture job has a tag of its own).
inline absl::StatusOr<JobId> JobTagged(const Engine& engine, const std::string& team,
                                       std::string tag) {
  ListQuery query;
  query.tags = {std::move(tag)};
  absl::StatusOr<std::vector<Job>> jobs = ListAll(engine, team, query);
  if (!jobs.ok()) return jobs.status();
  if (jobs->size() != 1) {
    return absl::FailedPreconditionError(
        absl::StrCat(jobs->size(), " jobs of ", team, " carry tag ", query.tags[0]));
  }
  return jobs->front().id;
}

inline std::string OpLine(const std::string& op, const absl::Status& status,
                          const std::string& more = "") {
  return absl::StrCat("{\"op\":", Quote(op), ",\"status\":", StatusText(status), more, "}");
}

inline std::string OpenFailedLine(const absl::Status& status) {
  // The message too: a refused open is the one failure worth reading here.
  return absl::StrCat("{\"open\":", StatusText(status),
                      ",\"message\":", Quote(std::string(status.message())), "}");
}

// "restored": the fixture opened at the time it ended, as it is.
inline std::vector<std::string> PhaseRestored(const std::string& dir, const Inputs& inputs) {
  ManualClock clock(absl::FromUnixMillis(inputs.end_ms));
  testing::FakeTransport transport(&clock);
  absl::StatusOr<std::unique_ptr<Engine>> engine =
      Engine::Create(MakeOptions(&clock, &transport, dir));
  if (!engine.ok()) return {OpenFailedLine(engine.status())};
  return DumpState(**engine, /*with_totals=*/true);
}

// "followup" and "followup_reopened": the fixture opened at the time it
// ended, then driven on (heartbeats with the restored leases, a claim and a
// finish, a cancel with a cascade, an abort acknowledged, a dead letter
// replayed, the outbox sent), closed and opened again.
//
// `state_before_close` gets the state without the outbox totals just before
// the close, to compare with "followup_reopened" (which expected.json does
// not hold: it is that same state, as the generator checks).
inline Sections PhaseFollowUp(const std::string& dir, const Inputs& inputs,
                              std::vector<std::string>* state_before_close = nullptr) {
  ManualClock clock(absl::FromUnixMillis(inputs.end_ms));
  testing::FakeTransport transport(&clock);
  const Options options = MakeOptions(&clock, &transport, dir);
  const std::string& studio = Teams()[0];
  const std::string& night = Teams()[1];
  std::vector<std::string> lines;
  {
    absl::StatusOr<std::unique_ptr<Engine>> opened = Engine::Create(options);
    if (!opened.ok()) return {{"followup", {OpenFailedLine(opened.status())}}};
    Engine& engine = **opened;
    auto token_of = [&](const absl::StatusOr<JobId>& id) -> std::string {
      if (!id.ok()) return "";
      auto it = inputs.lease_tokens.find(id->ToString());
      return it == inputs.lease_tokens.end() ? "" : it->second;
    };
    auto heartbeat = [&](const std::string& team, std::string tag, std::optional<double> progress) {
      absl::StatusOr<JobId> id = JobTagged(engine, team, tag);
      absl::StatusOr<HeartbeatResult> beat =
          id.ok() ? engine.Heartbeat(*id, token_of(id), {.progress = progress})
                  : absl::StatusOr<HeartbeatResult>(id.status());
      if (!beat.ok()) {
        lines.push_back(OpLine(absl::StrCat("heartbeat ", tag), beat.status()));
        return;
      }
      lines.push_back(
          OpLine(absl::StrCat("heartbeat ", tag), absl::OkStatus(),
                 absl::StrCat(",\"cancelRequested\":", BoolText(beat->cancel_requested),
                              ",\"leaseExpires\":", TimeText(beat->lease.expires_at),
                              ",\"sameToken\":", BoolText(beat->lease.token == token_of(id)))));
      lines.push_back(JobLine(beat->job));
    };
    // Claims the job carrying `tag` and finishes it.
    auto claim_and_finish = [&](std::string tag, std::string output_url) {
      ClaimRequest request;
      request.worker = "followup-worker";
      request.tags = {tag};
      absl::StatusOr<ClaimedJob> claimed = engine.Claim(request);
      if (!claimed.ok()) {
        lines.push_back(OpLine(absl::StrCat("claim ", tag), claimed.status()));
        return;
      }
      lines.push_back(
          OpLine(absl::StrCat("claim ", tag), absl::OkStatus(),
                 absl::StrCat(",\"payload\":", Quote(claimed->payload),
                              ",\"leaseExpires\":", TimeText(claimed->lease.expires_at))));
      lines.push_back(JobLine(claimed->job));
      clock.Advance(absl::Milliseconds(1250));
      absl::StatusOr<Job> finished =
          engine.Finish(claimed->job.id, claimed->lease.token, {.output_url = output_url});
      lines.push_back(OpLine(absl::StrCat("finish ", tag), finished.status()));
      if (finished.ok()) lines.push_back(JobLine(*finished));
    };
    auto get = [&](const std::string& team, std::string tag) {
      absl::StatusOr<JobId> id = JobTagged(engine, team, tag);
      absl::StatusOr<Job> job = id.ok() ? engine.Get(team, *id) : absl::StatusOr<Job>(id.status());
      lines.push_back(OpLine(absl::StrCat("get ", tag), job.status()));
      if (job.ok()) lines.push_back(JobLine(*job));
    };

    // The two restored leases still hold, with their tokens and lengths; the
    // abort request is still there.
    heartbeat(night, "fx:r1", 60.0);
    heartbeat(studio, "fx:r-abort", std::nullopt);
    // The payload comes back; finishing q1 leaves dep-fail waiting for parent.
    clock.Advance(absl::Milliseconds(1250));
    claim_and_finish("fx:q1", "s3://followup/q1.exr");
    get(studio, "fx:dep-fail");
    // e-ignore ignores its failed prerequisite e: finishing x releases it.
    clock.Advance(absl::Milliseconds(1250));
    claim_and_finish("fx:x", "");
    get(studio, "fx:e-ignore");
    // Cancelling dep-fail cascades up the family it waits for (rule U):
    // parent, then c1, then g; c2 and q1 are finished.
    clock.Advance(absl::Milliseconds(1250));
    {
      absl::StatusOr<JobId> id = JobTagged(engine, studio, "fx:dep-fail");
      absl::StatusOr<std::vector<Job>> cancelled =
          id.ok() ? engine.Cancel(studio, *id) : absl::StatusOr<std::vector<Job>>(id.status());
      lines.push_back(OpLine("cancel fx:dep-fail", cancelled.status()));
      if (cancelled.ok()) {
        for (const Job& j : *cancelled) lines.push_back(JobLine(j));
      }
    }
    // Releasing the job whose abort was requested acknowledges the abort.
    clock.Advance(absl::Milliseconds(1250));
    {
      absl::StatusOr<JobId> id = JobTagged(engine, studio, "fx:r-abort");
      absl::StatusOr<Job> released =
          id.ok() ? engine.Release(*id, token_of(id)) : absl::StatusOr<Job>(id.status());
      lines.push_back(OpLine("release fx:r-abort", released.status()));
      if (released.ok()) lines.push_back(JobLine(*released));
    }
    // The dead letter is replayed with its stored request; the delivery that
    // was never attempted is built and sent; then, two hours on, the one
    // waiting for its retry is sent again with its stored request (and the
    // lease of r1, heartbeated above, has run out).
    clock.Advance(absl::Milliseconds(1250));
    {
      absl::StatusOr<std::vector<DeadLetter>> letters = engine.ListDeadLetters(studio);
      absl::Status replayed = letters.ok() ? absl::OkStatus() : letters.status();
      if (replayed.ok() && letters->size() != 1) {
        replayed = absl::FailedPreconditionError("not one dead letter");
      }
      if (replayed.ok()) replayed = engine.ReplayDeadLetter(studio, letters->front().delivery_id);
      lines.push_back(OpLine("replay dead letter", replayed));
    }
    lines.push_back(
        absl::StrCat("{\"op\":\"run due work\",\"changed\":", engine.RunDueWork(), "}"));
    clock.Advance(absl::Hours(2));
    lines.push_back(
        absl::StrCat("{\"op\":\"run due work\",\"changed\":", engine.RunDueWork(), "}"));
    for (std::string& line : CallLines(transport.calls())) lines.push_back(std::move(line));
    for (std::string& line : DumpState(engine, /*with_totals=*/true)) {
      lines.push_back(std::move(line));
    }
    if (state_before_close != nullptr) *state_before_close = DumpState(engine, false);
  }  // closed: every row the steps above wrote is in the file
  absl::StatusOr<std::unique_ptr<Engine>> reopened = Engine::Create(options);
  if (!reopened.ok()) {
    return {{"followup", lines}, {"followup_reopened", {OpenFailedLine(reopened.status())}}};
  }
  return {{"followup", lines}, {"followup_reopened", DumpState(**reopened, false)}};
}

// "later_opened" and "later": the fixture opened kLaterGap after it ended.
// The open itself handles the leases that ran out meanwhile (contract §7): r1 goes
// back to the queue, r-abort (abort requested, grace over) ends
// manually_cancelled. Then the due deliveries are sent and r1 is claimed
// again (its payload is still there).
inline Sections PhaseLater(const std::string& dir, const Inputs& inputs) {
  ManualClock clock(absl::FromUnixMillis(inputs.end_ms) + kLaterGap);
  testing::FakeTransport transport(&clock);
  absl::StatusOr<std::unique_ptr<Engine>> opened =
      Engine::Create(MakeOptions(&clock, &transport, dir));
  if (!opened.ok()) return {{"later_opened", {OpenFailedLine(opened.status())}}};
  Engine& engine = **opened;
  std::vector<std::string> at_open = DumpState(engine, true);
  std::vector<std::string> lines;
  lines.push_back(absl::StrCat("{\"op\":\"run due work\",\"changed\":", engine.RunDueWork(), "}"));
  for (std::string& line : CallLines(transport.calls())) lines.push_back(std::move(line));
  ClaimRequest request;
  request.worker = "later-worker";
  request.tags = {"fx:r1"};
  absl::StatusOr<ClaimedJob> claimed = engine.Claim(request);
  lines.push_back(
      OpLine("claim fx:r1", claimed.status(),
             claimed.ok() ? absl::StrCat(",\"payload\":", Quote(claimed->payload),
                                         ",\"leaseExpires\":", TimeText(claimed->lease.expires_at))
                          : ""));
  if (claimed.ok()) lines.push_back(JobLine(claimed->job));
  for (std::string& line : DumpState(engine, true)) lines.push_back(std::move(line));
  return {{"later_opened", std::move(at_open)}, {"later", std::move(lines)}};
}

}  // namespace cascade::journal_fixture

#endif  // CASCADE_TESTS_TOOLS_JOURNAL_FIXTURE_DUMP_H_
