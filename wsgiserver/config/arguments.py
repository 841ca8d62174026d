"""The command-line parser, generated from the `Config` field metadata.

Owns: `build_parser` (one `--flag` per field, `--no-X` for flags, `APP` positional, in one
argument group per section of the fields' metadata; the arguments about where options come
from: `--config`, `--print-config`, `--check-config`), and argparse's `type=` for each field,
an adapter over `config.conversions` so the command line converts text exactly as the
environment and a paste ini do. Used by the CLI and by the
settings reference (`config.settings_doc`). Must not: merge sources (`config.sources`), load
the app or serve.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, NoReturn

from wsgiserver.config.conversions import argument_from_text, canonical_choice, field_type
from wsgiserver.config.options import SECTIONS, did_you_mean, fields_by_section, shown
from wsgiserver.config.sources import CONFIG_ENV, ENV_FALLBACKS, PRECEDENCE_TEXT, cli_flag, env_var
from wsgiserver.errors import EXIT_CONFIG
from wsgiserver.version import __version__

# Arguments about where options come from; they are not `Config` fields.
CONFIG_ARGUMENTS = ("config_file", "print_config", "check_config")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, like every other startup error (argparse prints the whole usage first).
        hint = ""
        if message.startswith("unrecognized arguments: "):
            # The same hint as an unknown option from any other source (`--port`: --bind).
            flags = [word for word in message.split()[2:] if word.startswith("--")]
            known = [flag for action in self._actions for flag in action.option_strings]
            hint = did_you_mean(flags[0].partition("=")[0], known) if flags else ""
        self.exit(EXIT_CONFIG, f"{self.prog}: error: {message}{hint} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser of `python -m wsgiserver`, generated from `Config`'s fields: one argument
    group per section of `config.options.SECTIONS`, in that order."""
    parser = _Parser(
        prog="wsgiserver",
        usage="%(prog)s [options] APP\n       %(prog)s [options] --paste FILE.ini",
        description="Serve a WSGI application over HTTP/1.1 (and HTTP/2 with --http2).",
        epilog="Example: python -m wsgiserver --bind 127.0.0.1:8080 myproject.wsgi:application",
        # `--thread 3` must not mean `--threads 3`: an option added later with the same
        # prefix would silently change what an existing command line does.
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"wsgiserver {__version__}")
    _add_config_arguments(parser)
    for section, members in fields_by_section().items():
        group = parser.add_argument_group(section, SECTIONS[section])
        for f in members:
            _add_field(group, f)
    return parser


def _add_field(group: argparse._ArgumentGroup, f: dataclasses.Field[Any]) -> None:
    meta = f.metadata
    if f.name == "app":
        group.add_argument(
            "app", metavar="APP", nargs="?", help=meta["help"], default=argparse.SUPPRESS
        )
        return
    help_text = meta["help"]
    fallback = ENV_FALLBACKS.get(f.name)
    if fallback is not None:
        help_text += f"; also read from {fallback}, below {env_var(f)}"
    if meta["secret"]:
        help_text += (
            f"; a secret, never shown (other users may see a command line: prefer "
            f"{env_var(f)} or a config file)"
        )
    if meta["flag"]:
        # Flags are off unless they say so: the one that is on says how to turn it off.
        default = f"on; --no-{cli_flag(f.name)[2:]} turns it off" if f.default else ""
    else:
        default = "" if f.default is None else _show(f.default)
    if default:  # an empty default ("") is no default to show
        help_text += f" (default: {default})"
    kwargs: dict[str, Any] = {"dest": f.name, "help": help_text, "default": argparse.SUPPRESS}
    if meta["flag"]:
        kwargs["action"] = argparse.BooleanOptionalAction  # --no-X overrides files and env
    else:
        kwargs["metavar"] = meta["metavar"]
        kwargs["type"] = argument_type(f)
        if meta["repeat"]:
            kwargs["action"] = "append"
        if meta["choices"]:
            kwargs["choices"] = meta["choices"]
    group.add_argument(cli_flag(f.name), **kwargs)


def argument_type(f: dataclasses.Field[Any]) -> Any:
    """argparse's `type=` for a field: the conversion every text source uses, its ValueError
    turned into the error argparse reports as `argument --X: ...`."""
    convert = argument_from_text(field_type(f.type))
    choices = f.metadata["choices"]

    def parse(text: str) -> Any:
        try:
            if choices:  # before argparse checks its `choices=`, as Config would match them
                return canonical_choice(convert(text), choices)
            return convert(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{shown(f.name, text)}: {exc}") from None

    return parse


def _add_config_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "Configuration",
        f"Options are also read from WSGISERVER_* variables and TOML files. Precedence: "
        f"{PRECEDENCE_TEXT}.",
    )
    group.add_argument(
        "--config",
        dest="config_file",
        metavar="FILE.toml",
        default=None,
        help=f"read options from this TOML file instead of ./pyproject.toml (env: {CONFIG_ENV})",
    )
    group.add_argument(
        "--print-config",
        action="store_true",
        help="print the merged options and where each came from, as TOML, and exit",
    )
    group.add_argument(
        "--check-config",
        action="store_true",
        help="validate the options and load the app (without serving), then exit",
    )


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return " ".join(value)
    return str(value)
