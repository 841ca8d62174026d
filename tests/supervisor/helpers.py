"""Running `python -m wsgiserver` under test: a process whose stderr lines can be waited on.

Synchronisation is always on something observable: a log line, a socket, a process exit
(waitpid, or a pidfd for processes that are not our children). Never a sleep.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WAIT = 10.0  # seconds a process may take to start, reload or stop on a loaded machine
SERVING = re.compile(r"serving on http://([0-9.]+):([0-9]+)")

# The app most tests serve: answers with its version and pid; /slow blocks reading the body
# (the client decides when it ends); /crash kills the worker; /spin never returns.
APP_SOURCE = """\
import os, sys
VERSION = {version!r}
os.write(2, f"imported in {{os.getpid()}}\\n".encode())  # one atomic write per line

def spin_forever():
    while True:
        pass

def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/slow":
        os.write(2, b"app entered\\n")
        environ["wsgi.input"].read()
    elif path == "/crash":
        os._exit(7)
    elif path == "/spin":
        spin_forever()
    elif path == "/gil":  # PyDLL keeps the GIL during the call: no other thread can run
        import ctypes
        ctypes.PyDLL(None).sleep(60)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"{{VERSION}} {{os.getpid()}}".encode()]
"""


# An app whose import waits for one byte from the FIFO the test holds: each byte the test
# writes lets exactly one worker finish booting (b"x" makes its import fail instead).
SLOW_BOOT_SOURCE = """\
import os
os.write(2, f"importing in {{os.getpid()}}\\n".encode())
gate = os.open({fifo!r}, os.O_RDONLY)
byte = os.read(gate, 1)  # one byte, unbuffered: the others are for the other workers
os.close(gate)
if byte == b"x":
    raise RuntimeError("cannot reach the database")

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"booted"]
"""


def write_slow_boot_app(directory: Path) -> int:
    """Write `app.py` (SLOW_BOOT_SOURCE) and its FIFO; returns the FIFO opened for writing
    (O_RDWR: neither side's open waits for the other), for the caller to close."""
    fifo = directory / "boot-gate"
    os.mkfifo(fifo)
    write_app(directory, source=SLOW_BOOT_SOURCE.format(fifo=str(fifo)))
    return os.open(fifo, os.O_RDWR)


# The [app:main] of `write_paste_ini`: the same app, through a PasteDeploy factory.
PASTE_FACTORY = "from app import app\n\ndef make(global_conf, **local_conf):\n    return app\n"

# systemd sets LISTEN_PID to the pid of the process it execs; so does this wrapper, after
# moving the passed socket to fd 3 (SD_LISTEN_FDS_START); then it execs Python with the rest.
EXEC_WRAPPER = (
    "import os, sys\n"
    "os.dup2(int(sys.argv[1]), 3)\n"
    "os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS='1', LISTEN_FDNAMES='web')\n"
    "os.execv(sys.executable, [sys.executable, *sys.argv[2:]])\n"
)


def socket_activated(fd: int, *python_args: str) -> list[str]:
    """The argv of `python PYTHON_ARGS...` started as systemd starts it, with `fd` as fd 3."""
    return [sys.executable, "-c", EXEC_WRAPPER, str(fd), *python_args]


def write_paste_ini(directory: Path, server: str = "host = 127.0.0.1\nport = 0\n") -> str:
    """`app.ini` serving `app.py`'s app, with `server` in its wsgiserver [server:main]."""
    (directory / "paste_app.py").write_text(PASTE_FACTORY)
    (directory / "app.ini").write_text(
        "[app:main]\nuse = call:paste_app:make\n\n"
        "[server:main]\nuse = egg:strict-wsgiserver\n" + server
    )
    return "app.ini"


def write_app(directory: Path, version: str = "v1", source: str | None = None) -> None:
    """(Re)write `app.py`, moving its mtime forward so a 1 s-resolution poll sees it."""
    path = directory / "app.py"
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(source if source is not None else APP_SOURCE.format(version=version))
    after = max(path.stat().st_mtime_ns, before + 2_000_000_000)
    os.utime(path, ns=(after, after))
    for cached in (directory / "__pycache__").glob("app.*"):
        cached.unlink()


class Proc:
    """A running server process; a thread collects its stderr lines as they come."""

    def __init__(
        self,
        argv: Sequence[str],
        cwd: Path,
        env: Mapping[str, str] | None = None,
        pass_fds: Sequence[int] = (),
    ) -> None:
        environment = dict(os.environ)
        environment.pop("WEB_CONCURRENCY", None)
        environment["PYTHONPATH"] = str(ROOT)
        environment.update(env or {})
        self.proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            pass_fds=tuple(pass_fds),
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._done = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._done = True
            self._changed.notify_all()

    def wait_for(
        self, pattern: str, *, after: int = 0, count: int = 1, timeout: float = WAIT
    ) -> re.Match[str]:
        """Block until `count` stderr lines (from index `after`) match; return the last."""
        regex = re.compile(pattern)
        with self._changed:
            while True:
                found = [m for line in self.lines[after:] if (m := regex.search(line))]
                if len(found) >= count:
                    return found[count - 1]
                if self._done:
                    raise AssertionError(f"no line matching {pattern!r}: {self.lines}")
                if not self._changed.wait(timeout):
                    raise AssertionError(f"timed out waiting for {pattern!r}: {self.lines}")

    def mark(self) -> int:
        """The current number of lines, for `wait_for(after=...)`."""
        with self._changed:
            return len(self.lines)

    def address(self) -> tuple[str, int]:
        match = self.wait_for(SERVING.pattern)
        return match.group(1), int(match.group(2))

    def send(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self.proc.send_signal(signum)
        return self.wait()

    def wait(self) -> int:
        try:
            code = self.proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            raise AssertionError(self._why_still_running()) from None
        self._reader.join(WAIT)
        return code

    def _why_still_running(self) -> str:
        """The server's lines, and every worker's thread stacks: SIGABRT makes faulthandler
        (on in workers) write them to stderr. A stop that hangs once in hundreds of CI runs
        cannot be understood from a bare timeout."""
        mark = self.mark()
        workers = children(self.proc.pid)
        for worker in workers:
            with contextlib.suppress(OSError):
                os.kill(worker, signal.SIGABRT)
        with contextlib.suppress(AssertionError):
            self.wait_for("Current thread", after=mark, count=len(workers), timeout=5.0)
        with self._changed:
            lines = list(self.lines)
        return f"still running {WAIT} s later; its stderr:\n" + "\n".join(lines)

    def kill(self) -> None:
        if self.proc.poll() is None:
            # Only while it has not been reaped: after that its pid may already belong to
            # another process (pid_max can be 32768), whose children must not be killed.
            for child in children(self.proc.pid):
                _kill_quietly(child)
            self.proc.kill()
            self.proc.wait()
        self._reader.join(WAIT)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


def server_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "wsgiserver", *args]


# `python -m wsgiserver` with a probe in the supervisor's event loop: a line on stderr each
# time its select() returns and each time it forks, in order with its own log lines. So a
# test can tell what the supervisor did within one pass of its loop, without a clock. With
# PROBE_CHILD_SIGNAL=NAME in the environment each child sends itself that signal the moment
# it is forked, before the supervisor's code in the child has run; with
# PROBE_SIGNAL_AFTER_FORK=N:NAME the supervisor sends itself NAME right after its Nth fork.
PROBE = """\
import os, select, signal, sys
from wsgiserver.cli import main

supervisor_pid = os.getpid()
real_select, real_fork = select.select, os.fork
child_signal = os.environ.get("PROBE_CHILD_SIGNAL")
after, _, own_signal = os.environ.get("PROBE_SIGNAL_AFTER_FORK", "0:").partition(":")
forks = 0

def probed_select(*args):
    ready = real_select(*args)
    if os.getpid() == supervisor_pid:
        os.write(2, b"probe: select returned\\n")
    return ready

def probed_fork():
    global forks
    pid = real_fork()
    if pid:
        os.write(2, f"probe: forked {pid}\\n".encode())
        forks += 1
        if forks == int(after):
            os.kill(supervisor_pid, getattr(signal, own_signal))
    elif child_signal:
        os.kill(os.getpid(), getattr(signal, child_signal))
    return pid

select.select, os.fork = probed_select, probed_fork
raise SystemExit(main(sys.argv[1:]))
"""


def probe_argv(*args: str) -> list[str]:
    return [sys.executable, "-c", PROBE, *args]


def children(pid: int) -> list[int]:
    """Live processes whose parent is `pid`, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if fields[0] != "Z" and int(fields[1]) == pid:
            found.append(int(entry))
    return sorted(found)


def wait_gone(pid: int, timeout: float = WAIT) -> bool:
    """Wait for a process that is not our child to exit (a pidfd becomes readable)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], timeout)
        return bool(readable)
    finally:
        os.close(fd)


def _kill_quietly(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)
