"""The demo agency's mail history (`lanterne.core.demo_mail`): generated the
same way every time, every message readable by the parser, and ingested by
`lanterne load-demo` through the real pipeline — some mail filed by its
references or its conversation, the rest waiting in triage, nothing
quarantined. And `make demo`'s SMTP line names an address the receiver takes."""

from __future__ import annotations

import datetime as dt
import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from lanterne.core.demo import DEMO_SHARED_MAILBOX, demo_agency, demo_dossier, demo_load
from lanterne.core.demo_mail import (
    DEMO_MAIL_FOLDER,
    demo_mail_history,
    demo_mail_write,
    demo_today,
)
from lanterne.mail.choices import Direction, RawState
from lanterne.mail.models import Delivery, FilingMethod, Message, RawMessage
from lanterne.mail.parsing import parse_message
from lanterne.mail.references import dossier_from_message_ids, dossier_from_recipients
from lanterne.mail.sources.smtp import agency_for_recipient

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def test_history_is_deterministic_parses_and_names_the_dossiers(tmp_path: Path) -> None:
    today = timezone.localdate()
    agency = demo_load(today=today).agency
    assert demo_today(agency) == today

    history = demo_mail_history(agency, today=today)
    assert history == demo_mail_history(agency, today=today)
    assert history != demo_mail_history(agency, today=today, seed=7)
    assert 60 <= len(history) <= 120
    names = [mail.filename for mail in history]
    assert names == sorted(names) and len(set(names)) == len(names)

    parsed = [parse_message(mail.data) for mail in history]
    ids = [message.message_id for message in parsed]
    assert all(ids) and len(set(ids)) == len(ids)
    # Dated over the months before today, in file order.
    dates = [message.date for message in parsed]
    assert all(date is not None for date in dates)
    assert dates == sorted(dates)  # type: ignore[type-var]
    now = timezone.now()
    assert now - dt.timedelta(days=130) < dates[0] < dates[-1] < now  # type: ignore[operator]

    pdfs = [
        attachment
        for message in parsed
        for attachment in message.attachments
        if attachment.content_type == "application/pdf"
    ]
    assert len(pdfs) >= 15
    assert all(
        pdf.data.startswith(b"%PDF-1.4") and pdf.data.rstrip().endswith(b"%%EOF") for pdf in pdfs
    )
    assert any(a.detected_type == "image/png" for m in parsed for a in m.attachments)
    assert sum(message.is_auto_reply for message in parsed) == 2
    assert sum(message.is_bounce for message in parsed) == 1
    assert sum(message.is_bulk for message in parsed) == 3
    # Replies quote their history, and the parser sets it apart.
    replies = [message for message in parsed if message.in_reply_to and not message.is_auto_reply]
    assert len(replies) >= 30
    assert sum(bool(message.quoted_text) for message in replies) >= len(replies) - 2

    # Mail sent from Lanterne, and the replies to it, carry real references.
    by_id = [dossier_from_message_ids(agency, [m.message_id or ""]).dossier for m in parsed]
    assert {dossier.pk for dossier in by_id if dossier} == {
        demo_dossier(key).pk
        for key in (
            "facade",
            "extraordinary_meeting",
            "water_damage",
            "lift",
            "arrears",
            "council_water",
            "annual_meeting",
            "storm_claim",
            "blocked_drain",
            "garage_door",
            "insurance_tender",
        )
    }
    reply_addresses = [
        dossier_from_recipients(agency, [a.address for a in m.to]).dossier for m in parsed
    ]
    assert demo_dossier("water_damage") in reply_addresses
    assert demo_dossier("arrears") in reply_addresses

    folder = demo_mail_write(history, tmp_path)
    assert folder.name == DEMO_MAIL_FOLDER
    assert sorted(path.name for path in folder.iterdir()) == names


def test_load_demo_ingests_the_history_through_the_pipeline() -> None:
    out = StringIO()
    call_command("load-demo", stdout=out)
    first = out.getvalue()
    agency = demo_agency()
    assert agency is not None
    generated = len(demo_mail_history(agency, today=demo_today(agency)))

    messages = Message.objects.filter(agency=agency)
    # One more message than files: the original a staff member forwarded.
    assert messages.count() == generated + 1
    assert Delivery.objects.filter(folder__startswith=f"{DEMO_MAIL_FOLDER}/").count() == generated
    assert not RawMessage.objects.filter(agency=agency).exclude(state=RawState.PARSED).exists()

    by_reference = messages.filter(filing_method=FilingMethod.REFERENCE, dossier__isnull=False)
    by_thread = messages.filter(filing_method=FilingMethod.THREAD, dossier__isnull=False)
    triage = messages.filter(
        dossier__isnull=True, not_dossier_related=False, forwarded_message__isnull=True
    )
    assert by_reference.count() >= 20
    assert by_thread.count() >= 20
    assert 10 <= triage.count() <= 30
    assert messages.filter(dossier__isnull=False).count() >= generated * 2 // 3
    assert not messages.filter(filing_method=FilingMethod.SUGGESTION).exists()
    # Every dossier received mail.
    assert {m.dossier_id for m in messages if m.dossier_id} == set(
        agency.dossiers.values_list("pk", flat=True)
    )
    # Mail written to a dossier's reply address, without any other reference.
    assert by_reference.filter(subject="Virement mensualité 2").get().dossier == demo_dossier(
        "arrears"
    )
    # A co-owner's first mail follows the agency's answer into the dossier.
    first_mail = messages.get(subject="Tache d'humidité au plafond de ma salle de bains")
    assert first_mail.dossier == demo_dossier("water_damage")
    assert first_mail.filing_method == FilingMethod.THREAD
    # Machine mail: the bounce and the out-of-office go with their conversation,
    # the newsletters are set aside, an unrelated out-of-office waits.
    bounce = messages.get(is_bounce=True)
    assert bounce.dossier == demo_dossier("water_damage")
    assert bounce.audience == "internal"
    assert messages.get(is_auto_reply=True, dossier__isnull=False).dossier == demo_dossier("lift")
    assert triage.filter(is_auto_reply=True).count() == 1
    newsletters = messages.filter(is_bulk=True)
    assert newsletters.count() == 3
    assert all(m.not_dossier_related and m.dossier_id is None for m in newsletters)
    # The forward by staff: the original is filed where the forward pointed.
    original = messages.get(forwards__isnull=False)
    assert original.from_address == "odile.chevalier@wanadoo.fr"
    assert original.dossier == demo_dossier("council_water")
    # A subject tag from someone outside the dossier is only suggested.
    tagged = triage.get(from_address="nicolas.blanc@icloud.com")
    assert tagged.suggestions[0]["reference"] == demo_dossier("extraordinary_meeting").reference
    # Mail sent from the agency is outbound, and filed.
    outbound = messages.filter(direction=Direction.OUTBOUND)
    assert outbound.count() >= 30
    assert not outbound.filter(dossier__isnull=True).exists()

    filed = messages.filter(dossier__isnull=False).count()
    assert (
        f"Historique des courriels importé : {generated + 1} messages — {filed} classés "
        f"automatiquement dans leur dossier, {triage.count()} en attente dans la boîte de tri"
    ) in first
    assert "/courriels/tri/" in first
    lift = demo_dossier("lift")
    assert re.search(rf"gestion\+dos\.[a-z0-9.-]+@cabinet-lumiere\.fr .*{lift.reference}", first)

    # Running it again changes nothing.
    out = StringIO()
    call_command("load-demo", stdout=out)
    assert "existe déjà" in out.getvalue()
    assert f"Courriels du cabinet : {generated + 1} messages" in out.getvalue()
    assert messages.count() == generated + 1


def test_an_older_demo_gets_its_history_dated_from_its_own_today() -> None:
    """A demo loaded before it came with mail (or with --today) gets the
    history of its own dates; and `make demo`'s mail command names an address
    the SMTP receiver takes for it."""
    today = timezone.localdate() - dt.timedelta(days=3)
    demo_load(today=today)
    out = StringIO()
    call_command("load-demo", stdout=out)
    assert "seul son historique de courriels, qui manquait, a été importé" in out.getvalue()
    last = Message.objects.order_by("date").last()
    assert last is not None and last.date is not None
    assert timezone.localtime(last.date).date() == today - dt.timedelta(days=1)

    script = (ROOT / "tools" / "demo-serve.sh").read_text()
    assert f"mailbox={DEMO_SHARED_MAILBOX}\n" in script
    assert "swaks --server 127.0.0.1:$smtp_port --to $mailbox" in script
    assert 'smtplib.SMTP("127.0.0.1", $smtp_port)' in script
    assert agency_for_recipient(DEMO_SHARED_MAILBOX) == demo_agency()
    makefile = (ROOT / "Makefile").read_text()
    assert "tools/demo-serve.sh" in makefile
    assert "DEMO_SMTP_PORT ?= 2525" in makefile
