// Copyright 2026 The Cascade Authors.
//
// ChildProcess: runs one render command for cascade-worker. No shell: the
// argv is passed to execve as it is (the program is looked up on PATH unless
// it holds a '/'), so an argument such as "$(touch x)" reaches the program
// literally. The command runs in a process group of its own, with stdin on
// /dev/null and stdout and stderr on two pipes, which a reader thread of the
// ChildProcess reads to the end and splits into lines.
//
// Example:
//
//   ChildProcess::Options options;
//   options.on_line = [](Stream s, std::string_view line) { Log(line); };
//   absl::StatusOr<std::unique_ptr<ChildProcess>> p =
//       ChildProcess::Start({.argv = {"ffmpeg", "-i", in, out}}, options);
//   if (!p.ok()) return p.status();  // not found, not executable, ...
//   if (!(*p)->WaitUntil(absl::Now() + absl::Seconds(5)).has_value()) {
//     ExitStatus s = (*p)->Terminate(absl::Seconds(10));  // SIGTERM, then SIGKILL
//   }
//
// Lines: a line ends at "\n", "\r" or "\r\n" (ffmpeg rewrites its progress
// line with "\r"), and is handed over without its end. A line longer than
// Options::max_line_bytes is cut into pieces of that size. What is left
// without an end when the stream closes is a last line.
//
// The group: signals go to the whole group (the command and whatever it
// started in it). When the command itself exits, whatever it left running
// in its group is killed (SIGKILL), its pipes are read until they close (or
// for at most 200 ms more, for a process that moved to another group), and
// then the ChildProcess is done. The command also gets SIGKILL if the thread
// that started it dies (PR_SET_PDEATHSIG: a worker killed with kill -9
// leaves no render behind writing to the job's output), so Start it from a
// thread that outlives the command.
//
// Signals and the environment: the command starts with no blocked signals
// and every signal at its default action, whatever the worker blocks or
// ignores; its environment is the worker's with CommandLine::env on top.
//
// Thread-safe: every method may be called from any thread. The callbacks run
// on the reader thread, one at a time.

#ifndef CASCADE_WORKER_PROCESS_H_
#define CASCADE_WORKER_PROCESS_H_

#include <sys/types.h>

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/mutex.h"

namespace cascade::worker {

struct CommandLine {
  std::vector<std::string> argv;  // REQUIRES: not empty
  // Set in the command's environment, over the worker's own variables.
  std::vector<std::pair<std::string, std::string>> env;
};

enum class Stream { kStdout, kStderr };

// How the command ended.
struct ExitStatus {
  int exit_code = -1;  // 0-255 when it exited, else -1
  int signal = 0;      // the signal that killed it, else 0

  bool success() const { return exit_code == 0; }
  // "exit status 3", "killed by signal 9 (SIGKILL)".
  std::string ToString() const;
};

class ChildProcess {
 public:
  struct Options {
    // Each line of stdout and stderr, as it arrives (see the file comment).
    std::function<void(Stream, std::string_view)> on_line;
    // Called once, after the last line, when the ChildProcess is done.
    std::function<void()> on_exit;
    // Longer lines are cut. Default: 64 KiB. REQUIRES: > 0.
    size_t max_line_bytes = size_t{64} << 10;
    // How many of the last stderr lines StderrTail keeps. Default: 20.
    size_t stderr_tail_lines = 20;
  };

  // Starts the command. Errors: InvalidArgument (empty argv, a NUL byte in
  // an argument or variable); NotFound (the program is not on PATH);
  // FailedPrecondition (execve refused it: not executable, bad format, ...;
  // errno's words); Internal (pipe, fork or thread creation failed).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(
      const CommandLine& command, Options options);

  // If the command still runs, kills its group (SIGKILL); then waits until
  // the ChildProcess is done.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }  // also the process group id

  // The exit status once done (the command ended and its output was read);
  // nullopt if not done by `deadline`.
  std::optional<ExitStatus> WaitUntil(absl::Time deadline);
  ExitStatus Wait();
  bool done() const;

  // Sends `signal` to the command's group; nothing once the command has
  // been reaped.
  void Signal(int signal);

  // SIGTERM (and SIGCONT, for a stopped group) to the group; SIGKILL if it
  // is not done within `grace`; returns how it ended.
  ExitStatus Terminate(absl::Duration grace);

  // The last Options::stderr_tail_lines lines of stderr, oldest first.
  std::vector<std::string> StderrTail() const;

 private:
  ChildProcess(pid_t pid, int out_fd, int err_fd, int pid_fd, Options options);
  void ReadUntilDone();  // the reader thread

  const pid_t pid_;
  const int out_fd_;
  const int err_fd_;
  const int pid_fd_;  // pidfd_open's, or -1 (then exit is polled)
  const Options options_;

  mutable internal::Mutex mu_;
  internal::CondVar done_cv_;
  bool reaped_ ABSL_GUARDED_BY(mu_) = false;  // the pid may be reused from here on
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  ExitStatus status_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> stderr_tail_ ABSL_GUARDED_BY(mu_);

  std::thread reader_;
};

}  // namespace cascade::worker

#endif  // CASCADE_WORKER_PROCESS_H_
