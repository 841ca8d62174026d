"""The pytest plugin, run through `pytester` as a user's test suite would run it."""

from __future__ import annotations

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
    project.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_live_server_uses_the_command_line_option(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        from helpers import get

        def test_live(live_server):
            assert get(live_server, "/cli") == (200, b"app /cli")
        """
    )
    result = project.runpytest("-p", "no:cacheprovider", "--wsgi-app", "myapp:app")
    result.assert_outcomes(passed=1)


def test_live_server_without_an_app_says_what_to_do(project: pytest.Pytester) -> None:
    project.makepyfile("def test_live(live_server): pass")
    result = project.runpytest("-p", "no:cacheprovider")
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
