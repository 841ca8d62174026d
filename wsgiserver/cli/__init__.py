"""The command line: `python -m wsgiserver` and the `wsgiserver` console script.

Owns: turning arguments, config files and the environment into a `Config` (`main`); the one
serving path, from a `Config` to a running server with one process or the supervisor and back
to an exit status (`serving`); and the PasteDeploy server runner that uses it (`paste`). Must
not: hold logic that belongs to a layer below.
"""

from wsgiserver.cli.main import main

__all__ = ["main"]
