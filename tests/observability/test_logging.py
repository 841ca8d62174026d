"""--log-config (JSON and TOML dictConfig), and request ids in error logs and tracebacks."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.helpers import RawClient
from tests.supervisor.helpers import ROOT
from wsgiserver.errors import ConfigError
from wsgiserver.observability.logconfig import (
    check_log_config,
    configure_logging,
    reopen_log_files,
)
from wsgiserver.testing import serving

NAMES = ("wsgiserver", "wsgiserver.error", "wsgiserver.access")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    saved = [
        (logger, list(logger.handlers), logger.level, logger.propagate, logger.disabled)
        for logger in map(logging.getLogger, NAMES)
    ]
    yield
    for logger, handlers, level, propagate, disabled in saved:
        for handler in logger.handlers:
            if handler not in handlers:
                handler.close()
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate
        logger.disabled = disabled


def dict_config(path: Path) -> dict[str, object]:
    return {
        "version": 1,
        "formatters": {"plain": {"format": "%(name)s|%(levelname)s|%(message)s"}},
        "handlers": {
            "file": {"class": "logging.FileHandler", "filename": str(path), "formatter": "plain"}
        },
        "loggers": {"wsgiserver": {"handlers": ["file"], "level": "INFO", "propagate": False}},
    }


TOML = """\
version = 1
[formatters.plain]
format = "%(name)s|%(levelname)s|%(message)s"
[handlers.file]
class = "logging.FileHandler"
filename = "{path}"
formatter = "plain"
[loggers.wsgiserver]
handlers = ["file"]
level = "INFO"
propagate = false
"""


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("kind", ["json", "toml"])
def test_log_config_is_applied_instead_of_the_defaults(kind: str, tmp_path: Path) -> None:
    out = tmp_path / "out.log"
    config_file = tmp_path / f"logging.{kind}"
    if kind == "json":
        config_file.write_text(json.dumps(dict_config(out)))
    else:
        config_file.write_text(TOML.format(path=out))
    configure_logging(
        log_config=str(config_file), log_level="info", access_log=str(tmp_path / "a.log")
    )
    logging.getLogger("wsgiserver.error").warning("hello from %s", kind)
    logging.getLogger("wsgiserver.access").info("an access line")
    for handler in logging.getLogger("wsgiserver").handlers:
        handler.flush()
    text = out.read_text()
    assert f"wsgiserver.error|WARNING|hello from {kind}" in text
    # The dictConfig gave wsgiserver.access no handler: --access-log's file gets the lines.
    assert "an access line" not in text
    for handler in logging.getLogger("wsgiserver.access").handlers:
        handler.flush()
    assert (tmp_path / "a.log").read_text() == "an access line\n"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("log.json", "{not json", "log.json: Expecting property name"),
        ("log.toml", "version = ", "log.toml: "),
        ("log.yaml", "version: 1", "expected a .json or .toml file"),
        ("log.json", "[1, 2]", "expected a mapping"),
        (
            "log.json",
            '{"version": 1, "handlers": {"h": {"class": "no.such.Handler"}}}',
            "Unable to configure handler 'h'",
        ),
        ("log.json", '{"version": 7}', "'version' must be 1 (the dictConfig schema), got 7"),
    ],
)
@pytest.mark.usefixtures("restore_logging")
def test_bad_log_config_is_a_one_line_error(
    name: str, content: str, message: str, tmp_path: Path
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ConfigError) as info:
        configure_logging(log_config=str(path), log_level="info", access_log=None)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "log.json: Expecting property name"),
        (
            '{"version": 1, "handlers": {"h": {"class": "no.such.Handler"}}}',
            "handlers 'h': cannot import",
        ),
        (
            '{"version": 1, "formatters": {"f": {"()": "no_such_module.make"}}}',
            "formatters 'f': cannot",
        ),
        ('{"version": 1, "handlers": []}', "handlers must be a mapping"),
        # dictConfig refuses these at the start: they passed --check-config.
        ('{"version": 2}', "'version' must be 1 (the dictConfig schema), got 2"),
    ],
    ids=[
        "not-json",
        "no-such-class",
        "no-such-factory",
        "not-a-mapping",
        "version-2",
    ],
)
def test_check_config_checks_the_log_config_without_applying_it(
    content: str, message: str, tmp_path: Path
) -> None:
    # --check-config said "configuration OK" for a --log-config the real start refuses.
    path = tmp_path / "log.json"
    path.write_text(content)
    with pytest.raises(ConfigError) as info:
        check_log_config(str(path))
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    good = tmp_path / "good.json"
    log_file = tmp_path / "never-created.log"
    handlers = {"h": {"class": "logging.FileHandler", "filename": str(log_file)}}
    good.write_text(json.dumps({"version": 1, "handlers": handlers}))
    check_log_config(str(good))
    assert not log_file.exists()  # checked, not applied


def test_missing_log_config_fails_at_startup_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "wsgiserver",
            "--log-config",
            str(tmp_path / "none.json"),
            "tests.observability.helpers:hello",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "log_config:" in result.stderr
    assert "none.json" in result.stderr


def test_app_error_traceback_carries_the_request_id() -> None:
    def broken(environ: dict[str, object], start_response: object) -> list[bytes]:
        raise RuntimeError("boom")

    with serving(broken) as srv, RawClient(srv.address) as client:
        response = client.request(b"GET / HTTP/1.1\r\nHost: x\r\nX-Request-ID: req-77\r\n\r\n")
        assert response.status == 500
        (record,) = srv.wait_for_requests(1)
        text = srv.log_text()
        (log_record,) = [r for r in srv.log_records if r.levelno >= logging.ERROR]
        srv.take_app_errors()
    assert record.request_id == "req-77"
    assert "[req-77] the application raised an exception" in text
    assert "RuntimeError: boom" in text
    assert log_record.request_id == "req-77"  # type: ignore[attr-defined]


def test_reopen_log_files_appends_to_a_file_first_opened_for_writing(tmp_path: Path) -> None:
    # A --log-config handler with mode "w" truncates when the server starts; a USR1 when
    # nothing renamed the file must not throw the log so far away.
    handler = logging.FileHandler(tmp_path / "w.log", mode="w", encoding="utf-8")
    logger = logging.getLogger("tests.reopen.w")
    logger.propagate = False
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    try:
        logger.info("before")
        reopen_log_files("test")
        logger.info("after")
    finally:
        logger.handlers[:] = []
        handler.close()
    assert (tmp_path / "w.log").read_text() == "before\nafter\n"


def test_reopen_log_files_follows_a_rename_and_keeps_a_file_it_cannot_reopen(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # What SIGUSR1 does (tests/supervisor/test_signals.py sends it): each file handler of
    # any logger reopens its file by name; one whose directory is gone keeps its old file.
    kept_dir = tmp_path / "gone"
    kept_dir.mkdir()
    rotated = logging.FileHandler(tmp_path / "a.log", encoding="utf-8")
    kept = logging.FileHandler(kept_dir / "b.log", encoding="utf-8")
    unopened = logging.FileHandler(tmp_path / "c.log", delay=True)
    logger = logging.getLogger("tests.reopen")
    logger.propagate = False
    logger.handlers[:] = [rotated, kept]
    logger.setLevel(logging.INFO)
    quiet = logging.getLogger("tests.reopen.quiet")  # never logs: its file is never opened
    quiet.handlers[:] = [unopened]
    try:
        logger.info("one")
        (tmp_path / "a.log").rename(tmp_path / "a.log.1")
        (kept_dir / "b.log").rename(tmp_path / "b.log.1")
        kept_dir.rmdir()
        # pytest's own file handler (on the root logger) is one of them too.
        opened = [handler for handler in handlers_of_files() if handler.stream is not None]
        assert rotated in opened
        assert kept in opened
        assert unopened not in opened
        with caplog.at_level(logging.INFO, "wsgiserver.error"):
            reopened = reopen_log_files("test")
        logger.info("two")
    finally:
        logger.handlers[:] = quiet.handlers[:] = []
        for handler in (rotated, kept, unopened):
            handler.close()
    assert reopened == len(opened) - 1  # all but the one that failed
    assert (tmp_path / "a.log.1").read_text() == "one\n"
    assert (tmp_path / "a.log").read_text() == "two\n"
    assert (tmp_path / "b.log.1").read_text() == "one\ntwo\n"  # still the old file
    assert not (tmp_path / "c.log").exists()  # a delayed handler is not opened for nothing
    assert [r.getMessage() for r in caplog.records] == [
        f"test: cannot reopen {str(kept_dir / 'b.log')!r}: No such file or directory",
        f"test: reopened {reopened} log file(s)",
    ]


def handlers_of_files() -> list[logging.FileHandler]:
    """The file handlers of every logger now."""
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    return [
        handler
        for logger in loggers
        for handler in getattr(logger, "handlers", ())
        if isinstance(handler, logging.FileHandler)
    ]


@pytest.mark.usefixtures("restore_logging")
def test_an_access_log_the_log_config_overrides_is_said_to_be_unused(tmp_path: Path) -> None:
    # Silently ignored before (an operations probe): --print-config showed it set, and no
    # file was ever created.
    out = tmp_path / "out.log"
    config = dict_config(out)
    config["loggers"] = {
        "wsgiserver": {"handlers": ["file"], "level": "INFO", "propagate": False},
        "wsgiserver.access": {"handlers": ["file"], "level": "INFO", "propagate": False},
    }
    config_file = tmp_path / "logging.json"
    config_file.write_text(json.dumps(config))
    unused = tmp_path / "unused.log"
    configure_logging(log_config=str(config_file), log_level="info", access_log=str(unused))
    for handler in logging.getLogger("wsgiserver").handlers:
        handler.flush()
    assert f"access_log {str(unused)!r} is not used: --log-config gives" in out.read_text()
    assert not unused.exists()


@contextlib.contextmanager
def access_log_to_dead_stdout(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """`--access-log -` with stdout a pipe whose reader has died; the error log (stderr) is
    the StringIO given. (In the test's own call: pytest's capture resets sys.stdout and
    sys.stderr between a fixture's set-up and the call.)"""
    read_end, write_end = os.pipe()
    os.close(read_end)
    stdout = os.fdopen(write_end, "w", buffering=1)
    monkeypatch.setattr(sys, "stdout", stdout)
    errors = io.StringIO()
    monkeypatch.setattr(sys, "stderr", errors)
    try:
        configure_logging(log_config=None, log_level="info", access_log="-")
        yield errors
    finally:
        with contextlib.suppress(OSError):
            stdout.close()


@pytest.mark.usefixtures("restore_logging")
def test_an_access_log_pipe_with_no_reader_is_one_error_line_not_a_traceback_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `--access-log -` into a pipe whose reader died: logging's own report was a traceback of
    # some 30 lines on stderr for every request (an operations probe).
    with access_log_to_dead_stdout(monkeypatch) as errors:
        access = logging.getLogger("wsgiserver.access")
        for i in range(3):
            access.info("line %d", i)
    lines = errors.getvalue().splitlines()
    assert len(lines) == 1, lines  # the error log (stderr): one line, no traceback
    assert lines[0].endswith(
        "access log: cannot write to stdout: Broken pipe (said at most once a minute)"
    )


@pytest.mark.usefixtures("restore_logging")
def test_access_lines_lost_since_the_last_report_are_counted_when_the_log_closes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The report is once a minute: the lines lost after it went uncounted when the process
    # ended before the next one.
    with access_log_to_dead_stdout(monkeypatch) as errors:
        access = logging.getLogger("wsgiserver.access")
        for i in range(4):
            access.info("line %d", i)
        for handler in access.handlers:
            handler.close()
            handler.close()  # logging.shutdown may close it again: said once
    lines = errors.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert lines[1].endswith(
        "access log: 3 more line(s) lost writing to stdout since the last report"
    )


def test_check_config_warns_of_an_access_log_the_log_config_makes_unused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The start warns; --check-config, which does not apply the file, said nothing.
    from wsgiserver.cli.main import main

    config = dict_config(tmp_path / "out.log")
    config["loggers"] = {"wsgiserver.access": {"handlers": ["file"], "level": "INFO"}}
    config_file = tmp_path / "logging.json"
    config_file.write_text(json.dumps(config))
    unused = tmp_path / "unused.log"
    args = ["--log-config", str(config_file), "--check-config", "tests.observability.helpers:hello"]
    assert main([*args, "--access-log", str(unused)]) == 0
    err = capsys.readouterr().err
    assert err == (
        f"wsgiserver: warning: access_log {str(unused)!r} is not used: --log-config gives "
        "wsgiserver.access handlers of its own\n"
    )
    assert main(args) == 0  # no access log asked for: nothing to warn of
    assert capsys.readouterr().err == ""
    assert not unused.exists()
