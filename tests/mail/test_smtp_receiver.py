"""The SMTP/LMTP receiver, run for real on a local port and spoken to by a real
SMTP client (`swaks`) and by smtplib for the edge cases.

The receiver works in its own threads, hence `transactional_db`: what it
stores must be committed to be seen. After each message the tests wait for
the receiver's processing thread (`drain`) before they look at the database."""

from __future__ import annotations

import smtplib
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from email.header import Header
from email.utils import make_msgid
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from benchmarks.installations import free_port
from lanterne.condominiums.models import Agency
from lanterne.mail import services
from lanterne.mail.choices import RawState, SourceKind
from lanterne.mail.models import Delivery, MailSource, Message, RawMessage
from lanterne.mail.sources.smtp import (
    SMTP_SOURCE_NAME,
    MailReceiverController,
    mail_receiver_start,
)
from lanterne.mail.storage import blob_read

from ..factories import AgencyFactory

pytestmark = pytest.mark.django_db(transaction=True)

HOST = "127.0.0.1"

# Not an e-mail at all: a misconfigured scanner sending a bare PDF. The parser
# refuses it (no header any e-mail has); it must still be kept.
UNPARSEABLE_MESSAGE = (
    b"%PDF-1.7\r\n%\xe2\xe3\xcf\xd3\r\n1 0 obj\r\n<< /Type /Catalog /Pages 2 0 R >>\r\nendobj\r\n"
)


def french_message(
    *, subject: str = "Fuite au plafond du lot 12 — devis", message_id: str | None = None
) -> bytes:
    """A contractor's reply about a dossier, as an MTA would hand it over (CRLF)."""
    message_id = message_id or make_msgid(domain="plomberie-durand.fr")
    lines = [
        "Return-Path: <contact@plomberie-durand.fr>",
        "From: =?utf-8?q?Andr=C3=A9_Durand?= <contact@plomberie-durand.fr>",
        "To: Cabinet =?utf-8?q?Lumi=C3=A8re?= <gestion@cabinet-lumiere.fr>",
        f"Subject: {Header(subject, 'utf-8').encode(maxlinelen=998)}",
        "Date: Tue, 03 Mar 2026 09:14:00 +0100",
        f"Message-ID: {message_id}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: quoted-printable",
        "",
        "Bonjour Madame,",
        "",
        "Suite =C3=A0 notre passage du 2 mars aux Tilleuls, vous trouverez notre devis",
        "pour la reprise de la canalisation encastr=C3=A9e au-dessus du lot 12.",
        "",
        ". Une ligne qui commence par un point, pour le d=C3=A9bourrage SMTP.",
        "",
        "Cordialement,",
        "Andr=C3=A9 Durand",
        "Plomberie Durand",
        "",
    ]
    return "\r\n".join(lines).encode("ascii")


def swaks(
    port: int, *, to: str, data: bytes, tmp_path: Path, sender: str = "contact@plomberie-durand.fr"
) -> subprocess.CompletedProcess[str]:
    """Send `data` with the real swaks binary; its transcript is in stdout."""
    message_file = tmp_path / f"message-{make_msgid().strip('<>')}.eml"
    # swaks ends the data with CRLF "." CRLF itself: the file holds the
    # message without its last line break, which swaks puts back.
    message_file.write_bytes(data.removesuffix(b"\r\n"))
    return subprocess.run(
        [
            "swaks",
            "--server", f"{HOST}:{port}",
            "--helo", "mx.plomberie-durand.fr",
            "--from", sender,
            "--to", to,
            "--data", str(message_file),
            "--timeout", "30",
        ],
        capture_output=True,
        text=True,
        errors="replace",  # the transcript echoes the data, which may not be UTF-8
        timeout=60,
        check=False,
    )  # fmt: skip


@pytest.fixture
def agency() -> Agency:
    return AgencyFactory.create(
        name="Cabinet Lumière",
        mail_domain="cabinet-lumiere.fr",
        shared_mailbox="gestion@cabinet-lumiere.fr",
    )


@pytest.fixture
def start_receiver() -> Iterator[Callable[..., MailReceiverController]]:
    """Start a receiver on a free port; stopped at the end of the test."""
    started: list[MailReceiverController] = []

    def start(*, lmtp: bool = False) -> MailReceiverController:
        controller = mail_receiver_start(port=free_port(), host=HOST, lmtp=lmtp)
        started.append(controller)
        return controller

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def receiver(start_receiver: Callable[..., MailReceiverController]) -> MailReceiverController:
    return start_receiver()


def settle(controller: MailReceiverController) -> None:
    assert controller.receiver.drain(timeout=30), "processing did not finish"


def test_message_to_the_agency_domain_is_stored_then_parsed(
    agency: Agency, receiver: MailReceiverController, tmp_path: Path
) -> None:
    data = french_message()
    sent = swaks(receiver.port, to="gestion@cabinet-lumiere.fr", data=data, tmp_path=tmp_path)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert "<-  250 2.0.0 OK: message stored" in sent.stdout
    settle(receiver)

    raw = RawMessage.objects.get()
    assert raw.agency == agency
    # The exact bytes, dot-stuffing undone: nothing added, nothing lost.
    assert blob_read(raw.storage_name) == data
    assert raw.state == RawState.PARSED
    message = Message.objects.get(raw=raw)
    assert message.subject == "Fuite au plafond du lot 12 — devis"
    assert message.from_address == "contact@plomberie-durand.fr"
    delivery = Delivery.objects.get()
    assert delivery.envelope_from == "contact@plomberie-durand.fr"
    assert delivery.envelope_to == ["gestion@cabinet-lumiere.fr"]
    assert delivery.source is not None
    assert (delivery.source.kind, delivery.source.name) == (SourceKind.SMTP, SMTP_SOURCE_NAME)
    assert delivery.source.agency == agency


def test_plus_addressed_recipient_is_accepted(
    agency: Agency, receiver: MailReceiverController, tmp_path: Path
) -> None:
    recipient = "gestion+dos-2026-0042@cabinet-lumiere.fr"
    sent = swaks(receiver.port, to=recipient, data=french_message(), tmp_path=tmp_path)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    settle(receiver)
    assert Delivery.objects.get().envelope_to == [recipient]


def test_shared_mailbox_on_another_domain_is_accepted_plus_addressed_too(
    receiver: MailReceiverController, tmp_path: Path
) -> None:
    agency = AgencyFactory.create(
        mail_domain="syndic-rhone.fr", shared_mailbox="syndic.rhone@orange.fr"
    )
    for recipient in ("syndic.rhone@orange.fr", "Syndic.Rhone+dos-2026-0042@ORANGE.fr"):
        sent = swaks(receiver.port, to=recipient, data=french_message(), tmp_path=tmp_path)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        settle(receiver)
    assert RawMessage.objects.filter(agency=agency).count() == 2
    # Another address of that provider's domain is nobody's.
    refused = swaks(receiver.port, to="voisin@orange.fr", data=french_message(), tmp_path=tmp_path)
    assert refused.returncode == 24  # swaks: no RCPT accepted


def test_unknown_domain_is_refused_at_rcpt_with_550(
    agency: Agency, receiver: MailReceiverController, tmp_path: Path
) -> None:
    sent = swaks(receiver.port, to="gestion@inconnu.fr", data=french_message(), tmp_path=tmp_path)
    assert sent.returncode == 24  # swaks: no RCPT accepted
    assert "<** 550 5.1.1" in sent.stdout
    assert not RawMessage.objects.exists()
    assert not MailSource.objects.exists()


def test_known_and_unknown_recipients_in_one_transaction(
    agency: Agency, receiver: MailReceiverController
) -> None:
    with smtplib.SMTP(HOST, receiver.port, timeout=30) as client:
        refused = client.sendmail(
            "contact@plomberie-durand.fr",
            ["gestion@cabinet-lumiere.fr", "quelquun@ailleurs.fr"],
            french_message(),
        )
    assert refused == {
        "quelquun@ailleurs.fr": (550, b"5.1.1 No agency receives mail for this address")
    }
    settle(receiver)
    assert Delivery.objects.get().envelope_to == ["gestion@cabinet-lumiere.fr"]


def test_recipients_of_two_agencies_give_one_copy_each(
    agency: Agency, receiver: MailReceiverController
) -> None:
    other = AgencyFactory.create(mail_domain="voisin.fr", shared_mailbox="accueil@voisin.fr")
    with smtplib.SMTP(HOST, receiver.port, timeout=30) as client:
        client.sendmail(
            "contact@plomberie-durand.fr",
            ["gestion@cabinet-lumiere.fr", "accueil@voisin.fr", "compta@cabinet-lumiere.fr"],
            french_message(),
        )
    settle(receiver)
    mine = Delivery.objects.get(raw__agency=agency)
    theirs = Delivery.objects.get(raw__agency=other)
    # Each agency's record names only its own recipients.
    assert mine.envelope_to == ["gestion@cabinet-lumiere.fr", "compta@cabinet-lumiere.fr"]
    assert theirs.envelope_to == ["accueil@voisin.fr"]
    assert mine.raw.sha256 == theirs.raw.sha256
    assert Message.objects.filter(agency=other).count() == 1


def test_bounce_with_null_reverse_path_is_accepted(
    agency: Agency, receiver: MailReceiverController
) -> None:
    # RFC 5321 §4.5.5: delivery status notifications come from <>.
    with smtplib.SMTP(HOST, receiver.port, timeout=30) as client:
        client.sendmail("", ["gestion@cabinet-lumiere.fr"], french_message())
    settle(receiver)
    assert Delivery.objects.get().envelope_from == "<>"


def test_size_is_advertised_and_oversized_messages_get_552(
    agency: Agency,
    start_receiver: Callable[..., MailReceiverController],
    settings: object,
    tmp_path: Path,
) -> None:
    settings.MAIL_MAX_BYTES = 4096  # type: ignore[attr-defined]
    controller = start_receiver()
    with smtplib.SMTP(HOST, controller.port, timeout=30) as client:
        client.ehlo("mx.plomberie-durand.fr")
        assert client.esmtp_features["size"] == "4096"
        # Declared too large at MAIL FROM (RFC 1870 §6.2).
        assert client.mail("contact@plomberie-durand.fr", ["SIZE=10000"])[0] == 552
    # Undeclared: refused at the end of the data.
    big = french_message() + b"Rapport d'expertise : voir la piece jointe.\r\n" * 200
    sent = swaks(controller.port, to="gestion@cabinet-lumiere.fr", data=big, tmp_path=tmp_path)
    assert sent.returncode == 26  # swaks: mail not accepted after the data
    assert "<** 552" in sent.stdout
    assert not RawMessage.objects.exists()


def test_message_that_fails_parsing_is_acknowledged_and_quarantined(
    agency: Agency, receiver: MailReceiverController
) -> None:
    # smtplib rather than swaks, which reshapes data that has no header.
    data = UNPARSEABLE_MESSAGE
    with smtplib.SMTP(HOST, receiver.port, timeout=30) as client:
        client.ehlo()
        client.mail("scanner@cabinet-lumiere.fr")
        client.rcpt("gestion@cabinet-lumiere.fr")
        assert client.data(data) == (250, b"2.0.0 OK: message stored")
    settle(receiver)
    raw = RawMessage.objects.get()
    assert raw.state == RawState.QUARANTINED
    assert raw.failed_stage == "parse" and raw.error
    assert blob_read(raw.storage_name) == data
    assert not Message.objects.exists()


def test_storage_failure_answers_451_and_records_nothing(
    agency: Agency,
    receiver: MailReceiverController,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def disk_failure(data: bytes, *, kind: str) -> tuple[str, str]:
        raise OSError(28, "No space left on device")

    # The one stand-in of this file: a full disk under the raw store.
    monkeypatch.setattr(services, "blob_put", disk_failure)
    data = french_message()
    sent = swaks(receiver.port, to="gestion@cabinet-lumiere.fr", data=data, tmp_path=tmp_path)
    assert sent.returncode == 26
    assert "<** 451 4.3.0" in sent.stdout
    assert "<-  250 2.0.0" not in sent.stdout
    assert not RawMessage.objects.exists()
    assert not Delivery.objects.exists()
    assert not MailSource.objects.exists()

    # The sender retries once the disk is back: stored.
    monkeypatch.undo()
    again = swaks(receiver.port, to="gestion@cabinet-lumiere.fr", data=data, tmp_path=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    settle(receiver)
    assert RawMessage.objects.get().state == RawState.PARSED


def test_same_message_sent_twice_gives_one_raw_message_and_two_deliveries(
    agency: Agency, receiver: MailReceiverController, tmp_path: Path
) -> None:
    data = french_message()
    for recipient in ("gestion@cabinet-lumiere.fr", "gestion+dos-2026-0042@cabinet-lumiere.fr"):
        sent = swaks(receiver.port, to=recipient, data=data, tmp_path=tmp_path)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        settle(receiver)
    raw = RawMessage.objects.get()
    assert raw.deliveries.count() == 2
    assert Message.objects.filter(raw=raw).count() == 1


def test_lmtp_answers_once_per_recipient(
    agency: Agency, start_receiver: Callable[..., MailReceiverController]
) -> None:
    controller = start_receiver(lmtp=True)
    recipients = ["gestion@cabinet-lumiere.fr", "gestion+dos-2026-0042@cabinet-lumiere.fr"]
    with smtplib.LMTP(HOST, controller.port, timeout=30) as client:
        client.ehlo_or_helo_if_needed()  # LHLO (RFC 2033 §4.1)
        assert client.does_esmtp and "size" in client.esmtp_features
        assert client.mail("contact@plomberie-durand.fr")[0] == 250
        assert client.rcpt(recipients[0])[0] == 250
        assert client.rcpt("inconnu@ailleurs.fr")[0] == 550
        assert client.rcpt(recipients[1])[0] == 250
        # smtplib reads one reply after the data; LMTP sends one per
        # accepted recipient (RFC 2033 §4.2): read the second by hand.
        first = client.data(french_message())
        second = client.getreply()
    assert first == (250, b"2.0.0 OK: message stored")
    assert second == (250, b"2.0.0 OK: message stored")
    settle(controller)
    delivery = Delivery.objects.get()
    assert delivery.envelope_to == recipients
    assert delivery.raw.state == RawState.PARSED


def test_lmtp_failures_after_the_data_are_answered_per_recipient(
    agency: Agency,
    start_receiver: Callable[..., MailReceiverController],
    settings: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.MAIL_MAX_BYTES = 4096  # type: ignore[attr-defined]
    controller = start_receiver(lmtp=True)
    recipients = ["gestion@cabinet-lumiere.fr", "compta@cabinet-lumiere.fr"]
    oversized = french_message() + b"Rapport d'expertise : voir la piece jointe.\r\n" * 200
    with smtplib.LMTP(HOST, controller.port, timeout=30) as client:
        client.ehlo_or_helo_if_needed()
        client.mail("contact@plomberie-durand.fr")
        for recipient in recipients:
            client.rcpt(recipient)
        # Too large: aiosmtpd's single 552 is repeated for each recipient.
        assert client.data(oversized)[0] == 552
        assert client.getreply()[0] == 552

        def disk_failure(data: bytes, *, kind: str) -> tuple[str, str]:
            raise OSError(5, "Input/output error")

        monkeypatch.setattr(services, "blob_put", disk_failure)
        client.rset()
        client.mail("contact@plomberie-durand.fr")
        for recipient in recipients:
            client.rcpt(recipient)
        assert client.data(french_message())[0] == 451
        assert client.getreply()[0] == 451
        # The session is still in step: a NOOP gets its own reply.
        assert client.noop()[0] == 250
    assert not RawMessage.objects.exists()


def test_receive_mail_command_serves_until_stopped(agency: Agency) -> None:
    port = free_port()
    stop = threading.Event()
    failures: list[BaseException] = []

    def serve() -> None:
        try:
            call_command("receive-mail", port=port, host=HOST, stop_event=stop)
        except BaseException as error:  # noqa: BLE001 — reported by the assertion below
            failures.append(error)

    server = threading.Thread(target=serve)
    server.start()
    try:
        client = _connect_when_listening(port)
        with client:
            client.sendmail(
                "contact@plomberie-durand.fr", ["gestion@cabinet-lumiere.fr"], french_message()
            )
    finally:
        stop.set()
        server.join(timeout=60)
    assert not server.is_alive() and not failures
    # Stopping finished the processing under way.
    assert RawMessage.objects.get().state == RawState.PARSED
    with pytest.raises(OSError):
        socket.create_connection((HOST, port), timeout=2).close()


def test_receive_mail_command_reports_a_port_in_use(agency: Agency) -> None:
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(CommandError, match="Cannot listen"):
            call_command("receive-mail", port=port, host=HOST, stop_event=threading.Event())


def _connect_when_listening(port: int) -> smtplib.SMTP:
    for _attempt in range(100):
        try:
            return smtplib.SMTP(HOST, port, timeout=30)
        except OSError:
            threading.Event().wait(0.1)
    raise AssertionError(f"receive-mail never listened on {port}")
