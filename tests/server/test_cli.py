"""`python -m wsgiserver` as a subprocess: serving, signals, and one-line startup errors."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.conftest import untraced_env
from tests.server.helpers import RawClient, get

ROOT = Path(__file__).resolve().parents[2]
WAIT = 10.0  # seconds a subprocess may take to start or stop on a loaded machine
SERVING = re.compile(r"serving on http://([0-9.]+):([0-9]+)")


class CliProcess:
    """A running `python -m wsgiserver`; a thread collects its stderr lines as they come."""

    def __init__(self, args: Sequence[str], cwd: Path = ROOT, prefix: Sequence[str] = ()) -> None:
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "wsgiserver", *args],
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._done = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._done = True
            self._changed.notify_all()

    def wait_for(self, pattern: re.Pattern[str] | str) -> re.Match[str]:
        """Block until a stderr line matches (fails if the process ends first)."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        seen = 0
        with self._changed:
            while True:
                for line in self.lines[seen:]:
                    match = regex.search(line)
                    if match:
                        return match
                seen = len(self.lines)
                if self._done:
                    raise AssertionError(f"no line matching {regex.pattern!r}: {self.lines}")
                if not self._changed.wait(WAIT):
                    raise AssertionError(f"timed out waiting for {regex.pattern!r}")

    def address(self) -> tuple[str, int]:
        match = self.wait_for(SERVING)
        return match.group(1), int(match.group(2))

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self.proc.send_signal(signum)
        return self.wait()

    def wait(self) -> int:
        code = self.proc.wait(WAIT)
        self._reader.join(WAIT)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(WAIT)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


@pytest.fixture
def cli() -> Iterator[list[CliProcess]]:
    started: list[CliProcess] = []
    yield started
    for process in started:
        process.kill()


def start(cli: list[CliProcess], *args: str, cwd: Path = ROOT) -> CliProcess:
    process = CliProcess(args, cwd)
    cli.append(process)
    return process


def run_failing(*args: str, cwd: Path = ROOT) -> tuple[int, str]:
    result = subprocess.run(
        [sys.executable, "-m", "wsgiserver", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert result.stdout == ""
    return result.returncode, result.stderr


NO_SUCH = "No such file or directory"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--chdir", "/nonexistent-dir"], f"chdir: cannot change to '/nonexistent-dir': {NO_SUCH}"),
        (
            ["--pid", "/nonexistent-dir/x.pid"],
            f"pid: cannot write '/nonexistent-dir/x.pid': {NO_SUCH}",
        ),
        (
            ["--access-log", "/nonexistent-dir/a.log"],
            f"access_log: cannot open '/nonexistent-dir/a.log': {NO_SUCH}",
        ),
    ],
    ids=["chdir", "pid", "access-log"],
)
def test_paths_that_cannot_be_used_name_their_option(args: list[str], message: str) -> None:
    """The option, the path and the OS's reason: no "[Errno N]", no temporary file's name."""
    code, stderr = run_failing(*args, "--bind", "127.0.0.1:0", "sample_apps.hello:app")
    assert code == 2
    assert stderr == f"wsgiserver: error: {message}\n"


@pytest.mark.parametrize("mode", [[], ["--workers", "2"]], ids=["single", "workers"])
def test_a_pid_file_that_is_a_directory_is_one_line(tmp_path: Path, mode: list[str]) -> None:
    """The rename into place fails, not the temporary file: still the pid file's line."""
    args = [*mode, "--bind", "127.0.0.1:0", "--pid", str(tmp_path), "sample_apps.hello:app"]
    code, stderr = run_failing(*args)
    assert code == 2
    assert stderr == f"wsgiserver: error: pid: cannot write {str(tmp_path)!r}: Is a directory\n"


def assert_one_line(stderr: str, *fragments: str) -> None:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("wsgiserver: error: "), stderr
    for fragment in fragments:
        assert fragment in lines[0], stderr


# -- serving ----------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serves_and_stops_on_signal(cli: list[CliProcess], signum: int) -> None:
    process = start(cli, "--bind", "127.0.0.1:0", "sample_apps.hello:app")
    with RawClient(process.address()) as client:
        response = client.request(get("/cli"))
        assert response.status == 200
        assert response.body == b"Hello, world! You asked for /cli\n"
    assert process.stop(signum) == 0
    assert any(signal.Signals(signum).name in line for line in process.lines)
    assert process.lines[-1].endswith("stopped")
    assert not any("Traceback" in line for line in process.lines)


@pytest.mark.parametrize(
    ("signum", "said"),
    [
        (signal.SIGHUP, signal.SIGHUP),
        (signal.SIGUSR2, signal.SIGUSR2),
        # Ignored without a word (a log line to a terminal could bring another TTOU): the
        # HUP that follows shows the process was not stopped by them, as it was.
        (signal.SIGTTIN, signal.SIGHUP),
        (signal.SIGTTOU, signal.SIGHUP),
    ],
    ids=["HUP", "USR2", "TTIN", "TTOU"],
)
def test_supervisor_signals_in_single_process_mode_are_ignored(
    cli: list[CliProcess], tmp_path: Path, signum: signal.Signals, said: signal.Signals
) -> None:
    # Their default actions end the process (HUP, USR2) or stop it until a SIGCONT (TTIN,
    # TTOU: every request then hung, and nothing was logged).
    pid = tmp_path / "server.pid"
    process = start(cli, "--bind", "127.0.0.1:0", "--pid", str(pid), "sample_apps.hello:app")
    address = process.address()
    with RawClient(address) as client:
        assert client.request(get("/before")).status == 200
        process.proc.send_signal(signum)
        process.proc.send_signal(said)
        # What to do instead: the supervisor reloads on HUP, and ignores USR2 too.
        advice = {
            signal.SIGHUP: "reloading needs the supervisor (--workers N)",
            signal.SIGUSR2: "to load new code, restart the server, or run it with --workers N "
            "and send SIGHUP",
        }[said]
        process.wait_for(f"received {said.name}, ignored: {re.escape(advice)}")
        assert client.request(get("/after")).status == 200  # same connection, same process
    assert pid.exists()
    assert process.stop() == 0
    assert not pid.exists()


# Says when it is in the app, then reads the whole body before it answers.
BODY_READING_APP = (
    "import sys\n"
    "def app(environ, start_response):\n"
    "    sys.stderr.write('app entered\\n'); sys.stderr.flush()\n"
    "    environ['wsgi.input'].read()\n"
    "    start_response('200 OK', [])\n"
    "    return [b'done']\n"
)


def test_sigterm_lets_an_in_flight_request_finish(cli: list[CliProcess], tmp_path: Path) -> None:
    (tmp_path / "slowapp.py").write_text(BODY_READING_APP)
    process = start(cli, "--bind", "127.0.0.1:0", "--app-dir", str(tmp_path), "slowapp:app")
    with RawClient(process.address()) as client:
        # The app blocks reading a body we have not finished sending (larger than the 64 KiB
        # received before the app runs, so the app does run).
        client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n")
        process.wait_for("app entered")
        process.proc.send_signal(signal.SIGTERM)
        process.wait_for("SIGTERM")
        client.send(b"x" * 70000)
        response = client.read_response()
        assert response.body == b"done"
        assert response.closes
    assert process.wait() == 0


def test_sigquit_stops_at_once_as_the_supervisors_fast_stop(
    cli: list[CliProcess], tmp_path: Path
) -> None:
    # Its default action killed the process (a core dump): no log line, the pid file left.
    (tmp_path / "stuckapp.py").write_text(BODY_READING_APP)
    pid = tmp_path / "server.pid"
    args = ["--bind", "127.0.0.1:0", "--pid", str(pid), "--app-dir", str(tmp_path)]
    process = start(cli, *args, "stuckapp:app")
    with RawClient(process.address()) as client:
        client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n")
        process.wait_for("app entered")
        process.proc.send_signal(signal.SIGQUIT)  # the body never comes: no waiting for it
        assert process.wait() == 0
        assert client.read_until_close() == b""  # dropped, as by the supervisor's QUIT
    process.wait_for("received SIGQUIT, stopping now")
    assert process.lines[-1].endswith("stopped")
    assert not pid.exists()


def test_as_pid_1_the_supervisor_runs_to_reap_orphaned_processes(
    cli: list[CliProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A container with no init: the kernel gives PID 1 every orphaned process to reap. One
    # process serving the app left a zombie for each (an app's `cmd &` in a shell), and
    # could not reap them all without taking the app's own subprocesses' exit statuses.
    unshare = shutil.which("unshare")
    probe = [unshare, "--pid", "--fork", "true"] if unshare else []
    if not probe or subprocess.run(probe, capture_output=True, check=False).returncode:
        pytest.skip("unshare --pid is not available here (it needs root)")
    assert unshare is not None
    process = CliProcess(
        ["--bind", "127.0.0.1:0", "sample_apps.hello:app"],
        prefix=[unshare, "--pid", "--kill-child"],  # killed with it if the test fails
    )
    cli.append(process)
    line = process.wait_for(r"serving on http://\S+ with 1 worker\(s\), supervisor pid 1$")
    assert line.string.endswith("supervisor pid 1")
    with RawClient(process.address()) as client:
        assert client.request(get("/")).status == 200
    # unshare passes no signal on: TERM goes to the supervisor, its child.
    children = Path(f"/proc/{process.proc.pid}/task/{process.proc.pid}/children").read_text()
    (supervisor,) = map(int, children.split())
    os.kill(supervisor, signal.SIGTERM)
    assert process.wait() == 0  # unshare exits with its child's status


LENGTH_APP = (
    "def app(environ, start_response):\n"
    "    # PEP 3333 to the letter: read CONTENT_LENGTH bytes (as Django does).\n"
    "    body = environ['wsgi.input'].read(int(environ.get('CONTENT_LENGTH') or 0))\n"
    "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
    "    te = environ.get('HTTP_TRANSFER_ENCODING', '-')\n"
    "    return [f'len={len(body)} te={te}'.encode()]\n"
)


@pytest.mark.parametrize(
    ("args", "answer"),
    [([], b"len=5000 te=-"), (["--stream-chunked"], b"len=0 te=chunked")],
    ids=["default", "stream-chunked"],
)
def test_a_chunked_upload_with_curl_reaches_an_app_that_reads_content_length(
    cli: list[CliProcess], tmp_path: Path, args: list[str], answer: bytes
) -> None:
    """`curl -H 'Transfer-Encoding: chunked' --data-binary @file` against an app that reads
    CONTENT_LENGTH bytes: by default it gets all 5000; with --stream-chunked it gets the
    stream as it arrives (and, reading CONTENT_LENGTH, nothing)."""
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    (tmp_path / "lengthapp.py").write_text(LENGTH_APP)
    payload = tmp_path / "payload.bin"
    payload.write_bytes(b"p" * 5000)
    process = start(
        cli, "--bind", "127.0.0.1:0", "--app-dir", str(tmp_path), *args, "lengthapp:app"
    )
    host, port = process.address()
    done = subprocess.run(
        [
            curl,
            "-sS",
            "-H",
            "Transfer-Encoding: chunked",
            "--data-binary",
            f"@{payload}",
            f"http://{host}:{port}/",
        ],
        capture_output=True,
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == answer


@pytest.mark.parametrize(
    ("mode", "spool_dir"),
    [(["--check-config"], "missing"), (["--workers", "2"], "a-file"), ([], "a-file")],
    ids=["check-config", "workers", "single"],
)
def test_a_bad_spool_dir_is_one_line_and_exit_2_in_every_mode(
    tmp_path: Path, mode: list[str], spool_dir: str
) -> None:
    """Checked before any fork (and by --check-config): not a worker boot failure (exit 3)."""
    (tmp_path / "a-file").write_text("not a directory")
    (tmp_path / "okapp.py").write_text(LENGTH_APP)
    code, err = run_failing(
        "--bind",
        "127.0.0.1:0",
        "--app-dir",
        str(tmp_path),
        "--spool-dir",
        str(tmp_path / spool_dir),
        *mode,
        "okapp:app",
    )
    assert code == 2
    assert err.splitlines() == [
        f"wsgiserver: error: spool_dir: {str(tmp_path / spool_dir)!r} is not a directory"
    ]


def test_requests_cut_at_the_graceful_timeout_are_logged(
    cli: list[CliProcess], tmp_path: Path
) -> None:
    """An upload still arriving and an app still running when --graceful-timeout ends the
    stop get their access log line (no status: nothing was answered), like every request."""
    (tmp_path / "stuckapp.py").write_text(
        "import sys, time\n"
        "def app(environ, start_response):\n"
        "    sys.stderr.write('app entered\\n'); sys.stderr.flush()\n"
        "    time.sleep(60)\n"
        "    start_response('200 OK', [])\n"
        "    return [b'never']\n"
    )
    log = tmp_path / "access.log"
    args = ["--bind", "127.0.0.1:0", "--app-dir", str(tmp_path), "--graceful-timeout", "0.3"]
    process = start(cli, *args, "--access-log", str(log), "--threads", "2", "stuckapp:app")
    address = process.address()
    with RawClient(address) as running, RawClient(address) as uploading:
        running.send(get("/running"))
        process.wait_for("app entered")
        uploading.send(
            b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        assert uploading.read_response(head=True).status == 100  # the body is awaited
        uploading.send(b"100\r\nsome of it")
        process.proc.send_signal(signal.SIGTERM)
        assert process.wait() == 0
    lines = log.read_text().splitlines()
    assert sorted(line.split('"')[1] for line in lines) == [
        "GET /running HTTP/1.1",
        "POST /upload HTTP/1.1",
    ]
    assert all(line.split('"')[2].split()[0] == "-" for line in lines)  # no status was sent


def test_unix_socket_bind(cli: list[CliProcess], tmp_path: Path) -> None:
    path = tmp_path / "cli.sock"
    process = start(cli, "--bind", f"unix:{path}", "sample_apps.hello:app")
    process.wait_for(f"serving on unix:{path}")
    with RawClient(str(path)) as client:
        assert client.request(get("/u")).status == 200
    assert process.stop() == 0
    assert not path.exists()


def test_factory_forms(cli: list[CliProcess], tmp_path: Path) -> None:
    (tmp_path / "factorymod.py").write_text(
        "def create():\n"
        "    def app(environ, start_response):\n"
        "        start_response('200 OK', [])\n"
        "        return [b'from factory']\n"
        "    return app\n"
    )
    for args in (["factorymod:create()"], ["--factory", "factorymod:create"]):
        process = start(cli, "--bind", "127.0.0.1:0", "--app-dir", str(tmp_path), *args)
        with RawClient(process.address()) as client:
            assert client.request(get()).body == b"from factory"
        assert process.stop() == 0


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "wsgiserver"
    assert script.exists()
    result = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, timeout=WAIT, check=False
    )
    assert result.returncode == 0
    assert result.stdout.startswith("wsgiserver ")


# -- startup errors: one line on stderr, exit 2 (config) or 3 (app) ----------------------------


def write_module(tmp_path: Path, name: str, source: str) -> str:
    (tmp_path / f"{name}.py").write_text(source)
    return str(tmp_path)


@pytest.mark.parametrize(
    ("source", "spec", "fragments"),
    [
        (None, "missing_module_xyz:app", ["no module named 'missing_module_xyz'"]),
        ("raise RuntimeError('broken\\nacross lines')\n", "m:app", ["RuntimeError", "broken"]),
        ("import missing_dependency_xyz\n", "m:app", ["missing_dependency_xyz"]),
        ("def app(:\n", "m:app", ["SyntaxError"]),
        ("x = 1\n", "m:app", ["has no attribute 'app'"]),
        ("app = 42\n", "m:app", ["int", "not a WSGI callable"]),
        ("def create():\n    raise ValueError('no')\n", "m:create()", ["factory", "ValueError"]),
    ],
    ids=[
        "missing-module",
        "error-on-import",
        "missing-dependency",
        "syntax-error",
        "missing-attribute",
        "not-callable",
        "factory-fails",
    ],
)
def test_app_load_errors(
    tmp_path: Path, source: str | None, spec: str, fragments: list[str]
) -> None:
    if source is not None:
        write_module(tmp_path, "m", source)
    code, stderr = run_failing("--app-dir", str(tmp_path), spec)
    assert code == 3
    assert_one_line(stderr, *fragments)


@pytest.mark.parametrize(
    "spec", ["no-colon-here", "mod:app:extra", "fac:create_app(1)"], ids=lambda spec: spec
)
@pytest.mark.parametrize("mode", [[], ["--check-config"]], ids=["serve", "check"])
def test_a_malformed_app_argument_is_a_usage_error(spec: str, mode: list[str]) -> None:
    """Exit 2, like any bad option (README, "Errors at startup"); 3 is for an app that
    cannot be loaded, and nothing is imported here."""
    code, stderr = run_failing(*mode, "--bind", "127.0.0.1:0", spec)
    assert code == 2
    assert_one_line(stderr, repr(spec), "is not an application path; expected module:attribute")


ENV_APP = "import os\n\nSECRET = os.environ['WSGISERVER_TEST_ONLY_UNSET']\n"
ENV_APP_ERROR = "importing 'envapp' failed: KeyError: 'WSGISERVER_TEST_ONLY_UNSET'"


@pytest.mark.parametrize(
    "mode", [[], ["--check-config"], ["--workers", "2"]], ids=["single", "check", "workers"]
)
def test_an_import_error_names_the_users_line_and_debug_prints_the_traceback(
    tmp_path: Path, mode: list[str]
) -> None:
    write_module(tmp_path, "envapp", ENV_APP)
    args = [*mode, "--app-dir", str(tmp_path), "--bind", "127.0.0.1:0", "envapp:app"]
    env_app = tmp_path / "envapp.py"
    code, stderr = run_failing(*args)
    assert code == 3
    where = f"({env_app}, line 3)"  # not <frozen os>, where the KeyError was raised
    assert_one_line(stderr, ENV_APP_ERROR, where, "; --log-level debug shows the traceback")

    code, stderr = run_failing("--log-level", "debug", *args)
    assert code == 3
    lines = stderr.splitlines()
    assert lines[-1] == f"wsgiserver: error: {ENV_APP_ERROR} {where}"
    assert lines[0] == "Traceback (most recent call last):"
    assert f'  File "{env_app}", line 3, in <module>' in lines
    assert "KeyError: 'WSGISERVER_TEST_ONLY_UNSET'" in lines


def test_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, stderr = run_failing("--bind", f"127.0.0.1:{port}", "sample_apps.hello:app")
    assert code == 2
    assert_one_line(stderr, "address already in use", str(port))


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--bind", "nocolon"], ["bind", "nocolon"]),
        (["--bind", "127.0.0.1:99999"], ["port"]),
        (["--bind", "::1:80"], ["brackets"]),
        (["--bind", "256.1.1.1:80"], ["256.1.1.1"]),
        (["--threads", "abc"], ["--threads", "abc"]),
        (["--threads", "0"], ["threads"]),
        (["--keepalive-timeout", "nan"], ["--keepalive-timeout"]),
        (["--threads", "8", "--max-threads", "2"], ["max_threads"]),
        (["--log-level", "loud"], ["--log-level"]),
        (["--no-such-option"], ["--no-such-option"]),
    ],
    ids=lambda value: "_".join(value) if isinstance(value, list) else None,
)
def test_config_errors(args: list[str], fragments: list[str]) -> None:
    code, stderr = run_failing(*args, "sample_apps.hello:app")
    assert code == 2
    assert_one_line(stderr, *fragments)


def test_unreadable_chdir(tmp_path: Path) -> None:
    code, stderr = run_failing("--chdir", str(tmp_path / "nope"), "sample_apps.hello:app")
    assert code == 2
    assert_one_line(stderr, "nope")


def test_app_dir_is_used_before_cwd(tmp_path: Path, cli: list[CliProcess]) -> None:
    write_module(
        tmp_path,
        "appdirmod",
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [])\n"
        "    return [b'app-dir']\n",
    )
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    process = start(
        cli, "--bind", "127.0.0.1:0", "--app-dir", str(tmp_path), "appdirmod:app", cwd=elsewhere
    )
    with RawClient(process.address()) as client:
        assert client.request(get()).body == b"app-dir"
    assert process.stop() == 0


FREEZE_COUNT_APP = (
    "import gc\n"
    "def app(environ, start_response):\n"
    "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
    "    return [str(gc.get_freeze_count()).encode()]\n"
)


@pytest.mark.parametrize(
    "mode", [[], ["--workers", "2"], ["--workers", "2", "--preload"]], ids=" ".join
)
@pytest.mark.parametrize("freeze", [True, False], ids=["gc-freeze", "no-gc-freeze"])
def test_the_loaded_apps_heap_is_frozen_in_the_process_that_serves(
    cli: list[CliProcess], tmp_path: Path, mode: list[str], freeze: bool
) -> None:
    # The objects alive once the app is loaded are out of the collector's reach in the
    # process that answers, whichever process loaded the app; --no-gc-freeze leaves the
    # collector as the interpreter set it up (CPython 3.12 already starts with a few hundred
    # objects frozen, so the baseline is measured, not assumed to be zero).
    baseline = int(
        subprocess.run(
            [sys.executable, "-c", "import gc; print(gc.get_freeze_count())"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    app_dir = write_module(tmp_path, "freezemod", FREEZE_COUNT_APP)
    flag = "--gc-freeze" if freeze else "--no-gc-freeze"
    process = start(
        cli, "--bind", "127.0.0.1:0", "--app-dir", app_dir, flag, *mode, "freezemod:app"
    )
    with RawClient(process.address()) as client:
        frozen = int(client.request(get()).body)
    assert process.stop() == 0
    assert (frozen > baseline + 1000) if freeze else (frozen == baseline), (frozen, baseline)


@pytest.mark.parametrize("mode", [[], ["--check-config"]], ids=["serve", "check"])
def test_a_broken_log_config_fails_the_check_as_it_fails_the_start(
    tmp_path: Path, mode: list[str]
) -> None:
    broken = tmp_path / "log.json"
    broken.write_text('{"handlers": {"h": {"class": "no.such.Handler"}}}')
    code, stderr = run_failing(*mode, "--log-config", str(broken), "sample_apps.hello:app")
    assert code == 2
    assert_one_line(stderr, "log_config:", "log.json")


def test_options_cannot_be_abbreviated() -> None:
    # argparse takes `--thread 3` for `--threads 3` by default: an option added later with
    # the same prefix would change what an existing command line means.
    code, stderr = run_failing("--thread", "3", "--bind", "127.0.0.1:0", "sample_apps.hello:app")
    assert code == 2
    assert_one_line(stderr, "unrecognized arguments: --thread", "did you mean --threads?")


@pytest.mark.parametrize("flag", ["--port", "--host=0.0.0.0"])
def test_another_servers_flag_names_ours(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    # The hint every other source gives for an unknown option, and ours for other names.
    from wsgiserver.cli.main import main

    with pytest.raises(SystemExit) as info:
        main([flag, "8000", "sample_apps.hello:app"])
    assert info.value.code == 2
    assert_one_line(capsys.readouterr().err, "did you mean --bind? (it takes HOST:PORT)")


def test_an_address_given_twice_is_an_option_error() -> None:
    # It used to fail at the second bind, as "address already in use" by the server itself.
    code, stderr = run_failing("--bind", "127.0.0.1:18765", "--bind", "127.0.0.1:18765", "x:app")
    assert code == 2
    assert_one_line(stderr, "bind: '127.0.0.1:18765' is given twice")


@pytest.mark.parametrize("owner", ["no-such-user-here", "root:no-such-group-here"])
def test_check_config_knows_the_socket_owner(owner: str) -> None:
    # "configuration OK", then the start failed on the unknown name.
    args = ["--check-config", "--bind", "unix:/tmp/x.sock", "--unix-socket-owner", owner]
    code, stderr = run_failing(*args, "sample_apps.hello:app")
    assert code == 2
    assert_one_line(stderr, "unix_socket_owner: unknown", "no-such-")


def test_descriptors_used_up_at_the_start_is_one_line_and_no_socket_left(tmp_path: Path) -> None:
    """With the listeners bound in the last free descriptors, what the start takes next (the
    poller, the SIGUSR1 pipe) failed with an OSError traceback, exit 1, and the unix socket
    file left behind. Each limit in turn runs out at a later step; untraced, as coverage
    needs descriptors of its own."""
    import resource

    outcomes = []
    for limit in range(8, 25):
        sock = tmp_path / f"{limit}.sock"

        def lower(limit: int = limit) -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

        args = ["--bind", f"unix:{sock}", "--bind", "127.0.0.1:0", "sample_apps.hello:app"]
        process = subprocess.Popen(
            [sys.executable, "-m", "wsgiserver", *args],
            cwd=ROOT,
            env=untraced_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=lower,
        )
        said = []
        try:
            assert process.stderr is not None
            for line in process.stderr:
                said.append(line)
                if "serving on" in line:  # enough descriptors: a clean stop
                    process.send_signal(signal.SIGTERM)
            code = process.wait(WAIT)
        finally:
            process.kill()
            process.wait()
            if process.stderr is not None:
                process.stderr.close()
        assert not any("Traceback" in line for line in said), said
        assert not sock.exists(), said
        if code:
            assert code == 2, said
            assert said[-1].startswith("wsgiserver: error: "), said
        outcomes.append(code)
    # Both sides of the edge were reached: starts that failed, and starts that served.
    assert 2 in outcomes, outcomes
    assert 0 in outcomes, outcomes
