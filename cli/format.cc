// Copyright 2026 The Cascade Authors.
//
// Formatting of jobs, workers and events for people.

#include "cli/format.h"

#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "wire/json.h"
#include "wire/strings.h"

namespace cascade::cli {
namespace {

namespace json = boost::json;
using wire::Sv;

// Longest error message shown in a table's NOTE column.
constexpr size_t kNoteErrorChars = 60;

const json::value* At(const json::value& v, std::string_view key) {
  const json::object* o = v.if_object();
  return o == nullptr ? nullptr : o->if_contains(json::string_view(key.data(), key.size()));
}

bool BoolAt(const json::value& v, std::string_view key) {
  const json::value* x = At(v, key);
  return x != nullptr && x->is_bool() && x->get_bool();
}

// A number as people read it: "3", "42.5"; "" when not a number.
std::string NumberAt(const json::value& v, std::string_view key) {
  const json::value* x = At(v, key);
  if (x == nullptr) return "";
  if (x->is_int64()) return absl::StrCat(x->get_int64());
  if (x->is_uint64()) return absl::StrCat(x->get_uint64());
  if (x->is_double()) {
    const double d = x->get_double();
    if (std::floor(d) == d && std::abs(d) < 1e15) return absl::StrCat(static_cast<int64_t>(d));
    return absl::StrFormat("%.1f", d);
  }
  return "";
}

// The strings of an array at `key`, joined by ", ".
std::string ListAt(const json::value& v, std::string_view key) {
  const json::value* x = At(v, key);
  if (x == nullptr || !x->is_array()) return "";
  std::vector<std::string> items;
  for (const json::value& item : x->get_array()) {
    if (item.is_string()) items.emplace_back(item.get_string().data(), item.get_string().size());
  }
  return absl::StrJoin(items, ", ");
}

// The note of a job: why it is where it is.
std::string Note(const json::value& job) {
  std::vector<std::string> notes;
  if (BoolAt(job, "suspended")) notes.push_back("held");
  if (BoolAt(job, "cancelRequested")) notes.push_back("abort requested");
  if (const std::string retry_at = StringAt(job, "retryAt"); !retry_at.empty()) {
    notes.push_back(absl::StrCat("retry at ", ShortTime(retry_at)));
  }
  const json::value* stats = At(job, "stats");
  if (std::string error = stats == nullptr ? "" : StringAt(*stats, "error"); !error.empty()) {
    if (error.size() > kNoteErrorChars) error = absl::StrCat(error.substr(0, kNoteErrorChars), "…");
    notes.push_back(error);
  }
  return absl::StrJoin(notes, "; ");
}

std::string Attempts(const json::value& job) {
  const std::string attempts = NumberAt(job, "attempts");
  const std::string max = NumberAt(job, "maxAttempts");
  if (attempts.empty()) return "";
  return max.empty() ? attempts : absl::StrCat(attempts, "/", max);
}

std::string Progress(const json::value& job) {
  const std::string progress = NumberAt(job, "progress");
  return progress.empty() ? "" : absl::StrCat(progress, "%");
}

std::string OrDash(std::string s) { return s.empty() ? "-" : s; }

}  // namespace

std::string StringAt(const json::value& v, std::string_view key) {
  const json::value* x = At(v, key);
  if (x == nullptr || !x->is_string()) return "";
  return std::string(x->get_string().data(), x->get_string().size());
}

std::string ShortTime(std::string_view t) {
  // 2026-12-05T07:03:34.105Z
  if (t.size() >= 19 && t[10] == 'T' && t[13] == ':' && t[16] == ':') {
    return absl::StrCat(Sv(t.substr(0, 10)), " ", Sv(t.substr(11, 8)));
  }
  return std::string(t);
}

Table JobsTable(const json::array& jobs) {
  Table table({"ID", "STATE", "PROGRESS", "ATTEMPTS", "PRIORITY", "TAGS", "CREATED", "NOTE"});
  for (const json::value& job : jobs) {
    const json::value* stats = At(job, "stats");
    table.AddRow({StringAt(job, "id"), StringAt(job, "status"), Progress(job), Attempts(job),
                  NumberAt(job, "priority"), ListAt(job, "tags"),
                  stats == nullptr ? "" : ShortTime(StringAt(*stats, "createdAt")), Note(job)});
  }
  return table;
}

std::string JobSheet(const json::object& object) {
  const json::value job(object);
  const json::value* stats = At(job, "stats");
  auto stat = [&](std::string_view key) {
    return stats == nullptr ? std::string() : StringAt(*stats, key);
  };
  std::string state = StringAt(job, "status");
  if (std::string note = Note(job); !note.empty()) absl::StrAppend(&state, " (", note, ")");
  const std::vector<std::pair<std::string, std::string>> rows = {
      {"id", StringAt(job, "id")},
      {"state", state},
      {"progress", Progress(job)},
      {"attempts", Attempts(job)},
      {"priority", NumberAt(job, "priority")},
      {"template", StringAt(job, "templateId")},
      {"batch", StringAt(job, "batchId")},
      {"parent", StringAt(job, "parentId")},
      {"children", ListAt(job, "children")},
      {"dependsOn", ListAt(job, "dependsOn")},
      {"tags", ListAt(job, "tags")},
      {"created", ShortTime(stat("createdAt"))},
      {"started", ShortTime(stat("startedAt"))},
      {"finished", ShortTime(stat("finishedAt"))},
      {"errorAt", ShortTime(stat("errorAt"))},
      {"error", stat("error")},
      {"outputUrl", StringAt(job, "outputUrl")},
  };
  std::string out;
  for (const auto& [name, value] : rows) {
    absl::StrAppend(&out, name, ":", std::string(11 - name.size(), ' '), OrDash(value), "\n");
  }
  return out;
}

std::string JobLine(const json::object& object) {
  const json::value job(object);
  std::string line = absl::StrCat(StringAt(job, "id"), " ", StringAt(job, "status"));
  if (std::string note = Note(job); !note.empty()) absl::StrAppend(&line, " (", note, ")");
  return line;
}

Table WorkersTable(const json::array& workers) {
  Table table({"NAME", "STATUS", "TAGS", "JOBS", "LAST SEEN", "LEASE"});
  for (const json::value& worker : workers) {
    const std::string lease = NumberAt(worker, "leaseSeconds");
    table.AddRow({StringAt(worker, "name"), StringAt(worker, "status"), ListAt(worker, "tags"),
                  ListAt(worker, "jobs"), ShortTime(StringAt(worker, "lastSeen")),
                  lease.empty() ? "" : absl::StrCat(lease, "s")});
  }
  return table;
}

std::string EventLine(const SseEvent& event) {
  absl::StatusOr<json::value> data = wire::ParseJsonBody(event.data);
  if (!data.ok() || !data->is_object()) return absl::StrCat(event.type, ": ", event.data);
  // "2026-12-05T10:00:00.123Z" -> "10:00:00.123"
  std::string time = StringAt(*data, "time");
  if (time.size() > 11 && time[10] == 'T') {
    time = time.substr(11);
    if (!time.empty() && time.back() == 'Z') time.pop_back();
  }
  if (event.type == "transition") {
    const std::string from = StringAt(*data, "from");
    std::string line =
        absl::StrCat(time, "  ", StringAt(*data, "jobId"), "  ", from.empty() ? "new" : from, " → ",
                     StringAt(*data, "to"), "  ", StringAt(*data, "cause"));
    if (const std::string related = StringAt(*data, "relatedJobId"); !related.empty()) {
      absl::StrAppend(&line, " (", related, ")");
    }
    return line;
  }
  if (event.type == "progress") {
    return absl::StrCat(time, "  ", StringAt(*data, "jobId"), "  progress ",
                        NumberAt(*data, "progress"), "%");
  }
  if (event.type == "reset") {
    return "reset: the server no longer had the events missed; re-read the state (cascade list)";
  }
  return absl::StrCat(event.type, ": ", event.data);
}

}  // namespace cascade::cli
