// Copyright 2026 The Cascade Authors.
//
// GET /api/v2/events (contract §16) over real HTTP: a cascade-server in the
// test's process (tests/server_harness.h) and raw-socket SSE clients that
// read frames as a browser or `cascade watch` would. Tested:
//   - the answer: 200 text/event-stream without Content-Length, `retry`
//     first; refusals (token, ids, parameters, unknown batch or job) are the
//     ordinary JSON errors;
//   - transition frames: id, every data field, the team's events only;
//   - ?batch= and ?job= (a family, including a job that joins it later);
//   - progress: the first report at once, then at most one per interval with
//     the latest value;
//   - Last-Event-ID: a replay of what was missed, in order; an id that
//     cannot be resumed (garbage, another process's, too old) gets a reset;
//   - keep-alive comments;
//   - a client that never reads while 100,000 transitions go through is
//     disconnected and the engine is never held up, while a client that
//     reads gets every event, in order.
// Waits are bounded by kHangGuard so that a broken server fails the test
// rather than hangs it; no assertion depends on how fast anything runs.

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "boost/json.hpp"
#include "cascade/cascade.h"
#include "gtest/gtest.h"
#include "tests/server_harness.h"
#include "tests/testutil.h"

namespace cascade {
namespace {

namespace http = boost::beast::http;
namespace json = boost::json;
using ::cascade::testing::HttpAnswer;
using ::cascade::testing::IsOk;
using ::cascade::testing::LeafSpec;
using ::cascade::testing::ServerHarness;

constexpr char kToken[] = "client-token";
constexpr char kOtherToken[] = "other-token";
constexpr char kWorkerToken[] = "worker-token";
constexpr char kTeam[] = "studio";
constexpr char kOtherTeam[] = "elsewhere";
constexpr absl::Duration kHangGuard = absl::Seconds(60);

// One SSE frame: its event name ("" for a comment), id, data and comment.
struct Frame {
  std::string event;
  std::string id;
  std::string data;
  std::string comment;
  std::optional<int> retry;

  json::object Data() const { return json::parse(data).as_object(); }
  std::string Field(std::string_view name) const {
    const json::object data = Data();
    const json::value& v = data.at(name);
    return v.is_null() ? "null" : std::string(v.as_string());
  }
};

// A client of GET /api/v2/events on a raw socket.
class SseClient {
 public:
  // Connects and sends the request; `receive_buffer` > 0 shrinks the
  // socket's receive buffer first (a client that never reads then fills it
  // at once).
  SseClient(uint16_t port, const std::string& target,
            std::vector<std::pair<std::string, std::string>> headers, int receive_buffer = 0) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    if (receive_buffer > 0) {
      setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    std::string request = absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (const auto& [name, value] : headers) absl::StrAppend(&request, name, ": ", value, "\r\n");
    request += "\r\n";
    EXPECT_EQ(send(fd_, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
  }
  ~SseClient() { close(fd_); }
  SseClient(const SseClient&) = delete;
  SseClient& operator=(const SseClient&) = delete;

  // The response header (status line and fields), once it arrived.
  std::string Header() {
    while (header_.empty()) {
      const size_t end = buffer_.find("\r\n\r\n");
      if (end != std::string::npos) {
        header_ = buffer_.substr(0, end + 2);
        buffer_.erase(0, end + 4);
        break;
      }
      if (!Fill()) break;
    }
    return header_;
  }

  // The next frame, or nothing if the connection ended (or kHangGuard
  // passed) first.
  std::optional<Frame> Next() {
    if (Header().empty()) return std::nullopt;
    while (true) {
      const size_t end = buffer_.find("\n\n");
      if (end != std::string::npos) {
        std::string text = buffer_.substr(0, end);
        buffer_.erase(0, end + 2);
        return Parse(text);
      }
      if (!Fill()) return std::nullopt;
    }
  }

  // The next frame that is not a comment (keep-alive).
  std::optional<Frame> NextEvent() {
    while (std::optional<Frame> frame = Next()) {
      if (!frame->event.empty()) return frame;
    }
    return std::nullopt;
  }

  // True once the server closed the connection (reading what is left).
  bool ClosedByServer() {
    while (Fill()) buffer_.clear();
    return eof_;
  }

 private:
  static Frame Parse(const std::string& text) {
    Frame frame;
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      if (absl::StartsWith(line, ":")) {
        frame.comment = std::string(absl::StripPrefix(line, ": "));
      } else if (absl::StartsWith(line, "event: ")) {
        frame.event = std::string(line.substr(7));
      } else if (absl::StartsWith(line, "id: ")) {
        frame.id = std::string(line.substr(4));
      } else if (absl::StartsWith(line, "data: ")) {
        frame.data += std::string(line.substr(6));
      } else if (absl::StartsWith(line, "retry: ")) {
        int retry = 0;
        if (absl::SimpleAtoi(line.substr(7), &retry)) frame.retry = retry;
      } else {
        ADD_FAILURE() << "not an SSE line: " << line;
      }
    }
    return frame;
  }

  // Reads what arrives; false at the end of the stream or after kHangGuard.
  bool Fill() {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(kHangGuard))) <= 0) return false;
    char chunk[16384];
    const ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string buffer_;
  std::string header_;
  bool eof_ = false;
};

class ServerEventsTest : public ::testing::Test {
 protected:
  ServerEventsTest() : server_({}, {{kToken, kTeam}, {kOtherToken, kOtherTeam}}, kWorkerToken) {}

  std::unique_ptr<SseClient> Stream(const std::string& query = "", std::string last_event_id = "",
                                    int receive_buffer = 0) {
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Authorization", absl::StrCat("Bearer ", kToken)}};
    if (!last_event_id.empty()) headers.emplace_back("Last-Event-ID", last_event_id);
    auto client = std::make_unique<SseClient>(server_.port(), "/api/v2/events" + query,
                                              std::move(headers), receive_buffer);
    // The stream is registered once its first bytes arrive.
    std::optional<Frame> first = client->Next();
    EXPECT_TRUE(first.has_value());
    if (first) {
      EXPECT_EQ(first->retry, 2000);
    }
    return client;
  }

  // A leaf carrying `tag`, so that a claim for the tag takes it.
  static JobSpec Tagged(const std::string& tag) {
    JobSpec spec = LeafSpec();
    spec.tags = {tag};
    return spec;
  }
  absl::StatusOr<ClaimedJob> Claim(const std::string& tag) {
    return server_.engine().Claim({.worker = "node-1", .tags = {tag}});
  }

  JobId Submit(const std::string& team = kTeam, JobSpec spec = LeafSpec()) {
    absl::StatusOr<CreatedJob> created = server_.engine().Submit(team, spec);
    EXPECT_THAT(created, IsOk());
    return created.ok() ? created->id : JobId();
  }

  HttpAnswer Get(const std::string& target, const std::string& token = kToken) {
    return server_.Call(http::verb::get, target,
                        {{"Authorization", absl::StrCat("Bearer ", token)}});
  }

  // The value of a metric in GET /api/v2/metrics.
  std::string Metric(const std::string& name) {
    const HttpAnswer metrics = Get("/api/v2/metrics");
    for (absl::string_view line : absl::StrSplit(metrics.body, '\n')) {
      if (absl::StartsWith(line, name + " ")) return std::string(line.substr(name.size() + 1));
    }
    return "";
  }

  ServerHarness server_;
};

TEST_F(ServerEventsTest, RefusalsAreOrdinaryJsonErrors) {
  EXPECT_EQ(server_.Call(http::verb::get, "/api/v2/events", {}).status, 401);
  EXPECT_EQ(Get("/api/v2/events", kWorkerToken).status, 403);
  const HttpAnswer bad_batch = Get("/api/v2/events?batch=nope");
  EXPECT_EQ(bad_batch.status, 400);
  EXPECT_EQ(bad_batch.Json().at("errorCode"), "invalid_argument");
  EXPECT_TRUE(absl::StrContains(bad_batch.body, "batch")) << bad_batch.body;
  EXPECT_EQ(Get("/api/v2/events?job=nope").status, 400);
  const HttpAnswer unknown = Get("/api/v2/events?jobs=x");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_TRUE(absl::StrContains(unknown.body, "unknown parameter")) << unknown.body;
  // Ids that are well-formed but not the team's.
  const JobId theirs = Submit(kOtherTeam);
  EXPECT_EQ(Get("/api/v2/events?job=" + theirs.ToString()).status, 404);
  absl::StatusOr<BatchSubmitResult> batch =
      server_.engine().SubmitBatch(kOtherTeam, std::vector<JobSpec>{LeafSpec()});
  ASSERT_THAT(batch, IsOk());
  EXPECT_EQ(Get("/api/v2/events?batch=" + batch->batch_id.ToString()).status, 404);
  EXPECT_EQ(Metric("cascade_event_streams"), "0");  // no refusal holds a stream
}

TEST_F(ServerEventsTest, TransitionFramesCarryEveryFieldAndOnlyTheTeamsJobs) {
  std::unique_ptr<SseClient> client = Stream();
  const std::string header = client->Header();
  EXPECT_TRUE(absl::StartsWith(header, "HTTP/1.1 200")) << header;
  EXPECT_TRUE(absl::StrContains(header, "Content-Type: text/event-stream")) << header;
  EXPECT_TRUE(absl::StrContains(header, "Cache-Control: no-store")) << header;
  EXPECT_FALSE(absl::StrContains(absl::AsciiStrToLower(header), "content-length")) << header;
  EXPECT_EQ(Metric("cascade_event_streams"), "1");

  Submit(kOtherTeam, Tagged("theirs"));  // sequence 1: not ours
  server_.clock().Advance(absl::Milliseconds(250));
  const JobId mine = Submit(kTeam, Tagged("mine"));    // sequence 2
  absl::StatusOr<ClaimedJob> claimed = Claim("mine");  // 3
  ASSERT_THAT(claimed, IsOk());
  ASSERT_THAT(Claim("theirs"), IsOk());                             // 4: not ours
  ASSERT_THAT(server_.engine().RequestAbort(kTeam, mine), IsOk());  // 5

  std::optional<Frame> submitted = client->NextEvent();
  ASSERT_TRUE(submitted);
  EXPECT_EQ(submitted->event, "transition");
  EXPECT_TRUE(absl::EndsWith(submitted->id, "-2")) << submitted->id;
  const json::object data = submitted->Data();
  EXPECT_EQ(data.at("sequence").as_int64(), 2);
  EXPECT_EQ(submitted->Field("jobId"), mine.ToString());
  EXPECT_EQ(submitted->Field("batchId"), "null");
  EXPECT_EQ(submitted->Field("from"), "null");
  EXPECT_EQ(submitted->Field("to"), "queued");
  EXPECT_EQ(submitted->Field("cause"), "submitted");
  EXPECT_EQ(submitted->Field("relatedJobId"), "null");
  EXPECT_EQ(submitted->Field("time"),
            FormatTimestamp(server_.clock().Now()));  // the clock's, to the millisecond

  std::optional<Frame> claim = client->NextEvent();
  ASSERT_TRUE(claim);
  EXPECT_TRUE(absl::EndsWith(claim->id, "-3")) << claim->id;
  EXPECT_EQ(claim->Field("from"), "queued");
  EXPECT_EQ(claim->Field("to"), "render:dorender");
  EXPECT_EQ(claim->Field("cause"), "claimed");
  // The ids share the stream's epoch: "<epoch>-<sequence>".
  EXPECT_EQ(claim->id.substr(0, claim->id.find('-')),
            submitted->id.substr(0, submitted->id.find('-')));

  std::optional<Frame> next = client->NextEvent();
  ASSERT_TRUE(next);
  EXPECT_TRUE(absl::EndsWith(next->id, "-5")) << next->id;  // 4 was theirs
  EXPECT_EQ(next->Field("jobId"), mine.ToString());
}

TEST_F(ServerEventsTest, BatchFilterCarriesThatBatchOnly) {
  absl::StatusOr<BatchSubmitResult> a =
      server_.engine().SubmitBatch(kTeam, std::vector<JobSpec>{Tagged("a"), Tagged("a")});
  ASSERT_THAT(a, IsOk());
  absl::StatusOr<BatchSubmitResult> b =
      server_.engine().SubmitBatch(kTeam, std::vector<JobSpec>{Tagged("b")});
  ASSERT_THAT(b, IsOk());
  std::unique_ptr<SseClient> client = Stream("?batch=" + a->batch_id.ToString());

  ASSERT_THAT(Claim("b"), IsOk());                // another batch's
  const JobId lone = Submit(kTeam, Tagged("a"));  // tagged alike, in no batch
  ASSERT_THAT(server_.engine().Cancel(kTeam, lone), IsOk());
  ASSERT_THAT(server_.engine().CancelBatch(kTeam, a->batch_id), IsOk());

  // The first frames are a's cancellations: nothing of b's or the lone job's.
  for (int i = 0; i < 2; ++i) {
    std::optional<Frame> frame = client->NextEvent();
    ASSERT_TRUE(frame);
    EXPECT_EQ(frame->Field("cause"), "cancelled") << frame->data;
    EXPECT_EQ(frame->Field("jobId"), a->jobs[i].job.id.ToString()) << frame->data;
    EXPECT_EQ(frame->Field("batchId"), a->batch_id.ToString()) << frame->data;
  }
}

TEST_F(ServerEventsTest, JobFilterCarriesTheFamilyAndJobsThatJoinIt) {
  JobSpec family = LeafSpec("parent");
  family.children = {Tagged("child"), Tagged("child")};
  absl::StatusOr<CreatedJob> parent = server_.engine().Submit(kTeam, family);
  ASSERT_THAT(parent, IsOk());
  const JobId stranger = Submit(kTeam, Tagged("stranger"));
  std::unique_ptr<SseClient> client = Stream("?job=" + parent->children[1].id.ToString());

  ASSERT_THAT(Claim("stranger"), IsOk());
  absl::StatusOr<ClaimedJob> child = Claim("child");  // a sibling of the filter's job
  ASSERT_THAT(child, IsOk());
  // A job that names the parent as prerequisite joins the family.
  JobSpec dependent = Tagged("dependent");
  dependent.depends_on = {parent->id};
  const JobId joined = Submit(kTeam, dependent);
  ASSERT_THAT(server_.engine().Cancel(kTeam, joined), IsOk());

  std::optional<Frame> claim = client->NextEvent();
  ASSERT_TRUE(claim);
  EXPECT_EQ(claim->Field("jobId"), child->job.id.ToString());
  EXPECT_EQ(claim->Field("cause"), "claimed");
  std::optional<Frame> submitted = client->NextEvent();
  ASSERT_TRUE(submitted);
  EXPECT_EQ(submitted->Field("jobId"), joined.ToString());
  EXPECT_EQ(submitted->Field("to"), "pending");
  std::optional<Frame> cancelled = client->NextEvent();
  ASSERT_TRUE(cancelled);
  EXPECT_EQ(cancelled->Field("jobId"), joined.ToString());  // the stranger's claim never came
  EXPECT_EQ(cancelled->Field("to"), "manually_cancelled");
}

TEST_F(ServerEventsTest, ProgressIsSentAtOnceThenAtMostOncePerSecondWithTheLatestValue) {
  Submit(kTeam, Tagged("render"));
  absl::StatusOr<ClaimedJob> claimed = Claim("render");
  ASSERT_THAT(claimed, IsOk());
  std::unique_ptr<SseClient> client = Stream();
  auto heartbeat = [&](double progress) {
    ASSERT_THAT(
        server_.engine().Heartbeat(claimed->job.id, claimed->lease.token, {.progress = progress}),
        IsOk());
  };
  heartbeat(10);
  std::optional<Frame> first = client->NextEvent();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->event, "progress");
  EXPECT_EQ(first->id, "");  // progress frames move no resume point
  EXPECT_EQ(first->Data().at("progress").to_number<double>(), 10.0);
  EXPECT_EQ(first->Field("jobId"), claimed->job.id.ToString());

  // Within the second: held back, and only the latest is sent when it ends.
  heartbeat(20);
  heartbeat(30);
  // The feed takes events in order: once a later transition is on the
  // stream, both reports were taken (and held). Then the second ends.
  const JobId marker = Submit();
  std::optional<Frame> marked = client->NextEvent();
  ASSERT_TRUE(marked);
  ASSERT_EQ(marked->Field("jobId"), marker.ToString()) << "a report was not held back";
  server_.clock().Advance(absl::Seconds(1));
  std::optional<Frame> latest = client->NextEvent();
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->event, "progress");
  EXPECT_EQ(latest->Data().at("progress").to_number<double>(), 30.0);

  // A transition is never held back; the job's end forgets what was held.
  heartbeat(40);
  ASSERT_THAT(server_.engine().Finish(claimed->job.id, claimed->lease.token, {}), IsOk());
  std::optional<Frame> finished = client->NextEvent();
  ASSERT_TRUE(finished);
  EXPECT_EQ(finished->event, "transition");
  EXPECT_EQ(finished->Field("to"), "finished");
  server_.clock().Advance(absl::Seconds(1));
  const JobId last = Submit();
  std::optional<Frame> after = client->NextEvent();
  ASSERT_TRUE(after);
  EXPECT_EQ(after->Field("jobId"), last.ToString()) << "a held report outlived its job";
}

TEST_F(ServerEventsTest, LastEventIdReplaysWhatWasMissedInOrder) {
  std::string last_id;
  {
    std::unique_ptr<SseClient> client = Stream();
    Submit();
    Submit();
    std::optional<Frame> frame = client->NextEvent();
    ASSERT_TRUE(frame);
    frame = client->NextEvent();
    ASSERT_TRUE(frame);
    last_id = frame->id;
  }
  std::vector<JobId> missed = {Submit(), Submit(), Submit()};
  std::unique_ptr<SseClient> resumed = Stream("", last_id);
  for (const JobId& id : missed) {
    std::optional<Frame> frame = resumed->NextEvent();
    ASSERT_TRUE(frame);
    EXPECT_EQ(frame->event, "transition");
    EXPECT_EQ(frame->Field("jobId"), id.ToString());
  }
  const JobId live = Submit();  // then it goes on live
  std::optional<Frame> frame = resumed->NextEvent();
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->Field("jobId"), live.ToString());
}

TEST_F(ServerEventsTest, AnIdThatCannotBeResumedGetsAResetFirst) {
  Submit();
  std::string good;
  {
    std::unique_ptr<SseClient> client = Stream("", "");
    Submit();
    std::optional<Frame> frame = client->NextEvent();
    ASSERT_TRUE(frame);
    good = frame->id;
  }
  const std::string epoch = good.substr(0, good.find('-'));
  for (const std::string& id :
       {std::string("garbage"), absl::StrCat("1", epoch, "-1"), absl::StrCat(epoch, "-999")}) {
    std::unique_ptr<SseClient> client = Stream("", id);
    std::optional<Frame> reset = client->NextEvent();
    ASSERT_TRUE(reset) << id;
    EXPECT_EQ(reset->event, "reset") << id;
    EXPECT_EQ(reset->id, good) << id;  // where the stream now is
    EXPECT_EQ(absl::StrCat(epoch, "-", reset->Data().at("sequence").as_int64()), good) << id;
  }
}

TEST_F(ServerEventsTest, AnIdOlderThanTheWindowGetsAReset) {
  ServerHarness small({"--events-window", "4"}, {{kToken, kTeam}}, kWorkerToken);
  std::string first_id;
  {
    SseClient client(small.port(), "/api/v2/events", {{"Authorization", "Bearer client-token"}});
    ASSERT_TRUE(client.Next());
    ASSERT_THAT(small.engine().Submit(kTeam, LeafSpec()), IsOk());
    std::optional<Frame> frame = client.NextEvent();
    ASSERT_TRUE(frame);
    first_id = frame->id;
  }
  for (int i = 0; i < 10; ++i) ASSERT_THAT(small.engine().Submit(kTeam, LeafSpec()), IsOk());
  // All ten are in the window before the client comes back: a window of
  // four would otherwise leave it behind as the feed catches up.
  ASSERT_TRUE(small.api().feed().Flush(kHangGuard));
  SseClient client(small.port(), "/api/v2/events",
                   {{"Authorization", "Bearer client-token"}, {"Last-Event-ID", first_id}});
  ASSERT_TRUE(client.Next());
  std::optional<Frame> reset = client.NextEvent();
  ASSERT_TRUE(reset);
  EXPECT_EQ(reset->event, "reset");
  EXPECT_EQ(reset->Data().at("sequence").as_int64(), 11);
}

TEST_F(ServerEventsTest, AKeepAliveCommentGoesOutEveryFifteenSeconds) {
  std::unique_ptr<SseClient> client = Stream();
  server_.clock().Advance(absl::Seconds(15));
  std::optional<Frame> frame = client->Next();
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->event, "");
  EXPECT_EQ(frame->comment, "keep-alive");
}

// A client that never reads, while 100,000 transitions go through: it is
// disconnected, nothing waits for it, and a client that reads gets every
// event in order.
TEST_F(ServerEventsTest, AClientThatNeverReadsIsCutAndNothingWaitsForIt) {
  std::unique_ptr<SseClient> stalled = Stream("", "", /*receive_buffer=*/4096);
  std::unique_ptr<SseClient> reader = Stream();
  std::atomic<uint64_t> received{0};
  std::atomic<bool> in_order{true};
  std::thread reading([&] {
    uint64_t expected = 1;
    while (std::optional<Frame> frame = reader->NextEvent()) {
      if (frame->event != "transition" ||
          frame->Data().at("sequence").as_int64() != static_cast<int64_t>(expected)) {
        in_order = false;
        return;
      }
      received.store(expected++, std::memory_order_release);
      if (expected > 100000) return;
    }
  });
  constexpr int kBatches = 100;
  for (int b = 0; b < kBatches; ++b) {
    ASSERT_THAT(server_.engine().SubmitBatch(kTeam, std::vector<JobSpec>(1000, LeafSpec())),
                IsOk());
    // The reader keeps up (it is not what this test is about); the stalled
    // client is never waited for.
    const absl::Time deadline = absl::Now() + kHangGuard;
    while (received.load(std::memory_order_acquire) < uint64_t{1000} * (b + 1) && in_order &&
           absl::Now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_TRUE(in_order) << "the reading client missed or reordered an event";
  }
  reading.join();
  EXPECT_EQ(received.load(), 100000u);
  // The stalled client fell out of the window and was cut.
  const absl::Time deadline = absl::Now() + kHangGuard;
  while (Metric("cascade_event_streams_too_slow_total") != "1" && absl::Now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(Metric("cascade_event_streams_too_slow_total"), "1");
  EXPECT_TRUE(stalled->ClosedByServer());
  EXPECT_EQ(Metric("cascade_event_streams"), "1");  // the reader's
}

}  // namespace
}  // namespace cascade
