"""pytest plugin (registered through the `pytest11` entry point as "wsgiserver").

Fixtures:
- `wsgi_server`: a factory, `wsgi_server(app, **options) -> RunningServer`; every server it
  started is stopped at teardown. An app error that the test did not take with
  `take_app_errors()` fails the test (as an error at teardown, with the app's traceback).
- `wsgi_live_server`: a `RunningServer` for the app of the `wsgi_app` fixture (define it in
  a conftest) or, without one, of `--wsgi-app module:app` / the `wsgi_app` ini option.
- `live_server`: the same, under the name pytest-django and pytest-flask also use; it is
  only defined when neither is active (then use `wsgi_live_server`), so that their own
  `live_server` keeps working for their users.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from wsgiserver.types import WSGIApp

if TYPE_CHECKING:
    # The server is imported by the fixtures that start one: pytest loads this plugin in
    # every run of every project where wsgiserver is installed, and must not pay for it.
    from wsgiserver.testing import RunningServer

WSGIServerFactory = Callable[..., "RunningServer"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wsgiserver")
    group.addoption(
        "--wsgi-app",
        dest="wsgi_app",
        default=None,
        metavar="MODULE:APP",
        help="WSGI app served by the live_server / wsgi_live_server fixtures "
        "(when no wsgi_app fixture is defined)",
    )
    parser.addini("wsgi_app", "WSGI app (module:app) for the live_server fixture", default="")


# Plugins with a `live_server` fixture of their own, by the names pytest registers them under:
# their entry point's name, or their module's when a conftest lists it in `pytest_plugins`.
# A user of pytest-django or pytest-flask who has wsgiserver installed must get theirs.
OWN_LIVE_SERVER = ("django", "pytest_django.plugin", "flask", "pytest_flask.plugin")


def pytest_configure(config: pytest.Config) -> None:
    if not any(config.pluginmanager.hasplugin(name) for name in OWN_LIVE_SERVER):
        config.pluginmanager.register(_LiveServerAlias(), "wsgiserver-live-server")


@pytest.fixture
def wsgi_server() -> Iterator[WSGIServerFactory]:
    """Start servers in the test: `srv = wsgi_server(app, threads=2)`; stopped at teardown."""
    from wsgiserver.testing import RunningServer

    started: list[RunningServer] = []

    def start(app: WSGIApp, *, raise_app_errors: bool = True, **options: Any) -> RunningServer:
        running = RunningServer.start(app, raise_app_errors=raise_app_errors, **options)
        started.append(running)
        return running

    yield start
    errors: list[BaseException] = []
    for running in reversed(started):
        try:
            running.stop()
        except BaseException as exc:
            errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise BaseExceptionGroup("several wsgiserver servers failed", errors)


def _configured_app(request: pytest.FixtureRequest) -> WSGIApp:
    try:
        app: WSGIApp = request.getfixturevalue("wsgi_app")
    except pytest.FixtureLookupError as exc:
        if exc.argname != "wsgi_app":
            raise
    else:
        return app
    spec = request.config.getoption("wsgi_app") or request.config.getini("wsgi_app")
    if not spec:
        pytest.fail(
            "the live_server fixture needs an app: define a `wsgi_app` fixture returning it, "
            "or pass --wsgi-app module:app (or set wsgi_app = module:app in the pytest ini)",
            pytrace=False,
        )
    from wsgiserver.apploader import load_app

    return load_app(str(spec))


@pytest.fixture
def wsgi_live_server(
    request: pytest.FixtureRequest, wsgi_server: WSGIServerFactory
) -> RunningServer:
    """The app of the `wsgi_app` fixture or `--wsgi-app`, served on 127.0.0.1:<free port>."""
    return wsgi_server(_configured_app(request))


class _LiveServerAlias:
    """Registered only without the plugins of `OWN_LIVE_SERVER`, whose `live_server` is a
    different thing."""

    @pytest.fixture
    def live_server(self, wsgi_live_server: RunningServer) -> RunningServer:
        """The app of the `wsgi_app` fixture or `--wsgi-app`; see `wsgi_live_server`."""
        return wsgi_live_server
