#!/usr/bin/env bash
# Installs the Debian packages Cascade builds with, when any is missing.
# Sourced by run.sh and test.sh; safe to run on its own.
set -euo pipefail

CASCADE_PACKAGES=(
  cmake ninja-build g++ ccache pkg-config
  libboost1.81-dev libboost-json1.81-dev libssl-dev libabsl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libsqlite3-dev
  # scripts/fuzz.sh: clang and its libFuzzer runtime. 16, not bookworm's default 14,
  # which cannot capture a structured binding in a lambda (C++20; engine_impl.cc).
  clang-16 libclang-rt-16-dev
)

missing=()
for p in "${CASCADE_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "cascade: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi
