#!/usr/bin/env python3
# Copyright 2026 The Cascade Authors.
#
# User-space instructions a request costs cascade-server (in memory) and the
# HTTP floor (bench/http_floor_server.cc), counted by valgrind's callgrind:
# unlike requests a second, the count does not move with what else runs on
# the machine, so a change to the request path can be judged on a busy
# machine and its profile read function by function.
#
#   bench/http_instructions.py [--build-dir build-bench] [--requests 1000]
#
# Each server runs under callgrind with instrumentation off while it starts
# and is loaded with --jobs resident jobs (cascade-server only); then
# --requests GET /jobs/{id} (cycling over the resident ids) and as many POST
# /jobs go over one keep-alive connection, each call counted on its own
# (callgrind_control -i on / dump). It prints instructions a request, and
# leaves the profiles (callgrind.out.<server>.<pid>.<n>) in --out-dir for
# callgrind_annotate. The kernel's share (the loopback's TCP) is not
# counted: it is about the same for every server.
#
# Needs valgrind (Debian's package) and the build directory's cascade-server
# and cascade_http_floor (bench/run.sh builds both).

import argparse
import glob
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import http_benchmark as hb  # noqa: E402  (the servers' launch and load)


def count(server: hb.Server, out_prefix: str, name: str, requests: int, send) -> float:
    """Instructions a request of `send(conn, i)`, i in [0, requests)."""
    pid = str(server.proc.pid)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    send(conn, 0)  # the connection made and warm before counting
    subprocess.run(["callgrind_control", "-i", "on", pid], check=True, capture_output=True)
    for i in range(requests):
        send(conn, i)
    subprocess.run(["callgrind_control", "-d", name, pid], check=True, capture_output=True)
    subprocess.run(["callgrind_control", "-i", "off", pid], check=True, capture_output=True)
    conn.close()
    dumps = [p for p in glob.glob(f"{out_prefix}.{pid}.*")
             if re.search(rf"^desc: Trigger: dump {name}$", open(p).read(), re.M)]
    if len(dumps) != 1:
        raise hb.Failure(f"{server.name}: no callgrind dump named {name}")
    with open(dumps[0]) as f:
        totals = re.search(r"^totals: (\d+)", f.read(), re.M)
    return int(totals.group(1)) / requests


def main() -> int:
    p = argparse.ArgumentParser(description="instructions a request, under callgrind")
    p.add_argument("--build-dir", default=os.path.join(hb.REPO, "build-bench"))
    p.add_argument("--requests", type=int, default=1000, help="counted requests per call")
    p.add_argument("--jobs", type=int, default=1000, help="resident jobs in cascade-server")
    p.add_argument("--out-dir", help="where the profiles and logs go (default: a new "
                   "temporary directory)")
    args = p.parse_args()
    hb.WORK = args.out_dir or tempfile.mkdtemp(prefix="cascade_http_instructions.")
    os.makedirs(hb.WORK, exist_ok=True)
    args.out_dir = hb.WORK
    build = os.path.abspath(args.build_dir)
    valgrind = ["valgrind", "--tool=callgrind", "--instr-atstart=no"]
    body = json.dumps(hb.CASCADE_JOB)
    results = {}
    servers = []
    try:
        prefix = os.path.join(args.out_dir, "callgrind.out.cascade")
        cascade = hb.Server("cascade", valgrind + [f"--callgrind-out-file={prefix}.%p",
                                                    os.path.join(build, "server", "cascade-server"),
                                                    "--listen", "127.0.0.1:0", "--data", ":memory:",
                                                    "--token", f"{hb.TOKEN}=default"])
        servers.append(cascade)
        cascade.prefix, cascade.headers = "/api/v2", {"Authorization": f"Bearer {hb.TOKEN}"}
        hb.load_cascade(cascade, args.jobs)
        headers = dict(cascade.headers, **{"Content-Type": "application/json"})
        ids = cascade.ids

        def get(conn, i):
            conn.request("GET", f"/api/v2/jobs/{ids[i % len(ids)]}", headers=headers)
            conn.getresponse().read()

        def post(conn, i):
            conn.request("POST", "/api/v2/jobs", body, headers)
            conn.getresponse().read()

        results["cascade"] = (count(cascade, prefix, "get", args.requests, get),
                              count(cascade, prefix, "post", args.requests, post))

        # The floor answers bodies of the sizes cascade-server's have.
        _, got = cascade.call("GET", f"/jobs/{ids[0]}")
        _, posted = cascade.call("POST", "/jobs", hb.CASCADE_JOB)
        prefix = os.path.join(args.out_dir, "callgrind.out.floor")
        floor = hb.Server("floor", valgrind + [f"--callgrind-out-file={prefix}.%p",
                                                os.path.join(build, "bench", "cascade_http_floor"),
                                                "--get-bytes", str(len(got)), "--post-bytes",
                                                str(len(posted))],
                          listen_re=r"listening on 127\.0\.0\.1:(\d+)")
        servers.append(floor)
        results["floor"] = (count(floor, prefix, "get", args.requests, get),
                            count(floor, prefix, "post", args.requests, post))
    except hb.Failure as e:
        hb.log(f"FAILED: {e}")
        return 1
    finally:
        for s in servers:
            s.stop()
    print("| request | cascade-server | the floor | floor / cascade-server |")
    print("|---|---:|---:|---:|")
    for i, call in enumerate(("GET /jobs/{id}", "POST /jobs")):
        c, f = results["cascade"][i], results["floor"][i]
        print(f"| {call} | {c / 1e3:.1f}k | {f / 1e3:.1f}k | {f / c:.0%} |")
    print(f"(user-space instructions a request, {args.requests} requests each, "
          f"{args.jobs} resident jobs; profiles in {args.out_dir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
