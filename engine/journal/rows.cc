// Copyright 2026 The Cascade Authors.
//
// Encoding the journal's rows.

#include "engine/journal/rows.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"
#include "engine/journal/row_text.h"
#include "engine/util/strings.h"
#include "wire/json.h"

namespace cascade::internal {
namespace {

using wire::IsValidUtf8;
using wire::JsonWriter;

// Members of the object being written. A row leaves out what reads back as
// its default (recovery.cc): an unset time, a zero, a false flag.
void PutInteger(JsonWriter& w, std::string_view name, int64_t n) {
  w.Key(name);
  w.Integer(n);
}
void PutString(JsonWriter& w, std::string_view name, std::string_view text) {
  w.Key(name);
  w.String(text);
}
void PutMillis(JsonWriter& w, std::string_view name, int64_t ms) {
  if (ms != kUnsetMillis) PutInteger(w, name, ms);
}
void PutNonZero(JsonWriter& w, std::string_view name, int64_t n) {
  if (n != 0) PutInteger(w, name, n);
}
void PutFlag(JsonWriter& w, std::string_view name, bool set) {
  if (!set) return;
  w.Key(name);
  w.Bool(true);
}

void PutHeaders(JsonWriter& w, std::string_view name,
                const std::vector<std::pair<std::string, std::string>>& headers) {
  w.Key(name);
  w.BeginArray();
  for (const auto& [header, value] : headers) {
    w.BeginArray();
    TextValue(w, header);
    TextValue(w, value);
    w.EndArray();
  }
  w.EndArray();
}

}  // namespace

void TextValue(JsonWriter& w, std::string_view text) {
  if (IsValidUtf8(text)) {
    w.String(text);
    return;
  }
  w.BeginObject();
  w.Key("base64");
  w.String(absl::Base64Escape(Sv(text)));
  w.EndObject();
}

void PutText(JsonWriter& w, std::string_view name, std::string_view text) {
  w.Key(name);
  TextValue(w, text);
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
  std::string text;
  text.reserve(320);
  JsonWriter w(&text);
  w.BeginObject();
  PutText(w, "team", model.teams().name(job.team));
  PutString(w, "state", StateName(job.state()));
  PutInteger(w, "created", job.created_ms);
  PutMillis(w, "updated", job.timeline.updated_ms);
  PutMillis(w, "started", job.timeline.started_ms);
  PutMillis(w, "finished", job.timeline.finished_ms);
  PutMillis(w, "errorAt", job.timeline.error_ms);
  if (job.timeline.progress != 0.0f) {
    w.Key("progress");
    w.Number(job.timeline.progress);
  }
  PutNonZero(w, "attempts", job.timeline.attempts);
  if (job.template_ref != kNo<TemplateNo>) {
    PutText(w, "template", model.templates().name(job.template_ref));
  }
  PutNonZero(w, "totalAssets", job.total_assets);
  PutNonZero(w, "priority", job.priority);
  // Always written, so a row without it is one from before these settings
  // (recovery gives such a job the engine's defaults).
  PutInteger(w, "maxAttempts", job.max_attempts);
  PutNonZero(w, "retryBackoffMs", job.retry_backoff_ms);
  PutNonZero(w, "timeoutMs", job.timeout_ms);
  PutFlag(w, "held", job.sub_state() == SubState::kHeld);
  if (job.sub_state() == SubState::kWaiting) PutInteger(w, "retryAt", job.timeline.retry_ms);
  PutFlag(w, "ignorePrerequisiteFailure", job.policy == PrerequisiteFailurePolicy::kIgnore);
  if (job.batch != kNo<BatchNo>) {
    PutString(w, "batch", model.batches().id_of(job.batch).ToString());
    if (job.top_level_of_batch) PutInteger(w, "batchIndex", job.batch_index);
  }
  if (job.parent != kNone32) PutString(w, "parent", model.job(job.parent).id.ToString());
  // The cause an ended job shows, or a retried one's (the failed attempt's,
  // or the retry and the job that brought it back).
  if (const std::string_view cause = CauseRowName(job.timeline.cause);
      cause != "none" && job.state() != JobState::kFinished) {
    PutString(w, "cause", cause);
    if (job.timeline.cause_slot != kNone32) {
      PutString(w, "causeJob", model.job(job.timeline.cause_slot).id.ToString());
    }
  }
  PutFlag(w, "cancelRequested", job.timeline.abort_asked);
  if (job.extras) {
    const JobExtras& extras = *job.extras;
    if (!extras.output_url.empty()) PutText(w, "outputUrl", extras.output_url);
    if (!extras.error.empty()) PutText(w, "error", extras.error);
    if (!extras.payload.empty()) PutText(w, "payload", extras.payload);
    if (!extras.tags.empty()) {
      w.Key("tags");
      w.BeginArray();
      for (TagNo tag : extras.tags) TextValue(w, model.tags().name(tag));
      w.EndArray();
    }
    if (extras.webhook) {
      const WebhookSpec& spec = *extras.webhook;
      w.Key("webhook");
      w.BeginObject();
      PutText(w, "url", spec.url);
      PutString(w, "method", HttpMethodName(spec.method));
      if (!spec.headers.empty()) PutHeaders(w, "headers", spec.headers);
      if (!spec.data.empty()) PutText(w, "data", spec.data);
      PutFlag(w, "custom", spec.custom);
      w.EndObject();
    }
  }
  w.EndObject();
  return text;
}

std::string EncodeEdge(const JobModel& model, uint32_t prerequisite, uint32_t dependent) {
  std::string text;
  JsonWriter w(&text);
  w.BeginObject();
  PutString(w, "from", model.job(prerequisite).id.ToString());
  PutString(w, "to", model.job(dependent).id.ToString());
  w.EndObject();
  return text;
}

std::string EncodeBatch(const BatchRecord& batch, int64_t created_ms) {
  std::string text;
  JsonWriter w(&text);
  w.BeginObject();
  PutText(w, "team", batch.team_name());
  PutInteger(w, "created", created_ms);
  w.EndObject();
  return text;
}

std::string EncodeLease(const Lease& lease) {
  std::string text;
  JsonWriter w(&text);
  w.BeginObject();
  PutString(w, "token", LeaseTokenText(lease.token));
  PutInteger(w, "expires", lease.expires_ms);
  PutInteger(w, "length", lease.length_ms);
  PutMillis(w, "abortBy", lease.abort_deadline_ms);
  PutMillis(w, "timeLimit", lease.time_limit_ms);
  if (!lease.worker.empty()) PutText(w, "worker", lease.worker);
  w.EndObject();
  return text;
}

std::string EncodeDelivery(const Delivery& delivery) {
  std::string text;
  JsonWriter w(&text);
  w.BeginObject();
  PutString(w, "id", delivery.id);
  PutString(w, "job", delivery.job_id.ToString());
  // In flight is not a state to come back to: after a restart, the attempt
  // that was under way is made again (receivers dedupe by Cascade-Delivery-Id).
  PutString(w, "stage", delivery.stage == Delivery::Stage::kDead ? "dead" : "pending");
  PutInteger(w, "attempts", delivery.attempts);
  PutInteger(w, "created", delivery.created_ms);
  PutInteger(w, "due", delivery.due_ms);
  PutMillis(w, "died", delivery.died_ms);
  if (!delivery.last_error.empty()) PutText(w, "lastError", delivery.last_error);
  const WebhookRequest& r = delivery.request;
  w.Key("request");
  w.BeginObject();
  PutText(w, "url", r.url);
  PutString(w, "method", HttpMethodName(r.method));
  PutHeaders(w, "headers", r.headers);
  PutText(w, "body", r.body);
  w.EndObject();
  w.EndObject();
  return text;
}

std::string EncodeWorker(const WorkerRegistry::Record& worker) {
  std::string text;
  JsonWriter w(&text);
  w.BeginObject();
  w.Key("tags");
  w.BeginArray();
  for (const std::string& tag : worker.tags) TextValue(w, tag);
  w.EndArray();
  PutInteger(w, "seen", worker.last_seen_ms);
  PutInteger(w, "lease", worker.lease_ms);
  w.EndObject();
  return text;
}

std::string EncodeLogRow(std::string_view text) {
  std::string row;
  JsonWriter w(&row);
  w.BeginObject();
  PutText(w, "text", text);
  w.EndObject();
  return row;
}

}  // namespace cascade::internal
