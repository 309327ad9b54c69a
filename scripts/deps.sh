#!/usr/bin/env bash
# Installs the Debian packages Cascade builds with, when any is missing.
# Sourced by run.sh, test.sh and bench/run.sh; safe to run on its own. Defines
# cascade_install_missing for scripts that need a package more (bench/run.sh:
# gnuplot-nox).
set -euo pipefail

CASCADE_PACKAGES=(
  cmake ninja-build g++ ccache pkg-config
  libboost1.81-dev libboost-json1.81-dev libssl-dev libabsl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libsqlite3-dev
  # The PostgreSQL store (libpq), and the server its tests and benchmarks start
  # (scripts/pg_cluster.sh: initdb in a temporary directory, a private port).
  libpq-dev postgresql
  # cascade-worker's command line (worker/flags.cc), header-only.
  libcli11-dev
  # scripts/fuzz.sh: clang and its libFuzzer runtime. 16, not bookworm's default 14,
  # which cannot capture a structured binding in a lambda (C++20; engine_impl.cc).
  clang-16 libclang-rt-16-dev
  # tests/nexrender_v1 (the @nexrender/api client, from npm) and examples/ffmpeg_farm
  # (and scripts/smoke.sh: curl).
  nodejs ffmpeg curl
  # cascade-server's GET /jobs/{id}/graph.svg: Graphviz lays the family out (libgvc).
  libgraphviz-dev
  # tests/browser: the dashboard in headless Chromium, driven by playwright-core (npm).
  chromium
)
# npm: Debian's, unless the nodejs installed already brings it (NodeSource's
# nodejs provides npm and conflicts with Debian's package).
command -v npm >/dev/null || CASCADE_PACKAGES+=(npm)

# cascade_install_missing PACKAGE...: installs those of the packages that are
# not installed (apt-get update, then apt-get install, through sudo unless
# root). Does nothing, and needs no network, when all are installed.
cascade_install_missing() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  echo "cascade: installing ${missing[*]}"
  local sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

cascade_install_missing "${CASCADE_PACKAGES[@]}"

# The build trees CI makes (optimized, ASan+UBSan with clang, TSan, the
# fuzzer, the installed consumer) hold more than ccache's default
# 5 GB of objects together: at that size the cache was full and each run
# evicted what the next one needed.
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-12G}
