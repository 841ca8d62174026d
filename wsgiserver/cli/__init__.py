"""The command line: `python -m wsgiserver` and the `wsgiserver` console script.

Owns: turning arguments, config files and the environment into a `Config`, loading the app,
and serving it with one process or the supervisor (`main`), and the PasteDeploy server runner
(`paste`). Must not: hold logic that belongs to a layer below.
"""

from wsgiserver.cli.main import main

__all__ = ["main"]
