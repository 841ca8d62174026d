"""Owns benchmarking an earlier commit of wsgiserver next to the working tree (``--baseline``).

"No slowdown against the previous commit" is a claim about two versions of the same server
on the same machine in the same run, so the earlier one runs as one more server: its
``wsgiserver/`` package is exported from git into a temporary directory and put first on
``sys.path`` of an otherwise identical command (same Python, same app module from the
working tree, same defaults). Must not: touch the working tree or its index (``git archive``
reads the object store only).
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

from bench.environment import Environment
from bench.paths import REPO_ROOT
from bench.servers import HTTP2_OPTIONS, SUBJECT, WORKERS_OPTIONS, Server

# Runs `python -m wsgiserver` from the exported package: `-m` would put the working
# directory (the current tree) first on sys.path, so the package is imported by path.
_LAUNCH = (
    "import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); "
    "runpy.run_module('wsgiserver', run_name='__main__', alter_sys=True)"
)


class BaselineError(Exception):
    """The revision cannot be benchmarked (unknown to git, or without the package)."""


def resolve(revision: str) -> tuple[str, str]:
    """(short hash, subject line) of `revision`; BaselineError if git does not know it."""
    shown = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "log", "-1", "--format=%h%x00%s", revision, "--"],
        capture_output=True,
        text=True,
        check=False,
    )
    if shown.returncode != 0 or "\0" not in shown.stdout:
        detail = shown.stderr.strip().splitlines()[-1:] or ["no such commit"]
        raise BaselineError(f"--baseline {revision}: {detail[0]}")
    short, subject = shown.stdout.strip().split("\0", 1)
    return short, subject


def export(revision: str, into: Path) -> Path:
    """Write the `wsgiserver/` package of `revision` under `into`; return that directory."""
    archive = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "archive", "--format=tar", revision, "wsgiserver"],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        message = archive.stderr.decode(errors="replace").strip()
        raise BaselineError(f"--baseline {revision}: {message or 'git archive failed'}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into


def baseline_server(revision: str, workdir: Path) -> Server:
    """A server named ``wsgiserver@<hash>`` that runs `revision`'s package with the working
    tree's defaults and apps. The export lives in `workdir`, which must outlive the run."""
    short, subject = resolve(revision)
    root = export(short, workdir)

    def build(env: Environment, app: str, host: str, port: int) -> list[str]:
        return [str(env.python), "-c", _LAUNCH, str(root), app, "--bind", f"{host}:{port}"]

    # The lifecycle and HTTP/2 scenarios run it with the options the subject gets for them.
    def workers(env: Environment, app: str, host: str, port: int) -> list[str]:
        return [*build(env, app, host, port), *WORKERS_OPTIONS]

    def http2(env: Environment, app: str, host: str, port: int) -> list[str]:
        return [*build(env, app, host, port), *HTTP2_OPTIONS]

    return Server(
        f"{SUBJECT}@{short}",
        SUBJECT,
        build,
        f"commit {short}: {subject}",
        lifecycle=workers,
        http2=http2,
        version=short,
    )
