"""The admin listener: /metrics in the strict text format, /healthz, /readyz, the pool gauges."""

from __future__ import annotations

import logging
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from tests.metrics.promtext import Family, get, parse, value
from wsgiserver.observability import metrics as m
from wsgiserver.server import admin as admin_module
from wsgiserver.server.server import Timing
from wsgiserver.testing import RunningServer, serving
from wsgiserver.types import StartResponse

BOUND = 10.0  # "does not hang" bound for waits on a loaded machine


def hello(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    status = "404 Not Found" if environ["PATH_INFO"] == "/missing" else "200 OK"
    start_response(status, [("Content-Type", "text/plain")])
    return [b"hello"]


def admin(running: RunningServer) -> tuple[str, int]:
    address = running.server.admin_address
    return address.host, address.port


def scrape(address: tuple[str, int]) -> dict[str, Family]:
    status, head, body = get(*address, "/metrics")
    assert status == 200
    assert b"Content-Type: text/plain; version=0.0.4; charset=utf-8" in head
    return parse(body.decode("utf-8"))


def test_metrics_parse_strictly_and_count_what_was_sent() -> None:
    with serving(hello, admin_bind="127.0.0.1:0") as running:
        for path in ("/", "/", "/missing"):
            get(running.host, running.port, path)
        with socket.create_connection((running.host, running.port), timeout=BOUND) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")  # 400
            while sock.recv(65536):
                pass
        families = scrape(admin(running))
    assert all(name.startswith("wsgiserver_") for name in families)
    assert value(families, "wsgiserver_requests_total", method="GET", status="2xx") == 2
    assert value(families, "wsgiserver_requests_total", method="GET", status="4xx") == 1
    assert value(families, "wsgiserver_parse_errors_total", status="400") == 1
    assert value(families, "wsgiserver_request_duration_seconds_count") == 3
    assert value(families, "wsgiserver_queue_wait_seconds_count") == 3
    assert value(families, "wsgiserver_received_bytes_total") > 0
    assert value(families, "wsgiserver_sent_bytes_total") > 0
    assert families["wsgiserver_requests_in_flight"].kind == "gauge"
    for name in ("threads", "busy_threads", "idle_threads", "open_connections", "queue_depth"):
        assert f"wsgiserver_{name}" in families
    samples = families["wsgiserver_timeouts_total"].samples
    assert {k for _, labels, _ in samples for k in labels} == {"kind"}


def test_connections_refused_over_the_limit_are_counted_and_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # They were answered 503 with no trace: no metric moved and nothing was logged.
    with (
        caplog.at_level(logging.WARNING, "wsgiserver.error"),
        serving(hello, admin_bind="127.0.0.1:0", max_connections=1) as running,
        socket.create_connection((running.host, running.port), timeout=BOUND) as held,
    ):
        held.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        assert held.recv(65536).startswith(b"HTTP/1.1 200 ")  # the one allowed, kept open
        for _ in range(3):
            assert get(running.host, running.port, "/")[0] == 503
        families = scrape(admin(running))
    assert value(families, "wsgiserver_refused_connections_total") == 3
    said = [r.getMessage() for r in caplog.records if "--max-connections" in r.getMessage()]
    assert said == [
        "1 connections open (--max-connections): new ones are answered 503 (said at most "
        "once a minute while it lasts)"
    ]


def test_label_values_are_escaped() -> None:
    assert m.escape_label('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    store = m.Store(1, 1)
    text = m.render(store, [0], worker_label=lambda slot: 'w"\\\n')
    families = parse(text)
    labels = families["wsgiserver_worker_requests_total"].samples[0][1]
    assert labels == {"worker": 'w"\\\n'}


def test_admin_answers_only_its_paths() -> None:
    with serving(hello, admin_bind="127.0.0.1:0") as running:
        address = admin(running)
        assert get(*address, "/healthz")[0] == 200
        assert get(*address, "/readyz")[0] == 200
        assert get(*address, "/nope")[0] == 404
        # The app's listener does not serve the admin paths: the app answers them.
        assert get(running.host, running.port, "/metrics")[2] == b"hello"


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /healthz HTTP/1.1\nHost: t\n\n", 400),  # bare LF: the protocol layer's rule
        (b"GET /healthz HTTP/1.1\r\n\r\n", 400),  # HTTP/1.1 needs Host (RFC 9112 3.2)
        (b"GET /healthz HTTP/2.0\r\nHost: t\r\n\r\n", 505),
        (b"POST /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", 405),
        (b"GET /healthz?verbose=1 HTTP/1.0\r\n\r\n", 200),
        (b"GET /" + b"a" * 3000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414),
    ],
    ids=["bare-lf", "no-host", "http2", "post", "http10-query", "long-line"],
)
def test_admin_listener_parses_with_the_protocol_layer(request_bytes: bytes, status: int) -> None:
    """The admin listener speaks the same strict HTTP/1.1 as the main one, then closes."""
    with (
        serving(hello, admin_bind="127.0.0.1:0") as running,
        socket.create_connection(admin(running), timeout=10) as sock,
    ):
        sock.sendall(request_bytes)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 %d " % status), data[:100]
    head = data.partition(b"\r\n\r\n")[0] + b"\r\n"
    assert b"\r\nConnection: close\r\n" in head
    # RFC 9110 section 15.5.6: a 405 lists the methods the resource takes.
    assert (b"\r\nAllow: GET, HEAD\r\n" in head) is (status == 405)


def test_idle_connections_cannot_lock_the_probes_out() -> None:
    # The admin listener keeps at most MAX_CLIENTS connections: the newest one used to be
    # closed, so clients that connect and send nothing made every probe fail.
    with serving(hello, admin_bind="127.0.0.1:0") as running:
        address = admin(running)
        idle = [
            socket.create_connection(address, timeout=BOUND)
            for _ in range(admin_module.MAX_CLIENTS + 8)
        ]
        try:
            assert get(*address, "/healthz")[0] == 200
            assert idle[0].recv(1) == b""  # the oldest made room
        finally:
            for sock in idle:
                sock.close()


def test_readyz_fails_while_draining_and_healthz_still_answers() -> None:
    entered = threading.Event()
    release = threading.Event()

    def blocking(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        entered.set()
        release.wait(BOUND)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"done"]

    with serving(blocking, admin_bind="127.0.0.1:0") as running:
        address = admin(running)
        assert get(*address, "/readyz")[0] == 200
        answers: list[int] = []
        client = threading.Thread(
            target=lambda: answers.append(get(running.host, running.port, "/")[0])
        )
        client.start()
        assert entered.wait(BOUND)
        running.server.shutdown(timeout=0)  # asks for the stop; in-flight request goes on
        status, _, body = get(*address, "/readyz")
        assert (status, body) == (503, b"draining\n")
        assert get(*address, "/healthz")[0] == 200
        release.set()
        client.join(BOUND)
    assert answers == [200]


def test_admin_answers_while_every_thread_is_stuck_in_the_app() -> None:
    entered = threading.Event()
    release = threading.Event()

    def stuck(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        entered.set()
        release.wait(BOUND)
        start_response("200 OK", [])
        return [b""]

    with serving(stuck, admin_bind="127.0.0.1:0", threads=1, max_threads=1) as running:
        client = threading.Thread(target=get, args=(running.host, running.port, "/"))
        client.start()
        assert entered.wait(BOUND)
        families = scrape(admin(running))
        assert value(families, "wsgiserver_busy_threads") == 1
        assert value(families, "wsgiserver_requests_in_flight") == 1
        assert get(*admin(running), "/healthz")[0] == 200
        release.set()
        client.join(BOUND)


def test_pool_grows_under_a_blocking_app_and_shrinks_back_when_idle() -> None:
    width = 3
    barrier = threading.Barrier(width + 1, timeout=BOUND)

    def blocking(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        barrier.wait()  # only returns once `width` requests run at the same time
        barrier.wait()
        start_response("200 OK", [])
        return [b""]

    with serving(
        blocking, threads=1, max_threads=width + 1, timing=Timing(idle_thread_seconds=0.2)
    ) as running:
        server = running.server
        clients = [
            threading.Thread(target=get, args=(running.host, running.port, "/"))
            for _ in range(width)
        ]
        for client in clients:
            client.start()
        barrier.wait()  # the pool grew: `width` threads are in the app at once
        assert server.gauges()["busy_threads"] >= width
        barrier.wait()
        for client in clients:
            client.join(BOUND)
        # Shrinking is driven by an idle timer: poll the gauge, within a generous bound.
        deadline = time.monotonic() + BOUND
        while server.gauges()["threads"] > 1 and time.monotonic() < deadline:
            threading.Event().wait(0.05)
        assert server.gauges()["threads"] == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork, /proc")
def test_totals_are_summed_across_two_workers(tmp_path: Path) -> None:
    from tests.supervisor.helpers import Proc, server_argv, write_app

    write_app(tmp_path)
    proc = Proc(
        server_argv(
            "app:app", "--bind", "127.0.0.1:0", "--workers", "2", "--admin-bind", "127.0.0.1:0"
        ),
        tmp_path,
    )
    try:
        host, port = proc.address()
        proc.wait_for(r"worker \d+ ready", count=2)
        match = proc.wait_for(r"admin endpoint \(metrics, health\) on http://([0-9.]+):(\d+)")
        address = (match.group(1), int(match.group(2)))
        assert get(*address, "/readyz")[0] == 200
        sent = 40
        pids = set()
        for _ in range(sent):
            status, _, body = get(host, port, "/")
            assert status == 200
            pids.add(body.split()[1])
        families = scrape(address)
        assert value(families, "wsgiserver_requests_total", method="GET", status="2xx") == sent
        per_worker = families["wsgiserver_worker_requests_total"].samples
        assert len(per_worker) == 2
        assert sum(v for _, _, v in per_worker) == sent
        assert value(families, "wsgiserver_threads") >= 2
        assert value(families, "wsgiserver_worker_restarts_total") == 0
        assert len(pids) >= 1
    finally:
        proc.kill()


def test_totals_survive_a_worker_crash_and_count_the_restart(tmp_path: Path) -> None:
    # A replaced worker's counts fold into the totals: a scrape never goes backwards.
    from tests.supervisor.helpers import Proc, server_argv, write_app

    write_app(tmp_path)
    proc = Proc(
        server_argv(
            "app:app", "--bind", "127.0.0.1:0", "--workers", "2", "--admin-bind", "127.0.0.1:0"
        ),
        tmp_path,
    )
    try:
        host, port = proc.address()
        proc.wait_for(r"worker \d+ ready", count=2)
        match = proc.wait_for(r"admin endpoint \(metrics, health\) on http://([0-9.]+):(\d+)")
        address = (match.group(1), int(match.group(2)))
        sent = 20
        for _ in range(sent):
            assert get(host, port, "/")[0] == 200
        before = value(scrape(address), "wsgiserver_requests_total", method="GET", status="2xx")
        assert before == sent
        mark = proc.mark()
        with socket.create_connection((host, port), timeout=BOUND) as crash:
            crash.sendall(b"GET /crash HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                answer = crash.recv(1)
            except ConnectionResetError:
                answer = b""
            assert answer == b""  # the worker died without answering
        proc.wait_for(r"worker \d+ ready", after=mark)  # its replacement
        for _ in range(sent):
            assert get(host, port, "/")[0] == 200
        families = scrape(address)
        assert value(families, "wsgiserver_requests_total", method="GET", status="2xx") == 2 * sent
        assert value(families, "wsgiserver_worker_restarts_total") == 1
        # One worker fewer (TTOU) is no restart: it exits and none replaces it (an
        # operations probe saw each TTOU counted as one).
        mark = proc.mark()
        proc.send(signal.SIGTTOU)
        proc.wait_for(r"worker \d+ stopped", after=mark)
        families = scrape(address)
        assert value(families, "wsgiserver_worker_restarts_total") == 1
        assert len(families["wsgiserver_worker_requests_total"].samples) == 1
    finally:
        proc.kill()
