"""The smallest useful WSGI app: `python -m wsgiserver sample_apps.hello:app`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Greets the caller; shows the path so routing can be seen at work."""
    body = f"Hello, world! You asked for {environ['PATH_INFO']}\n".encode()
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [body]
