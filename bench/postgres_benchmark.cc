// Copyright 2026 The Cascade Authors.
//
// File: bench/postgres_benchmark.cc
// -----------------------------------------------------------------------------
// Durable, acknowledged job transitions per second through the engine on the
// PostgreSQL store (contract §17, §12: "PostgreSQL store: >= 5k acknowledged
// transitions/s with 64 callers on a local PostgreSQL"), in one program run
// beside the same engine on its SQLite store and beside a PostgreSQL peer
// that commits one transaction per call, so that the ratios are of figures
// taken over the same minutes.
//
// The workload is cascade_durability_bench's (bench/transitions.h): a
// worker's cycle, Claim({}) of the oldest queued leaf job then Finish(id,
// token, {}), 2 transitions in 2 calls, each call answered once its rows are
// durable. T threads (8 or 64) run the cycle at once. items_per_second is
// acknowledged transitions per second over all threads (2 per cycle, wall
// clock); the time column is wall time per cycle over all threads. Before
// the timed loop thread 0 builds the run (below) holding max_iterations x T
// queued leaf jobs, every job the run can claim; the other threads wait at
// Google Benchmark's start barrier meanwhile. Building is neither timed nor
// counted. Every run (every step of Google Benchmark's iteration ramp, every
// repetition, every thread count) gets a NEW DATABASE (CREATE DATABASE
// cascade_bench_<pid>_<n> on the server, dropped afterwards) or, for SQLite,
// a new directory, so no run sees another's rows. The clock is manual (one
// relaxed atomic load, never advanced in the loop): no job lease expires.
//
//   BM_PostgresTransitions/min_time:1.000/real_time/threads:T
//       The engine as Engine::Create makes it with durability.data_dir set to
//       the database's postgresql:// URL (sync kFull: synchronous_commit on,
//       so an acknowledged change is in PostgreSQL's fsynced WAL): the
//       PostgreSQL store, committing the groups of concurrent callers
//       together on its one connection, each commit fenced by the leader
//       lease.
//   BM_SqliteStoreTransitions/min_time:1.000/real_time/threads:T
//       The same, Engine::Create with a data directory under
//       $CASCADE_BENCH_DIR (default: the system temp directory): the SQLite
//       store, FULL (what cascade_durability_bench calls
//       BM_DurableTransitions/sync:2), here with 8 and 64 callers.
//   BM_PostgresPerCallTransitions/min_time:1.000/real_time/threads:T
//       The peer a user would write without group commit: a jobs table in
//       the same PostgreSQL, shaped as the SQLite peer's (bench/
//       sqlite_peer.cc: the same columns and indexes, the index on state
//       being (state, id) here, as SQLite's is implicitly, and a partial
//       index of the queued jobs as PostgreSQL queues have), each thread on a
//       connection of its own, prepared statements, each Claim and each
//       Finish ONE statement and so one transaction, acknowledged when
//       PostgreSQL answers (synchronous_commit on). Claim: UPDATE of the
//       oldest queued row, picked with FOR UPDATE SKIP LOCKED (the usual
//       queue pattern: without it concurrent claimers would queue on one
//       row). Finish: UPDATE of the job's row (state, lease checked), and in
//       the same statement the queueing of its dependents (none here), as
//       the SQLite peer's Finish does. Concurrent connections' commits share
//       WAL flushes inside PostgreSQL (a backend's flush covers every commit
//       record written before it), so this peer is not one fsync per call.
//   BM_PostgresTransitionsObserved/min_time:1.000/real_time/threads:T
//       Diagnostic: BM_PostgresTransitions's engine and store, the store
//       opened with the options Engine::Create gives it
//       (internal::OpenPostgresStore, internal::CreateEngine) so that its
//       StoreStats can be read: groups_per_commit (engine calls per
//       transaction), commits_per_second, commit_interval_us (between the
//       starts of consecutive commits, on the writer thread).
//   BM_PostgresFloorCommit/min_time:1.000/real_time
//       The server's floor: one connection, one autocommitted single-row
//       UPDATE per iteration; a round trip and a WAL flush. The store
//       commits on one connection, one transaction at a time, each at least
//       this long and carrying at most one group per closed-loop caller, so
//       T callers cannot pass T / this latency transitions/s.
//
// Every transitions row also carries, over the timed loop:
//   cpu_cores, user_us_per_transition, sys_us_per_transition,
//   switches_per_transition    this process (callers, the store's threads):
//                              as cascade_durability_bench's
//   machine_cores_busy         the whole machine's busy CPUs (/proc/stat:
//                              not idle, not waiting for I/O), which
//                              includes PostgreSQL's backends, the other
//                              half of the work
//
// PostgreSQL: CASCADE_BENCH_PG_URL names a server (its database
// `postgres`, as a role that may create databases); the program fails at
// once without it. bench/run.sh starts a throwaway local cluster
// (scripts/pg_cluster.sh) and passes its URL. The context names the
// server's version, its settings that matter here, and the file system of
// its data directory.
//
// Goal (contract §12): BM_PostgresTransitions/.../threads:64 >= 5,000 items/s.
//
// Example:
//
//   scripts/pg_cluster.sh start /tmp/pg-bench
//   CASCADE_BENCH_PG_URL=$(cat /tmp/pg-bench/url) build-bench/bench/cascade_postgres_bench
//   CASCADE_BENCH_PG_URL=$(cat /tmp/pg-bench/url) build-bench/bench/cascade_postgres_bench \
//       --benchmark_filter='threads:64'
//   scripts/pg_cluster.sh stop /tmp/pg-bench

#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "bench/bench_common.h"
#include "bench/bench_dir.h"
#include "bench/transitions.h"
#include "benchmark/benchmark.h"
#include "cascade/cascade.h"
#include "engine/engine_impl.h"
#include "engine/store/postgres_store.h"
#include "engine/store/store.h"

namespace cascade {
namespace {

using ::cascade::bench::AtomicClock;
using ::cascade::bench::Die;
using ::cascade::bench::kBatchSize;
using ::cascade::bench::kIdSeed;
using ::cascade::bench::kTransitionsPerCycle;
using ::cascade::bench::NowNanos;
using ::cascade::bench::QueueLeafJobs;
using ::cascade::bench::SetCpuCounters;
using ::cascade::bench::Usage;
using ::cascade::bench::WorkerCycle;

// Half cascade_durability_bench's 2 s: still a few hundred commits at a slow
// disk's 4 ms each, and Google Benchmark's ramp (a fresh database per step)
// overshoots it anyway; bench/run.sh's 3 repetitions of all 9 benchmarks
// then take about 2 minutes.
constexpr double kMinTime = 1.0;
constexpr int64_t kLeaseMillis = 60'000;  // the peer's claim lease, as the engine's default

// ---- libpq ------------------------------------------------------------------

struct ConnDeleter {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
using Conn = std::unique_ptr<PGconn, ConnDeleter>;

struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

[[noreturn]] void DiePg(std::string_view what, std::string_view message) {
  Die(std::string(what).c_str(), absl::InternalError(std::string(message)));
}

Conn Connect(const std::string& url) {
  Conn conn(PQconnectdb(url.c_str()));
  if (conn == nullptr || PQstatus(conn.get()) != CONNECTION_OK) {
    DiePg(absl::StrCat("connecting to ", RedactPostgresUrl(url)),
          conn != nullptr ? PQerrorMessage(conn.get()) : "out of memory");
  }
  return conn;
}

// Runs `sql` (no parameters); dies on an error.
Result Exec(PGconn* conn, const std::string& sql) {
  Result result(PQexec(conn, sql.c_str()));
  const ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    DiePg(sql, PQresultErrorMessage(result.get()));
  }
  return result;
}

std::string QueryOne(PGconn* conn, const std::string& sql) {
  Result result = Exec(conn, sql);
  return PQntuples(result.get()) > 0 ? PQgetvalue(result.get(), 0, 0) : "";
}

// The server's URL, from CASCADE_BENCH_PG_URL (checked in main).
const std::string& ServerUrl() {
  static const std::string* const url = [] {
    const char* env = std::getenv("CASCADE_BENCH_PG_URL");
    return new std::string(env != nullptr ? env : "");
  }();
  return *url;
}

// `url` naming `database` instead of its own, keeping any ?parameters.
std::string WithDatabase(const std::string& url, const std::string& database) {
  const size_t scheme = url.find("://");
  const size_t path = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  const size_t query = url.find('?', path == std::string::npos ? 0 : path);
  const std::string params = query == std::string::npos ? "" : url.substr(query);
  if (path == std::string::npos || (query != std::string::npos && query < path)) {
    return absl::StrCat(url.substr(0, std::min(url.size(), query)), "/", database, params);
  }
  return absl::StrCat(url.substr(0, path + 1), database, params);
}

// The server's database `postgres`, for CREATE and DROP DATABASE. Benchmark
// threads never use it.
PGconn* Admin() {
  static PGconn* const conn = Connect(ServerUrl()).release();
  return conn;
}

// A new empty database for one run; its URL.
std::string CreateRunDatabase(std::string& name) {
  static int next = 0;
  name = absl::StrCat("cascade_bench_", getpid(), "_", ++next);
  Exec(Admin(), absl::StrCat("CREATE DATABASE ", name));
  return WithDatabase(ServerUrl(), name);
}

void DropRunDatabase(const std::string& name) {
  Exec(Admin(), absl::StrCat("DROP DATABASE ", name, " WITH (FORCE)"));
}

// ---- The whole machine's CPU (/proc/stat) -----------------------------------

struct MachineCpu {
  int64_t busy_ticks = 0;  // all but idle and iowait
  bool ok = false;

  static MachineCpu Now() {
    std::ifstream in("/proc/stat");
    std::string cpu;
    int64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
    MachineCpu out;
    if (in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal &&
        cpu == "cpu") {
      out.busy_ticks = user + nice + system + irq + softirq + steal;
      out.ok = true;
    }
    return out;
  }
};

// ---- The PostgreSQL peer: one transaction per call ---------------------------

// bench/sqlite_peer.cc's tables in PostgreSQL types (ids: 16 bytes, big-endian,
// so byte order is creation order; times: Unix milliseconds; state: JobState's
// code). Its index on (state) is (state, id) in SQLite, whose index entries
// end with the table's key; PostgreSQL's would not, and "the oldest queued"
// would sort every queued row. jobs_queued is the usual queue index of
// PostgreSQL, and one more: with every row queued when the statistics are
// taken (as here, at the start), the planner finds the oldest queued job by
// walking the primary key, which grows slower with every job finished (it
// passes them all); the partial index holds only the queued, and costs
// nothing to claims and finishes (their rows leave it).
constexpr char kPeerSchema[] = R"sql(
CREATE TABLE batches (
  id         bytea PRIMARY KEY,
  team       text NOT NULL,
  created_at bigint NOT NULL,
  job_count  integer NOT NULL
);
CREATE TABLE jobs (
  id               bytea PRIMARY KEY,
  team             text NOT NULL,
  batch_id         bytea,
  parent_id        bytea,
  state            integer NOT NULL,
  template_id      text,
  created_at       bigint NOT NULL,
  updated_at       bigint NOT NULL,
  started_at       bigint,
  finished_at      bigint,
  error_at         bigint,
  error            text,
  attempts         integer NOT NULL DEFAULT 0,
  progress         real NOT NULL DEFAULT 0,
  worker           text,
  lease_token      bigint,
  lease_expires_at bigint
);
CREATE INDEX jobs_by_state ON jobs (state, id);
CREATE INDEX jobs_queued ON jobs (id) WHERE state = 0;
CREATE INDEX jobs_by_team_state ON jobs (team, state, id);
CREATE INDEX jobs_by_parent ON jobs (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX jobs_by_batch ON jobs (batch_id, parent_id, state);
CREATE TABLE edges (
  prerequisite bytea NOT NULL,
  dependent    bytea NOT NULL,
  PRIMARY KEY (prerequisite, dependent)
);
CREATE INDEX edges_by_dependent ON edges (dependent, prerequisite);
)sql";

#define CASCADE_PG_PEER_JOB_COLUMNS                                                         \
  "id, team, batch_id, parent_id, state, template_id, created_at, updated_at, started_at, " \
  "finished_at, error_at, error, attempts, progress, worker, lease_token, lease_expires_at"

// $1 now, $2 worker, $3 lease token, $4 lease expiry.
constexpr char kPeerClaim[] =
    "UPDATE jobs SET state = 2, started_at = $1, updated_at = $1, progress = 0, "
    "attempts = attempts + 1, worker = $2, lease_token = $3, lease_expires_at = $4 "
    "WHERE id = (SELECT id FROM jobs WHERE state = 0 ORDER BY id LIMIT 1 "
    "FOR UPDATE SKIP LOCKED) RETURNING " CASCADE_PG_PEER_JOB_COLUMNS;
// $1 id, $2 lease token, $3 now. The job's pending dependents whose other
// prerequisites have all finished become queued, in the same statement (the
// CTEs share one snapshot, so the finished job is told apart by its id).
constexpr char kPeerFinish[] =
    "WITH done AS ("
    "  UPDATE jobs SET state = 3, finished_at = $3, updated_at = $3, progress = 100, "
    "  lease_token = NULL, lease_expires_at = NULL "
    "  WHERE id = $1 AND state = 2 AND lease_token = $2 RETURNING " CASCADE_PG_PEER_JOB_COLUMNS
    "), queued AS ("
    "  UPDATE jobs SET state = 0, updated_at = $3 "
    "  WHERE id IN (SELECT e.dependent FROM edges AS e JOIN done ON e.prerequisite = done.id) "
    "  AND state = 1 AND NOT EXISTS (SELECT 1 FROM edges AS e JOIN jobs AS p "
    "    ON p.id = e.prerequisite WHERE e.dependent = jobs.id AND p.id <> $1 AND p.state <> 3)"
    ") SELECT " CASCADE_PG_PEER_JOB_COLUMNS " FROM done";

constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;
constexpr Oid kByteaOid = 17;

void Prepare(PGconn* conn, const char* name, const char* sql, std::vector<Oid> types) {
  Result result(PQprepare(conn, name, sql, static_cast<int>(types.size()), types.data()));
  if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
    DiePg(absl::StrCat("PREPARE ", name), PQresultErrorMessage(result.get()));
  }
}

// The schema and `jobs` queued leaf jobs (rounded up to a multiple of 1000),
// as SubmitBatch would have made them: batches of 1000, 1 ms apart.
void BuildPeerDatabase(const std::string& url, size_t jobs) {
  const size_t batches = (jobs + kBatchSize - 1) / kBatchSize;
  const int64_t start_ms = bench::kClockStartSeconds * 1000;
  Conn conn = Connect(url);
  Exec(conn.get(), kPeerSchema);
  Exec(conn.get(), absl::StrCat("INSERT INTO batches (id, team, created_at, job_count) "
                                "SELECT decode('01' || lpad(to_hex(b), 30, '0'), 'hex'), '",
                                bench::kTeam, "', ", start_ms, " + b, ", kBatchSize,
                                " FROM generate_series(1, ", batches, ") AS b"));
  Exec(conn.get(),
       absl::StrCat("INSERT INTO jobs (id, team, batch_id, state, template_id, created_at, "
                    "updated_at) SELECT decode(lpad(to_hex(g), 32, '0'), 'hex'), '",
                    bench::kTeam, "', decode('01' || lpad(to_hex((g - 1) / ", kBatchSize,
                    " + 1), 30, '0'), 'hex'), 0, 'tpl-1', ", start_ms, " + (g - 1) / ", kBatchSize,
                    " + 1, ", start_ms, " + (g - 1) / ", kBatchSize,
                    " + 1 FROM generate_series(1, ", batches * kBatchSize, ") AS g"));
  // Fresh statistics, so the planner sees the rows (as a table in use would).
  Exec(conn.get(), "VACUUM ANALYZE");
}

// One caller's connection with the peer's statements.
class PeerConnection {
 public:
  PeerConnection(const std::string& url, int caller) : conn_(Connect(url)), caller_(caller) {
    Prepare(conn_.get(), "claim", kPeerClaim, {kInt8Oid, kTextOid, kInt8Oid, kInt8Oid});
    Prepare(conn_.get(), "finish", kPeerFinish, {kByteaOid, kInt8Oid, kInt8Oid});
  }

  // Claim then Finish, each one transaction.
  absl::Status Cycle(int64_t now_ms) {
    const std::string now = absl::StrCat(now_ms);
    const std::string token = absl::StrCat(((int64_t{caller_} + 1) << 40) | ++tokens_);
    const std::string expiry = absl::StrCat(now_ms + kLeaseMillis);
    std::string id;
    {
      // Binary results: the id's 16 bytes as they are.
      const char* values[] = {now.c_str(), nullptr, token.c_str(), expiry.c_str()};
      Result claimed(PQexecPrepared(conn_.get(), "claim", 4, values, nullptr, nullptr, 1));
      if (PQresultStatus(claimed.get()) != PGRES_TUPLES_OK) {
        return absl::InternalError(absl::StrCat("claim: ", PQresultErrorMessage(claimed.get())));
      }
      if (PQntuples(claimed.get()) != 1) return absl::NotFoundError("no queued job to claim");
      id.assign(PQgetvalue(claimed.get(), 0, 0), PQgetlength(claimed.get(), 0, 0));
    }
    const char* values[] = {id.data(), token.c_str(), now.c_str()};
    const int lengths[] = {static_cast<int>(id.size()), 0, 0};
    const int formats[] = {1, 0, 0};
    Result finished(PQexecPrepared(conn_.get(), "finish", 3, values, lengths, formats, 1));
    if (PQresultStatus(finished.get()) != PGRES_TUPLES_OK) {
      return absl::InternalError(absl::StrCat("finish: ", PQresultErrorMessage(finished.get())));
    }
    if (PQntuples(finished.get()) != 1) {
      return absl::FailedPreconditionError("finish: the claimed job was not rendering");
    }
    return absl::OkStatus();
  }

 private:
  Conn conn_;
  const int caller_;
  int64_t tokens_ = 0;
};

// ---- The run ----------------------------------------------------------------

enum class Kind { kPostgres, kPostgresObserved, kSqlite, kPostgresPerCall };

// Counts the store's commits on its writer thread (the before_commit seam).
struct CommitProbe {
  std::atomic<int64_t> commits{0};
  std::atomic<int64_t> first_ns{0};
  std::atomic<int64_t> last_ns{0};
};

struct Run {
  Kind kind;
  std::string database;  // PostgreSQL runs
  std::string dir;       // the SQLite run
  AtomicClock clock;
  std::unique_ptr<Engine> engine;
  internal::Store* store = nullptr;  // owned by the engine; kPostgresObserved only
  std::shared_ptr<CommitProbe> probe;
  internal::StoreStats stats_before;
  std::vector<std::unique_ptr<PeerConnection>> peers;  // one per caller
  Usage usage_before;
  MachineCpu machine_before;
};
// Set by thread 0 before the start barrier, read by every thread after it.
Run* run = nullptr;

// Thread 0, before the timed loop.
void StartRun(Kind kind, size_t jobs, int threads) {
  run = new Run;
  run->kind = kind;
  if (kind == Kind::kPostgresPerCall) {
    const std::string url = CreateRunDatabase(run->database);
    BuildPeerDatabase(url, jobs);
    for (int t = 0; t < threads; ++t) {
      run->peers.push_back(std::make_unique<PeerConnection>(url, t));
    }
  } else {
    Options options;
    options.clock = &run->clock;
    options.id_seed = kIdSeed;
    options.durability.sync = DurabilityOptions::Sync::kFull;
    absl::StatusOr<std::unique_ptr<Engine>> engine;
    if (kind == Kind::kSqlite) {
      run->dir = bench::MakeRunDir("cascade-postgres-bench-sqlite");
      options.durability.data_dir = run->dir;
      engine = Engine::Create(options);
    } else {
      options.durability.data_dir = CreateRunDatabase(run->database);
      if (kind == Kind::kPostgres) {
        engine = Engine::Create(options);
      } else {
        // What Engine::Create passes for these options.
        internal::PostgresStoreOptions store_options;
        store_options.synchronous_commit = true;
        store_options.lease = options.durability.leader_lease;
        store_options.renew_every = options.durability.leader_renew;
        run->probe = std::make_shared<CommitProbe>();
        internal::PostgresStoreSeams seams;
        seams.before_commit = [probe = run->probe] {
          const int64_t now = NowNanos();
          int64_t zero = 0;
          probe->first_ns.compare_exchange_strong(zero, now, std::memory_order_relaxed);
          probe->last_ns.store(now, std::memory_order_relaxed);
          probe->commits.fetch_add(1, std::memory_order_relaxed);
        };
        absl::StatusOr<std::unique_ptr<internal::Store>> store =
            internal::OpenPostgresStore(options.durability.data_dir, store_options, seams);
        if (!store.ok()) Die("OpenPostgresStore", store.status());
        run->store = store->get();
        absl::StatusOr<std::unique_ptr<internal::EngineImpl>> impl =
            internal::CreateEngine(options, *std::move(store));
        if (impl.ok()) {
          engine = std::unique_ptr<Engine>(*std::move(impl));
        } else {
          engine = impl.status();
        }
      }
    }
    if (!engine.ok()) Die("creating the engine", engine.status());
    run->engine = *std::move(engine);
    QueueLeafJobs(*run->engine, run->clock, jobs);
    if (run->store != nullptr) {
      run->stats_before = run->store->GetStats();
      run->probe->commits.store(0);
      run->probe->first_ns.store(0);
    }
  }
  run->machine_before = MachineCpu::Now();
  run->usage_before = Usage::Now();
}

// Thread 0, after the timed loop (every thread has left it).
void EndRun(benchmark::State& state) {
  const Usage after = Usage::Now();
  const MachineCpu machine = MachineCpu::Now();
  const Usage& before = run->usage_before;
  const double transitions =
      static_cast<double>(state.iterations() * state.threads() * kTransitionsPerCycle);
  const double wall_ns = static_cast<double>(after.wall_ns - before.wall_ns);
  SetCpuCounters(state, before, after, transitions);
  if (machine.ok && run->machine_before.ok && wall_ns > 0) {
    state.counters["machine_cores_busy"] =
        static_cast<double>(machine.busy_ticks - run->machine_before.busy_ticks) /
        static_cast<double>(sysconf(_SC_CLK_TCK)) / (wall_ns / 1e9);
  }
  if (run->store != nullptr && wall_ns > 0) {
    const internal::StoreStats stats = run->store->GetStats();
    const uint64_t commits = stats.commits - run->stats_before.commits;
    const uint64_t groups = stats.groups_committed - run->stats_before.groups_committed;
    state.counters["groups_per_commit"] =
        commits == 0 ? 0.0 : static_cast<double>(groups) / static_cast<double>(commits);
    state.counters["commits_per_second"] = static_cast<double>(commits) * 1e9 / wall_ns;
    const int64_t probed = run->probe->commits.load();
    if (probed > 1) {
      state.counters["commit_interval_us"] =
          static_cast<double>(run->probe->last_ns.load() - run->probe->first_ns.load()) / 1e3 /
          static_cast<double>(probed - 1);
    }
  }
  run->engine.reset();  // closes the store: gives the lease up
  run->peers.clear();
  if (!run->database.empty()) DropRunDatabase(run->database);
  if (!run->dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(run->dir, ec);
  }
  delete run;
  run = nullptr;
}

void TransitionsRun(benchmark::State& state, Kind kind) {
  if (state.thread_index() == 0) {
    StartRun(kind, static_cast<size_t>(state.max_iterations) * state.threads(), state.threads());
  }
  if (kind == Kind::kPostgresPerCall) {
    for (auto _ : state) {
      // `run` is read only once the loop has started: thread 0 sets it
      // before Google Benchmark's start barrier, the others wait there.
      PeerConnection& peer = *run->peers[state.thread_index()];
      if (absl::Status cycle = peer.Cycle(absl::ToUnixMillis(run->clock.Now())); !cycle.ok()) {
        state.SkipWithError(cycle.ToString().c_str());
        break;
      }
    }
  } else {
    for (auto _ : state) {
      if (absl::Status cycle = WorkerCycle(*run->engine); !cycle.ok()) {
        state.SkipWithError(cycle.ToString().c_str());
        break;
      }
    }
  }
  state.SetItemsProcessed(state.iterations() * kTransitionsPerCycle);
  if (state.thread_index() == 0) EndRun(state);
}

void BM_PostgresTransitions(benchmark::State& state) { TransitionsRun(state, Kind::kPostgres); }
void BM_SqliteStoreTransitions(benchmark::State& state) { TransitionsRun(state, Kind::kSqlite); }
void BM_PostgresPerCallTransitions(benchmark::State& state) {
  TransitionsRun(state, Kind::kPostgresPerCall);
}
void BM_PostgresTransitionsObserved(benchmark::State& state) {
  TransitionsRun(state, Kind::kPostgresObserved);
}

void CallerArgs(benchmark::internal::Benchmark* b) {
  b->Unit(benchmark::kMicrosecond)->MinTime(kMinTime)->UseRealTime()->Threads(8)->Threads(64);
}
BENCHMARK(BM_PostgresTransitions)->Apply(CallerArgs);
BENCHMARK(BM_SqliteStoreTransitions)->Apply(CallerArgs);
BENCHMARK(BM_PostgresPerCallTransitions)->Apply(CallerArgs);
BENCHMARK(BM_PostgresTransitionsObserved)->Apply(CallerArgs);

// ---- The server's floor -----------------------------------------------------

void BM_PostgresFloorCommit(benchmark::State& state) {
  std::string database;
  const std::string url = CreateRunDatabase(database);
  {
    Conn conn = Connect(url);
    Exec(conn.get(),
         "CREATE TABLE floor (id integer PRIMARY KEY, n bigint NOT NULL);"
         "INSERT INTO floor VALUES (1, 0)");
    Prepare(conn.get(), "bump", "UPDATE floor SET n = n + 1 WHERE id = 1", {});
    for (auto _ : state) {
      Result result(PQexecPrepared(conn.get(), "bump", 0, nullptr, nullptr, nullptr, 0));
      if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
        state.SkipWithError(PQresultErrorMessage(result.get()));
        break;
      }
    }
    state.SetItemsProcessed(state.iterations());
  }
  DropRunDatabase(database);
}
BENCHMARK(BM_PostgresFloorCommit)->Unit(benchmark::kMicrosecond)->MinTime(1.0)->UseRealTime();

}  // namespace
}  // namespace cascade

int main(int argc, char** argv) {
  cascade::bench::UseProductionAbseil();
  const std::string& url = cascade::ServerUrl();
  if (url.empty()) {
    std::fprintf(stderr,
                 "cascade_postgres_bench: CASCADE_BENCH_PG_URL is not set. It names the "
                 "PostgreSQL server to measure (a role that may create databases), e.g.\n"
                 "  scripts/pg_cluster.sh start /tmp/pg-bench\n"
                 "  CASCADE_BENCH_PG_URL=$(cat /tmp/pg-bench/url) %s\n"
                 "bench/run.sh starts a cluster of its own and sets it.\n",
                 argv[0]);
    return 2;
  }
  if (!cascade::IsPostgresUrl(url)) {
    std::fprintf(stderr,
                 "cascade_postgres_bench: CASCADE_BENCH_PG_URL is not a postgresql:// URL: %s\n",
                 cascade::RedactPostgresUrl(url).c_str());
    return 2;
  }
  PGconn* admin = cascade::Admin();  // dies with libpq's message if unreachable
  benchmark::AddCustomContext("postgres_url", cascade::RedactPostgresUrl(url));
  benchmark::AddCustomContext("postgres_version", cascade::QueryOne(admin, "SELECT version()"));
  std::string settings;
  for (const char* name : {"synchronous_commit", "fsync", "wal_sync_method", "commit_delay",
                           "shared_buffers", "max_connections"}) {
    absl::StrAppend(&settings, settings.empty() ? "" : ", ", name, "=",
                    cascade::QueryOne(admin, absl::StrCat("SHOW ", name)));
  }
  benchmark::AddCustomContext("postgres_settings", settings);
  // The data directory is readable to superusers (and pg_read_all_settings).
  cascade::Result data_dir(PQexec(admin, "SHOW data_directory"));
  if (PQresultStatus(data_dir.get()) == PGRES_TUPLES_OK && PQntuples(data_dir.get()) == 1) {
    benchmark::AddCustomContext("postgres_data_filesystem",
                                cascade::bench::FileSystemOf(PQgetvalue(data_dir.get(), 0, 0)));
  }
  const std::filesystem::path root = cascade::bench::BenchRoot();
  benchmark::AddCustomContext("sqlite_store_dir", root.string());
  benchmark::AddCustomContext("sqlite_store_dir_filesystem", cascade::bench::FileSystemOf(root));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
