// Copyright 2026 The Cascade Authors.

#include "server/flags.h"

#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cascade/job.h"
#include "wire/strings.h"

namespace cascade::server {
namespace {

using wire::Sv;

absl::Status Bad(std::string_view flag, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(Sv(flag), ": ", Sv(why), " (see --help)"));
}

absl::StatusOr<double> Number(std::string_view flag, const std::string& value, double lo,
                              double hi) {
  double d = 0;
  if (!absl::SimpleAtod(value, &d) || !std::isfinite(d) || d < lo || d > hi) {
    return Bad(flag, absl::StrCat("expected a number from ", lo, " to ", hi, ", got '",
                                  Sv(value).substr(0, 64), "'"));
  }
  return d;
}

absl::StatusOr<int> Integer(std::string_view flag, const std::string& value, int lo, int hi) {
  int n = 0;
  if (!absl::SimpleAtoi(value, &n) || n < lo || n > hi) {
    return Bad(flag, absl::StrCat("expected an integer from ", lo, " to ", hi, ", got '",
                                  Sv(value).substr(0, 64), "'"));
  }
  return n;
}

absl::StatusOr<absl::Duration> Seconds(std::string_view flag, const std::string& value) {
  absl::StatusOr<double> s = Number(flag, value, 0.001, 86400 * 365);
  if (!s.ok()) return s.status();
  return absl::Milliseconds(std::llround(*s * 1000));
}

}  // namespace

std::string Usage() {
  return R"(cascade-server: Nexrender Cloud API v2 over the Cascade engine

Usage: cascade-server [flags]

  --listen HOST:PORT        where to listen (default 127.0.0.1:8080)
  --data DIR|URL            data directory (default ./cascade-data); ':memory:' for none; or
                            a postgresql:// URL: several servers may share its database, one
                            leads and the others wait as standbys (docs/high-availability.md)
  --token TOKEN=TEAM        a client token and its team (repeatable); with none, one is
                            generated for team 'default' and printed
  --worker-token TOKEN      a token for the worker routes (repeatable); with none, one is
                            generated and printed
  --rate-limit N            requests/s per token, bursts up to N (default: no limit)
  --demo-workers N          run N simulated workers that claim, report progress and finish
                            (1 attempt in 10 fails and is retried)
  --output-url TEMPLATE     planned outputUrl; {id}, {team}, {batch} are filled in
  --lease-seconds N         lease a claim gets (default 60)
  --max-attempts N          attempts a job gets, 1-20 (default 3): a fail, a lost lease, a
                            release or a time-out each use one; the last ends the job in error
  --retry-backoff SECONDS   wait before a failed job is claimable again, doubling per failed
                            attempt, 0-86400 (default 0)
  --render-timeout SECONDS  time limit of one attempt, up to 604800 (default: none)
  --pickup-order ORDER      the order claims take queued jobs: oldest_first, newest_first,
                            priority (highest first, then oldest) or random (default priority)
  --abort-grace N           seconds a worker has to acknowledge an abort (default 30)
  --webhook-backoff SECONDS first retry delay of a webhook, doubling (default 1)
  --webhook-timeout SECONDS timeout of one webhook attempt (default 2)
  --webhook-secret SECRET   sign webhook bodies (Cascade-Signature: sha256=<HMAC>)
  --v1-secret SECRET=TEAM   turn on the nexrender v1 routes (/api/v1) and accept SECRET in
                            their nexrender-secret header for TEAM (repeatable); with none,
                            /api/v1 answers 404
  --v1-lease-seconds N      lease a v1 pickup gets, renewed by each of the worker's reports,
                            1-604800 (default 14400: v1 workers are silent between reports)
  --events-window N         events GET /api/v2/events keeps for Last-Event-ID and for clients
                            that fall behind, 1-1048576 (default 32768)
  --max-event-streams N     event streams open at once, 1-100000 (default 4096)
  --retention SECONDS       purge job families whose every job ended longer ago than this,
                            60-315360000 (default: keep everything)
  --leader-lease SECONDS    with a postgresql:// URL: how long the leader's lease holds after
                            a renewal, 0.1-300 (default 10); a standby takes over once it lapses
  --leader-renew SECONDS    how often the leader renews it, 0.1-300 and less than the lease
                            (default 2)
  --standby-poll SECONDS    how often a standby tries to take over, 0.05-60 (default 1)
  --node-name NAME          the name the leader row shows (default: host name and pid)
  --help                    this text

The REST reference is docs/http.md.
)";
}

absl::StatusOr<ServerFlags> ParseFlags(const std::vector<std::string>& args) {
  ServerFlags flags;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::optional<std::string> inline_value;
    if (const size_t eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = flag.substr(eq + 1);
      flag.resize(eq);
    }
    if (flag == "--help" || flag == "-h") {
      flags.help = true;
      continue;
    }
    auto value = [&]() -> absl::StatusOr<std::string> {
      if (inline_value) return *inline_value;
      if (i + 1 >= args.size()) return Bad(flag, "needs a value");
      return args[++i];
    };
    absl::StatusOr<std::string> v = std::string();
    if (flag.rfind("--", 0) != 0) return Bad(flag, "not a flag");
    v = value();
    if (!v.ok()) return v.status();
    if (flag == "--listen") {
      const size_t colon = v->rfind(':');
      if (colon == std::string::npos || colon == 0) return Bad(flag, "expected HOST:PORT");
      absl::StatusOr<int> port = Integer(flag, v->substr(colon + 1), 0, 65535);
      if (!port.ok()) return port.status();
      flags.host = v->substr(0, colon);
      if (flags.host.size() > 2 && flags.host.front() == '[' && flags.host.back() == ']') {
        flags.host = flags.host.substr(1, flags.host.size() - 2);  // [::1]:8080
      }
      flags.port = static_cast<uint16_t>(*port);
    } else if (flag == "--data") {
      if (v->empty()) return Bad(flag, "expected a directory or ':memory:'");
      flags.data = *v;
    } else if (flag == "--token") {
      const size_t eq = v->find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == v->size()) {
        return Bad(flag, "expected TOKEN=TEAM");
      }
      flags.tokens.emplace_back(v->substr(0, eq), v->substr(eq + 1));
    } else if (flag == "--worker-token") {
      if (v->empty()) return Bad(flag, "expected a token");
      flags.worker_tokens.push_back(*v);
    } else if (flag == "--rate-limit") {
      absl::StatusOr<double> n = Number(flag, *v, 0, 1e9);
      if (!n.ok()) return n.status();
      flags.rate_limit = *n;
    } else if (flag == "--demo-workers") {
      absl::StatusOr<int> n = Integer(flag, *v, 0, 256);
      if (!n.ok()) return n.status();
      flags.demo_workers = *n;
    } else if (flag == "--events-window") {
      absl::StatusOr<int> n = Integer(flag, *v, 1, 1 << 20);
      if (!n.ok()) return n.status();
      flags.events_window = *n;
    } else if (flag == "--max-event-streams") {
      absl::StatusOr<int> n = Integer(flag, *v, 1, 100000);
      if (!n.ok()) return n.status();
      flags.max_event_streams = *n;
    } else if (flag == "--output-url") {
      flags.output_url = *v;
    } else if (flag == "--lease-seconds") {
      absl::StatusOr<absl::Duration> d = Seconds(flag, *v);
      if (!d.ok()) return d.status();
      flags.lease = *d;
    } else if (flag == "--max-attempts") {
      absl::StatusOr<int> n = Integer(flag, *v, kMinMaxAttempts, kMaxMaxAttempts);
      if (!n.ok()) return n.status();
      flags.max_attempts = *n;
    } else if (flag == "--retry-backoff") {
      absl::StatusOr<double> s =
          Number(flag, *v, 0, absl::ToDoubleSeconds(kMaxRetryBackoff));  // 0-86400
      if (!s.ok()) return s.status();
      flags.retry_backoff = absl::Milliseconds(std::llround(*s * 1000));
    } else if (flag == "--render-timeout") {
      absl::StatusOr<double> s =
          Number(flag, *v, 0.001, absl::ToDoubleSeconds(kMaxRenderTimeout));  // to 604800
      if (!s.ok()) return s.status();
      flags.render_timeout = absl::Milliseconds(std::llround(*s * 1000));
    } else if (flag == "--pickup-order") {
      absl::StatusOr<SortOrder> order = ParseSortOrder(*v);
      if (!order.ok()) {
        return Bad(flag,
                   absl::StrCat("expected oldest_first, newest_first, priority or random, got '",
                                Sv(*v).substr(0, 64), "'"));
      }
      flags.pickup_order = *order;
    } else if (flag == "--abort-grace") {
      absl::StatusOr<absl::Duration> d = Seconds(flag, *v);
      if (!d.ok()) return d.status();
      flags.abort_grace = *d;
    } else if (flag == "--webhook-backoff") {
      absl::StatusOr<absl::Duration> d = Seconds(flag, *v);
      if (!d.ok()) return d.status();
      flags.webhook_backoff = *d;
    } else if (flag == "--webhook-timeout") {
      absl::StatusOr<absl::Duration> d = Seconds(flag, *v);
      if (!d.ok()) return d.status();
      flags.webhook_timeout = *d;
    } else if (flag == "--webhook-secret") {
      flags.webhook_secret = *v;
    } else if (flag == "--v1-secret") {
      const size_t eq = v->find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == v->size()) {
        return Bad(flag, "expected SECRET=TEAM");
      }
      flags.v1_secrets.emplace_back(v->substr(0, eq), v->substr(eq + 1));
    } else if (flag == "--v1-lease-seconds") {
      absl::StatusOr<double> s = Number(flag, *v, 1, 604800);
      if (!s.ok()) return s.status();
      flags.v1_lease = absl::Milliseconds(std::llround(*s * 1000));
    } else if (flag == "--retention") {
      absl::StatusOr<double> s = Number(flag, *v, 60, 315360000);  // a minute to ten years
      if (!s.ok()) return s.status();
      flags.retention = absl::Milliseconds(std::llround(*s * 1000));
    } else if (flag == "--leader-lease" || flag == "--leader-renew" || flag == "--standby-poll") {
      absl::StatusOr<double> s =
          flag == "--standby-poll" ? Number(flag, *v, 0.05, 60) : Number(flag, *v, 0.1, 300);
      if (!s.ok()) return s.status();
      const absl::Duration d = absl::Milliseconds(std::llround(*s * 1000));
      (flag == "--leader-lease"   ? flags.leader_lease
       : flag == "--leader-renew" ? flags.leader_renew
                                  : flags.standby_poll) = d;
    } else if (flag == "--node-name") {
      if (v->empty() || v->size() > 200) return Bad(flag, "expected 1-200 characters");
      flags.node_name = *v;
    } else {
      return Bad(flag, "unknown flag");
    }
  }
  if (flags.leader_renew >= flags.leader_lease) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--leader-renew (", absl::FormatDuration(flags.leader_renew),
        ") must be shorter than --leader-lease (", absl::FormatDuration(flags.leader_lease), ")"));
  }
  return flags;
}

Options EngineOptions(const ServerFlags& flags) {
  Options options;
  if (flags.output_url) options.output_url_template = *flags.output_url;
  options.lease_duration = flags.lease;
  options.max_attempts = flags.max_attempts;
  options.retry_backoff = flags.retry_backoff;
  options.render_timeout = flags.render_timeout;
  options.pickup_order = flags.pickup_order;
  options.abort_grace = flags.abort_grace;
  options.webhooks.initial_backoff = flags.webhook_backoff;
  options.webhooks.timeout = flags.webhook_timeout;
  options.webhooks.signing_secret = flags.webhook_secret;
  if (flags.data != ":memory:") options.durability.data_dir = flags.data;
  if (flags.retention) options.durability.retention = *flags.retention;
  options.durability.leader_lease = flags.leader_lease;
  options.durability.leader_renew = flags.leader_renew;
  options.durability.node_name = flags.node_name;
  return options;
}

}  // namespace cascade::server
