// Copyright 2026 The Cascade Authors.
//
// The wire library (wire/): every writer's output conforms to its
// schema in Nexrender's OpenAPI document (tests/data/nexrender-openapi-v2.json,
// checked by tests/json/openapi_validator.h), for jobs in every state made by
// a real engine; the extensions and null conventions are as job_json.h states;
// request bodies parse into the engine's specs, and every way a body can be
// wrong is refused as InvalidArgument naming the JSON path of the bad field;
// worker bodies, query strings and errors read and write as their headers say.

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "boost/json.hpp"
#include "cascade/cascade.h"
#include "cascade/testing/engine_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/json/openapi_validator.h"
#include "tests/testutil.h"
#include "wire/errors.h"
#include "wire/job_json.h"
#include "wire/json.h"
#include "wire/query.h"
#include "wire/strings.h"
#include "wire/worker_bodies.h"

namespace cascade {
namespace {

namespace json = ::boost::json;
using ::cascade::testing::EngineTest;
using ::cascade::testing::IsOk;
using ::cascade::testing::LeafSpec;
using ::cascade::testing::OpenApiValidator;
using ::cascade::testing::StatusIs;
using ::cascade::wire::AppendJson;
using ::cascade::wire::BatchCancellationResponseToJson;
using ::cascade::wire::BatchCreationErrorResponseToJson;
using ::cascade::wire::BatchCreationResponseToJson;
using ::cascade::wire::BatchHoldResponseToJson;
using ::cascade::wire::BatchStatusResponseToJson;
using ::cascade::wire::ClaimResponseToJson;
using ::cascade::wire::ErrorResponseToJson;
using ::cascade::wire::FailBody;
using ::cascade::wire::FinishBody;
using ::cascade::wire::HeartbeatBody;
using ::cascade::wire::JobCancellationResponseToJson;
using ::cascade::wire::JobCreationResponseToJson;
using ::cascade::wire::JobRetryResponseToJson;
using ::cascade::wire::JobsToJson;
using ::cascade::wire::JobToJson;
using ::cascade::wire::JobToJsonText;
using ::cascade::wire::JobView;
using ::cascade::wire::JsonWriter;
using ::cascade::wire::kMaxJsonDepth;
using ::cascade::wire::kMaxViolations;
using ::cascade::wire::ParseBatchCreation;
using ::cascade::wire::ParseClaimBody;
using ::cascade::wire::ParseFailBody;
using ::cascade::wire::ParseFinishBody;
using ::cascade::wire::ParseHeartbeatBody;
using ::cascade::wire::ParseJobCancellationRequest;
using ::cascade::wire::ParseJobCreation;
using ::cascade::wire::ParseJobRetryRequest;
using ::cascade::wire::ParseJobsQuery;
using ::cascade::wire::ParseJobUpdate;
using ::cascade::wire::ParseJoinJobCreation;
using ::cascade::wire::ParseJsonBody;
using ::cascade::wire::ParseQueryString;
using ::cascade::wire::ParseReleaseBody;
using ::cascade::wire::ReleaseBody;
using ::cascade::wire::ValidationErrorResponseToJson;
using ::cascade::wire::WriteJson;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// ---- Helpers --------------------------------------------------------------------

const OpenApiValidator& Api() {
  static const OpenApiValidator* api = [] {
    absl::StatusOr<OpenApiValidator> loaded = OpenApiValidator::LoadFile(CASCADE_OPENAPI_PATH);
    if (!loaded.ok()) {
      ADD_FAILURE() << loaded.status();
      return static_cast<OpenApiValidator*>(nullptr);
    }
    return new OpenApiValidator(*std::move(loaded));
  }();
  if (api == nullptr) std::abort();
  return *api;
}

// EXPECT_THAT(JobToJson(job), ConformsTo("Job"));
MATCHER_P2(ConformsToWith, schema, options, absl::StrCat("conforms to ", schema)) {
  std::vector<std::string> problems = Api().Validate(json::value(arg), schema, options);
  if (problems.empty()) return true;
  *result_listener << json::serialize(json::value(arg)) << "\nproblems:\n  "
                   << absl::StrJoin(problems, "\n  ");
  return false;
}
auto ConformsTo(std::string schema) {
  return ConformsToWith(std::move(schema), OpenApiValidator::Options{});
}
// Every property the schema declares must be present (nullable ones as null).
auto ConformsCompletelyTo(std::string schema) {
  return ConformsToWith(std::move(schema),
                        OpenApiValidator::Options{.require_all_properties = true});
}

// The status (of a Status or StatusOr) has a field violation on `field` whose
// message contains `message`.
MATCHER_P2(HasViolation, field, message,
           absl::StrCat("has a field violation on '", field, "' containing '", message, "'")) {
  const absl::Status& status = ::cascade::testing::GetStatus(arg);
  std::vector<FieldViolation> violations = GetFieldViolations(status);
  for (const FieldViolation& v : violations) {
    if (v.field == field && v.message.find(message) != std::string::npos) {
      return status.code() == absl::StatusCode::kInvalidArgument;
    }
  }
  *result_listener << "status is " << status;
  return false;
}

json::value Parse(std::string_view text) {
  json::error_code ec;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec);
  EXPECT_FALSE(ec) << ec.message() << " in " << text;
  return v;
}

// JSON equality with numbers compared by value: WriteJson writes 100.0 as
// `100`, which reads back as an integer.
bool SameJson(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) {
    return a.to_number<double>() == b.to_number<double>();
  }
  if (a.is_array() && b.is_array()) {
    const json::array& x = a.get_array();
    const json::array& y = b.get_array();
    if (x.size() != y.size()) return false;
    for (size_t i = 0; i < x.size(); ++i) {
      if (!SameJson(x[i], y[i])) return false;
    }
    return true;
  }
  if (a.is_object() && b.is_object()) {
    const json::object& x = a.get_object();
    const json::object& y = b.get_object();
    if (x.size() != y.size()) return false;
    for (const json::key_value_pair& kv : x) {
      const json::value* other = y.if_contains(kv.key());
      if (other == nullptr || !SameJson(kv.value(), *other)) return false;
    }
    return true;
  }
  return a == b;
}

MATCHER_P(JsonEquals, expected, "") {
  if (SameJson(json::value(arg), json::value(expected))) return true;
  *result_listener << json::serialize(json::value(arg)) << " differs from "
                   << json::serialize(json::value(expected));
  return false;
}

constexpr char kTemplate[] = "01HZX3C5Y5V7E8W3J6T9Q2M1NB";

// A body with `field` added to a valid job.
std::string With(std::string_view field) {
  return absl::StrCat(R"({"template": {"id": ")", kTemplate, R"("}, )", wire::Sv(field), "}");
}

// ---- Writers, on jobs of a real engine -----------------------------------------

class WireTest : public EngineTest {
 protected:
  JobSpec Tagged(std::string tag) {
    JobSpec spec = LeafSpec();
    spec.tags = {std::move(tag)};
    return spec;
  }

  Job Submitted(const JobSpec& spec) {
    absl::StatusOr<CreatedJob> created = Submit(spec);
    EXPECT_THAT(created, IsOk());
    if (!created.ok()) return Job{};
    return GetOrDie(created->id);
  }

  Job GetOrDie(JobId id) {
    absl::StatusOr<Job> job = Get(id);
    EXPECT_THAT(job, IsOk());
    return job.ok() ? *job : Job{};
  }

  // One job in each of the six states, plus the parent/child/dependsOn
  // relations, a rendering job with an abort requested, and a batch member.
  std::vector<Job> JobsInEveryState() {
    std::vector<Job> jobs;
    jobs.push_back(Submitted(Tagged("queued")));

    JobSpec family = LeafSpec("edit");
    family.children = {LeafSpec("intro"), LeafSpec("outro")};
    absl::StatusOr<CreatedJob> parent = Submit(family);
    EXPECT_THAT(parent, IsOk());
    jobs.push_back(GetOrDie(parent->id));              // pending, with children
    jobs.push_back(GetOrDie(parent->children[0].id));  // queued, with a parent

    JobSpec depends = Tagged("depends");
    depends.depends_on = {jobs[0].id};
    depends.on_prerequisite_failure = PrerequisiteFailurePolicy::kIgnore;
    jobs.push_back(Submitted(depends));  // pending on dependsOn

    Submitted(Tagged("rendering"));
    absl::StatusOr<ClaimedJob> rendering = ClaimTagged("rendering");
    EXPECT_THAT(rendering, IsOk());
    EXPECT_THAT(Heartbeat(*rendering, 37.5), IsOk());
    jobs.push_back(GetOrDie(rendering->job.id));

    Submitted(Tagged("aborting"));
    absl::StatusOr<ClaimedJob> aborting = ClaimTagged("aborting");
    EXPECT_THAT(aborting, IsOk());
    EXPECT_THAT(engine().RequestAbort(kTeam, aborting->job.id), IsOk());
    jobs.push_back(GetOrDie(aborting->job.id));

    Submitted(Tagged("finished"));
    absl::StatusOr<ClaimedJob> finishing = ClaimTagged("finished");
    EXPECT_THAT(finishing, IsOk());
    clock().Advance(absl::Milliseconds(22304));
    EXPECT_THAT(engine().Finish(finishing->job.id, finishing->lease.token, {}), IsOk());
    jobs.push_back(GetOrDie(finishing->job.id));

    Job failed = Submitted(Tagged("error"));
    EXPECT_THAT(RenderAndFail("error", "out of memory"), IsOk());
    jobs.push_back(GetOrDie(failed.id));

    Job cancelled = Submitted(Tagged("cancelled"));
    EXPECT_THAT(engine().Cancel(kTeam, cancelled.id), IsOk());
    jobs.push_back(GetOrDie(cancelled.id));

    JobSpec no_template;  // templateId null
    absl::StatusOr<BatchSubmitResult> batch = engine().SubmitBatch(kTeam, {no_template});
    EXPECT_THAT(batch, IsOk());
    jobs.push_back(GetOrDie(batch->jobs.at(0).job.id));
    return jobs;
  }
};

TEST_F(WireTest, JobsInEveryStateConformToTheJobSchemaWithEveryField) {
  std::vector<Job> jobs = JobsInEveryState();
  std::vector<bool> seen(kNumJobStates, false);
  for (const Job& job : jobs) {
    seen[static_cast<int>(job.state)] = true;
    json::object o = JobToJson(job);
    EXPECT_THAT(o, ConformsCompletelyTo("Job"));
    EXPECT_EQ(o.at("status").as_string(), StateName(job.state));
    EXPECT_EQ(o.at("id").as_string(), job.id.ToString());
    // The text is the same object.
    EXPECT_THAT(Parse(JobToJsonText(job)), JsonEquals(o));
  }
  EXPECT_THAT(seen, ::testing::Each(true)) << "a state has no job";
}

TEST_F(WireTest, UnsetFieldsAreNullAndExtensionsHaveTheirDefaults) {
  JobSpec spec;  // no template, no tags
  Job job = Submitted(spec);
  json::object o = JobToJson(job);
  EXPECT_TRUE(o.at("templateId").is_null());
  const json::object& stats = o.at("stats").as_object();
  for (const char* key : {"startedAt", "finishedAt", "errorAt", "renderDuration", "error"}) {
    EXPECT_TRUE(stats.at(key).is_null()) << key;
  }
  EXPECT_EQ(stats.at("createdAt"), "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(stats.at("updatedAt"), "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(stats.at("totalAssets"), 0);
  EXPECT_EQ(o.at("outputUrl"),
            json::value(absl::StrCat("file:///tmp/cascade/outputs/", job.id.ToString(), ".mp4")));
  EXPECT_EQ(o.at("team"), "team-a");
  EXPECT_EQ(o.at("tags"), json::array());
  EXPECT_EQ(o.at("priority"), 0);
  EXPECT_TRUE(o.at("batchId").is_null());
  EXPECT_TRUE(o.at("parentId").is_null());
  EXPECT_EQ(o.at("children"), json::array());
  EXPECT_EQ(o.at("dependsOn"), json::array());
  EXPECT_EQ(o.at("onPrerequisiteFailure"), "fail");
  EXPECT_EQ(o.at("attempts"), 0);
  EXPECT_EQ(o.at("cancelRequested"), false);
  EXPECT_EQ(o.at("maxAttempts"), 3) << "the engine's default";
  EXPECT_TRUE(o.at("retryAt").is_null());
  EXPECT_EQ(o.at("suspended"), false);
  EXPECT_EQ(o.at("progress").to_number<double>(), 0.0);  // the number 0, written "0"
}

// The texts made when read (output URL, error) are written in place and
// escaped only when they need it: quotes, backslashes, control characters and
// invalid UTF-8 come out as WriteJson writes them, valid UTF-8 as it is.
TEST_F(WireTest, MadeTextsAreEscapedLikeAnyString) {
  Job job = Submitted(JobSpec());
  job.output_url = "s3://renders/\"q\"\\x/\t\xff/\xc3\xa9.mp4";
  job.stats.error = ErrorText("bad \"frame\"\n\x01");
  const std::string text = JobToJsonText(job);
  EXPECT_THAT(text, HasSubstr(R"("outputUrl":"s3://renders/\"q\"\\x/\t)"
                              "\xef\xbf\xbd/\xc3\xa9.mp4\""));
  EXPECT_THAT(text, HasSubstr(R"("error":"bad \"frame\"\n\u0001")"));
  json::object o = JobToJson(job);
  EXPECT_EQ(o.at("outputUrl"), "s3://renders/\"q\"\\x/\t\xef\xbf\xbd/\xc3\xa9.mp4");
  EXPECT_EQ(o.at("stats").at("error"), "bad \"frame\"\n\x01");
  // A plain one takes the short way and reads back the same.
  job.output_url = "https://cdn.example.com/a b/c.mp4";
  EXPECT_THAT(JobToJsonText(job), HasSubstr(R"("outputUrl":"https://cdn.example.com/a b/c.mp4")"));
}

TEST_F(WireTest, ExtensionsCarryRelationsAndWorkerState) {
  std::vector<Job> jobs = JobsInEveryState();
  const Job& parent = jobs[1];
  const Job& child = jobs[2];
  const Job& dependent = jobs[3];
  const Job& aborting = jobs[5];
  const Job& in_batch = jobs.back();

  json::object p = JobToJson(parent);
  ASSERT_EQ(p.at("children").as_array().size(), 2u);
  EXPECT_EQ(p.at("children").as_array()[0], json::value(child.id.ToString()));
  EXPECT_EQ(JobToJson(child).at("parentId"), json::value(parent.id.ToString()));

  json::object d = JobToJson(dependent);
  EXPECT_EQ(d.at("dependsOn"), json::value(json::array{json::value(jobs[0].id.ToString())}));
  EXPECT_EQ(d.at("onPrerequisiteFailure"), "ignore");
  EXPECT_EQ(d.at("tags"), json::value(json::array{"depends"}));
  EXPECT_EQ(d.at("status"), "pending");

  json::object a = JobToJson(aborting);
  EXPECT_EQ(a.at("cancelRequested"), true);
  EXPECT_EQ(a.at("attempts"), 1);
  EXPECT_EQ(a.at("status"), "render:dorender");
  EXPECT_FALSE(a.at("stats").at("startedAt").is_null());

  json::object b = JobToJson(in_batch);
  ASSERT_TRUE(in_batch.batch_id.has_value());
  EXPECT_EQ(b.at("batchId"), json::value(in_batch.batch_id->ToString()));
  EXPECT_TRUE(b.at("templateId").is_null());
}

TEST_F(WireTest, PriorityAndTemplateAreWritten) {
  JobSpec spec = LeafSpec();
  spec.priority = -7;
  json::object o = JobToJson(Submitted(spec));
  EXPECT_EQ(o.at("priority"), -7);
  EXPECT_EQ(o.at("templateId"), kTemplate);
}

TEST_F(WireTest, FinishedJobHasTimesDurationAndNumbersInPlainDecimal) {
  std::vector<Job> jobs = JobsInEveryState();
  const Job& finished = jobs[6];
  ASSERT_EQ(finished.state, JobState::kFinished);
  json::object o = JobToJson(finished);
  const json::object& stats = o.at("stats").as_object();
  EXPECT_FALSE(stats.at("startedAt").is_null());
  EXPECT_FALSE(stats.at("finishedAt").is_null());
  EXPECT_TRUE(stats.at("errorAt").is_null());
  EXPECT_TRUE(stats.at("error").is_null());
  ASSERT_TRUE(stats.at("renderDuration").is_double());
  EXPECT_DOUBLE_EQ(stats.at("renderDuration").get_double(), 22.304);
  const std::string text = JobToJsonText(finished);
  EXPECT_THAT(text, HasSubstr(R"("renderDuration":22.304)"));
  EXPECT_THAT(text, HasSubstr(R"("progress":100,)"));

  std::string rendering = JobToJsonText(jobs[4]);
  EXPECT_THAT(rendering, HasSubstr(R"("progress":37.5,)"));
}

TEST_F(WireTest, ErrorAndCancelledJobsSayWhy) {
  std::vector<Job> jobs = JobsInEveryState();
  json::object failed = JobToJson(jobs[7]);
  EXPECT_EQ(failed.at("status"), "error");
  EXPECT_EQ(failed.at("stats").at("error"), "out of memory");
  EXPECT_FALSE(failed.at("stats").at("errorAt").is_null());

  json::object cancelled = JobToJson(jobs[8]);
  EXPECT_EQ(cancelled.at("status"), "manually_cancelled");
  EXPECT_EQ(cancelled.at("stats").at("error"), "Cancelled via API");
  EXPECT_EQ(cancelled.at("stats").at("errorAt"), "2023-11-14T22:13:42.304Z");
}

TEST_F(WireTest, MinimalViewOmitsOnlyStats) {
  Job job = Submitted(LeafSpec());
  json::object full = JobToJson(job);
  json::object minimal = JobToJson(job, JobView::kMinimal);
  EXPECT_FALSE(minimal.contains("stats"));
  EXPECT_EQ(minimal.size() + 1, full.size());
  for (const json::key_value_pair& kv : minimal) EXPECT_EQ(kv.value(), full.at(kv.key()));
  EXPECT_THAT(JobsToJson({job, job}, JobView::kMinimal), ConformsTo("JobCancellationResponse"));
}

TEST_F(WireTest, SingleCancelRespondsWithEveryCascadedJob) {
  JobSpec family = LeafSpec("edit");
  family.children = {LeafSpec("intro"), LeafSpec("outro")};
  CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob created, Submit(family));
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> cancelled,
                               engine().Cancel(kTeam, created.children[0].id));
  json::array a = JobCancellationResponseToJson(cancelled);
  EXPECT_THAT(a, ConformsTo("JobCancellationResponse"));
  ASSERT_THAT(a, SizeIs(3));  // the child, its parent (R) and its sibling (U)
  for (const json::value& job : a) {
    EXPECT_THAT(job.as_object(), ConformsCompletelyTo("Job"));
    EXPECT_EQ(job.at("status"), "manually_cancelled");
  }
}

TEST_F(WireTest, BulkCancelRespondsWithAnArrayOfJobs) {
  Job one = Submitted(Tagged("one"));
  Job two = Submitted(Tagged("two"));
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<Job> cancelled,
                               engine().CancelMany(kTeam, {one.id, two.id}));
  json::array a = JobCancellationResponseToJson(cancelled);
  EXPECT_THAT(a, ConformsTo("JobCancellationResponse"));
  ASSERT_THAT(a, SizeIs(2));
  EXPECT_EQ(a[0].at("id"), json::value(one.id.ToString()));
  EXPECT_EQ(a[1].at("id"), json::value(two.id.ToString()));
}

TEST_F(WireTest, RetryAndBatchHoldAnswersListFullJobs) {
  Job one = Submitted(Tagged("one"));
  Job two = Submitted(Tagged("two"));
  json::array retried = JobRetryResponseToJson({one, two});
  EXPECT_THAT(retried, ConformsTo("JobCancellationResponse")) << "the cancel answer's shape";
  ASSERT_THAT(retried, SizeIs(2));
  EXPECT_EQ(retried[1].at("id"), json::value(two.id.ToString()));

  const BatchId batch = two.id;  // any id
  json::object held = BatchHoldResponseToJson(batch, {one});
  EXPECT_EQ(held.size(), 2u);
  EXPECT_EQ(held.at("batchId"), json::value(batch.ToString()));
  ASSERT_THAT(held.at("jobs").as_array(), SizeIs(1));
  EXPECT_THAT(held.at("jobs").as_array()[0], ConformsCompletelyTo("Job"));
  EXPECT_THAT(BatchHoldResponseToJson(batch, {}).at("jobs").as_array(), IsEmpty());
}

TEST_F(WireTest, CreationResponseHasChildrenOnlyForParents) {
  CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob leaf, Submit(LeafSpec()));
  json::object l = JobCreationResponseToJson(leaf);
  EXPECT_THAT(l, ConformsTo("JobCreationResponse"));
  EXPECT_EQ(l.size(), 3u);
  EXPECT_EQ(l.at("status"), "queued");
  EXPECT_EQ(l.at("outputUrl"), json::value(leaf.output_url.str()));
  EXPECT_FALSE(l.contains("children"));

  JobSpec family = LeafSpec("edit");
  JobSpec intro = LeafSpec("intro");
  intro.children = {LeafSpec("logo")};
  family.children = {intro, LeafSpec("outro")};
  CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob parent, Submit(family));
  json::object p = JobCreationResponseToJson(parent);
  EXPECT_THAT(p, ConformsTo("JobCreationResponse"));
  EXPECT_EQ(p.at("status"), "pending");
  const json::array& children = p.at("children").as_array();
  ASSERT_THAT(children, SizeIs(2));
  EXPECT_EQ(children[0].at("id"), json::value(parent.children[0].id.ToString()));
  EXPECT_EQ(children[0].at("status"), "pending");  // waits for its own child
  EXPECT_EQ(children[1].at("status"), "queued");
  EXPECT_FALSE(children[1].as_object().contains("children"));
  // Grandchildren, recursively (an extension).
  ASSERT_THAT(children[0].at("children").as_array(), SizeIs(1));
  EXPECT_EQ(children[0].at("children").at(0).at("id"),
            json::value(parent.children[0].children[0].id.ToString()));
}

TEST_F(WireTest, BatchCreationResponseInEveryStatus) {
  JobSpec bad = LeafSpec();
  bad.tags = {"not a tag!"};
  JobSpec family = LeafSpec("edit");
  family.children = {LeafSpec("intro")};

  CASCADE_ASSERT_OK_AND_ASSIGN(BatchSubmitResult created,
                               engine().SubmitBatch(kTeam, {LeafSpec(), family}));
  json::object c = BatchCreationResponseToJson(created);
  EXPECT_THAT(c, ConformsTo("BatchCreationResponse"));
  EXPECT_EQ(c.at("status"), "created");
  EXPECT_EQ(c.at("totalJobs"), 2);
  EXPECT_EQ(c.at("successCount"), 2);
  EXPECT_FALSE(c.contains("errors"));
  const json::array& jobs = c.at("jobs").as_array();
  ASSERT_THAT(jobs, SizeIs(2));
  EXPECT_EQ(jobs[1].at("index"), 1);
  EXPECT_EQ(jobs[1].at("id"), json::value(created.jobs[1].job.id.ToString()));
  EXPECT_EQ(jobs[1].at("status"), "pending");
  EXPECT_THAT(jobs[1].at("children").as_array(), SizeIs(1));
  EXPECT_FALSE(jobs[0].as_object().contains("children"));

  CASCADE_ASSERT_OK_AND_ASSIGN(BatchSubmitResult partial,
                               engine().SubmitBatch(kTeam, {bad, LeafSpec()}));
  json::object p = BatchCreationResponseToJson(partial);
  EXPECT_THAT(p, ConformsTo("BatchCreationResponse"));
  EXPECT_EQ(p.at("status"), "partial");
  ASSERT_THAT(p.at("errors").as_array(), SizeIs(1));
  EXPECT_EQ(p.at("errors").at(0).at("index"), 0);
  EXPECT_EQ(p.at("errors").at(0).at("errorCode"), "invalid_argument");
  EXPECT_THAT(std::string(p.at("errors").at(0).at("error").as_string()), HasSubstr("tags[0]"));
  EXPECT_EQ(p.at("jobs").at(0).at("index"), 1);

  CASCADE_ASSERT_OK_AND_ASSIGN(BatchSubmitResult error, engine().SubmitBatch(kTeam, {bad}));
  json::object e = BatchCreationResponseToJson(error);
  EXPECT_THAT(e, ConformsTo("BatchCreationResponse"));
  EXPECT_EQ(e.at("status"), "error");
  EXPECT_EQ(e.at("jobs"), json::array());
  EXPECT_EQ(e.at("successCount"), 0);
}

TEST_F(WireTest, BatchStatusResponseCountsAndShowsStatsOfEndedJobs) {
  std::vector<JobSpec> specs = {Tagged("b-finish"), Tagged("b-fail"), Tagged("b-wait")};
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchSubmitResult batch, engine().SubmitBatch(kTeam, specs));
  ASSERT_THAT(RenderAndFinish("b-finish"), IsOk());
  ASSERT_THAT(RenderAndFail("b-fail"), IsOk());
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchView view, engine().GetBatch(kTeam, batch.batch_id));

  json::object o = BatchStatusResponseToJson(view);
  EXPECT_THAT(o, ConformsTo("BatchStatusResponse"));
  EXPECT_EQ(o.at("batchId"), json::value(batch.batch_id.ToString()));
  EXPECT_EQ(o.at("status"), "processing");
  const json::object& stats = o.at("stats").as_object();
  EXPECT_EQ(stats.at("total"), 3);
  EXPECT_EQ(stats.at("finished"), 1);
  EXPECT_EQ(stats.at("error"), 1);
  EXPECT_EQ(stats.at("pending"), 1);
  EXPECT_EQ(stats.at("byState"),
            Parse(R"({"queued":1,"pending":0,"render:dorender":0,"finished":1,"error":1,)"
                  R"("manually_cancelled":0})"));
  const json::array& jobs = o.at("jobs").as_array();
  ASSERT_THAT(jobs, SizeIs(3));
  EXPECT_EQ(jobs[0].at("status"), "finished");
  EXPECT_TRUE(jobs[0].as_object().contains("stats"));
  EXPECT_EQ(jobs[1].at("status"), "error");
  EXPECT_EQ(jobs[1].at("stats").at("error"), "render crashed");
  EXPECT_EQ(jobs[2].at("status"), "queued");
  EXPECT_FALSE(jobs[2].as_object().contains("stats"));
  EXPECT_EQ(jobs[2].at("index"), 2);
  EXPECT_EQ(jobs[2].at("outputUrl"), json::value(view.jobs[2].job.output_url.str()));

  ASSERT_THAT(engine().Cancel(kTeam, view.jobs[2].job.id), IsOk());
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchView ended, engine().GetBatch(kTeam, batch.batch_id));
  json::object e = BatchStatusResponseToJson(ended);
  EXPECT_THAT(e, ConformsTo("BatchStatusResponse"));
  EXPECT_EQ(e.at("status"), "finished");
  EXPECT_EQ(e.at("stats").at("error"), 2);  // error + manually_cancelled
  EXPECT_EQ(e.at("stats").at("pending"), 0);
}

TEST_F(WireTest, BatchCancellationResponseReportsEachTopLevelJob) {
  std::vector<JobSpec> specs = {Tagged("c-done"), Tagged("c-wait"), Tagged("c-wait2")};
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchSubmitResult batch, engine().SubmitBatch(kTeam, specs));
  ASSERT_THAT(RenderAndFinish("c-done"), IsOk());
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchCancelResult result,
                               engine().CancelBatch(kTeam, batch.batch_id));
  json::object o = BatchCancellationResponseToJson(result);
  EXPECT_THAT(o, ConformsTo("BatchCancellationResponse"));
  EXPECT_EQ(o.at("status"), "partial");
  EXPECT_EQ(o.at("totalJobs"), 3);
  EXPECT_EQ(o.at("cancelledCount"), 2);
  EXPECT_EQ(o.at("skippedCount"), 1);
  const json::array& jobs = o.at("jobs").as_array();
  ASSERT_THAT(jobs, SizeIs(3));
  EXPECT_EQ(jobs[0].at("result"), "skipped");
  EXPECT_EQ(jobs[0].at("status"), "finished");
  EXPECT_THAT(std::string(jobs[0].at("reason").as_string()), HasSubstr("finished"));
  EXPECT_EQ(jobs[1].at("result"), "cancelled");
  EXPECT_EQ(jobs[1].at("status"), "manually_cancelled");
  EXPECT_FALSE(jobs[1].as_object().contains("reason"));
  const json::array& cancelled = o.at("cancelledJobs").as_array();
  ASSERT_THAT(cancelled, SizeIs(2));
  for (const json::value& job : cancelled) {
    EXPECT_THAT(job.as_object(), ConformsCompletelyTo("Job"));
  }
}

TEST(ErrorWireTest, ErrorResponseCarriesMessageAndCode) {
  json::object o = ErrorResponseToJson(absl::NotFoundError("job 01J is not known"));
  EXPECT_THAT(o, ConformsTo("ErrorResponse"));
  EXPECT_EQ(o.at("error"), "job 01J is not known");
  EXPECT_EQ(o.at("errorCode"), "not_found");
}

TEST(ErrorWireTest, ValidationErrorResponseListsEachFieldViolation) {
  absl::Status status = InvalidArgumentWithViolations(
      "invalid job spec", {{"template.id", "is required"}, {"assets[2].type", "is required"}});
  json::object o = ValidationErrorResponseToJson(status);
  EXPECT_THAT(o, ConformsTo("ValidationErrorResponse"));
  EXPECT_EQ(o.at("errorCode"), "invalid_argument");
  EXPECT_EQ(o.at("details"), Parse(R"([{"field":"template.id","message":"is required"},)"
                                   R"({"field":"assets[2].type","message":"is required"}])"));
  EXPECT_THAT(std::string(o.at("error").as_string()), HasSubstr("invalid job spec"));

  json::object plain = ValidationErrorResponseToJson(absl::InvalidArgumentError("bad"));
  EXPECT_EQ(plain.at("details"), json::array());
  EXPECT_THAT(plain, ConformsTo("ValidationErrorResponse"));
}

TEST(ErrorWireTest, ParseErrorsBecomeValidationErrorResponses) {
  absl::StatusOr<JobSpec> spec = ParseJobCreation(R"({"template": {}, "priority": "high"})");
  ASSERT_FALSE(spec.ok());
  json::object o = ValidationErrorResponseToJson(spec.status());
  EXPECT_THAT(o, ConformsTo("ValidationErrorResponse"));
  EXPECT_EQ(o.at("details"),
            Parse(R"([{"field":"template.id","message":"is required"},)"
                  R"({"field":"priority","message":"must be an integer, got a string"}])"));
}

// ---- WriteJson --------------------------------------------------------------------

TEST(WriteJsonTest, NumbersAreShortestDecimals) {
  json::array a{0.0,  100.0, 37.5, 22.304,      0.1,
                -2.5, 1e300, 1e-7, int64_t{-3}, uint64_t{18446744073709551615u}};
  EXPECT_EQ(WriteJson(a), "[0,100,37.5,22.304,0.1,-2.5,1e+300,1e-07,-3,18446744073709551615]");
  EXPECT_THAT(Parse(WriteJson(a)), JsonEquals(a));
}

TEST(WriteJsonTest, NonFiniteNumbersAreNull) {
  json::array a{std::numeric_limits<double>::infinity(), std::nan("")};
  EXPECT_EQ(WriteJson(a), "[null,null]");
}

TEST(WriteJsonTest, StringsAreEscaped) {
  json::value v = json::string_view("q\"b\\n\n\t\x01\x1f/\x7f");
  EXPECT_EQ(WriteJson(v), R"("q\"b\\n\n\t\u0001\u001f/)"
                          "\x7f\"");
  EXPECT_EQ(Parse(WriteJson(v)), v);
}

TEST(WriteJsonTest, ValidUtf8IsKeptAndInvalidBytesBecomeReplacementCharacters) {
  json::value ok = json::string_view("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x8E\xAC");
  EXPECT_EQ(WriteJson(ok), "\"h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x8E\xAC\"");
  // A stray continuation byte, a truncated sequence, an overlong form, a
  // surrogate, and a byte that never starts UTF-8.
  json::value bad = json::string_view(
      "a\x80"
      "b\xE2\x82"
      "c\xC0\xAF"
      "d\xED\xA0\x80"
      "e\xFF");
  const std::string text = WriteJson(bad);
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(text, "\"a" + fffd + "b" + fffd + fffd + "c" + fffd + fffd + "d" + fffd + fffd + fffd +
                      "e" + fffd + "\"");
  EXPECT_THAT(ParseJsonBody(text), IsOk()) << "the output must be valid JSON";
}

TEST(WriteJsonTest, ObjectsKeepKeyOrderAndNest) {
  json::value v = Parse(R"({"b":1,"a":[true,false,null,{"c":"d"}],"e":{}})");
  EXPECT_EQ(WriteJson(v), R"({"b":1,"a":[true,false,null,{"c":"d"}],"e":{}})");
  std::string out = "x";
  AppendJson(v.at("a").as_array(), &out);
  EXPECT_EQ(out, R"(x[true,false,null,{"c":"d"}])");
}

TEST(WriteJsonTest, ErrorMessagesWithInvalidUtf8StillMakeValidJson) {
  json::object o = ErrorResponseToJson(absl::InvalidArgumentError("tag 'x\xFF' is bad"));
  EXPECT_THAT(ParseJsonBody(WriteJson(o)), IsOk());
}

// ---- JsonWriter --------------------------------------------------------------------

// `v` written through a JsonWriter, value by value (unsigned integers up to
// INT64_MAX: the writer's integers are signed).
void WriteThrough(const json::value& v, JsonWriter& w) {
  switch (v.kind()) {
    case json::kind::null:
      w.Null();
      return;
    case json::kind::bool_:
      w.Bool(v.get_bool());
      return;
    case json::kind::int64:
      w.Integer(v.get_int64());
      return;
    case json::kind::uint64:
      w.Integer(static_cast<int64_t>(v.get_uint64()));
      return;
    case json::kind::double_:
      w.Number(v.get_double());
      return;
    case json::kind::string:
      w.String(std::string_view(v.get_string().data(), v.get_string().size()));
      return;
    case json::kind::array:
      w.BeginArray();
      for (const json::value& item : v.get_array()) WriteThrough(item, w);
      w.EndArray();
      return;
    case json::kind::object:
      w.BeginObject();
      for (const json::key_value_pair& member : v.get_object()) {
        w.Key(std::string_view(member.key().data(), member.key().size()));
        WriteThrough(member.value(), w);
      }
      w.EndObject();
      return;
  }
}

std::string WrittenThrough(const json::value& v) {
  std::string text;
  JsonWriter w(&text);
  WriteThrough(v, w);
  return text;
}

TEST(JsonWriterTest, WritesWhatWriteJsonWritesForTheSameValue) {
  json::object row;
  row["team"] = "studio \"north\"\n";
  row["created"] = int64_t{1'700'000'000'123};
  row["progress"] = static_cast<double>(33.3f);
  row["negative"] = std::numeric_limits<int64_t>::min();
  row["zero"] = -0.0;
  row["none"] = std::nan("");
  row["tags"] = json::array{"a", "h\xC3\xA9", json::object{{"base64", "/w=="}}};
  row["empty"] = json::object();
  row["nothing"] = json::array();
  row["headers"] = json::array{json::array{"X-A", "1"}, json::array{"X-B", "bad \xFF"}};
  row["webhook"] = json::object{{"url", "http://h/"}, {"custom", true}, {"data", nullptr}};
  const json::value v = row;
  EXPECT_EQ(WrittenThrough(v), WriteJson(v));
  std::string appended = "x";
  JsonWriter w(&appended);
  w.BeginArray();
  w.EndArray();
  EXPECT_EQ(appended, "x[]");
}

// Random values: nesting, every kind, strings of random bytes (valid and
// invalid UTF-8, controls, quotes).
json::value RandomValue(std::mt19937_64& random, int depth) {
  const int kind = static_cast<int>(random() % (depth < 4 ? 8 : 6));
  auto text = [&] {
    std::string s(random() % 12, '\0');
    for (char& c : s)
      c = static_cast<char>(random() % 4 == 0 ? random() % 256 : 'a' + random() % 26);
    return json::string(s.data(), s.size());
  };
  switch (kind) {
    case 0:
      return nullptr;
    case 1:
      return random() % 2 == 0;
    case 2:
      return static_cast<int64_t>(random());
    case 3: {
      const uint64_t bits = random();
      double d;
      std::memcpy(&d, &bits, sizeof d);
      return d;
    }
    case 4:
      return static_cast<double>(random() % 100'000) / 8.0;
    case 5:
      return text();
    case 6: {
      json::array a;
      for (uint64_t i = random() % 5; i > 0; --i) a.push_back(RandomValue(random, depth + 1));
      return a;
    }
    default: {
      json::object o;
      for (uint64_t i = random() % 5; i > 0; --i) {
        const json::string key = text();
        o[key] = RandomValue(random, depth + 1);
      }
      return o;
    }
  }
}

TEST(JsonWriterTest, RandomValuesAreWrittenAsWriteJsonWritesThem) {
  std::mt19937_64 random(7);
  for (int i = 0; i < 2'000; ++i) {
    const json::value v = RandomValue(random, 0);
    ASSERT_EQ(WrittenThrough(v), WriteJson(v)) << "value " << i;
  }
}

// ---- ParseJobCreation --------------------------------------------------------------

// From seeds/002 (job details: "configure a webhook on the job").
constexpr char kSeedWebhookJob[] = R"({
  "template": { "id": "YOUR_TEMPLATE_ID", "composition": "main" },
  "webhook": {
    "url": "https://yourdomain.com/webhooks/render-complete"
  }
})";

// The seed with its placeholder filled in, as a user sends it.
std::string SeedWebhookJobWithATemplate() {
  std::string body = kSeedWebhookJob;
  body.replace(body.find("YOUR_TEMPLATE_ID"), 16, kTemplate);
  return body;
}

TEST(ParseJobCreationTest, SeedBodyIsRefusedForItsPlaceholderAsTheDocumentRefusesIt) {
  EXPECT_THAT(ParseJobCreation(kSeedWebhookJob),
              HasViolation("template.id", "'YOUR_TEMPLATE_ID' does not match ^[A-Z0-9]{26}$"));
}

TEST(ParseJobCreationTest, SeedBodyParses) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobSpec spec, ParseJobCreation(SeedWebhookJobWithATemplate()));
  EXPECT_EQ(spec.template_id, kTemplate);
  EXPECT_EQ(spec.composition, "main");
  ASSERT_TRUE(spec.webhook.has_value());
  EXPECT_EQ(spec.webhook->url, "https://yourdomain.com/webhooks/render-complete");
  EXPECT_EQ(spec.webhook->method, HttpMethod::kPost);  // the default
  EXPECT_THAT(spec.webhook->headers, IsEmpty());
  EXPECT_EQ(spec.webhook->data, "");
  EXPECT_FALSE(spec.webhook->custom);
  EXPECT_EQ(spec.total_assets, 0);
  EXPECT_THAT(spec.children, IsEmpty());
  EXPECT_EQ(spec.payload,
            R"({"template":{"id":"01HZX3C5Y5V7E8W3J6T9Q2M1NB","composition":"main"},)"
            R"("webhook":{"url":"https://yourdomain.com/webhooks/render-complete"}})");
}

TEST(ParseJobCreationTest, SeedBodiesConformToTheirSchemas) {
  // Checks the validator on the published examples as much as the seeds. The
  // seed's template id is a placeholder, which the schema's pattern refuses
  // (and so does the parser, above); filled in, the body conforms.
  EXPECT_THAT(Api().Validate(Parse(kSeedWebhookJob), "JobCreation"),
              ElementsAre(R"($.template.id: "YOUR_TEMPLATE_ID" does not match ^[A-Z0-9]{26}$)"));
  EXPECT_THAT(Parse(SeedWebhookJobWithATemplate()).as_object(), ConformsTo("JobCreation"));
  // seeds/002: what a webhook receives.
  EXPECT_THAT(Parse(R"({
    "id": "01JTRDF7HCR8QAHYW8GPCP4S9Y",
    "status": "finished",
    "outputUrl": "https://nx1-outputs-eu.nexrender.com/.../job.mp4",
    "stats": {
      "finishedAt": "2025-08-14T08:01:10.304Z",
      "renderDuration": 22.304
    }
  })")
                  .as_object(),
              ConformsTo("Job"));
}

constexpr char kFullJob[] = R"({
  "template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1NB", "composition": "edit", "name": "ignored"},
  "preview": false,
  "fonts": ["Inter.ttf"],
  "assets": [
    {"type": "image", "src": "https://cdn.example.com/a.png", "layerName": "logo",
     "conform": true, "params": {"layerName": ["a", "b"]}},
    {"type": "job", "layerName": "intro",
     "template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1NC", "composition": "intro"},
     "tags": ["gpu"], "priority": 3,
     "assets": [
       {"type": "job", "layerName": "logo-anim",
        "template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1ND", "composition": "logo"}},
       {"type": "text", "value": "Hello"}
     ],
     "settings": {"type": "video", "frames": [0, 120]}},
    {"type": "job", "layerName": "outro",
     "template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1NE", "composition": "outro"},
     "onPrerequisiteFailure": "ignore"}
  ],
  "settings": {"type": "video", "quality": "full", "codec": "h264", "engine": "ae2026",
               "frames": 10},
  "upload": {"prefix": "renders/", "outputUrl": "s3://renders/{id}.mp4", "provider": "s3",
             "params": {"region": "eu-west-1", "bucket": "renders", "accessKeyId": "AK",
                        "accessKeySecret": "SK", "acl": "private"}},
  "webhook": {"url": "https://hooks.example.com/render", "method": "PUT",
              "headers": {"X-Token": "t0k", "X-Trace": "1"},
              "data": {"project": 42, "tags": ["a"], "nested": {"ok": true}},
              "custom": true},
  "tags": ["studio-a", "4k"],
  "priority": 10,
  "dependsOn": ["01JTRDF7HCR8QAHYW8GPCP4S9Y"],
  "onPrerequisiteFailure": "fail",
  "somethingNexrenderAdds": {"anything": [1, 2, 3]}
})";

TEST(ParseJobCreationTest, EveryModelledFieldIsRead) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobSpec spec, ParseJobCreation(kFullJob));
  EXPECT_EQ(spec.template_id, kTemplate);
  EXPECT_EQ(spec.composition, "edit");
  EXPECT_EQ(spec.total_assets, 3);
  EXPECT_EQ(spec.output_url, "s3://renders/{id}.mp4");
  EXPECT_THAT(spec.tags, ElementsAre("studio-a", "4k"));
  EXPECT_EQ(spec.priority, 10);
  ASSERT_THAT(spec.depends_on, SizeIs(1));
  EXPECT_EQ(spec.depends_on[0].ToString(), "01JTRDF7HCR8QAHYW8GPCP4S9Y");
  EXPECT_EQ(spec.on_prerequisite_failure, PrerequisiteFailurePolicy::kFail);

  ASSERT_TRUE(spec.webhook.has_value());
  EXPECT_EQ(spec.webhook->url, "https://hooks.example.com/render");
  EXPECT_EQ(spec.webhook->method, HttpMethod::kPut);
  using Header = std::pair<std::string, std::string>;
  EXPECT_THAT(spec.webhook->headers, ElementsAre(Header{"X-Token", "t0k"}, Header{"X-Trace", "1"}));
  EXPECT_EQ(spec.webhook->data, R"({"project":42,"tags":["a"],"nested":{"ok":true}})");
  EXPECT_TRUE(spec.webhook->custom);

  // Nested job assets, recursively, in asset order.
  ASSERT_THAT(spec.children, SizeIs(2));
  const JobSpec& intro = spec.children[0];
  EXPECT_EQ(intro.template_id, "01HZX3C5Y5V7E8W3J6T9Q2M1NC");
  EXPECT_EQ(intro.composition, "intro");
  EXPECT_THAT(intro.tags, ElementsAre("gpu"));
  EXPECT_EQ(intro.priority, 3);
  EXPECT_EQ(intro.total_assets, 2);
  ASSERT_THAT(intro.children, SizeIs(1));
  EXPECT_EQ(intro.children[0].composition, "logo");
  EXPECT_EQ(intro.children[0].payload,
            R"({"type":"job","layerName":"logo-anim",)"
            R"("template":{"id":"01HZX3C5Y5V7E8W3J6T9Q2M1ND","composition":"logo"}})");
  const JobSpec& outro = spec.children[1];
  EXPECT_EQ(outro.composition, "outro");
  EXPECT_EQ(outro.on_prerequisite_failure, PrerequisiteFailurePolicy::kIgnore);
  EXPECT_THAT(outro.children, IsEmpty());
  EXPECT_FALSE(outro.webhook.has_value());

  // The payload is the whole body, unknown fields included, as WriteJson writes it.
  EXPECT_EQ(spec.payload, WriteJson(Parse(kFullJob)));
  EXPECT_THAT(spec.payload, HasSubstr(R"("somethingNexrenderAdds":{"anything":[1,2,3]})"));
}

TEST(ParseJobCreationTest, FullBodyConformsToTheJobCreationSchema) {
  // Our example body is a valid Nexrender body (the extensions are allowed
  // as additional properties).
  EXPECT_THAT(Parse(kFullJob).as_object(), ConformsTo("JobCreation"));
}

TEST(ParseJobCreationTest, PayloadIsAFixedPoint) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobSpec spec, ParseJobCreation(kFullJob));
  CASCADE_ASSERT_OK_AND_ASSIGN(JobSpec again, ParseJobCreation(spec.payload));
  EXPECT_EQ(again.payload, spec.payload);
  EXPECT_EQ(again.children.size(), spec.children.size());
  EXPECT_EQ(again.webhook->data, spec.webhook->data);
}

TEST(ParseJobCreationTest, TemplateSrcComesWithTheIdTheDocumentRequires) {
  EXPECT_THAT(ParseJobCreation(R"({"template": {"src": "https://x/t.aep", "composition": null}})"),
              HasViolation("template.id", "is required"));
  CASCADE_ASSERT_OK_AND_ASSIGN(
      JobSpec spec,
      ParseJobCreation(absl::StrCat(R"({"template": {"id": ")", kTemplate,
                                    R"(", "src": "https://x/t.aep", "composition": null}})")));
  EXPECT_EQ(spec.template_id, kTemplate);
  EXPECT_EQ(spec.composition, "");
}

TEST(ParseJobCreationTest, LastOfARepeatedKeyWins) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobSpec spec,
                               ParseJobCreation(With(R"("priority": 1, "priority": 2)")));
  EXPECT_EQ(spec.priority, 2);
}

TEST(ParseJobCreationTest, ALeadingByteOrderMarkIsSkipped) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobSpec spec,
                               ParseJobCreation(absl::StrCat("\xEF\xBB\xBF", With("\"x\": 1"))));
  EXPECT_EQ(spec.template_id, kTemplate);
}

TEST(ParseJobCreationTest, IntegersMayHaveAZeroFraction) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobSpec a, ParseJobCreation(With(R"("priority": 5.0)")));
  EXPECT_EQ(a.priority, 5);
  CASCADE_ASSERT_OK_AND_ASSIGN(JobSpec b, ParseJobCreation(With(R"("priority": -2e3)")));
  EXPECT_EQ(b.priority, -2000);
  CASCADE_ASSERT_OK_AND_ASSIGN(JobSpec c, ParseJobCreation(With(R"("priority": 2147483647)")));
  EXPECT_EQ(c.priority, std::numeric_limits<int32_t>::max());
}

// One way a body can be wrong, and the violation it must produce.
struct BadBody {
  const char* name;
  std::string body;
  const char* field;
  const char* message;
};

void PrintTo(const BadBody& b, std::ostream* os) { *os << b.name; }

class ParseJobCreationErrorTest : public ::testing::TestWithParam<BadBody> {};

TEST_P(ParseJobCreationErrorTest, IsRefusedNamingTheField) {
  absl::StatusOr<JobSpec> spec = ParseJobCreation(GetParam().body);
  EXPECT_THAT(spec, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(spec, HasViolation(GetParam().field, GetParam().message));
}

std::string Nested(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

INSTANTIATE_TEST_SUITE_P(
    Bodies, ParseJobCreationErrorTest,
    ::testing::Values(
        // The body itself.
        BadBody{"Empty", "", "body", "the body is empty"},
        BadBody{"Blank", " \r\n\t", "body", "the body is empty"},
        BadBody{"Malformed", R"({"template": })", "body", "syntax error at byte 13"},
        BadBody{"TrailingComma", R"({"template": {"id": "t"},})", "body", "syntax error"},
        BadBody{"Truncated", R"({"template": {"id": "t")", "body", "ends early"},
        BadBody{"TrailingData", R"({"template": {"id": "t"}} {})", "body",
                "unexpected data after the JSON value at byte 26"},
        BadBody{"Array", "[]", "body", "must be a JSON object, got an array"},
        BadBody{"String", R"("job")", "body", "must be a JSON object, got a string"},
        BadBody{"Number", "42", "body", "must be a JSON object, got a number"},
        BadBody{"Null", "null", "body", "must be a JSON object, got null"},
        BadBody{"TooDeep", With(absl::StrCat(R"("x": )", Nested(kMaxJsonDepth))), "body",
                "nested deeper than 64 levels"},
        BadBody{"InvalidUtf8", "{\"template\": {\"id\": \"t\xFF\"}}", "body",
                "invalid UTF-8 at byte 22"},
        BadBody{"TruncatedUtf8", "{\"template\": {\"id\": \"\xE2\x82\"}}", "body",
                "invalid UTF-8 at byte 21"},
        BadBody{"LoneSurrogateEscape", R"({"template": {"id": "\ud800"}})", "body", "syntax error"},
        BadBody{"Comment", "{\"template\": {\"id\": \"t\"} /* c */}", "body", "syntax error"},
        BadBody{"NumberBeyondDouble", With(R"("priority": 1e400)"), "priority",
                "number out of range"},
        BadBody{"NumberBeyondDoubleDeep", With(R"("x": {"y": [0, -1e999]})"), "x.y[1]",
                "number out of range"},
        // template
        BadBody{"NoTemplate", R"({"assets": []})", "template", "is required"},
        BadBody{"TemplateNotObject", R"({"template": "t"})", "template",
                "must be an object, got a string"},
        BadBody{"TemplateWithoutId", R"({"template": {"composition": "main"}})", "template.id",
                "is required"},
        BadBody{"TemplateIdNumber", R"({"template": {"id": 5}})", "template.id",
                "must be a string, got a number"},
        BadBody{"TemplateIdNull", R"({"template": {"id": null}})", "template.id",
                "must be a string, got null"},
        BadBody{"TemplateSrcNotString", R"({"template": {"src": 1}})", "template.src",
                "must be a string"},
        BadBody{"CompositionNotString",
                R"({"template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1NB", "composition": 1}})",
                "template.composition", "must be a string or null, got a number"},
        // priority
        BadBody{"PriorityString", With(R"("priority": "high")"), "priority",
                "must be an integer, got a string"},
        BadBody{"PriorityFraction", With(R"("priority": 2.5)"), "priority",
                "must be an integer, got 2.5"},
        BadBody{"PriorityAboveInt32", With(R"("priority": 2147483648)"), "priority",
                "must be an integer from -2147483648 to 2147483647"},
        BadBody{"PriorityBelowInt32", With(R"("priority": -2147483649)"), "priority",
                "must be an integer from -2147483648 to 2147483647"},
        BadBody{"PriorityAboveInt64", With(R"("priority": 18446744073709551615)"), "priority",
                "must be an integer from"},
        BadBody{"PriorityBeyond64Bits", With(R"("priority": 123456789012345678901234567890)"),
                "priority", "must be an integer from"},
        BadBody{"PriorityNull", With(R"("priority": null)"), "priority",
                "must be an integer, got null"},
        // tags, dependsOn, onPrerequisiteFailure
        BadBody{"TagsNotArray", With(R"("tags": "a,b")"), "tags", "must be an array, got a string"},
        BadBody{"TagNotString", With(R"("tags": ["a", 7])"), "tags[1]",
                "must be a string, got a number"},
        BadBody{"DependsOnNotArray", With(R"("dependsOn": "01JTRDF7HCR8QAHYW8GPCP4S9Y")"),
                "dependsOn", "must be an array"},
        BadBody{"DependsOnNotUlid", With(R"("dependsOn": ["01JTRDF7HCR8QAHYW8GPCP4S9Y", "nope"])"),
                "dependsOn[1]", "nope"},
        BadBody{"DependsOnNumber", With(R"("dependsOn": [1])"), "dependsOn[0]",
                "must be a job id (string), got a number"},
        BadBody{"UnknownPolicy", With(R"("onPrerequisiteFailure": "skip")"),
                "onPrerequisiteFailure", "'skip' is not one of: fail, ignore"},
        // Nexrender fields
        BadBody{"PreviewNotBool", With(R"("preview": "no")"), "preview",
                "must be a boolean, got a string"},
        BadBody{"FontNotString", With(R"("fonts": [{}])"), "fonts[0]",
                "must be a string, got an object"},
        BadBody{"SettingsNotObject", With(R"("settings": [])"), "settings",
                "must be an object, got an array"},
        BadBody{"UnknownSettingsType", With(R"("settings": {"type": "gif"})"), "settings.type",
                "'gif' is not one of: video, image, aep"},
        BadBody{"UnknownQuality", With(R"("settings": {"quality": "ultra"})"), "settings.quality",
                "is not one of: draft, full"},
        BadBody{"UnknownEngine", With(R"("settings": {"engine": "ae2020"})"), "settings.engine",
                "is not one of: ae2025, ae2026"},
        BadBody{"FrameRangeOfOne", With(R"("settings": {"frames": [1]})"), "settings.frames",
                "a frame range is [start, end], got 1 number(s)"},
        BadBody{"NegativeFrame", With(R"("settings": {"frames": -1})"), "settings.frames",
                "must be an integer from 0"},
        BadBody{"FrameInRangeNotInteger", With(R"("settings": {"frames": [0, "9"]})"),
                "settings.frames[1]", "must be an integer, got a string"},
        BadBody{"FramesString", With(R"("settings": {"frames": "1-9"})"), "settings.frames",
                "must be an integer or an array of integers"},
        BadBody{"CodecNotString", With(R"("settings": {"codec": 264})"), "settings.codec",
                "must be a string"},
        BadBody{"UploadNotObject", With(R"("upload": "s3://x")"), "upload", "must be an object"},
        BadBody{"OutputUrlNotString", With(R"("upload": {"outputUrl": 5})"), "upload.outputUrl",
                "must be a string, got a number"},
        BadBody{"UnknownProvider", With(R"("upload": {"provider": "gcs"})"), "upload.provider",
                "'gcs' is not one of: s3"},
        BadBody{"UploadParamsWithoutBucket",
                With(R"("upload": {"params": {"region": "r", "accessKeyId": "a",
                                               "accessKeySecret": "s"}})"),
                "upload.params.bucket", "is required"},
        // assets
        BadBody{"AssetsNotArray", With(R"("assets": {})"), "assets",
                "must be an array, got an object"},
        BadBody{"AssetNotObject", With(R"("assets": ["logo.png"])"), "assets[0]",
                "must be an object, got a string"},
        BadBody{"AssetWithoutType", With(R"("assets": [{"type": "image"}, {"type": "audio"}, {}])"),
                "assets[2].type", "is required"},
        BadBody{"AssetTypeNotString", With(R"("assets": [{"type": 3}])"), "assets[0].type",
                "must be a string, got a number"},
        BadBody{"AssetConformNotBool", With(R"("assets": [{"type": "video", "conform": 1}])"),
                "assets[0].conform", "must be a boolean"},
        BadBody{"AssetLayerNamesEmpty",
                With(R"("assets": [{"type": "function", "params": {"layerName": []}}])"),
                "assets[0].params.layerName", "must not be an empty array"},
        BadBody{"AssetLayerNameNumber",
                With(R"("assets": [{"type": "function", "params": {"layerName": ["a", 2]}}])"),
                "assets[0].params.layerName[1]", "must be a string"},
        BadBody{
            "NestedJobWithoutLayerName",
            With(
                R"("assets": [{"type": "job", "template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1NC", "composition": "x"}}])"),
            "assets[0].layerName", "is required"},
        BadBody{
            "NestedJobWithoutComposition",
            With(
                R"("assets": [{"type": "job", "layerName": "l", "template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1NC"}}])"),
            "assets[0].template.composition", "is required"},
        BadBody{"NestedJobWithoutTemplate",
                With(R"("assets": [{"type": "job", "layerName": "l"}])"), "assets[0].template",
                "is required"},
        BadBody{"NestedJobSettingsTypeAep", With(R"("assets": [{"type": "job", "layerName": "l",
                    "template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1NC", "composition": "x"}, "settings": {"type": "aep"}}])"),
                "assets[0].settings.type", "'aep' is not one of: video, image"},
        BadBody{"DeeplyNestedJobWithoutId",
                With(R"("assets": [{"type": "image"}, {"type": "job", "layerName": "l",
                    "template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1NC", "composition": "x"},
                    "assets": [{"type": "text"}, {"type": "job", "layerName": "m",
                                "template": {"composition": "y"}}]}])"),
                "assets[1].assets[1].template.id", "is required"},
        BadBody{"NestedJobBadTag", With(R"("assets": [{"type": "job", "layerName": "l",
                    "template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1NC", "composition": "x"}, "tags": [false]}])"),
                "assets[0].tags[0]", "must be a string, got a boolean"},
        // webhook
        BadBody{"WebhookNotObject", With(R"("webhook": "https://x")"), "webhook",
                "must be an object, got a string"},
        BadBody{"WebhookWithoutUrl", With(R"("webhook": {"method": "POST"})"), "webhook.url",
                "is required"},
        BadBody{"WebhookUrlNotString", With(R"("webhook": {"url": ["https://x"]})"), "webhook.url",
                "must be a string, got an array"},
        BadBody{"WebhookUnknownMethod",
                With(R"("webhook": {"url": "https://x", "method": "PATCH"})"), "webhook.method",
                "'PATCH' is not one of: GET, POST, PUT, DELETE"},
        BadBody{"WebhookLowerCaseMethod",
                With(R"("webhook": {"url": "https://x", "method": "post"})"), "webhook.method",
                "'post' is not one of"},
        BadBody{"WebhookMethodNull", With(R"("webhook": {"url": "https://x", "method": null})"),
                "webhook.method", "must be a string, got null"},
        BadBody{"WebhookHeadersArray", With(R"("webhook": {"url": "https://x", "headers": []})"),
                "webhook.headers", "must be an object, got an array"},
        BadBody{"WebhookHeaderNotString",
                With(R"("webhook": {"url": "https://x", "headers": {"X-A": "1", "X-B": 2}})"),
                "webhook.headers.X-B", "must be a string, got a number"},
        BadBody{"WebhookDataNotObject", With(R"("webhook": {"url": "https://x", "data": "d"})"),
                "webhook.data", "must be an object, got a string"},
        BadBody{"WebhookCustomNotBool",
                With(R"("webhook": {"url": "https://x", "custom": "true"})"), "webhook.custom",
                "must be a boolean, got a string"},
        // The document's patterns and closed objects.
        BadBody{"TemplateIdNotAUlid", R"({"template": {"id": "not-a-ulid"}})", "template.id",
                "'not-a-ulid' does not match ^[A-Z0-9]{26}$"},
        BadBody{"TemplateIdLowerCase", R"({"template": {"id": "01hzx3c5y5v7e8w3j6t9q2m1nb"}})",
                "template.id", "does not match"},
        BadBody{"TemplateIdOneShort", R"({"template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1N"}})",
                "template.id", "does not match"},
        BadBody{"TemplateIdEmpty", R"({"template": {"id": ""}})", "template.id", "does not match"},
        BadBody{"TemplateSrcWithoutId", R"({"template": {"src": "https://x/t.aep"}})",
                "template.id", "is required"},
        BadBody{"NestedTemplateIdNotAUlid", With(R"("assets": [{"type": "job", "layerName": "l",
                                    "template": {"id": "intro", "composition": "x"}}])"),
                "assets[0].template.id", "'intro' does not match"},
        BadBody{"SettingsUnknownKey", With(R"("settings": {"quality": "full", "foo": 1})"),
                "settings.foo",
                "is not a field of settings (it has only type, frames, quality, codec, engine)"},
        BadBody{"SettingsPresetOfAJoin", With(R"("settings": {"preset": "mp4"})"),
                "settings.preset", "is not a field of settings"},
        BadBody{"UploadUnknownKey", With(R"("upload": {"outputUrl": "s3://x", "region": "eu"})"),
                "upload.region", "is not a field of upload"},
        BadBody{"UploadParamsUnknownKey",
                With(R"("upload": {"params": {"region": "r", "bucket": "b", "accessKeyId": "a",
                                               "accessKeySecret": "s", "sessionToken": "t"}})"),
                "upload.params.sessionToken", "is not a field of upload.params"},
        BadBody{"FrameRangeOfThree", With(R"("settings": {"frames": [0, 1, 2]})"),
                "settings.frames", "a frame range is [start, end], got 3 number(s)"},
        BadBody{"NegativeFrameInRange", With(R"("settings": {"frames": [-1, 5]})"),
                "settings.frames[0]", "must be an integer from 0"},
        // The extensions of contract §14.
        BadBody{"MaxAttemptsZero", With(R"("maxAttempts": 0)"), "maxAttempts",
                "must be an integer from 1 to 20"},
        BadBody{"MaxAttemptsAboveTwenty", With(R"("maxAttempts": 21)"), "maxAttempts",
                "must be an integer from 1 to 20"},
        BadBody{"MaxAttemptsFraction", With(R"("maxAttempts": 2.5)"), "maxAttempts",
                "must be an integer, got 2.5"},
        BadBody{"MaxAttemptsString", With(R"("maxAttempts": "3")"), "maxAttempts",
                "must be an integer, got a string"},
        BadBody{"RetryBackoffNegative", With(R"("retryBackoffSeconds": -1)"), "retryBackoffSeconds",
                "must be a number of seconds from 0 to 86400"},
        BadBody{"RetryBackoffOverADay", With(R"("retryBackoffSeconds": 86400.5)"),
                "retryBackoffSeconds", "must be a number of seconds from 0 to 86400"},
        BadBody{"RetryBackoffNull", With(R"("retryBackoffSeconds": null)"), "retryBackoffSeconds",
                "must be a number, got null"},
        BadBody{"TimeoutZero", With(R"("timeoutSeconds": 0)"), "timeoutSeconds",
                "must be a number of seconds above 0 and at most 604800"},
        BadBody{"TimeoutTooSmallToBeADuration", With(R"("timeoutSeconds": 1e-300)"),
                "timeoutSeconds", "above 0"},
        BadBody{"TimeoutOverAWeek", With(R"("timeoutSeconds": 604801)"), "timeoutSeconds",
                "at most 604800"},
        BadBody{"TimeoutString", With(R"("timeoutSeconds": "1h")"), "timeoutSeconds",
                "must be a number, got a string"},
        BadBody{"NestedMaxAttempts",
                With(R"("assets": [{"type": "job", "layerName": "l", "maxAttempts": 99,
                                    "template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1NC",
                                                 "composition": "x"}}])"),
                "assets[0].maxAttempts", "must be an integer from 1 to 20"}),
    [](const ::testing::TestParamInfo<BadBody>& info) { return std::string(info.param.name); });

TEST(ParseJobCreationTest, JsonJustWithinTheDepthLimitIsAccepted) {
  // The body object is level 1, so `x` may hold kMaxJsonDepth - 1 levels.
  EXPECT_THAT(ParseJobCreation(With(absl::StrCat(R"("x": )", Nested(kMaxJsonDepth - 1)))), IsOk());
}

TEST(ParseJobCreationTest, EveryProblemIsReportedAtOnce) {
  absl::StatusOr<JobSpec> spec = ParseJobCreation(
      R"({"template": {"id": 1}, "priority": "x", "assets": [{}], "webhook": {}})");
  ASSERT_THAT(spec, StatusIs(absl::StatusCode::kInvalidArgument));
  std::vector<FieldViolation> v = GetFieldViolations(spec.status());
  std::vector<std::string> fields;
  for (const FieldViolation& f : v) fields.push_back(f.field);
  EXPECT_THAT(fields, ElementsAre("template.id", "assets[0].type", "webhook.url", "priority"));
  EXPECT_THAT(std::string(spec.status().message()), HasSubstr("invalid job creation request"));
}

TEST(ParseJobCreationTest, ViolationsAreCappedAndTheRestMentioned) {
  std::string tags;
  for (int i = 0; i < 200; ++i) absl::StrAppend(&tags, i == 0 ? "" : ",", i);
  absl::StatusOr<JobSpec> spec = ParseJobCreation(With(absl::StrCat(R"("tags": [)", tags, "]")));
  std::vector<FieldViolation> v = GetFieldViolations(spec.status());
  ASSERT_THAT(v, SizeIs(kMaxViolations + 1));
  EXPECT_EQ(v[0].field, "tags[0]");
  EXPECT_EQ(v[kMaxViolations - 1].field, "tags[49]");
  EXPECT_EQ(v.back(), (FieldViolation{"body", "more problems not listed (the first 50 are)"}));
}

TEST(ParseJobCreationTest, MutatedBodiesNeverCrashAndFailOnlyAsInvalidArgument) {
  // A deterministic sample of what the fuzz target explores: flipped,
  // deleted and duplicated bytes, and truncations of a rich body.
  std::mt19937 rng(20261122);
  const std::string base = kFullJob;
  int accepted = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string body = base;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !body.empty(); ++e) {
      const size_t at = rng() % body.size();
      switch (rng() % 4) {
        case 0:
          body[at] = static_cast<char>(rng() % 256);
          break;
        case 1:
          body.erase(at, 1 + rng() % 8);
          break;
        case 2:
          body.insert(at, body.substr(at, 1 + rng() % 16));
          break;
        case 3:
          body.resize(at);
          break;
      }
    }
    absl::StatusOr<JobSpec> spec = ParseJobCreation(body);
    if (spec.ok()) {
      ++accepted;
      EXPECT_THAT(ParseJobCreation(spec->payload), IsOk()) << body;
    } else {
      EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument) << spec.status();
      EXPECT_THAT(GetFieldViolations(spec.status()), ::testing::Not(IsEmpty())) << body;
    }
  }
  EXPECT_GT(accepted, 0);  // some edits land in strings and keep the body valid
}

// ---- Parsed specs through the engine ------------------------------------------------

class WireRoundTripTest : public EngineTest {};

TEST_F(WireRoundTripTest, ParsedSpecReachesTheJobAndTheWorker) {
  CASCADE_ASSERT_OK_AND_ASSIGN(JobSpec prerequisite, ParseJobCreation(R"({
    "template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1NB", "composition": "intro"},
    "tags": ["pre"]})"));
  CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob pre, Submit(prerequisite));

  const std::string body = absl::StrCat(R"({
    "template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1NB", "composition": "edit"},
    "assets": [{"type": "image", "src": "https://x/a.png"},
               {"type": "job", "layerName": "intro",
                "template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1NC", "composition": "intro"},
                "tags": ["child"]}],
    "upload": {"outputUrl": "s3://renders/{team}/{id}.mp4"},
    "tags": ["studio", "main"], "priority": 4,
    "dependsOn": [")",
                                        pre.id.ToString(), R"("],
    "onPrerequisiteFailure": "ignore"})");
  CASCADE_ASSERT_OK_AND_ASSIGN(JobSpec spec, ParseJobCreation(body));
  CASCADE_ASSERT_OK_AND_ASSIGN(CreatedJob created, Submit(spec));
  EXPECT_THAT(JobCreationResponseToJson(created), ConformsTo("JobCreationResponse"));
  CASCADE_ASSERT_OK_AND_ASSIGN(Job job, Get(created.id));

  json::object o = JobToJson(job);
  EXPECT_THAT(o, ConformsCompletelyTo("Job"));
  EXPECT_EQ(o.at("templateId"), kTemplate);
  EXPECT_EQ(o.at("status"), "pending");
  EXPECT_EQ(o.at("stats").at("totalAssets"), 2);
  EXPECT_EQ(o.at("outputUrl"),
            json::value(absl::StrCat("s3://renders/team-a/", job.id.ToString(), ".mp4")));
  EXPECT_EQ(o.at("tags"), Parse(R"(["main","studio"])"));  // by name
  EXPECT_EQ(o.at("priority"), 4);
  EXPECT_EQ(o.at("dependsOn"), json::value(json::array{json::value(pre.id.ToString())}));
  EXPECT_EQ(o.at("onPrerequisiteFailure"), "ignore");
  ASSERT_THAT(o.at("children").as_array(), SizeIs(1));

  // The child is claimed first; its worker gets the nested asset as payload.
  CASCADE_ASSERT_OK_AND_ASSIGN(ClaimedJob child, ClaimTagged("child"));
  EXPECT_EQ(child.payload, spec.children[0].payload);
  EXPECT_EQ(JobToJson(child.job).at("parentId"), json::value(job.id.ToString()));
}

// ---- ParseBatchCreation --------------------------------------------------------------

TEST(ParseBatchCreationTest, EachEntryHasItsOwnOutcomeAtItsIndex) {
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<absl::StatusOr<JobSpec>> items, ParseBatchCreation(R"({
    "jobs": [
      {"template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1NA", "composition": "one"}},
      {"assets": []},
      "not a job",
      {"template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1ND"}, "priority": 99999999999},
      {"template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1NE", "composition": "five"}, "tags": ["x"]}
    ]})"));
  ASSERT_THAT(items, SizeIs(5));
  ASSERT_THAT(items[0], IsOk());
  EXPECT_EQ(items[0]->composition, "one");
  EXPECT_EQ(items[0]->payload,
            R"({"template":{"id":"01HZX3C5Y5V7E8W3J6T9Q2M1NA","composition":"one"}})");
  EXPECT_THAT(items[1], HasViolation("jobs[1].template", "is required"));
  EXPECT_THAT(items[2], HasViolation("jobs[2]", "must be an object, got a string"));
  EXPECT_THAT(items[3], HasViolation("jobs[3].priority", "must be an integer from"));
  ASSERT_THAT(items[4], IsOk());
  EXPECT_THAT(items[4]->tags, ElementsAre("x"));
}

TEST(ParseBatchCreationTest, BodyLevelProblemsFailTheWholeCall) {
  EXPECT_THAT(ParseBatchCreation(""), HasViolation("body", "empty"));
  EXPECT_THAT(ParseBatchCreation("[]"), HasViolation("body", "must be a JSON object"));
  EXPECT_THAT(ParseBatchCreation("{}"), HasViolation("jobs", "is required"));
  EXPECT_THAT(ParseBatchCreation(R"({"jobs": {}})"), HasViolation("jobs", "must be an array"));
  EXPECT_THAT(ParseBatchCreation(R"({"jobs": []})"),
              HasViolation("jobs", "a batch has 1-1000 jobs, got 0"));
  std::string many = R"({"jobs": [)";
  for (size_t i = 0; i <= kMaxBatchJobs; ++i) absl::StrAppend(&many, i ? "," : "", "{}");
  absl::StrAppend(&many, "]}");
  EXPECT_THAT(ParseBatchCreation(many), HasViolation("jobs", "a batch has 1-1000 jobs, got 1001"));
}

TEST(ParseBatchCreationTest, BodyConformsToTheBatchCreationSchema) {
  json::value body = Parse(R"({"jobs": [{"template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1NB"}}]})");
  EXPECT_THAT(body.as_object(), ConformsTo("BatchCreation"));
  EXPECT_THAT(ParseBatchCreation(WriteJson(body)), IsOk());
}

TEST_F(WireRoundTripTest, ParsedBatchSubmitsAndAnswers) {
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<absl::StatusOr<JobSpec>> items, ParseBatchCreation(R"({
    "jobs": [{"template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1NA"}, "tags": ["one"]},
             {"template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1NB"}, "tags": ["bad tag"]}]})"));
  std::vector<JobSpec> specs;
  for (const absl::StatusOr<JobSpec>& item : items) {
    ASSERT_THAT(item, IsOk());
    specs.push_back(*item);
  }
  CASCADE_ASSERT_OK_AND_ASSIGN(BatchSubmitResult result, engine().SubmitBatch(kTeam, specs));
  json::object o = BatchCreationResponseToJson(result);
  EXPECT_THAT(o, ConformsTo("BatchCreationResponse"));
  EXPECT_EQ(o.at("status"), "partial");
  EXPECT_EQ(o.at("errors").at(0).at("index"), 1);
}

// ---- ParseJobCancellationRequest ------------------------------------------------------

// From seeds/000 (Cancel Multiple Jobs).
// ---- JoinJobCreation --------------------------------------------------------------

constexpr char kJoinBody[] = R"({
    "settings": {"preset": "mp4"},
    "assets": [
      {"type": "video", "src": "https://cdn.example.com/intro.mp4"},
      {"type": "job", "template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1NB", "composition": "main"},
       "assets": [{"type": "text", "layerName": "title", "value": "Hi"}],
       "settings": {"quality": "draft", "engine": "ae2026"}},
      {"type": "job", "template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1NC", "composition": "outro"}}
    ],
    "upload": {"outputUrl": "s3://renders/{id}.mp4"},
    "webhook": {"url": "https://hooks.example.com/done"}
  })";

TEST(ParseJoinJobCreationTest, JobAssetsBecomeChildrenAndTheStitchWaits) {
  EXPECT_THAT(Parse(kJoinBody).as_object(), ConformsTo("JoinJobCreation"));
  absl::StatusOr<JobSpec> spec = ParseJoinJobCreation(kJoinBody);
  ASSERT_THAT(spec, IsOk());
  EXPECT_EQ(spec->template_id, "");  // templateId null
  EXPECT_EQ(spec->composition, "join");
  EXPECT_EQ(spec->total_assets, 3);
  ASSERT_EQ(spec->children.size(), 2u);
  EXPECT_EQ(spec->children[0].template_id, "01HZX3C5Y5V7E8W3J6T9Q2M1NB");
  EXPECT_EQ(spec->children[0].composition, "main");
  EXPECT_EQ(spec->children[0].total_assets, 1);
  EXPECT_EQ(spec->children[1].composition, "outro");
  EXPECT_EQ(spec->output_url, "s3://renders/{id}.mp4");
  ASSERT_TRUE(spec->webhook.has_value());
  EXPECT_EQ(spec->webhook->url, "https://hooks.example.com/done");
  // The worker gets the whole body, video sources included.
  EXPECT_THAT(spec->payload, HasSubstr("https://cdn.example.com/intro.mp4"));
}

TEST(ParseJoinJobCreationTest, BadBodiesNameEachBadField) {
  EXPECT_THAT(ParseJoinJobCreation("{}"), HasViolation("assets", "is required"));
  EXPECT_THAT(ParseJoinJobCreation(R"({"assets": []})"),
              HasViolation("assets", "at least 1 asset"));
  EXPECT_THAT(ParseJoinJobCreation(R"({"assets": [{"type": "image", "src": "x"}]})"),
              HasViolation("assets[0].type", "not one of: video, job"));
  EXPECT_THAT(ParseJoinJobCreation(R"({"assets": [{"src": "x"}]})"),
              HasViolation("assets[0].type", "is required"));
  EXPECT_THAT(ParseJoinJobCreation(R"({"assets": [{"type": "video"}]})"),
              HasViolation("assets[0].src", "is required"));
  EXPECT_THAT(ParseJoinJobCreation(R"({"assets": [{"type": "job", "template": {"id": "x"}}]})"),
              HasViolation("assets[0].template.composition", "is required"));
  EXPECT_THAT(ParseJoinJobCreation(R"({"assets": [7]})"),
              HasViolation("assets[0]", "must be an object"));
  EXPECT_THAT(ParseJoinJobCreation(
                  R"({"settings": {"preset": "mov"}, "assets": [{"type": "video", "src": "x"}]})"),
              HasViolation("settings.preset", "not one of: mp4"));
  EXPECT_THAT(ParseJoinJobCreation("[1]"), HasViolation("body", "must be a JSON object"));
}

TEST_F(WireRoundTripTest, AJoinIsPendingUntilItsRendersFinish) {
  absl::StatusOr<JobSpec> spec = ParseJoinJobCreation(kJoinBody);
  ASSERT_THAT(spec, IsOk());
  absl::StatusOr<CreatedJob> created = engine().Submit("team-a", *spec);
  ASSERT_THAT(created, IsOk());
  EXPECT_EQ(created->state, JobState::kPending);
  EXPECT_THAT(JobCreationResponseToJson(*created), ConformsTo("JobCreationResponse"));
  absl::StatusOr<Job> job = engine().Get("team-a", created->id);
  ASSERT_THAT(job, IsOk());
  EXPECT_THAT(JobToJson(*job), ConformsCompletelyTo("Job"));
  EXPECT_EQ(JobToJson(*job).at("templateId"), nullptr);
}

constexpr char kSeedCancelMany[] = R"({
    "jobs": [
      "01JTRDF7HCR8QAHYW8GPCP4S9Y",
      "01JTRGF9KDR4MAHZW9HPCP5T0Z"
    ]
  })";

TEST(ParseJobCancellationRequestTest, SeedBodyParses) {
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<JobId> ids,
                               ParseJobCancellationRequest(kSeedCancelMany));
  ASSERT_THAT(ids, SizeIs(2));
  EXPECT_EQ(ids[0].ToString(), "01JTRDF7HCR8QAHYW8GPCP4S9Y");
  EXPECT_EQ(ids[1].ToString(), "01JTRGF9KDR4MAHZW9HPCP5T0Z");
  EXPECT_THAT(Parse(kSeedCancelMany).as_object(), ConformsTo("JobCancellationRequest"));
}

TEST(ParseJobCancellationRequestTest, DuplicatesAreLeftToTheEngine) {
  CASCADE_ASSERT_OK_AND_ASSIGN(
      std::vector<JobId> ids,
      ParseJobCancellationRequest(
          R"({"jobs": ["01JTRDF7HCR8QAHYW8GPCP4S9Y", "01JTRDF7HCR8QAHYW8GPCP4S9Y"]})"));
  EXPECT_THAT(ids, SizeIs(2));
}

TEST(ParseJobCancellationRequestTest, BadRequestsNameEachBadEntry) {
  EXPECT_THAT(ParseJobCancellationRequest(""), HasViolation("body", "empty"));
  EXPECT_THAT(ParseJobCancellationRequest(R"(["01JTRDF7HCR8QAHYW8GPCP4S9Y"])"),
              HasViolation("body", "must be a JSON object, got an array"));
  EXPECT_THAT(ParseJobCancellationRequest("{}"), HasViolation("jobs", "is required"));
  EXPECT_THAT(ParseJobCancellationRequest(R"({"jobs": "01JTRDF7HCR8QAHYW8GPCP4S9Y"})"),
              HasViolation("jobs", "must be an array, got a string"));
  EXPECT_THAT(ParseJobCancellationRequest(R"({"jobs": []})"),
              HasViolation("jobs", "expected 1-1000 ids, got 0"));
  std::string many = R"({"jobs": [)";
  for (size_t i = 0; i <= kMaxCancelIds; ++i) {
    absl::StrAppend(&many, i ? "," : "", "\"01JTRDF7HCR8QAHYW8GPCP4S9Y\"");
  }
  absl::StrAppend(&many, "]}");
  EXPECT_THAT(ParseJobCancellationRequest(many),
              HasViolation("jobs", "expected 1-1000 ids, got 1001"));

  absl::StatusOr<std::vector<JobId>> mixed = ParseJobCancellationRequest(
      R"({"jobs": [7, "01JTRDF7HCR8QAHYW8GPCP4S9Y", "01JTRDF7HCR8QAHYW8GPCP4S9", null]})");
  EXPECT_THAT(mixed, HasViolation("jobs[0]", "must be a job id (string), got a number"));
  EXPECT_THAT(mixed, HasViolation("jobs[2]", "01JTRDF7HCR8QAHYW8GPCP4S9"));
  EXPECT_THAT(mixed, HasViolation("jobs[3]", "got null"));
  EXPECT_THAT(GetFieldViolations(mixed.status()), SizeIs(3));
}

// ---- ParseJobRetryRequest, ParseJobUpdate (contract §14) ------------------------------

TEST(ParseJobRetryRequestTest, ReadsAsACancellationRequestIs) {
  CASCADE_ASSERT_OK_AND_ASSIGN(std::vector<JobId> ids, ParseJobRetryRequest(kSeedCancelMany));
  ASSERT_THAT(ids, SizeIs(2));
  EXPECT_EQ(ids[1].ToString(), "01JTRGF9KDR4MAHZW9HPCP5T0Z");
  for (std::string_view body :
       {std::string_view(""), std::string_view("{}"), std::string_view(R"({"jobs": []})"),
        std::string_view(R"({"jobs": [7, "x"]})"), std::string_view("[1]")}) {
    absl::Status retry = ParseJobRetryRequest(body).status();
    absl::Status cancel = ParseJobCancellationRequest(body).status();
    EXPECT_EQ(retry.code(), absl::StatusCode::kInvalidArgument) << body;
    EXPECT_EQ(GetFieldViolations(retry), GetFieldViolations(cancel)) << body;
  }
  absl::Status bad = ParseJobRetryRequest(R"({"jobs": [7]})").status();
  EXPECT_THAT(bad.message(), HasSubstr("retry")) << "its own summary";
}

TEST(ParseJobUpdateTest, ReadsTheInt32Priority) {
  CASCADE_ASSERT_OK_AND_ASSIGN(wire::JobUpdate update, ParseJobUpdate(R"({"priority": 7})"));
  EXPECT_EQ(update.priority, 7);
  EXPECT_EQ(ParseJobUpdate(R"({"priority": -2147483648})")->priority,
            std::numeric_limits<int32_t>::min());
  EXPECT_EQ(ParseJobUpdate(R"({"priority": 2147483647})")->priority,
            std::numeric_limits<int32_t>::max());
  EXPECT_EQ(ParseJobUpdate(R"({"priority": 5.0})")->priority, 5) << "a zero fraction is an integer";
  EXPECT_EQ(ParseJobUpdate("\xef\xbb\xbf{\"priority\": 1}")->priority, 1);
}

TEST(ParseJobUpdateTest, RefusesEachBadField) {
  EXPECT_THAT(ParseJobUpdate(""), HasViolation("body", "empty"));
  EXPECT_THAT(ParseJobUpdate("[]"), HasViolation("body", "must be a JSON object"));
  EXPECT_THAT(ParseJobUpdate("{"), HasViolation("body", ""));
  EXPECT_THAT(ParseJobUpdate("{}"), HasViolation("priority", "is required"));
  EXPECT_THAT(ParseJobUpdate(R"({"priority": null})"), HasViolation("priority", "got null"));
  EXPECT_THAT(ParseJobUpdate(R"({"priority": "5"})"), HasViolation("priority", "got a string"));
  EXPECT_THAT(ParseJobUpdate(R"({"priority": 1.5})"), HasViolation("priority", "integer"));
  EXPECT_THAT(ParseJobUpdate(R"({"priority": 2147483648})"),
              HasViolation("priority", "from -2147483648 to 2147483647"));
  EXPECT_THAT(ParseJobUpdate(R"({"priority": -2147483649})"),
              HasViolation("priority", "from -2147483648 to 2147483647"));
  EXPECT_THAT(ParseJobUpdate(R"({"priority": 1e300})"), HasViolation("priority", "from"));
  absl::StatusOr<wire::JobUpdate> extra =
      ParseJobUpdate(R"({"tags": ["x"], "priority": 1, "maxAttempts": 2})");
  EXPECT_THAT(extra, HasViolation("tags", "is not a field of a job update"));
  EXPECT_THAT(extra, HasViolation("maxAttempts", "is not a field of a job update"));
  EXPECT_THAT(GetFieldViolations(extra.status()), SizeIs(2));
  absl::StatusOr<wire::JobUpdate> both = ParseJobUpdate(R"({"x": 1})");
  EXPECT_THAT(both, HasViolation("x", "is not a field"));
  EXPECT_THAT(both, HasViolation("priority", "is required"));
}

// ---- Requests held to the document (contract §11, "Validation") ---------------------

// Each body parser as one function: OK, or the status naming the fields. A
// batch answers with its first refused entry.
absl::Status JobCreationStatus(std::string_view body) { return ParseJobCreation(body).status(); }
absl::Status JoinStatus(std::string_view body) { return ParseJoinJobCreation(body).status(); }
absl::Status BatchStatus(std::string_view body) {
  absl::StatusOr<std::vector<absl::StatusOr<JobSpec>>> entries = ParseBatchCreation(body);
  if (!entries.ok()) return entries.status();
  for (const absl::StatusOr<JobSpec>& entry : *entries) {
    if (!entry.ok()) return entry.status();
  }
  return absl::OkStatus();
}
absl::Status CancelStatus(std::string_view body) {
  return ParseJobCancellationRequest(body).status();
}

// The parser of the body of `POST <route>`.
absl::Status ParseBodyOf(std::string_view route, std::string_view body) {
  if (route == "/jobs") return JobCreationStatus(body);
  if (route == "/jobs/join") return JoinStatus(body);
  if (route == "/batches") return BatchStatus(body);
  if (route == "/jobs/cancel") return CancelStatus(body);
  ADD_FAILURE() << "no parser for " << route;
  return absl::InternalError("no parser");
}

// Whether one of the validator's problems is about `field` (a parser path,
// "assets[2].type"): at it, under it, at an ancestor of it other than the
// root, or at its parent naming its key ("$.settings: unexpected property
// 'foo'", "$.template: missing required property 'id'").
bool DocumentNames(const std::vector<std::string>& problems, const std::string& field) {
  const std::string at = absl::StrCat("$.", field);
  const size_t dot = field.rfind('.');
  const std::string parent =
      dot == std::string::npos ? "$" : absl::StrCat("$.", field.substr(0, dot));
  const std::string key =
      absl::StrCat("'", field.substr(dot == std::string::npos ? 0 : dot + 1), "'");
  for (const std::string& p : problems) {
    const std::string where = p.substr(0, p.find(": "));
    if (where == at || absl::StartsWith(where, at + ".") || absl::StartsWith(where, at + "[")) {
      return true;
    }
    if (where != "$" && (absl::StartsWith(at, where + ".") || absl::StartsWith(at, where + "["))) {
      return true;
    }
    if (where == parent && absl::StrContains(p, key)) return true;
  }
  return false;
}

// A body the document refuses, and the field that both the document and the
// parser name.
struct Refused {
  const char* name;
  const char* route;
  std::string body;
  std::string field;
};

void PrintTo(const Refused& r, std::ostream* os) { *os << r.name; }

class RefusedByTheDocumentTest : public ::testing::TestWithParam<Refused> {};

TEST_P(RefusedByTheDocumentTest, IsRefusedByTheParserNamingTheSameField) {
  const Refused& c = GetParam();
  const std::vector<std::string> problems =
      Api().ValidateRequestBody("post", c.route, Parse(c.body));
  EXPECT_TRUE(DocumentNames(problems, c.field))
      << "the document does not refuse " << c.field << "; its problems:\n  "
      << absl::StrJoin(problems, "\n  ");
  EXPECT_THAT(ParseBodyOf(c.route, c.body), HasViolation(c.field, ""));
}

// A job body of `fields` after a good template.
std::string Job(std::string_view fields) { return With(fields); }
// A nested job asset with `fields` added.
std::string NestedJob(std::string_view fields) {
  return absl::StrCat(R"({"type": "job", "layerName": "l", "template": {"id": ")", kTemplate,
                      R"(", "composition": "c"}, )", wire::Sv(fields), "}");
}

INSTANTIATE_TEST_SUITE_P(
    Bodies, RefusedByTheDocumentTest,
    ::testing::Values(
        // JobCreation: required, patterns, enums, bounds, closed objects.
        Refused{"NoTemplate", "/jobs", "{}", "template"},
        Refused{"TemplateWithoutId", "/jobs", R"({"template": {"composition": "main"}})",
                "template.id"},
        Refused{"TemplateIdNotAUlid", "/jobs", R"({"template": {"id": "not-a-ulid"}})",
                "template.id"},
        Refused{"TemplateIdLowerCase", "/jobs",
                R"({"template": {"id": "01hzx3c5y5v7e8w3j6t9q2m1nb"}})", "template.id"},
        Refused{"TemplateSrcWithoutId", "/jobs", R"({"template": {"src": "https://x/t.aep"}})",
                "template.id"},
        Refused{"CompositionNumber", "/jobs",
                absl::StrCat(R"({"template": {"id": ")", kTemplate, R"(", "composition": 5}})"),
                "template.composition"},
        Refused{"PreviewString", "/jobs", Job(R"("preview": "yes")"), "preview"},
        Refused{"FontNumber", "/jobs", Job(R"("fonts": [1])"), "fonts[0]"},
        Refused{"SettingsUnknownKey", "/jobs", Job(R"("settings": {"foo": 1})"), "settings.foo"},
        Refused{"SettingsType", "/jobs", Job(R"("settings": {"type": "gif"})"), "settings.type"},
        Refused{"SettingsQuality", "/jobs", Job(R"("settings": {"quality": "high"})"),
                "settings.quality"},
        Refused{"SettingsEngine", "/jobs", Job(R"("settings": {"engine": "ae2024"})"),
                "settings.engine"},
        Refused{"FrameNegative", "/jobs", Job(R"("settings": {"frames": -1})"), "settings.frames"},
        Refused{"FrameFraction", "/jobs", Job(R"("settings": {"frames": 1.5})"), "settings.frames"},
        Refused{"FrameRangeOfOne", "/jobs", Job(R"("settings": {"frames": [3]})"),
                "settings.frames"},
        Refused{"FrameRangeNegative", "/jobs", Job(R"("settings": {"frames": [-3, 5]})"),
                "settings.frames[0]"},
        Refused{"UploadUnknownKey", "/jobs", Job(R"("upload": {"bucket": "b"})"), "upload.bucket"},
        Refused{"UploadProvider", "/jobs", Job(R"("upload": {"provider": "gcs"})"),
                "upload.provider"},
        Refused{"UploadParamsUnknownKey", "/jobs",
                Job(R"("upload": {"params": {"region": "r", "bucket": "b", "accessKeyId": "a",
                                            "accessKeySecret": "s", "token": "t"}})"),
                "upload.params.token"},
        Refused{"UploadParamsWithoutSecret", "/jobs",
                Job(R"("upload": {"params": {"region": "r", "bucket": "b", "accessKeyId": "a"}})"),
                "upload.params.accessKeySecret"},
        Refused{"WebhookWithoutUrl", "/jobs", Job(R"("webhook": {"method": "GET"})"),
                "webhook.url"},
        Refused{"WebhookMethod", "/jobs",
                Job(R"("webhook": {"url": "https://x", "method": "PATCH"})"), "webhook.method"},
        Refused{"WebhookData", "/jobs", Job(R"("webhook": {"url": "https://x", "data": []})"),
                "webhook.data"},
        Refused{"WebhookCustom", "/jobs", Job(R"("webhook": {"url": "https://x", "custom": 1})"),
                "webhook.custom"},
        Refused{"AssetWithoutType", "/jobs", Job(R"("assets": [{"src": "x"}])"), "assets[0].type"},
        Refused{"AssetTypeNumber", "/jobs", Job(R"("assets": [{"type": 3}])"), "assets[0].type"},
        Refused{"AssetNotObject", "/jobs", Job(R"("assets": [[]])"), "assets[0]"},
        Refused{"AssetLayerNamesEmpty", "/jobs",
                Job(R"("assets": [{"type": "function", "params": {"layerName": []}}])"),
                "assets[0].params.layerName"},
        Refused{"AssetConform", "/jobs", Job(R"("assets": [{"type": "video", "conform": "no"}])"),
                "assets[0].conform"},
        // Nested job assets, read as JobAssetNested.
        Refused{"NestedWithoutLayerName", "/jobs",
                Job(absl::StrCat(R"("assets": [{"type": "job", "template": {"id": ")", kTemplate,
                                 R"(", "composition": "c"}}])")),
                "assets[0].layerName"},
        Refused{"NestedTemplateIdNotAUlid", "/jobs",
                Job(R"("assets": [{"type": "job", "layerName": "l",
                                   "template": {"id": "intro", "composition": "c"}}])"),
                "assets[0].template.id"},
        Refused{"NestedWithoutComposition", "/jobs",
                Job(absl::StrCat(R"("assets": [{"type": "job", "layerName": "l",
                                                "template": {"id": ")",
                                 kTemplate, R"("}}])")),
                "assets[0].template.composition"},
        Refused{
            "NestedSettingsAep", "/jobs",
            Job(absl::StrCat(R"("assets": [)", NestedJob(R"("settings": {"type": "aep"})"), "]")),
            "assets[0].settings.type"},
        Refused{"NestedAssetWithoutType", "/jobs",
                Job(absl::StrCat(R"("assets": [)", NestedJob(R"("assets": [{"src": "x"}])"), "]")),
                "assets[0].assets[0].type"},
        // JoinJobCreation.
        Refused{"JoinWithoutAssets", "/jobs/join", "{}", "assets"},
        Refused{"JoinNoAssets", "/jobs/join", R"({"assets": []})", "assets"},
        Refused{"JoinImageAsset", "/jobs/join", R"({"assets": [{"type": "image", "src": "x"}]})",
                "assets[0].type"},
        Refused{"JoinVideoWithoutSrc", "/jobs/join", R"({"assets": [{"type": "video"}]})",
                "assets[0].src"},
        Refused{"JoinPartTemplateId", "/jobs/join",
                R"({"assets": [{"type": "job", "template": {"id": "x", "composition": "c"}}]})",
                "assets[0].template.id"},
        Refused{"JoinPreset", "/jobs/join",
                R"({"settings": {"preset": "mov"}, "assets": [{"type": "video", "src": "x"}]})",
                "settings.preset"},
        Refused{"JoinUploadParams", "/jobs/join",
                R"({"assets": [{"type": "video", "src": "x"}], "upload": {"params": {}}})",
                "upload.params.region"},
        // BatchCreation and JobCancellationRequest.
        Refused{"BatchWithoutJobs", "/batches", "{}", "jobs"},
        Refused{"BatchNoJobs", "/batches", R"({"jobs": []})", "jobs"},
        Refused{"BatchEntryTemplateId", "/batches", R"({"jobs": [{"template": {"id": "a"}}]})",
                "jobs[0].template.id"},
        Refused{"BatchEntrySettings", "/batches",
                absl::StrCat(R"({"jobs": [)", Job(R"("settings": {"fps": 30})"), "]}"),
                "jobs[0].settings.fps"},
        Refused{"CancelWithoutJobs", "/jobs/cancel", "{}", "jobs"},
        Refused{"CancelNoJobs", "/jobs/cancel", R"({"jobs": []})", "jobs"},
        Refused{"CancelNotAUlid", "/jobs/cancel", R"({"jobs": ["01JTRDF7HCR8QAHYW8GPCP4S9I"]})",
                "jobs[0]"},
        Refused{"CancelLowerCase", "/jobs/cancel", R"({"jobs": ["01jtrdf7hcr8qahyw8gpcp4s9y"]})",
                "jobs[0]"}),
    [](const ::testing::TestParamInfo<Refused>& info) { return std::string(info.param.name); });

// A body the document accepts, and so must the parser: nested job assets
// and every extension field included.
struct Accepted {
  const char* name;
  const char* route;
  std::string body;
};

void PrintTo(const Accepted& a, std::ostream* os) { *os << a.name; }

class AcceptedTest : public ::testing::TestWithParam<Accepted> {};

TEST_P(AcceptedTest, ByTheDocumentAndTheParser) {
  const Accepted& c = GetParam();
  EXPECT_THAT(Api().ValidateRequestBody("post", c.route, Parse(c.body)), IsEmpty());
  EXPECT_THAT(ParseBodyOf(c.route, c.body), IsOk());
}

constexpr char kEveryExtension[] = R"("tags": ["studio-a", "4k"], "priority": -7,
    "dependsOn": ["01JTRDF7HCR8QAHYW8GPCP4S9Y"], "onPrerequisiteFailure": "ignore",
    "maxAttempts": 20, "retryBackoffSeconds": 86400, "timeoutSeconds": 604800)";

INSTANTIATE_TEST_SUITE_P(
    Bodies, AcceptedTest,
    ::testing::Values(
        Accepted{"Minimal", "/jobs", Job(R"("x": null)")},
        Accepted{"Seed", "/jobs", SeedWebhookJobWithATemplate()},
        Accepted{"Full", "/jobs", kFullJob},
        Accepted{"EveryExtensionAtItsUpperBounds", "/jobs", Job(kEveryExtension)},
        Accepted{"EveryExtensionAtItsLowerBounds", "/jobs",
                 Job(R"("tags": [], "dependsOn": [], "maxAttempts": 1, "retryBackoffSeconds": 0,
                        "timeoutSeconds": 0.001, "priority": -2147483648)")},
        Accepted{
            "NestedJobsWithEveryExtension", "/jobs",
            Job(absl::StrCat(R"("assets": [)",
                             NestedJob(absl::StrCat(
                                 kEveryExtension, R"(, "upload": {"outputUrl": "s3://x"},
                         "webhook": {"url": "https://x"},
                         "settings": {"type": "image", "frames": -1, "somethingElse": 1},
                         "assets": [)",
                                 NestedJob(R"("maxAttempts": 1, "timeoutSeconds": 1.5)"), "]")),
                             "]"))},
        Accepted{"NestedJobFieldsOnlyJobCreationDeclares", "/jobs",
                 Job(absl::StrCat(R"("assets": [)", NestedJob(R"("fonts": "Inter.ttf")"), "]"))},
        Accepted{"TemplateWithSrcAndMore", "/jobs",
                 absl::StrCat(R"({"template": {"id": ")", kTemplate,
                              R"(", "src": "https://x/t.aep", "composition": null, "v": 2}})")},
        Accepted{"EverySetting", "/jobs",
                 Job(R"("settings": {"type": "image", "frames": 0, "quality": "draft",
                                     "codec": "png", "engine": "ae2025"})")},
        Accepted{"FrameRange", "/jobs", Job(R"("settings": {"frames": [0, 0.0]})")},
        Accepted{"UnknownFieldsWhereTheDocumentIsOpen", "/jobs",
                 Job(R"("renderer": "x", "webhook": {"url": "https://x", "retries": 3},
                        "assets": [{"type": "data", "property": "Source Text", "value": 1,
                                    "params": {"layerName": "t", "extra": [1]}}])")},
        Accepted{"Join", "/jobs/join", kJoinBody},
        Accepted{
            "JoinWithExtensions", "/jobs/join",
            absl::StrCat(R"({"assets": [{"type": "video", "src": "x", "v": 1}], )", kEveryExtension,
                         R"(, "settings": {"preset": "mp4", "crf": 18},
                                 "upload": {"bucket": "open-here", "params": {"region": "r",
                                   "bucket": "b", "accessKeyId": "a", "accessKeySecret": "s",
                                   "sessionToken": "t"}}})")},
        Accepted{"Batch", "/batches",
                 absl::StrCat(R"({"jobs": [)", kFullJob, ",", Job(kEveryExtension), "]}")},
        Accepted{"Cancel", "/jobs/cancel", kSeedCancelMany}),
    [](const ::testing::TestParamInfo<Accepted>& info) { return std::string(info.param.name); });

TEST(ParseJobCreationTest, TheRetryAndTimeLimitExtensionsReachTheSpec) {
  CASCADE_ASSERT_OK_AND_ASSIGN(
      JobSpec spec, ParseJobCreation(Job(absl::StrCat(
                        R"("maxAttempts": 5, "retryBackoffSeconds": 1.5,
                                           "timeoutSeconds": 3600, "assets": [)",
                        NestedJob(R"("maxAttempts": 2.0, "timeoutSeconds": 0.25)"), "]"))));
  EXPECT_EQ(spec.max_attempts, 5);
  EXPECT_EQ(spec.retry_backoff, absl::Milliseconds(1500));
  EXPECT_EQ(spec.timeout, absl::Hours(1));
  ASSERT_THAT(spec.children, SizeIs(1));
  EXPECT_EQ(spec.children[0].max_attempts, 2);
  EXPECT_EQ(spec.children[0].retry_backoff, std::nullopt);  // the engine's default
  EXPECT_EQ(spec.children[0].timeout, absl::Milliseconds(250));

  CASCADE_ASSERT_OK_AND_ASSIGN(JobSpec plain, ParseJobCreation(Job(R"("x": 1)")));
  EXPECT_EQ(plain.max_attempts, std::nullopt);
  EXPECT_EQ(plain.retry_backoff, std::nullopt);
  EXPECT_EQ(plain.timeout, std::nullopt);

  CASCADE_ASSERT_OK_AND_ASSIGN(
      JobSpec bounds, ParseJobCreation(Job(R"("maxAttempts": 20, "retryBackoffSeconds": 86400,
                                              "timeoutSeconds": 604800)")));
  EXPECT_EQ(bounds.max_attempts, kMaxMaxAttempts);
  EXPECT_EQ(bounds.retry_backoff, kMaxRetryBackoff);
  EXPECT_EQ(bounds.timeout, kMaxRenderTimeout);
}

// ---- The parser and the document agree on every small change to a good body --------

// A path into a JSON value: object keys and array indexes.
using Step = std::variant<std::string, size_t>;
using Path = std::vector<Step>;

std::string PathText(const Path& path) {
  std::string out;
  for (const Step& step : path) {
    if (const std::string* key = std::get_if<std::string>(&step)) {
      absl::StrAppend(&out, out.empty() ? "" : ".", *key);
    } else {
      absl::StrAppend(&out, "[", std::get<size_t>(step), "]");
    }
  }
  return out;
}

template <typename Value>  // json::value or const json::value
Value& At(Value& root, const Path& path) {
  Value* at = &root;
  for (const Step& step : path) {
    if (const std::string* key = std::get_if<std::string>(&step)) {
      at = &at->as_object().at(*key);
    } else {
      at = &at->as_array().at(std::get<size_t>(step));
    }
  }
  return *at;
}

void CollectPaths(const json::value& v, Path& path, std::vector<Path>& out) {
  out.push_back(path);
  if (const json::object* o = v.if_object()) {
    for (const json::key_value_pair& kv : *o) {
      path.emplace_back(std::string(kv.key()));
      CollectPaths(kv.value(), path, out);
      path.pop_back();
    }
  } else if (const json::array* a = v.if_array()) {
    for (size_t i = 0; i < a->size(); ++i) {
      path.emplace_back(i);
      CollectPaths((*a)[i], path, out);
      path.pop_back();
    }
  }
}

// Whether a change at `path` of `base` is one of the contract's exceptions,
// where Cascade, not the document, decides: a Cascade extension field of a
// job (its body, a batch entry, a nested job or join part; on nested jobs
// also their `upload` and `webhook`), anything inside a job asset nested in
// another (the document stops at one level; Cascade nests again, §2), and
// the values of `webhook.headers` (Cascade's stricter rule: text).
bool IsCascadesOwn(const json::value& base, const Path& path) {
  static const std::vector<std::string> kExtensions = {"tags",          "priority",
                                                       "dependsOn",     "onPrerequisiteFailure",
                                                       "maxAttempts",   "retryBackoffSeconds",
                                                       "timeoutSeconds"};
  const json::value* at = &base;
  int job_depth = 0;  // nested job objects passed
  for (size_t k = 0; k < path.size(); ++k) {
    const bool in_nested_job = at->is_object() && at->get_object().contains("type") &&
                               at->get_object().at("type") == "job";
    if (in_nested_job) ++job_depth;
    if (job_depth >= 2) return true;
    const bool at_job = k == 0 || in_nested_job ||
                        (k >= 2 && std::holds_alternative<size_t>(path[k - 1]) &&
                         std::get_if<std::string>(&path[k - 2]) != nullptr &&
                         std::get<std::string>(path[k - 2]) == "jobs");
    if (const std::string* key = std::get_if<std::string>(&path[k])) {
      if (at_job && std::find(kExtensions.begin(), kExtensions.end(), *key) != kExtensions.end()) {
        return true;
      }
      if (in_nested_job && (*key == "upload" || *key == "webhook")) return true;
      if (*key == "headers" && k + 1 < path.size() && k >= 1 &&
          std::get_if<std::string>(&path[k - 1]) != nullptr &&
          std::get<std::string>(path[k - 1]) == "webhook") {
        return true;
      }
    }
    if (at->is_object() && std::holds_alternative<std::string>(path[k])) {
      const json::value* next = at->get_object().if_contains(std::get<std::string>(path[k]));
      if (next == nullptr) return false;  // an added key
      at = next;
    } else if (at->is_array() && std::holds_alternative<size_t>(path[k])) {
      at = &at->get_array().at(std::get<size_t>(path[k]));
    } else {
      return false;
    }
  }
  return false;
}

// Checks one changed body: the parser accepts it iff the document does, and
// when it refuses, it names `changed` (or a field under it; for a changed
// asset `type`, a field of that asset).
void ExpectAgreement(std::string_view route, const json::value& body, const Path& changed,
                     std::string_view what, int& compared) {
  const bool document_ok = Api().ValidateRequestBody("post", route, body).empty();
  const absl::Status parsed = ParseBodyOf(route, WriteJson(body));
  ++compared;
  const std::string text = PathText(changed);
  EXPECT_EQ(parsed.ok(), document_ok)
      << what << " at " << text << ": the document " << (document_ok ? "accepts" : "refuses")
      << " it, the parser " << (parsed.ok() ? "accepts" : "refuses") << " it (" << parsed << ")\n  "
      << WriteJson(body)
      << "\n  document: " << absl::StrJoin(Api().ValidateRequestBody("post", route, body), "; ");
  if (parsed.ok() || document_ok) return;
  std::string scope = text;
  if (!changed.empty() && std::get_if<std::string>(&changed.back()) != nullptr &&
      std::get<std::string>(changed.back()) == "type") {
    scope = PathText(Path(changed.begin(), changed.end() - 1));
  }
  bool named = false;
  for (const FieldViolation& v : GetFieldViolations(parsed)) {
    named = named || v.field == scope || absl::StartsWith(v.field, scope + ".") ||
            absl::StartsWith(v.field, scope + "[");
  }
  EXPECT_TRUE(named) << what << " at " << text << ": " << parsed;
}

struct Changes {
  int compared = 0;  // bodies checked
  int skipped = 0;   // nodes left to Cascade (IsCascadesOwn)
};

// Every node of `good` replaced by each of a set of values (wrong types,
// bad and good strings, out-of-range numbers), every member deleted, and an
// unknown member added to every object.
Changes ExpectAgreementOnEveryChange(std::string_view route, std::string_view good) {
  const json::value base = Parse(good);
  EXPECT_THAT(Api().ValidateRequestBody("post", route, base), IsEmpty());
  EXPECT_THAT(ParseBodyOf(route, good), IsOk());
  const std::vector<json::value> substitutes = {nullptr,
                                                true,
                                                0,
                                                -1,
                                                2.5,
                                                "",
                                                "x",
                                                "video",
                                                "full",
                                                "01HZX3C5Y5V7E8W3J6T9Q2M1NZ",
                                                "01hzx3c5y5v7e8w3j6t9q2m1nz",
                                                json::array{},
                                                json::array{1},
                                                json::array{"x"},
                                                json::array{0, 1},
                                                json::object{}};
  std::vector<Path> paths;
  Path scratch;
  CollectPaths(base, scratch, paths);
  int compared = 0, skipped = 0;
  for (const Path& path : paths) {
    if (path.empty()) continue;
    if (IsCascadesOwn(base, path)) {
      ++skipped;
      continue;
    }
    for (const json::value& substitute : substitutes) {
      json::value body = base;
      At(body, path) = substitute;
      ExpectAgreement(route, body, path, absl::StrCat("replaced by ", json::serialize(substitute)),
                      compared);
    }
    if (const std::string* key = std::get_if<std::string>(&path.back())) {
      json::value body = base;
      At(body, Path(path.begin(), path.end() - 1)).as_object().erase(*key);
      ExpectAgreement(route, body, path, "deleted", compared);
    }
  }
  for (const Path& path : paths) {
    Path added = path;
    added.emplace_back(std::string("zzUnknown"));
    if (!At(base, path).is_object() || IsCascadesOwn(base, added)) {
      continue;
    }
    json::value body = base;
    At(body, path).as_object()["zzUnknown"] = "x";
    ExpectAgreement(route, body, added, "added", compared);
  }
  return {compared, skipped};
}

TEST(DocumentAgreementTest, JobCreation) {
  const Changes changes = ExpectAgreementOnEveryChange("/jobs", kFullJob);
  EXPECT_GT(changes.compared, 1000);
  EXPECT_GT(changes.skipped, 10);  // the extensions and the job nested twice
}

TEST(DocumentAgreementTest, JoinJobCreation) {
  std::string body = kJoinBody;
  body.insert(body.rfind('}'), R"(, "tags": ["t"], "maxAttempts": 2)");
  const Changes changes = ExpectAgreementOnEveryChange("/jobs/join", body);
  EXPECT_GT(changes.compared, 400);
  EXPECT_GT(changes.skipped, 2);
}

TEST(DocumentAgreementTest, BatchCreation) {
  const Changes changes = ExpectAgreementOnEveryChange(
      "/batches", absl::StrCat(R"({"jobs": [)", SeedWebhookJobWithATemplate(), ",",
                               Job(R"("settings": {"frames": [1, 2]}, "upload": {"prefix": "p"},
                          "timeoutSeconds": 60, "assets": [{"type": "video", "src": "x"}])"),
                               "]}"));
  EXPECT_GT(changes.compared, 300);
  EXPECT_GT(changes.skipped, 0);
}

TEST(DocumentAgreementTest, JobCancellationRequest) {
  EXPECT_GT(ExpectAgreementOnEveryChange("/jobs/cancel", kSeedCancelMany).compared, 40);
}

// ---- ParseJsonBody ----------------------------------------------------------------------

TEST(ParseJsonBodyTest, NumbersReadAsTheNearestDoubleAndWriteBackTheSame) {
  // Boost 1.81's own reading of -3e50 is one unit in the last place off.
  for (const char* text : {"-3e+50", "1e+23", "0.1", "22.304", "1.7976931348623157e+308",
                           "2.2250738585072014e-308", "9007199254740993", "-0.5", "-0.0"}) {
    CASCADE_ASSERT_OK_AND_ASSIGN(json::value v, ParseJsonBody(text));
    EXPECT_EQ(WriteJson(v), text);
  }
  CASCADE_ASSERT_OK_AND_ASSIGN(JobSpec spec, ParseJobCreation(With(R"("x": [-3e50, 1e23])")));
  EXPECT_THAT(spec.payload, HasSubstr(R"("x":[-3e+50,1e+23])"));
}

TEST(ParseJsonBodyTest, AcceptsAnyValueWithinTheLimits) {
  CASCADE_ASSERT_OK_AND_ASSIGN(json::value v, ParseJsonBody(R"([1, "two", {"three": 3.5}])"));
  EXPECT_EQ(WriteJson(v), R"([1,"two",{"three":3.5}])");
  EXPECT_THAT(ParseJsonBody(Nested(kMaxJsonDepth)), IsOk());
  EXPECT_THAT(ParseJsonBody(Nested(kMaxJsonDepth + 1)), HasViolation("body", "nested deeper"));
  EXPECT_THAT(ParseJsonBody("1e400"), HasViolation("body", "number out of range"));
}

// ---- Errors without a status, and POST /batches' own 400 ----------------------------

TEST(ErrorWireTest, ErrorResponseFromAMessageAndACodeOfTheCallers) {
  // The HTTP server's own answers (server/http_server.cc), byte for byte.
  EXPECT_EQ(
      WriteJson(ErrorResponseToJson("request body is larger than 1024 bytes", "payload_too_large")),
      R"({"error":"request body is larger than 1024 bytes","errorCode":"payload_too_large"})");
  EXPECT_EQ(WriteJson(ErrorResponseToJson("internal error", "internal")),
            R"({"error":"internal error","errorCode":"internal"})");
  EXPECT_THAT(ErrorResponseToJson("x", "internal"), ConformsTo("ErrorResponse"));
  // The status overload is this one with ErrorCodeName.
  EXPECT_EQ(WriteJson(ErrorResponseToJson(absl::NotFoundError("gone"))),
            WriteJson(ErrorResponseToJson("gone", "not_found")));
}

TEST(ErrorWireTest, BatchCreationErrorIsABatchCreationResponseWithTheValidationError) {
  absl::StatusOr<std::vector<absl::StatusOr<JobSpec>>> entries = ParseBatchCreation("{}");
  ASSERT_FALSE(entries.ok());
  EXPECT_EQ(WriteJson(BatchCreationErrorResponseToJson(entries.status())),
            absl::StrCat(R"({"error":")", entries.status().message(),
                         R"(","errorCode":"invalid_argument",)",
                         R"("details":[{"field":"jobs","message":"is required"}],)",
                         R"("batchId":"","status":"error","totalJobs":0,"successCount":0,)",
                         R"("jobs":[]})"));
}

// ---- Worker bodies ---------------------------------------------------------------------

TEST(WorkerBodiesTest, ClaimBodyMayBeEmptyAndReadsEveryField) {
  for (const char* empty : {"", "  \r\n", "{}"}) {
    CASCADE_ASSERT_OK_AND_ASSIGN(ClaimRequest claim, ParseClaimBody(empty));
    EXPECT_EQ(claim.worker, "");
    EXPECT_THAT(claim.tags, IsEmpty());
    EXPECT_FALSE(claim.lease.has_value());
  }
  CASCADE_ASSERT_OK_AND_ASSIGN(
      ClaimRequest claim,
      ParseClaimBody(R"({"worker": "node-7", "tags": ["gpu", "4k"], "leaseSeconds": 1.5})"));
  EXPECT_EQ(claim.worker, "node-7");
  EXPECT_THAT(claim.tags, ElementsAre("gpu", "4k"));
  EXPECT_EQ(claim.lease, absl::Milliseconds(1500));
}

TEST(WorkerBodiesTest, ClaimBodyNamesEachBadField) {
  absl::StatusOr<ClaimRequest> bad =
      ParseClaimBody(R"({"worker": 7, "tags": ["gpu", 4], "leaseSeconds": 0})");
  EXPECT_THAT(bad, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("invalid claim")));
  EXPECT_THAT(
      GetFieldViolations(bad.status()),
      ElementsAre(FieldViolation{"worker", "must be a string"},
                  FieldViolation{"tags[1]", "must be a string"},
                  FieldViolation{"leaseSeconds", "must be more than 0 and at most 86400 seconds"}));
  EXPECT_THAT(ParseClaimBody("[]"), HasViolation("body", "must be a JSON object"));
  EXPECT_THAT(ParseClaimBody("{"), HasViolation("body", "ends early"));
}

TEST(WorkerBodiesTest, LeasedBodiesNeedTheLeaseAndReadTheirFields) {
  CASCADE_ASSERT_OK_AND_ASSIGN(
      HeartbeatBody heartbeat,
      ParseHeartbeatBody(R"({"lease": "t1", "progress": 50, "extendSeconds": 30})"));
  EXPECT_EQ(heartbeat.lease, "t1");
  EXPECT_EQ(heartbeat.report.progress, 50);
  EXPECT_EQ(heartbeat.report.extend, absl::Seconds(30));
  CASCADE_ASSERT_OK_AND_ASSIGN(FinishBody finish,
                               ParseFinishBody(R"({"lease": "t2", "outputUrl": "s3://b/o.mp4"})"));
  EXPECT_EQ(finish.lease, "t2");
  EXPECT_EQ(finish.report.output_url, "s3://b/o.mp4");
  CASCADE_ASSERT_OK_AND_ASSIGN(FailBody fail, ParseFailBody(R"({"lease": "t3", "error": "oom"})"));
  EXPECT_EQ(fail.lease, "t3");
  EXPECT_EQ(fail.report.error, "oom");
  EXPECT_TRUE(fail.report.retry) << "a fail is retried unless it says not";
  CASCADE_ASSERT_OK_AND_ASSIGN(FailBody final_fail,
                               ParseFailBody(R"({"lease": "t3", "retry": false})"));
  EXPECT_FALSE(final_fail.report.retry);
  CASCADE_ASSERT_OK_AND_ASSIGN(ReleaseBody release, ParseReleaseBody(R"({"lease": "t4"})"));
  EXPECT_EQ(release.lease, "t4");

  EXPECT_THAT(ParseHeartbeatBody(""), HasViolation("body", "empty"));
  absl::StatusOr<HeartbeatBody> bad = ParseHeartbeatBody(R"({"progress": "half"})");
  EXPECT_THAT(bad, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("invalid heartbeat")));
  EXPECT_THAT(GetFieldViolations(bad.status()),
              ElementsAre(FieldViolation{"lease", "is required"},
                          FieldViolation{"progress", "must be a number"}));
  EXPECT_THAT(ParseFinishBody(R"({"lease": 1})"), HasViolation("lease", "must be a string"));
  EXPECT_THAT(ParseFailBody(R"({"lease": "t", "error": {}})"),
              HasViolation("error", "must be a string"));
  EXPECT_THAT(ParseFailBody(R"({"lease": "t", "retry": "no"})"),
              HasViolation("retry", "must be true or false"));
  EXPECT_THAT(ParseReleaseBody("{}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("invalid release")));
}

TEST(WorkerBodiesTest, ClaimAnswerCarriesThePayloadAsJsonOrElseAsAString) {
  ClaimedJob claimed;
  claimed.lease = {.token = "tok", .expires_at = absl::FromUnixSeconds(0)};
  claimed.payload = R"({"template":{"id":"t"}})";
  json::object answer = ClaimResponseToJson(claimed);
  EXPECT_EQ(answer.at("payload"), Parse(claimed.payload));
  EXPECT_EQ(WriteJson(answer.at("lease")),
            R"({"token":"tok","expiresAt":"1970-01-01T00:00:00.000Z"})");
  claimed.payload = "not json";
  EXPECT_EQ(ClaimResponseToJson(claimed).at("payload"), "not json");
}

// ---- Query strings ---------------------------------------------------------------------

TEST(QueryTest, ParametersArePercentDecodedInOrder) {
  using Params = std::vector<std::pair<std::string, std::string>>;
  CASCADE_ASSERT_OK_AND_ASSIGN(Params params, ParseQueryString("a=1&&b=%41+c%2c&d&=e&a=2"));
  EXPECT_EQ(params, (Params{{"a", "1"}, {"b", "A c,"}, {"d", ""}, {"", "e"}, {"a", "2"}}));
  EXPECT_THAT(ParseQueryString(""), IsOk());
  EXPECT_THAT(ParseQueryString("a=%4"),
              HasViolation("query", "malformed percent-escape in 'a=%4'"));
  EXPECT_THAT(ParseQueryString("%zz=1"), HasViolation("query", "malformed percent-escape"));
}

TEST(QueryTest, JobsQueryReadsTheListParameters) {
  CASCADE_ASSERT_OK_AND_ASSIGN(ListQuery q,
                               ParseJobsQuery("states=queued%2Cpending&limit=5&minimal=true"));
  EXPECT_THAT(q.states, ElementsAre(JobState::kQueued, JobState::kPending));
  EXPECT_EQ(q.limit, 5u);
  EXPECT_TRUE(q.minimal);
  EXPECT_THAT(ParseJobsQuery("limit=x"), HasViolation("limit", "'x'"));
  EXPECT_THAT(ParseJobsQuery("limit=%"), HasViolation("query", "malformed percent-escape"));
}

// A `GET /jobs` query parameter value the document's schema for it refuses.
struct RefusedParameter {
  const char* name;
  const char* parameter;
  const char* value;  // decoded
};

void PrintTo(const RefusedParameter& r, std::ostream* os) { *os << r.name; }

// The query text of one parameter, percent-encoded where needed.
std::string QueryOf(std::string_view parameter, std::string_view value) {
  std::string out = absl::StrCat(wire::Sv(parameter), "=");
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == ',' || c == ':') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, "%", absl::Hex(c, absl::kZeroPad2));
    }
  }
  return out;
}

class RefusedParameterTest : public ::testing::TestWithParam<RefusedParameter> {};

TEST_P(RefusedParameterTest, IsRefusedByTheDocumentAndByParseJobsQuery) {
  const RefusedParameter& c = GetParam();
  EXPECT_THAT(Api().ValidateQueryParameter("get", "/jobs", c.parameter, c.value),
              ::testing::Not(IsEmpty()));
  EXPECT_THAT(ParseJobsQuery(QueryOf(c.parameter, c.value)), HasViolation(c.parameter, ""));
}

INSTANTIATE_TEST_SUITE_P(
    Parameters, RefusedParameterTest,
    ::testing::Values(RefusedParameter{"TagWithASpaceAndABang", "tags", "bad tag!"},
                      RefusedParameter{"EmptyTagInTheMiddle", "tags", "a,,b"},
                      RefusedParameter{"TrailingComma", "tags", "a,"},
                      RefusedParameter{"NoTags", "tags", ""},
                      RefusedParameter{"TagWithAColon", "tags", "gpu:a100"},
                      RefusedParameter{"TagWithADot", "tags", "v1.2"},
                      RefusedParameter{"TagNotAscii", "tags", "caf\xC3\xA9"},
                      RefusedParameter{"LimitZero", "limit", "0"},
                      RefusedParameter{"LimitOverAThousand", "limit", "1001"},
                      RefusedParameter{"LimitWord", "limit", "ten"},
                      RefusedParameter{"LimitFraction", "limit", "1.5"},
                      RefusedParameter{"FromNegative", "from", "-1"},
                      RefusedParameter{"FromWord", "from", "start"},
                      RefusedParameter{"SortUnknown", "sort", "fastest"},
                      RefusedParameter{"MinimalMaybe", "minimal", "maybe"},
                      RefusedParameter{"MinimalOne", "minimal", "1"},
                      RefusedParameter{"FromDateADateOnly", "from_date", "2026-01-01"},
                      RefusedParameter{"FromDateWithoutOffset", "from_date", "2026-11-22T18:30:00"},
                      RefusedParameter{"FromDateMinutesOnly", "from_date", "2026-11-22T18:30Z"},
                      RefusedParameter{"ToDateWord", "to_date", "yesterday"}),
    [](const ::testing::TestParamInfo<RefusedParameter>& info) {
      return std::string(info.param.name);
    });

TEST(QueryTest, WhatTheDocumentAcceptsIsAccepted) {
  for (const auto& [parameter, value] : std::vector<std::pair<std::string, std::string>>{
           {"tags", "a-b_c,D9"},
           {"tags", "x"},
           {"limit", "1000"},
           {"limit", "1"},
           {"from", "0"},
           {"sort", "priority"},
           {"minimal", "false"},
           {"from_date", "2026-11-22T18:30:00Z"},
           {"to_date", "2026-11-22T18:30:00.123+01:00"},
           {"states", "queued,processing,finished"}}) {
    EXPECT_THAT(Api().ValidateQueryParameter("get", "/jobs", parameter, value), IsEmpty());
    EXPECT_THAT(ParseJobsQuery(QueryOf(parameter, value)), IsOk()) << parameter << "=" << value;
  }
}

TEST(QueryTest, ProcessingIsTheRenderingState) {
  CASCADE_ASSERT_OK_AND_ASSIGN(ListQuery q, ParseJobsQuery("states=queued,processing"));
  EXPECT_THAT(q.states, ElementsAre(JobState::kQueued, JobState::kRendering));
  CASCADE_ASSERT_OK_AND_ASSIGN(ListQuery only, ParseJobsQuery("states=processing"));
  EXPECT_THAT(only.states, ElementsAre(JobState::kRendering));
  CASCADE_ASSERT_OK_AND_ASSIGN(ListQuery excluded, ParseJobsQuery("exclude_states=processing"));
  EXPECT_THAT(excluded.exclude_states, ElementsAre(JobState::kRendering));
  // Only as a whole name.
  EXPECT_THAT(ParseJobsQuery("states=processing2"), HasViolation("states", "processing2"));
  // Names the document does not list are still Cascade's to refuse (§6).
  EXPECT_THAT(ParseJobsQuery("states=nope"), HasViolation("states", "nope"));
}

TEST(QueryTest, EachBadParameterIsNamedOnceAndEveryOccurrenceIsChecked) {
  absl::StatusOr<ListQuery> q =
      ParseJobsQuery("tags=ok&tags=bad+tag!&limit=0&from_date=2026-01-01&from_date=x");
  EXPECT_THAT(q, HasViolation("tags", "'bad tag!' is not a comma-separated list of tags"));
  EXPECT_THAT(q, HasViolation("limit", "'0'"));
  EXPECT_THAT(q, HasViolation("from_date", "'2026-01-01' is not an RFC 3339 date-time"));
  EXPECT_THAT(GetFieldViolations(q.status()), SizeIs(3));
}

// ---- The validator itself -----------------------------------------------------------

TEST(OpenApiValidatorTest, FindsEachKindOfProblem) {
  const OpenApiValidator& api = Api();
  EXPECT_THAT(api.Validate(Parse(R"({"id": 1})"), "Job"),
              ElementsAre("$.id: expected string, got integer"));
  EXPECT_THAT(api.Validate(Parse(R"({"stats": {"createdAt": null}})"), "Job"),
              ElementsAre(HasSubstr("$.stats.createdAt: is null")));
  EXPECT_THAT(api.Validate(Parse(R"({"stats": {"createdAt": "yesterday"}})"), "Job"),
              ElementsAre(HasSubstr("not an RFC 3339 date-time")));
  EXPECT_THAT(api.Validate(Parse(R"({"templateId": null, "stats": {"error": null}})"), "Job"),
              IsEmpty());
  EXPECT_THAT(api.Validate(Parse(R"({"status": "queued"})"), "JobCreationResponse"),
              ElementsAre(HasSubstr("missing required property 'id'"),
                          HasSubstr("missing required property 'outputUrl'")));
  EXPECT_THAT(api.Validate(Parse(R"({"batchId": "b", "status": "gone", "stats": {}, "jobs": []})"),
                           "BatchStatusResponse"),
              ElementsAre(HasSubstr(R"("gone" is not one of)")));
  EXPECT_THAT(api.Validate(Parse(R"({"jobs": []})"), "JobCancellationRequest"),
              ElementsAre(HasSubstr("fewer than 1")));
  EXPECT_THAT(api.Validate(Parse(R"({"jobs": ["x"]})"), "JobCancellationRequest"),
              ElementsAre(HasSubstr("does not match")));
  EXPECT_THAT(api.Validate(Parse(R"({"template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1NB"},
                                     "settings": {"fps": 30}})"),
                           "JobCreation"),
              ElementsAre(HasSubstr("unexpected property 'fps'")));
  // The discriminator sends a "job" asset to JobAssetNested, which needs layerName.
  EXPECT_THAT(api.Validate(Parse(R"({"template": {"id": "T"},
                                     "assets": [{"type": "job", "template": {"id": "C",
                                                 "composition": "c"}}]})"),
                           "JobCreation"),
              ::testing::Contains(HasSubstr("missing required property 'layerName'")));
  EXPECT_THAT(api.Validate(Parse(R"({"template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1NB"},
                                     "assets": [{"type": "image", "src": "x"}]})"),
                           "JobCreation"),
              IsEmpty());
  EXPECT_THAT(api.Validate(Parse("{}"), "NoSuchSchema"),
              ElementsAre("no schema named NoSuchSchema"));
  EXPECT_THAT(api.Validate(Parse(R"({"error": "x"})"), "ErrorResponse",
                           OpenApiValidator::Options{.require_all_properties = true}),
              IsEmpty());
  EXPECT_THAT(api.Validate(Parse(R"({})"), "Job",
                           OpenApiValidator::Options{.require_all_properties = true}),
              SizeIs(6));
}

TEST(OpenApiValidatorTest, ResponsesAreCheckedAgainstTheirOperationAndStatus) {
  EXPECT_THAT(Api().ValidateResponse("get", "/jobs/{id}", 200, R"({"id": "01J"})"), IsEmpty());
  EXPECT_THAT(Api().ValidateResponse("get", "/jobs/{id}", 200, R"({"id": 5})"),
              ElementsAre(HasSubstr("$.id")));
  EXPECT_THAT(Api().ValidateResponse("get", "/jobs/{id}", 418, "{}"),
              ElementsAre(HasSubstr("does not list it")));
  EXPECT_THAT(Api().ValidateResponse("get", "/nowhere", 200, "{}"),
              ElementsAre(HasSubstr("no such operation")));
  EXPECT_THAT(Api().ValidateResponse("get", "/jobs/{id}", 200, "{"),
              ElementsAre(HasSubstr("not JSON")));
}

TEST(OpenApiValidatorTest, UnsupportedKeywordsAreProblemsNotSilence) {
  const OpenApiValidator& api = Api();
  EXPECT_THAT(api.ValidateAgainst(Parse("1"), Parse(R"({"type": "integer", "multipleOf": 2})"), {}),
              ElementsAre(HasSubstr("unsupported schema keyword 'multipleOf'")));
}

}  // namespace
}  // namespace cascade
