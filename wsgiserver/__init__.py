"""wsgiserver: a strict, fast HTTP/1.1 WSGI server with no dependencies.

The public API: `Server`, `serve`, `Config`, and the exceptions in `wsgiserver.errors`.

They are imported on first use (PEP 562), so importing any part of the package (the pytest
plugin, `wsgiserver.errors`, a protocol module) does not import the whole server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from wsgiserver.version import __version__

if TYPE_CHECKING:
    from wsgiserver.config.options import Config
    from wsgiserver.errors import RequestTimeout
    from wsgiserver.server.server import Server, serve

__all__ = ["Config", "RequestTimeout", "Server", "__version__", "serve"]

_HOMES = {
    "Config": "wsgiserver.config.options",
    "RequestTimeout": "wsgiserver.errors",
    "Server": "wsgiserver.server.server",
    "serve": "wsgiserver.server.server",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'wsgiserver' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
