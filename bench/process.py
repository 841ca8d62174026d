"""Owns a running server process: its process tree, memory, CPU time, and clean stop.

Each server is started in its own session (so its process group id equals
its pid), pinned with ``taskset``.  Stopping sends SIGTERM to the main
process, waits, then SIGKILLs the whole group, and finally reports any
process of the tree or group that is still alive.

CPU time is read from ``/proc/PID/stat`` (proc(5)) for every process of the
tree: ``utime + stime`` covers all threads of a process, living or ended, and
``cutime + cstime`` the children it has already reaped, so a worker process
that exits between two samples is still counted.  The unit is the clock tick
(``SC_CLK_TCK``, usually 10 ms).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
"""Clock ticks per second, the unit of the CPU times in /proc/PID/stat."""


@dataclass(frozen=True)
class ProcInfo:
    """The few fields of /proc/PID/stat this module needs."""

    pid: int
    ppid: int
    pgrp: int
    state: str
    cpu_ticks: int = 0
    """utime + stime + cutime + cstime: its threads and its reaped children."""


@dataclass(frozen=True)
class StopReport:
    """How a server stop went."""

    returncode: int | None
    killed: bool
    seconds: float
    leftover_pids: list[int] = field(default_factory=list)


class ServerProcess:
    """A server started by the harness."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path, log_path: Path):
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("wb")
        self.popen = subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.popen.pid

    def alive(self) -> bool:
        """True while the main process has not exited."""
        return self.popen.poll() is None

    def tree_pids(self) -> list[int]:
        """The main process and all its descendants."""
        return descendants(self.pid, all_processes())

    def cpu_seconds(self) -> float:
        """User + system CPU time of the whole tree so far (children it reaped included)."""
        return tree_cpu_ticks(self.pid, all_processes()) / CLOCK_TICKS

    def rss_kib(self) -> int:
        """VmRSS summed over the process tree, in KiB."""
        return sum(_vm_rss_kib(pid) for pid in self.tree_pids())

    def log_tail(self, lines: int = 1) -> str:
        """The last non-empty lines of the server's output."""
        self._log.flush()
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        kept = [line.strip() for line in text.splitlines() if line.strip()]
        return " | ".join(kept[-lines:])

    def stop(self, timeout: float = 10.0) -> StopReport:
        """SIGTERM, wait up to ``timeout`` s, SIGKILL the group; report leftovers."""
        started = time.monotonic()
        tree = self.tree_pids()
        killed = False
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                killed = True
                _kill_group(self.pid)
                self.popen.wait(5)
        leftovers = self._leftovers(tree, wait=2.0)
        if leftovers:
            killed = True
            _kill_group(self.pid)
            for pid in leftovers:
                _kill(pid)
        self._log.close()
        return StopReport(
            returncode=self.popen.returncode,
            killed=killed,
            seconds=time.monotonic() - started,
            leftover_pids=leftovers,
        )

    def _leftovers(self, tree: list[int], wait: float) -> list[int]:
        """Live (non-zombie) processes of the old tree or the group, after ``wait`` s."""
        deadline = time.monotonic() + wait
        while True:
            procs = all_processes()
            left = sorted(
                info.pid
                for info in procs.values()
                if info.state != "Z" and (info.pid in tree or info.pgrp == self.pid)
            )
            if not left or time.monotonic() >= deadline:
                return left
            time.sleep(0.1)


def all_processes() -> dict[int, ProcInfo]:
    """Every process visible in /proc."""
    procs: dict[int, ProcInfo] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        info = _read_stat(int(name))
        if info is not None:
            procs[info.pid] = info
    return procs


def descendants(root: int, procs: dict[int, ProcInfo]) -> list[int]:
    """``root`` and every process below it in ``procs``."""
    if root not in procs:
        return []
    children: dict[int, list[int]] = {}
    for info in procs.values():
        children.setdefault(info.ppid, []).append(info.pid)
    found = [root]
    index = 0
    while index < len(found):
        found.extend(children.get(found[index], []))
        index += 1
    return found


def tree_cpu_ticks(root: int, procs: dict[int, ProcInfo]) -> int:
    """CPU clock ticks used by ``root`` and its descendants (and the children they reaped)."""
    return sum(procs[pid].cpu_ticks for pid in descendants(root, procs))


def parse_stat(pid: int, raw: str) -> ProcInfo:
    """The fields this module needs from the text of ``/proc/PID/stat``."""
    # The command name (field 2) is in parentheses and may itself contain spaces and
    # parentheses, so the fields are counted from the last ")": fields[0] is field 3 (state).
    fields = raw[raw.rindex(")") + 2 :].split()
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])  # fields 14-17
    return ProcInfo(
        pid=pid,
        state=fields[0],
        ppid=int(fields[1]),
        pgrp=int(fields[2]),
        cpu_ticks=utime + stime + cutime + cstime,
    )


def _read_stat(pid: int) -> ProcInfo | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return parse_stat(pid, raw)


def _vm_rss_kib(pid: int) -> int:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)
