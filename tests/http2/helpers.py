"""Shared helpers of the HTTP/2 tests: servers with HTTP/2 on, TLS client contexts, apps."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from tests.http2.client import H2Client
from tests.tls.helpers import Certs
from wsgiserver.testing import RunningServer, serving

BOUND = 10.0  # seconds a wait may take on a loaded machine before the test fails
StartResponse = Callable[..., Callable[[bytes], None]]
Environ = dict[str, Any]
App = Callable[[Environ, StartResponse], Iterable[bytes]]


@contextmanager
def h2c_server(app: App, **options: Any) -> Iterator[RunningServer]:
    """A server that speaks cleartext HTTP/2 to this test (127.0.0.1 is trusted)."""
    options.setdefault("threads", 2)
    with serving(app, http2=True, **options) as running:
        yield running


@contextmanager
def tls_server(
    app: App, certs: Certs, *, http2: bool = True, **options: Any
) -> Iterator[RunningServer]:
    with serving(app, http2=http2, certfile=certs.cert, keyfile=certs.key, **options) as running:
        yield running


def h2_context(certs: Certs, protocols: tuple[str, ...] = ("h2", "http/1.1")) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=certs.ca)
    context.set_alpn_protocols(list(protocols))
    return context


def client(running: RunningServer, **options: Any) -> H2Client:
    return H2Client((running.host, running.port), **options)


def echo(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """Answers with the method, path and body it read, and the body's length."""
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return [f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']} {len(body)}\n".encode(), body]


ENVIRON_KEYS = (
    "SERVER_PROTOCOL",
    "REQUEST_METHOD",
    "PATH_INFO",
    "QUERY_STRING",
    "REQUEST_URI",
    "HTTP_HOST",
    "HTTP_COOKIE",
    "HTTP_X_CUSTOM",
    "CONTENT_LENGTH",
    "CONTENT_TYPE",
    "REMOTE_ADDR",
    "SCRIPT_NAME",
    "wsgi.url_scheme",
    "HTTPS",
    "wsgiserver.request_id",
)


def environ_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    shown = {key: environ.get(key) for key in ENVIRON_KEYS}
    shown["body"] = environ["wsgi.input"].read().decode("latin-1")
    shown["early_hints"] = callable(environ.get("wsgi.early_hints"))
    shown["disconnected"] = environ["wsgiserver.client_disconnected"]()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(shown).encode()]


class Gate:
    """An app whose requests to /slow wait until `release` is set; others answer at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.order: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        if path == "/slow":
            self.entered.set()
            assert self.release.wait(BOUND)
        with self._lock:
            self.order.append(path)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [path.encode()]
