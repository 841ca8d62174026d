"""Shared helpers for the socket-level server tests: a raw-socket HTTP client and small apps.

The client speaks bytes, so tests control exactly what goes on the wire, and it parses
responses strictly by itself (status line, fields, then Content-Length, chunked or
read-until-close framing), so a glued, truncated or interleaved response fails the test.
All reads block with a socket timeout: a server that hangs fails the test, it never waits on
a sleep.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

READ_TIMEOUT = 5.0  # seconds a single blocking read may take before the test fails

StartResponse = Callable[..., Callable[[bytes], None]]
Environ = dict[str, Any]
App = Callable[[Environ, StartResponse], Iterable[bytes]]


@dataclass
class Response:
    version: str
    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    chunked: bool = False

    def header(self, name: str) -> str | None:
        """The value of the field `name` (case-insensitive), or None; fails on repeats."""
        values = [v for n, v in self.headers if n.lower() == name.lower()]
        assert len(values) <= 1, f"{name} repeated: {values}"
        return values[0] if values else None

    @property
    def closes(self) -> bool:
        connection = (self.header("connection") or "").lower()
        return "close" in connection


class ConnectionEnded(Exception):
    """The server closed the connection before a whole response arrived."""


class RawClient:
    """A blocking socket with a receive buffer and a strict HTTP/1.x response reader."""

    def __init__(self, address: tuple[str, int] | str, timeout: float = READ_TIMEOUT) -> None:
        if isinstance(address, str):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(address)
        else:
            self.sock = socket.create_connection(address, timeout=timeout)
        self.buf = b""
        self.eof = False

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _recv(self) -> bool:
        """One blocking recv into the buffer; False at EOF (or a reset, which ends it too)."""
        if self.eof:
            return False
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _take_line(self) -> bytes:
        while b"\r\n" not in self.buf:
            if not self._recv():
                raise ConnectionEnded(f"closed inside a line: {self.buf!r}")
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _take(self, size: int) -> bytes:
        while len(self.buf) < size:
            if not self._recv():
                raise ConnectionEnded(f"closed with {len(self.buf)} of {size} bytes")
        data, self.buf = self.buf[:size], self.buf[size:]
        return data

    def read_response(self, *, head: bool = False) -> Response:
        """Read exactly one response (a 1xx is returned on its own); keep what follows."""
        status_line = self._take_line()
        version, _, rest = status_line.partition(b" ")
        code, _, reason = rest.partition(b" ")
        assert version in (b"HTTP/1.1", b"HTTP/1.0"), status_line
        assert len(code) == 3, status_line
        assert code.isdigit(), status_line
        response = Response(version.decode(), int(code), reason.decode("latin-1"))
        while True:
            line = self._take_line()
            if not line:
                break
            name, colon, value = line.partition(b":")
            assert colon, f"bad field line {line!r}"
            assert name, f"bad field line {line!r}"
            assert name == name.strip(), f"bad field line {line!r}"
            response.headers.append((name.decode("latin-1"), value.strip().decode("latin-1")))
        if head or response.status < 200 or response.status in (204, 304):
            return response
        coding = response.header("transfer-encoding")
        length = response.header("content-length")
        if coding is not None:
            assert coding.lower() == "chunked", coding
            assert length is None, "both Transfer-Encoding and Content-Length"
            response.chunked = True
            response.body = self._read_chunked()
        elif length is not None:
            response.body = self._take(int(length))
        else:
            response.body = self.read_until_close()
        return response

    def _read_chunked(self) -> bytes:
        body = b""
        while True:
            size = int(self._take_line().split(b";")[0], 16)
            if size == 0:
                while self._take_line():  # trailers
                    pass
                return body
            body += self._take(size)
            assert self._take(2) == b"\r\n", "chunk not followed by CRLF"

    def read_until_close(self) -> bytes:
        """Everything until the server closes (buffered bytes first)."""
        while self._recv():
            pass
        data, self.buf = self.buf, b""
        return data

    def request(self, data: bytes, *, head: bool = False) -> Response:
        self.send(data)
        return self.read_response(head=head)

    def assert_closed(self) -> None:
        """The server closes the connection with nothing more to say."""
        rest = self.read_until_close()
        assert rest == b"", f"unexpected bytes before close: {rest!r}"


def get(path: str = "/", *, version: str = "1.1", headers: str = "") -> bytes:
    host = "Host: example.test\r\n" if version == "1.1" else ""
    return f"GET {path} HTTP/{version}\r\n{host}{headers}\r\n".encode()


def count_responses(data: bytes) -> int:
    return data.count(b"HTTP/1.1 ") + data.count(b"HTTP/1.0 ")


# -- apps -------------------------------------------------------------------------------------


def echo_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """Answers "METHOD PATH len=N" plus the body it read, with a Content-Length."""
    body = environ["wsgi.input"].read()
    text = f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']} len={len(body)}\n".encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [text + body]


def path_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """Answers the path without reading the body."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [environ["PATH_INFO"].encode()]


class Recorder:
    """An app that records the paths it was called for (thread-safe) and reads the body."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        with self._lock:
            self.paths.append(environ["PATH_INFO"])
        environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok " + environ["PATH_INFO"].encode()]
