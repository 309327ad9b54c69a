// Copyright 2026 The Cascade Authors.
//
// cascade-server's command line (contract §11), parsed into one struct, so that it
// can be tested without starting a server.

#ifndef CASCADE_SERVER_FLAGS_H_
#define CASCADE_SERVER_FLAGS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cascade/list_query.h"
#include "cascade/options.h"

namespace cascade::server {

struct ServerFlags {
  std::string host = "127.0.0.1";  // --listen HOST:PORT
  uint16_t port = 8080;
  std::string data = "./cascade-data";                      // --data DIR|URL; ":memory:" for none
  std::vector<std::pair<std::string, std::string>> tokens;  // --token TOKEN=TEAM
  std::vector<std::string> worker_tokens;                   // --worker-token TOKEN
  double rate_limit = 0;                                    // --rate-limit N (0: none)
  int demo_workers = 0;                                     // --demo-workers N
  std::optional<std::string> output_url;                    // --output-url TEMPLATE
  absl::Duration lease = absl::Seconds(60);                 // --lease-seconds N
  int max_attempts = 3;                                     // --max-attempts N (1-20)
  absl::Duration retry_backoff = absl::ZeroDuration();      // --retry-backoff SECONDS
  std::optional<absl::Duration> render_timeout;             // --render-timeout SECONDS
  SortOrder pickup_order = SortOrder::kPriority;            // --pickup-order ORDER
  absl::Duration abort_grace = absl::Seconds(30);           // --abort-grace N
  absl::Duration webhook_backoff = absl::Seconds(1);        // --webhook-backoff SECONDS
  absl::Duration webhook_timeout = absl::Seconds(2);        // --webhook-timeout SECONDS
  std::string webhook_secret;                               // --webhook-secret SECRET
  std::vector<std::pair<std::string, std::string>> v1_secrets;  // --v1-secret SECRET=TEAM
  absl::Duration v1_lease = absl::Hours(4);                     // --v1-lease-seconds N
  int events_window = 1 << 15;                                  // --events-window N
  int max_event_streams = 4096;                                 // --max-event-streams N
  // Terminal families purged once every job of theirs ended this long ago
  // (contract §10); nullopt keeps everything.
  std::optional<absl::Duration> retention;  // --retention SECONDS
  // With --data postgresql://... (contract §17, docs/high-availability.md).
  absl::Duration leader_lease = absl::Seconds(10);  // --leader-lease SECONDS
  absl::Duration leader_renew = absl::Seconds(2);   // --leader-renew SECONDS
  absl::Duration standby_poll = absl::Seconds(1);   // --standby-poll SECONDS
  std::string node_name;                            // --node-name NAME
  bool help = false;                                // --help
};

// Parses argv[1..]. Flags take their value as the next argument or after
// '=' (`--listen=0.0.0.0:80`). InvalidArgument naming the flag for an
// unknown flag, a missing or bad value.
absl::StatusOr<ServerFlags> ParseFlags(const std::vector<std::string>& args);

// The --help text.
std::string Usage();

// The engine options the flags ask for: output URL, lease, attempts, retry
// backoff, render timeout, pickup order, abort grace, webhooks, and the data
// directory (none for ":memory:"). The clock, id seed and webhook transport
// keep Options' defaults.
Options EngineOptions(const ServerFlags& flags);

}  // namespace cascade::server

#endif  // CASCADE_SERVER_FLAGS_H_
