// Copyright 2026 The Cascade Authors.
//
// The bodies of the worker routes (docs/http.md, "Workers"): the requests of
// POST /workers/claim and POST /jobs/{id}/heartbeat|finish|fail|release read
// into the public API's request structs (cascade/engine.h), and the claim
// and heartbeat answers.
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

#include "absl/status/statusor.h"
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

// ---- Writing ------------------------------------------------------------------

// {"token", "expiresAt"}.
boost::json::object LeaseToJson(const Lease& lease);

// The claim's answer: {"job": Job, "lease": Lease, "payload": what the job was
// created from (JobSpec::payload: the JobCreation body, as JSON; as a string
// if it is not JSON)}.
boost::json::object ClaimResponseToJson(const ClaimedJob& claimed);

// The heartbeat's answer: {"job": Job, "lease": Lease, "cancelRequested": bool}.
boost::json::object HeartbeatResponseToJson(const HeartbeatResult& result);

}  // namespace cascade::wire

#endif  // CASCADE_WIRE_WORKER_BODIES_H_
