"""The pollers on their own: one-shot delivery, re-arming, wake-up."""

from __future__ import annotations

import select
import socket
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


def test_wake_ends_every_wait(poller: Poller) -> None:
    poller.wake()
    assert poller.wait(5.0) is None
    assert poller.wait(5.0) is None
