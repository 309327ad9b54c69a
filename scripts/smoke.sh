#!/usr/bin/env bash
# The curl smoke test of cascade-server (CI runs it after the suites).
#   scripts/smoke.sh [path/to/cascade-server]      (default build/server/cascade-server)
# Starts the server in memory on a free port, then runs the seeds' own curl
# examples against it as printed, with only the base URL, the token and the
# example ids swapped for real ones, plus a worker's claim, heartbeat and
# finish, and checks every status code and a few fields. Ends with SIGTERM,
# which must stop the server cleanly (exit status 0).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/server/cascade-server}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

"$bin" --listen 127.0.0.1:0 --data :memory: --token YOUR_API_KEY=default \
  --worker-token smoke-worker >"$work/out" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  grep -q 'listening on' "$work/out" && break
  sleep 0.1
done
base=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/out")
[[ -n "$base" ]] || { cat "$work/out"; echo "smoke: the server did not start"; exit 1; }
echo "smoke: $base"

failures=0
# expect CODE DESCRIPTION curl-args... : runs curl, checks the status code.
expect() {
  local want=$1 what=$2
  shift 2
  local got
  got=$(curl -s -o "$work/body" -w '%{http_code}' "$@")
  if [[ "$got" == "$want" ]]; then
    echo "  ok   $got $what"
  else
    echo "  FAIL $what: expected $want, got $got: $(head -c 300 "$work/body")"
    failures=$((failures + 1))
  fi
}
field() { python3 -c "import json,sys; print(json.load(open('$work/body'))$1)"; }

T=01HZX3C5Y5V7E8W3J6T9Q2M1NB
job() { printf '{"template": {"id": "%s", "composition": "%s"}}' "$T" "$1"; }

# Jobs to run the seeds' examples on.
expect 201 "POST /jobs" -X POST "$base/jobs" -H "Authorization: Bearer YOUR_API_KEY" \
  -H "Content-Type: application/json" -d "$(job main)"
first=$(field "['id']")
expect 201 "POST /jobs" -X POST "$base/jobs" -H "Authorization: Bearer YOUR_API_KEY" -d "$(job b)"
second=$(field "['id']")
expect 201 "POST /jobs" -X POST "$base/jobs" -H "Authorization: Bearer YOUR_API_KEY" -d "$(job c)"
third=$(field "['id']")
expect 201 "POST /batches" -X POST "$base/batches" -H "Authorization: Bearer YOUR_API_KEY" \
  -d "{\"jobs\": [$(job x), $(job y)]}"
batch=$(field "['batchId']")

# The seeds' examples, as printed (base URL, token and ids swapped).
expect 200 "seed: GET /jobs/{id}" -X GET "$base/jobs/$first" \
  -H "Authorization: Bearer YOUR_API_KEY"
expect 200 "seed: GET /jobs?states=...&limit=50&sort=oldest_first" \
  -X GET "$base/jobs?states=queued,render:dorender&limit=50&sort=oldest_first" \
  -H "Authorization: Bearer YOUR_API_KEY"
[[ $(field "[0]['id']") == "$first" ]] || { echo "  FAIL: the list does not start with the oldest job"; failures=$((failures + 1)); }
expect 200 "seed: PATCH /jobs/{id}/cancel" -X PATCH "$base/jobs/$first/cancel" \
  -H "Authorization: Bearer YOUR_API_KEY"
expect 200 "seed: POST /jobs/cancel" -X POST "$base/jobs/cancel" \
  -H "Authorization: Bearer YOUR_API_KEY" \
  -H "Content-Type: application/json" \
  -d "{
    \"jobs\": [
      \"$second\",
      \"$third\"
    ]
  }"
[[ $(field "[1]['status']") == manually_cancelled ]] || { echo "  FAIL: not cancelled"; failures=$((failures + 1)); }
expect 200 "seed: POST /batches/{id}/cancel" --request POST \
  --url "$base/batches/$batch/cancel" \
  --header 'Authorization: Bearer YOUR_API_KEY'
# The seeds' placeholder ids exist nowhere: 404, as the seed says.
expect 404 "seed: GET /jobs/01JTRDF7HCR8QAHYW8GPCP4S9Y" -X GET \
  "$base/jobs/01JTRDF7HCR8QAHYW8GPCP4S9Y" -H "Authorization: Bearer YOUR_API_KEY"

# A worker.
expect 201 "POST /jobs" -X POST "$base/jobs" -H "Authorization: Bearer YOUR_API_KEY" -d "$(job w)"
expect 200 "POST /workers/claim" -X POST "$base/workers/claim" \
  -H "Authorization: Bearer smoke-worker" -d '{"worker": "smoke"}'
id=$(field "['job']['id']")
lease=$(field "['lease']['token']")
expect 200 "POST /jobs/{id}/heartbeat" -X POST "$base/jobs/$id/heartbeat" \
  -H "Authorization: Bearer smoke-worker" -d "{\"lease\": \"$lease\", \"progress\": 50}"
expect 200 "POST /jobs/{id}/finish" -X POST "$base/jobs/$id/finish" \
  -H "Authorization: Bearer smoke-worker" -d "{\"lease\": \"$lease\"}"
[[ $(field "['status']") == finished ]] || { echo "  FAIL: not finished"; failures=$((failures + 1)); }
expect 204 "POST /workers/claim (nothing queued)" -X POST "$base/workers/claim" \
  -H "Authorization: Bearer smoke-worker"

# Refusals.
expect 401 "no token" "$base/jobs"
expect 403 "worker token on a client route" "$base/jobs" -H "Authorization: Bearer smoke-worker"
expect 400 "malformed JSON" -X POST "$base/jobs" -H "Authorization: Bearer YOUR_API_KEY" -d '{"template":'
expect 404 "unknown route" "$base/nothing" -H "Authorization: Bearer YOUR_API_KEY"
expect 405 "wrong method" -X DELETE "$base/jobs" -H "Authorization: Bearer YOUR_API_KEY"
head -c 11000000 /dev/zero | tr '\0' ' ' >"$work/big"
expect 413 "an 11 MB body" -X POST "$base/jobs" -H "Authorization: Bearer YOUR_API_KEY" \
  --data-binary "@$work/big"
expect 200 "GET /health" "$base/health"
expect 200 "GET /metrics" "$base/metrics"

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
if [[ $status -ne 0 ]]; then
  echo "  FAIL: SIGTERM: exit status $status"
  failures=$((failures + 1))
fi
grep -q 'stopped' "$work/out" || { echo "  FAIL: no clean stop"; cat "$work/out"; failures=$((failures + 1)); }
if ((failures)); then
  echo "smoke: $failures failure(s)"
  exit 1
fi
echo "smoke: all passed"
