"""`--help` is grouped by topic from the fields' `section` metadata, and says what a newcomer
needs: the `--bind` forms (with `fd://N`), `WEB_CONCURRENCY`, no empty defaults; a URL given
to `--bind` is named as such, with the address to write instead."""

from __future__ import annotations

import dataclasses
import itertools
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.config.helpers import clean_environ
from wsgiserver.config import settings_doc
from wsgiserver.config.arguments import build_parser
from wsgiserver.config.bind import parse_bind
from wsgiserver.config.options import SECTIONS, Config, fields_by_section, option
from wsgiserver.config.sources import cli_flag
from wsgiserver.errors import ConfigError

FIELDS = dataclasses.fields(Config)
ROOT = Path(__file__).resolve().parents[2]


def help_text() -> str:
    result = subprocess.run(
        [sys.executable, "-m", "wsgiserver", "--help"],
        cwd=ROOT,
        env=clean_environ(COLUMNS="100"),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return result.stdout


def option_help(text: str, flag: str) -> str:
    """The help of one option in `--help` output, its wrapped lines joined."""
    match = re.search(rf"^  {re.escape(flag)}\b.*?(?=^  \S|^\S|\Z)", text, re.M | re.S)
    assert match is not None, f"{flag} not in --help"
    return " ".join(match.group(0).split())


def test_every_option_names_a_known_section() -> None:
    for f in FIELDS:
        assert f.metadata["section"] in SECTIONS, f.name
    with pytest.raises(TypeError, match="SECTIONS"):
        option(1, "help", section="Misc")
    with pytest.raises(TypeError):
        option(1, "help")  # type: ignore[call-arg]  # a section is required


def test_help_has_one_group_per_section_holding_exactly_its_options() -> None:
    parser = build_parser()
    groups = {group.title: group for group in parser._action_groups}
    for section, members in fields_by_section().items():
        group = groups[section]
        assert group.description == SECTIONS[section]
        assert [action.dest for action in group._group_actions] == [f.name for f in members]
    # Nothing is left in the catch-all group but --help and --version.
    flat = [a.dest for a in groups["options"]._group_actions]
    assert flat == ["help", "version"]


def test_help_output_shows_the_groups_in_order() -> None:
    text = help_text()
    positions = [text.index(f"\n{section}:\n") for section in SECTIONS]
    assert positions == sorted(positions)
    # Each option is listed after its section's title and before the next one's.
    bounds = dict(zip(SECTIONS, [*positions[1:], len(text)], strict=True))
    for f in FIELDS:
        section = f.metadata["section"]
        start = text.index(f"\n{section}:\n")
        flag = cli_flag(f.name)
        assert re.search(rf"^  {re.escape(flag)}\b", text[start : bounds[section]], re.M), f.name


def test_help_names_fd_bind_and_web_concurrency_and_no_empty_default() -> None:
    text = help_text()
    assert "(default: )" not in text
    assert "fd://N" in option_help(text, "--bind")
    workers = option_help(text, "--workers")
    assert "WEB_CONCURRENCY" in workers
    assert "WSGISERVER_WORKERS" in workers
    assert text.startswith("usage: wsgiserver [options] APP\n")


def test_help_says_which_flags_are_on_by_default() -> None:
    # --gc-freeze is on by default, and --help said nothing, as for the flags that are off.
    text = help_text()
    for f in FIELDS:
        if f.metadata["flag"]:
            shown = option_help(text, cli_flag(f.name))
            assert ("(default: on; --no-" in shown) is (f.default is True), f.name


def test_settings_reference_has_the_sections_of_help_in_the_same_order() -> None:
    lines = settings_doc.render().splitlines()
    sections: list[str] = []
    section_of: dict[str, str] = {}
    for title, underline in itertools.pairwise(lines):
        if underline and set(underline) == {"-"} and len(underline) == len(title):
            sections.append(title)
        elif underline and set(underline) == {"~"} and len(underline) == len(title):
            section_of[title] = sections[-1]
    assert sections == list(SECTIONS)
    assert section_of == {f.name: f.metadata["section"] for f in FIELDS}


# -- --bind: the forms it takes, and a URL given by mistake ------------------------------------


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        ("http://127.0.0.1:8000", "e.g. 127.0.0.1:8000"),
        ("http://127.0.0.1:8000/", "e.g. 127.0.0.1:8000"),
        ("http://localhost", "e.g. localhost:80"),
        ("https://example.com/app", "e.g. example.com:443 (HTTPS is enabled by --certfile"),
        ("http://[::1]:8080", "e.g. [::1]:8080"),
        ("tcp://0.0.0.0:80", "e.g. 0.0.0.0:80"),
        ("http://", "HOST:PORT, [IPv6]:PORT, unix:PATH or fd://N"),
        ("unix:///run/app.sock", "e.g. unix:/run/app.sock"),
    ],
)
def test_a_url_given_as_bind_address_says_what_to_write_instead(text: str, suggestion: str) -> None:
    with pytest.raises(ValueError, match="is a URL") as info:
        parse_bind(text)
    message = str(info.value)
    assert message.startswith(f"{text!r} is a URL")
    assert "brackets" not in message
    assert suggestion in message
    if "e.g. " in suggestion:  # the suggestion is itself a valid address
        parse_bind(suggestion.removeprefix("e.g. ").split(" ")[0])


@pytest.mark.parametrize("text", [":0", ":8000"])
def test_an_address_without_a_host_is_refused_not_every_interface(text: str) -> None:
    # HOST:PORT with no host bound 0.0.0.0: every interface, without saying so.
    port = text[1:]
    with pytest.raises(ValueError, match="the host is missing") as info:
        parse_bind(text)
    assert str(info.value) == (
        f"{text!r}: the host is missing: write 127.0.0.1:{port} (this machine only) or "
        f"0.0.0.0:{port} (every interface)"
    )
    with pytest.raises(ConfigError, match="the host is missing"):
        Config(bind=(text,))


def test_an_address_that_is_no_form_lists_every_form_with_fd() -> None:
    with pytest.raises(ValueError, match=re.escape("HOST:PORT, [IPv6]:PORT, unix:PATH or fd://N")):
        parse_bind("nocolon")


def test_a_url_on_the_command_line_is_one_line_naming_its_flag() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wsgiserver", "--bind", "http://127.0.0.1:8000", "m:app"],
        cwd=ROOT,
        env=clean_environ(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert "'http://127.0.0.1:8000' is a URL" in result.stderr
    assert "e.g. 127.0.0.1:8000" in result.stderr
    assert "--bind" in result.stderr
