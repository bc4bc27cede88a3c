"""Mail written in Lanterne and sent from a dossier (issue 5, item 5): staff
write to a contractor, an insurer, a co-owner or the council from the dossier
page, attach documents of the dossier, and the mail leaves through Django's
mail backend (SMTP, or a provider through django-anymail, per settings).

A sent mail goes through the same stages as a received one, so that it is
stored, threaded and shown like any other:

1. **Build** the MIME message once (`_mime_build`). It carries the three
   references of `lanterne.mail.references`: a Message-ID naming the dossier,
   a Reply-To on the dossier's signed plus-address, and the subject tag; a
   reply from the dossier also carries In-Reply-To and References (RFC 5322
   §3.6.4), so that the answer joins the conversation. From is the agency's
   shared mailbox under the staff member's name: replies and bounces come
   back to the agency, not to a person's private inbox.
2. **Store** its exact bytes in the raw store (`services.mail_receive`), then
   parse and thread them (`services.raw_message_process`): the timeline shows
   what was sent, attachments included, from the bytes that left.
3. **File** it into the dossier (method "manual": a person chose the dossier
   by writing from it) and publish it to the audience staff chose
   (`publication.message_publish`: no review, personal data masked for
   non-staff readers, followers told), and record the send in the audit log
   — all in one transaction with step 2.
4. **Send** after the commit (`dossier_mail_deliver`), from the stored bytes,
   and record the outcome in `Message.send_status`: "sent", or "failed" with
   the error, shown in the timeline with a "Renvoyer" action
   (`dossier_mail_resend`). A mail is never lost between the form and the
   backend: it is saved first, and a failure stays visible until resent.

Sending twice by accident (a double click, a form posted again) sends once:
the form's idempotency key is the unique part of the Message-ID, and the
dossier's row is locked while the mail is recorded, so the second request
finds the first one's message and returns it.
"""

from __future__ import annotations

import datetime as dt
import email
import email.message
import email.policy
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.utils import format_datetime, parseaddr
from functools import partial
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage as DjangoEmailMessage
from django.core.mail import get_connection
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from lanterne.audit.models import AuditAction
from lanterne.audit.services import audit_record
from lanterne.condominiums.models import Person, PersonEmail
from lanterne.documents.models import Document
from lanterne.dossiers import policy
from lanterne.dossiers.choices import Audience
from lanterne.dossiers.models import Dossier
from lanterne.dossiers.policy import Viewer

from .choices import Direction, RawState, SendStatus
from .filing import message_file
from .models import FilingMethod, Message
from .publication import message_publish
from .references import (
    ReplyAddressError,
    dossier_message_id,
    dossier_reply_address,
    subject_with_tag,
)
from .services import mail_receive, raw_message_process
from .storage import blob_read

__all__ = [
    "ATTACHMENTS_MAX_BYTES",
    "IDEMPOTENCY_KEY",
    "MAX_RECIPIENTS",
    "DossierContact",
    "ReplyDefaults",
    "address_format",
    "addresses_parse",
    "dossier_contacts",
    "dossier_mail_deliver",
    "dossier_mail_resend",
    "dossier_mail_send",
    "reply_defaults",
    "stored_email",
]

logger = logging.getLogger(__name__)

# The documents attached to one mail, in bytes: base64 makes them a third
# larger, and most receiving servers refuse mail over 20 to 25 MB.
ATTACHMENTS_MAX_BYTES = 15 * 1024 * 1024
MAX_RECIPIENTS = 50
# The form's idempotency key becomes the unique part of the Message-ID
# (`references.dossier_message_id` accepts [a-z0-9-]{1,64}).
IDEMPOTENCY_KEY = re.compile(r"[a-z0-9][a-z0-9-]{15,63}")
# A reply's References keep the most recent identifiers only (RFC 5322
# §3.6.4 allows trimming): enough to thread, bounded in size.
MAX_REFERENCES = 20


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied(_("Vous n'avez pas le droit de faire cela."))


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


# ---------------------------------------------------------------------------
# Recipients


def _segments(text: str) -> list[str]:
    """`text` cut at the commas and semicolons that separate recipients
    (not those inside a quoted name or angle brackets), blank parts left
    out."""
    parts: list[str] = []
    current: list[str] = []
    quoted = bracketed = False
    for char in text:
        if char == '"' and not bracketed:
            quoted = not quoted
        elif char == "<" and not quoted:
            bracketed = True
        elif char == ">" and not quoted:
            bracketed = False
        if char in ",;" and not quoted and not bracketed:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def addresses_parse(text: str | Sequence[str]) -> list[tuple[str, str]]:
    """(name, address) of each recipient in `text` ("Jean Dupont
    <jean@plomberie.fr>, devis@plomberie.fr; …"), or of each item of a
    sequence, lower-cased addresses, each once, in order. Raises
    ValidationError (French) on an address that is not one, and on a line
    break (never part of an address; a header injection attempt)."""
    items = [text] if isinstance(text, str) else list(text)
    found: list[tuple[str, str]] = []
    seen: set[str] = set()
    for item in items:
        if "\r" in item or "\n" in item:
            raise ValidationError(_("Séparez les adresses par des virgules."))
        for segment in _segments(item):
            name, address = parseaddr(segment)
            address = address.strip().lower()
            name = " ".join(name.split())
            try:
                validate_email(address)
            except ValidationError:
                raise ValidationError(
                    _("« %(address)s » n'est pas une adresse e-mail valide.") % {"address": segment}
                ) from None
            if address not in seen:
                seen.add(address)
                found.append((name, address))
    return found


def address_format(name: str, address: str) -> str:
    """ "Name <address>", the name quoted when it must be (a comma in it):
    what `addresses_parse` reads back as the same pair."""
    if not name:
        return address
    local, _at, domain = address.rpartition("@")
    try:
        return str(Address(display_name=name, username=local, domain=domain))
    except (ValueError, IndexError):
        return address


@dataclass(frozen=True)
class DossierContact:
    """An address staff may write to from a dossier, and who it is."""

    address: str
    name: str
    role: str  # French, shown next to the name

    @property
    def label(self) -> str:
        return f"{self.name} — {self.role} <{self.address}>" if self.name else self.address


def dossier_contacts(viewer: Viewer, dossier: Dossier) -> list[DossierContact]:
    """The addresses of the dossier's parties that `viewer` may see
    (`policy.persons_visible_to`: staff see their agency's contact book):
    the party persons, the owners of the party lots, the party companies and
    their contacts. Each address once, persons before companies. Three
    queries (four without the companies prefetched), whatever the number of
    parties."""
    if not policy.may_edit_dossier(viewer, dossier):
        return []
    visible = policy.persons_visible_to(viewer).filter(agency_id=dossier.agency_id)
    emails = PersonEmail.objects.filter(agency_id=dossier.agency_id, person__in=visible)
    groups: list[tuple[Any, str]] = [
        (emails.filter(person__party_to_dossiers=dossier), _("personne concernée")),
        (
            emails.filter(person__ownerships__lot__dossiers=dossier),
            _("copropriétaire d'un lot concerné"),
        ),
        (emails.filter(person__company__dossiers=dossier), ""),
    ]
    contacts: list[DossierContact] = []
    seen: set[str] = set()
    for queryset, role in groups:
        rows = queryset.select_related("person", "person__company").order_by(
            "-is_primary", "person__last_name", "person__first_name", "address"
        )
        for row in rows:
            if row.address in seen:
                continue
            seen.add(row.address)
            person = row.person
            company = person.company.name if person.company is not None else ""
            contacts.append(
                DossierContact(address=row.address, name=person.full_name, role=role or company)
            )
    # The dossier's selector prefetched its companies: no query here then.
    companies = sorted(dossier.party_companies.all(), key=lambda company: company.name)
    for company in companies:
        address = company.email.strip().lower()
        if address and address not in seen:
            seen.add(address)
            contacts.append(
                DossierContact(
                    address=address, name=company.name, role=str(company.get_kind_display())
                )
            )
    return contacts


# ---------------------------------------------------------------------------
# Replying


@dataclass(frozen=True)
class ReplyDefaults:
    """What the compose form starts from when staff answer a mail."""

    recipients: list[tuple[str, str]]
    subject: str
    body: str


_REPLY_PREFIX = re.compile(r"^\s*(re|réf?|tr|fwd?|aw)\s*:", re.IGNORECASE)


def reply_defaults(message: Message) -> ReplyDefaults:
    """The recipients, subject and quoted text of an answer to `message`:
    to its Reply-To or sender for a mail received, to the same recipients
    for one the agency sent (a follow-up); "RE : " before the subject unless
    it is there; the new text of the mail quoted after an attribution line
    (its history is not quoted again)."""
    if message.direction == Direction.OUTBOUND:
        people = [(item.get("name", ""), item.get("address", "")) for item in message.to or []]
    elif message.reply_to:
        people = [(item.get("name", ""), item.get("address", "")) for item in message.reply_to]
    else:
        people = [(message.from_name, message.from_address)]
    recipients = [(name, address.lower()) for name, address in people if address]
    subject = message.subject.strip()
    if not _REPLY_PREFIX.match(subject):
        subject = f"RE : {subject}" if subject else "RE :"
    moment = timezone.localtime(message.date or message.parsed_at)
    author = message.from_name or message.from_address
    attribution = _("Le %(date)s, %(author)s a écrit :") % {
        "date": moment.strftime("%d/%m/%Y %H:%M"),
        "author": author,
    }
    text = (message.new_text or message.text).strip()
    quoted = "\n".join(f"> {line}" if line else ">" for line in text.splitlines())
    return ReplyDefaults(
        recipients=recipients, subject=subject, body=f"\n\n{attribution}\n{quoted}\n"
    )


# ---------------------------------------------------------------------------
# Building and sending


class _ExactMIME(email.message.Message):
    """A stored mail handed to a mail backend: its headers readable like any
    parsed message, and serialised as the exact stored bytes, so that what
    the SMTP backend transmits is what the raw store keeps (Django's SMTP
    backend sends `message().as_bytes(linesep="\\r\\n")`)."""

    exact: bytes = b""

    def as_bytes(self, unixfrom: bool = False, policy: Any = None, linesep: str = "\n") -> bytes:
        if linesep == "\r\n":
            return self.exact
        return self.exact.replace(b"\r\n", linesep.encode("ascii"))


class _StoredEmail(DjangoEmailMessage):
    """Django's EmailMessage for a stored mail: its fields (for backends that
    build their own payload, such as django-anymail's) read from the stored
    bytes, and `message()` giving those very bytes."""

    def __init__(self, data: bytes, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.exact = data

    def message(self) -> email.message.Message:  # type: ignore[override]
        mime = email.message_from_bytes(self.exact, _class=_ExactMIME)
        assert isinstance(mime, _ExactMIME)
        mime.exact = self.exact
        return mime


def stored_email(data: bytes) -> DjangoEmailMessage:
    """A Django EmailMessage that sends the stored bytes `data` as they are."""
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)

    def people(name: str) -> list[str]:
        header = parsed[name]
        return [str(item) for item in header.addresses] if header is not None else []

    body_part = parsed.get_body(preferencelist=("plain",))
    body = body_part.get_content() if body_part is not None else ""
    attachments = []
    for part in parsed.iter_attachments():
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            attachments.append(
                (part.get_filename() or "piece-jointe", payload, part.get_content_type())
            )
    headers = {
        name: " ".join(str(parsed[name]).split())
        for name in ("Message-ID", "Date", "In-Reply-To", "References", "Auto-Submitted")
        if parsed[name] is not None
    }
    senders = people("From")
    return _StoredEmail(
        data,
        subject=str(parsed["Subject"] or ""),
        body=body,
        from_email=senders[0] if senders else None,
        to=people("To"),
        cc=people("Cc"),
        reply_to=people("Reply-To"),
        headers=headers,
        attachments=attachments,
    )


def _sender_name(actor: Any, dossier: Dossier) -> str:
    """The name the mail is signed with: the staff member's (their contact
    in the agency, else their login's), or for mail sent without a login
    (an automatic reminder) the dossier's manager; and the agency's."""
    name = ""
    user = _user(actor)
    if user is not None:
        person = (
            Person.objects.filter(user=user, agency_id=dossier.agency_id)
            .only("first_name", "last_name")
            .first()
        )
        name = (person.full_name if person is not None else "") or user.full_name
    elif dossier.manager_id is not None and dossier.manager is not None:
        name = dossier.manager.full_name
    agency = dossier.agency.name
    return f"{name} ({agency})" if name else agency


def _header_address(name: str, address: str) -> Address:
    local, _at, domain = address.rpartition("@")
    try:
        return Address(display_name=" ".join(name.split()), username=local, domain=domain)
    except (ValueError, IndexError):
        raise ValidationError(
            _("« %(address)s » n'est pas une adresse e-mail valide.") % {"address": address}
        ) from None


def _reply_address(dossier: Dossier) -> str:
    """The dossier's signed reply address, or the shared mailbox when the
    mailbox leaves no room for the token (the Message-ID and subject tag
    still name the dossier)."""
    try:
        return dossier_reply_address(dossier)
    except ReplyAddressError:
        return dossier.agency.shared_mailbox


def _mime_build(
    *,
    dossier: Dossier,
    sender_name: str,
    to: list[tuple[str, str]],
    cc: list[tuple[str, str]],
    subject: str,
    body: str,
    attachments: list[tuple[Document, bytes]],
    message_id: str,
    reply_to: Message | None,
    automatic: bool,
    now: dt.datetime,
) -> bytes:
    """The RFC 5322 bytes of a mail sent from `dossier`, CRLF line ends."""
    mail = email.message.EmailMessage(policy=email.policy.SMTP)
    mail["From"] = _header_address(sender_name, dossier.agency.shared_mailbox)
    mail["To"] = [_header_address(name, address) for name, address in to]
    if cc:
        mail["Cc"] = [_header_address(name, address) for name, address in cc]
    mail["Reply-To"] = _header_address(dossier.agency.name, _reply_address(dossier))
    mail["Subject"] = subject_with_tag(dossier, subject)
    mail["Date"] = format_datetime(timezone.localtime(now))
    mail["Message-ID"] = message_id
    if reply_to is not None:
        # RFC 5322 §3.6.4: In-Reply-To names the parent; References is the
        # parent's References (or its In-Reply-To) followed by the parent.
        ancestors = list(reply_to.references or reply_to.in_reply_to or [])
        chain = [*ancestors, reply_to.message_id][-MAX_REFERENCES:]
        mail["In-Reply-To"] = f"<{reply_to.message_id}>"
        mail["References"] = " ".join(f"<{item}>" for item in chain)
    if automatic:
        # RFC 3834 §5: written by a program, not by a person; responders
        # (out-of-office replies) must not answer it.
        mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(body)
    for document, data in attachments:
        maintype, _slash, subtype = (document.content_type or "").partition("/")
        if not maintype or not subtype or maintype in ("multipart", "message"):
            maintype, subtype = "application", "octet-stream"
        mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=document.filename)
    return mail.as_bytes()


def _describe(message: Message) -> str:
    subject = " ".join(message.subject.split())[:120] or "(sans objet)"
    return f"« {subject} »"


def dossier_mail_send(
    *,
    viewer: Viewer,
    actor: Any,
    dossier: Dossier,
    to: Sequence[str] | str,
    cc: Sequence[str] | str = (),
    subject: str,
    body: str,
    documents: Iterable[Document] = (),
    audience: str,
    reply_to: Message | None = None,
    idempotency_key: str | None = None,
    automatic: bool = False,
) -> Message:
    """Write a mail from `dossier` and send it; return its `Message`.

    - Staff of the dossier's agency only (`policy.may_manage_dossiers`).
    - `to`, `cc`: addresses, bare or "Name <address>"; at least one in `to`.
      `documents` must be documents of this dossier; `reply_to` a mail of this
      dossier (the new mail then answers it: In-Reply-To, References, same
      conversation).
    - The mail is recorded as an outbound `Message` filed into the dossier
      (method "manual") with `audience`, its exact bytes in the raw store, its
      timeline entry, and an audit row, in one transaction; it is not subject
      to review (staff chose its audience by writing it). It is sent after the
      commit (`dossier_mail_deliver`); `send_status` says how that went.
    - `idempotency_key` (the compose form's): the same key sends once; the
      second call returns the first call's message.
    - `automatic`: written by Lanterne, not by a person (a reminder): marked
      `Auto-Submitted` (RFC 3834), hence machine mail, hence internal
      whatever `audience` says.

    Raises ValidationError (French) on bad input, before anything is written."""
    _require(policy.may_manage_dossiers(viewer, dossier.agency_id))
    to_people = addresses_parse(to)
    cc_people = [item for item in addresses_parse(cc) if item not in to_people]
    if not to_people:
        raise ValidationError(_("Indiquez au moins un destinataire."))
    if len(to_people) + len(cc_people) > MAX_RECIPIENTS:
        raise ValidationError(
            _("Pas plus de %(count)s destinataires par courriel.") % {"count": MAX_RECIPIENTS}
        )
    subject = " ".join(subject.split())
    if not subject:
        raise ValidationError(_("Indiquez l'objet du courriel."))
    body = body.replace("\r\n", "\n").rstrip()
    if not body.strip():
        raise ValidationError(_("Le courriel est vide."))
    if audience not in Audience.values:
        raise ValidationError(_("Visibilité inconnue."))
    if automatic:
        # Machine mail is never published (`publication.is_machine_mail`).
        audience = Audience.INTERNAL
    documents = list(documents)
    for document in documents:
        if document.dossier_id != dossier.pk or document.agency_id != dossier.agency_id:
            raise ValidationError(_("Ce document n'appartient pas à ce dossier."))
    if sum(document.size for document in documents) > ATTACHMENTS_MAX_BYTES:
        raise ValidationError(
            _("Les pièces jointes dépassent %(max)s Mo : envoyez-en moins à la fois.")
            % {"max": ATTACHMENTS_MAX_BYTES // (1024 * 1024)}
        )
    if reply_to is not None and (
        reply_to.dossier_id != dossier.pk or reply_to.agency_id != dossier.agency_id
    ):
        raise ValidationError(_("Ce courriel n'appartient pas à ce dossier."))
    if idempotency_key is not None and not IDEMPOTENCY_KEY.fullmatch(idempotency_key):
        raise ValidationError(_("Formulaire expiré : rechargez la page."))

    message_id = dossier_message_id(dossier, unique=idempotency_key)
    try:
        return _dossier_mail_record(
            viewer=viewer,
            actor=actor,
            dossier=dossier,
            to=to_people,
            cc=cc_people,
            subject=subject,
            body=body,
            documents=documents,
            audience=audience,
            reply_to=reply_to,
            message_id=message_id,
            automatic=automatic,
        )
    except IntegrityError:
        # Another request recorded the same key between our check and our
        # insert (the dossier lock makes this rare): that mail is the one.
        existing = Message.objects.filter(
            agency_id=dossier.agency_id, message_id=message_id.strip("<>")
        ).first()
        if existing is None:
            raise
        return existing


@transaction.atomic
def _dossier_mail_record(
    *,
    viewer: Viewer,
    actor: Any,
    dossier: Dossier,
    to: list[tuple[str, str]],
    cc: list[tuple[str, str]],
    subject: str,
    body: str,
    documents: list[Document],
    audience: str,
    reply_to: Message | None,
    message_id: str,
    automatic: bool,
) -> Message:
    """Store, parse, thread and file the mail, audit it, and schedule its
    sending on commit (see `dossier_mail_send`)."""
    # Serialise the mail written from one dossier: a double submission waits
    # here for the first, then finds its message.
    Dossier.objects.select_for_update().filter(pk=dossier.pk).values_list("pk").first()
    existing = Message.objects.filter(
        agency_id=dossier.agency_id, message_id=message_id.strip("<>")
    ).first()
    if existing is not None:
        return existing
    attachments = []
    for document in documents:
        with document.file.open("rb") as handle:
            attachments.append((document, handle.read()))
    now = timezone.now()
    data = _mime_build(
        dossier=dossier,
        sender_name=_sender_name(actor, dossier),
        to=to,
        cc=cc,
        subject=subject,
        body=body,
        attachments=attachments,
        message_id=message_id,
        reply_to=reply_to,
        automatic=automatic,
        now=now,
    )
    agency = dossier.agency
    # The delivery is recorded as a copy of sent mail: what the agency sent,
    # from its shared mailbox, to these recipients.
    received = mail_receive(
        agency=agency,
        data=data,
        is_sent_folder=True,
        envelope_from=agency.shared_mailbox,
        envelope_to=[address for _name, address in (*to, *cc)],
    )
    raw = received.raw
    if raw.state == RawState.REFUSED:
        raise ValidationError(_("Ce courriel est trop volumineux pour être envoyé."))
    message = raw_message_process(raw, data=data)
    if message is None or raw.state != RawState.PARSED:
        # Our own bytes must parse; a failure rolls everything back.
        raise RuntimeError(f"outbound mail {message_id} could not be recorded: {raw.error}")
    # Filed internal, then published to the audience chosen: staff chose it
    # by writing the mail, so it waits for no review; publishing masks the
    # personal data it carries for non-staff readers and tells followers.
    message_file(
        viewer=viewer,
        actor=actor,
        message=message,
        dossier=dossier,
        method=FilingMethod.MANUAL,
        reason=f"Écrit et envoyé depuis le dossier {dossier.reference}.",
        audience=Audience.INTERNAL,
    )
    message.review = ""
    message.send_status = SendStatus.QUEUED
    message.send_error = ""
    message.save(update_fields=["review", "send_status", "send_error"])
    if audience != Audience.INTERNAL:
        message_publish(viewer=viewer, actor=actor, message=message, audience=audience)
    audit_record(
        actor=actor,
        agency_id=dossier.agency_id,
        action=AuditAction.CREATED,
        target=message,
        summary=(
            f"Courriel {_describe(message)} écrit depuis le dossier {dossier.reference} "
            f"pour {', '.join(address for _name, address in to)}"
        ),
        changes={
            "to": [address for _name, address in to],
            "cc": [address for _name, address in cc],
            "documents": [document.pk for document in documents],
            "audience": audience,
            "reply_to": reply_to.pk if reply_to is not None else None,
            "automatic": automatic,
        },
    )
    transaction.on_commit(partial(dossier_mail_deliver, message_id=message.pk))
    return message


def dossier_mail_deliver(*, message_id: int) -> Message:
    """Hand a queued mail to Django's mail backend, from its stored bytes,
    and record the outcome ("sent", or "failed" with the backend's error).

    Runs after the commit that queued it. Only a mail still "queued" is
    sent, and its outcome is written only if it still is: a mail is handed
    to the backend once per queuing. Never raises for a backend failure."""
    message = Message.objects.select_related("raw").get(pk=message_id)
    if message.send_status != SendStatus.QUEUED:
        return message
    try:
        mail = stored_email(blob_read(message.raw.storage_name))
        if not get_connection(fail_silently=False).send_messages([mail]):
            raise RuntimeError("the mail backend sent nothing")
    except Exception as error:  # noqa: BLE001 — any backend failure is recorded, never lost
        logger.warning("Sending mail %s failed: %s", message.pk, error)
        status, failure = SendStatus.FAILED, f"{type(error).__name__}: {error}"[:2000]
    else:
        status, failure = SendStatus.SENT, ""
    with transaction.atomic():
        updated = Message.objects.filter(pk=message.pk, send_status=SendStatus.QUEUED).update(
            send_status=status, send_error=failure
        )
        if updated:
            audit_record(
                actor=None,
                agency_id=message.agency_id,
                action=AuditAction.CHANGED,
                target=message,
                summary=(
                    f"Courriel {_describe(message)} "
                    + ("envoyé" if status == SendStatus.SENT else f"non envoyé : {failure}")
                ),
                changes={"send_status": [SendStatus.QUEUED.value, status.value]},
            )
    message.send_status, message.send_error = status, failure
    return message


@transaction.atomic
def dossier_mail_resend(*, viewer: Viewer, actor: Any, message: Message) -> Message:
    """Send again a mail whose sending failed ("Renvoyer" in the timeline):
    the same stored bytes, the same Message-ID (a recipient who got the
    first attempt after all sees one mail). Queued again, then sent on
    commit; two clicks queue it once."""
    _require(policy.may_manage_dossiers(viewer, message.agency_id))
    if message.direction != Direction.OUTBOUND or not message.send_status:
        raise ValidationError(_("Ce courriel n'a pas été envoyé depuis Lanterne."))
    claimed = Message.objects.filter(pk=message.pk, send_status=SendStatus.FAILED).update(
        send_status=SendStatus.QUEUED, send_error=""
    )
    if not claimed:
        message.refresh_from_db(fields=["send_status", "send_error"])
        return message
    audit_record(
        actor=actor,
        agency_id=message.agency_id,
        action=AuditAction.CHANGED,
        target=message,
        summary=f"Courriel {_describe(message)} renvoyé",
        changes={"send_status": [SendStatus.FAILED.value, SendStatus.QUEUED.value]},
    )
    message.send_status, message.send_error = SendStatus.QUEUED, ""
    transaction.on_commit(partial(dossier_mail_deliver, message_id=message.pk))
    return message
