// Copyright 2026 The Cascade Authors.
//
// The pieces of `cascade` (cli/) that need no cascade-server: the event
// stream's parser (fields split across reads, line ends, comments,
// multi-line data, id, retry), the progress line, the counts read from a
// batch's status and a family's DOT, tables, the lines shown for jobs and
// events, the flags, the errors made of the server's answers and their exit
// statuses; and FollowEvents against a scripted loopback server (reconnects
// with Last-Event-ID, gives up on a refusal). tests/cli_e2e_test.sh runs the
// program against a real cascade-server.

#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "boost/json.hpp"
#include "cli/client.h"
#include "cli/counts.h"
#include "cli/event_stream.h"
#include "cli/flags.h"
#include "cli/format.h"
#include "cli/progress.h"
#include "cli/sse.h"
#include "cli/table.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/loopback_http_server.h"
#include "tests/testutil.h"

namespace cascade::cli {
namespace {

using ::cascade::testing::IsOk;
using ::cascade::testing::Raw;
using ::cascade::testing::Respond;
using ::cascade::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::SizeIs;

namespace json = boost::json;

// ---- SseParser ----------------------------------------------------------------

struct Seen {
  std::string type, data, id;
  bool operator==(const Seen&) const = default;
};
void PrintTo(const Seen& s, std::ostream* os) {
  *os << "{" << s.type << ", \"" << s.data << "\", id " << s.id << "}";
}

// Feeds `pieces` in order; the events dispatched.
std::vector<Seen> FeedAll(SseParser& parser, const std::vector<std::string>& pieces) {
  std::vector<Seen> seen;
  for (const std::string& piece : pieces) {
    EXPECT_THAT(parser.Feed(piece,
                            [&](const SseEvent& e) {
                              seen.push_back({e.type, e.data, e.id});
                            }),
                IsOk());
  }
  return seen;
}
std::vector<Seen> Parse(const std::string& stream) {
  SseParser parser;
  return FeedAll(parser, {stream});
}

// The stream of /tmp/prompts' wire format: a retry frame, a transition, a
// progress, a comment, a reset.
const std::string kStream =
    "retry: 2000\n\n"
    "event: transition\nid: 42\n"
    "data: {\"sequence\":42,\"jobId\":\"01J\",\"from\":null,\"to\":\"queued\"}\n\n"
    ": keep-alive\n\n"
    "event: progress\ndata: {\"jobId\":\"01J\",\"progress\":42.5}\n\n"
    "event: reset\nid: 57\ndata: {\"sequence\":57}\n\n";
const std::vector<Seen> kStreamEvents = {
    {"transition", R"({"sequence":42,"jobId":"01J","from":null,"to":"queued"})", "42"},
    {"progress", R"({"jobId":"01J","progress":42.5})", "42"},
    {"reset", R"({"sequence":57})", "57"},
};

TEST(SseParserTest, ReadsTypeIdDataAndRetry) {
  SseParser parser;
  EXPECT_THAT(FeedAll(parser, {kStream}), ::testing::ElementsAreArray(kStreamEvents));
  EXPECT_EQ(parser.last_event_id(), "57");
  EXPECT_EQ(parser.retry_ms(), 2000);
  EXPECT_EQ(parser.comments(), 1);
}

// Whatever the reads cut, at any byte, the events are the same.
TEST(SseParserTest, FieldsSplitAcrossReadsAnywhere) {
  for (size_t cut = 1; cut < kStream.size(); ++cut) {
    SCOPED_TRACE(cut);
    SseParser parser;
    EXPECT_THAT(FeedAll(parser, {kStream.substr(0, cut), kStream.substr(cut)}),
                ::testing::ElementsAreArray(kStreamEvents));
  }
  std::vector<std::string> bytes;
  for (char c : kStream) bytes.emplace_back(1, c);
  SseParser parser;
  EXPECT_THAT(FeedAll(parser, bytes), ::testing::ElementsAreArray(kStreamEvents));
  EXPECT_EQ(parser.last_event_id(), "57");
}

TEST(SseParserTest, LineEndsCrLfCrOrLfEvenSplitBetweenReads) {
  const std::vector<Seen> expected = {{"a", "1\n2", ""}, {"b", "3", ""}};
  EXPECT_EQ(Parse("event: a\r\ndata: 1\r\ndata: 2\r\n\r\nevent: b\rdata: 3\r\r"), expected);
  EXPECT_EQ(Parse("event: a\ndata: 1\rdata: 2\r\n\nevent: b\r\ndata: 3\n\r"), expected);
  SseParser parser;
  // A CR at the end of one read and its LF at the start of the next are one
  // line end, not an empty line (which would dispatch early).
  EXPECT_EQ(FeedAll(parser, {"event: a\r", "\ndata: 1\r", "\ndata: 2\r", "\n\r", "\n"}),
            (std::vector<Seen>{{"a", "1\n2", ""}}));
}

TEST(SseParserTest, CommentsAreNeverEvents) {
  SseParser parser;
  EXPECT_THAT(FeedAll(parser, {": keep-alive\n\n:\n\n: data: x\n\n"}), IsEmpty());
  EXPECT_EQ(parser.comments(), 3);
  // A comment inside a frame leaves the frame whole.
  EXPECT_EQ(Parse("data: a\n: note\ndata: b\n\n"), (std::vector<Seen>{{"message", "a\nb", ""}}));
}

TEST(SseParserTest, DataLinesAndTheSpaceAfterTheColon) {
  EXPECT_EQ(Parse("data:x\n\n"), (std::vector<Seen>{{"message", "x", ""}}));
  EXPECT_EQ(Parse("data:  x\n\n"),
            (std::vector<Seen>{{"message", " x", ""}}));  // one space dropped
  EXPECT_EQ(Parse("data: a: b\n\n"), (std::vector<Seen>{{"message", "a: b", ""}}));
  // "data" alone is an empty data line: the frame has data, an empty line.
  EXPECT_EQ(Parse("data\n\n"), (std::vector<Seen>{{"message", "", ""}}));
  EXPECT_EQ(Parse("data\ndata\n\n"), (std::vector<Seen>{{"message", "\n", ""}}));
  EXPECT_EQ(Parse("data: one\ndata:\ndata: three\n\n"),
            (std::vector<Seen>{{"message", "one\n\nthree", ""}}));
}

TEST(SseParserTest, FramesWithoutDataAreNotDispatchedButTheirIdCounts) {
  SseParser parser;
  EXPECT_THAT(FeedAll(parser, {"event: transition\nid: 9\n\n"}), IsEmpty());
  EXPECT_EQ(parser.last_event_id(), "9");
  // The type does not leak into the next frame.
  EXPECT_THAT(FeedAll(parser, {"data: x\n\n"}), ElementsAre(Seen{"message", "x", "9"}));
  // Unknown fields are ignored.
  EXPECT_THAT(FeedAll(parser, {"colour: red\ndata: y\n\n"}),
              ElementsAre(Seen{"message", "y", "9"}));
}

TEST(SseParserTest, IdIsKeptUntilChangedAndAnEmptyOneResetsIt) {
  SseParser parser;
  EXPECT_THAT(
      FeedAll(parser, {"id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\n"}),
      ElementsAre(Seen{"message", "a", "1"}, Seen{"message", "b", "1"}, Seen{"message", "c", ""}));
  EXPECT_EQ(parser.last_event_id(), "");
  // An id holding NUL is ignored.
  FeedAll(parser, {"id: 5\n\n", std::string("id: 6\0x\n\n", 10)});
  EXPECT_EQ(parser.last_event_id(), "5");
}

TEST(SseParserTest, RetryTakesOnlyDigits) {
  SseParser parser;
  EXPECT_EQ(parser.retry_ms(), std::nullopt);
  for (const char* bad : {"retry: 2s\n", "retry: -1\n", "retry: 1.5\n", "retry:\n", "retry: \n"}) {
    FeedAll(parser, {bad});
    EXPECT_EQ(parser.retry_ms(), std::nullopt) << bad;
  }
  FeedAll(parser, {"retry: 1500\n"});
  EXPECT_EQ(parser.retry_ms(), 1500);
  FeedAll(parser, {"retry: x\n"});
  EXPECT_EQ(parser.retry_ms(), 1500);
}

TEST(SseParserTest, ByteOrderMarkAtTheStartIsSkipped) {
  const std::string bom = "\xEF\xBB\xBF";
  EXPECT_EQ(Parse(bom + "data: x\n\n"), (std::vector<Seen>{{"message", "x", ""}}));
  SseParser parser;
  EXPECT_THAT(FeedAll(parser, {bom.substr(0, 1), bom.substr(1, 1), bom.substr(2) + "data: y\n\n"}),
              ElementsAre(Seen{"message", "y", ""}));
  // Bytes that only begin like one are kept.
  EXPECT_EQ(Parse("\xEF"
                  "data: z\n\n")
                .size(),
            0u);  // "\xEF" joins the field name
  EXPECT_EQ(Parse("d"
                  "ata: z\n\n"),
            (std::vector<Seen>{{"message", "z", ""}}));
}

TEST(SseParserTest, AHalfFrameIsDroppedOnReconnectAndAtTheEnd) {
  SseParser parser;
  EXPECT_THAT(FeedAll(parser, {"id: 3\ndata: a\n\nevent: transition\ndata: half"}),
              ElementsAre(Seen{"message", "a", "3"}));
  parser.DropPartialFrame();
  EXPECT_THAT(FeedAll(parser, {"data: b\n\n"}), ElementsAre(Seen{"message", "b", "3"}));
}

TEST(SseParserTest, ALineOverTheLimitIsRefused) {
  SseParser parser(64);
  EXPECT_THAT(parser.Feed(std::string(65, 'x'), [](const SseEvent&) {}),
              StatusIs(absl::StatusCode::kResourceExhausted));
  SseParser data_limit(64);
  std::string many;
  for (int i = 0; i < 10; ++i) many += "data: 0123456789\n";
  EXPECT_THAT(data_limit.Feed(many, [](const SseEvent&) {}),
              StatusIs(absl::StatusCode::kResourceExhausted));
}

// ---- Progress line ----------------------------------------------------------------

TEST(ProgressTest, TheLineOnATerminalAndElsewhere) {
  const StateCounts counts{.queued = 1, .rendering = 2, .finished = 3};
  EXPECT_EQ(ProgressLine(counts, true),
            "[##########----------]  50%  3/6 done · queued 1 · pending 0 · rendering 2 · "
            "finished 3 · error 0 · cancelled 0");
  EXPECT_EQ(ProgressLine(counts, false),
            "50%  3/6 done · queued 1 · pending 0 · rendering 2 · finished 3 · error 0 · "
            "cancelled 0");
  EXPECT_EQ(ProgressUpdate(counts, true),
            "\r[##########----------]  50%  3/6 done · queued 1 · pending 0 · rendering 2 · "
            "finished 3 · error 0 · cancelled 0\x1b[K");
  EXPECT_EQ(ProgressUpdate(counts, false), ProgressLine(counts, false) + "\n");
  EXPECT_EQ(ProgressEnd(true), "\n");
  EXPECT_EQ(ProgressEnd(false), "");
}

TEST(ProgressTest, PlainLinesHaveNoControlCharacters) {
  for (const StateCounts& counts :
       {StateCounts{}, StateCounts{.queued = 7}, StateCounts{.error = 1, .cancelled = 2}}) {
    const std::string update = ProgressUpdate(counts, false);
    ASSERT_FALSE(update.empty());
    EXPECT_EQ(update.back(), '\n');
    for (char c : update.substr(0, update.size() - 1)) {
      EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20 || c == 0x7f) << update;
    }
    EXPECT_EQ(update.find('['), std::string::npos) << update;
  }
}

TEST(ProgressTest, FullOnlyWhenEveryJobEnded) {
  EXPECT_THAT(ProgressLine({.queued = 1, .finished = 199}, true),
              ::testing::StartsWith("[###################-]  99%  199/200 done"));
  EXPECT_THAT(ProgressLine({.finished = 1, .error = 1, .cancelled = 1}, true),
              ::testing::StartsWith("[####################] 100%  3/3 done"));
  EXPECT_THAT(ProgressLine({}, true), ::testing::StartsWith("[--------------------]   0%  0/0"));
  EXPECT_THAT(ProgressLine({.pending = 3}, false), ::testing::StartsWith("0%  0/3 done"));
}

// ---- Counts -------------------------------------------------------------------------

TEST(CountsTest, FromABatchsByState) {
  const json::value batch = json::parse(
      R"({"batchId":"B","status":"processing","stats":{"total":7,"finished":2,"error":2,"pending":3,
          "byState":{"queued":1,"pending":1,"render:dorender":1,"finished":2,"error":1,
                     "manually_cancelled":1}}})");
  absl::StatusOr<StateCounts> counts = CountsFromBatch(batch);
  ASSERT_THAT(counts, IsOk());
  EXPECT_EQ(
      *counts,
      (StateCounts{
          .queued = 1, .pending = 1, .rendering = 1, .finished = 2, .error = 1, .cancelled = 1}));
  EXPECT_FALSE(counts->done());
  EXPECT_EQ(counts->total(), 7);
  EXPECT_EQ(counts->ended(), 4);
}

TEST(CountsTest, FromABatchWithoutByStateAndBadAnswers) {
  absl::StatusOr<StateCounts> counts =
      CountsFromBatch(json::parse(R"({"stats":{"total":5,"finished":3,"error":1,"pending":1}})"));
  ASSERT_THAT(counts, IsOk());
  EXPECT_EQ(*counts, (StateCounts{.queued = 1, .finished = 3, .error = 1}));
  for (const char* bad :
       {R"([])", R"({})", R"({"stats":1})",
        R"({"stats":{"total":5,"finished":3,"error":1,"pending":0}})",
        R"({"stats":{"byState":{"queued":-1}}})", R"({"stats":{"byState":{"queued":"1"}}})"}) {
    EXPECT_THAT(CountsFromBatch(json::parse(bad)), StatusIs(absl::StatusCode::kInvalidArgument))
        << bad;
  }
}

TEST(CountsTest, FromAFamilysGraph) {
  // Boost's write_graphviz as GET /jobs/{id}/graph writes it, in both label
  // forms (the whole id, or one shortened for drawing).
  const std::string dot = R"(digraph G {
rankdir=LR;
node [shape=box, fontname="monospace"];
0[label="01M92G7YYY3DBGHEBVJFXWQE1W\npending", style=filled, fillcolor=lightyellow, penwidth=3];
1[label="01M92G…XWQE1X\nrender:dorender", tooltip="01M92G7YYY3DBGHEBVJFXWQE1X render:dorender"];
2[label="01M92G…XWQE1Y\nfinished", tooltip="a \"quoted\" tip"];
3[label="01M92G…XWQE1Z\nmanually_cancelled"];
1->0 [label="child"];
2->0 [style=dashed, label="dependsOn"];
}
)";
  absl::StatusOr<StateCounts> counts = CountsFromGraph(dot);
  ASSERT_THAT(counts, IsOk());
  EXPECT_EQ(*counts, (StateCounts{.pending = 1, .rendering = 1, .finished = 1, .cancelled = 1}));
  EXPECT_THAT(CountsFromGraph("digraph G {\n}\n"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(CountsFromGraph("<html>502</html>"), StatusIs(absl::StatusCode::kInvalidArgument));
}

// ---- Table and formats ------------------------------------------------------------------

TEST(TableTest, AlignsByCharactersAndEndsNoLineInSpaces) {
  Table table({"ID", "STATE", "NOTE"});
  table.AddRow({"01J", "render:dorender", ""});
  table.AddRow({"é·é", "queued", "held"});
  table.AddRow({"x\ty\n", "a"});  // control characters, a missing cell
  EXPECT_EQ(table.Render(),
            "ID    STATE            NOTE\n"
            "01J   render:dorender\n"
            "é·é   queued           held\n"
            "x y   a\n");
  EXPECT_EQ(DisplayWidth("é·é"), 3u);
}

TEST(FormatTest, EventLinesForPeople) {
  EXPECT_EQ(EventLine({"transition",
                       R"({"sequence":42,"jobId":"01J","batchId":null,"from":"queued",)"
                       R"("to":"render:dorender","cause":"claimed","relatedJobId":null,)"
                       R"("time":"2026-12-05T10:00:00.123Z"})",
                       "42"}),
            "10:00:00.123  01J  queued → render:dorender  claimed");
  EXPECT_EQ(EventLine({"transition",
                       R"({"jobId":"01K","from":null,"to":"queued","cause":"submitted",)"
                       R"("time":"2026-12-05T10:00:01.000Z"})",
                       ""}),
            "10:00:01.000  01K  new → queued  submitted");
  EXPECT_EQ(
      EventLine({"transition",
                 R"({"jobId":"01K","from":"pending","to":"manually_cancelled",)"
                 R"("cause":"cascade","relatedJobId":"01P","time":"2026-12-05T10:00:02.000Z"})",
                 ""}),
      "10:00:02.000  01K  pending → manually_cancelled  cascade (01P)");
  EXPECT_EQ(EventLine({"progress",
                       R"({"jobId":"01J","progress":42.5,"time":"2026-12-05T10:00:03.500Z"})", ""}),
            "10:00:03.500  01J  progress 42.5%");
  EXPECT_THAT(EventLine({"reset", R"({"sequence":57})", "57"}), ::testing::StartsWith("reset: "));
  EXPECT_EQ(EventLine({"message", "not json", ""}), "message: not json");
  EXPECT_EQ(EventLine({"hello", R"({"a":1})", ""}), R"(hello: {"a":1})");
}

TEST(FormatTest, JobsTableAndSheet) {
  const json::value jobs = json::parse(R"([
    {"id":"01A","status":"queued","progress":0,"attempts":1,"maxAttempts":3,"priority":5,
     "tags":["a","b"],"stats":{"createdAt":"2026-12-05T07:03:34.105Z","error":"GPU ran out"},
     "suspended":true,"cancelRequested":false,"retryAt":"2026-12-05T07:04:00.000Z"},
    {"id":"01B","status":"render:dorender","progress":42.5,"attempts":1,"maxAttempts":1,
     "priority":0,"tags":[],"stats":{"createdAt":null,"error":null},"cancelRequested":true}])");
  EXPECT_EQ(JobsTable(jobs.get_array()).Render(),
            "ID   STATE            PROGRESS  ATTEMPTS  PRIORITY  TAGS  CREATED              NOTE\n"
            "01A  queued           0%        1/3       5         a, b  2026-12-05 07:03:34  held; "
            "retry at 2026-12-05 07:04:00; GPU ran out\n"
            "01B  render:dorender  42.5%     1/1       0                                    abort "
            "requested\n");
  const std::string sheet = JobSheet(jobs.get_array()[1].get_object());
  EXPECT_THAT(sheet, HasSubstr("id:         01B\n"));
  EXPECT_THAT(sheet, HasSubstr("state:      render:dorender (abort requested)\n"));
  EXPECT_THAT(sheet, HasSubstr("batch:      -\n"));
  EXPECT_EQ(JobLine(jobs.get_array()[0].get_object()),
            "01A queued (held; retry at 2026-12-05 07:04:00; GPU ran out)");
}

// ---- Flags ----------------------------------------------------------------------------

TEST(FlagsTest, CommandsAndTheirArguments) {
  absl::StatusOr<Invocation> inv = ParseArgs({"submit", "batch.json", "--wait"});
  ASSERT_THAT(inv, IsOk());
  EXPECT_EQ(inv->command, Command::kSubmit);
  EXPECT_EQ(inv->file, "batch.json");
  EXPECT_TRUE(inv->wait);

  inv = ParseArgs({"list", "--state", "queued,render:dorender", "--state", "pending", "--limit",
                   "5", "--from", "10", "--tag", "a", "--sort", "newest_first"});
  ASSERT_THAT(inv, IsOk());
  EXPECT_EQ(inv->command, Command::kList);
  EXPECT_THAT(inv->list.states, ElementsAre("queued", "render:dorender", "pending"));
  EXPECT_EQ(inv->list.limit, 5);
  EXPECT_EQ(inv->list.from, 10);
  EXPECT_THAT(inv->list.tags, ElementsAre("a"));
  EXPECT_EQ(inv->list.sort, "newest_first");

  inv = ParseArgs({"cancel", "01A", "01B"});
  ASSERT_THAT(inv, IsOk());
  EXPECT_EQ(inv->command, Command::kCancel);
  EXPECT_THAT(inv->ids, ElementsAre("01A", "01B"));

  inv = ParseArgs({"graph", "01A", "--svg"});
  ASSERT_THAT(inv, IsOk());
  EXPECT_EQ(inv->command, Command::kGraph);
  EXPECT_TRUE(inv->svg);

  inv = ParseArgs({"watch", "--job", "01A"});
  ASSERT_THAT(inv, IsOk());
  EXPECT_EQ(inv->command, Command::kWatch);
  EXPECT_EQ(inv->watch_job, "01A");
}

TEST(FlagsTest, GlobalFlagsBeforeOrAfterTheCommandAndFromTheEnvironment) {
  unsetenv("CASCADE_URL");
  unsetenv("CASCADE_TOKEN");
  absl::StatusOr<Invocation> inv = ParseArgs({"workers"});
  ASSERT_THAT(inv, IsOk());
  EXPECT_EQ(inv->url, "http://127.0.0.1:8080");
  EXPECT_EQ(inv->token, "");
  EXPECT_FALSE(inv->json);
  EXPECT_EQ(inv->timeout, absl::Seconds(30));

  inv = ParseArgs(
      {"--json", "--url", "http://farm:9000", "get", "01A", "--token", "t", "--timeout", "2.5"});
  ASSERT_THAT(inv, IsOk());
  EXPECT_TRUE(inv->json);
  EXPECT_EQ(inv->url, "http://farm:9000");
  EXPECT_EQ(inv->token, "t");
  EXPECT_EQ(inv->timeout, absl::Milliseconds(2500));
  inv = ParseArgs({"list", "--json"});
  ASSERT_THAT(inv, IsOk());
  EXPECT_TRUE(inv->json);

  setenv("CASCADE_URL", "https://cascade.example.com", 1);
  setenv("CASCADE_TOKEN", "from-env", 1);
  inv = ParseArgs({"workers"});
  ASSERT_THAT(inv, IsOk());
  EXPECT_EQ(inv->url, "https://cascade.example.com");
  EXPECT_EQ(inv->token, "from-env");
  inv = ParseArgs({"--token", "flag", "workers"});  // a flag wins
  ASSERT_THAT(inv, IsOk());
  EXPECT_EQ(inv->token, "flag");
  unsetenv("CASCADE_URL");
  unsetenv("CASCADE_TOKEN");
}

TEST(FlagsTest, UsageErrors) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {},
           {"bogus"},
           {"submit"},
           {"get"},
           {"get", "01A", "01B"},
           {"cancel"},
           {"list", "--nope"},
           {"list", "--limit", "many"},
           {"list", "--batch", "01A", "--limit", "5"},
           {"--url", "ftp://x", "workers"},
           {"--url", "not a url", "workers"},
           {"--token", "a\nb", "workers"},
           {"--timeout", "0", "workers"},
       }) {
    SCOPED_TRACE(::testing::PrintToString(args));
    EXPECT_THAT(ParseArgs(args), StatusIs(absl::StatusCode::kInvalidArgument));
  }
}

TEST(FlagsTest, HelpOfTheProgramAndOfACommand) {
  absl::StatusOr<Invocation> inv = ParseArgs({"--help"});
  ASSERT_THAT(inv, IsOk());
  EXPECT_TRUE(inv->help);
  EXPECT_THAT(inv->help_text, HasSubstr("workers"));
  EXPECT_THAT(inv->help_text, HasSubstr("CASCADE_TOKEN"));
  inv = ParseArgs({"submit", "--help"});
  ASSERT_THAT(inv, IsOk());
  EXPECT_TRUE(inv->help);
  EXPECT_THAT(inv->help_text, HasSubstr("--wait"));
  EXPECT_THAT(Usage(), HasSubstr("submit"));
}

// ---- Errors and exit statuses -------------------------------------------------------------

TEST(ClientErrorTest, TheServersMessageWithItsCodeAndStatus) {
  absl::Status s =
      AnswerError(404, R"j({"error":"no job '01J' (job ids are ULIDs)","errorCode":"not_found"})j");
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(s.message(), "no job '01J' (job ids are ULIDs) (not_found, HTTP 404)");
  EXPECT_EQ(HttpStatusOf(s), 404);
  EXPECT_EQ(ExitCodeFor(s), kExitRefused);

  s = AnswerError(401, R"({"error":"unknown token","errorCode":"unauthenticated"})");
  EXPECT_EQ(s.message(), "unknown token (unauthenticated, HTTP 401)");
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(ExitCodeFor(s), kExitRefused);

  s = AnswerError(
      409,
      R"({"error":"job 01J is finished; Cancel is not allowed","errorCode":"failed_precondition"})");
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kFailedPrecondition));

  // A batch the server refused whole: each entry's error.
  s = AnswerError(400, R"({"batchId":"B","status":"error","jobs":[],"errors":[
      {"index":0,"error":"jobs[0].template.id: 'bad'","errorCode":"invalid_argument"}]})");
  EXPECT_EQ(s.message(),
            "no job of the batch was created (HTTP 400)\n  jobs[0].template.id: 'bad' "
            "(invalid_argument)");
  EXPECT_EQ(ExitCodeFor(s), kExitRefused);  // a 400 is the server's, not a usage error

  // Not the server's JSON: a proxy's page.
  s = AnswerError(502, "<html>\n<body>Bad Gateway</body>");
  EXPECT_EQ(s.message(), "HTTP 502: <html>");
  EXPECT_EQ(HttpStatusOf(s), 502);
  EXPECT_EQ(AnswerError(503, "").message(), "HTTP 503");
}

TEST(ClientErrorTest, ExitStatusWithoutAnAnswer) {
  EXPECT_EQ(ExitCodeFor(absl::OkStatus()), kExitOk);
  EXPECT_EQ(ExitCodeFor(absl::UnavailableError("connect to 127.0.0.1:1: Connection refused")),
            kExitUnreachable);
  EXPECT_EQ(ExitCodeFor(absl::DeadlineExceededError("timed out after 30s")), kExitUnreachable);
  EXPECT_EQ(ExitCodeFor(absl::InvalidArgumentError("invalid URL: no host")), kExitUsage);
  EXPECT_EQ(ExitCodeFor(absl::InternalError("the answer is not JSON")), kExitRefused);
  EXPECT_EQ(HttpStatusOf(absl::UnavailableError("x")), 0);
}

// ---- FollowEvents against a scripted server ------------------------------------------------

using ::cascade::testing::LoopbackHttpServer;

std::string Header(const ::cascade::testing::SeenRequest& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (absl::EqualsIgnoreCase(n, absl::string_view(name.data(), name.size()))) return v;
  }
  return "<none>";
}

// A dropped stream is made again with Last-Event-ID, after the server's
// retry: delay (or a refusal's Retry-After); the events of every connection
// reach the caller in order.
TEST(FollowEventsTest, ReconnectsWithLastEventId) {
  LoopbackHttpServer server;
  static constexpr char kBusy[] = R"({"error":"too many event streams","errorCode":"unavailable"})";
  const std::string last_frame = "event: transition\nid: 9\ndata: {\"n\":4}\n\n";
  server.Script({
      Raw("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"
          "retry: 50\n\nevent: transition\nid: 7\ndata: {\"n\":1}\n\nevent: progress\ndata: "
          "{\"n\":2}\n\n"
          "event: transition\nid: 8\ndata: {\"n\":3}\n\ndata: half a fra"),  // then closes
      // A refusal with Retry-After: the next try waits that long.
      Raw(absl::StrCat("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: ",
                       std::string_view(kBusy).size(), "\r\n\r\n", kBusy)),
      Raw(absl::StrCat("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                       absl::Hex(last_frame.size()), "\r\n", last_frame, "\r\n"),
          false),  // stays open
  });
  ApiClient api({.url = server.Url("/"), .token = "tok", .timeout = absl::Seconds(10)});
  std::atomic<bool> stop{false};
  std::vector<std::string> data;
  std::vector<std::string> notes;
  FollowOptions options;
  options.query = "batch=01B";
  options.stop = &stop;
  options.on_event = [&](const SseEvent& e) {
    data.push_back(absl::StrCat(e.type, " ", e.data));
    if (data.size() == 4) stop = true;
  };
  options.on_note = [&](const std::string& note) { notes.push_back(note); };
  // Should the events never come, the test fails rather than hangs.
  std::atomic<bool> finished{false};
  std::thread watchdog([&] {
    for (int i = 0; i < 200 && !finished; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    stop = true;
  });
  EXPECT_THAT(FollowEvents(api, options), IsOk());
  finished = true;
  watchdog.join();
  EXPECT_THAT(data, ElementsAre(R"(transition {"n":1})", R"(progress {"n":2})",
                                R"(transition {"n":3})", R"(transition {"n":4})"));
  const auto requests = server.requests();
  ASSERT_THAT(requests, SizeIs(3));
  for (const auto& r : requests) {
    EXPECT_EQ(r.target, "/api/v2/events?batch=01B");
    EXPECT_EQ(Header(r, "Authorization"), "Bearer tok");
    EXPECT_EQ(Header(r, "Accept"), "text/event-stream");
  }
  EXPECT_EQ(Header(requests[0], "Last-Event-ID"), "<none>");
  EXPECT_EQ(Header(requests[1], "Last-Event-ID"), "8");
  EXPECT_EQ(Header(requests[2], "Last-Event-ID"), "8");
  ASSERT_THAT(notes, SizeIs(2));
  EXPECT_THAT(notes[0], HasSubstr("the server ended it"));
  EXPECT_THAT(notes[0], HasSubstr("reconnecting in 50ms"));
  EXPECT_THAT(notes[1], HasSubstr("too many event streams (unavailable, HTTP 503)"));
  EXPECT_THAT(notes[1], HasSubstr("reconnecting in 1s"));  // the Retry-After
}

// A refusal that no reconnect can fix ends it with the server's message; so
// does the first connection's failure under fail_fast.
TEST(FollowEventsTest, RefusalsEndIt) {
  LoopbackHttpServer server;
  server.Script({Respond(401, R"({"error":"unknown token","errorCode":"unauthenticated"})"),
                 Respond(404, R"({"error":"no batch 01B","errorCode":"not_found"})")});
  ApiClient api({.url = server.Url("/api/v2"), .token = "bad", .timeout = absl::Seconds(10)});
  std::atomic<bool> stop{false};
  FollowOptions options;
  options.stop = &stop;
  absl::Status s = FollowEvents(api, options);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(s.message(), "unknown token (unauthenticated, HTTP 401)");
  EXPECT_THAT(FollowEvents(api, options), StatusIs(absl::StatusCode::kNotFound));

  ApiClient nobody({.url = "http://127.0.0.1:1", .timeout = absl::Seconds(10)});
  options.fail_fast = true;
  EXPECT_THAT(FollowEvents(nobody, options), StatusIs(absl::StatusCode::kUnavailable));
  // Without fail_fast it keeps trying until stopped.
  options.fail_fast = false;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop = true;
  });
  EXPECT_THAT(FollowEvents(nobody, options), IsOk());
  stopper.join();
}

}  // namespace
}  // namespace cascade::cli
