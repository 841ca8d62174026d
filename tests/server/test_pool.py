"""The pool's rule: one runnable thread, one more only while the running ones are blocked.

The rule is tested twice: on `ThreadPool` itself (pure, no thread), and through a real server
whose process CPU clock the test controls (`Timing(cpu_time=...)`), so "the app computes" and
"the app is blocked" are facts of the test, not of a shared machine's load.
"""

from __future__ import annotations

import itertools
import logging
import select
import threading
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from tests.http2.client import H2Client
from tests.server.helpers import Environ, RawClient, StartResponse, echo_app, get
from wsgiserver.config.options import Config
from wsgiserver.server import server as server_module
from wsgiserver.server.pool import (
    BUSY_CPU_SHARE,
    GROWTH_CPU_SHARE,
    SETTLE_SECONDS,
    ThreadPool,
)
from wsgiserver.server.server import Server, Timing
from wsgiserver.testing import serving

BOUND = 10.0  # seconds a wait may take on a loaded machine before the test fails


def pool(maximum: int = 8) -> ThreadPool:
    return ThreadPool(threading.Lock(), minimum=1, maximum=maximum)


def test_work_waiting_while_the_cpu_idles_adds_a_runnable_thread() -> None:
    p = pool()
    assert p.adjust(GROWTH_CPU_SHARE / 2, waiting=True, now=1.0)
    assert p.runnable == 2


def test_work_waiting_while_the_cpu_is_busy_takes_one_away() -> None:
    p = pool()
    p.runnable = 3
    assert not p.adjust(BUSY_CPU_SHARE, waiting=True, now=1.0)
    assert p.runnable == 2
    p.runnable = 1
    assert not p.adjust(1.0, waiting=True, now=1.0)
    assert p.runnable == 1  # never fewer than one


def test_between_the_two_shares_or_without_waiting_work_nothing_moves() -> None:
    p = pool()
    p.runnable = 2
    assert not p.adjust((GROWTH_CPU_SHARE + BUSY_CPU_SHARE) / 2, waiting=True, now=1.0)
    assert not p.adjust(0.0, waiting=False, now=1.0)
    assert p.runnable == 2


def test_no_growth_past_the_maximum() -> None:
    p = pool(maximum=2)
    p.threads = {threading.current_thread(), threading.Thread()}
    assert not p.adjust(0.0, waiting=True, now=1.0)
    assert p.runnable == 1


def test_quiet_for_the_settle_time_returns_to_one() -> None:
    p = pool()
    p.runnable = 4
    p.adjust(BUSY_CPU_SHARE - 0.01, waiting=True, now=10.0)  # work waited at 10.0
    p.settle(10.0 + SETTLE_SECONDS / 2)
    assert p.runnable == 4
    p.settle(10.0 + SETTLE_SECONDS * 2)
    assert p.runnable == 1


class CpuClock:
    """A process CPU clock the test drives: `busy` makes each reading a full tick ahead of
    the last (the process computes all the time), otherwise it stands still (blocked)."""

    def __init__(self, busy: bool) -> None:
        self.busy = busy
        self.readings = 0
        self._value = 0.0
        self._changed = threading.Condition()

    def __call__(self) -> float:
        with self._changed:
            self.readings += 1
            self._changed.notify_all()
            if self.busy:
                self._value += 1.0  # more CPU than wall time passes: a share above 1
            return self._value

    def wait_readings(self, count: int) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self.readings >= count, BOUND)


class Inside:
    """An app that holds each request until released, counting how many are inside."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.now = 0
        self.most = 0
        self._entered = threading.Condition()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        with self._entered:
            self.now += 1
            self.most = max(self.most, self.now)
            self._entered.notify_all()
        try:
            assert self.release.wait(BOUND)
        finally:
            with self._entered:
                self.now -= 1
        start_response("200 OK", [])
        return [b"ok"]

    def wait_inside(self, count: int) -> None:
        with self._entered:
            assert self._entered.wait_for(lambda: self.now >= count, BOUND)


def _clients(address: tuple[str, int], count: int) -> list[threading.Thread]:
    def request(i: int) -> None:
        with RawClient(address) as client:
            assert client.request(get(f"/{i}")).status == 200

    threads = [threading.Thread(target=request, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    return threads


def _serve(app: Inside, clock: Callable[[], float], **options: Any) -> Any:
    return serving(app, threads=4, max_threads=8, timing=Timing(cpu_time=clock), **options)


def test_a_computing_app_keeps_one_runnable_thread_while_work_waits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Four threads kept ready, three requests at once, a process that computes all the
    time: the pool never lets a second request into the app, however often it looks (while
    the one inside is no long request: that is the next test)."""
    monkeypatch.setattr(server_module, "HOG_SECONDS", 1e9)
    app, clock = Inside(), CpuClock(busy=True)
    with _serve(app, clock) as srv:
        clients = _clients((srv.host, srv.port), 3)
        app.wait_inside(1)
        clock.wait_readings(clock.readings + 50)  # the housekeeper looked, many times
        assert app.now == 1
        app.release.set()
        for client in clients:
            client.join(BOUND)
    assert app.most == 1


def test_a_long_request_does_not_hold_the_only_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same computing process, but the request inside has been there HOG_SECONDS: it no
    longer counts toward the runnable target, so the next one runs beside it. One long
    computation made a trivial request wait for as long as it computed (a black-box probe:
    24.5 s behind a 25 s request, with four threads)."""
    monkeypatch.setattr(server_module, "HOG_SECONDS", 0.0)  # every request is long
    app, clock = Inside(), CpuClock(busy=True)
    with _serve(app, clock) as srv:
        clients = _clients((srv.host, srv.port), 3)
        try:
            app.wait_inside(3)  # each one in turn became long, and let the next one in
        finally:
            app.release.set()
            for client in clients:
                client.join(BOUND)
    assert app.most == 3


def test_long_requests_run_at_most_as_many_at_once_as_threads_are_kept_ready(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No thread is started for long requests: a queue of them computing does not become a
    GIL shared twelve ways (a verification probe saw 12 at once with 4 threads kept ready,
    every request finishing late)."""
    monkeypatch.setattr(server_module, "HOG_SECONDS", 0.0)  # every request is long
    app, clock = Inside(), CpuClock(busy=True)
    with _serve(app, clock) as srv:  # 4 threads kept ready, up to 8
        clients = _clients((srv.host, srv.port), 12)
        try:
            app.wait_inside(4)
            clock.wait_readings(clock.readings + 50)  # the housekeeper looked, many times
            assert app.now == 4
        finally:
            app.release.set()
            for client in clients:
                client.join(BOUND)
    assert app.most == 4


def test_a_long_http2_stream_does_not_hold_the_only_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same over HTTP/2, where each stream's call is a pool task of its own: three
    streams on one connection, each long at once, all get into the app."""
    monkeypatch.setattr(server_module, "HOG_SECONDS", 0.0)  # every call is long
    app, clock = Inside(), CpuClock(busy=True)
    with _serve(app, clock, http2=True) as srv, H2Client((srv.host, srv.port)) as c:
        streams = [c.request(f"/{i}") for i in range(3)]
        try:
            app.wait_inside(3)
        finally:
            app.release.set()
        assert [c.reply(stream).status for stream in streams] == [200] * 3
    assert app.most == 3


def test_a_blocked_app_gets_a_thread_for_each_waiting_request() -> None:
    """The same load, but the process uses no CPU while the requests wait inside the app
    (they are blocked): the pool adds runnable threads until all three are in at once."""
    app, clock = Inside(), CpuClock(busy=False)
    with _serve(app, clock) as srv:
        clients = _clients((srv.host, srv.port), 3)
        app.wait_inside(3)
        app.release.set()
        for client in clients:
            client.join(BOUND)
    assert app.most == 3


@pytest.mark.parametrize("busy", [True, False])
def test_the_rule_never_stalls_a_single_client(busy: bool) -> None:
    app, clock = Inside(), CpuClock(busy=busy)
    app.release.set()
    with _serve(app, clock) as srv, RawClient((srv.host, srv.port)) as client:
        for i in itertools.islice(itertools.count(), 20):
            assert client.request(get(f"/{i}")).status == 200


def test_a_burst_of_new_connections_is_accepted_at_once_by_a_busy_thread() -> None:
    """One thread, kept busy by ten keep-alive clients: a burst of 20 new connections is
    taken from the listen queue together (and served in turn), not one per round of every
    ready connection. Counted in served requests, not time: without the batch, each new
    connection waited a full round of the keep-alive ones (some 200 of their requests)."""
    order: list[str] = []
    lock = threading.Lock()

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        with lock:
            order.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    stop = threading.Event()
    with serving(app, threads=1, max_threads=1) as srv:
        address = (srv.host, srv.port)

        def keep_alive() -> None:
            with RawClient(address) as client:
                while not stop.is_set():
                    assert client.request(get("/ka")).status == 200

        busy = [threading.Thread(target=keep_alive) for _ in range(10)]
        for thread in busy:
            thread.start()
        burst = [RawClient(address) for _ in range(20)]
        try:
            for i, client in enumerate(burst):
                client.send(get(f"/burst-{i}"))
            assert all(client.read_response().status == 200 for client in burst)
        finally:
            stop.set()
            for client in burst:
                client.close()
            for thread in busy:
                thread.join(BOUND)
    first = next(i for i, path in enumerate(order) if path.startswith("/burst"))
    last = max(i for i, path in enumerate(order) if path.startswith("/burst"))
    between = order[first : last + 1].count("/ka")
    assert between <= 60, between  # a few rounds of the ten at most


def test_connections_taken_from_the_queue_as_serving_ends_are_served_not_refused() -> None:
    """A worker stopping for a reload or a recycle could be taking a batch off the listen
    queue just then: those connections got "503 too many connections" (a black-box probe
    saw one in ten reloads under load). Each is served to its end instead, and the rest of
    the queue is left to the other workers."""
    server = Server(echo_app, Config(bind=("127.0.0.1:0",), threads=1))
    address = server.address
    assert isinstance(address, tuple)
    ((listener_fd, listener),) = server._listeners.items()
    with RawClient(address) as first, RawClient(address) as second:
        first.send(get("/first"))
        second.send(get("/second"))
        with server._lock:
            server._closed = True  # serving ended, as _stop_everything says it
        try:
            server._accept_queued(listener_fd)
            response = first.read_response()
            assert response.status == 200
            assert response.header("Connection") == "close"
            # The batch stopped there: `second` waits in the queue for another worker.
            assert select.select([listener], [], [], 0)[0] == [listener]
        finally:
            with server._lock:
                server._closed = False
            server.shutdown()


# -- tasks: work that is not a ready socket (an HTTP/2 stream's app call) -----------------


class Job:
    """A task that records whether it ran or was dropped, and can hold its thread."""

    def __init__(self, name: str, log: list[str], gate: threading.Event | None = None) -> None:
        self.name = name
        self.log = log
        self.gate = gate
        self.running = threading.Event()
        self.done = threading.Event()

    def run(self) -> None:
        self.running.set()
        if self.gate is not None:
            assert self.gate.wait(BOUND)
        self.log.append(f"ran {self.name}")
        self.done.set()

    def drop(self) -> None:
        self.log.append(f"dropped {self.name}")


def test_a_queued_task_comes_before_the_poller_in_submission_order() -> None:
    p = pool()
    p.threads = {threading.current_thread()}
    log: list[str] = []
    first, second = Job("a", log), Job("b", log)
    with p._lock:
        assert p.submit(first) is False  # no thread in the poller to fetch
        assert p.submit(second) is False
        assert p.wait_turn(lambda: False) is first
        assert p.wait_turn(lambda: False) is second
        assert p.wait_turn(lambda: False) is True  # nothing queued: the poller
        assert p.idle == 1


def test_submitting_fetches_a_thread_from_the_poller_or_wakes_a_spare() -> None:
    p = pool()
    p.threads = {threading.current_thread(), threading.Thread()}
    with p._lock:
        p.idle = 1  # the other thread waits in the poller
        assert p.submit(Job("a", [])) is True  # the caller nudges the poller
        p.idle = 0
        p.spares = 1  # the other thread is a spare, and one more may run
        p.runnable = 2
        assert p.submit(Job("b", [])) is False  # woken directly instead
        assert [type(t) for t in p.take_tasks()] == [Job, Job]
        assert not p.tasks


def test_a_thread_fetched_from_the_poller_runs_the_task_while_others_still_wait_there() -> None:
    # One runnable thread, two in the poller (the target fell while they waited there): a
    # task submitted from outside the pool (the housekeeper expiring an HTTP/2 connection)
    # fetches one. Threads waiting in the poller run nothing, so it must run the task; it
    # used to become a spare, and the task waited for a poller's wait to time out.
    p = ThreadPool(threading.Lock(), minimum=1, maximum=8, idle_seconds=0.01)
    p.threads = {threading.current_thread(), threading.Thread()}
    with p._lock:
        p.idle = 2  # both threads wait in the poller
        job = Job("a", [])
        assert p.submit(job) is True  # fetch a thread from the poller
        assert not p.polled()  # the one fetched (the other still waits there)
        assert p.wait_turn(lambda: False) is job
        assert p.idle == 1  # the other still waits in the poller


def test_a_task_waits_while_the_runnable_threads_are_busy() -> None:
    p = pool()
    p.threads = {threading.current_thread(), threading.Thread()}
    with p._lock:
        p.spares = 1  # a spare exists, but the one runnable thread is busy
        assert p.submit(Job("a", [])) is False
        assert len(p.tasks) == 1


def test_taking_a_task_with_no_thread_in_the_poller_starts_the_watch() -> None:
    p = pool()
    with p._lock:
        assert p.start_watching()
        assert not p.start_watching()  # once
        p.watching = False
        p.idle = 1
        assert not p.start_watching()  # a thread in the poller notices new work itself


def test_the_last_thread_back_from_the_poller_starts_the_watch_with_or_without_work() -> None:
    # A thread nudged out of the poller for a task another thread took may become a spare:
    # if every running thread is blocked on its HTTP/2 stream's body, only the watch (the
    # housekeeper's rule) can add a poller to read that body. So leaving the poller with
    # nothing still starts the watch once no thread is left there.
    p = pool()
    with p._lock:
        p.idle = 2
        assert not p.polled()  # another thread still waits in the poller
        assert not p.watching
        assert p.polled()  # the last one: nothing would notice ready work
        assert p.watching


def test_a_server_runs_submitted_tasks_on_its_threads_and_drops_the_rest_at_stop() -> None:
    log: list[str] = []
    gate = threading.Event()
    app, clock = Inside(), CpuClock(busy=False)
    with _serve(app, clock) as srv:
        blocked = Job("blocked", log, gate)
        srv.server.submit_task(blocked)
        assert blocked.running.wait(BOUND)
        quick = Job("quick", log)
        srv.server.submit_task(quick)  # a blocked task does not hold up the queue
        assert quick.done.wait(BOUND)
        gate.set()
        assert blocked.done.wait(BOUND)
    late = Job("late", log)
    srv.server.submit_task(late)  # serving has ended: dropped, never run
    assert log == ["ran quick", "ran blocked", "dropped late"]


def test_tasks_left_in_the_queue_when_serving_ends_are_dropped() -> None:
    log: list[str] = []
    gate = threading.Event()
    app, clock = Inside(), CpuClock(busy=True)  # computing: no second runnable thread
    with serving(app, threads=1, max_threads=1, timing=Timing(cpu_time=clock)) as srv:
        holder = Job("holder", log, gate)
        srv.server.submit_task(holder)
        assert holder.running.wait(BOUND)
        waiting = Job("waiting", log)
        srv.server.submit_task(waiting)  # the only thread is busy: it waits in the queue
        stopper = threading.Thread(target=srv.stop)
        stopper.start()
        gate.set()
        stopper.join(BOUND)
    assert log[0] == "ran holder"
    assert log[1:] in (["dropped waiting"], ["ran waiting"])
    assert len(log) == 2  # run or dropped: never both, never lost


def test_a_pool_blocked_at_max_threads_with_work_waiting_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Three requests blocked in the app, two threads at most: the third waits, and nothing
    # the pool may do helps. The operator is told, once, not at every look.
    app, clock = Inside(), CpuClock(busy=False)
    with (
        caplog.at_level(logging.WARNING, logger="wsgiserver.error"),
        serving(app, threads=1, max_threads=2, timing=Timing(cpu_time=clock)) as srv,
    ):
        clients = _clients((srv.host, srv.port), 3)
        app.wait_inside(2)
        clock.wait_readings(clock.readings + 50)  # the housekeeper looked, many times
        app.release.set()
        for client in clients:
            client.join(BOUND)
    warnings = [r.getMessage() for r in caplog.records if "--max-threads" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert "all 2 worker threads are blocked" in warnings[0]


def test_blocked_threads_below_max_threads_are_not_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Three blocked requests, room for eight threads: the rule adds runnable threads as the
    # housekeeper measures (all three get in, which takes its looks with work waiting), and
    # since the pool could grow, nothing is reported.
    app, clock = Inside(), CpuClock(busy=False)
    with caplog.at_level(logging.WARNING, logger="wsgiserver.error"), _serve(app, clock) as srv:
        clients = _clients((srv.host, srv.port), 3)
        app.wait_inside(3)
        app.release.set()
        for client in clients:
            client.join(BOUND)
    assert not [r for r in caplog.records if "--max-threads" in r.getMessage()]


def test_a_thread_the_system_refuses_leaves_the_server_serving_with_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # --threads 200000 was a RuntimeError traceback ("can't start new thread") at start.
    started: list[threading.Thread] = []
    refused_one = threading.Event()
    real_start = threading.Thread.start

    def limited_start(thread: threading.Thread) -> None:
        if thread.name == "wsgiserver-worker":
            if len(started) >= 2:
                refused_one.set()
                raise RuntimeError("can't start new thread")
            started.append(thread)
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", limited_start)
    # The serving thread says it: read at the source, whatever the logging configuration
    # an earlier test in this process left (a handler, a level, a disabled logger).
    seen: list[str] = []

    class Said(logging.LoggerAdapter[logging.Logger]):
        def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
            if level >= logging.WARNING:
                seen.append(str(msg) % args)

    monkeypatch.setattr(server_module, "log", Said(logging.getLogger("test"), {}))
    with (
        serving(echo_app, threads=5, max_threads=5) as srv,
        RawClient((srv.host, srv.port)) as client,
    ):
        assert client.request(get("/x")).status == 200
        # The serving thread starts the minimum after the first thread serves: the third
        # start may come after this request (the stop then joins it, warning said).
        assert refused_one.wait(BOUND)
        assert len(srv.server.worker_threads()) == 2
    refused = [message for message in seen if "cannot start another worker thread" in message]
    assert len(refused) == 1  # not once per thread it could not start
    assert "can't start new thread" in refused[0]


def test_a_task_no_thread_may_take_starts_the_watch() -> None:
    # A request in the app (grown long, but the housekeeper, not watching, counts no long
    # ones), two threads waiting in the poller, one runnable: a task submitted from outside
    # the pool (the housekeeper expiring an HTTP/2 connection) fetches one of them, which
    # may not run it. Nothing watched: the task waited for as long as the request ran (a
    # full suite run, an HTTP/2 connection unserved for 9 s at a graceful stop).
    lock = threading.Lock()
    watch = threading.Condition(lock)
    p = ThreadPool(lock, minimum=1, maximum=8, idle_seconds=0.01, watch=watch)
    p.threads = {threading.current_thread(), threading.Thread(), threading.Thread()}
    with watch:
        p.idle = 2  # both other threads wait in the poller; the third is in the app
        job = Job("a", [])
        assert p.submit(job) is True  # fetch a thread from the poller
        assert not p.polled()  # the one fetched (the other still waits there)
        assert p.wait_turn(lambda: False) is False  # no turn: a spare, then leaves
        assert p.watching  # the housekeeper was told to look: its rule gives the turn
        assert list(p.tasks) == [job]
