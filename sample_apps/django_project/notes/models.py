"""One model on SQLite, editable in the admin."""

from __future__ import annotations

from typing import ClassVar

from django.db import models


class Note(models.Model):  # type: ignore[misc]
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["id"]

    def __str__(self) -> str:
        return str(self.title)
