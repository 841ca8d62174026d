"""wsgiserver: a strict, fast HTTP/1.1 WSGI server with no dependencies.

The public API: `Server`, `serve`, `Config`, and the exceptions in `wsgiserver.errors`.
"""

from wsgiserver.config.options import Config
from wsgiserver.errors import RequestTimeout
from wsgiserver.server.server import Server, serve
from wsgiserver.version import __version__

__all__ = ["Config", "RequestTimeout", "Server", "__version__", "serve"]
