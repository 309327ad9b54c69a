// Copyright 2026 The Cascade Authors.
//
// File: tests/kill_harness.h
// -----------------------------------------------------------------------------
// What the two kill -9 tests (store_kill_test.cc, engine_kill_test.cc) share:
// reading a child's fixed-size acknowledgement records from a pipe (a record
// cut by the kill is never returned), and killing and reaping the child.

#ifndef CASCADE_TESTS_KILL_HARNESS_H_
#define CASCADE_TESTS_KILL_HARNESS_H_

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/strings/str_cat.h"

namespace cascade::testing {

// Reads whole `Record`s (trivially copyable, written whole by the child with
// one write(2) of at most PIPE_BUF bytes) from a pipe.
template <typename Record>
class RecordReader {
  static_assert(std::is_trivially_copyable_v<Record>);

 public:
  explicit RecordReader(int fd) : fd_(fd) {}

  // Waits up to `timeout_ms` for bytes and appends every whole record they
  // complete to `records`. False at end of file (the child is gone).
  bool ReadSome(int timeout_ms, std::vector<Record>* records) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return true;
    char buf[4096];
    const ssize_t n = read(fd_, buf, sizeof(buf));
    if (n == 0) return false;
    if (n < 0) return errno == EINTR || errno == EAGAIN;
    pending_.append(buf, static_cast<size_t>(n));
    const size_t whole = pending_.size() / sizeof(Record) * sizeof(Record);
    for (size_t off = 0; off < whole; off += sizeof(Record)) {
      Record record;
      std::memcpy(&record, pending_.data() + off, sizeof(Record));
      records->push_back(record);
    }
    pending_.erase(0, whole);
    return true;
  }

 private:
  const int fd_;
  std::string pending_;
};

// Kills the child with SIGKILL, reads what it had written before it died,
// closes the pipe and reaps the child. Returns "" or what went wrong (the
// child had ended on its own, say).
template <typename Record>
std::string KillAndReap(pid_t pid, int read_fd, RecordReader<Record>& reader,
                        std::vector<Record>* records) {
  if (kill(pid, SIGKILL) != 0) return absl::StrCat("kill: ", std::strerror(errno));
  while (reader.ReadSome(1000, records)) {
  }
  close(read_fd);
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return absl::StrCat("waitpid: ", std::strerror(errno));
  if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
    return absl::StrCat("the child ended with status ", status,
                        " before the kill (see its stderr)");
  }
  return "";
}

}  // namespace cascade::testing

#endif  // CASCADE_TESTS_KILL_HARNESS_H_
