"""Finding the WSGI application named on the command line.

Owns: `module:attribute`, dotted attributes (`pkg.mod:obj.app`), factories (`mod:create()` or
`--factory`), the `[app:main]` of a PasteDeploy ini (`--paste FILE.ini`; PasteDeploy is an
optional dependency, imported on first use), and turning every failure into one `AppLoadError`
with a one-line message. Must not: start serving or touch sockets.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import traceback
from typing import Any, cast

from wsgiserver.errors import AppLoadError
from wsgiserver.types import WSGIApp

_SPEC = re.compile(r"([A-Za-z_][\w.]*):([A-Za-z_][\w.]*)(\(\))?")


# sys.exit("message") at import time is a failure to load, not a request to stop: one line
# and exit status 3 like any other, instead of a traceback from every worker.
_LOAD_FAILURES = (Exception, SystemExit, KeyboardInterrupt)


def load_app(spec: str, *, factory: bool = False, app_dir: str | None = None) -> WSGIApp:
    """Import and return the app named by `spec` ("module:attr", "module:attr()")."""
    match = _SPEC.fullmatch(spec.strip())
    if match is None:
        raise AppLoadError(
            f"{spec!r} is not an application path; expected module:attribute, "
            "e.g. myproject.wsgi:application"
        )
    module_name, attribute, call = match.groups()
    if app_dir is not None:
        path = os.path.abspath(app_dir)
        if path not in sys.path:
            sys.path.insert(0, path)
    module = _import(module_name)
    target: Any = module
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise AppLoadError(f"module {module_name!r} has no attribute {attribute!r}") from None
    if call or factory:
        try:
            target = target()
        except _LOAD_FAILURES as exc:
            raise AppLoadError(f"the factory {spec} failed: {describe_failure(exc)}") from exc
    if not callable(target):
        raise AppLoadError(f"{spec} is a {type(target).__name__}, not a WSGI callable")
    return cast(WSGIApp, target)


def _import(module_name: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if (
            exc.name is not None
            and module_name.startswith(exc.name)
            and (len(exc.name) == len(module_name) or module_name[len(exc.name)] == ".")
        ):
            raise AppLoadError(
                f"no module named {module_name!r} (sys.path[0] is {sys.path[0]!r})"
            ) from None
        raise AppLoadError(f"importing {module_name!r} failed: {describe_failure(exc)}") from exc
    except SyntaxError as exc:
        raise AppLoadError(
            f"importing {module_name!r} failed: SyntaxError: {exc.msg} "
            f"({exc.filename}, line {exc.lineno})"
        ) from exc
    except _LOAD_FAILURES as exc:
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        raise AppLoadError(
            f"importing {module_name!r} failed: {describe_failure(exc)} "
            f"({frame.filename}, line {frame.lineno})"
        ) from exc


def load_paste(path: str, name: str = "main") -> WSGIApp:
    """The app of `[app:NAME]` of a PasteDeploy ini file (its `[server:NAME]` options are
    read by `wsgiserver.config.paste_ini`)."""
    loadwsgi = paste_deploy()
    uri = paste_uri(path)
    try:
        app = loadwsgi.loadapp(uri, name=name)
    except _LOAD_FAILURES as exc:
        message = f"--paste {path}: loading [app:{name}] failed: {describe_failure(exc)}"
        raise AppLoadError(message) from exc
    if not callable(app):
        kind = type(app).__name__
        raise AppLoadError(f"--paste {path}: [app:{name}] is a {kind}, not a WSGI callable")
    return cast(WSGIApp, app)


def paste_deploy() -> Any:
    """The `paste.deploy.loadwsgi` module; AppLoadError when PasteDeploy is not installed."""
    try:
        import paste.deploy.loadwsgi as loadwsgi
    except ImportError:
        raise AppLoadError(
            "--paste needs PasteDeploy, which is not installed (pip install PasteDeploy)"
        ) from None
    return loadwsgi


def paste_uri(path: str) -> str:
    """PasteDeploy's `config:` URI of an ini file; AppLoadError when there is no such file."""
    if not os.path.isfile(path):
        raise AppLoadError(f"--paste: no such file {path!r}")
    return "config:" + os.path.abspath(path)


def describe_failure(exc: BaseException) -> str:
    """`Type: message` on one line (only `Type` when the message is empty)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
