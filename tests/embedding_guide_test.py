#!/usr/bin/env python3
# Copyright 2026 The Cascade Authors.
#
# docs/embedding.md's complete program is true: its code block is
# examples/quickstart.cc (less the file's header comment, and wrapped to the
# page's width), and what the guide says it prints is what the built program
# prints (a manual clock and a fixed seed make the output, ids included, the
# same on every run).
#   tests/embedding_guide_test.py GUIDE SOURCE PROGRAM
import subprocess
import sys


def block_after(text: str, marker: str, fence: str) -> str:
    """The fenced block that follows `marker` in `text`."""
    at = text.index(marker)
    start = text.index(fence + "\n", at) + len(fence) + 1
    end = text.index("\n```", start)
    return text[start:end + 1]


def without_header(source: str) -> str:
    """`source` less its leading comment lines and the blank line after them."""
    lines = source.splitlines(keepends=True)
    while lines and lines[0].startswith("//"):
        lines.pop(0)
    while lines and not lines[0].strip():
        lines.pop(0)
    return "".join(lines)


def tokens(code: str) -> str:
    """`code` with every run of white space made one space: the same program
    however it is wrapped."""
    return " ".join(code.split())


def main() -> int:
    guide_path, source_path, program = sys.argv[1:4]
    guide = open(guide_path, encoding="utf-8").read()
    source = open(source_path, encoding="utf-8").read()
    failures = []

    shown = block_after(guide, "This is `examples/quickstart.cc`", "```cpp")
    if tokens(shown) != tokens(without_header(source)):
        failures.append(f"the guide's program is not {source_path}")

    run = subprocess.run([program], capture_output=True, text=True, timeout=60, check=False)
    if run.returncode != 0:
        failures.append(f"{program} exited {run.returncode}: {run.stderr}")

    said = block_after(guide, "It prints:", "```")
    if run.stdout != said:
        failures.append("the guide says the program prints:\n" + said +
                        "but it prints:\n" + run.stdout)

    for failure in failures:
        print("embedding_guide_test: " + failure, file=sys.stderr)
    print(f"{3 - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
