// Copyright 2026 The Cascade Authors.
//
// cascade-worker's command line (contract §15), parsed with CLI11 into one
// struct, so that it can be tested without starting a worker.
//
//   cascade-worker --server http://farm:8080 --token T --config farm.json
//                  [--name node-1] [--tags gpu,ae] [--slots 2] [--lease-seconds 60]

#ifndef CASCADE_WORKER_FLAGS_H_
#define CASCADE_WORKER_FLAGS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cascade::worker {

struct WorkerFlags {
  std::string server;                   // --server URL (required)
  std::string token;                    // --token T, or $CASCADE_WORKER_TOKEN (required)
  std::string name;                     // --name N (default: the host name)
  std::vector<std::string> tags;        // --tags a,b (repeatable)
  int slots = 1;                        // --slots K, 1-256
  std::string config;                   // --config FILE (required)
  std::optional<absl::Duration> lease;  // --lease-seconds N, above 0, at most 86400
  bool help = false;                    // --help
};

// Parses argv[1..]. InvalidArgument with CLI11's words (naming the flag)
// for an unknown flag, a missing required one, or a bad value. `--help`
// gives help = true and nothing else is checked.
absl::StatusOr<WorkerFlags> ParseWorkerFlags(const std::vector<std::string>& args);

// The --help text.
std::string WorkerUsage();

}  // namespace cascade::worker

#endif  // CASCADE_WORKER_FLAGS_H_
