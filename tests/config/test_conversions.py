"""Converting option values by each field's annotation, table-driven: text, TOML and Python
values, and every text source (command line, environment, paste ini) agreeing on each text."""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Callable
from typing import Any

import pytest

from wsgiserver.config.arguments import build_parser
from wsgiserver.config.conversions import (
    FieldType,
    canonical_choice,
    field_type,
    from_text,
    from_toml,
    from_value,
    to_toml,
)
from wsgiserver.config.options import Config
from wsgiserver.config.paste_ini import options_from_ini
from wsgiserver.config.sources import cli_flag, env_var, from_environ
from wsgiserver.errors import ConfigError

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
        (INT, "-1", "expected a whole number, not a negative one"),  # said to be no number
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


def test_to_toml_of_every_character_loads_back() -> None:
    # DEL (0x7f) was written raw, which TOML refuses: --print-config output did not load.
    text = "".join(map(chr, range(0x80))) + "é\u2028"
    assert tomllib.loads(f"key = {to_toml(text)}") == {"key": text}
    assert to_toml("\x7f") == '"\\u007f"'


def test_to_toml_has_no_form_for_none() -> None:
    with pytest.raises(TypeError):
        to_toml(None)


# --- every source converts the same way --------------------------------------------------

REJECTED = "rejected"


def via_command_line(name: str, text: str) -> Any:
    # `--flag=TEXT`, so that a text starting with "-" is still the flag's value.
    try:
        options = vars(build_parser().parse_args([f"{cli_flag(name)}={text}"]))
    except SystemExit:
        return REJECTED
    return options[name]


def via_environment(name: str, text: str) -> Any:
    [f] = [f for f in dataclasses.fields(Config) if f.name == name]
    layer = from_environ({env_var(f): text})
    return REJECTED if layer.errors else layer.values[name]


def via_paste_ini(name: str, text: str) -> Any:
    try:
        return options_from_ini({name: text})[name]
    except ConfigError:
        return REJECTED


TEXT_SOURCES = {
    "command line": via_command_line,
    "environment": via_environment,
    "paste ini": via_paste_ini,
}
ARABIC_INDIC_TEN = "\u0661\u0660"
FULLWIDTH_EIGHT = "\uff18"


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("threads", "8", 8),
        ("threads", "0008", 8),
        ("threads", " 8", REJECTED),
        ("threads", "8 ", REJECTED),
        ("threads", "+8", REJECTED),
        ("threads", "-8", REJECTED),
        ("threads", "8.0", REJECTED),
        ("threads", "1_0", REJECTED),
        ("threads", ARABIC_INDIC_TEN, REJECTED),
        ("threads", FULLWIDTH_EIGHT, REJECTED),
        ("threads", "0x8", REJECTED),
        ("keepalive_timeout", "10", 10.0),
        ("keepalive_timeout", "2.5", 2.5),
        ("keepalive_timeout", ".5", 0.5),
        ("keepalive_timeout", "1e1", 10.0),
        ("keepalive_timeout", "-1", -1.0),  # a number; Config's range check rejects it later
        ("keepalive_timeout", " 1_0 ", REJECTED),
        ("keepalive_timeout", "1_0", REJECTED),
        ("keepalive_timeout", " 10", REJECTED),
        ("keepalive_timeout", "10 ", REJECTED),
        ("keepalive_timeout", "+10", REJECTED),
        ("keepalive_timeout", ARABIC_INDIC_TEN, REJECTED),
        ("keepalive_timeout", FULLWIDTH_EIGHT, REJECTED),
        ("keepalive_timeout", "nan", REJECTED),
        ("keepalive_timeout", "inf", REJECTED),
        ("keepalive_timeout", "-Infinity", REJECTED),
        ("keepalive_timeout", "1e999", REJECTED),
        ("keepalive_timeout", "0x10", REJECTED),
        ("access_log", "a.log", "a.log"),
        ("access_log", "-", "-"),
        ("access_log", " a.log", " a.log"),
        ("access_log", "", None),
        ("log_level", "debug", "debug"),
    ],
)
@pytest.mark.parametrize("source", list(TEXT_SOURCES))
def test_every_text_source_converts_the_same_text_the_same_way(
    source: str, name: str, text: str, expected: Any
) -> None:
    value = TEXT_SOURCES[source](name, text)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        *[(t, True) for t in ("1", "true", "Yes", "ON")],
        *[(t, False) for t in ("0", "False", "no", "off")],
        *[(t, REJECTED) for t in ("2", "y", " true", "true ", "enabled")],
    ],
)
@pytest.mark.parametrize("source", [via_environment, via_paste_ini], ids=["environment", "ini"])
def test_booleans_given_as_text_convert_the_same_way(
    source: Callable[[str, str], Any], text: str, expected: Any
) -> None:
    # On the command line a boolean is a flag (--reload / --no-reload), never text.
    assert source("reload", text) == expected


@pytest.mark.parametrize("name", ["threads", "keepalive_timeout", "reload"])
def test_empty_text_is_an_error_but_an_empty_variable_is_unset(name: str) -> None:
    # Where empty is no value (a number, a flag). Templated manifests (`value: "${THREADS}"`)
    # set variables empty, and the docs said an empty variable is unset: WEB_CONCURRENCY
    # and WSGISERVER_CONFIG were, WSGISERVER_THREADS was an error (an operations probe).
    if name != "reload":  # a flag on the command line, never text
        assert via_command_line(name, "") == REJECTED
    assert via_paste_ini(name, "") == REJECTED
    [f] = [f for f in dataclasses.fields(Config) if f.name == name]
    layer = from_environ({env_var(f): ""})
    assert (layer.errors, layer.values) == ([], {})


def test_an_empty_variable_of_a_choice_or_bind_is_unset_too() -> None:
    variables = ("LOG_LEVEL", "H2C", "TLS_MIN_VERSION", "ACCESS_LOG_FORMAT", "BIND")
    layer = from_environ({f"WSGISERVER_{name}": "" for name in variables})
    assert (layer.errors, layer.values) == ([], {})


def test_an_empty_variable_is_a_value_where_empty_means_something() -> None:
    names = ("ACCESS_LOG", "REQUEST_ID_HEADER", "FORWARDED_ALLOW_IPS")
    layer = from_environ({f"WSGISERVER_{name}": "" for name in names})
    assert layer.errors == []
    # No access log; always generate ids; trust no proxy.
    assert layer.values == {"access_log": None, "request_id_header": "", "forwarded_allow_ips": ""}


@pytest.mark.parametrize("text", ["DEBUG", "Debug", "debug"])
@pytest.mark.parametrize("source", list(TEXT_SOURCES))
def test_a_choice_matches_in_any_case_from_every_text_source(source: str, text: str) -> None:
    # `WSGISERVER_LOG_LEVEL=DEBUG` was refused while `--reload`'s booleans took any case;
    # logging and other servers take a level in any case. Config stores one spelling.
    value = TEXT_SOURCES[source]("log_level", text)
    assert value != REJECTED
    assert Config(log_level=value).log_level == "debug"


def test_a_choice_that_matches_none_is_still_refused() -> None:
    with pytest.raises(ConfigError, match="log_level: 'WARN' is not one of"):
        Config(log_level="WARN")
    with pytest.raises(ConfigError, match="h2c: 'trusted ' is not one of"):
        Config(http2=True, h2c="trusted ")
    assert via_command_line("log_level", "WARN") == REJECTED


def test_canonical_choice() -> None:
    assert canonical_choice("Required", ("none", "optional", "required")) == "required"
    assert canonical_choice("requir", ("none", "optional", "required")) == "requir"


# --- Python callers: Config checks (and normalises) every field the same way ---------------


def test_config_normalises_a_whole_number_given_for_a_float() -> None:
    value = Config(keepalive_timeout=5).keepalive_timeout
    assert value == 5.0
    assert type(value) is float


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"threads": 8.0}, "threads: expected a whole number, got 8.0"),
        ({"threads": "8"}, "threads: expected a whole number, got '8'"),
        ({"threads": True}, "threads: expected a whole number, got True"),
        ({"keepalive_timeout": "5"}, "keepalive_timeout: expected a number, got '5'"),
        ({"keepalive_timeout": math.nan}, "keepalive_timeout: expected a finite number, got nan"),
        ({"factory": 1}, "factory: expected true or false, got 1"),
        ({"access_log": 3}, "access_log: expected a string, got 3"),
        ({"bind": 8000}, "bind: expected a list of strings, got 8000"),
        ({"bind": {"127.0.0.1:1"}}, "bind: expected a list of strings, got {'127.0.0.1:1'}"),
        ({"bind": ("127.0.0.1:1", 2)}, "bind: expected a string, got ('127.0.0.1:1', 2)"),
        ({"bind": ["127.0.0.1:1", None]}, "bind: expected a string, got ['127.0.0.1:1', None]"),
    ],
)
def test_config_rejects_values_of_the_wrong_type(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Config(**options)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("ftype", "value", "expected"),
    [
        (BOOL, True, True),
        (INT, 0, 0),
        (FLOAT, 3, 3.0),
        (STR, "", ""),
        (OPT_STR, None, None),
        (OPT_STR, "", ""),  # unlike TOML, Python has None to say "not set"
        (STRS, (), ()),
        (STRS, ("a:1",), ("a:1",)),
        (STRS, ["a:1", "b:2"], ("a:1", "b:2")),  # the type the settings reference names
        (STRS, "a:1", ("a:1",)),  # one item alone, as Server(bind="a:1") takes it
    ],
)
def test_from_value_accepts(ftype: FieldType, value: Any, expected: Any) -> None:
    converted = from_value(ftype, value)
    assert converted == expected
    assert type(converted) is type(expected)


@pytest.mark.parametrize("bind", [["127.0.0.1:1", "[::1]:2"], ("127.0.0.1:1", "[::1]:2")])
def test_config_takes_bind_as_a_list_or_a_tuple_and_keeps_a_tuple(bind: Any) -> None:
    # settings.rst documents bind as a list of strings; Config refused a list (and a string).
    config = Config(bind=bind)
    assert config.bind == ("127.0.0.1:1", "[::1]:2")
    assert config.replace(bind=list(bind)) == config
    hash(config)  # frozen, and hashable: no list inside


def test_config_takes_one_bind_address_alone() -> None:
    one: Any = "127.0.0.1:1"  # the annotation is the stored type, a tuple
    assert Config(bind=one).bind == ("127.0.0.1:1",)
    assert Config().replace(bind="unix:/run/a.sock").bind == ("unix:/run/a.sock",)


def test_replace_names_an_unknown_option_as_from_options_does() -> None:
    with pytest.raises(ConfigError, match=r"^thread: unknown option; did you mean threads\?$"):
        Config().replace(thread=2)
