#!/usr/bin/env python3
# Copyright 2026 The Cascade Authors.
#
# examples/render_farm.cc, the library's walk-through the README points to,
# runs to its end and tells the story its header promises: a family whose
# parent waits for its children and finishes after them, a batch worked by
# two workers with a failed render put back in the queue to retry, a
# cancelled child whose cancellation cascades to its family, a batch cancel
# that skips the finished jobs, and the lock-free batch counts along the way.
# Its ids come from a manual clock and a fixed seed, but the checks are on
# what the lines say, not on the ids.
#   tests/render_farm_example_test.py PROGRAM
import re
import subprocess
import sys

ID = r"[0-9A-HJKMNP-TV-Z]{26}"

# The lines the program must print, in this order (others may come between).
EXPECTED = [
    r"Submitted a family \(parent waits for its children\):",
    rf"  parent {ID} pending -> s3://renders/studio/{ID}\.mp4",
    rf"  child  {ID} queued",
    rf"  child  {ID} queued",
    rf"Submitted batch {ID}: created, 6 jobs",
    rf"  batch {ID}: processing  total=6 finished=0 error=0 pending=6",
    rf"worker-[ab] rendered {ID} -> finished",
    rf"worker-[ab] failed {ID} -> queued",
    r"The parent is now finished \(renderDuration 12\.0 s\)\.",
    rf"  batch {ID}: processing  total=6 finished=2 error=0 pending=4",
    r"Cancelled one child of a new family; the cascade took:",
    rf"  {ID}  manually_cancelled Cancelled: cascade from {ID}",
    rf"  {ID}  manually_cancelled Cancelled via API",
    rf"  {ID}  manually_cancelled Cancelled: cascade from {ID}",
    r"Batch cancel: partial \(4 cancelled, 2 skipped\)",
    rf"  \[0\] {ID} skipped   finished           job is finished",
    rf"  \[1\] {ID} skipped   finished           job is finished",
    rf"  \[2\] {ID} cancelled manually_cancelled",
    rf"  \[5\] {ID} cancelled manually_cancelled",
    rf"  batch {ID}: finished  total=6 finished=2 error=4 pending=0",
    r"5 jobs finished, 12 held in all\.",
]


def main() -> int:
    run = subprocess.run([sys.argv[1]], capture_output=True, text=True, timeout=120)
    lines = [line.rstrip() for line in run.stdout.splitlines()]
    problems = []
    if run.returncode != 0:
        problems.append(f"exit status {run.returncode}; stderr: {run.stderr.strip()}")
    at = 0
    for pattern in EXPECTED:
        found = next((i for i in range(at, len(lines)) if re.fullmatch(pattern, lines[i])), None)
        if found is None:
            problems.append(f"no line matching {pattern!r} after line {at}")
            continue
        at = found + 1
    if problems:
        print("render_farm_example did not tell its story:", *problems, sep="\n  ")
        print("its output:\n" + run.stdout)
        return 1
    print(f"render_farm_example: {len(EXPECTED)} lines of its story, in order")
    return 0


if __name__ == "__main__":
    sys.exit(main())
