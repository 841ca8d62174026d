"""How HTTP/2 connections and streams end: graceful stop (GOAWAY, then drain), idle and
preface timeouts, request and queue timeouts per stream, clients that reset or vanish."""

from __future__ import annotations

import hashlib
import logging
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from hyperframe.frame import GoAwayFrame, PingFrame

import wsgiserver
from tests.http2.client import H2Client, Reply
from tests.http2.helpers import (
    BOUND,
    Environ,
    Gate,
    StartResponse,
    client,
    echo,
    h2_context,
    h2c_server,
    tls_server,
)
from tests.metrics.promtext import parse, value
from tests.tls.helpers import Certs
from wsgiserver.http2.connection import CANCEL, NO_ERROR, PROTOCOL_ERROR, ConnectionFailed
from wsgiserver.server import server as server_module
from wsgiserver.server.server import ProcessRole
from wsgiserver.transport.h2session import H2Session
from wsgiserver.transport.transport import Transport


def keep_streams_coming(c: H2Client, bound: int = 10_000) -> None:
    """Quick streams one after another beside one held in the app, until the GOAWAY: new
    streams keep one in flight, so past the wait the server says it all the same."""
    for _ in range(bound):
        if c.goaway is not None:
            return
        c.read_until(told_or_done(c, c.replies[c.request("/quick")]))


def told_or_done(c: H2Client, reply: Reply) -> Callable[[], bool]:
    return lambda: c.goaway is not None or reply.done


@pytest.mark.parametrize("drain", [True, False], ids=["command-line", "embedded"])
def test_a_lone_stream_in_flight_at_a_stop_is_answered_before_the_goaway(drain: bool) -> None:
    """httpx fails every stream open when a GOAWAY arrives: one long request (an upload,
    a slow page) was lost at each stop, half a second past the wait. With no new stream
    coming, the moment for the GOAWAY is its end, however late."""
    gate = Gate()
    options: dict[str, Any] = {"graceful_timeout": 3 * BOUND, "keepalive_timeout": 0.2}
    with h2c_server(gate, process=ProcessRole(drain=drain), **options) as srv, client(srv) as c:
        slow = c.request("/slow")
        assert gate.entered.wait(BOUND)
        stopper = threading.Thread(target=srv.server.shutdown)
        stopper.start()
        # Well past the wait and its last chance (0.2 + 0.5 s), no GOAWAY comes.
        timeout = c.sock.gettimeout()
        c.sock.settimeout(1.5)
        with pytest.raises(TimeoutError):
            c.read_until(lambda: c.goaway is not None)
        c.sock.settimeout(timeout)
        told_early = c.goaway
        gate.release.set()
        assert c.reply(slow).body == b"/slow"
        c.read_until_closed()
        assert told_early is None
        assert c.goaway is not None
        assert c.goaway.last_stream_id == slow
        stopper.join(2 * BOUND)
        assert not stopper.is_alive()


@pytest.mark.parametrize("drain", [True, False], ids=["command-line", "embedded"])
def test_a_graceful_stop_lets_the_open_streams_finish_then_sends_goaway(drain: bool) -> None:
    """Some clients (httpx, through h2) fail every stream still open when a GOAWAY comes,
    though RFC 9113 section 6.8 has them answered: a busy connection is told once its
    streams are done (or at --keepalive-timeout), an idle one at once. Embedded (no
    draining), the busy connection was closed at once under its stream, with no word."""
    gate = Gate()
    with h2c_server(gate, process=ProcessRole(drain=drain), graceful_timeout=BOUND) as srv:
        with client(srv) as busy, client(srv) as idle:
            assert idle.get("/warm").status == 200
            slow = busy.request("/slow")
            assert gate.entered.wait(BOUND)
            stopper = threading.Thread(target=srv.server.shutdown)
            stopper.start()
            # The idle connection is told at once and closed: no stream is lost with it.
            idle.read_until_closed()
            assert idle.goaway is not None
            assert (idle.goaway.error_code, idle.goaway.last_stream_id) == (NO_ERROR, 1)
            # The busy one is served on (its PING answered) without a GOAWAY yet...
            busy.ping_and_wait()
            told_early = busy.goaway
            assert told_early is None
            gate.release.set()
            # ...its stream answered, and then it is told, and the connection ends.
            assert busy.reply(slow).body == b"/slow"
            busy.read_until_closed()
            assert busy.goaway is not None
            assert (busy.goaway.error_code, busy.goaway.last_stream_id) == (NO_ERROR, slow)
            assert busy.closed
        stopper.join(BOUND)
        assert not stopper.is_alive()
    assert sorted(r.target for r in srv.access_records) == ["/slow", "/warm"]


def test_an_idle_connection_in_a_thread_at_an_embedded_stop_gets_its_goaway(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An embedded stop closes idle connections at once, each after a GOAWAY (RFC 9113
    section 6.8). One that a thread was serving at that moment (woken by its last stream's
    end, or a frame of the client's), whose last stream had ended less than
    GOAWAY_AFTER_LAST before, was closed with no GOAWAY: its GOAWAY was not due yet. (A
    full suite run: the idle client of the test above read a bare close, once.)"""
    # The moment stretched over the whole test: the connection's last stream never ended
    # long enough ago for the graceful GOAWAY's own timing.
    monkeypatch.setattr("wsgiserver.transport.h2session.GOAWAY_AFTER_LAST", 60.0)
    real_serve_once = server_module._serve_once
    hold = threading.Event()
    held = threading.Event()
    stopping: list[threading.Event] = []

    def serve_once_until_the_stop(transport: Transport) -> int:
        action = real_serve_once(transport)
        if hold.is_set() and not held.is_set():
            held.set()  # the connection is a thread's, not parked, when the stop comes
            assert stopping[0].wait(BOUND)
        return action

    monkeypatch.setattr(server_module, "_serve_once", serve_once_until_the_stop)
    with h2c_server(echo, process=ProcessRole(drain=False)) as srv, client(srv) as c:
        stopping.append(srv.server._stopping)
        assert c.get("/warm").status == 200
        hold.set()
        c.send_frames([PingFrame(0, opaque_data=b"wake-up!")])  # a thread serves it now
        assert held.wait(BOUND)
        stopper = threading.Thread(target=srv.server.shutdown)
        stopper.start()
        c.read_until_closed()
        assert c.goaway is not None
        assert (c.goaway.error_code, c.goaway.last_stream_id) == (NO_ERROR, 1)
        stopper.join(BOUND)
        assert not stopper.is_alive()


@pytest.mark.parametrize("keepalive", [0.5, 60.0])
def test_a_connection_whose_streams_keep_coming_is_told_all_the_same(keepalive: float) -> None:
    """The wait for a moment without streams is bounded: a client that always has one in
    flight gets its GOAWAY at --keepalive-timeout, or 2 s, after the stop, whichever comes
    first, and its streams up to the one named are answered. (Bounded by the keep-alive
    timeout alone, a long one outlasted --graceful-timeout: no GOAWAY, and the streams in
    flight were cut.)"""
    gate = Gate()
    options: dict[str, Any] = {"graceful_timeout": 3 * BOUND, "keepalive_timeout": keepalive}
    with h2c_server(gate, process=ProcessRole(drain=True), **options) as srv, client(srv) as c:
        slow = c.request("/slow")
        assert gate.entered.wait(BOUND)
        stopper = threading.Thread(target=srv.server.shutdown)
        stopper.start()
        keep_streams_coming(c)  # while /slow is still in the app
        assert c.goaway is not None
        assert c.goaway.error_code == NO_ERROR
        assert (c.goaway.last_stream_id or 0) >= slow
        gate.release.set()
        assert c.reply(slow).body == b"/slow"
        c.read_until_closed()
        stopper.join(2 * BOUND)
        assert not stopper.is_alive()


def test_the_stop_message_counts_streams_in_flight_not_their_connection_as_idle() -> None:
    # An HTTP/2 connection is parked while its streams run on other threads: the message
    # of a graceful stop said "0 request(s) in flight and 1 idle connection(s)" for it.
    release = threading.Event()
    entered = threading.Semaphore(0)

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        entered.release()
        assert release.wait(BOUND)
        start_response("200 OK", [])
        return [b"ok"]

    with h2c_server(app) as srv, client(srv) as busy, client(srv) as idle:
        try:
            idle.ping_and_wait()  # the server has it: a connection with no stream
            busy.request("/a")
            busy.request("/b")
            assert entered.acquire(timeout=BOUND)
            assert entered.acquire(timeout=BOUND)
            assert srv.server.open_connections() == (2, 1)
        finally:
            release.set()


def test_a_graceful_stop_ends_when_the_last_connection_closes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The client keeps its socket open after the server's last frame: the server lingers
    (reading what may still come), then closes, and the stop is over. The housekeeper hands
    that close to a pool thread; with both threads idle in the poller and one runnable, the
    task used to wait for a poller's timeout, and the stop for --graceful-timeout."""
    gate = Gate()
    process = ProcessRole(drain=True)
    with (
        h2c_server(gate, process=process, graceful_timeout=3 * BOUND) as srv,
        client(srv) as busy,
    ):
        slow = busy.request("/slow")
        assert gate.entered.wait(BOUND)
        stopper = threading.Thread(target=srv.server.shutdown)
        stopper.start()
        busy.ping_and_wait()  # the stop has reached the connection
        gate.release.set()
        assert busy.reply(slow).body == b"/slow"
        busy.read_until(lambda: busy.goaway is not None)  # once its stream is done
        busy.read_until_closed()  # the server's FIN; this socket stays open
        stopper.join(2 * BOUND)  # a bound against a hang only: lingering takes 2 s
        assert not stopper.is_alive()
    assert "still busy after graceful_timeout" not in caplog.text


def test_a_graceful_goaway_from_the_client_lets_its_streams_finish() -> None:
    """RFC 9113 section 6.8: after its GOAWAY (NO_ERROR) the client's own streams go on, and
    it still sends what they need (WINDOW_UPDATE to receive a large response) and PINGs. h2
    treats a received GOAWAY as the end, so those frames used to end the connection with
    GOAWAY PROTOCOL_ERROR, and the response was cut; what was queued was dropped too."""
    data = hashlib.sha256(b"graceful").digest() * 8192  # 256 KiB: many window updates

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        return [data]

    with h2c_server(app) as srv, client(srv, settings={4: 16384}) as c:
        stream = c.request("/")
        reply = c.replies[stream]
        c.read_until(lambda: len(reply.body) > 0)  # the download is under way
        c.send_frames([GoAwayFrame(0, last_stream_id=0, error_code=NO_ERROR)])
        c.ping_and_wait()
        assert c.reply(stream).body == data
        c.read_until_closed()
    assert c.goaway is not None
    assert c.goaway.error_code == NO_ERROR


def test_a_stream_opened_after_the_goaway_is_ignored_not_reset() -> None:
    """RFC 9113 section 6.8: the sender of a GOAWAY ignores the streams above its last
    stream id, and the id tells the client to retry them elsewhere. A RST_STREAM said no
    more, and h2-based clients (httpx) fail every stream of the connection on a frame after
    a GOAWAY (a black-box probe: errors at each worker recycle)."""
    gate = Gate()
    options: dict[str, Any] = {"graceful_timeout": 3 * BOUND, "keepalive_timeout": 0.5}
    with h2c_server(gate, process=ProcessRole(drain=True), **options) as srv, client(srv) as c:
        slow = c.request("/slow")
        assert gate.entered.wait(BOUND)
        stopper = threading.Thread(target=srv.server.shutdown)
        stopper.start()
        keep_streams_coming(c)  # /slow still in the app
        late = c.request("/late")
        c.ping_and_wait()  # the server has read its HEADERS
        gate.release.set()
        assert c.reply(slow).body == b"/slow"
        c.read_until_closed()
        assert c.goaway is not None
        assert slow < (c.goaway.last_stream_id or 0) < late
        late_reply = c.replies[late]
        assert (late_reply.reset, late_reply.status) == (None, 0)  # ignored: no frame at all
        stopper.join(2 * BOUND)
        assert not stopper.is_alive()
    assert "/late" not in [r.target for r in srv.access_records]


def test_a_stream_writing_as_the_client_ends_the_connection_is_a_disconnect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A client's GOAWAY with an error ends the connection; a stream's thread that wrote in
    the moment before the connection was torn down wrote into h2, closed already, and its
    ProtocolError was logged as the app's failure, with a traceback of the server's own
    code (a black-box probe: httpx answering a graceful stop that way). It is the client
    leaving, as on HTTP/1.1: nothing is logged as the app's error."""
    go = threading.Event()
    closed = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        try:
            yield b"first"
            assert go.wait(BOUND)
            yield b"second"
        finally:
            closed.set()

    real_fail = H2Session._fail

    def fail_after_the_stream_wrote(self: H2Session, failure: ConnectionFailed) -> int:
        go.set()  # the stream writes now, after h2 closed and before the streams stop
        assert closed.wait(BOUND)
        return real_fail(self, failure)

    monkeypatch.setattr(H2Session, "_fail", fail_after_the_stream_wrote)
    with h2c_server(app) as srv, client(srv) as c:
        stream = c.request("/")
        reply = c.replies[stream]
        c.read_until(lambda: len(reply.body) > 0)
        c.send_frames([GoAwayFrame(0, last_stream_id=0, error_code=PROTOCOL_ERROR)])
        assert closed.wait(BOUND)
        (record,) = srv.wait_for_requests(1)  # written after any error line of the stream
        assert srv.take_app_errors() == []
    assert record.status == 200  # its head went out, then the client left


def test_an_idle_connection_is_closed_with_goaway_and_pings_do_not_keep_it() -> None:
    with h2c_server(echo, keepalive_timeout=0.3) as srv, client(srv) as c:
        assert c.get("/").status == 200
        for _ in range(200):  # bounded: the server must end it long before
            if c.goaway is not None or c.closed:
                break
            c.conn.ping(b"12345678")
            c.flush()
            c.read_once()  # the PING's answer, or the GOAWAY
            threading.Event().wait(0.02)  # pacing the pings, not synchronisation
        c.read_until_closed()
    assert c.goaway is not None
    assert c.goaway.error_code == NO_ERROR
    assert c.closed


def test_a_connection_that_never_sends_its_preface_is_closed(certs: Certs) -> None:
    with tls_server(echo, certs, header_timeout=0.3) as srv:
        context = h2_context(certs)
        with (
            socket.create_connection((srv.host, srv.port), timeout=BOUND) as raw,
            context.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            assert tls.selected_alpn_protocol() == "h2"
            received = b""
            while chunk := tls.recv(65536):
                received += chunk
    # Our SETTINGS, then a GOAWAY (type 7), then the end of the connection.
    assert received[3] == 0x4
    assert 0x7 in {received[i + 3] for i in _frame_starts(received)}


def _frame_starts(data: bytes) -> Iterator[int]:
    at = 0
    while at + 9 <= len(data):
        yield at
        at += 9 + int.from_bytes(data[at : at + 3], "big")


@pytest.mark.interrupts_threads
def test_a_request_timeout_answers_504_on_its_stream_only() -> None:
    released = threading.Event()
    interrupted = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/stuck":
            try:
                while not released.is_set():
                    sum(range(100))
            except wsgiserver.RequestTimeout:
                interrupted.set()
                raise
        start_response("200 OK", [])
        return [b"fine"]

    options: dict[str, Any] = {"request_timeout": 0.3, "echo_request_id": True}
    with h2c_server(app, **options) as srv, client(srv) as c:
        try:
            stuck = c.reply(c.request("/stuck", headers=[("x-request-id", "rid-504")]))
            assert stuck.status == 504
            assert stuck.body.startswith(b"504 Gateway Timeout")
            assert stuck.header(b"x-request-id") == b"rid-504"  # as over HTTP/1.1
            assert interrupted.wait(BOUND)
            assert c.get("/other").body == b"fine"  # the connection carries on
        finally:
            released.set()
        (error,) = srv.take_app_errors()
    statuses = sorted(r.status for r in srv.access_records)
    assert statuses == [200, 504]
    # The timeout's log line names the stream's request id, as its access record does.
    [timed_out] = [r.request_id for r in srv.access_records if r.status == 504]
    assert timed_out == "rid-504"
    assert str(error).startswith("[rid-504] request timed out after 0.3s (GET /stuck)")


def test_a_stream_that_waited_past_queue_timeout_is_shed_with_503() -> None:
    gate = Gate()
    with h2c_server(gate, threads=1, max_threads=1, queue_timeout=0.05) as srv, client(srv) as c:
        slow = c.request("/slow")
        assert gate.entered.wait(BOUND)
        queued = c.request("/queued")
        # Not synchronisation: the queued stream must wait longer than queue_timeout.
        threading.Event().wait(0.2)
        gate.release.set()
        shed = c.reply(queued)
        assert shed.status == 503
        assert shed.header(b"retry-after") == b"1"
        assert c.reply(slow).status == 200
    assert gate.order == ["/slow"]  # the shed stream never reached the app


def test_a_client_reset_reaches_the_app_and_the_connection_carries_on() -> None:
    started = threading.Event()
    stopped = threading.Event()
    outcome: list[str] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        if environ["PATH_INFO"] != "/endless":
            start_response("200 OK", [])
            yield b"ok"
            return
        start_response("200 OK", [])
        started.set()
        try:
            for _ in range(100_000):  # bounded; the reset ends it long before
                if environ["wsgiserver.client_disconnected"]():
                    outcome.append("saw the reset")
                    return
                yield b"x" * 1024
        finally:
            stopped.set()

    with h2c_server(app) as srv, client(srv, auto_ack=False) as c:
        endless = c.request("/endless")
        assert started.wait(BOUND)
        c.read_until(lambda: bool(c.replies[endless].body))
        c.reset(endless, CANCEL)
        assert stopped.wait(BOUND)
        c.auto_ack = True
        c.conn.acknowledge_received_data(len(c.replies[endless].body), endless)
        assert c.get("/next").body == b"ok"
    assert outcome in (["saw the reset"], [])  # or its write failed first: either ends it


def test_a_client_that_vanishes_mid_stream_leaves_nothing_behind() -> None:
    closed = threading.Event()

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            for _ in range(10_000):
                yield b"y" * 16384

        def close(self) -> None:
            closed.set()

    def app(environ: Environ, start_response: StartResponse) -> Any:
        start_response("200 OK", [])
        return Body()

    with h2c_server(app) as srv:
        c = client(srv, auto_ack=False)
        stream = c.request("/")
        c.read_until(lambda: bool(c.replies[stream].body))
        c.close()
        assert closed.wait(BOUND)  # the app's close() ran: the stream ended on its own
    assert srv.access_records[0].status == 200


def test_h2_client_context_offers_h2(certs: Certs) -> None:
    with tls_server(echo, certs) as srv, H2Client((srv.host, srv.port), tls=h2_context(certs)) as c:
        assert c.get("/tls").body.startswith(b"GET /tls 0")


@pytest.mark.parametrize("drain", [True, False], ids=["command-line", "embedded"])
def test_streams_cut_at_the_graceful_timeout_are_said_and_recorded_as_unanswered(
    drain: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """As for an HTTP/1.1 request cut there: a warning naming what was cut, and an access
    record with no status, not the 200 its thread makes after the stop (the client never
    got it)."""
    gate = Gate()
    with h2c_server(gate, process=ProcessRole(drain=drain), graceful_timeout=0.3) as srv:
        with client(srv) as c:
            c.request("/slow")
            assert gate.entered.wait(BOUND)
            with caplog.at_level(logging.WARNING):
                srv.server.shutdown()  # returns at the graceful timeout
            c.read_until_closed()
            gate.release.set()
            for thread in threading.enumerate():  # the app's, which outlived the stop
                if thread.name.startswith("wsgiserver"):
                    thread.join(BOUND)
        said = [r.getMessage() for r in caplog.records if "graceful_timeout" in r.getMessage()]
        assert said == [
            "closing a connection still busy after graceful_timeout: 1 HTTP/2 stream(s)"
        ]
        assert [(r.target, r.status) for r in srv.access_records] == [("/slow", 0)]


@pytest.mark.interrupts_threads
def test_a_streams_504_is_in_the_metrics_when_it_is_sent_and_counted_once() -> None:
    # As over HTTP/1.1 (tests/overload): counted when the 504 goes out, not when (if ever)
    # the app's thread comes back, and once.
    release = threading.Event()

    def blocked(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        release.wait(BOUND)  # C code: the RequestTimeout lands only once it returns
        start_response("200 OK", [])
        return [b"late"]

    options: dict[str, Any] = {"request_timeout": 0.3, "admin_bind": "127.0.0.1:0"}
    with h2c_server(blocked, **options) as srv, client(srv) as c:
        try:
            assert c.reply(c.request("/")).status == 504
            during = parse(srv.server.metrics_text())  # the app's thread still waits
        finally:
            release.set()
        srv.stop()
        after = parse(srv.server.metrics_text())
        srv.take_app_errors()
    for families in (during, after):
        assert value(families, "wsgiserver_requests_total", method="GET", status="5xx") == 1
        assert value(families, "wsgiserver_requests_total", method="GET", status="2xx") == 0
