"""Secret options (`secret=True` in their metadata, such as `keyfile_password`) never appear
in any output: `--print-config`, `repr(config)`, error messages from every source, `--help`.

Every place that quotes an option's value goes through `config.options.shown`; the tests of
error messages make an ordinary whole-number option secret for a moment, so that each source
has a value it can reject and quote (a string option such as the password accepts any text).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from pathlib import Path

import pytest

from tests.config.helpers import clean_environ
from wsgiserver.cli.main import main
from wsgiserver.config import options
from wsgiserver.config.options import HIDDEN, Config
from wsgiserver.config.paste_ini import options_from_ini
from wsgiserver.config.sources import ConfigSourceError, load_config, render_config
from wsgiserver.errors import ConfigError

PASSWORD = "hunter2-do-not-print"
NOT_A_NUMBER = "hunter3-do-not-print"


def test_the_keyfile_password_is_declared_secret_once() -> None:
    secret = [f.name for f in dataclasses.fields(Config) if f.metadata["secret"]]
    assert secret == ["keyfile_password"]
    assert all(not f.repr for f in dataclasses.fields(Config) if f.metadata["secret"])


def test_repr_of_a_config_leaves_the_secret_out() -> None:
    config = Config(certfile="server.pem", keyfile_password=PASSWORD)
    assert config.keyfile_password == PASSWORD
    assert PASSWORD not in repr(config)
    assert PASSWORD not in str(config)
    assert "certfile='server.pem'" in repr(config)


@pytest.mark.parametrize("how", ["command line", "environment", "config file"])
def test_print_config_hides_the_password_and_says_where_it_came_from(
    tmp_path: Path,
    how: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in set(os.environ) - set(clean_environ()):
        monkeypatch.delenv(name)  # the WSGISERVER_* variables of this process
    args = ["--print-config", "--certfile", "server.pem", "m:app"]
    if how == "command line":
        args[:0] = ["--keyfile-password", PASSWORD]
        source = "command line --keyfile-password"
    elif how == "environment":
        monkeypatch.setenv("WSGISERVER_KEYFILE_PASSWORD", PASSWORD)
        source = "environment WSGISERVER_KEYFILE_PASSWORD"
    else:
        (tmp_path / "server.toml").write_text(f'keyfile-password = "{PASSWORD}"\n')
        args[:0] = ["--config", "server.toml"]
        source = f"config file {tmp_path / 'server.toml'}"
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert PASSWORD not in out + err
    line = next(line for line in out.splitlines() if "keyfile-password" in line)
    assert line.startswith(f"# keyfile-password = {HIDDEN} ")
    assert line.endswith(f"# {source}")
    assert "keyfile-password" not in tomllib.loads(out)  # a comment: never a fake value


def test_render_config_of_an_unset_secret_is_the_usual_not_set(tmp_path: Path) -> None:
    text = render_config(load_config({"app": "m:app"}, environ={}, cwd=tmp_path))
    assert "# keyfile-password = (not set)" in text


@pytest.fixture
def threads_are_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `threads` secret for one test, as if it were declared with `secret=True`."""
    monkeypatch.setattr(options, "_secret_names", lambda: frozenset({"threads"}))


@pytest.mark.usefixtures("threads_are_secret")
def test_a_config_error_from_python_does_not_quote_a_secret() -> None:
    with pytest.raises(ConfigError) as info:
        Config(threads=NOT_A_NUMBER)  # type: ignore[arg-type]
    assert str(info.value) == f"threads: expected a whole number, got {HIDDEN}"


@pytest.mark.usefixtures("threads_are_secret")
@pytest.mark.parametrize("source", ["environment", "config file", "pyproject"])
def test_errors_of_every_file_and_environment_source_do_not_quote_a_secret(
    tmp_path: Path, source: str
) -> None:
    environ: dict[str, str] = {}
    config_file = None
    if source == "environment":
        environ["WSGISERVER_THREADS"] = NOT_A_NUMBER
    elif source == "config file":
        (tmp_path / "server.toml").write_text(f'threads = "{NOT_A_NUMBER}"\n')
        config_file = "server.toml"
    else:
        (tmp_path / "pyproject.toml").write_text(f'[tool.wsgiserver]\nthreads = "{NOT_A_NUMBER}"\n')
    with pytest.raises(ConfigSourceError) as info:
        load_config({}, config_file=config_file, environ=environ, cwd=tmp_path)
    message = str(info.value)
    assert NOT_A_NUMBER not in message
    assert HIDDEN in message


@pytest.mark.usefixtures("threads_are_secret")
def test_a_paste_ini_error_does_not_quote_a_secret() -> None:
    with pytest.raises(ConfigError) as info:
        options_from_ini({"threads": NOT_A_NUMBER})
    assert NOT_A_NUMBER not in str(info.value)
    assert HIDDEN in str(info.value)


@pytest.mark.usefixtures("threads_are_secret")
def test_a_command_line_error_does_not_quote_a_secret(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["--threads", NOT_A_NUMBER, "m:app"])
    err = capsys.readouterr().err
    assert NOT_A_NUMBER not in err
    assert f"argument --threads: {HIDDEN}: expected a whole number" in err


def test_help_says_the_password_is_secret_and_where_else_to_give_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "a secret, never shown" in text
    assert "prefer WSGISERVER_KEYFILE_PASSWORD" in text
