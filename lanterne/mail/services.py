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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from lanterne.condominiums.models import Agency

from .choices import Direction, RawFormat, RawState
from .models import Attachment, Delivery, MailSource, Message, RawMessage
from .parallel import ParseOutcome, parse_stored
from .parsing import ParsedMessage, looks_like_outlook_msg
from .storage import blob_put, blob_read
from .threads import message_thread

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


def refusal_error(size: int) -> str:
    """The error recorded for a message over the size limit (for staff)."""
    return (
        f"Message de {size} octets, au-delà de la limite de "
        f"{settings.MAIL_MAX_BYTES} octets : refusé."
    )


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
            error=refusal_error(len(data)) if too_large else "",
        )
    delivery = Delivery(
        raw=raw,
        source=source,
        folder=folder,
        uidvalidity=uidvalidity,
        uid=uid,
        envelope_from=envelope_from,
        envelope_to=list(envelope_to),
        is_sent_folder=is_sent_folder,
    )
    delivery_created = True
    if uid is None:
        # Only a delivery with an IMAP UID can meet the unique constraint: the
        # others need no savepoint (two queries fewer per message).
        delivery.save(force_insert=True)
    else:
        try:
            with transaction.atomic():
                delivery.save(force_insert=True)
        except IntegrityError:
            # The same IMAP UID delivered again (a fetch interrupted before its
            # state was saved): already recorded.
            delivery_created = False
    return ReceiveResult(raw=raw, created=created, delivery_created=delivery_created)


def raw_message_process(
    raw: RawMessage, *, data: bytes | None = None, outcome: ParseOutcome | None = None
) -> Message | None:
    """Parse a stored message into a `Message` (or mark it duplicate, refused
    or quarantined). Safe to run again: the same Message is updated.

    `data` is the message's bytes when the caller still holds them (it has
    just received them): they are then not read back from the store.
    `outcome` is the parse stage's result when it ran elsewhere (a bulk
    import parses in worker processes, `lanterne.mail.parallel`)."""
    if not raw.storage_name:
        return None
    if outcome is None:
        try:
            if data is None:
                data = blob_read(raw.storage_name)
        except Exception as error:  # noqa: BLE001 — one bad message must not stop the others
            logger.exception("Reading raw message %s failed", raw.pk)
            _set_failure(
                raw,
                state=RawState.QUARANTINED,
                stage="parse",
                error=f"{type(error).__name__}: {error}",
            )
            return None
        outcome = parse_stored(data, outlook=raw.format == RawFormat.OUTLOOK_MSG)
    if outcome.parsed is None:
        if outcome.unexpected:
            logger.error("Parsing raw message %s failed:\n%s", raw.pk, outcome.unexpected)
        _set_failure(
            raw,
            state=RawState.REFUSED if outcome.refused else RawState.QUARANTINED,
            stage="parse",
            error=outcome.error,
        )
        return None
    try:
        return _message_save(raw, outcome.parsed)
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
    if Delivery.objects.filter(raw_id=raw.pk, is_sent_folder=True).exists():
        return Direction.OUTBOUND
    sender = parsed.from_.address if parsed.from_ else ""
    if sender.rpartition("@")[2] == raw.agency.mail_domain.lower():
        return Direction.OUTBOUND
    return Direction.INBOUND


def _addresses(items: Iterable[object]) -> list[dict[str, str]]:
    return [{"name": a.name, "address": a.address} for a in items]  # type: ignore[attr-defined]


def message_fields(
    raw: RawMessage, parsed: ParsedMessage, *, message_id: str, direction: Direction
) -> dict[str, object]:
    """The fields of the `Message` a parse gives (for one message, or for
    a batch: `lanterne.mail.batch`)."""
    return {
        "agency": raw.agency,
        "message_id": message_id,
        "in_reply_to": list(parsed.in_reply_to),
        "references": list(parsed.references),
        "subject": parsed.subject,
        "from_name": parsed.from_.name[:300] if parsed.from_ else "",
        "from_address": parsed.from_.address[:320] if parsed.from_ else "",
        "to": _addresses(parsed.to),
        "cc": _addresses(parsed.cc),
        "reply_to": _addresses(parsed.reply_to),
        "date": parsed.date,
        "date_header": parsed.date_header[:300],
        "direction": direction,
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


def message_id_of(raw: RawMessage, parsed: ParsedMessage) -> str:
    """The Message-ID a message is known by: its own, or for a message
    without one a stable one made from its digest."""
    return (parsed.message_id or f"{raw.sha256}@lanterne.invalid")[:998]


def attachment_rows(message: Message, parsed: ParsedMessage) -> list[Attachment]:
    """The message's attachments, their bytes put in the store."""
    rows = []
    for position, attachment in enumerate(parsed.attachments):
        _sha, name = blob_put(attachment.data, kind="attachments")
        rows.append(
            Attachment(
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
        )
    return rows


@transaction.atomic
def _message_save(raw: RawMessage, parsed: ParsedMessage) -> Message:
    message_id = message_id_of(raw, parsed)
    # One query for both: the message holding this Message-ID, and this raw
    # message's own (when it is processed again).
    found = list(
        Message.objects.filter(Q(agency_id=raw.agency_id, message_id=message_id) | Q(raw_id=raw.pk))
    )
    existing = next(
        (
            item
            for item in found
            if item.agency_id == raw.agency_id and item.message_id == message_id
        ),
        None,
    )
    own = next((item for item in found if item.raw_id == raw.pk), None)
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

    fields = message_fields(raw, parsed, message_id=message_id, direction=_direction(raw, parsed))
    if own is None:
        # The usual case, a first parse: insert directly (the savepoint keeps
        # the transaction usable if a concurrent run inserted it meanwhile).
        try:
            with transaction.atomic():
                message = Message.objects.create(raw=raw, **fields)
        except IntegrityError:
            message, _created = Message.objects.update_or_create(raw=raw, defaults=fields)
            message.attachments.all().delete()
    else:
        message, _created = Message.objects.update_or_create(raw=raw, defaults=fields)
        message.attachments.all().delete()
    attachments = attachment_rows(message, parsed)
    signature_logos_mark(raw.agency, attachments)
    from lanterne.documents.tasks import texts_extract_schedule
    from lanterne.documents.texts import attachments_text_prepare

    to_read = attachments_text_prepare(attachments)
    # One INSERT for all of them.
    Attachment.objects.bulk_create(attachments)
    # The thread stage, in the same transaction: no extra commit per message.
    message_thread(message=message)
    from lanterne.search.services import search_index_schedule

    search_index_schedule(message_ids=[message.pk])  # staff find it, in triage or filed
    texts_extract_schedule(attachment_ids=[item.pk for item in to_read])
    RawMessage.objects.filter(pk=raw.pk).update(
        state=RawState.PARSED,
        failed_stage="",
        error="",
        duplicate_of=None,
        processed_at=timezone.now(),
    )
    raw.state = RawState.PARSED
    return message


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


def signature_logos_mark(agency: Agency, attachments: Sequence[Attachment]) -> None:
    """Mark the signature logos among attachments about to be saved (of one
    message, or of a batch): images repeated byte for byte in the mail of one
    sender domain `SIGNATURE_LOGO_REPEATS` times are a contractor's logo in
    every reply, not documents. Two queries, only when there are images; the
    cost does not grow with the number of copies already saved (copies not
    known as logos are fewer than `SIGNATURE_LOGO_REPEATS` by construction),
    and earlier copies are updated once, when an image becomes a logo."""
    images = [
        item
        for item in attachments
        if item.detected_type.startswith("image/")
        and item.size <= SIGNATURE_LOGO_MAX_BYTES
        and _domain(item.message.from_address)
    ]
    if not images:
        return
    digests = {item.sha256 for item in images}
    saved = Attachment.objects.filter(sha256__in=digests, message__agency=agency)
    logos = {
        (sha256, _domain(address))
        for sha256, address in saved.filter(is_signature_logo=True)
        .values_list("sha256", "message__from_address")
        .distinct()
    }
    # Copies not known as logos are few by construction: a third copy makes
    # every copy a logo.
    seen: dict[tuple[str, str], set[int | str]] = {}
    for sha256, address, message_id in saved.filter(is_signature_logo=False).values_list(
        "sha256", "message__from_address", "message_id"
    ):
        seen.setdefault((sha256, _domain(address)), set()).add(message_id)
    pending: dict[tuple[str, str], list[Attachment]] = {}
    for item in images:
        key = (item.sha256, _domain(item.message.from_address))
        if key in logos:
            item.is_signature_logo = True
            continue
        seen.setdefault(key, set()).add(f"new-{id(item.message)}")
        pending.setdefault(key, []).append(item)
        if len(seen[key]) >= SIGNATURE_LOGO_REPEATS:
            logos.add(key)
            for copy in pending.pop(key):
                copy.is_signature_logo = True
            if any(isinstance(copy, int) for copy in seen[key]):
                # Copies saved before this batch become logos too.
                sha256, domain = key
                saved.filter(sha256=sha256, message__from_address__iendswith=f"@{domain}").update(
                    is_signature_logo=True
                )


def raw_message_ingest(
    raw: RawMessage, *, data: bytes | None = None, envelope_recipients: Iterable[str] | None = None
) -> Message | None:
    """The whole pipeline after receiving: parse and thread
    (`raw_message_process`), then the file stage (`autofile.message_autofile`:
    into a dossier, or into triage with its suggestions). What every source
    runs on a message it stored. `envelope_recipients` are the RCPT TO
    addresses of its deliveries (read from them when not given).

    The file stage runs in its own transaction, after the parse committed: a
    failure there leaves a parsed message waiting in triage, never an unparsed
    one. A message that turned out to be a duplicate is not filed again."""
    message = raw_message_process(raw, data=data)
    if message is None or raw.state != RawState.PARSED:
        return message
    from .autofile import message_autofile  # the file stage calls back into this module

    if envelope_recipients is None:
        envelope_recipients = [
            address
            for addresses in Delivery.objects.filter(raw_id=raw.pk).values_list(
                "envelope_to", flat=True
            )
            for address in addresses or ()
        ]
    message_autofile(message, envelope_recipients=envelope_recipients)
    return message


def mail_receive_and_process(**kwargs: object) -> ReceiveResult:
    """Receive (durably) then process and file. Processing runs after the
    receiving transaction committed: a parse failure can never undo the
    storage."""
    result = mail_receive(**kwargs)  # type: ignore[arg-type]
    if result.raw.state == RawState.STORED:
        raw_message_ingest(result.raw)
    return result
