"""Startup errors with --workers are one line and exit 2, as in the single-process mode."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.supervisor.helpers import ROOT, Proc, server_argv, write_app
from wsgiserver.config.options import MAX_WORKERS


def one_error_line(directory: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    """Run `python -m wsgiserver ARGS` on the test app; it must fail with exit 2 and one line."""
    write_app(directory)
    environment = {k: v for k, v in os.environ.items() if k != "WEB_CONCURRENCY"}
    result = subprocess.run(
        [sys.executable, "-m", "wsgiserver", *args],
        cwd=directory,
        env={**environment, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    # The test app prints "imported in PID" when imported; every other line is ours.
    lines = [x for x in result.stderr.splitlines() if not x.startswith("imported in")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("wsgiserver: error: "), lines
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_bad_certificate_is_one_line_exit_2(tmp_path: Path, workers: str) -> None:
    missing = str(tmp_path / "missing.pem")
    args = ("--workers", workers, "--bind", "127.0.0.1:0", "--certfile", missing, "app:app")
    assert "missing.pem" in one_error_line(tmp_path, *args)


@pytest.mark.parametrize(
    ("args", "env", "source"),
    [
        (["--workers", "100000"], {}, "command line --workers"),
        ([], {"WEB_CONCURRENCY": "100000"}, "environment WEB_CONCURRENCY"),
    ],
    ids=["flag", "WEB_CONCURRENCY"],
)
def test_an_absurd_worker_count_is_a_configuration_error(
    tmp_path: Path, args: list[str], env: dict[str, str], source: str
) -> None:
    # It used to be accepted, and the supervisor forked until the machine stood still.
    line = one_error_line(tmp_path, "--check-config", *args, "app:app", env=env)
    assert f"workers must be at most {MAX_WORKERS}, got 100000" in line
    assert source in line


# An app whose process refuses every pool thread, as a memory or process limit would.
NO_THREADS_APP = """
import threading

_start = threading.Thread.start


def _refusing_start(self):
    if self.name == "wsgiserver-worker":
        raise RuntimeError("can't start new thread")
    return _start(self)


threading.Thread.start = _refusing_start


def app(environ, start_response):
    start_response("200 OK", [])
    return [b""]
"""


def test_no_thread_at_all_is_one_line_exit_2(tmp_path: Path) -> None:
    write_app(tmp_path, source=NO_THREADS_APP)
    proc = Proc(server_argv("--bind", "127.0.0.1:0", "app:app"), tmp_path)
    try:
        assert proc.wait() == 2
    finally:
        proc.kill()
    # After the line saying where it was about to serve: the sockets were bound.
    assert proc.lines[-1] == (
        "wsgiserver: error: cannot start a worker thread: can't start new thread"
    )
    assert not [line for line in proc.lines if "Traceback" in line]


def test_a_worker_without_threads_says_so_in_one_line_and_is_replaced(tmp_path: Path) -> None:
    # It was a traceback after READY, and exit 1 with no word of the cause.
    write_app(tmp_path, source=NO_THREADS_APP)
    proc = Proc(server_argv("--workers", "2", "--bind", "127.0.0.1:0", "app:app"), tmp_path)
    try:
        failed = r"worker (\d+): cannot start a worker thread: can't start new thread$"
        first = proc.wait_for(failed).group(1)
        proc.wait_for(rf"worker {first} exited unexpectedly \(exited with status 1\)")
        proc.wait_for(failed, count=3)  # one more than there are workers: a replacement
        assert proc.stop() == 0
    finally:
        proc.kill()
    assert not [line for line in proc.lines if "Traceback" in line]
