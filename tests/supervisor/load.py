"""A steady load of keep-alive and fresh connections that accounts for every request.

The lifecycle tests (stop, reload, crash, recycling under traffic) assert on what this load
counts, never on durations. Each request is classified exactly:

- answered: a complete response with the right bytes (its body echoes the request's id);
- wrong: a complete response with other bytes;
- lost: its bytes were sent (or sending them failed half-way) and no complete response
  came: an EOF, a reset or a read timeout after sending;
- not sent: the connection could not be made (refused, or no handshake within the timeout);
  no byte left the client, so nothing was lost;
- reconnects: a pooled keep-alive connection was found closed by the server *before* reuse
  (EOF or reset already there when we looked): like urllib3, the client opens a new one,
  and nothing was sent on the closed one.

Pooled clients each keep a few keep-alive connections and use them in turn, so most of them
are idle at any moment: the server's idle keep-alive connections are exercised, not only
busy ones. Fresh clients open one connection per request (`Connection: close`). Every client
loop is bounded in count and time, talks to 127.0.0.1 only, and stops when told.
"""

from __future__ import annotations

import itertools
import select
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from tests.server.helpers import ConnectionEnded, RawClient

LOAD_TIMEOUT = 10.0  # seconds a connect or a response may take before it counts as failed
LIMIT = 50_000  # requests at most per Load
SECONDS = 90.0  # a Load never runs longer than this
RETRY_PAUSE = 0.005  # after a refused connect: a retry loop must not spin on a closed port
SLOW_EVERY = 5  # one request in this many asks for /work (in flight for a while)

# The app the lifecycle tests serve: echoes the request's id with the worker's pid; /work
# takes a moment, so that requests are in flight whenever a signal arrives.
LOAD_APP = """\
import os, time

def app(environ, start_response):
    if environ["PATH_INFO"] == "/work":
        time.sleep(0.02)  # a request that takes a while (not synchronisation)
    body = f"{environ['QUERY_STRING']} {os.getpid()}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
"""


@dataclass
class Tally:
    answered: int = 0
    closing: int = 0  # keep-alive requests answered with `Connection: close`
    not_sent: int = 0
    reconnects: int = 0
    lost: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    pids: set[int] = field(default_factory=set)


class Load:
    """`with Load(address) as load:` runs the clients; `load.tally` counts the outcomes."""

    def __init__(
        self,
        address: tuple[str, int],
        *,
        pooled: int = 4,
        pool_size: int = 3,
        fresh: int = 2,
    ) -> None:
        self.address = address
        self.tally = Tally()
        self._ids = itertools.count(1)
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._deadline = time.monotonic() + SECONDS
        self._holding = False
        self._held = 0
        self._owners: dict[tuple[int, int], int] = {}  # (client, slot) -> pid it last answered
        self._threads = [
            threading.Thread(target=self._pooled, args=(pool_size,), daemon=True)
            for _ in range(pooled)
        ] + [threading.Thread(target=self._fresh, daemon=True) for _ in range(fresh)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        with self._changed:
            self._holding = False
            self._changed.notify_all()
        for thread in self._threads:
            thread.join(LOAD_TIMEOUT + 5)
        assert not any(thread.is_alive() for thread in self._threads), "a client hung"

    # -- synchronisation for the tests: on counted outcomes, never on time ---------------------

    def wait_answered(self, count: int, timeout: float = LOAD_TIMEOUT) -> None:
        """Block until `count` requests in all were answered."""
        with self._changed:
            if not self._changed.wait_for(lambda: self.tally.answered >= count, timeout):
                raise AssertionError(f"only {self.tally.answered} of {count} answered: {self}")

    def more(self, count: int, timeout: float = LOAD_TIMEOUT) -> None:
        """Block until `count` more requests than now were answered."""
        with self._changed:
            target = self.tally.answered + count
        self.wait_answered(target, timeout)

    def hold(self) -> None:
        """Every client finishes the request it is on and waits (its connections idle)."""
        with self._changed:
            self._holding = True
            if not self._changed.wait_for(lambda: self._held == len(self._threads), LOAD_TIMEOUT):
                raise AssertionError("the clients did not all pause")

    def idle_connections(self) -> Counter[int]:
        """While held: how many idle pooled connections each server pid holds."""
        with self._changed:
            return Counter(self._owners.values())

    def release(self) -> None:
        with self._changed:
            self._holding = False
            self._changed.notify_all()

    def __repr__(self) -> str:
        t = self.tally
        return (
            f"Load(answered={t.answered}, closing={t.closing}, not_sent={t.not_sent}, "
            f"reconnects={t.reconnects}, lost={t.lost[:5]}, wrong={t.wrong[:5]})"
        )

    # -- the clients ---------------------------------------------------------------------------

    def _next(self) -> int | None:
        """The next request's id, after any hold; None when this client must stop."""
        with self._changed:
            if self._holding:
                self._held += 1
                self._changed.notify_all()
                self._changed.wait_for(lambda: not self._holding)
                self._held -= 1
        if self._stop.is_set() or time.monotonic() > self._deadline:
            return None
        number = next(self._ids)
        return number if number <= LIMIT else None

    def _connect(self) -> RawClient | None:
        try:
            return RawClient(self.address, timeout=LOAD_TIMEOUT)
        except OSError:  # refused, or no handshake in time: nothing was sent
            with self._changed:
                self.tally.not_sent += 1
            self._stop.wait(RETRY_PAUSE)
            return None

    def _pooled(self, pool_size: int) -> None:
        pool: list[RawClient | None] = [None] * pool_size
        me = threading.get_ident()
        try:
            for turn in itertools.count():
                number = self._next()
                if number is None:
                    return
                slot = turn % pool_size
                client = pool[slot]
                if client is not None and _closed_by_peer(client.sock):
                    client.close()
                    client = pool[slot] = None
                    with self._changed:
                        self.tally.reconnects += 1
                        self._owners.pop((me, slot), None)
                if client is None:
                    client = pool[slot] = self._connect()
                    if client is None:
                        continue
                pid = self._exchange(client, number, keep_alive=True)
                with self._changed:
                    if pid is None:
                        self._owners.pop((me, slot), None)
                    else:
                        self._owners[me, slot] = pid
                if pid is None:
                    client.close()
                    pool[slot] = None
        finally:
            for client in pool:
                if client is not None:
                    client.close()

    def _fresh(self) -> None:
        while True:
            number = self._next()
            if number is None:
                return
            client = self._connect()
            if client is not None:
                with client:
                    self._exchange(client, number, keep_alive=False)

    def _exchange(self, client: RawClient, number: int, *, keep_alive: bool) -> int | None:
        """One request; the answering pid if the connection may carry the next one."""
        path = "/work" if number % SLOW_EVERY == 0 else "/"
        close = "" if keep_alive else "Connection: close\r\n"
        request = f"GET {path}?{number} HTTP/1.1\r\nHost: load.test\r\n{close}\r\n".encode()
        what = f"request {number} ({'pooled' if keep_alive else 'fresh'})"
        try:
            client.send(request)
            response = client.read_response()
        except (ConnectionEnded, OSError) as exc:  # OSError: a reset, or a read timeout
            with self._changed:
                self.tally.lost.append(f"{what}: {exc!r}")
            return None
        except AssertionError as exc:  # a malformed response
            with self._changed:
                self.tally.wrong.append(f"{what}: {exc}")
            return None
        echoed, _, pid = response.body.decode("latin-1").partition(" ")
        with self._changed:
            if response.status != 200 or echoed != str(number) or not pid.isdigit():
                self.tally.wrong.append(f"{what}: {response.status} {response.body!r}")
                return None
            self.tally.answered += 1
            self.tally.pids.add(int(pid))
            if keep_alive and response.closes:
                self.tally.closing += 1
            self._changed.notify_all()
        return int(pid) if keep_alive and not response.closes else None


def _closed_by_peer(sock: socket.socket) -> bool:
    """Before reusing an idle connection: has the server closed it (EOF or reset waiting)?"""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True
