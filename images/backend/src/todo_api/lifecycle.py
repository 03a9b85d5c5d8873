"""Process-wide lifecycle state shared by the server runner (``__main__``) and the app."""

from __future__ import annotations

import threading

# Set by the first SIGTERM/SIGINT: the server drains (every answer closes its connection) before
# it stops accepting (``__main__.GracefulServer``, ``app.close_connections_while_draining``).
DRAINING = threading.Event()
