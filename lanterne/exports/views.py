"""Downloading a dossier's export: what the requester may see of it, as a
PDF of its timeline or as a ZIP with the PDF, its mails and its files.

404 for a dossier the requester may not see (`dossier_for_viewer`), as its
page answers. Both are served as attachments, never cached, and written in
the audit log."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_safe

from lanterne.dossiers import policy

from . import selectors, services


def _requester(request: HttpRequest) -> str:
    user = request.user
    return str(getattr(user, "full_name", "") or getattr(user, "email", ""))


def _private(response: HttpResponseBase) -> HttpResponseBase:
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_safe
def dossier_pdf(request: HttpRequest, dossier_id: int) -> HttpResponseBase:
    export = selectors.dossier_export_for_viewer(
        policy.viewer_of(request), dossier_id, requested_by=_requester(request)
    )
    pdf = services.dossier_pdf_export(export=export, actor=request.user)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(
        True, services.export_filename(export, ".pdf")
    )
    return _private(response)


@login_required
@require_safe
def dossier_zip(request: HttpRequest, dossier_id: int) -> HttpResponseBase:
    """The ZIP, written to a temporary file first (never whole in memory)
    and streamed from it; the file disappears once the response is sent."""
    export = selectors.dossier_export_for_viewer(
        policy.viewer_of(request), dossier_id, requested_by=_requester(request)
    )
    handle = services.dossier_zip_export(export=export, actor=request.user)
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=services.export_filename(export, ".zip"),
        content_type="application/zip",
    )
    return _private(response)
