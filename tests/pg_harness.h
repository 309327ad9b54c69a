// Copyright 2026 The Cascade Authors.
//
// The real PostgreSQL the tests use (contract §17: never a mock). ctest
// starts one throwaway cluster per build tree with scripts/pg_cluster.sh (the
// fixture `postgres` in tests/CMakeLists.txt) and tells each test where it is
// through CASCADE_TEST_PG_DIR; a test makes a database of its own with
// TestDatabase and drops it at the end.
//
//   TestDatabase db;                  // CREATE DATABASE cascade_test_<random>
//   OpenPostgresStore(db.url(), ...);
//   db.Query("SELECT count(*) FROM cascade.jobs");   // psql's -At output
//
// A test run outside ctest (no CASCADE_TEST_PG_DIR) fails, saying how to run
// it: a check that needs PostgreSQL is never skipped.

#ifndef CASCADE_TESTS_PG_HARNESS_H_
#define CASCADE_TESTS_PG_HARNESS_H_

#include <libpq-fe.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace cascade::testing {

// The cluster's URL (its database `postgres`, as superuser `cascade`).
inline std::string PostgresClusterUrl() {
  const char* dir = std::getenv("CASCADE_TEST_PG_DIR");
  if (dir == nullptr) {
    ADD_FAILURE() << "CASCADE_TEST_PG_DIR is not set: run this test through ctest, whose fixture "
                     "starts PostgreSQL (scripts/pg_cluster.sh), or start one yourself: "
                     "scripts/pg_cluster.sh start /tmp/pg && CASCADE_TEST_PG_DIR=/tmp/pg ...";
    return "";
  }
  std::ifstream in(absl::StrCat(dir, "/url"));
  std::string url;
  std::getline(in, url);
  if (url.empty()) ADD_FAILURE() << "no cluster URL in " << dir << "/url";
  return url;
}

// "postgresql://cascade@127.0.0.1:5432/postgres" -> the same with `database`.
inline std::string WithDatabase(const std::string& cluster_url, const std::string& database) {
  return cluster_url.substr(0, cluster_url.rfind('/') + 1) + database;
}

// `url` ("postgresql://cascade@host...") with `user` and `password` in it.
// The cluster has the role `cascade_pw` (password `cascade-test-password`),
// which is no superuser.
inline std::string WithCredentials(const std::string& url, const std::string& user,
                                   const std::string& password) {
  const size_t start = url.find("://") + 3;
  return absl::StrCat(url.substr(0, start), user, ":", password, url.substr(url.find('@')));
}

// Runs `sql` on `url` and returns the first column of every row, one per
// line (as psql -At); fails the test on an error.
inline std::string PgQuery(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  std::string out;
  if (PQstatus(conn) != CONNECTION_OK) {
    ADD_FAILURE() << "connecting to " << url << ": " << PQerrorMessage(conn);
  } else {
    PGresult* result = PQexec(conn, sql.c_str());
    const ExecStatusType status = PQresultStatus(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      ADD_FAILURE() << sql << ": " << PQresultErrorMessage(result);
    } else {
      for (int i = 0; i < PQntuples(result); ++i) {
        if (i > 0) out += "\n";
        out += PQgetvalue(result, i, 0);
      }
    }
    PQclear(result);
  }
  PQfinish(conn);
  return out;
}

// A database of its own for one test, dropped (with its connections) at the
// end.
class TestDatabase {
 public:
  TestDatabase() : cluster_(PostgresClusterUrl()) {
    std::random_device random;
    name_ = absl::StrCat("cascade_test_", getpid(), "_", random() % 1000000000);
    if (!cluster_.empty()) PgQuery(cluster_, absl::StrCat("CREATE DATABASE ", name_));
  }
  ~TestDatabase() {
    if (!cluster_.empty())
      PgQuery(cluster_, absl::StrCat("DROP DATABASE ", name_, " WITH (FORCE)"));
  }
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  std::string url() const { return WithDatabase(cluster_, name_); }
  const std::string& name() const { return name_; }
  std::string Query(const std::string& sql) const { return PgQuery(url(), sql); }

 private:
  std::string cluster_;
  std::string name_;
};

}  // namespace cascade::testing

#endif  // CASCADE_TESTS_PG_HARNESS_H_
