"""Every Config field is fully declared, and docs/settings.rst is generated from the fields."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from typing import Any

import pytest

from wsgiserver.config import settings_doc
from wsgiserver.config.arguments import build_parser
from wsgiserver.config.conversions import field_type, from_text, from_toml, to_toml
from wsgiserver.config.options import Config
from wsgiserver.config.sources import RESERVED_ENV, RESERVED_ENV_PREFIXES, env_var

FIELDS = dataclasses.fields(Config)
_ENV_NAME = re.compile(r"WSGISERVER_[A-Z0-9_]+")


def _env_text(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@pytest.mark.parametrize("f", FIELDS, ids=lambda f: f.name)
def test_field_metadata_is_complete_and_valid(f: dataclasses.Field[Any]) -> None:
    meta = f.metadata
    ftype = field_type(f.type)  # raises for an annotation the sources cannot convert
    assert isinstance(meta["help"], str)
    assert meta["help"].strip(), "every option needs help text"
    assert f.default is not dataclasses.MISSING, "every option needs a default"
    if meta["flag"]:
        assert ftype.base is bool, "flag=True is for bool fields"
        assert not ftype.optional, "flag=True is for bool fields"
    elif f.name != "app":
        assert isinstance(meta["metavar"], str), "give a metavar"
        assert meta["metavar"], "give a metavar"
    assert meta["repeat"] == ftype.sequence, "repeat=True exactly for tuple fields"
    if meta["choices"] is not None:
        assert isinstance(meta["choices"], tuple)
        assert all(isinstance(c, str) for c in meta["choices"])
        assert f.default in meta["choices"]
    for key in ("env", "section", "since"):
        assert meta.get(key) is None or isinstance(meta[key], str)
    name = env_var(f)
    assert _ENV_NAME.fullmatch(name)
    assert name not in RESERVED_ENV
    assert not name.startswith(RESERVED_ENV_PREFIXES)


@pytest.mark.parametrize("f", [f for f in FIELDS if f.default is not None], ids=lambda f: f.name)
def test_default_round_trips_through_toml_and_the_environment(f: dataclasses.Field[Any]) -> None:
    ftype = field_type(f.type)
    parsed = tomllib.loads(f"key = {to_toml(f.default)}")["key"]
    assert from_toml(ftype, parsed) == f.default
    if not (ftype.sequence and not f.default) and not (ftype.base is str and f.default == ""):
        assert from_text(ftype, _env_text(f.default)) == f.default


def test_environment_variable_names_are_unique() -> None:
    names = [env_var(f) for f in FIELDS]
    assert len(names) == len(set(names))


def test_every_field_has_a_command_line_option() -> None:
    dests = {action.dest for action in build_parser()._actions}
    assert {f.name for f in FIELDS} <= dests


def test_settings_reference_is_up_to_date() -> None:
    path = settings_doc.DEFAULT_PATH
    committed = path.read_text(encoding="utf-8") if path.is_file() else ""
    assert committed == settings_doc.render(), (
        f"{path} is stale (Config changed): run `{settings_doc.COMMAND}` to update it"
    )


def test_settings_reference_documents_every_field() -> None:
    text = settings_doc.render()
    for f in FIELDS:
        assert f"\n{f.name}\n" in text
        assert env_var(f) in text


def test_check_mode_reports_a_stale_file(tmp_path: Any) -> None:
    target = tmp_path / "settings.rst"
    assert settings_doc.main([str(target), "--check"]) == 1
    assert settings_doc.main([str(target)]) == 0
    assert settings_doc.main([str(target), "--check"]) == 0
    target.write_text(target.read_text() + "edited\n")
    assert settings_doc.main([str(target), "--check"]) == 1
