"""The response side and the request/response cycle of `ServerConnection` (RFC 9110, 9112).

Framing choice, HEAD/204/304, Content-Length mismatches from the app, 100 Continue, the
drain decision, and the failed state after a ProtocolError.
"""

from __future__ import annotations

import pytest

from tests.protocol.protocol_harness import SPLITTERS, feed
from wsgiserver.errors import ProtocolError, ResponseFramingError
from wsgiserver.protocol import (
    NEED_DATA,
    PAUSED,
    Data,
    EndOfMessage,
    Limits,
    Request,
    ServerConnection,
)
from wsgiserver.protocol.head import TLS_ON_PLAIN_PORT
from wsgiserver.protocol.writers import ResponseWriter, prepare_fields

EXTRA = "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"


def connection(raw: bytes, limits: Limits | None = None) -> tuple[ServerConnection, Request]:
    conn = ServerConnection(limits or Limits())
    conn.receive_data(raw)
    event = conn.next_event()
    assert isinstance(event, Request)
    return conn, event


def finish_request(conn: ServerConnection) -> None:
    while True:
        event = conn.next_event()
        if isinstance(event, EndOfMessage):
            break
        assert isinstance(event, Data)
    assert conn.next_event() is PAUSED


def head_lines(head: bytes) -> list[bytes]:
    assert head.endswith(b"\r\n\r\n")
    return head[:-4].split(b"\r\n")


GET_11 = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
GET_10 = b"GET / HTTP/1.0\r\n\r\n"
GET_10_KA = b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
HEAD_11 = b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"


def test_head_has_status_line_extra_and_headers() -> None:
    """RFC 9112 4: the status line is HTTP/1.1 whatever the request's minor version."""
    conn, _ = connection(GET_10_KA)
    finish_request(conn)
    head = conn.send_response(
        "200 OK", [("Content-Type", "text/plain")], extra=EXTRA, length_hint=2
    )
    assert head_lines(head) == [
        b"HTTP/1.1 200 OK",
        b"Date: Thu, 01 Jan 1970 00:00:00 GMT",
        b"Content-Type: text/plain",
        b"Content-Length: 2",
        b"Connection: keep-alive",
    ]


@pytest.mark.parametrize(
    ("raw", "headers", "hint", "framing_line", "body", "end"),
    [
        pytest.param(
            GET_11,
            [("Content-Length", "3")],
            None,
            b"Content-Length: 3",
            b"abc",
            b"",
            id="app-content-length",
        ),
        pytest.param(GET_11, [], 3, b"Content-Length: 3", b"abc", b"", id="length-hint"),
        pytest.param(
            GET_11,
            [],
            None,
            b"Transfer-Encoding: chunked",
            b"3\r\nabc\r\n",
            b"0\r\n\r\n",
            id="chunked-for-1.1",
        ),
        pytest.param(
            GET_10, [], None, b"Connection: close", b"abc", b"", id="close-delimited-for-1.0"
        ),
    ],
)
def test_framing_choice(
    raw: bytes,
    headers: list[tuple[str, str]],
    hint: int | None,
    framing_line: bytes,
    body: bytes,
    end: bytes,
) -> None:
    """RFC 9112 6.3 and 7.1: Content-Length from the app or the hint, else chunked (1.1),
    else close-delimited (1.0)."""
    conn, _ = connection(raw)
    finish_request(conn)
    head = conn.send_response("200 OK", headers, length_hint=hint)
    assert framing_line in head_lines(head)
    assert conn.send_data(b"abc") == body
    assert conn.send_end() == end


def test_chunked_skips_empty_pieces() -> None:
    """RFC 9112 7.1: an empty chunk would end the body, so empty writes send nothing."""
    conn, _ = connection(GET_11)
    finish_request(conn)
    conn.send_response("200 OK", [])
    assert conn.send_data(b"") == b""
    assert conn.send_data(b"x" * 17) == b"11\r\n" + b"x" * 17 + b"\r\n"
    assert conn.keep_alive


def test_http_10_close_delimited_is_not_keep_alive() -> None:
    """RFC 9112 6.3 item 8: without a length the body ends at close, even if asked to keep."""
    conn, _ = connection(GET_10_KA)
    finish_request(conn)
    head = conn.send_response("200 OK", [])
    assert b"Connection: close" in head_lines(head)
    assert not conn.keep_alive


@pytest.mark.parametrize("length", ["6", None])
def test_2xx_to_connect_has_no_framing_fields_and_closes(length: str | None) -> None:
    """RFC 9110 section 9.3.6: a server MUST NOT send Transfer-Encoding or Content-Length in
    a 2xx response to CONNECT; what follows the head is the tunnel's, delimited by closing.
    (wsgiserver's gateway answers CONNECT 501 itself: a WSGI app cannot run a tunnel.)"""
    conn, _ = connection(b"CONNECT origin.test:443 HTTP/1.1\r\nHost: origin.test:443\r\n\r\n")
    finish_request(conn)
    fields = [("Content-Length", length)] if length else []
    lines = head_lines(conn.send_response("200 OK", fields))
    assert not any(
        line.lower().startswith((b"content-length:", b"transfer-encoding:")) for line in lines
    )
    assert conn.send_data(b"tunnel") == b"tunnel"
    assert not conn.keep_alive


def test_http_10_keep_alive_says_so() -> None:
    """RFC 9112 C.2.2: an HTTP/1.0 keep-alive response carries Connection: keep-alive."""
    conn, _ = connection(GET_10_KA)
    finish_request(conn)
    head = conn.send_response("200 OK", [("Content-Length", "0")])
    assert b"Connection: keep-alive" in head_lines(head)
    assert conn.send_end() == b""
    assert conn.keep_alive
    conn.start_next_cycle()
    assert conn.next_event() is NEED_DATA


@pytest.mark.parametrize(
    ("raw", "status", "headers", "hint", "expected"),
    [
        pytest.param(
            HEAD_11,
            "200 OK",
            [("Content-Length", "10")],
            None,
            [b"Content-Length: 10"],
            id="head-keeps-app-length",
        ),
        pytest.param(HEAD_11, "200 OK", [], 7, [b"Content-Length: 7"], id="head-hint"),
        pytest.param(HEAD_11, "200 OK", [], None, [], id="head-no-length"),
        pytest.param(
            GET_11, "204 No Content", [("Content-Length", "5")], None, [], id="204-drops-length"
        ),
        pytest.param(
            GET_11,
            "304 Not Modified",
            [("Content-Length", "5")],
            None,
            [b"Content-Length: 5"],
            id="304-keeps-length",
        ),
        pytest.param(GET_11, "304 Not Modified", [], None, [], id="304-no-chunked"),
    ],
)
def test_responses_without_body(
    raw: bytes,
    status: str,
    headers: list[tuple[str, str]],
    hint: int | None,
    expected: list[bytes],
) -> None:
    """RFC 9110 6.4.1, 8.6, 9.3.2: HEAD, 204 and 304 never carry a body or chunked framing;
    a 204 never carries Content-Length; the connection stays reusable."""
    conn, _ = connection(raw)
    finish_request(conn)
    lines = head_lines(conn.send_response(status, headers, length_hint=hint))
    framing = [line for line in lines if line.startswith((b"Content-Length", b"Transfer"))]
    assert framing == expected
    assert conn.send_data(b"hello") == b""
    assert conn.send_end() == b""
    assert not conn.writer.has_body
    assert conn.keep_alive


def test_app_content_length_overflow_is_cut_and_closes() -> None:
    """RFC 9112 6.3: bytes beyond Content-Length would start a bogus next response."""
    conn, _ = connection(GET_11)
    finish_request(conn)
    conn.send_response("200 OK", [("Content-Length", "3")])
    assert conn.send_data(b"ab") == b"ab"
    assert conn.writer.complete is False
    assert conn.writer.overrun() is None
    assert conn.send_data(b"cdef") == b"c"
    assert conn.writer.surplus == 3
    assert conn.send_data(b"more") == b""
    assert conn.send_end() == b""
    assert not conn.keep_alive
    assert conn.writer.overrun() == "application sent 7 bytes more than its Content-Length"


def test_app_content_length_short_raises() -> None:
    """RFC 9112 8: a short body cannot be finished; the connection must close instead."""
    conn, _ = connection(GET_11)
    finish_request(conn)
    conn.send_response("200 OK", [("Content-Length", "3")])
    conn.send_data(b"ab")
    with pytest.raises(ResponseFramingError):
        conn.send_end()
    assert not conn.keep_alive


EXPECT_BODY = b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"


def test_continue_sent_once() -> None:
    """RFC 9110 10.1.1: one 100 Continue before the final response."""
    conn, request = connection(EXPECT_BODY)
    assert request.expect_continue
    assert conn.send_continue() == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert conn.send_continue() == b""
    conn.receive_data(b"abc")
    finish_request(conn)
    conn.send_response("200 OK", [], length_hint=0)
    assert conn.keep_alive


def test_continue_never_after_response_started() -> None:
    """RFC 9110 10.1.1: once the final status is sent, a 100 would be a second status line;
    the unread body may still be coming, so the connection closes."""
    conn, _ = connection(EXPECT_BODY)
    head = conn.send_response("417 Expectation Failed", [], length_hint=0)
    assert conn.send_continue() == b""
    assert b"Connection: close" in head_lines(head)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n", id="no-body"),
        pytest.param(
            b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", id="http-1.0"
        ),
        pytest.param(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n", id="not-asked"),
    ],
)
def test_no_continue_when_not_expected(raw: bytes) -> None:
    """RFC 9110 10.1.1: only a 1.1 client waiting for a body gets a 100."""
    conn, _ = connection(raw)
    assert conn.send_continue() == b""


def _unread(length: int, buffered: int, limits: Limits) -> bytes:
    conn, _ = connection(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % length + b"x" * buffered,
        limits,
    )
    return conn.send_response("200 OK", [], length_hint=0)


def test_unread_body_over_drain_limit_closes() -> None:
    """RFC 9112 9.6: a body too big to drain means the connection cannot be reused."""
    limits = Limits(max_drain_size=10)
    assert b"Connection: close" in head_lines(_unread(11, 0, limits))
    assert b"Connection: close" not in head_lines(_unread(10, 0, limits))
    assert b"Connection: close" not in head_lines(_unread(20, 10, limits))  # 10 already here


def test_close_requested_by_server() -> None:
    """RFC 9112 9.6: a stopping server announces the close."""
    conn, _ = connection(GET_11)
    finish_request(conn)
    conn.close_requested = True
    assert b"Connection: close" in head_lines(conn.send_response("200 OK", [], length_hint=0))
    conn.send_end()
    with pytest.raises(RuntimeError):
        conn.start_next_cycle()


def test_cycle_order_is_enforced() -> None:
    """One response per request, and no next cycle before both are complete."""
    conn, _ = connection(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n")
    with pytest.raises(RuntimeError):
        conn.writer  # noqa: B018 - the property raises before a response exists
    conn.send_response("200 OK", [], length_hint=0)
    with pytest.raises(RuntimeError):
        conn.send_response("200 OK", [], length_hint=0)
    with pytest.raises(RuntimeError):
        conn.start_next_cycle()  # the body is not read yet


def test_reuse_says_next_drain_first_or_close() -> None:
    """`reuse()` after a response: None while the body is unread (drain, then ask again),
    False when the connection must close, True once the next cycle has started."""
    conn, _ = connection(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nx")
    assert conn.reuse() is False  # no response yet: nothing to reuse
    conn.send_response("200 OK", [], length_hint=0)
    conn.send_end()
    assert conn.reuse() is None  # one body byte is still missing
    assert conn.response_started  # nothing was reset
    conn.receive_data(b"y")
    finish_request(conn)
    assert conn.reuse() is True
    assert conn.request is None
    assert conn.current_writer is None
    conn.receive_data(GET_11)
    assert isinstance(conn.next_event(), Request)

    closing, _ = connection(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    finish_request(closing)
    closing.send_response("200 OK", [], length_hint=0)
    closing.send_end()
    assert closing.reuse() is False
    assert closing.request is not None  # nothing was reset


def test_pipelined_request_waits_for_the_response() -> None:
    """RFC 9112 9.3.2: the next request is parsed only after the current one is answered."""
    conn, _ = connection(GET_11 + b"GET /2 HTTP/1.1\r\nHost: a\r\n\r\n")
    assert conn.next_event() == EndOfMessage([])
    assert conn.next_event() is PAUSED
    assert conn.next_event() is PAUSED
    assert conn.has_buffered_data
    conn.send_response("200 OK", [], length_hint=0)
    conn.send_end()
    conn.start_next_cycle()
    second = conn.next_event()
    assert isinstance(second, Request)
    assert second.target == b"/2"


@pytest.mark.parametrize("mode", list(SPLITTERS))
@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (b"\x16\x03\x01\x02\x00\x01", TLS_ON_PLAIN_PORT),
        (b"\x16\x03\x01\x00\x04\r\n\r\n", TLS_ON_PLAIN_PORT),  # a complete "head"
        (b"GET\x00", "invalid request line"),
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n\r\n\x16\x03", TLS_ON_PLAIN_PORT),
    ],
    ids=["tls-unfinished", "tls-with-crlfcrlf", "nul-in-method", "tls-after-a-request"],
)
def test_what_cannot_start_a_request_line_says_why(raw: bytes, detail: str, mode: str) -> None:
    """RFC 9112 section 3: a TLS handshake record (0x16, RFC 8446 section 5.1) on a plain
    port is told so, whole or in pieces, so the 400 explains itself."""
    run = feed(SPLITTERS[mode](raw))
    assert run.error is not None
    assert (run.error.status, run.error.detail) == (400, detail)


@pytest.mark.parametrize(
    ("line", "status", "detail"),
    [
        (b"GET /", 400, "invalid request line"),  # HTTP/0.9
        (b"GET / H", 400, "invalid request line"),
        (b"GET / HTTP/1.10", 400, "invalid request line"),
        (b"GET / HTTP/2.0", 505, "HTTP/2.x is not supported"),
    ],
    ids=["http-0.9", "version-cut", "two-digit-minor", "version-2"],
)
def test_a_request_line_is_judged_once_its_crlf_arrives(
    line: bytes, status: int, detail: str
) -> None:
    """A client that sent a whole bad request line waits for the answer: it was left to
    the header timeout (408) until the head's end, which such a client never sends. Each
    answer is the one the complete head gets."""
    for raw in (line + b"\r\n", line + b"\r\n\r\n", line + b"\r\nHost: a\r\n"):
        for mode in SPLITTERS:
            run = feed(SPLITTERS[mode](raw))
            assert run.error is not None, (raw, mode)
            assert (run.error.status, run.error.detail) == (status, detail)
    # Not before the CR: `GET / H` may still become a version, and empty lines before a
    # request line are allowed (RFC 9112 section 2.2).
    assert feed([line]).error is None
    assert feed([b"\r\n\r", b"\n" + line]).error is None


def test_error_is_permanent() -> None:
    """RFC 9112 11.2: after a framing error later bytes never become events."""
    conn = ServerConnection()
    conn.receive_data(b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n")
    with pytest.raises(ProtocolError) as first:
        conn.next_event()
    assert first.value.status == 400
    assert conn.failed
    conn.receive_data(GET_11)
    with pytest.raises(ProtocolError) as again:
        conn.next_event()
    assert again.value is first.value


def test_limits_reject_bad_values() -> None:
    """Limits are validated once, when built."""
    with pytest.raises(ValueError, match="max_body_size"):
        Limits(max_body_size=-1)
    with pytest.raises(ValueError, match="max_header_count"):
        Limits(max_header_count=True)


def test_informational_goes_to_http11_before_the_final_response_only() -> None:
    """RFC 9110 15.2 and RFC 8297: a 103 may precede the final response, never to an
    HTTP/1.0 client (MUST NOT), never after the final response started."""
    fields = prepare_fields("103 Early Hints", [("Link", "</a.css>; rel=preload")])
    conn, _ = connection(GET_11)
    interim = conn.send_informational(fields)
    assert interim == b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
    assert conn.send_informational(fields) == interim  # as often as the app calls it
    conn.send_response("200 OK", [], length_hint=0)
    assert conn.send_informational(fields) == b""
    old, _ = connection(GET_10)
    assert old.send_informational(fields) == b""


@pytest.mark.parametrize(
    ("method", "status", "headers", "hint", "announced", "body"),
    [
        pytest.param("GET", "200 OK", [("Content-Length", "3")], None, 3, b"abc", id="declared"),
        pytest.param("GET", "200 OK", [], 4, 4, b"abcd", id="hint"),
        pytest.param("GET", "200 OK", [], None, None, b"abcdef", id="delimited-by-the-stream"),
        pytest.param("HEAD", "200 OK", [], 9, 9, b"", id="head-keeps-get-length"),
        pytest.param("GET", "204 No Content", [("Content-Length", "5")], None, None, b"", id="204"),
        pytest.param("GET", "205 Reset Content", [], None, 0, b"", id="205"),
        pytest.param("GET", "304 Not Modified", [], 7, None, b"", id="304"),
    ],
)
def test_frame_message_for_a_protocol_that_delimits_messages(
    method: str,
    status: str,
    headers: list[tuple[str, str]],
    hint: int | None,
    announced: int | None,
    body: bytes,
) -> None:
    """HTTP/2 frames messages itself, but what a body may carry is RFC 9110's, as for
    HTTP/1.1: no body for HEAD, 204, 205 and 304, and a declared length cuts it."""
    writer = ResponseWriter()
    length = writer.frame_message(
        prepare_fields(status, headers), head_request=method == "HEAD", length_hint=hint
    )
    assert length == announced
    assert writer.body(b"abcdef") == body
    assert writer.end() == b""  # the stream's end is the protocol's, not a byte
    assert writer.chunk_prefix(3) == b""
