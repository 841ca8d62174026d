"""Which options only the command line applies, and how an embedded `Server` refuses them.

Owns: the list of command-line-only options, read from the `command_line_only` metadata of
`Config`'s fields (what an embedding program does instead), and `refuse_command_line_only`,
which a `Server` built without a `ProcessRole` (`Server(...)`, `serve(...)`, the testing
helpers) calls. Worker processes, recycling, reloading, the pid file, `--chdir`, loading the
app by name and logging set-up happen around a `Server`, in the command line and its
supervisor: an embedded `Server` would accept `workers=4` and serve in one process. A value
other than the default is therefore a `ConfigError` there, in one line naming the option
and what to do instead. Must not: apply any of these options (`cli/` and `supervisor/` do).
"""

from __future__ import annotations

import dataclasses
import functools

from wsgiserver.config.options import DEFAULTS, Config, shown
from wsgiserver.errors import ConfigError


@functools.cache
def command_line_only() -> dict[str, str]:
    """The command-line-only options, in declaration order: name -> what to do instead."""
    return {
        f.name: f.metadata["command_line_only"]
        for f in dataclasses.fields(Config)
        if f.metadata["command_line_only"] is not None
    }


def refuse_command_line_only(config: Config) -> None:
    """Raise `ConfigError` if `config` sets a command-line-only option (not its default)."""
    advice = command_line_only()
    given = [name for name in advice if getattr(config, name) != getattr(DEFAULTS, name)]
    if not given:
        return
    values = ", ".join(f"{name}={shown(name, getattr(config, name))}" for name in given)
    what = "is a command-line option" if len(given) == 1 else "are command-line options"
    instead = "; ".join(dict.fromkeys(advice[name] for name in given))  # each said once
    raise ConfigError(f"{values} {what}, not applied by an embedded Server: {instead}")
