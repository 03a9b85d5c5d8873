"""Worst-case time of the rules agent's parser on adversarial messages of the API's maximum length.

    .venv/bin/python images/backend/bench/bench_rules_parse.py

Each shape (a keyword followed by a long run of whitespace or punctuation, repeated keywords, …) is
built at 4,000 characters (the API's limit) and parsed five times; the best time is printed, so the
figure is the parser's cost rather than the machine's noise. The regular-expression denial of service
of the security review (issue 16) took seconds at 800 characters on the first three shapes.
"""

from __future__ import annotations

import time

from todo_api.chat.rules import MAX_MESSAGE_CHARS, parse

N = MAX_MESSAGE_CHARS


def fill(prefix: str, unit: str, suffix: str = "") -> str:
    body = unit * ((N - len(prefix) - len(suffix)) // len(unit) + 1)
    return (prefix + body)[: N - len(suffix)] + suffix


SHAPES = {
    "mark + spaces + \\nz\\nz": fill("mark", " ", "\nz\nz"),
    "change + spaces + \\nz": fill("change", " ", "\nz"),
    "add task + spaces + \\nz\\nz": fill("add task", " ", "\nz\nz"),
    "mark + 'x ' runs": fill("mark ", "x ", " as"),
    "change + ' to' repeated": fill("change ", "a to ", "\n"),
    "show repeated": fill("", "show "),
    "what's repeated": fill("", "what's "),
    "please repeated": fill("", "please ", "mark"),
    "punctuation run": fill("add task", ":-:- ", "\n"),
    "digits": fill("mark task ", "9"),
    "mixed whitespace": fill("delete", " \t\n\r\x0b\x0c", "x"),
}


def best_of(message: str, runs: int = 5) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        parse(message)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    worst = 0.0
    for name, message in SHAPES.items():
        assert len(message) == N, (name, len(message))
        seconds = best_of(message)
        worst = max(worst, seconds)
        print(f"{name:32} {len(message):5} chars  {seconds * 1000:7.3f} ms")
    print(f"{'worst case':32} {N:5} chars  {worst * 1000:7.3f} ms")


if __name__ == "__main__":
    main()
