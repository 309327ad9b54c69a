// Copyright 2026 The Cascade Authors.
//
// Static checks of a JobSpec.

#include "engine/spec/spec_validation.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "boost/json/parse.hpp"
#include "cascade/engine.h"
#include "cascade/status.h"
#include "engine/util/strings.h"

namespace cascade::internal {
namespace {

bool IsTagChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == ':' || c == '/' || c == '-';
}

// RFC 9110 token characters (header field names).
bool IsTokenChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Headers the transport or the engine writes itself.
bool IsReservedHeader(std::string_view name) {
  for (std::string_view reserved :
       {"host", "content-length", "content-type", "transfer-encoding", "connection"}) {
    if (absl::EqualsIgnoreCase(Sv(name), Sv(reserved))) return true;
  }
  return absl::StartsWithIgnoreCase(Sv(name), "cascade-");
}

// http:// or https://, then a host before any '/', '?' or '#'.
bool IsWebhookUrl(std::string_view url) {
  std::string_view rest;
  if (absl::StartsWithIgnoreCase(Sv(url), "http://")) {
    rest = url.substr(7);
  } else if (absl::StartsWithIgnoreCase(Sv(url), "https://")) {
    rest = url.substr(8);
  } else {
    return false;
  }
  const size_t host_end = rest.find_first_of("/?#");
  if (rest.substr(0, host_end).empty()) return false;
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return false;
  }
  return true;
}

void Check(const JobSpec& spec, absl::string_view path, int depth,
           std::vector<FieldViolation>& out) {
  auto field = [&path](absl::string_view name) {
    return path.empty() ? std::string(name) : absl::StrCat(path, ".", name);
  };
  if (spec.template_id.size() > kMaxTemplateBytes) {
    out.push_back(
        {field("template.id"), absl::StrCat("longer than ", kMaxTemplateBytes, " bytes")});
  }
  if (spec.composition.size() > kMaxTemplateBytes) {
    out.push_back(
        {field("template.composition"), absl::StrCat("longer than ", kMaxTemplateBytes, " bytes")});
  }
  if (spec.total_assets < 0) out.push_back({field("assets"), "negative asset count"});
  if (spec.tags.size() > kMaxTags) {
    out.push_back({field("tags"), absl::StrCat("more than ", kMaxTags, " tags")});
  }
  for (size_t i = 0; i < spec.tags.size(); ++i) {
    const std::string& tag = spec.tags[i];
    std::string problem;  // the field's name is made only for a bad tag
    if (tag.empty() || tag.size() > kMaxTagBytes) {
      problem = absl::StrCat("a tag is 1-", kMaxTagBytes, " bytes");
    } else if (!std::all_of(tag.begin(), tag.end(), IsTagChar)) {
      problem = absl::StrCat("'", tag, "' has a character outside [A-Za-z0-9_.:/-]");
    }
    if (!problem.empty()) out.push_back({field(absl::StrCat("tags[", i, "]")), std::move(problem)});
  }
  if (spec.depends_on.size() > kMaxDependsOn) {
    out.push_back({field("dependsOn"), absl::StrCat("more than ", kMaxDependsOn, " ids")});
  }
  if (spec.depends_on.size() > 1) {  // one id cannot repeat: no set made for it
    absl::flat_hash_set<JobId> seen_deps;
    for (size_t i = 0; i < spec.depends_on.size(); ++i) {
      if (!seen_deps.insert(spec.depends_on[i]).second) {
        out.push_back({field(absl::StrCat("dependsOn[", i, "]")),
                       absl::StrCat(spec.depends_on[i].ToString(), " is listed twice")});
      }
    }
  }
  if (spec.output_url.size() > kMaxOutputUrlBytes) {
    out.push_back(
        {field("upload.outputUrl"), absl::StrCat("longer than ", kMaxOutputUrlBytes, " bytes")});
  }
  if (spec.payload.size() > kMaxPayloadBytes) {
    out.push_back({field("payload"), absl::StrCat("larger than ", kMaxPayloadBytes, " bytes")});
  }
  if (spec.max_attempts &&
      (*spec.max_attempts < kMinMaxAttempts || *spec.max_attempts > kMaxMaxAttempts)) {
    out.push_back(
        {field("maxAttempts"), absl::StrCat("must be ", kMinMaxAttempts, "-", kMaxMaxAttempts)});
  }
  if (spec.retry_backoff &&
      (*spec.retry_backoff < absl::ZeroDuration() || *spec.retry_backoff > kMaxRetryBackoff)) {
    out.push_back({field("retryBackoffSeconds"),
                   absl::StrCat("must be 0-", absl::ToInt64Seconds(kMaxRetryBackoff))});
  }
  if (spec.timeout &&
      (*spec.timeout <= absl::ZeroDuration() || *spec.timeout > kMaxRenderTimeout)) {
    out.push_back({field("timeoutSeconds"), absl::StrCat("must be positive, at most ",
                                                         absl::ToInt64Seconds(kMaxRenderTimeout))});
  }
  if (spec.webhook) CheckWebhook(*spec.webhook, path.empty() ? "" : absl::StrCat(path, "."), out);
  if (!spec.children.empty() && depth >= kMaxNestingDepth) {
    out.push_back(
        {field("children"), absl::StrCat("nested deeper than ", kMaxNestingDepth, " levels")});
    return;
  }
  for (size_t i = 0; i < spec.children.size(); ++i) {
    Check(spec.children[i], field(absl::StrCat("children[", i, "]")), depth + 1, out);
  }
}

}  // namespace

void CheckWebhook(const WebhookSpec& webhook, const std::string& path,
                  std::vector<FieldViolation>& out) {
  auto field = [&path](absl::string_view name) { return absl::StrCat(path, "webhook.", name); };
  if (webhook.url.size() > kMaxWebhookUrlBytes) {
    out.push_back({field("url"), absl::StrCat("longer than ", kMaxWebhookUrlBytes, " bytes")});
  } else if (!IsWebhookUrl(webhook.url)) {
    out.push_back({field("url"), "must be an http:// or https:// URL with a host"});
  }
  if (webhook.headers.size() > kMaxWebhookHeaders) {
    out.push_back({field("headers"), absl::StrCat("more than ", kMaxWebhookHeaders, " headers")});
  }
  for (const auto& [name, value] : webhook.headers) {
    const std::string where = field(absl::StrCat("headers.", name));
    if (name.empty() || name.size() > kMaxWebhookHeaderNameBytes ||
        !std::all_of(name.begin(), name.end(), IsTokenChar)) {
      out.push_back(
          {field("headers"), absl::StrCat("'", name, "' is not a header name of 1-",
                                          kMaxWebhookHeaderNameBytes, " token characters")});
    } else if (IsReservedHeader(name)) {
      out.push_back({where, "is set by the engine and cannot be configured"});
    } else if (value.size() > kMaxWebhookHeaderValueBytes) {
      out.push_back({where, absl::StrCat("longer than ", kMaxWebhookHeaderValueBytes, " bytes")});
    } else if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      out.push_back({where, "contains CR, LF or NUL"});
    }
  }
  if (webhook.data.size() > kMaxWebhookDataBytes) {
    out.push_back({field("data"), absl::StrCat("larger than ", kMaxWebhookDataBytes, " bytes")});
  } else if (!webhook.data.empty()) {
    boost::system::error_code ec;
    boost::json::parse_options options;
    options.max_depth = 64;
    boost::json::value data = boost::json::parse(webhook.data, ec, {}, options);
    if (ec || !data.is_object())
      out.push_back({field("data"), "must be the JSON text of an object"});
  }
}

size_t CountJobs(const JobSpec& spec) {
  size_t n = 1;
  for (const JobSpec& child : spec.children) n += CountJobs(child);
  return n;
}

absl::Status ValidateSpec(const JobSpec& spec) {
  std::vector<FieldViolation> violations;
  Check(spec, "", 0, violations);
  if (violations.empty() && CountJobs(spec) > kMaxJobsPerSpec) {
    violations.push_back(
        {"children", absl::StrCat("creates more than ", kMaxJobsPerSpec, " jobs")});
  }
  if (violations.empty()) return absl::OkStatus();
  return InvalidArgumentWithViolations("invalid job spec", violations);
}

absl::Status ValidateTeam(std::string_view team) {
  if (team.empty() || team.size() > kMaxTeamBytes) {
    return InvalidArgumentWithViolations(
        "invalid team", {{"team", absl::StrCat("a team name is 1-", kMaxTeamBytes, " bytes")}});
  }
  return absl::OkStatus();
}

absl::Status ValidateIdList(absl::Span<const JobId> ids, std::string_view request) {
  if (ids.empty() || ids.size() > kMaxCancelIds) {
    return InvalidArgumentWithViolations(
        absl::StrCat("invalid ", Sv(request), " request"),
        {{"jobs", absl::StrCat("expected 1-", kMaxCancelIds, " ids, got ", ids.size())}});
  }
  absl::flat_hash_map<JobId, size_t> first;
  first.reserve(ids.size());
  std::vector<FieldViolation> dups;
  for (size_t i = 0; i < ids.size(); ++i) {
    auto [it, inserted] = first.emplace(ids[i], i);
    if (!inserted) {
      dups.push_back({absl::StrCat("jobs[", i, "]"),
                      absl::StrCat(ids[i].ToString(), " repeats jobs[", it->second, "]")});
    }
  }
  if (!dups.empty()) return InvalidArgumentWithViolations("duplicate job ids", dups);
  return absl::OkStatus();
}

}  // namespace cascade::internal
