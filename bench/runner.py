"""Owns one measurement: start a server, warm up, load it with wrk (h2load for HTTP/2), stop it.

The server's CPU time (its whole process tree) is sampled just before and
just after the measured wrk run, so the warm-up and the start-up are not in
it.  Nothing here raises for a server that misbehaves: failures end up in
:attr:`Result.error` so the suite carries on with the next run.  The order
of runs and what several rounds make of them belong to ``rounds``.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import h2load, lifecycle, wrk
from bench.environment import Environment
from bench.idle import IdleConnections
from bench.paths import LOG_DIR, REPO_ROOT
from bench.ports import pick_port, wait_until_listening
from bench.process import ServerProcess
from bench.results import IdleNumbers, Result
from bench.scenarios import Scenario
from bench.servers import Server, unavailable_reason

Load = Callable[[float], wrk.WrkResult]
"""Runs the scenario's wrk (or h2load) load for the given number of seconds."""


@dataclass(frozen=True)
class Settings:
    """Knobs shared by every run."""

    duration: float = 10.0
    warmup: float = 1.0
    host: str = "127.0.0.1"
    server_cpu: int = 0
    client_cpu: int = 1
    startup_timeout: float = 20.0
    stop_timeout: float = 10.0
    start_attempts: int = 3
    helper_python: str = "python3"
    h2load: Path | None = None
    """h2load, for the HTTP/2 scenarios (None when none of them runs)."""


def server_command(
    server: Server, scenario: Scenario, env: Environment, settings: Settings, port: int
) -> list[str]:
    """The full, pinned command line of ``server`` for ``scenario``."""
    pin = ["taskset", "-c", str(settings.server_cpu)]
    build = server.build
    if scenario.lifecycle and server.lifecycle:
        build = server.lifecycle
    elif scenario.http2 and server.http2:
        build = server.http2
    return pin + build(env, scenario.app, settings.host, port)


def run_one(
    server: Server,
    scenario: Scenario,
    env: Environment,
    wrk_path: Path,
    settings: Settings,
    round_number: int = 1,
) -> Result:
    """Measure ``server`` under ``scenario`` with a fresh process; never raises for its failures."""
    command = server_command(server, scenario, env, settings, 0)
    result = Result(server.name, scenario.name, command, round=round_number)
    skipped = unavailable_reason(server, env)
    if skipped is not None:
        result.error = f"not installed: {skipped}"
        return result
    if scenario.lifecycle and server.lifecycle is None:
        result.error = "not measured: no pre-forked workers to reload or replace"
        return result
    if scenario.http2 and server.http2 is None:
        result.error = "not measured: serves no HTTP/2"
        return result
    # The server's TMPDIR is its own and goes when it has stopped: servers that a signal ends
    # without running atexit (waitress, bjoern, granian's worker) leave nothing in /tmp.
    with tempfile.TemporaryDirectory(prefix="wsgiserver-bench-", ignore_cleanup_errors=True) as tmp:
        proc = _start(server, scenario, env, settings, result, tmp)
        if proc is None:
            return result
        try:
            _measure(proc, scenario, wrk_path, settings, result)
        except (wrk.WrkError, h2load.H2loadError, RuntimeError, OSError) as exc:
            result.error = str(exc)
        finally:
            if result.error is None and not proc.alive() and not scenario.lifecycle:
                result.error = f"server exited during the run: {proc.log_tail()}"
            result.stop = proc.stop(settings.stop_timeout)
            result.log = str(proc.log_path)
    return result


def _start(
    server: Server,
    scenario: Scenario,
    env: Environment,
    settings: Settings,
    result: Result,
    tmpdir: str,
) -> ServerProcess | None:
    """Start the server on a fresh port with ``tmpdir`` as its TMPDIR, retrying when the
    port was lost."""
    log_path = LOG_DIR / f"{scenario.name}-{server.name}-{result.round}.log"
    for _ in range(settings.start_attempts):
        port = pick_port(settings.host)
        result.port = port
        result.command = server_command(server, scenario, env, settings, port)
        environ = {**env.server_env(), "TMPDIR": tmpdir}
        proc = ServerProcess(result.command, environ, REPO_ROOT, log_path)
        deadline = time.monotonic() + settings.startup_timeout
        why = wait_until_listening(settings.host, port, deadline, proc.alive, proc.tree_pids)
        if why is None:
            return proc
        tail = proc.log_tail()
        result.stop = proc.stop(settings.stop_timeout)
        result.log = str(log_path)
        result.error = f"failed to start ({why}): {tail}" if tail else f"failed to start ({why})"
        if not _port_lost(why, tail):
            return None
    return None


def _port_lost(why: str, log_tail: str) -> bool:
    return "held by another process" in why or "address already in use" in log_tail.lower()


def _measure(
    proc: ServerProcess, scenario: Scenario, wrk_path: Path, settings: Settings, result: Result
) -> None:
    # h2load's request log and request body live here for the length of the runs.
    with tempfile.TemporaryDirectory(prefix="wsgiserver-bench-load-") as directory:
        load = scenario_load(scenario, wrk_path, settings, result, Path(directory))
        load(settings.warmup)
        if scenario.idle_connections:
            _idle_run(proc, scenario, settings, result, load)
        elif scenario.lifecycle:
            result.lifecycle = lifecycle.measure(
                proc,
                settings.helper_python,
                settings.host,
                result.port,
                settings.client_cpu,
                str(REPO_ROOT),
            )
        else:
            _measured_load(proc, settings, result, load)
    result.rss_kib = proc.rss_kib()
    judge(result)


def judge(result: Result) -> None:
    """Make a measured run that is no number a failure: nothing completed, or (h2load)
    requests failed; a rate that hides failures would compare servers unfairly."""
    if result.lifecycle is not None and result.lifecycle.reload.answered == 0:
        result.error = "no request completed during the reloads"
    if result.wrk is not None and result.wrk.requests == 0:
        result.error = "no request completed during the measured run"
    if result.wrk is not None and result.wrk.failed:
        result.error = h2load.failure(result.wrk)


def scenario_load(
    scenario: Scenario, wrk_path: Path, settings: Settings, result: Result, directory: Path
) -> Load:
    """The scenario's load: wrk, or h2load for HTTP/2 (its files in ``directory``)."""
    url = f"http://{settings.host}:{result.port}{scenario.path}"
    h2load_path = settings.h2load
    if scenario.http2 and h2load_path is None:
        raise h2load.H2loadError("h2load was not found (Debian: apt-get install nghttp2-client)")
    log_file = directory / "requests.log"
    body = h2load.body_file(directory, scenario.body_bytes) if scenario.body_bytes else None

    def load(seconds: float) -> wrk.WrkResult:
        if h2load_path is not None and scenario.http2:
            cmd = h2load.command(
                h2load_path,
                settings.client_cpu,
                url,
                scenario.connections,
                scenario.streams,
                seconds,
                log_file,
                scenario.headers,
                body,
            )
            result.wrk_command = cmd
            return h2load.run(cmd, seconds, log_file)
        cmd = wrk.command(
            wrk_path,
            settings.client_cpu,
            url,
            scenario.connections,
            seconds,
            scenario.headers,
            scenario.script,
        )
        result.wrk_command = cmd
        return wrk.run(cmd, seconds)

    return load


def _measured_load(proc: ServerProcess, settings: Settings, result: Result, load: Load) -> None:
    """The measured wrk run, with the server tree's CPU time sampled around it."""
    before = proc.cpu_seconds()
    result.wrk = load(settings.duration)
    after = proc.cpu_seconds()
    # A tree whose main process ended has nothing left to read: no number rather than a wrong one.
    result.cpu_seconds = after - before if proc.alive() else None


def _idle_run(
    proc: ServerProcess, scenario: Scenario, settings: Settings, result: Result, load: Load
) -> None:
    """Plain hello, then hello again with the idle connections held open."""
    numbers = IdleNumbers()
    result.idle = numbers
    numbers.plain = load(settings.duration)
    numbers.rss_before_kib = proc.rss_kib()
    idle = IdleConnections(
        settings.helper_python,
        settings.client_cpu,
        settings.host,
        result.port,
        scenario.idle_connections,
    )
    try:
        opening = time.monotonic()
        idle.open(str(REPO_ROOT))
        numbers.open_seconds = time.monotonic() - opening
        numbers.opened, numbers.failed = idle.opened, idle.failed
        numbers.rss_idle_kib = proc.rss_kib()
        numbers.still_open_before_load = idle.still_open()
        _measured_load(proc, settings, result, load)
        numbers.rss_idle_after_load_kib = proc.rss_kib()
        numbers.still_open_after_load = idle.still_open()
    finally:
        idle.close()
