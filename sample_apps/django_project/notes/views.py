"""Views: a CSRF-protected form, a JSON API, an upload, a stream and a file download."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse

from sample_apps.django_project.notes.forms import NoteForm, UploadForm
from sample_apps.django_project.notes.models import Note

REPORT = Path(__file__).resolve().parent / "static" / "notes" / "style.css"


def index(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = NoteForm(request.POST)
        if form.is_valid():
            form.save()
            return redirect("index")
    else:
        form = NoteForm()
    return render(request, "notes/index.html", {"form": form, "notes": Note.objects.all()})


def api_notes(request: HttpRequest) -> JsonResponse:
    notes = [{"id": n.pk, "title": n.title, "body": n.body} for n in Note.objects.all()]
    return JsonResponse({"notes": notes})


def upload(request: HttpRequest) -> HttpResponse:
    # The form is CSRF-protected like any other: clients send the token they got from a GET.
    if request.method != "POST":
        return render(request, "notes/upload.html", {"form": UploadForm()})
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text())
    uploaded = form.cleaned_data["file"]
    digest = hashlib.sha256()
    for chunk in uploaded.chunks():
        digest.update(chunk)
    return JsonResponse(
        {"filename": uploaded.name, "size": uploaded.size, "sha256": digest.hexdigest()}
    )


def stream(request: HttpRequest) -> StreamingHttpResponse:
    count = int(request.GET.get("n", "5"))

    def generate() -> Iterator[bytes]:
        for number in range(count):
            yield f"chunk {number} of {count}\n".encode()

    return StreamingHttpResponse(generate(), content_type="text/plain")


def download(request: HttpRequest) -> FileResponse:
    # FileResponse goes through the server's wsgi.file_wrapper (Django's WSGIHandler).
    return FileResponse(REPORT.open("rb"), content_type="text/css")


def links(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "index": reverse("index"),
            "admin": reverse("admin:index"),
            "css": static("notes/style.css"),
            "absolute": request.build_absolute_uri(reverse("api-notes")),
            "script_name": request.META.get("SCRIPT_NAME", ""),
        }
    )
