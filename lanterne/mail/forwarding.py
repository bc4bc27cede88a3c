"""Mail that staff forward to the agency's own mailbox, and the original it
carries (issue 4, item 6).

A manager who receives a contractor's mail in a personal mailbox forwards it
to the shared mailbox so that it reaches its dossier. What belongs in the
dossier is the original — its sender, its date, its text, its attachments —
not the forward's wrapper ("TR : …", from the manager, dated today). So the
file stage (`lanterne.mail.autofile`) asks this module two questions:

- Is this message such a forward? (`is_staff_forward`) Its sender is staff of
  the agency (an address on the agency's mail domain, or the address of a
  `Person` with a staff role — looked up only for mail that looks like a
  forward: a "TR : "/"Fwd: " subject or a forward separator, as every mail
  client writes one or the other), and it is addressed only to the agency
  (its mail domain, its shared mailbox with or without a "+detail"), or to
  nobody visible (Bcc). A forward from staff to a contractor is a mail in its
  own right and is filed as such; machine mail is never a forward.
- What are the originals it carries? (`forwarded_originals`) Two shapes:

  - **attached** (message/rfc822, or an Outlook ``.msg`` item): the exact
    bytes of the original, which the parser kept as an attachment
    (`Attachment.is_forwarded_message`) in the blob store;
  - **inline** (Gmail's "---------- Forwarded message ---------" or
    "---------- Message transféré ---------", Thunderbird's
    "-------- Message transféré --------", Apple Mail's "Début du message
    réexpédié :" / "Begin forwarded message:", Outlook's "De : … Envoyé : …
    À : … Objet : …" block): the original is rebuilt as an RFC 5322 message
    from the forwarded header block (`inline_forward`) and the text under it,
    with the wrapper's attachments (an inline forward carries the original's
    files as its own). Its bytes are therefore Lanterne's reconstruction,
    not something received; it says so in an ``X-Lanterne-Rebuilt-From``
    header naming the wrapper, and its Message-ID, on the ``.invalid``
    domain (RFC 2606), is derived from the wrapper's so that rebuilding it
    again gives the same message.

Either way the original then enters the pipeline like any received mail
(`ingest_original`: `mail_receive`, then `raw_message_process`): stored,
parsed, threaded, and filed by the file stage on its own evidence. A
forward that cannot be read — no header block, no sender address, an
attachment the parser refuses — yields no original, and the wrapper is
filed (or waits in triage) as an ordinary message: a broken forward is never
an error that loses the mail.

Nothing here decides a dossier; nothing here raises on what a message
contains.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, getaddresses, parsedate_to_datetime
from zoneinfo import ZoneInfo

from django.conf import settings

from lanterne.condominiums.models import Agency, PersonEmail

from .choices import RawState
from .filing import is_machine_mail
from .models import Attachment, Message
from .parsing import looks_like_outlook_msg
from .storage import blob_read

__all__ = [
    "InlineForward",
    "forwarded_originals",
    "inline_forward",
    "ingest_original",
    "is_agency_address",
    "is_staff_forward",
    "looks_forwarded",
    "original_rebuild",
    "subject_is_forward",
]

logger = logging.getLogger(__name__)

# Prefixes clients put before the subject of a forward: French (TR, TRANS),
# English (Fwd, Fw), German (WG), Spanish (RV), Portuguese (Enc), Dutch
# (Doorst); Thunderbird writes "[Fwd: …]".
_FORWARD_PREFIX = re.compile(r"^\s*\[?\s*(?:fwd?|tr|trans|wg|rv|enc|doorst)\s*:\s*", re.IGNORECASE)
# Separator lines that announce a forwarded message (not a reply's quote).
_FORWARD_SEPARATOR = re.compile(
    r"^\s*-{2,}\s*(?:Forwarded\s+message|Message\s+transf[ée]r[ée]|Mail\s+transf[ée]r[ée]|"
    r"Courriel\s+transf[ée]r[ée]|Weitergeleitete\s+Nachricht|Mensaje\s+reenviado|"
    r"Messaggio\s+inoltrato|Doorgestuurd\s+bericht)\s*-{2,}\s*$"
    r"|^\s*(?:Begin\s+forwarded\s+message|D[ée]but\s+du\s+message\s+(?:r[ée]exp[ée]di[ée]|"
    r"transf[ée]r[ée])|Anfang\s+der\s+weitergeleiteten\s+Nachricht)\s*:\s*$",
    re.IGNORECASE,
)
# Lines that open a quoted original in Outlook: a rule of underscores, or
# "-----Original Message-----" / "-----Message d'origine-----". Only read as
# a forward when the subject says it is one ("TR : …").
_OUTLOOK_OPENER = re.compile(
    r"^\s*(?:_{10,}|-{3,}\s*(?:Original\s+Message|Message\s+d['’]origine|"
    r"Ursprüngliche\s+Nachricht|Mensaje\s+original)\s*-{3,})\s*$",
    re.IGNORECASE,
)
# One field of a forwarded header block: "De : …", "*From:* …" (bold
# rendered as stars), "Envoyé le : …".
_FIELD_LINE = re.compile(r"^\s*\**\s*([^\W\d_][\w .’']{0,20}?)\s*\**\s*:\s*\**\s*(.*)$")
_FIELD_NAMES = {
    "from": ("from", "de", "von", "da", "van"),
    "date": ("date", "sent", "envoye", "envoye le", "gesendet", "datum", "enviado", "fecha"),
    "to": ("to", "a", "pour", "an", "para", "aan"),
    "cc": ("cc", "copie", "copie a", "kopie"),
    "subject": ("subject", "objet", "sujet", "betreff", "asunto", "oggetto", "onderwerp"),
}
_FIELD_OF = {name: key for key, names in _FIELD_NAMES.items() for name in names}
# Lines of a header block scanned at most, and lines after the separator in
# which the block must start.
_BLOCK_MAX_LINES = 20
_BLOCK_START_WITHIN = 3
# An inline forward is looked for in the first lines of the text only: the
# manager's comment is short, and a huge text is not scanned line by line.
_SCAN_MAX_LINES = 400
# The most originals taken from one forward (files attached by the dozen are
# an archive, not a forward of one conversation).
MAX_ORIGINALS = 10
_OUTLOOK_TYPES = ("application/vnd.ms-outlook", "application/x-ole-storage")

_MONTHS = {
    # French
    "janvier": 1,
    "janv": 1,
    "fevrier": 2,
    "fevr": 2,
    "fev": 2,
    "mars": 3,
    "avril": 4,
    "avr": 4,
    "mai": 5,
    "juin": 6,
    "juillet": 7,
    "juil": 7,
    "aout": 8,
    "septembre": 9,
    "sept": 9,
    "octobre": 10,
    "novembre": 11,
    "decembre": 12,
    "dec": 12,
    # English (and the abbreviations both share)
    "january": 1,
    "jan": 1,
    "february": 2,
    "feb": 2,
    "march": 3,
    "mar": 3,
    "april": 4,
    "apr": 4,
    "may": 5,
    "june": 6,
    "jun": 6,
    "july": 7,
    "jul": 7,
    "august": 8,
    "aug": 8,
    "september": 9,
    "sep": 9,
    "october": 10,
    "oct": 10,
    "november": 11,
    "nov": 11,
    "december": 12,
}
_MONTH = "(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_TIME = r"(\d{1,2})\s*[:h]\s*(\d{2})(?:\s*:\s*(\d{2}))?\s*(am|pm)?"
_DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}})(?:er)?\s+{_MONTH}\s+(\d{{4}})\b")
_MONTH_DAY_YEAR = re.compile(rf"\b{_MONTH}\s+(\d{{1,2}}),?\s+(\d{{4}})\b")
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})[/.](\d{1,2})[/.](\d{4})\b")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_TIME_OF_DAY = re.compile(rf"\b{_TIME}\b")
_OFFSET = re.compile(r"(?:utc|gmt)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?|([+-])(\d{2})(\d{2})\b")


@dataclass(frozen=True)
class InlineForward:
    """The original of an inline forward, as its header block and the text
    under it give it."""

    from_name: str
    from_address: str
    date: datetime | None  # None when the block's date could not be read
    subject: str
    to: tuple[tuple[str, str], ...]  # (name, address)
    cc: tuple[tuple[str, str], ...]
    body: str


# ---------------------------------------------------------------------------
# Is it a forward by staff to the agency?


def _domain_of(address: str) -> str:
    return address.rpartition("@")[2].strip().lower().rstrip(".")


def _on_domain(address: str, domain: str) -> bool:
    """`address` is on `domain` or one of its subdomains."""
    own = _domain_of(address)
    return bool(domain) and (own == domain or own.endswith("." + domain))


def is_agency_address(agency: Agency, address: str) -> bool:
    """Whether mail to `address` reaches the agency itself: an address of its
    mail domain, or its shared mailbox (also plus-addressed,
    "gestion+dos.…@…")."""
    address = (address or "").strip().lower()
    if "@" not in address:
        return False
    if _on_domain(address, agency.mail_domain.strip().lower()):
        return True
    shared = (agency.shared_mailbox or "").strip().lower()
    local, _at, domain = address.rpartition("@")
    shared_local, _at, shared_domain = shared.rpartition("@")
    return bool(shared) and domain == shared_domain and local.split("+", 1)[0] == shared_local


def subject_is_forward(subject: str) -> bool:
    """Whether a subject starts like a forward's ("TR : …", "Fwd: …")."""
    return bool(_FORWARD_PREFIX.match(subject or ""))


def _addresses_of(items: object) -> list[str]:
    found: list[str] = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("address"), str):
            found.append(item["address"])
    return found


def looks_forwarded(message: Message) -> bool:
    """Whether `message` looks like a forward at all: a forward's subject
    ("TR : …", "Fwd: …", "[Fwd: …]"), or a forward separator in the first
    lines of its text. Every mail client does one or the other."""
    if subject_is_forward(message.subject):
        return True
    lines = (message.text or "").splitlines()[:_SCAN_MAX_LINES]
    return any(_FORWARD_SEPARATOR.match(line) for line in lines)


def staff_addresses(agency: Agency) -> set[str]:
    """The addresses the agency's staff persons are known by (lower-cased),
    for `is_staff_forward` over a batch of messages (one query)."""
    return {
        address.lower()
        for address in PersonEmail.objects.filter(agency_id=agency.pk)
        .exclude(person__staff_role="")
        .values_list("address", flat=True)
    }


def is_staff_forward(message: Message, agency: Agency, *, staff: set[str] | None = None) -> bool:
    """Whether `message` is mail a member of staff sent to the agency's own
    mailbox — the only mail whose forwarded original is filed in its place.

    Every To and Cc recipient is the agency's (none at all: the mailbox was
    in Bcc), and the sender is staff: an address on the agency's mail
    domain, or — for mail that `looks_forwarded` — an address a staff
    `Person` of the agency is known by (one query, spared to the ordinary
    mail the agency receives; `staff`: those addresses, read beforehand by
    `staff_addresses` for a batch). Machine mail never is."""
    if is_machine_mail(message) or message.agency_id != agency.pk:
        return False
    sender = (message.from_address or "").strip().lower()
    if "@" not in sender:
        return False
    recipients = _addresses_of(message.to) + _addresses_of(message.cc)
    if not all(is_agency_address(agency, address) for address in recipients):
        return False
    if _on_domain(sender, agency.mail_domain.strip().lower()):
        return True
    if not looks_forwarded(message):
        return False
    if staff is not None:
        return sender in staff
    return (
        PersonEmail.objects.filter(agency_id=agency.pk, address__iexact=sender)
        .exclude(person__staff_role="")
        .exists()
    )


# ---------------------------------------------------------------------------
# Inline forwards: the header block and the text under it


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in text if not unicodedata.combining(c))


def _field(line: str) -> tuple[str, str] | None:
    """("from" | "date" | "to" | "cc" | "subject" | "other", value) for a
    header-block line ("other": a field we do not use, such as Apple Mail's
    "Répondre à :"), else None."""
    match = _FIELD_LINE.match(line)
    if match is None:
        return None
    name = " ".join(_fold(match.group(1)).split())
    return _FIELD_OF.get(name, "other"), match.group(2).strip().strip("*").strip()


def _is_from_line(line: str) -> bool:
    found = _field(line)
    return found is not None and found[0] == "from"


def _read_block(lines: list[str], start: int) -> tuple[dict[str, str], int] | None:
    """The header block starting at `lines[start]` (its first field must be
    one of From, Date, Subject — Thunderbird and Apple Mail do not start
    with From): the fields found and the index of the first line after it.
    A line that is not a field continues the previous one (Outlook wraps
    long recipient lists); a blank line ends the block."""
    fields: dict[str, str] = {}
    last: str | None = None
    index = start
    end = min(len(lines), start + _BLOCK_MAX_LINES)
    while index < end:
        line = lines[index]
        if not line.strip():
            break
        found = _field(line)
        if found is not None:
            last = found[0]
            fields.setdefault(last, found[1])
        elif last is not None:
            fields[last] = f"{fields[last]} {line.strip()}"
        index += 1
        if index == start + 1 and last not in ("from", "date", "subject"):
            return None
    if "from" not in fields or not ({"date", "subject"} & fields.keys()):
        return None
    return fields, index


def _mailbox(value: str) -> list[tuple[str, str]]:
    """(name, address) pairs of a header-block value, in the forms clients
    write them: "Jean <jean@x.fr>", "Jean [mailto:jean@x.fr]", "jean@x.fr",
    "Jean <jean@x.fr <mailto:jean@x.fr>>", separated by commas or
    semicolons. Entries without an address are left out."""
    value = re.sub(r"\s*<mailto:[^<>]*>", "", value, flags=re.IGNORECASE)
    value = re.sub(r"\[mailto:([^\]]+)\]", r"<\1>", value, flags=re.IGNORECASE)
    pairs = getaddresses([value.replace(";", ",")])
    found: list[tuple[str, str]] = []
    for name, address in pairs:
        address = address.strip()
        if re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", address):
            found.append((" ".join(name.replace("*", " ").strip().strip("'\"").split()), address))
    return found


def _loose_date(value: str) -> datetime | None:
    """The moment a forwarded header block gives, in the forms clients
    write: RFC 5322 ("Mon, 3 Nov 2026 10:12:00 +0100", Thunderbird), Gmail
    ("lun. 3 nov. 2026 à 10:12", "Mon, Nov 3, 2026 at 10:12 AM"), Outlook
    ("lundi 3 novembre 2026 10:12", "Monday, November 3, 2026 10:12 AM",
    "03/11/2026 10:12"), Apple Mail ("3 novembre 2026 à 10:12:00 UTC+1").
    Without a time zone, the agency's (settings.TIME_ZONE). None when it
    cannot be read."""
    value = " ".join(value.split())
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        parsed = None
    if parsed is not None and parsed.tzinfo is not None:
        return parsed
    text = _fold(value)
    year = month = day = None
    if match := _DAY_MONTH_YEAR.search(text):
        day, month, year = int(match.group(1)), _MONTHS[match.group(2)], int(match.group(3))
    elif match := _MONTH_DAY_YEAR.search(text):
        month, day, year = _MONTHS[match.group(1)], int(match.group(2)), int(match.group(3))
    elif match := _ISO_DATE.search(text):
        year, month, day = int(match.group(1)), int(match.group(2)), int(match.group(3))
    elif match := _NUMERIC_DATE.search(text):
        # Day first: the French (and European) order.
        day, month, year = int(match.group(1)), int(match.group(2)), int(match.group(3))
    if year is None or month is None or day is None:
        return None
    rest = text[match.end() :] if match else text
    hour = minute = second = 0
    if time_match := _TIME_OF_DAY.search(rest):
        hour, minute = int(time_match.group(1)), int(time_match.group(2))
        second = int(time_match.group(3) or 0)
        meridiem = time_match.group(4)
        if meridiem == "pm" and hour < 12:
            hour += 12
        elif meridiem == "am" and hour == 12:
            hour = 0
    zone: timezone | ZoneInfo = ZoneInfo(settings.TIME_ZONE)
    if offset := _OFFSET.search(rest):
        if offset.group(1):
            sign, hours, minutes = offset.group(1), offset.group(2), offset.group(3) or "0"
        else:
            sign, hours, minutes = offset.group(4), offset.group(5), offset.group(6)
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        zone = timezone(-delta if sign == "-" else delta)
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=zone)
    except ValueError:
        return None


def inline_forward(text: str, *, subject: str = "") -> InlineForward | None:
    """The original of an inline forward in `text` (the wrapper's text), or
    None when `text` holds none that can be read.

    The first forwarded message is taken (the one the manager forwarded; it
    may quote older mail, which stays in its text). It is found under an
    explicit forward separator ("---------- Message transféré ---------",
    "Début du message réexpédié :"…), or — when `subject` is a forward's
    ("TR : …") — at an Outlook header block, under a rule of underscores or
    "-----Message d'origine-----" or on its own. The block must give a
    sender address and a date or a subject."""
    lines = (text or "").splitlines()[:_SCAN_MAX_LINES]
    forward_subject = subject_is_forward(subject)
    for index, line in enumerate(lines):
        starts: list[int] = []
        if _FORWARD_SEPARATOR.match(line) or (forward_subject and _OUTLOOK_OPENER.match(line)):
            after = index + 1
            while after < len(lines) and not lines[after].strip():
                after += 1
            if after - index <= _BLOCK_START_WITHIN:
                starts.append(after)
        elif forward_subject and _is_from_line(line):
            starts.append(index)
        for start in starts:
            block = _read_block(lines, start) if start < len(lines) else None
            if block is None:
                continue
            fields, end = block
            senders = _mailbox(fields["from"])
            if not senders:
                return None
            body_lines = (text or "").splitlines()[end:]
            while body_lines and not body_lines[0].strip():
                body_lines.pop(0)
            name, address = senders[0]
            return InlineForward(
                from_name=name,
                from_address=address,
                date=_loose_date(fields.get("date", "")),
                subject=fields.get("subject", "") or _FORWARD_PREFIX.sub("", subject),
                to=tuple(_mailbox(fields.get("to", ""))),
                cc=tuple(_mailbox(fields.get("cc", ""))),
                body="\n".join(body_lines).rstrip() + "\n",
            )
    return None


def _header_text(value: str) -> str:
    """A value safe to put in a header: one line, no control characters."""
    return " ".join("".join(c if c.isprintable() else " " for c in value).split())[:900]


def _header_address(name: str, address: str) -> HeaderAddress | None:
    try:
        return HeaderAddress(display_name=_header_text(name), addr_spec=address)
    except (ValueError, IndexError):
        return None


def original_rebuild(
    forward: InlineForward,
    *,
    wrapper: Message,
    attachments: list[tuple[Attachment, bytes]],
) -> bytes:
    """RFC 5322 bytes for the original of an inline forward: its sender,
    recipients, date (the wrapper's when the block's could not be read: the
    original is at least that old), subject and text, with `attachments`.

    The Message-ID is derived from the wrapper's, on the ``.invalid`` domain
    (RFC 2606): rebuilding the same forward gives the same bytes, hence the
    same stored message, and no id can collide with a real one."""
    mail = EmailMessage(policy=SMTP)
    sender = _header_address(forward.from_name, forward.from_address)
    if sender is None:
        raise ValueError("unusable sender address")
    mail["From"] = sender
    for header, people in (("To", forward.to), ("Cc", forward.cc)):
        addresses = [a for a in (_header_address(n, x) for n, x in people) if a is not None]
        if addresses:
            mail[header] = addresses
    mail["Subject"] = _header_text(forward.subject)
    date = forward.date or wrapper.date
    if date is not None:
        mail["Date"] = format_datetime(date)
    digest = hashlib.sha256(wrapper.message_id.encode("utf-8", "replace")).hexdigest()[:32]
    mail["Message-ID"] = f"<forward.{digest}@lanterne.invalid>"
    mail["X-Lanterne-Rebuilt-From"] = f"<{_header_text(wrapper.message_id)}>"
    mail.set_content(forward.body)
    for attachment, data in attachments:
        maintype, _slash, subtype = (attachment.content_type or "").partition("/")
        if not maintype or not subtype or maintype in ("multipart", "message"):
            maintype, subtype = "application", "octet-stream"
        mail.add_attachment(
            data,
            maintype=maintype,
            subtype=subtype,
            filename=_header_text(attachment.filename) or "piece-jointe",
        )
    return mail.as_bytes()


# ---------------------------------------------------------------------------
# The originals, and taking them in


def _is_attached_original(attachment: Attachment) -> bool:
    if attachment.is_forwarded_message:
        return True
    name = attachment.filename.lower()
    kind = (attachment.detected_type or attachment.content_type or "").lower()
    return name.endswith(".msg") or kind in _OUTLOOK_TYPES


def forwarded_originals(message: Message) -> list[bytes]:
    """The bytes of each original `message` forwards: the attached
    originals (message/rfc822 parts, Outlook items) when there are any,
    else the original rebuilt from an inline forward, else none.

    Reads the message's attachments (one query) and their bytes from the
    blob store; an unreadable blob raises (the caller keeps the wrapper)."""
    attachments = list(message.attachments.order_by("position"))
    attached: list[bytes] = []
    for attachment in attachments:
        if len(attached) >= MAX_ORIGINALS:
            break
        if _is_attached_original(attachment):
            data = blob_read(attachment.storage_name)
            if attachment.is_forwarded_message or looks_like_outlook_msg(data):
                attached.append(data)
    if attached:
        return attached
    forward = inline_forward(message.text, subject=message.subject)
    if forward is None:
        return []
    carried = [
        (attachment, blob_read(attachment.storage_name))
        for attachment in attachments
        if not attachment.is_signature_logo
    ]
    return [original_rebuild(forward, wrapper=message, attachments=carried)]


def ingest_original(*, agency: Agency, data: bytes, forwarded_by: Message) -> Message | None:
    """Take one original into the pipeline like any received mail: its bytes
    stored (once: the raw store is content-addressed), then parsed and
    threaded. Returns its `Message` — the one already known when the same
    original was received before (same Message-ID) — or None when the parser
    refused or quarantined it (staff see it in the quarantine).

    The delivery records the forwarding staff member as envelope sender and
    no source: the bytes came out of another message, not from a mailbox."""
    # Imported here: the pipeline module calls the file stage, which calls
    # this; a module-level import would be circular.
    from .services import mail_receive, raw_message_process

    result = mail_receive(agency=agency, data=data, envelope_from=forwarded_by.from_address)
    raw = result.raw
    if raw.state == RawState.STORED:
        return raw_message_process(raw, data=data)
    if raw.state == RawState.DUPLICATE:
        return raw.duplicate_of
    if raw.state == RawState.PARSED:
        return Message.objects.filter(raw=raw).first()
    return None
