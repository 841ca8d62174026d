from __future__ import annotations

from typing import ClassVar

from django import forms

from sample_apps.django_project.notes.models import Note


class NoteForm(forms.ModelForm):  # type: ignore[misc]
    class Meta:
        model = Note
        fields: ClassVar[list[str]] = ["title", "body"]


class UploadForm(forms.Form):  # type: ignore[misc]
    file = forms.FileField()
