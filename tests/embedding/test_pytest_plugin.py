"""The pytest plugin, run through `pytester` as a user's test suite would run it.

pytest-flask is installed with the test extra, so its plugin loads in these runs too: the
tests of our own `live_server` block it (`-p no:flask`), as a project without it would be;
the tests of coexistence run a child pytest with it active."""

from __future__ import annotations

import importlib.util

import pytest

APP_MODULE = """
def app(environ, start_response):
    if environ["PATH_INFO"] == "/boom":
        raise ZeroDivisionError("boom in the app")
    body = ("app " + environ["PATH_INFO"]).encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]
"""

HELPERS = """
import http.client

def get(srv, path="/"):
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body
"""


# A run where no plugin with a `live_server` of its own is active (pytest-django is not in the
# test extra; blocking it anyway keeps these tests true where it is installed).
WITHOUT_OTHER_LIVE_SERVERS = ("-p", "no:cacheprovider", "-p", "no:flask", "-p", "no:django")


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(myapp=APP_MODULE, helpers=HELPERS)
    pytester.syspathinsert()
    return pytester


def test_wsgi_server_factory(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        from helpers import get
        from myapp import app

        def test_two_servers(wsgi_server):
            one = wsgi_server(app)
            two = wsgi_server(app, threads=1, root_path="/x")
            assert one.port != two.port
            assert get(one, "/a") == (200, b"app /a")
            assert get(two, "/b") == (200, b"app /b")
            assert [r.target for r in one.wait_for_requests(1)] == ["/a"]
        """
    )
    project.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_live_server_uses_the_wsgi_app_fixture(project: pytest.Pytester) -> None:
    project.makeconftest(
        """
        import pytest
        from myapp import app

        @pytest.fixture
        def wsgi_app():
            return app
        """
    )
    project.makepyfile(
        """
        from helpers import get

        def test_live(live_server, wsgi_live_server):
            assert live_server is wsgi_live_server
            assert get(live_server, "/live") == (200, b"app /live")
            assert live_server.url.startswith("http://127.0.0.1:")
        """
    )
    project.runpytest(*WITHOUT_OTHER_LIVE_SERVERS).assert_outcomes(passed=1)


def test_live_server_uses_the_command_line_option(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        from helpers import get

        def test_live(live_server):
            assert get(live_server, "/cli") == (200, b"app /cli")
        """
    )
    result = project.runpytest(*WITHOUT_OTHER_LIVE_SERVERS, "--wsgi-app", "myapp:app")
    result.assert_outcomes(passed=1)


def test_live_server_without_an_app_says_what_to_do(project: pytest.Pytester) -> None:
    project.makepyfile("def test_live(live_server): pass")
    result = project.runpytest(*WITHOUT_OTHER_LIVE_SERVERS)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*define a `wsgi_app` fixture*--wsgi-app module:app*"])


def test_app_error_fails_the_test_that_caused_it(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        from helpers import get
        from myapp import app

        def test_causes_it(wsgi_server):
            srv = wsgi_server(app)
            get(srv, "/boom")  # the test does not even look at the status

        def test_innocent(wsgi_server):
            srv = wsgi_server(app)
            assert get(srv, "/fine")[0] == 200

        def test_expects_it(wsgi_server):
            srv = wsgi_server(app)
            assert get(srv, "/boom")[0] == 500
            [error] = srv.take_app_errors()
            assert isinstance(error, ZeroDivisionError)

        def test_opts_out(wsgi_server):
            srv = wsgi_server(app, raise_app_errors=False)
            assert get(srv, "/boom")[0] == 500
        """
    )
    result = project.runpytest("-p", "no:cacheprovider", "-rE")
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_causes_it*",
            "*raise ZeroDivisionError*",
            "E*ZeroDivisionError: boom in the app",
        ]
    )


# -- coexistence with plugins that have their own live_server ----------------------------------

PYTEST_FLASK_TESTS = """
import urllib.request

import pytest
from flask import Flask

from helpers import get
from myapp import app as plain_app


@pytest.fixture(scope="session")
def app():
    app = Flask(__name__)

    @app.route("/ping")
    def ping():
        return "pong"

    return app


def test_client(client):
    assert client.get("/ping").data == b"pong"


def test_pytest_flasks_live_server(live_server):
    # pytest-flask's LiveServer: url() is a method, and it serves the `app` fixture.
    with urllib.request.urlopen(live_server.url("/ping"), timeout=10) as response:
        assert response.read() == b"pong"


def test_ours_are_still_there(wsgi_server):
    assert get(wsgi_server(plain_app), "/ours") == (200, b"app /ours")
"""


def test_pytest_flask_keeps_its_live_server(project: pytest.Pytester) -> None:
    # In the test extra: this test needs it, and fails (never skips) without it.
    assert importlib.util.find_spec("pytest_flask") is not None, "pip install -e '.[test]'"
    project.makepyfile(test_flaskish=PYTEST_FLASK_TESTS)
    # A child pytest, as the user runs it: every installed plugin loads (pytest-flask too).
    result = project.runpytest_subprocess(
        "-p", "no:cacheprovider", "--live-server-host", "127.0.0.1"
    )
    result.assert_outcomes(passed=3)
    assert "needs an app" not in result.stdout.str()


USES_LIVE_SERVER = """
from helpers import get

def test_live(live_server):
    assert get(live_server, "/x") == (200, b"app /x")
"""


@pytest.mark.parametrize(
    "how", ["entry point", "conftest pytest_plugins"], ids=["entry-point", "conftest"]
)
def test_with_pytest_flask_active_live_server_is_theirs(project: pytest.Pytester, how: str) -> None:
    # Theirs needs an `app` fixture (ours would serve --wsgi-app and pass).
    blocked: tuple[str, ...] = ()
    if how == "conftest pytest_plugins":
        # Loaded by module name rather than by entry point: the guard knows both names.
        project.makeconftest('pytest_plugins = ["pytest_flask.plugin"]')
        blocked = ("-p", "no:flask")
    project.makepyfile(USES_LIVE_SERVER)
    result = project.runpytest("-p", "no:cacheprovider", *blocked, "--wsgi-app", "myapp:app")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'app' not found*"])
