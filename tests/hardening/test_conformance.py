"""RFC 9110 / RFC 9112 server requirements checked over real sockets.

The protocol corpus (tests/protocol/corpus.py) checks the parser's answer for each rule; these
check what actually reaches the client: status, `Connection: close`, no body where none may
be, and that the next response on the connection still parses (a stray body byte would glue
itself to it). Each test cites the section it checks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import pytest

from tests.server.helpers import Environ, RawClient, StartResponse, get
from wsgiserver.testing import serving


def streaming_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """Streams a generator body (no Content-Length); /status/NNN answers that status."""
    path = environ["PATH_INFO"]
    status = "200 OK"
    if path.startswith("/status/"):
        status = path[8:] + " Whatever"

    def body() -> Iterator[bytes]:
        yield b"body of "
        yield path.encode()

    start_response(status, [("Content-Type", "text/plain")])
    return body()


def host_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [])
    return [f"{environ.get('HTTP_HOST')} {environ['wsgi.url_scheme']}".encode()]


def server_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [])
    return [f"{environ['SERVER_NAME']} {environ['SERVER_PORT']}".encode()]


def test_head_response_never_carries_a_streamed_body() -> None:
    """RFC 9110 section 9.3.2: the server MUST NOT send content in a response to HEAD, even
    when the app streams one: the next response on the connection must parse right away."""
    with serving(streaming_app) as srv, RawClient((srv.host, srv.port)) as client:
        client.send(b"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n" + get("/next"))
        head = client.read_response(head=True)
        assert head.status == 200
        following = client.read_response()
        assert following.body == b"body of /next"


@pytest.mark.parametrize("status", ["204", "304", "304-with-length"])
def test_no_content_statuses_never_carry_a_body(status: str) -> None:
    """RFC 9110 sections 15.3.5 and 15.4.5, RFC 9112 section 6.3 item 1: 204 and 304 end at
    the empty line, whatever the app yields; no Transfer-Encoding (RFC 9112 section 6.1)."""

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/next":
            return streaming_app(environ, start_response)
        headers = [("Content-Length", "7")] if status == "304-with-length" else []
        start_response(status[:3] + " X", headers)
        return iter([b"ignored"])

    with serving(app) as srv, RawClient((srv.host, srv.port)) as client:
        client.send(get("/nothing") + get("/next"))
        first = client.read_response()
        assert first.status == int(status[:3])
        assert first.header("transfer-encoding") is None
        if status == "204":
            assert first.header("content-length") is None  # RFC 9110 section 8.6: MUST NOT
        assert client.read_response().body == b"body of /next"


def test_unknown_expectation_is_417_over_sockets() -> None:
    """RFC 9110 section 10.1.1: a server MAY answer 417 to an expectation it cannot meet."""
    with serving(streaming_app) as srv, RawClient((srv.host, srv.port)) as client:
        response = client.request(get(headers="Expect: 200-ok\r\nContent-Length: 0\r\n"))
        assert response.status == 417
        assert response.closes
        client.assert_closed()


@pytest.mark.parametrize("version", [b"HTTP/2.0", b"HTTP/3.0", b"HTTP/0.9"])
def test_unsupported_major_version_is_505_over_sockets(version: bytes) -> None:
    """RFC 9110 section 15.6.6: 505 for a major version the server does not support."""
    with serving(streaming_app) as srv, RawClient((srv.host, srv.port)) as client:
        response = client.request(b"GET / " + version + b"\r\nHost: x\r\n\r\n")
        assert response.status == 505
        assert response.closes
        client.assert_closed()


def test_absolute_form_target_overrides_host() -> None:
    """RFC 9112 section 3.2.2: the server MUST ignore the Host field and use the target's."""
    with serving(host_app) as srv, RawClient((srv.host, srv.port)) as client:
        response = client.request(
            b"GET https://origin.test:8443/p HTTP/1.1\r\nHost: other.test\r\n\r\n"
        )
        assert response.body == b"origin.test:8443 https"


@pytest.mark.parametrize(
    ("target", "server"),
    [
        (b"https://origin.test:8443/p", b"origin.test 8443"),
        (b"https://origin.test/p", b"origin.test 443"),
    ],
)
def test_absolute_form_from_a_trusted_proxy_sets_server_name_and_port(
    target: bytes, server: bytes
) -> None:
    """SERVER_NAME and SERVER_PORT follow the public host when a trusted proxy names it, in
    an absolute-form target as in X-Forwarded-Host (they stayed the socket's)."""
    with serving(server_app) as srv, RawClient((srv.host, srv.port)) as client:
        response = client.request(b"GET " + target + b" HTTP/1.1\r\nHost: other.test\r\n\r\n")
        assert response.body == server


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"HEAD / HTTP/1.1\r\n\r\n", 400),  # no Host
        (b"HEAD / HTTP/1.1\r\nHost: x\r\nBad : y\r\n\r\n", 400),
        (b"HEAD /a#b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"HEAD / HTTP/1.1\r\nHost: x\r\nExpect: foo\r\n\r\n", 417),
        (b"HEAD / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n", 413),
        (b"HEAD /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"HEAD / HTTP/1.1\r\nHost: x\r\n" + b"X: y\r\n" * 101 + b"\r\n", 431),
        (b"HEAD / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    ],
    ids=["no-host", "space-before-colon", "fragment", "417", "413", "414", "431", "505"],
)
def test_an_error_answering_head_has_no_content(request_bytes: bytes, status: int) -> None:
    """RFC 9110 section 9.3.2: the server MUST NOT send content in a response to HEAD, also
    when it refuses the request itself; Content-Length may still say what GET would get."""
    with serving(host_app) as srv, RawClient((srv.host, srv.port)) as client:
        client.send(request_bytes)
        response = client.read_response(head=True)
        assert response.status == status
        assert response.closes
        assert client.read_until_close() == b""


def test_an_error_answering_get_keeps_its_content() -> None:
    with serving(host_app) as srv, RawClient((srv.host, srv.port)) as client:
        response = client.request(b"GET / HTTP/1.1\r\n\r\n")
        assert response.status == 400
        assert response.body.startswith(b"400 Bad Request")


@pytest.mark.parametrize(
    ("sent", "explained"),
    [
        (b"\x16\x03\x01\x02\x00", b"this port speaks plain HTTP, not HTTPS (TLS)"),
        (b"GET\x00", b"invalid request line"),
        (b"\r\n GET", b"invalid request line"),  # empty lines are ignored, a space is not
    ],
    ids=["tls-client-hello", "nul-in-method", "space-after-empty-line"],
)
def test_bytes_that_start_no_request_line_get_400_at_once(sent: bytes, explained: bytes) -> None:
    """RFC 9112 section 3: a method is a token. Bytes that cannot start a request line are
    answered 400 as soon as they arrive, not 408 once the head timeout passes: the head
    timeout is far longer than the client waits for its answer."""
    with (
        serving(host_app, header_timeout=600.0) as srv,
        RawClient((srv.host, srv.port), timeout=10.0) as client,
    ):
        client.send(sent)
        response = client.read_response()
        assert response.status == 400
        assert response.closes
        assert explained in response.body


def test_a_head_that_times_out_gets_a_408_without_content() -> None:
    """RFC 9110 section 15.5.9 and 9.3.2: 408 for a head never completed, with no content
    when that head was a HEAD."""
    with serving(host_app, header_timeout=0.2) as srv, RawClient((srv.host, srv.port)) as client:
        client.send(b"HEAD / HTTP/1.1\r\nHost: x\r\n")
        response = client.read_response(head=True)
        assert response.status == 408
        assert response.closes
        assert client.read_until_close() == b""


def test_absolute_form_scheme_is_only_taken_from_a_trusted_proxy() -> None:
    """An absolute-form target names a scheme, but over a plain connection only a trusted
    proxy may say the client's side was https (as with X-Forwarded-Proto); the authority
    still wins over Host (RFC 9112 section 3.2.2)."""
    request = b"GET https://origin.test/p HTTP/1.1\r\nHost: other.test\r\n\r\n"
    with (
        serving(host_app, forwarded_allow_ips="192.0.2.1") as srv,
        RawClient((srv.host, srv.port)) as client,
    ):
        assert client.request(request).body == b"origin.test http"


@pytest.mark.parametrize(
    "body",
    [b"5\r\nhello\r\nZZ\r\n", b"8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n"],
    ids=["bad-chunk-size", "over-max-body-size"],
)
def test_a_body_error_the_app_swallows_still_announces_the_close(body: bytes) -> None:
    """RFC 9112 section 9.6: after a framing error the connection cannot persist, so the
    answer the app gives anyway must say "Connection: close"; a pipelined request behind it
    is never answered (its bytes may be the broken body's)."""

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        with contextlib.suppress(Exception):  # the app's own choice: answer 200 anyway
            environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"answered"]

    request = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body
    # Streamed to the app (--stream-chunked): only then can the app see the error first.
    with (
        serving(app, max_body_size=10, stream_chunked=True) as srv,
        RawClient((srv.host, srv.port)) as client,
    ):
        client.send(request + get("/second"))
        response = client.read_response()
        assert response.body == b"answered"
        assert response.closes
        assert client.read_until_close() == b""


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"5\r\nhello\r\nZZ\r\n", 400), (b"8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n", 413)],
    ids=["bad-chunk-size", "over-max-body-size"],
)
def test_a_buffered_chunked_body_error_is_answered_before_the_app_runs(
    body: bytes, status: int
) -> None:
    """By default a chunked body is received whole first, so a framing error or a body over
    --max-body-size is the server's answer (with its status and a close); the app never runs
    and the pipelined request behind it is never answered."""
    calls: list[str] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        calls.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"answered"]

    request = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body
    with serving(app, max_body_size=10) as srv, RawClient((srv.host, srv.port)) as client:
        client.send(request + get("/second"))
        response = client.read_response()
        assert response.status == status
        assert response.closes
        assert client.read_until_close() == b""
    assert calls == []


@pytest.mark.parametrize(
    "fields",
    [b"", b"Host: a\r\nHost: b\r\n", b"Host: a b\r\n", b"Host: a/b\r\n", b"Host: u@a\r\n"],
    ids=["missing", "duplicate", "space", "slash", "userinfo"],
)
def test_bad_host_is_400_over_sockets(fields: bytes) -> None:
    """RFC 9112 section 3.2: MUST respond 400 to a missing, repeated or invalid Host."""
    with serving(host_app) as srv, RawClient((srv.host, srv.port)) as client:
        response = client.request(b"GET / HTTP/1.1\r\n" + fields + b"\r\n")
        assert response.status == 400
        assert response.closes


def test_unknown_transfer_coding_is_501_over_sockets() -> None:
    """RFC 9112 section 6.1: a server SHOULD answer 501 to a coding it does not understand."""
    with serving(host_app) as srv, RawClient((srv.host, srv.port)) as client:
        response = client.request(
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"
        )
        assert response.status == 501
        assert response.closes
        client.assert_closed()


def test_connection_close_is_honoured_and_nothing_after_it_is_answered() -> None:
    """RFC 9112 section 9.6: after a `close` request the server MUST close after responding."""
    with serving(streaming_app) as srv, RawClient((srv.host, srv.port)) as client:
        client.send(get("/a", headers="Connection: close\r\n") + get("/b"))
        response = client.read_response()
        assert response.body == b"body of /a"
        assert response.closes
        client.assert_closed()


def test_date_is_sent_on_success_and_client_errors() -> None:
    """RFC 9110 section 6.6.1: an origin server with a clock MUST send Date on 2xx-4xx."""
    with serving(streaming_app) as srv:
        with RawClient((srv.host, srv.port)) as client:
            assert client.request(get()).header("date")
        with RawClient((srv.host, srv.port)) as client:
            assert client.request(b"GET / HTTP/1.1\r\n\r\n").header("date")


@pytest.mark.parametrize(
    ("size_line", "status"),
    [(b"ffffffffffffffff", 413), (b"10000000000000000", 400), (b"0000000000000041", 413)],
)
def test_chunk_size_bounds_over_sockets(size_line: bytes, status: int) -> None:
    """RFC 9112 section 7.1: recipients MUST prevent integer overflow in chunk sizes; a size
    above the body limit is 413 at once (RFC 9110 section 15.5.14), before any data."""

    def reader(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        environ["wsgi.input"].read()
        start_response("200 OK", [])
        return [b"read"]

    head = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    with (
        serving(reader, max_body_size=64) as srv,
        RawClient((srv.host, srv.port)) as client,
    ):
        response = client.request(head + size_line + b"\r\n")
        assert response.status == status
        assert response.closes


def test_trailers_count_against_the_header_limit_over_sockets() -> None:
    """RFC 9112 section 7.1.2 leaves trailer limits to us: trailers share the head's budget
    of field lines (--max-header-count), so a small head cannot smuggle in 100 more."""

    def reader(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        environ["wsgi.input"].read()
        start_response("200 OK", [])
        return [b"read"]

    head = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    with serving(reader, max_header_count=4) as srv:
        with RawClient((srv.host, srv.port)) as client:
            ok = client.request(head + b"1\r\nz\r\n0\r\nA: 1\r\nB: 2\r\n\r\n")
            assert ok.body == b"read"
        with RawClient((srv.host, srv.port)) as client:
            response = client.request(head + b"1\r\nz\r\n0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n")
            assert response.status == 400
            assert response.closes
