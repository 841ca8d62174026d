"""Deadlines of parked connections: which one times out next.

Owns: a heap with at most one live entry per connection, lazy deletion, and compaction so a
closed connection is never kept alive by its deadline. Must not: lock, poll, or close
anything; the server calls it under its own lock and decides what an expiry means.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Generic, Protocol, TypeVar


class HasDeadline(Protocol):
    @property
    def deadline(self) -> float: ...


T = TypeVar("T", bound=HasDeadline)

COMPACT_ABOVE = 64  # heaps smaller than this are never compacted (not worth the pass)


class Deadlines(Generic[T]):
    """A min-heap of (deadline, item) with one live entry per item.

    An item that parks again with a later deadline keeps its earlier entry: when that entry
    comes due, `pop_due` hands it out and the caller re-schedules it with its current
    deadline. So a busy keep-alive connection costs one heap push per timeout period, not
    one per request.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, T]] = []
        self._live: dict[T, float] = {}  # item -> the deadline of its live entry
        self._order = itertools.count()  # ties break by insertion, never by comparing items

    def __bool__(self) -> bool:
        return bool(self._heap)

    def __len__(self) -> int:
        return len(self._live)

    def next_deadline(self) -> float | None:
        """The earliest entry's deadline (it may be stale: waking early is harmless)."""
        return self._heap[0][0] if self._heap else None

    def schedule(self, item: T) -> bool:
        """Make sure `item` is due no later than `item.deadline`; True if it is now first."""
        deadline = item.deadline
        current = self._live.get(item)
        if current is not None and current <= deadline:
            return False  # the earlier entry fires first and reschedules
        self._live[item] = deadline
        heapq.heappush(self._heap, (deadline, next(self._order), item))
        return self._heap[0][2] is item

    def forget(self, item: T) -> None:
        """Drop `item` (closed for good). Its entry goes stale; the heap is compacted once
        stale entries are the majority, so forgetting is amortized O(1)."""
        if self._live.pop(item, None) is None:
            return
        heap = self._heap
        if len(heap) > COMPACT_ABOVE and len(heap) > 2 * len(self._live):
            live = self._live
            self._heap = [entry for entry in heap if live.get(entry[2]) == entry[0]]
            heapq.heapify(self._heap)

    def pop_due(self, now: float) -> list[T]:
        """Remove and return the items whose live entry is due at `now`."""
        due: list[T] = []
        heap = self._heap
        live = self._live
        while heap and heap[0][0] <= now:
            deadline, _, item = heapq.heappop(heap)
            if live.get(item) == deadline:
                del live[item]
                due.append(item)
        return due
