from __future__ import annotations

from django.contrib import admin

from sample_apps.django_project.notes.models import Note


@admin.register(Note)
class NoteAdmin(admin.ModelAdmin):  # type: ignore[misc]
    list_display = ("title", "created")
