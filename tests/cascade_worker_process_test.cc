// Copyright 2026 The Cascade Authors.
//
// cascade-worker's process runner (worker/process.h) with real programs:
// lines from both pipes (split at \n, \r and \r\n), exit statuses and
// signals, SIGTERM then SIGKILL to the group, no shell between the argv and
// the program, the environment, and what a command leaves behind.

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil.h"
#include "worker/process.h"

namespace cascade::worker {
namespace {

using ::cascade::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Collects the lines a ChildProcess hands over, and lets a test wait for one.
class Lines {
 public:
  ChildProcess::Options Options() {
    ChildProcess::Options options;
    options.on_line = [this](Stream s, std::string_view line) {
      {
        internal::MutexLock lock(&mu_);
        (s == Stream::kStdout ? out_ : err_).emplace_back(line);
      }
      cv_.SignalAll();
    };
    return options;
  }
  std::vector<std::string> out() {
    internal::MutexLock lock(&mu_);
    return out_;
  }
  std::vector<std::string> err() {
    internal::MutexLock lock(&mu_);
    return err_;
  }
  // Waits (at most 10 s) until stdout has printed `line`.
  bool WaitFor(const std::string& line) {
    internal::MutexLock lock(&mu_);
    const auto until = std::chrono::system_clock::now() + std::chrono::seconds(10);
    while (std::find(out_.begin(), out_.end(), line) == out_.end()) {
      if (cv_.WaitUntil(&mu_, until) == std::cv_status::timeout) return false;
    }
    return true;
  }

 private:
  internal::Mutex mu_;
  internal::CondVar cv_;
  std::vector<std::string> out_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> err_ ABSL_GUARDED_BY(mu_);
};

std::unique_ptr<ChildProcess> StartCommand(
    const std::vector<std::string>& argv, Lines& lines,
    std::vector<std::pair<std::string, std::string>> env = {}) {
  absl::StatusOr<std::unique_ptr<ChildProcess>> p =
      ChildProcess::Start({.argv = argv, .env = std::move(env)}, lines.Options());
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *std::move(p) : nullptr;
}

std::string TempDir() {
  std::string dir = absl::StrCat(::testing::TempDir(), "/cascade_worker_process_test_", getpid());
  std::filesystem::create_directories(dir);
  return dir;
}

TEST(ChildProcessTest, SplitsLinesAtNewlinesAndCarriageReturns) {
  Lines lines;
  auto p = StartCommand({"printf", "one\\ntwo\\r\\nframe=1\\rframe=2\\rthree\\n\\nlast"}, lines);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->Wait().exit_code, 0);
  EXPECT_THAT(lines.out(), ElementsAre("one", "two", "frame=1", "frame=2", "three", "", "last"));
  EXPECT_THAT(lines.err(), IsEmpty());
}

TEST(ChildProcessTest, KeepsStdoutAndStderrApartAndTheLastStderrLines) {
  Lines lines;
  auto p = StartCommand(
      {"sh", "-c", "echo out; for i in $(seq 1 30); do echo err$i >&2; done; exit 3"}, lines);
  ASSERT_NE(p, nullptr);
  const ExitStatus status = p->Wait();
  EXPECT_EQ(status.exit_code, 3);
  EXPECT_EQ(status.signal, 0);
  EXPECT_EQ(status.ToString(), "exit status 3");
  EXPECT_THAT(lines.out(), ElementsAre("out"));
  EXPECT_EQ(lines.err().size(), 30u);
  std::vector<std::string> tail = p->StderrTail();
  ASSERT_EQ(tail.size(), 20u);
  EXPECT_EQ(tail.front(), "err11");
  EXPECT_EQ(tail.back(), "err30");
}

TEST(ChildProcessTest, CutsOverlongLines) {
  Lines lines;
  ChildProcess::Options options = lines.Options();
  options.max_line_bytes = 1000;
  auto p = ChildProcess::Start({.argv = {"head", "-c", "2500", "/dev/zero"}}, options);
  ASSERT_TRUE(p.ok()) << p.status();
  (*p)->Wait();
  std::vector<std::string> out = lines.out();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].size(), 1000u);
  EXPECT_EQ(out[2].size(), 500u);
}

TEST(ChildProcessTest, ReportsTheKillingSignal) {
  Lines lines;
  auto p = StartCommand({"sh", "-c", "kill -KILL $$"}, lines);
  ASSERT_NE(p, nullptr);
  const ExitStatus status = p->Wait();
  EXPECT_EQ(status.signal, SIGKILL);
  EXPECT_EQ(status.exit_code, -1);
  EXPECT_EQ(status.ToString(), "killed by signal 9 (SIGKILL)");
}

TEST(ChildProcessTest, TerminateEndsAProcessThatHonoursSigtermAtOnce) {
  Lines lines;
  auto p = StartCommand({"sleep", "30"}, lines);
  ASSERT_NE(p, nullptr);
  const absl::Time start = absl::Now();
  const ExitStatus status = p->Terminate(absl::Seconds(20));
  EXPECT_EQ(status.signal, SIGTERM);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST(ChildProcessTest, TerminateKillsAGroupThatIgnoresSigtermAfterTheGrace) {
  Lines lines;
  // The shell and its sleep both ignore SIGTERM (an ignored signal stays
  // ignored across exec).
  auto p = StartCommand({"sh", "-c", "trap '' TERM; echo ready; sleep 30; echo survived"}, lines);
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(lines.WaitFor("ready"));
  const absl::Time start = absl::Now();
  const ExitStatus status = p->Terminate(absl::Milliseconds(500));
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(status.signal, SIGKILL);
  EXPECT_GE(took, absl::Milliseconds(500));
  EXPECT_LT(took, absl::Seconds(5));
  EXPECT_THAT(lines.out(), ElementsAre("ready"));
}

TEST(ChildProcessTest, CommandGetsSignalsUnblockedWhateverTheWorkerBlocks) {
  // cascade-worker blocks SIGTERM in every thread (it takes it with
  // sigwait); a command must not inherit that, or SIGTERM would never stop it.
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &term, &old);
  Lines lines;
  auto p = StartCommand({"sleep", "30"}, lines);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->Terminate(absl::Seconds(20)).signal, SIGTERM);
}

TEST(ChildProcessTest, ArgumentsReachTheProgramLiterallyWithNoShell) {
  const std::string marker = TempDir() + "/touched";
  std::filesystem::remove(marker);
  Lines lines;
  const std::string tricky = absl::StrCat("$(touch ", marker, ")");
  auto p = StartCommand({"printf", "%s|%s|%s\\n", tricky, "a b; echo c", "'q' \"*\" `x`"}, lines);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->Wait().exit_code, 0);
  EXPECT_THAT(lines.out(), ElementsAre(absl::StrCat(tricky, "|a b; echo c|'q' \"*\" `x`")));
  EXPECT_FALSE(std::filesystem::exists(marker));
}

TEST(ChildProcessTest, EnvironmentIsTheWorkersWithTheCommandsOnTop) {
  setenv("CASCADE_PROCESS_TEST_KEPT", "kept", 1);
  setenv("CASCADE_PROCESS_TEST_REPLACED", "old", 1);
  Lines lines;
  auto p = StartCommand({"env"}, lines,
                        {{"CASCADE_PROCESS_TEST_REPLACED", "new value"}, {"EXTRA", "x=y"}});
  ASSERT_NE(p, nullptr);
  p->Wait();
  std::vector<std::string> out = lines.out();
  EXPECT_THAT(out, ::testing::Contains("CASCADE_PROCESS_TEST_KEPT=kept"));
  EXPECT_THAT(out, ::testing::Contains("CASCADE_PROCESS_TEST_REPLACED=new value"));
  EXPECT_THAT(out, ::testing::Not(::testing::Contains("CASCADE_PROCESS_TEST_REPLACED=old")));
  EXPECT_THAT(out, ::testing::Contains("EXTRA=x=y"));
}

TEST(ChildProcessTest, StdinIsEmpty) {
  Lines lines;
  auto p = StartCommand({"cat"}, lines);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->Wait().exit_code, 0);
}

TEST(ChildProcessTest, WhatTheCommandLeftRunningInItsGroupIsKilled) {
  Lines lines;
  // The shell starts a sleep in the background, prints its pid and exits.
  auto p = StartCommand({"sh", "-c", "sleep 30 & echo $!"}, lines);
  ASSERT_NE(p, nullptr);
  const absl::Time start = absl::Now();
  EXPECT_EQ(p->Wait().exit_code, 0);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));  // not the sleep's 30 s
  ASSERT_EQ(lines.out().size(), 1u);
  pid_t orphan = 0;
  ASSERT_TRUE(absl::SimpleAtoi(lines.out()[0], &orphan));
  // Gone, or a zombie nobody reaped yet: not sleeping.
  const std::string stat = absl::StrCat("/proc/", orphan, "/stat");
  const absl::Time until = absl::Now() + absl::Seconds(10);
  while (absl::Now() < until) {
    std::ifstream in(stat);
    std::string pid, comm, state;
    if (!(in >> pid >> comm >> state) || state == "Z") break;
    absl::SleepFor(absl::Milliseconds(10));  // polling another process's state: no event to wait on
  }
  std::ifstream in(stat);
  std::string pid, comm, state;
  EXPECT_TRUE(!(in >> pid >> comm >> state) || state == "Z") << "state " << state;
}

TEST(ChildProcessTest, StartErrors) {
  Lines lines;
  EXPECT_THAT(ChildProcess::Start({.argv = {}}, lines.Options()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ChildProcess::Start({.argv = {"cascade-no-such-program"}}, lines.Options()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("not found on PATH")));
  const std::string not_executable = TempDir() + "/not_executable";
  std::ofstream(not_executable) << "#!/bin/sh\n";
  chmod(not_executable.c_str(), 0644);
  EXPECT_THAT(ChildProcess::Start({.argv = {not_executable}}, lines.Options()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("Permission denied")));
  EXPECT_THAT(ChildProcess::Start({.argv = {"/nonexistent/x"}}, lines.Options()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("No such file")));
}

TEST(ChildProcessTest, DestructorKillsARunningCommand) {
  Lines lines;
  auto p = StartCommand({"sh", "-c", "trap '' TERM; echo $$; sleep 30"}, lines);
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(p != nullptr);
  const pid_t pid = p->pid();
  const absl::Time start = absl::Now();
  p.reset();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_NE(kill(pid, 0), 0);  // reaped: no such process
}

}  // namespace
}  // namespace cascade::worker
