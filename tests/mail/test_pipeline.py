"""Receive → store raw → parse, on real messages: durability, duplicates,
quarantine, re-processing and the JSON Lines export."""

from __future__ import annotations

import base64
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from lanterne.mail.choices import Direction, RawState
from lanterne.mail.models import Attachment, Delivery, Message, RawMessage
from lanterne.mail.services import mail_receive, mail_receive_and_process, raw_message_process

pytestmark = pytest.mark.django_db

CORPORA = Path(__file__).resolve().parents[1] / "corpora"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def mail(
    message_id: str = "<devis-1@plomberie.fr>",
    *,
    sender: str = "Jean Dupont <jean@plomberie.fr>",
    subject: str = "Devis fuite lot 12",
    body: str = "Bonjour,\n\nVoici notre devis.\n\nCordialement,\nJean",
    received: str = "",
    logo: bool = False,
) -> bytes:
    headers = (
        f"{received}From: {sender}\r\nTo: gestion@cabinet-lumiere.fr\r\n"
        f"Subject: {subject}\r\nDate: Tue, 3 Mar 2026 10:12:00 +0100\r\n"
        f"Message-ID: {message_id}\r\nMIME-Version: 1.0\r\n"
    )
    if not logo:
        return (headers + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body).encode()
    boundary = "b0undary"
    logo_part = base64.encodebytes(PNG).decode()
    return (
        headers
        + f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
        + f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
        + f"--{boundary}\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n"
        + f'Content-Disposition: inline; filename="logo.png"\r\n\r\n{logo_part}\r\n'
        + f"--{boundary}--\r\n"
    ).encode()


def test_a_message_is_stored_then_parsed(world):  # type: ignore[no-untyped-def]
    result = mail_receive_and_process(
        agency=world.agency, data=mail(), envelope_from="jean@plomberie.fr"
    )
    raw = RawMessage.objects.get()
    assert result.created and raw.state == RawState.PARSED
    message = Message.objects.get()
    assert message.message_id == "devis-1@plomberie.fr"
    assert message.from_address == "jean@plomberie.fr" and message.from_name == "Jean Dupont"
    assert message.subject == "Devis fuite lot 12"
    assert message.direction == Direction.INBOUND
    assert "Voici notre devis." in message.new_text
    assert Delivery.objects.get().envelope_from == "jean@plomberie.fr"


def test_same_bytes_twice_make_one_message_and_two_deliveries(world):  # type: ignore[no-untyped-def]
    mail_receive_and_process(agency=world.agency, data=mail())
    second = mail_receive_and_process(agency=world.agency, data=mail())
    assert not second.created
    assert RawMessage.objects.count() == 1 and Message.objects.count() == 1
    assert Delivery.objects.count() == 2


def test_same_message_id_with_other_bytes_is_a_duplicate(world):  # type: ignore[no-untyped-def]
    mail_receive_and_process(agency=world.agency, data=mail())
    copy = mail(
        received="Received: from mx2.cabinet-lumiere.fr by imap; Tue, 3 Mar 2026 10:13:00 +0100\r\n"
    )
    mail_receive_and_process(agency=world.agency, data=copy)
    assert RawMessage.objects.count() == 2 and Message.objects.count() == 1
    duplicate = RawMessage.objects.get(state=RawState.DUPLICATE)
    assert duplicate.duplicate_of == Message.objects.get()


def test_agencies_do_not_share_messages(world):  # type: ignore[no-untyped-def]
    mail_receive_and_process(agency=world.agency, data=mail())
    mail_receive_and_process(agency=world.other_agency, data=mail())
    assert Message.objects.filter(agency=world.agency).count() == 1
    assert Message.objects.filter(agency=world.other_agency).count() == 1


def test_oversized_messages_are_refused_with_a_record(world, settings):  # type: ignore[no-untyped-def]
    settings.MAIL_MAX_BYTES = 100
    result = mail_receive_and_process(agency=world.agency, data=mail(body="x" * 500))
    raw = result.raw
    assert raw.state == RawState.REFUSED and raw.storage_name == ""
    assert "limite" in raw.error and not Message.objects.exists()


def test_unparseable_mail_is_quarantined_and_reprocessed_later(world, client_for):  # type: ignore[no-untyped-def]
    garbage = b"\x00\x01 not a mail at all \xff" * 10
    result = mail_receive_and_process(agency=world.agency, data=garbage)
    fine = mail_receive_and_process(agency=world.agency, data=mail())
    # One broken message never blocks the others.
    assert fine.raw.state == RawState.PARSED
    assert result.raw.state == RawState.QUARANTINED
    assert "pas un e-mail" in result.raw.error
    page = client_for("staff").get(reverse("mail:quarantine"))
    assert page.status_code == 200 and result.raw.sha256[:12] in page.content.decode()
    assert client_for("owner_party").get(reverse("mail:quarantine")).status_code == 403
    assert (
        client_for("staff_other_agency")
        .get(reverse("mail:raw_download", args=[result.raw.pk]))
        .status_code
        == 404
    )
    download = client_for("staff").get(reverse("mail:raw_download", args=[result.raw.pk]))
    assert b"".join(download.streaming_content) == garbage
    # Reprocessing from the quarantine page keeps it there, with its error.
    response = client_for("staff").post(reverse("mail:reprocess", args=[result.raw.pk]))
    assert response.status_code == 302
    assert RawMessage.objects.get(pk=result.raw.pk).state == RawState.QUARANTINED


def test_reprocessing_is_idempotent(world):  # type: ignore[no-untyped-def]
    result = mail_receive_and_process(agency=world.agency, data=mail(logo=True))
    message = Message.objects.get()
    for _ in range(2):
        again = raw_message_process(RawMessage.objects.get(pk=result.raw.pk))
        assert again is not None and again.pk == message.pk
    assert Message.objects.count() == 1
    assert Attachment.objects.count() == 1
    out = StringIO()
    call_command("reprocess-mail", "--all", "--agency", world.agency.name, stdout=out)
    assert "Reprocessed 1 messages" in out.getvalue()
    assert Message.objects.count() == 1 and Attachment.objects.count() == 1


def test_mail_from_the_agency_domain_is_outbound(world):  # type: ignore[no-untyped-def]
    data = mail(
        sender="Claire <claire@cabinet-lumiere.fr>", message_id="<out-1@cabinet-lumiere.fr>"
    )
    mail_receive_and_process(agency=world.agency, data=data)
    assert Message.objects.get().direction == Direction.OUTBOUND


def test_sent_folder_copies_are_outbound(world):  # type: ignore[no-untyped-def]
    data = mail(sender="Claire <claire@gmail.com>", message_id="<out-2@gmail.com>")
    result = mail_receive(agency=world.agency, data=data, folder="Sent", is_sent_folder=True)
    raw_message_process(result.raw)
    assert Message.objects.get().direction == Direction.OUTBOUND


def test_a_logo_repeated_in_every_reply_is_a_signature_logo(world):  # type: ignore[no-untyped-def]
    for number in range(3):
        mail_receive_and_process(
            agency=world.agency, data=mail(f"<r{number}@plomberie.fr>", logo=True)
        )
    assert Attachment.objects.count() == 3
    assert set(Attachment.objects.values_list("is_signature_logo", flat=True)) == {True}
    # The same image from another sender domain is not this sender's logo.
    mail_receive_and_process(
        agency=world.agency, data=mail("<x@autre.fr>", sender="x@autre.fr", logo=True)
    )
    assert not Attachment.objects.get(message__from_address="x@autre.fr").is_signature_logo


def test_export_messages_writes_json_lines(world, tmp_path):  # type: ignore[no-untyped-def]
    mail_receive_and_process(agency=world.agency, data=mail(logo=True))
    mail_receive_and_process(agency=world.agency, data=mail("<devis-2@plomberie.fr>"))
    output = tmp_path / "export.jsonl"
    call_command(
        "export-messages", "--agency", world.agency.name, "--output", str(output), stderr=StringIO()
    )
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert [row["message_id"] for row in rows] == ["devis-1@plomberie.fr", "devis-2@plomberie.fr"]
    first = rows[0]
    assert first["sha256"] == RawMessage.objects.order_by("pk").first().sha256
    assert first["from"] == {"name": "Jean Dupont", "address": "jean@plomberie.fr"}
    assert first["flags"] == {"auto_reply": False, "bounce": False, "bulk": False}
    assert first["attachments"][0]["filename"] == "logo.png"
    assert first["attachments"][0]["size"] == len(PNG)
    assert set(first) >= {"date", "to", "cc", "subject", "new_text", "quoted_text", "thread_id"}


@pytest.mark.parametrize(
    "path",
    sorted(p for p in (CORPORA / "cpython-email").glob("msg_*.txt"))[:40],
    ids=lambda p: p.name,
)
def test_real_messages_never_crash_the_pipeline(world, path):  # type: ignore[no-untyped-def]
    result = mail_receive_and_process(agency=world.agency, data=path.read_bytes())
    assert result.raw.state in {RawState.PARSED, RawState.QUARANTINED, RawState.DUPLICATE}


def test_export_messages_says_where_each_message_is_filed_and_what_triage_suggests(  # type: ignore[no-untyped-def]
    world, tmp_path
):
    from lanterne.dossiers.policy import Viewer
    from lanterne.mail.filing import message_file
    from lanterne.mail.models import FilingMethod

    mail_receive_and_process(agency=world.agency, data=mail())
    mail_receive_and_process(agency=world.agency, data=mail("<devis-2@plomberie.fr>"))
    filed, waiting = Message.objects.order_by("pk")
    message_file(
        viewer=Viewer.system(world.agency.pk),
        actor=None,
        message=filed,
        dossier=world.dossier,
        method=FilingMethod.MANUAL,
        score=None,
        reason="Classé à la main",
        audience="council",
    )
    # Whatever the file stage suggested, the export shows what is stored.
    Message.objects.filter(pk=waiting.pk).update(
        dossier=None,
        suggestions=[
            {
                "dossier_id": world.dossier.pk,
                "reference": world.dossier.reference,
                "score": 0.62,
                "reason": "mentionne le lot 12",
            }
        ],
    )
    output = tmp_path / "export.jsonl"
    call_command(
        "export-messages", "--agency", world.agency.name, "--output", str(output), stderr=StringIO()
    )
    first, second = (json.loads(line) for line in output.read_text().splitlines())
    assert first["dossier"] == world.dossier.reference
    assert first["filing_method"] == "manual"
    assert first["audience"] == "council"
    assert first["suggestions"] == []
    assert second["dossier"] is None
    assert second["filing_method"] == "none"
    assert second["suggestions"] == [{"dossier": world.dossier.reference, "score": 0.62}]
