// Copyright 2026 The Cascade Authors.
//
// The reference model: contract §1-7, §10's retention, §14 and §15's engine
// state, computed the slow and obvious way (see reference_model.h), and the
// comparisons of its predictions with the engine's answers.

#include "tests/model/reference_model.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"

namespace cascade::model {
namespace {

// Limits of a JobSpec (cascade/job.h) and of the calls (contract §4-6).
constexpr size_t kMaxTextBytes = 256;  // template_id, composition
constexpr size_t kMaxTags = 32;
constexpr size_t kMaxTagBytes = 64;
constexpr size_t kMaxDependsOn = 1000;
constexpr int kMaxNestingDepth = 8;
constexpr size_t kMaxJobsPerSpec = 1000;
constexpr size_t kMaxPayloadBytes = size_t{1} << 20;
constexpr size_t kMaxSpecsPerBatch = 1000;
constexpr size_t kMaxIdsPerCancel = 1000;
constexpr size_t kMaxListLimit = 1000;
constexpr size_t kMaxTeamBytes = 128;
// Contract §14 (cascade/job.h, engine.h).
constexpr int kMinAttempts = 1;
constexpr int kMaxAttempts = 20;
constexpr absl::Duration kMaxBackoff = absl::Hours(24);
constexpr absl::Duration kMaxTimeout = absl::Hours(24 * 7);
constexpr size_t kMaxFailTextBytes = 4096;
constexpr char kDefaultFailText[] = "render failed";
// Contract §15 (docs/semantics.md): what a render log keeps, and the lines
// one AppendLog may carry.
constexpr size_t kMaxLogBytes = size_t{1} << 20;
constexpr size_t kMaxLogLines = 10000;

constexpr char kCancelledViaApi[] = "Cancelled via API";

// The wire names of contract §1, written out here rather than taken from the
// library, so that the model does not share the engine's mistakes.
const char* WireName(JobState state) {
  switch (state) {
    case JobState::kQueued:
      return "queued";
    case JobState::kPending:
      return "pending";
    case JobState::kRendering:
      return "render:dorender";
    case JobState::kFinished:
      return "finished";
    case JobState::kError:
      return "error";
    case JobState::kCancelled:
      return "manually_cancelled";
  }
  return "?";
}

// contract §4: only queued and pending jobs can be cancelled.
bool Cancellable(JobState state) {
  return state == JobState::kQueued || state == JobState::kPending;
}

// "invalid_argument", "not_found", ... (cascade/status.h ErrorCodeName).
std::string CodeName(absl::StatusCode code) {
  return absl::AsciiStrToLower(absl::StatusCodeToString(code));
}

std::string Str(Ulid id) { return id.ToString(); }

bool Contains(const std::vector<JobId>& ids, JobId id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

bool IsTagChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == ':' ||
         c == '/' || c == '-';
}

bool HasAllTags(const std::vector<std::string>& have, const std::vector<std::string>& want) {
  for (const std::string& tag : want) {
    if (std::find(have.begin(), have.end(), tag) == have.end()) return false;
  }
  return true;
}

bool HasAnyTag(const std::vector<std::string>& have, const std::vector<std::string>& any) {
  for (const std::string& tag : any) {
    if (std::find(have.begin(), have.end(), tag) != have.end()) return true;
  }
  return false;
}

// Keeps the last kMaxLogBytes of a render log, from the first line that
// starts in them: a line starts after each '\n' (a newline that ends the
// text starts nothing). With no line start in them (one line longer than
// the bound), the last kMaxLogBytes as they are.
void TrimLog(std::string& text) {
  if (text.size() <= kMaxLogBytes) return;
  const size_t first_kept = text.size() - kMaxLogBytes;
  for (size_t start = first_kept; start < text.size(); ++start) {
    if (text[start - 1] == '\n') {
      text.erase(0, start);
      return;
    }
  }
  text.erase(0, first_kept);
}

StatusAlternative Alt(absl::StatusCode code, std::vector<std::string> mention_all = {},
                      std::vector<std::string> mention_any = {},
                      bool needs_field_violations = false) {
  StatusAlternative alternative;
  alternative.code = code;
  alternative.mention_all = std::move(mention_all);
  alternative.mention_any = std::move(mention_any);
  alternative.needs_field_violations = needs_field_violations;
  return alternative;
}

// A prediction of exactly one error.
ExpectedStatus Err(absl::StatusCode code, std::vector<std::string> mention_all = {}) {
  return ExpectedStatus::Error(Alt(code, std::move(mention_all)));
}

// semantics.md: every call names a team of 1-128 bytes.
bool ValidTeam(std::string_view team) { return !team.empty() && team.size() <= kMaxTeamBytes; }

// A call about an id (get, cancel, batch reads) naming a malformed team:
// semantics.md says every call names a team of 1-128 bytes, not what such a
// call answers. InvalidArgument (a bad argument) and NotFound (no job of
// that team exists) are both accepted.
ExpectedStatus BadTeam() {
  return {{Alt(absl::StatusCode::kInvalidArgument), Alt(absl::StatusCode::kNotFound)}};
}

// ---- Formatting for diffs -----------------------------------------------------

std::string Fmt(const std::string& s) { return absl::StrCat("\"", s, "\""); }
std::string Fmt(int v) { return absl::StrCat(v); }
std::string Fmt(size_t v) { return absl::StrCat(v); }
std::string Fmt(double v) { return absl::StrCat(v); }
std::string Fmt(bool v) { return v ? "true" : "false"; }
std::string Fmt(Ulid id) { return Str(id); }
std::string Fmt(JobState s) { return std::string(WireName(s)); }
std::string Fmt(PrerequisiteFailurePolicy p) {
  return p == PrerequisiteFailurePolicy::kIgnore ? "ignore" : "fail";
}
std::string Fmt(const ErrorText& t) { return Fmt(t.str()); }
std::string Fmt(const OutputUrl& u) { return Fmt(u.str()); }
std::string Fmt(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}
template <typename T>
std::string Fmt(const std::optional<T>& v) {
  return v.has_value() ? Fmt(*v) : std::string("null");
}
template <typename T>
std::string Fmt(const std::vector<T>& v) {
  std::vector<std::string> parts;
  for (const T& x : v) parts.push_back(Fmt(x));
  return absl::StrCat("[", absl::StrJoin(parts, ", "), "]");
}

// Collects "name: want X, got Y" for each differing field.
class Differ {
 public:
  template <typename T>
  void Field(const std::string& name, const T& want, const T& got) {
    if (!(want == got)) {
      problems_.push_back(absl::StrCat(name, ": want ", Fmt(want), ", got ", Fmt(got)));
    }
  }
  void Add(std::string problem) {
    if (!problem.empty()) problems_.push_back(std::move(problem));
  }
  std::string Result(const std::string& what) const {
    if (problems_.empty()) return "";
    return absl::StrCat(what, ": ", absl::StrJoin(problems_, "; "));
  }

 private:
  std::vector<std::string> problems_;
};

BatchStatus StatusFromCounts(const BatchCounts& c) {
  const int pending =
      c.count(JobState::kQueued) + c.count(JobState::kPending) + c.count(JobState::kRendering);
  if (pending > 0) return BatchStatus::kProcessing;
  if (c.count(JobState::kError) + c.count(JobState::kCancelled) == c.total) {
    return BatchStatus::kError;
  }
  return BatchStatus::kFinished;
}

const char* Name(BatchStatus s) {
  switch (s) {
    case BatchStatus::kProcessing:
      return "processing";
    case BatchStatus::kFinished:
      return "finished";
    case BatchStatus::kError:
      return "error";
  }
  return "?";
}
const char* Name(BatchSubmitStatus s) {
  switch (s) {
    case BatchSubmitStatus::kCreated:
      return "created";
    case BatchSubmitStatus::kPartial:
      return "partial";
    case BatchSubmitStatus::kError:
      return "error";
  }
  return "?";
}
const char* Name(BatchCancelStatus s) {
  switch (s) {
    case BatchCancelStatus::kCancelled:
      return "cancelled";
    case BatchCancelStatus::kPartial:
      return "partial";
    case BatchCancelStatus::kUnchanged:
      return "unchanged";
  }
  return "?";
}

}  // namespace

// ---- ExpectedStatus -------------------------------------------------------------

bool ExpectedStatus::ok() const {
  return alternatives.size() == 1 && alternatives[0].code == absl::StatusCode::kOk;
}

bool ExpectedStatus::Allows(absl::StatusCode code) const { return Find(code) != nullptr; }

const StatusAlternative* ExpectedStatus::Find(absl::StatusCode code) const {
  for (const StatusAlternative& alternative : alternatives) {
    if (alternative.code == code) return &alternative;
  }
  return nullptr;
}

std::string ExpectedStatus::ToString() const {
  std::vector<std::string> parts;
  for (const StatusAlternative& a : alternatives) {
    std::string part = absl::StatusCodeToString(a.code);
    if (!a.mention_all.empty()) {
      absl::StrAppend(&part, " mentioning all of [", absl::StrJoin(a.mention_all, ", "), "]");
    }
    if (!a.mention_any.empty()) {
      absl::StrAppend(&part, " mentioning one of [", absl::StrJoin(a.mention_any, ", "), "]");
    }
    parts.push_back(std::move(part));
  }
  return absl::StrJoin(parts, " or ");
}

namespace {

std::string CheckMentions(const StatusAlternative& alternative, absl::string_view message) {
  std::vector<std::string> problems;
  for (const std::string& m : alternative.mention_all) {
    if (message.find(m) == absl::string_view::npos) {
      problems.push_back(absl::StrCat("the message does not mention '", m, "'"));
    }
  }
  if (!alternative.mention_any.empty()) {
    bool any = false;
    for (const std::string& m : alternative.mention_any) {
      any = any || message.find(m) != absl::string_view::npos;
    }
    if (!any) {
      problems.push_back(absl::StrCat("the message mentions none of [",
                                      absl::StrJoin(alternative.mention_any, ", "), "]"));
    }
  }
  return absl::StrJoin(problems, "; ");
}

}  // namespace

std::string ExpectedStatus::Mismatch(const absl::Status& status) const {
  const StatusAlternative* alternative = Find(status.code());
  if (alternative == nullptr) {
    return absl::StrCat("expected ", ToString(), "; got ", status.ToString());
  }
  std::string problems = CheckMentions(*alternative, status.message());
  if (alternative->needs_field_violations && GetFieldViolations(status).empty()) {
    absl::StrAppend(&problems, problems.empty() ? "" : "; ", "it carries no field violations");
  }
  if (problems.empty()) return "";
  return absl::StrCat("status ", status.ToString(), ": ", problems);
}

std::string ExpectedStatus::MismatchEntry(const std::string& error_code,
                                          const std::string& message) const {
  for (const StatusAlternative& alternative : alternatives) {
    if (alternative.code == absl::StatusCode::kOk || CodeName(alternative.code) != error_code) {
      continue;
    }
    std::string problems = CheckMentions(alternative, message);
    if (problems.empty()) return "";
    return absl::StrCat("error '", message, "' (", error_code, "): ", problems);
  }
  return absl::StrCat("expected ", ToString(), "; got errorCode ", error_code, " '", message, "'");
}

// ---- The model: lookups ---------------------------------------------------------

ReferenceModel::ReferenceModel(const Options& options)
    : output_url_template_(options.output_url_template),
      lease_duration_(options.lease_duration),
      max_attempts_(options.max_attempts),
      retry_backoff_(options.retry_backoff),
      render_timeout_(options.render_timeout),
      abort_grace_(options.abort_grace),
      pickup_order_(options.pickup_order),
      retention_(options.durability.retention) {}

void ReferenceModel::SetNow(absl::Time now) { now_ = now; }

const ModelJob* ReferenceModel::FindAnyTeam(JobId id) const {
  for (const ModelJob& job : jobs_) {
    if (job.job.id == id) return &job;
  }
  return nullptr;
}

ModelJob* ReferenceModel::FindAnyTeamMutable(JobId id) {
  for (ModelJob& job : jobs_) {
    if (job.job.id == id) return &job;
  }
  return nullptr;
}

const ModelJob* ReferenceModel::FindInTeam(std::string_view team, JobId id) const {
  const ModelJob* job = FindAnyTeam(id);
  return job != nullptr && job->job.team == team ? job : nullptr;
}

ModelJob* ReferenceModel::FindInTeam(std::string_view team, JobId id) {
  ModelJob* job = FindAnyTeamMutable(id);
  return job != nullptr && job->job.team == team ? job : nullptr;
}

const ModelBatch* ReferenceModel::FindBatch(std::string_view team, BatchId id) const {
  for (const ModelBatch& batch : batches_) {
    if (batch.id == id && batch.team == team && !batch.top_level.empty()) return &batch;
  }
  return nullptr;
}

std::vector<JobId> ReferenceModel::PrerequisitesOf(const Job& job) {
  std::vector<JobId> prerequisites = job.children;
  prerequisites.insert(prerequisites.end(), job.depends_on.begin(), job.depends_on.end());
  return prerequisites;
}

std::vector<const ModelJob*> ReferenceModel::DependentsOf(JobId id) const {
  std::vector<const ModelJob*> dependents;
  for (const ModelJob& job : jobs_) {
    if (Contains(job.job.children, id) || Contains(job.job.depends_on, id)) {
      dependents.push_back(&job);
    }
  }
  return dependents;
}

bool ReferenceModel::AllPrerequisitesResolved(const Job& job) const {
  for (JobId p : PrerequisitesOf(job)) {
    const JobState state = FindAnyTeam(p)->job.state;
    if (state == JobState::kFinished) continue;
    if (state == JobState::kError &&
        job.on_prerequisite_failure == PrerequisiteFailurePolicy::kIgnore) {
      continue;
    }
    return false;
  }
  return true;
}

BatchCounts ReferenceModel::CountsOf(const ModelBatch& batch) const {
  BatchCounts counts;
  for (const auto& [index, id] : batch.top_level) {
    ++counts.by_state[static_cast<int>(FindAnyTeam(id)->job.state)];
    ++counts.total;
  }
  return counts;
}

// ---- Submit -----------------------------------------------------------------------

void ReferenceModel::Validate(std::string_view team, const JobSpec& spec, const std::string& field,
                              int depth, SpecProblems& problems) const {
  ++problems.job_count;
  auto bad = [&](const std::string& name, std::string message) {
    problems.violations.push_back({absl::StrCat(field, name), std::move(message)});
  };
  if (depth > kMaxNestingDepth) bad("children", "nested too deep");
  if (spec.template_id.size() > kMaxTextBytes) bad("template.id", "too long");
  if (spec.composition.size() > kMaxTextBytes) bad("template.composition", "too long");
  if (spec.tags.size() > kMaxTags) bad("tags", "too many");
  for (size_t i = 0; i < spec.tags.size(); ++i) {
    const std::string& tag = spec.tags[i];
    bool ok = !tag.empty() && tag.size() <= kMaxTagBytes;
    for (char c : tag) ok = ok && IsTagChar(c);
    if (!ok) bad(absl::StrCat("tags[", i, "]"), "bad tag");
  }
  if (spec.depends_on.size() > kMaxDependsOn) bad("dependsOn", "too many");
  for (size_t i = 0; i < spec.depends_on.size(); ++i) {
    const JobId id = spec.depends_on[i];
    if (std::find(spec.depends_on.begin(), spec.depends_on.begin() + i, id) !=
        spec.depends_on.begin() + i) {
      bad(absl::StrCat("dependsOn[", i, "]"), "duplicate");
    }
    const ModelJob* dep = FindInTeam(team, id);
    if (dep == nullptr) {
      problems.unknown_deps.push_back(Str(id));
    } else if (dep->job.state == JobState::kError || dep->job.state == JobState::kCancelled) {
      problems.dead_deps.push_back(Str(id));
    }
  }
  if (spec.payload.size() > kMaxPayloadBytes) bad("payload", "too large");
  if (spec.max_attempts.has_value() &&
      (*spec.max_attempts < kMinAttempts || *spec.max_attempts > kMaxAttempts)) {
    bad("maxAttempts", "out of range");
  }
  if (spec.retry_backoff.has_value() &&
      (*spec.retry_backoff < absl::ZeroDuration() || *spec.retry_backoff > kMaxBackoff)) {
    bad("retryBackoffSeconds", "out of range");
  }
  if (spec.timeout.has_value() &&
      (*spec.timeout <= absl::ZeroDuration() || *spec.timeout > kMaxTimeout)) {
    bad("timeoutSeconds", "out of range");
  }
  for (size_t i = 0; i < spec.children.size(); ++i) {
    Validate(team, spec.children[i], absl::StrCat(field, "children[", i, "]."), depth + 1,
             problems);
  }
}

ExpectedStatus ReferenceModel::PredictSubmit(std::string_view team, const JobSpec& spec) const {
  if (!ValidTeam(team)) return Err(absl::StatusCode::kInvalidArgument, {"team"});
  SpecProblems problems;
  Validate(team, spec, "", 0, problems);
  if (problems.job_count > kMaxJobsPerSpec) problems.violations.push_back({"children", "too many"});
  // semantics.md does not say which check comes first when a spec has
  // problems of several kinds, so any of their codes is accepted.
  ExpectedStatus want;
  if (!problems.violations.empty()) {
    want.alternatives.push_back(Alt(absl::StatusCode::kInvalidArgument, {}, {}, true));
  }
  if (!problems.unknown_deps.empty()) {
    want.alternatives.push_back(Alt(absl::StatusCode::kNotFound, {}, problems.unknown_deps));
  }
  if (!problems.dead_deps.empty()) {
    want.alternatives.push_back(Alt(absl::StatusCode::kFailedPrecondition, {}, problems.dead_deps));
  }
  if (want.alternatives.empty()) return ExpectedStatus::Ok();
  return want;
}

absl::Status ReferenceModel::TakeId(JobId id, std::vector<JobId>& taken_now) {
  if (id.is_zero()) return absl::InternalError("the engine answered the zero id");
  if (!Ulid::IsValid(Str(id))) {
    return absl::InternalError(absl::StrCat("the engine answered a malformed id ", Str(id)));
  }
  for (JobId earlier : all_ids_) {
    if (earlier >= id) {
      return absl::InternalError(absl::StrCat("the engine answered id ", Str(id),
                                              ", not above the earlier id ", Str(earlier)));
    }
  }
  if (Contains(taken_now, id)) {
    return absl::InternalError(absl::StrCat("the engine answered id ", Str(id), " twice"));
  }
  taken_now.push_back(id);
  return absl::OkStatus();
}

std::string ReferenceModel::PlanOutputUrl(const JobSpec& spec, JobId id, std::string_view team,
                                          std::optional<BatchId> batch) const {
  const std::string& url = spec.output_url.empty() ? output_url_template_ : spec.output_url;
  return absl::StrReplaceAll(url, {{"{id}", Str(id)},
                                   {"{team}", std::string(team)},
                                   {"{batch}", batch.has_value() ? Str(*batch) : ""}});
}

absl::StatusOr<CreatedJob> ReferenceModel::AddTree(std::string_view team, const JobSpec& spec,
                                                   const CreatedJob& answer,
                                                   std::optional<BatchId> batch,
                                                   std::optional<JobId> parent,
                                                   std::vector<JobId>& taken_now) {
  if (answer.children.size() != spec.children.size()) {
    return absl::InternalError(absl::StrCat("job ", Str(answer.id), " was answered with ",
                                            answer.children.size(), " children; its spec has ",
                                            spec.children.size()));
  }
  if (absl::Status s = TakeId(answer.id, taken_now); !s.ok()) return s;

  ModelJob added;
  Job& job = added.job;
  job.id = answer.id;
  job.team = std::string(team);
  if (!spec.template_id.empty()) job.template_id = spec.template_id;
  job.progress = 0.0;
  job.stats.created_at = now_;
  job.stats.updated_at = now_;
  job.stats.total_assets = spec.total_assets;
  job.output_url = PlanOutputUrl(spec, answer.id, team, batch);
  job.tags = spec.tags;
  job.priority = spec.priority;
  job.batch_id = batch;
  job.parent_id = parent;
  job.depends_on = spec.depends_on;
  job.on_prerequisite_failure = spec.on_prerequisite_failure;
  job.attempts = 0;
  job.cancel_requested = false;
  job.max_attempts = spec.max_attempts.value_or(max_attempts_);
  added.retry_backoff = spec.retry_backoff.value_or(retry_backoff_);
  added.timeout = spec.timeout.has_value() ? spec.timeout : render_timeout_;
  added.payload = spec.payload;

  CreatedJob created;
  created.id = answer.id;
  for (size_t i = 0; i < spec.children.size(); ++i) {
    absl::StatusOr<CreatedJob> child =
        AddTree(team, spec.children[i], answer.children[i], batch, answer.id, taken_now);
    if (!child.ok()) return child.status();
    job.children.push_back(child->id);
    created.children.push_back(*std::move(child));
  }

  // Pending iff some prerequisite is not finished: every nested child (new),
  // or a dependsOn job that has not finished yet.
  bool waits = !spec.children.empty();
  for (JobId dep : spec.depends_on) {
    waits = waits || FindAnyTeam(dep)->job.state != JobState::kFinished;
  }
  job.state = waits ? JobState::kPending : JobState::kQueued;
  created.state = job.state;
  created.output_url = job.output_url;
  pending_commit_.push_back(std::move(added));
  return created;
}

void ReferenceModel::Commit(const std::vector<JobId>& taken_now) {
  for (ModelJob& job : pending_commit_) jobs_.push_back(std::move(job));
  pending_commit_.clear();
  std::sort(jobs_.begin(), jobs_.end(),
            [](const ModelJob& a, const ModelJob& b) { return a.job.id < b.job.id; });
  all_ids_.insert(all_ids_.end(), taken_now.begin(), taken_now.end());
}

absl::StatusOr<CreatedJob> ReferenceModel::ApplySubmit(std::string_view team, const JobSpec& spec,
                                                       const CreatedJob& engine_answer) {
  pending_commit_.clear();
  std::vector<JobId> taken_now;
  absl::StatusOr<CreatedJob> created =
      AddTree(team, spec, engine_answer, std::nullopt, std::nullopt, taken_now);
  if (!created.ok()) {
    pending_commit_.clear();
    return created.status();
  }
  Commit(taken_now);
  return created;
}

ExpectedStatus ReferenceModel::PredictSubmitBatch(std::string_view team, size_t num_specs) const {
  if (!ValidTeam(team)) return Err(absl::StatusCode::kInvalidArgument, {"team"});
  if (num_specs == 0 || num_specs > kMaxSpecsPerBatch) {
    return Err(absl::StatusCode::kInvalidArgument);
  }
  return ExpectedStatus::Ok();
}

absl::StatusOr<ExpectedBatchSubmit> ReferenceModel::ApplySubmitBatch(
    std::string_view team, absl::Span<const JobSpec> specs,
    const BatchSubmitResult& engine_answer) {
  pending_commit_.clear();
  std::vector<JobId> taken_now;
  if (absl::Status s = TakeId(engine_answer.batch_id, taken_now); !s.ok()) return s;

  ExpectedBatchSubmit want;
  want.batch_id = engine_answer.batch_id;
  want.total_jobs = specs.size();
  ModelBatch batch{engine_answer.batch_id, std::string(team), {}};
  size_t next_answer = 0;  // walks engine_answer.jobs, which is in request order
  for (size_t i = 0; i < specs.size(); ++i) {
    // Specs of one batch cannot name one another (their ids are not known
    // yet), so each is judged against the jobs that existed before the call.
    ExpectedStatus predicted = PredictSubmit(team, specs[i]);
    const bool engine_created =
        next_answer < engine_answer.jobs.size() && engine_answer.jobs[next_answer].index == i;
    if (!predicted.ok()) {
      if (engine_created) {
        pending_commit_.clear();
        return absl::InternalError(absl::StrCat("the engine created spec ", i,
                                                "; the model expects ", predicted.ToString()));
      }
      want.errors.emplace_back(i, std::move(predicted));
      continue;
    }
    if (!engine_created) {
      pending_commit_.clear();
      return absl::InternalError(
          absl::StrCat("the engine did not create spec ", i, " (valid, says the model)"));
    }
    absl::StatusOr<CreatedJob> created =
        AddTree(team, specs[i], engine_answer.jobs[next_answer].job, engine_answer.batch_id,
                std::nullopt, taken_now);
    if (!created.ok()) {
      pending_commit_.clear();
      return created.status();
    }
    batch.top_level.emplace_back(i, created->id);
    want.jobs.push_back({i, *std::move(created)});
    ++next_answer;
  }
  if (next_answer != engine_answer.jobs.size()) {
    pending_commit_.clear();
    return absl::InternalError("the engine answered jobs[] out of request order or repeated");
  }
  want.success_count = want.jobs.size();
  want.status = want.success_count == want.total_jobs ? BatchSubmitStatus::kCreated
                : want.success_count == 0             ? BatchSubmitStatus::kError
                                                      : BatchSubmitStatus::kPartial;
  Commit(taken_now);
  batches_.push_back(std::move(batch));
  return want;
}

// ---- Read -------------------------------------------------------------------------

Expected<ExpectedJob> ReferenceModel::Get(std::string_view team, JobId id) const {
  if (!ValidTeam(team)) return {BadTeam()};
  const ModelJob* job = FindInTeam(team, id);
  if (job == nullptr) return {Err(absl::StatusCode::kNotFound, {Str(id)})};
  return {ExpectedStatus::Ok(), ToExpected(*job)};
}

ExpectedList ReferenceModel::List(std::string_view team, const ListQuery& query) const {
  ExpectedList out;
  if (!ValidTeam(team)) {
    out.status = Err(absl::StatusCode::kInvalidArgument, {"team"});
    return out;
  }
  if (query.limit == 0 || query.limit > kMaxListLimit) {
    out.status = Err(absl::StatusCode::kInvalidArgument, {"limit"});
    return out;
  }
  out.status = ExpectedStatus::Ok();
  std::vector<const ModelJob*> matches;
  for (const ModelJob& job : jobs_) {
    const Job& j = job.job;
    if (j.team != team) continue;
    if (!query.states.empty() &&
        std::find(query.states.begin(), query.states.end(), j.state) == query.states.end()) {
      continue;
    }
    if (std::find(query.exclude_states.begin(), query.exclude_states.end(), j.state) !=
        query.exclude_states.end()) {
      continue;
    }
    if (query.from_date.has_value() && j.stats.created_at < *query.from_date) continue;
    if (query.to_date.has_value() && j.stats.created_at >= *query.to_date) continue;
    if (!HasAllTags(j.tags, query.tags)) continue;
    matches.push_back(&job);
  }
  switch (query.sort) {
    case SortOrder::kOldestFirst:
    case SortOrder::kRandom:
      std::sort(matches.begin(), matches.end(),
                [](const ModelJob* a, const ModelJob* b) { return a->job.id < b->job.id; });
      break;
    case SortOrder::kNewestFirst:
      std::sort(matches.begin(), matches.end(),
                [](const ModelJob* a, const ModelJob* b) { return a->job.id > b->job.id; });
      break;
    case SortOrder::kPriority:
      std::sort(matches.begin(), matches.end(), [](const ModelJob* a, const ModelJob* b) {
        if (a->job.priority != b->job.priority) return a->job.priority > b->job.priority;
        return a->job.id < b->job.id;
      });
      break;
  }
  const size_t begin = std::min(query.offset, matches.size());
  const size_t end = begin + std::min(query.limit, matches.size() - begin);
  if (query.sort == SortOrder::kRandom) {
    out.any_order = true;
    out.count = end - begin;
    for (const ModelJob* job : matches) out.jobs.push_back(ToExpected(*job));
  } else {
    for (size_t i = begin; i < end; ++i) out.jobs.push_back(ToExpected(*matches[i]));
    out.count = out.jobs.size();
  }
  return out;
}

Expected<BatchCounts> ReferenceModel::GetBatchCounts(std::string_view team, BatchId id) const {
  if (!ValidTeam(team)) return {BadTeam()};
  const ModelBatch* batch = FindBatch(team, id);
  if (batch == nullptr) return {Err(absl::StatusCode::kNotFound)};
  return {ExpectedStatus::Ok(), CountsOf(*batch)};
}

Expected<ExpectedBatchView> ReferenceModel::GetBatch(std::string_view team, BatchId id) const {
  if (!ValidTeam(team)) return {BadTeam()};
  const ModelBatch* batch = FindBatch(team, id);
  if (batch == nullptr) return {Err(absl::StatusCode::kNotFound)};
  ExpectedBatchView view;
  view.batch_id = id;
  view.counts = CountsOf(*batch);
  view.status = StatusFromCounts(view.counts);
  for (const auto& [index, job_id] : batch->top_level) {
    view.jobs.emplace_back(index, ToExpected(*FindAnyTeam(job_id)));
  }
  return {ExpectedStatus::Ok(), std::move(view)};
}

// ---- Cancel -----------------------------------------------------------------------

std::vector<ExpectedJob> ReferenceModel::CancelClosure(const std::vector<JobId>& named,
                                                       bool named_texts_also_cascade) {
  // The least fixpoint of E, R and U: start from the named jobs (E) and add
  // every cancellable job that R or U reaches, over and over, until a whole
  // pass over every job adds nothing.
  std::vector<JobId> cancel = named;
  auto is_cancelled = [&](JobId id) {
    return Contains(cancel, id) || FindAnyTeam(id)->job.state == JobState::kCancelled;
  };
  bool changed = true;
  while (changed) {
    changed = false;
    for (const ModelJob& job : jobs_) {
      if (!Cancellable(job.job.state) || Contains(cancel, job.job.id)) continue;
      // R: one of its prerequisites is cancelled (now, or before).
      bool unresolvable = false;
      for (JobId p : PrerequisitesOf(job.job)) unresolvable = unresolvable || is_cancelled(p);
      // U: it has dependents, every one cancelled or ended in error, and
      // one of them cancelled by this call. A queued job whose dependents
      // had all ended before is not this call's business: it can exist only
      // when a worker released it (or its lease ran out) after that, and
      // semantics.md has requeueing run no cascade.
      const std::vector<const ModelJob*> dependents = DependentsOf(job.job.id);
      bool useless = !dependents.empty();
      bool reached = false;
      for (const ModelJob* d : dependents) {
        useless = useless && (is_cancelled(d->job.id) || d->job.state == JobState::kError);
        reached = reached || Contains(cancel, d->job.id);
      }
      useless = useless && reached;
      if (unresolvable || useless) {
        cancel.push_back(job.job.id);
        changed = true;
      }
    }
  }

  // Which named job's cascade reached a job depends on the engine's walk;
  // any named job is accepted.
  std::vector<std::string> cascade_texts;
  for (JobId n : named) cascade_texts.push_back(absl::StrCat("Cancelled: cascade from ", Str(n)));
  std::sort(cancel.begin(), cancel.end());
  std::vector<ExpectedJob> cancelled;
  for (JobId id : cancel) {
    ModelJob& job = *FindAnyTeamMutable(id);
    std::vector<std::string> texts;
    std::vector<std::optional<JobId>> causes;
    if (Contains(named, id)) {
      texts = {kCancelledViaApi};
      causes = {std::nullopt};
      // A batch cancel names every top-level job but works through them in
      // request order: one an earlier job's cascade reached first may say so.
      if (named_texts_also_cascade) {
        for (JobId n : named) {
          if (n == id) continue;
          texts.push_back(absl::StrCat("Cancelled: cascade from ", Str(n)));
          causes.push_back(n);
        }
      }
    } else {
      texts = cascade_texts;
      causes.assign(named.begin(), named.end());
    }
    EndJob(job, JobState::kCancelled, std::move(texts), std::move(causes));
    cancelled.push_back(ToExpected(job));
  }
  return cancelled;
}

Expected<std::vector<ExpectedJob>> ReferenceModel::Cancel(std::string_view team, JobId id) {
  if (!ValidTeam(team)) return {BadTeam()};
  const ModelJob* job = FindInTeam(team, id);
  if (job == nullptr) return {Err(absl::StatusCode::kNotFound, {Str(id)})};
  if (!Cancellable(job->job.state)) {
    return {Err(absl::StatusCode::kFailedPrecondition,
                {Str(id), std::string(WireName(job->job.state))})};
  }
  return {ExpectedStatus::Ok(), CancelClosure({id}, false)};
}

Expected<std::vector<ExpectedJob>> ReferenceModel::CancelMany(std::string_view team,
                                                              absl::Span<const JobId> ids) {
  // semantics.md: size, then duplicates, then unknown ids, then states; the
  // first check that fails decides, and nothing changes.
  if (ExpectedStatus named = CheckNamed(team, ids); !named.ok()) return {named};
  std::vector<std::string> stuck;
  for (JobId id : ids) {
    const JobState state = FindInTeam(team, id)->job.state;
    if (!Cancellable(state)) {
      stuck.push_back(Str(id));
      stuck.push_back(std::string(WireName(state)));
    }
  }
  if (!stuck.empty()) {
    return {Err(absl::StatusCode::kFailedPrecondition, stuck)};
  }
  return {ExpectedStatus::Ok(), CancelClosure(std::vector<JobId>(ids.begin(), ids.end()), false)};
}

ExpectedStatus ReferenceModel::CheckNamed(std::string_view team,
                                          absl::Span<const JobId> ids) const {
  if (!ValidTeam(team)) return BadTeam();
  if (ids.empty() || ids.size() > kMaxIdsPerCancel) {
    return Err(absl::StatusCode::kInvalidArgument);
  }
  std::vector<std::string> repeated;
  for (size_t i = 0; i < ids.size(); ++i) {
    const size_t n = std::count(ids.begin(), ids.end(), ids[i]);
    const bool first = std::find(ids.begin(), ids.begin() + i, ids[i]) == ids.begin() + i;
    if (n > 1 && first) repeated.push_back(Str(ids[i]));
  }
  if (!repeated.empty()) return Err(absl::StatusCode::kInvalidArgument, repeated);
  std::vector<std::string> unknown;
  for (JobId id : ids) {
    if (FindInTeam(team, id) == nullptr) unknown.push_back(Str(id));
  }
  if (!unknown.empty()) return Err(absl::StatusCode::kNotFound, unknown);
  return ExpectedStatus::Ok();
}

Expected<ExpectedBatchCancel> ReferenceModel::CancelBatch(std::string_view team, BatchId id) {
  if (!ValidTeam(team)) return {BadTeam()};
  const ModelBatch* batch = FindBatch(team, id);
  if (batch == nullptr) return {Err(absl::StatusCode::kNotFound, {Str(id)})};
  const std::vector<std::pair<size_t, JobId>> top_level = batch->top_level;

  // E applies to each top-level job that can still be cancelled; the closure
  // of all of them is the closure of doing them one by one.
  std::vector<JobId> named;
  for (const auto& [index, job_id] : top_level) {
    if (Cancellable(FindAnyTeam(job_id)->job.state)) named.push_back(job_id);
  }
  ExpectedBatchCancel out;
  out.batch_id = id;
  out.total_jobs = top_level.size();
  out.cancelled_jobs = CancelClosure(named, true);
  for (const auto& [index, job_id] : top_level) {
    BatchCancelJobResult result;
    result.index = index;
    result.id = job_id;
    result.cancelled = Contains(named, job_id);
    result.state = FindAnyTeam(job_id)->job.state;
    if (!result.cancelled) result.reason = absl::StrCat("job is ", WireName(result.state));
    out.jobs.push_back(std::move(result));
  }
  out.cancelled_count = named.size();
  out.skipped_count = out.total_jobs - out.cancelled_count;
  out.status = out.cancelled_count == out.total_jobs ? BatchCancelStatus::kCancelled
               : out.cancelled_count > 0             ? BatchCancelStatus::kPartial
                                                     : BatchCancelStatus::kUnchanged;
  return {ExpectedStatus::Ok(), std::move(out)};
}

// ---- Workers ----------------------------------------------------------------------

Expected<ExpectedClaim> ReferenceModel::Claim(const ClaimRequest& request,
                                              std::optional<JobId> engine_choice) {
  // semantics.md: ClaimRequest::lease must be positive.
  if (request.lease.has_value() && *request.lease <= absl::ZeroDuration()) {
    return {Err(absl::StatusCode::kInvalidArgument)};
  }
  const absl::Duration lease = request.lease.value_or(lease_duration_);
  // Contract §15: a named claim sees its worker, found job or not (an idle
  // worker polls).
  if (!request.worker.empty()) {
    ModelWorker* worker = FindWorker(request.worker);
    if (worker == nullptr) {
      workers_.push_back({request.worker, {}, now_, lease});
      worker = &workers_.back();
    }
    worker->tags = request.tags;
    worker->tags.insert(worker->tags.end(), request.any_tags.begin(), request.any_tags.end());
    worker->lease = lease;
    worker->last_seen = std::max(worker->last_seen, now_);
  }
  // Claimable: queued, neither held nor waiting out a retry backoff (§14),
  // carrying every tag of `tags` and one of `any_tags` if there are any
  // (§15).
  std::vector<ModelJob*> candidates;
  for (ModelJob& job : jobs_) {
    const Job& j = job.job;
    if (j.state == JobState::kQueued && !j.suspended && !j.retry_at.has_value() &&
        HasAllTags(j.tags, request.tags) &&
        (request.any_tags.empty() || HasAnyTag(j.tags, request.any_tags))) {
      candidates.push_back(&job);
    }
  }
  if (candidates.empty()) return {Err(absl::StatusCode::kNotFound)};
  // `before(a, b)`: a is picked before b.
  auto before = [&](const ModelJob* a, const ModelJob* b) {
    switch (pickup_order_) {
      case SortOrder::kNewestFirst:
        return a->job.id > b->job.id;
      case SortOrder::kPriority:
        if (a->job.priority != b->job.priority) return a->job.priority > b->job.priority;
        return a->job.id < b->job.id;
      case SortOrder::kOldestFirst:
      case SortOrder::kRandom:
        return a->job.id < b->job.id;
    }
    return false;
  };
  ModelJob* picked = *std::min_element(candidates.begin(), candidates.end(), before);
  if (pickup_order_ == SortOrder::kRandom && engine_choice.has_value()) {
    for (ModelJob* candidate : candidates) {
      if (candidate->job.id == *engine_choice) picked = candidate;
    }
  }
  Job& job = picked->job;
  job.state = JobState::kRendering;
  job.attempts += 1;
  job.progress = 0.0;
  job.stats.started_at = now_;
  job.stats.updated_at = now_;
  picked->lease_token.clear();
  picked->lease_worker = request.worker;
  picked->lease_length = lease;
  picked->lease_expires_at = now_ + picked->lease_length;
  picked->time_limit.reset();
  if (picked->timeout.has_value()) picked->time_limit = now_ + *picked->timeout;
  picked->abort_deadline.reset();
  ExpectedClaim claim;
  claim.job = ToExpected(*picked);
  claim.lease_expires_at = picked->lease_expires_at;
  claim.payload = picked->payload;
  return {ExpectedStatus::Ok(), std::move(claim)};
}

ExpectedStatus ReferenceModel::FindLeased(JobId id, std::string_view lease_token, ModelJob** job) {
  // semantics.md, Fencing: the job must be rendering (the message names its
  // state) and the token its current lease's; anything else changes nothing.
  ModelJob* found = FindAnyTeamMutable(id);
  if (found == nullptr) return Err(absl::StatusCode::kNotFound, {Str(id)});
  if (found->job.state != JobState::kRendering) {
    return Err(absl::StatusCode::kFailedPrecondition,
               {Str(id), std::string(WireName(found->job.state))});
  }
  if (lease_token != found->lease_token) {
    return Err(absl::StatusCode::kFailedPrecondition, {Str(id)});
  }
  *job = found;
  return ExpectedStatus::Ok();
}

void ReferenceModel::Seen(const ModelJob& job) {
  if (job.lease_worker.empty()) return;
  ModelWorker* worker = FindWorker(job.lease_worker);
  if (worker != nullptr) worker->last_seen = std::max(worker->last_seen, now_);
}

ModelWorker* ReferenceModel::FindWorker(std::string_view name) {
  for (ModelWorker& worker : workers_) {
    if (worker.name == name) return &worker;
  }
  return nullptr;
}

void ReferenceModel::SetLeaseToken(JobId id, std::string token) {
  if (ModelJob* job = FindAnyTeamMutable(id); job != nullptr) job->lease_token = std::move(token);
}

Expected<ExpectedJob> ReferenceModel::Finish(JobId id, std::string_view lease_token,
                                             const FinishReport& report) {
  ModelJob* job = nullptr;
  if (ExpectedStatus status = FindLeased(id, lease_token, &job); !status.ok()) return {status};
  Seen(*job);
  Job& j = job->job;
  j.state = JobState::kFinished;
  j.progress = 100.0;
  j.stats.finished_at = now_;
  j.stats.updated_at = now_;
  j.stats.render_duration = absl::ToDoubleSeconds(now_ - *j.stats.started_at);
  j.stats.error.reset();  // an earlier attempt's, if any
  job->error_options.clear();
  job->cause_options.clear();
  if (!report.output_url.empty()) j.output_url = report.output_url;
  job->lease_token.clear();
  job->lease_worker.clear();
  job->time_limit.reset();
  job->abort_deadline.reset();
  ExpectedJob answer = ToExpected(*job);
  PromoteReadyJobs();
  return {ExpectedStatus::Ok(), std::move(answer)};
}

Expected<ExpectedJob> ReferenceModel::Fail(JobId id, std::string_view lease_token,
                                           const FailReport& report) {
  ModelJob* job = nullptr;
  if (ExpectedStatus status = FindLeased(id, lease_token, &job); !status.ok()) return {status};
  Seen(*job);
  // FailReport: an empty text means "render failed"; at most 4096 bytes are
  // kept.
  const std::string text = report.error.empty() ? std::string(kDefaultFailText)
                                                : report.error.substr(0, kMaxFailTextBytes);
  EndAttempt(*job, report.retry ? AttemptEnd::kFail : AttemptEnd::kFinalFail, text);
  return {ExpectedStatus::Ok(), ToExpected(*FindAnyTeam(id))};
}

Expected<ExpectedHeartbeat> ReferenceModel::Heartbeat(JobId id, std::string_view lease_token,
                                                      const HeartbeatReport& report) {
  // Progress 0-100 (NaN fails both comparisons) and a positive extension
  // (engine.h); either problem is InvalidArgument and changes nothing.
  const bool bad_progress =
      report.progress.has_value() && !(*report.progress >= 0.0 && *report.progress <= 100.0);
  const bool bad_extend = report.extend.has_value() && *report.extend <= absl::ZeroDuration();
  ModelJob* job = nullptr;
  ExpectedStatus leased = FindLeased(id, lease_token, &job);
  if (bad_progress || bad_extend) {
    // Which check comes first is not said: with a lookup error too, either.
    ExpectedStatus want = Err(absl::StatusCode::kInvalidArgument);
    if (!leased.ok()) want.alternatives.push_back(leased.alternatives.front());
    return {want};
  }
  // The worker of an attempt its time limit ended is told to stop (contract
  // §14): the job as it is now, changing nothing. Once its lease would have
  // run out the lease is merely stale; the engine may notice that only at
  // its next RunDueWork, so until then either answer is right.
  for (const TimedOutLease& t : timed_out_) {
    if (t.id != id || t.token != lease_token || t.forgotten) continue;
    ExpectedHeartbeat answer;
    answer.job = ToExpected(*FindAnyTeam(id));
    answer.lease_expires_at = now_;
    answer.cancel_requested = true;
    ExpectedStatus want = ExpectedStatus::Ok();
    if (t.would_expire <= now_) want.alternatives.push_back(leased.alternatives.front());
    return {std::move(want), std::move(answer)};
  }
  if (!leased.ok()) return {leased};
  Seen(*job);
  Job& j = job->job;
  if (report.progress.has_value()) {
    // A progress report: updatedAt changes; progress never goes down.
    j.progress = std::max(j.progress, *report.progress);
    j.stats.updated_at = now_;
  }
  // The lease moves; the attempt's time limit does not.
  job->lease_expires_at = now_ + report.extend.value_or(job->lease_length);
  ExpectedHeartbeat answer;
  answer.job = ToExpected(*job);
  answer.lease_expires_at = job->lease_expires_at;
  answer.cancel_requested = j.cancel_requested;
  return {ExpectedStatus::Ok(), std::move(answer)};
}

void ReferenceModel::EndJob(ModelJob& job, JobState state, std::vector<std::string> texts,
                            std::vector<std::optional<JobId>> causes) {
  Job& j = job.job;
  j.state = state;
  j.stats.error_at = now_;
  j.stats.updated_at = now_;
  j.suspended = false;
  j.retry_at.reset();
  job.error_options = std::move(texts);
  job.cause_options = std::move(causes);
  j.stats.error = job.error_options.front();
  job.lease_token.clear();
  job.lease_worker.clear();
  job.time_limit.reset();
  job.abort_deadline.reset();
}

void ReferenceModel::EndAttempt(ModelJob& job, AttemptEnd how, const std::string& text) {
  Job& j = job.job;
  const std::string token = std::exchange(job.lease_token, "");
  job.lease_worker.clear();
  const bool fail = how == AttemptEnd::kFail || how == AttemptEnd::kFinalFail;
  if (j.cancel_requested) {
    if (fail) {
      // An abort was asked for, and the attempt failed: no retry would be
      // wanted, the job ends in error with the worker's text.
      EndJob(job, JobState::kError, {text}, {std::nullopt});
      PropagateFailure(j.id);
      PromoteReadyJobs();
      return;
    }
    // The abort named the job: it ends manually_cancelled "Cancelled via
    // API", and the cancel cascade (R, U) runs from it.
    CancelClosure({j.id}, false);
    return;
  }
  // The attempt's error: what the job shows while it waits for the next
  // attempt, or ends with.
  std::string reason;
  switch (how) {
    case AttemptEnd::kFail:
    case AttemptEnd::kFinalFail:
      reason = text;
      break;
    case AttemptEnd::kRelease:
    case AttemptEnd::kLeaseExpired:
      reason = absl::StrCat("lease expired after ", j.attempts, " attempts");
      break;
    case AttemptEnd::kTimedOut:
      reason = absl::StrCat("timed out after ", absl::ToDoubleSeconds(*job.timeout), " s");
      // Its worker is told to stop until the lease would have run out.
      timed_out_.push_back({j.id, token, job.lease_expires_at});
      break;
  }
  job.time_limit.reset();
  job.abort_deadline.reset();
  if (how != AttemptEnd::kFinalFail && j.attempts < j.max_attempts) {
    j.state = JobState::kQueued;  // the attempt stays counted
    j.progress = 0.0;
    j.stats.updated_at = now_;
    j.stats.error = reason;
    job.error_options.clear();
    job.cause_options.clear();
    if (job.retry_backoff > absl::ZeroDuration()) {
      // backoff x 2^(attempts-1), at most 24 h.
      const absl::Duration wait = job.retry_backoff * (int64_t{1} << (j.attempts - 1));
      j.retry_at = now_ + std::min(wait, kMaxBackoff);
    }
    return;
  }
  EndJob(job, JobState::kError, {reason}, {std::nullopt});
  PropagateFailure(j.id);
  PromoteReadyJobs();
}

Expected<ExpectedJob> ReferenceModel::Release(JobId id, std::string_view lease_token) {
  ModelJob* job = nullptr;
  if (ExpectedStatus status = FindLeased(id, lease_token, &job); !status.ok()) return {status};
  Seen(*job);
  EndAttempt(*job, AttemptEnd::kRelease);
  return {ExpectedStatus::Ok(), ToExpected(*FindAnyTeam(id))};
}

Expected<ExpectedJob> ReferenceModel::RequestAbort(std::string_view team, JobId id) {
  if (!ValidTeam(team)) return {BadTeam()};
  ModelJob* job = FindInTeam(team, id);
  if (job == nullptr) return {Err(absl::StatusCode::kNotFound, {Str(id)})};
  if (job->job.state != JobState::kRendering) {
    return {Err(absl::StatusCode::kFailedPrecondition,
                {Str(id), std::string(WireName(job->job.state))})};
  }
  // A repeated request changes nothing and does not extend the grace.
  if (!job->job.cancel_requested) {
    job->job.cancel_requested = true;
    job->job.stats.updated_at = now_;
    job->abort_deadline = now_ + abort_grace_;
  }
  return {ExpectedStatus::Ok(), ToExpected(*job)};
}

ExpectedDueWork ReferenceModel::RunDueWork() {
  // Every rendering job whose deadline is at or before now, by scanning
  // every job: its lease's expiry, or the end of its abort's grace or of
  // its time limit if that comes first (the abort's grace replaces the time
  // limit; a time limit at the lease's expiry ends the attempt as a time-out).
  // Handled in deadline order, then creation order. No handling touches a
  // rendering job, so every one found is still due when its turn comes.
  const std::vector<ModelJob> before = jobs_;
  struct Due {
    absl::Time deadline;
    JobId id;
    AttemptEnd how;
  };
  std::vector<Due> due;
  for (const ModelJob& job : jobs_) {
    if (job.job.state != JobState::kRendering) continue;
    Due d{job.lease_expires_at, job.job.id, AttemptEnd::kLeaseExpired};
    if (job.abort_deadline.has_value()) {
      d.deadline = std::min(d.deadline, *job.abort_deadline);
    } else if (job.time_limit.has_value() && *job.time_limit <= d.deadline) {
      d.deadline = *job.time_limit;
      d.how = AttemptEnd::kTimedOut;
    }
    if (d.deadline <= now_) due.push_back(d);
  }
  std::sort(due.begin(), due.end(), [](const Due& a, const Due& b) {
    return a.deadline != b.deadline ? a.deadline < b.deadline : a.id < b.id;
  });
  ExpectedDueWork out;
  for (const Due& d : due) {
    EndAttempt(*FindAnyTeamMutable(d.id), d.how);
    out.timed_out += d.how == AttemptEnd::kTimedOut;
  }
  for (TimedOutLease& t : timed_out_) t.forgotten = t.forgotten || t.would_expire <= now_;
  // Then the retry backoffs that are over: those jobs become claimable.
  for (ModelJob& job : jobs_) {
    if (job.job.retry_at.has_value() && *job.job.retry_at <= now_) {
      job.job.retry_at.reset();
      job.job.stats.updated_at = now_;
      ++out.waits_ended;
    }
  }
  out.due = due.size() + out.waits_ended;
  for (size_t i = 0; i < before.size(); ++i) {
    if (!DiffJob(ToExpected(before[i]), jobs_[i].job).empty()) ++out.changed;
  }
  // Last, retention; a purge is no change RunDueWork counts.
  PurgeExpired();
  return out;
}

void ReferenceModel::PurgeExpired() {
  if (retention_ == absl::InfiniteDuration()) return;
  const absl::Time cutoff = now_ - retention_;
  // Families (durability.md, Retention): the jobs joined by nesting and
  // dependsOn, and every job of a batch one of them is in, transitively.
  // Each job starts as its own family (its index); joined jobs take the
  // smaller of their two labels, over and over, until a whole pass changes
  // nothing.
  std::vector<size_t> family(jobs_.size());
  for (size_t i = 0; i < jobs_.size(); ++i) family[i] = i;
  auto index_of = [&](JobId id) {
    for (size_t k = 0; k < jobs_.size(); ++k) {
      if (jobs_[k].job.id == id) return k;
    }
    return jobs_.size();
  };
  bool changed = true;
  while (changed) {
    changed = false;
    auto join = [&](size_t a, size_t b) {
      const size_t least = std::min(family[a], family[b]);
      if (family[a] != least || family[b] != least) {
        family[a] = family[b] = least;
        changed = true;
      }
    };
    for (size_t i = 0; i < jobs_.size(); ++i) {
      for (JobId p : PrerequisitesOf(jobs_[i].job)) join(i, index_of(p));
      if (!jobs_[i].job.batch_id.has_value()) continue;
      for (size_t k = 0; k < jobs_.size(); ++k) {
        if (jobs_[k].job.batch_id == jobs_[i].job.batch_id) join(i, k);
      }
    }
  }
  // A family goes when every job in it ended before the cutoff.
  std::vector<bool> keep(jobs_.size(), false);
  for (size_t i = 0; i < jobs_.size(); ++i) {
    const Job& j = jobs_[i].job;
    const bool ended = j.state == JobState::kFinished || j.state == JobState::kError ||
                       j.state == JobState::kCancelled;
    if (!ended || j.stats.updated_at >= cutoff) keep[family[i]] = true;
  }
  std::vector<ModelJob> kept;
  for (size_t i = 0; i < jobs_.size(); ++i) {
    if (keep[family[i]]) {
      kept.push_back(std::move(jobs_[i]));
      continue;
    }
    const JobId id = jobs_[i].job.id;
    purged_.push_back(id);
    for (TimedOutLease& t : timed_out_) t.forgotten = t.forgotten || t.id == id;
    // The batch goes with its jobs: it no longer exists.
    for (ModelBatch& batch : batches_) {
      const bool in_it =
          std::any_of(batch.top_level.begin(), batch.top_level.end(),
                      [&](const std::pair<size_t, JobId>& top) { return top.second == id; });
      if (in_it) batch.top_level.clear();
    }
  }
  jobs_ = std::move(kept);
}

// ---- Contract §15: render logs and the worker list -------------------------------

ExpectedStatus ReferenceModel::AppendLog(JobId id, std::string_view lease_token,
                                         absl::Span<const std::string> lines) {
  bool bad = lines.size() > kMaxLogLines;
  for (const std::string& line : lines) bad = bad || line.find('\0') != std::string::npos;
  ModelJob* job = nullptr;
  ExpectedStatus leased = FindLeased(id, lease_token, &job);
  if (bad) {
    // Refused, changing nothing. Whether the lines or the lease are checked
    // first is not said: with a lookup error too, either.
    ExpectedStatus want = ExpectedStatus::Error(Alt(absl::StatusCode::kInvalidArgument, {}, {},
                                                    /*needs_field_violations=*/true));
    if (!leased.ok()) want.alternatives.push_back(leased.alternatives.front());
    return want;
  }
  if (!leased.ok()) return leased;
  Seen(*job);
  if (lines.empty()) return ExpectedStatus::Ok();  // nothing logged
  std::string& log = job->log.has_value() ? *job->log : job->log.emplace();
  for (const std::string& line : lines) absl::StrAppend(&log, line, "\n");
  TrimLog(log);
  return ExpectedStatus::Ok();
}

Expected<std::string> ReferenceModel::GetLog(std::string_view team, JobId id) const {
  if (!ValidTeam(team)) return {BadTeam()};
  const ModelJob* job = FindInTeam(team, id);
  if (job == nullptr || !job->log.has_value()) {
    return {Err(absl::StatusCode::kNotFound, {Str(id)})};
  }
  return {ExpectedStatus::Ok(), *job->log};
}

std::vector<WorkerInfo> ReferenceModel::ListWorkers(std::string_view team) const {
  std::vector<WorkerInfo> list;
  for (const ModelWorker& worker : workers_) {
    WorkerInfo info;
    info.name = worker.name;
    info.tags = worker.tags;
    info.last_seen = worker.last_seen;
    info.lease = worker.lease;
    bool holds_any = false;
    for (const ModelJob& job : jobs_) {  // in id order
      if (job.job.state != JobState::kRendering || job.lease_worker != worker.name) continue;
      holds_any = true;
      if (job.job.team == team) info.jobs.push_back(job.job.id);
    }
    info.status = now_ - worker.last_seen > 2 * worker.lease ? WorkerStatus::kLost
                  : holds_any                                ? WorkerStatus::kBusy
                                                             : WorkerStatus::kIdle;
    list.push_back(std::move(info));
  }
  std::sort(list.begin(), list.end(),
            [](const WorkerInfo& a, const WorkerInfo& b) { return a.name < b.name; });
  return list;
}

// ---- Contract §14: Retry, holds, priorities -------------------------------------

Expected<std::vector<ExpectedJob>> ReferenceModel::Retry(std::string_view team,
                                                         absl::Span<const JobId> ids) {
  // As CancelMany: size, duplicates, unknown ids, then states.
  if (ExpectedStatus named = CheckNamed(team, ids); !named.ok()) return {named};
  std::vector<std::string> stuck;
  for (JobId id : ids) {
    const JobState state = FindInTeam(team, id)->job.state;
    if (state != JobState::kError && state != JobState::kCancelled) {
      stuck.push_back(Str(id));
      stuck.push_back(std::string(WireName(state)));
    }
  }
  if (!stuck.empty()) return {Err(absl::StatusCode::kFailedPrecondition, stuck)};

  // The least fixpoint: the named jobs, and every ended job whose recorded
  // cause is in the set, added over and over until a whole pass over every
  // job adds nothing.
  std::vector<JobId> revive(ids.begin(), ids.end());
  bool changed = true;
  while (changed) {
    changed = false;
    for (const ModelJob& job : jobs_) {
      const JobState state = job.job.state;
      if ((state != JobState::kError && state != JobState::kCancelled) ||
          Contains(revive, job.job.id) || job.cause_options.empty()) {
        continue;
      }
      // An unpinned job (its text not seen yet) follows its first reading.
      const std::optional<JobId> cause = job.cause_options.front();
      if (cause.has_value() && Contains(revive, *cause)) {
        revive.push_back(job.job.id);
        changed = true;
      }
    }
  }
  // A revived job would wait forever for a prerequisite outside the set that
  // is cancelled, or in error when the job does not ignore failures.
  std::vector<std::string> blocked;
  for (JobId id : revive) {
    const Job& job = FindAnyTeam(id)->job;
    for (JobId p : PrerequisitesOf(job)) {
      if (Contains(revive, p)) continue;
      const JobState state = FindAnyTeam(p)->job.state;
      if (state == JobState::kCancelled ||
          (state == JobState::kError &&
           job.on_prerequisite_failure == PrerequisiteFailurePolicy::kFail)) {
        blocked.push_back(Str(p));
      }
    }
  }
  if (!blocked.empty()) return {Err(absl::StatusCode::kFailedPrecondition, blocked)};

  // A fresh start, as if just submitted: then queued or pending by the
  // prerequisites (the revived ones among them wait again).
  for (JobId id : revive) {
    ModelJob& job = *FindAnyTeamMutable(id);
    Job& j = job.job;
    j.state = JobState::kQueued;
    j.progress = 0.0;
    j.attempts = 0;
    j.cancel_requested = false;
    j.suspended = false;
    j.retry_at.reset();
    j.stats.updated_at = now_;
    j.stats.started_at.reset();
    j.stats.finished_at.reset();
    j.stats.error_at.reset();
    j.stats.render_duration.reset();
    j.stats.error.reset();
    job.error_options.clear();
    job.cause_options.clear();
  }
  for (JobId id : revive) {
    Job& j = FindAnyTeamMutable(id)->job;
    if (!AllPrerequisitesResolved(j)) j.state = JobState::kPending;
  }
  std::sort(revive.begin(), revive.end());
  std::vector<ExpectedJob> revived;
  for (JobId id : revive) revived.push_back(ToExpected(*FindAnyTeam(id)));
  return {ExpectedStatus::Ok(), std::move(revived)};
}

bool ReferenceModel::SetHold(ModelJob& job, bool hold) {
  if (job.job.suspended == hold) return false;  // left as it is
  job.job.suspended = hold;
  job.job.retry_at.reset();  // holding a job ends its retry wait
  job.job.stats.updated_at = now_;
  return true;
}

Expected<std::vector<ExpectedJob>> ReferenceModel::Hold(std::string_view team,
                                                        absl::Span<const JobId> ids, bool hold) {
  if (ExpectedStatus named = CheckNamed(team, ids); !named.ok()) return {named};
  std::vector<std::string> stuck;
  for (JobId id : ids) {
    const JobState state = FindInTeam(team, id)->job.state;
    if (!Cancellable(state)) {  // queued or pending
      stuck.push_back(Str(id));
      stuck.push_back(std::string(WireName(state)));
    }
  }
  if (!stuck.empty()) return {Err(absl::StatusCode::kFailedPrecondition, stuck)};
  for (JobId id : ids) SetHold(*FindInTeam(team, id), hold);
  std::vector<JobId> sorted(ids.begin(), ids.end());
  std::sort(sorted.begin(), sorted.end());
  std::vector<ExpectedJob> jobs;
  for (JobId id : sorted) jobs.push_back(ToExpected(*FindAnyTeam(id)));
  return {ExpectedStatus::Ok(), std::move(jobs)};
}

Expected<std::vector<ExpectedJob>> ReferenceModel::Suspend(std::string_view team,
                                                           absl::Span<const JobId> ids) {
  return Hold(team, ids, true);
}

Expected<std::vector<ExpectedJob>> ReferenceModel::Resume(std::string_view team,
                                                          absl::Span<const JobId> ids) {
  return Hold(team, ids, false);
}

Expected<std::vector<ExpectedJob>> ReferenceModel::HoldBatch(std::string_view team, BatchId id,
                                                             bool hold) {
  if (!ValidTeam(team)) return {BadTeam()};
  if (FindBatch(team, id) == nullptr) return {Err(absl::StatusCode::kNotFound, {Str(id)})};
  // Every job of the batch (top-level and nested: each carries the batch
  // id) that is queued or pending; in id order, as jobs_ is.
  std::vector<ExpectedJob> changed;
  for (ModelJob& job : jobs_) {
    if (job.job.batch_id != id || !Cancellable(job.job.state)) continue;
    if (SetHold(job, hold)) changed.push_back(ToExpected(job));
  }
  return {ExpectedStatus::Ok(), std::move(changed)};
}

Expected<std::vector<ExpectedJob>> ReferenceModel::SuspendBatch(std::string_view team, BatchId id) {
  return HoldBatch(team, id, true);
}

Expected<std::vector<ExpectedJob>> ReferenceModel::ResumeBatch(std::string_view team, BatchId id) {
  return HoldBatch(team, id, false);
}

Expected<ExpectedJob> ReferenceModel::SetPriority(std::string_view team, JobId id,
                                                  int32_t priority) {
  if (!ValidTeam(team)) return {BadTeam()};
  ModelJob* job = FindInTeam(team, id);
  if (job == nullptr) return {Err(absl::StatusCode::kNotFound, {Str(id)})};
  if (!Cancellable(job->job.state)) {  // only while it waits to be claimed
    return {Err(absl::StatusCode::kFailedPrecondition,
                {Str(id), std::string(WireName(job->job.state))})};
  }
  job->job.priority = priority;
  job->job.stats.updated_at = now_;
  return {ExpectedStatus::Ok(), ToExpected(*job)};
}

absl::Status ReferenceModel::PinError(JobId id, std::string_view text) {
  ModelJob* job = FindAnyTeamMutable(id);
  if (job == nullptr) return absl::NotFoundError(Str(id));
  if (job->error_options.empty()) return absl::OkStatus();
  for (size_t i = 0; i < job->error_options.size(); ++i) {
    if (job->error_options[i] != text) continue;
    job->error_options = {std::string(text)};
    job->cause_options = {job->cause_options[i]};
    job->job.stats.error = std::string(text);
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("job ", Str(id), " shows \"", std::string(text),
                                                 "\", none of ", Fmt(job->error_options)));
}

void ReferenceModel::PropagateFailure(JobId origin) {
  // Two rules, applied to every queued or pending job until a whole pass
  // changes nothing:
  //  - PrerequisiteFailed: a pending job that does not ignore failures and
  //    has a prerequisite in error;
  //  - DependentsFailed (rule U with "failed"): a job with dependents, every
  //    one of which ended without finishing (error or cancelled).
  // Each applies through a job that failed in this propagation (`origin`,
  // or one failed since): a job requeued after its dependents had all ended
  // is not touched by an unrelated failure (see CancelClosure).
  // Rendering and terminal jobs are never touched.
  std::vector<JobId> failed;
  auto failed_now = [&](JobId id) { return id == origin || Contains(failed, id); };
  auto prerequisite_failed = [&](const Job& job) {
    if (job.on_prerequisite_failure == PrerequisiteFailurePolicy::kIgnore) return false;
    for (JobId p : PrerequisitesOf(job)) {
      if (FindAnyTeam(p)->job.state == JobState::kError && failed_now(p)) return true;
    }
    return false;
  };
  auto dependents_failed = [&](const Job& job) {
    const std::vector<const ModelJob*> dependents = DependentsOf(job.id);
    bool all = !dependents.empty();
    bool reached = false;
    for (const ModelJob* d : dependents) {
      all = all && (d->job.state == JobState::kError || d->job.state == JobState::kCancelled);
      reached = reached || failed_now(d->job.id);
    }
    return all && reached;
  };
  bool changed = true;
  while (changed) {
    changed = false;
    for (ModelJob& job : jobs_) {
      Job& j = job.job;
      if (j.state != JobState::kQueued && j.state != JobState::kPending) continue;
      if ((j.state == JobState::kPending && prerequisite_failed(j)) || dependents_failed(j)) {
        j.state = JobState::kError;  // EndJob below does the rest
        failed.push_back(j.id);
        changed = true;
      }
    }
  }
  // The text names the job that made it fail (its recorded cause); which
  // one depends on the order the engine walks in, so every reason that
  // holds is accepted.
  for (JobId id : failed) {
    ModelJob& job = *FindAnyTeamMutable(id);
    std::vector<std::string> texts;
    std::vector<std::optional<JobId>> causes;
    if (job.job.on_prerequisite_failure == PrerequisiteFailurePolicy::kFail) {
      for (JobId p : PrerequisitesOf(job.job)) {
        if (FindAnyTeam(p)->job.state == JobState::kError) {
          texts.push_back(absl::StrCat("prerequisite ", Str(p), " failed"));
          causes.push_back(p);
        }
      }
    }
    if (dependents_failed(job.job)) {
      for (const ModelJob* d : DependentsOf(id)) {
        texts.push_back(absl::StrCat("dependent ", Str(d->job.id), " failed"));
        causes.push_back(d->job.id);
      }
    }
    EndJob(job, JobState::kError, std::move(texts), std::move(causes));
  }
}

void ReferenceModel::PromoteReadyJobs() {
  // PrerequisitesMet: a pending job whose every prerequisite is resolved.
  for (ModelJob& job : jobs_) {
    if (job.job.state == JobState::kPending && AllPrerequisitesResolved(job.job)) {
      job.job.state = JobState::kQueued;
      job.job.stats.updated_at = now_;
    }
  }
}

// ---- Comparisons ------------------------------------------------------------------

std::string DiffJob(const ExpectedJob& want_job, const Job& got) {
  const Job& want = want_job.job;
  Differ d;
  d.Field("id", want.id, got.id);
  d.Field("team", want.team, got.team);
  d.Field("templateId", want.template_id, got.template_id);
  d.Field("status", want.state, got.state);
  d.Field("progress", want.progress, got.progress);
  d.Field("stats.createdAt", want.stats.created_at, got.stats.created_at);
  d.Field("stats.updatedAt", want.stats.updated_at, got.stats.updated_at);
  d.Field("stats.startedAt", want.stats.started_at, got.stats.started_at);
  d.Field("stats.finishedAt", want.stats.finished_at, got.stats.finished_at);
  d.Field("stats.errorAt", want.stats.error_at, got.stats.error_at);
  d.Field("stats.totalAssets", want.stats.total_assets, got.stats.total_assets);
  if (want.stats.render_duration.has_value() != got.stats.render_duration.has_value() ||
      (want.stats.render_duration.has_value() &&
       std::abs(*want.stats.render_duration - *got.stats.render_duration) > 1e-6)) {
    d.Field("stats.renderDuration", want.stats.render_duration, got.stats.render_duration);
  }
  if (want_job.error_options.empty()) {
    d.Field("stats.error", want.stats.error, got.stats.error);
  } else if (!got.stats.error.has_value() ||
             std::find(want_job.error_options.begin(), want_job.error_options.end(),
                       *got.stats.error) == want_job.error_options.end()) {
    d.Add(absl::StrCat("stats.error: want one of ", Fmt(want_job.error_options), ", got ",
                       Fmt(got.stats.error)));
  }
  d.Field("outputUrl", want.output_url, got.output_url);
  // Neither docs/contract.md nor semantics.md says tags keep their order: compared
  // as sets.
  std::vector<std::string> want_tags = want.tags, got_tags = got.tags;
  std::sort(want_tags.begin(), want_tags.end());
  std::sort(got_tags.begin(), got_tags.end());
  d.Field("tags (sorted)", want_tags, got_tags);
  d.Field("priority", want.priority, got.priority);
  d.Field("batchId", want.batch_id, got.batch_id);
  d.Field("parentId", want.parent_id, got.parent_id);
  d.Field("children", want.children, got.children);
  d.Field("dependsOn", want.depends_on, got.depends_on);
  d.Field("onPrerequisiteFailure", want.on_prerequisite_failure, got.on_prerequisite_failure);
  d.Field("attempts", want.attempts, got.attempts);
  d.Field("cancelRequested", want.cancel_requested, got.cancel_requested);
  d.Field("maxAttempts", want.max_attempts, got.max_attempts);
  d.Field("retryAt", want.retry_at, got.retry_at);
  d.Field("suspended", want.suspended, got.suspended);
  return d.Result(absl::StrCat("job ", Str(want.id)));
}

std::string DiffJobs(const std::vector<ExpectedJob>& want, const std::vector<Job>& got) {
  std::vector<JobId> want_ids, got_ids;
  for (const ExpectedJob& j : want) want_ids.push_back(j.job.id);
  for (const Job& j : got) got_ids.push_back(j.id);
  if (want_ids != got_ids) {
    return absl::StrCat("jobs: want ids ", Fmt(want_ids), ", got ", Fmt(got_ids));
  }
  std::vector<std::string> problems;
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::string d = DiffJob(want[i], got[i]); !d.empty()) problems.push_back(d);
  }
  return absl::StrJoin(problems, "\n");
}

std::string DiffCreated(const CreatedJob& want, const CreatedJob& got) {
  Differ d;
  d.Field("id", want.id, got.id);
  d.Field("status", want.state, got.state);
  d.Field("outputUrl", want.output_url, got.output_url);
  d.Field("children.size", want.children.size(), got.children.size());
  if (want.children.size() == got.children.size()) {
    for (size_t i = 0; i < want.children.size(); ++i) {
      d.Add(DiffCreated(want.children[i], got.children[i]));
    }
  }
  return d.Result(absl::StrCat("created job ", Str(want.id)));
}

std::string DiffCounts(const BatchCounts& want, const BatchCounts& got) {
  Differ d;
  for (int s = 0; s < kNumJobStates; ++s) {
    d.Field(WireName(static_cast<JobState>(s)), want.by_state[s], got.by_state[s]);
  }
  d.Field("total", want.total, got.total);
  return d.Result("counts");
}

std::string DiffList(const ExpectedList& want, const std::vector<Job>& got) {
  if (!want.any_order) return DiffJobs(want.jobs, got);
  Differ d;
  d.Field("page size", want.count, got.size());
  std::vector<JobId> seen;
  for (const Job& job : got) {
    if (Contains(seen, job.id)) d.Add(absl::StrCat("job ", Str(job.id), " listed twice"));
    seen.push_back(job.id);
    auto it = std::find_if(want.jobs.begin(), want.jobs.end(),
                           [&](const ExpectedJob& w) { return w.job.id == job.id; });
    if (it == want.jobs.end()) {
      d.Add(absl::StrCat("job ", Str(job.id), " does not match the query"));
    } else {
      d.Add(DiffJob(*it, job));
    }
  }
  return d.Result("random listing");
}

std::string DiffBatchSubmit(const ExpectedBatchSubmit& want, const BatchSubmitResult& got) {
  Differ d;
  d.Field("batchId", want.batch_id, got.batch_id);
  if (want.status != got.status) {
    d.Add(absl::StrCat("status: want ", Name(want.status), ", got ", Name(got.status)));
  }
  d.Field("totalJobs", want.total_jobs, got.total_jobs);
  d.Field("successCount", want.success_count, got.success_count);
  d.Field("jobs.size", want.jobs.size(), got.jobs.size());
  for (size_t i = 0; i < std::min(want.jobs.size(), got.jobs.size()); ++i) {
    d.Field(absl::StrCat("jobs[", i, "].index"), want.jobs[i].index, got.jobs[i].index);
    d.Add(DiffCreated(want.jobs[i].job, got.jobs[i].job));
  }
  d.Field("errors.size", want.errors.size(), got.errors.size());
  for (size_t i = 0; i < std::min(want.errors.size(), got.errors.size()); ++i) {
    d.Field(absl::StrCat("errors[", i, "].index"), want.errors[i].first, got.errors[i].index);
    if (std::string m =
            want.errors[i].second.MismatchEntry(got.errors[i].error_code, got.errors[i].error);
        !m.empty()) {
      d.Add(absl::StrCat("errors[", i, "]: ", m));
    }
  }
  return d.Result(absl::StrCat("batch ", Str(want.batch_id)));
}

std::string DiffBatchView(const ExpectedBatchView& want, const BatchView& got) {
  Differ d;
  d.Field("batchId", want.batch_id, got.batch_id);
  if (want.status != got.status) {
    d.Add(absl::StrCat("status: want ", Name(want.status), ", got ", Name(got.status)));
  }
  d.Add(DiffCounts(want.counts, got.counts));
  d.Field("jobs.size", want.jobs.size(), got.jobs.size());
  for (size_t i = 0; i < std::min(want.jobs.size(), got.jobs.size()); ++i) {
    d.Field(absl::StrCat("jobs[", i, "].index"), want.jobs[i].first, got.jobs[i].index);
    d.Add(DiffJob(want.jobs[i].second, got.jobs[i].job));
  }
  return d.Result(absl::StrCat("batch view ", Str(want.batch_id)));
}

std::string DiffBatchCancel(const ExpectedBatchCancel& want, const BatchCancelResult& got) {
  Differ d;
  d.Field("batchId", want.batch_id, got.batch_id);
  if (want.status != got.status) {
    d.Add(absl::StrCat("status: want ", Name(want.status), ", got ", Name(got.status)));
  }
  d.Field("totalJobs", want.total_jobs, got.total_jobs);
  d.Field("cancelledCount", want.cancelled_count, got.cancelled_count);
  d.Field("skippedCount", want.skipped_count, got.skipped_count);
  d.Field("jobs.size", want.jobs.size(), got.jobs.size());
  for (size_t i = 0; i < std::min(want.jobs.size(), got.jobs.size()); ++i) {
    const BatchCancelJobResult& w = want.jobs[i];
    const BatchCancelJobResult& g = got.jobs[i];
    const std::string at = absl::StrCat("jobs[", i, "].");
    d.Field(at + "index", w.index, g.index);
    d.Field(at + "id", w.id, g.id);
    d.Field(at + "result", std::string(w.cancelled ? "cancelled" : "skipped"),
            std::string(g.cancelled ? "cancelled" : "skipped"));
    d.Field(at + "status", w.state, g.state);
    d.Field(at + "reason", w.reason, g.reason);
  }
  d.Add(DiffJobs(want.cancelled_jobs, got.cancelled_jobs));
  return d.Result(absl::StrCat("batch cancel ", Str(want.batch_id)));
}

std::string DiffClaim(const ExpectedClaim& want, const ClaimedJob& got) {
  Differ d;
  d.Add(DiffJob(want.job, got.job));
  d.Field("lease.expiresAt", want.lease_expires_at, got.lease.expires_at);
  d.Field("payload", want.payload, got.payload);
  if (got.lease.token.empty()) d.Add("lease.token is empty");
  return d.Result("claim");
}

std::string DiffHeartbeat(const ExpectedHeartbeat& want, std::string_view given_token,
                          const HeartbeatResult& got) {
  Differ d;
  d.Add(DiffJob(want.job, got.job));
  d.Field("lease.expiresAt", want.lease_expires_at, got.lease.expires_at);
  d.Field("lease.token", std::string(given_token), got.lease.token);
  d.Field("cancelRequested (answer)", want.cancel_requested, got.cancel_requested);
  return d.Result("heartbeat");
}

namespace {

const char* Name(WorkerStatus s) {
  switch (s) {
    case WorkerStatus::kBusy:
      return "busy";
    case WorkerStatus::kIdle:
      return "idle";
    case WorkerStatus::kLost:
      return "lost";
  }
  return "?";
}

}  // namespace

std::string DiffWorkers(const std::vector<WorkerInfo>& want, const std::vector<WorkerInfo>& got) {
  Differ d;
  std::vector<std::string> want_names, got_names;
  for (const WorkerInfo& w : want) want_names.push_back(w.name);
  for (const WorkerInfo& w : got) got_names.push_back(w.name);
  d.Field("names", want_names, got_names);
  if (want_names != got_names) return d.Result("workers");
  for (size_t i = 0; i < want.size(); ++i) {
    const WorkerInfo& w = want[i];
    const WorkerInfo& g = got[i];
    const std::string at = absl::StrCat(w.name, ".");
    d.Field(at + "tags", w.tags, g.tags);
    d.Field(at + "lastSeen", w.last_seen, g.last_seen);
    if (w.lease != g.lease) {
      d.Add(absl::StrCat(at, "lease: want ", absl::FormatDuration(w.lease), ", got ",
                         absl::FormatDuration(g.lease)));
    }
    if (w.status != g.status) {
      d.Add(absl::StrCat(at, "status: want ", Name(w.status), ", got ", Name(g.status)));
    }
    d.Field(at + "jobs", w.jobs, g.jobs);
  }
  return d.Result("workers");
}

std::string DiffLog(const std::string& want, const std::string& got) {
  if (want == got) return "";
  size_t at = 0;
  while (at < want.size() && at < got.size() && want[at] == got[at]) ++at;
  auto around = [&](const std::string& text) {
    const size_t from = at < 20 ? 0 : at - 20;
    return absl::CEscape(text.substr(from, 60));
  };
  return absl::StrCat("log: want ", want.size(), " bytes, got ", got.size(),
                      "; first difference at byte ", at, ": want \"...", around(want),
                      "...\", got \"...", around(got), "...\"");
}

std::string DescribeJob(const Job& job) {
  return absl::StrCat(
      Str(job.id), " ", job.team, " ", WireName(job.state), " children=", Fmt(job.children),
      " dependsOn=", Fmt(job.depends_on),
      job.on_prerequisite_failure == PrerequisiteFailurePolicy::kIgnore ? " ignore-failures" : "",
      " attempts=", job.attempts, "/", job.max_attempts, job.suspended ? " held" : "",
      job.retry_at.has_value() ? absl::StrCat(" retryAt=", Fmt(*job.retry_at)) : "",
      job.priority != 0 ? absl::StrCat(" priority=", job.priority) : "",
      " error=", Fmt(job.stats.error));
}

std::string DescribeSpec(const JobSpec& spec) {
  std::string out = "{";
  if (spec.template_id.size() > 40) {
    absl::StrAppend(&out, "template.id:", spec.template_id.size(), "B ");
  }
  if (spec.composition.size() > 40) {
    absl::StrAppend(&out, "composition:", spec.composition.size(), "B ");
  }
  if (!spec.tags.empty()) {
    std::vector<std::string> tags;
    for (const std::string& t : spec.tags) {
      tags.push_back(t.size() > 16 ? absl::StrCat(t.size(), "B-tag") : absl::StrCat("'", t, "'"));
    }
    if (tags.size() > 4) tags = {absl::StrCat(tags.size(), " tags")};
    absl::StrAppend(&out, "tags:[", absl::StrJoin(tags, ","), "] ");
  }
  if (spec.priority != 0) absl::StrAppend(&out, "priority:", spec.priority, " ");
  if (!spec.depends_on.empty()) absl::StrAppend(&out, "dependsOn:", Fmt(spec.depends_on), " ");
  if (spec.on_prerequisite_failure == PrerequisiteFailurePolicy::kIgnore) {
    absl::StrAppend(&out, "ignore-failures ");
  }
  if (!spec.output_url.empty()) absl::StrAppend(&out, "outputUrl:", spec.output_url, " ");
  if (spec.max_attempts.has_value()) absl::StrAppend(&out, "maxAttempts:", *spec.max_attempts, " ");
  if (spec.retry_backoff.has_value()) {
    absl::StrAppend(&out, "backoff:", absl::FormatDuration(*spec.retry_backoff), " ");
  }
  if (spec.timeout.has_value()) {
    absl::StrAppend(&out, "timeout:", absl::FormatDuration(*spec.timeout), " ");
  }
  if (spec.payload.size() > 40) absl::StrAppend(&out, "payload:", spec.payload.size(), "B ");
  if (!spec.children.empty()) {
    std::vector<std::string> children;
    for (const JobSpec& c : spec.children) children.push_back(DescribeSpec(c));
    if (children.size() > 4) children = {absl::StrCat(children.size(), " children")};
    absl::StrAppend(&out, "children:[", absl::StrJoin(children, ","), "]");
  }
  if (out.back() == ' ') out.pop_back();
  return out + "}";
}

}  // namespace cascade::model
