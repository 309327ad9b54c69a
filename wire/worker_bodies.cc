// Copyright 2026 The Cascade Authors.
//
// The worker routes' bodies (worker_bodies.h).

#include "wire/worker_bodies.h"

#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cascade/job.h"
#include "cascade/status.h"
#include "wire/job_json.h"
#include "wire/json.h"
#include "wire/strings.h"

namespace cascade::wire {
namespace {

namespace json = ::boost::json;

// A JSON object body, or an empty one for an empty body when `optional`.
absl::StatusOr<json::object> ObjectBody(std::string_view body, bool optional) {
  if (optional && body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return json::object();
  }
  absl::StatusOr<json::value> value = ParseJsonBody(body);
  if (!value.ok()) return value.status();
  if (!value->is_object()) {
    return InvalidArgumentWithViolations("invalid body", {{"body", "must be a JSON object"}});
  }
  return std::move(value->as_object());
}

// Reads the fields of a worker body, each optional unless named in `required`.
class Fields {
 public:
  explicit Fields(const json::object& o) : o_(o) {}

  std::optional<std::string> String(std::string_view key, bool required = false) {
    const json::value* v = o_.if_contains(json::string_view(key.data(), key.size()));
    if (v == nullptr) {
      if (required) bad_.push_back({std::string(key), "is required"});
      return std::nullopt;
    }
    if (!v->is_string()) {
      bad_.push_back({std::string(key), "must be a string"});
      return std::nullopt;
    }
    return std::string(v->as_string().data(), v->as_string().size());
  }
  std::optional<double> Number(std::string_view key) {
    const json::value* v = o_.if_contains(json::string_view(key.data(), key.size()));
    if (v == nullptr) return std::nullopt;
    if (!v->is_number()) {
      bad_.push_back({std::string(key), "must be a number"});
      return std::nullopt;
    }
    return v->to_number<double>();
  }
  std::optional<bool> Bool(std::string_view key) {
    const json::value* v = o_.if_contains(json::string_view(key.data(), key.size()));
    if (v == nullptr) return std::nullopt;
    if (!v->is_bool()) {
      bad_.push_back({std::string(key), "must be true or false"});
      return std::nullopt;
    }
    return v->as_bool();
  }
  std::vector<std::string> Strings(std::string_view key) {
    std::vector<std::string> out;
    const json::value* v = o_.if_contains(json::string_view(key.data(), key.size()));
    if (v == nullptr) return out;
    if (!v->is_array()) {
      bad_.push_back({std::string(key), "must be an array of strings"});
      return out;
    }
    for (size_t i = 0; i < v->as_array().size(); ++i) {
      const json::value& item = v->as_array()[i];
      if (!item.is_string()) {
        bad_.push_back({absl::StrCat(Sv(key), "[", i, "]"), "must be a string"});
        continue;
      }
      out.emplace_back(item.as_string().data(), item.as_string().size());
    }
    return out;
  }
  // A required array of log lines: strings without NUL bytes, at most
  // kMaxLogLinesPerCall of them.
  std::vector<std::string> Lines(std::string_view key) {
    const json::value* v = o_.if_contains(json::string_view(key.data(), key.size()));
    if (v == nullptr) {
      bad_.push_back({std::string(key), "is required"});
      return {};
    }
    if (v->is_array() && v->as_array().size() > kMaxLogLinesPerCall) {
      bad_.push_back({std::string(key), absl::StrCat("must have at most ", kMaxLogLinesPerCall,
                                                     " lines; send the rest in another call")});
      return {};
    }
    std::vector<std::string> lines = Strings(key);
    for (size_t i = 0; i < lines.size() && bad_.size() < kMaxViolations; ++i) {
      if (lines[i].find('\0') != std::string::npos) {
        bad_.push_back({absl::StrCat(Sv(key), "[", i, "]"), "must not hold a NUL byte"});
      }
    }
    return lines;
  }
  // Seconds, as a positive duration of at most a day.
  std::optional<absl::Duration> Seconds(std::string_view key) {
    std::optional<double> s = Number(key);
    if (!s) return std::nullopt;
    if (!(*s > 0 && *s <= 86400)) {
      bad_.push_back({std::string(key), "must be more than 0 and at most 86400 seconds"});
      return std::nullopt;
    }
    return absl::Milliseconds(std::llround(*s * 1000));
  }
  absl::Status status(std::string_view summary) const {
    if (bad_.empty()) return absl::OkStatus();
    return InvalidArgumentWithViolations(summary, bad_);
  }

 private:
  const json::object& o_;
  std::vector<FieldViolation> bad_;
};

// Parses a body of a route on a leased job: `read` takes the fields after the
// lease into `*out`, and the violations, if any, are summarized as `summary`.
template <typename Body, typename Read>
absl::StatusOr<Body> LeasedBody(std::string_view text, std::string_view summary, Read read) {
  absl::StatusOr<json::object> object = ObjectBody(text, /*optional=*/false);
  if (!object.ok()) return object.status();
  Fields fields(*object);
  Body body;
  body.lease = fields.String("lease", /*required=*/true).value_or("");
  read(fields, body);
  if (absl::Status s = fields.status(summary); !s.ok()) return s;
  return body;
}

}  // namespace

// ---- Reading ----------------------------------------------------------------------

absl::StatusOr<ClaimRequest> ParseClaimBody(std::string_view text) {
  absl::StatusOr<json::object> object = ObjectBody(text, /*optional=*/true);
  if (!object.ok()) return object.status();
  Fields fields(*object);
  ClaimRequest claim;
  claim.worker = fields.String("worker").value_or("");
  claim.tags = fields.Strings("tags");
  claim.lease = fields.Seconds("leaseSeconds");
  if (absl::Status s = fields.status("invalid claim"); !s.ok()) return s;
  return claim;
}

absl::StatusOr<HeartbeatBody> ParseHeartbeatBody(std::string_view text) {
  return LeasedBody<HeartbeatBody>(text, "invalid heartbeat",
                                   [](Fields& fields, HeartbeatBody& body) {
                                     body.report.progress = fields.Number("progress");
                                     body.report.extend = fields.Seconds("extendSeconds");
                                   });
}

absl::StatusOr<FinishBody> ParseFinishBody(std::string_view text) {
  return LeasedBody<FinishBody>(text, "invalid finish", [](Fields& fields, FinishBody& body) {
    body.report.output_url = fields.String("outputUrl").value_or("");
  });
}

absl::StatusOr<FailBody> ParseFailBody(std::string_view text) {
  return LeasedBody<FailBody>(text, "invalid fail", [](Fields& fields, FailBody& body) {
    body.report.error = fields.String("error").value_or("");
    body.report.retry = fields.Bool("retry").value_or(true);
  });
}

absl::StatusOr<ReleaseBody> ParseReleaseBody(std::string_view text) {
  return LeasedBody<ReleaseBody>(text, "invalid release", [](Fields&, ReleaseBody&) {});
}

absl::StatusOr<LogBody> ParseLogBody(std::string_view text) {
  return LeasedBody<LogBody>(text, "invalid log lines", [](Fields& fields, LogBody& body) {
    body.lines = fields.Lines("lines");
  });
}

// ---- Writing ----------------------------------------------------------------------

json::object LeaseToJson(const Lease& lease) {
  return json::object{{"token", json::string(lease.token)},
                      {"expiresAt", json::string(FormatTimestamp(lease.expires_at))}};
}

json::object ClaimResponseToJson(const ClaimedJob& claimed, absl::Span<const Job> children) {
  json::object out{{"job", JobToJson(claimed.job)}, {"lease", LeaseToJson(claimed.lease)}};
  // What the job was created from (the JobCreation body), for the worker.
  absl::StatusOr<json::value> payload = ParseJsonBody(claimed.payload);
  // The layerName of each asset of type "job", in asset order: the order of
  // the children.
  std::vector<json::value> layer_names;
  if (payload.ok() && payload->is_object()) {
    if (const json::value* assets = payload->get_object().if_contains("assets");
        assets != nullptr && assets->is_array()) {
      for (const json::value& asset : assets->get_array()) {
        if (!asset.is_object()) continue;
        const json::value* type = asset.get_object().if_contains("type");
        if (type == nullptr || !type->is_string() || type->get_string() != "job") continue;
        const json::value* layer = asset.get_object().if_contains("layerName");
        layer_names.push_back(layer != nullptr && layer->is_string() ? *layer
                                                                     : json::value(nullptr));
      }
    }
  }
  json::array list;
  list.reserve(children.size());
  for (size_t i = 0; i < children.size(); ++i) {
    const Job& child = children[i];
    list.push_back(json::object{
        {"id", json::string(child.id.ToString())},
        {"status", json::string(StateName(child.state))},
        {"outputUrl", child.output_url.empty() ? json::value(nullptr)
                                               : json::value(json::string(child.output_url.str()))},
        {"layerName", i < layer_names.size() ? layer_names[i] : json::value(nullptr)}});
  }
  out["payload"] = payload.ok() ? std::move(*payload) : json::value(json::string(claimed.payload));
  out["children"] = std::move(list);
  return out;
}

json::object HeartbeatResponseToJson(const HeartbeatResult& result) {
  return json::object{{"job", JobToJson(result.job)},
                      {"lease", LeaseToJson(result.lease)},
                      {"cancelRequested", result.cancel_requested}};
}

json::object WorkerListToJson(absl::Span<const WorkerInfo> workers) {
  json::array list;
  list.reserve(workers.size());
  for (const WorkerInfo& w : workers) {
    json::array tags;
    for (const std::string& tag : w.tags) tags.emplace_back(json::string(tag));
    json::array jobs;
    for (const JobId& id : w.jobs) jobs.emplace_back(json::string(id.ToString()));
    list.push_back(json::object{{"name", json::string(w.name)},
                                {"tags", std::move(tags)},
                                {"lastSeen", json::string(FormatTimestamp(w.last_seen))},
                                {"leaseSeconds", absl::ToDoubleSeconds(w.lease)},
                                {"status", json::string(WorkerStatusName(w.status))},
                                {"jobs", std::move(jobs)}});
  }
  return json::object{{"workers", std::move(list)}};
}

}  // namespace cascade::wire
