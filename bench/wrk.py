"""Owns the load generator: building wrk command lines and parsing wrk's report."""

from __future__ import annotations

import re
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

THREADS = 1
"""wrk threads: one, since wrk is pinned to a single CPU."""
TIMEOUT = "5s"
"""Per-request timeout; slower responses count as socket timeouts."""

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_DURATION_S = {"us": 1e-6, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


class WrkError(RuntimeError):
    """wrk failed or printed something this module cannot read."""


@dataclass(frozen=True)
class WrkResult:
    """The numbers from one load run, wrk's (or h2load's for the HTTP/2 scenarios, see
    ``bench/h2load.py``); latencies in milliseconds."""

    requests: int
    seconds: float
    requests_per_sec: float
    latency_avg_ms: float
    latency_max_ms: float
    percentiles_ms: dict[str, float]
    non_2xx_3xx: int
    socket_errors: dict[str, int] = field(default_factory=dict)
    failed: int = 0
    """Requests h2load counted as failed (errored, timed out, or status 400 and above); wrk
    has no such count and leaves it 0."""

    @property
    def p50_ms(self) -> float:
        return self.percentiles_ms["50"]

    @property
    def p99_ms(self) -> float:
        return self.percentiles_ms["99"]

    @property
    def total_socket_errors(self) -> int:
        return sum(self.socket_errors.values())

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict of every number."""
        data = asdict(self)
        data["total_socket_errors"] = self.total_socket_errors
        return data


def command(
    wrk: Path,
    cpu: int,
    url: str,
    connections: int,
    seconds: float,
    headers: tuple[str, ...] = (),
    script: Path | None = None,
) -> list[str]:
    """A pinned wrk command line with latency percentiles enabled."""
    cmd = [
        "taskset",
        "-c",
        str(cpu),
        str(wrk),
        "-t",
        str(THREADS),
        "-c",
        str(connections),
        "-d",
        f"{max(1, round(seconds))}s",
        "--timeout",
        TIMEOUT,
        "--latency",
    ]
    for header in headers:
        cmd += ["-H", header]
    if script is not None:
        cmd += ["-s", str(script)]
    cmd.append(url)
    return cmd


def run(cmd: list[str], seconds: float) -> WrkResult:
    """Run wrk and parse its report; raises WrkError."""
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=seconds + 30, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise WrkError("wrk did not finish in time") from exc
    if done.returncode != 0:
        raise WrkError(f"wrk exited {done.returncode}: {done.stderr.strip() or done.stdout}")
    return parse(done.stdout)


def parse(report: str) -> WrkResult:
    """Parse wrk's text report (run with ``--latency``)."""
    latency = re.search(r"^\s*Latency\s+(\S+)\s+\S+\s+(\S+)", report, re.M)
    totals = re.search(r"^\s*(\d+) requests in ([\d.]+\w+)", report, re.M)
    rate = re.search(r"^Requests/sec:\s*([\d.]+)", report, re.M)
    if latency is None or totals is None or rate is None:
        raise WrkError(f"unexpected wrk output: {report.strip()[:200]!r}")
    percentiles = {
        match[1]: _ms(match[2])
        for match in re.finditer(r"^\s*(50|75|90|99)(?:\.0+)?%\s+(\S+)", report, re.M)
    }
    if "50" not in percentiles or "99" not in percentiles:
        raise WrkError("wrk output has no latency distribution (was --latency given?)")
    sockets: dict[str, int] = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", report
    )
    if errors is not None:
        sockets = dict(zip(sockets, (int(value) for value in errors.groups()), strict=True))
    non_ok = re.search(r"Non-2xx or 3xx responses: (\d+)", report)
    return WrkResult(
        requests=int(totals[1]),
        seconds=_seconds(totals[2]),
        requests_per_sec=float(rate[1]),
        latency_avg_ms=_ms(latency[1]),
        latency_max_ms=_ms(latency[2]),
        percentiles_ms=percentiles,
        non_2xx_3xx=int(non_ok[1]) if non_ok else 0,
        socket_errors=sockets,
    )


def _split(value: str) -> tuple[float, str]:
    match = re.fullmatch(r"([\d.]+)([a-z]+)", value)
    if match is None:
        raise WrkError(f"cannot read wrk value {value!r}")
    return float(match[1]), match[2]


def _ms(value: str) -> float:
    number, unit = _split(value)
    return number * _UNITS_MS[unit]


def _seconds(value: str) -> float:
    number, unit = _split(value)
    return number * _DURATION_S[unit]
