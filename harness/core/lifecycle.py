"""Resources used with ``with``: started on entry, always closed on exit, also when starting fails
half-way (a container created, the network not yet): the e2e-framework set-up/teardown contract."""

from __future__ import annotations

from typing import Any


class Managed:
    """Subclasses define ``start()`` (returns self) and ``close()`` (safe to call at any stage)."""

    def start(self) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Any:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self.close()
