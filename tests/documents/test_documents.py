"""Documents: stored with their digest, size limits, downloads as attachments."""

from __future__ import annotations

import hashlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.urls import reverse

from lanterne.documents.models import Document
from lanterne.documents.services import document_upload
from lanterne.dossiers import policy
from lanterne.dossiers.models import TimelineEntry

pytestmark = pytest.mark.django_db


def upload(world, content: bytes, filename: str = "devis.pdf", **kwargs):  # type: ignore[no-untyped-def]
    return document_upload(
        viewer=policy.Viewer.for_user(world.users["staff"]),
        actor=world.users["staff"],
        condominium=world.condominium,
        dossier=kwargs.pop("dossier", world.dossier),
        file=ContentFile(content),
        filename=filename,
        kind="quote",
        audience=kwargs.pop("audience", "owners"),
    )


def test_upload_records_digest_size_and_timeline(world):  # type: ignore[no-untyped-def]
    document = upload(world, b"%PDF-1.4 devis")
    assert document.sha256 == hashlib.sha256(b"%PDF-1.4 devis").hexdigest()
    assert document.size == 14 and document.content_type == "application/pdf"
    # The stored name says nothing of the original name.
    assert "devis" not in document.file.name
    assert TimelineEntry.objects.filter(document=document, kind="document").exists()


def test_empty_and_oversized_files_are_refused(world, settings):  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match="vide"):
        upload(world, b"")
    settings.DOCUMENT_MAX_BYTES = 10
    with pytest.raises(ValidationError, match="taille maximale"):
        upload(world, b"x" * 11)
    assert not Document.objects.exists()


def test_html_is_served_as_an_attachment_in_a_sandbox(world, client_for):  # type: ignore[no-untyped-def]
    document = upload(world, b"<script>alert(1)</script>", filename="../../piege.html")
    assert document.filename == "piege.html"
    response = client_for("owner_party").get(reverse("documents:download", args=[document.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="piege.html"')
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


def test_upload_form_reports_errors_in_french(world, client_for, settings):  # type: ignore[no-untyped-def]
    settings.DOCUMENT_MAX_BYTES = 5
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client_for("staff").post(
        reverse("dossiers:document_create", args=[world.dossier.pk]),
        {
            "document-file": SimpleUploadedFile("gros.pdf", b"0123456789"),
            "document-kind": "quote",
            "document-title": "",
            "document-audience": "owners",
        },
    )
    assert response.status_code == 400
    assert "taille maximale" in response.content.decode()
    assert not Document.objects.exists()
