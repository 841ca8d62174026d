"""Overload control: --request-timeout (504 + RequestTimeout), --queue-timeout (503 shedding)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable
from typing import Any

import pytest

import wsgiserver
from tests.metrics.promtext import get, parse, value
from wsgiserver import errors
from wsgiserver.testing import RunningServer, serving
from wsgiserver.types import StartResponse

BOUND = 10.0  # "does not hang" bound for waits on a loaded machine


def test_the_public_request_timeout_is_not_the_408_error() -> None:
    assert wsgiserver.RequestTimeout is errors.RequestTimeout
    assert not issubclass(errors.RequestTimeout, Exception)  # `except Exception` misses it
    assert errors.ClientRequestTimeout.status == 408


@pytest.mark.interrupts_threads
def test_an_app_looping_in_python_gets_504_and_its_thread_unwinds() -> None:
    interrupted = threading.Event()

    def spin(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            while True:
                sum(range(100))
        except wsgiserver.RequestTimeout:
            interrupted.set()
            raise

    with serving(spin, request_timeout=0.2) as running:
        status, head, body = get(running.host, running.port, "/")
        assert status == 504
        assert b"did not answer in time" in body
        assert b"Connection: close" in head
        assert interrupted.wait(BOUND)
        logs = running.log_text()
        assert "request timed out" in logs
        assert "in spin" in logs  # the stack was logged
        # The thread came back: the next request is served.
        assert running.server.stuck_threads == 0
        running.stop()
        assert_one_record_of_the_504(running, body)


def assert_one_record_of_the_504(running: RunningServer, body: bytes) -> None:
    """The timed-out request has one access record, of the 504 that was sent, with its id:
    the thread unwinding used to add a second one, and both said 500."""
    (record,) = running.access_records
    assert record.status == 504
    assert record.body_bytes == len(body)  # as the client received it
    assert record.request_id
    # Logged once, as a timeout (the unwinding used to log an app failure as well).
    (error,) = running.take_app_errors()
    # With the request's id, as every per-request line (docs/observability.rst): it had none.
    assert str(error).startswith(f"[{record.request_id}] request timed out after 0.2s (GET /)")
    (line,) = [r for r in running.log_records if "request timed out" in r.getMessage()]
    assert getattr(line, "request_id", None) == record.request_id


@pytest.mark.interrupts_threads
def test_an_app_blocked_in_sleep_sees_the_exception_when_sleep_returns() -> None:
    interrupted = threading.Event()
    answered = threading.Event()

    def sleepy(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            # C code: the async exception waits until sleep returns to Python; the 504 does not.
            while not answered.is_set():
                time.sleep(0.05)
            time.sleep(0.05)
        except wsgiserver.RequestTimeout:
            interrupted.set()
            raise
        start_response("200 OK", [])
        return [b"too late"]

    with serving(sleepy, request_timeout=0.2) as running:
        status, _, body = get(running.host, running.port, "/")
        answered.set()
        assert status == 504
        assert interrupted.wait(BOUND)
        running.stop()
        assert_one_record_of_the_504(running, body)


@pytest.mark.interrupts_threads
def test_an_app_woken_by_the_timeout_records_the_504_it_got() -> None:
    # The app waits for a body that never comes: the socket's shutdown wakes it, often
    # before the housekeeper had noted the 504's size, and the record then said 0.
    def reader(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    bodies = []
    with serving(reader, request_timeout=0.2) as running:
        for _ in range(10):
            with socket.create_connection((running.host, running.port), timeout=BOUND) as sock:
                sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
            assert data.startswith(b"HTTP/1.1 504 ")
            bodies.append(data.partition(b"\r\n\r\n")[2])
        running.stop()
        records = running.access_records
        running.take_app_errors()
    assert [(r.status, r.body_bytes) for r in records] == [(504, len(b)) for b in bodies]


@pytest.mark.interrupts_threads
def test_a_504_answering_head_has_no_content() -> None:
    # RFC 9110 section 9.3.2: the housekeeper's 504 follows the HEAD rule too.
    released = threading.Event()

    def stuck(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            while not released.is_set():
                time.sleep(0.01)
        except wsgiserver.RequestTimeout:
            pass
        start_response("200 OK", [])
        return [b"too late"]

    with serving(stuck, request_timeout=0.2) as running:
        try:
            with socket.create_connection((running.host, running.port), timeout=BOUND) as sock:
                sock.sendall(b"HEAD / HTTP/1.1\r\nHost: test\r\n\r\n")
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
        finally:
            released.set()
        assert data.startswith(b"HTTP/1.1 504 ")
        assert data.endswith(b"\r\n\r\n")
        assert b"did not answer in time" not in data
        running.take_app_errors()


@pytest.mark.interrupts_threads
def test_a_timeout_after_the_head_aborts_the_connection() -> None:
    def slow_body(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        yield b"first"
        while True:
            sum(range(100))

    with serving(slow_body, request_timeout=0.2) as running:
        status, head, body = get(running.host, running.port, "/")
        assert status == 200
        assert b"Transfer-Encoding: chunked" in head
        assert not body.endswith(b"0\r\n\r\n")  # cut, not completed
        running.take_app_errors()


def test_queue_timeout_sheds_a_burst_with_503_without_running_the_app() -> None:
    entered = threading.Event()
    release = threading.Event()
    calls: list[str] = []

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        calls.append(environ["PATH_INFO"])
        if environ["PATH_INFO"] == "/first":
            entered.set()
            release.wait(BOUND)
        start_response("200 OK", [])
        return [b"ok"]

    with serving(
        app, threads=1, max_threads=1, queue_timeout=0.05, admin_bind="127.0.0.1:0"
    ) as running:
        results: dict[str, tuple[int, bytes]] = {}

        def fetch(path: str) -> None:
            status, head, _ = get(running.host, running.port, path)
            results[path] = (status, head)

        first = threading.Thread(target=fetch, args=("/first",))
        first.start()
        assert entered.wait(BOUND)
        burst = [threading.Thread(target=fetch, args=(f"/next{i}",)) for i in range(3)]
        for thread in burst:
            thread.start()
        server = running.server
        deadline = time.monotonic() + BOUND  # wait until the burst is queued (observable)
        while server.gauges()["queue_depth"] < 1 and time.monotonic() < deadline:
            threading.Event().wait(0.01)
        # Not synchronisation: the queued requests must wait longer than queue_timeout.
        threading.Event().wait(0.2)
        release.set()
        for thread in (first, *burst):
            thread.join(BOUND)
    assert results["/first"][0] == 200
    for i in range(3):
        status, head = results[f"/next{i}"]
        assert status == 503, results
        assert b"Retry-After: 1" in head
    assert calls == ["/first"]  # the shed requests never reached the app


@pytest.mark.interrupts_threads
def test_a_thread_that_ignores_the_timeout_makes_the_server_not_ready() -> None:
    release = threading.Event()
    interrupted = threading.Event()

    def stubborn(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        # Deliberately swallows RequestTimeout wherever it lands: in the loop's condition as
        # well as its body (an asynchronous exception can arrive at any bytecode).
        while True:
            try:
                try:
                    while not release.is_set():
                        sum(range(100))
                    break
                except BaseException:
                    interrupted.set()
            except BaseException:
                interrupted.set()
        start_response("200 OK", [])
        return [b""]

    with serving(
        stubborn, request_timeout=0.1, interrupt_timeout=0.1, admin_bind="127.0.0.1:0"
    ) as running:
        status, _, _ = get(running.host, running.port, "/")
        assert status == 504
        assert interrupted.wait(BOUND)
        address = running.server.admin_address
        deadline = time.monotonic() + BOUND
        while running.server.stuck_threads == 0 and time.monotonic() < deadline:
            threading.Event().wait(0.02)
        status, _, body = get(address.host, address.port, "/readyz")
        assert status == 503
        assert b"stuck" in body
        release.set()
        deadline = time.monotonic() + BOUND
        while running.server.stuck_threads and time.monotonic() < deadline:
            threading.Event().wait(0.02)
        assert get(address.host, address.port, "/readyz")[0] == 200


def test_a_stray_poller_event_does_not_leave_the_queue_marked_as_waiting() -> None:
    """A wake for an fd that is neither parked nor a listener (a connection the housekeeper
    has just expired, reported before it was forgotten) must still end the queue-wait
    estimate when nothing else waits; a stale estimate would later shed a request that
    never waited (503 from --queue-timeout)."""
    import os

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        return [b"ok"]

    with serving(app, queue_timeout=0.5) as running:
        server = running.server
        read_end, write_end = os.pipe()
        try:
            with server._lock:
                server._saturated_since = time.monotonic()
            server._poller.arm(read_end)
            os.write(write_end, b"x")
            deadline = time.monotonic() + BOUND
            while server._saturated_since and time.monotonic() < deadline:
                threading.Event().wait(0.005)  # observing a state change, not synchronising
            assert server._saturated_since == 0.0
        finally:
            server._poller.forget(read_end)
            os.close(read_end)
            os.close(write_end)
        assert get(running.host, running.port, "/")[0] == 200


@pytest.mark.interrupts_threads
def test_a_504_is_in_the_metrics_when_it_is_sent_and_counted_once() -> None:
    # The 504 reached requests_total only when the app's thread came back, never while it
    # hung, and sent_bytes_total never had its bytes (an operations probe).
    release = threading.Event()

    def blocked(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        release.wait(BOUND)  # C code: the RequestTimeout lands only once it returns
        start_response("200 OK", [])
        return [b"late"]

    with serving(blocked, request_timeout=0.2, admin_bind="127.0.0.1:0") as running:
        try:
            status, head, body = get(running.host, running.port, "/")
            assert status == 504
            during = parse(running.server.metrics_text())  # the app's thread still waits
        finally:
            release.set()
        running.stop()
        after = parse(running.server.metrics_text())
        running.take_app_errors()
    for families in (during, after):
        assert value(families, "wsgiserver_requests_total", method="GET", status="5xx") == 1
        assert value(families, "wsgiserver_requests_total", method="GET", status="2xx") == 0
        assert value(families, "wsgiserver_request_duration_seconds_count") == 1
    assert value(during, "wsgiserver_sent_bytes_total") == len(head + b"\r\n\r\n" + body)


def test_a_connect_refused_with_501_is_a_parse_error_not_a_5xx_request() -> None:
    # CONNECT's 501 was counted twice: as a parse error, and in requests_total as a server
    # error, where scanners' CONNECTs inflated the 5xx rate alerts watch (an operations
    # probe). Every other request the server refuses itself is a parse error only.
    with serving(lambda environ, start_response: [], admin_bind="127.0.0.1:0") as running:
        with socket.create_connection((running.host, running.port), timeout=BOUND) as sock:
            sock.sendall(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
            answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 501 ")
        running.stop()
        families = parse(running.server.metrics_text())
    assert value(families, "wsgiserver_requests_total") == 0
    assert value(families, "wsgiserver_parse_errors_total", status="501") == 1
