// Copyright 2026 The Cascade Authors.
//
// api_fuzzer: a libFuzzer target for cascade-server's request handler
// (server/api.h), checking contract §9: whatever arrives, however broken, the
// process neither crashes nor changes state because of it. docs/fuzzing.md
// says how to run it.
//
// An input is up to kMaxRequestsPerInput requests separated by a line "==":
//
//   POST /api/v2/jobs/{job2}/finish      <- METHOD SP TARGET
//   worker                               <- who calls (see below)
//   {"lease": "{lease2}"}                <- the body: the rest of the request
//   ==
//   TICK 5                               <- advance the clock 5 s, run due work
//
// The second line picks the Authorization header by its first character:
// 'c' team-a's client token, 'o' team-b's ("other"), 'w' the worker token,
// 'n' or an empty line none; any other line is sent verbatim as the header.
// 'v' and 'u' send team-a's and team-b's nexrender v1 secret instead
// (`nexrender-secret`, with `nexrender-name: fuzz-node`), for the /api/v1
// routes (server/v1_api.h).
//
// One engine and Api serve input after input (rebuilt every kResetEvery
// inputs to bound memory), so later inputs act on the jobs earlier ones
// created. Placeholders in the target and the body name what earlier answers
// returned: {job}, {batch}, {lease}, {leased} (the job of that lease) and
// {delivery} (a dead letter), optionally with a digit: {job3} is the fourth
// newest job id seen. With none recorded yet, a well-formed unknown one.
// CASCADE_FUZZ_FRESH=1 in the environment rebuilds the engine before every
// input instead, to check whether a reproducer stands on its own;
// CASCADE_FUZZ_TRACE=1 prints each request and the start of its answer.
//
// After every request the harness abort()s, naming the broken rule, when:
//   - the status is not one the API may answer (no 5xx, ever);
//   - a JSON answer does not parse (Boost.JSON, which also checks UTF-8),
//     a 4xx answer is not a JSON object with "error" (or "errors"), a 204
//     has a body,
//     or a header holds CR, LF or NUL;
//   - a 4xx answer, or any GET but a v1 pickup (which claims), changed the state: the engine's job
//   count,
//     its webhook outbox, or the view (for both teams) of any job or batch
//     whose id the request mentions;
//   - a client's answer mentions a job or batch of the other team that this
//     team never named itself (contract §9: other teams' jobs do not exist;
//     a v1 secret is also a worker, whose pickups serve the whole farm, so
//     its answers are not checked);
//   - a 201 creates an id that already existed.

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "boost/json.hpp"
#include "cascade/cascade.h"
#include "cascade/testing/fake_transport.h"
#include "server/api.h"
#include "wire/job_json.h"
#include "wire/json.h"
#include "wire/strings.h"

namespace cascade::fuzz {
namespace {

namespace json = boost::json;
using server::Api;
using server::ApiOptions;
using server::Request;
using server::Response;

constexpr char kClientA[] = "client-token-a";
constexpr char kClientB[] = "client-token-b";
constexpr char kWorker[] = "worker-token";
constexpr char kTeamA[] = "team-a";
constexpr char kTeamB[] = "team-b";
constexpr char kV1SecretA[] = "v1-secret-a";
constexpr char kV1SecretB[] = "v1-secret-b";
// nexrender-server's text for a missing or wrong secret (a 403 in text).
constexpr std::string_view kWrongSecret =
    "Wrong or no authentication secret provided. Please check the \"nexrender-secret\" header.";

constexpr std::string_view kSeparator = "\n==\n";
constexpr int kMaxRequestsPerInput = 8;
constexpr uint64_t kResetEvery = 10'000;
// Bodies over this get 413; small enough that inputs of -max_len reach it.
constexpr size_t kMaxBodyBytes = 8 << 10;
// Well-formed ids nothing has: what a placeholder becomes before its kind
// has been seen.
constexpr char kUnknownId[] = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
constexpr char kUnknownLease[] = "0000000000000000";
constexpr char kUnknownDelivery[] = "no-such-delivery";
// Every status the API may answer (contract §9, §11): no 5xx.
constexpr int kApiStatuses[] = {200, 201, 204, 400, 401, 403, 404, 405, 409, 413, 429};
// The ids whose views one request snapshots, at most.
constexpr size_t kMaxNamedIds = 8;

std::string_view View(const json::string& s) { return {s.data(), s.size()}; }

// ---- Recent ids --------------------------------------------------------------------

// The last kSize distinct values of one kind, newest first by Get(0).
class Ring {
 public:
  static constexpr size_t kSize = 16;

  void Push(std::string_view value) {
    if (count_ > 0 && Get(0) == value) return;
    next_ = (next_ + 1) % kSize;
    values_[next_].assign(value.data(), value.size());
    if (count_ < kSize) ++count_;
  }
  // The k-th newest (wrapping around what is there), or `fallback`.
  std::string_view Get(size_t k, std::string_view fallback = {}) const {
    if (count_ == 0) return fallback;
    return values_[(next_ + kSize - k % count_) % kSize];
  }
  void Clear() { count_ = 0; }

 private:
  std::string values_[kSize];
  size_t next_ = 0;
  size_t count_ = 0;
};

bool IsUlidChar(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'); }

// Every run of exactly 26 ULID characters in `text` that parses as a ULID.
template <typename F>
void ForEachUlid(std::string_view text, F&& f) {
  size_t i = 0;
  while (i < text.size()) {
    if (!IsUlidChar(text[i])) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < text.size() && IsUlidChar(text[end])) ++end;
    if (end - i == 26 && JobId::IsValid(text.substr(i, 26))) f(text.substr(i, 26));
    i = end;
  }
}

// ---- The harness -------------------------------------------------------------------

enum class Caller { kNone, kClientA, kClientB, kWorker, kV1A, kV1B, kRaw };

class Harness {
 public:
  Harness() { Reset(); }

  void Reset() {
    api_.reset();
    engine_.reset();
    clock_ = std::make_unique<ManualClock>();
    transport_ = std::make_unique<testing::FakeTransport>(clock_.get());
    transport_->SetDefault(500);  // every delivery fails: dead letters to list and replay
    Options options;
    options.clock = clock_.get();
    options.id_seed = 1;
    options.webhooks.transport = transport_.get();
    options.webhooks.max_retries = 1;
    // As cascade-server picks (priority first), with short retry waits and
    // time limits so that a run reaches them (contract §14).
    options.pickup_order = SortOrder::kPriority;
    options.retry_backoff = absl::Seconds(1);
    options.render_timeout = absl::Seconds(90);
    absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(options);
    if (!engine.ok()) {
      std::fprintf(stderr, "api_fuzzer: Engine::Create: %s\n", engine.status().ToString().c_str());
      std::abort();
    }
    engine_ = *std::move(engine);
    ApiOptions api;
    api.client_tokens = {{kClientA, kTeamA}, {kClientB, kTeamB}};
    api.worker_tokens = {kWorker};
    api.rate_limit = 0;
    api.max_body_bytes = kMaxBodyBytes;
    api.clock = clock_.get();
    api.v1_secrets = {{kV1SecretA, kTeamA}, {kV1SecretB, kTeamB}};
    api.v1_lease = absl::Seconds(120);
    api_ = std::make_unique<Api>(engine_.get(), api);
    for (Ring* ring : {&jobs_, &batches_, &leases_, &leased_, &deliveries_}) ring->Clear();
    owner_.clear();
    mentioned_[0].clear();
    mentioned_[1].clear();
  }

  void RunInput(std::string_view input) {
    if (fresh_ || ++inputs_ % kResetEvery == 0) Reset();
    for (int n = 0; n < kMaxRequestsPerInput && !input.empty(); ++n) {
      const size_t sep = input.find(kSeparator);
      RunOne(input.substr(0, sep));
      input = sep == input.npos ? std::string_view() : input.substr(sep + kSeparator.size());
    }
  }

  bool fresh_ = false;  // a new engine for every input
  bool trace_ = false;  // print each request and its answer

 private:
  // The state a refused request must leave as it was.
  struct Snapshot {
    size_t jobs = 0;
    OutboxCounts outbox;
    std::vector<std::string> views;  // of the ids the request names
  };

  void RunOne(std::string_view text) {
    const size_t eol1 = text.find('\n');
    const std::string_view first = text.substr(0, eol1);
    std::string_view rest = eol1 == text.npos ? std::string_view() : text.substr(eol1 + 1);
    if (first.substr(0, 4) == "TICK") return Tick(first.substr(4));
    const size_t eol2 = rest.find('\n');
    const std::string_view who = rest.substr(0, eol2);
    const std::string_view body = eol2 == rest.npos ? std::string_view() : rest.substr(eol2 + 1);

    Request request;
    const size_t space = first.find(' ');
    request.method = std::string(first.substr(0, space));
    request.target = space == first.npos ? std::string() : Substitute(first.substr(space + 1));
    request.body = Substitute(body);
    Caller caller = Caller::kRaw;
    std::string auth;
    switch (who.empty() ? 'n' : who[0]) {
      case 'c':
        caller = Caller::kClientA;
        auth = absl::StrCat("Bearer ", kClientA);
        break;
      case 'o':
        caller = Caller::kClientB;
        auth = absl::StrCat("Bearer ", kClientB);
        break;
      case 'w':
        caller = Caller::kWorker;
        auth = absl::StrCat("Bearer ", kWorker);
        break;
      case 'n':
        caller = Caller::kNone;
        break;
      case 'v':
      case 'u':
        caller = who[0] == 'v' ? Caller::kV1A : Caller::kV1B;
        request.headers.emplace_back("nexrender-secret", who[0] == 'v' ? kV1SecretA : kV1SecretB);
        request.headers.emplace_back("nexrender-name", "fuzz-node");
        break;
      default:
        auth = std::string(who);
        caller = CallerOf(auth);
        break;
    }
    if (!auth.empty()) request.headers.emplace_back("authorization", std::move(auth));

    // What the request mentions: a client's own names are never a leak, and
    // a worker writes text that either team may read back.
    std::vector<std::string> named;
    // A v1 secret is a worker too (its reports write text either team reads).
    const bool worker =
        caller == Caller::kWorker || caller == Caller::kV1A || caller == Caller::kV1B;
    auto mention = [&](std::string_view id) {
      if (caller == Caller::kClientA || worker) mentioned_[0].emplace(id);
      if (caller == Caller::kClientB || worker) mentioned_[1].emplace(id);
      if (named.size() < kMaxNamedIds) named.emplace_back(id);
    };
    ForEachUlid(request.target, mention);
    ForEachUlid(request.body, mention);

    const Snapshot before = Take(named);
    const Response response = api_->Handle(request);
    if (trace_) {
      std::fprintf(stderr, "api_fuzzer: %s %s -> %d %s\n",
                   absl::CHexEscape(request.method.substr(0, 32)).c_str(),
                   absl::CHexEscape(request.target.substr(0, 200)).c_str(), response.status,
                   absl::CHexEscape(response.body.substr(0, 200)).c_str());
    }
    Check(request, response, caller, before, named);
    Harvest(request, response, caller);
  }

  // "TICK N": N seconds (at most a day) pass, in at most 16 steps, with the
  // engine's due work (lease expiry, abort grace, webhook attempts) after
  // each. Time passing creates and deletes no job.
  void Tick(std::string_view arg) {
    while (!arg.empty() && arg.front() == ' ') arg.remove_prefix(1);
    int64_t seconds = 0;
    if (!absl::SimpleAtoi(wire::Sv(arg), &seconds) || seconds < 0) seconds = 0;
    seconds = std::min<int64_t>(seconds, 86400);
    const size_t jobs = engine_->JobCount();
    const int64_t steps = std::min<int64_t>(seconds, 16);
    engine_->RunDueWork();
    for (int64_t i = 0; i < steps; ++i) {
      clock_->Advance(absl::Seconds(seconds / steps + (i < seconds % steps ? 1 : 0)));
      engine_->RunDueWork();
    }
    if (engine_->JobCount() != jobs) {
      std::fprintf(stderr, "api_fuzzer: VIOLATION: TICK %lld changed the job count %zu -> %zu\n",
                   static_cast<long long>(seconds), jobs, engine_->JobCount());
      std::abort();
    }
  }

  // Who a verbatim Authorization header is, by Api's own reading of it.
  static Caller CallerOf(std::string_view header) {
    if (header.size() <= 7 || !absl::EqualsIgnoreCase(wire::Sv(header.substr(0, 7)), "bearer ")) {
      return Caller::kRaw;
    }
    const std::string_view token = header.substr(7);
    if (token == kClientA) return Caller::kClientA;
    if (token == kClientB) return Caller::kClientB;
    if (token == kWorker) return Caller::kWorker;
    return Caller::kRaw;
  }

  // Replaces the placeholders of the file comment in `in`.
  std::string Substitute(std::string_view in) const {
    std::string out;
    out.reserve(in.size());
    size_t i = 0;
    while (i < in.size()) {
      const size_t open = in.find('{', i);
      if (open == in.npos) {
        out.append(in.substr(i));
        break;
      }
      out.append(in.substr(i, open - i));
      i = open + 1;
      const size_t close = in.substr(open, 12).find('}');
      if (close == in.npos) {
        out.push_back('{');
        continue;
      }
      std::string_view name = in.substr(open + 1, close - 1);
      size_t k = 0;
      if (!name.empty() && std::isdigit(static_cast<unsigned char>(name.back()))) {
        k = static_cast<size_t>(name.back() - '0');
        name.remove_suffix(1);
      }
      std::string_view value;
      if (name == "job") {
        value = jobs_.Get(k, kUnknownId);
      } else if (name == "batch") {
        value = batches_.Get(k, kUnknownId);
      } else if (name == "lease") {
        value = leases_.Get(k, kUnknownLease);
      } else if (name == "leased") {
        value = leased_.Get(k, kUnknownId);
      } else if (name == "delivery") {
        value = deliveries_.Get(k, kUnknownDelivery);
      } else {
        out.push_back('{');
        continue;
      }
      out.append(value);
      i = open + close + 1;
    }
    return out;
  }

  // The job and batch views, for both teams, of each id in `named`.
  Snapshot Take(const std::vector<std::string>& named) const {
    Snapshot s;
    s.jobs = engine_->JobCount();
    s.outbox = engine_->GetOutboxCounts();
    for (const std::string& text : named) {
      const JobId id = JobId::Parse(text).value();
      for (const char* team : {kTeamA, kTeamB}) {
        absl::StatusOr<Job> job = engine_->Get(team, id);
        s.views.push_back(job.ok() ? wire::JobToJsonText(*job)
                                   : std::string(job.status().message()));
        absl::StatusOr<BatchView> batch = engine_->GetBatch(team, id);
        s.views.push_back(batch.ok() ? wire::WriteJson(wire::BatchStatusResponseToJson(*batch))
                                     : std::string(batch.status().message()));
      }
    }
    return s;
  }

  void Check(const Request& request, const Response& response, Caller caller,
             const Snapshot& before, const std::vector<std::string>& named) {
    auto fail = [&](std::string_view what) { Violation(request, response, what); };
    if (std::find(std::begin(kApiStatuses), std::end(kApiStatuses), response.status) ==
        std::end(kApiStatuses)) {
      fail("a status the API never answers");
    }
    for (const auto& [name, value] : response.headers) {
      if (name.find_first_of(std::string_view("\r\n\0", 3)) != name.npos ||
          value.find_first_of(std::string_view("\r\n\0", 3)) != value.npos) {
        fail("a header holds CR, LF or NUL");
      }
    }
    if (response.status == 204 && !response.body.empty()) fail("a 204 with a body");
    json::value body;
    const bool is_json = response.content_type.starts_with("application/json");
    if (is_json) {
      json::parse_options options;
      options.max_depth = 4 * wire::kMaxJsonDepth;  // answers nest request bodies
      boost::system::error_code ec;
      body = json::parse(response.body, ec, {}, options);
      if (ec) fail(absl::StrCat("the JSON answer does not parse: ", ec.message()));
    }
    const bool refused = response.status >= 400;
    // ErrorResponse and ValidationErrorResponse have "error"; the
    // BatchCreationResponse of a 400 POST /batches "errors".
    const bool v1 = request.target.starts_with("/api/v1/") || request.target == "/api/v1";
    // The v1 bridge's 403 is nexrender-server's text.
    const bool v1_forbidden = v1 && response.status == 403 && response.body == kWrongSecret;
    if (refused && !v1_forbidden &&
        (!is_json || !body.is_object() ||
         !(body.as_object().contains("error") || body.as_object().contains("errors")))) {
      fail("a 4xx answer that is not a JSON object with \"error\" or \"errors\"");
    }

    const bool pickup = v1 && request.target.starts_with("/api/v1/jobs/pickup");
    const bool read = (request.method == "GET" || request.method == "HEAD") && !pickup;
    // A v1 worker's report on a job whose abort was asked for is refused
    // (409: stop rendering), and the bridge acknowledges the abort for it.
    const bool v1_abort_acknowledged = v1 && request.method == "PUT" && response.status == 409 &&
                                       absl::StrContains(response.body, "was aborted");
    if ((refused && !v1_abort_acknowledged) || read) {
      const Snapshot after = Take(named);
      if (after.jobs != before.jobs) {
        fail(absl::StrCat(refused ? "a refused request" : "a GET", " changed the job count ",
                          before.jobs, " -> ", after.jobs));
      }
      if (after.outbox.pending != before.outbox.pending ||
          after.outbox.in_flight != before.outbox.in_flight ||
          after.outbox.dead != before.outbox.dead) {
        fail(absl::StrCat(refused ? "a refused request" : "a GET",
                          " changed the webhook outbox (pending/in flight/dead) ",
                          before.outbox.pending, "/", before.outbox.in_flight, "/",
                          before.outbox.dead, " -> ", after.outbox.pending, "/",
                          after.outbox.in_flight, "/", after.outbox.dead));
      }
      for (size_t i = 0; i < after.views.size(); ++i) {
        if (after.views[i] != before.views[i]) {
          fail(absl::StrCat(refused ? "a refused request" : "a GET", " changed ", named[i / 4],
                            ":\n  before: ", before.views[i].substr(0, 400),
                            "\n  after:  ", after.views[i].substr(0, 400)));
        }
      }
    }

    // Teams never see each other's jobs.
    if (caller == Caller::kClientA || caller == Caller::kClientB) {
      const int self = caller == Caller::kClientA ? 0 : 1;
      ForEachUlid(response.body, [&](std::string_view id) {
        auto it = owner_.find(wire::Sv(id));
        if (it != owner_.end() && it->second == 1 - self &&
            !mentioned_[self].contains(wire::Sv(id))) {
          fail(absl::StrCat("the answer to ", self == 0 ? kTeamA : kTeamB,
                            " shows the other team's ", wire::Sv(id)));
        }
      });
    }
  }

  // Records the ids an answer hands out, for placeholders and for the checks.
  void Harvest(const Request& request, const Response& response, Caller caller) {
    if (response.status >= 300 || !response.content_type.starts_with("application/json")) return;
    boost::system::error_code ec;
    json::parse_options options;
    options.max_depth = 4 * wire::kMaxJsonDepth;
    const json::value body = json::parse(response.body, ec, {}, options);
    if (ec) return;
    const bool created =
        response.status == 201 && (caller == Caller::kClientA || caller == Caller::kClientB);
    size_t budget = 4096;  // nodes visited: lists may hold a thousand jobs
    Walk(body, created ? (caller == Caller::kClientA ? 0 : 1) : -1, budget, request, response);
    // A v1 creation answers 200 with the job, its id as "uid" (the rest is
    // the body as sent, whose "id"s are not new).
    const bool v1_created =
        response.status == 200 && request.method == "POST" &&
        (request.target == "/api/v1/jobs" || request.target == "/api/v1/jobs/") &&
        (caller == Caller::kV1A || caller == Caller::kV1B);
    if (const json::object* o = body.if_object(); v1_created && o != nullptr) {
      if (const json::value* uid = o->if_contains("uid"); uid != nullptr && uid->is_string()) {
        auto [it, inserted] =
            owner_.try_emplace(std::string(View(uid->as_string())), caller == Caller::kV1A ? 0 : 1);
        if (!inserted) {
          Violation(request, response, absl::StrCat("a v1 creation with an old id ", it->first));
        }
      }
    }
    // A claim: {"job": {"id"}, "lease": {"token"}}; a heartbeat says the same.
    if (const json::object* o = body.if_object()) {
      const json::value* lease = o->if_contains("lease");
      const json::value* job = o->if_contains("job");
      if (lease != nullptr && job != nullptr && lease->is_object() && job->is_object()) {
        const json::value* token = lease->as_object().if_contains("token");
        const json::value* id = job->as_object().if_contains("id");
        if (token != nullptr && id != nullptr && token->is_string() && id->is_string()) {
          leases_.Push(View(token->as_string()));
          leased_.Push(View(id->as_string()));
        }
      }
    }
  }

  // `creator`: the team (0, 1) whose 201 this is, whose new ids to record;
  // -1 for other answers.
  void Walk(const json::value& v, int creator, size_t& budget, const Request& request,
            const Response& response) {
    if (budget == 0) return;
    --budget;
    if (const json::array* a = v.if_array()) {
      for (const json::value& item : *a) Walk(item, creator, budget, request, response);
      return;
    }
    const json::object* o = v.if_object();
    if (o == nullptr) return;
    for (const json::key_value_pair& kv : *o) {
      const std::string_view key(kv.key().data(), kv.key().size());
      if (kv.value().is_string()) {
        const std::string_view text = View(kv.value().as_string());
        const bool job = (key == "id" || key == "uid") && JobId::IsValid(text);
        const bool batch = key == "batchId" && JobId::IsValid(text);
        if (job) jobs_.Push(text);
        if (batch) batches_.Push(text);
        if (key == "deliveryId") deliveries_.Push(text);
        if (creator >= 0 && (job || batch)) {
          auto [it, inserted] = owner_.try_emplace(std::string(text), creator);
          if (!inserted)
            Violation(request, response, absl::StrCat("201 with an old id ", wire::Sv(text)));
        }
      } else {
        // A created job's template id is not a new id: only the answer's own
        // "id"s are, which sit in the response, its children and its jobs.
        const bool creation_tree = key == "children" || key == "jobs";
        Walk(kv.value(), creation_tree ? creator : -1, budget, request, response);
      }
    }
  }

  [[noreturn]] static void Violation(const Request& request, const Response& response,
                                     std::string_view what) {
    std::fprintf(stderr,
                 "api_fuzzer: VIOLATION: %.*s\n  request: %s %s\n  body: %s\n"
                 "  answer: %d %s\n  %s\n",
                 static_cast<int>(what.size()), what.data(),
                 absl::CHexEscape(request.method.substr(0, 32)).c_str(),
                 absl::CHexEscape(request.target.substr(0, 400)).c_str(),
                 absl::CHexEscape(request.body.substr(0, 800)).c_str(), response.status,
                 response.content_type.c_str(),
                 absl::CHexEscape(response.body.substr(0, 800)).c_str());
    std::abort();
  }

  std::unique_ptr<ManualClock> clock_;
  std::unique_ptr<testing::FakeTransport> transport_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Api> api_;
  uint64_t inputs_ = 0;

  Ring jobs_, batches_, leases_, leased_, deliveries_;
  // The team (0: team-a, 1: team-b) that created each job and batch id.
  absl::flat_hash_map<std::string, int> owner_;
  // The ids each team has named in a request itself (or a worker wrote).
  absl::flat_hash_set<std::string> mentioned_[2];
};

Harness* TheHarness() {
  static Harness* harness = new Harness();
  return harness;
}

}  // namespace
}  // namespace cascade::fuzz

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  const char* fresh = std::getenv("CASCADE_FUZZ_FRESH");
  const char* trace = std::getenv("CASCADE_FUZZ_TRACE");
  cascade::fuzz::TheHarness()->fresh_ = fresh != nullptr && fresh[0] == '1';
  cascade::fuzz::TheHarness()->trace_ = trace != nullptr && trace[0] == '1';
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cascade::fuzz::TheHarness()->RunInput(
      std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
