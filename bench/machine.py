"""Owns the description of the machine and software a run was made on."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

from bench.paths import REPO_ROOT


def machine_info() -> dict[str, object]:
    """CPU count and model, kernel, harness Python: what the JSON records."""
    return {
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "kernel": platform.release(),
        "platform": platform.platform(),
        "harness_python": sys.version.split()[0],
    }


def python_version(python: Path) -> str:
    """``X.Y.Z`` of another interpreter."""
    out = subprocess.run(
        [str(python), "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip() or "unknown"


def wrk_version(wrk: Path) -> str:
    """wrk's version banner (``wrk -v`` exits non-zero by design)."""
    out = subprocess.run([str(wrk), "-v"], capture_output=True, text=True, check=False)
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def h2load_version(h2load: Path) -> str:
    """h2load's version line (``h2load nghttp2/1.52.0``)."""
    out = subprocess.run([str(h2load), "--version"], capture_output=True, text=True, check=False)
    text = out.stdout.strip()
    return text.splitlines()[0] if text else "unknown"


def git_revision() -> str:
    """The repository's HEAD commit (with ``-dirty``), or why it is unknown."""
    head = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    if head.returncode != 0:
        return "no commit yet"
    dirty = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return head.stdout.strip() + ("-dirty" if dirty else "")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
