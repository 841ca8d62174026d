"""Owns the WSGI application every server runs; it routes by PATH_INFO.

Routes: ``/`` (13-byte hello), ``/big`` (1 MiB as 16 x 64 KiB chunks),
``/big-file`` (1 MiB through ``wsgi.file_wrapper``), ``/echo`` (request
body echoed back, Content-Length or chunked), ``/sleep`` (hello after 10 ms) and
``/pid`` (the answering process's pid, for the ``lifecycle`` scenario).

The file for ``/big-file`` is created when this module is imported and
unlinked at once; each request reopens it through ``/proc/self/fd`` so it
gets its own file offset and nothing is left on disk if the server is
killed.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterable
from wsgiref.types import StartResponse, WSGIEnvironment
from wsgiref.util import FileWrapper

HELLO = b"Hello, world!"
CHUNK_SIZE = 64 * 1024
CHUNKS = 16
BIG_SIZE = CHUNK_SIZE * CHUNKS
SLEEP_SECONDS = 0.010

_CHUNK = b"x" * CHUNK_SIZE


def _make_big_file() -> int:
    fd, path = tempfile.mkstemp(prefix="wsgiserver-bench-")
    os.unlink(path)
    os.write(fd, _CHUNK * CHUNKS)
    return fd


_BIG_FD = _make_big_file()


def _headers(content_type: str, length: int) -> list[tuple[str, str]]:
    return [("Content-Type", content_type), ("Content-Length", str(length))]


def _hello(start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", _headers("text/plain", len(HELLO)))
    return [HELLO]


def _big(start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", _headers("application/octet-stream", BIG_SIZE))
    return [_CHUNK] * CHUNKS


def _big_file(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", _headers("application/octet-stream", BIG_SIZE))
    wrapper = environ.get("wsgi.file_wrapper", FileWrapper)
    file = open(f"/proc/self/fd/{_BIG_FD}", "rb")  # noqa: SIM115 - closed by the wrapper
    result: Iterable[bytes] = wrapper(file, CHUNK_SIZE)
    return result


def _echo(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    length = environ.get("CONTENT_LENGTH")
    if length:
        body = environ["wsgi.input"].read(int(length))
    elif environ.get("wsgi.input_terminated"):
        # A chunked body the server hands over as it arrives (no CONTENT_LENGTH): read to
        # its end, so every server echoes the whole body whatever it does with chunking.
        body = environ["wsgi.input"].read()
    else:
        body = b""
    expected = environ.get("HTTP_X_EXPECT_LENGTH")
    if expected is not None and len(body) != int(expected):
        message = f"expected {expected} body bytes, read {len(body)}".encode()
        start_response("500 Internal Server Error", _headers("text/plain", len(message)))
        return [message]
    start_response("200 OK", _headers("application/octet-stream", len(body)))
    return [body]


def _not_found(start_response: StartResponse) -> Iterable[bytes]:
    body = b"not found"
    start_response("404 Not Found", _headers("text/plain", len(body)))
    return [body]


def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """The benchmark WSGI application."""
    path = environ.get("PATH_INFO") or "/"
    if path == "/":
        return _hello(start_response)
    if path == "/big":
        return _big(start_response)
    if path == "/big-file":
        return _big_file(environ, start_response)
    if path == "/echo":
        return _echo(environ, start_response)
    if path == "/sleep":
        time.sleep(SLEEP_SECONDS)
        return _hello(start_response)
    if path == "/pid":
        body = str(os.getpid()).encode()
        start_response("200 OK", _headers("text/plain", len(body)))
        return [body]
    return _not_found(start_response)
