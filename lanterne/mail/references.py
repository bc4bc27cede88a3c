"""The references Lanterne controls in the mail it sends, and recognising them
in the mail it receives (issue 4, item 2).

Every mail sent from a dossier carries three independent references to it:

- a **Message-ID** that encodes the dossier, so that replies name it in
  In-Reply-To and References (RFC 5322 §3.6.4):
  ``<lanterne.{unique}.{payload}.{mac}@{agency.mail_domain}>``;
- a **reply address** with a dossier token, plus-addressed on the agency's
  shared mailbox: ``gestion+dos.{payload}.{mac}@cabinet-lumiere.fr``;
- the **subject tag** ``[DOS-2026-0042]``.

``payload`` is ``{agency id}-{dossier id}``, each number written in lower-case
base32hex (RFC 4648 §7: ``0-9a-v``); ``mac`` is an HMAC-SHA256 of the purpose
("message-id" or "reply-address"), the agency id and the dossier id, keyed from
``settings.SECRET_KEY`` with a salt of its own (`django.utils.crypto.salted_hmac`),
truncated to 80 bits and written in lower-case base32 (RFC 4648 §6: ``a-z2-7``).
Both alphabets survive relays that change the case of a local part, and the
token keeps the local part far below the 64 octets of RFC 5321 §4.5.3.1.1.
Nobody without the secret can guess or forge a token, nor turn a token of one
dossier or agency into another's: the MAC covers both ids, and a token of agency
A is refused by agency B before any dossier is looked up. Tokens made with a
key listed in ``settings.SECRET_KEY_FALLBACKS`` keep working after a rotation.

The channels are independent on purpose: relays such as Gmail or Amazon SES
replace the Message-ID of the mail they send, and ticketing tools drop
References, so a reply may keep only the reply address, or only the subject.
The Message-ID and reply-address channels are certain (they are signed); a
subject tag is not (anyone can type one), so `reference_matches` only calls it
certain when the sender takes part in that dossier.

Recognition never raises on what a message contains: a forged, tampered,
foreign or malformed reference yields no dossier, with the reason. Nothing here
writes to the database; the filing stage decides what to do with the matches.
"""

from __future__ import annotations

import base64
import enum
import hmac
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from django.conf import settings
from django.db.models import CharField, Q, Value
from django.db.models.functions import Length, Lower, StrIndex
from django.utils.crypto import salted_hmac

from lanterne.condominiums.models import Agency, Company, Person
from lanterne.dossiers.models import Dossier

from .models import Message
from .parsing import Address, ParsedMessage

__all__ = [
    "ReferenceChannel",
    "ReferenceMatch",
    "ReplyAddressError",
    "SubjectMatch",
    "TokenLookup",
    "TokenStatus",
    "dossier_from_message_ids",
    "dossier_from_recipients",
    "dossier_message_id",
    "dossier_reply_address",
    "dossiers_from_subject",
    "reference_matches",
    "sender_participates",
    "subject_with_tag",
]

# The salt of the key the MACs are made with: a key of its own, so that no
# other signature made from SECRET_KEY (sessions, password resets) can be
# replayed as a dossier token, nor the reverse.
SALT = "lanterne.mail.references"
MAC_BYTES = 10  # 80 bits: 16 base32 characters, no padding
MESSAGE_ID_PURPOSE = "message-id"
REPLY_ADDRESS_PURPOSE = "reply-address"
# RFC 5321 §4.5.3.1.1: the maximum total length of a local part is 64 octets.
LOCAL_PART_MAX_OCTETS = 64
REPLY_DETAIL_PREFIX = "dos."
MESSAGE_ID_PREFIX = "lanterne."
# Ids are written with at most 13 base32 digits and must fit a BigAutoField.
_ID_MAX = 2**63 - 1
# What a recogniser reads at most: a longer value is no reference of ours.
_VALUE_MAX = 998  # RFC 5322 §2.1.1, the longest line
_SUBJECT_MAX = 1000
_SUBJECT_PREFILTER_ROWS = 100
# A reference shorter than this, or made of digits only ("117", "2025"), is
# recognised only between brackets: bare, it would match lot numbers, years,
# postal codes and amounts.
STRONG_REFERENCE_MIN_LENGTH = 5

_BASE32HEX = "0123456789abcdefghijklmnopqrstuv"
_PAYLOAD = r"(?P<agency>[0-9a-v]{1,13})-(?P<dossier>[0-9a-v]{1,13})"
_MAC = r"(?P<mac>[a-z2-7]{16})"
# ASCII: with Unicode case folding, "K" (Kelvin sign) would match "k".
_FLAGS = re.ASCII | re.IGNORECASE
_REPLY_DETAIL = re.compile(rf"dos\.{_PAYLOAD}\.{_MAC}", _FLAGS)
_MESSAGE_ID = re.compile(
    rf"lanterne\.(?P<unique>[a-z0-9-]{{1,64}})\.{_PAYLOAD}\.{_MAC}@[^@\s<>]+", _FLAGS
)
# The plus-address detail that starts with our prefix, in an address or a
# whole header value ("Gestion <gestion+dos.…@domain>"); a quoted local part
# ends with '"' before the "@".
_RECIPIENT_DETAIL = re.compile(r"\+(dos\.[^@\s<>\"+,;]*)\"?@", _FLAGS)
_UNIQUE = re.compile(r"[a-z0-9-]{1,64}", _FLAGS)
# A Lanterne tag: replaced when a mail of another dossier is sent.
_LANTERNE_TAG = re.compile(r"\s*\[\s*DOS-\d{4}-\d+\s*\]", re.IGNORECASE)
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")  # refused by PostgreSQL / UTF-8


class ReplyAddressError(ValueError):
    """No reply address can be made: the agency's shared mailbox leaves no room
    for a token within 64 octets (RFC 5321 §4.5.3.1.1), or is no address."""


class TokenStatus(enum.StrEnum):
    """Why a Message-ID or a reply address did, or did not, name a dossier."""

    MATCHED = "matched"
    ABSENT = "absent"  # nothing that looks like a reference of ours
    MALFORMED = "malformed"  # looks like ours, but is not a well-formed token
    FORGED = "forged"  # well-formed, but the MAC does not verify
    OTHER_AGENCY = "other_agency"  # a genuine token of another agency
    UNKNOWN_DOSSIER = "unknown_dossier"  # a genuine token of a dossier that no longer exists


# When nothing matched, the reason reported is the most telling one seen.
_STATUS_WEIGHT = {
    TokenStatus.ABSENT: 0,
    TokenStatus.MALFORMED: 1,
    TokenStatus.UNKNOWN_DOSSIER: 2,
    TokenStatus.OTHER_AGENCY: 3,
    TokenStatus.FORGED: 4,
}


@dataclass(frozen=True)
class TokenLookup:
    """The dossier a Message-ID or reply address names, or None, and why."""

    dossier: Dossier | None
    reason: TokenStatus
    evidence: str = ""  # the Message-ID or address read, when it looked like ours


class ReferenceChannel(enum.StrEnum):
    """Which of the three references a match came through."""

    MESSAGE_ID = "message_id"
    REPLY_ADDRESS = "reply_address"
    SUBJECT_TAG = "subject_tag"


@dataclass(frozen=True)
class SubjectMatch:
    """A dossier whose reference appears in a subject."""

    dossier: Dossier
    text: str  # the reference as written in the subject
    bracketed: bool  # written as a tag, "[DOS-2026-0042]"


@dataclass(frozen=True)
class ReferenceMatch:
    """A dossier a message names through one channel. `certain` matches may be
    filed without a human; the others are suggestions for triage."""

    dossier: Dossier
    channel: ReferenceChannel
    certain: bool
    evidence: str = ""  # the Message-ID, address or subject text that matched


# ---------------------------------------------------------------------------
# Tokens: payload and MAC


def _encode_id(number: int) -> str:
    """A positive id in lower-case base32hex (RFC 4648 §7), no leading zero."""
    if number <= 0 or number > _ID_MAX:
        raise ValueError(f"not a database id: {number}")
    digits = ""
    while number:
        number, digit = divmod(number, 32)
        digits = _BASE32HEX[digit] + digits
    return digits


def _decode_id(text: str) -> int | None:
    """The id written by `_encode_id`, or None. Only the canonical spelling is
    accepted (no leading zero), so every dossier has exactly one token."""
    text = text.lower()
    if not text or text.startswith("0") or len(text) > 13:
        return None
    if any(char not in _BASE32HEX for char in text):
        return None
    number = int(text, 32)
    return number if number <= _ID_MAX else None


def _payload(agency_id: int, dossier_id: int) -> str:
    return f"{_encode_id(agency_id)}-{_encode_id(dossier_id)}"


def _secrets() -> list[str | bytes]:
    """The current secret first, then the ones being rotated out."""
    return [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]


def _mac(purpose: str, agency_id: int, dossier_id: int, secret: str | bytes) -> str:
    """The truncated HMAC-SHA256 of one token, in lower-case base32 (RFC 4648 §6)."""
    digest = salted_hmac(
        f"{SALT}.{purpose}", f"{agency_id}:{dossier_id}", secret=secret, algorithm="sha256"
    ).digest()
    return base64.b32encode(digest[:MAC_BYTES]).decode("ascii").lower()


def _mac_valid(purpose: str, agency_id: int, dossier_id: int, mac: str) -> bool:
    """Whether `mac` was made by us, compared in constant time (hmac.compare_digest)."""
    mac = mac.lower()
    valid = False
    for secret in _secrets():
        # No early exit: every key is tried, whichever one matches.
        valid |= hmac.compare_digest(_mac(purpose, agency_id, dossier_id, secret), mac)
    return valid


def _token(purpose: str, dossier: Dossier) -> str:
    """``{payload}.{mac}`` for a saved dossier."""
    if dossier.pk is None:
        raise ValueError("the dossier must be saved before mail is sent from it")
    agency_id, dossier_id = dossier.agency_id, dossier.pk
    mac = _mac(purpose, agency_id, dossier_id, settings.SECRET_KEY)
    return f"{_payload(agency_id, dossier_id)}.{mac}"


def _check(agency: Agency, purpose: str, match: re.Match[str], evidence: str) -> TokenLookup:
    """What a well-formed token names for `agency`. The MAC is verified before
    the agency is compared and before any query: a forged token costs no
    database work and tells nothing about which dossiers exist."""
    agency_id = _decode_id(match["agency"])
    dossier_id = _decode_id(match["dossier"])
    if agency_id is None or dossier_id is None:
        return TokenLookup(None, TokenStatus.MALFORMED, evidence)
    if not _mac_valid(purpose, agency_id, dossier_id, match["mac"]):
        return TokenLookup(None, TokenStatus.FORGED, evidence)
    if agency_id != agency.pk:
        return TokenLookup(None, TokenStatus.OTHER_AGENCY, evidence)
    dossier = Dossier.objects.filter(agency=agency, pk=dossier_id).first()
    if dossier is None:
        return TokenLookup(None, TokenStatus.UNKNOWN_DOSSIER, evidence)
    return TokenLookup(dossier, TokenStatus.MATCHED, evidence)


def _first_match(lookups: Iterator[TokenLookup]) -> TokenLookup:
    """The first lookup that names a dossier; else the most telling failure."""
    worst = TokenLookup(None, TokenStatus.ABSENT)
    for lookup in lookups:
        if lookup.dossier is not None:
            return lookup
        if _STATUS_WEIGHT[lookup.reason] > _STATUS_WEIGHT[worst.reason]:
            worst = lookup
    return worst


def _ascii_domain(domain: str) -> str:
    """The domain as an A-label (``xn--…``): a msg-id's id-right is ASCII
    (RFC 5322 §3.6.4, dot-atom-text)."""
    domain = domain.strip().rstrip(".").lower()
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain


# ---------------------------------------------------------------------------
# Outgoing mail


def dossier_message_id(dossier: Dossier, *, unique: str | None = None) -> str:
    """A Message-ID for a mail sent from `dossier`, angle brackets included:
    ``<lanterne.{unique}.{payload}.{mac}@{agency.mail_domain}>``.

    RFC 5322 §3.6.4: a Message-ID is unique to one message and replies carry it
    in In-Reply-To and References, so a reply names its dossier even when its
    subject and recipients were changed. `unique` makes this message's id
    distinct (letters, digits and "-", at most 64); by default 80 random bits.
    The id-right is the agency's mail domain, as an A-label."""
    if unique is None:
        unique = base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()
    elif not _UNIQUE.fullmatch(unique):
        raise ValueError(f"unique part of a Message-ID must be [A-Za-z0-9-]{{1,64}}: {unique!r}")
    domain = _ascii_domain(dossier.agency.mail_domain)
    if not domain:
        domain = _ascii_domain(dossier.agency.shared_mailbox.rpartition("@")[2])
    return f"<{MESSAGE_ID_PREFIX}{unique}.{_token(MESSAGE_ID_PURPOSE, dossier)}@{domain}>"


def dossier_reply_address(dossier: Dossier) -> str:
    """The address replies to a mail of `dossier` should go to: the agency's
    shared mailbox, plus-addressed with the dossier token,
    ``gestion+dos.{payload}.{mac}@cabinet-lumiere.fr``.

    The SMTP receiver accepts every plus-addressed form of the shared mailbox,
    and IMAP providers deliver them to the mailbox itself. Raises
    `ReplyAddressError` when the local part would exceed 64 octets (RFC 5321
    §4.5.3.1.1: longer local parts are refused by real servers); the caller
    then uses the shared mailbox as it is, and the Message-ID and subject tag
    still name the dossier."""
    mailbox = dossier.agency.shared_mailbox.strip()
    local, at, domain = mailbox.rpartition("@")
    if not at or not local or not domain:
        raise ReplyAddressError(f"the shared mailbox is not an address: {mailbox!r}")
    local = f"{local}+{REPLY_DETAIL_PREFIX}{_token(REPLY_ADDRESS_PURPOSE, dossier)}"
    if len(local.encode("utf-8")) > LOCAL_PART_MAX_OCTETS:
        raise ReplyAddressError(
            f"{local!r} is longer than {LOCAL_PART_MAX_OCTETS} octets (RFC 5321 §4.5.3.1.1)"
        )
    return f"{local}@{domain}"


def subject_with_tag(dossier: Dossier, subject: str) -> str:
    """`subject` with the dossier's tag, ``[DOS-2026-0042]``, at its end.

    A subject that already carries the tag (a reply: "RE : Devis
    [DOS-2026-0042]") is returned unchanged, so the tag appears once. Tags of
    other Lanterne dossiers (``[DOS-YYYY-NNNN]``, a forward from another
    dossier) are removed: a reply must not name two dossiers."""
    tag = f"[{dossier.reference}]"
    own = re.compile(rf"\[\s*{re.escape(dossier.reference)}\s*\]", re.IGNORECASE)
    if own.search(subject):
        return subject

    def other_tags(match: re.Match[str]) -> str:
        return match[0] if own.search(match[0]) else ""

    subject = " ".join(_LANTERNE_TAG.sub(other_tags, subject).split())
    return f"{subject} {tag}" if subject else tag


# ---------------------------------------------------------------------------
# Incoming mail


def dossier_from_message_ids(agency: Agency, ids: Iterable[str]) -> TokenLookup:
    """The dossier named by the first of our Message-IDs among `ids` (In-Reply-To
    first, then References from the last, RFC 5322 §3.6.4), with or without
    angle brackets. Only Message-IDs made by `dossier_message_id` for `agency`
    count; relays that replaced our Message-ID (Gmail, Amazon SES) leave none,
    and the reply address and subject then decide."""

    def lookups() -> Iterator[TokenLookup]:
        for raw in ids:
            if not isinstance(raw, str) or len(raw) > _VALUE_MAX:
                continue
            value = raw.strip().strip("<>").strip()
            if value[: len(MESSAGE_ID_PREFIX)].lower() != MESSAGE_ID_PREFIX:
                continue
            match = _MESSAGE_ID.fullmatch(value)
            if match is None:
                yield TokenLookup(None, TokenStatus.MALFORMED, value)
                continue
            yield _check(agency, MESSAGE_ID_PURPOSE, match, value)

    return _first_match(lookups())


def dossier_from_recipients(agency: Agency, addresses: Iterable[str]) -> TokenLookup:
    """The dossier named by the first reply-address token among `addresses`
    (To, Cc, Delivered-To, X-Original-To, the envelope recipients): bare
    addresses or whole header values. The token is read case-insensitively,
    as some relays change the case of local parts."""

    def lookups() -> Iterator[TokenLookup]:
        for address in addresses:
            if not isinstance(address, str) or len(address) > _VALUE_MAX:
                continue
            for detail in _RECIPIENT_DETAIL.findall(address):
                match = _REPLY_DETAIL.fullmatch(detail)
                if match is None:
                    yield TokenLookup(None, TokenStatus.MALFORMED, address)
                    continue
                yield _check(agency, REPLY_ADDRESS_PURPOSE, match, address)

    return _first_match(lookups())


def _is_strong(reference: str) -> bool:
    """Whether a reference is distinctive enough to be recognised without
    brackets: long enough, and not a bare number."""
    return len(reference) >= STRONG_REFERENCE_MIN_LENGTH and not reference.isdigit()


def _bare_pattern(reference: str) -> re.Pattern[str]:
    """`reference` on word boundaries. "/" and "-" followed or preceded by a
    letter or digit continue a reference: "DOS-10412" does not contain
    "DOS-1041", nor "12/2025/1170" or "12/2025/117" contain "2025/117"."""
    return re.compile(rf"(?<!\w)(?<!\w[/-]){re.escape(reference)}(?![/-]\w)(?!\w)", re.IGNORECASE)


def _bracket_pattern(reference: str) -> re.Pattern[str]:
    return re.compile(rf"\[\s*({re.escape(reference)})\s*\]", re.IGNORECASE)


def dossiers_from_subject(agency: Agency, subject: str) -> list[SubjectMatch]:
    """The dossiers of `agency` whose reference appears in `subject`: tags
    ("[DOS-2026-0042]"), bare references ("DOS-2026-0042") and the references
    of imported dossiers whatever their format ("DOS-1041", "Réf. 2025/117",
    "V/Réf : 2025/117"), case-insensitive, on word boundaries. Only existing
    references of the agency are looked for; short or all-digit references
    ("117") count only between brackets. Bracketed tags come first, then by
    position; a reference found inside a longer one that also matched is left
    out."""
    if not isinstance(subject, str):
        return []
    subject = _UNSTORABLE.sub("", subject)[:_SUBJECT_MAX]
    if not subject.strip():
        return []
    # The database keeps only the references that occur in the subject at
    # all (one scan of the agency's dossiers, no rows loaded for the others);
    # the boundaries are checked here.
    found_at = StrIndex(Lower(Value(subject, output_field=CharField())), Lower("reference"))
    rows = (
        Dossier.objects.filter(agency=agency)
        .exclude(reference="")
        .annotate(found_at=found_at)
        .filter(found_at__gt=0)
        .order_by(Length("reference").desc(), "pk")[:_SUBJECT_PREFILTER_ROWS]
    )
    found: list[tuple[bool, int, int, SubjectMatch]] = []
    for dossier in rows:
        reference = dossier.reference
        bracketed = _bracket_pattern(reference).search(subject)
        if bracketed is not None:
            start, end = bracketed.span(1)
        elif _is_strong(reference) and (bare := _bare_pattern(reference).search(subject)):
            start, end = bare.span()
        else:
            continue
        match = SubjectMatch(dossier=dossier, text=subject[start:end], bracketed=bool(bracketed))
        found.append((bracketed is not None, start, end, match))
    kept = [
        item
        for item in found
        if not any(
            other is not item
            and other[1] <= item[1]
            and item[2] <= other[2]
            and other[2] - other[1] > item[2] - item[1]
            for other in found
        )
    ]
    kept.sort(key=lambda item: (not item[0], item[1]))
    return [item[3] for item in kept]


# ---------------------------------------------------------------------------
# Participants and the three channels together


def sender_participates(dossier: Dossier, address: str) -> bool:
    """Whether mail from `address` comes from someone who takes part in
    `dossier`: staff of its agency, its manager, a party person, an owner of
    a party lot, a contact of a party company, or a party company itself (its
    address or one of its mail domains)."""
    address = address.strip().lower() if isinstance(address, str) else ""
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        return False
    taking_part = (
        ~Q(staff_role="")
        | Q(party_to_dossiers=dossier)
        | Q(ownerships__lot__dossiers=dossier)
        | Q(company__dossiers=dossier)
    )
    if dossier.manager_id is not None:
        taking_part |= Q(pk=dossier.manager_id)
    persons = Person.objects.filter(agency_id=dossier.agency_id, emails__address=address)
    if persons.filter(taking_part).exists():
        return True
    return Company.objects.filter(
        Q(email__iexact=address) | Q(domains__domain__iexact=domain),
        agency_id=dossier.agency_id,
        dossiers=dossier,
    ).exists()


@dataclass(frozen=True)
class _References:
    """What the three channels read from a message, whatever its form."""

    message_ids: tuple[str, ...]
    recipients: tuple[str, ...]
    subject: str
    from_address: str


def _address_text(item: object) -> str:
    if isinstance(item, Address):
        return item.address
    if isinstance(item, Mapping):
        value = item.get("address", "")
        return value if isinstance(value, str) else ""
    return item if isinstance(item, str) else ""


def _references_of(message: ParsedMessage | Message) -> _References:
    """Our own Message-ID first (the Sent copy of a mail we sent), then
    In-Reply-To, then References from the last (the closest ancestor,
    RFC 5322 §3.6.4); To, Cc, Delivered-To and X-Original-To."""
    if isinstance(message, ParsedMessage):
        from_address = message.from_.address if message.from_ else ""
    else:
        from_address = message.from_address
    headers = message.headers if isinstance(message.headers, Mapping) else {}
    return _References(
        message_ids=(
            *([message.message_id] if message.message_id else []),
            *message.in_reply_to,
            *reversed(list(message.references)),
        ),
        recipients=tuple(
            _address_text(item)
            for item in (
                *message.to,
                *message.cc,
                headers.get("delivered-to", ""),
                headers.get("x-original-to", ""),
            )
        ),
        subject=message.subject or "",
        from_address=from_address or "",
    )


def may_carry_token(agency: Agency, message: ParsedMessage | Message) -> bool:
    """Whether `message` could name a dossier through the signed channels
    (a Message-ID of ours among its references, a reply address with a
    dossier token among its recipients): False means certainly not. No query:
    what bulk imports check before running the whole file stage."""
    references = _references_of(message)
    for value in references.message_ids:
        if isinstance(value, str) and MESSAGE_ID_PREFIX in value.lower():
            return True
    return any(
        isinstance(address, str) and _RECIPIENT_DETAIL.search(address)
        for address in references.recipients
    )


def subject_reference_pattern(references: Iterable[str]) -> re.Pattern[str] | None:
    """A pattern finding any of `references` (the agency's dossier references)
    in a subject, case-insensitively, boundaries aside: a superset of what
    `dossiers_from_subject` finds, for checking a whole batch of subjects with
    one query for the references. None when there are none."""
    texts = sorted({reference for reference in references if reference}, key=len, reverse=True)
    if not texts:
        return None
    return re.compile("|".join(re.escape(text) for text in texts), re.IGNORECASE)


def reference_matches(
    agency: Agency,
    message: ParsedMessage | Message,
    *,
    sender_is_participant: bool | Callable[[Dossier], bool] | None = None,
    envelope_recipients: Iterable[str] = (),
) -> list[ReferenceMatch]:
    """Every dossier `message` names through the references Lanterne controls:
    the Message-ID channel, the reply-address channel, then the subject
    (bracketed tags first). Certain matches come first.

    Message-ID and reply-address matches are certain: they are signed. A
    subject tag is certain only when the sender takes part in that dossier;
    otherwise it is a suggestion, and the mail waits in triage with that
    dossier first (help desks that trusted subject tags alone filed mail into
    the wrong tickets). `sender_is_participant` decides: a flag, a callable
    given the dossier, or None to ask `sender_participates` about the From
    address. `envelope_recipients` are the RCPT TO addresses of the delivery,
    when known.

    Several dossiers may come back, even as certain; choosing among them (or
    sending the mail to triage) is the filing stage's decision."""
    if isinstance(message, Message) and message.agency_id != agency.pk:
        raise ValueError("the message belongs to another agency")
    references = _references_of(message)
    matches: list[ReferenceMatch] = []

    by_id = dossier_from_message_ids(agency, references.message_ids)
    if by_id.dossier is not None:
        matches.append(
            ReferenceMatch(
                by_id.dossier, ReferenceChannel.MESSAGE_ID, certain=True, evidence=by_id.evidence
            )
        )

    recipients = (*references.recipients, *envelope_recipients)
    by_address = dossier_from_recipients(agency, recipients)
    if by_address.dossier is not None:
        matches.append(
            ReferenceMatch(
                by_address.dossier,
                ReferenceChannel.REPLY_ADDRESS,
                certain=True,
                evidence=by_address.evidence,
            )
        )

    def participates(dossier: Dossier) -> bool:
        if sender_is_participant is None:
            return sender_participates(dossier, references.from_address)
        if callable(sender_is_participant):
            return bool(sender_is_participant(dossier))
        return sender_is_participant

    for found in dossiers_from_subject(agency, references.subject):
        matches.append(
            ReferenceMatch(
                found.dossier,
                ReferenceChannel.SUBJECT_TAG,
                certain=participates(found.dossier),
                evidence=found.text,
            )
        )
    matches.sort(key=lambda match: not match.certain)
    return matches
