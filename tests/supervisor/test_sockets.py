"""Deployment: systemd socket activation and sd_notify, fd://N, --pid, unix socket mode."""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.helpers import RawClient, get
from tests.supervisor.conftest import Start
from tests.supervisor.helpers import (
    WAIT,
    Proc,
    children,
    socket_activated,
    wait_gone,
    write_app,
    write_paste_ini,
)

MODES = [pytest.param((), id="single"), pytest.param(("--workers", "2"), id="workers")]


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.create_server(("127.0.0.1", 0))
    yield sock
    sock.close()


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(WAIT)
    yield sock
    sock.close()


@pytest.mark.parametrize("app", [("app:app",), ("--paste", "app.ini")], ids=["APP", "paste"])
@pytest.mark.parametrize("extra", MODES)
def test_systemd_socket_activation(
    start: Start,
    app_dir: Path,
    listener: socket.socket,
    extra: tuple[str, ...],
    app: tuple[str, ...],
) -> None:
    write_paste_ini(app_dir)
    fd = listener.fileno()
    argv = socket_activated(fd, "-m", "wsgiserver", *extra, "--bind", "127.0.0.1:1", *app)
    server = start(argv=argv, pass_fds=[fd])
    server.wait_for(r"using 1 socket\(s\) from systemd \(web\)")
    assert server.address() == listener.getsockname()
    with RawClient(listener.getsockname()) as client:
        assert client.request(get()).status == 200
    assert server.stop() == 0


def test_listen_pid_of_another_process_is_ignored(start: Start, listener: socket.socket) -> None:
    env = {"LISTEN_PID": "1", "LISTEN_FDS": "1"}
    server = start("--bind", "127.0.0.1:0", "app:app", env=env)
    assert server.address()[1] != listener.getsockname()[1]
    assert server.stop() == 0, "\n".join(server.lines)


@pytest.mark.parametrize("extra", MODES)
def test_sd_notify(start: Start, notify_socket: socket.socket, extra: tuple[str, ...]) -> None:
    env = {"NOTIFY_SOCKET": notify_socket.getsockname()}
    server = start(*extra, "--bind", "127.0.0.1:0", "app:app", env=env)
    assert notify_socket.recv(4096) == b"READY=1"
    server.address()  # the serving line comes right after READY=1
    if extra:
        server.send(signal.SIGHUP)
        assert notify_socket.recv(4096).startswith(b"RELOADING=1\nMONOTONIC_USEC=")
        assert notify_socket.recv(4096) == b"READY=1"
    server.send(signal.SIGTERM)
    assert notify_socket.recv(4096) == b"STOPPING=1"
    assert server.wait() == 0


def datagrams(sock: socket.socket) -> list[bytes]:
    """What `sock` holds now, without waiting."""
    sock.setblocking(False)
    received = []
    try:
        while True:
            received.append(sock.recv(4096))
    except BlockingIOError:
        return received
    finally:
        sock.settimeout(WAIT)


def three_slow_workers(start: Start, notify_socket: socket.socket) -> Proc:
    """A server whose three workers each wait for a byte on the `gate` before they boot."""
    env = {"NOTIFY_SOCKET": notify_socket.getsockname()}
    server = start("--bind", "127.0.0.1:0", "--workers", "3", "app:app", env=env)
    server.wait_for(r"importing in \d+", count=3)
    return server


def test_ready_waits_for_every_worker(
    start: Start, gate: int, notify_socket: socket.socket
) -> None:
    # docs/deployment.rst: READY=1 "once every worker serves". It was sent, and the serving
    # line logged, as soon as the first of the workers was ready.
    server = three_slow_workers(start, notify_socket)
    for booted in (1, 2):
        os.write(gate, b"o")  # one more worker finishes importing the app
        server.wait_for(r"worker \d+ ready", count=booted)
    assert datagrams(notify_socket) == [], server.lines
    assert not [line for line in server.lines if "serving on" in line], server.lines
    os.write(gate, b"o")
    assert notify_socket.recv(4096) == b"READY=1"
    serving = server.wait_for(r"serving on http://\S+ with 3 worker\(s\)")
    before = server.lines[: server.lines.index(serving.string)]
    assert len([line for line in before if re.search(r"worker \d+ ready", line)]) == 3
    assert server.stop() == 0


def test_a_worker_that_cannot_boot_fails_the_start_even_when_another_is_ready(
    start: Start, gate: int, notify_socket: socket.socket
) -> None:
    # Until every worker of the first set has been ready, the start can still fail: with
    # the failing worker's line and exit status 3, and no READY=1 (systemd sees a failed
    # start, not a service serving at a third of its strength, forking in a loop).
    server = three_slow_workers(start, notify_socket)
    workers = children(server.pid)
    os.write(gate, b"o")
    server.wait_for(r"worker \d+ ready")
    os.write(gate, b"x")  # the next one to read it cannot load the app
    assert server.wait() == 3
    assert server.lines[-1].startswith("wsgiserver: error: "), server.lines
    assert "cannot reach the database" in server.lines[-1]
    assert b"READY=1" not in datagrams(notify_socket)
    assert all(wait_gone(pid) for pid in workers)


def test_sd_notify_abstract_namespace(start: Start) -> None:
    name = f"wsgiserver-test-{os.getpid()}-{id(start)}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(WAIT)
        server = start("--bind", "127.0.0.1:0", "app:app", env={"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(4096) == b"READY=1"
        server.address()
        assert server.stop() == 0


@pytest.mark.parametrize("extra", MODES)
def test_bind_fd(start: Start, listener: socket.socket, extra: tuple[str, ...]) -> None:
    fd = listener.fileno()
    server = start(*extra, "--bind", f"fd://{fd}", "app:app", pass_fds=[fd])
    assert server.address() == listener.getsockname()
    with RawClient(listener.getsockname()) as client:
        assert client.request(get()).status == 200
    assert server.stop() == 0


@pytest.mark.parametrize("extra", MODES)
def test_pid_file(start: Start, tmp_path: Path, extra: tuple[str, ...]) -> None:
    pid_file = tmp_path / "run" / "server.pid"
    pid_file.parent.mkdir()
    server = start(*extra, "--bind", "127.0.0.1:0", "--pid", str(pid_file), "app:app")
    server.address()
    assert pid_file.read_text() == f"{server.pid}\n"
    assert server.stop() == 0
    assert not pid_file.exists()
    assert list(pid_file.parent.iterdir()) == []  # no temporary file left behind


@pytest.mark.parametrize("extra", MODES)
def test_unix_socket_mode_and_owner(start: Start, tmp_path: Path, extra: tuple[str, ...]) -> None:
    path = tmp_path / "app.sock"
    owner = f"{os.getuid()}:{os.getgid()}"
    args = ("--bind", f"unix:{path}", "--unix-socket-mode", "0600", "--unix-socket-owner", owner)
    server = start(*extra, *args, "app:app")
    server.wait_for(f"serving on unix:{path}")
    info = path.stat()
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert (info.st_uid, info.st_gid) == (os.getuid(), os.getgid())
    with RawClient(str(path)) as client:
        assert client.request(get()).status == 200
    assert server.stop() == 0
    assert not path.exists()


def test_reuse_port_lets_two_servers_share_a_port(start: Start, tmp_path: Path) -> None:
    first = start("--bind", "127.0.0.1:0", "--reuse-port", "app:app")
    host, port = first.address()
    second = start("--bind", f"{host}:{port}", "--reuse-port", "app:app")
    assert second.address() == (host, port)
    assert first.stop() == 0
    assert second.stop() == 0


@pytest.mark.parametrize(("extra", "expected"), [((), b"False"), (("--workers", "2"), b"True")])
def test_wsgi_multiprocess_follows_workers(
    start: Start, app_dir: Path, extra: tuple[str, ...], expected: bytes
) -> None:
    # PEP 3333: wsgi.multiprocess is true when another process may run the same app at the
    # same time, as the workers of a pre-forking supervisor do.
    source = (
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [str(environ['wsgi.multiprocess']).encode()]\n"
    )
    write_app(app_dir, source=source)
    server = start(*extra, "--bind", "127.0.0.1:0", "app:app")
    with RawClient(server.address()) as client:
        assert client.request(get()).body == expected
    assert server.stop() == 0
