// Copyright 2026 The Cascade Authors.
//
// cascade-worker: the render-node agent (contract §15). Parses the flags,
// reads the config, and runs the Agent until SIGTERM or SIGINT, which stop
// claiming, terminate the commands running and release their jobs; then it
// exits 0. Exit status 2: bad flags or config; 1: the server refused the
// token or the claim.

#include <signal.h>
#include <unistd.h>

#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "net/http_client.h"
#include "worker/agent.h"
#include "worker/config.h"
#include "worker/flags.h"

namespace cascade::worker {
namespace {

int Main(int argc, char** argv) {
  absl::StatusOr<WorkerFlags> flags =
      ParseWorkerFlags(std::vector<std::string>(argv + 1, argv + argc));
  if (!flags.ok()) {
    std::cerr << "cascade-worker: " << flags.status().message() << "\n"
              << "Run with --help for the flags.\n";
    return 2;
  }
  if (flags->help) {
    std::cout << WorkerUsage();
    return 0;
  }
  if (absl::StatusOr<net::HttpUrl> url = net::ParseHttpUrl(flags->server); !url.ok()) {
    std::cerr << "cascade-worker: --server: " << url.status().message() << "\n";
    return 2;
  }
  absl::StatusOr<WorkerConfig> config = LoadWorkerConfig(flags->config);
  if (!config.ok()) {
    std::cerr << "cascade-worker: bad config:\n" << config.status().message() << "\n";
    return 2;
  }
  // Every thread started from here on inherits the mask, so only the sigwait
  // below takes SIGINT and SIGTERM (the commands get every signal unblocked).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  AgentOptions options;
  options.server.url = flags->server;
  options.server.token = flags->token;
  options.name = flags->name;
  options.tags = flags->tags;
  options.slots = flags->slots;
  options.lease = flags->lease;
  options.config = *std::move(config);
  Agent agent(std::move(options));

  std::thread stopper([&agent, &stop_signals] {
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    if (signal_number == 0) return;  // woken by main at a fatal end
    std::cerr << "cascade-worker: " << (signal_number == SIGTERM ? "SIGTERM" : "SIGINT")
              << ": releasing the jobs held and stopping\n";
    agent.Stop();
  });
  std::cerr << "cascade-worker " << flags->name << ": " << flags->slots << " slot"
            << (flags->slots == 1 ? "" : "s") << ", server " << flags->server << "\n";
  absl::Status status = agent.Run();
  if (!status.ok()) {
    // Wake the stopper: a SIGTERM to ourselves, which it takes as a stop.
    kill(getpid(), SIGTERM);
    stopper.join();
    std::cerr << "cascade-worker: " << status.message() << "\n";
    return 1;
  }
  stopper.join();
  std::cerr << "cascade-worker: stopped\n";
  return 0;
}

}  // namespace
}  // namespace cascade::worker

int main(int argc, char** argv) { return cascade::worker::Main(argc, argv); }
