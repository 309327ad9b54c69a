// Copyright 2026 The Cascade Authors.
//
// EngineImpl's calls for render nodes (contract §15): the render log of each
// job and the worker list. The log book and the worker registry keep the
// state; these calls check the lease or the team and take the engine's lock.

#include <algorithm>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "cascade/status.h"
#include "engine/engine_impl.h"
#include "engine/spec/spec_validation.h"
#include "engine/util/status_macros.h"

namespace cascade::internal {

absl::Status EngineImpl::AppendLog(JobId id, std::string_view lease_token,
                                   absl::Span<const std::string> lines) {
  if (lines.size() > kMaxLogLinesPerCall) {
    return InvalidArgumentWithViolations(
        "invalid log lines", {{"lines", absl::StrCat("at most ", kMaxLogLinesPerCall,
                                                     " lines a call, got ", lines.size())}});
  }
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].find('\0') != std::string::npos) {
      return InvalidArgumentWithViolations("invalid log lines",
                                           {{absl::StrCat("lines[", i, "]"), "holds a NUL byte"}});
    }
  }
  WriteSection section(this);
  const int64_t now_ms = NowMillis();
  CASCADE_RETURN_IF_ERROR(section.writable());
  // Whoever may report progress may log: the job is rendering and this is
  // its lease.
  CASCADE_ASSIGN_OR_RETURN(uint32_t slot, FindLeased(id, lease_token, JobEvent::kProgress, now_ms));
  logs_.Append(slot, lines);
  return section.Commit();
}

absl::StatusOr<std::string> EngineImpl::GetLog(std::string_view team, JobId id) const {
  CASCADE_RETURN_IF_ERROR(ValidateTeam(team));
  ReaderLock lock(&mu_);
  CASCADE_ASSIGN_OR_RETURN(uint32_t slot, Found(model_.Find(team, id), id));
  std::optional<std::string> log = logs_.Get(slot);
  if (!log) return absl::NotFoundError(absl::StrCat("job ", id.ToString(), " has no log yet"));
  return *std::move(log);
}

std::vector<WorkerInfo> EngineImpl::ListWorkers(std::string_view team) const {
  ReaderLock lock(&mu_);
  const int64_t now_ms = NowMillis();
  const std::optional<TeamNo> team_no = model_.teams().Find(team);
  // The jobs each worker holds, from the leases: every team's count toward
  // busy, only `team`'s are listed.
  struct Held {
    size_t count = 0;
    std::vector<JobId> jobs;
  };
  absl::flat_hash_map<std::string_view, Held> held;
  leases_.ForEachHolder([&](uint32_t slot, std::string_view worker)
                            ABSL_NO_THREAD_SAFETY_ANALYSIS {  // under mu_, by the book
                              if (worker.empty()) return;
                              Held& h = held[worker];
                              ++h.count;
                              const JobRecord& job = model_.job(slot);
                              if (team_no && job.team == *team_no) h.jobs.push_back(job.id);
                            });
  std::vector<WorkerInfo> out;
  workers_.ForEach([&](std::string_view name, const WorkerRegistry::Record& record) {
    WorkerInfo info;
    info.name = std::string(name);
    info.tags = record.tags;
    info.last_seen = absl::FromUnixMillis(record.last_seen_ms);
    info.lease = absl::Milliseconds(record.lease_ms);
    auto it = held.find(name);
    if (it != held.end()) {
      info.jobs = std::move(it->second.jobs);
      std::sort(info.jobs.begin(), info.jobs.end());
    }
    info.status = WorkerRegistry::StatusOf(record, it == held.end() ? 0 : it->second.count, now_ms);
    out.push_back(std::move(info));
  });
  return out;
}

}  // namespace cascade::internal
