// Copyright 2026 The Cascade Authors.
//
// cascade-server's handler (server/api.h), called directly: every route,
// the error codes the OpenAPI document lists for it, tokens, the rate limit
// and the body limit, and requests refused as the document's constraints
// refuse them. Every JSON answer of a route the document describes is
// validated against the schema the document gives for that route and status;
// a status the document does not list for the route must be in docs/http.md's
// table "Status codes outside the document". (tests/server_test.cc drives the
// same handler over real HTTP.)

#include "server/api.h"

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cascade/cascade.h"
#include "cascade/testing/fake_transport.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/json/openapi_validator.h"
#include "tests/testutil.h"

namespace cascade::server {
namespace {

namespace json = boost::json;
using ::cascade::testing::IsOk;
using ::cascade::testing::OpenApiValidator;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr char kClient[] = "client-token-a";
constexpr char kClientB[] = "client-token-b";
constexpr char kWorker[] = "worker-token";
constexpr char kTemplate[] = "01HZX3C5Y5V7E8W3J6T9Q2M1NB";

const OpenApiValidator& Document() {
  static const OpenApiValidator* api = [] {
    absl::StatusOr<OpenApiValidator> loaded = OpenApiValidator::LoadFile(CASCADE_OPENAPI_PATH);
    if (!loaded.ok()) std::abort();
    return new OpenApiValidator(*std::move(loaded));
  }();
  return *api;
}

// The operations of the document that cascade-server serves, as (method,
// path) in the document's spelling.
const std::vector<std::pair<std::string, std::string>>& DocumentedRoutes() {
  static const auto* routes =
      new std::vector<std::pair<std::string, std::string>>{{"post", "/jobs"},
                                                           {"get", "/jobs"},
                                                           {"get", "/jobs/{id}"},
                                                           {"patch", "/jobs/{id}/cancel"},
                                                           {"post", "/jobs/cancel"},
                                                           {"post", "/jobs/join"},
                                                           {"post", "/batches"},
                                                           {"get", "/batches/{id}"},
                                                           {"post", "/batches/{id}/cancel"}};
  return *routes;
}

using RouteCode = std::tuple<std::string, std::string, int>;  // method, path, status

// The rows of docs/http.md's table "Status codes outside the document", one
// (method, path, status) per route and code it names.
const std::set<RouteCode>& CodesOutsideTheDocument() {
  static const std::set<RouteCode>* codes = [] {
    auto* out = new std::set<RouteCode>;
    std::string path = CASCADE_OPENAPI_PATH;  // <root>/tests/data/nexrender-openapi-v2.json
    path.replace(path.rfind("tests/data/"), std::string::npos, "docs/http.md");
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    const std::string doc = text.str();
    const size_t start = doc.find("\n## Status codes outside the document\n");
    if (start == std::string::npos) {
      ADD_FAILURE() << path << " has no section \"Status codes outside the document\"";
      return out;
    }
    const std::string section = doc.substr(start, doc.find("\n## ", start + 1) - start);
    for (absl::string_view line : absl::StrSplit(section, '\n')) {
      if (!absl::StartsWith(line, "| ")) continue;
      std::vector<absl::string_view> cells = absl::StrSplit(line, '|');
      if (cells.size() < 4) continue;
      std::vector<int> statuses;
      for (absl::string_view code : absl::StrSplit(cells[1], ',')) {
        int n = 0;
        if (absl::SimpleAtoi(absl::StripAsciiWhitespace(code), &n)) statuses.push_back(n);
      }
      std::vector<std::pair<std::string, std::string>> routes;
      if (absl::StrContains(cells[2], "every documented route")) {
        routes = DocumentedRoutes();
      } else {
        std::vector<absl::string_view> quoted = absl::StrSplit(cells[2], '`');
        for (size_t i = 1; i < quoted.size(); i += 2) {
          std::pair<std::string, std::string> route = absl::StrSplit(quoted[i], ' ');
          routes.emplace_back(absl::AsciiStrToLower(route.first), route.second);
        }
      }
      for (int status : statuses) {
        for (const auto& [method, route] : routes) out->insert({method, route, status});
      }
    }
    return out;
  }();
  return *codes;
}

class ApiTest : public ::testing::Test {
 protected:
  ApiTest() {
    Options options;
    options.clock = &clock_;
    options.id_seed = 3;
    options.webhooks.transport = &transport_;
    engine_ = Engine::Create(options).value();
    ApiOptions api;
    api.client_tokens = {{kClient, "team-a"}, {kClientB, "team-b"}};
    api.worker_tokens = {kWorker};
    api.clock = &clock_;
    api_ = std::make_unique<Api>(engine_.get(), api);
  }

  // A request with `token` (none if empty). `doc_path` names the route in the
  // document; when set, the answer is validated against it, or, for a status
  // the document does not list there, must be an ErrorResponse whose status
  // docs/http.md lists for the route.
  Response Call(std::string method, std::string target, std::string body = "",
                std::string token = kClient, std::string_view doc_path = "") {
    Request request;
    request.method = std::move(method);
    request.target = std::move(target);
    request.body = std::move(body);
    if (!token.empty()) request.headers.emplace_back("authorization", "Bearer " + token);
    Response response = api_->Handle(request);
    if (!doc_path.empty()) {
      const std::string method_name = absl::AsciiStrToLower(request.method);
      std::vector<std::string> problems =
          Document().ValidateResponse(method_name, doc_path, response.status, response.body);
      if (problems.size() == 1 && absl::StrContains(problems[0], "does not list it")) {
        EXPECT_TRUE(CodesOutsideTheDocument().contains(
            {method_name, std::string(doc_path), response.status}))
            << request.method << " " << doc_path << " answered " << response.status
            << ", which neither the document nor docs/http.md lists for it: " << response.body;
        problems = Document().Validate(Body(response), "ErrorResponse");
      }
      EXPECT_THAT(problems, IsEmpty()) << request.method << " " << request.target << " -> "
                                       << response.status << " " << response.body;
    }
    return response;
  }
  static json::value Body(const Response& r) { return json::parse(r.body); }

  std::string SubmitLeaf(std::string token = kClient) {
    Response r =
        Call("POST", "/api/v2/jobs", absl::StrCat(R"({"template": {"id": ")", kTemplate, R"("}})"),
             token, "/jobs");
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(Body(r).at("id").as_string());
  }

  ManualClock clock_;
  cascade::testing::FakeTransport transport_{&clock_};
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Api> api_;
};

// ---- Tokens ----------------------------------------------------------------------------

TEST_F(ApiTest, NoOrUnknownTokenIs401WithAChallenge) {
  for (std::string token : {"", "nope"}) {
    Response r = Call("GET", "/api/v2/jobs", "", token, "/jobs");
    EXPECT_EQ(r.status, 401);
    EXPECT_THAT(r.headers, ::testing::Contains(
                               std::pair<std::string, std::string>("WWW-Authenticate", "Bearer")));
    EXPECT_EQ(Body(r).at("errorCode"), "unauthenticated");
  }
  Request lower;
  lower.method = "GET";
  lower.target = "/api/v2/jobs";
  lower.headers = {{"authorization", absl::StrCat("bearer ", kClient)}};  // scheme is case-blind
  EXPECT_EQ(api_->Handle(lower).status, 200);
}

TEST_F(ApiTest, AClientTokenOnAWorkerRouteAndAWorkerTokenOnAClientRouteAre403) {
  EXPECT_EQ(Call("POST", "/api/v2/workers/claim", "{}", kClient).status, 403);
  EXPECT_EQ(Call("GET", "/api/v2/jobs", "", kWorker).status, 403);
}

TEST_F(ApiTest, TeamsNeverSeeEachOthersJobs) {
  const std::string id = SubmitLeaf();
  EXPECT_EQ(Call("GET", "/api/v2/jobs/" + id, "", kClientB, "/jobs/{id}").status, 404);
  EXPECT_EQ(
      Call("PATCH", "/api/v2/jobs/" + id + "/cancel", "", kClientB, "/jobs/{id}/cancel").status,
      404);
  Response list = Call("GET", "/api/v2/jobs", "", kClientB, "/jobs");
  EXPECT_EQ(list.status, 200);
  EXPECT_EQ(list.body, "[]");
}

TEST_F(ApiTest, TheRateLimitIsPerTokenWithRetryAfter) {
  ApiOptions options;
  options.client_tokens = {{kClient, "team-a"}, {kClientB, "team-b"}};
  options.rate_limit = 2;
  options.clock = &clock_;
  api_ = std::make_unique<Api>(engine_.get(), options);
  EXPECT_EQ(Call("GET", "/api/v2/jobs").status, 200);
  EXPECT_EQ(Call("GET", "/api/v2/jobs").status, 200);
  Response refused = Call("GET", "/api/v2/jobs");
  EXPECT_EQ(refused.status, 429);
  EXPECT_THAT(refused.headers,
              ::testing::Contains(std::pair<std::string, std::string>("Retry-After", "1")));
  EXPECT_EQ(Call("GET", "/api/v2/jobs", "", kClientB).status, 200);  // its own bucket
  clock_.Advance(absl::Milliseconds(500));                           // one token back
  EXPECT_EQ(Call("GET", "/api/v2/jobs").status, 200);
  EXPECT_EQ(Call("GET", "/api/v2/jobs").status, 429);
}

// ---- Routing ---------------------------------------------------------------------------

TEST_F(ApiTest, UnknownRoutesAre404AndWrongMethods405WithAllow) {
  Response unknown = Call("GET", "/api/v2/nothing");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(Body(unknown).at("errorCode"), "not_found");
  EXPECT_EQ(Call("GET", "/jobs").status, 404);  // outside /api/v2
  Response wrong = Call("DELETE", "/api/v2/jobs");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_THAT(wrong.headers,
              ::testing::Contains(std::pair<std::string, std::string>("Allow", "POST, GET")));
  EXPECT_EQ(Call("GET", "/api/v2/jobs/").status, 200);  // a trailing slash is the same route
  EXPECT_EQ(Call("HEAD", "/api/v2/jobs").status, 200);  // HEAD is GET (the server drops the body)
}

TEST_F(ApiTest, ABodyOverTheLimitIs413) {
  ApiOptions options;
  options.client_tokens = {{kClient, "team-a"}};
  options.max_body_bytes = 100;
  api_ = std::make_unique<Api>(engine_.get(), options);
  Response r = Call("POST", "/api/v2/jobs", std::string(101, ' '));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(engine_->JobCount(), 0u);
}

TEST_F(ApiTest, HealthAndMetricsNeedNoToken) {
  Response health = Call("GET", "/api/v2/health", "", "");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(Body(health).at("status"), "ok");
  SubmitLeaf();
  Response metrics = Call("GET", "/api/v2/metrics", "", "");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.content_type, HasSubstr("text/plain"));
  EXPECT_THAT(metrics.body, HasSubstr("cascade_jobs 1\n"));
  EXPECT_THAT(metrics.body,
              HasSubstr("cascade_http_requests_total{route=\"POST /jobs\",code=\"201\"} 1\n"));
}

// ---- Jobs -------------------------------------------------------------------------------

TEST_F(ApiTest, PostJobsCreatesAndAnswersTheCreationResponse) {
  Response r = Call("POST", "/api/v2/jobs",
                    absl::StrCat(R"({"template": {"id": ")", kTemplate,
                                 R"(", "composition": "main"},
                        "assets": [{"type": "job", "layerName": "l",
                                    "template": {"id": ")",
                                 kTemplate, R"(", "composition": "intro"}}]})"),
                    kClient, "/jobs");
  ASSERT_EQ(r.status, 201) << r.body;
  json::value body = Body(r);
  EXPECT_EQ(body.at("status"), "pending");
  EXPECT_THAT(body.at("children").as_array(), SizeIs(1));
}

TEST_F(ApiTest, PostJobsRefusesBadBodiesWithDetails) {
  Response malformed = Call("POST", "/api/v2/jobs", "{not json", kClient, "/jobs");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(Body(malformed).at("details").as_array()[0].at("field"), "body");
  Response missing = Call("POST", "/api/v2/jobs", "{}", kClient, "/jobs");
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(Body(missing).at("details").as_array()[0].at("field"), "template");
  Response unknown_dep = Call("POST", "/api/v2/jobs",
                              absl::StrCat(R"({"template": {"id": ")", kTemplate,
                                           R"("}, "dependsOn": ["01ARZ3NDEKTSV4RRFFQ69G5FAV"]})"),
                              kClient, "/jobs");
  EXPECT_EQ(unknown_dep.status, 404);
  EXPECT_EQ(engine_->JobCount(), 0u);
}

TEST_F(ApiTest, GetJobsListsWithFiltersAndRefusesBadParameters) {
  SubmitLeaf();
  SubmitLeaf();
  Response all = Call("GET", "/api/v2/jobs?limit=1&sort=newest_first", "", kClient, "/jobs");
  ASSERT_EQ(all.status, 200);
  EXPECT_THAT(Body(all).as_array(), SizeIs(1));
  Response minimal = Call("GET", "/api/v2/jobs?minimal=true", "", kClient, "/jobs");
  ASSERT_EQ(minimal.status, 200);
  EXPECT_FALSE(Body(minimal).as_array()[0].as_object().contains("stats"));
  Response encoded = Call("GET", "/api/v2/jobs?states=queued%2Cpending", "", kClient, "/jobs");
  EXPECT_EQ(encoded.status, 200);
  EXPECT_THAT(Body(encoded).as_array(), SizeIs(2));
  Response bad = Call("GET", "/api/v2/jobs?limit=abc&states=nope", "", kClient, "/jobs");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(Call("GET", "/api/v2/jobs?limit=%zz").status, 400);
  EXPECT_EQ(Call("GET", "/api/v2/jobs?limit=%4").status, 400);  // an escape cut short
  EXPECT_EQ(Call("GET", "/api/v2/jobs?limit=%").status, 400);
  EXPECT_EQ(Call("GET", "/api/v2/jobs?limit=%31").status, 200);  // "1"
}

TEST_F(ApiTest, GetJobAnswersTheJobOr404AsTheDocumentLists) {
  const std::string id = SubmitLeaf();
  Response r = Call("GET", "/api/v2/jobs/" + id, "", kClient, "/jobs/{id}");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Body(r).at("id"), json::value(id));
  // The document lists 200, 401 and 404 here, and no pattern for the id:
  // a text that is no job id names no job.
  Response bad = Call("GET", "/api/v2/jobs/not-a-ulid", "", kClient, "/jobs/{id}");
  EXPECT_EQ(bad.status, 404);
  EXPECT_EQ(Body(bad).at("errorCode"), "not_found");
  EXPECT_THAT(std::string(Body(bad).at("error").as_string()), HasSubstr("not-a-ulid"));
  EXPECT_EQ(
      Call("GET", "/api/v2/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV", "", kClient, "/jobs/{id}").status,
      404);
}

TEST_F(ApiTest, CancelOneAndManyAnswerEveryCancelledJob) {
  const std::string a = SubmitLeaf(), b = SubmitLeaf(), c = SubmitLeaf();
  Response one = Call("PATCH", "/api/v2/jobs/" + a + "/cancel", "", kClient, "/jobs/{id}/cancel");
  ASSERT_EQ(one.status, 200);
  EXPECT_THAT(Body(one).as_array(), SizeIs(1));
  EXPECT_EQ(Call("PATCH", "/api/v2/jobs/" + a + "/cancel", "", kClient, "/jobs/{id}/cancel").status,
            409);
  Response many =
      Call("POST", "/api/v2/jobs/cancel", absl::StrCat(R"({"jobs": [")", b, R"(", ")", c, R"("]})"),
           kClient, "/jobs/cancel");
  ASSERT_EQ(many.status, 200);
  EXPECT_THAT(Body(many).as_array(), SizeIs(2));
  Response dups =
      Call("POST", "/api/v2/jobs/cancel", absl::StrCat(R"({"jobs": [")", b, R"(", ")", b, R"("]})"),
           kClient, "/jobs/cancel");
  EXPECT_EQ(dups.status, 400);
  EXPECT_EQ(Call("POST", "/api/v2/jobs/cancel", R"({"jobs": ["01ARZ3NDEKTSV4RRFFQ69G5FAV"]})",
                 kClient, "/jobs/cancel")
                .status,
            404);
}

TEST_F(ApiTest, JoinCreatesAStitchThatWaitsForItsRenders) {
  Response r = Call("POST", "/api/v2/jobs/join",
                    absl::StrCat(R"({"assets": [{"type": "video", "src": "https://x/a.mp4"},
                                   {"type": "job", "template": {"id": ")",
                                 kTemplate, R"(", "composition": "c"}}]})"),
                    kClient, "/jobs/join");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Body(r).at("status"), "pending");
  EXPECT_EQ(Call("POST", "/api/v2/jobs/join", R"({"assets": []})", kClient, "/jobs/join").status,
            400);
}

// ---- Batches ------------------------------------------------------------------------------

TEST_F(ApiTest, BatchesArePartialOrErrorAndReadAndCancelled) {
  const std::string good = absl::StrCat(R"({"template": {"id": ")", kTemplate, R"("}})");
  Response partial = Call("POST", "/api/v2/batches",
                          absl::StrCat(R"({"jobs": [)", good, R"(, {"template": 5}, )", good, "]}"),
                          kClient, "/batches");
  ASSERT_EQ(partial.status, 201) << partial.body;
  json::value body = Body(partial);
  EXPECT_EQ(body.at("status"), "partial");
  EXPECT_EQ(body.at("errors").as_array()[0].at("index"), 1);
  EXPECT_EQ(body.at("jobs").as_array()[1].at("index"), 2);
  const std::string batch(body.at("batchId").as_string());

  Response all_bad = Call("POST", "/api/v2/batches", R"({"jobs": [{}, 7]})", kClient, "/batches");
  EXPECT_EQ(all_bad.status, 400);
  EXPECT_EQ(Body(all_bad).at("status"), "error");
  EXPECT_EQ(Call("POST", "/api/v2/batches", R"({"jobs": []})", kClient, "/batches").status, 400);

  Response status = Call("GET", "/api/v2/batches/" + batch, "", kClient, "/batches/{id}");
  ASSERT_EQ(status.status, 200);
  EXPECT_EQ(Body(status).at("jobs").as_array()[1].at("index"), 2);  // the request position
  EXPECT_EQ(Call("GET", "/api/v2/batches/xyz", "", kClient, "/batches/{id}").status, 400);
  EXPECT_EQ(Call("GET", "/api/v2/batches/01ARZ3NDEKTSV4RRFFQ69G5FAV", "", kClient, "/batches/{id}")
                .status,
            404);
  Response cancelled =
      Call("POST", "/api/v2/batches/" + batch + "/cancel", "", kClient, "/batches/{id}/cancel");
  ASSERT_EQ(cancelled.status, 200);
  EXPECT_EQ(Body(cancelled).at("cancelledCount"), 2);
}

// ---- Workers ------------------------------------------------------------------------------

TEST_F(ApiTest, AWorkerClaimsHeartbeatsAndFinishes) {
  EXPECT_EQ(Call("POST", "/api/v2/workers/claim", "", kWorker).status, 204);  // nothing queued
  const std::string id = SubmitLeaf();
  Response claim =
      Call("POST", "/api/v2/workers/claim", R"({"worker": "node-1", "leaseSeconds": 30})", kWorker);
  ASSERT_EQ(claim.status, 200) << claim.body;
  json::value claimed = Body(claim);
  EXPECT_EQ(claimed.at("job").at("id"), json::value(id));
  EXPECT_EQ(claimed.at("payload").at("template").at("id"), kTemplate);
  EXPECT_TRUE(Document().Validate(claimed.at("job"), "Job").empty());
  const std::string lease(claimed.at("lease").at("token").as_string());

  Response beat = Call("POST", "/api/v2/jobs/" + id + "/heartbeat",
                       absl::StrCat(R"({"lease": ")", lease, R"(", "progress": 40})"), kWorker);
  ASSERT_EQ(beat.status, 200) << beat.body;
  EXPECT_EQ(Body(beat).at("job").at("progress"), 40);
  EXPECT_EQ(Body(beat).at("cancelRequested"), false);

  EXPECT_EQ(
      Call("POST", "/api/v2/jobs/" + id + "/finish", R"({"lease": "0000000000000000"})", kWorker)
          .status,
      409);  // a wrong lease
  EXPECT_EQ(Call("POST", "/api/v2/jobs/" + id + "/finish", R"({})", kWorker).status, 400);
  Response done =
      Call("POST", "/api/v2/jobs/" + id + "/finish",
           absl::StrCat(R"({"lease": ")", lease, R"(", "outputUrl": "s3://out/x.mp4"})"), kWorker);
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(Body(done).at("status"), "finished");
  EXPECT_EQ(Body(done).at("outputUrl"), "s3://out/x.mp4");
  EXPECT_TRUE(Document().Validate(Body(done), "Job").empty());
}

TEST_F(ApiTest, FailReleaseAndAbort) {
  const std::string a = SubmitLeaf(), b = SubmitLeaf();
  auto claim = [&] {
    Response r = Call("POST", "/api/v2/workers/claim", "", kWorker);
    EXPECT_EQ(r.status, 200);
    return Body(r);
  };
  json::value first = claim();
  const std::string lease_a(first.at("lease").at("token").as_string());
  Response failed = Call(
      "POST", "/api/v2/jobs/" + a + "/fail",
      absl::StrCat(R"({"lease": ")", lease_a, R"(", "error": "boom", "retry": false})"), kWorker);
  ASSERT_EQ(failed.status, 200);
  EXPECT_EQ(Body(failed).at("status"), "error") << "a fail that says no retry ends the job";
  EXPECT_EQ(Body(failed).at("stats").at("error"), "boom");

  json::value second = claim();
  const std::string lease_b(second.at("lease").at("token").as_string());
  EXPECT_EQ(Call("POST", "/api/v2/jobs/" + a + "/abort").status, 409);  // not rendering
  Response abort = Call("POST", "/api/v2/jobs/" + b + "/abort");
  ASSERT_EQ(abort.status, 200);
  EXPECT_EQ(Body(abort).at("cancelRequested"), true);
  Response released = Call("POST", "/api/v2/jobs/" + b + "/release",
                           absl::StrCat(R"({"lease": ")", lease_b, R"("})"), kWorker);
  ASSERT_EQ(released.status, 200);
  EXPECT_EQ(Body(released).at("status"), "manually_cancelled");
}

// ---- Extensions ---------------------------------------------------------------------------

TEST_F(ApiTest, TheFamilyGraphIsGraphvizDot) {
  Response parent = Call("POST", "/api/v2/jobs",
                         absl::StrCat(R"({"template": {"id": ")", kTemplate,
                                      R"("}, "assets": [{"type": "job", "layerName": "l",
                                      "template": {"id": ")",
                                      kTemplate, R"(", "composition": "c"}}]})"));
  ASSERT_EQ(parent.status, 201);
  const std::string id(Body(parent).at("id").as_string());
  const std::string child(Body(parent).at("children").as_array()[0].at("id").as_string());
  Response dot = Call("GET", "/api/v2/jobs/" + id + "/graph");
  ASSERT_EQ(dot.status, 200);
  EXPECT_THAT(dot.content_type, HasSubstr("graphviz"));
  EXPECT_THAT(dot.body, HasSubstr("digraph"));
  EXPECT_THAT(dot.body, HasSubstr(id));
  EXPECT_THAT(dot.body, HasSubstr(child));
  EXPECT_THAT(dot.body, HasSubstr("1->0"));  // the child (vertex 1) feeds the parent (vertex 0)
  EXPECT_EQ(Call("GET", "/api/v2/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV/graph").status, 404);
}

TEST_F(ApiTest, FailedWebhooksAreListedAndReplayed) {
  transport_.SetDefault(500);
  Response created =
      Call("POST", "/api/v2/jobs",
           absl::StrCat(R"({"template": {"id": ")", kTemplate,
                        R"("}, "webhook": {"url": "https://hooks.example.com/x"}})"));
  ASSERT_EQ(created.status, 201);
  const std::string id(Body(created).at("id").as_string());
  ASSERT_EQ(Call("PATCH", "/api/v2/jobs/" + id + "/cancel").status, 200);
  for (int i = 0; i < 6; ++i) {
    engine_->RunDueWork();
    clock_.Advance(absl::Seconds(10));
  }
  Response failed = Call("GET", "/api/v2/webhooks/failed");
  ASSERT_EQ(failed.status, 200);
  ASSERT_THAT(Body(failed).as_array(), SizeIs(1));
  EXPECT_EQ(Body(failed).as_array()[0].at("jobId"), json::value(id));
  const std::string delivery(Body(failed).as_array()[0].at("deliveryId").as_string());
  EXPECT_EQ(Call("GET", "/api/v2/webhooks/failed", "", kClientB).body, "[]");
  EXPECT_EQ(Call("POST", "/api/v2/webhooks/failed/" + delivery + "/replay", "", kClientB).status,
            404);
  EXPECT_EQ(Call("POST", "/api/v2/webhooks/failed/" + delivery + "/replay").status, 200);
  EXPECT_EQ(Call("GET", "/api/v2/webhooks/failed").body, "[]");
}

TEST_F(ApiTest, NoRequestCrashesOrChangesStateWhenRefused) {
  // A few hostile shapes; the fuzzer does the rest.
  const std::vector<std::pair<std::string, std::string>> requests = {
      {"POST", "/api/v2/jobs?" + std::string(5000, '%')},
      {"GET", std::string("/api/v2/jobs/\0\xff", 15)},
      {"PATCH", "/api/v2/jobs//cancel"},
      {"POST", "/api/v2/batches/" + std::string(10000, 'A') + "/cancel"},
      {"GET", ""},
      {"", "/api/v2/jobs"},
      {"POST", "/api/v2/jobs/cancel"},
  };
  for (const auto& [method, target] : requests) {
    Response r = Call(method, target, "\x01\x02[[[[");
    EXPECT_GE(r.status, 400) << method << " " << target;
    EXPECT_LT(r.status, 500) << method << " " << target;
  }
  EXPECT_EQ(engine_->JobCount(), 0u);
}

// ---- Validation (contract §11) -------------------------------------------------------

// The fields of a 400's details, in order.
std::vector<std::string> DetailFields(const Response& r) {
  std::vector<std::string> fields;
  const json::value body = json::parse(r.body);
  for (const json::value& d : body.at("details").as_array()) {
    fields.emplace_back(d.at("field").as_string());
  }
  return fields;
}

TEST_F(ApiTest, WhatAValidatingProxyFoundAcceptedIsRefusedNamingTheField) {
  // The findings of the issue: a template id that is no ULID, an unknown key
  // in the closed `settings`, a tag the query pattern refuses.
  Response id =
      Call("POST", "/api/v2/jobs", R"({"template": {"id": "not-a-ulid"}})", kClient, "/jobs");
  EXPECT_EQ(id.status, 400);
  EXPECT_THAT(DetailFields(id), ElementsAre("template.id"));
  EXPECT_EQ(Body(id).at("errorCode"), "invalid_argument");
  Response settings =
      Call("POST", "/api/v2/jobs",
           absl::StrCat(R"({"template": {"id": ")", kTemplate, R"("}, "settings": {"foo": 1}})"),
           kClient, "/jobs");
  EXPECT_EQ(settings.status, 400);
  EXPECT_THAT(DetailFields(settings), ElementsAre("settings.foo"));
  Response tags = Call("GET", "/api/v2/jobs?tags=bad%20tag!", "", kClient, "/jobs");
  EXPECT_EQ(tags.status, 400);
  EXPECT_THAT(DetailFields(tags), ElementsAre("tags"));
  EXPECT_EQ(Call("GET", "/api/v2/jobs?tags=bad+tag!", "", kClient, "/jobs").status, 400);
  EXPECT_EQ(engine_->JobCount(), 0u);
}

TEST_F(ApiTest, EveryBadFieldGetsOneDetailAndNothingIsCreated) {
  Response r = Call("POST", "/api/v2/jobs",
                    R"({"template": {"id": "01hzx3c5y5v7e8w3j6t9q2m1nb"},
                        "settings": {"quality": "full", "fps": 30},
                        "assets": [{"type": "image"}, {"type": "video"}, {"src": "x"}],
                        "upload": {"provider": "gcs"}, "maxAttempts": 0})",
                    kClient, "/jobs");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(DetailFields(r),
              ::testing::UnorderedElementsAre("template.id", "settings.fps", "assets[2].type",
                                              "upload.provider", "maxAttempts"));
  Response batch = Call("POST", "/api/v2/batches",
                        absl::StrCat(R"({"jobs": [{"template": {"id": ")", kTemplate,
                                     R"("}, "upload": {"bucket": "b"}}]})"),
                        kClient, "/batches");
  EXPECT_EQ(batch.status, 400);
  EXPECT_THAT(std::string(Body(batch).at("errors").as_array()[0].at("error").as_string()),
              HasSubstr("upload.bucket"));
  EXPECT_EQ(engine_->JobCount(), 0u);
}

TEST_F(ApiTest, NestedJobsAndEveryExtensionAreAccepted) {
  Response r =
      Call("POST", "/api/v2/jobs",
           absl::StrCat(R"({"template": {"id": ")", kTemplate, R"(", "composition": "main"},
          "tags": ["gpu"], "priority": 5, "onPrerequisiteFailure": "ignore",
          "maxAttempts": 20, "retryBackoffSeconds": 86400, "timeoutSeconds": 604800,
          "assets": [{"type": "job", "layerName": "intro", "maxAttempts": 1,
                      "timeoutSeconds": 0.5, "settings": {"type": "image", "frames": -1},
                      "template": {"id": ")",
                        kTemplate, R"(", "composition": "intro"}}]})"),
           kClient, "/jobs");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_THAT(Body(r).at("children").as_array(), SizeIs(1));
  Response over = Call("POST", "/api/v2/jobs",
                       absl::StrCat(R"({"template": {"id": ")", kTemplate,
                                    R"("}, "maxAttempts": 21, "retryBackoffSeconds": -1,
                                       "timeoutSeconds": 0})"),
                       kClient, "/jobs");
  EXPECT_EQ(over.status, 400);
  EXPECT_THAT(DetailFields(over),
              ElementsAre("maxAttempts", "retryBackoffSeconds", "timeoutSeconds"));
  EXPECT_EQ(engine_->JobCount(), 2u);
}

TEST_F(ApiTest, ProcessingListsTheRenderingJobs) {
  SubmitLeaf();
  const std::string rendering = SubmitLeaf();
  SubmitLeaf();
  // The oldest is claimed; make it the second by cancelling the first.
  Response first = Call("GET", "/api/v2/jobs?limit=1");
  ASSERT_EQ(Call("PATCH", absl::StrCat("/api/v2/jobs/",
                                       std::string(Body(first).as_array()[0].at("id").as_string()),
                                       "/cancel"))
                .status,
            200);
  ASSERT_EQ(Call("POST", "/api/v2/workers/claim", "", kWorker).status, 200);
  Response processing = Call("GET", "/api/v2/jobs?states=processing", "", kClient, "/jobs");
  ASSERT_EQ(processing.status, 200) << processing.body;
  ASSERT_THAT(Body(processing).as_array(), SizeIs(1));
  EXPECT_EQ(Body(processing).as_array()[0].at("id"), json::value(rendering));
  EXPECT_EQ(Body(processing).as_array()[0].at("status"), "render:dorender");
  Response example =
      Call("GET", "/api/v2/jobs?states=queued,processing,finished", "", kClient, "/jobs");
  EXPECT_THAT(Body(example).as_array(), SizeIs(2));
  Response excluded = Call("GET", "/api/v2/jobs?exclude_states=processing", "", kClient, "/jobs");
  EXPECT_THAT(Body(excluded).as_array(), SizeIs(2));  // the cancelled and the queued one
}

TEST_F(ApiTest, EveryCodeOutsideTheDocumentIsListedInHttpMd) {
  // The table is read at all, and names only what it should.
  ASSERT_GT(CodesOutsideTheDocument().size(), 30u);
  EXPECT_FALSE(CodesOutsideTheDocument().contains({"post", "/jobs", 418}));
  EXPECT_FALSE(CodesOutsideTheDocument().contains({"get", "/jobs/{id}", 409}));

  const std::string leaf = absl::StrCat(R"({"template": {"id": ")", kTemplate, R"("}})");
  const std::string id = SubmitLeaf();
  // 403: a worker token on each documented route (Call checks every answer
  // against the document, or else the table).
  const std::vector<std::tuple<std::string, std::string, std::string>> calls = {
      {"POST", "/api/v2/jobs", "/jobs"},
      {"GET", "/api/v2/jobs", "/jobs"},
      {"GET", "/api/v2/jobs/" + id, "/jobs/{id}"},
      {"PATCH", "/api/v2/jobs/" + id + "/cancel", "/jobs/{id}/cancel"},
      {"POST", "/api/v2/jobs/cancel", "/jobs/cancel"},
      {"POST", "/api/v2/jobs/join", "/jobs/join"},
      {"POST", "/api/v2/batches", "/batches"},
      {"GET", "/api/v2/batches/" + id, "/batches/{id}"},
      {"POST", "/api/v2/batches/" + id + "/cancel", "/batches/{id}/cancel"}};
  ASSERT_EQ(calls.size(), DocumentedRoutes().size());
  for (const auto& [method, target, doc_path] : calls) {
    EXPECT_EQ(Call(method, target, leaf, kWorker, doc_path).status, 403) << target;
  }
  // 409: dependsOn a job already cancelled.
  ASSERT_EQ(Call("PATCH", "/api/v2/jobs/" + id + "/cancel").status, 200);
  const std::string depends = absl::StrCat(R"("dependsOn": [")", id, R"("])");
  EXPECT_EQ(Call("POST", "/api/v2/jobs",
                 absl::StrCat(R"({"template": {"id": ")", kTemplate, R"("}, )", depends, "}"),
                 kClient, "/jobs")
                .status,
            409);
  EXPECT_EQ(Call("POST", "/api/v2/jobs/join",
                 absl::StrCat(R"({"assets": [{"type": "video", "src": "x"}], )", depends, "}"),
                 kClient, "/jobs/join")
                .status,
            409);
  // 413 and 429 on every route.
  ApiOptions small;
  small.client_tokens = {{kClient, "team-a"}};
  small.max_body_bytes = 8;
  small.rate_limit = 1;
  small.clock = &clock_;
  api_ = std::make_unique<Api>(engine_.get(), small);
  for (const auto& [method, target, doc_path] : calls) {
    EXPECT_EQ(Call(method, target, std::string(9, ' '), kClient, doc_path).status, 413) << target;
  }
  EXPECT_EQ(Call("GET", "/api/v2/health", "", "").status, 200);
  Call("GET", "/api/v2/jobs");  // the token's one request
  for (const auto& [method, target, doc_path] : calls) {
    EXPECT_EQ(Call(method, target, "", kClient, doc_path).status, 429) << target;
  }
}

}  // namespace
}  // namespace cascade::server
