"""The demo agency's mail history: about a hundred messages of the months
before the demo's "today", generated as .eml bytes and ingested through the
real pipeline (`lanterne.mail.importing.mail_import`: store, parse, thread,
automatic filing).

The mail tells the same stories as the dossiers `lanterne.core.demo` builds,
with the same people, companies, dates and documents: a co-owner's first mail
about a stain on her ceiling, the agency's answers sent from the dossier, the
leak-detection report, the insurer's claim numbers, the council's opinions,
quotes with their PDF, out-of-office replies, a bounce, a forward by staff and
a newsletter. Replies quote their history as French mail clients do (Gmail,
Outlook, Orange's webmail, the iPhone, Thunderbird).

Mail "sent from Lanterne" carries the real references of its dossier
(`dossier_message_id`, `dossier_reply_address`, `subject_with_tag`), so the
automatic file stage files the replies — by their Message-ID, their reply
address or a subject tag from a participant — and the rest of their
conversations. The rest (a co-owner writing without any reference, an
insurer quoting only its own claim number, a notary, an advertisement) waits
in the triage inbox, `/courriels/tri/`, with its suggestions.

The generator is deterministic: the same database (dossier ids and
references, stored documents), the same `today`, the same secret key and the
same seed give the same bytes. Outside correspondents write from the
addresses `lanterne.core.demo` gives them; people and companies outside the
directory use reserved `.example` domains (RFC 2606).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import random
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path

from django.utils import timezone

from lanterne.condominiums.models import Agency
from lanterne.core.demo import (
    AGENCY_PHONE,
    COMPANIES,
    DEMO_AGENCY_NAME,
    DEMO_DOSSIERS,
    DEMO_SHARED_MAILBOX,
    FRENCH_MONTHS,
    PERSONS,
    STAFF,
    make_pdf,
    make_png,
)
from lanterne.documents.models import Document
from lanterne.documents.texts import texts_extract_pending
from lanterne.dossiers.models import Dossier
from lanterne.dossiers.policy import Viewer
from lanterne.mail.choices import RawState, Review, SourceKind
from lanterne.mail.importing import mail_import
from lanterne.mail.models import Delivery, Message, RawMessage
from lanterne.mail.publication import message_publish, proposed_audiences
from lanterne.mail.references import (
    ReplyAddressError,
    dossier_message_id,
    dossier_reply_address,
    subject_with_tag,
)

__all__ = [
    "DEMO_MAIL_FOLDER",
    "DEMO_MAIL_SEED",
    "DemoMail",
    "DemoMailSummary",
    "demo_mail_history",
    "demo_mail_load",
    "demo_mail_summary",
    "demo_mail_write",
    "demo_today",
]

DEMO_MAIL_SEED = 1965
# The folder the history is imported from; deliveries record it in their
# label ("historique-demo/20260112-0912-004.eml"), which tells a demo whose
# history was already imported.
DEMO_MAIL_FOLDER = "historique-demo"
# `lanterne.core.demo` opens the facade dossier this many days before its
# "today" (`_DemoBuilder.build_dossiers`): how the "today" of a demo loaded
# earlier is found again (`demo_today`).
FACADE_OPENED_DAYS_AGO = 240

_WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_AGENCY_STREET = "10 rue de la République, 69002 Lyon"


@dataclass(frozen=True)
class DemoMail:
    """One generated message: the name of its .eml file and its bytes."""

    filename: str
    data: bytes


@dataclass(frozen=True)
class _Who:
    name: str
    address: str

    def header(self) -> Address:
        return Address(display_name=self.name, addr_spec=self.address)

    def text(self) -> str:
        return f"{self.name} <{self.address}>" if self.name else self.address


@dataclass(frozen=True)
class _File:
    filename: str
    content_type: str
    data: bytes


@dataclass
class _Mail:
    """A message being written; rendered to bytes once every message is known."""

    when: dt.datetime
    sender: _Who
    to: list[_Who]
    subject: str
    new_text: str  # what the author wrote, signature included
    quoted: str  # the history under it, as the client quotes it ("" for none)
    message_id: str
    style: str
    cc: list[_Who] = field(default_factory=list)
    reply_to: _Who | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    attachments: list[_File] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    html: str | None = None
    raw: bytes | None = None  # hand-written bytes (the bounce)

    @property
    def text(self) -> str:
        return f"{self.new_text}\n\n{self.quoted}" if self.quoted else self.new_text


# --- Dates, in French ------------------------------------------------------------------


def _day_text(day: dt.date) -> str:
    """« jeudi 12 mars »."""
    number = "1er" if day.day == 1 else str(day.day)
    return f"{_WEEKDAYS[day.weekday()]} {number} {FRENCH_MONTHS[day.month - 1]}"


def _long_text(moment: dt.datetime) -> str:
    """« jeudi 12 mars 2026 10:14 » (Outlook's "Envoyé :")."""
    return (
        f"{_WEEKDAYS[moment.weekday()]} {moment.day} {FRENCH_MONTHS[moment.month - 1]} "
        f"{moment.year} {moment:%H:%M}"
    )


def _gmail_text(moment: dt.datetime) -> str:
    """« jeu. 12 mars 2026 à 10:14 » (Gmail's attribution)."""
    weekday = _WEEKDAYS[moment.weekday()][:3]
    return (
        f"{weekday}. {moment.day} {FRENCH_MONTHS[moment.month - 1]} {moment.year} à {moment:%H:%M}"
    )


def _quote_lines(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines())


# --- The generator -----------------------------------------------------------------------


class _MailWriter:
    """Writes the demo's mail, one story at a time, against the loaded demo."""

    def __init__(self, agency: Agency, today: dt.date, seed: int) -> None:
        self.agency = agency
        self.today = today
        # Not for security: a seeded generator, so that the demo is the same every time.
        self.rng = random.Random(seed)  # noqa: S311
        self.tz = timezone.get_current_timezone()
        self.mails: list[_Mail] = []
        dossiers = {d.title: d for d in Dossier.objects.filter(agency=agency)}
        self.dossiers = {key: dossiers[title] for key, title in DEMO_DOSSIERS.items()}
        self.box = _Who(DEMO_AGENCY_NAME, DEMO_SHARED_MAILBOX)

    # Who's who --------------------------------------------------------------------------

    def person(self, key: str) -> _Who:
        spec = PERSONS[key]
        return _Who(f"{spec.first_name} {spec.last_name}".strip(), spec.email)

    def staff(self, key: str) -> _Who:
        first, last, email, _role = STAFF[key]
        return _Who(f"{first} {last}", email)

    def contact(self, company: str) -> _Who:
        """The person the agency writes to at `company`, or its mailbox."""
        spec = COMPANIES[company]
        if spec.contact is not None:
            first, last, email = spec.contact
            return _Who(f"{first} {last}", email)
        return _Who(spec.name, spec.email)

    def mailbox(self, company: str) -> _Who:
        spec = COMPANIES[company]
        return _Who(spec.name, spec.email)

    def ref(self, key: str) -> str:
        return self.dossiers[key].reference

    # Dates ------------------------------------------------------------------------------

    def at(self, days_ago: int, clock: str) -> dt.datetime:
        hour, minute = (int(part) for part in clock.split(":"))
        naive = dt.datetime.combine(self.today - dt.timedelta(days=days_ago), dt.time(hour, minute))
        return timezone.make_aware(naive, self.tz)

    def day(self, days_ago: int) -> str:
        """A working day near `days_ago` (a Saturday becomes the Friday before,
        a Sunday the Monday after), as a mail names an appointment: « jeudi 12 mars »."""
        day = self.today - dt.timedelta(days=days_ago)
        day += dt.timedelta(days={5: -1, 6: 1}.get(day.weekday(), 0))
        return _day_text(day)

    # Identifiers --------------------------------------------------------------------------

    def _token(self, alphabet: str, length: int) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(length))

    def message_id(self, sender: _Who, when: dt.datetime) -> str:
        """A Message-ID as the sender's mail service would write it."""
        domain = sender.address.rpartition("@")[2]
        upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        if domain == "gmail.com":
            alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
            return f"<CA{self._token(alphabet + '+_-', 46)}@mail.gmail.com>"
        if domain in ("outlook.fr", "hotmail.fr") or domain in COMPANIES_ON_365:
            rng = self.rng
            server = f"PA{rng.randint(4, 9)}PR0{rng.randint(1, 9)}MB{rng.randint(1000, 9999)}"
            host = f"{server}.eurprd0{rng.randint(1, 9)}.prod.outlook.com"
            return f"<{server}{self._token(upper, 28)}@{host}>"
        if domain in ("orange.fr", "wanadoo.fr"):
            stamp = int(when.timestamp() * 1000)
            return (
                f"<{self.rng.randint(10**8, 10**9)}.{self.rng.randint(10**4, 10**5)}."
                f"{stamp}@wwinf{self.rng.randint(1, 4)}m{self.rng.randint(10, 40)}>"
            )
        if domain == "icloud.com":
            hexa = "0123456789ABCDEF"
            parts = (self._token(hexa, 8), self._token(hexa, 4), self._token(hexa, 12))
            return f"<{'-'.join(parts)}@icloud.com>"
        return f"<{self._token('0123456789abcdef', 24)}@{domain}>"

    def lanterne_id(self, key: str) -> str:
        unique = base64.b32encode(self.rng.randbytes(10)).decode("ascii").lower()
        return dossier_message_id(self.dossiers[key], unique=unique)

    # Signatures -----------------------------------------------------------------------------

    def signed(self, body: str, sender: _Who) -> str:
        """`body` and the sender's signature, unless the body already ends with
        the sender's name or a mobile signature."""
        last_lines = body.casefold().splitlines()[-3:]
        surname = sender.name.split()[-1].casefold() if sender.name else ""
        if any(surname and surname in line or "envoyé de" in line for line in last_lines):
            return body
        return f"{body}\n\n{self.signature(sender)}"

    def signature(self, sender: _Who) -> str:
        for key, (first, last, email, _role) in STAFF.items():
            if email == sender.address:
                title = (
                    "Assistante de copropriété"
                    if key == "bernard"
                    else "Gestionnaire de copropriété"
                )
                return (
                    f"-- \n{first} {last}\n{title}\n{DEMO_AGENCY_NAME}\n{_AGENCY_STREET}\n"
                    f"Tél. {AGENCY_PHONE}"
                )
        for spec in COMPANIES.values():
            names = {spec.email}
            if spec.contact is not None:
                names.add(spec.contact[2])
            if sender.address in names:
                lines = [sender.name] if sender.name != spec.name else []
                return "\n".join([*lines, spec.name, spec.address, f"Tél. {spec.phone}"])
        return sender.name

    # Writing ------------------------------------------------------------------------------------

    def add(self, mail: _Mail) -> _Mail:
        self.mails.append(mail)
        return mail

    def write(
        self,
        days_ago: int,
        clock: str,
        *,
        sender: _Who,
        subject: str,
        body: str,
        style: str,
        to: Sequence[_Who] | None = None,
        cc: Sequence[_Who] = (),
        attachments: Sequence[_File] = (),
        headers: Sequence[tuple[str, str]] = (),
        signed: bool = True,
    ) -> _Mail:
        """A new mail (not a reply), by default to the agency's shared mailbox."""
        when = self.at(days_ago, clock)
        text = self.signed(body, sender) if signed else body
        return self.add(
            _Mail(
                when=when,
                sender=sender,
                to=list(to) if to is not None else [self.box],
                cc=list(cc),
                subject=subject,
                new_text=text,
                quoted="",
                message_id=self.message_id(sender, when),
                style=style,
                attachments=list(attachments),
                headers=list(headers),
            )
        )

    def send(
        self,
        key: str,
        days_ago: int,
        clock: str,
        *,
        by: str,
        to: Sequence[_Who],
        subject: str,
        body: str,
        cc: Sequence[_Who] = (),
        attachments: Sequence[_File] = (),
    ) -> _Mail:
        """A new mail sent from Lanterne in the dossier `key`: its Message-ID,
        reply address and subject tag name the dossier."""
        sender = self.staff(by)
        mail = _Mail(
            when=self.at(days_ago, clock),
            sender=sender,
            to=list(to),
            cc=list(cc),
            subject=subject_with_tag(self.dossiers[key], subject),
            new_text=f"{body}\n\n{self.signature(sender)}",
            quoted="",
            message_id=self.lanterne_id(key),
            style="lanterne",
            reply_to=self.reply_address(key),
            attachments=list(attachments),
        )
        return self.add(mail)

    def reply_address(self, key: str) -> _Who | None:
        try:
            return _Who(DEMO_AGENCY_NAME, dossier_reply_address(self.dossiers[key]))
        except ReplyAddressError:
            return None

    def reply(
        self,
        parent: _Mail,
        days_ago: int,
        clock: str,
        *,
        body: str,
        sender: _Who | None = None,
        by: str | None = None,
        dossier: str | None = None,
        style: str = "gmail",
        to: Sequence[_Who] | None = None,
        cc: Sequence[_Who] = (),
        attachments: Sequence[_File] = (),
        subject: str | None = None,
    ) -> _Mail:
        """A reply to `parent`, quoting it as the client of `style` does. With
        `by` and `dossier`, the reply is sent from Lanterne in that dossier."""
        when = self.at(days_ago, clock)
        if when <= parent.when:
            raise ValueError(f"a reply must come after its parent: {parent.subject!r}")
        if by is not None:
            sender = self.staff(by)
            style = "lanterne"
        assert sender is not None
        prefix = {"gmail": "Re: ", "iphone": "Re: ", "thunderbird": "Re: "}.get(style, "RE : ")
        subject = subject or prefix + _strip_prefixes(parent.subject)
        if dossier is not None:
            subject = subject_with_tag(self.dossiers[dossier], subject)
        if to is None:
            to = [parent.reply_to or parent.sender]
        message_id = (
            self.lanterne_id(dossier) if dossier is not None else self.message_id(sender, when)
        )
        return self.add(
            _Mail(
                when=when,
                sender=sender,
                to=list(to),
                cc=list(cc),
                subject=subject,
                new_text=self.signed(body, sender),
                quoted=_quote(parent, style),
                message_id=message_id,
                style=style,
                reply_to=self.reply_address(dossier) if dossier is not None else None,
                in_reply_to=parent.message_id,
                references=[*parent.references, parent.message_id][-10:],
                attachments=list(attachments),
            )
        )

    def auto_reply(self, parent: _Mail, minutes: int, *, sender: _Who, body: str) -> _Mail:
        """An out-of-office reply to `parent`, `minutes` after it."""
        when = parent.when + dt.timedelta(minutes=minutes)
        return self.add(
            _Mail(
                when=when,
                sender=sender,
                to=[parent.reply_to or parent.sender],
                subject=f"Réponse automatique : {_strip_prefixes(parent.subject)}",
                new_text=body,
                quoted="",
                message_id=self.message_id(sender, when),
                style="outlook",
                in_reply_to=parent.message_id,
                references=[parent.message_id],
                headers=[("Auto-Submitted", "auto-replied"), ("X-Auto-Response-Suppress", "All")],
            )
        )

    # Attachments ----------------------------------------------------------------------------

    def document(self, filename: str, *, title: str, lines: Sequence[str]) -> _File:
        """The file the demo stored under `filename` (the same bytes as the
        dossier's document), or a PDF of `title` and `lines` when there is none."""
        stored = Document.objects.filter(agency=self.agency, filename=filename).first()
        if stored is not None:
            with stored.file.open("rb") as handle:
                return _File(filename, stored.content_type or "application/pdf", handle.read())
        return _File(filename, "application/pdf", make_pdf(title, lines))

    @staticmethod
    def pdf(filename: str, title: str, lines: Sequence[str]) -> _File:
        return _File(filename, "application/pdf", make_pdf(title, lines))


def _strip_prefixes(subject: str) -> str:
    """`subject` without its reply and forward prefixes (RE :, Re:, TR :)."""
    while True:
        for prefix in ("RE : ", "RE: ", "Re: ", "TR : ", "Fwd: "):
            if subject.startswith(prefix):
                subject = subject[len(prefix) :]
                break
        else:
            return subject


def _quote(parent: _Mail, style: str) -> str:
    """The history under a reply, as the client of `style` writes it."""
    who = parent.sender
    when = parent.when
    if style == "outlook":
        to = "; ".join(item.text() for item in parent.to)
        return (
            "________________________________\n"
            f"De : {who.text()}\nEnvoyé : {_long_text(when)}\nÀ : {to}\n"
            f"Objet : {parent.subject}\n\n{parent.text}"
        )
    if style == "orange":
        to = ", ".join(item.text() for item in parent.to)
        header = (
            f"Message du {when:%d/%m/%y %H:%M}\nDe : {who.text()}\nA : {to}\n"
            f"Objet : {parent.subject}\n\n{parent.text}"
        )
        return _quote_lines(header)
    if style == "iphone":
        day = f"{when.day} {FRENCH_MONTHS[when.month - 1]} {when.year}"
        return _quote_lines(f"Le {day} à {when:%H:%M}, {who.text()} a écrit :\n\n{parent.text}")
    if style == "thunderbird":
        return (
            f"Le {when:%d/%m/%Y} à {when:%H:%M}, {who.name} a écrit :\n{_quote_lines(parent.text)}"
        )
    if style == "lanterne":
        day = f"{when.day} {FRENCH_MONTHS[when.month - 1]} {when.year}"
        return f"Le {day} à {when:%H:%M}, {who.name} a écrit :\n{_quote_lines(parent.text)}"
    return f"Le {_gmail_text(when)}, {who.text()} a écrit :\n{_quote_lines(parent.text)}"


# Companies of the demo whose mail goes through Microsoft 365 (Message-IDs).
COMPANIES_ON_365 = frozenset({"mra-assurances.fr", "expertises-bellecour.fr", "aram-ascenseurs.fr"})


# --- Rendering ---------------------------------------------------------------------------

_MAILERS = {
    "outlook": ("X-Mailer", "Microsoft Outlook 16.0"),
    "thunderbird": ("User-Agent", "Mozilla Thunderbird"),
    "orange": ("X-Mailer", "Orange Mail"),
    "iphone": ("X-Mailer", "iPhone Mail (21D61)"),
    "lanterne": ("X-Mailer", "Lanterne"),
}


def _html(mail: _Mail) -> str:
    """The HTML alternative of a Gmail or Outlook mail."""

    def paragraphs(text: str) -> str:
        return "<br>\n".join(html.escape(line) for line in text.splitlines())

    body = f'<div dir="ltr">{paragraphs(mail.new_text)}</div>'
    if mail.quoted:
        body += (
            '\n<div class="gmail_quote"><blockquote class="gmail_quote" '
            'style="margin:0 0 0 .8ex;border-left:1px #ccc solid;padding-left:1ex">'
            f"{paragraphs(mail.quoted)}</blockquote></div>"
        )
    return f"<html><body>{body}</body></html>\n"


def _render(mail: _Mail, rng: random.Random) -> bytes:
    if mail.raw is not None:
        return mail.raw
    message = EmailMessage(policy=SMTP)
    message["From"] = mail.sender.header()
    message["To"] = [item.header() for item in mail.to]
    if mail.cc:
        message["Cc"] = [item.header() for item in mail.cc]
    if mail.reply_to is not None:
        message["Reply-To"] = mail.reply_to.header()
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(mail.when)
    message["Message-ID"] = mail.message_id
    if mail.in_reply_to:
        message["In-Reply-To"] = mail.in_reply_to
    if mail.references:
        message["References"] = " ".join(mail.references)
    if mail.style in _MAILERS:
        name, value = _MAILERS[mail.style]
        message[name] = value
    for name, value in mail.headers:
        message[name] = value
    # Outlook in France still writes Windows-1252 when the text allows it.
    charset = "utf-8"
    if mail.style == "outlook":
        try:
            mail.text.encode("cp1252")
            charset = "windows-1252"
        except UnicodeEncodeError:
            pass
    message.set_content(mail.text, charset=charset, cte="quoted-printable")
    if mail.html is not None or mail.style in ("gmail", "outlook"):
        message.add_alternative(mail.html or _html(mail), subtype="html", cte="quoted-printable")
    for item in mail.attachments:
        maintype, _slash, subtype = item.content_type.partition("/")
        message.add_attachment(
            item.data, maintype=maintype, subtype=subtype, filename=item.filename
        )
    # The generator draws MIME boundaries at random: fix them.
    for part in message.walk():
        if part.is_multipart():
            part.set_boundary(f"=_lanterne_demo_{rng.getrandbits(64):016x}")
    return message.as_bytes(policy=SMTP)


def _bounce(writer: _MailWriter, original: _Mail, minutes: int, recipient: str) -> _Mail:
    """A delivery status notification (RFC 3464) for `original`, written by hand."""
    when = original.when + dt.timedelta(minutes=minutes)
    relay = "smtp-relay.example.net"
    sender = _Who("Mail Delivery System", f"MAILER-DAEMON@{relay}")
    message_id = writer.message_id(sender, when)
    boundary = f"=_lanterne_demo_{writer.rng.getrandbits(64):016x}"
    date = format_datetime(when)
    lines = [
        "Return-Path: <>",
        f"From: {sender.name} <{sender.address}>",
        f"To: {original.sender.address}",
        "Subject: Undelivered Mail Returned to Sender",
        f"Date: {date}",
        f"Message-ID: {message_id}",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
        "",
        "This is a MIME-encapsulated message.",
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        f"This is the mail system at host {relay}.",
        "",
        "I'm sorry to have to inform you that your message could not",
        "be delivered to one or more recipients.",
        "",
        f"<{recipient}>: host outlook-com.olc.protection.outlook.com said:",
        "    550 5.5.0 Requested action not taken: mailbox unavailable",
        "",
        f"--{boundary}",
        "Content-Type: message/delivery-status",
        "",
        f"Reporting-MTA: dns; {relay}",
        f"Arrival-Date: {format_datetime(original.when)}",
        "",
        f"Final-Recipient: rfc822; {recipient}",
        "Action: failed",
        "Status: 5.1.1",
        "Diagnostic-Code: smtp; 550 5.5.0 Requested action not taken: mailbox unavailable",
        "",
        f"--{boundary}",
        "Content-Type: text/rfc822-headers",
        "",
        f"From: {original.sender.address}",
        f"To: {recipient}",
        f"Date: {format_datetime(original.when)}",
        f"Message-ID: {original.message_id}",
        "",
        f"--{boundary}--",
        "",
    ]
    mail = _Mail(
        when=when,
        sender=sender,
        to=[original.sender],
        subject="Undelivered Mail Returned to Sender",
        new_text="",
        quoted="",
        message_id=message_id,
        style="bounce",
        raw="\r\n".join(lines).encode("ascii"),
    )
    return writer.add(mail)


# --- The stories ----------------------------------------------------------------------------


def _write_history(w: _MailWriter) -> None:
    _water_damage(w)
    _lift(w)
    _facade(w)
    _extraordinary_meeting(w)
    _arrears(w)
    _council_water(w)
    _annual_meeting(w)
    _storm_claim(w)
    _blocked_drain(w)
    _garage_door(w)
    _insurance_tender(w)
    _other_mail(w)


def _water_damage(w: _MailWriter) -> None:
    """Lots 8 and 10 of Les Tilleuls (opened 68 days ago)."""
    lefevre, martin, nguyen = w.person("lefevre"), w.person("martin"), w.person("nguyen")
    vasseur, delorme = w.contact("leak"), w.contact("adjuster")
    photo = w.document(
        "plafond-salle-de-bains-lot-8.png", title="Photo du plafond", lines=["Photo du plafond"]
    )
    if not photo.data.startswith(b"\x89PNG"):
        photo = _File("IMG_2381.png", "image/png", make_png(140, 90, _stain))
    first = w.write(
        68,
        "09:12",
        sender=lefevre,
        subject="Tache d'humidité au plafond de ma salle de bains",
        body=(
            "Bonjour,\n\n"
            "Une tache d'humidité est apparue au plafond de ma salle de bains il y a une semaine "
            "environ et elle s'agrandit de jour en jour ; la peinture commence à cloquer. Je "
            "pense que cela vient de l'appartement du dessus (5e étage, escalier A).\n\n"
            "Je vous joins une photo. Pouvez-vous faire le nécessaire ?\n\n"
            "Merci d'avance,"
        ),
        style="gmail",
        attachments=[_File("IMG_2381.png", photo.content_type, photo.data)],
    )
    answer = w.reply(
        first,
        68,
        "10:05",
        by="bernard",
        dossier="water_damage",
        body=(
            "Bonjour Madame Lefèvre,\n\n"
            "Merci pour votre message et pour la photo. Nous ouvrons un dossier de dégât des "
            "eaux et prenons contact avec l'occupant du lot 10, au-dessus de chez vous, pour "
            "organiser une recherche de fuite.\n\n"
            "Pensez à déclarer le sinistre à votre assureur habitation dès aujourd'hui.\n\n"
            "Bien cordialement,"
        ),
    )
    w.reply(
        answer,
        67,
        "18:40",
        sender=lefevre,
        body=(
            "Bonjour,\n\n"
            "Merci pour votre réactivité. C'est fait, j'ai déclaré le sinistre à Fourvière "
            "Assurances. Je suis joignable au 06 39 98 66 03 pour l'accès à mon appartement.\n\n"
            "Bonne soirée,"
        ),
    )
    access = w.send(
        "water_damage",
        66,
        "11:20",
        by="bernard",
        to=[martin],
        subject="Accès à votre appartement pour une recherche de fuite",
        body=(
            "Bonjour Madame Martin,\n\n"
            "Une infiltration est apparue au plafond de la salle de bains de l'appartement situé "
            "sous le vôtre. Une entreprise spécialisée doit vérifier votre salle de douche. "
            f"Seriez-vous disponible {w.day(62)} dans la matinée ?\n\n"
            "Bien cordialement,"
        ),
    )
    w.reply(
        access,
        66,
        "12:02",
        sender=martin,
        body=f"Bonjour,\n\nOui, je serai là {w.day(62)} toute la matinée.\n\nCordialement,",
        style="iphone",
    )
    mission = w.send(
        "water_damage",
        64,
        "09:18",
        by="fontaine",
        to=[vasseur],
        subject="Ordre de mission : recherche de fuite, lots 8 et 10 — 42 cours Gambetta",
        body=(
            "Bonjour Monsieur Vasseur,\n\n"
            "Je vous confirme la mission de recherche de fuite à la Résidence Les Tilleuls, "
            "42 cours Gambetta, 69007 Lyon : infiltration au plafond de la salle de bains du "
            "lot 8 (4e étage, escalier A), sous la salle de douche du lot 10 (5e étage).\n\n"
            f"L'occupante du lot 10, Mme Martin, sera présente {w.day(62)} matin.\n\n"
            "Cordialement,"
        ),
    )
    w.reply(
        mission,
        64,
        "14:30",
        sender=vasseur,
        style="outlook",
        body=(
            "Bonjour Madame Fontaine,\n\n"
            f"Bien reçu. Notre technicien interviendra {w.day(62)} à 9 h avec caméra thermique "
            "et gaz traceur. Le rapport vous sera adressé sous huit jours.\n\n"
            "Cordialement,"
        ),
    )
    # A new mail to the dossier's reply address, without any other reference.
    report = w.document(
        "rapport-recherche-de-fuite.pdf",
        title="Détect'Eau Rhône — rapport de recherche de fuite",
        lines=["Conclusion : fuite sur le joint d'évacuation du receveur de douche du lot 10."],
    )
    address = w.reply_address("water_damage")
    w.write(
        57,
        "15:10",
        sender=vasseur,
        to=[address or w.box],
        subject="Rapport de recherche de fuite — Résidence Les Tilleuls, lots 8 et 10",
        body=(
            "Bonjour,\n\n"
            "Veuillez trouver ci-joint notre rapport d'intervention. La fuite provient du joint "
            "d'évacuation du receveur de douche du lot 10 (partie privative) ; la colonne d'eaux "
            "usées commune est hors de cause.\n\n"
            "Cordialement,"
        ),
        style="outlook",
        attachments=[report],
    )
    # The first mail to the owner of lot 10 bounces: his address was mistyped.
    typo = _Who(nguyen.name, "thomas.nguyem@outlook.fr")
    wrong = w.send(
        "water_damage",
        56,
        "10:15",
        by="fontaine",
        to=[typo],
        subject="Fuite sur le joint de douche de votre lot 10",
        body=_nguyen_letter(w),
    )
    _bounce(w, wrong, 1, typo.address)
    letter = w.send(
        "water_damage",
        56,
        "10:40",
        by="fontaine",
        to=[nguyen],
        subject="Fuite sur le joint de douche de votre lot 10",
        body=_nguyen_letter(w),
    )
    w.reply(
        letter,
        54,
        "21:47",
        sender=nguyen,
        style="outlook",
        body=(
            "Bonjour,\n\n"
            "Désolé pour le retard, j'étais en déplacement. J'ai contacté Plomberie Saint-Jean "
            "qui doit passer cette semaine changer la bonde et le joint. Ma locataire est "
            "prévenue.\n\n"
            "Bien à vous,"
        ),
    )
    invoice = w.document(
        "facture-plomberie-lot-10.pdf",
        title="Plomberie Saint-Jean — facture",
        lines=["Remplacement de la bonde et du joint du receveur de douche."],
    )
    # A subject tag from a company that takes part in the dossier: certain.
    w.write(
        49,
        "08:40",
        sender=w.contact("plumber"),
        subject=subject_with_tag(
            w.dossiers["water_damage"], "Réparation du joint de douche, lot 10 Les Tilleuls"
        ),
        body=(
            "Bonjour,\n\n"
            "Pour information, nous sommes intervenus chez M. Nguyen (lot 10) : bonde et joint "
            "du receveur de douche remplacés, joint silicone refait. Essai en eau concluant. "
            "Ci-joint la copie de la facture adressée au propriétaire.\n\n"
            "Cordialement,"
        ),
        style="thunderbird",
        attachments=[invoice],
    )
    # The occupant's insurer writes with its own claim number only: triage.
    w.write(
        44,
        "11:05",
        sender=w.mailbox("home_insurer"),
        subject="Sinistre n° FAH-118204 — dégât des eaux — Mme Camille Lefèvre",
        body=(
            "Madame, Monsieur,\n\n"
            "Nous accusons réception de la déclaration de sinistre de notre assurée, Mme Camille "
            "Lefèvre, 42 cours Gambetta, 69007 Lyon. Le montant estimé des dommages dépassant le "
            "seuil de la convention IRSI, nous missionnons le Cabinet Expertises Bellecour.\n\n"
            "Merci de nous communiquer le rapport de recherche de fuite et les coordonnées de "
            "l'assureur du propriétaire du logement à l'origine de la fuite.\n\n"
            "Nous vous prions d'agréer, Madame, Monsieur, nos salutations distinguées.\n\n"
            "Le service Sinistres"
        ),
        style="outlook",
    )
    expertise = w.send(
        "water_damage",
        41,
        "10:00",
        by="fontaine",
        to=[delorme],
        subject="Dégât des eaux lots 8 et 10 — Résidence Les Tilleuls",
        body=(
            "Bonjour Monsieur Delorme,\n\n"
            "Suite à votre mission par Fourvière Assurances (sinistre FAH-118204), je vous "
            "transmets les éléments du dossier : rapport de recherche de fuite et facture de "
            "réparation au lot 10. Je reste à votre disposition pour organiser la réunion "
            "d'expertise.\n\n"
            "Cordialement,"
        ),
        attachments=[report, invoice],
    )
    meeting = w.reply(
        expertise,
        40,
        "16:20",
        sender=delorme,
        style="outlook",
        cc=[lefevre],
        body=(
            "Madame,\n\n"
            f"Je vous propose une réunion d'expertise contradictoire au lot 8 le {w.day(30)} à "
            "16 h, en présence de l'occupante. Je mets Mme Lefèvre en copie.\n\n"
            "Bien cordialement,"
        ),
    )
    w.reply(
        meeting,
        39,
        "08:55",
        sender=lefevre,
        to=[delorme],
        cc=[w.staff("fontaine")],
        body="Bonjour,\n\nC'est noté, je serai présente.\n\nCordialement,",
    )
    provisional = w.document(
        "rapport-expertise-provisoire.pdf",
        title="Cabinet Expertises Bellecour — rapport provisoire",
        lines=["Évaluation provisoire : 2 180,00 € HT."],
    )
    w.reply(
        meeting,
        12,
        "14:30",
        sender=delorme,
        style="outlook",
        to=[w.staff("fontaine")],
        body=(
            "Madame,\n\n"
            "Veuillez trouver ci-joint mon rapport provisoire. L'évaluation des dommages du lot 8 "
            "est de 2 180,00 € HT, sous réserve du devis de l'entreprise choisie par l'occupante. "
            "Le rapport définitif suivra à réception de ce devis.\n\n"
            "Bien cordialement,"
        ),
        attachments=[provisional],
    )
    # The painter's quote, from the co-owner, without any reference: triage.
    w.write(
        6,
        "19:12",
        sender=lefevre,
        subject="Devis peinture plafond salle de bains",
        body=(
            "Bonjour Madame Fontaine,\n\n"
            "Comme convenu, voici le devis de l'entreprise de peinture pour le plafond et les "
            "murs de ma salle de bains (1 960 € HT). Pouvez-vous le transmettre à l'expert ?\n\n"
            "Merci,"
        ),
        style="gmail",
        attachments=[
            w.pdf(
                "Devis Peinture Croix-Rousse.pdf",
                "Peinture Croix-Rousse — devis",
                [
                    "7 rue d'Austerlitz, 69004 Lyon — contact@peinture-croix-rousse.example",
                    "",
                    "Client : Mme Camille Lefèvre, 42 cours Gambetta, 69007 Lyon (lot 8).",
                    "- Dépose et remplacement d'une plaque de plâtre : 380,00 € HT",
                    "- Impression et deux couches de peinture, plafond et murs : 1 580,00 € HT",
                    "Total HT : 1 960,00 € — TVA 10 % : 196,00 € — Total TTC : 2 156,00 €",
                ],
            )
        ],
    )


def _nguyen_letter(w: _MailWriter) -> str:
    return (
        "Bonjour Monsieur Nguyen,\n\n"
        "La recherche de fuite réalisée dans votre appartement (lot 10) a montré une fuite sur le "
        "joint d'évacuation du receveur de douche, qui est une partie privative. Je vous remercie "
        "de bien vouloir la faire réparer sous quinze jours et de déclarer le sinistre à votre "
        "assureur.\n\n"
        "Le rapport de Détect'Eau Rhône est à votre disposition.\n\n"
        "Bien cordialement,"
    )


def _stain(x: int, y: int) -> tuple[int, int, int]:
    distance = ((x - 60) ** 2 + ((y - 40) * 1.3) ** 2) ** 0.5
    if distance < 20:
        return (170, 140, 95)
    return (232, 230, 224)


def _lift(w: _MailWriter) -> None:
    """The lift of staircase A (opened 9 days ago)."""
    mercier, ferrand = w.person("mercier"), w.contact("lift")
    complaint = w.write(
        9,
        "07:52",
        sender=mercier,
        subject="Ascenseur en panne escalier A",
        body=(
            "Bonjour,\n\n"
            "L'ascenseur de l'escalier A est bloqué au 3e étage depuis ce matin, portes fermées. "
            "Plusieurs voisins âgés sont coincés chez eux.\n\n"
            "Merci de faire intervenir le dépanneur au plus vite."
        ),
        style="iphone",
    )
    w.write(
        9,
        "08:05",
        sender=_Who("Isabelle Faure-Morin", "isabelle.faure-morin@famille-faure.example"),
        subject="Ma mère est bloquée au 5e étage",
        body=(
            "Madame, Monsieur,\n\n"
            "Ma mère, Mme Jacqueline Faure, habite au 5e étage de la résidence (42 cours "
            "Gambetta) et ne peut pas descendre les escaliers seule. L'ascenseur est en panne : "
            "combien de temps va durer la réparation ?\n\n"
            "Je vous remercie de me tenir informée.\n\n"
            "Isabelle Faure-Morin\n06 39 98 11 70"
        ),
        style="thunderbird",
        signed=False,
    )
    request = w.send(
        "lift",
        9,
        "08:24",
        by="bernard",
        to=[w.mailbox("lift")],
        cc=[ferrand],
        subject="Demande de dépannage — ascenseur escalier A, 42 cours Gambetta",
        body=(
            "Bonjour,\n\n"
            "L'ascenseur de l'escalier A de la Résidence Les Tilleuls (42 cours Gambetta, "
            "69007 Lyon) est à l'arrêt au 3e étage depuis ce matin. Des personnes à mobilité "
            "réduite habitent aux étages élevés : merci d'intervenir en priorité.\n\n"
            "Cordialement,"
        ),
    )
    w.auto_reply(
        request,
        1,
        sender=ferrand,
        body=(
            "Bonjour,\n\n"
            f"Je suis absente du bureau jusqu'au {w.day(2)} inclus. Pour toute demande de "
            "dépannage, merci d'écrire à depannage@aram-ascenseurs.fr ou d'appeler le "
            "04 65 71 02 90 (24 h/24).\n\n"
            "Nadia Ferrand\nAscenseurs Rhône-Alpes Maintenance"
        ),
    )
    w.reply(
        complaint,
        9,
        "09:10",
        by="bernard",
        dossier="lift",
        body=(
            "Bonjour Monsieur Mercier,\n\n"
            "Merci pour votre signalement. Le dépanneur est prévenu et doit passer dans la "
            "matinée. Nous contactons les occupants des étages élevés qui pourraient avoir besoin "
            "d'aide.\n\n"
            "Bien cordialement,"
        ),
    )
    onsite = w.reply(
        request,
        9,
        "08:47",
        sender=w.mailbox("lift"),
        style="outlook",
        body=(
            "Bonjour,\n\n"
            "Votre demande est enregistrée sous le n° DEP-40721. Un technicien sera sur place "
            "avant 11 h.\n\n"
            "Le service dépannage"
        ),
    )
    bon = w.document(
        "bon-intervention-ascenseur.pdf",
        title="Ascenseurs Rhône-Alpes Maintenance — bon d'intervention",
        lines=["Panne : défaut de la carte de commande de manœuvre."],
    )
    w.reply(
        onsite,
        8,
        "15:30",
        sender=w.mailbox("lift"),
        style="outlook",
        body=(
            "Bonjour,\n\n"
            "Ci-joint le bon d'intervention de notre technicien. La carte électronique de "
            "commande de la manœuvre est hors service ; la pièce est commandée chez le fabricant "
            "(délai annoncé : 8 à 10 jours ouvrés). L'appareil est laissé à l'arrêt, en "
            "sécurité.\n\n"
            "Le service dépannage"
        ),
        attachments=[bon],
    )
    w.write(
        5,
        "18:00",
        sender=w.person("giraud"),
        subject="Ascenseur toujours en panne ?",
        body=(
            "Bonjour,\n\n"
            "L'ascenseur est à l'arrêt depuis bientôt une semaine. A-t-on une date de remise en "
            "service ? C'est la troisième panne cette année, le conseil syndical va finir par "
            "demander des comptes au prestataire.\n\n"
            "Cordialement,"
        ),
        style="thunderbird",
    )
    council = w.send(
        "lift",
        4,
        "09:30",
        by="fontaine",
        to=[w.person("roussel")],
        cc=[w.person("giraud"), w.person("chevalier")],
        subject="Ascenseur : troisième panne de l'année",
        body=(
            "Madame la Présidente,\n\n"
            "L'ascenseur de l'escalier A est en panne pour la troisième fois depuis le début de "
            "l'année (carte de commande, pièce en commande). Le contrat d'entretien garantit une "
            "disponibilité de 98 % par an, avec des pénalités en deçà (article 9).\n\n"
            "Souhaitez-vous que nous appliquions les pénalités et que nous mettions le contrat "
            "en concurrence avant son échéance ?\n\n"
            "Bien cordialement,"
        ),
    )
    w.reply(
        council,
        3,
        "19:10",
        sender=w.person("roussel"),
        style="orange",
        cc=[w.person("giraud"), w.person("chevalier")],
        body=(
            "Bonjour Madame Fontaine,\n\n"
            "Le conseil syndical s'est réuni hier soir. Il demande que les pénalités de "
            "disponibilité soient appliquées et que le contrat d'entretien de l'ascenseur soit "
            "mis en concurrence avant son échéance, avec au moins trois offres.\n\n"
            "Pour le conseil syndical,"
        ),
    )
    w.reply(
        onsite,
        2,
        "12:00",
        sender=ferrand,
        style="outlook",
        body=(
            "Bonjour,\n\n"
            "Le fabricant nous confirme l'expédition de la carte de commande. La remise en "
            "service est prévue en fin de semaine prochaine ; nous vous confirmerons le jour de "
            "l'intervention.\n\n"
            "Cordialement,"
        ),
    )


def _facade(w: _MailWriter) -> None:
    """The facade works of Les Tilleuls (voted 85 days ago)."""
    bertin = w.contact("facade_fl")
    council = [w.person("roussel"), w.person("giraud"), w.person("chevalier")]
    start = w.send(
        "facade",
        23,
        "10:00",
        by="fontaine",
        to=[bertin],
        subject="Ravalement Les Tilleuls : non-opposition obtenue",
        body=(
            "Bonjour Monsieur Bertin,\n\n"
            "La mairie du 7e arrondissement ne s'oppose pas à la déclaration préalable de "
            "travaux. Pouvez-vous nous adresser votre planning prévisionnel, en particulier la "
            "date d'installation de l'échafaudage ?\n\n"
            "Cordialement,"
        ),
    )
    w.reply(
        start,
        21,
        "17:45",
        sender=bertin,
        style="outlook",
        body=(
            "Bonjour Madame Fontaine,\n\n"
            "Bonne nouvelle. Vous trouverez ci-joint notre planning prévisionnel : installation "
            f"de l'échafaudage côté rue à partir du {w.day(-9)}, puis côté cour trois semaines "
            "plus tard. Durée totale estimée : quatre mois.\n\n"
            "Cordialement,"
        ),
        attachments=[
            w.pdf(
                "planning-ravalement-tilleuls.pdf",
                "Façades Lyonnaises — planning prévisionnel",
                [
                    "Chantier : ravalement des façades, 42 cours Gambetta et 3 rue Pasteur.",
                    f"Semaine du {w.day(-9)} : installation de l'échafaudage côté rue.",
                    "Semaines 2 à 6 : hydrogommage, traitement des bétons, reprise des fissures.",
                    "Semaines 4 à 9 : échafaudage côté cour.",
                    "Semaines 7 à 16 : peinture minérale, garde-corps et volets.",
                    "Réception des travaux en présence du conseil syndical.",
                ],
            )
        ],
    )
    meeting = w.send(
        "facade",
        20,
        "09:30",
        by="fontaine",
        to=council,
        subject="Réunion de démarrage du chantier de ravalement",
        body=(
            "Mesdames, Messieurs les membres du conseil syndical,\n\n"
            "Je vous propose une réunion de démarrage du chantier avec Façades Lyonnaises "
            f"le {w.day(-12)} à 18 h, dans le hall A. Merci de me dire si vous êtes "
            "disponibles.\n\n"
            "Bien cordialement,"
        ),
    )
    w.reply(
        meeting,
        19,
        "21:05",
        sender=council[0],
        style="orange",
        body="Bonsoir,\n\nJe serai présente. Merci pour l'organisation.\n\nBien à vous,",
    )
    w.reply(
        meeting,
        19,
        "22:30",
        sender=council[2],
        style="orange",
        body=(
            "Bonsoir Madame Fontaine,\n\n"
            "Je serai là également. Pourra-t-on aborder la question des jardinières sur les "
            "balcons pendant les travaux ?\n\n"
            "Odile Chevalier"
        ),
    )
    w.write(
        15,
        "11:12",
        sender=w.person("benali"),
        subject="Échafaudage et balcon",
        body=(
            "Bonjour,\n\n"
            "J'ai entendu dire que l'échafaudage allait être installé bientôt. Dois-je vider mon "
            "balcon (lot 6, 2e étage) et démonter mon store banne ? Et à partir de quand ?\n\n"
            "Merci,"
        ),
        style="gmail",
    )
    for key, minute in (("perrin", "30"), ("dubois", "31"), ("lambert", "32")):
        notice = w.send(
            "facade",
            14,
            f"08:{minute}",
            by="bernard",
            to=[w.person(key)],
            subject="Information : installation de l'échafaudage",
            body=(
                "Madame, Monsieur,\n\n"
                f"L'échafaudage de la façade sur rue sera installé à partir du {w.day(-9)}. Merci "
                "de libérer vos balcons et rebords de fenêtre côté rue (jardinières, stores, "
                "paraboles) avant cette date. Un avis est affiché dans les halls A et B.\n\n"
                "Bien cordialement,"
            ),
        )
        if key == "perrin":
            w.reply(
                notice,
                13,
                "19:20",
                sender=w.person("perrin"),
                body=(
                    "Bonjour,\n\n"
                    "Merci pour l'information. Les ouvriers devront-ils passer par mon "
                    "appartement ? J'ai un chat, je préfère être prévenue la veille.\n\n"
                    "Cordialement,"
                ),
            )
        if key == "dubois":
            w.reply(
                notice,
                13,
                "20:02",
                sender=w.person("dubois"),
                style="iphone",
                body="Bien reçu, je démonte la parabole ce week-end.\n\nEnvoyé de mon iPhone",
            )
    w.write(
        10,
        "08:15",
        sender=bertin,
        subject="Attestation d'assurance décennale",
        body=(
            "Bonjour,\n\n"
            "Veuillez trouver ci-jointe notre attestation d'assurance décennale pour l'année en "
            "cours, à joindre à vos dossiers de chantier.\n\n"
            "Cordialement,"
        ),
        style="outlook",
        attachments=[
            w.pdf(
                "attestation-decennale-facades-lyonnaises.pdf",
                "Attestation d'assurance — responsabilité civile décennale",
                [
                    "Assuré : Façades Lyonnaises, 210 route de Vienne, 69008 Lyon.",
                    "Activités garanties : ravalement, peinture, traitement des bétons.",
                    f"Période de validité : du 1er janvier au 31 décembre {w.today.year}.",
                ],
            )
        ],
    )


def _extraordinary_meeting(w: _MailWriter) -> None:
    """The extraordinary general meeting of Les Tilleuls (held 85 days ago)."""
    convocation = w.document(
        "convocation-age.pdf",
        title="Convocation à l'assemblée générale extraordinaire",
        lines=["Ordre du jour : ravalement des façades."],
    )
    meeting_day = w.day(85)
    sent: dict[str, _Mail] = {}
    for key, minute in (("fontanel", "10"), ("robin_isabelle", "11"), ("blanc", "12")):
        sent[key] = w.send(
            "extraordinary_meeting",
            120,
            f"10:{minute}",
            by="bernard",
            to=[w.person(key)],
            subject="Convocation à l'assemblée générale extraordinaire",
            body=(
                "Madame, Monsieur,\n\n"
                "Vous trouverez ci-jointe la convocation à l'assemblée générale extraordinaire "
                f"de la Résidence Les Tilleuls, le {meeting_day} à 18 h 30, maison des "
                "associations du 7e arrondissement. Les devis et le tableau comparatif sont "
                "consultables sur l'extranet.\n\n"
                "Si vous ne pouvez pas être présent, vous pouvez donner pouvoir à la personne "
                "de votre choix.\n\n"
                "Bien cordialement,"
            ),
            attachments=[convocation],
        )
    w.reply(
        sent["fontanel"],
        112,
        "09:40",
        sender=w.person("fontanel"),
        style="orange",
        body=(
            "Bonjour,\n\n"
            "Je ne pourrai pas être présent. Vous trouverez ci-joint mon pouvoir au nom de "
            "Mme Roussel.\n\n"
            "Cordialement,"
        ),
        attachments=[
            w.pdf(
                "pouvoir-fontanel.pdf",
                "Pouvoir — assemblée générale extraordinaire",
                [
                    "Je soussigné Pierre Fontanel, copropriétaire du lot 15,",
                    "donne pouvoir à Mme Marie-Hélène Roussel de me représenter à l'assemblée "
                    f"générale extraordinaire du {meeting_day}.",
                    "Bon pour pouvoir. P. Fontanel",
                ],
            )
        ],
    )
    question = w.reply(
        sent["robin_isabelle"],
        105,
        "18:22",
        sender=w.person("robin_isabelle"),
        body=(
            "Bonjour,\n\n"
            "Mon mari et moi nous interrogeons sur le financement : les quatre appels de fonds "
            "seront-ils calculés sur les tantièmes généraux ? Peut-on payer en une seule "
            "fois ?\n\n"
            "Merci,"
        ),
    )
    w.reply(
        question,
        104,
        "10:00",
        by="fontaine",
        dossier="extraordinary_meeting",
        body=(
            "Bonjour Madame Robin,\n\n"
            "Oui, les appels de fonds seront répartis selon les tantièmes généraux (charges "
            "communes générales). Vous pourrez régler la totalité dès le premier appel si vous "
            "le souhaitez.\n\n"
            "Bien cordialement,"
        ),
    )
    # The tag copied into a new mail by a co-owner who is no party to the
    # dossier: the file stage only suggests it.
    w.write(
        88,
        "16:05",
        sender=w.person("blanc"),
        subject=f"Pouvoir pour l'AG de jeudi [{w.ref('extraordinary_meeting')}]",
        body=(
            "Bonjour,\n\n"
            "Je serai en déplacement le jour de l'assemblée. Je donne pouvoir à M. Giraud, "
            "formulaire signé ci-joint.\n\n"
            "Nicolas Blanc, lot 16"
        ),
        style="iphone",
        signed=False,
        attachments=[
            w.pdf(
                "pouvoir-blanc.pdf",
                "Pouvoir — assemblée générale extraordinaire",
                [
                    "Je soussigné Nicolas Blanc, copropriétaire du lot 16,",
                    f"donne pouvoir à M. Bernard Giraud pour l'assemblée du {meeting_day}.",
                ],
            )
        ],
    )


def _arrears(w: _MailWriter) -> None:
    """The unpaid charges of lot 12 (opened 120 days ago; internal)."""
    gauthier = w.person("gauthier")
    reminder = w.send(
        "arrears",
        75,
        "09:00",
        by="bernard",
        to=[gauthier],
        subject="Votre compte de copropriétaire — lot 12",
        body=(
            "Monsieur,\n\n"
            "Malgré notre mise en demeure, votre compte présente toujours un solde débiteur de "
            "2 846,30 €. Pouvez-vous nous appeler pour convenir d'une solution ?\n\n"
            "Cordialement,"
        ),
    )
    w.reply(
        reminder,
        74,
        "22:14",
        sender=gauthier,
        style="outlook",
        body=(
            "Bonjour,\n\n"
            "Je traverse une période difficile depuis la perte de mon emploi. Je viens de faire "
            "un virement de 500 € et je souhaiterais un échéancier pour le reste, si c'est "
            "possible.\n\n"
            "Merci de votre compréhension,"
        ),
    )
    schedule = w.document(
        "echeancier-lot-12.pdf",
        title="Échéancier de paiement — lot 12",
        lines=["Solde restant dû : 2 346,30 €."],
    )
    proposal = w.send(
        "arrears",
        58,
        "11:00",
        by="fontaine",
        to=[gauthier],
        subject="Échéancier de paiement",
        body=(
            "Monsieur,\n\n"
            "Nous vous accordons un échéancier de huit mensualités de 293,29 €, en plus des "
            "appels de fonds courants. Merci de nous retourner le document ci-joint signé. La "
            "procédure est suspendue tant que l'échéancier est respecté.\n\n"
            "Cordialement,"
        ),
        attachments=[schedule],
    )
    w.reply(
        proposal,
        57,
        "19:30",
        sender=gauthier,
        style="outlook",
        body="Bonjour,\n\nVoici l'échéancier signé. Merci encore.\n\nCordialement,",
        attachments=[_File("echeancier-signe.pdf", schedule.content_type, schedule.data)],
    )
    address = w.reply_address("arrears")
    w.write(
        29,
        "08:50",
        sender=gauthier,
        to=[address or w.box],
        subject="Virement mensualité 2",
        body=(
            "Bonjour,\n\n"
            "Je vous informe que le virement de la deuxième mensualité (293,29 €) est parti ce "
            "matin.\n\n"
            "Cordialement,"
        ),
        style="outlook",
    )


def _council_water(w: _MailWriter) -> None:
    """The council's question on the water bill (opened 48 days ago; council)."""
    roussel, chevalier = w.person("roussel"), w.person("chevalier")
    question = w.write(
        48,
        "08:31",
        sender=roussel,
        subject="Facture d'eau : hausse anormale ?",
        body=(
            "Bonjour Madame Fontaine,\n\n"
            "En examinant les comptes avec le conseil syndical, nous constatons que la facture "
            "d'eau du dernier semestre est en hausse de 38 % par rapport à l'an dernier, sans "
            "raison apparente. Le conseil demande une explication et un contrôle des "
            "compteurs.\n\n"
            "Bien cordialement,\n\n"
            "Marie-Hélène Roussel\nPrésidente du conseil syndical"
        ),
        style="orange",
        signed=False,
    )
    w.reply(
        question,
        48,
        "11:20",
        by="fontaine",
        dossier="council_water",
        body=(
            "Madame la Présidente,\n\n"
            "Merci pour votre vigilance. Nous comparons les relevés du compteur général sur "
            "trois ans et revenons vers le conseil syndical dès que possible.\n\n"
            "Bien cordialement,"
        ),
    )
    # A co-owner's mail, forwarded by the assistant to the shared mailbox
    # with the dossier's tag: the original is filed in its place.
    original_when = w.at(47, "18:12")
    w.write(
        46,
        "09:02",
        sender=w.staff("bernard"),
        subject=subject_with_tag(w.dossiers["council_water"], "TR : Compteur d'eau de la cour"),
        body=(
            "Pour le dossier de la consommation d'eau.\n\n"
            "Sophie\n\n"
            "-----Message d'origine-----\n"
            f"De : {chevalier.text()}\n"
            f"Envoyé : {_long_text(original_when)}\n"
            f"À : {w.staff('bernard').text()}\n"
            "Objet : Compteur d'eau de la cour\n\n"
            "Bonsoir Sophie,\n\n"
            "En passant dans la cour ce soir, j'ai remarqué que le sol est détrempé près du "
            "regard du compteur général, alors qu'il n'a pas plu depuis dix jours. Cela a "
            "peut-être un rapport avec la facture d'eau dont parlait Mme Roussel.\n\n"
            "Bonne soirée,\nOdile Chevalier"
        ),
        style="outlook",
        signed=False,
    )
    control = w.send(
        "council_water",
        46,
        "09:05",
        by="fontaine",
        to=[w.contact("leak")],
        subject="Contrôle du réseau d'eau enterré — Résidence Les Tilleuls",
        body=(
            "Bonjour Monsieur Vasseur,\n\n"
            "La consommation du compteur général de la Résidence Les Tilleuls augmente depuis "
            "quatre mois, y compris la nuit, et le sol est détrempé près du regard du compteur. "
            "Pouvez-vous contrôler le réseau enterré entre le compteur et le bâtiment sur "
            "cour ?\n\n"
            "Cordialement,"
        ),
    )
    w.reply(
        control,
        45,
        "16:00",
        sender=w.contact("leak"),
        style="outlook",
        body=(
            "Bonjour,\n\n"
            "Nous pouvons intervenir dans trois semaines avec un corrélateur acoustique ; je "
            "vous confirme la date dès que possible.\n\n"
            "Cordialement,"
        ),
    )
    w.write(
        24,
        "17:30",
        sender=w.contact("plumber"),
        subject=subject_with_tag(
            w.dossiers["council_water"], "Réparation canalisation enterrée Les Tilleuls"
        ),
        body=(
            "Bonjour,\n\n"
            "La fuite localisée hier par Détect'Eau Rhône sur la canalisation enterrée entre le "
            "compteur général et le bâtiment sur cour est réparée : 2 m de canalisation PEHD "
            "remplacés, tranchée remblayée. La facture suit.\n\n"
            "Cordialement,"
        ),
        style="thunderbird",
        attachments=[
            w.document(
                "facture-canalisation-enterree.pdf",
                title="Plomberie Saint-Jean — facture",
                lines=["Remplacement de 2 m de canalisation PEHD et raccords."],
            )
        ],
    )
    answer = w.send(
        "council_water",
        22,
        "10:10",
        by="fontaine",
        to=[roussel],
        cc=[w.person("giraud"), chevalier],
        subject="Réponse à la question du conseil syndical sur la consommation d'eau",
        body=(
            "Madame la Présidente,\n\n"
            "La hausse venait d'une fuite sur la canalisation enterrée entre le compteur général "
            "et le bâtiment sur cour. Elle a été trouvée par Détect'Eau Rhône et réparée le jour "
            "même par Plomberie Saint-Jean. Nous avons demandé un dégrèvement au service de "
            "l'eau.\n\n"
            "Bien cordialement,"
        ),
    )
    w.reply(
        answer,
        20,
        "20:05",
        sender=roussel,
        style="orange",
        cc=[w.person("giraud"), chevalier],
        body=(
            "Bonsoir,\n\n"
            "Le conseil syndical remercie le cabinet pour sa réactivité et demande un relevé "
            "mensuel du compteur général pendant six mois, pour s'assurer que la consommation "
            "revient à la normale.\n\n"
            "Pour le conseil syndical,\nMarie-Hélène Roussel"
        ),
    )


def _annual_meeting(w: _MailWriter) -> None:
    """The annual general meeting of Les Tilleuls (being prepared)."""
    call = w.send(
        "annual_meeting",
        30,
        "09:00",
        by="bernard",
        to=[w.person("mercier")],
        subject="Assemblée générale annuelle : questions à inscrire à l'ordre du jour",
        body=(
            "Madame, Monsieur,\n\n"
            "L'assemblée générale annuelle de la Résidence Les Tilleuls se prépare. Si vous "
            "souhaitez inscrire une question à l'ordre du jour, merci de nous l'adresser avant "
            f"le {w.day(-10)}.\n\n"
            "Bien cordialement,"
        ),
    )
    w.reply(
        call,
        27,
        "18:45",
        sender=w.person("mercier"),
        body=(
            "Bonjour,\n\n"
            "Je souhaite inscrire la question suivante : installation de bornes de recharge "
            "pour véhicules électriques dans le parking (droit à la prise).\n\n"
            "Cordialement,\nAntoine Mercier (lot 5)"
        ),
    )
    w.write(
        16,
        "10:30",
        sender=w.person("lambert"),
        subject="Question pour l'AG : local vélos",
        body=(
            "Bonjour,\n\n"
            "Serait-il possible d'ajouter à l'ordre du jour de la prochaine assemblée "
            "l'aménagement d'un local vélos dans l'ancienne loge ? Plusieurs voisins sont "
            "intéressés.\n\n"
            "Merci,"
        ),
        style="gmail",
    )
    date = w.send(
        "annual_meeting",
        15,
        "09:40",
        by="fontaine",
        to=[w.person("roussel")],
        subject="Date de l'assemblée générale annuelle",
        body=(
            "Madame la Présidente,\n\n"
            "Pour l'assemblée générale annuelle, la maison des associations nous propose le "
            f"{w.day(-30)} ou le {w.day(-33)} à 18 h 30. Quelle date le conseil syndical "
            "préfère-t-il ?\n\n"
            "Bien cordialement,"
        ),
    )
    w.reply(
        date,
        14,
        "21:00",
        sender=w.person("roussel"),
        style="orange",
        body=(
            f"Bonsoir,\n\nLe conseil préfère le {w.day(-30)}. Merci de confirmer la salle.\n\n"
            "Bien à vous,\nM.-H. Roussel"
        ),
    )
    w.write(
        6,
        "11:00",
        sender=w.person("sci_fournil"),
        subject="Changement de gérant de la SCI Fournil Gambetta",
        body=(
            "Madame, Monsieur,\n\n"
            "Nous vous informons que M. Alain Sarrazin remplace Mme Chantal Sarrazin comme "
            "gérant de la SCI Fournil Gambetta (lot 1, local commercial). Merci d'adresser "
            "désormais les convocations aux assemblées générales à son nom, à l'adresse du "
            "siège : 18 rue de Marseille, 69007 Lyon.\n\n"
            "Cordialement,\n\nPour la SCI, A. Sarrazin"
        ),
        style="outlook",
        signed=False,
    )


def _storm_claim(w: _MailWriter) -> None:
    """The storm claim of Le Belvédère (opened 40 days ago; parties, council follows)."""
    caron, renaud, vidal = w.person("caron"), w.person("renaud"), w.person("vidal")
    michaud, besson, delorme = w.contact("roofer"), w.contact("insurer"), w.contact("adjuster")
    claim = "MRA-S-04817"
    first = w.write(
        40,
        "07:45",
        sender=caron,
        subject="Infiltrations après la tempête de cette nuit",
        body=(
            "Bonjour,\n\n"
            "Après la tempête de cette nuit, l'eau coule du plafond de ma chambre (5e étage, "
            "lot 11). Depuis la cour on voit qu'il manque des tuiles. J'ai mis des bassines. "
            "Photo ci-jointe.\n\n"
            "Merci de faire intervenir un couvreur en urgence."
        ),
        style="gmail",
        attachments=[_File("IMG_20251.png", "image/png", make_png(120, 80, _stain))],
    )
    second = w.write(
        40,
        "08:05",
        sender=renaud,
        subject="Dégâts au plafond — 5e étage",
        body=(
            "Bonjour,\n\n"
            "Mon plafond de salon est taché et gorgé d'eau depuis la tempête (lot 12). Que "
            "dois-je faire pour l'assurance ?\n\n"
            "Cordialement,"
        ),
        style="thunderbird",
    )
    urgent = w.send(
        "storm_claim",
        40,
        "08:30",
        by="moreau",
        to=[michaud],
        subject="Urgence : bâchage de la toiture côté cour, 8 montée de la Grande-Côte",
        body=(
            "Bonjour Monsieur Michaud,\n\n"
            "La tempête a arraché des tuiles côté cour au Belvédère, 8 montée de la Grande-Côte : "
            "infiltrations dans deux appartements du 5e étage. Pouvez-vous faire bâcher la "
            "toiture aujourd'hui ?\n\n"
            "Cordialement,"
        ),
    )
    for owner, clock in ((first, "08:40"), (second, "08:45")):
        w.reply(
            owner,
            40,
            clock,
            by="moreau",
            dossier="storm_claim",
            body=(
                "Bonjour,\n\n"
                "Le couvreur est prévenu et doit bâcher la toiture dans la journée. Nous "
                "déclarons le sinistre à l'assureur de l'immeuble ; de votre côté, prévenez "
                "votre assureur habitation et gardez les photos des dommages.\n\n"
                "Bien cordialement,"
            ),
        )
    w.reply(
        urgent,
        40,
        "09:10",
        sender=michaud,
        style="thunderbird",
        body=(
            "Bonjour,\n\n"
            "Une équipe sera sur place en début d'après-midi avec une nacelle. Je vous envoie la "
            "facture de l'intervention d'urgence et un devis de réfection dans la foulée.\n\n"
            "Cordialement,"
        ),
    )
    invoice = w.document(
        "facture-bachage-urgence.pdf",
        title="Toitures du Lyonnais — facture",
        lines=["Intervention d'urgence : bâchage de la toiture côté cour."],
    )
    declaration = w.send(
        "storm_claim",
        39,
        "17:40",
        by="moreau",
        to=[w.mailbox("insurer")],
        cc=[besson],
        subject="Déclaration de sinistre tempête — Le Belvédère, 8 montée de la Grande-Côte",
        body=(
            "Madame, Monsieur,\n\n"
            "Nous déclarons un sinistre tempête survenu dans la nuit d'avant-hier sur "
            "l'immeuble « Le Belvédère », 8 montée de la Grande-Côte, 69001 Lyon (contrat "
            "multirisque immeuble) : tuiles arrachées côté cour, infiltrations dans les lots 11 "
            "et 12. La toiture a été bâchée en urgence ; facture ci-jointe.\n\n"
            "Cordialement,"
        ),
        attachments=[invoice],
    )
    ack = w.reply(
        declaration,
        38,
        "10:12",
        sender=besson,
        style="outlook",
        body=(
            "Monsieur,\n\n"
            f"Nous accusons réception de votre déclaration, enregistrée sous le n° {claim}. "
            "Nous missionnons le Cabinet Expertises Bellecour pour évaluer les dommages.\n\n"
            "Cordialement,"
        ),
    )
    quote = w.document(
        "devis-couverture-belvedere.pdf",
        title="Toitures du Lyonnais — devis",
        lines=["Réfection de la couverture côté cour après tempête."],
    )
    w.reply(
        urgent,
        33,
        "11:05",
        sender=michaud,
        style="thunderbird",
        body=(
            "Bonjour,\n\n"
            "Comme promis, voici notre devis de réfection de la couverture côté cour (tuiles, "
            "liteaux, écran sous-toiture et gouttière).\n\n"
            "Cordialement,"
        ),
        attachments=[quote],
    )
    convocation = w.write(
        31,
        "09:20",
        sender=delorme,
        to=[w.staff("moreau")],
        subject=subject_with_tag(
            w.dossiers["storm_claim"], f"Sinistre {claim} — Le Belvédère — convocation"
        ),
        body=(
            "Monsieur,\n\n"
            f"Mandaté par la Mutuelle Rhodanienne d'Assurances (sinistre {claim}), je vous "
            f"propose une réunion d'expertise sur place le {w.day(22)} à 10 h, en présence du "
            "président du conseil syndical et des occupants des lots 11 et 12.\n\n"
            "Bien cordialement,"
        ),
        style="outlook",
    )
    invitation = w.send(
        "storm_claim",
        30,
        "10:00",
        by="moreau",
        to=[vidal],
        subject="Expertise du sinistre tempête",
        body=(
            "Monsieur le Président,\n\n"
            f"L'expert de l'assureur passera le {w.day(22)} à 10 h. Pourrez-vous être présent "
            "pour le conseil syndical ?\n\n"
            "Bien cordialement,"
        ),
    )
    w.reply(
        invitation,
        29,
        "12:00",
        sender=vidal,
        style="orange",
        body="Bonjour,\n\nJe serai présent, bien entendu.\n\nHenri Vidal",
    )
    w.reply(
        convocation,
        10,
        "15:00",
        sender=delorme,
        style="outlook",
        body=(
            "Monsieur,\n\n"
            "Veuillez trouver ci-joint mon rapport d'expertise. Vétusté retenue sur la "
            "couverture : 25 % ; franchise : 1 500,00 €. Indemnité immédiate proposée : "
            "9 420,00 €.\n\n"
            "Bien cordialement,"
        ),
        attachments=[
            w.document(
                "rapport-expertise-tempete.pdf",
                title="Cabinet Expertises Bellecour — rapport d'expertise",
                lines=["Indemnité immédiate proposée : 9 420,00 €."],
            )
        ],
    )
    offer = w.send(
        "storm_claim",
        9,
        "09:00",
        by="moreau",
        to=[vidal],
        cc=[w.person("marchand")],
        subject="Proposition d'indemnité de l'assureur",
        body=(
            "Monsieur le Président,\n\n"
            "L'assureur propose une indemnité immédiate de 9 420,00 € (vétusté de 25 % et "
            "franchise de 1 500 € déduites), le solde de la vétusté étant versé sur facture "
            "après travaux. Le conseil syndical peut-il nous donner son avis ?\n\n"
            "Bien cordialement,"
        ),
    )
    w.reply(
        offer,
        9,
        "19:05",
        sender=vidal,
        style="orange",
        cc=[w.person("marchand")],
        body=(
            "Bonsoir,\n\n"
            "Le conseil syndical accepte la proposition d'indemnité et demande que la réfection "
            "de la couverture soit faite avant l'hiver.\n\n"
            "Pour le conseil syndical,\nHenri Vidal"
        ),
    )
    w.reply(
        ack,
        8,
        "10:30",
        sender=besson,
        style="outlook",
        body=(
            "Monsieur,\n\n"
            f"Suite au rapport de notre expert, nous vous confirmons notre proposition "
            f"d'indemnisation pour le sinistre {claim} : 9 420,00 € en indemnité immédiate. "
            "Merci de nous retourner la lettre d'acceptation signée.\n\n"
            "Cordialement,"
        ),
    )
    w.write(
        7,
        "08:20",
        sender=renaud,
        subject="Toiture : quand les travaux ?",
        body=(
            "Bonjour,\n\n"
            "Pouvez-vous me dire quand la toiture sera refaite ? La bâche tient, mais mon plafond "
            "ne sèche pas et je voudrais faire repeindre avant Noël.\n\n"
            "Cordialement,"
        ),
        style="thunderbird",
    )


def _blocked_drain(w: _MailWriter) -> None:
    """The blocked drain of Le Belvédère (opened 100 days ago, closed since)."""
    roche = w.contact("plumber")
    smell = w.write(
        100,
        "07:58",
        sender=w.person("brun"),
        subject="Odeur épouvantable dans les caves",
        body=(
            "Bonjour,\n\n"
            "Il y a de l'eau sale et une odeur épouvantable dans le couloir des caves ce matin. "
            "Je crois qu'une canalisation est bouchée.\n\n"
            "Céline Brun, lot 8"
        ),
        style="gmail",
        signed=False,
    )
    w.reply(
        smell,
        100,
        "08:40",
        by="moreau",
        dossier="blocked_drain",
        body=(
            "Bonjour Madame Brun,\n\n"
            "Merci pour votre signalement. Un plombier intervient aujourd'hui. Évitez de "
            "descendre aux caves d'ici là.\n\n"
            "Bien cordialement,"
        ),
    )
    call = w.send(
        "blocked_drain",
        100,
        "08:50",
        by="moreau",
        to=[roche],
        subject="Intervention urgente : canalisation bouchée en cave, 8 montée de la Grande-Côte",
        body=(
            "Bonjour Monsieur Roche,\n\n"
            "Refoulement d'eaux usées dans le couloir des caves du Belvédère, 8 montée de la "
            "Grande-Côte. Pouvez-vous intervenir aujourd'hui ?\n\n"
            "Cordialement,"
        ),
    )
    done = w.reply(
        call,
        99,
        "14:10",
        sender=roche,
        style="thunderbird",
        body=(
            "Bonjour,\n\n"
            "Hydrocurage effectué : la canalisation était bouchée par des lingettes. Un rappel "
            "aux occupants serait utile, même les lingettes « biodégradables » ne se dissolvent "
            "pas.\n\n"
            "Cordialement,"
        ),
    )
    w.reply(
        done,
        92,
        "10:00",
        sender=roche,
        style="thunderbird",
        body="Bonjour,\n\nCi-joint notre facture.\n\nCordialement,",
        attachments=[
            w.document(
                "facture-hydrocurage.pdf",
                title="Plomberie Saint-Jean — facture",
                lines=["Hydrocurage de la canalisation d'eaux usées en cave."],
            )
        ],
    )


def _garage_door(w: _MailWriter) -> None:
    """The car park door of Le Clos des Canuts (opened 5 days ago)."""
    fabre, bonnet = w.person("fabre"), w.person("bonnet")
    alert = w.write(
        5,
        "07:20",
        sender=fabre,
        subject="Porte du parking bloquée ouverte",
        body=(
            "Bonjour,\n\n"
            "La porte du parking (côté 2 rue d'Austerlitz) est restée bloquée en position "
            "ouverte toute la nuit. N'importe qui peut entrer.\n\n"
            "Lucie Fabre, lot 7"
        ),
        style="iphone",
        signed=False,
    )
    w.reply(
        alert,
        5,
        "07:50",
        by="moreau",
        dossier="garage_door",
        body=(
            "Bonjour Madame Fabre,\n\n"
            "Merci, le dépanneur est appelé. Nous vous tenons informée.\n\n"
            "Bien cordialement,"
        ),
    )
    call = w.send(
        "garage_door",
        5,
        "07:55",
        by="moreau",
        to=[w.mailbox("garage")],
        subject="Dépannage porte de parking — 2 rue d'Austerlitz, Lyon 4e",
        body=(
            "Bonjour,\n\n"
            "La porte basculante du parking du Clos des Canuts (accès par le 2 rue d'Austerlitz) "
            "est bloquée en position ouverte. Merci d'intervenir aujourd'hui.\n\n"
            "Cordialement,"
        ),
    )
    repaired = w.reply(
        call,
        4,
        "16:50",
        sender=w.mailbox("garage"),
        style="outlook",
        body=(
            "Bonjour,\n\n"
            "Le moteur est hors service : nous avons posé un moteur de prêt, la porte ferme de "
            "nouveau. Nous vous adressons un devis pour le remplacement de la motorisation "
            "complète.\n\n"
            "Le SAV"
        ),
    )
    quote = w.document(
        "devis-motorisation-parking.pdf",
        title="Automatismes Portails Lyon — devis",
        lines=["Remplacement de la motorisation de la porte de parking."],
    )
    w.reply(
        repaired,
        2,
        "09:25",
        sender=w.mailbox("garage"),
        style="outlook",
        body="Bonjour,\n\nVeuillez trouver ci-joint notre devis.\n\nLe SAV",
        attachments=[quote],
    )
    consult = w.send(
        "garage_door",
        2,
        "09:45",
        by="moreau",
        to=[bonnet],
        cc=[w.person("le_goff")],
        subject="Devis de motorisation de la porte du parking : accord du conseil syndical ?",
        body=(
            "Madame la Présidente,\n\n"
            "Voici le devis d'Automatismes Portails Lyon pour remplacer la motorisation de la "
            "porte du parking. Son montant est inférieur au seuil de mise en concurrence voté "
            "par l'assemblée générale : l'accord du conseil syndical suffit.\n\n"
            "Bien cordialement,"
        ),
        attachments=[quote],
    )
    w.reply(
        consult,
        1,
        "20:30",
        sender=bonnet,
        style="orange",
        cc=[w.person("le_goff")],
        body=(
            "Bonsoir Monsieur Moreau,\n\n"
            "Après consultation de M. Le Goff, le conseil syndical donne son accord sur le "
            "devis. Pourra-t-on prévoir des émetteurs supplémentaires pour les nouveaux "
            "locataires ?\n\n"
            "Geneviève Bonnet\nPrésidente du conseil syndical"
        ),
    )
    w.write(
        1,
        "21:10",
        sender=w.person("haddad"),
        subject="Bip du parking",
        body=(
            "Bonjour,\n\n"
            "Depuis la réparation de la porte, mon bip ne l'ouvre plus (place 13). Faut-il le "
            "reprogrammer ?\n\n"
            "Merci,\nRachid Haddad"
        ),
        style="gmail",
        signed=False,
    )


def _insurance_tender(w: _MailWriter) -> None:
    """The council's request to put the building insurance out to tender (Canuts)."""
    bonnet = w.person("bonnet")
    plan = w.send(
        "insurance_tender",
        24,
        "10:00",
        by="moreau",
        to=[bonnet],
        subject="Mise en concurrence de l'assurance multirisque : calendrier",
        body=(
            "Madame la Présidente,\n\n"
            "Nous consultons deux autres assureurs par l'intermédiaire de notre courtier. Les "
            "offres devraient nous parvenir d'ici trois semaines ; nous les comparerons avec le "
            "conseil syndical avant l'échéance du contrat actuel.\n\n"
            "Bien cordialement,"
        ),
    )
    w.reply(
        plan,
        23,
        "18:00",
        sender=bonnet,
        style="orange",
        body=(
            "Bonsoir,\n\n"
            "Très bien. Pensez à demander une franchise dégâts des eaux plus basse, c'est le "
            "point qui nous coûte le plus.\n\n"
            "G. Bonnet"
        ),
    )
    w.write(
        17,
        "11:30",
        sender=_Who("Assurances du Confluent", "offres@assurances-confluent.example"),
        subject="Votre demande de cotation — multirisque immeuble, 115 bd de la Croix-Rousse",
        body=(
            "Madame, Monsieur,\n\n"
            "Suite à la demande de votre courtier, nous avons le plaisir de vous adresser notre "
            "proposition pour l'assurance multirisque de l'immeuble situé 115 boulevard de la "
            "Croix-Rousse, 69004 Lyon : prime annuelle de 5 120,00 € TTC, franchise dégâts des "
            "eaux de 500 €.\n\n"
            "Cordialement,\n\nLe service Entreprises\nAssurances du Confluent"
        ),
        style="outlook",
        signed=False,
        attachments=[
            w.pdf(
                "proposition-multirisque-croix-rousse.pdf",
                "Assurances du Confluent — proposition multirisque immeuble",
                [
                    "Risque : immeuble en copropriété, 115 boulevard de la Croix-Rousse, Lyon 4e.",
                    "Garanties : incendie, dégâts des eaux, tempête, responsabilité civile.",
                    "Franchise générale : 400 €. Franchise dégâts des eaux : 500 €.",
                    "Prime annuelle : 5 120,00 € TTC.",
                ],
            )
        ],
    )
    w.write(
        12,
        "14:00",
        sender=w.contact("insurer"),
        to=[w.staff("moreau")],
        subject="Renouvellement du contrat multirisque — Le Clos des Canuts",
        body=(
            "Monsieur,\n\n"
            "Nous avons bien noté que le syndicat des copropriétaires du Clos des Canuts "
            "consulte le marché. Compte tenu de la faible sinistralité de l'immeuble, nous "
            "pouvons ramener la hausse de la prime à 9 % au lieu de 18 %.\n\n"
            "Cordialement,"
        ),
        style="outlook",
    )


def _other_mail(w: _MailWriter) -> None:
    """Mail about no dossier yet: newsletters, questions, advertising, a notary."""
    for number, days_ago in ((41, 62), (42, 33), (43, 3)):
        subject = f"Copro'Actu n° {number} — l'actualité de la copropriété"
        text = (
            f"Copro'Actu n° {number}\n\n"
            "- Fonds de travaux : ce qui change cette année\n"
            "- Bornes de recharge : le droit à la prise en copropriété\n"
            "- Assurance : la convention IRSI en cinq questions\n\n"
            "Lire la lettre en ligne : https://copro-actu.example/lettre/"
            f"{number}\n\n"
            "Vous recevez cette lettre car vous êtes abonné à Copro'Actu. Se désinscrire : "
            "https://copro-actu.example/desinscription"
        )
        mail = w.write(
            days_ago,
            "07:00",
            sender=_Who("Copro'Actu", "lettre@copro-actu.example"),
            subject=subject,
            body=text,
            style="newsletter",
            signed=False,
            headers=[
                ("List-Id", "Copro'Actu <lettre.copro-actu.example>"),
                (
                    "List-Unsubscribe",
                    "<mailto:desinscription@copro-actu.example>, "
                    "<https://copro-actu.example/desinscription>",
                ),
                ("Precedence", "bulk"),
            ],
        )
        mail.html = (
            "<html><body><h1>Copro'Actu n° "
            f"{number}</h1><ul><li>Fonds de travaux : ce qui change cette année</li>"
            "<li>Bornes de recharge : le droit à la prise en copropriété</li>"
            "<li>Assurance : la convention IRSI en cinq questions</li></ul>"
            '<p><img src="https://copro-actu.example/logo.png" alt="Copro\'Actu"></p>'
            '<p><a href="https://copro-actu.example/desinscription">Se désinscrire</a></p>'
            "</body></html>\n"
        )
    w.write(
        26,
        "10:15",
        sender=w.person("morel"),
        subject="Changement d'adresse",
        body=(
            "Bonjour,\n\n"
            "Je quitte mon appartement du Belvédère (lot 4), que je mets en location. Merci "
            "d'adresser désormais mon courrier au 14 rue Juliette Récamier, 69006 Lyon.\n\n"
            "Cordialement,"
        ),
        style="gmail",
    )
    w.write(
        19,
        "22:40",
        sender=w.person("cohen"),
        subject="Nuisances sonores",
        body=(
            "Bonsoir,\n\n"
            "Depuis trois semaines, les occupants de l'appartement au-dessus du mien (bâtiment A, "
            "3e étage) font du bruit tous les soirs après minuit. J'ai essayé d'en parler avec "
            "eux, sans résultat. Que puis-je faire ?\n\n"
            "Sarah Cohen"
        ),
        style="outlook",
        signed=False,
    )
    w.write(
        18,
        "09:05",
        sender=_Who("Net'Éclat Services", "contact@net-eclat.example"),
        subject="Entretien de vos parties communes : offre de bienvenue",
        body=(
            "Madame, Monsieur,\n\n"
            "Net'Éclat Services assure le nettoyage des parties communes de plus de 200 "
            "copropriétés lyonnaises. Pour toute nouvelle résidence confiée avant la fin du "
            "trimestre, le premier mois est offert.\n\n"
            "N'hésitez pas à nous demander un devis.\n\n"
            "Karine Dumas\nNet'Éclat Services — 04 65 71 09 12"
        ),
        style="outlook",
        signed=False,
    )
    w.write(
        11,
        "15:20",
        sender=_Who("Office notarial Bellecour", "negociation@notaires-bellecour.example"),
        subject="Vente Benali — lot 6 — demande d'état daté",
        body=(
            "Maître,\n\nMadame, Monsieur,\n\n"
            "Nous sommes chargés de la vente du lot 6 de la Résidence Les Tilleuls, 42 cours "
            "Gambetta, appartenant à M. Karim Benali. Nous vous remercions de nous adresser "
            "l'état daté ainsi que les trois derniers procès-verbaux d'assemblée générale.\n\n"
            "Signature prévue dans un mois.\n\n"
            "Le service Négociation"
        ),
        style="outlook",
        signed=False,
    )
    # An out-of-office in reply to a mail the history does not hold: triage.
    w.write(
        8,
        "11:02",
        sender=w.person("schmitt"),
        to=[w.staff("moreau")],
        subject="Absence du bureau : Relevé des compteurs d'eau",
        body=(
            "Bonjour,\n\n"
            f"Je suis en congés jusqu'au {w.day(-5)} avec un accès limité à mes messages.\n\n"
            "Émilie Schmitt"
        ),
        style="outlook",
        signed=False,
        headers=[("Auto-Submitted", "auto-replied"), ("X-Autoreply", "yes")],
    )


# --- Public interface ---------------------------------------------------------------------------


def demo_mail_history(
    agency: Agency, *, today: dt.date, seed: int = DEMO_MAIL_SEED
) -> list[DemoMail]:
    """The demo agency's mail history as .eml files, oldest first.

    Reads the demo world from the database (`lanterne.core.demo.demo_load`
    must have run): dossiers and their references, stored documents. The
    file names sort in date order, so an import reads them oldest first."""
    writer = _MailWriter(agency, today, seed)
    _write_history(writer)
    mails = sorted(enumerate(writer.mails), key=lambda item: (item[1].when, item[0]))
    result: list[DemoMail] = []
    for index, (_order, mail) in enumerate(mails, start=1):
        data = _render(mail, writer.rng)
        result.append(DemoMail(f"{mail.when:%Y%m%d-%H%M}-{index:03d}.eml", data))
    return result


def demo_mail_write(mails: Sequence[DemoMail], directory: Path) -> Path:
    """Write `mails` into `directory`/`DEMO_MAIL_FOLDER`; returns that folder."""
    folder = directory / DEMO_MAIL_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for mail in mails:
        (folder / mail.filename).write_bytes(mail.data)
    return folder


def demo_today(agency: Agency) -> dt.date:
    """The "today" the demo agency was loaded with (its history is dated
    relative to it), found again from the facade dossier's opening date."""
    facade = Dossier.objects.get(agency=agency, title=DEMO_DOSSIERS["facade"])
    return facade.opened_on + dt.timedelta(days=FACADE_OPENED_DAYS_AGO)


@dataclass(frozen=True)
class DemoMailSummary:
    """The demo agency's mail, after `demo_mail_load`."""

    loaded: bool  # the history was imported by this call
    imported: int  # new messages of this import (0 when not loaded)
    messages: int  # the agency's messages, whatever their source
    filed: int  # in a dossier
    triage: int  # waiting in the triage inbox
    not_related: int  # said to concern no dossier (newsletters)
    quarantined: int


def demo_mail_summary(
    agency: Agency, *, loaded: bool = False, imported: int = 0
) -> DemoMailSummary:
    """Counts of the agency's mail, as the triage inbox and the dossiers show it."""
    messages = Message.objects.filter(agency=agency)
    unfiled = messages.filter(dossier__isnull=True)
    return DemoMailSummary(
        loaded=loaded,
        imported=imported,
        messages=messages.count(),
        filed=messages.filter(dossier__isnull=False).count(),
        # As the triage inbox lists them (`lanterne.mail.triage`): unfiled, not
        # set aside, and not the wrapper of a forward filed through its original.
        triage=unfiled.filter(not_dossier_related=False, forwarded_message__isnull=True).count(),
        not_related=unfiled.filter(not_dossier_related=True).count(),
        quarantined=RawMessage.objects.filter(agency=agency, state=RawState.QUARANTINED).count(),
    )


def _history_imported(agency: Agency) -> bool:
    return Delivery.objects.filter(
        source__agency=agency,
        source__kind=SourceKind.IMPORT,
        folder__startswith=f"{DEMO_MAIL_FOLDER}/",
    ).exists()


def demo_mail_load(
    agency: Agency, *, today: dt.date | None = None, seed: int = DEMO_MAIL_SEED
) -> DemoMailSummary:
    """Import the demo's mail history through the real pipeline, once.

    The messages are written to a temporary folder and imported with
    `mail_import` (stored, parsed, threaded and filed like any history).
    When the history was imported before, nothing is done. `today` defaults
    to the demo's own (`demo_today`)."""
    if _history_imported(agency):
        return demo_mail_summary(agency)
    mails = demo_mail_history(agency, today=today or demo_today(agency), seed=seed)
    with tempfile.TemporaryDirectory(prefix="lanterne-demo-mail-") as directory:
        folder = demo_mail_write(mails, Path(directory))
        result = mail_import(agency=agency, paths=[folder])
    # An import leaves the attachments' text for later (`lanterne
    # extract-text`): the demo reads it now, so that its quotes are searched.
    texts_extract_pending(agency_id=agency.pk)
    demo_mail_review(agency)
    return demo_mail_summary(agency, loaded=True, imported=result.imported)


# The most recent filed mails the demo leaves waiting for review (the
# « À publier » page); the managers reviewed the older ones.
DEMO_MAIL_LEFT_TO_REVIEW = 6


def demo_mail_review(agency: Agency) -> None:
    """Review the demo's filed mail as its managers would have: each mail
    published to the audience Lanterne proposes (or kept internal), all but
    the `DEMO_MAIL_LEFT_TO_REVIEW` most recent."""
    viewer = Viewer.system(agency.pk)
    pending = list(
        Message.objects.filter(agency=agency, review=Review.PENDING, dossier__isnull=False)
        .select_related("dossier")
        .order_by("date", "pk")
    )
    reviewed = pending[: max(len(pending) - DEMO_MAIL_LEFT_TO_REVIEW, 0)]
    proposals = proposed_audiences(reviewed)
    for message in reviewed:
        message_publish(viewer=viewer, actor=None, message=message, audience=proposals[message.pk])
