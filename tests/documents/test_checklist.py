"""The checklist of the documents the law requires online (décret n° 2019-502):
on a condominium of the tests and on the demo's « Résidence Les Tilleuls »."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from lanterne.accounts.models import User
from lanterne.condominiums.models import Condominium, Lot
from lanterne.core.demo import DEMO_AGENCY_NAME, demo_load
from lanterne.documents.checklist import (
    REQUIRED_DOCUMENTS,
    ChecklistStatus,
    condominium_checklist,
    spaces_for_kind,
)
from lanterne.documents.choices import DocumentKind, DocumentSpace
from lanterne.documents.models import Document
from lanterne.documents.services import document_upload
from lanterne.dossiers import policy

from ..conftest import ROLES
from .helpers import file_document

pytestmark = pytest.mark.django_db

OWNERS, LOT, COUNCIL = DocumentSpace.OWNERS, DocumentSpace.LOT, DocumentSpace.COUNCIL
TODAY = dt.date(2026, 6, 15)


def ago(days: int) -> dt.date:
    return TODAY - dt.timedelta(days=days)


def statuses(condominium: Condominium, today: dt.date = TODAY) -> dict[str, ChecklistStatus]:
    return {
        item.requirement.key: item.status
        for item in condominium_checklist(condominium, today=today)
    }


def test_the_table_covers_the_three_spaces_in_french() -> None:
    keys = [r.key for r in REQUIRED_DOCUMENTS]
    assert len(keys) == len(set(keys))
    assert {r.space for r in REQUIRED_DOCUMENTS} == set(DocumentSpace)
    for requirement in REQUIRED_DOCUMENTS:
        assert str(requirement.label)[0].isupper(), requirement.key
        assert requirement.reference.startswith("art. 1er")
    # A co-owner's statements never go to a wider space; the council's neither.
    assert spaces_for_kind(DocumentKind.OWNER_ACCOUNT) == (LOT,)
    assert spaces_for_kind(DocumentKind.OWNERS_LIST) == (COUNCIL,)
    assert spaces_for_kind(DocumentKind.BYLAWS) == (OWNERS, COUNCIL)


def test_an_empty_condominium_misses_everything_required(world) -> None:  # type: ignore[no-untyped-def]
    found = statuses(world.condominium)
    assert found["bylaws"] == ChecklistStatus.MISSING
    assert found["minutes"] == ChecklistStatus.MISSING
    assert found["bank_statements"] == ChecklistStatus.MISSING
    assert found["owner_account"] == ChecklistStatus.MISSING
    # Asked for only in some condominiums: to check, not missing.
    assert found["diagnostic_asbestos"] == ChecklistStatus.TO_CHECK
    assert found["legal_proceedings"] == ChecklistStatus.TO_CHECK
    assert found["works_fund_share"] == ChecklistStatus.TO_CHECK


def test_freshness_rules(world) -> None:  # type: ignore[no-untyped-def]
    # Kept: present is enough, whatever its age.
    file_document(world, OWNERS, DocumentKind.BYLAWS, "Règlement", dated=ago(30 * 365))
    # The summary sheet: a year at most.
    file_document(world, OWNERS, DocumentKind.SUMMARY_SHEET, "Fiche", dated=ago(400))
    # Insurance: one contract has ended, the other is in force.
    file_document(
        world, OWNERS, DocumentKind.INSURANCE_CONTRACT, "Ancien", dated=ago(800), valid_until=ago(1)
    )
    # Syndic's contract: ended.
    file_document(
        world, OWNERS, DocumentKind.SYNDIC_CONTRACT, "Mandat", dated=ago(1100), valid_until=ago(5)
    )
    # The energy diagnostic is valid ten years from its date.
    file_document(world, OWNERS, DocumentKind.DIAGNOSTIC_ENERGY, "DPE", dated=ago(11 * 365))
    # Two minutes of general meetings out of three.
    for days in (20, 380):
        file_document(world, OWNERS, DocumentKind.MINUTES, f"PV {days}", dated=ago(days))
    found = statuses(world.condominium)
    assert found["bylaws"] == ChecklistStatus.PRESENT
    assert found["summary_sheet"] == ChecklistStatus.OUT_OF_DATE
    assert found["insurance_contract"] == ChecklistStatus.OUT_OF_DATE
    assert found["syndic_contract"] == ChecklistStatus.OUT_OF_DATE
    assert found["diagnostic_energy"] == ChecklistStatus.OUT_OF_DATE
    assert found["minutes"] == ChecklistStatus.INCOMPLETE

    file_document(
        world,
        OWNERS,
        DocumentKind.INSURANCE_CONTRACT,
        "Nouveau",
        dated=ago(1),
        valid_until=ago(-364),
    )
    file_document(world, OWNERS, DocumentKind.SUMMARY_SHEET, "Fiche à jour", dated=ago(10))
    file_document(world, OWNERS, DocumentKind.DIAGNOSTIC_ENERGY, "DPE récent", dated=ago(365))
    file_document(world, OWNERS, DocumentKind.MINUTES, "PV 745", dated=ago(745))
    items = {i.requirement.key: i for i in condominium_checklist(world.condominium, today=TODAY)}
    assert items["insurance_contract"].status == ChecklistStatus.PRESENT
    assert [d.title for d in items["insurance_contract"].documents] == ["Nouveau"]
    assert items["summary_sheet"].status == ChecklistStatus.PRESENT
    assert items["diagnostic_energy"].status == ChecklistStatus.PRESENT
    assert items["minutes"].status == ChecklistStatus.PRESENT
    assert [d.title for d in items["minutes"].documents] == ["PV 20", "PV 380", "PV 745"]
    # The last general meeting is more than fifteen months old: out of date.
    later = TODAY + dt.timedelta(days=460)
    assert statuses(world.condominium, later)["minutes"] == ChecklistStatus.OUT_OF_DATE


def test_a_document_of_a_dossier_or_of_the_wrong_space_does_not_count(world) -> None:  # type: ignore[no-untyped-def]
    staff = world.users["staff"]
    document_upload(
        viewer=policy.Viewer.for_user(staff),
        actor=staff,
        condominium=world.condominium,
        dossier=world.dossier,
        file=ContentFile(b"pv"),
        filename="pv.pdf",
        kind=DocumentKind.MINUTES,
        audience="owners",
        document_date=ago(10),
    )
    # Bylaws filed for the council only are not online for all co-owners.
    file_document(world, COUNCIL, DocumentKind.BYLAWS, "Règlement", dated=ago(10))
    found = statuses(world.condominium)
    assert found["minutes"] == ChecklistStatus.MISSING
    assert found["bylaws"] == ChecklistStatus.MISSING


def test_lot_statements_are_judged_per_co_owner(world) -> None:  # type: ignore[no-untyped-def]
    lot_12 = world.condominium.lots.get(number="12")
    lot_14 = world.condominium.lots.get(number="14")
    file_document(world, LOT, DocumentKind.OWNER_ACCOUNT, "Compte 12", lot=lot_12, dated=ago(30))
    items = {i.requirement.key: i for i in condominium_checklist(world.condominium, today=TODAY)}
    account = items["owner_account"]
    assert account.status == ChecklistStatus.INCOMPLETE
    assert [p.last_name for p in account.owners_lacking] == ["Voisin"]
    assert "1 copropriétaire sur 2" in account.detail
    # The call for funds of lot 14 is older than a quarter.
    file_document(world, LOT, DocumentKind.CALL_FOR_FUNDS, "Appel", lot=lot_14, dated=ago(200))
    file_document(world, LOT, DocumentKind.CALL_FOR_FUNDS, "Appel", lot=lot_12, dated=ago(20))
    file_document(world, LOT, DocumentKind.OWNER_ACCOUNT, "Compte 14", lot=lot_14, dated=ago(30))
    found = statuses(world.condominium)
    assert found["owner_account"] == ChecklistStatus.PRESENT
    assert found["calls_for_funds"] == ChecklistStatus.OUT_OF_DATE
    # A lot whose owner has another lot: one account covers both.
    cellar = Lot.objects.create(condominium=world.condominium, number="30", kind="cellar")
    cellar.ownerships.create(person=world.persons["owner_party"])
    assert statuses(world.condominium)["owner_account"] == ChecklistStatus.PRESENT


def test_checklist_page_is_for_staff_only(world, client_for) -> None:  # type: ignore[no-untyped-def]
    file_document(world, OWNERS, DocumentKind.BYLAWS, "Règlement")
    url = reverse("documents:checklist", args=[world.condominium.pk])
    for role in ROLES:
        v = policy.Viewer.for_user(world.users[role])
        assert policy.may_see_document_checklist(v, world.condominium) is (role == "staff"), role
        response = client_for(role).get(url)
        if role == "anonymous":
            assert response.status_code == 302
        else:
            assert response.status_code == (200 if role == "staff" else 404), role
    body = client_for("staff").get(url).content.decode()
    assert 'id="requis-bylaws" data-status="present"' in body
    assert 'id="requis-minutes" data-status="missing"' in body
    assert "Les procès-verbaux des trois dernières assemblées générales" in body
    assert reverse("documents:create", args=[world.condominium.pk]) + "?type=minutes" in body


# --- The demo ---------------------------------------------------------------------------


def test_the_demo_checklist_names_what_is_missing() -> None:
    demo_load(today=timezone.localdate())
    tilleuls = Condominium.objects.get(agency__name=DEMO_AGENCY_NAME, name="Résidence Les Tilleuls")
    items = {i.requirement.key: i for i in condominium_checklist(tilleuls)}
    found = {key: item.status for key, item in items.items()}
    present = {k for k, s in found.items() if s == ChecklistStatus.PRESENT}
    assert {"bylaws", "summary_sheet", "maintenance_log", "minutes", "syndic_contract"} <= present
    assert {"maintenance_contracts", "accounts", "syndic_credentials"} <= present
    assert [k for k, s in found.items() if s == ChecklistStatus.OUT_OF_DATE] == [
        "insurance_contract"
    ]
    missing = {k for k, s in found.items() if s == ChecklistStatus.MISSING}
    assert missing == {"diagnostic_energy", "bank_statements", "owners_list"}
    # Two co-owners have their statements, the others not yet.
    account = items["owner_account"]
    assert account.status == ChecklistStatus.INCOMPLETE
    lacking = {p.last_name for p in account.owners_lacking}
    assert "Lefèvre" not in lacking and "Mercier" not in lacking and "Roussel" in lacking

    manager = Client()
    manager.force_login(User.objects.get(email="claire.fontaine@cabinet-lumiere.fr"))
    body = manager.get(reverse("documents:checklist", args=[tilleuls.pk])).content.decode()
    assert 'id="requis-diagnostic_energy" data-status="missing"' in body
    assert 'id="requis-insurance_contract" data-status="out_of_date"' in body
    assert "diagnostic de performance énergétique collectif" in body


def test_the_demo_space_of_each_login() -> None:
    demo_load(today=timezone.localdate())
    tilleuls = Condominium.objects.get(agency__name=DEMO_AGENCY_NAME, name="Résidence Les Tilleuls")
    lefevre_account = Document.objects.get(filename="compte-lot-8-tilleuls.pdf")
    mercier_account = Document.objects.get(filename="compte-lot-5-tilleuls.pdf")
    accounts = Document.objects.get(filename="balance-generale-tilleuls.pdf")
    url = reverse("documents:space", args=[tilleuls.pk])
    cases = {
        # co-owner of lots 8 and 21
        "camille.lefevre@gmail.com": {lefevre_account},
        # co-owner of lots 5 and 20
        "antoine.mercier@laposte.net": {mercier_account},
        # council member, co-owner of lots 3 and 19
        "bernard.giraud@free.fr": {accounts},
    }
    for email, sees in cases.items():
        client = Client()
        client.force_login(User.objects.get(email=email))
        body = client.get(url).content.decode()
        for document in (lefevre_account, mercier_account, accounts):
            expected = document in sees
            assert (document.title in body) is expected, (email, document.title)
            status = client.get(reverse("documents:download", args=[document.pk])).status_code
            assert status == (200 if expected else 404), (email, document.title)
        assert "Règlement de copropriété et état descriptif de division" in body
        if email == "camille.lefevre@gmail.com":
            # Her statements are filed under lot 8; her cellar's empty section is not shown.
            assert "Mon lot — lot 8" in body and "Mon lot — lot 21" not in body
