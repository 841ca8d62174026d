"""Where option values come from, and the one place they are merged into a `Config`.

Owns: reading a `--config FILE.toml`, `[tool.wsgiserver]` of `./pyproject.toml`, the
`WSGISERVER_*` environment variables and the `[server:main]` options of a `--paste` ini (their
values converted by `config.conversions`, as the command line's are); merging them by
precedence while remembering where each value came from; and rendering the result for
`--print-config`.
Everything is generic over `dataclasses.fields(Config)`: a new field is a new key everywhere.

Precedence, highest first: command line > environment > config file (`--config`, else
`WSGISERVER_CONFIG`) or, when neither is given, `[tool.wsgiserver]` in `./pyproject.toml` >
`[server:main]` of the `--paste` ini > the defaults in `Config`.

Must not: serve, bind sockets, or import the application.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsgiserver.config.conversions import (
    field_type,
    from_text,
    from_toml,
    to_toml,
)
from wsgiserver.config.options import HIDDEN, Config, did_you_mean, fields_by_section, shown
from wsgiserver.config.paste_ini import paste_server_options
from wsgiserver.errors import ConfigError

ENV_PREFIX = "WSGISERVER_"
CONFIG_ENV = "WSGISERVER_CONFIG"
WEB_CONCURRENCY = "WEB_CONCURRENCY"  # the platform convention for the worker count
# Variables outside our prefix that set an option, below its WSGISERVER_* variable.
ENV_FALLBACKS = {"workers": WEB_CONCURRENCY}
# WSGISERVER_* variables that are not options: the config file, and the sample apps' settings.
RESERVED_ENV = frozenset({CONFIG_ENV})
RESERVED_ENV_PREFIXES = ("WSGISERVER_SAMPLE_",)
# The service-link variables Kubernetes gives every pod for a Service named `wsgiserver`, or
# `wsgiserver-<anything>` (enableServiceLinks, on by default): <NAME>_SERVICE_HOST,
# _SERVICE_PORT and _SERVICE_PORT_<PORT NAME>, and the Docker-link style <NAME>_PORT=
# tcp://IP:PORT and <NAME>_PORT_<N>_<TCP|UDP|SCTP>[_PROTO|_PORT|_ADDR], where <NAME> is the
# Service's name in capitals with `_` for `-` (WSGISERVER, WSGISERVER_ADMIN...). Ignored
# only in exactly these shapes, and only where no option has the name; the URL-valued ones
# only with a URL, so a mistaken WSGISERVER_PORT=8000 is still reported, and then even where
# an option has the name (`Service wsgiserver-reuse` gives WSGISERVER_REUSE_PORT=tcp://...,
# the name of --reuse-port, which no URL can be a value of).
_SERVICE = r"WSGISERVER(_[A-Z0-9_]+)?"
_SERVICE_LINK = re.compile(
    rf"{_SERVICE}_SERVICE_(HOST|PORT(_[A-Z0-9_]+)?)"
    rf"|{_SERVICE}_PORT_[0-9]+_(TCP|UDP|SCTP)_(PROTO|PORT|ADDR)"
)
_SERVICE_LINK_URL = re.compile(rf"{_SERVICE}_PORT(_[0-9]+_(TCP|UDP|SCTP))?")
_LINK_URL_VALUE = re.compile(r"(tcp|udp|sctp)://\S+")


def _is_service_link(name: str, value: str) -> bool:
    """Whether the variable `name=value` is one of Kubernetes' service links for a Service
    named `wsgiserver`, not a misspelt option."""
    if _SERVICE_LINK.fullmatch(name):
        return True
    return bool(_SERVICE_LINK_URL.fullmatch(name) and _LINK_URL_VALUE.fullmatch(value))


PYPROJECT_TABLE = "tool.wsgiserver"


class Kind(enum.IntEnum):
    """Kinds of source, in increasing precedence."""

    DEFAULT = 0
    PASTE = 1
    PYPROJECT = 2
    FILE = 3
    ENV = 4
    CLI = 5


PRECEDENCE_TEXT = (
    "command line > environment (WSGISERVER_*) > config file (--config or WSGISERVER_CONFIG), "
    "else [tool.wsgiserver] in ./pyproject.toml > [server:main] of the --paste ini > default"
)


@dataclass(frozen=True, slots=True)
class Source:
    """Where one value came from: a kind, and the file, variable or flag."""

    kind: Kind
    where: str = ""

    def __str__(self) -> str:
        if self.kind is Kind.DEFAULT:
            return "default"
        if self.kind is Kind.PASTE:
            return f"paste ini {self.where} [server:main]"
        if self.kind is Kind.PYPROJECT:
            return f"{self.where} [{PYPROJECT_TABLE}]"
        if self.kind is Kind.FILE:
            return f"config file {self.where}"
        if self.kind is Kind.ENV:
            return f"environment {self.where}"
        return f"command line {self.where}"


DEFAULT = Source(Kind.DEFAULT)


class ConfigSourceError(ConfigError):
    """One or more bad keys or values; each message names the key and its source."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def env_var(f: dataclasses.Field[Any]) -> str:
    """The environment variable of a field: its `env` metadata or WSGISERVER_<NAME>."""
    name = f.metadata.get("env")
    return name if isinstance(name, str) else ENV_PREFIX + f.name.upper()


def cli_flag(name: str) -> str:
    return "APP" if name == "app" else "--" + name.replace("_", "-")


def toml_key(name: str) -> str:
    return name.replace("_", "-")


def _fields() -> dict[str, dataclasses.Field[Any]]:
    return {f.name: f for f in dataclasses.fields(Config)}


# --- sources -----------------------------------------------------------------------------


@dataclass(slots=True)
class Layer:
    """The values one source gives, with the source of each, and the errors found reading it."""

    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, Source] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def put(self, name: str, value: Any, source: Source) -> None:
        self.values[name] = value
        self.sources[name] = source


def from_table(table: Mapping[str, Any], source: Source) -> Layer:
    """Options of a TOML table (a config file or `[tool.wsgiserver]`); keys snake or kebab."""
    layer = Layer()
    fields = _fields()
    seen: dict[str, str] = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name == "tool" and isinstance(value, dict) and "wsgiserver" in value:
            layer.errors.append(
                f"[tool.wsgiserver] ({source}): read only from a file named pyproject.toml; "
                "in any other config file the options go at the top level"
            )
            continue
        if name not in fields:
            known = sorted([*fields, *map(toml_key, fields)])
            layer.errors.append(f"{key} ({source}): unknown option{did_you_mean(key, known)}")
            continue
        if name in seen:
            layer.errors.append(f"{key} ({source}): given twice, also as {seen[name]}")
            continue
        seen[name] = key
        try:
            layer.put(name, from_toml(field_type(fields[name].type), value), source)
        except ValueError as exc:
            layer.errors.append(f"{key} = {shown(name, value, _show)} ({source}): {exc}")
    return layer


def _empty_is_a_value(f: dataclasses.Field[Any]) -> bool:
    """Whether empty text is a valid value of the option (`access-log`: none; `request-id-
    header`: generate ids), rather than none at all (a number, a flag, a choice, `bind`)."""
    try:
        Config(**{f.name: from_text(field_type(f.type), "")})
    except (ValueError, ConfigError):
        return False
    return True


def from_environ(environ: Mapping[str, str]) -> Layer:
    """Options of the `WSGISERVER_*` variables; unknown ones (not reserved) are errors."""
    layer = Layer()
    fields = _fields()
    by_env = {env_var(f): f for f in fields.values()}
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name in RESERVED_ENV:
            continue
        if name.startswith(RESERVED_ENV_PREFIXES):
            continue
        text = environ[name]
        f = by_env.get(name)
        if (f is None or _LINK_URL_VALUE.fullmatch(text)) and _is_service_link(name, text):
            continue
        if f is None:
            hint = did_you_mean(name, sorted(by_env))
            layer.errors.append(f"{name} (environment): unknown option{hint}")
            continue
        if not text and not _empty_is_a_value(f):
            # Unset, as WEB_CONCURRENCY and WSGISERVER_CONFIG are: templated manifests
            # (`value: "${THREADS}"`) set variables empty.
            continue
        try:
            layer.put(f.name, from_text(field_type(f.type), text), Source(Kind.ENV, name))
        except ValueError as exc:
            layer.errors.append(f"{name}={shown(f.name, text)} (environment): {exc}")
    for name, variable in ENV_FALLBACKS.items():
        # The Heroku/Render convention (WEB_CONCURRENCY), below WSGISERVER_WORKERS (and --workers).
        text = environ.get(variable, "")
        if not text or name in layer.values:
            continue
        try:
            layer.put(
                name, from_text(field_type(fields[name].type), text), Source(Kind.ENV, variable)
            )
        except ValueError as exc:
            layer.errors.append(f"{variable}={shown(name, text)} (environment): {exc}")
    return layer


def from_cli(options: Mapping[str, Any]) -> Layer:
    """Options given on the command line (argparse leaves absent ones out)."""
    layer = Layer()
    for name, value in options.items():
        value = tuple(value) if isinstance(value, list) else value
        flag = cli_flag(name)
        if value is False:  # a flag given as --no-X (BooleanOptionalAction)
            flag = "--no-" + flag.removeprefix("--")
        layer.put(name, value, Source(Kind.CLI, flag))
    return layer


def _read_toml(path: Path, what: str) -> tuple[dict[str, Any] | None, str | None]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file), None
    except OSError as exc:
        return None, f"{path} ({what}): cannot read it: {exc.strerror or exc}"
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        return None, f"{path} ({what}): invalid TOML: {exc}"


def from_config_file(path: Path, named_by: str) -> Layer:
    """A `--config` file: options at the top level (or `[tool.wsgiserver]` of a pyproject.toml)."""
    data, error = _read_toml(path, f"config file named by {named_by}")
    if data is None:
        return Layer(errors=[error or str(path)])
    if path.name == "pyproject.toml":
        return _pyproject_table(data, path, Source(Kind.PYPROJECT, str(path)), required=True)
    return from_table(data, Source(Kind.FILE, str(path)))


def from_pyproject(directory: Path) -> Layer:
    """`[tool.wsgiserver]` of `directory/pyproject.toml`; nothing when either is missing."""
    path = directory / "pyproject.toml"
    if not path.is_file():
        return Layer()
    data, error = _read_toml(path, "pyproject.toml")
    if data is None:
        return Layer(errors=[error or str(path)])
    return _pyproject_table(data, path, Source(Kind.PYPROJECT, str(path)), required=False)


def _pyproject_table(data: dict[str, Any], path: Path, source: Source, *, required: bool) -> Layer:
    tool = data.get("tool", {})
    table = tool.get("wsgiserver") if isinstance(tool, dict) else None
    if table is None:
        if required:
            return Layer(errors=[f"{path}: has no [{PYPROJECT_TABLE}] table"])
        return Layer()
    if not isinstance(table, dict):
        return Layer(errors=[f"{path}: [{PYPROJECT_TABLE}] must be a table"])
    return from_table(table, source)


def from_paste(path: str, read: Callable[[str], Mapping[str, Any]]) -> Layer:
    """The typed `[server:main]` options of a paste ini, read by `read`.

    A ConfigError of `read` becomes an error of the layer; an AppLoadError (no such file, no
    PasteDeploy) propagates: the app cannot be loaded, which the caller reports as such.
    """
    layer = Layer()
    source = Source(Kind.PASTE, path)
    try:
        options = read(path)
    except ConfigError as exc:
        return Layer(errors=[f"--paste {path} ([server:main]): {exc}"])
    for name, value in options.items():
        layer.put(name, value, source)
    return layer


def _show(value: Any) -> str:
    try:
        return to_toml(value)
    except TypeError:
        return repr(value)


# --- merging -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Loaded:
    """The merged `Config`, and the source of every field's value."""

    config: Config
    sources: Mapping[str, Source]


def load_config(
    cli_options: Mapping[str, Any],
    *,
    config_file: str | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    read_paste: Callable[[str], Mapping[str, Any]] | None = None,
) -> Loaded:
    """Merge every source into one validated `Config`; ConfigSourceError lists every problem.

    Raises AppLoadError when a `--paste` ini cannot be read at all (missing, no PasteDeploy).

    `cli_options` holds only the options given on the command line; `config_file` is the
    `--config` value (else `WSGISERVER_CONFIG` is used). `read_paste` reads the server options
    of a paste ini (default: `wsgiserver.config.paste_ini.paste_server_options`).
    """
    environ = os.environ if environ is None else environ
    directory = Path.cwd() if cwd is None else Path(cwd)
    if config_file == "":
        # Path("") is the current directory, read as a file ("Is a directory").
        file_layer = Layer(errors=["--config: give a file (--config /dev/null reads none)"])
    elif config_file is not None:
        file_layer = from_config_file(directory / config_file, "--config")
    elif environ.get(CONFIG_ENV):
        file_layer = from_config_file(directory / environ[CONFIG_ENV], CONFIG_ENV)
    else:
        file_layer = from_pyproject(directory)
    layers = [file_layer, from_environ(environ), from_cli(cli_options)]
    errors = [error for layer in layers for error in layer.errors]
    values, sources = _merge(layers)
    errors += _one_app(values, sources)
    paste = values.get("paste")
    if paste and not errors:
        if read_paste is None:
            read_paste = paste_server_options
        # Relative to --chdir, like the app is loaded later.
        paste_path = str(directory / (values.get("chdir") or "") / paste)
        paste_layer = from_paste(paste_path, read_paste)
        errors += paste_layer.errors
        values, sources = _merge([paste_layer, *layers])
        _one_app(values, sources)  # the merge brought back the one dropped; no new conflict
    if errors:
        raise ConfigSourceError(errors)
    try:
        config = Config(**values)
    except ConfigError as exc:
        raise ConfigSourceError([_name_sources(exc, sources)]) from None
    return Loaded(config, sources)


def _merge(layers: list[Layer]) -> tuple[dict[str, Any], dict[str, Source]]:
    values: dict[str, Any] = {}
    sources: dict[str, Source] = dict.fromkeys(_fields(), DEFAULT)
    for layer in layers:
        values.update(layer.values)
        sources.update(layer.sources)
    return values, sources


def _one_app(values: dict[str, Any], sources: dict[str, Source]) -> list[str]:
    """APP and --paste are two ways to name the one app: like any option, the higher source
    wins (`--paste` on the command line over `app` in pyproject.toml), and the other is
    dropped. Both from one kind of source are an error naming both."""
    if not values.get("app") or not values.get("paste"):
        return []
    app, paste = sources["app"], sources["paste"]
    if app.kind == paste.kind:
        return [f"give either APP or --paste, not both (app from {app}; paste from {paste})"]
    lower = "app" if app.kind < paste.kind else "paste"
    del values[lower]
    sources[lower] = DEFAULT
    return []


def _name_sources(error: ConfigError, sources: Mapping[str, Source]) -> str:
    """Append where the values of the options a validation error is about came from, in the
    error's order (defaults are not named). Only the options the check names in
    `error.options`: a word in a value or in the message's example is not an option."""
    named = [
        f"{name} from {sources[name]}"
        for name in error.options
        if name in sources and sources[name].kind is not Kind.DEFAULT
    ]
    return f"{error} ({'; '.join(named)})" if named else str(error)


def render_config(loaded: Loaded) -> str:
    """`--print-config`: one TOML line per option with its source, fit for a config file,
    grouped under a comment per section as `--help` groups them."""
    lines: list[tuple[str, str]] = []
    for section, members in fields_by_section().items():
        lines.append((f"\n# {section}", ""))
        for f in members:
            value = getattr(loaded.config, f.name)
            key = toml_key(f.name)
            if value is None:
                text = f"# {key} = (not set)"
            elif f.metadata["secret"]:
                text = f"# {key} = {HIDDEN}"  # set, and kept out of the output
            else:
                text = f"{key} = {to_toml(value)}"
            lines.append((text, str(loaded.sources.get(f.name, DEFAULT))))
    width = max(len(text) for text, source in lines if source)
    header = f"# wsgiserver configuration; precedence: {PRECEDENCE_TEXT}\n"
    return header + "".join(
        f"{text.ljust(width)}  # {source}\n" if source else f"{text}\n" for text, source in lines
    )
