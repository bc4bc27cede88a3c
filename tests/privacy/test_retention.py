"""Retention periods (`lanterne apply-retention`): exactly the documents past
their period go, files included; erased persons' remaining data is purged
after its own period; --dry-run changes nothing; each run is logged."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command

from lanterne.audit.models import AuditAction, AuditLog
from lanterne.audit.services import audit_record
from lanterne.condominiums.models import Ownership
from lanterne.documents.choices import DocumentKind
from lanterne.documents.models import Document
from lanterne.documents.services import document_upload
from lanterne.dossiers.choices import Audience, DossierStatus
from lanterne.dossiers.models import TimelineEntry
from lanterne.privacy.models import PersonErasure
from lanterne.privacy.retention import document_kept_until, years_after
from lanterne.privacy.services import person_erase
from lanterne.reminders.models import Reminder

from ..conftest import World
from ..factories import DossierFactory
from .helpers import PARTY_EMAIL, give_contacts, staff_viewer

pytestmark = pytest.mark.django_db

RETENTION = {
    DocumentKind.INVOICE: 10,
    DocumentKind.MAINTENANCE_CONTRACT: 5,
    DocumentKind.PHOTO: 2,
    DocumentKind.BYLAWS: None,
    DocumentKind.MINUTES: None,
}


@pytest.fixture(autouse=True)
def retention_settings(settings):  # type: ignore[no-untyped-def]
    settings.RETENTION_YEARS = dict(RETENTION)
    settings.ERASED_PERSON_RETENTION_YEARS = 5


def upload(world: World, kind: str, title: str, **fields: object) -> Document:
    dossier = fields.pop("dossier", None)
    uploaded_at = fields.pop("uploaded_at", None)
    return document_upload(
        viewer=staff_viewer(world),
        actor=world.users["staff"],
        condominium=world.condominium,
        dossier=dossier,  # type: ignore[arg-type]
        file=ContentFile(f"contenu {title}".encode()),
        filename=f"{title}.pdf",
        kind=kind,
        title=title,
        audience=Audience.OWNERS,
        occurred_at=uploaded_at,  # type: ignore[arg-type]
        **fields,  # type: ignore[arg-type]
    )


def apply(*arguments: str) -> str:
    out = io.StringIO()
    call_command("apply-retention", *arguments, stdout=out)
    return out.getvalue()


@pytest.fixture
def documents(world: World) -> dict[str, Document]:
    closed = DossierFactory(
        condominium=world.condominium,
        status=DossierStatus.CLOSED,
        closed_on=dt.date(2016, 5, 1),
    )
    open_ = DossierFactory(condominium=world.condominium)
    return {
        # Dated: kept until 2024-03-01.
        "invoice_2014": upload(
            world, DocumentKind.INVOICE, "facture-2014", document_date=dt.date(2014, 3, 1)
        ),
        "invoice_2015": upload(
            world, DocumentKind.INVOICE, "facture-2015", document_date=dt.date(2015, 1, 10)
        ),
        # Counted from the end of the contract, not its date: until 2025-06-30.
        "contract": upload(
            world,
            DocumentKind.MAINTENANCE_CONTRACT,
            "contrat",
            document_date=dt.date(2012, 1, 1),
            valid_until=dt.date(2020, 6, 30),
        ),
        # No date: its upload counts. Until 2021-09-01.
        "photo": upload(
            world,
            DocumentKind.PHOTO,
            "photo",
            uploaded_at=dt.datetime(2019, 9, 1, 8, 0, tzinfo=dt.UTC),
        ),
        # Kept for the building's life.
        "bylaws": upload(
            world, DocumentKind.BYLAWS, "reglement", document_date=dt.date(1970, 1, 1)
        ),
        # In a dossier closed on 2016-05-01: ten years from the closing.
        "closed_invoice": upload(
            world,
            DocumentKind.INVOICE,
            "facture-dossier-clos",
            document_date=dt.date(2001, 1, 1),
            dossier=closed,
        ),
        # In a dossier still open: kept, however old.
        "open_invoice": upload(
            world,
            DocumentKind.INVOICE,
            "facture-dossier-ouvert",
            document_date=dt.date(1999, 1, 1),
            dossier=open_,
        ),
    }


def remaining(documents: dict[str, Document]) -> set[str]:
    ids = set(Document.objects.values_list("pk", flat=True))
    return {name for name, document in documents.items() if document.pk in ids}


def test_years_after_and_kept_until(documents):  # type: ignore[no-untyped-def]
    assert years_after(dt.date(2016, 2, 29), 10) == dt.date(2026, 2, 28)
    assert years_after(dt.date(2020, 2, 29), -5) == dt.date(2015, 2, 28)
    kept = {name: document_kept_until(document) for name, document in documents.items()}
    assert kept == {
        "invoice_2014": dt.date(2024, 3, 1),
        "invoice_2015": dt.date(2025, 1, 10),
        "contract": dt.date(2025, 6, 30),
        "photo": dt.date(2021, 9, 1),
        "bylaws": None,
        "closed_invoice": dt.date(2026, 5, 1),
        "open_invoice": None,
    }


def test_apply_retention_deletes_exactly_the_expired_documents(  # type: ignore[no-untyped-def]
    world, documents, django_capture_on_commit_callbacks
):
    everything = set(documents)
    paths = {name: document.file.path for name, document in documents.items()}

    # The last day of the invoice's retention: it stays.
    apply("--today", "2024-03-01")
    assert remaining(documents) == everything - {"photo"}

    apply("--today", "2024-03-02")
    assert remaining(documents) == everything - {"photo", "invoice_2014"}

    # Files are removed once the deletion is committed.
    with django_capture_on_commit_callbacks(execute=True):
        output = apply("--today", "2026-05-02")
    assert remaining(documents) == {"bylaws", "open_invoice"}
    assert "3 document(s) were deleted" in output
    for name in ("invoice_2015", "contract", "closed_invoice"):
        assert not _exists(paths[name]), name
    for name in ("bylaws", "open_invoice"):
        assert _exists(paths[name]), name
    # The timeline entry that showed the dossier's invoice went with it.
    assert not TimelineEntry.objects.filter(document_id=documents["closed_invoice"].pk).exists()
    assert TimelineEntry.objects.filter(document_id=documents["open_invoice"].pk).exists()

    logs = list(AuditLog.objects.filter(action=AuditAction.RETENTION_APPLIED).order_by("pk"))
    assert [len(log.changes["documents"]) for log in logs] == [1, 1, 3]
    assert {d["id"] for d in logs[2].changes["documents"]} == {
        documents[name].pk for name in ("invoice_2015", "contract", "closed_invoice")
    }
    assert all(log.agency_id == world.agency.pk for log in logs)
    assert all("facture" not in str(log.changes) + log.summary for log in logs)
    # Nothing left to do: no new entry.
    apply("--today", "2026-05-02")
    assert AuditLog.objects.filter(action=AuditAction.RETENTION_APPLIED).count() == 3


def _exists(path: str) -> bool:
    return Path(path).exists()


def test_dry_run_changes_nothing(world, documents):  # type: ignore[no-untyped-def]
    output = apply("--dry-run", "--today", "2030-01-01")
    invoice = documents["invoice_2014"].pk
    assert f"document {invoice} (invoice, kept until 2024-03-01): would be deleted" in output
    assert "5 document(s) would be deleted" in output
    assert remaining(documents) == set(documents)
    assert not AuditLog.objects.filter(action=AuditAction.RETENTION_APPLIED).exists()


def test_a_changed_setting_counts_at_the_next_run(world, documents, settings):  # type: ignore[no-untyped-def]
    settings.RETENTION_YEARS = {**RETENTION, DocumentKind.INVOICE: None}
    apply("--today", "2030-01-01")
    assert remaining(documents) == {
        "bylaws",
        "open_invoice",
        "invoice_2014",
        "invoice_2015",
        "closed_invoice",
    }


def test_a_bad_date_is_refused():  # type: ignore[no-untyped-def]
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        apply("--today", "01/03/2024")


def test_erased_persons_remaining_data_is_purged_after_its_period(world):  # type: ignore[no-untyped-def]
    party, _neighbour = give_contacts(world)
    reminder = Reminder.objects.create(
        dossier=world.dossier,
        waiting_for_name="Marc Partie",
        waiting_for_address=PARTY_EMAIL,
        due_on=dt.date(2026, 4, 1),
    )
    invited = audit_record(
        actor=world.users["staff"],
        agency_id=world.agency.pk,
        action=AuditAction.INVITED,
        target=party,
        summary=f"Invitation envoyée à {PARTY_EMAIL}",
        changes={"email": PARTY_EMAIL},
    )
    Ownership.objects.filter(person=party).delete()
    erasure = person_erase(
        viewer=staff_viewer(world),
        actor=world.users["staff"],
        person=party,
        reason="M. Partie a vendu",
    )
    PersonErasure.objects.filter(pk=erasure.pk).update(
        erased_at=dt.datetime(2026, 3, 10, 11, 0, tzinfo=dt.UTC)
    )

    apply("--today", "2031-03-10")  # five years to the day: still kept
    invited.refresh_from_db()
    assert PARTY_EMAIL in invited.summary
    erasure.refresh_from_db()
    assert erasure.purged_at is None

    output = apply("--today", "2031-03-11")
    assert f"erased person {party.pk}: remaining data purged" in output
    invited.refresh_from_db()
    assert invited.summary == (
        f"Personne n°{party.pk} : détail effacé (durée de conservation écoulée)"
    )
    assert invited.changes == {}
    reminder.refresh_from_db()
    assert (reminder.waiting_for_name, reminder.waiting_for_address) == (
        f"Ancien copropriétaire n°{party.pk}",
        "",
    )
    erasure.refresh_from_db()
    assert erasure.reason == ""
    assert erasure.purged_at is not None
    # The log of the erasure itself holds no erased data, and stays.
    erased = AuditLog.objects.get(action=AuditAction.ERASED)
    assert erased.summary == f"Personne n°{party.pk} anonymisée"
    run = AuditLog.objects.get(action=AuditAction.RETENTION_APPLIED)
    assert run.changes["persons"] == [party.pk]
    # Purged once.
    apply("--today", "2032-01-01")
    assert AuditLog.objects.filter(action=AuditAction.RETENTION_APPLIED).count() == 1


def test_a_failed_run_deletes_nothing(  # type: ignore[no-untyped-def]
    world, documents, monkeypatch, django_capture_on_commit_callbacks
):
    """A run that fails before its end (here, writing its log) rolls back:
    every row stays, and so does every file."""

    def broken(**kwargs: object) -> None:
        raise RuntimeError("journal indisponible")

    monkeypatch.setattr("lanterne.privacy.retention.audit_record", broken)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        apply("--today", "2030-01-01")
    assert remaining(documents) == set(documents)
    assert all(_exists(document.file.path) for document in documents.values())


def test_a_retention_setting_naming_no_kind_is_reported(settings):  # type: ignore[no-untyped-def]
    from lanterne.privacy.checks import retention_settings_check

    assert retention_settings_check() == []
    settings.RETENTION_YEARS = {**RETENTION, "fotos": 3, DocumentKind.QUOTE: -1}
    assert [problem.id for problem in retention_settings_check()] == [
        "lanterne.privacy.E001",
        "lanterne.privacy.E002",
    ]
