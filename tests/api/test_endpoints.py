"""What the API does beyond who sees what (tests/api/test_access_matrix.py):
writes go through the dossier services (reference, audit log, timeline,
notifications, as from the web), mail is served masked as on the web, lists
are paginated in a stable order, and errors are French JSON."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from lanterne.audit.models import AuditAction, AuditLog
from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience
from lanterne.dossiers.models import Dossier, TimelineEntry
from lanterne.mail import publication
from lanterne.mail.models import Message
from lanterne.notifications.models import Notification

from ..conftest import World
from ..dossiers.test_policy_matrix import fill_timeline, make_dossier
from ..factories import CompanyFactory, DossierFactory, LotFactory, PersonFactory
from ..mail.test_publication import NEIGHBOUR_MOBILE, file, mail, publish, receive
from ..queries import constant_part
from .conftest import ApiClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_api(api_as: Callable[..., ApiClient]) -> ApiClient:
    return api_as("staff", "write")


# --- Writes through the services --------------------------------------------------------


def test_opening_a_dossier(
    world: World, staff_api: ApiClient, api_as: Callable[..., ApiClient]
) -> None:
    company = CompanyFactory(agency=world.agency, name="Plomberie Martin")
    response = staff_api.post(
        "/api/dossiers",
        {
            "condominium_id": world.condominium.pk,
            "title": "Fuite en toiture",
            "type": "water_damage",
            "description": "Infiltration au 5e.",
            "manager_id": world.persons["staff"].pk,
            "party_lot_ids": [world.party_lot.pk],
            "party_person_ids": [world.persons["owner_party"].pk],
            "party_company_ids": [company.pk],
        },
    )
    assert response.status_code == 201, response.content
    served = response.json()
    dossier = Dossier.objects.get(pk=served["id"])
    assert served["reference"] == dossier.reference
    assert dossier.reference.startswith("DOS-") and dossier.reference != world.dossier.reference
    # The usual audience of a water damage: its parties.
    assert (served["audience"], dossier.audience) == ("parties", "parties")
    assert served["status"] == "declared"
    assert served["manager"] == {
        "id": world.persons["staff"].pk,
        "full_name": world.persons["staff"].full_name,
    }
    assert [c["name"] for c in served["party_companies"]] == ["Plomberie Martin"]
    log = AuditLog.objects.get(object_type="dossiers.dossier", object_id=str(dossier.pk))
    assert log.actor == world.users["staff"] and log.action == AuditAction.CREATED
    # Its party sees it through their own token; the neighbour does not.
    assert api_as("owner_party", "read").get(f"/api/dossiers/{dossier.pk}").status_code == 200
    assert api_as("owner_not_party", "read").get(f"/api/dossiers/{dossier.pk}").status_code == 404


def test_opening_a_dossier_refuses_what_is_out_of_reach(world: World, staff_api: ApiClient) -> None:
    elsewhere = LotFactory(condominium=world.other_condominium, number="99")
    foreign = PersonFactory(agency=world.other_agency)
    base = {"condominium_id": world.condominium.pk, "title": "Fuite", "type": "works"}
    cases = {
        "party_lot_ids": ([elsewhere.pk], "Lots inconnus dans cette copropriété"),
        "party_person_ids": ([foreign.pk], "Personnes inconnues du cabinet"),
        "manager_id": (world.persons["owner_party"].pk, "membre du cabinet"),
    }
    for field, (value, message) in cases.items():
        before = Dossier.objects.count()
        response = staff_api.post("/api/dossiers", {**base, field: value})
        assert response.status_code == 422, field
        assert message in str(response.json()), (field, response.json())
        assert Dossier.objects.count() == before


def test_changing_a_dossier_changes_only_what_is_sent(world: World, staff_api: ApiClient) -> None:
    dossier = world.dossier
    dossier.manager = world.persons["staff"]
    dossier.description = "Avant"
    dossier.save()
    url = f"/api/dossiers/{dossier.pk}"
    response = staff_api.patch(url, {"title": "Fuite au plafond (lot 12)", "audience": "parties"})
    assert response.status_code == 200
    dossier.refresh_from_db()
    assert (dossier.title, dossier.audience, dossier.description) == (
        "Fuite au plafond (lot 12)",
        "parties",
        "Avant",
    )
    assert dossier.manager == world.persons["staff"]
    assert list(dossier.party_lots.all()) == [world.party_lot]
    log = AuditLog.objects.filter(object_id=str(dossier.pk)).latest("id")
    assert log.action == AuditAction.AUDIENCE_CHANGED
    assert log.changes["audience"] == ["owners", "parties"]
    # `null` leaves a field alone, but removes the manager.
    staff_api.patch(url, {"title": None, "manager_id": None, "party_lot_ids": []})
    dossier.refresh_from_db()
    assert dossier.title == "Fuite au plafond (lot 12)"
    assert dossier.manager is None and not dossier.party_lots.exists()


def test_status_tasks_notes_and_decisions_enter_the_timeline(
    world: World, staff_api: ApiClient, api_as: Callable[..., ApiClient]
) -> None:
    dossier = world.dossier
    base = f"/api/dossiers/{dossier.pk}"
    wrong = staff_api.post(f"{base}/status", {"status": "minutes_sent"})
    assert wrong.status_code == 422
    assert wrong.json()["detail"].startswith("Un dossier « Déclaré » ne peut pas passer")
    moved = staff_api.post(f"{base}/status", {"status": "leak_search", "comment": "Plombier"})
    assert moved.status_code == 200 and moved.json()["status"] == "leak_search"
    task = staff_api.post(
        f"{base}/tasks",
        {
            "title": "Relancer l'assureur",
            "due_on": "2026-04-01",
            "assignee_id": world.persons["staff"].pk,
            "audience": "internal",
        },
    ).json()
    assert task["audience"] == "internal" and task["assignee"]["id"] == world.persons["staff"].pk
    done = staff_api.patch(f"/api/tasks/{task['id']}", {"status": "done"})
    assert done.status_code == 200 and done.json()["completed_at"]
    assert staff_api.patch(f"/api/tasks/{task['id']}", {"status": "done"}).status_code == 200
    reopen = staff_api.patch(f"/api/tasks/{task['id']}", {"status": "open"})
    assert reopen.status_code == 422
    note = staff_api.post(f"{base}/notes", {"text": "Appel de M. Partie."})
    assert note.status_code == 201 and note.json()["audience"] == "owners"
    decision = staff_api.post(
        f"{base}/decisions", {"decided_by": "manager", "text": "Recherche de fuite commandée."}
    )
    assert decision.status_code == 201
    kinds = [
        (e["kind"], e["event"])
        for e in staff_api.get(f"{base}/timeline", limit=100).json()["items"]
    ]
    assert kinds == [
        ("decision", "created"),
        ("note", "created"),
        ("task", "completed"),
        ("task", "created"),
        ("status_change", "created"),
    ]
    assert TimelineEntry.objects.filter(dossier=dossier).count() == 5
    # The note was for every co-owner: its followers were told, as from the web.
    told = set(
        Notification.objects.filter(entry__note_id=note.json()["id"]).values_list(
            "user__email", flat=True
        )
    )
    assert "owner-party@exemple.fr" in told
    assert not Notification.objects.filter(entry__task_id=task["id"]).exists()
    # The council's chair records the council's opinion, for the council at least.
    chair = api_as("council_chair", "write")
    opinion = chair.post(
        f"{base}/decisions",
        {"decided_by": "council", "text": "Avis favorable", "audience": "internal"},
    )
    assert opinion.status_code == 201
    assert opinion.json()["audience"] is None  # not a staff field for the chair
    assert dossier.decisions.get(text="Avis favorable").audience == Audience.COUNCIL


# --- Mail as the web serves it ------------------------------------------------------------


def test_co_owners_read_mail_masked_and_without_its_html(
    world: World, api_as: Callable[..., ApiClient]
) -> None:
    data = mail(html=f"<p>Appelez Mme Leroy au {NEIGHBOUR_MOBILE}</p>")
    message = publish(world, file(world, receive(world, data)), Audience.OWNERS)
    owner = api_as("owner_not_party", "read").get(f"/api/messages/{message.pk}").json()
    assert NEIGHBOUR_MOBILE not in str(owner)
    assert "[téléphone masqué]" in owner["new_text"] and owner["masked"] is True
    assert owner["html"] is None
    assert owner["from_address"] is None and owner["filing"] is None and owner["to"] is None
    # Exactly the texts the web serves them (`publication.message_texts_for`).
    viewer = policy.Viewer.for_user(world.users["owner_not_party"])
    loaded = Message.objects.select_related("dossier", "agency").get(pk=message.pk)
    texts = publication.message_texts_for(viewer, loaded)
    assert (owner["subject"], owner["new_text"], owner["text"]) == (
        texts.subject,
        texts.new_text,
        texts.text,
    )
    staff = api_as("staff", "read").get(f"/api/messages/{message.pk}").json()
    assert NEIGHBOUR_MOBILE in staff["new_text"] and staff["masked"] is False
    assert NEIGHBOUR_MOBILE in staff["html"]
    assert staff["filing"]["method"] == "manual"
    assert staff["review"] == "published" and staff["audience"] == "owners"
    assert staff["dossier_reference"] == world.dossier.reference
    # In the timeline too.
    timeline = api_as("owner_not_party", "read").get(
        f"/api/dossiers/{world.dossier.pk}/timeline", kind="message"
    )
    (entry,) = timeline.json()["items"]
    assert entry["message"]["new_text"] == texts.new_text
    assert entry["message"]["html"] is None


# --- Pagination and errors ----------------------------------------------------------------


def test_lists_are_paginated_in_a_stable_order(world: World, staff_api: ApiClient) -> None:
    for number in range(7):
        DossierFactory(
            condominium=world.condominium, title=f"Dossier {number}", opened_on="2026-03-01"
        )
    first = staff_api.get("/api/dossiers", limit=3).json()
    assert (first["count"], first["limit"], first["offset"]) == (8, 3, 0)
    pages = [
        staff_api.get("/api/dossiers", limit=3, offset=offset).json()["items"]
        for offset in (0, 3, 6)
    ]
    ids = [d["id"] for page in pages for d in page]
    assert len(ids) == 8 and len(set(ids)) == 8
    # Same opening day: newest id first, as the web's list.
    same_day = [d["id"] for page in pages for d in page if d["opened_on"] == "2026-03-01"]
    assert same_day == sorted(same_day, reverse=True)
    assert staff_api.get("/api/dossiers", offset=50).json()["items"] == []
    too_many = staff_api.get("/api/dossiers", limit=101)
    assert too_many.status_code == 422
    assert too_many.json()["errors"] == [
        {"loc": ["query", "limit"], "message": "Valeur trop grande (maximum : 100)."}
    ]


def test_errors_are_french_json(world: World, staff_api: ApiClient) -> None:
    base = f"/api/dossiers/{world.dossier.pk}"
    missing = staff_api.post(f"{base}/notes", {})
    assert missing.status_code == 422
    assert missing.json() == {
        "detail": "La requête n'est pas valide.",
        "errors": [{"loc": ["body", "text"], "message": "Champ obligatoire."}],
    }
    nul = staff_api.post(f"{base}/notes", {"text": "a\x00b"})
    assert nul.status_code == 422
    assert nul.json()["errors"][0]["message"] == "Le caractère NUL n'est pas admis."
    unknown = staff_api.post(f"{base}/notes", {"text": "x", "audience": "everyone"})
    assert "valeurs possibles" in unknown.json()["errors"][0]["message"]
    assert " ou " in unknown.json()["errors"][0]["message"]
    not_json = staff_api.client.post(
        f"{base}/notes",
        "{pas du json",
        content_type="application/json",
        headers={"Authorization": f"Bearer {staff_api.secret}"},
    )
    assert not_json.status_code == 422
    assert not_json.json()["detail"] == "Le corps de la requête n'est pas du JSON valide."
    huge = staff_api.get(f"/api/dossiers/{2**64}")
    assert huge.status_code == 422
    absent = staff_api.get("/api/dossiers/999999")
    assert absent.status_code == 404
    assert absent.json() == {"detail": "Introuvable, ou vous n'y avez pas accès.", "errors": []}
    assert absent["Content-Type"] == "application/json; charset=utf-8"


def _queries(api: ApiClient, path: str, **params: object) -> int:
    """The queries of a request, less one per kind of object its timeline
    entries point at (`tests.queries.constant_part`)."""
    with CaptureQueriesContext(connection) as queries:
        response = api.get(path, **params)
    assert response.status_code == 200, response.content
    return len(constant_part([query["sql"] for query in queries.captured_queries]))


def test_a_page_costs_the_same_queries_whatever_its_length(
    world: World, api_as: Callable[..., ApiClient]
) -> None:
    """Every object a page shows is loaded with the page (parties, assignees,
    mail texts and attachments): as many queries for one item as for four."""
    dossier = make_dossier(world, "owners")
    fill_timeline(world, dossier)
    for _ in range(10):
        DossierFactory(condominium=world.condominium).party_lots.add(world.party_lot)
    timeline = f"/api/dossiers/{dossier.pk}/timeline"
    for role in ("staff", "owner_party"):
        api = api_as(role, "read")
        api.get("/api/persons")  # the token's first use is written once
        for path, params in (
            ("/api/dossiers", {}),
            (timeline, {}),
            (timeline, {"kind": "message"}),
            (timeline, {"kind": "task"}),
            (f"/api/dossiers/{dossier.pk}/tasks", {}),
            (f"/api/dossiers/{dossier.pk}/documents", {}),
            ("/api/messages", {}),
            ("/api/persons", {}),
        ):
            short = _queries(api, path, limit=1, **params)
            long = _queries(api, path, limit=4, **params)
            assert short == long, (role, path, short, long)
