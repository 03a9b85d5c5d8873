"""``todo-api`` / ``python -m todo_api``: validate the environment, then serve on 0.0.0.0:$PORT."""

from __future__ import annotations

import logging
import sys

from todo_api.settings import ConfigError, load_settings

# After SIGTERM the server first drains for this long: it keeps serving, and every answer says
# "Connection: close", so each pooled keep-alive connection of a client (the frontend's proxy) is
# closed cleanly after a response. Longer than Node's idle keep-alive (undici: 4 s), so a
# connection that saw no request meanwhile has been dropped by the client itself. Without it,
# uvicorn closes idle connections at once, and a request the client is just sending on one fails
# ("other side closed") — a POST is not retried, so a chat turn failed during a rolling update.
DRAIN_SECONDS = 5
# In-flight requests then get this long to finish (preStop 5 s + drain + this < the chart's 30 s).
GRACEFUL_SHUTDOWN_SECONDS = 18
# Idle keep-alive connections stay open longer than any client or proxy keeps them (Node's
# undici: 4 s, load balancers: 60 s), so a client never reuses a connection the server is closing.
KEEP_ALIVE_SECONDS = 65


def _graceful_server_class() -> type:
    import signal
    import threading
    from contextlib import contextmanager

    import uvicorn

    from todo_api import lifecycle

    class GracefulServer(uvicorn.Server):
        """uvicorn's server, but a SIGTERM/SIGINT stop drains first and is a success: exit status 0.

        The first signal starts the drain (:data:`DRAIN_SECONDS`, answers carry "Connection:
        close": ``lifecycle.DRAINING``); then uvicorn stops accepting, finishes in-flight requests
        (bounded by timeout_graceful_shutdown) and runs the lifespan shutdown. A second signal
        stops at once. Stock uvicorn re-raises the signal, which would make the exit status
        143 / -15 instead of 0.
        """

        def handle_exit(self, sig, frame) -> None:  # type: ignore[override]
            if lifecycle.DRAINING.is_set():
                super().handle_exit(sig, frame)
                return
            lifecycle.DRAINING.set()
            logging.getLogger("todo_api").info("draining", extra={"seconds": DRAIN_SECONDS})
            timer = threading.Timer(DRAIN_SECONDS, super().handle_exit, args=(sig, None))
            timer.daemon = True
            timer.start()

        @contextmanager
        def capture_signals(self):  # type: ignore[override]
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            handled = (signal.SIGINT, signal.SIGTERM)
            original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
            try:
                yield
            finally:
                for sig, handler in original.items():
                    signal.signal(sig, handler)

    return GracefulServer


# The cyclic garbage collector's first generation runs every GC_THRESHOLD allocations (Python's
# default: 700). A request allocates thousands of short-lived objects (ORM states, pydantic and
# Starlette objects, log records), so the default ran the collector several times per request and
# gc_collect_main was ~5 % of the process's CPU under load (py-spy, issue 15). Almost all of them
# are freed by reference counting; a higher threshold only delays the few real cycles.
GC_THRESHOLD = 20_000


def tune_gc() -> None:
    """Raise generation 0's threshold, and move everything alive after start-up (modules, the
    app, its routes and models) to the permanent generation, which no collection walks again."""
    import gc

    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, gen1, gen2)


def main() -> None:
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"todo-api: {exc}", file=sys.stderr)
        raise SystemExit(2) from None

    # Imported only now, so a configuration error is reported before the heavy imports.
    import uvicorn

    from todo_api import logs
    from todo_api.app import create_app

    for secret in (settings.database_url, settings.jwt_secret, settings.openai_api_key):
        if secret is not None:
            logs.register_secret(secret.get_secret_value())
    from urllib.parse import urlsplit

    password = urlsplit(settings.database_url.get_secret_value()).password
    logs.register_secret(password)
    logs.configure(settings.log_level)
    logging.getLogger("todo_api").info(
        "starting",
        extra={
            "port": settings.port,
            "database": logs.mask_url(settings.database_url.get_secret_value()),
            "chat_provider": settings.chat_provider,
        },
    )
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host="0.0.0.0",
        port=settings.port,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        lifespan="on",
    )
    server = _graceful_server_class()(config)
    tune_gc()
    server.run()
    if not server.started:
        raise SystemExit(1)
    # uvicorn exits non-zero only when it could not start (for example the port is taken).


if __name__ == "__main__":
    main()
