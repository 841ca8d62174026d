"""The raw HTTP/2 client of the conformance cases: frames in and out of one plain socket.

It sends exactly the bytes a case asks for, well-formed or not (no state machine decides
for it), and reads frames one at a time, each wait bounded by the per-wait timeout. What it
reads is an `Event`: a `Frame`, or the end of the reading (`Closed`, `TimedOut`,
`ReadFailed`); any of the three ends the connection for the case. It owns no pass rule
(`rules` does) and never raises on a send: a server that closed early is seen on the next
read, as h2spec sees it.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from dataclasses import dataclass, field
from enum import IntEnum

from hpack import Encoder

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"  # RFC 9113 section 3.4
DEFAULT_WINDOW = 65_535  # section 6.9.2
DEFAULT_MAX_FRAME_SIZE = 16_384  # section 4.2
DEFAULT_HEADER_TABLE_SIZE = 4_096  # RFC 7541 section 4.2
FRAME_HEADER = struct.Struct(">BBI")  # type, flags, stream id (after the 24-bit length)
Headers = list[tuple[str, str]]


class FrameType(IntEnum):
    """Frame types of RFC 9113 section 6."""

    DATA = 0
    HEADERS = 1
    PRIORITY = 2
    RST_STREAM = 3
    SETTINGS = 4
    PUSH_PROMISE = 5
    PING = 6
    GOAWAY = 7
    WINDOW_UPDATE = 8
    CONTINUATION = 9


class Setting(IntEnum):
    """Setting identifiers of RFC 9113 section 6.5.2."""

    HEADER_TABLE_SIZE = 1
    ENABLE_PUSH = 2
    MAX_CONCURRENT_STREAMS = 3
    INITIAL_WINDOW_SIZE = 4
    MAX_FRAME_SIZE = 5
    MAX_HEADER_LIST_SIZE = 6


class ErrorCode(IntEnum):
    """Error codes of RFC 9113 section 7."""

    NO_ERROR = 0
    PROTOCOL_ERROR = 1
    INTERNAL_ERROR = 2
    FLOW_CONTROL_ERROR = 3
    SETTINGS_TIMEOUT = 4
    STREAM_CLOSED = 5
    FRAME_SIZE_ERROR = 6
    REFUSED_STREAM = 7
    CANCEL = 8
    COMPRESSION_ERROR = 9
    CONNECT_ERROR = 10
    ENHANCE_YOUR_CALM = 11
    INADEQUATE_SECURITY = 12
    HTTP_1_1_REQUIRED = 13


# Flags (section 6): ACK shares its bit with END_STREAM, on the frames that have it.
END_STREAM = 0x1
ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY_FLAG = 0x20
EXCLUSIVE_BIT = 0x8000_0000


def code_name(code: int) -> str:
    try:
        return ErrorCode(code).name
    except ValueError:
        return f"unknown code {code:#x}"


@dataclass(frozen=True)
class Frame:
    """One frame the server sent (the stream id without its reserved bit)."""

    type: int
    flags: int
    stream_id: int
    payload: bytes

    @property
    def error_code(self) -> int | None:
        """The code of a RST_STREAM or GOAWAY; None for other frames or short payloads."""
        if self.type == FrameType.RST_STREAM and len(self.payload) >= 4:
            return int.from_bytes(self.payload[:4], "big")
        if self.type == FrameType.GOAWAY and len(self.payload) >= 8:
            return int.from_bytes(self.payload[4:8], "big")
        return None

    @property
    def ends_stream(self) -> bool:
        return bool(self.flags & END_STREAM)

    @property
    def acks(self) -> bool:
        return bool(self.flags & ACK)

    def __str__(self) -> str:
        known = self.type <= max(FrameType)
        name = FrameType(self.type).name if known else f"frame type {self.type:#x}"
        text = f"{name} (stream {self.stream_id}, flags {self.flags:#04x}, {len(self.payload)} B)"
        if self.error_code is not None:
            text += f" {code_name(self.error_code)}"
        return text


@dataclass(frozen=True)
class Closed:
    """The server closed the connection (end of file or a reset)."""

    def __str__(self) -> str:
        return "connection closed"


@dataclass(frozen=True)
class TimedOut:
    """Nothing (or only part of a frame) came within the per-wait timeout."""

    def __str__(self) -> str:
        return "timed out"


@dataclass(frozen=True)
class ReadFailed:
    """The socket failed in a way that is not a close."""

    error: str

    def __str__(self) -> str:
        return f"read failed: {self.error}"


Event = Frame | Closed | TimedOut | ReadFailed


class HandshakeFailed(Exception):
    """The server did not complete the SETTINGS exchange: the case cannot run."""


@dataclass
class RawConnection:
    """One cleartext HTTP/2 connection with prior knowledge (RFC 9113 section 3.3)."""

    address: tuple[str, int]
    timeout: float
    sock: socket.socket = field(init=False)
    ended: bool = field(init=False, default=False)  # a read ended the connection
    settings: dict[int, int] = field(init=False, default_factory=dict)  # the server's
    received: list[Event] = field(init=False, default_factory=list)
    _inbox: bytes = field(init=False, default=b"")
    _windows: dict[int, int] = field(init=False, default_factory=dict)
    # One encoder for the whole connection, so the dynamic table carries over between
    # blocks, as a real client's does (RFC 7541 section 2.3.2).
    encoder: Encoder = field(init=False, default_factory=Encoder)

    def __post_init__(self) -> None:
        self.sock = socket.create_connection(self.address, timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    # -- sending --------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        # The server may have closed already: the next read tells the case.
        with contextlib.suppress(OSError):
            self.sock.sendall(data)

    def write_frame(self, type_: int, flags: int, stream_id: int, payload: bytes = b"") -> None:
        head = len(payload).to_bytes(3, "big") + FRAME_HEADER.pack(type_, flags, stream_id)
        self.send(head + payload)

    def encode(self, headers: Headers) -> bytes:
        return self.encoder.encode(headers, huffman=True)

    def write_headers(
        self,
        stream_id: int,
        block: bytes,
        *,
        end_stream: bool = True,
        end_headers: bool = True,
        pad_length: int = 0,
        priority: tuple[int, bool, int] | None = None,
    ) -> None:
        """A HEADERS frame; `priority` is (stream dependency, exclusive, weight)."""
        flags = (END_STREAM if end_stream else 0) | (END_HEADERS if end_headers else 0)
        payload = b""
        if pad_length:
            flags |= PADDED
            payload += bytes([pad_length])
        if priority is not None:
            flags |= PRIORITY_FLAG
            payload += _priority_fields(*priority)
        self.write_frame(FrameType.HEADERS, flags, stream_id, payload + block + bytes(pad_length))

    def write_continuation(self, stream_id: int, block: bytes, *, end_headers: bool) -> None:
        self.write_frame(
            FrameType.CONTINUATION, END_HEADERS if end_headers else 0, stream_id, block
        )

    def write_data(
        self, stream_id: int, data: bytes, *, end_stream: bool, padding: bytes | None = None
    ) -> None:
        flags = END_STREAM if end_stream else 0
        if padding is not None:
            flags |= PADDED
            data = bytes([len(padding)]) + data + padding
        self.write_frame(FrameType.DATA, flags, stream_id, data)

    def write_priority(self, stream_id: int, depends_on: int, exclusive: bool, weight: int) -> None:
        self.write_frame(
            FrameType.PRIORITY, 0, stream_id, _priority_fields(depends_on, exclusive, weight)
        )

    def write_rst_stream(self, stream_id: int, code: int) -> None:
        self.write_frame(FrameType.RST_STREAM, 0, stream_id, code.to_bytes(4, "big"))

    def write_settings(self, *pairs: tuple[int, int]) -> None:
        payload = b"".join(struct.pack(">HI", key, value) for key, value in pairs)
        self.write_frame(FrameType.SETTINGS, 0, 0, payload)

    def write_ping(self, data: bytes, *, ack: bool = False) -> None:
        self.write_frame(FrameType.PING, ACK if ack else 0, 0, data)

    def write_goaway(self, last_stream_id: int, code: int, debug: bytes = b"") -> None:
        payload = struct.pack(">II", last_stream_id, code) + debug
        self.write_frame(FrameType.GOAWAY, 0, 0, payload)

    def write_window_update(self, stream_id: int, increment: int) -> None:
        self.write_frame(FrameType.WINDOW_UPDATE, 0, stream_id, increment.to_bytes(4, "big"))

    # -- receiving ------------------------------------------------------------------------

    def handshake(self) -> None:
        """Send the preface and our SETTINGS, then read until the server's SETTINGS came (and
        was acknowledged) and ours was acknowledged, all within one timeout."""
        self.send(PREFACE)
        self.write_settings((Setting.INITIAL_WINDOW_SIZE, DEFAULT_WINDOW))
        deadline = time.monotonic() + self.timeout
        theirs = ours_acked = False
        while not (theirs and ours_acked):
            try:
                frame = self._read_frame(deadline)
            except (TimeoutError, EOFError, OSError) as exc:
                raise HandshakeFailed(f"during the SETTINGS exchange: {exc!r}") from exc
            if frame.type != FrameType.SETTINGS:
                continue
            if frame.acks:
                ours_acked = True
                continue
            theirs = True
            for offset in range(0, len(frame.payload) - 5, 6):
                key, value = struct.unpack_from(">HI", frame.payload, offset)
                self.settings[key] = value
            self.write_frame(FrameType.SETTINGS, ACK, 0)

    @property
    def max_frame_size(self) -> int:
        return self.settings.get(Setting.MAX_FRAME_SIZE, DEFAULT_MAX_FRAME_SIZE)

    def next_event(self) -> Event:
        """The next frame, or what ended the reading (which ends the connection too)."""
        event: Event
        try:
            event = self._read_frame(time.monotonic() + self.timeout)
        except TimeoutError:
            event = TimedOut()
        except (EOFError, ConnectionResetError):
            event = Closed()
        except OSError as exc:
            event = ReadFailed(repr(exc))
        if not isinstance(event, Frame):
            self.ended = True
        elif event.type == FrameType.DATA:
            self._give_back(event)
        self.received.append(event)
        return event

    def wait_for(self, type_: FrameType) -> tuple[Frame | None, Event | None]:
        """Read until a frame of `type_` comes: (that frame, None), or (None, the last
        event read) once the connection ended without one."""
        last: Event | None = None
        while not self.ended:
            last = self.next_event()
            if isinstance(last, Frame) and last.type == type_:
                return last, None
        return None, last

    def _read_exact(self, size: int, deadline: float) -> bytes:
        while len(self._inbox) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            self.sock.settimeout(remaining)
            chunk = self.sock.recv(65_536)
            if not chunk:
                raise EOFError
            self._inbox += chunk
        data, self._inbox = self._inbox[:size], self._inbox[size:]
        return data

    def _read_frame(self, deadline: float) -> Frame:
        head = self._read_exact(9, deadline)
        type_, flags, stream_id = FRAME_HEADER.unpack_from(head, 3)
        payload = self._read_exact(int.from_bytes(head[:3], "big"), deadline)
        return Frame(type_, flags, stream_id & 0x7FFF_FFFF, payload)

    def _give_back(self, frame: Frame) -> None:
        """Once DATA used up a window (the stream's or the connection's), open it again to
        its initial size, so a response larger than a window still arrives."""
        for stream_id in (frame.stream_id, 0):
            window = self._windows.get(stream_id, DEFAULT_WINDOW) - len(frame.payload)
            if window <= 0:
                self.write_window_update(stream_id, DEFAULT_WINDOW - window)
                window = DEFAULT_WINDOW
            self._windows[stream_id] = window


def _priority_fields(depends_on: int, exclusive: bool, weight: int) -> bytes:
    """Stream dependency (with the exclusive bit) and weight (section 5.3.2 of RFC 7540)."""
    return struct.pack(">IB", depends_on | (EXCLUSIVE_BIT if exclusive else 0), weight)
