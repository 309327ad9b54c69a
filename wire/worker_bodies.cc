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

// ---- Writing ----------------------------------------------------------------------

json::object LeaseToJson(const Lease& lease) {
  return json::object{{"token", json::string(lease.token)},
                      {"expiresAt", json::string(FormatTimestamp(lease.expires_at))}};
}

json::object ClaimResponseToJson(const ClaimedJob& claimed) {
  json::object out{{"job", JobToJson(claimed.job)}, {"lease", LeaseToJson(claimed.lease)}};
  // What the job was created from (the JobCreation body), for the worker.
  absl::StatusOr<json::value> payload = ParseJsonBody(claimed.payload);
  out["payload"] = payload.ok() ? *payload : json::value(json::string(claimed.payload));
  return out;
}

json::object HeartbeatResponseToJson(const HeartbeatResult& result) {
  return json::object{{"job", JobToJson(result.job)},
                      {"lease", LeaseToJson(result.lease)},
                      {"cancelRequested", result.cancel_requested}};
}

}  // namespace cascade::wire
