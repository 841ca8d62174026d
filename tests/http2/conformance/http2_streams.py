"""The `http2` group, sections 3 to 5 of RFC 9113: the preface, frame layout and size, field
blocks, stream states and identifiers, priority, error handling and extensions.

Most cases break one rule and wait for the error the section names; the rest check that
what the section lets a client do (unknown frames, flags and bits) is ignored.
"""

from __future__ import annotations

from tests.http2.conformance import generic, rules
from tests.http2.conformance.case import Group, Target
from tests.http2.conformance.rules import Skipped, Verdict
from tests.http2.conformance.wire import ErrorCode, FrameType, RawConnection, Setting

GROUP = Group()
ZEROS = generic.ZEROS
UNKNOWN_TYPE = 0x16  # no frame type of RFC 9113 (section 5.5: ignore it)
UNDEFINED_FLAGS = 0x16  # none of them defined for PING
PROTOCOL_ERROR = ErrorCode.PROTOCOL_ERROR
STREAM_CLOSED = ErrorCode.STREAM_CLOSED


@GROUP.case("http2/3.5/1", "the client preface is answered with the server's SETTINGS")
def preface(target: Target, conn: RawConnection) -> Verdict:
    return generic.preface(target, conn)


@GROUP.case("http2/3.5/2", "a preface that is not HTTP/2's ends the connection")
def bad_preface(target: Target, conn: RawConnection) -> Verdict:
    conn.send(b"NOT THE HTTP/2 PREFACE\r\n\r\n")
    return rules.connection_error(conn, PROTOCOL_ERROR)


@GROUP.case("http2/4.1/1", "a frame of an unknown type is ignored")
def unknown_type(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_frame(UNKNOWN_TYPE, 0, 0, ZEROS)
    conn.write_ping(ZEROS)
    return rules.ping_acked(conn, ZEROS)


@GROUP.case("http2/4.1/2", "PING with flags that mean nothing for it is still answered")
def undefined_flags(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_frame(FrameType.PING, UNDEFINED_FLAGS, 0, ZEROS)
    return rules.frame_type(conn, FrameType.PING)


@GROUP.case("http2/4.1/3", "PING with the reserved bit of its stream id set is still answered")
def reserved_bit(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_frame(FrameType.PING, UNDEFINED_FLAGS, 0x8000_0000, ZEROS)
    return rules.frame_type(conn, FrameType.PING)


def _post_headers(target: Target, conn: RawConnection) -> None:
    conn.handshake()
    conn.write_headers(1, conn.encode(target.request("POST")), end_stream=False)


@GROUP.case("http2/4.2/1", "DATA exactly as large as the server's frame size limit is accepted")
def data_at_limit(target: Target, conn: RawConnection) -> Verdict:
    _post_headers(target, conn)
    conn.write_data(1, b"x" * conn.max_frame_size, end_stream=True)
    return rules.headers_on(conn, 1)


@GROUP.case("http2/4.2/2", "DATA one byte over the server's frame size limit is an error")
def data_over_limit(target: Target, conn: RawConnection) -> Verdict:
    _post_headers(target, conn)
    conn.write_data(1, b"x" * (conn.max_frame_size + 1), end_stream=True)
    return rules.stream_error(conn, ErrorCode.FRAME_SIZE_ERROR)


@GROUP.case("http2/4.2/3", "HEADERS over the server's frame size limit ends the connection")
def headers_over_limit(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_headers(1, conn.encode(target.request() + target.filler(5)))
    return rules.connection_error(conn, ErrorCode.FRAME_SIZE_ERROR)


@GROUP.case("http2/4.3/1", "a field block that cannot be decoded ends the connection")
def undecodable_block(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    # 0x40 alone: a literal with indexing whose name never comes
    conn.write_headers(1, b"\x40")
    return rules.connection_error(conn, ErrorCode.COMPRESSION_ERROR)


def priority_inside_block(target: Target, conn: RawConnection) -> Verdict:
    """A PRIORITY between a HEADERS frame and the CONTINUATION it still needs."""
    conn.handshake()
    conn.write_headers(1, conn.encode(target.request()), end_stream=False, end_headers=False)
    conn.write_priority(1, 0, False, 255)
    conn.write_continuation(1, conn.encode(target.filler(1)), end_headers=True)
    return rules.connection_error(conn, PROTOCOL_ERROR)


def other_stream_inside_block(target: Target, conn: RawConnection) -> Verdict:
    """A HEADERS frame on stream 3 while stream 1's field block still needs a CONTINUATION."""
    conn.handshake()
    request = target.request()
    conn.write_headers(1, conn.encode(request), end_stream=False, end_headers=False)
    conn.write_headers(3, conn.encode(request))
    conn.write_continuation(1, conn.encode(target.filler(1)), end_headers=True)
    return rules.connection_error(conn, PROTOCOL_ERROR)


GROUP.case("http2/4.3/2", "PRIORITY in the middle of a field block ends the connection")(
    priority_inside_block
)
GROUP.case("http2/4.3/3", "another stream's HEADERS in the middle of a field block is an error")(
    other_stream_inside_block
)


@GROUP.case("http2/5.1/1", "DATA on a stream never opened is an error")
def idle_data(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_data(1, b"body", end_stream=True)
    return rules.stream_error(conn, PROTOCOL_ERROR, STREAM_CLOSED)


@GROUP.case("http2/5.1/2", "RST_STREAM on a stream never opened ends the connection")
def idle_rst_stream(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_rst_stream(1, ErrorCode.CANCEL)
    return rules.connection_error(conn, PROTOCOL_ERROR)


@GROUP.case("http2/5.1/3", "WINDOW_UPDATE on a stream never opened ends the connection")
def idle_window_update(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_window_update(1, 100)
    return rules.connection_error(conn, PROTOCOL_ERROR)


@GROUP.case("http2/5.1/4", "CONTINUATION on a stream never opened ends the connection")
def idle_continuation(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_continuation(1, conn.encode(target.request()), end_headers=True)
    return rules.connection_error(conn, PROTOCOL_ERROR)


def _get(target: Target, conn: RawConnection, *, end_stream: bool = True) -> bytes:
    conn.handshake()
    block = conn.encode(target.request())
    conn.write_headers(1, block, end_stream=end_stream)
    return block


@GROUP.case("http2/5.1/5", "DATA after the client ended the stream is an error")
def half_closed_data(target: Target, conn: RawConnection) -> Verdict:
    _get(target, conn)
    conn.write_data(1, b"body", end_stream=True)
    return rules.stream_error(conn, STREAM_CLOSED)


@GROUP.case("http2/5.1/6", "HEADERS after the client ended the stream is an error")
def half_closed_headers(target: Target, conn: RawConnection) -> Verdict:
    _get(target, conn)
    conn.write_headers(1, conn.encode(target.request()))
    return rules.stream_error(conn, STREAM_CLOSED)


@GROUP.case("http2/5.1/7", "CONTINUATION after the client ended the stream is an error")
def half_closed_continuation(target: Target, conn: RawConnection) -> Verdict:
    block = _get(target, conn)
    conn.write_continuation(1, block, end_headers=True)
    return rules.stream_error(conn, STREAM_CLOSED, PROTOCOL_ERROR)


def _get_then_cancel(target: Target, conn: RawConnection) -> None:
    _get(target, conn, end_stream=False)
    conn.write_rst_stream(1, ErrorCode.CANCEL)


@GROUP.case("http2/5.1/8", "DATA on a stream the client reset is an error")
def reset_data(target: Target, conn: RawConnection) -> Verdict:
    _get_then_cancel(target, conn)
    conn.write_data(1, b"body", end_stream=True)
    return rules.stream_error(conn, STREAM_CLOSED)


@GROUP.case("http2/5.1/9", "HEADERS on a stream the client reset is an error")
def reset_headers(target: Target, conn: RawConnection) -> Verdict:
    _get_then_cancel(target, conn)
    conn.write_headers(1, conn.encode(target.request()))
    return rules.stream_error(conn, STREAM_CLOSED)


@GROUP.case("http2/5.1/10", "CONTINUATION on a stream the client reset is an error")
def reset_continuation(target: Target, conn: RawConnection) -> Verdict:
    _get_then_cancel(target, conn)
    conn.write_continuation(1, conn.encode(target.filler(1)), end_headers=True)
    return rules.stream_error(conn, STREAM_CLOSED, PROTOCOL_ERROR)


@GROUP.case("http2/5.1/11", "DATA on a stream whose response has ended is an error")
def closed_data(target: Target, conn: RawConnection) -> Verdict:
    _get(target, conn)
    rules.stream_closed(conn)
    conn.write_data(1, b"body", end_stream=True)
    return rules.stream_error(conn, STREAM_CLOSED)


@GROUP.case("http2/5.1/12", "HEADERS on a stream whose response has ended ends the connection")
def closed_headers(target: Target, conn: RawConnection) -> Verdict:
    block = _get(target, conn)
    rules.stream_closed(conn)
    conn.write_headers(1, block)  # the same bytes again: no new entry in the dynamic table
    return rules.connection_error(conn, STREAM_CLOSED)


@GROUP.case("http2/5.1/13", "CONTINUATION on a stream whose response has ended is an error")
def closed_continuation(target: Target, conn: RawConnection) -> Verdict:
    _get(target, conn)
    rules.stream_closed(conn)
    conn.write_continuation(1, conn.encode(target.filler(1)), end_headers=True)
    return rules.connection_error(conn, STREAM_CLOSED, PROTOCOL_ERROR)


@GROUP.case("http2/5.1.1/1", "a client stream with an even number ends the connection")
def even_stream_id(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_headers(2, conn.encode(target.request()))
    return rules.connection_error(conn, PROTOCOL_ERROR)


@GROUP.case("http2/5.1.1/2", "a stream numbered below one already used ends the connection")
def decreasing_stream_id(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    request = target.request()
    conn.write_headers(5, conn.encode(request))
    conn.write_headers(3, conn.encode(request))
    return rules.connection_error(conn, PROTOCOL_ERROR)


@GROUP.case("http2/5.1.2/1", "one stream more than SETTINGS_MAX_CONCURRENT_STREAMS is refused")
def too_many_streams(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    if Setting.MAX_CONCURRENT_STREAMS not in conn.settings:
        raise Skipped("the server sets no SETTINGS_MAX_CONCURRENT_STREAMS")
    # With empty windows no response can finish, so every stream stays open.
    conn.write_settings((Setting.INITIAL_WINDOW_SIZE, 0))
    block = conn.encode(target.request())
    for index in range(conn.settings[Setting.MAX_CONCURRENT_STREAMS] + 1):
        conn.write_headers(1 + 2 * index, block)
    return rules.stream_error(conn, PROTOCOL_ERROR, ErrorCode.REFUSED_STREAM)


@GROUP.case("http2/5.3.1/1", "HEADERS whose priority makes the stream depend on itself")
def headers_self_dependency(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_headers(1, conn.encode(target.request()), priority=(1, False, 255))
    return rules.stream_error(conn, PROTOCOL_ERROR)


@GROUP.case("http2/5.3.1/2", "PRIORITY making a stream depend on itself")
def priority_self_dependency(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_priority(1, 1, False, 255)
    return rules.stream_error(conn, PROTOCOL_ERROR)


@GROUP.case("http2/5.4.1/1", "a connection error (PING on a stream) closes the connection")
def connection_error_closes(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_frame(FrameType.PING, 0, 3, ZEROS)
    return rules.connection_closed(conn)


@GROUP.case(
    "http2/5.4.1/2",
    "a connection error (PING on a stream) is announced by GOAWAY (h2spec's strict mode only)",
)
def connection_error_goaway(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_frame(FrameType.PING, 0, 3, ZEROS)
    return rules.goaway(conn)


@GROUP.case("http2/5.5/1", "an extension frame the server does not know is ignored")
def unknown_extension(target: Target, conn: RawConnection) -> Verdict:
    return unknown_type(target, conn)


@GROUP.case("http2/5.5/2", "an unknown frame inside a field block ends the connection")
def unknown_inside_block(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_headers(1, conn.encode(target.request()), end_headers=False)
    conn.write_frame(UNKNOWN_TYPE, 0, 0, ZEROS)
    return rules.connection_error(conn, PROTOCOL_ERROR)
