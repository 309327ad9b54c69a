#!/usr/bin/env bash
# Installs what is missing, builds, and starts the main program:
# cascade-server on 127.0.0.1:8080 with its embedded SQLite store in
# ./cascade-data, two demo workers so that submitted jobs move, and a
# generated token printed with ready curl lines. Arguments go to the server
# (cascade-server --help); they replace the defaults below.
#   ./scripts/run.sh
#   ./scripts/run.sh --data :memory: --listen 0.0.0.0:9000 --token s3cr3t=studio
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
# Its own build tree, so that it never changes the options of test.sh's.
scripts/build.sh build-run -DCASCADE_BUILD_TESTS=OFF -DCASCADE_BUILD_BENCHMARKS=OFF \
  -DCASCADE_BUILD_EXAMPLES=OFF
if (($#)); then
  exec build-run/server/cascade-server "$@"
fi
exec build-run/server/cascade-server --demo-workers 2
