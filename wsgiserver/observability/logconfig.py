"""Logging set-up of a serving process: wsgiserver's default handlers, or `--log-config`.

Owns: `configure_logging` (the default handlers on `wsgiserver` and `wsgiserver.access`, or
the user's `logging.config.dictConfig` dictionary in a `.json` or `.toml` file instead) and
the access-log handler; every failure is one `ConfigError` line naming the option and file.
Takes plain arguments (the values of --log-config, --log-level and --access-log), never a
`Config`. Must not: be called by an embedded `Server`, which leaves its host's logging alone
(only the command line and the paste server runner call it).
"""

from __future__ import annotations

import json
import logging.config
import os
import sys
import tomllib
from typing import Any

from wsgiserver.errors import ConfigError


def read_log_config(path: str) -> dict[str, Any]:
    extension = os.path.splitext(path)[1].lower()
    try:
        if extension == ".json":
            with open(path, encoding="utf-8") as file:
                data = json.load(file)
        elif extension == ".toml":
            with open(path, "rb") as file:
                data = tomllib.load(file)
        else:
            raise ConfigError(f"log_config: {path}: expected a .json or .toml file")
    except OSError as exc:
        raise ConfigError(f"log_config: {path}: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, TOMLDecodeError
        raise ConfigError(f"log_config: {path}: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"log_config: {path}: expected a mapping (a dictConfig dictionary)")
    data.setdefault("version", 1)
    data.setdefault("disable_existing_loggers", False)
    return data


def apply_log_config(path: str) -> None:
    """Read and apply `path`; ConfigError (one line) if it is unreadable or invalid."""
    data = read_log_config(path)
    try:
        logging.config.dictConfig(data)
    except (ValueError, TypeError, AttributeError, ImportError) as exc:
        cause = f"{exc}: {exc.__cause__}" if exc.__cause__ is not None else str(exc)
        message = " ".join(cause.split()) or type(exc).__name__
        raise ConfigError(f"log_config: {path}: {message}") from None


def configure_logging(*, log_config: str | None, log_level: str, access_log: str | None) -> None:
    """Default handlers on `wsgiserver` (errors, stderr) and `wsgiserver.access`; or, with
    `log_config`, the user's dictConfig instead (ConfigError, one line, if it is invalid).

    `log_level` is a level name (`info`); `access_log` a file name, `-` for stdout, or None.
    With `log_config` and `access_log` both given, the access log handler is still added
    when the dictConfig gave `wsgiserver.access` no handler of its own.
    """
    access = logging.getLogger("wsgiserver.access")
    if log_config is not None:
        apply_log_config(log_config)
        if access_log is not None and not access.handlers:
            access.handlers[:] = [_access_handler(access_log)]
            access.setLevel(logging.INFO)
            access.propagate = False
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[%(asctime)s] %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("wsgiserver")
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, log_level.upper()))
    root.propagate = False
    access.propagate = False
    if access_log is not None:
        access.handlers[:] = [_access_handler(access_log)]
        access.setLevel(logging.INFO)


def _access_handler(destination: str) -> logging.Handler:
    target: logging.Handler
    if destination == "-":
        target = logging.StreamHandler(sys.stdout)
    else:
        try:
            target = logging.FileHandler(destination, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"access_log: cannot open {destination!r}: {exc.strerror}") from None
    target.setFormatter(logging.Formatter("%(message)s"))
    return target
