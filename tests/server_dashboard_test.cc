// Copyright 2026 The Cascade Authors.
//
// cascade-server's handler (server/api.h), called directly, on what the
// dashboard needs of the server (contract §16): GET /api/v2/jobs/{id}/graph.svg
// (a family drawn by Graphviz: a box per job coloured by state, linked to
// the job's page, edges solid and dashed; tokens and team scoping as on
// every client route) and the page itself, served from the binary: / and
// /ui/<path> byte for byte as in server/dashboard/, with their content
// types, ETags (304), caching and security headers, and no token.

#include <openssl/sha.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cascade/cascade.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/api.h"
#include "server/dashboard_assets.h"
#include "server/flags.h"
#include "tests/testutil.h"

namespace cascade::server {
namespace {

namespace json = boost::json;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pair;
using ::testing::StartsWith;

constexpr char kClient[] = "client-token-a";
constexpr char kClientB[] = "client-token-b";
constexpr char kWorker[] = "worker-token";
constexpr char kTemplate[] = "01HZX3C5Y5V7E8W3J6T9Q2M1NB";

class DashboardTest : public ::testing::Test {
 protected:
  DashboardTest() {
    Options options = EngineOptions(ParseFlags({"--data", ":memory:"}).value());
    options.clock = &clock_;
    options.id_seed = 5;
    engine_ = Engine::Create(options).value();
    ApiOptions api;
    api.client_tokens = {{kClient, "team-a"}, {kClientB, "team-b"}};
    api.worker_tokens = {kWorker};
    api.clock = &clock_;
    api_ = std::make_unique<Api>(engine_.get(), api);
  }

  Response Call(std::string method, std::string target, std::string body = "",
                std::string token = kClient,
                std::vector<std::pair<std::string, std::string>> headers = {}) {
    Request request;
    request.method = std::move(method);
    request.target = std::move(target);
    request.body = std::move(body);
    request.headers = std::move(headers);
    if (!token.empty()) request.headers.emplace_back("authorization", "Bearer " + token);
    return api_->Handle(request);
  }
  static json::value Body(const Response& r) { return json::parse(r.body); }
  static std::string Header(const Response& r, const std::string& name) {
    for (const auto& [n, v] : r.headers) {
      if (absl::EqualsIgnoreCase(n, name)) return v;
    }
    return "";
  }

  std::string Submit(const std::string& extra = "") {
    Response r = Call("POST", "/api/v2/jobs",
                      absl::StrCat(R"({"template": {"id": ")", kTemplate, R"("})", extra, "}"));
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(Body(r).at("id").as_string());
  }
  // Claims the oldest queued job: its {"job", "lease", ...}.
  json::value Claim() {
    Response r = Call("POST", "/api/v2/workers/claim", "", kWorker);
    EXPECT_EQ(r.status, 200) << r.body;
    return Body(r);
  }
  Response EndAttempt(const json::value& claim, const std::string& action,
                      const std::string& fields = "") {
    return Call(
        "POST",
        absl::StrCat("/api/v2/jobs/", std::string(claim.at("job").at("id").as_string()), "/",
                     action),
        absl::StrCat(R"({"lease": ")", std::string(claim.at("lease").at("token").as_string()), "\"",
                     fields.empty() ? "" : ", ", fields, "}"),
        kWorker);
  }
  std::string Svg(const std::string& id) {
    Response r = Call("GET", "/api/v2/jobs/" + id + "/graph.svg");
    EXPECT_EQ(r.status, 200) << r.body;
    return r.body;
  }

  ManualClock clock_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Api> api_;
};

// ---- GET /api/v2/jobs/{id}/graph.svg ------------------------------------------------

TEST_F(DashboardTest, GraphSvgDrawsTheFamilyWithABoxAndALinkPerJob) {
  // A parent with a nested child, and a job that depends on the parent.
  const std::string child_asset =
      absl::StrCat(R"({"type": "job", "layerName": "l", "template": {"id": ")", kTemplate,
                   R"(", "composition": "c"}})");
  const std::string parent = Submit(absl::StrCat(R"(, "assets": [)", child_asset, "]"));
  const std::string child(
      Body(Call("GET", "/api/v2/jobs/" + parent)).at("children").as_array()[0].as_string());
  const std::string dependent = Submit(absl::StrCat(R"(, "dependsOn": [")", parent, R"("])"));

  Response r = Call("GET", "/api/v2/jobs/" + parent + "/graph.svg");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "image/svg+xml");
  EXPECT_THAT(r.headers, Contains(Pair("X-Content-Type-Options", "nosniff")));
  EXPECT_THAT(r.body, StartsWith("<svg "));
  for (const std::string& id : {parent, child, dependent}) {
    SCOPED_TRACE(id);
    EXPECT_THAT(r.body, HasSubstr(absl::StrCat("<g id=\"job&#45;", id, "\" class=\"node job ")));
    EXPECT_THAT(r.body, HasSubstr(absl::StrCat("xlink:href=\"#/jobs/", id, "\"")));
    // The label: the short id, as the dashboard writes it, over the state.
    EXPECT_THAT(r.body, HasSubstr(absl::StrCat(">", id.substr(0, 6), "\xE2\x80\xA6",
                                               id.substr(id.size() - 6), "</text>")));
  }
  EXPECT_THAT(r.body, HasSubstr(">queued</text>"));
  EXPECT_THAT(r.body, HasSubstr(">pending</text>"));
  // Two edges: the child's solid, the dependsOn dashed.
  size_t edges = 0;
  for (size_t at = r.body.find("class=\"edge\""); at != std::string::npos;
       at = r.body.find("class=\"edge\"", at + 1)) {
    ++edges;
  }
  EXPECT_EQ(edges, 2u);
  size_t dashed = 0;
  for (size_t at = r.body.find("stroke-dasharray"); at != std::string::npos;
       at = r.body.find("stroke-dasharray", at + 1)) {
    ++dashed;
  }
  EXPECT_EQ(dashed, 1u);
  // The same family from any of its jobs.
  EXPECT_THAT(Svg(dependent), HasSubstr(absl::StrCat("#/jobs/", child)));
}

TEST_F(DashboardTest, GraphSvgFillsEachJobByItsState) {
  struct Case {
    std::string state, fill, css;
  };
  const std::vector<Case> cases = {
      {"queued", "#d5d8dc", "state-queued"},
      {"pending", "#f4f6f7", "state-pending"},
      {"render:dorender", "#5dade2", "state-rendering"},
      {"finished", "#58d68d", "state-finished"},
      {"error", "#ec7063", "state-error"},
      {"manually_cancelled", "#616a6b", "state-cancelled"},
  };
  // One job in each state; the claims take the oldest queued job first, so
  // each is claimed right after it is made.
  std::vector<std::string> ids;
  ids.push_back(Submit());  // queued
  const std::string prerequisite = Submit();
  ids.push_back(Submit(absl::StrCat(R"(, "dependsOn": [")", prerequisite, R"("])")));  // pending
  Response cancelled = Call("PATCH", "/api/v2/jobs/" + ids[0] + "/cancel");
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;  // the first queued job out of the way
  ids.push_back(prerequisite);                         // rendering
  ASSERT_EQ(std::string(Claim().at("job").at("id").as_string()), prerequisite);
  ids.push_back(Submit());  // finished
  ASSERT_EQ(EndAttempt(Claim(), "finish").status, 200);
  ids.push_back(Submit());  // error
  ASSERT_EQ(EndAttempt(Claim(), "fail", R"("error": "x", "retry": false)").status, 200);
  ids.push_back(ids[0]);  // manually_cancelled
  ids[0] = Submit();      // and a queued one again

  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].state);
    ASSERT_EQ(std::string(Body(Call("GET", "/api/v2/jobs/" + ids[i])).at("status").as_string()),
              cases[i].state);
    const std::string svg = Svg(ids[i]);
    // The job's own node: from its <g> to the comment before the next
    // element Graphviz draws.
    const size_t start = svg.find(absl::StrCat("<g id=\"job&#45;", ids[i], "\""));
    ASSERT_NE(start, std::string::npos);
    const std::string node = svg.substr(start, svg.find("\n<!--", start) - start);
    // Graphviz writes '-' as "&#45;" in attributes too (a browser reads "-").
    EXPECT_THAT(
        node, HasSubstr(absl::StrCat("class=\"node job state&#45;", cases[i].css.substr(6), "\"")));
    EXPECT_THAT(node, HasSubstr(absl::StrCat("fill=\"", cases[i].fill, "\"")));
    EXPECT_THAT(node, HasSubstr(absl::StrCat(">", cases[i].state, "</text>")));
  }
}

TEST_F(DashboardTest, GraphSvgIsScopedToTheTeamAndRefusesBadIdsAndTokens) {
  const std::string id = Submit();
  // Another team's job does not exist for it.
  Response other = Call("GET", "/api/v2/jobs/" + id + "/graph.svg", "", kClientB);
  EXPECT_EQ(other.status, 404);
  EXPECT_EQ(Body(other).at("errorCode"), "not_found");
  EXPECT_THAT(other.body, Not(HasSubstr("<svg")));
  EXPECT_EQ(Call("GET", "/api/v2/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV/graph.svg").status, 404);
  // A malformed id, as on every route with an id but GET /jobs/{id}.
  Response bad = Call("GET", "/api/v2/jobs/not-an-id/graph.svg");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(Body(bad).at("details").at(0).at("field"), "id");
  // Tokens.
  EXPECT_EQ(Call("GET", "/api/v2/jobs/" + id + "/graph.svg", "", "").status, 401);
  EXPECT_EQ(Call("GET", "/api/v2/jobs/" + id + "/graph.svg", "", kWorker).status, 403);
  // Methods: HEAD is GET (the HTTP server drops the body); others 405.
  Response head = Call("HEAD", "/api/v2/jobs/" + id + "/graph.svg");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.content_type, "image/svg+xml");
  Response post = Call("POST", "/api/v2/jobs/" + id + "/graph.svg");
  EXPECT_EQ(post.status, 405);
  EXPECT_THAT(post.headers, Contains(Pair("Allow", "GET")));
}

// Layouts share one lock and `dot` grows faster than the graph: graph.svg
// draws families of up to 1,000 jobs (one submitted tree's limit).
TEST_F(DashboardTest, GraphSvgRefusesAFamilyOfMoreThanAThousandJobs) {
  std::string assets;
  for (int i = 0; i < 999; ++i) {
    absl::StrAppend(&assets, i == 0 ? "" : ", ",
                    R"({"type": "job", "layerName": "l", "template": {"id": ")", kTemplate,
                    R"(", "composition": "c"}})");
  }
  const std::string tree = Submit(absl::StrCat(R"(, "assets": [)", assets, "]"));  // 1,000 jobs
  const std::string dependent = Submit(absl::StrCat(R"(, "dependsOn": [")", tree, R"("])"));
  Response r = Call("GET", "/api/v2/jobs/" + dependent + "/graph.svg");
  EXPECT_EQ(r.status, 422);
  EXPECT_THAT(Body(r).at("error").as_string().c_str(), HasSubstr("has 1001 jobs"));
  EXPECT_EQ(Call("GET", "/api/v2/jobs/" + dependent + "/graph").status, 200);
}

TEST_F(DashboardTest, GraphDotCarriesTheLinksAndLooksTheSvgIsDrawnFrom) {
  const std::string id = Submit();
  Response dot = Call("GET", "/api/v2/jobs/" + id + "/graph");
  ASSERT_EQ(dot.status, 200);
  EXPECT_THAT(dot.body, HasSubstr(absl::StrCat("URL=\"#/jobs/", id, "\"")));
  EXPECT_THAT(dot.body, HasSubstr(absl::StrCat("id=\"job-", id, "\"")));
  EXPECT_THAT(dot.body, HasSubstr(absl::StrCat("label=\"", id.substr(0, 6), "\xE2\x80\xA6",
                                               id.substr(id.size() - 6), "\\nqueued\"")));
  EXPECT_THAT(dot.body, HasSubstr("fillcolor=\"#d5d8dc\""));
}

// ---- The page and its files ---------------------------------------------------------

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

std::string QuotedSha256(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return absl::StrCat("\"",
                      absl::BytesToHexString(
                          absl::string_view(reinterpret_cast<const char*>(digest), sizeof digest)),
                      "\"");
}

// Every file of server/dashboard/ but hidden ones and editor backups, by its
// path under it.
std::set<std::string> FilesOnDisk() {
  std::set<std::string> out;
  const std::filesystem::path root(CASCADE_DASHBOARD_DIR);
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().lexically_relative(root).generic_string();
    if (name.starts_with(".") || absl::StrContains(name, "/.") || name.ends_with("~")) continue;
    out.insert(name);
  }
  return out;
}

TEST_F(DashboardTest, TheBinaryHoldsEveryFileOfTheDashboardByteForByte) {
  std::set<std::string> embedded;
  for (const DashboardAsset& asset : DashboardAssets()) embedded.insert(std::string(asset.path));
  EXPECT_EQ(embedded, FilesOnDisk()) << "rebuild cascade_server after changing server/dashboard/";
  ASSERT_TRUE(embedded.contains("index.html"));
  for (const std::string& name : FilesOnDisk()) {
    SCOPED_TRACE(name);
    Response r = Call("GET", "/ui/" + name, "", "");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, ReadFile(std::filesystem::path(CASCADE_DASHBOARD_DIR) / name));
    EXPECT_EQ(Header(r, "ETag"), QuotedSha256(r.body));
    EXPECT_EQ(Header(r, "Cache-Control"), "no-cache");
    EXPECT_EQ(Header(r, "X-Content-Type-Options"), "nosniff");
    if (name.ends_with(".js")) EXPECT_EQ(r.content_type, "text/javascript; charset=utf-8");
    if (name.ends_with(".css")) EXPECT_EQ(r.content_type, "text/css; charset=utf-8");
    if (name.ends_with(".svg")) EXPECT_EQ(r.content_type, "image/svg+xml");
    if (name.ends_with(".html")) {
      EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
    } else {
      EXPECT_EQ(Header(r, "Content-Security-Policy"), "");
    }
  }
}

TEST_F(DashboardTest, TheRootIsTheIndexPageWithItsSecurityHeadersAndNoToken) {
  for (const std::string& token : {std::string(), std::string("nope"), std::string(kClient)}) {
    for (const std::string target : {"/", "/?from=bookmark"}) {
      SCOPED_TRACE(target + " with token '" + token + "'");
      Response r = Call("GET", target, "", token);
      ASSERT_EQ(r.status, 200) << r.body;
      EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
      EXPECT_EQ(r.body, ReadFile(std::filesystem::path(CASCADE_DASHBOARD_DIR) / "index.html"));
      EXPECT_EQ(Header(r, "Content-Security-Policy"),
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                "connect-src 'self'; frame-ancestors 'none'");
      EXPECT_EQ(Header(r, "X-Content-Type-Options"), "nosniff");
      EXPECT_EQ(Header(r, "Referrer-Policy"), "no-referrer");
      EXPECT_EQ(Header(r, "Cache-Control"), "no-cache");
      EXPECT_EQ(Header(r, "ETag"), QuotedSha256(r.body));
    }
  }
  Response head = Call("HEAD", "/", "", "");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(Call("GET", "/ui/index.html", "", "").body, head.body);
}

TEST_F(DashboardTest, IfNoneMatchWithTheETagIs304WithoutABody) {
  const std::string etag = Header(Call("GET", "/", "", ""), "ETag");
  ASSERT_THAT(etag, StartsWith("\""));
  for (const std::string& none_match :
       {etag, "W/" + etag, "\"something-else\", " + etag, std::string("*")}) {
    SCOPED_TRACE(none_match);
    for (const std::string target : {"/", "/ui/index.html"}) {
      Response r = Call("GET", target, "", "", {{"if-none-match", none_match}});
      EXPECT_EQ(r.status, 304);
      EXPECT_THAT(r.body, IsEmpty());
      EXPECT_EQ(Header(r, "ETag"), etag);
      EXPECT_EQ(Header(r, "Cache-Control"), "no-cache");
    }
  }
  // Another tag, or another file's: the page.
  Response changed = Call("GET", "/", "", "", {{"if-none-match", "\"0123\""}});
  EXPECT_EQ(changed.status, 200);
  EXPECT_THAT(changed.body, Not(IsEmpty()));
  std::optional<DashboardAsset> other = FindDashboardAsset(*std::prev(FilesOnDisk().end()));
  ASSERT_TRUE(other.has_value());
  if (other->etag != etag) {
    EXPECT_EQ(Call("GET", "/", "", "", {{"if-none-match", std::string(other->etag)}}).status, 200);
  }
}

TEST_F(DashboardTest, UnknownFilesAndOtherPathsAre404AndOtherMethods405) {
  for (const std::string target :
       {"/ui/no-such-file.js", "/ui/../index.html", "/ui/", "/ui", "/index.html", "/app.js",
        "/ui/%69ndex.html", "/dashboard", "/api"}) {
    SCOPED_TRACE(target);
    Response r = Call("GET", target, "", "");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.content_type, "application/json");
    EXPECT_EQ(Body(r).at("errorCode"), "not_found");
  }
  for (const std::string method : {"POST", "PUT", "DELETE", "PATCH"}) {
    for (const std::string target : {"/", "/ui/index.html"}) {
      SCOPED_TRACE(method + " " + target);
      Response r = Call(method, target, "{}", "");
      EXPECT_EQ(r.status, 405);
      EXPECT_THAT(r.headers, Contains(Pair("Allow", "GET, HEAD")));
    }
  }
}

TEST_F(DashboardTest, MetricsCountThePageUnderTwoRoutesNotOnePerFile) {
  ASSERT_EQ(Call("GET", "/", "", "").status, 200);
  ASSERT_EQ(Call("GET", "/ui/index.html", "", "").status, 200);
  ASSERT_EQ(Call("GET", "/ui/no-such-file.js", "", "").status, 404);
  const std::string metrics = Call("GET", "/api/v2/metrics", "", "").body;
  EXPECT_THAT(metrics, HasSubstr("cascade_http_requests_total{route=\"GET /\",code=\"200\"} 1"));
  EXPECT_THAT(metrics,
              HasSubstr("cascade_http_requests_total{route=\"GET /ui/{path}\",code=\"200\"} 1"));
  EXPECT_THAT(metrics, Not(HasSubstr("index.html")));
}

}  // namespace
}  // namespace cascade::server
