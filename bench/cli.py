"""Owns the ``python -m bench`` command line: parse options, run, report.

Example::

    python -m bench --servers wsgiserver,waitress --scenarios hello,post \\
        --duration 10 --rounds 5 --json out.json

    python -m bench --servers wsgiserver --baseline HEAD~1 --scenarios hello,post --rounds 5
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench import rounds
from bench.baseline import BaselineError, baseline_server
from bench.environment import (
    SetupError,
    ensure_environment,
    ensure_h2load,
    ensure_wrk,
    installed_versions,
)
from bench.idle import raise_nofile_limit
from bench.machine import git_revision, h2load_version, machine_info, python_version, wrk_version
from bench.paths import RESULTS_DIR
from bench.report import commands_block, legend, scenario_table
from bench.results import Result
from bench.runner import Settings, run_one, server_command
from bench.scenarios import IDLE_CONNECTIONS, SCENARIOS
from bench.servers import SERVERS, SUBJECT


def _names(value: str, known: Sequence[str], what: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown {what}: {', '.join(unknown)} (choose from {', '.join(known)})"
        )
    return names


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {value!r}")
    return number


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark wsgiserver against peer WSGI servers with wrk (and h2load "
        "for HTTP/2).",
    )
    servers, scenarios = list(SERVERS), list(SCENARIOS)
    parser.add_argument(
        "--servers",
        default=",".join(servers),
        type=lambda v: _names(v, servers, "server"),
        help=f"comma-separated (default: all: {','.join(servers)})",
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(scenarios),
        type=lambda v: _names(v, scenarios, "scenario"),
        help=f"comma-separated (default: all: {','.join(scenarios)})",
    )
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds of measured load per run (default 10)"
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=1.0,
        help="seconds of unmeasured load before each run (default 1)",
    )
    parser.add_argument(
        "--rounds",
        type=_positive,
        default=1,
        metavar="N",
        help="runs of every server per scenario, alternating, reported as medians "
        "(default 1; 5 for numbers that are quoted)",
    )
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help=f"also run the {SUBJECT} package of git revision REV (e.g. HEAD~1) as server "
        f"'{SUBJECT}@<hash>', with the same apps and defaults: the ratio against it is the "
        "change since REV",
    )
    parser.add_argument(
        "--json", type=Path, metavar="FILE", help="also write every number to FILE as JSON"
    )
    parser.add_argument("--server-cpu", type=int, default=0, help="CPU for the server")
    parser.add_argument("--client-cpu", type=int, default=1, help="CPU for wrk and helpers")
    parser.add_argument(
        "--reinstall", action="store_true", help="reinstall the packages of bench/.venv"
    )
    return parser.parse_args(argv)


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected scenarios for the selected servers; 0 unless setup failed."""
    args = parse_args(argv)
    if args.baseline is None:
        return _run(args)
    if SUBJECT not in args.servers:
        print(f"bench: --baseline compares with {SUBJECT}: add it to --servers", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="wsgiserver-bench-baseline-") as workdir:
        try:
            server = baseline_server(args.baseline, Path(workdir))
        except BaselineError as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 2
        SERVERS[server.name] = server
        args.servers.append(server.name)
        try:
            return _run(args)
        finally:
            del SERVERS[server.name]


def _run(args: argparse.Namespace) -> int:
    http2 = any(SCENARIOS[name].http2 for name in args.scenarios)
    try:
        wrk_path = ensure_wrk(_log)
        h2load_path = ensure_h2load(_log) if http2 else None
        env = ensure_environment(_log, reinstall=args.reinstall)
    except SetupError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    cpus = os.sched_getaffinity(0)
    if args.server_cpu not in cpus or args.client_cpu not in cpus:
        print(
            f"bench: CPUs {args.server_cpu} and {args.client_cpu} are needed; "
            f"this process may use {sorted(cpus)}",
            file=sys.stderr,
        )
        return 2
    raise_nofile_limit(IDLE_CONNECTIONS + 1024)
    settings = Settings(
        duration=args.duration,
        warmup=args.warmup,
        server_cpu=args.server_cpu,
        client_cpu=args.client_cpu,
        helper_python=sys.executable,
        h2load=h2load_path,
    )
    sentinel = "65531"  # a port number that appears nowhere else in a command

    def shown(name: str, scenario: str) -> list[str]:
        command = server_command(SERVERS[name], SCENARIOS[scenario], env, settings, int(sentinel))
        return [word.replace(sentinel, "PORT") for word in command]

    commands = {name: shown(name, "hello") for name in args.servers}
    print(commands_block(commands) + "\n", flush=True)
    if "lifecycle" in args.scenarios:
        two = {
            name: shown(name, "lifecycle")
            for name in args.servers
            if SERVERS[name].lifecycle is not None
        }
        print(commands_block(two, "Lifecycle commands (two workers, pinned)") + "\n", flush=True)
    h2 = next((name for name in args.scenarios if SCENARIOS[name].http2), None)
    if h2 is not None:
        cleartext = {
            name: shown(name, h2) for name in args.servers if SERVERS[name].http2 is not None
        }
        print(commands_block(cleartext, "HTTP/2 commands (h2c, pinned)") + "\n", flush=True)
    print(legend(args.rounds) + "\n", flush=True)
    started = datetime.datetime.now(datetime.UTC)
    results: list[Result] = []
    plan = rounds.alternating(
        [SCENARIOS[name] for name in args.scenarios], args.servers, args.rounds
    )
    for index, run in enumerate(plan):
        scenario = run.scenario
        total = rounds.rounds_of(scenario, args.rounds)
        _log(f"{scenario.name}: round {run.round}/{total}: {run.server}")
        result = run_one(SERVERS[run.server], scenario, env, wrk_path, settings, run.round)
        if result.error:
            _log(f"{scenario.name}: round {run.round}: {run.server} failed: {result.error}")
        results.append(result)
        if index + 1 == len(plan) or plan[index + 1].scenario != scenario:
            done = [r for r in results if r.scenario == scenario.name]
            print(scenario_table(scenario, done, args.duration) + "\n", flush=True)

    report = _json_report(args, settings, started, results, env.python, wrk_path, env.skipped)
    out = args.json or RESULTS_DIR / f"bench-{started:%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    _log(f"wrote {out}")
    return 0


def _json_report(
    args: argparse.Namespace,
    settings: Settings,
    started: datetime.datetime,
    results: list[Result],
    python: Path,
    wrk_path: Path,
    skipped: dict[str, str],
) -> dict[str, object]:
    versions = installed_versions(python)
    summary = rounds.to_json(args.scenarios, results)
    return {
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "settings": {
            "servers": args.servers,
            "scenarios": args.scenarios,
            "rounds": args.rounds,
            "duration_s": settings.duration,
            "warmup_s": settings.warmup,
            "server_cpu": settings.server_cpu,
            "client_cpu": settings.client_cpu,
            "idle_connections": IDLE_CONNECTIONS,
        },
        "machine": {
            **machine_info(),
            "server_python": python_version(python),
            "wrk": wrk_version(wrk_path),
            "h2load": h2load_version(settings.h2load) if settings.h2load else None,
        },
        "versions": {
            SUBJECT: git_revision(),
            **{
                name: SERVERS[name].version or versions.get(SERVERS[name].package, "not installed")
                for name in SERVERS
                if name != SUBJECT
            },
            "flask": versions.get("flask", "not installed"),
            "django": versions.get("django", "not installed"),
        },
        "skipped_packages": skipped,
        "summary_definition": "per scenario and server, over the rounds that succeeded: "
        "median, min, max and every value in round order; cpu_us_per_request is the "
        "server process tree's user+system CPU time over the measured run per request",
        "summary": summary["summary"],
        "ratio_definition": f"{SUBJECT} / peer, same invocation; of_medians divides the "
        "medians, per_round the numbers of each round both succeeded in; "
        f"requests_per_sec > 1, p99 < 1 and cpu_per_request < 1 favour {SUBJECT}",
        "ratios": summary["ratios"],
        "results": [result.to_json() for result in results],
    }
