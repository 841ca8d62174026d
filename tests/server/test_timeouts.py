"""Timeouts with short configured values. Reads block with a socket timeout far above the
configured one, so a server that never times out fails the test instead of hanging it."""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterable

import pytest

from tests.server.helpers import Environ, RawClient, StartResponse, echo_app, get, path_app
from wsgiserver.testing import serving
from wsgiserver.types import WSGIApp

SHORT = 0.3
UPPER_BOUND = 4.0  # "it did not hang": far above SHORT, below the client's read timeout


def test_idle_keep_alive_connection_is_closed_after_keepalive_timeout() -> None:
    with (
        serving(path_app, keepalive_timeout=SHORT) as srv,
        RawClient((srv.host, srv.port)) as client,
    ):
        assert client.request(get("/1")).body == b"/1"
        started = time.monotonic()
        client.assert_closed()  # closed silently: no 408 for an idle connection
        assert time.monotonic() - started < UPPER_BOUND


def test_keep_alive_timer_restarts_after_each_request() -> None:
    with (
        serving(path_app, keepalive_timeout=SHORT) as srv,
        RawClient((srv.host, srv.port)) as client,
    ):
        for i in range(3):
            assert client.request(get(f"/{i}")).body == f"/{i}".encode()
        client.assert_closed()


def test_partial_head_gets_408_then_close() -> None:
    with serving(path_app, header_timeout=SHORT) as srv, RawClient((srv.host, srv.port)) as client:
        client.send(b"GET /slow HTTP/1.1\r\nHo")
        response = client.read_response()
        assert response.status == 408
        assert response.closes
        client.assert_closed()


def test_silent_connection_gets_408_then_close() -> None:
    with serving(path_app, header_timeout=SHORT) as srv, RawClient((srv.host, srv.port)) as client:
        started = time.monotonic()
        response = client.read_response()
        assert response.status == 408
        client.assert_closed()
        assert time.monotonic() - started < UPPER_BOUND


def test_partial_second_head_on_keep_alive_gets_408() -> None:
    with (
        serving(path_app, header_timeout=SHORT, keepalive_timeout=30.0) as srv,
        RawClient((srv.host, srv.port)) as client,
    ):
        assert client.request(get("/first")).body == b"/first"
        client.send(b"GET /second HTTP/1.1\r\n")
        response = client.read_response()
        assert response.status == 408
        client.assert_closed()


class BodyReader:
    """Reads the body; records what wsgi.input raised (the server answers for it)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.raised: list[BaseException] = []

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        self.entered.set()
        try:
            body = environ["wsgi.input"].read()
        except Exception as exc:
            self.raised.append(exc)
            raise
        start_response("200 OK", [])
        return [body]


@pytest.mark.parametrize(
    "head",
    [
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n",  # app reads
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n100\r\nab",
    ],
    ids=["content-length", "chunked"],
)
def test_stalled_body_while_app_reads_gets_408(head: bytes) -> None:
    app = BodyReader()
    with (
        serving(app, body_timeout=SHORT, stream_chunked=True) as srv,
        RawClient((srv.host, srv.port)) as client,
    ):
        client.send(head + b"partial")
        response = client.read_response()
        assert response.status == 408
        assert response.closes
        client.sock.shutdown(socket.SHUT_WR)
        client.assert_closed()
    assert app.entered.is_set()
    assert len(app.raised) == 1


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly-a-bit",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n100\r\nonly-a-bit",
    ],
    ids=["content-length", "chunked"],
)
def test_stalled_small_body_is_timed_out_before_the_app_runs(request_bytes: bytes) -> None:
    app = BodyReader()
    with serving(app, body_timeout=SHORT) as srv, RawClient((srv.host, srv.port)) as client:
        client.send(request_bytes)
        response = client.read_response()
        assert response.status == 408
        client.sock.shutdown(socket.SHUT_WR)
        client.assert_closed()
    assert not app.entered.is_set()  # prebuffered bodies wait in the poller, not in the app


def test_stalled_body_after_response_started_ends_connection() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        write = start_response("200 OK", [])
        write(b"started")
        environ["wsgi.input"].read()
        return [b"never"]

    with serving(app, body_timeout=SHORT) as srv, RawClient((srv.host, srv.port)) as client:
        client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nabc")
        client.sock.shutdown(socket.SHUT_WR)
        raw = client.read_until_close()
        assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"408" not in raw  # no second status line once a response has begun
        assert not raw.endswith(b"0\r\n\r\n")


@pytest.mark.slow
def test_idle_parked_connections_hold_no_thread() -> None:
    baseline = threading.active_count()
    with serving(echo_app, threads=2, max_threads=6, keepalive_timeout=60.0) as srv:
        clients: list[RawClient] = []
        try:
            for i in range(200):
                client = RawClient((srv.host, srv.port))
                clients.append(client)
                if i % 2:  # half idle after a request, half idle before sending anything
                    assert client.request(get(f"/{i}")).status == 200
            # Idle connections wait in the poller: the pool did not grow per connection.
            assert threading.active_count() <= baseline + 1 + 6
            with RawClient((srv.host, srv.port)) as fresh:
                assert fresh.request(get("/fresh")).body == b"GET /fresh len=0\n"
            for client in clients[1:10:2]:  # and parked ones wake up when they speak
                assert client.request(get("/again")).status == 200
        finally:
            for client in clients:
                client.close()


def test_client_that_never_reads_is_cut_off_after_send_timeout() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        chunk = b"x" * (1 << 20)
        return (chunk for _ in range(64))  # far more than the socket buffers hold

    with serving(app, send_timeout=SHORT, threads=1, max_threads=1) as srv:
        stuck = socket.create_connection((srv.host, srv.port))
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        try:
            stuck.sendall(get("/big"))
            # The only worker is freed once the send times out: this is answered.
            with RawClient((srv.host, srv.port)) as client:
                client.send(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
                assert client.read_response(head=True).status == 200
        finally:
            stuck.close()


def _blocking_app(entered: threading.Event, release: threading.Event) -> WSGIApp:
    """`/block` holds its thread until `release`; every other path answers its own path."""

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/block":
            entered.set()
            release.wait(UPPER_BOUND * 2)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["PATH_INFO"].encode()]

    return app


def _silent_for(client: RawClient, seconds: float) -> bool:
    """Nothing (no byte, no close) reaches `client` for `seconds`: a deadline that would
    end the connection has had its chance to."""
    readable, _, _ = select.select([client.sock], [], [], seconds)
    return not readable


def test_a_keep_alive_request_waiting_for_a_busy_thread_outlives_the_keep_alive_deadline() -> None:
    """The next request of a keep-alive connection arrived in time, but the only thread was
    busy past the connection's keep-alive deadline: it used to be closed unanswered (a reset
    the client cannot tell from a request that never ran). It is served once a thread is."""
    entered, release = threading.Event(), threading.Event()
    app = _blocking_app(entered, release)
    with serving(app, threads=1, max_threads=1, keepalive_timeout=SHORT) as srv:
        address = (srv.host, srv.port)
        with RawClient(address) as waiting, RawClient(address) as blocker:
            assert waiting.request(get("/1")).body == b"/1"  # now parked, its deadline runs
            blocker.send(get("/block"))
            assert entered.wait(UPPER_BOUND)
            waiting.send(get("/2"))  # in time; no thread is free to read it
            try:
                assert _silent_for(waiting, 4 * SHORT)
            finally:
                release.set()
            assert blocker.read_response().status == 200
            assert waiting.read_response().body == b"/2"


@pytest.mark.parametrize(
    ("rest", "status"),
    [(b"Host: a\r\n\r\n", 200), (b"Host: a\r\n", 408)],
    ids=["whole-head-served", "incomplete-head-408"],
)
def test_a_head_waiting_for_a_busy_thread_past_the_header_deadline(
    rest: bytes, status: int
) -> None:
    """A new connection's head arrived, but the only thread was busy past the header
    deadline. Whole, it used to get a 408 (and a reset, its request unread), though the wait
    was the server's: it is served once a thread is free. Still incomplete when it is served,
    it gets its 408 then, as any head that misses its deadline (a trickle of bytes cannot
    keep a connection alive)."""
    entered, release = threading.Event(), threading.Event()
    app = _blocking_app(entered, release)
    with serving(app, threads=1, max_threads=1, header_timeout=SHORT) as srv:
        address = (srv.host, srv.port)
        with RawClient(address) as waiting, RawClient(address) as blocker:
            # Accepted first (one thread, first in first out): its header deadline runs
            # from then, and it is parked before the blocker takes the thread.
            waiting.send(b"GET /2 HTTP/1.1\r\n")
            blocker.send(get("/block"))
            assert entered.wait(UPPER_BOUND)
            waiting.send(rest)
            try:
                assert _silent_for(waiting, 4 * SHORT)
            finally:
                release.set()
            assert blocker.read_response().status == 200
            response = waiting.read_response()
            assert response.status == status
            if status == 200:
                assert response.body == b"/2"
            else:
                waiting.assert_closed()
