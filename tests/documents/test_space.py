"""The condominium's document space (décret n° 2019-502): who sees what, through
the policy, the page and the download; and the page's constant query count."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from lanterne.documents.choices import DocumentKind, DocumentSpace
from lanterne.documents.models import Document
from lanterne.documents.services import document_upload
from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience

from ..conftest import ROLES, World
from .helpers import file_document

pytestmark = pytest.mark.django_db

OWNERS, LOT, COUNCIL = DocumentSpace.OWNERS, DocumentSpace.LOT, DocumentSpace.COUNCIL

# Which roles see each marked document of « Les Tilleuls » (lot 12 is owner_party's,
# lot 14 owner_not_party's; the council members own no lot there).
EVERY_OWNER = {"staff", "owner_party", "owner_not_party", "council_member", "council_chair"}
EXPECTED = {
    "MARK-owners": EVERY_OWNER,
    "MARK-council": {"staff", "council_member", "council_chair"},
    "MARK-lot-12": {"staff", "owner_party"},
    "MARK-lot-14": {"staff", "owner_not_party"},
    # Outside a dossier, `internal` and `parties` without a lot are staff's only.
    "MARK-internal": {"staff"},
    "MARK-parties": {"staff"},
    # A document of a dossier (for all co-owners) is read in its dossier, not
    # listed in the space.
    "MARK-dossier": EVERY_OWNER,
}
# Shown on the space page (documents outside any space are not listed there).
ON_PAGE = {"MARK-owners", "MARK-council", "MARK-lot-12", "MARK-lot-14"}


def fill_space(world: World) -> dict[str, Document]:
    lot_12 = world.condominium.lots.get(number="12")
    lot_14 = world.condominium.lots.get(number="14")
    documents = {
        "MARK-owners": file_document(world, OWNERS, DocumentKind.BYLAWS, "MARK-owners"),
        "MARK-council": file_document(world, COUNCIL, DocumentKind.BANK_STATEMENT, "MARK-council"),
        "MARK-lot-12": file_document(
            world, LOT, DocumentKind.OWNER_ACCOUNT, "MARK-lot-12", lot=lot_12
        ),
        "MARK-lot-14": file_document(
            world, LOT, DocumentKind.CALL_FOR_FUNDS, "MARK-lot-14", lot=lot_14
        ),
    }
    staff = world.users["staff"]
    for audience, dossier in (("internal", None), ("parties", None), ("owners", world.dossier)):
        marker = "MARK-dossier" if dossier else f"MARK-{audience}"
        documents[marker] = document_upload(
            viewer=policy.Viewer.for_user(staff),
            actor=staff,
            condominium=world.condominium,
            dossier=dossier,
            file=ContentFile(marker.encode()),
            filename="note.pdf",
            kind=DocumentKind.LETTER,
            title=marker,
            audience=audience,
        )
    return documents


def test_each_role_sees_its_spaces_only(world, client_for):  # type: ignore[no-untyped-def]
    documents = fill_space(world)
    elsewhere = file_document(
        world, OWNERS, DocumentKind.BYLAWS, "MARK-elsewhere", condominium=world.other_condominium
    )
    space_url = reverse("documents:space", args=[world.condominium.pk])
    for role in ROLES:
        v = policy.Viewer.for_user(world.users[role])
        listed = set(
            policy.condominium_documents_visible_to(v, world.condominium).values_list(
                "title", flat=True
            )
        )
        client = client_for(role)
        response = client.get(space_url)
        if role == "anonymous":
            assert response.status_code == 302
        else:
            expected_status = 200 if role in EVERY_OWNER else 404
            assert response.status_code == expected_status, role
        body = response.content.decode() if response.status_code == 200 else ""
        for marker, document in documents.items():
            expected = role in EXPECTED[marker]
            assert policy.may_see_document(v, document) is expected, (role, marker)
            in_space = expected and marker != "MARK-dossier"
            assert (marker in listed) is in_space, (role, marker, "queryset")
            assert (marker in body) is (expected and marker in ON_PAGE), (role, marker, "page")
            # Guessing the download URL of another co-owner's statement: 404.
            download = client.get(reverse("documents:download", args=[document.pk]))
            if role == "anonymous":
                assert download.status_code == 302
            else:
                assert download.status_code == (200 if expected else 404), (role, marker)
                if expected:
                    assert b"".join(download.streaming_content) == marker.encode()
        # The other condominium of the agency: its own co-owner and staff.
        assert policy.may_see_document(v, elsewhere) is (
            role in {"staff", "owner_other_condominium"}
        ), role
        assert ("MARK-elsewhere" in body) is False


def test_space_page_groups_by_space_and_lot(world, client_for):  # type: ignore[no-untyped-def]
    fill_space(world)
    body = (
        client_for("owner_party")
        .get(reverse("documents:space", args=[world.condominium.pk]))
        .content.decode()
    )
    assert "Tous les copropriétaires" in body
    assert "Mon lot — lot 12" in body
    assert "Mon lot — lot 14" not in body
    assert 'id="espace-council"' not in body
    assert body.index("Règlement de copropriété") < body.index("Compte du copropriétaire")

    council = (
        client_for("council_member")
        .get(reverse("documents:space", args=[world.condominium.pk]))
        .content.decode()
    )
    assert 'id="espace-council"' in council and "Mon lot" not in council

    staff = client_for("staff").get(reverse("documents:space", args=[world.condominium.pk]))
    text = staff.content.decode()
    assert 'id="espace-lot-12"' in text and 'id="espace-lot-14"' in text
    assert reverse("documents:checklist", args=[world.condominium.pk]) in text


def test_an_owner_sees_the_section_of_a_lot_without_documents(world, client_for):  # type: ignore[no-untyped-def]
    body = (
        client_for("owner_not_party")
        .get(reverse("documents:space", args=[world.condominium.pk]))
        .content.decode()
    )
    assert "Mon lot — lot 14" in body
    assert "Aucun document pour l&#x27;instant." in body or "Aucun document pour l'instant." in body


def test_the_condominium_page_links_to_the_space(world, client_for):  # type: ignore[no-untyped-def]
    url = reverse("documents:space", args=[world.condominium.pk])
    checklist = reverse("documents:checklist", args=[world.condominium.pk])
    owner = client_for("owner_party").get(reverse("condominium", args=[world.condominium.pk]))
    assert url in owner.content.decode() and checklist not in owner.content.decode()
    staff = client_for("staff").get(reverse("condominium", args=[world.condominium.pk]))
    assert checklist in staff.content.decode()


def add_documents(world: World, round: int) -> None:
    """One more document in every category of every space, lots included."""
    lots = {lot.number: lot for lot in world.condominium.lots.all()}
    for kind in (DocumentKind.BYLAWS, DocumentKind.MINUTES, DocumentKind.INSURANCE_CONTRACT):
        file_document(world, OWNERS, kind, f"{kind}-{round}")
    for kind in (DocumentKind.ACCOUNTS, DocumentKind.OWNERS_LIST):
        file_document(world, COUNCIL, kind, f"{kind}-{round}")
    for number in ("12", "14"):
        for kind in (DocumentKind.OWNER_ACCOUNT, DocumentKind.CALL_FOR_FUNDS):
            file_document(world, LOT, kind, f"{kind}-{number}-{round}", lot=lots[number])


@pytest.mark.parametrize("role", ["staff", "owner_party", "council_member"])
def test_space_page_query_count_is_constant(world, client_for, role):  # type: ignore[no-untyped-def]
    url = reverse("documents:space", args=[world.condominium.pk])
    add_documents(world, 1)
    client = client_for(role)
    client.get(url)  # once-per-process checks of middleware stay out of the count
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for round in range(2, 6):
        add_documents(world, round)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert response.status_code == 200
    assert "bylaws-5" in response.content.decode() or role != "staff"
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
    # Session, user, the viewer's roles (3), the condominium, the documents, the lots.
    assert len(many) <= 8


def test_a_lot_document_stays_out_of_dossiers_and_wider_audiences(world):  # type: ignore[no-untyped-def]
    document = file_document(
        world,
        LOT,
        DocumentKind.OWNER_ACCOUNT,
        "Compte",
        lot=world.condominium.lots.get(number="12"),
    )
    assert document.audience == Audience.PARTIES and document.space == DocumentSpace.LOT
    # The database itself refuses a lot's document that everyone would see.
    with pytest.raises(IntegrityError), transaction.atomic():
        Document.objects.filter(pk=document.pk).update(audience=Audience.OWNERS)
