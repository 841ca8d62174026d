"""Plain WSGI apps the server's own tests use (no framework).

- `echo`: the environ as JSON (str values only), plus the request body's length and SHA-256.
- `streaming`: a generator body of `?n=` chunks, recording every `close()` call.
- `upload_hash`: reads the body in pieces and answers its SHA-256 and length.
- `file_app`: serves the file named by `?path=` through `wsgi.file_wrapper`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs

StartResponse = Callable[..., Any]
Environ = dict[str, Any]

CLOSE_CALLS: list[str] = []


def _read_all(environ: Environ) -> bytes:
    # read(size) only: wsgiref.validate rejects the argument-less form.
    pieces = []
    while piece := environ["wsgi.input"].read(65536):
        pieces.append(piece)
    return b"".join(pieces)


def echo(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    body = _read_all(environ)
    data = {key: value for key, value in environ.items() if isinstance(value, str)}
    data["body_length"] = str(len(body))
    data["body_sha256"] = hashlib.sha256(body).hexdigest()
    payload = json.dumps(data, sort_keys=True).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [payload]


class _Stream:
    """A body iterable whose close() is recorded, to prove it is called exactly once."""

    def __init__(self, name: str, count: int) -> None:
        self.name = name
        self.count = count

    def __iter__(self) -> Iterator[bytes]:
        for index in range(self.count):
            yield f"chunk {index}\n".encode()

    def close(self) -> None:
        CLOSE_CALLS.append(self.name)


def streaming(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    query = parse_qs(environ["QUERY_STRING"])
    count = int(query.get("n", ["3"])[0])
    start_response("200 OK", [("Content-Type", "text/plain")])
    return _Stream(environ["PATH_INFO"], count)


def upload_hash(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    digest = hashlib.sha256()
    size = 0
    stream = environ["wsgi.input"]
    while True:
        piece = stream.read(65536)
        if not piece:
            break
        digest.update(piece)
        size += len(piece)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"{size} {digest.hexdigest()}".encode()]


def file_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    path = parse_qs(environ["QUERY_STRING"])["path"][0]
    handle = open(path, "rb")  # noqa: SIM115 - closed by the server through the wrapper
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    wrapper: Iterable[bytes] = environ["wsgi.file_wrapper"](handle, 65536)
    return wrapper
