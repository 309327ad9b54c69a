// Copyright 2026 The Cascade Authors.
//
// Agent: the slots' claim / run / report loop (worker/agent.h has the
// picture and the rules).

#include "worker/agent.h"

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <memory>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "wire/strings.h"
#include "worker/placeholders.h"
#include "worker/process.h"
#include "worker/progress.h"

namespace cascade::worker {
namespace {

namespace json = boost::json;
using wire::Sv;

// One POST /logs carries at most this much.
constexpr size_t kLogBatchLines = 1000;
constexpr size_t kLogBatchBytes = size_t{256} << 10;
// The fail message keeps the end of this much.
constexpr size_t kMaxFailMessage = 8192;

std::string_view View(const json::string& s) { return {s.data(), s.size()}; }

const json::value* Field(const json::value& v, std::string_view key) {
  const json::object* o = v.if_object();
  return o == nullptr ? nullptr : o->if_contains(key);
}

std::string FailMessage(const ExitStatus& status, const std::vector<std::string>& tail) {
  std::string message = status.ToString();
  if (!tail.empty())
    absl::StrAppend(&message, "; last lines of stderr:\n", absl::StrJoin(tail, "\n"));
  if (message.size() > kMaxFailMessage) {
    message = absl::StrCat("...", message.substr(message.size() - kMaxFailMessage));
  }
  return message;
}

}  // namespace

// A running job's output: the command's reader thread adds lines and
// progress, the slot takes them to the server.
struct Agent::Job {
  Job(const CommandConfig* command, std::optional<double> total) : command(command), total(total) {}

  void Add(std::string_view line) {
    std::optional<double> p;
    if (command->progress.has_value()) p = command->progress->Read(line, total);
    std::string text;
    text.reserve(line.size());
    for (char c : line) {
      if (c == '\0') {
        text += "\xEF\xBF\xBD";  // the server refuses NUL in a log line
      } else {
        text += c;
      }
    }
    internal::MutexLock lock(&mu);
    if (p.has_value()) progress = p;
    bytes += text.size();
    lines.push_back(std::move(text));
    Trim();
  }

  // At most one batch (or everything, in batches, through repeated calls).
  std::vector<std::string> Take() {
    internal::MutexLock lock(&mu);
    std::vector<std::string> out;
    size_t size = 0;
    if (dropped > 0) {
      out.push_back(absl::StrCat("[cascade-worker: ", dropped,
                                 " earlier lines were dropped: the server took them too slowly]"));
      dropped = 0;
    }
    while (!lines.empty() && out.size() < kLogBatchLines &&
           (out.empty() || size + lines.front().size() <= kLogBatchBytes)) {
      size += lines.front().size();
      bytes -= lines.front().size();
      out.push_back(std::move(lines.front()));
      lines.pop_front();
    }
    return out;
  }

  // A batch the server did not take goes back in front.
  void PutBack(std::vector<std::string> batch) {
    internal::MutexLock lock(&mu);
    for (auto it = batch.rbegin(); it != batch.rend(); ++it) {
      bytes += it->size();
      lines.push_front(std::move(*it));
    }
    Trim();
  }

  bool HasLines() {
    internal::MutexLock lock(&mu);
    return !lines.empty() || dropped > 0;
  }

  std::optional<double> Progress() {
    internal::MutexLock lock(&mu);
    return progress;
  }

  const CommandConfig* const command;
  const std::optional<double> total;

 private:
  void Trim() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    while (bytes > kMaxPendingLogBytes && lines.size() > 1) {
      bytes -= lines.front().size();
      lines.pop_front();
      ++dropped;
    }
  }

  internal::Mutex mu;
  std::deque<std::string> lines ABSL_GUARDED_BY(mu);
  size_t bytes ABSL_GUARDED_BY(mu) = 0;
  size_t dropped ABSL_GUARDED_BY(mu) = 0;
  std::optional<double> progress ABSL_GUARDED_BY(mu);
};

Agent::Agent(AgentOptions options) : options_(std::move(options)), server_(options_.server) {}

Agent::~Agent() = default;

void Agent::Say(std::string_view line) {
  if (options_.log) {
    options_.log(line);
    return;
  }
  const std::string text =
      absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()),
                   " cascade-worker ", options_.name, ": ", Sv(line), "\n");
  std::fwrite(text.data(), 1, text.size(), stderr);
}

bool Agent::stopping() const {
  internal::MutexLock lock(&mu_);
  return stopping_;
}

void Agent::Stop() {
  {
    internal::MutexLock lock(&mu_);
    stopping_ = true;
  }
  cv_.SignalAll();
}

void Agent::WakeAll() {
  { internal::MutexLock lock(&mu_); }  // a waiter between its check and its wait sees this
  cv_.SignalAll();
}

bool Agent::WaitUntil(absl::Time deadline) {
  internal::MutexLock lock(&mu_);
  const auto until = absl::ToChronoTime(deadline);
  while (!stopping_ && absl::Now() < deadline) cv_.WaitUntil(&mu_, until);
  return stopping_;
}

absl::Status Agent::Run() {
  std::vector<std::thread> slots;
  slots.reserve(options_.slots);
  for (int i = 0; i < std::max(1, options_.slots); ++i) {
    slots.emplace_back([this, i] { SlotLoop(i); });
  }
  for (std::thread& t : slots) t.join();
  internal::MutexLock lock(&mu_);
  return fatal_;
}

void Agent::SlotLoop(int slot) {
  absl::Duration backoff = options_.backoff_min;
  bool unreachable = false;
  while (!stopping()) {
    const absl::Time sent = absl::Now();
    CallResult r = server_.Claim(options_.name, options_.tags, options_.lease);
    if (r.outcome == Outcome::kOk) {
      if (unreachable) Say(absl::StrCat("slot ", slot, ": the server answers again"));
      unreachable = false;
      backoff = options_.backoff_min;
      RunJob(slot, r, sent);
      continue;
    }
    if (r.outcome == Outcome::kNothing) {
      if (unreachable) Say(absl::StrCat("slot ", slot, ": the server answers again"));
      unreachable = false;
      backoff = options_.backoff_min;
      WaitUntil(absl::Now() + options_.idle_poll);
      continue;
    }
    // 401/403: the token; 400: the claim body; no status: a request the
    // client will not send (a bad URL or token). No retry can fix these.
    if (r.http_status == 401 || r.http_status == 403 || r.http_status == 400 ||
        (r.outcome == Outcome::kRefused && r.http_status == 0)) {
      Say(absl::StrCat("slot ", slot, ": the server refused the claim (", r.error, "); stopping"));
      {
        internal::MutexLock lock(&mu_);
        if (fatal_.ok()) {
          fatal_ = r.http_status == 400 || r.http_status == 0
                       ? absl::InvalidArgumentError(
                             absl::StrCat("the server refused the claim: ", r.error))
                       : absl::PermissionDeniedError(
                             absl::StrCat("the server refused the worker token: ", r.error));
        }
        stopping_ = true;
      }
      cv_.SignalAll();
      return;
    }
    // No answer, 5xx, 429, or an unexpected answer (a proxy, a wrong URL):
    // try again, less and less often.
    if (!unreachable || backoff == options_.backoff_max) {
      Say(absl::StrCat("slot ", slot, ": claim failed (", r.error, "); retrying in ",
                       absl::FormatDuration(backoff)));
    }
    unreachable = true;
    WaitUntil(absl::Now() + backoff);
    backoff = std::min(backoff * 2, options_.backoff_max);
  }
}

absl::Duration Agent::LeaseLength(const CallResult& claim, absl::Time claimed_at) const {
  if (options_.lease.has_value()) return *options_.lease;
  absl::Duration length = absl::Seconds(60);
  const json::value* lease = Field(claim.body, "lease");
  const json::value* expires = lease == nullptr ? nullptr : Field(*lease, "expiresAt");
  absl::Time at;
  std::string error;
  if (expires != nullptr && expires->is_string() &&
      absl::ParseTime(absl::RFC3339_full, std::string(View(expires->get_string())), &at, &error)) {
    if (claim.date != absl::InfinitePast()) {
      // Date is the server's time in whole seconds (rounded down), so the
      // difference is the lease plus less than a second.
      length = absl::Floor(at - claim.date, absl::Seconds(1));
    } else {
      length = at - claimed_at;
    }
  }
  return std::max(length, absl::Seconds(1));
}

bool Agent::FinalCall(std::string_view what, std::string_view job_id, absl::Time deadline,
                      const std::function<CallResult()>& call) {
  absl::Duration backoff = options_.backoff_min;
  while (true) {
    CallResult r = call();
    switch (r.outcome) {
      case Outcome::kOk:
        return true;
      case Outcome::kStale:
        Say(absl::StrCat("job ", Sv(job_id), ": ", Sv(what), " refused, the lease is gone (",
                         r.error, "); dropping the job"));
        return false;
      case Outcome::kRefused:
        Say(absl::StrCat("job ", Sv(job_id), ": ", Sv(what), " refused (", r.error, ")"));
        return false;
      default:
        break;
    }
    if (absl::Now() + backoff >= deadline) {
      Say(absl::StrCat("job ", Sv(job_id), ": ", Sv(what), " failed (", r.error,
                       ") and the lease runs out; dropping the job"));
      return false;
    }
    Say(absl::StrCat("job ", Sv(job_id), ": ", Sv(what), " failed (", r.error, "); retrying in ",
                     absl::FormatDuration(backoff)));
    // Not cut short by Stop(): a stopping worker still owes this call.
    internal::MutexLock lock(&mu_);
    const absl::Time until = absl::Now() + backoff;
    while (absl::Now() < until) cv_.WaitUntil(&mu_, absl::ToChronoTime(until));
    backoff = std::min(backoff * 2, options_.backoff_max);
  }
}

Outcome Agent::SendLog(Job& job, std::string_view job_id, std::string_view lease, bool all) {
  do {
    std::vector<std::string> batch = job.Take();
    if (batch.empty()) return Outcome::kOk;
    CallResult r = server_.AppendLog(job_id, lease, batch);
    if (r.outcome == Outcome::kOk) continue;
    if (r.http_status == 409) return Outcome::kStale;
    if (r.http_status == 404 || r.outcome == Outcome::kRefused) {
      // 404: a server without the logs route (or the job is gone, which the
      // heartbeat will say); 4xx: a batch it will never take.
      Say(absl::StrCat("job ", Sv(job_id), ": the server does not take its log (", r.error,
                       "); output is no longer sent"));
      return Outcome::kRefused;
    }
    job.PutBack(std::move(batch));
    return Outcome::kUnavailable;
  } while (all);
  return Outcome::kOk;
}

void Agent::RunJob(int slot, const CallResult& claim, absl::Time claimed_at) {
  const json::value* lease_value = Field(claim.body, "lease");
  const json::value* token_value = lease_value == nullptr ? nullptr : Field(*lease_value, "token");
  absl::StatusOr<JobFacts> read = ReadJobFacts(claim.body.get_object());
  if (!read.ok() || token_value == nullptr || !token_value->is_string()) {
    // Without the job's id and lease nothing can be said to the server; the
    // lease runs out and the job goes back to the queue.
    Say(absl::StrCat("slot ", slot, ": a claim answer without a job id or a lease token (",
                     read.ok() ? "no lease" : read.status().message(), "); ignored"));
    return;
  }
  const JobFacts facts = *std::move(read);
  const std::string id = facts.id;
  const std::string token(View(token_value->get_string()));
  const absl::Duration lease_length = LeaseLength(claim, claimed_at);
  absl::Time lease_deadline = claimed_at + lease_length;
  auto say = [&](std::string_view line) {
    Say(absl::StrCat("slot ", slot, ": job ", id, ": ", Sv(line)));
  };
  // The deadline of a finish, fail or release: the lease, and after Stop()
  // stop_timeout at most.
  auto final_deadline = [&] {
    return stopping() ? std::min(lease_deadline, absl::Now() + options_.stop_timeout)
                      : lease_deadline;
  };
  auto fail = [&](const std::string& error, bool retry) {
    say(absl::StrCat("failing (retry: ", retry ? "true" : "false", "): ", error));
    FinalCall("fail", id, final_deadline(), [&] { return server_.Fail(id, token, error, retry); });
  };
  say(absl::StrCat("claimed (lease ", absl::FormatDuration(lease_length), ")"));

  const CommandConfig* command = options_.config.Find(facts.template_id);
  if (command == nullptr) {
    fail(absl::StrCat("cascade-worker \"", options_.name, "\" has no command for template ",
                      facts.template_id.value_or("(none)"),
                      " (its config has neither that id nor \"*\")"),
         /*retry=*/true);
    return;
  }
  CommandLine command_line;
  absl::StatusOr<std::vector<std::string>> argv = FillArgv(command->argv, facts);
  if (!argv.ok()) return fail(std::string(argv.status().message()), /*retry=*/false);
  command_line.argv = *std::move(argv);
  for (const auto& [name, value] : command->env) {
    absl::StatusOr<std::string> text = FillText(value, facts);
    if (!text.ok()) {
      return fail(absl::StrCat("cannot fill env ", name, ": ", text.status().message()), false);
    }
    command_line.env.emplace_back(name, *std::move(text));
  }
  std::optional<double> total = command->progress_total;
  if (command->progress_total_template.has_value()) {
    absl::StatusOr<std::string> text = FillText(*command->progress_total_template, facts);
    if (!text.ok()) {
      return fail(absl::StrCat("cannot fill progressTotal: ", text.status().message()), false);
    }
    total = ReadProgressValue(*text);
    if (!total.has_value() || *total <= 0) {
      return fail(absl::StrCat("progressTotal \"", command->progress_total_template->source,
                               "\" is \"", *text, "\", not a number above 0"),
                  false);
    }
  }
  // The output's directory is made, so that a render can write its file.
  std::string output_path;
  for (const Template& t : command->argv) {
    if (Uses(t, Segment::Kind::kOutput)) output_path = FileUrlToPath(facts.output_url).value();
  }
  if (!output_path.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(output_path).parent_path(), ec);
    if (ec) {
      return fail(
          absl::StrCat("cannot make the output's directory for ", output_path, ": ", ec.message()),
          true);
    }
  }
  if (stopping()) {  // the claim answered after Stop()
    FinalCall("release", id, final_deadline(), [&] { return server_.Release(id, token); });
    say("released (stopping)");
    return;
  }

  auto job = std::make_shared<Job>(command, total);
  ChildProcess::Options process_options;
  process_options.on_line = [job](Stream, std::string_view line) { job->Add(line); };
  process_options.on_exit = [this] { WakeAll(); };
  absl::StatusOr<std::unique_ptr<ChildProcess>> started =
      ChildProcess::Start(command_line, process_options);
  if (!started.ok()) return fail(std::string(started.status().message()), /*retry=*/true);
  ChildProcess& process = **started;
  say(absl::StrCat("running ", command_line.argv[0], " (pid ", process.pid(), ")"));

  enum class Ending { kNone, kAbort, kStop, kStale, kLeaseLost };
  Ending ending = Ending::kNone;
  absl::Time kill_at = absl::InfiniteFuture();
  bool killed = false;
  auto terminate = [&](Ending why) {
    if (ending == Ending::kNone) {
      process.Signal(SIGTERM);
      process.Signal(SIGCONT);
      kill_at = absl::Now() + options_.config.grace;
    }
    ending = why;
  };
  auto holds = [&] { return ending != Ending::kStale && ending != Ending::kLeaseLost; };
  absl::Time next_heartbeat = claimed_at + lease_length / 3;
  absl::Time next_log = absl::Now() + options_.log_interval;
  absl::Duration backoff = options_.backoff_min;
  bool logs_on = true;

  while (!process.done()) {
    if (ending == Ending::kNone && stopping()) {
      say("stopping: SIGTERM to the command");
      terminate(Ending::kStop);
    }
    if (ending != Ending::kNone && !killed && absl::Now() >= kill_at) {
      say("the grace is over: SIGKILL to the command");
      process.Signal(SIGKILL);
      killed = true;
    }
    if (holds() && absl::Now() >= next_heartbeat) {
      const absl::Time sent = absl::Now();
      CallResult r = server_.Heartbeat(id, token, job->Progress());
      if (r.outcome == Outcome::kOk) {
        lease_deadline = sent + lease_length;
        next_heartbeat = sent + lease_length / 3;
        backoff = options_.backoff_min;
        const json::value* cancel = Field(r.body, "cancelRequested");
        if (cancel != nullptr && cancel->is_bool() && cancel->get_bool() &&
            ending == Ending::kNone) {
          say("the server asks to stop (abort or time limit): SIGTERM to the command");
          terminate(Ending::kAbort);
        }
      } else if (r.outcome == Outcome::kStale) {
        say(absl::StrCat("the lease is gone (", r.error,
                         "): stopping the command, dropping the job"));
        terminate(Ending::kStale);
      } else {
        say(absl::StrCat("heartbeat failed (", r.error, "); retrying in ",
                         absl::FormatDuration(backoff)));
        next_heartbeat = absl::Now() + backoff;
        backoff = std::min(backoff * 2, options_.backoff_max);
      }
    }
    if (holds() && absl::Now() >= lease_deadline) {
      say("no heartbeat was answered within the lease: stopping the command, dropping the job");
      terminate(Ending::kLeaseLost);
    }
    if (holds() && logs_on && absl::Now() >= next_log) {
      const Outcome sent = SendLog(*job, id, token, /*all=*/false);
      if (sent == Outcome::kStale) {
        say("the lease is gone (409 on its log): stopping the command, dropping the job");
        terminate(Ending::kStale);
      }
      logs_on = sent != Outcome::kRefused;
      next_log = absl::Now() + options_.log_interval;
    }
    // Sleep until the next thing to do, the command's end, or Stop().
    absl::Time wake = killed ? absl::InfiniteFuture() : kill_at;
    if (holds()) wake = std::min({wake, next_heartbeat, lease_deadline});
    if (holds() && logs_on) wake = std::min(wake, next_log);
    const bool wake_on_stop = ending == Ending::kNone;
    internal::MutexLock lock(&mu_);
    while (absl::Now() < wake && !process.done() && !(wake_on_stop && stopping_)) {
      cv_.WaitUntil(&mu_, absl::ToChronoTime(wake));
    }
  }
  const ExitStatus status = process.Wait();

  switch (ending) {
    case Ending::kStale:
    case Ending::kLeaseLost:
      say(absl::StrCat("dropped; the command ended: ", status.ToString()));
      return;
    case Ending::kAbort:
    case Ending::kStop:
      if (logs_on) SendLog(*job, id, token, /*all=*/true);
      if (FinalCall("release", id, final_deadline(), [&] { return server_.Release(id, token); })) {
        say(absl::StrCat("released; the command ended: ", status.ToString()));
      }
      return;
    case Ending::kNone:
      break;
  }
  if (logs_on && SendLog(*job, id, token, /*all=*/true) == Outcome::kStale) {
    say("the lease is gone (409 on its log); dropping the job");
    return;
  }
  if (!status.success()) {
    const bool final_code = command->final_exit_codes.contains(status.exit_code);
    fail(FailMessage(status, process.StderrTail()), /*retry=*/!final_code);
    return;
  }
  if (!output_path.empty() && !std::filesystem::exists(output_path)) {
    fail(absl::StrCat("the command exited with status 0 but did not write ", output_path), true);
    return;
  }
  if (FinalCall("finish", id, final_deadline(),
                [&] { return server_.Finish(id, token, facts.output_url); })) {
    say(absl::StrCat("finished: ", facts.output_url));
  }
}

}  // namespace cascade::worker
