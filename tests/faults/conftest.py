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


def _fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    gc.collect()
    fds, threads, rss = _fds(), threading.active_count(), _rss()
    yield
    gc.collect()
    leaked_fds = _fds() - fds
    # listdir opens one fd of its own, in both snapshots, and it may be reused: compare sets
    # of targets by number, ignoring ones that no longer resolve.
    leaked = []
    for fd in sorted(leaked_fds):
        try:
            leaked.append(f"{fd} -> {os.readlink(f'/proc/self/fd/{fd}')}")
        except OSError:
            continue
    assert not leaked, f"file descriptors leaked: {leaked}"
    assert threading.active_count() == threads, [t.name for t in threading.enumerate()]
    grown = _rss() - rss
    assert grown < RSS_TOLERANCE, f"resident memory grew by {grown >> 20} MiB"
