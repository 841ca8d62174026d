"""Owns the Django app of the ``django`` scenario: one templated page at ``/``.

A single-module Django project: settings are configured here, with no
middleware and no installed apps.  Django is imported through importlib so
the harness type-checks without it.
"""

from __future__ import annotations

import importlib

from bench.frameworks import TEMPLATE, TEMPLATES, context

django = importlib.import_module("django")
settings = importlib.import_module("django.conf").settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="wsgiserver-bench-not-secret",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    USE_TZ=True,
    TEMPLATES=[
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "DIRS": [str(TEMPLATES)],
        }
    ],
)
django.setup()

_shortcuts = importlib.import_module("django.shortcuts")
_urls = importlib.import_module("django.urls")


def page(request: object) -> object:
    """Render the shared template."""
    return _shortcuts.render(request, TEMPLATE, context())


urlpatterns = [_urls.path("", page)]

app = importlib.import_module("django.core.wsgi").get_wsgi_application()
