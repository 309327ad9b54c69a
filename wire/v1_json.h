// Copyright 2026 The Cascade Authors.
//
// The JSON of nexrender's v1 protocol (contract §15): the job objects the
// open-source nexrender-server stores and serves under /api/v1, read into the
// public API's types and written from them. cascade-server's v1 bridge
// (server/v1_api.h) uses it for every v1 body; docs/workers.md ("nexrender v1
// bridge") is the user's reference.
//
// Example:
//
//   absl::StatusOr<JobSpec> spec = ParseV1Job(request.body, "10.0.0.7");
//   if (!spec.ok()) return Error(spec.status());      // 400, field by field
//   spec->tags.emplace_back(kV1Tag);                  // v1 workers may take it
//   absl::StatusOr<CreatedJob> created = engine.Submit(team, *spec);
//   absl::StatusOr<Job> job = engine.Get(team, created->id);
//   boost::json::object v1 = V1JobToJson(*job, spec->payload, V1StateOf(*job), "");
//
// ---- Decisions ----------------------------------------------------------------
//
// Reading a v1 job (POST /api/v1/jobs):
//   - Held to what nexrender's own `validate()` (@nexrender/types/job.js)
//     asserts, every problem reported at once (InvalidArgument with one field
//     violation each, the message nexrender's assertion would print):
//     `template` an object with a non-empty string `src` and `composition`;
//     `assets` (optional) an array of objects with a `type` of image, audio,
//     video (each needing `src` and `layerName` or `layerIndex`), data
//     (`layerName` or `layerIndex`, `property`, and `value` or `expression`),
//     script or static (`src`); `actions` (optional) an object whose
//     `prerender` and `postrender` (optional) are arrays of objects with a
//     `module`. "Must have" means present and truthy in JavaScript's sense
//     (not null, false, 0, "" or NaN), as the assertions test it.
//   - `tags`: nexrender's comma-separated string (an array of strings is
//     taken too). As nexrender-server does, characters other than letters,
//     digits, comma and space are dropped; then it is split at commas, each
//     part trimmed, empty parts skipped. A tag with a space inside is left
//     for the engine to refuse (Cascade tags have no spaces).
//   - `priority`: a number, whose integer part (within int32) becomes the
//     job's priority; absent, null, false or 0 is 0.
//   - A `uid`, `state` or timestamps in the body are kept in the payload but
//     never shown: uid is the Cascade id, the rest live (below).
//   - The payload is the body object as received plus `creator` (the
//     creating client's address, as nexrender-server records it), written by
//     WriteJson: GET answers it whole.
//   - JobSpec: no template id (v1 has none), `composition`, `total_assets`
//     (the asset count), `tags`, `priority`, `payload`. The v1 tag (kV1Tag)
//     is the caller's to add.
//
// Writing a v1 job (V1JobToJson): the payload (a v1 body, or a v2
// JobCreation body) with nexrender's defaults for what it lacks (`type`
// "default", `assets` [], `actions` {prerender: [], postrender: []},
// `timings` {}), its assets of type "job" left out (they are Cascade's nested
// children, which v1 has no word for), and these fields set from the job as
// it is now: `uid`, `state`, `tags` (a comma-separated string, without
// kV1Tag), `priority`, `renderProgress`, `error` (stats.error or null),
// `createdAt`, `updatedAt`, `startedAt`, `finishedAt`, `errorAt` (ISO 8601
// or null), `executor` (or null), and the extension `outputUrl`.

#ifndef CASCADE_WIRE_V1_JSON_H_
#define CASCADE_WIRE_V1_JSON_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "boost/json.hpp"
#include "cascade/job.h"

namespace cascade::wire {

// The tag cascade-server puts on every job a nexrender v1 worker may take: a
// job created through /api/v1, and, while the v1 bridge is on, a v2 job whose
// template (or a nested job's) has a `src`. v1 pickups claim only jobs
// carrying it.
inline constexpr std::string_view kV1Tag = "nexrender-v1";

// ---- Reading ------------------------------------------------------------------

// POST /api/v1/jobs. `creator` is recorded in the payload as `creator`.
// InvalidArgument with field violations as the file comment says.
[[nodiscard]] absl::StatusOr<JobSpec> ParseV1Job(std::string_view body, std::string_view creator);

// What a v1 worker's PUT /api/v1/jobs/{uid} reports, by its `state`.
enum class V1Report : uint8_t {
  kProgress,  // "started" or "render:<stage>": still rendering
  kFinished,  // "finished"
  kError,     // "error"
  kQueued,    // "queued": the worker gives the job back (it is stopping)
};

struct V1Update {
  V1Report report = V1Report::kProgress;
  std::string state;  // as sent ("started", "render:dorender", ...)
  // `renderProgress` when it is a number, clamped to 0-100 (a v1 worker's
  // report is never refused for its progress).
  std::optional<double> render_progress;
  // `error`: a string, or an array whose strings are joined with a blank
  // line (as nexrender's getRenderingStatus joins them); "" when absent.
  std::string error;
  // Extension: `outputUrl`, a string replacing the planned outputUrl when a
  // finished report carries it; "" when absent.
  std::string output_url;
};

// The body of PUT /api/v1/jobs/{uid}: a JSON object with a string `state`
// (required) among those V1Report names; other fields are read as V1Update
// says and the rest ignored (a worker sends its whole job). InvalidArgument
// naming `state` (missing, not a string, or another state such as "picked")
// or `body`.
[[nodiscard]] absl::StatusOr<V1Update> ParseV1Update(std::string_view body);

// Whether `payload` (a v2 JobCreation object's text) has a `template` with a
// non-empty string `src`. Cheap when it has no "src" at all.
bool PayloadHasTemplateSrc(std::string_view payload);

// ---- Writing ------------------------------------------------------------------

// The v1 state of a job no v1 worker of this server holds: queued and pending
// are "queued", rendering "render:dorender", finished "finished", error and
// manually_cancelled "error" (stats.error says why).
std::string_view V1StateOf(const Job& job);

// The v1 job JSON of `job` (file comment), created from `payload`, shown in
// v1 state `state` with `executor` ("" for none).
boost::json::object V1JobToJson(const Job& job, std::string_view payload, std::string_view state,
                                std::string_view executor);

// nexrender's getRenderingStatus of a v1 job JSON: {uid, state, type, tags,
// renderProgress, error, createdAt, updatedAt, startedAt, finishedAt,
// errorAt, jobCreator, jobExecutor, timings}, null for what it lacks.
boost::json::object V1StatusToJson(const boost::json::object& v1_job);

}  // namespace cascade::wire

#endif  // CASCADE_WIRE_V1_JSON_H_
