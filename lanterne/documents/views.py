"""Document downloads: always through the access policy, always as attachments."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest
from django.shortcuts import get_object_or_404

from lanterne.dossiers import policy

from .models import Document


@login_required
def document_download(request: HttpRequest, document_id: int) -> FileResponse:
    """Serve a document the viewer may see, as an attachment (never rendered inline,
    so an uploaded HTML or SVG file cannot run in Lanterne's origin)."""
    document = get_object_or_404(
        Document.objects.select_related("dossier", "condominium"), pk=document_id
    )
    if not policy.may_see_document(policy.viewer_of(request), document):
        raise Http404
    try:
        handle = document.file.open("rb")
    except FileNotFoundError as missing:
        raise Http404 from missing
    response = FileResponse(
        handle, as_attachment=True, filename=document.filename, content_type=document.content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
