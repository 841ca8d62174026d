"""The distribution installs as a stranger installs it, and its console script serves.

A copy of the checkout is built with `python -m build` (an sdist, then a wheel from that
sdist, as an index would get them), the wheel is installed into a fresh virtual environment
with no index and no dependencies (the package has none), and the installed `wsgiserver`
command, run outside the checkout, answers `--version` and serves one real request on port 0.
"""

from __future__ import annotations

import email.parser
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import urllib.request
import zipfile
from pathlib import Path

import pytest

import wsgiserver
from tests.conftest import untraced_env

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
DIST = PROJECT["name"]
SERVING = re.compile(r"serving on (http://\S+?)(?:,|$)")
# Files a user of the sdist needs besides the code: the licence and the user-facing notes.
SDIST_EXTRAS = ("LICENSE", "README.rst", "CHANGES.rst", "SECURITY.rst", "CONTRIBUTING.rst")
SKIPPED = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".nox",
    "__pycache__",
    "*.egg-info",
    "build",
    "_build",
    "dist",
    ".*_cache",
    ".hypothesis",
    # Coverage data files: the suite's other processes write and combine (delete) them
    # while this copy runs, so one listed may be gone by the time it is copied.
    ".coverage*",
)
APP = """\
def app(environ, start_response):
    body = f"hello from {__name__}\\n".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
"""


def clean_env() -> dict[str, str]:
    # Nothing of the checkout or of the test venv may leak into the fresh one (nor coverage,
    # which would only slow the build tools down).
    env = untraced_env()
    return {k: v for k, v in env.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}


def run(*argv: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, f"{argv} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(sdist, wheel) built from a copy of the checkout."""
    base = tmp_path_factory.mktemp("packaging")
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=SKIPPED)
    out = base / "dist"
    run(sys.executable, "-m", "build", "--outdir", out, source, cwd=base)
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return sdist, wheel


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_distribution_has_a_free_name_and_the_files_users_need(
    built: tuple[Path, Path],
) -> None:
    sdist, wheel = built
    # The index normalises names: the files carry strict_wsgiserver, never plain wsgiserver
    # (another, unrelated project owns that name on PyPI).
    assert DIST != "wsgiserver"
    stem = DIST.replace("-", "_")
    assert sdist.name == f"{stem}-{wsgiserver.__version__}.tar.gz"
    assert wheel.name == f"{stem}-{wsgiserver.__version__}-py3-none-any.whl"
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert set(SDIST_EXTRAS) <= names
    assert "docs/configuration.rst" in names
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = f"{stem}-{wsgiserver.__version__}.dist-info"
        metadata = email.parser.Parser().parsestr(archive.read(f"{info}/METADATA").decode())
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
    assert f"{info}/licenses/LICENSE" in names
    assert "wsgiserver/py.typed" in names
    assert not any(n.startswith(("tests/", "sample_apps/", "bench/", "docs/")) for n in names)
    assert metadata["Name"] == DIST
    assert metadata["License-Expression"] == "MIT"
    assert "wsgiserver = wsgiserver.cli:main" in entry_points
    assert "main = wsgiserver.cli.paste:serve_paste" in entry_points


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_wheel_installs_into_a_fresh_venv_and_serves(
    built: tuple[Path, Path], tmp_path: Path
) -> None:
    _, wheel = built
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    run(python, "-m", "pip", "install", "-q", "--no-index", "--no-deps", wheel, cwd=tmp_path)
    work = tmp_path / "work"  # outside the checkout: only the installed package can be found
    work.mkdir()
    (work / "myapp.py").write_text(APP)

    where = run(python, "-c", "import wsgiserver; print(wsgiserver.__file__)", cwd=work)
    assert Path(where.strip()).is_relative_to(venv)
    version = run(
        python, "-c", f"import importlib.metadata as m; print(m.version({DIST!r}))", cwd=work
    )
    assert version.strip() == wsgiserver.__version__
    script = venv / "bin" / "wsgiserver"
    assert run(script, "--version", cwd=work).strip() == f"wsgiserver {wsgiserver.__version__}"
    assert "app myapp:app loaded" in run(script, "--check-config", "myapp:app", cwd=work)

    server = subprocess.Popen(
        [str(script), "--bind", "127.0.0.1:0", "myapp:app"],
        cwd=work,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        url = ""
        seen: list[str] = []
        for line in server.stderr:  # ends at EOF if the server exits instead of serving
            seen.append(line)
            if match := SERVING.search(line):
                url = match.group(1)
                break
        assert url, "".join(seen)
        with urllib.request.urlopen(url + "/", timeout=30) as response:
            assert response.status == 200
            assert response.read() == b"hello from myapp\n"
            assert response.headers["Server"].startswith("wsgiserver")
    finally:
        server.terminate()
        server.wait(30)
        if server.stderr is not None:
            server.stderr.close()
    assert server.returncode == 0
