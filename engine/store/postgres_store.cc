// Copyright 2026 The Cascade Authors.
//
// PostgresStore: the Store in a PostgreSQL database, with the leader lease.
// OpenPostgresStore owns opening (connecting, creating or checking the
// schema, taking the lease); the store's writer thread owns committing
// (group commit, each transaction fenced by the epoch), its renewal thread
// owns keeping the lease.

#include "engine/store/postgres_store.h"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/mutex.h"
#include "engine/store/group_commit.h"
#include "engine/util/status_macros.h"
#include "engine/util/strings.h"

namespace cascade::internal {
namespace {

using SteadyClock = std::chrono::steady_clock;

// pg_advisory_xact_lock's key while the schema is created or checked, so
// that servers starting together on an empty database create it once.
constexpr int64_t kSchemaLockKey = 0x43534344;  // "CSCD", as the SQLite file's id
// PostgreSQL's type oids (pg_type.dat): bytea and bytea[].
constexpr Oid kByteaArrayOid = 1001;
constexpr Oid kByteaOid = 17;

// ---- libpq helpers --------------------------------------------------------------

struct ConnDeleter {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
using Conn = std::unique_ptr<PGconn, ConnDeleter>;

struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

// libpq's message on one line: its lines (a connection error has one per
// address tried, indented with a tab) joined with "; ".
std::string Trimmed(const char* text) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(text != nullptr ? text : "", '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    if (!out.empty()) out += "; ";
    out.append(line.data(), line.size());
  }
  return out;
}

// The status code of a failed result: by SQLSTATE class where one says
// something the caller can act on.
absl::StatusCode CodeForSqlState(std::string_view state, bool connection_bad) {
  if (connection_bad) return absl::StatusCode::kUnavailable;
  if (state.size() != 5) return absl::StatusCode::kUnavailable;  // no answer: connection
  const std::string_view klass = state.substr(0, 2);
  if (klass == "08" || klass == "57" || klass == "53") return absl::StatusCode::kUnavailable;
  if (klass == "28" || state == "42501") return absl::StatusCode::kPermissionDenied;
  if (klass == "40") return absl::StatusCode::kAborted;
  if (state == "25P03") return absl::StatusCode::kUnavailable;  // idle in transaction timeout
  return absl::StatusCode::kInternal;
}

// `context`: "PostgreSQL: <message> (SQLSTATE 42P01)".
absl::Status ResultError(PGconn* conn, const PGresult* result, std::string_view context) {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string message = Trimmed(result != nullptr ? PQresultErrorMessage(result) : "");
  const std::string text = message.empty() ? Trimmed(PQerrorMessage(conn)) : message;
  const bool bad = PQstatus(conn) != CONNECTION_OK;
  return absl::Status(
      CodeForSqlState(state != nullptr ? state : "", bad),
      absl::StrCat(Sv(context), ": PostgreSQL: ", text,
                   state != nullptr ? absl::StrCat(" (SQLSTATE ", state, ")") : ""));
}

// OK if `result` is a success (rows or not).
absl::Status Check(PGconn* conn, const Result& result, std::string_view context) {
  const ExecStatusType status =
      result != nullptr ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return absl::OkStatus();
  return ResultError(conn, result.get(), context);
}

// Runs `sql` (one or more statements, no parameters); an error names
// `context`, or the SQL itself.
absl::StatusOr<Result> Exec(PGconn* conn, std::string_view sql, std::string_view context = "") {
  const std::string text(sql);
  Result result(PQexec(conn, text.c_str()));
  CASCADE_RETURN_IF_ERROR(Check(conn, result, context.empty() ? sql : context));
  return result;
}

// Runs `sql` with text parameters.
absl::StatusOr<Result> ExecText(PGconn* conn, std::string_view sql,
                                const std::vector<std::string>& params) {
  const std::string text(sql);
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const std::string& p : params) values.push_back(p.c_str());
  Result result(PQexecParams(conn, text.c_str(), static_cast<int>(values.size()), nullptr,
                             values.data(), nullptr, nullptr, 0));
  CASCADE_RETURN_IF_ERROR(Check(conn, result, text));
  return result;
}

// Waits up to `limit` for the result of the query sent on `conn`. False:
// PostgreSQL is still running it. True: PQgetResult returns without
// blocking (the result, or the broken connection's error).
bool AwaitResult(PGconn* conn, absl::Duration limit) {
  const absl::Time deadline = absl::Now() + limit;
  while (PQisBusy(conn)) {
    const int64_t left_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (left_ms <= 0) return false;
    pollfd fd{PQsocket(conn), POLLIN, 0};
    // Woken by input or by the time running out: either way, read what came.
    poll(&fd, 1, static_cast<int>(std::min<int64_t>(left_ms, 1000)));
    if (PQconsumeInput(conn) == 0) return true;  // broken: PQgetResult says so
  }
  return true;
}

// The result of the query sent on `conn`, once AwaitResult said it is
// there; the connection is ready for the next query after.
absl::StatusOr<Result> TakeResult(PGconn* conn, std::string_view context) {
  Result result(PQgetResult(conn));
  while (Result rest{PQgetResult(conn)}) {
  }
  CASCADE_RETURN_IF_ERROR(Check(conn, result, context));
  return result;
}

// A bytea[] in PostgreSQL's binary array format (array_recv): a header of
// dimensions, the element type and bounds, then each element's length and
// bytes, all integers in network order.
class ByteaArray {
 public:
  void Add(std::string_view bytes) {
    ++count_;
    PutInt(static_cast<uint32_t>(bytes.size()));
    elements_.append(bytes.data(), bytes.size());
  }
  size_t size() const { return count_; }

  std::string Encode() const {
    std::string out;
    out.reserve(20 + elements_.size());
    auto put = [&out](uint32_t v) {
      const uint32_t n = htonl(v);
      out.append(reinterpret_cast<const char*>(&n), sizeof n);
    };
    put(1);          // dimensions
    put(0);          // no nulls
    put(kByteaOid);  // element type
    put(static_cast<uint32_t>(count_));
    put(1);  // lower bound
    out += elements_;
    return out;
  }

 private:
  void PutInt(uint32_t v) {
    const uint32_t n = htonl(v);
    elements_.append(reinterpret_cast<const char*>(&n), sizeof n);
  }
  size_t count_ = 0;
  std::string elements_;
};

// Connects with `url`, libpq's defaults under it: the URL's own settings win.
absl::StatusOr<Conn> Connect(const std::string& url, const std::string& redacted,
                             const PostgresStoreOptions& options) {
  const std::string timeout =
      absl::StrCat(std::max<int64_t>(1, absl::ToInt64Seconds(options.connect_timeout)));
  // TCP keepalives, and tcp_user_timeout (a lease), so that a connection
  // to a host that vanished (a partition, a machine gone) fails within about
  // a lease rather than hanging a commit for the kernel's many minutes.
  const std::string user_timeout =
      absl::StrCat(std::max<int64_t>(1000, absl::ToInt64Milliseconds(options.lease)));
  // Later keywords override earlier ones, and `dbname` is expanded as the
  // URL: what the URL sets wins.
  const char* keywords[] = {"connect_timeout",
                            "application_name",
                            "keepalives",
                            "keepalives_idle",
                            "keepalives_interval",
                            "keepalives_count",
                            "tcp_user_timeout",
                            "dbname",
                            nullptr};
  const char* values[] = {timeout.c_str(),      "cascade",   "1",    "5", "2", "3",
                          user_timeout.c_str(), url.c_str(), nullptr};
  Conn conn(PQconnectdbParams(keywords, values, /*expand_dbname=*/1));
  if (conn == nullptr) return absl::ResourceExhaustedError("libpq: out of memory");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    const std::string message = Trimmed(PQerrorMessage(conn.get()));
    absl::StatusCode code = absl::StatusCode::kUnavailable;
    if (absl::StrContains(message, "authentication failed") ||
        absl::StrContains(message, "no password supplied") ||
        (absl::StrContains(message, "role \"") && absl::StrContains(message, "does not exist"))) {
      code = absl::StatusCode::kPermissionDenied;
    } else if (absl::StrContains(message, "database \"") &&
               absl::StrContains(message, "does not exist")) {
      code = absl::StatusCode::kFailedPrecondition;
    }
    return absl::Status(code, absl::StrCat("connecting to ", redacted, ": ", message));
  }
  return conn;
}

// "10.000000": seconds for make_interval.
std::string Seconds(absl::Duration d) { return absl::StrFormat("%.6f", absl::ToDoubleSeconds(d)); }

// The commit connection's session settings, after every (re)connection.
// A commit that PostgreSQL sees idle in its transaction for half a lease
// (its process paused, say) is ended by PostgreSQL, so that its row lock on
// the leader row cannot hold a takeover back past the lease.
absl::Status ConfigureWriter(PGconn* conn, const PostgresStoreOptions& options) {
  const int64_t idle_ms = std::max<int64_t>(1, absl::ToInt64Milliseconds(options.lease / 2));
  return Exec(conn,
              absl::StrCat("SET synchronous_commit TO ", options.synchronous_commit ? "on" : "off",
                           "; SET idle_in_transaction_session_timeout = ", idle_ms))
      .status();
}

// ---- Schema -----------------------------------------------------------------------

std::string TableSql(Table table) { return absl::StrCat("cascade.", Sv(TableName(table))); }

// Creates schema version 1 in a database that has no schema `cascade`.
absl::Status CreateSchema(PGconn* conn) {
  std::string sql =
      "CREATE SCHEMA cascade;"
      "CREATE TABLE cascade.meta (key text PRIMARY KEY, value text NOT NULL);"
      "INSERT INTO cascade.meta VALUES ('application', 'cascade'), ('schema_version', '1');"
      "CREATE TABLE cascade.leader (id int PRIMARY KEY CHECK (id = 1), epoch bigint NOT NULL,"
      " holder text NOT NULL, acquired_at timestamptz, renewed_at timestamptz,"
      " expires_at timestamptz NOT NULL);"
      "INSERT INTO cascade.leader (id, epoch, holder, expires_at) VALUES (1, 0, '', '-infinity');";
  for (Table table : kAllTables) {
    absl::StrAppend(&sql, "CREATE TABLE ", TableSql(table),
                    " (key bytea PRIMARY KEY, value bytea NOT NULL);");
  }
  return Exec(conn, sql, "CREATE SCHEMA cascade and its tables").status();
}

// Creates the schema in an empty database, or checks the one there.
absl::Status EnsureSchema(PGconn* conn, const std::string& redacted) {
  CASCADE_RETURN_IF_ERROR(Exec(conn, "BEGIN").status());
  auto fail = [conn](absl::Status status) {
    Exec(conn, "ROLLBACK").IgnoreError();
    return status;
  };
  absl::StatusOr<Result> locked =
      Exec(conn, absl::StrCat("SELECT pg_advisory_xact_lock(", kSchemaLockKey, ")"));
  if (!locked.ok()) return fail(locked.status());
  absl::StatusOr<Result> found =
      Exec(conn,
           "SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = 'cascade'),"
           " to_regclass('cascade.meta') IS NOT NULL,"
           " (SELECT string_agg(relname, ', ' ORDER BY relname) FROM pg_class c JOIN pg_namespace n"
           "  ON n.oid = c.relnamespace WHERE n.nspname = 'cascade' AND c.relkind = 'r')");
  if (!found.ok()) return fail(found.status());
  const bool schema = std::string_view(PQgetvalue(found->get(), 0, 0)) != "0";
  const bool meta = std::string_view(PQgetvalue(found->get(), 0, 1)) == "t";
  const std::string tables =
      PQgetisnull(found->get(), 0, 2) ? "none" : PQgetvalue(found->get(), 0, 2);
  if (!schema) {
    absl::Status created = CreateSchema(conn);
    if (!created.ok()) {
      return fail(absl::Status(
          created.code(), absl::StrCat(redacted, ": creating the schema: ", created.message())));
    }
    return Exec(conn, "COMMIT").status();
  }
  auto foreign = [&](std::string_view why) {
    return fail(absl::FailedPreconditionError(absl::StrCat(
        "not a Cascade database: ", redacted, " has a schema `cascade` ", Sv(why),
        " (its tables: ", tables, "); point --data at another database, or drop that schema")));
  };
  if (!meta) return foreign("without Cascade's table cascade.meta");
  absl::StatusOr<Result> rows = Exec(conn, "SELECT key, value FROM cascade.meta");
  if (!rows.ok()) return fail(rows.status());
  std::string application;
  std::string version;
  for (int i = 0; i < PQntuples(rows->get()); ++i) {
    const std::string_view key = PQgetvalue(rows->get(), i, 0);
    if (key == "application") application = PQgetvalue(rows->get(), i, 1);
    if (key == "schema_version") version = PQgetvalue(rows->get(), i, 1);
  }
  if (application != "cascade") return foreign("whose cascade.meta names another application");
  int parsed = 0;
  if (!absl::SimpleAtoi(version, &parsed) || parsed < 1) {
    return foreign("whose cascade.meta has no schema version");
  }
  if (parsed > kPostgresSchemaVersion) {
    return fail(absl::FailedPreconditionError(
        absl::StrCat(redacted, " was written by a newer Cascade (schema ", parsed,
                     ", this build reads up to ", kPostgresSchemaVersion, ")")));
  }
  return Exec(conn, "COMMIT").status();
}

// ---- The lease --------------------------------------------------------------------

// Pushes the lease of `epoch` a lease (`lease`, in seconds) ahead of
// PostgreSQL's clock, if the row still names that epoch and has not lapsed.
// False: it lapsed, or another store took over.
absl::StatusOr<bool> Renew(PGconn* conn, const std::string& epoch, const std::string& lease) {
  CASCADE_ASSIGN_OR_RETURN(
      Result renewed, ExecText(conn,
                               "UPDATE cascade.leader SET renewed_at = clock_timestamp(),"
                               " expires_at = clock_timestamp() + make_interval(secs => $2::float8)"
                               " WHERE id = 1 AND epoch = $1 AND expires_at > clock_timestamp()",
                               {epoch, lease}));
  return std::string_view(PQcmdTuples(renewed.get())) == "1";
}

// Ends the sessions that hold a lock `pid`'s query waits for.
absl::Status EndBlockers(const std::string& url, const std::string& redacted,
                         const PostgresStoreOptions& options, int pid) {
  CASCADE_ASSIGN_OR_RETURN(Conn helper, Connect(url, redacted, options));
  CASCADE_ASSIGN_OR_RETURN(Result ended, ExecText(helper.get(),
                                                  "SELECT pid, pg_terminate_backend(pid)"
                                                  " FROM unnest(pg_blocking_pids($1::int)) AS pid",
                                                  {absl::StrCat(pid)}));
  for (int i = 0; i < PQntuples(ended.get()); ++i) {
    if (std::string_view(PQgetvalue(ended.get(), i, 1)) != "t") {
      return absl::UnavailableError(
          absl::StrCat("PostgreSQL did not end session ", PQgetvalue(ended.get(), i, 0)));
    }
  }
  return absl::OkStatus();
}

// The takeover: the leader row with the next epoch, if its lease lapsed.
// The UPDATE waits only when the lease lapsed and a transaction still holds
// the row (a commit's fence, FOR SHARE): the old leader's, stalled while
// PostgreSQL waits for the rest of its statement (its process paused, or cut
// off mid-send), where the idle-in-transaction timeout does not reach. After
// half a lease that session is ended, and the takeover goes on; PostgreSQL
// rolls the stalled commit back and it fails in the old leader, whose lease
// had lapsed. If it cannot be ended (PostgreSQL refuses: another role's
// session), the attempt is cancelled and Unavailable says why.
absl::StatusOr<Result> TakeLapsedLease(PGconn* conn, const std::string& url,
                                       const std::string& redacted,
                                       const PostgresStoreOptions& options) {
  constexpr std::string_view kTake =
      "UPDATE cascade.leader SET epoch = epoch + 1, holder = $1,"
      " acquired_at = clock_timestamp(), renewed_at = clock_timestamp(),"
      " expires_at = clock_timestamp() + make_interval(secs => $2::float8)"
      " WHERE id = 1 AND expires_at <= clock_timestamp() RETURNING epoch";
  const std::string lease = Seconds(options.lease);
  const char* values[] = {options.holder.c_str(), lease.c_str()};
  if (PQsendQueryParams(conn, kTake.data(), 2, nullptr, values, nullptr, nullptr, 0) == 0) {
    return ResultError(conn, nullptr, kTake);
  }
  const absl::Duration patience = options.lease / 2;
  const absl::Time asked = absl::Now();
  if (!AwaitResult(conn, patience)) {
    absl::Status ended = EndBlockers(url, redacted, options, PQbackendPID(conn));
    if (!ended.ok() || !AwaitResult(conn, patience)) {
      if (PGcancel* cancel = PQgetCancel(conn)) {
        std::array<char, 256> error{};
        PQcancel(cancel, error.data(), static_cast<int>(error.size()));
        PQfreeCancel(cancel);
      }
      // The UPDATE's answer: cancelled, or done just before the cancel came
      // (then the lease is this store's after all).
      if (AwaitResult(conn, patience)) {
        absl::StatusOr<Result> late = TakeResult(conn, kTake);
        if (late.ok()) return late;
      }
      return absl::UnavailableError(absl::StrCat(
          redacted, ": the leader lease lapsed, but a transaction still holds its row after ",
          absl::FormatDuration(absl::Trunc(absl::Now() - asked, absl::Milliseconds(100))),
          ended.ok() ? "" : absl::StrCat(" (ending it: ", ended.message(), ")"),
          "; this server waits as a standby"));
    }
  }
  return TakeResult(conn, kTake);
}

// The leader row, for the message of a refused takeover.
std::string DescribeLeader(PGconn* conn) {
  absl::StatusOr<Result> row = Exec(conn,
                                    "SELECT holder, epoch, GREATEST(0, EXTRACT(EPOCH FROM"
                                    " expires_at - clock_timestamp()))::numeric(10,1)"
                                    " FROM cascade.leader WHERE id = 1");
  if (!row.ok() || PQntuples(row->get()) != 1) return "another store";
  return absl::StrCat("\"", PQgetvalue(row->get(), 0, 0), "\" (epoch ",
                      PQgetvalue(row->get(), 0, 1), ") for another ", PQgetvalue(row->get(), 0, 2),
                      " s");
}

std::string DefaultHolder() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "unknown-host");
  return absl::StrCat(host, " pid ", getpid());
}

// ---- The store --------------------------------------------------------------------

class PostgresStore final : public Store {
 public:
  PostgresStore(std::string redacted, Conn writer, Conn renewer, uint64_t epoch,
                SteadyClock::time_point renewed, const PostgresStoreOptions& options,
                const PostgresStoreSeams& seams)
      : redacted_(std::move(redacted)),
        options_(options),
        seams_(seams),
        epoch_(epoch),
        epoch_text_(absl::StrCat(epoch)),
        renewed_(renewed.time_since_epoch().count()),
        writer_conn_(std::move(writer)),
        renew_conn_(std::move(renewer)),
        committer_(
            redacted_, options.max_commit_bytes,
            [this](const std::vector<GroupCommitter::Group>& batch) { return Commit(batch); },
            // A commit is durable when it returns (synchronous_commit), so
            // there is no sync step.
            [&seams] {
              GroupCommitter::Hooks hooks;
              hooks.before_commit = seams.before_commit;
              return hooks;
            }()),
        renewal_([this] { RenewLoop(); }) {}

  ~PostgresStore() override { Close().IgnoreError(); }

  absl::StatusOr<uint64_t> Append(std::vector<Change> changes) override {
    return committer_.Append(std::move(changes));
  }

  absl::Status WaitDurable(uint64_t ticket) override { return committer_.WaitDurable(ticket); }

  absl::Status Load(Table table,
                    absl::FunctionRef<absl::Status(std::string_view key, std::string_view value)>
                        visit) override {
    if (TableName(table).empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("Load: table ", static_cast<int>(table), " does not exist"));
    }
    MutexLock conn_lock(&conn_mu_);
    PGconn* conn = writer_conn_.get();
    if (conn == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(redacted_, ": store is closed"));
    }
    const std::string context = absl::StrCat(redacted_, ": reading table ", TableSql(table));
    // Binary results (bytea as its bytes), one row at a time: a table of a
    // million jobs is never in memory twice.
    const std::string sql =
        absl::StrCat("SELECT key, value FROM ", TableSql(table), " ORDER BY key");
    if (PQsendQueryParams(conn, sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 1) != 1 ||
        PQsetSingleRowMode(conn) != 1) {
      return ResultError(conn, nullptr, context);
    }
    absl::Status status;
    for (;;) {
      Result result(PQgetResult(conn));
      if (result == nullptr) break;  // the query is over
      const ExecStatusType type = PQresultStatus(result.get());
      if (type == PGRES_SINGLE_TUPLE) {
        if (!status.ok()) continue;  // drain after the visitor's error
        status = visit(std::string_view(PQgetvalue(result.get(), 0, 0),
                                        static_cast<size_t>(PQgetlength(result.get(), 0, 0))),
                       std::string_view(PQgetvalue(result.get(), 0, 1),
                                        static_cast<size_t>(PQgetlength(result.get(), 0, 1))));
      } else if (type != PGRES_TUPLES_OK && status.ok()) {
        status = ResultError(conn, result.get(), context);
      }
    }
    return status;
  }

  absl::Status Close() override {
    MutexLock close_lock(&close_mu_);
    if (closed_) return close_status_;
    absl::Status status = committer_.Stop();  // it commits what is queued first
    {
      MutexLock lock(&renew_mu_);
      renew_stop_ = true;
    }
    renew_cv_.SignalAll();
    renewal_.join();
    {
      MutexLock conn_lock(&conn_mu_);
      // Gives the lease up, so that a standby takes over at once rather
      // than when it would have lapsed: also after a failed commit (this
      // store leads no more either way). The epoch in the condition makes
      // it a no-op once another store has taken over.
      lost_.store(true, std::memory_order_release);
      if (PQstatus(writer_conn_.get()) != CONNECTION_OK) PQreset(writer_conn_.get());
      if (PQstatus(writer_conn_.get()) == CONNECTION_OK) {
        if (PQtransactionStatus(writer_conn_.get()) != PQTRANS_IDLE) {
          Exec(writer_conn_.get(), "ROLLBACK").IgnoreError();
        }
        ExecText(writer_conn_.get(),
                 "UPDATE cascade.leader SET expires_at = '-infinity' WHERE id = 1 AND epoch = $1",
                 {epoch_text_})
            .IgnoreError();
      }
      writer_conn_.reset();
      renew_conn_.reset();
    }
    closed_ = true;
    close_status_ = status;
    return status;
  }

  StoreStats GetStats() const override { return committer_.stats(); }

  std::optional<LeaderStatus> Lease() const override {
    LeaderStatus lease;
    lease.epoch = epoch_;
    lease.holder = options_.holder;
    lease.lease_age = absl::FromChrono(SteadyClock::now() - RenewedAt());
    lease.leader = !lost_.load(std::memory_order_acquire) && lease.lease_age < options_.lease;
    return lease;
  }

 private:
  SteadyClock::time_point RenewedAt() const {
    return SteadyClock::time_point(SteadyClock::duration(renewed_.load(std::memory_order_acquire)));
  }

  // Ends the lease for good: no group is committed after this one returns
  // (but one already being committed may still be, under its fence).
  void Lose(absl::Status why) {
    lost_.store(true, std::memory_order_release);
    committer_.Fail(absl::Status(why.code(), absl::StrCat(redacted_, ": ", why.message())));
  }

  static absl::Status LostError(uint64_t epoch, std::string_view why) {
    return absl::UnavailableError(absl::StrCat("this server lost the leader lease (", Sv(why),
                                               "; its epoch was ", epoch,
                                               "), so it commits nothing more"));
  }

  // The committer's transaction. Any failure ends the lease: after it, this
  // store's state and the database's may differ, and only a new store
  // (restoring from the database) may lead.
  absl::Status Commit(const std::vector<GroupCommitter::Group>& batch) {
    absl::Status status;
    if (SteadyClock::now() - RenewedAt() >= absl::ToChronoNanoseconds(options_.lease)) {
      status = LostError(epoch_, "not renewed within the lease");
    } else {
      MutexLock conn_lock(&conn_mu_);
      status = CommitBatch(batch);
    }
    if (!status.ok()) lost_.store(true, std::memory_order_release);
    return status;
  }

  // One transaction: the fence, then every change of `batch`. Within the
  // transaction only a key's last change matters, so each table gets one
  // upsert of its written keys and one delete of its deleted ones.
  absl::Status CommitBatch(const std::vector<GroupCommitter::Group>& batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(conn_mu_) {
    PGconn* conn = writer_conn_.get();
    struct Final {
      std::string_view key;
      const std::optional<std::string>* value;
    };
    std::array<std::vector<Final>, std::size(kAllTables)> finals;
    std::array<absl::flat_hash_map<std::string_view, size_t>, std::size(kAllTables)> where;
    for (const GroupCommitter::Group& group : batch) {
      for (const Change& change : group.changes) {
        const size_t t = static_cast<size_t>(change.table);
        auto [it, inserted] = where[t].try_emplace(change.key, finals[t].size());
        if (inserted) {
          finals[t].push_back(Final{change.key, &change.value});
        } else {
          finals[t][it->second].value = &change.value;
        }
      }
    }
    absl::Status begun = Exec(conn, "BEGIN").status();
    if (!begun.ok() && PQstatus(conn) == CONNECTION_BAD) {
      // The connection broke while idle (PostgreSQL restarted, or failed
      // over to another host the URL names): nothing of this commit reached
      // a server, so a new connection may carry it. The fence, inside the
      // transaction, still decides whether it commits.
      PQreset(conn);
      if (PQstatus(conn) == CONNECTION_OK) {
        begun = ConfigureWriter(conn, options_);
        if (begun.ok()) begun = Exec(conn, "BEGIN").status();
      }
    }
    CASCADE_RETURN_IF_ERROR(begun);
    absl::Status status = FencedWrites(conn, finals);
    if (status.ok()) status = Exec(conn, "COMMIT").status();
    if (!status.ok() && PQtransactionStatus(conn) != PQTRANS_IDLE) {
      Exec(conn, "ROLLBACK").IgnoreError();
    }
    return status;
  }

  template <typename Finals>
  absl::Status FencedWrites(PGconn* conn, const Finals& finals)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(conn_mu_) {
    if (!seams_.unfenced) {
      // FOR SHARE: a takeover's UPDATE of the row waits until this
      // transaction ends, and this check sees a takeover committed before.
      CASCADE_ASSIGN_OR_RETURN(Result fence, Exec(conn,
                                                  "SELECT epoch FROM cascade.leader WHERE id = 1"
                                                  " AND expires_at > clock_timestamp() FOR SHARE"));
      if (PQntuples(fence.get()) != 1) {
        return LostError(epoch_, "the database's lease lapsed before this commit");
      }
      const std::string_view epoch = PQgetvalue(fence.get(), 0, 0);
      if (epoch != epoch_text_) {
        return LostError(epoch_, absl::StrCat("another server took over with epoch ", Sv(epoch)));
      }
    }
    for (size_t t = 0; t < finals.size(); ++t) {
      ByteaArray put_keys, put_values, delete_keys;
      for (const auto& f : finals[t]) {
        if (f.value->has_value()) {
          put_keys.Add(f.key);
          put_values.Add(**f.value);
        } else {
          delete_keys.Add(f.key);
        }
      }
      const std::string table = TableSql(kAllTables[t]);
      if (put_keys.size() > 0) {
        const std::string keys = put_keys.Encode();
        const std::string values = put_values.Encode();
        CASCADE_RETURN_IF_ERROR(
            ExecBinary(conn,
                       absl::StrCat("INSERT INTO ", table,
                                    " (key, value) SELECT * FROM unnest($1::bytea[], $2::bytea[])"
                                    " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"),
                       {&keys, &values}));
      }
      if (delete_keys.size() > 0) {
        const std::string keys = delete_keys.Encode();
        CASCADE_RETURN_IF_ERROR(ExecBinary(
            conn, absl::StrCat("DELETE FROM ", table, " WHERE key = ANY($1::bytea[])"), {&keys}));
      }
    }
    return absl::OkStatus();
  }

  // Runs `sql` with binary bytea[] parameters.
  static absl::Status ExecBinary(PGconn* conn, const std::string& sql,
                                 std::initializer_list<const std::string*> params) {
    std::vector<Oid> types(params.size(), kByteaArrayOid);
    std::vector<const char*> values;
    std::vector<int> lengths;
    std::vector<int> formats(params.size(), 1);
    for (const std::string* p : params) {
      values.push_back(p->data());
      lengths.push_back(static_cast<int>(p->size()));
    }
    Result result(PQexecParams(conn, sql.c_str(), static_cast<int>(params.size()), types.data(),
                               values.data(), lengths.data(), formats.data(), 0));
    return Check(conn, result, sql);
  }

  // The renewal thread: every renew_every, pushes expires_at a lease ahead
  // of PostgreSQL's clock, if the row still names this store's epoch and has
  // not lapsed.
  void RenewLoop() {
    const std::string lease = Seconds(options_.lease);
    const auto period = absl::ToChronoNanoseconds(options_.renew_every);
    const auto lease_length = absl::ToChronoNanoseconds(options_.lease);
    MutexLock lock(&renew_mu_);
    while (!renew_stop_ && !lost_.load(std::memory_order_acquire)) {
      renew_cv_.WaitFor(&renew_mu_, period,
                        [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(renew_mu_) { return renew_stop_; });
      if (renew_stop_ || lost_.load(std::memory_order_acquire)) return;
      if (!seams_.renew || seams_.renew()) {
        const SteadyClock::time_point start = SteadyClock::now();
        PGconn* conn = renew_conn_.get();
        if (PQstatus(conn) != CONNECTION_OK) PQreset(conn);  // a dropped connection
        absl::StatusOr<bool> renewed = Renew(conn, epoch_text_, lease);
        if (renewed.ok()) {
          if (*renewed) {
            renewed_.store(start.time_since_epoch().count(), std::memory_order_release);
          } else {
            Lose(
                LostError(epoch_, "the lease lapsed or another server took over before a renewal"));
            return;
          }
        }
        // An error (PostgreSQL unreachable): tried again next period, and
        // the lease runs out below if it stays so.
      }
      if (SteadyClock::now() - RenewedAt() >= lease_length) {
        Lose(LostError(epoch_, "not renewed within the lease"));
        return;
      }
    }
  }

  const std::string redacted_;
  const PostgresStoreOptions options_;
  const PostgresStoreSeams seams_;
  const uint64_t epoch_;
  const std::string epoch_text_;
  // SteadyClock ticks at the start of the last renewal the database took.
  std::atomic<SteadyClock::rep> renewed_;
  std::atomic<bool> lost_{false};

  // The writer's connection (commits, Load, Close's release). The renewal
  // connection is the renewal thread's until Close has joined it.
  Mutex conn_mu_;
  Conn writer_conn_ ABSL_GUARDED_BY(conn_mu_);
  Conn renew_conn_;

  Mutex renew_mu_;
  CondVar renew_cv_;
  bool renew_stop_ ABSL_GUARDED_BY(renew_mu_) = false;

  Mutex close_mu_;
  bool closed_ ABSL_GUARDED_BY(close_mu_) = false;
  absl::Status close_status_ ABSL_GUARDED_BY(close_mu_);
  // Last: their threads start once everything above exists.
  GroupCommitter committer_;
  std::thread renewal_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url,
                                                         const PostgresStoreOptions& given,
                                                         const PostgresStoreSeams& seams) {
  if (!IsPostgresUrl(url)) {
    return absl::InvalidArgumentError(
        absl::StrCat("OpenPostgresStore: not a postgresql:// URL: ", RedactPostgresUrl(url)));
  }
  if (given.max_commit_bytes == 0) {
    return absl::InvalidArgumentError("OpenPostgresStore: max_commit_bytes must be > 0");
  }
  if (given.renew_every <= absl::ZeroDuration() || given.renew_every >= given.lease) {
    return absl::InvalidArgumentError(
        "OpenPostgresStore: the renewal period must be positive and shorter than the lease");
  }
  PostgresStoreOptions options = given;
  if (options.holder.empty()) options.holder = DefaultHolder();
  const std::string redacted = RedactPostgresUrl(url);

  CASCADE_ASSIGN_OR_RETURN(Conn writer, Connect(url, redacted, options));
  CASCADE_RETURN_IF_ERROR(ConfigureWriter(writer.get(), options));
  CASCADE_RETURN_IF_ERROR(EnsureSchema(writer.get(), redacted));

  CASCADE_ASSIGN_OR_RETURN(Result taken, TakeLapsedLease(writer.get(), url, redacted, options));
  if (PQntuples(taken.get()) != 1) {
    return absl::UnavailableError(absl::StrCat(redacted, ": the leader lease is held by ",
                                               DescribeLeader(writer.get()),
                                               "; this server waits as a standby"));
  }
  uint64_t epoch = 0;
  if (!absl::SimpleAtoi(PQgetvalue(taken.get(), 0, 0), &epoch)) {
    return absl::InternalError(absl::StrCat(redacted, ": the leader row's epoch is not a number"));
  }
  auto give_up = [&](absl::Status status) {
    ExecText(writer.get(),
             "UPDATE cascade.leader SET expires_at = '-infinity' WHERE id = 1 AND epoch = $1",
             {absl::StrCat(epoch)})
        .IgnoreError();
    return status;
  };
  // The takeover's expires_at may count from before a wait for the row
  // (PostgreSQL computes the new row, then waits for a stalled commit to
  // end): renewed once now, the lease counts from here, and it cannot lapse
  // before the renewal thread's first turn.
  const SteadyClock::time_point start = SteadyClock::now();
  absl::StatusOr<bool> renewed = Renew(writer.get(), absl::StrCat(epoch), Seconds(options.lease));
  if (!renewed.ok()) return give_up(renewed.status());
  if (!*renewed) {
    return absl::UnavailableError(
        absl::StrCat(redacted, ": the leader lease lapsed while it was taken (epoch ", epoch,
                     "); this server waits as a standby"));
  }
  absl::StatusOr<Conn> renewer = Connect(url, redacted, options);
  if (!renewer.ok()) return give_up(renewer.status());
  return std::make_unique<PostgresStore>(redacted, std::move(writer), *std::move(renewer), epoch,
                                         start, options, seams);
}

}  // namespace cascade::internal
