"""One rule for relative paths with --chdir (config.paths), and the command line following it."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

from tests.config.helpers import clean_environ
from wsgiserver.config.options import PATH_FROM_CHDIR, PATH_FROM_START, Config
from wsgiserver.config.paths import absolute_paths

APP = "def app(environ, start_response):\n    start_response('200 OK', [])\n    return [b'ok']\n"


def test_every_path_option_follows_its_declared_rule() -> None:
    config = Config(
        chdir="site",
        app_dir="src",
        paste="dev.ini",
        bind=("unix:run/a.sock", "127.0.0.1:0", "fd://3"),
        admin_bind="unix:admin.sock",
        access_log="logs/a.log",
        log_config="logging.json",
        pid="app.pid",
        certfile="tls/c.pem",
        keyfile="tls/k.pem",
        ca_certs="tls/ca.pem",
        spool_dir="spool",
    )
    got = absolute_paths(config, "/start")
    assert (got.chdir, got.app_dir, got.paste) == (
        "/start/site",
        "/start/site/src",
        "/start/site/dev.ini",
    )
    # Sockets the same, but written from --chdir, where the server runs: an absolute path
    # can exceed the kernel's 107 bytes where the name given did not.
    assert got.bind == ("unix:../run/a.sock", "127.0.0.1:0", "fd://3")
    assert got.admin_bind == "unix:../admin.sock"
    assert (got.access_log, got.log_config, got.pid) == (
        "/start/logs/a.log",
        "/start/logging.json",
        "/start/app.pid",
    )
    assert (got.certfile, got.keyfile, got.ca_certs, got.spool_dir) == (
        "/start/tls/c.pem",
        "/start/tls/k.pem",
        "/start/tls/ca.pem",
        "/start/spool",
    )
    # Every field that takes a path declares its rule; nothing else is touched.
    declared = {f.name: f.metadata["path"] for f in dataclasses.fields(Config)}
    assert {name for name, kind in declared.items() if kind == PATH_FROM_CHDIR} == {
        "app_dir",
        "paste",
    }
    assert sum(kind == PATH_FROM_START for kind in declared.values()) == 10


def test_absolute_values_stdout_and_no_chdir() -> None:
    config = Config(access_log="-", pid="/run/app.pid", app_dir=".")
    got = absolute_paths(config, "/start")
    assert (got.access_log, got.pid, got.app_dir) == ("-", "/run/app.pid", "/start")


def test_with_chdir_every_file_is_found_in_the_starting_directory(tmp_path: Path) -> None:
    # --log-config was read from the starting directory and --spool-dir from --chdir: a
    # file that existed was "missing", and the error did not say where it was looked for.
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "web.py").write_text(APP)
    (tmp_path / "spool").mkdir()
    (tmp_path / "logging.json").write_text('{"version": 1}')

    def check(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "wsgiserver", "--check-config", "--chdir", "site", *args],
            cwd=tmp_path,
            env=clean_environ(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    ok = check("--spool-dir", "spool", "--log-config", "logging.json", "web:app")
    assert ok.returncode == 0, ok.stderr
    (tmp_path / "site" / "only-here").mkdir()
    missing = check("--spool-dir", "only-here", "web:app")
    assert missing.returncode == 2
    assert missing.stderr == (
        f"wsgiserver: error: spool_dir: {str(tmp_path / 'only-here')!r} is not a directory\n"
    )


def test_a_relative_unix_socket_stays_short_without_chdir() -> None:
    # The kernel takes at most 107 bytes for a socket's path: `unix:s.sock` in a deep
    # directory bound before the paths rule, and made absolute it no longer could.
    deep = "/srv/" + "d" * 120
    got = absolute_paths(Config(bind=("unix:s.sock",), admin_bind="unix:run/a.sock"), deep)
    assert (got.bind, got.admin_bind) == (("unix:s.sock",), "unix:run/a.sock")
