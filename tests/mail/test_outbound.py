"""Mail written from a dossier (`lanterne.mail.outbound`): built with the
dossier's references, stored byte for byte, filed and published, sent on
commit through Django's mail backend — a real SMTP exchange where it
matters —, a failure kept and resent, a double submission sent once; the
compose page; and the whole round trip: a manager writes from the dossier,
the contractor's reply (sent by SMTP to Lanterne's receiver) lands in the
same dossier."""

from __future__ import annotations

import email
import email.policy
import re
import smtplib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from html import unescape
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.core import mail as django_mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from benchmarks.installations import free_port
from lanterne.audit.models import AuditAction, AuditLog
from lanterne.condominiums.models import Company
from lanterne.documents.models import Document
from lanterne.documents.services import document_upload
from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience
from lanterne.dossiers.models import Dossier, TimelineEntry
from lanterne.mail.choices import Direction, RawState, Review, SendStatus
from lanterne.mail.models import FilingMethod, Message, RawMessage
from lanterne.mail.outbound import (
    addresses_parse,
    dossier_contacts,
    dossier_mail_resend,
    dossier_mail_send,
    reply_defaults,
)
from lanterne.mail.references import (
    dossier_from_message_ids,
    dossier_from_recipients,
    dossier_reply_address,
)
from lanterne.mail.services import mail_receive, raw_message_ingest
from lanterne.mail.sources.smtp import MailReceiverController, mail_receiver_start
from lanterne.mail.storage import blob_read
from lanterne.reminders.models import Reminder

from ..conftest import World
from ..factories import CompanyDomainFactory, CompanyFactory, DossierFactory, PersonFactory

HOST = "127.0.0.1"
CONTRACTOR = "contact@plomberie-durand.fr"


class SinkHandler:
    """An SMTP server's DATA handler keeping what it was given."""

    def __init__(self) -> None:
        self.envelopes: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK: queued"


@pytest.fixture
def smtp_sink() -> Iterator[Callable[[int], SinkHandler]]:
    """Start a real SMTP server (aiosmtpd) on a port; stopped after the test."""
    controllers: list[Controller] = []

    def start(port: int) -> SinkHandler:
        handler = SinkHandler()
        controller = Controller(handler, hostname=HOST, port=port)
        controller.start()
        controllers.append(controller)
        return handler

    yield start
    for controller in controllers:
        controller.stop()


def smtp_backend(settings: Any, port: int) -> None:
    """Django's SMTP backend, towards 127.0.0.1:`port`."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = HOST
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_TIMEOUT = 10


def contractor(world: World, dossier: Dossier | None = None) -> Company:
    company = CompanyFactory(agency=world.agency, name="Plomberie Durand", email=CONTRACTOR)
    CompanyDomainFactory(company=company, domain="plomberie-durand.fr")
    (dossier or world.dossier).party_companies.add(company)
    return company


def staff_viewer(world: World) -> policy.Viewer:
    return policy.Viewer.for_user(world.users["staff"])


def quote(world: World, dossier: Dossier | None = None, title: str = "Devis plomberie") -> Document:
    staff = world.users["staff"]
    dossier = dossier or world.dossier
    return document_upload(
        viewer=staff_viewer(world),
        actor=staff,
        condominium=dossier.condominium,
        dossier=dossier,
        file=ContentFile(b"%PDF-1.4 devis reprise canalisation lot 12"),
        filename="devis-durand.pdf",
        kind="quote",
        title=title,
        audience=Audience.INTERNAL,
    )


def inbound(world: World, *, subject: str = "Fuite lot 12", in_reply_to: str = "") -> Message:
    """A contractor's mail received and filed into the world's dossier."""
    lines = [
        f"From: André Durand <{CONTRACTOR}>",
        "To: gestion@cabinet-lumiere.fr",
        f"Subject: {subject}",
        f"Date: {format_datetime(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))}",
        f"Message-ID: {make_msgid(domain='plomberie-durand.fr')}",
    ]
    if in_reply_to:
        lines += [f"In-Reply-To: {in_reply_to}", f"References: {in_reply_to}"]
    lines += ["Content-Type: text/plain; charset=utf-8", "", "Bonjour,", "", "Le devis suit."]
    data = "\r\n".join(lines).encode()
    raw = mail_receive(agency=world.agency, data=data).raw
    message = raw_message_ingest(raw)
    assert message is not None
    if message.dossier_id is None:
        from lanterne.mail.filing import message_file

        message_file(
            viewer=staff_viewer(world),
            actor=world.users["staff"],
            message=message,
            dossier=world.dossier,
            method=FilingMethod.MANUAL,
            reason="test",
            audience=Audience.INTERNAL,
        )
    message.refresh_from_db()
    return message


def send(world: World, **overrides: Any) -> Message:
    staff = world.users["staff"]
    arguments: dict[str, Any] = {
        "viewer": staff_viewer(world),
        "actor": staff,
        "dossier": world.dossier,
        "to": [f"André Durand <{CONTRACTOR}>"],
        "subject": "Reprise de la canalisation",
        "body": "Bonjour,\n\nPouvez-vous intervenir jeudi ?\n\nCordialement",
        "audience": Audience.INTERNAL,
    }
    arguments.update(overrides)
    return dossier_mail_send(**arguments)


# ---------------------------------------------------------------------------
# The service, with Django's in-memory backend


@pytest.mark.django_db
def test_mail_is_stored_filed_and_sent_with_the_dossier_references(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    contractor(world)
    world.persons["staff"].first_name, world.persons["staff"].last_name = "Claire", "Morel"
    world.persons["staff"].save()
    document = quote(world)
    with django_capture_on_commit_callbacks(execute=True):
        message = send(world, documents=[document], cc=["conseil@exemple.fr"])

    message.refresh_from_db()
    assert message.direction == Direction.OUTBOUND
    assert (message.dossier, message.filing_method) == (world.dossier, FilingMethod.MANUAL)
    assert message.audience == Audience.INTERNAL
    assert message.review == ""
    assert (message.send_status, message.send_error) == (SendStatus.SENT, "")
    entry = TimelineEntry.objects.get(message=message)
    assert (entry.dossier, entry.audience) == (world.dossier, Audience.INTERNAL)

    # What left is what the raw store keeps, byte for byte.
    assert len(django_mail.outbox) == 1
    sent = django_mail.outbox[0]
    stored = blob_read(message.raw.storage_name)
    assert sent.message().as_bytes(linesep="\r\n") == stored
    assert sent.recipients() == [f"André Durand <{CONTRACTOR}>", "conseil@exemple.fr"]

    parsed = email.message_from_bytes(stored, policy=email.policy.default)
    assert parsed["Subject"] == f"Reprise de la canalisation [{world.dossier.reference}]"
    assert parsed["From"].addresses[0].addr_spec == world.agency.shared_mailbox
    assert parsed["From"].addresses[0].display_name == "Claire Morel (Cabinet Lumière)"
    assert parsed["Reply-To"].addresses[0].addr_spec == dossier_reply_address(world.dossier)
    # Each of the references names the dossier on its own.
    assert dossier_from_message_ids(world.agency, [parsed["Message-ID"]]).dossier == world.dossier
    assert dossier_from_recipients(world.agency, [str(parsed["Reply-To"])]).dossier == world.dossier
    assert "Auto-Submitted" not in parsed
    # The document is attached, and shown with the mail in the timeline.
    attachments = [
        (p.get_filename(), p.get_payload(decode=True)) for p in parsed.iter_attachments()
    ]
    assert attachments == [("devis-durand.pdf", b"%PDF-1.4 devis reprise canalisation lot 12")]
    assert list(message.attachments.values_list("filename", flat=True)) == ["devis-durand.pdf"]

    actions = set(
        AuditLog.objects.filter(object_type="mail.message", object_id=str(message.pk)).values_list(
            "action", flat=True
        )
    )
    assert {AuditAction.CREATED, AuditAction.FILED, AuditAction.CHANGED} <= actions


@pytest.mark.django_db
def test_a_reply_from_the_dossier_continues_the_conversation(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    received = inbound(world, subject="Devis fuite lot 12")
    defaults = reply_defaults(received)
    assert defaults.recipients == [("André Durand", CONTRACTOR)]
    assert defaults.subject == "RE : Devis fuite lot 12"
    assert "André Durand a écrit :" in defaults.body and "> Le devis suit." in defaults.body

    with django_capture_on_commit_callbacks(execute=True):
        reply = send(
            world,
            subject=defaults.subject,
            body="Merci, accord." + defaults.body,
            reply_to=received,
        )
    parsed = email.message_from_bytes(
        blob_read(reply.raw.storage_name), policy=email.policy.default
    )
    assert parsed["In-Reply-To"].strip() == f"<{received.message_id}>"
    assert parsed["References"].strip() == f"<{received.message_id}>"
    reply.refresh_from_db()
    assert reply.thread_id == received.thread_id is not None
    assert reply.in_reply_to == [received.message_id]


@pytest.mark.django_db
def test_an_audience_beyond_the_agency_publishes_the_mail_masked(
    world: World, client_for: Callable[..., Any], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        message = send(
            world,
            audience=Audience.OWNERS,
            body="Bonjour,\n\nJoignable au 06 12 34 56 78 pour l'accès.\n\nCordialement",
        )
    message.refresh_from_db()
    assert (message.audience, message.review) == (Audience.OWNERS, Review.PUBLISHED)
    assert TimelineEntry.objects.get(message=message).audience == Audience.OWNERS
    owner = policy.Viewer.for_user(world.users["owner_not_party"])
    assert policy.may_read_message(owner, message)
    # A co-owner reads it without the phone number it carries.
    page = client_for("owner_not_party").get(reverse("dossiers:detail", args=[world.dossier.pk]))
    assert "Joignable au" in page.content.decode()
    assert "06 12 34 56 78" not in page.content.decode()


@pytest.mark.django_db
def test_the_same_form_posted_twice_sends_once(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    key = "0123456789abcdef0123456789abcdef"
    with django_capture_on_commit_callbacks(execute=True):
        first = send(world, idempotency_key=key)
    with django_capture_on_commit_callbacks(execute=True):
        second = send(world, idempotency_key=key, body="Un autre texte")
    assert first.pk == second.pk
    assert Message.objects.filter(direction=Direction.OUTBOUND).count() == 1
    assert len(django_mail.outbox) == 1


@pytest.mark.django_db
def test_invalid_mail_writes_nothing(world: World, django_capture_on_commit_callbacks: Any) -> None:
    other_dossier = DossierFactory(condominium=world.condominium)
    foreign_document = quote(world, other_dossier)
    foreign_mail = inbound(world)
    Message.objects.filter(pk=foreign_mail.pk).update(dossier=other_dossier)
    foreign_mail.refresh_from_db()
    cases: list[dict[str, Any]] = [
        {"to": []},
        {"to": ["pas-une-adresse"]},
        {"to": ["Jean <jean@exemple.fr>\r\nBcc: fuite@exemple.fr"]},
        {"subject": "  "},
        {"body": "\n"},
        {"audience": "everyone"},
        {"documents": [foreign_document]},
        {"reply_to": foreign_mail},
    ]
    before = (RawMessage.objects.count(), TimelineEntry.objects.count(), AuditLog.objects.count())
    with django_capture_on_commit_callbacks(execute=True):
        for case in cases:
            with pytest.raises(ValidationError):
                send(world, **case)
        # Only staff of the dossier's agency write from it.
        for role in ("council_member", "owner_party", "staff_other_agency"):
            with pytest.raises(PermissionDenied):
                send(world, viewer=policy.Viewer.for_user(world.users[role]))
    after = (RawMessage.objects.count(), TimelineEntry.objects.count(), AuditLog.objects.count())
    assert after == before
    assert django_mail.outbox == []


def test_addresses_are_read_as_staff_type_them() -> None:
    assert addresses_parse('"Durand, André" <Contact@Plomberie-Durand.fr>; devis@exemple.fr') == [
        ("Durand, André", CONTRACTOR),
        ("", "devis@exemple.fr"),
    ]
    assert addresses_parse(["a@exemple.fr", "A@exemple.fr"]) == [("", "a@exemple.fr")]
    with pytest.raises(ValidationError):
        addresses_parse("jean@")


# ---------------------------------------------------------------------------
# A real SMTP exchange: failure, resend


@pytest.mark.django_db(transaction=True)
def test_a_failed_send_is_kept_and_resent(
    world: World, settings: Any, smtp_sink: Callable[[int], SinkHandler]
) -> None:
    port = free_port()
    smtp_backend(settings, port)  # nothing listens there yet
    message = send(world)
    message.refresh_from_db()
    assert message.send_status == SendStatus.FAILED
    assert "ConnectionRefusedError" in message.send_error
    # Kept in the dossier, with the error, for staff to resend.
    assert message.dossier == world.dossier

    sink = smtp_sink(port)
    again = dossier_mail_resend(viewer=staff_viewer(world), actor=None, message=message)
    assert again.send_status == SendStatus.QUEUED
    message.refresh_from_db()
    assert (message.send_status, message.send_error) == (SendStatus.SENT, "")
    assert len(sink.envelopes) == 1
    mail_from, recipients, data = sink.envelopes[0]
    assert (mail_from, recipients) == (world.agency.shared_mailbox, [CONTRACTOR])
    assert data == blob_read(message.raw.storage_name)
    # Sent already: a second « Renvoyer » queues nothing.
    dossier_mail_resend(viewer=staff_viewer(world), actor=None, message=message)
    assert len(sink.envelopes) == 1


@pytest.mark.django_db(transaction=True)
def test_manager_writes_from_the_dossier_and_the_contractors_reply_lands_in_it(
    world: World, settings: Any, smtp_sink: Callable[[int], SinkHandler]
) -> None:
    """A manager writes from the dossier (sent through Django's SMTP backend
    to a real SMTP server); the contractor answers from their own mail
    client to the Reply-To, through Lanterne's SMTP receiver; the answer is
    filed into the same dossier, by its reference."""
    contractor(world)
    port = free_port()
    smtp_backend(settings, port)
    outside = smtp_sink(port)
    receiver: MailReceiverController = mail_receiver_start(port=free_port(), host=HOST)
    try:
        sent = send(world, documents=[quote(world)])
        assert len(outside.envelopes) == 1
        _from, _to, data = outside.envelopes[0]
        received = email.message_from_bytes(data, policy=email.policy.default)

        answer = EmailMessage(policy=email.policy.SMTP)
        answer["From"] = f"André Durand <{CONTRACTOR}>"
        answer["To"] = received["Reply-To"]
        answer["Subject"] = f"RE: {received['Subject']}"
        answer["Date"] = format_datetime(datetime.now(UTC))
        answer["Message-ID"] = make_msgid(domain="plomberie-durand.fr")
        answer["In-Reply-To"] = received["Message-ID"]
        answer["References"] = received["Message-ID"]
        answer.set_content("Bonjour,\n\nJeudi 9 h, c'est noté.\n\nAndré Durand")
        reply_address = received["Reply-To"].addresses[0].addr_spec
        with smtplib.SMTP(HOST, receiver.port, timeout=30) as client:
            client.sendmail(CONTRACTOR, [reply_address], answer.as_bytes())
        assert receiver.receiver.drain(timeout=30), "processing did not finish"
    finally:
        receiver.stop()

    reply = Message.objects.get(from_address=CONTRACTOR)
    assert reply.raw.state == RawState.PARSED
    assert reply.direction == Direction.INBOUND
    assert reply.dossier == world.dossier
    assert reply.filing_method == FilingMethod.REFERENCE
    sent.refresh_from_db()
    assert sent.send_status == SendStatus.SENT
    assert reply.thread_id == sent.thread_id is not None
    kinds = list(
        TimelineEntry.objects.filter(dossier=world.dossier, kind="message")
        .order_by("occurred_at")
        .values_list("message_id", flat=True)
    )
    assert kinds == [sent.pk, reply.pk]


# ---------------------------------------------------------------------------
# The compose page


@pytest.mark.django_db
def test_compose_page_offers_the_dossiers_contacts_and_documents(
    world: World, client_for: Callable[..., Any]
) -> None:
    contractor(world)
    owner = world.persons["owner_party"]
    owner.emails.create(agency=world.agency, address="partie@exemple.fr", is_primary=True)
    document = quote(world)
    url = reverse("mail:compose", args=[world.dossier.pk])
    page = client_for("staff").get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert CONTRACTOR in html and "partie@exemple.fr" in html
    assert document.title in html
    assert f'value="{Audience.OWNERS}" selected' in html  # the dossier's audience

    # Only the dossier's staff: others are refused, or do not see it at all.
    assert client_for("council_member").get(url).status_code == 403
    assert client_for("staff_other_agency").get(url).status_code == 404
    assert client_for("anonymous").get(url).status_code == 302


@pytest.mark.django_db
def test_compose_page_costs_the_same_whatever_the_dossier_holds(
    world: World, client_for: Callable[..., Any]
) -> None:
    client = client_for("staff")
    url = reverse("mail:compose", args=[world.dossier.pk])

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    contractor(world)
    quote(world)
    queries()  # the first request also reads what is cached afterwards
    few = queries()
    for number in range(5):
        person = PersonFactory(agency=world.agency, email=f"voisin{number}@exemple.fr")
        world.dossier.party_persons.add(person)
        quote(world, title=f"Photo {number}")
        company = CompanyFactory(agency=world.agency, email=f"devis{number}@exemple.fr")
        world.dossier.party_companies.add(company)
        PersonFactory(agency=world.agency, company=company, email=f"agent{number}@exemple.fr")
    assert queries() == few


@pytest.mark.django_db
def test_reply_from_the_timeline_prefills_the_form(
    world: World, client_for: Callable[..., Any]
) -> None:
    contractor(world)
    received = inbound(world, subject="Devis fuite lot 12")
    url = reverse("mail:compose", args=[world.dossier.pk]) + f"?reponse={received.pk}"
    html = client_for("staff").get(url).content.decode()
    assert "RE : Devis fuite lot 12" in html
    assert re.search(rf'value="{re.escape(CONTRACTOR)}" id="[^"]+" checked', html)
    assert "&gt; Le devis suit." in html
    # A mail of another dossier cannot be answered from this one.
    other = DossierFactory(condominium=world.condominium)
    Message.objects.filter(pk=received.pk).update(dossier=other)
    assert client_for("staff").get(url).status_code == 404


@pytest.mark.django_db
def test_compose_form_sends_once_and_sets_the_reminder(
    world: World, client_for: Callable[..., Any], django_capture_on_commit_callbacks: Any
) -> None:
    contractor(world)
    document = quote(world)
    client = client_for("staff")
    url = reverse("mail:compose", args=[world.dossier.pk])
    form = {
        "idempotency_key": "fedcba9876543210fedcba9876543210",
        "to_contacts": [CONTRACTOR],
        "to": "",
        "cc": "Conseil <conseil@exemple.fr>",
        "subject": "Intervention jeudi",
        "body": "Bonjour,\nPouvez-vous passer jeudi ?",
        "documents": [str(document.pk)],
        "audience": Audience.INTERNAL,
        "await_reply_until": "2099-01-15",
        "auto_remind": "on",
    }
    for _attempt in range(2):  # a double click
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, form)
        assert response.status_code == 302
    message = Message.objects.get(direction=Direction.OUTBOUND)
    assert response["Location"].endswith(f"#courriel-{message.pk}")
    assert len(django_mail.outbox) == 1
    assert django_mail.outbox[0].cc == ["Conseil <conseil@exemple.fr>"]
    reminder = Reminder.objects.get()
    assert (reminder.message, reminder.waiting_for_address) == (message, CONTRACTOR)
    assert (reminder.due_on.isoformat(), reminder.auto_send) == ("2099-01-15", True)

    # A form without any recipient is refused with a French error, nothing sent.
    form.update(idempotency_key="00000000000000000000000000000001", to_contacts=[], to="")
    response = client.post(url, form)
    assert response.status_code == 400
    assert "Indiquez au moins un destinataire." in response.content.decode()
    assert Message.objects.filter(direction=Direction.OUTBOUND).count() == 1


@pytest.mark.django_db
def test_contacts_are_the_dossiers_parties_for_its_staff_only(world: World) -> None:
    contractor(world)
    owner = world.persons["owner_party"]
    owner.emails.create(agency=world.agency, address="partie@exemple.fr", is_primary=True)
    stranger = PersonFactory(agency=world.agency, email="inconnu@exemple.fr")
    assert stranger.pk
    found = {contact.address for contact in dossier_contacts(staff_viewer(world), world.dossier)}
    assert found == {CONTRACTOR, "partie@exemple.fr"}
    council = policy.Viewer.for_user(world.users["council_member"])
    assert dossier_contacts(council, world.dossier) == []


@pytest.mark.django_db
def test_timeline_actions_show_a_failure_and_resend_it(
    world: World, client_for: Callable[..., Any], django_capture_on_commit_callbacks: Any, rf: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        message = send(world)
    Message.objects.filter(pk=message.pk).update(
        send_status=SendStatus.FAILED,
        send_error="SMTPServerDisconnected: Connection unexpectedly closed",
    )
    message.refresh_from_db()
    request = rf.get("/")
    html = unescape(
        render_to_string(
            "mail/partials/message_outbound.html",
            {"message": message, "is_staff": True},
            request=request,
        )
    )
    resend_url = reverse("mail:resend", args=[message.pk])
    assert "Échec de l'envoi" in html and "Connection unexpectedly closed" in html
    assert resend_url in html
    assert reverse("mail:compose", args=[world.dossier.pk]) + f"?reponse={message.pk}" in html
    assert (
        render_to_string(
            "mail/partials/message_outbound.html", {"message": message, "is_staff": False}
        ).strip()
        == ""
    )

    assert client_for("council_member").post(resend_url).status_code == 404
    django_mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for("staff").post(resend_url)
    assert response["Location"].endswith(f"#courriel-{message.pk}")
    message.refresh_from_db()
    assert (message.send_status, message.send_error) == (SendStatus.SENT, "")
    assert len(django_mail.outbox) == 1
