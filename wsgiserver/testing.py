"""A real server in a background thread, for test suites.

Owns: `serving(app, **options)`, which binds synchronously (port 0 by default), serves from a
daemon thread and stops in milliseconds, re-raising anything that escaped the serving thread.
Must not: install signal handlers (it may run outside the main thread).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from wsgiserver.gateway import WSGIApp
from wsgiserver.server import Server


class RunningServer:
    """A server serving in a background thread. Use `url` to reach it; `stop()` to end it."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="wsgiserver-serving", daemon=True)
        self._thread.start()
        server.wait_serving()

    def _run(self) -> None:
        try:
            self.server.serve_forever()
        except BaseException as exc:  # re-raised in the test's thread by stop()
            self._error = exc

    @property
    def address(self) -> tuple[str, int] | str:
        """(host, port) for TCP, or the unix socket path."""
        return self.server.address

    @property
    def host(self) -> str:
        address = self.server.addresses[0]
        return address.host if address.path is None else "localhost"

    @property
    def port(self) -> int:
        return self.server.addresses[0].port

    @property
    def url(self) -> str:
        """The base URL, e.g. http://127.0.0.1:54321 (IPv6 hosts are bracketed)."""
        host = self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def stop(self) -> None:
        """Stop serving and join the thread; re-raise what escaped it. Idempotent."""
        self.server.shutdown()
        self._thread.join()
        error, self._error = self._error, None
        if error is not None:
            raise error


@contextmanager
def serving(app: WSGIApp, **options: Any) -> Iterator[RunningServer]:
    """Serve `app` for the duration of a `with` block: `with serving(app) as srv: srv.url`."""
    options.setdefault("bind", "127.0.0.1:0")
    running = RunningServer(Server(app, **options))
    try:
        yield running
    finally:
        running.stop()
