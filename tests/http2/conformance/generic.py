"""The `generic` group: ordinary traffic every HTTP/2 server must handle.

Each case sends something a well-behaved client may send (a frame of each type, requests of
each usual form, each HPACK field representation) and waits for the normal answer: a
response, a PING or SETTINGS acknowledgement.
"""

from __future__ import annotations

from tests.http2.conformance import rules
from tests.http2.conformance.case import Group, Target
from tests.http2.conformance.rules import Failed, Verdict
from tests.http2.conformance.wire import (
    DEFAULT_WINDOW,
    PREFACE,
    ErrorCode,
    Frame,
    FrameType,
    RawConnection,
    Setting,
)

GROUP = Group()
ZEROS = bytes(8)  # a PING payload
OPAQUE = b"\x01\x02\x03\x04\x05\x06\x07\x08"  # another, told apart from the first


@GROUP.case("generic/1/1", "the client preface is answered with the server's SETTINGS")
def preface(target: Target, conn: RawConnection) -> Verdict:
    conn.send(PREFACE)
    conn.write_settings((Setting.INITIAL_WINDOW_SIZE, DEFAULT_WINDOW))
    event = conn.next_event()
    if not (isinstance(event, Frame) and event.type == FrameType.SETTINGS and not event.acks):
        raise Failed("SETTINGS without ACK", event)
    return Verdict(rules.Rule.FRAME, event)


@GROUP.case("generic/2/1", "PRIORITY for a stream not opened yet is harmless")
def priority_idle(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_priority(1, 0, False, 255)
    conn.write_ping(ZEROS)
    return rules.ping_acked(conn, ZEROS)


def _get_with_zero_window(target: Target, conn: RawConnection) -> None:
    """A GET whose response cannot start: our stream windows begin empty."""
    conn.handshake()
    conn.write_settings((Setting.INITIAL_WINDOW_SIZE, 0))
    conn.write_headers(1, conn.encode(target.request()))


@GROUP.case("generic/2/2", "WINDOW_UPDATE on a stream the client has ended lets DATA flow")
def window_update_half_closed(target: Target, conn: RawConnection) -> Verdict:
    _get_with_zero_window(target, conn)
    conn.write_window_update(1, 1)
    return rules.frame_type(conn, FrameType.DATA)


@GROUP.case("generic/2/3", "PRIORITY on a stream the client has ended changes nothing else")
def priority_half_closed(target: Target, conn: RawConnection) -> Verdict:
    _get_with_zero_window(target, conn)
    conn.write_priority(1, 0, False, 255)
    conn.write_window_update(1, 1)
    return rules.frame_type(conn, FrameType.DATA)


@GROUP.case("generic/2/4", "the client cancels a stream it has ended; PING still answered")
def rst_half_closed(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_headers(1, conn.encode(target.request()))
    conn.write_rst_stream(1, ErrorCode.CANCEL)
    conn.write_ping(ZEROS)
    return rules.ping_acked_or_closed(conn, ZEROS)


@GROUP.case("generic/2/5", "PRIORITY for a stream already finished is harmless")
def priority_closed(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_headers(1, conn.encode(target.request()))
    rules.stream_closed(conn)
    conn.write_priority(1, 0, False, 255)
    conn.write_ping(ZEROS)
    return rules.ping_acked(conn, ZEROS)


def post(
    target: Target, conn: RawConnection, *chunks: bytes, padding: bytes | None = None
) -> Verdict:
    """A POST whose body comes in `chunks`, one DATA frame each; then its response."""
    conn.handshake()
    conn.write_headers(1, conn.encode(target.request("POST")), end_stream=False)
    for index, chunk in enumerate(chunks):
        last = index == len(chunks) - 1
        conn.write_data(1, chunk, end_stream=last, padding=padding)
    return rules.headers_on(conn, 1)


@GROUP.case("generic/3.1/1", "a body in one DATA frame")
def data_once(target: Target, conn: RawConnection) -> Verdict:
    return post(target, conn, b"body")


@GROUP.case("generic/3.1/2", "a body in two DATA frames")
def data_twice(target: Target, conn: RawConnection) -> Verdict:
    return post(target, conn, b"body", b"more")


@GROUP.case("generic/3.1/3", "a body in a padded DATA frame")
def data_padded(target: Target, conn: RawConnection) -> Verdict:
    return post(target, conn, b"body", padding=bytes(5))


def get(
    target: Target,
    conn: RawConnection,
    *,
    method: str = "GET",
    pad_length: int = 0,
    priority: tuple[int, bool, int] | None = None,
) -> Verdict:
    """A request without a body, in one HEADERS frame; then its response."""
    conn.handshake()
    block = conn.encode(target.request(method))
    conn.write_headers(1, block, pad_length=pad_length, priority=priority)
    return rules.headers_on(conn, 1)


@GROUP.case("generic/3.2/1", "a request in one HEADERS frame")
def headers_plain(target: Target, conn: RawConnection) -> Verdict:
    return get(target, conn)


@GROUP.case("generic/3.2/2", "a request in a padded HEADERS frame")
def headers_padded(target: Target, conn: RawConnection) -> Verdict:
    return get(target, conn, pad_length=8)


@GROUP.case("generic/3.2/3", "a request whose HEADERS frame carries priority fields")
def headers_with_priority(target: Target, conn: RawConnection) -> Verdict:
    return get(target, conn, priority=(0, False, 255))


def _priority_then_get(
    target: Target,
    conn: RawConnection,
    stream_id: int,
    depends_on: int,
    exclusive: bool,
    weight: int,
) -> Verdict:
    conn.handshake()
    conn.write_priority(stream_id, depends_on, exclusive, weight)
    conn.write_headers(1, conn.encode(target.request()))
    return rules.headers_on(conn, 1)


@GROUP.case("generic/3.3/1", "PRIORITY with the lowest weight, then the request")
def priority_lowest(target: Target, conn: RawConnection) -> Verdict:
    return _priority_then_get(target, conn, 1, 0, False, 0)


@GROUP.case("generic/3.3/2", "PRIORITY with the highest weight, then the request")
def priority_highest(target: Target, conn: RawConnection) -> Verdict:
    return _priority_then_get(target, conn, 1, 0, False, 255)


@GROUP.case("generic/3.3/3", "PRIORITY making another stream depend on the request's")
def priority_dependency(target: Target, conn: RawConnection) -> Verdict:
    return _priority_then_get(target, conn, 3, 1, False, 0)


@GROUP.case("generic/3.3/4", "PRIORITY with the exclusive bit, then the request")
def priority_exclusive(target: Target, conn: RawConnection) -> Verdict:
    return _priority_then_get(target, conn, 1, 0, True, 0)


@GROUP.case("generic/3.3/5", "PRIORITY for stream 3, then a request on the lower stream 1")
def priority_higher_stream(target: Target, conn: RawConnection) -> Verdict:
    return _priority_then_get(target, conn, 3, 0, False, 255)


@GROUP.case("generic/3.4/1", "the client cancels a stream it is still sending on")
def rst_open(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_headers(1, conn.encode(target.request()), end_stream=False)
    conn.write_rst_stream(1, ErrorCode.CANCEL)
    conn.write_ping(ZEROS)
    return rules.ping_acked_or_closed(conn, ZEROS)


@GROUP.case("generic/3.5/1", "SETTINGS with every defined setting is acknowledged")
def settings_all(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_settings(
        (Setting.HEADER_TABLE_SIZE, 4096),
        (Setting.ENABLE_PUSH, 1),
        (Setting.MAX_CONCURRENT_STREAMS, 100),
        (Setting.INITIAL_WINDOW_SIZE, 65535),
        (Setting.MAX_FRAME_SIZE, 16384),
        (Setting.MAX_HEADER_LIST_SIZE, 100),
    )
    return rules.settings_acked(conn)


@GROUP.case("generic/3.7/1", "PING comes back acknowledged with its payload")
def ping(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_ping(OPAQUE)
    return rules.ping_acked(conn, OPAQUE)


@GROUP.case("generic/3.8/1", "after the client's graceful GOAWAY, PING is still answered")
def goaway_graceful(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_goaway(0, ErrorCode.NO_ERROR, b"leaving")
    conn.write_ping(OPAQUE)
    return rules.ping_acked_or_closed(conn, OPAQUE)


@GROUP.case("generic/3.9/1", "WINDOW_UPDATE for the connection is harmless")
def window_update_connection(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_window_update(0, 1)
    conn.write_ping(ZEROS)
    return rules.ping_acked(conn, ZEROS)


@GROUP.case("generic/3.9/2", "WINDOW_UPDATE for the request's stream; the response comes")
def window_update_stream(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_headers(1, conn.encode(target.request()))
    conn.write_window_update(1, 1)
    return rules.headers_on(conn, 1)


@GROUP.case("generic/3.10/1", "a field block split over HEADERS and one CONTINUATION")
def continuation_one(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    block = conn.encode(target.request())
    conn.write_headers(1, block[:5], end_headers=False)
    conn.write_continuation(1, block[5:], end_headers=True)
    return rules.headers_on(conn, 1)


@GROUP.case("generic/3.10/2", "a field block split over HEADERS and two CONTINUATIONs")
def continuation_two(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    block = conn.encode(target.request())
    conn.write_headers(1, block[:5], end_headers=False)
    conn.write_continuation(1, block[5:10], end_headers=False)
    conn.write_continuation(1, block[10:], end_headers=True)
    return rules.headers_on(conn, 1)


@GROUP.case("generic/4/1", "a GET gets a response")
def method_get(target: Target, conn: RawConnection) -> Verdict:
    return get(target, conn)


@GROUP.case("generic/4/2", "a HEAD gets a response")
def method_head(target: Target, conn: RawConnection) -> Verdict:
    return get(target, conn, method="HEAD")


@GROUP.case("generic/4/3", "a POST with a body gets a response")
def method_post(target: Target, conn: RawConnection) -> Verdict:
    return post(target, conn, b"body")


@GROUP.case("generic/4/4", "a POST whose body is followed by a trailer section")
def post_with_trailers(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    block = conn.encode([*target.request("POST"), ("trailer", "x-test")])
    conn.write_headers(1, block, end_stream=False)
    conn.write_data(1, b"body", end_stream=False)
    conn.write_headers(1, conn.encode([("x-test", "ok")]))
    return rules.headers_on(conn, 1)


def send_request_with(
    target: Target, conn: RawConnection, representation: bytes, *, before: bool = False
) -> None:
    """A GET whose field block gets one more HPACK representation, after it or `before`."""
    conn.handshake()
    block = conn.encode(target.request())
    conn.write_headers(1, representation + block if before else block + representation)


# One field representation of each kind of RFC 7541 section 6, appended to a request's
# block: (case number, what it is, its bytes). Every literal spells its name out: either
# `user-agent` (also in the static table, at index 58) or the new `x-test`, each with the
# value `h2spec`.
REPRESENTATIONS = [
    (1, "an indexed field (static table index 58)", b"\xba"),
    (
        2,
        "a literal with indexing of user-agent, both strings Huffman-coded",
        b"\x40\x87\xb5\x05\xb1\x61\xcc\x5a\x93\x84\x9c\x48\xac\xa4",
    ),
    (
        3,
        "a literal with indexing of user-agent, both strings plain",
        b"\x40\x0a\x75\x73\x65\x72\x2d\x61\x67\x65\x6e\x74\x06\x68\x32\x73\x70\x65\x63",
    ),
    (
        4,
        "a literal with indexing of a new name, both strings plain",
        b"\x40\x06\x78\x2d\x74\x65\x73\x74\x06\x68\x32\x73\x70\x65\x63",
    ),
    (
        5,
        "a literal with indexing of a new name, both strings Huffman-coded",
        b"\x40\x85\xf2\xb2\x4a\x84\xff\x84\x9c\x48\xac\xa4",
    ),
    (
        6,
        "a literal without indexing of user-agent, both strings plain",
        b"\x00\x0a\x75\x73\x65\x72\x2d\x61\x67\x65\x6e\x74\x06\x68\x32\x73\x70\x65\x63",
    ),
    (
        7,
        "a literal without indexing of user-agent, both strings Huffman-coded",
        b"\x00\x87\xb5\x05\xb1\x61\xcc\x5a\x93\x84\x9c\x48\xac\xa4",
    ),
    (
        8,
        "a literal without indexing of a new name, both strings plain",
        b"\x00\x06\x78\x2d\x74\x65\x73\x74\x06\x68\x32\x73\x70\x65\x63",
    ),
    (
        9,
        "a literal without indexing of a new name, both strings Huffman-coded",
        b"\x00\x85\xf2\xb2\x4a\x84\xff\x84\x9c\x48\xac\xa4",
    ),
    (
        10,
        "a never-indexed literal of user-agent, both strings plain",
        b"\x10\x0a\x75\x73\x65\x72\x2d\x61\x67\x65\x6e\x74\x06\x68\x32\x73\x70\x65\x63",
    ),
    (
        11,
        "a never-indexed literal of user-agent, both strings Huffman-coded",
        b"\x10\x87\xb5\x05\xb1\x61\xcc\x5a\x93\x84\x9c\x48\xac\xa4",
    ),
    (
        12,
        "a never-indexed literal of a new name, both strings Huffman-coded",
        b"\x10\x85\xf2\xb2\x4a\x84\xff\x84\x9c\x48\xac\xa4",
    ),
    (
        13,
        "the same never-indexed literal as generic/5/12",
        b"\x10\x85\xf2\xb2\x4a\x84\xff\x84\x9c\x48\xac\xa4",
    ),
]


def _representation_case(number: int, what: str, representation: bytes) -> None:
    def run(target: Target, conn: RawConnection) -> Verdict:
        send_request_with(target, conn, representation)
        return rules.headers_on(conn, 1)

    GROUP.case(f"generic/5/{number}", f"a request ending in {what} is understood")(run)


for _number, _what, _representation in REPRESENTATIONS:
    _representation_case(_number, _what, _representation)


@GROUP.case("generic/5/14", "a block that starts by shrinking the dynamic table")
def table_size_update(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.encoder.header_table_size = 128  # the encoder puts the update first
    conn.write_headers(1, conn.encode(target.request()))
    return rules.headers_on(conn, 1)


@GROUP.case("generic/5/15", "a block that starts with two dynamic table size updates")
def table_size_updates(target: Target, conn: RawConnection) -> Verdict:
    # 0x3f 0x61: size 128 (31 + 97); 0x3f 0xe1 0x1f: size 4096 (31 + 97 + 31 * 128)
    send_request_with(target, conn, b"\x3f\x61\x3f\xe1\x1f", before=True)
    return rules.headers_on(conn, 1)
