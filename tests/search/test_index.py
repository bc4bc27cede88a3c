"""The index follows the data (`lanterne.search.services`): the write
services re-index what they change, in their transaction; a row not yet
re-indexed hides from readers rather than shows; `lanterne search-reindex`
rebuilds everything."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction

from lanterne.dossiers import services
from lanterne.dossiers.choices import Audience
from lanterne.dossiers.models import Note, TimelineEntry
from lanterne.mail import publication
from lanterne.mail.filing import message_mark_not_dossier_related
from lanterne.mail.models import Message
from lanterne.search.models import SearchDocument
from lanterne.search.services import search_index_flush

from ..factories import DossierFactory
from .conftest import file, mail_bytes, note, receive, search, viewer

pytestmark = pytest.mark.django_db


def contractor_mail(world, marker: str, **kwargs) -> Message:  # type: ignore[no-untyped-def]
    data = mail_bytes(
        subject=f"Chantier {marker}",
        text=f"Bonjour, le {marker} est prévu lundi.",
        message_id=f"<{marker}@plomberie-martin.fr>",
        **kwargs,
    )
    return receive(world, data)


def test_a_mail_is_found_as_it_is_published_narrowed_moved_and_unfiled(indexed_world):  # type: ignore[no-untyped-def]
    world = indexed_world
    staff = viewer(world, "staff")
    message = file(world, contractor_mail(world, "ravalement"))
    # Filed, waiting for review: internal.
    assert search(world, "staff", "ravalement").total == 1
    assert search(world, "owner_not_party", "ravalement").total == 0
    publication.message_publish(
        viewer=staff, actor=world.users["staff"], message=message, audience=Audience.OWNERS
    )
    assert search(world, "owner_not_party", "ravalement").total == 1
    # Narrowed back through its timeline entry.
    services.entry_set_audience(
        viewer=staff,
        actor=world.users["staff"],
        entry=TimelineEntry.objects.get(message=message),
        audience=Audience.COUNCIL,
    )
    assert search(world, "owner_not_party", "ravalement").total == 0
    assert search(world, "council_member", "ravalement").total == 1
    # Moved to a dossier of another building: internal again, and there.
    elsewhere = DossierFactory(condominium=world.other_condominium, audience=Audience.OWNERS)
    file(world, message, dossier=elsewhere)
    assert search(world, "council_member", "ravalement").total == 0
    (result,) = search(world, "staff", "ravalement").results
    assert result.document.dossier_id == elsewhere.pk
    assert result.document.condominium_id == world.other_condominium.pk
    # Said to concern no dossier: staff only, and no longer in a dossier.
    message_mark_not_dossier_related(viewer=staff, actor=world.users["staff"], message=message)
    (result,) = search(world, "staff", "ravalement").results
    assert result.document.dossier_id is None


def test_the_rest_of_a_conversation_follows_into_the_index(indexed_world):  # type: ignore[no-untyped-def]
    world = indexed_world
    first = contractor_mail(world, "etancheite")
    reply = receive(
        world,
        mail_bytes(
            subject="Re: Chantier etancheite",
            text="Le couvreur confirme.",
            message_id="<reply-etancheite@plomberie-martin.fr>",
        ).replace(
            b"Message-ID:",
            b"In-Reply-To: <etancheite@plomberie-martin.fr>\nMessage-ID:",
        ),
    )
    assert reply.thread_id == first.thread_id
    file(world, first)  # files the reply with it ("thread")
    (result,) = search(world, "staff", "couvreur").results
    assert result.document.dossier_id == world.dossier.pk


def test_notes_and_dossiers_follow_their_changes(indexed_world):  # type: ignore[no-untyped-def]
    world = indexed_world
    staff = viewer(world, "staff")
    written = note(world, "Visite du géomètre.", audience=Audience.OWNERS)
    assert search(world, "owner_not_party", "géomètre").total == 1
    services.entry_set_audience(
        viewer=staff,
        actor=world.users["staff"],
        entry=written.entries.get(),
        audience=Audience.INTERNAL,
    )
    assert search(world, "owner_not_party", "géomètre").total == 0
    assert search(world, "staff", "géomètre").total == 1
    dossier = world.dossier
    services.dossier_update(
        viewer=staff,
        actor=world.users["staff"],
        dossier=dossier,
        title="Infiltration en toiture",
        description="Tuiles déplacées par la tempête.",
        audience=Audience.OWNERS,
        manager=None,
        council_sees_parties=False,
        party_lots=[world.party_lot],
        party_persons=[],
        party_companies=[],
    )
    assert search(world, "owner_not_party", "tempête").total == 1
    assert search(world, "owner_not_party", "plafond").total == 0


def test_a_row_left_stale_hides_from_readers(indexed_world):  # type: ignore[no-untyped-def]
    """Should a write forget the index, a reader the object no longer admits
    still finds nothing: the policy compares the row with the object."""
    world = indexed_world
    written = note(world, "Clé du local poubelles.", audience=Audience.OWNERS)
    search_index_flush()  # the test's transaction never commits
    Note.objects.filter(pk=written.pk).update(audience=Audience.INTERNAL)  # no re-index
    assert SearchDocument.objects.get(note=written).audience == Audience.OWNERS
    assert search(world, "owner_not_party", "poubelles").total == 0
    assert search(world, "staff", "poubelles").total == 1
    message = file(world, contractor_mail(world, "chaudiere"), audience=Audience.OWNERS)
    assert search(world, "owner_not_party", "chaudiere").total == 1
    other = DossierFactory(condominium=world.condominium, audience=Audience.INTERNAL)
    Message.objects.filter(pk=message.pk).update(dossier=other)  # no re-index
    assert search(world, "owner_not_party", "chaudiere").total == 0


def test_search_reindex_rebuilds_everything(indexed_world):  # type: ignore[no-untyped-def]
    world = indexed_world
    note(world, "Remplacement des boîtes aux lettres.")
    file(world, contractor_mail(world, "interphone"), audience=Audience.OWNERS)
    receive(
        world,
        mail_bytes(subject="Question", text="Et l'interphone ?", message_id="<q@x.fr>"),
    )
    before = search(world, "staff", "interphone").total
    assert before == 2
    SearchDocument.objects.all().delete()
    assert search(world, "staff", "interphone").total == 0
    out = StringIO()
    call_command("search-reindex", stdout=out)
    assert "Search index rebuilt." in out.getvalue()
    assert search(world, "staff", "interphone").total == before
    assert search(world, "owner_not_party", "interphone").total == 1
    assert search(world, "owner_not_party", "boîtes").total == 1
    assert search(world, "owner_not_party", "plafond").total == 1
    # Twice: the same rows, no duplicates.
    count = SearchDocument.objects.count()
    call_command("search-reindex", "--agency", str(world.agency.pk), stdout=StringIO())
    assert SearchDocument.objects.count() == count


@pytest.mark.django_db(transaction=True)
def test_indexing_follows_the_commit(world):  # type: ignore[no-untyped-def]
    """For real: a write's objects are indexed when its transaction commits,
    and a transaction rolled back leaves nothing behind."""
    written = note(world, "Dératisation des caves.")
    row = SearchDocument.objects.get(note=written)  # no explicit flush: the commit did it
    assert row.body == "Dératisation des caves."

    class Undone(Exception):
        pass

    with pytest.raises(Undone), transaction.atomic():
        note(world, "Une note annulée.")
        raise Undone
    search_index_flush()
    assert not SearchDocument.objects.filter(body="Une note annulée.").exists()
    assert search(world, "owner_not_party", "dératisation").total == 1
