"""Owns the Django settings the ``django`` and ``django-db`` apps share, and their setup.

One Django project per process: a module that serves one of the scenarios calls
:func:`configure` once at import, with its own URL configuration and any
settings of its own.  The shared settings are Django's defaults apart from
what a single-module project needs: no middleware, no installed apps, the
shared template directory.  Django is imported through importlib so the
harness type-checks without it.  This module defines no view.
"""

from __future__ import annotations

import importlib

from bench.frameworks import TEMPLATES


def configure(urlconf: str, **extra: object) -> None:
    """Configure Django's settings for the module ``urlconf`` and set Django up."""
    settings = importlib.import_module("django.conf").settings
    settings.configure(
        DEBUG=False,
        SECRET_KEY="wsgiserver-bench-not-secret",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=urlconf,
        MIDDLEWARE=[],
        INSTALLED_APPS=[],
        USE_TZ=True,
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "DIRS": [str(TEMPLATES)],
            }
        ],
        **extra,
    )
    importlib.import_module("django").setup()


def wsgi_application() -> object:
    """Django's WSGI application for the configured project."""
    return importlib.import_module("django.core.wsgi").get_wsgi_application()
