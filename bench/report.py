"""Owns the human-readable tables printed after the runs.

The ratio column is wsgiserver's requests/s divided by the peer's, both
measured in the same invocation: above 1.00 wsgiserver served more.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from bench.results import Result
from bench.scenarios import Scenario
from bench.servers import SUBJECT

_HEAD = ("server", "req/s", "p50", "p99", "http err", "sock err", f"{SUBJECT}/peer")


def ratio(subject: Result | None, peer: Result, metric: str = "rps") -> float | None:
    """wsgiserver / peer for requests/s (``rps``) or p99 latency (``p99``)."""
    if subject is None or subject.wrk is None or peer.wrk is None:
        return None
    if not subject.ok or not peer.ok:
        return None
    if metric == "rps":
        top, bottom = subject.wrk.requests_per_sec, peer.wrk.requests_per_sec
    else:
        top, bottom = subject.wrk.p99_ms, peer.wrk.p99_ms
    return top / bottom if bottom else None


def scenario_table(scenario: Scenario, results: Sequence[Result], duration: float) -> str:
    """The table of one scenario, with a title line and notes."""
    subject = next((r for r in results if r.server == SUBJECT), None)
    shape = (
        "16 keep-alive + 4 closing connections, fixed phases"
        if scenario.lifecycle
        else f"{scenario.connections} connections, {duration:g} s"
    )
    title = f"== {scenario.name}: {scenario.description}; {shape} =="
    rows: list[tuple[str, ...]] = [_HEAD]
    notes: list[str] = []
    for result in results:
        rows.append(_row(result, subject))
        if not result.ok:
            notes.append(f"  {result.server}: FAILED: {result.error}")
        stop = result.stop
        if stop is not None and stop.leftover_pids:
            notes.append(f"  {result.server}: processes left after stop: {stop.leftover_pids}")
        elif stop is not None and stop.killed:
            notes.append(f"  {result.server}: did not stop on SIGTERM, killed")
    if scenario.lifecycle:  # no wrk run to show: its own table only
        return "\n".join([title, *_lifecycle_table(results), *notes])
    lines = [title, *_align(rows), *notes]
    if scenario.idle_connections:
        lines += ["", *_idle_table(results)]
    return "\n".join(lines)


def commands_block(
    commands: dict[str, list[str]],
    title: str = "Server commands (one worker, pinned; PORT is picked per run)",
) -> str:
    """The exact server command lines, one per server."""
    lines = [f"{title}:"]
    lines += [f"  {name}: {shlex.join(command)}" for name, command in commands.items()]
    return "\n".join(lines)


def _row(result: Result, subject: Result | None) -> tuple[str, ...]:
    if not result.ok or result.wrk is None:
        return (result.server, "FAILED", "-", "-", "-", "-", "-")
    numbers = result.wrk
    rps_ratio = ratio(subject, result) if result.server != SUBJECT else None
    return (
        result.server,
        f"{numbers.requests_per_sec:,.0f}",
        _ms(numbers.p50_ms),
        _ms(numbers.p99_ms),
        str(numbers.non_2xx_3xx),
        str(numbers.total_socket_errors),
        "-" if result.server == SUBJECT else _ratio(rps_ratio),
    )


def _idle_table(results: Sequence[Result]) -> list[str]:
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
    for result in results:
        idle = result.idle
        if idle is None:
            rows.append((result.server, *("-" * 6)))
            continue
        plain = _ms(idle.plain.p99_ms) if idle.plain else "-"
        loaded = _ms(result.wrk.p99_ms) if result.ok and result.wrk else "FAILED"
        before = _count(idle.still_open_before_load)
        after = _count(idle.still_open_after_load)
        rows.append(
            (
                result.server,
                _mib(idle.rss_before_kib),
                _mib(idle.rss_idle_kib),
                _mib(idle.rss_idle_after_load_kib),
                f"{idle.opened:,}/{before}/{after}",
                plain,
                loaded,
            )
        )
    return [
        *_align(rows),
        "  idle open: opened / still open before the load / still open after it "
        "(servers may cap connections or close idle keep-alive ones on a timeout)",
    ]


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


def _count(value: int) -> str:
    return "?" if value < 0 else f"{value:,}"


def _mib(kib: int) -> str:
    return f"{kib / 1024:,.1f}MiB" if kib else "-"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
