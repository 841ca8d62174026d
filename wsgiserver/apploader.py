"""Finding the WSGI application named on the command line or in a PasteDeploy ini.

Owns: `module:attribute`, dotted attributes (`pkg.mod:obj.app`), factories (`mod:create()` or
`--factory`), the `[app:main]` of a PasteDeploy ini (`--paste FILE.ini`; PasteDeploy is an
optional dependency, imported on first use), the `egg:strict-wsgiserver#call` app factory
that imports a PasteDeploy factory from a directory named in the ini, and turning every
failure into one `AppLoadError` with a one-line message that points at the failing line of
the user's code (`user_location`: the deepest frame outside the standard library, installed
packages and wsgiserver itself); the original exception stays chained as its `__cause__`,
with the whole traceback. Must not: start serving or touch sockets.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import sysconfig
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, cast

from wsgiserver.errors import AppLoadError, NotAWSGIApp
from wsgiserver.types import WSGIApp

_SPEC = re.compile(r"([A-Za-z_][\w.]*):([A-Za-z_][\w.]*)(\(\))?")


# sys.exit("message") at import time is a failure to load, not a request to stop: one line
# and exit status 3 like any other, instead of a traceback from every worker.
_LOAD_FAILURES = (Exception, SystemExit, KeyboardInterrupt)


def load_app(spec: str, *, factory: bool = False, app_dir: str | None = None) -> WSGIApp:
    """Import and return the app named by `spec` ("module:attr", "module:attr()")."""
    target, module_name, call = _resolve(spec, app_dir)
    if call or factory:
        target = _call_factory(spec, module_name, target)
    return wsgi_callable(target, spec)


def parse_spec(spec: str) -> tuple[str, str, bool]:
    """`spec`'s module name, attribute, and whether it ends with "()"; nothing is imported.

    Raises `AppLoadError` for text that is no "module:attribute" at all (the CLI checks
    that up front, a usage error, before loading anything).
    """
    match = _SPEC.fullmatch(spec.strip())
    if match is None:
        raise AppLoadError(
            f"{spec!r} is not an application path; expected module:attribute, "
            "e.g. myproject.wsgi:application"
        )
    module_name, attribute, call = match.groups()
    return module_name, attribute, call is not None


def _resolve(spec: str, app_dir: str | None) -> tuple[Any, str, bool]:
    """The object `spec` names (importing from `app_dir` first), its module's name, and
    whether the spec ends with "()"."""
    module_name, attribute, call = parse_spec(spec)
    return import_object(module_name, attribute, app_dir=app_dir), module_name, call


def import_object(module_name: str, attribute: str, *, app_dir: str | None) -> Any:
    """`module_name` imported (from `app_dir` first), then its dotted `attribute` ("" for
    the module itself): the app, or the `--hooks` object.

    Raises `AppLoadError` for a missing module, an import that fails (pointing at the user's
    line) and a missing attribute.
    """
    if app_dir is not None:
        path = os.path.abspath(app_dir)
        if path not in sys.path:
            sys.path.insert(0, path)
    target: Any = _import(module_name)
    for part in attribute.split(".") if attribute else ():
        try:
            target = getattr(target, part)
        except AttributeError:
            raise AppLoadError(f"module {module_name!r} has no attribute {attribute!r}") from None
    return target


def _call_factory(spec: str, module_name: str, create: Callable[[], Any]) -> Any:
    try:
        return create()
    except _LOAD_FAILURES as exc:
        raise AppLoadError(
            f"the factory {spec} failed: {describe_failure(exc)}{user_location(exc, module_name)}"
        ) from exc


def wsgi_callable(target: object, name: str) -> WSGIApp:
    """`target` as a WSGI app, or `NotAWSGIApp` (an AppLoadError and a TypeError) saying
    "NAME is not a WSGI callable (its type is T)": the one check of the CLI, PasteDeploy
    and `Server(app)`."""
    if not callable(target):
        raise NotAWSGIApp(f"{name} is not a WSGI callable (its type is {type(target).__name__})")
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
        # A module the app imports is missing: the location is the user's import of it.
        raise _import_failed(module_name, exc) from exc
    except SyntaxError as exc:
        # The location of a syntax error is the bad line itself, not a frame that ran.
        where = f" ({_shown_path(exc.filename)}, line {exc.lineno})" if exc.filename else ""
        raise AppLoadError(
            f"importing {module_name!r} failed: SyntaxError: {exc.msg}{where}"
        ) from exc
    except _LOAD_FAILURES as exc:
        raise _import_failed(module_name, exc) from exc


def _import_failed(module_name: str, exc: BaseException) -> AppLoadError:
    return AppLoadError(
        f"importing {module_name!r} failed: {describe_failure(exc)}"
        f"{user_location(exc, module_name)}"
    )


def load_paste(path: str, name: str = "main") -> WSGIApp:
    """The app of `[app:NAME]` of a PasteDeploy ini file (its `[server:NAME]` options are
    read by `wsgiserver.config.paste_ini`)."""
    loadwsgi = paste_deploy()
    uri = paste_uri(path)
    try:
        app = loadwsgi.loadapp(uri, name=name)
    except AppLoadError as exc:  # from egg:strict-wsgiserver#call: it says what and where
        raise AppLoadError(f"--paste {path}: loading [app:{name}] failed: {exc}") from exc
    except _LOAD_FAILURES as exc:
        message = (
            f"--paste {path}: loading [app:{name}] failed: {describe_failure(exc)}"
            f"{user_location(exc)}"
        )
        raise AppLoadError(message) from exc
    return wsgi_callable(app, f"--paste {path}: [app:{name}]")


def paste_call_factory(global_conf: Mapping[str, Any], **local_conf: Any) -> WSGIApp:
    """The `paste.app_factory` entry point `egg:strict-wsgiserver#call`.

    PasteDeploy's own `use = call:module:factory`, importing from a directory first, so that
    `pserve app.ini` finds an app that is not installed (pserve puts its own script directory,
    not the current one, on sys.path)::

        [app:main]
        use = egg:strict-wsgiserver#call
        factory = myproject.web:make_app
        app_dir = %(here)s/..

    `factory` is called as PasteDeploy calls an app factory, `factory(global_conf,
    **settings)`, with the section's other settings. `app_dir` (default: the ini's
    directory) is relative to the ini file's directory.
    """
    settings = dict(local_conf)
    spec = settings.pop("factory", None)
    if not isinstance(spec, str) or "(" in spec:
        raise AppLoadError(
            "egg:strict-wsgiserver#call needs factory = module:callable "
            "(called with the global options and the section's settings)"
        )
    here = str(global_conf.get("here", "."))
    app_dir = os.path.join(here, str(settings.pop("app_dir", ".")))  # an absolute one stays
    target, module_name, _ = _resolve(spec, app_dir)
    return wsgi_callable(
        _call_factory(spec, module_name, lambda: target(global_conf, **settings)), spec
    )


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


# Code that is not the user's: the standard library (and frozen modules such as `<frozen os>`),
# installed distributions, and wsgiserver itself. Where an exception was raised inside one of
# them, the line worth showing is the user's line that called into it.
_WSGISERVER_DIR = os.path.dirname(os.path.abspath(__file__))
_LIBRARY_DIRS = tuple(
    {
        os.path.abspath(path)
        for key in ("stdlib", "platstdlib", "purelib", "platlib")
        if (path := sysconfig.get_paths().get(key))
    }
    | {_WSGISERVER_DIR}
)
_INSTALLED = frozenset({"site-packages", "dist-packages"})


def user_location(exc: BaseException, module_name: str | None = None) -> str:
    """` (FILE, line N)` of the deepest frame of `exc`'s traceback in the user's code, or ""
    when no frame is.

    The user's code is any file outside the standard library, installed packages and
    wsgiserver, and any module of the package `module_name` belongs to (an app installed
    into site-packages is still the user's). FILE is relative to the current directory when
    it is below it.
    """
    package = module_name.partition(".")[0] if module_name else None
    found: TracebackType | None = None
    tb = exc.__traceback__
    while tb is not None:
        if _is_users(tb, package):
            found = tb
        tb = tb.tb_next
    if found is None:
        return ""
    return f" ({_shown_path(found.tb_frame.f_code.co_filename)}, line {found.tb_lineno})"


def _is_users(tb: TracebackType, package: str | None) -> bool:
    name = tb.tb_frame.f_globals.get("__name__")
    if package is not None and isinstance(name, str) and name.partition(".")[0] == package:
        return True
    filename = tb.tb_frame.f_code.co_filename
    if filename.startswith("<"):  # <frozen ...>, <string>: no file of the user's
        return False
    path = os.path.abspath(filename)
    if _INSTALLED.intersection(path.split(os.sep)):
        return False
    return not any(path == d or path.startswith(d + os.sep) for d in _LIBRARY_DIRS)


def _shown_path(filename: str) -> str:
    path = os.path.abspath(filename)
    cwd = os.getcwd()
    return os.path.relpath(path, cwd) if path.startswith(cwd + os.sep) else filename
