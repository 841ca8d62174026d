"""The in-process server: listeners, the poller, worker threads, parking and shutdown.

Owns: accepting connections, the pool of worker threads (growing on demand between `threads`
and `max_threads`, shrinking when idle), parking idle connections in the poller with their
deadlines, and graceful `shutdown()`. Must not: fork, install signal handlers or parse HTTP;
what each connection is served with (limits, timeouts, gateways, TLS) is `connections.py`'s.

Threads and ownership: a connection belongs either to the poller (parked, listed in
`_parked`) or to exactly one thread (serving it, or expiring it). Every move between the two
happens under `_lock`, so correctness never depends on the GIL.

Stopping with `drain=True` (the CLI and the supervisor's workers; docs/operations.rst says
what each kind of connection gets) loses no request that reached us:

1. A listener this process bound is gated (`listeners.gate`: no new handshake completes) and
   a unix socket file it created is removed, so no new connection can queue from now on.
2. The listeners stay open for `HANDSHAKE_GRACE` when gated (handshakes already under way
   complete and are accepted), then the connections queued in them are accepted, each
   served by a thread of its own, and the listeners are closed. A listener that lives on
   elsewhere (`listeners.queue_is_ours`: a worker retiring in a reload, a socket from
   systemd) is closed at once, its queue left to the processes that still accept from it.
3. Every connection, in flight or parked idle, gets `Connection: close` on its next
   response. An idle keep-alive connection is *not* closed early: closing it races with a
   request the client may be sending at that instant, which would be lost. It stays parked
   until a request arrives (answered, then closed) or its keep-alive deadline passes (closed
   exactly when it would have been without the stop, a close every client must expect).
4. Serving ends when no connection is left, or at `graceful_timeout`.

Without `drain` (the embedding default: tests want a quick stop) idle connections are closed
at once and queued ones are dropped.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import selectors
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from wsgiserver.apploader import wsgi_callable
from wsgiserver.config.bind import BindAddress
from wsgiserver.config.options import Config
from wsgiserver.config.scope import refuse_command_line_only
from wsgiserver.errors import BindError, NoThreadError
from wsgiserver.observability import metrics as m
from wsgiserver.observability.accesslog import RequestRecord
from wsgiserver.observability.hooks import Hooks, load_hooks
from wsgiserver.observability.throttle import Throttle
from wsgiserver.server.admin import AdminServer, respond
from wsgiserver.server.connections import Connections, bind_listener, connection_limit, refuse
from wsgiserver.server.listeners import (
    accept,
    gate,
    is_gated,
    listener_address,
    queue_is_ours,
)
from wsgiserver.server.parking import Deadlines
from wsgiserver.server.poller import Poller, make_poller
from wsgiserver.server.pool import (
    BUSY_CPU_SHARE,
    GROWTH_CPU_SHARE,
    HOG_SECONDS,
    IDLE_THREAD_SECONDS,
    POLL,
    SETTLE_SECONDS,
    Task,
    ThreadPool,
)
from wsgiserver.transport.overload import Overload, RequestDeadlines
from wsgiserver.transport.transport import PARK, SERVE, Transport
from wsgiserver.types import WSGIApp

log = logging.getLogger("wsgiserver.error")
access_log = logging.getLogger("wsgiserver.access")

# Seconds a gated listener stays open while stopping: a handshake the kernel began before the
# gate completes one network round trip later. A client that sent its SYN during the grace
# retransmits it after 1 s (Linux's initial RTO) and is refused then, so a grace below a
# second costs it nothing; it only delays the process's exit.
HANDSHAKE_GRACE = 0.25
# While no thread waits in the poller, the housekeeper measures the process's CPU share every
# GROWTH_TICK seconds, and the pool moves its runnable target by it (server/pool.py). While
# one thread runs and the process computes (a CPU-bound app), each look that finds it
# computing doubles the interval, up to GROWTH_TICK_MAX: a look costs the serving thread a
# GIL hand-off, and at 2 ms those were a few per cent of a hello-world request. A look that
# finds the process blocked (below BUSY_CPU_SHARE), or more than one thread running, goes
# back to GROWTH_TICK.
GROWTH_TICK = 0.002
GROWTH_TICK_MAX = 0.032
# Each look's CPU share moves the average by this fraction. Over one 2 ms look, an app that
# computes 1 ms per request between 50 ms waits reads 0, 0.5 or 1: taken raw, those swings
# made the target shrink (at 90 %) about as often as it grew (under 80 %), and such an app
# ran at 75 % of a CPU with work waiting. Averaged over about five looks, it settles between.
SHARE_SMOOTHING = 0.2
EXPIRE_BATCH = 64  # connections closed on timeout before the housekeeper yields the GIL
# Seconds until a parked connection whose deadline passed with its request already in the
# socket (`Transport.waits_for_a_thread`) is looked at again, if no thread served it since.
READY_RECHECK = 1.0
ACCEPT_PAUSE = 0.1  # seconds the listener rests after EMFILE/ENFILE, instead of spinning
ACCEPT_BATCH = 64  # connections taken from a listener's queue at once when busy (`_accept`)
EXHAUSTED_WARNING_INTERVAL = 60.0  # seconds between two warnings that the pool is exhausted
# Seconds between looks at an HTTP/2 connection served by a thread of its own while stopping
# (`_serve_alone`): its streams' threads cannot wake that thread's select.
ALONE_RECHECK = 0.05
# The longest the stop waits, after waking the poller, for the threads in it to come out
# before closing it: a wake that lands as the poller closes is lost to a thread already in
# epoll_wait, which then waits out its idle timeout (30 s), and the process its exit.
POLLER_EXIT_WAIT = 5.0
# accept() errors that concern one connection only (it was reset or refused before we got it).
_TRANSIENT_ACCEPT = frozenset(
    (
        errno.ECONNABORTED,
        errno.EPROTO,
        errno.EPERM,
        errno.EINTR,
        errno.ENETDOWN,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ECONNRESET,
    )
)


@dataclass(frozen=True, slots=True)
class ProcessRole:
    """How the program around a `Server` runs it; the defaults suit embedding and tests.

    `sockets`: listening sockets to serve instead of binding `config.bind` (the server
    closes its copies but never unlinks their unix socket files). `drain`: stop without
    losing a request (the module docstring; the CLI and workers), instead of the quick stop
    embedding wants. `tick`: called by the housekeeper every `tick_interval` seconds (outside
    the lock) with how long every worker thread has been busy without finishing a request
    (0.0 when one is free): a worker's heartbeat. `on_stop_accepting`: called once the
    listeners are closed while stopping (a worker tells its supervisor, so that a reload is
    "complete" only once old code accepts nothing more). `metrics`: this process's counters
    (a worker's slot in the supervisor's shared block; by default a private block when
    `admin_bind` is set). `serve_admin=False` leaves `admin_bind` to the supervisor.
    """

    sockets: tuple[socket.socket, ...] | None = None
    drain: bool = False
    tick: Callable[[float], None] | None = None
    tick_interval: float = 1.0
    on_stop_accepting: Callable[[], None] | None = None
    metrics: m.ProcessMetrics | None = None
    serve_admin: bool = True


@dataclass(frozen=True, slots=True)
class Timing:
    """The server's clocks and idle timer, for tests that need to move them.

    `cpu_time` is the process CPU clock the pool's rule measures its share with
    (server/pool.py); `idle_thread_seconds` how long a thread above `threads` may idle
    before it exits.
    """

    cpu_time: Callable[[], float] = time.process_time
    idle_thread_seconds: float = IDLE_THREAD_SECONDS


class Server:
    """A WSGI server in this process. Binds in the constructor; `serve_forever()` serves.

    `Server(app, bind="127.0.0.1:0", threads=8)` accepts every `Config` option as a keyword,
    or a ready `config=` (keywords given with it override its values). `address` is known as
    soon as the constructor returns. An `app` that is not callable raises `TypeError`
    (`wsgiserver.errors.NotAWSGIApp`) before anything is bound. The options only the command
    line applies (`workers`, `max_requests`, `pid`, `reload`...: docs/api.rst lists them)
    raise `ConfigError` when set to anything but their default.

    Runtime hooks, not options: `errors` (the `wsgi.errors` stream), `on_request` (called
    with each finished request's `RequestRecord`, besides the access log) and
    `on_thread_start` (called first in every thread that serves connections).
    """

    def __init__(
        self,
        app: WSGIApp,
        config: Config | None = None,
        *,
        errors: IO[str] | None = None,
        on_request: Callable[[RequestRecord], None] | None = None,
        hooks: Hooks | object | None = None,
        process: ProcessRole | None = None,
        timing: Timing | None = None,
        on_thread_start: Callable[[], None] | None = None,
        **options: Any,
    ) -> None:
        # `errors` (the wsgi.errors stream), `on_request` (called with each finished
        # request's record, besides the configured access log) and `on_thread_start` (called
        # first in every thread that serves connections, pool or drain: the testing helpers
        # file log records by thread, and a request's hooks run before its app) are runtime
        # hooks for embedding and tests, not config options. `process` is how the program around the
        # server runs it (the CLI, a supervisor's worker: `ProcessRole`); `timing` lets a
        # test move the server's clocks (`Timing`). Every other keyword is a `Config` option.
        # An app that is not callable would fail every request with a 500: refuse it here,
        # before anything is bound (a TypeError: errors.NotAWSGIApp).
        app = wsgi_callable(app, "app")
        role = process if process is not None else ProcessRole()
        timing = timing if timing is not None else Timing()
        sockets = list(role.sockets) if role.sockets is not None else None
        metrics = role.metrics
        if isinstance(hooks, str):
            # `hooks="module:object"` is the config option of that name (--hooks); the
            # keyword also takes a hooks object, which is not config.
            options["hooks"] = hooks
            hooks = None
        if config is None:
            config = Config.from_options(options)
        elif options:
            config = config.replace(**options)
        if process is None:
            # Embedded: workers, recycling, the pid file... are applied around a Server, by
            # the command line and its supervisor; accepting them here would ignore them.
            refuse_command_line_only(config)
        self.config = config
        self.app = app
        self._max_connections = connection_limit(config.max_connections)
        # `hooks` (docs/observability.rst): a `Hooks`, or any object with hook attributes;
        # without it, `config.hooks` (module:object) is imported here.
        if hooks is None and config.hooks is not None:
            hooks = load_hooks(config.hooks, app_dir=config.app_dir)
        self._hooks = Hooks.from_object(hooks) if hooks is not None else None
        if metrics is None and config.admin_bind is not None and role.serve_admin:
            metrics = m.single_process_store(config.max_threads)
        self._metrics = metrics
        self._request_deadlines: RequestDeadlines | None = None
        if config.request_timeout:
            self._request_deadlines = RequestDeadlines(
                config.request_timeout, config.interrupt_timeout
            )
            if metrics is not None:
                counted = metrics
                self._request_deadlines.on_timeout = lambda: counted.here().timeout("request")
        overload: Overload | None = None
        if config.queue_timeout or self._request_deadlines is not None:
            overload = Overload(config.queue_timeout, self._request_deadlines)
        self._connections = Connections(
            app,
            config,
            errors=errors,
            on_request=on_request,
            hooks=self._hooks,
            metrics=metrics,
            overload=overload,
        )
        self._listeners: dict[int, socket.socket] = {}
        self._families: dict[int, int] = {}  # listener fd -> address family, for accept()
        self._nodelay_listeners: set[int] = set()  # whose accepted sockets inherit NODELAY
        self.addresses: list[BindAddress] = []
        self._owned_paths: list[str] = []  # unix socket files to remove when stopping
        self._gateable: list[socket.socket] = []  # TCP listeners bound here (listeners.gate)
        try:
            for sock in sockets if sockets is not None else []:
                sock.setblocking(False)
                self._add_listener(sock)
            for text in config.bind if sockets is None else ():
                address, sock = bind_listener(config, text)
                if address.path is not None:
                    self._owned_paths.append(address.path)
                elif address.fd is None:
                    self._gateable.append(sock)
                self._add_listener(sock)
            self._poller = self._make_poller()
        except BaseException:
            self._unbind()
            raise
        # Queue wait (see _work): when the pool was first seen saturated with work pending.
        self._track_queue = metrics is not None or bool(config.queue_timeout)
        self._saturated_since = 0.0
        # Conditions that can last, each said at most once a minute (a line per look or per
        # try would flood the log): the pool exhausted, a thread refused, accept() failing,
        # connections refused.
        self._exhausted_warning = Throttle(EXHAUSTED_WARNING_INTERVAL)
        self._thread_refused_warning = Throttle(EXHAUSTED_WARNING_INTERVAL)
        self._accept_failed_warning = Throttle(EXHAUSTED_WARNING_INTERVAL)
        self._refused_warning = Throttle(EXHAUSTED_WARNING_INTERVAL)  # --max-connections
        self._on_thread_start = on_thread_start
        self._tick = role.tick
        self._tick_interval = role.tick_interval
        self._drain = role.drain
        self._on_stop_accepting = role.on_stop_accepting
        self._cpu_time = timing.cpu_time
        self._progress = time.monotonic()  # when a worker thread last finished a connection
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._parked: dict[int, Transport] = {}
        self._active: set[Transport] = set()
        # Pool threads running an HTTP/2 stream's call (a task that is not a connection's
        # serve), by thread id: since when, for the count of long requests (`_hogs`).
        self._calls: dict[int, float] = {}
        self._deadlines: Deadlines[Transport] = Deadlines()
        self._resume_accept: list[tuple[float, int]] = []
        self._pool = ThreadPool(
            self._lock,
            minimum=config.threads,
            maximum=config.max_threads,
            idle_seconds=timing.idle_thread_seconds,
            watch=self._cond,  # the housekeeper's: it applies the pool's rule
        )
        self._stopping = threading.Event()
        # `_stopping` as a plain bool for the per-request paths (Event.is_set is a Python call);
        # `_ask_stop` sets both, and nothing clears them.
        self._stop_asked = False
        self._accepting = True  # the listeners are open (False once closed, while stopping)
        self._close_listeners_at = 0.0  # draining: when the listeners close
        self._stop_deadline: float | None = None  # draining: when serving ends regardless
        self._closed = False  # serving is over: threads leave, nothing is parked any more
        self._hurry = False  # shutdown_now(): the graceful stop ends at once
        # Connections still busy at graceful_timeout, closed under their requests by the stop.
        self.abandoned_connections = 0
        self._serving = threading.Event()
        self._stopped = threading.Event()
        self._serving_thread: threading.Thread | None = None
        self._admin: AdminServer | None = None
        if config.admin_bind is not None and role.serve_admin:
            try:
                self._admin = AdminServer(config.admin_bind, self._admin_answer)
            except BaseException:
                self._unbind()
                self._poller.close()
                raise
            self.admin_address = self._admin.address

    def _unbind(self) -> None:
        """The constructor failed: close the listeners it has, and remove the unix socket
        files it created."""
        for sock in self._listeners.values():
            sock.close()
        for path in self._owned_paths:
            _unlink_quietly(path)

    def _make_poller(self) -> Poller:
        # The poller takes five file descriptors (epoll and two wake-up socket pairs): with
        # the listeners bound in the last free ones, it failed with a bare EMFILE OSError
        # and no word of what could not start. (Raised inside the constructor's clean-up.)
        try:
            return make_poller()
        except OSError as exc:
            where = ", ".join(map(str, self.addresses)) or "no address"
            reason = exc.strerror or str(exc)
            raise BindError(
                f"cannot listen on {where}: cannot create the poller: {reason}"
            ) from exc

    def _add_listener(self, sock: socket.socket) -> None:
        self._listeners[sock.fileno()] = sock
        self._families[sock.fileno()] = int(sock.family)
        if sys.platform.startswith("linux") and sock.family in (socket.AF_INET, socket.AF_INET6):
            # Linux copies TCP_NODELAY from the listener to every socket it accepts: set once
            # here, not with a system call per connection.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._nodelay_listeners.add(sock.fileno())
        bound = listener_address(sock)
        self.addresses.append(bound)
        self._connections.add_listener(sock.fileno(), bound)

    # -- public API -----------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int] | str:
        """The first listener's address: (host, port), or the unix socket path."""
        first = self.addresses[0]
        return first.path if first.path is not None else (first.host, first.port)

    def serve_forever(self) -> None:
        """Serve until `shutdown()` is called (from another thread or a signal handler).

        After a `shutdown()` that came first (a SIGTERM just before serving) it returns at once.
        """
        if self._serving_thread is None and self._closed and self._stopping.is_set():
            return
        if self._closed or self._serving_thread is not None:
            raise RuntimeError("serve_forever() can run once per Server")
        self._serving_thread = threading.current_thread()
        hooks = self._hooks
        try:
            if hooks is not None:
                hooks.worker_start(self)  # logged, never raised (wsgiserver/observability/hooks.py)
            if self._admin is not None:
                self._admin.start()
                log.info("admin endpoint (metrics, health) on http://%s", self._admin.address)
            for fd in self._listeners:
                self._poller.arm(fd)
            # One thread is enough to answer the first request; the rest of the minimum
            # starts right after, so embedding (start, one request, stop) stays fast.
            refused = self._pool.start(self._work)
            if refused is not None:  # the caller says it: one line (cli, supervisor worker)
                raise NoThreadError(f"cannot start a worker thread: {refused}")
            self._serving.set()
            for _ in range(self.config.threads - 1):
                if self._stopping.is_set() or not self._start_thread():
                    break
            self._housekeep()
        finally:
            self._stop_everything()
            self._serving.set()  # never leave a wait_serving() caller hanging
            if hooks is not None:
                hooks.worker_exit(self)

    def shutdown(self, timeout: float | None = None) -> None:
        """Stop accepting, let in-flight requests finish, close everything.

        Thread-safe. Returns once serving has stopped, except when called from the serving
        thread itself (a signal handler), where it only asks for the stop.
        """
        me = threading.current_thread()
        if me is self._serving_thread:
            # A signal handler in the serving thread may have interrupted the housekeeper
            # while it holds `_lock` (not reentrant): blocking on it would deadlock. Ask
            # for the stop; if the lock is busy the housekeeper sees `_stopping` on its own
            # (it never waits longer than a second).
            self._ask_stop()
            if self._lock.acquire(timeout=0.05):
                try:
                    self._mark_closing()
                    self._cond.notify_all()
                    self._pool.wake_all()
                finally:
                    self._lock.release()
            else:
                # Held by the pass this handler interrupted (or a thread slower than 50 ms):
                # mark the responses in flight now all the same, or one could go out without
                # `Connection: close` before the housekeeper marks them again under the lock.
                # `_mark_closing` reads snapshots of the sets and only sets flags that the
                # serving threads read.
                self._mark_closing()
            if not self._drain:
                self._poller.wake()  # threads leave now (draining, they serve on)
            return
        with self._cond:
            # Mark in-flight requests first, so a response finishing once `_stopping` is
            # visible says `Connection: close` (not only once the serving thread gets to it).
            self._mark_closing()
            self._ask_stop()
            self._cond.notify_all()
            self._pool.wake_all()
        if not self._drain:
            self._poller.wake()
        if self._serving_thread is None:
            self._stop_everything()
            return
        if not self._pool.owns_current_thread():  # an app calling shutdown must not wait
            self._stopped.wait(timeout)

    def shutdown_now(self) -> None:
        """Stop without waiting: a graceful stop under way ends now, and the connections
        still open (idle or in flight) are closed. Thread-safe, and safe in a signal handler
        (a second Ctrl-C)."""
        self._hurry = True  # one store: no lock, which a signal handler may not take
        self.shutdown()

    def worker_threads(self) -> set[threading.Thread]:
        """The pool's threads now (an embedder joins them after `shutdown()` to know that
        every thread has left; tests that count threads do)."""
        with self._lock:
            return set(self._pool.threads)

    def open_connections(self) -> tuple[int, int]:
        """(requests in flight, idle connections), read without the lock: for a message
        from a signal handler, which may not take it (an estimate, not a gauge). A parked
        connection may have requests in flight too: an upload arriving before the app runs,
        or HTTP/2 streams running on other threads."""
        busy = idle = 0
        for transport in [*self._active, *self._parked.values()]:
            requests = transport.requests_in_flight
            busy += requests
            idle += not requests
        return busy, idle

    def _mark_closing(self) -> list[Transport]:
        """Under the lock (but for `shutdown` from a signal handler): the next response on
        every connection ends it. Returns the multiplexed (HTTP/2) ones, which have no next
        response to wait for: the caller has them served again (outside the lock) to send
        their GOAWAY now."""
        multiplexed = []
        for transport in list(self._active):
            transport.request_close()
            if transport.multiplexed:
                transport.rerun = True  # its thread serves it once more: the GOAWAY
        for transport in list(self._parked.values()):
            transport.request_close()
            if transport.multiplexed:
                multiplexed.append(transport)
        return multiplexed

    def _ask_stop(self) -> None:
        self._stop_asked = True
        self._stopping.set()

    def _leaving(self) -> bool:
        """Worker threads stop taking work (draining, only once it is over)."""
        return self._closed or (self._stop_asked and not self._drain)

    def _finish_queued(self) -> bool:
        """Under the lock, leaving: a thread still takes the tasks queued before the stop
        (HTTP/2 streams its GOAWAY names as accepted, connections whose request waits for
        a thread), unless the stop hurries. Draining, the threads took them while the drain
        lasted: once it is over, no more. (None is queued once the stop has taken what was
        left at `graceful_timeout`: nothing is submitted once serving has ended.)"""
        return not (self._hurry or self._drain)

    # -- metrics, health and readiness (docs/observability.rst) --------------------

    def readiness(self) -> tuple[bool, str]:
        """(ready?, why): not while draining, stuck, or saturated without progress."""
        if self._stopping.is_set():
            return False, "draining"
        deadlines = self._request_deadlines
        if deadlines is not None and deadlines.stuck:
            return False, f"{deadlines.stuck} thread(s) stuck past interrupt_timeout"
        with self._lock:
            busy = self._pool.all_busy()
            stalled = time.monotonic() - self._progress if busy else 0.0
            full = self._pool.full()
        if full and stalled > self.config.worker_timeout / 2:
            return False, f"every thread busy for {stalled:.1f}s without finishing a request"
        return True, "ready"

    @property
    def stuck_threads(self) -> int:
        deadlines = self._request_deadlines
        return deadlines.stuck if deadlines is not None else 0

    def gauges(self) -> dict[str, int]:
        """The pool and connection gauges, now (any thread)."""
        with self._lock:
            threads = len(self._pool.threads)
            idle = self._pool.waiting_threads()
            parked = list(self._parked)
            active = len(self._active)
            watched = [*parked, *self._listeners]
        return {
            "pid": os.getpid(),
            "threads": threads,
            "busy_threads": max(threads - idle, 0),
            "idle_threads": idle,
            "open_connections": len(parked) + active,
            "idle_connections": len(parked),
            "queue_depth": _count_readable(watched),
            "ready": int(self.readiness()[0]),
            "stuck_threads": self.stuck_threads,
        }

    def publish_metrics(self) -> None:
        """Write the gauges into this process's metrics slot (a worker's housekeeper tick)."""
        if self._metrics is not None:
            self._metrics.publish(self.gauges())

    def metrics_text(self) -> str:
        """This process's metrics in the Prometheus text format (single-process mode)."""
        metrics = self._metrics
        if metrics is None:
            return ""
        metrics.publish(self.gauges())
        return m.render(metrics.store, [metrics.slot])

    def _admin_answer(self, path: str) -> tuple[int, str, bytes]:
        return respond(path, metrics=self.metrics_text, alive=lambda: True, ready=self.readiness)

    def wait_serving(self, timeout: float | None = None) -> bool:
        """Wait until the worker threads are up (for tests and embedding)."""
        return self._serving.wait(timeout)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # -- housekeeping: deadlines and shutdown ---------------------------------------------

    def _housekeep(self) -> None:
        cpu_time = self._cpu_time
        cpu_then = cpu_time()
        wall_then = time.monotonic()
        next_tick = wall_then
        measuring = False  # the CPU share of a busy pool is being measured
        tick = GROWTH_TICK  # how long until the next look at a busy pool
        smoothed: float | None = None  # the CPU share over the last few looks (SHARE_SMOOTHING)
        with self._cond:
            while True:
                now = time.monotonic()
                if self._stopping.is_set():
                    if not self._drain:
                        return
                    step = self._drain_step(now)
                    if step is None:
                        return  # drained: _stop_everything closes what is left
                    if step:
                        continue  # the lock was released: look again
                if self._tick is not None and now >= next_tick:
                    next_tick = now + self._tick_interval
                    busy = self._pool.all_busy()
                    stalled = now - self._progress if busy else 0.0
                    self._cond.release()
                    try:
                        self._tick(stalled)
                    finally:
                        self._cond.acquire()
                    continue
                requests = self._request_deadlines
                due = requests.next_deadline() if requests is not None else None
                if requests is not None and due is not None and due <= now:
                    self._cond.release()
                    try:
                        requests.check(now)  # 504s and RequestTimeout, outside the lock
                    finally:
                        self._cond.acquire()
                    continue
                expired = self._pop_expired(now)
                resume = [
                    fd for when, fd in self._resume_accept if when <= now and fd in self._listeners
                ]
                self._resume_accept = [(w, fd) for w, fd in self._resume_accept if w > now]
                grow = False
                pool = self._pool
                if not pool.watching and (not pool.idle or pool.tasks):
                    # No thread waits in the poller, or tasks wait, and none said so (a
                    # safety net: every path that leaves the poller or queues a task should
                    # have): watch, or ready work could wait with every thread blocked until
                    # a timeout.
                    pool.watching = True
                if pool.watching and not measuring:
                    # The first look at a busy pool only starts the clock: the CPU used
                    # since the housekeeper last slept says nothing about the work now.
                    measuring = True
                    tick = GROWTH_TICK
                    smoothed = None  # none yet: the first share is taken as it is
                    cpu_then, wall_then = cpu_time(), now
                elif pool.watching:
                    cpu_now = cpu_time()
                    share = (cpu_now - cpu_then) / max(now - wall_then, 1e-6)
                    cpu_then, wall_then = cpu_now, now
                    if smoothed is not None:
                        share = smoothed + SHARE_SMOOTHING * (share - smoothed)
                    smoothed = share
                    if pool.idle and not pool.tasks:
                        # A thread waits in the poller for what comes. (Not with tasks
                        # queued: it takes one only with a turn, which the rule gives.)
                        pool.watching = measuring = False
                        pool.hogs = 0  # counted again at the next look at a busy pool
                    else:
                        waiting = self._poller.has_pending() or bool(pool.tasks)
                        if waiting and self._track_queue and not self._saturated_since:
                            self._saturated_since = now  # work waits for a thread from now
                        grow = pool.adjust(share, waiting=waiting, now=now)
                        # Counted at every look, so that a long request that ended holds no
                        # place in the count; while there are long ones, a spare is woken
                        # for waiting work (nothing else would wake one for it).
                        pool.count_hogs(self._hogs(now), waiting=waiting)
                        # Back off only with one runnable thread: more than one means the
                        # app also blocks, and its target needs every look (a mixed app got
                        # 20 % fewer requests through with the longer interval).
                        tick = (
                            min(tick * 2, GROWTH_TICK_MAX)
                            if share >= BUSY_CPU_SHARE and pool.runnable == 1
                            else GROWTH_TICK
                        )
                        if waiting and share < GROWTH_CPU_SHARE and pool.exhausted():
                            self._warn_exhausted(now)
                pool.settle(now)
                if expired or resume or grow:
                    self._cond.release()
                    try:
                        if grow and (self._poller.has_pending() or pool.tasks):
                            self._pool.add_poller(self._start_thread)
                        for fd in resume:
                            self._poller.arm(fd)
                        for count, transport in enumerate(expired, 1):
                            self._poller.forget(transport.fileno())
                            if transport.expire() == SERVE:
                                with self._lock:
                                    self._queue_serve(transport)
                            if count % EXPIRE_BATCH == 0:
                                # Thousands of keep-alive connections can time out at once;
                                # let the serving threads run between batches of closes.
                                time.sleep(0)
                    finally:
                        self._cond.acquire()
                    if expired or resume:
                        continue
                # The earliest of: a parked deadline, a paused listener's resume, 1 s.
                # (The resume times used to be ignored whenever any deadline was pending.)
                first = self._deadlines.next_deadline()
                wake_at = min(
                    [now + 1.0]
                    + ([first] if first is not None else [])
                    + [when for when, _ in self._resume_accept]
                )
                if self._tick is not None:
                    wake_at = min(wake_at, next_tick)
                if due is not None:
                    wake_at = min(wake_at, due)
                if self._stop_deadline is not None:
                    wake_at = min(wake_at, self._stop_deadline)
                    if self._accepting:
                        wake_at = min(wake_at, self._close_listeners_at)
                timeout = max(min(wake_at - now, 1.0), 0.001)
                if self._pool.watching:
                    timeout = min(timeout, tick)
                else:
                    measuring = False
                if self._pool.runnable > 1:
                    timeout = min(timeout, SETTLE_SECONDS)
                if self._stop_asked and self._stop_deadline is None:
                    # A stop asked during this pass, by a signal handler that interrupted it
                    # while it held the lock (so `shutdown` could not mark the responses in
                    # flight `Connection: close`): act on it now, not after up to a second
                    # of waiting, while those responses go out without it.
                    continue
                self._cond.wait(timeout)

    def _hogs(self, now: float) -> int:
        """Under the lock: threads in the app on one request for HOG_SECONDS or more (an
        HTTP/1.1 request, or an HTTP/2 stream's call)."""
        since = now - HOG_SECONDS
        calls = sum(1 for started in list(self._calls.values()) if started <= since)
        return calls + sum(1 for t in self._active if 0.0 < t.taken_at <= since)

    def _warn_exhausted(self, now: float) -> None:
        """Under the lock: work waits, the threads are blocked, and the pool is at
        --max-threads. Said at most once a minute: a log line per look would flood."""
        if self._exhausted_warning.due(now) is None:
            return
        log.warning(
            "all %d worker threads are blocked (--max-threads) and work is waiting: requests "
            "queue until a thread is free (the app may be waiting on something slow, or "
            "slow clients hold them: uploads of bodies over 64 KiB, and clients that read "
            "their responses slowly or not at all; see the security page)",
            self._pool.maximum,
        )

    def _drain_step(self, now: float) -> bool | None:
        """Under the lock, stopping with `drain`: None once draining is over; True if a step
        was taken (the lock was released meanwhile); False to go on housekeeping."""
        if self._stop_deadline is None:
            self._stop_deadline = now + self.config.graceful_timeout
            # Marked again: shutdown() may not have got the lock (a signal handler).
            multiplexed = self._mark_closing()
            self._cond.release()
            try:
                for transport in multiplexed:
                    self.serve_again(transport)  # HTTP/2: GOAWAY now, then drain its streams
                grace = HANDSHAKE_GRACE if self._gate_listeners() else 0.0
            finally:
                self._cond.acquire()
            self._close_listeners_at = now + grace
            return True
        if self._accepting and now >= self._close_listeners_at:
            self._cond.release()
            try:
                self._stop_accepting()
            finally:
                self._cond.acquire()
            return True
        if (
            self._hurry
            or now >= self._stop_deadline
            or not (self._accepting or self._parked or self._active)
        ):
            return None
        return False

    def _gate_listeners(self) -> bool:
        """Stopping: let no new connection queue; True if the listeners are gated."""
        for sock in self._gateable:
            gate(sock)
        for path in self._owned_paths:  # new connect() calls fail at once (ENOENT)
            _unlink_quietly(path)
        self._owned_paths = []  # never again: the path may belong to a new server by then
        return any(is_gated(sock) for sock in self._listeners.values())

    def _pop_expired(self, now: float) -> list[Transport]:
        """Under the lock: take parked transports whose deadline passed."""
        expired: list[Transport] = []
        for transport in self._deadlines.pop_due(now):
            fd = transport.fileno()
            if self._parked.get(fd) is not transport:
                continue  # being served; it schedules itself again when parked
            if transport.deadline > now:
                self._schedule(transport)  # parked again since, with a later deadline
            elif transport.waits_for_a_thread():
                # Its request is here, ready in the poller: every thread is busy, and that
                # wait is ours. Closing it would reset a request the client has sent (one
                # it cannot tell was not run). Looked at again later; served before that.
                transport.deadline = now + READY_RECHECK
                self._schedule(transport)
            else:
                del self._parked[fd]
                expired.append(transport)
        return expired

    def _schedule(self, transport: Transport) -> None:
        """Under the lock: a parked transport's deadline; wake the housekeeper if earliest."""
        if self._deadlines.schedule(transport):
            self._cond.notify()

    # -- worker threads -------------------------------------------------------------------

    def _start_thread(self) -> bool:
        """One more pool thread; False (said once a minute) if the system refused it."""
        refused = self._pool.start(self._work)
        if refused is None:
            return True
        if self._thread_refused_warning.due(time.monotonic()) is not None:
            log.warning(
                "cannot start another worker thread (%d running): %s; serving with those "
                "(lower --threads and --max-threads, or raise the process's limits)",
                len(self._pool.threads),
                refused,
            )
        return False

    def _thread_started(self) -> None:
        """First in every thread that serves connections: the `on_thread_start` callback."""
        if self._on_thread_start is not None:
            try:
                self._on_thread_start()
            except Exception:  # it must not take the thread, or the pool's count, down
                log.exception("the on_thread_start callback failed")

    def _work(self) -> None:
        poller = self._poller
        pool = self._pool
        lock = self._lock
        listeners = self._listeners
        parked = self._parked
        try:
            self._thread_started()
            while True:
                with lock:
                    turn = pool.wait_turn(self._leaving, self._finish_queued)
                    if turn is False:
                        return
                    if turn is not POLL and pool.start_watching():
                        self._cond.notify()  # the housekeeper measures a pool with no poller
                if not isinstance(turn, bool):
                    self._run_task(turn)
                    continue
                fd = poller.wait(pool.idle_seconds)
                with lock:
                    if pool.polled():
                        self._cond.notify()  # the housekeeper measures a pool with no poller
                    if self._leaving():
                        continue  # `wait_turn` says leave, or gives a task queued before
                    if fd is None:
                        if not pool.tasks and pool.surplus():
                            return  # idle for long: shrink the pool
                        continue  # timed out, or fetched for a task (`submit_task`)
                    transport = None if fd in listeners else parked.pop(fd, None)
                    if transport is not None:
                        self._active.add(transport)
                    since = self._saturated_since
                    if since and fd not in listeners and not poller.has_pending():
                        # Nothing else waits: the queue is empty. (For a listener this is
                        # known only once it is re-armed: see `_accept`.)
                        self._saturated_since = 0.0
                if transport is not None:
                    if since and not 0.0 < transport.ready_since < since:
                        transport.ready_since = since  # else keep the older estimate
                    self._serve(transport)
                elif fd in listeners:
                    self._accept(fd, since)
        finally:
            if self._metrics is not None:
                self._metrics.release()
            with lock:
                pool.finished()
                self._cond.notify_all()

    def _run_task(self, task: Task) -> None:
        call = type(task) is not _Serve  # a stream's call: its connection is not `_active`
        ident = threading.get_ident()
        if call:
            # Without the lock (one more acquire per stream otherwise): a store is atomic,
            # and `_hogs` copies the values in one step.
            self._calls[ident] = time.monotonic()
        try:
            task.run()
        except BaseException:
            # A task handles its own errors (an HTTP/2 stream answers them); reaching here is
            # a bug. It must not take the thread, or the pool, down.
            log.exception("unexpected error in a task of the thread pool")
        with self._lock:
            if call:
                del self._calls[ident]
            self._progress = time.monotonic()
            if self._stopping.is_set():
                self._cond.notify()  # draining: the housekeeper looks whether it is over

    # -- tasks: work for a pool thread that is not a ready socket ---------------------------

    def submit_task(self, task: Task) -> None:
        """Any thread: run `task` on a pool thread, in turn with everything else (first in,
        first out; it counts toward the pool's runnable target). An HTTP/2 stream's app call
        comes here. Once serving has ended the task is dropped instead."""
        with self._lock:
            if not self._closed:
                if self._pool.submit(task):
                    self._poller.notify()
                return
        task.drop()

    def serve_again(self, transport: Transport) -> None:
        """Any thread: serve `transport` on a pool thread as if its socket were readable (an
        HTTP/2 connection whose last stream ended has a deadline to set, or a GOAWAY to
        finish). Parked, it leaves the poller for the task queue; being served, its thread
        serves it once more before parking it (`rerun`); closed, nothing happens."""
        with self._lock:
            if transport in self._active:
                transport.rerun = True
                return
            fd = transport.fileno()
            if self._parked.get(fd) is not transport:
                return
            del self._parked[fd]
            self._queue_serve(transport)

    def _queue_serve(self, transport: Transport) -> None:
        """Under the lock: `transport` (parked no more) is served by the next free thread."""
        if self._closed:
            transport.close()  # serving has ended: nothing would serve or close it later
            return
        self._active.add(transport)
        since = self._saturated_since  # as for a connection taken from the poller
        if since and not 0.0 < transport.ready_since < since:
            transport.ready_since = since
        if self._pool.submit(_Serve(self, transport)):
            self._poller.notify()

    def _serve(self, transport: Transport) -> None:
        while True:
            action = _serve_once(transport)
            with self._lock:
                if action == PARK and transport.rerun and not self._closed:
                    transport.rerun = False  # `serve_again` while it was being served
                    continue
                self._active.discard(transport)
                self._progress = time.monotonic()
                if self._stop_asked:
                    self._cond.notify()  # draining: the housekeeper looks whether it is over
                if action != PARK:
                    self._deadlines.forget(transport)
                    return
                if self._closed or (
                    self._stop_asked and not self._drain and transport.between_requests
                ):
                    # Once closed, `_stop_everything` has already closed the parked
                    # connections: one parked now would never be closed (an fd leak).
                    # Draining, an idle connection is parked like any other (the module
                    # docstring says why).
                    park = False
                    unfinished = transport.unfinished_request
                else:
                    park = True
                    fd = transport.fd
                    self._parked[fd] = transport
                    self._schedule(transport)
            break
        if park:
            self._poller.arm(fd)
        elif unfinished and not (self._drain or self._hurry):
            self._start_last(transport)  # stopping: its request is in flight, let it finish
        elif unfinished:
            self._cut(transport)  # draining is over
            transport.close()
        else:
            # Idle: an HTTP/2 client is told first, whether or not its GOAWAY's own moment
            # (a quiet spell after its last stream) has come.
            transport.close_idle()

    def _transport_for(self, sock: socket.socket, peer: Any, listener_fd: int) -> Transport:
        """A Transport for a socket just accepted on `listener_fd`."""
        remote = (peer[0], peer[1]) if isinstance(peer, tuple) else None
        if remote is not None and listener_fd not in self._nodelay_listeners:
            # Responses are written whole; Nagle would only delay the last segment.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self._connections.transport(sock, remote, listener_fd, host=self)

    def _accept(self, listener_fd: int, since: float = 0.0) -> None:
        """Accept one connection on `listener_fd` and serve it in this thread.

        One per wake while another thread waits in the poller: the listener is re-armed
        first, so that thread accepts the next connection meanwhile (accepting a batch meant
        parking all of it but one, a poller round trip each, and a last accept() failing
        with EAGAIN: 4 % of the throughput of `Connection: close` requests). But with no
        thread in the poller (one runnable thread, busy), the connections queued behind this
        one would each wait for the listener's turn to come round again among every ready
        connection: a burst of 50 new connections took a second and more to be accepted. So
        then the queue is taken at once (`ACCEPT_BATCH`), each connection queued as a task
        in arrival order (`_accept_queued`), and this one served.
        """
        try:
            sock, peer = self._accept_one(listener_fd)
            if sock is not None and self._pool.idle == 0:
                self._accept_queued(listener_fd)
        finally:
            if since and not self._poller.has_pending():
                # Re-armed, the listener is ready again at once if its backlog still holds
                # connections: only now can we tell that nothing waits any more.
                with self._lock:
                    if self._saturated_since == since:
                        self._saturated_since = 0.0
        if sock is None:
            return
        try:
            transport = self._transport_for(sock, peer, listener_fd)
        except OSError:  # e.g. setsockopt on a connection reset already
            sock.close()
            return
        transport.ready_since = since
        with self._lock:
            closed = self._closed
            full = len(self._parked) + len(self._active) >= self._max_connections
            if not full:
                self._active.add(transport)
                if self._stopping.is_set():
                    transport.request_close()
        if full:
            self._refuse(sock)
        elif closed:
            # Accepted just as serving ended: the client has sent (or is sending) its
            # request, so closing it unanswered would lose it. Serve it here, to its end;
            # `_stop_everything` waits for this thread up to `graceful_timeout`.
            self._serve_alone(transport)
        else:
            self._serve(transport)

    def _accept_queued(self, listener_fd: int) -> None:
        """Accept what waits in `listener_fd`'s queue (up to ACCEPT_BATCH) and queue each
        new connection on the pool's FIFO, to be served as if it were readable: its request
        has usually arrived, and parking it in the poller first cost an epoll registration,
        a deadline and a poller round trip per connection (docs/design.rst)."""
        listener = self._listeners.get(listener_fd)
        if listener is None:
            return
        family = self._families[listener_fd]
        for _ in range(ACCEPT_BATCH):
            try:
                sock, peer = accept(listener, family)
            except OSError:
                return  # EAGAIN (the queue is empty), or an error the next wake sees again
            try:
                transport = self._transport_for(sock, peer, listener_fd)
            except OSError:  # e.g. setsockopt on a connection reset already
                sock.close()
                continue
            with self._lock:
                closed = self._closed
                full = len(self._parked) + len(self._active) >= self._max_connections
                if not (full or closed):
                    if self._stop_asked:
                        transport.request_close()
                    self._queue_serve(transport)
            if full:
                self._refuse(sock)
            elif closed:
                # Serving ended while this batch was taken (a reload or a recycle stops this
                # worker): the client's request is on its way. It was answered "503 too many
                # connections"; it is served by a thread of its own, as when draining the
                # listen queue, and the rest of the queue is left to the other workers.
                self._start_last(transport)
                return

    def _refuse(self, sock: socket.socket) -> None:
        """Over --max-connections: the 503, counted (before the client can see it), and said
        once a minute while it lasts."""
        if self._metrics is not None:
            self._metrics.here().add(m.REFUSED)
        held = self._refused_warning.due(time.monotonic())
        if held is not None:
            log.warning(
                "%d connections open (--max-connections): new ones are answered 503%s (said "
                "at most once a minute while it lasts)",
                self._max_connections,
                f", {held} more since the last warning" if held else "",
            )
        refuse(sock)

    def _accept_one(self, listener_fd: int) -> tuple[socket.socket | None, Any]:
        """accept() once and re-arm the listener; (None, None) if nothing was accepted."""
        listener = self._listeners.get(listener_fd)
        if listener is None:
            return None, None
        sock: socket.socket | None = None
        peer: Any = None
        try:
            sock, peer = accept(listener, self._families[listener_fd])
        except (BlockingIOError, InterruptedError):
            pass  # another thread took it, or the client gave up
        except OSError as exc:
            if exc.errno == errno.EBADF and not self._accepting:
                return None, None  # the stop closed the listener under this thread's look
            if exc.errno not in _TRANSIENT_ACCEPT:
                # EMFILE, ENFILE, ENOBUFS, ENOMEM: rest instead of spinning on a listener
                # that stays readable; the housekeeper re-arms it.
                held = self._accept_failed_warning.due(time.monotonic())
                if held is not None:
                    log.warning(
                        "accept() failed: %s; pausing %.1fs between tries%s (said at most "
                        "once a minute while it lasts)",
                        exc.strerror,
                        ACCEPT_PAUSE,
                        f", {held} more failures since the last warning" if held else "",
                    )
                with self._cond:
                    self._resume_accept.append((time.monotonic() + ACCEPT_PAUSE, listener_fd))
                    self._cond.notify()
                return None, None
        if self._accepting:
            self._poller.arm(listener_fd)
        return sock, peer

    # -- stopping -------------------------------------------------------------------------

    def _stop_everything(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._ask_stop()
            parked = list(self._parked.values())
            self._parked.clear()
            for transport in self._active:
                transport.request_close()
            self._pool.wake_all()
            deadline = self._stop_deadline
        self._stop_accepting()  # draining, already done
        for path in self._owned_paths:
            _unlink_quietly(path)
        cut: list[Transport] = []  # connections whose requests the stop cuts
        for transport in parked:
            # Without `drain`: idle connections, closed at once. Draining: only those still
            # parked at `graceful_timeout` (mid-head, or lingering after an error).
            self._poller.forget(transport.fileno())
            if not transport.unfinished_request:
                transport.close_idle()
            elif not (self._drain or self._hurry):
                # An upload in progress, or HTTP/2 streams in the app (their connection is
                # parked meanwhile): requests in flight, which a graceful stop lets finish.
                self._start_last(transport)
            else:
                cut.append(transport)  # draining is over: cut, as a busy connection is below
        self._poller.wake()
        if self._hurry:
            deadline = time.monotonic()
        elif deadline is None:
            deadline = time.monotonic() + self.config.graceful_timeout
        with self._cond:
            while self._pool.threads and time.monotonic() < deadline:
                self._cond.wait(deadline - time.monotonic())
            dropped = self._pool.take_tasks()
        for task in dropped:
            task.drop()  # no thread took it: an HTTP/2 stream is refused, a connection closed
        with self._cond:
            # Woken (level-triggered), each thread in the poller leaves at once, and says so.
            out_by = time.monotonic() + POLLER_EXIT_WAIT
            while self._pool.idle and time.monotonic() < out_by:
                self._cond.wait(out_by - time.monotonic())
            stuck = [*self._active, *cut]
        self.abandoned_connections = len(stuck)
        for transport in stuck:
            self._cut(transport)
        for transport in cut:
            transport.close()  # parked: no thread of its own unwinds to release the rest
        self._poller.close()
        if self._admin is not None:
            self._admin.close()  # last: /readyz said 503 while draining
        self._stopped.set()

    def _cut(self, transport: Transport) -> None:
        """The stop gives up on `transport`'s request in flight: said (unless it hurries),
        and recorded with no status; the socket is shut, so its thread unwinds."""
        if not self._hurry:
            log.warning(
                "closing a connection still busy after graceful_timeout: %s",
                transport.describe_in_flight(),
            )
        transport.abandon()

    def _stop_accepting(self) -> None:
        """Close the listeners (draining: after answering what is queued in them); once."""
        with self._lock:
            if not self._accepting:
                return
            self._accepting = False
            listeners = list(self._listeners.items())
            # Forgotten under the lock: a thread woken by a listener event from before looks
            # its fd up here, and the number may already belong to a new connection.
            self._listeners.clear()
        for fd, sock in listeners:
            self._poller.forget(fd)
            if self._drain and queue_is_ours(sock):
                self._serve_backlog(fd, sock)
            sock.close()
        if self._on_stop_accepting is not None:
            self._on_stop_accepting()

    def _serve_backlog(self, fd: int, listener: socket.socket) -> None:
        """Stopping: answer connections already queued on `listener`, one thread each."""
        for _ in range(self.config.backlog):
            try:
                sock, peer = listener.accept()
            except OSError:
                return  # BlockingIOError: the backlog is empty
            try:
                transport = self._transport_for(sock, peer, fd)
            except OSError:  # e.g. setsockopt on a connection reset already
                sock.close()
                continue
            self._start_last(transport)

    def _start_last(self, transport: Transport) -> None:
        transport.request_close()
        with self._lock:
            self._active.add(transport)
        self._pool.start_extra(lambda: self._serve_last(transport), "wsgiserver-drain")

    def _serve_last(self, transport: Transport) -> None:
        """A drain thread's target: one connection, then the thread is gone."""
        try:
            self._thread_started()
            self._serve_alone(transport)
        finally:
            with self._lock:
                self._pool.finished(extra=True)
                self._cond.notify_all()

    def _serve_alone(self, transport: Transport) -> None:
        """Serve one connection (in `_active`) to its end in this thread, waiting for its
        bytes here (no poller: it may be gone)."""
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(transport.fileno(), selectors.EVENT_READ)
                while True:
                    action = _serve_once(transport)
                    if action != PARK:
                        break
                    with self._lock:
                        rerun, transport.rerun = transport.rerun, False
                    if rerun:
                        continue
                    remaining = transport.deadline - time.monotonic()
                    if transport.multiplexed:
                        # Its streams run on other threads, and `serve_again` cannot reach
                        # this select: look at the connection again now and then.
                        remaining = min(remaining, ALONE_RECHECK)
                    if remaining <= 0 or not selector.select(remaining):
                        if transport.deadline > time.monotonic():
                            continue
                        if transport.expire() != SERVE:
                            break
        finally:
            with self._lock:
                self._active.discard(transport)
                self._progress = time.monotonic()
                self._cond.notify_all()


class _Serve:
    """A task: serve a connection on a pool thread (`Server.serve_again`, or an HTTP/2
    deadline that passed). Dropped (serving ended first), the connection is closed."""

    __slots__ = ("server", "transport")

    def __init__(self, server: Server, transport: Transport) -> None:
        self.server = server
        self.transport = transport

    def run(self) -> None:
        self.server._serve(self.transport)

    def drop(self) -> None:
        with self.server._lock:
            self.server._active.discard(self.transport)
        self.transport.close()


def _count_readable(fds: list[int]) -> int:
    """How many of `fds` are readable now (the queue depth probe; a scrape, not a request)."""
    if not fds or not hasattr(select, "poll"):
        return 0
    probe = select.poll()
    for fd in fds:
        probe.register(fd, select.POLLIN)
    try:
        return sum(1 for _, event in probe.poll(0) if event & select.POLLIN)
    except OSError:
        return 0


def _unlink_quietly(path: str) -> None:
    import os

    with contextlib.suppress(OSError):
        os.unlink(path)


def serve(app: WSGIApp, **options: Any) -> None:
    """Serve `app` until interrupted: `serve(app, bind="127.0.0.1:8080", threads=8)`.

    Ctrl-C, and SIGTERM when called from the main thread (what `docker stop`, systemd and
    Kubernetes send; its default action would end the process mid-request), stop it
    gracefully. A SIGTERM handler the program installed itself is left alone."""
    server = Server(app, **options)
    log.info("serving on %s", ", ".join(str(a) for a in server.addresses))
    handled = (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    )
    if handled:
        signal.signal(signal.SIGTERM, lambda _signum, _frame: server.shutdown())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if handled:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        server.shutdown()


def _serve_once(transport: Transport) -> int:
    """`transport.serve()`, which handles every request error itself: reaching the handler
    here is a bug or a BaseException from an app, and must not take the thread, or the
    pool, down. PARK or CLOSE."""
    try:
        return transport.serve()
    except BaseException:
        log.exception("unexpected error while serving a connection")
        return transport.close()
