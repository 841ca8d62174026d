"""CPU time of a server's process tree, as the benchmark reads it from /proc/PID/stat."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.process import CLOCK_TICKS, ProcInfo, parse_stat, tree_cpu_ticks

# proc(5): pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
# utime stime cutime cstime priority ...; a command name may hold spaces and parentheses.
STAT = "4242 (odd ) name) S 17 4242 4242 0 -1 4194560 500 0 0 0 {} {} {} {} 20 0 3 0 1000 0 0"


def test_stat_fields_are_counted_from_the_last_parenthesis() -> None:
    info = parse_stat(4242, STAT.format(120, 30, 7, 3))
    assert (info.pid, info.state, info.ppid, info.pgrp) == (4242, "S", 17, 4242)
    assert info.cpu_ticks == 120 + 30 + 7 + 3  # utime + stime + cutime + cstime


def test_tree_cpu_is_the_root_and_its_descendants_only() -> None:
    procs = {
        1: ProcInfo(1, 0, 1, "S", cpu_ticks=1_000),  # init: not ours
        10: ProcInfo(10, 1, 10, "S", cpu_ticks=5),  # the server
        11: ProcInfo(11, 10, 10, "S", cpu_ticks=70),  # its worker
        12: ProcInfo(12, 11, 10, "Z", cpu_ticks=2),  # the worker's exited, unreaped child
        20: ProcInfo(20, 1, 20, "S", cpu_ticks=300),  # a neighbour
    }
    assert tree_cpu_ticks(10, procs) == 5 + 70 + 2
    assert tree_cpu_ticks(11, procs) == 70 + 2
    assert tree_cpu_ticks(99, procs) == 0  # gone: nothing to read


def test_this_process_reads_as_os_times_says() -> None:
    # The field positions against the running kernel: /proc agrees with times(2).
    times = os.times()
    counted = sum(times[:4]) * CLOCK_TICKS
    read = parse_stat(os.getpid(), Path("/proc/self/stat").read_text()).cpu_ticks
    assert read == pytest.approx(counted, abs=2)


@pytest.mark.slow
def test_a_reaped_child_keeps_counting() -> None:
    # A worker that exits between the two samples must not take its CPU time with it.
    before = parse_stat(os.getpid(), Path("/proc/self/stat").read_text()).cpu_ticks
    burn = "import os\nfor _ in range(10**9):\n    if sum(os.times()[:2]) >= 0.2:\n        break\n"
    subprocess.run([sys.executable, "-c", burn], check=True, timeout=60)
    after = parse_stat(os.getpid(), Path("/proc/self/stat").read_text()).cpu_ticks
    assert after - before >= 0.2 * CLOCK_TICKS
