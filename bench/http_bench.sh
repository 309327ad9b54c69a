#!/usr/bin/env bash
# Requests per second of cascade-server on loopback, measured with wrk (a
# standard HTTP load tool, Debian package `wrk`, installed when missing):
#   GET /api/v2/jobs/{id}   one job, read over and over
#   POST /api/v2/jobs       a small JobCreation body, each request a new job
# The server is a Release build (build-bench/), in memory (--data :memory:)
# and with a data directory under FULL sync (the default), on 127.0.0.1.
#   bench/http_bench.sh            # 10 s per run, 2 wrk threads, 32 connections
#   CASCADE_HTTP_BENCH_SECONDS=30 CASCADE_HTTP_BENCH_CONNECTIONS=64 bench/http_bench.sh
# wrk and the server share the machine's cores: on a 2-core machine the
# figures are a floor for the server, not its ceiling.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${CASCADE_HTTP_BENCH_SECONDS:-10}
connections=${CASCADE_HTTP_BENCH_CONNECTIONS:-32}
if ! command -v wrk >/dev/null; then
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq wrk >/dev/null
fi
scripts/build.sh build-bench -DCASCADE_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=Release
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

run() {  # run LABEL DATA
  local label=$1 data=$2
  build-bench/server/cascade-server --listen 127.0.0.1:0 --data "$data" --token bench=default \
    >"$work/out" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do grep -q 'listening on' "$work/out" && break; sleep 0.1; done
  local base
  base=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/out")
  local body='{"template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1NB", "composition": "main"}}'
  local id
  id=$(curl -s -X POST "$base/jobs" -H 'Authorization: Bearer bench' -d "$body" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench"
LUA
  echo "== $label: GET /jobs/{id}"
  wrk -t2 -c"$connections" -d"${seconds}s" -H 'Authorization: Bearer bench' "$base/jobs/$id" |
    grep -E 'Requests/sec|Latency|Non-2xx|Socket errors' || true
  echo "== $label: POST /jobs"
  wrk -t2 -c"$connections" -d"${seconds}s" -s "$work/post.lua" "$base/jobs" |
    grep -E 'Requests/sec|Latency|Non-2xx|Socket errors' || true
  kill -TERM "$pid"
  wait "$pid" || true
}
run "in memory" ":memory:"
run "data directory (FULL)" "$work/data"
