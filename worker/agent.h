// Copyright 2026 The Cascade Authors.
//
// Agent: cascade-worker's render loop (contract §15). K slots each claim a
// job from cascade-server, run the command the config maps its template to
// (worker/config.h, worker/placeholders.h, worker/process.h), and report:
//
//   claim ──► fill argv ──► run ──┬─► exit 0 ─────────► finish {outputUrl}
//     ▲  (204: wait 1 s;           ├─► exit != 0 ──────► fail {error, retry}
//     │   no answer: backoff       ├─► cancelRequested ─► SIGTERM … SIGKILL ─► release
//     │   0.5 s doubling to 10 s)  ├─► 409 / 404 ───────► SIGTERM … SIGKILL, nothing sent
//     │                            └─► own Stop() ──────► SIGTERM … SIGKILL ─► release
//     └──────────────────────────── next job
//
// While the command runs, the slot heartbeats every lease/3 with the last
// progress its config's regex read, and sends the command's output lines to
// POST /jobs/{id}/logs about once a second (at most kMaxPendingLogBytes wait;
// past that the oldest are dropped and a line says how many). When the server
// does not answer, the command goes on and the slot keeps trying its
// heartbeats (and its finish, fail or release) until the lease it last
// obtained would have run out; then it kills the command and drops the job,
// which the server will have given back to the queue. A 409 or 404 (the
// lease is no longer this worker's: expired, aborted past its grace, given
// to another worker, the job purged) is never retried: the command is
// killed and the job dropped. docs/workers.md, "cascade-worker", is the
// user's view.
//
// Why one thread per slot: every server call is a blocking HttpClient::Send,
// and each slot's job goes through its own sequence of them; a thread per
// slot keeps that sequence straight-line code, and a slow or unreachable
// server delays only that slot's calls. The command's output is read by the
// ChildProcess's own thread, so it never waits for the server either. K is
// a handful (renders are heavy), so 2K threads cost nothing that matters.
//
// Example:
//
//   AgentOptions options;
//   options.server = {.url = "http://127.0.0.1:8080", .token = "w-token"};
//   options.name = "node-1";
//   options.config = LoadWorkerConfig("farm.json").value();
//   Agent agent(std::move(options));
//   std::thread stopper([&] { WaitForSigterm(); agent.Stop(); });
//   absl::Status status = agent.Run();  // returns after Stop()
//
// Thread-safe: Stop() may be called from any thread, any number of times.

#ifndef CASCADE_WORKER_AGENT_H_
#define CASCADE_WORKER_AGENT_H_

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "worker/config.h"
#include "worker/server_client.h"

namespace cascade::worker {

// Output lines waiting to be sent, per job, at most this many bytes.
inline constexpr size_t kMaxPendingLogBytes = size_t{1} << 20;

struct AgentOptions {
  ServerClientOptions server;
  // The worker's name in claims (the server's worker list shows it).
  std::string name;
  // Only jobs carrying all of these tags are claimed.
  std::vector<std::string> tags;
  // Jobs rendered at once. REQUIRES: >= 1.
  int slots = 1;
  // The lease asked for in claims; nullopt: the server's default, read from
  // the claim answer (expiresAt minus the answer's Date).
  std::optional<absl::Duration> lease;
  WorkerConfig config;

  // How long a slot waits after a claim found nothing queued.
  absl::Duration idle_poll = absl::Seconds(1);
  // The wait after a call the server did not answer: from backoff_min,
  // doubling per failure, at most backoff_max.
  absl::Duration backoff_min = absl::Milliseconds(500);
  absl::Duration backoff_max = absl::Seconds(10);
  // How often output lines are sent to the job's log.
  absl::Duration log_interval = absl::Seconds(1);
  // After Stop(), how long the releases of the jobs held may keep trying an
  // unreachable server (never past their leases).
  absl::Duration stop_timeout = absl::Seconds(10);

  // Where the agent says what it does, one line at a time (default: stderr,
  // prefixed with the time and the worker's name).
  std::function<void(std::string_view)> log;
};

class Agent {
 public:
  explicit Agent(AgentOptions options);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Runs the slots until Stop(), then terminates the commands running and
  // releases their jobs, and returns OK. Returns early with
  // PermissionDenied when the server refuses the worker's token (401 or 403
  // on a claim), or InvalidArgument when it refuses the claim's body (400),
  // after releasing what the other slots hold: no retry can fix either.
  absl::Status Run();

  // Stops claiming and makes Run() return as described. Does not wait.
  void Stop();

 private:
  struct Job;  // a running job's output and progress (agent.cc)

  // One slot: claim, run, report, until stopping.
  void SlotLoop(int slot);
  // The claim answer's job, from filling its command to its last call.
  void RunJob(int slot, const CallResult& claim, absl::Time claimed_at);
  // The lease length of a claim answer (see AgentOptions::lease).
  absl::Duration LeaseLength(const CallResult& claim, absl::Time claimed_at) const;
  // A finish, fail or release, tried again while the server does not
  // answer, until `deadline`. True if the server took it.
  bool FinalCall(std::string_view what, std::string_view job_id, absl::Time deadline,
                 const std::function<CallResult()>& call);
  // Sends what the job's command printed (all of it if `all`, else one
  // batch). kStale if the lease is gone.
  Outcome SendLog(Job& job, std::string_view job_id, std::string_view lease, bool all);

  // Waits until `deadline` or Stop(); true if stopping.
  bool WaitUntil(absl::Time deadline);
  bool stopping() const;
  void Say(std::string_view line);
  // Wakes every slot (a command ended, or Stop()).
  void WakeAll();

  const AgentOptions options_;
  ServerClient server_;

  mutable internal::Mutex mu_;
  internal::CondVar cv_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status fatal_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cascade::worker

#endif  // CASCADE_WORKER_AGENT_H_
