"""Converting environment text and TOML values by each field's annotation, table-driven."""

from __future__ import annotations

import math
from typing import Any

import pytest

from wsgiserver.config.sources import FieldType, field_type, from_text, from_toml, to_toml

BOOL = FieldType(bool)
INT = FieldType(int)
FLOAT = FieldType(float)
STR = FieldType(str)
OPT_STR = FieldType(str, optional=True)
OPT_INT = FieldType(int, optional=True)
STRS = FieldType(str, sequence=True)


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        ("bool", BOOL),
        ("int", INT),
        ("float", FLOAT),
        ("str", STR),
        ("str | None", OPT_STR),
        ("None | str", OPT_STR),
        ("int | None", OPT_INT),
        ("tuple[str, ...]", STRS),
        ("tuple[int, ...]", FieldType(int, sequence=True)),
    ],
)
def test_field_type_parses_supported_annotations(annotation: str, expected: FieldType) -> None:
    assert field_type(annotation) == expected


@pytest.mark.parametrize(
    "annotation",
    ["list[str]", "dict[str, str]", "bytes", "tuple[str, int]", "tuple[str, ...] | None"],
)
def test_field_type_rejects_unsupported_annotations(annotation: str) -> None:
    with pytest.raises(TypeError, match="unsupported Config annotation"):
        field_type(annotation)


@pytest.mark.parametrize(
    ("ftype", "text", "expected"),
    [
        *[(BOOL, t, True) for t in ("1", "true", "TRUE", "Yes", "on", "ON")],
        *[(BOOL, t, False) for t in ("0", "false", "False", "no", "OFF", "off")],
        (INT, "0", 0),
        (INT, "8", 8),
        (INT, "0012", 12),
        (FLOAT, "2.5", 2.5),
        (FLOAT, "3", 3.0),
        (FLOAT, ".5", 0.5),
        (FLOAT, "1e3", 1000.0),
        (FLOAT, "-1", -1.0),
        (STR, "", ""),
        (STR, " spaced ", " spaced "),
        (OPT_STR, "", None),
        (OPT_STR, "-", "-"),
        (OPT_INT, "", None),
        (OPT_INT, "7", 7),
        (STRS, "a:1", ("a:1",)),
        (STRS, "a:1,unix:/x", ("a:1", "unix:/x")),
        (STRS, " a:1 , [::1]:2 ", ("a:1", "[::1]:2")),
        (STRS, "", ()),
    ],
)
def test_from_text_accepts(ftype: FieldType, text: str, expected: Any) -> None:
    value = from_text(ftype, text)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("ftype", "text", "reason"),
    [
        (BOOL, "", "expected a boolean"),
        (BOOL, "2", "expected a boolean"),
        (BOOL, "y", "expected a boolean"),
        (BOOL, " true", "expected a boolean"),
        (INT, "x", "expected a whole number"),
        (INT, "", "expected a whole number"),
        (INT, "-1", "expected a whole number"),
        (INT, "+1", "expected a whole number"),
        (INT, "1_000", "expected a whole number"),
        (INT, " 1", "expected a whole number"),
        (INT, "1.0", "expected a whole number"),
        (INT, "\u0661", "expected a whole number"),  # ARABIC-INDIC DIGIT ONE: int() takes it
        (FLOAT, "nan", "expected a number"),
        (FLOAT, "inf", "expected a number"),
        (FLOAT, "1e999", "expected a finite number"),
        (FLOAT, "1_0", "expected a number"),
        (FLOAT, " 1", "expected a number"),
        (FLOAT, "", "expected a number"),
        (FLOAT, "\u0661", "expected a number"),
        (STRS, "a,,b", "without empty items"),
        (STRS, "a,", "without empty items"),
        (OPT_INT, "x", "expected a whole number"),
    ],
)
def test_from_text_rejects(ftype: FieldType, text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        from_text(ftype, text)


@pytest.mark.parametrize(
    ("ftype", "value", "expected"),
    [
        (BOOL, True, True),
        (BOOL, False, False),
        (INT, 8, 8),
        (FLOAT, 2, 2.0),
        (FLOAT, 2.5, 2.5),
        (STR, "x", "x"),
        (OPT_STR, "", None),
        (OPT_STR, "f.log", "f.log"),
        (STRS, ["a:1", "b:2"], ("a:1", "b:2")),
        (STRS, "a:1", ("a:1",)),
        (STRS, [], ()),
    ],
)
def test_from_toml_accepts(ftype: FieldType, value: Any, expected: Any) -> None:
    converted = from_toml(ftype, value)
    assert converted == expected
    assert type(converted) is type(expected)


@pytest.mark.parametrize(
    ("ftype", "value", "reason"),
    [
        (BOOL, "true", "expected true or false"),
        (BOOL, 1, "expected true or false"),
        (INT, "8", "expected a whole number"),
        (INT, 8.0, "expected a whole number"),
        (INT, True, "expected a whole number"),
        (FLOAT, "2.5", "expected a number"),
        (FLOAT, False, "expected a number"),
        (FLOAT, math.inf, "expected a finite number"),
        (FLOAT, math.nan, "expected a finite number"),
        (STR, 1, "expected a string"),
        (STR, ["x"], "expected a string"),
        (OPT_STR, 0, "expected a string"),
        (STRS, 5, "expected an array of strings"),
        (STRS, {"a": 1}, "expected an array of strings"),
        (STRS, ["a", 1], "expected a string"),
    ],
)
def test_from_toml_rejects(ftype: FieldType, value: Any, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        from_toml(ftype, value)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "true"),
        (False, "false"),
        (8, "8"),
        (2.5, "2.5"),
        ('a"b\\c', '"a\\"b\\\\c"'),
        ("é\n", '"é\\n"'),
        (("a", "b"), '["a", "b"]'),
        ((), "[]"),
    ],
)
def test_to_toml(value: Any, text: str) -> None:
    assert to_toml(value) == text


def test_to_toml_has_no_form_for_none() -> None:
    with pytest.raises(TypeError):
        to_toml(None)
