"""`python -m bench --baseline REV`: an earlier commit of the package runs as one more server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.baseline import BaselineError, baseline_server, resolve
from bench.cli import main
from bench.environment import Environment
from bench.paths import REPO_ROOT


def _has_history() -> bool:
    probe = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "--verify", "HEAD"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(not _has_history(), reason="needs the git repository")


def test_the_baseline_runs_its_own_package_with_the_working_trees_app(tmp_path: Path) -> None:
    short, _ = resolve("HEAD")
    server = baseline_server("HEAD", tmp_path)
    assert server.name == f"wsgiserver@{short}"
    assert server.version == short
    assert (tmp_path / "wsgiserver" / "__init__.py").is_file()
    env = Environment(Path(sys.executable), Path(sys.executable).parent, skipped={})
    command = server.build(env, "sample_apps.hello:app", "127.0.0.1", 0)
    # The same command, asked where it imports the package from: the export, not the tree.
    where = [*command[: command.index("sample_apps.hello:app")], "--version"]
    probe = subprocess.run(where, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.startswith("wsgiserver ")
    marker = tmp_path / "wsgiserver" / "__main__.py"
    marker.write_text("import sys\nprint('from the export')\nsys.exit(0)\n")
    probe = subprocess.run(where, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert probe.stdout == "from the export\n"


def test_the_baseline_is_measured_in_the_lifecycle_and_http2_scenarios_too(tmp_path: Path) -> None:
    # Without these it was "not measured: serves no HTTP/2" in every h2 scenario.
    server = baseline_server("HEAD", tmp_path)
    env = Environment(Path(sys.executable), Path(sys.executable).parent, skipped={})
    assert server.lifecycle is not None
    assert server.http2 is not None
    plain = server.build(env, "app:app", "127.0.0.1", 0)
    assert server.lifecycle(env, "app:app", "127.0.0.1", 0) == [*plain, "--workers", "2"]
    assert server.http2(env, "app:app", "127.0.0.1", 0) == [*plain, "--http2"]


def test_an_unknown_revision_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(BaselineError, match="no-such-revision"):
        resolve("no-such-revision")
    assert main(["--servers", "wsgiserver", "--baseline", "no-such-revision"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("bench: --baseline no-such-revision: ")
    assert "\n" not in error


def test_the_baseline_needs_the_subject_to_compare_with(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--servers", "waitress", "--baseline", "HEAD"]) == 2
    assert "add it to --servers" in capsys.readouterr().err
