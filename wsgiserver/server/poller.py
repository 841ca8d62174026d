"""Readiness polling shared by all worker threads, with one-shot semantics.

Owns: watching parked sockets and listeners for readability, handing each ready socket to
exactly one waiting thread, and `notify()`: fetching one waiting thread for work that is not a
socket (a task of the thread pool). Must not: read, write or close client sockets.

On Linux every worker thread waits in `epoll_wait` on one epoll set whose sockets are armed
with EPOLLONESHOT: the kernel gives each ready socket to one thread, which serves it at once,
so a request costs no hand-off between threads. Elsewhere a portable selector is used with a
leader/follower protocol: one thread selects at a time and shares out what it found.
"""

from __future__ import annotations

import contextlib
import errno
import select
import selectors
import socket
import threading
from collections import deque
from typing import Protocol


class Poller(Protocol):
    def arm(self, fd: int) -> None:
        """Report `fd` once, to one waiter, when it becomes readable."""

    def forget(self, fd: int) -> None:
        """Stop watching `fd` (call before closing it)."""

    def wait(self, timeout: float) -> int | None:
        """Block until one armed fd is ready and return it; None on timeout or wake."""

    def has_pending(self) -> bool:
        """True if some armed fd is ready and no waiter has taken it yet."""

    def notify(self) -> None:
        """One current or next `wait` returns None promptly (one per call): work arrived
        that is no fd (a task)."""

    def wake(self) -> None:
        """Make every current and future `wait` return None promptly (shutdown)."""

    def close(self) -> None: ...


class EpollPoller:
    """Linux: one epoll set, waited on by every worker thread concurrently."""

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        # Level-triggered and never read: once woken, every waiter sees it.
        self._epoll.register(self._wake_r.fileno(), select.EPOLLIN)
        self._wake_fd = self._wake_r.fileno()
        self._mask = select.EPOLLIN | select.EPOLLONESHOT | select.EPOLLRDHUP
        # `notify`: one byte per call, one-shot. The waiter it reaches reads one byte and
        # re-arms it, so each byte fetches one waiter; bytes left fetch the next ones.
        self._nudge_r, self._nudge_w = socket.socketpair()
        self._nudge_r.setblocking(False)
        self._nudge_w.setblocking(False)
        self._nudge_fd = self._nudge_r.fileno()
        self._epoll.register(self._nudge_fd, select.EPOLLIN | select.EPOLLONESHOT)
        # An epoll fd is itself readable while it holds undelivered events. One poll object
        # must not be polled by two threads at once (RuntimeError, which killed the
        # worker thread that met it): the lock.
        self._probe = select.poll()
        self._probe.register(self._epoll.fileno(), select.POLLIN)
        self._probe_lock = threading.Lock()

    def arm(self, fd: int) -> None:
        # The server arms outside its lock, so shutdown (or an expiry) may close the socket,
        # or the poller, just before: EBADF and a closed epoll are not errors then. Raising
        # here used to kill the worker thread that had just parked the connection.
        try:
            # MOD first: a parked connection was armed before, and a new one is served by
            # the thread that accepted it, so only its first park takes the ENOENT path.
            try:
                self._epoll.modify(fd, self._mask)
            except FileNotFoundError:
                try:
                    self._epoll.register(fd, self._mask)
                except FileExistsError:
                    # An HTTP/2 connection parked by one thread may be served again
                    # (`Server.serve_again`) and parked by another before the first one's
                    # arm: both find it unregistered, the second registration is a MOD.
                    self._epoll.modify(fd, self._mask)
        except ValueError:
            pass  # the poller is closed
        except OSError as exc:
            if exc.errno != errno.EBADF:
                raise

    def forget(self, fd: int) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._epoll.unregister(fd)

    def wait(self, timeout: float) -> int | None:
        try:
            events = self._epoll.poll(timeout, 1)
        except InterruptedError:
            return None
        except (OSError, ValueError):
            return None  # closed during shutdown
        if not events:
            return None
        fd = events[0][0]
        if fd == self._nudge_fd:
            with contextlib.suppress(OSError, ValueError):
                self._nudge_r.recv(1)
                self._epoll.modify(self._nudge_fd, select.EPOLLIN | select.EPOLLONESHOT)
            return None
        return None if fd == self._wake_fd else fd

    def has_pending(self) -> bool:
        try:
            with self._probe_lock:
                return bool(self._probe.poll(0))
        except (OSError, ValueError):
            return False

    def notify(self) -> None:
        with contextlib.suppress(OSError):  # full: enough waiters are being fetched already
            self._nudge_w.send(b"x")

    def wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def close(self) -> None:
        self._epoll.close()
        for sock in (self._wake_r, self._wake_w, self._nudge_r, self._nudge_w):
            sock.close()


class SelectorPoller:
    """Portable: one leader thread selects; ready fds are shared out one per waiter."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._cond = threading.Condition()
        self._ready: deque[int] = deque()
        self._pending: list[tuple[int, bool]] = []  # (fd, arm?) applied by the leader
        self._leading = False
        self._woken = False
        self._nudges = 0  # `notify` calls not yet answered by a wait returning None

    def arm(self, fd: int) -> None:
        with self._cond:
            self._pending.append((fd, True))
        self._interrupt()

    def forget(self, fd: int) -> None:
        with self._cond:
            self._pending.append((fd, False))
        self._interrupt()

    def _interrupt(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def wait(self, timeout: float) -> int | None:
        with self._cond:
            while not self._ready:
                if self._woken:
                    return None
                if self._nudges:
                    self._nudges -= 1
                    return None
                if not self._leading:
                    self._leading = True
                    break
                if not self._cond.wait(timeout):
                    return None
            else:
                return self._ready.popleft()
            pending, self._pending = self._pending, []
        found: list[int] = []
        try:
            for fd, arm in pending:
                with contextlib.suppress(KeyError, ValueError, OSError):
                    if arm:
                        self._selector.register(fd, selectors.EVENT_READ)
                    else:
                        self._selector.unregister(fd)
            for key, _ in self._selector.select(timeout):
                if key.fileobj is self._wake_r:
                    with contextlib.suppress(OSError):
                        self._wake_r.recv(4096)
                    continue
                self._selector.unregister(key.fileobj)  # one-shot, like EPOLLONESHOT
                found.append(key.fd)
        finally:
            with self._cond:
                self._leading = False
                self._ready.extend(found)
                self._cond.notify(len(found) + 1)
        with self._cond:
            if self._ready:
                return self._ready.popleft()
            # A notify most likely interrupted the select: it is answered now.
            self._nudges = max(self._nudges - 1, 0)
            return None

    def has_pending(self) -> bool:
        with self._cond:
            return bool(self._ready) or self._leading

    def notify(self) -> None:
        # Counted: a waiter behind the selecting thread takes one, and the selecting thread,
        # interrupted, takes one if it finds nothing ready.
        with self._cond:
            self._nudges += 1
            self._cond.notify()
        self._interrupt()

    def wake(self) -> None:
        with self._cond:
            self._woken = True
            self._cond.notify_all()
        self._interrupt()

    def close(self) -> None:
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()


def make_poller() -> Poller:
    if hasattr(select, "epoll"):
        return EpollPoller()
    return SelectorPoller()
