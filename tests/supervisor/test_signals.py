"""The supervisor's signals, crash handling and boot failures, as subprocess tests."""

from __future__ import annotations

import os
import re
import signal
import socket
from pathlib import Path

import pytest

from tests.server.helpers import RawClient, get
from tests.supervisor.conftest import Start
from tests.supervisor.helpers import (
    children,
    probe_argv,
    wait_gone,
    write_app,
)

pytestmark = pytest.mark.slow

# A single worker with a single thread: a second connection waits in the listen backlog.
ONE_THREAD = ("--bind", "127.0.0.1:0", "--threads", "1", "--max-threads", "1")


def test_term_finishes_in_flight_and_backlog_then_exits_0(start: Start) -> None:
    # --max-requests (never reached) runs the supervisor with one worker.
    server = start(*ONE_THREAD, "--workers", "1", "--max-requests", "1000", "app:app")
    address = server.address()
    with RawClient(address) as in_flight:
        in_flight.send(b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n")
        server.wait_for("app entered")
        queued = RawClient(address)  # the only thread is busy: this waits in the backlog
        queued.send(get("/queued"))
        server.send(signal.SIGTERM)
        server.wait_for(r"worker \d+: stopping gracefully")
        server.send(signal.SIGHUP)  # no reload in the middle of a stop, and it says so
        server.wait_for(r"received SIGHUP while stopping: ignored \(SIGINT stops now\)")
        in_flight.send(b"x" * 70000)
        response = in_flight.read_response()
        assert response.status == 200
        assert response.closes
        with queued:
            answer = queued.read_response()
            assert answer.status == 200
            assert answer.closes
    assert server.wait() == 0
    assert server.lines[-1].endswith("stopped")


def test_term_refuses_a_late_connection_instead_of_queueing_it(start: Start) -> None:
    # A request in flight keeps its worker (and the server) running; a connection made once
    # every worker stopped accepting must be refused, not queued in a socket the supervisor
    # kept open and reset when the server is gone.
    server = start(*ONE_THREAD, "--workers", "2", "app:app")
    address = server.address()
    server.wait_for(r"worker \d+ ready", count=2)
    with RawClient(address) as in_flight:
        in_flight.send(b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n")
        server.wait_for("app entered")
        server.send(signal.SIGTERM)
        server.wait_for(r"worker \d+: stopping gracefully", count=2)
        # Refused once the workers closed their sockets: at once, or when the client
        # retransmits its SYN if it came during the moment they drain (docs/operations.rst).
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(address, timeout=10).close()
        in_flight.send(b"x" * 70000)
        response = in_flight.read_response()
        assert response.status == 200
        assert response.closes
    assert server.wait() == 0


def test_a_request_on_an_idle_connection_during_the_stop_is_answered(start: Start) -> None:
    # Closing an idle keep-alive connection at the stop races with a request the client may
    # be sending: it stays open, and a request arriving on it is answered, then closed.
    server = start("--bind", "127.0.0.1:0", "--max-requests", "1000", "app:app")  # 1 worker
    with RawClient(server.address()) as idle:
        first = idle.request(get())
        assert first.status == 200
        assert not first.closes
        server.send(signal.SIGTERM)
        # Either line says the worker's stop is under way (a worker that closes its idle
        # connections at once has stopped by then).
        server.wait_for(r"worker \d+(: no longer accepting connections| stopped)")
        second = idle.request(get("/after-the-stop"))
        assert second.status == 200
        assert second.closes
        idle.assert_closed()
    assert server.wait() == 0


def test_a_second_int_ends_a_single_process_stop_at_once(start: Start) -> None:
    # The graceful stop waits for idle keep-alive connections, here for up to a minute; a
    # second Ctrl-C closes them and exits at once.
    server = start("--bind", "127.0.0.1:0", "--keepalive-timeout", "60", "app:app")
    with RawClient(server.address()) as idle:
        assert idle.request(get()).status == 200
        server.send(signal.SIGINT)
        # The first says what it waits for, how long, and how to stop now.
        said = server.wait_for(
            r"received SIGINT, stopping gracefully: waiting up to 30s for (\d+) request\(s\) "
            r"in flight and (\d+) idle connection\(s\); send SIGINT again to stop now"
        )
        assert int(said.group(1)) + int(said.group(2)) == 1  # the idle one (maybe just parking)
        server.send(signal.SIGINT)
        assert server.wait() == 0
        idle.assert_closed()
    server.wait_for("received SIGINT again, stopping now")


def test_int_stops_at_once(start: Start) -> None:
    server = start(*ONE_THREAD, "--workers", "2", "app:app")
    with RawClient(server.address()) as client:
        client.send(b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n")
        server.wait_for("app entered")
        workers = children(server.pid)
        server.send(signal.SIGINT)
        assert client.read_until_close() == b""  # no answer: the request was dropped
    assert server.wait() == 0
    assert all(wait_gone(pid) for pid in workers)


def test_hup_loads_new_code_and_keeps_old_workers_when_it_is_broken(
    start: Start, app_dir: Path
) -> None:
    server = start("--bind", "127.0.0.1:0", "--workers", "2", "app:app")
    address = server.address()
    server.wait_for(r"worker \d+ ready", count=2)
    write_app(app_dir, "v2")
    server.send(signal.SIGHUP)
    server.wait_for("reload complete")
    with RawClient(address) as client:
        assert client.request(get()).body.startswith(b"v2 ")
    mark = server.mark()
    write_app(app_dir, source="def app(:\n")
    server.send(signal.SIGHUP)
    failed = server.wait_for("reload failed, the old workers keep serving", after=mark)
    assert "SyntaxError" in failed.string, server.lines[mark:]  # the whole log: a rare flake
    with RawClient(address) as client:
        assert client.request(get()).body.startswith(b"v2 ")
    assert server.stop() == 0


def test_ttin_and_ttou_change_the_worker_count(start: Start) -> None:
    server = start("--bind", "127.0.0.1:0", "--workers", "2", "app:app")
    server.wait_for(r"worker \d+ ready", count=2)
    assert len(children(server.pid)) == 2
    server.send(signal.SIGTTIN)
    server.wait_for(r"worker \d+ ready", count=3)
    assert len(children(server.pid)) == 3
    mark = server.mark()
    server.send(signal.SIGTTOU)
    server.wait_for(r"worker \d+ stopped", after=mark)
    assert len(children(server.pid)) == 2
    assert server.stop() == 0


def test_a_crashed_worker_is_replaced(start: Start) -> None:
    server = start("--bind", "127.0.0.1:0", "--workers", "2", "app:app")
    address = server.address()
    server.wait_for(r"worker \d+ ready", count=2)
    with RawClient(address) as client:
        client.send(get("/crash"))
        assert client.read_until_close() == b""
    server.wait_for(
        r"worker \d+ exited unexpectedly \(exited with status 7\) before it answered a request; "
        r"replacing it$"
    )
    server.wait_for(r"worker \d+ ready", count=3)
    with RawClient(address) as client:
        assert client.request(get()).status == 200
    assert server.stop() == 0


def test_crashes_outnumbering_the_workers_are_spaced_out(start: Start) -> None:
    # One worker: its first crash is replaced in the loop pass that reaps it (no select()
    # between the two: see the probe); a second crash soon after waits for the back-off.
    server = start(argv=probe_argv("--bind", "127.0.0.1:0", "--max-requests", "1000", "app:app"))
    address = server.address()
    forks = []
    for crash in range(2):
        server.wait_for(r"worker \d+ ready", count=crash + 1)
        mark = server.mark()
        with RawClient(address) as client:
            client.send(get("/crash"))
            assert client.read_until_close() == b""
        crashed = server.wait_for(r"worker \d+ exited unexpectedly", after=mark)
        forked = server.wait_for(r"probe: forked", after=mark)
        lines = server.lines[mark:]
        between = lines[lines.index(crashed.string) : lines.index(forked.string)]
        forks.append([line for line in between if line.startswith("probe: select")])
    assert forks[0] == [], server.lines
    assert forks[1] != [], server.lines
    server.wait_for(r"worker \d+ ready", count=3)
    assert server.stop() == 0


def test_workers_dying_of_requests_they_serve_are_replaced_without_backing_off(
    start: Start,
) -> None:
    # A worker that answered requests and then died of one (a segfault in an extension, the
    # OOM killer) is no crash loop: backing off left no worker at all for up to 10 s when
    # one request a second crashed a worker. Here four crashes in a row with one worker:
    # each replacement is forked in the pass that reaps the dead one, as the first is.
    server = start(argv=probe_argv("--bind", "127.0.0.1:0", "--max-requests", "1000", "app:app"))
    address = server.address()
    for crash in range(4):
        server.wait_for(r"worker \d+ ready", count=crash + 1)
        mark = server.mark()
        with RawClient(address) as client:
            assert client.request(get()).status == 200  # served: the worker says so
            client.send(get("/crash"))
            assert client.read_until_close() == b""
        crashed = server.wait_for(
            r"worker \d+ exited unexpectedly \(exited with status 7\); replacing it$", after=mark
        )
        forked = server.wait_for(r"probe: forked", after=mark)
        lines = server.lines[mark:]
        between = lines[lines.index(crashed.string) : lines.index(forked.string)]
        assert not [line for line in between if line.startswith("probe: select")], lines
    server.wait_for(r"worker \d+ ready", count=5)
    assert server.stop() == 0


def test_a_signal_reaching_a_worker_as_it_is_forked_stays_the_workers(start: Start) -> None:
    # A child starts with the supervisor's handlers and its signal wakeup fd: a signal that
    # reached it before its own were set (a rollback's SIGQUIT to a worker that just forked)
    # was written into the supervisor's pipe, and the supervisor acted on it: the whole
    # server stopped. Here each child sends itself SIGHUP the moment it is forked.
    argv = probe_argv("--bind", "127.0.0.1:0", "--workers", "2", "app:app")
    server = start(argv=argv, env={"PROBE_CHILD_SIGNAL": "SIGHUP"})
    server.wait_for(r"worker \d+ ready", count=2)
    assert server.stop() == 0
    assert not [line for line in server.lines if "received SIGHUP" in line], server.lines


def forked(lines: list[str]) -> list[int]:
    return [int(m.group(1)) for line in lines if (m := re.match(r"probe: forked (\d+)", line))]


def test_term_while_workers_are_forked_is_acted_on_before_the_next_fork(
    start: Start, gate: int
) -> None:
    # The supervisor forked every worker it wanted before it read a signal: with a huge
    # --workers a TERM went unread for many minutes. Here TERM comes right after the second
    # of six forks (the probe sends it), while those workers are still importing the app.
    argv = probe_argv("--bind", "127.0.0.1:0", "--workers", "6", "app:app")
    server = start(argv=argv, env={"PROBE_SIGNAL_AFTER_FORK": "2:SIGTERM"})
    assert server.wait() == 0
    workers = forked(server.lines)
    assert len(workers) == 2, server.lines
    assert all(wait_gone(pid) for pid in workers)
    assert "received SIGTERM, stopping gracefully" in "\n".join(server.lines)
    assert not [line for line in server.lines if "ready" in line or "serving" in line]
    assert server.lines[-1].endswith("stopped"), server.lines


def test_term_while_workers_boot_stops_them_all(start: Start, gate: int) -> None:
    # Workers still importing the app when TERM comes are stopped with the rest: the
    # supervisor exits 0 and leaves no process behind.
    server = start("--bind", "127.0.0.1:0", "--workers", "3", "app:app")
    server.wait_for(r"importing in \d+", count=3)
    workers = children(server.pid)
    assert len(workers) == 3, server.lines
    os.write(gate, b"o")  # one of them boots: a ready worker and two booting ones
    server.wait_for(r"worker \d+ ready")
    assert server.stop() == 0
    assert all(wait_gone(pid) for pid in workers)
    assert server.lines[-1].endswith("stopped"), server.lines


def test_a_worker_crashing_on_its_very_first_request_is_replaced(start: Start) -> None:
    # The request waits in the backlog before the server starts, so the worker's first
    # accept takes it: a crash then is an app crash, not a worker that cannot boot.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        address = listener.getsockname()
        queued = socket.create_connection(address)
        queued.sendall(get("/crash"))
        fd = listener.fileno()
        server = start("--bind", f"fd://{fd}", "--max-requests", "1000", "app:app", pass_fds=[fd])
    with queued:
        queued.settimeout(10)
        assert queued.recv(65536) == b""  # the worker died mid-request: a bare close
    server.wait_for(
        r"worker \d+ exited unexpectedly \(exited with status 7\) before it answered a request; "
        r"replacing it$"
    )
    server.wait_for(r"worker \d+ ready", count=2)
    with RawClient(address) as client:
        assert client.request(get()).status == 200
    assert server.stop() == 0


def test_a_worker_that_cannot_boot_ends_the_supervisor_with_one_line(
    start: Start, app_dir: Path
) -> None:
    write_app(app_dir, source="import no_such_module_here\n")
    server = start("--bind", "127.0.0.1:0", "--workers", "3", "app:app")
    assert server.wait() == 3
    assert len(server.lines) == 1, server.lines
    assert server.lines[0].startswith("wsgiserver: error: ")
    assert "no_such_module_here" in server.lines[0]


def test_a_stuck_worker_is_aborted_with_its_stacks_and_replaced(start: Start) -> None:
    server = start(*ONE_THREAD, "--workers", "1", "--worker-timeout", "1", "--preload", "app:app")
    address = server.address()
    with RawClient(address) as client:
        client.send(get("/spin"))
        server.wait_for(r"worker \d+ timed out \(no heartbeat")
        server.wait_for(r"in spin_forever")  # faulthandler's dump of every thread
        server.wait_for(r"worker \d+ killed after its timeout")
        assert client.read_until_close() == b""
    server.wait_for(r"worker \d+ ready", count=2)
    with RawClient(address) as client:
        assert client.request(get()).status == 200
    assert server.stop() == 0


def test_a_worker_whose_gil_is_held_is_aborted(start: Start) -> None:
    # Four threads, three of them idle: only the housekeeper's missing beat can tell.
    server = start(
        "--bind", "127.0.0.1:0", "--max-requests", "1000", "--worker-timeout", "1", "app:app"
    )
    address = server.address()
    with RawClient(address) as client:
        client.send(get("/gil"))
        server.wait_for(r"worker \d+ timed out \(no heartbeat")
        server.wait_for(r"worker \d+ killed after its timeout")
        assert client.read_until_close() == b""
    assert any(re.search(r"line \d+ in app$", line) for line in server.lines)
    server.wait_for(r"worker \d+ ready", count=2)
    assert server.stop() == 0


def test_workers_exit_when_the_supervisor_is_killed(start: Start) -> None:
    server = start("--bind", "127.0.0.1:0", "--workers", "2", "app:app")
    server.wait_for(r"worker \d+ ready", count=2)
    workers = children(server.pid)
    assert len(workers) == 2
    server.send(signal.SIGKILL)
    server.wait()
    assert all(wait_gone(pid) for pid in workers)
    server.wait_for("the supervisor is gone; stopping")


@pytest.mark.parametrize("workers", [None, "2"], ids=["single-process", "supervisor"])
def test_usr1_reopens_the_log_files_after_a_rotation(
    start: Start, app_dir: Path, workers: str | None
) -> None:
    # logrotate renames the file, then sends SIGUSR1 (its default action ends a process):
    # every process reopens the access log under its name and goes on serving.
    log, rotated = app_dir / "access.log", app_dir / "access.log.1"
    extra = ("--workers", workers) if workers else ()
    server = start("--bind", "127.0.0.1:0", "--access-log", str(log), *extra, "app:app")
    address = server.address()
    with RawClient(address) as client:
        assert client.request(get("/before")).status == 200
        # Answered on the same connection after /before was logged: its line is written.
        assert client.request(get("/sync")).status == 200
    log.rename(rotated)
    mark = server.mark()
    server.send(signal.SIGUSR1)
    if workers:
        server.wait_for(r"^.*received SIGUSR1: reopened 1 log file\(s\)$", after=mark)
        server.wait_for(r"worker \d+: reopened 1 log file\(s\)$", after=mark, count=2)
    else:
        server.wait_for(r"received SIGUSR1: reopened 1 log file\(s\)$", after=mark)
    for _ in range(4):
        with RawClient(address) as client:
            assert client.request(get("/after")).status == 200
    assert server.stop() == 0
    old, new = rotated.read_text(), log.read_text()
    assert "GET /before " in old
    assert "GET /after " not in old
    assert new.count("GET /after ") == 4
    assert "GET /before " not in new


def test_usr2_is_logged_and_ignored_by_the_supervisor_and_its_workers(start: Start) -> None:
    # gunicorn's binary upgrade: its default action ended the supervisor and the workers.
    server = start("--bind", "127.0.0.1:0", "--workers", "2", "app:app")
    address = server.address()
    server.wait_for(r"worker \d+ ready", count=2)
    server.send(signal.SIGUSR2)
    server.wait_for("received SIGUSR2, ignored: to load new code, send SIGHUP")
    for child in children(server.pid):
        os.kill(child, signal.SIGUSR2)  # as `systemctl kill` sends it to every process
        # Then a signal the worker answers: a worker that USR2 ended never does.
        os.kill(child, signal.SIGUSR1)
        server.wait_for(rf"worker {child}: reopened 0 log file\(s\)$")
    with RawClient(address) as client:
        assert client.request(get()).status == 200
    assert server.stop() == 0
    assert not any("exited unexpectedly" in line for line in server.lines)
    assert not any("Traceback" in line for line in server.lines)
