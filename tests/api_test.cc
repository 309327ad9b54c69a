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

#include <algorithm>
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
#include "server/flags.h"
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
  ApiTest() { Start({}); }

  // Makes the engine and the handler as cascade-server makes them from the
  // command line `args` (in memory; EngineOptions), on the test's clock and
  // webhook transport. The fixture starts with cascade-server's defaults.
  void Start(std::vector<std::string> args) {
    args.insert(args.begin(), {"--data", ":memory:"});
    Options options = EngineOptions(ParseFlags(args).value());
    options.clock = &clock_;
    options.id_seed = 3;
    options.webhooks.transport = &transport_;
    api_.reset();
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
  // docs/http.md lists for the route. On an extension route (one the document
  // does not define, such as PATCH /jobs/{id}) every status must be in
  // docs/http.md's table, and an error must be an ErrorResponse (a
  // ValidationErrorResponse for 400); the test checks a success's body.
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
      if (problems.size() == 1 && absl::StrContains(problems[0], "no such operation")) {
        EXPECT_TRUE(CodesOutsideTheDocument().contains(
            {method_name, std::string(doc_path), response.status}))
            << request.method << " " << doc_path << " (an extension) answered " << response.status
            << ", which docs/http.md does not list for it: " << response.body;
        problems.clear();
        if (response.status >= 400) {
          problems = Document().Validate(
              Body(response), response.status == 400 ? "ValidationErrorResponse" : "ErrorResponse");
        }
      } else if (problems.size() == 1 && absl::StrContains(problems[0], "does not list it")) {
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

  // A parent with two nested children (queued; the parent pending):
  // {parent, first child, second child}.
  std::vector<std::string> SubmitFamily() {
    const std::string child =
        absl::StrCat(R"({"type": "job", "layerName": "l", "template": {"id": ")", kTemplate,
                     R"(", "composition": "c"}})");
    Response r = Call("POST", "/api/v2/jobs",
                      absl::StrCat(R"({"template": {"id": ")", kTemplate, R"("}, "assets": [)",
                                   child, ", ", child, "]}"),
                      kClient, "/jobs");
    EXPECT_EQ(r.status, 201) << r.body;
    const json::value body = Body(r);
    return {std::string(body.at("id").as_string()),
            std::string(body.at("children").as_array()[0].at("id").as_string()),
            std::string(body.at("children").as_array()[1].at("id").as_string())};
  }

  // A worker's claim: the answer's {"job", "lease", "payload"}, or null when
  // nothing is claimable (204).
  json::value Claim() {
    Response r = Call("POST", "/api/v2/workers/claim", "", kWorker);
    EXPECT_TRUE(r.status == 200 || r.status == 204) << r.status << " " << r.body;
    return r.status == 200 ? Body(r) : json::value(nullptr);
  }
  static std::string IdOf(const json::value& claim) {
    return std::string(claim.at("job").at("id").as_string());
  }
  // Ends the claimed job's attempt: POST /jobs/{id}/<action> with its lease
  // and `fields` (`"error": "x", "retry": false`).
  Response EndAttempt(const json::value& claim, const std::string& action,
                      const std::string& fields = "") {
    return Call(
        "POST", absl::StrCat("/api/v2/jobs/", IdOf(claim), "/", action),
        absl::StrCat(R"({"lease": ")", std::string(claim.at("lease").at("token").as_string()), "\"",
                     fields.empty() ? "" : ", ", fields, "}"),
        kWorker);
  }
  json::value Get(const std::string& id) {
    Response r = Call("GET", "/api/v2/jobs/" + id, "", kClient, "/jobs/{id}");
    EXPECT_EQ(r.status, 200) << r.body;
    return Body(r);
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

// ---- Retries, holds and priorities (contract §14) -------------------------------------

// The ids of a JSON array of jobs, in order.
std::vector<std::string> Ids(const json::value& jobs) {
  std::vector<std::string> ids;
  for (const json::value& job : jobs.as_array()) ids.emplace_back(job.at("id").as_string());
  return ids;
}

TEST_F(ApiTest, RetryOfAFailedChildRevivesItsFamilyInOneCall) {
  const std::vector<std::string> family = SubmitFamily();
  const std::string& parent = family[0];
  json::value claim = Claim();
  ASSERT_FALSE(claim.is_null());
  const std::string failed = IdOf(claim);
  const std::string sibling = failed == family[1] ? family[2] : family[1];
  ASSERT_EQ(EndAttempt(claim, "fail", R"("error": "bad footage", "retry": false)").status, 200);
  // The failure ended the family: the parent for its prerequisite, the
  // sibling because its only dependent failed (contract §3).
  EXPECT_EQ(Get(failed).at("status"), "error");
  EXPECT_EQ(Get(parent).at("status"), "error");
  EXPECT_EQ(Get(parent).at("stats").at("error"), json::value("prerequisite " + failed + " failed"));
  EXPECT_EQ(Get(sibling).at("status"), "error");
  EXPECT_EQ(Get(sibling).at("stats").at("error"), json::value("dependent " + parent + " failed"));

  Response retried =
      Call("POST", "/api/v2/jobs/" + failed + "/retry", "", kClient, "/jobs/{id}/retry");
  ASSERT_EQ(retried.status, 200) << retried.body;
  // Every revived job once, in id order, as full jobs.
  std::vector<std::string> want = family;
  std::sort(want.begin(), want.end());
  ASSERT_EQ(Ids(Body(retried)), want);
  const json::value retried_body = Body(retried);
  for (const json::value& job : retried_body.as_array()) {
    EXPECT_THAT(Document().Validate(job, "Job"), IsEmpty());
    EXPECT_EQ(job.at("status"), job.at("id") == json::value(parent) ? "pending" : "queued")
        << job.at("id");
    EXPECT_EQ(job.at("attempts"), 0) << "a fresh attempt budget";
    EXPECT_EQ(job.at("progress"), 0);
    EXPECT_TRUE(job.at("stats").at("error").is_null());
    EXPECT_TRUE(job.at("stats").at("errorAt").is_null());
    EXPECT_TRUE(job.at("stats").at("startedAt").is_null());
  }
  EXPECT_EQ(Get(parent).at("status"), "pending");
  // The family renders again: both children, then the parent.
  for (int i = 0; i < 2; ++i) {
    json::value child = Claim();
    ASSERT_FALSE(child.is_null());
    EXPECT_NE(IdOf(child), parent);
    ASSERT_EQ(EndAttempt(child, "finish").status, 200);
  }
  EXPECT_EQ(Get(parent).at("status"), "queued");
}

TEST_F(ApiTest, RetryOneRefusesWhatItCannotRevive) {
  const std::string id = SubmitLeaf();
  const std::string path = "/api/v2/jobs/" + id + "/retry";
  Response queued = Call("POST", path, "", kClient, "/jobs/{id}/retry");
  EXPECT_EQ(queued.status, 409) << "only error and manually_cancelled jobs are retried";
  EXPECT_THAT(std::string(Body(queued).at("error").as_string()), HasSubstr(id));
  json::value claim = Claim();
  ASSERT_EQ(EndAttempt(claim, "finish").status, 200);
  EXPECT_EQ(Call("POST", path, "", kClient, "/jobs/{id}/retry").status, 409)
      << "a finished job is never revived";
  EXPECT_EQ(Call("POST", "/api/v2/jobs/xyz/retry", "", kClient, "/jobs/{id}/retry").status, 400);
  EXPECT_EQ(
      Call("POST", "/api/v2/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV/retry", "", kClient, "/jobs/{id}/retry")
          .status,
      404);
  EXPECT_EQ(Call("POST", path, "", kClientB, "/jobs/{id}/retry").status, 404);
  EXPECT_EQ(Call("POST", path, "", kWorker, "/jobs/{id}/retry").status, 403);
  EXPECT_EQ(Call("POST", path, "", "", "/jobs/{id}/retry").status, 401);
  EXPECT_EQ(Get(id).at("status"), "finished");
}

TEST_F(ApiTest, RetryManyIsAllOrNothing) {
  const std::string a = SubmitLeaf(), b = SubmitLeaf(), queued = SubmitLeaf();
  ASSERT_EQ(
      Call("POST", "/api/v2/jobs/cancel", absl::StrCat(R"({"jobs": [")", a, R"(", ")", b, R"("]})"))
          .status,
      200);
  auto retry = [&](std::string body) {
    return Call("POST", "/api/v2/jobs/retry", std::move(body), kClient, "/jobs/retry");
  };
  auto ids = [](std::vector<std::string> ids) {
    return absl::StrCat(R"({"jobs": [")", absl::StrJoin(ids, R"(", ")"), R"("]})");
  };
  Response not_retryable = retry(ids({a, queued}));
  EXPECT_EQ(not_retryable.status, 409);
  EXPECT_THAT(std::string(Body(not_retryable).at("error").as_string()), HasSubstr(queued));
  Response unknown = retry(ids({a, "01ARZ3NDEKTSV4RRFFQ69G5FAV"}));
  EXPECT_EQ(unknown.status, 404);
  Response dups = retry(ids({a, a}));
  EXPECT_EQ(dups.status, 400);
  EXPECT_EQ(retry(R"({"jobs": []})").status, 400);
  EXPECT_THAT(DetailFields(retry(R"({"jobs": [7, "xyz"]})")), ElementsAre("jobs[0]", "jobs[1]"));
  EXPECT_THAT(DetailFields(retry("[")), ElementsAre("body"));
  EXPECT_EQ(Call("POST", "/api/v2/jobs/retry", ids({a}), kClientB, "/jobs/retry").status, 404);
  EXPECT_EQ(Call("POST", "/api/v2/jobs/retry", ids({a}), kWorker, "/jobs/retry").status, 403);
  // Nothing changed.
  EXPECT_EQ(Get(a).at("status"), "manually_cancelled");
  EXPECT_EQ(Get(b).at("status"), "manually_cancelled");

  Response revived = retry(ids({b, a}));
  ASSERT_EQ(revived.status, 200) << revived.body;
  EXPECT_THAT(Ids(Body(revived)), ElementsAre(a, b));
  const json::value revived_body = Body(revived);
  for (const json::value& job : revived_body.as_array()) {
    EXPECT_EQ(job.at("status"), "queued");
    EXPECT_TRUE(job.at("stats").at("error").is_null());
    EXPECT_THAT(Document().Validate(job, "Job"), IsEmpty());
  }
}

TEST_F(ApiTest, ASuspendedJobKeepsItsStateAndIsNeverClaimedUntilResumed) {
  const std::string id = SubmitLeaf();
  const std::string base = "/api/v2/jobs/" + id;
  Response held = Call("POST", base + "/suspend", "", kClient, "/jobs/{id}/suspend");
  ASSERT_EQ(held.status, 200) << held.body;
  EXPECT_EQ(Body(held).at("id"), json::value(id));
  EXPECT_EQ(Body(held).at("status"), "queued");
  EXPECT_EQ(Body(held).at("suspended"), true);
  EXPECT_THAT(Document().Validate(Body(held), "Job"), IsEmpty());
  EXPECT_TRUE(Claim().is_null());
  EXPECT_EQ(Get(id).at("suspended"), true);
  Response again = Call("POST", base + "/suspend", "", kClient, "/jobs/{id}/suspend");
  EXPECT_EQ(again.status, 200) << "a job already held is left as it is";
  EXPECT_EQ(Body(again).at("suspended"), true);

  Response resumed = Call("POST", base + "/resume", "", kClient, "/jobs/{id}/resume");
  ASSERT_EQ(resumed.status, 200) << resumed.body;
  EXPECT_EQ(Body(resumed).at("suspended"), false);
  EXPECT_EQ(Body(resumed).at("status"), "queued");
  json::value claim = Claim();
  ASSERT_FALSE(claim.is_null());
  EXPECT_EQ(IdOf(claim), id);
  // Rendering, then ended: neither can be held.
  EXPECT_EQ(Call("POST", base + "/suspend", "", kClient, "/jobs/{id}/suspend").status, 409);
  EXPECT_EQ(Call("POST", base + "/resume", "", kClient, "/jobs/{id}/resume").status, 409);
  ASSERT_EQ(EndAttempt(claim, "finish").status, 200);
  EXPECT_EQ(Call("POST", base + "/suspend", "", kClient, "/jobs/{id}/suspend").status, 409);

  for (std::string action : {"suspend", "resume"}) {
    const std::string doc = absl::StrCat("/jobs/{id}/", action);
    EXPECT_EQ(Call("POST", absl::StrCat("/api/v2/jobs/xyz/", action), "", kClient, doc).status,
              400);
    EXPECT_EQ(Call("POST", absl::StrCat("/api/v2/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV/", action), "",
                   kClient, doc)
                  .status,
              404);
    EXPECT_EQ(Call("POST", absl::StrCat(base, "/", action), "", kClientB, doc).status, 404);
    EXPECT_EQ(Call("POST", absl::StrCat(base, "/", action), "", kWorker, doc).status, 403);
  }
}

TEST_F(ApiTest, APendingJobSuspendedWaitsWhenItBecomesReady) {
  const std::vector<std::string> family = SubmitFamily();
  Response held =
      Call("POST", "/api/v2/jobs/" + family[0] + "/suspend", "", kClient, "/jobs/{id}/suspend");
  ASSERT_EQ(held.status, 200) << held.body;
  EXPECT_EQ(Body(held).at("status"), "pending");
  for (int i = 0; i < 2; ++i) ASSERT_EQ(EndAttempt(Claim(), "finish").status, 200);
  EXPECT_EQ(Get(family[0]).at("status"), "queued");
  EXPECT_TRUE(Claim().is_null()) << "ready, but held";
  ASSERT_EQ(Call("POST", "/api/v2/jobs/" + family[0] + "/resume", "", kClient, "/jobs/{id}/resume")
                .status,
            200);
  json::value claim = Claim();
  ASSERT_FALSE(claim.is_null());
  EXPECT_EQ(IdOf(claim), family[0]);
}

TEST_F(ApiTest, ABatchIsSuspendedAndResumedChildrenIncluded) {
  const std::string leaf = absl::StrCat(R"({"template": {"id": ")", kTemplate, R"("}})");
  const std::string parent =
      absl::StrCat(R"({"template": {"id": ")", kTemplate,
                   R"("}, "assets": [{"type": "job", "layerName": "l", "template": {"id": ")",
                   kTemplate, R"(", "composition": "c"}}]})");
  Response created =
      Call("POST", "/api/v2/batches", absl::StrCat(R"({"jobs": [)", leaf, ", ", parent, "]}"),
           kClient, "/batches");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string batch(Body(created).at("batchId").as_string());
  const std::string base = "/api/v2/batches/" + batch;

  Response held = Call("POST", base + "/suspend", "", kClient, "/batches/{id}/suspend");
  ASSERT_EQ(held.status, 200) << held.body;
  EXPECT_EQ(Body(held).at("batchId"), json::value(batch));
  ASSERT_THAT(Body(held).at("jobs").as_array(), SizeIs(3)) << "the two jobs and the nested child";
  const json::value held_body = Body(held);
  for (const json::value& job : held_body.at("jobs").as_array()) {
    EXPECT_EQ(job.at("suspended"), true);
    EXPECT_THAT(Document().Validate(job, "Job"), IsEmpty());
  }
  Response again = Call("POST", base + "/suspend", "", kClient, "/batches/{id}/suspend");
  ASSERT_EQ(again.status, 200);
  EXPECT_THAT(Body(again).at("jobs").as_array(), IsEmpty()) << "only jobs whose hold changed";
  EXPECT_TRUE(Claim().is_null());

  Response resumed = Call("POST", base + "/resume", "", kClient, "/batches/{id}/resume");
  ASSERT_EQ(resumed.status, 200) << resumed.body;
  EXPECT_EQ(Ids(Body(resumed).at("jobs")), Ids(Body(held).at("jobs")));
  const json::value resumed_body = Body(resumed);
  for (const json::value& job : resumed_body.at("jobs").as_array()) {
    EXPECT_EQ(job.at("suspended"), false);
  }
  // A rendering job of the batch is left as it is.
  json::value claim = Claim();
  ASSERT_FALSE(claim.is_null());
  Response partly = Call("POST", base + "/suspend", "", kClient, "/batches/{id}/suspend");
  ASSERT_EQ(partly.status, 200);
  EXPECT_THAT(Body(partly).at("jobs").as_array(), SizeIs(2));
  EXPECT_EQ(Get(IdOf(claim)).at("status"), "render:dorender");

  for (std::string action : {"suspend", "resume"}) {
    const std::string doc = absl::StrCat("/batches/{id}/", action);
    EXPECT_EQ(Call("POST", absl::StrCat("/api/v2/batches/nope/", action), "", kClient, doc).status,
              400);
    EXPECT_EQ(Call("POST", absl::StrCat("/api/v2/batches/01ARZ3NDEKTSV4RRFFQ69G5FAV/", action), "",
                   kClient, doc)
                  .status,
              404);
    EXPECT_EQ(Call("POST", absl::StrCat(base, "/", action), "", kClientB, doc).status, 404);
    EXPECT_EQ(Call("POST", absl::StrCat(base, "/", action), "", kWorker, doc).status, 403);
  }
}

TEST_F(ApiTest, PatchingThePriorityChangesTheClaimOrder) {
  // cascade-server's default pickup order is `priority` (highest first, then
  // oldest), so with no priorities set it is oldest first.
  const std::string a = SubmitLeaf(), b = SubmitLeaf(), c = SubmitLeaf();
  auto patch = [&](const std::string& id, std::string body, std::string token = kClient) {
    return Call("PATCH", "/api/v2/jobs/" + id, std::move(body), token, "/jobs/{id}");
  };
  Response raised = patch(c, R"({"priority": 10})");
  ASSERT_EQ(raised.status, 200) << raised.body;
  EXPECT_EQ(Body(raised).at("priority"), 10);
  EXPECT_EQ(Body(raised).at("status"), "queued");
  EXPECT_THAT(Document().Validate(Body(raised), "Job"), IsEmpty());
  ASSERT_EQ(patch(b, R"({"priority": 5})").status, 200);
  ASSERT_EQ(patch(a, R"({"priority": -2147483648})").status, 200);
  json::value first = Claim(), second = Claim(), third = Claim();
  EXPECT_EQ(IdOf(first), c);
  EXPECT_EQ(IdOf(second), b);
  EXPECT_EQ(IdOf(third), a);
  EXPECT_EQ(patch(c, R"({"priority": 1})").status, 409) << "rendering";
  ASSERT_EQ(EndAttempt(first, "finish").status, 200);
  EXPECT_EQ(patch(c, R"({"priority": 1})").status, 409) << "finished";

  const std::vector<std::string> family = SubmitFamily();
  Response pending = patch(family[0], R"({"priority": 3})");
  EXPECT_EQ(pending.status, 200) << "a pending job may be reprioritized";
  EXPECT_EQ(Body(pending).at("status"), "pending");

  const std::string d = family[1];
  EXPECT_THAT(DetailFields(patch(d, "")), ElementsAre("body"));
  EXPECT_THAT(DetailFields(patch(d, "{}")), ElementsAre("priority"));
  EXPECT_THAT(DetailFields(patch(d, R"({"priority": "5"})")), ElementsAre("priority"));
  EXPECT_THAT(DetailFields(patch(d, R"({"priority": 1.5})")), ElementsAre("priority"));
  EXPECT_THAT(DetailFields(patch(d, R"({"priority": 2147483648})")), ElementsAre("priority"));
  EXPECT_THAT(DetailFields(patch(d, R"({"priority": 1, "tags": ["x"]})")), ElementsAre("tags"));
  EXPECT_EQ(patch("xyz", R"({"priority": 1})").status, 400);
  EXPECT_EQ(patch("01ARZ3NDEKTSV4RRFFQ69G5FAV", R"({"priority": 1})").status, 404);
  EXPECT_EQ(patch(d, R"({"priority": 1})", kClientB).status, 404);
  EXPECT_EQ(patch(d, R"({"priority": 1})", kWorker).status, 403);
  EXPECT_EQ(Get(d).at("priority"), 0) << "refused requests change nothing";
}

TEST_F(ApiTest, AConcretePathIsMatchedBeforeATemplatedOne) {
  // PATCH /jobs/{id} and POST /jobs/retry exist; /jobs/cancel, /jobs/join
  // and /jobs/retry are not job ids.
  for (const char* path : {"/api/v2/jobs/cancel", "/api/v2/jobs/join", "/api/v2/jobs/retry"}) {
    Response r = Call("PATCH", path, R"({"priority": 1})");
    EXPECT_EQ(r.status, 405) << path;
    EXPECT_THAT(r.headers,
                ::testing::Contains(std::pair<std::string, std::string>("Allow", "POST")))
        << path;
  }
  EXPECT_EQ(Call("GET", "/api/v2/jobs/retry").status, 405);
}

TEST_F(ApiTest, AJobThatFailsTwiceThenFinishesUsesThreeAttemptsAndOneWebhook) {
  // cascade-server --max-attempts 3 --retry-backoff 1 (contract §14).
  Start({"--max-attempts", "3", "--retry-backoff", "1"});
  Response created = Call("POST", "/api/v2/jobs",
                          absl::StrCat(R"({"template": {"id": ")", kTemplate,
                                       R"("}, "webhook": {"url": "https://hooks.example.com/x"}})"),
                          kClient, "/jobs");
  ASSERT_EQ(created.status, 201);
  const std::string id(Body(created).at("id").as_string());

  // Attempt 1 fails: queued again, not claimable for 1 s.
  json::value claim = Claim();
  ASSERT_FALSE(claim.is_null());
  EXPECT_EQ(claim.at("job").at("attempts"), 1);
  Response failed = EndAttempt(claim, "fail", R"("error": "GPU lost")");
  ASSERT_EQ(failed.status, 200) << failed.body;
  json::value job = Body(failed);
  EXPECT_EQ(job.at("status"), "queued");
  EXPECT_EQ(job.at("attempts"), 1);
  EXPECT_EQ(job.at("maxAttempts"), 3);
  EXPECT_EQ(job.at("retryAt"), json::value(FormatTimestamp(clock_.Now() + absl::Seconds(1))));
  EXPECT_EQ(job.at("stats").at("error"), "GPU lost") << "the last error, while it waits";
  EXPECT_THAT(Document().Validate(job, "Job"), IsEmpty());
  EXPECT_EQ(Get(id), job);
  EXPECT_TRUE(Claim().is_null()) << "not before retryAt";
  clock_.Advance(absl::Milliseconds(999));
  engine_->RunDueWork();
  EXPECT_TRUE(Claim().is_null());
  clock_.Advance(absl::Milliseconds(1));
  engine_->RunDueWork();

  // Attempt 2 fails: the backoff doubles.
  claim = Claim();
  ASSERT_FALSE(claim.is_null());
  EXPECT_EQ(claim.at("job").at("attempts"), 2);
  EXPECT_TRUE(claim.at("job").at("retryAt").is_null());
  failed = EndAttempt(claim, "fail", R"("error": "GPU lost again")");
  ASSERT_EQ(failed.status, 200);
  EXPECT_EQ(Body(failed).at("retryAt"),
            json::value(FormatTimestamp(clock_.Now() + absl::Seconds(2))));
  clock_.Advance(absl::Seconds(1));
  engine_->RunDueWork();
  EXPECT_TRUE(Claim().is_null());
  clock_.Advance(absl::Seconds(1));
  engine_->RunDueWork();

  // Attempt 3 finishes.
  claim = Claim();
  ASSERT_FALSE(claim.is_null());
  EXPECT_EQ(claim.at("job").at("attempts"), 3);
  EXPECT_TRUE(transport_.calls().empty()) << "no webhook while the job is being retried";
  Response done = EndAttempt(claim, "finish");
  ASSERT_EQ(done.status, 200);
  EXPECT_EQ(Body(done).at("status"), "finished");
  EXPECT_EQ(Body(done).at("attempts"), 3);
  EXPECT_TRUE(Body(done).at("retryAt").is_null());
  for (int i = 0; i < 5; ++i) {
    engine_->RunDueWork();
    clock_.Advance(absl::Seconds(10));
  }
  std::vector<cascade::testing::FakeTransport::Call> calls = transport_.calls();
  ASSERT_THAT(calls, SizeIs(1)) << "exactly one webhook, at the end";
  EXPECT_EQ(json::parse(calls[0].request.body).at("status"), "finished");
}

TEST_F(ApiTest, TheLastFailedAttemptEndsTheJobInErrorWithOneWebhook) {
  Start({"--max-attempts", "2"});
  Response created =
      Call("POST", "/api/v2/jobs",
           absl::StrCat(R"({"template": {"id": ")", kTemplate,
                        R"("}, "webhook": {"url": "https://hooks.example.com/x"}})"));
  ASSERT_EQ(created.status, 201);
  ASSERT_EQ(EndAttempt(Claim(), "fail", R"("error": "first")").status, 200);
  engine_->RunDueWork();
  Response last = EndAttempt(Claim(), "fail", R"("error": "second")");
  ASSERT_EQ(last.status, 200);
  EXPECT_EQ(Body(last).at("status"), "error");
  EXPECT_EQ(Body(last).at("attempts"), 2);
  EXPECT_EQ(Body(last).at("stats").at("error"), "second");
  for (int i = 0; i < 5; ++i) {
    engine_->RunDueWork();
    clock_.Advance(absl::Seconds(10));
  }
  ASSERT_THAT(transport_.calls(), SizeIs(1));
  EXPECT_EQ(json::parse(transport_.calls()[0].request.body).at("status"), "error");
}

}  // namespace
}  // namespace cascade::server
