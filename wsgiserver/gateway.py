"""The PEP 3333 gateway: one request in, one application call, one response out.

Owns: the environ, `start_response` (with `exc_info` semantics), the `write()` callable,
validation of what the application returns, choosing sendfile for `wsgi.file_wrapper`, and
calling the iterable's `close()` exactly once on every path. Must not: touch sockets or threads;
it speaks to the connection through the narrow `Channel` interface the transport implements,
and frames bytes with the sans-IO `ServerConnection`.
"""

from __future__ import annotations

import io
import os
import re
import stat
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any, Protocol
from urllib.parse import unquote_to_bytes

from wsgiserver.body import FileWrapper, InputStream
from wsgiserver.errors import ApplicationError, ConnectionLost, HTTPError, ResponseFramingError
from wsgiserver.forwarded import ProxyTrust
from wsgiserver.protocol import NEED_DATA, Data, EndOfMessage, Request, ServerConnection

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Callable[[bytes], None]]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# PEP 3333 "Other HTTP Features" and RFC 9110 section 7.6.1: applications must not send
# hop-by-hop fields; the server owns the connection.
HOP_BY_HOP = frozenset(
    (
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    )
)
_SERVER_SUPPLIED = frozenset(("date", "server"))
_STATUS = re.compile(r"[2-9][0-9]{2} [\t\x20-\x7e\x80-\xff]*")
_FIELD_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
_ENVIRON_KEYS: dict[bytes, str] = {
    b"content-type": "CONTENT_TYPE",
    b"content-length": "CONTENT_LENGTH",
}
_MAX_CACHED_KEYS = 512


class Channel(Protocol):
    """What the gateway needs from the transport that owns the socket."""

    def send(self, data: bytes) -> None: ...

    def sendfile(self, file: IO[bytes], offset: int, count: int) -> int: ...

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
        # (wsgiserver/requestid.py); `echo_header` names the response header it is sent in
        # ("" for none); `on_start(environ)` runs just before the app (a hook; never raises).
        self.request_ids = request_ids
        self.echo_header = echo_header
        self.on_start = on_start
        self.info = info
        # Forwarded / X-Forwarded-* from trusted proxies (wsgiserver/forwarded.py).
        self.proxies = proxies
        self.date = date  # "Date: <IMF-fixdate>\r\n", cached by the caller (RFC 9110 6.6.1)
        self.errors = errors if errors is not None else sys.stderr
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

    def environ(
        self,
        request: Request,
        body: InputStream | io.BytesIO,
        remote: tuple[str, int] | None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        environ = self.base_environ.copy()
        path = path_info(request.path)
        root = self.info.root_path
        if root and (path == root or path.startswith(root + "/")):
            path = path[len(root) :]
        environ["REQUEST_METHOD"] = request.method
        environ["PATH_INFO"] = path
        environ["QUERY_STRING"] = request.query.decode("latin-1")
        raw_uri = request.target.decode("latin-1")
        environ["RAW_URI"] = raw_uri
        environ["REQUEST_URI"] = raw_uri
        environ["SERVER_PROTOCOL"] = "HTTP/" + request.http_version
        environ["wsgi.input"] = body
        environ["wsgi.errors"] = self.errors
        if remote is not None:
            environ["REMOTE_ADDR"] = remote[0]
            environ["REMOTE_PORT"] = str(remote[1])
        environ["wsgiserver.peer_addr"] = remote  # the socket's peer; None on a unix socket
        for name, value in request.headers:
            key = environ_key(name)
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
        if request.scheme is not None and self.info.url_scheme == "http":
            environ["wsgi.url_scheme"] = request.scheme
        if extra:  # per connection: TLS variables, the proxy behind a PROXY header
            environ.update(extra)
        if self.proxies is not None:
            self.proxies.apply(environ, remote)
        if request.content_length is not None:
            environ["CONTENT_LENGTH"] = str(request.content_length)
        elif request.chunked or "CONTENT_LENGTH" in environ:
            environ.pop("CONTENT_LENGTH", None)
        return environ

    def handle(
        self,
        conn: ServerConnection,
        channel: Channel,
        request: Request,
        remote: tuple[str, int] | None,
        outcome: Outcome,
        *,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Run the app for `request` and send its response, filling in `outcome`.

        Raises `HTTPError` when no head was sent yet (the transport answers with its status:
        an app failure becomes `ApplicationError`, 500), and re-raises anything after the head
        went out (`outcome.aborted`: the transport must abort the connection).
        """
        body: InputStream | io.BytesIO
        body = (
            io.BytesIO()
            if conn.request_complete
            else InputStream(_BodyPuller(conn, channel, outcome))
        )
        environ = self.environ(request, body, remote, extra)
        outcome.environ = environ
        environ["wsgiserver.client_disconnected"] = channel.client_disconnected
        response = _Response(conn, channel, self.date, outcome)
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
            close = getattr(result, "close", None)
            if close is not None:
                try:
                    close()
                except Exception as exc:
                    outcome.close_error = exc


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


class _Response:
    """The state of one response: PEP 3333 start_response/write and body sending."""

    __slots__ = (
        "_channel",
        "_conn",
        "_date",
        "echo",
        "head_sent",
        "headers",
        "outcome",
        "own_fields",
        "status",
    )

    def __init__(
        self,
        conn: ServerConnection,
        channel: Channel,
        date: Callable[[], str],
        outcome: Outcome,
    ) -> None:
        self._conn = conn
        self._channel = channel
        self._date = date
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.own_fields: frozenset[str] = frozenset()  # server fields the app set itself
        self.head_sent = False
        self.outcome = outcome
        self.echo: tuple[str, str] | None = None  # (header, request id) to send back

    def start_response(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: ExcInfo | None = None,
    ) -> Callable[[bytes], None]:
        if exc_info is not None:
            try:
                if self.head_sent:
                    # PEP 3333: too late to change the status; re-raise the app's error.
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise ApplicationError("start_response called twice without exc_info")
        self.status = _check_status(status)
        self.headers = headers
        self.own_fields = _check_headers(headers)
        return self.write

    def _head(self, length_hint: int | None) -> bytes:
        if self.status is None:
            raise ApplicationError("the application did not call start_response")
        outcome = self.outcome
        outcome.status = self.status
        outcome.headers = self.headers
        extra = self._date()
        if self.echo is not None:
            name, value = self.echo
            lower = name.lower()
            if not any(field.lower() == lower for field, _ in self.headers):
                extra += f"{name}: {value}\r\n"  # an id is printable ASCII (requestid.py)
        if self.own_fields:
            # The app's own Date or Server wins; never send a field twice.
            extra = "".join(
                f"{line}\r\n"
                for line in extra.split("\r\n")
                if line and line.partition(":")[0].lower() not in self.own_fields
            )
        head = self._conn.send_response(
            self.status, self.headers, length_hint=length_hint, extra=extra
        )
        # Only now: a head the writer refuses (a bad Content-Length, a field that is not
        # latin-1) used to count as sent, so the client got a bare close instead of a 500.
        self.head_sent = True
        return head

    def write(self, data: bytes) -> None:
        """PEP 3333 write(): send now, never buffer."""
        if type(data) is not bytes:
            raise ApplicationError(f"write() needs bytes, got {type(data).__name__}")
        conn = self._conn
        if not self.head_sent:
            head = self._head(None)
            self._channel.send(head + conn.send_data(data) if data else head)
        elif data:
            self._channel.send(conn.send_data(data))
        self.outcome.body_bytes += len(data)

    def send_result(self, result: Iterable[bytes]) -> None:
        conn = self._conn
        if type(result) is list and not self.head_sent:
            self._send_list(result)
            return
        if type(result) is FileWrapper and self._send_file(result):
            return
        write = self.write
        for data in result:
            if data:
                write(data)
                if conn.writer.overflowed:
                    break
            elif type(data) is not bytes:
                raise ApplicationError(f"the body must yield bytes, got {type(data).__name__}")
        self._finish()

    def _send_list(self, result: list[bytes]) -> None:
        # The common case (Flask, Django, plain apps): the whole body is known now, so the
        # head, the body and the end go out in one send with an exact Content-Length.
        total = 0
        for data in result:
            if type(data) is not bytes:
                raise ApplicationError(f"the body must yield bytes, got {type(data).__name__}")
            total += len(data)
        conn = self._conn
        payload = self._head(total) + conn.send_data(b"".join(result))
        self.outcome.body_bytes = total
        try:
            end = conn.send_end()
        except ResponseFramingError:
            self._channel.send(payload)  # what the app declared is short: send it, then abort
            raise
        self._channel.send(payload + end if end else payload)

    def _send_file(self, wrapper: FileWrapper) -> bool:
        file = wrapper.filelike
        try:
            fd = file.fileno()
            info = os.fstat(fd)
            offset = file.tell()
        except (AttributeError, OSError, io.UnsupportedOperation):
            return False
        if not stat.S_ISREG(info.st_mode):
            return False
        size = max(info.st_size - offset, 0)
        conn = self._conn
        if not self.head_sent:
            self._channel.send(self._head(None if self._declares_length() else size))
        writer = conn.writer
        count = writer.account(size)
        if count:
            prefix = writer.chunk_prefix(count)
            if prefix:
                self._channel.send(prefix)
            sent = self._channel.sendfile(file, offset, count)
            self.outcome.body_bytes += sent
            suffix = writer.chunk_suffix(count)
            if suffix:
                self._channel.send(suffix)
        self._finish()
        return True

    def _declares_length(self) -> bool:
        return any(name.lower() == "content-length" for name, _ in self.headers)

    def _finish(self) -> None:
        conn = self._conn
        if not self.head_sent:
            self._channel.send(self._head(0) + conn.send_end())
            return
        end = conn.send_end()
        if end:
            self._channel.send(end)


def _check_status(status: object) -> str:
    if type(status) is not str or _STATUS.fullmatch(status) is None:
        raise ApplicationError(f"invalid status from application: {status!r}")
    return status


def _check_headers(headers: object) -> frozenset[str]:
    """Validate the app's headers; return which server-supplied fields (Date, Server) it set."""
    if not isinstance(headers, list):
        raise ApplicationError("response headers must be a list of (name, value) tuples")
    own: frozenset[str] = frozenset()
    for item in headers:
        if type(item) is not tuple or len(item) != 2:
            raise ApplicationError(f"invalid response header: {item!r}")
        name, value = item
        if not isinstance(name, str) or _FIELD_NAME.fullmatch(name) is None:
            raise ApplicationError(f"invalid response header name: {name!r}")
        if not isinstance(value, str) or _FIELD_VALUE.fullmatch(value) is None:
            raise ApplicationError(f"invalid value for response header {name}: {value!r}")
        lower = name.lower()
        if lower in HOP_BY_HOP:
            raise ApplicationError(f"hop-by-hop header {name} from application (PEP 3333)")
        if lower in _SERVER_SUPPLIED:
            own = own | {lower}
    return own
