"""Owns what repeated rounds make of single runs: their order, medians, spread and ratios.

On a shared machine one run proves little: the load of other processes moves
requests/s by 20 % or more from one minute to the next.  So each scenario is
run in rounds, and within a round every server once, in the same order
(wsgiserver, granian, ..., wsgiserver, granian, ...): neighbours in time see
the same machine, and a slow minute hits every server instead of one.  Each
number is then reported as the median over the rounds that succeeded, with
its spread as the lowest and the highest value (with five rounds a quartile
is not worth its name).  Ratios to wsgiserver are computed from the medians;
the ratios of each round (a server against wsgiserver in the same round) are
kept as well, with their median and range.

Pure functions only: nothing here starts a server or formats text.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.results import Result, rounded
from bench.scenarios import Scenario
from bench.servers import SUBJECT


@dataclass(frozen=True)
class Run:
    """One planned run: a fresh server process for one scenario in one round."""

    scenario: Scenario
    round: int
    """1-based."""
    server: str


def rounds_of(scenario: Scenario, rounds: int) -> int:
    """How many rounds ``scenario`` gets: one for ``lifecycle``, which counts lost requests
    (an outcome that must be zero, not a rate to average) in phases of fixed length."""
    return 1 if scenario.lifecycle else rounds


def alternating(scenarios: Sequence[Scenario], servers: Sequence[str], rounds: int) -> list[Run]:
    """Every run in order: scenario after scenario; within one, round after round of every
    server in the given order."""
    return [
        Run(scenario, number, server)
        for scenario in scenarios
        for number in range(1, rounds_of(scenario, rounds) + 1)
        for server in servers
    ]


@dataclass(frozen=True)
class Spread:
    """The median of some values, with the lowest and the highest of them."""

    median: float
    low: float
    high: float
    values: tuple[float, ...]
    """In round order."""

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread | None:
        """The spread of ``values``, or None when there is none."""
        if not values:
            return None
        return cls(statistics.median(values), min(values), max(values), tuple(values))

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {
            "median": rounded(self.median),
            "min": rounded(self.low),
            "max": rounded(self.high),
            "values": [rounded(value) for value in self.values],
        }


Metric = Callable[[Result], float | None]
"""Reads one number from a successful run (None when that run has none)."""

METRICS: dict[str, Metric] = {
    "requests_per_sec": lambda r: r.wrk.requests_per_sec if r.wrk else None,
    "p50_ms": lambda r: r.wrk.p50_ms if r.wrk else None,
    "p99_ms": lambda r: r.wrk.p99_ms if r.wrk else None,
    "cpu_us_per_request": lambda r: r.cpu_us_per_request,
}
"""The numbers that get a median and a spread, by their JSON name."""

RATIOS: dict[str, str] = {
    "requests_per_sec": "requests_per_sec",
    "p99": "p99_ms",
    "cpu_per_request": "cpu_us_per_request",
}
"""The ratios to wsgiserver (JSON name -> metric); requests_per_sec above 1, the others
below 1 favour wsgiserver."""


@dataclass(frozen=True)
class Summary:
    """One server under one scenario over all its rounds."""

    server: str
    scenario: str
    rounds: int
    ok_rounds: int
    metrics: dict[str, Spread]
    """Metric name -> spread over the successful rounds (absent when none had the number)."""
    http_errors: int
    """wrk's non-2xx/3xx responses, summed over the successful rounds."""
    socket_errors: int
    """wrk's socket errors, summed over the successful rounds."""

    def median(self, metric: str) -> float | None:
        """The median of ``metric``, or None."""
        spread = self.metrics.get(metric)
        return None if spread is None else spread.median

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {
            "rounds": self.rounds,
            "ok_rounds": self.ok_rounds,
            **{name: spread.to_json() for name, spread in self.metrics.items()},
            "http_errors": self.http_errors,
            "socket_errors": self.socket_errors,
        }


def summarize(runs: Sequence[Result]) -> Summary:
    """The summary of the rounds of one server under one scenario (``runs`` in round order)."""
    if not runs:
        raise ValueError("no runs to summarize")
    ok = [run for run in runs if run.ok]
    metrics: dict[str, Spread] = {}
    for name, metric in METRICS.items():
        spread = Spread.of(_values(ok, metric))
        if spread is not None:
            metrics[name] = spread
    return Summary(
        server=runs[0].server,
        scenario=runs[0].scenario,
        rounds=len(runs),
        ok_rounds=len(ok),
        metrics=metrics,
        http_errors=sum(run.wrk.non_2xx_3xx for run in ok if run.wrk),
        socket_errors=sum(run.wrk.total_socket_errors for run in ok if run.wrk),
    )


@dataclass(frozen=True)
class Ratio:
    """wsgiserver's number divided by a peer's, for one metric."""

    of_medians: float | None
    """wsgiserver's median over the peer's median: what the tables show."""
    per_round: Spread | None
    """The ratios of the rounds in which both succeeded (same round, neighbours in time)."""

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {
            "of_medians": rounded(self.of_medians),
            "per_round": None if self.per_round is None else self.per_round.to_json(),
        }


def ratio(
    subject: Sequence[Result], peer: Sequence[Result], metric: str = "requests_per_sec"
) -> Ratio:
    """wsgiserver / peer for ``metric`` (a key of :data:`METRICS`) over their rounds."""
    read = METRICS[metric]
    top, bottom = _median(subject, read), _median(peer, read)
    of_medians = _divide(top, bottom)
    subject_rounds = {run.round: run for run in subject if run.ok}
    per_round = [
        _divide(read(subject_rounds[run.round]), read(run))
        for run in peer
        if run.ok and run.round in subject_rounds
    ]
    return Ratio(of_medians, Spread.of([value for value in per_round if value is not None]))


def ratios(subject: Sequence[Result], peer: Sequence[Result]) -> dict[str, Ratio]:
    """Every ratio of :data:`RATIOS`, by its JSON name."""
    return {name: ratio(subject, peer, metric) for name, metric in RATIOS.items()}


def by_server(runs: Sequence[Result]) -> dict[str, list[Result]]:
    """``runs`` grouped by server, servers and rounds in the order they ran."""
    grouped: dict[str, list[Result]] = {}
    for run in runs:
        grouped.setdefault(run.server, []).append(run)
    return grouped


def to_json(scenarios: Sequence[str], runs: Sequence[Result]) -> dict[str, object]:
    """``summary`` (scenario -> server -> :class:`Summary`) and ``ratios`` (scenario -> peer
    -> ratio name -> :class:`Ratio`) of ``runs``, JSON-ready."""
    summary: dict[str, object] = {}
    found: dict[str, object] = {}
    for scenario in scenarios:
        servers = by_server([run for run in runs if run.scenario == scenario])
        summary[scenario] = {name: summarize(rounds).to_json() for name, rounds in servers.items()}
        subject = servers.get(SUBJECT, [])
        found[scenario] = {
            name: {key: value.to_json() for key, value in ratios(subject, rounds).items()}
            for name, rounds in servers.items()
            if name != SUBJECT
        }
    return {"summary": summary, "ratios": found}


def _values(runs: Sequence[Result], metric: Metric) -> list[float]:
    return [value for value in map(metric, runs) if value is not None]


def _median(runs: Sequence[Result], metric: Metric) -> float | None:
    values = _values([run for run in runs if run.ok], metric)
    return statistics.median(values) if values else None


def _divide(top: float | None, bottom: float | None) -> float | None:
    if top is None or bottom is None or bottom == 0:
        return None
    return top / bottom
