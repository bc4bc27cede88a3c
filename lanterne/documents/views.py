"""Document downloads (always through the access policy, always as attachments),
and the condominium's document space: what co-owners and the council consult,
the checklist and the upload form for staff."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from lanterne.dossiers import policy

from . import selectors
from .checklist import SPACE_ORDER, checklist_summary, spaces_for_kind
from .choices import DocumentKind, DocumentSpace
from .forms import CondominiumDocumentForm
from .models import Document
from .services import condominium_document_upload


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


@login_required
def condominium_space(request: HttpRequest, condominium_id: int) -> HttpResponse:
    """The condominium's documents the viewer may see, by space and category."""
    page = selectors.document_space_for_viewer(policy.viewer_of(request), condominium_id)
    return render(request, "documents/space.html", {"page": page, "condominium": page.condominium})


@login_required
def condominium_checklist(request: HttpRequest, condominium_id: int) -> HttpResponse:
    """Staff: the documents the law requires online, present, out of date or missing."""
    condominium, items = selectors.checklist_for_viewer(policy.viewer_of(request), condominium_id)
    spaces = [
        (space, [item for item in items if item.requirement.space == space])
        for space in SPACE_ORDER
    ]
    return render(
        request,
        "documents/checklist.html",
        {"condominium": condominium, "spaces": spaces, "summary": checklist_summary(items)},
    )


def _initial(request: HttpRequest) -> dict[str, str]:
    """The space and kind the checklist's « Déposer » links ask for."""
    initial: dict[str, str] = {}
    kind = request.GET.get("type", "")
    if kind in DocumentKind.values:
        initial["kind"] = kind
        initial["space"] = spaces_for_kind(kind)[0]
    space = request.GET.get("espace", "")
    if space in DocumentSpace.values:
        initial["space"] = space
    return initial


@login_required
def condominium_document_create(request: HttpRequest, condominium_id: int) -> HttpResponse:
    """Staff file a document in one space of the condominium."""
    viewer = policy.viewer_of(request)
    condominium = selectors.staff_condominium(viewer, condominium_id)
    form = CondominiumDocumentForm(
        request.POST or None,
        request.FILES or None,
        condominium=condominium,
        initial=_initial(request),
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                document = condominium_document_upload(
                    viewer=viewer,
                    actor=request.user,
                    condominium=condominium,
                    space=form.cleaned_data["space"],
                    lot=form.cleaned_data["lot"],
                    file=upload,
                    filename=upload.name,
                    kind=form.cleaned_data["kind"],
                    title=form.cleaned_data["title"],
                    document_date=form.cleaned_data["document_date"],
                    valid_until=form.cleaned_data["valid_until"],
                )
            except ValidationError as error:
                for message in error.messages:
                    form.add_error(None, message)
            else:
                messages.success(
                    request, _("Document « %(title)s » déposé.") % {"title": document.title}
                )
                return redirect("documents:checklist", condominium.pk)
    return render(
        request,
        "documents/document_form.html",
        {"condominium": condominium, "form": form},
        status=status,
    )
