// Copyright 2026 The Cascade Authors.
//
// EventFeed: the engine's events as SSE frames in one window, and the streams
// that read it (see event_feed.h).
//
// Locks: Core::mu_ guards the window and the waiting streams; it is a leaf.
// EventFeed::progress_mu_ (the throttle) is taken before Core::mu_ (Append).
// A stream's wake function is called with no lock held.

#include "server/event_feed.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "wire/strings.h"

namespace cascade::server {
namespace {

constexpr std::string_view kStreamStart = "retry: 2000\n\n";
constexpr std::string_view kKeepAliveFrame = ": keep-alive\n\n";
// How often the ticker looks for progress whose interval ended.
constexpr absl::Duration kTickInterval = absl::Milliseconds(100);
// Bytes a stream hands its connection at a time, at most (about).
constexpr size_t kMaxWriteBytes = size_t{256} << 10;
// Events the feed's engine subscription may hold before it drops (and the
// streams are reset).
constexpr size_t kSubscriptionQueue = size_t{1} << 20;

enum class FrameKind : uint8_t { kTransition, kProgress, kReset, kKeepAlive };

struct Frame {
  FrameKind kind = FrameKind::kKeepAlive;
  uint64_t sequence = 0;
  std::string team;  // empty: for every stream (reset, keep-alive)
  std::optional<BatchId> batch;
  JobId job;
  // A submitted job's parent and prerequisites, when family streams are
  // open: a stream whose family holds one of them takes the job in.
  std::vector<JobId> links;
  std::string text;
};
using FramePtr = std::shared_ptr<const Frame>;

}  // namespace

// What the feed knows of an open stream: the index of the next frame it
// reads, and how to end its connection.
struct EventFeed::Reader {
  std::atomic<uint64_t> cursor{0};
  std::function<void()> cut;
  std::atomic<bool> too_slow{false};  // counted once, by whoever saw it first
};

namespace {

// An id as a JSON string, or null. Frames are written as text, not through a
// JSON tree: the feed formats every event the engine makes, and nothing in
// them needs escaping (ids are ULIDs; states and causes are fixed names).
std::string QuotedOrNull(const std::optional<Ulid>& id) {
  return id ? absl::StrCat("\"", id->ToString(), "\"") : std::string("null");
}

std::string EventId(uint64_t epoch, uint64_t sequence) {
  return absl::StrFormat("%x-%d", epoch, sequence);
}

}  // namespace

// ---- Core: the window and who waits on it ------------------------------------------

class EventFeed::Core {
 public:
  Core(size_t window, size_t max_streams, uint64_t epoch)
      : window_(std::max<size_t>(window, 1)), max_streams_(max_streams), epoch_(epoch) {}

  uint64_t epoch() const { return epoch_; }

  // Adds `frame` at the end (dropping the oldest past the window) and wakes
  // the streams that were waiting for it.
  void Append(FramePtr frame) {
    std::vector<std::function<void()>> wake;
    {
      internal::MutexLock lock(&mu_);
      if (frame->kind == FrameKind::kTransition || frame->kind == FrameKind::kReset) {
        last_sequence_ = frame->sequence;
      }
      frames_.push_back(std::move(frame));
      if (frames_.size() > window_) {
        frames_.pop_front();
        ++first_index_;
      }
      wake.swap(waiters_);
    }
    for (const std::function<void()>& w : wake) w();
  }

  void Shutdown() {
    std::vector<std::function<void()>> wake;
    {
      internal::MutexLock lock(&mu_);
      ended_ = true;
      wake.swap(waiters_);
    }
    for (const std::function<void()>& w : wake) w();
  }

  struct Taken {
    std::vector<FramePtr> frames;
    bool fell_behind = false;  // the cursor left the window
    bool ended = false;        // the feed is gone
  };
  // The frames from the reader's cursor on (at most `max`), advancing it.
  // With none, `wake` is kept and called once the next frame arrives.
  Taken Take(Reader& reader, size_t max, const std::function<void()>& wake) {
    Taken taken;
    internal::MutexLock lock(&mu_);
    if (ended_) {
      taken.ended = true;
      return taken;
    }
    const uint64_t cursor = reader.cursor.load(std::memory_order_relaxed);
    if (cursor < first_index_) {
      taken.fell_behind = true;
      return taken;
    }
    const uint64_t end = first_index_ + frames_.size();
    const uint64_t stop = std::min<uint64_t>(end, cursor + max);
    for (uint64_t i = cursor; i < stop; ++i) taken.frames.push_back(frames_[i - first_index_]);
    reader.cursor.store(stop, std::memory_order_release);
    if (taken.frames.empty()) waiters_.push_back(wake);
    return taken;
  }

  // Where a stream starts: after the frame `last_event_id` names, when the
  // window still holds everything after it; else at the end, and *reset
  // then holds the reset frame to send first (none without an id).
  uint64_t StartCursor(std::string_view last_event_id, std::string* reset) {
    internal::MutexLock lock(&mu_);
    const uint64_t end = first_index_ + frames_.size();
    if (last_event_id.empty()) return end;
    if (std::optional<uint64_t> after = Resume(last_event_id)) return *after;
    *reset = ResetText(epoch_, last_sequence_);
    return end;
  }

  // Counts a stream in, unless max_streams are open.
  bool Register(bool family) {
    if (streams_.fetch_add(1, std::memory_order_acq_rel) >= max_streams_) {
      streams_.fetch_sub(1, std::memory_order_acq_rel);
      return false;
    }
    if (family) family_streams_.fetch_add(1, std::memory_order_seq_cst);
    return true;
  }
  void Unregister(bool family) {
    streams_.fetch_sub(1, std::memory_order_acq_rel);
    if (family) family_streams_.fetch_sub(1, std::memory_order_seq_cst);
  }
  size_t streams() const { return streams_.load(std::memory_order_acquire); }
  bool family_streams() const { return family_streams_.load(std::memory_order_seq_cst) > 0; }

  // Counts `reader` too slow, once; true the first time.
  bool MarkTooSlow(Reader& reader) {
    if (reader.too_slow.exchange(true, std::memory_order_acq_rel)) return false;
    slow_disconnects_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  // From Start on, the ticker watches the stream's cursor.
  void Watch(const std::shared_ptr<Reader>& reader) {
    internal::MutexLock lock(&mu_);
    readers_.push_back(reader);
  }

  // Cuts the connections of the streams the window left behind: a client
  // that stopped reading has a write pending forever, so its stream never
  // asks for frames again to learn it itself.
  void CutReadersLeftBehind() {
    std::vector<std::shared_ptr<Reader>> behind;
    {
      internal::MutexLock lock(&mu_);
      size_t live = 0;
      for (size_t i = 0; i < readers_.size(); ++i) {
        std::shared_ptr<Reader> reader = readers_[i].lock();
        if (reader == nullptr) continue;
        if (reader->cursor.load(std::memory_order_acquire) < first_index_) {
          behind.push_back(reader);
          continue;  // cut: no longer watched
        }
        // Never move an entry onto itself: a self-moved weak_ptr is empty.
        if (live != i) readers_[live] = std::move(readers_[i]);
        ++live;
      }
      readers_.resize(live);
    }
    for (const std::shared_ptr<Reader>& reader : behind) {
      if (MarkTooSlow(*reader)) reader->cut();
    }
  }
  uint64_t slow_disconnects() const { return slow_disconnects_.load(std::memory_order_relaxed); }

  static std::string ResetText(uint64_t epoch, uint64_t sequence) {
    return absl::StrCat("event: reset\nid: ", EventId(epoch, sequence),
                        "\ndata: {\"sequence\":", sequence, "}\n\n");
  }

 private:
  // The index of the first frame after the one `id` names, if every frame
  // after it is still in the window.
  std::optional<uint64_t> Resume(std::string_view id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const size_t dash = id.find('-');
    uint64_t epoch = 0, sequence = 0;
    if (dash == id.npos || !absl::SimpleHexAtoi(wire::Sv(id.substr(0, dash)), &epoch) ||
        !absl::SimpleAtoi(wire::Sv(id.substr(dash + 1)), &sequence) || epoch != epoch_ ||
        sequence > last_sequence_) {
      return std::nullopt;
    }
    // The first frame that came after `sequence`: the window's sequences
    // never decrease (a progress frame carries the one before it).
    auto after = std::find_if(frames_.begin(), frames_.end(), [sequence](const FramePtr& f) {
      return (f->kind == FrameKind::kTransition || f->kind == FrameKind::kReset) &&
             f->sequence > sequence;
    });
    // Complete only if the window reaches back to `sequence` itself: its
    // first frame is that event or an earlier one.
    const bool reaches_back =
        first_index_ == 0 || std::any_of(frames_.begin(), after, [sequence](const FramePtr& f) {
          return f->kind == FrameKind::kTransition && f->sequence == sequence;
        });
    if (!reaches_back) return std::nullopt;
    return first_index_ + static_cast<uint64_t>(after - frames_.begin());
  }

  const size_t window_;
  const size_t max_streams_;
  const uint64_t epoch_;
  internal::Mutex mu_;
  std::deque<FramePtr> frames_ ABSL_GUARDED_BY(mu_);
  uint64_t first_index_ ABSL_GUARDED_BY(mu_) = 0;  // the index of frames_[0]
  uint64_t last_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::function<void()>> waiters_ ABSL_GUARDED_BY(mu_);
  std::vector<std::weak_ptr<Reader>> readers_ ABSL_GUARDED_BY(mu_);
  std::atomic<size_t> streams_{0};
  std::atomic<size_t> family_streams_{0};
  std::atomic<uint64_t> slow_disconnects_{0};
};

// ---- A stream ---------------------------------------------------------------------------

namespace {

class Stream final : public StreamBody {
 public:
  Stream(std::shared_ptr<EventFeed::Core> core, StreamFilter filter,
         absl::flat_hash_set<JobId> family, uint64_t cursor, std::string first)
      : core_(std::move(core)),
        filter_(std::move(filter)),
        family_(std::move(family)),
        reader_(std::make_shared<EventFeed::Reader>()),
        first_(std::move(first)) {
    reader_->cursor.store(cursor, std::memory_order_relaxed);
  }

  ~Stream() override { Closed(); }

  void Start(std::function<void()> wake, std::function<void()> cut) override {
    wake_ = std::move(wake);
    reader_->cut = std::move(cut);
    core_->Watch(reader_);
  }

  bool Next(std::string* out) override {
    if (closed_) return false;
    if (!first_.empty()) out->swap(first_);
    while (out->size() < kMaxWriteBytes) {
      EventFeed::Core::Taken taken = core_->Take(*reader_, 256, wake_);
      if (taken.ended) return false;
      if (taken.fell_behind) {
        core_->MarkTooSlow(*reader_);
        return false;
      }
      if (taken.frames.empty()) break;  // waiting: Take kept wake_
      for (const FramePtr& frame : taken.frames) {
        if (Wants(*frame)) out->append(frame->text);
      }
    }
    return true;
  }

  void Closed() override {
    if (closed_) return;
    closed_ = true;
    core_->Unregister(filter_.job.has_value());
  }

 private:
  bool Wants(const Frame& frame) {
    if (frame.team.empty()) return true;  // reset, keep-alive
    if (frame.team != filter_.team) return false;
    if (filter_.batch && frame.batch != filter_.batch) return false;
    if (!filter_.job || family_.contains(frame.job)) return true;
    for (const JobId& link : frame.links) {
      if (family_.contains(link)) {
        family_.insert(frame.job);  // it joined the family
        return true;
      }
    }
    return false;
  }

  const std::shared_ptr<EventFeed::Core> core_;
  const StreamFilter filter_;
  absl::flat_hash_set<JobId> family_;
  const std::shared_ptr<EventFeed::Reader> reader_;
  std::string first_;  // what goes before the frames: retry, and reset or nothing
  std::function<void()> wake_;
  bool closed_ = false;
};

// `time` is event.time formatted.
FramePtr ProgressFrame(const TransitionEvent& event, std::string_view time) {
  auto frame = std::make_shared<Frame>();
  frame->kind = FrameKind::kProgress;
  frame->sequence = event.sequence;
  frame->team = event.team;
  frame->batch = event.batch_id;
  frame->job = event.job_id;
  // Six significant digits: the float a worker's report is kept as, without
  // the noise of widening it (16.6667, not 16.66666603088379).
  frame->text =
      absl::StrCat("event: progress\ndata: {\"jobId\":\"", event.job_id.ToString(),
                   "\",\"batchId\":", QuotedOrNull(event.batch_id),
                   ",\"progress\":", event.progress, ",\"time\":\"", wire::Sv(time), "\"}\n\n");
  return frame;
}

}  // namespace

// ---- EventFeed --------------------------------------------------------------------------

EventFeed::EventFeed(Engine* engine, EventFeedOptions options)
    : engine_(engine),
      options_(std::move(options)),
      core_(std::make_shared<Core>(options_.window, options_.max_streams,
                                   absl::Uniform<uint64_t>(absl::BitGen(), 1, uint64_t{1} << 48))),
      last_keep_alive_(options_.clock->Now()) {
  SubscribeOptions subscribe;
  subscribe.max_queued = kSubscriptionQueue;
  subscribe.progress = true;
  subscription_ =
      engine_->Subscribe([this](const TransitionEvent& event) { OnEvent(event); }, subscribe);
  ticker_ = std::thread(&EventFeed::Tick, this);
}

EventFeed::~EventFeed() {
  {
    internal::MutexLock lock(&tick_mu_);
    stopping_ = true;
  }
  tick_cv_.SignalAll();
  ticker_.join();
  subscription_.Stop();
  core_->Shutdown();
}

size_t EventFeed::open_streams() const { return core_->streams(); }
uint64_t EventFeed::slow_disconnects() const { return core_->slow_disconnects(); }

absl::StatusOr<std::shared_ptr<StreamBody>> EventFeed::Open(const StreamFilter& filter,
                                                            std::string_view last_event_id) {
  const bool family = filter.job.has_value();
  if (!core_->Register(family)) {
    return absl::UnavailableError(
        absl::StrCat("too many event streams are open (", options_.max_streams, ")"));
  }
  // Counted in before the family is read, so that a job submitted after the
  // read arrives with its links (see OnEvent).
  auto refuse = [&](absl::Status status) {
    core_->Unregister(family);
    return status;
  };
  absl::flat_hash_set<JobId> members;
  if (filter.batch) {
    if (absl::StatusOr<BatchCounts> batch = engine_->GetBatchCounts(filter.team, *filter.batch);
        !batch.ok()) {
      return refuse(batch.status());
    }
  }
  if (filter.job) {
    absl::StatusOr<std::vector<Job>> jobs = engine_->GetFamily(filter.team, *filter.job);
    if (!jobs.ok()) return refuse(jobs.status());
    for (const Job& job : *jobs) members.insert(job.id);
  }
  std::string first(kStreamStart);
  std::string reset;
  const uint64_t cursor = core_->StartCursor(last_event_id, &reset);
  first += reset;
  return std::make_shared<Stream>(core_, filter, std::move(members), cursor, std::move(first));
}

void EventFeed::OnEvent(const TransitionEvent& event) {
  if (event.cause == TransitionCause::kProgress) {
    internal::MutexLock lock(&progress_mu_);
    Progress& progress = progress_[event.job_id];
    const absl::Time now = options_.clock->Now();
    if (now - progress.last_sent >= options_.progress_interval) {
      progress.last_sent = now;
      progress.held.reset();
      core_->Append(ProgressFrame(event, Stamp(event.time)));
    } else {
      progress.held = event;  // the latest wins; Tick sends it
    }
    return;
  }
  // The subscription dropped events (its queue was full): no stream can be
  // continued; each is told to re-read.
  if (last_sequence_ != 0 && event.sequence != last_sequence_ + 1) {
    auto reset = std::make_shared<Frame>();
    reset->kind = FrameKind::kReset;
    reset->sequence = event.sequence - 1;
    reset->text = Core::ResetText(core_->epoch(), reset->sequence);
    core_->Append(std::move(reset));
  }
  last_sequence_ = event.sequence;
  if (IsTerminal(event.to)) {
    internal::MutexLock lock(&progress_mu_);
    progress_.erase(event.job_id);
  }

  auto frame = std::make_shared<Frame>();
  frame->kind = FrameKind::kTransition;
  frame->sequence = event.sequence;
  frame->team = event.team;
  frame->batch = event.batch_id;
  frame->job = event.job_id;
  if (event.cause == TransitionCause::kSubmitted && core_->family_streams()) {
    if (absl::StatusOr<Job> job = engine_->Get(event.team, event.job_id); job.ok()) {
      if (job->parent_id) frame->links.push_back(*job->parent_id);
      frame->links.insert(frame->links.end(), job->depends_on.begin(), job->depends_on.end());
    }
  }
  const std::string from =
      event.from ? absl::StrCat("\"", wire::Sv(StateName(*event.from)), "\"") : "null";
  frame->text = absl::StrCat(
      "event: transition\nid: ", EventId(core_->epoch(), event.sequence),
      "\ndata: {\"sequence\":", event.sequence, ",\"jobId\":\"", event.job_id.ToString(),
      "\",\"batchId\":", QuotedOrNull(event.batch_id), ",\"from\":", from, ",\"to\":\"",
      wire::Sv(StateName(event.to)), "\",\"cause\":\"", wire::Sv(TransitionCauseName(event.cause)),
      "\",\"relatedJobId\":", QuotedOrNull(event.related_job), ",\"time\":\"", Stamp(event.time),
      "\"}\n\n");
  core_->Append(std::move(frame));
}

const std::string& EventFeed::Stamp(absl::Time time) {
  // Events come in bursts within one millisecond: format each once.
  const int64_t ms = absl::ToUnixMillis(time);
  if (ms != stamp_ms_) {
    stamp_ms_ = ms;
    stamp_ = FormatTimestamp(time);
  }
  return stamp_;
}

void EventFeed::Tick() {
  internal::MutexLock lock(&tick_mu_);
  while (!stopping_) {
    tick_cv_.WaitFor(&tick_mu_, absl::ToChronoNanoseconds(kTickInterval),
                     [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(tick_mu_) { return stopping_; });
    if (stopping_) return;
    const absl::Time now = options_.clock->Now();
    {
      internal::MutexLock progress_lock(&progress_mu_);
      for (auto it = progress_.begin(); it != progress_.end();) {
        Progress& progress = it->second;
        if (now - progress.last_sent < options_.progress_interval) {
          ++it;
        } else if (progress.held) {
          progress.last_sent = now;
          core_->Append(ProgressFrame(*progress.held, FormatTimestamp(progress.held->time)));
          progress.held.reset();
          ++it;
        } else {
          progress_.erase(it++);  // quiet for an interval: forgotten
        }
      }
    }
    core_->CutReadersLeftBehind();
    if (now - last_keep_alive_ >= options_.keep_alive) {
      last_keep_alive_ = now;
      auto frame = std::make_shared<Frame>();
      frame->text = std::string(kKeepAliveFrame);
      core_->Append(std::move(frame));
    }
  }
}

}  // namespace cascade::server
