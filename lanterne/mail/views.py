"""Staff pages of the mail pipeline: the quarantine, the IMAP mailboxes
the agency's mail is read from, and the rules that file it."""

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
from .filing import (
    PREVIEW_SCAN,
    mail_rule_delete,
    mail_rule_next_position,
    mail_rule_save,
    mail_rule_set_active,
    rule_preview,
)
from .forms import ImapSourceForm, MailRuleForm
from .models import MailRule, MailSource, RawMessage
from .selectors import quarantine_for
from .services import raw_message_ingest
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
    raw_message_ingest(raw)
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


# --- Filing rules ----------------------------------------------------------------------

RULE_PREVIEW_LIMIT = 50


def _rules_viewer(request: HttpRequest) -> policy.Viewer:
    """Rules are for staff: anyone else is refused outright (403)."""
    viewer = policy.viewer_of(request)
    if not viewer.is_staff_anywhere:
        raise PermissionDenied
    return viewer


def _rule_agency(request: HttpRequest) -> tuple[policy.Viewer, Agency]:
    """The agency a new rule is written for: the one asked for (`?cabinet=`)
    among the viewer's, else their first."""
    viewer = _rules_viewer(request)
    agency_id = min(viewer.staff_agency_ids)
    asked = request.GET.get("cabinet", "")
    if asked.isdigit() and int(asked) in viewer.staff_agency_ids:
        agency_id = int(asked)
    return viewer, get_object_or_404(Agency, pk=agency_id)


def _staff_rule(request: HttpRequest, rule_id: int) -> tuple[policy.Viewer, MailRule]:
    """A rule of one of the viewer's agencies; 404 for staff of another agency
    (its existence is not revealed)."""
    viewer = _rules_viewer(request)
    rule = get_object_or_404(
        MailRule.objects.select_related("agency", "dossier", "condominium"), pk=rule_id
    )
    if not policy.may_manage_dossiers(viewer, rule.agency_id):
        raise Http404
    return viewer, rule


def _rule_form_context(form: MailRuleForm, rule: MailRule | None) -> dict[str, object]:
    preview_rule = form.preview_rule()
    return {
        "form": form,
        "rule": rule,
        "agency": form.agency,
        "has_condition": preview_rule.has_condition,
        "preview": rule_preview(preview_rule, limit=RULE_PREVIEW_LIMIT),
        "scan": PREVIEW_SCAN,
        "limit": RULE_PREVIEW_LIMIT,
    }


@login_required
def rules(request: HttpRequest) -> HttpResponse:
    """The filing rules of the viewer's agencies, in the order they are tried."""
    viewer = _rules_viewer(request)
    context = {
        "rules": MailRule.objects.filter(agency_id__in=viewer.staff_agency_ids)
        .select_related("agency", "dossier", "condominium")
        .order_by("agency__name", "position", "id"),
        "rules_span_agencies": len(viewer.staff_agency_ids) > 1,
    }
    return render(request, "mail/rules.html", context)


@login_required
def rule_create(request: HttpRequest) -> HttpResponse:
    viewer, agency = _rule_agency(request)
    form = MailRuleForm(
        request.POST or None,
        agency=agency,
        initial={"position": mail_rule_next_position(agency_id=agency.pk)},
    )
    if request.method == "POST" and form.is_valid():
        rule = mail_rule_save(viewer=viewer, actor=request.user, rule=form.save(commit=False))
        messages.success(request, _("La règle « %(name)s » est enregistrée.") % {"name": rule})
        return redirect("mail:rules")
    return render(request, "mail/rule_form.html", _rule_form_context(form, None))


@login_required
def rule_edit(request: HttpRequest, rule_id: int) -> HttpResponse:
    viewer, rule = _staff_rule(request, rule_id)
    form = MailRuleForm(request.POST or None, agency=rule.agency, instance=rule)
    if request.method == "POST" and form.is_valid():
        mail_rule_save(viewer=viewer, actor=request.user, rule=form.save(commit=False))
        messages.success(request, _("La règle « %(name)s » est enregistrée.") % {"name": rule})
        return redirect("mail:rules")
    return render(request, "mail/rule_form.html", _rule_form_context(form, rule))


@login_required
@require_POST
def rule_create_preview(request: HttpRequest) -> HttpResponse:
    """The recent mail the conditions typed so far would match: the partial
    for htmx (live, as staff type), the whole form otherwise. Saves nothing."""
    _viewer, agency = _rule_agency(request)
    form = MailRuleForm(request.POST, agency=agency)
    return render_page(
        request,
        "mail/rule_form.html",
        _rule_form_context(form, None),
        partial="mail/rule_preview.html",
    )


@login_required
@require_POST
def rule_edit_preview(request: HttpRequest, rule_id: int) -> HttpResponse:
    """`rule_create_preview` for a rule being changed. Saves nothing."""
    _viewer, rule = _staff_rule(request, rule_id)
    form = MailRuleForm(request.POST, agency=rule.agency, instance=rule)
    return render_page(
        request,
        "mail/rule_form.html",
        _rule_form_context(form, rule),
        partial="mail/rule_preview.html",
    )


@login_required
@require_POST
def rule_toggle(request: HttpRequest, rule_id: int) -> HttpResponse:
    """Turn a rule off (kept for later), or back on."""
    viewer, rule = _staff_rule(request, rule_id)
    mail_rule_set_active(viewer=viewer, actor=request.user, rule=rule, is_active=not rule.is_active)
    if rule.is_active:
        messages.success(request, _("La règle « %(name)s » est activée.") % {"name": rule})
    else:
        messages.success(request, _("La règle « %(name)s » est désactivée.") % {"name": rule})
    return redirect("mail:rules")


@login_required
def rule_delete(request: HttpRequest, rule_id: int) -> HttpResponse:
    """Ask, then delete. What the rule filed stays filed."""
    viewer, rule = _staff_rule(request, rule_id)
    if request.method == "POST":
        name = rule.name
        mail_rule_delete(viewer=viewer, actor=request.user, rule=rule)
        messages.success(request, _("La règle « %(name)s » est supprimée.") % {"name": name})
        return redirect("mail:rules")
    return render(request, "mail/rule_delete.html", {"rule": rule})
