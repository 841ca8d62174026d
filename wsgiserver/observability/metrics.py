"""Request counters and gauges, kept lock-free, rendered in the Prometheus text format.

Owns: the fixed layout of the counters (one row of 64-bit integers per thread, one gauge row
per worker process), handing each thread its own row, and rendering every row summed (plus a
few per-worker series) as the Prometheus text exposition format 0.0.4. Must not: touch
sockets, threads of its own, or the server's locks.

Why rows of integers: a row is written only by the thread that owns it (`row[i] += 1` from
two threads could lose an update; from one thread it cannot), so counting takes no lock. The
rows live in one buffer: a `bytearray` in a single process, or an anonymous shared `mmap`
created by the supervisor before it forks, so the supervisor's admin endpoint sums every
worker's rows at scrape time without asking the workers anything. A scrape may see a row
mid-update (one counter a request ahead of another); every counter is still monotonic.
Metrics exist only when `--admin-bind` is set: otherwise the transport holds `None` and pays
one `is not None` test per request.
"""

from __future__ import annotations

import bisect
import mmap
import threading
from collections.abc import Callable, Iterable

METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other")
CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ERROR_STATUSES = (400, 408, 413, 414, 417, 431, 501, 505)
TIMEOUT_KINDS = ("header", "keepalive", "body", "send", "queue", "request")

_METHOD_INDEX = {name: i for i, name in enumerate(METHODS)}
_STATUS_INDEX = {status: i for i, status in enumerate(ERROR_STATUSES)}
_TIMEOUT_INDEX = {kind: i for i, kind in enumerate(TIMEOUT_KINDS)}
_NB = len(BUCKETS) + 1  # the last bucket is +Inf

# -- one thread's row ---------------------------------------------------------------------
REQUESTS = 0  # METHODS x CLASSES
DURATION = REQUESTS + len(METHODS) * len(CLASSES)  # _NB buckets (not cumulative), then sum_us
QUEUE_WAIT = DURATION + _NB + 1
BYTES_IN = QUEUE_WAIT + _NB + 1
BYTES_OUT = BYTES_IN + 1
IN_FLIGHT = BYTES_OUT + 1
SHED = IN_FLIGHT + 1  # answered 503 by --queue-timeout
REFUSED = SHED + 1  # connections answered 503 over --max-connections
PARSE_ERRORS = REFUSED + 1  # ERROR_STATUSES, then "other"
TIMEOUTS = PARSE_ERRORS + len(ERROR_STATUSES) + 1
ROW = TIMEOUTS + len(TIMEOUT_KINDS)

# -- one worker process's gauge row (written by its housekeeper, or at scrape time) --------
GAUGES = (
    ("pid", "process id of the worker"),
    ("threads", "worker threads in the pool"),
    ("busy_threads", "worker threads serving a connection"),
    ("idle_threads", "worker threads waiting for work"),
    ("open_connections", "open client connections"),
    ("idle_connections", "keep-alive connections parked in the poller (no thread)"),
    ("queue_depth", "ready connections and listeners waiting for a thread"),
    ("ready", "1 if the worker accepts work"),
    ("stuck_threads", "threads that ignored a RequestTimeout past --interrupt-timeout"),
)
GAUGE_INDEX = {name: i for i, (name, _) in enumerate(GAUGES)}
GAUGE_ROW = 12


class Counters:
    """One thread's row. Only its owner thread writes it."""

    __slots__ = ("base", "cells", "row")

    def __init__(self, cells: memoryview, base: int, row: int = -1) -> None:
        self.cells = cells
        self.base = base
        self.row = row

    def add(self, index: int, amount: int = 1) -> None:
        self.cells[self.base + index] += amount

    def request(self, method: str, status: int, duration: float, wait: float) -> None:
        cells = self.cells
        base = self.base
        klass = min(max(status // 100, 1), 5) - 1
        cells[base + REQUESTS + _METHOD_INDEX.get(method, 7) * 5 + klass] += 1
        cells[base + DURATION + bisect.bisect_left(BUCKETS, duration)] += 1
        cells[base + DURATION + _NB] += int(duration * 1e6)
        cells[base + QUEUE_WAIT + bisect.bisect_left(BUCKETS, wait)] += 1
        cells[base + QUEUE_WAIT + _NB] += int(wait * 1e6)

    def parse_error(self, status: int) -> None:
        self.cells[self.base + PARSE_ERRORS + _STATUS_INDEX.get(status, len(ERROR_STATUSES))] += 1

    def timeout(self, kind: str) -> None:
        self.cells[self.base + TIMEOUTS + _TIMEOUT_INDEX[kind]] += 1


class Store:
    """The buffer: `slots` worker slots, each a gauge row and `rows` thread rows."""

    def __init__(self, slots: int, rows: int, *, shared: bool = False) -> None:
        self.slots = slots
        self.rows = rows
        self.slot_size = GAUGE_ROW + rows * ROW
        size = max(slots * self.slot_size * 8, 8)
        self.buffer: mmap.mmap | bytearray
        # An anonymous MAP_SHARED mapping survives fork() shared: what a worker writes, the
        # supervisor reads. No file, no name to clean up.
        self.buffer = mmap.mmap(-1, size) if shared else bytearray(size)
        self.cells = memoryview(self.buffer).cast("q")

    def gauge_base(self, slot: int) -> int:
        return slot * self.slot_size

    def row_base(self, slot: int, row: int) -> int:
        return slot * self.slot_size + GAUGE_ROW + row * ROW

    def counters_of(self, slot: int) -> list[int]:
        """The sum of a slot's thread rows."""
        total = [0] * ROW
        cells = self.cells
        for row in range(self.rows):
            base = self.row_base(slot, row)
            for i, value in enumerate(cells[base : base + ROW]):
                total[i] += value
        return total

    def clear(self, slot: int) -> None:
        base = self.gauge_base(slot)
        self.cells[base : base + self.slot_size] = memoryview(bytearray(self.slot_size * 8)).cast(
            "q"
        )

    def set_gauges(self, slot: int, values: dict[str, int]) -> None:
        base = self.gauge_base(slot)
        for name, value in values.items():
            self.cells[base + GAUGE_INDEX[name]] = value

    def gauges_of(self, slot: int) -> list[int]:
        base = self.gauge_base(slot)
        return list(self.cells[base : base + len(GAUGES)])


class ProcessMetrics:
    """One process's view: its slot in a `Store`, and a row per thread, handed out lazily.

    A thread's row is returned to a free list when it exits (`release`), so a pool that grows
    and shrinks reuses rows (their counts carry on). If more threads than rows exist at once,
    the extra ones share the last row (they may then lose an increment in a race).
    """

    def __init__(self, store: Store, slot: int = 0) -> None:
        self.store = store
        self.slot = slot
        self._local = threading.local()
        self._lock = threading.Lock()
        self._free = list(range(store.rows - 1, -1, -1))
        self._shared: Counters | None = None

    def here(self) -> Counters:
        """This thread's row (allocated on first use)."""
        try:
            counters: Counters = self._local.counters
            return counters
        except AttributeError:
            pass
        with self._lock:
            if self._free:
                row = self._free.pop()
                counters = Counters(self.store.cells, self.store.row_base(self.slot, row), row)
            else:
                if self._shared is None:
                    self._shared = Counters(
                        self.store.cells, self.store.row_base(self.slot, self.store.rows - 1)
                    )
                counters = self._shared
        self._local.counters = counters
        return counters

    def release(self) -> None:
        """The calling thread is exiting: its row goes back to the free list."""
        counters = getattr(self._local, "counters", None)
        if counters is None or counters is self._shared:
            return
        del self._local.counters
        with self._lock:
            self._free.append(counters.row)

    def publish(self, gauges: dict[str, int]) -> None:
        self.store.set_gauges(self.slot, gauges)


# -- rendering ------------------------------------------------------------------------------


def escape_label(value: str) -> str:
    """A label value in the text format: backslash, double quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f'{name}="{escape_label(value)}"' for name, value in pairs)
    return "{" + inner + "}" if inner else ""


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        help_text = help_text.replace("\\", "\\\\").replace("\n", "\\n")
        self.lines.append(f"# HELP wsgiserver_{name} {help_text}")
        self.lines.append(f"# TYPE wsgiserver_{name} {kind}")

    def sample(self, name: str, value: float, labels: Iterable[tuple[str, str]] = ()) -> None:
        text = repr(float(value)) if isinstance(value, float) else str(value)
        self.lines.append(f"wsgiserver_{name}{_labels(labels)} {text}")

    def histogram(self, name: str, help_text: str, cells: list[int], start: int) -> None:
        self.family(name, "histogram", help_text)
        running = 0
        for i, bound in enumerate(BUCKETS):
            running += cells[start + i]
            self.sample(f"{name}_bucket", running, (("le", repr(bound)),))
        running += cells[start + len(BUCKETS)]
        self.sample(f"{name}_bucket", running, (("le", "+Inf"),))
        self.sample(f"{name}_sum", cells[start + _NB] / 1e6)
        self.sample(f"{name}_count", running)


def render(
    store: Store,
    slots: Iterable[int],
    *,
    retired: list[int] | None = None,
    restarts: int | None = None,
    worker_label: Callable[[int], str] | None = None,
) -> str:
    """The whole server's metrics: counters summed over `slots` (and `retired`)."""
    slots = list(slots)
    per_slot = {slot: store.counters_of(slot) for slot in slots}
    gauges = {slot: store.gauges_of(slot) for slot in slots}
    total = list(retired) if retired is not None else [0] * ROW
    for counts in per_slot.values():
        for i, value in enumerate(counts):
            total[i] += value
    out = _Writer()
    out.family("requests_total", "counter", "requests answered, by method and status class")
    for m, method in enumerate(METHODS):
        for c, klass in enumerate(CLASSES):
            value = total[REQUESTS + m * 5 + c]
            if value:
                out.sample("requests_total", value, (("method", method), ("status", klass)))
    out.histogram(
        "request_duration_seconds",
        "time from calling the app to the end of the response",
        total,
        DURATION,
    )
    out.histogram(
        "queue_wait_seconds",
        "estimated time a ready request waited for a worker thread (see the docs)",
        total,
        QUEUE_WAIT,
    )
    out.family("requests_in_flight", "gauge", "requests being answered by the app now")
    out.sample("requests_in_flight", total[IN_FLIGHT])
    out.family("received_bytes_total", "counter", "bytes received from clients")
    out.sample("received_bytes_total", total[BYTES_IN])
    out.family("sent_bytes_total", "counter", "bytes sent to clients")
    out.sample("sent_bytes_total", total[BYTES_OUT])
    out.family("shed_requests_total", "counter", "requests answered 503 by --queue-timeout")
    out.sample("shed_requests_total", total[SHED])
    out.family(
        "refused_connections_total", "counter", "connections answered 503 over --max-connections"
    )
    out.sample("refused_connections_total", total[REFUSED])
    out.family("parse_errors_total", "counter", "requests refused by the parser, by status")
    for i, status in enumerate((*ERROR_STATUSES, "other")):
        out.sample("parse_errors_total", total[PARSE_ERRORS + i], (("status", str(status)),))
    out.family("timeouts_total", "counter", "timeouts, by kind")
    for i, kind in enumerate(TIMEOUT_KINDS):
        out.sample("timeouts_total", total[TIMEOUTS + i], (("kind", kind),))
    for g, (name, help_text) in enumerate(GAUGES):
        if name in ("pid", "ready"):
            continue
        out.family(name, "gauge", help_text)
        out.sample(name, sum(gauges[slot][g] for slot in slots))
    if restarts is not None:
        out.family("worker_restarts_total", "counter", "worker processes replaced")
        out.sample("worker_restarts_total", restarts)
    if worker_label is not None:
        out.family("worker_requests_total", "counter", "requests answered, per worker slot")
        for slot in slots:
            count = sum(per_slot[slot][REQUESTS : REQUESTS + len(METHODS) * 5])
            out.sample("worker_requests_total", count, (("worker", worker_label(slot)),))
        for g, (name, help_text) in enumerate(GAUGES):
            if name not in ("pid", "ready", "busy_threads"):
                continue
            out.family(f"worker_{name}", "gauge", help_text + ", per worker slot")
            for slot in slots:
                out.sample(f"worker_{name}", gauges[slot][g], (("worker", worker_label(slot)),))
    return "\n".join(out.lines) + "\n"


def single_process_store(max_threads: int) -> ProcessMetrics:
    # Rows: the pool, the housekeeper, the admin thread, and a few drain threads.
    return ProcessMetrics(Store(1, max_threads + 8))


def shared_store(workers: int, max_threads: int) -> Store:
    return Store(workers, max_threads + 8, shared=True)
