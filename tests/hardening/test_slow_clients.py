"""Slow and hostile clients: minimum body rate, send timeout, connection limit, starvation.

Configured timeouts are short; client reads block with a socket timeout far above them, so a
server that never acts fails the test instead of hanging it. Where a client must be slow
(dripping bytes), a helper thread paces its sends: that is the behaviour under test, not
synchronisation. Nothing here asserts a duration: outcomes are counted.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import pytest

from tests.server.helpers import (
    ConnectionEnded,
    Environ,
    RawClient,
    StartResponse,
    echo_app,
    get,
    path_app,
)
from wsgiserver.config.options import Config
from wsgiserver.errors import ConfigError, ConnectionLost
from wsgiserver.server.connections import refuse
from wsgiserver.testing import serving
from wsgiserver.transport.channel import SocketChannel

UPPER_BOUND = 10.0  # seconds: "does not hang", on a loaded machine


class Dripper:
    """Sends one byte on each socket every `interval` seconds until stopped."""

    def __init__(self, socks: list[socket.socket], interval: float) -> None:
        self.socks = socks
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for sock in self.socks:
                with contextlib.suppress(OSError):
                    sock.send(b"x")

    def __enter__(self) -> Dripper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# -- minimum body rate --------------------------------------------------------------------


@pytest.mark.parametrize("length", [10_000, 1_000_000], ids=["prebuffered", "read-by-app"])
def test_trickling_body_is_cut_with_408(length: int) -> None:
    """A body that keeps arriving (so the inactivity timeout never fires) but slower than
    --min-body-rate after the grace period is answered 408 and closed (RFC 9110 15.5.9).
    Bodies up to 64 KiB wait in the poller; bigger ones are read by the app: both paths."""
    with (
        serving(echo_app, body_timeout=30, min_body_rate=1000, body_rate_grace=0.2) as srv,
        RawClient((srv.host, srv.port)) as client,
    ):
        client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\nxx" % length)
        with Dripper([client.sock], 0.02):  # 50 bytes/s
            response = client.read_response()
        assert response.status == 408
        assert b"too slowly" in response.body
        assert response.closes


def test_body_at_a_good_rate_is_not_cut() -> None:
    """The rate limit is an average with a grace period: a normal upload is untouched."""
    with (
        serving(echo_app, min_body_rate=1000, body_rate_grace=0.2) as srv,
        RawClient((srv.host, srv.port)) as client,
    ):
        body = b"y" * 300_000
        response = client.request(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body
        )
        assert response.status == 200
        assert response.body.endswith(body)


def test_min_body_rate_zero_disables_it() -> None:
    with (
        serving(echo_app, body_timeout=0.3, min_body_rate=0, body_rate_grace=0) as srv,
        RawClient((srv.host, srv.port)) as client,
    ):
        client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nxx")
        response = client.read_response()  # the inactivity timeout, not the rate, fires
        assert response.status == 408
        assert b"not received in time" in response.body


@pytest.mark.parametrize(
    "options",
    [{"min_body_rate": -1}, {"body_rate_grace": -1.0}, {"max_connections": 0}],
)
def test_new_options_are_validated(options: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        Config(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("name", ["keepalive_timeout", "graceful_timeout", "header_timeout"])
def test_timeouts_must_be_finite_in_the_api_too(name: str, value: float) -> None:
    # As on the command line: a NaN deadline never expires, an infinite one is no timeout.
    with pytest.raises(ConfigError, match=f"{name}: expected a finite number"):
        Config(**{name: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name", ["keepalive_timeout", "graceful_timeout", "send_timeout", "request_timeout"]
)
def test_durations_have_a_ceiling(name: str) -> None:
    # The poller and thread waits take milliseconds as a C int: 1e10 s was accepted, then
    # crashed the start or the stop with an OverflowError traceback.
    assert getattr(Config.from_options({name: 1_000_000.0}), name) == 1_000_000.0
    with pytest.raises(ConfigError, match=f"{name} must be at most 1000000 seconds"):
        Config.from_options({name: 1e10})


def test_the_backlog_has_a_ceiling() -> None:
    # listen() takes a C int: 2**31 passed --check-config, then the start died.
    assert Config(backlog=2**31 - 1).backlog == 2**31 - 1
    with pytest.raises(ConfigError, match="backlog must be at most 2147483647"):
        Config(backlog=2**31)


# -- slow readers -------------------------------------------------------------------------


def test_a_slow_but_steady_reader_gets_a_large_body_whole() -> None:
    """--send-timeout bounds each wait for the client to take more, not the whole write: a
    body that is one 32 MiB bytes object, to a client that keeps reading (far longer than
    the timeout in all), arrives whole. socket.sendall's timeout covered the whole call and
    cut it after --send-timeout. A reader that stops is still cut off (test_timeouts.py)."""
    block = bytes(range(256)) * (1 << 17)  # 32 MiB

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Length", str(len(block)))])
        return [block]

    with serving(app, send_timeout=2.0) as srv:
        with socket.socket() as slow:
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            slow.settimeout(UPPER_BOUND)
            slow.connect((srv.host, srv.port))
            slow.sendall(get("/big", headers="Connection: close\r\n"))
            received = bytearray()
            # About 6 MB/s: several seconds for the whole body.
            while chunk := slow.recv(65536):
                received += chunk
                time.sleep(0.01)  # the pace under test, not synchronisation
        (record,) = srv.wait_for_requests(1)
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert body == block
    assert record.body_bytes == len(block)


def test_the_access_record_of_a_cut_response_counts_what_went_out() -> None:
    """A client that takes part of a body and goes away: the record's bytes are what was
    sent, not the body's size (one bytes object) nor nothing (a file)."""
    size = 32 << 20
    block = b"b" * size

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Length", str(size))])
        if environ["PATH_INFO"] == "/file":
            file = tempfile.TemporaryFile()  # noqa: SIM115 (the wrapper's close() closes it)
            file.write(block)
            file.seek(0)
            return environ["wsgi.file_wrapper"](file)  # type: ignore[no-any-return]
        return [block]

    with serving(app) as srv:
        taken = []
        for path in ("/bytes", "/file"):
            with socket.create_connection((srv.host, srv.port), timeout=UPPER_BOUND) as client:
                client.sendall(get(path))
                got = 0
                while got < 1 << 20 and (chunk := client.recv(65536)):
                    got += len(chunk)
                # Unread data waiting: the close is a reset, and the server's send fails.
            taken.append(got)
        records = srv.wait_for_requests(2)
    for record, got in zip(sorted(records, key=lambda r: r.target), taken, strict=True):
        assert record.status == 200
        assert got - 65536 <= record.body_bytes < size  # head included in `got`


# -- connection limit ---------------------------------------------------------------------


def test_connections_over_the_limit_get_503_retry_after_and_close() -> None:
    """RFC 9110 section 15.6.4: overload is answered 503 with Retry-After (section 10.2.3),
    at once and without reading the request, instead of leaving the client hanging."""
    with serving(path_app, max_connections=2) as srv:
        first = RawClient((srv.host, srv.port))
        second = RawClient((srv.host, srv.port))
        try:
            assert first.request(get("/1")).status == 200
            assert second.request(get("/2")).status == 200  # both parked, keep-alive
            for _ in range(3):
                with RawClient((srv.host, srv.port)) as third:
                    response = third.request(get("/3"))
                    assert response.status == 503
                    assert response.header("retry-after") == "1"
                    assert response.closes
                    third.assert_closed()
            # A slot frees up when a connection ends: new connections are served again.
            first.send(get("/bye", headers="Connection: close\r\n"))
            assert first.read_response().status == 200
            first.assert_closed()
            deadline = time.monotonic() + 5
            while True:  # the server notices the close a moment after the client does
                with RawClient((srv.host, srv.port)) as again:
                    if again.request(get("/4")).status == 200:
                        break
                assert time.monotonic() < deadline, "no slot freed"
            assert second.request(get("/5")).status == 200
        finally:
            first.close()
            second.close()


@pytest.mark.parametrize(
    ("sent", "has_content"),
    [(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", False), (b"GET / HTTP/1.1\r\n", True), (b"", True)],
    ids=["head", "get", "nothing-yet"],
)
def test_the_503_of_the_connection_limit_follows_the_head_rule(
    sent: bytes, has_content: bool
) -> None:
    # RFC 9110 section 9.3.2: a HEAD already received gets the 503 head alone.
    server_side, client = socket.socketpair()
    with client:
        client.sendall(sent)
        refuse(server_side)
        client.settimeout(10)
        received = b""
        while chunk := client.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"Content-Length: 57\r\n" in received
    assert received.endswith(b"try later\n") is has_content
    assert received.endswith(b"\r\n\r\n") is not has_content


def test_connection_flood_is_answered_not_hung() -> None:
    """Far more connections than the limit at once: each gets a response or a close, fast."""
    with serving(path_app, max_connections=4, threads=2) as srv:
        clients = [RawClient((srv.host, srv.port)) for _ in range(40)]
        try:
            statuses = []
            for client in clients:
                client.send(get())
            for client in clients:
                try:
                    statuses.append(client.read_response().status)
                except ConnectionEnded:
                    statuses.append(0)
            assert set(statuses) <= {200, 503}
            assert statuses.count(200) >= 1
            assert statuses.count(503) >= 1
        finally:
            for client in clients:
                client.close()


# -- no starvation ------------------------------------------------------------------------


def _normal_requests(host: str, port: int, rounds: int) -> list[int]:
    """The statuses of `rounds` whole requests, each on a fresh connection."""
    statuses = []
    for i in range(rounds):
        with RawClient((host, port)) as client:
            statuses.append(client.request(get(f"/n{i}")).status)
    return statuses


@pytest.mark.slow
def test_slow_clients_do_not_starve_a_normal_request() -> None:
    """200 slowloris connections (dripping header bytes) and 100 slow uploaders (dripping body
    bytes) must not keep a normal request on a fresh connection from being served, with the
    default thread settings. Of the uploaders, 25 send Content-Length bodies under the 64 KiB
    received before the app runs and 50 send chunked bodies (received whole before the app
    runs by default): those wait in the poller and hold no thread; 25 send bodies above it,
    so an app thread blocks reading each, and the pool grows past them.

    Counted, not timed: every normal request is answered 200 while the attack goes on, no
    attacker is answered or closed, and the threads busy during the attack are about the 25
    that the big uploads hold (not one per slow client). Timeouts are long enough that
    none of them cuts the attack during the check.
    """
    defaults = Config()
    big_started = threading.Semaphore(0)

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/big":
            big_started.release()
        return echo_app(environ, start_response)

    with serving(
        app,
        threads=defaults.threads,
        max_threads=defaults.max_threads,
        header_timeout=15,
        body_timeout=15,
        body_rate_grace=15,
    ) as srv:
        address = (srv.host, srv.port)
        assert _normal_requests(*address, 3) == [200] * 3
        attackers: list[socket.socket] = []
        try:
            for _ in range(200):
                sock = socket.create_connection(address, timeout=10)
                sock.sendall(b"GET /loris HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                attackers.append(sock)
            for i in range(50):
                sock = socket.create_connection(address, timeout=10)
                length = 10_000 if i % 2 else 1_000_000
                path = b"/small" if i % 2 else b"/big"
                sock.sendall(
                    b"POST %b HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\nab" % (path, length)
                )
                attackers.append(sock)
            for _ in range(50):
                sock = socket.create_connection(address, timeout=10)
                sock.sendall(
                    b"POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"fffff\r\nab"
                )
                attackers.append(sock)
            for _ in range(25):  # every big upload holds an app thread now
                assert big_started.acquire(timeout=10)
            with Dripper(attackers, 0.1):
                statuses = _normal_requests(*address, 15)
                busy = srv.server.gauges()["busy_threads"]
            for sock in attackers:  # the attack was still on: nobody was answered or closed
                sock.setblocking(False)
                with pytest.raises(BlockingIOError):
                    sock.recv(1)
        finally:
            for sock in attackers:
                sock.close()
    assert statuses == [200] * 15
    # The big uploads' threads and a few serving drips at that instant; holding a thread
    # per slow client would make it 100.
    assert busy < 50, busy


def test_connection_limit_fits_the_file_descriptor_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past RLIMIT_NOFILE, accept() fails and clients wait unanswered: the limit must fit."""
    import resource

    from wsgiserver.server import connections

    monkeypatch.setattr(resource, "getrlimit", lambda _: (1024, 4096))
    assert connections.connection_limit(10_000) == 1024 - connections.FD_RESERVE
    assert connections.connection_limit(500) == 500


def test_a_small_descriptor_limit_keeps_half_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # `ulimit -n 64` left one connection (64 kept for the rest), and said nothing: 119 of
    # 120 clients got 503s.
    import resource

    from wsgiserver.server import connections

    monkeypatch.setattr(resource, "getrlimit", lambda _: (64, 4096))
    with caplog.at_level(logging.WARNING, "wsgiserver.error"):
        assert connections.connection_limit(100_000) == 32
    assert [r.getMessage() for r in caplog.records] == [
        "max_connections lowered from 100000 to 32 to fit the file descriptor limit (64); "
        "raise it (ulimit -n, LimitNOFILE=) or more clients get 503s"
    ]


def test_a_file_sent_to_a_client_gone_counts_none_of_it_as_sent(tmp_path: Path) -> None:
    # socket.sendfile fell back to reading a block and sending it when its first call
    # failed, and left the file's position 8 KiB on: the record said 8 KiB went out.
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"f" * 100_000)
    ours, theirs = socket.socketpair()
    theirs.close()
    channel = SocketChannel(
        ours, body_timeout=1.0, send_timeout=1.0, min_body_rate=0, body_rate_grace=0.0
    )
    try:
        with blob.open("rb") as file, pytest.raises(ConnectionLost):
            channel.sendfile(file, 0, 100_000)
        assert channel.unsent == 100_000
    finally:
        channel.close()
