"""The test suite on every supported Python: `nox` (all of them) or `nox -s tests-3.13`.

One session per interpreter. Each installs the project in development mode with its `test`
extra into a fresh virtual environment and runs the whole suite (lint, types and the
documentation build included), exactly as the README's test command does. nox finds an
interpreter as `python3.X` on PATH; `.ci/run` puts pyenv's interpreters there first.
"""

from __future__ import annotations

import nox

PYTHONS = ["3.11", "3.12", "3.13"]  # keep in step with the classifiers in pyproject.toml

nox.options.default_venv_backend = "venv"


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Install `.[test]` and run pytest (exit code 5, no test collected, fails the session)."""
    session.install("-q", "-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)
