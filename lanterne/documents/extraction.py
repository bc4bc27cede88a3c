"""The text of stored files, for search: PDF, office documents, plain text.

`extract_text` (one file) and `Extractor` (many, one after the other) take
a file's bytes and return an `Extraction`: the text found and a state —
extracted, too large (a limit stopped the reading: the text read until then
is kept), unsupported (a format without text Lanterne reads: images,
archives, legacy binary office files) or failed (a broken or encrypted
file, a file that took too long), with the reason. They never raise.

The files are hostile until proven otherwise: anyone can mail the agency a
PDF. Hence:

- Bounds on what is read: `MAX_INPUT_BYTES` per file, `MAX_PAGES` per PDF,
  `MAX_XML_BYTES` of XML inflated from an office document (a ZIP bomb's
  members are read as a stream and abandoned at the bound), and
  `MAX_CHARACTERS` of text kept.
- PDF and office documents are read in a child process (`python -m
  lanterne.documents.extraction`, one per `Extractor`, reused from file to
  file) with an address-space limit (`MEMORY_LIMIT_BYTES`) and, per file, a
  wall-clock limit (`TIMEOUT_SECONDS`): a PDF whose content streams make
  pypdf loop for minutes (pypdf's own limits bound the bytes it inflates,
  not the time it spends on them) is killed with its process, and the next
  file gets a new one. Plain text is decoded in the calling process: its
  cost is bounded by the bytes read.
- Office documents are read with the standard library's `zipfile` and a
  streaming (SAX) XML parser from defusedxml, which refuses DTDs, entity
  declarations and external references (billion laughs, XXE). Libraries
  such as python-docx, odfpy or openpyxl would each build the whole
  document in memory (a tree of every element), three dependencies for
  three formats, when search needs only the character data of a few
  elements: a few dozen lines here, with constant memory.

This module imports neither Django nor the rest of Lanterne, so that the
child process starts in a few tens of milliseconds; `lanterne.documents.texts`
stores what it returns."""

from __future__ import annotations

import io
import json
import os
import re
import selectors
import struct
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import IO, Any
from xml.sax import SAXException
from xml.sax.handler import ContentHandler, feature_namespaces

# The states of a text (`choices.TextState` adds « pending » for a file not
# tried yet).
EXTRACTED = "extracted"
TOO_LARGE = "too_large"
UNSUPPORTED = "unsupported"
FAILED = "failed"

# Files larger than this are not read at all (a mail may carry 50 MB).
MAX_INPUT_BYTES = 40 * 1024 * 1024
MAX_PAGES = 500
MAX_CHARACTERS = 200_000
MAX_XML_BYTES = 64 * 1024 * 1024
# Plain text: what can hold MAX_CHARACTERS in any encoding.
MAX_TEXT_BYTES = 4 * MAX_CHARACTERS
TIMEOUT_SECONDS = 30.0
MEMORY_LIMIT_BYTES = 1024 * 1024 * 1024
# The length of a reason kept with a failure.
MAX_REASON = 300

_PDF = "pdf"
_OFFICE = "office"
_TEXT = "text"
_TEXT_TYPES = {
    "text/plain",
    "text/csv",
    "text/tab-separated-values",
    "text/markdown",
    "text/x-log",
}
_TEXT_SUFFIXES = (".txt", ".csv", ".tsv", ".md", ".log")


@dataclass(frozen=True)
class Extraction:
    """What was read of a file: its text (empty when none), its state, and
    for any state but « extracted » the reason, in English (for staff and
    logs, not shown to co-owners)."""

    state: str
    text: str = ""
    reason: str = ""


def _failed(reason: str) -> Extraction:
    return Extraction(FAILED, "", reason[:MAX_REASON])


# --- Cleaning and bounding the text ---------------------------------------------------

# C0 controls but tab and newline, and DEL: PostgreSQL refuses NUL in text,
# and none of them is a word.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*)+")
_SPACES = re.compile(r"[ \t]+")


def clean_text(text: str) -> str:
    """`text` without control characters nor lone surrogates (which no
    database stores), with runs of spaces and of blank lines reduced to one."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x0c", "\n")
    text = _CONTROLS.sub(" ", text)
    text = _SPACES.sub(" ", text)
    return _BLANK_LINES.sub("\n\n", text).strip()


class _Full(Exception):
    """The text reached `MAX_CHARACTERS`."""


class _Text:
    """Text gathered piece by piece, up to `MAX_CHARACTERS` (`_Full` beyond)."""

    def __init__(self, limit: int = MAX_CHARACTERS) -> None:
        self.limit = limit
        self.pieces: list[str] = []
        self.length = 0

    def add(self, piece: str) -> None:
        if piece.isspace() and self.pieces and self.pieces[-1][-1:].isspace():
            # Spacing after spacing (empty paragraphs by the thousand) would
            # fill the text with nothing: `clean_text` drops it anyway.
            return
        room = self.limit - self.length
        if len(piece) > room:
            self.pieces.append(piece[:room])
            self.length = self.limit
            raise _Full
        self.pieces.append(piece)
        self.length += len(piece)

    def value(self) -> str:
        return clean_text("".join(self.pieces))[: self.limit]


def _too_many_characters() -> str:
    return f"text cut at {MAX_CHARACTERS} characters"


# --- PDF (in the child process) -------------------------------------------------------


def _pdf_text(data: bytes) -> Extraction:
    import logging

    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    # pypdf reports every oddity of a broken file as a warning: not ours to log.
    logging.getLogger("pypdf").setLevel(logging.CRITICAL)
    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        try:
            # Many PDFs are encrypted against editing only, with an empty
            # password to read them.
            opened = reader.decrypt("")
        except (DependencyError, NotImplementedError, FileNotDecryptedError) as error:
            return _failed(f"encrypted PDF: {error}")
        if not opened:
            return _failed("encrypted PDF: a password is needed to read it")
    pages = reader.pages
    count = len(pages)
    text = _Text()
    try:
        for index in range(min(count, MAX_PAGES)):
            text.add(pages[index].extract_text() or "")
            text.add("\n\n")
    except _Full:
        return Extraction(TOO_LARGE, text.value(), _too_many_characters())
    if count > MAX_PAGES:
        return Extraction(TOO_LARGE, text.value(), f"only the first {MAX_PAGES} of {count} pages")
    return Extraction(EXTRACTED, text.value())


# --- Office documents (in the child process) ------------------------------------------

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
_SML = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_ODF_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"

Name = tuple[str | None, str]


@dataclass(frozen=True)
class _Layout:
    """Where a format keeps its text: character data inside `text` elements
    (or inside `paragraphs` when `text` is empty), a line break after each
    paragraph, a tab, a line break or spaces for the empty elements that
    stand for them."""

    paragraphs: frozenset[Name]
    text: frozenset[Name] = frozenset()
    tabs: frozenset[Name] = frozenset()
    breaks: frozenset[Name] = frozenset()
    spaces: frozenset[Name] = frozenset()


_WORD = _Layout(
    paragraphs=frozenset({(_W, "p")}),
    text=frozenset({(_W, "t")}),
    tabs=frozenset({(_W, "tab")}),
    breaks=frozenset({(_W, "br"), (_W, "cr")}),
)
_SLIDES = _Layout(
    paragraphs=frozenset({(_A, "p")}),
    text=frozenset({(_A, "t")}),
    breaks=frozenset({(_A, "br")}),
)
_SHEET_STRINGS = _Layout(paragraphs=frozenset({(_SML, "si")}), text=frozenset({(_SML, "t")}))
_OPEN_DOCUMENT = _Layout(
    paragraphs=frozenset({(_ODF_TEXT, "p"), (_ODF_TEXT, "h")}),
    tabs=frozenset({(_ODF_TEXT, "tab")}),
    breaks=frozenset({(_ODF_TEXT, "line-break")}),
    spaces=frozenset({(_ODF_TEXT, "s")}),
)


class _XmlText(ContentHandler):
    """Gathers the text of one XML member as `layout` says where it is."""

    def __init__(self, layout: _Layout, text: _Text) -> None:
        super().__init__()
        self.layout = layout
        self.text = text
        self.inside = 0  # depth of text elements (of paragraphs when there are none)

    def _holds_text(self, name: Name) -> bool:
        return name in (self.layout.text or self.layout.paragraphs)

    def startElementNS(self, name: Name, qname: str | None, attrs: Any) -> None:  # noqa: N802
        if self._holds_text(name):
            self.inside += 1
        if name in self.layout.tabs:
            self.text.add("\t")
        elif name in self.layout.breaks:
            self.text.add("\n")
        elif name in self.layout.spaces:
            count = attrs.get((_ODF_TEXT, "c"), "1")
            self.text.add(" " * min(int(count) if count.isdigit() else 1, 80))

    def endElementNS(self, name: Name, qname: str | None) -> None:  # noqa: N802
        if self._holds_text(name):
            self.inside -= 1
        if name in self.layout.paragraphs:
            self.text.add("\n")

    def characters(self, content: str) -> None:
        if self.inside > 0:
            self.text.add(content)


class _XmlBudgetSpent(Exception):
    """The office document's XML went past `MAX_XML_BYTES`."""


def _members(archive: zipfile.ZipFile) -> tuple[_Layout, list[str]] | None:
    """The layout and the XML members holding the text of an office
    document, in reading order; None for any other ZIP archive."""
    names = set(archive.namelist())
    if "word/document.xml" in names:
        extra = sorted(
            name
            for name in names
            if re.fullmatch(r"word/(header\d*|footer\d*|footnotes|endnotes)\.xml", name)
        )
        return _WORD, ["word/document.xml", *extra]
    if "ppt/presentation.xml" in names:
        slides = [name for name in names if re.fullmatch(r"ppt/slides/slide\d+\.xml", name)]
        slides.sort(key=lambda name: int(re.sub(r"\D", "", name.rsplit("/", 1)[1])))
        return _SLIDES, slides
    if "xl/workbook.xml" in names:
        return _SHEET_STRINGS, [name for name in ("xl/sharedStrings.xml",) if name in names]
    if "content.xml" in names and "mimetype" in names:
        with archive.open("mimetype") as handle:
            kind = handle.read(100)
        if kind.startswith(b"application/vnd.oasis.opendocument."):
            return _OPEN_DOCUMENT, ["content.xml"]
    return None


def _office_text(data: bytes) -> Extraction:
    from defusedxml import DefusedXmlException
    from defusedxml.expatreader import DefusedExpatParser

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as error:
        return _failed(f"broken ZIP archive: {error}")
    with archive:
        found = _members(archive)
        if found is None:
            return Extraction(UNSUPPORTED, "", "a ZIP archive, not an office document")
        layout, members = found
        text = _Text()
        budget = MAX_XML_BYTES
        try:
            for member in members:
                parser = DefusedExpatParser(forbid_dtd=True)
                parser.setFeature(feature_namespaces, True)
                parser.setContentHandler(_XmlText(layout, text))
                with archive.open(member) as handle:
                    while chunk := handle.read(64 * 1024):
                        budget -= len(chunk)
                        if budget < 0:
                            raise _XmlBudgetSpent
                        parser.feed(chunk)
                parser.close()
                text.add("\n\n")
        except _Full:
            return Extraction(TOO_LARGE, text.value(), _too_many_characters())
        except _XmlBudgetSpent:
            return Extraction(
                TOO_LARGE, text.value(), f"more than {MAX_XML_BYTES // 2**20} MB of XML"
            )
        except (SAXException, DefusedXmlException) as error:
            return _failed(f"unreadable XML: {error}")
        except (RuntimeError, NotImplementedError, zipfile.BadZipFile) as error:
            # An encrypted member, an unknown compression, a broken entry.
            return _failed(f"unreadable ZIP member: {error}")
    return Extraction(EXTRACTED, text.value())


# --- Plain text (in the calling process) ----------------------------------------------


def _plain_text(data: bytes) -> Extraction:
    cut = len(data) > MAX_TEXT_BYTES
    head = data[:MAX_TEXT_BYTES]
    try:
        decoded = head.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        if cut and error.start >= len(head) - 3:
            # A character cut in two by the bound.
            decoded = head[: error.start].decode("utf-8-sig")
        else:
            from charset_normalizer import from_bytes

            best = from_bytes(head).best()
            if best is None:
                return Extraction(UNSUPPORTED, "", "not text in any known encoding")
            decoded = str(best)
    text = _Text()
    try:
        text.add(decoded)
    except _Full:
        return Extraction(TOO_LARGE, text.value(), _too_many_characters())
    if cut:
        return Extraction(TOO_LARGE, text.value(), f"only the first {MAX_TEXT_BYTES} bytes")
    return Extraction(EXTRACTED, text.value())


# --- Telling formats apart ------------------------------------------------------------


def _format(data: bytes, *, filename: str, content_type: str) -> str | None:
    """How to read `data`: by its first bytes, then by its declared type and
    its name (plain text has no signature)."""
    if b"%PDF-" in data[:1024]:
        return _PDF
    if data.startswith(b"PK\x03\x04"):
        return _OFFICE
    declared = content_type.split(";", 1)[0].strip().lower()
    if declared in _TEXT_TYPES or filename.lower().endswith(_TEXT_SUFFIXES):
        return _TEXT
    return None


def _in_child(kind: str, data: bytes) -> Extraction:
    """The child's side: read one file, whatever goes wrong."""
    try:
        return _pdf_text(data) if kind == _PDF else _office_text(data)
    except MemoryError:
        return _failed(f"needs more than {MEMORY_LIMIT_BYTES // 2**20} MB of memory")
    except RecursionError:
        return _failed("nested too deeply")
    except Exception as error:  # noqa: BLE001 — a broken file, whatever the library raised
        return _failed(f"{type(error).__name__}: {error}")


# --- The child process ----------------------------------------------------------------

_LENGTH = struct.Struct(">Q")


def _write_frame(stream: IO[bytes], payload: bytes) -> None:
    framed = memoryview(_LENGTH.pack(len(payload)) + payload)
    while framed:
        # An unbuffered pipe may take part of it (a signal in between).
        written = stream.write(framed)
        framed = framed[written if written is not None else len(framed) :]
    stream.flush()


def _read_exactly(stream: IO[bytes], size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = stream.read(size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    """The child's loop: a request is a frame holding the format, a newline
    and the file's bytes; the reply, a frame holding the `Extraction` as
    JSON. Ends when the parent closes its end."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
        # Background work: web requests and mail sources come first.
        os.nice(10)
    except (ImportError, ValueError, OSError):  # not on this system: the timeout still holds
        pass
    while True:
        header = _read_exactly(requests, _LENGTH.size)
        if header is None:
            return
        payload = _read_exactly(requests, _LENGTH.unpack(header)[0])
        if payload is None:
            return
        kind, _newline, data = payload.partition(b"\n")
        result = _in_child(kind.decode(), data)
        _write_frame(replies, json.dumps(asdict(result)).encode())


class Extractor:
    """Reads the text of files one after the other, with one child process
    for all of them (started at the first PDF or office document, started
    again after one was killed). Use it as a context manager, or call
    `close`."""

    def __init__(self, *, timeout: float = TIMEOUT_SECONDS) -> None:
        self.timeout = timeout
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Extractor:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the child process (it ends by itself when its input closes)."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()

    def extract(self, data: bytes, *, filename: str = "", content_type: str = "") -> Extraction:
        """The text of one file (`data`, its name and declared type)."""
        if len(data) > MAX_INPUT_BYTES:
            return Extraction(TOO_LARGE, "", f"larger than {MAX_INPUT_BYTES // 2**20} MB")
        kind = _format(data, filename=filename, content_type=content_type)
        if kind is None:
            return Extraction(UNSUPPORTED, "", f"no text read from {content_type or 'this type'}")
        if kind == _TEXT:
            try:
                return _plain_text(data)
            except Exception as error:  # noqa: BLE001 — never raise into callers
                return _failed(f"{type(error).__name__}: {error}")
        return self._ask_child(kind, data)

    def _child(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(  # noqa: S603 — our own interpreter and module
                [sys.executable, "-m", "lanterne.documents.extraction"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                bufsize=0,
            )
        return self._process

    def _ask_child(self, kind: str, data: bytes) -> Extraction:
        try:
            process = self._child()
        except OSError as error:
            return _failed(f"could not start the extraction process: {error}")
        assert process.stdin is not None and process.stdout is not None
        try:
            _write_frame(process.stdin, kind.encode() + b"\n" + data)
        except OSError:
            code = process.poll()
            self._kill()
            return _failed(f"the extraction process ended (exit code {code})")
        deadline = time.monotonic() + self.timeout
        header = self._read(process, _LENGTH.size, deadline)
        body = self._read(process, _LENGTH.unpack(header)[0], deadline) if header else None
        if header is None or body is None:
            timed_out = process.poll() is None
            code = process.poll()
            self._kill()
            if timed_out:
                return _failed(f"took longer than {self.timeout:g} s")
            return _failed(f"the extraction process ended (exit code {code})")
        try:
            fields = json.loads(body)
            return Extraction(str(fields["state"]), str(fields["text"]), str(fields["reason"]))
        except (ValueError, KeyError, TypeError) as error:
            self._kill()
            return _failed(f"unreadable answer from the extraction process: {error}")

    @staticmethod
    def _read(process: subprocess.Popen[bytes], size: int, deadline: float) -> bytes | None:
        """`size` bytes from the child, or None if it ends or the deadline passes."""
        assert process.stdout is not None
        descriptor = process.stdout.fileno()
        chunks: list[bytes] = []
        with selectors.DefaultSelector() as selector:
            selector.register(descriptor, selectors.EVENT_READ)
            while size:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(timeout=left):
                    return None
                chunk = os.read(descriptor, min(size, 1024 * 1024))
                if not chunk:
                    return None
                chunks.append(chunk)
                size -= len(chunk)
        return b"".join(chunks)


def extract_text(
    data: bytes, *, filename: str = "", content_type: str = "", timeout: float = TIMEOUT_SECONDS
) -> Extraction:
    """The text of one file (see `Extractor`)."""
    with Extractor(timeout=timeout) as extractor:
        return extractor.extract(data, filename=filename, content_type=content_type)


def extract_texts(
    files: Iterable[tuple[bytes, str, str]], *, timeout: float = TIMEOUT_SECONDS
) -> list[Extraction]:
    """The text of each of `files` (bytes, file name, declared type), with
    one child process for all of them."""
    with Extractor(timeout=timeout) as extractor:
        return [
            extractor.extract(data, filename=filename, content_type=content_type)
            for data, filename, content_type in files
        ]


if __name__ == "__main__":
    _serve(sys.stdin.buffer, sys.stdout.buffer)
