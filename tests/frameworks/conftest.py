"""Fixtures of the framework tests: every test here is marked `frameworks`; headless
Chromium, and the protocols the browser tests load the sample apps over."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.frameworks.helpers import REPO
from tests.tls.helpers import Certs, session_certs


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if Path(str(item.fspath)).resolve().parent == here:
            item.add_marker(pytest.mark.frameworks)


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path is not None:
            return path
    if os.environ.get("CI"):
        pytest.fail("headless Chromium is required in CI (Debian package: chromium)")
    pytest.skip("the chromium binary is not installed (apt-get install chromium)")


@dataclass(frozen=True)
class BrowserProtocol:
    """How a browser test serves and loads the app: HTTP/1.1 in clear, or HTTP/2 over TLS
    (Chromium speaks HTTP/2 only over TLS, negotiated with ALPN)."""

    logged: str  # the protocol as the access log writes it: "HTTP/1.1" or "HTTP/2"
    options: tuple[str, ...] = ()  # for the server's command line
    chromium: tuple[str, ...] = ()  # for the browser's
    verify: str | bool = True  # for requests: the test CA's file

    def __str__(self) -> str:
        return self.logged


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return session_certs(tmp_path_factory)


@pytest.fixture(params=["HTTP/1.1", "HTTP/2"])
def browser_protocol(request: pytest.FixtureRequest) -> BrowserProtocol:
    if request.param == "HTTP/1.1":
        return BrowserProtocol("HTTP/1.1")
    certs: Certs = request.getfixturevalue("certs")
    tls = ("--http2", "--certfile", certs.cert, "--keyfile", certs.key)
    # The test CA is not in the browser's store: its certificate errors are not the point.
    return BrowserProtocol("HTTP/2", tls, ("--ignore-certificate-errors",), certs.ca)


def load_in_chromium(url: str, profile: Path, *flags: str) -> str:
    """The DOM after the page loaded, ran its scripts and followed their navigations."""
    argv = [
        chromium_binary(),
        *flags,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",
        "--dump-dom",
        url,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def run_python(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout
