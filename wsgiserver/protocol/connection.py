"""The per-connection HTTP/1.1 state machine for the server role (RFC 9112).

Owns: the receive buffer, where we are in the request/response cycle, pipelining and the
keep-alive decision. Must not: do I/O, read clocks or log. Errors are raised as
`wsgiserver.errors.ProtocolError` subclasses carrying their status; once one is raised the
connection is failed for good, so bytes after a framing error are never parsed (no desync).
"""

from __future__ import annotations

from wsgiserver.errors import (
    BadRequest,
    ContentTooLarge,
    HeaderFieldsTooLarge,
    ProtocolError,
    URITooLong,
)
from wsgiserver.protocol import grammar
from wsgiserver.protocol.events import (
    NEED_DATA,
    PAUSED,
    ConnectionClosed,
    Data,
    EndOfMessage,
    Request,
    Sentinel,
)
from wsgiserver.protocol.head import invalid_request_line, parse_request_head, parse_request_line
from wsgiserver.protocol.limits import Limits
from wsgiserver.protocol.readers import ChunkedReader, ContentLengthReader
from wsgiserver.protocol.writers import (
    ResponseFields,
    ResponseWriter,
    informational_response,
    prepare_fields,
)

_HEAD, _BODY, _DONE, _CLOSED, _FAILED = range(5)
CONTINUE_RESPONSE = b"HTTP/1.1 100 Continue\r\n\r\n"
_DEFAULT_LIMITS = Limits()


class ServerConnection:
    """One HTTP/1.1 connection, seen from the server. Feed bytes, take events, send replies."""

    __slots__ = (
        "_buf",
        "_continue_sent",
        "_eof",
        "_error",
        "_leading",
        "_line_checked",
        "_reader",
        "_refused_line",
        "_scan",
        "_state",
        "_writer",
        "close_requested",
        "limits",
        "request",
    )

    def __init__(self, limits: Limits = _DEFAULT_LIMITS) -> None:
        self.limits = limits
        self._buf = bytearray()
        self._scan = 0  # where the search for the end of the head resumes
        self._leading = 0  # empty lines skipped before this request line
        # How many bytes of the request line are known to start a valid one (-1: all of it,
        # up to its CR or LF), so a line arriving byte by byte is checked in linear time.
        self._line_checked = 0
        self._eof = False
        self._state = _HEAD
        self._reader: ContentLengthReader | ChunkedReader | None = None
        self._writer: ResponseWriter | None = None
        self._continue_sent = False
        self._error: ProtocolError | None = None
        # The request line of a complete head that was refused (413 for its Content-Length,
        # a bad field...): for the HEAD rule and the access record of the refusal.
        self._refused_line = b""
        self.request: Request | None = None
        # Set by the server when it is stopping: the next response says Connection: close.
        self.close_requested = False

    # -- receiving ------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Add received bytes; b"" means the client closed its sending side."""
        if data:
            self._buf += data
        else:
            self._eof = True

    @property
    def has_buffered_data(self) -> bool:
        """Bytes already received and not yet parsed (a pipelined next request)."""
        return bool(self._buf)

    @property
    def eof_received(self) -> bool:
        """True once the client has closed its sending side."""
        return self._eof

    @property
    def buffered_size(self) -> int:
        """How many received bytes wait in the buffer (body bytes while a request is open)."""
        return len(self._buf)

    @property
    def failed(self) -> bool:
        """True after a ProtocolError: the connection must be closed, never reused."""
        return self._state == _FAILED

    @property
    def in_request(self) -> bool:
        """True from the first byte of a request head until its response is over and the
        next cycle starts (`reuse`): while the body arrives and while the app answers."""
        state = self._state
        return state in (_BODY, _DONE) or (state == _HEAD and bool(self._buf))

    @property
    def refused_request_line(self) -> bytes:
        """The request line of a complete head that was refused ("" if none was)."""
        return self._refused_line

    @property
    def answers_head(self) -> bool:
        """Whether a response now answers a HEAD request, so it must carry no content (RFC
        9110 section 9.3.2): also for an error answering a head that was refused or never
        completed, which has no `Request`."""
        request = self.request
        if request is not None:
            return request.method == "HEAD"
        # A head refused once taken out of the buffer was remembered; any other (incomplete,
        # or refused by the early checks) is still at the start of the buffer.
        return (self._refused_line or self._buf).startswith(b"HEAD ")

    @property
    def request_complete(self) -> bool:
        return self._state == _DONE or (self._state == _BODY and self._reader is None)

    def next_event(
        self, max_bytes: int = 1 << 20
    ) -> Request | Data | EndOfMessage | ConnectionClosed | Sentinel:
        """The next event, NEED_DATA, or PAUSED (the current request is complete)."""
        state = self._state
        if state == _BODY:
            reader = self._reader
            if reader is None:
                self._state = _DONE
                return EndOfMessage([])
            try:
                event = reader.read(self._buf, self._eof, max_bytes)
            except ProtocolError as exc:
                self._fail(exc)
                raise
            if event is None:
                return NEED_DATA
            if type(event) is EndOfMessage:
                self._state = _DONE
                self._reader = None
            return event
        if state == _HEAD:
            try:
                return self._next_head()
            except ProtocolError as exc:
                self._fail(exc)
                raise
        if state == _DONE:
            return PAUSED
        if state == _CLOSED:
            return ConnectionClosed()
        if self._error is not None:
            raise self._error
        raise BadRequest("connection is no longer usable")

    def _next_head(self) -> Request | ConnectionClosed | Sentinel:
        buf = self._buf
        # RFC 9112 section 2.2: ignore empty lines before a request line (bounded by the
        # request-line limit so a stream of CRLFs cannot hold a worker forever).
        while buf.startswith(b"\r\n"):
            del buf[:2]
            self._leading += 2
            self._line_checked = 0
            if self._leading > self.limits.max_request_line:
                raise BadRequest("too many empty lines before the request line")
        if not buf:
            if self._eof:
                self._state = _CLOSED
                return ConnectionClosed()
            return NEED_DATA
        end = buf.find(b"\r\n\r\n", self._scan)
        if end < 0:
            self._check_partial_head(buf)
            return NEED_DATA
        # Run the same early checks over the complete head (up to the last prefix that had no
        # CRLFCRLF yet), so a head received at once fails exactly as one received byte by byte:
        # one input, one answer. This also enforces the head size limit and guarantees
        # `parse_request_head` never sees a bare CR or LF.
        size = end + 4
        limits = self.limits
        crlf = buf.count(b"\r\n", 0, size)
        if not (
            # Fast path, the common case: within every limit and no bare CR or LF at all.
            end <= limits.max_request_line
            and size <= limits.max_head_size + 3
            and buf.count(b"\r", 0, size) == crlf
            and buf.count(b"\n", 0, size) == crlf
        ):
            error = self._head_error(buf, max(self._scan - 1, 0), end + 3)
            if error is not None:
                raise error
        if size == len(buf):
            head = bytes(buf)  # the usual case: nothing pipelined behind this head
            buf.clear()
        else:
            head = bytes(buf[:size])
            del buf[:size]
        self._scan = 0
        self._leading = 0
        self._line_checked = 0
        try:
            request = parse_request_head(head, limits)
        except ProtocolError:
            # The buffer may hold a pipelined request now: keep this head's request line
            # (complete heads are bounded, and so is their first line).
            self._refused_line = head[: head.find(b"\r\n")]
            raise
        self.request = request
        if request.content_length is not None and request.content_length > limits.max_body_size:
            # RFC 9110 section 15.5.14: refused on the announced length, before any of the
            # body is read. The head itself is valid, so it stays `request`: the refusal's
            # access record names its client and id, and the answer to a HEAD has no content.
            raise ContentTooLarge(f"request body larger than {limits.max_body_size} bytes")
        self._state = _BODY
        if request.chunked:
            self._reader = ChunkedReader(limits, len(request.headers))
        elif request.content_length is not None:
            self._reader = ContentLengthReader(request.content_length)
        else:
            self._reader = None
        return request

    def _check_partial_head(self, buf: bytearray) -> None:
        """Fail early on a head that can never become valid, instead of waiting for more."""
        size = len(buf)
        error = self._head_error(buf, max(self._scan - 1, 0), size)
        if error is not None:
            raise error
        if self._eof:
            raise BadRequest("connection closed in the middle of a request head")
        self._scan = max(size - 3, 0)

    def _head_error(self, buf: bytearray, start: int, size: int) -> ProtocolError | None:
        """The first error that the prefixes of `buf[:size]` show, by position, or None.

        Each check is placed at the prefix length at which it first becomes certain, and the
        earliest wins (ties: 414, then 431, then 400). So the answer depends only on the bytes,
        never on how they were split into reads. Bytes before `start` were checked already.
        """
        limits = self.limits
        best: tuple[int, ProtocolError] | None = None
        max_line = limits.max_request_line
        if size > max_line and buf.find(b"\r\n", 0, min(max_line + 2, size)) < 0:
            # The request line is longer than allowed once byte `max_line` is not the CR of
            # its CRLF, or once that CR is not followed by LF.
            at = max_line + 1 if buf[max_line] != 0x0D else max_line + 2
            if at <= size:
                best = (at, URITooLong(f"request line longer than {max_line} bytes"))
        at = limits.max_head_size + 4  # CRLFCRLF not found within max_head_size + 3 bytes
        if at <= size and (best is None or at < best[0]):
            too_big = f"request head larger than {limits.max_head_size} bytes"
            best = (at, HeaderFieldsTooLarge(too_big))
        # RFC 9112 section 2.2: a bare CR is invalid; we also refuse bare LF line endings.
        bare: int | None = None
        match = grammar.BARE_LF.search(buf, start, size)
        if match is not None:
            bare = match.start() + 1  # certain as soon as the LF arrives
        match = grammar.BARE_CR_BEFORE.search(buf, start, size)
        if match is not None and (bare is None or match.start() + 2 < bare):
            bare = match.start() + 2  # certain once the byte after the CR arrives
        if bare is not None and (best is None or bare < best[0]):
            best = (bare, BadRequest("bare CR or LF in request head"))
        no_line = self._request_line_end(buf, min(size, max_line + 1))
        if no_line is not None and (best is None or no_line[0] < best[0]):
            best = no_line
        return None if best is None else best[1]

    def _request_line_end(self, buf: bytearray, size: int) -> tuple[int, ProtocolError] | None:
        """The prefix length at which `buf[:size]` can no longer start a request line
        (RFC 9112 section 3: method SP request-target SP HTTP-version), with its error; or
        None.

        Resumes where the last call stopped. Bytes past the request-line limit need no look:
        the 414 comes first there. A line ended by its CR is judged whole at once, as the
        complete head would be: a client that sent `GET /` (HTTP/0.9) or a bad version
        waits for its answer, and was left to the header timeout's 408.
        """
        checked = self._line_checked
        if checked < 0 or checked >= size:
            return None
        if checked == 0:
            where = grammar.LINE_START
        else:
            spaces = buf.count(b" ", 0, checked)
            if spaces == 0:
                where = grammar.IN_METHOD
            elif spaces == 1:
                where = grammar.TARGET_START if buf[checked - 1] == 0x20 else grammar.IN_TARGET
            else:
                where = grammar.IN_VERSION
        match = grammar.REQUEST_LINE_REST[where].match(buf, checked, size)
        end = match.end() if match is not None else checked
        if end == size:
            self._line_checked = end
            return None
        if buf[end] in b"\r\n":  # the line ends here (a bare LF: the bare-LF check's)
            self._line_checked = -1
            if buf[end] == 0x0D and end:  # at 0: an empty line before it (section 2.2)
                try:
                    parse_request_line(bytes(buf[:end]))
                except ProtocolError as exc:
                    return end + 1, exc
            return None
        return end + 1, invalid_request_line(buf)

    def _fail(self, exc: ProtocolError) -> None:
        self._state = _FAILED
        self._error = exc
        self._reader = None

    # -- sending --------------------------------------------------------------------------

    def send_continue(self) -> bytes:
        """The interim 100 response, once, if the client asked for it and is still waiting."""
        request = self.request
        if (
            request is None
            or not request.expect_continue
            or self._continue_sent
            or self._writer is not None
        ):
            return b""
        self._continue_sent = True
        return CONTINUE_RESPONSE

    def send_informational(self, fields: ResponseFields) -> bytes:
        """An interim response (103 Early Hints) for the current request, or b"" when none
        may be sent: to an HTTP/1.0 client (RFC 9110 section 15.2: a server MUST NOT send it
        one), or once the final response has started."""
        request = self.request
        if request is None or request.http_version != "1.1" or self._writer is not None:
            return b""
        return informational_response(fields)

    def send_response(
        self,
        status: str,
        headers: list[tuple[str, str]],
        *,
        length_hint: int | None = None,
        extra: str = "",
        close: bool = False,
    ) -> bytes:
        """The response head for `status` and `headers` (validated str pairs); see
        `send_head`, which takes them already serialized by `prepare_fields`."""
        return self.send_head(
            prepare_fields(status, headers), length_hint=length_hint, extra=extra, close=close
        )

    def send_head(
        self,
        fields: ResponseFields,
        *,
        length_hint: int | None = None,
        extra: str = "",
        close: bool = False,
    ) -> bytes:
        """The response head for the current request; see `ResponseWriter.head`."""
        return self.open_response(fields, length_hint=length_hint, extra=extra, close=close)[0]

    def open_response(
        self,
        fields: ResponseFields,
        *,
        length_hint: int | None = None,
        extra: str = "",
        close: bool = False,
    ) -> tuple[bytes, ResponseWriter]:
        """Start the response to the current request: its head, and the writer that frames
        its body (what `send_data`/`send_end` use), for a caller that frames it itself."""
        request = self.request
        if request is None or self._writer is not None:
            raise RuntimeError("send_head needs a request without a response")
        # A body framing error the app caught (and answered anyway) leaves the connection
        # failed: say so in this head, or the client would wait for a next response that
        # never comes (RFC 9112 section 9.6: "close" when the connection will not persist).
        keep_alive = (
            request.keep_alive and not close and not self.close_requested and self._state != _FAILED
        )
        state = self._state
        if keep_alive and not (state == _DONE or (state == _BODY and self._reader is None)):
            reader = self._reader
            if request.expect_continue and not self._continue_sent:
                # RFC 9110 section 10.1.1: the client may or may not send the body now; we
                # cannot tell its bytes from a next request, so this connection must end.
                keep_alive = False
            elif isinstance(reader, ChunkedReader) or (
                isinstance(reader, ContentLengthReader)
                and reader.remaining - len(self._buf) > self.limits.max_drain_size
            ):
                # An unread chunked body has no known size to drain, and a large one costs
                # more than a new connection: say so now rather than close unannounced.
                keep_alive = False
        writer = ResponseWriter()
        method = request.method
        head = writer.head(
            fields,
            http_version=request.http_version,
            head_request=method == "HEAD",
            connect_request=method == "CONNECT",
            keep_alive=keep_alive,
            length_hint=length_hint,
            extra=extra,
        )
        # Set only once the head is valid: a head the writer refuses leaves no response
        # started, so the caller can still answer 500 (it used to get a bare close).
        self._writer = writer
        return head, writer

    @property
    def response_started(self) -> bool:
        return self._writer is not None

    @property
    def current_writer(self) -> ResponseWriter | None:
        """The writer of the response in progress, or None: a look that cannot raise."""
        return self._writer

    @property
    def writer(self) -> ResponseWriter:
        """The writer of the response in progress (RuntimeError if none was started)."""
        writer = self._writer
        if writer is None:
            raise RuntimeError("no response has been started")
        return writer

    def send_data(self, data: bytes) -> bytes:
        return self.writer.body(data)

    def send_end(self) -> bytes:
        return self.writer.end()

    @property
    def keep_alive(self) -> bool:
        """Whether the connection may carry another request after this response."""
        writer = self._writer
        if writer is not None:
            return writer.keep_alive
        request = self.request
        return request is not None and request.keep_alive

    def reuse(self) -> bool | None:
        """After a response: start the next request cycle if this connection may carry one.

        True once started; False if the connection must close (it failed, or the response
        said `Connection: close`); None while the request body is unread (the caller drains
        it, or closes, then asks again).
        """
        state = self._state
        writer = self._writer
        if state == _FAILED or writer is None or not writer.keep_alive:
            return False
        if not (state == _DONE or (state == _BODY and self._reader is None)):
            return None
        self._state = _HEAD
        self._reader = None
        self._writer = None
        self._continue_sent = False
        self.request = None
        return True

    def start_next_cycle(self) -> None:
        """Reset for the next request; the request and response must both be complete."""
        if not self.request_complete or self._writer is None:
            raise RuntimeError("the current request or response is not finished")
        if self.reuse() is not True:
            raise RuntimeError("this connection must be closed, not reused")
