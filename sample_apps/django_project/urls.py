"""URLs of the sample project."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from sample_apps.django_project.notes import views

urlpatterns = [
    path("", views.index, name="index"),
    path("api/notes/", views.api_notes, name="api-notes"),
    path("upload/", views.upload, name="upload"),
    path("stream/", views.stream, name="stream"),
    path("download/", views.download, name="download"),
    path("links/", views.links, name="links"),
    path("admin/", admin.site.urls),
]
