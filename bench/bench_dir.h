// Copyright 2026 The Cascade Authors.
//
// Where the durable benchmarks (store_benchmark.cc, durability_benchmark.cc)
// put their data directories, and what file system that is.

#ifndef CASCADE_BENCH_BENCH_DIR_H_
#define CASCADE_BENCH_BENCH_DIR_H_

#include <sys/vfs.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"

namespace cascade::bench {

// $CASCADE_BENCH_DIR, else the temporary directory.
inline std::filesystem::path BenchRoot() {
  const char* env = std::getenv("CASCADE_BENCH_DIR");
  return env != nullptr && *env != '\0' ? std::filesystem::path(env)
                                        : std::filesystem::temp_directory_path();
}

// The file system `path` is on, for the report's context.
inline std::string FileSystemOf(const std::filesystem::path& path) {
  struct statfs st;
  if (statfs(path.c_str(), &st) != 0) return "unknown";
  switch (static_cast<unsigned long>(st.f_type)) {
    case 0x01021994:
      return "tmpfs (fsync is free: FULL measures nothing here)";
    case 0xEF53:
      return "ext2/3/4";
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    case 0x794C7630:
      return "overlayfs";
    default:
      return absl::StrCat("type 0x", absl::Hex(static_cast<unsigned long>(st.f_type)));
  }
}

// A new directory under BenchRoot(), named `<prefix>-XXXXXX`, for one run.
inline std::string MakeRunDir(std::string_view prefix) {
  std::string tmpl = (BenchRoot() / (std::string(prefix) + "-XXXXXX")).string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::perror("mkdtemp");
    std::abort();
  }
  return tmpl;
}

}  // namespace cascade::bench

#endif  // CASCADE_BENCH_BENCH_DIR_H_
