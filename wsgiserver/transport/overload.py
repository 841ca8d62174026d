"""Overload control: queue-timeout shedding settings and per-request deadlines.

`Overload` holds what a server's transports share (`--queue-timeout`, the deadlines).

Per-request deadlines (`--request-timeout`) answer 504, then interrupt the stuck thread.
Owns: the table of requests running in the app with a deadline, and what happens when one
passes: the transport's `abort_for_timeout` (504 if no head was sent, then the socket is shut
down, never closed, so the owning thread's later writes fail quietly and it still closes the
descriptor itself), an asynchronous `RequestTimeout` raised in the app's thread with
`PyThreadState_SetAsyncExc` (its stack is logged first), and noticing threads that have not
unwound `interrupt_timeout` seconds later. Driven by the server's housekeeper thread.
Must not: own threads or sockets.

A thread blocked in C (time.sleep, a socket call, a lock) sees the exception only when it
returns to Python bytecode.
"""

from __future__ import annotations

import ctypes
import itertools
import logging
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from wsgiserver.errors import RequestTimeout

log = logging.getLogger("wsgiserver.error")


def _set_async_exc(ident: int, exc: type[BaseException] | None) -> int:
    obj = ctypes.py_object(exc) if exc is not None else None
    return int(ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), obj))


class Entry:
    __slots__ = ("abort", "claimed", "deadline", "fired", "ident", "key", "label", "request_id")

    def __init__(
        self,
        key: int,
        deadline: float,
        ident: int,
        abort: Callable[[], None],
        label: str,
        request_id: Callable[[], str],
    ) -> None:
        self.key = key
        self.deadline = deadline
        self.ident = ident
        self.abort = abort
        self.label = label
        # Read when a line is logged: the id is given once the request reaches the gateway,
        # after its deadline has started.
        self.request_id = request_id
        self.fired: float | None = None  # when the exception was raised in the thread
        # The deadline answers the request (its 504, and its count in the metrics): set
        # under the lock before `abort`, never once `end` has run, so the request's own
        # thread, past `end`, knows whether the count is its to make.
        self.claimed = False


class RequestDeadlines:
    """Thread-safe table of running requests; `check(now)` fires the expired ones."""

    def __init__(self, timeout: float, interrupt_timeout: float) -> None:
        self.timeout = timeout
        self.interrupt_timeout = interrupt_timeout
        self._lock = threading.Lock()
        self._entries: dict[int, Entry] = {}
        self._keys = itertools.count()
        self.stuck = 0  # threads still running a timed-out request after interrupt_timeout
        self._reported: set[int] = set()
        self.on_timeout: Callable[[], None] | None = None  # counts a timeout (metrics)

    def start(
        self,
        now: float,
        abort: Callable[[], None],
        label: str,
        request_id: Callable[[], str] = str,
    ) -> Entry:
        ident = threading.get_ident()
        entry = Entry(next(self._keys), now + self.timeout, ident, abort, label, request_id)
        with self._lock:
            self._entries[entry.key] = entry
        return entry

    def end(self, entry: Entry) -> None:
        """The request is over (in its own thread): no exception may arrive after this."""
        while True:
            try:
                with self._lock:
                    self._entries.pop(entry.key, None)
                    fired = entry.fired is not None
                    if fired and entry.key in self._reported:
                        self._reported.discard(entry.key)
                        self.stuck -= 1
                if fired:
                    _set_async_exc(entry.ident, None)  # cancel it if not delivered yet
                return
            except RequestTimeout:
                continue  # delivered just here: the request is already over

    def next_deadline(self) -> float | None:
        with self._lock:
            pending = [
                e.deadline if e.fired is None else e.fired + self.interrupt_timeout
                for e in self._entries.values()
                if e.key not in self._reported
            ]
        return min(pending) if pending else None

    def check(self, now: float) -> None:
        """Fire every expired request; count threads that did not unwind in time."""
        fire: list[Entry] = []
        with self._lock:
            for entry in self._entries.values():
                if entry.fired is None and entry.deadline <= now:
                    fire.append(entry)
                elif (
                    entry.fired is not None
                    and entry.key not in self._reported
                    and now - entry.fired >= self.interrupt_timeout
                ):
                    self._reported.add(entry.key)
                    self.stuck += 1
                    request_id = entry.request_id()
                    log.error(
                        "%sa thread ignored RequestTimeout for %.1fs (%s); the worker is no "
                        "longer ready",
                        _prefix(request_id),
                        now - entry.fired,
                        entry.label,
                        extra={"request_id": request_id},
                    )
        for entry in fire:
            self._fire(entry, now)

    def _fire(self, entry: Entry, now: float) -> None:
        with self._lock:
            if entry.key not in self._entries:
                return  # finished meanwhile: its response is out, nothing to interrupt
            entry.claimed = True
        frame = sys._current_frames().get(entry.ident)
        stack = "".join(traceback.format_stack(frame)) if frame is not None else "(gone)\n"
        request_id = entry.request_id()
        log.error(
            "%srequest timed out after %.1fs (%s); interrupting its thread, which was at:\n%s",
            _prefix(request_id),
            self.timeout,
            entry.label,
            stack.rstrip("\n"),
            extra={"request_id": request_id},
        )
        try:
            entry.abort()  # 504 (or abort), socket shut down
        except Exception:
            log.exception("answering a timed-out request failed")
        if self.on_timeout is not None:
            self.on_timeout()
        with self._lock:
            if entry.key not in self._entries:
                return  # finished meanwhile: raise nothing
            entry.fired = now
            _set_async_exc(entry.ident, RequestTimeout)


@dataclass(frozen=True, slots=True)
class Overload:
    """Overload control shared by a server's transports (docs/observability.rst)."""

    queue_timeout: float = 0.0  # 0: never shed
    deadlines: RequestDeadlines | None = None  # --request-timeout


def _prefix(request_id: str) -> str:
    """`[id] ` before a per-request line, as on every other (docs/observability.rst)."""
    return f"[{request_id}] " if request_id else ""
