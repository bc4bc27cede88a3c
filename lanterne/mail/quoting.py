"""Telling apart, in the text of a reply, what its author wrote from the
history it quotes and from the signature under it.

A timeline shows what each message *adds*; the quoted history is already on the
timeline (it is the previous messages) and is only shown on request. The rules
are line-based and deliberately conservative: when in doubt a line stays in the
new text, because hiding what someone wrote is worse than showing a quote twice.

The history starts at the first of:

- an Outlook header block: "De : … / Envoyé : … / À : … / Objet : …" (or
  "From: / Sent: / To: / Subject:", and German, Italian, Spanish, Dutch…),
  optionally under a line of underscores;
- a separator: "-----Original Message-----", "-----Message d'origine-----",
  "-------- Message transféré --------", "---------- Forwarded message ---------",
  "Begin forwarded message:", "Début du message réexpédié :"…;
- an attribution line, possibly wrapped over up to four lines: Gmail's
  "Le lun. 3 mars 2026 à 10:12, X <x@y> a écrit :", Apple's and Thunderbird's
  "On … wrote:", and their German, Spanish, Italian, Dutch… forms;
- otherwise, a trailing block of lines starting with ">".

An attribution followed by a ">" block and then by unquoted text is a
bottom-posted reply (the new text is under the quote) or an inline reply
(answers between quoted lines): the new text is then everything the author
wrote, with the quoted lines kept where they give it its meaning.

The signature is what follows the RFC 3676 §4.3 delimiter "-- " (also "--",
since many clients strip the trailing space), a line of em-dashes or
underscores over a short block, or a mobile signature ("Envoyé de mon iPhone",
"Sent from my iPhone", "Envoyé depuis mon mobile", "Obtenir Outlook pour iOS"…).
Closing formulas ("Cordialement, Jean Dupont") stay in the new text.

When none of the rules above finds a history, mail-parser-reply (which knows
headers in more languages: Danish, Polish, Swedish, Czech, Japanese…) gets a
try, and its header is mapped back onto our lines.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from itertools import chain

__all__ = ["split_reply"]

# Longest text handed to mail-parser-reply: its regular expressions are
# fine on mail-sized text but not meant for megabytes.
_LIBRARY_MAX_CHARS = 50_000
_HEADER_SCAN_MAX_LINES = 5_000

# Maximum number of physical lines an attribution is wrapped over
# ("On Wed, Dec 9, Mister Example\n<mrmister@example.com>\nwrote:").
_ATTRIBUTION_MAX_LINES = 4

_QUOTED = re.compile(r"^\s*>")

# Verbs closing an attribution line, in the languages our correspondents use
# (and a few more, at no cost).
_WROTE = (
    r"(?:wrote|a\s+[ée]crit|schrieb|escribi[óo]|ha\s+scritto|schreef|escreveu|skrev|"
    r"kirjoitti|napisa[łl](?:\(a\))?|написал(?:\(а\)|а)?|írta|yazdı)"
)
# After the verb: the colon, or the author's address then the colon
# ("schreef Company Questions <questions@company.com>:"). Anything else
# ("Le 3 mars, Jean a écrit au syndic pour …") is a sentence, not a header.
_AFTER_WROTE = r"(?:\s*:|[^:\n]{0,80}[@<][^:\n]{0,80}:)\s*$"
_ATTRIBUTION_START = re.compile(
    r"^(?:On|Le|Am|El|Il|Op|Em|Den|Dne|W\s+dniu|In\s+data)\b\s*.{3,400}?(?:"
    + _WROTE
    + _AFTER_WROTE
    # "On Wed, 14 Nov 2018 08:14:43 -0200 John Doe <john@doe.com> wrote", no colon.
    + r"|[>@]\S*\s+wrote\s*$)",
    re.IGNORECASE,
)
# An attribution in another form ("02.04.2012 14:20 пользователь X написал:",
# "2013.02.08. 7:31 keltezéssel, "X" írta:"): the verb at the end of a line
# that also holds a date or an address.
_ATTRIBUTION_LOOSE = re.compile(r"^.{0,400}?\b" + _WROTE + _AFTER_WROTE, re.IGNORECASE)
_HAS_DATE_OR_ADDRESS = re.compile(r"\d|@")
# Gmail's attribution in some locales has no verb at all:
# "2017-11-24 16:32 GMT+01:00 Baptiste <b@example.com>:",
# "ср, 30 апр. 2025 г. в 15:19, John Doe <doe@example.com>:".
_ATTRIBUTION_TIME_ADDRESS = re.compile(
    r"^.{0,200}\b\d{1,2}[:.h]\d{2}\b.{0,200}<[^<>\s@]+@[^<>\s]+>\s*:\s*$"
)

# Outlook-style header blocks. Field names may be starred ("*From:*", the
# plain-text rendering of bold) and followed by a space before the colon
# (French typography: "De : ").
_FIELD = r"^\**\s*(?:{names})\s*\**\s*:"
_FROM_FIELD = re.compile(
    _FIELD.format(names=r"From|De|Von|Da|Van|Fr[åa]n|Fra|Od|Lähettäjä|От|Från"), re.IGNORECASE
)
_OTHER_FIELD = re.compile(
    _FIELD.format(
        names=r"Sent|Envoy[ée](?:\s+le)?|Date|To|[ÀA]|Cc|Subject|Objet|Gesendet|An|Betreff|"
        r"Datum|Inviato|Oggetto|Enviado|Para|Asunto|Fecha|Verzonden|Aan|Onderwerp|"
        r"Skickat|Ämne|Till|Sendt|Emne|Til|Wysłane|Temat|Do|Отправлено|Кому|Тема"
    ),
    re.IGNORECASE,
)
_OUTLOOK_BLOCK_SPAN = 6  # lines after "From:" in which the other fields must appear

_UNDERSCORES = re.compile(r"^\s*_{10,}\s*$")
# "-------- Oprindelig besked --------" in any language, when a header block follows.
_ANY_SEPARATOR = re.compile(r"^\s*-{3,}\s*[^-\s][^-]{2,50}-{3,}\s*$")
_SEPARATOR = re.compile(
    r"^\s*-{2,}\s*(?:Original\s+Message|Oprindelig\s+besked|Message\s+d['’]origine|Forwarded\s+message|"
    r"Message\s+transf[ée]r[ée]|Mail\s+transf[ée]r[ée]|Courriel\s+(?:original|transf[ée]r[ée])|"
    r"Ursprüngliche\s+Nachricht|Original-Nachricht|Weitergeleitete\s+Nachricht|"
    r"Messaggio\s+originale|Messaggio\s+inoltrato|Mensaje\s+original|Mensaje\s+reenviado|"
    r"Oorspronkelijk\s+bericht|Doorgestuurd\s+bericht|Oprindelig\s+meddelelse|"
    r"Ursprungligt\s+meddelande|Alkuperäinen\s+viesti)\s*-{2,}\s*$"
    r"|^\s*(?:Begin\s+forwarded\s+message|D[ée]but\s+du\s+message\s+(?:r[ée]exp[ée]di[ée]|"
    r"transf[ée]r[ée])|Anfang\s+der\s+weitergeleiteten\s+Nachricht)\s*:\s*$"
    # Zoho: "---- On Wed, 24 Feb 2021 14:02:50 +0530 john@gmail.com wrote ----"
    r"|^\s*-{2,}\s*(?:On|Le)\b.*\b" + _WROTE + r"\s*-{2,}\s*$",
    re.IGNORECASE,
)

# Signatures.
_SIG_DELIMITER = re.compile(r"^--\s?$")  # RFC 3676 §4.3 ("-- "), trailing space often lost
_SIG_RULE = re.compile(r"^\s*(?:[—–]+|_{3,})\s*$")  # em-dash or underscore rule over a short block
_MOBILE = re.compile(
    r"^\s*(?:Envoy[ée]\s+(?:de|depuis|à\s+partir\s+de)\s+(?:mon|ma|l['’]|Outlook|Yahoo|Mail)"
    r"|Sent\s+(?:from|with|via)\s+(?:my|Outlook|Yahoo|Mail|TypeApp|Sparrow|BlueMail|AOL)"
    r"|(?:Get|Obtenir|Télécharger)\s+Outlook\s+(?:for|pour)\b"
    r"|Envoy[ée]\s+avec\s+(?:Sparrow|BlueMail|Spark)"
    r"|Gesendet\s+von\s+(?:meinem|Outlook)|Enviado\s+desde\s+mi|Inviato\s+da(?:l)?\s+mi[oa]"
    r"|Verzonden\s+vanaf\s+mijn)\b[^,]{0,80}$",
    re.IGNORECASE,
)
_SIGNATURE_MAX_LINES = 20  # a "-- " block longer than this is content, not a signature
_SIG_RULE_MAX_LINES = 8
_MOBILE_MAX_LINES_AFTER = 2


def _is_blank(line: str) -> bool:
    return not line.strip()


def _is_quoted(line: str) -> bool:
    return bool(_QUOTED.match(line))


def _unquote(line: str) -> str:
    """The line without its leading ">" marks (for matching headers inside quotes)."""
    return re.sub(r"^(?:\s*>)+\s?", "", line)


def _attribution_end(lines: Sequence[str], start: int, *, quoted: bool = False) -> int | None:
    """If an attribution ("Le … a écrit :", "On … wrote:") begins at `start`,
    return the index just after its last line; wrapped forms are joined over
    up to four lines, never across a blank line."""
    window = lines[start : start + _ATTRIBUTION_MAX_LINES]
    if not any(":" in line or "wrote" in line.lower() for line in window):
        # Every attribution form ends with a colon, or with "wrote": most
        # lines of a mail are rejected here, before any pattern runs.
        return None
    parts: list[str] = []
    for index in range(start, min(start + _ATTRIBUTION_MAX_LINES, len(lines))):
        line = _unquote(lines[index]) if quoted else lines[index]
        if not quoted and index > start and re.match(r"^\s*>\s*:\s*$", line):
            # "… <test@example.com" / ">:": the closing ">" wrapped alone.
            line = line.strip()
        elif _is_blank(line) or (not quoted and _is_quoted(line)):
            return None
        parts.append(line.strip())
        joined = " ".join(parts)
        if len(joined) > 500:
            return None
        if _ATTRIBUTION_START.match(joined):
            return index + 1
        if len(parts) <= 2 and _ATTRIBUTION_TIME_ADDRESS.match(joined):
            return index + 1
        if (
            _ATTRIBUTION_LOOSE.match(joined)
            and _HAS_DATE_OR_ADDRESS.search(joined)
            and (len(parts) == 1 or re.search(r"\d", parts[0]))
        ):
            return index + 1
        starts_like_one = re.match(
            r"^(?:On|Le|Am|El|Il|Op|Em|Den|Dne|W|In)\b", parts[0], re.IGNORECASE
        )
        if not starts_like_one and (len(parts) > 1 or not re.search(r"\d", parts[0])):
            # Only a line that starts like an attribution, or a date line
            # wrapped once ("pe 20. lokakuuta 2017 klo 17.50 John Coe /
            # <john@example.com> kirjoitti:"), is worth joining.
            return None
    return None


def _outlook_block_at(lines: Sequence[str], start: int) -> bool:
    """Whether an Outlook-style header block ("De : …" then "Envoyé : …",
    "À : …", "Objet : …") starts at `start`."""
    if not _FROM_FIELD.match(lines[start].strip()):
        return False
    seen = 0
    for line in lines[start + 1 : start + 1 + _OUTLOOK_BLOCK_SPAN]:
        if _OTHER_FIELD.match(line.strip()):
            seen += 1
    # "À : abc@abc.be Objet : …" packs two fields on one line; one more
    # field after From is enough when From carries an address or a date.
    return seen >= 2 or (seen == 1 and bool(_HAS_DATE_OR_ADDRESS.search(lines[start])))


def _hard_header_at(lines: Sequence[str], index: int) -> bool:
    """A header after which everything is history, whatever follows it."""
    line = lines[index]
    if _SEPARATOR.match(line):
        return True
    if _UNDERSCORES.match(line) or _ANY_SEPARATOR.match(line):
        following = next((i for i in range(index + 1, len(lines)) if not _is_blank(lines[i])), None)
        return following is not None and _outlook_block_at(lines, following)
    return _outlook_block_at(lines, index)


def _next_nonblank(lines: Sequence[str], start: int) -> int | None:
    return next((i for i in range(start, len(lines)) if not _is_blank(lines[i])), None)


def _quoted_block_end(lines: Sequence[str], start: int) -> int:
    """Index of the first non-blank, unquoted line at or after `start`."""
    index = start
    while index < len(lines):
        if _is_blank(lines[index]) or _is_quoted(lines[index]) or _is_rewrapped_quote(lines, index):
            index += 1
        else:
            break
    return index


def _is_rewrapped_quote(lines: Sequence[str], index: int) -> bool:
    """An unquoted line squeezed between two quoted lines is the tail of a
    quoted line that a mail client re-wrapped without its ">" mark."""
    return (
        0 < index < len(lines) - 1
        and _is_quoted(lines[index - 1])
        and _is_quoted(lines[index + 1])
        and not _is_blank(lines[index])
    )


def _signature_start(lines: Sequence[str]) -> int | None:
    """Index of the first line of the signature in `lines` (the new text), if any."""
    # Non-blank lines after each line, counted once (long texts stay linear).
    after = [0] * (len(lines) + 1)
    for index in range(len(lines) - 1, -1, -1):
        after[index] = after[index + 1] + (0 if _is_blank(lines[index]) else 1)
    for index, line in enumerate(lines):
        remaining = after[index + 1]
        if _SIG_DELIMITER.match(line) and remaining <= _SIGNATURE_MAX_LINES:
            return index
        if _MOBILE.match(line) and remaining <= _MOBILE_MAX_LINES_AFTER:
            return index
        if index > 0 and _SIG_RULE.match(line) and 0 < remaining <= _SIG_RULE_MAX_LINES:
            rest = [item for item in lines[index + 1 :] if not _is_blank(item)]
            if (
                all(len(item) <= 80 for item in rest)
                and sum(item.rstrip().endswith((".", "!", "?")) for item in rest) <= 1
            ):
                return index
    return None


def _trailing_signature_start(lines: Sequence[str], after: int) -> int | None:
    """A signature written under the quoted history (some clients put it
    there): a delimiter after the last quoted line, with only a short block
    under it."""
    for index in range(after, len(lines)):
        if _is_quoted(lines[index]):
            continue
        if _SIG_DELIMITER.match(lines[index]) or _MOBILE.match(lines[index]):
            rest = [item for item in lines[index + 1 :] if not _is_blank(item)]
            if len(rest) <= _SIGNATURE_MAX_LINES and not any(_is_quoted(i) for i in rest):
                return index
        if not _is_blank(lines[index]):
            return None
    return None


# The languages mail-parser-reply is asked about: those whose header forms
# our own rules do not know (French, English, German, Spanish, Italian and
# Dutch are theirs). Each language costs about 0.4 ms per message in the
# library's pattern, which scans every position of the text.
_LIBRARY_LANGUAGES = ("da", "sv", "pl", "cs")

# What any header of those languages needs, cheaply recognised line by line
# (the library's pattern runs only when one is found): a separator line of
# dashes; an attribution line ending with a colon and its verb ("skrev",
# "napisał", "nadesłał", "napsal") on it or the two lines above (the
# pattern's `\s` may span lines); a Polish single header line ("Od:"); or two
# "Key:" lines at most three lines apart (the value may sit on the next
# lines).
_LIBRARY_SEPARATOR = re.compile(r"^-{5}", re.MULTILINE)
_LIBRARY_WROTE = re.compile(r"(?:skrev|napisa|nadesła|napsal)", re.IGNORECASE)
_LIBRARY_POLISH_FIELD = re.compile(r"^[>* ]*(?:od|wysłano|do|temat|data|dw):", re.IGNORECASE)
_LIBRARY_FIELD = re.compile(r"^[>* ]*(?:[^\W\d_][\w .'-]{0,40})?:")


def _library_may_find(normalised: str) -> bool:
    """Whether the library's header pattern could match anywhere in the
    (library-normalised) text: False means it certainly cannot."""
    if _LIBRARY_SEPARATOR.search(normalised):
        return True
    lines = normalised.split("\n")
    last_field: int | None = None
    for index, line in enumerate(lines):
        if line.endswith(":") and _LIBRARY_WROTE.search(
            " ".join(lines[max(0, index - 2) : index + 1])
        ):
            return True
        if _LIBRARY_POLISH_FIELD.match(line):
            return True
        if _LIBRARY_FIELD.match(line):
            if last_field is not None and index - last_field <= 3:
                return True
            last_field = index
    return False


@functools.cache
def _library_header_pattern() -> re.Pattern[str]:
    """mail-parser-reply's pattern of history headers for our languages,
    compiled once: the library builds and compiles it for every message it
    reads, which the parse stage cannot afford."""
    from mailparser_reply.parser import EmailMessage

    return EmailMessage(
        text="", languages=list(_LIBRARY_LANGUAGES), include_english=False
    ).HEADER_REGEX


def _library_normalise(text: str) -> str:
    """The text as mail-parser-reply reads it: every line stripped, and a
    line of underscores always starting a line of its own."""
    from mailparser_reply.constants import OUTLOOK_MAIL_SEPARATOR

    text = "\n".join(line.strip() for line in text.replace("\r\n", "\n").split("\n"))
    return re.sub(f"([^\n]){OUTLOOK_MAIL_SEPARATOR}", "\\1\n", text)


def _library_history_start(text: str, lines: Sequence[str]) -> int | None:
    """Ask mail-parser-reply's header patterns where the history starts, for
    header forms our rules do not know; map the answer back onto our lines.

    Only the library's header detection is used — the same pattern, and the
    same cutting of the text at each header, as its `EmailReplyParser.read`:
    the history starts at the header of its second reply. Its signature and
    disclaimer passes, which cost more than the rest of our parse stage and
    whose results we do not use, are skipped."""
    if len(text) > _LIBRARY_MAX_CHARS:
        return None
    try:
        normalised = _library_normalise(text)
        if not _library_may_find(normalised):
            return None
        found = _library_header_pattern().findall(normalised)
    except (re.error, RecursionError, ValueError, IndexError):
        return None
    headers = [header for header in chain.from_iterable(found) if header]
    # Cut the text at each header; a piece with no content is dropped, as
    # the library drops it: the second piece's header is where the history
    # starts.
    pieces_headers: list[str] = []
    position = 0
    previous_header = ""
    for header in headers:
        at = normalised.find(header, position + 1 if position > 0 else position)
        if normalised[position:at].strip():
            pieces_headers.append(previous_header)
        position = at if at >= 0 else 0
        previous_header = header
    pieces_headers.append(previous_header)
    if len(pieces_headers) < 2 or not pieces_headers[1].strip():
        return None
    first = next((item.strip() for item in pieces_headers[1].split("\n") if item.strip()), "")
    if not first:
        return None
    for index, line in enumerate(lines):
        if line.strip() == first and index > 0:
            return index
    return None


def _join(lines: Sequence[str]) -> str:
    """Lines back to text, without the blank lines around it."""
    return "\n".join(lines).strip("\n").rstrip()


def _split_signature(lines: Sequence[str]) -> tuple[str, str]:
    start = _signature_start(lines)
    if start is None:
        return _join(lines), ""
    return _join(lines[:start]), _join(lines[start:])


def split_reply(text: str) -> tuple[str, str, str]:
    """Split the text of a message into (new_text, quoted_text, signature).

    `new_text` is what the author wrote in this message; `quoted_text` is the
    history it quotes or forwards (from its header line on); `signature` the
    signature block under the new text. Joined, they hold every line of the
    text. French and English mail clients' forms are recognised (see the module
    docstring)."""
    normalised = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    lines = normalised.split("\n")

    history: int | None = None
    # A history header sits near the top of what a person writes; looking
    # for one further down a huge text (a pasted log) would only cost time.
    for index, line in enumerate(lines[:_HEADER_SCAN_MAX_LINES]):
        if _is_blank(line) or _is_quoted(line):
            continue
        if _MOBILE.match(line):
            # "Envoyé de mon iPhone" closes what the author wrote: what
            # follows it is the history, even without a header.
            following = _next_nonblank(lines, index + 1)
            if following is not None:
                history = following
                break
        if _hard_header_at(lines, index):
            history = index
            break
        end = _attribution_end(lines, index)
        if end is None:
            continue
        following = _next_nonblank(lines, end)
        if following is None or not _is_quoted(lines[following]):
            # Nothing after it, or an unquoted history (text rendered from
            # HTML, "On … you wrote:" followed by the old message).
            history = index
            break
        after_quote = _quoted_block_end(lines, following)
        signature = _trailing_signature_start(lines, after_quote)
        if after_quote >= len(lines) or signature is not None:
            # The quote runs to the end (or only a signature follows it).
            new, sig = _split_signature(lines[:index])
            if signature is not None:
                end_of_quote = signature
                sig = _join([sig, *lines[signature:]]) if sig else _join(lines[signature:])
            else:
                end_of_quote = len(lines)
            return new, _join(lines[index:end_of_quote]), sig
        before_is_blank = all(_is_blank(item) for item in lines[:index])
        quoted_later = any(_is_quoted(item) for item in lines[after_quote:])
        if before_is_blank and not quoted_later:
            # Bottom-posting: the attribution and quote on top, the reply under.
            new, sig = _split_signature(lines[after_quote:])
            return new, _join(lines[index:after_quote]), sig
        # An inline reply: the quoted lines are the context of the answers.
        break

    end_of_history = len(lines)
    if history is None:
        trailing = _trailing_quote(lines)
        if trailing is not None:
            history, end_of_history = trailing
    if history is None and not any(_is_quoted(item) for item in lines):
        history = _library_history_start(normalised, lines)
    if history is None:
        new, sig = _split_signature(lines)
        return new, "", sig

    new, sig = _split_signature(lines[:history])
    if end_of_history < len(lines):
        # A signature the author left under the quote.
        tail = _join(lines[end_of_history:])
        sig = _join([sig, "", tail]) if sig else tail
    return new, _join(lines[history:end_of_history]), sig


def _trailing_quote(lines: Sequence[str]) -> tuple[int, int] | None:
    """(start, end) of the block of ">" lines at the end of the text, with the
    attribution line above it (in any language); `end` is where a signature the
    author left under the quote begins, or the number of lines. None when the
    text does not end with a quote."""
    end = len(lines)
    for index in range(len(lines) - 1, -1, -1):
        if _is_quoted(lines[index]):
            break
        if _SIG_DELIMITER.match(lines[index]) or _MOBILE.match(lines[index]):
            if any(_is_quoted(item) for item in lines[:index]):
                end = index
            break
    index = end
    while index > 0 and (_is_blank(lines[index - 1]) or _is_quoted(lines[index - 1])):
        index -= 1
    if not any(_is_quoted(item) for item in lines[index:end]):
        return None
    if end < len(lines) and any(
        not _is_blank(item) for item in lines[index:end] if not _is_quoted(item)
    ):
        return None
    # The attribution above the quote, possibly wrapped over several lines.
    for first in range(max(0, index - _ATTRIBUTION_MAX_LINES), index):
        if _attribution_end(lines, first) == index or (
            first == index - 1
            and lines[first].rstrip().endswith(":")
            and _HAS_DATE_OR_ADDRESS.search(lines[first])
        ):
            return first, end
    return index, end
