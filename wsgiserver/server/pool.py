"""The worker threads of one server: how many there are, and how many may take work at once.

Owns: starting and retiring threads between `minimum` and `maximum`, each thread's state
(waiting in the poller, waiting as a spare, or busy), the runnable target, and the rule
that moves it from the CPU share the housekeeper measures. Must not: know connections, the
poller's contents or HTTP; the server runs each thread's loop and asks the pool, under the
server's lock (which the pool shares), whether the thread may take work now.

The rule. How many threads take work at once ("runnable") starts at one; a thread above it
waits as a spare instead of in the poller. With several threads running Python app code at
once, the GIL passes between them every switch interval (5 ms) and a request in progress
waits behind the others: the tail latency of a CPU-bound app grows with the number of
threads, for no throughput, since one core runs Python at a time. So while work waits for a
thread, the target rises only if the process used less than `GROWTH_CPU_SHARE` of a CPU (the
running requests are blocked: on a database, a sleep, a slow client, and another thread
adds throughput), and falls if it used `BUSY_CPU_SHARE` or more (they compute, and another
thread only takes turns with them). After `SETTLE_SECONDS` without waiting work it returns
to one. At most `MAX_POLLERS` threads wait in the poller at once: more waiters would take
events the GIL does not let them run.

Long requests. A thread that has been on one request for `HOG_SECONDS` or more (`hogs`,
counted by the housekeeper at each look) no longer counts toward the target: the rule is
for the short requests that come after it, and a spare takes the next one. Counting it
made one long computation hold the only turn, and a trivial request waited behind it for
as long as it computed (25 s in a black-box probe); now that request shares the GIL with
it, as it would with plain threads. No thread is started for this: an app whose requests
all compute that long runs as many at once as it keeps threads ready (`--threads`).

Tasks. `submit()` queues a `Task` (first in, first out). A thread that may take work takes a
queued task before it waits in the poller, so a task counts toward the runnable target like
a ready socket, and waiting tasks are "work waiting" for the rule. Whoever submits learns
whether a thread must be fetched from the poller (`submit` returns True: the server nudges
the poller); a spare allowed to run is woken directly. Tasks never spawn threads of their own.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Protocol

IDLE_THREAD_SECONDS = 30.0  # a thread above the minimum that waited this long exits
MAX_POLLERS = 2  # threads waiting in the poller at once; one more than a busy one needs
GROWTH_CPU_SHARE = 0.8  # below it while work waits, the running threads are blocked
BUSY_CPU_SHARE = 0.9  # at or above it while work waits, they compute
SETTLE_SECONDS = 1.0  # without waiting work for this long, the target returns to one
# A thread whose request has been in the app this long no longer counts toward the target.
# Below it, requests are ruled for their tail (one at a time while they compute); a longer
# one is no short request, and one at a time would make the short ones wait for all of it.
HOG_SECONDS = 0.5
POLL = True  # `wait_turn`: wait in the poller
LEAVE = False  # `wait_turn`: the thread leaves the pool


class Task(Protocol):
    """Work for a pool thread that is not a ready socket."""

    def run(self) -> None:
        """Do the work (in a pool thread, outside the lock)."""

    def drop(self) -> None:
        """The server stopped before a thread took the task: release what it holds."""


class ThreadPool:
    """The threads of a server. Methods marked "under the lock" expect `lock` held."""

    __slots__ = (
        "_extra",
        "_lock",
        "_spare_wakeup",
        "_watch",
        "busy_since",
        "hogs",
        "idle",
        "idle_seconds",
        "maximum",
        "minimum",
        "runnable",
        "spares",
        "tasks",
        "threads",
        "watching",
    )

    def __init__(
        self,
        lock: threading.Lock,
        *,
        minimum: int,
        maximum: int,
        idle_seconds: float = IDLE_THREAD_SECONDS,
        watch: threading.Condition | None = None,
    ) -> None:
        self._lock = lock
        self._spare_wakeup = threading.Condition(lock)
        self._watch = watch  # on `lock`: notified when the housekeeper must start to watch
        self.minimum = minimum
        self.maximum = maximum
        self.idle_seconds = idle_seconds  # how long a surplus thread waits before it exits
        self.threads: set[threading.Thread] = set()
        self._extra = 0  # threads outside the accounting (a stopping server's drain threads)
        self.idle = 0  # threads waiting in the poller
        self.spares = 0  # threads waiting for a turn
        self.runnable = 1  # how many threads may take work at once
        self.watching = False  # no thread waits in the poller: the housekeeper measures
        self.busy_since = 0.0  # when work last waited for a thread (for SETTLE_SECONDS)
        self.hogs = 0  # threads on one request for HOG_SECONDS or more (the housekeeper's count)
        self.tasks: deque[Task] = deque()  # first in, first out

    # -- threads ----------------------------------------------------------------------------

    def start(self, target: Callable[[], None], name: str = "wsgiserver-worker") -> str | None:
        """Start a pool thread running `target` (which calls `finished()` at its end). None
        once started; why not if the system refused a thread (a memory or process limit):
        the pool goes on with the threads it has."""
        thread = threading.Thread(target=target, name=name, daemon=True)
        with self._lock:
            self.threads.add(thread)
        try:
            thread.start()
        except RuntimeError as exc:  # "can't start new thread"
            with self._lock:
                self.threads.discard(thread)
            return str(exc)
        return None

    def start_extra(self, target: Callable[[], None], name: str) -> None:
        """Start a thread that is waited for on stopping but takes no turn (a drain thread)."""
        thread = threading.Thread(target=target, name=name, daemon=True)
        with self._lock:
            self.threads.add(thread)
            self._extra += 1
        thread.start()

    def finished(self, *, extra: bool = False) -> None:
        """Under the lock: the current thread leaves the pool."""
        self.threads.discard(threading.current_thread())
        if extra:
            self._extra -= 1

    def owns_current_thread(self) -> bool:
        return threading.current_thread() in self.threads

    # -- turns ------------------------------------------------------------------------------

    def wait_turn(
        self, leaving: Callable[[], bool], finish_queued: Callable[[], bool] = lambda: False
    ) -> Task | bool:
        """Under the lock: wait until this thread may take work. A queued task (the caller
        runs it, outside the lock), `POLL` to wait in the poller, or `LEAVE` (the server
        stops, or this surplus thread was idle for long). Leaving, the tasks queued are
        taken first while `finish_queued()` says so."""
        while True:
            if leaving():
                if self.tasks and finish_queued():
                    return self.tasks.popleft()
                return LEAVE
            # Threads other than this one that take work or wait in the poller (inline: a
            # call per request is measurable on a hello-world app).
            others = len(self.threads) - self._extra - self.spares - self.hogs - 1
            if others < self.runnable:
                if self.tasks:
                    return self.tasks.popleft()
                if self.idle < MAX_POLLERS:
                    self.idle += 1
                    return POLL
            elif self.tasks and others == self.idle:
                # Every other thread waits in the poller, running nothing: the task runs.
                # (Counting them left it queued, every thread idle, until a poller's wait
                # timed out: `submit` fetches one of them for it, and that one, finding the
                # others still there, became a spare instead.)
                return self.tasks.popleft()
            if self.tasks and not self.watching and self._watch is not None:
                # A task waits for a turn that this thread may not take. Only the rule
                # gives one (a turn held by a request grown long since the last look, or by
                # a blocked one), so the housekeeper must look now: a thread left waiting in
                # the poller made it think the pool had room, and a stream's call waited in
                # the queue for as long as the request holding the turn ran.
                self.watching = True
                self._watch.notify()
            self.spares += 1
            woken = self._spare_wakeup.wait(self.idle_seconds)
            self.spares -= 1
            if not woken and len(self.threads) > self.minimum:
                return LEAVE  # idle for long: shrink the pool

    def polled(self) -> bool:
        """Under the lock: back from the poller, with work or without (a timeout, a nudge for
        a task). True if the housekeeper should start to watch: no thread waits in the poller
        any more. Also without work: this thread may become a spare next (the others are at
        the runnable target), and with every running thread blocked (HTTP/2 streams waiting
        for their own connection's bytes) only the housekeeper's rule can add a poller."""
        self.idle -= 1
        return self.start_watching()

    def start_watching(self) -> bool:
        """Under the lock: a thread took work. True if the housekeeper should start to
        watch: no thread waits in the poller, so nothing would notice more work waiting."""
        if self.idle == 0 and not self.watching:
            self.watching = True
            return True
        return False

    def submit(self, task: Task) -> bool:
        """Under the lock: queue `task`. A spare that may run is woken for it; True if a
        thread waiting in the poller must be nudged instead (none may, and one waits there).
        Otherwise it waits for a running thread to finish, or for the rule to add one."""
        self.tasks.append(task)
        # Busy (but not on a long request) or in the poller.
        running = len(self.threads) - self._extra - self.spares - self.hogs
        if self.spares and running < self.runnable:
            self._spare_wakeup.notify()
            return False
        return self.idle > 0

    def take_tasks(self) -> list[Task]:
        """Under the lock: every queued task, removed (the server stopped: it drops them)."""
        tasks = list(self.tasks)
        self.tasks.clear()
        return tasks

    def surplus(self) -> bool:
        """Under the lock: a thread that found no work for `idle_seconds` may exit."""
        return len(self.threads) > self.minimum

    def add_poller(self, start_thread: Callable[[], object]) -> None:
        """One more thread to take work: wake a spare, or call `start_thread` (outside the
        lock), unless the pool is at its maximum."""
        with self._lock:
            if self.spares:
                self._spare_wakeup.notify()
                return
            if len(self.threads) - self._extra >= self.maximum:
                return
        start_thread()

    def wake_all(self) -> None:
        """Under the lock: every spare looks at the world again (stopping)."""
        self._spare_wakeup.notify_all()

    # -- the rule ---------------------------------------------------------------------------

    def adjust(self, share: float, *, waiting: bool, now: float) -> bool:
        """Under the lock, from the housekeeper: the process used `share` of a CPU since its
        last look, and work `waiting` for a thread or not. Moves the runnable target; True
        if one more thread should take work now (`add_poller`)."""
        if waiting:
            self.busy_since = now
            if share < GROWTH_CPU_SHARE and (
                self.spares > 0 or len(self.threads) - self._extra < self.maximum
            ):
                self.runnable += 1  # the running requests are blocked
                return True
            if share >= BUSY_CPU_SHARE and self.runnable > 1:
                self.runnable -= 1  # they compute: one fewer takes turns
        return False

    def count_hogs(self, hogs: int, *, waiting: bool) -> None:
        """Under the lock, from the housekeeper at each look: `hogs` threads have been on one
        request for HOG_SECONDS or more. With work `waiting`, a spare is woken to take it,
        since they hold no turn; no thread is ever started for this (`add_poller` would,
        once the spares are gone), so long requests run at most as many at once as there
        are threads."""
        self.hogs = hogs
        if hogs and waiting and self.spares:
            self._spare_wakeup.notify()

    def exhausted(self) -> bool:
        """Under the lock: every thread the pool may have is taking work: none to add."""
        return not self.spares and len(self.threads) - self._extra >= self.maximum

    def settle(self, now: float) -> None:
        """Under the lock: without waiting work for SETTLE_SECONDS, back to one runnable."""
        if self.runnable > 1 and now - self.busy_since > SETTLE_SECONDS:
            self.runnable = 1

    # -- gauges -----------------------------------------------------------------------------

    def waiting_threads(self) -> int:
        """Under the lock: threads not busy (in the poller or spare)."""
        return self.idle + self.spares

    def all_busy(self) -> bool:
        """Under the lock: every thread busy (none in the poller, none spare)."""
        return self.idle == 0 and self.spares == 0 and bool(self.threads)

    def full(self) -> bool:
        return len(self.threads) >= self.maximum
