// Copyright 2026 The Cascade Authors.
//
// The engine's journal: the rows a write section changed, encoded as compact
// JSON for the store, and recovery, which rebuilds the engine from them.
//
// What is journaled is the state that cannot be worked out from other state:
// each job's record, each edge of the dependency graph (in the order it was
// added, so a job's prerequisites and dependents come back in the same
// order), each batch's identity, each lease and each delivery in the outbox.
// Everything else is rebuilt at recovery: the id map, the per-team and
// per-state indexes, the claim queues, the batch aggregates, the graph's two
// counters and the deadline set. docs/durability.md lists the row formats.
//
// A row that does not decode, or names a job, batch or edge that is not
// there, fails recovery with DataLoss naming the row: the store's groups are
// atomic, so such a row means the file was damaged or written by something
// else, and guessing would lose data silently.

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/engine_impl.h"
#include "engine/json/wire.h"
#include "engine/util/status_macros.h"

namespace cascade::internal {
namespace {

namespace json = boost::json;

// ---- Encoding -----------------------------------------------------------------

// Text that is valid UTF-8 is stored as a JSON string (readable in the file);
// other bytes as {"base64": "..."}, so nothing is lost to the JSON writer's
// replacement of invalid sequences.
json::value TextValue(std::string_view text) {
  if (IsValidUtf8(text)) return json::string(text);
  json::object wrapped;
  wrapped["base64"] = absl::Base64Escape(Sv(text));
  return wrapped;
}

void PutText(json::object& row, std::string_view name, std::string_view text) {
  row[name] = TextValue(text);
}

void PutMillis(json::object& row, std::string_view name, int64_t ms) {
  if (ms != kUnsetMillis) row[name] = ms;
}

// Fixed-width hex, so that key order is number order.
std::string HexKey(uint64_t n) { return absl::StrFormat("%016x", n); }

std::string_view CauseName(ErrorCause cause) {
  switch (cause) {
    case ErrorCause::kNone:
      return "none";
    case ErrorCause::kCustom:
      return "custom";
    case ErrorCause::kCancelledViaApi:
      return "cancelled_via_api";
    case ErrorCause::kCancelCascade:
      return "cancel_cascade";
    case ErrorCause::kPrerequisiteFailed:
      return "prerequisite_failed";
    case ErrorCause::kDependentFailed:
      return "dependent_failed";
    case ErrorCause::kLeaseExpired:
      return "lease_expired";
  }
  return "none";
}

std::optional<ErrorCause> ParseCause(std::string_view name) {
  for (ErrorCause cause : {ErrorCause::kNone, ErrorCause::kCustom, ErrorCause::kCancelledViaApi,
                           ErrorCause::kCancelCascade, ErrorCause::kPrerequisiteFailed,
                           ErrorCause::kDependentFailed, ErrorCause::kLeaseExpired}) {
    if (CauseName(cause) == name) return cause;
  }
  return std::nullopt;
}

// Causes whose text names another job.
bool NamesJob(ErrorCause cause) {
  return cause == ErrorCause::kCancelCascade || cause == ErrorCause::kPrerequisiteFailed ||
         cause == ErrorCause::kDependentFailed;
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

// ---- Decoding -----------------------------------------------------------------

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

// ---- Journaling ------------------------------------------------------------------

void EngineImpl::JournalEdge(uint64_t key, uint32_t prerequisite, uint32_t dependent) {
  if (!journaling()) return;
  json::object row;
  row["from"] = table_[prerequisite].id.ToString();
  row["to"] = table_[dependent].id.ToString();
  journal_.rows.push_back(Change::Put(Table::kEdges, HexKey(key), WriteJson(row)));
}

void EngineImpl::JournalPurge(absl::Span<const uint32_t> jobs, absl::Span<const uint64_t> edges,
                              absl::Span<const uint32_t> batches,
                              absl::Span<const uint64_t> deliveries) {
  if (!journaling()) return;
  for (uint32_t slot : jobs) {
    journal_.rows.push_back(Change::Delete(Table::kJobs, table_[slot].id.ToString()));
  }
  for (uint64_t key : edges) journal_.rows.push_back(Change::Delete(Table::kEdges, HexKey(key)));
  for (uint32_t b : batches) {
    journal_.rows.push_back(Change::Delete(Table::kBatches, batches_.id_of(b).ToString()));
  }
  for (uint64_t key : deliveries) {
    journal_.rows.push_back(Change::Delete(Table::kOutbox, HexKey(key)));
  }
}

void EngineImpl::JournalBatch(const BatchRecord& batch, int64_t created_ms) {
  if (!journaling()) return;
  json::object row;
  PutText(row, "team", batch.team_name());
  row["created"] = created_ms;
  journal_.rows.push_back(Change::Put(Table::kBatches, batch.id().ToString(), WriteJson(row)));
}

std::vector<Change> EngineImpl::TakeJournal() {
  auto unique = [](auto& v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
  };
  std::vector<Change> changes = std::move(journal_.rows);
  journal_.rows.clear();
  unique(journal_.jobs);
  unique(journal_.leases);
  unique(journal_.outbox);
  changes.reserve(changes.size() + journal_.jobs.size() + journal_.leases.size() +
                  journal_.outbox.size());
  for (uint32_t slot : journal_.jobs) {
    if (table_[slot].purged()) continue;  // its delete is in the rows already
    changes.push_back(Change::Put(Table::kJobs, table_[slot].id.ToString(), EncodeJob(slot)));
  }
  for (uint32_t slot : journal_.leases) {
    std::string key = table_[slot].id.ToString();
    auto it = leases_.find(slot);
    changes.push_back(it == leases_.end()
                          ? Change::Delete(Table::kLeases, std::move(key))
                          : Change::Put(Table::kLeases, std::move(key), EncodeLease(it->second)));
  }
  for (uint64_t key : journal_.outbox) {
    auto it = outbox_.find(key);
    changes.push_back(it == outbox_.end()
                          ? Change::Delete(Table::kOutbox, HexKey(key))
                          : Change::Put(Table::kOutbox, HexKey(key), EncodeDelivery(it->second)));
  }
  journal_.jobs.clear();
  journal_.leases.clear();
  journal_.outbox.clear();
  return changes;
}

std::string EngineImpl::EncodeJob(uint32_t slot) const {
  const JobRecord& job = table_[slot];
  json::object row;
  PutText(row, "team", teams_.name(job.team));
  row["state"] = StateName(job.state());
  row["created"] = job.created_ms;
  PutMillis(row, "updated", job.timeline.updated_ms);
  PutMillis(row, "started", job.timeline.started_ms);
  PutMillis(row, "finished", job.timeline.finished_ms);
  PutMillis(row, "errorAt", job.timeline.error_ms);
  if (job.timeline.progress != 0.0f) row["progress"] = job.timeline.progress;
  if (job.timeline.attempts != 0) row["attempts"] = job.timeline.attempts;
  if (job.template_ref != kNone32) PutText(row, "template", templates_.name(job.template_ref));
  if (job.total_assets != 0) row["totalAssets"] = job.total_assets;
  if (job.priority != 0) row["priority"] = job.priority;
  if (job.policy == PrerequisiteFailurePolicy::kIgnore) row["ignorePrerequisiteFailure"] = true;
  if (job.batch != kNone32) {
    row["batch"] = batches_.id_of(job.batch).ToString();
    if (job.top_level_of_batch) row["batchIndex"] = job.batch_index;
  }
  if (job.parent != kNone32) row["parent"] = table_[job.parent].id.ToString();
  if (job.cause != ErrorCause::kNone) row["cause"] = CauseName(job.cause);
  if (job.cause_slot != kNone32) row["causeJob"] = table_[job.cause_slot].id.ToString();
  if (job.cancel_requested) row["cancelRequested"] = true;
  if (job.extras) {
    const JobExtras& extras = *job.extras;
    if (!extras.output_url.empty()) PutText(row, "outputUrl", extras.output_url);
    if (!extras.error.empty()) PutText(row, "error", extras.error);
    if (!extras.payload.empty()) PutText(row, "payload", extras.payload);
    if (!extras.tags.empty()) {
      json::array tags;
      for (uint32_t tag : extras.tags) tags.push_back(TextValue(tags_.name(tag)));
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

std::string EngineImpl::EncodeLease(const ActiveLease& lease) const {
  json::object row;
  row["token"] = absl::StrFormat("%016x", lease.token);
  row["expires"] = lease.expires_ms;
  row["length"] = lease.length_ms;
  PutMillis(row, "abortBy", lease.abort_deadline_ms);
  return WriteJson(row);
}

std::string EngineImpl::EncodeDelivery(const Delivery& delivery) const {
  json::object row;
  row["id"] = delivery.id;
  row["job"] = table_[delivery.slot].id.ToString();
  // In flight is not a state to come back to: after a restart, the attempt
  // that was under way is made again (receivers dedupe by Cascade-Delivery-Id).
  row["stage"] = delivery.stage == Delivery::Stage::kDead ? "dead" : "pending";
  row["attempts"] = delivery.attempts;
  row["created"] = delivery.created_ms;
  row["due"] = delivery.due_ms;
  PutMillis(row, "died", delivery.died_ms);
  if (!delivery.last_error.empty()) PutText(row, "lastError", delivery.last_error);
  if (delivery.request) {
    const WebhookRequest& r = *delivery.request;
    json::object request;
    PutText(request, "url", r.url);
    request["method"] = HttpMethodName(r.method);
    request["headers"] = HeadersValue(r.headers);
    PutText(request, "body", r.body);
    row["request"] = std::move(request);
  }
  return WriteJson(row);
}

// ---- Recovery --------------------------------------------------------------------

absl::Status EngineImpl::Recover() {
  // Batches first (jobs name them), then jobs in id order, which is the order
  // they were made in: slots come back in creation order.
  absl::flat_hash_map<BatchId, uint32_t> batch_numbers;
  CASCADE_RETURN_IF_ERROR(
      store_->Load(Table::kBatches, [&](std::string_view key, std::string_view value) {
        RowReader r(Table::kBatches, key, value);
        absl::StatusOr<BatchId> id = BatchId::Parse(key);
        if (!id.ok()) r.Fail(id.status());
        const std::string team = r.Text("team");
        if (team.empty()) r.Fail("\"team\" is empty");
        CASCADE_RETURN_IF_ERROR(r.status());
        const uint32_t team_id = teams_.Intern(team);
        if (team_id == team_index_.size()) team_index_.push_back(std::make_unique<TeamIndex>());
        batch_numbers[*id] = batches_.Insert(std::make_unique<BatchRecord>(*id, team));
        ids_.Observe(*id);
        return absl::OkStatus();
      }));

  auto find_batch = [&](BatchId id) -> std::optional<uint32_t> {
    auto it = batch_numbers.find(id);
    if (it == batch_numbers.end()) return std::nullopt;
    return it->second;
  };
  std::vector<std::pair<uint32_t, JobId>> causes;
  CASCADE_RETURN_IF_ERROR(
      store_->Load(Table::kJobs, [&](std::string_view key, std::string_view value) {
        RowReader r(Table::kJobs, key, value);
        absl::StatusOr<JobId> id = JobId::Parse(key);
        if (!id.ok()) r.Fail(id.status());
        if (r.ok() && table_.size() > 0 && !(table_[table_.size() - 1].id < *id)) {
          r.Fail("jobs are not in id order");
        }
        const std::string team = r.Text("team");
        if (team.empty()) r.Fail("\"team\" is empty");
        absl::StatusOr<JobState> state = ParseState(r.Text("state"));
        if (!state.ok()) r.Fail(state.status());
        std::optional<BatchId> batch_id = r.Id("batch");
        std::optional<uint32_t> batch;
        if (batch_id) {
          batch = find_batch(*batch_id);
          if (!batch) r.Fail(absl::StrCat("batch ", batch_id->ToString(), " is not there"));
        }
        const bool top_level = r.Field("batchIndex") != nullptr;
        const int64_t batch_index = r.Bounded("batchIndex", 0, kMaxBatchJobs - 1, 0);
        if (top_level && !batch) r.Fail("\"batchIndex\" without \"batch\"");
        if (top_level && batch && batches_.at(*batch).top_level().size() >= kMaxBatchJobs) {
          r.Fail("the batch has more top-level jobs than a batch can");
        }
        std::optional<JobId> parent_id = r.Id("parent");
        uint32_t parent = kNone32;
        if (parent_id) {
          auto it = by_id_.find(*parent_id);
          if (it == by_id_.end()) {
            r.Fail(absl::StrCat("parent ", parent_id->ToString(), " is not an earlier job"));
          } else {
            parent = it->second;
          }
        }
        std::optional<ErrorCause> cause = ParseCause(r.Text("cause", "none"));
        if (!cause) r.Fail("\"cause\" is not a known cause");
        std::optional<JobId> cause_job = r.Id("causeJob");
        if (cause && NamesJob(*cause) != cause_job.has_value()) {
          r.Fail("\"causeJob\" does not match \"cause\"");
        }
        const double progress = r.Number("progress", 0.0);
        if (!(progress >= 0.0 && progress <= 100.0)) r.Fail("\"progress\" is not 0-100");
        const int64_t created_ms = r.Int("created");
        JobTimeline timeline;
        timeline.updated_ms = r.Millis("updated");
        timeline.started_ms = r.Millis("started");
        timeline.finished_ms = r.Millis("finished");
        timeline.error_ms = r.Millis("errorAt");
        timeline.progress = static_cast<float>(progress);
        timeline.attempts = static_cast<uint16_t>(r.Bounded("attempts", 0, UINT16_MAX, 0));
        const std::string template_id = r.Text("template", "");
        const int64_t total_assets = r.Bounded("totalAssets", 0, UINT32_MAX, 0);
        const int64_t priority = r.Bounded("priority", INT32_MIN, INT32_MAX, 0);
        std::vector<std::string> tags;
        if (const json::array* list = r.Array("tags")) {
          for (const json::value& tag : *list) tags.push_back(r.TextOf(tag, "a tag"));
        }
        std::unique_ptr<WebhookSpec> webhook;
        if (const json::object* hook = r.Object("webhook")) {
          webhook = std::make_unique<WebhookSpec>();
          webhook->url = r.Text("url", std::nullopt, hook);
          absl::StatusOr<HttpMethod> method = ParseHttpMethod(r.Text("method", "POST", hook));
          if (!method.ok()) r.Fail(method.status());
          webhook->method = method.value_or(HttpMethod::kPost);
          webhook->headers = r.Headers(hook);
          webhook->data = r.Text("data", "", hook);
          webhook->custom = r.Bool("custom", hook);
        }
        JobRecord scratch;
        if (r.ok() && !scratch.machine.Restore(*state)) r.Fail("the state cannot be restored");
        CASCADE_RETURN_IF_ERROR(r.status());

        const uint32_t slot = table_.Append();
        JobRecord& job = table_[slot];
        bool restored = job.machine.Restore(*state);
        assert(restored);
        (void)restored;
        job.id = *id;
        job.timeline = timeline;
        last_created_ms_ = std::max(last_created_ms_, created_ms);
        job.created_ms = last_created_ms_;  // never decreasing, whatever the row says
        job.team = teams_.Intern(team);
        if (job.team == team_index_.size()) team_index_.push_back(std::make_unique<TeamIndex>());
        if (!template_id.empty()) job.template_ref = templates_.Intern(template_id);
        job.total_assets = static_cast<uint32_t>(total_assets);
        job.priority = static_cast<int32_t>(priority);
        job.policy = r.Bool("ignorePrerequisiteFailure") ? PrerequisiteFailurePolicy::kIgnore
                                                         : PrerequisiteFailurePolicy::kFail;
        job.parent = parent;
        job.cause = *cause;
        job.cancel_requested = r.Bool("cancelRequested");
        const std::string output_url = r.Text("outputUrl", "");
        const std::string error = r.Text("error", "");
        const std::string payload = r.Text("payload", "");
        if (!tags.empty() || !output_url.empty() || !error.empty() || !payload.empty() || webhook) {
          JobExtras& extras = job.mutable_extras();
          extras.output_url = output_url;
          extras.error = error;
          extras.payload = payload;
          extras.webhook = std::move(webhook);
          for (const std::string& tag : tags) extras.tags.push_back(tags_.Intern(tag));
          std::sort(extras.tags.begin(), extras.tags.end());
          extras.tags.erase(std::unique(extras.tags.begin(), extras.tags.end()), extras.tags.end());
        }
        by_id_.emplace(job.id, slot);
        ids_.Observe(job.id);
        if (cause_job) causes.emplace_back(slot, *cause_job);
        team_index_[job.team]->Add(slot, *state,
                                   job.extras ? absl::Span<const uint32_t>(job.extras->tags)
                                              : absl::Span<const uint32_t>());
        if (*state == JobState::kQueued) Enqueue(slot);
        if (batch) {
          job.batch = *batch;
          if (top_level) {
            job.top_level_of_batch = true;
            job.batch_index = static_cast<uint16_t>(batch_index);
            batches_.at(*batch).top_level().push_back(slot);
            batches_.at(*batch).Add(*state);
          }
        }
        return absl::OkStatus();
      }));
  for (uint32_t slot = 0; slot < table_.size(); ++slot) {
    if (IsTerminal(table_[slot].state())) NoteEnded(slot);
  }
  for (const auto& [slot, id] : causes) {
    auto it = by_id_.find(id);
    if (it == by_id_.end()) {
      return absl::DataLossError(absl::StrCat("cannot recover row jobs/",
                                              table_[slot].id.ToString(), ": \"causeJob\" ",
                                              id.ToString(), " is not there"));
    }
    table_[slot].cause_slot = it->second;
  }

  CASCADE_RETURN_IF_ERROR(
      store_->Load(Table::kEdges, [&](std::string_view key, std::string_view value) {
        CASCADE_ASSIGN_OR_RETURN(uint64_t n, ParseHexKey(Table::kEdges, key));
        RowReader r(Table::kEdges, key, value);
        std::optional<JobId> from = r.Id("from"), to = r.Id("to");
        uint32_t ends[2] = {kNone32, kNone32};
        for (int i = 0; i < 2 && r.ok(); ++i) {
          const std::optional<JobId>& id = i == 0 ? from : to;
          auto it = id ? by_id_.find(*id) : by_id_.end();
          if (it == by_id_.end()) {
            r.Fail(absl::StrCat(i == 0 ? "\"from\"" : "\"to\"", " names no job"));
          } else {
            ends[i] = it->second;
          }
        }
        if (r.ok() && ends[0] == ends[1]) r.Fail("the edge joins a job to itself");
        CASCADE_RETURN_IF_ERROR(r.status());
        graph_.AddEdge(EnsureVertex(ends[0]), EnsureVertex(ends[1]), n);
        next_edge_key_ = std::max(next_edge_key_, n + 1);
        return absl::OkStatus();
      }));
  // The graph's counters, from the states (they are what the engine keeps in
  // step as jobs change state; see dependency_graph.h).
  for (uint32_t slot = 0; slot < table_.size(); ++slot) {
    const JobRecord& job = table_[slot];
    if (job.parent != kNone32 && job.vertex == kNoVertex) {
      return absl::DataLossError(absl::StrCat("cannot recover job ", job.id.ToString(),
                                              ": no edge joins it to its parent"));
    }
    if (job.vertex == kNoVertex) continue;
    JobNode& node = graph_.node(job.vertex);
    node.live_dependents = 0;
    node.unresolved_prerequisites = 0;
    graph_.ForEachDependent(job.vertex, [&](uint32_t d) {
      if (!IsDead(table_[d].state())) ++node.live_dependents;
    });
    graph_.ForEachPrerequisite(job.vertex, [&](uint32_t p) {
      const JobState s = table_[p].state();
      // A pending job that ignores failures stopped waiting for a failed one.
      const bool ignored = job.state() == JobState::kPending &&
                           job.policy == PrerequisiteFailurePolicy::kIgnore &&
                           s == JobState::kError;
      if (s != JobState::kFinished && !ignored) ++node.unresolved_prerequisites;
    });
  }

  CASCADE_RETURN_IF_ERROR(store_->Load(Table::kLeases, [&](std::string_view key,
                                                           std::string_view value) {
    RowReader r(Table::kLeases, key, value);
    absl::StatusOr<JobId> id = JobId::Parse(key);
    auto it = id.ok() ? by_id_.find(*id) : by_id_.end();
    if (it == by_id_.end()) r.Fail("no job has this id");
    ActiveLease lease;
    const std::string token = r.Text("token");
    if (token.size() != 16 || !absl::SimpleHexAtoi(Sv(token), &lease.token) || lease.token == 0) {
      r.Fail("\"token\" is not 16 hex digits");
    }
    lease.expires_ms = r.Int("expires");
    lease.length_ms = r.Bounded("length", 1, INT64_MAX);
    lease.abort_deadline_ms = r.Millis("abortBy");
    if (r.ok() && table_[it->second].state() != JobState::kRendering) {
      r.Fail("the job is not rendering");
    }
    CASCADE_RETURN_IF_ERROR(r.status());
    leases_[it->second] = lease;
    deadlines_.insert({lease.due_ms(), it->second});
    return absl::OkStatus();
  }));
  for (uint32_t slot = 0; slot < table_.size(); ++slot) {
    if (table_[slot].state() == JobState::kRendering && !leases_.contains(slot)) {
      return absl::DataLossError(absl::StrCat("cannot recover job ", table_[slot].id.ToString(),
                                              ": it is rendering and has no lease"));
    }
  }

  return store_->Load(Table::kOutbox, [&](std::string_view key, std::string_view value) {
    CASCADE_ASSIGN_OR_RETURN(uint64_t n, ParseHexKey(Table::kOutbox, key));
    RowReader r(Table::kOutbox, key, value);
    Delivery delivery;
    delivery.id = r.Text("id");
    std::optional<JobId> job_id = r.Id("job");
    auto it = job_id ? by_id_.find(*job_id) : by_id_.end();
    if (r.ok() && it == by_id_.end()) r.Fail("\"job\" names no job");
    if (r.ok() && !(table_[it->second].extras && table_[it->second].extras->webhook)) {
      r.Fail("the job has no webhook");
    }
    const std::string stage = r.Text("stage");
    if (stage != "pending" && stage != "dead") r.Fail("\"stage\" is not pending or dead");
    delivery.attempts = static_cast<int>(r.Bounded("attempts", 0, INT32_MAX));
    delivery.created_ms = r.Int("created");
    delivery.due_ms = r.Int("due");
    delivery.died_ms = r.Millis("died");
    delivery.last_error = r.Text("lastError", "");
    if (const json::object* request = r.Object("request")) {
      WebhookRequest& out = delivery.request.emplace();
      out.url = r.Text("url", std::nullopt, request);
      absl::StatusOr<HttpMethod> method = ParseHttpMethod(r.Text("method", "POST", request));
      if (!method.ok()) r.Fail(method.status());
      out.method = method.value_or(HttpMethod::kPost);
      out.headers = r.Headers(request);
      out.body = r.Text("body", std::nullopt, request);
    }
    CASCADE_RETURN_IF_ERROR(r.status());
    delivery.slot = it->second;
    delivery.team = table_[it->second].team;
    if (stage == "dead") {
      delivery.stage = Delivery::Stage::kDead;
      ++outbox_counts_.dead;
    } else {
      delivery.stage = Delivery::Stage::kPending;
      outbox_due_.insert({delivery.due_ms, n});
      ++outbox_counts_.pending;
    }
    absl::StatusOr<Ulid> delivery_ulid = Ulid::Parse(delivery.id);
    if (delivery_ulid.ok()) ids_.Observe(*delivery_ulid);
    outbox_.emplace(n, std::move(delivery));
    next_delivery_key_ = std::max(next_delivery_key_, n + 1);
    return absl::OkStatus();
  });
}

void EngineImpl::PublishDurable(uint64_t ticket) {
  std::lock_guard<std::mutex> lock(publish_mu_);
  while (!unpublished_.empty() && unpublished_.begin()->first <= ticket) {
    hub_.Publish(std::move(unpublished_.begin()->second));
    unpublished_.erase(unpublished_.begin());
  }
}

void EngineImpl::RecordStoreFailure(const absl::Status& status) {
  std::lock_guard<std::mutex> lock(failure_mu_);
  if (store_failed_.load(std::memory_order_relaxed)) return;
  store_failure_ = status;
  store_failed_.store(true, std::memory_order_release);
}

}  // namespace cascade::internal
