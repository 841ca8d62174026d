"""The `http2` group, sections 7 and 8 of RFC 9113: error codes, and HTTP semantics over
HTTP/2 (which requests are malformed, server push).

A malformed request is a stream error (section 8.1.1): the other streams go on.
"""

from __future__ import annotations

from tests.http2.conformance import generic, rules
from tests.http2.conformance.case import Group, Target
from tests.http2.conformance.rules import Verdict
from tests.http2.conformance.wire import END_HEADERS, ErrorCode, FrameType, Headers, RawConnection

GROUP = Group()
UNKNOWN_CODE = 0xFF  # no error code of section 7
PROTOCOL_ERROR = ErrorCode.PROTOCOL_ERROR


@GROUP.case("http2/7/1", "PING after the client's GOAWAY with an unknown code")
def goaway_unknown_code(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_goaway(0, UNKNOWN_CODE)
    conn.write_ping(generic.OPAQUE)
    return rules.ping_acked_or_closed(conn, generic.OPAQUE)


@GROUP.case("http2/7/2", "RST_STREAM with an unknown code is taken like any reset")
def rst_unknown_code(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    conn.write_headers(1, conn.encode(target.request("POST")), end_stream=False)
    conn.write_rst_stream(1, UNKNOWN_CODE)
    conn.write_ping(generic.ZEROS)
    return rules.ping_acked_or_closed(conn, generic.ZEROS)


def _post_with_body(target: Target, conn: RawConnection, request: Headers) -> None:
    """HEADERS of a POST, then a body that does not end the stream."""
    conn.handshake()
    conn.write_headers(1, conn.encode(request), end_stream=False)
    conn.write_data(1, b"body", end_stream=False)


@GROUP.case("http2/8.1/1", "a second field section that does not end the stream")
def trailers_without_end(target: Target, conn: RawConnection) -> Verdict:
    _post_with_body(target, conn, target.request("POST"))
    conn.write_headers(1, conn.encode([("x-test", "ok")]), end_stream=False)
    return rules.stream_error(conn, PROTOCOL_ERROR)


def _malformed(target: Target, conn: RawConnection, request: Headers) -> Verdict:
    """A request in one HEADERS frame, malformed by `request`: a stream error."""
    conn.handshake()
    conn.write_headers(1, conn.encode(request))
    return rules.stream_error(conn, PROTOCOL_ERROR)


@GROUP.case("http2/8.1.2/1", "a field name with capital letters makes the request malformed")
def uppercase_name(target: Target, conn: RawConnection) -> Verdict:
    return _malformed(target, conn, [*target.request(), ("X-TEST", "ok")])


@GROUP.case("http2/8.1.2.1/1", "a pseudo-header no request has is malformed")
def unknown_pseudo_header(target: Target, conn: RawConnection) -> Verdict:
    return _malformed(target, conn, [*target.request(), (":test", "ok")])


@GROUP.case("http2/8.1.2.1/2", "a request with the response's :status is malformed")
def status_in_request(target: Target, conn: RawConnection) -> Verdict:
    return _malformed(target, conn, [*target.request(), (":status", "200")])


@GROUP.case("http2/8.1.2.1/3", "a pseudo-header in the trailer section is malformed")
def pseudo_header_in_trailers(target: Target, conn: RawConnection) -> Verdict:
    _post_with_body(target, conn, target.request("POST"))
    conn.write_headers(1, conn.encode([(":method", "POST")]), end_stream=False)
    return rules.stream_error(conn, PROTOCOL_ERROR)


@GROUP.case("http2/8.1.2.1/4", "a pseudo-header after a regular field is malformed")
def pseudo_header_last(target: Target, conn: RawConnection) -> Verdict:
    return _malformed(target, conn, [("x-test", "ok"), *target.request()])


@GROUP.case("http2/8.1.2.2/1", "a connection-specific field (connection) is malformed")
def connection_field(target: Target, conn: RawConnection) -> Verdict:
    return _malformed(target, conn, [*target.request(), ("connection", "keep-alive")])


@GROUP.case("http2/8.1.2.2/2", "te with more than trailers in it is malformed")
def te_not_trailers(target: Target, conn: RawConnection) -> Verdict:
    request = [*target.request(), ("trailers", "test"), ("te", "trailers, deflate")]
    return _malformed(target, conn, request)


def _replace(request: Headers, name: str, value: str) -> Headers:
    return [(field, value if field == name else old) for field, old in request]


def _without(request: Headers, *names: str) -> Headers:
    return [(field, value) for field, value in request if field not in names]


def _twice(request: Headers, name: str) -> Headers:
    return [*request, *((field, value) for field, value in request if field == name)]


@GROUP.case("http2/8.1.2.3/1", "an empty :path is malformed")
def empty_path(target: Target, conn: RawConnection) -> Verdict:
    return _malformed(target, conn, _replace(target.request(), ":path", ""))


@GROUP.case("http2/8.1.2.3/2", "a request without :method (nor :scheme) is malformed")
def no_method(target: Target, conn: RawConnection) -> Verdict:
    # h2spec's block for this case lacks :scheme as well; so does this one, to match it.
    return _malformed(target, conn, _without(target.request(), ":method", ":scheme"))


@GROUP.case("http2/8.1.2.3/3", "a request without :scheme is malformed")
def no_scheme(target: Target, conn: RawConnection) -> Verdict:
    return _malformed(target, conn, _without(target.request(), ":scheme"))


@GROUP.case("http2/8.1.2.3/4", "a request without :path is malformed")
def no_path(target: Target, conn: RawConnection) -> Verdict:
    return _malformed(target, conn, _without(target.request(), ":path"))


@GROUP.case("http2/8.1.2.3/5", "a request with :method twice is malformed")
def method_twice(target: Target, conn: RawConnection) -> Verdict:
    return _malformed(target, conn, _twice(target.request(), ":method"))


@GROUP.case("http2/8.1.2.3/6", "a request with :scheme twice is malformed")
def scheme_twice(target: Target, conn: RawConnection) -> Verdict:
    return _malformed(target, conn, _twice(target.request(), ":scheme"))


@GROUP.case("http2/8.1.2.3/7", "a request with :path twice is malformed")
def path_twice(target: Target, conn: RawConnection) -> Verdict:
    return _malformed(target, conn, _twice(target.request(), ":path"))


def _body_against_length(target: Target, conn: RawConnection, *chunks: bytes) -> Verdict:
    """A POST announcing a content-length of 1, then a body of `chunks`."""
    conn.handshake()
    request = [*target.request("POST"), ("content-length", "1")]
    conn.write_headers(1, conn.encode(request), end_stream=False)
    for index, chunk in enumerate(chunks):
        conn.write_data(1, chunk, end_stream=index == len(chunks) - 1)
    return rules.stream_error(conn, PROTOCOL_ERROR)


@GROUP.case("http2/8.1.2.6/1", "a body in one DATA frame longer than content-length")
def body_longer_once(target: Target, conn: RawConnection) -> Verdict:
    return _body_against_length(target, conn, b"body")


@GROUP.case("http2/8.1.2.6/2", "a body in two DATA frames longer than content-length")
def body_longer_twice(target: Target, conn: RawConnection) -> Verdict:
    return _body_against_length(target, conn, b"body", b"more")


@GROUP.case("http2/8.2/1", "PUSH_PROMISE from a client ends the connection")
def push_promise(target: Target, conn: RawConnection) -> Verdict:
    conn.handshake()
    promised = (3).to_bytes(4, "big")
    block = conn.encode(target.request())
    conn.write_frame(FrameType.PUSH_PROMISE, END_HEADERS, 1, promised + block)
    return rules.connection_error(conn, PROTOCOL_ERROR)
