"""The single source of every option: one frozen `Config` dataclass.

Owns: option names, defaults, help texts, types and validation. The CLI parser (and, later,
config files, environment variables and the settings docs) are generated from the field
metadata, so each option is declared once. Must not: do I/O (no sockets, no files, no
imports of the app); validation is pure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from wsgiserver.errors import ConfigError
from wsgiserver.listeners import parse_bind

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
ACCESS_LOG_FORMATS = ("combined", "common")


def option(
    default: Any,
    help: str,
    *,
    metavar: str | None = None,
    repeat: bool = False,
    choices: tuple[str, ...] | None = None,
    flag: bool = False,
) -> Any:
    """A Config field with the metadata the CLI and docs are generated from."""
    meta = {"help": help, "metavar": metavar, "repeat": repeat, "choices": choices, "flag": flag}
    if isinstance(default, list | dict | set):
        raise TypeError("Config defaults must be immutable")
    return field(default=default, metadata=meta)


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """Every wsgiserver option. Build it with keyword arguments; it validates itself."""

    app: str | None = option(None, "the WSGI application, as module:attribute", metavar="APP")
    paste: str | None = option(
        None,
        "load the app from [app:main] of a PasteDeploy ini file (and options from [server:main])",
        metavar="FILE.ini",
    )
    factory: bool = option(
        False, "treat APP as a factory: call it with no arguments to get the app", flag=True
    )
    app_dir: str = option(".", "directory added to sys.path before importing APP", metavar="DIR")
    chdir: str | None = option(None, "change to this directory before importing APP", metavar="DIR")
    bind: tuple[str, ...] = option(
        ("127.0.0.1:8000",),
        "address to listen on: HOST:PORT, [IPV6]:PORT or unix:PATH (repeatable)",
        metavar="ADDRESS",
        repeat=True,
    )
    backlog: int = option(2048, "listen backlog of each listening socket", metavar="N")
    threads: int = option(4, "worker threads kept ready", metavar="N")
    max_threads: int = option(
        128,
        "most worker threads; the pool grows on demand up to this when all threads are busy",
        metavar="N",
    )
    root_path: str = option(
        "", "URL prefix the app is mounted under: becomes SCRIPT_NAME", metavar="PATH"
    )
    keepalive_timeout: float = option(
        5.0, "seconds an idle keep-alive connection is kept open", metavar="SECONDS"
    )
    header_timeout: float = option(
        20.0,
        "seconds allowed to receive a whole request head, from accept or its first byte",
        metavar="SECONDS",
    )
    body_timeout: float = option(
        30.0,
        "seconds of inactivity allowed while the app reads a request body",
        metavar="SECONDS",
    )
    send_timeout: float = option(
        60.0, "seconds allowed for one write to a slow client", metavar="SECONDS"
    )
    graceful_timeout: float = option(
        30.0, "seconds in-flight requests get to finish on shutdown", metavar="SECONDS"
    )
    max_request_line: int = option(8190, "longest request line in bytes (414)", metavar="BYTES")
    max_header_count: int = option(100, "most header fields in a request (431)", metavar="N")
    max_header_field: int = option(
        8190, "longest header field line in bytes (431)", metavar="BYTES"
    )
    max_head_size: int = option(65536, "largest request head in bytes (431)", metavar="BYTES")
    max_body_size: int = option(1 << 30, "largest request body in bytes (413)", metavar="BYTES")
    max_chunk_extension: int = option(
        4096, "longest chunk extension in bytes (400)", metavar="BYTES"
    )
    access_log: str | None = option(
        None, "write an access log line per request to FILE, or '-' for stdout", metavar="FILE"
    )
    access_log_format: str = option(
        "combined", "access log format", choices=ACCESS_LOG_FORMATS, metavar="FORMAT"
    )
    log_level: str = option("info", "error log level", choices=LOG_LEVELS, metavar="LEVEL")

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            _check_type(f.name, getattr(self, f.name), f.type)
        if not self.bind:
            raise ConfigError("bind: at least one address is needed")
        for address in self.bind:
            try:
                parse_bind(address)
            except ValueError as exc:
                raise ConfigError(f"bind: {exc}") from None
        _positive("threads", self.threads)
        _positive("max_threads", self.max_threads)
        if self.max_threads < self.threads:
            raise ConfigError(
                f"max_threads ({self.max_threads}) must not be below threads ({self.threads})"
            )
        _positive("backlog", self.backlog)
        for name in ("keepalive_timeout", "header_timeout", "body_timeout", "send_timeout"):
            _positive(name, getattr(self, name))
        if self.graceful_timeout < 0:
            raise ConfigError("graceful_timeout must not be negative")
        for name in (
            "max_request_line",
            "max_header_count",
            "max_header_field",
            "max_head_size",
            "max_chunk_extension",
        ):
            _positive(name, getattr(self, name))
        if self.max_body_size < 0:
            raise ConfigError("max_body_size must not be negative")
        if self.root_path and (not self.root_path.startswith("/") or self.root_path.endswith("/")):
            raise ConfigError(
                f"root_path: {self.root_path!r} must start with '/' and not end with '/'"
            )
        _choice("access_log_format", self.access_log_format, ACCESS_LOG_FORMATS)
        _choice("log_level", self.log_level, LOG_LEVELS)

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Config:
        """Build from keyword options, naming unknown ones in the error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise ConfigError(f"unknown option(s): {', '.join(unknown)}")
        values = dict(options)
        if isinstance(values.get("bind"), str):
            values["bind"] = (values["bind"],)
        elif isinstance(values.get("bind"), list):
            values["bind"] = tuple(values["bind"])
        try:
            return cls(**values)
        except TypeError as exc:
            raise ConfigError(str(exc)) from None


_TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "bool": lambda v: isinstance(v, bool),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "str | None": lambda v: v is None or isinstance(v, str),
    "tuple[str, ...]": lambda v: isinstance(v, tuple) and all(isinstance(i, str) for i in v),
}


def _check_type(name: str, value: Any, annotation: Any) -> None:
    check = _TYPE_CHECKS[str(annotation)]
    if not check(value):
        raise ConfigError(f"{name}: expected {annotation}, got {value!r}")


def _positive(name: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(f"{name} must be greater than 0, got {value!r}")


def _choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name}: {value!r} is not one of {', '.join(choices)}")
