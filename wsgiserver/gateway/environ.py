"""The PEP 3333 environ of a request ("environ Variables").

Owns: the variables every request of a listener shares (`ServerInfo`), the part shared by the
requests of one connection, and each request's own: method, paths (SCRIPT_NAME under
--root-path, PATH_INFO percent-decoded), header fields as CGI variables, the effect of trusted
proxy headers, and CONTENT_LENGTH as the client framed the body. Must not: touch sockets or
decide how a body is read.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import unquote_to_bytes

from wsgiserver.gateway.body import FileWrapper
from wsgiserver.gateway.forwarded import ProxyTrust, set_public
from wsgiserver.protocol import Request

# Header names already turned into CGI names; the two without an HTTP_ prefix (RFC 3875
# section 4.1.2, 4.1.3) are there from the start. Bounded: names are client-chosen.
_ENVIRON_KEYS: dict[bytes, str] = {
    b"content-type": "CONTENT_TYPE",
    b"content-length": "CONTENT_LENGTH",
}
_MAX_CACHED_KEYS = 512
_PROTOCOLS = {"1.1": "HTTP/1.1", "1.0": "HTTP/1.0", "2": "HTTP/2"}


def environ_key(name: bytes) -> str | None:
    """CGI name of a (lower-case) header field name; None for names with '_', which could
    spoof names with '-' (X_Forwarded_For for X-Forwarded-For)."""
    key = _ENVIRON_KEYS.get(name)
    if key is None:
        if b"_" in name:
            return None
        key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
        if len(_ENVIRON_KEYS) < _MAX_CACHED_KEYS:
            _ENVIRON_KEYS[name] = key
    return key


def path_info(path: bytes) -> str:
    """PEP 3333: PATH_INFO is percent-decoded bytes, carried in a latin-1 str."""
    if b"%" in path:
        path = unquote_to_bytes(path)
    return path.decode("latin-1")


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """Per-listener facts that go into every environ."""

    server_name: str
    server_port: str
    url_scheme: str = "http"
    root_path: str = ""
    multiprocess: bool = False
    software: str = "wsgiserver"


class EnvironBuilder:
    """Builds environs for the requests of one listener."""

    __slots__ = ("base", "errors", "info", "proxies")

    def __init__(
        self,
        info: ServerInfo,
        *,
        errors: IO[str] | None = None,
        proxies: ProxyTrust | None = None,
    ) -> None:
        self.info = info
        self.errors = errors if errors is not None else sys.stderr
        # Forwarded / X-Forwarded-* from trusted proxies (wsgiserver/gateway/forwarded.py).
        self.proxies = proxies
        self.base: dict[str, Any] = {
            "SERVER_NAME": info.server_name,
            "SERVER_PORT": info.server_port,
            "SCRIPT_NAME": info.root_path,
            "SERVER_SOFTWARE": info.software,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": info.url_scheme,
            "wsgi.multithread": True,
            "wsgi.multiprocess": info.multiprocess,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
            "wsgi.file_wrapper": FileWrapper,
        }

    def for_connection(
        self,
        client_disconnected: Callable[[], bool],
        remote: tuple[str, int] | None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The part of every environ that is the same for all requests on one connection.

        `remote` is the client (after a PROXY header, the proxied client); `extra` holds the
        connection's own variables (TLS, the proxy's address as `wsgiserver.peer_addr`).
        Built once per connection, so a keep-alive request copies it instead of rebuilding it.
        """
        environ = self.base.copy()
        environ["wsgi.errors"] = self.errors
        if remote is not None:
            environ["REMOTE_ADDR"] = remote[0]
            environ["REMOTE_PORT"] = str(remote[1])
        environ["wsgiserver.peer_addr"] = remote  # the socket's peer; None on a unix socket
        environ["wsgiserver.client_disconnected"] = client_disconnected
        if extra:
            environ.update(extra)
        return environ

    def for_request(
        self,
        request: Request,
        body: object,
        connection: dict[str, Any],
        remote: tuple[str, int] | None,
    ) -> dict[str, Any]:
        """The environ of `request` (with `body` as wsgi.input), from `for_connection`'s."""
        environ = connection.copy()
        path = path_info(request.path)
        if path == "*":
            # "OPTIONS *" (RFC 9112 section 3.2.4) names the server, no resource: CGI's
            # PATH_INFO is "" or "/"-prefixed (RFC 3875 section 4.1.5), so it is empty here
            # and the "*" stays in REQUEST_URI.
            path = ""
        root = self.info.root_path
        if root and (path == root or path.startswith(root + "/")):
            path = path[len(root) :]
        environ["REQUEST_METHOD"] = request.method
        environ["PATH_INFO"] = path
        environ["QUERY_STRING"] = request.query.decode("latin-1")
        environ["RAW_URI"] = environ["REQUEST_URI"] = request.target.decode("latin-1")
        environ["SERVER_PROTOCOL"] = _PROTOCOLS.get(request.http_version, "HTTP/1.0")
        environ["wsgi.input"] = body
        keys = _ENVIRON_KEYS
        for name, value in request.headers:
            key = keys.get(name) or environ_key(name)
            if key is None:
                continue
            text = value.decode("latin-1")
            if key in environ:
                # RFC 9110 section 5.3: repeated fields combine with ", "; Cookie uses "; "
                # (RFC 6265 section 5.4).
                separator = "; " if key == "HTTP_COOKIE" else ", "
                environ[key] = environ[key] + separator + text
            else:
                environ[key] = text
        if request.host is not None:
            # RFC 9112 section 3.2.2: an absolute-form target overrides the Host field.
            environ["HTTP_HOST"] = request.host.decode("latin-1")
        proxies = self.proxies
        if (
            request.scheme is not None
            and self.info.url_scheme == "http"
            and proxies is not None
            and proxies.trusts(remote[0] if remote is not None else None)
        ):
            # An absolute-form "https://..." target (RFC 9112 section 3.2.2) names the
            # scheme, but only a trusted proxy may say the client's connection was secure:
            # the same rule as X-Forwarded-Proto, or any client could claim https. Then
            # SERVER_NAME and SERVER_PORT follow the target's host, as for that field.
            set_public(environ, request.scheme, None, None, None)
        if proxies is not None:
            proxies.apply(environ, remote)
        if request.content_length is not None:
            environ["CONTENT_LENGTH"] = str(request.content_length)
        elif "CONTENT_LENGTH" in environ:
            # PEP 3333: CONTENT_LENGTH is what the client sent. Without a body length from
            # the protocol layer a Content-Length field can only have said 0 (maybe as
            # "00" or "0, 0"); a chunked request never has one (refused as smuggling).
            environ["CONTENT_LENGTH"] = "0"
        return environ
