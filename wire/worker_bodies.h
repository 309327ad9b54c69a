// Copyright 2026 The Cascade Authors.
//
// The bodies of the worker routes (docs/http.md, "Workers"): the requests of
// POST /workers/claim and POST /jobs/{id}/heartbeat|finish|fail|release|logs
// read into the public API's request structs (cascade/engine.h), the claim
// and heartbeat answers, and the worker list (GET /workers).
//
// Example:
//
//   absl::StatusOr<HeartbeatBody> body = ParseHeartbeatBody(request.body);
//   if (!body.ok()) return Error(body.status());  // 400 ValidationErrorResponse
//   absl::StatusOr<HeartbeatResult> r = engine.Heartbeat(id, body->lease, body->report);
//   ...
//   return Reply(200, WriteJson(HeartbeatResponseToJson(*r)));
//
// Reading: the body must be one JSON object (wire/json.h's limits); only the
// claim's may be empty, meaning {}. Each field is optional unless said
// otherwise; unknown fields are ignored. Durations are seconds, more than 0
// and at most 86400, kept to the millisecond. Every bad field is reported
// (InvalidArgument with one field violation each, named by its key), in the
// order the fields are listed below.

#ifndef CASCADE_WIRE_WORKER_BODIES_H_
#define CASCADE_WIRE_WORKER_BODIES_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "boost/json.hpp"
#include "cascade/engine.h"

namespace cascade::wire {

// ---- Reading ------------------------------------------------------------------

// POST /workers/claim: {"worker": string, "tags": [string],
// "leaseSeconds": number}.
[[nodiscard]] absl::StatusOr<ClaimRequest> ParseClaimBody(std::string_view body);

// POST /jobs/{id}/heartbeat: {"lease": string (required), "progress": number,
// "extendSeconds": number}.
struct HeartbeatBody {
  std::string lease;
  HeartbeatReport report;
};
[[nodiscard]] absl::StatusOr<HeartbeatBody> ParseHeartbeatBody(std::string_view body);

// POST /jobs/{id}/finish: {"lease": string (required), "outputUrl": string}.
struct FinishBody {
  std::string lease;
  FinishReport report;
};
[[nodiscard]] absl::StatusOr<FinishBody> ParseFinishBody(std::string_view body);

// POST /jobs/{id}/fail: {"lease": string (required), "error": string,
// "retry": bool (default true; false: no retry can fix it, contract §14)}.
struct FailBody {
  std::string lease;
  FailReport report;
};
[[nodiscard]] absl::StatusOr<FailBody> ParseFailBody(std::string_view body);

// POST /jobs/{id}/release: {"lease": string (required)}.
struct ReleaseBody {
  std::string lease;
};
[[nodiscard]] absl::StatusOr<ReleaseBody> ParseReleaseBody(std::string_view body);

// POST /jobs/{id}/logs: {"lease": string (required), "lines": [string]
// (required; at most kMaxLogLinesPerCall, none holding a NUL byte)}.
struct LogBody {
  std::string lease;
  std::vector<std::string> lines;
};
[[nodiscard]] absl::StatusOr<LogBody> ParseLogBody(std::string_view body);

// ---- Writing ------------------------------------------------------------------

// {"token", "expiresAt"}.
boost::json::object LeaseToJson(const Lease& lease);

// The claim's answer: {"job": Job, "lease": Lease, "payload": what the job was
// created from (JobSpec::payload: the JobCreation body, as JSON; as a string
// if it is not JSON), "children": [...]}. `children` are the job's nested
// children (Job::children, in that order, which is the order of the
// payload's assets of type "job"), each {"id", "status", "outputUrl"
// (null when empty), "layerName" (that asset's, null when it has none: a
// join's parts)}, so that a worker can stitch what they rendered; [] for a
// job without nested children.
boost::json::object ClaimResponseToJson(const ClaimedJob& claimed,
                                        absl::Span<const Job> children = {});

// The heartbeat's answer: {"job": Job, "lease": Lease, "cancelRequested": bool}.
boost::json::object HeartbeatResponseToJson(const HeartbeatResult& result);

// GET /workers: {"workers": [{"name", "tags": [string], "lastSeen" (ISO 8601),
// "leaseSeconds" (number), "status": "busy" | "idle" | "lost", "jobs":
// [id]}]}, in the order given.
boost::json::object WorkerListToJson(absl::Span<const WorkerInfo> workers);

}  // namespace cascade::wire

#endif  // CASCADE_WIRE_WORKER_BODIES_H_
