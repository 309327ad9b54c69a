#!/usr/bin/env bash
# Installs what is missing, builds, and starts the main program: for now the
# render-farm example, which drives an embedded engine through nested jobs, a
# batch, cancels and aggregates and prints what happens.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
# Its own build tree, so that it never changes the options of test.sh's.
scripts/build.sh build-run -DCASCADE_BUILD_TESTS=OFF -DCASCADE_BUILD_BENCHMARKS=OFF
exec build-run/render_farm_example "$@"
