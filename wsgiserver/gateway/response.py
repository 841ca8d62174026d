"""One WSGI response: `start_response`, `write()` and sending the body iterable (PEP 3333).

Owns: validating what the application passes to `start_response` (status, header list,
`exc_info` semantics) and to `wsgi.early_hints`, the head that goes out once the body begins,
and the choice between one send for a list body, sendfile for `wsgi.file_wrapper`, and a send
per piece otherwise. Must not: touch sockets (it writes through the gateway's `Channel`),
frame bytes itself (its `Framing` does: the HTTP/1.1 `ServerConnection`, or an HTTP/2 stream)
or build the environ.

Validation is memoized: most applications send the same few status lines and header lists
on every request, so a checked and serialized (status, headers) pair is kept in a bounded
table (`CheckedHeads`, one per gateway) and a repeat costs one dictionary lookup instead of
a regular expression per field.
"""

from __future__ import annotations

import io
import os
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Protocol

from wsgiserver.errors import ApplicationError, ResponseFramingError
from wsgiserver.gateway.body import FileWrapper
from wsgiserver.protocol.grammar import is_token
from wsgiserver.protocol.writers import ResponseFields, ResponseWriter, prepare_fields

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]

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
# RFC 9110 section 15: status codes are 100..599; WSGI cannot send the interim 1xx ones.
_STATUS = re.compile(r"[2-5][0-9]{2} [\t\x20-\x7e\x80-\xff]*")
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
# Iterators over a body that is all in memory already: taking every chunk at once never
# waits on the app (Django's HttpResponse iterates its list of chunks this way).
_IN_MEMORY_ITERATORS: tuple[type, ...] = (type(iter([])), type(iter(())))
MAX_CACHED_HEADS = 256  # distinct (status, headers) pairs remembered per gateway


class Channel(Protocol):
    """What a response needs from the transport that owns the socket."""

    def send(self, data: bytes) -> None: ...

    def sendfile(self, file: IO[bytes], offset: int, count: int) -> int: ...


class Framing(Protocol):
    """How a response is framed on its connection: `protocol.ServerConnection` for HTTP/1.1
    (its head as bytes), or an HTTP/2 stream (HEADERS frames; the head bytes are then empty
    and the stream sends the head before its first DATA)."""

    def open_response(
        self, fields: ResponseFields, *, length_hint: int | None = None, extra: str = ""
    ) -> tuple[bytes, ResponseWriter]: ...

    def send_informational(self, fields: ResponseFields) -> bytes: ...


@dataclass(frozen=True, slots=True)
class CheckedHead:
    """A validated status and header list, serialized, with the facts the server needs."""

    fields: ResponseFields
    names: frozenset[str]  # every field name the application sent, lower-cased
    own_fields: frozenset[str]  # server-supplied fields (Date, Server) the app set itself


class CheckedHeads:
    """The memo of heads that passed `check_head`, shared by one gateway's threads.

    Bounded: when full it is emptied and refills with what is sent now, so an application
    sending unique values (cookies, ETags) cannot grow it. Entries are immutable and a lost
    race only means checking twice, so threads share it without a lock (dict operations are
    atomic on free-threaded CPython too).
    """

    __slots__ = ("_entries", "limit")

    def __init__(self, limit: int = MAX_CACHED_HEADS) -> None:
        self._entries: dict[tuple[object, ...], CheckedHead] = {}
        self.limit = limit

    def __len__(self) -> int:
        return len(self._entries)

    def check(self, status: object, headers: object) -> CheckedHead:
        """`check_head`, remembered: a repeat of a valid head costs one lookup."""
        key: tuple[object, ...] | None = None
        if type(headers) is list:
            key = (status, *headers)
            try:
                checked = self._entries.get(key)
            except TypeError:  # an unhashable item (a list pair): invalid, reported below
                checked = None
                key = None
            if checked is not None and type(status) is str:  # as strict as a miss
                return checked
        checked = check_head(status, headers)
        if key is not None and _exact_strings(key):
            entries = self._entries
            if len(entries) >= self.limit:
                entries.clear()
            entries[key] = checked
        return checked


def check_head(status: object, headers: object) -> CheckedHead:
    """Validate a `start_response` status and header list; ApplicationError if invalid."""
    plain = check_headers(headers)
    fields = prepare_fields(check_status(status), plain)
    names = frozenset(name.lower() for name, _ in plain)
    return CheckedHead(fields, names, names & _SERVER_SUPPLIED)


def _as_text_pair(item: object) -> object:
    """An early-hints pair with `bytes` names and values read as latin-1 (gunicorn takes
    both); anything else is left for `check_headers` to refuse."""
    if type(item) is tuple and len(item) == 2:
        name, value = item
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        return (name, value)
    return item


def _exact_strings(key: tuple[object, ...]) -> bool:
    # Only plain str may share an entry: a str subclass can compare equal to a valid value
    # and still format differently.
    if type(key[0]) is not str:
        return False
    for item in key[1:]:
        if type(item) is not tuple or type(item[0]) is not str or type(item[1]) is not str:
            return False
    return True


def check_status(status: object) -> str:
    if type(status) is not str or _STATUS.fullmatch(status) is None:
        raise ApplicationError(f"invalid status from application: {status!r}")
    return status


def check_headers(headers: object) -> list[tuple[str, str]]:
    """Validate the app's header list (RFC 9110 section 5 names and values, no hop-by-hop)
    and return it as plain `str` pairs.

    A `str` subclass is copied to a plain `str` before it is checked: its own `lower()` or
    `__format__` could otherwise dodge the checks or change what is serialized.
    """
    if not isinstance(headers, list):
        raise ApplicationError("response headers must be a list of (name, value) tuples")
    plain: list[tuple[str, str]] = []
    for item in headers:
        if type(item) is not tuple or len(item) != 2:
            raise ApplicationError(f"invalid response header: {item!r}")
        name, value = item
        if not isinstance(name, str) or not is_token(name):
            raise ApplicationError(f"invalid response header name: {name!r}")
        if not isinstance(value, str) or _FIELD_VALUE.fullmatch(value) is None:
            raise ApplicationError(f"invalid value for response header {name}: {value!r}")
        if type(name) is not str or type(value) is not str:
            name, value = str.__str__(name), str.__str__(value)
        if name.lower() in HOP_BY_HOP:
            raise ApplicationError(f"hop-by-hop header {name} from application (PEP 3333)")
        plain.append((name, value))
    return plain


class Response:
    """The state of one response: PEP 3333 start_response/write and body sending."""

    __slots__ = (
        "_channel",
        "_checked",
        "_conn",
        "_date",
        "_file_bytes",
        "_heads",
        "_key",
        "_writer",
        "echo",
        "ended",
        "head_sent",
        "headers",
        "status",
    )

    def __init__(
        self,
        conn: Framing,
        channel: Channel,
        date: Callable[[], str],
        heads: CheckedHeads,
    ) -> None:
        self._conn = conn
        self._writer: ResponseWriter | None = None  # the body's framing, once the head is out
        self._heads = heads
        self._channel = channel
        self._date = date
        self._checked: CheckedHead | None = None
        self._key: tuple[object, ...] = ()
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.head_sent = False
        self.ended = False  # set by the gateway once the response is over, sent or not
        self._file_bytes = 0  # body bytes sent with sendfile
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
        self._checked = self._heads.check(status, headers)
        self._key = (status, *headers)
        self.status = status
        self.headers = headers
        return self.write

    def early_hints(self, headers: object) -> None:
        """environ["wsgi.early_hints"]: send a 103 Early Hints (RFC 8297) with `headers`.

        gunicorn's calling convention, so apps written for it work unchanged: a list of
        (name, value) pairs, each `str` or latin-1 `bytes`; it may be called more than once
        (one 103 each); it does nothing once the response head was sent (or the response is
        over), nor for a client that cannot receive one (HTTP/1.0). The fields are checked as
        `start_response` checks its own (ApplicationError otherwise); a 1xx response carries
        no Content-Length (RFC 9110 section 8.6).
        """
        if self.head_sent or self.ended:
            return
        if not isinstance(headers, list | tuple):
            raise ApplicationError("early hints must be a list of (name, value) tuples")
        pairs = [_as_text_pair(item) for item in headers]
        plain = check_headers(pairs)
        if any(len(name) == 14 and name.lower() == "content-length" for name, _ in plain):
            raise ApplicationError("Content-Length in early hints (RFC 9110 section 8.6)")
        interim = self._conn.send_informational(prepare_fields("103 Early Hints", plain))
        if interim:
            self._channel.send(interim)

    @property
    def body_bytes(self) -> int:
        """Body bytes handed to the channel (a transport whose send failed knows how many of
        them did not go out): none for HEAD, 204 and 304; a body over its Content-Length cut."""
        writer = self._writer
        if writer is None:
            return 0
        return writer.sent + self._file_bytes

    def _current(self) -> CheckedHead:
        """The checked head as it will be sent (start_response must have been called)."""
        checked = self._checked
        if checked is None:
            raise ApplicationError("the application did not call start_response")
        if (self.status, *self.headers) != self._key:
            # The app may change its header list until the body begins (wsgiref sends the
            # list as it is then, too): check what will actually be sent.
            checked = self._checked = self._heads.check(self.status, self.headers)
            self._key = (self.status, *self.headers)
        return checked

    def _head(self, length_hint: int | None) -> tuple[bytes, ResponseWriter]:
        """The response head as it will be sent, with the writer that frames its body."""
        checked = self._current()
        extra = self._date()
        names = checked.names
        if self.echo is not None:
            name, value = self.echo
            if name.lower() not in names:
                extra += f"{name}: {value}\r\n"  # an id is printable ASCII (requestid.py)
        own = checked.own_fields
        if own:
            # The app's own Date or Server wins; never send a field twice.
            extra = "".join(
                f"{line}\r\n"
                for line in extra.split("\r\n")
                if line and line.partition(":")[0].lower() not in own
            )
        head, writer = self._conn.open_response(
            checked.fields, length_hint=length_hint, extra=extra
        )
        self._writer = writer
        # Only now: a head the writer refuses used to count as sent, so the client got a
        # bare close instead of a 500.
        self.head_sent = True
        return head, writer

    def write(self, data: bytes) -> None:
        """PEP 3333 write(): send now, never buffer."""
        if self.ended:
            # A write() kept past its response (called from the iterable's close() or from
            # another thread) would put bytes after the end of the message, where the client
            # reads the next response: PEP 3333 gives write() no life beyond its response.
            raise ApplicationError("write() called after its response ended")
        if type(data) is not bytes:
            raise ApplicationError(f"write() needs bytes, got {type(data).__name__}")
        writer = self._writer
        if writer is None:
            head, writer = self._head(None)
            self._channel.send(head + writer.body(data) if data else head)
        elif data:
            self._channel.send(writer.body(data))

    def send_result(self, result: Iterable[bytes]) -> None:
        if type(result) is list and not self.head_sent:
            self._send_list(result)
            return
        if type(result) is FileWrapper:
            if not self._send_file(result):
                self._send_blocks(result)
            return
        chunks = iter(result)
        if type(chunks) in _IN_MEMORY_ITERATORS and not self.head_sent:
            # Its length is known without waiting: an exact Content-Length and one send, as
            # for a list, instead of chunked framing and a second send for its last chunk.
            self._send_list(list(chunks))
            return
        write = self.write
        for data in chunks:
            if type(data) is not bytes:  # before write(), whose message would name it
                raise ApplicationError(f"the body must yield bytes, got {type(data).__name__}")
            if data:
                write(data)
                writer = self._writer
                if writer is not None and (writer.surplus or not writer.has_body):
                    # Cut at the declared length; or no body goes out at all (HEAD, 204,
                    # 304), so there is nothing to wait for: an endless stream (events)
                    # answering a HEAD held its thread for good. PEP 3333 has close()
                    # called on a body not consumed to its end.
                    break
        self._finish()

    def _send_list(self, result: list[bytes]) -> None:
        # The common case (Flask, Django, plain apps): the whole body is known now, so the
        # head, the body and the end go out in one send with an exact Content-Length.
        total = 0
        for data in result:
            if type(data) is not bytes:
                raise ApplicationError(f"the body must yield bytes, got {type(data).__name__}")
            total += len(data)
        body = result[0] if len(result) == 1 else b"".join(result)
        head, writer = self._head(total)
        payload = head + writer.body(body)
        try:
            end = writer.end()
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
        if not stat.S_ISREG(info.st_mode) or info.st_size <= offset:
            # Nothing left by its size: read it all the same. A /proc or /sys file says 0
            # and has content; an empty file costs one read() to find out.
            return False
        size = info.st_size - offset
        if not self.head_sent:
            declared = self._current().fields.declared is not None
            self._channel.send(self._head(None if declared else size)[0])
        writer = self._started()
        room = writer.room
        if room is not None:
            # PEP 3333: a file goes out from its current position "until the end is reached,
            # or until Content-Length bytes have been written" (how a byte range is served).
            size = min(size, room)
        count = writer.account(size)
        if count:
            prefix = writer.chunk_prefix(count)
            if prefix:
                self._channel.send(prefix)
            # Counted as handed over, like the writer's bytes: a channel that fails reports
            # what did not go out (the transport's access record subtracts it).
            self._file_bytes += count
            self._channel.sendfile(file, offset, count)
            suffix = writer.chunk_suffix(count)
            if suffix:
                self._channel.send(suffix)
        self._finish()
        return True

    def _send_blocks(self, wrapper: FileWrapper) -> None:
        """A `wsgi.file_wrapper` of a file that cannot be sent with sendfile (a BytesIO, a
        pipe): its blocks, up to the declared Content-Length as for `_send_file`."""
        send = self._channel.send
        for block in wrapper:
            if type(block) is not bytes:
                raise ApplicationError(f"the file must read bytes, got {type(block).__name__}")
            head = b""
            writer = self._writer
            if writer is None:
                # The head once the file has given a block (a read that fails is still a
                # clean 500), and with it: its writer says whether a Content-Length caps it.
                head, writer = self._head(None)
            room = writer.room
            last = not writer.has_body or (room is not None and len(block) >= room)
            if room is not None:
                block = block[:room]
            data = head + writer.body(block) if block else head
            if data:
                send(data)
            if last:
                break  # a HEAD, or the declared length is reached
        self._finish()

    def _finish(self) -> None:
        writer = self._writer
        if writer is None:
            head, writer = self._head(0)
            self._channel.send(head + writer.end())
            return
        end = writer.end()
        if end:
            self._channel.send(end)

    def _started(self) -> ResponseWriter:
        """The writer of the head already sent (a bug, not an app error, if none was)."""
        writer = self._writer
        if writer is None:
            raise RuntimeError("the response head was not sent")
        return writer
