"""The pre-forking supervisor (POSIX only): workers, signals, reloads and worker health.

Owns: binding the listeners once, forking `workers` processes that each run a `Server` on the
inherited sockets (`wsgiserver.supervisor.worker`), reaping and respawning them with back-off, zero-
downtime reloads, recycling, heartbeats, and the signals below. Must not: speak HTTP.

Signals only enqueue (`signal.set_wakeup_fd` writes the signal number to a pipe; the handlers
are empty); the main loop reads the pipe and acts, and so does `_balance` after each fork, so
that a stop is not held back until every worker of a large start or reload is forked:

- TERM: graceful stop. First no new connection may queue: the listeners bound here are gated
  (`listeners.gate`), unix socket files removed, and this process closes its copies; then the
  workers drain (wsgiserver/server.py: what is queued is answered, in-flight and idle
  connections get `Connection: close` on their next response) and exit within
  `graceful_timeout`; then SIGKILL.
- INT, QUIT: fast stop (listeners closed the same way; workers exit at once).
- HUP: reload: new workers (freshly importing the app) start; the old ones are told to stop
  only as new ones report ready, and the reload is complete once every old one has closed
  its listeners. If a new worker cannot load the app, the old ones keep serving and the
  error is logged.
- TTIN, TTOU: one worker more (up to `MAX_WORKERS`, the limit of `--workers`), one fewer.
- CHLD: wakes the loop, which reaps the worker and forks its replacement in the same pass.

A worker that cannot boot (an error loading the app, or no READY within `BOOT_TIMEOUT`) while
no worker is serving, or during the first start (until every worker of the first set has been
ready at once: then, and not before, the "serving on" line is logged and systemd told
READY=1), ends the supervisor with the worker's one-line error and exit status 3, instead of
fork-looping. Crashes are
replaced at once; only when crashes of workers that never answered a request (`SERVED`)
outnumber the workers within `CRASH_WINDOW` seconds are the replacements spaced out (0.1 s
doubling up to 10 s). A worker dying of a request it serves is never a loop of its own.

Forking: the signals above are blocked around `fork()`. The child inherits the wakeup fd, and
a signal reaching it (a rollback's SIGQUIT, a stop's SIGTERM) before it reset its handlers
was written into the supervisor's pipe: the supervisor acted on a signal it never received.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from wsgiserver.config.bind import BindAddress, describe
from wsgiserver.config.options import MAX_WORKERS, Config
from wsgiserver.errors import EXIT_APP
from wsgiserver.observability import metrics as m
from wsgiserver.observability.logconfig import reopen_log_files
from wsgiserver.server.admin import AdminServer, respond
from wsgiserver.server.connections import bind_listener
from wsgiserver.server.listeners import gate, listener_address
from wsgiserver.supervisor import systemd
from wsgiserver.supervisor.reloader import FileWatcher
from wsgiserver.supervisor.worker import (
    BEAT,
    CLOSED,
    ERROR,
    READY,
    RETIRE,
    SERVED,
    reset_signals,
    run_worker,
)
from wsgiserver.types import WSGIApp
from wsgiserver.version import __version__

log = logging.getLogger("wsgiserver.error")

SIGNALS = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGQUIT,
    signal.SIGHUP,
    signal.SIGTTIN,
    signal.SIGTTOU,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGCHLD,
)
ABORT_GRACE = 1.0  # seconds between SIGABRT (stacks logged) and SIGKILL for a stuck worker
BOOT_TIMEOUT = 60.0  # seconds a worker may take to load the app and start serving
CRASH_WINDOW = 30.0  # crashes closer than this to the previous one count as repeated
FAST_STOP_GRACE = 2.0  # seconds workers get to exit after INT/QUIT before SIGKILL
TICK = 0.25  # the main loop's longest sleep (health checks, --reload); events wake it at once


@dataclass(eq=False)
class Worker:
    pid: int
    pipe: int  # read end: READY, BEAT, RETIRE, ERROR messages
    generation: int
    started: float
    last_beat: float
    ready: bool = False
    served: bool = False  # it answered a request (SERVED)
    retiring: bool = False
    surplus: bool = False  # asked to stop with no replacement (TTOU): not a restart
    accepting: bool = True  # until it says its listeners are closed (or exits)
    stop_sent: float | None = None
    abort_sent: float | None = None
    killed: bool = False
    error: str | None = None
    buffer: bytes = field(default=b"", repr=False)
    slot: int = -1  # its slot in the shared metrics block (-1: none)


class Supervisor:
    """`Supervisor(config, load).run()` serves with `config.workers` processes until stopped.

    `load` imports and returns the app (called in each worker, or once here with `preload`).
    `sockets` are ready listeners (systemd activation); otherwise `config.bind` is bound.
    """

    def __init__(
        self,
        config: Config,
        load: Callable[[], WSGIApp],
        *,
        sockets: list[socket.socket] | None = None,
    ) -> None:
        if not hasattr(os, "fork"):
            raise RuntimeError("the supervisor needs fork(): it runs on POSIX systems only")
        self.config = config
        self.load = load
        self.target = config.workers
        self.generation = 0
        self.workers: dict[int, Worker] = {}
        self.sockets: list[socket.socket] = []
        self.addresses: list[BindAddress] = []
        self.owned_paths: list[str] = []
        self.gateable: list[socket.socket] = []  # TCP listeners bound here (listeners.gate)
        self.stopping: float | None = None  # the deadline for workers to exit
        self.exit_code = 0
        self.fatal = ""  # the one-line error a boot failure ends the supervisor with
        self.announced = False
        self.reloading = False
        self.failures = 0
        self.last_failure = 0.0
        self.next_spawn = 0.0
        # Replacements of workers that had answered requests, owed now whatever the back-off
        # of other crashes (`_on_exit`, `_balance`).
        self.urgent = 0
        self.watcher: FileWatcher | None = None
        # --admin-bind (docs/observability.rst): workers count into slots of one
        # shared anonymous mmap created here, before any fork; the supervisor's own select
        # loop answers /metrics (summing every slot), /healthz and /readyz.
        self.admin: AdminServer | None = None
        self.store: m.Store | None = None
        self.retired = [0] * m.ROW  # counters of exited workers, so totals never go back
        self.restarts = 0
        try:
            if sockets is not None:
                self.sockets = list(sockets)
            else:
                self._bind()
            # Known now: the sockets are closed as soon as a stop begins.
            self.addresses = [listener_address(sock) for sock in self.sockets]
            if config.admin_bind is not None:
                # Room for a reload (old and new generations side by side) at the most
                # workers TTIN can reach, since a mapping shared with the workers cannot
                # grow after they fork. Only the slots in use take memory: the pages of
                # an anonymous mapping are allocated when first written.
                slots = 2 * MAX_WORKERS + 2
                self.store = m.shared_store(slots, config.max_threads)
                self.admin = AdminServer(config.admin_bind, self._admin_answer)
        except BaseException:
            self._close_sockets()
            raise

    def _bind(self) -> None:
        config = self.config
        for text in config.bind:
            address, sock = bind_listener(config, text)
            self.sockets.append(sock)
            if address.path is not None:
                self.owned_paths.append(address.path)
            elif address.fd is None:
                self.gateable.append(sock)

    def _close_sockets(self) -> None:
        if self.admin is not None:
            self.admin.close()
        self._stop_listening()

    def _stop_listening(self) -> None:
        """A stop begins: from now on no new connection may queue, in no process.

        A gated socket completes no new handshake (a late client is refused once the last
        worker closes its copy, after draining what was queued); a removed unix socket file
        refuses at once. Sockets inherited from systemd or fd:// are left as they are: they
        outlive us, and queue connections for the next server. Then this process closes
        its copies, so the workers' copies are the last ones.
        """
        for sock in self.gateable:
            gate(sock)
        self.gateable = []
        for path in self.owned_paths:
            with contextlib.suppress(OSError):
                os.unlink(path)
        self.owned_paths = []
        for sock in self.sockets:
            sock.close()

    # -- the main loop --------------------------------------------------------------------

    def run(self) -> int:
        """Fork the workers and supervise them until stopped; returns the exit status."""
        if self.config.preload:
            app = self.load()  # AppLoadError reaches the caller: one line, before any fork
            self.load = lambda: app
        if self.config.reload:
            self.watcher = FileWatcher(self.config.app_dir)
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        previous = {signum: signal.signal(signum, _enqueue) for signum in SIGNALS}
        old_wakeup = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        self.wake_fds = (wake_r, wake_w)
        try:
            self._loop(wake_r)
        finally:
            signal.set_wakeup_fd(old_wakeup)
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            os.close(wake_r)
            os.close(wake_w)
            for worker in self.workers.values():
                _kill(worker.pid, signal.SIGKILL)
                os.close(worker.pipe)
            self._close_sockets()
        if self.fatal:
            sys.stderr.write(f"wsgiserver: error: {self.fatal}\n")
        elif not self.exit_code:
            log.info("stopped")
        return self.exit_code

    def _loop(self, wake_r: int) -> None:
        while True:
            pipes = {worker.pipe: worker for worker in self.workers.values()}
            admin = [self.admin.fileno()] if self.admin is not None else []
            timeout = min(TICK, max(self.next_spawn - time.monotonic(), 0.0))
            if timeout <= 0.0:
                timeout = TICK  # no spawn waits for a back-off: SIGCHLD or a message wakes us
            try:
                readable, _, _ = select.select([wake_r, *pipes, *admin], [], [], timeout)
            except InterruptedError:
                readable = []
            for fd in readable:
                if self.admin is not None and fd in admin:
                    self.admin.step(0)
                elif fd == wake_r:
                    self._act_on_signals()
                else:
                    self._read(pipes[fd])
            self._reap()
            now = time.monotonic()
            if self.stopping is not None:
                if not self.workers:
                    return
                if now >= self.stopping:
                    for worker in self.workers.values():
                        if not worker.killed:
                            log.warning("worker %d did not stop in time; killing it", worker.pid)
                            worker.killed = _kill(worker.pid, signal.SIGKILL)
                continue
            self._check_health(now)
            if self.watcher is not None:
                changed = self.watcher.poll(now)
                if changed:
                    log.info("reloading: %s changed", ", ".join(changed[:3]))
                    self._reload()
            self._balance(now)

    def _act_on_signals(self) -> None:
        """Act on every signal queued in the wakeup pipe (CHLD only wakes the loop, which
        reaps)."""
        for signum in _drain(self.wake_fds[0]):
            self._on_signal(signum)

    def _on_signal(self, signum: int) -> None:
        if signum == signal.SIGUSR1:  # log rotation: this process's files, then each worker's
            reopen_log_files("received SIGUSR1")
            for worker in self.workers.values():
                _kill(worker.pid, signal.SIGUSR1)
            return
        if signum == signal.SIGCHLD:
            return
        name = signal.Signals(signum).name
        if self.stopping is not None and signum != signal.SIGINT:
            log.info("received %s while stopping: ignored (SIGINT stops now)", name)
            return
        if signum == signal.SIGTERM:
            log.info("received %s, stopping gracefully", name)
            self._stop(signal.SIGTERM, self.config.graceful_timeout + 1.0)
        elif signum in (signal.SIGINT, signal.SIGQUIT):
            log.info("received %s, stopping now", name)
            self._stop(signal.SIGQUIT, FAST_STOP_GRACE)
        elif signum == signal.SIGHUP:
            log.info("received SIGHUP, reloading")
            if self.config.preload:
                log.warning("--preload: workers restart, but the app is not imported again")
            self._reload()
        elif signum == signal.SIGTTIN:
            if self.target >= MAX_WORKERS:  # the limit --workers has (config.options)
                log.warning("received SIGTTIN: already at the limit of %d workers", MAX_WORKERS)
                return
            self.target += 1
            log.info("received SIGTTIN: %d workers", self.target)
        elif signum == signal.SIGTTOU:
            self.target = max(1, self.target - 1)
            log.info("received SIGTTOU: %d workers", self.target)
        elif signum == signal.SIGUSR2:  # gunicorn's binary upgrade; its default ends us
            log.warning("received SIGUSR2, ignored: to load new code, send SIGHUP")

    def _stop(self, signum: int, grace: float) -> None:
        systemd.notify("STOPPING=1")
        self.stopping = time.monotonic() + grace
        self._stop_listening()  # before the workers hear of it: they drain what is queued
        for worker in self.workers.values():
            _kill(worker.pid, signum)

    def _reload(self) -> None:
        self.generation += 1
        if self.announced:
            self.reloading = True
            systemd.reloading()
        # Before the first READY=1 systemd still counts the start: the new generation's
        # workers are simply what the start waits for (`_balance` announces them).

    # -- workers --------------------------------------------------------------------------

    def _spawn(self, now: float) -> None:
        slot = self._free_slot()
        try:
            read_end, write_end = os.pipe()
        except OSError as exc:  # EMFILE, ENFILE: out of descriptors for now
            self._retry_spawn(now, "cannot make a worker's pipe", exc)
            return
        # Blocked until the child has its own handlers (the module docstring says why).
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        try:
            pid = os.fork()
        except OSError as exc:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            os.close(read_end)
            os.close(write_end)
            self._retry_spawn(now, "cannot fork a worker", exc)
            return
        if pid == 0:  # the child: never returns
            code = 1
            try:
                signal.set_wakeup_fd(-1)
                reset_signals()
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a pending stop acts now
                os.close(read_end)
                for fd in (*self.wake_fds, *(w.pipe for w in self.workers.values())):
                    os.close(fd)
                metrics = None
                if self.admin is not None and self.store is not None:
                    self.admin.close_inherited()
                    if slot >= 0:
                        metrics = m.ProcessMetrics(self.store, slot)
                os.set_blocking(write_end, False)
                code = run_worker(
                    self.config, self.sockets, self.load, write_end, os.getppid(), metrics
                )
            except BaseException:
                traceback.print_exc()
            finally:
                with contextlib.suppress(BaseException):
                    logging.shutdown()
                    sys.stdout.flush()
                    sys.stderr.flush()
                os._exit(code)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        os.close(write_end)
        os.set_blocking(read_end, False)
        self.workers[pid] = Worker(pid, read_end, self.generation, now, now, slot=slot)

    def _retry_spawn(self, now: float, what: str, exc: OSError) -> None:
        """A worker could not be started: said once per try, tried again a second later
        (the workers still running go on serving meanwhile)."""
        log.error("%s: %s; retrying", what, exc)
        self.next_spawn = now + 1.0

    def _read(self, worker: Worker, *, to_end: bool = False) -> None:
        """Take the worker's messages from its pipe: what is there now, or (`to_end`, once
        it exited) everything up to end-of-file, however much it had queued."""
        while True:
            try:
                data = os.read(worker.pipe, 65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if not data:
                return
            self._parse(worker, data)
            if not to_end:
                return

    def _parse(self, worker: Worker, data: bytes) -> None:
        data = worker.buffer + data
        worker.buffer = b""
        while data:
            kind, data = data[:1], data[1:]
            if kind == ERROR:
                line, newline, rest = data.partition(b"\n")
                if not newline:
                    worker.buffer = kind + data
                    return
                worker.error = line.decode("utf-8", "replace")
                data = rest
            elif kind == READY:
                worker.ready = True
                worker.last_beat = time.monotonic()
                self._on_ready(worker)
            elif kind == BEAT:
                worker.last_beat = time.monotonic()
            elif kind == SERVED:
                worker.served = True
            elif kind == RETIRE:
                worker.retiring = True
            elif kind == CLOSED:
                worker.accepting = False

    def _on_ready(self, worker: Worker) -> None:
        log.info("worker %d ready (generation %d)", worker.pid, worker.generation)

    def _announce(self) -> None:
        """Every worker of the first set serves: say so, and tell systemd (`_balance`).

        Not at the first ready worker: systemd (`Type=notify`) counts the start as done at
        READY=1, and a start with a worker that cannot boot must fail instead, with its error.
        """
        self.announced = True
        log.info(
            "wsgiserver %s serving on %s with %d worker(s), supervisor pid %d",
            __version__,
            describe(self.addresses, tls=self.config.certfile is not None),
            self.target,
            os.getpid(),
        )
        systemd.notify("READY=1")
        if self.admin is not None:
            log.info("admin endpoint (metrics, health) on http://%s", self.admin.address)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            worker = self.workers.pop(pid, None)
            if worker is None:
                continue
            self._read(worker, to_end=True)  # an error line may follow other messages
            os.close(worker.pipe)
            self._retire_slot(worker)
            self._on_exit(worker, status)

    def _on_exit(self, worker: Worker, status: int) -> None:
        how = _describe(status)
        if worker.stop_sent is not None or self.stopping is not None:
            if self.exit_code:
                return  # failing to boot: the error line is all there is to say
            log.info("worker %d stopped (%s)", worker.pid, how)
            return
        if worker.abort_sent is not None and worker.ready:
            log.info("worker %d killed after its timeout (%s)", worker.pid, how)
            return
        now = time.monotonic()
        if not worker.ready:  # it could not load the app, or did not boot in time
            message = worker.error or f"worker {worker.pid} {how} before it was ready"
            if not self.announced or not any(w.ready for w in self.workers.values()):
                # The first start fails as a whole, until every worker has been ready once
                # (`_announce`): systemd must not see a start that never reaches full strength.
                # Said once every worker is gone (`run`), so that it is the last line even
                # when other workers failing alike write their tracebacks (--log-level debug).
                self.fatal = message
                self.exit_code = EXIT_APP
                self._stop(signal.SIGQUIT, FAST_STOP_GRACE)
                return
            older = [w.generation for w in self.workers.values() if w.ready]
            if worker.generation == self.generation and max(older) < self.generation:
                log.error("reload failed, the old workers keep serving: %s", message)
                self._roll_back(max(older))
                return
            log.error("worker %d failed to boot: %s", worker.pid, message)
        elif worker.served:
            # It died of a request (a segfault in an extension, the OOM killer): replaced
            # in this very pass, whatever the crashes before. Backing off here left no
            # worker at all for seconds when one request in a second crashed a worker.
            log.warning("worker %d exited unexpectedly (%s); replacing it", worker.pid, how)
            self.urgent += 1  # not held back by another slot's back-off (`next_spawn`)
            return
        # Replaced in this very pass (`_balance` runs next), unless crashes repeat: more of
        # them than there are workers, each within CRASH_WINDOW of the previous one, by
        # workers that died before they answered any request (a crash loop of their own).
        self.failures = self.failures + 1 if now - self.last_failure < CRASH_WINDOW else 1
        self.last_failure = now
        repeated = self.failures - self.target
        delay = min(0.1 * 2 ** (repeated - 1), 10.0) if repeated > 0 else 0.0
        self.next_spawn = max(self.next_spawn, now + delay)
        if worker.ready:
            log.warning(
                "worker %d exited unexpectedly (%s) before it answered a request; %s",
                worker.pid,
                how,
                f"replacing it in {delay:.1f}s (crashes repeat: backing off)"
                if delay
                else "replacing it",
            )

    def _roll_back(self, generation: int) -> None:
        failed = self.generation
        self.generation = generation
        self.reloading = False
        for worker in self.workers.values():
            if worker.generation == failed and worker.stop_sent is None:
                worker.stop_sent = time.monotonic()
                _kill(worker.pid, signal.SIGQUIT)

    def _check_health(self, now: float) -> None:
        timeout = self.config.worker_timeout
        for worker in self.workers.values():
            if worker.abort_sent is not None:
                if not worker.killed and now - worker.abort_sent >= ABORT_GRACE:
                    worker.killed = _kill(worker.pid, signal.SIGKILL)
            elif worker.stop_sent is not None:
                if not worker.killed and now - worker.stop_sent >= self.config.graceful_timeout + 1:
                    log.warning("worker %d did not stop in time; killing it", worker.pid)
                    worker.killed = _kill(worker.pid, signal.SIGKILL)
            elif worker.ready and now - worker.last_beat > timeout:
                log.error(
                    "worker %d timed out (no heartbeat for %.1fs); aborting it",
                    worker.pid,
                    now - worker.last_beat,
                )
                worker.abort_sent = now
                _kill(worker.pid, signal.SIGABRT)
            elif not worker.ready and now - worker.started > max(timeout, BOOT_TIMEOUT):
                limit = max(timeout, BOOT_TIMEOUT)
                worker.error = f"worker {worker.pid} did not boot within {limit:.0f}s"
                worker.abort_sent = now
                _kill(worker.pid, signal.SIGABRT)

    def _balance(self, now: float) -> None:
        """Spawn, stop surplus workers, and retire old ones as their replacements are ready."""
        live = [w for w in self.workers.values() if w.stop_sent is None and w.abort_sent is None]
        good = [w for w in live if w.generation == self.generation and not w.retiring]
        ready = [w for w in good if w.ready]
        missing = self.target - len(good)
        backing_off = now < self.next_spawn
        urgent, self.urgent = min(self.urgent, max(missing, 0)), 0
        if missing > 0 and (urgent or not backing_off):
            # Backing off, only the replacements of workers that had answered requests.
            for _ in range(urgent if backing_off else missing):
                self._spawn(now)
                if self.next_spawn > now and not backing_off:
                    break  # it failed: the rest wait for the retry, with one error logged
                # Between two forks, not after the last one: a stop that comes while many
                # workers start (or a reload replaces them) is acted on at once, and no worker
                # is forked onto listeners it closed. (Other signals change only the counts,
                # which the loop's next pass balances again.)
                self._act_on_signals()
                if self.stopping is not None:
                    return
        surplus = len(good) - self.target
        for worker in sorted(good, key=lambda w: (w.ready, w.started))[: max(surplus, 0)]:
            worker.surplus = True
            self._ask_to_stop(worker, now)
        old = sorted((w for w in live if w not in good), key=lambda w: w.started)
        keep = max(0, self.target - len(ready))
        for worker in old[: len(old) - keep]:  # the oldest go first
            self._ask_to_stop(worker, now)
        # Complete only once no older worker accepts any more (each says so, `CLOSED`, or
        # exits): from then on every new connection is served by the new code.
        older_accepting = any(
            w.accepting for w in self.workers.values() if w.generation != self.generation
        )
        if not self.announced and len(ready) >= self.target:
            self._announce()
        if self.reloading and not old and len(ready) >= self.target and not older_accepting:
            self.reloading = False
            log.info("reload complete: %d worker(s) of generation %d", len(ready), self.generation)
            systemd.notify("READY=1")

    def _ask_to_stop(self, worker: Worker, now: float) -> None:
        worker.stop_sent = now
        _kill(worker.pid, signal.SIGTERM)

    # -- metrics, health and readiness (docs/observability.rst) ------------------

    def _free_slot(self) -> int:
        if self.store is None:
            return -1
        used = {w.slot for w in self.workers.values()}
        for slot in range(self.store.slots):
            if slot not in used:
                self.store.clear(slot)
                return slot
        log.warning("no free metrics slot: a new worker's requests are not counted")
        return -1

    def _retire_slot(self, worker: Worker) -> None:
        """A worker exited: keep its counts in the totals, free its slot."""
        if self.stopping is None and not worker.surplus:
            self.restarts += 1
        if self.store is None or worker.slot < 0:
            return
        counts = self.store.counters_of(worker.slot)
        counts[m.IN_FLIGHT] = 0  # a gauge: what a dead worker had in flight is gone
        for i, value in enumerate(counts):
            self.retired[i] += value
        self.store.clear(worker.slot)
        worker.slot = -1

    def _serving_slots(self) -> list[Worker]:
        return sorted((w for w in self.workers.values() if w.slot >= 0), key=lambda w: w.slot)

    def _metrics_text(self) -> str:
        if self.store is None:
            return ""
        slots = [w.slot for w in self._serving_slots()]
        return m.render(
            self.store, slots, retired=self.retired, restarts=self.restarts, worker_label=str
        )

    def _readiness(self) -> tuple[bool, str]:
        if self.stopping is not None:
            return False, "draining"
        store = self.store
        ready = [
            w
            for w in self._serving_slots()
            if w.ready
            and w.stop_sent is None
            and w.abort_sent is None
            and store is not None
            and store.gauges_of(w.slot)[m.GAUGE_INDEX["ready"]]
        ]
        if not ready:
            return False, "no worker is ready"
        return True, f"{len(ready)} worker(s) ready"

    def _admin_answer(self, path: str) -> tuple[int, str, bytes]:
        return respond(path, metrics=self._metrics_text, alive=lambda: True, ready=self._readiness)


def _enqueue(_signum: int, _frame: object) -> None:
    """Signal handlers only enqueue: set_wakeup_fd has written the number to the pipe."""


def _drain(fd: int) -> bytes:
    data = b""
    while True:
        try:
            chunk = os.read(fd, 512)
        except (BlockingIOError, InterruptedError):
            return data
        if not chunk:
            return data
        data += chunk


def _kill(pid: int, signum: int) -> bool:
    try:
        os.kill(pid, signum)
    except OSError as exc:
        return exc.errno == errno.ESRCH
    return True


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"
