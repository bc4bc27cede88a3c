"""Notifications of filed mail: nobody is told before staff publish it; once
published, each follower's mail shows the text they are served in the dossier
(other people's personal data masked, their own not), never an attachment,
and nothing of a mail narrowed back before sending.

Every mail goes through the real pipeline (stored, parsed), is filed with
`message_file` and published with `publication.message_publish`, as staff do."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import pytest
from django.core import mail

from lanterne.accounts.models import User
from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience
from lanterne.dossiers.models import TimelineEntry
from lanterne.mail import publication
from lanterne.mail.filing import message_file
from lanterne.mail.models import FilingMethod, Message
from lanterne.mail.services import mail_receive_and_process
from lanterne.notifications import services
from lanterne.notifications.choices import NotificationStatus
from lanterne.notifications.models import Notification

from ..conftest import World
from .conftest import roles_notified

pytestmark = pytest.mark.django_db

NEIGHBOUR_MOBILE = "06 12 34 56 78"
PARTY_MOBILE = "07 81 22 33 44"
TEXT = (
    "Bonjour,\n\nNous interviendrons jeudi au lot 12. Merci de prévenir Mme Leroy, "
    f"voisine du dessous, joignable au {NEIGHBOUR_MOBILE}, et M. Partie au {PARTY_MOBILE}.\n"
)


def contractor_mail(*, sender: str = "Frédéric Martin <f.martin@plomberie-martin.fr>") -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "Cabinet Lumière <gestion@cabinet-lumiere.fr>"
    message["Subject"] = "Intervention au lot 12"
    message["Date"] = "Tue, 03 Mar 2026 10:00:00 +0100"
    message["Message-ID"] = "<intervention-1@plomberie-martin.fr>"
    message.set_content(TEXT)
    message.add_attachment(
        b"%PDF-1.4\n% devis\n", maintype="application", subtype="pdf", filename="devis-lot-12.pdf"
    )
    return message.as_bytes()


def filed(world: World, data: bytes, *, by: User | None = None) -> Message:
    """Received, then filed without an audience (by the pipeline, or `by`):
    waiting for review."""
    result = mail_receive_and_process(agency=world.agency, data=data)
    message = Message.objects.get(raw=result.raw)
    return message_file(
        viewer=policy.Viewer.system(world.agency.pk),
        actor=by,
        message=message,
        dossier=world.dossier,
        method=FilingMethod.MANUAL,
        reason="Réponse du plombier",
    )


def publish(actor: User, message: Message, audience: str = Audience.OWNERS) -> None:
    """Published by `actor` (staff); followers are told of it."""
    publication.message_publish(
        viewer=policy.Viewer.for_user(actor), actor=actor, message=message, audience=audience
    )


def mail_to(world: World, role: str) -> Any:
    matches = [m for m in mail.outbox if m.to == [world.users[role].email]]
    assert len(matches) == 1, [m.to for m in mail.outbox]
    return matches[0]


@pytest.fixture
def party_phone(world: World) -> None:
    person = world.persons["owner_party"]
    person.phones = [PARTY_MOBILE]
    person.save(update_fields=["phones"])


def test_a_mail_waiting_for_review_is_news_to_nobody(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        filed(world, contractor_mail())
    assert not Notification.objects.exists()
    assert mail.outbox == []


def test_each_follower_reads_the_mail_as_the_dossier_serves_it_to_them(
    world: World,
    assistant: User,
    party_phone: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    message = filed(world, contractor_mail())
    with django_capture_on_commit_callbacks(execute=True):
        publish(assistant, message)
    entry = TimelineEntry.objects.get(message=message)
    assert roles_notified(world, entry) == {
        "staff",
        "council_member",
        "council_chair",
        "owner_party",
    }
    expected = f"[Lanterne] {world.dossier.reference} — Nouveau courriel : Intervention au lot 12"
    assert {m.subject for m in mail.outbox} == {expected}

    council = mail_to(world, "council_member")
    assert "Nous interviendrons jeudi au lot 12." in council.body
    assert "De : Frédéric Martin" in council.body
    assert "Des coordonnées personnelles sont masquées" in council.body
    for text in (council.body, str(council.alternatives[0][0])):
        assert NEIGHBOUR_MOBILE not in text and PARTY_MOBILE not in text
        assert "f.martin@plomberie-martin.fr" not in text

    # The party reads their own number, not their neighbour's.
    party = mail_to(world, "owner_party")
    assert PARTY_MOBILE in party.body and NEIGHBOUR_MOBILE not in party.body

    # Staff read the mail as received.
    manager = mail_to(world, "staff")
    assert NEIGHBOUR_MOBILE in manager.body

    # Never an attachment, whoever reads.
    assert all(m.attachments == [] for m in mail.outbox)
    assert all("devis-lot-12.pdf" not in m.body for m in mail.outbox)


def test_a_mail_narrowed_back_to_internal_before_sending_is_dropped(
    world: World, assistant: User
) -> None:
    message = filed(world, contractor_mail())
    publish(assistant, message)  # queued, not sent (no commit in this test)
    assert Notification.objects.filter(status=NotificationStatus.PENDING).count() == 4
    publish(assistant, message, Audience.INTERNAL)
    report = services.notifications_send()
    assert mail.outbox == []
    assert report.dropped == 4


def test_a_mail_narrowed_to_the_parties_is_sent_to_the_parties_only(
    world: World, assistant: User
) -> None:
    message = filed(world, contractor_mail())
    publish(assistant, message)
    publish(assistant, message, Audience.PARTIES)
    services.notifications_send()
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        world.users[role].email for role in ("staff", "owner_party")
    )


def test_the_co_owner_who_wrote_the_mail_is_not_told_of_it(world: World, assistant: User) -> None:
    author = world.users["council_member"]
    message = filed(world, contractor_mail(sender=f"M. Conseil <{author.email}>"))
    publish(assistant, message)
    entry = TimelineEntry.objects.get(message=message)
    assert "council_member" not in roles_notified(world, entry)
    assert "council_chair" in roles_notified(world, entry)


def test_a_digest_shows_the_mail_masked_too(
    world: World, assistant: User, party_phone: None
) -> None:
    from django.utils import timezone

    from lanterne.notifications.choices import Frequency

    services.preference_set(actor=world.users["council_chair"], frequency=Frequency.DIGEST)
    message = filed(world, contractor_mail())
    publish(assistant, message)
    services.digests_send(day=timezone.localdate())
    digest = mail_to(world, "council_chair")
    assert "Nouveau courriel : Intervention au lot 12" in digest.body
    assert "Nous interviendrons jeudi" in digest.body
    assert NEIGHBOUR_MOBILE not in digest.body and PARTY_MOBILE not in digest.body
    assert digest.attachments == []


def test_whoever_filed_or_published_the_mail_is_not_told_of_it(world: World) -> None:
    manager = world.users["staff"]
    message = filed(world, contractor_mail(), by=manager)
    publish(manager, message)
    entry = TimelineEntry.objects.get(message=message)
    assert entry.actor == manager
    assert "staff" not in roles_notified(world, entry)
    # The same, when the pipeline filed it and the manager publishes it.
    Notification.objects.all().delete()
    TimelineEntry.objects.filter(pk=entry.pk).update(actor=None)
    services.entries_published([entry], actor=manager)
    assert "staff" not in roles_notified(world, entry)
    assert "owner_party" in roles_notified(world, entry)
