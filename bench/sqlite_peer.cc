// Copyright 2026 The Cascade Authors.
//
// The SQLite peer: its schema, pragmas, prepared statements, and each
// operation as one transaction over them.

#include "bench/sqlite_peer.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cascade/status.h"
#include "engine/util/random.h"
#include "engine/util/status_macros.h"
#include "engine/util/strings.h"

namespace cascade::bench {
namespace {

using ::cascade::internal::Sv;

// ---- Schema -----------------------------------------------------------------
//
// Ids are the 16 bytes of the ULID, big-endian, as BLOBs: memcmp order is id
// order, which for one generator is creation order, so "ORDER BY id" is
// "oldest first" and no created_at index is needed. (TEXT ULIDs would sort
// the same but take 26 bytes in the row and in every index entry.) The
// tables are WITHOUT ROWID, clustered on that key: a lookup by id is one
// B-tree descent instead of two (a rowid table would need its own PK index
// and then the table), and new ids, being the largest, always append at the
// right edge of the tree. Secondary index entries carry the 16-byte key
// where a rowid table's would carry an 8-byte rowid; at ~100-byte rows
// (SQLite advises WITHOUT ROWID below ~1/20 of a page) that is the better
// trade. State is the JobState code (0 queued, 1 pending, 2 rendering,
// 3 finished, 4 error, 5 manually_cancelled); times are Unix milliseconds.
constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS batches (
  id         BLOB PRIMARY KEY,
  team       TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  job_count  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS jobs (
  id               BLOB PRIMARY KEY,
  team             TEXT NOT NULL,
  batch_id         BLOB,
  parent_id        BLOB,
  state            INTEGER NOT NULL,
  template_id      TEXT,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  started_at       INTEGER,
  finished_at      INTEGER,
  error_at         INTEGER,
  error            TEXT,
  attempts         INTEGER NOT NULL DEFAULT 0,
  progress         REAL NOT NULL DEFAULT 0,
  worker           TEXT,
  lease_token      INTEGER,
  lease_expires_at INTEGER
) WITHOUT ROWID;

-- Claim: the lowest id with state = 0 (an index entry is (state, id)).
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state);
-- List: a team's jobs in one state, in id order: (team, state, id).
CREATE INDEX IF NOT EXISTS jobs_by_team_state ON jobs (team, state);
-- A family's children. Partial: most jobs have no parent.
CREATE INDEX IF NOT EXISTS jobs_by_parent ON jobs (parent_id) WHERE parent_id IS NOT NULL;
-- A batch's top-level jobs by state, answered from the index alone.
CREATE INDEX IF NOT EXISTS jobs_by_batch ON jobs (batch_id, parent_id, state);

-- P -> D: D needs P to finish (a nested child is a prerequisite of its
-- parent). The key finds a job's dependents (rule R, Finish); the index its
-- prerequisites (rule U).
CREATE TABLE IF NOT EXISTS edges (
  prerequisite BLOB NOT NULL,
  dependent    BLOB NOT NULL,
  PRIMARY KEY (prerequisite, dependent)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS edges_by_dependent ON edges (dependent, prerequisite);
)sql";

// SqlitePeerOptions::batch_counts_table: counts kept by triggers, in the
// transaction of the statement that changed the job.
constexpr char kCountsSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS batch_counts (
  batch_id BLOB NOT NULL,
  state    INTEGER NOT NULL,
  n        INTEGER NOT NULL,
  PRIMARY KEY (batch_id, state)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS batch_counts_insert AFTER INSERT ON jobs
WHEN NEW.batch_id IS NOT NULL AND NEW.parent_id IS NULL
BEGIN
  INSERT INTO batch_counts (batch_id, state, n) VALUES (NEW.batch_id, NEW.state, 1)
    ON CONFLICT (batch_id, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS batch_counts_update AFTER UPDATE OF state ON jobs
WHEN NEW.batch_id IS NOT NULL AND NEW.parent_id IS NULL AND OLD.state <> NEW.state
BEGIN
  UPDATE batch_counts SET n = n - 1 WHERE batch_id = OLD.batch_id AND state = OLD.state;
  INSERT INTO batch_counts (batch_id, state, n) VALUES (NEW.batch_id, NEW.state, 1)
    ON CONFLICT (batch_id, state) DO UPDATE SET n = n + 1;
END;
)sql";

// Every statement that returns a job returns these, in this order (ReadJob).
#define CASCADE_PEER_JOB_COLUMNS                                                            \
  "id, team, batch_id, parent_id, state, template_id, created_at, updated_at, started_at, " \
  "finished_at, error_at, error, attempts, progress, worker, lease_token, lease_expires_at"

constexpr char kBegin[] = "BEGIN IMMEDIATE";
constexpr char kCommit[] = "COMMIT";
constexpr char kRollback[] = "ROLLBACK";
constexpr char kInsertBatch[] =
    "INSERT INTO batches (id, team, created_at, job_count) VALUES (?1, ?2, ?3, ?4)";
constexpr char kInsertJob[] =
    "INSERT INTO jobs (id, team, batch_id, parent_id, state, template_id, created_at, "
    "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)";
constexpr char kInsertEdge[] = "INSERT INTO edges (prerequisite, dependent) VALUES (?1, ?2)";
constexpr char kLookup[] = "SELECT team, state, lease_token FROM jobs WHERE id = ?1";
constexpr char kGet[] = "SELECT " CASCADE_PEER_JOB_COLUMNS " FROM jobs WHERE id = ?1 AND team = ?2";
// Named and cascaded jobs alike; the state test makes a job that is no
// longer cancellable (or another team's) change nothing and return no row.
constexpr char kCancel[] =
    "UPDATE jobs SET state = 5, updated_at = ?3, error_at = ?3, error = ?4 "
    "WHERE id = ?1 AND team = ?2 AND state IN (0, 1) RETURNING " CASCADE_PEER_JOB_COLUMNS;
// Rule R: the cancellable dependents of a cancelled job.
constexpr char kCancellableDependents[] =
    "SELECT e.dependent FROM edges AS e JOIN jobs AS d ON d.id = e.dependent "
    "WHERE e.prerequisite = ?1 AND d.state IN (0, 1) ORDER BY e.dependent";
// Rule U: the cancellable prerequisites of a cancelled job none of whose
// dependents is still alive (neither error nor manually_cancelled).
constexpr char kUselessPrerequisites[] =
    "SELECT e.prerequisite FROM edges AS e JOIN jobs AS p ON p.id = e.prerequisite "
    "WHERE e.dependent = ?1 AND p.state IN (0, 1) AND NOT EXISTS ("
    "  SELECT 1 FROM edges AS o JOIN jobs AS d ON d.id = o.dependent "
    "  WHERE o.prerequisite = e.prerequisite AND d.state NOT IN (4, 5)) "
    "ORDER BY e.prerequisite";
constexpr char kCountByIndex[] =
    "SELECT j.state, count(*) FROM batches AS b "
    "JOIN jobs AS j ON j.batch_id = b.id AND j.parent_id IS NULL "
    "WHERE b.id = ?1 AND b.team = ?2 GROUP BY j.state";
constexpr char kCountByTable[] =
    "SELECT c.state, c.n FROM batches AS b JOIN batch_counts AS c ON c.batch_id = b.id "
    "WHERE b.id = ?1 AND b.team = ?2";
constexpr char kClaim[] =
    "UPDATE jobs SET state = 2, started_at = ?1, updated_at = ?1, progress = 0, "
    "attempts = attempts + 1, worker = ?2, lease_token = ?3, lease_expires_at = ?4 "
    "WHERE id = (SELECT id FROM jobs WHERE state = 0 ORDER BY id LIMIT 1) "
    "RETURNING " CASCADE_PEER_JOB_COLUMNS;
constexpr char kFinish[] =
    "UPDATE jobs SET state = 3, finished_at = ?3, updated_at = ?3, progress = 100, "
    "lease_token = NULL, lease_expires_at = NULL "
    "WHERE id = ?1 AND state = 2 AND lease_token = ?2 RETURNING " CASCADE_PEER_JOB_COLUMNS;
// The pending dependents of a finished job whose prerequisites have all
// finished become queued.
constexpr char kResolveDependents[] =
    "UPDATE jobs SET state = 0, updated_at = ?2 "
    "WHERE id IN (SELECT dependent FROM edges WHERE prerequisite = ?1) AND state = 1 "
    "AND NOT EXISTS (SELECT 1 FROM edges AS e JOIN jobs AS p ON p.id = e.prerequisite "
    "                WHERE e.dependent = jobs.id AND p.state <> 3)";
constexpr char kList[] = "SELECT " CASCADE_PEER_JOB_COLUMNS
                         " FROM jobs WHERE team = ?1 AND state = ?2 ORDER BY id LIMIT ?3";

constexpr int kQueued = static_cast<int>(JobState::kQueued);
constexpr int kPending = static_cast<int>(JobState::kPending);
constexpr int kRendering = static_cast<int>(JobState::kRendering);
constexpr int kFinished = static_cast<int>(JobState::kFinished);

// A transaction that found the write lock held past the busy timeout is
// started again this many times before the operation fails.
constexpr int kBusyRetries = 3;

// The 16 bytes of an id, big-endian, for binding. Must outlive the
// statement's step (bound SQLITE_STATIC).
struct IdBlob {
  explicit IdBlob(Ulid id) {
    for (int i = 0; i < 8; ++i) {
      bytes[i] = static_cast<unsigned char>(id.hi() >> (56 - 8 * i));
      bytes[8 + i] = static_cast<unsigned char>(id.lo() >> (56 - 8 * i));
    }
  }
  unsigned char bytes[16];
};

Ulid UlidOf(const void* blob, int size) {
  if (blob == nullptr || size != 16) return Ulid();
  const auto* b = static_cast<const unsigned char*>(blob);
  uint64_t hi = 0, lo = 0;
  for (int i = 0; i < 8; ++i) {
    hi = (hi << 8) | b[i];
    lo = (lo << 8) | b[8 + i];
  }
  return Ulid(hi, lo);
}

absl::Status SqliteError(sqlite3* db, int rc, std::string_view what) {
  const std::string message =
      absl::StrCat(Sv(what), ": ", db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  if (rc == SQLITE_BUSY) return absl::UnavailableError(message);
  return absl::InternalError(message);
}

// One prepared statement, finalized with its owner.
class Statement {
 public:
  Statement() = default;
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  absl::Status Prepare(sqlite3* db, std::string_view sql) {
    // PERSISTENT: kept for the connection's life, so SQLite allocates it
    // outside its lookaside buffers.
    const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
    if (rc != SQLITE_OK) return SqliteError(db, rc, absl::StrCat("preparing ", Sv(sql)));
    return absl::OkStatus();
  }
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// One execution of a statement: bind, step, read columns; reset when it goes
// out of scope, so the statement is ready for the next use.
class Use {
 public:
  explicit Use(const Statement& statement) : s_(statement.get()) {}
  ~Use() { sqlite3_reset(s_); }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;

  Use& Bind(int i, const IdBlob& id) {
    sqlite3_bind_blob(s_, i, id.bytes, sizeof(id.bytes), SQLITE_STATIC);
    return *this;
  }
  Use& Bind(int i, std::string_view text) {
    sqlite3_bind_text(s_, i, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
    return *this;
  }
  Use& Bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Use& BindNull(int i) {
    sqlite3_bind_null(s_, i);
    return *this;
  }
  int Step() { return sqlite3_step(s_); }
  sqlite3_stmt* get() const { return s_; }

 private:
  sqlite3_stmt* const s_;
};

bool IsNull(sqlite3_stmt* s, int i) { return sqlite3_column_type(s, i) == SQLITE_NULL; }

std::string TextOf(sqlite3_stmt* s, int i) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
  return std::string(text, static_cast<size_t>(sqlite3_column_bytes(s, i)));
}

Ulid IdOf(sqlite3_stmt* s, int i) {
  const void* blob = sqlite3_column_blob(s, i);
  return UlidOf(blob, sqlite3_column_bytes(s, i));
}

std::optional<int64_t> OptionalInt(sqlite3_stmt* s, int i) {
  if (IsNull(s, i)) return std::nullopt;
  return sqlite3_column_int64(s, i);
}

std::optional<std::string> OptionalText(sqlite3_stmt* s, int i) {
  if (IsNull(s, i)) return std::nullopt;
  return TextOf(s, i);
}

// Reads the CASCADE_PEER_JOB_COLUMNS of the current row.
PeerJob ReadJob(sqlite3_stmt* s) {
  PeerJob job;
  job.id = IdOf(s, 0);
  job.team = TextOf(s, 1);
  if (!IsNull(s, 2)) job.batch_id = IdOf(s, 2);
  if (!IsNull(s, 3)) job.parent_id = IdOf(s, 3);
  job.state = static_cast<JobState>(sqlite3_column_int(s, 4));
  job.template_id = OptionalText(s, 5);
  job.created_ms = sqlite3_column_int64(s, 6);
  job.updated_ms = sqlite3_column_int64(s, 7);
  job.started_ms = OptionalInt(s, 8);
  job.finished_ms = OptionalInt(s, 9);
  job.error_ms = OptionalInt(s, 10);
  job.error = OptionalText(s, 11);
  job.attempts = sqlite3_column_int(s, 12);
  job.progress = sqlite3_column_double(s, 13);
  job.worker = OptionalText(s, 14);
  job.lease_token = OptionalInt(s, 15);
  job.lease_expires_ms = OptionalInt(s, 16);
  return job;
}

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// ---- A connection and its statements ----------------------------------------

class PeerConnection {
 public:
  PeerConnection(SqlitePeer& peer, sqlite3* db) : peer_(peer), db_(db) {}
  // sqlite3_close_v2 leaves the connection open until the statements (the
  // members, destroyed after this body) are finalized.
  ~PeerConnection() { sqlite3_close_v2(db_); }
  PeerConnection(const PeerConnection&) = delete;
  PeerConnection& operator=(const PeerConnection&) = delete;

  absl::Status Exec(std::string_view sql) {
    char* error = nullptr;
    const int rc = sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &error);
    if (rc != SQLITE_OK) {
      absl::Status status = absl::InternalError(
          absl::StrCat(Sv(sql.substr(0, 60)), ": ", error != nullptr ? error : sqlite3_errstr(rc)));
      sqlite3_free(error);
      return status;
    }
    return absl::OkStatus();
  }

  absl::Status PrepareAll(bool counts_table) {
    struct Entry {
      Statement* statement;
      const char* sql;
    };
    const Entry entries[] = {
        {&begin_, kBegin},
        {&commit_, kCommit},
        {&rollback_, kRollback},
        {&insert_batch_, kInsertBatch},
        {&insert_job_, kInsertJob},
        {&insert_edge_, kInsertEdge},
        {&lookup_, kLookup},
        {&get_, kGet},
        {&cancel_, kCancel},
        {&dependents_, kCancellableDependents},
        {&useless_, kUselessPrerequisites},
        {&count_, counts_table ? kCountByTable : kCountByIndex},
        {&claim_, kClaim},
        {&finish_, kFinish},
        {&resolve_, kResolveDependents},
        {&list_, kList},
    };
    for (const Entry& e : entries) {
      if (absl::Status s = e.statement->Prepare(db_, e.sql); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  // ---- Transactions ---------------------------------------------------------

  // BEGIN IMMEDIATE: takes the write lock now (waiting in the busy handler
  // while another connection holds it), so no statement of the transaction
  // can meet SQLITE_BUSY later. Started again, counted, if the wait ran out.
  absl::Status Begin() {
    for (int attempt = 0;; ++attempt) {
      int rc;
      {
        Use use(begin_);
        rc = use.Step();
      }
      if (rc == SQLITE_DONE) return absl::OkStatus();
      if (rc != SQLITE_BUSY || attempt == kBusyRetries) {
        return SqliteError(db_, rc, "BEGIN IMMEDIATE");
      }
      peer_.busy_retries_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  absl::Status Commit() {
    Use use(commit_);
    const int rc = use.Step();
    if (rc != SQLITE_DONE) return SqliteError(db_, rc, "COMMIT");
    return absl::OkStatus();
  }
  void Rollback() {
    Use use(rollback_);
    use.Step();
  }

  // Rolls back unless committed: every early return of an operation undoes
  // what it wrote. With SqlitePeerOptions::serialize_writers, holds the
  // peer's writer mutex from before BEGIN to after COMMIT or ROLLBACK.
  class Transaction {
   public:
    explicit Transaction(PeerConnection& c) : c_(c) {}
    ~Transaction() {
      if (open_) c_.Rollback();
    }
    absl::Status Begin() {
      if (c_.peer_.options_.serialize_writers && !c_.peer_.in_memory_) {
        writer_ = std::unique_lock<std::mutex>(c_.peer_.writer_mu_);
      }
      absl::Status s = c_.Begin();
      open_ = s.ok();
      return s;
    }
    absl::Status Commit() {
      absl::Status s = c_.Commit();
      if (s.ok()) open_ = false;
      return s;
    }

   private:
    PeerConnection& c_;
    bool open_ = false;
    // Released when the transaction goes out of scope, after its COMMIT
    // or ROLLBACK.
    std::unique_lock<std::mutex> writer_;
  };

  // ---- Submit ---------------------------------------------------------------

  struct Known {
    std::string team;
    int state = 0;
  };

  // Looks `id` up in `known` or the table.
  absl::StatusOr<const Known*> Lookup(JobId id, absl::flat_hash_map<JobId, Known>& known) {
    auto it = known.find(id);
    if (it != known.end()) return &it->second;
    const IdBlob key(id);
    Use use(lookup_);
    use.Bind(1, key);
    const int rc = use.Step();
    if (rc == SQLITE_DONE) return nullptr;
    if (rc != SQLITE_ROW) return SqliteError(db_, rc, "looking up a job");
    Known& k = known[id];
    k.team = TextOf(use.get(), 0);
    k.state = sqlite3_column_int(use.get(), 1);
    return &k;
  }

  // The engine's CheckDependencies: every depends_on id of the spec and its
  // children exists for the team and has not ended in error or cancelled.
  absl::Status CheckDependencies(std::string_view team, const JobSpec& spec,
                                 absl::flat_hash_map<JobId, Known>& known) {
    std::vector<std::string> unknown, dead;
    absl::Status failure;
    auto visit = [&](const JobSpec& s, auto& self) -> void {
      for (JobId id : s.depends_on) {
        absl::StatusOr<const Known*> k = Lookup(id, known);
        if (!k.ok()) {
          failure = k.status();
          return;
        }
        if (*k == nullptr || (*k)->team != team) {
          unknown.push_back(id.ToString());
        } else if ((*k)->state == static_cast<int>(JobState::kError) ||
                   (*k)->state == static_cast<int>(JobState::kCancelled)) {
          dead.push_back(absl::StrCat(id.ToString(), " (",
                                      Sv(StateName(static_cast<JobState>((*k)->state))), ")"));
        }
      }
      for (const JobSpec& child : s.children) self(child, self);
    };
    visit(spec, visit);
    if (!failure.ok()) return failure;
    if (!unknown.empty()) {
      return absl::NotFoundError(
          absl::StrCat("dependsOn: job(s) not found: ", absl::StrJoin(unknown, ", ")));
    }
    if (!dead.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "dependsOn: job(s) already ended without finishing: ", absl::StrJoin(dead, ", ")));
    }
    return absl::OkStatus();
  }

  // Inserts the job of `spec`, its edges and its children (in the engine's
  // order, so the ids are the engine's).
  absl::Status InsertTree(std::string_view team, const JobSpec& spec, const JobId* parent,
                          const IdBlob* batch, int64_t now_ms, int64_t created_ms,
                          absl::flat_hash_map<JobId, Known>& known, PeerCreatedJob& out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(peer_.ids_mu_) {
    out.id = peer_.ids_.Next(absl::FromUnixMillis(now_ms));
    bool blocked = !spec.children.empty();
    for (JobId dep : spec.depends_on) {
      if (known.at(dep).state != kFinished) blocked = true;
    }
    out.state = blocked ? JobState::kPending : JobState::kQueued;
    const IdBlob key(out.id);
    {
      Use use(insert_job_);
      use.Bind(1, key).Bind(2, team);
      if (batch != nullptr) {
        use.Bind(3, *batch);
      } else {
        use.BindNull(3);
      }
      std::optional<IdBlob> parent_key;
      if (parent != nullptr) {
        parent_key.emplace(*parent);
        use.Bind(4, *parent_key);
      } else {
        use.BindNull(4);
      }
      use.Bind(5, int64_t{static_cast<int>(out.state)});
      if (spec.template_id.empty()) {
        use.BindNull(6);
      } else {
        use.Bind(6, std::string_view(spec.template_id));
      }
      use.Bind(7, created_ms);
      const int rc = use.Step();
      if (rc != SQLITE_DONE) return SqliteError(db_, rc, "inserting a job");
    }
    for (JobId dep : spec.depends_on) {
      CASCADE_RETURN_IF_ERROR(InsertEdge(dep, out.id));
    }
    for (const JobSpec& child_spec : spec.children) {
      PeerCreatedJob& child = out.children.emplace_back();
      CASCADE_RETURN_IF_ERROR(
          InsertTree(team, child_spec, &out.id, batch, now_ms, created_ms, known, child));
      CASCADE_RETURN_IF_ERROR(InsertEdge(child.id, out.id));
    }
    return absl::OkStatus();
  }

  absl::Status InsertEdge(JobId prerequisite, JobId dependent) {
    const IdBlob p(prerequisite), d(dependent);
    Use use(insert_edge_);
    use.Bind(1, p).Bind(2, d);
    const int rc = use.Step();
    if (rc != SQLITE_DONE) return SqliteError(db_, rc, "inserting an edge");
    return absl::OkStatus();
  }

  absl::StatusOr<PeerBatchResult> SubmitBatch(std::string_view team,
                                              absl::Span<const JobSpec> specs, int64_t now_ms) {
    Transaction txn(*this);
    CASCADE_RETURN_IF_ERROR(txn.Begin());
    PeerBatchResult result;
    {
      internal::MutexLock lock(&peer_.ids_mu_);
      peer_.last_created_ms_ = std::max(peer_.last_created_ms_, now_ms);
      const int64_t created_ms = peer_.last_created_ms_;
      result.batch_id = peer_.ids_.Next(absl::FromUnixMillis(now_ms));
      const IdBlob batch(result.batch_id);
      absl::flat_hash_map<JobId, Known> known;
      for (size_t i = 0; i < specs.size(); ++i) {
        absl::Status status = CheckDependencies(team, specs[i], known);
        if (!status.ok()) {
          if (status.code() == absl::StatusCode::kInternal) return status;
          result.errors.push_back({i, std::move(status)});
          continue;
        }
        PeerBatchEntry& entry = result.jobs.emplace_back();
        entry.index = i;
        CASCADE_RETURN_IF_ERROR(
            InsertTree(team, specs[i], nullptr, &batch, now_ms, created_ms, known, entry.job));
      }
      if (!result.jobs.empty()) {
        Use use(insert_batch_);
        use.Bind(1, batch).Bind(2, team).Bind(3, created_ms);
        use.Bind(4, static_cast<int64_t>(result.jobs.size()));
        const int rc = use.Step();
        if (rc != SQLITE_DONE) return SqliteError(db_, rc, "inserting a batch");
      }
    }
    CASCADE_RETURN_IF_ERROR(txn.Commit());
    return result;
  }

  // ---- Read -----------------------------------------------------------------

  // A single SELECT: its own (read) transaction, no BEGIN needed.
  absl::StatusOr<PeerJob> Get(std::string_view team, JobId id) {
    const IdBlob key(id);
    Use use(get_);
    use.Bind(1, key).Bind(2, team);
    const int rc = use.Step();
    if (rc == SQLITE_ROW) return ReadJob(use.get());
    if (rc == SQLITE_DONE)
      return absl::NotFoundError(absl::StrCat("job ", id.ToString(), " not found"));
    return SqliteError(db_, rc, "reading a job");
  }

  absl::StatusOr<BatchCounts> GetBatchCounts(std::string_view team, BatchId id) {
    const IdBlob key(id);
    Use use(count_);
    use.Bind(1, key).Bind(2, team);
    BatchCounts counts;
    bool found = false;
    int rc;
    while ((rc = use.Step()) == SQLITE_ROW) {
      found = true;
      const int state = sqlite3_column_int(use.get(), 0);
      const int n = sqlite3_column_int(use.get(), 1);
      if (state >= 0 && state < kNumJobStates) counts.by_state[state] += n;
      counts.total += n;
    }
    if (rc != SQLITE_DONE) return SqliteError(db_, rc, "counting a batch");
    // A batch has at least one top-level job, so no row means no batch.
    if (!found) return absl::NotFoundError(absl::StrCat("batch ", id.ToString(), " not found"));
    return counts;
  }

  absl::StatusOr<std::vector<PeerJob>> List(std::string_view team, JobState state, size_t limit) {
    Use use(list_);
    use.Bind(1, team).Bind(2, int64_t{static_cast<int>(state)});
    use.Bind(3, static_cast<int64_t>(limit));
    std::vector<PeerJob> jobs;
    int rc;
    while ((rc = use.Step()) == SQLITE_ROW) jobs.push_back(ReadJob(use.get()));
    if (rc != SQLITE_DONE) return SqliteError(db_, rc, "listing jobs");
    return jobs;
  }

  // ---- Cancel ---------------------------------------------------------------

  // Cancels `id` if it is the team's and cancellable; appends its new row.
  // Returns whether it did.
  absl::StatusOr<bool> CancelRow(std::string_view team, JobId id, int64_t now_ms,
                                 std::string_view error, std::vector<PeerJob>& rows) {
    const IdBlob key(id);
    Use use(cancel_);
    use.Bind(1, key).Bind(2, team).Bind(3, now_ms).Bind(4, error);
    const int rc = use.Step();
    if (rc == SQLITE_DONE) return false;
    if (rc != SQLITE_ROW) return SqliteError(db_, rc, "cancelling a job");
    rows.push_back(ReadJob(use.get()));
    if (const int done = use.Step(); done != SQLITE_DONE) {
      return SqliteError(db_, done, "cancelling a job");
    }
    return true;
  }

  // Runs `select` (one id parameter, one id column) to completion, so that
  // its results can be acted on without updating the table it reads.
  absl::Status Collect(const Statement& select, JobId id, std::vector<JobId>& out) {
    out.clear();
    const IdBlob key(id);
    Use use(select);
    use.Bind(1, key);
    int rc;
    while ((rc = use.Step()) == SQLITE_ROW) out.push_back(IdOf(use.get(), 0));
    if (rc != SQLITE_DONE) return SqliteError(db_, rc, "following edges");
    return absl::OkStatus();
  }

  // The engine's errors for a request some of whose jobs could not be
  // cancelled, read after the transaction rolled back.
  absl::Status CancelError(std::string_view team, absl::Span<const JobId> ids) {
    std::vector<std::string> unknown, refused;
    absl::flat_hash_map<JobId, Known> known;
    for (JobId id : ids) {
      CASCADE_ASSIGN_OR_RETURN(const Known* k, Lookup(id, known));
      if (k == nullptr || k->team != team) {
        unknown.push_back(id.ToString());
      } else if (k->state != kQueued && k->state != kPending) {
        refused.push_back(
            absl::StrCat(id.ToString(), " (", Sv(StateName(static_cast<JobState>(k->state))), ")"));
      }
    }
    if (!unknown.empty()) {
      return absl::NotFoundError(absl::StrCat("job(s) not found: ", absl::StrJoin(unknown, ", ")));
    }
    if (!refused.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("job(s) not cancellable (only queued or pending jobs are): ",
                       absl::StrJoin(refused, ", ")));
    }
    return absl::InternalError("a named job could not be cancelled, but is cancellable");
  }

  // contract §4's least fixpoint. E: every named job, first (so a named job is
  // always "Cancelled via API"). Then breadth-first from them, in request
  // order, each job carrying the named job its cascade started from: R, the
  // cancellable dependents of each cancelled job; U, its cancellable
  // prerequisites whose every dependent is now dead. Each job is updated as
  // soon as it is found, so the next query sees it cancelled; the rules are
  // monotone, so the set reached is the least fixpoint whatever the order.
  //
  // Optimistic: the named jobs are updated without being looked up first
  // (the UPDATE's WHERE is the check); if any of them did not change, the
  // transaction rolls back and the lookups that explain why run then.
  absl::StatusOr<std::vector<PeerJob>> CancelMany(std::string_view team,
                                                  absl::Span<const JobId> ids, int64_t now_ms) {
    std::vector<PeerJob> rows;
    rows.reserve(ids.size());
    bool refused = false;
    {
      Transaction txn(*this);
      CASCADE_RETURN_IF_ERROR(txn.Begin());
      for (JobId id : ids) {
        CASCADE_ASSIGN_OR_RETURN(bool cancelled,
                                 CancelRow(team, id, now_ms, "Cancelled via API", rows));
        if (!cancelled) {
          refused = true;
          break;
        }
      }
      if (!refused) {
        // (job, index of the named job its cascade started from)
        std::deque<std::pair<JobId, size_t>> work;
        for (size_t i = 0; i < ids.size(); ++i) work.emplace_back(ids[i], i);
        std::vector<std::string> texts(ids.size());  // "Cancelled: cascade from <id>"
        std::vector<JobId> found;
        auto cascade = [&](size_t origin) -> absl::Status {
          if (texts[origin].empty()) {
            texts[origin] = absl::StrCat("Cancelled: cascade from ", ids[origin].ToString());
          }
          for (JobId next : found) {
            CASCADE_ASSIGN_OR_RETURN(bool cancelled,
                                     CancelRow(team, next, now_ms, texts[origin], rows));
            if (cancelled) work.emplace_back(next, origin);
          }
          return absl::OkStatus();
        };
        while (!work.empty()) {
          const auto [job, origin] = work.front();
          work.pop_front();
          CASCADE_RETURN_IF_ERROR(Collect(dependents_, job, found));  // R
          CASCADE_RETURN_IF_ERROR(cascade(origin));
          CASCADE_RETURN_IF_ERROR(Collect(useless_, job, found));  // U
          CASCADE_RETURN_IF_ERROR(cascade(origin));
        }
        CASCADE_RETURN_IF_ERROR(txn.Commit());
      }
    }
    if (refused) return CancelError(team, ids);
    std::sort(rows.begin(), rows.end(),
              [](const PeerJob& a, const PeerJob& b) { return a.id < b.id; });
    return rows;
  }

  // ---- Workers --------------------------------------------------------------

  absl::StatusOr<PeerClaim> Claim(std::string_view worker, int64_t now_ms, int64_t token) {
    Transaction txn(*this);
    CASCADE_RETURN_IF_ERROR(txn.Begin());
    PeerClaim claimed;
    {
      Use use(claim_);
      use.Bind(1, now_ms);
      if (worker.empty()) {
        use.BindNull(2);
      } else {
        use.Bind(2, worker);
      }
      use.Bind(3, token).Bind(4, now_ms + absl::ToInt64Milliseconds(peer_.options_.lease_duration));
      const int rc = use.Step();
      if (rc == SQLITE_DONE) return absl::NotFoundError("no queued job to claim");
      if (rc != SQLITE_ROW) return SqliteError(db_, rc, "claiming a job");
      claimed.job = ReadJob(use.get());
      if (const int done = use.Step(); done != SQLITE_DONE) {
        return SqliteError(db_, done, "claiming a job");
      }
    }
    claimed.lease_token = token;
    CASCADE_RETURN_IF_ERROR(txn.Commit());
    return claimed;
  }

  absl::StatusOr<PeerJob> Finish(JobId id, int64_t token, int64_t now_ms) {
    Transaction txn(*this);
    CASCADE_RETURN_IF_ERROR(txn.Begin());
    const IdBlob key(id);
    PeerJob job;
    {
      Use use(finish_);
      use.Bind(1, key).Bind(2, token).Bind(3, now_ms);
      const int rc = use.Step();
      if (rc == SQLITE_DONE) {
        // Nothing changed: say why, as the engine does.
        absl::flat_hash_map<JobId, Known> known;
        CASCADE_ASSIGN_OR_RETURN(const Known* k, Lookup(id, known));
        if (k == nullptr)
          return absl::NotFoundError(absl::StrCat("job ", id.ToString(), " not found"));
        if (k->state != kRendering) {
          return absl::FailedPreconditionError(absl::StrCat(
              "job ", id.ToString(), " is ", Sv(StateName(static_cast<JobState>(k->state))),
              "; Finish is not allowed"));
        }
        return absl::FailedPreconditionError(
            absl::StrCat("job ", id.ToString(), ": the lease is stale or not this job's"));
      }
      if (rc != SQLITE_ROW) return SqliteError(db_, rc, "finishing a job");
      job = ReadJob(use.get());
      if (const int done = use.Step(); done != SQLITE_DONE) {
        return SqliteError(db_, done, "finishing a job");
      }
    }
    {
      Use use(resolve_);
      use.Bind(1, key).Bind(2, now_ms);
      const int rc = use.Step();
      if (rc != SQLITE_DONE) return SqliteError(db_, rc, "queueing dependents");
    }
    CASCADE_RETURN_IF_ERROR(txn.Commit());
    return job;
  }

 private:
  SqlitePeer& peer_;
  sqlite3* const db_;

  Statement begin_, commit_, rollback_;
  Statement insert_batch_, insert_job_, insert_edge_;
  Statement lookup_, get_, count_, list_;
  Statement cancel_, dependents_, useless_;
  Statement claim_, finish_, resolve_;

 public:
  // The state of the kShortSleeps busy handler; SQLite holds its address.
  struct BusyState {
    std::atomic<uint64_t>* waits = nullptr;
    int64_t timeout_ns = 0;
    int64_t started_ns = 0;
  };
  BusyState busy;
};

// ---- The peer ---------------------------------------------------------------

namespace {

// kShortSleeps: sleeps 20 us, 40 us, ... at most 1 ms between tries, until
// the timeout. A commit under synchronous=NORMAL takes tens of
// microseconds, so a waiter sleeping milliseconds (SQLite's own handler)
// leaves the lock idle most of the time it waits.
int ShortSleepBusyHandler(void* arg, int tries) {
  auto* state = static_cast<PeerConnection::BusyState*>(arg);
  const int64_t now = SteadyNanos();
  if (tries == 0) state->started_ns = now;
  if (now - state->started_ns >= state->timeout_ns) return 0;
  state->waits->fetch_add(1, std::memory_order_relaxed);
  const int64_t micros = std::min<int64_t>(int64_t{20} << std::min(tries, 6), 1000);
  std::this_thread::sleep_for(std::chrono::microseconds(micros));
  return 1;
}

}  // namespace

SqlitePeer::SqlitePeer(const SqlitePeerOptions& options)
    : options_(options),
      in_memory_(options.path == kSqliteInMemory),
      ids_(options.id_seed ? IdGenerator(*options.id_seed) : IdGenerator()),
      lease_state_(options.id_seed ? internal::SplitMix64(*options.id_seed ^ 0x1EA5Eull)
                                   : internal::SplitMix64(static_cast<uint64_t>(SteadyNanos()))) {}

SqlitePeer::~SqlitePeer() {
  internal::MutexLock pool_lock(&pool_mu_);
  idle_.clear();
  internal::MutexLock mem_lock(&mem_mu_);
  mem_connection_.reset();
}

absl::StatusOr<std::unique_ptr<SqlitePeer>> SqlitePeer::Open(const SqlitePeerOptions& options) {
  if (options.clock == nullptr) return absl::InvalidArgumentError("clock must not be null");
  std::unique_ptr<SqlitePeer> peer(new SqlitePeer(options));
  CASCADE_ASSIGN_OR_RETURN(std::unique_ptr<PeerConnection> first,
                           peer->OpenConnection(/*create_schema=*/true));
  if (peer->in_memory_) {
    internal::MutexLock lock(&peer->mem_mu_);
    peer->mem_connection_ = std::move(first);
  } else {
    internal::MutexLock lock(&peer->pool_mu_);
    peer->idle_.push_back(std::move(first));
  }
  return peer;
}

// The pragmas, in the order they must run:
//   journal_mode=WAL      (a file) readers never wait for the writer, and a
//                         commit appends to the log instead of writing the
//                         pages twice (rollback journal, then file);
//   synchronous           (a file) NORMAL or FULL, from the options;
//   wal_autocheckpoint,
//   journal_size_limit    (a file) a longer log than SQLite's default, as the
//                         engine's store keeps: fewer checkpoints (each one
//                         syncs under NORMAL too);
//   cache_size            per connection, from the options;
//   mmap_size             (a file) read the database file through a mapping;
//   temp_store=MEMORY     sorts and temporary b-trees never touch a file.
// The connection is opened SQLITE_OPEN_NOMUTEX (multi-thread mode): a
// connection is only ever used by one thread at a time (the pool, or the
// in-memory mutex, sees to that), so SQLite's own per-connection mutex would
// be locked for nothing on every call.
absl::StatusOr<std::unique_ptr<PeerConnection>> SqlitePeer::OpenConnection(
    bool create_schema) const {
  sqlite3* db = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(options_.path.c_str(), &db, flags, nullptr);
  // The connection owns `db` from here on, even if opening failed. (Only
  // SubmitBatch, a non-const call, writes the peer's state through it.)
  auto connection = std::make_unique<PeerConnection>(const_cast<SqlitePeer&>(*this), db);
  if (rc != SQLITE_OK) return SqliteError(db, rc, absl::StrCat("opening ", options_.path));
  connections_.fetch_add(1, std::memory_order_relaxed);
  if (!in_memory_) {
    if (options_.busy_wait == SqlitePeerOptions::BusyWait::kShortSleeps) {
      connection->busy.waits = &busy_waits_;
      connection->busy.timeout_ns = absl::ToInt64Nanoseconds(options_.busy_timeout);
      sqlite3_busy_handler(db, ShortSleepBusyHandler, &connection->busy);
    } else {
      sqlite3_busy_timeout(db, static_cast<int>(absl::ToInt64Milliseconds(options_.busy_timeout)));
    }
    CASCADE_RETURN_IF_ERROR(connection->Exec("PRAGMA journal_mode = WAL"));
    CASCADE_RETURN_IF_ERROR(connection->Exec(options_.sync == SqlitePeerOptions::Sync::kFull
                                                 ? "PRAGMA synchronous = FULL"
                                                 : "PRAGMA synchronous = NORMAL"));
    CASCADE_RETURN_IF_ERROR(connection->Exec(
        absl::StrCat("PRAGMA wal_autocheckpoint = ", options_.wal_autocheckpoint_pages)));
    CASCADE_RETURN_IF_ERROR(connection->Exec(
        absl::StrCat("PRAGMA journal_size_limit = ", options_.journal_size_limit_bytes)));
    CASCADE_RETURN_IF_ERROR(
        connection->Exec(absl::StrCat("PRAGMA mmap_size = ", options_.mmap_bytes)));
  }
  // Negative: a size in KiB rather than in pages.
  CASCADE_RETURN_IF_ERROR(
      connection->Exec(absl::StrCat("PRAGMA cache_size = ", -(options_.cache_bytes / 1024))));
  CASCADE_RETURN_IF_ERROR(connection->Exec("PRAGMA temp_store = MEMORY"));
  if (create_schema) {
    CASCADE_RETURN_IF_ERROR(connection->Exec("BEGIN IMMEDIATE"));
    absl::Status schema = connection->Exec(kSchema);
    if (schema.ok() && options_.batch_counts_table) schema = connection->Exec(kCountsSchema);
    if (schema.ok()) schema = connection->Exec("COMMIT");
    if (!schema.ok()) {
      connection->Exec("ROLLBACK").IgnoreError();
      return schema;
    }
  }
  CASCADE_RETURN_IF_ERROR(connection->PrepareAll(options_.batch_counts_table));
  return connection;
}

template <typename Op>
auto SqlitePeer::WithConnection(Op&& op) const -> decltype(op(std::declval<PeerConnection&>())) {
  if (in_memory_) {
    internal::MutexLock lock(&mem_mu_);
    return op(*mem_connection_);
  }
  std::unique_ptr<PeerConnection> connection;
  {
    internal::MutexLock lock(&pool_mu_);
    if (!idle_.empty()) {
      connection = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (connection == nullptr) {
    auto opened = OpenConnection(/*create_schema=*/false);
    if (!opened.ok()) return opened.status();
    connection = *std::move(opened);
  }
  auto result = op(*connection);
  internal::MutexLock lock(&pool_mu_);
  idle_.push_back(std::move(connection));
  return result;
}

absl::StatusOr<PeerBatchResult> SqlitePeer::SubmitBatch(std::string_view team,
                                                        absl::Span<const JobSpec> specs) {
  if (specs.empty() || specs.size() > kMaxBatchJobs) {
    return InvalidArgumentWithViolations(
        "invalid batch",
        {{"jobs", absl::StrCat("a batch has 1-", kMaxBatchJobs, " jobs, got ", specs.size())}});
  }
  const int64_t now_ms = NowMillis();
  return WithConnection([&](PeerConnection& c) { return c.SubmitBatch(team, specs, now_ms); });
}

absl::StatusOr<PeerJob> SqlitePeer::Get(std::string_view team, JobId id) const {
  return WithConnection([&](PeerConnection& c) { return c.Get(team, id); });
}

absl::StatusOr<std::vector<PeerJob>> SqlitePeer::CancelMany(std::string_view team,
                                                            absl::Span<const JobId> ids) {
  // The engine's request checks, with its messages.
  if (ids.empty() || ids.size() > 1000) {
    return InvalidArgumentWithViolations(
        "invalid cancel request",
        {{"jobs", absl::StrCat("expected 1-", 1000, " ids, got ", ids.size())}});
  }
  {
    absl::flat_hash_map<JobId, size_t> first;
    first.reserve(ids.size());
    std::vector<FieldViolation> dups;
    for (size_t i = 0; i < ids.size(); ++i) {
      auto [it, inserted] = first.emplace(ids[i], i);
      if (!inserted) {
        dups.push_back({absl::StrCat("jobs[", i, "]"),
                        absl::StrCat(ids[i].ToString(), " repeats jobs[", it->second, "]")});
      }
    }
    if (!dups.empty()) return InvalidArgumentWithViolations("duplicate job ids", dups);
  }
  const int64_t now_ms = NowMillis();
  return WithConnection([&](PeerConnection& c) { return c.CancelMany(team, ids, now_ms); });
}

absl::StatusOr<BatchCounts> SqlitePeer::GetBatchCounts(std::string_view team, BatchId id) const {
  return WithConnection([&](PeerConnection& c) { return c.GetBatchCounts(team, id); });
}

int64_t SqlitePeer::NextLeaseToken() {
  // Positive and never 0, so that it reads back the same from an INTEGER.
  uint64_t token = 0;
  while (token == 0) {
    token = internal::SplitMix64(
                lease_state_.fetch_add(internal::kSplitMixGamma, std::memory_order_relaxed)) >>
            1;
  }
  return static_cast<int64_t>(token);
}

absl::StatusOr<PeerClaim> SqlitePeer::Claim(std::string_view worker) {
  const int64_t now_ms = NowMillis();
  const int64_t token = NextLeaseToken();
  return WithConnection([&](PeerConnection& c) { return c.Claim(worker, now_ms, token); });
}

absl::StatusOr<PeerJob> SqlitePeer::Finish(JobId id, int64_t lease_token) {
  const int64_t now_ms = NowMillis();
  return WithConnection([&](PeerConnection& c) { return c.Finish(id, lease_token, now_ms); });
}

absl::StatusOr<std::vector<PeerJob>> SqlitePeer::List(std::string_view team, JobState state,
                                                      size_t limit) const {
  if (limit < 1 || limit > 1000) {
    return InvalidArgumentWithViolations("invalid list query",
                                         {{"limit", absl::StrCat("must be 1-1000, got ", limit)}});
  }
  return WithConnection([&](PeerConnection& c) { return c.List(team, state, limit); });
}

absl::Status SqlitePeer::Warm(size_t n) {
  if (in_memory_) return absl::OkStatus();
  while (true) {
    {
      internal::MutexLock lock(&pool_mu_);
      if (idle_.size() >= n) return absl::OkStatus();
    }
    CASCADE_ASSIGN_OR_RETURN(std::unique_ptr<PeerConnection> connection,
                             OpenConnection(/*create_schema=*/false));
    internal::MutexLock lock(&pool_mu_);
    idle_.push_back(std::move(connection));
  }
}

absl::Status SqlitePeer::Checkpoint() {
  if (in_memory_) return absl::OkStatus();
  return WithConnection(
      [](PeerConnection& c) { return c.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); });
}

int64_t SqlitePeer::FileBytes() const {
  if (in_memory_) return 0;
  int64_t total = 0;
  for (const std::string& path : {options_.path, options_.path + "-wal"}) {
    struct stat st;
    if (stat(path.c_str(), &st) == 0) total += st.st_size;
  }
  return total;
}

int64_t SqlitePeer::MemoryUsed() { return sqlite3_memory_used(); }

PeerStats SqlitePeer::stats() const {
  PeerStats stats;
  stats.busy_waits = busy_waits_.load(std::memory_order_relaxed);
  stats.busy_retries = busy_retries_.load(std::memory_order_relaxed);
  stats.connections = connections_.load(std::memory_order_relaxed);
  return stats;
}

}  // namespace cascade::bench
