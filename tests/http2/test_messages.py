"""HTTP/2 header blocks to requests, without a socket: every malformed block gets the status
RFC 9113 (and the HTTP/1.1 rules it shares) gives it, and a good one the right `Request`."""

from __future__ import annotations

import pytest

from wsgiserver.errors import HTTPError
from wsgiserver.http2.messages import (
    check_trailers,
    informational_headers,
    request_from_headers,
    response_headers,
)
from wsgiserver.protocol.limits import Limits
from wsgiserver.protocol.writers import prepare_fields

Header = tuple[bytes, bytes]
GET: list[Header] = [
    (b":method", b"GET"),
    (b":scheme", b"https"),
    (b":authority", b"example.com"),
    (b":path", b"/a/b?x=1"),
]
LIMITS = Limits(max_header_count=10, max_header_field=200, max_request_line=100, max_body_size=1000)


def parse(headers: list[Header], list_limit: int = 4096) -> object:
    return request_from_headers(headers, LIMITS, list_limit)


def with_field(name: bytes, value: bytes) -> list[Header]:
    return [*GET, (name, value)]


def replaced(name: bytes, value: bytes | None) -> list[Header]:
    """GET with one pseudo-header field changed (or left out, for None); pseudo-header
    fields stay first (RFC 9113 section 8.3)."""
    block = [(n, v) for n, v in GET if n != name]
    return block if value is None else [(name, value), *block]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (with_field(b"x", b"y" * 5000), 431),
        ([*GET, *[(b"x-%d" % n, b"v") for n in range(11)]], 431),
        (with_field(b"x-long", b"v" * 300), 431),
        ([*GET, (b"x", b"1"), (b":extra", b"1")], 400),
        (with_field(b":protocol", b"websocket"), 400),
        ([*GET, (b":path", b"/again")], 400),
        (with_field(b"Upper", b"1"), 400),
        (with_field(b"x", b" padded"), 400),
        (with_field(b"x", b"nul\x00"), 400),
        (with_field(b"connection", b"keep-alive"), 400),
        (with_field(b"transfer-encoding", b"chunked"), 400),
        (with_field(b"te", b"gzip"), 400),
        (replaced(b":method", None), 400),
        (replaced(b":method", b"G T"), 400),
        (replaced(b":method", b"CONNECT"), 501),
        (replaced(b":path", None), 400),
        (replaced(b":scheme", None), 400),
        (replaced(b":path", b"/" + b"a" * 200), 414),
        (replaced(b":path", b"*"), 400),
        (replaced(b":path", b"relative"), 400),
        (replaced(b":path", b"/frag#x"), 400),
        (replaced(b":scheme", b"ftp"), 400),
        (replaced(b":authority", b"user@example.com"), 400),
        (replaced(b":authority", None), 400),
        (with_field(b"host", b"other.example"), 400),
        ([*GET, (b"host", b"example.com"), (b"host", b"example.com")], 400),
        (with_field(b"content-length", b"abc"), 400),
        (with_field(b"expect", b"something"), 417),
    ],
)
def test_a_malformed_block_gets_its_status(headers: list[Header], status: int) -> None:
    with pytest.raises(HTTPError) as caught:
        parse(headers)
    assert caught.value.status == status


def test_a_good_block_becomes_a_request() -> None:
    request = request_from_headers(
        [
            *GET,
            (b"cookie", b"a=1; b=2"),
            (b"content-length", b"12"),
            (b"expect", b"100-continue"),
            (b"te", b"trailers"),
        ],
        LIMITS,
        4096,
    )
    assert (request.method, request.path, request.query) == ("GET", b"/a/b", b"x=1")
    assert request.host == b"example.com"
    assert request.content_length == 12
    assert request.expect_continue
    assert (b"cookie", b"a=1; b=2") in request.headers


def test_a_length_over_the_limit_is_still_a_request() -> None:
    # The connection refuses it with 413 (tests/http2/test_serving.py) and keeps the request
    # for the record of the refusal (its client and id).
    request = request_from_headers(with_field(b"content-length", b"5000"), LIMITS, 4096)
    assert request.content_length == 5000


def test_options_asterisk_and_a_host_field_without_authority() -> None:
    block = [(b":method", b"OPTIONS"), (b":scheme", b"http"), (b":path", b"*"), (b"host", b"h")]
    request = request_from_headers(block, LIMITS, 4096)
    assert (request.method, request.target, request.host) == ("OPTIONS", b"*", b"h")


def test_response_blocks_are_lower_case_and_carry_no_connection_fields() -> None:
    fields = prepare_fields("200 OK", [("Content-Type", "text/plain"), ("X-A", "1")])
    block = response_headers(fields, "Date: today\r\nProxy-Connection: x\r\n", 5)
    assert block == [
        (b":status", b"200"),
        (b"date", b"today"),
        (b"content-type", b"text/plain"),
        (b"x-a", b"1"),
        (b"content-length", b"5"),
    ]
    hints = informational_headers(prepare_fields("103 Early Hints", [("Link", "</a>")]))
    assert hints == [(b":status", b"103"), (b"link", b"</a>")]


@pytest.mark.parametrize(
    ("trailers", "status"),
    [
        ([(b":path", b"/")], 400),
        ([(b"connection", b"close")], 400),
        ([(b"X", b"1")], 400),
        ([(b"x", b"bad\n")], 400),
        ([(b"x", b"v" * 300)], 431),
        ([(b"x-%d" % n, b"v") for n in range(11)], 431),
    ],
)
def test_malformed_trailers_get_their_status(trailers: list[Header], status: int) -> None:
    with pytest.raises(HTTPError) as caught:
        check_trailers(trailers, LIMITS)
    assert caught.value.status == status


def test_ordinary_trailers_pass() -> None:
    check_trailers([(b"x-checksum", b"abc"), (b"server-timing", b"db;dur=53")], LIMITS)
