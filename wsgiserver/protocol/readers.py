"""Request body readers: Content-Length and chunked (RFC 9112 section 6 and 7).

Owns: taking body bytes out of the connection's receive buffer and removing chunked framing.
Must not: see the head or the socket. Each reader returns a `Data`, an `EndOfMessage`, or None
when it needs more bytes; `eof` says the client closed its side, which makes a short body an
error (RFC 9112 section 8: an incomplete message).
"""

from __future__ import annotations

from wsgiserver.errors import BadRequest, ContentTooLarge
from wsgiserver.protocol import grammar
from wsgiserver.protocol.events import Data, EndOfMessage
from wsgiserver.protocol.headers import parse_field_lines
from wsgiserver.protocol.limits import Limits

# RFC 9110 section 6.5.1: fields a sender MUST NOT put in a trailer section because they are
# needed before the content (framing, routing, request modifiers); their presence is an attack.
FORBIDDEN_TRAILERS = frozenset(
    (
        b"content-length",
        b"transfer-encoding",
        b"host",
        b"trailer",
        b"content-encoding",
        b"content-type",
        b"content-range",
        b"expect",
        b"connection",
    )
)


TRUNCATED_BODY = "connection closed before the request body was complete"


def check_trailer_field(name: bytes) -> None:
    """A field of a request's trailer section that RFC 9110 section 6.5.1 forbids there is a
    400, over HTTP/1.1 and HTTP/2 alike. `name` is lower-case."""
    if name in FORBIDDEN_TRAILERS:
        raise BadRequest(f"{name.decode('ascii')} is not allowed in a trailer section")


class ContentLengthReader:
    """A body of exactly `length` bytes."""

    __slots__ = ("remaining",)

    def __init__(self, length: int) -> None:
        self.remaining = length

    def read(self, buf: bytearray, eof: bool, max_bytes: int) -> Data | EndOfMessage | None:
        if self.remaining == 0:
            return EndOfMessage([])
        if not buf:
            if eof:
                raise BadRequest(TRUNCATED_BODY)
            return None
        size = min(self.remaining, len(buf), max_bytes)
        data = _take(buf, size)
        self.remaining -= size
        return Data(data)


_SIZE_LINE, _DATA, _DATA_END, _TRAILERS, _DONE = range(5)


class ChunkedReader:
    """A chunked body with bounded size lines, extensions and trailers (RFC 9112 7.1)."""

    __slots__ = ("_limits", "_received", "_remaining", "_state", "fields_budget", "trailers")

    def __init__(self, limits: Limits, header_count: int) -> None:
        self._limits = limits
        self._state = _SIZE_LINE
        self._remaining = 0
        self._received = 0
        # Trailers count against the same field budget as the head (one limit, not two).
        self.fields_budget = limits.max_header_count - header_count
        self.trailers: list[tuple[bytes, bytes]] = []

    def read(self, buf: bytearray, eof: bool, max_bytes: int) -> Data | EndOfMessage | None:
        while True:
            state = self._state
            if state == _DATA:
                if not buf:
                    break
                size = min(self._remaining, len(buf), max_bytes)
                data = _take(buf, size)
                self._remaining -= size
                if self._remaining == 0:
                    self._state = _DATA_END
                return Data(data)
            if state == _SIZE_LINE:
                if not self._read_size_line(buf):
                    break
            elif state == _DATA_END:
                if len(buf) < 2:
                    if buf and buf[:1] != b"\r":
                        raise BadRequest("chunk data not followed by CRLF")
                    break
                if buf[:2] != b"\r\n":
                    raise BadRequest("chunk data not followed by CRLF")
                del buf[:2]
                self._state = _SIZE_LINE
            elif state == _TRAILERS:
                if not self._read_trailers(buf):
                    break
            else:
                return EndOfMessage(self.trailers)
        if eof:
            raise BadRequest("connection closed before the chunked body was complete")
        return None

    def _read_size_line(self, buf: bytearray) -> bool:
        end = buf.find(b"\r\n")
        # Leading zeros are a prefix of the line, so the same count holds for a partial line
        # and for the whole one: the outcome does not depend on how the bytes were split.
        zeros = _leading_zeros(buf)
        if zeros > grammar.MAX_CHUNK_SIZE_ZEROS:
            raise BadRequest("chunk size has too many leading zeros")
        max_line = grammar.MAX_CHUNK_SIZE_DIGITS + self._limits.max_chunk_extension
        if end < 0:
            if len(buf) - zeros > max_line + 2:
                raise BadRequest("chunk size line too long")
            if b"\n" in buf or b"\r" in buf[:-1]:
                raise BadRequest("bare CR or LF in chunk size line")
            return False
        line = bytes(buf[:end])
        match = grammar.CHUNK_LINE.fullmatch(line)
        if match is None:
            raise BadRequest("invalid chunk size line")
        digits, extensions = match.groups()
        # Significant digits only (RFC 9112 section 7.1: 1*HEXDIG, any number of them); the
        # limit guards against overflow, which leading zeros cannot cause.
        if len(digits) - zeros > grammar.MAX_CHUNK_SIZE_DIGITS:
            raise BadRequest("chunk size has too many digits")
        if len(extensions) > self._limits.max_chunk_extension:
            raise BadRequest("chunk extensions too long")
        del buf[: end + 2]
        # Safe: `digits` is validated hexadecimal ASCII.
        size = int(digits, 16)
        self._received += size
        if self._received > self._limits.max_body_size:
            raise ContentTooLarge(f"request body larger than {self._limits.max_body_size} bytes")
        if size == 0:
            self._state = _TRAILERS
        else:
            self._remaining = size
            self._state = _DATA
        return True

    def _read_trailers(self, buf: bytearray) -> bool:
        if buf[:2] == b"\r\n":
            del buf[:2]
            self._state = _DONE
            return True
        end = buf.find(b"\r\n\r\n")
        limit = self._limits.max_head_size
        if end < 0:
            # Only what is certain from this prefix: CRLFCRLF not within limit + 3 bytes, or
            # a CR known to be bare (BARE_CR_BEFORE needs the byte after it to have arrived).
            if len(buf) > limit + 3:
                raise BadRequest("trailer section too large")
            if grammar.BARE_LF.search(buf) or grammar.BARE_CR_BEFORE.search(buf):
                raise BadRequest("bare CR or LF in trailer section")
            return False
        # The same checks on a complete section, so the answer does not depend on how the
        # bytes were split into reads.
        if end > limit:
            raise BadRequest("trailer section too large")
        section = bytes(buf[:end])
        if grammar.BARE_LF.search(section) or grammar.BARE_CR.search(section):
            raise BadRequest("bare CR or LF in trailer section")
        lines = section.split(b"\r\n")
        if len(lines) > self.fields_budget:
            raise BadRequest("too many trailer fields")
        fields = parse_field_lines(lines, self._limits)
        for name, _ in fields:
            check_trailer_field(name)
        self.trailers = fields
        del buf[: end + 4]
        self._state = _DONE
        return True


def _leading_zeros(buf: bytearray) -> int:
    """How many b"0" bytes `buf` starts with (a regex: no copy of a long buffer)."""
    match = grammar.LEADING_ZEROS.match(buf)
    return match.end() if match is not None else 0


# Above this size a memoryview saves more (one copy of the data instead of two) than it costs.
_VIEW_THRESHOLD = 16384


def _take(buf: bytearray, size: int) -> bytes:
    """Remove the first `size` bytes of `buf` and return them, copying them only once."""
    if size == len(buf):
        # The common case for a body that fits one buffer: no intermediate slice.
        data = bytes(buf)
        buf.clear()
        return data
    if size < _VIEW_THRESHOLD:
        data = bytes(buf[:size])
    else:
        with memoryview(buf) as view:
            data = bytes(view[:size])
    del buf[:size]
    return data
