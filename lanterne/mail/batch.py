"""The mail pipeline for a batch of messages: what a bulk import runs.

`mail_receive` and `raw_message_process` handle one message at a time, with
a few statements each; a history import of 100,000 messages would spend its
time in those statements. The functions here do the same stages for a batch
— receive (store the bytes, record the deliveries), then save what the parse
stage made of them (messages, attachments, signature logos, threads, states)
— with a handful of statements per batch, and the same rules:

- the same bytes are stored once, each arrival is recorded as a delivery,
  and a file imported again records nothing new;
- the first message holding a Message-ID is the message, later ones with
  other bytes are its duplicates (in batch order, which is file order);
- direction, refusal of oversized messages, quarantine of what cannot be
  parsed, signature logos and threads as `raw_message_process` decides them;
- the caller commits each batch in one transaction, after making the blobs
  durable (`lanterne.mail.importing`): nothing names a blob that is not on
  disk, and a batch cut short is done again by the next run.

Rare cases (a raw message already parsed once, processed again) go through
`raw_message_process`, one by one."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from lanterne.condominiums.models import Agency
from lanterne.core.rows import rows_create

from .choices import Direction, RawFormat, RawState
from .models import Attachment, Delivery, MailSource, Message, RawMessage
from .parallel import ParseOutcome
from .parsing import looks_like_outlook_msg
from .services import (
    attachment_rows,
    message_fields,
    message_id_of,
    raw_message_process,
    refusal_error,
    signature_logos_mark,
)
from .storage import blob_put
from .threads import ThreadBatch, ThreadInput

__all__ = ["Arrival", "Received", "arrivals_receive", "parsed_save"]


@dataclass(frozen=True)
class Arrival:
    """One message read by a bulk import."""

    data: bytes
    folder: str
    is_sent_folder: bool


@dataclass
class Received:
    """What receiving an arrival gave: a raw message to process (with its
    bytes), or nothing to do — a raw message just refused for its size
    (`new_raw`), or one stored before (a duplicate, or this very file
    imported again)."""

    raw: RawMessage | None
    data: bytes | None
    to_process: bool
    new_raw: bool


def arrivals_receive(
    *, agency: Agency, source: MailSource, arrivals: Sequence[Arrival], in_flight: set[int]
) -> list[Received]:
    """Store the batch's bytes and record its deliveries (`mail_receive` and
    the import's own check for files imported before), in two queries and two
    bulk inserts. `in_flight` holds the raw messages received but not saved
    yet: meeting one of them again is a duplicate, not a second parse."""
    digests = [hashlib.sha256(arrival.data).hexdigest() for arrival in arrivals]
    earlier = {
        (sha256, folder): (raw_id, state)
        for sha256, folder, raw_id, state in Delivery.objects.filter(
            raw__agency=agency,
            raw__sha256__in=set(digests),
            source=source,
            folder__in={arrival.folder for arrival in arrivals},
        ).values_list("raw__sha256", "folder", "raw_id", "raw__state")
    }
    raws = {
        raw.sha256: raw for raw in RawMessage.objects.filter(agency=agency, sha256__in=set(digests))
    }
    results: list[Received] = []
    new_raws: list[RawMessage] = []
    deliveries: list[tuple[str, Arrival]] = []
    queued: set[str] = set()  # digests to process in this batch
    for sha256, arrival in zip(digests, arrivals, strict=True):
        key = (sha256, arrival.folder)
        if key in earlier:
            # This very file (these bytes, this folder) was imported before:
            # nothing new to record, but a message left unparsed is parsed now.
            raw_id, state = earlier[key]
            raw = raws.get(sha256)
            if (
                state == RawState.STORED
                and raw is not None
                and raw.pk not in in_flight
                and sha256 not in queued
            ):
                queued.add(sha256)
                results.append(Received(raw, arrival.data, to_process=True, new_raw=False))
            else:
                results.append(Received(raw, None, to_process=False, new_raw=False))
            continue
        earlier[key] = (0, RawState.STORED)
        deliveries.append((sha256, arrival))
        raw = raws.get(sha256)
        if raw is None:
            raw = _raw_new(agency, sha256, arrival.data)
            raws[sha256] = raw
            new_raws.append(raw)
            to_process = raw.state == RawState.STORED
            if to_process:
                queued.add(sha256)
            results.append(
                Received(raw, arrival.data if to_process else None, to_process, new_raw=True)
            )
        elif raw.state == RawState.STORED and raw.pk not in in_flight and sha256 not in queued:
            # Stored by an import that stopped before parsing it.
            queued.add(sha256)
            results.append(Received(raw, arrival.data, to_process=True, new_raw=False))
        else:
            results.append(Received(raw, None, to_process=False, new_raw=False))
    rows_create(new_raws)
    rows_create(
        [
            Delivery(
                raw=raws[sha256],
                source=source,
                folder=arrival.folder,
                is_sent_folder=arrival.is_sent_folder,
            )
            for sha256, arrival in deliveries
        ]
    )
    return results


def _raw_new(agency: Agency, sha256: str, data: bytes) -> RawMessage:
    too_large = len(data) > settings.MAIL_MAX_BYTES
    return RawMessage(
        agency=agency,
        sha256=sha256,
        size=len(data),
        format=RawFormat.OUTLOOK_MSG if looks_like_outlook_msg(data) else RawFormat.RFC822,
        storage_name="" if too_large else blob_put(data, kind="raw")[1],
        state=RawState.REFUSED if too_large else RawState.STORED,
        failed_stage="receive" if too_large else "",
        error=refusal_error(len(data)) if too_large else "",
    )


def parsed_save(
    *, agency: Agency, items: Sequence[tuple[RawMessage, ParseOutcome]]
) -> list[Message]:
    """Save what the parse stage made of a batch of stored messages, in
    order: `raw_message_process` for each, in a handful of statements for
    the whole batch. Each raw message's `state` says what became of it;
    the messages parsed (for the file stage) are returned."""
    raw_ids = [raw.pk for raw, _outcome in items]
    message_ids = {
        message_id_of(raw, outcome.parsed) for raw, outcome in items if outcome.parsed is not None
    }
    known: dict[str, Message] = {}
    processed_before: set[int] = set()
    for message in Message.objects.filter(
        Q(agency=agency, message_id__in=message_ids) | Q(raw_id__in=raw_ids)
    ).only("pk", "raw_id", "message_id", "agency_id"):
        if message.raw_id in raw_ids:
            processed_before.add(message.raw_id)
        if message.agency_id == agency.pk:
            known.setdefault(message.message_id, message)
    sent = set(
        Delivery.objects.filter(raw_id__in=raw_ids, is_sent_folder=True).values_list(
            "raw_id", flat=True
        )
    )
    own_domain = agency.mail_domain.lower()

    new: list[tuple[RawMessage, Message, ParseOutcome]] = []
    duplicates: list[tuple[RawMessage, Message]] = []
    parsed: list[Message] = []
    for raw, outcome in items:
        if outcome.parsed is None or raw.pk in processed_before:
            # A failure (recorded one by one: rare), or a message parsed before.
            message = raw_message_process(raw, outcome=outcome)
            if message is not None and raw.state == RawState.PARSED:
                parsed.append(message)
            continue
        message_id = message_id_of(raw, outcome.parsed)
        existing = known.get(message_id)
        if existing is not None:
            duplicates.append((raw, existing))
            continue
        sender = outcome.parsed.from_.address if outcome.parsed.from_ else ""
        direction = (
            Direction.OUTBOUND
            if raw.pk in sent or sender.rpartition("@")[2] == own_domain
            else Direction.INBOUND
        )
        message = Message(
            raw=raw,
            **message_fields(raw, outcome.parsed, message_id=message_id, direction=direction),
        )
        known[message_id] = message
        new.append((raw, message, outcome))

    now = timezone.now()
    if new:
        _messages_create(agency, new, own_domain=own_domain, now=now)
        parsed.extend(message for _raw, message, _outcome in new)
    # After the messages: a duplicate may repeat one created in this batch.
    for raw, existing in duplicates:
        RawMessage.objects.filter(pk=raw.pk).update(
            state=RawState.DUPLICATE,
            duplicate_of=existing,
            processed_at=now,
            failed_stage="",
            error="",
        )
        raw.state = RawState.DUPLICATE
    return parsed


def _messages_create(
    agency: Agency,
    new: list[tuple[RawMessage, Message, ParseOutcome]],
    *,
    own_domain: str,
    now: datetime,
) -> None:
    """Thread, insert and mark parsed the new messages of a batch, with
    their attachments."""
    threads = ThreadBatch(agency_id=agency.pk, own_domain=own_domain)
    assigned = threads.assign(
        [
            ThreadInput(
                message_id=message.message_id,
                in_reply_to=message.in_reply_to,
                references=message.references,
                subject=message.subject,
                from_address=message.from_address,
                to=message.to,
                cc=message.cc,
                moment=message.date or raw.received_at,
            )
            for raw, message, _outcome in new
        ]
    )
    for (_raw, message, _outcome), thread in zip(new, assigned, strict=True):
        message.thread = thread
    rows_create([message for _raw, message, _outcome in new])
    attachments: list[Attachment] = []
    for _raw, message, outcome in new:
        assert outcome.parsed is not None
        attachments.extend(attachment_rows(message, outcome.parsed))
    signature_logos_mark(agency, attachments)
    from lanterne.documents.tasks import texts_extract_schedule
    from lanterne.documents.texts import attachments_text_prepare

    to_read = attachments_text_prepare(attachments)
    rows_create(attachments)
    threads.finish()
    from lanterne.search.services import search_index_schedule

    search_index_schedule(message_ids=[message.pk for _raw, message, _outcome in new])
    # Their text is read after the import, not during it (`bulk`).
    texts_extract_schedule(attachment_ids=[item.pk for item in to_read], bulk=True)
    RawMessage.objects.filter(pk__in=[raw.pk for raw, _m, _o in new]).update(
        state=RawState.PARSED, failed_stage="", error="", duplicate_of=None, processed_at=now
    )
    for raw, _message, _outcome in new:
        raw.state = RawState.PARSED
