#!/usr/bin/env bash
# Installs what is missing, builds, and starts the main program: for now the
# render-farm example, which drives an embedded engine through nested jobs, a
# batch, cancels and aggregates and prints what happens.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
scripts/build.sh build -DCASCADE_BUILD_TESTS=OFF -DCASCADE_BUILD_BENCHMARKS=OFF
exec build/render_farm_example "$@"
