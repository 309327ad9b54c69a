// Copyright 2026 The Cascade Authors.
//
// cascade-server's nexrender v1 bridge (contract §15, server/v1_api.h) over
// real HTTP: the calls an unmodified nexrender worker and @nexrender/api make
// (create, pickup, PUT started / render:* / finished / error / queued,
// status, fetch, list, delete), the secret, the long lease, any-tag pickups,
// `200 {}` on an empty queue, 409 for a job the worker no longer holds
// (expired, aborted, cancelled, another worker's), and the v1 JSON kept whole.

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/json/openapi_validator.h"
#include "tests/server_harness.h"
#include "tests/testutil.h"

namespace cascade {
namespace {

namespace json = boost::json;
using http_verb = boost::beast::http::verb;
using ::cascade::testing::HttpAnswer;
using ::cascade::testing::OpenApiValidator;
using ::cascade::testing::ServerHarness;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr char kClient[] = "client-a";
constexpr char kClientB[] = "client-b";
constexpr char kWorker[] = "worker-token";
constexpr char kSecret[] = "v1-secret-a";
constexpr char kSecretB[] = "v1-secret-b";
constexpr char kTemplate[] = "01HZX3C5Y5V7E8W3J6T9Q2M1NB";
constexpr char kWrongSecretText[] =
    "Wrong or no authentication secret provided. Please check the \"nexrender-secret\" header.";

// The text of a JSON string value ("<not a string>" otherwise), to compare
// with a std::string.
std::string S(const json::value& v) {
  return v.is_string() ? std::string(v.get_string()) : "<not a string: " + json::serialize(v) + ">";
}

const OpenApiValidator& Document() {
  static const OpenApiValidator* v = [] {
    absl::StatusOr<OpenApiValidator> loaded = OpenApiValidator::LoadFile(CASCADE_OPENAPI_PATH);
    if (!loaded.ok()) std::abort();
    return new OpenApiValidator(*std::move(loaded));
  }();
  return *v;
}

// A v1 job as a nexrender user writes one: every asset type, actions, and
// fields Cascade knows nothing of.
std::string V1Job(std::string tags = "a,b") {
  return absl::StrCat(R"({
    "template": {"src": "file:///projects/promo.aep", "composition": "main",
                 "frameStart": 0, "frameEnd": 120, "outputExt": "mp4"},
    "assets": [
      {"type": "image", "src": "https://example.com/logo.png", "layerName": "logo.png"},
      {"type": "audio", "src": "file:///audio.mp3", "layerIndex": 4},
      {"type": "data", "layerName": "title", "property": "Source Text", "value": "Hello"},
      {"type": "data", "layerIndex": 2, "property": "Position", "expression": "[0, 0]"},
      {"type": "script", "src": "file:///script.js", "keyword": "NX"},
      {"type": "static", "src": "file:///font.ttf"}
    ],
    "actions": {"prerender": [], "postrender": [
      {"module": "@nexrender/action-encode", "preset": "mp4", "output": "encoded.mp4"}]},
    "tags": ")",
                      tags,
                      R"(", "priority": 7, "onChange": "x", "custom": {"deep": [1, 2.5, null]}})");
}

class ServerV1Test : public ::testing::Test {
 protected:
  ServerV1Test()
      : server_({"--v1-secret", absl::StrCat(kSecret, "=team-a"), "--v1-secret",
                 absl::StrCat(kSecretB, "=team-b"), "--max-attempts", "2"},
                {{kClient, "team-a"}, {kClientB, "team-b"}}, kWorker) {}

  // A v1 call with `secret` (none if empty) and, as a worker, `name`.
  HttpAnswer V1(http_verb method, const std::string& path, const std::string& body = "",
                const std::string& secret = kSecret, const std::string& name = "node-1") {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!secret.empty()) headers.emplace_back("nexrender-secret", secret);
    if (!name.empty()) headers.emplace_back("nexrender-name", name);
    return server_.Call(method, "/api/v1" + path, headers, body);
  }
  HttpAnswer V2(http_verb method, const std::string& path, const std::string& body = "",
                const std::string& token = kClient) {
    return server_.Call(method, "/api/v2" + path, {{"authorization", "Bearer " + token}}, body);
  }

  std::string Create(const std::string& body = V1Job()) {
    HttpAnswer a = V1(http_verb::post, "/jobs", body);
    EXPECT_EQ(a.status, 200) << a.body;
    return std::string(a.Json().at("uid").as_string());
  }
  json::object Pickup(const std::string& tags = "", const std::string& name = "node-1",
                      const std::string& secret = kSecret) {
    HttpAnswer a = V1(http_verb::get, tags.empty() ? "/jobs/pickup" : "/jobs/pickup/" + tags, "",
                      secret, name);
    EXPECT_EQ(a.status, 200) << a.body;
    return a.Json().as_object();
  }
  HttpAnswer Put(const std::string& uid, const json::object& body,
                 const std::string& name = "node-1") {
    return V1(http_verb::put, "/jobs/" + uid, json::serialize(body), kSecret, name);
  }
  json::object Status(const std::string& uid) {
    HttpAnswer a = V1(http_verb::get, "/jobs/" + uid + "/status");
    EXPECT_EQ(a.status, 200) << a.body;
    return a.Json().as_object();
  }
  std::string V2State(const std::string& id) {
    return std::string(V2(http_verb::get, "/jobs/" + id).Json().at("status").as_string());
  }

  ServerHarness server_;
};

TEST_F(ServerV1Test, HealthNeedsNoSecretAndEveryOtherRouteNeedsTheRightOne) {
  HttpAnswer health = V1(http_verb::get, "/health", "", "", "");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok");
  const std::string uid = Create();
  for (const std::string& secret : {std::string(), std::string("wrong"), std::string(kClient)}) {
    for (const auto& [method, path] : std::vector<std::pair<http_verb, std::string>>{
             {http_verb::post, "/jobs"},
             {http_verb::get, "/jobs"},
             {http_verb::get, "/jobs/status"},
             {http_verb::get, "/jobs/" + uid},
             {http_verb::get, "/jobs/" + uid + "/status"},
             {http_verb::put, "/jobs/" + uid},
             {http_verb::delete_, "/jobs/" + uid},
             {http_verb::get, "/jobs/pickup"},
             {http_verb::get, "/jobs/pickup/a"}}) {
      HttpAnswer a = V1(method, path, V1Job(), secret);
      EXPECT_EQ(a.status, 403) << path << " with '" << secret << "'";
      EXPECT_EQ(a.body, kWrongSecretText);
    }
  }
  // Nothing of that changed the job.
  EXPECT_EQ(Status(uid).at("state"), "queued");
}

TEST(ServerV1OffTest, WithoutASecretTheV1RoutesAreNotThere) {
  ServerHarness server({}, {{kClient, "team-a"}}, kWorker);
  for (const std::string& path : {"/api/v1/health", "/api/v1/jobs", "/api/v1/jobs/pickup"}) {
    HttpAnswer a = server.Call(http_verb::get, path, {{"nexrender-secret", kSecret}});
    EXPECT_EQ(a.status, 404) << path;
    EXPECT_THAT(a.body, HasSubstr("--v1-secret"));
  }
  // And a v2 job with a template src carries no v1 tag.
  HttpAnswer created = server.Call(
      http_verb::post, "/api/v2/jobs", {{"authorization", std::string("Bearer ") + kClient}},
      absl::StrCat(R"({"template": {"id": ")", kTemplate, R"(", "src": "file:///a.aep"}})"));
  ASSERT_EQ(created.status, 201);
  HttpAnswer job = server.Call(http_verb::get, "/api/v2/jobs/" + S(created.Json().at("id")),
                               {{"authorization", std::string("Bearer ") + kClient}});
  EXPECT_TRUE(job.Json().at("tags").as_array().empty());
}

TEST_F(ServerV1Test, AJobIsKeptWholeAndAnsweredInV1AndV2) {
  HttpAnswer created = V1(http_verb::post, "/jobs", V1Job());
  ASSERT_EQ(created.status, 200) << created.body;
  EXPECT_EQ(created.content_type, "application/json");
  json::object job = created.Json().as_object();
  const std::string uid(job.at("uid").as_string());
  EXPECT_TRUE(JobId::Parse(uid).ok()) << uid;
  EXPECT_EQ(job.at("state"), "queued");
  EXPECT_EQ(job.at("type"), "default");
  EXPECT_EQ(job.at("tags"), "a,b");
  EXPECT_EQ(job.at("priority"), 7);
  EXPECT_EQ(job.at("renderProgress"), 0);
  EXPECT_EQ(job.at("creator"), "127.0.0.1");
  EXPECT_TRUE(job.at("createdAt").is_string());
  EXPECT_TRUE(job.at("startedAt").is_null());

  // GET answers it with every field the user sent, as sent.
  json::object sent = json::parse(V1Job()).as_object();
  HttpAnswer fetched = V1(http_verb::get, "/jobs/" + uid);
  ASSERT_EQ(fetched.status, 200);
  json::object got = fetched.Json().as_object();
  for (std::string_view key : {"template", "assets", "actions", "onChange", "custom", "priority"}) {
    EXPECT_EQ(got.at(key), sent.at(key)) << key;
  }
  EXPECT_EQ(S(got.at("uid")), uid);

  // The v2 view is a valid `Job`, tagged for v1 workers.
  HttpAnswer v2 = V2(http_verb::get, "/jobs/" + uid);
  ASSERT_EQ(v2.status, 200);
  EXPECT_THAT(Document().Validate(v2.Json(), "Job"), IsEmpty()) << v2.body;
  EXPECT_TRUE(v2.Json().at("templateId").is_null());
  EXPECT_EQ(v2.Json().at("priority"), 7);
  EXPECT_EQ(v2.Json().at("stats").at("totalAssets"), 6);
  EXPECT_THAT(
      v2.Json().at("tags").as_array(),
      UnorderedElementsAre(json::value("a"), json::value("b"), json::value("nexrender-v1")));

  // The status: nexrender's getRenderingStatus, field for field.
  json::object status = Status(uid);
  std::vector<std::string> keys;
  for (const auto& kv : status) keys.emplace_back(kv.key());
  EXPECT_THAT(keys, UnorderedElementsAre("uid", "state", "type", "tags", "renderProgress", "error",
                                         "createdAt", "updatedAt", "startedAt", "finishedAt",
                                         "errorAt", "jobCreator", "jobExecutor", "timings"));
  EXPECT_EQ(S(status.at("uid")), uid);
  EXPECT_EQ(status.at("jobCreator"), "127.0.0.1");
  EXPECT_TRUE(status.at("jobExecutor").is_null());
}

TEST_F(ServerV1Test, ACreationIsRefusedAsNexrendersValidateWould) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({})", "template"},
      {R"({"template": {"composition": "c"}})", "template.src"},
      {R"({"template": {"src": "", "composition": "c"}})", "template.src"},
      {R"({"template": {"src": "s"}})", "template.composition"},
      {R"({"template": {"src": "s", "composition": "c"}, "assets": {}})", "assets"},
      {R"({"template": {"src": "s", "composition": "c"}, "assets": [null]})", "assets[0]"},
      {R"({"template": {"src": "s", "composition": "c"}, "assets": [{"src": "x"}]})",
       "assets[0].type"},
      {R"({"template": {"src": "s", "composition": "c"}, "assets": [{"type": "job"}]})",
       "assets[0].type"},
      {R"({"template": {"src": "s", "composition": "c"},
           "assets": [{"type": "image", "src": "x"}]})",
       "assets[0].layerName"},
      {R"({"template": {"src": "s", "composition": "c"},
           "assets": [{"type": "video", "layerName": "l"}]})",
       "assets[0].src"},
      {R"({"template": {"src": "s", "composition": "c"},
           "assets": [{"type": "data", "layerName": "l", "value": 1}]})",
       "assets[0].property"},
      {R"({"template": {"src": "s", "composition": "c"},
           "assets": [{"type": "data", "layerName": "l", "property": "p"}]})",
       "assets[0].value"},
      {R"({"template": {"src": "s", "composition": "c"}, "assets": [{"type": "static"}]})",
       "assets[0].src"},
      {R"({"template": {"src": "s", "composition": "c"}, "actions": null})", "actions"},
      {R"({"template": {"src": "s", "composition": "c"},
           "actions": {"postrender": [{"preset": "mp4"}]}})",
       "actions.postrender[0].module"},
      {R"({"template": {"src": "s", "composition": "c"}, "tags": 5})", "tags"},
      {R"({"template": {"src": "s", "composition": "c"}, "priority": "high"})", "priority"},
      {R"([])", "body"},
      {R"({"template": )", "body"},
  };
  for (const auto& [body, field] : cases) {
    HttpAnswer a = V1(http_verb::post, "/jobs", body);
    EXPECT_EQ(a.status, 400) << body;
    bool named = false;
    const json::value answer = a.Json();
    for (const json::value& d : answer.at("details").as_array()) {
      named |= S(d.at("field")) == field;
    }
    EXPECT_TRUE(named) << body << " -> " << a.body;
  }
  EXPECT_EQ(V1(http_verb::get, "/jobs").Json().as_array().size(), 0u);
  // A data asset's value may be any value but absent, even false or null.
  EXPECT_EQ(V1(http_verb::post, "/jobs",
               R"({"template": {"src": "s", "composition": "c"},
                   "assets": [{"type": "data", "layerName": "l", "property": "p", "value": false}]})")
                .status,
            200);
}

TEST_F(ServerV1Test, PickupAnswersAnEmptyObjectWhenNothingIsQueued) {
  HttpAnswer a = V1(http_verb::get, "/jobs/pickup");
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, "{}");
  EXPECT_EQ(V1(http_verb::get, "/jobs/pickup/gpu").body, "{}");
}

TEST_F(ServerV1Test, PickupTakesAJobCarryingAnyOfTheTags) {
  const std::string ab = Create(V1Job("a,b"));
  const std::string c = Create(V1Job("c"));
  EXPECT_EQ(json::serialize(Pickup("x,y")), "{}");
  json::object got = Pickup("x,b");  // b matches ab only
  EXPECT_EQ(S(got.at("uid")), ab);
  EXPECT_EQ(Pickup("a,b"), json::object());  // ab is taken; c has neither
  EXPECT_EQ(S(Pickup("%20c%20,z").at("uid")), c);
}

TEST_F(ServerV1Test, PickupTakesV2JobsOnlyWhenTheirTemplateHasASource) {
  HttpAnswer plain =
      V2(http_verb::post, "/jobs", absl::StrCat(R"({"template": {"id": ")", kTemplate, R"("}})"));
  ASSERT_EQ(plain.status, 201);
  EXPECT_EQ(json::serialize(Pickup()), "{}");
  HttpAnswer with_src =
      V2(http_verb::post, "/jobs",
         absl::StrCat(R"({"template": {"id": ")", kTemplate,
                      R"(", "src": "https://example.com/t.aep", "composition": "main"},
                         "tags": ["gpu"], "settings": {"type": "video"}})"));
  ASSERT_EQ(with_src.status, 201) << with_src.body;
  const std::string id(with_src.Json().at("id").as_string());
  json::object got = Pickup();
  ASSERT_EQ(S(got.at("uid")), id);
  EXPECT_EQ(got.at("state"), "picked");
  EXPECT_EQ(got.at("template").at("src"), "https://example.com/t.aep");
  EXPECT_EQ(got.at("template").at("composition"), "main");
  EXPECT_EQ(got.at("tags"), "gpu");  // the v1 tag is Cascade's, not shown to v1
  EXPECT_EQ(got.at("settings").at("type"), "video");
  EXPECT_EQ(got.at("executor"), "node-1");
  EXPECT_EQ(V2State(id), "render:dorender");
  // The v2 job shows the tag that made it v1-runnable.
  EXPECT_THAT(V2(http_verb::get, "/jobs/" + id).Json().at("tags").as_array(),
              UnorderedElementsAre(json::value("gpu"), json::value("nexrender-v1")));
}

TEST_F(ServerV1Test, AWorkersStateReportsDriveTheJob) {
  const std::string uid = Create();
  json::object job = Pickup();
  ASSERT_EQ(S(job.at("uid")), uid);
  EXPECT_EQ(job.at("state"), "picked");
  EXPECT_EQ(Status(uid).at("state"), "picked");
  EXPECT_EQ(Status(uid).at("jobExecutor"), "node-1");

  // The worker's first report is its whole job, as it got it, state started.
  job["state"] = "started";
  HttpAnswer started = Put(uid, job);
  ASSERT_EQ(started.status, 200) << started.body;
  EXPECT_EQ(started.Json().at("state"), "started");
  EXPECT_EQ(started.Json().at("template"), json::parse(V1Job()).at("template"));

  // Then getRenderingStatus shapes.
  json::object progress = Status(uid);
  progress["state"] = "render:dorender";
  progress["renderProgress"] = 40;
  ASSERT_EQ(Put(uid, progress).status, 200);
  json::object status = Status(uid);
  EXPECT_EQ(status.at("state"), "render:dorender");
  EXPECT_EQ(status.at("renderProgress"), 40);
  EXPECT_EQ(V2(http_verb::get, "/jobs/" + uid).Json().at("progress"), 40);

  // The long lease: three hours of silence lose nothing.
  server_.Advance(absl::Hours(3));
  progress["renderProgress"] = 150;  // clamped, never refused
  ASSERT_EQ(Put(uid, progress).status, 200);
  EXPECT_EQ(Status(uid).at("renderProgress"), 100);

  progress["state"] = "finished";
  HttpAnswer finished = Put(uid, progress);
  ASSERT_EQ(finished.status, 200) << finished.body;
  EXPECT_EQ(finished.Json().at("state"), "finished");
  EXPECT_EQ(V2State(uid), "finished");
  status = Status(uid);
  EXPECT_EQ(status.at("state"), "finished");
  EXPECT_TRUE(status.at("finishedAt").is_string());
  // It is no longer the worker's.
  EXPECT_EQ(Put(uid, progress).status, 409);
}

TEST_F(ServerV1Test, AnErrorReportRetriesWhileAttemptsLastAndAQueuedReportGivesTheJobBack) {
  const std::string uid = Create();
  ASSERT_EQ(S(Pickup().at("uid")), uid);
  json::object report{{"state", "error"}, {"error", json::array{"aerender failed", "exit 1"}}};
  HttpAnswer failed = Put(uid, report);
  ASSERT_EQ(failed.status, 200) << failed.body;
  EXPECT_EQ(failed.Json().at("state"), "queued");  // attempt 1 of 2
  EXPECT_EQ(failed.Json().at("error"), "aerender failed\n\nexit 1");

  ASSERT_EQ(S(Pickup().at("uid")), uid);
  HttpAnswer released = Put(uid, json::object{{"state", "queued"}});
  ASSERT_EQ(released.status, 200) << released.body;
  EXPECT_EQ(V2State(uid), "error");  // a release uses the last attempt
  EXPECT_EQ(released.Json().at("state"), "error");

  const std::string second = Create();
  ASSERT_EQ(S(Pickup().at("uid")), second);
  ASSERT_EQ(Put(second, json::object{{"state", "queued"}}).status, 200);
  EXPECT_EQ(V2State(second), "queued");
  EXPECT_EQ(S(Pickup().at("uid")), second);
}

TEST_F(ServerV1Test, AReportWithAnotherStateIsRefused) {
  const std::string uid = Create();
  ASSERT_EQ(S(Pickup().at("uid")), uid);
  for (const std::string& body :
       {R"({"state": "picked"})", R"({"state": "created"})", R"({"renderProgress": 5})",
        R"({"state": 3})", R"([])", R"(nope)"}) {
    HttpAnswer a = V1(http_verb::put, "/jobs/" + uid, body);
    EXPECT_EQ(a.status, 400) << body << " -> " << a.body;
  }
  EXPECT_THAT(V1(http_verb::put, "/jobs/" + uid, R"({"state": "picked"})").body,
              HasSubstr("started, render:<stage>, finished, error or queued"));
  EXPECT_EQ(Status(uid).at("state"), "picked");
}

TEST_F(ServerV1Test, AJobTheWorkerNoLongerHoldsIs409) {
  // Expired: the lease (4 h by default) ran out without a report.
  const std::string expired = Create();
  ASSERT_EQ(S(Pickup().at("uid")), expired);
  server_.Advance(absl::Hours(4) + absl::Seconds(1));
  EXPECT_EQ(V2State(expired), "queued");
  HttpAnswer late = Put(expired, json::object{{"state", "render:dorender"}});
  EXPECT_EQ(late.status, 409) << late.body;
  EXPECT_EQ(Put(expired, json::object{{"state", "finished"}}).status, 409);
  EXPECT_EQ(V2State(expired), "queued");

  // Aborted through v2: the next report ends it.
  ASSERT_EQ(S(Pickup().at("uid")), expired);
  ASSERT_EQ(V2(http_verb::post, "/jobs/" + expired + "/abort").status, 200);
  HttpAnswer aborted = Put(expired, json::object{{"state", "render:dorender"}});
  EXPECT_EQ(aborted.status, 409);
  EXPECT_THAT(aborted.body, HasSubstr("aborted"));
  EXPECT_EQ(V2State(expired), "manually_cancelled");
  EXPECT_EQ(Status(expired).at("state"), "error");
  EXPECT_EQ(Put(expired, json::object{{"state", "finished"}}).status, 409);

  // Cancelled (a v1 DELETE of a picked job): at once.
  const std::string removed = Create();
  ASSERT_EQ(S(Pickup().at("uid")), removed);
  HttpAnswer del = V1(http_verb::delete_, "/jobs/" + removed);
  ASSERT_EQ(del.status, 200);
  EXPECT_EQ(del.Json(), (json::object{{"id", removed}, {"removed", true}}));
  EXPECT_EQ(V2State(removed), "manually_cancelled");
  EXPECT_EQ(Put(removed, json::object{{"state", "started"}}).status, 409);

  // Another worker's.
  const std::string other = Create();
  ASSERT_EQ(S(Pickup("", "node-1").at("uid")), other);
  HttpAnswer stolen = Put(other, json::object{{"state", "finished"}}, "node-2");
  EXPECT_EQ(stolen.status, 409);
  EXPECT_THAT(stolen.body, HasSubstr("node-1"));
  EXPECT_EQ(V2State(other), "render:dorender");

  // Never picked, and unknown.
  const std::string queued = Create();
  EXPECT_EQ(Put(queued, json::object{{"state", "started"}}).status, 409);
  EXPECT_EQ(Put("01JTRDF7HCR8QAHYW8GPCP4S9Y", json::object{{"state", "started"}}).status, 404);
  EXPECT_EQ(Put("nope", json::object{{"state", "started"}}).status, 404);
}

TEST_F(ServerV1Test, TheLeaseLengthIsTheFlags) {
  ServerHarness short_lease({"--v1-secret", "s=t", "--v1-lease-seconds", "60"}, {}, kWorker);
  auto v1 = [&](http_verb m, const std::string& path, const std::string& body = "") {
    return short_lease.Call(m, "/api/v1" + path, {{"nexrender-secret", "s"}}, body);
  };
  const std::string uid(v1(http_verb::post, "/jobs", V1Job()).Json().at("uid").as_string());
  ASSERT_EQ(S(v1(http_verb::get, "/jobs/pickup").Json().at("uid")), uid);
  short_lease.Advance(absl::Seconds(50));
  ASSERT_EQ(v1(http_verb::put, "/jobs/" + uid, R"({"state": "started"})").status, 200);
  short_lease.Advance(absl::Seconds(50));  // the report renewed the lease
  ASSERT_EQ(v1(http_verb::put, "/jobs/" + uid, R"({"state": "render:dorender"})").status, 200);
  short_lease.Advance(absl::Seconds(61));
  EXPECT_EQ(v1(http_verb::put, "/jobs/" + uid, R"({"state": "finished"})").status, 409);
}

TEST_F(ServerV1Test, DeleteStopsTheJobAndKeepsItsRecord) {
  const std::string queued = Create();
  ASSERT_EQ(V1(http_verb::delete_, "/jobs/" + queued).status, 200);
  EXPECT_EQ(V2State(queued), "manually_cancelled");
  json::object status = Status(queued);
  EXPECT_EQ(status.at("state"), "error");
  EXPECT_EQ(status.at("error"), "Cancelled via API");
  // Again, and on an ended job: nothing more to do.
  EXPECT_EQ(V1(http_verb::delete_, "/jobs/" + queued).status, 200);
  EXPECT_EQ(V2State(queued), "manually_cancelled");
  // A job a v2 worker renders is asked to stop.
  HttpAnswer v2 =
      V2(http_verb::post, "/jobs", absl::StrCat(R"({"template": {"id": ")", kTemplate, R"("}})"));
  const std::string id(v2.Json().at("id").as_string());
  ASSERT_EQ(server_
                .Call(http_verb::post, "/api/v2/workers/claim",
                      {{"authorization", std::string("Bearer ") + kWorker}}, "{}")
                .status,
            200);
  ASSERT_EQ(V1(http_verb::delete_, "/jobs/" + id).status, 200);
  EXPECT_EQ(V2(http_verb::get, "/jobs/" + id).Json().at("cancelRequested"), true);
  EXPECT_EQ(V1(http_verb::delete_, "/jobs/01JTRDF7HCR8QAHYW8GPCP4S9Y").status, 404);
  // Another team's job does not exist for this secret.
  EXPECT_EQ(V1(http_verb::delete_, "/jobs/" + id, "", kSecretB).status, 404);
  EXPECT_EQ(V2(http_verb::get, "/jobs/" + id).Json().at("status"), "render:dorender");
}

TEST_F(ServerV1Test, ListsAreTheTeamsV1JobsOldestFirst) {
  const std::string first = Create();
  const std::string second = Create(V1Job("c"));
  HttpAnswer v1_b = V1(http_verb::post, "/jobs", V1Job(), kSecretB);
  ASSERT_EQ(v1_b.status, 200);
  // A v2 job without a template src is not a v1 job.
  ASSERT_EQ(
      V2(http_verb::post, "/jobs", absl::StrCat(R"({"template": {"id": ")", kTemplate, R"("}})"))
          .status,
      201);
  HttpAnswer list = V1(http_verb::get, "/jobs");
  ASSERT_EQ(list.status, 200);
  const json::array jobs = list.Json().as_array();
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(S(jobs[0].at("uid")), first);
  EXPECT_EQ(S(jobs[1].at("uid")), second);
  EXPECT_EQ(jobs[1].at("tags"), "c");
  HttpAnswer statuses = V1(http_verb::get, "/jobs/status");
  ASSERT_EQ(statuses.status, 200);
  ASSERT_EQ(statuses.Json().as_array().size(), 2u);
  EXPECT_EQ(S(statuses.Json().as_array()[0].at("uid")), first);
  EXPECT_EQ(statuses.Json().as_array()[0].as_object().size(), 14u);
  // The other team sees only its own, and not ours.
  EXPECT_EQ(V1(http_verb::get, "/jobs", "", kSecretB).Json().as_array().size(), 1u);
  EXPECT_EQ(V1(http_verb::get, "/jobs/" + first, "", kSecretB).status, 404);
  EXPECT_EQ(V1(http_verb::get, "/jobs/" + first + "/status", "", kSecretB).status, 404);
  EXPECT_EQ(V1(http_verb::get, "/jobs/nope").status, 404);
}

TEST_F(ServerV1Test, PickupsServeTheWholeFarm) {
  const std::string uid = Create();  // team-a's
  json::object got = Pickup("", "node-b", kSecretB);
  ASSERT_EQ(S(got.at("uid")), uid);
  HttpAnswer done =
      V1(http_verb::put, "/jobs/" + uid, R"({"state": "finished"})", kSecretB, "node-b");
  EXPECT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(V2State(uid), "finished");
}

TEST_F(ServerV1Test, WrongMethodsAndUnknownPaths) {
  HttpAnswer a = V1(http_verb::post, "/jobs/pickup");
  EXPECT_EQ(a.status, 405);
  EXPECT_EQ(a.Header("allow"), "GET");
  // A HEAD of a pickup would claim a job and hide it.
  const std::string uid = Create();
  HttpAnswer head = V1(http_verb::head, "/jobs/pickup");
  EXPECT_EQ(head.status, 405);
  EXPECT_EQ(V1(http_verb::head, "/jobs/pickup/a").status, 405);
  EXPECT_EQ(Status(uid).at("state"), "queued");
  EXPECT_EQ(V1(http_verb::head, "/jobs/" + uid).status, 200);
  EXPECT_EQ(V1(http_verb::get, "/nothing").status, 404);
  EXPECT_EQ(V1(http_verb::get, "/jobs/a/b/c").status, 404);
  // Neither /api/v1x nor /api/v10 is the bridge.
  EXPECT_THAT(server_.Call(http_verb::get, "/api/v10/health", {}).body, HasSubstr("/api/v2"));
}

}  // namespace
}  // namespace cascade
