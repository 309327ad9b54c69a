// Copyright 2026 The Cascade Authors.
//
// File: server/engine_host.h
// -----------------------------------------------------------------------------
// EngineHost: the engine cascade-server serves, with its Api and demo
// workers, and its turn as LEADER (contract §17).
//
// With a data directory, or in memory, Start makes the engine once and it
// serves until Stop. With a postgresql:// URL the server may share the
// database with others, and only the one whose engine holds the database's
// leader lease serves:
//
//   standby --(lease lapsed: Engine::Create takes it, restores the state)--> leader
//   leader  --(Engine::Leader() says the lease is lost)--> standby
//
// A standby tries to take over every `standby_poll`, answers 503 with
// Retry-After on every route but GET /api/v2/health (503, "standby") and
// GET /api/v2/metrics. A leader checks its lease at every request, so the
// moment it could no longer commit it answers 503 too; its thread then takes
// that engine down (after the requests under way have their answers) and
// goes back to standby, where it competes for the lease like any other
// standby, restoring from the database what the leaders before it committed.
//
// Example (server/main.cc):
//
//   EngineHost host(options);
//   CASCADE_RETURN_IF_ERROR(host.Start());
//   HttpServer::Start(http, [&](const Request& r) { return host.Handle(r); });
//
// Thread safety: Handle may be called from any number of threads at once,
// also while the host changes roles.

#ifndef CASCADE_SERVER_ENGINE_HOST_H_
#define CASCADE_SERVER_ENGINE_HOST_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "cascade/cascade.h"
#include "server/api.h"
#include "server/demo_workers.h"
#include "server/http_types.h"

namespace cascade::server {

struct EngineHostOptions {
  // The engine's options; durability.data_dir decides whether the host
  // competes for a leader lease (a postgresql:// URL) or simply serves.
  Options engine;
  ApiOptions api;
  // Simulated workers on the engine while it serves (0: none).
  int demo_workers = 0;
  // How often a standby tries to take over. Default: 1 s.
  absl::Duration standby_poll = absl::Seconds(1);
};

class EngineHost {
 public:
  explicit EngineHost(EngineHostOptions options);
  // Stop().
  ~EngineHost();
  EngineHost(const EngineHost&) = delete;
  EngineHost& operator=(const EngineHost&) = delete;

  // Without a postgresql:// URL: makes the engine, or returns why it could
  // not. With one: tries to lead once, then starts the thread that keeps
  // trying (and watches the lease); returns OK whether this server leads or
  // waits as a standby, and the error of an attempt that no wait can fix
  // (refused credentials, a database that is not Cascade's or is newer).
  absl::Status Start();

  // Answers one request: the Api's answer while this server serves, the
  // standby's otherwise.
  Response Handle(const Request& request);

  // Stops trying to lead and takes the engine down: its store is closed,
  // and a leader gives its lease up so that a standby takes over at once.
  // The HTTP server must be stopped first (no Handle under way).
  void Stop();

  bool high_availability() const { return high_availability_; }
  // "leader" or "standby" with a postgresql:// URL; "single" otherwise.
  std::string role() const;

 private:
  // What serves while this server leads; destroyed in reverse order.
  struct Serving {
    std::unique_ptr<Engine> engine;
    std::unique_ptr<Api> api;
    std::unique_ptr<DemoWorkers> demo;
    ~Serving();
  };

  // One attempt to make the engine (to lead); on success it serves.
  absl::Status TryLead();
  // Stops serving `serving` and takes it down once no request uses it.
  void StepDown(std::shared_ptr<Serving> serving, const std::string& why);
  // The thread of a high-availability host: standby polls, leader watches.
  void Run();
  // A standby's answer; `just_lost` when this server led until a moment
  // ago and its thread has not stepped down yet.
  Response NotLeading(const Request& request, bool just_lost) const;
  // The lines about the lease that GET /api/v2/metrics carries here.
  std::string LeaderMetrics(const std::shared_ptr<Serving>& serving) const;
  // Remembers why an attempt to lead failed (health shows it) and logs it.
  void LogStandby(const absl::Status& attempt);
  // Logs `line` to stderr, unless it is the last line logged.
  void Log(const std::string& line);

  const EngineHostOptions options_;
  const bool high_availability_;
  // With a URL: what serves now (null while this server does not serve),
  // read by every request, replaced by the thread. A mutex rather than
  // std::atomic<std::shared_ptr>: libstdc++ 12 implements that with a lock
  // bit ThreadSanitizer cannot see.
  std::shared_ptr<Serving> Current() const;
  // Makes `next` what serves and returns what served before.
  std::shared_ptr<Serving> Publish(std::shared_ptr<Serving> next);
  mutable internal::Mutex serving_mu_;  // a leaf
  std::shared_ptr<Serving> serving_ ABSL_GUARDED_BY(serving_mu_);
  // Without a URL: what serves, set by Start before any request and kept
  // until Stop, so requests read it without a lock.
  std::shared_ptr<Serving> single_;
  std::atomic<uint64_t> last_epoch_{0};
  std::atomic<uint64_t> takeovers_{0};

  mutable internal::Mutex mu_;
  internal::CondVar cv_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::string standby_reason_ ABSL_GUARDED_BY(mu_);  // why the last attempt did not lead
  std::string last_log_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace cascade::server

#endif  // CASCADE_SERVER_ENGINE_HOST_H_
