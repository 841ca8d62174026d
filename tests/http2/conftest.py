"""Fixtures of the HTTP/2 tests: certificates, and nothing left behind by any test here.

Every test runs under `no_leaks` (the fault tests' fixture): file descriptors and threads
are back to their baseline once its server has stopped and its clients are closed, so a
stream or connection that holds a thread, a socket or a spool file shows up as a failure.
"""

from __future__ import annotations

import pytest

from tests.faults.conftest import no_leaks
from tests.tls.helpers import Certs, session_certs

__all__ = ["no_leaks"]

pytest.importorskip("h2", reason="the http2 extra is part of the test extra")


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return session_certs(tmp_path_factory)
