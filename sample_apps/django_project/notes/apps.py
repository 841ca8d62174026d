from __future__ import annotations

from django.apps import AppConfig


class NotesConfig(AppConfig):  # type: ignore[misc]
    name = "sample_apps.django_project.notes"
    label = "notes"
    default_auto_field = "django.db.models.BigAutoField"
