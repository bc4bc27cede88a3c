"""The demo agency (`lanterne load-demo`): it loads, once, and each demo login
sees exactly what its role allows — through the policy and through the pages."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from html import unescape
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from lanterne.accounts.models import User
from lanterne.audit.models import AuditLog
from lanterne.condominiums.choices import CompanyKind, CouncilRole, StaffRole
from lanterne.condominiums.models import Agency, Company, Condominium, Lot, Person
from lanterne.core.demo import (
    DEMO_DOSSIERS,
    DEMO_LOGINS,
    DEMO_PASSWORD,
    DemoSummary,
    demo_dossier,
    demo_load,
    euros,
    french_date,
    make_pdf,
    spread_shares,
)
from lanterne.documents.models import Document
from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience, DossierStatus, EntryKind
from lanterne.dossiers.models import Decision, Dossier, Note, StatusChange, Task, TimelineEntry

pytestmark = pytest.mark.django_db

MANAGER = "claire.fontaine@cabinet-lumiere.fr"
ASSISTANT = "sophie.bernard@cabinet-lumiere.fr"
CHAIR = "mh.roussel@orange.fr"
COUNCIL_MEMBER = "bernard.giraud@free.fr"
OTHER_CHAIR = "henri.vidal@orange.fr"
PARTY = "camille.lefevre@gmail.com"
NOT_PARTY = "antoine.mercier@laposte.net"

ALL = set(DEMO_DOSSIERS)
# Dossiers of Les Tilleuls open to every co-owner (closed ones included).
TILLEULS_OWNERS = {"facade", "extraordinary_meeting", "lift", "annual_meeting"}
# What each demo login may see, by dossier key.
EXPECTED: dict[str, set[str]] = {
    MANAGER: ALL,
    ASSISTANT: ALL,
    CHAIR: TILLEULS_OWNERS | {"council_water"},
    COUNCIL_MEMBER: TILLEULS_OWNERS | {"council_water"},
    OTHER_CHAIR: {"storm_claim", "blocked_drain"},
    PARTY: TILLEULS_OWNERS | {"water_damage"},
    NOT_PARTY: TILLEULS_OWNERS,
}
STAFF_LOGINS = {MANAGER, ASSISTANT}
DEMO_DOSSIERS_BY_TITLE = {title: key for key, title in DEMO_DOSSIERS.items()}


@pytest.fixture
def demo() -> DemoSummary:
    return demo_load(today=timezone.localdate())


def viewer_for(email: str) -> policy.Viewer:
    return policy.Viewer.for_user(User.objects.get(email=email))


def client_for(email: str) -> Client:
    client = Client()
    client.force_login(User.objects.get(email=email))
    return client


def detail_url(key: str) -> str:
    return reverse("dossiers:detail", args=[demo_dossier(key).pk])


# --- Loading ----------------------------------------------------------------------


def test_command_loads_once_and_prints_the_logins() -> None:
    out = StringIO()
    call_command("load-demo", stdout=out)
    first = out.getvalue()
    assert "créé" in first
    assert DEMO_PASSWORD in first
    for login in DEMO_LOGINS:
        assert login.email in first
    counts = (
        Agency.objects.count(),
        Person.objects.count(),
        Lot.objects.count(),
        Dossier.objects.count(),
        TimelineEntry.objects.count(),
        Document.objects.count(),
        User.objects.count(),
    )

    out = StringIO()
    call_command("load-demo", stdout=out)
    second = out.getvalue()
    assert "existe déjà" in second
    assert DEMO_PASSWORD in second
    assert all(login.email in second for login in DEMO_LOGINS)
    assert counts == (
        Agency.objects.count(),
        Person.objects.count(),
        Lot.objects.count(),
        Dossier.objects.count(),
        TimelineEntry.objects.count(),
        Document.objects.count(),
        User.objects.count(),
    )


def test_service_is_idempotent(demo: DemoSummary) -> None:
    again = demo_load(today=timezone.localdate())
    assert again.created is False
    assert again.agency == demo.agency
    assert (again.dossiers, again.entries, again.documents) == (
        demo.dossiers,
        demo.entries,
        demo.documents,
    )


def test_command_refuses_production(settings) -> None:  # type: ignore[no-untyped-def]
    settings.MODE = "production"
    with pytest.raises(CommandError):
        call_command("load-demo", stdout=StringIO())
    assert not Agency.objects.exists()


# --- What is in it ----------------------------------------------------------------


def test_counts_and_directory(demo: DemoSummary) -> None:
    agency = demo.agency
    assert agency.mail_domain == "cabinet-lumiere.fr"
    assert demo.condominiums == 3
    assert 50 <= demo.lots <= 70
    assert 9 <= demo.dossiers <= 12
    assert set(Dossier.objects.values_list("title", flat=True)) == set(DEMO_DOSSIERS.values())
    for condominium in Condominium.objects.filter(agency=agency):
        assert condominium.nickname_list
        lots = list(condominium.lots.prefetch_related("ownerships"))
        # Tantièmes add up, and every lot has an owner.
        assert sum(lot.shares for lot in lots) == 1000
        assert all(lot.ownerships.all() for lot in lots)
        seats = list(condominium.council_seats.all())
        assert [s.role for s in seats].count(CouncilRole.CHAIR) == 1
        assert len(seats) >= 2
    kinds = set(Lot.objects.values_list("kind", flat=True))
    assert {"flat", "cellar", "parking", "shop"} <= kinds
    staff = Person.objects.filter(agency=agency).exclude(staff_role="")
    assert sorted(staff.values_list("staff_role", flat=True)) == sorted(
        [StaffRole.MANAGER, StaffRole.MANAGER, StaffRole.ASSISTANT]
    )
    companies = Company.objects.filter(agency=agency).prefetch_related("domains")
    assert {c.kind for c in companies} >= {
        CompanyKind.CONTRACTOR,
        CompanyKind.INSURER,
        CompanyKind.ADJUSTER,
    }
    assert all(c.domains.all() for c in companies)
    owners = Person.objects.filter(agency=agency, ownerships__isnull=False).distinct()
    assert all(p.emails.exists() for p in owners)
    phone = re.compile(r"^0\d( \d\d){4}$")
    assert all(phone.match(number) for p in owners for number in p.phones)


def test_history_is_backdated_consistent_and_audited(demo: DemoSummary) -> None:
    now = timezone.now()
    entries = TimelineEntry.objects.filter(dossier__agency=demo.agency)
    assert not entries.filter(occurred_at__gt=now).exists()
    assert entries.filter(occurred_at__lt=now - dt.timedelta(days=180)).exists()
    for dossier in Dossier.objects.filter(agency=demo.agency):
        assert dossier.timeline.count() >= 4, dossier.title
        first = dossier.timeline.order_by("occurred_at").first()
        assert first is not None
        assert timezone.localtime(first.occurred_at).date() >= dossier.opened_on
    # Every object of a timeline has its entry, written by the services.
    assert entries.filter(kind=EntryKind.NOTE).count() == Note.objects.count()
    assert entries.filter(kind=EntryKind.DECISION).count() == Decision.objects.count()
    assert entries.filter(kind=EntryKind.STATUS_CHANGE).count() == StatusChange.objects.count()
    assert (
        entries.filter(kind=EntryKind.DOCUMENT).count()
        == Document.objects.filter(dossier__isnull=False).count()
    )
    done = Task.objects.filter(status="done").count()
    assert 0 < done < Task.objects.count()
    assert entries.filter(kind=EntryKind.TASK).count() == Task.objects.count() + done
    # A dossier's status is the last status change's.
    for dossier in Dossier.objects.filter(agency=demo.agency):
        last = dossier.status_changes.order_by("-changed_at", "-id").first()
        if last is not None:
            assert last.to_status == dossier.status
    assert Dossier.objects.filter(status=DossierStatus.CLOSED).count() == 2
    # The audit log saw every write.
    assert AuditLog.objects.filter(agency=demo.agency).count() > demo.entries
    assert AuditLog.objects.filter(action="imported", agency=demo.agency).count() == 1
    # The chair recorded the council's opinion herself.
    chair = User.objects.get(email=CHAIR)
    assert Decision.objects.filter(created_by=chair, decided_by="council").exists()


def test_references_follow_the_opening_dates() -> None:
    # A January "today" spreads the history over two years.
    demo_load(today=dt.date(2026, 1, 20))
    dossiers = list(Dossier.objects.order_by("opened_on", "id"))
    assert [d.reference for d in dossiers] == sorted(
        (d.reference for d in dossiers), key=lambda ref: (ref[4:8], ref)
    )
    assert {d.reference[:8] for d in dossiers} == {"DOS-2025", "DOS-2026"}


def test_documents_are_valid_files(demo: DemoSummary) -> None:
    documents = list(Document.objects.filter(agency=demo.agency))
    assert {d.kind for d in documents} >= {"quote", "invoice", "report", "minutes", "photo"}
    quotes = Document.objects.filter(dossier=demo_dossier("facade"), kind="quote")
    assert quotes.count() == 3
    for document in documents:
        with document.file.open("rb") as handle:
            data = handle.read()
        assert len(data) == document.size
        if document.filename.endswith(".pdf"):
            assert document.content_type == "application/pdf"
            assert_valid_pdf(data)
        elif document.filename.endswith(".png"):
            assert data.startswith(b"\x89PNG\r\n\x1a\n")


def assert_valid_pdf(data: bytes) -> None:
    """The structure a reader needs: header, objects at the offsets the
    cross-reference table gives, trailer and end marker."""
    assert data.startswith(b"%PDF-1.")
    assert data.rstrip().endswith(b"%%EOF")
    startxref = int(data.rsplit(b"startxref", 1)[1].split()[0])
    assert data[startxref:].startswith(b"xref")
    table = data[startxref:].split(b"trailer")[0].split(b"\n")
    count = int(table[1].split()[1])
    for number in range(1, count):
        offset = int(table[2 + number].split()[0])
        assert data[offset:].startswith(b"%d 0 obj" % number)


def test_pdf_and_french_formatting_helpers() -> None:
    pdf = make_pdf("Devis (test)", ["Total : 1 234,50 € — été", "x" * 300])
    assert_valid_pdf(pdf)
    assert b"Devis \\(test\\)" in pdf
    assert "€".encode("cp1252") in pdf
    assert euros(Decimal("186340")) == "186 340,00 €"
    assert french_date(dt.date(2026, 3, 1)) == "1er mars 2026"
    assert sum(spread_shares([62, 78, 4, 7])) == 1000


# --- Who sees what: the policy ---------------------------------------------------------


@pytest.mark.parametrize("email", sorted(EXPECTED))
def test_each_login_sees_what_its_role_allows(demo: DemoSummary, email: str) -> None:
    viewer = viewer_for(email)
    titles = set(policy.dossiers_visible_to(viewer).values_list("title", flat=True))
    assert titles == {DEMO_DOSSIERS[key] for key in EXPECTED[email]}
    for dossier in Dossier.objects.filter(agency=demo.agency):
        entries = policy.entries_visible_to(viewer, dossier)
        if email in STAFF_LOGINS:
            assert entries.count() == dossier.timeline.count()
        elif DEMO_DOSSIERS_BY_TITLE[dossier.title] not in EXPECTED[email]:
            assert not entries.exists()
        else:
            assert entries.exists()
            assert not entries.filter(audience=Audience.INTERNAL).exists()
            assert (
                not policy.documents_visible_to(viewer, dossier)
                .filter(audience=Audience.INTERNAL)
                .exists()
            )


def test_public_dossiers_hold_internal_notes(demo: DemoSummary) -> None:
    """The demo shows the point of entry audiences: staff-only notes inside
    dossiers the co-owners follow."""
    for key in ("facade", "lift", "water_damage", "council_water"):
        dossier = demo_dossier(key)
        assert dossier.audience != Audience.INTERNAL
        assert dossier.notes.filter(audience=Audience.INTERNAL).exists(), key


def test_only_the_chair_records_the_council_opinion(demo: DemoSummary) -> None:
    facade = demo_dossier("facade")
    assert policy.may_record_council_opinion(viewer_for(CHAIR), facade)
    assert not policy.may_record_council_opinion(viewer_for(COUNCIL_MEMBER), facade)
    assert not policy.may_record_council_opinion(viewer_for(NOT_PARTY), facade)


# --- Who sees what: the pages ------------------------------------------------------


def test_demo_logins_log_in_with_the_demo_password(demo: DemoSummary) -> None:
    for login in DEMO_LOGINS:
        client = Client()
        response = client.post(
            reverse("accounts:login"), {"username": login.email, "password": DEMO_PASSWORD}
        )
        assert response.status_code == 302, login.email
        assert client.get(reverse("home")).status_code == 200


@pytest.mark.parametrize("email", sorted(EXPECTED))
def test_dossier_pages_answer_by_role(demo: DemoSummary, email: str) -> None:
    client = client_for(email)
    home = client.get(reverse("home"))
    assert home.status_code == 200
    for key in DEMO_DOSSIERS:
        response = client.get(detail_url(key))
        expected = 200 if key in EXPECTED[email] else 404
        assert response.status_code == expected, (email, key)


def test_water_damage_pages(demo: DemoSummary) -> None:
    url = detail_url("water_damage")
    report = Document.objects.get(filename="rapport-recherche-de-fuite.pdf")
    download = reverse("documents:download", args=[report.pk])

    party = client_for(PARTY).get(url)
    assert party.status_code == 200
    assert report.title in unescape(party.content.decode())
    assert client_for(PARTY).get(download).status_code == 200

    assert client_for(NOT_PARTY).get(url).status_code == 404
    assert client_for(NOT_PARTY).get(download).status_code == 404
    assert client_for(COUNCIL_MEMBER).get(url).status_code == 404
    assert client_for(MANAGER).get(download).status_code == 200


def test_council_sees_the_council_request_not_the_arrears(demo: DemoSummary) -> None:
    client = client_for(COUNCIL_MEMBER)
    page = client.get(detail_url("council_water"))
    assert page.status_code == 200
    assert "compteur général" in page.content.decode()
    assert client.get(detail_url("arrears")).status_code == 404
    assert client_for(NOT_PARTY).get(detail_url("council_water")).status_code == 404
    home = client.get(reverse("home")).content.decode()
    assert escape(DEMO_DOSSIERS["council_water"]) in home
    assert escape(DEMO_DOSSIERS["arrears"]) not in home


def test_nobody_but_staff_reads_an_internal_note(demo: DemoSummary) -> None:
    internal = Note.objects.filter(audience=Audience.INTERNAL).select_related("dossier")
    assert internal.count() >= 8
    for note in internal:
        key = DEMO_DOSSIERS_BY_TITLE[note.dossier.title]
        # Notes only: the page holds one timeline page, and notes fit on it.
        url = detail_url(key) + f"?type={EntryKind.NOTE}"
        # Read as text: the page escapes « ' » as « &#39; » or « &#x27; »
        # depending on the template engine.
        for email in EXPECTED:
            response = client_for(email).get(url)
            if email in STAFF_LOGINS:
                assert note.text in unescape(response.content.decode()), (email, note.text)
            elif response.status_code == 200:
                assert note.text not in unescape(response.content.decode()), (email, note.text)


def test_staff_see_the_agency_pages(demo: DemoSummary) -> None:
    client = client_for(MANAGER)
    persons = client.get(reverse("condominiums:persons"))
    assert persons.status_code == 200
    assert "camille.lefevre@gmail.com" in persons.content.decode()
    for condominium in Condominium.objects.filter(agency=demo.agency):
        page = client.get(reverse("condominium", args=[condominium.pk]) + "?clos=1")
        assert page.status_code == 200
    assert client_for(NOT_PARTY).get(reverse("condominiums:persons")).status_code == 403
