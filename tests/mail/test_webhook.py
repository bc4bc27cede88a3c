"""Inbound mail posted by Mailgun (through django-anymail): the real view, the
real signature check, a payload shaped like the one Mailgun posts for a route
that forwards to a URL ending in "mime"."""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import json
import secrets
import time
from collections.abc import Iterator
from email.utils import make_msgid
from typing import Any

import pytest
from django.test import Client
from django.urls import clear_url_caches

import lanterne.urls
from lanterne.condominiums.models import Agency
from lanterne.mail import services
from lanterne.mail.choices import RawState, SourceKind
from lanterne.mail.models import Delivery, MailSource, Message, RawMessage
from lanterne.mail.storage import blob_read

from ..factories import AgencyFactory

pytestmark = pytest.mark.django_db

URL = "/webhooks/anymail/mailgun/inbound_mime/"
SIGNING_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
BASIC_AUTH = "mailgun:Tilleuls-webhook-2026"

# Not an e-mail at all: a misconfigured scanner sending a bare PDF. The parser
# refuses it (no header any e-mail has); it must still be kept.
UNPARSEABLE_MESSAGE = (
    b"%PDF-1.7\r\n%\xe2\xe3\xcf\xd3\r\n1 0 obj\r\n<< /Type /Catalog /Pages 2 0 R >>\r\nendobj\r\n"
)


def french_message(*, charset_8bit: bool = False) -> bytes:
    """A co-owner's mail about a dossier. With `charset_8bit`, the body is raw
    8-bit ISO-8859-1, as some older mailers still send it."""
    body = (
        "Bonjour,\r\n\r\nLa tache au plafond de ma salle de bains s'est \u00e9tendue depuis "
        "hier soir.\r\nPouvez-vous relancer le plombier ?\r\n\r\nBien cordialement,\r\n"
        "H\u00e9l\u00e8ne Martin, lot 12\r\n"
    )
    charset = "iso-8859-1" if charset_8bit else "utf-8"
    content_headers = (
        f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: 8bit"
    )
    encoded_body = body.encode(charset)
    headers = (
        "Received: from mail-wr1-f41.google.com (mail-wr1-f41.google.com [209.85.221.41])\r\n"
        " by mxa.mailgun.org with ESMTP id 65f1c2d3.7f0a; Tue, 03 Mar 2026 08:14:02 +0000\r\n"
        "From: =?utf-8?q?H=C3=A9l=C3=A8ne_Martin?= <helene.martin@exemple.fr>\r\n"
        "To: gestion+dos-2026-0042@cabinet-lumiere.fr\r\n"
        "Subject: =?utf-8?q?D=C3=A9g=C3=A2t_des_eaux_=E2=80=94_lot_12?=\r\n"
        "Date: Tue, 03 Mar 2026 09:14:00 +0100\r\n"
        f"Message-ID: {make_msgid(domain='exemple.fr')}\r\n"
        "MIME-Version: 1.0\r\n"
        f"{content_headers}\r\n\r\n"
    )
    return headers.encode("ascii") + encoded_body


def signed_fields(*, key: str = SIGNING_KEY) -> dict[str, bytes]:
    """Mailgun's security fields: HMAC-SHA256 of timestamp + token."""
    timestamp = str(int(time.time()))
    token = secrets.token_hex(25)  # 50 characters, like Mailgun's
    signature = hmac.new(
        key.encode("ascii"), f"{timestamp}{token}".encode("ascii"), hashlib.sha256
    ).hexdigest()
    return {
        "timestamp": timestamp.encode(),
        "token": token.encode(),
        "signature": signature.encode(),
    }


def mailgun_form(
    mime: bytes | None,
    *,
    recipient: str = "gestion+dos-2026-0042@cabinet-lumiere.fr",
    sender: str = "helene.martin@exemple.fr",
    key: str = SIGNING_KEY,
    parsed_fields: dict[str, bytes] | None = None,
) -> tuple[bytes, str]:
    """The multipart/form-data body Mailgun posts, and its content type: with
    `body-mime` for a raw-MIME route, or with `parsed_fields` for a parsed one.
    Built by hand so that `body-mime` travels byte for byte."""
    fields: dict[str, bytes] = {
        "recipient": recipient.encode("utf-8"),
        "sender": sender.encode("utf-8"),
        "from": "Hélène Martin <helene.martin@exemple.fr>".encode(),
        "subject": "Dégât des eaux — lot 12".encode(),
        **({"body-mime": mime} if mime is not None else {}),
        **(parsed_fields or {}),
        **signed_fields(key=key),
    }
    boundary = secrets.token_hex(16)
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + value
        + b"\r\n"
        for name, value in fields.items()
    ]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), (
        f"multipart/form-data; boundary={boundary}"
    )


def basic_auth(credentials: str = BASIC_AUTH) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(credentials.encode()).decode()}


def _remount_urls() -> None:
    importlib.reload(lanterne.urls)
    clear_url_caches()


@pytest.fixture
def webhook(settings: object) -> Iterator[None]:
    """The webhook configured, as LANTERNE_ANYMAIL_WEBHOOK_SECRET and
    LANTERNE_MAILGUN_WEBHOOK_SIGNING_KEY would configure it."""
    settings.MAIL_WEBHOOKS_ENABLED = True  # type: ignore[attr-defined]
    settings.ANYMAIL = {  # type: ignore[attr-defined]
        "WEBHOOK_SECRET": BASIC_AUTH,
        "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY,
    }
    _remount_urls()
    yield
    settings.MAIL_WEBHOOKS_ENABLED = False  # type: ignore[attr-defined]
    _remount_urls()


@pytest.fixture
def agency() -> Agency:
    return AgencyFactory.create(
        name="Cabinet Lumière",
        mail_domain="cabinet-lumiere.fr",
        shared_mailbox="gestion@cabinet-lumiere.fr",
    )


def post(client: Client, body: bytes, content_type: str, url: str = URL, **headers: str) -> Any:
    """POST a ready-made body, as Mailgun does; `headers` are WSGI environ keys."""
    return client.generic("POST", url, body, content_type, **headers)  # type: ignore[arg-type]


def test_signed_message_is_stored_byte_for_byte_and_parsed(webhook: None, agency: Agency) -> None:
    mime = french_message()
    body, content_type = mailgun_form(mime)
    # A provider has no CSRF token: the view must not need one.
    client = Client(enforce_csrf_checks=True)
    response = post(client, body, content_type, **basic_auth())
    assert response.status_code == 200
    raw = RawMessage.objects.get()
    assert raw.agency == agency
    assert blob_read(raw.storage_name) == mime
    assert raw.state == RawState.PARSED
    message = Message.objects.get(raw=raw)
    assert message.subject == "Dégât des eaux — lot 12"
    assert message.from_name == "Hélène Martin"
    delivery = Delivery.objects.get()
    assert delivery.envelope_from == "helene.martin@exemple.fr"
    assert delivery.envelope_to == ["gestion+dos-2026-0042@cabinet-lumiere.fr"]
    assert delivery.source is not None
    assert (delivery.source.kind, delivery.source.name) == (SourceKind.WEBHOOK, "Webhook Mailgun")


def test_8bit_latin1_message_keeps_its_exact_bytes(webhook: None, agency: Agency) -> None:
    # Django would decode the field as UTF-8 and replace these bytes.
    mime = french_message(charset_8bit=True)
    assert b"\xe9" in mime
    body, content_type = mailgun_form(mime)
    assert post(Client(), body, content_type, **basic_auth()).status_code == 200
    raw = RawMessage.objects.get()
    assert blob_read(raw.storage_name) == mime
    assert raw.sha256 == hashlib.sha256(mime).hexdigest()
    assert "étendue" in Message.objects.get(raw=raw).text


def test_parsed_route_stores_a_reconstruction(webhook: None, agency: Agency) -> None:
    # A route to ".../inbound/" (no "mime"): Mailgun posts its parsed fields,
    # in UTF-8, and no raw message.
    headers = [
        ["From", "Hélène Martin <helene.martin@exemple.fr>"],
        ["To", "gestion+dos-2026-0042@cabinet-lumiere.fr"],
        ["Subject", "Dégât des eaux — lot 12"],
        ["Date", "Tue, 03 Mar 2026 09:14:00 +0100"],
        ["Message-Id", make_msgid(domain="exemple.fr")],
    ]
    body, content_type = mailgun_form(
        None,
        parsed_fields={
            "message-headers": json.dumps(headers).encode(),
            "body-plain": "La tache s'est étendue depuis hier soir.\r\n".encode(),
        },
    )
    url = "/webhooks/anymail/mailgun/inbound/"
    assert post(Client(), body, content_type, url=url, **basic_auth()).status_code == 200
    message = Message.objects.get()
    assert message.subject == "Dégât des eaux — lot 12"
    assert "étendue" in message.text
    assert message.raw.deliveries.get().envelope_to == ["gestion+dos-2026-0042@cabinet-lumiere.fr"]


def test_bad_signature_is_refused_with_400(webhook: None, agency: Agency) -> None:
    body, content_type = mailgun_form(french_message(), key="key-not-the-right-one")
    response = post(Client(), body, content_type, **basic_auth())
    assert response.status_code == 400
    assert not RawMessage.objects.exists()
    assert not MailSource.objects.exists()


@pytest.mark.parametrize("credentials", [None, "mailgun:wrong-password"])
def test_missing_or_wrong_basic_auth_is_refused_with_401(
    webhook: None, agency: Agency, credentials: str | None
) -> None:
    body, content_type = mailgun_form(french_message())
    extra = basic_auth(credentials) if credentials else {}
    response = post(Client(), body, content_type, **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic ")
    assert not RawMessage.objects.exists()


def test_unknown_recipient_domain_is_rejected_with_406_and_not_stored(
    webhook: None, agency: Agency
) -> None:
    # Mailgun does not retry a 406, and logs the rejection.
    body, content_type = mailgun_form(french_message(), recipient="contact@inconnu.fr")
    response = post(Client(), body, content_type, **basic_auth())
    assert response.status_code == 406
    assert not RawMessage.objects.exists()
    assert not MailSource.objects.exists()


def test_storage_failure_answers_500_so_mailgun_retries(
    webhook: None, agency: Agency, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_failure(data: bytes, *, kind: str) -> tuple[str, str]:
        raise OSError(28, "No space left on device")

    # The one stand-in of this file: a full disk under the raw store.
    monkeypatch.setattr(services, "blob_put", disk_failure)
    body, content_type = mailgun_form(french_message())
    response = post(Client(raise_request_exception=False), body, content_type, **basic_auth())
    assert response.status_code == 500
    assert not RawMessage.objects.exists()
    assert not Delivery.objects.exists()


def test_message_that_fails_parsing_is_acknowledged_and_quarantined(
    webhook: None, agency: Agency
) -> None:
    body, content_type = mailgun_form(UNPARSEABLE_MESSAGE)
    assert post(Client(), body, content_type, **basic_auth()).status_code == 200
    raw = RawMessage.objects.get()
    assert raw.state == RawState.QUARANTINED
    assert blob_read(raw.storage_name) == UNPARSEABLE_MESSAGE


def test_same_message_posted_twice_gives_one_raw_message_and_two_deliveries(
    webhook: None, agency: Agency
) -> None:
    mime = french_message()
    for _attempt in range(2):
        body, content_type = mailgun_form(mime)
        assert post(Client(), body, content_type, **basic_auth()).status_code == 200
    raw = RawMessage.objects.get()
    assert raw.deliveries.count() == 2
    assert Message.objects.count() == 1


def test_without_an_agency_yet_the_webhook_is_not_redirected(webhook: None) -> None:
    # The first-run middleware sends people to the setup page; a provider
    # gets the webhook's own answer.
    body, content_type = mailgun_form(french_message())
    response = post(Client(), body, content_type, **basic_auth())
    assert response.status_code == 406


def test_webhook_is_not_mounted_when_not_configured(agency: Agency) -> None:
    body, content_type = mailgun_form(french_message())
    response = post(Client(), body, content_type, **basic_auth())
    assert response.status_code == 404
    assert not RawMessage.objects.exists()


def test_a_message_over_the_form_limit_is_stored_byte_for_byte(
    webhook: None, agency: Agency, settings: Any
) -> None:
    """A mail with photos: `body-mime` over Django's 5 MiB limit for a form
    field, which Django would refuse (and Mailgun retry, then give up)."""
    photo = base64.encodebytes(secrets.token_bytes(6 * 1024 * 1024)).replace(b"\n", b"\r\n")
    head, _blank, text = french_message(charset_8bit=True).partition(b"\r\n\r\n")
    head = head.replace(
        b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit",
        b'Content-Type: multipart/mixed; boundary="photos"',
    )
    mime = (
        head
        + b"\r\n\r\n--photos\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
        + b"Content-Transfer-Encoding: 8bit\r\n\r\n"
        + text
        + b"\r\n--photos\r\nContent-Type: image/jpeg\r\nContent-Transfer-Encoding: base64\r\n"
        + b'Content-Disposition: attachment; filename="plafond.jpg"\r\n\r\n'
        + photo
        + b"--photos--\r\n"
    )
    assert len(mime) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    body, content_type = mailgun_form(mime)

    assert post(Client(), body, content_type, **basic_auth()).status_code == 200

    raw = RawMessage.objects.get()
    assert blob_read(raw.storage_name) == mime
    message = Message.objects.get(raw=raw)
    assert "étendue" in message.text
    assert [a.filename for a in message.attachments.all()] == ["plafond.jpg"]
    # The signature is checked on this path too.
    forged, content_type = mailgun_form(mime, key="not-the-signing-key")
    assert post(Client(), forged, content_type, **basic_auth()).status_code == 400
    assert RawMessage.objects.count() == 1


def test_a_form_over_both_limits_is_left_to_django_which_refuses_it(
    webhook: None, agency: Agency, settings: Any
) -> None:
    """Over the form limit and over the mail limit: not read (a message
    under the form limit but over the mail limit is stored as refused, with
    its record, by the pipeline)."""
    settings.MAIL_MAX_BYTES = 1024 * 1024
    mime = french_message() + b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1024)
    body, content_type = mailgun_form(mime)
    assert post(Client(), body, content_type, **basic_auth()).status_code == 400
    assert RawMessage.objects.count() == 0
