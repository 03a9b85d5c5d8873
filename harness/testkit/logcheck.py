"""Which container log lines count as errors (US1-4).

The backend logs one JSON object per line (``level``); the frontend logs plain text.
A line is an error when its JSON level is error/critical/fatal, or when plain text
carries a marker of a failure: a Python traceback, an uncaught Node error, a refused
or failed connection, or a configuration complaint.
"""

from __future__ import annotations

import json
import re

ERROR_LEVELS = {"error", "critical", "fatal", "panic"}
PLAIN_ERROR = re.compile(
    r"Traceback \(most recent call last\)|\bUnhandled\b|\bUncaught\b|\bECONNREFUSED\b|\bENOTFOUND\b|\bEAI_AGAIN\b"
    r"|\bEROFS\b|\bEACCES\b|Read-only file system|Permission denied|\b(?:ERROR|FATAL|CRITICAL)\b"
    r"|^\s*(?:Error|TypeError|ReferenceError|SyntaxError)\b:|fetch failed|connection refused",
    re.IGNORECASE | re.MULTILINE,
)


def is_error_line(line: str) -> bool:
    text = line.strip()
    if not text:
        return False
    if text.startswith("{"):
        try:
            entry = json.loads(text)
        except ValueError:
            entry = None
        if isinstance(entry, dict):
            level = str(entry.get("level", entry.get("severity", ""))).lower()
            return level in ERROR_LEVELS
    return bool(PLAIN_ERROR.search(text))


def error_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if is_error_line(line)]
