"""Stop, reload, crash and recycling under a steady load, counting every request.

docs/operations.rst promises that a graceful stop, a reload or recycling loses no request
that reached the server, and that a crashed worker is replaced at once. Each test drives
`tests.supervisor.load.Load` (pooled keep-alive and fresh connections) through the event and
asserts on counted outcomes: zero lost, zero wrong; never on durations.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest

from tests.supervisor.conftest import Start
from tests.supervisor.helpers import Proc, children, probe_argv, write_app
from tests.supervisor.load import LOAD_APP, Load, Tally

pytestmark = pytest.mark.slow

WORKERS = ("--bind", "127.0.0.1:0", "--workers", "2", "--threads", "2", "app:app")


@pytest.fixture
def load_app(app_dir: Path) -> Path:
    write_app(app_dir, source=LOAD_APP)
    return app_dir


def assert_nothing_lost(load: Load) -> Tally:
    tally = load.tally
    assert tally.lost == [], load
    assert tally.wrong == [], load
    return tally


def term_under_load(server: Proc) -> None:
    with Load(server.address()) as load:
        load.wait_answered(300)
        server.send(signal.SIGTERM)
        assert server.wait() == 0
    tally = assert_nothing_lost(load)
    # The stop came in the middle of the traffic: keep-alive requests were answered with
    # `Connection: close`, and clients that came after the stop were refused.
    assert tally.closing > 0, load
    assert tally.not_sent > 0, load


@pytest.mark.usefixtures("load_app")
@pytest.mark.parametrize("attempt", range(5))
def test_term_under_load_loses_nothing(start: Start, attempt: int) -> None:
    server = start(*WORKERS)
    server.wait_for(r"worker \d+ ready", count=2)
    term_under_load(server)


@pytest.mark.usefixtures("load_app")
def test_term_in_single_process_mode_under_load_loses_nothing(start: Start) -> None:
    term_under_load(start("--bind", "127.0.0.1:0", "--threads", "4", "app:app"))


@pytest.mark.usefixtures("load_app")
def test_five_reloads_under_load_lose_nothing(start: Start) -> None:
    server = start(*WORKERS)
    address = server.address()
    server.wait_for(r"worker \d+ ready", count=2)
    with Load(address) as load:
        load.wait_answered(200)
        for generation in range(1, 6):
            mark = server.mark()
            server.send(signal.SIGHUP)
            server.wait_for(rf"reload complete: 2 worker\(s\) of generation {generation}")
            newest = {
                int(match.group(1))
                for line in server.lines[mark:]
                if (match := _ready(generation).search(line)) is not None
            }
            # Old workers accept nothing once the reload is complete: what is answered on a
            # fresh connection from now on comes from the new generation.
            load.more(150)
            assert newest & load.tally.pids, (newest, load)
        server.send(signal.SIGTERM)
        assert server.wait() == 0
    tally = assert_nothing_lost(load)
    assert tally.closing > 0, load  # old workers answered their idle connections' requests


@pytest.mark.usefixtures("load_app")
def test_max_requests_recycling_under_load_loses_nothing(start: Start) -> None:
    server = start(*WORKERS, "--max-requests", "60", "--max-requests-jitter", "0")
    address = server.address()
    server.wait_for(r"worker \d+ ready", count=2)
    with Load(address) as load:
        load.wait_answered(100)
        server.wait_for(r"asking to be recycled", count=4)
        server.wait_for(r"worker \d+ stopped", count=4)
        load.more(100)
        server.send(signal.SIGTERM)
        assert server.wait() == 0
    assert_nothing_lost(load)


@pytest.mark.usefixtures("load_app")
def test_sigkill_of_a_worker_under_load_is_replaced_in_the_same_loop_pass(start: Start) -> None:
    server = start(argv=probe_argv(*WORKERS))
    address = server.address()
    server.wait_for(r"worker \d+ ready", count=2)
    with Load(address) as load:
        load.wait_answered(200)
        # Requests in flight in a process killed with SIGKILL die with it: no server can
        # answer them. So the clients pause between two requests (their keep-alive
        # connections idle), the kill comes, and they go on once it is reaped.
        load.hold()
        # The worker holding the most idle keep-alive connections: their clients must see
        # them closed and reconnect.
        held = load.idle_connections()
        victim = max(held, key=lambda pid: held[pid])
        assert victim in children(server.pid), (held, children(server.pid))
        mark = server.mark()
        os.kill(victim, signal.SIGKILL)
        crashed = server.wait_for(rf"worker {victim} exited unexpectedly", after=mark)
        load.release()
        forked = server.wait_for(r"probe: forked (\d+)", after=mark)
        server.wait_for(rf"worker {forked.group(1)} ready", after=mark)
        load.more(200)
        # The replacement was forked in the pass of the loop that reaped the dead worker:
        # no select() between the two, so no tick, no back-off, no wait of any kind.
        lines = server.lines[mark:]
        between = lines[lines.index(crashed.string) : lines.index(forked.string)]
        assert not [line for line in between if line.startswith("probe: select")], lines
        server.send(signal.SIGTERM)
        assert server.wait() == 0
    tally = assert_nothing_lost(load)
    # The dead worker's idle connections were closed by the kernel, visibly: the clients saw
    # the close before reusing them and reconnected instead of losing a request.
    assert tally.reconnects >= held[victim], load


def _ready(generation: int) -> re.Pattern[str]:
    return re.compile(rf"worker (\d+) ready \(generation {generation}\)")
