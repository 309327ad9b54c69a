// Copyright 2026 The Cascade Authors.
//
// File: cascade/testing/fake_transport.h
// -----------------------------------------------------------------------------
// A WebhookTransport for tests: it sends nothing, records every request with
// the clock's time, and answers from a script. With EngineTest (a ManualClock:
// deliveries are sent by RunDueWork), a test sees exactly when each attempt of
// a delivery happens.
//
// Example:
//
//   class HookTest : public cascade::testing::EngineTest {
//    protected:
//     cascade::Options MakeOptions() override {
//       cascade::Options options = EngineTest::MakeOptions();
//       options.webhooks.transport = &transport_;
//       return options;
//     }
//     cascade::testing::FakeTransport transport_{&clock()};
//   };
//
//   TEST_F(HookTest, RetriesAfterOneSecond) {
//     transport_.Script({500, 200});
//     ...finish a job whose spec has a webhook...
//     engine().RunDueWork();                 // attempt 1: 500
//     AdvanceAndRunDue(absl::Seconds(1));    // attempt 2: 200
//     EXPECT_EQ(transport_.calls().size(), 2);
//   }
//
// Thread-safe. Header-only, public API only.

#ifndef CASCADE_TESTING_FAKE_TRANSPORT_H_
#define CASCADE_TESTING_FAKE_TRANSPORT_H_

#include <deque>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cascade/clock.h"
#include "cascade/webhook.h"

namespace cascade::testing {

class FakeTransport : public WebhookTransport {
 public:
  struct Call {
    WebhookRequest request;
    absl::Duration timeout;
    absl::Time at;  // the clock's time when Send was called
  };

  // `clock` stamps the calls; not owned. Null stamps them InfinitePast.
  explicit FakeTransport(const Clock* clock = nullptr) : clock_(clock) {}

  // The answers to the next calls, in order (a status code, or an error such
  // as absl::DeadlineExceededError for a timeout). Appends to what is left.
  void Script(std::vector<absl::StatusOr<int>> answers) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& answer : answers) script_.push_back(std::move(answer));
  }
  // The answer once the script is used up. Default: 200.
  void SetDefault(absl::StatusOr<int> answer) {
    std::lock_guard<std::mutex> lock(mu_);
    default_ = std::move(answer);
  }

  absl::StatusOr<int> Send(const WebhookRequest& request, absl::Duration timeout) override {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back({request, timeout, clock_ != nullptr ? clock_->Now() : absl::InfinitePast()});
    if (script_.empty()) return default_;
    absl::StatusOr<int> answer = std::move(script_.front());
    script_.pop_front();
    return answer;
  }

  std::vector<Call> calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  const Clock* const clock_;
  mutable std::mutex mu_;
  std::deque<absl::StatusOr<int>> script_;
  absl::StatusOr<int> default_ = 200;
  std::vector<Call> calls_;
};

}  // namespace cascade::testing

#endif  // CASCADE_TESTING_FAKE_TRANSPORT_H_
