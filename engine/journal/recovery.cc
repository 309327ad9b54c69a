// Copyright 2026 The Cascade Authors.
//
// Recovery: rebuilds the job model, the leases and the webhook outbox from
// the journal's rows (engine/journal/rows.h writes them).
//
// What is journaled is the state that cannot be worked out from other state:
// each job's record, each edge of the dependency graph (in the order it was
// added, so a job's prerequisites and dependents come back in the same
// order), each batch's identity, each lease and each delivery in the outbox.
// Everything else is rebuilt by the job model as it restores them, with the
// same code that keeps it in step while the engine runs: the id map, the
// per-team and per-state indexes, the claim queues, the batch aggregates, the
// graph's two counters and the deadline set. docs/durability.md lists the
// row formats.
//
// A row that does not decode, or names a job, batch or edge that is not
// there, fails recovery with DataLoss naming the row: the store's groups are
// atomic, so such a row means the file was damaged or written by something
// else, and guessing would lose data silently.

#include "engine/journal/recovery.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/journal/rows.h"
#include "engine/util/status_macros.h"
#include "engine/util/strings.h"

namespace cascade::internal {
namespace {

namespace json = boost::json;

// Reads one row's fields; the first problem is kept and every later read
// returns a default, so a decoder reads on and checks ok() once.
class RowReader {
 public:
  RowReader(Table table, std::string_view key, std::string_view value) : table_(table), key_(key) {
    boost::system::error_code ec;
    json::value parsed = json::parse(json::string_view(value.data(), value.size()), ec);
    if (ec) {
      Fail(absl::StrCat("the value is not JSON (", ec.message(), ")"));
    } else if (!parsed.is_object()) {
      Fail("the value is not a JSON object");
    } else {
      row_ = std::move(parsed.as_object());
    }
  }

  const json::object& row() const { return row_; }
  bool ok() const { return error_.empty(); }
  absl::Status status() const {
    if (ok()) return absl::OkStatus();
    return absl::DataLossError(absl::StrCat("cannot recover row ", Sv(TableName(table_)), "/",
                                            absl::CHexEscape(Sv(key_)), ": ", error_));
  }
  void Fail(std::string_view what) {
    if (error_.empty()) error_ = std::string(what);
  }
  void Fail(const absl::Status& status) {
    Fail(std::string_view(status.message().data(), status.message().size()));
  }

  // A field of `object` (the row by default); null if it is missing.
  const json::value* Field(std::string_view name, const json::object* object = nullptr) {
    const json::object& o = object != nullptr ? *object : row_;
    auto it = o.find(json::string_view(name.data(), name.size()));
    return it == o.end() ? nullptr : &it->value();
  }
  int64_t Int(std::string_view name, std::optional<int64_t> fallback = std::nullopt,
              const json::object* object = nullptr) {
    const json::value* v = Field(name, object);
    if (v == nullptr) {
      if (!fallback) Fail(absl::StrCat("\"", Sv(name), "\" is missing"));
      return fallback.value_or(0);
    }
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64() && v->as_uint64() <= uint64_t{INT64_MAX}) {
      return static_cast<int64_t>(v->as_uint64());
    }
    Fail(absl::StrCat("\"", Sv(name), "\" is not an integer"));
    return 0;
  }
  // An integer in [lo, hi].
  int64_t Bounded(std::string_view name, int64_t lo, int64_t hi,
                  std::optional<int64_t> fallback = std::nullopt) {
    const int64_t n = Int(name, fallback);
    if (n < lo || n > hi) {
      Fail(absl::StrCat("\"", Sv(name), "\" is ", n, ", outside ", lo, "-", hi));
      return lo;
    }
    return n;
  }
  int64_t Millis(std::string_view name, const json::object* object = nullptr) {
    return Int(name, kUnsetMillis, object);
  }
  double Number(std::string_view name, double fallback) {
    const json::value* v = Field(name);
    if (v == nullptr) return fallback;
    if (v->is_double()) return v->as_double();
    if (v->is_int64()) return static_cast<double>(v->as_int64());
    if (v->is_uint64()) return static_cast<double>(v->as_uint64());
    Fail(absl::StrCat("\"", Sv(name), "\" is not a number"));
    return fallback;
  }
  bool Bool(std::string_view name, const json::object* object = nullptr) {
    const json::value* v = Field(name, object);
    if (v == nullptr) return false;
    if (!v->is_bool()) Fail(absl::StrCat("\"", Sv(name), "\" is not a boolean"));
    return v->is_bool() && v->as_bool();
  }
  std::string TextOf(const json::value& v, std::string_view what) {
    if (v.is_string()) return std::string(v.as_string().data(), v.as_string().size());
    if (v.is_object()) {
      const json::value* encoded = Field("base64", &v.as_object());
      std::string bytes;
      if (encoded != nullptr && encoded->is_string() &&
          absl::Base64Unescape(
              absl::string_view(encoded->as_string().data(), encoded->as_string().size()),
              &bytes)) {
        return bytes;
      }
    }
    Fail(absl::StrCat(Sv(what), " is not text"));
    return "";
  }
  // A text field; `fallback` if missing (an error if there is none).
  std::string Text(std::string_view name, std::optional<std::string_view> fallback = std::nullopt,
                   const json::object* object = nullptr) {
    const json::value* v = Field(name, object);
    if (v == nullptr) {
      if (!fallback) Fail(absl::StrCat("\"", Sv(name), "\" is missing"));
      return std::string(fallback.value_or(""));
    }
    return TextOf(*v, absl::StrCat("\"", Sv(name), "\""));
  }
  std::optional<Ulid> Id(std::string_view name, const json::object* object = nullptr) {
    const json::value* v = Field(name, object);
    if (v == nullptr) return std::nullopt;
    absl::StatusOr<Ulid> id = Ulid::Parse(TextOf(*v, name));
    if (!id.ok()) {
      Fail(absl::StrCat("\"", Sv(name), "\": ", id.status().message()));
      return std::nullopt;
    }
    return *id;
  }
  const json::array* Array(std::string_view name, const json::object* object = nullptr) {
    const json::value* v = Field(name, object);
    if (v == nullptr) return nullptr;
    if (!v->is_array()) Fail(absl::StrCat("\"", Sv(name), "\" is not an array"));
    return v->is_array() ? &v->as_array() : nullptr;
  }
  const json::object* Object(std::string_view name) {
    const json::value* v = Field(name);
    if (v == nullptr) return nullptr;
    if (!v->is_object()) Fail(absl::StrCat("\"", Sv(name), "\" is not an object"));
    return v->is_object() ? &v->as_object() : nullptr;
  }
  std::vector<std::pair<std::string, std::string>> Headers(const json::object* object) {
    std::vector<std::pair<std::string, std::string>> headers;
    const json::array* list = Array("headers", object);
    if (list == nullptr) return headers;
    for (const json::value& entry : *list) {
      if (!entry.is_array() || entry.as_array().size() != 2) {
        Fail("a header is not a [name, value] pair");
        break;
      }
      headers.emplace_back(TextOf(entry.as_array()[0], "a header name"),
                           TextOf(entry.as_array()[1], "a header value"));
    }
    return headers;
  }

 private:
  const Table table_;
  const std::string_view key_;
  json::object row_;
  std::string error_;
};

absl::StatusOr<uint64_t> ParseHexKey(Table table, std::string_view key) {
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), n, 16);
  if (key.size() != 16 || ec != std::errc() || end != key.data() + key.size()) {
    return absl::DataLossError(absl::StrCat("cannot recover row ", Sv(TableName(table)), "/",
                                            absl::CHexEscape(Sv(key)),
                                            ": the key is not 16 hex digits"));
  }
  return n;
}

}  // namespace

absl::Status Recover(Store& store, const RecoveryTargets& into,
                     const RequestBuilder& build_request) {
  JobModel& model = into.model;
  LeaseBook& leases = into.leases;
  Outbox& outbox = into.outbox;
  // Batches first (jobs name them), then jobs in id order, which is the order
  // they were made in: slots come back in creation order.
  absl::flat_hash_map<BatchId, BatchNo> batch_numbers;
  CASCADE_RETURN_IF_ERROR(
      store.Load(Table::kBatches, [&](std::string_view key, std::string_view value) {
        RowReader r(Table::kBatches, key, value);
        absl::StatusOr<BatchId> id = BatchId::Parse(key);
        if (!id.ok()) r.Fail(id.status());
        const std::string team = r.Text("team");
        if (team.empty()) r.Fail("\"team\" is empty");
        CASCADE_RETURN_IF_ERROR(r.status());
        batch_numbers[*id] = model.RestoreBatch(*id, team);
        return absl::OkStatus();
      }));

  std::vector<std::pair<uint32_t, JobId>> causes;
  CASCADE_RETURN_IF_ERROR(store.Load(Table::kJobs, [&](std::string_view key,
                                                       std::string_view value) {
    RowReader r(Table::kJobs, key, value);
    RestoredJob job;
    absl::StatusOr<JobId> id = JobId::Parse(key);
    if (!id.ok()) r.Fail(id.status());
    if (r.ok() && model.size() > 0 && !(model.job(model.size() - 1).id < *id)) {
      r.Fail("jobs are not in id order");
    }
    job.team = r.Text("team");
    if (job.team.empty()) r.Fail("\"team\" is empty");
    absl::StatusOr<JobState> state = ParseState(r.Text("state"));
    if (!state.ok()) r.Fail(state.status());
    std::optional<BatchId> batch_id = r.Id("batch");
    if (batch_id) {
      auto it = batch_numbers.find(*batch_id);
      if (it == batch_numbers.end()) {
        r.Fail(absl::StrCat("batch ", batch_id->ToString(), " is not there"));
      } else {
        job.batch = it->second;
      }
    }
    const bool top_level = r.Field("batchIndex") != nullptr;
    const int64_t batch_index = r.Bounded("batchIndex", 0, kMaxBatchJobs - 1, 0);
    if (top_level && job.batch == kNo<BatchNo>) r.Fail("\"batchIndex\" without \"batch\"");
    if (top_level && job.batch != kNo<BatchNo> &&
        model.batches().at(job.batch).top_level().size() >= kMaxBatchJobs) {
      r.Fail("the batch has more top-level jobs than a batch can");
    }
    if (top_level) job.batch_index = static_cast<uint16_t>(batch_index);
    if (std::optional<JobId> parent_id = r.Id("parent")) {
      std::optional<uint32_t> parent = model.FindAny(*parent_id);
      if (!parent) {
        r.Fail(absl::StrCat("parent ", parent_id->ToString(), " is not an earlier job"));
      } else {
        job.parent = *parent;
      }
    }
    std::optional<TransitionCause> cause = ParseCauseRowName(r.Text("cause", "none"));
    if (!cause) r.Fail("\"cause\" is not a known cause");
    std::optional<JobId> cause_job = r.Id("causeJob");
    const bool names_job = cause == TransitionCause::kCascade ||
                           cause == TransitionCause::kPrerequisiteFailed ||
                           cause == TransitionCause::kDependentsFailed;
    // A retry names the job that brought it back, unless it was named.
    if (cause && cause != TransitionCause::kRetried && names_job != cause_job.has_value()) {
      r.Fail("\"causeJob\" does not match \"cause\"");
    }
    const double progress = r.Number("progress", 0.0);
    if (!(progress >= 0.0 && progress <= 100.0)) r.Fail("\"progress\" is not 0-100");
    job.created_ms = r.Int("created");
    JobTimeline& timeline = job.timeline;
    timeline.updated_ms = r.Millis("updated");
    timeline.started_ms = r.Millis("started");
    timeline.finished_ms = r.Millis("finished");
    timeline.error_ms = r.Millis("errorAt");
    timeline.progress = static_cast<float>(progress);
    timeline.attempts = static_cast<uint16_t>(r.Bounded("attempts", 0, UINT16_MAX, 0));
    timeline.cause = cause.value_or(TransitionCause::kSubmitted);
    timeline.abort_asked = r.Bool("cancelRequested");
    timeline.retry_ms = r.Millis("retryAt");
    if (r.Field("maxAttempts") != nullptr) {
      job.max_attempts =
          static_cast<int>(r.Bounded("maxAttempts", kMinMaxAttempts, kMaxMaxAttempts));
      job.retry_backoff_ms =
          r.Bounded("retryBackoffMs", 0, absl::ToInt64Milliseconds(kMaxRetryBackoff), 0);
      job.timeout_ms = r.Bounded("timeoutMs", 0, absl::ToInt64Milliseconds(kMaxRenderTimeout), 0);
    } else if (state.ok() && r.Field("cause") == nullptr &&
               timeline.attempts > (*state == JobState::kRendering ? 1 : 0) &&
               (*state == JobState::kQueued || *state == JobState::kRendering)) {
      // A row from before contract §14 (the engine's defaults apply) of a
      // job back from an attempt: then only a release or an expiry did
      // that, and the job now shows it, as one journaled today would.
      timeline.cause = TransitionCause::kLeaseExpired;
    }
    job.template_id = r.Text("template", "");
    job.total_assets = static_cast<uint32_t>(r.Bounded("totalAssets", 0, UINT32_MAX, 0));
    job.priority = static_cast<int32_t>(r.Bounded("priority", INT32_MIN, INT32_MAX, 0));
    job.policy = r.Bool("ignorePrerequisiteFailure") ? PrerequisiteFailurePolicy::kIgnore
                                                     : PrerequisiteFailurePolicy::kFail;
    if (const json::array* list = r.Array("tags")) {
      for (const json::value& tag : *list) job.tags.push_back(r.TextOf(tag, "a tag"));
    }
    if (const json::object* hook = r.Object("webhook")) {
      job.webhook = std::make_unique<WebhookSpec>();
      job.webhook->url = r.Text("url", std::nullopt, hook);
      absl::StatusOr<HttpMethod> method = ParseHttpMethod(r.Text("method", "POST", hook));
      if (!method.ok()) r.Fail(method.status());
      job.webhook->method = method.value_or(HttpMethod::kPost);
      job.webhook->headers = r.Headers(hook);
      job.webhook->data = r.Text("data", "", hook);
      job.webhook->custom = r.Bool("custom", hook);
    }
    job.output_url = r.Text("outputUrl", "");
    job.error = r.Text("error", "");
    job.payload = r.Text("payload", "");
    if (r.ok()) {
      job.id = *id;
      job.state = *state;
      // An abort asked for is the Aborting sub-state while the job renders,
      // and history once it has ended.
      job.sub = timeline.abort_asked && *state == JobState::kRendering ? SubState::kAborting
                : timeline.retry_ms != kUnsetMillis                    ? SubState::kWaiting
                : r.Bool("held")                                       ? SubState::kHeld
                                                                       : SubState::kNone;
      if (!JobModel::CanRestore(job.state, job.sub)) {
        r.Fail("the state cannot be restored");
      }
    }
    CASCADE_RETURN_IF_ERROR(r.status());
    const uint32_t slot = model.Restore(std::move(job));
    if (cause_job) causes.emplace_back(slot, *cause_job);
    return absl::OkStatus();
  }));
  for (const auto& [slot, id] : causes) {
    std::optional<uint32_t> cause_slot = model.FindAny(id);
    if (!cause_slot) {
      return absl::DataLossError(absl::StrCat("cannot recover row jobs/",
                                              model.job(slot).id.ToString(), ": \"causeJob\" ",
                                              id.ToString(), " is not there"));
    }
    model.RestoreCause(slot, *cause_slot);
  }

  CASCADE_RETURN_IF_ERROR(
      store.Load(Table::kEdges, [&](std::string_view key, std::string_view value) {
        CASCADE_ASSIGN_OR_RETURN(uint64_t n, ParseHexKey(Table::kEdges, key));
        RowReader r(Table::kEdges, key, value);
        std::optional<JobId> from = r.Id("from"), to = r.Id("to");
        uint32_t ends[2] = {kNone32, kNone32};
        for (int i = 0; i < 2 && r.ok(); ++i) {
          const std::optional<JobId>& id = i == 0 ? from : to;
          std::optional<uint32_t> slot = id ? model.FindAny(*id) : std::nullopt;
          if (!slot) {
            r.Fail(absl::StrCat(i == 0 ? "\"from\"" : "\"to\"", " names no job"));
          } else {
            ends[i] = *slot;
          }
        }
        if (r.ok() && ends[0] == ends[1]) r.Fail("the edge joins a job to itself");
        CASCADE_RETURN_IF_ERROR(r.status());
        model.AddEdge(ends[0], ends[1], n);
        return absl::OkStatus();
      }));
  for (uint32_t slot = 0; slot < model.size(); ++slot) {
    const JobRecord& job = model.job(slot);
    if (job.parent != kNone32 && job.vertex == kNoVertex) {
      return absl::DataLossError(absl::StrCat("cannot recover job ", job.id.ToString(),
                                              ": no edge joins it to its parent"));
    }
  }

  CASCADE_RETURN_IF_ERROR(
      store.Load(Table::kWorkers, [&](std::string_view key, std::string_view value) {
        RowReader r(Table::kWorkers, key, value);
        if (key.empty() || key.size() > kMaxWorkerNameBytes)
          r.Fail("the name is empty or too long");
        WorkerRegistry::Record worker;
        worker.last_seen_ms = r.Int("seen");
        worker.lease_ms = r.Bounded("lease", 1, INT64_MAX);
        if (const json::array* tags = r.Array("tags")) {
          for (const json::value& tag : *tags) worker.tags.push_back(r.TextOf(tag, "a tag"));
        }
        CASCADE_RETURN_IF_ERROR(r.status());
        into.workers.Restore(std::string(key), std::move(worker));
        return absl::OkStatus();
      }));

  CASCADE_RETURN_IF_ERROR(
      store.Load(Table::kLeases, [&](std::string_view key, std::string_view value) {
        RowReader r(Table::kLeases, key, value);
        absl::StatusOr<JobId> id = JobId::Parse(key);
        std::optional<uint32_t> slot = id.ok() ? model.FindAny(*id) : std::nullopt;
        if (!slot) r.Fail("no job has this id");
        Lease lease;
        std::optional<uint64_t> token = ParseLeaseToken(r.Text("token"));
        if (!token || *token == 0) {
          r.Fail("\"token\" is not 16 hex digits");
        } else {
          lease.token = *token;
        }
        lease.expires_ms = r.Int("expires");
        lease.length_ms = r.Bounded("length", 1, INT64_MAX);
        lease.abort_deadline_ms = r.Millis("abortBy");
        lease.time_limit_ms = r.Millis("timeLimit");
        const std::string worker = r.Text("worker", "");
        if (!worker.empty()) lease.worker = into.workers.Intern(worker);
        const uint32_t leased = slot.value_or(kNone32);
        if (r.ok() && model.job(leased).state() != JobState::kRendering) {
          r.Fail("the job is not rendering");
        }
        CASCADE_RETURN_IF_ERROR(r.status());
        leases.Restore(leased, lease);
        return absl::OkStatus();
      }));
  for (uint32_t slot = 0; slot < model.size(); ++slot) {
    if (model.job(slot).state() == JobState::kRendering && !leases.Find(slot)) {
      return absl::DataLossError(absl::StrCat("cannot recover job ", model.job(slot).id.ToString(),
                                              ": it is rendering and has no lease"));
    }
  }

  // Render logs: "<job id>/<16 hex>" keys, so a job's rows come in order.
  CASCADE_RETURN_IF_ERROR(
      store.Load(Table::kLogs, [&](std::string_view key, std::string_view value) {
        RowReader r(Table::kLogs, key, value);
        const size_t slash = key.find('/');
        absl::StatusOr<JobId> id = slash == std::string_view::npos
                                       ? absl::InvalidArgumentError("the key has no '/'")
                                       : absl::StatusOr<JobId>(JobId::Parse(key.substr(0, slash)));
        std::optional<uint32_t> slot = id.ok() ? model.FindAny(*id) : std::nullopt;
        if (!id.ok()) r.Fail(id.status());
        if (r.ok() && !slot) r.Fail("no job has this id");
        uint64_t row = 0;
        if (r.ok()) {
          absl::StatusOr<uint64_t> n = ParseHexKey(Table::kLogs, key.substr(slash + 1));
          if (!n.ok()) r.Fail("the row number is not 16 hex digits");
          row = n.value_or(0);
        }
        const std::string text = r.Text("text");
        CASCADE_RETURN_IF_ERROR(r.status());
        into.logs.Restore(slot.value_or(0), row, text);  // set: r is ok
        return absl::OkStatus();
      }));

  return store.Load(Table::kOutbox, [&](std::string_view key, std::string_view value) {
    CASCADE_ASSIGN_OR_RETURN(uint64_t n, ParseHexKey(Table::kOutbox, key));
    RowReader r(Table::kOutbox, key, value);
    Delivery delivery;
    delivery.id = r.Text("id");
    std::optional<JobId> job_id = r.Id("job");
    std::optional<uint32_t> slot;
    if (job_id) slot = model.FindAny(*job_id);
    if (r.ok() && !slot) r.Fail("\"job\" names no job");
    if (r.ok() && !(model.job(*slot).extras && model.job(*slot).extras->webhook)) {
      r.Fail("the job has no webhook");
    }
    const std::string stage = r.Text("stage");
    if (stage != "pending" && stage != "dead") r.Fail("\"stage\" is not pending or dead");
    delivery.attempts = static_cast<int>(r.Bounded("attempts", 0, INT32_MAX));
    delivery.created_ms = r.Int("created");
    delivery.due_ms = r.Int("due");
    delivery.died_ms = r.Millis("died");
    delivery.last_error = r.Text("lastError", "");
    const json::object* request = r.Object("request");
    if (request != nullptr) {
      WebhookRequest& out = delivery.request;
      out.url = r.Text("url", std::nullopt, request);
      absl::StatusOr<HttpMethod> method = ParseHttpMethod(r.Text("method", "POST", request));
      if (!method.ok()) r.Fail(method.status());
      out.method = method.value_or(HttpMethod::kPost);
      out.headers = r.Headers(request);
      out.body = r.Text("body", std::nullopt, request);
    }
    CASCADE_RETURN_IF_ERROR(r.status());
    // Rows written before requests were built when the job ended: built now,
    // from the job's final view.
    if (request == nullptr) delivery.request = build_request(*slot, delivery.id);
    delivery.slot = *slot;
    delivery.job_id = *job_id;
    delivery.team = model.teams().name(model.job(*slot).team);
    delivery.stage = stage == "dead" ? Delivery::Stage::kDead : Delivery::Stage::kPending;
    absl::StatusOr<Ulid> delivery_ulid = Ulid::Parse(delivery.id);
    if (delivery_ulid.ok()) model.ObserveId(*delivery_ulid);
    outbox.Restore(n, std::move(delivery));
    return absl::OkStatus();
  });
}

}  // namespace cascade::internal
