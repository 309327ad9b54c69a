// Copyright 2026 The Cascade Authors.
//
// ChildProcess on fork + execve. Everything the child needs (the program's
// path, argv and envp as C arrays) is built before fork, so the child calls
// only async-signal-safe functions between fork and execve, as POSIX
// requires of a multi-threaded parent. execve's failure comes back on a
// close-on-exec pipe (a successful execve closes it; a failed one writes
// errno into it).

#include "worker/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "wire/strings.h"

extern char** environ;

namespace cascade::worker {
namespace {

// How long the pipes are read after the command exited, for output still
// buffered in them or held open by a process that left the group.
constexpr absl::Duration kDrainAfterExit = absl::Milliseconds(200);

std::string ErrnoText(int error) { return std::strerror(error); }

void CloseFd(int fd) {
  if (fd >= 0) close(fd);
}

// The executable `name` means: itself if it holds a '/', else the first
// executable regular file of that name in `path` (PATH's directories).
absl::StatusOr<std::string> FindProgram(const std::string& name, std::string_view path) {
  if (name.find('/') != std::string::npos) return name;
  for (absl::string_view dir : absl::StrSplit(wire::Sv(path), ':')) {
    std::string candidate = absl::StrCat(dir.empty() ? "." : dir, "/", name);
    struct stat st;
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return absl::NotFoundError(
      absl::StrCat("cannot run \"", name, "\": not found on PATH (", wire::Sv(path), ")"));
}

bool HasNul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

// Splits bytes into lines for one stream, as the header says.
class LineSplitter {
 public:
  LineSplitter(size_t max_line, std::function<void(std::string_view)> emit)
      : max_line_(max_line), emit_(std::move(emit)) {}

  void Feed(std::string_view bytes) {
    for (char c : bytes) {
      if (c == '\n' && after_cr_) {  // the "\n" of "\r\n"
        after_cr_ = false;
        continue;
      }
      after_cr_ = c == '\r';
      if (c == '\n' || c == '\r') {
        emit_(line_);
        line_.clear();
        continue;
      }
      line_ += c;
      if (line_.size() >= max_line_) {
        emit_(line_);
        line_.clear();
      }
    }
  }
  void Finish() {
    if (!line_.empty()) emit_(line_);
    line_.clear();
  }

 private:
  const size_t max_line_;
  std::function<void(std::string_view)> emit_;
  std::string line_;
  bool after_cr_ = false;
};

}  // namespace

std::string ExitStatus::ToString() const {
  if (signal != 0) {
    const char* name = sigabbrev_np(signal);
    return absl::StrCat("killed by signal ", signal, name ? absl::StrCat(" (SIG", name, ")") : "");
  }
  return absl::StrCat("exit status ", exit_code);
}

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(const CommandLine& command,
                                                                  Options options) {
  if (command.argv.empty()) return absl::InvalidArgumentError("empty argv");
  for (const std::string& arg : command.argv) {
    if (HasNul(arg)) return absl::InvalidArgumentError("an argument holds a NUL byte");
  }
  // The environment: the worker's, with the command's variables on top.
  std::vector<std::string> env;
  std::string path_value = "/usr/local/bin:/usr/bin:/bin";
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string_view name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const auto& [k, v] : command.env) replaced |= k == name;
    if (!replaced) env.emplace_back(entry);
    if (name == "PATH" && entry.size() > 5) path_value = std::string(entry.substr(5));
  }
  for (const auto& [name, value] : command.env) {
    if (HasNul(name) || HasNul(value) || name.find('=') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("bad environment variable \"", name, "\""));
    }
    env.push_back(absl::StrCat(name, "=", value));
    if (name == "PATH") path_value = value;
  }
  absl::StatusOr<std::string> program = FindProgram(command.argv[0], path_value);
  if (!program.ok()) return program.status();

  std::vector<char*> argv_c, envp_c;
  for (const std::string& a : command.argv) argv_c.push_back(const_cast<char*>(a.c_str()));
  argv_c.push_back(nullptr);
  for (const std::string& e : env) envp_c.push_back(const_cast<char*>(e.c_str()));
  envp_c.push_back(nullptr);

  int out[2] = {-1, -1}, err[2] = {-1, -1}, exec_error[2] = {-1, -1};
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0 ||
      pipe2(exec_error, O_CLOEXEC) != 0) {
    const int error = errno;
    for (int fd : {null_fd, out[0], out[1], err[0], err[1], exec_error[0], exec_error[1]}) {
      CloseFd(fd);
    }
    return absl::InternalError(absl::StrCat("cannot make the command's pipes: ", ErrnoText(error)));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    // The child: async-signal-safe calls only.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the parent is already gone
    setpgid(0, 0);
    dup2(null_fd, 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl;
    std::memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; ++s) sigaction(s, &dfl, nullptr);  // fails harmlessly for some
    // Nothing else of the worker's leaks into the render (sockets, files):
    // every descriptor above 2 except the exec-error pipe, which execve
    // closes (O_CLOEXEC).
    if (exec_error[1] > 3) close_range(3, exec_error[1] - 1, 0);
    close_range(exec_error[1] + 1, ~0U, 0);
    execve(program->c_str(), argv_c.data(), envp_c.data());
    const int error = errno;
    (void)!write(exec_error[1], &error, sizeof error);
    _exit(127);
  }
  const int fork_error = errno;
  for (int fd : {null_fd, out[1], err[1], exec_error[1]}) CloseFd(fd);
  if (pid < 0) {
    for (int fd : {out[0], err[0], exec_error[0]}) CloseFd(fd);
    return absl::InternalError(absl::StrCat("fork: ", ErrnoText(fork_error)));
  }
  setpgid(pid, pid);  // also here, so that the group exists before Start returns
  int exec_errno = 0;
  ssize_t n;
  do {
    n = read(exec_error[0], &exec_errno, sizeof exec_errno);
  } while (n < 0 && errno == EINTR);
  CloseFd(exec_error[0]);
  if (n > 0) {
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    CloseFd(out[0]);
    CloseFd(err[0]);
    return absl::FailedPreconditionError(
        absl::StrCat("cannot run \"", *program, "\": ", ErrnoText(exec_errno)));
  }
  for (int fd : {out[0], err[0]}) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  const int pid_fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));  // -1 on old kernels

  std::unique_ptr<ChildProcess> process(
      new ChildProcess(pid, out[0], err[0], pid_fd, std::move(options)));
  process->reader_ = std::thread([p = process.get()] { p->ReadUntilDone(); });
  return process;
}

ChildProcess::ChildProcess(pid_t pid, int out_fd, int err_fd, int pid_fd, Options options)
    : pid_(pid), out_fd_(out_fd), err_fd_(err_fd), pid_fd_(pid_fd), options_(std::move(options)) {}

ChildProcess::~ChildProcess() {
  Signal(SIGKILL);
  if (reader_.joinable()) reader_.join();
  CloseFd(out_fd_);
  CloseFd(err_fd_);
  CloseFd(pid_fd_);
}

void ChildProcess::ReadUntilDone() {
  auto emitter = [this](Stream stream) {
    return [this, stream](std::string_view line) {
      if (stream == Stream::kStderr && options_.stderr_tail_lines > 0) {
        internal::MutexLock lock(&mu_);
        stderr_tail_.emplace_back(line);
        if (stderr_tail_.size() > options_.stderr_tail_lines) stderr_tail_.pop_front();
      }
      if (options_.on_line) options_.on_line(stream, line);
    };
  };
  LineSplitter out_lines(options_.max_line_bytes, emitter(Stream::kStdout));
  LineSplitter err_lines(options_.max_line_bytes, emitter(Stream::kStderr));
  bool out_open = true, err_open = true, exited = false;
  absl::Time drain_until = absl::InfiniteFuture();
  char buffer[16384];

  while (true) {
    if (exited && ((!out_open && !err_open) || absl::Now() >= drain_until)) break;
    pollfd fds[3];
    nfds_t count = 0;
    if (out_open) fds[count++] = {out_fd_, POLLIN, 0};
    if (err_open) fds[count++] = {err_fd_, POLLIN, 0};
    const bool watch_pid = !exited && pid_fd_ >= 0;
    if (watch_pid) fds[count++] = {pid_fd_, POLLIN, 0};
    int timeout_ms = 20;  // without a pidfd, the exit is polled this often
    if (watch_pid) timeout_ms = -1;
    if (exited) {
      timeout_ms = static_cast<int>(
          std::max<int64_t>(0, absl::ToInt64Milliseconds(drain_until - absl::Now()) + 1));
    }
    if (poll(fds, count, timeout_ms) < 0 && errno != EINTR) break;
    for (nfds_t i = 0; i < count; ++i) {
      if (fds[i].fd == pid_fd_ || fds[i].revents == 0) continue;
      const bool is_out = fds[i].fd == out_fd_;
      // Read what is there now, bounded so that one chatty stream cannot
      // starve the other or the exit check.
      for (int round = 0; round < 16; ++round) {
        const ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
        if (n > 0) {
          (is_out ? out_lines : err_lines).Feed(std::string_view(buffer, n));
          continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) (is_out ? out_open : err_open) = false;
        break;
      }
    }
    if (!exited) {
      siginfo_t info;
      std::memset(&info, 0, sizeof info);
      // WNOWAIT: the command stays a zombie, so its pid (the group's id)
      // cannot be reused while the group is killed below.
      if (waitid(P_PID, pid_, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid_) {
        exited = true;
        kill(-pid_, SIGKILL);  // what it left running in its group
        drain_until = absl::Now() + kDrainAfterExit;
      }
    }
  }
  out_lines.Finish();
  err_lines.Finish();
  if (!exited) {  // poll failed: wait for the exit without holding the lock
    siginfo_t info;
    while (waitid(P_PID, pid_, &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
    }
  }
  int status = 0;
  pid_t reaped;
  {
    internal::MutexLock lock(&mu_);
    do {
      reaped = waitpid(pid_, &status, 0);
    } while (reaped < 0 && errno == EINTR);
    reaped_ = true;
    if (reaped == pid_ && WIFEXITED(status)) {
      status_.exit_code = WEXITSTATUS(status);
    } else if (reaped == pid_ && WIFSIGNALED(status)) {
      status_.signal = WTERMSIG(status);
    }
    done_ = true;
  }
  done_cv_.SignalAll();
  if (options_.on_exit) options_.on_exit();
}

std::optional<ExitStatus> ChildProcess::WaitUntil(absl::Time deadline) {
  internal::MutexLock lock(&mu_);
  const auto until = absl::ToChronoTime(deadline);
  while (!done_) {
    if (done_cv_.WaitUntil(&mu_, until) == std::cv_status::timeout && !done_) return std::nullopt;
  }
  return status_;
}

ExitStatus ChildProcess::Wait() {
  internal::MutexLock lock(&mu_);
  while (!done_) done_cv_.Wait(&mu_);
  return status_;
}

bool ChildProcess::done() const {
  internal::MutexLock lock(&mu_);
  return done_;
}

void ChildProcess::Signal(int signal) {
  internal::MutexLock lock(&mu_);
  if (!reaped_) kill(-pid_, signal);
}

ExitStatus ChildProcess::Terminate(absl::Duration grace) {
  Signal(SIGTERM);
  Signal(SIGCONT);
  if (std::optional<ExitStatus> status = WaitUntil(absl::Now() + grace)) return *status;
  Signal(SIGKILL);
  return Wait();
}

std::vector<std::string> ChildProcess::StderrTail() const {
  internal::MutexLock lock(&mu_);
  return {stderr_tail_.begin(), stderr_tail_.end()};
}

}  // namespace cascade::worker
