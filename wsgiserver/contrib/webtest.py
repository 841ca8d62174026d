"""A drop-in for `webtest.http.StopableWSGIServer`, served by wsgiserver.

    server = StopableWSGIServer.create(app)
    server.wait()
    TestApp(server.application_url).get("/")   # needs WSGIProxy2, like WebTest itself
    server.shutdown()

Like WebTest's, it answers `/__application__` (a ping) itself and serves a local file for
`/__file__?__file__=PATH`. It binds synchronously, so `wait()` never polls. `host` and `port`
are honoured; waitress-only options (`expose_tracebacks`, ...) are ignored; other keywords
are `Server` options (threads, limits...). It imports nothing from WebTest or waitress.
"""

from __future__ import annotations

import os
import threading
from typing import Any
from urllib.parse import parse_qs

from wsgiserver.testing import RunningServer
from wsgiserver.types import StartResponse, WSGIApp

__all__ = ["StopableWSGIServer"]

# waitress adjustments that have no meaning here (accepted for drop-in compatibility).
_WAITRESS_ONLY = frozenset(
    (
        "expose_tracebacks",
        "clear_untrusted_proxy_headers",
        "ident",
        "asyncore_use_poll",
        "channel_timeout",
        "cleanup_interval",
        "log_socket_errors",
    )
)


class StopableWSGIServer:
    """A wsgiserver in a background thread with WebTest's `StopableWSGIServer` interface."""

    def __init__(
        self, application: WSGIApp, host: str = "127.0.0.1", port: int = 0, **options: Any
    ) -> None:
        for name in _WAITRESS_ONLY.intersection(options):
            del options[name]
        self.test_app = application
        bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.running = RunningServer.start(self.wrapper, bind=bind, **options)
        self.runner: threading.Thread = self.running._thread
        self.was_shutdown = False
        self.application_url = self.running.url + "/"

    @classmethod
    def create(cls, application: WSGIApp, **kwargs: Any) -> StopableWSGIServer:
        """Start a server for `application` on 127.0.0.1 and a free port; return it."""
        return cls(application, **kwargs)

    @property
    def host(self) -> str:
        return self.running.host

    @property
    def port(self) -> int:
        return self.running.port

    def wrapper(self, environ: dict[str, Any], start_response: StartResponse) -> Any:
        """WebTest's extra paths: `/__application__` and `/__file__?__file__=PATH`."""
        path = environ.get("PATH_INFO", "")
        if "__file__" in path:
            query = parse_qs(environ.get("QUERY_STRING", ""))
            filename = query.get("__file__", [""])[0]
            if filename and os.path.isfile(filename):
                with open(filename, "rb") as f:
                    body = f.read()
                host = environ.get("HTTP_HOST", f"{self.host}:{self.port}")
                body = body.replace(b"http://localhost/", f"http://{host}/".encode())
                start_response(
                    "200 OK",
                    [
                        ("Content-Type", "text/html; charset=UTF-8"),
                        ("Content-Length", str(len(body))),
                    ],
                )
                return [body]
            start_response("404 Not Found", [("Content-Length", "0")])
            return [b""]
        if "__application__" in path:
            body = b"server started"
            start_response(
                "200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
            )
            return [body]
        return self.test_app(environ, start_response)

    def wait(self, retries: int = 30, sleeptime: float = 0.3) -> bool:
        """True when serving. The server is bound and serving once `create()` returns."""
        del retries, sleeptime  # nothing to poll for
        return not self.was_shutdown and self.runner.is_alive()

    def shutdown(self, debug: bool = False) -> bool:
        """Stop serving and join the threads. Returns True, like WebTest's."""
        del debug
        self.was_shutdown = True
        self.running.stop()
        return True
