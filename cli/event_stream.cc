// Copyright 2026 The Cascade Authors.
//
// FollowEvents: one connection at a time, its body fed to an SseParser that
// outlives the connections (it keeps the last event id and retry), and the
// wait before the next one.

#include "cli/event_stream.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace cascade::cli {
namespace {

constexpr absl::Duration kDefaultRetry = absl::Seconds(2);
constexpr absl::Duration kMaxRetry = absl::Seconds(30);
// The most of an error answer's body kept for its message.
constexpr size_t kMaxErrorBody = 64 * 1024;

bool Stopped(const std::atomic<bool>* stop) { return stop->load(std::memory_order_relaxed); }

// Sleeps for `d`, or until *stop is set.
void SleepUnlessStopped(absl::Duration d, const std::atomic<bool>* stop) {
  const absl::Time until = absl::Now() + d;
  while (!Stopped(stop) && absl::Now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// Answers worth trying again: the server is busy or going through a
// restart (503 too many streams, 502/504 a proxy, 429 rate limit, 408).
bool Transient(int http_status) {
  return http_status >= 500 || http_status == 429 || http_status == 408;
}

}  // namespace

absl::Status FollowEvents(const ApiClient& client, const FollowOptions& options) {
  const std::string path =
      options.query.empty() ? "/events" : absl::StrCat("/events?", options.query);
  SseParser parser;
  absl::Duration backoff = absl::ZeroDuration();  // grows while connections fail
  bool first = true;
  while (!Stopped(options.stop)) {
    int http_status = 0;
    std::string error_body;
    bool got_events = false;
    absl::Status parse_error;
    parser.DropPartialFrame();

    net::BodyStream sink;
    sink.idle_timeout = options.idle_timeout;
    sink.cancel = options.stop;
    absl::Duration retry_after = absl::ZeroDuration();  // a 503's or 429's Retry-After
    sink.on_head = [&](const net::HttpResponse& head) {
      http_status = head.status;
      for (const auto& [name, value] : head.headers) {
        int seconds = 0;
        if (absl::EqualsIgnoreCase(name, "retry-after") && absl::SimpleAtoi(value, &seconds) &&
            seconds > 0) {
          retry_after = absl::Seconds(seconds);
        }
      }
      return true;
    };
    sink.on_bytes = [&](std::string_view bytes) {
      if (http_status != 200) {
        error_body.append(
            bytes.substr(0, kMaxErrorBody - std::min(kMaxErrorBody, error_body.size())));
        return error_body.size() < kMaxErrorBody;
      }
      parse_error = parser.Feed(bytes, [&](const SseEvent& event) {
        got_events = true;
        if (options.on_event) options.on_event(event);
      });
      return parse_error.ok();
    };
    absl::StatusOr<net::HttpResponse> response = client.Stream(path, parser.last_event_id(), sink);
    if (Stopped(options.stop)) break;

    std::string why;
    if (!response.ok()) {
      // No answer at all on the first try: a wrong URL, most likely.
      if (first && options.fail_fast && http_status == 0) return response.status();
      why = std::string(response.status().message());
    } else if (http_status != 200) {
      absl::Status refused = AnswerError(http_status, error_body);
      if (!Transient(http_status)) return refused;
      why = std::string(refused.message());
    } else if (!parse_error.ok()) {
      why = std::string(parse_error.message());
    } else {
      why = "the server ended it";
    }
    first = false;
    // A connection that delivered events was healthy: start over from the
    // server's delay. One that did not is retried ever more slowly.
    const absl::Duration retry =
        parser.retry_ms().has_value() ? absl::Milliseconds(*parser.retry_ms()) : kDefaultRetry;
    backoff =
        got_events || backoff == absl::ZeroDuration() ? retry : std::min(backoff * 2, kMaxRetry);
    backoff = std::min(std::max(backoff, retry_after), kMaxRetry);
    if (options.on_note) {
      options.on_note(absl::StrCat("event stream dropped (", why, "); reconnecting in ",
                                   absl::FormatDuration(backoff)));
    }
    SleepUnlessStopped(backoff, options.stop);
  }
  return absl::OkStatus();
}

}  // namespace cascade::cli
