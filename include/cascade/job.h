// Copyright 2026 The Cascade Authors.
//
// File: cascade/job.h
// -----------------------------------------------------------------------------
// What a job is: its states, the spec it is created from, and the view the
// engine returns. Field names follow the wire names of Nexrender's Cloud API v2
// `Job` schema; the extensions and their wire names are listed at the top of
// wire/job_json.h.
//
// Example:
//
//   cascade::JobSpec parent;
//   parent.template_id = "01HZX3C5Y5V7E8W3J6T9Q2M1NB";
//   parent.composition = "main";
//   cascade::JobSpec child = parent;       // a nested asset of type "job"
//   child.composition = "intro";
//   parent.children.push_back(child);      // parent waits in `pending`
//   auto submitted = engine->Submit("team-a", parent);

#ifndef CASCADE_JOB_H_
#define CASCADE_JOB_H_

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cascade/ids.h"
#include "cascade/webhook.h"

namespace cascade {

// The six states of contract §1. Terminal: kFinished, kError, kCancelled.
enum class JobState : uint8_t {
  kQueued = 0,     // "queued": ready, waiting for a worker
  kPending = 1,    // "pending": waiting for prerequisites
  kRendering = 2,  // "render:dorender": claimed by a worker
  kFinished = 3,   // "finished"
  kError = 4,      // "error"
  kCancelled = 5,  // "manually_cancelled"
};
inline constexpr int kNumJobStates = 6;

// Bounds of the retry extensions of JobSpec (contract §14).
inline constexpr int kMinMaxAttempts = 1;
inline constexpr int kMaxMaxAttempts = 20;
inline constexpr absl::Duration kMaxRetryBackoff = absl::Hours(24);
inline constexpr absl::Duration kMaxRenderTimeout = absl::Hours(24 * 7);

// The wire name ("queued", "render:dorender", "manually_cancelled", ...).
std::string_view StateName(JobState state);
// Inverse of StateName. InvalidArgument for any other text.
[[nodiscard]] absl::StatusOr<JobState> ParseState(std::string_view name);

inline bool IsTerminal(JobState s) { return s >= JobState::kFinished; }
// Whether the state machine table lets a job in state `s` be cancelled
// (contract §4: queued and pending jobs). Asked of the table itself.
bool IsCancellable(JobState s);

// What a pending job does when one of its prerequisites ends in error (contract §3).
enum class PrerequisiteFailurePolicy : uint8_t {
  kFail = 0,    // default: the job ends in error too
  kIgnore = 1,  // the job proceeds once every other prerequisite finished
};

// What a job is created from: the engine's view of a `JobCreation` body.
// Limits (violations are InvalidArgument with one field violation each, see
// cascade/status.h):
//   - template_id, composition: at most 256 bytes each;
//   - tags: at most 32, each 1-64 bytes of [A-Za-z0-9_.:/-];
//   - depends_on: at most 1000 distinct ids of existing jobs of the same team,
//     none in error or manually_cancelled;
//   - children: nested at most 8 deep, at most 1000 jobs per submitted spec.
struct JobSpec {
  // `template.id`; empty means none (the job's templateId is then null).
  std::string template_id;
  // `template.composition`.
  std::string composition;
  // Number of entries of `assets[]`, nested job assets included (stats.totalAssets).
  int total_assets = 0;
  // Nested jobs (`assets[]` entries of type "job"): created in the same call,
  // each a prerequisite of this job, which stays pending until all finished.
  std::vector<JobSpec> children;
  // Extension: jobs carrying all of a list's or claim's tags match it.
  std::vector<std::string> tags;
  // Extension: higher runs first under the `priority` order.
  int32_t priority = 0;
  // Extension: existing jobs of the same team this job waits for.
  std::vector<JobId> depends_on;
  PrerequisiteFailurePolicy on_prerequisite_failure = PrerequisiteFailurePolicy::kFail;
  // `upload.outputUrl`; empty means the engine's output_url_template. Either
  // way `{id}`, `{team}` and `{batch}` are filled in.
  std::string output_url;
  // Opaque bytes handed to the worker that claims the job (cascade-server
  // stores the job's JSON here). At most 1 MiB.
  std::string payload;
  // Delivered when the job reaches finished, error or manually_cancelled
  // (cascade/webhook.h).
  std::optional<WebhookSpec> webhook;
  // Extensions (contract §14), each defaulting to the engine's option:
  // - the attempts the job may make in all, kMinMaxAttempts-kMaxMaxAttempts
  //   (Options::max_attempts);
  std::optional<int> max_attempts;
  // - the wait before the first retry, doubling after each further failed
  //   attempt, 0 to kMaxRetryBackoff (Options::retry_backoff);
  std::optional<absl::Duration> retry_backoff;
  // - the time limit of one attempt, positive, at most kMaxRenderTimeout
  //   (Options::render_timeout; none by default).
  std::optional<absl::Duration> timeout;
};

// ---- Text made when it is read -------------------------------------------------
//
// A job's output URL and error text are made from a few facts (a pattern, an
// id, a cause) only when someone reads them, most often the serializer: an
// answer of the engine (Get, Submit, CancelMany, ...) carries the facts and
// allocates nothing for them. Both compare and print as their text.
//
// A text the engine made points at its output URL template and team name,
// which the engine keeps for the whole process (one copy per distinct text),
// so an answer stays readable after the engine that made it is destroyed.

// A job's output URL: a URL as it is, or a pattern with `{id}`, `{team}` and
// `{batch}` expanded when read.
class OutputUrl {
 public:
  OutputUrl() = default;
  // A URL as it is (already expanded).
  OutputUrl(std::string url) : text_(std::move(url)) {}  // NOLINT: implicit, as a string
  OutputUrl(const char* url) : text_(url) {}             // NOLINT
  // `pattern` expanded for this job when read. `pattern` and `team` must
  // outlive the value (the engine passes texts it keeps for the process).
  static OutputUrl Planned(std::string_view pattern, const JobId& id, std::string_view team,
                           const std::optional<BatchId>& batch);
  // The same with a pattern of the job's own, copied.
  static OutputUrl PlannedOwned(std::string pattern, const JobId& id, std::string_view team,
                                const std::optional<BatchId>& batch);

  bool empty() const { return !planned_ && text_.empty(); }
  std::string str() const;
  void AppendTo(std::string& out) const;

  friend bool operator==(const OutputUrl& a, const OutputUrl& b) { return a.str() == b.str(); }
  friend bool operator==(const OutputUrl& a, std::string_view b) { return a.str() == b; }
  friend bool operator==(const OutputUrl& a, const std::string& b) { return a.str() == b; }
  friend bool operator==(const OutputUrl& a, const char* b) { return a.str() == b; }
  friend std::ostream& operator<<(std::ostream& os, const OutputUrl& url);

 private:
  std::string text_;          // the URL, or an owned pattern when planned_
  std::string_view pattern_;  // a pattern not owned (planned_ and text_ empty)
  std::string_view team_;
  JobId id_;
  std::optional<BatchId> batch_;
  bool planned_ = false;
};

// stats.error: a text as it is, or a fixed text naming a job or a number,
// written when read ("Cancelled: cascade from 01J...", "lease expired after 3
// attempts").
class ErrorText {
 public:
  ErrorText() = default;
  ErrorText(std::string text) : owned_(std::move(text)) {}  // NOLINT: implicit, as a string
  ErrorText(const char* text) : owned_(text) {}             // NOLINT
  // `prefix` + `id` + `suffix`; both texts must have static storage.
  static ErrorText NamingJob(std::string_view prefix, const JobId& id, std::string_view suffix);
  // `prefix` + `number` (absl::StrCat's format) + `suffix`, static texts.
  static ErrorText WithNumber(std::string_view prefix, double number, std::string_view suffix);
  // A text with static storage, not copied.
  static ErrorText Static(std::string_view text);

  std::string str() const;
  void AppendTo(std::string& out) const;

  friend bool operator==(const ErrorText& a, const ErrorText& b) { return a.str() == b.str(); }
  friend bool operator==(const ErrorText& a, std::string_view b) { return a.str() == b; }
  friend bool operator==(const ErrorText& a, const std::string& b) { return a.str() == b; }
  friend bool operator==(const ErrorText& a, const char* b) { return a.str() == b; }
  friend std::ostream& operator<<(std::ostream& os, const ErrorText& text);

 private:
  enum class Kind : uint8_t { kOwned, kStatic, kJob, kNumber };
  Kind kind_ = Kind::kOwned;
  std::string owned_;
  std::string_view prefix_, suffix_;
  JobId id_;
  double number_ = 0;
};

// `Job.stats`.
struct JobStats {
  absl::Time created_at;
  absl::Time updated_at;
  std::optional<absl::Time> started_at;
  std::optional<absl::Time> finished_at;
  std::optional<absl::Time> error_at;
  int total_assets = 0;
  std::optional<double> render_duration;  // seconds
  std::optional<ErrorText> error;
};

// A consistent snapshot of one job, as the engine returns it.
struct Job {
  JobId id;
  std::string team;
  std::optional<std::string> template_id;
  JobState state = JobState::kQueued;
  double progress = 0.0;  // 0.0-100.0
  JobStats stats;
  OutputUrl output_url;
  // Extensions.
  std::vector<std::string> tags;  // sorted by name, no repeats
  int32_t priority = 0;
  std::optional<BatchId> batch_id;
  std::optional<JobId> parent_id;
  std::vector<JobId> children;
  std::vector<JobId> depends_on;
  PrerequisiteFailurePolicy on_prerequisite_failure = PrerequisiteFailurePolicy::kFail;
  int attempts = 0;
  bool cancel_requested = false;
  // Contract §14.
  int max_attempts = 0;
  // Set while a queued job waits out its retry backoff: it is not claimable
  // before then.
  std::optional<absl::Time> retry_at;
  // Held back (Suspend): kept queued or pending, never claimed.
  bool suspended = false;
};

// Formats a time as ISO 8601 UTC with milliseconds: "2026-11-22T18:30:00.000Z".
std::string FormatTimestamp(absl::Time t);
// The same text, appended to `out`.
void AppendTimestamp(absl::Time t, std::string& out);
// Parses ISO 8601 / RFC 3339 ("2026-11-22", "2026-11-22T18:30:00Z",
// "2026-11-22T18:30:00.123+01:00"). InvalidArgument otherwise.
[[nodiscard]] absl::StatusOr<absl::Time> ParseTimestamp(std::string_view text);

}  // namespace cascade

#endif  // CASCADE_JOB_H_
