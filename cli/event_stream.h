// Copyright 2026 The Cascade Authors.
//
// FollowEvents: reads cascade-server's event stream (GET /api/v2/events,
// Server-Sent Events; docs/http.md) for as long as the caller wants,
// reconnecting when it drops: after the delay the server's retry: line
// asked for (2 s unless it said otherwise, doubling while reconnecting
// keeps failing, at least a refusal's Retry-After, at most 30 s), with
// Last-Event-ID, so that the server
// replays what was missed (or says "reset" when it cannot). Used by
// `cascade watch` and `cascade submit --wait`.
//
// Example:
//
//   std::atomic<bool> stop{false};
//   FollowOptions options;
//   options.query = "batch=01J...";
//   options.stop = &stop;
//   options.on_event = [](const SseEvent& e) { Show(e); };
//   absl::Status s = FollowEvents(api, options);  // until stop is set

#ifndef CASCADE_CLI_EVENT_STREAM_H_
#define CASCADE_CLI_EVENT_STREAM_H_

#include <atomic>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cli/client.h"
#include "cli/sse.h"

namespace cascade::cli {

struct FollowOptions {
  // The query of GET /events, without '?': "", "batch=ID", "job=ID" or both.
  std::string query;
  // REQUIRED. Set it (from any thread, or a signal handler) to stop; the
  // call returns within about 100 ms.
  const std::atomic<bool>* stop = nullptr;
  // Longest silence before the connection is taken for dead and made again
  // (the server sends a comment every 15 s).
  absl::Duration idle_timeout = absl::Seconds(45);
  // Return the first connection's failure (no answer at all) instead of
  // trying again: for `watch`, whose user mistyped the URL.
  bool fail_fast = false;
  // Each event (transition, progress, reset, ...) as it arrives, on the
  // calling thread.
  std::function<void(const SseEvent&)> on_event;
  // A line for people about the connection ("event stream dropped (...);
  // reconnecting in 2s"). May be empty.
  std::function<void(const std::string&)> on_note;
};

// Follows the stream until *options.stop is set (OK). Errors: the server's
// refusal of the stream (an answer in 4xx other than 408 and 429, e.g. 401
// for the token or 404 for an unknown batch: reconnecting cannot help),
// as AnswerError makes it; with fail_fast, the first connection's failure.
absl::Status FollowEvents(const ApiClient& client, const FollowOptions& options);

}  // namespace cascade::cli

#endif  // CASCADE_CLI_EVENT_STREAM_H_
