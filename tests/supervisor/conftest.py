"""Fixtures for the supervisor tests: POSIX only, every started process killed afterwards."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from tests.supervisor.helpers import Proc, server_argv, write_app, write_slow_boot_app

collect_ignore_glob = [] if sys.platform.startswith("linux") else ["test_*.py"]  # /proc, fork

Start = Callable[..., Proc]


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    write_app(tmp_path)
    return tmp_path


@pytest.fixture
def gate(app_dir: Path) -> Iterator[int]:
    """`app.py` becomes SLOW_BOOT_SOURCE: each byte written to this fd lets a worker boot."""
    fd = write_slow_boot_app(app_dir)
    yield fd
    os.close(fd)


@pytest.fixture
def start(app_dir: Path) -> Iterator[Start]:
    started: list[Proc] = []

    def run(
        *args: str,
        argv: Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
        pass_fds: Sequence[int] = (),
    ) -> Proc:
        process = Proc(argv or server_argv(*args), app_dir, env, pass_fds)
        started.append(process)
        return process

    yield run
    for process in started:
        process.kill()
