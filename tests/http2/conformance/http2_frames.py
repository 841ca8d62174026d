"""The `http2` group, section 6 of RFC 9113: the rules of each frame type, and flow control.

Each frame type gets a wrong stream id, a wrong length or a wrong value and must bring the
error its section names; the settings and window cases check what the server then sends.
"""

from __future__ import annotations

from tests.http2.conformance import generic, http2_streams, rules
from tests.http2.conformance.case import Group, Target
from tests.http2.conformance.rules import Skipped, Verdict
from tests.http2.conformance.wire import (
    ACK,
    END_HEADERS,
    END_STREAM,
    PADDED,
    ErrorCode,
    FrameType,
    RawConnection,
    Setting,
)

GROUP = Group()
ZEROS = generic.ZEROS
OPAQUE = generic.OPAQUE
PROTOCOL_ERROR = ErrorCode.PROTOCOL_ERROR
FRAME_SIZE_ERROR = ErrorCode.FRAME_SIZE_ERROR
FLOW_CONTROL_ERROR = ErrorCode.FLOW_CONTROL_ERROR
LARGEST_WINDOW = 2**31 - 1  # section 6.9.1


@GROUP.case("http2/6.1/1", "DATA on stream 0 ends the connection")
def data_stream_zero(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_data(0, b"body", end_stream=True)
    return rules.connection_error(conn, PROTOCOL_ERROR)


@GROUP.case("http2/6.1/2", "DATA after a POST's HEADERS ended the stream is an error")
def data_after_end(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_headers(1, conn.encode(target.request("POST")))
    conn.write_data(1, b"body", end_stream=True)
    return rules.stream_error(conn, ErrorCode.STREAM_CLOSED)


@GROUP.case("http2/6.1/3", "DATA whose padding is longer than its payload ends the connection")
def data_bad_padding(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    request = [*target.request("POST"), ("content-length", "4")]
    conn.write_headers(1, conn.encode(request), end_stream=False)
    # five bytes of payload: a pad length of 6, then "Test"
    conn.write_frame(FrameType.DATA, END_STREAM | PADDED, 1, b"\x06Test")
    return rules.connection_error(conn, PROTOCOL_ERROR)


GROUP.case("http2/6.2/1", "PRIORITY between HEADERS and its CONTINUATION ends the connection")(
    http2_streams.priority_inside_block
)
GROUP.case("http2/6.2/2", "HEADERS on stream 3 before stream 1's block is complete")(
    http2_streams.other_stream_inside_block
)


@GROUP.case("http2/6.2/3", "HEADERS on stream 0 ends the connection")
def headers_stream_zero(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_headers(0, conn.encode(target.request()))
    return rules.connection_error(conn, PROTOCOL_ERROR)


@GROUP.case("http2/6.2/4", "HEADERS whose padding is longer than its payload is an error")
def headers_bad_padding(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    block = conn.encode(target.request())
    pad_length = len(block) + 2  # the payload is the pad length byte and the block
    flags = END_STREAM | END_HEADERS | PADDED
    conn.write_frame(FrameType.HEADERS, flags, 1, bytes([pad_length]) + block)
    return rules.stream_error(conn, PROTOCOL_ERROR)


@GROUP.case("http2/6.3/1", "PRIORITY on stream 0 ends the connection")
def priority_stream_zero(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_priority(0, 0, False, 255)
    return rules.connection_error(conn, PROTOCOL_ERROR)


@GROUP.case("http2/6.3/2", "PRIORITY four bytes long is an error")
def priority_short(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_headers(1, conn.encode(target.request()))
    conn.write_frame(FrameType.PRIORITY, 0, 1, b"\x80\x00\x00\x01")
    return rules.stream_error(conn, FRAME_SIZE_ERROR)


@GROUP.case("http2/6.4/1", "RST_STREAM on stream 0 ends the connection")
def rst_stream_zero(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_rst_stream(0, ErrorCode.CANCEL)
    return rules.connection_error(conn, PROTOCOL_ERROR)


GROUP.case("http2/6.4/2", "RST_STREAM on a stream never opened ends the connection")(
    http2_streams.idle_rst_stream
)


@GROUP.case("http2/6.4/3", "RST_STREAM three bytes long ends the connection")
def rst_short(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_headers(1, conn.encode(target.request()))
    conn.write_frame(FrameType.RST_STREAM, 0, 1, b"\x00\x00\x00")
    return rules.stream_error(conn, FRAME_SIZE_ERROR)


@GROUP.case("http2/6.5/1", "a SETTINGS acknowledgement with a payload ends the connection")
def settings_ack_payload(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_frame(FrameType.SETTINGS, ACK, 0, b"\x00")
    return rules.connection_error(conn, FRAME_SIZE_ERROR)


@GROUP.case("http2/6.5/2", "SETTINGS on stream 1 ends the connection")
def settings_on_stream(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    # one setting: SETTINGS_MAX_CONCURRENT_STREAMS = 100
    conn.write_frame(FrameType.SETTINGS, 0, 1, b"\x00\x03\x00\x00\x00\x64")
    return rules.connection_error(conn, PROTOCOL_ERROR)


@GROUP.case("http2/6.5/3", "SETTINGS three bytes long ends the connection")
def settings_short(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_frame(FrameType.SETTINGS, 0, 0, b"\x00\x03\x00")
    return rules.stream_error(conn, PROTOCOL_ERROR, FRAME_SIZE_ERROR)


def _one_setting(conn: RawConnection, key: int, value: int) -> None:
    conn.handshake()
    conn.write_settings((key, value))


@GROUP.case("http2/6.5.2/1", "SETTINGS_ENABLE_PUSH of 2 ends the connection")
def enable_push_two(target: Target, conn: RawConnection) -> Verdict:
    _one_setting(conn, Setting.ENABLE_PUSH, 2)
    return rules.connection_error(conn, PROTOCOL_ERROR)


@GROUP.case("http2/6.5.2/2", "SETTINGS_INITIAL_WINDOW_SIZE of 2^31 ends the connection")
def initial_window_too_large(target: Target, conn: RawConnection) -> Verdict:
    _one_setting(conn, Setting.INITIAL_WINDOW_SIZE, 2**31)
    return rules.connection_error(conn, FLOW_CONTROL_ERROR)


@GROUP.case("http2/6.5.2/3", "SETTINGS_MAX_FRAME_SIZE below 2^14 ends the connection")
def max_frame_size_too_small(target: Target, conn: RawConnection) -> Verdict:
    _one_setting(conn, Setting.MAX_FRAME_SIZE, 2**14 - 1)
    return rules.connection_error(conn, PROTOCOL_ERROR)


@GROUP.case("http2/6.5.2/4", "SETTINGS_MAX_FRAME_SIZE of 2^24 ends the connection")
def max_frame_size_too_large(target: Target, conn: RawConnection) -> Verdict:
    _one_setting(conn, Setting.MAX_FRAME_SIZE, 2**24)
    return rules.connection_error(conn, PROTOCOL_ERROR)


@GROUP.case("http2/6.5.2/5", "a setting the server does not know is ignored")
def unknown_setting(target: Target, conn: RawConnection) -> Verdict:
    _one_setting(conn, 0xFF, 1)
    conn.write_ping(ZEROS)
    return rules.ping_acked(conn, ZEROS)


def _needs_body(target: Target, length: int) -> None:
    if target.response_length() < length:
        raise Skipped(f"the response has fewer than {length} body bytes")


@GROUP.case("http2/6.5.3/1", "of two values for one setting in a frame, the second counts")
def setting_twice(target: Target, conn: RawConnection) -> Verdict:
    _needs_body(target, 1)
    conn.handshake()
    conn.write_settings((Setting.INITIAL_WINDOW_SIZE, 100), (Setting.INITIAL_WINDOW_SIZE, 1))
    rules.settings_acked(conn)
    conn.write_headers(1, conn.encode(target.request()))
    return rules.data_of_length(conn, 1)


@GROUP.case("http2/6.5.3/2", "SETTINGS is acknowledged")
def settings_acknowledged(target: Target, conn: RawConnection) -> Verdict:
    _one_setting(conn, Setting.ENABLE_PUSH, 0)
    return rules.settings_acked(conn)


GROUP.case("http2/6.7/1", "PING is answered with its payload")(generic.ping)


@GROUP.case("http2/6.7/2", "a PING acknowledgement from the client is not answered")
def ping_ack_unanswered(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_ping(b"unasked!", ack=True)
    conn.write_ping(OPAQUE)
    return rules.ping_acked(conn, OPAQUE)  # the first PING that comes is this one's


@GROUP.case("http2/6.7/3", "PING on stream 1 ends the connection")
def ping_on_stream(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_frame(FrameType.PING, 0, 1, ZEROS)
    return rules.connection_error(conn, PROTOCOL_ERROR)


@GROUP.case("http2/6.7/4", "PING six bytes long ends the connection")
def ping_short(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_frame(FrameType.PING, 0, 0, bytes(6))
    return rules.connection_error(conn, FRAME_SIZE_ERROR)


@GROUP.case("http2/6.8/1", "GOAWAY on stream 1 ends the connection")
def goaway_on_stream(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_frame(FrameType.GOAWAY, 0, 1, bytes(8))
    return rules.connection_error(conn, PROTOCOL_ERROR)


@GROUP.case("http2/6.9/1", "WINDOW_UPDATE of 0 for the connection ends it")
def window_update_zero_connection(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_window_update(0, 0)
    return rules.connection_error(conn, PROTOCOL_ERROR)


@GROUP.case("http2/6.9/2", "WINDOW_UPDATE of 0 for a stream is an error")
def window_update_zero_stream(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_headers(1, conn.encode(target.request()), end_stream=False)
    conn.write_window_update(1, 0)
    return rules.stream_error(conn, PROTOCOL_ERROR)


@GROUP.case("http2/6.9/3", "WINDOW_UPDATE three bytes long ends the connection")
def window_update_short(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_frame(FrameType.WINDOW_UPDATE, 0, 0, b"\x00\x00\x01")
    return rules.connection_error(conn, FRAME_SIZE_ERROR)


@GROUP.case("http2/6.9.1/1", "with SETTINGS_INITIAL_WINDOW_SIZE of 1, DATA comes a byte at a time")
def window_of_one(target: Target, conn: RawConnection) -> Verdict:
    _needs_body(target, 1)
    conn.handshake()
    conn.write_settings((Setting.INITIAL_WINDOW_SIZE, 1))
    rules.settings_acked(conn)
    conn.write_headers(1, conn.encode(target.request()))
    return rules.data_of_length(conn, 1)


@GROUP.case("http2/6.9.1/2", "WINDOW_UPDATEs taking the connection's window over 2^31-1")
def connection_window_overflow(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_window_update(0, LARGEST_WINDOW)
    conn.write_window_update(0, LARGEST_WINDOW)
    return rules.goaway_with(conn, FLOW_CONTROL_ERROR)


@GROUP.case("http2/6.9.1/3", "WINDOW_UPDATEs taking a stream's window over 2^31-1")
def stream_window_overflow(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_headers(1, conn.encode(target.request()), end_stream=False)
    conn.write_window_update(1, LARGEST_WINDOW)
    conn.write_window_update(1, LARGEST_WINDOW)
    return rules.rst_stream_with(conn, 1, FLOW_CONTROL_ERROR)


@GROUP.case("http2/6.9.2/1", "a larger SETTINGS_INITIAL_WINDOW_SIZE lets a waiting response go")
def window_opened_by_settings(target: Target, conn: RawConnection) -> Verdict:
    _needs_body(target, 1)
    conn.handshake()
    conn.write_settings((Setting.INITIAL_WINDOW_SIZE, 0))
    rules.settings_acked(conn)
    conn.write_headers(1, conn.encode(target.request()))
    conn.write_settings((Setting.INITIAL_WINDOW_SIZE, 1))
    return rules.data_of_length(conn, 1)


@GROUP.case("http2/6.9.2/2", "a smaller SETTINGS_INITIAL_WINDOW_SIZE can make a window negative")
def window_made_negative(target: Target, conn: RawConnection) -> Verdict:
    _needs_body(target, 5)
    conn.handshake()
    conn.write_settings((Setting.INITIAL_WINDOW_SIZE, 3))
    rules.settings_acked(conn)
    conn.write_headers(1, conn.encode(target.request()))
    rules.frame_type(conn, FrameType.DATA)  # 3 bytes: the window is now 0
    conn.write_settings((Setting.INITIAL_WINDOW_SIZE, 2))
    rules.settings_acked(conn)  # the window is now -1
    conn.write_window_update(1, 2)  # and now 1
    return rules.data_of_length(conn, 1)


GROUP.case("http2/6.9.2/3", "SETTINGS_INITIAL_WINDOW_SIZE over 2^31-1 ends the connection")(
    initial_window_too_large
)


def _block_start(target: Target, conn: RawConnection, method: str = "GET") -> None:
    """The start of a field block: HEADERS without END_HEADERS (END_STREAM for a GET)."""
    conn.handshake()
    request = conn.encode(target.request(method))
    conn.write_headers(1, request, end_stream=method == "GET", end_headers=False)


@GROUP.case("http2/6.10/1", "a field block in HEADERS and two CONTINUATIONs")
def continuations(target: Target, conn: RawConnection) -> Verdict:
    _block_start(target, conn)
    filler = target.filler(1)
    conn.write_continuation(1, conn.encode(filler), end_headers=False)
    conn.write_continuation(1, conn.encode(filler), end_headers=True)
    return rules.headers_on(conn, 1)


@GROUP.case("http2/6.10/2", "DATA before the field block's last CONTINUATION ends the connection")
def data_inside_block(target: Target, conn: RawConnection) -> Verdict:
    _block_start(target, conn, "POST")
    conn.write_continuation(1, conn.encode(target.filler(1)), end_headers=False)
    conn.write_data(1, b"body", end_stream=True)
    return rules.connection_error(conn, PROTOCOL_ERROR)


@GROUP.case("http2/6.10/3", "CONTINUATION on stream 0 ends the connection")
def continuation_stream_zero(target: Target, conn: RawConnection) -> Verdict:
    _block_start(target, conn)
    conn.write_continuation(0, conn.encode(target.filler(1)), end_headers=True)
    return rules.connection_error(conn, PROTOCOL_ERROR)


@GROUP.case("http2/6.10/4", "CONTINUATION after a complete HEADERS ends the connection")
def continuation_after_headers(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_headers(1, conn.encode(target.request()))
    conn.write_continuation(1, conn.encode(target.filler(1)), end_headers=True)
    return rules.connection_error(conn, PROTOCOL_ERROR)


@GROUP.case("http2/6.10/5", "CONTINUATION after the block's last CONTINUATION ends the connection")
def continuation_after_last(target: Target, conn: RawConnection) -> Verdict:
    _block_start(target, conn)
    filler = target.filler(1)
    conn.write_continuation(1, conn.encode(filler), end_headers=True)
    conn.write_continuation(1, conn.encode(filler), end_headers=True)
    return rules.connection_error(conn, PROTOCOL_ERROR)


@GROUP.case("http2/6.10/6", "CONTINUATION after DATA in an unfinished block ends the connection")
def continuation_after_data(target: Target, conn: RawConnection) -> Verdict:
    _block_start(target, conn, "POST")
    conn.write_data(1, b"body", end_stream=True)
    filler = target.filler(1)
    conn.write_continuation(1, conn.encode(filler), end_headers=False)
    conn.write_continuation(0, conn.encode(filler), end_headers=True)
    return rules.connection_error(conn, PROTOCOL_ERROR)
