"""Helpers of the search tests: write through the real services (so the index
is kept up to date as in life), search as one of the world's roles."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage

import pytest

from lanterne.dossiers import policy, services
from lanterne.dossiers.choices import Audience
from lanterne.dossiers.models import Dossier, Note
from lanterne.mail.filing import message_file
from lanterne.mail.models import FilingMethod, Message
from lanterne.mail.services import mail_receive_and_process
from lanterne.search.models import SearchDocument
from lanterne.search.selectors import SearchFilters, SearchPage, search_page
from lanterne.search.services import search_documents_index, search_index_flush

from ..conftest import World


def viewer(world: World, role: str) -> policy.Viewer:
    return policy.Viewer.for_user(world.users[role])


def search(world: World, role: str, text: str, **filters: object) -> SearchPage:
    return search_page(viewer(world, role), text, SearchFilters(**filters))  # type: ignore[arg-type]


def note(
    world: World, text: str, *, audience: str = Audience.OWNERS, dossier: Dossier | None = None
) -> Note:
    return services.note_add(
        viewer=viewer(world, "staff"),
        actor=world.users["staff"],
        dossier=dossier or world.dossier,
        text=text,
        audience=audience,
    )


def dated_note(world: World, text: str, when: dt.datetime, **options: object) -> Note:
    """A note written on `when` (not now), indexed with that date."""
    created = note(world, text, **options)  # type: ignore[arg-type]
    Note.objects.filter(pk=created.pk).update(created_at=when)
    SearchDocument.objects.filter(note=created).delete()
    search_documents_index(note_ids=[created.pk])
    search_index_flush()
    return created


def mail_bytes(
    *,
    subject: str,
    text: str,
    message_id: str,
    sender: str = "Frédéric Martin <f.martin@plomberie-martin.fr>",
    attachment: str | None = None,
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "Cabinet Lumière <gestion@cabinet-lumiere.fr>"
    message["Subject"] = subject
    message["Date"] = "Tue, 03 Mar 2026 10:00:00 +0100"
    message["Message-ID"] = message_id
    message.set_content(text)
    if attachment:
        message.add_attachment(b"%PDF-1.4 ...", "application", "pdf", filename=attachment)
    return message.as_bytes()


def receive(world: World, data: bytes) -> Message:
    result = mail_receive_and_process(agency=world.agency, data=data)
    return Message.objects.get(raw=result.raw)


def file(
    world: World, message: Message, *, dossier: Dossier | None = None, audience: str | None = None
) -> Message:
    return message_file(
        viewer=viewer(world, "staff"),
        actor=world.users["staff"],
        message=message,
        dossier=dossier or world.dossier,
        method=FilingMethod.MANUAL,
        reason="Classé par le test",
        audience=audience,
    )


@pytest.fixture
def indexed_world(world: World) -> World:
    """The world, its dossier (made by a factory, not a service) indexed."""
    search_documents_index(dossier_ids=[world.dossier.pk])
    return world
