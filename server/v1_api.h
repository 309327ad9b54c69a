// Copyright 2026 The Cascade Authors.
//
// File: server/v1_api.h
// -----------------------------------------------------------------------------
// V1Api: cascade-server's nexrender v1 bridge (contract §15). It serves the
// routes of the open-source nexrender-server under /api/v1, so that
// unmodified nexrender workers (@nexrender/worker) and clients
// (@nexrender/api) work against Cascade's engine:
//
//   POST   /jobs                  create (a v1 job JSON)      client
//   GET    /jobs                  the team's v1 jobs          client
//   GET    /jobs/status           their rendering statuses    client
//   GET    /jobs/{uid}            one job                     client
//   GET    /jobs/{uid}/status     its rendering status        client
//   DELETE /jobs/{uid}            cancel or abort it          client
//   GET    /jobs/pickup[/{tags}]  claim the next job          worker
//   PUT    /jobs/{uid}            a worker's state report     worker
//   GET    /health                "ok", no secret
//
// A request carries `nexrender-secret: SECRET`; each configured secret acts
// for one team, as client and as worker (pickups, like every claim, serve
// the whole farm). A missing or wrong secret is 403 with nexrender-server's
// text. With no secret configured the bridge is off and every /api/v1 path
// is 404. docs/workers.md ("nexrender v1 bridge") is the reference of what
// each route takes and answers, and of the bridge's limits.
//
// The bridge remembers in memory which lease each of its pickups got (v1
// workers send none): uid -> {lease token, worker, reported v1 state}. The
// engine does not hand a job's lease token out again, by design (the token
// is what fences a worker), so the bridge keeps its own; after a restart a
// v1 worker's report on a job it picked before is 409, and the job comes
// back when its lease runs out.
//
// Example (Api makes and calls it; see api.h):
//
//   V1Options options;
//   options.secrets = {{"s3cr3t", "default"}};
//   V1Api v1(engine.get(), options, /*admit=*/nullptr);
//   Response r = v1.Handle(request, "GET", "/jobs/pickup/gpu", route_name);
//
// Thread safety: every method may be called from any thread at any time.

#ifndef CASCADE_SERVER_V1_API_H_
#define CASCADE_SERVER_V1_API_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "cascade/cascade.h"
#include "server/http_types.h"

namespace cascade::server {

struct V1Options {
  // nexrender secrets and the team each one acts for. Empty: the bridge is
  // off. Default: empty.
  std::vector<std::pair<std::string, std::string>> secrets;
  // The lease a pickup gets, renewed by each of the worker's reports: long,
  // because a v1 worker says nothing between its reports. Default: 4 h.
  absl::Duration lease = absl::Hours(4);
  // Where the bridge reads time (to forget the leases that ran out). Not
  // owned. Default: Clock::Real().
  Clock* clock = Clock::Real();
};

class V1Api {
 public:
  // The rate limit: given a secret, a response to send instead of serving the
  // request (429), or nothing. May be empty (no limit).
  using Admit = std::function<std::optional<Response>(const std::string& secret)>;

  // `engine` is not owned and must outlive the V1Api.
  V1Api(Engine* engine, V1Options options, Admit admit);
  V1Api(const V1Api&) = delete;
  V1Api& operator=(const V1Api&) = delete;

  // Whether a secret is configured (the bridge is on).
  bool enabled() const { return !options_.secrets.empty(); }

  // Answers a request under /api/v1. `method` is the request's (HEAD read as
  // GET), `path` the part after "/api/v1" without the query ("/jobs/pickup").
  // `route_name` gets the route's name for the metrics when one matched.
  // Never throws; 5xx only when the engine's store failed.
  Response Handle(const Request& request, std::string_view method, std::string_view path,
                  std::string& route_name);

  // For a v2 creation: while the bridge is on, puts the v1 tag
  // (wire::kV1Tag) on `spec` and on each nested child whose payload's
  // template has a `src`, so that v1 workers may take them. Nothing when off.
  void MarkRunnable(JobSpec& spec) const;

 private:
  // What the bridge remembers of a job one of its pickups handed out.
  struct Held {
    std::string lease;     // the lease token
    std::string executor;  // the worker: its nexrender-name, or its address
    std::string state;     // the last v1 state it reported ("picked" at first)
    absl::Time expires_at;
  };

  std::optional<Held> FindHeld(JobId id) const;
  // Forgets `id` if it is still held under `lease`.
  void Forget(JobId id, std::string_view lease);

  Response CreateJob(const Request& request, const std::string& team);
  Response ListJobs(const std::string& team, bool status_only);
  Response GetJob(std::string_view uid, const std::string& team, bool status_only);
  Response RemoveJob(std::string_view uid, const std::string& team);
  Response Pickup(const Request& request, std::string_view tags);
  Response Update(const Request& request, std::string_view uid, const std::string& team);

  // The v1 state and executor ("" for none) the bridge shows for `job`.
  std::pair<std::string, std::string> LiveState(const Job& job) const;
  // The job's v1 JSON as the bridge shows it now (or its rendering status).
  Response JobAnswer(const Job& job, bool status_only) const;

  Engine* const engine_;
  const V1Options options_;
  const Admit admit_;

  mutable internal::Mutex mu_;  // a leaf
  absl::flat_hash_map<JobId, Held> held_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cascade::server

#endif  // CASCADE_SERVER_V1_API_H_
