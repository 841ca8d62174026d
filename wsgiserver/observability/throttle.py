"""Warnings about a condition that can last: said once, then at most once per interval.

Owns: deciding whether a repeated warning is due, and how many were held back since the
last one. Must not: log by itself or read a clock; the caller passes the time and says it.
"""

from __future__ import annotations


class Throttle:
    """`due(now)` is the number of occurrences held back since the last time it was due
    (0 the first time), or None while the interval since then has not passed. Not
    thread-safe: a race only misses or repeats one count of a warning."""

    __slots__ = ("_held", "_last", "interval")

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last: float | None = None
        self._held = 0

    def due(self, now: float) -> int | None:
        last = self._last
        if last is not None and now < last + self.interval:
            self._held += 1
            return None
        held, self._held, self._last = self._held, 0, now
        return held

    def take_held(self) -> int:
        """The occurrences held back since the last time it was due, counted as said: for a
        last word (at shutdown) about what the interval kept quiet."""
        held, self._held = self._held, 0
        return held
