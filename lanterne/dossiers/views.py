"""Dossier pages: the home page, the dossier and its timeline, and staff's forms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from lanterne.condominiums.models import Condominium
from lanterne.core.addresses import address
from lanterne.core.htmx import render_page
from lanterne.core.jinja import TIMELINE_ENGINE
from lanterne.documents.services import document_upload
from lanterne.mail.publication import timeline_prepare

from . import policy, selectors, services
from .choices import (
    DEFAULT_AUDIENCE,
    DecisionBody,
    DossierStatus,
    DossierType,
    EntryKind,
    allowed_transitions,
    audience_choices,
)
from .forms import (
    CouncilOpinionForm,
    DecisionForm,
    DocumentForm,
    DossierForm,
    EntryAudienceForm,
    NoteForm,
    StatusForm,
    TaskForm,
)
from .models import Dossier, Task, TimelineEntry

# The home page lists at most this many of the person's own dossiers (the
# others of their buildings come page by page below).
HOME_MY_DOSSIERS = 50


def _error_messages(error: ValidationError) -> list[str]:
    return [str(m) for m in error.messages]


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The person's condominiums and dossiers: their own first, then the building's."""
    viewer = policy.viewer_of(request)
    after = request.GET.get("apres") or None
    condominiums = list(policy.condominiums_visible_to(viewer).order_by("name"))
    mine = selectors.my_dossier_ids(viewer)
    dossiers = selectors.dossiers_for_viewer(viewer)
    # The person's own dossiers come first, on the first page; the others
    # page by page (an agency has thousands).
    my_dossiers = (
        list(dossiers.filter(pk__in=mine)[:HOME_MY_DOSSIERS]) if mine and not after else []
    )
    page = selectors.dossier_page(dossiers.exclude(pk__in=mine) if mine else dossiers, after=after)
    return render(
        request,
        "dossiers/home.html",
        {
            "condominiums": condominiums,
            "my_dossiers": my_dossiers,
            "other_dossiers": page.dossiers,
            "next_cursor": page.next_cursor,
            "is_next_page": bool(after),
            "is_staff": viewer.is_staff_anywhere,
        },
    )


@login_required
def condominium_detail(request: HttpRequest, condominium_id: int) -> HttpResponse:
    viewer = policy.viewer_of(request)
    condominium = get_object_or_404(Condominium, pk=condominium_id)
    if not policy.may_see_condominium(viewer, condominium):
        raise Http404
    status = request.GET.get("statut") or None
    dossier_type = request.GET.get("type") or None
    include_closed = request.GET.get("clos") == "1"
    dossiers = selectors.dossiers_for_viewer(
        viewer,
        condominium=condominium,
        include_closed=include_closed or status == DossierStatus.CLOSED,
        status=status if status in DossierStatus.values else None,
        type=dossier_type if dossier_type in DossierType.values else None,
    )
    page = selectors.dossier_page(dossiers, after=request.GET.get("apres") or None)
    filters = {
        key: value
        for key, value in (
            ("type", dossier_type),
            ("statut", status),
            ("clos", "1" if include_closed else ""),
        )
        if value
    }
    return render(
        request,
        "dossiers/condominium.html",
        {
            "condominium": condominium,
            "dossiers": page.dossiers,
            "next_query": urlencode({**filters, "apres": page.next_cursor})
            if page.next_cursor
            else "",
            "types": DossierType.choices,
            "statuses": DossierStatus.choices,
            "selected_status": status,
            "selected_type": dossier_type,
            "include_closed": include_closed,
            "is_staff": viewer.is_staff_of(condominium.agency_id),
            "lot_count": condominium.lots.count(),
        },
    )


def _kinds_filter(request: HttpRequest) -> list[str]:
    return [k for k in request.GET.getlist("type") if k in EntryKind.values]


@login_required
def dossier_detail(request: HttpRequest, dossier_id: int) -> HttpResponse:
    viewer = policy.viewer_of(request)
    # The older entries alone (htmx) show no parties.
    more = bool(getattr(request, "htmx", False))
    dossier = selectors.dossier_for_viewer(viewer, dossier_id, parties=not more)
    kinds = _kinds_filter(request)
    page = selectors.timeline_page(viewer, dossier, after=request.GET.get("apres"), kinds=kinds)
    is_staff = policy.may_edit_dossier(viewer, dossier)
    context: dict[str, Any] = {
        "dossier": dossier,
        "page": page,
        "kinds": EntryKind.choices,
        "selected_kinds": kinds,
        "kind_query": "".join(f"&type={k}" for k in kinds),
        "is_staff": is_staff,
        "may_record_council_opinion": policy.may_record_council_opinion(viewer, dossier)
        and not is_staff,
    }
    if more:
        # The older entries, asked for by the timeline's « more » link.
        if is_staff:
            context["entry_audience_choices"] = audience_choices()
        return HttpResponse(_timeline_html(request, viewer, context))
    if is_staff:
        context.update(_staff_forms(dossier))
    elif context["may_record_council_opinion"]:
        context["council_form"] = CouncilOpinionForm(prefix="council")
    return _dossier_page(request, viewer, context)


def _timeline_html(request: HttpRequest, viewer: policy.Viewer, context: dict[str, Any]) -> str:
    """A page of the dossier's timeline (`context["page"]`), rendered by the
    Jinja2 engine (lanterne/core/jinja.py says why)."""
    timeline_prepare(
        viewer, context["dossier"], context["page"].entries, is_staff=context["is_staff"]
    )
    return render_to_string(
        "dossiers/partials/timeline_page.html", context, request, using=TIMELINE_ENGINE
    )


def _dossier_page(
    request: HttpRequest, viewer: policy.Viewer, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    """The dossier's page around its timeline's first page."""
    timeline = mark_safe(_timeline_html(request, viewer, context))  # noqa: S308 (rendered, escaped)
    return render(
        request, "dossiers/dossier.html", {**context, "timeline": timeline}, status=status
    )


@dataclass(frozen=True)
class StaffAction:
    """One of staff's forms on a dossier page, in a folded panel. Its form
    is loaded when the panel opens (htmx), or, without JavaScript, on a page
    of its own (the panel links to it): a page that renders five forms on
    every visit spends a fifth of its time on them."""

    name: str
    summary: Any
    button: Any
    url_name: str
    multipart: bool = False


STAFF_ACTIONS = (
    StaffAction(
        "note", gettext_lazy("Une note"), gettext_lazy("Ajouter la note"), "dossiers:note_create"
    ),
    StaffAction(
        "task", gettext_lazy("Une tâche"), gettext_lazy("Ajouter la tâche"), "dossiers:task_create"
    ),
    StaffAction(
        "decision",
        gettext_lazy("Une décision"),
        gettext_lazy("Enregistrer la décision"),
        "dossiers:decision_create",
    ),
    StaffAction(
        "document",
        gettext_lazy("Un document"),
        gettext_lazy("Envoyer le document"),
        "dossiers:document_create",
        multipart=True,
    ),
    StaffAction(
        "status",
        gettext_lazy("Changer le statut"),
        gettext_lazy("Changer le statut"),
        "dossiers:status_change",
    ),
)
_ACTIONS_BY_NAME = {action.name: action for action in STAFF_ACTIONS}


def _staff_form(dossier: Dossier, name: str) -> Any:
    """The empty form of the staff action `name` on `dossier`."""
    audience = {"audience": dossier.audience}
    if name == "note":
        return NoteForm(prefix="note", initial=audience)
    if name == "task":
        return TaskForm(prefix="task", initial=audience, agency_id=dossier.agency_id)
    if name == "decision":
        return DecisionForm(
            prefix="decision",
            initial={
                **audience,
                "decided_on": timezone.localdate(),
                "decided_by": DecisionBody.MANAGER,
            },
        )
    if name == "document":
        return DocumentForm(prefix="document", initial=audience)
    return StatusForm(prefix="status", choices=_status_choices(dossier))


def _action(dossier: Dossier, action: StaffAction, form: Any = None) -> dict[str, Any]:
    return {
        "name": action.name,
        "summary": action.summary,
        "button": action.button,
        "multipart": action.multipart,
        "url": address(action.url_name, dossier.pk),
        "form": form,
    }


def _staff_forms(dossier: Dossier, **bound: Any) -> dict[str, Any]:
    """The staff's panels of the page: each form left to load when its panel
    opens, but a form given in `bound` (`note_form=…`: sent with errors),
    shown open."""
    return {
        "actions": [
            _action(dossier, action, bound.get(f"{action.name}_form")) for action in STAFF_ACTIONS
        ],
        "entry_audience_choices": audience_choices(),
    }


def _action_form(request: HttpRequest, dossier: Dossier, name: str) -> HttpResponse:
    """The empty form of a staff action: alone for the panel that asked
    (htmx), or on its own page."""
    context = {
        "dossier": dossier,
        "action": _action(dossier, _ACTIONS_BY_NAME[name], _staff_form(dossier, name)),
    }
    return render_page(
        request, "dossiers/action_form.html", context, partial="dossiers/partials/action_form.html"
    )


def _status_choices(dossier: Dossier) -> list[tuple[str, str]]:
    before_closing = None
    if dossier.status == DossierStatus.CLOSED:
        last = (
            dossier.status_changes.filter(to_status=DossierStatus.CLOSED)
            .order_by("-changed_at", "-id")
            .first()
        )
        before_closing = last.from_status if last else None
    return [
        (value, str(DossierStatus(value).label))
        for value in allowed_transitions(
            dossier.type, dossier.status, status_before_closing=before_closing
        )
    ]


def _staff_dossier(request: HttpRequest, dossier_id: int) -> tuple[policy.Viewer, Dossier]:
    viewer = policy.viewer_of(request)
    dossier = selectors.dossier_for_viewer(viewer, dossier_id, parties=False)
    if not policy.may_edit_dossier(viewer, dossier):
        raise PermissionDenied
    return viewer, dossier


def _rerender_with_errors(
    request: HttpRequest, dossier: Dossier, viewer: policy.Viewer, **bound: Any
) -> HttpResponse:
    dossier = selectors.dossier_for_viewer(viewer, dossier.pk)  # with its parties, shown
    page = selectors.timeline_page(viewer, dossier)
    context = {
        "dossier": dossier,
        "page": page,
        "kinds": EntryKind.choices,
        "selected_kinds": [],
        "kind_query": "",
        "is_staff": True,
        "may_record_council_opinion": False,
    }
    context.update(_staff_forms(dossier, **bound))
    messages.error(request, _("Le formulaire contient des erreurs : rien n'a été enregistré."))
    return _dossier_page(request, viewer, context, status=400)


@login_required
@require_http_methods(["GET", "POST"])
def note_create(request: HttpRequest, dossier_id: int) -> HttpResponse:
    viewer, dossier = _staff_dossier(request, dossier_id)
    if request.method == "GET":
        return _action_form(request, dossier, "note")
    form = NoteForm(request.POST, prefix="note")
    if not form.is_valid():
        return _rerender_with_errors(request, dossier, viewer, note_form=form)
    services.note_add(viewer=viewer, actor=request.user, dossier=dossier, **form.cleaned_data)
    messages.success(request, _("Note ajoutée."))
    return redirect("dossiers:detail", dossier.pk)


@login_required
@require_http_methods(["GET", "POST"])
def task_create(request: HttpRequest, dossier_id: int) -> HttpResponse:
    viewer, dossier = _staff_dossier(request, dossier_id)
    if request.method == "GET":
        return _action_form(request, dossier, "task")
    form = TaskForm(request.POST, prefix="task", agency_id=dossier.agency_id)
    if not form.is_valid():
        return _rerender_with_errors(request, dossier, viewer, task_form=form)
    services.task_create(viewer=viewer, actor=request.user, dossier=dossier, **form.cleaned_data)
    messages.success(request, _("Tâche ajoutée."))
    return redirect("dossiers:detail", dossier.pk)


@login_required
@require_POST
def task_complete(request: HttpRequest, task_id: int) -> HttpResponse:
    task = get_object_or_404(Task.objects.select_related("dossier"), pk=task_id)
    viewer, dossier = _staff_dossier(request, task.dossier_id)
    services.task_complete(viewer=viewer, actor=request.user, task=task)
    messages.success(request, _("Tâche terminée."))
    return redirect("dossiers:detail", dossier.pk)


@login_required
@require_http_methods(["GET", "POST"])
def decision_create(request: HttpRequest, dossier_id: int) -> HttpResponse:
    viewer, dossier = _staff_dossier(request, dossier_id)
    if request.method == "GET":
        return _action_form(request, dossier, "decision")
    form = DecisionForm(request.POST, prefix="decision")
    if not form.is_valid():
        return _rerender_with_errors(request, dossier, viewer, decision_form=form)
    services.decision_record(
        viewer=viewer, actor=request.user, dossier=dossier, **form.cleaned_data
    )
    messages.success(request, _("Décision enregistrée."))
    return redirect("dossiers:detail", dossier.pk)


@login_required
@require_POST
def council_opinion_create(request: HttpRequest, dossier_id: int) -> HttpResponse:
    viewer = policy.viewer_of(request)
    dossier = selectors.dossier_for_viewer(viewer, dossier_id)
    if not policy.may_record_council_opinion(viewer, dossier):
        raise PermissionDenied
    form = CouncilOpinionForm(request.POST, prefix="council")
    if not form.is_valid():
        messages.error(request, _("L'avis ne peut pas être vide."))
        return redirect("dossiers:detail", dossier.pk)
    services.decision_record(
        viewer=viewer,
        actor=request.user,
        dossier=dossier,
        decided_by=DecisionBody.COUNCIL,
        text=form.cleaned_data["text"],
        audience=form.cleaned_data["audience"],
    )
    messages.success(request, _("Avis du conseil syndical enregistré."))
    return redirect("dossiers:detail", dossier.pk)


@login_required
@require_http_methods(["GET", "POST"])
def status_change(request: HttpRequest, dossier_id: int) -> HttpResponse:
    viewer, dossier = _staff_dossier(request, dossier_id)
    if request.method == "GET":
        return _action_form(request, dossier, "status")
    form = StatusForm(request.POST, prefix="status", choices=_status_choices(dossier))
    if not form.is_valid():
        return _rerender_with_errors(request, dossier, viewer, status_form=form)
    try:
        services.dossier_change_status(
            viewer=viewer,
            actor=request.user,
            dossier=dossier,
            status=form.cleaned_data["status"],
            comment=form.cleaned_data["comment"],
        )
    except ValidationError as error:
        for message in _error_messages(error):
            messages.error(request, message)
        return redirect("dossiers:detail", dossier.pk)
    messages.success(request, _("Statut mis à jour."))
    return redirect("dossiers:detail", dossier.pk)


@login_required
@require_http_methods(["GET", "POST"])
def document_create(request: HttpRequest, dossier_id: int) -> HttpResponse:
    viewer, dossier = _staff_dossier(request, dossier_id)
    if request.method == "GET":
        return _action_form(request, dossier, "document")
    form = DocumentForm(request.POST, request.FILES, prefix="document")
    if not form.is_valid():
        return _rerender_with_errors(request, dossier, viewer, document_form=form)
    upload = form.cleaned_data["file"]
    try:
        document_upload(
            viewer=viewer,
            actor=request.user,
            condominium=dossier.condominium,
            dossier=dossier,
            file=upload,
            filename=upload.name,
            kind=form.cleaned_data["kind"],
            title=form.cleaned_data["title"],
            audience=form.cleaned_data["audience"],
        )
    except ValidationError as error:
        for message in _error_messages(error):
            form.add_error("file", message)
        return _rerender_with_errors(request, dossier, viewer, document_form=form)
    messages.success(request, _("Document ajouté."))
    return redirect("dossiers:detail", dossier.pk)


def entry_response(
    request: HttpRequest,
    viewer: policy.Viewer,
    entry: TimelineEntry,
    dossier: Dossier,
    *,
    flash: str,
) -> HttpResponse:
    """One entry of `dossier`'s timeline re-rendered for staff after an
    action on it (htmx swaps it in), `flash` beside its controls."""
    timeline_prepare(viewer, dossier, [entry], is_staff=True)
    context = {
        "entry": entry,
        "dossier": dossier,
        "is_staff": True,
        "flash": flash,
        "entry_audience_choices": audience_choices(),
    }
    return render(request, "dossiers/partials/entry.html", context, using=TIMELINE_ENGINE)


@login_required
@require_POST
def entry_audience(request: HttpRequest, entry_id: int) -> HttpResponse:
    entry = get_object_or_404(
        selectors.entries_with_objects(TimelineEntry.objects.all(), joined=("dossier",)),
        pk=entry_id,
    )
    viewer, dossier = _staff_dossier(request, entry.dossier_id)
    form = EntryAudienceForm(request.POST)
    if form.is_valid():
        services.entry_set_audience(
            viewer=viewer, actor=request.user, entry=entry, audience=form.cleaned_data["audience"]
        )
        message = _("Visibilité mise à jour.")
    else:
        message = _("Visibilité inconnue.")
    if getattr(request, "htmx", False):
        return entry_response(request, viewer, entry, dossier, flash=message)
    messages.info(request, message)
    return redirect("dossiers:detail", dossier.pk)


@login_required
def dossier_create(request: HttpRequest) -> HttpResponse:
    viewer = policy.viewer_of(request)
    if not viewer.staff_agency_ids:
        raise PermissionDenied
    agency_id = min(viewer.staff_agency_ids)
    initial = {}
    if "copropriete" in request.GET:
        initial["condominium"] = request.GET["copropriete"]
    form = DossierForm(request.POST or None, agency_id=agency_id, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            dossier = services.dossier_open(
                viewer=viewer,
                actor=request.user,
                condominium=data["condominium"],
                title=data["title"],
                type=data["type"],
                audience=data["audience"] or DEFAULT_AUDIENCE[data["type"]],
                description=data["description"],
                manager=data["manager"],
                council_sees_parties=data["council_sees_parties"],
                party_lots=data["party_lots"],
                party_persons=data["party_persons"],
                party_companies=data["party_companies"],
            )
        except ValidationError as error:
            for message in _error_messages(error):
                form.add_error(None, message)
        else:
            messages.success(
                request, _("Dossier %(reference)s créé.") % {"reference": dossier.reference}
            )
            return redirect("dossiers:detail", dossier.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "dossiers/dossier_form.html", {"form": form, "dossier": None}, status=status
    )


@login_required
def dossier_edit(request: HttpRequest, dossier_id: int) -> HttpResponse:
    viewer, dossier = _staff_dossier(request, dossier_id)
    initial = {
        "title": dossier.title,
        "description": dossier.description,
        "audience": dossier.audience,
        "manager": dossier.manager,
        "council_sees_parties": dossier.council_sees_parties,
        "auto_publish_audience": dossier.auto_publish_audience,
        "party_lots": list(dossier.party_lots.all()),
        "party_persons": list(dossier.party_persons.all()),
        "party_companies": list(dossier.party_companies.all()),
    }
    form = DossierForm(
        request.POST or None, agency_id=dossier.agency_id, dossier=dossier, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.dossier_update(viewer=viewer, actor=request.user, dossier=dossier, **data)
        except ValidationError as error:
            for message in _error_messages(error):
                form.add_error(None, message)
        else:
            messages.success(request, _("Dossier mis à jour."))
            return redirect("dossiers:detail", dossier.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "dossiers/dossier_form.html", {"form": form, "dossier": dossier}, status=status
    )
