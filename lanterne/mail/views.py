"""Staff pages of the mail pipeline: the quarantine, and the IMAP mailboxes
the agency's mail is read from."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from lanterne.condominiums.models import Agency
from lanterne.core.htmx import render_page
from lanterne.dossiers import policy

from .choices import RawState, SourceKind
from .forms import ImapSourceForm
from .models import MailSource, RawMessage
from .selectors import quarantine_for
from .services import raw_message_process
from .sources.imap import imap_connection_check, imap_source_save, imap_sources_for
from .storage import blob_open


def _staff_raw(request: HttpRequest, raw_id: int) -> RawMessage:
    viewer = policy.viewer_of(request)
    raw = get_object_or_404(RawMessage, pk=raw_id)
    if not viewer.is_staff_of(raw.agency_id):
        raise Http404
    return raw


@login_required
def quarantine(request: HttpRequest) -> HttpResponse:
    """Every message that could not be processed or was refused, with its error."""
    viewer = policy.viewer_of(request)
    if not viewer.is_staff_anywhere:
        raise PermissionDenied
    return render(request, "mail/quarantine.html", {"raws": quarantine_for(viewer)[:500]})


@login_required
@require_POST
def reprocess(request: HttpRequest, raw_id: int) -> HttpResponse:
    raw = _staff_raw(request, raw_id)
    raw_message_process(raw)
    if raw.state in (RawState.PARSED, RawState.DUPLICATE):
        messages.success(request, _("Le message a été traité."))
    else:
        messages.error(
            request, _("Le message est toujours en erreur : %(error)s") % {"error": raw.error}
        )
    return redirect("mail:quarantine")


@login_required
def raw_download(request: HttpRequest, raw_id: int) -> FileResponse:
    """The exact stored bytes, for staff to inspect a quarantined message."""
    raw = _staff_raw(request, raw_id)
    if not raw.storage_name:
        raise Http404
    extension = "msg" if raw.format == "msg" else "eml"
    response = FileResponse(
        blob_open(raw.storage_name),
        as_attachment=True,
        filename=f"{raw.sha256[:16]}.{extension}",
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- IMAP sources --------------------------------------------------------------------


def _staff_imap_source(request: HttpRequest, source_id: int) -> MailSource:
    """An IMAP source of one of the viewer's agencies; 404 for anyone else."""
    viewer = policy.viewer_of(request)
    source = get_object_or_404(
        MailSource.objects.select_related("agency"), pk=source_id, kind=SourceKind.IMAP
    )
    if not viewer.is_staff_of(source.agency_id):
        raise Http404
    return source


@login_required
def sources(request: HttpRequest) -> HttpResponse:
    """The IMAP mailboxes of the viewer's agencies, with how their last check went."""
    viewer = policy.viewer_of(request)
    if not viewer.is_staff_anywhere:
        raise PermissionDenied
    context = {
        "sources": imap_sources_for(viewer),
        "sources_span_agencies": len(viewer.staff_agency_ids) > 1,
    }
    return render(request, "mail/sources.html", context)


@login_required
def source_create(request: HttpRequest) -> HttpResponse:
    viewer = policy.viewer_of(request)
    agencies = list(Agency.objects.filter(pk__in=viewer.staff_agency_ids).order_by("name"))
    if not agencies:
        raise PermissionDenied
    form = ImapSourceForm(request.POST or None, agencies=agencies)
    if request.method == "POST" and form.is_valid():
        source = imap_source_save(viewer=viewer, **form.save_arguments())
        messages.success(
            request,
            _("La boîte « %(name)s » est enregistrée : testez la connexion.") % {"name": source},
        )
        return redirect("mail:source_edit", source.pk)
    return render(request, "mail/source_form.html", {"form": form, "source": None})


@login_required
def source_edit(request: HttpRequest, source_id: int) -> HttpResponse:
    source = _staff_imap_source(request, source_id)
    form = ImapSourceForm(request.POST or None, agencies=[source.agency], source=source)
    if request.method == "POST" and form.is_valid():
        imap_source_save(viewer=policy.viewer_of(request), **form.save_arguments())
        messages.success(request, _("Les réglages de la boîte sont enregistrés."))
        return redirect("mail:source_edit", source.pk)
    return render(request, "mail/source_form.html", {"form": form, "source": source})


@login_required
@require_POST
def source_test(request: HttpRequest, source_id: int) -> HttpResponse:
    """Log in with the saved settings and list the folders, or say in French
    what went wrong. Nothing is read or recorded."""
    source = _staff_imap_source(request, source_id)
    check = imap_connection_check(source)
    return render_page(
        request,
        "mail/source_test.html",
        {"source": source, "check": check},
        partial="mail/source_test_result.html",
    )
