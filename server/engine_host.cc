// Copyright 2026 The Cascade Authors.

#include "server/engine_host.h"

#include <chrono>
#include <iostream>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "boost/json.hpp"
#include "server/responses.h"

namespace cascade::server {
namespace {

namespace json = boost::json;

// How often a leader looks at its lease between requests: a lost lease is
// noticed at the next request anyway; this bounds how long a leader that
// nobody asks keeps its engine (and its demo workers' attempts) after.
constexpr absl::Duration kLeaderWatch = absl::Milliseconds(50);
// The longest StepDown waits for requests under way before it takes the
// engine down regardless (they hold it alive; they finish on their own).
constexpr absl::Duration kDrainLimit = absl::Seconds(30);

std::string_view PathOf(std::string_view target) {
  return target.substr(0, std::min(target.find('?'), target.size()));
}

}  // namespace

EngineHost::Serving::~Serving() {
  demo.reset();    // its threads call the engine
  api.reset();     // ends the event streams
  engine.reset();  // closes the store (a leader gives its lease up)
}

EngineHost::EngineHost(EngineHostOptions options)
    : options_(std::move(options)),
      high_availability_(IsPostgresUrl(options_.engine.durability.data_dir)) {}

EngineHost::~EngineHost() { Stop(); }

absl::Status EngineHost::Start() {
  absl::Status first = TryLead();
  if (!high_availability_) return first;
  if (!first.ok() && !absl::IsUnavailable(first)) return first;
  if (first.ok()) {
    Log(absl::StrCat("cascade-server: leading (epoch ", last_epoch_.load(), ")"));
  } else {
    LogStandby(first);
  }
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void EngineHost::Stop() {
  {
    internal::MutexLock lock(&mu_);
    stopping_ = true;
  }
  cv_.SignalAll();
  if (thread_.joinable()) thread_.join();
  single_.reset();           // the last reference: Serving's destructor runs here,
  Publish(nullptr).reset();  // or here
}

std::shared_ptr<EngineHost::Serving> EngineHost::Current() const {
  internal::MutexLock lock(&serving_mu_);
  return serving_;
}

std::shared_ptr<EngineHost::Serving> EngineHost::Publish(std::shared_ptr<Serving> next) {
  internal::MutexLock lock(&serving_mu_);
  serving_.swap(next);
  return next;
}

std::string EngineHost::role() const {
  if (!high_availability_) return "single";
  std::shared_ptr<Serving> serving = Current();
  if (serving == nullptr) return "standby";
  std::optional<LeaderStatus> leader = serving->engine->Leader();
  return leader.has_value() && leader->leader ? "leader" : "standby";
}

absl::Status EngineHost::TryLead() {
  absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(options_.engine);
  if (!engine.ok()) return engine.status();
  auto serving = std::make_shared<Serving>();
  serving->engine = *std::move(engine);
  serving->api = std::make_unique<Api>(serving->engine.get(), options_.api);
  if (options_.demo_workers > 0) {
    DemoWorkerOptions demo;
    demo.workers = options_.demo_workers;
    serving->demo = std::make_unique<DemoWorkers>(serving->engine.get(), demo);
  }
  if (std::optional<LeaderStatus> leader = serving->engine->Leader()) {
    last_epoch_.store(leader->epoch);
    takeovers_.fetch_add(1);
  }
  if (high_availability_) {
    Publish(std::move(serving));
  } else {
    single_ = std::move(serving);  // before any request, for good
  }
  return absl::OkStatus();
}

void EngineHost::StepDown(std::shared_ptr<Serving> serving, const std::string& why) {
  Publish(nullptr);  // new requests get the standby's answer; `serving` keeps it alive
  {
    internal::MutexLock lock(&mu_);
    standby_reason_ = why;
  }
  Log(absl::StrCat("cascade-server: standby: ", why));
  const absl::Time deadline = absl::Now() + kDrainLimit;
  while (serving.use_count() > 1 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  serving.reset();  // or, past the limit, the last request's end does it
}

void EngineHost::Run() {
  for (;;) {
    std::shared_ptr<Serving> serving = Current();
    {
      internal::MutexLock lock(&mu_);
      cv_.WaitFor(
          &mu_,
          absl::ToChronoNanoseconds(serving != nullptr ? kLeaderWatch : options_.standby_poll),
          [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; });
      if (stopping_) return;
    }
    if (serving != nullptr) {
      std::optional<LeaderStatus> leader = serving->engine->Leader();
      if (!leader.has_value() || !leader->leader) {
        StepDown(std::move(serving),
                 absl::StrCat("lost the leader lease (epoch ", leader ? leader->epoch : 0,
                              "); waiting to take over again"));
      }
      continue;
    }
    absl::Status attempt = TryLead();
    if (attempt.ok()) {
      const size_t jobs = Current()->engine->JobCount();
      Log(absl::StrCat("cascade-server: took over as leader (epoch ", last_epoch_.load(), ", ",
                       jobs, jobs == 1 ? " job" : " jobs", " restored)"));
      continue;
    }
    LogStandby(attempt);
  }
}

Response EngineHost::Handle(const Request& request) {
  // Without a URL nothing changes after Start: no lock on this path.
  if (!high_availability_) {
    if (single_ == nullptr) return Error(absl::UnavailableError("the engine did not start"));
    return single_->api->Handle(request);
  }
  std::shared_ptr<Serving> serving = Current();
  if (serving != nullptr) {
    std::optional<LeaderStatus> leader = serving->engine->Leader();
    // Lost, and the thread has not stepped down yet: a standby already.
    if (!leader.has_value() || !leader->leader) return NotLeading(request, /*just_lost=*/true);
  }
  if (serving == nullptr) return NotLeading(request, /*just_lost=*/false);
  Response response = serving->api->Handle(request);
  if (PathOf(request.target) == "/api/v2/metrics" && response.status == 200) {
    response.body += LeaderMetrics(serving);
  }
  return response;
}

Response EngineHost::NotLeading(const Request& request, bool just_lost) const {
  const std::string_view path = PathOf(request.target);
  std::string reason = "lost the leader lease; stepping down";
  if (!just_lost) {
    internal::MutexLock lock(&mu_);
    reason = standby_reason_;
  }
  if (path == "/api/v2/metrics" && request.method == "GET") {
    Response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = LeaderMetrics(nullptr);
    return r;
  }
  if (path == "/api/v2/health" && request.method == "GET") {
    Response r =
        Json(503, json::object{{"status", "standby"}, {"role", "standby"}, {"reason", reason}});
    r.headers.emplace_back("Retry-After", "1");
    return r;
  }
  Response r = Error(absl::UnavailableError(
      absl::StrCat("this cascade-server is a standby: another one leads its database (", reason,
                   "); retry, or ask the leader")));
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

std::string EngineHost::LeaderMetrics(const std::shared_ptr<Serving>& serving) const {
  std::optional<LeaderStatus> leader;
  if (serving != nullptr) leader = serving->engine->Leader();
  const bool leading = leader.has_value() && leader->leader;
  std::string out = absl::StrCat(
      "# HELP cascade_leader 1 while this server holds the database's leader lease, 0 while it "
      "is a standby.\n# TYPE cascade_leader gauge\ncascade_leader ",
      leading ? 1 : 0,
      "\n# HELP cascade_leader_epoch The epoch of the lease this server holds or last held (0: "
      "never).\n# TYPE cascade_leader_epoch gauge\ncascade_leader_epoch ",
      leader.has_value() ? leader->epoch : last_epoch_.load(),
      "\n# HELP cascade_leader_takeovers_total Times this server took the leader lease.\n"
      "# TYPE cascade_leader_takeovers_total counter\ncascade_leader_takeovers_total ",
      takeovers_.load(), "\n");
  if (leading) {
    absl::StrAppend(&out,
                    "# HELP cascade_leader_lease_age_seconds Since the start of the last renewal "
                    "of the lease the database accepted.\n"
                    "# TYPE cascade_leader_lease_age_seconds gauge\n"
                    "cascade_leader_lease_age_seconds ",
                    absl::StrFormat("%.3f", absl::ToDoubleSeconds(leader->lease_age)), "\n");
  }
  return out;
}

void EngineHost::LogStandby(const absl::Status& attempt) {
  const std::string message(attempt.message());
  {
    internal::MutexLock lock(&mu_);
    standby_reason_ = message;
  }
  // "held by X for another 3.1 s" changes at every attempt: the holder is
  // logged once, not a line a second.
  Log(absl::StrCat("cascade-server: standby: ", message.substr(0, message.find(" for another"))));
}

void EngineHost::Log(const std::string& line) {
  {
    internal::MutexLock lock(&mu_);
    if (line == last_log_) return;
    last_log_ = line;
  }
  std::cerr << line << std::endl;
}

}  // namespace cascade::server
