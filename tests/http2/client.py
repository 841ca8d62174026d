"""A blocking HTTP/2 test client over one socket, built on h2's client side.

It speaks whatever the test wants: well-formed requests through h2 (`request`), or raw
frames that no well-behaved client would send (`send_frames`, with hyperframe and hpack),
and it reads strictly: every response is collected per stream, with its interim responses,
its body, its trailers and the code of a RST_STREAM; a GOAWAY ends the reading with its code.
All reads block with a socket timeout, so a server that hangs fails the test.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events
import h2.settings
from h2.connection import ConnectionState
from hpack import Encoder
from hyperframe.frame import ContinuationFrame, Frame, HeadersFrame

READ_TIMEOUT = 10.0
Header = tuple[bytes, bytes]


@dataclass
class Reply:
    """What came back on one stream."""

    status: int = 0
    headers: list[Header] = field(default_factory=list)
    body: bytes = b""
    interim: list[tuple[int, list[Header]]] = field(default_factory=list)
    ended: bool = False
    reset: int | None = None  # the RST_STREAM error code, if the server reset the stream

    def header(self, name: bytes) -> bytes | None:
        values = [v for n, v in self.headers if n == name]
        assert len(values) <= 1, f"{name!r} repeated: {values}"
        return values[0] if values else None

    @property
    def done(self) -> bool:
        return self.ended or self.reset is not None


class H2Client:
    """One connection. `events` keeps every h2 event received, in order."""

    def __init__(
        self,
        address: tuple[str, int],
        *,
        tls: ssl.SSLContext | None = None,
        settings: dict[h2.settings.SettingCodes, int] | None = None,
        auto_ack: bool = True,
        timeout: float = READ_TIMEOUT,
        preface_byte_by_byte: bool = False,
    ) -> None:
        sock = socket.create_connection(address, timeout=timeout)
        if tls is not None:
            sock = tls.wrap_socket(sock, server_hostname="localhost")
            assert sock.selected_alpn_protocol() == "h2", sock.selected_alpn_protocol()
        self.sock = sock
        config = h2.config.H2Configuration(client_side=True, header_encoding=None)
        self.conn = h2.connection.H2Connection(config)
        if settings:
            self.conn.local_settings = h2.settings.Settings(client=True, initial_values=settings)
        self.conn.initiate_connection()
        self.auto_ack = auto_ack  # give received data back to the server's windows at once
        self.replies: dict[int, Reply] = {}
        self.events: list[h2.events.Event] = []
        self.goaway: h2.events.ConnectionTerminated | None = None
        self.closed = False  # the server closed the connection
        self._inbox = b""  # received bytes not yet a whole frame
        if preface_byte_by_byte:  # the 24-byte client preface (RFC 9113 section 3.4), split
            preface = self.conn.data_to_send()
            for byte in preface[:24]:
                sock.sendall(bytes([byte]))
            sock.sendall(preface[24:])
        self.flush()

    def __enter__(self) -> H2Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    # -- sending ----------------------------------------------------------------------------

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(
        self,
        path: str = "/",
        *,
        method: str = "GET",
        headers: Iterable[tuple[str, str]] = (),
        body: bytes | None = None,
        end: bool = True,
        authority: str = "localhost",
        scheme: str = "http",
    ) -> int:
        """Open a stream; send `body` (when given) and END_STREAM (when `end`)."""
        stream_id = self.conn.get_next_available_stream_id()
        block = [
            (":method", method),
            (":scheme", scheme),
            (":authority", authority),
            (":path", path),
            *headers,
        ]
        self.conn.send_headers(stream_id, block, end_stream=end and body is None)
        self.replies[stream_id] = Reply()
        if body is not None:
            self.send_body(stream_id, body, end=end)
        self.flush()
        return stream_id

    def send_body(self, stream_id: int, data: bytes, *, end: bool = True) -> None:
        """Send `data` as the server's windows allow (reading to get WINDOW_UPDATEs)."""
        view = memoryview(data)
        while view:
            room = min(
                self.conn.local_flow_control_window(stream_id), self.conn.max_outbound_frame_size
            )
            if room <= 0:
                self.flush()
                if not self.read_once():
                    raise ConnectionError("closed while waiting for a window")
                continue
            self.conn.send_data(stream_id, bytes(view[:room]))
            view = view[room:]
        if end:
            self.conn.end_stream(stream_id)
        self.flush()

    def reset(self, stream_id: int, code: int = 8) -> None:
        self.conn.reset_stream(stream_id, code)
        self.flush()

    def ping_and_wait(self) -> None:
        """PING, then read until its ACK: the server has taken every frame sent before it
        (it handles a connection's frames in order, RFC 9113 section 6.7)."""
        opaque = self.conn.get_next_available_stream_id().to_bytes(8, "big")
        self.conn.ping(opaque)
        self.flush()
        self.read_until(
            lambda: any(
                isinstance(event, h2.events.PingAckReceived) and event.ping_data == opaque
                for event in self.events
            )
        )
        assert not self.closed, "the server closed the connection before answering the PING"

    def send_raw(self, data: bytes) -> None:
        """Bytes straight onto the socket, after what h2 has queued."""
        self.flush()
        self.sock.sendall(data)

    def send_frames(self, frames: Iterable[Frame]) -> None:
        self.send_raw(b"".join(frame.serialize() for frame in frames))

    # -- receiving --------------------------------------------------------------------------

    def read_once(self) -> bool:
        """One recv: False once the server closed (or reset) the connection.

        Frames are fed to h2 one at a time, so that a graceful GOAWAY (NO_ERROR) can be
        followed by the rest of the streams it lets finish (RFC 9113 section 6.8): h2's own
        client closes its state machine on any GOAWAY, so it is reopened after one.
        """
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, ssl.SSLError, BrokenPipeError):
            data = b""
        if not data:
            self.closed = True
            return False
        inbox = self._inbox + data
        while len(inbox) >= 9:
            size = 9 + int.from_bytes(inbox[:3], "big")
            if len(inbox) < size:
                break
            frame, inbox = inbox[:size], inbox[size:]
            if frame[3] == 0x7:
                # h2 drops what it has queued when a GOAWAY arrives: the WINDOW_UPDATEs for
                # DATA read just before must go out first, or the stream stalls.
                self.flush()
            for event in self.conn.receive_data(frame):
                self._note(event)
            if frame[3] == 0x7 and self.goaway is not None and not self.goaway.error_code:
                self.conn.state_machine.state = ConnectionState.CLIENT_OPEN
        self._inbox = inbox
        self.flush()
        return True

    def _note(self, event: h2.events.Event) -> None:
        self.events.append(event)
        stream_id = getattr(event, "stream_id", None)
        reply = self.replies.setdefault(stream_id, Reply()) if stream_id else None
        if isinstance(event, h2.events.ResponseReceived) and reply is not None:
            headers = list(event.headers or [])
            reply.status = int(dict(headers)[b":status"])
            reply.headers = [(n, v) for n, v in headers if not n.startswith(b":")]
        elif isinstance(event, h2.events.InformationalResponseReceived) and reply is not None:
            headers = list(event.headers or [])
            status = int(dict(headers)[b":status"])
            reply.interim.append((status, [(n, v) for n, v in headers if n != b":status"]))
        elif isinstance(event, h2.events.DataReceived) and reply is not None:
            reply.body += event.data or b""
            if self.auto_ack and event.stream_id is not None:
                self.conn.acknowledge_received_data(
                    event.flow_controlled_length or 0, event.stream_id
                )
        elif isinstance(event, h2.events.StreamEnded) and reply is not None:
            reply.ended = True
        elif isinstance(event, h2.events.StreamReset) and reply is not None:
            reply.reset = int(event.error_code or 0)
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.goaway = event

    def read_until(self, done: Callable[[], bool]) -> None:
        """Read until `done()` or the server closes the connection."""
        while not done():
            if not self.read_once():
                return

    def reply(self, stream_id: int) -> Reply:
        """The whole reply on `stream_id`: until it ends or is reset, or a GOAWAY says it
        will not be answered (an error, or a stream above its last stream id)."""
        reply = self.replies.setdefault(stream_id, Reply())

        def over() -> bool:
            goaway = self.goaway
            if goaway is None:
                return reply.done
            return reply.done or bool(goaway.error_code) or stream_id > (goaway.last_stream_id or 0)

        self.read_until(over)
        return reply

    def get(self, path: str = "/", **options: object) -> Reply:
        return self.reply(self.request(path, **options))  # type: ignore[arg-type]

    def read_until_closed(self) -> None:
        self.read_until(lambda: False)


def header_block(headers: list[tuple[bytes, bytes]], encoder: Encoder | None = None) -> bytes:
    return (encoder or Encoder()).encode(headers)


def headers_frame(stream_id: int, block: bytes, *, end_stream: bool, end_headers: bool) -> Frame:
    frame = HeadersFrame(stream_id, data=block)
    if end_stream:
        frame.flags.add("END_STREAM")
    if end_headers:
        frame.flags.add("END_HEADERS")
    return frame


def continuation_frame(stream_id: int, block: bytes, *, end_headers: bool) -> Frame:
    frame = ContinuationFrame(stream_id, data=block)
    if end_headers:
        frame.flags.add("END_HEADERS")
    return frame


GET_BLOCK = [
    (b":method", b"GET"),
    (b":scheme", b"http"),
    (b":authority", b"localhost"),
    (b":path", b"/"),
]
