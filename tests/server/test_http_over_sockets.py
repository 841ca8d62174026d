"""HTTP/1.x over real sockets: framing, keep-alive, pipelining, 100-continue, listeners."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.util import request_uri

import pytest

from tests.server.helpers import (
    READ_TIMEOUT,
    Environ,
    RawClient,
    Recorder,
    StartResponse,
    count_responses,
    echo_app,
    get,
    path_app,
)
from wsgiserver.testing import RunningServer, serving


def chunked(*pieces: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces if p) + b"0\r\n\r\n"


# -- keep-alive and pipelining ----------------------------------------------------------------


def test_keep_alive_serves_several_requests_on_one_connection(client: RawClient) -> None:
    for i in range(5):
        response = client.request(get(f"/n{i}"))
        assert response.status == 200
        assert response.body == f"GET /n{i} len=0\n".encode()
        assert not response.closes
    assert client.buf == b""


def test_pipelined_requests_answered_in_order_not_glued(client: RawClient) -> None:
    post = b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    client.send(get("/a") + post + get("/c"))
    bodies = [client.read_response().body for _ in range(3)]
    assert bodies == [b"GET /a len=0\n", b"POST /b len=5\nhello", b"GET /c len=0\n"]
    assert client.buf == b""  # nothing extra glued to the last response
    assert client.request(get("/d")).body == b"GET /d len=0\n"  # still usable


def test_http10_without_keep_alive_is_close_delimited() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"one "
        yield b"two"

    with serving(app) as srv, RawClient((srv.host, srv.port)) as client:
        response = client.request(get("/", version="1.0"))
        assert response.version == "HTTP/1.1"
        assert response.status == 200
        assert response.header("content-length") is None
        assert response.header("transfer-encoding") is None
        assert response.body == b"one two"  # read until close
        assert client.eof


def test_http10_keep_alive_is_honoured(client: RawClient) -> None:
    for path in ("/x", "/y"):
        response = client.request(get(path, version="1.0", headers="Connection: keep-alive\r\n"))
        assert response.status == 200
        assert response.body == f"GET {path} len=0\n".encode()
        assert (response.header("connection") or "").lower() == "keep-alive"
    # Without keep-alive the server answers and closes.
    response = client.request(get("/z", version="1.0"))
    assert response.body == b"GET /z len=0\n"
    client.assert_closed()


def test_http10_generator_with_keep_alive_still_closes() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"abc"

    with serving(app) as srv, RawClient((srv.host, srv.port)) as client:
        client.send(get("/", version="1.0", headers="Connection: keep-alive\r\n"))
        response = client.read_response()
        assert response.body == b"abc"
        assert client.eof


def test_head_has_no_body_but_keeps_content_length(client: RawClient) -> None:
    response = client.request(b"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n", head=True)
    assert response.status == 200
    assert response.header("content-length") == str(len(b"HEAD /h len=0\n"))
    # No body bytes were sent: the next response starts right away.
    assert client.buf == b""
    assert client.request(get("/after")).body == b"GET /after len=0\n"


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified"])
def test_no_body_statuses(status: str) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response(status, [("ETag", '"x"')])
        return [b""]

    with serving(app) as srv, RawClient((srv.host, srv.port)) as client:
        for _ in range(2):
            response = client.request(get())
            assert response.status == int(status[:3])
            assert response.header("transfer-encoding") is None
            assert status.startswith("304") or response.header("content-length") is None
            assert client.buf == b""


# -- request bodies ---------------------------------------------------------------------------


def test_chunked_request_body_is_read_by_the_app(client: RawClient) -> None:
    head = b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    response = client.request(head + chunked(b"hello ", b"chunked ", b"world"))
    assert response.body == b"POST /up len=19\nhello chunked world"
    assert client.request(get("/next")).body == b"GET /next len=0\n"


def test_generator_response_is_chunked_on_http11() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        for i in range(3):
            yield b"part%d;" % i

    with serving(app) as srv, RawClient((srv.host, srv.port)) as client:
        for _ in range(2):
            response = client.request(get())
            assert response.chunked
            assert response.header("content-length") is None
            assert response.body == b"part0;part1;part2;"


def test_expect_continue_sent_when_app_reads_body(client: RawClient) -> None:
    client.send(b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    interim = client.read_response()  # blocks until the server asks for the body
    assert interim.status == 100
    client.send(b"hello")
    response = client.read_response()
    assert response.status == 200
    assert response.body == b"POST /e len=5\nhello"


def test_expect_continue_not_sent_when_app_ignores_body() -> None:
    with serving(path_app) as srv, RawClient((srv.host, srv.port)) as client:
        client.send(
            b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        response = client.read_response()
        assert response.status == 200
        assert response.body == b"/e"
        # The body may or may not follow; the server cannot tell it from a next request.
        assert response.closes


def test_expect_continue_with_too_large_body_gets_413_without_100() -> None:
    with serving(echo_app, max_body_size=10) as srv, RawClient((srv.host, srv.port)) as c:
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n")
        response = c.read_response()
        assert response.status == 413
        assert response.closes
        c.assert_closed()


def test_small_unread_body_is_drained_and_connection_kept() -> None:
    with serving(path_app) as srv, RawClient((srv.host, srv.port)) as client:
        for i in range(3):
            sized = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"x" * 1000
            response = client.request(sized)
            assert (response.body, response.closes) == (b"/a", False), i
        assert client.request(get("/c")).body == b"/c"


def test_unread_streamed_chunked_body_ends_the_connection_cleanly() -> None:
    # A streamed chunked body's size is unknown: the server answers, then closes instead of
    # draining it.
    with (
        serving(path_app, stream_chunked=True) as srv,
        RawClient((srv.host, srv.port)) as client,
    ):
        head = b"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        client.send(head + chunked(b"y" * 3000) + get("/never"))
        response = client.read_response()
        assert response.body == b"/b"
        assert response.closes
        assert client.read_until_close() == b""


def test_unread_buffered_chunked_body_keeps_the_connection() -> None:
    # By default the chunked body was received whole before the app ran: nothing is left
    # to drain, so the connection carries the pipelined request behind it.
    with serving(path_app) as srv, RawClient((srv.host, srv.port)) as client:
        head = b"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        client.send(head + chunked(b"y" * 3000) + get("/next"))
        response = client.read_response()
        assert response.body == b"/b"
        assert not response.closes
        assert client.read_response().body == b"/next"


def test_large_unread_body_closes_the_connection() -> None:
    with serving(path_app) as srv, RawClient((srv.host, srv.port)) as client:
        client.send(b"POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n")
        client.send(b"z" * 70000)
        response = client.read_response()
        assert response.body == b"/big"
        assert response.closes
        client.sock.shutdown(socket.SHUT_WR)
        client.assert_closed()


# -- listeners --------------------------------------------------------------------------------


def _has_ipv6() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_ipv6(), reason="no IPv6 loopback")
def test_ipv6_loopback() -> None:
    with serving(echo_app, bind="[::1]:0") as srv:
        assert srv.host == "::1"
        assert srv.url == f"http://[::1]:{srv.port}"
        with RawClient(("::1", srv.port)) as client:
            assert client.request(get("/v6")).body == b"GET /v6 len=0\n"


@pytest.mark.skipif(not _has_ipv6(), reason="no IPv6 loopback")
def test_ipv6_server_name_is_bracketed_so_urls_rebuild() -> None:
    # RFC 3875 section 4.1.14; PEP 3333 "URL Reconstruction" (wsgiref.util.request_uri).
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"{environ['SERVER_NAME']} {request_uri(environ)}".encode()]

    with serving(app, bind="[::1]:0") as srv, RawClient(("::1", srv.port)) as client:
        response = client.request(b"GET /p?q HTTP/1.0\r\n\r\n")
        assert response.body == f"[::1] http://[::1]:{srv.port}/p?q".encode()


def test_unix_socket_serves_and_is_removed_on_shutdown(tmp_path: Path) -> None:
    path = str(tmp_path / "app.sock")
    with serving(echo_app, bind=f"unix:{path}") as srv:
        assert srv.address == path
        with RawClient(path) as client:
            assert client.request(get("/unix")).body == b"GET /unix len=0\n"
    assert not os.path.exists(path)


def test_several_listeners_at_once(tmp_path: Path) -> None:
    path = str(tmp_path / "s.sock")
    with serving(path_app, bind=["127.0.0.1:0", "127.0.0.1:0", f"unix:{path}"]) as srv:
        addresses = srv.server.addresses
        assert len(addresses) == 3
        assert addresses[0].port != addresses[1].port
        for address in addresses:
            target = address.path if address.path is not None else (address.host, address.port)
            with RawClient(target) as client:
                assert client.request(get("/multi")).body == b"/multi"
    assert not os.path.exists(path)


# -- files ------------------------------------------------------------------------------------


def test_file_wrapper_uses_sendfile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = os.urandom(200_000)
    source = tmp_path / "blob.bin"
    source.write_bytes(data)
    calls: list[tuple[int, int]] = []
    real_sendfile = os.sendfile

    def spy(out_fd: int, in_fd: int, offset: int, count: int) -> int:
        sent = real_sendfile(out_fd, in_fd, offset, count)
        calls.append((offset, sent))
        return sent

    monkeypatch.setattr(os, "sendfile", spy)

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        wrapper: Any = environ["wsgi.file_wrapper"](source.open("rb"))
        return wrapper  # type: ignore[no-any-return]

    with serving(app) as srv, RawClient((srv.host, srv.port)) as client:
        response = client.request(get("/f"))
        assert response.header("content-length") == str(len(data))
        assert response.body == data
        again = client.request(get("/f"))  # framing intact: the connection is reusable
        assert again.body == data
    # Each response is the whole file, in one or more calls (as the socket takes it).
    starts = [i for i, (offset, _) in enumerate(calls) if offset == 0]
    assert len(starts) == 2
    for first, end in zip(starts, [*starts[1:], len(calls)], strict=True):
        assert sum(sent for _, sent in calls[first:end]) == len(data)


# -- application errors -----------------------------------------------------------------------


def test_app_error_before_start_response_is_500(caplog: pytest.LogCaptureFixture) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/boom":
            raise ValueError("boom")
        return path_app(environ, start_response)

    with serving(app) as srv:
        with caplog.at_level(logging.ERROR), RawClient((srv.host, srv.port)) as client:
            response = client.request(get("/boom"))
            assert response.status == 500
            assert response.closes
            client.assert_closed()
        assert any(r.levelno >= logging.ERROR and r.exc_info for r in caplog.records)
        with RawClient((srv.host, srv.port)) as client:
            assert client.request(get("/fine")).body == b"/fine"


def test_connect_is_501_without_running_the_app() -> None:
    # RFC 9110 section 9.3.6: a 2xx to CONNECT makes the connection a tunnel, which a WSGI
    # app cannot run; an ordinary page would have gone out as "tunnel established".
    called = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        called.append(environ["REQUEST_METHOD"])
        return path_app(environ, start_response)

    with serving(app) as srv, RawClient((srv.host, srv.port)) as client:
        response = client.request(
            b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
        )
        assert response.status == 501
        assert response.closes
        client.assert_closed()
        (record,) = srv.wait_for_requests(1)
    assert record.status == 501
    assert called == []


def test_a_body_yielding_something_else_than_bytes_is_a_500_that_says_so() -> None:
    # The log names the body, not write(), which the app did not call.
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield bytearray(b"not bytes")  # type: ignore[misc]

    with serving(app) as srv, RawClient((srv.host, srv.port)) as client:
        assert client.request(get("/")).status == 500
        assert len(srv.take_app_errors()) == 1
    assert "the body must yield bytes, got bytearray" in srv.log_text()
    assert "write()" not in srv.log_text()


SECRET = "internal-api-key-3f9a01c2"


def leaky_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """Broken apps whose mistake quotes a secret: a header value read from a file with its
    newline, a Content-Length or a status built from it."""
    path = environ["PATH_INFO"]
    if path == "/header":
        start_response("200 OK", [("X-Upstream-Auth", f"{SECRET}\n")])
    elif path == "/length":
        start_response("200 OK", [("Content-Length", SECRET)])
    else:
        start_response(f"200 {SECRET}\n", [])
    return [b"never sent"]


@pytest.mark.parametrize("path", ["/header", "/length", "/status"])
def test_a_500_for_a_broken_response_does_not_show_the_apps_values(
    path: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The detail, with the app's own values, is for the error log only (with the request
    # id); the client is told the app failed.
    with serving(leaky_app) as srv:
        with caplog.at_level(logging.ERROR), RawClient((srv.host, srv.port)) as client:
            response = client.request(get(path))
        errors = srv.take_app_errors()
    assert response.status == 500
    assert SECRET.encode() not in response.body
    assert b"error log" in response.body
    assert len(errors) == 1
    assert SECRET in srv.log_text()


def test_app_error_after_head_aborts_chunked_stream(caplog: pytest.LogCaptureFixture) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"first"
        raise ValueError("mid-stream")

    with (
        caplog.at_level(logging.ERROR),
        serving(app) as srv,
        RawClient((srv.host, srv.port)) as client,
    ):
        client.send(get())
        raw = client.read_until_close()
        assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"Transfer-Encoding: chunked\r\n" in raw
        assert raw.endswith(b"5\r\nfirst\r\n")  # aborted: no 0\r\n\r\n terminator
        assert count_responses(raw) == 1  # and never a second status line


def read_to_the_end(sock: socket.socket) -> tuple[bytes, str]:
    """What the server sent, and how it ended: "close" (a clean end) or "reset"."""
    received = b""
    while True:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            return received, "reset"
        if not data:
            return received, "close"
        received += data


@pytest.mark.parametrize(
    "how",
    ["app-error", pytest.param("request-timeout", marks=pytest.mark.interrupts_threads)],
)
def test_a_close_delimited_response_cut_short_ends_in_a_reset(
    how: str, caplog: pytest.LogCaptureFixture
) -> None:
    # RFC 9112 section 8: an HTTP/1.0 body without Content-Length is delimited by the close,
    # so a clean close after a cut looks like the whole body to the client. An abortive
    # close (a reset) is the one way to say "incomplete". (A chunked or Content-Length body
    # says so by its framing, and keeps its clean close: a reset could drop its head.)
    stalled = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"first"
        if how == "app-error":
            raise ValueError("mid-stream")
        for _ in range(200):  # short waits: RequestTimeout lands between two of them
            if stalled.wait(0.05):
                break
        yield b"last"

    options: dict[str, Any] = {"request_timeout": 0.3} if how == "request-timeout" else {}
    with caplog.at_level(logging.ERROR), serving(app, **options) as srv:
        with socket.create_connection((srv.host, srv.port), timeout=READ_TIMEOUT) as sock:
            sock.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
            received, ending = read_to_the_end(sock)
        stalled.set()
        assert ending == "reset", received
        # What arrived before the reset (a reset may discard unread bytes) is its start.
        assert (received or b"HTTP/1.1").startswith(b"HTTP/1.1")
        assert b"\r\n\r\n" not in received or b"first" in received


@pytest.mark.parametrize("length", [2000, 200_000], ids=["received-first", "read-by-the-app"])
def test_a_client_that_half_closes_mid_body_gets_a_400(length: int) -> None:
    # A small body is received before the app runs, a large one as the app reads it: the
    # client that stops sending halfway (shutdown of its sending side) gets the same answer.
    with serving(echo_app) as srv, RawClient((srv.host, srv.port)) as client:
        head = f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n"
        client.send(head.encode() + b"x" * 1000)
        client.sock.shutdown(socket.SHUT_WR)
        response = client.read_response()
        assert response.status == 400
        assert b"connection closed before the request body was complete" in response.body
    assert [r.status for r in srv.access_records] == [400]


class AppKilledThread(KeyboardInterrupt):
    """A BaseException that is not an Exception, like a stray SystemExit/KeyboardInterrupt."""


@pytest.mark.parametrize("exc_type", [AppKilledThread, SystemExit])
def test_base_exception_from_app_does_not_kill_the_pool(
    exc_type: type[BaseException], caplog: pytest.LogCaptureFixture
) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/die":
            raise exc_type("from the app")
        return path_app(environ, start_response)

    with caplog.at_level(logging.ERROR), serving(app, threads=1, max_threads=1) as srv:
        for _ in range(3):
            with RawClient((srv.host, srv.port)) as client:
                client.send(get("/die"))
                raw = client.read_until_close()
                # Nothing was sent yet, so the client is told: 500, never a bare close.
                assert raw.startswith(b"HTTP/1.1 500 ")
                assert count_responses(raw) == 1
        with RawClient((srv.host, srv.port)) as client:
            assert client.request(get("/alive")).body == b"/alive"


def test_many_concurrent_clients() -> None:
    recorder = Recorder()
    with serving(recorder, threads=2, max_threads=8) as srv:
        errors: list[BaseException] = []
        start = threading.Barrier(10)

        def one(i: int) -> None:
            try:
                start.wait()
                with RawClient((srv.host, srv.port)) as client:
                    for j in range(5):
                        body = client.request(get(f"/c{i}-{j}")).body
                        assert body == f"ok /c{i}-{j}".encode()
            except BaseException as exc:
                errors.append(exc)

        workers = [threading.Thread(target=one, args=(i,)) for i in range(10)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert errors == []
        assert len(recorder.paths) == 50


def test_running_server_url(echo_server: RunningServer) -> None:
    assert echo_server.url == f"http://127.0.0.1:{echo_server.port}"
    assert echo_server.port > 0
