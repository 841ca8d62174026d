"""`python -m bench.embed`: its arguments are checked before it prepares its venv."""

from __future__ import annotations

import pytest

from bench import embed


def test_help_and_bad_arguments_install_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Preparing bench/.venv pip-installs the peer servers: --help or a typo must not.
    def no_venv(argv: list[str]) -> None:
        raise AssertionError("the venv was prepared")

    monkeypatch.setattr(embed, "_reexec_in_venv", no_venv)
    with pytest.raises(SystemExit) as helped:
        embed.main(["--help"])
    assert helped.value.code == 0
    with pytest.raises(SystemExit) as refused:
        embed.main(["--servers", "no-such-server"])
    assert refused.value.code == 2
