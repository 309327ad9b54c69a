// Copyright 2026 The Cascade Authors.
//
// cascade-server's handler (server/api.h), called directly: every route,
// the error codes the OpenAPI document lists for it, tokens, the rate limit
// and the body limit. Every JSON answer of a route the document describes is
// validated against the schema the document gives for that route and status.
// (tests/server_test.cc drives the same handler over real HTTP.)

#include "server/api.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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
  // document; when set, the answer is validated against it.
  Response Call(std::string method, std::string target, std::string body = "",
                std::string token = kClient, std::string_view doc_path = "") {
    Request request;
    request.method = std::move(method);
    request.target = std::move(target);
    request.body = std::move(body);
    if (!token.empty()) request.headers.emplace_back("authorization", "Bearer " + token);
    Response response = api_->Handle(request);
    if (!doc_path.empty()) {
      EXPECT_THAT(Document().ValidateResponse(absl::AsciiStrToLower(request.method), doc_path,
                                              response.status, response.body),
                  IsEmpty())
          << request.method << " " << request.target << " -> " << response.status << " "
          << response.body;
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

TEST_F(ApiTest, GetJobAnswersTheJobOr400Or404) {
  const std::string id = SubmitLeaf();
  Response r = Call("GET", "/api/v2/jobs/" + id, "", kClient, "/jobs/{id}");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Body(r).at("id"), json::value(id));
  Response bad = Call("GET", "/api/v2/jobs/not-an-id");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(Body(bad).at("details").as_array()[0].at("field"), "id");
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
  Response failed =
      Call("POST", "/api/v2/jobs/" + a + "/fail",
           absl::StrCat(R"({"lease": ")", lease_a, R"(", "error": "boom"})"), kWorker);
  ASSERT_EQ(failed.status, 200);
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

}  // namespace
}  // namespace cascade::server
