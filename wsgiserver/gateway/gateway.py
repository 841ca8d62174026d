"""The PEP 3333 gateway: one request in, one application call, one response out.

Owns: running the application for a parsed request, `wsgi.input` over the body the transport
hands it, turning an application failure into the right error, and calling the iterable's
`close()` exactly once on every path. The environ is `environ.py`'s; the response itself
(`start_response`, `write()`, sending the body) is `response.py`'s. Must not: touch sockets or
threads, nor read the connection: the transport decides how the body arrives (whole, spooled,
or pulled piece by piece) and the gateway speaks to it only through `Channel`.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import IO, Any, Protocol

from wsgiserver.errors import ApplicationError, ConnectionLost, HTTPError, NotSupported
from wsgiserver.gateway import response
from wsgiserver.gateway.body import InputStream
from wsgiserver.gateway.environ import EnvironBuilder, ServerInfo
from wsgiserver.gateway.forwarded import ProxyTrust
from wsgiserver.gateway.response import CheckedHeads, Framing, Response
from wsgiserver.gateway.spool import BodySpool
from wsgiserver.protocol import Request
from wsgiserver.types import WSGIApp

__all__ = ["BodyPull", "Channel", "Framing", "Gateway", "Outcome", "RequestBody", "ServerInfo"]


class Channel(response.Channel, Protocol):
    """What the gateway needs from the transport that owns the socket."""

    def client_disconnected(self) -> bool:
        """environ["wsgiserver.client_disconnected"]: has the client gone away? Never blocks."""
        ...


class BodyPull(Protocol):
    """A body read piece by piece as the app asks: each call returns the next piece, b"" at
    the end; `pulled` counts the bytes returned so far."""

    pulled: int

    def __call__(self) -> bytes: ...


# How a body reaches the gateway: whole (bytes), received whole into a spool (a chunked
# body), or pulled from the connection as the app reads it.
RequestBody = bytes | BodySpool | BodyPull


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


class Gateway:
    """Runs a WSGI application for requests parsed by a `ServerConnection`."""

    __slots__ = (
        "app",
        "date",
        "echo_header",
        "environs",
        "heads",
        "info",
        "on_start",
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
        # (requestid.py); `echo_header` names the response header it is sent in ("" for
        # none); `on_start(environ)` runs just before the app (a hook; never raises).
        self.request_ids = request_ids
        self.echo_header = echo_header
        self.on_start = on_start
        self.info = info
        self.environs = EnvironBuilder(info, errors=errors, proxies=proxies)
        self.date = date  # "Date: <IMF-fixdate>\r\n", cached by the caller (RFC 9110 6.6.1)
        self.heads = CheckedHeads()  # response heads already validated (response.py)

    def connection_environ(
        self,
        channel: Channel,
        remote: tuple[str, int] | None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The environ variables shared by every request on one connection."""
        return self.environs.for_connection(channel.client_disconnected, remote, extra)

    def identify_refused(
        self,
        request: Request | None,
        connection: dict[str, Any],
        remote: tuple[str, int] | None,
    ) -> tuple[str | None, str]:
        """Who sent a request that the server answered itself, without the app (a body too
        large, `--queue-timeout`, a 408), for its access record: the client's address as the
        app would have seen it (REMOTE_ADDR, after a trusted proxy's fields) and the
        request's id (a trusted proxy's, else a new one). A head that did not parse has no
        fields to trust: (None, a new id)."""
        environ: dict[str, Any] = {}
        client = None
        if request is not None:
            environ = self.environs.for_request(request, io.BytesIO(), connection, remote)
            client = environ.get("REMOTE_ADDR")
        ids = self.request_ids
        return client, ids(environ, remote) if ids is not None else ""

    def handle(
        self,
        conn: Framing,
        channel: Channel,
        request: Request,
        connection: dict[str, Any],
        remote: tuple[str, int] | None,
        outcome: Outcome,
        body: RequestBody,
    ) -> None:
        """Run the app for `request` and send its response, filling in `outcome`.

        `conn` frames the response (the HTTP/1.1 connection, or an HTTP/2 stream),
        `connection` is the connection's `connection_environ`, `remote` the client address,
        `body` the request body as the transport hands it over. A `BodySpool` holds a body
        of unannounced length received whole before this call (chunked, or an HTTP/2 stream
        without Content-Length): the app sees it with a CONTENT_LENGTH and without
        Transfer-Encoding (PEP 3333 leaves de-chunking to the server), and
        `wsgiserver.transfer_encoding` says when it came chunked.

        Raises `HTTPError` when no head was sent yet (the transport answers with its status:
        an app failure becomes `ApplicationError`, 500), and re-raises anything after the head
        went out (`outcome.aborted`: the transport must abort the connection).
        """
        if request.method == "CONNECT":
            # RFC 9110 section 9.3.6: a 2xx would turn the connection into a tunnel, which
            # WSGI has no way to run; the app is not asked (HTTP/2 refuses it likewise).
            raise NotSupported("CONNECT is not supported: a WSGI application cannot run a tunnel")
        stream: InputStream | io.BytesIO
        spool: BodySpool | None = None
        if isinstance(body, bytes):
            # No body (the common case) costs a C object, not an InputStream.
            stream = InputStream.complete(body) if body else io.BytesIO()
        elif isinstance(body, BodySpool):
            spool = body
            stream = spool.stream()
        else:
            stream = InputStream(body)
        environ = self.environs.for_request(request, stream, connection, remote)
        if spool is not None:
            environ["CONTENT_LENGTH"] = str(spool.size)
            if request.chunked:
                environ.pop("HTTP_TRANSFER_ENCODING", None)  # hop-by-hop, and no longer true
                environ["wsgiserver.transfer_encoding"] = "chunked"
        outcome.environ = environ
        response = Response(conn, channel, self.date, self.heads)
        environ["wsgi.early_hints"] = response.early_hints
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
            if body:
                outcome.request_bytes = _read_so_far(body, stream)
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


def _read_so_far(body: RequestBody, stream: InputStream | io.BytesIO) -> int:
    """How many body bytes the app read (for the access log)."""
    if isinstance(body, BodySpool):
        return body.consumed()
    unread = stream.unread if type(stream) is InputStream else 0
    if isinstance(body, bytes):
        return len(body) - unread
    return body.pulled - unread
