// Copyright 2026 The Cascade Authors.
//
// The nexrender v1 bridge (v1_api.h): nexrender-server's /api/v1 routes over
// the engine, with wire/v1_json.h for every body.

#include "server/v1_api.h"

#include <algorithm>
#include <boost/json.hpp>
#include <climits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/responses.h"
#include "wire/json.h"
#include "wire/strings.h"
#include "wire/v1_json.h"

namespace cascade::server {
namespace {

namespace json = boost::json;
using wire::Sv;

// nexrender-server's answer to a missing or wrong secret, word for word.
constexpr std::string_view kWrongSecret =
    "Wrong or no authentication secret provided. Please check the \"nexrender-secret\" header.";

// GET /jobs answers at most this many jobs: the team's newest.
constexpr size_t kMaxListed = 10000;

enum class V1Route {
  kHealth,
  kCreate,
  kList,
  kListStatus,
  kPickup,
  kPickupTags,
  kGetStatus,
  kGet,
  kUpdate,
  kRemove,
};

struct V1RouteSpec {
  std::string_view method;
  std::string_view pattern;  // under /api/v1; "{id}" matches one segment
  V1Route id;
};

// clang-format off
constexpr V1RouteSpec kV1Routes[] = {
  {"GET",    "/health",             V1Route::kHealth},
  {"POST",   "/jobs",               V1Route::kCreate},
  {"GET",    "/jobs",               V1Route::kList},
  {"GET",    "/jobs/status",        V1Route::kListStatus},
  {"GET",    "/jobs/pickup",        V1Route::kPickup},
  {"GET",    "/jobs/pickup/{id}",   V1Route::kPickupTags},
  {"GET",    "/jobs/{id}/status",   V1Route::kGetStatus},
  {"GET",    "/jobs/{id}",          V1Route::kGet},
  {"PUT",    "/jobs/{id}",          V1Route::kUpdate},
  {"DELETE", "/jobs/{id}",          V1Route::kRemove},
};
// clang-format on

Response Text(int status, std::string_view text) {
  Response r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::string(text);
  return r;
}

// A uid that is no Cascade id names no job (as GET /api/v2/jobs/{id}).
absl::StatusOr<JobId> Uid(std::string_view text) {
  absl::StatusOr<JobId> id = JobId::Parse(text);
  if (!id.ok()) {
    return absl::NotFoundError(absl::StrCat("no job '", absl::CHexEscape(Sv(text.substr(0, 64))),
                                            "' (uids are Cascade job ids, ULIDs)"));
  }
  return id;
}

// %XX escapes of a path segment decoded; anything malformed kept as is.
std::string PercentDecoded(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    int hi = 0, lo = 0;
    auto hex = [](char c, int& v) {
      if (c >= '0' && c <= '9') return v = c - '0', true;
      if (c >= 'a' && c <= 'f') return v = c - 'a' + 10, true;
      if (c >= 'A' && c <= 'F') return v = c - 'A' + 10, true;
      return false;
    };
    if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1], hi) && hex(text[i + 2], lo)) {
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

// The worker a request comes from: its `nexrender-name`, else its address.
std::string Executor(const Request& request) {
  std::string_view name = request.Header("nexrender-name");
  if (!name.empty()) return std::string(name.substr(0, 256));
  if (!request.peer.empty()) return request.peer;
  return "nexrender-worker";
}

void MarkTree(JobSpec& spec) {
  if (wire::PayloadHasTemplateSrc(spec.payload) &&
      std::find(spec.tags.begin(), spec.tags.end(), wire::kV1Tag) == spec.tags.end()) {
    spec.tags.emplace_back(wire::kV1Tag);
  }
  for (JobSpec& child : spec.children) MarkTree(child);
}

}  // namespace

V1Api::V1Api(Engine* engine, V1Options options, Admit admit)
    : engine_(engine), options_(std::move(options)), admit_(std::move(admit)) {}

void V1Api::MarkRunnable(JobSpec& spec) const {
  if (enabled()) MarkTree(spec);
}

Response V1Api::Handle(const Request& request, std::string_view method, std::string_view path,
                       std::string& route_name) {
  if (!enabled()) {
    return Error(absl::NotFoundError(
        "the nexrender v1 routes are off (start cascade-server with --v1-secret SECRET=TEAM)"));
  }
  // As api.cc matches: of the patterns the path matches, those with the
  // fewest {id} segments count (GET /jobs/status is the list's status, not
  // job "status").
  RouteLookup<V1RouteSpec> found = FindRoute<kV1Routes>(method, path);
  if (found.route == nullptr && !found.allowed.empty()) {
    return MethodNotAllowed(method, found.allowed);
  }
  const V1RouteSpec* const route = found.route;
  if (route == nullptr) {
    return Error(absl::NotFoundError(absl::StrCat(
        "no route /api/v1", absl::CHexEscape(Sv(path.substr(0, 256))),
        " (the nexrender v1 routes are /jobs, /jobs/{uid}, /jobs/{uid}/status, /jobs/pickup, "
        "/jobs/pickup/{tags}, /health)")));
  }
  const std::vector<std::string_view>& ids = found.ids;
  if (request.method == "HEAD" &&
      (route->id == V1Route::kPickup || route->id == V1Route::kPickupTags)) {
    // A pickup claims a job: a HEAD, whose answer has no body, would hide
    // the job it took for a whole lease.
    Response r = Error(405, absl::FailedPreconditionError(
                                "HEAD is not allowed on a pickup (it claims a job); allowed: GET"));
    r.headers.emplace_back("Allow", "GET");
    return r;
  }
  route_name = absl::StrCat("v1 ", Sv(route->method), " ", Sv(route->pattern));
  if (route->id == V1Route::kHealth) return Text(200, "ok");

  // The secret, compared with every configured one in constant time.
  const std::string_view secret = request.Header("nexrender-secret");
  const std::string* team = nullptr;
  for (const auto& [s, owner] : options_.secrets) {
    if (SameSecret(secret, s)) team = &owner;
  }
  if (secret.empty() || team == nullptr) return Text(403, kWrongSecret);
  if (admit_) {
    if (std::optional<Response> refused = admit_(std::string(secret))) return *refused;
  }

  const std::string_view id = ids.empty() ? std::string_view() : ids[0];
  switch (route->id) {
    case V1Route::kHealth:
      break;
    case V1Route::kCreate:
      return CreateJob(request, *team);
    case V1Route::kList:
      return ListJobs(*team, /*status_only=*/false);
    case V1Route::kListStatus:
      return ListJobs(*team, /*status_only=*/true);
    case V1Route::kPickup:
      return Pickup(request, "");
    case V1Route::kPickupTags:
      return Pickup(request, id);
    case V1Route::kGetStatus:
      return GetJob(id, *team, /*status_only=*/true);
    case V1Route::kGet:
      return GetJob(id, *team, /*status_only=*/false);
    case V1Route::kUpdate:
      return Update(request, id, *team);
    case V1Route::kRemove:
      return RemoveJob(id, *team);
  }
  return Error(absl::InternalError("unhandled v1 route"));
}

// ---- What the bridge remembers ----------------------------------------------------

std::optional<V1Api::Held> V1Api::FindHeld(JobId id) const {
  internal::MutexLock lock(&mu_);
  auto it = held_.find(id);
  if (it == held_.end()) return std::nullopt;
  return it->second;
}

void V1Api::Forget(JobId id, std::string_view lease) {
  internal::MutexLock lock(&mu_);
  if (auto it = held_.find(id); it != held_.end() && it->second.lease == lease) held_.erase(it);
}

std::pair<std::string, std::string> V1Api::LiveState(const Job& job) const {
  if (job.state == JobState::kRendering) {
    if (std::optional<Held> held = FindHeld(job.id)) {
      return {held->state, held->executor};
    }
  }
  return {std::string(wire::V1StateOf(job)), ""};
}

Response V1Api::JobAnswer(const Job& job, bool status_only) const {
  absl::StatusOr<std::string> payload = engine_->GetPayload(job.team, job.id);
  if (!payload.ok()) return Error(payload.status());
  const auto [state, executor] = LiveState(job);
  json::object v1 = wire::V1JobToJson(job, *payload, state, executor);
  return Json(200, status_only ? wire::V1StatusToJson(v1) : v1);
}

// ---- Client routes ------------------------------------------------------------------

Response V1Api::CreateJob(const Request& request, const std::string& team) {
  absl::StatusOr<JobSpec> spec =
      wire::ParseV1Job(request.body, request.peer.empty() ? "unknown" : request.peer);
  if (!spec.ok()) return Error(spec.status());
  spec->tags.emplace_back(wire::kV1Tag);
  absl::StatusOr<CreatedJob> created = engine_->Submit(team, *spec);
  if (!created.ok()) return Error(created.status());
  absl::StatusOr<Job> job = engine_->Get(team, created->id);
  if (!job.ok()) return Error(job.status());
  // nexrender-server answers a creation with 200 and the stored job.
  return Json(200, wire::V1JobToJson(*job, spec->payload, wire::V1StateOf(*job), ""));
}

Response V1Api::ListJobs(const std::string& team, bool status_only) {
  // The team's newest kMaxListed v1-runnable jobs, answered oldest first as
  // nexrender-server lists them.
  std::vector<Job> jobs;
  ListQuery query;
  query.tags = {std::string(wire::kV1Tag)};
  query.sort = SortOrder::kNewestFirst;
  query.limit = ListQuery::kMaxLimit;
  while (jobs.size() < kMaxListed) {
    query.offset = jobs.size();
    absl::StatusOr<std::vector<Job>> page = engine_->List(team, query);
    if (!page.ok()) return Error(page.status());
    const size_t n = page->size();
    for (Job& job : *page) jobs.push_back(std::move(job));
    if (n < query.limit) break;
  }
  std::reverse(jobs.begin(), jobs.end());
  json::array out;
  out.reserve(jobs.size());
  for (const Job& job : jobs) {
    absl::StatusOr<std::string> payload = engine_->GetPayload(team, job.id);
    if (!payload.ok()) continue;  // purged since the list was read
    const auto [state, executor] = LiveState(job);
    json::object v1 = wire::V1JobToJson(job, *payload, state, executor);
    out.push_back(status_only ? wire::V1StatusToJson(v1) : std::move(v1));
  }
  return Json(200, out);
}

Response V1Api::GetJob(std::string_view uid, const std::string& team, bool status_only) {
  absl::StatusOr<JobId> id = Uid(uid);
  if (!id.ok()) return Error(id.status());
  absl::StatusOr<Job> job = engine_->Get(team, *id);
  if (!job.ok()) return Error(job.status());
  return JobAnswer(*job, status_only);
}

// nexrender-server deletes the job. Cascade keeps every job until retention
// purges it, so a removal stops the job instead: a queued or pending job is
// cancelled with its cascade (contract §4), a rendering one aborted (one
// this bridge handed out ends manually_cancelled at once: the bridge holds
// its lease), an ended one is left as it is.
Response V1Api::RemoveJob(std::string_view uid, const std::string& team) {
  absl::StatusOr<JobId> id = Uid(uid);
  if (!id.ok()) return Error(id.status());
  // The job may change between the read and the call (a worker claims it):
  // read again and retry, a few times.
  for (int attempt = 0; attempt < 4; ++attempt) {
    absl::StatusOr<Job> job = engine_->Get(team, *id);
    if (!job.ok()) return Error(job.status());
    absl::Status done;
    if (IsTerminal(job->state)) {
      break;
    } else if (job->state == JobState::kRendering) {
      if (!job->cancel_requested) done = engine_->RequestAbort(team, *id).status();
      if (done.ok()) {
        if (std::optional<Held> held = FindHeld(*id)) {
          // The bridge acknowledges for its v1 worker, which cannot be told.
          if (engine_->Release(*id, held->lease).ok()) Forget(*id, held->lease);
        }
      }
    } else {
      done = engine_->Cancel(team, *id).status();
    }
    if (done.ok()) break;
    if (!absl::IsFailedPrecondition(done)) return Error(done);
  }
  return Json(200, json::object{{"id", json::string(id->ToString())}, {"removed", true}});
}

// ---- Worker routes ------------------------------------------------------------------

Response V1Api::Pickup(const Request& request, std::string_view tags_text) {
  ClaimRequest claim;
  claim.worker = Executor(request);
  claim.tags = {std::string(wire::kV1Tag)};
  for (absl::string_view tag : absl::StrSplit(PercentDecoded(tags_text), ',')) {
    tag = absl::StripAsciiWhitespace(tag);
    if (!tag.empty()) claim.any_tags.emplace_back(tag);
  }
  claim.lease = options_.lease;
  absl::StatusOr<ClaimedJob> claimed = engine_->Claim(claim);
  // nexrender-server answers an empty queue with 200 {}.
  if (absl::IsNotFound(claimed.status())) return Json(200, json::object());
  if (!claimed.ok()) return Error(claimed.status());
  {
    internal::MutexLock lock(&mu_);
    // Forget the leases that ran out long ago (their jobs went back to the
    // queue, and their workers' reports are refused anyway).
    const absl::Time stale = options_.clock->Now() - absl::Minutes(5);
    absl::erase_if(held_, [&](const auto& entry) { return entry.second.expires_at < stale; });
    held_[claimed->job.id] =
        Held{claimed->lease.token, claim.worker, "picked", claimed->lease.expires_at};
  }
  return Json(200, wire::V1JobToJson(claimed->job, claimed->payload, "picked", claim.worker));
}

Response V1Api::Update(const Request& request, std::string_view uid, const std::string& team) {
  absl::StatusOr<JobId> id = Uid(uid);
  if (!id.ok()) return Error(id.status());
  absl::StatusOr<wire::V1Update> update = wire::ParseV1Update(request.body);
  if (!update.ok()) return Error(update.status());
  const std::string executor = Executor(request);
  std::optional<Held> held = FindHeld(*id);
  if (!held || held->executor != executor) {
    // Not this worker's: say why, as the team sees the job.
    absl::StatusOr<Job> job = engine_->Get(team, *id);
    if (!held && !job.ok()) return Error(job.status());
    std::string why;
    if (held) {
      why = absl::StrCat("it is held by another worker ('", held->executor, "')");
    } else if (job->state == JobState::kRendering) {
      why =
          "it is rendering, but not from a pickup this server remembers (a v2 worker's, or "
          "picked before the server restarted)";
    } else {
      why = absl::StrCat("it is ", Sv(wire::V1StateOf(*job)), " (cascade state ",
                         Sv(StateName(job->state)), ")");
    }
    return Error(absl::FailedPreconditionError(absl::StrCat(
        "job ", id->ToString(), " is not held by this worker ('", executor, "'): ", why)));
  }

  absl::StatusOr<Job> job;
  std::string state;
  switch (update->report) {
    case wire::V1Report::kProgress: {
      HeartbeatReport report;
      report.progress = update->render_progress;
      absl::StatusOr<HeartbeatResult> beat = engine_->Heartbeat(*id, held->lease, report);
      if (beat.ok() && beat->cancel_requested) {
        // An abort was asked for (or the attempt ran past its time limit). A
        // v1 worker cannot be told to stop, so the bridge acknowledges for
        // it: the job ends manually_cancelled (a timed-out attempt already
        // ended), and the worker's reports are refused from now on.
        (void)engine_->Release(*id, held->lease);
        Forget(*id, held->lease);
        return Error(absl::FailedPreconditionError(absl::StrCat(
            "job ", id->ToString(),
            " was aborted (or ran past its time limit): stop rendering it; it is no longer "
            "held by this worker")));
      }
      if (!beat.ok()) {
        job = beat.status();
        break;
      }
      {
        internal::MutexLock lock(&mu_);
        if (auto it = held_.find(*id); it != held_.end() && it->second.lease == held->lease) {
          it->second.state = update->state;
          it->second.expires_at = beat->lease.expires_at;
        }
      }
      job = std::move(beat->job);
      state = update->state;
      break;
    }
    case wire::V1Report::kFinished:
      job = engine_->Finish(*id, held->lease, FinishReport{.output_url = update->output_url});
      break;
    case wire::V1Report::kError:
      job = engine_->Fail(*id, held->lease, FailReport{.error = update->error, .retry = true});
      break;
    case wire::V1Report::kQueued:
      job = engine_->Release(*id, held->lease);
      break;
  }
  if (!job.ok()) {
    // Stale (expired, aborted past its grace, cancelled, retried elsewhere)
    // or gone: the bridge forgets it either way.
    Forget(*id, held->lease);
    if (absl::IsFailedPrecondition(job.status())) {
      return Error(absl::FailedPreconditionError(
          absl::StrCat("job ", id->ToString(), " is no longer held by this worker ('", executor,
                       "'): ", job.status().message())));
    }
    return Error(job.status());
  }
  if (update->report != wire::V1Report::kProgress) Forget(*id, held->lease);
  absl::StatusOr<std::string> payload = engine_->GetPayload(job->team, *id);
  if (!payload.ok()) return Error(payload.status());
  if (state.empty()) state = std::string(wire::V1StateOf(*job));
  return Json(200, wire::V1JobToJson(*job, *payload, state,
                                     update->report == wire::V1Report::kProgress ? executor : ""));
}

}  // namespace cascade::server
