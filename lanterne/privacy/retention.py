"""Retention periods (RGPD art. 5-1-e): what is kept, how long, and deleting
what is past it (`lanterne apply-retention`, run daily by the operator).

- Documents, per kind (`settings.RETENTION_YEARS`): counted from the end of
  the document's validity when it has one (a contract, a diagnostic), else
  from its date, else from its upload — and, for a document of a dossier,
  not before the dossier is closed (a case still open needs its papers). A
  kind whose period is None is kept for the building's life: the bylaws, the
  minutes of general meetings, the maintenance log are the syndicate's
  archives. The file and the row go, and the timeline entry that showed it.
- Erased persons (`PersonErasure`), `settings.ERASED_PERSON_RETENTION_YEARS`
  after their erasure: the summaries of the audit entries about them and
  the reminders that waited for them lose what named them, and so does the
  erasure's reason.

Every run that changes something writes one audit entry per agency, with
the ids of what went and none of the deleted data.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.core.files.storage import Storage
from django.db import transaction
from django.utils import timezone

from lanterne.audit.models import AuditAction, AuditLog
from lanterne.audit.services import audit_record
from lanterne.condominiums.models import Agency
from lanterne.documents.models import Document
from lanterne.dossiers.choices import DossierStatus
from lanterne.reminders.models import Reminder

from .models import PersonErasure
from .services import erased_name

__all__ = [
    "ExpiredDocument",
    "RetentionReport",
    "document_kept_until",
    "retention_apply",
    "years_after",
]


def years_after(day: dt.date, years: int) -> dt.date:
    """The same day `years` later (28 February for a 29 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def document_kept_until(document: Document) -> dt.date | None:
    """The last day `document` is kept, or None when it is kept for the
    building's life (its kind's period is None or unknown, or its dossier is
    still open)."""
    years = settings.RETENTION_YEARS.get(document.kind)
    if years is None:
        return None
    start = (
        document.valid_until or document.document_date or timezone.localdate(document.uploaded_at)
    )
    dossier = document.dossier
    if dossier is not None:
        if dossier.status != DossierStatus.CLOSED or dossier.closed_on is None:
            return None
        start = max(start, dossier.closed_on)
    return years_after(start, years)


@dataclass(frozen=True)
class ExpiredDocument:
    """A document past its retention: what the report and the log say of it
    (never its title or file name, which may name a person)."""

    id: int
    agency_id: int
    kind: str
    kept_until: dt.date


@dataclass
class RetentionReport:
    """What a run deleted (or, with `dry_run`, would delete)."""

    today: dt.date
    dry_run: bool
    documents: list[ExpiredDocument] = field(default_factory=list)
    purged_person_ids: list[int] = field(default_factory=list)

    def lines(self) -> list[str]:
        verb = "would be deleted" if self.dry_run else "deleted"
        lines = [
            f"document {d.id} ({d.kind}, kept until {d.kept_until.isoformat()}): {verb}"
            for d in self.documents
        ]
        verb = "would be purged" if self.dry_run else "purged"
        lines += [f"erased person {pk}: remaining data {verb}" for pk in self.purged_person_ids]
        return lines


def expired_documents(today: dt.date) -> list[ExpiredDocument]:
    """The documents whose last day of retention is before `today`."""
    kinds = [kind for kind, years in settings.RETENTION_YEARS.items() if years is not None]
    candidates = (
        Document.objects.filter(kind__in=kinds)
        .select_related("dossier")
        .only(
            "pk",
            "agency_id",
            "kind",
            "valid_until",
            "document_date",
            "uploaded_at",
            "dossier__status",
            "dossier__closed_on",
        )
        .order_by("pk")
    )
    expired = []
    for document in candidates.iterator(chunk_size=500):
        kept_until = document_kept_until(document)
        if kept_until is not None and kept_until < today:
            expired.append(
                ExpiredDocument(document.pk, document.agency_id, document.kind, kept_until)
            )
    return expired


def erasures_to_purge(today: dt.date) -> list[PersonErasure]:
    """The erasures whose remaining data's retention ended before `today`."""
    years = settings.ERASED_PERSON_RETENTION_YEARS
    # A bound in SQL first (the index on unpurged erasures), the exact day in Python.
    bound = timezone.make_aware(dt.datetime.combine(years_after(today, -years), dt.time.max))
    return [
        erasure
        for erasure in PersonErasure.objects.filter(purged_at__isnull=True, erased_at__lte=bound)
        .select_related("person")
        .order_by("pk")
        if years_after(timezone.localdate(erasure.erased_at), years) < today
    ]


def _erasure_purge(erasure: PersonErasure) -> None:
    person = erasure.person
    AuditLog.objects.filter(object_type=person._meta.label_lower, object_id=str(person.pk)).exclude(
        action__in=[AuditAction.ERASED, AuditAction.RETENTION_APPLIED]
    ).update(
        summary=f"Personne n°{person.pk} : détail effacé (durée de conservation écoulée)",
        changes={},
    )
    Reminder.objects.filter(pk__in=erasure.reminder_ids).update(
        waiting_for_name=erased_name(person), waiting_for_address=""
    )
    erasure.reason = ""
    erasure.purged_at = timezone.now()
    erasure.save(update_fields=["reason", "purged_at"])


@transaction.atomic
def retention_apply(*, today: dt.date, dry_run: bool = False) -> RetentionReport:
    """Delete the documents past their retention and purge the remaining data
    of persons erased long enough ago; one audit entry per agency touched.
    With `dry_run`, only report. Files are removed once the deletion is
    committed: a failed run leaves every file its rows point at."""
    report = RetentionReport(today=today, dry_run=dry_run)
    report.documents = expired_documents(today)
    erasures = erasures_to_purge(today)
    report.purged_person_ids = [erasure.person_id for erasure in erasures]
    if dry_run:
        return report

    by_agency: dict[int, dict[str, list[object]]] = defaultdict(
        lambda: {"documents": [], "persons": []}
    )
    for batch_start in range(0, len(report.documents), 500):
        batch = report.documents[batch_start : batch_start + 500]
        documents = list(Document.objects.filter(pk__in=[d.id for d in batch]))
        names = [(document.file.storage, document.file.name) for document in documents]
        Document.objects.filter(pk__in=[d.pk for d in documents]).delete()
        transaction.on_commit(functools.partial(_files_delete, names))
        for expired in batch:
            by_agency[expired.agency_id]["documents"].append(
                {
                    "id": expired.id,
                    "kind": expired.kind,
                    "kept_until": expired.kept_until.isoformat(),
                }
            )
    for erasure in erasures:
        _erasure_purge(erasure)
        by_agency[erasure.agency_id]["persons"].append(erasure.person_id)

    agencies = Agency.objects.in_bulk(list(by_agency))
    for agency_id, done in sorted(by_agency.items()):
        audit_record(
            actor=None,
            agency_id=agency_id,
            action=AuditAction.RETENTION_APPLIED,
            target=agencies[agency_id],
            summary=(
                f"Durées de conservation appliquées au {today.isoformat()} : "
                f"{len(done['documents'])} document(s) supprimé(s), "
                f"{len(done['persons'])} personne(s) anonymisée(s) expurgée(s)"
            ),
            changes={"today": today.isoformat(), **done},
        )
    return report


def _files_delete(names: list[tuple[Storage, str | None]]) -> None:
    for storage, name in names:
        if name:
            storage.delete(name)
