#!/usr/bin/env bash
# `cascade` (cli/) end to end against real cascade-server processes (ctest
# runs it; docs/cli.md):
#   tests/cli_e2e_test.sh CASCADE_SERVER CASCADE
# Two servers on free loopback ports, in memory, with known tokens:
#   A, --demo-workers 2: submit --wait of examples/cli/batch.json ends at
#     100 % with exit 0, printing plain lines when stdout is not a terminal
#     (and one redrawn line under a pseudo-terminal, when `script` is
#     there); a batch whose job times out ends with exit 3; a job from
#     standard input with --wait --json; list, list --batch, get, workers,
#     graph and their --json; watch, when the server has /events.
#   B, no workers (the test claims with curl on the worker routes, so that
#     jobs stay where it puts them): suspend, resume, cancel (one and
#     several), retry, abort, logs, graph --svg, the server's refusals
#     (409, 400, 401), and the exit statuses of usage errors and of a
#     server that does not answer.
# Prints "ok"/"FAIL" per check; exits 1 if any failed. Needs curl and
# python3 (JSON checks).
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
server_bin=${1:?usage: cli_e2e_test.sh CASCADE_SERVER CASCADE}
cli=${2:?usage: cli_e2e_test.sh CASCADE_SERVER CASCADE}
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

failures=0
check() {  # check NAME CONDITION-EXIT-STATUS DETAIL
  if [[ "$2" == 0 ]]; then
    echo "  ok   $1"
  else
    echo "  FAIL $1: $3"
    failures=$((failures + 1))
  fi
}
is() { [[ "$1" == "$2" ]]; echo $?; }           # is ACTUAL EXPECTED -> 0/1
has() { grep -qF -- "$2" "$1"; echo $?; }       # has FILE TEXT -> 0/1
json_ok() { python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$1" 2>/dev/null; echo $?; }
json_get() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# start NAME ARGS...: a server on a free port; sets $url.
start() {
  local name=$1
  shift
  "$server_bin" --listen 127.0.0.1:0 --data :memory: "$@" >"$work/$name.log" 2>&1 &
  pids+=($!)
  url=""
  for _ in $(seq 100); do
    url=$(grep -o 'listening on http://[0-9.:]*' "$work/$name.log" | head -1 | cut -d' ' -f3)
    [[ -n "$url" ]] && return 0
    sleep 0.1
  done
  echo "FAIL: server $name did not start"; cat "$work/$name.log"; exit 1
}

start a --token a-token=team-a --demo-workers 2 --max-attempts 5
url_a=$url
start b --token b-token=team-b --worker-token b-worker
url_b=$url
echo "cli_e2e: servers at $url_a (demo workers) and $url_b"
export CASCADE_URL=$url_a CASCADE_TOKEN=a-token

# ---- A: submit --wait --------------------------------------------------------------------
echo "submit --wait"
status=0
"$cli" submit "$repo/examples/cli/batch.json" --wait >"$work/wait.out" 2>"$work/wait.err" || status=$?
check "batch.json --wait exits 0" "$(is $status 0)" "exit $status; $(cat "$work/wait.err")"
last=$(tail -n 1 "$work/wait.out")
check "it ends at 100 %" \
  "$(is "$last" "100%  4/4 done · queued 0 · pending 0 · rendering 0 · finished 4 · error 0 · cancelled 0")" \
  "$last"
batch=$(grep -o '^batch [0-9A-Z]\{26\}' "$work/wait.out" | cut -d' ' -f2)
check "it printed the batch id and 4 jobs" "$(has "$work/wait.out" "batch $batch: 4 jobs created")" \
  "$(head -3 "$work/wait.out")"
check "not a terminal: no control characters (no \\r, no ESC)" \
  "$(LC_ALL=C grep -q $'[\x01-\x09\x0b-\x1f\x7f]' "$work/wait.out"; is $? 1)" "$(od -c "$work/wait.out" | head)"
plain=$(grep -c '% .*/4 done · ' "$work/wait.out")
check "a plain line per change (at least 2)" "$( ((plain >= 2)); echo $?)" "$plain lines"
check "without a bar" "$(grep -qF '[#' "$work/wait.out"; is $? 1)" "$(grep -F '[#' "$work/wait.out")"

if command -v script >/dev/null; then
  status=0
  script -qec "$(printf '%q ' "$cli" submit "$repo/examples/cli/batch.json" --wait)" /dev/null \
    >"$work/tty.out" 2>&1 </dev/null || status=$?
  check "on a terminal: exits 0" "$(is $status 0)" "exit $status"
  check "on a terminal: the full bar, redrawn with \\r and erase-line" \
    "$(has "$work/tty.out" $'\r[####################] 100%  4/4 done')" "$(tail -c 300 "$work/tty.out" | od -c | tail -5)"
  check "on a terminal: erase to the end of the line" "$(has "$work/tty.out" $'\x1b[K')" ""
else
  echo "  skip a terminal's progress line: no 'script' command"
fi

cat >"$work/fail.json" <<'JSON'
{"jobs": [
  {"template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1NB", "composition": "fine"}},
  {"template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1NB", "composition": "too-slow"},
   "timeoutSeconds": 0.5, "maxAttempts": 1}
]}
JSON
status=0
"$cli" submit "$work/fail.json" --wait >"$work/fail.out" 2>"$work/fail.err" || status=$?
check "a batch with a failed job exits 3" "$(is $status 3)" "exit $status; $(cat "$work/fail.err")"
check "and says so on stderr" "$(has "$work/fail.err" "error: 1 of 2 jobs did not finish (error 1, cancelled 0)")" \
  "$(cat "$work/fail.err")"
check "its last line counts the error" \
  "$(is "$(tail -n 1 "$work/fail.out")" "100%  2/2 done · queued 0 · pending 0 · rendering 0 · finished 1 · error 1 · cancelled 0")" \
  "$(tail -n 1 "$work/fail.out")"

status=0
echo '{"template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1NB", "composition": "main"},
       "assets": [{"type": "job", "layerName": "intro",
                   "template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1NB", "composition": "intro"}}]}' |
  "$cli" submit - --wait --json >"$work/job.json" 2>"$work/job.err" || status=$?
check "a job from stdin, --wait --json: exit 0" "$(is $status 0)" "exit $status; $(cat "$work/job.err")"
check "stdout is the server's JSON alone" "$(json_ok "$work/job.json")" "$(cat "$work/job.json")"
job=$(json_get "$work/job.json" 'v["id"]')
check "the progress went to stderr, to 100 % of the family (2 jobs)" \
  "$(has "$work/job.err" "100%  2/2 done")" "$(cat "$work/job.err")"

# ---- A: reading --------------------------------------------------------------------------
echo "list, get, workers, graph"
"$cli" list --limit 1000 >"$work/list.out" 2>&1
check "list: a table with a header" "$(head -1 "$work/list.out" | grep -q '^ID  *STATE  *PROGRESS  *ATTEMPTS'; echo $?)" \
  "$(head -2 "$work/list.out")"
check "list: shows the job" "$(grep -q "^$job  *finished  *100%" "$work/list.out"; echo $?)" "$(cat "$work/list.out")"
"$cli" list --json --state finished --limit 1000 >"$work/list.json"
check "list --json parses" "$(json_ok "$work/list.json")" "$(head -c 300 "$work/list.json")"
check "list --state finished: only finished jobs, all 4+1+2 of them" \
  "$(json_get "$work/list.json" 'all(j["status"]=="finished" for j in v) and len(v)>=7' | grep -q True; echo $?)" ""
"$cli" list --tag example --json >"$work/tags.json"
check "list --tag example: batch.json's top-level jobs, every one tagged" \
  "$(json_get "$work/tags.json" 'len(v) >= 4 and all("example" in j["tags"] for j in v)' | grep -qx True; echo $?)" \
  "$(head -c 300 "$work/tags.json")"
"$cli" list --batch "$batch" >"$work/batch.out" 2>&1
check "list --batch: the batch's 4 jobs, finished" \
  "$(has "$work/batch.out" "batch $batch finished: 4/4 done")" "$(cat "$work/batch.out")"
check "list --batch: one row per job" "$(is "$(grep -c '^[0-3]  *[0-9A-Z]\{26\}  *finished ' "$work/batch.out")" 4)" \
  "$(cat "$work/batch.out")"
"$cli" list --batch "$batch" --json >"$work/batch.json"
check "list --batch --json is GET /batches/{id}" "$(json_get "$work/batch.json" 'v["batchId"]' | grep -qx "$batch"; echo $?)" ""
status=0
"$cli" list --state bogus >"$work/bad.out" 2>"$work/bad.err" || status=$?
check "list --state bogus: exit 1" "$(is $status 1)" "exit $status"
check "with the server's message" \
  "$(has "$work/bad.err" "error: invalid query parameters: states: 'bogus' is not a job state")" "$(cat "$work/bad.err")"
check "its code and status" "$(has "$work/bad.err" "(invalid_argument, HTTP 400)")" "$(cat "$work/bad.err")"

"$cli" get "$job" >"$work/get.out"
check "get: the sheet" "$(has "$work/get.out" "state:      finished")" "$(cat "$work/get.out")"
check "get: its child" "$(grep -q '^children:   [0-9A-Z]\{26\}$' "$work/get.out"; echo $?)" "$(cat "$work/get.out")"
"$cli" get "$job" --json >"$work/get.json"
check "get --json: the Job" "$(json_get "$work/get.json" 'v["id"]' | grep -qx "$job"; echo $?)" ""
status=0
"$cli" get 01ZZZZZZZZZZZZZZZZZZZZZZZZ >/dev/null 2>"$work/get.err" || status=$?
check "get of an unknown job: exit 1, not_found" \
  "$( ((status == 1)) && grep -q '(not_found, HTTP 404)$' "$work/get.err"; echo $?)" "exit $status: $(cat "$work/get.err")"

"$cli" workers >"$work/workers.out"
check "workers: the demo workers" "$(grep -q '^demo-worker-0  *idle' "$work/workers.out"; echo $?)" "$(cat "$work/workers.out")"
"$cli" workers --json >"$work/workers.json"
check "workers --json" "$(json_get "$work/workers.json" 'len(v["workers"])' | grep -qx 2; echo $?)" ""
"$cli" graph "$job" >"$work/graph.dot"
check "graph: DOT of the family" \
  "$(head -1 "$work/graph.dot" | grep -q '^digraph' && grep -q 'child' "$work/graph.dot"; echo $?)" "$(head -3 "$work/graph.dot")"

# ---- B: changes, on jobs no worker takes ----------------------------------------------------
echo "changes (server B, no workers)"
export CASCADE_URL=$url_b CASCADE_TOKEN=b-token
tmpl='"template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1NB", "composition": "c"}'
new_job() { echo "{$tmpl}" | "$cli" submit - --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
j1=$(new_job)
j2=$(new_job)
j3=$(new_job)
"$cli" suspend "$j1" >"$work/s.out"
check "suspend" "$(is "$(cat "$work/s.out")" "held: $j1 queued (held)")" "$(cat "$work/s.out")"
check "suspend shows in get --json" \
  "$("$cli" get "$j1" --json | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["suspended"] else 1)'; echo $?)" ""
"$cli" resume "$j1" >"$work/r.out"
check "resume" "$(is "$(cat "$work/r.out")" "resumed: $j1 queued")" "$(cat "$work/r.out")"
"$cli" cancel "$j2" >"$work/c.out"
check "cancel one (PATCH)" "$(head -1 "$work/c.out" | grep -qx 'cancelled 1 job'; echo $?)" "$(cat "$work/c.out")"
check "cancel: the job's row" "$(grep -q "^$j2  *manually_cancelled" "$work/c.out"; echo $?)" "$(cat "$work/c.out")"
status=0
"$cli" cancel "$j2" 2>"$work/c2.err" || status=$?
check "cancel again: exit 1 with the server's 409" \
  "$( ((status == 1)) && grep -qx "error: job $j2 is manually_cancelled; Cancel is not allowed (failed_precondition, HTTP 409)" "$work/c2.err"; echo $?)" \
  "exit $status: $(cat "$work/c2.err")"
"$cli" retry "$j2" >"$work/rt.out"
check "retry" "$(head -1 "$work/rt.out" | grep -qx 'revived 1 job' && grep -q "^$j2  *queued" "$work/rt.out"; echo $?)" \
  "$(cat "$work/rt.out")"
"$cli" cancel "$j2" "$j3" --json >"$work/cm.json"
check "cancel several (POST /jobs/cancel), --json" \
  "$(python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); sys.exit(sorted(j["id"] for j in v) != sorted(sys.argv[2:]))' \
      "$work/cm.json" "$j2" "$j3"; echo $?)" "$(cat "$work/cm.json")"

# j1 rendering, claimed by hand, with a log.
curl -s -X POST "$url_b/api/v2/workers/claim" -H "Authorization: Bearer b-worker" \
  -d '{"worker": "e2e-node", "tags": []}' >"$work/claim.json"
lease=$(json_get "$work/claim.json" 'v["lease"]["token"]')
curl -s -o /dev/null -X POST "$url_b/api/v2/jobs/$j1/logs" -H "Authorization: Bearer b-worker" \
  -d "{\"lease\": \"$lease\", \"lines\": [\"frame 1/2\", \"frame 2/2\"]}"
"$cli" logs "$j1" >"$work/logs.out"
check "logs" "$(is "$(cat "$work/logs.out")" $'frame 1/2\nframe 2/2')" "$(cat "$work/logs.out")"
"$cli" workers >"$work/w.out"
check "workers: the node, busy with the job" "$(grep -q "^e2e-node  *busy  *$j1" "$work/w.out"; echo $?)" "$(cat "$work/w.out")"
"$cli" abort "$j1" >"$work/a.out"
check "abort" "$(is "$(cat "$work/a.out")" "abort requested: $j1 render:dorender (abort requested)")" "$(cat "$work/a.out")"
status=0
"$cli" abort "$j3" 2>"$work/a2.err" || status=$?
check "abort of a cancelled job: exit 1, 409" \
  "$( ((status == 1)) && grep -q "only a rendering job can be aborted (failed_precondition, HTTP 409)" "$work/a2.err"; echo $?)" \
  "exit $status: $(cat "$work/a2.err")"
status=0
"$cli" graph "$j1" --svg >"$work/g.svg" 2>"$work/g.err" || status=$?
if ((status == 0)); then
  check "graph --svg: SVG" "$(grep -q '<svg' "$work/g.svg"; echo $?)" "$(head -c 200 "$work/g.svg")"
elif grep -q "no route" "$work/g.err"; then
  echo "  skip graph --svg: this server has no /graph.svg yet"
else
  check "graph --svg" 1 "exit $status: $(cat "$work/g.err")"
fi

status=0
echo "{$tmpl}" >"$work/stays.json"
"$cli" submit "$work/stays.json" --wait >"$work/int.out" 2>"$work/int.err" &
waiter=$!
for _ in $(seq 50); do grep -q 'queued 1' "$work/int.out" 2>/dev/null && break; sleep 0.1; done
kill -INT "$waiter"
wait "$waiter" || status=$?
check "submit --wait stopped by SIGINT: exit 130" \
  "$( ((status == 130)) && grep -q 'interrupted' "$work/int.err"; echo $?)" "exit $status: $(cat "$work/int.err")"

# ---- Refusals and exit statuses -------------------------------------------------------------
echo "errors"
status=0
"$cli" --token wrong list >/dev/null 2>"$work/tok.err" || status=$?
check "a bad token: exit 1" "$(is $status 1)" "exit $status"
check "a bad token: the server's message" "$(is "$(cat "$work/tok.err")" "error: unknown token (unauthenticated, HTTP 401)")" \
  "$(cat "$work/tok.err")"
status=0
CASCADE_TOKEN= "$cli" list >/dev/null 2>"$work/notok.err" || status=$?
check "no token: exit 1 and a hint" "$( ((status == 1)) && grep -q '^hint: ' "$work/notok.err"; echo $?)" \
  "exit $status: $(cat "$work/notok.err")"
status=0
"$cli" --url http://127.0.0.1:1 list >/dev/null 2>"$work/down.err" || status=$?
check "no server: exit 4" "$(is $status 4)" "exit $status: $(cat "$work/down.err")"
for args in "bogus" "list --nope" "get" "submit /nonexistent/file.json" "--url ftp://x list"; do
  status=0
  # shellcheck disable=SC2086
  "$cli" $args >/dev/null 2>&1 || status=$?
  check "usage error '$args': exit 2" "$(is $status 2)" "exit $status"
done
echo '[{"template": {}}]' >"$work/array.json"
status=0
"$cli" submit "$work/array.json" >/dev/null 2>"$work/array.err" || status=$?
check "a JSON array FILE: exit 2, saying what a batch is" \
  "$( ((status == 2)) && grep -q '{"jobs": \[...\]}' "$work/array.err"; echo $?)" "exit $status: $(cat "$work/array.err")"

# ---- watch, once the server has the event stream --------------------------------------------
echo "watch"
export CASCADE_URL=$url_a CASCADE_TOKEN=a-token
code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url_a/api/v2/events" -H "Authorization: Bearer a-token" || true)
if [[ "$code" != 200 ]]; then
  echo "  skip watch: GET /api/v2/events answers $code on this server"
else
  "$cli" watch --json >"$work/watch.json" 2>"$work/watch.err" &
  watch_json=$!
  "$cli" watch >"$work/watch.out" 2>&1 &
  watch_text=$!
  sleep 0.5
  watched=$(echo "{$tmpl}" | "$cli" submit - --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  for _ in $(seq 200); do
    grep -q "\"jobId\":\"$watched\".*\"to\":\"finished\"" "$work/watch.json" 2>/dev/null &&
      grep -q "$watched  render:dorender → finished" "$work/watch.out" 2>/dev/null && break
    sleep 0.1
  done
  kill -INT "$watch_json" "$watch_text"
  status=0; wait "$watch_json" || status=$?
  check "watch --json: exits 0 on SIGINT" "$(is $status 0)" "exit $status: $(cat "$work/watch.err")"
  status=0; wait "$watch_text" || status=$?
  check "watch: exits 0 on SIGINT" "$(is $status 0)" "exit $status"
  check "watch --json: the job's transitions, to finished" \
    "$(grep -q "\"jobId\":\"$watched\".*\"to\":\"finished\"" "$work/watch.json"; echo $?)" "$(cat "$work/watch.json")"
  check "watch --json: each line is JSON" \
    "$(python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$work/watch.json"; echo $?)" ""
  check "watch: a line for people per event" \
    "$(grep -q "$watched  new → queued  submitted" "$work/watch.out" && grep -q "$watched  render:dorender → finished  finished" "$work/watch.out"; echo $?)" \
    "$(cat "$work/watch.out")"
  status=0
  "$cli" watch --batch 01ZZZZZZZZZZZZZZZZZZZZZZZZ >/dev/null 2>"$work/wb.err" || status=$?
  check "watch of an unknown batch: exit 1 with the server's message" \
    "$( ((status == 1)) && grep -q '(not_found, HTTP 404)' "$work/wb.err"; echo $?)" "exit $status: $(cat "$work/wb.err")"
fi

if ((failures)); then
  echo "cli_e2e: $failures FAILED"
  exit 1
fi
echo "cli_e2e: all passed"
