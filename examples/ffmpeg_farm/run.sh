#!/usr/bin/env bash
# Renders a real video on a small Cascade farm: cascade-server (in memory) and
# two cascade-worker processes running ffmpeg. It submits job.json, a parent
# job with three nested children: each child renders a two-second ffmpeg test
# clip (lavfi testsrc, smptebars, rgbtestsrc), and the parent, which waits for
# them, concatenates the three into one six-second MP4. worker.json says which
# command renders which template (README, "Render something real").
#
#   examples/ffmpeg_farm/run.sh              # installs what is missing, builds build-run/
#   examples/ffmpeg_farm/run.sh BUILD_DIR    # uses BUILD_DIR's binaries (scripts/test.sh)
#
# Environment: FFMPEG_FARM_OUTPUT, the directory the videos go to (default
# ./ffmpeg-farm-output, made if missing; each job writes <job id>.mp4 there, so
# runs never overwrite each other); FFMPEG_FARM_TIMEOUT, the seconds to wait for
# the parent (default 120).
#
# Progress goes to stderr; stdout gets one line, the path of the concatenated
# video, and the exit status is 0. Exit status 1 (and the logs of the server
# and the workers on stderr) when the parent ended in error, was cancelled, or
# did not finish in time. Whatever happens, the server and the workers are
# stopped (SIGTERM; SIGKILL after 15 s) before the script exits.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
say() { echo "ffmpeg_farm: $*" >&2; }

if (($#)); then
  build=$(cd "$1" && pwd)
else
  # scripts/run.sh's build tree: the server and the worker, no tests.
  (cd "$repo" && source scripts/deps.sh >&2 &&
    scripts/build.sh build-run -DCASCADE_BUILD_TESTS=OFF -DCASCADE_BUILD_BENCHMARKS=OFF \
      -DCASCADE_BUILD_EXAMPLES=OFF >&2)
  build=$repo/build-run
fi
server_bin=$build/server/cascade-server
worker_bin=$build/worker/cascade-worker
for bin in "$server_bin" "$worker_bin"; do
  [[ -x "$bin" ]] || { say "no $bin (build it first)"; exit 1; }
done
for tool in ffmpeg curl; do
  command -v "$tool" >/dev/null || { say "$tool is not installed (scripts/deps.sh installs it)"; exit 1; }
done

out=${FFMPEG_FARM_OUTPUT:-$PWD/ffmpeg-farm-output}
mkdir -p "$out"
out=$(cd "$out" && pwd)
timeout_seconds=${FFMPEG_FARM_TIMEOUT:-120}
work=$(mktemp -d)  # the logs

# ---- Stopping what we started, whatever happens ---------------------------------------
workers=()
server_pid=""
# stop PID...: SIGTERM, then SIGKILL to those still running after 15 s.
stop() {
  (($#)) || return 0
  kill -TERM "$@" 2>/dev/null || true
  local deadline=$((SECONDS + 15)) pid
  for pid in "$@"; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
stop_all() {
  local status=$?
  # The workers first: they release what they hold while the server answers.
  stop "${workers[@]}"
  if [[ -n "$server_pid" ]]; then stop "$server_pid"; fi
  if ((status != 0)); then
    for log in "$work"/*.log; do
      [[ -f "$log" ]] || continue
      echo "---- $(basename "$log") (last 40 lines)" >&2
      tail -n 40 "$log" >&2
    done
  fi
  rm -rf "$work"
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- The server ---------------------------------------------------------------------------
token=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
worker_token=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
# Every job's planned output: file://<out>/<job id>.mp4 (a URL: % and spaces escaped).
out_url=${out//%/%25}
out_url=${out_url// /%20}
"$server_bin" --data :memory: --listen 127.0.0.1:0 --token "$token=ffmpeg-farm" \
  --worker-token "$worker_token" --output-url "file://$out_url/{id}.mp4" >"$work/server.log" 2>&1 &
server_pid=$!
base=""
for _ in $(seq 1 100); do
  base=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/server.log")
  [[ -n "$base" ]] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
[[ -n "$base" ]] || { say "cascade-server did not start"; exit 1; }
say "cascade-server on $base (in memory), outputs in $out"

# ---- Two render nodes ---------------------------------------------------------------------
for n in 1 2; do
  # The token through the environment keeps it out of ps.
  CASCADE_WORKER_TOKEN=$worker_token "$worker_bin" --server "$base" --config "$here/worker.json" \
    --name "ffmpeg-farm-$$-$n" >"$work/worker-$n.log" 2>&1 &
  workers+=("$!")
done
say "2 cascade-workers started (worker.json)"

# ---- Submit, then wait for the parent -----------------------------------------------------
auth=(-H "Authorization: Bearer $token")
created=$(curl -sS --fail-with-body -X POST "$base/jobs" "${auth[@]}" \
  -H "Content-Type: application/json" --data-binary "@$here/job.json")
# The answer starts with the parent's id; its children follow.
id=$(grep -o '"id":"[0-9A-Z]*"' <<<"$created" | head -n 1 | cut -d'"' -f4)
[[ -n "$id" ]] || { say "no job id in the answer: $created"; exit 1; }
say "submitted job $id: $(grep -o '"id":"' <<<"$created" | wc -l) jobs (the parent and its children)"

deadline=$((SECONDS + timeout_seconds))
last=""
while :; do
  job=$(curl -sS "$base/jobs/$id" "${auth[@]}")
  status=$(grep -o '"status":"[a-z_:]*"' <<<"$job" | head -n 1 | cut -d'"' -f4)
  progress=$(grep -o '"progress":[0-9.]*' <<<"$job" | head -n 1 | cut -d: -f2)
  if [[ "$status $progress" != "$last" ]]; then
    say "job $id: $status ${progress:-0}%"
    last="$status $progress"
  fi
  case "$status" in
    finished) break ;;
    error | manually_cancelled) say "job $id ended $status: $job"; exit 1 ;;
  esac
  ((SECONDS < deadline)) || { say "job $id not finished after ${timeout_seconds} s: $job"; exit 1; }
  sleep 0.2
done

video="$out/$id.mp4"
[[ -s "$video" ]] || { say "job $id finished but $video is missing or empty"; exit 1; }
grep -h ': finished: ' "$work"/worker-*.log | sed 's/^[^ ]* /  /' >&2 || true
# What ffmpeg printed went to the job's log (404 if none arrived yet).
if curl -sf "$base/jobs/$id/logs" "${auth[@]}" -o "$work/parent.txt"; then
  say "the parent's log (GET /jobs/$id/logs, $(wc -l <"$work/parent.txt") lines) ends:"
  tail -n 3 "$work/parent.txt" | sed 's/^/  /' >&2
fi
echo "$video"
