"""The first half of the mail pipeline: receive → store raw → parse.

`mail_receive` is what every source calls (IMAP, SMTP receiver, webhook,
import): it stores the exact bytes durably and records the delivery, in one
transaction, and only then returns — the source acknowledges afterwards.
`raw_message_process` runs the parse stage from the stored bytes; it can be
re-run at any time (`lanterne reprocess-mail`) without duplicating anything, and
a failure quarantines that one message with its error, never the others."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from lanterne.condominiums.models import Agency

from .choices import Direction, RawFormat, RawState
from .models import Attachment, Delivery, MailSource, Message, RawMessage
from .parsing import (
    MailParseError,
    MailTooLargeError,
    ParsedMessage,
    looks_like_outlook_msg,
    parse_message,
    parse_outlook_msg,
)
from .storage import blob_put, blob_read

logger = logging.getLogger(__name__)

# An image attached, byte for byte, to this many messages of the same sender
# domain is a signature logo, not a document.
SIGNATURE_LOGO_REPEATS = 3
SIGNATURE_LOGO_MAX_BYTES = 200 * 1024


@dataclass(frozen=True)
class ReceiveResult:
    """What became of one received message."""

    raw: RawMessage
    created: bool  # False when these exact bytes were already stored
    delivery_created: bool  # False when this very delivery (same IMAP UID) was already recorded


@transaction.atomic
def mail_receive(
    *,
    agency: Agency,
    data: bytes,
    source: MailSource | None = None,
    folder: str = "",
    uidvalidity: int | None = None,
    uid: int | None = None,
    envelope_from: str = "",
    envelope_to: Iterable[str] = (),
    is_sent_folder: bool = False,
) -> ReceiveResult:
    """Store one message's exact bytes durably and record its delivery.

    The bytes are written (and fsync'ed) before the transaction commits; when
    this returns, the message is safe and the source may be acknowledged.
    Oversized messages are not stored: they are recorded as refused, with
    their digest and size, so the refusal is visible to staff."""
    sha256 = hashlib.sha256(data).hexdigest()
    too_large = len(data) > settings.MAIL_MAX_BYTES
    raw_format = RawFormat.OUTLOOK_MSG if looks_like_outlook_msg(data) else RawFormat.RFC822
    raw = RawMessage.objects.filter(agency=agency, sha256=sha256).first()
    created = raw is None
    if raw is None:
        storage_name = "" if too_large else blob_put(data, kind="raw")[1]
        raw = RawMessage.objects.create(
            agency=agency,
            sha256=sha256,
            size=len(data),
            format=raw_format,
            storage_name=storage_name,
            state=RawState.REFUSED if too_large else RawState.STORED,
            failed_stage="receive" if too_large else "",
            error=(
                f"Message de {len(data)} octets, au-delà de la limite de "
                f"{settings.MAIL_MAX_BYTES} octets : refusé."
                if too_large
                else ""
            ),
        )
    delivery_created = True
    try:
        with transaction.atomic():
            Delivery.objects.create(
                raw=raw,
                source=source,
                folder=folder,
                uidvalidity=uidvalidity,
                uid=uid,
                envelope_from=envelope_from,
                envelope_to=list(envelope_to),
                is_sent_folder=is_sent_folder,
            )
    except IntegrityError:
        # The same IMAP UID delivered again (a fetch interrupted before its
        # state was saved): already recorded.
        delivery_created = False
    return ReceiveResult(raw=raw, created=created, delivery_created=delivery_created)


def raw_message_process(raw: RawMessage) -> Message | None:
    """Parse a stored message into a `Message` (or mark it duplicate, refused
    or quarantined). Safe to run again: the same Message is updated."""
    if not raw.storage_name:
        return None
    try:
        data = blob_read(raw.storage_name)
        if raw.format == RawFormat.OUTLOOK_MSG:
            parsed = parse_outlook_msg(data)
        else:
            parsed = parse_message(data)
    except MailTooLargeError as error:
        _set_failure(raw, state=RawState.REFUSED, stage="parse", error=str(error))
        return None
    except MailParseError as error:
        _set_failure(raw, state=RawState.QUARANTINED, stage="parse", error=str(error))
        return None
    except Exception as error:  # noqa: BLE001 — one bad message must not stop the others
        logger.exception("Parsing raw message %s failed", raw.pk)
        _set_failure(
            raw, state=RawState.QUARANTINED, stage="parse", error=f"{type(error).__name__}: {error}"
        )
        return None
    try:
        return _message_save(raw, parsed)
    except Exception as error:  # noqa: BLE001
        logger.exception("Saving raw message %s failed", raw.pk)
        _set_failure(
            raw, state=RawState.QUARANTINED, stage="store", error=f"{type(error).__name__}: {error}"
        )
        return None


def _set_failure(raw: RawMessage, *, state: RawState, stage: str, error: str) -> None:
    RawMessage.objects.filter(pk=raw.pk).update(
        state=state, failed_stage=stage, error=error[:5000], processed_at=timezone.now()
    )
    raw.state, raw.failed_stage, raw.error = state, stage, error[:5000]


def _direction(raw: RawMessage, parsed: ParsedMessage) -> Direction:
    """Outbound when it was read from a Sent folder or written from the
    agency's own domain; inbound otherwise."""
    if raw.deliveries.filter(is_sent_folder=True).exists():
        return Direction.OUTBOUND
    sender = parsed.from_.address if parsed.from_ else ""
    if sender.rpartition("@")[2] == raw.agency.mail_domain.lower():
        return Direction.OUTBOUND
    return Direction.INBOUND


@transaction.atomic
def _message_save(raw: RawMessage, parsed: ParsedMessage) -> Message:
    # A message without Message-ID gets a stable one from its digest.
    message_id = (parsed.message_id or f"{raw.sha256}@lanterne.invalid")[:998]
    existing = Message.objects.filter(agency=raw.agency, message_id=message_id).first()
    if existing is not None and existing.raw_id != raw.pk:
        # The same message delivered with other bytes (another mailbox added
        # its own Received headers, or the Sent copy of a mail we sent).
        RawMessage.objects.filter(pk=raw.pk).update(
            state=RawState.DUPLICATE,
            duplicate_of=existing,
            processed_at=timezone.now(),
            failed_stage="",
            error="",
        )
        raw.state = RawState.DUPLICATE
        return existing

    def addresses(items: Iterable[object]) -> list[dict[str, str]]:
        return [{"name": a.name, "address": a.address} for a in items]  # type: ignore[attr-defined]

    fields = {
        "agency": raw.agency,
        "message_id": message_id,
        "in_reply_to": list(parsed.in_reply_to),
        "references": list(parsed.references),
        "subject": parsed.subject,
        "from_name": parsed.from_.name[:300] if parsed.from_ else "",
        "from_address": parsed.from_.address[:320] if parsed.from_ else "",
        "to": addresses(parsed.to),
        "cc": addresses(parsed.cc),
        "reply_to": addresses(parsed.reply_to),
        "date": parsed.date,
        "date_header": parsed.date_header[:300],
        "direction": _direction(raw, parsed),
        "text": parsed.text,
        "html": parsed.html,
        "new_text": parsed.new_text,
        "quoted_text": parsed.quoted_text,
        "signature": parsed.signature,
        "is_auto_reply": parsed.is_auto_reply,
        "is_bounce": parsed.is_bounce,
        "is_bulk": parsed.is_bulk,
        "is_lanterne_notification": parsed.is_lanterne_notification,
        "bounced_message_id": (parsed.bounced_message_id or "")[:998],
        "defects": list(parsed.defects),
        "headers": dict(parsed.headers),
        "parsed_at": timezone.now(),
    }
    message, _created = Message.objects.update_or_create(raw=raw, defaults=fields)
    message.attachments.all().delete()
    for position, attachment in enumerate(parsed.attachments):
        _sha, name = blob_put(attachment.data, kind="attachments")
        Attachment.objects.create(
            message=message,
            position=position,
            filename=attachment.filename[:255],
            content_type=attachment.content_type[:200],
            detected_type=attachment.detected_type[:200],
            size=attachment.size,
            sha256=attachment.sha256,
            storage_name=name,
            content_id=(attachment.content_id or "")[:998],
            is_inline=attachment.is_inline,
            from_tnef=attachment.from_tnef,
            is_forwarded_message=attachment.is_forwarded_message,
        )
    _mark_signature_logos(message)
    RawMessage.objects.filter(pk=raw.pk).update(
        state=RawState.PARSED,
        failed_stage="",
        error="",
        duplicate_of=None,
        processed_at=timezone.now(),
    )
    raw.state = RawState.PARSED
    return message


def _mark_signature_logos(message: Message) -> None:
    """Images repeated byte for byte in the mail of one sender domain are
    signature logos (a contractor's logo in every reply), not documents."""
    domain = message.from_address.rpartition("@")[2]
    if not domain:
        return
    for attachment in message.attachments.filter(
        detected_type__startswith="image/", size__lte=SIGNATURE_LOGO_MAX_BYTES
    ):
        same = Attachment.objects.filter(
            sha256=attachment.sha256,
            message__agency_id=message.agency_id,
            message__from_address__endswith=f"@{domain}",
        )
        if same.values("message_id").distinct().count() >= SIGNATURE_LOGO_REPEATS:
            same.update(is_signature_logo=True)


def mail_receive_and_process(**kwargs: object) -> ReceiveResult:
    """Receive (durably) then process. Processing runs after the receiving
    transaction committed: a parse failure can never undo the storage."""
    result = mail_receive(**kwargs)  # type: ignore[arg-type]
    if result.raw.state == RawState.STORED:
        raw_message_process(result.raw)
    return result
