// Copyright 2026 The Cascade Authors.
//
// cascade-worker end to end: a real cascade-server (engine, API handler and
// HTTP server, in this process, on a loopback port, with the real clock and
// short leases) and the worker's Agent, or real cascade-worker processes,
// running real commands (sh, printf, sleep). A job is claimed, its output
// logged and its progress reported, finished with its file; failures carry
// the exit status and stderr and are retried unless final; an abort and a
// time limit stop the command; a stale lease is dropped without a call; the
// worker rides out a server restart; SIGTERM releases and exits 0; kill -9
// hands the job to another worker once the lease runs out.

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/mutex.h"
#include "boost/json.hpp"
#include "cascade/cascade.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "net/http_client.h"
#include "server/api.h"
#include "server/flags.h"
#include "server/http_server.h"
#include "tests/testutil.h"
#include "wire/json.h"
#include "worker/agent.h"
#include "worker/config.h"
#include "worker/process.h"

namespace cascade::worker {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kClient[] = "client-token";
constexpr char kWorker[] = "worker-token";
constexpr char kTeam[] = "default";
constexpr char kRender[] = "01HZX3C5Y5V7E8W3J6T9Q2M1NB";   // a template with a command
constexpr char kStitch[] = "01HZX3C5Y5V7E8W3J6T9Q2M1NC";   // another
constexpr char kUnknown[] = "01HZX3C5Y5V7E8W3J6T9Q2M1ND";  // one without
// Every wait of these tests ends by this, so a broken worker fails instead of
// hanging.
constexpr absl::Duration kPatience = absl::Seconds(20);

bool Alive(pid_t pid) {
  // A zombie nobody reaped yet counts as gone.
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string p, comm, state;
  return static_cast<bool>(in >> p >> comm >> state) && state != "Z";
}

// Polls `condition` until it holds or kPatience passes. Only for what has no
// event to wait on (a file a command writes, another process's death, a
// job's progress, which the engine does not publish).
template <typename F>
bool Eventually(F condition, absl::Duration patience = kPatience) {
  const absl::Time until = absl::Now() + patience;
  while (!condition()) {
    if (absl::Now() > until) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class WorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "/cascade_worker_agent_test_", getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }

  void TearDown() override {
    StopAgent();
    server_.reset();
    subscription_.Stop();  // its thread signals cv_, which dies with the fixture
  }

  // The server: `lease` is its --lease-seconds, `abort_grace` its --abort-grace.
  void StartServer(absl::Duration lease = absl::Seconds(2),
                   absl::Duration abort_grace = absl::Seconds(30)) {
    Options options = server::EngineOptions(server::ParseFlags({"--data", ":memory:"}).value());
    options.lease_duration = lease;
    options.abort_grace = abort_grace;
    options.output_url_template = absl::StrCat("file://", dir_, "/out/{id}.out");
    engine_ = Engine::Create(options).value();
    subscription_ = engine_->Subscribe([this](const TransitionEvent& e) {
      {
        internal::MutexLock lock(&mu_);
        events_.push_back(e);
      }
      cv_.SignalAll();
    });
    server::ApiOptions api;
    api.client_tokens = {{kClient, kTeam}};
    api.worker_tokens = {kWorker};
    api_ = std::make_unique<server::Api>(engine_.get(), api);
    ListenHttp(0);
  }

  void ListenHttp(uint16_t port) {
    server::HttpServerOptions http;
    http.port = port;
    http.threads = 4;
    http.stop_timeout = absl::Seconds(1);
    server_ = server::HttpServer::Start(http, [this](const server::Request& r) {
                return api_->Handle(r);
              }).value();
    port_ = server_->port();
  }

  std::string Url() const { return absl::StrCat("http://127.0.0.1:", port_); }

  // POST /jobs with a client token; the new job's id.
  JobId Submit(const std::string& body) {
    net::HttpRequest request;
    request.method = net::Method::kPost;
    request.url = absl::StrCat(Url(), "/api/v2/jobs");
    request.headers = {{"Authorization", absl::StrCat("Bearer ", kClient)},
                       {"Content-Type", "application/json"}};
    request.body = body;
    absl::StatusOr<net::HttpResponse> r = http_.Send(request, absl::Seconds(10));
    EXPECT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 201) << r->body;
    return JobId::Parse(json::parse(r->body).at("id").as_string().c_str()).value();
  }

  // A job of template `template_id` with the extra top-level fields `extra`.
  JobId SubmitLeaf(const std::string& template_id = kRender, const std::string& extra = "") {
    return Submit(absl::StrCat(R"({"template": {"id": ")", template_id,
                               R"(", "composition": "main"})", extra, "}"));
  }

  Job Get(JobId id) { return engine_->Get(kTeam, id).value(); }

  // Waits for the job to reach `state` (on the engine's events).
  bool WaitForState(JobId id, JobState state) {
    const auto until = absl::ToChronoTime(absl::Now() + kPatience);
    internal::MutexLock lock(&mu_);
    while (true) {
      absl::StatusOr<Job> job = engine_->Get(kTeam, id);
      if (job.ok() && job->state == state) return true;
      const bool ended =
          job.ok() && (job->state == JobState::kFinished || job->state == JobState::kError ||
                       job->state == JobState::kCancelled);
      if (!job.ok() || ended) {
        ADD_FAILURE() << "job " << id.ToString() << " is "
                      << (job.ok() ? StateName(job->state) : "gone") << ", not " << StateName(state)
                      << "; stats.error: " << (job.ok() ? job->stats.error.value_or("none") : "");
        return false;
      }
      if (cv_.WaitUntil(&mu_, until) == std::cv_status::timeout) {
        ADD_FAILURE() << "job " << id.ToString() << " is "
                      << (job.ok() ? StateName(job->state) : "gone") << ", not "
                      << StateName(state);
        return false;
      }
    }
  }

  // Waits for an event of `cause` on the job.
  bool WaitForCause(JobId id, TransitionCause cause) {
    const auto until = absl::ToChronoTime(absl::Now() + kPatience);
    internal::MutexLock lock(&mu_);
    while (true) {
      for (const TransitionEvent& e : events_) {
        if (e.job_id == id && e.cause == cause) return true;
      }
      if (cv_.WaitUntil(&mu_, until) == std::cv_status::timeout) return false;
    }
  }

  // The Agent in this process, on a thread of its own.
  void StartAgent(const std::string& config, std::optional<absl::Duration> lease = std::nullopt) {
    AgentOptions options;
    options.server = {.url = Url(), .token = kWorker, .timeout = absl::Seconds(2)};
    options.name = "test-node";
    options.lease = lease;
    options.config = ParseWorkerConfig(config, "test config").value();
    options.idle_poll = absl::Milliseconds(100);
    options.log = [this](std::string_view line) {
      internal::MutexLock lock(&log_mu_);
      agent_log_.emplace_back(line);
    };
    agent_ = std::make_unique<Agent>(std::move(options));
    agent_thread_ = std::thread([this] { agent_status_ = agent_->Run(); });
  }

  void StopAgent() {
    if (agent_ == nullptr) return;
    agent_->Stop();
    agent_thread_.join();
    EXPECT_TRUE(agent_status_.ok()) << agent_status_;
    agent_.reset();
  }

  std::string AgentLog() {
    internal::MutexLock lock(&log_mu_);
    return absl::StrJoin(agent_log_, "\n");
  }

  // A config with `command` (JSON) for kRender.
  static std::string Config(const std::string& command, const std::string& top = "") {
    return absl::StrCat(R"({"commands": {")", kRender, R"(": )", command, "}", top, "}");
  }

  // The pid a command wrote into `path`, once it exists.
  pid_t PidIn(const std::string& path) {
    pid_t pid = 0;
    EXPECT_TRUE(Eventually([&] {
      std::string text = ReadFile(path);
      return absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &pid);
    })) << path;
    return pid;
  }

  std::string dir_;
  std::unique_ptr<Engine> engine_;
  Subscription subscription_;
  std::unique_ptr<server::Api> api_;
  std::unique_ptr<server::HttpServer> server_;
  uint16_t port_ = 0;
  net::HttpClient http_;

  internal::Mutex mu_;
  internal::CondVar cv_;
  std::vector<TransitionEvent> events_ ABSL_GUARDED_BY(mu_);

  std::unique_ptr<Agent> agent_;
  std::thread agent_thread_;
  absl::Status agent_status_;
  internal::Mutex log_mu_;
  std::vector<std::string> agent_log_ ABSL_GUARDED_BY(log_mu_);
};

TEST_F(WorkerTest, ClaimsRendersReportsProgressLogsAndFinishesWithTheOutput) {
  StartServer();
  const std::string gate = dir_ + "/gate";
  // The command prints its progress, a line on stderr and ffmpeg-style \r
  // lines, waits for the test to open the gate, then writes the output.
  StartAgent(Config(absl::StrCat(R"({"argv": ["sh", "-c",
      "echo progress 50; echo to-stderr >&2; printf 'frame 1\\rframe 2\\r'; while [ ! -e \"$2\" ]; do sleep 0.02; done; echo rendered > \"$1\"",
      "sh", "{output}", ")",
                                 gate, R"x("], "progress": "progress (\\d+)"})x")));
  const JobId id = SubmitLeaf();
  ASSERT_TRUE(WaitForState(id, JobState::kRendering));
  // The heartbeat (every lease/3) carries what the regex read.
  EXPECT_TRUE(Eventually([&] { return Get(id).progress == 50; })) << Get(id).progress;
  std::ofstream(gate) << "open";
  ASSERT_TRUE(WaitForState(id, JobState::kFinished));
  const Job job = Get(id);
  const std::string output = absl::StrCat(dir_, "/out/", id.ToString(), ".out");
  EXPECT_EQ(job.output_url, absl::StrCat("file://", output));
  EXPECT_EQ(ReadFile(output), "rendered\n");
  EXPECT_EQ(job.attempts, 1);
  // The output reached the job's log, stdout and stderr, \r-split lines too.
  absl::StatusOr<std::string> log = engine_->GetLog(kTeam, id);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_THAT(*log, HasSubstr("progress 50\n"));
  EXPECT_THAT(*log, HasSubstr("to-stderr\n"));
  EXPECT_THAT(*log, HasSubstr("frame 1\nframe 2\n"));
}

TEST_F(WorkerTest, AFailingCommandFailsTheJobWithItsExitStatusAndStderrAndIsRetried) {
  StartServer();
  StartAgent(Config(R"({"argv": ["sh", "-c", "echo bad input >&2; exit 3"]})"));
  const JobId id = SubmitLeaf(kRender, R"(, "maxAttempts": 2)");
  ASSERT_TRUE(WaitForState(id, JobState::kError));
  const Job job = Get(id);
  EXPECT_EQ(job.attempts, 2);  // retry: true, so the second attempt ran too
  ASSERT_TRUE(job.stats.error.has_value());
  EXPECT_THAT(job.stats.error->str(), HasSubstr("exit status 3"));
  EXPECT_THAT(job.stats.error->str(), HasSubstr("bad input"));
}

TEST_F(WorkerTest, AFinalExitCodeFailsWithoutRetry) {
  StartServer();
  StartAgent(Config(R"({"argv": ["sh", "-c", "exit 3"], "finalExitCodes": [3]})"));
  const JobId id = SubmitLeaf(kRender, R"(, "maxAttempts": 3)");
  ASSERT_TRUE(WaitForState(id, JobState::kError));
  EXPECT_EQ(Get(id).attempts, 1);
}

TEST_F(WorkerTest, AnUnfillablePlaceholderFailsWithoutRetry) {
  StartServer();
  StartAgent(Config(R"({"argv": ["true", "--codec={settings.codec}"]})"));
  const JobId id = SubmitLeaf(kRender, R"(, "maxAttempts": 3)");
  ASSERT_TRUE(WaitForState(id, JobState::kError));
  const Job job = Get(id);
  EXPECT_EQ(job.attempts, 1);
  EXPECT_THAT(job.stats.error.value_or("").str(), HasSubstr("{settings.codec}"));
}

TEST_F(WorkerTest, ATemplateWithoutACommandFailsNamingIt) {
  StartServer();
  StartAgent(Config(R"({"argv": ["true"]})"));
  const JobId id = SubmitLeaf(kUnknown, R"(, "maxAttempts": 1)");
  ASSERT_TRUE(WaitForState(id, JobState::kError));
  EXPECT_THAT(Get(id).stats.error.value_or("").str(),
              HasSubstr(absl::StrCat("has no command for template ", kUnknown)));
}

TEST_F(WorkerTest, AnAbortStopsTheCommandWithinTheGraceAndTheJobIsCancelled) {
  StartServer();
  const std::string pid_file = dir_ + "/pid";
  // The command ignores SIGTERM: only the SIGKILL after the grace stops it.
  StartAgent(Config(
      absl::StrCat(R"({"argv": ["sh", "-c", "echo $$ > \"$1\"; trap '' TERM; sleep 30", "sh", ")",
                   pid_file, R"("]})"),
      R"(, "graceSeconds": 0.5)"));
  const JobId id = SubmitLeaf();
  ASSERT_TRUE(WaitForState(id, JobState::kRendering));
  const pid_t pid = PidIn(pid_file);
  const absl::Time asked = absl::Now();
  ASSERT_TRUE(engine_->RequestAbort(kTeam, id).ok());
  ASSERT_TRUE(WaitForState(id, JobState::kCancelled));
  // Seen at the next heartbeat (lease/3 = 0.67 s), SIGKILL 0.5 s later, then
  // the release.
  EXPECT_LT(absl::Now() - asked, absl::Seconds(3));
  EXPECT_TRUE(WaitForCause(id, TransitionCause::kAbortAcknowledged));
  EXPECT_FALSE(Alive(pid));
  EXPECT_THAT(AgentLog(), HasSubstr("SIGKILL"));
}

// The same with a real render: ffmpeg, paced to real time (-re) so that it
// is still encoding when the abort comes, stops at the SIGTERM (it finishes
// its file and exits) well within the grace, and the job ends cancelled.
// scripts/deps.sh installs ffmpeg for every test run.
TEST_F(WorkerTest, AnAbortStopsARealFfmpegRenderWithinTheGrace) {
  StartServer();
  const std::string pid_file = dir_ + "/pid";
  StartAgent(Config(
      absl::StrCat(R"({"argv": ["sh", "-c", "echo $$ > \"$1\"; shift; exec \"$@\"", "sh", ")",
                   pid_file, R"x(", "ffmpeg", "-nostdin", "-y", "-re", "-f", "lavfi", "-i",
                   "testsrc=duration=60:size=320x240:rate=25", "-progress", "pipe:1",
                   "-nostats", "-f", "matroska", "{output}"],
          "progress": "out_time_us=(?<done>\\d+)", "progressTotal": 60000000})x"),
      R"(, "graceSeconds": 5)"));
  const JobId id = SubmitLeaf();
  ASSERT_TRUE(WaitForState(id, JobState::kRendering));
  const pid_t pid = PidIn(pid_file);
  // ffmpeg is encoding: its progress reached the job.
  ASSERT_TRUE(Eventually([&] { return Get(id).progress > 0; })) << AgentLog();
  ASSERT_TRUE(Alive(pid));
  const absl::Time asked = absl::Now();
  ASSERT_TRUE(engine_->RequestAbort(kTeam, id).ok());
  ASSERT_TRUE(WaitForState(id, JobState::kCancelled));
  // Seen at the next heartbeat (lease/3), then SIGTERM: ffmpeg exits at
  // once, long before the 5 s grace would send SIGKILL.
  EXPECT_LT(absl::Now() - asked, absl::Seconds(4));
  EXPECT_TRUE(WaitForCause(id, TransitionCause::kAbortAcknowledged));
  EXPECT_FALSE(Alive(pid));
  EXPECT_THAT(AgentLog(), Not(HasSubstr("SIGKILL")));
}

TEST_F(WorkerTest, ATimeLimitStopsTheCommand) {
  StartServer();
  const std::string pid_file = dir_ + "/pid";
  StartAgent(Config(absl::StrCat(
      R"({"argv": ["sh", "-c", "echo $$ > \"$1\"; exec sleep 30", "sh", ")", pid_file, R"("]})")));
  const JobId id = SubmitLeaf(kRender, R"(, "timeoutSeconds": 1, "maxAttempts": 1)");
  ASSERT_TRUE(WaitForState(id, JobState::kError));
  EXPECT_THAT(Get(id).stats.error.value_or("").str(), HasSubstr("timed out"));
  const pid_t pid = PidIn(pid_file);
  EXPECT_TRUE(Eventually([&] { return !Alive(pid); }));
  EXPECT_TRUE(Eventually([&] { return absl::StrContains(AgentLog(), "asks to stop"); }));
}

TEST_F(WorkerTest, AStaleLeaseIsDroppedWithoutAnotherCall) {
  // The server gives an abort 0.3 s; the worker's command ignores SIGTERM
  // and gets 3 s: the server cancels the job first, and the worker's next
  // heartbeat gets 409.
  StartServer(absl::Seconds(2), absl::Milliseconds(300));
  const std::string pid_file = dir_ + "/pid";
  StartAgent(Config(
      absl::StrCat(R"({"argv": ["sh", "-c", "echo $$ > \"$1\"; trap '' TERM; sleep 30", "sh", ")",
                   pid_file, R"("]})"),
      R"(, "graceSeconds": 3)"));
  const JobId id = SubmitLeaf();
  ASSERT_TRUE(WaitForState(id, JobState::kRendering));
  const pid_t pid = PidIn(pid_file);
  ASSERT_TRUE(engine_->RequestAbort(kTeam, id).ok());
  ASSERT_TRUE(WaitForState(id, JobState::kCancelled));
  EXPECT_TRUE(WaitForCause(id, TransitionCause::kAbortGraceExpired));
  EXPECT_TRUE(Eventually([&] { return absl::StrContains(AgentLog(), "the lease is gone"); }))
      << AgentLog();
  EXPECT_TRUE(Eventually([&] { return !Alive(pid); }));
  EXPECT_TRUE(Eventually([&] { return absl::StrContains(AgentLog(), "dropped"); }));
  EXPECT_THAT(AgentLog(), Not(HasSubstr("release")));
}

TEST_F(WorkerTest, StopTerminatesTheCommandAndReleasesTheJob) {
  StartServer();
  const std::string pid_file = dir_ + "/pid";
  StartAgent(Config(absl::StrCat(
      R"({"argv": ["sh", "-c", "echo $$ > \"$1\"; exec sleep 30", "sh", ")", pid_file, R"("]})")));
  const JobId id = SubmitLeaf();
  ASSERT_TRUE(WaitForState(id, JobState::kRendering));
  const pid_t pid = PidIn(pid_file);
  const absl::Time stop = absl::Now();
  StopAgent();  // Run() returns OK
  EXPECT_LT(absl::Now() - stop, absl::Seconds(5));
  EXPECT_FALSE(Alive(pid));
  EXPECT_TRUE(WaitForCause(id, TransitionCause::kReleased));
  const Job job = Get(id);
  EXPECT_EQ(job.state, JobState::kQueued);
  EXPECT_EQ(job.attempts, 1);
}

TEST_F(WorkerTest, RidesOutAServerRestart) {
  StartServer();
  const std::string gate = dir_ + "/gate";
  StartAgent(Config(absl::StrCat(
      R"({"argv": ["sh", "-c", "while [ ! -e \"$2\" ]; do sleep 0.02; done; echo ok > \"$1\"", "sh", "{output}", ")",
      gate, R"("]})")));
  const JobId id = SubmitLeaf();
  ASSERT_TRUE(WaitForState(id, JobState::kRendering));
  // The HTTP server goes away; the engine stays. The worker keeps rendering
  // and trying its heartbeats; the lease runs out in the engine (back to
  // queued) and at the worker (it drops the job).
  server_->Stop();
  ASSERT_TRUE(WaitForCause(id, TransitionCause::kLeaseExpired));
  EXPECT_TRUE(Eventually([&] { return absl::StrContains(AgentLog(), "dropped"); })) << AgentLog();
  // The server comes back on the same port; the worker's claims, backing
  // off meanwhile, get the job again, and now it renders through.
  std::ofstream(gate) << "open";
  ListenHttp(port_);
  ASSERT_TRUE(WaitForState(id, JobState::kFinished));
  EXPECT_EQ(Get(id).attempts, 2);
  EXPECT_THAT(AgentLog(), HasSubstr("heartbeat failed"));
}

TEST_F(WorkerTest, AParentStitchesItsChildrensOutputsInAssetOrder) {
  StartServer();
  // Children print their layer name into their output; the parent
  // concatenates {children} and adds {child:b} once more.
  StartAgent(absl::StrCat(
      R"({"commands": {")", kRender,
      R"(": {"argv": ["sh", "-c", "echo \"$2\" > \"$1\"", "sh", "{output}", "{payload.layerName}"]},)",
      R"(")", kStitch,
      R"(": {"argv": ["sh", "-c", "out=$1; shift; cat \"$@\" > \"$out\"", "sh", "{output}", "{children}", "{child:b}"]}}})"));
  const JobId id = Submit(
      absl::StrCat(R"({"template": {"id": ")", kStitch, R"(", "composition": "main"}, "assets": [)",
                   R"({"type": "job", "layerName": "a", "template": {"id": ")", kRender,
                   R"(", "composition": "c"}},)",
                   R"({"type": "image", "src": "https://example.com/x.png", "layerName": "img"},)",
                   R"({"type": "job", "layerName": "b", "template": {"id": ")", kRender,
                   R"(", "composition": "c"}}]})"));
  ASSERT_TRUE(WaitForState(id, JobState::kFinished)) << AgentLog();
  EXPECT_EQ(ReadFile(absl::StrCat(dir_, "/out/", id.ToString(), ".out")), "a\nb\nb\n");
}

// ---- cascade-worker, the program ------------------------------------------------

// A cascade-worker process, its stderr kept for failure messages.
class WorkerProcess {
 public:
  WorkerProcess(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {CASCADE_WORKER_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    ChildProcess::Options options;
    options.on_line = [this](Stream, std::string_view line) {
      internal::MutexLock lock(&mu_);
      lines_.emplace_back(line);
    };
    absl::StatusOr<std::unique_ptr<ChildProcess>> p = ChildProcess::Start({.argv = argv}, options);
    EXPECT_TRUE(p.ok()) << p.status();
    if (p.ok()) process_ = *std::move(p);
  }
  ChildProcess& process() { return *process_; }
  std::string Output() {
    internal::MutexLock lock(&mu_);
    return absl::StrJoin(lines_, "\n");
  }

 private:
  internal::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<ChildProcess> process_;
};

class WorkerProgramTest : public WorkerTest {
 protected:
  std::unique_ptr<WorkerProcess> StartWorker(const std::string& name, const std::string& config) {
    const std::string path = absl::StrCat(dir_, "/", name, ".json");
    std::ofstream(path) << config;
    return std::make_unique<WorkerProcess>(std::vector<std::string>{
        "--server", Url(), "--token", kWorker, "--name", name, "--config", path});
  }
};

TEST_F(WorkerProgramTest, SigtermReleasesTheJobAndExitsZero) {
  StartServer();
  const std::string pid_file = dir_ + "/pid";
  auto worker = StartWorker(
      "w1",
      Config(absl::StrCat(R"({"argv": ["sh", "-c", "echo $$ > \"$1\"; exec sleep 30", "sh", ")",
                          pid_file, R"("]})")));
  const JobId id = SubmitLeaf();
  ASSERT_TRUE(WaitForState(id, JobState::kRendering)) << worker->Output();
  const pid_t render = PidIn(pid_file);
  worker->process().Signal(SIGTERM);
  const ExitStatus status = worker->process().Wait();
  EXPECT_EQ(status.exit_code, 0) << status.ToString() << "\n" << worker->Output();
  EXPECT_TRUE(WaitForCause(id, TransitionCause::kReleased));
  EXPECT_EQ(Get(id).state, JobState::kQueued);
  EXPECT_FALSE(Alive(render));
}

TEST_F(WorkerProgramTest, KillNineHandsTheJobToAnotherWorkerAfterTheLease) {
  StartServer(absl::Seconds(2));
  // Each render records its shell's pid, takes 2 s, then writes the output.
  const std::string config = Config(
      R"({"argv": ["sh", "-c", "echo $$ >> \"$1.pids\"; sleep 2; echo ok > \"$1\"", "sh", "{output}"]})");
  auto first = StartWorker("first", config);
  const JobId id = SubmitLeaf();
  ASSERT_TRUE(WaitForState(id, JobState::kRendering)) << first->Output();
  const std::string output = absl::StrCat(dir_, "/out/", id.ToString(), ".out");
  const pid_t first_render = PidIn(output + ".pids");
  auto second = StartWorker("second", config);
  first->process().Signal(SIGKILL);
  EXPECT_EQ(first->process().Wait().signal, SIGKILL);
  // The first worker's render dies with it (PR_SET_PDEATHSIG), so it never
  // writes the output the second one renders.
  // (well before its 2 s sleep would have ended).
  EXPECT_TRUE(Eventually([&] { return !Alive(first_render); }, absl::Seconds(1)));
  ASSERT_TRUE(WaitForCause(id, TransitionCause::kLeaseExpired)) << second->Output();
  ASSERT_TRUE(WaitForState(id, JobState::kFinished)) << second->Output();
  const Job job = Get(id);
  EXPECT_EQ(job.attempts, 2);
  EXPECT_EQ(ReadFile(output), "ok\n");
  second->process().Signal(SIGTERM);
  EXPECT_EQ(second->process().Wait().exit_code, 0) << second->Output();
}

TEST_F(WorkerProgramTest, BadFlagsAndConfigsExitTwo) {
  StartServer();
  WorkerProcess no_server({"--token", "t", "--config", "x"});
  EXPECT_EQ(no_server.process().Wait().exit_code, 2);
  EXPECT_THAT(no_server.Output(), HasSubstr("--server"));
  auto bad_config = StartWorker("bad", R"({"commands": {"*": {"argv": ["x", "{nope}"]}}})");
  EXPECT_EQ(bad_config->process().Wait().exit_code, 2);
  EXPECT_THAT(bad_config->Output(), HasSubstr("commands.*.argv[1]"));
}

TEST_F(WorkerProgramTest, AWrongTokenExitsOne) {
  StartServer();
  const std::string path = dir_ + "/c.json";
  std::ofstream(path) << Config(R"({"argv": ["true"]})");
  WorkerProcess worker({"--server", Url(), "--token", "wrong", "--config", path});
  EXPECT_EQ(worker.process().Wait().exit_code, 1);
  EXPECT_THAT(worker.Output(), HasSubstr("refused the worker token"));
}

}  // namespace
}  // namespace cascade::worker
