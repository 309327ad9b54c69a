#!/usr/bin/env python3
# Copyright 2026 The Cascade Authors.
#
# File: bench/http_benchmark.py
# -----------------------------------------------------------------------------
# Contract §12's HTTP row: requests per second and latency of
#   GET  /jobs/{id}   a job by id, cycling over 1,000 ids spread evenly over
#                     the resident jobs
#   POST /jobs        a small job creation, each request a new job
# on four servers, each on 127.0.0.1, each first loaded with --jobs resident
# jobs (10,000), all loaded by the same client (wrk: same threads,
# connections, duration and timeout) on the same machine:
#   floor      bench/http_floor_server.cc: a minimal Boost.Beast server that
#              answers a fixed body (200 with the size of cascade-server's
#              Job; 201 with that of its creation answer), with
#              cascade-server's threads. Ignores what it is asked.
#   memory     cascade-server --data :memory:, /api/v2, a bearer token
#   full       cascade-server with a data directory (synchronous=FULL, the
#              default): a POST is answered once its job is on disk
#   nexrender  the open-source nexrender-server (bench/nexrender_peer/,
#              npm @nexrender/server at the version its package-lock.json
#              pins), /api/v1, its nexrender-secret header, its JSON-file
#              database
# All four run at once (idle but for the one being loaded). The GET runs come
# first, at exactly the resident jobs (plus one, the job whose answer sized
# the floor's POST body), then the POST runs; within each, every server's run
# i comes before any run i+1, in a shuffled order, so that a noisy machine
# spreads over all servers alike. Each run's figures, the median over runs
# and the coefficient of variation are bench/report.py's business.
#
#   python3 bench/http_benchmark.py [--build-dir build-bench] [--out FILE]
#       [--seconds 10] [--runs 2] [--wrk-threads 2] [--connections 32]
#       [--jobs 10000] [--servers floor,memory,full,nexrender]
#
# Needs wrk (Debian's package), the build directory's cascade-server and
# cascade_http_floor, and for the peer Node.js and npm: `npm ci` installs it
# into BUILD_DIR/nexrender_peer (npm's cache in ~/.npm; the source tree gets
# no node_modules) when its lock file changed. Without node or npm, or when
# the install fails, the peer is skipped and the JSON says why. Data
# directories go under $CASCADE_BENCH_DIR (default: the system temp
# directory), removed afterwards.
#
# Output: one JSON file shaped like Google Benchmark's (bench/report.py
# reads it with the same code): a benchmark per run, named
# HTTP_GetJob/server:NAME and HTTP_PostJob/server:NAME, real_time the wall
# time per request at the measured rate (1 / rate), cpu_time the server
# process's CPU time per request (all its threads: /proc/PID/stat),
# items_per_second the rate; counters: latency mean / p50 / p99 / max in ms,
# the server's and wrk's CPU µs per request, cores busy (the server's; the
# whole machine's from /proc/stat; and the rest, neither the server's nor
# wrk's: other work that shared the machine), requests, non-2xx answers and
# socket errors. A run with a non-2xx answer,
# or none at all, is an error (error_occurred), and the program exits 1.
#
# wrk and the server share the machine's cores: on 2 cores the figures are a
# floor for every server, not its ceiling; they compare because every server
# shares the cores with the same client the same way.

import argparse
import datetime
import http.client
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVERS = ("floor", "memory", "full", "nexrender")
CALLS = (("GET", "HTTP_GetJob"), ("POST", "HTTP_PostJob"))
TOKEN = "bench-token"
NEXRENDER_SECRET = "bench-secret"
# The bodies POST /jobs sends: cascade-server's JobCreation (Cloud API v2)
# and nexrender's job (its template needs a src).
CASCADE_JOB = {"template": {"id": "01HZX3C5Y5V7E8W3J6T9Q2M1NB", "composition": "main"}}
NEXRENDER_JOB = {"template": {"src": "file:///projects/main.aep", "composition": "main"}}
GET_IDS = 1000          # ids a GET run cycles over
BATCH = 1000            # cascade-server's largest batch
START_TIMEOUT = 60.0    # seconds a server has to print where it listens
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(message: str):
    print(f"http_benchmark: {message}", file=sys.stderr, flush=True)


class Failure(Exception):
    pass


# --- Processes ---------------------------------------------------------------

class Server:
    """One server process: its name, its base URL's host and port, its path
    prefix, the headers a request carries, and the ids it holds."""

    def __init__(self, name, args, env=None, cwd=None, listen_re=None, stdout=None):
        self.name = name
        self.log_path = os.path.join(WORK, f"{name}.log")
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            args, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
            stdout=self.log_file if stdout is None else stdout, stderr=self.log_file,
            start_new_session=True)
        self.port = self._wait_for_port(listen_re or r"listening on http://127\.0\.0\.1:(\d+)")
        self.prefix = ""
        self.headers = {}
        self.ids = []
        self.threads = None

    def _wait_for_port(self, pattern: str) -> int:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            with open(self.log_path) as f:
                m = re.search(pattern, f.read())
            if m:
                return int(m.group(1))
            if self.proc.poll() is not None:
                raise Failure(f"{self.name} exited ({self.proc.returncode}) before listening: "
                              f"{self.tail()}")
            time.sleep(0.05)
        raise Failure(f"{self.name} printed no port within {START_TIMEOUT:.0f} s: {self.tail()}")

    def tail(self) -> str:
        with open(self.log_path) as f:
            return " | ".join(f.read().strip().splitlines()[-3:])

    def cpu_seconds(self) -> float:
        """The process's user + system time so far, all threads."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK   # utime, stime

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()

    def call(self, method: str, path: str, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            headers = dict(self.headers)
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            conn.request(method, self.prefix + path, body=data, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


def machine_busy_seconds() -> float:
    """Every CPU's busy time so far (/proc/stat's first line less idle and iowait)."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    return (sum(values) - values[3] - values[4]) / CLK_TCK


def cascade_threads(data: str) -> str:
    """The HTTP threads cascade-server runs (server/main.cc, server/http_server.h):
    I/O threads, one per core and at least 2; with a data directory, also a
    pool of max(32, 8 x cores) for the requests that may wait for a commit."""
    cores = os.cpu_count() or 1
    io = max(2, cores)
    return f"{io}" if data == ":memory:" else f"{io} + {max(32, 8 * cores)} waiting"


def start_cascade(name: str, build: str, data: str) -> Server:
    server = Server(name, [os.path.join(build, "server", "cascade-server"), "--listen",
                           "127.0.0.1:0", "--data", data, "--token", f"{TOKEN}=default"])
    server.prefix = "/api/v2"
    server.headers = {"Authorization": f"Bearer {TOKEN}"}
    server.threads = cascade_threads(data)
    return server


def load_cascade(server: Server, jobs: int):
    ids = []
    while len(ids) < jobs:
        n = min(BATCH, jobs - len(ids))
        status, body = server.call("POST", "/batches", {"jobs": [CASCADE_JOB] * n})
        answer = json.loads(body)
        if status != 201 or answer.get("successCount") != n:
            raise Failure(f"{server.name}: POST /batches answered {status}: {body[:200]!r}")
        ids += [j["id"] for j in answer["jobs"]]
    server.ids = ids


def install_nexrender(build: str) -> str:
    """npm ci of bench/nexrender_peer into BUILD/nexrender_peer, unless its lock
    is there already. Returns node_modules, or raises Failure."""
    for tool in ("node", "npm"):
        if not shutil.which(tool):
            raise Failure(f"{tool} is not installed (scripts/deps.sh installs nodejs and npm)")
    source = os.path.join(REPO, "bench", "nexrender_peer")
    target = os.path.join(build, "nexrender_peer")
    os.makedirs(target, exist_ok=True)
    with open(os.path.join(source, "package-lock.json")) as f:
        lock = f.read()
    stamp = os.path.join(target, "node_modules", ".package-lock.json")
    same = os.path.exists(stamp) and os.path.exists(os.path.join(target, "package-lock.json")) \
        and open(os.path.join(target, "package-lock.json")).read() == lock
    if not same:
        for name in ("package.json", "package-lock.json"):
            shutil.copy(os.path.join(source, name), target)
        proc = subprocess.run(["npm", "ci", "--prefer-offline", "--no-audit", "--no-fund",
                               "--loglevel=error"], cwd=target, capture_output=True, text=True)
        if proc.returncode != 0:
            raise Failure("npm ci failed: " + " | ".join(proc.stderr.strip().splitlines()[-3:]))
    return os.path.join(target, "node_modules")


def start_nexrender(node_modules: str, jobs: int) -> Server:
    directory = os.path.join(WORK, "nexrender")
    os.makedirs(directory)
    ids_file = os.path.join(directory, "ids")
    env = dict(os.environ, NEXRENDER_DATABASE=os.path.join(directory, "database.json"),
               NODE_PATH=node_modules)
    # Its log line per request goes nowhere (it is still written).
    server = Server("nexrender", ["node", os.path.join(REPO, "bench", "nexrender_peer",
                                                       "server.js"),
                                  "--secret", NEXRENDER_SECRET, "--seed", str(jobs),
                                  "--ids", ids_file],
                    env=env, listen_re=r"listening on 127\.0\.0\.1:(\d+)",
                    stdout=subprocess.DEVNULL)
    server.prefix = "/api/v1"
    server.headers = {"nexrender-secret": NEXRENDER_SECRET}
    server.threads = "1"  # Node: one thread runs JavaScript
    with open(ids_file) as f:
        server.ids = f.read().split()
    if len(server.ids) != jobs:
        raise Failure(f"nexrender: seeded {len(server.ids)} jobs, not {jobs}")
    return server


# --- wrk ---------------------------------------------------------------------

def lua_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_scripts(server: Server, job_body: dict) -> dict:
    """The GET and POST scripts of `server`: GET cycles over GET_IDS of its
    ids, spread evenly; POST sends one fixed body."""
    step = max(1, len(server.ids) // GET_IDS)
    ids = server.ids[::step][:GET_IDS]
    headers = "".join(f"wrk.headers[{lua_string(k)}] = {lua_string(v)}\n"
                      for k, v in server.headers.items())
    get = (headers +
           "local ids = {" + ",".join(lua_string(i) for i in ids) + "}\n"
           "local n = #ids\nlocal i = 0\n"
           "request = function()\n  i = i + 1\n"
           f"  return wrk.format(\"GET\", {lua_string(server.prefix + '/jobs/')} .. "
           "ids[(i % n) + 1])\nend\n")
    post = (headers + 'wrk.method = "POST"\n' +
            f"wrk.body = {lua_string(json.dumps(job_body))}\n"
            'wrk.headers["Content-Type"] = "application/json"\n')
    scripts = {}
    for method, text in (("GET", get), ("POST", post)):
        path = os.path.join(WORK, f"{server.name}-{method.lower()}.lua")
        with open(path, "w") as f:
            f.write(text)
        scripts[method] = path
    return scripts


_UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text)
    if not m:
        raise Failure(f"wrk printed a latency this does not read: {text!r}")
    return float(m.group(1)) * _UNIT_MS[m.group(2)]


def parse_wrk(out: str) -> dict:
    """wrk 4's report (with --latency) as numbers."""
    r = {}
    m = re.search(r"Requests/sec:\s*([0-9.]+)", out)
    if not m:
        raise Failure(f"wrk printed no Requests/sec: {out[-300:]!r}")
    r["rate"] = float(m.group(1))
    m = re.search(r"^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)", out, re.M)
    if m:
        r["latency_mean_ms"], r["latency_max_ms"] = _ms(m.group(1)), _ms(m.group(3))
    for pct in ("50", "99"):
        m = re.search(rf"^\s*{pct}%\s+(\S+)", out, re.M)
        if m:
            r[f"latency_p{pct}_ms"] = _ms(m.group(1))
    m = re.search(r"(\d+) requests in ([0-9.]+)(us|ms|s|m)", out)
    r["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    r["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    r["socket_errors"] = sum(int(x) for x in m.groups()) if m else 0
    return r


def run_wrk(args, server: Server, method: str, script: str) -> dict:
    url = f"http://127.0.0.1:{server.port}{server.prefix}/jobs"
    cmd = ["wrk", f"-t{args.wrk_threads}", f"-c{args.connections}", f"-d{args.seconds}s",
           f"--timeout={args.timeout}s", "--latency", "-s", script, url]
    cpu0, busy0 = server.cpu_seconds(), machine_busy_seconds()
    wrk0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.monotonic() - t0
    wrk1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu1, busy1 = server.cpu_seconds(), machine_busy_seconds()
    if proc.returncode != 0:
        raise Failure(f"wrk failed ({proc.returncode}): {proc.stderr.strip()[-300:]}")
    r = parse_wrk(proc.stdout)
    requests = max(r["requests"], 1)
    wrk_cpu = (wrk1.ru_utime - wrk0.ru_utime) + (wrk1.ru_stime - wrk0.ru_stime)
    r.update(server_cpu_us_per_request=(cpu1 - cpu0) * 1e6 / requests,
             wrk_cpu_us_per_request=wrk_cpu * 1e6 / requests,
             server_cores_busy=(cpu1 - cpu0) / wall,
             machine_cores_busy=(busy1 - busy0) / wall,
             # What neither the server nor wrk used: other work on the machine.
             other_cores_busy=max(0.0, (busy1 - busy0) - (cpu1 - cpu0) - wrk_cpu) / wall)
    return r


def entry(name: str, index: int, runs: int, r: dict) -> dict:
    """One run as a Google Benchmark iteration entry."""
    rate = r["rate"]
    e = {"name": name, "run_name": name, "run_type": "iteration", "repetitions": runs,
         "repetition_index": index, "threads": 1, "iterations": r["requests"],
         "real_time": 1e9 / rate if rate else 0.0,
         "cpu_time": r["server_cpu_us_per_request"] * 1e3, "time_unit": "ns",
         "items_per_second": rate}
    for k in ("latency_mean_ms", "latency_p50_ms", "latency_p99_ms", "latency_max_ms",
              "server_cpu_us_per_request", "wrk_cpu_us_per_request", "server_cores_busy",
              "machine_cores_busy", "other_cores_busy", "requests", "non_2xx",
              "socket_errors"):
        if k in r:
            e[k] = r[k]
    if rate <= 0 or r["non_2xx"] > 0:
        e["error_occurred"] = True
        e["error_message"] = (f"{r['non_2xx']} non-2xx answers" if r["non_2xx"]
                              else "no request was answered")
    return e


# --- Main --------------------------------------------------------------------

WORK = ""


def filesystem_of(path: str) -> str:
    try:
        out = subprocess.run(["df", "--output=fstype", path], capture_output=True, text=True,
                             timeout=10).stdout.split()
        return out[-1] if len(out) > 1 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="cascade-server over HTTP beside its floor and "
                                "nexrender-server (contract §12)")
    p.add_argument("--build-dir", default=os.path.join(REPO, "build-bench"))
    p.add_argument("--out", help="the JSON (default: BUILD_DIR/cascade_http_bench.json)")
    p.add_argument("--seconds", type=int, default=10, help="one wrk run")
    p.add_argument("--runs", type=int, default=2, help="runs per server and call")
    p.add_argument("--wrk-threads", type=int, default=2)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--timeout", type=int, default=10, help="wrk's request timeout, seconds")
    p.add_argument("--jobs", type=int, default=10000, help="resident jobs in each server")
    p.add_argument("--servers", default=",".join(SERVERS))
    p.add_argument("--seed", type=int, help="the shuffle's seed (default: random)")
    args = p.parse_args(argv)
    build = os.path.abspath(args.build_dir)
    out = args.out or os.path.join(build, "cascade_http_bench.json")
    servers_wanted = [s for s in args.servers.split(",") if s]
    unknown = sorted(set(servers_wanted) - set(SERVERS))
    if unknown:
        p.error(f"unknown servers {unknown}; known: {', '.join(SERVERS)}")
    for name, lo, hi in (("seconds", 1, 3600), ("runs", 1, 100), ("wrk_threads", 1, 64),
                         ("connections", 1, 10000), ("timeout", 1, 3600), ("jobs", 1, 1000000)):
        if not lo <= getattr(args, name) <= hi:
            p.error(f"--{name.replace('_', '-')} must be in [{lo}, {hi}]")
    if args.connections < args.wrk_threads:
        p.error("--connections must be at least --wrk-threads (wrk's own rule)")
    if not shutil.which("wrk"):
        log("wrk is not installed (Debian's package `wrk`; bench/run.sh installs it)")
        return 1
    for binary in ("server/cascade-server", "bench/cascade_http_floor"):
        if not os.access(os.path.join(build, binary), os.X_OK):
            log(f"no {os.path.join(build, binary)}: build it first")
            return 1
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    shuffle = random.Random(seed)

    global WORK
    root = os.environ.get("CASCADE_BENCH_DIR") or tempfile.gettempdir()
    WORK = tempfile.mkdtemp(prefix="cascade_http_bench.", dir=root)
    servers = {}
    context = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host_name": socket.gethostname(), "executable": "bench/http_benchmark.py",
        "num_cpus": os.cpu_count(), "load_avg": list(os.getloadavg()),
        "client": "wrk " + wrk_version(),
        "client_settings": f"{args.wrk_threads} threads, {args.connections} connections, "
                           f"{args.seconds} s a run, {args.runs} run"
                           f"{'' if args.runs == 1 else 's'} a server and call, "
                           f"timeout {args.timeout} s",
        "resident_jobs": args.jobs, "shuffle_seed": seed,
        "data_filesystem": filesystem_of(WORK),
    }
    benchmarks = []
    status = 0
    try:
        if "memory" in servers_wanted or "floor" in servers_wanted:
            log(f"cascade-server in memory, {args.jobs} jobs")
            servers["memory"] = start_cascade("memory", build, ":memory:")
            load_cascade(servers["memory"], args.jobs)
        if "full" in servers_wanted:
            log(f"cascade-server with a data directory (FULL), {args.jobs} jobs")
            servers["full"] = start_cascade("full", build, os.path.join(WORK, "data"))
            load_cascade(servers["full"], args.jobs)
        if "floor" in servers_wanted:
            # The floor answers with bodies the size of cascade-server's.
            memory = servers["memory"]
            _, got = memory.call("GET", f"/jobs/{memory.ids[len(memory.ids) // 2]}")
            code, posted = memory.call("POST", "/jobs", CASCADE_JOB)
            if code != 201:
                raise Failure(f"memory: POST /jobs answered {code}: {posted[:200]!r}")
            context.update(get_body_bytes=len(got), post_body_bytes=len(posted))
            # cascade-server's I/O threads (in memory, all it has).
            floor = Server("floor", [os.path.join(build, "bench", "cascade_http_floor"),
                                     "--threads", memory.threads, "--get-bytes",
                                     str(len(got)), "--post-bytes", str(len(posted))],
                           listen_re=r"listening on 127\.0\.0\.1:(\d+)")
            floor.prefix, floor.headers, floor.ids = "/api/v2", dict(memory.headers), memory.ids
            floor.threads = memory.threads
            servers["floor"] = floor
            if "memory" not in servers_wanted:
                servers.pop("memory").stop()
        if "nexrender" in servers_wanted:
            try:
                node_modules = install_nexrender(build)
                log(f"nexrender-server, {args.jobs} jobs")
                servers["nexrender"] = start_nexrender(node_modules, args.jobs)
                context["nexrender_server"] = "@nexrender/server " + package_version(
                    node_modules, "@nexrender/server") + ", Node.js " + node_version()
            except Failure as e:
                context["nexrender_skipped"] = str(e)
                log(f"nexrender-server skipped: {e}")
        context["server_threads"] = ", ".join(f"{name} {s.threads}"
                                              for name, s in servers.items())
        scripts = {name: write_scripts(s, NEXRENDER_JOB if name == "nexrender" else CASCADE_JOB)
                   for name, s in servers.items()}
        order = [n for n in SERVERS if n in servers]
        results = {}
        for method, bench in CALLS:
            for i in range(args.runs):
                shuffle.shuffle(order)
                for name in order:
                    r = run_wrk(args, servers[name], method, scripts[name][method])
                    log(f"{method} {name} run {i + 1}/{args.runs}: {r['rate']:,.0f} req/s, "
                        f"server {r['server_cpu_us_per_request']:.1f} µs CPU a request, "
                        f"other work {r['other_cores_busy']:.2f} cores")
                    results.setdefault((bench, name), []).append(r)
        for (bench, name), rs in results.items():
            for i, r in enumerate(rs):
                e = entry(f"{bench}/server:{name}", i, len(rs), r)
                status |= 1 if e.get("error_occurred") else 0
                benchmarks.append(e)
    except (Failure, OSError, ValueError) as e:
        # A server that died mid-run, or answered what is not JSON: what was
        # measured before is still written.
        log(str(e))
        status = 1
    finally:
        for s in servers.values():
            s.stop()
        shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump({"context": context, "benchmarks": benchmarks}, f, indent=1)
    log(f"wrote {out}")
    return status


def wrk_version() -> str:
    try:
        out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10)
        m = re.search(r"wrk (\S+)", out.stdout + out.stderr)
        return m.group(1) if m else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def node_version() -> str:
    try:
        return subprocess.run(["node", "--version"], capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def package_version(node_modules: str, package: str) -> str:
    try:
        with open(os.path.join(node_modules, package, "package.json")) as f:
            return json.load(f)["version"]
    except (OSError, ValueError, KeyError):
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
