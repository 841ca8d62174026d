"""Owns the benchmark's own virtualenv and the system tools it relies on.

The suite itself is stdlib only and may run under any Python 3.11+.  The
servers run from ``bench/.venv``, which this module creates and fills with
pip.  wsgiserver is *not* installed there: it is imported from the
repository root through ``PYTHONPATH`` so the suite works before packaging
is final.  Debian packages (``wrk``, ``libev-dev`` for bjoern) are
installed with apt-get when missing and we are root, and so is
``nghttp2-client`` (h2load) when an HTTP/2 scenario runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.paths import REPO_ROOT, VENV_DIR

Log = Callable[[str], None]

PEER_PACKAGES: tuple[str, ...] = (
    # HTTP/2 with cleartext prior knowledge (the ``h2`` scenarios) came in gunicorn 26.2.
    "gunicorn[http2]>=26.2",
    # wsgiserver's own --http2 (it runs from the repository, so its extra is not installed).
    "h2>=4.1,<5",
    "waitress",
    "cheroot",
    "granian",
    "flask",
    "django",
    "webtest",
    "werkzeug",
)
"""Installed into the venv; the suite cannot run without them."""

OPTIONAL_PACKAGE = "bjoern"
"""Needs a C compiler and libev; skipped with a message when it will not build."""

STAMP = VENV_DIR / "bench-installed.json"


class SetupError(RuntimeError):
    """The environment cannot be prepared; the message is one line for the user."""


@dataclass(frozen=True)
class Environment:
    """A ready virtualenv: where its binaries are and what could not be installed."""

    python: Path
    bin_dir: Path
    skipped: dict[str, str]

    def server_env(self) -> dict[str, str]:
        """Environment for server processes: the venv first, the repo importable."""
        env = dict(os.environ)
        env.pop("PYTHONHOME", None)
        env["VIRTUAL_ENV"] = str(VENV_DIR)
        env["PATH"] = f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONPATH"] = str(REPO_ROOT)
        env["PYTHONUNBUFFERED"] = "1"
        return env


def venv_python() -> Path:
    """Path of the benchmark venv's interpreter (it may not exist yet)."""
    return VENV_DIR / "bin" / "python"


def running_in_venv() -> bool:
    """True when the current interpreter is the benchmark venv's."""
    return Path(sys.prefix).resolve() == VENV_DIR.resolve()


def ensure_environment(log: Log, reinstall: bool = False) -> Environment:
    """Create or reuse ``bench/.venv`` with every peer server installed."""
    python = venv_python()
    stamp = _read_stamp()
    wanted = sorted(PEER_PACKAGES)
    if not reinstall and python.exists() and stamp.get("packages") == wanted:
        skipped = _skipped_from_stamp(stamp)
        return Environment(python, python.parent, skipped)

    if not python.exists():
        log(f"creating virtualenv {VENV_DIR}")
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV_DIR)
    log(f"installing {', '.join(wanted)} into {VENV_DIR}")
    _pip_install(python, wanted)

    skipped = {}
    reason = _install_bjoern(python, log)
    if reason is not None:
        skipped[OPTIONAL_PACKAGE] = reason
        log(f"skipping bjoern: {reason}")
    STAMP.write_text(json.dumps({"packages": wanted, "skipped": skipped}, indent=2))
    return Environment(python, python.parent, skipped)


def ensure_wrk(log: Log) -> Path:
    """Return the path of ``wrk``, installing Debian's package if possible."""
    return _ensure_tool(log, "wrk", "wrk", "")


def ensure_h2load(log: Log) -> Path:
    """Return the path of ``h2load`` (HTTP/2 scenarios), installing Debian's nghttp2-client
    if possible."""
    return _ensure_tool(log, "h2load", "nghttp2-client", " or leave out the h2 scenarios")


def _ensure_tool(log: Log, tool: str, package: str, otherwise: str) -> Path:
    found = shutil.which(tool)
    if found is not None:
        return Path(found)
    if not _can_apt():
        raise SetupError(
            f"{tool} is not installed; install it (Debian: apt-get install {package})"
            f"{otherwise} and retry"
        )
    log(f"installing Debian package {package}")
    _apt_install([package])
    found = shutil.which(tool)
    if found is None:
        raise SetupError(f"apt-get install {package} succeeded but {tool} is not on PATH")
    return Path(found)


def installed_versions(python: Path) -> dict[str, str]:
    """Versions of every distribution in the venv, keyed by lower-case name."""
    out = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    entries: list[dict[str, str]] = json.loads(out)
    return {entry["name"].lower(): entry["version"] for entry in entries}


def _read_stamp() -> dict[str, object]:
    try:
        data: dict[str, object] = json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return {}
    return data


def _skipped_from_stamp(stamp: dict[str, object]) -> dict[str, str]:
    raw = stamp.get("skipped")
    if not isinstance(raw, dict):
        return {}
    return {str(key): str(value) for key, value in raw.items()}


def _pip_install(python: Path, packages: list[str]) -> None:
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", *packages],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SetupError(f"pip install {' '.join(packages)} failed: {_last_line(result.stderr)}")


def _install_bjoern(python: Path, log: Log) -> str | None:
    """Install bjoern; return why it was skipped, or None on success."""
    if not _has_libev():
        if _can_apt():
            log("installing Debian package libev-dev (for bjoern)")
            try:
                _apt_install(["libev-dev"])
            except SetupError as exc:
                return str(exc)
        else:
            return "libev-dev is missing and apt-get is unavailable or we are not root"
    result = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "-q",
            OPTIONAL_PACKAGE,
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        return f"pip install bjoern failed: {_last_line(result.stderr)}"
    return None


def _has_libev() -> bool:
    return Path("/usr/include/ev.h").exists()


def _can_apt() -> bool:
    return shutil.which("apt-get") is not None and os.geteuid() == 0


_apt_updated = False


def _apt_install(packages: list[str]) -> None:
    global _apt_updated
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    steps: list[list[str]] = []
    if not _apt_updated:
        steps.append(["apt-get", "update"])
    steps.append(["apt-get", "install", "-y", *packages])
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise SetupError(f"{' '.join(step)} failed: {_last_line(result.stderr)}")
    _apt_updated = True


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"
