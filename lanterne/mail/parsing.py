"""The parse stage of the mail pipeline: the exact bytes of one e-mail in,
typed data out (`ParsedMessage`). No database, no Django: every function here
is pure, so a message can be re-parsed from its stored bytes at any time.

Choices worth knowing:

- The MIME tree is read with the stdlib parser and ``policy.compat32``, not
  ``policy.default``. compat32 never interprets a header value while parsing
  (``policy.default`` parses addresses, dates and parameters on access, and its
  header parser still raises on some malformed input), and its
  ``get_payload(decode=True)`` is the long-proven, never-raising decoder. Header
  values are then decoded here, field by field, with our own tolerant RFC 2047
  decoder and charset repair, and address lists are split *before* their
  encoded words are decoded (an encoded comma must not split an address).
- Text is decoded strictly with the declared charset first; when that fails (or
  no charset is declared, or it is unknown), UTF-8 is tried, then Windows-1252
  when it reads as clean Western text, then charset-normalizer's detection, and
  a defect is recorded. ISO-8859-1 is read as Windows-1252 (as browsers do), and
  UTF-8 bytes declared as a single-byte charset are recognised as UTF-8.
- Defects are short French sentences: staff read them in the quarantine and
  message views.
- Limits (`ParseLimits`) bound the size, the number of parts, the nesting and
  the decoded bytes; exceeding one raises `MailTooLargeError` before memory is
  exhausted. Anything that is not an e-mail at all raises `MailParseError`.
  Nothing else is ever raised.
"""

from __future__ import annotations

import binascii
import codecs
import contextlib
import email
import email.utils
import hashlib
import html as html_module
import logging
import mimetypes
import quopri
import re
import struct
import unicodedata
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.generator import BytesGenerator
from email.message import Message
from email.parser import BytesHeaderParser
from html.parser import HTMLParser
from io import BytesIO
from typing import Any
from urllib.parse import unquote

from .detection import classify
from .quoting import split_reply
from .sanitize import sanitize_html

__all__ = [
    "DEFAULT_LIMITS",
    "Address",
    "MailParseError",
    "MailTooLargeError",
    "ParseLimits",
    "ParsedAttachment",
    "ParsedMessage",
    "detect_content_type",
    "html_to_text",
    "looks_like_outlook_msg",
    "parse_message",
    "parse_outlook_msg",
    "sanitize_html",
    "split_reply",
]

logger = logging.getLogger(__name__)

MB = 1024 * 1024


# ---------------------------------------------------------------------------
# Public types


@dataclass(frozen=True)
class Address:
    """One mailbox of an address header."""

    name: str  # decoded display name, "" if none
    address: str  # lower-cased addr-spec, "" if unparseable


@dataclass(frozen=True)
class ParsedAttachment:
    """A part of the message that is not its body: a document, an image, a
    forwarded message, a file unpacked from a winmail.dat."""

    filename: str  # decoded, without any path, never empty
    content_type: str  # as declared, lower-case
    detected_type: str  # from the bytes' magic, else the declared type
    data: bytes
    size: int
    sha256: str
    content_id: str | None  # without <>
    is_inline: bool  # shown inside the HTML body through a cid: reference
    from_tnef: bool = False  # extracted from a winmail.dat
    is_forwarded_message: bool = False  # a message/rfc822 part, kept as .eml


@dataclass(frozen=True)
class ParsedMessage:
    """Everything the later stages (thread, file, publish) need from one e-mail."""

    message_id: str | None  # without <>
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    subject: str
    from_: Address | None
    sender: Address | None
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    date: datetime | None  # timezone-aware, UTC
    date_header: str  # the raw Date header
    text: str  # the full text body
    html: str  # sanitised HTML, "" when none
    new_text: str  # what this mail adds: text minus quoted history and signature
    quoted_text: str
    signature: str
    is_auto_reply: bool
    is_bounce: bool
    is_bulk: bool
    is_lanterne_notification: bool  # X-Lanterne-Notification present (loop protection)
    bounced_message_id: str | None
    attachments: tuple[ParsedAttachment, ...]
    forwarded: tuple[ParsedMessage, ...]  # parsed message/rfc822 parts, one level deep
    defects: tuple[str, ...]  # repaired problems, in French, for staff
    headers: dict[str, str]  # a few useful raw headers, lower-case names
    bcc: tuple[Address, ...] = ()
    is_encrypted: bool = False  # S/MIME or PGP encrypted: the content is not readable


@dataclass(frozen=True)
class ParseLimits:
    """Bounds on what one message may cost to parse. Exceeding one raises
    `MailTooLargeError`: the message is refused, not half-parsed."""

    max_message_bytes: int = 50 * MB
    max_attachment_bytes: int = 35 * MB
    max_parts: int = 500
    max_nesting: int = 10
    max_total_decoded_bytes: int = 200 * MB
    max_forward_depth: int = 1  # message/rfc822 parts parsed into `forwarded`, levels deep
    max_header_count: int = 2_000


DEFAULT_LIMITS = ParseLimits()


class MailParseError(Exception):
    """The message cannot be parsed at all: it is quarantined."""


class MailTooLargeError(MailParseError):
    """The message exceeds a `ParseLimits` bound (size, parts, nesting,
    decoded bytes): it is refused."""


# Headers copied into ParsedMessage.headers (lower-case names).
KEPT_HEADERS = (
    "auto-submitted",
    "precedence",
    "list-id",
    "list-unsubscribe",
    "x-mailer",
    "user-agent",
    "content-language",
    "return-path",
    "x-auto-response-suppress",
    "x-lanterne-notification",
    "x-original-to",
    "delivered-to",
)
_HEADER_VALUE_MAX = 2_000

# ---------------------------------------------------------------------------
# Small text helpers

_SURROGATES = re.compile(r"[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _clean(text: str) -> str:
    """A string safe to store: no NUL or other C0 control (PostgreSQL refuses
    NUL), no lone surrogate (not encodable as UTF-8)."""
    return _CONTROL.sub("", _SURROGATES.sub("\ufffd", text)).replace("\ufeff", "")


def _clean_line(text: str) -> str:
    """`_clean` for one-line values (names, subjects): whitespace collapsed."""
    return " ".join(_clean(text.replace("\r", " ").replace("\n", " ").replace("\t", " ")).split())


def _unfold(value: str) -> str:
    """RFC 5322 §2.2.3: unfolding removes the CRLF before folding whitespace."""
    return re.sub(r"\r?\n(?=[ \t])", "", value).replace("\r", "").replace("\n", " ")


class _Defects:
    """The defects of one message, in order, without repeats."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, text: str) -> None:
        text = _clean_line(text)
        if text not in self.items and len(self.items) < 100:
            self.items.append(text)


# ---------------------------------------------------------------------------
# Charsets

# Labels that mean "Windows-1252" in practice (WHATWG Encoding Standard:
# browsers decode ISO-8859-1 and US-ASCII labels as windows-1252).
_LATIN1_FAMILY = {"iso8859-1", "latin-1", "cp1252", "iso8859-15", "ascii"}
_DISPLAY_NAMES = {
    "utf-8": "utf-8",
    "utf_8": "utf-8",
    "cp1252": "windows-1252",
    "windows-1252": "windows-1252",
    "iso8859-1": "iso-8859-1",
    "latin_1": "iso-8859-1",
    "iso8859-15": "iso-8859-15",
    "ascii": "us-ascii",
}
_DETECTION_SAMPLE = 200_000


def _codec_name(label: str | None) -> str | None:
    """Python's codec name for a MIME charset label, or None if unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").strip().lower()
    if not label or len(label) > 40:
        return None
    aliases = {"utf8": "utf-8", "x-unknown": "", "unknown-8bit": "", "none": "", "default": ""}
    label = aliases.get(label, label)
    if not label:
        return None
    try:
        name = codecs.lookup(label).name
    except (LookupError, ValueError):
        return None
    # Codecs that are not text encodings (base64, rot13, zlib…) are not charsets.
    if name in {"base64", "hex", "quopri", "rot-13", "uu", "zlib", "bz2"} or name.endswith(
        "_codec"
    ):
        return None
    return name


def _display(codec: str) -> str:
    return _DISPLAY_NAMES.get(codec, codec.replace("_", "-"))


def _is_ascii(data: bytes) -> bool:
    return data.isascii()


def _mostly_decodes(data: bytes, codec: str) -> str | None:
    """The text when `data` is `codec` with only a few broken sequences (a
    truncated character here and there): fewer than 2 % of its non-ASCII
    characters undecodable. None otherwise."""
    try:
        text = data.decode(codec, errors="replace")
    except (LookupError, ValueError):  # idna refuses "replace", undefined any input
        return None
    broken = text.count("\ufffd")
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    if non_ascii and broken * 50 < non_ascii:
        return text
    return None


def _guess_decode(data: bytes) -> tuple[str, str]:
    """Decode bytes whose charset is unknown or wrong: UTF-8 (even with a few
    broken sequences), then Windows-1252 when it reads cleanly (most of our
    correspondents write French), then charset-normalizer. Returns (text,
    charset shown in defects)."""
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    almost = _mostly_decodes(data, "utf-8")
    if almost is not None:
        return almost, "utf-8 (quelques caractères illisibles remplacés)"
    from charset_normalizer import from_bytes
    from charset_normalizer.md import mess_ratio

    sample = data[:_DETECTION_SAMPLE]
    try:
        western = data.decode("cp1252")
    except UnicodeDecodeError:
        western = None
    if western is not None and mess_ratio(western[:_DETECTION_SAMPLE], 0.2) < 0.1:
        return western, "windows-1252"
    best = from_bytes(sample).best()
    if best is not None and best.encoding:
        return data.decode(best.encoding, errors="replace"), _display(best.encoding)
    if western is not None:
        return western, "windows-1252"
    return data.decode("utf-8", errors="replace"), "utf-8"


def _decode_bytes(
    data: bytes, declared: str | None, defects: _Defects, *, utf8_is_fine: bool = False
) -> str:
    """Decode text bytes declared in `declared`, repairing a wrong, unknown or
    missing charset (see the module docstring). Never raises.

    `utf8_is_fine`: undeclared UTF-8 is no defect (RFC 6532 headers)."""
    if not data:
        return ""
    codec = _codec_name(declared)
    if declared and codec is None and _is_ascii(data):
        return data.decode("ascii")
    if codec is None:
        if _is_ascii(data):
            return data.decode("ascii")
        text, found = _guess_decode(data)
        if declared and declared.strip().lower() not in ("unknown-8bit", "x-unknown"):
            defects.add(
                f"Jeu de caractères inconnu ({declared.strip()}) : texte décodé en {found}."
            )
        elif not (utf8_is_fine and found == "utf-8"):
            defects.add(f"Jeu de caractères non déclaré : texte décodé en {found}.")
        return text
    if codec in _LATIN1_FAMILY and not _is_ascii(data):
        # UTF-8 declared as a single-byte charset reads as "Ã©tÃ©": bytes that
        # are valid UTF-8 with multibyte sequences are UTF-8 (random Latin-1
        # text almost never is).
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            defects.add(
                f"Jeu de caractères déclaré incorrect ({declared}) : texte décodé en utf-8."
            )
            return text
        if codec in ("iso8859-1", "ascii"):
            codec = "cp1252"
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        pass
    except (LookupError, ValueError):  # codecs that are no charset: idna, undefined…
        pass
    if codec == "cp1252":
        return data.decode("latin-1")  # every byte is defined
    almost = _mostly_decodes(data, codec)
    if almost is not None:
        defects.add(f"Caractères invalides dans le texte ({declared}) : remplacés.")
        return almost
    text, found = _guess_decode(data)
    defects.add(f"Jeu de caractères déclaré incorrect ({declared}) : texte décodé en {found}.")
    return text


def _from_surrogates(value: str, defects: _Defects) -> str:
    """A header value read by the parser holds raw 8-bit bytes as surrogate
    escapes: decode them (UTF-8 per RFC 6532, else repaired)."""
    if not _SURROGATES.search(value):
        return value
    raw = value.encode("utf-8", "surrogateescape")
    return _decode_bytes(raw, None, defects, utf8_is_fine=True)


# ---------------------------------------------------------------------------
# Header decoding (RFC 2047, RFC 2231)

_ENCODED_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?\s]*)\?=")


def _decode_word_payload(encoding: str, payload: str) -> bytes | None:
    """The bytes of one RFC 2047 encoded word, or None when undecodable."""
    if encoding.lower() == "q":
        # RFC 2047 §4.2: "_" is a space, "=XX" a byte.
        raw = payload.replace("_", " ").encode("utf-8", "surrogateescape")
        return re.sub(rb"=([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), raw)
    cleaned = re.sub(r"[^A-Za-z0-9+/]", "", payload)
    cleaned += "=" * (-len(cleaned) % 4)
    if len(cleaned) % 4 == 1:
        return None
    try:
        return binascii.a2b_base64(cleaned)
    except (binascii.Error, ValueError):
        return None


def decode_header_text(value: str, defects: _Defects) -> str:
    """Decode an unstructured header value: raw 8-bit bytes, then RFC 2047
    encoded words (adjacent words of one charset are joined before decoding,
    so a character split across two words survives; the whitespace between
    encoded words is dropped, RFC 2047 §6.2)."""
    value = _from_surrogates(_unfold(value), defects)
    if "=?" not in value:
        return value
    segments: list[tuple[str, str, bytes, str]] = []  # (kind, charset, data, source text)
    position = 0
    for match in _ENCODED_WORD.finditer(value):
        between = value[position : match.start()]
        if between and not (between.isspace() and segments and segments[-1][0] == "word"):
            segments.append(("text", "", b"", between))
        decoded = _decode_word_payload(match.group(2), match.group(3))
        if decoded is None:
            defects.add("En-tête mal encodé (RFC 2047) : laissé tel quel.")
            segments.append(("text", "", b"", match.group(0)))
        else:
            charset = match.group(1).lower()
            if segments and segments[-1][0] == "word" and segments[-1][1] == charset:
                _, _, data, source = segments[-1]
                segments[-1] = ("word", charset, data + decoded, source + match.group(0))
            else:
                segments.append(("word", charset, decoded, match.group(0)))
        position = match.end()
    if value[position:]:
        segments.append(("text", "", b"", value[position:]))
    parts = []
    for kind, charset, data, source in segments:
        if kind == "text":
            parts.append(source)
        elif _codec_name(charset) is None:
            # An unknown charset ("=?NONE?B?…?="): UTF-8 if it is, else the
            # encoded word is shown as it came rather than as mojibake.
            try:
                parts.append(data.decode("utf-8"))
            except UnicodeDecodeError:
                defects.add(
                    f"En-tête dans un jeu de caractères inconnu ({charset}) : laissé tel quel."
                )
                parts.append(source)
        else:
            parts.append(_decode_bytes(data, charset, defects))
    return "".join(parts)


def _param(part: Message, name: str, header: str, defects: _Defects) -> str | None:
    """A decoded MIME parameter: RFC 2231 (charset'lang'%XX and continuations),
    raw 8-bit, or RFC 2047 encoded words (not standard in parameters, but
    what Outlook and Gmail send)."""
    try:
        value = part.get_param(name, header=header)
    except (ValueError, IndexError, TypeError, LookupError):
        return None
    if value is None:
        return None
    if isinstance(value, tuple):
        charset, _language, text = value
        raw = text.encode("raw-unicode-escape")
        return _decode_bytes(raw, charset or None, defects)
    text = email.utils.unquote(value) if isinstance(value, str) else str(value)
    return decode_header_text(text, defects)


# ---------------------------------------------------------------------------
# Addresses, identifiers, dates

_ADDR_SPEC = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+$")
_LOCAL_ONLY = re.compile(r"^[\w+-]+$")  # "MAILER-DAEMON": a local part without domain
_BARE_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")


def _addresses(values: Sequence[str], defects: _Defects) -> tuple[Address, ...]:
    """Parse address headers, tolerating broken ones: lists are split on the
    raw value, then each display name is decoded (RFC 2047 §5(3))."""
    result: list[Address] = []
    for raw in values:
        value = _unfold(raw)
        try:
            pairs = email.utils.getaddresses([value])
        except (ValueError, IndexError, TypeError):
            pairs = []
        found = False
        for name, addr in pairs:
            name = _clean_line(decode_header_text(name, defects)) if name else ""
            addr = _clean_line(_from_surrogates(addr, defects)).strip("<>").lower()
            if not name and not addr:
                continue
            found = True
            if _ADDR_SPEC.match(addr) or _LOCAL_ONLY.match(addr):
                result.append(Address(name=name, address=addr))
            else:
                bare = _BARE_ADDRESS.search(addr)
                result.append(Address(name=name or addr, address=bare.group(0) if bare else ""))
        if not found and value.strip():
            bare = _BARE_ADDRESS.search(value)
            if bare:
                result.append(Address(name="", address=bare.group(0).lower()))
            else:
                text = _clean_line(decode_header_text(value, defects))
                if text and not text.endswith(":;"):
                    result.append(Address(name=text, address=""))
                    defects.add(f"Adresse illisible : « {text[:80]} ».")
    return tuple(result[:1000])


_MSG_ID = re.compile(r"<\s*([^<>\s]+?)\s*>")


def _message_ids(values: Sequence[str]) -> tuple[str, ...]:
    """Message identifiers of In-Reply-To / References (RFC 5322 §3.6.4),
    in order, without repeats; bare identifiers without <> are accepted."""
    found: list[str] = []
    for raw in values:
        value = _clean(_unfold(raw))
        ids = _MSG_ID.findall(value)
        if not ids:
            ids = [token.strip("<>") for token in value.split() if "@" in token]
        for item in ids:
            item = item.strip()[:998]
            if item and item not in found:
                found.append(item)
    return tuple(found[:500])


def _message_id(values: Sequence[str]) -> str | None:
    ids = _message_ids(values[:1])
    if ids:
        return ids[0]
    if values:
        bare = _clean(_unfold(values[0])).strip().strip("<>").strip()
        if bare and " " not in bare:
            return bare[:998]
    return None


def _parse_date(value: str, defects: _Defects) -> datetime | None:
    """The Date header (RFC 5322 §3.3) as an aware UTC datetime; obsolete and
    sloppy forms are accepted, an impossible date gives None and a defect."""
    value = _clean_line(value)
    if not value:
        return None
    parsed: datetime | None = None
    # Sloppy forms seen in the wild: fractional seconds, a zone without its
    # sign ("22:23:35.882 0000").
    value = re.sub(r"(\d{1,2}:\d{2}:\d{2})\.\d+", r"\1", value)
    value = re.sub(r"(\d{1,2}:\d{2}(?::\d{2})?) (\d{4})$", r"\1 +\2", value)
    try:
        fields = email.utils.parsedate_tz(value)
    except (ValueError, IndexError, TypeError, OverflowError):
        fields = None
    if fields is not None:
        year, month, day, hour, minute, second = fields[:6]
        offset = fields[9] or 0  # None: "-0000" or no zone, taken as UTC (RFC 5322 §3.3)
        try:
            zone = timezone(timedelta(seconds=offset))
            parsed = datetime(year, month, day, hour, minute, second, tzinfo=zone)
        except (ValueError, OverflowError, TypeError):
            parsed = None
    if parsed is None:
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
    if parsed is None:
        defects.add(f"Date illisible (« {value[:60]} ») : date ignorée.")
        return None
    try:
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        defects.add(f"Date illisible (« {value[:60]} ») : date ignorée.")
        return None


# ---------------------------------------------------------------------------
# Content types from magic bytes


def _zip_type(data: bytes) -> str:
    """Tell an Office Open XML / OpenDocument file from a plain zip archive,
    by the entry names in the local headers and central directory."""
    head, tail = data[:65536], data[-65536:]
    if head[30:38] == b"mimetype":
        odf = head[38:120]
        for kind in (b"text", b"spreadsheet", b"presentation", b"graphics"):
            if odf.startswith(b"application/vnd.oasis.opendocument." + kind):
                return "application/vnd.oasis.opendocument." + kind.decode()
    names = head + tail
    if b"word/" in names:
        return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    if b"xl/" in names:
        return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    if b"ppt/" in names:
        return "application/vnd.openxmlformats-officedocument.presentationml.presentation"
    return "application/zip"


_OLE_TYPES = {
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.ms-outlook",
    "application/x-msi",
}
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"%PDF-", "application/pdf"),
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"II*\x00", "image/tiff"),
    (0, b"MM\x00*", "image/tiff"),
    (0, b"{\\rtf", "application/rtf"),
    (0, b"\x78\x9f\x3e\x22", "application/ms-tnef"),
    (0, b"\x1f\x8b", "application/gzip"),
    (0, b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (0, b"Rar!\x1a\x07", "application/vnd.rar"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"OggS", "audio/ogg"),
    (0, b"MZ", "application/x-msdownload"),
    (0, b"BEGIN:VCALENDAR", "text/calendar"),
    (0, b"BEGIN:VCARD", "text/vcard"),
    (0, b"-----BEGIN PGP SIGNATURE", "application/pgp-signature"),
    (0, b"-----BEGIN PGP MESSAGE", "application/pgp-encrypted"),
)
_FTYP = {
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heif",
    b"avif": "image/avif",
    b"qt  ": "video/quicktime",
    b"M4A ": "audio/mp4",
}


def detect_content_type(data: bytes, declared: str = "application/octet-stream") -> str:
    """The content type told by the first bytes of a file (a small magic
    table, no libmagic), or `declared` when the bytes say nothing."""
    for offset, magic, kind in _MAGIC:
        if data[offset : offset + len(magic)] == magic:
            return kind
    if data[:4] == b"PK\x03\x04":
        return _zip_type(data)
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        # OLE2 compound file: .doc, .xls, .ppt, .msg share the container.
        return declared if declared in _OLE_TYPES else "application/x-ole-storage"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data[4:8] == b"ftyp":
        return _FTYP.get(data[8:12], "video/mp4")
    if data[:2] == b"BM" and len(data) > 14 and struct.unpack("<I", data[2:6])[0] == len(data):
        return "image/bmp"
    start = data[:512].lstrip().lower()
    if start.startswith(b"<svg") or (start.startswith(b"<?xml") and b"<svg" in start):
        return "image/svg+xml"
    if start.startswith((b"<!doctype html", b"<html")):
        return "text/html"
    return declared


_EXTENSIONS = {
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/tiff": ".tif",
    "image/webp": ".webp",
    "image/heic": ".heic",
    "image/bmp": ".bmp",
    "text/plain": ".txt",
    "text/html": ".html",
    "text/calendar": ".ics",
    "text/vcard": ".vcf",
    "message/rfc822": ".eml",
    "message/delivery-status": ".txt",
    "text/rfc822-headers": ".txt",
    "application/rtf": ".rtf",
    "application/zip": ".zip",
    "application/ms-tnef": ".dat",
    "application/pkcs7-signature": ".p7s",
    "application/pkcs7-mime": ".p7m",
    "application/pgp-signature": ".asc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
    "application/vnd.oasis.opendocument.text": ".odt",
    "application/vnd.oasis.opendocument.spreadsheet": ".ods",
    "application/msword": ".doc",
    "application/vnd.ms-excel": ".xls",
}
# Built-in table only: the result must not depend on /etc/mime.types.
_MIMETYPES = mimetypes.MimeTypes(filenames=())


def _extension_for(content_type: str) -> str:
    return _EXTENSIONS.get(content_type) or _MIMETYPES.guess_extension(content_type) or ".bin"


_UNSAFE_FILENAME = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')


def _safe_filename(name: str, *, fallback_stem: str, content_type: str) -> str:
    """A file name without path or control characters, at most 200
    characters, never empty; an extension is added when there is none."""
    name = _clean(unicodedata.normalize("NFC", name))
    name = re.split(r"[\\/]", name)[-1]
    name = " ".join(_UNSAFE_FILENAME.sub("_", name).split()).strip(" .")
    if not name:
        name = fallback_stem + _extension_for(content_type)
    elif "." not in name and content_type != "application/octet-stream":
        name += _extension_for(content_type)
    if len(name) > 200:
        stem, dot, extension = name.rpartition(".")
        name = stem[:190] + dot + extension[:9] if dot and len(extension) < 10 else name[:200]
    return name


# ---------------------------------------------------------------------------
# HTML to text


class _HTMLText(HTMLParser):
    """Renders HTML as plain text the way mail clients do for the text part:
    paragraphs and line breaks kept, blockquotes prefixed with "> " (so that
    quoted history in an HTML-only message is found), links followed by their
    address, scripts and styles dropped."""

    _SKIP = {"script", "style", "head", "title", "template", "noscript", "xml"}
    _BLOCK = {
        "p", "div", "tr", "table", "ul", "ol", "dl", "dd", "dt", "h1", "h2", "h3", "h4", "h5",
        "h6", "pre", "address", "section", "article", "header", "footer", "center", "form",
        "fieldset", "figure", "caption", "tbody", "thead", "tfoot", "body", "html", "blockquote",
    }  # fmt: skip
    _PARAGRAPH = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[tuple[int, str]] = []
        self.current: list[str] = []
        self.line_depth = 0
        self.depth = 0
        self.skip = 0
        self.pre = 0
        self.links: list[str | None] = []

    def _newline(self, *, blank: bool = False) -> None:
        """End the current line (if it has text); `blank` also leaves an
        empty line after it, as between paragraphs."""
        text = "".join(self.current).rstrip()
        if text:
            self.lines.append((self.line_depth, text))
        if blank and self.lines and self.lines[-1][1]:
            self.lines.append((min(self.depth, self.lines[-1][0]), ""))
        self.current = []
        self.line_depth = self.depth

    def _break(self) -> None:
        """<br>: end the current line, even an empty one."""
        self.lines.append((self.line_depth, "".join(self.current).rstrip()))
        self.current = []
        self.line_depth = self.depth

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skip += 1
            return
        if tag == "br":
            self._break()
        elif tag == "hr":
            self._newline()
            self.lines.append((self.depth, "_" * 32))
        elif tag == "li":
            self._newline()
            self.current.append("- ")
        elif tag in ("td", "th"):
            if self.current and not self.current[-1].endswith(" "):
                self.current.append(" ")
        elif tag == "pre":
            self.pre += 1
            self._newline()
        elif tag in self._BLOCK:
            self._newline(blank=tag in self._PARAGRAPH)
        if tag == "blockquote":
            self.depth += 1
            self.line_depth = self.depth
        if tag == "a":
            self.links.append(dict(attrs).get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skip = max(0, self.skip - 1)
            return
        if tag == "a" and self.links:
            href = self.links.pop() or ""
            text = "".join(self.current)
            if re.match(r"https?://", href) and href not in text:
                self.current.append(f" <{href}>")
        if tag == "blockquote":
            self._newline()
            self.depth = max(0, self.depth - 1)
            self.line_depth = self.depth
        elif tag == "pre":
            self.pre = max(0, self.pre - 1)
            self._newline()
        elif tag in self._BLOCK or tag == "li":
            self._newline(blank=tag in self._PARAGRAPH)

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.pre:
            pieces = data.split("\n")
            for index, piece in enumerate(pieces):
                if index:
                    self._newline()
                if not self.current:
                    self.line_depth = self.depth
                self.current.append(piece)
            return
        text = re.sub(r"\s+", " ", data)
        if not self.current:
            self.line_depth = self.depth
            text = text.lstrip()
        elif "".join(self.current).endswith(" "):
            text = text.lstrip()
        if text:
            self.current.append(text)

    def text(self) -> str:
        self._newline()
        out: list[tuple[int, str]] = []
        for depth, line in self.lines:
            line = line.replace("\u00a0", " ").rstrip()
            if not line and out and not out[-1][1] and out[-1][0] >= depth:
                continue  # one empty line is enough
            if not line and out and out[-1][0] < depth:
                continue  # no empty quoted line right under the attribution
            out.append((depth, line))
        while out and not out[-1][1]:
            out.pop()
        while out and not out[0][1]:
            out.pop(0)
        return "\n".join(("> " * depth + line).rstrip() for depth, line in out)


# Longest HTML rendered to text: the stdlib HTML parser is pure Python
# (about 2 s per million characters); a longer body is cut (with a defect).
HTML_TO_TEXT_MAX_CHARS = 1_000_000


def html_to_text(html: str) -> str:
    """Plain text of an HTML body, for messages that only have HTML."""
    html = html[:HTML_TO_TEXT_MAX_CHARS]
    parser = _HTMLText()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError, IndexError):  # malformed declarations
        return _clean(re.sub(r"<[^>]*>", " ", html_module.unescape(html))).strip()
    return parser.text()


# ---------------------------------------------------------------------------
# Text bodies


def _unflow(text: str, *, delsp: bool) -> str:
    """Undo RFC 3676 format=flowed: a line ending in a space continues on
    the next line of the same quote depth (§4.1-4.2); space-stuffing is
    removed (§4.4); with DelSp=yes the trailing space is deleted (§4.2)."""
    out: list[str] = []
    paragraph: list[str] | None = None
    paragraph_depth = 0
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]
        flowed = content.endswith(" ") and content != "-- "
        if paragraph is not None and depth == paragraph_depth:
            paragraph.append(content)
        else:
            if paragraph is not None:
                out.append(
                    ">" * paragraph_depth + (" " if paragraph_depth else "") + "".join(paragraph)
                )
            paragraph = [content]
            paragraph_depth = depth
        if flowed and delsp:
            paragraph[-1] = paragraph[-1][:-1]
        if not flowed:
            out.append(">" * depth + (" " if depth else "") + "".join(paragraph))
            paragraph = None
    if paragraph is not None:
        out.append(">" * paragraph_depth + (" " if paragraph_depth else "") + "".join(paragraph))
    return "\n".join(out)


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


# ---------------------------------------------------------------------------
# RTF (bodies of winmail.dat)

_RTF_TOKEN = re.compile(
    r"\\([a-z]{1,32})(-?\d{1,10})? ?|\\'([0-9a-f]{2})|\\([^a-z])|([{}])|[\r\n]+|(.)", re.I | re.S
)
_RTF_DESTINATIONS = {
    "fonttbl", "colortbl", "stylesheet", "info", "pict", "object", "header", "footer",
    "headerl", "headerr", "footerl", "footerr", "fldinst", "themedata", "colorschememapping",
    "latentstyles", "datastore", "xmlnstbl", "listtable", "listoverridetable", "rsidtbl",
    "generator", "mmathPr", "filetbl", "revtbl", "operator", "author", "company",
}  # fmt: skip


def _rtf_to_text(rtf: str) -> str:
    """Plain text of an RTF document (destinations skipped, \\par and \\line
    as line breaks, \\'hh in the document's code page, \\uN characters)."""
    codepage = "cp1252"
    if match := re.search(r"\\ansicpg(\d+)", rtf[:2000]):
        codepage = _codec_name("cp" + match.group(1)) or "cp1252"
    stack: list[tuple[bool, int]] = []
    ignorable = False
    skip_next = 0  # characters to skip after \uN (\ucN)
    uc = 1
    out: list[str] = []
    pending: bytearray = bytearray()

    def flush() -> None:
        if pending:
            out.append(pending.decode(codepage, errors="replace"))
            pending.clear()

    for match in _RTF_TOKEN.finditer(rtf):
        word, arg, hexbyte, symbol, brace, char = match.groups()
        if brace == "{":
            flush()
            stack.append((ignorable, uc))
        elif brace == "}":
            flush()
            ignorable, uc = stack.pop() if stack else (False, 1)
        elif symbol is not None:
            if symbol == "*":
                ignorable = True
            elif not ignorable and skip_next == 0:
                flush()
                out.append({"~": "\u00a0", "-": "", "_": "-"}.get(symbol, symbol))
            skip_next = max(0, skip_next - 1)
        elif word is not None:
            if word in _RTF_DESTINATIONS:
                ignorable = True
            elif ignorable:
                continue
            elif word in ("par", "line", "sect", "page", "row"):
                flush()
                out.append("\n")
            elif word == "tab" or word == "cell":
                flush()
                out.append("\t")
            elif word == "uc" and arg:
                uc = int(arg)
            elif word == "u" and arg:
                flush()
                out.append(chr(int(arg) % 65536 if int(arg) < 0 else min(int(arg), 0x10FFFF)))
                skip_next = uc
        elif hexbyte is not None:
            if skip_next:
                skip_next -= 1
            elif not ignorable:
                pending.append(int(hexbyte, 16))
        elif char is not None:
            if skip_next:
                skip_next -= 1
            elif not ignorable:
                flush()
                out.append(char)
    flush()
    return _clean(re.sub(r"\n{3,}", "\n\n", "".join(out))).strip()


# ---------------------------------------------------------------------------
# The MIME walk


@dataclass
class _Budget:
    """Limits shared by a message and the messages forwarded inside it."""

    limits: ParseLimits
    parts: int = 0
    decoded: int = 0

    def count_part(self) -> None:
        self.parts += 1
        if self.parts > self.limits.max_parts:
            raise MailTooLargeError(f"Trop de parties MIME (plus de {self.limits.max_parts}).")

    def count_bytes(self, size: int) -> None:
        if size > self.limits.max_attachment_bytes:
            raise MailTooLargeError(
                f"Pièce jointe trop volumineuse ({size // MB} Mo, maximum "
                f"{self.limits.max_attachment_bytes // MB} Mo)."
            )
        self.decoded += size
        if self.decoded > self.limits.max_total_decoded_bytes:
            raise MailTooLargeError(
                f"Contenu décodé trop volumineux (plus de "
                f"{self.limits.max_total_decoded_bytes // MB} Mo)."
            )


@dataclass
class _Body:
    """Text and HTML pieces of a body, in reading order."""

    texts: list[str] = field(default_factory=list)
    htmls: list[str] = field(default_factory=list)

    def extend(self, other: _Body) -> None:
        self.texts.extend(other.texts)
        self.htmls.extend(other.htmls)


@dataclass
class _PendingAttachment:
    """An attachment before we know whether the HTML references it."""

    filename: str
    content_type: str
    data: bytes
    content_id: str | None
    from_tnef: bool = False
    is_forwarded_message: bool = False


@dataclass
class _Walk:
    """What the walk over one message's MIME tree collects."""

    budget: _Budget
    defects: _Defects
    forward_depth: int
    attachments: list[_PendingAttachment] = field(default_factory=list)
    forwarded: list[ParsedMessage] = field(default_factory=list)
    returned_ids: list[str] = field(default_factory=list)
    report_texts: list[str] = field(default_factory=list)
    tnef_bodies: list[_Body] = field(default_factory=list)
    is_delivery_report: bool = False
    is_encrypted: bool = False


_TNEF_TYPES = {"application/ms-tnef", "application/vnd.ms-tnef"}
_ENCRYPTED_TYPES = {"application/pkcs7-mime", "application/x-pkcs7-mime"}


def _payload_bytes(part: Message, walk: _Walk) -> bytes:
    """The decoded content of a leaf part (RFC 2045 §6: base64,
    quoted-printable, uuencode), counted against the limits."""
    try:
        payload = part.get_payload(decode=True)
    except (ValueError, TypeError, binascii.Error, LookupError, AssertionError) as error:
        walk.defects.add(f"Partie MIME indécodable ({type(error).__name__}) : ignorée.")
        return b""
    if payload is None:
        return b""
    if isinstance(payload, str):
        payload = payload.encode("utf-8", "surrogateescape")
    if not isinstance(payload, bytes):
        return b""
    walk.budget.count_bytes(len(payload))
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    if cte == "x-gzip64":
        # MIME-tools' gzip64: base64 of a gzip stream. Decompressed under the
        # attachment limit, so a gzip bomb stops there.
        payload = _gunzip64(payload, walk)
    return payload


def _gunzip64(encoded: bytes, walk: _Walk) -> bytes:
    try:
        compressed = binascii.a2b_base64(encoded)
    except (binascii.Error, ValueError):
        return encoded
    limit = walk.budget.limits.max_attachment_bytes
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = decompressor.decompress(compressed, limit + 1)
    except zlib.error:
        walk.defects.add("Partie x-gzip64 illisible : conservée compressée.")
        return compressed
    if len(data) > limit or decompressor.unconsumed_tail:
        raise MailTooLargeError("Partie compressée trop volumineuse une fois décompressée.")
    walk.budget.count_bytes(len(data))
    return data


def _part_text(part: Message, walk: _Walk) -> str:
    """The text of a text/* leaf, charset repaired and newlines normalised."""
    data = _payload_bytes(part, walk)
    try:
        charset = part.get_content_charset()
    except (ValueError, LookupError, TypeError):
        charset = None
    if charset is None:
        raw = part.get_param("charset")
        if isinstance(raw, str):
            charset = raw
    text = _normalise_newlines(_decode_bytes(data, charset, walk.defects))
    if part.get_content_type() == "text/plain":
        fmt = part.get_param("format")
        if isinstance(fmt, str) and fmt.strip().lower() == "flowed":
            delsp = part.get_param("delsp")
            text = _unflow(text, delsp=isinstance(delsp, str) and delsp.strip().lower() == "yes")
    return text


def _content_id(part: Message, walk: _Walk) -> str | None:
    raw = part.get("content-id")
    if raw is None:
        return None
    value = _clean_line(_from_surrogates(_unfold(str(raw)), walk.defects)).strip().strip("<>")
    return value[:998] or None


def _disposition(part: Message) -> str | None:
    raw = part.get("content-disposition")
    if raw is None:
        return None
    return str(raw).split(";", 1)[0].strip().lower() or None


def _filename(part: Message, walk: _Walk) -> str:
    name = _param(part, "filename", "content-disposition", walk.defects)
    if not name:
        name = _param(part, "name", "content-type", walk.defects)
    return name or ""


def _leaf(part: Message, walk: _Walk, *, body_allowed: bool) -> _Body:
    """Handle one non-multipart part: a body piece or an attachment."""
    walk.budget.count_part()
    content_type = part.get_content_type().lower()
    disposition = _disposition(part)
    filename = _filename(part, walk)
    body = _Body()
    if (
        body_allowed
        and content_type in ("text/plain", "text/html")
        and disposition != "attachment"
        and not filename
    ):
        text = _part_text(part, walk)
        (body.texts if content_type == "text/plain" else body.htmls).append(text)
        return body
    data = _payload_bytes(part, walk)
    if content_type in _ENCRYPTED_TYPES or content_type == "application/pgp-encrypted":
        walk.is_encrypted = True
        walk.defects.add("Message chiffré : son contenu n'est pas lisible.")
    if (
        content_type in _TNEF_TYPES
        or filename.lower() == "winmail.dat"
        or data[:4] == b"\x78\x9f\x3e\x22"
    ) and _unpack_tnef(data, walk):
        return body
    if content_type in ("message/delivery-status", "text/rfc822-headers"):
        text = _decode_bytes(data, "utf-8", walk.defects)
        walk.report_texts.append(text)
        if content_type == "text/rfc822-headers":
            walk.returned_ids.extend(_ids_from_header_block(data))
    walk.attachments.append(
        _PendingAttachment(
            filename=filename,
            content_type=content_type,
            data=data,
            content_id=_content_id(part, walk),
        )
    )
    return body


def _header_blocks(part: Message, walk: _Walk) -> None:
    """A message/* part the parser read as blocks of header fields (the
    RFC 3464 delivery-status report): kept as one text attachment."""
    walk.budget.count_part()
    blocks = [item for item in part.get_payload() if isinstance(item, Message)]
    data = b"".join(_serialise(block) or b"" for block in blocks)
    walk.budget.count_bytes(len(data))
    walk.report_texts.append(_decode_bytes(data, "utf-8", walk.defects))
    walk.attachments.append(
        _PendingAttachment(
            filename=_filename(part, walk) or "rapport-de-remise.txt",
            content_type=part.get_content_type().lower(),
            data=data,
            content_id=_content_id(part, walk),
        )
    )


def _ids_from_header_block(data: bytes) -> list[str]:
    """Message-ID of a returned header block (text/rfc822-headers)."""
    try:
        headers = BytesHeaderParser(policy=policy.compat32).parsebytes(data)
    except Exception:  # noqa: BLE001 — the stdlib parser on hostile bytes; any failure = no id
        return []
    value = headers.get("message-id")
    ids = _message_ids([str(value)]) if value is not None else ()
    return list(ids[:1])


class _StableBytesGenerator(BytesGenerator):
    """A BytesGenerator whose invented boundaries (for a multipart that has
    none, or an empty one) derive from the content, not from `random`: the
    same bytes must always give the same .eml attachment and digest."""

    @classmethod
    def _make_boundary(cls, text: Any = None) -> str:
        data = text if isinstance(text, bytes) else str(text or "").encode("utf-8", "replace")
        boundary = "=_lanterne_" + hashlib.sha256(data).hexdigest()[:32]
        candidate, counter = boundary, 0
        while text is not None and cls._compile_re(
            f"^--{re.escape(candidate)}(--)?$", re.MULTILINE
        ).search(text):
            candidate, counter = f"{boundary}.{counter}", counter + 1
        return candidate


def _serialise(message: Message) -> bytes | None:
    """The bytes of a parsed (sub)message, for keeping it as a .eml file."""
    buffer = BytesIO()
    try:
        _StableBytesGenerator(
            buffer, mangle_from_=False, maxheaderlen=0, policy=policy.compat32
        ).flatten(message)
    except (ValueError, TypeError, LookupError, UnicodeError, AttributeError, KeyError):
        return None
    return buffer.getvalue()


def _forwarded(part: Message, walk: _Walk, depth: int) -> None:
    """A message/rfc822 part (RFC 2046 §5.2.1): kept as a .eml attachment and,
    one level deep, parsed into `forwarded`."""
    walk.budget.count_part()
    payload = part.get_payload() if part.is_multipart() else None
    inner = payload[0] if payload else None
    data = b""
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    if isinstance(inner, Message) and cte in ("base64", "quoted-printable"):
        # Encoded against RFC 2046 §5.2.1: the parser read the encoded text
        # as the message; decode it and parse the result.
        encoded = (_serialise(inner) or b"").lstrip(b"\r\n")
        try:
            decoded = (
                binascii.a2b_base64(encoded) if cte == "base64" else quopri.decodestring(encoded)
            )
            inner = email.message_from_bytes(decoded, policy=policy.compat32)
        except Exception:  # noqa: BLE001 — stdlib decoders and parser on hostile bytes
            inner = None
        if inner is not None:
            walk.budget.count_bytes(len(decoded))
            data = decoded
    elif not isinstance(inner, Message):
        # A message/rfc822 part the parser did not open (encoded with base64,
        # against RFC 2046 §5.2.1): decode it and parse it as bytes.
        data = _payload_bytes(part, walk)
        if not data.strip():
            return
        try:
            inner = email.message_from_bytes(data, policy=policy.compat32)
        except Exception:  # noqa: BLE001 — stdlib parser on hostile bytes
            inner = None
    if isinstance(inner, Message) and not data:
        data = _serialise(inner) or b""
    if inner is not None:
        for header_name in ("message-id",):
            value = inner.get(header_name)
            if value is not None:
                walk.returned_ids.extend(_message_ids([str(value)])[:1])
    subject = ""
    if inner is not None and walk.forward_depth < walk.budget.limits.max_forward_depth:
        forwarded = _parse_tree(
            inner, walk.budget, forward_depth=walk.forward_depth + 1, depth=depth + 1
        )
        walk.forwarded.append(forwarded)
        subject = forwarded.subject
    elif inner is not None and inner.get("subject") is not None:
        subject = decode_header_text(str(inner.get("subject")), walk.defects)
    if not data:
        walk.defects.add("Message transféré illisible : ignoré.")
        return
    walk.budget.count_bytes(len(data))
    filename = _filename(part, walk) or (f"{subject[:150]}.eml" if subject.strip() else "")
    walk.attachments.append(
        _PendingAttachment(
            filename=filename,
            content_type=part.get_content_type().lower(),
            data=data,
            content_id=_content_id(part, walk),
            is_forwarded_message=True,
        )
    )


def _walk(part: Message, walk: _Walk, depth: int, *, body_allowed: bool = True) -> _Body:
    """Collect the body of `part` and its attachments (RFC 2046 §5.1)."""
    if depth > walk.budget.limits.max_nesting:
        raise MailTooLargeError(
            f"Structure MIME trop imbriquée (plus de {walk.budget.limits.max_nesting} niveaux)."
        )
    content_type = part.get_content_type().lower()
    if content_type in ("message/rfc822", "message/global"):
        _forwarded(part, walk, depth)
        return _Body()
    if content_type.startswith("message/") and part.is_multipart():
        # message/delivery-status (RFC 3464 §2.1): the parser splits it into
        # blocks of fields; kept whole as a text attachment.
        _header_blocks(part, walk)
        return _Body()
    if not part.is_multipart():
        return _leaf(part, walk, body_allowed=body_allowed)
    walk.budget.count_part()
    children = [child for child in part.get_payload() if isinstance(child, Message)]
    subtype = part.get_content_subtype().lower()
    body = _Body()
    if subtype == "alternative":
        # RFC 2046 §5.1.4: the same content, richest last. The text comes
        # from the first alternative that has text, the HTML from the last
        # that has HTML; attachments are collected from every branch.
        results = [_walk(child, walk, depth + 1, body_allowed=body_allowed) for child in children]
        texts = next((r.texts for r in results if r.texts), [])
        htmls = next((r.htmls for r in reversed(results) if r.htmls), [])
        body.texts.extend(texts)
        body.htmls.extend(htmls)
        return body
    if subtype == "related":
        # RFC 2387: the root (the `start` part, else the first) is the body,
        # the others are resources it references by cid:.
        start = part.get_param("start")
        start_id = start.strip().strip("<>") if isinstance(start, str) else None
        root_index = 0
        if start_id:
            for index, child in enumerate(children):
                if str(child.get("content-id", "")).strip().strip("<>") == start_id:
                    root_index = index
                    break
        for index, child in enumerate(children):
            result = _walk(
                child, walk, depth + 1, body_allowed=body_allowed and index == root_index
            )
            body.extend(result)
        return body
    if subtype == "report":
        # RFC 6522: a human-readable part, then the machine-readable report
        # (RFC 3464 message/delivery-status), then the returned message.
        report_type = part.get_param("report-type")
        if isinstance(report_type, str) and report_type.strip().lower() == "delivery-status":
            walk.is_delivery_report = True
        for index, child in enumerate(children):
            body.extend(_walk(child, walk, depth + 1, body_allowed=body_allowed and index == 0))
        return body
    if subtype in ("signed", "encrypted"):
        # RFC 1847: the signed content, then the signature (kept as an
        # attachment); an encrypted part cannot be read.
        if subtype == "encrypted":
            walk.is_encrypted = True
            walk.defects.add("Message chiffré : son contenu n'est pas lisible.")
        for index, child in enumerate(children):
            body.extend(_walk(child, walk, depth + 1, body_allowed=body_allowed and index == 0))
        return body
    # multipart/mixed, digest, parallel and unknown subtypes (RFC 2046 §5.1.7:
    # treated as mixed): every text part without a file name is read in order
    # (Apple Mail splits the text around inline attachments).
    for child in children:
        body.extend(_walk(child, walk, depth + 1, body_allowed=body_allowed))
    return body


# ---------------------------------------------------------------------------
# TNEF (winmail.dat)


def _tnef_string(value: Any, codepage: str | None = None) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode(codepage or "cp1252").rstrip("\x00")
        except (UnicodeDecodeError, LookupError):
            return value.decode("latin-1").rstrip("\x00")
    return str(value or "").rstrip("\x00")


def _rtf_body(compressed: bytes | None, walk: _Walk) -> str:
    """The text of a TNEF compressed-RTF body ([MS-OXRTFCP]): its header
    states the raw size, checked against the limits before decompressing."""
    if not compressed or len(compressed) < 16:
        return ""
    raw_size = struct.unpack("<I", compressed[4:8])[0]
    if raw_size > walk.budget.limits.max_attachment_bytes:
        raise MailTooLargeError("Corps RTF trop volumineux une fois décompressé.")
    from compressed_rtf import decompress

    try:
        rtf = decompress(compressed + b"\x00")
    except Exception:  # noqa: BLE001 — third-party decoder on hostile bytes
        walk.defects.add("Corps RTF de winmail.dat illisible : ignoré.")
        return ""
    walk.budget.count_bytes(len(rtf))
    text = rtf.decode("latin-1")
    try:
        from RTFDE.deencapsulate import DeEncapsulator

        encapsulated = DeEncapsulator(rtf)
        encapsulated.deencapsulate()
        if encapsulated.content_type == "html" and encapsulated.html:
            return html_to_text(str(encapsulated.html))
        if encapsulated.text:
            return _normalise_newlines(str(encapsulated.text))
    except Exception:  # noqa: BLE001, S110 — not encapsulated HTML/text: strip the RTF ourselves
        pass
    return _rtf_to_text(text)


def _unpack_tnef(data: bytes, walk: _Walk) -> bool:
    """Unpack a winmail.dat (MS-OXTNEF) into attachments and a fallback
    body. False when it cannot be read (the caller keeps the file as is)."""
    from tnefparse import TNEF

    try:
        tnef = TNEF(data, do_checksum=False)
    except RecursionError as error:
        raise MailTooLargeError("winmail.dat trop imbriqué.") from error
    except Exception:  # noqa: BLE001 — third-party decoder on hostile bytes
        walk.defects.add("Pièce jointe winmail.dat illisible : conservée telle quelle.")
        return False
    body = _Body()
    try:
        if tnef.htmlbody:
            body.htmls.append(_tnef_string(tnef.htmlbody))
        if tnef.body:
            body.texts.append(_normalise_newlines(_tnef_string(tnef.body)))
        if not body.texts and not body.htmls and tnef._rtfbody:
            text = _rtf_body(tnef._rtfbody, walk)
            if text:
                body.texts.append(text)
        files = []
        for attachment in tnef.attachments:
            payload = attachment.data if isinstance(attachment.data, bytes) else b""
            try:
                name = _tnef_string(attachment.long_filename(), tnef.codepage)
            except (UnicodeDecodeError, AttributeError, IndexError, TypeError):
                name = ""
            files.append((name, payload))
    except MailTooLargeError:
        raise
    except Exception:  # noqa: BLE001 — third-party decoder on hostile bytes
        walk.defects.add("Pièce jointe winmail.dat illisible : conservée telle quelle.")
        return False
    walk.tnef_bodies.append(body)
    for name, payload in files:
        walk.budget.count_part()
        walk.budget.count_bytes(len(payload))
        walk.attachments.append(
            _PendingAttachment(
                filename=name,
                content_type=detect_content_type(payload),
                data=payload,
                content_id=None,
                from_tnef=True,
            )
        )
    return True


# ---------------------------------------------------------------------------
# Assembling the result

_CID_REFERENCE = re.compile(r"""cid:([^"'\s>)]+)""", re.IGNORECASE)


def _finish_attachments(
    pending: list[_PendingAttachment], html: str
) -> tuple[ParsedAttachment, ...]:
    """Final attachments: file names made safe (with fallbacks), types
    detected, inline status from the cid: references of the HTML body."""
    referenced = {unquote(item).casefold() for item in _CID_REFERENCE.findall(html)}
    result = []
    for number, item in enumerate(pending, start=1):
        # The declared type is raw header text (NUL, 8-bit bytes as lone
        # surrogates): cleaned before it can become the detected type.
        content_type = _clean_line(item.content_type)[:200]
        detected = detect_content_type(item.data, content_type)
        if item.is_forwarded_message:
            detected = "message/rfc822"
        fallback_type = detected if detected != "application/octet-stream" else content_type
        stem = "message-transfere" if item.is_forwarded_message else "piece-jointe"
        filename = _safe_filename(
            item.filename, fallback_stem=f"{stem}-{number}", content_type=fallback_type
        )
        is_inline = bool(item.content_id) and (item.content_id or "").casefold() in referenced
        result.append(
            ParsedAttachment(
                filename=filename,
                content_type=content_type,
                detected_type=detected,
                data=item.data,
                size=len(item.data),
                sha256=hashlib.sha256(item.data).hexdigest(),
                content_id=item.content_id,
                is_inline=is_inline,
                from_tnef=item.from_tnef,
                is_forwarded_message=item.is_forwarded_message,
            )
        )
    return tuple(result)


def _header_map(message: Message, defects: _Defects, limits: ParseLimits) -> dict[str, list[str]]:
    """Raw header values by lower-case name, in order (folding kept)."""
    headers: dict[str, list[str]] = {}
    for count, (name, value) in enumerate(message.raw_items()):
        if count >= limits.max_header_count:
            raise MailTooLargeError(f"Trop d'en-têtes (plus de {limits.max_header_count}).")
        key = _clean_line(str(name)).lower()
        headers.setdefault(key, []).append(str(value))
    return headers


_PARSER_DEFECTS = {
    "StartBoundaryNotFoundDefect": "Délimiteur MIME de début introuvable.",
    "CloseBoundaryNotFoundDefect": "Délimiteur MIME de fin manquant.",
    "MultipartInvariantViolationDefect": "Partie multipart sans sous-parties.",
    "NoBoundaryInMultipartDefect": "Partie multipart sans délimiteur.",
    "MissingHeaderBodySeparatorDefect": "Ligne vide manquante entre en-têtes et corps.",
    "MisplacedEnvelopeHeaderDefect": "Ligne « From » mal placée dans les en-têtes.",
    "InvalidBase64PaddingDefect": "Base64 mal complété : décodé quand même.",
    "InvalidBase64CharactersDefect": "Caractères invalides en base64 : ignorés.",
    "InvalidBase64LengthDefect": "Longueur base64 invalide : décodé en partie.",
    "FirstHeaderLineIsContinuationDefect": "Première ligne d'en-tête mal formée.",
    "InvalidMultipartContentTransferEncodingDefect": (
        "Encodage de transfert invalide sur une partie multipart."
    ),
}


def _parser_defects(message: Message, defects: _Defects) -> None:
    """Translate the defects the stdlib parser noted on the tree."""
    stack = [message]
    seen = 0
    while stack and seen < 2000:
        part = stack.pop()
        seen += 1
        for defect in getattr(part, "defects", []):
            name = type(defect).__name__
            defects.add(_PARSER_DEFECTS.get(name, f"Structure MIME irrégulière ({name})."))
        # get_payload() of a leaf decodes 8-bit text with the declared
        # charset, which may be a codec that raises: only containers are read.
        if part.is_multipart():
            stack.extend(child for child in part.get_payload() if isinstance(child, Message))


def _parse_tree(
    message: Message, budget: _Budget, *, forward_depth: int = 0, depth: int = 0
) -> ParsedMessage:
    """Turn a parsed MIME tree into a ParsedMessage."""
    defects = _Defects()
    headers = _header_map(message, defects, budget.limits)

    def values(name: str) -> list[str]:
        return headers.get(name, [])

    def text_of(name: str) -> str:
        found = values(name)
        return _clean_line(decode_header_text(found[0], defects)) if found else ""

    subject = text_of("subject")
    from_list = _addresses(values("from"), defects)
    sender_list = _addresses(values("sender"), defects)
    date_header = (
        _clean_line(_from_surrogates(_unfold(values("date")[0]), defects)) if values("date") else ""
    )
    date = _parse_date(date_header, defects) if date_header else None

    walk = _Walk(budget=budget, defects=defects, forward_depth=forward_depth)
    body = _walk(message, walk, depth)
    if not body.texts and not body.htmls:
        for tnef_body in walk.tnef_bodies:
            body.extend(tnef_body)
    _parser_defects(message, defects)

    raw_html = "\n".join(body.htmls)
    text = "\n\n".join(item.strip("\n") for item in body.texts if item.strip())
    if not text and raw_html:
        text = html_to_text(raw_html)
        if len(raw_html) > HTML_TO_TEXT_MAX_CHARS:
            defects.add("Corps HTML très long : le texte qui en est tiré est tronqué.")
    text = _clean(text)
    new_text, quoted_text, signature = split_reply(text)
    html = sanitize_html(raw_html) if raw_html.strip() else ""

    message_id = _message_id(values("message-id"))
    kind = classify(
        {
            name: [decode_header_text(v, defects) for v in vals[:5]]
            for name, vals in headers.items()
        },
        subject=subject,
        from_address=from_list[0].address if from_list else "",
        from_name=from_list[0].name if from_list else "",
        is_delivery_report=walk.is_delivery_report,
        returned_message_ids=walk.returned_ids,
        # Report texts are decoded, not cleaned: a NUL there must not end
        # up in bounced_message_id.
        texts=[text, *(_clean(item) for item in walk.report_texts)],
        own_message_id=message_id,
    )
    kept = {}
    for name in KEPT_HEADERS:
        if values(name):
            kept[name] = _clean_line(decode_header_text(values(name)[0], defects))[
                :_HEADER_VALUE_MAX
            ]
    return ParsedMessage(
        message_id=message_id,
        in_reply_to=_message_ids(values("in-reply-to")),
        references=_message_ids(values("references")),
        subject=subject,
        from_=from_list[0] if from_list else None,
        sender=sender_list[0] if sender_list else None,
        reply_to=_addresses(values("reply-to"), defects),
        to=_addresses(values("to"), defects),
        cc=_addresses(values("cc"), defects),
        bcc=_addresses(values("bcc"), defects),
        date=date,
        date_header=date_header,
        text=text,
        html=_clean(html),
        new_text=new_text,
        quoted_text=quoted_text,
        signature=signature,
        is_auto_reply=kind.is_auto_reply,
        is_bounce=kind.is_bounce,
        is_bulk=kind.is_bulk,
        is_lanterne_notification=bool(values("x-lanterne-notification")),
        bounced_message_id=kind.bounced_message_id,
        attachments=_finish_attachments(walk.attachments, raw_html),
        forwarded=tuple(walk.forwarded),
        defects=tuple(defects.items),
        headers=kept,
        is_encrypted=walk.is_encrypted,
    )


def _precheck(data: bytes, limits: ParseLimits) -> None:
    """Refuse, before parsing, what would cost too much to parse."""
    if len(data) > limits.max_message_bytes:
        raise MailTooLargeError(
            f"Message trop volumineux ({len(data) // MB} Mo, maximum "
            f"{limits.max_message_bytes // MB} Mo)."
        )
    # Each MIME part costs a Python object tree: a flood of boundary lines
    # ("\n--x") is refused before the parser builds it. The bound is loose
    # (text bodies may hold a few such lines); the exact part count is
    # checked during the walk.
    if len(re.findall(rb"\n--[^\s-]", data)) > limits.max_parts * 10:
        raise MailTooLargeError(f"Trop de parties MIME (plus de {limits.max_parts}).")


def _looks_like_mail(message: Message) -> bool:
    """At least one header field that every e-mail has (RFC 5322 §3.6)."""
    names = {str(name).lower() for name in message}
    return bool(
        names
        & {"from", "to", "subject", "date", "message-id", "received", "return-path", "mime-version",
           "content-type", "sender", "cc", "delivered-to"}
    )  # fmt: skip


def parse_message(data: bytes, *, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedMessage:
    """Parse the exact bytes of one e-mail (RFC 5322 + MIME).

    Raises `MailTooLargeError` when a limit is exceeded and `MailParseError`
    when the bytes are not an e-mail at all; never anything else."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise MailParseError("Le message doit être fourni sous forme d'octets.")
    data = bytes(data)
    if looks_like_outlook_msg(data):
        return parse_outlook_msg(data, limits=limits)
    _precheck(data, limits)
    stripped = data.lstrip(b"\r\n\t \xef\xbb\xbf")
    if not stripped.strip():
        raise MailParseError("Message vide.")
    repaired = _repair_obsolete_headers(stripped)
    try:
        message = email.message_from_bytes(repaired, policy=policy.compat32)
    except RecursionError as error:
        raise MailTooLargeError("Structure MIME trop imbriquée.") from error
    except Exception as error:  # noqa: BLE001 — the stdlib parser is meant never to raise
        raise MailParseError(f"Message illisible ({type(error).__name__}).") from error
    if not _looks_like_mail(message):
        raise MailParseError("Aucun en-tête de message reconnaissable : ce n'est pas un e-mail.")
    try:
        parsed = _parse_tree(message, _Budget(limits))
    except MailParseError:
        raise
    except RecursionError as error:
        raise MailTooLargeError("Structure MIME trop imbriquée.") from error
    except Exception as error:
        # A bug of ours on an unforeseen input: the message is quarantined
        # with the error, never a crash loop. Logged for the developers.
        logger.exception("Unexpected error while parsing a message")
        raise MailParseError(
            f"Erreur inattendue de l'analyseur ({type(error).__name__})."
        ) from error
    if len(data) != len(stripped):
        parsed = _with_defect(parsed, "Octets parasites avant les en-têtes : ignorés.")
    if repaired is not stripped:
        parsed = _with_defect(
            parsed, "En-têtes en syntaxe obsolète (espace avant « : ») : corrigés."
        )
    return parsed


_OBSOLETE_FIELD = re.compile(rb"^([!-9;-~]+)[ \t]+:", re.M)


def _repair_obsolete_headers(data: bytes) -> bytes:
    """RFC 5322 §4.5 allows white space between a field name and its colon
    (obs-optional); the stdlib parser does not, and would read such a header
    block as body. Remove that white space in the header block only."""
    end = re.search(rb"\r?\n\r?\n", data)
    head = data[: end.start()] if end else data
    if not _OBSOLETE_FIELD.search(head):
        return data
    return _OBSOLETE_FIELD.sub(rb"\1:", head) + data[len(head) :]


def _with_defect(parsed: ParsedMessage, defect: str) -> ParsedMessage:
    return replace(parsed, defects=(*parsed.defects, defect))


# ---------------------------------------------------------------------------
# Outlook .msg

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def looks_like_outlook_msg(data: bytes) -> bool:
    """Whether the bytes are an OLE2 compound file (the container of
    Outlook .msg files) rather than a MIME message."""
    return bytes(data[:8]) == _OLE_MAGIC


def _msg_text(value: Any, defects: _Defects) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return _decode_bytes(value, None, defects, utf8_is_fine=True)
    return str(value)


def parse_outlook_msg(data: bytes, *, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedMessage:
    """Parse an Outlook .msg file (MS-OXMSG) with extract-msg: its transport
    headers when it has them, its properties otherwise, its text and HTML
    bodies and its attachments."""
    if len(data) > limits.max_message_bytes:
        raise MailTooLargeError(
            f"Message trop volumineux ({len(data) // MB} Mo, maximum "
            f"{limits.max_message_bytes // MB} Mo)."
        )
    if not looks_like_outlook_msg(data):
        raise MailParseError("Ce n'est pas un fichier Outlook .msg.")
    import extract_msg

    logging.getLogger("extract_msg").setLevel(logging.ERROR)
    try:
        msg = extract_msg.openMsg(bytes(data), delayAttachments=False)
    except RecursionError as error:
        raise MailTooLargeError("Fichier .msg trop imbriqué.") from error
    except Exception as error:  # noqa: BLE001 — third-party decoder on hostile bytes
        raise MailParseError(f"Fichier .msg illisible ({type(error).__name__}).") from error
    try:
        return _parse_msg_object(msg, limits)
    except MailParseError:
        raise
    except RecursionError as error:
        raise MailTooLargeError("Fichier .msg trop imbriqué.") from error
    except Exception as error:  # noqa: BLE001 — third-party decoder on hostile bytes
        logger.exception("Unexpected error while reading an Outlook .msg")
        raise MailParseError(f"Fichier .msg illisible ({type(error).__name__}).") from error
    finally:
        # Closing an in-memory file cannot fail in a way that matters.
        with contextlib.suppress(Exception):
            msg.close()


def _parse_msg_object(msg: Any, limits: ParseLimits) -> ParsedMessage:
    defects = _Defects()
    budget = _Budget(limits)
    header_message = getattr(msg, "header", None)
    if not isinstance(header_message, Message):
        header_message = Message()
    headers = _header_map(header_message, defects, limits)

    def first(name: str) -> str:
        found = headers.get(name)
        return decode_header_text(found[0], defects) if found else ""

    subject = _clean_line(_msg_text(getattr(msg, "subject", None), defects) or first("subject"))
    from_list = _addresses(
        [_msg_text(getattr(msg, "sender", None), defects) or first("from")], defects
    )
    to = _addresses([_msg_text(getattr(msg, "to", None), defects) or first("to")], defects)
    cc = _addresses([_msg_text(getattr(msg, "cc", None), defects) or first("cc")], defects)
    date_header = first("date")
    date: datetime | None = None
    try:
        value = getattr(msg, "date", None)
    except Exception:  # noqa: BLE001 — a broken date property
        value = None
    if isinstance(value, datetime):
        date = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    elif date_header:
        date = _parse_date(date_header, defects)
    if not date_header and date is not None:
        date_header = email.utils.format_datetime(date)

    text = _normalise_newlines(_msg_text(getattr(msg, "body", None), defects))
    raw_html = ""
    html_body = getattr(msg, "htmlBody", None)
    if html_body:
        raw_html = _msg_text(html_body, defects)
    if not text and raw_html:
        text = html_to_text(raw_html)
    text = _clean(text)

    pending: list[_PendingAttachment] = []
    for attachment in getattr(msg, "attachments", []) or []:
        budget.count_part()
        payload = getattr(attachment, "data", None)
        name = getattr(attachment, "longFilename", None) or getattr(
            attachment, "shortFilename", None
        )
        if not isinstance(payload, bytes):
            defects.add(
                f"Pièce jointe Outlook non extraite ({_clean_line(str(name or 'sans nom'))})."
            )
            continue
        budget.count_bytes(len(payload))
        content_id = getattr(attachment, "contentId", None)
        pending.append(
            _PendingAttachment(
                filename=str(name or ""),
                content_type=str(
                    getattr(attachment, "mimetype", None) or "application/octet-stream"
                ).lower(),
                data=payload,
                content_id=str(content_id).strip("<>") if content_id else None,
            )
        )

    new_text, quoted_text, signature = split_reply(text)
    message_id_raw = _msg_text(getattr(msg, "messageId", None), defects) or first("message-id")
    message_id = _message_id([message_id_raw]) if message_id_raw else None
    in_reply_raw = _msg_text(getattr(msg, "inReplyTo", None), defects) or first("in-reply-to")
    decoded_headers = {
        name: [decode_header_text(v, defects) for v in vals[:5]] for name, vals in headers.items()
    }
    kind = classify(
        decoded_headers,
        subject=subject,
        from_address=from_list[0].address if from_list else "",
        from_name=from_list[0].name if from_list else "",
        is_delivery_report=False,
        returned_message_ids=[],
        texts=[text],
        own_message_id=message_id,
    )
    kept = {
        name: _clean_line(decoded_headers[name][0])[:_HEADER_VALUE_MAX]
        for name in KEPT_HEADERS
        if decoded_headers.get(name)
    }
    html = sanitize_html(raw_html) if raw_html.strip() else ""
    return ParsedMessage(
        message_id=message_id,
        in_reply_to=_message_ids([in_reply_raw]) if in_reply_raw else (),
        references=_message_ids(headers.get("references", [])),
        subject=subject,
        from_=from_list[0] if from_list else None,
        sender=None,
        reply_to=_addresses(headers.get("reply-to", []), defects),
        to=to,
        cc=cc,
        date=date,
        date_header=_clean_line(date_header),
        text=text,
        html=_clean(html),
        new_text=new_text,
        quoted_text=quoted_text,
        signature=signature,
        is_auto_reply=kind.is_auto_reply,
        is_bounce=kind.is_bounce,
        is_bulk=kind.is_bulk,
        is_lanterne_notification=bool(headers.get("x-lanterne-notification")),
        bounced_message_id=kind.bounced_message_id,
        attachments=_finish_attachments(pending, raw_html),
        forwarded=(),
        defects=tuple(defects.items),
        headers=kept,
    )
