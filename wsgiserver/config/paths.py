"""What a relative path in an option is relative to: one rule for every path option.

Owns: `absolute_paths`, which makes every file and directory option of a `Config` absolute
before the server changes to `--chdir`. The rule, declared per field with `path=` in
`config.options` (and shown in the settings reference): a relative path is relative to the
directory the command was started in, except `--paste` and `--app-dir`, which say where
the app is found and are relative to `--chdir` (so `--chdir DIR` alone imports the app from
DIR). Unix socket addresses (`unix:PATH` in `--bind` and `--admin-bind`) follow their
option's rule, but stay relative (to `--chdir` then): the kernel takes at most 107 bytes for
one, which a short relative name in a deep directory would exceed once made absolute.
After this, `--chdir` changes nothing about where a file is, and every error about a file
(but a socket's) names its absolute path.

Must not: touch the file system (it joins strings; the caller gives the starting directory).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from wsgiserver.config.options import PATH_FROM_CHDIR, Config

# Options whose values are listening addresses: only the path of `unix:PATH` is a path.
_ADDRESS_OPTIONS = frozenset({"bind", "admin_bind"})
_UNIX = "unix:"
_STDOUT = "-"  # --access-log - is stdout, not a file named "-"


def absolute_paths(config: Config, start: str) -> Config:
    """`config` with every relative path option made absolute, `start` being the directory
    the command was started in (absolute)."""
    chdir = os.path.join(start, config.chdir) if config.chdir is not None else start
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        kind = f.metadata["path"]
        value = getattr(config, f.name)
        if kind is None or value is None:
            continue
        base = chdir if kind == PATH_FROM_CHDIR else start
        if f.name in _ADDRESS_OPTIONS:
            resolved: Any = (
                tuple(_address(a, base, chdir) for a in value)
                if isinstance(value, tuple)
                else _address(value, base, chdir)
            )
        elif value == _STDOUT and f.name == "access_log":
            continue
        else:
            resolved = _path(value, base)
        if resolved != value:
            changes[f.name] = resolved
    return config.replace(**changes) if changes else config


def _path(value: str, base: str) -> str:
    return os.path.normpath(os.path.join(base, value))  # an absolute value stays as it is


def _address(value: str, base: str, chdir: str) -> str:
    """`unix:PATH` relative to `base`, written relative to `chdir` (where the server runs)."""
    if not value.startswith(_UNIX) or os.path.isabs(value[len(_UNIX) :]):
        return value
    path = _path(value[len(_UNIX) :], base)
    return _UNIX + os.path.relpath(path, chdir)
