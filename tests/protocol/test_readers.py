"""Body readers taking bytes out of the receive buffer: exact pieces, nothing past the body.

Sizes on both sides of the readers' memoryview threshold, so both ways of taking bytes out of
the buffer are covered; the fuzz tests mostly use small bodies.
"""

from __future__ import annotations

import pytest

from wsgiserver.protocol import Data, EndOfMessage, Limits, ServerConnection
from wsgiserver.protocol.readers import ChunkedReader, ContentLengthReader

NEXT = b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n"
SIZES = [1, 100, 16383, 16384, 16385, 70000]


def body_of(size: int) -> bytes:
    return bytes(range(256)) * (size // 256) + bytes(range(size % 256))


def read_all(reader: ContentLengthReader | ChunkedReader, buf: bytearray, max_bytes: int) -> bytes:
    pieces: list[bytes] = []
    while True:
        event = reader.read(buf, False, max_bytes)
        if isinstance(event, EndOfMessage):
            return b"".join(pieces)
        assert isinstance(event, Data), event
        assert type(event.data) is bytes
        assert 0 < len(event.data) <= max_bytes
        pieces.append(event.data)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("max_bytes", [1 << 20, 20000])
def test_content_length_body_then_the_next_request_stays(size: int, max_bytes: int) -> None:
    body = body_of(size)
    buf = bytearray(body + NEXT)
    assert read_all(ContentLengthReader(size), buf, max_bytes) == body
    assert buf == NEXT


@pytest.mark.parametrize("size", SIZES)
def test_content_length_body_exactly_buffered_empties_the_buffer(size: int) -> None:
    body = body_of(size)
    buf = bytearray(body)
    reader = ContentLengthReader(size)
    event = reader.read(buf, False, 1 << 20)
    assert isinstance(event, Data)
    assert event.data == body
    assert not buf
    assert reader.remaining == 0


@pytest.mark.parametrize("size", SIZES)
def test_chunked_large_chunks_then_the_next_request_stays(size: int) -> None:
    first, second = body_of(size), body_of(size + 7)[::-1]
    framed = b"%x\r\n%b\r\n%x\r\n%b\r\n0\r\n\r\n" % (len(first), first, len(second), second)
    buf = bytearray(framed + NEXT)
    reader = ChunkedReader(Limits(), 0)
    assert read_all(reader, buf, 1 << 20) == first + second
    assert buf == NEXT


@pytest.mark.parametrize("piece", [1000, 16384, 40000])
def test_body_in_pieces_through_the_connection(piece: int) -> None:
    body = body_of(100_000)
    raw = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n" + body + NEXT
    conn = ServerConnection()
    received: list[bytes] = []
    for start in range(0, len(raw), piece):
        conn.receive_data(raw[start : start + piece])
        while True:
            event = conn.next_event()
            if not isinstance(event, Data):
                break
            received.append(event.data)
        if isinstance(event, EndOfMessage):
            break
    assert b"".join(received) == body
    assert conn.request_complete
