// Copyright 2026 The Cascade Authors.
//
// The JSON layer: the wire shapes of Nexrender's Cloud API v2 (the
// `components.schemas` of tests/data/nexrender-openapi-v2.json), written from
// and read into the engine's types with Boost.JSON. Webhook bodies use it
// now; cascade-server's handlers use it for every body they read or write.
// Internal: no Boost type leaves engine/.
//
// Example:
//
//   absl::StatusOr<JobSpec> spec = ParseJobCreation(request_body);
//   if (!spec.ok()) return Reply(400, WriteJson(ValidationErrorResponseToJson(spec.status())));
//   absl::StatusOr<CreatedJob> created = engine.Submit(team, *spec);
//   ...
//   return Reply(201, WriteJson(JobCreationResponseToJson(*created)));
//
// ---- Decisions ----------------------------------------------------------------
//
// Writing (a `Job`):
//   - Every field of the schema is always present; nullable ones are `null`
//     when unset (templateId, stats.startedAt/finishedAt/errorAt,
//     stats.renderDuration, stats.error; outputUrl when empty).
//   - The Cascade extensions are always present too, with their empty or
//     default value: `team`, `tags` ([]), `priority` (0), `batchId` (null),
//     `parentId` (null), `children` ([]), `dependsOn` ([]),
//     `onPrerequisiteFailure` ("fail"), `attempts` (0), `cancelRequested`
//     (false). A job therefore has one shape whatever its history, so typed
//     clients and `jq` filters never meet a missing key, and the ids that may
//     be absent follow the schema's own convention for absence (null). They
//     cost about 160 bytes a job.
//   - JobView::kMinimal (`GET /jobs?minimal=true`) omits `stats`, nothing else.
//   - Elsewhere, the optional parts the schema describes as conditional are
//     omitted when they do not apply: `children` of a creation response (only
//     for jobs with nested jobs), `errors` of a batch creation (only when some
//     spec failed), `reason` of a batch cancel entry (only when skipped),
//     `stats` of a batch status entry (only for finished, error or
//     manually_cancelled jobs). `missingFonts` is never written: Cascade has
//     no font library.
//   - Extensions outside `Job`: `stats.byState` of a batch status (the count
//     of top-level jobs per wire state name), `children` inside a creation
//     response's children (grandchildren, recursively), and `errorCode` in
//     error responses (ErrorCodeName: "not_found", ...).
//   - Text is made by WriteJson, not boost::json::serialize: Boost 1.81
//     writes every double in exponent form ("progress": 5E1) and copies
//     invalid UTF-8 through. WriteJson writes the shortest decimal that reads
//     back to the same double ("progress": 50, "renderDuration": 22.304),
//     null for a non-finite number, and U+FFFD for each invalid UTF-8 byte,
//     so its output is always RFC 8259 JSON.
//
// Reading (`JobCreation`, `BatchCreation`, `JobCancellationRequest`):
//   - Input is untrusted: parsing never throws and never crashes. JSON is
//     read with parse_options::max_depth = kMaxJsonDepth; the body must be
//     one JSON object, in valid UTF-8 (Boost.JSON checks; a leading UTF-8
//     byte order mark is skipped); a number beyond the range of a double is
//     refused. The size limit is the server's (SPEC §9).
//   - A field the schema (or Cascade) defines must have the schema's type
//     and, where the schema lists values, one of them: `webhook.method`,
//     `onPrerequisiteFailure`, `settings.type/quality/engine`,
//     `upload.provider`, asset `type` "job" for a nested job. `null` is a
//     wrong type except where the schema says nullable
//     (`template.composition`). An integer field takes any number with
//     a zero fraction (`5`, `5.0`, `5e0`), as JSON Schema does, within its
//     range (`priority`: int32).
//   - Unknown fields are accepted and ignored (bodies written for Nexrender
//     carry fields Cascade does not model); they stay in the payload. When a
//     key is repeated, the last occurrence wins (as in JavaScript).
//   - Required: `template` (an object) with `template.id`, unless
//     `template.src` names the template instead (self-hosted Nexrender jobs
//     do; templateId is then null); each asset's `type`; a nested job asset's
//     `layerName`, `template.id` and `template.composition`; the `url` of a
//     webhook; `upload.params`' region, bucket, accessKeyId and
//     accessKeySecret; `jobs` of a batch or cancel request. The template id's
//     pattern is not enforced: render farms name templates their own way.
//   - Every problem found is reported, not only the first: InvalidArgument
//     whose field violations (cascade/status.h) name the JSON path of each
//     bad field from the body's root (`assets[2].type`, `webhook.method`,
//     `jobs[3].template.id`); `body` when the body itself is wrong. At most
//     kMaxViolations, then one saying there are more: the parser stops
//     looking there, so a body of a million bad entries costs no more than
//     one of fifty-one.
//   - Semantic limits stay the engine's (engine/spec/spec_validation.h):
//     lengths, tag characters, nesting depth, duplicate ids, payload size.
//     The parser checks only the shape, with two exceptions that use the
//     engine's own constants: the 1-1000 entries of a batch and of a cancel
//     request, so a huge list is refused before any of it is read.
//   - JobSpec::payload is the job's own JSON object as WriteJson writes it
//     (compact, keys in the order received): the whole body for POST /jobs, the
//     entry for a batch item, the asset object for a nested job. Fields
//     Cascade does not model (settings, fonts, assets, ...) reach the worker
//     that way. Numbers are read as the nearest double (Boost 1.81's own reading
//     can be one unit in the last place off; see DomBuilder in wire.cc) and
//     written in shortest form, so they survive the trip; an integer beyond
//     64 bits becomes the nearest double.
//   - Nested job assets become JobSpec::children, recursively, in asset
//     order; they accept the same Cascade extensions (tags, priority,
//     dependsOn, onPrerequisiteFailure) and an upload/webhook of their own.
//     total_assets counts every entry of `assets`, nested jobs included.

#ifndef CASCADE_ENGINE_JSON_WIRE_H_
#define CASCADE_ENGINE_JSON_WIRE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "boost/json.hpp"
#include "cascade/batch.h"
#include "cascade/ids.h"
#include "cascade/job.h"

namespace cascade::internal {

// Deepest nesting of arrays and objects a body may have.
inline constexpr size_t kMaxJsonDepth = 64;
// Most field violations one parse reports, before a last one saying there
// are more.
inline constexpr size_t kMaxViolations = 50;

// ---- Text -------------------------------------------------------------------

// Compact RFC 8259 text of `value` (see the file comment for numbers and
// invalid UTF-8).
// True iff `text` is valid UTF-8 (RFC 3629), which the writer keeps as is;
// it replaces each invalid byte with U+FFFD.
bool IsValidUtf8(std::string_view text);
std::string WriteJson(const boost::json::value& value);
std::string WriteJson(const boost::json::object& object);  // no copy into a value
std::string WriteJson(const boost::json::array& array);
// Append the text to `*out`.
void AppendJson(const boost::json::value& value, std::string* out);
void AppendJson(const boost::json::object& object, std::string* out);
void AppendJson(const boost::json::array& array, std::string* out);

// Parses `text` as one JSON value with the limits above. InvalidArgument with
// one violation on `body` naming the problem and its byte offset when it is
// empty, malformed, too deep, not UTF-8, or holds a number out of range.
// Never throws. The value's memory comes from `storage` (default: the heap).
[[nodiscard]] absl::StatusOr<boost::json::value> ParseJsonBody(
    std::string_view text, boost::json::storage_ptr storage = {});

// ---- Writing ------------------------------------------------------------------

enum class JobView : uint8_t {
  kFull,     // every field
  kMinimal,  // without `stats` (`GET /jobs?minimal=true`)
};

// `Job`, with the extensions listed in the file comment.
boost::json::object JobToJson(const Job& job, JobView view = JobView::kFull);
std::string JobToJsonText(const Job& job, JobView view = JobView::kFull);

// An array of `Job`: `GET /jobs`, and `JobCancellationResponse` (the answer of
// both `PATCH /jobs/{id}/cancel` and `POST /jobs/cancel`: every job the
// request cancelled, cascades included).
boost::json::array JobsToJson(absl::Span<const Job> jobs, JobView view = JobView::kFull);
inline boost::json::array JobCancellationResponseToJson(absl::Span<const Job> cancelled) {
  return JobsToJson(cancelled);
}

// `JobCreationResponse` (`POST /jobs`, `POST /jobs/join`).
boost::json::object JobCreationResponseToJson(const CreatedJob& created);

// `BatchCreationResponse` (`POST /batches`, for 201 and 400 alike).
boost::json::object BatchCreationResponseToJson(const BatchSubmitResult& result);

// `BatchStatusResponse` (`GET /batches/{id}`).
boost::json::object BatchStatusResponseToJson(const BatchView& view);

// `BatchCancellationResponse` (`POST /batches/{id}/cancel`).
boost::json::object BatchCancellationResponseToJson(const BatchCancelResult& result);

// `ErrorResponse`: {"error": message, "errorCode": ErrorCodeName(code)}.
// REQUIRES: !status.ok().
boost::json::object ErrorResponseToJson(const absl::Status& status);

// `ValidationErrorResponse`: ErrorResponse plus `details[{field, message}]`,
// one per field violation the status carries (GetFieldViolations; `[]` when
// it carries none). REQUIRES: !status.ok().
boost::json::object ValidationErrorResponseToJson(const absl::Status& status);

// ---- Reading ------------------------------------------------------------------

// A `JobCreation` body (`POST /jobs`). InvalidArgument with field violations
// as described in the file comment.
[[nodiscard]] absl::StatusOr<JobSpec> ParseJobCreation(std::string_view json);

// A `JoinJobCreation` body (`POST /jobs/join`): a stitch job, built on nested
// jobs. Each asset of type "job" (`JoinJobAsset`: a template id and
// composition, assets, settings) becomes a child the stitch waits for, in
// asset order; each "video" asset (a `src` URL) is counted in totalAssets and
// reaches the worker in the payload. The stitch job has no template
// (templateId null) and the composition "join"; `settings.preset`, `upload`,
// `webhook` and the Cascade extensions read as for POST /jobs. Violations as
// ParseJobCreation's.
[[nodiscard]] absl::StatusOr<JobSpec> ParseJoinJobCreation(std::string_view json);

// A `BatchCreation` body (`POST /batches`): one outcome per entry of `jobs`,
// in request order, so each bad entry can be reported at its index while the
// others are created. Its violations name paths from the body's root
// (`jobs[3].template.id`). The whole call fails (InvalidArgument) only when
// the body is not JSON, not an object, or its `jobs` is missing, not an
// array, empty or longer than kMaxBatchJobs.
//
// Engine::SubmitBatchEntries takes these outcomes as they are, so that every
// entry keeps its request position as its batch `index`.
[[nodiscard]] absl::StatusOr<std::vector<absl::StatusOr<JobSpec>>> ParseBatchCreation(
    std::string_view json);

// A `JobCancellationRequest` body (`POST /jobs/cancel`): the ids of `jobs`, in
// order. InvalidArgument when the body is malformed, `jobs` is missing, not an
// array, empty or longer than kMaxCancelIds, or an entry is not a string or
// not a ULID (each listed as `jobs[i]`, as ParseJobIds does). Duplicates are
// left to Engine::CancelMany, which lists them with their positions.
[[nodiscard]] absl::StatusOr<std::vector<JobId>> ParseJobCancellationRequest(std::string_view json);

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_JSON_WIRE_H_
