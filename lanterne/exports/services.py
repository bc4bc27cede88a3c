"""Writing dossier exports (PDF, ZIP) and the agency's archive.

A dossier's ZIP holds:

    DOS-2026-0042.pdf                        the timeline (pdf.py)
    courriels/003-2026-03-03-objet.eml       a mail as received (or .msg), byte for byte
    courriels/003-2026-03-03-objet-copie-1.eml  another stored copy of it (staff)
    courriels/004-2026-03-05-objet.txt       a mail the requester reads masked: its texts
    courriels/003-2026-03-03-objet/devis.pdf its attachments
    documents/constat-amiable.pdf            the dossier's documents
    manifest.json                            every file with its kind, size and sha256

The original bytes of a mail go in only when the requester may read it as
received (`policy.may_read_message_original`: staff, or a mail staff
unmasked): the .eml holds the personal data its published texts mask.
Others get the masked texts instead, and the attachments they may download
on the dossier page.

The agency's archive (`agency_archive_write`, for a successor syndic) holds
the same folder for every dossier, by condominium, with the condominiums'
documents, the mail filed nowhere, the mail that could not be processed,
every message as JSON Lines (`lanterne export-messages`) and one manifest for
all. Everything is streamed: from the stores into the archive, one file at a
time, the manifest's rows kept in a temporary file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Any, Protocol

from django.db import transaction
from django.db.models import Prefetch, Q
from django.utils import formats, timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from lanterne.audit.models import AuditAction, AuditLog
from lanterne.condominiums.models import Agency
from lanterne.documents.models import Document
from lanterne.dossiers import policy
from lanterne.mail.choices import RawFormat
from lanterne.mail.models import Attachment, Message, RawMessage
from lanterne.mail.publication import message_texts_for
from lanterne.mail.selectors import message_export_rows
from lanterne.mail.storage import blob_open

from .archive import ArchiveWriter, FolderNames, safe_name
from .manifest import MANIFEST_FORMAT, MANIFEST_NAME, MANIFEST_VERSION, FileKind, manifest_write
from .pdf import dossier_pdf_document
from .selectors import (
    DossierExport,
    ExportedMessage,
    dossier_export_complete,
    dossiers_for_archive,
    message_copies,
)

__all__ = [
    "AgencyArchiveSummary",
    "DossierZipSummary",
    "agency_archive_write",
    "dossier_pdf_export",
    "dossier_zip_export",
    "export_filename",
]

# The audit log's name for what was exported.
DOSSIER_EXPORT = "dossier_export"
AGENCY_EXPORT = "agency_export"

MAIL_FOLDER = "courriels"
DOCUMENT_FOLDER = "documents"
UNFILED_FOLDER = "courriels-non-classes"
UNPROCESSED_FOLDER = "courriels-non-traites"
MESSAGES_JSONL = "courriels.jsonl"
# Messages read at a time for the agency's unfiled mail.
_BATCH = 200


@dataclass
class DossierZipSummary:
    """What a dossier's folder holds."""

    files: int = 0
    originals: int = 0  # mails as received (.eml/.msg), copies included
    masked: int = 0  # mails as masked texts
    attachments: int = 0
    documents: int = 0
    missing: list[str] = field(default_factory=list)  # files lost from the stores


def export_filename(export: DossierExport, suffix: str) -> str:
    """The download's name: the dossier's reference."""
    return safe_name(export.dossier.reference, fallback=f"dossier-{export.dossier.pk}") + suffix


# --- One mail --------------------------------------------------------------------


def _local(moment: dt.datetime | None) -> str:
    if moment is None:
        return ""
    return formats.date_format(timezone.localtime(moment), "j F Y, H:i")


def _message_stem(item: ExportedMessage, width: int) -> str:
    """`003-2026-03-03-intervention-au-lot-12`: its number, day and subject
    (the subject as the requester reads it: masked for them if it must be)."""
    message = item.message
    day = timezone.localdate(message.date or message.parsed_at).isoformat()
    subject = slugify(item.texts.subject)[:60].strip("-") or "sans-objet"
    return f"{item.number:0{width}d}-{day}-{subject}"


def _raw_suffix(raw: RawMessage) -> str:
    return ".msg" if raw.format == RawFormat.OUTLOOK_MSG else ".eml"


def message_text_file(item: ExportedMessage) -> str:
    """A mail as the requester is served it, when they may not have it as
    received: its subject, date, sender's name and text, masked."""
    texts = item.texts
    message = item.message
    body = texts.text or "\n\n".join(
        t for t in (texts.new_text, texts.signature, texts.quoted_text) if t
    )
    lines = [
        f"{_('Objet')} : {texts.subject or _('(sans objet)')}",
        f"{_('Date')} : {_local(message.date or message.parsed_at)}",
        f"{_('De')} : {message.from_name or _('expéditeur sans nom')}",
    ]
    if texts.masked:
        lines.append(_("Les coordonnées personnelles de tiers sont masquées."))
    return "\n".join([*lines, "", body.rstrip(), ""])


class _Folder:
    """A folder of a dossier's export inside an archive: writes its files
    under `prefix`, each name unique in its folder, and keeps their manifest
    rows with paths relative to the folder."""

    def __init__(self, writer: ArchiveWriter, prefix: str, *, keep_rows: bool = True) -> None:
        self.writer = writer
        self.prefix = prefix
        # A dossier's folder has its own manifest; the agency's folders of
        # mail in no dossier, which can be long, only the archive's.
        self.keep_rows = keep_rows
        self.rows: list[dict[str, Any]] = []
        self.summary = DossierZipSummary()
        self._names: dict[str, FolderNames] = {}

    def name(self, folder: str, name: str) -> str:
        """A unique path for `name` in `folder` (relative to the prefix)."""
        names = self._names.setdefault(folder, FolderNames())
        unique = names.unique(name)
        return f"{folder}/{unique}" if folder else unique

    def forget(self, folder: str) -> None:
        """Drop the names handed out in `folder`, once it is complete (a
        mail's attachments): the names kept stay few, whatever the number
        of mails."""
        self._names.pop(folder, None)

    def _row(self, row: dict[str, Any]) -> None:
        if self.keep_rows:
            self.rows.append({**row, "path": row["path"][len(self.prefix) :]})
        self.summary.files += 1

    def add_bytes(self, path: str, data: bytes, *, kind: FileKind, **details: Any) -> None:
        self._row(self.writer.add_bytes(self.prefix + path, data, kind=kind, **details))

    def add_stored(
        self,
        path: str,
        opener: Callable[[], IO[bytes]],
        *,
        kind: FileKind,
        size: int,
        **details: Any,
    ) -> bool:
        """Copy a stored file (opened by `opener()`) into the folder; False
        when the store no longer has it (recorded as missing)."""
        try:
            handle = opener()
        except FileNotFoundError:
            self.summary.missing.append(path)
            return False
        self._row(
            self.writer.add_file(self.prefix + path, handle, kind=kind, size_hint=size, **details)
        )
        return True


def _message_write(folder: _Folder, item: ExportedMessage, *, mail_folder: str, width: int) -> None:
    """A mail's files: its original bytes (and stored copies), or its masked
    texts; then its attachments in a folder named like it."""
    message = item.message
    stem = _message_stem(item, width)
    details: dict[str, Any] = {"message_id": message.message_id, "number": item.number}
    if item.original:
        raw = message.raw
        path = folder.name(mail_folder, stem + _raw_suffix(raw))
        if folder.add_stored(
            path,
            partial(blob_open, raw.storage_name),
            kind=FileKind.MESSAGE,
            size=raw.size,
            **details,
        ):
            folder.summary.originals += 1
        for index, copy in enumerate(item.copies, start=1):
            copy_path = folder.name(mail_folder, f"{stem}-copie-{index}{_raw_suffix(copy)}")
            if folder.add_stored(
                copy_path,
                partial(blob_open, copy.storage_name),
                kind=FileKind.MESSAGE,
                size=copy.size,
                copy_of=path,
                **details,
            ):
                folder.summary.originals += 1
    else:
        # Only the number: even a Message-ID can carry an address.
        path = folder.name(mail_folder, stem + ".txt")
        folder.add_bytes(
            path, message_text_file(item).encode(), kind=FileKind.MESSAGE_TEXT, number=item.number
        )
        folder.summary.masked += 1
    attachment_folder = f"{mail_folder}/{stem}" if mail_folder else stem
    for attachment in item.attachments:
        attachment_path = folder.name(
            attachment_folder,
            safe_name(attachment.filename, fallback=f"piece-jointe-{attachment.position}"),
        )
        if folder.add_stored(
            attachment_path,
            partial(blob_open, attachment.storage_name),
            kind=FileKind.ATTACHMENT,
            size=attachment.size,
            message=path,
            filename=attachment.filename,
            content_type=attachment.detected_type or attachment.content_type,
        ):
            folder.summary.attachments += 1
    folder.forget(attachment_folder)


def _document_write(folder: _Folder, document: Document, *, document_folder: str) -> None:
    path = folder.name(
        document_folder, safe_name(document.filename, fallback=f"document-{document.pk}")
    )
    if folder.add_stored(
        path,
        lambda: document.file.open("rb"),
        kind=FileKind.DOCUMENT,
        size=document.size,
        title=document.title,
        document_kind=document.kind,
    ):
        folder.summary.documents += 1


# --- A dossier -------------------------------------------------------------------


def _dossier_header(export: DossierExport, summary: DossierZipSummary) -> dict[str, Any]:
    dossier = export.dossier
    header: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "kind": "dossier",
        "generated_at": export.generated_at.isoformat(),
        "agency": dossier.agency.name,
        "condominium": dossier.condominium.name,
        "dossier": {
            "reference": dossier.reference,
            "title": dossier.title,
            "type": dossier.type,
            "status": dossier.status,
        },
        # "complete": the whole dossier; "requester": what the requester may see.
        "scope": "complete" if export.complete else "requester",
    }
    if export.requested_by:
        header["requested_by"] = export.requested_by
    if summary.missing:
        header["missing"] = summary.missing
    return header


def dossier_pdf_bytes(export: DossierExport) -> bytes:
    pdf: bytes = dossier_pdf_document(export).write_pdf()
    return pdf


def dossier_folder_write(
    writer: ArchiveWriter, export: DossierExport, *, prefix: str = ""
) -> DossierZipSummary:
    """Write a dossier's export under `prefix` of an archive (the root for a
    dossier's ZIP, its folder in an agency's archive), its manifest last."""
    folder = _Folder(writer, prefix)
    folder.add_bytes(
        folder.name("", export_filename(export, ".pdf")),
        dossier_pdf_bytes(export),
        kind=FileKind.PDF,
    )
    folder.name("", MANIFEST_NAME)  # reserved
    width = max(3, len(str(len(export.messages))))
    for item in export.messages:
        _message_write(folder, item, mail_folder=MAIL_FOLDER, width=width)
    for document in export.documents:
        _document_write(folder, document, document_folder=DOCUMENT_FOLDER)
    manifest = io.BytesIO()
    manifest_write(manifest, _dossier_header(export, folder.summary), folder.rows)
    writer.add_bytes(prefix + MANIFEST_NAME, manifest.getvalue(), kind=FileKind.MANIFEST)
    return folder.summary


def _audit(
    *,
    agency_id: int,
    actor: Any,
    object_type: str,
    object_id: str,
    summary: str,
    changes: dict[str, Any],
) -> None:
    """Who exported what. The audit log names exports by their own object
    type (`dossier_export`, `agency_export`) rather than the model's label
    `audit_record` would give, so that they read apart from the dossier's
    own history."""
    with transaction.atomic():
        AuditLog.objects.create(
            agency_id=agency_id,
            actor=actor if getattr(actor, "is_authenticated", False) else None,
            action=AuditAction.DOWNLOADED,
            object_type=object_type,
            object_id=object_id,
            summary=summary[:300],
            changes=changes,
        )


def dossier_pdf_export(*, export: DossierExport, actor: Any) -> bytes:
    """The dossier's PDF for its requester, audit-logged."""
    pdf = dossier_pdf_bytes(export)
    dossier = export.dossier
    _audit(
        agency_id=dossier.agency_id,
        actor=actor,
        object_type=DOSSIER_EXPORT,
        object_id=str(dossier.pk),
        summary=f"Export PDF du dossier {dossier.reference}",
        changes={
            "format": "pdf",
            "scope": "complete" if export.complete else "requester",
            "entries": len(export.entries),
        },
    )
    return pdf


def dossier_zip_export(*, export: DossierExport, actor: Any) -> IO[bytes]:
    """The dossier's ZIP for its requester, written to a temporary file
    (never whole in memory) that the caller streams and closes; audit-logged."""
    handle = tempfile.TemporaryFile(prefix="lanterne-export-")  # noqa: SIM115 — returned open
    try:
        with zipfile.ZipFile(handle, "w", allowZip64=True) as archive:
            writer = ArchiveWriter(archive, record=lambda row: None, moment=export.generated_at)
            summary = dossier_folder_write(writer, export)
        dossier = export.dossier
        _audit(
            agency_id=dossier.agency_id,
            actor=actor,
            object_type=DOSSIER_EXPORT,
            object_id=str(dossier.pk),
            summary=f"Export ZIP du dossier {dossier.reference}",
            changes={
                "format": "zip",
                "scope": "complete" if export.complete else "requester",
                "files": summary.files + 1,
                "originals": summary.originals,
                "masked": summary.masked,
                "attachments": summary.attachments,
                "documents": summary.documents,
                "missing": summary.missing,
            },
        )
    except BaseException:
        handle.close()
        raise
    handle.seek(0)
    return handle


# --- The agency's archive --------------------------------------------------------


@dataclass
class AgencyArchiveSummary:
    condominiums: int = 0
    dossiers: int = 0
    messages: int = 0  # mails as received, copies and unprocessed ones included
    files: int = 0
    bytes: int = 0
    missing: list[str] = field(default_factory=list)


class ArchiveObserver(Protocol):
    """Who follows an archive as it is written (the command's progress line)."""

    def advanced(self, *, stage: str, done: int, total: int) -> None: ...


def _unfiled_batches(agency: Agency) -> Iterator[list[Message]]:
    """The agency's mail in none of its dossiers, by batches."""
    last = 0
    while True:
        batch = list(
            Message.objects.filter(agency=agency, pk__gt=last)
            .filter(Q(dossier__isnull=True) | ~Q(dossier__agency=agency))
            .select_related("raw", "agency")
            .prefetch_related(
                Prefetch("attachments", queryset=Attachment.objects.order_by("position"))
            )
            .order_by("pk")[:_BATCH]
        )
        if not batch:
            return
        yield batch
        last = batch[-1].pk


def _unprocessed_raws(agency: Agency) -> Iterator[RawMessage]:
    """Stored mail that became no message and repeats none: waiting, or in
    quarantine."""
    last = 0
    while True:
        batch = list(
            RawMessage.objects.filter(
                agency=agency, pk__gt=last, message__isnull=True, duplicate_of__isnull=True
            )
            .exclude(storage_name="")
            .order_by("pk")[:_BATCH]
        )
        if not batch:
            return
        yield from batch
        last = batch[-1].pk


def _jsonl(agency: Agency) -> Iterator[bytes]:
    for row in message_export_rows(agency):
        yield (json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n").encode()


def _agency_archive_fill(
    writer: ArchiveWriter,
    *,
    agency: Agency,
    summary: AgencyArchiveSummary,
    observer: ArchiveObserver | None,
) -> None:
    """Every file of the agency's archive but its manifest."""

    def advanced(stage: str, done: int, total: int) -> None:
        if observer is not None:
            observer.advanced(stage=stage, done=done, total=total)

    root = FolderNames()
    for reserved in (MANIFEST_NAME, MESSAGES_JSONL, UNFILED_FOLDER, UNPROCESSED_FOLDER):
        root.unique(reserved)
    writer.add_chunks(MESSAGES_JSONL, _jsonl(agency), kind=FileKind.MESSAGES_JSONL)

    # Condominiums: their own documents (outside any dossier), then their dossiers.
    condominium_folders: dict[int, tuple[str, FolderNames]] = {}
    for condominium in agency.condominiums.order_by("name", "pk"):
        name = root.unique(safe_name(condominium.name, fallback=f"copropriete-{condominium.pk}"))
        names = FolderNames()
        names.unique(DOCUMENT_FOLDER)
        condominium_folders[condominium.pk] = (name, names)
        folder = _Folder(writer, f"{name}/", keep_rows=False)
        documents = Document.objects.filter(condominium=condominium, dossier__isnull=True)
        for document in documents.order_by("uploaded_at", "pk").iterator(chunk_size=_BATCH):
            _document_write(folder, document, document_folder=DOCUMENT_FOLDER)
        summary.missing += [f"{name}/{path}" for path in folder.summary.missing]
        summary.condominiums += 1

    dossiers = dossiers_for_archive(agency)
    total = dossiers.count()
    for done, dossier in enumerate(dossiers.iterator(chunk_size=50), start=1):
        condominium_name, names = condominium_folders[dossier.condominium_id]
        dossier_name = names.unique(safe_name(dossier.reference, fallback=f"dossier-{dossier.pk}"))
        prefix = f"{condominium_name}/{dossier_name}/"
        written = dossier_folder_write(writer, dossier_export_complete(dossier), prefix=prefix)
        summary.dossiers += 1
        summary.messages += written.originals
        summary.missing += [prefix + path for path in written.missing]
        advanced("dossiers", done, total)

    # Mail in no dossier, as received, with its attachments.
    unfiled = _Folder(writer, f"{UNFILED_FOLDER}/", keep_rows=False)
    number = 0
    for batch in _unfiled_batches(agency):
        operator = policy.Viewer.system(agency.pk)
        copies = message_copies(batch)
        for message in batch:
            number += 1
            item = ExportedMessage(
                message=message,
                number=number,
                texts=message_texts_for(operator, message),
                original=policy.may_read_message_original(operator, message),
                attachments=[a for a in message.attachments.all() if not a.is_signature_logo],
                copies=copies.get(message.pk, []),
            )
            _message_write(unfiled, item, mail_folder="", width=6)
            # Its files' names start with its number: unique without being remembered.
            unfiled.forget("")
        advanced("unfiled", number, 0)
    summary.messages += unfiled.summary.originals
    summary.missing += [f"{UNFILED_FOLDER}/{path}" for path in unfiled.summary.missing]

    # Mail stored but never made a message of (in quarantine, or waiting).
    unprocessed = _Folder(writer, f"{UNPROCESSED_FOLDER}/", keep_rows=False)
    for number, raw in enumerate(_unprocessed_raws(agency), start=1):
        path = f"{number:06d}-{raw.state}{_raw_suffix(raw)}"  # unique by its number
        if unprocessed.add_stored(
            path,
            partial(blob_open, raw.storage_name),
            kind=FileKind.MESSAGE,
            size=raw.size,
            state=raw.state,
            error=raw.error[:500],
        ):
            summary.messages += 1
    summary.missing += [f"{UNPROCESSED_FOLDER}/{path}" for path in unprocessed.summary.missing]


def agency_archive_write(
    *, agency: Agency, output: Path, observer: ArchiveObserver | None = None
) -> AgencyArchiveSummary:
    """Write the whole of `agency` to the ZIP file `output`, for a successor
    syndic (see the module's docstring). Written to `output.partial` and
    renamed once complete: an archive found under its name is whole."""
    summary = AgencyArchiveSummary()
    moment = timezone.now()
    partial = output.with_name(output.name + ".partial")
    with tempfile.TemporaryFile(prefix="lanterne-manifest-") as rows_file:

        def record(row: dict[str, Any]) -> None:
            rows_file.write(json.dumps(row, ensure_ascii=False, sort_keys=True).encode() + b"\n")

        def rows() -> Iterator[dict[str, Any]]:
            rows_file.seek(0)
            for line in rows_file:
                yield json.loads(line)

        try:
            with open(partial, "wb") as out:
                with zipfile.ZipFile(out, "w", allowZip64=True) as archive:
                    writer = ArchiveWriter(archive, record=record, moment=moment)
                    _agency_archive_fill(writer, agency=agency, summary=summary, observer=observer)
                    summary.files = writer.files
                    summary.bytes = writer.bytes
                    header: dict[str, Any] = {
                        "format": MANIFEST_FORMAT,
                        "version": MANIFEST_VERSION,
                        "kind": "agency",
                        "generated_at": moment.isoformat(),
                        "agency": agency.name,
                        "scope": "complete",
                        "condominiums": summary.condominiums,
                        "dossiers": summary.dossiers,
                        "messages": summary.messages,
                    }
                    if summary.missing:
                        header["missing"] = summary.missing
                    writer.add_from(
                        MANIFEST_NAME, lambda member: manifest_write(member, header, rows())
                    )
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, output)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(partial)
            raise
    _audit(
        agency_id=agency.pk,
        actor=None,
        object_type=AGENCY_EXPORT,
        object_id=str(agency.pk),
        summary=f"Archive complète du cabinet écrite dans {output.name}",
        changes={
            "dossiers": summary.dossiers,
            "messages": summary.messages,
            "files": summary.files,
            "missing": summary.missing[:100],
        },
    )
    return summary
