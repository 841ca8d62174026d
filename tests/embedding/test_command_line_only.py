"""Options only the command line applies are refused by an embedded Server, not ignored.

`Server(app, workers=4)` used to bind and serve in one process, and `max_requests`, `pid`,
`chdir`... were accepted and dropped without a word. The supervisor's workers and the CLI
build their `Server` with such a config and a `ProcessRole`: they keep working.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import wsgiserver
from tests.embedding.apps import get, hello
from wsgiserver.config.options import Config
from wsgiserver.config.scope import command_line_only
from wsgiserver.errors import ConfigError
from wsgiserver.server.server import ProcessRole, Server
from wsgiserver.testing import RunningServer

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.rst"

# A value other than the default for every command-line-only option.
SET: dict[str, Any] = {
    "app": "myapp:app",
    "paste": "production.ini",
    "factory": True,
    "chdir": "/srv/app",
    "log_level": "debug",
    "log_config": "logging.json",
    "workers": 4,
    "max_requests": 1000,
    "max_requests_jitter": 50,
    "max_worker_lifetime": 3600.0,
    "max_worker_memory": 512,
    "reload": True,
    "preload": True,
    "pid": "/run/app.pid",
}


def test_every_command_line_only_option_is_covered_here() -> None:
    assert set(SET) == set(command_line_only())


@pytest.mark.parametrize("name", sorted(SET))
def test_an_embedded_server_refuses_it_before_binding(name: str, tmp_path: Path) -> None:
    path = tmp_path / "app.sock"
    builds: list[Callable[[], object]] = [
        lambda: Server(hello, Config(bind=(f"unix:{path}",), **{name: SET[name]}))
    ]
    if name != "app":  # the app's own parameter: only a config= can carry the option
        builds += [
            lambda: Server(hello, bind=f"unix:{path}", **{name: SET[name]}),
            lambda: RunningServer.start(hello, bind=f"unix:{path}", **{name: SET[name]}),
        ]
    for build in builds:
        with pytest.raises(ConfigError) as caught:
            build()
        message = str(caught.value)
        assert "\n" not in message
        assert message.startswith(f"{name}={SET[name]!r} is a command-line option")
        assert message.endswith(command_line_only()[name])
        assert not path.exists()  # nothing was bound


def test_serve_refuses_workers() -> None:
    with pytest.raises(ConfigError, match=r"^workers=3 is a command-line option.*wsgiserver"):
        wsgiserver.serve(hello, bind="127.0.0.1:0", workers=3)


def test_several_are_named_in_one_line() -> None:
    with pytest.raises(ConfigError) as caught:
        Server(hello, bind="127.0.0.1:0", workers=2, max_requests=5, max_worker_memory=9)
    message = str(caught.value)
    assert message.startswith(
        "workers=2, max_requests=5, max_worker_memory=9 are command-line options"
    )
    assert message.count("recycle") == 1  # the advice both recycling options share, once


def test_their_defaults_are_accepted() -> None:
    defaults = {name: getattr(Config(), name) for name in SET if name != "app"}
    with Server(hello, bind="127.0.0.1:0", **defaults):
        pass


def test_a_server_run_by_the_command_line_or_a_worker_takes_them() -> None:
    # The supervisor's workers pass the whole config (workers=4, recycling...) and a role.
    config = Config(bind=("127.0.0.1:0",), workers=4, max_requests=10, gc_freeze=False)
    with Server(hello, config, process=ProcessRole()) as server:
        thread = threading.Thread(target=server.serve_forever)
        thread.start()
        try:
            address = server.address
            assert isinstance(address, tuple)
            assert get(*address, "/w") == (200, b"hello |/w")
        finally:
            server.shutdown()
            thread.join()


def test_the_api_reference_lists_exactly_them() -> None:
    text = API_DOC.read_text()
    section = text.split("Command-line-only options\n", 1)[1].split("``access_log``", 1)[0]
    names = {f.name for f in dataclasses.fields(Config)}
    fields = {word for word in re.findall(r"``(\w+)``", section) if word in names}
    assert fields == set(command_line_only())
