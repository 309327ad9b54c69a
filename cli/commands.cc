// Copyright 2026 The Cascade Authors.
//
// One function per command; RunCommand picks it.

#include "cli/commands.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/client.h"
#include "cli/event_stream.h"
#include "cli/format.h"
#include "cli/wait.h"
#include "wire/json.h"
#include "wire/strings.h"

namespace cascade::cli {
namespace {

namespace json = boost::json;
using net::Method;
using wire::Sv;

json::string Str(std::string_view s) { return json::string(s.data(), s.size()); }

// Prints an answer's body as it came, ending in a line break.
void PrintRaw(std::ostream& out, std::string_view body) {
  out << body;
  if (!body.empty() && body.back() != '\n') out << '\n';
}

int UsageError(const Console& c, std::string_view message) {
  *c.err << "cascade: " << message << "\n";
  return kExitUsage;
}

// Percent-encodes `value` but for RFC 3986's unreserved characters and
// `keep`.
std::string Encode(std::string_view value, std::string_view keep) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || ch == '-' || ch == '.' || ch == '_' || ch == '~' ||
        keep.find(ch) != std::string_view::npos) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// A query value: ',' and ':' stay (lists, render:dorender, times), as RFC
// 3986 allows them in a query.
std::string Escape(std::string_view value) { return Encode(value, ",:"); }

// An id as one path segment: whatever was typed stays inside it.
std::string Segment(std::string_view id) { return Encode(id, ""); }

std::string JobsQuery(const ListFlags& l) {
  std::vector<std::string> params;
  auto add = [&](std::string_view name, std::string_view value) {
    if (!value.empty()) params.push_back(absl::StrCat(Sv(name), "=", Escape(value)));
  };
  add("states", absl::StrJoin(l.states, ","));
  add("exclude_states", absl::StrJoin(l.exclude_states, ","));
  add("tags", absl::StrJoin(l.tags, ","));
  if (l.limit) add("limit", absl::StrCat(*l.limit));
  if (l.from) add("from", absl::StrCat(*l.from));
  add("from_date", l.from_date);
  add("to_date", l.to_date);
  add("sort", l.sort);
  if (l.minimal) add("minimal", "true");
  return params.empty() ? "" : absl::StrCat("?", absl::StrJoin(params, "&"));
}

// ---- submit -------------------------------------------------------------------------

absl::StatusOr<std::string> ReadFile(const std::string& file, std::istream* in) {
  if (file == "-") {
    return std::string(std::istreambuf_iterator<char>(*in), std::istreambuf_iterator<char>());
  }
  std::ifstream stream(file, std::ios::binary);
  if (!stream) return absl::NotFoundError(absl::StrCat("cannot read ", file));
  std::ostringstream text;
  text << stream.rdbuf();
  if (stream.bad()) return absl::DataLossError(absl::StrCat("cannot read ", file));
  return text.str();
}

// Shows what POST /jobs or /batches created (unless --json: the answer is
// printed as it is), and the batch entries refused, on stderr. Returns
// whether some were.
bool ShowCreated(const json::object& created, bool batch, bool as_json, const Console& c) {
  const json::value answer(created);
  if (!batch) {
    if (as_json) return false;
    *c.out << "job " << StringAt(answer, "id") << " " << StringAt(answer, "status") << "\n";
    if (const json::value* children = created.if_contains("children");
        children != nullptr && children->is_array()) {
      for (const json::value& child : children->get_array()) {
        *c.out << "  child " << StringAt(child, "id") << " " << StringAt(child, "status") << "\n";
      }
    }
    return false;
  }
  auto index_of = [](const json::value& entry) {
    const json::value* index =
        entry.is_object() ? entry.get_object().if_contains("index") : nullptr;
    return index != nullptr && index->is_int64() ? absl::StrCat(index->get_int64()) : "?";
  };
  if (!as_json) {
    Table table({"INDEX", "ID", "STATE"});
    if (const json::value* jobs = created.if_contains("jobs");
        jobs != nullptr && jobs->is_array()) {
      for (const json::value& job : jobs->get_array()) {
        table.AddRow({index_of(job), StringAt(job, "id"), StringAt(job, "status")});
      }
    }
    *c.out << "batch " << StringAt(answer, "batchId") << ": " << table.rows() << " job"
           << (table.rows() == 1 ? "" : "s") << " created\n"
           << table.Render();
  }
  const json::value* errors = created.if_contains("errors");
  if (errors == nullptr || !errors->is_array() || errors->get_array().empty()) return false;
  for (const json::value& e : errors->get_array()) {
    *c.err << "error: jobs[" << index_of(e) << "] not created: " << StringAt(e, "error") << " ("
           << StringAt(e, "errorCode") << ")\n";
  }
  return true;
}

int Submit(const ApiClient& api, const Invocation& inv, const Console& c) {
  absl::StatusOr<std::string> text = ReadFile(inv.file, c.in);
  if (!text.ok()) return UsageError(c, std::string(text.status().message()));
  const std::string shown_name = inv.file == "-" ? "standard input" : inv.file;
  absl::StatusOr<json::value> body = wire::ParseJsonBody(*text);
  if (!body.ok()) {
    return UsageError(c, absl::StrCat(shown_name, " is not JSON: ", body.status().message()));
  }
  if (!body->is_object()) {
    return UsageError(c,
                      absl::StrCat(shown_name, " holds ", wire::KindName(*body),
                                   "; a job is a JobCreation object, a batch {\"jobs\": [...]}"));
  }
  // A BatchCreation is the object with "jobs"; anything else goes to POST
  // /jobs, whose validation names what is wrong.
  const bool batch = body->get_object().contains("jobs");
  // The file's own text is sent: what the user wrote is what the server reads.
  absl::StatusOr<Answer> answer =
      api.Call(Method::kPost, batch ? "/batches" : "/jobs", std::move(*text));
  if (!answer.ok()) return ReportError(answer.status(), *c.err, api.has_token());
  absl::StatusOr<json::value> created = wire::ParseJsonBody(answer->body);
  if (!created.ok() || !created->is_object()) {
    return ReportError(absl::InternalError("the creation answer is not a JSON object"), *c.err);
  }

  WaitTarget target{batch, StringAt(*created, batch ? "batchId" : "id")};
  const bool partial = ShowCreated(created->get_object(), batch, inv.json, c);
  if (inv.json) PrintRaw(*c.out, answer->body);
  c.out->flush();
  if (!inv.wait) return partial ? kExitRefused : kExitOk;

  // With --json stdout holds the answer alone: the progress goes to stderr.
  WaitOptions wait;
  wait.out = inv.json ? c.err : c.out;
  wait.tty = inv.json ? c.err_tty : c.out_tty;
  wait.interrupted = c.interrupted;
  absl::StatusOr<StateCounts> counts = WaitForJobs(api, target, wait);
  if (!counts.ok()) {
    if (counts.status().code() == absl::StatusCode::kCancelled &&
        HttpStatusOf(counts.status()) == 0) {
      *c.err << "cascade: interrupted; the jobs go on (cascade "
             << (batch ? "list --batch " : "get ") << target.id << ")\n";
      return kExitInterrupted;
    }
    return ReportError(counts.status(), *c.err, api.has_token());
  }
  if (counts->finished != counts->total()) {
    *c.err << "error: " << counts->total() - counts->finished << " of " << counts->total()
           << " jobs did not finish (error " << counts->error << ", cancelled " << counts->cancelled
           << ")\n";
    return kExitNotAllFinished;
  }
  return partial ? kExitRefused : kExitOk;
}

// ---- list, get, workers ---------------------------------------------------------------

int List(const ApiClient& api, const Invocation& inv, const Console& c) {
  if (!inv.list.batch.empty()) {
    absl::StatusOr<Answer> answer =
        api.Call(Method::kGet, absl::StrCat("/batches/", Segment(inv.list.batch)));
    if (!answer.ok()) return ReportError(answer.status(), *c.err, api.has_token());
    if (inv.json) {
      PrintRaw(*c.out, answer->body);
      return kExitOk;
    }
    absl::StatusOr<json::value> batch = wire::ParseJsonBody(answer->body);
    if (!batch.ok()) return ReportError(absl::InternalError("the answer is not JSON"), *c.err);
    Table table({"INDEX", "ID", "STATE", "OUTPUT"});
    const json::value* jobs =
        batch->is_object() ? batch->get_object().if_contains("jobs") : nullptr;
    if (jobs != nullptr && jobs->is_array()) {
      for (const json::value& job : jobs->get_array()) {
        const std::string state = StringAt(job, "status");
        if (!inv.list.states.empty() && std::find(inv.list.states.begin(), inv.list.states.end(),
                                                  state) == inv.list.states.end()) {
          continue;
        }
        const json::value* index =
            job.is_object() ? job.get_object().if_contains("index") : nullptr;
        table.AddRow({index != nullptr && index->is_int64() ? absl::StrCat(index->get_int64()) : "",
                      StringAt(job, "id"), state, StringAt(job, "outputUrl")});
      }
    }
    std::string counts;
    if (absl::StatusOr<StateCounts> n = CountsFromBatch(*batch); n.ok()) {
      counts =
          absl::StrCat(": ", n->ended(), "/", n->total(), " done · queued ", n->queued,
                       " · pending ", n->pending, " · rendering ", n->rendering, " · finished ",
                       n->finished, " · error ", n->error, " · cancelled ", n->cancelled);
    }
    *c.out << "batch " << inv.list.batch << " " << StringAt(*batch, "status") << counts << "\n"
           << table.Render();
    return kExitOk;
  }
  absl::StatusOr<Answer> answer =
      api.Call(Method::kGet, absl::StrCat("/jobs", JobsQuery(inv.list)));
  if (!answer.ok()) return ReportError(answer.status(), *c.err, api.has_token());
  if (inv.json) {
    PrintRaw(*c.out, answer->body);
    return kExitOk;
  }
  absl::StatusOr<json::value> jobs = wire::ParseJsonBody(answer->body);
  if (!jobs.ok() || !jobs->is_array()) {
    return ReportError(absl::InternalError("the answer to GET /jobs is not a JSON array"), *c.err);
  }
  if (jobs->get_array().empty()) {
    *c.err << "no jobs\n";
    return kExitOk;
  }
  *c.out << JobsTable(jobs->get_array()).Render();
  const int limit = inv.list.limit.value_or(100);
  if (static_cast<int>(jobs->get_array().size()) >= limit) {
    *c.err << "(the first " << limit << "; more with --from " << inv.list.from.value_or(0) + limit
           << ")\n";
  }
  return kExitOk;
}

// GET `path`: prints the JSON as it came with --json, else `show` of it.
template <typename Show>
int ShowJson(const ApiClient& api, const Invocation& inv, const Console& c, std::string_view path,
             Show show) {
  absl::StatusOr<Answer> answer = api.Call(Method::kGet, path);
  if (!answer.ok()) return ReportError(answer.status(), *c.err, api.has_token());
  if (inv.json) {
    PrintRaw(*c.out, answer->body);
    return kExitOk;
  }
  absl::StatusOr<json::value> parsed = wire::ParseJsonBody(answer->body);
  if (!parsed.ok()) return ReportError(absl::InternalError("the answer is not JSON"), *c.err);
  return show(*parsed);
}

int Get(const ApiClient& api, const Invocation& inv, const Console& c) {
  return ShowJson(api, inv, c, absl::StrCat("/jobs/", Segment(inv.ids.front())),
                  [&](const json::value& job) {
                    if (!job.is_object()) return kExitRefused;
                    *c.out << JobSheet(job.get_object());
                    return kExitOk;
                  });
}

int Workers(const ApiClient& api, const Invocation& inv, const Console& c) {
  return ShowJson(api, inv, c, "/workers", [&](const json::value& answer) {
    const json::value* workers =
        answer.is_object() ? answer.get_object().if_contains("workers") : nullptr;
    if (workers == nullptr || !workers->is_array()) return kExitRefused;
    if (workers->get_array().empty()) {
      *c.err << "no workers yet\n";
      return kExitOk;
    }
    *c.out << WorkersTable(workers->get_array()).Render();
    return kExitOk;
  });
}

// ---- cancel, retry, suspend, resume, abort ----------------------------------------------

// POST (or PATCH) `path` with `body`: prints the JSON as it came with
// --json, else a line per job of the answer (one Job, or an array of them)
// after `what` ("cancelled").
int Change(const ApiClient& api, const Invocation& inv, const Console& c, Method method,
           std::string_view path, std::string body, std::string_view what) {
  absl::StatusOr<Answer> answer = api.Call(method, path, std::move(body));
  if (!answer.ok()) return ReportError(answer.status(), *c.err, api.has_token());
  if (inv.json) {
    PrintRaw(*c.out, answer->body);
    return kExitOk;
  }
  absl::StatusOr<json::value> parsed = wire::ParseJsonBody(answer->body);
  if (!parsed.ok()) return ReportError(absl::InternalError("the answer is not JSON"), *c.err);
  if (parsed->is_object()) {
    *c.out << what << ": " << JobLine(parsed->get_object()) << "\n";
  } else if (parsed->is_array()) {
    const size_t n = parsed->get_array().size();
    *c.out << what << " " << n << " job" << (n == 1 ? "" : "s") << "\n"
           << JobsTable(parsed->get_array()).Render();
  }
  return kExitOk;
}

std::string IdsBody(const std::vector<std::string>& ids) {
  json::array jobs;
  for (const std::string& id : ids) jobs.emplace_back(Str(id));
  return wire::WriteJson(json::object{{"jobs", std::move(jobs)}});
}

// ---- watch, graph, logs -------------------------------------------------------------

int Watch(const ApiClient& api, const Invocation& inv, const Console& c) {
  static const std::atomic<bool> kNever{false};
  FollowOptions follow;
  std::vector<std::string> query;
  if (!inv.watch_batch.empty()) query.push_back(absl::StrCat("batch=", Escape(inv.watch_batch)));
  if (!inv.watch_job.empty()) query.push_back(absl::StrCat("job=", Escape(inv.watch_job)));
  follow.query = absl::StrJoin(query, "&");
  follow.stop = c.interrupted != nullptr ? c.interrupted : &kNever;
  follow.fail_fast = true;
  follow.on_event = [&](const SseEvent& event) {
    if (inv.json) {
      *c.out << event.data << "\n" << std::flush;
    } else {
      *c.out << EventLine(event) << "\n" << std::flush;
    }
  };
  follow.on_note = [&](const std::string& note) { *c.err << "cascade: " << note << "\n"; };
  if (c.err_tty) *c.err << "cascade: watching " << api.base_url() << "/events (Ctrl-C stops)\n";
  absl::Status status = FollowEvents(api, follow);
  if (!status.ok()) return ReportError(status, *c.err, api.has_token());
  return kExitOk;  // stopped by SIGINT: the normal end
}

int Text(const ApiClient& api, const Console& c, std::string_view path) {
  absl::StatusOr<Answer> answer = api.Call(Method::kGet, path);
  if (!answer.ok()) return ReportError(answer.status(), *c.err, api.has_token());
  PrintRaw(*c.out, answer->body);
  return kExitOk;
}

}  // namespace

int RunCommand(const Invocation& inv, const Console& c) {
  ApiClient api({.url = inv.url, .token = inv.token, .timeout = inv.timeout});
  const std::string id = inv.ids.empty() ? "" : inv.ids.front();
  const std::string job_path = absl::StrCat("/jobs/", Segment(id));
  switch (inv.command) {
    case Command::kSubmit:
      return Submit(api, inv, c);
    case Command::kList:
      return List(api, inv, c);
    case Command::kGet:
      return Get(api, inv, c);
    case Command::kCancel:
      if (inv.ids.size() == 1) {
        return Change(api, inv, c, Method::kPatch, absl::StrCat(job_path, "/cancel"), "",
                      "cancelled");
      }
      return Change(api, inv, c, Method::kPost, "/jobs/cancel", IdsBody(inv.ids), "cancelled");
    case Command::kRetry:
      if (inv.ids.size() == 1) {
        return Change(api, inv, c, Method::kPost, absl::StrCat(job_path, "/retry"), "", "revived");
      }
      return Change(api, inv, c, Method::kPost, "/jobs/retry", IdsBody(inv.ids), "revived");
    case Command::kSuspend:
      return Change(api, inv, c, Method::kPost, absl::StrCat(job_path, "/suspend"), "", "held");
    case Command::kResume:
      return Change(api, inv, c, Method::kPost, absl::StrCat(job_path, "/resume"), "", "resumed");
    case Command::kAbort:
      return Change(api, inv, c, Method::kPost, absl::StrCat(job_path, "/abort"), "",
                    "abort requested");
    case Command::kWatch:
      return Watch(api, inv, c);
    case Command::kGraph:
      return Text(api, c, absl::StrCat(job_path, inv.svg ? "/graph.svg" : "/graph"));
    case Command::kLogs:
      return Text(api, c, absl::StrCat(job_path, "/logs"));
    case Command::kWorkers:
      return Workers(api, inv, c);
  }
  return kExitUsage;
}

}  // namespace cascade::cli
