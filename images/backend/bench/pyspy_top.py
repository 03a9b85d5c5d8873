"""Top frames of a ``py-spy record --format raw`` profile: own (leaf) and total samples per function.

Run: ``python images/backend/bench/pyspy_top.py PROFILE.raw [--process todo-api] [--top 15]``.
``--process`` keeps only stacks of processes whose command line contains the text (with
``py-spy record --subprocesses`` the load generator is in the same profile). Idle frames
(waiting in epoll/select/locks) never appear: record without ``--idle``.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter

_PROCESS = re.compile(r'^process \d+:"')
_ADDRESS = re.compile(r"^0x[0-9a-f]+ ")


def frames(stack: str, process: str | None) -> list[str] | None:
    parts = stack.split(";")
    procs = [p for p in parts if _PROCESS.match(p)]
    if process and not any(process in p for p in procs[-1:]):
        return None
    # Function and file without the line number: one row per function, not per line.
    return [re.sub(r":\d+\)$", ")", p) for p in parts if not _PROCESS.match(p) and not _ADDRESS.match(p)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile")
    parser.add_argument("--process", default="todo-api")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    with open(args.profile, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            stack_frames = frames(stack, args.process)
            if not stack_frames or not count.isdigit():
                continue
            n = int(count)
            samples += n
            own[stack_frames[-1]] += n
            for frame in set(stack_frames):
                total[frame] += n
    if not samples:
        print(f"pyspy_top: no samples of a process matching {args.process!r} in {args.profile}", file=sys.stderr)
        return 1
    print(f"{samples} samples of {args.process!r}")
    for title, counter in (("own", own), ("total", total)):
        print(f"\ntop {args.top} by {title} time")
        for frame, n in counter.most_common(args.top):
            print(f"{100 * n / samples:6.1f}%  {frame[:150]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
