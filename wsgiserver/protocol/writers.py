"""Response framing for the server role (RFC 9112 section 6 and 7, RFC 9110 section 6.4.1).

Owns: choosing how a response body is delimited and producing the framed bytes: the head,
each body piece, and the end; interim (1xx) heads; and the same choice of what a body may
carry for a protocol that delimits messages itself (HTTP/2 ends a stream instead), where the
rules of RFC 9110 (HEAD, 204, 304, a declared Content-Length) are the same. Must not: validate
what a WSGI app returned (the gateway does that before calling here) or decide keep-alive on
its own (the connection tells it).
"""

from __future__ import annotations

from dataclasses import dataclass

from wsgiserver.errors import ApplicationError, ResponseFramingError
from wsgiserver.protocol import grammar

# _STREAM: delimited by the protocol below (an HTTP/2 stream's END_STREAM): bytes pass as
# they are, like _CLOSE, but the connection lives on.
_NONE, _LENGTH, _CHUNKED, _CLOSE, _STREAM = range(5)


def status_allows_body(code: int) -> bool:
    """RFC 9110 section 6.4.1: 1xx, 204 and 304 responses never have content; section
    15.3.6: a server MUST NOT generate content in a 205."""
    return not (code < 200 or code == 204 or code == 205 or code == 304)


class ResponseWriter:
    """Frames one response. `head()` first, then `body()` any number of times, then `end()`."""

    __slots__ = ("_framing", "_remaining", "keep_alive", "sent", "surplus")

    def __init__(self) -> None:
        self._framing = _NONE
        self._remaining = 0
        # Body bytes framed for sending: after a cut to the declared length, and none when
        # the response has no body (HEAD, 204, 304). Bytes sent by other means (sendfile)
        # are the caller's to count.
        self.sent = 0
        # Bytes the app sent beyond its Content-Length, cut from the response (`overrun`).
        self.surplus = 0
        self.keep_alive = False

    def head(
        self,
        fields: ResponseFields,
        *,
        http_version: str,
        head_request: bool,
        keep_alive: bool,
        length_hint: int | None,
        extra: str,
        connect_request: bool = False,
    ) -> bytes:
        """Serialize the head and choose the framing.

        `fields` are the status and the application's fields (`prepare_fields`); `extra`
        holds server-generated lines (Date, Server), each ending in CRLF. `length_hint` is
        the total body size when the caller already knows it.
        """
        # RFC 9110 section 9.3.6: a 2xx answer to CONNECT MUST NOT carry Content-Length or
        # Transfer-Encoding (the connection becomes a tunnel); whatever the app sends is
        # delimited by closing the connection.
        tunnel = connect_request and 200 <= fields.code < 300
        framing, length = self._delimit(fields, head_request, length_hint, tunnel)
        framing_line = f"Content-Length: {length}\r\n" if length is not None else ""
        if framing == _STREAM:
            if tunnel or http_version != "1.1":
                # RFC 9112 section 6.3 item 8: an HTTP/1.0 client reads until close.
                framing = _CLOSE
                keep_alive = False
            else:
                framing = _CHUNKED
                framing_line = "Transfer-Encoding: chunked\r\n"
        if not keep_alive:
            framing_line += "Connection: close\r\n"
        elif http_version == "1.0":
            framing_line += "Connection: keep-alive\r\n"
        self._framing = framing
        self.keep_alive = keep_alive
        # `fields.lines` is known to be latin-1 (prepare_fields); `extra` is the server's own.
        return f"{fields.status_line}{extra}{fields.lines}{framing_line}\r\n".encode("latin-1")

    def frame_message(
        self, fields: ResponseFields, *, head_request: bool, length_hint: int | None
    ) -> int | None:
        """For a protocol that delimits each message itself (HTTP/2): choose what the body
        may carry, as `head` does, and return the Content-Length to announce (None for none).
        The body then passes through `body()` unframed, cut to its Content-Length."""
        self._framing, length = self._delimit(fields, head_request, length_hint, False)
        self.keep_alive = True
        return length

    def _delimit(
        self, fields: ResponseFields, head_request: bool, length_hint: int | None, tunnel: bool
    ) -> tuple[int, int | None]:
        """(framing, the Content-Length to announce): _NONE, _LENGTH, or _STREAM when the
        caller decides (chunked, close or a protocol's own end)."""
        code = fields.code
        declared = fields.declared
        if code == 204 or tunnel:
            declared = None  # RFC 9110 section 8.6: MUST NOT send Content-Length with 204.
        elif code == 205:
            # Unlike 204 and 304, a 205 is not bodiless by its status for RFC 9112 section
            # 6.3, so its (empty) body must be delimited: section 15.3.6 names this one.
            declared = 0
        if tunnel:
            return _STREAM, None
        bodiless = not status_allows_body(code)
        if head_request or bodiless:
            if declared is not None:
                return _NONE, declared
            if head_request and length_hint and not bodiless:
                # The length a GET would have had; never on a 204 (RFC 9110 section 8.6 MUST
                # NOT) or a 304 (only the length of the 200 it stands for, unknown here). Nor
                # for an empty body: answering HEAD, that usually means the app left the
                # body out (section 9.3.2 lets it), which says nothing of GET's length, and
                # section 8.6 allows only that length.
                return _NONE, length_hint
            return _NONE, None
        if declared is not None:
            self._remaining = declared
            return _LENGTH, declared
        if length_hint is not None:
            self._remaining = length_hint
            return _LENGTH, length_hint
        return _STREAM, None

    @property
    def has_body(self) -> bool:
        return self._framing != _NONE

    @property
    def room(self) -> int | None:
        """How many more body bytes the declared Content-Length admits; None without one."""
        return self._remaining if self._framing == _LENGTH else None

    @property
    def complete(self) -> bool:
        """True once a Content-Length body has all its bytes (more would be cut)."""
        return self._framing == _LENGTH and self._remaining == 0

    def body(self, data: bytes) -> bytes:
        framing = self._framing
        if framing == _LENGTH:
            remaining = self._remaining
            if len(data) > remaining:
                # The app sent more than it declared: cut, and close after this response so
                # the surplus can never be read as the start of another response.
                self.surplus += len(data) - remaining
                data = data[:remaining]
                self.keep_alive = False
            self._remaining = remaining - len(data)
            self.sent += len(data)
            return data
        if framing == _CHUNKED:
            if not data:
                return b""  # an empty chunk would end the body (RFC 9112 section 7.1)
            self.sent += len(data)
            return b"%x\r\n%b\r\n" % (len(data), data)
        if framing in (_CLOSE, _STREAM):
            self.sent += len(data)
            return data
        return b""

    @property
    def close_delimited(self) -> bool:
        """The body ends where the connection does (RFC 9112 section 6.3 item 8): a client can
        tell a cut one only by an abortive close."""
        return self._framing == _CLOSE

    def chunk_prefix(self, size: int) -> bytes:
        """Framing to put before `size` bytes sent by other means (sendfile)."""
        if self._framing == _CHUNKED and size:
            return b"%x\r\n" % size
        return b""

    def chunk_suffix(self, size: int) -> bytes:
        if self._framing == _CHUNKED and size:
            return b"\r\n"
        return b""

    def account(self, size: int) -> int:
        """Record `size` bytes sent by other means; return how many may be sent at most."""
        if self._framing == _LENGTH:
            allowed = min(size, self._remaining)
            if allowed < size:
                self.surplus += size - allowed
                self.keep_alive = False
            self._remaining -= allowed
            return allowed
        return size if self._framing != _NONE else 0

    def overrun(self) -> str | None:
        """What the app sent beyond its Content-Length (cut, the connection closed), said
        like the short body's `end()` error; None when it sent no more than it declared."""
        if self.surplus:
            return f"application sent {self.surplus} bytes more than its Content-Length"
        return None

    def end(self) -> bytes:
        """Finish the body. A short Content-Length body cannot be finished: raise."""
        if self._framing == _LENGTH and self._remaining:
            self.keep_alive = False
            raise ResponseFramingError(
                f"application sent {self._remaining} bytes fewer than its Content-Length"
            )
        if self._framing == _CHUNKED:
            return b"0\r\n\r\n"
        return b""


@dataclass(frozen=True, slots=True)
class ResponseFields:
    """A response's status line and fields, serialized once (see `prepare_fields`).

    `lines` holds every field but Content-Length, each ending in CRLF; the declared
    Content-Length is kept apart in `declared`, because the framing decides whether (and
    how) it is sent: never on a 204 or a tunnel, always as one normalized field.
    """

    code: int
    status_line: str  # "HTTP/1.1 200 OK\r\n"
    lines: str
    declared: int | None


def prepare_fields(status: str, headers: list[tuple[str, str]]) -> ResponseFields:
    """Serialize `status` ("NNN reason") and `headers` (str pairs, already validated by the
    caller as RFC 9110 field names and values, without hop-by-hop fields).

    Raises ApplicationError for a Content-Length that is not a decimal length, for
    conflicting Content-Length fields and for text that latin-1 cannot carry.
    """
    declared: int | None = None
    lines = []
    for name, value in headers:
        if len(name) == 14 and name.lower() == "content-length":
            declared = _declared_length(value, declared)
        else:
            lines.append(f"{name}: {value}\r\n")
    text = "".join(lines)
    status_line = f"HTTP/1.1 {status}\r\n"
    try:
        text.encode("latin-1")
        status_line.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise ApplicationError("response header is not encodable as ISO-8859-1") from exc
    return ResponseFields(int(status[:3]), status_line, text, declared)


def _declared_length(value: str, previous: int | None) -> int:
    raw = value.encode("latin-1", "replace").strip(b" \t")
    if grammar.DIGITS.fullmatch(raw) is None or len(raw) > grammar.MAX_CONTENT_LENGTH_DIGITS:
        raise ApplicationError(f"invalid Content-Length from application: {value!r}")
    length = int(raw)
    if previous is not None and previous != length:
        raise ApplicationError("application sent conflicting Content-Length headers")
    return length


def informational_response(fields: ResponseFields) -> bytes:
    """An interim response head (RFC 9110 section 15.2), such as 103 Early Hints (RFC 8297):
    the status line and the fields, never a body."""
    return f"{fields.status_line}{fields.lines}\r\n".encode("latin-1")


def error_body(status: int, reason: str, detail: str) -> bytes:
    """The short text/plain content of an error response (`error_response`, and an HTTP/2
    stream's error answer)."""
    return f"{status} {reason}: {detail}\n".encode("ascii", "backslashreplace")


def error_response(
    status: int, reason: str, detail: str, *, extra: str = "", head_request: bool = False
) -> bytes:
    """A complete, self-delimited error response that closes the connection.

    `detail` goes into a short text/plain body; the caller must not include request bytes in
    it unescaped (they are attacker-controlled). The answer to a HEAD request has the same
    head and no body (RFC 9110 section 9.3.2).
    """
    body = error_body(status, reason, detail)
    head = (
        f"HTTP/1.1 {status} {reason}\r\n{extra}"
        f"Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + (b"" if head_request else body)
