"""The PEP 3333 gateway: one request in, one application call, one response out.

Owns: the environ, the application call, turning an application failure into the right
error, and calling the iterable's `close()` exactly once on every path. The response itself
(`start_response`, `write()`, sending the body) is `wsgiserver/gateway/response.py`. Must not: touch
sockets or threads; it speaks to the connection through the narrow `Channel` interface the
transport implements, and frames bytes with the sans-IO `ServerConnection`.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import IO, Any, Protocol
from urllib.parse import unquote_to_bytes

from wsgiserver.errors import ApplicationError, ConnectionLost, HTTPError
from wsgiserver.gateway import response
from wsgiserver.gateway.body import FileWrapper, InputStream
from wsgiserver.gateway.forwarded import ProxyTrust
from wsgiserver.gateway.response import CheckedHeads, Response
from wsgiserver.gateway.spool import BodySpool
from wsgiserver.protocol import NEED_DATA, Data, EndOfMessage, Request, ServerConnection
from wsgiserver.types import WSGIApp

_ENVIRON_KEYS: dict[bytes, str] = {
    b"content-type": "CONTENT_TYPE",
    b"content-length": "CONTENT_LENGTH",
}
_MAX_CACHED_KEYS = 512


class Channel(response.Channel, Protocol):
    """What the gateway needs from the transport that owns the socket."""

    def receive(self) -> bytes: ...

    def client_disconnected(self) -> bool:
        """environ["wsgiserver.client_disconnected"]: has the client gone away? Never blocks."""
        ...


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """Per-listener facts that go into every environ."""

    server_name: str
    server_port: str
    url_scheme: str = "http"
    root_path: str = ""
    multiprocess: bool = False
    software: str = "wsgiserver"


@dataclass(slots=True)
class Outcome:
    """What the transport needs to know once a request is answered (and for the access log)."""

    status: str = ""
    body_bytes: int = 0
    aborted: bool = False  # the head was sent but the body could not be completed
    close_error: BaseException | None = None  # raised by the iterable's close()
    # For the access log, hooks and error messages (docs/observability.rst):
    environ: dict[str, Any] | None = None
    headers: list[tuple[str, str]] | None = None  # the app's response headers
    request_id: str = ""
    request_bytes: int = 0  # request body bytes the app read (after de-chunking)


def environ_key(name: bytes) -> str | None:
    """CGI name for a header field; None for names with '_' (they could spoof '-' names)."""
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


class Gateway:
    """Runs a WSGI application for requests parsed by a `ServerConnection`."""

    __slots__ = (
        "app",
        "base_environ",
        "date",
        "echo_header",
        "errors",
        "heads",
        "info",
        "on_start",
        "proxies",
        "request_ids",
    )

    def __init__(
        self,
        app: WSGIApp,
        info: ServerInfo,
        *,
        date: Callable[[], str],
        errors: IO[str] | None = None,
        proxies: ProxyTrust | None = None,
        request_ids: Callable[[dict[str, Any], tuple[str, int] | None], str] | None = None,
        echo_header: str = "",
        on_start: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.app = app
        # docs/observability.rst: `request_ids(environ, peer)` gives each request its id
        # (wsgiserver/gateway/requestid.py); `echo_header` names the response header it is sent in
        # ("" for none); `on_start(environ)` runs just before the app (a hook; never raises).
        self.request_ids = request_ids
        self.echo_header = echo_header
        self.on_start = on_start
        self.info = info
        # Forwarded / X-Forwarded-* from trusted proxies (wsgiserver/gateway/forwarded.py).
        self.proxies = proxies
        self.date = date  # "Date: <IMF-fixdate>\r\n", cached by the caller (RFC 9110 6.6.1)
        self.errors = errors if errors is not None else sys.stderr
        self.heads = CheckedHeads()  # response heads already validated (response.py)
        self.base_environ: dict[str, Any] = {
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

    def connection_environ(
        self,
        channel: Channel,
        remote: tuple[str, int] | None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The part of every environ that is the same for all requests on one connection.

        `remote` is the client (after a PROXY header, the proxied client); `extra` holds the
        connection's own variables (TLS, the proxy's address as `wsgiserver.peer_addr`).
        Built once per connection, so a keep-alive request copies it instead of rebuilding it.
        """
        environ = self.base_environ.copy()
        environ["wsgi.errors"] = self.errors
        if remote is not None:
            environ["REMOTE_ADDR"] = remote[0]
            environ["REMOTE_PORT"] = str(remote[1])
        environ["wsgiserver.peer_addr"] = remote  # the socket's peer; None on a unix socket
        environ["wsgiserver.client_disconnected"] = channel.client_disconnected
        if extra:
            environ.update(extra)
        return environ

    def environ(
        self,
        request: Request,
        body: InputStream | IO[bytes],
        connection: dict[str, Any],
        remote: tuple[str, int] | None,
    ) -> dict[str, Any]:
        """The environ of `request`, from its connection's `connection_environ`."""
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
        environ["SERVER_PROTOCOL"] = "HTTP/1.1" if request.http_version == "1.1" else "HTTP/1.0"
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
        if (
            request.scheme is not None
            and self.info.url_scheme == "http"
            and self.proxies is not None
            and self.proxies.trusts(remote[0] if remote is not None else None)
        ):
            # An absolute-form "https://..." target (RFC 9112 section 3.2.2) names the
            # scheme, but only a trusted proxy may say the client's connection was secure:
            # the same rule as X-Forwarded-Proto, or any client could claim https.
            environ["wsgi.url_scheme"] = request.scheme
        if self.proxies is not None:
            self.proxies.apply(environ, remote)
        if request.content_length is not None:
            environ["CONTENT_LENGTH"] = str(request.content_length)
        elif "CONTENT_LENGTH" in environ:
            # PEP 3333: CONTENT_LENGTH is what the client sent. Without a body length from
            # the protocol layer a Content-Length field can only have said 0 (maybe as
            # "00" or "0, 0"); a chunked request never has one (refused as smuggling).
            environ["CONTENT_LENGTH"] = "0"
        return environ

    def handle(
        self,
        conn: ServerConnection,
        channel: Channel,
        request: Request,
        connection: dict[str, Any],
        remote: tuple[str, int] | None,
        outcome: Outcome,
        *,
        spool: BodySpool | None = None,
    ) -> None:
        """Run the app for `request` and send its response, filling in `outcome`.

        `connection` is the connection's `connection_environ`, `remote` the client address.
        `spool` holds a chunked body the transport received whole before this call: the app
        sees it with a CONTENT_LENGTH and without Transfer-Encoding (PEP 3333 leaves
        de-chunking to the server), and `wsgiserver.transfer_encoding` says it came chunked.

        Raises `HTTPError` when no head was sent yet (the transport answers with its status:
        an app failure becomes `ApplicationError`, 500), and re-raises anything after the head
        went out (`outcome.aborted`: the transport must abort the connection).
        """
        body: InputStream | IO[bytes]
        prebuffered = 0
        if spool is not None:
            body = spool.stream()
        elif conn.request_complete:
            body = io.BytesIO()
        elif (
            request.content_length is not None
            and not request.expect_continue
            and conn.buffered_size >= request.content_length
        ):
            # The whole body is here already (the transport prebuffers small ones): take it
            # in one piece now, so reading it costs the app no pulls and nothing is left to
            # drain afterwards. Not with 100-continue: that goes out on the first read.
            data = _take_body(conn, request.content_length)
            prebuffered = len(data)
            body = InputStream.complete(data)
        else:
            body = InputStream(_BodyPuller(conn, channel, outcome))
        environ = self.environ(request, body, connection, remote)
        if spool is not None:
            environ["CONTENT_LENGTH"] = str(spool.size)
            environ.pop("HTTP_TRANSFER_ENCODING", None)  # hop-by-hop, and no longer true
            environ["wsgiserver.transfer_encoding"] = "chunked"
        outcome.environ = environ
        response = Response(conn, channel, self.date, self.heads)
        ids = self.request_ids
        if ids is not None:
            request_id = ids(environ, remote)
            environ["wsgiserver.request_id"] = outcome.request_id = request_id
            if self.echo_header:
                response.echo = (self.echo_header, request_id)
        if self.on_start is not None:
            self.on_start(environ)
        result: Iterable[bytes] | None = None
        try:
            result = self.app(environ, response.start_response)
            response.send_result(result)
        except BaseException as exc:
            if response.head_sent:
                outcome.aborted = True
                raise
            if isinstance(exc, HTTPError | ConnectionLost) or not isinstance(exc, Exception):
                raise
            raise ApplicationError("the application raised an exception") from exc
        finally:
            response.ended = True  # before close(): it may call a write() it kept
            if prebuffered and type(body) is InputStream:
                outcome.request_bytes = prebuffered - body.unread  # what the app read of it
            elif spool is not None:
                outcome.request_bytes = spool.consumed()
            if response.head_sent:
                outcome.status = response.status or ""
                outcome.headers = response.headers
            outcome.body_bytes = response.body_bytes
            close = getattr(result, "close", None)
            if close is not None:
                try:
                    close()
                except Exception as exc:
                    outcome.close_error = exc


def _take_body(conn: ServerConnection, length: int) -> bytes:
    """A Content-Length body that is entirely in the connection's buffer, in one piece."""
    chunks: list[bytes] = []
    while True:
        event = conn.next_event(max(length, 1))
        if type(event) is not Data:
            return b"".join(chunks)  # EndOfMessage (never NEED_DATA: all of it is buffered)
        chunks.append(event.data)


class _BodyPuller:
    """Pulls the next body piece from the connection, sending 100 Continue first if asked."""

    __slots__ = ("_channel", "_conn", "_outcome")

    def __init__(self, conn: ServerConnection, channel: Channel, outcome: Outcome) -> None:
        self._conn = conn
        self._channel = channel
        self._outcome = outcome

    def __call__(self) -> bytes:
        conn = self._conn
        interim = conn.send_continue()
        if interim:
            self._channel.send(interim)
        while True:
            event = conn.next_event()
            if type(event) is Data:
                self._outcome.request_bytes += len(event.data)
                return event.data
            if event is NEED_DATA:
                conn.receive_data(self._channel.receive())
                continue
            if type(event) is EndOfMessage:
                return b""
            return b""  # PAUSED: the body was already complete
