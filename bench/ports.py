"""Owns port selection and the readiness check for a freshly started server.

External servers take a port on their command line, so binding port 0 and
reading the port back is not possible for all of them.  Instead a port is
chosen by binding a socket to port 0, closing it, and handing the number to
the server.  Another process could take the port in between; that race is
acceptable here because the benchmark runs on a quiet loopback interface,
the window is a few milliseconds, and losing it is detected (the server
exits with EADDRINUSE, or the listener on the port is not one of the
server's sockets) and answered by starting again on a new port.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterable
from pathlib import Path


def pick_port(host: str) -> int:
    """A port that was free a moment ago on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def can_connect(host: str, port: int) -> bool:
    """True when a TCP connection to ``host:port`` is accepted."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until_listening(
    host: str,
    port: int,
    deadline: float,
    alive: Callable[[], bool],
    pids: Callable[[], list[int]],
) -> str | None:
    """Poll until the server accepts connections; return None or why not.

    ``deadline`` is a ``time.monotonic()`` value.  The listener must belong
    to one of ``pids()`` so that a foreign process on the port is not
    mistaken for our server.
    """
    while time.monotonic() < deadline:
        if not alive():
            return "exited during startup"
        if can_connect(host, port):
            if listener_owned_by(port, pids()):
                return None
            if not alive():
                return "exited during startup"
            return f"port {port} is held by another process"
        time.sleep(0.05)
    return "did not accept connections before the startup deadline"


def listener_owned_by(port: int, pids: Iterable[int]) -> bool:
    """True when a LISTEN socket on ``port`` is an open fd of one of ``pids``."""
    listeners = _listening_inodes(port)
    if not listeners:
        return False
    return bool(listeners & _socket_inodes(pids))


def _listening_inodes(port: int) -> set[int]:
    inodes: set[int] = set()
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        try:
            lines = table.read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(int(inode))
    return inodes


def _socket_inodes(pids: Iterable[int]) -> set[int]:
    inodes: set[int] = set()
    for pid in pids:
        fd_dir = f"/proc/{pid}/fd"
        try:
            names = os.listdir(fd_dir)
        except OSError:
            continue
        for name in names:
            try:
                target = os.readlink(f"{fd_dir}/{name}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    return inodes
