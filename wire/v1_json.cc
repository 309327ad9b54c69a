// Copyright 2026 The Cascade Authors.
//
// nexrender v1 job JSON (v1_json.h).

#include "wire/v1_json.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cascade/status.h"
#include "wire/json.h"
#include "wire/json_internal.h"
#include "wire/strings.h"

namespace cascade::wire {
namespace {

namespace json = ::boost::json;
using json_detail::Field;
using json_detail::Index;
using json_detail::NoThrow;
using json_detail::Str;
using json_detail::View;
using json_detail::WrongType;

// JavaScript's truthiness of a JSON value (what nexrender's assert() tests).
bool Truthy(const json::value* v) {
  if (v == nullptr) return false;
  switch (v->kind()) {
    case json::kind::null:
      return false;
    case json::kind::bool_:
      return v->get_bool();
    case json::kind::int64:
      return v->get_int64() != 0;
    case json::kind::uint64:
      return v->get_uint64() != 0;
    case json::kind::double_:
      return v->get_double() != 0 && !std::isnan(v->get_double());
    case json::kind::string:
      return !v->get_string().empty();
    default:
      return true;  // objects and arrays
  }
}

const json::value* Member(const json::object& o, std::string_view key) {
  return o.if_contains(json::string_view(key.data(), key.size()));
}

class Problems {
 public:
  void Add(std::string field, std::string message) {
    if (list_.size() < kMaxViolations) list_.push_back({std::move(field), std::move(message)});
  }
  bool empty() const { return list_.empty(); }
  absl::Status ToStatus(std::string_view summary) const {
    return InvalidArgumentWithViolations(summary, list_);
  }

 private:
  std::vector<FieldViolation> list_;
};

// A required non-empty string member (nexrender asserts it is truthy; a
// number or an object would only fail later, at the worker).
void RequireString(const json::object& o, std::string_view key, const std::string& path,
                   std::string message, Problems& problems) {
  const json::value* v = Member(o, key);
  if (!Truthy(v)) {
    problems.Add(Field(path, key), std::move(message));
  } else if (!v->is_string()) {
    problems.Add(Field(path, key), WrongType("a non-empty string", *v));
  }
}

void CheckAsset(const json::value& item, const std::string& where, Problems& problems) {
  if (!Truthy(&item)) return problems.Add(where, "job asset should not be empty");
  if (!item.is_object()) return problems.Add(where, WrongType("an object", item));
  const json::object& asset = item.get_object();
  const json::value* type = Member(asset, "type");
  if (!Truthy(type)) return problems.Add(Field(where, "type"), "job asset must have type defined");
  if (!type->is_string()) return problems.Add(Field(where, "type"), WrongType("a string", *type));
  const std::string_view t = View(type->get_string());
  const bool layer = Truthy(Member(asset, "layerName")) || Truthy(Member(asset, "layerIndex"));
  if (t == "image" || t == "audio" || t == "video") {
    if (!Truthy(Member(asset, "src"))) {
      problems.Add(Field(where, "src"),
                   absl::StrCat("job asset[", Sv(t), "] must have src defined"));
    }
    if (!layer) {
      problems.Add(
          Field(where, "layerName"),
          absl::StrCat("job asset[", Sv(t), "] must have either layerName or layerIndex defined"));
    }
  } else if (t == "data") {
    if (!layer) {
      problems.Add(Field(where, "layerName"),
                   "job asset[data] must have either layerName or layerIndex defined");
    }
    if (Member(asset, "value") == nullptr && !Truthy(Member(asset, "expression"))) {
      problems.Add(Field(where, "value"),
                   "job asset[data] must have value and/or expression defined");
    }
    if (!Truthy(Member(asset, "property"))) {
      problems.Add(Field(where, "property"), "job asset[data] must have property defined");
    }
  } else if (t == "script" || t == "static") {
    if (!Truthy(Member(asset, "src"))) {
      problems.Add(Field(where, "src"),
                   absl::StrCat("job asset[", Sv(t), "] must have src defined"));
    }
  } else {
    problems.Add(Field(where, "type"),
                 absl::StrCat("unknown job asset type: ", Sv(t.substr(0, 64)),
                              " (v1 types: image, audio, video, data, script, static)"));
  }
}

void CheckActions(const json::object& o, Problems& problems) {
  const json::value* actions = Member(o, "actions");
  if (actions == nullptr) return;  // nexrender's create() fills it in
  if (!Truthy(actions)) return problems.Add("actions", "job must have actions defined");
  if (!actions->is_object()) return problems.Add("actions", WrongType("an object", *actions));
  for (std::string_view stage : {"prerender", "postrender"}) {
    const json::value* list = Member(actions->get_object(), stage);
    if (!Truthy(list)) continue;  // `[].concat(x || [])`
    const std::string path = Field("actions", stage);
    if (!list->is_array()) {
      problems.Add(path, WrongType("an array", *list));
      continue;
    }
    for (size_t i = 0; i < list->get_array().size(); ++i) {
      const json::value& action = list->get_array()[i];
      if (!Truthy(&action)) {
        problems.Add(Index(path, i), "job action must be defined");
      } else if (!action.is_object() || !Truthy(Member(action.get_object(), "module"))) {
        problems.Add(Field(Index(path, i), "module"), "job action must have module defined");
      }
    }
  }
}

// nexrender-server's tag cleaning: only letters, digits, commas and spaces.
void AddTags(std::string_view text, std::vector<std::string>& tags) {
  std::string clean;
  for (char c : text) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == ',' || c == ' ') clean += c;
  }
  for (absl::string_view part : absl::StrSplit(clean, ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (!part.empty()) tags.emplace_back(part);
  }
}

void ReadTags(const json::object& o, Problems& problems, std::vector<std::string>& tags) {
  const json::value* v = Member(o, "tags");
  if (v == nullptr || v->is_null()) return;
  if (v->is_string()) return AddTags(View(v->get_string()), tags);
  if (v->is_array()) {
    for (size_t i = 0; i < v->get_array().size(); ++i) {
      const json::value& item = v->get_array()[i];
      if (!item.is_string()) {
        problems.Add(Index("tags", i), WrongType("a string", item));
      } else {
        AddTags(View(item.get_string()), tags);
      }
    }
    return;
  }
  problems.Add("tags", WrongType("a comma-separated string", *v));
}

void ReadPriority(const json::object& o, Problems& problems, int32_t& priority) {
  const json::value* v = Member(o, "priority");
  if (!Truthy(v)) return;  // `job.priority ? job.priority : 0`
  if (!v->is_number()) return problems.Add("priority", WrongType("a number", *v));
  const double d = std::trunc(v->to_number<double>());
  if (!(d >= std::numeric_limits<int32_t>::min() && d <= std::numeric_limits<int32_t>::max())) {
    return problems.Add("priority", "must be within -2147483648 and 2147483647");
  }
  priority = static_cast<int32_t>(d);
}

std::string Time(absl::Time t) { return FormatTimestamp(t); }
json::value Time(const std::optional<absl::Time>& t) {
  return t ? json::value(Str(FormatTimestamp(*t))) : json::value(nullptr);
}

}  // namespace

// ---- Reading ----------------------------------------------------------------------

absl::StatusOr<JobSpec> ParseV1Job(std::string_view text, std::string_view creator) {
  return NoThrow([&]() -> absl::StatusOr<JobSpec> {
    absl::StatusOr<json::value> body = json_detail::ParseObjectBody(text, {});
    if (!body.ok()) return body.status();
    json::object& o = body->get_object();
    Problems problems;
    JobSpec spec;
    const json::value* tmpl = Member(o, "template");
    if (!Truthy(tmpl)) {
      problems.Add("template", "job must have template object defined");
    } else if (!tmpl->is_object()) {
      problems.Add("template", WrongType("an object", *tmpl));
    } else {
      RequireString(tmpl->get_object(), "src", "template", "job must have template.src defined",
                    problems);
      RequireString(tmpl->get_object(), "composition", "template",
                    "job must have template.composition defined", problems);
      if (const json::value* c = Member(tmpl->get_object(), "composition");
          c != nullptr && c->is_string()) {
        spec.composition = std::string(View(c->get_string()));
      }
    }
    if (const json::value* assets = Member(o, "assets"); assets != nullptr) {
      if (!assets->is_array()) {
        problems.Add("assets", WrongType("an array", *assets));
      } else {
        spec.total_assets = static_cast<int>(assets->get_array().size());
        for (size_t i = 0; i < assets->get_array().size(); ++i) {
          CheckAsset(assets->get_array()[i], Index("assets", i), problems);
        }
      }
    }
    CheckActions(o, problems);
    ReadTags(o, problems, spec.tags);
    ReadPriority(o, problems, spec.priority);
    if (!problems.empty()) return problems.ToStatus("invalid nexrender job");
    o["creator"] = Str(creator);
    spec.payload = WriteJson(o);
    return spec;
  });
}

absl::StatusOr<V1Update> ParseV1Update(std::string_view text) {
  return NoThrow([&]() -> absl::StatusOr<V1Update> {
    absl::StatusOr<json::value> body = json_detail::ParseObjectBody(text, {});
    if (!body.ok()) return body.status();
    const json::object& o = body->get_object();
    V1Update update;
    const json::value* state = Member(o, "state");
    if (state == nullptr || !state->is_string()) {
      return InvalidArgumentWithViolations(
          "invalid job update",
          {{"state", state == nullptr ? "is required" : WrongType("a string", *state)}});
    }
    update.state = std::string(View(state->get_string()));
    if (update.state == "started" || update.state.starts_with("render:")) {
      update.report = V1Report::kProgress;
    } else if (update.state == "finished") {
      update.report = V1Report::kFinished;
    } else if (update.state == "error") {
      update.report = V1Report::kError;
    } else if (update.state == "queued") {
      update.report = V1Report::kQueued;
    } else {
      return InvalidArgumentWithViolations(
          "invalid job update",
          {{"state", absl::StrCat("must be a worker's report: started, render:<stage>, finished, "
                                  "error or queued; got '",
                                  Sv(std::string_view(update.state).substr(0, 64)), "'")}});
    }
    if (const json::value* p = Member(o, "renderProgress"); p != nullptr && p->is_number()) {
      const double d = p->to_number<double>();
      if (!std::isnan(d)) update.render_progress = std::clamp(d, 0.0, 100.0);
    }
    if (const json::value* e = Member(o, "error"); e != nullptr) {
      if (e->is_string()) {
        update.error = std::string(View(e->get_string()));
      } else if (e->is_array()) {
        for (const json::value& item : e->get_array()) {
          if (!update.error.empty()) update.error += "\n\n";
          update.error += item.is_string() ? std::string(View(item.get_string())) : WriteJson(item);
        }
      } else if (!e->is_null()) {
        update.error = WriteJson(*e);
      }
    }
    if (const json::value* u = Member(o, "outputUrl"); u != nullptr && u->is_string()) {
      update.output_url = std::string(View(u->get_string()));
    }
    return update;
  });
}

bool PayloadHasTemplateSrc(std::string_view payload) {
  if (payload.find("\"src\"") == std::string_view::npos) return false;
  return NoThrow([&]() -> absl::StatusOr<bool> {
           absl::StatusOr<json::value> v = json_detail::ParseObjectBody(payload, {});
           if (!v.ok()) return false;
           const json::value* tmpl = Member(v->get_object(), "template");
           if (tmpl == nullptr || !tmpl->is_object()) return false;
           const json::value* src = Member(tmpl->get_object(), "src");
           return src != nullptr && src->is_string() && !src->get_string().empty();
         })
      .value_or(false);
}

// ---- Writing ----------------------------------------------------------------------

std::string_view V1StateOf(const Job& job) {
  switch (job.state) {
    case JobState::kQueued:
    case JobState::kPending:
      return "queued";
    case JobState::kRendering:
      return "render:dorender";
    case JobState::kFinished:
      return "finished";
    case JobState::kError:
    case JobState::kCancelled:
      return "error";
  }
  return "error";
}

json::object V1JobToJson(const Job& job, std::string_view payload, std::string_view state,
                         std::string_view executor) {
  json::object out;
  if (absl::StatusOr<json::value> v = NoThrow([&] { return ParseJsonBody(payload); });
      v.ok() && v->is_object()) {
    out = std::move(v->get_object());
  }
  auto fill = [&](std::string_view key, json::value value) {
    if (!out.contains(json::string_view(key.data(), key.size()))) {
      out[json::string_view(key.data(), key.size())] = std::move(value);
    }
  };
  fill("type", "default");
  fill("timings", json::object());
  fill("actions", json::object{{"prerender", json::array()}, {"postrender", json::array()}});
  if (json::value* assets = out.if_contains("assets"); assets != nullptr && assets->is_array()) {
    json::array& list = assets->get_array();
    for (auto it = list.begin(); it != list.end();) {
      const json::value* type = it->is_object() ? Member(it->get_object(), "type") : nullptr;
      if (type != nullptr && type->is_string() && type->get_string() == "job") {
        it = list.erase(it);
      } else {
        ++it;
      }
    }
  } else {
    out["assets"] = json::array();
  }
  std::string tags;
  for (const std::string& tag : job.tags) {
    if (tag == kV1Tag) continue;
    if (!tags.empty()) tags += ',';
    tags += tag;
  }
  out["uid"] = Str(job.id.ToString());
  out["state"] = Str(state);
  out["tags"] = Str(tags);
  out["priority"] = job.priority;
  out["renderProgress"] = job.progress;
  out["error"] = job.stats.error ? json::value(Str(job.stats.error->str())) : json::value(nullptr);
  out["createdAt"] = Str(Time(job.stats.created_at));
  out["updatedAt"] = Str(Time(job.stats.updated_at));
  out["startedAt"] = Time(job.stats.started_at);
  out["finishedAt"] = Time(job.stats.finished_at);
  out["errorAt"] = Time(job.stats.error_at);
  out["executor"] = executor.empty() ? json::value(nullptr) : json::value(Str(executor));
  out["outputUrl"] = Str(job.output_url.str());
  return out;
}

json::object V1StatusToJson(const json::object& job) {
  auto or_null = [&](std::string_view key) -> json::value {
    const json::value* v = Member(job, key);
    return Truthy(v) ? *v : json::value(nullptr);
  };
  json::value error = or_null("error");
  if (error.is_array()) {
    std::string joined;
    for (const json::value& item : error.get_array()) {
      if (!joined.empty()) joined += "\n\n";
      joined += item.is_string() ? std::string(View(item.get_string())) : WriteJson(item);
    }
    error = Str(joined);
  }
  const json::value* progress = Member(job, "renderProgress");
  return json::object{{"uid", or_null("uid")},
                      {"state", or_null("state")},
                      {"type", or_null("type")},
                      {"tags", or_null("tags")},
                      {"renderProgress", Truthy(progress) ? *progress : json::value(0)},
                      {"error", std::move(error)},
                      {"createdAt", or_null("createdAt")},
                      {"updatedAt", or_null("updatedAt")},
                      {"startedAt", or_null("startedAt")},
                      {"finishedAt", or_null("finishedAt")},
                      {"errorAt", or_null("errorAt")},
                      {"jobCreator", or_null("creator")},
                      {"jobExecutor", or_null("executor")},
                      {"timings", or_null("timings")}};
}

}  // namespace cascade::wire
