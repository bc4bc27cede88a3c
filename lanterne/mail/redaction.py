"""Finding and masking the personal data in the text of a published mail (issue 5).

Council members and co-owners are served a redacted text, in which the
personal data of people other than the viewer is masked: phone numbers (French
and international formats), e-mail addresses, IBANs and the postal addresses of
private persons. Staff see the original. The RGPD and the CNIL's 2022 guidance
on condominiums ask that each person sees only what their role needs; a
co-owner's mobile number quoted at the bottom of a contractor's reply is not
for the whole building.

This module is pure: text in, spans or text out, no database. The publishing
stage calls `personal_data_spans` once, when a message is published, stores the
spans (`Span.as_json`) and then `masked` serves each viewer the text with
every span replaced by a French label, except the spans whose key is the
viewer's own data (`reveal`).

A span's **key** is the normalised value, the same for every way of writing
it, so that the data a person is known by (`contact_keys`) can be compared
with what a mail contains:

- phone: E.164 (``+33612345678`` for "06 12 34 56 78", "+33 (0)6 12 34 56 78",
  "06.12.34.56.78"…);
- e-mail: the lower-cased address;
- IBAN: compact and upper-case (``FR7630006000011234567890189``);
- address: number and street, folded (``12 bis rue des lilas``; street type
  abbreviations spelt out, accents, case and punctuation removed), without
  the postal code and city.

Detection prefers masking too much to leaking: a ten-digit number that could
be an invoice number and a phone number is taken for a phone, unless the words
just before it name a reference ("facture n°", "réf.", "contrat"…) and none
names a phone. What is *not* personal data of private persons — the agency's
and its staff's phones, the agency's mail domain, the condominium's own
address — is given by the caller (`keep_keys`, `keep_email_domains`).

Known limits, each a choice: a street name written all in lower case is only
taken for an address before a postal code ("12 rue des lilas 75011 paris"),
since "1 place de parking" is no address; French bank details written as a RIB
without an IBAN are not detected; toll-free, premium-rate and shared-cost
numbers are services, not persons, and are never masked.

Every regular expression is compiled once, at import, and written so that no
input makes it backtrack more than a bounded amount per position: detection is
linear in the length of the text.
"""

from __future__ import annotations

import enum
import re
import sys
import unicodedata
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass

import phonenumbers
from django.utils.translation import gettext as _
from stdnum import iban as stdnum_iban

__all__ = [
    "DataKind",
    "Span",
    "address_key",
    "contact_keys",
    "email_key",
    "iban_key",
    "masked",
    "personal_data_spans",
    "phone_key",
]

DEFAULT_REGION = "FR"


class DataKind(enum.StrEnum):
    """The kinds of personal data that are masked."""

    PHONE = "phone"
    EMAIL = "email"
    IBAN = "iban"
    ADDRESS = "address"


@dataclass(frozen=True)
class Span:
    """One piece of personal data: ``text[start:end]``, of a kind, with its key
    (the normalised value, compared with the viewer's own data)."""

    start: int
    end: int
    kind: DataKind
    key: str

    def __post_init__(self) -> None:
        if not (0 <= self.start < self.end):
            raise ValueError(f"invalid span offsets {self.start}:{self.end}")
        if not isinstance(self.kind, DataKind):
            raise ValueError(f"invalid span kind {self.kind!r}")

    def as_json(self) -> list[int | str]:
        """``[start, end, kind, key]``, to store in a JSONField."""
        return [self.start, self.end, self.kind.value, self.key]

    @classmethod
    def from_json(cls, row: list[int | str]) -> Span:
        """The span stored by `as_json`; ValueError on anything else."""
        if not isinstance(row, list | tuple) or len(row) != 4:
            raise ValueError(f"invalid span {row!r}")
        start, end, kind, key = row
        if (
            not isinstance(start, int)
            or isinstance(start, bool)
            or not isinstance(end, int)
            or isinstance(end, bool)
            or not isinstance(kind, str)
            or not isinstance(key, str)
        ):
            raise ValueError(f"invalid span {row!r}")
        return cls(start, end, DataKind(kind), key)


# --- Phones -----------------------------------------------------------------

# Words that, just before a number, make it a reference and not a phone:
# "Facture n° 0123456789", "Réf. 0612345678", "n° de contrat : 0145…".
# Bare "n°" and "numéro" are not among them: "mon numéro : 06 12 34 56 78"
# is a phone.
_REFERENCE_NOUNS = (
    r"facture|fact|commande|cde|contrat|police|sinistre|dossier|lot|ticket|devis|avoir|"
    r"bon|siret|siren|tva|rcs|r[ée]f(?:[ée]rence)?|identifiant|matricule|adh[ée]rent|"
    r"compte|abonn[ée]|compteur|pdl|prm|pce"
)
_REFERENCE_BEFORE = re.compile(
    rf"""(?:
        \b(?:{_REFERENCE_NOUNS})\b\.?(?:[ \t]+[^\W\d_]+)?      # "facture", "référence client"
        | \b(?:n[°º]|num[ée]ro)[ \t]*(?:de[ \t]+|d['’][ \t]*)?client\b
    )[ \t]*(?:n[°º]\.?)?[ \t]*[:#]?[ \t]*\Z""",
    re.IGNORECASE | re.VERBOSE,
)
_PHONE_LABEL = re.compile(
    r"\b(?:t[ée]l|t[ée]l[ée]phone|phone|portable|port|mobile|gsm|fax|t[ée]l[ée]copie|"
    r"standard|ligne|appel(?:er|ez)?|joindre|joignable|whatsapp|sms)\b",
    re.IGNORECASE,
)
# How far back, on the same line, the words before a number are read.
_LABEL_WINDOW = 40
_CLAUSE_MARKS = ("\n", "]", ";", "|", "—", "–")
# "06/12/34/56/78": libphonenumber refuses slash-separated numbers, which
# look like dates to it; five pairs of digits are no date.
_FRENCH_SLASHED_PHONE = re.compile(r"(?<![\w/.-])0[1-9](?:/\d{2}){4}(?![\w/])")
# Numbers of services, not of persons: free, premium-rate and shared-cost
# numbers ("Numéro vert 0 800 123 456") are never masked.
_SERVICE_NUMBER_TYPES = frozenset(
    {
        phonenumbers.PhoneNumberType.TOLL_FREE,
        phonenumbers.PhoneNumberType.PREMIUM_RATE,
        phonenumbers.PhoneNumberType.SHARED_COST,
    }
)


def phone_key(raw: str, region: str = DEFAULT_REGION) -> str | None:
    """The E.164 form of a phone number written in any usual way, national
    numbers read in `region`; None if `raw` is not a valid number."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _reads_as_reference(text: str, start: int) -> bool:
    """Whether the words just before ``text[start]`` name a reference (an
    invoice, a contract…) rather than a phone ("Contact sinistre : 06…" is a
    phone, "Tél. sinistre : 06…" too)."""
    window_start = max(0, start - _LABEL_WINDOW)
    # Only the words of the same line and clause count: neither the "Tél" of
    # "Tél 01 43 55 66 77 ; facture n° 0123456789" nor a mask label
    # ("[téléphone masqué] ; facture n° …") speaks for the number after it.
    clause_start = max(text.rfind(mark, window_start, start) for mark in _CLAUSE_MARKS) + 1
    before = text[max(window_start, clause_start) : start]
    return bool(_REFERENCE_BEFORE.search(before)) and not _PHONE_LABEL.search(before)


def _phone_spans(text: str) -> Iterator[Span]:
    # libphonenumber's matcher, with leniency VALID, already refuses dates,
    # amounts, SIRET/SIREN numbers, postal codes and most references: a
    # candidate must be a valid number of its country and be delimited as
    # phone numbers are. Its default cap of 65,535 candidates would leave the
    # end of a long mail unread: no cap.
    matcher = phonenumbers.PhoneNumberMatcher(
        text, DEFAULT_REGION, leniency=phonenumbers.Leniency.VALID, max_tries=sys.maxsize
    )
    found = [(match.start, match.end, match.number) for match in matcher]
    for slashed in _FRENCH_SLASHED_PHONE.finditer(text):
        number = phonenumbers.parse(slashed.group().replace("/", ""), DEFAULT_REGION)
        if phonenumbers.is_valid_number(number):
            found.append((slashed.start(), slashed.end(), number))
    for start, end, number in found:
        if phonenumbers.number_type(number) in _SERVICE_NUMBER_TYPES:
            continue
        if _reads_as_reference(text, start):
            continue
        key = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        yield Span(start, end, DataKind.PHONE, key)


# --- E-mail addresses --------------------------------------------------------

# A practical, not RFC 5322-complete, address: the local part of what people
# write, letters of any script included. "=", "/", "?" and "&" are left out so
# that "?email=jean@free.fr" in a link yields "jean@free.fr".
_LOCAL_CHARS = r"[\w%+~-]"
_LOCAL = rf"{_LOCAL_CHARS}+(?:[.'’]{_LOCAL_CHARS}+)*"
_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
_TLD = r"[^\W\d_]{2,63}"
_EMAIL = re.compile(
    rf"(?<![\w%+~.'’-])(?P<local>{_LOCAL})@(?P<domain>(?:{_LABEL}\.)+{_TLD})(?![\w-])"
)
# "jean [at] free [dot] fr", "jean(arobase)free.fr": written so to escape
# harvesters, still an address.
_OBFUSCATED_AT = r"[ \t]*[\[({][ \t]*(?:at|arobase)[ \t]*[\])}][ \t]*"
_OBFUSCATED_DOT = r"(?:\.|[ \t]*[\[({][ \t]*(?:dot|point)[ \t]*[\])}][ \t]*)"
_OBFUSCATED_EMAIL = re.compile(
    rf"(?<![\w%+~.'’-])(?P<local>{_LOCAL}){_OBFUSCATED_AT}"
    rf"(?P<domain>(?:{_LABEL}{_OBFUSCATED_DOT})+{_TLD})(?![\w-])",
    re.IGNORECASE,
)
_OBFUSCATED_DOT_ONLY = re.compile(_OBFUSCATED_DOT, re.IGNORECASE)
_MAILTO = "mailto:"


def email_key(raw: str) -> str:
    """The lower-cased address of `raw` ("Jean@Free.fr", "mailto:…", "<…>")."""
    value = raw.strip().strip("<>").strip()
    if value[: len(_MAILTO)].lower() == _MAILTO:
        value = value[len(_MAILTO) :]
    return value.lower()


def _email_domain_kept(key: str, keep_domains: frozenset[str]) -> bool:
    domain = key.rpartition("@")[2]
    return any(domain == kept or domain.endswith("." + kept) for kept in keep_domains)


def _email_spans(text: str) -> Iterator[Span]:
    for match in _EMAIL.finditer(text):
        start = match.start()
        # "mailto:" goes with the address, so that "jean@free.fr<mailto:jean@free.fr>"
        # (how Outlook writes a link in plain text) is not left half-masked.
        if text[max(0, start - len(_MAILTO)) : start].lower() == _MAILTO:
            start -= len(_MAILTO)
        yield Span(start, match.end(), DataKind.EMAIL, email_key(match.group()))
    for match in _OBFUSCATED_EMAIL.finditer(text):
        domain = _OBFUSCATED_DOT_ONLY.sub(".", match.group("domain"))
        key = email_key(f"{match.group('local')}@{domain}")
        yield Span(match.start(), match.end(), DataKind.EMAIL, key)


# --- IBANs ------------------------------------------------------------------

_IBAN_SEPARATORS = " \u00a0\u202f"
# A country code, two check digits and 11 to 30 more characters, in groups
# separated by single spaces or not at all; the longest run is a candidate,
# the checksum (ISO 13616, mod 97) and the country's format decide.
_IBAN_CANDIDATE = re.compile(
    r"(?<![^\W_])[A-Z]{2}[ \u00a0\u202f]?\d{2}(?:[ \u00a0\u202f]?[A-Za-z0-9]){11,30}(?![^\W_])"
)
_IBAN_MIN_LENGTH = 15  # Norway's


def iban_key(raw: str) -> str | None:
    """The compact upper-case IBAN, or None if `raw` is not a valid one
    (wrong checksum, unknown country, wrong length for its country)."""
    compact = "".join(raw.split()).replace("-", "").upper()
    if not stdnum_iban.is_valid(compact):
        return None
    return compact


def _iban_spans(text: str) -> Iterator[Span]:
    position = 0
    while match := _IBAN_CANDIDATE.search(text, position):
        span = _longest_iban(match.group(), match.start())
        if span is not None:
            yield span
            position = span.end
        else:
            position = match.start() + 1


def _longest_iban(candidate: str, offset: int) -> Span | None:
    """The longest valid IBAN at the start of `candidate`, ending at a group
    boundary: the candidate may run into the next word ("… 189 BIC BNPAFRPP")."""
    for end in range(len(candidate), 0, -1):
        if candidate[end - 1] in _IBAN_SEPARATORS or (
            end < len(candidate) and candidate[end] not in _IBAN_SEPARATORS
        ):
            continue
        compact = "".join(ch for ch in candidate[:end] if ch not in _IBAN_SEPARATORS)
        if len(compact) < _IBAN_MIN_LENGTH:
            return None
        if key := iban_key(compact):
            return Span(offset, offset + end, DataKind.IBAN, key)
    return None


# --- Postal addresses -------------------------------------------------------

_UPPER = "A-ZÀÂÄÇÉÈÊËÎÏÔÖÙÛÜŸÆŒ"
_CAPITALISED_WORD = rf"[{_UPPER}][^\W\d_]*"
_LETTERS = r"[^\W\d_]+"

# French street types and their usual abbreviations, with the spelt-out form
# the key uses. "Résidence", "domaine" and "lotissement" are left out: after a
# number they name a condominium more often than a street ("lot 3 Résidence
# Les Pins").
_STREET_TYPES = {
    "rue": "rue",
    "r.": "rue",
    "avenue": "avenue",
    "av.": "avenue",
    "av": "avenue",
    "ave": "avenue",
    "boulevard": "boulevard",
    "bd": "boulevard",
    "bld": "boulevard",
    "blvd": "boulevard",
    "bvd": "boulevard",
    "chemin": "chemin",
    "ch.": "chemin",
    "chem.": "chemin",
    "allée": "allee",
    "allee": "allee",
    "all.": "allee",
    "impasse": "impasse",
    "imp.": "impasse",
    "place": "place",
    "pl.": "place",
    "quai": "quai",
    "route": "route",
    "rte": "route",
    "rte.": "route",
    "cours": "cours",
    "crs": "cours",
    "passage": "passage",
    "square": "square",
    "sq.": "square",
    "villa": "villa",
    "cité": "cite",
    "sentier": "sentier",
    "voie": "voie",
    "esplanade": "esplanade",
    "promenade": "promenade",
    "parvis": "parvis",
    "faubourg": "faubourg",
    "fbg": "faubourg",
    "fg": "faubourg",
    "hameau": "hameau",
    "lieu-dit": "lieu dit",
    "chaussée": "chaussee",
    "montée": "montee",
    "ruelle": "ruelle",
    "sente": "sente",
    "traverse": "traverse",
    "venelle": "venelle",
    "carrefour": "carrefour",
    "rond-point": "rond point",
}
_STREET_TYPE = "(?i:{})".format(
    "|".join(
        re.escape(name) if name.endswith(".") else re.escape(name) + r"(?![^\W_])"
        for name in sorted(_STREET_TYPES, key=len, reverse=True)
    )
)
_NUMBER = r"\d{1,4}(?:[ \t]*[-/][ \t]*\d{1,4})?"
_NUMBER_SUFFIX = r"(?:[ \t]*(?i:bis|ter|quater|quinquies)(?![^\W_])|[A-D](?![^\W_]))?"
_PARTICLE = r"(?:(?:de|du|des|la|le|les|aux|au|et|sur|sous|en|lès)[ \t]+|[ld]['’][ \t]*)"
# A street name as written in a signature: capitalised words, joined by
# spaces, hyphens and lower-case particles ("des Lilas", "Jean-Jaurès",
# "du Général de Gaulle", "du 8 Mai 1945", "DES LILAS").
_NAME_WORD = rf"(?:(?:\d{{1,4}}(?:er|e)?[ \t]+)?{_CAPITALISED_WORD}|\d{{4}}(?!\d))"
_NAME_SEPARATOR = r"(?:[ \t]+|[ \t]*-[ \t]*)"
_STREET_NAME = (
    rf"{_PARTICLE}{{0,3}}{_NAME_WORD}(?:{_NAME_SEPARATOR}{_PARTICLE}{{0,3}}{_NAME_WORD}){{0,7}}"
)
# A street name in any case, only trusted before a postal code
# ("12 rue des lilas 75011 paris"); a few words at most.
_ANY_CASE_WORD = rf"{_LETTERS}(?:['’]{_LETTERS})?"
_STREET_NAME_ANY_CASE = rf"{_ANY_CASE_WORD}(?:{_NAME_SEPARATOR}{_ANY_CASE_WORD}){{0,5}}"
_POSTAL_CODE = r"\d{2}[ \t]?\d{3}(?!\d)"
_CITY_PARTICLE = r"(?:(?:en|sur|sous|le|la|les|lès|de|du|des|aux|au|et)[ \t]*-[ \t]*|[ld]['’])"
_CITY = (
    rf"(?:(?i:le|la|les)[ \t]+|(?i:l)['’])?{_LETTERS}"
    rf"(?:[ \t]*-[ \t]*{_CITY_PARTICLE}*{_LETTERS})*"
    r"(?:[ \t]+(?i:cedex)(?:[ \t]+\d{1,2}(?!\d))?)?"
    r"(?:[ \t]+\d{1,2}(?:e|er|ème)(?![^\W_]))?"
)
# Between the street and the postal code: a comma, a dash, a bar or a bullet
# (signatures), or a line break (an address on two lines, quoted or not).
_BEFORE_POSTAL_CODE = r"[ \t]*[,–|•·-]?[ \t]*(?:\r?\n(?:[ \t]*>)*[ \t]*)?"
_ADDRESS = re.compile(
    rf"""(?<![\w.,/-])
    {_NUMBER}{_NUMBER_SUFFIX}[ \t]*,?[ \t]*{_STREET_TYPE}[ \t]*
    (?:
        {_STREET_NAME}(?:{_BEFORE_POSTAL_CODE}{_POSTAL_CODE}[ \t]+{_CITY})?
        | {_STREET_NAME_ANY_CASE}{_BEFORE_POSTAL_CODE}{_POSTAL_CODE}[ \t]+{_CITY}
    )""",
    re.VERBOSE,
)
# Reading a known address for its key: number, street type, then the name up
# to a comma, a line break or the postal code.
_ADDRESS_PARTS = re.compile(
    rf"""(?<![\w.,/-])
    (?P<number>{_NUMBER})(?P<suffix>{_NUMBER_SUFFIX})[ \t]*,?[ \t]*
    (?P<type>{_STREET_TYPE})[ \t]*
    (?P<name>[^\s,;][^\n,;]*?)(?=[ \t]*(?:[,;\r\n]|[–|•·-][ \t]*{_POSTAL_CODE}|{_POSTAL_CODE}|\Z))
    """,
    re.VERBOSE,
)
_NOT_ALPHANUMERIC = re.compile(r"[\W_]+")


def _fold(value: str) -> str:
    """Lower-case, without accents, words separated by single spaces."""
    decomposed = unicodedata.normalize("NFKD", value)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NOT_ALPHANUMERIC.sub(" ", bare.lower()).strip()


def address_key(raw: str) -> str | None:
    """The folded number and street of the first postal address in `raw`
    (``12 bis rue des lilas`` for "12 bis, Rue des Lilas\\n75011 Paris"), or
    None if `raw` has no street number followed by a street type and name."""
    match = _ADDRESS_PARTS.search(raw)
    if match is None:
        return None
    street_type = _STREET_TYPES[match.group("type").lower()]
    name = _fold(match.group("name"))
    if not name:
        return None
    parts = (match.group("number"), match.group("suffix"), street_type, name)
    return _fold(" ".join(parts))


def _address_spans(text: str) -> Iterator[Span]:
    for match in _ADDRESS.finditer(text):
        key = address_key(match.group())
        if key is not None:
            yield Span(match.start(), match.end(), DataKind.ADDRESS, key)


def contact_keys(
    *,
    emails: Iterable[str] = (),
    phones: Iterable[str] = (),
    postal_addresses: Iterable[str] = (),
) -> frozenset[str]:
    """The keys of one person's (or the agency's, or a condominium's) own data,
    to compare with `Span.key`: what to keep unmasked for everyone
    (`keep_keys`) or to reveal to that person (`reveal`). Values that are not
    a valid phone or address are left out."""
    keys = {email_key(email) for email in emails if email.strip()}
    keys.update(key for phone in phones if (key := phone_key(phone)) is not None)
    keys.update(key for address in postal_addresses if (key := address_key(address)) is not None)
    return frozenset(keys)


# --- Detection and masking --------------------------------------------------

# When two detections overlap, the first kind here wins: an IBAN's digits or
# an address's local part are not phones.
_PRECEDENCE = (DataKind.IBAN, DataKind.EMAIL, DataKind.PHONE, DataKind.ADDRESS)


def personal_data_spans(
    text: str,
    *,
    keep_keys: Collection[str] = (),
    keep_email_domains: Collection[str] = (),
) -> list[Span]:
    """Spans of personal data in `text`, sorted, non-overlapping. Values whose key is in
    keep_keys (e.g. the agency's and staff's own phones, the condominium's address) and e-mail
    addresses at a domain in keep_email_domains (the agency's domain, sub-domains included) are
    not personal data of private persons: no span for them."""
    candidates: dict[DataKind, Iterable[Span]] = {
        DataKind.IBAN: _iban_spans(text),
        DataKind.EMAIL: _email_spans(text),
        DataKind.PHONE: _phone_spans(text),
        DataKind.ADDRESS: _address_spans(text),
    }
    taken = bytearray(len(text))
    chosen: list[Span] = []
    for kind in _PRECEDENCE:
        for span in candidates[kind]:
            # Overlaps are resolved before the kept values are dropped, so that
            # the digits of a kept address or e-mail never come back as a phone.
            if any(taken[span.start : span.end]):
                continue
            taken[span.start : span.end] = b"\x01" * (span.end - span.start)
            chosen.append(span)
    kept_domains = frozenset(
        domain.strip().lstrip("@.").lower() for domain in keep_email_domains if domain.strip()
    )
    kept_keys = frozenset(keep_keys)
    return sorted(
        (
            span
            for span in chosen
            if span.key not in kept_keys
            and not (span.kind is DataKind.EMAIL and _email_domain_kept(span.key, kept_domains))
        ),
        key=lambda span: span.start,
    )


def _label(kind: DataKind) -> str:
    labels = {
        DataKind.PHONE: _("[téléphone masqué]"),
        DataKind.EMAIL: _("[adresse e-mail masquée]"),
        DataKind.IBAN: _("[IBAN masqué]"),
        DataKind.ADDRESS: _("[adresse masquée]"),
    }
    return labels[kind]


def masked(text: str, spans: Iterable[Span], *, reveal: Collection[str] = ()) -> str:
    """`text` with each span replaced by a French label — « [téléphone masqué] »,
    « [adresse e-mail masquée] », « [IBAN masqué] », « [adresse masquée] » — except spans whose
    key is in `reveal` (the viewer's own data). Labels through gettext.

    Spans that do not fit `text` (out of range, overlapping) raise ValueError:
    they were computed on another text, and masking with them could show what
    they were meant to hide."""
    revealed = frozenset(reveal)
    pieces: list[str] = []
    position = 0  # end of the text copied so far
    previous_end = 0
    for span in sorted(spans, key=lambda span: span.start):
        if span.start < previous_end or span.end > len(text):
            raise ValueError(f"span {span.start}:{span.end} does not fit the text")
        previous_end = span.end
        if span.key in revealed:
            continue
        pieces.append(text[position : span.start])
        pieces.append(_label(span.kind))
        position = span.end
    pieces.append(text[position:])
    return "".join(pieces)
