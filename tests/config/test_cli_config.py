"""`--print-config`, `--check-config` and `--config` through `python -m wsgiserver`."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.config.helpers import clean_environ
from wsgiserver.cli.main import main

APP = "def app(environ, start_response):\n    start_response('200 OK', [])\n    return [b'ok']\n"


def run(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wsgiserver", *args],
        cwd=cwd,
        env=clean_environ(**env),
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_print_config_shows_merged_values_and_sources(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.wsgiserver]\nthreads = 8\nmax-threads = 16\nbind = ["127.0.0.1:9000"]\n'
    )
    result = run(
        tmp_path,
        "--print-config",
        "--threads",
        "6",
        "--no-stream-chunked",
        "--reuse-port",
        "m:app",
        WSGISERVER_BACKLOG="100",
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = {line.split(" = ")[0]: line for line in result.stdout.splitlines()}
    pyproject = f"{tmp_path / 'pyproject.toml'} [tool.wsgiserver]"
    assert lines["threads"].endswith("# command line --threads")
    assert lines["max-threads"].endswith(f"# {pyproject}")
    assert lines["backlog"].endswith("# environment WSGISERVER_BACKLOG")
    assert lines["app"].endswith("# command line APP")
    assert lines["stream-chunked"].endswith("# command line --no-stream-chunked")
    assert lines["reuse-port"].endswith("# command line --reuse-port")
    assert lines["log-level"].endswith("# default")
    table = tomllib.loads(result.stdout)  # pasteable into a config file
    assert table["threads"] == 6
    assert table["bind"] == ["127.0.0.1:9000"]
    assert table["backlog"] == 100


def test_check_config_accepts_a_valid_setup_and_loads_the_app(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(APP)
    (tmp_path / "c.toml").write_text('app = "m:app"\nbind = "127.0.0.1:0"\n')
    result = run(tmp_path, "--check-config", "--config", "c.toml")
    assert result.returncode == 0, result.stderr
    assert "configuration OK" in result.stdout
    assert not (tmp_path / "access.log").exists()


def test_check_config_reports_one_line_per_error(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text('thrads = 2\nbind = ["x"]\n')
    result = run(
        tmp_path, "--check-config", "m:app", WSGISERVER_CONFIG="c.toml", WSGISERVER_FACTORY="maybe"
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("wsgiserver: error: thrads (config file ")
    assert "did you mean threads?" in lines[0]
    assert lines[1] == (
        "wsgiserver: error: WSGISERVER_FACTORY='maybe' (environment): "
        "expected a boolean: 1/0, true/false, yes/no or on/off"
    )


def test_check_config_fails_when_the_app_does_not_load(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(APP)
    result = run(tmp_path, "--check-config", "m:missing")
    assert result.returncode == 3
    assert "missing" in result.stderr


def test_check_config_validates_bind_syntax_and_names_its_source(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(APP)
    result = run(tmp_path, "--check-config", "m:app", WSGISERVER_BIND="127.0.0.1:99999")
    assert result.returncode == 2
    assert "bind from environment WSGISERVER_BIND" in result.stderr


def test_no_flag_overrides_a_true_from_the_environment(tmp_path: Path) -> None:
    result = run(tmp_path, "--print-config", "--no-factory", WSGISERVER_FACTORY="1")
    assert result.returncode == 0, result.stderr
    assert "factory = false" in result.stdout
    assert "# command line --no-factory" in result.stdout


def test_unknown_command_line_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--thrads", "2", "--print-config"])
    assert info.value.code == 2
    assert "--thrads" in capsys.readouterr().err


@pytest.mark.parametrize("text", [" 1_0 ", "\u0661\u0660"], ids=["underscore", "arabic-indic"])
def test_command_line_rejects_a_number_exactly_as_the_environment_does(
    text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Python's float() reads both texts as 10; no source of ours may (config.conversions).
    monkeypatch.chdir(tmp_path)  # no ./pyproject.toml
    for name in [name for name in os.environ if name.startswith("WSGISERVER_")]:
        monkeypatch.delenv(name)
    with pytest.raises(SystemExit) as info:
        main(["--print-config", "--keepalive-timeout", text, "m:app"])
    on_command_line = capsys.readouterr()
    monkeypatch.setenv("WSGISERVER_KEEPALIVE_TIMEOUT", text)
    code = main(["--print-config", "m:app"])
    in_environment = capsys.readouterr()
    assert info.value.code == code == 2
    assert on_command_line.out == in_environment.out == ""
    assert on_command_line.err == (
        f"wsgiserver: error: argument --keepalive-timeout: {text!r}: expected a number"
        " (see --help)\n"
    )
    assert in_environment.err == (
        f"wsgiserver: error: WSGISERVER_KEEPALIVE_TIMEOUT={text!r} (environment): "
        "expected a number\n"
    )


@pytest.mark.parametrize("name", ["http2-max-concurrent-streams", "http2-max-header-list-size"])
def test_an_http2_setting_beyond_32_bits_is_refused_from_every_source(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # RFC 9113 section 6.5.1: SETTINGS values are 32-bit; one more passed validation, and
    # then every HTTP/2 connection ended with a traceback serializing the SETTINGS frame.
    monkeypatch.chdir(tmp_path)
    for variable in [v for v in os.environ if v.startswith("WSGISERVER_")]:
        monkeypatch.delenv(variable)
    assert main(["--print-config", "--http2", f"--{name}", "4294967295", "m:app"]) == 0
    capsys.readouterr()
    assert main(["--print-config", "--http2", f"--{name}", "4294967296", "m:app"]) == 2
    field = name.replace("-", "_")
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"wsgiserver: error: {field} must be ")
    assert "..4294967295 (RFC 9113 section 6.5.1), got 4294967296" in line
    monkeypatch.setenv("WSGISERVER_" + field.upper(), "99999999999999999999999")
    assert main(["--print-config", "--http2", "m:app"]) == 2
    assert f"environment WSGISERVER_{field.upper()}" in capsys.readouterr().err
    monkeypatch.delenv("WSGISERVER_" + field.upper())
    (tmp_path / "pyproject.toml").write_text(f"[tool.wsgiserver]\n{name} = {2**40}\n")
    assert main(["--print-config", "--http2", "m:app"]) == 2
    assert "pyproject.toml [tool.wsgiserver]" in capsys.readouterr().err


def test_print_config_with_check_config_also_checks(tmp_path: Path) -> None:
    # With both flags the check was skipped: exit 0 for an app that cannot be imported, where
    # --check-config alone exits 3 (an operations probe: a deploy gate that passes anything).
    result = run(tmp_path, "--print-config", "--check-config", "nosuch:app")
    assert result.returncode == 3, result.stderr
    assert "threads = " in result.stdout  # printed, then checked
    (tmp_path / "good.py").write_text(APP)
    result = run(tmp_path, "--print-config", "--check-config", "good:app")
    assert result.returncode == 0, result.stderr
    assert "threads = " in result.stdout
