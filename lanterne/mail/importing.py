"""History import: an agency's old mail, read from files, through the pipeline.

`mail_import` takes paths — single `.eml` or Outlook `.msg` files, folders of
them (recursively), maildirs (with their Maildir++ subfolders), mbox files and
ZIP archives (a Lanterne export, or any ZIP of .eml/.msg files) — and hands
every message to the pipeline's own entry points: `mail_receive` (durable
storage of the exact bytes, one delivery recorded against the agency's
"Import d'historique" source, with the file it came from) then
`raw_message_process`. A message that cannot be parsed is quarantined by the
pipeline like any other; a file that cannot be read is reported and skipped.
Nothing here is specific to a first import: running it again over the same
files stores nothing new and records no new delivery.

Memory stays bounded whatever the size of the input: folders are walked one
directory at a time, and an mbox file is cut into messages while it is read,
line by line (`mbox_messages`), never loaded whole, and a ZIP archive is read
member by member. The largest thing held in memory is one message, and never
more than `MAIL_MAX_BYTES` of it. See docs/mail.md, "Importing history"."""

from __future__ import annotations

import base64
import binascii
import contextlib
import enum
import importlib
import logging
import os
import re
import stat
import threading
import time
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Protocol

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.transaction import Atomic

from lanterne.condominiums.models import Agency
from lanterne.dossiers.models import Dossier
from lanterne.dossiers.policy import Viewer
from lanterne.exports.manifest import zip_mail_members

from .autofile import messages_autofile
from .batch import Arrival, arrivals_receive, parsed_save
from .choices import RawFormat, RawState, SourceKind
from .filing import message_file
from .models import FilingMethod, MailSource, Message, RawMessage
from .parallel import ParseOutcome, ParseWorkers, parse_stored
from .storage import BlobBatch, blob_batch, blob_store_clean

logger = logging.getLogger(__name__)

IMPORT_SOURCE_NAME = "Import d'historique"

# --- Cutting an mbox file into messages ----------------------------------------------
#
# mbox (RFC 4155) is a concatenation of messages, each introduced by a "From_"
# line ("From sender date") and followed by an empty line. Writers protect body
# lines that would look like a separator by prefixing them with ">": mboxo
# quotes only "From " lines, mboxrd quotes every ">*From " line, so a reader
# removes one ">" from lines matching ">+From " — exact for mboxrd, and for
# mboxo it only changes a body line that already began with ">From " (a quoted
# reply), which is the conventional trade-off (qmail's mbox(5), mutt, Dovecot).
# Some writers (mboxo, hand-made exports) leave "From " body lines unquoted, so
# a "From " line only separates messages when the next line starts a header
# block, and when it follows an empty line or looks like a real From_ line
# (with a time and a year): "From time to time" in a body is left alone.

# Lines are read in pieces of at most this many bytes, so a file without line
# breaks (or a gigantic base64 line) never has to fit in memory at once.
MBOX_READ_LIMIT = 64 * 1024
_FROM = b"From "
_FROM_LINE_WITH_DATE = re.compile(rb"From \S+\s.*\d{1,2}:\d{2}.*\d{4}")
# A header field's name is printable US-ASCII except ":" (RFC 5322 §2.2).
_HEADER_LINE = re.compile(rb"[\x21-\x39\x3b-\x7e]+[ \t]*:")
_QUOTED_FROM = re.compile(rb">+From ")
_BLANK_LINES = (b"\n", b"\r\n")


@dataclass(frozen=True)
class MboxMessage:
    """One message cut from an mbox file: its bytes without the From_ line,
    the separating empty line or the ">From " quoting; `data` is None when the
    message is larger than the limit the splitter was given (not kept)."""

    position: int  # 1 for the file's first message
    offset: int  # where its From_ line starts in the file
    end: int  # offset just after its last byte in the file
    size: int
    data: bytes | None


def _mbox_message(
    *, position: int, offset: int, end: int, size: int, kept: bytearray | None, max_bytes: int
) -> MboxMessage:
    """The message cut so far. `size` already excludes the empty line that
    separated it from the next one; `kept` may still hold it."""
    data: bytes | None = None
    if kept is not None and size <= max_bytes:
        del kept[size:]
        data = bytes(kept)
    return MboxMessage(position=position, offset=offset, end=end, size=size, data=data)


def mbox_messages(stream: BinaryIO, *, max_message_bytes: int) -> Iterator[MboxMessage]:
    """Cut an mbox file into messages while reading it, one line at a time.

    Only the current message is held in memory, and only up to
    `max_message_bytes`: a larger one is measured but not kept (its `data` is
    None). LF and CRLF files are both read as they are; the messages keep their
    own line endings. Read errors (`OSError`) propagate to the caller.

    Written as one loop over local variables rather than with helper objects:
    it runs once per line of files of several gigabytes."""
    readline = stream.readline
    # Two bytes of margin: the empty line that ends a message in an mbox is
    # cut off at the end and does not count.
    keep_limit = max_message_bytes + 2
    position = 0  # of the current message; 0 before the file's first line
    message_offset = 0  # where the current message's From_ line starts
    kept: bytearray | None = bytearray()  # its bytes so far; None once too large
    size = 0  # its size so far
    offset = 0  # bytes read from the file so far
    at_line_start = True  # whether the next piece read starts a line
    discard_line = False  # reading the rest of an over-long first From_ line
    previous_blank = 0  # length of the previous line if it was empty, else 0
    pending: bytes | None = None  # a "From " line, until the next line decides
    while True:
        piece = readline(MBOX_READ_LIMIT)
        if pending is not None:
            # The line after a candidate separator decides: a header block
            # starts a new message; anything else means the "From " line was
            # an unquoted body line (mboxo), kept as it is.
            pending_offset = offset - len(pending)
            if _HEADER_LINE.match(piece):
                yield _mbox_message(
                    position=position,
                    offset=message_offset,
                    end=pending_offset,
                    size=size - previous_blank,
                    kept=kept,
                    max_bytes=max_message_bytes,
                )
                position += 1
                message_offset = pending_offset
                kept, size = bytearray(), 0
            else:
                size += len(pending)
                if kept is not None:
                    kept += pending
            previous_blank = 0
            pending = None
        if not piece:
            break
        offset += len(piece)
        line_ends = piece[-1] == 0x0A
        if discard_line:
            discard_line = not line_ends
            continue
        if at_line_start:
            first = piece[:1]
            if position == 0:
                # The file's first line: the first message's From_ line (or,
                # for a file that does not start with one, its first line).
                position = 1
                if first == b"F" and piece.startswith(_FROM):
                    discard_line = not line_ends
                    continue
            elif (
                first == b"F"
                and piece.startswith(_FROM)
                and line_ends
                and (previous_blank or _FROM_LINE_WITH_DATE.match(piece, 0, 256))
            ):
                pending = piece
                continue
            elif first == b">" and _QUOTED_FROM.match(piece):
                piece = piece[1:]
            previous_blank = len(piece) if piece in _BLANK_LINES else 0
        else:
            previous_blank = 0
        size += len(piece)
        if kept is not None:
            if size > keep_limit:
                kept = None
            else:
                kept += piece
        at_line_start = line_ends
    if position:
        yield _mbox_message(
            position=position,
            offset=message_offset,
            end=offset,
            size=size - previous_blank,
            kept=kept,
            max_bytes=max_message_bytes,
        )


# --- Finding the mail files under the given paths ------------------------------------

# The signature of OLE2 compound files, the container of Outlook's .msg (and of
# old Word and Excel documents, hence the extension check in folders).
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MESSAGE_SUFFIXES = {".eml", ".msg"}
# The signatures of a ZIP archive: its first file's header, or an empty archive.
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_MAILDIR_SUBFOLDERS = {"cur", "new", "tmp"}

# Folder names that hold what the agency sent (normalised: case and accents
# folded): Thunderbird, Outlook, Apple Mail, Gmail, Roundcube, Dovecot/Courier
# defaults, in English and in French.
SENT_FOLDER_NAMES = frozenset(
    {
        "sent",
        "sent items",
        "sent mail",
        "sent messages",
        "sent-mail",
        "envoyes",
        "elements envoyes",
        "messages envoyes",
        "courrier envoye",
        "courriers envoyes",
    }
)


class _Origin(enum.Enum):
    """How a file was found, which decides what may be taken for mail."""

    GIVEN = "given"  # named on the command line: imported whatever its name
    MAILDIR = "maildir"  # in a maildir's cur/ or new/: a message, whatever its name
    FOLDER = "folder"  # met while walking a folder: only mail-looking files


@dataclass(frozen=True)
class _Candidate:
    """A file that may hold mail, and the label of where it was found."""

    path: Path
    label: str  # its path relative to the parent of the path it was found under
    origin: _Origin
    size: int


@dataclass(frozen=True)
class _Unreadable:
    """A path that could not be read or listed."""

    label: str
    reason: str


def _reason(error: BaseException | None) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error)


def _label(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.as_posix()


def _candidates(root: Path) -> Iterator[_Candidate | _Unreadable]:
    """Every file under `root` that may hold mail, in name order (maildir file
    names start with their delivery time, so messages come oldest first), and
    every path that could not be read."""
    root = Path(os.path.abspath(root))
    base = root.parent
    try:
        status = root.stat()
    except OSError as error:
        yield _Unreadable(_label(root, base), _reason(error))
        return
    if stat.S_ISDIR(status.st_mode):
        yield from _walk(root, base)
    elif stat.S_ISREG(status.st_mode):
        yield _Candidate(root, _label(root, base), _Origin.GIVEN, status.st_size)
    else:
        yield _Unreadable(_label(root, base), "not a file or a folder")


def _walk(directory: Path, base: Path) -> Iterator[_Candidate | _Unreadable]:
    """The files of a folder and of its subfolders, in name order, as `ls`
    shows them; a maildir's messages before its Maildir++ subfolders."""
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except OSError as error:
        yield _Unreadable(_label(directory, base), _reason(error))
        return
    subfolders = {entry.name for entry in entries if entry.is_dir(follow_symlinks=False)}
    is_maildir = _MAILDIR_SUBFOLDERS.issubset(subfolders)
    if is_maildir:
        # Messages are in cur/ and new/; tmp/ holds deliveries in progress,
        # and the files beside them are the server's indexes (dovecot-uidlist…).
        for name in ("cur", "new"):
            yield from _maildir_messages(directory / name, base)
    for entry in entries:
        if entry.name in subfolders:
            if not (is_maildir and entry.name in _MAILDIR_SUBFOLDERS):
                # Maildir++ subfolders (.Sent, .INBOX.Archives), any nested folder.
                yield from _walk(Path(entry.path), base)
        elif not is_maildir:
            yield from _file(entry, base, _Origin.FOLDER)


def _maildir_messages(directory: Path, base: Path) -> Iterator[_Candidate | _Unreadable]:
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except OSError as error:
        yield _Unreadable(_label(directory, base), _reason(error))
        return
    for entry in entries:
        if not entry.name.startswith("."):
            yield from _file(entry, base, _Origin.MAILDIR)


def _file(
    entry: os.DirEntry[str], base: Path, origin: _Origin
) -> Iterator[_Candidate | _Unreadable]:
    """The regular file `entry`, a link to one, or the reason it cannot be
    read (a dangling or looping link); folders and special files are not."""
    path = Path(entry.path)
    try:
        status = entry.stat()
    except OSError as error:
        yield _Unreadable(_label(path, base), _reason(error))
        return
    if stat.S_ISREG(status.st_mode):
        yield _Candidate(path, _label(path, base), origin, status.st_size)


def _imap_utf7_decode(name: str) -> str:
    """A folder name in IMAP's modified UTF-7 (RFC 3501 §5.1.3), which Dovecot
    and Courier use for Maildir++ folders: ".&AMk-l&AOk-ments envoy&AOk-s" is
    ".Éléments envoyés". A name that is not valid modified UTF-7 is kept."""

    def decode(match: re.Match[str]) -> str:
        encoded = match.group(1).replace(",", "/")
        if not encoded:
            return "&"
        padded = encoded + "=" * (-len(encoded) % 4)
        return base64.b64decode(padded, validate=True).decode("utf-16-be")

    try:
        return re.sub(r"&([A-Za-z0-9+,]*)-", decode, name)
    except (binascii.Error, ValueError):
        return name


def _normalised_folder_name(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    without_accents = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(without_accents.casefold().split())


def is_sent_folder(folders: Sequence[str]) -> bool:
    """Whether a message found under these folder names (outermost first) was
    sent by the mailbox's owner: one of them is a Sent folder. A name is read
    the way mail programs write it on disk — Maildir++ ".INBOX.Sent" (dots
    separate levels, modified UTF-7), Thunderbird "Sent.sbd", "Sent.mbox"."""
    for folder in folders:
        for part in _imap_utf7_decode(folder).split("."):
            if _normalised_folder_name(part) in SENT_FOLDER_NAMES:
                return True
    return False


# --- The import ----------------------------------------------------------------------


class Outcome(enum.Enum):
    """What became of one message read from the files."""

    IMPORTED = "imported"  # a new message
    DUPLICATE = "duplicate"  # same bytes already stored, or same Message-ID
    QUARANTINED = "quarantined"
    REFUSED = "refused"  # too large


@dataclass
class ImportSummary:
    """Counts of an import, updated as it goes."""

    imported: int = 0
    duplicates: int = 0
    quarantined: int = 0
    refused: int = 0
    unreadable: int = 0  # files or folders that could not be read
    skipped: int = 0  # files that do not hold mail (indexes, documents…)
    filed: int = 0  # messages filed into the import's dossier (`--dossier`)
    bytes_read: int = 0  # of the files examined, for progress

    @property
    def messages(self) -> int:
        """Messages read from the files, whatever became of them."""
        return self.imported + self.duplicates + self.quarantined + self.refused

    def count(self, outcome: Outcome) -> None:
        match outcome:
            case Outcome.IMPORTED:
                self.imported += 1
            case Outcome.DUPLICATE:
                self.duplicates += 1
            case Outcome.QUARANTINED:
                self.quarantined += 1
            case Outcome.REFUSED:
                self.refused += 1

    def text(self) -> str:
        """The summary an operator reads at the end of the import."""
        rows = [
            ("imported (new messages)", self.imported),
            ("duplicates", self.duplicates),
            ("quarantined", self.quarantined),
            ("refused (too large)", self.refused),
            ("unreadable files", self.unreadable),
            ("skipped files (not mail)", self.skipped),
        ]
        width = max(len(label) for label, _count in rows)
        lines = [f"Messages read: {self.messages}"]
        lines += [f"  {label.ljust(width)}  {count:>8}" for label, count in rows]
        if self.filed:
            lines.append(f"Filed into the dossier: {self.filed}")
        return "\n".join(lines)


class ImportObserver(Protocol):
    """Who follows an import as it goes (the command's progress line)."""

    def advanced(self, summary: ImportSummary) -> None:
        """Called after every message and every file."""

    def problem(self, location: str, reason: str) -> None:
        """A file that could not be read, or a message refused for its size."""


class MailImportError(Exception):
    """An import that cannot start."""


def import_source(agency: Agency) -> MailSource:
    """The agency's history-import source, created on first use: every
    imported message's delivery names it, with the file it came from."""
    source, _created = MailSource.objects.get_or_create(
        agency=agency, name=IMPORT_SOURCE_NAME, defaults={"kind": SourceKind.IMPORT}
    )
    if source.kind != SourceKind.IMPORT:
        raise MailImportError(
            f"The agency's mail source {IMPORT_SOURCE_NAME!r} is not an import source "
            f"(it is {source.kind!r}): rename it first."
        )
    return source


def mail_import_size(paths: Sequence[Path]) -> int:
    """Total size in bytes of the files an import of `paths` would examine
    (walks the folders without reading any file), to show progress."""
    return sum(
        item.size for path in paths for item in _candidates(path) if isinstance(item, _Candidate)
    )


def mail_import(
    *,
    agency: Agency,
    paths: Sequence[Path],
    observer: ImportObserver | None = None,
    parse_processes: int = 0,
    dossier: Dossier | None = None,
) -> ImportSummary:
    """Import every message found under `paths` into the agency (see the
    module's docstring). Messages are committed by batches (`_Batches`), each
    stored durably before its batch commits: an import stopped half-way —
    even killed — keeps what it committed, and running it again goes on where
    it stopped. Errors of Lanterne's own storage (disk full, database down)
    stop the import; errors reading the files do not.

    With `parse_processes`, that many worker processes parse the messages
    while this one stores them and saves the results, in file order
    (`lanterne.mail.parallel`); 0 parses here.

    With `dossier` (agencies that kept one mail folder per dossier), every
    message found — new or imported before — is filed into that dossier as a
    manual filing: audit-logged, and learned from like any filing by staff."""
    if dossier is not None and dossier.agency_id != agency.pk:
        raise MailImportError(f"Dossier {dossier.reference} belongs to another agency.")
    # What an import killed half-way may have left: temporary files.
    blob_store_clean()
    source = import_source(agency)
    with contextlib.ExitStack() as stack:
        batches = stack.enter_context(_Batches())
        workers = stack.enter_context(ParseWorkers(parse_processes)) if parse_processes else None
        if workers is not None and dossier is None:
            _suggestions_preload()
        importer = _Importer(
            agency=agency,
            source=source,
            observer=observer,
            max_bytes=settings.MAIL_MAX_BYTES,
            batches=batches,
            workers=workers,
            dossier=dossier,
        )
        for path in paths:
            for item in _candidates(path):
                if isinstance(item, _Unreadable):
                    importer.unreadable(item.label, item.reason)
                else:
                    importer.file_import(item)
        importer.drain()
    return importer.summary


def _suggestions_preload() -> None:
    """Load the learned suggestions' module (numpy and SciPy: a third of a
    second of CPU) in a thread, while the parse workers parse the first
    batch and this process mostly waits for them, rather than when the file
    stage first needs it."""
    threading.Thread(
        target=importlib.import_module,
        args=("lanterne.mail.suggest",),
        name="lanterne-suggest-preload",
        daemon=True,
    ).start()


# Why a message imported with `--dossier` is in its dossier, as staff read it.
IMPORT_FILING_REASON = "Importé dans ce dossier avec l'historique de son dossier de courriels."

# Messages are read, stored, parsed and saved by batches of this many
# messages, or this many bytes, or what was read in this many seconds,
# whichever comes first: a few statements and one commit (one group of disk
# flushes) per batch instead of several per message, memory bounded by the
# batch (two batches with parse workers: one parsed while the other is
# saved), and SQLite's write lock never held long enough to keep the web
# pages waiting.
BATCH_MAX_MESSAGES = 200
BATCH_MAX_BYTES = 32 * 1024 * 1024
BATCH_MAX_SECONDS = 0.5


class _Batches:
    """The import's transactions: one open at a time, committed after each
    batch of messages (`commit`).

    The blobs written meanwhile are made durable together (`BlobBatch.flush`)
    just before each commit, so no committed row ever names a blob a power
    cut could lose — the guarantee of `mail_receive`, with a few disk flushes
    per batch instead of several per message. Nothing is acknowledged to
    anyone during an import (the files stay where they are), so grouping
    loses nothing: a batch cut short by a crash is simply done again by the
    next run. When the import stops on an error, the messages done so far
    are committed: each is consistent on its own (stored, or stored and
    processed), the failing one having been rolled back to its savepoint."""

    def __init__(self) -> None:
        self._blob_context: AbstractContextManager[BlobBatch | None] | None = None
        self._blobs: BlobBatch | None = None
        self._atomic: Atomic | None = None
        self._count = 0
        self._started = 0.0

    def __enter__(self) -> _Batches:
        self._blob_context = blob_batch()
        self._blobs = self._blob_context.__enter__()
        self._begin()
        return self

    def _begin(self) -> None:
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self._count = 0
        self._started = time.monotonic()

    def _commit(self) -> None:
        atomic, self._atomic = self._atomic, None
        if atomic is None:
            return
        try:
            if self._blobs is not None:
                self._blobs.flush()
        except BaseException as error:
            atomic.__exit__(type(error), error, error.__traceback__)
            raise
        atomic.__exit__(None, None, None)

    def commit(self) -> None:
        """Commit what was done so far (blobs first), and go on in a new
        transaction."""
        self._commit()
        self._begin()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                self._commit()
            else:
                # Keep what was done before the error (see the class docstring);
                # the error itself goes on.
                try:
                    self._commit()
                except Exception:
                    logger.exception("Committing the import's last batch failed")
        finally:
            assert self._blob_context is not None
            self._blob_context.__exit__(exc_type, exc, traceback)


class _TooLarge(Exception):
    """A single-message file larger than the limit: not read."""


class _ReadError(Exception):
    """Reading a file failed (the `OSError` is its cause). Kept apart from the
    `OSError`s of Lanterne's own storage, which must stop the import."""


class _Importer:
    """The state of one import: where deliveries are recorded, the counts."""

    def __init__(
        self,
        *,
        agency: Agency,
        source: MailSource,
        observer: ImportObserver | None,
        max_bytes: int,
        batches: _Batches,
        workers: ParseWorkers | None,
        dossier: Dossier | None = None,
    ) -> None:
        self.agency = agency
        self.dossier = dossier
        # With a dossier: raw messages whose message is to be filed there.
        self._to_file: list[int] = []
        self.source = source
        self.observer = observer
        self.max_bytes = max_bytes
        self.batches = batches
        self.workers = workers
        # Read, not received yet.
        self._pending: list[Arrival] = []
        self._pending_bytes = 0
        self._pending_since = 0.0
        # Received, with the parse workers (their batch not saved yet).
        self._in_flight: list[RawMessage] = []
        self._in_flight_ids: set[int] = set()
        self.summary = ImportSummary()

    def unreadable(self, location: str, reason: str) -> None:
        self.summary.unreadable += 1
        self._problem(location, f"cannot read: {reason}")

    def refused(self, location: str, size: int) -> None:
        self.summary.count(Outcome.REFUSED)
        self._problem(
            location, f"{size} bytes, over the limit of {self.max_bytes} bytes: not imported"
        )

    def _problem(self, location: str, reason: str) -> None:
        if self.observer is not None:
            self.observer.problem(location, reason)
        else:
            logger.warning("%s: %s", location, reason)

    def advanced(self) -> None:
        if self.observer is not None:
            self.observer.advanced(self.summary)

    def file_import(self, candidate: _Candidate) -> None:
        """Import the messages of one file, or skip it when it holds no mail."""
        start = self.summary.bytes_read
        self._file_read(candidate, start)
        self.summary.bytes_read = start + candidate.size
        self.advanced()

    def _file_read(self, candidate: _Candidate, start: int) -> None:
        # Only errors reading the file are caught here: an OSError of
        # Lanterne's own storage (disk full) must stop the import.
        try:
            stream = open(candidate.path, "rb")  # noqa: SIM115 — closed by the `with` below
        except OSError as error:
            self.unreadable(candidate.label, _reason(error))
            return
        with stream:
            try:
                head = stream.read(len(_OLE_MAGIC))
                stream.seek(0)
            except OSError as error:
                self.unreadable(candidate.label, _reason(error))
                return
            try:
                if head.startswith(_FROM):
                    self._mbox_import(candidate, stream, start)
                elif self._is_zip(candidate, head):
                    self._zip_import(candidate, stream, start)
                elif self._holds_one_message(candidate, head):
                    self._single_import(candidate, stream)
                else:
                    self.summary.skipped += 1
            except _ReadError as error:
                self.unreadable(candidate.label, _reason(error.__cause__))

    @staticmethod
    def _is_zip(candidate: _Candidate, head: bytes) -> bool:
        """A ZIP archive named on the command line, or a .zip file in a folder."""
        if not head.startswith(_ZIP_MAGIC):
            return False
        return candidate.origin == _Origin.GIVEN or (
            candidate.origin == _Origin.FOLDER and candidate.path.suffix.lower() == ".zip"
        )

    def _zip_import(self, candidate: _Candidate, stream: BinaryIO, start: int) -> None:
        """Every mail of a ZIP archive, one member at a time (only the member
        being imported is in memory): those its Lanterne manifest lists as
        mail — not an .eml attached to a mail — or, without a manifest, every
        .eml and .msg member (`exports.manifest.zip_mail_members`). A member
        that cannot be read is reported and the others are imported."""
        try:
            archive = zipfile.ZipFile(stream)
            members = list(zip_mail_members(archive))
        except (OSError, zipfile.BadZipFile, EOFError) as error:
            raise _ReadError from error
        if not members:  # a ZIP of documents (.docx, .odt are ZIPs too)
            archive.close()
            self.summary.skipped += 1
            return
        read = 0
        with archive:
            for info in members:
                label = f"{candidate.label}/{info.filename}"
                data = self._zip_member_read(archive, info, label)
                if data is not None:
                    folders = label.split("/")[:-1]
                    self._message_import(data, folder=label, is_sent_folder=is_sent_folder(folders))
                read += info.compress_size
                self.summary.bytes_read = start + min(read, candidate.size)
                self.advanced()

    def _zip_member_read(
        self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, label: str
    ) -> bytes | None:
        """A member's bytes, or None when it is too large or unreadable
        (reported). Never more than the size limit is decompressed, whatever
        the member's header claims."""
        if info.file_size > self.max_bytes:
            self.refused(label, info.file_size)
            return None
        try:
            with archive.open(info) as member:
                data = member.read(self.max_bytes + 1)
        except (OSError, zipfile.BadZipFile, zlib.error, EOFError) as error:
            self.unreadable(label, _reason(error))
            return None
        except (RuntimeError, NotImplementedError) as error:  # encrypted, unknown compression
            self.unreadable(label, str(error))
            return None
        if len(data) > self.max_bytes:
            self.refused(label, len(data))
            return None
        return data

    @staticmethod
    def _holds_one_message(candidate: _Candidate, head: bytes) -> bool:
        if not head:
            return False
        if candidate.origin in (_Origin.GIVEN, _Origin.MAILDIR):
            return True
        return candidate.path.suffix.lower() in _MESSAGE_SUFFIXES

    def _single_import(self, candidate: _Candidate, stream: BinaryIO) -> None:
        """One message in a file: .eml, maildir message, Outlook .msg (stored
        as it is: `mail_receive` recognises the format)."""
        try:
            data = self._read_whole(stream)
        except _TooLarge:
            self.refused(candidate.label, candidate.size)
            return
        except OSError as error:
            raise _ReadError from error
        folders = candidate.label.split("/")[:-1]
        self._message_import(data, folder=candidate.label, is_sent_folder=is_sent_folder(folders))

    def _read_whole(self, stream: BinaryIO) -> bytes:
        if os.fstat(stream.fileno()).st_size > self.max_bytes:
            raise _TooLarge
        # Bounded even if the file grew since it was measured.
        data = stream.read(self.max_bytes + 1)
        if len(data) > self.max_bytes:
            raise _TooLarge
        return data

    def _mbox_import(self, candidate: _Candidate, stream: BinaryIO, start: int) -> None:
        """Every message of an mbox file, cut while reading it."""
        sent = is_sent_folder(candidate.label.split("/"))
        messages = mbox_messages(stream, max_message_bytes=self.max_bytes)
        while True:
            # Only reading the file is guarded here: a failure to store a
            # message is Lanterne's problem, not the file's, and stops the import.
            try:
                message = next(messages)
            except StopIteration:
                return
            except OSError as error:
                raise _ReadError from error
            if message.data is None:
                self.refused(
                    f"{candidate.label} (message {message.position}, at byte {message.offset})",
                    message.size,
                )
            else:
                self._message_import(message.data, folder=candidate.label, is_sent_folder=sent)
            self.summary.bytes_read = start + message.end
            self.advanced()

    def _message_import(self, data: bytes, *, folder: str, is_sent_folder: bool) -> None:
        """Add one message to the batch; the batch is received, parsed and
        saved when it is full. A message is counted once saved."""
        if not self._pending:
            self._pending_since = time.monotonic()
        folder = folder if len(folder) <= 500 else "…" + folder[-499:]
        self._pending.append(Arrival(data=data, folder=folder, is_sent_folder=is_sent_folder))
        self._pending_bytes += len(data)
        if (
            len(self._pending) >= BATCH_MAX_MESSAGES
            or self._pending_bytes >= BATCH_MAX_BYTES
            or time.monotonic() - self._pending_since >= BATCH_MAX_SECONDS
        ):
            self._batch_import()

    def _batch_import(self) -> None:
        """Receive the pending batch, have it parsed, save it (or, with the
        parse workers, save the previous one while they parse this one), and
        commit."""
        arrivals, self._pending, self._pending_bytes = self._pending, [], 0
        received = arrivals_receive(
            agency=self.agency, source=self.source, arrivals=arrivals, in_flight=self._in_flight_ids
        )
        to_parse: list[tuple[RawMessage, bytes]] = []
        for item in received:
            if item.to_process and item.raw is not None and item.data is not None:
                to_parse.append((item.raw, item.data))
            elif item.new_raw and item.raw is not None:
                self.summary.count(_outcome(item.raw))  # refused for its size
            else:
                self.summary.count(Outcome.DUPLICATE)
                if item.raw is not None and self.dossier is not None:
                    self._to_file.append(item.raw.pk)
        tasks = [(data, raw.format == RawFormat.OUTLOOK_MSG) for raw, data in to_parse]
        if self.workers is None:
            outcomes = [parse_stored(data, outlook=outlook) for data, outlook in tasks]
            self._save([raw for raw, _data in to_parse], outcomes)
        else:
            previous = self._in_flight
            outcomes = self.workers.map_collect() if previous else []
            self.workers.map_start(tasks)
            self._in_flight = [raw for raw, _data in to_parse]
            self._save(previous, outcomes)
            self._in_flight_ids = {raw.pk for raw in self._in_flight}
        self._dossier_file()
        self.batches.commit()

    def _save(self, raws: list[RawMessage], outcomes: list[ParseOutcome]) -> None:
        if not raws:
            return
        messages = parsed_save(agency=self.agency, items=list(zip(raws, outcomes, strict=True)))
        for raw in raws:
            self.summary.count(_outcome(raw))
        if self.dossier is not None:
            self._to_file.extend(raw.pk for raw in raws)
            return
        # The file stage, for the new messages (those of files imported with a
        # dossier go there instead: `_dossier_file`), with their texts as the
        # parse workers prepared them for the suggestions.
        prepared = {
            raw.pk: outcome.text
            for raw, outcome in zip(raws, outcomes, strict=True)
            if outcome.text is not None
        }
        texts = {m.pk: prepared[m.raw_id] for m in messages if m.raw_id in prepared}
        messages_autofile(messages, texts=texts)

    def _dossier_file(self) -> None:
        """File the messages saved so far into the import's dossier (when it
        has one): each is a manual filing, audit-logged by `message_file`."""
        if self.dossier is None or not self._to_file:
            return
        raw_ids, self._to_file = self._to_file, []
        messages = (
            Message.objects.filter(agency=self.agency)
            .filter(Q(raw_id__in=raw_ids) | Q(duplicates__pk__in=raw_ids))
            .distinct()
            .order_by("pk")
        )
        viewer = Viewer.system(self.agency.pk)
        for message in messages:
            if (
                message.dossier_id == self.dossier.pk
                and message.filing_method == FilingMethod.MANUAL
            ):
                continue
            message_file(
                viewer=viewer,
                actor=None,
                message=message,
                dossier=self.dossier,
                method=FilingMethod.MANUAL,
                reason=IMPORT_FILING_REASON,
            )
            self.summary.filed += 1

    def drain(self) -> None:
        """Import what is still pending, and save what the parse workers
        still hold."""
        if self._pending:
            self._batch_import()
        if self.workers is not None and self._in_flight:
            raws, self._in_flight = self._in_flight, []
            self._save(raws, self.workers.map_collect())
            self._in_flight_ids = set()
            self._dossier_file()
            self.batches.commit()


def _outcome(raw: RawMessage) -> Outcome:
    """What processing made of a message, for the import's counts."""
    match raw.state:
        case RawState.PARSED:
            return Outcome.IMPORTED
        case RawState.DUPLICATE:
            return Outcome.DUPLICATE
        case RawState.REFUSED:
            return Outcome.REFUSED
        case _:
            # Quarantined: the only state processing leaves besides these.
            return Outcome.QUARANTINED
