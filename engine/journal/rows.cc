// Copyright 2026 The Cascade Authors.
//
// Encoding the journal's rows.

#include "engine/journal/rows.h"

#include <boost/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"
#include "engine/journal/row_text.h"
#include "engine/util/strings.h"
#include "wire/json.h"

namespace cascade::internal {
namespace {

namespace json = boost::json;
using wire::IsValidUtf8;
using wire::WriteJson;

void PutMillis(json::object& row, std::string_view name, int64_t ms) {
  if (ms != kUnsetMillis) row[name] = ms;
}

json::array HeadersValue(const std::vector<std::pair<std::string, std::string>>& headers) {
  json::array out;
  for (const auto& [name, value] : headers) {
    json::array pair;
    pair.push_back(TextValue(name));
    pair.push_back(TextValue(value));
    out.push_back(std::move(pair));
  }
  return out;
}

}  // namespace

json::value TextValue(std::string_view text) {
  if (IsValidUtf8(text)) return json::string(text);
  json::object wrapped;
  wrapped["base64"] = absl::Base64Escape(Sv(text));
  return wrapped;
}

void PutText(json::object& row, std::string_view name, std::string_view text) {
  row[name] = TextValue(text);
}

std::string HexKey(uint64_t n) { return absl::StrFormat("%016x", n); }

std::string_view CauseRowName(TransitionCause cause) {
  switch (cause) {
    case TransitionCause::kFailed:
      return "custom";
    case TransitionCause::kCancelled:
    case TransitionCause::kAbortAcknowledged:
    case TransitionCause::kAbortGraceExpired:
      return "cancelled_via_api";
    case TransitionCause::kCascade:
      return "cancel_cascade";
    case TransitionCause::kPrerequisiteFailed:
      return "prerequisite_failed";
    case TransitionCause::kDependentsFailed:
      return "dependent_failed";
    case TransitionCause::kLeaseExpired:
    case TransitionCause::kReleased:
      return "lease_expired";
    case TransitionCause::kTimedOut:
      return "timed_out";
    case TransitionCause::kRetried:
      return "retried";
    default:
      return "none";
  }
}

std::optional<TransitionCause> ParseCauseRowName(std::string_view name) {
  for (TransitionCause cause :
       {TransitionCause::kFailed, TransitionCause::kCancelled, TransitionCause::kCascade,
        TransitionCause::kPrerequisiteFailed, TransitionCause::kDependentsFailed,
        TransitionCause::kLeaseExpired, TransitionCause::kTimedOut, TransitionCause::kRetried}) {
    if (CauseRowName(cause) == name) return cause;
  }
  if (name == "none") return TransitionCause::kSubmitted;
  return std::nullopt;
}

std::string EncodeJob(const JobModel& model, uint32_t slot) {
  const JobRecord& job = model.job(slot);
  json::object row;
  PutText(row, "team", model.teams().name(job.team));
  row["state"] = StateName(job.state());
  row["created"] = job.created_ms;
  PutMillis(row, "updated", job.timeline.updated_ms);
  PutMillis(row, "started", job.timeline.started_ms);
  PutMillis(row, "finished", job.timeline.finished_ms);
  PutMillis(row, "errorAt", job.timeline.error_ms);
  if (job.timeline.progress != 0.0f) row["progress"] = job.timeline.progress;
  if (job.timeline.attempts != 0) row["attempts"] = job.timeline.attempts;
  if (job.template_ref != kNo<TemplateNo>) {
    PutText(row, "template", model.templates().name(job.template_ref));
  }
  if (job.total_assets != 0) row["totalAssets"] = job.total_assets;
  if (job.priority != 0) row["priority"] = job.priority;
  // Always written, so a row without it is one from before these settings
  // (recovery gives such a job the engine's defaults).
  row["maxAttempts"] = job.max_attempts;
  if (job.retry_backoff_ms != 0) row["retryBackoffMs"] = job.retry_backoff_ms;
  if (job.timeout_ms != 0) row["timeoutMs"] = job.timeout_ms;
  if (job.sub_state() == SubState::kHeld) row["held"] = true;
  if (job.sub_state() == SubState::kWaiting) row["retryAt"] = job.timeline.retry_ms;
  if (job.policy == PrerequisiteFailurePolicy::kIgnore) row["ignorePrerequisiteFailure"] = true;
  if (job.batch != kNo<BatchNo>) {
    row["batch"] = model.batches().id_of(job.batch).ToString();
    if (job.top_level_of_batch) row["batchIndex"] = job.batch_index;
  }
  if (job.parent != kNone32) row["parent"] = model.job(job.parent).id.ToString();
  // The cause an ended job shows, or a retried one's (the failed attempt's,
  // or the retry and the job that brought it back).
  if (const std::string_view cause = CauseRowName(job.timeline.cause);
      cause != "none" && job.state() != JobState::kFinished) {
    row["cause"] = cause;
    if (job.timeline.cause_slot != kNone32) {
      row["causeJob"] = model.job(job.timeline.cause_slot).id.ToString();
    }
  }
  if (job.timeline.abort_asked) row["cancelRequested"] = true;
  if (job.extras) {
    const JobExtras& extras = *job.extras;
    if (!extras.output_url.empty()) PutText(row, "outputUrl", extras.output_url);
    if (!extras.error.empty()) PutText(row, "error", extras.error);
    if (!extras.payload.empty()) PutText(row, "payload", extras.payload);
    if (!extras.tags.empty()) {
      json::array tags;
      for (TagNo tag : extras.tags) tags.push_back(TextValue(model.tags().name(tag)));
      row["tags"] = std::move(tags);
    }
    if (extras.webhook) {
      const WebhookSpec& spec = *extras.webhook;
      json::object hook;
      PutText(hook, "url", spec.url);
      hook["method"] = HttpMethodName(spec.method);
      if (!spec.headers.empty()) hook["headers"] = HeadersValue(spec.headers);
      if (!spec.data.empty()) PutText(hook, "data", spec.data);
      if (spec.custom) hook["custom"] = true;
      row["webhook"] = std::move(hook);
    }
  }
  return WriteJson(row);
}

std::string EncodeEdge(const JobModel& model, uint32_t prerequisite, uint32_t dependent) {
  json::object row;
  row["from"] = model.job(prerequisite).id.ToString();
  row["to"] = model.job(dependent).id.ToString();
  return WriteJson(row);
}

std::string EncodeBatch(const BatchRecord& batch, int64_t created_ms) {
  json::object row;
  PutText(row, "team", batch.team_name());
  row["created"] = created_ms;
  return WriteJson(row);
}

std::string EncodeLease(const Lease& lease) {
  json::object row;
  row["token"] = LeaseTokenText(lease.token);
  row["expires"] = lease.expires_ms;
  row["length"] = lease.length_ms;
  PutMillis(row, "abortBy", lease.abort_deadline_ms);
  PutMillis(row, "timeLimit", lease.time_limit_ms);
  if (!lease.worker.empty()) PutText(row, "worker", lease.worker);
  return WriteJson(row);
}

std::string EncodeDelivery(const Delivery& delivery) {
  json::object row;
  row["id"] = delivery.id;
  row["job"] = delivery.job_id.ToString();
  // In flight is not a state to come back to: after a restart, the attempt
  // that was under way is made again (receivers dedupe by Cascade-Delivery-Id).
  row["stage"] = delivery.stage == Delivery::Stage::kDead ? "dead" : "pending";
  row["attempts"] = delivery.attempts;
  row["created"] = delivery.created_ms;
  row["due"] = delivery.due_ms;
  PutMillis(row, "died", delivery.died_ms);
  if (!delivery.last_error.empty()) PutText(row, "lastError", delivery.last_error);
  const WebhookRequest& r = delivery.request;
  json::object request;
  PutText(request, "url", r.url);
  request["method"] = HttpMethodName(r.method);
  request["headers"] = HeadersValue(r.headers);
  PutText(request, "body", r.body);
  row["request"] = std::move(request);
  return WriteJson(row);
}

std::string EncodeWorker(const WorkerRegistry::Record& worker) {
  json::object row;
  json::array tags;
  for (const std::string& tag : worker.tags) tags.push_back(TextValue(tag));
  row["tags"] = std::move(tags);
  row["seen"] = worker.last_seen_ms;
  row["lease"] = worker.lease_ms;
  return WriteJson(row);
}

std::string EncodeLogRow(std::string_view text) {
  json::object row;
  PutText(row, "text", text);
  return WriteJson(row);
}

}  // namespace cascade::internal
