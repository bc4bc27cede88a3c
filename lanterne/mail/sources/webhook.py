"""Inbound mail from a provider's webhook: Mailgun, through django-anymail.

Mailgun receives the agency's mail (its MX) and POSTs each message to
`/webhooks/anymail/mailgun/inbound_mime/`. Anymail checks the HTTP basic auth
(`WEBHOOK_SECRET`) and the HMAC-SHA256 signature of timestamp + token with the
webhook signing key, answering 400 when either is wrong, then sends its
`inbound` signal; `inbound_mail_receive` below stores the message with
`mail_receive` and parses it (or, with a task queue, enqueues its parsing).
The answer tells Mailgun what to do next:

- 200: stored (and parsed, or quarantined) — done.
- 400 (bad signature) or 401 (missing or wrong basic auth): nothing stored.
- 406: no agency receives the recipient — Mailgun records the rejection and
  does not retry (a 200 would log a success for a message nobody kept).
- 500 (any exception, e.g. a storage failure): nothing was kept — Mailgun
  retries for 8 hours.

The raw bytes: with a route forwarding to a URL that ends in "mime", Mailgun
posts the original message in the `body-mime` field, and those bytes are
stored. Django decodes form fields as UTF-8, replacing undecodable bytes, which
would damage a message with 8-bit Latin-1 text; on that URL the view below has
the form read as ISO-8859-1 instead (one character per byte), so the field
encodes back to exactly the bytes Mailgun sent. Without `body-mime` (a route to
".../inbound/"), Mailgun sends only its parsed fields, and what is stored is
anymail's reconstruction of the message: readable, but not the original bytes
(headers are re-folded, the MIME tree is rebuilt, DKIM signatures no longer
verify)."""

from __future__ import annotations

import logging
from email.parser import BytesParser
from email.policy import compat32
from email.utils import collapse_rfc2231_value
from typing import Any

from anymail.signals import AnymailInboundEvent, inbound
from anymail.utils import get_request_basic_auth
from anymail.webhooks.mailgun import MailgunInboundWebhookView
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, QueryDict
from django.urls import re_path
from django.utils.crypto import constant_time_compare
from django.utils.datastructures import MultiValueDict

from lanterne.condominiums.models import Agency
from lanterne.mail.choices import RawState, SourceKind
from lanterne.mail.models import MailSource, RawMessage
from lanterne.mail.services import mail_receive, raw_message_ingest
from lanterne.mail.tasks import raw_messages_ingest_enqueue, raw_messages_queued

from .smtp import recipients_by_agency

logger = logging.getLogger(__name__)

# Every byte is one character in ISO-8859-1: decoding cannot fail nor replace.
LOSSLESS_FORM_ENCODING = "iso-8859-1"


class UnroutableMailError(Exception):
    """No agency receives any recipient of an inbound message."""


class MailgunInboundView(MailgunInboundWebhookView):  # type: ignore[misc]  # anymail: untyped
    """Anymail's Mailgun inbound webhook (basic auth, signature check), with the
    form read losslessly, missing credentials answered 401 and an unroutable
    message answered 406."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.path.rstrip("/").endswith("mime"):
            # Mailgun posts the raw message to URLs ending in "mime"; its parsed
            # fields (other URLs) are UTF-8 and read as such. Set before
            # anything reads request.POST (the csrf_exempt dispatch does not).
            request.encoding = LOSSLESS_FORM_ENCODING
        _large_form_load(request)
        if not self._basic_auth_valid(request):
            # Anymail would answer 400. A 401 with a challenge (RFC 9110
            # §11.6.1, RFC 7617) also serves a client that sends credentials
            # only when challenged, and Mailgun retries it like any error.
            challenge = HttpResponse(
                "Missing or invalid basic auth", status=401, content_type="text/plain"
            )
            challenge["WWW-Authenticate"] = 'Basic realm="Lanterne inbound mail"'
            return challenge
        try:
            response: HttpResponse = super().post(request, *args, **kwargs)
        except UnroutableMailError as error:
            logger.warning("Inbound webhook refused a message: %s", error)
            # Mailgun: "406 Not Acceptable … the POST is rejected and it will
            # not be retried".
            return HttpResponse(str(error), status=406, content_type="text/plain")
        return response

    def _basic_auth_valid(self, request: HttpRequest) -> bool:
        # The same check as anymail's (which runs again, harmlessly, in post()).
        if not self.basic_auth:
            return True
        credentials = get_request_basic_auth(request)
        if credentials is None:
            return False
        return any(constant_time_compare(credentials, allowed) for allowed in self.basic_auth)


# What a provider's form adds around the message: its other fields.
FORM_OVERHEAD_BYTES = 1024 * 1024


def _large_form_load(request: HttpRequest) -> None:
    """Read a form larger than `DATA_UPLOAD_MAX_MEMORY_SIZE` (5 MiB) but
    holding a message within `MAIL_MAX_BYTES`: Django refuses a form field
    over the first (a mail with photos in `body-mime` is one), which would
    make the provider retry, then give up on the message. Such a form is
    parsed here, with the standard library's MIME parser (multipart/form-data
    is MIME), into the request's POST and FILES, field values read with the
    request's encoding as Django would. Smaller forms, and larger ones,
    are left to Django (which refuses the latter)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return
    content_type = request.META.get("CONTENT_TYPE", "")
    if (
        limit is None
        or length <= limit
        or length > settings.MAIL_MAX_BYTES + FORM_OVERHEAD_BYTES
        or not content_type.lower().startswith("multipart/form-data")
    ):
        return
    body = request.read(length)
    form = BytesParser(policy=compat32).parsebytes(
        b"MIME-Version: 1.0\r\nContent-Type: "
        + content_type.encode("latin-1", errors="replace")
        + b"\r\n\r\n"
        + body
    )
    encoding = request.encoding or settings.DEFAULT_CHARSET
    post = QueryDict(mutable=True, encoding=encoding)
    files = MultiValueDict()
    parts = form.get_payload() if form.is_multipart() else []
    for part in parts:
        name = collapse_rfc2231_value(part.get_param("name", "", header="content-disposition"))
        if not name:
            continue
        data = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename:
            files.appendlist(name, SimpleUploadedFile(filename, data, part.get_content_type()))
        else:
            post.appendlist(name, data.decode(encoding, errors="replace"))
    post._mutable = False
    # What HttpRequest._load_post_and_files sets; request.POST and
    # request.FILES read them from now on.
    request._post, request._files = post, files  # type: ignore[attr-defined]


# Mounted under webhooks/anymail/ by lanterne/urls.py when the webhook is
# configured. Only Mailgun's inbound endpoint, at the path anymail gives it
# (the "mime" in "inbound_mime" is what makes Mailgun post the raw message).
urlpatterns = [
    re_path(
        r"^mailgun/inbound(_mime)?/$",
        MailgunInboundView.as_view(),
        name="mailgun_inbound_webhook",
    ),
]


def _form_text(request: HttpRequest, value: str) -> str:
    """A text form field as the provider meant it (UTF-8), whatever encoding
    the form was read with."""
    encoding = request.encoding or settings.DEFAULT_CHARSET
    return value.encode(encoding).decode("utf-8", errors="replace")


def _raw_bytes(event: AnymailInboundEvent) -> tuple[bytes, bool]:
    """The message's bytes, and whether they are the original ones."""
    request = event.esp_event
    post = getattr(request, "POST", None)
    if post is not None and "body-mime" in post:
        encoding = request.encoding or settings.DEFAULT_CHARSET
        return post["body-mime"].encode(encoding), True
    return event.message.as_bytes(), False


def _envelope_recipients(event: AnymailInboundEvent) -> list[str]:
    request = event.esp_event
    value = event.message.envelope_recipient or ""
    if isinstance(request, HttpRequest):
        value = _form_text(request, value)
    return [address.strip() for address in value.split(",") if address.strip()]


def webhook_source_for(agency: Agency, *, esp_name: str) -> MailSource:
    """The agency's webhook source for this provider, created on its first message."""
    source, _created = MailSource.objects.get_or_create(
        agency=agency, kind=SourceKind.WEBHOOK, name=f"Webhook {esp_name}"
    )
    return source


def inbound_webhook_message_store(
    *, data: bytes, esp_name: str, envelope_from: str, recipients: list[str]
) -> list[RawMessage]:
    """Store a message posted by a provider once per agency among its
    recipients, all or nothing (one HTTP answer for the whole message).
    Returns the raw messages that still need parsing.
    Raises UnroutableMailError when no agency receives any recipient."""
    groups = recipients_by_agency(recipients)
    if not groups:
        raise UnroutableMailError(f"no agency receives {', '.join(recipients) or 'no recipient'}")
    to_process: list[RawMessage] = []
    with transaction.atomic():
        for agency, addresses in groups.items():
            result = mail_receive(
                agency=agency,
                data=data,
                source=webhook_source_for(agency, esp_name=esp_name),
                envelope_from=envelope_from,
                envelope_to=addresses,
            )
            if result.raw.state == RawState.STORED:
                to_process.append(result.raw)
    return to_process


@receiver(inbound, dispatch_uid="lanterne.mail.inbound_webhook")
def inbound_mail_receive(
    sender: type, event: AnymailInboundEvent, esp_name: str, **kwargs: Any
) -> None:
    """Store, then parse, a message a provider posted. A storage failure
    propagates (anymail answers 500 and the provider retries); a parse failure
    quarantines the message and the answer is still 200."""
    data, original = _raw_bytes(event)
    if not original:
        logger.warning(
            "%s posted a parsed message without its raw MIME: storing anymail's "
            "reconstruction (route the mail to a URL ending in 'mime')",
            esp_name,
        )
    request = event.esp_event
    envelope_from = event.message.envelope_sender or ""
    if isinstance(request, HttpRequest):
        envelope_from = _form_text(request, envelope_from)
    to_process = inbound_webhook_message_store(
        data=data,
        esp_name=esp_name,
        envelope_from=envelope_from,
        recipients=_envelope_recipients(event),
    )
    # After the commit: nothing below can undo the storage. With a task
    # queue, a worker processes them and the provider has its answer sooner.
    if raw_messages_queued():
        raw_messages_ingest_enqueue([raw.pk for raw in to_process])
        return
    for raw in to_process:
        try:
            raw_message_ingest(raw)
        except Exception:
            logger.exception("Processing raw message %s failed", raw.pk)
