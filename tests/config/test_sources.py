"""Reading each source, merging by precedence, and errors that name the key and the source."""

from __future__ import annotations

import itertools
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from wsgiserver.config.options import Config
from wsgiserver.config.paste_ini import paste_server_options
from wsgiserver.config.sources import (
    ConfigSourceError,
    Kind,
    Loaded,
    from_table,
    load_config,
    render_config,
)
from wsgiserver.errors import AppLoadError, ConfigError

PYPROJECT = "[tool.wsgiserver]\n"


def _no_paste(path: str) -> Mapping[str, Any]:
    raise AssertionError(f"paste ini read unexpectedly: {path}")


def load(
    tmp_path: Path,
    cli: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    config_file: str | None = None,
    read_paste: Any = _no_paste,
) -> Loaded:
    return load_config(
        cli or {}, config_file=config_file, environ=env or {}, cwd=tmp_path, read_paste=read_paste
    )


def errors_of(tmp_path: Path, **kwargs: Any) -> list[str]:
    with pytest.raises(ConfigSourceError) as info:
        load(tmp_path, **kwargs)
    assert isinstance(info.value, ConfigError)
    return info.value.errors


def test_defaults_when_no_source(tmp_path: Path) -> None:
    loaded = load(tmp_path)
    assert loaded.config == Config()
    assert {source.kind for source in loaded.sources.values()} == {Kind.DEFAULT}


# --- precedence: every pair ----------------------------------------------------------------

_ORDERS = [
    [Kind.DEFAULT, Kind.PASTE, Kind.PYPROJECT, Kind.ENV, Kind.CLI],
    [Kind.DEFAULT, Kind.PASTE, Kind.FILE, Kind.ENV, Kind.CLI],
]
_PAIRS = sorted({pair for order in _ORDERS for pair in itertools.combinations(order, 2)})


def _give(tmp_path: Path, kinds: tuple[Kind, ...]) -> dict[str, Any]:
    """Set `threads` (and `factory`, a flag) in each kind of source, to values unique per kind."""
    kwargs: dict[str, Any] = {"cli": {}, "env": {}}
    for kind in kinds:
        threads = 10 + int(kind)
        factory = "true" if int(kind) % 2 else "false"
        if kind is Kind.PASTE:
            kwargs["cli"]["paste"] = "app.ini"
            kwargs["read_paste"] = lambda _p, t=threads, f=factory: {
                "threads": t,
                "factory": f == "true",
            }
        elif kind is Kind.PYPROJECT:
            (tmp_path / "pyproject.toml").write_text(
                f"{PYPROJECT}threads = {threads}\nfactory = {factory}\n"
            )
        elif kind is Kind.FILE:
            (tmp_path / "server.toml").write_text(f"threads = {threads}\nfactory = {factory}\n")
            kwargs["config_file"] = "server.toml"
        elif kind is Kind.ENV:
            kwargs["env"] = {"WSGISERVER_THREADS": str(threads), "WSGISERVER_FACTORY": factory}
        elif kind is Kind.CLI:
            kwargs["cli"].update(threads=threads, factory=factory == "true")
    return kwargs


@pytest.mark.parametrize(("lower", "higher"), _PAIRS, ids=lambda k: k.name.lower())
def test_precedence_of_each_pair(tmp_path: Path, lower: Kind, higher: Kind) -> None:
    loaded = load(tmp_path, **_give(tmp_path, (lower, higher)))
    assert loaded.config.threads == (4 if higher is Kind.DEFAULT else 10 + int(higher))
    assert loaded.config.factory is (int(higher) % 2 == 1)
    assert loaded.sources["threads"].kind is higher
    assert loaded.sources["factory"].kind is higher


def test_all_sources_at_once_each_key_from_its_best_source(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        f"{PYPROJECT}threads = 5\nbacklog = 7\nmax-threads = 9\n"
    )
    loaded = load(
        tmp_path,
        {"threads": 6},
        env={"WSGISERVER_BACKLOG": "8"},
    )
    assert (loaded.config.threads, loaded.config.backlog, loaded.config.max_threads) == (6, 8, 9)
    kinds = {name: loaded.sources[name].kind for name in ("threads", "backlog", "max_threads")}
    assert kinds == {"threads": Kind.CLI, "backlog": Kind.ENV, "max_threads": Kind.PYPROJECT}
    assert str(loaded.sources["backlog"]) == "environment WSGISERVER_BACKLOG"
    assert str(loaded.sources["threads"]) == "command line --threads"
    assert str(loaded.sources["max_threads"]) == f"{tmp_path / 'pyproject.toml'} [tool.wsgiserver]"


def test_cli_repeated_option_becomes_a_tuple(tmp_path: Path) -> None:
    loaded = load(tmp_path, {"bind": ["127.0.0.1:1", "unix:/tmp/s"]})
    assert loaded.config.bind == ("127.0.0.1:1", "unix:/tmp/s")


def test_env_list_replaces_file_list(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(f'{PYPROJECT}bind = ["127.0.0.1:1", "127.0.0.1:2"]\n')
    loaded = load(tmp_path, env={"WSGISERVER_BIND": "127.0.0.1:3,[::1]:4"})
    assert loaded.config.bind == ("127.0.0.1:3", "[::1]:4")


# --- the config file and pyproject.toml ---------------------------------------------------


def test_pyproject_is_found_in_the_working_directory_only(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(f"{PYPROJECT}threads = 3\n")
    assert load(tmp_path).config.threads == 3
    sub = tmp_path / "sub"
    sub.mkdir()
    assert load(sub).config.threads == 4  # parents are not searched


def test_pyproject_without_our_table_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.other]\nthreads = "x"\n')
    assert load(tmp_path).config == Config()


@pytest.mark.parametrize("how", ["--config", "WSGISERVER_CONFIG"])
def test_pyproject_is_ignored_when_a_config_file_is_given(tmp_path: Path, how: str) -> None:
    (tmp_path / "pyproject.toml").write_text(f"{PYPROJECT}threads = 3\nbacklog = 3\n")
    (tmp_path / "c.toml").write_text("threads = 5\n")
    if how == "--config":
        loaded = load(tmp_path, config_file="c.toml")
    else:
        loaded = load(tmp_path, env={"WSGISERVER_CONFIG": "c.toml"})
    assert (loaded.config.threads, loaded.config.backlog) == (5, 2048)
    assert str(loaded.sources["threads"]) == f"config file {tmp_path / 'c.toml'}"


def test_an_empty_config_flag_is_an_error_that_says_how_to_read_none(tmp_path: Path) -> None:
    # It was read as the current directory: "cannot read it: Is a directory".
    assert errors_of(tmp_path, config_file="") == [
        "--config: give a file (--config /dev/null reads none)"
    ]


def test_config_flag_beats_config_variable(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text("threads = 5\n")
    (tmp_path / "b.toml").write_text("threads = 6\n")
    loaded = load(tmp_path, config_file="a.toml", env={"WSGISERVER_CONFIG": "b.toml"})
    assert loaded.config.threads == 5


def test_a_pyproject_given_as_config_file_uses_its_table(tmp_path: Path) -> None:
    other = tmp_path / "deploy"
    other.mkdir()
    (other / "pyproject.toml").write_text(f"{PYPROJECT}threads = 7\n")
    assert load(tmp_path, config_file=str(other / "pyproject.toml")).config.threads == 7
    (other / "pyproject.toml").write_text("[project]\n")
    [error] = errors_of(tmp_path, config_file=str(other / "pyproject.toml"))
    assert "has no [tool.wsgiserver] table" in error


def test_snake_and_kebab_keys(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text("max-threads = 9\nkeepalive_timeout = 1.5\n")
    loaded = load(tmp_path, config_file="c.toml")
    assert (loaded.config.max_threads, loaded.config.keepalive_timeout) == (9, 1.5)


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("thrads = 1\n", ["thrads (config file ", "unknown option", "did you mean threads?"]),
        ("max-thread = 1\n", ["max-thread (config file", "did you mean max-threads?"]),
        ("[section]\nx = 1\n", ["section (config file", "unknown option"]),
        ('threads = "8"\n', ['threads = "8" (config file ', "expected a whole number"]),
        ("factory = 1\n", ["factory = 1 (config file", "expected true or false"]),
        ("bind = 8000\n", ["bind = 8000 (config file", "expected an array of strings"]),
        ("keepalive-timeout = nan\n", ["keepalive-timeout = nan", "expected a finite number"]),
        ("max_threads = 1\nmax-threads = 2\n", ["max-threads (config file", "given twice"]),
        ("threads = \n", ["invalid TOML"]),
        ("port = 8000\n", ["port (config file", "did you mean bind? (it takes HOST:PORT)"]),
        (
            "[tool.wsgiserver]\nthreads = 3\n",
            ["[tool.wsgiserver] (config file ", "read only from a file named pyproject.toml"],
        ),
    ],
)
def test_config_file_errors_name_key_and_file(
    tmp_path: Path, text: str, fragments: list[str]
) -> None:
    (tmp_path / "c.toml").write_text(text)
    [error] = errors_of(tmp_path, config_file="c.toml")
    assert str(tmp_path / "c.toml") in error
    for fragment in fragments:
        assert fragment in error


def test_pyproject_errors_name_the_file_and_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(f"{PYPROJECT}thrads = 1\nthreads = 'x'\n")
    errors = errors_of(tmp_path)
    where = f"{tmp_path / 'pyproject.toml'} [tool.wsgiserver]"
    assert errors == [
        f"thrads ({where}): unknown option; did you mean threads?",
        f'threads = "x" ({where}): expected a whole number',
    ]


def test_pyproject_table_must_be_a_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool]\nwsgiserver = 3\n")
    [error] = errors_of(tmp_path)
    assert "[tool.wsgiserver] must be a table" in error


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    [error] = errors_of(tmp_path, config_file="nope.toml")
    assert "nope.toml (config file named by --config): cannot read it" in error
    [error] = errors_of(tmp_path, env={"WSGISERVER_CONFIG": "nope.toml"})
    assert "named by WSGISERVER_CONFIG" in error


# --- the environment ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"WSGISERVER_THREADS": "x"},
            "WSGISERVER_THREADS='x' (environment): expected a whole number",
        ),
        (
            {"WSGISERVER_FACTORY": "maybe"},
            "WSGISERVER_FACTORY='maybe' (environment): expected a boolean",
        ),
        (
            {"WSGISERVER_SEND_TIMEOUT": "inf"},
            "WSGISERVER_SEND_TIMEOUT='inf' (environment): expected a number",
        ),
        (
            {"WSGISERVER_BIND": "a:1,,b:2"},
            "WSGISERVER_BIND='a:1,,b:2' (environment): expected a comma",
        ),
        (
            {"WSGISERVER_THRADS": "1"},
            "WSGISERVER_THRADS (environment): unknown option; did you mean WSGISERVER_THREADS?",
        ),
        (
            # The hint is found without regard to case (it was WSGISERVER_PID).
            {"WSGISERVER_threads": "8"},
            "WSGISERVER_threads (environment): unknown option; did you mean WSGISERVER_THREADS?",
        ),
        ({"WSGISERVER_": "1"}, "WSGISERVER_ (environment): unknown option"),
        (
            # Another server's name, not the closest spelling (it was WSGISERVER_PASTE).
            {"WSGISERVER_PORT": "8080"},
            "WSGISERVER_PORT (environment): unknown option; did you mean WSGISERVER_BIND? "
            "(it takes HOST:PORT)",
        ),
    ],
)
def test_environment_errors_name_the_variable(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    [error] = errors_of(tmp_path, env=env)
    assert error.startswith(expected)


def test_unknown_keyword_options_of_the_python_api_suggest_the_option_too() -> None:
    from wsgiserver.server.server import Server

    def app(environ: Any, start_response: Any) -> list[bytes]:
        raise AssertionError("never called")

    with pytest.raises(ConfigError) as info:
        Server(app, thread=4)
    assert str(info.value) == "thread: unknown option; did you mean threads?"
    with pytest.raises(ConfigError) as info:
        Config.from_options({"bindd": "x", "zzz": 1})
    assert str(info.value) == "bindd: unknown option; did you mean bind?; zzz: unknown option"


def test_a_paste_server_option_in_both_spellings_is_given_twice() -> None:
    from wsgiserver.config.paste_ini import options_from_ini

    # As in a TOML file; the last of the two silently won.
    with pytest.raises(ConfigError) as info:
        options_from_ini({"max_threads": "4", "max-threads": "5"})
    assert str(info.value) == "paste ini: max-threads is given twice, also as max_threads"


def test_an_unknown_paste_server_option_suggests_the_option_too() -> None:
    from wsgiserver.config.paste_ini import options_from_ini

    with pytest.raises(ConfigError) as info:
        options_from_ini({"workerz": "3"})
    assert (
        str(info.value) == "unknown server option 'workerz' in the paste ini; did you mean workers?"
    )
    with pytest.raises(ConfigError, match="; known: access_log, "):
        options_from_ini({"qqqq": "3"})  # nothing close: the known names instead


def test_every_error_is_reported_not_just_the_first(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(f"{PYPROJECT}nope = 1\n")
    errors = errors_of(tmp_path, env={"WSGISERVER_THREADS": "x", "WSGISERVER_NOPE": "1"})
    assert len(errors) == 3


def test_reserved_and_foreign_variables_are_not_options(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text("")
    env = {
        "WSGISERVER_CONFIG": "c.toml",
        "WSGISERVER_SAMPLE_DB": "/tmp/x.sqlite3",
        "wsgiserver_threads": "x",  # the prefix is case-sensitive, like the variables
        "OTHER_THREADS": "x",
    }
    assert load(tmp_path, env=env).config == Config()


def test_kubernetes_service_links_of_a_service_named_wsgiserver_are_not_options(
    tmp_path: Path,
) -> None:
    # What a pod gets for `Service wsgiserver` with ports http (8000/TCP) and metrics
    # (9100/UDP): the server refused to start on these, as seven unknown options.
    links = {
        "WSGISERVER_SERVICE_HOST": "10.0.0.11",
        "WSGISERVER_SERVICE_PORT": "8000",
        "WSGISERVER_SERVICE_PORT_HTTP": "8000",
        "WSGISERVER_SERVICE_PORT_METRICS_2": "9100",
        "WSGISERVER_PORT": "tcp://10.0.0.11:8000",
        "WSGISERVER_PORT_8000_TCP": "tcp://10.0.0.11:8000",
        "WSGISERVER_PORT_8000_TCP_PROTO": "tcp",
        "WSGISERVER_PORT_8000_TCP_PORT": "8000",
        "WSGISERVER_PORT_8000_TCP_ADDR": "10.0.0.11",
        "WSGISERVER_PORT_9100_UDP": "udp://10.0.0.11:9100",
        "WSGISERVER_PORT_9100_SCTP_ADDR": "10.0.0.11",
        # and for `Service wsgiserver-admin` beside it
        "WSGISERVER_ADMIN_SERVICE_HOST": "10.0.0.12",
        "WSGISERVER_ADMIN_SERVICE_PORT": "9000",
        "WSGISERVER_ADMIN_PORT": "tcp://10.0.0.12:9000",
        "WSGISERVER_ADMIN_PORT_9000_TCP_ADDR": "10.0.0.12",
    }
    assert load(tmp_path, env=links).config == Config()
    # `Service wsgiserver-reuse`: its link is named as --reuse-port's variable, but is a URL.
    reuse = {"WSGISERVER_REUSE_PORT": "tcp://10.0.0.13:8000"}
    assert load(tmp_path, env=reuse).config == Config()
    assert load(tmp_path, env={"WSGISERVER_REUSE_PORT": "true"}).config.reuse_port
    # Other shapes, or a port given as if it were an option, are still unknown options.
    for name, value in [
        ("WSGISERVER_PORT", "8000"),
        ("WSGISERVER_PORT_8000_TCP", "8000"),
        ("WSGISERVER_PORT_8000_HTTP_PORT", "8000"),
        ("WSGISERVER_PORT_X_TCP_PORT", "8000"),
        ("WSGISERVER_SERVICE_HOSTS", "10.0.0.11"),
        ("WSGISERVER_SERVICE", "x"),
        ("WSGISERVER_ADMIN_PORT", "9000"),
        ("WSGISERVER_ADMIN_SERVICE", "x"),
    ]:
        [error] = errors_of(tmp_path, env={name: value})
        assert error.startswith(f"{name} (environment): unknown option"), error


def test_web_concurrency_sets_workers_below_the_others_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(f"{PYPROJECT}workers = 5\n")
    loaded = load(tmp_path, env={"WEB_CONCURRENCY": "3"})
    assert loaded.config.workers == 3  # above the config file
    assert str(loaded.sources["workers"]) == "environment WEB_CONCURRENCY"
    both = {"WEB_CONCURRENCY": "3", "WSGISERVER_WORKERS": "4"}
    assert load(tmp_path, env=both).config.workers == 4
    assert load(tmp_path, {"workers": 2}, env=both).config.workers == 2
    [error] = errors_of(tmp_path, env={"WEB_CONCURRENCY": "many"})
    assert error.startswith("WEB_CONCURRENCY='many' (environment): ")
    [error] = errors_of(tmp_path, env={"WEB_CONCURRENCY": "0"})
    assert "workers from environment WEB_CONCURRENCY" in error


def test_empty_variable_unsets_an_optional_option(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(f'{PYPROJECT}access-log = "a.log"\n')
    assert load(tmp_path).config.access_log == "a.log"
    assert load(tmp_path, env={"WSGISERVER_ACCESS_LOG": ""}).config.access_log is None


# --- validation after merging names the sources -------------------------------------------


def test_validation_error_names_where_the_values_came_from(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(f"{PYPROJECT}max-threads = 2\n")
    [error] = errors_of(tmp_path, env={"WSGISERVER_THREADS": "3"})
    assert error.startswith("max_threads (2) must not be below threads (3)")
    assert f"max_threads from {tmp_path / 'pyproject.toml'} [tool.wsgiserver]" in error
    assert "threads from environment WSGISERVER_THREADS" in error


def test_bad_bind_address_names_its_source(tmp_path: Path) -> None:
    [error] = errors_of(tmp_path, env={"WSGISERVER_BIND": "localhost"})
    assert "expected HOST:PORT" in error
    assert "bind from environment WSGISERVER_BIND" in error


@pytest.mark.parametrize(
    ("cli", "env", "expected"),
    [
        # Option names that are only words of the value, or of the message's example, are
        # not at fault: they were named because they appeared anywhere in the text.
        (
            {"root_path": "/threads/"},
            {"WSGISERVER_THREADS": "3"},
            "root_path: '/threads/' must not end with '/' (write '/threads')"
            " (root_path from command line --root-path)",
        ),
        (
            {"bind": ["unix:"], "app": "m:app"},
            {},
            "bind: 'unix:': a unix socket needs a path (unix:/run/app.sock)"
            " (bind from command line --bind)",
        ),
        (
            {"certfile": "c.pem", "verify_client": "required"},
            {"WSGISERVER_CA_CERTS": ""},  # unset, by the environment: at fault too
            "verify_client=required needs ca_certs (verify_client from command line"
            " --verify-client; ca_certs from environment WSGISERVER_CA_CERTS)",
        ),
    ],
    ids=["word-in-value", "word-in-example", "both-options-of-a-conflict"],
)
def test_validation_error_names_only_the_options_at_fault(
    tmp_path: Path, cli: dict[str, Any], env: dict[str, str], expected: str
) -> None:
    [error] = errors_of(tmp_path, cli=cli, env=env)
    assert error == expected


def test_a_root_path_of_slash_is_the_root() -> None:
    # It was refused with "'/' must start with '/' and not end with '/'".
    assert Config(root_path="/").root_path == ""
    with pytest.raises(ConfigError, match=r"^root_path: 'app' must start with '/'$"):
        Config(root_path="app")


def test_validation_error_of_a_default_names_no_source(tmp_path: Path) -> None:
    [error] = errors_of(tmp_path, cli={"max_threads": 2})
    assert error == (
        "max_threads (2) must not be below threads (4)"
        " (max_threads from command line --max-threads)"
    )


# --- the paste ini ------------------------------------------------------------------------


def test_paste_ini_path_is_relative_to_chdir_and_errors_name_it(tmp_path: Path) -> None:
    seen: list[str] = []

    def read(path: str) -> Mapping[str, Any]:
        seen.append(path)
        raise ConfigError("unknown server option 'thrads' in the paste ini")

    [error] = errors_of(tmp_path, cli={"paste": "dev.ini", "chdir": "site"}, read_paste=read)
    assert seen == [str(tmp_path / "site" / "dev.ini")]
    assert error.startswith(f"--paste {tmp_path / 'site' / 'dev.ini'} ([server:main]): unknown")


def test_app_and_paste_name_one_app_and_the_higher_source_wins(tmp_path: Path) -> None:
    # docs/configuration.rst's pyproject.toml example sets `app`; `--paste dev.ini` on the
    # command line was refused with "give either APP or --paste, not both", naming no source.
    (tmp_path / "pyproject.toml").write_text(f'{PYPROJECT}app = "m:app"\n')
    loaded = load(tmp_path, {"paste": "dev.ini"}, read_paste=lambda _: {"backlog": 9})
    assert (loaded.config.app, loaded.config.paste) == (None, "dev.ini")
    assert loaded.sources["app"].kind is Kind.DEFAULT
    assert loaded.config.backlog == 9
    # The other way round, the ini is not even read.
    loaded = load(tmp_path, {"app": "n:app"}, env={"WSGISERVER_PASTE": "dev.ini"})
    assert (loaded.config.app, loaded.config.paste) == ("n:app", None)
    [error] = errors_of(tmp_path, cli={"app": "n:app", "paste": "dev.ini"})
    assert error == (
        "give either APP or --paste, not both"
        " (app from command line APP; paste from command line --paste)"
    )


def test_paste_ini_is_not_read_when_other_sources_have_errors(tmp_path: Path) -> None:
    [error] = errors_of(tmp_path, cli={"paste": "dev.ini"}, env={"WSGISERVER_THREADS": "x"})
    assert "WSGISERVER_THREADS" in error


def test_paste_named_in_the_environment_is_read(tmp_path: Path) -> None:
    loaded = load(
        tmp_path, env={"WSGISERVER_PASTE": "dev.ini"}, read_paste=lambda _: {"backlog": 9}
    )
    assert loaded.config.backlog == 9
    assert str(loaded.sources["backlog"]) == f"paste ini {tmp_path / 'dev.ini'} [server:main]"


# --- --print-config output ----------------------------------------------------------------


def test_rendered_config_is_toml_that_loads_back_to_the_same_config(tmp_path: Path) -> None:
    cli = {"app": "m:app", "bind": ["127.0.0.1:1", "[::1]:2"], "factory": True}
    env = {"WSGISERVER_KEEPALIVE_TIMEOUT": "2.5", "WSGISERVER_ROOT_PATH": '/a"b'}
    loaded = load(tmp_path, cli, env=env)
    text = render_config(loaded)
    assert "keepalive-timeout = 2.5" in text
    assert "# environment WSGISERVER_KEEPALIVE_TIMEOUT" in text
    assert "# chdir = (not set)" in text
    table = tomllib.loads(text)
    again = from_table(table, loaded.sources["app"])
    assert again.errors == []
    assert Config(**again.values) == loaded.config


def test_paste_ini_that_cannot_be_read_is_an_app_load_error(tmp_path: Path) -> None:
    def read(path: str) -> Mapping[str, Any]:
        raise AppLoadError(f"--paste: no such file {path!r}")

    with pytest.raises(AppLoadError, match="no such file"):
        load(tmp_path, cli={"paste": "dev.ini"}, read_paste=read)


def test_a_paste_server_section_without_use_is_an_error_not_ignored(tmp_path: Path) -> None:
    # PasteDeploy reads nothing from a [server:main] that names no server: its port and
    # threads were silently ignored, and --check-config passed even `threads = x`.
    ini = tmp_path / "dev.ini"
    ini.write_text("[app:main]\nuse = call:x:y\n\n[server:main]\nport = 18499\nthreads = 7\n")
    with pytest.raises(ConfigError, match=r"\[server:main\] has no 'use' line"):
        paste_server_options(str(ini))
    ini.write_text("[app:main]\nuse = call:x:y\n\n[server: main]\nport = 18499\n")
    with pytest.raises(ConfigError, match=r"\[server:main\] has no 'use' line"):
        paste_server_options(str(ini))  # spaced as PasteDeploy allows, found all the same
    ini.write_text(
        "[app:main]\nuse = call:x:y\n\n[server:main]\nuse = egg:strict-wsgiserver#nosuch\n"
    )
    with pytest.raises(ConfigError, match="Entry point 'nosuch' not found"):
        paste_server_options(str(ini))  # not "no 'use' line": PasteDeploy's own reason
    ini.write_text("[app:main]\nuse = call:x:y\n")  # no server section at all: no options
    assert paste_server_options(str(ini)) == {}
    ini.write_text(
        "[app:main]\nuse = call:x:y\n\n[server:main]\nuse = egg:strict-wsgiserver\nthreads = 7\n"
    )
    assert paste_server_options(str(ini))["threads"] == 7
