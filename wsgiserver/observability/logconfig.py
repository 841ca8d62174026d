"""`--log-config FILE`: a `logging.config.dictConfig` dictionary in JSON or TOML.

Owns: reading the file (by extension: `.json`, or `.toml`), checking it is a mapping, and
applying it; every failure is one `ConfigError` line naming the file. Must not: install
wsgiserver's default handlers (the CLI does that only without --log-config).
"""

from __future__ import annotations

import json
import logging.config
import os
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
