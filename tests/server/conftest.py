"""Fixtures for the socket-level server tests (helpers live in tests/server/helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.server.helpers import RawClient, echo_app
from wsgiserver.testing import RunningServer, serving


@pytest.fixture
def echo_server() -> Iterator[RunningServer]:
    with serving(echo_app, threads=2) as running:
        yield running


@pytest.fixture
def client(echo_server: RunningServer) -> Iterator[RawClient]:
    with RawClient((echo_server.host, echo_server.port)) as raw:
        yield raw
