"""Which container log lines count as errors (US1-4).

The backend logs one JSON object per line (``level``, ``message``, extra fields such as
``reason``, and ``exception`` with a traceback); the frontend's proxy logs JSON too (``level``,
``event``, ``reason``), and Next.js itself logs plain text. A line is an error when

* its JSON level is error/critical/fatal/panic, or
* the text of a JSON line's message-like fields (:data:`JUDGED_FIELDS`), or of a plain-text
  line, carries a marker of a failure: a traceback, an uncaught Node error, a refused or failed
  connection, a failed login to the database, a configuration complaint.

A level of info or warning does not make such a message benign: "connection refused" at
WARNING is still a backend that cannot reach its database. Only the message-like fields are
judged, so an access-log line (``{"message": "request", "path": "/healthz", ...}``) is judged
by its message, never by the path, status or client it records.
"""

from __future__ import annotations

import json
import re

ERROR_LEVELS = {"error", "critical", "fatal", "panic"}
ERROR_TEXT = re.compile(
    r"Traceback \(most recent call last\)|\bUnhandled\b|\bUncaught\b|\bECONNREFUSED\b|\bENOTFOUND\b|\bEAI_AGAIN\b"
    r"|\bEROFS\b|\bEACCES\b|Read-only file system|Permission denied|\b(?:ERROR|FATAL|CRITICAL)\b"
    r"|^\s*(?:Error|TypeError|ReferenceError|SyntaxError)\b:|fetch failed|connection refused"
    # the database: unreachable, unresolvable, or refusing the credentials
    r"|could not connect|could not translate host name|Name or service not known"
    r"|Temporary failure in name resolution|password authentication failed|no pg_hba\.conf entry"
    # configuration complaints (the backend's and the frontend's own wording among them)
    r"|missing required (?:environment )?variable|invalid configuration|configuration error",
    re.IGNORECASE | re.MULTILINE,
)
# The fields of a JSON line that say what happened (as opposed to what was requested).
JUDGED_FIELDS = ("message", "msg", "event", "reason", "error", "err", "exception", "exc_info", "stack",
                 "stack_trace", "detail")


def _judged_text(entry: dict) -> str:
    parts = []
    for key in JUDGED_FIELDS:
        value = entry.get(key)
        if value is None or value == "":
            continue
        # nested objects (an error with a code and a cause) are judged as their JSON text
        parts.append(value if isinstance(value, str) else json.dumps(value, default=str))
    return "\n".join(parts)


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
            return level in ERROR_LEVELS or bool(ERROR_TEXT.search(_judged_text(entry)))
    return bool(ERROR_TEXT.search(text))


def error_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if is_error_line(line)]
