"""Dossiers, their timeline, tasks, decisions, notes and documents.

Reads go through the policy's querysets; writes through the dossier services,
as the web's forms do, so that the audit log, the timeline and the
notifications behave the same. A write first finds the dossier as the viewer
sees it (404 otherwise), then asks the policy whether they may change it
(403), and only then reads the ids the body names: someone who may not write
learns nothing from the answer about what exists."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from lanterne.condominiums.models import Company, Condominium, Lot, Person
from lanterne.dossiers import policy, selectors, services
from lanterne.dossiers.choices import (
    DEFAULT_AUDIENCE,
    DossierStatus,
    DossierType,
    EntryKind,
)
from lanterne.dossiers.models import Decision, Dossier, Note, Task, TimelineEntry
from lanterne.mail.publication import timeline_prepare

from ..common import (
    READ_ERRORS,
    WRITE_ERRORS,
    InvalidInput,
    PathId,
    found,
    not_found,
    paginate,
    require,
    require_write,
    responses,
    token_of,
    viewer_of,
)
from ..schemas import (
    MAX_ID,
    DecisionCreateIn,
    DecisionOut,
    DocumentOut,
    DossierCreateIn,
    DossierOut,
    DossierUpdateIn,
    EntryOut,
    NoteCreateIn,
    NoteOut,
    Page,
    PageParams,
    StatusChangeIn,
    TaskCreateIn,
    TaskOut,
    TaskUpdateIn,
)
from ..serializers import (
    decision_out,
    document_out,
    dossier_out,
    entry_out,
    note_out,
    sees_staff_fields,
    task_out,
)

router = Router(tags=["Dossiers"])


class DossierFilters(Schema):
    condominium_id: int | None = Field(None, ge=1, le=MAX_ID)
    status: DossierStatus | None = None
    type: DossierType | None = None
    include_closed: bool = True


class TimelineFilters(Schema):
    kind: list[EntryKind] = Field([], description="Ne garder que ces types d'entrées.")


def _dossiers(viewer: policy.Viewer) -> QuerySet[Dossier]:
    return selectors.dossiers_for_viewer(viewer, include_closed=True).prefetch_related(
        "party_lots", "party_persons", "party_companies"
    )


def _dossier(viewer: policy.Viewer, dossier_id: int) -> Dossier:
    """The dossier as the viewer sees it, or 404 (`selectors.dossier_for_viewer`)."""
    return selectors.dossier_for_viewer(viewer, dossier_id)


def _editable(viewer: policy.Viewer, dossier: Dossier) -> Dossier:
    """The dossier, if the viewer may change it: 403 otherwise, as the web's
    staff forms (the services check again)."""
    require(policy.may_edit_dossier(viewer, dossier))
    return dossier


def _reread(viewer: policy.Viewer, dossier: Dossier) -> DossierOut:
    """The dossier after a write, read again the way a read would serve it."""
    return dossier_out(viewer, _dossier(viewer, dossier.pk))


def _resolve(queryset: QuerySet[Any], ids: Sequence[int], *, loc: str, message: str) -> list[Any]:
    """The objects of `queryset` with these ids, or a 422 naming the field
    when one is not there (unknown, or out of the dossier's reach: one answer
    for both)."""
    wanted = list(dict.fromkeys(ids))
    rows = {row.pk: row for row in queryset.filter(pk__in=wanted)}
    missing = [pk for pk in wanted if pk not in rows]
    if missing:
        raise InvalidInput(["body", loc], message % {"ids": ", ".join(map(str, missing))})
    return [rows[pk] for pk in wanted]


def _parties(
    condominium: Condominium,
    *,
    lot_ids: Sequence[int],
    person_ids: Sequence[int],
    company_ids: Sequence[int],
) -> tuple[list[Lot], list[Person], list[Company]]:
    lots = _resolve(
        Lot.objects.filter(condominium=condominium),
        lot_ids,
        loc="party_lot_ids",
        message=_("Lots inconnus dans cette copropriété : %(ids)s."),
    )
    persons = _resolve(
        Person.objects.filter(agency_id=condominium.agency_id),
        person_ids,
        loc="party_person_ids",
        message=_("Personnes inconnues du cabinet : %(ids)s."),
    )
    companies = _resolve(
        Company.objects.filter(agency_id=condominium.agency_id),
        company_ids,
        loc="party_company_ids",
        message=_("Entreprises inconnues du cabinet : %(ids)s."),
    )
    return lots, persons, companies


def _agency_person(agency_id: int, person_id: int | None, *, loc: str) -> Person | None:
    if person_id is None:
        return None
    person: Person
    (person,) = _resolve(
        Person.objects.filter(agency_id=agency_id),
        [person_id],
        loc=loc,
        message=_("Personne inconnue du cabinet : %(ids)s."),
    )
    return person


# --- Dossiers ---------------------------------------------------------------------------------


@router.get(
    "/dossiers",
    response=responses({200: Page[DossierOut]}, READ_ERRORS),
    summary="Les dossiers",
    description="Les dossiers que le lecteur peut voir, les plus récemment ouverts d'abord.",
)
def dossier_list(
    request: HttpRequest, filters: Query[DossierFilters], page: Query[PageParams]
) -> dict[str, Any]:
    viewer = viewer_of(request)
    dossiers = _dossiers(viewer)
    if filters.condominium_id is not None:
        dossiers = dossiers.filter(condominium_id=filters.condominium_id)
    if filters.status is not None:
        dossiers = dossiers.filter(status=filters.status)
    elif not filters.include_closed:
        dossiers = dossiers.exclude(status=DossierStatus.CLOSED)
    if filters.type is not None:
        dossiers = dossiers.filter(type=filters.type)
    dossiers = dossiers.order_by("-opened_on", "-id")
    return paginate(dossiers, page, lambda rows: (dossier_out(viewer, d) for d in rows))


@router.post(
    "/dossiers",
    response=responses({201: DossierOut}, WRITE_ERRORS),
    summary="Ouvrir un dossier",
    description="Le personnel du cabinet ouvre un dossier dans une de ses copropriétés ; sa "
    "référence DOS-AAAA-NNNN est donnée par Lanterne.",
)
def dossier_create(request: HttpRequest, payload: DossierCreateIn) -> Status[DossierOut]:
    require_write(request)
    viewer = viewer_of(request)
    condominium = policy.condominiums_visible_to(viewer).filter(pk=payload.condominium_id).first()
    if condominium is None:
        raise InvalidInput(["body", "condominium_id"], _("Copropriété inconnue."))
    require(policy.may_manage_dossiers(viewer, condominium.agency_id))
    lots, persons, companies = _parties(
        condominium,
        lot_ids=payload.party_lot_ids,
        person_ids=payload.party_person_ids,
        company_ids=payload.party_company_ids,
    )
    dossier = services.dossier_open(
        viewer=viewer,
        actor=token_of(request).user,
        condominium=condominium,
        title=payload.title,
        type=payload.type,
        audience=payload.audience or DEFAULT_AUDIENCE[payload.type],
        description=payload.description,
        manager=_agency_person(condominium.agency_id, payload.manager_id, loc="manager_id"),
        council_sees_parties=payload.council_sees_parties,
        party_lots=lots,
        party_persons=persons,
        party_companies=companies,
    )
    return Status(201, _reread(viewer, dossier))


@router.get("/dossiers/{dossier_id}", response=responses({200: DossierOut}), summary="Un dossier")
def dossier_detail(request: HttpRequest, dossier_id: PathId) -> DossierOut:
    viewer = viewer_of(request)
    return dossier_out(viewer, _dossier(viewer, dossier_id))


@router.patch(
    "/dossiers/{dossier_id}",
    response=responses({200: DossierOut}, WRITE_ERRORS),
    summary="Modifier un dossier",
    description="Titre, description, visibilité, gestionnaire, parties, publication "
    "automatique des courriels : seuls les champs envoyés changent (journalisé).",
)
def dossier_update(
    request: HttpRequest, dossier_id: PathId, payload: DossierUpdateIn
) -> DossierOut:
    require_write(request)
    viewer = viewer_of(request)
    dossier = _editable(viewer, _dossier(viewer, dossier_id))
    sent = payload.model_fields_set

    def given(name: str, current: Any) -> Any:
        value = getattr(payload, name)
        return current if value is None else value

    lots, persons, companies = _parties(
        dossier.condominium,
        lot_ids=given("party_lot_ids", [lot.pk for lot in dossier.party_lots.all()]),
        person_ids=given("party_person_ids", [p.pk for p in dossier.party_persons.all()]),
        company_ids=given("party_company_ids", [c.pk for c in dossier.party_companies.all()]),
    )
    manager = dossier.manager
    if "manager_id" in sent:
        manager = _agency_person(dossier.agency_id, payload.manager_id, loc="manager_id")
    services.dossier_update(
        viewer=viewer,
        actor=token_of(request).user,
        dossier=dossier,
        title=given("title", dossier.title),
        description=given("description", dossier.description),
        audience=given("audience", dossier.audience),
        manager=manager,
        council_sees_parties=given("council_sees_parties", dossier.council_sees_parties),
        party_lots=lots,
        party_persons=persons,
        party_companies=companies,
        auto_publish_audience=given("auto_publish_audience", dossier.auto_publish_audience),
    )
    return _reread(viewer, dossier)


@router.post(
    "/dossiers/{dossier_id}/status",
    response=responses({200: DossierOut}, WRITE_ERRORS),
    summary="Changer le statut d'un dossier",
    description="Le long du cycle de vie de son type ; le changement entre dans la chronologie.",
)
def dossier_status_change(
    request: HttpRequest, dossier_id: PathId, payload: StatusChangeIn
) -> DossierOut:
    require_write(request)
    viewer = viewer_of(request)
    dossier = _editable(viewer, _dossier(viewer, dossier_id))
    services.dossier_change_status(
        viewer=viewer,
        actor=token_of(request).user,
        dossier=dossier,
        status=payload.status,
        comment=payload.comment,
        audience=payload.audience,
    )
    return _reread(viewer, dossier)


# --- The timeline -----------------------------------------------------------------------------

# Joined beyond what `selectors.entries_with_objects` joins: the mail's dossier.
_ENTRY_JOINED = ("message__dossier",)


def _entries_out(
    viewer: policy.Viewer, dossier: Dossier, entries: Iterable[TimelineEntry]
) -> list[EntryOut]:
    """Entries of one dossier, their mail served as the viewer reads it
    (`timeline_prepare`: masked outside the staff, as on the web)."""
    entries = list(entries)
    staff = sees_staff_fields(viewer, dossier.agency_id)
    timeline_prepare(viewer, dossier, entries, is_staff=staff)
    return [entry_out(entry, staff=staff) for entry in entries]


@router.get(
    "/dossiers/{dossier_id}/timeline",
    response=responses({200: Page[EntryOut]}),
    summary="La chronologie d'un dossier",
    description="Les entrées que le lecteur peut voir, les plus récentes d'abord, avec l'objet "
    "dont chacune parle (note, tâche, décision, changement de statut, document, courriel).",
)
def dossier_timeline(
    request: HttpRequest,
    dossier_id: PathId,
    filters: Query[TimelineFilters],
    page: Query[PageParams],
) -> dict[str, Any]:
    viewer = viewer_of(request)
    dossier = _dossier(viewer, dossier_id)
    entries = selectors.entries_with_objects(
        policy.entries_visible_to(viewer, dossier), joined=_ENTRY_JOINED
    ).order_by("-occurred_at", "-id")
    if filters.kind:
        entries = entries.filter(kind__in=filters.kind)
    return paginate(entries, page, lambda rows: _entries_out(viewer, dossier, rows))


@router.get(
    "/entries/{entry_id}",
    response=responses({200: EntryOut}),
    summary="Une entrée de chronologie",
)
def entry_detail(request: HttpRequest, entry_id: PathId) -> EntryOut:
    viewer = viewer_of(request)
    entry = found(
        selectors.entries_with_objects(
            TimelineEntry.objects.filter(pk=entry_id), joined=("dossier", *_ENTRY_JOINED)
        ).first()
    )
    if not policy.may_see_entry(viewer, entry):
        not_found()
    (served,) = _entries_out(viewer, entry.dossier, [entry])
    return served


def _visible_subjects(
    viewer: policy.Viewer, dossier: Dossier, model: type[Model], kind: EntryKind
) -> QuerySet[Any]:
    """The tasks (decisions, notes) of `dossier` whose timeline entries the
    viewer may see: an object and its entries share their audience
    (`entry_set_audience`), so the entries' policy is the object's."""
    entries = policy.entries_visible_to(viewer, dossier).filter(kind=kind)
    return model._default_manager.filter(pk__in=entries.values(f"{kind}_id"))


def _visible_subject(
    viewer: policy.Viewer, model: type[Model], kind: EntryKind, pk: int, *related: str
) -> Any:
    """One task (decision) if the viewer may see it, else 404."""
    subject: Any = found(
        model._default_manager.select_related("dossier", *related).filter(pk=pk).first()
    )
    dossier = subject.dossier
    if not policy.entries_visible_to(viewer, dossier).filter(**{kind: subject}).exists():
        not_found()
    return subject


# --- Tasks ------------------------------------------------------------------------------------


@router.get(
    "/dossiers/{dossier_id}/tasks",
    response=responses({200: Page[TaskOut]}),
    summary="Les tâches d'un dossier",
    description="Les plus récentes d'abord.",
)
def dossier_tasks(
    request: HttpRequest, dossier_id: PathId, page: Query[PageParams]
) -> dict[str, Any]:
    viewer = viewer_of(request)
    dossier = _dossier(viewer, dossier_id)
    staff = sees_staff_fields(viewer, dossier.agency_id)
    tasks = (
        _visible_subjects(viewer, dossier, Task, EntryKind.TASK)
        .select_related("assignee")
        .order_by("-created_at", "-id")
    )
    return paginate(tasks, page, lambda rows: (task_out(t, staff=staff) for t in rows))


@router.post(
    "/dossiers/{dossier_id}/tasks",
    response=responses({201: TaskOut}, WRITE_ERRORS),
    summary="Ajouter une tâche",
)
def task_create(request: HttpRequest, dossier_id: PathId, payload: TaskCreateIn) -> Status[TaskOut]:
    require_write(request)
    viewer = viewer_of(request)
    dossier = _editable(viewer, _dossier(viewer, dossier_id))
    task = services.task_create(
        viewer=viewer,
        actor=token_of(request).user,
        dossier=dossier,
        title=payload.title,
        description=payload.description,
        due_on=payload.due_on,
        assignee=_agency_person(dossier.agency_id, payload.assignee_id, loc="assignee_id"),
        audience=payload.audience,
    )
    return Status(201, task_out(task, staff=True))


@router.get("/tasks/{task_id}", response=responses({200: TaskOut}), summary="Une tâche")
def task_detail(request: HttpRequest, task_id: PathId) -> TaskOut:
    viewer = viewer_of(request)
    task = _visible_subject(viewer, Task, EntryKind.TASK, task_id, "assignee")
    return task_out(task, staff=sees_staff_fields(viewer, task.dossier.agency_id))


@router.patch(
    "/tasks/{task_id}",
    response=responses({200: TaskOut}, WRITE_ERRORS),
    summary="Terminer une tâche",
    description="`status: done` : la tâche est terminée, ce qui ajoute une entrée à la "
    "chronologie. Terminer une tâche terminée ne change rien.",
)
def task_update(request: HttpRequest, task_id: PathId, payload: TaskUpdateIn) -> TaskOut:
    require_write(request)
    viewer = viewer_of(request)
    task = _visible_subject(viewer, Task, EntryKind.TASK, task_id, "assignee")
    _editable(viewer, task.dossier)
    task = services.task_complete(
        viewer=viewer,
        actor=token_of(request).user,
        task=task,
    )
    return task_out(task, staff=True)


# --- Decisions and notes ------------------------------------------------------------------------


@router.get(
    "/dossiers/{dossier_id}/decisions",
    response=responses({200: Page[DecisionOut]}),
    summary="Les décisions d'un dossier",
    description="Les plus récentes d'abord.",
)
def dossier_decisions(
    request: HttpRequest, dossier_id: PathId, page: Query[PageParams]
) -> dict[str, Any]:
    viewer = viewer_of(request)
    dossier = _dossier(viewer, dossier_id)
    staff = sees_staff_fields(viewer, dossier.agency_id)
    decisions = _visible_subjects(viewer, dossier, Decision, EntryKind.DECISION).order_by(
        "-created_at", "-id"
    )
    return paginate(decisions, page, lambda rows: (decision_out(d, staff=staff) for d in rows))


@router.post(
    "/dossiers/{dossier_id}/decisions",
    response=responses({201: DecisionOut}, WRITE_ERRORS),
    summary="Enregistrer une décision",
    description="Le personnel du cabinet enregistre toute décision ; le président du conseil "
    "syndical, l'avis du conseil (`decided_by: council`).",
)
def decision_create(
    request: HttpRequest, dossier_id: PathId, payload: DecisionCreateIn
) -> Status[DecisionOut]:
    require_write(request)
    viewer = viewer_of(request)
    dossier = _dossier(viewer, dossier_id)
    decision = services.decision_record(
        viewer=viewer,
        actor=token_of(request).user,
        dossier=dossier,
        decided_by=payload.decided_by,
        text=payload.text,
        decided_on=payload.decided_on,
        audience=payload.audience,
    )
    return Status(201, decision_out(decision, staff=sees_staff_fields(viewer, dossier.agency_id)))


@router.get(
    "/decisions/{decision_id}", response=responses({200: DecisionOut}), summary="Une décision"
)
def decision_detail(request: HttpRequest, decision_id: PathId) -> DecisionOut:
    viewer = viewer_of(request)
    decision = _visible_subject(viewer, Decision, EntryKind.DECISION, decision_id)
    return decision_out(decision, staff=sees_staff_fields(viewer, decision.dossier.agency_id))


@router.get(
    "/dossiers/{dossier_id}/notes",
    response=responses({200: Page[NoteOut]}),
    summary="Les notes d'un dossier",
    description="Les plus récentes d'abord.",
)
def dossier_notes(
    request: HttpRequest, dossier_id: PathId, page: Query[PageParams]
) -> dict[str, Any]:
    viewer = viewer_of(request)
    dossier = _dossier(viewer, dossier_id)
    staff = sees_staff_fields(viewer, dossier.agency_id)
    notes = _visible_subjects(viewer, dossier, Note, EntryKind.NOTE).order_by("-created_at", "-id")
    return paginate(notes, page, lambda rows: (note_out(n, staff=staff) for n in rows))


@router.post(
    "/dossiers/{dossier_id}/notes",
    response=responses({201: NoteOut}, WRITE_ERRORS),
    summary="Ajouter une note",
)
def note_create(request: HttpRequest, dossier_id: PathId, payload: NoteCreateIn) -> Status[NoteOut]:
    require_write(request)
    viewer = viewer_of(request)
    dossier = _editable(viewer, _dossier(viewer, dossier_id))
    note = services.note_add(
        viewer=viewer,
        actor=token_of(request).user,
        dossier=dossier,
        text=payload.text,
        audience=payload.audience,
    )
    return Status(201, note_out(note, staff=True))


# --- Documents of a dossier ---------------------------------------------------------------------


@router.get(
    "/dossiers/{dossier_id}/documents",
    response=responses({200: Page[DocumentOut]}),
    summary="Les documents d'un dossier",
    description="Les plus récents d'abord ; chacun se télécharge à son `download_url`.",
)
def dossier_documents(
    request: HttpRequest, dossier_id: PathId, page: Query[PageParams]
) -> dict[str, Any]:
    viewer = viewer_of(request)
    dossier = _dossier(viewer, dossier_id)
    staff = sees_staff_fields(viewer, dossier.agency_id)
    documents = policy.documents_visible_to(viewer, dossier).order_by("-uploaded_at", "-id")
    return paginate(documents, page, lambda rows: (document_out(d, staff=staff) for d in rows))
