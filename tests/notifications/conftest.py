"""Fixtures of the notification tests: the shared world (tests/conftest.py),
whose dossier is managed by the world's manager, and an assistant of the same
agency who records entries (the actor, never told of what they did)."""

from __future__ import annotations

from typing import Any

import pytest

from lanterne.accounts.models import User
from lanterne.condominiums.choices import StaffRole
from lanterne.dossiers import policy
from lanterne.dossiers.models import TimelineEntry
from lanterne.mail.models import Message
from lanterne.mail.services import mail_receive, raw_message_process
from lanterne.notifications.models import Notification

from ..conftest import World
from ..factories import StaffFactory, UserFactory


@pytest.fixture
def world(world: World) -> World:
    world.dossier.manager = world.persons["staff"]
    world.dossier.save(update_fields=["manager"])
    return world


@pytest.fixture
def assistant(world: World) -> User:
    user = UserFactory(email="assistante@cabinet-lumiere.fr", full_name="Alice Assistante")
    StaffFactory(agency=world.agency, staff_role=StaffRole.ASSISTANT, user=user)
    return user


@pytest.fixture
def assistant_viewer(assistant: User) -> policy.Viewer:
    return policy.Viewer.for_user(assistant)


def roles_notified(world: World, entry: TimelineEntry, **filters: Any) -> set[str]:
    """The world's roles that have a notification row for `entry`."""
    user_ids = set(
        Notification.objects.filter(entry=entry, **filters).values_list("user_id", flat=True)
    )
    return {role for role, user in world.users.items() if user is not None and user.pk in user_ids}


def receive_mail(
    world: World,
    *,
    message_id: str,
    sender: str = "Frédéric Martin <f.martin@plomberie-martin.fr>",
    subject: str = "Intervention au lot 12",
    text: str = "Bonjour,\n\nNous interviendrons jeudi au lot 12.\n",
) -> Message:
    """A mail to the agency's shared mailbox, stored, parsed and threaded by
    the real pipeline (not filed: the tests file it)."""
    data = (
        f"From: {sender}\r\nTo: gestion@cabinet-lumiere.fr\r\nSubject: {subject}\r\n"
        f"Date: Tue, 03 Mar 2026 10:00:00 +0100\r\nMessage-ID: {message_id}\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n" + text
    ).encode()
    result = mail_receive(agency=world.agency, data=data)
    raw_message_process(result.raw)
    return Message.objects.get(raw=result.raw)
