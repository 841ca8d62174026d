"""PasteDeploy integration: `[server:main] use = egg:wsgiserver` in an ini file.

Owns: `serve_paste` (the `paste.server_runner` entry point), turning the string options of an
ini section into typed `Config` options (`host`/`port`, `bind`/`listen` like waitress, and every
`Config` field name), and `load_paste` for `python -m wsgiserver --paste FILE.ini`. PasteDeploy
is imported lazily, only by `load_paste`. Must not: hold server logic.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from typing import Any

from wsgiserver.config import Config
from wsgiserver.config_sources import field_type, from_text
from wsgiserver.errors import AppLoadError, ConfigError
from wsgiserver.gateway import WSGIApp

_FIELDS = {f.name: str(f.type) for f in dataclasses.fields(Config)}
# Options that name the app or change how it is found make no sense in a server section.
_NOT_IN_INI = frozenset({"app", "factory", "app_dir", "chdir", "paste"})


def options_from_ini(local_conf: Mapping[str, Any]) -> dict[str, Any]:
    """Typed `Config` options from the string options of a `[server:...]` section.

    `host` and `port` combine into one bind address; `listen` and `bind` take space-separated
    addresses. Option names may use dashes or underscores. Unknown names raise ConfigError.
    """
    options: dict[str, Any] = {}
    host: str | None = None
    port: str | None = None
    binds: list[str] = []
    for raw_name, raw_value in local_conf.items():
        name = raw_name.replace("-", "_")
        value = raw_value if not isinstance(raw_value, str) else raw_value.strip()
        if name == "host":
            host = str(value)
        elif name == "port":
            port = str(value)
        elif name in ("listen", "bind"):
            binds.extend(_words(value))
        elif name in _FIELDS and name not in _NOT_IN_INI:
            options[name] = _convert(name, value, _FIELDS[name])
        else:
            known = sorted({"host", "port", "listen", *(set(_FIELDS) - _NOT_IN_INI)})
            raise ConfigError(
                f"unknown server option {raw_name!r} in the paste ini; known: {', '.join(known)}"
            )
    if host is not None or port is not None:
        if binds:
            raise ConfigError("paste ini: give either host/port or listen/bind, not both")
        host = host or "127.0.0.1"
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        binds.append(f"{host}:{port or '8000'}")
    if binds:
        options["bind"] = tuple(binds)
    return options


def _words(value: Any) -> list[str]:
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    raise ConfigError(f"paste ini: bind/listen must be text, got {value!r}")


def _convert(name: str, value: Any, annotation: str) -> Any:
    if not isinstance(value, str):
        return value  # already typed (a caller passing Python values)
    ftype = field_type(annotation)
    if ftype.sequence:
        # Ini values list items separated by whitespace (as waitress's `listen`).
        value = ",".join(value.split())
    try:
        return from_text(ftype, value)
    except ValueError as exc:
        raise ConfigError(f"paste ini: {name} = {value!r}: {exc}") from None


def serve_paste(app: WSGIApp, global_conf: Mapping[str, Any], **local_conf: Any) -> int:
    """The `paste.server_runner` entry point: serve `app` with the `[server:main]` options.

    Used by `pserve development.ini` and `paste.deploy.loadserver`. Serves until SIGINT or
    SIGTERM (when run from the main thread), then stops gracefully.
    """
    from wsgiserver.cli import configure_logging, run
    from wsgiserver.server import Server

    config = Config.from_options(options_from_ini(local_conf))
    ours = logging.getLogger("wsgiserver")
    if not ours.handlers and ours.level == logging.NOTSET:
        configure_logging(config)  # the ini did not configure our logger: log like the CLI
    return run(Server(app, config, drain=True))


def load_paste(path: str, name: str = "main") -> tuple[WSGIApp, dict[str, Any]]:
    """The app of `[app:NAME]` and the typed options of `[server:NAME]` (if any) of an ini."""
    try:
        from paste.deploy import loadapp
        from paste.deploy.loadwsgi import SERVER, loadcontext
    except ImportError:
        raise AppLoadError(
            "--paste needs PasteDeploy, which is not installed (pip install PasteDeploy)"
        ) from None
    uri = "config:" + os.path.abspath(path)
    if not os.path.isfile(path):
        raise AppLoadError(f"--paste: no such file {path!r}")
    try:
        app = loadapp(uri, name=name)
    except Exception as exc:
        message = f"--paste {path}: loading [app:{name}] failed: {_one_line(exc)}"
        raise AppLoadError(message) from exc
    try:
        context = loadcontext(SERVER, uri, name=name)
    except LookupError:
        return app, {}
    except Exception as exc:
        message = f"--paste {path}: reading [server:{name}] failed: {_one_line(exc)}"
        raise ConfigError(message) from exc
    return app, options_from_ini(context.local_conf)


def paste_server_options(path: str, name: str = "main") -> dict[str, Any]:
    """The typed options of `[server:NAME]` of a paste ini ({} if none), without the app.

    Used by `wsgiserver.config_sources` so `--print-config` and the precedence merge see the
    ini's options before (or without) loading the application.
    """
    try:
        from paste.deploy.loadwsgi import SERVER, loadcontext
    except ImportError:
        raise AppLoadError(
            "--paste needs PasteDeploy, which is not installed (pip install PasteDeploy)"
        ) from None
    if not os.path.isfile(path):
        raise AppLoadError(f"--paste: no such file {path!r}")
    try:
        context = loadcontext(SERVER, "config:" + os.path.abspath(path), name=name)
    except LookupError:
        return {}
    except Exception as exc:
        raise ConfigError(f"reading [server:{name}] failed: {_one_line(exc)}") from exc
    return options_from_ini(context.local_conf)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
