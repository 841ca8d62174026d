"""Fake benchmark runs for the harness's pure functions: no server, no wrk."""

from __future__ import annotations

from bench.results import Result
from bench.wrk import WrkResult


def run(
    server: str,
    number: int,
    rps: float,
    p99_ms: float = 10.0,
    *,
    scenario: str = "hello",
    cpu_seconds: float | None = 1.0,
    requests: int = 10_000,
    http_errors: int = 0,
    timeouts: int = 0,
    error: str | None = None,
) -> Result:
    """A finished run of ``server`` in round ``number`` with the given numbers."""
    result = Result(server, scenario, ["true"], round=number, error=error)
    result.wrk = WrkResult(
        requests=requests,
        seconds=1.0,
        requests_per_sec=rps,
        latency_avg_ms=p99_ms / 2,
        latency_max_ms=p99_ms * 2,
        percentiles_ms={"50": p99_ms / 4, "75": p99_ms / 2, "90": p99_ms / 1.5, "99": p99_ms},
        non_2xx_3xx=http_errors,
        socket_errors={"connect": 0, "read": 0, "write": 0, "timeout": timeouts},
    )
    result.cpu_seconds = cpu_seconds
    return result
