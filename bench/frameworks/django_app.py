"""Owns the Django app of the ``django`` scenario: one templated page at ``/``.

The settings are those of ``django_project``: no middleware, no installed
apps, no database.  Django is imported through importlib so the harness
type-checks without it.
"""

from __future__ import annotations

import importlib

from bench.frameworks import TEMPLATE, context
from bench.frameworks.django_project import configure, wsgi_application

configure(__name__)

_shortcuts = importlib.import_module("django.shortcuts")
_urls = importlib.import_module("django.urls")


def page(request: object) -> object:
    """Render the shared template."""
    return _shortcuts.render(request, TEMPLATE, context())


urlpatterns = [_urls.path("", page)]

app = wsgi_application()
