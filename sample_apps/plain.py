"""Plain WSGI apps (no framework), each a module attribute to serve by name, e.g.
`python -m wsgiserver sample_apps.plain:app`:

- `app`: all of the below under one roof, by path: `/echo`, `/stream`, `/upload`, `/file`
  (`/` lists them).
- `echo`: the environ as JSON (str values only), plus the request body's length and SHA-256.
- `streaming`: a generator body of `?n=` chunks, recording every `close()` call.
- `upload_hash`: reads the body in pieces and answers its SHA-256 and length.
- `file_app`: serves `?path=NAME`, a file of this directory (sample_apps/), through
  `wsgi.file_wrapper`; any other path (`../x`, `/etc/passwd`, a symlink leading out) is 404.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
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


# The only directory file_app serves from.
FILES_DIR = Path(__file__).resolve().parent


def file_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    names = parse_qs(environ["QUERY_STRING"]).get("path")
    if not names:
        return _text(start_response, "400 Bad Request", "give ?path=NAME of a file to send\n")
    # resolve() removes ".." and follows symlinks: what is left must still be in FILES_DIR.
    path = (FILES_DIR / names[0]).resolve()
    if not path.is_relative_to(FILES_DIR) or not path.is_file():
        return _text(start_response, "404 Not Found", "no such file here\n")
    handle = path.open("rb")  # closed by the server through the wrapper
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    wrapper: Iterable[bytes] = environ["wsgi.file_wrapper"](handle, 65536)
    return wrapper


_ROUTES: dict[str, Callable[[Environ, StartResponse], Iterable[bytes]]] = {
    "/echo": echo,
    "/stream": streaming,
    "/upload": upload_hash,
    "/file": file_app,
}


def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """Every app of this module, by path; `/` lists them."""
    route = _ROUTES.get(environ["PATH_INFO"])
    if route is not None:
        return route(environ, start_response)
    if environ["PATH_INFO"] == "/":
        listing = "".join(f"{path}\n" for path in _ROUTES)
        return _text(start_response, "200 OK", listing)
    return _text(start_response, "404 Not Found", f"try one of: {', '.join(_ROUTES)}\n")


def _text(start_response: StartResponse, status: str, text: str) -> list[bytes]:
    body = text.encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
    return [body]
