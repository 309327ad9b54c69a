// Copyright 2026 The Cascade Authors.
//
// SseParser: splits the bytes into lines, the lines into fields, and the
// fields into frames, as the HTML standard's event stream interpretation
// says (sse.h lists the rules).

#include "cli/sse.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace cascade::cli {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

}  // namespace

absl::Status SseParser::Feed(std::string_view bytes,
                             const std::function<void(const SseEvent&)>& on_event) {
  if (failed_) return absl::ResourceExhaustedError("the event stream was refused before");
  if (at_start_) {
    // The BOM may itself arrive in pieces: hold the first bytes until they
    // are known to be one or not.
    const size_t take = std::min(kBom.size() - bom_.size(), bytes.size());
    bom_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    if (kBom.substr(0, bom_.size()) == bom_ && bom_.size() < kBom.size()) return absl::OkStatus();
    at_start_ = false;
    if (bom_ != kBom) {
      const std::string held = std::move(bom_);
      bom_.clear();
      if (absl::Status s = Feed(held, on_event); !s.ok()) return s;
    }
    bom_.clear();
  }
  while (!bytes.empty()) {
    if (after_cr_) {
      after_cr_ = false;
      if (bytes.front() == '\n') {
        bytes.remove_prefix(1);
        continue;
      }
    }
    const size_t end = bytes.find_first_of("\r\n");
    if (end == std::string_view::npos) {
      line_.append(bytes);
      break;
    }
    line_.append(bytes.substr(0, end));
    after_cr_ = bytes[end] == '\r';
    bytes.remove_prefix(end + 1);
    if (line_.size() > max_frame_bytes_) break;
    const std::string line = std::move(line_);
    line_.clear();
    Line(line, on_event);
    if (data_.size() > max_frame_bytes_) break;
  }
  if (line_.size() > max_frame_bytes_ || data_.size() > max_frame_bytes_) {
    failed_ = true;
    return absl::ResourceExhaustedError(absl::StrCat(
        "an event stream line or frame is over the limit of ", max_frame_bytes_, " bytes"));
  }
  return absl::OkStatus();
}

void SseParser::Line(std::string_view line, const std::function<void(const SseEvent&)>& on_event) {
  if (line.empty()) {
    // The end of a frame: dispatched only if it carried data.
    if (!data_.empty()) {
      SseEvent event;
      event.type = type_.empty() ? "message" : type_;
      data_.pop_back();  // the "\n" after the last data line
      event.data = std::move(data_);
      event.id = last_event_id_;
      on_event(event);
    }
    type_.clear();
    data_.clear();
    return;
  }
  if (line.front() == ':') {
    ++comments_;
    return;
  }
  const size_t colon = line.find(':');
  const std::string_view field = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "event") {
    type_ = std::string(value);
  } else if (field == "data") {
    data_.append(value);
    data_.push_back('\n');
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) last_event_id_ = std::string(value);
  } else if (field == "retry") {
    if (!value.empty() && value.size() <= 12 && std::all_of(value.begin(), value.end(), [](char c) {
          return absl::ascii_isdigit(static_cast<unsigned char>(c));
        })) {
      int64_t ms = 0;
      for (char c : value) ms = ms * 10 + (c - '0');
      retry_ms_ = ms;
    }
  }
}

void SseParser::DropPartialFrame() {
  line_.clear();
  after_cr_ = false;
  type_.clear();
  data_.clear();
  // A new connection's body starts afresh, BOM and all.
  at_start_ = true;
  bom_.clear();
}

}  // namespace cascade::cli
