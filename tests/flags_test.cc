// Copyright 2026 The Cascade Authors.
//
// cascade-server's command line (contract §11).

#include "server/flags.h"

#include "absl/strings/str_join.h"
#include "cascade/cascade.h"
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
  // Contract §14.
  EXPECT_EQ(flags->pickup_order, SortOrder::kPriority);
  EXPECT_EQ(flags->retry_backoff, absl::ZeroDuration());
  EXPECT_EQ(flags->render_timeout, std::nullopt);
  // Contract §15: the v1 bridge is off; a pickup's lease is 4 h.
  EXPECT_TRUE(flags->v1_secrets.empty());
  EXPECT_EQ(flags->v1_lease, absl::Hours(4));
  // Contract §17: takeover within 15 s of a leader's death.
  EXPECT_EQ(flags->leader_lease, absl::Seconds(10));
  EXPECT_EQ(flags->leader_renew, absl::Seconds(2));
  EXPECT_EQ(flags->standby_poll, absl::Seconds(1));
  EXPECT_EQ(flags->node_name, "");
  // Contract §10: retention is off unless asked for.
  EXPECT_EQ(flags->retention, std::nullopt);
  EXPECT_EQ(EngineOptions(*flags).durability.retention, absl::InfiniteDuration());
}

TEST(FlagsTest, RetentionReachesTheEngine) {
  absl::StatusOr<ServerFlags> flags = ParseFlags({"--retention", "2592000"});
  ASSERT_THAT(flags, IsOk());
  EXPECT_EQ(EngineOptions(*flags).durability.retention, absl::Hours(24 * 30));
}

TEST(FlagsTest, TheLeaderFlagsReachTheEngine) {
  absl::StatusOr<ServerFlags> flags =
      ParseFlags({"--data", "postgresql://farm:pw@db.example/cascade", "--leader-lease", "4.5",
                  "--leader-renew=1.5", "--standby-poll", "0.25", "--node-name", "render-01"});
  ASSERT_THAT(flags, IsOk());
  EXPECT_EQ(flags->standby_poll, absl::Milliseconds(250));
  const Options options = EngineOptions(*flags);
  EXPECT_EQ(options.durability.data_dir, "postgresql://farm:pw@db.example/cascade");
  EXPECT_EQ(options.durability.leader_lease, absl::Milliseconds(4500));
  EXPECT_EQ(options.durability.leader_renew, absl::Milliseconds(1500));
  EXPECT_EQ(options.durability.node_name, "render-01");
}

TEST(FlagsTest, TheRenewalMustBeShorterThanTheLease) {
  EXPECT_THAT(ParseFlags({"--leader-lease", "3", "--leader-renew", "3"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--leader-renew (3s) must be shorter than --leader-lease (3s)")));
  EXPECT_THAT(ParseFlags({"--leader-renew", "10"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--leader-renew")));
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
                                                  "s",
                                                  "--retry-backoff",
                                                  "2.5",
                                                  "--render-timeout",
                                                  "600",
                                                  "--pickup-order",
                                                  "newest_first",
                                                  "--v1-secret",
                                                  "nx=studio",
                                                  "--v1-secret=nx2=farm=x",
                                                  "--v1-lease-seconds",
                                                  "7200"});
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
  EXPECT_EQ(flags->retry_backoff, absl::Milliseconds(2500));
  EXPECT_EQ(flags->render_timeout, absl::Seconds(600));
  EXPECT_EQ(flags->pickup_order, SortOrder::kNewestFirst);
  EXPECT_THAT(flags->v1_secrets,
              ::testing::ElementsAre(Pair("nx", "studio"), Pair("nx2", "farm=x")));
  EXPECT_EQ(flags->v1_lease, absl::Hours(2));
  EXPECT_THAT(ParseFlags({"--listen", "[::1]:80"}), IsOk());
  EXPECT_EQ(ParseFlags({"--listen", "[::1]:80"})->host, "::1");
  EXPECT_TRUE(ParseFlags({"--help"})->help);
}

TEST(FlagsTest, TheRetryFlagsTakeTheirWholeRangeAndNoMore) {
  for (const char* order : {"oldest_first", "newest_first", "priority", "random"}) {
    absl::StatusOr<ServerFlags> flags = ParseFlags({"--pickup-order", order});
    ASSERT_THAT(flags, IsOk()) << order;
    EXPECT_EQ(SortOrderName(flags->pickup_order), order);
  }
  EXPECT_EQ(ParseFlags({"--max-attempts", "1"})->max_attempts, 1);
  EXPECT_EQ(ParseFlags({"--max-attempts=20"})->max_attempts, 20);
  EXPECT_EQ(ParseFlags({"--retry-backoff", "0"})->retry_backoff, absl::ZeroDuration());
  EXPECT_EQ(ParseFlags({"--retry-backoff", "86400"})->retry_backoff, absl::Hours(24));
  EXPECT_EQ(ParseFlags({"--render-timeout", "604800"})->render_timeout, absl::Hours(24 * 7));
  EXPECT_EQ(ParseFlags({"--render-timeout", "0.5"})->render_timeout, absl::Milliseconds(500));

  struct Refused {
    std::vector<std::string> args;
    std::string says;
  };
  for (const Refused& bad : std::vector<Refused>{
           {{"--max-attempts", "21"}, "from 1 to 20"},
           {{"--max-attempts", "0"}, "from 1 to 20"},
           {{"--retry-backoff", "-1"}, "from 0 to 86400"},
           {{"--retry-backoff", "86401"}, "from 0 to 86400"},
           {{"--retry-backoff", "soon"}, "got 'soon'"},
           {{"--render-timeout", "0"}, "to 604800"},
           {{"--render-timeout", "604801"}, "to 604800"},
           {{"--render-timeout", "-5"}, "to 604800"},
           {{"--pickup-order", "fastest"}, "oldest_first, newest_first, priority or random"},
           {{"--pickup-order", "Priority"}, "got 'Priority'"},
           {{"--pickup-order"}, "needs a value"},
       }) {
    EXPECT_THAT(ParseFlags(bad.args),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         ::testing::AllOf(HasSubstr(bad.args[0]), HasSubstr(bad.says))))
        << absl::StrJoin(bad.args, " ");
  }
}

TEST(FlagsTest, TheEngineGetsWhatTheFlagsSay) {
  Options defaults = EngineOptions(*ParseFlags({}));
  EXPECT_EQ(defaults.pickup_order, SortOrder::kPriority) << "cascade-server's default (§14)";
  EXPECT_EQ(defaults.max_attempts, 3);
  EXPECT_EQ(defaults.retry_backoff, absl::ZeroDuration());
  EXPECT_EQ(defaults.render_timeout, std::nullopt);
  EXPECT_EQ(defaults.durability.data_dir, "./cascade-data");

  absl::StatusOr<ServerFlags> flags = ParseFlags({"--data",
                                                  ":memory:",
                                                  "--max-attempts",
                                                  "5",
                                                  "--retry-backoff",
                                                  "1",
                                                  "--render-timeout",
                                                  "30",
                                                  "--pickup-order",
                                                  "random",
                                                  "--lease-seconds",
                                                  "20",
                                                  "--abort-grace",
                                                  "7",
                                                  "--output-url",
                                                  "s3://o/{id}",
                                                  "--webhook-backoff",
                                                  "2",
                                                  "--webhook-timeout",
                                                  "3",
                                                  "--webhook-secret",
                                                  "k"});
  ASSERT_THAT(flags, IsOk());
  Options options = EngineOptions(*flags);
  EXPECT_EQ(options.durability.data_dir, "");
  EXPECT_EQ(options.max_attempts, 5);
  EXPECT_EQ(options.retry_backoff, absl::Seconds(1));
  EXPECT_EQ(options.render_timeout, absl::Seconds(30));
  EXPECT_EQ(options.pickup_order, SortOrder::kRandom);
  EXPECT_EQ(options.lease_duration, absl::Seconds(20));
  EXPECT_EQ(options.abort_grace, absl::Seconds(7));
  EXPECT_EQ(options.output_url_template, "s3://o/{id}");
  EXPECT_EQ(options.webhooks.initial_backoff, absl::Seconds(2));
  EXPECT_EQ(options.webhooks.timeout, absl::Seconds(3));
  EXPECT_EQ(options.webhooks.signing_secret, "k");
  // And the engine takes them (every value within its REQUIRES).
  EXPECT_THAT(Engine::Create(options), IsOk());
}

TEST(FlagsTest, BadFlagsNameTheFlag) {
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"--listen", "8080"},
           {"--listen", "host:99999"},
           {"--token", "no-team"},
           {"--token", "=team"},
           {"--lease-seconds", "-1"},
           {"--max-attempts", "0"},
           {"--max-attempts", "21"},
           {"--retry-backoff", "-1"},
           {"--render-timeout", "0"},
           {"--pickup-order", "fastest"},
           {"--rate-limit", "lots"},
           {"--demo-workers"},
           {"--v1-secret", "no-team"},
           {"--v1-secret", "=team"},
           {"--v1-secret", "secret="},
           {"--v1-lease-seconds", "0"},
           {"--v1-lease-seconds", "604801"},
           {"--v1-lease-seconds", "long"},
           {"--retention", "59"},
           {"--retention", "forever"},
           {"--leader-lease", "0"},
           {"--leader-lease", "301"},
           {"--leader-renew", "0.01"},
           {"--standby-poll", "0"},
           {"--standby-poll", "61"},
           {"--node-name", ""},
           {"--frobnicate", "1"},
           {"stray"},
       }) {
    EXPECT_THAT(ParseFlags(args), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(args[0])))
        << args[0];
  }
}

TEST(FlagsTest, UsageListsEveryFlag) {
  for (const char* flag : {"--listen",
                           "--data",
                           "--token",
                           "--worker-token",
                           "--rate-limit",
                           "--demo-workers",
                           "--output-url",
                           "--lease-seconds",
                           "--max-attempts",
                           "--abort-grace",
                           "--webhook-backoff",
                           "--webhook-timeout",
                           "--webhook-secret",
                           "--retry-backoff",
                           "--render-timeout",
                           "--pickup-order",
                           "--v1-secret",
                           "--v1-lease-seconds",
                           "--events-window",
                           "--max-event-streams",
                           "--leader-lease",
                           "--leader-renew",
                           "--standby-poll",
                           "--node-name",
                           "--help"}) {
    EXPECT_THAT(Usage(), HasSubstr(flag));
  }
}

}  // namespace
}  // namespace cascade::server
