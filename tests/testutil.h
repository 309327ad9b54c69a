// Copyright 2026 The Cascade Authors.
//
// Shared test helpers: status matchers and a deterministic engine fixture. The
// worker-driving helpers and the EngineTest fixture are public, in
// cascade/testing/engine_test.h, and included here.

#ifndef CASCADE_TESTS_TESTUTIL_H_
#define CASCADE_TESTS_TESTUTIL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cascade/cascade.h"
#include "cascade/testing/engine_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cascade::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

// EXPECT_THAT(engine->Cancel(...), IsOk());
MATCHER(IsOk, "is OK") {
  const absl::Status& s = ::cascade::testing::GetStatus(arg);
  if (!s.ok()) *result_listener << "status is " << s;
  return s.ok();
}

// EXPECT_THAT(engine->Get(...), StatusIs(absl::StatusCode::kNotFound));
MATCHER_P(StatusIs, code, "has status code " + absl::StatusCodeToString(code)) {
  const absl::Status& s = ::cascade::testing::GetStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code;
}

// EXPECT_THAT(result, StatusIs(kNotFound, HasSubstr("01J...")));
MATCHER_P2(StatusIs, code, message_matcher, "has status code " + absl::StatusCodeToString(code)) {
  const absl::Status& s = ::cascade::testing::GetStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code &&
         ::testing::ExplainMatchResult(message_matcher, std::string(s.message()), result_listener);
}

// Unwraps a StatusOr in a test, failing it (fatally) when not OK.
#define CASCADE_ASSERT_OK_AND_ASSIGN(lhs, rexpr) \
  CASCADE_TEST_ASSIGN_(CASCADE_TEST_CONCAT_(cascade_test_or_, __LINE__), lhs, rexpr)
#define CASCADE_TEST_CONCAT_INNER_(a, b) a##b
#define CASCADE_TEST_CONCAT_(a, b) CASCADE_TEST_CONCAT_INNER_(a, b)
#define CASCADE_TEST_ASSIGN_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                         \
  ASSERT_TRUE(tmp.ok()) << tmp.status();      \
  lhs = std::move(tmp).value()

// A spec with a template and nothing else.
inline JobSpec LeafSpec(std::string composition = "main") {
  JobSpec spec;
  spec.template_id = "01HZX3C5Y5V7E8W3J6T9Q2M1NB";
  spec.composition = std::move(composition);
  spec.total_assets = 1;
  return spec;
}

// A parent with `n` nested children (each a LeafSpec).
inline JobSpec FamilySpec(int n) {
  JobSpec parent = LeafSpec("parent");
  for (int i = 0; i < n; ++i) parent.children.push_back(LeafSpec("child"));
  parent.total_assets = n;
  return parent;
}

// Options with a manual clock and a fixed id seed: every run is identical.
struct DeterministicEngine {
  explicit DeterministicEngine(uint64_t seed = 1) {
    Options options;
    options.clock = &clock;
    options.id_seed = seed;
    auto created = Engine::Create(options);
    EXPECT_TRUE(created.ok()) << created.status();
    engine = std::move(created).value();
  }
  Engine* operator->() const { return engine.get(); }

  ManualClock clock;
  std::unique_ptr<Engine> engine;
};

// ClaimTagged, RenderAndFinish and RenderAndFail (worker steps that pick a job
// by its tag) come from cascade/testing/engine_test.h.

inline std::vector<JobId> IdsOf(const std::vector<Job>& jobs) {
  std::vector<JobId> ids;
  for (const Job& j : jobs) ids.push_back(j.id);
  return ids;
}

}  // namespace cascade::testing

#endif  // CASCADE_TESTS_TESTUTIL_H_
