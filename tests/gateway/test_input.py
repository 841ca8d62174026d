"""wsgi.input: read(n), read(), readline(limit), readlines(), iteration, 100-continue."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from tests.gateway.harness import run
from wsgiserver.errors import BadRequest, ContentTooLarge
from wsgiserver.gateway.body import InputStream
from wsgiserver.protocol import Limits


def stream_of(*pieces: bytes) -> InputStream:
    queue = list(pieces)
    return InputStream(lambda: queue.pop(0) if queue else b"")


def test_read_sizes_across_pieces() -> None:
    stream = stream_of(b"hel", b"lo wor", b"ld")
    assert stream.read(4) == b"hell"
    assert stream.read(0) == b""
    assert stream.read(100) == b"o world"
    assert stream.read(1) == b""
    assert stream.exhausted()


@pytest.mark.parametrize("size", [None, -1])
def test_read_all(size: int | None) -> None:
    stream = stream_of(b"a", b"b", b"c")
    assert stream.read(1) == b"a"
    assert stream.read(size) == b"bc"
    assert stream.read() == b""


def test_read_sizes_that_split_pieces() -> None:
    pieces = [bytes([65 + i]) * 1000 for i in range(20)]
    whole = b"".join(pieces)
    stream = stream_of(*pieces)
    assert stream.read(2500) == whole[:2500]  # across three pieces, ending inside one
    assert stream.unread == 500
    assert stream.read(500) == whole[2500:3000]  # exactly what is buffered
    assert stream.read(10_000) == whole[3000:13_000]
    assert stream.read() == whole[13_000:]
    assert stream.exhausted()


def test_read_more_than_the_body() -> None:
    stream = stream_of(b"ab", b"cd")
    assert stream.read(100) == b"abcd"
    assert stream.exhausted()
    assert stream.read(100) == b""


def test_read_zero_does_not_pull() -> None:
    def pull() -> bytes:
        raise AssertionError("read(0) must not wait for the body")

    assert InputStream(pull).read(0) == b""


def test_complete_stream_never_pulls() -> None:
    stream = InputStream.complete(b"line one\nline two\nrest")
    assert not stream.exhausted()
    assert stream.unread == 22
    assert stream.readline() == b"line one\n"
    assert stream.read(4) == b"line"
    assert stream.read() == b" two\nrest"
    assert stream.read() == b""
    assert stream.read(5) == b""
    assert stream.readline() == b""
    assert stream.exhausted()
    assert stream.unread == 0


def test_complete_stream_of_nothing() -> None:
    stream = InputStream.complete(b"")
    assert stream.exhausted()
    assert stream.read(10) == b""
    assert list(stream) == []


def test_readline_with_and_without_limit() -> None:
    stream = stream_of(b"first\nsec", b"ond\nno newline")
    assert stream.readline() == b"first\n"
    assert stream.readline(3) == b"sec"
    assert stream.readline() == b"ond\n"
    assert stream.readline(100) == b"no newline"
    assert stream.readline() == b""


def test_readline_limit_exactly_at_buffer_end() -> None:
    stream = stream_of(b"abc", b"def\n")
    assert stream.readline(3) == b"abc"
    assert stream.readline() == b"def\n"


def test_readlines_and_iteration() -> None:
    assert stream_of(b"a\nb\n", b"c").readlines() == [b"a\n", b"b\n", b"c"]
    # Same rule as io: stop once the lines read reach the hint.
    assert stream_of(b"a\nb\nc\n").readlines(2) == [b"a\n"]
    assert stream_of(b"a\nb\nc\n").readlines(3) == [b"a\n", b"b\n"]
    assert list(stream_of(b"x\ny", b"\nz")) == [b"x\n", b"y\n", b"z"]


def reading_app(reader: Callable[[Any], bytes]) -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        data = reader(environ["wsgi.input"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [data]

    return app


def test_body_never_read_past_its_end() -> None:
    request = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    pipelined = b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n"
    exchange = run(reading_app(lambda s: s.read()), request + pipelined)
    assert exchange.response()[1] == b"hello"
    assert exchange.conn.buffered_size == len(pipelined)


def test_body_arriving_in_pieces() -> None:
    request = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01"
    exchange = run(reading_app(lambda s: s.read()), request, incoming=[b"234", b"56789"])
    assert exchange.response()[1] == b"0123456789"


def test_truncated_body_raises_bad_request() -> None:
    request = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n012"
    exchange = run(reading_app(lambda s: s.read()), request, incoming=[])
    assert isinstance(exchange.error, BadRequest)
    assert exchange.error.status == 400


def test_chunked_body_over_limit_is_413() -> None:
    request = (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n"
    )
    exchange = run(reading_app(lambda s: s.read()), request, limits=Limits(max_body_size=10))
    assert isinstance(exchange.error, ContentTooLarge)


def test_continue_sent_on_first_read_only() -> None:
    request = b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"
    exchange = run(reading_app(lambda s: s.read(2) + s.read(2)), request, incoming=[b"body"])
    assert exchange.raw.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")
    assert exchange.raw.count(b"100 Continue") == 1
    assert exchange.response()[1] == b"body"
    assert exchange.conn.keep_alive


def test_no_continue_when_app_does_not_read() -> None:
    request = b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"
    exchange = run(reading_app(lambda s: b"ignored"), request)
    assert b"100 Continue" not in exchange.raw
    # RFC 9110 section 10.1.1: the client may still send the body or not; we must close.
    assert b"Connection: close" in exchange.raw
    assert not exchange.conn.keep_alive


def test_prebuffered_body_counts_what_the_app_read() -> None:
    request = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    exchange = run(reading_app(lambda s: s.read(2)), request)
    assert exchange.response()[1] == b"he"
    assert exchange.outcome.request_bytes == 2
    assert exchange.channel.receives == 0  # the whole body was already buffered
    assert exchange.conn.request_complete  # nothing left to drain
    assert exchange.conn.keep_alive


def test_prebuffered_body_the_app_ignores_keeps_the_next_request() -> None:
    request = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    pipelined = b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n"
    exchange = run(reading_app(lambda s: b"ignored"), request + pipelined)
    assert exchange.outcome.request_bytes == 0
    assert exchange.conn.request_complete
    assert exchange.conn.keep_alive
    assert exchange.conn.buffered_size == len(pipelined)


def test_continue_still_sent_when_the_body_came_with_the_head() -> None:
    request = b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nbody"
    exchange = run(reading_app(lambda s: s.read()), request)
    assert exchange.raw.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")
    assert exchange.response()[1] == b"body"


@pytest.mark.parametrize("size", [10, -1])
def test_bytes_received_before_a_failed_read_are_not_lost(size: int) -> None:
    # A body timeout raises from the pull; an app may catch it and read again. The bytes that
    # arrived before the failure must come first, not vanish.
    pieces: list[bytes | Exception] = [b"abc", TimeoutError("slow"), b"def", b""]

    def pull() -> bytes:
        piece = pieces.pop(0)
        if isinstance(piece, Exception):
            raise piece
        return piece

    stream = InputStream(pull)
    with pytest.raises(TimeoutError):
        stream.read(size)  # "abc" arrived, then the next pull failed
    assert stream.read(size) == b"abcdef"
