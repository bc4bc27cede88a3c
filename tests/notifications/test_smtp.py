"""Notifications over real SMTP: Django's SMTP backend talks to an aiosmtpd
server on a local port, which keeps what it accepts and refuses (550) the
recipients it does not serve — as a mail server does.

What it received is then taken in by Lanterne's own intake (stored, parsed,
filed by the pipeline), as if a mailbox forwarded the notification back to
the agency's shared mailbox: it must be recognised as Lanterne's own
notification (loop protection) and not filed into the dossier it announces.
(The server does not hand the mail to Lanterne's receiver directly: with the
test suite's shared in-memory SQLite database, two threads writing at once
fail on table locks.)

`transactional_db`: the immediate mails leave on a real commit."""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from benchmarks.installations import free_port
from lanterne.accounts.models import User
from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience
from lanterne.dossiers.services import note_add
from lanterne.mail.models import Message
from lanterne.mail.services import mail_receive_and_process
from lanterne.notifications import services
from lanterne.notifications.choices import Frequency, NotificationStatus
from lanterne.notifications.models import Notification

from ..conftest import World

pytestmark = pytest.mark.django_db(transaction=True)

SERVED_DOMAIN = "cabinet-lumiere.fr"


@dataclass
class MailServer:
    """An SMTP server that accepts mail for one domain and keeps it."""

    domain: str
    received: list[tuple[list[str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, options):  # type: ignore[no-untyped-def]  # noqa: N802
        if not address.lower().endswith("@" + self.domain):
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        with self.lock:
            self.received.append((list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 OK: queued"


@pytest.fixture
def server(settings: Any) -> Iterator[MailServer]:
    handler = MailServer(domain=SERVED_DOMAIN)
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    yield handler
    controller.stop()


@pytest.fixture
def quiet_world(world: World) -> World:
    """Only the manager (on the served domain) and the party owner (on a
    domain the server refuses) get immediate mail."""
    manager = world.users["staff"]
    assert manager is not None
    manager.email = f"gestionnaire@{SERVED_DOMAIN}"
    manager.save(update_fields=["email"])
    for role in ("council_member", "council_chair"):
        services.preference_set(actor=world.users[role], frequency=Frequency.NONE)
    return world


def record_note(world: World, actor: User, text: str) -> None:
    note_add(
        viewer=policy.Viewer.for_user(actor),
        actor=actor,
        dossier=world.dossier,
        text=text,
        audience=Audience.OWNERS,
    )  # autocommit: the mails leave on commit


def test_a_notification_crosses_smtp_and_comes_back_recognised_as_lanterne_s(
    quiet_world: World, assistant: User, server: MailServer
) -> None:
    world = quiet_world
    record_note(world, assistant, "Le plombier passe jeudi à 9 h.")
    assert [rcpt for rcpt, _data in server.received] == [[f"gestionnaire@{SERVED_DOMAIN}"]]
    data = server.received[0][1]
    received = email.message_from_bytes(data, policy=email.policy.default)
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/notifications/desabonnement/" in str(received["List-Unsubscribe"])
    assert received["Auto-Submitted"] == "auto-generated"
    assert "Le plombier passe jeudi à 9 h." in received.get_body(("plain",)).get_content()

    # Back into the agency's intake: recognised, and filed nowhere.
    result = mail_receive_and_process(agency=world.agency, data=data)
    message = Message.objects.get(raw=result.raw)
    assert message.is_lanterne_notification
    assert message.dossier_id is None
    assert message.not_dossier_related
    # …and it tells nobody anything.
    assert Notification.objects.count() == 2


def test_a_refused_recipient_is_retried_and_the_others_are_sent(
    quiet_world: World, assistant: User, server: MailServer
) -> None:
    world = quiet_world
    record_note(world, assistant, "Compte rendu de la visite.")
    sent = Notification.objects.get(user=world.users["staff"])
    refused = Notification.objects.get(user=world.users["owner_party"])
    assert sent.status == NotificationStatus.SENT
    assert refused.status == NotificationStatus.PENDING
    assert refused.attempts == 1
    assert "550" in refused.detail
    assert len(server.received) == 1
    # The party's server accepts mail again: the next run delivers it.
    server.domain = "exemple.fr"
    report = services.notifications_send()
    assert report.sent == 1
    refused.refresh_from_db()
    assert refused.status == NotificationStatus.SENT
    assert [rcpt for rcpt, _data in server.received][-1] == [world.users["owner_party"].email]
