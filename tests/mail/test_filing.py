"""Filing a message into a dossier (`lanterne.mail.filing.message_file`): one
timeline entry seen per the access policy, the rest of the conversation filed
with it, re-filing that leaves nothing behind in the wrong dossier, never
across agencies, machine mail kept internal, and a cost that does not grow with
the conversation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from lanterne.audit.models import AuditAction, AuditLog
from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience, DossierType, EntryKind
from lanterne.dossiers.models import Dossier, TimelineEntry
from lanterne.dossiers.services import entry_set_audience
from lanterne.mail.filing import message_file, message_mark_not_dossier_related
from lanterne.mail.models import FilingMethod, Message
from lanterne.mail.services import mail_receive, raw_message_process

from ..conftest import World
from ..factories import CondominiumFactory, DossierFactory

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def mail(
    message_id: str,
    *,
    sender: str = "Jean Dupont <jean@plomberie.fr>",
    subject: str = "Devis fuite lot 12",
    body: str = "Bonjour,\n\nVoici notre devis pour la fuite du lot 12.\n\nJean",
    date: datetime = MONDAY,
    in_reply_to: str = "",
    extra_headers: str = "",
) -> bytes:
    """A small text/plain e-mail to the agency's shared mailbox."""
    headers = [
        f"From: {sender}",
        "To: gestion@cabinet-lumiere.fr",
        f"Subject: {subject}",
        f"Date: {format_datetime(date)}",
        f"Message-ID: {message_id}",
    ]
    if in_reply_to:
        headers += [f"In-Reply-To: {in_reply_to}", f"References: {in_reply_to}"]
    if extra_headers:
        headers.append(extra_headers)
    headers += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]
    return ("\r\n".join(headers) + "\r\n\r\n" + body).encode()


def receive(agency, data: bytes) -> Message:  # type: ignore[no-untyped-def]
    """Receive, parse and thread a message, without the automatic file stage:
    these tests file by hand (tests/mail/test_autofile.py has the stage)."""
    result = mail_receive(agency=agency, data=data)
    raw_message_process(result.raw)
    return Message.objects.get(raw=result.raw)


def conversation_mail(length: int, *, prefix: str = "fil") -> list[bytes]:
    """`length` messages, each answering the previous one."""
    messages: list[bytes] = []
    parent = ""
    for number in range(length):
        message_id = f"<{prefix}-{number}@plomberie.fr>"
        messages.append(
            mail(
                message_id,
                subject=("RE : " if number else "") + "Devis fuite lot 12",
                date=MONDAY + timedelta(hours=number),
                in_reply_to=parent,
                body=f"Message {number} de la conversation.",
            )
        )
        parent = message_id
    return messages


def conversation(world: World, length: int, *, prefix: str = "fil") -> list[Message]:
    """A conversation of `length` messages received in order: one thread."""
    messages = [receive(world.agency, data) for data in conversation_mail(length, prefix=prefix)]
    assert len({m.thread_id for m in messages}) == 1
    return messages


def staff(world: World) -> policy.Viewer:
    return policy.Viewer.for_user(world.users["staff"])


def file(world: World, message: Message, dossier: Dossier, **kwargs) -> Message:  # type: ignore[no-untyped-def]
    if "viewer" not in kwargs:
        kwargs["viewer"] = staff(world)
    arguments = {
        "actor": world.users["staff"],
        "message": message,
        "dossier": dossier,
        "method": FilingMethod.MANUAL,
        "reason": "Classé par Claire depuis la liste à classer",
        **kwargs,
    }
    return message_file(**arguments)


def other_dossier(world: World, title: str = "Ravalement de façade") -> Dossier:
    dossier = DossierFactory(
        condominium=world.condominium, title=title, type=DossierType.WORKS, audience="owners"
    )
    return dossier


def page(client, dossier: Dossier) -> str:  # type: ignore[no-untyped-def]
    response = client.get(reverse("dossiers:detail", args=[dossier.pk]))
    assert response.status_code == 200
    return response.content.decode()


# -- One entry, seen per the policy ---------------------------------------------------------


def test_filing_appends_one_internal_entry_with_its_provenance(world, client_for):  # type: ignore[no-untyped-def]
    message = receive(world.agency, mail("<devis-1@plomberie.fr>"))
    before = datetime.now(UTC)
    file(world, message, world.dossier, method=FilingMethod.SUGGESTION, score=0.93)

    message.refresh_from_db()
    assert message.dossier == world.dossier
    assert message.filing_method == FilingMethod.SUGGESTION and message.filing_score == 0.93
    assert message.filing_reason == "Classé par Claire depuis la liste à classer"
    assert message.filed_by == world.users["staff"] and message.filed_at >= before
    assert message.audience == Audience.INTERNAL and not message.not_dossier_related
    entry = TimelineEntry.objects.get(message=message)
    assert entry.dossier == world.dossier and entry.kind == EntryKind.MESSAGE
    # Dated by the mail, not by the filing: it sits where it happened.
    assert entry.occurred_at == message.date == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    # Internal by default, although the dossier is open to every co-owner.
    assert world.dossier.audience == Audience.OWNERS and entry.audience == Audience.INTERNAL
    audit = AuditLog.objects.get(object_type="mail.message", object_id=str(message.pk))
    assert audit.action == AuditAction.FILED and audit.actor == world.users["staff"]
    assert audit.changes["filing_method"] == ["none", "suggestion"]
    assert audit.changes["dossier"] == [None, world.dossier.reference]
    assert "suggestion" in audit.summary

    # Staff see it; a co-owner of the condominium does not, until it is published.
    owner = policy.Viewer.for_user(world.users["owner_not_party"])
    assert policy.may_see_entry(staff(world), entry)
    assert not policy.may_see_entry(owner, entry)
    assert not policy.entries_visible_to(owner, world.dossier).filter(pk=entry.pk).exists()
    assert "Voici notre devis" in page(client_for("staff"), world.dossier)
    assert "Voici notre devis" not in page(client_for("owner_not_party"), world.dossier)


def test_a_published_mail_shows_its_text_but_not_its_filing_to_co_owners(world, client_for):  # type: ignore[no-untyped-def]
    message = receive(
        world.agency,
        mail("<devis-2@plomberie.fr>", subject="Devis <b>urgent</b> & fuite", body="A < B"),
    )
    file(world, message, world.dossier, audience=Audience.OWNERS)
    assert TimelineEntry.objects.get(message=message).audience == Audience.OWNERS

    owner_page = page(client_for("owner_not_party"), world.dossier)
    assert "Devis &lt;b&gt;urgent&lt;/b&gt; &amp; fuite" in owner_page  # text only, escaped
    assert "<b>urgent</b>" not in owner_page
    assert "A &lt; B" in owner_page and "Jean Dupont" in owner_page
    # The filing reason and the sender's address are for staff.
    assert "Classé par Claire" not in owner_page
    assert "jean@plomberie.fr" not in owner_page
    staff_page = page(client_for("staff"), world.dossier)
    assert "Classé par Claire" in staff_page and "jean@plomberie.fr" in staff_page
    # Another condominium's co-owner sees nothing of the dossier at all.
    response = client_for("owner_other_condominium").get(
        reverse("dossiers:detail", args=[world.dossier.pk])
    )
    assert response.status_code == 404


def test_changing_the_audience_of_a_mail_entry(world):  # type: ignore[no-untyped-def]
    message = receive(world.agency, mail("<devis-3@plomberie.fr>"))
    file(world, message, world.dossier)
    entry = TimelineEntry.objects.get(message=message)
    entry_set_audience(
        viewer=staff(world), actor=world.users["staff"], entry=entry, audience=Audience.PARTIES
    )
    message.refresh_from_db()
    assert message.audience == Audience.PARTIES
    assert TimelineEntry.objects.get(message=message).audience == Audience.PARTIES
    party = policy.Viewer.for_user(world.users["owner_party"])
    assert policy.entries_visible_to(party, world.dossier).filter(message=message).exists()


def test_filing_again_into_the_same_dossier_appends_nothing(world):  # type: ignore[no-untyped-def]
    message = receive(world.agency, mail("<devis-4@plomberie.fr>"))
    file(world, message, world.dossier, method=FilingMethod.REFERENCE, reason="Référence")
    file(world, message, world.dossier, method=FilingMethod.REFERENCE, reason="Référence")
    assert TimelineEntry.objects.filter(message=message).count() == 1
    assert AuditLog.objects.filter(object_id=str(message.pk)).count() == 1
    # A manager confirming a suggestion changes the provenance, not the timeline.
    file(world, message, world.dossier, method=FilingMethod.MANUAL, reason="Confirmé")
    message.refresh_from_db()
    assert message.filing_method == FilingMethod.MANUAL and message.filing_reason == "Confirmé"
    assert TimelineEntry.objects.filter(message=message).count() == 1
    assert AuditLog.objects.filter(object_id=str(message.pk), action="filed").count() == 2


def test_one_entry_per_mail_is_a_database_rule(world):  # type: ignore[no-untyped-def]
    message = receive(world.agency, mail("<devis-5@plomberie.fr>"))
    file(world, message, world.dossier)
    with pytest.raises(IntegrityError), transaction.atomic():
        TimelineEntry.objects.create(
            dossier=other_dossier(world),
            kind=EntryKind.MESSAGE,
            audience=Audience.INTERNAL,
            message=message,
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        TimelineEntry.objects.create(
            dossier=world.dossier, kind=EntryKind.MESSAGE, audience=Audience.INTERNAL
        )


# -- The rest of the conversation ---------------------------------------------------------


def test_filing_files_the_rest_of_the_thread(world):  # type: ignore[no-untyped-def]
    data = conversation_mail(5)
    # The end of the conversation arrives first and is decided by other means.
    fourth = receive(world.agency, data[3])
    elsewhere = other_dossier(world)
    file(world, fourth, elsewhere, method=FilingMethod.REFERENCE, reason="Jeton signé")
    fifth = receive(world.agency, data[4])
    message_mark_not_dossier_related(viewer=staff(world), actor=None, message=fifth)
    first, second, third = (receive(world.agency, item) for item in data[:3])
    assert len({m.thread_id for m in Message.objects.all()}) == 1

    file(world, second, world.dossier, audience=Audience.OWNERS)

    for mate in (first, third):
        mate.refresh_from_db()
        assert mate.dossier == world.dossier
        assert mate.filing_method == FilingMethod.THREAD
        assert mate.filing_reason.startswith("Même conversation que « RE : Devis fuite lot 12 »")
        assert mate.filed_by == world.users["staff"]
        # Nobody read them: internal, whatever was chosen for the one filed.
        assert mate.audience == Audience.INTERNAL
        entry = TimelineEntry.objects.get(message=mate)
        assert entry.dossier == world.dossier and entry.audience == Audience.INTERNAL
        assert entry.occurred_at == mate.date
        audit = AuditLog.objects.get(object_type="mail.message", object_id=str(mate.pk))
        assert audit.action == AuditAction.FILED
        assert audit.changes["filing_method"] == ["none", "thread"]
    fourth.refresh_from_db()
    fifth.refresh_from_db()
    # What was decided by other means stays as it was.
    assert fourth.dossier == elsewhere and fourth.filing_method == FilingMethod.REFERENCE
    assert fifth.dossier is None and fifth.not_dossier_related
    assert TimelineEntry.objects.get(message=second).audience == Audience.OWNERS
    assert world.dossier.timeline.filter(kind=EntryKind.MESSAGE).count() == 3


def test_a_reply_arriving_later_is_filed_with_the_thread_when_filing_runs_again(world):  # type: ignore[no-untyped-def]
    (first,) = conversation(world, 1)
    file(world, first, world.dossier)
    reply = receive(
        world.agency,
        mail(
            "<late@plomberie.fr>",
            subject="RE : Devis fuite lot 12",
            in_reply_to="<fil-0@plomberie.fr>",
        ),
    )
    assert reply.dossier_id is None
    # Re-running the filing of the first message appends nothing for it,
    # and brings the new reply in.
    file(world, first, world.dossier)
    reply.refresh_from_db()
    assert reply.dossier == world.dossier and reply.filing_method == FilingMethod.THREAD
    assert TimelineEntry.objects.filter(message=first).count() == 1


# -- Re-filing ------------------------------------------------------------------------------


def test_refiling_moves_the_entry_and_audits(world, client_for):  # type: ignore[no-untyped-def]
    data = conversation_mail(3)
    right = other_dossier(world, "Recherche de fuite, lot 14")
    third = receive(world.agency, data[2])
    file(world, third, right, method=FilingMethod.REFERENCE, reason="Jeton signé")
    first, second = (receive(world.agency, item) for item in data[:2])
    file(world, first, world.dossier, audience=Audience.OWNERS)  # the wrong dossier
    second.refresh_from_db()
    assert second.dossier == world.dossier and second.filing_method == FilingMethod.THREAD
    assert "Message 0 de la conversation." in page(client_for("owner_not_party"), world.dossier)

    file(world, first, right, reason="Mauvais dossier : corrigé par Claire")

    # Nothing of it is left in the wrong dossier, for anyone.
    assert not world.dossier.timeline.filter(kind=EntryKind.MESSAGE).exists()
    for role in ("staff", "owner_not_party", "council_member"):
        body = page(client_for(role), world.dossier)
        assert "Message 0 de la conversation." not in body
        assert "Message 1 de la conversation." not in body
    first.refresh_from_db()
    second.refresh_from_db()
    third.refresh_from_db()
    assert first.dossier == right and first.filing_method == FilingMethod.MANUAL
    # The audience chosen for the old dossier does not travel with it.
    assert first.audience == Audience.INTERNAL
    # Filed only because of the conversation, the reply follows; the mail
    # filed by its own reference was never touched.
    assert second.dossier == right and second.filing_method == FilingMethod.THREAD
    assert third.dossier == right and third.filing_method == FilingMethod.REFERENCE
    assert third.filing_reason == "Jeton signé"
    assert TimelineEntry.objects.get(message=first).dossier == right
    assert TimelineEntry.objects.get(message=second).dossier == right
    assert right.timeline.filter(kind=EntryKind.MESSAGE).count() == 3

    moved = AuditLog.objects.get(object_id=str(first.pk), action=AuditAction.REFILED)
    assert moved.changes["dossier"] == [world.dossier.reference, right.reference]
    assert moved.changes["filing_method"] == ["manual", "manual"]
    assert moved.actor == world.users["staff"]
    follower = AuditLog.objects.get(object_id=str(second.pk), action=AuditAction.REFILED)
    assert follower.changes["dossier"] == [world.dossier.reference, right.reference]


def test_not_dossier_related_takes_the_mail_out_of_its_dossier(world):  # type: ignore[no-untyped-def]
    first, second = conversation(world, 2)
    file(world, first, world.dossier)
    message_mark_not_dossier_related(viewer=staff(world), actor=world.users["staff"], message=first)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.not_dossier_related and first.dossier is None
    assert first.filing_method == FilingMethod.MANUAL and first.filed_by == world.users["staff"]
    # The reply was there only through the conversation: back to triage.
    assert second.dossier is None and not second.not_dossier_related
    assert second.filing_method == FilingMethod.NONE
    assert not TimelineEntry.objects.filter(message__in=[first, second]).exists()
    audit = AuditLog.objects.get(object_id=str(first.pk), action=AuditAction.REFILED)
    assert audit.changes["not_dossier_related"] == [False, True]
    # Twice is once.
    message_mark_not_dossier_related(viewer=staff(world), actor=None, message=first)
    assert AuditLog.objects.filter(object_id=str(first.pk)).count() == 2
    # Filing it after all clears the judgement.
    file(world, first, world.dossier)
    first.refresh_from_db()
    assert first.dossier == world.dossier and not first.not_dossier_related


# -- Never across agencies; only staff ------------------------------------------------------


def test_filing_never_crosses_agencies(world):  # type: ignore[no-untyped-def]
    message = receive(world.agency, mail("<devis-6@plomberie.fr>"))
    foreign = DossierFactory(
        condominium=CondominiumFactory(agency=world.other_agency, name="Le Voisin")
    )
    with pytest.raises(ValidationError):
        file(world, message, foreign)
    # Nor when the one asking is staff of both agencies.
    both = policy.Viewer(
        staff_agency_ids=frozenset({world.agency.pk, world.other_agency.pk}),
        manager_agency_ids=frozenset({world.agency.pk, world.other_agency.pk}),
    )
    with pytest.raises(ValidationError):
        file(world, message, foreign, viewer=both)
    # Staff of the other agency may not touch our mail, even into their dossier.
    with pytest.raises(PermissionDenied):
        file(
            world,
            message,
            foreign,
            viewer=policy.Viewer.for_user(world.users["staff_other_agency"]),
        )
    for role in ("owner_party", "council_chair", "anonymous"):
        with pytest.raises(PermissionDenied):
            file(world, message, world.dossier, viewer=policy.Viewer.for_user(world.users[role]))
        with pytest.raises(PermissionDenied):
            message_mark_not_dossier_related(
                viewer=policy.Viewer.for_user(world.users[role]), actor=None, message=message
            )
    message.refresh_from_db()
    assert message.dossier is None and message.filing_method == FilingMethod.NONE
    assert not TimelineEntry.objects.filter(message=message).exists()
    assert not AuditLog.objects.filter(object_type="mail.message").exists()


def test_the_pipeline_files_with_the_system_viewer(world):  # type: ignore[no-untyped-def]
    message = receive(world.agency, mail("<devis-7@plomberie.fr>"))
    file(
        world,
        message,
        world.dossier,
        viewer=policy.Viewer.system(world.agency.pk),
        actor=None,
        method=FilingMethod.REFERENCE,
        reason="Réponse à un courriel du dossier (jeton signé)",
    )
    message.refresh_from_db()
    assert message.filed_by is None and message.filing_method == FilingMethod.REFERENCE
    assert AuditLog.objects.get(object_id=str(message.pk)).actor is None


def test_unknown_method_or_audience_is_refused(world):  # type: ignore[no-untyped-def]
    message = receive(world.agency, mail("<devis-8@plomberie.fr>"))
    with pytest.raises(ValidationError):
        file(world, message, world.dossier, method="guess")
    with pytest.raises(ValidationError):
        file(world, message, world.dossier, method=FilingMethod.NONE)
    with pytest.raises(ValidationError):
        file(world, message, world.dossier, audience="everyone")
    assert not TimelineEntry.objects.filter(message=message).exists()


# -- Machine mail ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "flag"),
    [
        ("Auto-Submitted: auto-replied", "is_auto_reply"),
        ("Precedence: bulk\r\nList-Unsubscribe: <mailto:stop@lettre.fr>", "is_bulk"),
    ],
)
def test_machine_mail_is_always_internal(world, header, flag):  # type: ignore[no-untyped-def]
    first, second = conversation(world, 2)
    robot = receive(
        world.agency,
        mail(
            "<robot@plomberie.fr>",
            subject="RE : Devis fuite lot 12",
            in_reply_to="<fil-1@plomberie.fr>",
            extra_headers=header,
        ),
    )
    assert getattr(robot, flag) and robot.thread_id == first.thread_id
    file(world, robot, world.dossier, audience=Audience.OWNERS)
    assert TimelineEntry.objects.get(message=robot).audience == Audience.INTERNAL
    robot.refresh_from_db()
    assert robot.audience == Audience.INTERNAL
    # It still files its thread.
    assert Message.objects.filter(pk__in=[first.pk, second.pk], dossier=world.dossier).count() == 2


# -- Cost -----------------------------------------------------------------------------------


def _queries(callable_) -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as captured:
        callable_()
    return len(captured.captured_queries)


def test_filing_costs_the_same_whatever_the_length_of_the_thread(world):  # type: ignore[no-untyped-def]
    short = conversation(world, 2, prefix="court")
    long = conversation(world, 12, prefix="long")
    a, b = other_dossier(world, "Dossier A"), other_dossier(world, "Dossier B")
    v = staff(world)  # read once, as a request does

    def file_first(messages: list[Message], dossier: Dossier) -> None:
        file(world, messages[0], dossier, viewer=v)

    filing_short = _queries(lambda: file_first(short, a))
    filing_long = _queries(lambda: file_first(long, a))
    # Lock and update the message, its entry, its audit row; then the same
    # for the rest of the conversation, one query each for all of them.
    assert filing_short == filing_long <= 10
    assert Message.objects.filter(dossier=a).count() == 14
    refiling_short = _queries(lambda: file_first(short, b))
    refiling_long = _queries(lambda: file_first(long, b))
    # Moving also deletes the entries left behind, with the notifications
    # queued for them (one select and two deletes, whatever their number).
    assert refiling_short == refiling_long <= 17
    assert Message.objects.filter(dossier=b).count() == 14
    assert not a.timeline.exists() and b.timeline.count() == 14


def test_a_page_of_mail_entries_costs_constant_queries(
    world, client_for, django_assert_max_num_queries
):  # type: ignore[no-untyped-def]
    """Mail entries are joined in the timeline query: a page of 20 mails costs
    what a page of 20 notes costs."""
    viewer = policy.Viewer.for_user(world.users["staff"])
    for number in range(25):
        message = receive(
            world.agency, mail(f"<page-{number}@plomberie.fr>", subject=f"Sujet {number}")
        )
        message_file(
            viewer=viewer,
            actor=world.users["staff"],
            message=message,
            dossier=world.dossier,
            method=FilingMethod.MANUAL,
            reason="test",
            audience=Audience.OWNERS,
        )
    client = client_for("owner_party")
    # 12, and the viewer's own contact data (never masked for them, two
    # queries) and whether they follow the dossier (one).
    with django_assert_max_num_queries(15):
        response = client.get(reverse("dossiers:detail", args=[world.dossier.pk]))
    assert response.status_code == 200
    assert "Sujet 24" in response.content.decode()
