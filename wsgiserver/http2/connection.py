"""One HTTP/2 connection, server side: h2's state machine with this server's policies.

Owns: the connection preface and SETTINGS (our limits), which streams are accepted and which
refused, the happenings the transport acts on (a stream's request, its body pieces, its end,
a reset, an opened window, the client going away), sending a stream's headers and data within
the client's flow-control windows, giving back the receive window as the app reads, GOAWAY,
and the budgets that end an abusive connection (rapid reset, floods of SETTINGS, PING,
PRIORITY, empty DATA or unknown frames). Must not: touch sockets, threads, clocks or logging
(`receive` takes `now`), nor be used by two threads at once: the transport serializes every
call (its state lock). Bytes to send accumulate until `take_output()`.

Why some of h2's defaults are not ours (RFC 9113 references):
- Header validation is ours (`messages`), so a malformed request is a stream error answered
  on its stream (section 8.1.1), not a connection error, and it follows the HTTP/1.1 rules.
- h2 ends the connection when a client opens more streams than SETTINGS allow; section
  5.1.2 asks for a stream error, and REFUSED_STREAM tells the client it may retry. So h2 is
  left a large limit and this class refuses streams over ours itself. It also refuses a
  stream while as many as `2 * max_concurrent_streams` streams still have work on the
  server (queued or running): a stream reset by the client is closed for h2 at once, and
  without that bound "rapid reset" could queue work without end.
- h2 ends the connection when a body contradicts its content-length (or the value is not a
  number); section 8.1.1 makes that a malformed request, a stream error. So h2's streams
  here leave content-length alone (`_Connection`), and this class counts each body itself.
- h2 reports a field block it cannot decode as PROTOCOL_ERROR; section 4.3 asks for
  COMPRESSION_ERROR (`_FieldDecoder`).
- h2 rejects two frames with the wrong error: a WINDOW_UPDATE of 0 on a stream ends the
  connection, where section 6.9 makes it an error of that stream, and a SETTINGS
  acknowledgement with a payload is PROTOCOL_ERROR, where section 6.5 says FRAME_SIZE_ERROR
  (`_FrameScreen`).
- h2 takes a GOAWAY from the client as the end of the connection: what is queued to send is
  dropped and any later frame is a connection error. A graceful one (NO_ERROR) only says
  that the client is leaving and takes no pushed stream (section 6.8): the connection goes
  on, with the WINDOW_UPDATEs and PINGs its streams need, so `_Connection` keeps it open.
- h2's GOAWAY closes its state machine, which then refuses to send anything: a graceful stop
  must still answer the streams already accepted (section 6.8), so that GOAWAY is written
  here, and h2's own is kept for the end.
- h2 answers each frame that arrives on a stream this server reset with one more
  RST_STREAM (STREAM_CLOSED): a body still in flight drew one per DATA frame. Section 5.1
  says those frames MUST be ignored (the client sent them before it saw the reset), so
  `_Connection` drops those resets; their bytes still go back to the connection's window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from h2.config import H2Configuration
from h2.connection import AllowedStreamIDs, H2Connection
from h2.errors import ErrorCodes
from h2.events import (
    ConnectionTerminated,
    DataReceived,
    Event,
    PingReceived,
    PriorityUpdated,
    RemoteSettingsChanged,
    RequestReceived,
    StreamEnded,
    StreamReset,
    TrailersReceived,
    UnknownFrameReceived,
    WindowUpdated,
)
from h2.exceptions import H2Error, ProtocolError, StreamClosedError
from h2.frame_buffer import FrameBuffer
from h2.settings import SettingCodes, Settings
from h2.stream import H2Stream, StreamClosedBy
from hpack import Decoder, HPACKError, OversizedHeaderListError
from hyperframe.frame import Frame, GoAwayFrame, RstStreamFrame

from wsgiserver.errors import BadRequest, ContentTooLarge, HTTPError
from wsgiserver.http2.limits import HPACK_BOUND, H2Limits
from wsgiserver.http2.messages import Header, check_trailers, request_from_headers
from wsgiserver.protocol.events import Request
from wsgiserver.protocol.limits import Limits

NO_ERROR = int(ErrorCodes.NO_ERROR)
PROTOCOL_ERROR = int(ErrorCodes.PROTOCOL_ERROR)
INTERNAL_ERROR = int(ErrorCodes.INTERNAL_ERROR)
REFUSED_STREAM = int(ErrorCodes.REFUSED_STREAM)
CANCEL = int(ErrorCodes.CANCEL)
ENHANCE_YOUR_CALM = int(ErrorCodes.ENHANCE_YOUR_CALM)
SETTINGS_TIMEOUT = int(ErrorCodes.SETTINGS_TIMEOUT)
FRAME_SIZE_ERROR = int(ErrorCodes.FRAME_SIZE_ERROR)
_UNLIMITED_STREAMS = 2**31 - 1  # what h2 itself allows (see the module docstring)


@dataclass(slots=True)
class StreamOpened:
    """A stream's request arrived: `request`, or the `error` to answer it with (malformed,
    too large...). A request refused only for its announced length comes with both.
    `ended`: it has no body (END_STREAM came with the headers)."""

    stream_id: int
    request: Request | None
    error: HTTPError | None
    ended: bool


@dataclass(slots=True)
class BodyReceived:
    """A piece of a stream's request body. Its `length` counts against the windows until
    `acknowledge()` gives it back (padding is given back at once)."""

    stream_id: int
    data: bytes


@dataclass(slots=True)
class BodyEnded:
    stream_id: int


@dataclass(slots=True)
class BodyMalformed:
    """The stream's body broke the rules (RFC 9113 section 8.1.1: more or fewer bytes than
    its content-length, malformed trailers): a stream error. Nothing more of the body is
    delivered; the caller answers `error` if it still can, then resets the stream."""

    stream_id: int
    error: HTTPError


@dataclass(slots=True)
class StreamCancelled:
    """The client reset the stream (RST_STREAM): nothing more is received or sent on it."""

    stream_id: int
    error_code: int


@dataclass(slots=True)
class WindowOpened:
    """The client opened a flow-control window: of one stream, or (0) of the connection or
    of every stream (a new SETTINGS_INITIAL_WINDOW_SIZE)."""

    stream_id: int


@dataclass(slots=True)
class ClientGoingAway:
    """The client sent GOAWAY; with `error_code` NO_ERROR it is leaving gracefully."""

    error_code: int


Happening = (
    StreamOpened
    | BodyReceived
    | BodyEnded
    | BodyMalformed
    | StreamCancelled
    | WindowOpened
    | ClientGoingAway
)


class ConnectionFailed(Exception):
    """The connection must end: a GOAWAY with `error_code` is queued (`take_output`)."""

    def __init__(self, error_code: int, detail: str) -> None:
        super().__init__(detail)
        self.error_code = error_code
        self.detail = detail


class Budget:
    """Events counted over a fixed window of time: `spend(now)` is False once more than
    `limit` fell in the current window."""

    __slots__ = ("_count", "_limit", "_since", "_window")

    def __init__(self, limit: int, window: float) -> None:
        self._limit = limit
        self._window = window
        self._since = 0.0
        self._count = 0

    def spend(self, now: float) -> bool:
        if now - self._since >= self._window:
            self._since = now
            self._count = 0
        self._count += 1
        return self._count <= self._limit


class _UncountedStream(H2Stream):
    """h2's stream without h2's own content-length check (see `_Connection`)."""

    __slots__ = ()  # the same layout as H2Stream's, so a stream's class can be changed

    def _initialize_content_length(self, headers: object) -> None:
        self._expected_content_length = None  # never compared: `H2Protocol` counts


class _CompressionError(ProtocolError):
    """A field block that cannot be decoded (RFC 9113 section 4.3)."""

    error_code = ErrorCodes.COMPRESSION_ERROR


class _FieldDecoder(Decoder):
    """hpack's decoder, whose errors h2 turns into COMPRESSION_ERROR instead of
    PROTOCOL_ERROR (h2 passes a `ProtocolError` through as it is, with its code)."""

    def decode(self, data: bytes, raw: bool = False) -> Any:
        try:
            return super().decode(data, raw)
        except OversizedHeaderListError:
            raise  # an HPACK bomb: h2 ends the connection with ENHANCE_YOUR_CALM
        except (HPACKError, IndexError, TypeError, UnicodeDecodeError) as exc:
            raise _CompressionError(f"a field block that cannot be decoded: {exc}") from exc


class _FrameSizeError(ProtocolError):
    """A frame whose length its type does not allow (RFC 9113 section 4.2)."""

    error_code = ErrorCodes.FRAME_SIZE_ERROR


_SETTINGS, _WINDOW_UPDATE, _ACK = 0x4, 0x8, 0x1


class _FrameScreen(FrameBuffer):
    """h2's frame buffer, taking two frames h2 rejects the RFC's way (the module docstring).
    A stream's WINDOW_UPDATE of 0 is left out of what h2 reads and noted in `zero_updates`
    for `H2Protocol` to reset that stream."""

    def __init__(self) -> None:
        super().__init__(server=True)
        self.zero_updates: list[int] = []

    def __next__(self) -> Frame:
        size = len(self._data)
        try:
            return super().__next__()
        except ProtocolError:
            data = self._data
            if len(data) != size:
                raise  # refused after h2 took the frame (inside a field block): as it is
            # Refused as h2 parsed it: the frame is still whole at the start of the buffer.
            length = int.from_bytes(data[:3], "big")
            kind, flags = data[3], data[4]
            stream_id = int.from_bytes(data[5:9], "big") & 0x7FFFFFFF
            if kind == _SETTINGS and flags & _ACK and length:
                raise _FrameSizeError("a SETTINGS acknowledgement with a payload") from None
            if (
                kind == _WINDOW_UPDATE
                and stream_id
                and length == 4
                and not int.from_bytes(data[9:13], "big") & 0x7FFFFFFF
                and not self._headers_buffer  # inside a field block, any frame is an error
            ):
                self._data = data[13:]  # (bytes in some h2 4.x releases, a bytearray in others)
                self.zero_updates.append(stream_id)
                return self.__next__()
            raise


class _Connection(H2Connection):
    """h2's connection with this server's changes (the module docstring says why); h2 has
    no option for them, so each replaces a method of h2 3.0 to 4.x:

    - `_begin_new_stream` is where h2 creates a stream: the class of the stream it just
      made is changed to `_UncountedStream`;
    - the decoder is a `_FieldDecoder`, the frame buffer a `_FrameScreen`;
    - `_receive_goaway_frame` lets a graceful GOAWAY leave the connection open;
    - `_receive_frame` and `_prepare_for_sending` drop the reset h2 makes for a frame
      that arrives on a stream this server had reset.
    """

    def __init__(self, config: H2Configuration) -> None:
        super().__init__(config)
        self.decoder = _FieldDecoder()
        self.incoming_buffer: _FrameScreen = _FrameScreen()
        self._ignoring = 0  # the stream a frame being received is ignored on (0: none)

    def _receive_frame(self, frame: Frame) -> list[Event]:
        stream_id = frame.stream_id
        if stream_id and self._stream_closed_by(stream_id) is StreamClosedBy.SEND_RST_STREAM:
            self._ignoring = stream_id  # reset by this server before this frame came
        try:
            return super()._receive_frame(frame)
        finally:
            self._ignoring = 0

    def _prepare_for_sending(self, frames: list[Frame]) -> None:
        ignoring = self._ignoring
        if ignoring:
            # h2's answer to a frame on a stream this server reset: RFC 9113 section 5.1
            # says to ignore such a frame (the client sent it before it saw the reset).
            frames = [
                frame
                for frame in frames
                if not (isinstance(frame, RstStreamFrame) and frame.stream_id == ignoring)
            ]
        super()._prepare_for_sending(frames)

    def _begin_new_stream(self, stream_id: int, allowed_ids: AllowedStreamIDs) -> H2Stream:
        stream = super()._begin_new_stream(stream_id, allowed_ids)
        stream.__class__ = _UncountedStream
        return stream

    def _receive_goaway_frame(self, frame: GoAwayFrame) -> tuple[list[Frame], list[Event]]:
        if frame.error_code:
            return super()._receive_goaway_frame(frame)
        event = ConnectionTerminated()
        event.error_code = ErrorCodes.NO_ERROR
        event.last_stream_id = frame.last_stream_id
        event.additional_data = frame.additional_data or None
        return [], [event]


class H2Protocol:
    """The server side of one HTTP/2 connection (see the module docstring)."""

    __slots__ = (
        "_busy",
        "_dirty",
        "_fields",
        "_frames",
        "_h2",
        "_limits",
        "_prefix",
        "_remote_open",
        "_resets",
        "goaway_sent",
        "last_stream_id",
    )

    def __init__(self, limits: H2Limits, fields: Limits) -> None:
        config = H2Configuration(
            client_side=False,
            header_encoding=None,
            validate_inbound_headers=False,  # messages.request_from_headers validates
            normalize_inbound_headers=True,  # joins split Cookie fields with "; "
            validate_outbound_headers=False,  # messages.response_headers builds them valid
            normalize_outbound_headers=False,
        )
        self._h2 = _Connection(config)
        self._limits = limits
        self._fields = fields
        self._busy: set[int] = set()  # streams given to the caller and not yet released
        # The streams whose request body may still come, each with the bytes its
        # content-length still announces (None: no content-length).
        self._remote_open: dict[int, int | None] = {}
        self._resets = Budget(limits.reset_budget, limits.flood_window)
        self._frames = Budget(limits.frame_budget, limits.flood_window)
        self._prefix = b""  # our own frames, to go out before what h2 queues after them
        self._dirty = False  # something may be queued for sending
        self.goaway_sent = False  # a graceful GOAWAY went out: no new stream is accepted
        self.last_stream_id = 0  # the highest stream accepted so far

    # -- setting up -----------------------------------------------------------------------

    def start(self) -> None:
        """Queue our connection preface: SETTINGS, and a larger connection window."""
        limits = self._limits
        values = {
            SettingCodes.MAX_CONCURRENT_STREAMS: limits.max_concurrent_streams,
            SettingCodes.MAX_HEADER_LIST_SIZE: limits.max_header_list_size,
            SettingCodes.INITIAL_WINDOW_SIZE: limits.initial_window_size,
            SettingCodes.ENABLE_PUSH: 0,
        }
        h2 = self._h2
        h2.local_settings = Settings(client=False, initial_values=values)
        h2.initiate_connection()  # the SETTINGS frame carries `values`
        # From now on h2 enforces a concurrency limit of its own only far above ours.
        h2.local_settings = Settings(
            client=False,
            initial_values={**values, SettingCodes.MAX_CONCURRENT_STREAMS: _UNLIMITED_STREAMS},
        )
        # hpack stops decoding a block at HPACK_BOUND times the advertised list size (a
        # bomb ends the connection); up to that, a list over the limit is answered 431.
        h2.decoder.max_header_list_size = limits.max_header_list_size * HPACK_BOUND
        extra = limits.connection_window - h2.inbound_flow_control_window
        if extra > 0:
            h2.increment_flow_control_window(extra)
        self._dirty = True

    # -- receiving ------------------------------------------------------------------------

    def receive(self, data: bytes, now: float) -> list[Happening]:
        """Feed bytes from the client; what happened, for the caller to act on.

        Raises `ConnectionFailed` (with a GOAWAY queued) when the connection must end.
        """
        self._dirty = True
        try:
            events = self._h2.receive_data(data)
        except ProtocolError as exc:  # h2 queued its GOAWAY
            raise ConnectionFailed(int(exc.error_code), str(exc) or type(exc).__name__) from None
        except H2Error as exc:  # pragma: no cover - h2 raises ProtocolError subclasses here
            self._h2.close_connection(PROTOCOL_ERROR)
            raise ConnectionFailed(PROTOCOL_ERROR, str(exc)) from None
        self._check_pending_frame()
        happened: list[Happening] = []
        # h2 counts every stream of this batch as open already; for the concurrency limit a
        # stream counts once reached, so the streams over the limit are the later ones.
        ahead = sum(isinstance(event, RequestReceived) for event in events)
        for event in events:
            match event:
                case DataReceived():
                    self._data(event, now, happened)
                case RequestReceived():
                    ahead -= 1
                    self._request(event, now, happened, ahead)
                case TrailersReceived():
                    self._trailers(event, happened)
                case StreamEnded(stream_id=stream_id) if stream_id in self._remote_open:
                    if self._remote_open[stream_id]:  # bytes its content-length announced
                        happened.append(
                            self._malformed(stream_id, "body shorter than its content-length")
                        )
                    else:
                        del self._remote_open[stream_id]
                        happened.append(BodyEnded(stream_id))
                case WindowUpdated(stream_id=stream_id):
                    happened.append(WindowOpened(stream_id or 0))
                case StreamReset():
                    self._reset_by_client(event, now, happened)
                case ConnectionTerminated(error_code=code):
                    happened.append(ClientGoingAway(int(code or 0)))
                case RemoteSettingsChanged():
                    self._control_frame(now)
                    # Section 6.9.2: a new initial window size changes every stream's
                    # window at once (and a new frame size what one write may send).
                    happened.append(WindowOpened(0))
                case PingReceived() | PriorityUpdated() | UnknownFrameReceived():
                    self._control_frame(now)
        zero_updates = self._h2.incoming_buffer.zero_updates
        for stream_id in zero_updates:
            self._zero_window_update(stream_id, now, happened)
        zero_updates.clear()
        return happened

    def _zero_window_update(self, stream_id: int, now: float, happened: list[Happening]) -> None:
        """RFC 9113 section 6.9: a WINDOW_UPDATE of 0 on a stream is an error of that stream;
        on a stream never opened (idle, section 5.1) it is an error of the connection."""
        self._control_frame(now)
        if stream_id % 2 == 0 or stream_id > self._h2.highest_inbound_stream_id:
            self._fail(PROTOCOL_ERROR, "WINDOW_UPDATE on an idle stream")
        self.reset(stream_id, PROTOCOL_ERROR)  # nothing when it is closed already
        if stream_id in self._busy:
            happened.append(StreamCancelled(stream_id, PROTOCOL_ERROR))

    def _control_frame(self, now: float) -> None:
        """h2 answers SETTINGS and PING itself; each costs us work and an answer."""
        if not self._frames.spend(now):
            self._fail(ENHANCE_YOUR_CALM, "too many control frames")

    def _check_pending_frame(self) -> None:
        """RFC 9113 section 4.2: a frame longer than SETTINGS_MAX_FRAME_SIZE is a
        FRAME_SIZE_ERROR as soon as its header says so. h2 checks a frame's length only once
        all of it has arrived, which would let each connection make the server hold up to
        16 MiB of a frame it refuses anyway."""
        pending = self._h2.incoming_buffer._data  # what is left: one incomplete frame
        if len(pending) >= 9:
            length = int.from_bytes(pending[:3], "big")
            if length > self._h2.max_inbound_frame_size:
                self._fail(FRAME_SIZE_ERROR, f"a frame of {length} bytes, over the maximum")

    def _request(
        self, event: RequestReceived, now: float, happened: list[Happening], ahead: int
    ) -> None:
        stream_id = event.stream_id
        ended = event.stream_ended is not None
        if self.goaway_sent:
            # Section 6.8: after our GOAWAY a new stream is not processed, and the sender of
            # a GOAWAY "will ignore" it: its id, above the GOAWAY's last one, tells the
            # client to retry it elsewhere. A RST_STREAM said no more, and h2-based clients
            # (httpx) take any frame after a GOAWAY as a protocol error that fails the
            # connection's other streams too. Its body, if any, is given back (`_data`).
            if not self._resets.spend(now):  # a flood of them still ends the connection
                self._fail(ENHANCE_YOUR_CALM, "too many streams refused or reset")
            return
        busy = self._busy
        if (
            self._h2.open_inbound_streams - ahead > self._limits.max_concurrent_streams
            or len(busy) >= 2 * self._limits.max_concurrent_streams
        ):
            self._refuse(stream_id, now)
            return
        headers: list[Header] = list(event.headers or [])  # bytes: no header_encoding
        try:
            request = request_from_headers(headers, self._fields, self._limits.max_header_list_size)
            error: HTTPError | None = None
            announced = request.content_length
            if announced is None and any(name == b"content-length" for name, _ in headers):
                announced = 0  # `Request` has None for a length of 0
            if ended and announced:
                raise BadRequest("no body but a content-length")  # section 8.1.1
            if announced is not None and announced > self._fields.max_body_size:
                # RFC 9110 section 15.5.14: refused on the announced length. The request
                # itself is valid and stays known: its record names its client and id.
                limit = self._fields.max_body_size
                error = ContentTooLarge(f"request body larger than {limit} bytes")
                announced = None  # its body is not taken, as for any stream refused here
        except HTTPError as exc:
            request, error, announced = None, exc, None
        busy.add(stream_id)
        if not ended:
            self._remote_open[stream_id] = announced
        self.last_stream_id = max(self.last_stream_id, stream_id)
        happened.append(StreamOpened(stream_id, request, error, ended))

    def _refuse(self, stream_id: int, now: float) -> None:
        self.reset(stream_id, REFUSED_STREAM)
        if not self._resets.spend(now):
            self._fail(ENHANCE_YOUR_CALM, "too many streams refused or reset")

    def _data(self, event: DataReceived, now: float, happened: list[Happening]) -> None:
        stream_id = event.stream_id
        data = event.data or b""
        length = event.flow_controlled_length or 0
        if not data and event.stream_ended is None and not self._frames.spend(now):
            self._fail(ENHANCE_YOUR_CALM, "too many empty DATA frames")
        if stream_id not in self._remote_open:
            # A stream nobody reads any more (released, refused): give its window back now.
            self._h2.acknowledge_received_data(length, stream_id)
            return
        if length > len(data):
            self._h2.acknowledge_received_data(length - len(data), stream_id)  # padding
        left = self._remote_open[stream_id]
        if left is not None:
            left -= len(data)
            if left < 0:
                self._h2.acknowledge_received_data(len(data), stream_id)  # never delivered
                happened.append(self._malformed(stream_id, "body longer than its content-length"))
                return
            self._remote_open[stream_id] = left
        if data:
            happened.append(BodyReceived(stream_id, data))

    def _trailers(self, event: TrailersReceived, happened: list[Happening]) -> None:
        stream_id = event.stream_id
        if stream_id not in self._remote_open:
            return  # nobody reads this body any more
        try:
            check_trailers(list(event.headers or []), self._fields)
        except HTTPError as exc:
            happened.append(self._malformed(stream_id, exc))

    def _malformed(self, stream_id: int, error: HTTPError | str) -> BodyMalformed:
        """RFC 9113 section 8.1.1: a malformed request is a stream error. No more of its
        body is delivered (what still comes is given back to the windows); the caller
        answers and resets (`reset`), for the app may be reading a body now incomplete."""
        del self._remote_open[stream_id]
        return BodyMalformed(stream_id, BadRequest(error) if isinstance(error, str) else error)

    def _reset_by_client(self, event: StreamReset, now: float, happened: list[Happening]) -> None:
        stream_id = event.stream_id
        self._remote_open.pop(stream_id, None)
        if event.remote_reset:
            if not self._resets.spend(now):
                self._fail(ENHANCE_YOUR_CALM, "too many streams reset")
            if stream_id in self._busy:
                happened.append(StreamCancelled(stream_id, int(event.error_code or 0)))

    def _fail(self, error_code: int, detail: str) -> None:
        self.go_away(error_code, detail)
        raise ConnectionFailed(error_code, detail)

    # -- sending --------------------------------------------------------------------------

    def send_headers(
        self, stream_id: int, headers: list[Header], *, end_stream: bool = False
    ) -> None:
        self._dirty = True
        self._h2.send_headers(stream_id, headers, end_stream=end_stream)

    def sendable(self, stream_id: int) -> int:
        """How many body bytes may go out now in one frame (0: wait for a window)."""
        h2 = self._h2
        try:
            window = h2.local_flow_control_window(stream_id)
        except StreamClosedError:
            return 0
        return max(min(window, h2.max_outbound_frame_size), 0)

    def send_data(
        self, stream_id: int, data: bytes | memoryview, *, end_stream: bool = False
    ) -> None:
        """Queue one DATA frame: `data` must fit `sendable()`."""
        self._dirty = True
        self._h2.send_data(stream_id, data, end_stream=end_stream)

    def end_stream(self, stream_id: int) -> None:
        self._dirty = True
        self._h2.end_stream(stream_id)

    def acknowledge(self, stream_id: int, length: int) -> None:
        """The app read `length` bytes of the stream's body: give them back to the client's
        windows (h2 sends WINDOW_UPDATE once enough has been read)."""
        if length:
            self._dirty = True
            self._h2.acknowledge_received_data(length, stream_id)

    def reset(self, stream_id: int, error_code: int) -> None:
        """RST_STREAM, unless the stream is closed already."""
        self._remote_open.pop(stream_id, None)
        try:
            self._h2.reset_stream(stream_id, error_code)
        except (StreamClosedError, ProtocolError):
            return  # closed already (or the connection is going away): nothing to reset
        self._dirty = True

    def release(self, stream_id: int) -> None:
        """The server is done with the stream. A client still sending a body nobody will
        read is asked to stop (RST_STREAM NO_ERROR after a complete response, section 8.1).

        Not one whose body has all arrived but for the END_STREAM: it has nothing left to
        send, and clients that send the flag in a frame of its own (httpx, over a busy
        connection) took that reset as an error and dropped the response, though the app
        had handled the request. Its END_STREAM is awaited as for a stream in the app (what
        comes then is ignored, more body is a malformed request, section 8.1.1); meanwhile
        it counts toward the client's concurrent streams, half-closed (section 5.1.2)."""
        self._busy.discard(stream_id)
        if self._remote_open.get(stream_id, 0) != 0:  # None: a length never announced
            self.reset(stream_id, NO_ERROR)

    def remote_open(self, stream_id: int) -> bool:
        """The client may still send this stream's body."""
        return stream_id in self._remote_open

    @property
    def busy(self) -> int:
        """Streams given to the caller and not yet released."""
        return len(self._busy)

    def announce_shutdown(self) -> None:
        """A graceful GOAWAY (NO_ERROR): streams up to the last accepted one are answered,
        later ones are refused (the client retries them elsewhere). Once."""
        if self.goaway_sent:
            return
        self.goaway_sent = True
        frame = GoAwayFrame(stream_id=0, last_stream_id=self.last_stream_id, error_code=NO_ERROR)
        self._prefix += self._h2.data_to_send() + frame.serialize()
        self._dirty = True

    def go_away(self, error_code: int, detail: str = "") -> None:
        """The last GOAWAY (h2's own): nothing more is sent after what is queued now."""
        self.goaway_sent = True
        try:
            self._h2.close_connection(
                error_code,
                additional_data=detail.encode("ascii", "replace")[:256],
                last_stream_id=self.last_stream_id,
            )
        except ProtocolError:
            return  # h2 already closed the connection (its own GOAWAY is queued)
        self._dirty = True

    @property
    def output_pending(self) -> bool:
        """Something may be queued for sending (a conservative answer)."""
        return self._dirty

    def take_output(self) -> bytes:
        """Everything queued for sending, in order; the caller sends it."""
        self._dirty = False
        data = self._h2.data_to_send()
        if self._prefix:
            data, self._prefix = self._prefix + data, b""
        return data
