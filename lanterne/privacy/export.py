"""A person's data export (RGPD art. 15, right of access, and art. 20, right
to portability): everything Lanterne holds about one person of one agency,
as JSON files in a ZIP streamed to the browser.

The export is the same whoever asks — staff of the person's agency, who hand
it over, or the person themself (« Mes données »). It carries the person's
own data unmasked and other persons' data masked (art. 15-4: the copy must
not adversely affect the rights of others): in the texts of the mail they
sent or received, phones, e-mail addresses, IBANs and postal addresses are
masked unless they are the person's own or the agency's; so are the other
recipients' addresses. A mail's HTML version is left out (it cannot be
masked), and its attachments are listed, not copied.

Each agency is its own controller: a login known to two agencies gets one
export per agency, each with only that agency's data.
"""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext as _

from lanterne.audit.models import AuditLog
from lanterne.condominiums.models import CouncilMembership, Ownership, Person
from lanterne.documents.models import Document
from lanterne.dossiers import policy
from lanterne.mail import redaction
from lanterne.mail.models import Message
from lanterne.notifications.models import Follow, Notification, NotificationPreference

__all__ = ["FORMAT_VERSION", "PersonExport", "person_export_build", "person_export_zip"]

# Bumped when the files' structure changes, so that a reader can tell.
FORMAT_VERSION = 1
_CHUNK = 64 * 1024


@dataclass
class PersonExport:
    """The content of one export: JSON-ready data per file, and the documents
    whose files go in the ZIP."""

    person_id: int
    files: dict[str, Any] = field(default_factory=dict)
    documents: list[Document] = field(default_factory=list)
    message_count: int = 0

    @property
    def filename(self) -> str:
        return f"lanterne-donnees-personne-{self.person_id}.zip"


def _when(value: dt.datetime | dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


class _Masker:
    """Masks others' personal data in a text: every span the redaction finds,
    except the person's own values and the agency's addresses."""

    def __init__(self, *, own_keys: frozenset[str], own_addresses: set[str], domains: set[str]):
        self.own_keys = own_keys
        self.own_addresses = own_addresses
        self.domains = frozenset(domains)

    def text(self, value: str) -> str:
        if not value:
            return value
        spans = redaction.personal_data_spans(value, keep_email_domains=self.domains)
        return redaction.masked(value, spans, reveal=self.own_keys)

    def address(self, value: str) -> str:
        address = (value or "").strip().lower()
        domain = address.rpartition("@")[2]
        if address in self.own_addresses or any(
            domain == kept or domain.endswith("." + kept) for kept in self.domains
        ):
            return address
        return _("[adresse e-mail masquée]") if address else ""

    def recipients(self, rows: list[dict[str, str]]) -> list[dict[str, str]]:
        return [
            {
                "name": self.text(row.get("name", "")),
                "address": self.address(row.get("address", "")),
            }
            for row in rows or []
        ]


def _agency_domains(person: Person) -> set[str]:
    agency = person.agency
    domains = {agency.mail_domain.lower()}
    if "@" in agency.shared_mailbox:
        domains.add(agency.shared_mailbox.rsplit("@", 1)[1].lower())
    return {domain for domain in domains if domain}


def _messages_of(person: Person, addresses: set[str]) -> list[Message]:
    """The agency's mail that `person` sent or received (From, To or Cc one
    of their addresses), oldest first."""
    if not addresses:
        return []
    query = Q(from_address__in=addresses)
    for address in addresses:
        query |= Q(to_text__icontains=address) | Q(cc_text__icontains=address)
    candidates = (
        Message.objects.filter(agency_id=person.agency_id)
        .annotate(to_text=Cast("to", TextField()), cc_text=Cast("cc", TextField()))
        .filter(query)
        .select_related("dossier")
        .prefetch_related("attachments")
        .order_by("date", "pk")
    )

    def involves(message: Message) -> bool:
        rows = [*(message.to or []), *(message.cc or [])]
        return message.from_address.lower() in addresses or any(
            (row.get("address") or "").lower() in addresses for row in rows
        )

    # The text match is a prefilter ("ann@x.fr" is in "joann@x.fr"): the
    # addresses themselves decide.
    return [message for message in candidates if involves(message)]


def person_export_build(person: Person) -> PersonExport:
    """Gather what Lanterne holds about `person` (the caller checked
    `policy.may_export_person_data`). A fixed number of queries, whatever
    the amount of data."""
    person = (
        Person.objects.select_related("agency", "company", "user")
        .prefetch_related("emails")
        .get(pk=person.pk)
    )
    export = PersonExport(person_id=person.pk)
    user = person.user
    emails = [email.address.lower() for email in person.emails.all()]
    addresses = set(emails)
    own_keys = redaction.contact_keys(
        emails=emails,
        phones=person.phones or [],
        postal_addresses=[person.postal_address] if person.postal_address else [],
    )
    masker = _Masker(own_keys=own_keys, own_addresses=addresses, domains=_agency_domains(person))

    ownerships = Ownership.objects.filter(person=person).select_related("lot__condominium")
    seats = CouncilMembership.objects.filter(person=person).select_related("condominium")
    export.files["personne.json"] = {
        "format": FORMAT_VERSION,
        "exported_at": timezone.now().isoformat(),
        "agency": person.agency.name,
        "person": {
            "id": person.pk,
            "first_name": person.first_name,
            "last_name": person.last_name,
            "emails": [
                {"address": email.address, "primary": email.is_primary}
                for email in person.emails.all()
            ],
            "phones": list(person.phones or []),
            "postal_address": person.postal_address,
            "company": person.company.name if person.company else None,
            "staff_role": person.staff_role or None,
        },
        "lots": [
            {
                "condominium": o.lot.condominium.name,
                "condominium_address": o.lot.condominium.address,
                "lot": o.lot.number,
                "kind": o.lot.kind,
                "floor": o.lot.floor,
                "building": o.lot.building,
                "staircase": o.lot.staircase,
                "shares": o.lot.shares,
                "owner_since": _when(o.since),
            }
            for o in ownerships
        ],
        "council_seats": [
            {"condominium": seat.condominium.name, "role": seat.role} for seat in seats
        ],
        "account": (
            {
                "email": user.email,
                "full_name": user.full_name,
                "is_active": user.is_active,
                "date_joined": _when(user.date_joined),
                "last_login": _when(user.last_login),
            }
            if user is not None
            else None
        ),
        "invitations": [
            {
                "email": invitation.email,
                "sent_at": _when(invitation.created_at),
                "expires_at": _when(invitation.expires_at),
                "accepted_at": _when(invitation.accepted_at),
            }
            for invitation in person.invitations.order_by("created_at")
        ],
    }

    follows: list[dict[str, Any]] = []
    notifications: list[dict[str, Any]] = []
    frequency = None
    if user is not None:
        follows = [
            {
                "dossier": follow.dossier.reference,
                "following": follow.following,
                "since": _when(follow.created_at),
                "updated_at": _when(follow.updated_at),
            }
            for follow in Follow.objects.filter(
                user=user, dossier__agency_id=person.agency_id
            ).select_related("dossier")
        ]
        preference = NotificationPreference.objects.filter(user=user).first()
        frequency = preference.frequency if preference else "immediate"
        notifications = [
            {
                "dossier": row.dossier.reference,
                "entry_kind": row.entry.kind,
                "delivery": row.delivery,
                "status": row.status,
                "created_at": _when(row.created_at),
                "sent_at": _when(row.sent_at),
            }
            for row in Notification.objects.filter(user=user, dossier__agency_id=person.agency_id)
            .select_related("dossier", "entry")
            .order_by("created_at", "pk")
        ]
    export.files["suivis-et-notifications.json"] = {
        "notification_frequency": frequency,
        "follows": follows,
        "notifications": notifications,
    }

    messages = _messages_of(person, addresses)
    export.message_count = len(messages)
    export.files["courriels.json"] = [
        {
            "id": message.pk,
            "date": _when(message.date),
            "direction": message.direction,
            "dossier": message.dossier.reference if message.dossier else None,
            "from": {
                "name": masker.text(message.from_name),
                "address": masker.address(message.from_address),
            },
            "to": masker.recipients(message.to),
            "cc": masker.recipients(message.cc),
            "subject": masker.text(message.subject),
            "text": masker.text(message.text),
            "attachments": [
                {
                    "filename": attachment.filename,
                    "content_type": attachment.content_type,
                    "size": attachment.size,
                }
                for attachment in message.attachments.all()
                if not attachment.is_signature_logo
            ],
        }
        for message in messages
    ]

    export.documents = list(
        policy.lot_documents_owned_by(person).select_related("lot", "condominium").order_by("pk")
    )
    export.files["documents.json"] = [
        {
            "id": document.pk,
            "file": _document_path(document),
            "condominium": document.condominium.name,
            "lot": document.lot.number if document.lot else None,
            "kind": document.kind,
            "title": document.title,
            "date": _when(document.document_date),
            "valid_until": _when(document.valid_until),
            "uploaded_at": _when(document.uploaded_at),
            "size": document.size,
            "sha256": document.sha256,
        }
        for document in export.documents
    ]

    entries = (
        AuditLog.objects.filter(agency_id=person.agency_id)
        .filter(
            Q(object_type=person._meta.label_lower, object_id=str(person.pk))
            | (Q(actor=user) if user is not None else Q(pk__in=[]))
        )
        .order_by("created_at", "pk")
    )
    export.files["journal.json"] = [
        {
            "date": _when(entry.created_at),
            "action": entry.action,
            "action_label": str(entry.get_action_display()),
            "by_this_person": user is not None and entry.actor_id == user.pk,
            "summary": masker.text(entry.summary),
        }
        for entry in entries
    ]
    return export


def _document_path(document: Document) -> str:
    return f"documents/{document.pk}-{document.filename}"


def _readme(export: PersonExport) -> str:
    return _(
        "Données personnelles détenues par Lanterne (RGPD, articles 15 et 20)\n\n"
        "personne.json : votre fiche (nom, adresses e-mail, téléphones, adresse postale), "
        "vos lots, vos sièges au conseil syndical, votre compte et vos invitations.\n"
        "suivis-et-notifications.json : les dossiers que vous suivez ou ne suivez plus, "
        "votre fréquence de notification et les notifications envoyées.\n"
        "courriels.json : les courriels que vous avez envoyés ou reçus (%(count)d), avec "
        "leur texte. Les coordonnées d'autres personnes y sont masquées.\n"
        "documents.json et documents/ : les documents de vos lots.\n"
        "journal.json : les entrées du journal du cabinet qui vous concernent.\n\n"
        "Dates au format ISO 8601 (UTC). Format %(version)d.\n"
    ) % {"count": export.message_count, "version": FORMAT_VERSION}


class _Sink:
    """A write-only stream the ZIP is written to, emptied as it is sent:
    `zipfile` writes data descriptors when it cannot seek back."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def person_export_zip(export: PersonExport) -> Iterator[bytes]:
    """The ZIP of `export`, in chunks: the JSON files, then each document's
    file read piece by piece — memory stays flat whatever the documents'
    size."""
    sink = _Sink()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_DEFLATED) as archive:  # type: ignore[call-overload]
        archive.writestr("LISEZMOI.txt", _readme(export))
        for name, data in export.files.items():
            archive.writestr(name, json.dumps(data, ensure_ascii=False, indent=2))
            yield sink.take()
        for document in export.documents:
            try:
                source = document.file.open("rb")
            except OSError:
                archive.writestr(
                    _document_path(document) + ".manquant.txt",
                    _("Le fichier de ce document est introuvable."),
                )
                continue
            with source, archive.open(_document_path(document), mode="w") as target:
                while chunk := source.read(_CHUNK):
                    target.write(chunk)
                    if data := sink.take():
                        yield data
            yield sink.take()
    yield sink.take()
