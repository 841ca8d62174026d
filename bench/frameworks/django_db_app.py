"""Owns the Django app of the ``django-db`` scenario: the ``django`` page, read from SQLite.

Each request makes three small queries through Django's ORM (how many items
there are, the last of them by primary key, and all their names) against a
table of the 20 template items, then renders the shared template: the mixed
case of a real view, in which Python computes and the database works with the
GIL released (the sqlite3 module releases it while SQLite prepares and steps
a statement).

The database is a file in a temporary directory made when this module is
imported (each process that imports it has its own), filled then, and
removed at exit by the process that made it.  Django's defaults are kept,
``CONN_MAX_AGE = 0`` included: each request opens its thread's connection
on its first query and closes it when the server closes the response.
"""

from __future__ import annotations

import atexit
import importlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from bench.frameworks import ITEMS, TEMPLATE, TITLE
from bench.frameworks.django_project import configure, wsgi_application

_DIRECTORY = tempfile.mkdtemp(prefix="wsgiserver-bench-db-")
_OWNER = os.getpid()


def _remove_database() -> None:
    if os.getpid() == _OWNER:  # not in a forked child, which would take it from its siblings
        shutil.rmtree(_DIRECTORY, ignore_errors=True)


atexit.register(_remove_database)

configure(
    __name__,
    DATABASES={
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(Path(_DIRECTORY) / "bench.sqlite3"),
        }
    },
)

_db = importlib.import_module("django.db")
_models = importlib.import_module("django.db.models")
_shortcuts = importlib.import_module("django.shortcuts")
_urls = importlib.import_module("django.urls")
_Model: Any = _models.Model


class Item(_Model):  # type: ignore[misc]  # a subclass of Any: Django is imported untyped
    """One template item; ``app_label`` stands in for an installed app."""

    name = _models.CharField(max_length=40)

    class Meta:
        app_label = "bench"


def _create_table() -> None:
    with _db.connection.schema_editor() as editor:
        editor.create_model(Item)
    Item.objects.bulk_create([Item(name=name) for name in ITEMS])
    _db.connection.close()  # requests open their own; none is left to a forked child


_create_table()


def page(request: object) -> object:
    """Three SELECTs, then the shared template."""
    count = Item.objects.count()
    last = Item.objects.get(pk=count)
    items = list(Item.objects.order_by("id").values_list("name", flat=True))
    title = f"{TITLE}: {count} items, the last is {last.name}"
    return _shortcuts.render(request, TEMPLATE, {"title": title, "items": items})


urlpatterns = [_urls.path("", page)]

app = wsgi_application()
