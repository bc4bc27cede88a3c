"""The API's access matrix: every role × every object kind × every audience,
read and written through API tokens.

The expectations are those of the web's matrix (tests/dossiers/test_policy_matrix.py:
`MEMBERS`, `LOT_MEMBERS`, …), written out there by hand from GLOSSARY.md,
independently of the policy module; the same roles (tests/conftest.py), each
with a token of their own agency. Every list and every detail must return
exactly what the matrix says — a 404 for the rest, never a 403 that would
reveal it — and no token may write beyond its scope: a read token writes
nothing, a co-owner writes nothing (the council's chair records the council's
opinion, as on the web), and nobody writes into an agency or a dossier they
cannot see."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.base import ContentFile

from lanterne.api.services import api_token_create
from lanterne.audit.models import AuditLog
from lanterne.documents.choices import DocumentKind, DocumentSpace
from lanterne.documents.services import condominium_document_upload, document_upload
from lanterne.dossiers import services
from lanterne.dossiers.models import Decision, Dossier, Note, StatusChange, Task, TimelineEntry
from lanterne.mail.filing import message_file
from lanterne.mail.models import FilingMethod, Message

from ..conftest import ROLES, World
from ..dossiers.test_policy_matrix import (
    AUDIENCES,
    KINDS,
    LOT_MEMBERS,
    LOTS_LISTED,
    MAY_SEE_CONDOMINIUM,
    MAY_SEE_OTHER_CONDOMINIUM,
    MEMBERS,
    MEMBERS_COUNCIL_FOLLOWS,
    fill_timeline,
    make_dossier,
    received_mail_with_files,
    viewer,
)
from ..factories import CondominiumFactory, DossierFactory, PersonFactory, StaffFactory
from .conftest import ApiClient

pytestmark = pytest.mark.django_db

# Roles with a login: each gets a token of their own agency.
LOGGED_IN = [role for role in ROLES if role != "anonymous"]
# What the web shows the agency's staff only (audiences…): `null` for others.
STAFF_FIELDS_FOR = {"staff"}


def items(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == len(body["items"]), "the matrix reads one page"
    return body["items"]


def entry_marker(entry: dict[str, Any]) -> str:
    """The marker an entry of `fill_timeline` carries, as the API serves it."""
    kind = entry["kind"]
    subject = entry[kind]
    text = {
        "note": lambda: subject["text"],
        "task": lambda: subject["title"],
        "decision": lambda: subject["text"],
        "status_change": lambda: subject["comment"],
        "document": lambda: subject["title"],
        "message": lambda: subject["subject"].removeprefix("Devis "),
    }[kind]()
    assert text.startswith(f"MARK-{kind}-"), text
    return text


# --- Anonymous ------------------------------------------------------------------------


def test_without_a_token_nothing_is_served(world: World) -> None:
    anonymous = ApiClient(None)
    wrong = ApiClient("lnt_" + "x" * 43)
    for path in (
        "/api/dossiers",
        f"/api/dossiers/{world.dossier.pk}",
        "/api/condominiums",
        "/api/persons",
        "/api/messages",
    ):
        for client in (anonymous, wrong):
            response = client.get(path)
            assert response.status_code == 401, path
            assert response["WWW-Authenticate"].startswith("Bearer")
            assert "jeton" in response.json()["detail"].lower()


# --- Dossiers -------------------------------------------------------------------------


@pytest.mark.parametrize("council_follows", [False, True])
@pytest.mark.parametrize("dossier_audience", AUDIENCES)
def test_dossier_visibility(
    world: World, api_as: Callable[..., ApiClient], dossier_audience: str, council_follows: bool
) -> None:
    dossier = make_dossier(world, dossier_audience, council_follows=council_follows)
    members = MEMBERS_COUNCIL_FOLLOWS if council_follows else MEMBERS
    for role in LOGGED_IN:
        expected = role in members[dossier_audience]
        api = api_as(role, "read")
        listed = {d["id"] for d in items(api.get("/api/dossiers", limit=100))}
        assert (dossier.pk in listed) is expected, (role, dossier_audience)
        assert (world.dossier.pk in listed) is (role in MEMBERS["owners"]), role
        for path in ("", "/timeline", "/tasks", "/decisions", "/notes", "/documents"):
            response = api.get(f"/api/dossiers/{dossier.pk}{path}")
            assert response.status_code == (200 if expected else 404), (role, path)
        messages = api.get("/api/messages", dossier_id=dossier.pk)
        assert messages.status_code == 200
        if expected:
            served = api.get(f"/api/dossiers/{dossier.pk}").json()
            assert served["reference"] == dossier.reference
            assert [lot["number"] for lot in served["party_lots"]] == ["12"]
            staff_fields = role in STAFF_FIELDS_FOR
            assert (served["audience"] == dossier_audience) is staff_fields, role
            assert (served["council_sees_parties"] is None) is not staff_fields, role


@pytest.mark.parametrize("dossier_audience", AUDIENCES)
def test_timeline_entries_and_documents(
    world: World, api_as: Callable[..., ApiClient], dossier_audience: str
) -> None:
    dossier = make_dossier(world, dossier_audience)
    fill_timeline(world, dossier)
    entries = list(dossier.timeline.all())
    tasks = list(Task.objects.filter(dossier=dossier))
    decisions = list(Decision.objects.filter(dossier=dossier))
    documents = list(dossier.documents.all())
    mails = list(Message.objects.filter(dossier=dossier))
    assert len(entries) == len(KINDS) * len(AUDIENCES)
    for role in LOGGED_IN:
        api = api_as(role, "read")

        def sees(audience: str, role: str = role) -> bool:
            return role in MEMBERS[dossier_audience] and role in MEMBERS[audience]

        expected = {
            f"MARK-{kind}-{audience}" for kind in KINDS for audience in AUDIENCES if sees(audience)
        }
        timeline = api.get(f"/api/dossiers/{dossier.pk}/timeline", limit=100)
        if role not in MEMBERS[dossier_audience]:
            assert timeline.status_code == 404, role
        else:
            served = items(timeline)
            assert {entry_marker(entry) for entry in served} == expected, role
            staff_fields = role in STAFF_FIELDS_FOR
            for entry in served:
                assert (entry["audience"] is not None) is staff_fields, (role, entry["kind"])
                assert (entry["actor"] is not None) is staff_fields, (role, entry["kind"])
            for kind in KINDS:
                only = items(api.get(f"/api/dossiers/{dossier.pk}/timeline", kind=kind))
                assert {entry["kind"] for entry in only} <= {kind}
                assert {entry_marker(e) for e in only} == {
                    m for m in expected if m.startswith(f"MARK-{kind}-")
                }, (role, kind)
            listed = {
                "tasks": {t["title"] for t in items(api.get(f"/api/dossiers/{dossier.pk}/tasks"))},
                "decisions": {
                    d["text"] for d in items(api.get(f"/api/dossiers/{dossier.pk}/decisions"))
                },
                "notes": {n["text"] for n in items(api.get(f"/api/dossiers/{dossier.pk}/notes"))},
                "documents": {
                    d["title"] for d in items(api.get(f"/api/dossiers/{dossier.pk}/documents"))
                },
            }
            for name, kind in (
                ("tasks", "task"),
                ("decisions", "decision"),
                ("notes", "note"),
                ("documents", "document"),
            ):
                assert listed[name] == {m for m in expected if m.startswith(f"MARK-{kind}-")}, (
                    role,
                    name,
                )
        for entry in entries:
            status = api.get(f"/api/entries/{entry.pk}").status_code
            assert status == (200 if sees(entry.audience) else 404), (role, entry.kind)
        for task in tasks:
            status = api.get(f"/api/tasks/{task.pk}").status_code
            assert status == (200 if sees(task.audience) else 404), (role, "task", task.audience)
        for decision in decisions:
            status = api.get(f"/api/decisions/{decision.pk}").status_code
            assert status == (200 if sees(decision.audience) else 404), (role, decision.audience)
        for document in documents:
            detail = api.get(f"/api/documents/{document.pk}")
            download = api.get(f"/api/documents/{document.pk}/download")
            assert detail.status_code == (200 if sees(document.audience) else 404), role
            assert download.status_code == (200 if sees(document.audience) else 404), role
            if sees(document.audience):
                assert download["Content-Disposition"].startswith("attachment")
                assert download["Content-Security-Policy"] == "default-src 'none'; sandbox"
                assert b"".join(download.streaming_content) == (
                    f"contenu {document.audience}".encode()
                )
        readable = {m["subject"] for m in items(api.get("/api/messages", limit=100))}
        for mail in mails:
            detail = api.get(f"/api/messages/{mail.pk}")
            assert detail.status_code == (200 if sees(mail.audience) else 404), role
            assert (mail.subject in readable) is sees(mail.audience), (role, mail.audience)


@pytest.mark.parametrize("audience", ["internal", "council", "owners"])
def test_condominium_documents(
    world: World, api_as: Callable[..., ApiClient], audience: str
) -> None:
    """A document of the condominium outside any dossier (bylaws, minutes…)."""
    document = document_upload(
        viewer=viewer(world, "staff"),
        actor=world.users["staff"],
        condominium=world.condominium,
        file=ContentFile(b"reglement"),
        filename="reglement.pdf",
        kind=DocumentKind.BYLAWS,
        title="MARK-bylaws",
        audience=audience,
    )
    for role in LOGGED_IN:
        expected = role in MEMBERS[audience]
        api = api_as(role, "read")
        space = api.get(f"/api/condominiums/{world.condominium.pk}/documents")
        if role in MAY_SEE_CONDOMINIUM:
            titles = {d["title"] for d in items(space)}
            assert ("MARK-bylaws" in titles) is expected, (role, audience)
        else:
            assert space.status_code == 404, role
        for path in (f"/api/documents/{document.pk}", f"/api/documents/{document.pk}/download"):
            assert api.get(path).status_code == (200 if expected else 404), (role, path)


@pytest.mark.parametrize("lot_number", sorted(LOT_MEMBERS))
def test_lot_documents(world: World, api_as: Callable[..., ApiClient], lot_number: str) -> None:
    """« Mon lot »: the owners of that lot and staff only — not the council."""
    document = condominium_document_upload(
        viewer=viewer(world, "staff"),
        actor=world.users["staff"],
        condominium=world.condominium,
        space=DocumentSpace.LOT,
        lot=world.condominium.lots.get(number=lot_number),
        file=ContentFile(f"compte {lot_number}".encode()),
        filename="compte.pdf",
        kind=DocumentKind.OWNER_ACCOUNT,
        title=f"MARK-lot-{lot_number}",
    )
    for role in LOGGED_IN:
        expected = role in LOT_MEMBERS[lot_number]
        api = api_as(role, "read")
        space = api.get(f"/api/condominiums/{world.condominium.pk}/documents")
        if role in MAY_SEE_CONDOMINIUM:
            titles = {d["title"] for d in items(space)}
            assert (f"MARK-lot-{lot_number}" in titles) is expected, (role, lot_number)
        download = api.get(f"/api/documents/{document.pk}/download")
        assert download.status_code == (200 if expected else 404), (role, lot_number)
        if expected:
            assert b"".join(download.streaming_content) == f"compte {lot_number}".encode()


# --- Condominiums, lots, persons --------------------------------------------------------


def test_condominiums_lots_and_contact_book(world: World, api_as: Callable[..., ApiClient]) -> None:
    lots = {lot.number: lot for lot in world.condominium.lots.all()} | {
        lot.number: lot for lot in world.other_condominium.lots.all()
    }
    agency_persons = {p.pk for p in world.persons.values() if p.agency_id == world.agency.pk}
    for role in LOGGED_IN:
        api = api_as(role, "read")
        condominiums = {c["id"] for c in items(api.get("/api/condominiums"))}
        for condominium, allowed in (
            (world.condominium, MAY_SEE_CONDOMINIUM),
            (world.other_condominium, MAY_SEE_OTHER_CONDOMINIUM),
        ):
            expected = role in allowed
            assert (condominium.pk in condominiums) is expected, (role, condominium.name)
            detail = api.get(f"/api/condominiums/{condominium.pk}")
            assert detail.status_code == (200 if expected else 404), (role, condominium.name)
            if expected:
                registry = detail.json()["registry_number"]
                assert (registry is not None) is (role in STAFF_FIELDS_FOR), role
        listed = set()
        for condominium_id in condominiums:
            listed |= {
                lot["number"] for lot in items(api.get(f"/api/condominiums/{condominium_id}/lots"))
            }
        assert listed == LOTS_LISTED[role], role
        for number, lot in lots.items():
            status = api.get(f"/api/lots/{lot.pk}").status_code
            assert status == (200 if number in LOTS_LISTED[role] else 404), (role, number)
        # The contact book: staff read their agency's, contact details included;
        # everyone else reads themselves only.
        persons = {p["id"]: p for p in items(api.get("/api/persons", limit=100))}
        me = world.persons[role]
        if role == "staff":
            assert set(persons) == agency_persons
            assert all(p["contact"] is not None for p in persons.values())
        else:
            assert set(persons) == {me.pk}, role
            assert persons[me.pk]["contact"] is not None
        for other_role, person in world.persons.items():
            expected = (role == "staff" and person.pk in agency_persons) or other_role == role
            status = api.get(f"/api/persons/{person.pk}").status_code
            assert status == (200 if expected else 404), (role, other_role)


def test_a_co_owner_reads_the_parties_names_never_their_contact_details(
    world: World, api_as: Callable[..., ApiClient]
) -> None:
    neighbour = world.persons["owner_not_party"]
    neighbour.phones = ["06 12 34 56 78"]
    neighbour.save(update_fields=["phones"])
    world.dossier.party_persons.add(neighbour)
    served = api_as("owner_party", "read").get(f"/api/dossiers/{world.dossier.pk}")
    assert served.json()["party_persons"] == [
        {"id": neighbour.pk, "full_name": neighbour.full_name}
    ]
    assert "06 12" not in served.content.decode()
    assert api_as("owner_party", "read").get(f"/api/persons/{neighbour.pk}").status_code == 404


# --- Mail -------------------------------------------------------------------------------


@pytest.mark.parametrize("council_follows", [False, True])
@pytest.mark.parametrize("dossier_audience", AUDIENCES)
def test_mail_reads(
    world: World, api_as: Callable[..., ApiClient], dossier_audience: str, council_follows: bool
) -> None:
    """A mail, its attachments and inline images are read by exactly those who
    see its timeline entry; a mail in no dossier by the agency's staff only.
    Its HTML version by the staff — and by the others once staff unmasked it."""
    dossier = make_dossier(world, dossier_audience, council_follows=council_follows)
    members = MEMBERS_COUNCIL_FOLLOWS if council_follows else MEMBERS
    mails: dict[str | None, Message] = {}
    for audience in AUDIENCES:
        mails[audience] = message_file(
            viewer=viewer(world, "staff"),
            actor=world.users["staff"],
            message=received_mail_with_files(world, f"MARK-mail-{audience}"),
            dossier=dossier,
            method=FilingMethod.MANUAL,
            reason="Classé par le test",
            audience=audience,
        )
    mails[None] = received_mail_with_files(world, "MARK-mail-unfiled")
    for unmasked in (False, True):
        Message.objects.filter(dossier=dossier).update(unmasked=unmasked)
        for role in LOGGED_IN:
            api = api_as(role, "read")
            readable = {m["id"] for m in items(api.get("/api/messages", limit=100))}
            for audience, mail in mails.items():
                if audience is None:
                    expected = role == "staff"
                else:
                    expected = role in members[dossier_audience] and role in members[audience]
                assert (mail.pk in readable) is expected, (role, audience)
                detail = api.get(f"/api/messages/{mail.pk}")
                assert detail.status_code == (200 if expected else 404), (role, audience)
                original = expected and (role == "staff" or (unmasked and audience is not None))
                if expected:
                    served = detail.json()
                    assert (served["html"] is not None) is original, (role, audience, unmasked)
                    assert (served["filing"] is not None) is (role == "staff")
                    assert (served["from_address"] is not None) is (role == "staff")
                    names = {a["filename"] for a in served["attachments"]}
                    assert names == {"photo.png", "devis.pdf"}, names
                for attachment in mail.attachments.all():
                    download = api.get(f"/api/attachments/{attachment.pk}/download")
                    assert download.status_code == (200 if expected else 404), (role, audience)
                    if expected:
                        assert download["Content-Disposition"].startswith("attachment")
                        assert b"MARK-mail" in b"".join(download.streaming_content)


# --- Writes ---------------------------------------------------------------------------


def _rows() -> dict[str, int]:
    """How many rows each write could add or change."""
    return {
        "dossiers": Dossier.objects.count(),
        "titles": Dossier.objects.filter(title="Titre changé").count(),
        "status_changes": StatusChange.objects.count(),
        "tasks": Task.objects.count(),
        "done": Task.objects.filter(status="done").count(),
        "notes": Note.objects.count(),
        "decisions": Decision.objects.count(),
        "entries": TimelineEntry.objects.count(),
        "audit": AuditLog.objects.count(),
    }


def _writes(world: World, dossier: Dossier, task: Task) -> dict[str, Callable[[ApiClient], Any]]:
    return {
        "open": lambda api: api.post(
            "/api/dossiers",
            {"condominium_id": world.condominium.pk, "title": "Ravalement", "type": "works"},
        ),
        "edit": lambda api: api.patch(f"/api/dossiers/{dossier.pk}", {"title": "Titre changé"}),
        "status": lambda api: api.post(
            f"/api/dossiers/{dossier.pk}/status", {"status": "in_progress"}
        ),
        "task": lambda api: api.post(f"/api/dossiers/{dossier.pk}/tasks", {"title": "Relancer"}),
        "complete": lambda api: api.patch(f"/api/tasks/{task.pk}", {"status": "done"}),
        "note": lambda api: api.post(f"/api/dossiers/{dossier.pk}/notes", {"text": "Appel"}),
        "decision": lambda api: api.post(
            f"/api/dossiers/{dossier.pk}/decisions", {"decided_by": "manager", "text": "Oui"}
        ),
        "council_opinion": lambda api: api.post(
            f"/api/dossiers/{dossier.pk}/decisions",
            {"decided_by": "council", "text": "Avis favorable"},
        ),
    }


# What each role's write token gets for each write on a dossier of « Les
# Tilleuls » seen by every co-owner: staff write; those who see it but may
# not change it are refused (403); those who do not see it get 404 — or, for
# a dossier opened in a condominium they cannot see, 422 (« Copropriété
# inconnue »), the same as for one that does not exist.
WRITE_STATUS = {
    "staff": {
        "open": 201,
        "edit": 200,
        "status": 200,
        "task": 201,
        "complete": 200,
        "note": 201,
        "decision": 201,
        "council_opinion": 201,
    },
    "council_chair": {
        **dict.fromkeys(("open", "edit", "status", "task", "complete", "note", "decision"), 403),
        "council_opinion": 201,
    },
    **{
        role: dict.fromkeys(
            ("open", "edit", "status", "task", "complete", "note", "decision", "council_opinion"),
            403,
        )
        for role in ("council_member", "owner_party", "owner_not_party")
    },
    **{
        role: {
            "open": 422,
            **dict.fromkeys(
                ("edit", "status", "task", "complete", "note", "decision", "council_opinion"), 404
            ),
        }
        for role in ("owner_other_condominium", "staff_other_agency")
    },
}


def test_writes_within_scope_only(world: World, api_as: Callable[..., ApiClient]) -> None:
    assert set(WRITE_STATUS) == set(LOGGED_IN)
    dossier = make_dossier(world, "owners")
    task = services.task_create(
        viewer=viewer(world, "staff"), actor=world.users["staff"], dossier=dossier, title="À faire"
    )
    writes = _writes(world, dossier, task)
    anonymous = ApiClient(None)
    for name, write in writes.items():
        before = _rows()
        assert write(anonymous).status_code == 401, name
        assert _rows() == before, name
    # Read tokens, whoever holds them, write nothing.
    for role in LOGGED_IN:
        api = api_as(role, "read")
        for name, write in writes.items():
            before = _rows()
            response = write(api)
            assert response.status_code == 403, (role, name, response.content)
            assert response.json()["detail"] == "Ce jeton ne permet que la lecture."
            assert _rows() == before, (role, name)
    # Write tokens write what their login may write on the web, no more.
    for role in [*(r for r in LOGGED_IN if r != "staff"), "staff"]:
        api = api_as(role, "write")
        for name, write in writes.items():
            before = _rows()
            response = write(api)
            expected = WRITE_STATUS[role][name]
            assert response.status_code == expected, (role, name, response.content)
            if expected >= 400:
                assert _rows() == before, (role, name)
                assert response.json()["detail"], (role, name)
            else:
                assert _rows()["audit"] > before["audit"], (role, name)
    dossier.refresh_from_db()
    task.refresh_from_db()
    assert (dossier.title, dossier.status, task.status) == ("Titre changé", "in_progress", "done")


def test_a_token_reads_and_writes_in_its_own_agency_only(
    world: World, api_as: Callable[..., ApiClient]
) -> None:
    """A login that is staff of two agencies, with a token of each: each token
    sees and changes its agency only, even where the login could do more."""
    user = world.users["staff"]
    StaffFactory(agency=world.other_agency, user=user)
    neighbour = CondominiumFactory(agency=world.other_agency, name="Le Voisinage")
    theirs = DossierFactory(condominium=neighbour, audience="owners", title="Chez le voisin")
    PersonFactory(agency=world.other_agency, last_name="Contact-voisin")
    ours, others = (
        ApiClient(
            api_token_create(
                actor=None, user=user, agency=agency, scope="write", name="Deux cabinets"
            ).secret
        )
        for agency in (world.agency, world.other_agency)
    )
    for api, mine, foreign, condominium in (
        (ours, world.dossier, theirs, neighbour),
        (others, theirs, world.dossier, world.condominium),
    ):
        assert {d["id"] for d in items(api.get("/api/dossiers"))} == {mine.pk}
        assert api.get(f"/api/dossiers/{foreign.pk}").status_code == 404
        assert api.get(f"/api/condominiums/{foreign.condominium_id}").status_code == 404
        names = {p["last_name"] for p in items(api.get("/api/persons", limit=100))}
        assert ("Contact-voisin" in names) is (mine == theirs)
        before = _rows()
        assert (
            api.patch(f"/api/dossiers/{foreign.pk}", {"title": "Titre changé"}).status_code == 404
        )
        assert api.post(f"/api/dossiers/{foreign.pk}/notes", {"text": "x"}).status_code == 404
        opened = api.post(
            "/api/dossiers", {"condominium_id": condominium.pk, "title": "Fuite", "type": "works"}
        )
        assert opened.status_code == 422
        assert opened.json()["errors"] == [
            {"loc": ["body", "condominium_id"], "message": "Copropriété inconnue."}
        ]
        assert _rows() == before
