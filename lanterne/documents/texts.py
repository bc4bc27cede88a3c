"""The text of mail attachments and of uploaded documents: read once after
they are saved, stored with them, searched through their message's or
their document's index row.

Each `Attachment` and `Document` carries `text`, `text_state` (pending until
tried, then one of `extraction`'s states) and `text_error` (why there is no
text, or only part of it). Reading happens after the commit that saved
the file, as background work (`tasks.texts_extract_run`, queued by
`texts_extract_schedule`): never while mail is ingested, since a PDF may
take seconds where a message takes milliseconds. Once read, the message or
document is indexed again (`search_index_schedule`).

The same bytes (same sha256) are read once per agency: an attachment quoted
again in every reply of a conversation, or filed as a document, reuses the
text already read. `lanterne extract-text` reads in bulk what is still
pending (after an upgrade that added extraction, or when the queue was
down), or everything again (`--all`, after the extractor improved).

The files are read through the storage API only (`blob_read` for the mail
store, the storage of `Document.file`): the store may be an S3 bucket."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Min, Q

from lanterne.mail.models import Attachment
from lanterne.mail.storage import blob_read

from .choices import TextState
from .extraction import MAX_INPUT_BYTES, Extraction, Extractor
from .models import Document

__all__ = [
    "BATCH",
    "attachments_text_extract",
    "attachments_text_prepare",
    "documents_text_extract",
    "texts_extract_pending",
]

logger = logging.getLogger(__name__)

# Files read per transaction: what a run cut short loses.
BATCH = 50
# Attachments whose type holds no text worth reading: not even fetched.
_WITHOUT_TEXT = ("image/", "audio/", "video/", "message/", "multipart/")


@dataclass(frozen=True)
class _File:
    """One file to read: an attachment or a document, by id."""

    pk: int
    agency_id: int
    sha256: str
    size: int
    filename: str
    content_type: str
    skip: str  # why it is not read at all, or ""
    storage_name: str = ""  # an attachment's blob


def _known(model: Any, agency_field: str, keys: set[tuple[int, str]]) -> dict[tuple[int, str], Any]:
    """Texts already read for these (agency, sha256), by key: one row each.
    A failure is not reused: it may have been the store's, or a busy
    machine's, rather than the file's."""
    if not keys:
        return {}
    wanted = Q(pk__in=[])
    for agency_id in {agency for agency, _sha in keys}:
        wanted |= Q(
            **{agency_field: agency_id},
            sha256__in=[sha for agency, sha in keys if agency == agency_id],
        )
    firsts = (
        model.objects.filter(wanted)
        .filter(text_state__in=[TextState.EXTRACTED, TextState.TOO_LARGE, TextState.UNSUPPORTED])
        .values("sha256", agency_field)
        .annotate(first=Min("pk"))
        .values_list("first", flat=True)
    )
    return {
        (row[agency_field], row["sha256"]): Extraction(
            row["text_state"], row["text"], row["text_error"]
        )
        for row in model.objects.filter(pk__in=list(firsts)).values(
            "sha256", agency_field, "text", "text_state", "text_error"
        )
    }


def _read_all(
    files: Sequence[_File],
    read: Callable[[_File], bytes],
    *,
    reuse: bool,
    extractor: Extractor,
) -> dict[int, Extraction]:
    """The text of each file by id, each distinct content read once."""
    keys = {(item.agency_id, item.sha256) for item in files if not item.skip}
    known: dict[tuple[int, str], Extraction] = {}
    if reuse:
        known.update(_known(Attachment, "message__agency_id", keys))
        known.update(_known(Document, "agency_id", keys - known.keys()))
    results: dict[int, Extraction] = {}
    for item in files:
        if item.skip:
            results[item.pk] = Extraction(TextState.UNSUPPORTED, "", item.skip)
            continue
        key = (item.agency_id, item.sha256)
        if key not in known:
            known[key] = _read_one(item, read, extractor)
        results[item.pk] = known[key]
    return results


def _read_one(item: _File, read: Callable[[_File], bytes], extractor: Extractor) -> Extraction:
    if item.size > MAX_INPUT_BYTES:
        return Extraction(TextState.TOO_LARGE, "", f"larger than {MAX_INPUT_BYTES // 2**20} MB")
    try:
        data = read(item)
    except Exception as error:  # noqa: BLE001 — the store failed: say so, go on
        logger.warning("Reading stored file %s for its text failed: %s", item, error)
        return Extraction(TextState.FAILED, "", f"the stored file could not be read: {error}"[:300])
    return extractor.extract(data, filename=item.filename, content_type=item.content_type)


def _batches(ids: Iterable[int]) -> Iterator[list[int]]:
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), BATCH):
        yield ordered[start : start + BATCH]


def _attachment_skip(
    *, is_inline: bool, is_signature_logo: bool, content_type: str, detected_type: str
) -> str:
    """Why an attachment is not worth reading, or ""."""
    if is_inline or is_signature_logo:
        return "an image shown in the mail, not a file attached"
    kind = (detected_type or content_type).lower()
    if kind.startswith(_WITHOUT_TEXT):
        return f"no text read from {kind}"
    return ""


def attachments_text_prepare(attachments: Iterable[Attachment]) -> list[Attachment]:
    """New attachments, before they are saved: those with no text worth
    reading (inline images, signature logos, photos) are marked so at once,
    with no query and no task; the others are returned, for
    `tasks.texts_extract_schedule` once saved."""
    to_read = []
    for attachment in attachments:
        skip = _attachment_skip(
            is_inline=attachment.is_inline,
            is_signature_logo=attachment.is_signature_logo,
            content_type=attachment.content_type,
            detected_type=attachment.detected_type,
        )
        if skip:
            attachment.text_state = TextState.UNSUPPORTED
            attachment.text_error = skip
        else:
            to_read.append(attachment)
    return to_read


def _extractor(given: Extractor | None) -> contextlib.AbstractContextManager[Extractor]:
    return contextlib.nullcontext(given) if given is not None else Extractor()


def attachments_text_extract(
    attachment_ids: Iterable[int], *, again: bool = False, extractor: Extractor | None = None
) -> int:
    """Read the text of these attachments (those still pending, or all of
    them `again`), store it, and index their messages again. Returns how
    many attachments were read."""
    done = 0
    with _extractor(extractor) as extractor:
        for ids in _batches(attachment_ids):
            rows = Attachment.objects.filter(pk__in=ids)
            if not again:
                rows = rows.filter(text_state=TextState.PENDING)
            files = [
                _File(
                    pk=row["pk"],
                    agency_id=row["message__agency_id"],
                    sha256=row["sha256"],
                    size=row["size"],
                    filename=row["filename"],
                    content_type=row["detected_type"] or row["content_type"],
                    skip=_attachment_skip(
                        is_inline=row["is_inline"],
                        is_signature_logo=row["is_signature_logo"],
                        content_type=row["content_type"],
                        detected_type=row["detected_type"],
                    ),
                    storage_name=row["storage_name"],
                )
                for row in rows.values(
                    "pk",
                    "message__agency_id",
                    "sha256",
                    "size",
                    "filename",
                    "content_type",
                    "detected_type",
                    "is_inline",
                    "is_signature_logo",
                    "storage_name",
                )
            ]
            if not files:
                continue
            results = _read_all(files, _attachment_read, reuse=not again, extractor=extractor)
            _save(Attachment, results, index_argument="message_ids", index_field="message_id")
            done += len(results)
    return done


def _attachment_read(item: _File) -> bytes:
    return blob_read(item.storage_name)


def _document_read(item: _File) -> bytes:
    document = Document.objects.only("file").get(pk=item.pk)
    with document.file.storage.open(document.file.name or "", "rb") as handle:
        data: bytes = handle.read(MAX_INPUT_BYTES + 1)
    return data


def documents_text_extract(
    document_ids: Iterable[int], *, again: bool = False, extractor: Extractor | None = None
) -> int:
    """Read the text of these uploaded documents (those still pending, or
    all of them `again`), store it, and index them again. Returns how many
    documents were read."""
    done = 0
    with _extractor(extractor) as extractor:
        for ids in _batches(document_ids):
            rows = Document.objects.filter(pk__in=ids)
            if not again:
                rows = rows.filter(text_state=TextState.PENDING)
            files = [
                _File(
                    pk=row["pk"],
                    agency_id=row["agency_id"],
                    sha256=row["sha256"],
                    size=row["size"],
                    filename=row["filename"],
                    content_type=row["content_type"],
                    skip="",
                )
                for row in rows.values(
                    "pk", "agency_id", "sha256", "size", "filename", "content_type"
                )
            ]
            if not files:
                continue
            results = _read_all(files, _document_read, reuse=not again, extractor=extractor)
            _save(Document, results, index_argument="document_ids", index_field="pk")
            done += len(results)
    return done


def _save(
    model: Any, results: dict[int, Extraction], *, index_argument: str, index_field: str
) -> None:
    """Store the texts read, and index again the objects whose text they
    are, once committed."""
    from lanterne.search.services import search_index_schedule

    objects = [
        model(pk=pk, text=result.text, text_state=result.state, text_error=result.reason[:300])
        for pk, result in results.items()
    ]
    with transaction.atomic():
        model.objects.bulk_update(objects, ["text", "text_state", "text_error"])
        with_text = [pk for pk, result in results.items() if result.text]
        if with_text:
            search_index_schedule(
                **{
                    index_argument: model.objects.filter(pk__in=with_text).values_list(
                        index_field, flat=True
                    )
                }
            )


def texts_extract_pending(
    *,
    agency_id: int | None = None,
    again: bool = False,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Read the text of every attachment and document still pending (or of
    all of them, `again`), of one agency or all, by increasing id (keyset:
    no OFFSET), a batch per transaction. Returns how many of each were read."""
    counts: dict[str, int] = {}
    sources: list[tuple[str, Any, str, Callable[..., int]]] = [
        ("attachments", Attachment.objects.all(), "message__agency_id", attachments_text_extract),
        ("documents", Document.objects.all(), "agency_id", documents_text_extract),
    ]
    with Extractor() as extractor:
        for name, queryset, agency_field, extract in sources:
            if agency_id is not None:
                queryset = queryset.filter(**{agency_field: agency_id})
            if not again:
                queryset = queryset.filter(text_state=TextState.PENDING)
            done = 0
            last = 0
            while True:
                ids = list(
                    queryset.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:BATCH]
                )
                if not ids:
                    break
                done += extract(ids, again=again, extractor=extractor)
                last = ids[-1]
                if progress is not None:
                    progress(name, done)
            counts[name] = done
    return counts
