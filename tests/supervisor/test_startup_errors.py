"""Startup errors with --workers are one line and exit 2, as in the single-process mode."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.supervisor.helpers import write_app


@pytest.mark.parametrize("workers", ["1", "2"])
def test_bad_certificate_is_one_line_exit_2(tmp_path: Path, workers: str) -> None:
    write_app(tmp_path)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "wsgiserver",
            "--workers",
            workers,
            "--bind",
            "127.0.0.1:0",
            "--certfile",
            str(tmp_path / "missing.pem"),
            "app:app",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    # The test app prints "imported in PID" when imported; every other line is ours.
    lines = [x for x in result.stderr.splitlines() if not x.startswith("imported in")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("wsgiserver: error: ")
    assert "missing.pem" in lines[0]
    assert "Traceback" not in result.stderr
