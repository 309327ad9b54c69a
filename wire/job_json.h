// Copyright 2026 The Cascade Authors.
//
// The job and batch bodies of Nexrender's Cloud API v2 (the
// `components.schemas` of tests/data/nexrender-openapi-v2.json): `Job`,
// `JobCreation`, `JoinJobCreation`, `BatchCreation`, `JobCancellationRequest`
// and their responses, written from and read into the public API's types.
// cascade-server's handlers use it for every such body, the engine for its
// webhook bodies (the layering is in wire/json.h).
//
// Example:
//
//   absl::StatusOr<JobSpec> spec = ParseJobCreation(request_body);
//   if (!spec.ok()) return Reply(400, WriteJson(ValidationErrorResponseToJson(spec.status())));
//   absl::StatusOr<CreatedJob> created = engine.Submit(team, *spec);
//   ...
//   return Reply(201, JobCreationResponseText(*created));
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
//     (false), and contract §14's `maxAttempts`, `retryAt` (null unless a
//     queued job waits out its retry backoff) and `suspended` (false). A job therefore has one
//     shape whatever its history, so typed clients and `jq` filters never meet a missing key, and
//     the ids that may be absent follow the schema's own convention for absence (null). They cost
//     about 160 bytes a job.
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
//     error responses (wire/errors.h).
//   - Text is WriteJson's (wire/json.h), never boost::json::serialize: the
//     text writers below escape strings and write numbers with its pieces.
//
// Reading (`JobCreation`, `BatchCreation`, `JobCancellationRequest`, and the
// extensions' retry request and job update):
//   - Input is untrusted: parsing never throws and never crashes (limits as
//     in wire/json.h). The body must be one JSON object.
//   - Bodies are held to the OpenAPI document's own constraints (contract
//     §11, "Validation"), field by field: types, `required`, enums
//     (`webhook.method`, `settings.type/quality/engine`, `upload.provider`,
//     `settings.preset` of a join, a join asset's `type`), patterns (every
//     `template.id`: `^[A-Z0-9]{26}$`; job ids: ULIDs), bounds (frames >= 0
//     in a JobCreation, 1-1000 jobs or ids) and `additionalProperties: false`
//     (JobCreation's `settings`, `upload` and `upload.params`: an unknown key
//     there is refused as `settings.<key>`). `null` is a wrong type except
//     where the schema says nullable (`template.composition`). An integer
//     field takes any number with a zero fraction (`5`, `5.0`, `5e0`), as
//     JSON Schema does, within its range (`priority`: int32; others int64).
//   - Two exceptions, as the contract names them. Assets of type "job" are
//     nested jobs (contract §2): the document's `oneOf` cannot match them
//     (JobAsset matches them too), so they are read as the discriminator
//     says, against `JobAssetNested` (layerName, template.id and
//     template.composition required, its settings enums), plus Cascade's
//     extensions; their own "job" assets nest again. And the Cascade
//     extension fields, which the document does not define, are Cascade's
//     to check: `tags` (strings), `priority` (int32), `dependsOn` (job ids),
//     `onPrerequisiteFailure` ("fail" | "ignore"), `maxAttempts` (integer
//     kMinMaxAttempts-kMaxMaxAttempts), `retryBackoffSeconds` (number, 0 to
//     kMaxRetryBackoff), `timeoutSeconds` (number, above 0, at most
//     kMaxRenderTimeout), and on a nested job an `upload` and `webhook` of
//     its own (shaped as JobCreation's).
//   - Stricter than the document on one point: `webhook.headers` values must
//     be strings (the document allows any value; an HTTP header is text).
//   - Other unknown fields are accepted and ignored where the document
//     leaves the object open (the body, `template`, assets, `webhook`, a
//     nested job's `settings`, a join's `upload`); they stay in the payload.
//     When a key is repeated, the last occurrence wins (as in JavaScript).
//   - Required: `template` (an object) with `template.id`; each asset's
//     `type`; a nested job asset's `layerName`, `template.id` and
//     `template.composition`; the `url` of a webhook; `upload.params`'
//     region, bucket, accessKeyId and accessKeySecret; `jobs` of a batch or
//     cancel request.
//   - Every problem found is reported, not only the first: InvalidArgument
//     whose field violations (cascade/status.h) name the JSON path of each
//     bad field from the body's root (`assets[2].type`, `webhook.method`,
//     `jobs[3].template.id`); `body` when the body itself is wrong. At most
//     kMaxViolations, then one saying there are more: the parser stops
//     looking there, so a body of a million bad entries costs no more than
//     one of fifty-one.
//   - Semantic limits stay the engine's (engine/spec/spec_validation.h):
//     lengths, tag characters, nesting depth, duplicate ids, payload size.
//     The parser checks the document's constraints and the extensions'
//     bounds, with the public API's constants: the 1-1000 entries of a batch
//     and of a cancel request are counted before any entry is read.
//   - JobSpec::payload is the job's own JSON object as WriteJson writes it
//     (compact, keys in the order received): the whole body for POST /jobs, the
//     entry for a batch item, the asset object for a nested job. Fields
//     Cascade does not model (settings, fonts, assets, ...) reach the worker
//     that way. Numbers survive the trip (wire/json.h).
//   - Nested job assets become JobSpec::children, recursively, in asset
//     order; they accept the same Cascade extensions as a top-level job and
//     an upload/webhook of their own.
//     total_assets counts every entry of `assets`, nested jobs included.

#ifndef CASCADE_WIRE_JOB_JSON_H_
#define CASCADE_WIRE_JOB_JSON_H_

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
#include "wire/json.h"

namespace cascade::wire {

// ---- Writing ------------------------------------------------------------------
//
// Each answer has a text writer (…Text, AppendJobJson), which cascade-server
// sends as it is, and an object form (…ToJson) that parses that text back, for
// code that reads fields or nests the answer in a larger one (the claim and
// heartbeat answers, tests): one writer per shape, so the two never differ.

enum class JobView : uint8_t {
  kFull,     // every field
  kMinimal,  // without `stats` (`GET /jobs?minimal=true`)
};

// `Job`, with the extensions listed in the file comment, appended to `*out`.
void AppendJobJson(const Job& job, JobView view, std::string* out);
std::string JobToJsonText(const Job& job, JobView view = JobView::kFull);
boost::json::object JobToJson(const Job& job, JobView view = JobView::kFull);

// An array of `Job`: `GET /jobs`; `JobCancellationResponse` (the answer of
// both `PATCH /jobs/{id}/cancel` and `POST /jobs/cancel`: every job the
// request cancelled, cascades included); and the answer of `POST
// /jobs/{id}/retry` and `POST /jobs/retry` (extensions, contract §14: every
// job the request revived, each once, in id order, as full jobs; an array,
// like JobCancellationResponse, since a retry undoes what a cancel or a
// failure ended, and answers the same way).
std::string JobsToJsonText(absl::Span<const Job> jobs, JobView view = JobView::kFull);
boost::json::array JobsToJson(absl::Span<const Job> jobs, JobView view = JobView::kFull);
inline boost::json::array JobCancellationResponseToJson(absl::Span<const Job> cancelled) {
  return JobsToJson(cancelled);
}
inline boost::json::array JobRetryResponseToJson(absl::Span<const Job> revived) {
  return JobsToJson(revived);
}

// `{"batchId", "jobs": [Job, ...]}`: the answer of `POST
// /batches/{id}/suspend` and `/resume` (extensions, contract §14), `jobs`
// being the jobs of the batch whose hold changed.
std::string BatchHoldResponseText(BatchId batch, absl::Span<const Job> changed);
boost::json::object BatchHoldResponseToJson(BatchId batch, absl::Span<const Job> changed);

// `JobCreationResponse` (`POST /jobs`, `POST /jobs/join`).
std::string JobCreationResponseText(const CreatedJob& created);
boost::json::object JobCreationResponseToJson(const CreatedJob& created);

// `BatchCreationResponse` (`POST /batches`, for 201 and 400 alike).
std::string BatchCreationResponseText(const BatchSubmitResult& result);
boost::json::object BatchCreationResponseToJson(const BatchSubmitResult& result);

// The 400 of `POST /batches` for a body that is not a batch at all (not JSON,
// no `jobs`, too many): the document answers every 400 of the route with a
// BatchCreationResponse, so this is one with no batch (`batchId` "",
// `status` "error", no jobs) and the ValidationErrorResponse fields (`error`,
// `errorCode`, `details`) beside it. REQUIRES: !status.ok().
boost::json::object BatchCreationErrorResponseToJson(const absl::Status& status);

// `BatchStatusResponse` (`GET /batches/{id}`).
std::string BatchStatusResponseText(const BatchView& view);
boost::json::object BatchStatusResponseToJson(const BatchView& view);

// `BatchCancellationResponse` (`POST /batches/{id}/cancel`).
std::string BatchCancellationResponseText(const BatchCancelResult& result);
boost::json::object BatchCancellationResponseToJson(const BatchCancelResult& result);

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

// The body of `POST /jobs/retry` (extension, contract §14): the same shape,
// checks and violations as a `JobCancellationRequest` (`{"jobs": [id, ...]}`,
// 1-1000 ids); duplicates are left to Engine::Retry.
[[nodiscard]] absl::StatusOr<std::vector<JobId>> ParseJobRetryRequest(std::string_view json);

// The body of `PATCH /jobs/{id}` (extension, contract §14): `{"priority":
// int32}`, `priority` required, no other field (a closed object, as the
// document's `additionalProperties: false` ones). InvalidArgument naming
// `priority` (missing, not an integer, outside int32), each unknown key, or
// `body`.
struct JobUpdate {
  int32_t priority = 0;
};
[[nodiscard]] absl::StatusOr<JobUpdate> ParseJobUpdate(std::string_view json);

}  // namespace cascade::wire

#endif  // CASCADE_WIRE_JOB_JSON_H_
