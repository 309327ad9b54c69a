#!/usr/bin/env bash
# The @nexrender/api test (v1_api.test.js) against a cascade-server binary.
#   tests/nexrender_v1/run.sh [BUILD_DIR]     (default build; scripts/test.sh passes its own)
# Installs the pinned client (package.json, package-lock.json) with `npm ci`
# into BUILD_DIR/nexrender_v1 (npm's cache in ~/.npm; the source tree gets
# no node_modules), then runs the test with Node's test runner against
# BUILD_DIR/server/cascade-server. The test starts and stops the server; the
# runner runs in its own process group, which is killed on the way out, so
# nothing it started outlives this script. Exit status: the runner's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
server="$build/server/cascade-server"
[[ -x "$server" ]] || { echo "nexrender_v1: no $server (build cascade-server first)" >&2; exit 1; }

work="$build/nexrender_v1"
mkdir -p "$work"
cp "$here/package.json" "$here/package-lock.json" "$work/"
(cd "$work" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error >/dev/null)

group=""
cleanup() { [[ -z "$group" ]] || kill -KILL -- "-$group" 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM
# setsid: the runner leads a new process group (a background job of a
# non-interactive shell is no group leader, so setsid does not fork: $! is it).
CASCADE_SERVER="$server" NODE_PATH="$work/node_modules" \
  setsid node --test --test-reporter=spec "$here/v1_api.test.js" &
group=$!
status=0
wait "$group" || status=$?
if ((status == 0)); then
  echo "nexrender_v1: PASS (@nexrender/api $(node -p "require('$work/node_modules/@nexrender/api/package.json').version") against $server)"
else
  echo "nexrender_v1: FAIL (exit $status)"
fi
exit "$status"
