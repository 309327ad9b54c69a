// Copyright 2026 The Cascade Authors.
//
// cascade-worker's config file (worker/config.h), its placeholders
// (worker/placeholders.h) and its progress regex (worker/progress.h): what
// is accepted, every error a config can have, and how a job fills a
// command.

#include <string>
#include <vector>

#include "boost/json.hpp"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil.h"
#include "worker/config.h"
#include "worker/placeholders.h"
#include "worker/progress.h"

namespace cascade::worker {
namespace {

namespace json = boost::json;
using ::cascade::testing::IsOk;
using ::cascade::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kTemplate[] = "01HZX3C5Y5V7E8W3J6T9Q2M1NB";

// A StatusOr that is OK and whose value matches `m`.
MATCHER_P(IsOkAndHolds, m, "is OK and holds a matching value") {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(m, *arg, result_listener);
}

// ---- Config -------------------------------------------------------------------

TEST(WorkerConfigTest, ReadsEveryField) {
  CASCADE_ASSERT_OK_AND_ASSIGN(WorkerConfig config, ParseWorkerConfig(R"j({
    "graceSeconds": 2.5,
    "commands": {
      "01HZX3C5Y5V7E8W3J6T9Q2M1NB": {
        "argv": ["ffmpeg", "-y", "{output}"],
        "progress": "out_time_us=(?<done>\\d+)",
        "progressTotal": 2000000,
        "finalExitCodes": [1, 69],
        "env": {"JOB_ID": "{id}", "LANG": "C"}
      },
      "*": {"argv": ["render", "{id}"], "progress": "(\\d+)%"}
    }})j",
                                                                      "farm.json"));
  EXPECT_EQ(config.grace, absl::Milliseconds(2500));
  ASSERT_EQ(config.commands.size(), 2u);
  const CommandConfig* exact = config.Find(std::string(kTemplate));
  ASSERT_NE(exact, nullptr);
  EXPECT_EQ(exact->argv.size(), 3u);
  EXPECT_EQ(exact->progress_total, 2000000);
  EXPECT_THAT(exact->final_exit_codes, ElementsAre(1, 69));
  ASSERT_EQ(exact->env.size(), 2u);
  EXPECT_EQ(exact->env[0].first, "JOB_ID");
  // The exact id wins; "*" takes any other template, and jobs without one.
  const CommandConfig* any = config.Find(std::string("01HZX3C5Y5V7E8W3J6T9Q2M1NC"));
  ASSERT_NE(any, nullptr);
  EXPECT_EQ(any->argv[0].source, "render");
  EXPECT_EQ(config.Find(std::nullopt), any);
}

TEST(WorkerConfigTest, DefaultsAndNoFallback) {
  CASCADE_ASSERT_OK_AND_ASSIGN(
      WorkerConfig config,
      ParseWorkerConfig(R"({"commands": {"01HZX3C5Y5V7E8W3J6T9Q2M1NB": {"argv": ["true"]}}})",
                        "c.json"));
  EXPECT_EQ(config.grace, absl::Seconds(10));
  EXPECT_EQ(config.Find(std::string("01HZX3C5Y5V7E8W3J6T9Q2M1NC")), nullptr);
  EXPECT_EQ(config.Find(std::nullopt), nullptr);
}

struct BadConfig {
  const char* name;
  const char* text;
  const char* message;  // a substring of the error
};

class WorkerConfigErrorTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(WorkerConfigErrorTest, IsRefusedNamingFileFieldAndWhy) {
  absl::StatusOr<WorkerConfig> config = ParseWorkerConfig(GetParam().text, "farm.json");
  EXPECT_THAT(config, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(GetParam().message)));
  EXPECT_THAT(config, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("farm.json: ")));
}

INSTANTIATE_TEST_SUITE_P(
    Errors, WorkerConfigErrorTest,
    ::testing::Values(
        BadConfig{"NotJson", "{", "farm.json: not JSON"},
        BadConfig{"NotAnObject", "[]", "must be a JSON object"},
        BadConfig{"NoCommands", "{}", "commands: is required"},
        BadConfig{"EmptyCommands", R"({"commands": {}})", "at least one command"},
        BadConfig{"UnknownTopLevel", R"({"commands": {"*": {"argv": ["x"]}}, "grace": 1})",
                  "grace: unknown field"},
        BadConfig{"BadGrace", R"({"commands": {"*": {"argv": ["x"]}}, "graceSeconds": 0})",
                  "graceSeconds: must be a number of seconds above 0"},
        BadConfig{"BadKey", R"({"commands": {"ffmpeg": {"argv": ["x"]}}})",
                  "commands.ffmpeg: not a template id"},
        BadConfig{"CommandNotObject", R"({"commands": {"*": ["x"]}})",
                  "commands.*: must be an object"},
        BadConfig{"NoArgv", R"({"commands": {"*": {}}})", "commands.*.argv: is required"},
        BadConfig{"EmptyArgv", R"({"commands": {"*": {"argv": []}}})",
                  "commands.*.argv: must be a non-empty array"},
        BadConfig{"ArgvNotString", R"({"commands": {"*": {"argv": ["x", 3]}}})",
                  "commands.*.argv[1]: must be a string, not a number"},
        BadConfig{"UnknownPlaceholder", R"({"commands": {"*": {"argv": ["x", "{ouput}"]}}})",
                  "commands.*.argv[1]: \"{ouput}\": unknown placeholder {ouput}"},
        BadConfig{"LoneBrace", R"({"commands": {"*": {"argv": ["x", "a}b"]}}})", "a lone '}'"},
        BadConfig{"UnclosedBrace", R"({"commands": {"*": {"argv": ["x", "{id"]}}})",
                  "a '{' without its '}'"},
        BadConfig{"EmptyPath", R"({"commands": {"*": {"argv": ["x", "{settings.a..b}"]}}})",
                  "empty path segment"},
        BadConfig{"ChildrenInsideText", R"({"commands": {"*": {"argv": ["x", "-i={children}"]}}})",
                  "{children} must be a whole argument"},
        BadConfig{"ChildrenAsProgram", R"({"commands": {"*": {"argv": ["{children}"]}}})",
                  "argv[0]: the program must be named"},
        BadConfig{"UnknownCommandField", R"({"commands": {"*": {"argv": ["x"], "shell": true}}})",
                  "commands.*.shell: unknown field"},
        BadConfig{"BadEnvName", R"({"commands": {"*": {"argv": ["x"], "env": {"1A": "v"}}}})",
                  "commands.*.env.1A: not a variable name"},
        BadConfig{"EnvNotString", R"({"commands": {"*": {"argv": ["x"], "env": {"A": 1}}}})",
                  "commands.*.env.A: must be a string"},
        BadConfig{"EnvChildren",
                  R"({"commands": {"*": {"argv": ["x"], "env": {"A": "{children}"}}}})",
                  "only allowed in argv"},
        BadConfig{"BadRegex", R"({"commands": {"*": {"argv": ["x"], "progress": "(\\d+"}}})",
                  "commands.*.progress: not a regular expression"},
        BadConfig{"RegexWithoutGroup",
                  R"({"commands": {"*": {"argv": ["x"], "progress": "\\d+%"}}})",
                  "has no capture group"},
        BadConfig{"DoneWithoutTotal",
                  R"j({"commands": {"*": {"argv": ["x"], "progress": "(?<done>\\d+)"}}})j",
                  "commands.*.progressTotal: is required"},
        BadConfig{
            "TotalWithoutDone",
            R"j({"commands": {"*": {"argv": ["x"], "progress": "(\\d+)", "progressTotal": 5}}})j",
            "commands.*.progressTotal: is only used"},
        BadConfig{"TotalZero", R"j({"commands": {"*": {"argv": ["x"],
                  "progress": "(?<done>\\d+)", "progressTotal": 0}}})j",
                  "progressTotal: must be above 0"},
        BadConfig{"ExitCodeZero", R"({"commands": {"*": {"argv": ["x"], "finalExitCodes": [0]}}})",
                  "commands.*.finalExitCodes[0]: must be an exit code"},
        BadConfig{"ExitCodeFraction",
                  R"({"commands": {"*": {"argv": ["x"], "finalExitCodes": [1.5]}}})",
                  "finalExitCodes[0]: must be an exit code"},
        BadConfig{"ExitCodesNotArray",
                  R"({"commands": {"*": {"argv": ["x"], "finalExitCodes": 2}}})",
                  "finalExitCodes: must be an array"}),
    [](const ::testing::TestParamInfo<BadConfig>& info) { return info.param.name; });

TEST(WorkerConfigTest, ReportsEveryProblemOnItsOwnLine) {
  absl::StatusOr<WorkerConfig> config = ParseWorkerConfig(
      R"({"commands": {"*": {"argv": ["x", "{nope}"], "finalExitCodes": [0]}}, "x": 1})", "f");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(std::count(config.status().message().begin(), config.status().message().end(), '\n'), 2)
      << config.status();
}

TEST(WorkerConfigTest, MissingFileIsNotFound) {
  EXPECT_THAT(LoadWorkerConfig("/nonexistent/farm.json"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent/farm.json")));
}

// ---- Placeholders ---------------------------------------------------------------

std::vector<Template> Argv(std::vector<std::string> texts) {
  std::vector<Template> out;
  for (const std::string& t : texts) out.push_back(ParseTemplate(t).value());
  return out;
}

JobFacts Facts() {
  JobFacts facts;
  facts.id = "01JTRDF7HCR8QAHYW8GPCP4S9Y";
  facts.template_id = kTemplate;
  facts.output_url = "file:///renders/out%20put/01JTRDF7HCR8QAHYW8GPCP4S9Y.mp4";
  facts.payload = json::parse(R"({
    "template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1NB", "composition": "main comp"},
    "settings": {"codec": "h264", "frames": [0, 48], "a": {"b": "deep"}, "flag": true},
    "seconds": 2.5,
    "assets": [{"type": "video", "src": "https://cdn.example.com/in.mp4"}]})");
  facts.children.emplace();
  facts.children->push_back({"C1", "file:///renders/c1.mp4", "intro"});
  facts.children->push_back({"C2", "file://localhost/renders/c2.mp4", std::nullopt});
  facts.children->push_back({"C3", "file:///renders/c3.mp4", "outro"});
  return facts;
}

TEST(PlaceholdersTest, FillsEachArgumentOnItsOwn) {
  EXPECT_THAT(
      FillArgv(Argv({"render", "{id}", "--out={output}", "{template}", "{composition}",
                     "{settings.codec}", "{settings.frames.1}", "{settings.a.b}", "{settings.flag}",
                     "{payload.seconds}", "{payload.assets.0.src}", "{settings.a}"}),
               Facts()),
      IsOkAndHolds(ElementsAre("render", "01JTRDF7HCR8QAHYW8GPCP4S9Y",
                               "--out=/renders/out put/01JTRDF7HCR8QAHYW8GPCP4S9Y.mp4", kTemplate,
                               "main comp", "h264", "48", "deep", "true", "2.5",
                               "https://cdn.example.com/in.mp4", R"({"b":"deep"})")));
}

TEST(PlaceholdersTest, DoubledBracesAreLiteral) {
  EXPECT_THAT(FillArgv(Argv({"{{id}}", "a{{{id}}}b", "}}{{"}), Facts()),
              IsOkAndHolds(ElementsAre("{id}", "a{01JTRDF7HCR8QAHYW8GPCP4S9Y}b", "}{")));
}

TEST(PlaceholdersTest, ChildrenExpandToOneArgumentEachInOrder) {
  EXPECT_THAT(
      FillArgv(Argv({"concat", "{children}", "-o", "{output}"}), Facts()),
      IsOkAndHolds(ElementsAre("concat", "/renders/c1.mp4", "/renders/c2.mp4", "/renders/c3.mp4",
                               "-o", "/renders/out put/01JTRDF7HCR8QAHYW8GPCP4S9Y.mp4")));
  EXPECT_THAT(FillArgv(Argv({"concat:{children:|}", "{children:}"}), Facts()),
              IsOkAndHolds(ElementsAre("concat:/renders/c1.mp4|/renders/c2.mp4|/renders/c3.mp4",
                                       "/renders/c1.mp4/renders/c2.mp4/renders/c3.mp4")));
  EXPECT_THAT(FillArgv(Argv({"{child:outro}", "{child:intro}"}), Facts()),
              IsOkAndHolds(ElementsAre("/renders/c3.mp4", "/renders/c1.mp4")));
  JobFacts leaf = Facts();
  leaf.children->clear();
  EXPECT_THAT(FillArgv(Argv({"x", "{children}", "y"}), leaf), IsOkAndHolds(ElementsAre("x", "y")));
}

TEST(PlaceholdersTest, ShellSyntaxIsJustText) {
  JobFacts facts = Facts();
  facts.payload = json::parse(R"({"settings": {"codec": "$(touch /tmp/x); rm -rf ~ 'a b'"}})");
  EXPECT_THAT(FillArgv(Argv({"{settings.codec}"}), facts),
              IsOkAndHolds(ElementsAre("$(touch /tmp/x); rm -rf ~ 'a b'")));
}

struct Unfillable {
  const char* name;
  std::vector<std::string> argv;
  void (*change)(JobFacts&);
  const char* message;
};

class UnfillableTest : public ::testing::TestWithParam<Unfillable> {};

TEST_P(UnfillableTest, IsAnErrorNamingTheArgument) {
  JobFacts facts = Facts();
  if (GetParam().change != nullptr) GetParam().change(facts);
  absl::StatusOr<std::vector<std::string>> argv = FillArgv(Argv(GetParam().argv), facts);
  EXPECT_THAT(argv, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(GetParam().message)));
  EXPECT_THAT(argv,
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("cannot fill argv[1]")));
}

INSTANTIATE_TEST_SUITE_P(
    Errors, UnfillableTest,
    ::testing::Values(
        Unfillable{"MissingSetting",
                   {"x", "{settings.quality}"},
                   nullptr,
                   "{settings.quality}: payload.settings.quality is not in the job"},
        Unfillable{"NullField",
                   {"x", "{payload.n}"},
                   [](JobFacts& f) { f.payload = json::parse(R"({"n": null})"); },
                   "payload.n is null"},
        Unfillable{"IndexPastEnd", {"x", "{settings.frames.2}"}, nullptr, "is not in the job"},
        Unfillable{"S3Output",
                   {"x", "{output}"},
                   [](JobFacts& f) { f.output_url = "s3://bucket/x.mp4"; },
                   "{output}: the job's outputUrl: \"s3://bucket/x.mp4\" is not a file:// URL"},
        Unfillable{"RemoteHost",
                   {"x", "{output}"},
                   [](JobFacts& f) { f.output_url = "file://nas/x.mp4"; },
                   "names host \"nas\""},
        Unfillable{"NullOutput",
                   {"x", "{output}"},
                   [](JobFacts& f) { f.output_url.clear(); },
                   "the outputUrl is null"},
        Unfillable{"NoTemplate",
                   {"x", "{template}"},
                   [](JobFacts& f) { f.template_id.reset(); },
                   "the job has no template id"},
        Unfillable{"NoComposition",
                   {"x", "{composition}"},
                   [](JobFacts& f) { f.payload = json::parse("{}"); },
                   "no template.composition"},
        Unfillable{"NoSuchLayer",
                   {"x", "{child:credits}"},
                   nullptr,
                   "no nested child with layerName \"credits\""},
        Unfillable{"ChildNotFile",
                   {"x", "{children}"},
                   [](JobFacts& f) { (*f.children)[1].output_url = "https://x/y.mp4"; },
                   "child C2's outputUrl"},
        Unfillable{"OldServer",
                   {"x", "{children}"},
                   [](JobFacts& f) { f.children.reset(); },
                   "does not list the outputs of the job's children"}),
    [](const ::testing::TestParamInfo<Unfillable>& info) { return info.param.name; });

TEST(PlaceholdersTest, ReadsTheClaimAnswer) {
  json::object claim = json::parse(R"({
    "job": {"id": "01JTRDF7HCR8QAHYW8GPCP4S9Y", "templateId": null, "outputUrl": "file:///o.mp4",
            "children": ["C1"]},
    "lease": {"token": "t", "expiresAt": "2026-01-01T00:00:00Z"},
    "payload": {"settings": {}},
    "children": [{"id": "C1", "outputUrl": "file:///c1.mp4", "layerName": null}]})")
                           .as_object();
  CASCADE_ASSERT_OK_AND_ASSIGN(JobFacts facts, ReadJobFacts(claim));
  EXPECT_EQ(facts.id, "01JTRDF7HCR8QAHYW8GPCP4S9Y");
  EXPECT_EQ(facts.template_id, std::nullopt);
  EXPECT_EQ(facts.output_url, "file:///o.mp4");
  ASSERT_TRUE(facts.children.has_value());
  ASSERT_EQ(facts.children->size(), 1u);
  EXPECT_EQ((*facts.children)[0].layer_name, std::nullopt);
  // An older server: the job has children but the answer lists none.
  claim.erase("children");
  CASCADE_ASSERT_OK_AND_ASSIGN(facts, ReadJobFacts(claim));
  EXPECT_FALSE(facts.children.has_value());
  // A list that is not one entry per child says nothing.
  claim["children"] = json::array();
  CASCADE_ASSERT_OK_AND_ASSIGN(facts, ReadJobFacts(claim));
  EXPECT_FALSE(facts.children.has_value());
  claim.erase("children");
  // A leaf job: no children either way.
  claim["job"].as_object()["children"] = json::array();
  CASCADE_ASSERT_OK_AND_ASSIGN(facts, ReadJobFacts(claim));
  EXPECT_THAT(facts.children, ::testing::Optional(IsEmpty()));
  EXPECT_THAT(ReadJobFacts(json::object{{"lease", 1}}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(PlaceholdersTest, FileUrls) {
  EXPECT_THAT(FileUrlToPath("file:///a/b.mp4"), IsOkAndHolds(std::string("/a/b.mp4")));
  EXPECT_THAT(FileUrlToPath("FILE://LOCALHOST/a%2fb%zz"), IsOkAndHolds(std::string("/a/b%zz")));
  EXPECT_THAT(FileUrlToPath("file:///a%00"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(FileUrlToPath("file://"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(FileUrlToPath("file:///"), StatusIs(absl::StatusCode::kInvalidArgument));
}

// ---- Progress -------------------------------------------------------------------

TEST(ProgressTest, FirstGroupIsThePercentage) {
  CASCADE_ASSERT_OK_AND_ASSIGN(ProgressPattern p, ProgressPattern::Compile(R"(progress (\d+))"));
  EXPECT_EQ(p.Read("progress 42", std::nullopt), 42);
  EXPECT_EQ(p.Read("[x] progress 250 done", std::nullopt), 100);  // clamped
  EXPECT_EQ(p.Read("nothing here", std::nullopt), std::nullopt);
}

TEST(ProgressTest, NamedGroups) {
  CASCADE_ASSERT_OK_AND_ASSIGN(ProgressPattern percent,
                               ProgressPattern::Compile(R"((\w+) (?<percent>[\d.]+)%)"));
  EXPECT_EQ(percent.Read("render 12.5%", std::nullopt), 12.5);
  CASCADE_ASSERT_OK_AND_ASSIGN(ProgressPattern of,
                               ProgressPattern::Compile(R"(frame (?<done>\d+)/(?<total>\d+))"));
  EXPECT_EQ(of.mode(), ProgressPattern::Mode::kDoneOfTotal);
  EXPECT_EQ(of.Read("frame 12/48", std::nullopt), 25);
  EXPECT_EQ(of.Read("frame 12/0", std::nullopt), std::nullopt);
  // ffmpeg's time= against a configured total of 2 s.
  CASCADE_ASSERT_OK_AND_ASSIGN(ProgressPattern time,
                               ProgressPattern::Compile(R"(time=(?<done>[\d:.]+))"));
  EXPECT_EQ(time.mode(), ProgressPattern::Mode::kDoneOfConfiguredTotal);
  EXPECT_DOUBLE_EQ(*time.Read("frame=   48 fps=0.0 time=00:00:01.50 bitrate=N/A", 2.0), 75);
  EXPECT_EQ(time.Read("time=00:00:01.50", std::nullopt), std::nullopt);
}

TEST(ProgressTest, Values) {
  EXPECT_EQ(ReadProgressValue("42"), 42);
  EXPECT_EQ(ReadProgressValue("01:02:03.5"), 3723.5);
  EXPECT_EQ(ReadProgressValue("2:30"), 150);
  EXPECT_EQ(ReadProgressValue("-1"), std::nullopt);
  EXPECT_EQ(ReadProgressValue("1:2:3:4"), std::nullopt);
  EXPECT_EQ(ReadProgressValue("N/A"), std::nullopt);
  EXPECT_EQ(ReadProgressValue(""), std::nullopt);
}

}  // namespace
}  // namespace cascade::worker
