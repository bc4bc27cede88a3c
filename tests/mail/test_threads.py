"""The thread stage: replies grouped with what they answer, by their headers
(RFC 5322 §3.6.4) whatever order they arrive in, and by subject only between
the same participants within a recent window."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from lanterne.mail.models import Message, RawMessage, Thread, ThreadLink
from lanterne.mail.selectors import message_export_rows
from lanterne.mail.services import mail_receive_and_process, raw_message_process
from lanterne.mail.threads import (
    MAX_CHAIN,
    SUBJECT_WINDOW,
    message_thread,
    normalize_subject,
    reference_chain,
    subject_is_generic,
    subject_is_reply,
)

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
JEAN = "Jean Dupont <jean@plomberie.fr>"
AGENCY_BOX = "gestion@cabinet-lumiere.fr"
MANAGER = "Claire Martin <claire.martin@cabinet-lumiere.fr>"


def mail(
    message_id: str | None,
    *,
    sender: str = JEAN,
    to: str = AGENCY_BOX,
    cc: str = "",
    subject: str = "Devis fuite lot 12",
    date: datetime | None = MONDAY,
    in_reply_to: str = "",
    references: str = "",
    body: str = "Bonjour,\n\nVoici notre devis.\n\nCordialement,\nJean",
) -> bytes:
    """A small text/plain e-mail; headers left empty are left out."""
    headers = [f"From: {sender}", f"To: {to}", f"Subject: {subject}"]
    if cc:
        headers.append(f"Cc: {cc}")
    if date is not None:
        headers.append(f"Date: {format_datetime(date)}")
    if message_id is not None:
        headers.append(f"Message-ID: {message_id}")
    if in_reply_to:
        headers.append(f"In-Reply-To: {in_reply_to}")
    if references:
        headers.append(f"References: {references}")
    headers += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]
    return ("\r\n".join(headers) + "\r\n\r\n" + body).encode()


def receive(agency, data: bytes) -> Message:  # type: ignore[no-untyped-def]
    """Push a message through the pipeline and return it, threaded."""
    result = mail_receive_and_process(agency=agency, data=data)
    message = Message.objects.get(raw=result.raw)
    assert message.thread_id is not None
    return message


def thread_of(message: Message) -> int:
    thread_id = Message.objects.values_list("thread_id", flat=True).get(pk=message.pk)
    assert thread_id is not None
    return thread_id


# -- Subjects -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "subject",
    [
        "Devis fuite lot 12",
        "RE : Devis fuite lot 12",
        "RE\u00a0: Devis fuite lot 12",  # Outlook in French: a non-breaking space
        "Re\u202f: Devis fuite lot 12",  # or a narrow one
        "Re: Devis fuite lot 12",
        "re:Devis fuite lot 12",
        "TR : Devis fuite lot 12",
        "Tr: Devis fuite lot 12",
        "Réf. Devis fuite lot 12",
        "Réf : Devis fuite lot 12",
        "Réf. : Devis fuite lot 12",
        "Fwd: Devis fuite lot 12",
        "Fw: Devis fuite lot 12",
        "FW : Devis fuite lot 12",
        "AW: Devis fuite lot 12",
        "WG: Devis fuite lot 12",
        "SV: Devis fuite lot 12",
        "VS: Devis fuite lot 12",
        "RV: Devis fuite lot 12",
        "Antw: Devis fuite lot 12",
        "Re[2]: Devis fuite lot 12",
        "Re^3: Devis fuite lot 12",
        "RE(2) : Devis fuite lot 12",
        "RE : TR : Re: Devis fuite lot 12",
        "Re: Re: Re: Fwd: AW: SV: Devis fuite lot 12",
        "[DOS-2026-0042] Devis fuite lot 12",
        "RE : [DOS-2026-0042] Devis fuite lot 12",
        "Devis fuite lot 12 [DOS-2026-0042]",
        "[EXT] RE : [DOS-2026-0042] TR: Devis fuite lot 12",
        "Devis   fuite\tlot 12 ",
        "DEVIS FUITE LOT 12",
        "Devis fuite lot 12 (fwd)",
        "RE : Devis fuite lot 12.",
    ],
)
def test_subjects_normalise_to_the_same_text(subject: str) -> None:
    assert normalize_subject(subject) == "devis fuite lot 12"


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Réfection de la toiture", "refection de la toiture"),
        ("RE : Réfection de la toiture", "refection de la toiture"),
        ("Ré-union du conseil syndical", "re-union du conseil syndical"),
        ("Retour sur l'AG", "retour sur l'ag"),
        ("Trappe de désenfumage", "trappe de desenfumage"),
        ("Avis : coupure d'eau", "avis : coupure d'eau"),
        ("", ""),
        ("RE : ", ""),
        ("[DOS-2026-0042]", ""),
    ],
)
def test_words_that_start_like_prefixes_are_kept(subject: str, expected: str) -> None:
    assert normalize_subject(subject) == expected


def test_reply_prefixes_and_generic_subjects_are_recognised() -> None:
    assert subject_is_reply("RE : TR : Devis") and subject_is_reply("Réf. 2025/117")
    assert not subject_is_reply("Devis fuite") and not subject_is_reply("Réfection")
    for generic in ["", "Bonjour", "RE : bonjour", "Devis", "TR: Question", "(sans objet)", "12"]:
        assert subject_is_generic(normalize_subject(generic)), generic
    assert not subject_is_generic(normalize_subject("RE : Devis fuite lot 12"))


# -- Reference chains ----------------------------------------------------------------


def test_reference_chain_reads_headers_defensively() -> None:
    chain = reference_chain(
        ["<parent@x.fr>", "(from someone) <other@x.fr>"],
        ["<root@x.fr>", "garbage", "<>", "<root@x.fr>", "<parent@x.fr>", "<mid@x.fr>"]
        + ["<self@x.fr>", "<no-at-sign>", "<with space@x.fr>", "bare@x.fr"],
        "<SELF@x.fr>",
    )
    # References in order without repeats, garbage or the message itself;
    # the direct parent (In-Reply-To's first id) last.
    assert chain == ["root@x.fr", "mid@x.fr", "bare@x.fr", "parent@x.fr"]


def test_reference_chain_accepts_raw_header_text() -> None:
    chain = reference_chain("<A@x.fr> (Jean's mail)", "<root@x.fr>\r\n <a@x.fr>  b@x.fr", "")
    assert chain == ["root@x.fr", "a@x.fr"]  # without brackets among bracketed ids: dropped
    assert reference_chain(None, "root@x.fr, a@x.fr", "a@x.fr") == ["root@x.fr"]
    assert reference_chain([], [], "<x@y>") == []


def test_reference_chain_is_capped_keeping_root_and_nearest_parents() -> None:
    references = [f"<id-{n}@x.fr>" for n in range(2000)]
    chain = reference_chain("<id-1999@x.fr>", references, "<me@x.fr>")
    assert len(chain) == MAX_CHAIN
    assert chain[0] == "id-0@x.fr" and chain[-1] == "id-1999@x.fr"
    assert chain[-2] == "id-1998@x.fr"


# -- Threading by headers ------------------------------------------------------------


def test_a_reply_chain_threads_together(world):  # type: ignore[no-untyped-def]
    a = receive(world.agency, mail("<a@plomberie.fr>"))
    b = receive(
        world.agency,
        mail(
            "<b@cabinet-lumiere.fr>",
            sender=MANAGER,
            to=JEAN,
            subject="RE : Devis fuite lot 12",
            date=MONDAY + timedelta(hours=2),
            in_reply_to="<a@plomberie.fr>",
            references="<a@plomberie.fr>",
        ),
    )
    c = receive(
        world.agency,
        mail(
            "<c@plomberie.fr>",
            to="claire.martin@cabinet-lumiere.fr",
            subject="RE : RE : Devis fuite lot 12",
            date=MONDAY + timedelta(days=1),
            in_reply_to="<b@cabinet-lumiere.fr>",
            references="<a@plomberie.fr> <b@cabinet-lumiere.fr>",
        ),
    )
    assert thread_of(a) == thread_of(b) == thread_of(c)
    thread = Thread.objects.get()
    assert thread.normalized_subject == "devis fuite lot 12"
    assert thread.first_message_at == MONDAY
    assert thread.last_message_at == MONDAY + timedelta(days=1)
    assert set(ThreadLink.objects.values_list("message_id", flat=True)) == {
        "a@plomberie.fr",
        "b@cabinet-lumiere.fr",
        "c@plomberie.fr",
    }


def test_a_reply_with_only_in_reply_to_joins_its_parent(world):  # type: ignore[no-untyped-def]
    a = receive(world.agency, mail("<a@plomberie.fr>"))
    b = receive(
        world.agency,
        mail(
            "<b@cabinet-lumiere.fr>",
            sender=MANAGER,
            to=JEAN,
            subject="Votre devis",  # subject changed: only the header links them
            in_reply_to="<a@plomberie.fr>",
        ),
    )
    assert thread_of(a) == thread_of(b)


def _family() -> dict[str, bytes]:
    """A ← B ← C where C names only its parent B (no References, as Outlook
    does) and subjects differ: only the headers can group them, and C cannot
    know A."""
    return {
        "A": mail("<a@plomberie.fr>", subject="Fuite au plafond du lot 12"),
        "B": mail(
            "<b@cabinet-lumiere.fr>",
            sender=MANAGER,
            to=JEAN,
            subject="RE : Fuite au plafond du lot 12",
            date=MONDAY + timedelta(hours=3),
            in_reply_to="<a@plomberie.fr>",
            references="<a@plomberie.fr>",
        ),
        "C": mail(
            "<c@plomberie.fr>",
            to="claire.martin@cabinet-lumiere.fr",
            subject="Devis plombier pour le plafond",
            date=MONDAY + timedelta(days=1),
            in_reply_to="<b@cabinet-lumiere.fr>",
        ),
    }


def test_a_reply_before_its_parent_then_the_missing_link_merges_threads(world):  # type: ignore[no-untyped-def]
    family = _family()
    c = receive(world.agency, family["C"])
    a = receive(world.agency, family["A"])
    # C only knows B; A knows nobody: two threads for now.
    first_thread = thread_of(c)
    assert thread_of(a) != first_thread and Thread.objects.count() == 2
    b = receive(world.agency, family["B"])
    # B names A and is named by C: one conversation, in the thread created first.
    assert thread_of(a) == thread_of(b) == thread_of(c) == first_thread
    thread = Thread.objects.get()
    assert thread.first_message_at == MONDAY
    assert thread.last_message_at == MONDAY + timedelta(days=1)
    assert set(ThreadLink.objects.values_list("thread_id", flat=True)) == {first_thread}


@pytest.mark.parametrize("order", list(itertools.permutations("ABC")))
def test_any_arrival_order_gives_one_thread(world, order):  # type: ignore[no-untyped-def]
    family = _family()
    messages = [receive(world.agency, family[name]) for name in order]
    first_thread = messages[0].thread_id
    assert {thread_of(m) for m in messages} == {first_thread}
    assert Thread.objects.count() == 1


def test_full_references_thread_out_of_order_without_merging(world):  # type: ignore[no-untyped-def]
    c = receive(
        world.agency,
        mail(
            "<c@plomberie.fr>",
            subject="RE : RE : Devis fuite lot 12",
            date=MONDAY + timedelta(days=1),
            in_reply_to="<b@cabinet-lumiere.fr>",
            references="<a@plomberie.fr> <b@cabinet-lumiere.fr>",
        ),
    )
    # A and B were never received yet: C's thread already answers for them.
    a = receive(world.agency, mail("<a@plomberie.fr>"))
    b = receive(
        world.agency,
        mail(
            "<b@cabinet-lumiere.fr>",
            sender=MANAGER,
            to=JEAN,
            subject="Autre chose",
            references="<a@plomberie.fr>",
        ),
    )
    assert thread_of(a) == thread_of(b) == thread_of(c)
    assert Thread.objects.count() == 1


def test_broken_references_still_thread(world):  # type: ignore[no-untyped-def]
    a = receive(world.agency, mail("<a@plomberie.fr>"))
    # Garbage, a missing pair of angle brackets, repeats and a self-reference.
    b = receive(
        world.agency,
        mail(
            "<b@cabinet-lumiere.fr>",
            sender=MANAGER,
            to=JEAN,
            subject="Votre devis",
            references="n'importe quoi <> <a@plomberie.fr> <a@plomberie.fr> <b@cabinet-lumiere.fr>",
        ),
    )
    bare = receive(
        world.agency,
        mail(
            "<bare@plomberie.fr>",
            subject="Suite du devis",
            in_reply_to="b@cabinet-lumiere.fr",
            references="a@plomberie.fr b@cabinet-lumiere.fr",
        ),
    )
    # References only to itself: a thread of its own, no error.
    alone = receive(
        world.agency,
        mail(
            "<alone@plomberie.fr>",
            subject="Ascenseur en panne",
            in_reply_to="<alone@plomberie.fr>",
            references="<alone@plomberie.fr> garbage",
        ),
    )
    assert thread_of(a) == thread_of(b) == thread_of(bare)
    assert thread_of(alone) != thread_of(a)


def test_a_reference_loop_does_not_hang(world):  # type: ignore[no-untyped-def]
    x = receive(world.agency, mail("<x@plomberie.fr>", subject="Boucle X", references="<y@x.fr>"))
    y = receive(world.agency, mail("<y@x.fr>", subject="Boucle Y", references="<x@plomberie.fr>"))
    assert thread_of(x) == thread_of(y) and Thread.objects.count() == 1


def test_two_thousand_references_still_thread(world):  # type: ignore[no-untyped-def]
    a = receive(world.agency, mail("<a@plomberie.fr>"))
    junk = [f"<junk-{n}@relay.example>" for n in range(1998)]
    references = "\r\n ".join(["<a@plomberie.fr>", *junk, "<b@cabinet-lumiere.fr>"])
    reply = receive(
        world.agency,
        mail(
            "<reply@plomberie.fr>",
            subject="Encore une réponse",
            in_reply_to="<b@cabinet-lumiere.fr>",
            references=references,
        ),
    )
    assert thread_of(reply) == thread_of(a)
    assert ThreadLink.objects.filter(thread_id=thread_of(a)).count() <= MAX_CHAIN + 1


def test_a_message_without_message_id_or_date_gets_a_thread(world):  # type: ignore[no-untyped-def]
    message = receive(world.agency, mail(None, date=None, subject="Clé du local poubelles"))
    thread = Thread.objects.get(pk=thread_of(message))
    raw = RawMessage.objects.get(pk=message.raw_id)
    assert thread.first_message_at == thread.last_message_at == raw.received_at


def test_an_address_in_in_reply_to_does_not_join_the_senders_mail(world):  # type: ignore[no-untyped-def]
    """Old clients write "In-Reply-To: <user@host>'s message of …", naming the
    person they answer: an address of the message is never a Message-ID."""
    first = receive(world.agency, mail("<a@plomberie.fr>", to="Marie <marie@exemple.fr>"))
    second = receive(
        world.agency,
        mail(
            "<m1@exemple.fr>",
            sender="Marie <marie@exemple.fr>",
            subject="Ascenseur en panne",
            to=JEAN,
            cc=AGENCY_BOX,
            in_reply_to="Jean's message of Monday <jean@plomberie.fr>",
        ),
    )
    third = receive(
        world.agency,
        mail(
            "<m2@exemple.fr>",
            sender="Marie <marie@exemple.fr>",
            subject="Interphone",
            to=JEAN,
            cc=AGENCY_BOX,
            in_reply_to="Jean's message of Tuesday <jean@plomberie.fr>",
        ),
    )
    assert len({thread_of(first), thread_of(second), thread_of(third)}) == 3


# -- Threading by subject ------------------------------------------------------------


def test_an_outlook_reply_without_references_joins_by_subject(world):  # type: ignore[no-untyped-def]
    a = receive(world.agency, mail("<a@plomberie.fr>"))
    reply = receive(
        world.agency,
        mail(
            "<reply@cabinet-lumiere.fr>",
            sender=MANAGER,
            to=JEAN,
            subject="RE\u00a0: Devis fuite lot 12",
            date=MONDAY + timedelta(days=2),
        ),
    )
    forward = receive(
        world.agency,
        mail(
            "<forward@plomberie.fr>",
            cc="jean@plomberie.fr",
            sender="Paul <paul@plomberie.fr>",
            subject="TR : RE : [DOS-2026-0042] Devis fuite lot 12",
            date=MONDAY + timedelta(days=3),
        ),
    )
    assert thread_of(a) == thread_of(reply) == thread_of(forward)


def test_the_same_subject_from_unrelated_participants_does_not_join(world):  # type: ignore[no-untyped-def]
    a = receive(world.agency, mail("<a@plomberie.fr>"))
    # Both wrote to the agency's shared mailbox: that is not a participant in common.
    other = receive(
        world.agency,
        mail(
            "<m1@exemple.fr>",
            sender="Marie <marie@exemple.fr>",
            subject="RE : Devis fuite lot 12",
            date=MONDAY + timedelta(hours=5),
        ),
    )
    assert thread_of(a) != thread_of(other)


def test_the_same_subject_after_the_window_does_not_join(world):  # type: ignore[no-untyped-def]
    a = receive(world.agency, mail("<a@plomberie.fr>"))
    late = receive(
        world.agency,
        mail(
            "<late@cabinet-lumiere.fr>",
            sender=MANAGER,
            to=JEAN,
            subject="RE : Devis fuite lot 12",
            date=MONDAY + SUBJECT_WINDOW + timedelta(days=1),
        ),
    )
    assert thread_of(a) != thread_of(late)


def test_generic_subjects_never_join_by_subject(world):  # type: ignore[no-untyped-def]
    for n, subject in enumerate(
        ["Bonjour", "Devis", "Question", "(sans objet)", "[DOS-2026-0042]"]
    ):
        first = receive(world.agency, mail(f"<g{n}@plomberie.fr>", subject=subject))
        reply = receive(
            world.agency,
            mail(
                f"<g{n}@cabinet-lumiere.fr>",
                sender=MANAGER,
                to=JEAN,
                subject=f"RE : {subject}",
                date=MONDAY + timedelta(hours=1),
            ),
        )
        assert thread_of(first) != thread_of(reply), subject


def test_a_new_mail_with_the_same_subject_starts_its_own_thread(world):  # type: ignore[no-untyped-def]
    """No reply prefix, no reference: a second, separate mail of the same
    contractor, not a continuation."""
    first = receive(world.agency, mail("<a@plomberie.fr>", subject="Intervention Les Tilleuls"))
    second = receive(
        world.agency,
        mail(
            "<b@plomberie.fr>",
            subject="Intervention Les Tilleuls",
            date=MONDAY + timedelta(days=6),
        ),
    )
    assert thread_of(first) != thread_of(second)


def test_an_original_arriving_after_its_outlook_reply_joins_it(world):  # type: ignore[no-untyped-def]
    reply = receive(
        world.agency,
        mail(
            "<reply@cabinet-lumiere.fr>",
            sender=MANAGER,
            to=JEAN,
            subject="RE : Devis fuite lot 12",
            date=MONDAY + timedelta(days=1),
        ),
    )
    original = receive(world.agency, mail("<a@plomberie.fr>"))
    assert thread_of(original) == thread_of(reply)
    thread = Thread.objects.get()
    assert thread.first_message_at == MONDAY


# -- Tenancy, idempotence, cost ----------------------------------------------------------


def test_agencies_never_share_a_thread(world):  # type: ignore[no-untyped-def]
    a = receive(world.agency, mail("<a@plomberie.fr>"))
    a_elsewhere = receive(world.other_agency, mail("<a@plomberie.fr>"))
    reply = receive(
        world.other_agency,
        mail(
            "<b@voisin.fr>",
            sender="Syndic Voisin <gestion@voisin.fr>",
            to=JEAN,
            subject="RE : Devis fuite lot 12",
            in_reply_to="<a@plomberie.fr>",
            references="<a@plomberie.fr>",
        ),
    )
    assert thread_of(a) != thread_of(a_elsewhere) == thread_of(reply)
    assert Thread.objects.get(pk=thread_of(a)).agency == world.agency
    assert Thread.objects.get(pk=thread_of(reply)).agency == world.other_agency
    assert Message.objects.filter(thread_id=thread_of(a)).count() == 1
    assert ThreadLink.objects.filter(message_id="a@plomberie.fr").count() == 2


def test_reprocessing_keeps_the_thread(world):  # type: ignore[no-untyped-def]
    family = _family()
    c = receive(world.agency, family["C"])
    a = receive(world.agency, family["A"])
    b = receive(world.agency, family["B"])
    outlook = receive(
        world.agency,
        mail(
            "<outlook@cabinet-lumiere.fr>",
            sender=MANAGER,
            to=JEAN,
            subject="RE : Devis plombier pour le plafond",
            date=MONDAY + timedelta(days=2),
        ),
    )
    thread = thread_of(a)
    assert thread_of(outlook) == thread
    for message in (a, b, c, outlook):
        again = raw_message_process(RawMessage.objects.get(pk=message.raw_id))
        assert again is not None and again.thread_id == thread
        assert message_thread(message=Message.objects.get(pk=message.pk)).pk == thread
    call_command("reprocess-mail", "--all", "--agency", world.agency.name, stdout=StringIO())
    assert set(Message.objects.values_list("thread_id", flat=True)) == {thread}
    assert Thread.objects.count() == 1


def test_the_export_carries_the_thread(world):  # type: ignore[no-untyped-def]
    a = receive(world.agency, mail("<a@plomberie.fr>"))
    receive(
        world.agency,
        mail("<b@cabinet-lumiere.fr>", sender=MANAGER, to=JEAN, in_reply_to="<a@plomberie.fr>"),
    )
    rows = list(message_export_rows(world.agency))
    assert [row["thread_id"] for row in rows] == [thread_of(a), thread_of(a)]


def _chain(agency, count: int, prefix: str):  # type: ignore[no-untyped-def]
    """A conversation of `count` messages, each replying to the previous one."""
    previous: list[str] = []
    for n in range(count):
        message_id = f"<{prefix}-{n}@plomberie.fr>"
        receive(
            agency,
            mail(
                message_id,
                subject=f"RE : Devis {prefix}" if n else f"Devis {prefix}",
                date=MONDAY + timedelta(minutes=n),
                in_reply_to=previous[-1] if previous else "",
                references=" ".join(previous[-20:]),
            ),
        )
        previous.append(message_id)
    return previous


def _threading_queries(agency, data: bytes) -> int:  # type: ignore[no-untyped-def]
    """The queries of the thread stage alone, for a message already parsed."""
    message = receive(agency, data)
    Message.objects.filter(pk=message.pk).update(thread=None)
    ThreadLink.objects.filter(agency=agency, message_id=message.message_id.lower()).delete()
    message = Message.objects.select_related("agency", "raw").get(pk=message.pk)
    with CaptureQueriesContext(connection) as queries:
        message_thread(message=message)
    return len(queries)


def test_threading_cost_does_not_grow_with_the_thread(world, django_assert_max_num_queries):  # type: ignore[no-untyped-def]
    small = _chain(world.agency, 2, "small")
    big = _chain(world.agency, 200, "big")
    assert (
        Message.objects.filter(
            thread_id=Message.objects.get(message_id="big-0@plomberie.fr").thread_id
        ).count()
        == 200
    )

    def reply(ids: list[str], name: str, *, headers: bool) -> bytes:
        return mail(
            f"<{name}@cabinet-lumiere.fr>",
            sender=MANAGER,
            to=JEAN,
            subject=f"RE : Devis {ids[0].split('-')[0].strip('<')}",
            date=MONDAY + timedelta(hours=5),
            in_reply_to=ids[-1] if headers else "",
            references=" ".join(ids[-20:]) if headers else "",
        )

    by_headers = {
        len(ids): _threading_queries(world.agency, reply(ids, f"h-{len(ids)}", headers=True))
        for ids in (small, big)
    }
    by_subject = {
        len(ids): _threading_queries(world.agency, reply(ids, f"s-{len(ids)}", headers=False))
        for ids in (small, big)
    }
    assert by_headers[2] == by_headers[200]
    assert by_subject[2] == by_subject[200]
    big_thread = Message.objects.get(message_id="big-0@plomberie.fr").thread_id
    assert Message.objects.get(message_id="s-200@cabinet-lumiere.fr").thread_id == big_thread
    assert Message.objects.filter(thread_id=big_thread).count() == 202
    with django_assert_max_num_queries(12):
        message_thread(
            message=Message.objects.select_related("agency").get(message_id="big-7@plomberie.fr")
        )
