"""Fault tests leave nothing behind: every test here runs under `no_leaks`.

The fixture snapshots the process's open file descriptors (/proc/self/fd), live threads and
resident memory before the test, and checks them after the test has stopped its server and
closed its clients. Servers in these tests stop deterministically (`serving()` joins the
serving thread and every worker), so the counts are compared exactly, with no waiting.
Memory is compared with a tolerance: the allocator keeps freed arenas, so RSS never shrinks
exactly, but a leak of per-request buffers (a 100 MB response, say) shows up far above it.
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Iterator

import pytest

RSS_TOLERANCE = 48 << 20  # bytes


def open_fds() -> set[str]:
    """Each open descriptor with what it points to: a new socket in a number that was in the
    baseline shows, where comparing numbers alone would miss it."""
    described = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            described.add(f"{fd} -> {os.readlink(f'/proc/self/fd/{fd}')}")
        except OSError:
            continue  # listdir's own descriptor, closed by now
    return described


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    # Only what the test creates is collected at its end: everything older is set aside
    # (`gc.freeze`) first. A full collection on each side of each test cost more than most
    # of these tests (some 0.1 s each in a suite worker's heap of every framework and every
    # collected test). Garbage already there when the test starts is frozen with the rest:
    # whatever it holds open is in the baseline and stays open to the end, so it cannot
    # show up as a leak, nor be closed by a collection mid-test.
    gc.freeze()
    try:
        fds, threads, rss = open_fds(), threading.active_count(), _rss()
        yield
        gc.collect()
        leaked = sorted(open_fds() - fds)
        assert not leaked, f"file descriptors leaked: {leaked}"
        assert threading.active_count() == threads, [t.name for t in threading.enumerate()]
        grown = _rss() - rss
        assert grown < RSS_TOLERANCE, f"resident memory grew by {grown >> 20} MiB"
    finally:
        gc.unfreeze()
