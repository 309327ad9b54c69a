// Copyright 2026 The Cascade Authors.
//
// The job and batch bodies of API v2: writers from the public API's types and
// the parsers of request bodies (the decisions are in job_json.h).

#include "wire/job_json.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cascade/engine.h"
#include "cascade/status.h"
#include "cascade/webhook.h"
#include "wire/errors.h"
#include "wire/json_internal.h"
#include "wire/strings.h"

namespace cascade::wire {
namespace json = ::boost::json;

namespace {

using json_detail::Field;
using json_detail::Index;
using json_detail::NoThrow;
using json_detail::ParseObjectBody;
using json_detail::Str;
using json_detail::View;
using json_detail::WrongType;

// ---- Field violations -----------------------------------------------------------

// The problems found in one body (or one batch entry): the first
// kMaxViolations. Once one more is found the readers stop looking (loops over
// array and object members test overflowed()), so a body of a million bad
// entries costs no more than one of fifty-one.
class Problems {
 public:
  void Add(std::string field, std::string message) {
    if (list_.size() < kMaxViolations) {
      list_.push_back({std::move(field), std::move(message)});
    } else {
      overflowed_ = true;
    }
  }
  bool empty() const { return list_.empty(); }
  bool overflowed() const { return overflowed_; }

  absl::Status ToStatus(std::string_view summary) && {
    if (overflowed_) {
      list_.push_back(
          {"body", absl::StrCat("more problems not listed (the first ", kMaxViolations, " are)")});
    }
    return InvalidArgumentWithViolations(summary, list_);
  }

 private:
  std::vector<FieldViolation> list_;
  bool overflowed_ = false;
};

// Readers of one member of an object. Each returns nothing when the member is
// absent (adding a violation if it is required) or of the wrong type (adding
// one always).
enum Presence : bool { kOptional = false, kRequired = true };

const json::value* Member(const json::object& o, std::string_view key, const std::string& path,
                          Presence presence, Problems& problems) {
  const json::value* v = o.if_contains(json::string_view(key.data(), key.size()));
  if (v == nullptr && presence == kRequired) problems.Add(Field(path, key), "is required");
  return v;
}

const json::string* ReadString(const json::object& o, std::string_view key, const std::string& path,
                               Presence presence, Problems& problems) {
  const json::value* v = Member(o, key, path, presence, problems);
  if (v == nullptr) return nullptr;
  if (!v->is_string()) {
    problems.Add(Field(path, key), WrongType("a string", *v));
    return nullptr;
  }
  return &v->get_string();
}

const json::object* ReadObject(const json::object& o, std::string_view key, const std::string& path,
                               Presence presence, Problems& problems) {
  const json::value* v = Member(o, key, path, presence, problems);
  if (v == nullptr) return nullptr;
  if (!v->is_object()) {
    problems.Add(Field(path, key), WrongType("an object", *v));
    return nullptr;
  }
  return &v->get_object();
}

const json::array* ReadArray(const json::object& o, std::string_view key, const std::string& path,
                             Presence presence, Problems& problems) {
  const json::value* v = Member(o, key, path, presence, problems);
  if (v == nullptr) return nullptr;
  if (!v->is_array()) {
    problems.Add(Field(path, key), WrongType("an array", *v));
    return nullptr;
  }
  return &v->get_array();
}

std::optional<bool> ReadBool(const json::object& o, std::string_view key, const std::string& path,
                             Problems& problems) {
  const json::value* v = Member(o, key, path, kOptional, problems);
  if (v == nullptr) return std::nullopt;
  if (!v->is_bool()) {
    problems.Add(Field(path, key), WrongType("a boolean", *v));
    return std::nullopt;
  }
  return v->get_bool();
}

// An integer in [lo, hi]. A number with a zero fraction (5.0, 5e0) counts as
// the integer it equals, as in JSON Schema.
std::optional<int64_t> ReadInteger(const json::value& v, const std::string& field, int64_t lo,
                                   int64_t hi, Problems& problems) {
  if (!v.is_number()) {
    problems.Add(field, WrongType("an integer", v));
    return std::nullopt;
  }
  std::optional<int64_t> n;
  if (v.is_int64()) {
    n = v.get_int64();
  } else if (v.is_double()) {
    const double d = v.get_double();
    if (std::trunc(d) != d) {
      problems.Add(field, absl::StrCat("must be an integer, got ", d));
      return std::nullopt;
    }
    // Exactly representable bounds: [-2^63, 2^63).
    if (d >= -9223372036854775808.0 && d < 9223372036854775808.0) n = static_cast<int64_t>(d);
  }
  if (!n.has_value() || *n < lo || *n > hi) {  // no value: beyond int64, above every bound here
    problems.Add(field, absl::StrCat("must be an integer from ", lo, " to ", hi));
    return std::nullopt;
  }
  return n;
}

// A string member that must be one of `allowed`: its position in the list.
std::optional<size_t> ReadEnum(const json::object& o, std::string_view key, const std::string& path,
                               std::initializer_list<std::string_view> allowed,
                               Problems& problems) {
  const json::string* s = ReadString(o, key, path, kOptional, problems);
  if (s == nullptr) return std::nullopt;
  size_t i = 0;
  for (std::string_view a : allowed) {
    if (View(*s) == a) return i;
    ++i;
  }
  std::string list;
  for (std::string_view a : allowed) absl::StrAppend(&list, list.empty() ? "" : ", ", Sv(a));
  problems.Add(Field(path, key),
               absl::StrCat("'", Sv(View(*s)).substr(0, 64), "' is not one of: ", list));
  return std::nullopt;
}

// An optional array of strings; each bad entry is reported.
void ReadStringArray(const json::object& o, std::string_view key, const std::string& path,
                     Problems& problems, std::vector<std::string>* out) {
  const json::array* a = ReadArray(o, key, path, kOptional, problems);
  if (a == nullptr) return;
  const std::string field = Field(path, key);
  for (size_t i = 0; i < a->size() && !problems.overflowed(); ++i) {
    const json::value& item = (*a)[i];
    if (!item.is_string()) {
      problems.Add(Index(field, i), WrongType("a string", item));
    } else if (out != nullptr) {
      out->emplace_back(View(item.get_string()));
    }
  }
}

// Each of `keys` present in `o` must be a string.
void CheckStrings(const json::object& o, std::initializer_list<std::string_view> keys,
                  const std::string& path, Problems& problems) {
  for (std::string_view key : keys) ReadString(o, key, path, kOptional, problems);
}

// Reports each member of `o` whose key is not in `known`: the objects the
// document closes with `additionalProperties: false`.
void RejectUnknown(const json::object& o, std::initializer_list<std::string_view> known,
                   const std::string& path, Problems& problems) {
  for (const json::key_value_pair& kv : o) {
    if (problems.overflowed()) return;
    const std::string_view key(kv.key().data(), kv.key().size());
    bool found = false;
    for (std::string_view k : known) found = found || k == key;
    if (found) continue;
    std::string list;
    for (std::string_view k : known) absl::StrAppend(&list, list.empty() ? "" : ", ", Sv(k));
    problems.Add(Field(path, key),
                 absl::StrCat("is not a field of ", Sv(path), " (it has only ", list, ")"));
  }
}

// The pattern of every template id in the document (`JobTemplate.id`, and
// `template.id` of `JobAssetNested` and `JoinJobAsset`): `^[A-Z0-9]{26}$`.
bool IsTemplateId(std::string_view s) {
  return s.size() == 26 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
         });
}

// A required template id, pattern checked; stored in `spec` when good.
void ReadTemplateId(const json::object& t, const std::string& where, Presence presence,
                    Problems& problems, JobSpec* spec) {
  const json::string* id = ReadString(t, "id", where, presence, problems);
  if (id == nullptr) return;
  if (!IsTemplateId(View(*id))) {
    problems.Add(Field(where, "id"),
                 absl::StrCat("'", Sv(View(*id)).substr(0, 64),
                              "' does not match ^[A-Z0-9]{26}$ (26 upper-case letters or digits)"));
    return;
  }
  spec->template_id = std::string(View(*id));
}

// A number of seconds in [lo, hi] (`lo_open`: above lo), as a duration; the
// duration is checked, so a value too small to be one (1e-300) is below any
// positive bound.
std::optional<absl::Duration> ReadSeconds(const json::object& o, std::string_view key,
                                          const std::string& path, absl::Duration lo, bool lo_open,
                                          absl::Duration hi, Problems& problems) {
  const json::value* v = o.if_contains(json::string_view(key.data(), key.size()));
  if (v == nullptr) return std::nullopt;
  const std::string field = Field(path, key);
  if (!v->is_number()) {
    problems.Add(field, WrongType("a number", *v));
    return std::nullopt;
  }
  const absl::Duration d = absl::Seconds(v->to_number<double>());
  if ((lo_open ? d <= lo : d < lo) || d > hi) {
    problems.Add(field, absl::StrCat("must be a number of seconds ", lo_open ? "above " : "from ",
                                     absl::ToDoubleSeconds(lo), lo_open ? " and at most " : " to ",
                                     absl::ToDoubleSeconds(hi)));
    return std::nullopt;
  }
  return d;
}

// ---- JobCreation ----------------------------------------------------------------

enum class JobKind {
  kTopLevel,  // a `JobCreation` body or batch entry
  kNested,    // a `JobAssetNested` (an asset of type "job")
  kJoinPart,  // a `JoinJobAsset` (a job asset of a join): as kNested, no layerName
};

void ReadJob(const json::object& o, const std::string& path, JobKind kind, Problems& problems,
             JobSpec* spec);

void ReadTemplate(const json::object& o, const std::string& path, JobKind kind, Problems& problems,
                  JobSpec* spec) {
  const json::object* t = ReadObject(o, "template", path, kRequired, problems);
  if (t == nullptr) return;
  const std::string where = Field(path, "template");
  ReadTemplateId(*t, where, kRequired, problems, spec);
  if (kind != JobKind::kTopLevel) {
    if (const json::string* c = ReadString(*t, "composition", where, kRequired, problems)) {
      spec->composition = std::string(View(*c));
    }
    CheckStrings(*t, {"name"}, where, problems);
    return;
  }
  CheckStrings(*t, {"src"}, where, problems);
  if (const json::value* c = t->if_contains("composition"); c != nullptr && !c->is_null()) {
    if (c->is_string()) {
      spec->composition = std::string(View(c->get_string()));
    } else {
      problems.Add(Field(where, "composition"), WrongType("a string or null", *c));
    }
  }
}

// `settings` of a job. The document closes JobCreation's (additionalProperties
// false) and leaves a nested job's and a join part's open.
void ReadSettings(const json::object& o, const std::string& path, JobKind kind,
                  Problems& problems) {
  const json::object* s = ReadObject(o, "settings", path, kOptional, problems);
  if (s == nullptr) return;
  const std::string where = Field(path, "settings");
  if (kind == JobKind::kTopLevel) {
    RejectUnknown(*s, {"type", "frames", "quality", "codec", "engine"}, where, problems);
    ReadEnum(*s, "type", where, {"video", "image", "aep"}, problems);
  } else if (kind == JobKind::kNested) {
    ReadEnum(*s, "type", where, {"video", "image"}, problems);
  }
  ReadEnum(*s, "quality", where, {"draft", "full"}, problems);
  ReadEnum(*s, "engine", where, {"ae2025", "ae2026"}, problems);
  CheckStrings(*s, {"codec"}, where, problems);
  if (const json::value* frames = s->if_contains("frames")) {
    const std::string field = Field(where, "frames");
    // A frame number, or a [start, end] range (top-level: both >= 0).
    const int64_t lo = kind != JobKind::kTopLevel ? std::numeric_limits<int64_t>::min() : 0;
    const int64_t hi = std::numeric_limits<int64_t>::max();
    if (frames->is_array()) {
      const json::array& range = frames->get_array();
      if (kind == JobKind::kTopLevel && range.size() != 2) {
        problems.Add(
            field, absl::StrCat("a frame range is [start, end], got ", range.size(), " number(s)"));
      }
      for (size_t i = 0; i < range.size() && !problems.overflowed(); ++i) {
        ReadInteger(range[i], Index(field, i), lo, hi, problems);
      }
    } else if (frames->is_number()) {
      ReadInteger(*frames, field, lo, hi, problems);
    } else {
      problems.Add(field, WrongType("an integer or an array of integers", *frames));
    }
  }
}

// `upload`. `closed`: JobCreation's, whose `upload` and `upload.params` the
// document closes (additionalProperties false); JoinJobCreation's are open.
void ReadUpload(const json::object& o, const std::string& path, bool closed, Problems& problems,
                JobSpec* spec) {
  const json::object* u = ReadObject(o, "upload", path, kOptional, problems);
  if (u == nullptr) return;
  const std::string where = Field(path, "upload");
  if (closed) RejectUnknown(*u, {"prefix", "outputUrl", "provider", "params"}, where, problems);
  CheckStrings(*u, {"prefix"}, where, problems);
  if (const json::string* url = ReadString(*u, "outputUrl", where, kOptional, problems)) {
    spec->output_url = std::string(View(*url));
  }
  ReadEnum(*u, "provider", where, {"s3"}, problems);
  if (const json::object* params = ReadObject(*u, "params", where, kOptional, problems)) {
    const std::string p = Field(where, "params");
    if (closed) {
      RejectUnknown(*params,
                    {"endpoint", "region", "bucket", "acl", "accessKeyId", "accessKeySecret"}, p,
                    problems);
    }
    for (std::string_view key : {"region", "bucket", "accessKeyId", "accessKeySecret"}) {
      ReadString(*params, key, p, kRequired, problems);
    }
    CheckStrings(*params, {"endpoint", "acl"}, p, problems);
  }
}

void ReadWebhook(const json::object& o, const std::string& path, Problems& problems,
                 JobSpec* spec) {
  const json::object* w = ReadObject(o, "webhook", path, kOptional, problems);
  if (w == nullptr) return;
  const std::string where = Field(path, "webhook");
  WebhookSpec webhook;
  if (const json::string* url = ReadString(*w, "url", where, kRequired, problems)) {
    webhook.url = std::string(View(*url));
  }
  // The schema's values, in the order of kMethods; the same text as HttpMethodName.
  static constexpr std::array<HttpMethod, 4> kMethods = {HttpMethod::kGet, HttpMethod::kPost,
                                                         HttpMethod::kPut, HttpMethod::kDelete};
  if (std::optional<size_t> method =
          ReadEnum(*w, "method", where, {"GET", "POST", "PUT", "DELETE"}, problems)) {
    webhook.method = kMethods[*method];
  }
  if (const json::object* headers = ReadObject(*w, "headers", where, kOptional, problems)) {
    const std::string h = Field(where, "headers");
    for (const json::key_value_pair& kv : *headers) {
      if (problems.overflowed()) break;
      const std::string_view name(kv.key().data(), kv.key().size());
      if (!kv.value().is_string()) {
        problems.Add(Field(h, name), WrongType("a string", kv.value()));
        continue;
      }
      webhook.headers.emplace_back(std::string(name), std::string(View(kv.value().get_string())));
    }
  }
  if (const json::object* data = ReadObject(*w, "data", where, kOptional, problems)) {
    webhook.data = WriteJson(*data);
  }
  if (std::optional<bool> custom = ReadBool(*w, "custom", where, problems)) {
    webhook.custom = *custom;
  }
  spec->webhook = std::move(webhook);
}

// A regular (not nested-job) asset: the known fields must have their types.
void ReadPlainAsset(const json::object& a, const std::string& where, Problems& problems) {
  CheckStrings(a, {"src", "layerName", "name"}, where, problems);
  ReadBool(a, "conform", where, problems);
  if (const json::object* params = ReadObject(a, "params", where, kOptional, problems)) {
    const std::string p = Field(where, "params");
    if (const json::value* layer = params->if_contains("layerName")) {
      const std::string field = Field(p, "layerName");
      if (layer->is_array()) {
        const json::array& names = layer->get_array();
        if (names.empty()) problems.Add(field, "must not be an empty array");
        for (size_t i = 0; i < names.size() && !problems.overflowed(); ++i) {
          if (!names[i].is_string()) problems.Add(Index(field, i), WrongType("a string", names[i]));
        }
      } else if (!layer->is_string()) {
        problems.Add(field, WrongType("a string or an array of strings", *layer));
      }
    }
  }
}

void ReadAssets(const json::object& o, const std::string& path, Problems& problems, JobSpec* spec) {
  const json::array* assets = ReadArray(o, "assets", path, kOptional, problems);
  if (assets == nullptr) return;
  spec->total_assets = static_cast<int>(assets->size());
  const std::string field = Field(path, "assets");
  for (size_t i = 0; i < assets->size() && !problems.overflowed(); ++i) {
    const std::string where = Index(field, i);
    const json::value& item = (*assets)[i];
    if (!item.is_object()) {
      problems.Add(where, WrongType("an object", item));
      continue;
    }
    const json::object& asset = item.get_object();
    const json::string* type = ReadString(asset, "type", where, kRequired, problems);
    if (type != nullptr && View(*type) == "job") {
      ReadJob(asset, where, JobKind::kNested, problems, &spec->children.emplace_back());
    } else {
      ReadPlainAsset(asset, where, problems);
    }
  }
}

// The Cascade extensions.
void ReadExtensions(const json::object& o, const std::string& path, Problems& problems,
                    JobSpec* spec) {
  ReadStringArray(o, "tags", path, problems, &spec->tags);
  if (const json::value* priority = o.if_contains("priority")) {
    if (std::optional<int64_t> p =
            ReadInteger(*priority, Field(path, "priority"), std::numeric_limits<int32_t>::min(),
                        std::numeric_limits<int32_t>::max(), problems)) {
      spec->priority = static_cast<int32_t>(*p);
    }
  }
  if (const json::array* deps = ReadArray(o, "dependsOn", path, kOptional, problems)) {
    const std::string field = Field(path, "dependsOn");
    spec->depends_on.reserve(deps->size());
    for (size_t i = 0; i < deps->size() && !problems.overflowed(); ++i) {
      const json::value& item = (*deps)[i];
      if (!item.is_string()) {
        problems.Add(Index(field, i), WrongType("a job id (string)", item));
        continue;
      }
      absl::StatusOr<JobId> id = JobId::Parse(View(item.get_string()));
      if (id.ok()) {
        spec->depends_on.push_back(*id);
      } else {
        problems.Add(Index(field, i), std::string(id.status().message()));
      }
    }
  }
  if (std::optional<size_t> policy =
          ReadEnum(o, "onPrerequisiteFailure", path, {"fail", "ignore"}, problems)) {
    spec->on_prerequisite_failure =
        *policy == 1 ? PrerequisiteFailurePolicy::kIgnore : PrerequisiteFailurePolicy::kFail;
  }
  // Contract §14, with the bounds of cascade/job.h.
  if (const json::value* attempts = o.if_contains("maxAttempts")) {
    if (std::optional<int64_t> n = ReadInteger(*attempts, Field(path, "maxAttempts"),
                                               kMinMaxAttempts, kMaxMaxAttempts, problems)) {
      spec->max_attempts = static_cast<int>(*n);
    }
  }
  if (std::optional<absl::Duration> backoff =
          ReadSeconds(o, "retryBackoffSeconds", path, absl::ZeroDuration(), /*lo_open=*/false,
                      kMaxRetryBackoff, problems)) {
    spec->retry_backoff = *backoff;
  }
  if (std::optional<absl::Duration> timeout =
          ReadSeconds(o, "timeoutSeconds", path, absl::ZeroDuration(), /*lo_open=*/true,
                      kMaxRenderTimeout, problems)) {
    spec->timeout = *timeout;
  }
}

void ReadJob(const json::object& o, const std::string& path, JobKind kind, Problems& problems,
             JobSpec* spec) {
  if (kind == JobKind::kNested) ReadString(o, "layerName", path, kRequired, problems);
  ReadTemplate(o, path, kind, problems, spec);
  ReadBool(o, "preview", path, problems);
  // JobCreation's; the nested and join schemas have no `fonts` (open there).
  if (kind == JobKind::kTopLevel) ReadStringArray(o, "fonts", path, problems, nullptr);
  ReadAssets(o, path, problems, spec);
  ReadSettings(o, path, kind, problems);
  ReadUpload(o, path, /*closed=*/true, problems, spec);
  ReadWebhook(o, path, problems, spec);
  ReadExtensions(o, path, problems, spec);
  spec->payload = WriteJson(o);
}

// A job object at `path` (a body, or a batch entry).
absl::StatusOr<JobSpec> JobFromObject(const json::object& o, const std::string& path) {
  Problems problems;
  JobSpec spec;
  ReadJob(o, path, JobKind::kTopLevel, problems, &spec);
  if (!problems.empty()) return std::move(problems).ToStatus("invalid job creation request");
  return spec;
}

// ---- Writers --------------------------------------------------------------------
//
// Jobs and creation answers are written straight to text: keys as literals,
// ids and times formatted in place, strings escaped as WriteJson escapes
// them, no boost::json value in between (building and freeing the object was
// a third of a GET /jobs/{id}; docs/benchmarks.md). The object forms
// (JobToJson, ...) parse this text back, so each shape has one writer.

// Room a job's text usually needs (~550 bytes with stats), reserved once.
constexpr size_t kJobJsonSizeHint = 640;

using json_detail::AppendJsonInteger;
using json_detail::AppendJsonNumber;
using json_detail::AppendJsonString;

// Whether `text` can go between quotes as it is (what AppendJsonString would
// copy unchanged, leaving non-ASCII to it).
bool PlainJsonText(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
  });
}

// A text that `value.AppendTo` makes (OutputUrl, ErrorText), as a JSON
// string: made in place, and escaped only when it needs it.
template <typename Text>
void AppendMadeText(const Text& value, std::string* out) {
  const size_t start = out->size();
  out->push_back('"');
  value.AppendTo(*out);
  if (PlainJsonText(std::string_view(*out).substr(start + 1))) {
    out->push_back('"');
    return;
  }
  const std::string raw = out->substr(start + 1);
  out->resize(start);
  AppendJsonString(raw, out);
}

void AppendId(const Ulid& id, std::string* out) {
  char text[28];
  text[0] = '"';
  id.AppendTo(text + 1);
  text[27] = '"';
  out->append(text, sizeof(text));
}

template <typename Id>
void AppendOptionalId(const std::optional<Id>& id, std::string* out) {
  if (id.has_value()) {
    AppendId(*id, out);
  } else {
    out->append("null");
  }
}

void AppendIds(const std::vector<JobId>& ids, std::string* out) {
  out->push_back('[');
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendId(ids[i], out);
  }
  out->push_back(']');
}

void AppendTime(absl::Time t, std::string* out) {
  out->push_back('"');
  AppendTimestamp(t, *out);
  out->push_back('"');
}

void AppendOptionalTime(const std::optional<absl::Time>& t, std::string* out) {
  if (t.has_value()) {
    AppendTime(*t, out);
  } else {
    out->append("null");
  }
}

// `{"batchId":"...","status":"..."`, the start of every batch answer that has
// a status (creation, status, cancellation); the caller goes on and closes it.
std::string BatchAnswerStart(const BatchId& batch, std::string_view status) {
  std::string out = "{\"batchId\":";
  AppendId(batch, &out);
  out.append(",\"status\":");
  AppendJsonString(status, &out);
  return out;
}

void AppendStats(const JobStats& stats, std::string* out) {
  out->append("{\"createdAt\":");
  AppendTime(stats.created_at, out);
  out->append(",\"updatedAt\":");
  AppendTime(stats.updated_at, out);
  out->append(",\"startedAt\":");
  AppendOptionalTime(stats.started_at, out);
  out->append(",\"finishedAt\":");
  AppendOptionalTime(stats.finished_at, out);
  out->append(",\"errorAt\":");
  AppendOptionalTime(stats.error_at, out);
  out->append(",\"totalAssets\":");
  AppendJsonInteger(stats.total_assets, out);
  out->append(",\"renderDuration\":");
  if (stats.render_duration.has_value()) {
    AppendJsonNumber(*stats.render_duration, out);
  } else {
    out->append("null");
  }
  out->append(",\"error\":");
  if (stats.error.has_value()) {
    AppendMadeText(*stats.error, out);
  } else {
    out->append("null");
  }
  out->push_back('}');
}

// The `"id", "status", "outputUrl", "children"?` members of a created job
// (without braces: a batch entry puts its `index` first).
void AppendCreatedMembers(const CreatedJob& created, std::string* out) {
  out->append("\"id\":");
  AppendId(created.id, out);
  out->append(",\"status\":");
  AppendJsonString(StateName(created.state), out);
  out->append(",\"outputUrl\":");
  AppendMadeText(created.output_url, out);
  if (!created.children.empty()) {
    out->append(",\"children\":[");
    for (size_t i = 0; i < created.children.size(); ++i) {
      if (i > 0) out->push_back(',');
      out->push_back('{');
      AppendCreatedMembers(created.children[i], out);
      out->push_back('}');
    }
    out->push_back(']');
  }
}

std::string_view PolicyName(PrerequisiteFailurePolicy policy) {
  return policy == PrerequisiteFailurePolicy::kIgnore ? "ignore" : "fail";
}

// Text this file wrote, as a value: it is always RFC 8259 JSON within the
// parser's limits, so the parse cannot fail.
json::value ParseOwn(const std::string& text) {
  absl::StatusOr<json::value> value = ParseJsonBody(text);
  assert(value.ok());
  return value.ok() ? *std::move(value) : json::value();
}

}  // namespace

// ---- Writing ----------------------------------------------------------------------

void AppendJobJson(const Job& job, JobView view, std::string* out) {
  out->append("{\"id\":");
  AppendId(job.id, out);
  out->append(",\"templateId\":");
  if (job.template_id.has_value()) {
    AppendJsonString(*job.template_id, out);
  } else {
    out->append("null");
  }
  out->append(",\"status\":");
  AppendJsonString(StateName(job.state), out);
  out->append(",\"progress\":");
  AppendJsonNumber(job.progress, out);
  if (view == JobView::kFull) {
    out->append(",\"stats\":");
    AppendStats(job.stats, out);
  }
  out->append(",\"outputUrl\":");
  if (job.output_url.empty()) {
    out->append("null");
  } else {
    AppendMadeText(job.output_url, out);
  }
  // Extensions.
  out->append(",\"team\":");
  AppendJsonString(job.team, out);
  out->append(",\"tags\":[");
  for (size_t i = 0; i < job.tags.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendJsonString(job.tags[i], out);
  }
  out->append("],\"priority\":");
  AppendJsonInteger(job.priority, out);
  out->append(",\"batchId\":");
  AppendOptionalId(job.batch_id, out);
  out->append(",\"parentId\":");
  AppendOptionalId(job.parent_id, out);
  out->append(",\"children\":");
  AppendIds(job.children, out);
  out->append(",\"dependsOn\":");
  AppendIds(job.depends_on, out);
  out->append(",\"onPrerequisiteFailure\":");
  AppendJsonString(PolicyName(job.on_prerequisite_failure), out);
  out->append(",\"attempts\":");
  AppendJsonInteger(job.attempts, out);
  out->append(job.cancel_requested ? ",\"cancelRequested\":true" : ",\"cancelRequested\":false");
  out->append(",\"maxAttempts\":");
  AppendJsonInteger(job.max_attempts, out);
  out->append(",\"retryAt\":");
  AppendOptionalTime(job.retry_at, out);
  out->append(job.suspended ? ",\"suspended\":true}" : ",\"suspended\":false}");
}

std::string JobToJsonText(const Job& job, JobView view) {
  std::string out;
  out.reserve(kJobJsonSizeHint);
  AppendJobJson(job, view, &out);
  return out;
}

std::string JobsToJsonText(absl::Span<const Job> jobs, JobView view) {
  std::string out;
  out.reserve(jobs.size() * kJobJsonSizeHint + 2);
  out.push_back('[');
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJobJson(jobs[i], view, &out);
  }
  out.push_back(']');
  return out;
}

std::string BatchHoldResponseText(BatchId batch, absl::Span<const Job> changed) {
  std::string out = "{\"batchId\":";
  AppendId(batch, &out);
  out.append(",\"jobs\":");
  out.append(JobsToJsonText(changed));
  out.push_back('}');
  return out;
}

std::string JobCreationResponseText(const CreatedJob& created) {
  std::string out = "{";
  AppendCreatedMembers(created, &out);
  out.push_back('}');
  return out;
}

std::string BatchCreationResponseText(const BatchSubmitResult& result) {
  std::string out = BatchAnswerStart(result.batch_id, BatchSubmitStatusName(result.status));
  out.append(",\"totalJobs\":");
  AppendJsonInteger(result.total_jobs, &out);
  out.append(",\"successCount\":");
  AppendJsonInteger(result.success_count, &out);
  out.append(",\"jobs\":[");
  for (size_t i = 0; i < result.jobs.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.append("{\"index\":");
    AppendJsonInteger(result.jobs[i].index, &out);
    out.push_back(',');
    AppendCreatedMembers(result.jobs[i].job, &out);
    out.push_back('}');
  }
  out.push_back(']');
  if (!result.errors.empty()) {
    out.append(",\"errors\":[");
    for (size_t i = 0; i < result.errors.size(); ++i) {
      const BatchJobError& error = result.errors[i];
      if (i > 0) out.push_back(',');
      out.append("{\"index\":");
      AppendJsonInteger(error.index, &out);
      out.append(",\"error\":");
      AppendJsonString(error.error, &out);
      out.append(",\"errorCode\":");
      AppendJsonString(error.error_code, &out);
      out.push_back('}');
    }
    out.push_back(']');
  }
  out.push_back('}');
  return out;
}

std::string BatchStatusResponseText(const BatchView& view) {
  std::string out = BatchAnswerStart(view.batch_id, BatchStatusName(view.status));
  out.append(",\"stats\":{\"total\":");
  AppendJsonInteger(view.counts.total, &out);
  out.append(",\"finished\":");
  AppendJsonInteger(view.counts.finished(), &out);
  out.append(",\"error\":");
  AppendJsonInteger(view.counts.failed(), &out);
  out.append(",\"pending\":");
  AppendJsonInteger(view.counts.pending(), &out);
  out.append(",\"byState\":{");
  for (int s = 0; s < kNumJobStates; ++s) {
    if (s > 0) out.push_back(',');
    AppendJsonString(StateName(static_cast<JobState>(s)), &out);
    out.push_back(':');
    AppendJsonInteger(view.counts.by_state[s], &out);
  }
  out.append("}},\"jobs\":[");
  for (size_t i = 0; i < view.jobs.size(); ++i) {
    const BatchJobView& entry = view.jobs[i];
    if (i > 0) out.push_back(',');
    out.append("{\"index\":");
    AppendJsonInteger(entry.index, &out);
    out.append(",\"id\":");
    AppendId(entry.job.id, &out);
    out.append(",\"status\":");
    AppendJsonString(StateName(entry.job.state), &out);
    out.append(",\"outputUrl\":");
    AppendMadeText(entry.job.output_url, &out);
    if (IsTerminal(entry.job.state)) {
      out.append(",\"stats\":");
      AppendStats(entry.job.stats, &out);
    }
    out.push_back('}');
  }
  out.append("]}");
  return out;
}

std::string BatchCancellationResponseText(const BatchCancelResult& result) {
  std::string out = BatchAnswerStart(result.batch_id, BatchCancelStatusName(result.status));
  out.append(",\"totalJobs\":");
  AppendJsonInteger(result.total_jobs, &out);
  out.append(",\"cancelledCount\":");
  AppendJsonInteger(result.cancelled_count, &out);
  out.append(",\"skippedCount\":");
  AppendJsonInteger(result.skipped_count, &out);
  out.append(",\"jobs\":[");
  for (size_t i = 0; i < result.jobs.size(); ++i) {
    const BatchCancelJobResult& entry = result.jobs[i];
    if (i > 0) out.push_back(',');
    out.append("{\"index\":");
    AppendJsonInteger(entry.index, &out);
    out.append(",\"id\":");
    AppendId(entry.id, &out);
    out.append(entry.cancelled ? ",\"result\":\"cancelled\"" : ",\"result\":\"skipped\"");
    out.append(",\"status\":");
    AppendJsonString(StateName(entry.state), &out);
    if (!entry.cancelled) {
      out.append(",\"reason\":");
      AppendJsonString(entry.reason, &out);
    }
    out.push_back('}');
  }
  out.append("],\"cancelledJobs\":");
  out.append(JobsToJsonText(result.cancelled_jobs));
  out.push_back('}');
  return out;
}

json::object JobToJson(const Job& job, JobView view) {
  return ParseOwn(JobToJsonText(job, view)).as_object();
}

json::array JobsToJson(absl::Span<const Job> jobs, JobView view) {
  return ParseOwn(JobsToJsonText(jobs, view)).as_array();
}

json::object BatchHoldResponseToJson(BatchId batch, absl::Span<const Job> changed) {
  return ParseOwn(BatchHoldResponseText(batch, changed)).as_object();
}

json::object JobCreationResponseToJson(const CreatedJob& created) {
  return ParseOwn(JobCreationResponseText(created)).as_object();
}

json::object BatchCreationResponseToJson(const BatchSubmitResult& result) {
  return ParseOwn(BatchCreationResponseText(result)).as_object();
}

json::object BatchStatusResponseToJson(const BatchView& view) {
  return ParseOwn(BatchStatusResponseText(view)).as_object();
}

json::object BatchCancellationResponseToJson(const BatchCancelResult& result) {
  return ParseOwn(BatchCancellationResponseText(result)).as_object();
}

json::object BatchCreationErrorResponseToJson(const absl::Status& status) {
  json::object body = ValidationErrorResponseToJson(status);
  body["batchId"] = "";
  body["status"] = "error";
  body["totalJobs"] = 0;
  body["successCount"] = 0;
  body["jobs"] = json::array();
  return body;
}

// ---- Reading ----------------------------------------------------------------------

absl::StatusOr<JobSpec> ParseJobCreation(std::string_view text) {
  return NoThrow([&]() -> absl::StatusOr<JobSpec> {
    json::monotonic_resource pool;
    absl::StatusOr<json::value> body = ParseObjectBody(text, &pool);
    if (!body.ok()) return body.status();
    return JobFromObject(body->get_object(), "");
  });
}

absl::StatusOr<JobSpec> ParseJoinJobCreation(std::string_view text) {
  return NoThrow([&]() -> absl::StatusOr<JobSpec> {
    json::monotonic_resource pool;
    absl::StatusOr<json::value> body = ParseObjectBody(text, &pool);
    if (!body.ok()) return body.status();
    const json::object& o = body->get_object();
    Problems problems;
    JobSpec spec;
    if (const json::object* s = ReadObject(o, "settings", "", kOptional, problems)) {
      ReadEnum(*s, "preset", "settings", {"mp4"}, problems);
    }
    const json::array* assets = ReadArray(o, "assets", "", kRequired, problems);
    if (assets != nullptr && assets->empty()) problems.Add("assets", "a join has at least 1 asset");
    if (assets != nullptr) {
      spec.total_assets = static_cast<int>(assets->size());
      for (size_t i = 0; i < assets->size() && !problems.overflowed(); ++i) {
        const std::string where = Index("assets", i);
        const json::value& item = (*assets)[i];
        if (!item.is_object()) {
          problems.Add(where, WrongType("an object", item));
          continue;
        }
        const json::object& asset = item.get_object();
        std::optional<size_t> type = ReadEnum(asset, "type", where, {"video", "job"}, problems);
        if (!asset.contains("type")) problems.Add(Field(where, "type"), "is required");
        if (type == 0) {
          ReadString(asset, "src", where, kRequired, problems);
        } else if (type == 1) {
          ReadJob(asset, where, JobKind::kJoinPart, problems, &spec.children.emplace_back());
        }
      }
    }
    ReadUpload(o, "", /*closed=*/false, problems, &spec);
    ReadWebhook(o, "", problems, &spec);
    ReadExtensions(o, "", problems, &spec);
    if (!problems.empty()) return std::move(problems).ToStatus("invalid join job creation request");
    spec.composition = "join";
    spec.payload = WriteJson(o);
    return spec;
  });
}

absl::StatusOr<std::vector<absl::StatusOr<JobSpec>>> ParseBatchCreation(std::string_view text) {
  return NoThrow([&]() -> absl::StatusOr<std::vector<absl::StatusOr<JobSpec>>> {
    json::monotonic_resource pool;
    absl::StatusOr<json::value> body = ParseObjectBody(text, &pool);
    if (!body.ok()) return body.status();
    Problems problems;
    const json::array* jobs = ReadArray(body->get_object(), "jobs", "", kRequired, problems);
    if (jobs != nullptr && (jobs->empty() || jobs->size() > kMaxBatchJobs)) {
      problems.Add("jobs",
                   absl::StrCat("a batch has 1-", kMaxBatchJobs, " jobs, got ", jobs->size()));
    }
    if (!problems.empty()) return std::move(problems).ToStatus("invalid batch creation request");
    std::vector<absl::StatusOr<JobSpec>> out;
    out.reserve(jobs->size());
    for (size_t i = 0; i < jobs->size(); ++i) {
      const std::string where = Index("jobs", i);
      const json::value& item = (*jobs)[i];
      if (!item.is_object()) {
        out.emplace_back(InvalidArgumentWithViolations("invalid job creation request",
                                                       {{where, WrongType("an object", item)}}));
        continue;
      }
      out.push_back(JobFromObject(item.get_object(), where));
    }
    return out;
  });
}

namespace {

// `{"jobs": [id, ...]}` (ParseJobCancellationRequest, ParseJobRetryRequest);
// violations summarized as `summary`.
absl::StatusOr<std::vector<JobId>> ParseJobIdsRequest(std::string_view text,
                                                      std::string_view summary) {
  return NoThrow([&]() -> absl::StatusOr<std::vector<JobId>> {
    json::monotonic_resource pool;
    absl::StatusOr<json::value> body = ParseObjectBody(text, &pool);
    if (!body.ok()) return body.status();
    Problems problems;
    const json::array* jobs = ReadArray(body->get_object(), "jobs", "", kRequired, problems);
    if (jobs != nullptr && (jobs->empty() || jobs->size() > kMaxCancelIds)) {
      problems.Add("jobs", absl::StrCat("expected 1-", kMaxCancelIds, " ids, got ", jobs->size()));
    }
    if (!problems.empty()) return std::move(problems).ToStatus(summary);
    // As ParseJobIds, plus the entries that are not strings, in one list.
    std::vector<JobId> ids;
    ids.reserve(jobs->size());
    for (size_t i = 0; i < jobs->size() && !problems.overflowed(); ++i) {
      const json::value& item = (*jobs)[i];
      if (!item.is_string()) {
        problems.Add(Index("jobs", i), WrongType("a job id (string)", item));
        continue;
      }
      absl::StatusOr<JobId> id = JobId::Parse(View(item.get_string()));
      if (id.ok()) {
        ids.push_back(*id);
      } else {
        problems.Add(Index("jobs", i), std::string(id.status().message()));
      }
    }
    if (!problems.empty()) return std::move(problems).ToStatus(summary);
    return ids;
  });
}

}  // namespace

absl::StatusOr<std::vector<JobId>> ParseJobCancellationRequest(std::string_view text) {
  return ParseJobIdsRequest(text, "invalid job cancellation request");
}

absl::StatusOr<std::vector<JobId>> ParseJobRetryRequest(std::string_view text) {
  return ParseJobIdsRequest(text, "invalid job retry request");
}

absl::StatusOr<JobUpdate> ParseJobUpdate(std::string_view text) {
  return NoThrow([&]() -> absl::StatusOr<JobUpdate> {
    json::monotonic_resource pool;
    absl::StatusOr<json::value> body = ParseObjectBody(text, &pool);
    if (!body.ok()) return body.status();
    const json::object& o = body->get_object();
    Problems problems;
    // additionalProperties: false.
    for (const json::key_value_pair& kv : o) {
      if (problems.overflowed()) break;
      const std::string_view key(kv.key().data(), kv.key().size());
      if (key != "priority") {
        problems.Add(Field("", key), "is not a field of a job update (it has only priority)");
      }
    }
    JobUpdate update;
    if (const json::value* priority = Member(o, "priority", "", kRequired, problems)) {
      if (std::optional<int64_t> p =
              ReadInteger(*priority, "priority", std::numeric_limits<int32_t>::min(),
                          std::numeric_limits<int32_t>::max(), problems)) {
        update.priority = static_cast<int32_t>(*p);
      }
    }
    if (!problems.empty()) return std::move(problems).ToStatus("invalid job update");
    return update;
  });
}

}  // namespace cascade::wire
