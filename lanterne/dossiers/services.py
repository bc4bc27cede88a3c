"""Writes on dossiers and their timeline. Each service checks its input, writes
in one transaction, appends the timeline entry and records the audit log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from lanterne.audit.models import AuditAction
from lanterne.audit.services import audit_record
from lanterne.condominiums.models import Company, Condominium, Lot, Person

from .choices import (
    Audience,
    DecisionBody,
    DossierStatus,
    EntryEvent,
    EntryKind,
    TaskStatus,
    allowed_transitions,
    initial_status,
)
from .models import (
    Decision,
    Dossier,
    DossierSequence,
    Note,
    StatusChange,
    Task,
    TimelineEntry,
)
from .policy import Viewer, may_edit_dossier, may_manage_dossiers, may_record_council_opinion


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied(_("Vous n'avez pas le droit de faire cela."))


def dossier_next_reference(*, agency_id: int, year: int) -> str:
    """The next `DOS-YYYY-NNNN` reference of the agency (locks the year's counter)."""
    DossierSequence.objects.get_or_create(agency_id=agency_id, year=year)
    sequence = DossierSequence.objects.select_for_update().get(agency_id=agency_id, year=year)
    while True:
        sequence.last_number += 1
        reference = f"DOS-{year}-{sequence.last_number:04d}"
        # An imported dossier may already use the reference: skip it.
        if not Dossier.objects.filter(agency_id=agency_id, reference=reference).exists():
            break
    sequence.save(update_fields=["last_number"])
    return reference


def timeline_entry_record(
    *,
    dossier: Dossier,
    kind: EntryKind,
    audience: str,
    actor: Any,
    occurred_at: dt.datetime | None = None,
    event: EntryEvent = EntryEvent.CREATED,
    **subject: Any,
) -> TimelineEntry:
    """Append one entry to the dossier's timeline."""
    entry = TimelineEntry.objects.create(
        dossier=dossier,
        kind=kind,
        event=event,
        audience=audience,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        occurred_at=occurred_at or timezone.now(),
        **subject,
    )
    from lanterne.search.services import search_entry_index

    search_entry_index(entry)  # found by search once committed
    if audience != Audience.INTERNAL:
        from lanterne.notifications.services import entry_recorded

        entry_recorded(entry)  # followers told, in this transaction
    return entry


def _search_index(dossier: Dossier) -> None:
    """Keep the dossier's title and description searchable as they are."""
    from lanterne.search.services import search_index_schedule

    search_index_schedule(dossier_ids=[dossier.pk])


def _check_parties(
    condominium: Condominium,
    lots: Iterable[Lot],
    persons: Iterable[Person],
    companies: Iterable[Company],
) -> None:
    """Parties must belong to the dossier's condominium and agency: nothing crosses."""
    for lot in lots:
        if lot.condominium_id != condominium.pk:
            raise ValidationError(
                _("Le lot %(lot)s n'appartient pas à cette copropriété.") % {"lot": lot.number}
            )
    for person in persons:
        if person.agency_id != condominium.agency_id:
            raise ValidationError(_("Personne inconnue de ce cabinet."))
    for company in companies:
        if company.agency_id != condominium.agency_id:
            raise ValidationError(_("Entreprise inconnue de ce cabinet."))


@transaction.atomic
def dossier_open(
    *,
    viewer: Viewer,
    actor: Any,
    condominium: Condominium,
    title: str,
    type: str,
    audience: str,
    description: str = "",
    manager: Person | None = None,
    council_sees_parties: bool = False,
    party_lots: Iterable[Lot] = (),
    party_persons: Iterable[Person] = (),
    party_companies: Iterable[Company] = (),
    reference: str | None = None,
    status: str | None = None,
    opened_on: dt.date | None = None,
) -> Dossier:
    """Open a dossier. Without `reference`, the next `DOS-YYYY-NNNN` is given;
    an imported dossier passes the reference it had in the previous software."""
    _require(may_manage_dossiers(viewer, condominium.agency_id))
    party_lots, party_persons, party_companies = (
        list(party_lots),
        list(party_persons),
        list(party_companies),
    )
    _check_parties(condominium, party_lots, party_persons, party_companies)
    if manager is not None and (
        manager.agency_id != condominium.agency_id or not manager.staff_role
    ):
        raise ValidationError(_("Le gestionnaire doit être un membre du cabinet."))
    opened_on = opened_on or timezone.localdate()
    if reference is None:
        reference = dossier_next_reference(agency_id=condominium.agency_id, year=opened_on.year)
    elif Dossier.objects.filter(agency_id=condominium.agency_id, reference=reference).exists():
        raise ValidationError(
            _("La référence %(reference)s existe déjà.") % {"reference": reference}
        )
    dossier = Dossier.objects.create(
        agency_id=condominium.agency_id,
        condominium=condominium,
        reference=reference,
        title=title,
        description=description,
        type=type,
        status=status or initial_status(type),
        audience=audience,
        council_sees_parties=council_sees_parties,
        manager=manager,
        opened_on=opened_on,
    )
    dossier.party_lots.set(party_lots)
    dossier.party_persons.set(party_persons)
    dossier.party_companies.set(party_companies)
    _search_index(dossier)
    audit_record(
        actor=actor,
        agency_id=dossier.agency_id,
        action=AuditAction.CREATED,
        target=dossier,
        summary=f"Dossier {dossier.reference} ouvert : {title}",
    )
    return dossier


@transaction.atomic
def dossier_update(
    *,
    viewer: Viewer,
    actor: Any,
    dossier: Dossier,
    title: str,
    description: str,
    audience: str,
    manager: Person | None,
    council_sees_parties: bool,
    party_lots: Iterable[Lot],
    party_persons: Iterable[Person],
    party_companies: Iterable[Company],
    auto_publish_audience: str = "",
) -> Dossier:
    """Change the dossier's description, parties, audience and how its mail
    is published (logged)."""
    _require(may_edit_dossier(viewer, dossier))
    party_lots, party_persons, party_companies = (
        list(party_lots),
        list(party_persons),
        list(party_companies),
    )
    _check_parties(dossier.condominium, party_lots, party_persons, party_companies)
    if manager is not None and (manager.agency_id != dossier.agency_id or not manager.staff_role):
        raise ValidationError(_("Le gestionnaire doit être un membre du cabinet."))
    if auto_publish_audience not in ("", Audience.COUNCIL, Audience.OWNERS, Audience.PARTIES):
        raise ValidationError(_("Visibilité inconnue."))
    before = {
        "title": dossier.title,
        "audience": dossier.audience,
        "auto_publish_audience": dossier.auto_publish_audience,
        "council_sees_parties": dossier.council_sees_parties,
        "manager": dossier.manager_id,
        "party_lots": sorted(dossier.party_lots.values_list("pk", flat=True)),
        "party_persons": sorted(dossier.party_persons.values_list("pk", flat=True)),
        "party_companies": sorted(dossier.party_companies.values_list("pk", flat=True)),
    }
    dossier.title = title
    dossier.description = description
    dossier.audience = audience
    dossier.manager = manager
    dossier.council_sees_parties = council_sees_parties
    dossier.auto_publish_audience = auto_publish_audience
    dossier.save()
    dossier.party_lots.set(party_lots)
    dossier.party_persons.set(party_persons)
    dossier.party_companies.set(party_companies)
    _search_index(dossier)
    after = {
        "title": title,
        "audience": audience,
        "auto_publish_audience": auto_publish_audience,
        "council_sees_parties": council_sees_parties,
        "manager": manager.pk if manager else None,
        "party_lots": sorted(lot.pk for lot in party_lots),
        "party_persons": sorted(p.pk for p in party_persons),
        "party_companies": sorted(c.pk for c in party_companies),
    }
    changes = {key: [before[key], after[key]] for key in after if before[key] != after[key]}
    if changes:
        audit_record(
            actor=actor,
            agency_id=dossier.agency_id,
            action=(
                AuditAction.AUDIENCE_CHANGED
                if {"audience", "auto_publish_audience"} & changes.keys()
                else AuditAction.CHANGED
            ),
            target=dossier,
            summary=f"Dossier {dossier.reference} modifié",
            changes=changes,
        )
    return dossier


@transaction.atomic
def dossier_change_status(
    *,
    viewer: Viewer,
    actor: Any,
    dossier: Dossier,
    status: str,
    comment: str = "",
    audience: str | None = None,
    occurred_at: dt.datetime | None = None,
) -> StatusChange:
    """Move the dossier along its lifecycle; the move is a timeline entry."""
    _require(may_edit_dossier(viewer, dossier))
    before_closing = None
    if dossier.status == DossierStatus.CLOSED:
        last = (
            dossier.status_changes.filter(to_status=DossierStatus.CLOSED)
            .order_by("-changed_at", "-id")
            .first()
        )
        before_closing = last.from_status if last else None
    if status not in allowed_transitions(
        dossier.type, dossier.status, status_before_closing=before_closing
    ):
        raise ValidationError(
            _("Un dossier « %(current)s » ne peut pas passer à « %(target)s ».")
            % {
                "current": DossierStatus(dossier.status).label,
                "target": DossierStatus(status).label if status in DossierStatus.values else status,
            }
        )
    audience = audience or dossier.audience
    occurred_at = occurred_at or timezone.now()
    change = StatusChange.objects.create(
        dossier=dossier,
        from_status=dossier.status,
        to_status=status,
        comment=comment,
        audience=audience,
        changed_by=actor if getattr(actor, "is_authenticated", False) else None,
        changed_at=occurred_at,
    )
    dossier.status = status
    dossier.closed_on = occurred_at.date() if status == DossierStatus.CLOSED else None
    dossier.save(update_fields=["status", "closed_on", "updated_at"])
    timeline_entry_record(
        dossier=dossier,
        kind=EntryKind.STATUS_CHANGE,
        audience=audience,
        actor=actor,
        occurred_at=occurred_at,
        status_change=change,
    )
    audit_record(
        actor=actor,
        agency_id=dossier.agency_id,
        action=AuditAction.STATUS_CHANGED,
        target=dossier,
        summary=f"Dossier {dossier.reference} : {change.from_status} → {status}",
        changes={"status": [change.from_status, status]},
    )
    return change


@transaction.atomic
def task_create(
    *,
    viewer: Viewer,
    actor: Any,
    dossier: Dossier,
    title: str,
    description: str = "",
    due_on: dt.date | None = None,
    assignee: Person | None = None,
    audience: str | None = None,
    occurred_at: dt.datetime | None = None,
) -> Task:
    _require(may_edit_dossier(viewer, dossier))
    if assignee is not None and assignee.agency_id != dossier.agency_id:
        raise ValidationError(_("Personne inconnue de ce cabinet."))
    audience = audience or dossier.audience
    task = Task.objects.create(
        dossier=dossier,
        title=title,
        description=description,
        due_on=due_on,
        assignee=assignee,
        audience=audience,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
        created_at=occurred_at or timezone.now(),
    )
    timeline_entry_record(
        dossier=dossier,
        kind=EntryKind.TASK,
        audience=audience,
        actor=actor,
        occurred_at=task.created_at,
        task=task,
    )
    audit_record(
        actor=actor,
        agency_id=dossier.agency_id,
        action=AuditAction.CREATED,
        target=task,
        summary=f"Tâche ajoutée au dossier {dossier.reference} : {title}",
    )
    return task


@transaction.atomic
def task_complete(
    *, viewer: Viewer, actor: Any, task: Task, occurred_at: dt.datetime | None = None
) -> Task:
    """Mark a task done; the completion is a new timeline entry."""
    dossier = task.dossier
    _require(may_edit_dossier(viewer, dossier))
    if task.status == TaskStatus.DONE:
        return task
    task.status = TaskStatus.DONE
    task.completed_at = occurred_at or timezone.now()
    task.save(update_fields=["status", "completed_at"])
    timeline_entry_record(
        dossier=dossier,
        kind=EntryKind.TASK,
        event=EntryEvent.COMPLETED,
        audience=task.audience,
        actor=actor,
        occurred_at=task.completed_at,
        task=task,
    )
    audit_record(
        actor=actor,
        agency_id=dossier.agency_id,
        action=AuditAction.CHANGED,
        target=task,
        summary=f"Tâche terminée : {task.title}",
        changes={"status": ["open", "done"]},
    )
    return task


@transaction.atomic
def decision_record(
    *,
    viewer: Viewer,
    actor: Any,
    dossier: Dossier,
    decided_by: str,
    text: str,
    decided_on: dt.date | None = None,
    audience: str | None = None,
    occurred_at: dt.datetime | None = None,
) -> Decision:
    """Record a decision. Staff record any; the council chair records the council's."""
    if decided_by == DecisionBody.COUNCIL and not viewer.is_staff_of(dossier.agency_id):
        _require(may_record_council_opinion(viewer, dossier))
        # The council's own record is visible to the council at least.
        audience = audience or Audience.COUNCIL
        if audience not in (Audience.COUNCIL, Audience.OWNERS):
            audience = Audience.COUNCIL
    else:
        _require(may_edit_dossier(viewer, dossier))
    audience = audience or dossier.audience
    decision = Decision.objects.create(
        dossier=dossier,
        decided_by=decided_by,
        decided_on=decided_on or timezone.localdate(),
        text=text,
        audience=audience,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
        created_at=occurred_at or timezone.now(),
    )
    timeline_entry_record(
        dossier=dossier,
        kind=EntryKind.DECISION,
        audience=audience,
        actor=actor,
        occurred_at=decision.created_at,
        decision=decision,
    )
    audit_record(
        actor=actor,
        agency_id=dossier.agency_id,
        action=AuditAction.CREATED,
        target=decision,
        summary=f"Décision enregistrée au dossier {dossier.reference}",
    )
    return decision


@transaction.atomic
def note_add(
    *,
    viewer: Viewer,
    actor: Any,
    dossier: Dossier,
    text: str,
    audience: str | None = None,
    occurred_at: dt.datetime | None = None,
) -> Note:
    _require(may_edit_dossier(viewer, dossier))
    audience = audience or dossier.audience
    note = Note.objects.create(
        dossier=dossier,
        text=text,
        audience=audience,
        author=actor if getattr(actor, "is_authenticated", False) else None,
        created_at=occurred_at or timezone.now(),
    )
    timeline_entry_record(
        dossier=dossier,
        kind=EntryKind.NOTE,
        audience=audience,
        actor=actor,
        occurred_at=note.created_at,
        note=note,
    )
    audit_record(
        actor=actor,
        agency_id=dossier.agency_id,
        action=AuditAction.CREATED,
        target=note,
        summary=f"Note ajoutée au dossier {dossier.reference}",
    )
    return note


@transaction.atomic
def entry_set_audience(
    *, viewer: Viewer, actor: Any, entry: TimelineEntry, audience: str
) -> TimelineEntry:
    """Change who may see an entry (and the object it points at). Logged."""
    _require(may_edit_dossier(viewer, entry.dossier))
    if audience not in Audience.values:
        raise ValidationError(_("Visibilité inconnue."))
    before = entry.audience
    if before == audience:
        return entry
    if entry.kind == EntryKind.MESSAGE:
        # A mail is published: its personal data masked, followers told.
        from lanterne.mail.publication import message_publish

        assert entry.message is not None
        message_publish(viewer=viewer, actor=actor, message=entry.message, audience=audience)
        entry.audience = audience
        return entry
    subject = entry.subject
    assert subject is not None
    # Every entry about the same object shares its audience (a task and its
    # completion are seen by the same people).
    TimelineEntry.objects.filter(**{entry.kind: subject}).update(audience=audience)
    type(subject)._default_manager.filter(pk=subject.pk).update(audience=audience)
    entry.audience = audience
    from lanterne.search.services import search_entry_index

    search_entry_index(entry)
    if audience != Audience.INTERNAL:
        # Those who may see it now are told (the notifications re-check who).
        from lanterne.notifications.services import entries_published

        entries_published(TimelineEntry.objects.filter(**{entry.kind: subject}), actor=actor)
    audit_record(
        actor=actor,
        agency_id=entry.dossier.agency_id,
        action=AuditAction.AUDIENCE_CHANGED,
        target=subject,
        summary=f"Visibilité changée au dossier {entry.dossier.reference} : {before} → {audience}",
        changes={"audience": [before, audience]},
    )
    return entry
