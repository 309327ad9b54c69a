#!/usr/bin/env bash
# The dashboard's browser test (dashboard.test.js) against a cascade-server binary.
#   tests/browser/run.sh [BUILD_DIR]     (default build)
# Installs the pinned playwright-core (package.json, package-lock.json) with
# `npm ci` into BUILD_DIR/browser_tests when it is missing or was installed
# from another lock (the source tree gets no node_modules), fails if any
# installed package's licence is outside the allow-list, starts
# BUILD_DIR/server/cascade-server in memory on a free loopback port with a
# known client and worker token and no demo workers, and runs the test with
# Node's test runner in Debian's Chromium (/usr/bin/chromium). The server and
# the runner's process group (Chromium included) are stopped on the way out,
# whatever happens. Leaves BUILD_DIR/artifacts/dashboard.png. Exit status:
# the runner's. CASCADE_DASHBOARD_FROM_SOURCE=1 tests the page in the source
# tree (server/dashboard/, through serve_dashboard.js) instead of the copy
# built into the binary: for working on the page without rebuilding.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
server="$build/server/cascade-server"
[[ -x "$server" ]] || { echo "browser: no $server (build cascade-server first)" >&2; exit 1; }
[[ -x /usr/bin/chromium ]] || { echo "browser: no /usr/bin/chromium (scripts/deps.sh installs it)" >&2; exit 1; }

work="$build/browser_tests"
mkdir -p "$work"
stamp="$work/node_modules/.cascade-installed-from.json"
if ! cmp -s "$here/package-lock.json" "$stamp"; then
  cp "$here/package.json" "$here/package-lock.json" "$work/"
  (cd "$work" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error >/dev/null)
  cp "$here/package-lock.json" "$stamp"
fi
node "$here/check_licenses.js" "$work"

client_token="browser-client-token"
worker_token="browser-worker-token"
artifacts="$build/artifacts"
mkdir -p "$artifacts"
log="$work/server.log"
server_pid=""
proxy_pid=""
group=""
cleanup() {
  [[ -z "$group" ]] || kill -KILL -- "-$group" 2>/dev/null || true
  [[ -z "$proxy_pid" ]] || kill -TERM "$proxy_pid" 2>/dev/null || true
  if [[ -n "$server_pid" ]] && kill -TERM "$server_pid" 2>/dev/null; then
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Logs are emptied here, not by the background job's redirection, which may
# come after the loop below first reads them (and finds the last run's port).
: >"$log"
"$server" --listen 127.0.0.1:0 --data :memory: --token "$client_token=browser" \
  --worker-token "$worker_token" >>"$log" 2>&1 &
server_pid=$!
base=""
for _ in $(seq 100); do
  base=$(sed -n 's|^cascade-server listening on \(http://127\.0\.0\.1:[0-9]*\)/api/v2$|\1|p' "$log")
  [[ -n "$base" ]] && break
  kill -0 "$server_pid" 2>/dev/null || { echo "browser: cascade-server exited:" >&2; cat "$log" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$base" ]] || { echo "browser: cascade-server did not start within 10 s" >&2; cat "$log" >&2; exit 1; }

# The page as the binary serves it. A binary that does not embed it yet gets
# the source tree's copy through serve_dashboard.js (same paths, same CSP).
dashboard="$base"
if [[ -n "${CASCADE_DASHBOARD_FROM_SOURCE:-}" ]] \
    || [[ $(curl -s -o /dev/null -w '%{http_code}' "$base/ui/app.js") != 200 ]]; then
  echo "browser: serving server/dashboard/ from the source tree (not the binary's copy)"
  : >"$work/proxy.log"
  node "$here/serve_dashboard.js" "$base" >>"$work/proxy.log" 2>&1 &
  proxy_pid=$!
  dashboard=""
  for _ in $(seq 100); do
    dashboard=$(sed -n 's|^dashboard on \(http://127\.0\.0\.1:[0-9]*\)/$|\1|p' "$work/proxy.log")
    [[ -n "$dashboard" ]] && break
    sleep 0.1
  done
  [[ -n "$dashboard" ]] || { echo "browser: serve_dashboard.js did not start" >&2; cat "$work/proxy.log" >&2; exit 1; }
fi

# setsid: the runner leads a new process group, Chromium in it (a background
# job of a non-interactive shell is no group leader, so setsid does not fork).
# timeout: a test that leaves something open cannot hold the run (it takes
# about 15 s).
CASCADE_URL="$base" DASHBOARD_URL="$dashboard" CLIENT_TOKEN="$client_token" \
  WORKER_TOKEN="$worker_token" ARTIFACTS_DIR="$artifacts" NODE_PATH="$work/node_modules" \
  setsid timeout -k 5 100 node --test --test-concurrency=1 --test-reporter=spec "$here/stream.test.js" \
  "$here/dashboard.test.js" &
group=$!
status=0
wait "$group" || status=$?
if ((status == 0)); then
  echo "browser: PASS (playwright-core $(node -p "require('$work/node_modules/playwright-core/package.json').version"), $(/usr/bin/chromium --version 2>/dev/null | head -1), against $server)"
  echo "browser: screenshot $artifacts/dashboard.png"
else
  echo "browser: FAIL (exit $status; the server's output is in $log)"
fi
exit "$status"
