"""The automatic file stage (`lanterne.mail.autofile.message_autofile`): each
filing method and the order they are tried in, triage with its stored
suggestions, out-of-order arrival, forged and foreign tokens, machine mail
(bounces linked, nothing reopened, newsletters out of triage), idempotence,
and a cost per message that stays constant.

Messages go through the real pipeline (bytes stored, parsed, threaded) and
the real reference, rule and suggestion code; forwards have their own file,
test_forwarding.py."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from lanterne.audit.models import AuditLog
from lanterne.condominiums.models import Agency
from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience, DossierStatus, DossierType
from lanterne.dossiers.models import Dossier, TimelineEntry
from lanterne.mail.autofile import FilingOutcome, message_autofile
from lanterne.mail.filing import message_file, message_mark_not_dossier_related
from lanterne.mail.models import FilingMethod, MailRule, Message
from lanterne.mail.references import dossier_message_id, dossier_reply_address
from lanterne.mail.services import mail_receive, raw_message_process

from ..conftest import World
from ..factories import (
    CompanyDomainFactory,
    CompanyFactory,
    CondominiumFactory,
    DossierFactory,
    LotFactory,
    PersonFactory,
)

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def mail(
    message_id: str,
    *,
    sender: str = "Jean Dupont <jean@plomberie.fr>",
    to: str = "gestion@cabinet-lumiere.fr",
    subject: str = "Devis fuite lot 12",
    body: str = "Bonjour,\n\nVoici notre devis pour la fuite du lot 12.\n\nJean",
    date: datetime = MONDAY,
    in_reply_to: str = "",
    headers: tuple[str, ...] = (),
) -> bytes:
    """A small text/plain e-mail."""
    lines = [
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {subject}",
        f"Date: {format_datetime(date)}",
        f"Message-ID: {message_id}",
    ]
    if in_reply_to:
        lines += [f"In-Reply-To: {in_reply_to}", f"References: {in_reply_to}"]
    lines += [*headers, "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def receive(agency: Agency, data: bytes, *, sent: bool = False) -> Message:
    """Store, parse and thread a message — the pipeline up to the file stage."""
    result = mail_receive(agency=agency, data=data, is_sent_folder=sent)
    raw_message_process(result.raw)
    return Message.objects.get(raw=result.raw)


def autofile(message: Message, **kwargs: object) -> tuple[FilingOutcome, Message]:
    outcome = message_autofile(message, **kwargs)  # type: ignore[arg-type]
    message.refresh_from_db()
    return outcome, message


@pytest.fixture
def plumber(world: World):  # type: ignore[no-untyped-def]
    """The plumber's company, a party of the world's dossier: its mail takes
    part in it (its subject tags are certain)."""
    company = CompanyFactory(agency=world.agency, name="Plomberie Martin")
    CompanyDomainFactory(company=company, domain="plomberie.fr")
    world.dossier.party_companies.add(company)
    return company


def second_dossier(world: World, **kwargs: object) -> Dossier:
    return DossierFactory(  # type: ignore[no-any-return]
        condominium=kwargs.pop("condominium", world.condominium),
        title=kwargs.pop("title", "Ravalement de façade"),
        type=DossierType.WORKS,
        **kwargs,
    )


def tampered(text: str, position: int) -> str:
    """`text` with one character of its MAC changed."""
    swapped = "a" if text[position] != "a" else "b"
    return text[:position] + swapped + text[position + 1 :]


# -- References -----------------------------------------------------------------------------


def test_a_reply_to_a_mail_sent_from_a_dossier_is_filed_by_reference(world):  # type: ignore[no-untyped-def]
    sent_id = dossier_message_id(world.dossier)
    message = receive(world.agency, mail("<rep-1@plomberie.fr>", in_reply_to=sent_id))

    outcome, message = autofile(message)

    assert outcome.method == FilingMethod.REFERENCE and outcome.dossier == world.dossier
    assert not outcome.quiet and not outcome.not_dossier_related
    assert message.dossier == world.dossier and message.filing_method == FilingMethod.REFERENCE
    assert world.dossier.reference in message.filing_reason
    assert message.filed_by is None and message.suggestions == []
    # Internal until staff publish it, whatever the dossier's audience.
    entry = TimelineEntry.objects.get(message=message)
    assert entry.dossier == world.dossier and entry.audience == Audience.INTERNAL
    assert (
        AuditLog.objects.filter(object_id=str(message.pk), object_type="mail.message").count() == 1
    )


def test_the_reply_address_in_the_envelope_alone_files_the_mail(world):  # type: ignore[no-untyped-def]
    """A Bcc to the dossier's reply address leaves no trace in the headers:
    the envelope recipient the source recorded is enough."""
    message = receive(world.agency, mail("<bcc-1@plomberie.fr>", subject="Facture"))
    outcome, message = autofile(message, envelope_recipients=[dossier_reply_address(world.dossier)])
    assert outcome.method == FilingMethod.REFERENCE and message.dossier == world.dossier
    assert "adresse de réponse" in message.filing_reason


def test_a_subject_tag_files_mail_of_a_participant(world, plumber):  # type: ignore[no-untyped-def]
    subject = f"Nouveau devis [{world.dossier.reference}]"
    message = receive(world.agency, mail("<tag-1@plomberie.fr>", subject=subject))
    outcome, message = autofile(message)
    assert outcome.method == FilingMethod.REFERENCE and message.dossier == world.dossier
    assert "participe" in message.filing_reason


def test_a_subject_tag_from_a_stranger_waits_in_triage_with_that_dossier_first(world):  # type: ignore[no-untyped-def]
    subject = f"Nouveau devis [{world.dossier.reference}]"
    message = receive(
        world.agency,
        mail("<tag-2@inconnu.fr>", sender="Démarcheur <offre@inconnu.fr>", subject=subject),
    )
    outcome, message = autofile(message)
    assert outcome.method == FilingMethod.NONE and outcome.dossier is None
    assert message.dossier is None and message.filing_method == FilingMethod.NONE
    first = message.suggestions[0]
    assert first["dossier_id"] == world.dossier.pk
    assert first["reference"] == world.dossier.reference
    assert first["score"] is None and "ne participe pas" in first["reason"]
    assert len(message.suggestions) <= 3
    assert not TimelineEntry.objects.filter(message=message).exists()


def test_forged_and_foreign_tokens_file_nothing(world):  # type: ignore[no-untyped-def]
    # A tampered MAC, in the Message-ID channel and in the reply address.
    sent_id = dossier_message_id(world.dossier)
    forged_id = tampered(sent_id, sent_id.index("@") - 1)
    address = dossier_reply_address(world.dossier)
    forged_address = tampered(address, address.index("@") - 1)
    forged = receive(
        world.agency,
        mail("<forge-1@pirate.fr>", sender="x@pirate.fr", to=forged_address, in_reply_to=forged_id),
    )
    # A genuine token of another agency's dossier, sent to this agency.
    theirs = DossierFactory(condominium=CondominiumFactory(agency=world.other_agency))
    foreign = receive(
        world.agency,
        mail(
            "<forge-2@pirate.fr>",
            sender="x@pirate.fr",
            to=dossier_reply_address(theirs),
            in_reply_to=dossier_message_id(theirs),
        ),
    )
    for message in (forged, foreign):
        outcome, message = autofile(message)
        assert outcome.method == FilingMethod.NONE and message.dossier is None
        assert all(item["dossier_id"] != theirs.pk for item in message.suggestions)
    assert not theirs.messages.exists()
    assert not Message.objects.filter(dossier__agency=world.other_agency).exists()


def test_two_dossiers_named_with_certainty_wait_in_triage_with_both(world):  # type: ignore[no-untyped-def]
    other = second_dossier(world)
    message = receive(
        world.agency,
        mail(
            "<deux-1@plomberie.fr>",
            to=dossier_reply_address(other),
            in_reply_to=dossier_message_id(world.dossier),
        ),
    )
    outcome, message = autofile(message)
    assert outcome.method == FilingMethod.NONE and message.dossier is None
    assert [item["dossier_id"] for item in message.suggestions[:2]] == [world.dossier.pk, other.pk]


# -- The conversation -----------------------------------------------------------------------


def test_a_reply_follows_its_conversation(world):  # type: ignore[no-untyped-def]
    first = receive(world.agency, mail("<conv-1@plomberie.fr>"))
    message_file(
        viewer=policy.Viewer.system(world.agency.pk),
        actor=None,
        message=first,
        dossier=world.dossier,
        method=FilingMethod.MANUAL,
        reason="Classé à la main",
    )
    reply = receive(
        world.agency,
        mail(
            "<conv-2@plomberie.fr>",
            subject="RE : Devis fuite lot 12",
            in_reply_to="<conv-1@plomberie.fr>",
            date=MONDAY + timedelta(hours=2),
        ),
    )
    outcome, reply = autofile(reply)
    assert outcome.method == FilingMethod.THREAD and reply.dossier == world.dossier
    assert reply.filing_reason.startswith("Même conversation que « Devis fuite lot 12 »")


def test_a_conversation_in_two_dossiers_sends_the_reply_to_triage(world):  # type: ignore[no-untyped-def]
    other = second_dossier(world)
    system = policy.Viewer.system(world.agency.pk)
    first = receive(world.agency, mail("<split-1@plomberie.fr>"))
    second = receive(
        world.agency,
        mail("<split-2@plomberie.fr>", in_reply_to="<split-1@plomberie.fr>", subject="RE : x"),
    )
    assert first.thread_id == second.thread_id
    for message, dossier in ((first, world.dossier), (second, other)):
        message_file(
            viewer=system,
            actor=None,
            message=message,
            dossier=dossier,
            method=FilingMethod.MANUAL,
            reason="À la main",
        )
    third = receive(
        world.agency,
        mail("<split-3@plomberie.fr>", in_reply_to="<split-2@plomberie.fr>", subject="RE : x"),
    )
    outcome, third = autofile(third)
    assert outcome.method == FilingMethod.NONE and third.dossier is None
    assert {item["dossier_id"] for item in third.suggestions[:2]} == {world.dossier.pk, other.pk}


def test_a_reply_arriving_before_its_original_follows_it_once_filed(world):  # type: ignore[no-untyped-def]
    """Out of order: the reply arrives first and waits in triage; the original
    — a reply to a mail sent from the dossier — arrives later, is filed by
    its reference, and the reply follows through the conversation."""
    reply = receive(
        world.agency,
        mail(
            "<ooo-2@plomberie.fr>",
            subject="RE : Devis fuite lot 12",
            in_reply_to="<ooo-1@plomberie.fr>",
            date=MONDAY + timedelta(hours=3),
        ),
    )
    outcome, reply = autofile(reply)
    assert outcome.method == FilingMethod.NONE and reply.dossier is None

    original = receive(
        world.agency,
        mail("<ooo-1@plomberie.fr>", in_reply_to=dossier_message_id(world.dossier)),
    )
    outcome, original = autofile(original)
    assert outcome.method == FilingMethod.REFERENCE and original.dossier == world.dossier
    reply.refresh_from_db()
    assert reply.thread_id == original.thread_id
    assert reply.dossier == world.dossier and reply.filing_method == FilingMethod.THREAD
    assert TimelineEntry.objects.filter(dossier=world.dossier).count() == 2


def test_an_uncertain_tag_files_when_the_conversation_is_in_that_dossier(world):  # type: ignore[no-untyped-def]
    first = receive(world.agency, mail("<tagconv-1@ailleurs.fr>", sender="a@ailleurs.fr"))
    message_file(
        viewer=policy.Viewer.system(world.agency.pk),
        actor=None,
        message=first,
        dossier=world.dossier,
        method=FilingMethod.MANUAL,
        reason="À la main",
    )
    reply = receive(
        world.agency,
        mail(
            "<tagconv-2@ailleurs.fr>",
            sender="a@ailleurs.fr",
            subject=f"RE : Devis [{world.dossier.reference}]",
            in_reply_to="<tagconv-1@ailleurs.fr>",
        ),
    )
    outcome, reply = autofile(reply)
    assert outcome.method == FilingMethod.THREAD and reply.dossier == world.dossier

    # The same stranger's tag naming another dossier than the conversation's:
    # a conflict, for a person to settle.
    other = second_dossier(world)
    conflicting = receive(
        world.agency,
        mail(
            "<tagconv-3@ailleurs.fr>",
            sender="a@ailleurs.fr",
            subject=f"RE : Devis [{other.reference}]",
            in_reply_to="<tagconv-2@ailleurs.fr>",
        ),
    )
    outcome, conflicting = autofile(conflicting)
    assert outcome.method == FilingMethod.NONE and conflicting.dossier is None
    assert [item["dossier_id"] for item in conflicting.suggestions[:2]] == [
        other.pk,
        world.dossier.pk,
    ]


# -- Rules ----------------------------------------------------------------------------------


def rule(world: World, **kwargs: object) -> MailRule:
    return MailRule.objects.create(agency=world.agency, name=kwargs.pop("name", "Règle"), **kwargs)


def test_a_rule_files_into_its_dossier_with_its_audience(world):  # type: ignore[no-untyped-def]
    rule(
        world,
        name="Ascensoriste",
        sender_domain="ascenseurs-durand.fr",
        dossier=world.dossier,
        audience=Audience.OWNERS,
    )
    message = receive(
        world.agency,
        mail("<rule-1@ascenseurs-durand.fr>", sender="contact@ascenseurs-durand.fr"),
    )
    outcome, message = autofile(message)
    assert outcome.method == FilingMethod.RULE and message.dossier == world.dossier
    assert message.filing_reason == "Règle « Ascensoriste »."
    assert message.audience == Audience.OWNERS
    assert TimelineEntry.objects.get(message=message).audience == Audience.OWNERS


def test_a_rule_says_a_mail_concerns_no_dossier(world):  # type: ignore[no-untyped-def]
    rule(world, name="Publicité", subject_contains="promotion", not_dossier_related=True)
    message = receive(world.agency, mail("<rule-2@pub.fr>", subject="Promotion d'hiver"))
    outcome, message = autofile(message)
    assert outcome.not_dossier_related and outcome.dossier is None
    assert message.not_dossier_related and message.dossier is None
    assert message.filing_method == FilingMethod.RULE and "Publicité" in message.filing_reason


def test_a_reference_comes_before_a_rule_but_takes_its_audience(world):  # type: ignore[no-untyped-def]
    other = second_dossier(world)
    rule(world, name="Vers l'autre dossier", sender_domain="plomberie.fr", dossier=other)
    rule(world, name="Visibilité", sender_domain="plomberie.fr", audience=Audience.PARTIES)
    message = receive(
        world.agency,
        mail("<rule-3@plomberie.fr>", in_reply_to=dossier_message_id(world.dossier)),
    )
    outcome, message = autofile(message)
    assert outcome.method == FilingMethod.REFERENCE and message.dossier == world.dossier
    # The first rule does not apply (the reference decided); an audience-only
    # rule does, wherever the message is filed.
    MailRule.objects.filter(name="Vers l'autre dossier").delete()
    again = receive(
        world.agency,
        mail("<rule-4@plomberie.fr>", in_reply_to=dossier_message_id(world.dossier)),
    )
    outcome, again = autofile(again)
    assert again.dossier == world.dossier and again.audience == Audience.PARTIES


def test_a_condominium_rule_narrows_the_suggestions(world):  # type: ignore[no-untyped-def]
    """Both condominiums have a dossier about the lift; the rule keeps the
    suggestions to the Belvédère's."""
    here = DossierFactory(
        condominium=world.condominium, title="Panne de l'ascenseur", type=DossierType.INCIDENT
    )
    there = DossierFactory(
        condominium=world.other_condominium,
        title="Panne de l'ascenseur",
        type=DossierType.INCIDENT,
    )
    data = mail(
        "<lift-1@ascenseurs.fr>",
        sender="contact@ascenseurs.fr",
        subject="Panne de l'ascenseur",
        body="Bonjour, nous intervenons demain pour la panne de l'ascenseur.",
    )
    control = receive(world.agency, data)
    outcome, control = autofile(control)
    suggested = {item["dossier_id"] for item in control.suggestions}
    assert {here.pk, there.pk} <= suggested

    rule(
        world, name="Belvédère", sender_domain="ascenseurs.fr", condominium=world.other_condominium
    )
    narrowed = receive(world.agency, data.replace(b"lift-1", b"lift-2"))
    outcome, narrowed = autofile(narrowed)
    assert outcome.method == FilingMethod.NONE
    ids = [item["dossier_id"] for item in narrowed.suggestions]
    assert there.pk in ids and here.pk not in ids
    assert all(
        Dossier.objects.get(pk=pk).condominium_id == world.other_condominium.pk for pk in ids
    )
    assert "Belvédère" in outcome.reason


# -- Machine mail ---------------------------------------------------------------------------


def bounce(message_id: str, bounced_id: str, *, date: datetime = MONDAY) -> bytes:
    """A Postfix delivery report for the mail `bounced_id` (RFC 3464)."""
    return (
        "Return-Path: <>\r\n"
        f"Date: {format_datetime(date)}\r\n"
        "From: MAILER-DAEMON@mx.cabinet-lumiere.fr (Mail Delivery System)\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "To: gestion@cabinet-lumiere.fr\r\n"
        "Auto-Submitted: auto-replied\r\n"
        f"Message-ID: {message_id}\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "\r\n"
        "--B\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        "--B\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.cabinet-lumiere.fr\r\n\r\n"
        "Final-Recipient: rfc822; jean.petit@exemple-inexistant.fr\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\n"
        "--B\r\n"
        "Content-Type: message/rfc822\r\n\r\n"
        "From: Gestion <gestion@cabinet-lumiere.fr>\r\n"
        "To: jean.petit@exemple-inexistant.fr\r\n"
        "Subject: Convocation\r\n"
        f"Message-ID: {bounced_id}\r\n\r\n"
        "Madame, Monsieur,\r\n"
        "--B--\r\n"
    ).encode()


def sent_mail(world: World, message_id: str) -> bytes:
    return mail(
        message_id,
        sender="Gestion <gestion@cabinet-lumiere.fr>",
        to="jean.petit@exemple-inexistant.fr",
        subject=f"Convocation [{world.dossier.reference}]",
        body="Madame, Monsieur,",
    )


def test_a_bounce_is_linked_and_filed_with_the_mail_that_bounced_without_reopening(world):  # type: ignore[no-untyped-def]
    sent_id = dossier_message_id(world.dossier)
    sent = receive(world.agency, sent_mail(world, sent_id), sent=True)
    outcome, sent = autofile(sent)
    assert outcome.method == FilingMethod.REFERENCE and sent.dossier == world.dossier
    Dossier.objects.filter(pk=world.dossier.pk).update(status=DossierStatus.CLOSED)

    report = receive(world.agency, bounce("<dsn-1@mx.cabinet-lumiere.fr>", sent_id))
    assert report.is_bounce and report.bounced_message_id == sent_id.strip("<>")
    outcome, report = autofile(report)

    assert outcome.quiet and outcome.method == FilingMethod.THREAD
    assert report.bounce_of == sent and list(sent.bounces.all()) == [report]
    assert report.dossier == world.dossier and report.thread_id == sent.thread_id
    assert report.filing_reason.startswith("Échec de remise de « Convocation")
    assert report.audience == Audience.INTERNAL
    world.dossier.refresh_from_db()
    assert world.dossier.status == DossierStatus.CLOSED  # not reopened


def test_a_bounce_arriving_before_the_sent_mail_follows_it(world):  # type: ignore[no-untyped-def]
    """The inbox is imported before the Sent folder: the bounce waits, then
    the sent mail links it on arrival and it follows it into the dossier."""
    sent_id = dossier_message_id(world.dossier)
    report = receive(world.agency, bounce("<dsn-2@mx.cabinet-lumiere.fr>", sent_id))
    outcome, report = autofile(report)
    assert outcome.quiet and outcome.method == FilingMethod.NONE and report.bounce_of is None
    assert report.suggestions == []  # never through learned suggestions

    sent = receive(world.agency, sent_mail(world, sent_id), sent=True)
    outcome, sent = autofile(sent)
    assert outcome.method == FilingMethod.REFERENCE
    report.refresh_from_db()
    assert report.bounce_of == sent and report.dossier == world.dossier
    assert report.filing_method == FilingMethod.THREAD and report.audience == Audience.INTERNAL


def test_an_auto_reply_follows_its_conversation_internal_and_quiet(world):  # type: ignore[no-untyped-def]
    sent_id = dossier_message_id(world.dossier)
    away = receive(
        world.agency,
        mail(
            "<absent-1@plomberie.fr>",
            subject="Réponse automatique : Devis fuite lot 12",
            body="Je suis absent jusqu'au 10 mars.",
            in_reply_to=sent_id,
            headers=("Auto-Submitted: auto-replied",),
        ),
    )
    assert away.is_auto_reply
    rule(world, name="Tout publier", sender_domain="plomberie.fr", audience=Audience.OWNERS)
    status = world.dossier.status
    outcome, away = autofile(away)
    assert outcome.quiet and away.dossier == world.dossier
    assert away.audience == Audience.INTERNAL  # machine mail, whatever the rule says
    world.dossier.refresh_from_db()
    assert world.dossier.status == status


def test_machine_mail_never_goes_through_learned_suggestions(world):  # type: ignore[no-untyped-def]
    """The same text gets suggestions from a person, none from an auto-reply
    (which waits in triage), and a newsletter leaves triage."""
    DossierFactory(condominium=world.condominium, title="Panne de l'ascenseur")
    body = "Bonjour, la panne de l'ascenseur des Tilleuls est réparée."
    person = receive(
        world.agency, mail("<m-1@ascenseurs.fr>", subject="Panne de l'ascenseur", body=body)
    )
    outcome, person = autofile(person)
    assert outcome.method == FilingMethod.NONE and person.suggestions  # the control

    away = receive(
        world.agency,
        mail(
            "<m-2@ascenseurs.fr>",
            subject="Réponse automatique : Panne de l'ascenseur",
            body=body,
            headers=("Auto-Submitted: auto-replied",),
        ),
    )
    outcome, away = autofile(away)
    assert outcome.quiet and outcome.method == FilingMethod.NONE
    assert away.dossier is None and not away.not_dossier_related and away.suggestions == []

    news = receive(
        world.agency,
        mail(
            "<m-3@lettre.fr>",
            sender="La Lettre du syndic <news@lettre.fr>",
            subject="Panne de l'ascenseur : nos conseils",
            body=body,
            headers=("List-Unsubscribe: <mailto:stop@lettre.fr>", "Precedence: bulk"),
        ),
    )
    assert news.is_bulk
    outcome, news = autofile(news)
    assert outcome.quiet and outcome.not_dossier_related
    assert news.not_dossier_related and news.dossier is None and news.suggestions == []


def test_lanterne_s_own_notifications_are_not_filed(world):  # type: ignore[no-untyped-def]
    """A notification Lanterne sent, read back (a Sent folder): the event it
    announces is on the timeline already."""
    notice = receive(
        world.agency,
        mail(
            "<notif-1@cabinet-lumiere.fr>",
            sender="Lanterne <gestion@cabinet-lumiere.fr>",
            to="partie@exemple.fr",
            subject=f"Nouveau dans le dossier [{world.dossier.reference}]",
            in_reply_to=dossier_message_id(world.dossier),
            headers=("X-Lanterne-Notification: entry",),
        ),
        sent=True,
    )
    assert notice.is_lanterne_notification
    outcome, notice = autofile(notice)
    assert outcome.quiet and outcome.not_dossier_related
    assert notice.dossier is None and notice.not_dossier_related


# -- Learned suggestions --------------------------------------------------------------------


def test_triage_stores_the_ranked_learned_suggestions(world):  # type: ignore[no-untyped-def]
    lift = DossierFactory(condominium=world.condominium, title="Panne de l'ascenseur")
    message = receive(
        world.agency,
        mail(
            "<sugg-1@ascenseurs.fr>",
            sender="contact@ascenseurs.fr",
            subject="Panne de l'ascenseur",
            body="L'ascenseur des Tilleuls est en panne depuis ce matin.",
        ),
    )
    outcome, message = autofile(message)
    assert outcome.method == FilingMethod.NONE
    assert 1 <= len(message.suggestions) <= 3
    first = message.suggestions[0]
    assert first["dossier_id"] == lift.pk and first["reference"] == lift.reference
    assert 0 < first["score"] < 1 and first["reason"]
    scores = [item["score"] for item in message.suggestions]
    assert scores == sorted(scores, reverse=True)
    agency_dossiers = set(Dossier.objects.filter(agency=world.agency).values_list("pk", flat=True))
    assert {item["dossier_id"] for item in message.suggestions} <= agency_dossiers


def test_a_sure_learned_suggestion_files_the_mail(world):  # type: ignore[no-untyped-def]
    """With enough history (the agency's own past filings), a mail from a
    contractor who always writes about one dossier is filed by suggestion."""
    from lanterne.mail.suggest import AUTO_FILE_THRESHOLD, MIN_EXAMPLES

    system = policy.Viewer.system(world.agency.pk)
    condominiums = [world.condominium, world.other_condominium]
    topics = [
        ("chaudière", "La chaudière collective est en panne, intervention du chauffagiste."),
        ("toiture", "Les tuiles de la toiture sont à remplacer après la tempête."),
        ("interphone", "L'interphone du hall ne fonctionne plus, remplacement du combiné."),
        ("ascenseur", "L'ascenseur est bloqué au troisième étage, dépannage demandé."),
        ("espaces verts", "La taille des haies et la tonte de la pelouse du jardin."),
        ("nettoyage", "Le ménage des parties communes et des escaliers n'est pas fait."),
    ]
    dossiers = []
    for index, (topic, _text) in enumerate(topics):
        dossiers.append(
            DossierFactory(
                condominium=condominiums[index % 2],
                title=f"Travaux {topic}",
                status="quotes",
                opened_on=date(2025, 1, 6),
            )
        )
    count = MIN_EXAMPLES + 30
    for number in range(count):
        index = number % len(topics)
        topic, text = topics[index]
        message = receive(
            world.agency,
            mail(
                f"<hist-{number}@entreprise{index}.fr>",
                sender=f"Entreprise {index} <contact@entreprise{index}.fr>",
                subject=f"{topic.capitalize()} : point n°{number}",
                body=f"Bonjour,\n\n{text}\n\nCordialement",
                date=MONDAY - timedelta(days=200) + timedelta(hours=number),
            ),
        )
        message_file(
            viewer=system,
            actor=None,
            message=message,
            dossier=dossiers[index],
            method=FilingMethod.MANUAL,
            reason="Historique",
        )
    new = receive(
        world.agency,
        mail(
            "<hist-new@entreprise2.fr>",
            sender="Entreprise 2 <contact@entreprise2.fr>",
            subject="Interphone : nouveau devis",
            body="Bonjour,\n\nL'interphone du hall ne fonctionne plus, voici le devis.\n",
        ),
    )
    outcome, new = autofile(new)
    assert outcome.method == FilingMethod.SUGGESTION, new.suggestions
    assert new.dossier == dossiers[2] and new.filing_method == FilingMethod.SUGGESTION
    assert new.filing_score is not None and new.filing_score >= AUTO_FILE_THRESHOLD
    assert new.filing_reason and new.suggestions == []


# -- Idempotence and human decisions --------------------------------------------------------


def test_running_the_stage_twice_files_once(world):  # type: ignore[no-untyped-def]
    message = receive(
        world.agency,
        mail("<twice-1@plomberie.fr>", in_reply_to=dossier_message_id(world.dossier)),
    )
    first, _ = autofile(message)
    second, message = autofile(message)
    assert first.method == second.method == FilingMethod.REFERENCE
    assert second.dossier == world.dossier and second.reason == first.reason
    assert TimelineEntry.objects.filter(message=message).count() == 1
    assert (
        AuditLog.objects.filter(object_id=str(message.pk), object_type="mail.message").count() == 1
    )


def test_a_person_s_decision_is_never_overridden(world):  # type: ignore[no-untyped-def]
    other = second_dossier(world)
    system = policy.Viewer.system(world.agency.pk)
    # Filed by hand elsewhere than its reference says.
    moved = receive(
        world.agency, mail("<human-1@plomberie.fr>", in_reply_to=dossier_message_id(world.dossier))
    )
    message_file(
        viewer=system,
        actor=world.users["staff"],
        message=moved,
        dossier=other,
        method=FilingMethod.MANUAL,
        reason="Classé par Claire",
    )
    outcome, moved = autofile(moved)
    assert moved.dossier == other and moved.filing_method == FilingMethod.MANUAL
    assert outcome.method == FilingMethod.MANUAL and outcome.dossier == other
    # Said to concern no dossier, by a person.
    unrelated = receive(
        world.agency, mail("<human-2@plomberie.fr>", in_reply_to=dossier_message_id(world.dossier))
    )
    message_mark_not_dossier_related(viewer=system, actor=world.users["staff"], message=unrelated)
    outcome, unrelated = autofile(unrelated)
    assert outcome.not_dossier_related and unrelated.not_dossier_related
    assert unrelated.dossier is None and unrelated.filing_method == FilingMethod.MANUAL


def test_a_triage_message_is_decided_again_when_something_changed(world):  # type: ignore[no-untyped-def]
    message = receive(world.agency, mail("<later-1@inconnu.fr>", sender="x@inconnu.fr"))
    outcome, message = autofile(message)
    assert outcome.method == FilingMethod.NONE
    rule(world, name="Inconnu", sender_address="x@inconnu.fr", dossier=world.dossier)
    outcome, message = autofile(message)
    assert outcome.method == FilingMethod.RULE and message.dossier == world.dossier
    assert message.suggestions == []


# -- Cost -----------------------------------------------------------------------------------


@pytest.fixture
def busy_world(world):  # type: ignore[no-untyped-def]
    """Many dossiers, contacts and rules: the cost must not grow with them."""
    for number in range(30):
        lot = LotFactory(condominium=world.condominium, number=str(100 + number))
        dossier = DossierFactory(condominium=world.condominium, title=f"Dossier {number}")
        dossier.party_lots.add(lot)
        PersonFactory(agency=world.agency, email=f"proprietaire{number}@exemple.fr")
    for number in range(10):
        rule(world, name=f"Règle {number}", subject_contains=f"mot-{number}", dossier=world.dossier)
    return world


def queries_of(function, *args, **kwargs) -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as context:
        function(*args, **kwargs)
    return len(context.captured_queries)


def test_the_cost_per_message_is_small_and_constant(busy_world):  # type: ignore[no-untyped-def]
    world = busy_world
    # Warm the learned model (built once per process and agency).
    message_autofile(receive(world.agency, mail("<warm@x.fr>", sender="a@x.fr")))

    triage = [
        receive(world.agency, mail(f"<cost-t{n}@x.fr>", sender=f"b{n}@x.fr", subject=f"Sujet {n}"))
        for n in range(3)
    ]
    assert all(item.filing_method == FilingMethod.NONE for item in triage)
    triage_counts = {queries_of(message_autofile, item) for item in triage}

    # Replies to three different mails (one conversation each).
    by_reference = [
        receive(
            world.agency,
            mail(
                f"<cost-r{n}@plomberie.fr>",
                subject=f"Devis n°{n}",
                in_reply_to=dossier_message_id(world.dossier),
            ),
        )
        for n in range(3)
    ]
    assert all(item.filing_method == FilingMethod.NONE for item in by_reference)
    reference_counts = {queries_of(message_autofile, item) for item in by_reference}

    assert len(triage_counts) == 1 and len(reference_counts) == 1, (triage_counts, reference_counts)
    assert max(triage_counts) <= 16, triage_counts
    assert max(reference_counts) <= 22, reference_counts


def test_the_cost_does_not_grow_with_the_conversation(world, django_assert_max_num_queries):  # type: ignore[no-untyped-def]
    system = policy.Viewer.system(world.agency.pk)
    parent = ""
    for number in range(40):
        message = receive(
            world.agency,
            mail(
                f"<long-{number}@plomberie.fr>",
                subject="RE : Devis" if number else "Devis",
                in_reply_to=parent,
                date=MONDAY + timedelta(minutes=number),
            ),
        )
        if number == 0:
            message_file(
                viewer=system,
                actor=None,
                message=message,
                dossier=world.dossier,
                method=FilingMethod.MANUAL,
                reason="À la main",
            )
        else:
            message_autofile(message)
        parent = f"<long-{number}@plomberie.fr>"
    last = receive(
        world.agency,
        mail("<long-last@plomberie.fr>", subject="RE : Devis", in_reply_to=parent),
    )
    with django_assert_max_num_queries(20):
        outcome = message_autofile(last)
    assert outcome.method == FilingMethod.THREAD
    assert Message.objects.filter(thread_id=last.thread_id, dossier=world.dossier).count() == 41
