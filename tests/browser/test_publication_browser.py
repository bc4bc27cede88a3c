"""Transparency in a real browser, end to end.

A contractor's mail arrives through the pipeline and waits in triage. The
manager files it into the water-damage dossier from the triage inbox, then
publishes it to the parties from the dossier's timeline. The co-owner party
reads it with the third party's mobile number masked; a co-owner who is not a
party cannot open the dossier; a council member (the council follows this
dossier) reads it too. The manager replies from the dossier: Lanterne sends
the mail through Django's SMTP backend to a real SMTP server, the contractor
answers it through Lanterne's own SMTP receiver, and the answer appears in
the same dossier's timeline."""

from __future__ import annotations

import email
import email.policy
import re
import smtplib
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.urls import reverse
from playwright.sync_api import Browser, Page, expect

from benchmarks.installations import free_port
from lanterne.condominiums.models import PersonEmail
from lanterne.dossiers.choices import Audience
from lanterne.mail.choices import Review
from lanterne.mail.models import FilingMethod, Message
from lanterne.mail.services import mail_receive_and_process
from lanterne.mail.sources.smtp import mail_receiver_start

from ..mail.test_outbound import HOST, SinkHandler, smtp_backend
from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CONTRACTOR = "f.martin@plomberie-martin.fr"
NEIGHBOUR_MOBILE = "06 12 34 56 78"
PARTY_MOBILE = "07 81 22 33 44"


@pytest.fixture
def outside(settings: Any) -> Iterator[SinkHandler]:
    """A real SMTP server standing for the outside world, and Django's SMTP
    backend pointed at it."""
    sink = SinkHandler()
    controller = Controller(sink, hostname=HOST, port=free_port())
    controller.start()
    smtp_backend(settings, controller.port)
    yield sink
    controller.stop()


def contractor_mail(world) -> Message:  # type: ignore[no-untyped-def]
    mail = EmailMessage()
    mail["From"] = f"Frédéric Martin <{CONTRACTOR}>"
    mail["To"] = "Cabinet Lumière <gestion@cabinet-lumiere.fr>"
    mail["Subject"] = "Recherche de fuite au lot 12"
    mail["Date"] = "Tue, 03 Mar 2026 10:00:00 +0100"
    mail["Message-ID"] = "<fuite-12@plomberie-martin.fr>"
    mail.set_content(
        "Bonjour,\n\nNous passerons jeudi à 8 h pour la recherche de fuite au lot 12. "
        f"La voisine du dessous, Mme Leroy, est joignable au {NEIGHBOUR_MOBILE} ; "
        f"M. Partie au {PARTY_MOBILE}.\n\nFrédéric Martin\n"
    )
    result = mail_receive_and_process(agency=world.agency, data=mail.as_bytes())
    message = Message.objects.get(raw=result.raw)
    assert message.dossier_id is None
    # What the file stage would have suggested for it (see test_triage_browser).
    Message.objects.filter(pk=message.pk).update(
        suggestions=[
            {
                "dossier_id": world.dossier.pk,
                "reference": world.dossier.reference,
                "score": 0.7,
                "reason": "mentionne le lot 12",
            }
        ]
    )
    return message


def as_role(browser: Browser, live_server, world, role: str) -> Page:  # type: ignore[no-untyped-def]
    context = browser.new_context(
        base_url=live_server.url,
        locale="fr-FR",
        extra_http_headers={"Accept-Language": "fr-FR,fr;q=0.9"},
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    login(page, world.users[role].email)
    return page


def test_publish_mask_reply_and_the_answer_lands_in_the_dossier(  # type: ignore[no-untyped-def]
    world, page: Page, browser: Browser, live_server, outside: SinkHandler
) -> None:
    dossier = world.dossier
    dossier.audience = Audience.PARTIES
    dossier.council_sees_parties = True
    dossier.save(update_fields=["audience", "council_sees_parties"])
    party = world.persons["owner_party"]
    party.phones = [PARTY_MOBILE]
    party.save(update_fields=["phones"])
    message = contractor_mail(world)
    dossier_url = reverse("dossiers:detail", args=[dossier.pk])

    # The manager files it from triage with one click on the suggestion…
    login(page, world.users["staff"].email)
    page.goto(reverse("mail:triage"))
    item = page.locator("li[data-triage-item]").filter(has_text="Recherche de fuite au lot 12")
    item.get_by_role("button", name=re.compile(dossier.reference)).click()
    expect(page.locator("li[data-triage-item]")).to_have_count(0)
    message.refresh_from_db()
    assert message.dossier_id == dossier.pk and message.review == Review.PENDING

    # …then publishes it to the parties from the timeline, where it waited.
    page.goto(dossier_url)
    entry = page.locator(f"#courriel-{message.pk}").locator("xpath=ancestor::li[1]")
    expect(entry.get_by_text("À relire avant publication")).to_be_visible()
    entry.get_by_label("Publier pour").select_option(Audience.PARTIES)
    entry.get_by_role("button", name="Publier", exact=True).click()
    expect(entry.get_by_role("status")).to_contain_text("Courriel publié")
    message.refresh_from_db()
    assert (message.review, message.audience) == (Review.PUBLISHED, Audience.PARTIES)

    # The party reads it: the neighbour's mobile masked, their own shown.
    party_page = as_role(browser, live_server, world, "owner_party")
    party_page.goto(dossier_url)
    text = party_page.locator(f"#courriel-{message.pk} .mail-text")
    expect(text).to_contain_text("recherche de fuite au lot 12")
    expect(text).to_contain_text("[téléphone masqué]")
    expect(text).not_to_contain_text(NEIGHBOUR_MOBILE)
    expect(text).to_contain_text(PARTY_MOBILE)
    assert NEIGHBOUR_MOBILE not in party_page.content()

    # A co-owner of the building who is not a party does not see the dossier.
    neighbour_page = as_role(browser, live_server, world, "owner_not_party")
    response = neighbour_page.goto(dossier_url)
    assert response is not None and response.status == 404
    assert "Recherche de fuite" not in neighbour_page.content()

    # The council member (the council follows this dossier) reads it, masked.
    council_page = as_role(browser, live_server, world, "council_member")
    council_page.goto(dossier_url)
    council_text = council_page.locator(f"#courriel-{message.pk} .mail-text")
    expect(council_text).to_contain_text("[téléphone masqué]")
    assert NEIGHBOUR_MOBILE not in council_page.content()
    assert PARTY_MOBILE not in council_page.content()

    # The manager replies from the dossier; the mail leaves by SMTP.
    PersonEmail.objects.get_or_create(
        person=world.persons["staff"],
        agency=world.agency,
        defaults={"address": "claire@cabinet-lumiere.fr"},
    )
    page.goto(dossier_url)
    page.locator(f"#courriel-{message.pk}").get_by_role("link", name="Répondre").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Répondre")
    page.get_by_label("Message").fill("Bonjour,\n\nC'est noté pour jeudi 8 h.\n\nLe cabinet")
    page.get_by_role("button", name="Envoyer").click()
    expect(page).to_have_url(re.compile(re.escape(dossier_url)))
    mails = [
        email.message_from_bytes(data, policy=email.policy.default)
        for _from, _to, data in outside.envelopes
    ]
    to_contractor = [m for m in mails if CONTRACTOR in str(m["To"])]
    assert len(to_contractor) == 1
    sent = to_contractor[0]
    assert dossier.reference in str(sent["Subject"])
    # The followers were told by mail too (the publication, then the reply):
    # the party and the council member, never with the neighbour's mobile.
    notified = {str(m["To"]) for m in mails if m["X-Lanterne-Notification"]}
    assert {world.users["owner_party"].email, world.users["council_member"].email} <= notified
    assert world.users["owner_not_party"].email not in notified
    texts = [
        m.get_body(preferencelist=("plain",)).get_content()
        for m in mails
        if m["X-Lanterne-Notification"]
    ]
    assert all(NEIGHBOUR_MOBILE not in text for text in texts)
    assert any("[téléphone masqué]" in text for text in texts)

    # The contractor answers from their own mail client, through Lanterne's
    # SMTP receiver, to the address the mail asked for.
    answer = EmailMessage(policy=email.policy.SMTP)
    answer["From"] = f"Frédéric Martin <{CONTRACTOR}>"
    answer["To"] = sent["Reply-To"]
    answer["Subject"] = f"RE: {sent['Subject']}"
    answer["Date"] = format_datetime(datetime.now(UTC))
    answer["Message-ID"] = make_msgid(domain="plomberie-martin.fr")
    answer["In-Reply-To"] = sent["Message-ID"]
    answer.set_content("Bonjour,\n\nParfait, à jeudi.\n\nFrédéric Martin")
    receiver = mail_receiver_start(port=free_port(), host=HOST)
    try:
        with smtplib.SMTP(HOST, receiver.port, timeout=30) as client:
            client.sendmail(
                CONTRACTOR, [sent["Reply-To"].addresses[0].addr_spec], answer.as_bytes()
            )
        assert receiver.receiver.drain(timeout=30), "the receiver did not finish"
    finally:
        receiver.stop()
    reply = Message.objects.get(message_id=answer["Message-ID"].strip("<>"))
    assert reply.dossier_id == dossier.pk
    assert reply.filing_method == FilingMethod.REFERENCE
    page.goto(dossier_url)
    expect(page.locator(f"#courriel-{reply.pk}")).to_contain_text("Parfait, à jeudi.")
