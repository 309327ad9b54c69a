// Copyright 2026 The Cascade Authors.
//
// SseParser: reads a Server-Sent Events stream (the WHATWG HTML standard's
// "event stream interpretation") from bytes as they arrive, for `cascade
// watch` and `cascade submit --wait` (GET /api/v2/events, docs/http.md).
//
//   - Lines end with CRLF, LF or CR, also when a CRLF is split across two
//     reads; a leading UTF-8 byte order mark is skipped.
//   - "field: value" (one space after the colon is dropped), or "field"
//     alone (an empty value). A line starting with ':' is a comment.
//   - event: the frame's type; data: one line of data (several are joined
//     by "\n"); id: the last event id (kept across frames, as a reconnect's
//     Last-Event-ID; an id with a NUL is ignored); retry: the reconnection
//     delay in milliseconds (ASCII digits only, else ignored). Other fields
//     are ignored.
//   - A blank line ends the frame: it is dispatched if it had data, with
//     type "message" when it named none.
//
// Example:
//
//   SseParser parser;
//   parser.Feed("event: transition\nid: 42\ndata: {\"to\":\"finished\"}\n\n",
//               [](const SseEvent& e) { Show(e.type, e.data); });
//   parser.last_event_id();  // "42"
//
// Not thread-safe: one parser per stream, fed from one thread.

#ifndef CASCADE_CLI_SSE_H_
#define CASCADE_CLI_SSE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace cascade::cli {

struct SseEvent {
  std::string type;  // "message" unless the frame had an event: line
  std::string data;  // the data: lines joined by "\n" (no trailing "\n")
  std::string id;    // the last event id when it was dispatched ("" if none yet)
};

class SseParser {
 public:
  // A line (or a frame's data) over `max_frame_bytes` makes Feed fail: a
  // stream that never ends a line must not take all memory.
  explicit SseParser(size_t max_frame_bytes = size_t{1} << 20)
      : max_frame_bytes_(max_frame_bytes) {}

  // Parses `bytes`, the next piece of the stream, calling `on_event` for
  // each frame it completes, in order. ResourceExhausted once a line or a
  // frame's data is over the limit (nothing more is dispatched then).
  absl::Status Feed(std::string_view bytes, const std::function<void(const SseEvent&)>& on_event);

  // Forgets a frame half received (the connection dropped): its lines are
  // not joined to the next connection's. Keeps the last event id and retry.
  void DropPartialFrame();

  // The id to resume from (Last-Event-ID): the last id line's value.
  const std::string& last_event_id() const { return last_event_id_; }
  // The last valid retry: line, in milliseconds.
  std::optional<int64_t> retry_ms() const { return retry_ms_; }
  // Comment lines seen (keep-alives).
  int64_t comments() const { return comments_; }

 private:
  // One complete line (without its end).
  void Line(std::string_view line, const std::function<void(const SseEvent&)>& on_event);

  const size_t max_frame_bytes_;
  std::string line_;       // the line being received
  bool after_cr_ = false;  // the last byte was a CR: a LF right after it is part of that end
  bool at_start_ = true;   // nothing received yet (a BOM may come)
  std::string bom_;        // the first bytes while they may be a BOM
  std::string type_;       // the frame's event: value
  std::string data_;       // the frame's data: lines, each followed by "\n"
  std::string last_event_id_;
  std::optional<int64_t> retry_ms_;
  int64_t comments_ = 0;
  bool failed_ = false;
};

}  // namespace cascade::cli

#endif  // CASCADE_CLI_SSE_H_
