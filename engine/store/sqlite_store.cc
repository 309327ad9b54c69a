// Copyright 2026 The Cascade Authors.
//
// SqliteStore: the Store on one SQLite file. OpenSqliteStore owns opening
// (the directory, its lock, creating or checking and migrating the file);
// the store's writer thread owns committing (group commit).

#include "engine/store/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <iterator>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/mutex.h"
#include "engine/store/group_commit.h"
#include "engine/util/status_macros.h"
#include "engine/util/strings.h"

namespace cascade::internal {
namespace {

namespace fs = std::filesystem;

constexpr char kDbName[] = "cascade.db";
constexpr char kLockName[] = "LOCK";
// A new database is built under this name and renamed to kDbName when it is
// complete, so a cascade.db is never a half-created file.
constexpr char kNewDbName[] = "cascade.db-new";
constexpr char kMetaTable[] = "meta";
// Ends every DataLoss message about the database file.
constexpr char kRestoreHint[] =
    "; restore a backup (docs/durability.md), or move the file away to start empty";
// PRAGMA quick_check lines quoted in an error.
constexpr size_t kMaxCheckLines = 5;
// The WAL is truncated back to this size after a checkpoint if a burst grew
// it beyond.
constexpr int64_t kJournalSizeLimit = int64_t{64} << 20;
// The store checkpoints (copies the log into the database file and syncs
// both) once a commit leaves the log this many pages long (4 KiB each, so
// ~40 MB). SQLite's default is 1000. A checkpoint copies each page once
// however often the log holds it, and the engine rewrites the same hot job
// rows again and again, so a longer log means fewer page copies and fewer
// syncs per group; the price is a log of up to ~40 MB and a longer recovery
// (reading it) at the next open after a crash.
constexpr int kCheckpointPages = 10'000;
// The checkpoint thread copies the log in passes until fewer than this many
// frames are left to copy; the writer copies those (see SqliteStore).
constexpr int kResidualFrames = 256;
// At most this many passes a checkpoint, however fast the log grows.
constexpr int kMaxCheckpointPasses = 4;
// The checkpoint connection's page cache (a checkpoint reads the log's frames
// directly, not through it).
constexpr int kCheckpointCacheKib = 1024;
// The connection's page cache: 32 MiB, allocated as used (SQLite's default is
// 2 MiB). A commit reads every B-tree page it changes; pages found here cost
// no read from the OS.
constexpr int kCacheKib = 32 * 1024;

// ---- SQLite helpers -----------------------------------------------------------

const char* SqliteCodeName(int rc) {
  switch (rc & 0xff) {
    case SQLITE_ERROR:
      return "SQLITE_ERROR";
    case SQLITE_INTERNAL:
      return "SQLITE_INTERNAL";
    case SQLITE_PERM:
      return "SQLITE_PERM";
    case SQLITE_ABORT:
      return "SQLITE_ABORT";
    case SQLITE_BUSY:
      return "SQLITE_BUSY";
    case SQLITE_LOCKED:
      return "SQLITE_LOCKED";
    case SQLITE_NOMEM:
      return "SQLITE_NOMEM";
    case SQLITE_READONLY:
      return "SQLITE_READONLY";
    case SQLITE_IOERR:
      return "SQLITE_IOERR";
    case SQLITE_CORRUPT:
      return "SQLITE_CORRUPT";
    case SQLITE_FULL:
      return "SQLITE_FULL";
    case SQLITE_CANTOPEN:
      return "SQLITE_CANTOPEN";
    case SQLITE_PROTOCOL:
      return "SQLITE_PROTOCOL";
    case SQLITE_SCHEMA:
      return "SQLITE_SCHEMA";
    case SQLITE_TOOBIG:
      return "SQLITE_TOOBIG";
    case SQLITE_CONSTRAINT:
      return "SQLITE_CONSTRAINT";
    case SQLITE_MISUSE:
      return "SQLITE_MISUSE";
    case SQLITE_NOTADB:
      return "SQLITE_NOTADB";
    default:
      return "SQLITE_?";
  }
}

absl::StatusCode CodeForSqlite(int rc) {
  switch (rc & 0xff) {
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return absl::StatusCode::kDataLoss;
    case SQLITE_FULL:
    case SQLITE_NOMEM:
      return absl::StatusCode::kResourceExhausted;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_PROTOCOL:
      return absl::StatusCode::kUnavailable;
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      return absl::StatusCode::kPermissionDenied;
    case SQLITE_CANTOPEN:
      return absl::StatusCode::kFailedPrecondition;
    case SQLITE_TOOBIG:
      return absl::StatusCode::kInvalidArgument;
    default:
      return absl::StatusCode::kInternal;
  }
}

// "SQLite: database or disk is full (SQLITE_FULL, 13)". `db` may be null.
std::string SqliteMessage(sqlite3* db, int rc) {
  const char* text = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return absl::StrCat("SQLite: ", text, " (", SqliteCodeName(rc), ", ", rc, ")");
}

absl::Status SqliteStatus(sqlite3* db, int rc, std::string_view context) {
  return absl::Status(CodeForSqlite(rc), absl::StrCat(Sv(context), ": ", SqliteMessage(db, rc)));
}

struct StmtDeleter {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

// Closes a connection that is given up on (error paths): sqlite3_close_v2
// never fails; the store's Close closes with sqlite3_close to see errors.
struct DbDeleter {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Db = std::unique_ptr<sqlite3, DbDeleter>;

// A prepared statement meant to live as long as the connection. On error the
// status carries SQLite's code and message (errors from reading the file's
// header or schema surface here: SQLITE_NOTADB, SQLITE_CORRUPT).
absl::StatusOr<Stmt> Prepare(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  Stmt stmt(raw);
  if (rc != SQLITE_OK) return SqliteStatus(db, rc, absl::StrCat("preparing `", Sv(sql), "`"));
  return stmt;
}

// Steps `stmt` to completion (rows, if any, are ignored) and resets it.
absl::Status StepDone(sqlite3* db, sqlite3_stmt* stmt) {
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
  }
  absl::Status status;
  if (rc != SQLITE_DONE) status = SqliteStatus(db, rc, sqlite3_sql(stmt));
  sqlite3_reset(stmt);
  return status;
}

// The single integer a statement such as "PRAGMA user_version" returns.
absl::StatusOr<int64_t> QueryInt(sqlite3* db, std::string_view sql) {
  CASCADE_ASSIGN_OR_RETURN(Stmt stmt, Prepare(db, sql));
  const int rc = sqlite3_step(stmt.get());
  if (rc != SQLITE_ROW) return SqliteStatus(db, rc, sql);
  return sqlite3_column_int64(stmt.get(), 0);
}

// Every row's first column as text.
absl::StatusOr<std::vector<std::string>> QueryStrings(sqlite3* db, std::string_view sql) {
  CASCADE_ASSIGN_OR_RETURN(Stmt stmt, Prepare(db, sql));
  std::vector<std::string> out;
  int rc;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(stmt.get(), 0);
    out.emplace_back(text != nullptr ? reinterpret_cast<const char*>(text) : "");
  }
  if (rc != SQLITE_DONE) return SqliteStatus(db, rc, sql);
  return out;
}

// Binds bytes as a BLOB. A null pointer would bind NULL, hence "" for empty.
int BindBytes(sqlite3_stmt* stmt, int index, std::string_view bytes) {
  return sqlite3_bind_blob64(stmt, index, bytes.empty() ? "" : bytes.data(), bytes.size(),
                             SQLITE_STATIC);
}

// ---- Files --------------------------------------------------------------------

absl::Status ErrnoStatus(int err, std::string_view context) {
  return absl::Status(absl::ErrnoToStatusCode(err),
                      absl::StrCat(Sv(context), ": ", std::strerror(err)));
}

absl::Status FsyncPath(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("opening ", path, " to sync it"));
  const int rc = fsync(fd);
  const int err = errno;
  close(fd);
  if (rc != 0) return ErrnoStatus(err, absl::StrCat("fsync of ", path));
  return absl::OkStatus();
}

// The data directory, created (with its parents) if missing. Each directory
// created is made durable in its parent (fsync of the parent).
absl::Status EnsureDirectory(const std::string& dir) {
  std::error_code ec;
  const fs::file_status st = fs::status(dir, ec);
  if (fs::exists(st)) {
    if (!fs::is_directory(st)) {
      return absl::FailedPreconditionError(
          absl::StrCat("data directory ", dir, " exists but is not a directory"));
    }
    return absl::OkStatus();
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return ErrnoStatus(ec.value(), absl::StrCat("data directory ", dir));
  }
  fs::path target = fs::absolute(fs::path(dir), ec).lexically_normal();
  if (ec) return ErrnoStatus(ec.value(), absl::StrCat("data directory ", dir));
  if (target.filename().empty()) target = target.parent_path();  // "a/b/" -> "a/b"
  std::vector<fs::path> created;                                 // deepest first
  for (fs::path p = target; !p.empty() && !fs::exists(p, ec); p = p.parent_path()) {
    created.push_back(p);
    if (p == p.parent_path()) break;
  }
  fs::create_directories(target, ec);
  if (ec) return ErrnoStatus(ec.value(), absl::StrCat("creating data directory ", dir));
  for (const fs::path& p : created) CASCADE_RETURN_IF_ERROR(FsyncPath(p.parent_path().string()));
  return absl::OkStatus();
}

// An flock(2) on <dir>/LOCK, held while the store is open. flock rather than
// SQLite's PRAGMA locking_mode=EXCLUSIVE because:
//  - it is taken before SQLite touches any file, so a second opener fails at
//    once with a message that says what is going on, never reads a file in
//    the middle of its creation, and changes nothing;
//  - it also covers what happens outside SQLite (building cascade.db-new and
//    renaming it into place);
//  - it leaves SQLite's normal locking in place, so the sqlite3 shell can read
//    the database while Cascade runs (`.backup`, inspection); EXCLUSIVE mode
//    would lock every other reader out;
//  - locks belong to open file descriptions, so two stores in one process
//    exclude each other too, and the kernel drops the lock when the process
//    dies, however it dies.
class DirectoryLock {
 public:
  static absl::StatusOr<DirectoryLock> Acquire(const std::string& dir) {
    const std::string path = (fs::path(dir) / kLockName).string();
    const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoStatus(errno, absl::StrCat("opening lock file ", path));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      std::string holder;
      char buf[32] = {};
      const ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
      if (n > 0) {
        std::string pid(buf, static_cast<size_t>(n));
        while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
        holder = absl::StrCat(" (it names process ", pid,
                              pid == std::to_string(getpid()) ? ", this one)" : ")");
      }
      close(fd);
      if (err == EWOULDBLOCK) {
        return absl::FailedPreconditionError(absl::StrCat(
            "data directory ", dir, " is in use: another Cascade store holds ", path, holder));
      }
      return ErrnoStatus(err, absl::StrCat("locking ", path));
    }
    // For the message above; the lock itself is the flock, not the content.
    const std::string pid = absl::StrCat(getpid(), "\n");
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) < 0) {
      // Not fatal: the lock is held either way.
    }
    return DirectoryLock(fd);
  }

  DirectoryLock(DirectoryLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  DirectoryLock& operator=(DirectoryLock&& other) noexcept {
    Release();
    fd_ = std::exchange(other.fd_, -1);
    return *this;
  }
  ~DirectoryLock() { Release(); }

  void Release() {
    if (fd_ >= 0) close(fd_);  // drops the flock
    fd_ = -1;
  }

 private:
  explicit DirectoryLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// ---- Schema -------------------------------------------------------------------

std::string CreateTable(Table table) {
  return absl::StrCat("CREATE TABLE ", Sv(TableName(table)),
                      " (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;");
}

absl::Status CreateSchemaV1(sqlite3* db) {
  std::string sql =
      absl::StrCat("PRAGMA application_id = ", kSqliteApplicationId, ";",
                   "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;",
                   "INSERT INTO meta (key, value) VALUES",
                   " ('format', 'Cascade data directory (docs/durability.md)'),",
                   " ('created_at', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));");
  for (Table table :
       {Table::kJobs, Table::kEdges, Table::kBatches, Table::kLeases, Table::kOutbox}) {
    absl::StrAppend(&sql, CreateTable(table));
  }
  return SqliteExec(db, sql);
}

// Schema 2 (contract §15): the worker list and the render logs.
absl::Status AddWorkersAndLogs(sqlite3* db) {
  return SqliteExec(db, absl::StrCat(CreateTable(Table::kWorkers), CreateTable(Table::kLogs)));
}

constexpr SqliteMigration kMigrations[] = {
    {"create the schema", &CreateSchemaV1},
    {"add the workers and logs tables", &AddWorkersAndLogs},
};

bool IsKnownTable(std::string_view name) {
  if (name == kMetaTable) return true;
  for (Table table : kAllTables) {
    if (name == TableName(table)) return true;
  }
  return false;
}

// Runs migrations[from..] on `db`, each step in a transaction of its own that
// also sets user_version to the step's target.
absl::Status Migrate(sqlite3* db, const std::string& path, int64_t from,
                     std::span<const SqliteMigration> migrations) {
  for (size_t k = static_cast<size_t>(from); k < migrations.size(); ++k) {
    absl::Status status = SqliteExec(db, "BEGIN IMMEDIATE");
    if (status.ok()) status = migrations[k].apply(db);
    if (status.ok()) status = SqliteExec(db, absl::StrCat("PRAGMA user_version = ", k + 1));
    if (status.ok()) status = SqliteExec(db, "COMMIT");
    if (!status.ok()) {
      if (sqlite3_get_autocommit(db) == 0) SqliteExec(db, "ROLLBACK").IgnoreError();
      return absl::Status(status.code(),
                          absl::StrCat(path, ": migrating from schema ", k, " to ", k + 1, " (",
                                       Sv(migrations[k].what), ") failed: ", status.message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Db> OpenConnection(const std::string& path, int flags, int busy_timeout_ms) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw,
                                 flags | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) return SqliteStatus(raw, rc, absl::StrCat("opening ", path));
  sqlite3_busy_timeout(db.get(), busy_timeout_ms);
  return db;
}

// Builds a new database at <dir>/cascade.db-new (every migration, WAL mode),
// closes it (which checkpoints the log into the file) and renames it to
// <dir>/cascade.db.
absl::Status CreateDatabase(const std::string& dir, std::span<const SqliteMigration> migrations,
                            int busy_timeout_ms) {
  const std::string tmp = (fs::path(dir) / kNewDbName).string();
  const std::string final_path = (fs::path(dir) / kDbName).string();
  // Leftovers of a creation that died half-way (we hold the lock).
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    const std::string leftover = tmp + suffix;
    if (unlink(leftover.c_str()) != 0 && errno != ENOENT) {
      return ErrnoStatus(errno, absl::StrCat("removing ", leftover));
    }
  }
  {
    CASCADE_ASSIGN_OR_RETURN(
        Db db, OpenConnection(tmp, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, busy_timeout_ms));
    CASCADE_ASSIGN_OR_RETURN(std::vector<std::string> mode,
                             QueryStrings(db.get(), "PRAGMA journal_mode = WAL"));
    if (mode.size() != 1 || mode[0] != "wal") {
      return absl::InternalError(absl::StrCat(tmp, ": could not switch to WAL mode"));
    }
    CASCADE_RETURN_IF_ERROR(SqliteExec(db.get(), "PRAGMA synchronous = FULL"));
    CASCADE_RETURN_IF_ERROR(Migrate(db.get(), tmp, 0, migrations));
    sqlite3* raw = db.release();
    const int rc = sqlite3_close(raw);
    if (rc != SQLITE_OK) {
      absl::Status status = SqliteStatus(raw, rc, absl::StrCat("closing ", tmp));
      sqlite3_close_v2(raw);
      return status;
    }
  }
  // The close checkpointed the log into the file and removed it; renaming a
  // file whose log still held data would lose that data.
  if (fs::exists(tmp + "-wal")) {
    return absl::InternalError(absl::StrCat(tmp, "-wal still exists after closing ", tmp));
  }
  CASCADE_RETURN_IF_ERROR(FsyncPath(tmp));
  if (rename(tmp.c_str(), final_path.c_str()) != 0) {
    return ErrnoStatus(errno, absl::StrCat("renaming ", tmp, " to ", final_path));
  }
  return FsyncPath(dir);
}

// Every SQLite 3 database begins with these 16 bytes (the file format's
// "magic header string"); the header is 100 bytes long.
constexpr char kSqliteMagic[] = "SQLite format 3";  // and its terminating NUL
constexpr size_t kSqliteHeaderSize = 100;

// DataLoss unless `path` starts with a SQLite header. Checked before SQLite
// opens the file, to tell "not a SQLite database" from "a damaged one".
absl::Status CheckSqliteHeader(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("opening ", path));
  char header[kSqliteHeaderSize];
  size_t got = 0;
  while (got < sizeof(header)) {
    const ssize_t n = pread(fd, header + got, sizeof(header) - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(fd);
  if (got < sizeof(header) || std::memcmp(header, kSqliteMagic, sizeof(kSqliteMagic)) != 0) {
    return absl::DataLossError(absl::StrCat(
        path, " is not a SQLite database (",
        got < sizeof(header) ? absl::StrCat(got, " bytes, shorter than a SQLite header")
                             : std::string("no SQLite header"),
        "): it was overwritten or truncated, or is not Cascade's", kRestoreHint));
  }
  return absl::OkStatus();
}

// Reads the identity and health of an existing file, without writing to it.
// Returns its schema version.
absl::StatusOr<int64_t> CheckDatabase(sqlite3* db, const std::string& path,
                                      const SqliteStoreOptions& options, int64_t max_version) {
  auto damaged = [&path](const absl::Status& s) {
    if (s.code() == absl::StatusCode::kDataLoss) {
      return absl::DataLossError(
          absl::StrCat(path, " is damaged (", s.message(), ")", kRestoreHint));
    }
    return absl::Status(s.code(), absl::StrCat("reading ", path, ": ", s.message()));
  };
  // The first statement reads the header and the schema: a damaged first
  // page, or a file shorter than its header says, fails here.
  absl::StatusOr<int64_t> app_id = QueryInt(db, "PRAGMA application_id");
  if (!app_id.ok()) return damaged(app_id.status());
  absl::StatusOr<int64_t> version = QueryInt(db, "PRAGMA user_version");
  if (!version.ok()) return damaged(version.status());
  absl::StatusOr<std::vector<std::string>> tables = QueryStrings(
      db,
      "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' "
      "ESCAPE '\\' ORDER BY name");
  if (!tables.ok()) return damaged(tables.status());

  if (*app_id != kSqliteApplicationId) {
    return absl::FailedPreconditionError(absl::StrCat(
        "not a Cascade data directory: ", path,
        " is a SQLite database of another application (application_id ", *app_id, "; Cascade's is ",
        kSqliteApplicationId, " = 0x", absl::Hex(kSqliteApplicationId),
        "; tables: ", tables->empty() ? "none" : absl::StrJoin(*tables, ", "), ")"));
  }
  if (*version > max_version) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " was written by a newer Cascade (schema ", *version,
                     ", this build reads up to ", max_version, ")"));
  }
  if (*version < 1) {
    return absl::DataLossError(absl::StrCat(
        path, " is damaged: it has Cascade's application_id but no schema version", kRestoreHint));
  }
  if (options.quick_check) {
    absl::StatusOr<std::vector<std::string>> check = QueryStrings(db, "PRAGMA quick_check");
    if (!check.ok()) return damaged(check.status());
    if (check->size() != 1 || (*check)[0] != "ok") {
      std::vector<std::string> lines = std::move(*check);
      const size_t total = lines.size();
      if (lines.size() > kMaxCheckLines) lines.resize(kMaxCheckLines);
      return absl::DataLossError(absl::StrCat(
          path, " is damaged (PRAGMA quick_check: ", absl::StrJoin(lines, "; "),
          total > kMaxCheckLines ? absl::StrCat("; and ", total - kMaxCheckLines, " more") : "",
          ")", kRestoreHint));
    }
  }
  std::vector<std::string> unknown;
  for (const std::string& name : *tables) {
    if (!IsKnownTable(name)) unknown.push_back(name);
  }
  if (!unknown.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("not a Cascade data directory: ", path,
                     " has tables Cascade does not know: ", absl::StrJoin(unknown, ", ")));
  }
  return *version;
}

// Every table the store uses exists (after migrations).
absl::Status CheckTablesExist(sqlite3* db, const std::string& path) {
  CASCADE_ASSIGN_OR_RETURN(std::vector<std::string> tables,
                           QueryStrings(db, "SELECT name FROM sqlite_schema WHERE type = 'table'"));
  auto has = [&tables](std::string_view name) {
    for (const std::string& t : tables) {
      if (t == name) return true;
    }
    return false;
  };
  std::vector<std::string> missing;
  if (!has(kMetaTable)) missing.push_back(kMetaTable);
  for (Table table : kAllTables) {
    if (!has(TableName(table))) missing.emplace_back(TableName(table));
  }
  if (!missing.empty()) {
    return absl::DataLossError(absl::StrCat(
        path, " is damaged: table(s) ", absl::StrJoin(missing, ", "), " missing", kRestoreHint));
  }
  return absl::OkStatus();
}

// The connections' own setting. Under kFull the store syncs the log itself
// after commits (`own_sync`, SqliteStore::SyncLog), so SQLite syncs as under
// NORMAL: the log's header when it starts over, and both files around a
// checkpoint.
const char* SyncPragma(SqliteStoreOptions::Sync sync, bool own_sync = true) {
  switch (sync) {
    case SqliteStoreOptions::Sync::kFull:
      return own_sync ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL";
    case SqliteStoreOptions::Sync::kNormal:
      return "PRAGMA synchronous = NORMAL";
    case SqliteStoreOptions::Sync::kOff:
      return "PRAGMA synchronous = OFF";
  }
  return nullptr;
}

constexpr size_t kTableCount = std::size(kAllTables);

// The statements the store reuses, one set per table.
struct Statements {
  Stmt begin, commit, rollback;
  Stmt put[kTableCount];
  Stmt del[kTableCount];
  Stmt load[kTableCount];
};

absl::StatusOr<Statements> PrepareStatements(sqlite3* db) {
  Statements s;
  CASCADE_ASSIGN_OR_RETURN(s.begin, Prepare(db, "BEGIN IMMEDIATE"));
  CASCADE_ASSIGN_OR_RETURN(s.commit, Prepare(db, "COMMIT"));
  CASCADE_ASSIGN_OR_RETURN(s.rollback, Prepare(db, "ROLLBACK"));
  for (Table table : kAllTables) {
    const size_t i = static_cast<size_t>(table);
    const absl::string_view name = Sv(TableName(table));
    CASCADE_ASSIGN_OR_RETURN(
        s.put[i], Prepare(db, absl::StrCat("INSERT INTO ", name,
                                           " (key, value) VALUES (?1, ?2) ON CONFLICT (key) "
                                           "DO UPDATE SET value = excluded.value")));
    CASCADE_ASSIGN_OR_RETURN(s.del[i],
                             Prepare(db, absl::StrCat("DELETE FROM ", name, " WHERE key = ?1")));
    CASCADE_ASSIGN_OR_RETURN(
        s.load[i], Prepare(db, absl::StrCat("SELECT key, value FROM ", name, " ORDER BY key")));
  }
  return s;
}

// ---- The store ----------------------------------------------------------------

// The group commit is GroupCommitter's (group_commit.h); the store gives it
// the transaction (CommitBatch), under Sync::kFull the sync of the log
// (SyncLog), and keeps the connection.
//
// Checkpoints run beside the writer, not on it. SQLite's own (PRAGMA
// wal_autocheckpoint) runs inside the COMMIT that crossed the threshold: the
// writer copies the log into the database file and syncs both, and every
// caller waits meanwhile (a quarter of the time under NORMAL, measured). Here
// the WAL hook only notes the log's length; past kCheckpointPages the writer
// asks the checkpoint thread, which copies the log on a connection of its
// own while commits go on (SQLite's PASSIVE mode: it waits for no writer).
// The log can start over only once every frame in it has been copied, which
// a checkpoint racing the writer never achieves; so the last step (the few
// frames committed during the copy) is the writer's, between two commits,
// and the commit after it starts the log over.
class SqliteStore final : public Store {
 public:
  SqliteStore(std::string path, DirectoryLock lock, Db db, Statements statements, Db checkpoint_db,
              int wal_fd, const SqliteStoreOptions& options, const SqliteStoreSeams& seams)
      : path_(path),
        checkpoint_pages_(seams.checkpoint_pages > 0 ? seams.checkpoint_pages : kCheckpointPages),
        db_(std::move(db)),
        stmts_(std::move(statements)),
        checkpoint_db_(std::move(checkpoint_db)),
        wal_fd_(wal_fd),
        seams_(seams),
        lock_(std::move(lock)),
        committer_(
            std::move(path), options.max_commit_bytes,
            [this](const std::vector<GroupCommitter::Group>& batch) {
              MutexLock db_lock(&db_mu_);
              return CommitBatch(batch);
            },
            Hooks(seams)) {
    {
      MutexLock db_lock(&db_mu_);
      next_checkpoint_at_ = checkpoint_pages_;
      // Replaces SQLite's automatic checkpoint (sqlite3_wal_hook and
      // wal_autocheckpoint override each other).
      sqlite3_wal_hook(db_.get(), &SqliteStore::OnWalCommit, this);
    }
    checkpointer_ = std::thread([this] { CheckpointLoop(); });
  }

  ~SqliteStore() override { Close().IgnoreError(); }

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
    MutexLock db_lock(&db_mu_);
    if (db_ == nullptr)
      return absl::FailedPreconditionError(absl::StrCat(path_, ": store is closed"));
    sqlite3_stmt* stmt = stmts_.load[static_cast<size_t>(table)].get();
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      // Pointer first, then size (sqlite3_column_bytes after the conversion).
      const void* key = sqlite3_column_blob(stmt, 0);
      const size_t key_size = static_cast<size_t>(sqlite3_column_bytes(stmt, 0));
      const void* value = sqlite3_column_blob(stmt, 1);
      const size_t value_size = static_cast<size_t>(sqlite3_column_bytes(stmt, 1));
      absl::Status status = visit(std::string_view(static_cast<const char*>(key), key_size),
                                  std::string_view(static_cast<const char*>(value), value_size));
      if (!status.ok()) {
        sqlite3_reset(stmt);
        return status;
      }
    }
    absl::Status status;
    if (rc != SQLITE_DONE) {
      status = SqliteStatus(db_.get(), rc,
                            absl::StrCat(path_, ": reading table ", Sv(TableName(table))));
    }
    sqlite3_reset(stmt);
    return status;
  }

  absl::Status Close() override {
    MutexLock close_lock(&close_mu_);
    if (closed_) return close_status_;
    absl::Status status = committer_.Stop();  // it commits and syncs what is queued first
    {
      MutexLock lock(&checkpoint_mu_);
      checkpoint_stop_ = true;
    }
    checkpoint_cv_.SignalAll();
    if (checkpointer_.joinable()) checkpointer_.join();
    // Not the last connection (db_ is open), so it neither checkpoints nor
    // removes the log.
    checkpoint_db_.reset();
    {
      MutexLock db_lock(&db_mu_);
      stmts_ = Statements();  // finalizes them: sqlite3_close needs that
      sqlite3* raw = db_.release();
      // The last connection's close checkpoints the log into cascade.db and
      // removes cascade.db-wal (unless someone else has the file open).
      const int rc = sqlite3_close(raw);
      if (rc != SQLITE_OK) {
        if (status.ok()) status = SqliteStatus(raw, rc, absl::StrCat("closing ", path_));
        sqlite3_close_v2(raw);
      }
    }
    // SQLite holds no lock on the log file (its locks are on cascade.db and
    // cascade.db-shm), so closing this descriptor releases none of them.
    if (wal_fd_ >= 0) close(wal_fd_);
    lock_.Release();
    closed_ = true;
    close_status_ = status;
    return status;
  }

  StoreStats GetStats() const override {
    StoreStats stats = committer_.stats();
    {
      MutexLock db_lock(&db_mu_);
      stats.log_pages = log_pages_;
    }
    MutexLock lock(&checkpoint_mu_);
    stats.checkpoints = checkpoints_;
    stats.checkpoint_ns = checkpoint_ns_;
    stats.writer_checkpoint_ns = writer_checkpoint_ns_;
    return stats;
  }

 private:
  enum class CheckpointState {
    kIdle,       // nothing asked
    kRequested,  // the checkpoint thread is copying the log
    kCopied,     // it has; the writer copies the rest after its next commit
  };

  GroupCommitter::Hooks Hooks(const SqliteStoreSeams& seams) {
    GroupCommitter::Hooks hooks;
    if (wal_fd_ >= 0) hooks.sync = [this] { return SyncLog(); };  // kFull, own_sync
    hooks.after_commit = [this] {
      if (seams_.after_commit) seams_.after_commit();
      AfterCommit();
    };
    hooks.before_commit = seams.before_commit;
    hooks.before_sync = seams.before_sync;
    hooks.after_sync = seams.after_sync;
    return hooks;
  }

  // Sync::kFull's sync (the syncer thread): the log's bytes written by every
  // COMMIT that returned before this call are on the disk when it returns.
  // The log is the only file a commit writes (the database file changes
  // only at checkpoints, which sync it), and its directory entry was synced
  // by SQLite when it wrote the log's first header.
  absl::Status SyncLog() {
    if (fdatasync(wal_fd_) != 0) {
      return ErrnoStatus(errno, absl::StrCat("fdatasync of ", path_, "-wal"));
    }
    return absl::OkStatus();
  }

  // One transaction with every change of `batch`, in order.
  absl::Status CommitBatch(const std::vector<GroupCommitter::Group>& batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu_) {
    sqlite3* db = db_.get();
    CASCADE_RETURN_IF_ERROR(StepDone(db, stmts_.begin.get()));
    absl::Status status;
    for (const GroupCommitter::Group& group : batch) {
      for (const Change& change : group.changes) {
        const size_t t = static_cast<size_t>(change.table);
        sqlite3_stmt* stmt = change.value.has_value() ? stmts_.put[t].get() : stmts_.del[t].get();
        int rc = BindBytes(stmt, 1, change.key);
        if (rc == SQLITE_OK && change.value.has_value()) rc = BindBytes(stmt, 2, *change.value);
        if (rc != SQLITE_OK) {
          status = SqliteStatus(db, rc, "binding a row");
        } else {
          status = StepDone(db, stmt);
        }
        if (!status.ok()) break;
      }
      if (!status.ok()) break;
    }
    if (status.ok()) status = StepDone(db, stmts_.commit.get());
    // A failed statement or COMMIT may have ended the transaction already.
    if (!status.ok() && sqlite3_get_autocommit(db) == 0) {
      StepDone(db, stmts_.rollback.get()).IgnoreError();
    }
    return status;
  }

  // SQLite's WAL hook: runs inside each COMMIT (the writer, db_mu_ held)
  // once the transaction is in the log, with the log's length in frames.
  static int OnWalCommit(void* self, sqlite3* /*db*/, const char* /*name*/,
                         int frames) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    SqliteStore& store = *static_cast<SqliteStore*>(self);
    // Fewer frames than last time: the log started over.
    if (frames < store.wal_frames_) {
      store.next_checkpoint_at_ = store.checkpoint_pages_;
      store.log_pages_ += static_cast<uint64_t>(frames);
    } else {
      store.log_pages_ += static_cast<uint64_t>(frames - store.wal_frames_);
    }
    store.wal_frames_ = frames;
    return SQLITE_OK;
  }

  // The writer, after each commit has been handed on: asks for a checkpoint
  // once the log is long enough, and copies its last frames when the
  // checkpoint thread has copied the rest.
  void AfterCommit() {
    {
      MutexLock db_lock(&db_mu_);
      if (wal_frames_ < next_checkpoint_at_) return;
    }
    {
      MutexLock lock(&checkpoint_mu_);
      if (checkpoint_state_ == CheckpointState::kIdle) {
        checkpoint_state_ = CheckpointState::kRequested;
        checkpoint_cv_.Signal();
        return;
      }
      if (checkpoint_state_ == CheckpointState::kRequested) return;
    }
    // kCopied: only what was committed during the copy is left. Copied here,
    // between two commits, no frame is added meanwhile, so the log is then
    // copied whole and the next commit starts it over (unless a reader of the
    // file still uses an old snapshot: then the log goes on growing, and the
    // next checkpoint comes a quarter of the threshold later).
    const std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    {
      MutexLock db_lock(&db_mu_);
      // Errors are SQLite's automatic checkpoint's too: nothing is lost (the
      // log still holds every frame), and a real disk error fails the next
      // commit.
      sqlite3_wal_checkpoint_v2(db_.get(), "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      next_checkpoint_at_ = wal_frames_ + checkpoint_pages_ / 4;
    }
    const uint64_t nanos =
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::steady_clock::now() - start)
                                  .count());
    MutexLock lock(&checkpoint_mu_);
    checkpoint_state_ = CheckpointState::kIdle;
    writer_checkpoint_ns_ += nanos;
  }

  // The checkpoint thread: copies the log into the database file on its own
  // connection, in passes, until little is left (then kCopied), whenever the
  // writer asks; until Close.
  void CheckpointLoop() {
    for (;;) {
      {
        MutexLock lock(&checkpoint_mu_);
        while (checkpoint_state_ != CheckpointState::kRequested && !checkpoint_stop_) {
          checkpoint_cv_.Wait(&checkpoint_mu_);
        }
        if (checkpoint_stop_) return;
      }
      if (seams_.before_checkpoint) seams_.before_checkpoint();
      const std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
      for (int pass = 0; pass < kMaxCheckpointPasses; ++pass) {
        int log_frames = 0;
        int copied = 0;
        const int rc = sqlite3_wal_checkpoint_v2(checkpoint_db_.get(), "main",
                                                 SQLITE_CHECKPOINT_PASSIVE, &log_frames, &copied);
        if (rc != SQLITE_OK || log_frames - copied <= kResidualFrames) break;
      }
      const uint64_t nanos =
          static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                    std::chrono::steady_clock::now() - start)
                                    .count());
      MutexLock lock(&checkpoint_mu_);
      checkpoint_state_ = CheckpointState::kCopied;
      checkpoints_ += 1;
      checkpoint_ns_ += nanos;
    }
  }

  const std::string path_;
  const int checkpoint_pages_;

  // The connection and its statements: the writer's commits, Load, Close.
  mutable Mutex db_mu_;
  Db db_ ABSL_GUARDED_BY(db_mu_);
  Statements stmts_ ABSL_GUARDED_BY(db_mu_);
  // The log's length after the last commit (OnWalCommit), and the length at
  // which the writer asks for the next checkpoint.
  int wal_frames_ ABSL_GUARDED_BY(db_mu_) = 0;
  int next_checkpoint_at_ ABSL_GUARDED_BY(db_mu_) = 0;
  uint64_t log_pages_ ABSL_GUARDED_BY(db_mu_) = 0;  // StoreStats::log_pages

  // The checkpoint thread's connection (its own until Close joins it).
  Db checkpoint_db_;
  // cascade.db-wal, for SyncLog (the syncer thread's; closed by Close).
  const int wal_fd_;
  const SqliteStoreSeams seams_;

  mutable Mutex checkpoint_mu_;
  CondVar checkpoint_cv_;
  CheckpointState checkpoint_state_ ABSL_GUARDED_BY(checkpoint_mu_) = CheckpointState::kIdle;
  bool checkpoint_stop_ ABSL_GUARDED_BY(checkpoint_mu_) = false;
  uint64_t checkpoints_ ABSL_GUARDED_BY(checkpoint_mu_) = 0;
  uint64_t checkpoint_ns_ ABSL_GUARDED_BY(checkpoint_mu_) = 0;
  uint64_t writer_checkpoint_ns_ ABSL_GUARDED_BY(checkpoint_mu_) = 0;

  // Lock order: close_mu_, then the committer's, checkpoint_mu_ or db_mu_
  // (Close holds close_mu_ throughout and takes the others one at a time).
  // The committer holds none of its locks while it calls CommitBatch,
  // SyncLog or AfterCommit; AfterCommit takes db_mu_ and checkpoint_mu_ one
  // at a time.
  Mutex close_mu_ ABSL_ACQUIRED_BEFORE(db_mu_, checkpoint_mu_);
  bool closed_ ABSL_GUARDED_BY(close_mu_) = false;
  absl::Status close_status_ ABSL_GUARDED_BY(close_mu_);
  DirectoryLock lock_ ABSL_GUARDED_BY(close_mu_);  // released by Close
  std::thread checkpointer_;                       // started by the constructor
  GroupCommitter committer_;                       // last: its threads start once the rest exists
};

}  // namespace

std::span<const SqliteMigration> SqliteMigrations() { return kMigrations; }

absl::Status SqliteExec(sqlite3* db, std::string_view sql) {
  const std::string text(sql);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, text.c_str(), nullptr, nullptr, &error);
  if (rc == SQLITE_OK) return absl::OkStatus();
  absl::Status status(CodeForSqlite(rc),
                      absl::StrCat("`", text, "`: SQLite: ", error != nullptr ? error : "?", " (",
                                   SqliteCodeName(rc), ", ", rc, ")"));
  sqlite3_free(error);
  return status;
}

absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::string& data_dir,
                                                       const SqliteStoreOptions& options) {
  return OpenSqliteStore(data_dir, options, SqliteStoreSeams());
}

absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::string& data_dir,
                                                       const SqliteStoreOptions& options,
                                                       const SqliteStoreSeams& seams) {
  if (data_dir.empty()) return absl::InvalidArgumentError("OpenSqliteStore: empty data_dir");
  if (options.max_commit_bytes == 0) {
    return absl::InvalidArgumentError("OpenSqliteStore: max_commit_bytes must be > 0");
  }
  if (options.busy_timeout_ms < 0) {
    return absl::InvalidArgumentError("OpenSqliteStore: busy_timeout_ms must be >= 0");
  }
  if (SyncPragma(options.synchronous) == nullptr) {
    return absl::InvalidArgumentError("OpenSqliteStore: unknown synchronous setting");
  }
  if (seams.migrations.empty()) {
    return absl::InvalidArgumentError("OpenSqliteStore: no migrations");
  }
  const int64_t max_version = static_cast<int64_t>(seams.migrations.size());

  CASCADE_RETURN_IF_ERROR(EnsureDirectory(data_dir));
  CASCADE_ASSIGN_OR_RETURN(DirectoryLock lock, DirectoryLock::Acquire(data_dir));

  const std::string path = (fs::path(data_dir) / kDbName).string();
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return ErrnoStatus(errno, absl::StrCat("reading ", path));
    // A log without its database: applying it to a new file would mix two
    // histories, and creating a new file would throw the log's data away.
    if (fs::exists(path + "-wal")) {
      return absl::FailedPreconditionError(absl::StrCat(
          path, "-wal exists but ", path,
          " does not: the database file was removed or moved; put it back (or move the -wal "
          "file away to start empty)"));
    }
    CASCADE_RETURN_IF_ERROR(CreateDatabase(data_dir, seams.migrations, options.busy_timeout_ms));
  } else if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(path, " is not a regular file"));
  } else if (st.st_size == 0) {
    return absl::DataLossError(absl::StrCat(
        path,
        " is empty (0 bytes): Cascade creates its database complete before it gives it this "
        "name, so the file was truncated or made by something else",
        kRestoreHint));
  }

  CASCADE_RETURN_IF_ERROR(CheckSqliteHeader(path));
  // No SQLITE_OPEN_CREATE: the file exists (a file removed since is an error).
  CASCADE_ASSIGN_OR_RETURN(Db db,
                           OpenConnection(path, SQLITE_OPEN_READWRITE, options.busy_timeout_ms));
  // Until the file is known to be ours, closing must not checkpoint a log
  // into it (a refused file stays as it was).
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  CASCADE_ASSIGN_OR_RETURN(const int64_t version,
                           CheckDatabase(db.get(), path, options, max_version));
  if (sqlite3_db_readonly(db.get(), "main") == 1) {
    return absl::PermissionDeniedError(absl::StrCat(path, " can only be opened read-only"));
  }
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, nullptr);

  CASCADE_ASSIGN_OR_RETURN(std::vector<std::string> mode,
                           QueryStrings(db.get(), "PRAGMA journal_mode = WAL"));
  if (mode.size() != 1 || mode[0] != "wal") {
    return absl::InternalError(absl::StrCat(path, ": could not switch to WAL mode"));
  }
  // Under kFull the store syncs the log itself (SqliteStore::SyncLog), which
  // writes the same bytes as SQLite's FULL only where SQLite would not pad a
  // commit's last frame to the end of its sector: on a file system that
  // declares power-safe overwrite (SQLite's default on Unix). Elsewhere
  // SQLite's FULL syncs inside COMMIT.
  bool own_sync = false;
  if (options.synchronous == SqliteStoreOptions::Sync::kFull) {
    sqlite3_file* file = nullptr;
    own_sync =
        sqlite3_file_control(db.get(), "main", SQLITE_FCNTL_FILE_POINTER, &file) == SQLITE_OK &&
        file != nullptr && file->pMethods != nullptr &&
        (file->pMethods->xDeviceCharacteristics(file) & SQLITE_IOCAP_POWERSAFE_OVERWRITE) != 0;
  }
  CASCADE_RETURN_IF_ERROR(SqliteExec(db.get(), SyncPragma(options.synchronous, own_sync)));
  CASCADE_RETURN_IF_ERROR(
      SqliteExec(db.get(), absl::StrCat("PRAGMA journal_size_limit = ", kJournalSizeLimit,
                                        "; PRAGMA cache_size = -", kCacheKib)));
  CASCADE_RETURN_IF_ERROR(Migrate(db.get(), path, version, seams.migrations));
  CASCADE_RETURN_IF_ERROR(CheckTablesExist(db.get(), path));
  CASCADE_ASSIGN_OR_RETURN(Statements statements, PrepareStatements(db.get()));
  if (seams.on_open) CASCADE_RETURN_IF_ERROR(seams.on_open(db.get()));

  // The checkpoint thread's connection. Its checkpoints sync as the writer's
  // connection would; it never checkpoints at close (the writer's, closed
  // last, does).
  CASCADE_ASSIGN_OR_RETURN(Db checkpoint_db,
                           OpenConnection(path, SQLITE_OPEN_READWRITE, options.busy_timeout_ms));
  sqlite3_db_config(checkpoint_db.get(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  CASCADE_RETURN_IF_ERROR(
      SqliteExec(checkpoint_db.get(), SyncPragma(options.synchronous, own_sync)));
  CASCADE_RETURN_IF_ERROR(
      SqliteExec(checkpoint_db.get(), absl::StrCat("PRAGMA cache_size = -", kCheckpointCacheKib)));

  // The log, for Sync::kFull's own sync. The connection made it when it
  // first read the file in WAL mode (above); SQLite removes it only when the
  // last connection closes.
  int wal_fd = -1;
  if (own_sync) {
    wal_fd = open((path + "-wal").c_str(), O_RDWR | O_CLOEXEC);
    if (wal_fd < 0) return ErrnoStatus(errno, absl::StrCat("opening ", path, "-wal to sync it"));
  }
  return std::make_unique<SqliteStore>(path, std::move(lock), std::move(db), std::move(statements),
                                       std::move(checkpoint_db), wal_fd, options, seams);
}

}  // namespace cascade::internal
