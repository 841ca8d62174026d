"""`APP`, `--paste FILE.ini` and PasteDeploy's server runner (what `pserve` calls) share one
serving path: the same systemd sockets, the same supervisor decision, the same one-line errors
and exit statuses. (The successful socket activation of each is in test_sockets.py.)"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.server.helpers import RawClient, get
from tests.supervisor.conftest import Start
from tests.supervisor.helpers import (
    ROOT,
    WAIT,
    socket_activated,
    write_app,
    write_paste_ini,
)

# What `pserve app.ini` does, without Pyramid: the ini's [server:main] runs its [app:main].
RUNNER = (
    "import os, sys\n"
    "from paste.deploy import loadapp, loadserver\n"
    "uri = 'config:' + os.path.abspath(sys.argv[1])\n"
    "loadserver(uri)(loadapp(uri))\n"
)
PATHS = ["APP", "paste", "runner"]


def python_args(path: str, *options: str) -> list[str]:
    """The arguments of `python` serving app.py's app by `path`; `options` are command-line
    options (the runner takes its options from the ini's [server:main] instead)."""
    if path == "APP":
        return ["-m", "wsgiserver", *options, "app:app"]
    if path == "paste":
        return ["-m", "wsgiserver", *options, "--paste", "app.ini"]
    return ["-c", RUNNER, "app.ini"]


def fails(argv: Sequence[str], cwd: Path, pass_fds: Sequence[int] = ()) -> tuple[int, list[str]]:
    """Exit status and stderr lines of a server that must stop at startup (app.py announces
    its import on stderr; that line is the app's, not ours)."""
    result = subprocess.run(
        argv,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=WAIT,
        pass_fds=tuple(pass_fds),
    )
    lines = [line for line in result.stderr.splitlines() if not line.startswith("imported in")]
    return result.returncode, lines


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def test_a_port_in_use_is_the_same_error_on_every_path(app_dir: Path, taken_port: int) -> None:
    write_paste_ini(app_dir, f"host = 127.0.0.1\nport = {taken_port}\n")
    bind = ("--bind", f"127.0.0.1:{taken_port}")
    outcomes = {path: fails([sys.executable, *python_args(path, *bind)], app_dir) for path in PATHS}
    expected = f"wsgiserver: error: cannot listen on 127.0.0.1:{taken_port}: address already in use"
    assert outcomes == dict.fromkeys(PATHS, (2, [expected]))


def test_a_systemd_fd_that_is_no_socket_is_the_same_error_on_every_path(
    app_dir: Path, tmp_path: Path
) -> None:
    # Before one serving path, --paste and the runner ignored LISTEN_FDS and bound --bind.
    write_paste_ini(app_dir)
    with (tmp_path / "not-a-socket").open("w") as file:
        outcomes = {
            path: fails(
                socket_activated(file.fileno(), *python_args(path, "--bind", "127.0.0.1:0")),
                app_dir,
                pass_fds=[file.fileno()],
            )
            for path in PATHS
        }
    status, lines = outcomes["APP"]
    assert status == 2
    assert len(lines) == 1, lines
    assert lines[0].startswith("wsgiserver: error: LISTEN_FDS: fd 3 is not a usable socket: ")
    assert "[Errno" not in lines[0]  # the OS's reason, as every other start-up error says it
    assert outcomes == dict.fromkeys(PATHS, (status, lines))


@pytest.mark.parametrize("path", ["APP", "paste"])
def test_an_app_that_cannot_load_is_one_line_and_exit_3(app_dir: Path, path: str) -> None:
    write_app(app_dir, source="raise RuntimeError('no\\nDATABASE_URL')\n")
    write_paste_ini(app_dir)
    status, lines = fails([sys.executable, *python_args(path, "--bind", "127.0.0.1:0")], app_dir)
    assert status == 3
    assert len(lines) == 1, lines
    assert lines[0].startswith("wsgiserver: error: ")
    assert "RuntimeError: no DATABASE_URL" in lines[0]


def test_the_runner_runs_workers_as_the_command_line_does(start: Start, app_dir: Path) -> None:
    write_paste_ini(app_dir, "host = 127.0.0.1\nport = 0\nworkers = 2\n")
    server = start(argv=[sys.executable, *python_args("runner")])
    server.wait_for(r"worker \d+ ready", count=2)
    with RawClient(server.address()) as client:
        assert client.request(get()).status == 200
    assert server.stop() == 0


def test_the_runner_refuses_reload_in_one_line(app_dir: Path) -> None:
    # pserve imported the app already: restarted workers would serve the old code.
    write_paste_ini(app_dir, "port = 0\nreload = true\n")
    status, lines = fails([sys.executable, *python_args("runner")], app_dir)
    assert status == 2
    assert lines == ["wsgiserver: error: reload: pserve loads the app itself; use pserve --reload"]
