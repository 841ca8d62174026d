"""The benchmark's tables and command line, from fake runs (no server, no wrk)."""

from __future__ import annotations

import pytest

from bench.cli import parse_args
from bench.report import scenario_table
from bench.scenarios import SCENARIOS
from tests.bench.helpers import run


def _rows(table: str) -> dict[str, list[str]]:
    """Cells of each server's row, split on runs of two spaces or more."""
    rows: dict[str, list[str]] = {}
    for line in table.splitlines()[2:]:
        cells = [cell.strip() for cell in line.split("  ") if cell.strip()]
        if cells and not line.startswith(" "):
            rows[cells[0]] = cells[1:]
    return rows


def test_table_shows_medians_ranges_and_ratios_of_medians() -> None:
    runs = []
    for number, (ours, theirs) in enumerate(((1000.0, 2000.0), (3000.0, 1500.0), (2000.0, 1000.0))):
        runs.append(run("wsgiserver", number + 1, ours, 30.0 + number, cpu_seconds=0.5))
        runs.append(run("granian", number + 1, theirs, 10.0, cpu_seconds=0.25))
    table = scenario_table(SCENARIOS["django"], runs, 10.0)
    title, head = table.splitlines()[:2]
    assert "3 rounds: median (min-max)" in title
    assert head.split()[:4] == ["server", "req/s", "p50", "ms"]
    rows = _rows(table)
    assert rows["wsgiserver"] == [
        "2,000 (1,000-3,000)",
        "7.75 (7.50-8.00)",
        "31.0 (30.0-32.0)",
        "50.0 (50.0-50.0)",
        "0",
        "0",
        "-",
        "-",
    ]
    # ratios of the medians (2,000 / 1,500; 31 / 10), then the range of the per-round ratios
    assert rows["granian"][-2:] == ["1.33 (0.50-2.00)", "3.10 (3.00-3.20)"]
    assert rows["granian"][3] == "25.0 (25.0-25.0)"  # 0.25 s over 10,000 requests


def test_one_round_shows_plain_numbers() -> None:
    table = scenario_table(
        SCENARIOS["hello"], [run("wsgiserver", 1, 45_000.0), run("waitress", 1, 15_000.0)], 10.0
    )
    assert "rounds" not in table.splitlines()[0]
    assert _rows(table)["waitress"] == ["15,000", "2.50", "10.0", "100", "0", "0", "3.00", "1.00"]


def test_a_failed_round_is_named_under_the_table() -> None:
    runs = [
        run("wsgiserver", 1, 100.0),
        run("granian", 1, 100.0),
        run("wsgiserver", 2, 100.0),
        run("granian", 2, 1.0, error="server exited during the run: boom"),
    ]
    table = scenario_table(SCENARIOS["hello"], runs, 10.0)
    assert "  granian (round 2): FAILED: server exited during the run: boom" in table.splitlines()
    assert _rows(table)["granian"][0] == "100 (100-100)"


def test_a_server_failing_every_round_gets_a_failed_row() -> None:
    runs = [run("wsgiserver", 1, 100.0), run("bjoern", 1, 1.0, error="not installed: no libev")]
    table = scenario_table(SCENARIOS["hello"], runs, 10.0)
    assert _rows(table)["bjoern"][0] == "FAILED"


def test_rounds_option_defaults_to_one_and_refuses_less() -> None:
    assert parse_args([]).rounds == 1
    assert parse_args(["--rounds", "5"]).rounds == 5


@pytest.mark.parametrize("value", ["0", "-1", "five", "2.5"])
def test_rounds_must_be_a_whole_number_of_at_least_one(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(["--rounds", value])
    assert exited.value.code == 2
    assert "--rounds: must be a whole number of at least 1" in capsys.readouterr().err
