"""Converting option values by each `Config` field's annotation: one function per type and kind.

Owns: which annotations an option may have (`FieldType`, `field_type`) and every conversion of
an option value, so that a value is accepted or rejected the same way whichever source gave it:

- text (the command line through argparse's `type=`, `WSGISERVER_*` variables, the
  `[server:main]` section of a paste ini): `bool_from_text`, `int_from_text`,
  `float_from_text`, `str_from_text`, combined by `from_text` (optional and list values);
- values that already have a type (TOML files, and Python callers of `Config`, whose
  `__post_init__` checks every field with them): `bool_from_value`, `int_from_value`,
  `float_from_value`, `str_from_value`, combined by `from_value` (a list option takes a list,
  a tuple or a single item, and is kept as a tuple), and `from_toml` for TOML's conventions
  (an array or a single string for a list, an empty string leaves an optional option unset);
- an option with a fixed set of choices (`--log-level`) matches them without regard to case,
  whatever the source: `canonical_choice`;
- the inverse for `--print-config` and the settings reference: `to_toml`.

Each conversion raises `ValueError(reason)`; the caller names the option and its source.
Whole numbers are ASCII digits only and numbers are finite, written in ASCII: Python's `int()`
and `float()` also accept `_`, surrounding spaces and other scripts' digits, which none of
our sources means to allow. Must not: know where a value came from, or read anything.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_FLOAT = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_SEQUENCE = re.compile(r"tuple\[(\w+), \.\.\.\]")
_BASES: dict[str, type] = {"bool": bool, "int": int, "float": float, "str": str}
_BASE_TEXT = {bool: "boolean", int: "whole number", float: "number", str: "string"}


@dataclass(frozen=True, slots=True)
class FieldType:
    """A `Config` annotation the sources can convert to: a base type, maybe optional or a tuple."""

    base: type
    optional: bool = False
    sequence: bool = False

    def describe(self) -> str:
        text = _BASE_TEXT[self.base]
        if self.sequence:
            text = f"list of {text}s"
        if self.optional:
            text += " (or not set)"
        return text


def field_type(annotation: object) -> FieldType:
    """Parse an annotation (`int`, `str | None`, `tuple[str, ...]`); TypeError if unsupported."""
    text = str(annotation).replace("typing.", "")
    optional = False
    for none in (" | None", "None | "):
        if none in text:
            optional, text = True, text.replace(none, "")
    sequence = _SEQUENCE.fullmatch(text)
    name = sequence.group(1) if sequence else text
    if name not in _BASES or (optional and sequence):
        raise TypeError(f"unsupported Config annotation {annotation!r} (see config.conversions)")
    return FieldType(_BASES[name], optional=optional, sequence=sequence is not None)


# --- text: the command line, the environment, a paste ini ---------------------------------


def bool_from_text(text: str) -> bool:
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise ValueError("expected a boolean: 1/0, true/false, yes/no or on/off")


def is_whole_number(text: str) -> bool:
    """ASCII digits only: `int()` also takes other scripts' digits (a full-width "\uff10")."""
    return text.isascii() and text.isdigit()


def int_from_text(text: str) -> int:
    if not is_whole_number(text):
        if text.startswith("-") and is_whole_number(text[1:]):
            # "-1" is a number, and "expected a whole number" read as if it were not one.
            raise ValueError("expected a whole number, not a negative one")
        raise ValueError("expected a whole number")
    return int(text)


def float_from_text(text: str) -> float:
    if not _FLOAT.fullmatch(text):
        raise ValueError("expected a number")
    # The pattern admits only finite spellings, but one can still overflow ("1e999").
    return _finite(float(text))


def str_from_text(text: str) -> str:
    return text


_FROM_TEXT: dict[type, Callable[[str], Any]] = {
    bool: bool_from_text,
    int: int_from_text,
    float: float_from_text,
    str: str_from_text,
}


def from_text(ftype: FieldType, text: str) -> Any:
    """A whole value given as text: comma-separated items for a list, "" for not set."""
    if ftype.sequence:
        if not text.strip():
            return ()
        items = [item.strip() for item in text.split(",")]
        if not all(items):
            raise ValueError("expected a comma-separated list without empty items")
        return tuple(map(_FROM_TEXT[ftype.base], items))
    if ftype.optional and text == "":
        return None
    return _FROM_TEXT[ftype.base](text)


def argument_from_text(ftype: FieldType) -> Callable[[str], Any]:
    """The conversion of one command-line argument: one item of a repeatable option (each
    occurrence of the flag gives one), else the whole value as `from_text` reads it."""
    if ftype.sequence:
        return _FROM_TEXT[ftype.base]
    return functools.partial(from_text, ftype)


def canonical_choice(value: str, choices: tuple[str, ...]) -> str:
    """The spelling in `choices` of `value`, compared without regard to case: `DEBUG` is
    `debug`, as `logging` and other servers take a level. A value that matches none comes
    back unchanged, for the caller to reject with the list of choices."""
    folded = value.casefold()
    for choice in choices:
        if choice.casefold() == folded:
            return choice
    return value


# --- values with a type: TOML, and Python callers --------------------------------------


def bool_from_value(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


def int_from_value(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("expected a whole number")
    return value


def float_from_value(value: object) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ValueError("expected a number")
    return _finite(float(value))


def str_from_value(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


_FROM_VALUE: dict[type, Callable[[object], Any]] = {
    bool: bool_from_value,
    int: int_from_value,
    float: float_from_value,
    str: str_from_value,
}


def from_value(ftype: FieldType, value: object) -> Any:
    """A value as Python code gives it: a list or a tuple (or one item alone) for a list,
    None for not set. A list becomes a tuple: a `Config` stays immutable and hashable."""
    if ftype.sequence:
        if isinstance(value, str):
            value = (value,)  # bind="127.0.0.1:0": one address, as a TOML string is
        if not isinstance(value, tuple | list):
            raise ValueError(f"expected a list of {_BASE_TEXT[ftype.base]}s")
        return tuple(map(_FROM_VALUE[ftype.base], value))
    if ftype.optional and value is None:
        return None
    return _FROM_VALUE[ftype.base](value)


def from_toml(ftype: FieldType, value: object) -> Any:
    """A value parsed from TOML: an array (or one string) for a list, "" for not set."""
    if ftype.sequence:
        if not isinstance(value, str | list):
            raise ValueError(f"expected an array of {_BASE_TEXT[ftype.base]}s")
    elif ftype.optional and value == "":
        return None
    return from_value(ftype, value)


def _finite(number: float) -> float:
    # A NaN timeout compares false with everything (it never expires), and an infinite one
    # is no timeout at all.
    if not math.isfinite(number):
        raise ValueError("expected a finite number")
    return number


# --- and back: TOML text --------------------------------------------------------------


def to_toml(value: Any) -> str:
    """A value as TOML text (None has no TOML form: the caller comments it out)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        # A JSON string is a TOML basic string, but for DEL: JSON leaves it raw, and TOML
        # allows no control character unescaped (TOML 1.0, "String").
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, tuple | list):
        return "[" + ", ".join(to_toml(item) for item in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")
