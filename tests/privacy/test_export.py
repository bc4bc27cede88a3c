"""A person's data export (RGPD art. 15 and 20): what it holds, what it
never holds (a neighbour's data), who may download it, and the log."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.urls import reverse

from lanterne.audit.models import AuditAction, AuditLog
from lanterne.audit.services import audit_record
from lanterne.dossiers.choices import DossierType
from lanterne.notifications.choices import Frequency
from lanterne.notifications.models import Follow, NotificationPreference
from lanterne.privacy.export import person_export_build, person_export_zip

from ..conftest import World
from ..factories import DossierFactory
from .helpers import (
    NEIGHBOUR_EMAIL,
    NEIGHBOUR_FORMS,
    PARTY_EMAIL,
    PARTY_MOBILE,
    filed_and_published,
    give_contacts,
    lot_document,
    neighbour_mail,
    party_mail,
)

pytestmark = pytest.mark.django_db


def scene(world: World) -> dict[str, object]:
    """Data about the party and about the neighbour, side by side."""
    party, neighbour = give_contacts(world)
    sent = filed_and_published(world, party_mail(world))
    neighbour_mail(world)
    neighbour_lot = neighbour.ownerships.get().lot
    mine = lot_document(world, world.party_lot, b"%PDF-1.4 MARK-PARTY-LOT", "Charges lot 12")
    theirs = lot_document(world, neighbour_lot, b"%PDF-1.4 MARK-NEIGHBOUR-LOT", "Charges lot 14")
    user = world.users["owner_party"]
    other = DossierFactory(condominium=world.condominium, type=DossierType.WORKS)
    Follow.objects.create(user=user, dossier=other, following=True)
    NotificationPreference.objects.create(user=user, frequency=Frequency.DIGEST)
    neighbour_user = world.users["owner_not_party"]
    Follow.objects.create(user=neighbour_user, dossier=world.dossier, following=False)
    audit_record(
        actor=world.users["staff"],
        agency_id=world.agency.pk,
        action=AuditAction.INVITED,
        target=party,
        summary=f"Invitation envoyée à {PARTY_EMAIL}",
    )
    audit_record(
        actor=world.users["staff"],
        agency_id=world.agency.pk,
        action=AuditAction.INVITED,
        target=neighbour,
        summary=f"Invitation envoyée à {NEIGHBOUR_EMAIL}",
    )
    return {"party": party, "neighbour": neighbour, "sent": sent, "mine": mine, "theirs": theirs}


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def download(client, person_id: int):  # type: ignore[no-untyped-def]
    return client.post(reverse("privacy:export", args=[person_id]))


def test_the_export_holds_the_persons_data_and_nothing_of_a_neighbour(world, client_for):  # type: ignore[no-untyped-def]
    objects = scene(world)
    party = objects["party"]
    response = download(client_for("staff"), party.pk)
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/zip"
    assert f"lanterne-donnees-personne-{party.pk}.zip" in response["Content-Disposition"]
    raw = b"".join(response.streaming_content)
    files = unzip(raw)
    assert {"LISEZMOI.txt", "personne.json", "courriels.json", "journal.json"} <= set(files)

    person = json.loads(files["personne.json"])
    assert person["person"]["last_name"] == "Partie"
    assert person["person"]["phones"] == [PARTY_MOBILE]
    assert [e["address"] for e in person["person"]["emails"]] == [PARTY_EMAIL]
    assert [(lot["condominium"], lot["lot"]) for lot in person["lots"]] == [("Les Tilleuls", "12")]
    assert person["account"]["email"] == "owner-party@exemple.fr"
    assert "password" not in json.dumps(person["account"])

    follows = json.loads(files["suivis-et-notifications.json"])
    assert follows["notification_frequency"] == "digest"
    assert [f["following"] for f in follows["follows"]] == [True]

    mails = json.loads(files["courriels.json"])
    assert [m["subject"] for m in mails] == ["Fuite chez moi MARK-PARTY"]
    # Their own phone and address stay readable to them; the neighbour's are masked.
    assert PARTY_MOBILE in mails[0]["text"]
    assert mails[0]["from"]["address"] == PARTY_EMAIL
    assert "[téléphone masqué]" in mails[0]["text"]
    assert mails[0]["cc"] == [{"name": "Voisin", "address": "[adresse e-mail masquée]"}]
    assert mails[0]["dossier"] == world.dossier.reference

    documents = json.loads(files["documents.json"])
    assert [d["title"] for d in documents] == ["Charges lot 12"]
    assert files[documents[0]["file"]] == b"%PDF-1.4 MARK-PARTY-LOT"

    journal = json.loads(files["journal.json"])
    assert any(PARTY_EMAIL in row["summary"] for row in journal)

    # Nothing of the neighbour, in any member of the archive, nor in its bytes.
    everything = raw + b"".join(files.values())
    for value in (*NEIGHBOUR_FORMS, "MARK-NEIGHBOUR"):
        assert value.encode() not in everything, value

    log = AuditLog.objects.get(action=AuditAction.EXPORTED)
    assert log.object_id == str(party.pk)
    assert log.actor == world.users["staff"]
    assert log.changes == {"by": "staff", "messages": 1, "documents": 1}
    assert "Partie" not in log.summary


def test_a_co_owner_downloads_their_own_data_and_no_one_elses(world, client_for):  # type: ignore[no-untyped-def]
    objects = scene(world)
    party, neighbour = objects["party"], objects["neighbour"]
    client = client_for("owner_party")
    page = client.get(reverse("privacy:mine"))
    assert page.status_code == 200
    assert reverse("privacy:export", args=[party.pk]) in page.content.decode()

    own = download(client, party.pk)
    assert own.status_code == 200
    files = unzip(b"".join(own.streaming_content))
    assert json.loads(files["personne.json"])["person"]["id"] == party.pk
    log = AuditLog.objects.get(action=AuditAction.EXPORTED)
    assert (log.actor, log.changes["by"]) == (world.users["owner_party"], "self")

    # Someone else's: 404, whoever they are, and nothing logged.
    for role in ("owner_party", "council_chair", "owner_other_condominium", "staff_other_agency"):
        assert download(client_for(role), neighbour.pk).status_code == 404, role
    assert AuditLog.objects.filter(action=AuditAction.EXPORTED).count() == 1
    assert client.get(reverse("privacy:export", args=[party.pk])).status_code == 405
    anonymous = download(client_for("anonymous"), party.pk)
    assert anonymous.status_code == 302


def test_the_neighbour_export_is_theirs(world):  # type: ignore[no-untyped-def]
    """The same builder for the neighbour: their cave mail, the party's mail
    they were copied on (the party's mobile masked), their lot's document."""
    objects = scene(world)
    export = person_export_build(objects["neighbour"])
    files = unzip(b"".join(person_export_zip(export)))
    mails = json.loads(files["courriels.json"])
    assert sorted(m["subject"] for m in mails) == [
        "Fuite chez moi MARK-PARTY",
        "Ma cave MARK-NEIGHBOUR",
    ]
    everything = b"".join(files.values())
    assert PARTY_MOBILE.encode() not in everything
    assert b"0781223344" not in everything
    assert PARTY_EMAIL.encode() not in everything
    assert b"MARK-PARTY-LOT" not in everything
    assert b"MARK-NEIGHBOUR-LOT" in everything


def test_an_export_of_a_person_with_no_login_nor_mail(world):  # type: ignore[no-untyped-def]
    person = world.persons["owner_other_condominium"]
    person.user = None
    person.save(update_fields=["user"])
    files = unzip(b"".join(person_export_zip(person_export_build(person))))
    data = json.loads(files["personne.json"])
    assert data["account"] is None
    assert json.loads(files["courriels.json"]) == []
    assert json.loads(files["suivis-et-notifications.json"])["follows"] == []
