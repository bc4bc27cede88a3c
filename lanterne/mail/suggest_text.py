"""How the learned suggestions (`lanterne.mail.suggest`) read a message:
the words of its text model and the folded text in which condominiums and
lots are looked for.

These are functions of the message's text alone — no Django, no numpy, no
agency — so that the parse workers of a bulk import can prepare them
(`PreparedText`, `lanterne.mail.parallel`) while the importing process
does the rest: on an import that leaves most mail in triage, reading the
text is a third of what suggesting dossiers costs, and the importing
process is the one the others wait for. The suggestions prepare the text
themselves for a message nothing prepared (one received by SMTP, a
re-filing), and whenever the prepared text is not the message's own: the
same numbers either way.

Two functions stand for library ones, faster and kept equal by tests:
`fold` for the rules' `filing.text_fold`, and `terms` for the analyser of
scikit-learn's TfidfVectorizer with the settings `suggest._Vocabulary`
states (accents stripped, lower case, words of two letters or more, and
their pairs).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .parsing import ParsedMessage

__all__ = [
    "BODY_CHARS",
    "TOKEN_PATTERN",
    "PreparedText",
    "fold",
    "mail_text",
    "prepared_text",
    "terms",
    "words",
]

# Characters of a body the text model reads: the new text, not the quoted
# history or signature.
BODY_CHARS = 3000
# The words of the text model: two word characters or more
# (scikit-learn's default token pattern).
TOKEN_PATTERN = r"(?u)\b\w\w+\b"
# The same words, found a third faster: runs of word characters are taken
# whole, so the boundaries need no checking.
_WORD = re.compile(r"\w\w+")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
# "lot 12", "lot n° 12", "lots 12 et 14", "lot no 3b" (text folded).
LOT = re.compile(
    r"\blots?\s*(?:n\s*[°o]\.?\s*|numero\s*|no\.?\s*|#\s*)?"
    r"(\d{1,4}[a-z]?(?:\s*(?:,|et|&|/)\s*\d{1,4}[a-z]?)*)\b"
)
_LOT_NUMBER = re.compile(r"\d{1,4}[a-z]?")


def mail_text(subject: str, body: str) -> str:
    """What the text model reads of a message: its subject twice (short, and
    saying what the mail is about), then the start of its body."""
    return f"{subject}\n{subject}\n{body[:BODY_CHARS]}"


def _without_marks(decomposed: str) -> str:
    """`decomposed` (NFKD) without its combining marks: what `text_fold`
    and scikit-learn's `strip_accents_unicode` do with a Python loop over
    every character, done with one `str.replace` per mark the text holds (a
    French mail holds a handful: acute, grave, circumflex, diaeresis,
    cedilla) — a tenth of the time."""
    if decomposed.isascii():
        return decomposed
    for character in set(_NON_ASCII.findall(decomposed)):
        if unicodedata.combining(character):
            decomposed = decomposed.replace(character, "")
    return decomposed


def fold(text: str) -> str:
    """`filing.text_fold(text)`, the same string: compatibility-normalised,
    casefolded, without accents, with single spaces."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    return " ".join(_without_marks(unicodedata.normalize("NFKD", text)).split())


def _strip_accents(text: str) -> str:
    """scikit-learn's `strip_accents_unicode(text)`, the same string."""
    if text.isascii():
        return text
    return _without_marks(unicodedata.normalize("NFKD", text))


def words(text: str) -> list[str]:
    """The words of `text` for the text model: lower case, without
    accents, of two letters or more, in order."""
    return _WORD.findall(_strip_accents(text.lower()))


def pairs(found: list[str]) -> list[str]:
    """The pairs of consecutive words, as the text model's terms write them."""
    return list(map(" ".join, zip(found, found[1:], strict=False)))


def terms(text: str) -> list[str]:
    """The terms of `text`: its words, then its pairs of words — the
    vectorizer's `build_analyzer()(text)`, the same list."""
    found = words(text)
    return found + pairs(found)


def lot_numbers(folded: str) -> tuple[str, ...]:
    """The lot numbers a folded text names ("lot 12", "lots 3 et 4"),
    without leading zeros, each once, in order: the suggestions keep those
    of the agency's lots."""
    numbers: list[str] = []
    if "lot" not in folded:  # what the pattern needs, found far faster
        return ()
    for match in LOT.finditer(folded):
        for number in _LOT_NUMBER.findall(match[1]):
            number = number.lstrip("0") or "0"
            if number not in numbers:
                numbers.append(number)
    return tuple(numbers)


@dataclass(frozen=True)
class PreparedText:
    """A message's text as the suggestions read it, prepared ahead: `text`
    (`mail_text`) says which text it is, for the suggestions use it only for
    a message whose own text is that one."""

    text: str
    words: list[str]
    folded: str
    lot_numbers: tuple[str, ...]

    @classmethod
    def of(cls, text: str) -> PreparedText:
        folded = fold(text)
        return cls(text=text, words=words(text), folded=folded, lot_numbers=lot_numbers(folded))


def prepared_text(parsed: ParsedMessage) -> PreparedText | None:
    """The text of a parsed message as the suggestions will read it once it
    is a `Message` (its subject, its new text or else its whole text); None
    for machine mail, which learned suggestions never concern."""
    if parsed.is_auto_reply or parsed.is_bounce or parsed.is_bulk:
        return None
    return PreparedText.of(mail_text(parsed.subject or "", parsed.new_text or parsed.text or ""))
