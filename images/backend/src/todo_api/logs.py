"""JSON logs on stdout, one object per line, with secrets masked."""

from __future__ import annotations

import json
import logging
import sys
import time
from urllib.parse import urlsplit, urlunsplit

_RESERVED = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "color_message"}
_secrets: list[str] = []


def register_secret(value: str | None) -> None:
    """Remember a secret so that no log line ever carries it, whatever logged it."""
    if value and len(value) >= 4 and value not in _secrets:
        _secrets.append(value)


def scrub(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


def mask_url(url: str) -> str:
    """``postgresql://user:***@host:5432/db?…`` - the password (if any) replaced."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rsplit("@", 1)[1]
        user = parts.username or ""
        return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))
    except ValueError:
        return "<unparseable URL>"


# One encoder for every line: json.dumps with options builds a new JSONEncoder per call.
_encoder = json.JSONEncoder(default=str, ensure_ascii=False)


class JsonFormatter(logging.Formatter):
    # (second, its formatted time): strftime once per second, not per line. One tuple, replaced
    # whole, so a thread never sees one second's stamp paired with another second.
    _cached: tuple[int, str] = (-1, "")

    def _time(self, created: float) -> str:
        second = int(created)
        cached = self._cached
        if cached[0] != second:
            cached = self._cached = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        return cached[1]

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": f"{self._time(record.created)}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return scrub(_encoder.encode(entry))


def configure(level: str) -> None:
    # No line shows where or on which thread or process it was logged: skip collecting it (the
    # caller's frame walk, thread and process names) for every record - the request log writes one
    # per request (issue 15). The knobs the logging HOWTO names for this ("Optimization").
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # One line per request comes from our own middleware; uvicorn's access log would double it.
    logging.getLogger("uvicorn.access").disabled = True
    for noisy in ("httpx", "httpcore", "mcp", "sse_starlette"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
