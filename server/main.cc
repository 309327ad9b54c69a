// Copyright 2026 The Cascade Authors.
//
// cascade-server: the engine behind Nexrender's Cloud API v2 (contract §11).
// Parses the command line, opens the engine (on the data directory unless
// --data :memory:), serves the API until SIGINT or SIGTERM, then stops
// gracefully: no new connections, requests under way answered, the engine's
// store closed cleanly.

#include <openssl/rand.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "cascade/cascade.h"
#include "server/engine_host.h"
#include "server/flags.h"
#include "server/http_server.h"

namespace cascade::server {
namespace {

std::string NewToken() {
  unsigned char bytes[24];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    std::fprintf(stderr, "cascade-server: no randomness for a token\n");
    std::exit(1);
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

void PrintWelcome(const ServerFlags& flags, const std::string& role, uint16_t port,
                  const std::string& client_token, const std::string& team,
                  const std::string& worker_token, bool generated) {
  const std::string host = flags.host == "0.0.0.0" || flags.host == "::" ? "127.0.0.1" : flags.host;
  const std::string base = absl::StrCat("http://", host, ":", port, "/api/v2");
  const std::string root = absl::StrCat("http://", host, ":", port);
  std::cout << "cascade-server listening on " << base << "\n"
            << "  dashboard: " << root << "/  (sign in with a client token)\n"
            << "  data: "
            << (flags.data == ":memory:" ? "in memory (nothing is kept)"
                                         : RedactPostgresUrl(flags.data))
            << "\n";
  if (role == "leader") {
    std::cout << "  role: leader (it holds the database's leader lease)\n";
  } else if (role == "standby") {
    std::cout << "  role: standby (it serves once the leader's lease lapses; until then its "
                 "routes answer 503)\n";
  }
  if (generated) {
    std::cout << "  client token (team '" << team << "'): " << client_token << "\n";
  }
  if (!worker_token.empty()) std::cout << "  worker token: " << worker_token << "\n";
  if (flags.demo_workers > 0) std::cout << "  demo workers: " << flags.demo_workers << "\n";
  if (!flags.v1_secrets.empty()) {
    std::cout << "  nexrender v1 routes: http://" << host << ":" << port << "/api/v1 ("
              << flags.v1_secrets.size() << " secret" << (flags.v1_secrets.size() == 1 ? "" : "s")
              << ")\n";
  }
  const std::string auth = absl::StrCat("-H \"Authorization: Bearer ", client_token, "\"");
  std::cout << "\nTry it:\n"
            << "  curl -s -X POST " << base << "/jobs " << auth
            << " \\\n    -H \"Content-Type: application/json\" \\\n"
            << "    -d '{\"template\": {\"id\": \"01HZX3C5Y5V7E8W3J6T9Q2M1NB\", "
               "\"composition\": \"main\"}}'\n"
            << "  curl -s " << base << "/jobs " << auth << "\n"
            << "  curl -s " << base << "/jobs/<id> " << auth << "\n"
            << "  curl -s -X PATCH " << base << "/jobs/<id>/cancel " << auth << "\n"
            << "  curl -s -X POST " << base << "/jobs/<id>/retry " << auth << "\n";
  if (!worker_token.empty()) {
    std::cout << "  curl -s -X POST " << base << "/workers/claim -H \"Authorization: Bearer "
              << worker_token << "\"\n";
  }
  std::cout << "\nOr with the command line (docs/cli.md):\n"
            << "  export CASCADE_URL=" << root << " CASCADE_TOKEN=" << client_token << "\n"
            << "  cascade submit examples/cli/batch.json --wait\n"
            << "  cascade list\n"
            << "  cascade watch\n";
  std::cout << "\nStop with Ctrl-C. The REST reference is docs/http.md.\n" << std::flush;
}

int Main(int argc, char** argv) {
  // Abseil as a release build has it: Debian's libabsl leaves its debug
  // deadlock detection on, which makes every lock of the engine's mutex also
  // take a global lock (docs/embedding.md, "Threads").
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::StatusOr<ServerFlags> parsed = ParseFlags(std::vector<std::string>(argv + 1, argv + argc));
  if (!parsed.ok()) {
    std::cerr << "cascade-server: " << parsed.status().message() << "\n";
    return 2;
  }
  ServerFlags flags = *std::move(parsed);
  if (flags.help) {
    std::cout << Usage();
    return 0;
  }
  // Every thread started from here on inherits the mask, so only the sigwait
  // below takes SIGINT and SIGTERM.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  EngineHostOptions host_options;
  host_options.engine = EngineOptions(flags);
  host_options.demo_workers = flags.demo_workers;
  host_options.standby_poll = flags.standby_poll;
  ApiOptions& api_options = host_options.api;
  api_options.client_tokens = flags.tokens;
  api_options.worker_tokens = flags.worker_tokens;
  api_options.rate_limit = flags.rate_limit;
  api_options.v1_secrets = flags.v1_secrets;
  api_options.v1_lease = flags.v1_lease;
  api_options.events.window = static_cast<size_t>(flags.events_window);
  api_options.events.max_streams = static_cast<size_t>(flags.max_event_streams);
  const bool generated = flags.tokens.empty();
  if (generated) api_options.client_tokens.emplace_back(NewToken(), "default");
  if (api_options.worker_tokens.empty()) api_options.worker_tokens.push_back(NewToken());
  // Copied before the host takes the options: the welcome prints them.
  const std::pair<std::string, std::string> first_client = api_options.client_tokens.front();
  const std::string first_worker = api_options.worker_tokens.front();
  const size_t max_body_bytes = api_options.max_body_bytes;
  EngineHost host(std::move(host_options));
  if (absl::Status started = host.Start(); !started.ok()) {
    std::cerr << "cascade-server: " << started << "\n";
    return 1;
  }

  HttpServerOptions http;
  http.host = flags.host;
  http.port = flags.port;
  // A handler that changes state waits on its thread until its group is
  // durable, and callers that wait together share one commit: with a data
  // directory, those requests run on a pool of more threads than cores, so
  // that more of them share each commit (the threads sleep while they wait),
  // while the I/O threads, one per core, serve the rest. Running everything
  // on that many I/O threads instead made every GET pay for waking them: it
  // halved the GETs a second. In memory nothing waits.
  if (flags.data != ":memory:") {
    http.waiting_threads =
        std::max<int>(32, 8 * static_cast<int>(std::thread::hardware_concurrency()));
    http.may_wait = [](const Request& request) {
      // GET and HEAD of /api/v2 and the dashboard read and never wait; every
      // nexrender v1 request may (its pickup is a GET that claims a job).
      const std::string_view target = request.target;
      const bool v1 = target.starts_with("/api/v1") &&
                      (target.size() == 7 || target[7] == '/' || target[7] == '?');
      return v1 || (request.method != "GET" && request.method != "HEAD");
    };
  }
  http.max_body_bytes = max_body_bytes;
  absl::StatusOr<std::unique_ptr<HttpServer>> server =
      HttpServer::Start(http, [&host](const Request& request) { return host.Handle(request); });
  if (!server.ok()) {
    std::cerr << "cascade-server: " << server.status().message() << "\n";
    return 1;
  }
  PrintWelcome(flags, host.role(), (*server)->port(), first_client.first, first_client.second,
               first_worker, generated);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  std::cout << "\ncascade-server: " << (signal_number == SIGTERM ? "SIGTERM" : "SIGINT")
            << ", stopping\n"
            << std::flush;
  (*server)->Stop();  // answers what is under way, takes nothing new
  host.Stop();        // closes the store cleanly (a leader gives its lease up)
  std::cout << "cascade-server: stopped\n";
  return 0;
}

}  // namespace
}  // namespace cascade::server

int main(int argc, char** argv) { return cascade::server::Main(argc, argv); }
