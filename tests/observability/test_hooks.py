"""Server hooks: request start/end with timings, failures contained, worker start/exit."""

from __future__ import annotations

import re
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.observability.helpers import hello, reader
from tests.server.helpers import RawClient, get
from tests.supervisor.helpers import Proc, server_argv, write_app
from wsgiserver.errors import ConfigError
from wsgiserver.observability.accesslog import RequestRecord
from wsgiserver.observability.hooks import Hooks, load_hooks
from wsgiserver.server.server import Server
from wsgiserver.testing import RunningServer, serving


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.ended = threading.Event()

    def on_request_start(self, environ: dict[str, Any]) -> None:
        environ["test.started"] = True
        self.events.append(("start", environ["wsgiserver.request_id"]))

    def on_request_end(self, environ: dict[str, Any], record: RequestRecord) -> None:
        self.events.append(("end", (environ.get("test.started"), record)))
        self.ended.set()

    def on_worker_start(self, server: Server) -> None:
        self.events.append(("worker_start", server))

    def on_worker_exit(self, server: Server) -> None:
        self.events.append(("worker_exit", server))


def test_hooks_get_the_request_and_its_timings() -> None:
    hooks = Recorder()
    with serving(reader, hooks=hooks) as srv, RawClient(srv.address) as client:
        response = client.request(
            b"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"
        )
        assert response.status == 200
        srv.wait_for_requests(1)
        assert hooks.ended.wait(10)
        server = srv.server
    kinds = [kind for kind, _ in hooks.events]
    assert kinds == ["worker_start", "start", "end", "worker_exit"]
    assert hooks.events[0][1] is server
    assert hooks.events[-1][1] is server
    request_id = hooks.events[1][1]
    started_flag, record = hooks.events[2][1]
    assert started_flag is True  # the same environ reaches both request hooks
    assert record.request_id == request_id
    assert record.status == 200
    assert record.method == "POST"
    assert record.request_bytes == 7
    assert record.body_bytes == len(response.body)
    assert record.duration_us >= record.queue_us >= 0


def test_a_raising_hook_is_logged_and_the_request_still_succeeds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def explode(*_args: object) -> None:
        raise ValueError("hook bug")

    hooks = Hooks(on_request_start=explode, on_request_end=explode)
    with serving(hello, hooks=hooks) as srv, RawClient(srv.address) as client:
        first = client.request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        second = client.request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # same connection
        records = srv.wait_for_requests(2)
        errors = srv.take_app_errors()
    assert first.status == second.status == 200
    assert first.body == b"hello"
    # Every failure is logged with its request id, and the test server's own capture has
    # them all: the start hook's too, although it runs before the app (it had only the end
    # hook's, and stop() raised only that one).
    for text in (caplog.text, srv.log_text()):
        for record in records:
            assert f"[{record.request_id}] the on_request_start hook failed" in text
            assert f"[{record.request_id}] the on_request_end hook failed" in text
        assert "ValueError: hook bug" in text
    assert [str(error) for error in errors] == ["hook bug"] * 4


@pytest.mark.parametrize("hook", ["on_request_start", "on_request_end"])
def test_a_failing_request_hook_is_raised_by_stop_when_asked(hook: str) -> None:
    def explode(*_args: object) -> None:
        raise ValueError(f"{hook} bug")

    srv = RunningServer.start(hello, hooks=Hooks(**{hook: explode}), raise_app_errors=True)
    with RawClient(srv.address) as client:
        assert client.request(get()).status == 200
    srv.wait_for_requests(1)
    with pytest.raises(ValueError, match=f"^{hook} bug"):
        srv.stop()


def test_no_hooks_and_no_access_log_means_no_record_callback() -> None:
    with Server(hello, bind="127.0.0.1:0") as server:
        assert server._connections.access is None  # the transport builds no records
    with Server(hello, bind="127.0.0.1:0", hooks=Hooks(on_request_start=print)) as server:
        assert server._connections.access is None  # a start hook alone needs none


def test_hooks_from_objects_and_modules_and_bad_specs(tmp_path: Path) -> None:
    (tmp_path / "myhooks.py").write_text(
        "def on_request_end(environ, record):\n"
        "    pass\n"
        "class Holder:\n"
        "    on_worker_start = 3\n"
        "nothing = object()\n"
    )
    try:
        module_hooks = load_hooks("myhooks", app_dir=str(tmp_path))
        assert module_hooks.on_request_end is not None
        assert module_hooks.on_request_start is None
        with pytest.raises(ConfigError) as info:
            load_hooks("myhooks:Holder", app_dir=str(tmp_path))
        assert str(info.value) == "hooks: on_worker_start is not callable (its type is int)"
        with pytest.raises(ConfigError, match="has none of"):
            load_hooks("myhooks:nothing", app_dir=str(tmp_path))
        with pytest.raises(ConfigError, match="no attribute"):
            load_hooks("myhooks:missing", app_dir=str(tmp_path))
        with pytest.raises(ConfigError, match="module:object"):
            load_hooks("not a spec")
    finally:
        sys.modules.pop("myhooks", None)
        sys.path.remove(str(tmp_path))


def test_hooks_keyword_takes_a_module_spec_like_the_option(tmp_path: Path) -> None:
    (tmp_path / "spec_hooks.py").write_text(
        "seen = []\ndef on_request_end(environ, record):\n    seen.append(record.status)\n"
    )
    try:
        with (
            serving(hello, hooks="spec_hooks", app_dir=str(tmp_path)) as srv,
            RawClient(srv.address) as client,
        ):
            assert client.request(get("/")).status == 200
            srv.wait_for_requests(1)
        assert sys.modules["spec_hooks"].seen == [200]
    finally:
        sys.modules.pop("spec_hooks", None)
        if str(tmp_path) in sys.path:
            sys.path.remove(str(tmp_path))


HOOKS_SOURCE = """\
import os

class Hooks:
    # One os.write per line: worker processes share stderr, and a single write of a short
    # line to a pipe is atomic, so lines of two workers never interleave.
    def on_worker_start(self, server):
        os.write(2, f"hook worker start {os.getpid()}\\n".encode())

    def on_worker_exit(self, server):
        os.write(2, f"hook worker exit {os.getpid()}\\n".encode())

    def on_request_end(self, environ, record):
        line = f"hook request end {os.getpid()} {record.status} {record.request_id}\\n"
        os.write(2, line.encode())

hooks = Hooks()
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork and /proc")
def test_worker_hooks_run_in_every_worker(tmp_path: Path) -> None:
    write_app(tmp_path)
    (tmp_path / "obs_hooks.py").write_text(HOOKS_SOURCE)
    proc = Proc(
        server_argv(
            "--bind", "127.0.0.1:0", "--workers", "2", "--hooks", "obs_hooks:hooks", "app:app"
        ),
        tmp_path,
    )
    try:
        started = {int(proc.wait_for(r"hook worker start (\d+)", count=n).group(1)) for n in (1, 2)}
        assert len(started) == 2
        with RawClient(proc.address()) as client:
            assert client.request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").status == 200
        end = proc.wait_for(r"hook request end (\d+) 200 ([0-9a-f]{8}-1)$")
        assert int(end.group(1)) in started
        assert proc.stop(signal.SIGTERM) == 0
        exited = {
            int(m.group(1))
            for line in proc.lines
            if (m := re.search(r"hook worker exit (\d+)", line))
        }
        assert exited == started
    finally:
        proc.kill()


def test_a_bad_hooks_option_is_a_one_line_startup_error(tmp_path: Path) -> None:
    write_app(tmp_path)
    proc = Proc(server_argv("--bind", "127.0.0.1:0", "--hooks", "nope:hooks", "app:app"), tmp_path)
    try:
        assert proc.wait() == 2
        assert len(proc.lines) == 1
        assert "no module named 'nope'" in proc.lines[0]
    finally:
        proc.kill()
