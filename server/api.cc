// Copyright 2026 The Cascade Authors.
//
// The routes of cascade-server (contract §11, and §14's retries, holds and
// priorities) over the engine and the wire library.

#include "server/api.h"

#include <algorithm>
#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/graphviz.hpp>
#include <boost/json.hpp>
#include <cmath>
#include <cstdint>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/dashboard_assets.h"
#include "server/graph_svg.h"
#include "server/responses.h"
#include "wire/job_json.h"
#include "wire/json.h"
#include "wire/query.h"
#include "wire/strings.h"
#include "wire/v1_json.h"
#include "wire/worker_bodies.h"

namespace cascade::server {
namespace {

namespace json = boost::json;
using wire::Sv;
using wire::WriteJson;

constexpr std::string_view kPrefix = "/api/v2";
// The nexrender v1 bridge's routes (v1_api.h).
constexpr std::string_view kV1Prefix = "/api/v1";

// ---- Requests ---------------------------------------------------------------------

absl::StatusOr<JobId> PathId(std::string_view text) {
  absl::StatusOr<JobId> id = JobId::Parse(text);
  if (!id.ok()) return BadField("id", std::string(id.status().message()));
  return id;
}

json::object DeadLetterToJson(const DeadLetter& letter) {
  return json::object{{"deliveryId", json::string(letter.delivery_id)},
                      {"jobId", json::string(letter.job_id.ToString())},
                      {"url", json::string(letter.url)},
                      {"attempts", letter.attempts},
                      {"lastError", json::string(letter.last_error)},
                      {"createdAt", json::string(FormatTimestamp(letter.created_at))},
                      {"diedAt", json::string(FormatTimestamp(letter.died_at))}};
}

// `lines` as one DOT string: quoted, joined by DOT's line break (\n), their
// quotes and backslashes escaped, so that no value ends the attribute or
// becomes a DOT escape (\N would expand to the node's name).
std::string DotString(std::initializer_list<std::string_view> lines) {
  std::string out = "\"";
  bool first = true;
  for (std::string_view line : lines) {
    if (!first) out += "\\n";
    first = false;
    for (char c : line) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
  }
  out += '"';
  return out;
}

// How a job in `state` is drawn: its fill colour, its text colour and the
// CSS class of its node (the dashboard's names, server/dashboard/format.js).
struct NodeLook {
  std::string_view fill, font, css;
};
NodeLook LookOf(std::string_view state) {
  if (state == "queued") return {"#d5d8dc", "black", "state-queued"};
  if (state == "pending") return {"#f4f6f7", "black", "state-pending"};
  if (state == "render:dorender") return {"#5dade2", "black", "state-rendering"};
  if (state == "finished") return {"#58d68d", "black", "state-finished"};
  if (state == "error") return {"#ec7063", "black", "state-error"};
  if (state == "manually_cancelled") return {"#616a6b", "white", "state-cancelled"};
  return {"white", "black", "state-unknown"};
}

// The DOT attributes of a job's node in FamilyDot.
std::string NodeAttributes(std::string_view id, std::string_view state, bool root) {
  const NodeLook look = LookOf(state);
  // "01HZX3…M1NB7Q" (an ellipsis, U+2026, in UTF-8), as the dashboard
  // shortens ids.
  const std::string short_id =
      id.size() > 14 ? absl::StrCat(Sv(id.substr(0, 6)), "\u2026", Sv(id.substr(id.size() - 6)))
                     : std::string(id);
  return absl::StrCat("[label=", DotString({short_id, state}),
                      ", tooltip=", DotString({absl::StrCat(Sv(id), " ", Sv(state))}),
                      ", id=", DotString({absl::StrCat("job-", Sv(id))}),
                      ", URL=", DotString({absl::StrCat("#/jobs/", Sv(id))}),
                      ", class=", DotString({absl::StrCat("job ", Sv(look.css))}),
                      ", fillcolor=", DotString({look.fill}),
                      ", fontcolor=", DotString({look.font}), root ? ", penwidth=3" : "", "]");
}

// GCC 12 sees Boost.Graph's edge_iterator (a boost::optional inside) as maybe
// uninitialized in write_graphviz's loop at -O2; it is not (the iterator is
// assigned before the loop reads it). Silenced for this function only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// The job's family as Graphviz DOT: an edge from each prerequisite to the job
// that needs it (solid: a nested child; dashed: dependsOn), so that `dot`
// ranks every job after what it waits for. Each job is a box labelled with
// its short id (the dashboard's: first and last six characters) and state,
// filled by state, with its whole id as tooltip, id="job-<id>" and
// URL="#/jobs/<id>" (a link in the SVG that the dashboard's router follows);
// the asked job drawn thicker. Ids and states are the only text, and they
// are written as DOT strings: nothing in them can end an attribute.
std::string FamilyDot(const std::vector<Job>& family, JobId root) {
  struct Node {
    std::string id, state;
    bool root = false;
  };
  struct Edge {
    bool nested = false;
  };
  using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS, Node, Edge>;
  Graph g;
  absl::flat_hash_map<JobId, Graph::vertex_descriptor> vertex;
  for (const Job& job : family) {
    vertex[job.id] = boost::add_vertex(
        Node{job.id.ToString(), std::string(StateName(job.state)), job.id == root}, g);
  }
  for (const Job& job : family) {
    for (const JobId& child : job.children) {
      if (auto it = vertex.find(child); it != vertex.end()) {
        boost::add_edge(it->second, vertex[job.id], Edge{true}, g);
      }
    }
    for (const JobId& dep : job.depends_on) {
      if (auto it = vertex.find(dep); it != vertex.end()) {
        boost::add_edge(it->second, vertex[job.id], Edge{false}, g);
      }
    }
  }
  std::ostringstream out;
  boost::write_graphviz(
      out, g,
      [&](std::ostream& os, Graph::vertex_descriptor v) {
        os << NodeAttributes(g[v].id, g[v].state, g[v].root);
      },
      [&](std::ostream& os, Graph::edge_descriptor e) {
        os << (g[e].nested ? "[label=\"child\"]" : "[style=dashed, label=\"dependsOn\"]");
      },
      // Courier first: Graphviz sizes the boxes with Courier's widths
      // (graph_svg.h), and a browser without it falls back to monospace.
      [](std::ostream& os) {
        os << "rankdir=LR;\nbgcolor=transparent;\n"
              "node [shape=box, style=filled, fontname=\"Courier,monospace\"];\n"
              "edge [fontname=\"Courier,monospace\", fontsize=10];\n";
      });
  return out.str();
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace

// ---- Tokens and limits ------------------------------------------------------------

// One token bucket per token: `rate` tokens a second, holding at most `rate`.
class Api::RateLimiter {
 public:
  RateLimiter(double rate, Clock* clock) : rate_(rate), clock_(clock) {}

  // Zero if the request may go now; else how long until it could.
  absl::Duration Acquire(const std::string& token) {
    if (rate_ <= 0) return absl::ZeroDuration();
    const absl::Time now = clock_->Now();
    internal::MutexLock lock(&mu_);
    auto [it, inserted] = buckets_.try_emplace(token, Bucket{rate_, now});
    Bucket& b = it->second;
    b.tokens = std::min(rate_, b.tokens + absl::ToDoubleSeconds(now - b.at) * rate_);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return absl::ZeroDuration();
    }
    return absl::Seconds((1 - b.tokens) / rate_);
  }

 private:
  struct Bucket {
    double tokens;
    absl::Time at;
  };
  const double rate_;
  Clock* const clock_;
  internal::Mutex mu_;  // a leaf
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

namespace {

// ---- Handlers: each gets the caller's team ("" on worker routes) -----------------

Response PostJobs(Engine& engine, const V1Api& v1, const Request& request,
                  const std::string& team) {
  absl::StatusOr<JobSpec> spec = wire::ParseJobCreation(request.body);
  if (!spec.ok()) return Error(spec.status());
  v1.MarkRunnable(*spec);
  absl::StatusOr<CreatedJob> created = engine.Submit(team, *spec);
  if (!created.ok()) return Error(created.status());
  return JsonText(201, wire::JobCreationResponseText(*created));
}

Response PostJoin(Engine& engine, const V1Api& v1, const Request& request,
                  const std::string& team) {
  absl::StatusOr<JobSpec> spec = wire::ParseJoinJobCreation(request.body);
  if (!spec.ok()) return Error(spec.status());
  v1.MarkRunnable(*spec);
  absl::StatusOr<CreatedJob> created = engine.Submit(team, *spec);
  if (!created.ok()) return Error(created.status());
  return JsonText(201, wire::JobCreationResponseText(*created));
}

Response GetJobs(Engine& engine, std::string_view query, const std::string& team) {
  absl::StatusOr<ListQuery> list = wire::ParseJobsQuery(query);
  if (!list.ok()) return Error(list.status());
  absl::StatusOr<std::vector<Job>> jobs = engine.List(team, *list);
  if (!jobs.ok()) return Error(jobs.status());
  return JsonText(200, wire::JobsToJsonText(
                           *jobs, list->minimal ? wire::JobView::kMinimal : wire::JobView::kFull));
}

Response GetJob(Engine& engine, std::string_view id_text, const std::string& team) {
  // The document gives this route's id no pattern and lists 200, 401 and 404
  // only: a text that is no job id names no job.
  absl::StatusOr<JobId> id = JobId::Parse(id_text);
  if (!id.ok()) {
    return Error(absl::NotFoundError(absl::StrCat(
        "no job '", absl::CHexEscape(Sv(id_text.substr(0, 64))), "' (job ids are ULIDs)")));
  }
  absl::StatusOr<Job> job = engine.Get(team, *id);
  if (!job.ok()) return Error(job.status());
  return JsonText(200, wire::JobToJsonText(*job));
}

Response CancelJob(Engine& engine, std::string_view id_text, const std::string& team) {
  absl::StatusOr<JobId> id = PathId(id_text);
  if (!id.ok()) return Error(id.status());
  absl::StatusOr<std::vector<Job>> cancelled = engine.Cancel(team, *id);
  if (!cancelled.ok()) return Error(cancelled.status());
  return JsonText(200, wire::JobsToJsonText(*cancelled));
}

Response CancelJobs(Engine& engine, const Request& request, const std::string& team) {
  absl::StatusOr<std::vector<JobId>> ids = wire::ParseJobCancellationRequest(request.body);
  if (!ids.ok()) return Error(ids.status());
  absl::StatusOr<std::vector<Job>> cancelled = engine.CancelMany(team, *ids);
  if (!cancelled.ok()) return Error(cancelled.status());
  return JsonText(200, wire::JobsToJsonText(*cancelled));
}

Response PostBatches(Engine& engine, const V1Api& v1, const Request& request,
                     const std::string& team) {
  absl::StatusOr<std::vector<absl::StatusOr<JobSpec>>> entries =
      wire::ParseBatchCreation(request.body);
  if (!entries.ok()) {
    // Every 400 of POST /batches is a BatchCreationResponse.
    return Json(400, wire::BatchCreationErrorResponseToJson(entries.status()));
  }
  for (absl::StatusOr<JobSpec>& entry : *entries) {
    if (entry.ok()) v1.MarkRunnable(*entry);
  }
  absl::StatusOr<BatchSubmitResult> result = engine.SubmitBatchEntries(team, *entries);
  if (!result.ok()) return Error(result.status());
  return JsonText(result->status == BatchSubmitStatus::kError ? 400 : 201,
                  wire::BatchCreationResponseText(*result));
}

Response GetBatch(Engine& engine, std::string_view id_text, const std::string& team) {
  absl::StatusOr<JobId> id = PathId(id_text);
  if (!id.ok()) return Error(id.status());
  absl::StatusOr<BatchView> view = engine.GetBatch(team, *id);
  if (!view.ok()) return Error(view.status());
  return JsonText(200, wire::BatchStatusResponseText(*view));
}

Response CancelBatch(Engine& engine, std::string_view id_text, const std::string& team) {
  absl::StatusOr<JobId> id = PathId(id_text);
  if (!id.ok()) return Error(id.status());
  absl::StatusOr<BatchCancelResult> result = engine.CancelBatch(team, *id);
  if (!result.ok()) return Error(result.status());
  return JsonText(200, wire::BatchCancellationResponseText(*result));
}

Response AbortJob(Engine& engine, std::string_view id_text, const std::string& team) {
  absl::StatusOr<JobId> id = PathId(id_text);
  if (!id.ok()) return Error(id.status());
  absl::StatusOr<Job> job = engine.RequestAbort(team, *id);
  if (!job.ok()) return Error(job.status());
  return JsonText(200, wire::JobToJsonText(*job));
}

// ---- Retries, holds and priorities (contract §14) ----------------------------------

Response RetryJob(Engine& engine, std::string_view id_text, const std::string& team) {
  absl::StatusOr<JobId> id = PathId(id_text);
  if (!id.ok()) return Error(id.status());
  const JobId ids[] = {*id};
  absl::StatusOr<std::vector<Job>> revived = engine.Retry(team, ids);
  if (!revived.ok()) return Error(revived.status());
  return JsonText(200, wire::JobsToJsonText(*revived));
}

Response RetryJobs(Engine& engine, const Request& request, const std::string& team) {
  absl::StatusOr<std::vector<JobId>> ids = wire::ParseJobRetryRequest(request.body);
  if (!ids.ok()) return Error(ids.status());
  absl::StatusOr<std::vector<Job>> revived = engine.Retry(team, *ids);
  if (!revived.ok()) return Error(revived.status());
  return JsonText(200, wire::JobsToJsonText(*revived));
}

// POST /jobs/{id}/suspend (`suspend`) or /resume: the one job.
Response HoldJob(Engine& engine, std::string_view id_text, const std::string& team, bool suspend) {
  absl::StatusOr<JobId> id = PathId(id_text);
  if (!id.ok()) return Error(id.status());
  const JobId ids[] = {*id};
  absl::StatusOr<std::vector<Job>> jobs =
      suspend ? engine.Suspend(team, ids) : engine.Resume(team, ids);
  if (!jobs.ok()) return Error(jobs.status());
  if (jobs->size() != 1) return Error(absl::InternalError("a hold of one job answered no job"));
  return JsonText(200, wire::JobToJsonText(jobs->front()));
}

// POST /batches/{id}/suspend (`suspend`) or /resume.
Response HoldBatch(Engine& engine, std::string_view id_text, const std::string& team,
                   bool suspend) {
  absl::StatusOr<BatchId> id = PathId(id_text);
  if (!id.ok()) return Error(id.status());
  absl::StatusOr<std::vector<Job>> changed =
      suspend ? engine.SuspendBatch(team, *id) : engine.ResumeBatch(team, *id);
  if (!changed.ok()) return Error(changed.status());
  return JsonText(200, wire::BatchHoldResponseText(*id, *changed));
}

Response PatchJob(Engine& engine, const Request& request, std::string_view id_text,
                  const std::string& team) {
  absl::StatusOr<JobId> id = PathId(id_text);
  if (!id.ok()) return Error(id.status());
  absl::StatusOr<wire::JobUpdate> update = wire::ParseJobUpdate(request.body);
  if (!update.ok()) return Error(update.status());
  absl::StatusOr<Job> job = engine.SetPriority(team, *id, update->priority);
  if (!job.ok()) return Error(job.status());
  return JsonText(200, wire::JobToJsonText(*job));
}

Response JobGraph(Engine& engine, std::string_view id_text, const std::string& team) {
  absl::StatusOr<JobId> id = PathId(id_text);
  if (!id.ok()) return Error(id.status());
  absl::StatusOr<std::vector<Job>> family = engine.GetFamily(team, *id);
  if (!family.ok()) return Error(family.status());
  Response r;
  r.content_type = "text/vnd.graphviz; charset=utf-8";
  r.body = FamilyDot(*family, *id);
  return r;
}

// GET /jobs/{id}/graph.svg: the DOT of GET /jobs/{id}/graph laid out by
// Graphviz (graph_svg.h; one layout at a time in the whole process).
Response JobGraphSvg(Engine& engine, std::string_view id_text, const std::string& team) {
  absl::StatusOr<JobId> id = PathId(id_text);
  if (!id.ok()) return Error(id.status());
  absl::StatusOr<std::vector<Job>> family = engine.GetFamily(team, *id);
  if (!family.ok()) return Error(family.status());
  // Layouts take the one Graphviz lock, and `dot` grows faster than the graph
  // (1,000 jobs: about half a second; 4,000: eleven). 1,000 is what one
  // submitted tree may hold, so any job's own tree can be drawn.
  constexpr size_t kMaxDrawn = 1000;
  if (family->size() > kMaxDrawn) {
    return Error(422, absl::ResourceExhaustedError(
                          absl::StrCat("the family of ", id->ToString(), " has ", family->size(),
                                       " jobs; graph.svg draws at most ", kMaxDrawn,
                                       " (GET /jobs/{id}/graph has them all as DOT)")));
  }
  absl::StatusOr<std::string> svg = DotToSvg(FamilyDot(*family, *id));
  if (!svg.ok()) {
    // The DOT is this file's own: whatever Graphviz refuses is our fault.
    return Error(absl::InternalError(absl::StrCat("drawing the family of ", id->ToString(),
                                                  " failed: ", svg.status().message())));
  }
  Response r;
  r.content_type = "image/svg+xml";
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  // Opened on its own, the drawing may load and run nothing (it needs nothing).
  r.headers.emplace_back("Content-Security-Policy", "default-src 'none'");
  r.body = *std::move(svg);
  return r;
}

Response FailedWebhooks(Engine& engine, const std::string& team) {
  absl::StatusOr<std::vector<DeadLetter>> letters = engine.ListDeadLetters(team);
  if (!letters.ok()) return Error(letters.status());
  json::array out;
  for (const DeadLetter& letter : *letters) out.push_back(DeadLetterToJson(letter));
  return Json(200, out);
}

Response ReplayWebhook(Engine& engine, std::string_view delivery_id, const std::string& team) {
  absl::Status status = engine.ReplayDeadLetter(team, delivery_id);
  if (!status.ok()) return Error(status);
  return Json(200,
              json::object{{"deliveryId", json::string(delivery_id.data(), delivery_id.size())},
                           {"status", "pending"}});
}

Response Claim(Engine& engine, const Request& request) {
  absl::StatusOr<ClaimRequest> claim = wire::ParseClaimBody(request.body);
  if (!claim.ok()) return Error(claim.status());
  absl::StatusOr<ClaimedJob> claimed = engine.Claim(*claim);
  if (absl::IsNotFound(claimed.status())) {
    Response r;
    r.status = 204;  // nothing to claim
    r.content_type.clear();
    return r;
  }
  if (!claimed.ok()) return Error(claimed.status());
  // Its nested children, so that the worker can use what they rendered.
  std::vector<Job> children;
  children.reserve(claimed->job.children.size());
  for (const JobId& child : claimed->job.children) {
    if (absl::StatusOr<Job> job = engine.Get(claimed->job.team, child); job.ok()) {
      children.push_back(*std::move(job));
    }
  }
  return Json(200, wire::ClaimResponseToJson(*claimed, children));
}

// POST /jobs/{id}/logs (worker).
Response AppendLog(Engine& engine, const Request& request, std::string_view id_text) {
  absl::StatusOr<JobId> id = PathId(id_text);
  if (!id.ok()) return Error(id.status());
  absl::StatusOr<wire::LogBody> body = wire::ParseLogBody(request.body);
  if (!body.ok()) return Error(body.status());
  if (absl::Status appended = engine.AppendLog(*id, body->lease, body->lines); !appended.ok()) {
    return Error(appended);
  }
  Response r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

// GET /jobs/{id}/logs (client): the OpenAPI operation getJobLogs. Unlike GET
// /jobs/{id}, the document gives this id a pattern and a 400 ("Invalid job
// identifier"), so a malformed id is 400 here.
Response GetLog(Engine& engine, std::string_view id_text, const std::string& team) {
  absl::StatusOr<JobId> id = PathId(id_text);
  if (!id.ok()) return Error(id.status());
  absl::StatusOr<std::string> log = engine.GetLog(team, *id);
  if (!log.ok()) return Error(log.status());
  Response r;
  r.content_type = "text/plain; charset=utf-8";
  r.headers.emplace_back("Content-Disposition",
                         absl::StrCat("inline; filename=\"", id->ToString(), ".log\""));
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.body = *std::move(log);
  return r;
}

// heartbeat, finish, fail, release: `action` is the route's last segment.
Response WorkerCall(Engine& engine, const Request& request, std::string_view id_text,
                    std::string_view action) {
  absl::StatusOr<JobId> id = PathId(id_text);
  if (!id.ok()) return Error(id.status());
  if (action == "heartbeat") {
    absl::StatusOr<wire::HeartbeatBody> body = wire::ParseHeartbeatBody(request.body);
    if (!body.ok()) return Error(body.status());
    absl::StatusOr<HeartbeatResult> result = engine.Heartbeat(*id, body->lease, body->report);
    if (!result.ok()) return Error(result.status());
    return Json(200, wire::HeartbeatResponseToJson(*result));
  }
  absl::StatusOr<Job> job;
  if (action == "finish") {
    absl::StatusOr<wire::FinishBody> body = wire::ParseFinishBody(request.body);
    if (!body.ok()) return Error(body.status());
    job = engine.Finish(*id, body->lease, body->report);
  } else if (action == "fail") {
    absl::StatusOr<wire::FailBody> body = wire::ParseFailBody(request.body);
    if (!body.ok()) return Error(body.status());
    job = engine.Fail(*id, body->lease, body->report);
  } else {
    absl::StatusOr<wire::ReleaseBody> body = wire::ParseReleaseBody(request.body);
    if (!body.ok()) return Error(body.status());
    job = engine.Release(*id, body->lease);
  }
  if (!job.ok()) return Error(job.status());
  return JsonText(200, wire::JobToJsonText(*job));
}

// ---- Routes ------------------------------------------------------------------------

enum class RouteId {
  kPostJobs,
  kGetJobs,
  kGetJob,
  kCancelJob,
  kCancelJobs,
  kJoin,
  kPostBatches,
  kGetBatch,
  kCancelBatch,
  kAbort,
  kGraph,
  kGraphSvg,
  kEvents,
  kPatchJob,
  kRetryJob,
  kRetryJobs,
  kSuspendJob,
  kResumeJob,
  kSuspendBatch,
  kResumeBatch,
  kFailedWebhooks,
  kReplay,
  kClaim,
  kWorkers,
  kAppendLog,
  kGetLog,
  kHeartbeat,
  kFinish,
  kFail,
  kRelease,
  kHealth,
  kMetrics,
};
enum class Auth { kNone, kClient, kWorker };

struct RouteSpec {
  std::string_view method;
  std::string_view pattern;  // under kPrefix; "{id}" matches one segment
  Auth auth;
  RouteId id;
};

// clang-format off
constexpr RouteSpec kRoutes[] = {
  {"POST", "/jobs",                            Auth::kClient, RouteId::kPostJobs},
  {"GET",  "/jobs",                            Auth::kClient, RouteId::kGetJobs},
  {"POST", "/jobs/cancel",                     Auth::kClient, RouteId::kCancelJobs},
  {"POST", "/jobs/join",                       Auth::kClient, RouteId::kJoin},
  {"POST", "/jobs/retry",                      Auth::kClient, RouteId::kRetryJobs},
  {"GET",  "/jobs/{id}",                       Auth::kClient, RouteId::kGetJob},
  {"PATCH","/jobs/{id}",                       Auth::kClient, RouteId::kPatchJob},
  {"PATCH","/jobs/{id}/cancel",                Auth::kClient, RouteId::kCancelJob},
  {"POST", "/jobs/{id}/abort",                 Auth::kClient, RouteId::kAbort},
  {"GET",  "/jobs/{id}/graph",                 Auth::kClient, RouteId::kGraph},
  {"GET",  "/jobs/{id}/graph.svg",             Auth::kClient, RouteId::kGraphSvg},
  {"POST", "/jobs/{id}/retry",                 Auth::kClient, RouteId::kRetryJob},
  {"POST", "/jobs/{id}/suspend",               Auth::kClient, RouteId::kSuspendJob},
  {"POST", "/jobs/{id}/resume",                Auth::kClient, RouteId::kResumeJob},
  {"GET",  "/jobs/{id}/logs",                  Auth::kClient, RouteId::kGetLog},
  {"POST", "/jobs/{id}/logs",                  Auth::kWorker, RouteId::kAppendLog},
  {"POST", "/jobs/{id}/heartbeat",             Auth::kWorker, RouteId::kHeartbeat},
  {"POST", "/jobs/{id}/finish",                Auth::kWorker, RouteId::kFinish},
  {"POST", "/jobs/{id}/fail",                  Auth::kWorker, RouteId::kFail},
  {"POST", "/jobs/{id}/release",               Auth::kWorker, RouteId::kRelease},
  {"POST", "/batches",                         Auth::kClient, RouteId::kPostBatches},
  {"GET",  "/batches/{id}",                    Auth::kClient, RouteId::kGetBatch},
  {"POST", "/batches/{id}/cancel",             Auth::kClient, RouteId::kCancelBatch},
  {"POST", "/batches/{id}/suspend",            Auth::kClient, RouteId::kSuspendBatch},
  {"POST", "/batches/{id}/resume",             Auth::kClient, RouteId::kResumeBatch},
  {"GET",  "/workers",                         Auth::kClient, RouteId::kWorkers},
  {"GET",  "/events",                          Auth::kClient, RouteId::kEvents},
  {"POST", "/workers/claim",                   Auth::kWorker, RouteId::kClaim},
  {"GET",  "/webhooks/failed",                 Auth::kClient, RouteId::kFailedWebhooks},
  {"POST", "/webhooks/failed/{id}/replay",     Auth::kClient, RouteId::kReplay},
  {"GET",  "/health",                          Auth::kNone,   RouteId::kHealth},
  {"GET",  "/metrics",                         Auth::kNone,   RouteId::kMetrics},
};
// clang-format on

}  // namespace

Api::Api(Engine* engine, const ApiOptions& options)
    : engine_(engine),
      options_(options),
      limiter_(std::make_unique<RateLimiter>(options.rate_limit, options.clock)) {
  V1Options v1;
  v1.secrets = options.v1_secrets;
  v1.lease = options.v1_lease;
  v1.clock = options.clock;
  v1_ = std::make_unique<V1Api>(engine, std::move(v1), [this](const std::string& secret) {
    return Admit(absl::StrCat("v1:", secret));
  });
}

Api::~Api() = default;

Response Api::Handle(const Request& request) {
  std::string route_name = "unmatched";
  Response response = Route(request, route_name);
  internal::MutexLock lock(&metrics_mu_);
  ++requests_[{route_name, response.status}];
  return response;
}

Response Api::Route(const Request& request, std::string& route_name) {
  if (request.body.size() > options_.max_body_bytes) {
    return Error(413, absl::ResourceExhaustedError(absl::StrCat(
                          "request body is larger than ", options_.max_body_bytes, " bytes")));
  }
  std::string_view target = request.target;
  const size_t q = target.find('?');
  const std::string_view query = q == target.npos ? std::string_view() : target.substr(q + 1);
  std::string_view path = target.substr(0, q);
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  // HEAD is GET without the body (the HTTP server drops it).
  const std::string_view method =
      request.method == "HEAD" ? std::string_view("GET") : std::string_view(request.method);
  if (path.substr(0, kV1Prefix.size()) == kV1Prefix &&
      (path.size() == kV1Prefix.size() || path[kV1Prefix.size()] == '/')) {
    return v1_->Handle(request, method, path.substr(kV1Prefix.size()), route_name);
  }
  // The dashboard: its page at /, its files under /ui/ (dashboard_assets.h).
  // No token: the page asks for one and sends it to /api/v2 itself.
  if (path == "/" || path.starts_with("/ui/")) {
    Response r = ServeDashboard(request, method, path);
    if (r.status < 400) route_name = path == "/" ? "GET /" : "GET /ui/{path}";
    return r;
  }
  if (path.substr(0, kPrefix.size()) != kPrefix) {
    return Error(absl::NotFoundError(absl::StrCat(
        "no route ", absl::CHexEscape(Sv(path.substr(0, 256))), " (routes are under /api/v2)")));
  }
  path.remove_prefix(kPrefix.size());
  // Concrete paths before templated ones, as OpenAPI matches paths.
  RouteLookup<RouteSpec> found = FindRoute<kRoutes>(method, path);
  if (found.route == nullptr && !found.allowed.empty()) {
    return MethodNotAllowed(method, found.allowed);
  }
  if (found.route == nullptr) {
    return Error(absl::NotFoundError(
        absl::StrCat("no route ", absl::CHexEscape(Sv(request.target.substr(0, 256))))));
  }
  const RouteSpec* const route = found.route;
  const std::vector<std::string_view>& ids = found.ids;
  route_name = std::string(route->method) + " " + std::string(route->pattern);

  // Who is calling.
  std::string team;
  if (route->auth != Auth::kNone) {
    const std::string_view header = request.Header("authorization");
    std::string_view token;
    if (header.size() > 7 && absl::EqualsIgnoreCase(Sv(header.substr(0, 7)), "bearer ")) {
      token = header.substr(7);
    }
    bool client = false, worker = false;
    for (const auto& [t, owner] : options_.client_tokens) {
      if (SameSecret(token, t)) {
        client = true;
        team = owner;
      }
    }
    for (const std::string& t : options_.worker_tokens) worker |= SameSecret(token, t);
    if (token.empty() || (!client && !worker)) {
      Response r = Error(401, absl::UnauthenticatedError(
                                  token.empty() ? "missing bearer token (Authorization: Bearer ...)"
                                                : "unknown token"));
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return r;
    }
    if (route->auth == Auth::kClient && !client) {
      return Error(absl::PermissionDeniedError("a worker token cannot call a client route"));
    }
    if (route->auth == Auth::kWorker && !worker) {
      return Error(absl::PermissionDeniedError("a client token cannot call a worker route"));
    }
    if (std::optional<Response> refused = Admit(std::string(token))) return *refused;
  }

  Engine& engine = *engine_;
  const std::string_view id = ids.empty() ? std::string_view() : ids[0];
  switch (route->id) {
    case RouteId::kPostJobs:
      return PostJobs(engine, *v1_, request, team);
    case RouteId::kGetJobs:
      return GetJobs(engine, query, team);
    case RouteId::kGetJob:
      return GetJob(engine, id, team);
    case RouteId::kCancelJob:
      return CancelJob(engine, id, team);
    case RouteId::kCancelJobs:
      return CancelJobs(engine, request, team);
    case RouteId::kJoin:
      return PostJoin(engine, *v1_, request, team);
    case RouteId::kPostBatches:
      return PostBatches(engine, *v1_, request, team);
    case RouteId::kGetBatch:
      return GetBatch(engine, id, team);
    case RouteId::kCancelBatch:
      return CancelBatch(engine, id, team);
    case RouteId::kAbort:
      return AbortJob(engine, id, team);
    case RouteId::kGraph:
      return JobGraph(engine, id, team);
    case RouteId::kGraphSvg:
      return JobGraphSvg(engine, id, team);
    case RouteId::kPatchJob:
      return PatchJob(engine, request, id, team);
    case RouteId::kRetryJob:
      return RetryJob(engine, id, team);
    case RouteId::kRetryJobs:
      return RetryJobs(engine, request, team);
    case RouteId::kSuspendJob:
      return HoldJob(engine, id, team, /*suspend=*/true);
    case RouteId::kResumeJob:
      return HoldJob(engine, id, team, /*suspend=*/false);
    case RouteId::kSuspendBatch:
      return HoldBatch(engine, id, team, /*suspend=*/true);
    case RouteId::kResumeBatch:
      return HoldBatch(engine, id, team, /*suspend=*/false);
    case RouteId::kFailedWebhooks:
      return FailedWebhooks(engine, team);
    case RouteId::kReplay:
      return ReplayWebhook(engine, id, team);
    case RouteId::kClaim:
      return Claim(engine, request);
    case RouteId::kWorkers:
      return Json(200, wire::WorkerListToJson(engine.ListWorkers(team)));
    case RouteId::kEvents:
      return Events(request, query, team);
    case RouteId::kAppendLog:
      return AppendLog(engine, request, id);
    case RouteId::kGetLog:
      return GetLog(engine, id, team);
    case RouteId::kHeartbeat:
      return WorkerCall(engine, request, id, "heartbeat");
    case RouteId::kFinish:
      return WorkerCall(engine, request, id, "finish");
    case RouteId::kFail:
      return WorkerCall(engine, request, id, "fail");
    case RouteId::kRelease:
      return WorkerCall(engine, request, id, "release");
    case RouteId::kHealth: {
      json::object health{{"status", "ok"}, {"jobs", engine.JobCount()}};
      // On PostgreSQL (contract §17); a standby's answer is EngineHost's.
      if (std::optional<LeaderStatus> leader = engine.Leader()) {
        health["role"] = "leader";
        health["epoch"] = leader->epoch;
        health["leaseAgeSeconds"] = absl::ToInt64Milliseconds(leader->lease_age) / 1000.0;
      }
      return Json(200, health);
    }
    case RouteId::kMetrics: {
      Response r;
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      r.body = MetricsText();
      return r;
    }
  }
  return Error(absl::InternalError("unhandled route"));
}

EventFeed& Api::feed() {
  std::call_once(feed_once_, [this] {
    EventFeedOptions events = options_.events;
    events.clock = options_.clock;
    feed_ = std::make_unique<EventFeed>(engine_, events);
    feed_ready_.store(feed_.get(), std::memory_order_release);
  });
  return *feed_;
}

Response Api::Events(const Request& request, std::string_view query, const std::string& team) {
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> params =
      wire::ParseQueryString(query);
  if (!params.ok()) return Error(params.status());
  StreamFilter filter;
  filter.team = team;
  for (const auto& [key, value] : *params) {
    if (key == "batch") {
      absl::StatusOr<BatchId> batch = BatchId::Parse(value);
      if (!batch.ok()) {
        return Error(absl::InvalidArgumentError(absl::StrCat("batch: ", batch.status().message())));
      }
      filter.batch = *batch;
    } else if (key == "job") {
      absl::StatusOr<JobId> job = JobId::Parse(value);
      if (!job.ok()) {
        return Error(absl::InvalidArgumentError(absl::StrCat("job: ", job.status().message())));
      }
      filter.job = *job;
    } else {
      return Error(absl::InvalidArgumentError(absl::StrCat("unknown parameter ",
                                                           absl::CHexEscape(Sv(key).substr(0, 64)),
                                                           " (the stream takes batch and job)")));
    }
  }
  absl::StatusOr<std::shared_ptr<StreamBody>> stream =
      feed().Open(filter, request.Header("last-event-id"));
  if (!stream.ok()) {
    Response r = Error(stream.status());
    if (absl::IsUnavailable(stream.status())) r.headers.emplace_back("Retry-After", "5");
    return r;
  }
  Response r;
  r.content_type = "text/event-stream";
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("X-Accel-Buffering", "no");  // proxies: do not buffer it
  r.stream = std::move(*stream);
  return r;
}

std::optional<Response> Api::Admit(const std::string& key) {
  const absl::Duration wait = limiter_->Acquire(key);
  if (wait <= absl::ZeroDuration()) return std::nullopt;
  rate_limited_.fetch_add(1, std::memory_order_relaxed);
  Response r =
      Error(429, absl::ResourceExhaustedError(absl::StrCat("rate limit of ", options_.rate_limit,
                                                           " requests/s for this token exceeded")));
  r.headers.emplace_back("Retry-After",
                         absl::StrCat(std::max<int64_t>(
                             1, static_cast<int64_t>(std::ceil(absl::ToDoubleSeconds(wait))))));
  return r;
}

std::string Api::MetricsText() const {
  std::string out;
  absl::StrAppend(&out,
                  "# HELP cascade_http_requests_total HTTP requests answered, by route and "
                  "status.\n# TYPE cascade_http_requests_total counter\n");
  {
    internal::MutexLock lock(&metrics_mu_);
    for (const auto& [key, n] : requests_) {
      absl::StrAppend(&out, "cascade_http_requests_total{route=\"", key.first, "\",code=\"",
                      key.second, "\"} ", n, "\n");
    }
  }
  absl::StrAppend(&out,
                  "# HELP cascade_http_rate_limited_total Requests refused by the rate limit.\n"
                  "# TYPE cascade_http_rate_limited_total counter\n"
                  "cascade_http_rate_limited_total ",
                  rate_limited_.load(std::memory_order_relaxed), "\n");
  const EventFeed* feed = feed_ready_.load(std::memory_order_acquire);
  absl::StrAppend(
      &out,
      "# HELP cascade_event_streams Open GET /api/v2/events streams.\n"
      "# TYPE cascade_event_streams gauge\ncascade_event_streams ",
      feed != nullptr ? feed->open_streams() : 0,
      "\n# HELP cascade_event_streams_too_slow_total Streams ended because their client fell "
      "behind.\n# TYPE cascade_event_streams_too_slow_total counter\n"
      "cascade_event_streams_too_slow_total ",
      feed != nullptr ? feed->slow_disconnects() : 0, "\n");
  absl::StrAppend(&out,
                  "# HELP cascade_jobs Jobs the engine holds.\n# TYPE cascade_jobs gauge\n"
                  "cascade_jobs ",
                  engine_->JobCount(), "\n");
  const OutboxCounts outbox = engine_->GetOutboxCounts();
  absl::StrAppend(
      &out,
      "# HELP cascade_webhook_outbox Webhook deliveries in the outbox, by stage.\n"
      "# TYPE cascade_webhook_outbox gauge\n",
      "cascade_webhook_outbox{stage=\"pending\"} ", outbox.pending, "\n",
      "cascade_webhook_outbox{stage=\"in_flight\"} ", outbox.in_flight, "\n",
      "cascade_webhook_outbox{stage=\"dead\"} ", outbox.dead, "\n",
      "# HELP cascade_webhook_attempts_total Delivery attempts since the engine started.\n"
      "# TYPE cascade_webhook_attempts_total counter\n"
      "cascade_webhook_attempts_total ",
      outbox.attempts_total, "\n",
      "# HELP cascade_webhook_delivered_total Deliveries answered 2xx since the engine started.\n"
      "# TYPE cascade_webhook_delivered_total counter\n"
      "cascade_webhook_delivered_total ",
      outbox.delivered_total, "\n");
  return out;
}

}  // namespace cascade::server
