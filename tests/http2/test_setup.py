"""Turning HTTP/2 on: the extra it needs, who may speak cleartext h2c, bad settings."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from h2.stream import H2Stream

from tests.http2.helpers import BOUND, client, echo, h2c_server
from tests.server.helpers import RawClient, get
from wsgiserver import Server
from wsgiserver.errors import ConfigError
from wsgiserver.http2 import INSTALL, require

ROOT = Path(__file__).resolve().parents[2]
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def without_h2(tmp_path: Path) -> dict[str, str]:
    """An environment where `import h2` fails, as on an install without the extra."""
    shadow = tmp_path / "h2"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise ImportError('No module named h2')\n")
    return {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}


def test_without_the_extra_http2_is_a_one_line_error_naming_it(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "wsgiserver",
            "--http2",
            "--bind",
            "127.0.0.1:0",
            "sample_apps.hello:app",
        ],
        cwd=ROOT,
        env=without_h2(tmp_path),
        capture_output=True,
        text=True,
        timeout=BOUND,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "the h2 library is not installed" in lines[0]
    # A command that works from anywhere: the distribution is not on the package index.
    assert "pip install 'h2>=4.1,<5'" in lines[0]


def test_an_h2_without_the_methods_this_server_adapts_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Were h2 to rename one, its replacement in `http2.connection` would never run, and the
    # behaviour it exists for (stream errors for bad content-length...) would silently go.
    require()  # the installed h2 has them
    monkeypatch.delattr(H2Stream, "_initialize_content_length")
    with pytest.raises(ConfigError, match=r"lacks H2Stream\._initialize_content_length"):
        require()


def test_without_the_extra_http2_off_serves_on_the_standard_library(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from wsgiserver.testing import serving\n"
        "from sample_apps.hello import app\n"
        "with serving(app) as running:\n"
        "    pass\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in ('h2', 'hpack')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=without_h2(tmp_path),
        capture_output=True,
        text=True,
        timeout=BOUND,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"h2c": "all"}, "h2c needs http2"),
        ({"http2": True, "h2c": "some"}, "h2c"),
        ({"http2": True, "http2_max_concurrent_streams": 0}, "http2_max_concurrent_streams"),
        ({"http2": True, "http2_max_header_list_size": 100}, "http2_max_header_list_size"),
        ({"http2": True, "http2_initial_window_size": 2**31}, "http2_initial_window_size"),
        # SETTINGS values are 32 bits (RFC 9113 section 6.5.1): one more could not be sent.
        ({"http2": True, "http2_max_concurrent_streams": 2**32}, "http2_max_concurrent_streams"),
        ({"http2": True, "http2_max_header_list_size": 2**32}, "http2_max_header_list_size"),
    ],
)
def test_bad_http2_settings_are_config_errors(options: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        Server(echo, bind=["127.0.0.1:0"], **options)  # type: ignore[arg-type]


def preface_answer(port: int) -> bytes:
    """What the server answers to a cleartext HTTP/2 preface, up to its close."""
    with socket.create_connection(("127.0.0.1", port), timeout=BOUND) as sock:
        sock.sendall(PREFACE + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


@pytest.mark.parametrize(
    ("h2c", "allow", "why"),
    [
        # Under `none` nobody may: "trusted peers only" sent a trusted one looking for a
        # fault of its own (a docs-as-written probe).
        ("none", "127.0.0.1", b"h2c is not accepted (--h2c none)"),
        ("trusted", "192.0.2.1", b"h2c is accepted from trusted peers only"),
    ],
    ids=["h2c-none", "untrusted-peer"],
)
def test_a_peer_that_may_not_use_h2c_is_told_http_1_1_is_required(
    h2c: str, allow: str, why: bytes
) -> None:
    with h2c_server(echo, h2c=h2c, forwarded_allow_ips=allow) as srv:
        answer = preface_answer(srv.port)
        # RFC 9113 section 3.4: our preface is a SETTINGS frame; then GOAWAY (type 7) with
        # HTTP_1_1_REQUIRED (0xd, section 7), so the client knows why.
        assert answer[3] == 0x4
        goaway_at = 9 + int.from_bytes(answer[:3], "big")
        assert answer[goaway_at + 3] == 0x7
        assert int.from_bytes(answer[goaway_at + 13 : goaway_at + 17], "big") == 0xD
        goaway_end = goaway_at + 9 + int.from_bytes(answer[goaway_at : goaway_at + 3], "big")
        assert answer[goaway_at + 17 : goaway_end] == why  # its debug data says why
        # HTTP/1.1 is still served to that peer.
        with RawClient((srv.host, srv.port)) as raw:
            assert raw.request(get("/")).status == 200


def test_h2c_all_serves_any_peer() -> None:
    with h2c_server(echo, h2c="all", forwarded_allow_ips="192.0.2.1") as srv, client(srv) as c:
        assert c.get("/any").status == 200


def test_the_install_command_in_the_messages_is_the_extras_requirement() -> None:
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    extras = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]
    (requirement,) = extras["http2"]
    assert f"pip install '{requirement}'" == INSTALL
