"""Session fixture: certificates made with the openssl command (see helpers.py)."""

from __future__ import annotations

import pytest

from tests.tls.helpers import Certs, session_certs


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return session_certs(tmp_path_factory)
