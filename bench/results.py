"""Owns the record of one (server, scenario, round) measurement and its JSON form."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from bench.process import StopReport
from bench.wrk import WrkResult


@dataclass
class IdleNumbers:
    """Extra numbers of the ``idle`` scenario (RSS in KiB, summed over the tree)."""

    rss_before_kib: int = 0
    rss_idle_kib: int = 0
    rss_idle_after_load_kib: int = 0
    opened: int = 0
    failed: int = 0
    open_seconds: float = 0.0
    still_open_before_load: int = -1
    still_open_after_load: int = -1
    plain: WrkResult | None = None
    """The same hello load before the idle connections were opened."""

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {
            "rss_before_kib": self.rss_before_kib,
            "rss_idle_kib": self.rss_idle_kib,
            "rss_idle_after_load_kib": self.rss_idle_after_load_kib,
            "idle_opened": self.opened,
            "idle_failed": self.failed,
            "idle_open_seconds": round(self.open_seconds, 2),
            "idle_still_open_before_load": self.still_open_before_load,
            "idle_still_open_after_load": self.still_open_after_load,
            "plain_hello": self.plain.to_json() if self.plain else None,
        }


@dataclass
class PhaseNumbers:
    """One phase of the ``lifecycle`` scenario, as its load helper counted it."""

    answered: int = 0
    lost: int = 0
    """Sent without a complete answer (EOF, reset, or none within 10 s)."""
    refused: int = 0
    """No connection, or reset before a byte was sent: nothing lost."""
    reconnects: int = 0
    """Keep-alive connections found closed by the server before reuse: nothing lost."""
    wrong: int = 0
    """Complete answers other than 200."""


@dataclass
class LifecycleNumbers:
    """The ``lifecycle`` scenario (bench/lifecycle.py): lost requests and respawn times."""

    reload: PhaseNumbers = field(default_factory=PhaseNumbers)
    kill: PhaseNumbers = field(default_factory=PhaseNumbers)
    stop: PhaseNumbers = field(default_factory=PhaseNumbers)
    respawn_forked_ms: float | None = None
    respawn_serving_ms: float | None = None
    stop_seconds: float | None = None
    stop_returncode: int | None = None

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {
            "reload": asdict(self.reload),
            "kill": asdict(self.kill),
            "stop": asdict(self.stop),
            "respawn_forked_ms": rounded(self.respawn_forked_ms),
            "respawn_serving_ms": rounded(self.respawn_serving_ms),
            "stop_seconds": rounded(self.stop_seconds),
            "stop_returncode": self.stop_returncode,
        }


def rounded(value: float | None) -> float | None:
    """``value`` to three decimals for the JSON report (ms to the µs, ratios to 0.1 %)."""
    return None if value is None else round(value, 3)


def cpu_us_per_request(cpu_seconds: float | None, requests: int) -> float | None:
    """CPU time per completed request in microseconds, or None without both numbers."""
    if cpu_seconds is None or requests <= 0:
        return None
    return cpu_seconds / requests * 1e6


@dataclass
class Result:
    """Outcome of one server under one scenario in one round; ``error`` is set when it failed."""

    server: str
    scenario: str
    command: list[str]
    round: int = 1
    """1-based; every round is a fresh server process."""
    wrk_command: list[str] = field(default_factory=list)
    port: int = 0
    error: str | None = None
    wrk: WrkResult | None = None
    cpu_seconds: float | None = None
    """User + system CPU time of the server's process tree during the measured wrk run."""
    rss_kib: int = 0
    idle: IdleNumbers | None = None
    lifecycle: LifecycleNumbers | None = None
    stop: StopReport | None = None
    log: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None and (self.wrk is not None or self.lifecycle is not None)

    @property
    def cpu_us_per_request(self) -> float | None:
        """The server's CPU time per request completed in the measured run, in µs."""
        return cpu_us_per_request(self.cpu_seconds, self.wrk.requests if self.wrk else 0)

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict of every number and command."""
        stop = self.stop
        return {
            "server": self.server,
            "scenario": self.scenario,
            "round": self.round,
            "status": "ok" if self.ok else "failed",
            "error": self.error,
            "command": self.command,
            "wrk_command": self.wrk_command,
            "port": self.port,
            "wrk": self.wrk.to_json() if self.wrk else None,
            "cpu_seconds": rounded(self.cpu_seconds),
            "cpu_us_per_request": rounded(self.cpu_us_per_request),
            "rss_after_load_kib": self.rss_kib,
            "idle": self.idle.to_json() if self.idle else None,
            "lifecycle": self.lifecycle.to_json() if self.lifecycle else None,
            "stop": None
            if stop is None
            else {
                "returncode": stop.returncode,
                "killed": stop.killed,
                "seconds": round(stop.seconds, 3),
                "leftover_pids": stop.leftover_pids,
            },
            "log": self.log,
        }
