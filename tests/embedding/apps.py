"""Small WSGI apps and a plain-socket client shared by the embedding tests."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterable
from typing import Any

from wsgiserver.types import StartResponse

Environ = dict[str, Any]


def hello(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    body = f"hello {environ['SCRIPT_NAME']}|{environ['PATH_INFO']}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def noisy(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """Writes a line to wsgi.errors naming the path; /boom raises ZeroDivisionError."""
    environ["wsgi.errors"].write(f"noisy {environ['PATH_INFO']}\n")
    if environ["PATH_INFO"] == "/boom":
        return [str(1 // 0).encode()]
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]


def get(host: str, port: int, path: str = "/") -> tuple[int, bytes]:
    """One GET on a fresh connection, closed before returning."""
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=10)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.unix_path)
        self.sock = sock
