// Copyright 2026 The Cascade Authors.
//
// A data directory written by an older engine opens, and restores exactly,
// with this one (the journal's row formats, docs/durability.md, are a
// contract with every data directory already on a disk).
//
// tests/data/journal_v1/cascade.db was written by Cascade 0.1.0 (tag
// pre-issue13) running tests/tools/make_journal_fixture.cc: a row of every
// kind the journal has (jobs in every state and with every field, nested
// children and dependsOn edges, batches, leases with and without an abort,
// outbox deliveries pending, retrying and dead; non-UTF-8 text). The same
// program wrote expected.json: what that engine answered after opening the
// directory, driving it further, and opening it an hour later. Each test
// here does the same with a copy of the directory and this engine, through
// the same code (tests/tools/journal_fixture_dump.h), and compares line by
// line. docs/durability.md ("Compatibility fixture") says how to rebuild the
// fixture; never regenerate it to make this test pass: a difference means
// this engine reads or handles old rows differently.

#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cascade/cascade.h"
#include "cascade/testing/fake_transport.h"
#include "gtest/gtest.h"
#include "tests/tools/journal_fixture_dump.h"

#ifndef CASCADE_JOURNAL_FIXTURE_DIR
#error "CASCADE_JOURNAL_FIXTURE_DIR must name tests/data/journal_v1 (tests/CMakeLists.txt)"
#endif

namespace cascade {
namespace {

namespace fs = std::filesystem;
using journal_fixture::Inputs;
using journal_fixture::Sections;

// ---- A readable diff ----------------------------------------------------------

// The top-level members of a one-line JSON object, as `"name":value` texts.
std::vector<std::string> Members(const std::string& line) {
  std::vector<std::string> members;
  if (line.size() < 2 || line.front() != '{' || line.back() != '}') return {line};
  int depth = 0;
  bool in_string = false;
  std::string current;
  for (size_t i = 1; i + 1 < line.size(); ++i) {
    const char c = line[i];
    if (in_string) {
      current += c;
      if (c == '\\' && i + 2 < line.size()) {
        current += line[++i];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == ',' && depth == 0) {
      members.push_back(std::move(current));
      current.clear();
      continue;
    }
    if (c == '"') in_string = true;
    if (c == '[' || c == '{') ++depth;
    if (c == ']' || c == '}') --depth;
    current += c;
  }
  members.push_back(std::move(current));
  return members;
}

// The one answer contract §14 changed on purpose: a job that has not ended
// and whose last attempt ended without success shows that attempt's error
// (Cascade 0.1.0 showed none). In 0.1.0 a job came back from an attempt only
// by a release or an expiry, whose text is "lease expired after N attempts":
// a queued job with N >= 1 attempts, or a rendering one on its attempt N + 1.
std::string UnderContract14(const std::string& line) {
  const std::vector<std::string> members = Members(line);
  auto has = [&](const std::string& m) {
    return std::find(members.begin(), members.end(), m) != members.end();
  };
  if (!has("\"error\":null")) return line;
  int attempts = 0;
  for (const std::string& m : members) {
    if (m.rfind("\"attempts\":", 0) == 0) attempts = std::stoi(m.substr(11));
  }
  const int failed = has("\"state\":\"queued\"")            ? attempts
                     : has("\"state\":\"render:dorender\"") ? attempts - 1
                                                            : 0;
  if (failed < 1) return line;
  std::string now = line;
  now.replace(now.find("\"error\":null"), 12,
              absl::StrCat("\"error\":\"lease expired after ", failed, " attempts\""));
  return now;
}

// What differs between two lines, member by member.
std::string MemberDiff(const std::string& expected, const std::string& actual) {
  const std::vector<std::string> a = Members(expected), b = Members(actual);
  std::string out;
  for (const std::string& m : a) {
    if (std::find(b.begin(), b.end(), m) == b.end()) absl::StrAppend(&out, "      was:  ", m, "\n");
  }
  for (const std::string& m : b) {
    if (std::find(a.begin(), a.end(), m) == a.end()) absl::StrAppend(&out, "      now:  ", m, "\n");
  }
  return out;
}

// A diff of two line lists: "-" expected only, "+" actual only, with one
// line of context. When a hunk removes as many lines as it adds, each pair is
// followed by the members that differ.
std::string Diff(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<uint32_t>> lcs(n + 1, std::vector<uint32_t>(m + 1, 0));
  for (size_t i = n; i-- > 0;) {
    for (size_t j = m; j-- > 0;) {
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  std::string out;
  std::vector<size_t> removed, added;  // the current hunk
  size_t last_printed = SIZE_MAX;      // index in `a` of the last line printed
  auto flush = [&] {
    for (size_t r : removed) absl::StrAppend(&out, "- ", a[r], "\n");
    for (size_t x : added) absl::StrAppend(&out, "+ ", b[x], "\n");
    if (removed.size() == added.size()) {
      for (size_t k = 0; k < removed.size(); ++k) {
        absl::StrAppend(&out, "    members that differ",
                        removed.size() > 1 ? absl::StrCat(" (pair ", k + 1, ")") : "", ":\n",
                        MemberDiff(a[removed[k]], b[added[k]]));
      }
    }
    if (!removed.empty()) last_printed = removed.back();
    removed.clear();
    added.clear();
  };
  size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) {
      const bool after_change = !removed.empty() || !added.empty();
      flush();
      const bool before_change =
          i + 1 < n && j + 1 < m ? a[i + 1] != b[j + 1] : (i + 1 < n || j + 1 < m);
      if (after_change || before_change) {
        if (last_printed != SIZE_MAX && last_printed + 1 < i) out += "  ...\n";
        absl::StrAppend(&out, "  ", a[i], "\n");
        last_printed = i;
      }
      ++i, ++j;
    } else if (j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j])) {
      added.push_back(j++);
    } else {
      removed.push_back(i++);
    }
  }
  flush();
  return out;
}

// True if a phase's lines are only the line saying the open failed.
bool RefusedOpen(const std::vector<std::string>& lines) {
  return lines.size() == 1 && lines[0].starts_with("{\"open\":");
}

// ---- The fixture ------------------------------------------------------------------

class JournalCompatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path fixture = CASCADE_JOURNAL_FIXTURE_DIR;
    std::ifstream in(fixture / "expected.json", std::ios::binary);
    ASSERT_TRUE(in) << "cannot read " << (fixture / "expected.json");
    std::stringstream text;
    text << in.rdbuf();
    expected_ = journal_fixture::ReadDocument(text.str());
    std::optional<Inputs> inputs = journal_fixture::ParseInputs(expected_["inputs"]);
    ASSERT_TRUE(inputs.has_value()) << "expected.json has no inputs";
    inputs_ = *inputs;
    ASSERT_EQ(inputs_.lease_tokens.size(), 2u) << "expected.json: the two leases left rendering";

    std::string pattern = (fs::temp_directory_path() / "cascade-journal-compat-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    tmp_ = pattern;
    // The data directory as the old engine left it: every file but the
    // expectations (a clean close leaves only cascade.db).
    dir_ = (tmp_ / "data").string();
    fs::create_directories(dir_);
    for (const fs::directory_entry& entry : fs::directory_iterator(fixture)) {
      if (entry.path().filename() == "expected.json") continue;
      fs::copy_file(entry.path(), fs::path(dir_) / entry.path().filename());
    }
    ASSERT_TRUE(fs::exists(fs::path(dir_) / "cascade.db"));
  }
  void TearDown() override {
    if (!tmp_.empty()) fs::remove_all(tmp_);
  }

  // Compares `actual` with the section of expected.json named `name`.
  void ExpectSection(const std::string& name, const std::vector<std::string>& actual) {
    auto it = expected_.find(name);
    ASSERT_NE(it, expected_.end()) << "expected.json has no section \"" << name << "\"";
    ASSERT_FALSE(it->second.empty()) << "expected.json: section \"" << name << "\" is empty";
    std::vector<std::string> expected;
    for (const std::string& line : it->second) expected.push_back(UnderContract14(line));
    ASSERT_FALSE(RefusedOpen(actual))
        << "this engine does not open the data directory Cascade 0.1.0 wrote (section \"" << name
        << "\"): " << actual[0];
    EXPECT_TRUE(expected == actual)
        << "section \"" << name << "\" of " << CASCADE_JOURNAL_FIXTURE_DIR
        << "/expected.json differs (- what Cascade 0.1.0 answered, + what this engine answers):\n"
        << Diff(expected, actual);
  }

  std::map<std::string, std::vector<std::string>> expected_;
  Inputs inputs_;
  fs::path tmp_;
  std::string dir_;
};

TEST_F(JournalCompatTest, TheFixtureIsADirectoryClosedCleanly) {
  // Only the database: no -wal holding groups that are not in it, no -shm.
  std::vector<std::string> names;
  for (const fs::directory_entry& entry : fs::directory_iterator(CASCADE_JOURNAL_FIXTURE_DIR)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"cascade.db", "expected.json"}));
}

// Opened at the time the fixture ended (no lease has run out): every job with
// every field, the lists by state, order and tag, the families the edges make,
// the batches' counts, the dead letters and the outbox, as the old engine
// answered them.
TEST_F(JournalCompatTest, RestoresEveryRowExactly) {
  ExpectSection("restored", journal_fixture::PhaseRestored(dir_, inputs_));
}

// Then driven on: the restored leases take heartbeats under their old tokens
// (one still has its abort request), a queued job is claimed with its binary
// payload and finished, a finish releases a job that ignores its failed
// prerequisite, a cancel of a pending job cascades through the restored graph,
// the abort is acknowledged, the dead letter is replayed and the deliveries
// are sent with their stored requests. Every row those steps rewrote is read
// back the same by the next open.
TEST_F(JournalCompatTest, OldRowsDrivenFurtherAreRewrittenAndReadBack) {
  std::vector<std::string> before_close;
  Sections sections = journal_fixture::PhaseFollowUp(dir_, inputs_, &before_close);
  ASSERT_GE(sections.size(), 1u);
  ASSERT_EQ(sections[0].first, "followup");
  ExpectSection("followup", sections[0].second);
  if (HasFatalFailure()) return;
  ASSERT_EQ(sections.size(), 2u) << "the follow-up did not get to the reopen";
  ASSERT_EQ(sections[1].first, "followup_reopened");
  ASSERT_FALSE(RefusedOpen(sections[1].second))
      << "this engine does not reopen what it rewrote: " << sections[1].second[0];
  EXPECT_TRUE(sections[1].second == before_close)
      << "after the follow-up, closing and reopening changes the state (- before the close, + "
         "after the reopen):\n"
      << Diff(before_close, sections[1].second);
}

// Opened an hour after the fixture ended: the leases that ran out while no
// engine had the directory are handled at open as any expiry (contract §7,
// docs/durability.md "Recovery"), then the due deliveries are sent.
TEST_F(JournalCompatTest, OpenedAnHourLaterEndsTheLeasesThatRanOut) {
  Sections sections = journal_fixture::PhaseLater(dir_, inputs_);
  ASSERT_GE(sections.size(), 1u);
  ExpectSection("later_opened", sections[0].second);
  if (HasFatalFailure()) return;
  ASSERT_EQ(sections.size(), 2u) << "the later phase did not get past the open";
  ExpectSection("later", sections[1].second);
}

// The same, spelled out rather than compared: what contract §7 says happens to
// each of the two leases.
TEST_F(JournalCompatTest, AnHourLaterTheLiveLeaseIsRequeuedAndTheAbortedJobCancelled) {
  ManualClock clock(absl::FromUnixMillis(inputs_.end_ms) + journal_fixture::kLaterGap);
  testing::FakeTransport transport(&clock);
  absl::StatusOr<std::unique_ptr<Engine>> engine =
      Engine::Create(journal_fixture::MakeOptions(&clock, &transport, dir_));
  ASSERT_TRUE(engine.ok()) << engine.status();
  const std::string& studio = journal_fixture::Teams()[0];
  const std::string& night = journal_fixture::Teams()[1];

  absl::StatusOr<JobId> r1 = journal_fixture::JobTagged(**engine, night, "fx:r1");
  ASSERT_TRUE(r1.ok()) << r1.status();
  absl::StatusOr<Job> job = (*engine)->Get(night, *r1);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->state, JobState::kQueued);  // attempt 1 of max_attempts 2 lost
  EXPECT_EQ(job->attempts, 1);
  EXPECT_EQ(job->progress, 0.0);  // a new attempt starts from nothing

  absl::StatusOr<JobId> r_abort = journal_fixture::JobTagged(**engine, studio, "fx:r-abort");
  ASSERT_TRUE(r_abort.ok()) << r_abort.status();
  job = (*engine)->Get(studio, *r_abort);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->state, JobState::kCancelled);  // its abort's grace ran out
  EXPECT_EQ(job->stats.error, "Cancelled via API");

  // The old tokens are stale now.
  EXPECT_EQ((*engine)->Heartbeat(*r1, inputs_.lease_tokens[r1->ToString()], {}).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace cascade
