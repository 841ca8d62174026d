"""systemd integration: socket activation and `sd_notify`, with the standard library only.

Owns: reading `LISTEN_FDS`/`LISTEN_PID`/`LISTEN_FDNAMES` (sockets systemd bound for us, from
fd 3 on) and sending state lines (`READY=1`, `RELOADING=1`, `STOPPING=1`) as datagrams to
`NOTIFY_SOCKET` (a path, or `@name` in the abstract namespace). Both are no-ops when the
variables are absent, so callers need no `if systemd:` branches. Must not: bind or serve.
"""

from __future__ import annotations

import logging
import os
import socket
import time

from wsgiserver.errors import BindError

log = logging.getLogger("wsgiserver.error")

SD_LISTEN_FDS_START = 3


def listen_fds(*, unset_environment: bool = True) -> list[tuple[str, socket.socket]]:
    """Sockets passed by systemd socket activation, as (name, socket); [] when none.

    The variables are only honoured when `LISTEN_PID` is this process (they are meant for
    exactly one process) and are removed afterwards so child processes do not see them.
    """
    pid_text = os.environ.get("LISTEN_PID", "")
    count_text = os.environ.get("LISTEN_FDS", "")
    names_text = os.environ.get("LISTEN_FDNAMES", "")
    if unset_environment:
        for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
            os.environ.pop(name, None)
    if not pid_text.isdigit() or int(pid_text) != os.getpid() or not count_text.isdigit():
        return []
    count = int(count_text)
    names = names_text.split(":") if names_text else []
    found: list[tuple[str, socket.socket]] = []
    for index in range(count):
        fd = SD_LISTEN_FDS_START + index
        try:
            os.set_inheritable(fd, False)
            sock = socket.socket(fileno=fd)
        except OSError as exc:
            why = exc.strerror or exc
            raise BindError(f"LISTEN_FDS: fd {fd} is not a usable socket: {why}") from None
        sock.setblocking(False)
        name = names[index] if index < len(names) else "unknown"
        found.append((name, sock))
    return found


def notify(state: str) -> bool:
    """Send `state` (e.g. "READY=1") to systemd; False when not supervised or on failure."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    target = "\0" + address[1:] if address.startswith("@") else address
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(target)
            sock.sendall(state.encode())
    except OSError as exc:
        log.warning("sd_notify to %s failed: %s", address, exc)
        return False
    return True


def reloading() -> bool:
    """RELOADING=1 with the timestamp `Type=notify-reload` services must send with it."""
    usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    return notify(f"RELOADING=1\nMONOTONIC_USEC={usec}")
