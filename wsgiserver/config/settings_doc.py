"""Generate `docs/settings.rst` from `Config`: `python -m wsgiserver.config.settings_doc`.

Owns: the settings reference (name, command-line flag, environment variable, TOML key, type,
default, help) rendered from field metadata and the real argument parser, so it cannot drift;
its sections are the groups of `--help` (`config.options.SECTIONS`), in the same order.
`--check` exits 1 when the file on disk is stale (a test does the same). Must not: hold any
option's text itself; `docs/settings.rst` is never edited by hand: change `Config` and rerun.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wsgiserver.config.arguments import build_parser
from wsgiserver.config.conversions import field_type, to_toml
from wsgiserver.config.options import (
    PATH_FROM_CHDIR,
    PATH_FROM_START,
    SECTIONS,
    fields_by_section,
)
from wsgiserver.config.sources import ENV_FALLBACKS, PRECEDENCE_TEXT, env_var, toml_key

COMMAND = "python -m wsgiserver.config.settings_doc"
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "docs" / "settings.rst"


def _flags(parser: argparse.ArgumentParser) -> dict[str, str]:
    """How each field is spelled on the command line, taken from the parser itself."""
    spelled: dict[str, str] = {}
    for action in parser._actions:
        if not action.option_strings:
            spelled[action.dest] = f"``{action.metavar or action.dest}`` (positional)"
            continue
        if isinstance(action, argparse.BooleanOptionalAction | argparse._StoreTrueAction):
            spelled[action.dest] = " / ".join(f"``{name}``" for name in action.option_strings)
            continue
        metavar = action.metavar if isinstance(action.metavar, str) else "VALUE"
        text = ", ".join(f"``{name} {metavar}``" for name in action.option_strings)
        if isinstance(action, argparse._AppendAction):
            text += " (repeatable)"
        spelled[action.dest] = text
    return spelled


_RELATIVE_TO = {
    PATH_FROM_START: "relative to the directory the server was started in, whatever ``--chdir`` is",
    PATH_FROM_CHDIR: "relative to ``--chdir`` (else the directory the server was started in)",
}


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:].rstrip(".") + "."


def _literal(value: Any) -> str:
    return "not set" if value is None else f"``{to_toml(value)}``"


def render() -> str:
    """The whole settings reference, as reStructuredText."""
    flags = _flags(build_parser())
    sections = fields_by_section()  # the groups of `--help`, in the same order
    fields = [f for members in sections.values() for f in members]
    out = [
        f".. Generated from the Config dataclass (wsgiserver/config/options.py) by ``{COMMAND}``.",
        "   Do not edit by hand: change Config and run that command.",
        "",
        "Settings reference",
        "==================",
        "",
        "Every option can be given on the command line, as a ``WSGISERVER_*`` environment",
        "variable, or as a key (``snake_case`` or ``kebab-case``) in a TOML file: the file named",
        "by ``--config FILE.toml`` (or ``WSGISERVER_CONFIG``), or else ``[tool.wsgiserver]`` in",
        "``./pyproject.toml``. See :doc:`configuration`. Precedence, highest first:",
        "",
        f"    {PRECEDENCE_TEXT}",
        "",
        "In the environment, booleans are ``1/0``, ``true/false``, ``yes/no`` or ``on/off``;",
        "lists are comma-separated; an empty value leaves an optional setting unset.",
        "",
    ]
    width = max(len(f.name) for f in fields) + 4
    rule = "=" * width + " " + "=" * 40
    out += [rule, f"{'option':<{width}} default", rule]
    out += [f"{'`' + f.name + '`_':<{width}} {_literal(f.default)}" for f in fields]
    out += [rule, ""]
    for section, members in sections.items():
        out += [section, "-" * len(section), "", SECTIONS[section], ""]
        for f in members:
            meta = f.metadata
            ftype = field_type(f.type)
            # Help texts are argparse's (a literal % is written %%): as the reader sees them.
            text = str(meta["help"]).replace("%%", "%")
            out += [f.name, "~" * len(f.name), "", _sentence(text), ""]
            example = f.default if f.default is not None else meta.get("metavar") or "..."
            env_note = " (comma-separated)" if ftype.sequence else ""
            fallback = ENV_FALLBACKS.get(f.name)
            if fallback is not None:
                env_note += f", else ``{fallback}``"
            out += [
                f":Command line: {flags.get(f.name, 'none')}",
                f":Environment: ``{env_var(f)}``{env_note}",
                f":Config file: ``{toml_key(f.name)} = {to_toml(example)}``",
                f":Type: {ftype.describe()}",
                f":Default: {_literal(f.default)}",
            ]
            if meta.get("choices"):
                choices = ", ".join(f"``{c}``" for c in meta["choices"])
                out.append(f":Choices: {choices} (in any case)")
            if meta["secret"]:
                out.append(
                    ":Secret: never shown (``--print-config``, error messages, logs, ``repr``);"
                    " other users may see a command line, so prefer the environment or a file"
                )
            if meta["path"] is not None:
                out.append(f":Relative paths: {_RELATIVE_TO[meta['path']]}")
            if meta.get("since"):
                out.append(f":Since: {meta['since']}")
            out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    text = render()
    current = args.path.read_text(encoding="utf-8") if args.path.is_file() else None
    if args.check:
        if current != text:
            sys.stderr.write(f"{args.path} is stale: run {COMMAND}\n")
            return 1
        return 0
    if current != text:
        args.path.write_text(text, encoding="utf-8")
        sys.stderr.write(f"wrote {args.path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
