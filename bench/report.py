"""Owns the human-readable tables printed after the runs.

Each number is the median over the rounds, followed with more than one round
by its range (lowest-highest) in parentheses; ``rounds`` computes them.  The
ratio columns are wsgiserver's median divided by the peer's, both measured
in the same invocation (requests/s above 1.00 and p99 below 1.00 favour
wsgiserver), followed by the range of the per-round ratios.
"""

from __future__ import annotations

import shlex
import statistics
from collections.abc import Callable, Sequence

from bench.results import IdleNumbers, Result
from bench.rounds import Spread, Summary, by_server, ratio, summarize
from bench.scenarios import Scenario
from bench.servers import SUBJECT

_HEAD = (
    "server",
    "req/s",
    "p50 ms",
    "p99 ms",
    "CPU µs/req",
    "http err",
    "sock err",
    "req/s ratio",
    "p99 ratio",
)


def scenario_table(scenario: Scenario, runs: Sequence[Result], duration: float) -> str:
    """The table of one scenario over all its rounds, with a title line and notes."""
    servers = by_server(runs)
    rounds = max((len(server_runs) for server_runs in servers.values()), default=1)
    subject = servers.get(SUBJECT, [])
    if scenario.lifecycle:
        shape = "16 keep-alive + 4 closing connections, fixed phases"
    elif scenario.http2:
        shape = f"h2load, {scenario.connections} h2c connections x {scenario.streams} streams"
        shape += f", {duration:g} s"
    else:
        shape = f"{scenario.connections} connections, {duration:g} s"
    if rounds > 1:
        shape += f", {rounds} rounds: median (min-max)"
    title = f"== {scenario.name}: {scenario.description}; {shape} =="
    rows: list[tuple[str, ...]] = [_HEAD]
    notes: list[str] = []
    for server_runs in servers.values():
        rows.append(_row(summarize(server_runs), server_runs, subject, rounds > 1))
        notes += _notes(server_runs, rounds > 1)
    if scenario.lifecycle:  # no wrk run to show: its own table only
        return "\n".join([title, *_lifecycle_table(runs), *notes])
    lines = [title, *_align(rows), *notes]
    if scenario.idle_connections:
        lines += ["", *_idle_table(servers)]
    return "\n".join(lines)


def legend(rounds: int) -> str:
    """What the columns of :func:`scenario_table` mean, printed once before the tables."""
    lines = [
        "Columns:",
        "  CPU µs/req: user+system CPU time of the server's whole process tree during the "
        "measured run, per request completed;",
        f"  req/s ratio, p99 ratio: {SUBJECT}'s median divided by the peer's "
        f"(req/s above 1, p99 below 1 favour {SUBJECT}).",
    ]
    if rounds > 1:
        lines += [
            f"  {rounds} rounds: every server runs once per round, in the order given, each "
            "time a fresh process; a number is the median",
            "  over the rounds it succeeded in, (min-max) its range; a ratio's (min-max) is "
            "the range of the ratios of single rounds.",
        ]
    return "\n".join(lines)


def commands_block(
    commands: dict[str, list[str]],
    title: str = "Server commands (one worker, pinned; PORT is picked per run)",
) -> str:
    """The exact server command lines, one per server."""
    lines = [f"{title}:"]
    lines += [f"  {name}: {shlex.join(command)}" for name, command in commands.items()]
    return "\n".join(lines)


def _row(
    summary: Summary, runs: Sequence[Result], subject: Sequence[Result], spread: bool
) -> tuple[str, ...]:
    if summary.ok_rounds == 0:
        return (summary.server, "FAILED", *("-" * (len(_HEAD) - 2)))

    def cell(metric: str, show: Callable[[float], str]) -> str:
        return _spread(summary.metrics.get(metric), show, spread)

    peer = summary.server != SUBJECT and bool(subject)
    return (
        summary.server,
        cell("requests_per_sec", _count_float),
        cell("p50_ms", _number),
        cell("p99_ms", _number),
        cell("cpu_us_per_request", _number),
        f"{summary.http_errors:,}",
        f"{summary.socket_errors:,}",
        _ratio_cell(subject, runs, "requests_per_sec", spread) if peer else "-",
        _ratio_cell(subject, runs, "p99_ms", spread) if peer else "-",
    )


def _notes(runs: Sequence[Result], rounds: bool) -> list[str]:
    notes: list[str] = []
    for run in runs:
        who = f"{run.server} (round {run.round})" if rounds else run.server
        if not run.ok:
            notes.append(f"  {who}: FAILED: {run.error}")
        stop = run.stop
        if stop is not None and stop.leftover_pids:
            notes.append(f"  {who}: processes left after stop: {stop.leftover_pids}")
        elif stop is not None and stop.killed:
            notes.append(f"  {who}: did not stop on SIGTERM, killed")
    return notes


def _ratio_cell(
    subject: Sequence[Result], peer: Sequence[Result], metric: str, spread: bool
) -> str:
    found = ratio(subject, peer, metric)
    if found.of_medians is None:
        return "n/a"
    text = _ratio(found.of_medians)
    rounds = found.per_round
    if spread and rounds is not None:
        text += f" ({_ratio(rounds.low)}-{_ratio(rounds.high)})"
    return text


def _spread(found: Spread | None, show: Callable[[float], str], spread: bool) -> str:
    if found is None:
        return "-"
    text = show(found.median)
    if spread:
        text += f" ({show(found.low)}-{show(found.high)})"
    return text


def _idle_table(servers: dict[str, list[Result]]) -> list[str]:
    head = (
        "server",
        "RSS before",
        "RSS idle",
        "RSS idle+load",
        "idle open",
        "p99 plain",
        "p99 with idle",
    )
    rows: list[tuple[str, ...]] = [head]
    for name, runs in servers.items():
        measured = [run.idle for run in runs if run.idle is not None]
        if not measured:
            rows.append((name, *("-" * 6)))
            continue
        plains = [idle.plain.p99_ms for idle in measured if idle.plain]
        loaded = summarize(runs).median("p99_ms")
        before = _count(_median_count(measured, "still_open_before_load"))
        after = _count(_median_count(measured, "still_open_after_load"))
        rows.append(
            (
                name,
                _mib(_median_count(measured, "rss_before_kib")),
                _mib(_median_count(measured, "rss_idle_kib")),
                _mib(_median_count(measured, "rss_idle_after_load_kib")),
                f"{_median_count(measured, 'opened'):,}/{before}/{after}",
                _ms(statistics.median(plains)) if plains else "-",
                "FAILED" if loaded is None else _ms(loaded),
            )
        )
    return [
        *_align(rows),
        "  idle open: opened / still open before the load / still open after it "
        "(servers may cap connections or close idle keep-alive ones on a timeout);",
        "  with several rounds, each number is the median over the rounds",
    ]


def _median_count(measured: Sequence[IdleNumbers], name: str) -> int:
    # median_low: an observed value, so a count stays a count
    return int(statistics.median_low([getattr(idle, name) for idle in measured]))


def _lifecycle_table(results: Sequence[Result]) -> list[str]:
    head = (
        "server",
        "answered",
        "lost: reload",
        "kill",
        "stop",
        "refused",
        "reconnects",
        "wrong",
        "respawn: forked",
        "serving",
        "stop took",
    )
    rows: list[tuple[str, ...]] = [head]
    for result in results:
        numbers = result.lifecycle
        if numbers is None:
            rows.append((result.server, *("-" * 10)))
            continue
        phases = (numbers.reload, numbers.kill, numbers.stop)
        rows.append(
            (
                result.server,
                f"{sum(phase.answered for phase in phases):,}",
                *(f"{phase.lost:,}" for phase in phases),
                f"{sum(phase.refused for phase in phases):,}",
                f"{sum(phase.reconnects for phase in phases):,}",
                f"{sum(phase.wrong for phase in phases):,}",
                _optional_ms(numbers.respawn_forked_ms),
                _optional_ms(numbers.respawn_serving_ms),
                "-" if numbers.stop_seconds is None else f"{numbers.stop_seconds:.2f}s",
            )
        )
    return [
        *_align(rows),
        "  lost: sent without a complete answer, per phase (the kill phase includes what "
        "the killed worker had in flight);",
        "  refused, reconnects: nothing sent, nothing lost (connections refused or reset "
        "before a byte; keep-alive connections",
        "  found closed before reuse). respawn: from SIGKILL to a new worker process, and "
        "to its first answer (a few ms of resolution)",
    ]


def _optional_ms(value: float | None) -> str:
    return "n/a" if value is None else _ms(value)


def _align(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[col]) for row in rows) for col in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells).rstrip())
    return lines


def _ms(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}ms"
    return f"{value:.2f}ms"


def _count_float(value: float) -> str:
    return f"{value:,.0f}"


def _number(value: float) -> str:
    """Three significant digits or more: 0.123, 1.23, 12.3, 123, 1,234."""
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _count(value: int) -> str:
    return "?" if value < 0 else f"{value:,}"


def _mib(kib: int) -> str:
    return f"{kib / 1024:,.1f}MiB" if kib else "-"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
