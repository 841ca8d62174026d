"""One worker process of the supervisor: a `Server` on inherited sockets, with a heartbeat.

Owns: the child side of a fork: resetting the supervisor's signal handlers, loading the app,
reporting readiness, heartbeats and recycle requests through a pipe, and noticing that the
supervisor died. Must not: fork, or speak HTTP (the `Server` does).

Messages on the pipe, one byte each: `R` ready (the app is loaded and the server built on
the inherited sockets: nothing that can fail at boot is left), `.` heartbeat, `S` "I served
a request" (once: a worker that dies after that died of a request, not in a loop of its
own), `X` "recycle me" (max-requests, lifetime or memory reached), `C` "stopping, and my
listeners are closed: I accept nothing more" (a reload is complete only once every old
worker said it), and `E<one line>\\n` when the app cannot be loaded.

Stopping: SIGTERM drains (`ProcessRole(drain=True)`: nothing that reached this worker is lost,
docs/operations.rst); SIGINT and SIGQUIT exit at once.

What "stuck" means: the heartbeat is sent by the server's housekeeper thread (the thread that
runs `serve_forever`), so it stops when the housekeeper cannot run at all (a C extension
holding the GIL, a deadlock, a SIGSTOP). With a thread pool one slow request is not a stuck
worker, so the beat also stops while every worker thread has been busy without finishing a
connection for `worker_timeout` seconds: the pool is saturated and making no progress.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import random
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable

from wsgiserver.config.options import Config
from wsgiserver.errors import EXIT_APP, NoThreadError, WSGIServerError
from wsgiserver.observability.accesslog import RequestRecord
from wsgiserver.observability.logconfig import reopen_logs_on_sigusr1
from wsgiserver.observability.metrics import ProcessMetrics
from wsgiserver.server.server import ProcessRole, Server
from wsgiserver.types import WSGIApp

log = logging.getLogger("wsgiserver.error")

READY = b"R"
BEAT = b"."
SERVED = b"S"
RETIRE = b"X"
CLOSED = b"C"
ERROR = b"E"

# The exit status of a worker that failed after READY; the supervisor replaces it.
EXIT_WORKER_FAILED = 1


def reset_signals() -> None:
    """In a freshly forked child, before it unblocks signals: the supervisor's handlers only
    enqueue, so a stop sent now must take its default action (the server installs its own)."""
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)  # until the server runs: stop means exit
    for signum in (signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU, signal.SIGUSR2):
        signal.signal(signum, signal.SIG_IGN)
    # Log rotation, passed on by the supervisor: from the start, or a worker still loading
    # the app would keep writing to the renamed files.
    reopen_logs_on_sigusr1(f"worker {os.getpid()}")


def run_worker(
    config: Config,
    sockets: list[socket.socket],
    load: Callable[[], WSGIApp],
    pipe: int,
    supervisor_pid: int,
    metrics: ProcessMetrics | None = None,
) -> int:
    """Serve in a freshly forked child until told to stop; returns the exit code."""
    # SIGABRT from the supervisor (a missed heartbeat): every thread's stack goes to stderr,
    # then the default action ends the process.
    faulthandler.enable(file=sys.stderr, all_threads=True)
    try:
        app = load()
    except Exception as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        _send(pipe, ERROR + message.encode("utf-8", "replace") + b"\n")
        return EXIT_APP
    heart = Heart(config, pipe, supervisor_pid)
    try:
        server = Server(
            app,
            config,
            on_request=heart.count,
            process=ProcessRole(
                sockets=tuple(sockets),
                tick=heart.tick,
                tick_interval=min(1.0, config.worker_timeout / 4),
                drain=True,
                on_stop_accepting=heart.stopped_accepting,
                metrics=metrics,  # this worker's slot in the supervisor's shared block
                serve_admin=False,  # the supervisor answers --admin-bind for the whole server
            ),
        )
    except WSGIServerError as exc:  # reported in one line by the supervisor, no traceback
        message = " ".join(str(exc).split()) or type(exc).__name__
        _send(pipe, ERROR + message.encode("utf-8", "replace") + b"\n")
        return EXIT_APP
    heart.server = server

    def graceful(_signum: int, _frame: object) -> None:
        server.shutdown()  # marks in-flight responses `Connection: close` before returning
        log.info("worker %d: stopping gracefully", os.getpid())

    def fast(_signum: int, _frame: object) -> None:
        logging.shutdown()
        os._exit(0)

    server.publish_metrics()  # /readyz asks the shared gauges as soon as READY arrives
    # Before READY: a stop the supervisor sends as soon as it hears READY must find them
    # (it used to kill a ready worker outright, by SIGTERM's default action). After
    # publish_metrics(): a handler stopping the server must not find its lock held by the
    # code it interrupted (nothing from here to serve_forever() takes it).
    signal.signal(signal.SIGTERM, graceful)
    signal.signal(signal.SIGINT, fast)
    signal.signal(signal.SIGQUIT, fast)
    # Ready now, not at the first housekeeper tick: serving starts at once, and a request
    # that crashes the worker before that tick made the supervisor take it for a worker that
    # cannot boot, and stop the whole server.
    if not _send(pipe, READY):
        return 0  # the supervisor is gone
    try:
        server.serve_forever()
    except NoThreadError as exc:  # not even one (a memory or process limit): said in a line
        log.error("worker %d: %s", os.getpid(), exc)
        return EXIT_WORKER_FAILED
    return 0


def _send(pipe: int, message: bytes) -> bool:
    """Write to the supervisor; False when it is gone (its end of the pipe closed)."""
    try:
        os.write(pipe, message)
    except BlockingIOError:
        return True  # the supervisor is busy; a missed beat is harmless
    except OSError:
        return False
    return True


class Heart:
    """The worker's housekeeping: heartbeats, recycling and orphan detection."""

    def __init__(self, config: Config, pipe: int, supervisor_pid: int) -> None:
        self.config = config
        self.pipe = pipe
        self.supervisor_pid = supervisor_pid
        self.server: Server | None = None
        self.started = time.monotonic()
        self.requests = 0
        self.served = False  # SERVED was sent (a flag: two threads may count the first at once)
        self.request_limit = 0
        if config.max_requests:
            self.request_limit = config.max_requests + random.randint(0, config.max_requests_jitter)
        self.retiring = False
        # The app is loaded: what a fresh worker costs. Over max_worker_memory already, a
        # new worker would be no smaller, and recycling would fork in a loop under traffic.
        self.memory_exempt = False
        if config.max_worker_memory:
            rss = resident_mib()
            if rss is not None and rss > config.max_worker_memory:
                self.memory_exempt = True
                log.warning(
                    "worker %d: resident memory %.0f MiB once the app is loaded, over "
                    "max_worker_memory (%d MiB): not recycled for memory; raise the limit",
                    os.getpid(),
                    rss,
                    config.max_worker_memory,
                )
        self._retire_lock = threading.Lock()
        self.stopping = False

    def count(self, _record: RequestRecord) -> None:
        self.requests += 1  # a lost increment under a thread race only delays recycling
        if not self.served:
            self.served = True
            _send(self.pipe, SERVED)  # a crash from now on is no crash loop (supervisor)
        if self.requests == self.request_limit:
            # Ask now, from the request's thread: at the next tick (up to a second later) a
            # busy worker would have served many times its limit.
            self._retire(f"served {self.requests} requests (max_requests)")

    def stopped_accepting(self) -> None:
        """The server closed its listeners while stopping: tell the supervisor."""
        log.info("worker %d: no longer accepting connections", os.getpid())
        _send(self.pipe, CLOSED)

    def _retire(self, reason: str) -> None:
        with self._retire_lock:  # the tick and a request thread may both get here
            if self.retiring or self.stopping:
                return
            self.retiring = True
        log.info("worker %d: %s; asking to be recycled", os.getpid(), reason)
        _send(self.pipe, RETIRE)

    def tick(self, stalled: float) -> None:
        if self.server is not None:
            self.server.publish_metrics()  # gauges for the supervisor's /metrics and /readyz
        if self.stopping:
            return
        if os.getppid() != self.supervisor_pid:
            self._stop("the supervisor is gone")
            return
        if not self.retiring:
            reason = self._recycle_reason()
            if reason is not None:
                self._retire(reason)
        if stalled >= self.config.worker_timeout:
            return  # every thread busy and nothing finishing: withhold the heartbeat
        if not _send(self.pipe, BEAT):
            self._stop("the supervisor is gone")

    def _recycle_reason(self) -> str | None:
        config = self.config
        if self.request_limit and self.requests >= self.request_limit:
            return f"served {self.requests} requests (max_requests)"
        age = time.monotonic() - self.started
        if config.max_worker_lifetime and age >= config.max_worker_lifetime:
            return f"alive {age:.0f}s (max_worker_lifetime)"
        if config.max_worker_memory and not self.memory_exempt:
            rss = resident_mib()
            if rss is not None and rss > config.max_worker_memory:
                return f"resident memory {rss:.0f} MiB (max_worker_memory)"
        if self.server is not None and self.server.stuck_threads:
            return "a thread ignored RequestTimeout past interrupt_timeout"
        return None

    def _stop(self, reason: str) -> None:
        self.stopping = True
        log.warning("worker %d: %s; stopping", os.getpid(), reason)
        if self.server is not None:
            self.server.shutdown()


def resident_mib() -> float | None:
    """This process's resident set size in MiB (/proc/self/statm, else the peak RSS)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as file:
            pages = int(file.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / (1 << 20)
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024
