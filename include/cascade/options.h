// Copyright 2026 The Cascade Authors.
//
// File: cascade/options.h
// -----------------------------------------------------------------------------
// How an engine is configured. Every field has a default that suits a server;
// tests usually set `clock` and `id_seed` for determinism.
//
// Example:
//
//   cascade::ManualClock clock;
//   cascade::Options options;
//   options.clock = &clock;
//   options.id_seed = 7;
//   options.output_url_template = "s3://renders/{team}/{id}.mp4";
//   auto engine = cascade::Engine::Create(options);

#ifndef CASCADE_OPTIONS_H_
#define CASCADE_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "cascade/clock.h"
#include "cascade/list_query.h"
#include "cascade/webhook.h"

namespace cascade {

// Where and how the engine keeps its state on disk (contract §10). What each
// setting guarantees, and how to back up a data directory:
// docs/durability.md.
struct DurabilityOptions {
  // The data directory, or a PostgreSQL URL. Empty (the default): the
  // engine keeps its state in memory only, and loses it when it is
  // destroyed. Otherwise every change is in the directory's SQLite database
  // (or in the database the URL names) before the call that made it returns,
  // and Engine::Create restores the state found there. One engine per
  // directory at a time.
  //
  // A URL (postgresql://user:password@host:port/database, or postgres://;
  // libpq's parameters after `?`) lets several engines, in several
  // processes or machines, share one database: one at a time LEADS, holding
  // a lease that it renews (contract §17, docs/high-availability.md).
  // Engine::Create takes the lease or fails with Unavailable while another
  // engine holds it (call it again later: a standby). An engine that loses
  // the lease (Engine::Leader() says so) fails every change with
  // Unavailable and must be destroyed; a new one restores the state.
  std::string data_dir;

  // When an acknowledged change is on the disk. All three survive the
  // process being killed; they differ on an OS crash or power loss.
  enum class Sync : uint8_t {
    // Synced before the call returns: survives a power loss. (Default.)
    kFull,
    // Synced at checkpoints: a power loss may roll back the last changes,
    // whole operations at a time, never half of one.
    kNormal,
    // Never synced: an OS crash may lose any number of changes or damage
    // the file. For tests and throwaway data.
    kOff,
  };
  Sync sync = Sync::kFull;

  // Terminal job families (a job, its nested children and the jobs its
  // dependencies connect it to, and the batch they were submitted in) whose
  // every job ended more than `retention` ago are purged from memory and
  // disk, a whole family at a time. Default: infinite (never purge).
  // REQUIRES: > 0.
  absl::Duration retention = absl::InfiniteDuration();

  // With a PostgreSQL URL: how long one renewal of the leader lease holds it
  // (on PostgreSQL's clock), how often the leader renews it, and the name
  // this engine's lease shows (default: "<host name> pid <pid>"). A standby
  // can take over once the lease has lapsed. REQUIRES: 0 < leader_renew <
  // leader_lease. Defaults: 10 s, 2 s.
  absl::Duration leader_lease = absl::Seconds(10);
  absl::Duration leader_renew = absl::Seconds(2);
  std::string node_name;
};

// True if `data_dir` (DurabilityOptions::data_dir) is a PostgreSQL URL
// (postgresql:// or postgres://) rather than a directory.
bool IsPostgresUrl(std::string_view data_dir);

// `data_dir` as it may be shown in logs and messages: a URL's password (in
// user:password@ or in ?password=) replaced by "****"; a directory as it is.
std::string RedactPostgresUrl(std::string_view data_dir);

// The leader lease of an engine on PostgreSQL (DurabilityOptions::data_dir,
// contract §17).
struct LeaderStatus {
  // One more at each takeover.
  uint64_t epoch = 0;
  // False once the lease is lost: the engine changes nothing more.
  bool leader = false;
  // Since the start of the last renewal the database accepted.
  absl::Duration lease_age;
  // The name the lease shows (DurabilityOptions::node_name).
  std::string holder;
};

struct Options {
  // Where the engine reads time. Not owned; must outlive the engine.
  // Default: Clock::Real().
  Clock* clock = Clock::Real();

  // Seed for the random part of ids and for `random` orders. Set it to make
  // ids and orders reproducible. Default: seeded from the operating system.
  std::optional<uint64_t> id_seed;

  // The planned `outputUrl` of a job whose spec has no `upload.outputUrl`.
  // `{id}`, `{team}` and `{batch}` (empty outside a batch) are replaced.
  // Default: "file:///tmp/cascade/outputs/{id}.mp4".
  std::string output_url_template = "file:///tmp/cascade/outputs/{id}.mp4";

  // Attempts a job gets (JobSpec::max_attempts overrides it): an attempt
  // that ends without success (a fail, a release, a lost lease, the time
  // limit) uses one, and the last ends the job in error (contract §14).
  // Default: 3. REQUIRES: kMinMaxAttempts-kMaxMaxAttempts.
  int max_attempts = 3;

  // The wait before a failed job's first retry, doubling after each further
  // failed attempt (JobSpec::retry_backoff overrides it). Default: none.
  // REQUIRES: 0 to kMaxRetryBackoff.
  absl::Duration retry_backoff = absl::ZeroDuration();

  // The time limit of one attempt (JobSpec::timeout overrides it): past it
  // the attempt ends as a failure and the worker is asked to abort.
  // Default: none. REQUIRES: positive, at most kMaxRenderTimeout.
  std::optional<absl::Duration> render_timeout;

  // Lease granted by a claim when the worker asks for none.
  // Default: 60 s. REQUIRES: > 0.
  absl::Duration lease_duration = absl::Seconds(60);

  // How long a worker has to acknowledge an abort before the job is
  // cancelled without it. Default: 30 s. REQUIRES: > 0.
  absl::Duration abort_grace = absl::Seconds(30);

  // The order in which claims pick queued jobs. Default: oldest first.
  SortOrder pickup_order = SortOrder::kOldestFirst;
  // Webhook delivery: transport, retries, backoff, timeout, signing secret.
  WebhookOptions webhooks;

  // Data directory, sync setting and retention. Default: in memory.
  DurabilityOptions durability;
};

}  // namespace cascade

#endif  // CASCADE_OPTIONS_H_
