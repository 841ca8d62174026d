"""The benchmark's rounds: the order of runs, medians and spread, CPU per request, ratios."""

from __future__ import annotations

import json

import pytest

from bench.results import cpu_us_per_request
from bench.rounds import Spread, alternating, ratio, ratios, summarize, to_json
from bench.scenarios import SCENARIOS
from tests.bench.helpers import run


def test_servers_alternate_round_after_round_within_each_scenario() -> None:
    plan = alternating([SCENARIOS["hello"], SCENARIOS["django"]], ["wsgiserver", "granian"], 3)
    assert [(r.scenario.name, r.round, r.server) for r in plan] == [
        ("hello", 1, "wsgiserver"),
        ("hello", 1, "granian"),
        ("hello", 2, "wsgiserver"),
        ("hello", 2, "granian"),
        ("hello", 3, "wsgiserver"),
        ("hello", 3, "granian"),
        ("django", 1, "wsgiserver"),
        ("django", 1, "granian"),
        ("django", 2, "wsgiserver"),
        ("django", 2, "granian"),
        ("django", 3, "wsgiserver"),
        ("django", 3, "granian"),
    ]


def test_lifecycle_runs_once_whatever_the_rounds() -> None:
    # It counts lost requests over fixed phases: an outcome, not a rate to take a median of.
    plan = alternating([SCENARIOS["lifecycle"], SCENARIOS["sleep"]], ["wsgiserver"], 5)
    assert [(r.scenario.name, r.round) for r in plan] == [("lifecycle", 1)] + [
        ("sleep", number) for number in range(1, 6)
    ]


def test_one_round_is_one_run_per_server() -> None:
    plan = alternating([SCENARIOS["post"]], ["wsgiserver", "waitress", "bjoern"], 1)
    assert [(r.round, r.server) for r in plan] == [
        (1, "wsgiserver"),
        (1, "waitress"),
        (1, "bjoern"),
    ]


@pytest.mark.parametrize(
    ("values", "median", "low", "high"),
    [
        ([3.0], 3.0, 3.0, 3.0),
        ([5.0, 1.0, 4.0], 4.0, 1.0, 5.0),
        ([10.0, 40.0, 20.0, 30.0], 25.0, 10.0, 40.0),  # even: the mean of the middle two
        ([7.0, 1.0, 9.0, 2.0, 100.0], 7.0, 1.0, 100.0),  # one outlier moves min-max, not it
    ],
)
def test_spread_is_the_median_with_the_lowest_and_highest(
    values: list[float], median: float, low: float, high: float
) -> None:
    spread = Spread.of(values)
    assert spread is not None
    assert (spread.median, spread.low, spread.high) == (median, low, high)
    assert spread.values == tuple(values)  # kept in round order for the JSON


def test_no_values_have_no_spread() -> None:
    assert Spread.of([]) is None


def test_cpu_per_request_is_microseconds_of_cpu_over_requests() -> None:
    assert cpu_us_per_request(0.5, 10_000) == pytest.approx(50.0)
    assert cpu_us_per_request(2.0, 1_000) == pytest.approx(2_000.0)
    assert cpu_us_per_request(None, 10_000) is None  # not sampled (the server died)
    assert cpu_us_per_request(0.5, 0) is None  # nothing completed: no per-request number


def test_a_run_reports_cpu_per_request_from_its_own_wrk_count() -> None:
    assert run("wsgiserver", 1, 900.0, cpu_seconds=0.3, requests=2_000).cpu_us_per_request == (
        pytest.approx(150.0)
    )


def test_summary_takes_medians_and_spread_over_the_rounds() -> None:
    runs = [
        run("granian", 1, 800.0, 40.0, cpu_seconds=1.2, requests=8_000),
        run("granian", 2, 1000.0, 20.0, cpu_seconds=1.0, requests=10_000),
        run("granian", 3, 900.0, 30.0, cpu_seconds=0.99, requests=9_000),
    ]
    summary = summarize(runs)
    assert (summary.server, summary.scenario, summary.rounds, summary.ok_rounds) == (
        "granian",
        "hello",
        3,
        3,
    )
    rps = summary.metrics["requests_per_sec"]
    assert (rps.median, rps.low, rps.high) == (900.0, 800.0, 1000.0)
    p99 = summary.metrics["p99_ms"]
    assert (p99.median, p99.low, p99.high) == (30.0, 20.0, 40.0)
    assert summary.median("p50_ms") == 7.5
    cpu = summary.metrics["cpu_us_per_request"]
    assert cpu.values == pytest.approx((150.0, 100.0, 110.0))
    assert (cpu.median, cpu.low, cpu.high) == pytest.approx((110.0, 100.0, 150.0))


def test_failed_rounds_are_left_out_and_counted() -> None:
    runs = [
        run("waitress", 1, 500.0, http_errors=2),
        run("waitress", 2, 10.0, error="server exited during the run", http_errors=50),
        run("waitress", 3, 700.0, timeouts=3),
    ]
    summary = summarize(runs)
    assert (summary.rounds, summary.ok_rounds) == (3, 2)
    assert summary.median("requests_per_sec") == 600.0
    assert summary.metrics["requests_per_sec"].low == 500.0  # not the failed round's 10
    assert (summary.http_errors, summary.socket_errors) == (2, 3)


def test_a_server_that_failed_every_round_has_no_numbers() -> None:
    summary = summarize([run("bjoern", 1, 1.0, error="not installed: no libev")])
    assert (summary.ok_rounds, summary.metrics) == (0, {})
    assert summary.median("requests_per_sec") is None


def test_a_round_without_cpu_time_still_counts_for_the_other_numbers() -> None:
    summary = summarize([run("gunicorn", 1, 100.0, cpu_seconds=None), run("gunicorn", 2, 300.0)])
    assert summary.median("requests_per_sec") == 200.0
    assert summary.metrics["cpu_us_per_request"].values == (100.0,)


def test_nothing_to_summarize_is_an_error() -> None:
    with pytest.raises(ValueError, match="no runs"):
        summarize([])


def test_ratio_of_medians_and_per_round_ratios_are_both_reported() -> None:
    subject = [run("wsgiserver", n, rps) for n, rps in ((1, 100.0), (2, 200.0), (3, 300.0))]
    peer = [run("granian", n, rps) for n, rps in ((1, 100.0), (2, 100.0), (3, 600.0))]
    found = ratio(subject, peer, "requests_per_sec")
    assert found.of_medians == pytest.approx(2.0)  # 200 / 100
    assert found.per_round is not None
    assert found.per_round.values == pytest.approx((1.0, 2.0, 0.5))  # round by round
    assert found.per_round.median == pytest.approx(1.0)
    assert (found.per_round.low, found.per_round.high) == pytest.approx((0.5, 2.0))


def test_per_round_ratios_pair_only_rounds_both_servers_completed() -> None:
    subject = [run("wsgiserver", 1, 100.0), run("wsgiserver", 2, 1.0, error="failed")]
    subject.append(run("wsgiserver", 3, 300.0))
    peer = [run("granian", 1, 50.0), run("granian", 2, 100.0), run("granian", 3, 1.0, error="x")]
    found = ratio(subject, peer, "requests_per_sec")
    assert found.per_round is not None
    assert found.per_round.values == pytest.approx((2.0,))  # round 1 only
    assert found.of_medians == pytest.approx(200.0 / 75.0)


def test_ratio_is_none_without_numbers_on_one_side() -> None:
    found = ratio([run("wsgiserver", 1, 100.0, error="failed")], [run("granian", 1, 100.0)])
    assert (found.of_medians, found.per_round) == (None, None)


def test_every_ratio_divides_wsgiserver_by_the_peer() -> None:
    subject = [run("wsgiserver", 1, 1000.0, 30.0, cpu_seconds=2.0, requests=10_000)]
    peer = [run("granian", 1, 2000.0, 10.0, cpu_seconds=1.0, requests=10_000)]
    found = ratios(subject, peer)
    assert set(found) == {"requests_per_sec", "p99", "cpu_per_request"}
    assert found["requests_per_sec"].of_medians == pytest.approx(0.5)
    assert found["p99"].of_medians == pytest.approx(3.0)
    assert found["cpu_per_request"].of_medians == pytest.approx(2.0)


def test_json_has_every_round_value_and_the_medians_of_every_scenario() -> None:
    runs = [
        run("wsgiserver", 1, 1000.0, cpu_seconds=1.5),
        run("granian", 1, 2000.0),
        run("wsgiserver", 2, 3000.0, cpu_seconds=0.5),
        run("granian", 2, 1000.0, error="wrk exited 1"),
        run("wsgiserver", 1, 50.0, scenario="django-db"),
    ]
    data = json.loads(json.dumps(to_json(["hello", "django-db"], runs)))
    ours = data["summary"]["hello"]["wsgiserver"]
    assert (ours["rounds"], ours["ok_rounds"]) == (2, 2)
    assert ours["requests_per_sec"] == {
        "median": 2000.0,
        "min": 1000.0,
        "max": 3000.0,
        "values": [1000.0, 3000.0],
    }
    assert ours["cpu_us_per_request"]["values"] == [150.0, 50.0]
    assert set(ours) >= {"p50_ms", "p99_ms", "http_errors", "socket_errors"}
    assert data["summary"]["hello"]["granian"]["ok_rounds"] == 1
    rps = data["ratios"]["hello"]["granian"]["requests_per_sec"]
    assert rps["of_medians"] == 1.0  # 2,000 / 2,000
    assert rps["per_round"]["values"] == [0.5]  # round 2 failed for granian
    assert data["ratios"]["django-db"] == {}  # no peer ran it
    assert list(data["summary"]["django-db"]) == ["wsgiserver"]
