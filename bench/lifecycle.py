"""Owns the ``lifecycle`` scenario: reloads, a killed worker and a stop, under load.

The server runs two worker processes.  Three phases follow one another, each with
its own run of the load helper below (16 keep-alive connections and 4 that send
``Connection: close`` on every request, so that new connections keep arriving):

reload
    4 s of load with a HUP (zero-downtime reload) after 1 s and after 2.5 s.
kill
    3 s of load with a SIGKILL of one worker after 1 s.
stop
    3 s of load with a SIGTERM after 1 s; the load goes on against the
    stopping server, then finds the port closed.

wrk cannot be used here: a refused connect shows in its report as a read or
write error, like a request lost after it was sent.  The helper counts each
request exactly: *answered* (a complete 200 response), *lost* (its bytes were
sent and no complete response came: EOF, reset, or nothing within 10 s),
*refused* (no connection, or reset before a byte was sent: nothing lost),
*reconnects* (a keep-alive connection found closed by the server before it was
reused: a client opens another, nothing lost).  Requests in flight in the
killed worker die with it whatever the server does; that count shows them.

Time to respawn (kill phase): from the SIGKILL to a new child of the server's
main process (*forked*, seen in /proc) and to the first answer from that child
(*serving*: the harness asks ``/pid`` on fresh connections in a loop).

Run as ``python -m bench.lifecycle HOST PORT SECONDS`` the module is the load
helper: it prints its counts as one JSON line when done.
"""

from __future__ import annotations

import errno
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from bench.process import ServerProcess, all_processes
from bench.results import LifecycleNumbers, PhaseNumbers

KEEPALIVE_CONNECTIONS = 16
CLOSE_CONNECTIONS = 4
RESPONSE_TIMEOUT = 10.0
"""Seconds a sent request may wait for its response before it counts as lost."""
RETRY_PAUSE = 0.01
"""After a refused connect a client waits this long: no spinning on a closed port."""
RESPAWN_DEADLINE = 10.0
"""Seconds the harness waits for a replacement worker before giving up."""
STOP_DEADLINE = 40.0
"""Seconds a stopping server may take (gunicorn's default graceful timeout is 30 s)."""

Event = tuple[float, Callable[[], None]]
"""(seconds into the phase, action)."""


# -- the harness side ----------------------------------------------------------------------


def measure(
    proc: ServerProcess, python: str, host: str, port: int, cpu: int, cwd: str
) -> LifecycleNumbers:
    """Run the three phases against the server ``proc`` on ``host:port``."""
    numbers = LifecycleNumbers()

    def phase(seconds: float, events: list[Event]) -> PhaseNumbers:
        return _phase(python, cpu, cwd, host, port, seconds, events)

    def hup() -> None:
        os.kill(proc.pid, signal.SIGHUP)

    numbers.reload = phase(4.0, [(1.0, hup), (2.5, hup)])

    def kill() -> None:
        numbers.respawn_forked_ms, numbers.respawn_serving_ms = _respawn(proc.pid, host, port)

    numbers.kill = phase(3.0, [(1.0, kill)])

    sent: list[float] = []
    waiters: list[threading.Thread] = []

    def wait_for_exit() -> None:
        try:
            numbers.stop_returncode = proc.popen.wait(STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            return  # reported as not stopped
        numbers.stop_seconds = time.monotonic() - sent[0]

    def term() -> None:
        sent.append(time.monotonic())
        os.kill(proc.pid, signal.SIGTERM)
        waiter = threading.Thread(target=wait_for_exit)  # timed while the load goes on
        waiter.start()
        waiters.append(waiter)

    numbers.stop = phase(3.0, [(1.0, term)])
    for waiter in waiters:
        waiter.join()
    return numbers


def _phase(
    python: str,
    cpu: int,
    cwd: str,
    host: str,
    port: int,
    seconds: float,
    events: list[Event],
) -> PhaseNumbers:
    """The load helper for ``seconds``, with ``events`` at their times; its counts."""
    command = [
        "taskset",
        "-c",
        str(cpu),
        python,
        "-m",
        "bench.lifecycle",
        host,
        str(port),
        str(seconds),
    ]
    started = time.monotonic()
    helper = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, text=True)
    try:
        for at, action in events:
            time.sleep(max(0.0, started + at - time.monotonic()))
            action()
        out, _ = helper.communicate(timeout=seconds + RESPONSE_TIMEOUT + 30)
    finally:
        if helper.poll() is None:
            helper.kill()
            helper.wait()
    if helper.returncode != 0 or not out.strip():
        raise RuntimeError(f"the lifecycle load helper failed ({helper.returncode})")
    counts = json.loads(out.strip().splitlines()[-1])
    return PhaseNumbers(**{name: int(counts[name]) for name in asdict(PhaseNumbers())})


def _respawn(main: int, host: str, port: int) -> tuple[float | None, float | None]:
    """SIGKILL one worker of ``main``; ms until a new child exists, and until it answers."""
    before = _children(main)
    if not before:
        return None, None
    forked: list[float] = []

    def watch() -> None:  # scans /proc in a loop of its own: a probe takes longer
        while time.monotonic() < started + RESPAWN_DEADLINE:
            if set(_children(main)) - set(before):
                forked.append((time.monotonic() - started) * 1000)
                return

    watcher = threading.Thread(target=watch)
    started = time.monotonic()
    os.kill(before[0], signal.SIGKILL)
    watcher.start()
    serving: float | None = None
    while serving is None and time.monotonic() < started + RESPAWN_DEADLINE:
        pid = _answering_pid(host, port)
        if pid is not None and pid not in before:
            serving = (time.monotonic() - started) * 1000
    watcher.join()
    return (forked[0] if forked else None), serving


def _children(pid: int) -> list[int]:
    """Live direct children of ``pid`` (a server's workers)."""
    return sorted(
        info.pid for info in all_processes().values() if info.ppid == pid and info.state != "Z"
    )


def _answering_pid(host: str, port: int) -> int | None:
    """The pid that answers ``GET /pid`` on a fresh connection (None on any failure)."""
    request = f"GET /pid HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    try:
        with socket.create_connection((host, port), timeout=1.0) as sock:
            sock.sendall(request)
            reply = b""
            while chunk := sock.recv(4096):
                reply += chunk
    except OSError:
        return None
    body = reply.partition(b"\r\n\r\n")[2]
    return int(body) if body.isdigit() else None


# -- the load helper -----------------------------------------------------------------------


@dataclass
class _Client:
    """One client connection slot and the request it has under way."""

    keep_alive: bool
    sock: socket.socket | None = None
    connecting: bool = False
    pending: bytes = b""  # request bytes not yet sent
    sent: bool = False  # some byte of the current request went out
    since: float = 0.0  # when the current request was first sent
    reply: bytearray = field(default_factory=bytearray)
    next_try: float = 0.0  # waiting to (re)connect until then (0.0: not waiting)


class _Load:
    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)
        self.counts = dict.fromkeys(asdict(PhaseNumbers()), 0)
        self.selector = selectors.DefaultSelector()
        self.keep_alive_request = f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        self.close_request = f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()

    def run(self, seconds: float) -> dict[str, int]:
        clients = [_Client(True) for _ in range(KEEPALIVE_CONNECTIONS)]
        clients += [_Client(False) for _ in range(CLOSE_CONNECTIONS)]
        end = time.monotonic() + seconds
        for client in clients:
            self._next_request(client)
        while True:
            now = time.monotonic()
            busy = [c for c in clients if c.sent or c.connecting or c.pending]
            if now >= end and not busy:
                break
            for key, events in self.selector.select(timeout=0.02):
                self._step(key.data, events)
            now = time.monotonic()
            for client in clients:
                if client.sent and now - client.since > RESPONSE_TIMEOUT:
                    self._end(client, "lost")
                elif now < end and client.next_try and now >= client.next_try:
                    client.next_try = 0.0
                    self._next_request(client)
                elif now >= end + RESPONSE_TIMEOUT and (client.connecting or client.pending):
                    self._end(client, "refused")  # never got to send
        for client in clients:
            self._drop(client)
        return self.counts

    def _next_request(self, client: _Client) -> None:
        client.pending = self.keep_alive_request if client.keep_alive else self.close_request
        client.reply.clear()
        sock = client.sock
        if sock is not None and _closed_by_peer(sock):
            self.counts["reconnects"] += 1
            self._drop(client)
            sock = None
        if sock is None:
            self._connect(client)
        else:
            self.selector.modify(sock, selectors.EVENT_WRITE, client)

    def _connect(self, client: _Client) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        code = sock.connect_ex(self.address)
        if code not in (0, errno.EINPROGRESS):
            sock.close()
            self._end(client, "refused")
            return
        client.sock, client.connecting = sock, True
        self.selector.register(sock, selectors.EVENT_WRITE, client)

    def _step(self, client: _Client, events: int) -> None:
        sock = client.sock
        if sock is None:
            return
        if client.connecting:
            client.connecting = False
            if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                self._end(client, "refused")
                return
        if events & selectors.EVENT_WRITE:
            self._send(client, sock)
            return
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not client.sent:  # idle between two requests: closed by the server, or junk
            self.counts["reconnects"] += 1
            self._drop(client)
            return
        if not data:
            self._end(client, "lost")
            return
        client.reply += data
        self._parse(client)

    def _send(self, client: _Client, sock: socket.socket) -> None:
        try:
            sent = sock.send(client.pending)
        except BlockingIOError:
            return
        except OSError:
            self._end(client, "lost" if client.sent else "refused")
            return
        if not client.sent:
            client.sent, client.since = True, time.monotonic()
        client.pending = client.pending[sent:]
        if not client.pending:
            self.selector.modify(sock, selectors.EVENT_READ, client)

    def _parse(self, client: _Client) -> None:
        head_end = client.reply.find(b"\r\n\r\n")
        if head_end < 0:
            return
        head = bytes(client.reply[:head_end]).lower()
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip() == b"content-length":
                length = int(value.strip())
        if len(client.reply) < head_end + 4 + length:
            return
        closes = b"connection: close" in head or not client.keep_alive
        outcome = "answered" if head.startswith(b"http/1.1 200 ") else "wrong"
        self._end(client, outcome, keep=not closes)

    def _end(self, client: _Client, outcome: str, *, keep: bool = False) -> None:
        """The current request is over: count it; reconnect (or reuse) for the next."""
        self.counts[outcome] += 1
        client.sent, client.pending, client.connecting = False, b"", False
        if not keep:
            self._drop(client)
        client.next_try = time.monotonic() + (RETRY_PAUSE if outcome == "refused" else 0.0)

    def _drop(self, client: _Client) -> None:
        if client.sock is not None:
            self.selector.unregister(client.sock)
            client.sock.close()
            client.sock = None


def _closed_by_peer(sock: socket.socket) -> bool:
    """Before reusing a keep-alive connection: has the server closed it already?"""
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def main(argv: list[str]) -> None:
    """Load helper entry point; see the module docstring."""
    host, port, seconds = argv[0], int(argv[1]), float(argv[2])
    print(json.dumps(_Load(host, port).run(seconds)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
