"""The pollers on their own: one-shot delivery, re-arming, wake-up."""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Iterator

import pytest

from wsgiserver.server.poller import EpollPoller, Poller, SelectorPoller

KINDS = [SelectorPoller] + ([EpollPoller] if hasattr(select, "epoll") else [])


@pytest.fixture(params=KINDS, ids=lambda kind: kind.__name__)
def poller(request: pytest.FixtureRequest) -> Iterator[Poller]:
    made: Poller = request.param()
    yield made
    made.close()


def test_a_new_fd_is_reported_once_until_armed_again(poller: Poller) -> None:
    left, right = socket.socketpair()
    with left, right:
        poller.arm(left.fileno())
        right.send(b"x")
        assert poller.wait(5.0) == left.fileno()
        # One-shot: still readable, but not reported again until re-armed.
        assert poller.wait(0.05) is None
        poller.arm(left.fileno())
        assert poller.wait(5.0) == left.fileno()


def test_arming_an_fd_twice_before_it_is_ready_reports_it_once(poller: Poller) -> None:
    left, right = socket.socketpair()
    with left, right:
        poller.arm(left.fileno())
        poller.arm(left.fileno())
        right.send(b"x")
        assert poller.wait(5.0) == left.fileno()
        assert poller.wait(0.05) is None


def test_rearming_an_fd_the_poller_never_saw_registers_it(poller: Poller) -> None:
    left, right = socket.socketpair()
    with left, right:
        poller.arm(left.fileno())  # MOD fails with ENOENT: it falls back to registering
        right.send(b"x")
        assert poller.wait(5.0) == left.fileno()


def test_threads_asking_at_once_whether_work_is_pending_never_fail(poller: Poller) -> None:
    # The housekeeper and the worker threads all ask; a poll object polled by two threads at
    # once raises RuntimeError, which killed a worker thread (and with it a test's server).
    failures: list[BaseException] = []

    def ask() -> None:
        try:
            for _ in range(100_000):
                poller.has_pending()
        except BaseException as exc:  # the failure this test is about, whatever its type
            failures.append(exc)

    askers = [threading.Thread(target=ask) for _ in range(2)]
    for asker in askers:
        asker.start()
    for asker in askers:
        asker.join()
    assert failures == []


def test_wake_ends_every_wait(poller: Poller) -> None:
    poller.wake()
    assert poller.wait(5.0) is None
    assert poller.wait(5.0) is None


def _waiter(poller: Poller, results: list[int | None]) -> threading.Thread:
    thread = threading.Thread(target=lambda: results.append(poller.wait(60.0)), daemon=True)
    thread.start()
    return thread


def test_notify_fetches_one_waiter_per_call(poller: Poller) -> None:
    """Work that is no fd (a task): each notify() ends one wait, with None. The waiters
    would otherwise sit out their 60 s: joining within 10 s counts them out."""
    results: list[int | None] = []
    waiters = [_waiter(poller, results) for _ in range(2)]
    poller.notify()
    poller.notify()
    for waiter in waiters:
        waiter.join(10.0)
    assert results == [None, None]


def test_a_notify_with_no_waiter_reaches_the_next_one(poller: Poller) -> None:
    poller.notify()
    results: list[int | None] = []
    _waiter(poller, results).join(10.0)
    assert results == [None]
    left, right = socket.socketpair()
    with left, right:  # and sockets are still reported as before
        poller.arm(left.fileno())
        right.send(b"x")
        assert poller.wait(5.0) == left.fileno()
