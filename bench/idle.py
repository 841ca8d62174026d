"""Owns the idle-connection helper of the ``idle`` scenario.

Run as ``python -m bench.idle HOST PORT COUNT`` (pinned to the client CPU by
the harness).  It raises RLIMIT_NOFILE as needed, opens COUNT connections
with a selector, sends one keep-alive ``GET /`` on each and reads the
response, so every connection is an idle keep-alive connection afterwards.
It then prints ``OPEN <ok> <failed>`` and, for every ``check`` line read on
stdin, prints ``STILL <n>``: how many the server has not closed.  EOF on
stdin closes everything.  :class:`IdleConnections` drives it from the harness.
"""

from __future__ import annotations

import errno
import resource
import selectors
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import IO

BATCH = 128
"""Connections in flight at once while opening (kept below small backlogs)."""
OPEN_DEADLINE = 60.0
STALL_SECONDS = 5.0
"""Give up on the rest when no connection completes for this long (e.g. a
server that caps its connection count)."""


def raise_nofile_limit(needed: int) -> int:
    """Raise the soft (and, as root, hard) fd limit to at least ``needed``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return soft
    if hard != resource.RLIM_INFINITY and hard < needed:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, needed))
            return needed
        except (ValueError, OSError):
            needed = hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return needed


@dataclass
class _Conn:
    sock: socket.socket
    request: bytes
    received: bytearray = field(default_factory=bytearray)
    expected: int | None = None


def _request(host: str) -> bytes:
    return f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: keep-alive\r\n\r\n".encode()


def _response_complete(conn: _Conn) -> bool:
    if conn.expected is None:
        end = conn.received.find(b"\r\n\r\n")
        if end < 0:
            return False
        length = 0
        for line in bytes(conn.received[:end]).split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        conn.expected = end + 4 + length
    return len(conn.received) >= conn.expected


def open_idle(host: str, port: int, count: int) -> tuple[list[socket.socket], int]:
    """Open ``count`` keep-alive connections that each served one request."""
    sel = selectors.DefaultSelector()
    done: list[socket.socket] = []
    failed = 0
    started = 0
    pending = 0
    deadline = time.monotonic() + OPEN_DEADLINE
    progress = time.monotonic()
    request = _request(host)
    while (started < count or pending) and time.monotonic() < deadline:
        if time.monotonic() - progress > STALL_SECONDS:
            break
        while started < count and pending < BATCH:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            code = sock.connect_ex((host, port))
            if code not in (0, errno.EINPROGRESS):
                sock.close()
                failed += 1
            else:
                sel.register(sock, selectors.EVENT_WRITE, _Conn(sock, request))
                pending += 1
            started += 1
        for key, events in sel.select(timeout=1.0):
            conn: _Conn = key.data
            finished = _step(sel, conn, events)
            if finished is None:
                continue
            pending -= 1
            progress = time.monotonic()
            sel.unregister(conn.sock)
            if finished:
                done.append(conn.sock)
            else:
                conn.sock.close()
                failed += 1
    for key in list(sel.get_map().values()):
        key.fileobj.close()  # type: ignore[union-attr]
        failed += 1
    sel.close()
    return done, failed + (count - started)


def _step(sel: selectors.BaseSelector, conn: _Conn, events: int) -> bool | None:
    """Advance one connection: None while in progress, True/False when done."""
    try:
        if events & selectors.EVENT_WRITE:
            sent = conn.sock.send(conn.request)
            conn.request = conn.request[sent:]
            if not conn.request:
                sel.modify(conn.sock, selectors.EVENT_READ, conn)
            return None
        data = conn.sock.recv(65536)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError:
        return False
    if not data:
        return False
    conn.received += data
    return True if _response_complete(conn) else None


def still_open(socks: list[socket.socket]) -> int:
    """How many of ``socks`` the peer has not closed (no EOF or reset pending)."""
    sel = selectors.DefaultSelector()
    for sock in socks:
        sel.register(sock, selectors.EVENT_READ)
    closed = 0
    for key, _ in sel.select(timeout=0):
        peer = key.fileobj
        if not isinstance(peer, socket.socket):
            continue
        try:
            if peer.recv(1, socket.MSG_PEEK) == b"":
                closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
    sel.close()
    return len(socks) - closed


def main(argv: list[str]) -> None:
    """Helper process entry point; see the module docstring for the protocol."""
    host, port, count = argv[0], int(argv[1]), int(argv[2])
    raise_nofile_limit(count + 256)
    socks, failed = open_idle(host, port, count)
    print(f"OPEN {len(socks)} {failed}", flush=True)
    for line in sys.stdin:
        if line.strip() == "check":
            print(f"STILL {still_open(socks)}", flush=True)
    for sock in socks:
        sock.close()


class IdleConnections:
    """Harness side: starts the helper pinned to a CPU and talks to it."""

    def __init__(self, python: str, cpu: int, host: str, port: int, count: int):
        self.command = [
            "taskset",
            "-c",
            str(cpu),
            python,
            "-m",
            "bench.idle",
            host,
            str(port),
            str(count),
        ]
        self._proc: subprocess.Popen[str] | None = None
        self.opened = 0
        self.failed = 0

    def open(self, cwd: str) -> None:
        """Start the helper and wait until all connections are open."""
        self._proc = subprocess.Popen(
            self.command, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        words = self._reply().split()
        if len(words) != 3 or words[0] != "OPEN":
            raise RuntimeError(f"idle helper failed: {' '.join(words) or 'no output'}")
        self.opened, self.failed = int(words[1]), int(words[2])

    def still_open(self) -> int:
        """How many idle connections the server still holds open."""
        stdin = self._pipe().stdin
        if stdin is None:
            raise RuntimeError("idle helper has no stdin")
        stdin.write("check\n")
        stdin.flush()
        words = self._reply().split()
        return int(words[1]) if len(words) == 2 and words[0] == "STILL" else -1

    def close(self) -> None:
        """Close every connection and wait for the helper to exit."""
        if self._proc is None:
            return
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._proc = None

    def _pipe(self) -> subprocess.Popen[str]:
        if self._proc is None:
            raise RuntimeError("idle helper is not running")
        return self._proc

    def _reply(self) -> str:
        stdout: IO[str] | None = self._pipe().stdout
        if stdout is None:
            raise RuntimeError("idle helper has no stdout")
        return stdout.readline()


if __name__ == "__main__":
    main(sys.argv[1:])
