"""The ``django-db`` benchmark app: three SELECTs and the shared page, its database cleaned up.

Django's settings are global to a process, so the app runs in a child interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, untraced_env

pytest.importorskip("django")

CHILD = """
import json
from wsgiref.util import setup_testing_defaults

from bench.frameworks import django_db_app
from django.db import connection

statements = []

def counted(execute, sql, params, many, context):
    statements.append(sql)
    return execute(sql, params, many, context)

pages = []
with connection.execute_wrapper(counted):
    for _ in range(2):  # the second request opens a new connection (CONN_MAX_AGE 0)
        environ = {}
        setup_testing_defaults(environ)
        statuses = []
        body = django_db_app.app(environ, lambda status, headers, exc=None: statuses.append(status))
        pages.append((statuses[0], b"".join(body).decode()))
        body.close()
print(json.dumps({"pages": pages, "statements": statements, "dir": django_db_app._DIRECTORY}))
"""


@pytest.mark.slow
def test_each_request_makes_three_selects_and_renders_the_items() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        cwd=ROOT,
        env=untraced_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    for status, page in found["pages"]:
        assert status == "200 OK"
        assert "20 items, the last is item 19" in page
        assert page.count("<li>") == 20
    assert len(found["statements"]) == 6
    assert all(sql.lstrip().upper().startswith("SELECT") for sql in found["statements"])
    assert not Path(found["dir"]).exists()  # removed at exit by the process that made it
