// Copyright 2026 The Cascade Authors.
//
// cascade-server's contract §15 routes for render nodes, over real HTTP: the
// job log (POST /jobs/{id}/logs from the worker holding the lease, GET
// /jobs/{id}/logs as the OpenAPI operation getJobLogs answers: bounded, team
// scoped), the worker list (GET /workers: busy, idle, lost on the test's
// clock; only the caller's team's job ids), and the children a claim answers
// for a job with nested children.

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
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kClient[] = "client-a";
constexpr char kClientB[] = "client-b";
constexpr char kWorker[] = "worker-token";
constexpr char kTemplate[] = "01HZX3C5Y5V7E8W3J6T9Q2M1NB";
constexpr char kNoSuchId[] = "01JTRDF7HCR8QAHYW8GPCP4S9Y";

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

class ServerLogsTest : public ::testing::Test {
 protected:
  ServerLogsTest()
      : server_({"--lease-seconds", "60"}, {{kClient, "team-a"}, {kClientB, "team-b"}}, kWorker) {}

  HttpAnswer Call(http_verb method, const std::string& path, const std::string& body = "",
                  const std::string& token = kClient) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!token.empty()) headers.emplace_back("authorization", "Bearer " + token);
    return server_.Call(method, "/api/v2" + path, headers, body);
  }
  // A GET /jobs/{id}/logs, checked against the document's getJobLogs.
  HttpAnswer GetLog(const std::string& id, const std::string& token = kClient) {
    HttpAnswer a = Call(http_verb::get, "/jobs/" + id + "/logs", "", token);
    EXPECT_THAT(Document().ValidateResponse("get", "/jobs/{id}/logs", a.status, a.body), IsEmpty())
        << a.status << " " << a.body;
    return a;
  }

  std::string Submit(const std::string& token = kClient, const std::string& extra = "") {
    HttpAnswer a =
        Call(http_verb::post, "/jobs",
             absl::StrCat(R"({"template": {"id": ")", kTemplate, R"("})", extra, "}"), token);
    EXPECT_EQ(a.status, 201) << a.body;
    return std::string(a.Json().at("id").as_string());
  }
  // Claims as `worker`: {job id, lease token}.
  std::pair<std::string, std::string> Claim(const std::string& worker = "node-1",
                                            const std::string& tags = "[]") {
    HttpAnswer a =
        Call(http_verb::post, "/workers/claim",
             absl::StrCat(R"({"worker": ")", worker, R"(", "tags": )", tags, "}"), kWorker);
    EXPECT_EQ(a.status, 200) << a.body;
    if (a.status != 200) return {};
    return {std::string(a.Json().at("job").at("id").as_string()),
            std::string(a.Json().at("lease").at("token").as_string())};
  }
  HttpAnswer Append(const std::string& id, const std::string& lease, const json::array& lines) {
    return Call(http_verb::post, "/jobs/" + id + "/logs",
                json::serialize(json::object{{"lease", lease}, {"lines", lines}}), kWorker);
  }

  ServerHarness server_;
};

TEST_F(ServerLogsTest, TheWorkerAppendsAndTheClientReadsTheLogAsGetJobLogsAnswers) {
  const std::string id = Submit();
  EXPECT_EQ(GetLog(id).status, 404);  // nothing logged yet
  const auto [claimed, lease] = Claim();
  ASSERT_EQ(claimed, id);
  HttpAnswer appended = Append(id, lease, {"aerender version 26.0", "PROGRESS: 0:00:01 (1)"});
  EXPECT_EQ(appended.status, 204) << appended.body;
  EXPECT_EQ(appended.body, "");
  ASSERT_EQ(Append(id, lease, {"PROGRESS: done"}).status, 204);

  HttpAnswer log = GetLog(id);
  ASSERT_EQ(log.status, 200);
  EXPECT_EQ(log.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(log.Header("content-disposition"), absl::StrCat("inline; filename=\"", id, ".log\""));
  EXPECT_EQ(log.Header("x-content-type-options"), "nosniff");
  EXPECT_EQ(log.body, "aerender version 26.0\nPROGRESS: 0:00:01 (1)\nPROGRESS: done\n");
  // HEAD: the headers, no body.
  HttpAnswer head = Call(http_verb::head, "/jobs/" + id + "/logs");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");

  // The log outlives the attempt.
  ASSERT_EQ(Call(http_verb::post, "/jobs/" + id + "/finish",
                 absl::StrCat(R"({"lease": ")", lease, R"("})"), kWorker)
                .status,
            200);
  EXPECT_EQ(GetLog(id).body, log.body);
}

TEST_F(ServerLogsTest, TheLogKeepsItsLastMebibyte) {
  const std::string id = Submit();
  const auto [claimed, lease] = Claim();
  ASSERT_EQ(claimed, id);
  const std::string line(1000, 'x');
  for (int call = 0; call < 3; ++call) {
    json::array lines;
    for (int i = 0; i < 500; ++i) lines.emplace_back(absl::StrCat(call, ":", i, ":", line));
    ASSERT_EQ(Append(id, lease, lines).status, 204);
  }
  HttpAnswer log = GetLog(id);
  ASSERT_EQ(log.status, 200);
  // 1.5 MB were sent: the last 1 MiB is kept, from a line's start.
  EXPECT_LE(log.body.size(), kMaxJobLogBytes);
  EXPECT_GT(log.body.size(), kMaxJobLogBytes - 2 * line.size());
  const std::string first_line = log.body.substr(0, log.body.find('\n'));
  EXPECT_TRUE(first_line.ends_with(":" + line)) << first_line.substr(0, 20);
  EXPECT_LE(first_line.size(), line.size() + 8);
  EXPECT_TRUE(log.body.starts_with("0:")) << log.body.substr(0, 20);
  EXPECT_TRUE(log.body.ends_with(absl::StrCat("2:499:", line, "\n")));
}

TEST_F(ServerLogsTest, LogRoutesAreFencedScopedAndChecked) {
  const std::string id = Submit();
  const auto [claimed, lease] = Claim();
  ASSERT_EQ(claimed, id);
  // Bad bodies, field by field.
  HttpAnswer bad =
      Call(http_verb::post, "/jobs/" + id + "/logs", R"({"lines": ["a", 7]})", kWorker);
  ASSERT_EQ(bad.status, 400);
  std::vector<std::string> fields;
  const json::value answer = bad.Json();
  for (const json::value& d : answer.at("details").as_array()) {
    fields.emplace_back(d.at("field").as_string());
  }
  EXPECT_THAT(fields, ElementsAre("lease", "lines[1]"));
  EXPECT_EQ(Call(http_verb::post, "/jobs/" + id + "/logs", R"({"lease": "x"})", kWorker).status,
            400);
  EXPECT_EQ(Append(id, lease, json::array{std::string("nul\0byte", 8)}).status, 400);
  json::array too_many;
  for (size_t i = 0; i <= kMaxLogLinesPerCall; ++i) too_many.emplace_back("l");
  EXPECT_EQ(Append(id, lease, too_many).status, 400);
  EXPECT_EQ(Call(http_verb::post, "/jobs/not-an-id/logs",
                 absl::StrCat(R"({"lease": ")", lease, R"(", "lines": []})"), kWorker)
                .status,
            400);
  // A stale or wrong lease, an unknown job.
  EXPECT_EQ(Append(id, "not-the-lease", {"x"}).status, 409);
  EXPECT_EQ(Append(kNoSuchId, lease, {"x"}).status, 404);
  // The wrong kind of token, none.
  EXPECT_EQ(Append(id, lease, {"x"}).status, 204);
  EXPECT_EQ(Call(http_verb::post, "/jobs/" + id + "/logs",
                 absl::StrCat(R"({"lease": ")", lease, R"(", "lines": []})"), kClient)
                .status,
            403);
  EXPECT_EQ(GetLog(id, kWorker).status, 403);
  EXPECT_EQ(GetLog(id, "").status, 401);
  // Another team's job, a malformed id (the document's 400), an unknown one.
  EXPECT_EQ(GetLog(id, kClientB).status, 404);
  HttpAnswer malformed = GetLog("not-a-ulid");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_THAT(malformed.body, HasSubstr("\"field\":\"id\""));
  EXPECT_EQ(GetLog(kNoSuchId).status, 404);
  // Once the attempt ended the lease writes nothing more.
  ASSERT_EQ(Call(http_verb::post, "/jobs/" + id + "/release",
                 absl::StrCat(R"({"lease": ")", lease, R"("})"), kWorker)
                .status,
            200);
  EXPECT_EQ(Append(id, lease, {"late"}).status, 409);
  EXPECT_EQ(GetLog(id).body, "x\n");
}

TEST_F(ServerLogsTest, TheWorkerListSaysBusyIdleAndLost) {
  const std::string a = Submit(kClient, R"(, "tags": ["gpu"])");
  const std::string b = Submit(kClientB);
  const auto [first, lease1] = Claim("node-1", R"(["gpu"])");
  ASSERT_EQ(first, a);
  const auto [second, lease2] = Claim("node-2");
  ASSERT_EQ(second, b);

  auto workers = [&](const std::string& token) {
    HttpAnswer list = Call(http_verb::get, "/workers", "", token);
    EXPECT_EQ(list.status, 200) << list.body;
    EXPECT_EQ(list.content_type, "application/json");
    return list.Json().at("workers").as_array();
  };
  json::array seen = workers(kClient);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].at("name"), "node-1");
  EXPECT_EQ(seen[0].at("status"), "busy");
  EXPECT_EQ(seen[0].at("tags"), (json::array{"gpu"}));
  EXPECT_EQ(seen[0].at("leaseSeconds"), 60);
  EXPECT_EQ(seen[0].at("jobs"), (json::array{a}));
  EXPECT_TRUE(ParseTimestamp(std::string(seen[0].at("lastSeen").as_string())).ok());
  // node-2 renders team-b's job: team-a sees it busy, without the id.
  EXPECT_EQ(seen[1].at("name"), "node-2");
  EXPECT_EQ(seen[1].at("status"), "busy");
  EXPECT_EQ(seen[1].at("jobs"), json::array());
  EXPECT_EQ(workers(kClientB)[1].at("jobs"), (json::array{b}));

  ASSERT_EQ(Call(http_verb::post, "/jobs/" + a + "/finish",
                 absl::StrCat(R"({"lease": ")", lease1, R"("})"), kWorker)
                .status,
            200);
  EXPECT_EQ(workers(kClient)[0].at("status"), "idle");
  // Two lease lengths without a word: lost (node-2's lease ran out too).
  server_.Advance(absl::Seconds(121));
  seen = workers(kClient);
  EXPECT_EQ(seen[0].at("status"), "lost");
  EXPECT_EQ(seen[1].at("status"), "lost");
  // Only clients read it.
  EXPECT_EQ(Call(http_verb::get, "/workers", "", kWorker).status, 403);
  EXPECT_EQ(Call(http_verb::get, "/workers", "", "").status, 401);
  EXPECT_EQ(Call(http_verb::post, "/workers", "{}").status, 405);
}

TEST_F(ServerLogsTest, AClaimOfAParentListsItsChildrenInAssetOrder) {
  auto nested = [](const std::string& layer) {
    return absl::StrCat(R"({"type": "job", "layerName": ")", layer, R"(", "template": {"id": ")",
                        kTemplate, R"(", "composition": ")", layer, R"("}})");
  };
  HttpAnswer created =
      Call(http_verb::post, "/jobs",
           absl::StrCat(R"({"template": {"id": ")", kTemplate, R"(", "composition": "main"},
                       "assets": [)",
                        nested("intro"), R"(, {"type": "image", "src": "https://x/y.png"}, )",
                        nested("outro"), "]}"));
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string parent(created.Json().at("id").as_string());
  const std::string intro(created.Json().at("children").as_array()[0].at("id").as_string());
  const std::string outro(created.Json().at("children").as_array()[1].at("id").as_string());

  // A leaf's claim has no children.
  for (int i = 0; i < 2; ++i) {
    HttpAnswer claim = Call(http_verb::post, "/workers/claim", "{}", kWorker);
    ASSERT_EQ(claim.status, 200);
    EXPECT_EQ(claim.Json().at("children"), json::array());
    const std::string id(claim.Json().at("job").at("id").as_string());
    const std::string lease(claim.Json().at("lease").at("token").as_string());
    ASSERT_EQ(Call(http_verb::post, "/jobs/" + id + "/finish",
                   absl::StrCat(R"({"lease": ")", lease, R"(", "outputUrl": "file:///out/)", id,
                                R"(.mp4"})"),
                   kWorker)
                  .status,
              200);
  }
  HttpAnswer claim = Call(http_verb::post, "/workers/claim", "{}", kWorker);
  ASSERT_EQ(claim.status, 200);
  ASSERT_EQ(S(claim.Json().at("job").at("id")), parent);
  const json::array children = claim.Json().at("children").as_array();
  ASSERT_EQ(children.size(), 2u);
  EXPECT_EQ(children[0], (json::object{{"id", intro},
                                       {"status", "finished"},
                                       {"outputUrl", absl::StrCat("file:///out/", intro, ".mp4")},
                                       {"layerName", "intro"}}));
  EXPECT_EQ(S(children[1].at("id")), outro);
  EXPECT_EQ(children[1].at("layerName"), "outro");
}

TEST_F(ServerLogsTest, AJoinsChildrenHaveNoLayerName) {
  HttpAnswer created = Call(http_verb::post, "/jobs/join",
                            absl::StrCat(R"({"assets": [{"type": "job", "template": {"id": ")",
                                         kTemplate, R"(", "composition": "c"}}]})"));
  ASSERT_EQ(created.status, 201) << created.body;
  const auto [child, lease] = Claim();
  ASSERT_EQ(Call(http_verb::post, "/jobs/" + child + "/finish",
                 absl::StrCat(R"({"lease": ")", lease, R"("})"), kWorker)
                .status,
            200);
  HttpAnswer claim = Call(http_verb::post, "/workers/claim", "{}", kWorker);
  ASSERT_EQ(claim.status, 200);
  const json::array children = claim.Json().at("children").as_array();
  ASSERT_EQ(children.size(), 1u);
  EXPECT_EQ(S(children[0].at("id")), child);
  EXPECT_TRUE(children[0].at("layerName").is_null());
  EXPECT_TRUE(children[0].at("outputUrl").is_string());
}

}  // namespace
}  // namespace cascade
