"""Anonymising a person who left (RGPD art. 17): what goes, what stays (the
dossier records), who may, when it is refused, and that their phone never
again reaches a co-owner's page of a published mail that carried it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from lanterne.accounts.models import Invitation, User
from lanterne.audit.models import AuditAction, AuditLog
from lanterne.condominiums.choices import StaffRole
from lanterne.condominiums.models import Ownership, Person, PersonEmail
from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience
from lanterne.mail.models import Message
from lanterne.notifications.choices import Frequency
from lanterne.notifications.models import Follow, Notification, NotificationPreference
from lanterne.privacy.models import PersonErasure
from lanterne.privacy.services import person_erase
from lanterne.reminders.choices import ReminderState
from lanterne.reminders.models import Reminder

from ..conftest import World
from ..factories import AgencyFactory, PersonFactory, StaffFactory
from .helpers import (
    NEIGHBOUR_MOBILE,
    PARTY_EMAIL,
    PARTY_MOBILE_FORMS,
    filed_and_published,
    give_contacts,
    mail_bytes,
    party_mail,
    received,
    staff_viewer,
)

pytestmark = pytest.mark.django_db


def sold(person: Person) -> None:
    """The person sold their lots: they are no longer a co-owner."""
    Ownership.objects.filter(person=person).delete()


def erase(world: World, person: Person, role: str = "staff") -> PersonErasure:
    return person_erase(
        viewer=policy.Viewer.for_user(world.users[role]),
        actor=world.users[role],
        person=person,
        reason="Lot 12 vendu le 2 mars",
    )


def dossier_page(client_for, role: str, world: World) -> str:  # type: ignore[no-untyped-def]
    response = client_for(role).get(reverse("dossiers:detail", args=[world.dossier.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_erasure_anonymises_the_person_and_keeps_the_dossier_records(world):  # type: ignore[no-untyped-def]
    party, _neighbour = give_contacts(world)
    party.postal_address = "8 rue des Lilas, 69003 Lyon"
    party.save(update_fields=["postal_address"])
    world.dossier.party_persons.add(party)
    sent = filed_and_published(world, party_mail(world))
    user = world.users["owner_party"]
    Follow.objects.create(user=user, dossier=world.dossier, following=True)
    NotificationPreference.objects.create(user=user, frequency=Frequency.DIGEST)
    entry = sent.entries.get()
    Notification.objects.get_or_create(
        user=user, entry=entry, defaults={"dossier": world.dossier, "delivery": "digest"}
    )
    Invitation.objects.create(
        person=party,
        email=PARTY_EMAIL,
        token_hash="x" * 64,
        expires_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
    )
    waiting = Reminder.objects.create(
        dossier=world.dossier,
        waiting_for_name="Marc Partie",
        waiting_for_address=PARTY_EMAIL.upper(),
        due_on=dt.date(2026, 4, 1),
    )
    sold(party)

    erasure = erase(world, party)

    party.refresh_from_db()
    assert party.full_name == f"Ancien copropriétaire n°{party.pk}"
    assert (party.first_name, party.phones, party.postal_address) == ("", [], "")
    assert party.user is None
    assert not PersonEmail.objects.filter(person=party).exists()
    assert not Invitation.objects.filter(person=party).exists()
    assert not User.objects.filter(pk=user.pk).exists()
    assert not Follow.objects.filter(user_id=user.pk).exists()
    assert not NotificationPreference.objects.filter(user_id=user.pk).exists()
    assert not Notification.objects.filter(user_id=user.pk).exists()
    waiting.refresh_from_db()
    assert waiting.state == ReminderState.CANCELLED
    assert erasure.reminder_ids == [waiting.pk]
    assert erasure.reason == "Lot 12 vendu le 2 mars"
    # The dossier records stay: the mail, its timeline entry, the party link.
    assert Message.objects.filter(pk=sent.pk, dossier=world.dossier).exists()
    assert sent.entries.exists()
    assert party in world.dossier.party_persons.all()
    log = AuditLog.objects.get(action=AuditAction.ERASED)
    assert log.summary == f"Personne n°{party.pk} anonymisée"
    assert log.changes["account"] == "deleted"
    for value in ("Partie", PARTY_EMAIL, "Lilas", *PARTY_MOBILE_FORMS, "vendu"):
        assert value not in log.summary + str(log.changes), value


def test_after_erasure_their_phone_never_reaches_a_co_owner(world, client_for):  # type: ignore[no-untyped-def]
    """The party's mail was published to all co-owners and unmasked by staff:
    the neighbours read the party's mobile. Once the party is erased, no
    co-owner's page of that mail shows it, in any way of writing it."""
    party, _neighbour = give_contacts(world)
    mail = filed_and_published(world, party_mail(world), unmask=True)
    # A published mail that never mentioned the party stays as staff left it.
    other = filed_and_published(
        world,
        received(
            world,
            mail_bytes(
                sender="Plomberie Martin <contact@plomberie-martin.fr>",
                to="gestion@cabinet-lumiere.fr",
                subject="Passage jeudi",
                text="Nous passerons jeudi. Le technicien : 06 99 88 77 66.\n",
                message_id="<jeudi@plomberie-martin.fr>",
            ),
        ),
        unmask=True,
    )
    before = dossier_page(client_for, "owner_not_party", world)
    assert "07 81 22 33 44" in before  # the test can fail: the mail is unmasked
    sold(party)

    erase(world, party)

    mail.refresh_from_db()
    assert not mail.unmasked
    other.refresh_from_db()
    assert other.unmasked
    log = AuditLog.objects.get(action=AuditAction.ERASED)
    assert log.changes["masked_messages"] == [mail.pk]
    for role in ("owner_not_party", "council_member", "council_chair"):
        page = dossier_page(client_for, role, world)
        assert "Fuite chez moi MARK-PARTY" in page, role
        for form in PARTY_MOBILE_FORMS:
            assert form not in page, (role, form)
        assert PARTY_EMAIL not in page, role
        assert "06 99 88 77 66" in page, role
    # Staff still read the record as it was received.
    assert "07 81 22 33 44" in dossier_page(client_for, "staff", world)
    # Nor does a co-owner's search find it: the public texts of the search
    # index are those served to co-owners.
    from lanterne.search.models import SearchDocument

    indexed = SearchDocument.objects.get(message=mail)
    public = " ".join((indexed.public_title, indexed.public_body, indexed.public_more))
    assert "MARK-PARTY" in public
    for form in PARTY_MOBILE_FORMS:
        assert form not in public, form


def test_erasure_masks_their_data_where_it_had_no_span(world, client_for):  # type: ignore[no-untyped-def]
    """A mail published while the person's phone was not taken for personal
    data (stored spans without it): spans are added for it, and only it."""
    party, _neighbour = give_contacts(world)
    mail = filed_and_published(world, party_mail(world))
    spans = mail.redactions
    kept = {
        field: [row for row in rows if row[3] != "+33781223344"]
        for field, rows in spans.items()
        if field != "v"
    }
    Message.objects.filter(pk=mail.pk).update(redactions={"v": 1, **kept})
    assert "07 81 22 33 44" in dossier_page(client_for, "owner_not_party", world)
    sold(party)

    erase(world, party)

    assert "07 81 22 33 44" not in dossier_page(client_for, "owner_not_party", world)
    council = dossier_page(client_for, "council_member", world)
    assert "07 81 22 33 44" not in council
    assert NEIGHBOUR_MOBILE not in council  # masked before, still masked
    mail.refresh_from_db()
    assert mail.redactions["text"] == spans["text"]


def test_erasure_is_refused_while_the_person_owns_a_lot_or_sits_on_the_council(world):  # type: ignore[no-untyped-def]
    party = world.persons["owner_party"]
    with pytest.raises(ValidationError) as refused:
        erase(world, party)
    assert "encore copropriétaire : lot 12 (Les Tilleuls)" in refused.value.messages[0]
    chair = world.persons["council_chair"]
    with pytest.raises(ValidationError) as refused:
        erase(world, chair)
    assert "siège encore au conseil syndical : Les Tilleuls" in refused.value.messages[0]
    with pytest.raises(ValidationError) as refused:
        erase(world, StaffFactory(agency=world.agency, staff_role=StaffRole.ASSISTANT))
    assert "fait partie du cabinet" in refused.value.messages[0]
    party.refresh_from_db()
    assert party.last_name == "Partie"
    assert not PersonErasure.objects.exists()
    assert not AuditLog.objects.filter(action=AuditAction.ERASED).exists()


def test_only_a_manager_of_the_agency_erases_and_with_a_reason(world):  # type: ignore[no-untyped-def]
    person = PersonFactory(agency=world.agency, last_name="Parti")
    assistant = StaffFactory(agency=world.agency, staff_role=StaffRole.ASSISTANT)
    for viewer in (
        policy.Viewer.for_user(assistant.user),
        policy.Viewer.for_user(world.users["staff_other_agency"]),
        policy.Viewer.for_user(world.users["council_chair"]),
    ):
        with pytest.raises(PermissionDenied):
            person_erase(viewer=viewer, actor=None, person=person, reason="parti")
    with pytest.raises(ValidationError):
        person_erase(viewer=staff_viewer(world), actor=None, person=person, reason="  ")
    # Nobody erases themself.
    manager = world.persons["staff"]
    assert not policy.may_erase_person(staff_viewer(world), manager)
    erase(world, person)
    with pytest.raises(ValidationError) as again:
        erase(world, person)
    assert "déjà anonymisée" in again.value.messages[0]


def test_a_login_another_agency_knows_is_unlinked_not_deleted(world):  # type: ignore[no-untyped-def]
    party = world.persons["owner_party"]
    user = world.users["owner_party"]
    elsewhere = PersonFactory(agency=AgencyFactory(), user=user, last_name="Partie")
    Follow.objects.create(user=user, dossier=world.dossier, following=True)
    sold(party)
    erase(world, party)
    assert User.objects.filter(pk=user.pk, is_active=True).exists()
    elsewhere.refresh_from_db()
    assert elsewhere.user_id == user.pk
    party.refresh_from_db()
    assert party.user is None
    assert not Follow.objects.filter(user=user).exists()
    assert AuditLog.objects.get(action=AuditAction.ERASED).changes["account"] == "unlinked"


def test_the_erase_page(world, client_for):  # type: ignore[no-untyped-def]
    party = world.persons["owner_party"]
    url = reverse("privacy:erase", args=[party.pk])
    refused = client_for("staff").get(url)
    assert refused.status_code == 200
    assert "encore copropriétaire" in refused.content.decode()
    for role in ("owner_party", "owner_not_party", "council_chair", "staff_other_agency"):
        assert client_for(role).get(url).status_code == 404, role
    sold(party)
    page = client_for("staff").get(url)
    assert "Anonymiser définitivement" in page.content.decode()
    unconfirmed = client_for("staff").post(url, {"reason": "Lot vendu"})
    assert unconfirmed.status_code == 400
    party.refresh_from_db()
    assert party.last_name == "Partie"
    done = client_for("staff").post(url, {"reason": "Lot vendu", "confirm": "on"})
    assert done.status_code == 302
    party.refresh_from_db()
    assert party.last_name == f"Ancien copropriétaire n°{party.pk}"
    contacts = client_for("staff").get(reverse("condominiums:persons")).content.decode()
    assert f"Ancien copropriétaire n°{party.pk}" in contacts
    assert "Partie" not in contacts


def test_the_erase_person_command(world):  # type: ignore[no-untyped-def]
    party = world.persons["owner_party"]
    with pytest.raises(CommandError, match="encore copropriétaire"):
        call_command("erase-person", str(party.pk), reason="Vente")
    with pytest.raises(CommandError, match="No person"):
        call_command("erase-person", "999999", reason="Vente")
    sold(party)
    call_command("erase-person", str(party.pk), reason="Vente")
    party.refresh_from_db()
    assert party.last_name == f"Ancien copropriétaire n°{party.pk}"
    log = AuditLog.objects.get(action=AuditAction.ERASED)
    assert log.actor is None
    assert log.agency_id == world.agency.pk


def test_an_erased_person_is_not_masked_where_audience_is_internal(world):  # type: ignore[no-untyped-def]
    """Internal mail is read by staff only: erasure leaves it untouched."""
    give_contacts(world)
    party = world.persons["owner_party"]
    mail = filed_and_published(world, party_mail(world), Audience.INTERNAL)
    before = mail.redactions
    sold(party)
    erase(world, party)
    mail.refresh_from_db()
    assert mail.redactions == before
