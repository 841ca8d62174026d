"""The Server object: binding, serving, shutdown (graceful, idempotent, from any thread),
resource leaks, and surviving accept() failures."""

from __future__ import annotations

import errno
import logging
import os
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.server.helpers import Environ, RawClient, StartResponse, get, path_app
from tests.supervisor.helpers import Proc
from wsgiserver.config.bind import BindAddress
from wsgiserver.errors import BindError, NotAWSGIApp
from wsgiserver.server import listeners
from wsgiserver.server import server as server_module
from wsgiserver.server.server import ProcessRole, Server
from wsgiserver.testing import serving
from wsgiserver.types import WSGIApp

UPPER_BOUND = 5.0  # "returns promptly": generous, for a loaded 2-core machine


@contextmanager
def serving_in_thread(server: Server) -> Iterator[threading.Thread]:
    thread = threading.Thread(target=server.serve_forever, name="test-serving")
    thread.start()
    try:
        assert server.wait_serving(UPPER_BOUND)
        yield thread
    finally:
        server.shutdown()
        thread.join(UPPER_BOUND)
        assert not thread.is_alive()


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=UPPER_BOUND).close()
    except ConnectionRefusedError:
        return True
    return False


def test_binds_in_constructor_and_resolves_port_zero() -> None:
    server = Server(path_app, bind="127.0.0.1:0")
    try:
        bound = server.addresses[0]
        host, port = bound.host, bound.port
        assert host == "127.0.0.1"
        assert server.address == (host, port)
        assert port > 0
        # Listening already: the kernel completes the handshake before serve_forever.
        with socket.create_connection(("127.0.0.1", port), timeout=UPPER_BOUND):
            pass
    finally:
        server.shutdown()
    assert refused(port)


def test_bind_error_is_one_clear_exception_and_closes_earlier_listeners() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        before = len(os.listdir("/proc/self/fd"))
        with pytest.raises(BindError, match="address already in use"):
            Server(path_app, bind=["127.0.0.1:0", f"127.0.0.1:{port}"])
        assert len(os.listdir("/proc/self/fd")) == before


def test_bind_error_removes_unix_socket_already_created(tmp_path: Path) -> None:
    path = tmp_path / "first.sock"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(BindError):
            Server(path_app, bind=[f"unix:{path}", f"127.0.0.1:{port}"])
    assert not path.exists()


def test_no_file_descriptor_left_for_the_poller_is_a_bind_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The poller takes five descriptors after the listeners: with one to five left, the
    # start failed with a bare OSError (and left a unix socket file behind).
    def no_fds_left() -> None:
        raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))

    monkeypatch.setattr(server_module, "make_poller", no_fds_left)
    path = tmp_path / "app.sock"
    before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(BindError) as caught:
        Server(path_app, bind=[f"unix:{path}", "127.0.0.1:0"])
    assert re.fullmatch(
        rf"cannot listen on unix:{re.escape(str(path))}, 127\.0\.0\.1:\d+: cannot create the "
        r"poller: Too many open files",
        str(caught.value),
    )
    assert not path.exists()
    assert len(os.listdir("/proc/self/fd")) == before


@pytest.mark.parametrize(
    "start",
    [
        pytest.param(Server, id="Server"),
        pytest.param(server_module.serve, id="serve"),
        pytest.param(lambda app, **options: serving(app, **options).__enter__(), id="serving"),
    ],
)
def test_an_app_that_is_not_callable_is_refused_before_binding(
    tmp_path: Path, start: Callable[..., object]
) -> None:
    """Not a 500 on every request: a TypeError naming the type, and nothing bound."""
    path = tmp_path / "never.sock"
    before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(TypeError) as info:
        start(42, bind=[f"unix:{path}", "127.0.0.1:0"])
    assert str(info.value) == "app is not a WSGI callable (its type is int)"
    assert isinstance(info.value, NotAWSGIApp)
    assert not path.exists()
    assert len(os.listdir("/proc/self/fd")) == before


def test_shutdown_from_another_thread_is_prompt_and_idempotent() -> None:
    server = Server(path_app, bind="127.0.0.1:0")
    port = server.addresses[0].port
    with serving_in_thread(server) as thread:
        with RawClient(("127.0.0.1", port)) as client:
            assert client.request(get("/x")).body == b"/x"
        started = time.monotonic()
        server.shutdown()
        assert time.monotonic() - started < UPPER_BOUND
        thread.join(UPPER_BOUND)
        assert not thread.is_alive()
        server.shutdown()  # again: a no-op
    server.shutdown()
    assert refused(port)
    with pytest.raises(RuntimeError):
        server.serve_forever()


def test_shutdown_closes_idle_keep_alive_connections() -> None:
    with serving(path_app, keepalive_timeout=60.0) as srv:
        client = RawClient((srv.host, srv.port))
        assert client.request(get("/k")).body == b"/k"
        srv.stop()
        client.assert_closed()
        client.close()


def test_context_manager_stops_serving() -> None:
    with Server(path_app, bind="127.0.0.1:0") as server:
        port = server.addresses[0].port
        thread = threading.Thread(target=server.serve_forever)
        thread.start()
        assert server.wait_serving(UPPER_BOUND)
        with RawClient(("127.0.0.1", port)) as client:
            assert client.request(get("/cm")).body == b"/cm"
    thread.join(UPPER_BOUND)
    assert not thread.is_alive()
    assert refused(port)


def test_gate_keeps_the_queue_and_refuses_what_comes_after() -> None:
    # listeners.gate: the queued connection is still served; an attempt made after the gate
    # never becomes a connection (so closing cannot reset it) and is refused once closed.
    listener = listeners.create_listener(BindAddress("127.0.0.1", 0), backlog=16)
    address = listener.getsockname()
    with socket.create_connection(address) as queued, socket.socket() as late:
        queued.sendall(b"q")
        assert not listeners.is_gated(listener)
        assert listeners.gate(listener)
        assert listeners.is_gated(listener)
        late.setblocking(False)
        assert late.connect_ex(address) == errno.EINPROGRESS
        accepted, _ = listener.accept()
        with accepted:
            assert accepted.recv(1) == b"q"
        with pytest.raises(BlockingIOError):
            listener.accept()  # the late attempt was not queued behind it
        listener.close()
        late.setblocking(True)
        late.settimeout(UPPER_BOUND)
        with pytest.raises(ConnectionRefusedError):  # at its SYN retransmission
            late.sendall(b"x")


def test_a_listener_queue_is_ours_to_empty_only_when_nobody_else_accepts(tmp_path: Path) -> None:
    # A retiring worker leaves the queue to the others; a stopping server empties it.
    tcp = listeners.create_listener(BindAddress("127.0.0.1", 0), backlog=16)
    path = str(tmp_path / "s.sock")
    unix = listeners.create_listener(BindAddress(path=path), backlog=16)
    with tcp, unix:
        assert not listeners.queue_is_ours(tcp)
        assert listeners.gate(tcp)
        assert listeners.queue_is_ours(tcp)
        assert not listeners.queue_is_ours(unix)
        os.unlink(path)
        assert listeners.queue_is_ours(unix)


def test_draining_stop_answers_a_request_on_an_idle_connection() -> None:
    # Draining: an idle keep-alive connection is not closed by the stop (a request may be
    # on its way); the next request on it is answered with Connection: close. A connection
    # attempted once the listeners are closed is refused.
    closed = threading.Event()
    server = Server(
        path_app,
        bind="127.0.0.1:0",
        process=ProcessRole(drain=True, on_stop_accepting=closed.set),
        keepalive_timeout=60.0,
    )
    port = server.addresses[0].port
    with serving_in_thread(server), RawClient(("127.0.0.1", port)) as client:
        first = client.request(get("/first"))
        assert not first.closes
        stopper = threading.Thread(target=server.shutdown)
        stopper.start()
        assert closed.wait(UPPER_BOUND)
        assert refused(port)
        second = client.request(get("/second"))
        assert second.body == b"/second"
        assert second.closes
        client.assert_closed()
        stopper.join(UPPER_BOUND)
        assert not stopper.is_alive()


class Blocking:
    """An app that waits for `release` before answering."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        self.entered.set()
        assert self.release.wait(UPPER_BOUND)
        start_response("200 OK", [])
        return [b"finished"]


def test_graceful_shutdown_lets_in_flight_request_finish() -> None:
    app = Blocking()
    server = Server(app, bind="127.0.0.1:0", graceful_timeout=UPPER_BOUND)
    port = server.addresses[0].port
    with serving_in_thread(server), RawClient(("127.0.0.1", port)) as client:
        client.send(get("/slow"))
        assert app.entered.wait(UPPER_BOUND)
        stopper = threading.Thread(target=server.shutdown)
        stopper.start()
        # shutdown() marks in-flight connections before anything else can observe it.
        assert server._stopping.wait(UPPER_BOUND)
        app.release.set()
        response = client.read_response()
        assert response.status == 200
        assert response.body == b"finished"
        assert response.closes
        client.assert_closed()
        stopper.join(UPPER_BOUND)
        assert not stopper.is_alive()
    assert refused(port)


def test_open_connections_counts_requests_in_the_app_and_idle_connections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The stop message is built from this count: it said "0 request(s) in flight" while
    # HTTP/1.1 requests were inside the app (their connections counted as idle).
    app = Blocking()
    server = Server(app, bind="127.0.0.1:0", graceful_timeout=UPPER_BOUND)
    address = ("127.0.0.1", server.addresses[0].port)
    # The client has its response before the server's thread is done with the connection:
    # it is idle only once parked again (a count read in between said 2 in flight, 0 idle).
    parks: dict[int, int] = {}  # by the client's port: how often its connection was parked
    parked = threading.Condition()
    schedule = server._schedule

    def schedule_and_count(transport: Any) -> None:
        schedule(transport)
        with parked:
            port = transport.remote[1]
            parks[port] = parks.get(port, 0) + 1
            parked.notify_all()

    def wait_parked(port: int, times: int) -> None:
        with parked:
            assert parked.wait_for(lambda: parks.get(port, 0) >= times, UPPER_BOUND)

    monkeypatch.setattr(server, "_schedule", schedule_and_count)
    with serving_in_thread(server), RawClient(address) as busy, RawClient(address) as idle:
        port = idle.sock.getsockname()[1]
        wait_parked(port, 1)  # accepted with nothing to read yet: parked
        app.release.set()
        assert idle.request(get("/")).status == 200
        wait_parked(port, 2)  # and again after its request
        app.release.clear()
        app.entered.clear()
        busy.send(get("/slow"))
        assert app.entered.wait(UPPER_BOUND)
        try:
            with server._lock:  # the idle one is not between its thread and the poller
                assert server.open_connections() == (1, 1)
        finally:
            app.release.set()
        assert busy.read_response().status == 200


def test_graceful_timeout_cuts_off_a_stuck_request(caplog: pytest.LogCaptureFixture) -> None:
    app = Blocking()
    server = Server(app, bind="127.0.0.1:0", graceful_timeout=0.2)
    with serving_in_thread(server), RawClient(server.address) as client:
        client.send(get("/stuck"))
        assert app.entered.wait(UPPER_BOUND)
        with caplog.at_level(logging.WARNING):
            server.shutdown()
        assert client.read_until_close() == b""
        app.release.set()
    # Which request, with its id, as on every per-request line (it named none).
    said = [r.getMessage() for r in caplog.records if "graceful_timeout" in r.getMessage()]
    assert len(said) == 1
    assert re.fullmatch(
        r"closing a connection still busy after graceful_timeout: \[[^\]\s]+\] GET /stuck",
        said[0],
    ), said


def test_shutdown_from_the_serving_thread_while_it_holds_the_lock() -> None:
    """A signal handler runs shutdown() in the serving thread, possibly in the middle of the
    housekeeper's work (which holds the server lock): it must not deadlock."""
    server = Server(path_app, bind="127.0.0.1:0", keepalive_timeout=0.05)
    real_pop = server._pop_expired
    called = threading.Event()
    answered = threading.Event()  # only then: a deadline before it could be the request's own

    def pop_and_signal(now: float) -> list[object]:
        if answered.is_set() and not called.is_set() and server._deadlines:
            called.set()
            server.shutdown()  # as a SIGTERM handler would, with the lock held
        return real_pop(now)  # type: ignore[return-value]

    server._pop_expired = pop_and_signal  # type: ignore[assignment,method-assign]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    assert server.wait_serving(UPPER_BOUND)
    with RawClient(server.address) as client:
        assert client.request(get("/")).status == 200  # parks it: a deadline to expire
        answered.set()
        thread.join(UPPER_BOUND)
        assert called.is_set()
        assert not thread.is_alive(), "serve_forever deadlocked in shutdown()"


def _join_new_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    """Join threads started since `before`; return those still running after a while.

    Worker threads leave the pool just before they finish running, so they get a moment.
    """
    new = [t for t in threading.enumerate() if t not in before]
    for thread in new:
        thread.join(UPPER_BOUND)
    return [t for t in new if t.is_alive()]


@pytest.mark.slow
def test_no_thread_or_fd_leak_over_many_cycles() -> None:
    def cycle() -> None:
        with serving(path_app, threads=2) as srv, RawClient((srv.host, srv.port)) as client:
            assert client.request(get("/leak")).body == b"/leak"
            client.send(b"GET /partial HTTP/1.1\r\n")  # one connection left mid-head

    cycle()  # warm up lazily created module state
    before = set(threading.enumerate())
    assert _join_new_threads(before) == []
    fds_before = sorted(os.listdir("/proc/self/fd"))
    for _ in range(50):
        cycle()
    assert _join_new_threads(before) == []
    assert sorted(os.listdir("/proc/self/fd")) == fds_before


def test_many_servers_side_by_side() -> None:
    def app_for(n: int) -> WSGIApp:
        def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
            start_response("200 OK", [])
            return [b"server %d" % n]

        return app

    servers = [Server(app_for(n), bind="127.0.0.1:0", threads=1) for n in range(8)]
    threads = [threading.Thread(target=s.serve_forever) for s in servers]
    try:
        for thread in threads:
            thread.start()
        for server in servers:
            assert server.wait_serving(UPPER_BOUND)
        assert len({s.addresses[0].port for s in servers}) == len(servers)
        for n, server in reversed(list(enumerate(servers))):
            with RawClient(server.address) as client:
                assert client.request(get()).body == b"server %d" % n
    finally:
        for server in servers:
            server.shutdown()
        for thread in threads:
            thread.join(UPPER_BOUND)
    assert not any(t.is_alive() for t in threads)


def test_serve_forever_runs_in_a_non_main_thread() -> None:
    server = Server(path_app, bind="127.0.0.1:0")
    with serving_in_thread(server) as thread:
        assert thread is not threading.main_thread()
        with RawClient(server.address) as client:
            assert client.request(get("/t")).body == b"/t"


def test_serve_forever_twice_is_refused() -> None:
    server = Server(path_app, bind="127.0.0.1:0")
    with serving_in_thread(server), pytest.raises(RuntimeError):
        server.serve_forever()


def test_a_listener_closed_by_the_stop_under_an_accept_is_not_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A thread that looked the listener up just before the stop closed it gets EBADF from
    # accept(): it was logged as "accept() failed: Bad file descriptor; pausing", the
    # warning of a process out of descriptors (a verification probe, at reloads).
    server = Server(path_app, bind="127.0.0.1:0")
    ((fd, listener),) = server._listeners.items()
    try:
        with server._lock:
            server._accepting = False  # what _stop_accepting does first
        listener.close()
        with caplog.at_level(logging.WARNING):
            assert server._accept_one(fd) == (None, None)
        assert [r.getMessage() for r in caplog.records] == []
    finally:
        server.shutdown()


class FlakyAccept:
    """Patches the server's accept: the listener of `port` fails with EMFILE while `failing`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, failures: int | None = None) -> None:
        self.real = listeners.accept
        self.failing = threading.Event()
        self.failing.set()
        self.first_failure = threading.Event()
        self.failures = 0
        self.limit = failures
        self.port = -1
        monkeypatch.setattr(server_module, "accept", self.accept)

    def accept(self, sock: socket.socket, family: int) -> tuple[socket.socket, object]:
        if (
            sock.family == socket.AF_INET
            and sock.getsockname()[1] == self.port
            and self.failing.is_set()
            and (self.limit is None or self.failures < self.limit)
        ):
            self.failures += 1
            self.first_failure.set()
            raise OSError(errno.EMFILE, "Too many open files")
        return self.real(sock, family)


class ListenerArms:
    """Records which thread re-arms the listener of `port` in the poller, and when."""

    def __init__(self, server: Server, port: int) -> None:
        self.by: list[str] = []
        self._real = server._poller.arm
        self._fd = next(
            fd for fd, sock in server._listeners.items() if sock.getsockname()[1] == port
        )
        server._poller.arm = self.arm  # type: ignore[method-assign]

    def arm(self, fd: int) -> None:
        if fd == self._fd:
            self.by.append(threading.current_thread().name)
        self._real(fd)


def test_accept_survives_emfile_without_spinning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Each EMFILE rests the listener: it is re-armed by the housekeeper once the pause is
    over, never straight away by the thread that failed (which would spin on a listener
    that stays readable). Counted: as many housekeeper re-arms as failures."""
    flaky = FlakyAccept(monkeypatch, failures=3)
    with caplog.at_level(logging.WARNING), serving(path_app) as srv:
        flaky.port = srv.port
        arms = ListenerArms(srv.server, srv.port)
        with RawClient((srv.host, srv.port)) as client:  # the kernel accepts; we "cannot"
            assert client.request(get("/after-emfile")).body == b"/after-emfile"
    assert flaky.failures == 3
    failed_then_rested = [name for name in arms.by if name == "wsgiserver-serving"]
    assert len(failed_then_rested) == 3, arms.by  # the housekeeper runs in serve_forever
    # Said once, not once per try: a descriptor leak logged ten lines a second for as long
    # as it lasted.
    said = [r.getMessage() for r in caplog.records if "accept() failed" in r.getMessage()]
    assert said == [
        "accept() failed: Too many open files; pausing 0.1s between tries (said at most once "
        "a minute while it lasts)"
    ]


def test_accept_resumes_promptly_after_emfile_with_parked_connections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A parked connection with a far deadline must not delay re-arming the listener: the
    housekeeper sleeps until the earliest of its deadlines and the listener's resume (it used
    to sleep until the parked deadline, up to a second per pause). Counted on the
    housekeeper's own waits: none of them may outlast a pause while a resume is due."""
    flaky = FlakyAccept(monkeypatch, failures=3)
    with (
        serving(path_app, keepalive_timeout=60.0, header_timeout=60.0) as srv,
        RawClient((srv.host, srv.port)) as parked,
    ):
        assert parked.request(get("/parked")).status == 200
        server = srv.server
        waits: list[tuple[float, bool]] = []
        real_wait = server._cond.wait

        def wait(timeout: float | None = None) -> bool:
            waits.append((timeout or 0.0, bool(server._resume_accept)))
            return real_wait(timeout)

        server._cond.wait = wait  # type: ignore[method-assign]
        flaky.port = srv.port
        with RawClient((srv.host, srv.port)) as client:
            assert client.request(get("/resumed")).body == b"/resumed"
    assert flaky.failures == 3
    pending = [timeout for timeout, resume_due in waits if resume_due]
    assert pending, waits  # the housekeeper did wait with a resume due
    assert max(pending) <= server_module.ACCEPT_PAUSE + 0.01, pending


def test_app_can_shut_the_server_down() -> None:
    """shutdown() called by the app in a worker thread must not wait for that very thread."""
    holder: list[Server] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        holder[0].shutdown()
        start_response("200 OK", [])
        return [b"bye"]

    server = Server(app, bind="127.0.0.1:0", graceful_timeout=30.0)
    holder.append(server)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    assert server.wait_serving(UPPER_BOUND)
    with RawClient(server.address) as client:
        response = client.request(get("/quit"))  # within the client's read timeout
        assert response.body == b"bye"
        assert response.closes
    thread.join(UPPER_BOUND)
    assert not thread.is_alive()


def test_unix_socket_path_in_use_stale_or_not_a_socket(tmp_path: Path) -> None:
    path = tmp_path / "u.sock"
    with serving(path_app, bind=f"unix:{path}"):
        with pytest.raises(BindError, match="already in use"):
            Server(path_app, bind=f"unix:{path}")
        assert path.exists()  # the live server's socket was left alone
    # A stale socket file (its server died without cleaning up) is replaced.
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()
    with serving(path_app, bind=f"unix:{path}"), RawClient(str(path)) as client:
        assert client.request(get("/s")).body == b"/s"
    # A regular file is never removed.
    path.write_text("data")
    with pytest.raises(BindError, match="not a socket"):
        Server(path_app, bind=f"unix:{path}")
    assert path.read_text() == "data"


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_UNIX])
def test_listeners_accept_gives_a_full_socket_of_the_listeners_family(
    family: int, tmp_path: Path
) -> None:
    with socket.socket(family, socket.SOCK_STREAM) as listener:
        address: Any = ("127.0.0.1", 0) if family == socket.AF_INET else str(tmp_path / "s")
        listener.bind(address)
        listener.listen(1)
        with socket.socket(family, socket.SOCK_STREAM) as client:
            client.connect(listener.getsockname())
            sock, peer = listeners.accept(listener, int(listener.family))
            with sock:
                assert sock.family == family
                assert sock.type == socket.SOCK_STREAM
                if family == socket.AF_INET:
                    assert peer == client.getsockname()
                client.sendall(b"ping")
                assert sock.recv(4) == b"ping"


def test_accepted_tcp_connections_have_nagle_disabled() -> None:
    # Responses go out in whole writes; Nagle's algorithm would hold back a final small
    # segment until the client's delayed ACK (tens of milliseconds per response).
    server = Server(path_app, bind="127.0.0.1:0")
    with serving_in_thread(server), RawClient(server.address) as client:
        assert client.request(get("/n")).body == b"/n"
        with server._lock:  # served (active) or parked: under the lock it is one of the two
            transports = [*server._parked.values(), *server._active]
        assert transports
        for transport in transports:
            assert transport.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


SERVE_SCRIPT = """
import logging, sys
import wsgiserver

logging.basicConfig(level=logging.INFO, stream=sys.stderr)

def app(environ, start_response):
    sys.stderr.write("app entered\\n"); sys.stderr.flush()
    body = environ["wsgi.input"].read()
    start_response("200 OK", [])
    return [b"%d" % len(body)]

wsgiserver.serve(app, bind="127.0.0.1:0")
sys.stderr.write("serve returned\\n")
"""


def test_serve_stops_gracefully_on_sigterm(tmp_path: Path) -> None:
    # `docker stop` sends SIGTERM: its default action ended a script calling serve() at
    # once, cutting the request in flight.
    script = tmp_path / "serve_it.py"
    script.write_text(SERVE_SCRIPT)
    process = Proc([sys.executable, str(script)], tmp_path)
    try:
        host, port = process.wait_for(r"serving on (\S+):(\d+)").groups()
        with RawClient((host, int(port))) as client:
            # Over the 64 KiB a body may be received in before the app runs: the app is in.
            client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n")
            process.wait_for("app entered")
            process.send(signal.SIGTERM)
            client.send(b"x" * 70000)
            response = client.read_response()
            assert response.status == 200
            assert response.body == b"70000"
        assert process.wait() == 0
        process.wait_for("serve returned")
    finally:
        process.kill()


def test_a_draining_stop_past_its_deadline_lets_every_thread_out_of_the_poller() -> None:
    """The stop wakes the poller and then closes it. Closed at once (a drain already past
    its deadline), the wake could vanish under a thread in epoll_wait, which then slept out
    its idle timeout (30 s), and held the worker process's exit with it: a supervisor
    test's stop after a reload took over 10 s, once in CI."""
    for _ in range(20):  # the window is small: each round is one more chance to hit it
        server = Server(
            path_app,
            bind="127.0.0.1:0",
            threads=2,
            graceful_timeout=0.0,
            process=ProcessRole(drain=True),
        )
        with serving_in_thread(server):
            with RawClient(server.address) as client:
                assert client.request(get()).status == 200
            threads = server.worker_threads()
        for thread in threads:
            thread.join(UPPER_BOUND)
            assert not thread.is_alive(), "a pool thread is still in the closed poller"


@pytest.mark.parametrize("drain", [True, False], ids=["draining", "embedded"])
def test_a_stop_closes_without_a_reset_over_pipelined_bytes_it_never_read(drain: bool) -> None:
    """A stop ends a keep-alive connection after its response in flight. Pipelined bytes
    behind that request, still unread in the kernel, made the close a reset (RFC 9112
    section 9.6), which can erase the response before the client reads it (a probe: 2 to 3
    resets in 5). The close lingers instead, reading them."""
    entered, release = threading.Event(), threading.Event()

    def gated(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        environ["wsgi.input"].read()
        entered.set()
        assert release.wait(UPPER_BOUND)
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    server = Server(gated, bind="127.0.0.1:0", process=ProcessRole(drain=drain))
    thread = threading.Thread(target=server.serve_forever, name="test-serving")
    thread.start()
    assert server.wait_serving(UPPER_BOUND)
    stopper = threading.Thread(target=server.shutdown, name="test-stop")
    try:
        bound = server.addresses[0]
        with socket.create_connection((bound.host, bound.port), timeout=UPPER_BOUND) as sock:
            sock.sendall(get())
            assert entered.wait(UPPER_BOUND)  # the server has read that request, no more
            body = b"p" * 100_000
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + body)
            stopper.start()
            release.set()
            received = b""
            while chunk := sock.recv(65536):  # ConnectionResetError if the close resets
                received += chunk
        assert received.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"Connection: close\r\n" in received
        assert received.endswith(b"\r\n\r\nok")  # the pipelined request was not served
    finally:
        release.set()
        stopper.join(UPPER_BOUND)
        thread.join(UPPER_BOUND)
    assert not thread.is_alive()
