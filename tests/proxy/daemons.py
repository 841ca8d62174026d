"""Real nginx and HAProxy for the integration tests, started on loopback with generated configs.

Each daemon runs in the foreground as a child of the test, with its config, pid and logs in
tmp_path. Ports: a port the kernel just handed out (bound and released), with a retry when the
daemon reports it taken meanwhile. Readiness: a bounded loop of connects (the daemons have no
other readiness signal), never a fixed sleep.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

START_TIMEOUT = 10.0
ATTEMPTS = 3


def require(binary: str, package: str) -> str:
    """The binary's path; skip when missing (fail when the CI variable is set)."""
    found = shutil.which(binary) or next(
        (p for p in (f"/usr/sbin/{binary}", f"/usr/local/sbin/{binary}") if os.path.exists(p)),
        None,
    )
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{binary} is required in CI (Debian package {package})")
        pytest.skip(f"{binary} is not installed (Debian package {package})")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_accepting(port: int, process: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
            return True
        except OSError:
            time.sleep(0.02)  # an external daemon: poll its port, bounded by START_TIMEOUT
    return False


@contextmanager
def running(
    make_command: Callable[[list[int]], list[str]],
    ports: int,
    log: Path,
) -> Iterator[list[int]]:
    """Start the daemon `make_command(ports)` and yield its ports once the first accepts."""
    failure = ""
    for _ in range(ATTEMPTS):
        chosen = [free_port() for _ in range(ports)]
        with log.open("ab") as out:
            process = subprocess.Popen(
                make_command(chosen), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        try:
            if all(_wait_until_accepting(port, process) for port in chosen):
                yield chosen
                return
            failure = log.read_text(errors="replace")
            if "in use" not in failure:
                break
        finally:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    pytest.fail(f"the daemon did not start:\n{failure[-2000:]}")
