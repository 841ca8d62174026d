"""In-process tests of the pieces under the supervisor: options, fd://, the file watcher,
systemd helpers, the pid file, and the Server hooks the workers use."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.server.helpers import RawClient, echo_app, get
from tests.supervisor.helpers import wait_gone
from wsgiserver.config.bind import BindAddress, parse_bind
from wsgiserver.config.options import MAX_WORKERS, MIN_WORKER_TIMEOUT, Config
from wsgiserver.errors import EXIT_APP, BindError, ConfigError
from wsgiserver.observability.accesslog import RequestRecord
from wsgiserver.server.listeners import create_listener
from wsgiserver.server.server import ProcessRole, Server
from wsgiserver.supervisor import systemd
from wsgiserver.supervisor import worker as worker_module
from wsgiserver.supervisor.pidfile import pidfile, remove_pidfile, running_pid, write_pidfile
from wsgiserver.supervisor.reloader import FileWatcher
from wsgiserver.supervisor.supervisor import TICK, Supervisor, Worker
from wsgiserver.supervisor.worker import BEAT, ERROR, RETIRE, SERVED, Heart, resident_mib


@pytest.mark.parametrize(
    "options",
    [
        {"workers": 0},
        {"workers": MAX_WORKERS + 1},
        {"worker_timeout": 0},
        {"worker_timeout": 0.001},  # idle workers were aborted in a loop
        {"worker_timeout": 0.999},
        {"max_requests": -1},
        {"max_requests_jitter": -1},
        {"max_worker_lifetime": -1.0},
        {"max_worker_memory": -1},
        {"unix_socket_mode": "rw"},
        {"unix_socket_mode": "08"},
        {"unix_socket_owner": ":staff"},
        {"unix_socket_owner": "a:b:c"},
        # chown() takes 32-bit ids (all ones: "no change"); beyond, an OverflowError at start.
        {"unix_socket_owner": "4294967295"},
        {"unix_socket_owner": "4294967296"},
        {"unix_socket_owner": "root:4294967296"},
        {"unix_socket_owner": "99999999999999999999:0"},
        {"bind": ("fd://x",)},
        {"reload": True, "preload": True},
    ],
)
def test_bad_process_options(options: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        Config.from_options(options)


def test_the_shortest_worker_timeout_spans_several_looks_of_the_supervisor() -> None:
    # config.options.MIN_WORKER_TIMEOUT is reasoned from the supervisor's loop: keep them so.
    assert MIN_WORKER_TIMEOUT >= 4 * TICK
    assert Config(worker_timeout=MIN_WORKER_TIMEOUT).worker_timeout == MIN_WORKER_TIMEOUT
    with pytest.raises(ConfigError, match=r"^worker_timeout must be at least 1 second"):
        Config(worker_timeout=0.001)


def test_good_process_options() -> None:
    config = Config(workers=4, unix_socket_mode="0660", unix_socket_owner="www:www", preload=True)
    assert (config.workers, config.unix_socket_mode) == (4, "0660")
    assert Config(unix_socket_owner="4294967294:0").unix_socket_owner == "4294967294:0"
    assert Config(workers=MAX_WORKERS).workers == MAX_WORKERS


def test_parse_bind_fd() -> None:
    assert parse_bind("fd://3") == BindAddress(fd=3)
    assert str(parse_bind("fd://3")) == "fd://3"
    assert parse_bind(f"fd://{2**31 - 1}") == BindAddress(fd=2**31 - 1)


@pytest.mark.parametrize("number", [str(2**31), "99999999999999999999"])
def test_an_fd_beyond_a_c_int_is_a_config_error_from_bind_and_admin_bind(number: str) -> None:
    # socket.socket(fileno=N) raised a bare ValueError or OverflowError (a traceback at start).
    with pytest.raises(ConfigError, match=f"^bind: 'fd://{number}': a file descriptor number is"):
        Config(bind=(f"fd://{number}",))
    with pytest.raises(ConfigError, match=f"^admin_bind: 'fd://{number}': a file descriptor"):
        Config(admin_bind=f"fd://{number}")


def test_bind_fd_that_is_not_a_socket(tmp_path: Path) -> None:
    with open(tmp_path / "f", "w") as file, pytest.raises(BindError, match="fd://"):
        create_listener(BindAddress(fd=file.fileno()), backlog=16)


def test_unknown_unix_socket_owner(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    with pytest.raises(BindError, match="unknown user 'no-such-user-here'"):
        create_listener(BindAddress(path=str(path)), backlog=16, unix_owner="no-such-user-here")
    assert not path.exists()


FULLWIDTH_ZERO = "\uff10"


@pytest.mark.parametrize("owner", [FULLWIDTH_ZERO, f"root:{FULLWIDTH_ZERO}"], ids=["user", "group"])
def test_a_non_ascii_digit_owner_is_a_name_not_an_id(tmp_path: Path, owner: str) -> None:
    # int() takes a full-width zero (U+FF10): the socket went to root (uid or gid 0).
    path = tmp_path / "s.sock"
    with pytest.raises(BindError, match=rf"unknown (user|group) '{FULLWIDTH_ZERO}'"):
        create_listener(BindAddress(path=str(path)), backlog=16, unix_owner=owner)
    assert not path.exists()


def test_file_watcher(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / ".hidden").mkdir()
    module = tmp_path / "pkg" / "mod.py"
    module.write_text("x = 1\n")
    watcher = FileWatcher(str(tmp_path))
    assert watcher.poll(0.0) == []
    assert watcher.poll(0.5) == []  # not yet time for a scan
    os.utime(module, ns=(1, 1))
    (tmp_path / ".hidden" / "ignored.py").write_text("")
    (tmp_path / "notes.txt").write_text("")
    assert watcher.poll(1.0) == [os.path.join("pkg", "mod.py")]
    module.unlink()
    assert watcher.poll(2.0) == [os.path.join("pkg", "mod.py")]


def test_listen_fds_absent_or_for_another_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LISTEN_PID", raising=False)
    assert systemd.listen_fds() == []
    monkeypatch.setenv("LISTEN_PID", str(os.getpid() + 1))
    monkeypatch.setenv("LISTEN_FDS", "1")
    assert systemd.listen_fds() == []
    assert "LISTEN_FDS" not in os.environ  # unset, so children do not inherit them


def test_notify(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert systemd.notify("READY=1") is False
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(tmp_path / "n"))
        monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "n"))
        assert systemd.notify("READY=1") is True
        assert sock.recv(100) == b"READY=1"
        assert systemd.reloading() is True
        assert sock.recv(100).startswith(b"RELOADING=1\nMONOTONIC_USEC=")
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone"))
    assert systemd.notify("READY=1") is False


def test_a_hup_before_the_first_ready_sends_no_reloading(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # systemd (Type=notify-reload) is still waiting for the start's READY=1: a RELOADING=1
    # then would tell it of a reload of a service it does not count as started. The new
    # workers are started all the same; the start's READY=1 comes once they serve.
    supervisor = Supervisor(Config(workers=2, bind=("127.0.0.1:0",)), lambda: echo_app)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(tmp_path / "n"))
        sock.setblocking(False)
        monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "n"))
        try:
            supervisor._on_signal(signal.SIGHUP)
            assert supervisor.generation == 1
            with pytest.raises(BlockingIOError):
                sock.recv(100)
            supervisor.announced = True
            supervisor._on_signal(signal.SIGHUP)
            assert supervisor.generation == 2
            assert sock.recv(100).startswith(b"RELOADING=1\nMONOTONIC_USEC=")
        finally:
            supervisor._close_sockets()


def test_pidfile(tmp_path: Path) -> None:
    path = tmp_path / "x.pid"
    with pidfile(str(path)):
        assert path.read_text() == f"{os.getpid()}\n"
    assert not path.exists()
    os.close(write_pidfile(str(path), pid=1))
    remove_pidfile(str(path))  # another process's pid: left alone
    assert path.read_text() == "1\n"
    with pidfile(None):
        pass


def test_a_pidfile_a_running_server_holds_is_not_taken_over(tmp_path: Path) -> None:
    # A second server started with the same --pid took the file, then removed it when it
    # stopped: the first one, still running, had none.
    path = tmp_path / "x.pid"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_PIDFILE, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "holding\n"
        with pytest.raises(OSError, match=rf"x.pid' names process {holder.pid}, which is running"):
            write_pidfile(str(path))
        assert path.read_text() == f"{holder.pid}\n"
    finally:
        holder.communicate("", timeout=60)  # it lets go of the file and removes it
    assert holder.returncode == 0
    assert not path.exists()


HOLD_PIDFILE = """
import sys
from wsgiserver.supervisor.pidfile import pidfile
with pidfile(sys.argv[1]):
    print("holding", flush=True)
    sys.stdin.read()
"""


def test_a_pidfile_no_server_holds_is_stale_whatever_its_pid_names(tmp_path: Path) -> None:
    # A pid file outlives its server (SIGKILL, a container's volume); by the next start its
    # pid may be another process's (containers reuse small pids every run). It used to be
    # taken for a running server, and the start refused.
    path = tmp_path / "x.pid"
    child = subprocess.Popen(["true"])
    assert child.wait() == 0  # reaped: its pid names no process now
    for stale in (f"{os.getppid()}\n", f"{child.pid}\n", "garbage\n", ""):
        path.write_text(stale)
        with pidfile(str(path)):
            assert path.read_text() == f"{os.getpid()}\n"


LEAVE_A_CHILD_HOLDING = """
import os, sys
from wsgiserver.supervisor.pidfile import write_pidfile
write_pidfile(sys.argv[1])  # locked, and the lock goes to the child with the descriptor
if os.fork() == 0:
    print("child", os.getpid(), flush=True)
    sys.stdin.read()  # holds the lock until the test is done
    os._exit(0)
os._exit(0)  # the server dies (as by SIGKILL): its pid file stays, naming it
"""


def test_a_pidfile_held_only_by_a_leftover_child_is_stale(tmp_path: Path) -> None:
    # A fork (a worker, an app's helper) inherits the lock. Once the server the file names
    # is gone, the file is stale, whoever still holds the lock: the next start was refused
    # with "names process N, which is running" about a dead N.
    path = tmp_path / "x.pid"
    server = subprocess.Popen(
        [sys.executable, "-c", LEAVE_A_CHILD_HOLDING, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        child = int(server.stdout.readline().split()[1])
        assert server.wait(60) == 0
        assert path.read_text() == f"{server.pid}\n"
        assert running_pid(str(path)) is None
        with pidfile(str(path)):
            assert path.read_text() == f"{os.getpid()}\n"
    finally:
        server.communicate("", timeout=60)  # closes the child's stdin: it exits
    assert wait_gone(child)


WITHOUT_LOCKS = """
import os, sys
sys.modules["fcntl"] = None  # as on Windows
import wsgiserver.cli.serving  # the command line still imports
from wsgiserver.supervisor.pidfile import pidfile, running_pid
path = sys.argv[1]
with open(path, "w") as file:
    file.write(f"{os.getppid()}\\n")  # a running process: the pid check alone counts it
assert running_pid(path) == os.getppid()
os.unlink(path)
with pidfile(path):
    assert open(path).read() == f"{os.getpid()}\\n"
print("ok")
"""


def test_without_file_locks_the_pid_check_alone_decides(tmp_path: Path) -> None:
    # Windows has no fcntl: importing it unconditionally stopped the command line there.
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_LOCKS, str(tmp_path / "x.pid")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (0, "ok\n"), result.stderr


def test_max_requests_asks_to_be_recycled_at_once_and_once() -> None:
    # Not at the next housekeeper tick: a busy worker would overshoot its limit many times.
    read_end, write_end = os.pipe()
    try:
        heart = Heart(Config(max_requests=3, max_requests_jitter=0), write_end, os.getppid())
        os.set_blocking(read_end, False)
        record = RequestRecord(remote="-")
        for _ in range(2):
            heart.count(record)
        assert os.read(read_end, 16) == SERVED  # once, at the first request
        with pytest.raises(BlockingIOError):
            os.read(read_end, 16)
        for _ in range(5):
            heart.count(record)
        assert os.read(read_end, 16) == RETIRE
        heart.tick(0.0)  # the tick sees it is already retiring: no second request
        assert os.read(read_end, 16) == BEAT
    finally:
        os.close(read_end)
        os.close(write_end)


@pytest.mark.parametrize(("loaded", "exempt"), [(50.0, False), (150.0, True)])
def test_max_worker_memory_spares_a_worker_that_starts_over_it(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, loaded: float, exempt: bool
) -> None:
    # A limit below what a worker weighs once the app is loaded recycled workers in a loop
    # (96 forks in 5 s): a new one would be no smaller. Such a worker is said once and not
    # recycled for memory; one that grows past the limit still is.
    sizes = iter([loaded, 150.0, 150.0])
    monkeypatch.setattr(worker_module, "resident_mib", lambda: next(sizes))
    read_end, write_end = os.pipe()
    try:
        with caplog.at_level(logging.WARNING, "wsgiserver.error"):
            heart = Heart(Config(max_worker_memory=100), write_end, os.getppid())
        os.set_blocking(read_end, False)
        heart.count(RequestRecord(remote="-"))
        heart.tick(0.0)
        assert os.read(read_end, 16) == SERVED + (BEAT if exempt else RETIRE + BEAT)
    finally:
        os.close(read_end)
        os.close(write_end)
    warned = [r.getMessage() for r in caplog.records if "not recycled for memory" in r.getMessage()]
    assert len(warned) == int(exempt)


def test_a_workers_error_line_behind_other_messages_is_read_when_it_is_reaped() -> None:
    # The supervisor reads a dead worker's pipe to its end: one read of 4096 bytes could
    # leave the error line behind, and the reload failure then named no reason.
    supervisor = Supervisor(Config(workers=2, bind=("127.0.0.1:0",)), lambda: echo_app)
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, BEAT * 5000 + ERROR + b"cannot import app\n")
        os.close(write_end)
        worker = Worker(pid=0, pipe=read_end, generation=0, started=0.0, last_beat=0.0)
        supervisor._read(worker, to_end=True)
        assert worker.error == "cannot import app"
    finally:
        os.close(read_end)
        supervisor._close_sockets()


@pytest.mark.parametrize("call", ["pipe", "fork"])
def test_a_worker_that_cannot_be_started_is_retried_not_a_traceback(
    call: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Out of descriptors (EMFILE) or processes (EAGAIN): the supervisor says so and tries
    # again a second later; it must not die of the exception, nor leak the pipe's ends.
    supervisor = Supervisor(Config(workers=2, bind=("127.0.0.1:0",)), lambda: echo_app)
    made: list[int] = []
    real_pipe = os.pipe

    def pipe() -> tuple[int, int]:
        ends = real_pipe()
        made.extend(ends)
        return ends

    def fail(*args: object) -> None:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(os, "pipe", fail if call == "pipe" else pipe)
    if call == "fork":
        monkeypatch.setattr(os, "fork", fail)
    try:
        supervisor._balance(100.0)  # two workers are missing: one try, one error
        assert supervisor.workers == {}
        assert supervisor.next_spawn == 101.0
        assert caplog.text.count("Too many open files; retrying") == 1
        for fd in made:
            with pytest.raises(OSError, match="Bad file descriptor"):
                os.fstat(fd)  # closed again
    finally:
        supervisor._close_sockets()


def test_a_worker_that_answered_requests_is_replaced_during_another_workers_back_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One slot crash-looped (its app could not be imported: replacements backed off); then
    # the OOM killer took the other worker, which had served. Its replacement waited for the
    # other slot's back-off: no worker at all for up to 10 s, while the log said "replacing
    # it" (an operations probe).
    supervisor = Supervisor(Config(workers=2, bind=("127.0.0.1:0",)), lambda: echo_app)
    spawned: list[float] = []
    monkeypatch.setattr(supervisor, "_spawn", spawned.append)
    monkeypatch.setattr(supervisor, "_act_on_signals", lambda: None)  # none come here
    try:
        healthy = Worker(4242, -1, supervisor.generation, 90.0, 99.0, ready=True, served=True)
        supervisor.workers = {healthy.pid: healthy}
        supervisor.announced = True
        supervisor.next_spawn = 105.0  # the other slot's replacement waits until then
        supervisor._balance(100.0)
        assert spawned == []
        del supervisor.workers[healthy.pid]
        supervisor._on_exit(healthy, signal.SIGKILL)
        supervisor._balance(100.0)
        assert spawned == [100.0]  # this one now; the crash-looping slot still waits
        supervisor._balance(100.5)
        assert spawned == [100.0]
    finally:
        supervisor._close_sockets()


def test_ttin_grows_the_workers_up_to_the_limit_of_workers_only() -> None:
    # --workers has a limit (config.options.MAX_WORKERS); TTIN must not go past it.
    config = Config(workers=MAX_WORKERS - 1, bind=("127.0.0.1:0",))
    supervisor = Supervisor(config, lambda: echo_app)
    try:
        for _ in range(3):
            supervisor._on_signal(signal.SIGTTIN)
        assert supervisor.target == MAX_WORKERS
        supervisor._on_signal(signal.SIGTTOU)
        assert supervisor.target == MAX_WORKERS - 1
    finally:
        supervisor._close_sockets()


def test_every_worker_ttin_can_reach_has_a_metrics_slot_through_a_reload() -> None:
    # The slots live in a mapping made before the first fork, which cannot grow: sized
    # for the starting --workers, workers added by TTIN went uncounted in /metrics.
    config = Config(workers=1, bind=("127.0.0.1:0",), admin_bind="127.0.0.1:0")
    supervisor = Supervisor(config, lambda: echo_app)
    try:
        for pid in range(2 * MAX_WORKERS):  # old and new generations side by side
            slot = supervisor._free_slot()
            assert slot >= 0, f"no slot for worker {pid}"
            supervisor.workers[pid] = Worker(pid, -1, 0, started=0.0, last_beat=0.0, slot=slot)
        assert len({w.slot for w in supervisor.workers.values()}) == 2 * MAX_WORKERS
    finally:
        supervisor._close_sockets()
        if supervisor.admin is not None:
            supervisor.admin.close()


def test_a_worker_that_did_not_boot_in_time_fails_the_first_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Aborted for not booting within BOOT_TIMEOUT, it used to be replaced without a word
    # about the start: the server never became ready, and never said why.
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    supervisor = Supervisor(Config(workers=2, bind=("127.0.0.1:0",)), lambda: echo_app)
    try:
        error = "worker 0 did not boot within 60s"
        worker = Worker(0, -1, 0, started=0.0, last_beat=0.0, abort_sent=1.0, error=error)
        supervisor._on_exit(worker, signal.SIGABRT)  # the wait status of a death by SIGABRT
        assert (supervisor.exit_code, supervisor.fatal) == (EXIT_APP, error)
    finally:
        supervisor._close_sockets()


def test_resident_memory() -> None:
    rss = resident_mib()
    assert rss is not None
    assert rss > 1


def test_server_on_given_sockets_with_tick(tmp_path: Path) -> None:
    path = str(tmp_path / "s.sock")
    listener = create_listener(BindAddress(path=path), backlog=16)
    ticked = threading.Event()
    stalls: list[float] = []

    def tick(stalled: float) -> None:
        stalls.append(stalled)
        ticked.set()

    role = ProcessRole(sockets=(listener,), tick=tick, tick_interval=0.01)
    server = Server(echo_app, process=role, threads=1)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        assert ticked.wait(5)
        assert server.address == path
        with RawClient(path) as client:
            assert client.request(get()).status == 200
    finally:
        server.shutdown()
        thread.join(5)
    assert os.path.exists(path)  # the socket file belongs to whoever passed the socket
    assert stalls[0] == 0.0


def test_shutdown_before_serving_makes_serve_forever_return() -> None:
    server = Server(echo_app, bind="127.0.0.1:0")
    server.shutdown()
    server.serve_forever()  # returns at once (a SIGTERM that came before serving)
