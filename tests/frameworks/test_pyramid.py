"""The Pyramid sample app end to end, plus PasteDeploy: `pserve` and `--paste`."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from wsgiref.validate import validator

import pytest
import requests

from tests.frameworks.conftest import load_in_chromium
from tests.frameworks.helpers import (
    REPO,
    UPLOAD_CASES,
    MultipartUpload,
    ServerProcess,
    post_upload,
    upload_case,
    wsgiserver_cli,
)
from tests.frameworks.home_page import check_home_page
from tests.frameworks.transports import HTTP1, HTTP2, Client, assert_streamed
from wsgiserver.config.paste_ini import options_from_ini
from wsgiserver.errors import ConfigError
from wsgiserver.testing import serving

with warnings.catch_warnings():
    # WebOb 1.8 imports the `cgi` module, deprecated since Python 3.11 (not our warning).
    warnings.filterwarnings("ignore", "'cgi' is deprecated", DeprecationWarning)
    from sample_apps.pyramid_app import HERE, make_app

APP = "sample_apps.pyramid_app:app"
CSS = HERE / "static" / "style.css"


@dataclass
class Target:
    mode: str
    url: str
    http: Client = HTTP1


@pytest.fixture(scope="module", params=["cli", "inprocess", "inprocess-validated", "h2-validated"])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    """The app through the CLI, in process, in process under the validator, and in process
    under the validator over HTTP/2 (h2c with prior knowledge)."""
    mode = str(request.param)
    if mode == "cli":
        with wsgiserver_cli(APP) as server:
            yield Target(mode, server.url)
        return
    app: Any = make_app()
    if mode.endswith("-validated"):
        app = validator(app)
    http2 = mode.startswith("h2")
    with serving(app, http2=http2) as running:
        yield Target(mode, running.url, HTTP2 if http2 else HTTP1)


def test_routes_and_json_renderer(target: Target) -> None:
    hello = target.http.get(target.url + "/api/hello/ada", timeout=30)
    assert hello.headers["Content-Type"] == "application/json"
    assert hello.json() == {"hello": "ada", "url": target.url + "/api/hello/x"}
    missing = target.http.get(target.url + "/nope", timeout=30)
    assert missing.status_code == 404
    assert missing.text == "no page at /nope\n"


def test_form_post_redirects(target: Target) -> None:
    posted = target.http.post(target.url + "/notes", data={"note": "pyr"}, allow_redirects=False)
    assert posted.status_code == 303
    assert posted.headers["Location"] == target.url + "/"
    page = target.http.get(posted.headers["Location"], timeout=30).text
    assert '<li class="note">pyr</li>' in page
    assert "pyr" in target.http.get(target.url + "/api/notes", timeout=30).json()["notes"]
    assert target.http.post(target.url + "/notes", data={}, timeout=30).status_code == 400


@pytest.mark.parametrize("case", UPLOAD_CASES)
def test_multipart_upload_hash_matches(target: Target, case: int | str) -> None:
    """With a Content-Length ("length": 50 MiB through the CLI, smaller elsewhere), and
    chunked in several sizes."""
    size, chunked = upload_case(target.mode, case, 2 * 1024 * 1024 + 3)
    body = MultipartUpload(size)
    response = post_upload(target.url + "/upload", body, chunked=chunked, http=target.http)
    assert response.status_code == 200, response.text[:500]
    assert response.json() == {"filename": "big.bin", "size": size, "sha256": body.sha256}


def test_file_response_conditional_get_and_head(target: Target) -> None:
    first = target.http.get(target.url + "/download", timeout=30)
    assert first.status_code == 200
    assert first.content == CSS.read_bytes()
    etag = first.headers["ETag"]
    again = target.http.get(target.url + "/download", headers={"If-None-Match": etag}, timeout=30)
    assert again.status_code == 304
    assert again.content == b""
    modified = first.headers["Last-Modified"]
    since = target.http.get(target.url + "/download", headers={"If-Modified-Since": modified})
    assert since.status_code == 304
    with target.http.Session() as client:
        head = client.head(target.url + "/download", timeout=30)
        assert head.headers["Content-Length"] == str(CSS.stat().st_size)
        assert client.get(target.url + "/api/notes", timeout=30).status_code == 200


def test_static_view(target: Target) -> None:
    css = target.http.get(target.url + "/static/style.css", timeout=30)
    assert css.status_code == 200
    assert "rgb(12, 34, 56)" in css.text


def test_root_path_generates_prefixed_urls() -> None:
    with wsgiserver_cli("--root-path", "/prefix", APP) as server:
        notes = requests.get(server.url + "/prefix/api/notes", timeout=30).json()
        assert notes["home"] == "/prefix/"
        page = requests.get(server.url + "/prefix/", timeout=30).text
        assert f'href="{server.url}/prefix/static/style.css"' in page
        assert 'action="/prefix/notes"' in page
        # The redirect's connection would stay open idle (requests keeps it with the
        # response), and a graceful stop waits for idle connections: close it now.
        posted = requests.post(
            server.url + "/prefix/notes",
            data={"note": "n"},
            allow_redirects=False,
            headers={"Connection": "close"},
        )
        assert posted.headers["Location"] == server.url + "/prefix/"


def write_ini(tmp_path: Path, server_section: str) -> Path:
    ini = tmp_path / "development.ini"
    ini.write_text("[app:main]\nuse = call:sample_apps.pyramid_app:make_app\n\n" + server_section)
    return ini


def test_pserve_starts_wsgiserver(tmp_path: Path) -> None:
    ini = write_ini(
        tmp_path, "[server:main]\nuse = egg:strict-wsgiserver\nhost = 127.0.0.1\nport = 0\n"
    )
    pserve = shutil.which("pserve", path=str(Path(sys.executable).parent))
    assert pserve is not None
    with ServerProcess([pserve, str(ini)]) as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert requests.get(server.url + "/api/hello/p", timeout=30).json()["hello"] == "p"
        assert "wsgiserver" in requests.get(server.url + "/", timeout=30).headers["Server"]


def test_cli_paste_ini_with_flags_winning(tmp_path: Path) -> None:
    ini = write_ini(
        tmp_path,
        "[server:main]\nuse = egg:strict-wsgiserver\nlisten = 127.0.0.1:1\nroot_path = /fromini\n",
    )
    # --bind (given by wsgiserver_cli) wins over `listen`; root_path comes from the ini.
    with wsgiserver_cli("--paste", str(ini)) as server:
        notes = requests.get(server.url + "/fromini/api/notes", timeout=30).json()
        assert notes["home"] == "/fromini/"


def test_shipped_development_ini_loads() -> None:
    with wsgiserver_cli("--paste", str(HERE / "development.ini")) as server:
        assert requests.get(server.url + "/api/notes", timeout=30).status_code == 200


# How systemd starts a command: the listening socket as fd 3, LISTEN_PID the exec'd process's.
# The documented commands then serve on a port the OS picked, not the ini's fixed 6543.
SOCKET_ACTIVATED = (
    "import os, sys\n"
    "os.dup2(int(sys.argv[1]), 3)\n"
    "os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS='1', LISTEN_FDNAMES='web')\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)
DOCUMENTED = [
    "pserve sample_apps/pyramid_app/development.ini",
    "python -m wsgiserver --paste sample_apps/pyramid_app/development.ini",
]


@pytest.mark.parametrize("command", DOCUMENTED, ids=["pserve", "paste"])
def test_the_documented_pyramid_commands_work_as_written(command: str) -> None:
    for doc in ("README.rst", "docs/frameworks.rst", "sample_apps/pyramid_app/development.ini"):
        assert command in (REPO / doc).read_text(), f"{doc} no longer shows {command!r}"
    # From the repository root, without PYTHONPATH, with the virtualenv's commands first on
    # PATH (as an activated virtualenv has them): `pserve` puts its own directory first on
    # sys.path, not the current one, so the ini must find sample_apps by itself.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    with socket.create_server(("127.0.0.1", 0)) as listener:
        argv = [sys.executable, "-c", SOCKET_ACTIVATED, str(listener.fileno()), *command.split()]
        server = ServerProcess(
            argv, {"PATH": path}, repo_on_path=False, pass_fds=[listener.fileno()]
        )
    with server:
        assert "using 1 socket(s) from systemd" in server.stderr()
        assert requests.get(server.url + "/api/notes", timeout=30).json()["home"] == "/"
        page = requests.get(server.url + "/", timeout=30)
        assert "wsgiserver" in page.headers["Server"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wsgiserver", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_paste_errors_are_one_line(tmp_path: Path) -> None:
    neither = run_cli("--bind", "127.0.0.1:0")
    assert neither.returncode == 2
    assert neither.stderr.strip().splitlines() == [
        "wsgiserver: error: give an APP (module:attribute) or --paste FILE.ini"
    ]
    missing = run_cli("--paste", str(tmp_path / "missing.ini"))
    assert missing.returncode == 3
    assert len(missing.stderr.strip().splitlines()) == 1
    assert "no such file" in missing.stderr
    bad = write_ini(tmp_path, "[server:main]\nuse = egg:strict-wsgiserver\nworkerz = 3\n")
    unknown = run_cli("--paste", str(bad))
    assert unknown.returncode != 0
    assert len(unknown.stderr.strip().splitlines()) == 1
    assert "unknown server option 'workerz'" in unknown.stderr


def test_ini_options_are_typed() -> None:
    assert options_from_ini(
        {"host": "::1", "port": "8080", "threads": "8", "header-timeout": "2.5"}
    ) == {"bind": ("[::1]:8080",), "threads": 8, "header_timeout": 2.5}
    assert options_from_ini({"listen": "127.0.0.1:1 unix:/tmp/s", "access_log": "-"}) == {
        "bind": ("127.0.0.1:1", "unix:/tmp/s"),
        "access_log": "-",
    }
    with pytest.raises(ConfigError, match="threads = 'many': expected a whole number"):
        options_from_ini({"threads": "many"})
    with pytest.raises(ConfigError, match="unknown server option 'app'"):
        options_from_ini({"app": "x:y"})
    with pytest.raises(ConfigError, match="not both"):
        options_from_ini({"host": "a", "listen": "b:1"})


@pytest.mark.browser
def test_page_css_and_form_in_chromium(tmp_path: Path) -> None:
    with wsgiserver_cli("--access-log", "-", "tests.frameworks.browser_apps:pyramid") as server:
        dom = load_in_chromium(server.url + "/?browser-check", tmp_path / "profile")
        log = server.access_log()
        notes = requests.get(server.url + "/api/notes", timeout=30).json()["notes"]
    assert '<li class="note">css-color:rgb(12, 34, 56)</li>' in dom
    assert "css-color:rgb(12, 34, 56)" in notes
    assert '"GET /static/style.css HTTP/1.1" 200 ' in log, log
    assert '"POST /notes HTTP/1.1" 303 ' in log, log


FEATURES: dict[str, int | None] = {
    "#notes-form": None,
    "/api/notes": 200,
    "/api/hello/you": 200,
    "#upload": None,
    "/stream?n=5": 200,
    "/download": 200,
}


@pytest.mark.browser
def test_home_page_is_styled_and_links_every_feature(tmp_path: Path) -> None:
    # The download card promises byte ranges.
    ranged = ("/download", CSS.read_bytes())
    with wsgiserver_cli("tests.frameworks.browser_apps:pyramid") as server:
        check_home_page(server.url, tmp_path / "profile", FEATURES, ranged)


def test_streamed_response(target: Target) -> None:
    with target.http.get(target.url + "/stream?n=3", stream=True, timeout=30) as response:
        assert_streamed(response)
        assert response.text == "chunk 0 of 3\nchunk 1 of 3\nchunk 2 of 3\n"
    fallback = target.http.get(target.url + "/stream?n=x", timeout=30)
    assert fallback.text.count("\n") == 5
