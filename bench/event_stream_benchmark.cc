// Copyright 2026 The Cascade Authors.
//
// File: bench/event_stream_benchmark.cc
// -----------------------------------------------------------------------------
// GET /api/v2/events (contract §16) under load: what open event streams cost
// the engine, and how many events a second 1,000 streams carry. Each run
// builds a cascade-server in this process as cascade-server does for
// `--data :memory:` (the engine from server::EngineOptions on the real
// clock, server::Api with the default event window of 32,768 frames,
// server::HttpServer on a loopback port with its default threads, 2 here),
// opens the streams on raw sockets, then submits batches of 1000 leaf jobs
// (one `submitted` transition each) through the engine. Only the submits are
// timed (manual time); building the server and opening the streams are not.
//
// The engine's rate, items_per_second = jobs submitted, each benchmark with
// batches:30 (a burst of 30,000 events: inside the window, so no stream can
// be cut, whatever it does) and batches:300 (300,000 events, nine windows:
// a stream that does not keep up is cut):
//   BM_SubmitNoStream        (a) no stream was ever opened: the feed does not
//                            exist and the engine has no subscriber.
//   BM_SubmitNullSubscriber  no stream, and an engine subscription like the
//                            feed's whose callback does nothing: what
//                            publishing the events costs the engine alone.
//   BM_SubmitIdleFeed        one stream opened and closed before the timed
//                            loop: the feed exists (it stays once made) and
//                            formats every event, and no stream reads them.
//   BM_SubmitStalledClient   (b) one stream whose client shrank its receive
//                            buffer to 4 KiB and never reads after the first
//                            frame. Counter stalled_cut: the server cut it
//                            (cascade_event_streams_too_slow_total; waited
//                            for when the run passes the window).
//   BM_Submit1000Streams     (c) 1,000 streams, all read by one thread of
//                            this process (epoll over the 1,000 sockets,
//                            counting frames). The engine is not paced.
//                            Counters: streams_open (cascade_event_streams
//                            before the submits), streams_cut (too_slow_total
//                            150 ms after the feed took the last event) and
//                            received_per_stream (transitions a stream had
//                            received by then, mean).
// For every scenario with a feed, feed_events_per_second: events / the time
// from the first submit until the feed had taken them all (it formats each
// frame as it takes the event).
// Every iteration of the last four also runs the same burst on a fresh
// server with no stream (and for (b) and (c) on one with an idle feed), just
// before or just after its own: counters vs_no_stream and vs_idle_feed are
// the medians of the iterations' ratios (this rate / that one), which
// compare runs taken a second apart, whatever else loads the machine. Counters
// submitter_cpu_share (the submitting thread's CPU time / the wall time of
// the submits: below 1 when other threads took its core) and
// submit_cpu_ns_per_job (its CPU time per job: the engine's own work) tell
// waiting, sharing and working apart; for all but (c), other_cpu_ns_per_job
// is the CPU time the rest of the program (the feed's thread above all)
// spent on the burst, from its first submit until the program went idle,
// per job: what each event costs besides the engine, on whichever core.
//
// Fan-out:
//   BM_FanOut1000Streams     1,000 streams read as in (c), and the engine
//                            paced by what they received: a batch is
//                            submitted only while the slowest stream is at
//                            most 4 batches behind, and the iteration ends
//                            when every stream has every event (16 batches).
//                            items_per_second = transition frames received by
//                            the clients, summed over the streams (every
//                            stream gets every event, so jobs_per_second =
//                            items_per_second / 1,000 is each stream's rate
//                            and the engine's paced one); counters
//                            complete_streams (streams that received every
//                            event, in sequence order with none missing, and
//                            no reset), streams_cut (too_slow_total),
//                            mb_per_second (bytes received, all streams),
//                            vs_no_stream (jobs_per_second / the same batches
//                            on a fresh server with no stream).
//
// On a 2-core machine the submitting thread, the feed's thread, the server's
// two I/O threads and the clients' reader share the cores: what open streams
// cost the engine here is CPU taken from it, not waiting (the engine never
// waits for a stream).
//
//   build-bench/bench/cascade_event_stream_bench
//   build-bench/bench/cascade_event_stream_bench --benchmark_filter=FanOut

#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/bench_common.h"
#include "benchmark/benchmark.h"
#include "cascade/cascade.h"
#include "server/api.h"
#include "server/flags.h"
#include "server/http_server.h"

namespace cascade {
namespace {

using ::cascade::bench::Die;
using ::cascade::bench::kBatchSize;
using ::cascade::bench::kTeam;
using ::cascade::bench::LeafSpec;
using ::cascade::bench::NowNanos;

constexpr char kToken[] = "bench-token";
constexpr size_t kStreams = 1000;
constexpr int kStalledReceiveBuffer = 4096;
// Events the fan-out lets the engine run ahead of its slowest stream (well
// inside the feed's default window, so pacing alone keeps every stream in
// it), and its batches.
constexpr uint64_t kFanOutCredit = 4 * kBatchSize;
constexpr int64_t kFanOutBatches = 16;
// Any wait longer than this is a broken server, not a slow one: the
// benchmark reports an error instead of hanging.
constexpr absl::Duration kHangGuard = absl::Seconds(30);

[[noreturn]] void DieErrno(const char* what) {
  Die(what, absl::InternalError(std::strerror(errno)));
}

// ---- The server ---------------------------------------------------------------

// A cascade-server in this process, as its main() builds one for
// `--data :memory:` with the client token kToken for kTeam.
class InProcessServer {
 public:
  InProcessServer() {
    absl::StatusOr<server::ServerFlags> flags = server::ParseFlags({"--data", ":memory:"});
    if (!flags.ok()) Die("flags", flags.status());
    absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(server::EngineOptions(*flags));
    if (!engine.ok()) Die("engine", engine.status());
    engine_ = *std::move(engine);
    server::ApiOptions api;
    api.client_tokens = {{kToken, kTeam}};
    api.events.window = static_cast<size_t>(flags->events_window);
    api.events.max_streams = static_cast<size_t>(flags->max_event_streams);
    api_ = std::make_unique<server::Api>(engine_.get(), api);
    server::HttpServerOptions http;
    http.port = 0;
    absl::StatusOr<std::unique_ptr<server::HttpServer>> started = server::HttpServer::Start(
        http, [this](const server::Request& request) { return api_->Handle(request); });
    if (!started.ok()) Die("http server", started.status());
    http_ = *std::move(started);
  }
  // The HTTP server first: it ends the streams before the feed goes.
  ~InProcessServer() { http_->Stop(); }

  Engine& engine() { return *engine_; }
  uint16_t port() const { return http_->port(); }
  // The feed; made by this call if no stream made it yet.
  server::EventFeed& feed() { return api_->feed(); }

  // The value of `name` in GET /api/v2/metrics (-1 when absent, or when no
  // answer came within kHangGuard).
  double Metric(absl::string_view name) const {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) DieErrno("socket");
    const timeval guard{absl::ToInt64Seconds(kHangGuard), 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &guard, sizeof(guard));
    sockaddr_in address = Loopback(port());
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      DieErrno("connect");
    }
    const std::string request =
        "GET /api/v2/metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size())) {
      DieErrno("send");
    }
    std::string answer;
    char chunk[16384];
    ssize_t n;
    while ((n = recv(fd, chunk, sizeof(chunk), 0)) > 0) answer.append(chunk, n);
    close(fd);
    for (absl::string_view line : absl::StrSplit(answer, '\n')) {
      double value = 0;
      if (line.size() > name.size() && line.substr(0, name.size()) == name &&
          line[name.size()] == ' ' && absl::SimpleAtod(line.substr(name.size() + 1), &value)) {
        return value;
      }
    }
    return -1;
  }

  static sockaddr_in Loopback(uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
  }

 private:
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<server::Api> api_;
  std::unique_ptr<server::HttpServer> http_;
};

// A socket that sent GET /api/v2/events; `receive_buffer` > 0 shrinks its
// receive buffer first.
int OpenStream(uint16_t port, int receive_buffer = 0) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) DieErrno("socket (is the file limit high enough?)");
  if (receive_buffer > 0 &&
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer)) != 0) {
    DieErrno("SO_RCVBUF");
  }
  sockaddr_in address = InProcessServer::Loopback(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    DieErrno("connect");
  }
  const std::string request = absl::StrCat("GET /api/v2/events HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                                           "Authorization: Bearer ", kToken, "\r\n\r\n");
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    DieErrno("send");
  }
  return fd;
}

// Reads from `fd` until `text` has arrived (blocking, bounded by kHangGuard);
// false if the connection ended first.
bool ReadUntil(int fd, std::string_view text) {
  std::string seen;
  const absl::Time deadline = absl::Now() + kHangGuard;
  while (seen.find(text) == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) < 0 || absl::Now() > deadline) return false;
    if (p.revents == 0) continue;
    char chunk[4096];
    const ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    seen.append(chunk, n);
  }
  return true;
}

// ---- The clients -----------------------------------------------------------------

// `n` streams of GET /api/v2/events, all read by one thread with epoll, which
// counts the transition frames of each and checks that their sequences
// follow one another.
class StreamReaders {
 public:
  StreamReaders(uint16_t port, size_t n) : streams_(n) {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) DieErrno("epoll_create1");
    for (size_t i = 0; i < n; ++i) {
      streams_[i] = std::make_unique<Stream>();
      streams_[i]->fd = OpenStream(port);
      epoll_event event{};
      event.events = EPOLLIN;
      event.data.u64 = i;
      if (epoll_ctl(epoll_, EPOLL_CTL_ADD, streams_[i]->fd, &event) != 0) DieErrno("epoll_ctl");
    }
    reader_ = std::thread(&StreamReaders::Read, this);
  }
  ~StreamReaders() {
    Stop();
    for (const std::unique_ptr<Stream>& s : streams_) close(s->fd);
    close(epoll_);
  }
  StreamReaders(const StreamReaders&) = delete;
  StreamReaders& operator=(const StreamReaders&) = delete;

  // Until every stream received its first frame (the server registered it);
  // false after kHangGuard.
  bool WaitStarted() const {
    const absl::Time deadline = absl::Now() + kHangGuard;
    while (started_.load(std::memory_order_acquire) < streams_.size()) {
      if (absl::Now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
  }

  // The fewest transition frames any stream still open has received (or
  // `none_open` when the server closed them all).
  uint64_t FewestReceived(uint64_t none_open) const {
    uint64_t fewest = none_open;
    for (const std::unique_ptr<Stream>& s : streams_) {
      if (!s->ended.load(std::memory_order_acquire)) {
        fewest = std::min(fewest, s->transitions.load(std::memory_order_acquire));
      }
    }
    return fewest;
  }

  // Until every stream has `expected` transitions or was closed by the
  // server; false after `guard`.
  bool WaitAll(uint64_t expected, absl::Duration guard) const {
    const absl::Time deadline = absl::Now() + guard;
    while (FewestReceived(expected) < expected) {
      if (absl::Now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
  }

  void Stop() {
    stop_.store(true, std::memory_order_release);
    if (reader_.joinable()) reader_.join();
  }

  struct Tally {
    size_t complete = 0;  // every one of `expected` transitions, in order, no reset
    size_t ended = 0;     // closed by the server
    uint64_t frames = 0;  // transition frames over all streams
    uint64_t bytes = 0;
  };
  // REQUIRES: Stop() was called.
  Tally Count(uint64_t expected) const {
    Tally tally;
    for (const std::unique_ptr<Stream>& s : streams_) {
      const uint64_t got = s->transitions.load(std::memory_order_relaxed);
      tally.frames += got;
      tally.bytes += s->bytes;
      if (s->ended.load(std::memory_order_relaxed)) ++tally.ended;
      if (got == expected && s->in_order && s->resets == 0) ++tally.complete;
    }
    return tally;
  }

 private:
  struct Stream {
    int fd = -1;
    bool header = false;  // the response header was read
    std::string carry;    // the start of a frame (or of the header) not yet whole
    std::atomic<uint64_t> transitions{0};
    std::atomic<bool> ended{false};
    uint64_t last_sequence = 0;
    bool in_order = true;
    uint64_t resets = 0;
    uint64_t bytes = 0;
  };

  // The reading thread. One buffer serves every stream: the unfinished
  // frame a stream kept from its last read (a few hundred bytes) is copied
  // to the buffer's start and the socket read after it, so that the bytes
  // are parsed where they landed.
  void Read() {
    std::vector<epoll_event> ready(256);
    std::vector<char> buffer(kReadBytes + kMaxCarry);
    while (!stop_.load(std::memory_order_acquire)) {
      const int n = epoll_wait(epoll_, ready.data(), static_cast<int>(ready.size()), 20);
      for (int i = 0; i < n; ++i) {
        Stream& s = *streams_[ready[i].data.u64];
        const size_t kept = s.carry.size();
        std::memcpy(buffer.data(), s.carry.data(), kept);
        const ssize_t got = recv(s.fd, buffer.data() + kept, kReadBytes, MSG_DONTWAIT);
        if (got > 0) {
          s.bytes += static_cast<uint64_t>(got);
          Take(s, buffer.data(), kept + static_cast<size_t>(got));
        } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
          epoll_ctl(epoll_, EPOLL_CTL_DEL, s.fd, nullptr);
          s.ended.store(true, std::memory_order_release);
        }
      }
    }
  }

  // Parses [data, data + size): the header once, then whole frames; the
  // start of a frame that has not ended yet is kept in `carry`.
  void Take(Stream& s, const char* data, size_t size) {
    size_t at = 0;
    if (!s.header) {
      const std::string_view text(data, size);
      const size_t end = text.find("\r\n\r\n");
      if (end == std::string_view::npos) {
        s.carry.assign(data, size);
        return;
      }
      if (text.substr(0, 12) != "HTTP/1.1 200") {
        std::fprintf(stderr, "event stream refused: %s\n",
                     std::string(text.substr(0, end)).c_str());
        std::abort();
      }
      s.header = true;
      at = end + 4;
    }
    // Frames end with a blank line: a '\n' followed by another.
    const char* const stop = data + size;
    const char* frame = data + at;
    const char* p = frame;
    while (const char* nl = static_cast<const char*>(std::memchr(p, '\n', stop - p))) {
      if (nl + 1 == stop) break;
      if (nl[1] != '\n') {
        p = nl + 1;
        continue;
      }
      Frame(s, std::string_view(frame, nl - frame));
      frame = p = nl + 2;
    }
    if (static_cast<size_t>(stop - frame) > kMaxCarry) {
      std::fprintf(stderr, "an event stream frame is longer than %zu bytes\n", kMaxCarry);
      std::abort();
    }
    s.carry.assign(frame, stop - frame);
  }

  void Frame(Stream& s, std::string_view frame) {
    constexpr std::string_view kTransition = "event: transition\nid: ";
    if (frame.substr(0, kTransition.size()) == kTransition) {
      // id: <epoch hex>-<sequence>: the sequence must follow the last one.
      std::string_view id = frame.substr(kTransition.size());
      id = id.substr(0, id.find('\n'));
      uint64_t sequence = 0;
      const size_t dash = id.find('-');
      const bool parsed =
          dash != std::string_view::npos &&
          std::from_chars(id.data() + dash + 1, id.data() + id.size(), sequence).ec == std::errc();
      if (!parsed || (s.last_sequence != 0 && sequence != s.last_sequence + 1)) {
        s.in_order = false;
      }
      s.last_sequence = sequence;
      s.transitions.fetch_add(1, std::memory_order_release);
    } else if (frame.substr(0, 7) == "retry: ") {
      started_.fetch_add(1, std::memory_order_release);
    } else if (frame.substr(0, 12) == "event: reset") {
      ++s.resets;
    }
  }

  // What one read takes at most, and the longest unfinished frame kept
  // between reads (a transition frame is about 250 bytes).
  static constexpr size_t kReadBytes = size_t{256} << 10;
  static constexpr size_t kMaxCarry = size_t{64} << 10;

  std::vector<std::unique_ptr<Stream>> streams_;
  int epoll_ = -1;
  std::atomic<size_t> started_{0};
  std::atomic<bool> stop_{false};
  std::thread reader_;
};

// ---- The benchmarks -------------------------------------------------------------

// What is open on the server while the engine submits.
enum class Streams { kNone, kNullSubscriber, kIdleFeed, kStalled, kThousandReading };

// The CPU time the calling thread has used.
double ThreadCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// A fresh server with `streams` open: its feed, and its clients.
class Fixture {
 public:
  explicit Fixture(Streams streams) {
    switch (streams) {
      case Streams::kNone:
        break;
      case Streams::kNullSubscriber: {
        // As the feed subscribes (queue and progress), with a callback that
        // does nothing.
        SubscribeOptions options;
        options.max_queued = size_t{1} << 20;
        options.progress = true;
        subscription_ = server_.engine().Subscribe([](const TransitionEvent&) {}, options);
        break;
      }
      case Streams::kIdleFeed: {
        const int fd = OpenStream(server_.port());
        if (!ReadUntil(fd, "retry: ")) Die("idle feed", absl::UnavailableError("no first frame"));
        close(fd);
        if (!WaitMetric("cascade_event_streams", 0)) {
          Die("idle feed", absl::DeadlineExceededError("the stream stayed open"));
        }
        break;
      }
      case Streams::kStalled:
        stalled_ = OpenStream(server_.port(), kStalledReceiveBuffer);
        if (!ReadUntil(stalled_, "retry: ")) {
          Die("stalled client", absl::UnavailableError("no first frame"));
        }
        break;
      case Streams::kThousandReading:
        readers_ = std::make_unique<StreamReaders>(server_.port(), kStreams);
        if (!readers_->WaitStarted()) {
          Die("1000 streams", absl::DeadlineExceededError("not every stream started"));
        }
        break;
    }
  }
  ~Fixture() {
    if (stalled_ >= 0) close(stalled_);
  }

  // Submits `batches` batches of 1000 leaves; returns the wall time in
  // seconds, and sets *cpu to the CPU time the submitting thread used.
  double Submit(int64_t batches, double* cpu) {
    const std::vector<JobSpec> specs(kBatchSize, LeafSpec());
    const double cpu_start = ThreadCpuSeconds();
    const int64_t start = NowNanos();
    for (int64_t b = 0; b < batches; ++b) {
      absl::StatusOr<BatchSubmitResult> result = server_.engine().SubmitBatch(kTeam, specs);
      if (!result.ok()) Die("SubmitBatch", result.status());
      benchmark::DoNotOptimize(result);
    }
    const double seconds = static_cast<double>(NowNanos() - start) * 1e-9;
    *cpu = ThreadCpuSeconds() - cpu_start;
    return seconds;
  }

  // Waits (bounded by kHangGuard) until `metric` reads `value`.
  bool WaitMetric(absl::string_view metric, double value) const {
    const absl::Time deadline = absl::Now() + kHangGuard;
    while (server_.Metric(metric) != value) {
      if (absl::Now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  }

  InProcessServer& server() { return server_; }
  StreamReaders* readers() { return readers_.get(); }

 private:
  InProcessServer server_;
  std::unique_ptr<StreamReaders> readers_;  // before server_ goes: clients close first
  int stalled_ = -1;
  Subscription subscription_;  // kNullSubscriber's
};

// The CPU time the whole process has used.
double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Until the process uses less than a tenth of a core over 20 ms (its other
// threads have done what the submits gave them), bounded by kHangGuard.
void WaitIdle() {
  constexpr double kWindow = 0.020;
  const absl::Time deadline = absl::Now() + kHangGuard;
  double before = ProcessCpuSeconds();
  while (absl::Now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const double now = ProcessCpuSeconds();
    if (now - before < kWindow / 10) return;
    before = now;
  }
}

struct BurstTimes {
  double seconds = 0;    // wall time of the submits
  double submitter = 0;  // the submitting thread's CPU time meanwhile
};

// One timed burst of `batches` on a fresh server with `streams` open. With
// `counters`, the scenario's own counters are added to it (sums over
// iterations); without, the burst is a baseline and only timed.
BurstTimes Burst(Streams streams, int64_t batches, std::map<std::string, double>* counters) {
  Fixture fixture(streams);
  const bool open = streams == Streams::kStalled || streams == Streams::kThousandReading;
  if (counters != nullptr && open) {
    (*counters)["streams_open"] += fixture.server().Metric("cascade_event_streams");
  }
  const double process_start = ProcessCpuSeconds();
  const int64_t start = NowNanos();
  BurstTimes times;
  times.seconds = fixture.Submit(batches, &times.submitter);
  if (counters == nullptr) return times;
  const uint64_t events = static_cast<uint64_t>(batches) * kBatchSize;
  // Not timed: how fast the feed took the events (it formats each as it
  // takes it), from the first submit until it had them all.
  if (streams != Streams::kNone && streams != Streams::kNullSubscriber) {
    // Polled, not waited for: a thread blocked in Flush is woken by every
    // event the feed takes, which would take the feed's core from it.
    const absl::Time deadline = absl::Now() + kHangGuard;
    while (!fixture.server().feed().Flush(absl::ZeroDuration())) {
      if (absl::Now() > deadline) {
        Die("feed", absl::DeadlineExceededError("the feed did not take every event"));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    (*counters)["feed_events_per_second"] +=
        static_cast<double>(events) / (static_cast<double>(NowNanos() - start) * 1e-9);
  }
  // What became of the streams.
  if (streams == Streams::kStalled) {
    // Past the window the stalled client must have been cut; inside it, not.
    if (events > (uint64_t{1} << 15)) {
      fixture.WaitMetric("cascade_event_streams_too_slow_total", 1);
    }
    (*counters)["stalled_cut"] += fixture.server().Metric("cascade_event_streams_too_slow_total");
  }
  if (StreamReaders* readers = fixture.readers()) {
    // Where the streams are once the feed has every event: the cuts it
    // made (its ticker cuts within 100 ms of a stream falling out of the
    // window), and how far the clients got.
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    (*counters)["streams_cut"] += fixture.server().Metric("cascade_event_streams_too_slow_total");
    readers->Stop();
    (*counters)["received_per_stream"] +=
        static_cast<double>(readers->Count(events).frames) / kStreams;
  } else {
    // What the rest of the program (the feed, the server) spent on the
    // burst, until it went idle: the CPU the events cost besides the
    // engine's, whichever core it ran on.
    WaitIdle();
    (*counters)["other_cpu_ns_per_job"] +=
        (ProcessCpuSeconds() - process_start - times.submitter) * 1e9 / static_cast<double>(events);
  }
  return times;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t mid = v.size() / 2;
  return v.size() % 2 == 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

// The engine's rate with `streams` open. Each iteration runs the same burst
// on a server with no stream too and (for the stalled client and the 1,000
// streams) on one with an idle feed, before the measured one in even
// iterations and after it in odd ones; the ratios are the medians of each
// iteration's, so they compare runs taken a second apart, whatever else
// loads the machine and however its speed drifts.
void RunSubmit(benchmark::State& state, Streams streams) {
  const int64_t batches = state.range(0);
  const bool against_idle = streams == Streams::kStalled || streams == Streams::kThousandReading;
  double seconds = 0, submitter = 0;
  std::vector<double> vs_no_stream, vs_idle_feed;
  std::map<std::string, double> counters;
  int64_t iteration = 0;
  for (auto _ : state) {
    double no_stream = 0, idle = 0;
    auto baselines = [&] {
      if (streams != Streams::kNone) no_stream = Burst(Streams::kNone, batches, nullptr).seconds;
      if (against_idle) idle = Burst(Streams::kIdleFeed, batches, nullptr).seconds;
    };
    if (iteration++ % 2 == 0) baselines();
    const BurstTimes burst = Burst(streams, batches, &counters);
    if (iteration % 2 == 0) baselines();
    state.SetIterationTime(burst.seconds);
    seconds += burst.seconds;
    submitter += burst.submitter;
    // Same jobs in each: the ratio of the rates is the inverse one of times.
    vs_no_stream.push_back(no_stream / burst.seconds);
    vs_idle_feed.push_back(idle / burst.seconds);
  }
  const int64_t jobs = batches * static_cast<int64_t>(kBatchSize) * state.iterations();
  state.SetItemsProcessed(jobs);
  for (const auto& [name, sum] : counters) {
    state.counters[name] = benchmark::Counter(sum, benchmark::Counter::kAvgIterations);
  }
  // The submitting thread's share of a core during the timed submits: below
  // 1 when other threads (this program's or others') took its core.
  state.counters["submitter_cpu_share"] = submitter / seconds;
  // Its CPU time per job: the engine's own work, whoever else runs.
  state.counters["submit_cpu_ns_per_job"] = submitter * 1e9 / static_cast<double>(jobs);
  if (streams != Streams::kNone) state.counters["vs_no_stream"] = Median(vs_no_stream);
  if (against_idle) state.counters["vs_idle_feed"] = Median(vs_idle_feed);
}

void BM_SubmitNoStream(benchmark::State& state) { RunSubmit(state, Streams::kNone); }
void BM_SubmitNullSubscriber(benchmark::State& state) {
  RunSubmit(state, Streams::kNullSubscriber);
}
void BM_SubmitIdleFeed(benchmark::State& state) { RunSubmit(state, Streams::kIdleFeed); }
void BM_SubmitStalledClient(benchmark::State& state) { RunSubmit(state, Streams::kStalled); }
void BM_Submit1000Streams(benchmark::State& state) { RunSubmit(state, Streams::kThousandReading); }

// Fixed iterations, so that the whole program takes well under a minute:
// many short bursts (30 batches), fewer long runs (300).
#define CASCADE_SUBMIT_BENCHMARK(name, bursts, long_runs)                                      \
  BENCHMARK(name)->ArgName("batches")->Arg(30)->Iterations(bursts)->UseManualTime()->Unit(     \
      benchmark::kMillisecond);                                                                \
  BENCHMARK(name)->ArgName("batches")->Arg(300)->Iterations(long_runs)->UseManualTime()->Unit( \
      benchmark::kMillisecond)
CASCADE_SUBMIT_BENCHMARK(BM_SubmitNoStream, 30, 8);
CASCADE_SUBMIT_BENCHMARK(BM_SubmitNullSubscriber, 30, 8);
CASCADE_SUBMIT_BENCHMARK(BM_SubmitIdleFeed, 30, 8);
CASCADE_SUBMIT_BENCHMARK(BM_SubmitStalledClient, 30, 8);
CASCADE_SUBMIT_BENCHMARK(BM_Submit1000Streams, 6, 3);
#undef CASCADE_SUBMIT_BENCHMARK

void BM_FanOut1000Streams(benchmark::State& state) {
  const int64_t batches = state.range(0);
  const std::vector<JobSpec> specs(kBatchSize, LeafSpec());
  const uint64_t events = static_cast<uint64_t>(batches) * kBatchSize;
  double seconds = 0, no_stream_seconds = 0, complete = 0, cut = 0, bytes = 0;
  uint64_t frames = 0;
  for (auto _ : state) {
    no_stream_seconds += Burst(Streams::kNone, batches, nullptr).seconds;
    Fixture fixture(Streams::kThousandReading);
    StreamReaders& readers = *fixture.readers();
    Engine& engine = fixture.server().engine();
    const int64_t start = NowNanos();
    uint64_t submitted = 0;
    bool stuck = false;
    for (int64_t b = 0; b < batches && !stuck; ++b) {
      // Submit only while the slowest stream is within the credit.
      const absl::Time deadline = absl::Now() + kHangGuard;
      while (submitted - readers.FewestReceived(submitted) > kFanOutCredit - kBatchSize) {
        if (absl::Now() > deadline) {
          stuck = true;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      absl::StatusOr<BatchSubmitResult> result = engine.SubmitBatch(kTeam, specs);
      if (!result.ok()) Die("SubmitBatch", result.status());
      submitted += kBatchSize;
    }
    if (stuck || !readers.WaitAll(events, kHangGuard)) {
      state.SkipWithError("the streams stopped receiving");
    }
    const double elapsed = static_cast<double>(NowNanos() - start) * 1e-9;
    state.SetIterationTime(elapsed);
    seconds += elapsed;
    cut += fixture.server().Metric("cascade_event_streams_too_slow_total");
    readers.Stop();
    const StreamReaders::Tally tally = readers.Count(events);
    complete += static_cast<double>(tally.complete);
    frames += tally.frames;
    bytes += static_cast<double>(tally.bytes);
  }
  const auto avg = benchmark::Counter::kAvgIterations;
  state.SetItemsProcessed(static_cast<int64_t>(frames));
  const double jobs = static_cast<double>(events) * static_cast<double>(state.iterations());
  state.counters["jobs_per_second"] = jobs / seconds;
  state.counters["mb_per_second"] = bytes / seconds / 1e6;
  state.counters["complete_streams"] = benchmark::Counter(complete, avg);
  state.counters["streams_cut"] = benchmark::Counter(cut, avg);
  state.counters["vs_no_stream"] = no_stream_seconds / seconds;
}
BENCHMARK(BM_FanOut1000Streams)
    ->ArgName("batches")
    ->Arg(kFanOutBatches)
    ->Iterations(2)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// 1,000 streams hold 2,000 descriptors in this process (the clients' and the
// server's ends): raises the soft limit when it is lower than that needs.
void RaiseFileLimit() {
  constexpr rlim_t kWanted = 4 * kStreams + 256;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) DieErrno("getrlimit");
  if (limit.rlim_cur >= kWanted) return;
  limit.rlim_cur = std::min<rlim_t>(kWanted, limit.rlim_max);
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) DieErrno("setrlimit");
  if (limit.rlim_cur < 2 * kStreams + 64) {
    std::fprintf(stderr, "the file limit (hard %llu) is too low for %zu streams\n",
                 static_cast<unsigned long long>(limit.rlim_max), kStreams);
    std::exit(1);
  }
}

}  // namespace
}  // namespace cascade

int main(int argc, char** argv) {
  cascade::bench::UseProductionAbseil();
  std::signal(SIGPIPE, SIG_IGN);  // a client cut mid-write must not end the program
  cascade::RaiseFileLimit();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
