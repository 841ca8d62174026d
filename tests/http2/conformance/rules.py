"""The pass rules of the conformance cases, and the verdict each leaves behind.

A rule reads events from a `RawConnection` until it can decide. It raises `Failed` (with
what it wanted and the last thing it got) or returns a `Verdict`: which rule passed, with
which codes, and the event that made it pass. The rules are h2spec's, so a case passes here
exactly when it passes there. h2spec accepts a closed connection wherever it asks for an
error; the tests hold cases to the RFC's stricter reading by looking at the verdict (see
`tests/http2/test_conformance.py`). A rule never sleeps: it waits on the socket, each wait
bounded by the connection's timeout.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from tests.http2.conformance.wire import (
    Closed,
    ErrorCode,
    Event,
    Frame,
    FrameType,
    RawConnection,
    TimedOut,
    code_name,
)


class Rule(Enum):
    CONNECTION_ERROR = "a connection error, or a close"
    STREAM_ERROR = "a stream error (or a connection error), or a close"
    GOAWAY = "a GOAWAY"
    CLOSE = "a close"
    PING_OR_CLOSE = "the PING acknowledged, or a close"
    FRAME = "a given frame"


# The frames that carry the error of each rule that waits for one.
CARRIERS: dict[Rule, frozenset[FrameType]] = {
    Rule.CONNECTION_ERROR: frozenset({FrameType.GOAWAY}),
    Rule.STREAM_ERROR: frozenset({FrameType.RST_STREAM, FrameType.GOAWAY}),
    Rule.GOAWAY: frozenset({FrameType.GOAWAY}),
}


def describe(rule: Rule, codes: tuple[ErrorCode, ...]) -> str:
    """What `rule` waits for, in words: "RST_STREAM or GOAWAY with PROTOCOL_ERROR"."""
    frames = " or ".join(sorted((carrier.name for carrier in CARRIERS[rule]), reverse=True))
    if not codes:
        return frames
    return f"{frames} with {' or '.join(code_name(code) for code in codes)}"


@dataclass(frozen=True)
class Verdict:
    rule: Rule
    by: Event  # the event the rule accepted
    codes: tuple[ErrorCode, ...] = ()


class Failed(Exception):
    """The case's pass rule rejected what the server did."""

    def __init__(self, expected: str, actual: Event | None) -> None:
        super().__init__(f"expected {expected}; got {actual or 'nothing'}")


class Skipped(Exception):
    """The server lacks what the case needs (a setting, a body long enough)."""


def _wait_for_error(conn: RawConnection, rule: Rule, codes: tuple[ErrorCode, ...]) -> Verdict:
    """h2spec's rule for an error: a frame that carries it with one of `codes`, or a close.
    A carrier with another code is passed over (a close after it still passes); a timeout
    fails, reported as the last thing that did come."""
    last: Event | None = None
    while not conn.ended:
        event = conn.next_event()
        if isinstance(event, Closed):
            return Verdict(rule, event, codes)
        if isinstance(event, Frame) and event.type in CARRIERS[rule]:
            if event.error_code in codes:
                return Verdict(rule, event, codes)
            continue
        if not (isinstance(event, TimedOut) and last is not None):
            last = event
    raise Failed(f"{describe(rule, codes)}, or a close", last)


def connection_error(conn: RawConnection, *codes: ErrorCode) -> Verdict:
    """A connection error (RFC 9113 section 5.4.1) with one of `codes`, or a close."""
    return _wait_for_error(conn, Rule.CONNECTION_ERROR, codes)


def stream_error(conn: RawConnection, *codes: ErrorCode) -> Verdict:
    """A stream error (section 5.4.2) with one of `codes`, as a connection error, or a close."""
    return _wait_for_error(conn, Rule.STREAM_ERROR, codes)


def connection_closed(conn: RawConnection) -> Verdict:
    last: Event | None = None
    while not conn.ended:
        event = conn.next_event()
        if isinstance(event, Closed):
            return Verdict(Rule.CLOSE, event, ())
        if not (isinstance(event, TimedOut) and last is not None):
            last = event
    raise Failed(Rule.CLOSE.value, last)


def stream_closed(conn: RawConnection) -> Verdict:
    """The server ended the stream: END_STREAM on DATA or HEADERS, or RST_STREAM NO_ERROR."""
    last: Event | None = None
    while not conn.ended:
        event = conn.next_event()
        if isinstance(event, Frame) and (
            (event.type in (FrameType.DATA, FrameType.HEADERS) and event.ends_stream)
            or (event.type == FrameType.RST_STREAM and event.error_code == ErrorCode.NO_ERROR)
        ):
            return Verdict(Rule.FRAME, event, ())
        if not (isinstance(event, TimedOut) and last is not None):
            last = event
    raise Failed("the stream ended", last)


def ping_acked_or_closed(conn: RawConnection, data: bytes) -> Verdict:
    last: Event | None = None
    while not conn.ended:
        event = conn.next_event()
        if isinstance(event, Closed):
            return Verdict(Rule.PING_OR_CLOSE, event, ())
        if isinstance(event, Frame) and event.type == FrameType.PING:
            if event.acks and event.payload == data:
                return Verdict(Rule.PING_OR_CLOSE, event, ())
            last = event
            continue
        if not (isinstance(event, TimedOut) and last is not None):
            last = event
    raise Failed(f"{Rule.PING_OR_CLOSE.value} ({data!r})", last)


def frame_of(conn: RawConnection, type_: FrameType, what: str) -> Frame:
    """The next frame of `type_`; `what` names it if none comes."""
    frame, last = conn.wait_for(type_)
    if frame is None:
        raise Failed(what, last)
    return frame


def headers_on(conn: RawConnection, stream_id: int) -> Verdict:
    """A response to the request: the next HEADERS frame is on `stream_id`."""
    frame = frame_of(conn, FrameType.HEADERS, f"HEADERS on stream {stream_id}")
    if frame.stream_id != stream_id:
        raise Failed(f"HEADERS on stream {stream_id}", frame)
    return Verdict(Rule.FRAME, frame)


def settings_acked(conn: RawConnection) -> Verdict:
    frame = frame_of(conn, FrameType.SETTINGS, "SETTINGS with ACK")
    if not frame.acks:
        raise Failed("SETTINGS with ACK", frame)
    return Verdict(Rule.FRAME, frame)


def ping_acked(conn: RawConnection, data: bytes) -> Verdict:
    frame = frame_of(conn, FrameType.PING, f"PING with ACK ({data!r})")
    if not (frame.acks and frame.payload == data):
        raise Failed(f"PING with ACK ({data!r})", frame)
    return Verdict(Rule.FRAME, frame)


def frame_type(conn: RawConnection, type_: FrameType) -> Verdict:
    return Verdict(Rule.FRAME, frame_of(conn, type_, f"a {type_.name} frame"))


def data_of_length(conn: RawConnection, length: int) -> Verdict:
    frame = frame_of(conn, FrameType.DATA, f"DATA of {length} bytes")
    if len(frame.payload) != length:
        raise Failed(f"DATA of {length} bytes", frame)
    return Verdict(Rule.FRAME, frame)


def goaway(conn: RawConnection) -> Verdict:
    """A GOAWAY of any code (the verdict keeps it, for a stricter check of its code)."""
    return Verdict(Rule.GOAWAY, frame_of(conn, FrameType.GOAWAY, "a GOAWAY"))


def goaway_with(conn: RawConnection, code: ErrorCode) -> Verdict:
    frame = frame_of(conn, FrameType.GOAWAY, f"GOAWAY {code.name}")
    if frame.error_code != code:
        raise Failed(f"GOAWAY {code.name}", frame)
    return Verdict(Rule.FRAME, frame, (code,))


def rst_stream_with(conn: RawConnection, stream_id: int, code: ErrorCode) -> Verdict:
    frame = frame_of(conn, FrameType.RST_STREAM, f"RST_STREAM {code.name} on stream {stream_id}")
    if not (frame.stream_id == stream_id and frame.error_code == code):
        raise Failed(f"RST_STREAM {code.name} on stream {stream_id}", frame)
    return Verdict(Rule.FRAME, frame, (code,))
