"""What a dossier export holds, read through the access policy.

Two audiences:

- `dossier_export_for_viewer`: what one person may see of a dossier, as its
  page shows it — the entries `policy.entries_visible_to` lets through, the
  documents of `policy.documents_visible_to`, each mail's texts as
  `publication` serves them to this person (the personal data of others
  masked), and a mail's original bytes only where
  `policy.may_read_message_original` allows.
- `dossier_export_complete`: the whole dossier, for the agency's own archive
  (`lanterne export-agency`, run by the server's operator for a successor
  syndic): no audience applies to an agency handing over its own records,
  as `lanterne export-messages` writes every message of the agency.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db.models import OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Length
from django.utils import timezone

from lanterne.condominiums.models import Agency, Lot, Person
from lanterne.documents.models import Document
from lanterne.dossiers import policy
from lanterne.dossiers.models import Dossier, StatusChange, TimelineEntry
from lanterne.dossiers.selectors import dossier_for_viewer, entries_with_objects
from lanterne.mail.models import Attachment, Message, RawMessage
from lanterne.mail.publication import MessageTexts, message_texts_for, texts_attach

__all__ = [
    "DossierExport",
    "ExportedMessage",
    "dossier_export_complete",
    "dossier_export_for_viewer",
    "dossiers_for_archive",
    "message_copies",
]


@dataclass(frozen=True)
class ExportedMessage:
    """One mail of the export, numbered in the order of the timeline (the
    number prefixes its files in the ZIP and appears in the PDF)."""

    message: Message
    number: int
    texts: MessageTexts
    # The requester may have the mail as received: its original bytes go in
    # the ZIP. Otherwise only its texts, masked, do.
    original: bool
    attachments: list[Attachment]
    # Other stored copies of the same mail (same Message-ID, other bytes:
    # a second mailbox, the Sent folder), with the originals only.
    copies: list[RawMessage]


@dataclass(frozen=True)
class DossierExport:
    """A dossier as one requester may have it: its header, its timeline
    (oldest first: a history reads from its beginning), its mails and its
    documents."""

    dossier: Dossier
    # Staff of the agency (or the agency's own archive): the page's staff
    # details — audiences, authors, addresses — are shown.
    is_staff: bool
    # The whole dossier (staff, the agency's archive), or what the requester may see.
    complete: bool
    requested_by: str
    entries: list[TimelineEntry]
    messages: list[ExportedMessage]
    documents: list[Document]
    generated_at: dt.datetime

    @property
    def timeline(self) -> list[TimelineRow]:
        """The entries with their mail, as the PDF lists them."""
        mails = {item.message.pk: item for item in self.messages}
        return [
            TimelineRow(entry=entry, mail=mails.get(entry.message_id or 0))
            for entry in self.entries
        ]


@dataclass(frozen=True)
class TimelineRow:
    entry: TimelineEntry
    mail: ExportedMessage | None


def _entries(entries: QuerySet[TimelineEntry]) -> list[TimelineEntry]:
    """Every entry, oldest first, with the objects they point at and their
    mail's raw record (`entries_with_objects`: a query per kind of object)."""
    return list(
        entries_with_objects(entries, joined=("message__raw",)).order_by("occurred_at", "id")
    )


def message_copies(messages: Iterable[Message]) -> dict[int, list[RawMessage]]:
    """The other stored copies of each message, by message id (one query)."""
    copies: dict[int, list[RawMessage]] = defaultdict(list)
    rows = (
        RawMessage.objects.filter(duplicate_of__in=[m.pk for m in messages])
        .exclude(storage_name="")
        .order_by("pk")
    )
    for raw in rows:
        assert raw.duplicate_of_id is not None
        copies[raw.duplicate_of_id].append(raw)
    return copies


def _build(
    *,
    dossier: Dossier,
    entries: list[TimelineEntry],
    messages: list[Message],
    documents: list[Document],
    original: Callable[[Message], bool],
    is_staff: bool,
    complete: bool,
    requested_by: str,
) -> DossierExport:
    with_copies = [m for m in messages if original(m)]
    copies = message_copies(with_copies) if with_copies else {}
    exported = [
        ExportedMessage(
            message=message,
            number=number,
            texts=message.display_texts,  # type: ignore[attr-defined]
            original=original(message),
            attachments=[a for a in message.attachments.all() if not a.is_signature_logo],
            copies=copies.get(message.pk, []) if original(message) else [],
        )
        for number, message in enumerate(messages, start=1)
    ]
    return DossierExport(
        dossier=dossier,
        is_staff=is_staff,
        complete=complete,
        requested_by=requested_by,
        entries=entries,
        messages=exported,
        documents=documents,
        generated_at=timezone.now(),
    )


def _timeline_messages(dossier: Dossier, entries: list[TimelineEntry]) -> list[Message]:
    """The mails of the timeline's entries, once each, in timeline order."""
    seen: set[int] = set()
    messages = []
    for entry in entries:
        entry.dossier = dossier
        message = entry.message
        if message is None or message.pk in seen:
            continue
        message.dossier = dossier
        seen.add(message.pk)
        messages.append(message)
    return messages


def dossier_export_for_viewer(
    viewer: policy.Viewer, dossier_id: int, *, requested_by: str = ""
) -> DossierExport:
    """What `viewer` may see of the dossier, as its page shows it; 404 when
    they may not see the dossier at all (`dossier_for_viewer`)."""
    dossier = dossier_for_viewer(viewer, dossier_id)
    entries = _entries(policy.entries_visible_to(viewer, dossier))
    messages = [
        m for m in _timeline_messages(dossier, entries) if policy.may_read_message(viewer, m)
    ]
    readable = {m.pk for m in messages}
    entries = [e for e in entries if e.message_id is None or e.message_id in readable]
    texts_attach(viewer, messages)
    documents = list(policy.documents_visible_to(viewer, dossier).order_by("uploaded_at", "id"))
    return _build(
        dossier=dossier,
        entries=entries,
        messages=messages,
        documents=documents,
        original=lambda message: policy.may_read_message_original(viewer, message),
        is_staff=policy.may_edit_dossier(viewer, dossier),
        complete=policy.may_edit_dossier(viewer, dossier),
        requested_by=requested_by,
    )


def dossier_export_complete(dossier: Dossier, *, requested_by: str = "") -> DossierExport:
    """The whole dossier for the agency's archive: every entry, every mail
    filed into it (with a timeline entry or not), every document, the mails
    as received. `dossier` comes with its condominium, agency and parties
    (see `dossiers_for_archive`)."""
    entries = _entries(TimelineEntry.objects.filter(dossier=dossier))
    messages = _timeline_messages(dossier, entries)
    listed = {m.pk for m in messages}
    others = (
        Message.objects.filter(dossier=dossier, agency_id=dossier.agency_id)
        .exclude(pk__in=listed)
        .select_related("raw")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("position")))
        .order_by("date", "pk")
    )
    for message in others:
        message.dossier = dossier
        messages.append(message)
    # The server's operator acting for the agency reads the mail as received.
    operator = policy.Viewer.system(dossier.agency_id)
    for message in messages:
        message.display_texts = message_texts_for(operator, message)  # type: ignore[attr-defined]
    documents = list(Document.objects.filter(dossier=dossier).order_by("uploaded_at", "id"))
    return _build(
        dossier=dossier,
        entries=entries,
        messages=messages,
        documents=documents,
        original=lambda message: policy.may_read_message_original(operator, message),
        is_staff=True,
        complete=True,
        requested_by=requested_by,
    )


def dossiers_for_archive(agency: Agency) -> QuerySet[Dossier]:
    """Every dossier of the agency, by condominium, oldest first, with what
    the PDF's header shows (its parties, and since when it is in its status
    for its status line)."""
    last_change = (
        StatusChange.objects.filter(dossier=OuterRef("pk"))
        .order_by("-changed_at", "-id")
        .values("changed_at")[:1]
    )
    return (
        Dossier.objects.filter(agency=agency)
        .annotate(status_since=Subquery(last_change))
        .select_related("condominium", "manager", "agency")
        .prefetch_related(
            Prefetch("party_lots", queryset=Lot.objects.order_by(Length("number"), "number")),
            Prefetch("party_persons", queryset=Person.objects.order_by("last_name", "first_name")),
            "party_companies",
        )
        .order_by("condominium__name", "condominium_id", "opened_on", "pk")
    )
