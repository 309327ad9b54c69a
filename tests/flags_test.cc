// Copyright 2026 The Cascade Authors.
//
// cascade-server's command line (contract §11).

#include "server/flags.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil.h"

namespace cascade::server {
namespace {

using ::cascade::testing::IsOk;
using ::cascade::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Pair;

TEST(FlagsTest, DefaultsAreSpecs) {
  absl::StatusOr<ServerFlags> flags = ParseFlags({});
  ASSERT_THAT(flags, IsOk());
  EXPECT_EQ(flags->host, "127.0.0.1");
  EXPECT_EQ(flags->port, 8080);
  EXPECT_EQ(flags->data, "./cascade-data");
  EXPECT_TRUE(flags->tokens.empty());
  EXPECT_EQ(flags->lease, absl::Seconds(60));
  EXPECT_EQ(flags->max_attempts, 3);
  EXPECT_EQ(flags->abort_grace, absl::Seconds(30));
  EXPECT_EQ(flags->webhook_backoff, absl::Seconds(1));
  EXPECT_EQ(flags->webhook_timeout, absl::Seconds(2));
  EXPECT_EQ(flags->rate_limit, 0);
}

TEST(FlagsTest, EveryFlagIsRead) {
  absl::StatusOr<ServerFlags> flags = ParseFlags({"--listen",
                                                  "0.0.0.0:9000",
                                                  "--data=:memory:",
                                                  "--token",
                                                  "abc=studio",
                                                  "--token",
                                                  "def=farm",
                                                  "--worker-token",
                                                  "w1",
                                                  "--rate-limit",
                                                  "50",
                                                  "--demo-workers",
                                                  "3",
                                                  "--output-url",
                                                  "s3://out/{id}.mp4",
                                                  "--lease-seconds",
                                                  "90",
                                                  "--max-attempts",
                                                  "5",
                                                  "--abort-grace",
                                                  "10",
                                                  "--webhook-backoff",
                                                  "0.5",
                                                  "--webhook-timeout",
                                                  "4",
                                                  "--webhook-secret",
                                                  "s"});
  ASSERT_THAT(flags, IsOk());
  EXPECT_EQ(flags->host, "0.0.0.0");
  EXPECT_EQ(flags->port, 9000);
  EXPECT_EQ(flags->data, ":memory:");
  EXPECT_THAT(flags->tokens, ::testing::ElementsAre(Pair("abc", "studio"), Pair("def", "farm")));
  EXPECT_THAT(flags->worker_tokens, ::testing::ElementsAre("w1"));
  EXPECT_EQ(flags->rate_limit, 50);
  EXPECT_EQ(flags->demo_workers, 3);
  EXPECT_EQ(flags->output_url, "s3://out/{id}.mp4");
  EXPECT_EQ(flags->lease, absl::Seconds(90));
  EXPECT_EQ(flags->max_attempts, 5);
  EXPECT_EQ(flags->abort_grace, absl::Seconds(10));
  EXPECT_EQ(flags->webhook_backoff, absl::Milliseconds(500));
  EXPECT_EQ(flags->webhook_timeout, absl::Seconds(4));
  EXPECT_EQ(flags->webhook_secret, "s");
  EXPECT_THAT(ParseFlags({"--listen", "[::1]:80"}), IsOk());
  EXPECT_EQ(ParseFlags({"--listen", "[::1]:80"})->host, "::1");
  EXPECT_TRUE(ParseFlags({"--help"})->help);
}

TEST(FlagsTest, BadFlagsNameTheFlag) {
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"--listen", "8080"},
           {"--listen", "host:99999"},
           {"--token", "no-team"},
           {"--token", "=team"},
           {"--lease-seconds", "-1"},
           {"--max-attempts", "0"},
           {"--rate-limit", "lots"},
           {"--demo-workers"},
           {"--frobnicate", "1"},
           {"stray"},
       }) {
    EXPECT_THAT(ParseFlags(args), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(args[0])))
        << args[0];
  }
}

TEST(FlagsTest, UsageListsEveryFlag) {
  for (const char* flag :
       {"--listen", "--data", "--token", "--worker-token", "--rate-limit", "--demo-workers",
        "--output-url", "--lease-seconds", "--max-attempts", "--abort-grace", "--webhook-backoff",
        "--webhook-timeout", "--webhook-secret", "--help"}) {
    EXPECT_THAT(Usage(), HasSubstr(flag));
  }
}

}  // namespace
}  // namespace cascade::server
