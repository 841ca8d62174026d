"""The WSGI entry point: `python -m wsgiserver sample_apps.django_project.wsgi:application`.

Static files are served by `django.contrib.staticfiles`' own WSGI handler (the one Django's
live test server uses), so the project needs no extra dependency; a busy site would put
WhiteNoise or a CDN in front instead.
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sample_apps.django_project.settings")


class StaticFiles(StaticFilesHandler):  # type: ignore[misc]
    """StaticFilesHandler that matches PATH_INFO (which never holds SCRIPT_NAME).

    Reading `settings.STATIC_URL` before the first request would cache it without the
    SCRIPT_NAME prefix, and `{% static %}` would then ignore `--root-path`; so read the raw
    setting instead of the prefixed one.
    """

    def get_base_url(self) -> Any:
        return "/" + str(settings._wrapped.STATIC_URL).lstrip("/")


application = StaticFiles(get_wsgi_application())
