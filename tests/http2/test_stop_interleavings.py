"""HTTP/2 at an embedded stop (no draining), in the interleavings that a plain test does not
reach: a connection being served when the stop begins, a stream still queued for a thread.
Both used to lose a stream the client had been told would be processed."""

from __future__ import annotations

import threading
from collections.abc import Iterable

import pytest

import wsgiserver.server.server as server_mod
from tests.http2.helpers import BOUND, Environ, Gate, StartResponse, client, h2c_server
from wsgiserver.server.server import ProcessRole, Server
from wsgiserver.transport.transport import Transport


def test_an_embedded_stop_lets_the_stream_of_a_connection_being_served_finish(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Found parked, such a connection is served on by a drain thread; found being served
    (a thread answering its PING) it was closed under its stream, with no GOAWAY. The
    patches hold the connection in its thread until the stop has begun."""
    armed, inside, closed = threading.Event(), threading.Event(), threading.Event()
    original = server_mod._serve_once

    def serve_once(transport: Transport) -> int:
        action = original(transport)
        if armed.is_set() and transport.multiplexed:
            armed.clear()
            inside.set()
            assert closed.wait(BOUND)  # hold the connection "active" until the stop has begun
        return action

    original_request_close = Transport.request_close
    servers: list[Server] = []

    def request_close(self: Transport) -> None:
        # `_stop_everything` asks every active connection to close, under the lock, once
        # `_closed` is set: from then on the stop is under way.
        if servers and servers[0]._closed:
            closed.set()
        original_request_close(self)

    # What the server decides for the connection once the stop is on: closed, or served on
    # by a drain thread. The stream is let out of the app only after that decision.
    decided = threading.Event()
    original_close, original_start_last = Transport.close, Server._start_last

    def close(self: Transport) -> int:
        decided.set()
        return original_close(self)

    def start_last(self: Server, transport: Transport) -> None:
        decided.set()
        original_start_last(self, transport)

    monkeypatch.setattr(Transport, "close", close)
    monkeypatch.setattr(Server, "_start_last", start_last)
    monkeypatch.setattr(server_mod, "_serve_once", serve_once)
    monkeypatch.setattr(Transport, "request_close", request_close)
    gate = Gate()
    with h2c_server(gate, process=ProcessRole(drain=False), graceful_timeout=BOUND) as srv:
        servers.append(srv.server)
        with client(srv) as c:
            slow = c.request("/slow")
            assert gate.entered.wait(BOUND)
            armed.set()
            c.conn.ping(b"reviewer")
            c.flush()
            assert inside.wait(BOUND)
            stopper = threading.Thread(target=srv.server.shutdown)
            stopper.start()
            assert closed.wait(BOUND)
            assert decided.wait(BOUND)
            gate.release.set()
            reply = c.reply(slow)
            assert reply.body == b"/slow", (reply.status, reply.reset, c.goaway, c.closed)
        stopper.join(BOUND)
        assert not stopper.is_alive()


def test_an_embedded_stop_runs_the_streams_queued_for_a_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The stream queued behind a busy pool at the stop was never run: the pool's threads
    left at once, and it was dropped at --graceful-timeout, though the GOAWAY had named it
    as accepted (RFC 9113 section 6.8). The threads now take what was queued first."""
    handed = threading.Event()  # the stop gave the parked connection to a drain thread
    original_start_last = Server._start_last

    def start_last(self: Server, transport: Transport) -> None:
        original_start_last(self, transport)
        handed.set()

    monkeypatch.setattr(Server, "_start_last", start_last)
    release = threading.Event()
    entered = threading.Semaphore(0)

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        entered.release()
        assert release.wait(BOUND)
        start_response("200 OK", [])
        return [environ["PATH_INFO"].encode()]

    options = {"threads": 2, "max_threads": 2, "graceful_timeout": BOUND}
    with h2c_server(app, process=ProcessRole(drain=False), **options) as srv:
        with client(srv) as c:
            streams = [c.request("/0")]
            assert entered.acquire(timeout=BOUND)  # one thread in the app
            flush = c.flush
            c.flush = lambda: None  # type: ignore[method-assign]
            streams += [c.request("/1"), c.request("/2")]
            c.flush = flush  # type: ignore[method-assign]
            c.flush()  # both HEADERS in one write: the other thread reads them together
            assert entered.acquire(timeout=BOUND)  # it runs one, the other is queued
            with srv.server._lock:
                queued = len(srv.server._pool.tasks)
            assert queued == 1, queued  # the scenario: one stream waits for a thread
            stopper = threading.Thread(target=srv.server.shutdown)
            stopper.start()
            assert handed.wait(BOUND)
            release.set()
            bodies = [c.reply(s).body for s in streams]
            assert bodies == [b"/0", b"/1", b"/2"]
        stopper.join(2 * BOUND)
        assert not stopper.is_alive()
