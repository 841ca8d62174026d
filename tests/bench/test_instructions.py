"""`python -m bench.instructions`: the in-process driver and the reading of valgrind's output
(valgrind itself is not run here: its runs take tens of seconds each)."""

from __future__ import annotations

import pytest

from bench.instructions import drive, main, total_instructions


@pytest.mark.parametrize("scenario", ["hello", "post"])
def test_the_driver_answers_every_keep_alive_request(scenario: str) -> None:
    assert drive(scenario, 25) == 25


def test_the_total_is_read_from_the_summary_or_totals_line() -> None:
    head = "version: 1\ncreator: callgrind-3.19.0\ncmd: python\n"
    assert total_instructions(head + "summary: 123456789\n") == 123456789
    assert total_instructions(head + "fn=main\n1 5\ntotals: 42\n") == 42
    with pytest.raises(ValueError, match="no summary"):
        total_instructions(head)


def test_an_unknown_scenario_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--scenarios", "hello,nope"]) == 2
    assert capsys.readouterr().err == "bench.instructions: unknown scenario: nope\n"
