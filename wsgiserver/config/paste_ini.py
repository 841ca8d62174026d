"""The `[server:NAME]` section of a PasteDeploy ini file, as typed `Config` options.

Owns: turning the string options of a server section into typed options (`host`/`port`,
`bind`/`listen` like waitress, and every `Config` field name, with dashes or underscores) for
the `--paste` source of `config.sources` and for the `paste.server_runner` entry point
(`cli.paste.serve_paste`). Values are converted by `config.conversions`, as the command line's
and the environment's are. PasteDeploy is imported only when an ini file is read. Must not:
load the application (`apploader.load_paste` does) or serve.
"""

from __future__ import annotations

import configparser
import dataclasses
from collections.abc import Mapping
from typing import Any

from wsgiserver.apploader import describe_failure, paste_deploy, paste_uri
from wsgiserver.config.conversions import field_type, from_text
from wsgiserver.config.options import Config, did_you_mean, shown
from wsgiserver.errors import ConfigError

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
    # configparser has stripped the values already: the text left is converted as the
    # command line and the environment convert theirs (config.conversions), not stripped again.
    seen: dict[str, str] = {}
    for raw_name, value in local_conf.items():
        name = raw_name.replace("-", "_")
        if name in seen:  # max-threads and max_threads: the last silently won
            raise ConfigError(f"paste ini: {raw_name} is given twice, also as {seen[name]}")
        seen[name] = raw_name
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
            hint = did_you_mean(name, known) or f"; known: {', '.join(known)}"
            raise ConfigError(f"unknown server option {raw_name!r} in the paste ini{hint}")
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
        return value  # already typed (a caller passing Python values; Config checks them)
    ftype = field_type(annotation)
    if ftype.sequence:
        # Ini values list items separated by whitespace (as waitress's `listen`).
        value = ",".join(value.split())
    try:
        return from_text(ftype, value)
    except ValueError as exc:
        raise ConfigError(f"paste ini: {name} = {shown(name, value)}: {exc}") from None


def _server_keys(path: str, name: str) -> set[str] | None:
    """The keys of the `[server:NAME]` section (spaces around the parts allowed, as
    PasteDeploy does), or None if there is none."""
    parser = configparser.RawConfigParser(strict=False, default_section="\0")
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return None  # PasteDeploy has said what is wrong with the file, if anything
    for section in parser.sections():
        kind, _, section_name = section.partition(":")
        if kind.strip() == "server" and section_name.strip() == name:
            return set(parser.options(section))
    return None


def paste_server_options(path: str, name: str = "main") -> dict[str, Any]:
    """The typed options of `[server:NAME]` of a paste ini ({} if none), without the app.

    `config.sources` reads them as the lowest source of `--paste`, so `--print-config` and
    the precedence merge see them before (or without) loading the application. AppLoadError
    when the file or PasteDeploy is missing; ConfigError when the section is invalid.
    """
    loadwsgi = paste_deploy()
    uri = paste_uri(path)
    try:
        context = loadwsgi.loadcontext(loadwsgi.SERVER, uri, name=name)
    except LookupError as exc:
        keys = _server_keys(path, name)
        if keys is None:
            return {}
        if not keys & {"use", "paste.server_factory", "paste.server_runner"}:
            # PasteDeploy reads no options from a section that names no server: they would
            # be ignored without a word (the app still served, on the defaults).
            raise ConfigError(
                f"[server:{name}] has no 'use' line, so its options cannot be read: "
                "add 'use = egg:strict-wsgiserver'"
            ) from None
        raise ConfigError(f"reading [server:{name}] failed: {describe_failure(exc)}") from exc
    except Exception as exc:
        raise ConfigError(f"reading [server:{name}] failed: {describe_failure(exc)}") from exc
    return options_from_ini(context.local_conf)
