"""Django's LiveServerTestCase and StaticLiveServerTestCase on wsgiserver.

Django's settings are process-wide, so the Django test cases run in a subprocess, through
Django's own test runner.
"""

from __future__ import annotations

import sys

import pytest

pytest.importorskip("django")

DJANGO_TESTS = """
import sys
import urllib.request
from pathlib import Path

import django
from django.conf import settings

HERE = Path(__file__).parent
settings.configure(
    DEBUG=False,
    SECRET_KEY="not secret",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=[],
    MIDDLEWARE=[],
    INSTALLED_APPS=["django.contrib.staticfiles"],
    STATIC_URL="/static/",
    STATICFILES_DIRS=[str(HERE / "assets")],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
)
django.setup()

from django.db import connection
from django.http import HttpResponse
from django.test import LiveServerTestCase as DjangoLiveServerTestCase
from django.test.runner import DiscoverRunner
from django.urls import path

from wsgiserver.contrib.django import (
    LiveServerTestCase,
    LiveServerThread,
    StaticLiveServerTestCase,
)


def view(request):
    with connection.cursor() as cursor:  # the shared in-memory database works
        cursor.execute("SELECT 40 + 2")
        (answer,) = cursor.fetchone()
    return HttpResponse(f"{request.META['SERVER_SOFTWARE']} {answer}")


urlpatterns = [path("hello/", view)]


def fetch(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


class ReadyMade(LiveServerTestCase):
    def test_served_by_wsgiserver(self):
        assert isinstance(self.server_thread, LiveServerThread)
        assert fetch(self.live_server_url + "/hello/") == "wsgiserver 42"


class ByAttribute(DjangoLiveServerTestCase):
    server_thread_class = LiveServerThread

    def test_served_by_wsgiserver(self):
        assert fetch(self.live_server_url + "/hello/") == "wsgiserver 42"


class Static(StaticLiveServerTestCase):
    server_options = {"threads": 1}

    def test_static_files_from_the_finders(self):
        assert self.server_thread.httpd.config.threads == 1
        assert fetch(self.live_server_url + "/static/site.css") == "body {}\\n"
        assert fetch(self.live_server_url + "/hello/") == "wsgiserver 42"


if __name__ == "__main__":
    runner = DiscoverRunner(verbosity=2, interactive=False)
    suite = runner.test_loader.loadTestsFromModule(sys.modules[__name__])
    old = runner.setup_databases()
    try:
        result = runner.run_suite(suite)
    finally:
        runner.teardown_databases(old)
    print("RAN", result.testsRun, "FAILURES", len(result.failures) + len(result.errors))
    sys.exit(not result.wasSuccessful())
"""


def test_django_live_server_test_cases(pytester: pytest.Pytester) -> None:
    (pytester.path / "assets").mkdir()
    (pytester.path / "assets" / "site.css").write_text("body {}\n")
    script = pytester.makepyfile(django_live=DJANGO_TESTS)
    result = pytester.run(sys.executable, str(script))
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(["RAN 3 FAILURES 0"])
