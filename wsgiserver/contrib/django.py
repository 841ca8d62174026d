"""Django's live-server test cases on wsgiserver.

`LiveServerTestCase` and `StaticLiveServerTestCase` here are Django's, with
`server_thread_class = LiveServerThread` (this module's); or set that attribute on your own
test case, or mix in `WSGIServerLiveServerMixin` first. Options for the `Server` (threads,
limits...) go in the test case's `server_options` dict.

Like Django's threaded server, each worker thread uses the test's shared in-memory SQLite
connections (`connections_override`); other connections are closed by Django's own
`request_finished` handling.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from django.contrib.staticfiles.testing import (
    StaticLiveServerTestCase as DjangoStaticLiveServerTestCase,
)
from django.core.handlers.wsgi import WSGIHandler
from django.db import connections
from django.test import testcases

from wsgiserver.server.server import Server
from wsgiserver.types import StartResponse, WSGIApp

__all__ = [
    "LiveServerTestCase",
    "LiveServerThread",
    "StaticLiveServerTestCase",
    "WSGIServerLiveServerMixin",
]


class LiveServerThread(testcases.LiveServerThread):  # type: ignore[misc]
    """Runs the live server of a Django `LiveServerTestCase` on wsgiserver.

    Same contract as Django's: `is_ready` is set once the port is bound (`port`, `host`),
    `error` holds an exception that prevented serving, `terminate()` stops and joins.
    """

    port: int
    host: str
    server_options: dict[str, Any]

    def __init__(
        self,
        host: str,
        static_handler: Any,
        connections_override: dict[str, Any] | None = None,
        port: int = 0,
        server_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(host, static_handler, connections_override, port)
        self.name = "wsgiserver-django-live-server"
        self.server_options = dict(server_options or {})

    def run(self) -> None:
        if self.connections_override:
            for alias, conn in self.connections_override.items():
                connections[alias] = conn
        try:
            handler = self.static_handler(testcases._MediaFilesHandler(WSGIHandler()))
            self.httpd = self._create_server(
                connections_override=self.connections_override, app=handler
            )
            if self.port == 0:
                self.port = self.httpd.addresses[0].port
            self.is_ready.set()
            self.httpd.serve_forever()
        except Exception as exc:
            self.error = exc
            self.is_ready.set()
        finally:
            connections.close_all()

    def _create_server(
        self, connections_override: dict[str, Any] | None = None, app: WSGIApp | None = None
    ) -> Server:
        if app is None:
            raise TypeError("wsgiserver's LiveServerThread needs the app to create a server")
        if connections_override:
            app = _with_connections(app, connections_override)
        bind = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        return Server(app, bind=bind, **self.server_options)

    def terminate(self) -> None:
        httpd: Server | None = getattr(self, "httpd", None)
        if httpd is not None:
            httpd.shutdown()
        self.join()


def _with_connections(app: WSGIApp, override: dict[str, Any]) -> WSGIApp:
    """`app`, with the test's shared database connections in whichever thread runs it."""
    items = list(override.items())

    def app_with_connections(environ: dict[str, Any], start_response: StartResponse) -> Any:
        for alias, conn in items:
            connections[alias] = conn
        result: Iterable[bytes] = app(environ, start_response)
        return result

    return app_with_connections


class WSGIServerLiveServerMixin:
    """Put first in the bases of a live-server test case to serve it with wsgiserver."""

    server_thread_class = LiveServerThread
    server_options: ClassVar[dict[str, Any]] = {}

    @classmethod
    def _create_server_thread(cls, connections_override: dict[str, Any] | None) -> Any:
        return cls.server_thread_class(
            cls.host,  # type: ignore[attr-defined]
            cls.static_handler,  # type: ignore[attr-defined]
            connections_override=connections_override,
            port=cls.port,  # type: ignore[attr-defined]
            server_options=cls.server_options,
        )


class LiveServerTestCase(WSGIServerLiveServerMixin, testcases.LiveServerTestCase):  # type: ignore[misc]
    """`django.test.LiveServerTestCase`, served by wsgiserver."""


class StaticLiveServerTestCase(
    WSGIServerLiveServerMixin,
    DjangoStaticLiveServerTestCase,  # type: ignore[misc]
):
    """`django.contrib.staticfiles.testing.StaticLiveServerTestCase`, served by wsgiserver."""
