"""Writing ZIP exports member by member: each file streamed into the archive
from where it is stored, hashed while it is written, and recorded for the
manifest — never a whole file, let alone a whole archive, in memory."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable
from pathlib import PurePosixPath
from typing import IO, Any

from django.utils import timezone

from .manifest import FileKind

__all__ = ["ArchiveWriter", "FolderNames", "safe_name"]

# Bytes copied at a time from a stored file into the archive.
CHUNK_SIZE = 1024 * 1024
# Members above this size get ZIP64 headers from the start (the size of a
# member written as a stream is only known at its end).
_ZIP64_FROM = 1 << 31
# Already compressed: stored as they are rather than deflated again.
_STORED_SUFFIXES = frozenset(
    {
        ".pdf", ".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".heic", ".zip", ".gz",
        ".7z", ".rar", ".mp3", ".mp4", ".mov", ".docx", ".xlsx", ".pptx", ".odt", ".ods",
    }
)  # fmt: skip
# Characters no file system or unzip tool agrees on, and control characters.
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')
_SPACES = re.compile(r"\s+")


def safe_name(name: str, *, fallback: str = "fichier", max_length: int = 100) -> str:
    """`name` as a file name that is one path component everywhere (no
    separator, no control character, not hidden, not `..`), its extension
    kept when it must be shortened."""
    name = unicodedata.normalize("NFC", name)
    name = _SPACES.sub(" ", _UNSAFE.sub("-", name)).strip(" .-")
    if not name:
        name = fallback
    if len(name) > max_length:
        stem, dot, suffix = name.rpartition(".")
        if dot and 0 < len(suffix) <= 10:
            name = stem[: max_length - len(suffix) - 1].rstrip(" .-") + "." + suffix
        else:
            name = name[:max_length].rstrip(" .-")
    return name


class FolderNames:
    """Names handed out in one folder of an archive, each unique there: a
    second « devis.pdf » becomes « devis (2).pdf »."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def unique(self, name: str) -> str:
        candidate = name
        stem, dot, suffix = name.rpartition(".")
        if not dot or not stem:
            stem, dot, suffix = name, "", ""
        number = 1
        while candidate.casefold() in self._taken:
            number += 1
            candidate = f"{stem} ({number}){dot}{suffix}"
        self._taken.add(candidate.casefold())
        return candidate


class ArchiveWriter:
    """A ZIP archive being written. Every file added is hashed as it is
    written, and its manifest row handed to `record` (a list for a dossier,
    a temporary file for an agency's archive)."""

    def __init__(
        self,
        archive: zipfile.ZipFile,
        *,
        record: Callable[[dict[str, Any]], None],
        moment: dt.datetime,
    ) -> None:
        self.archive = archive
        self.record = record
        # Every member is dated from the export (in local time, as unzip tools show it).
        self.date_time = timezone.localtime(moment).timetuple()[:6]
        self.files = 0
        self.bytes = 0

    def _member(self, path: str, size_hint: int) -> IO[bytes]:
        info = zipfile.ZipInfo(path, date_time=self.date_time)
        info.external_attr = 0o644 << 16
        suffix = PurePosixPath(path).suffix.lower()
        info.compress_type = (
            zipfile.ZIP_STORED if suffix in _STORED_SUFFIXES else zipfile.ZIP_DEFLATED
        )
        return self.archive.open(info, "w", force_zip64=size_hint >= _ZIP64_FROM)

    def add_chunks(
        self,
        path: str,
        chunks: Iterable[bytes],
        *,
        kind: FileKind,
        size_hint: int = 0,
        **details: Any,
    ) -> dict[str, Any]:
        """Write a file from its pieces; return its manifest row."""
        digest = hashlib.sha256()
        size = 0
        with self._member(path, size_hint) as member:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                member.write(chunk)
        row = {
            "path": path,
            "kind": str(kind),
            "size": size,
            "sha256": digest.hexdigest(),
            **details,
        }
        self.files += 1
        self.bytes += size
        self.record(row)
        return row

    def add_bytes(
        self, path: str, data: bytes, *, kind: FileKind, **details: Any
    ) -> dict[str, Any]:
        return self.add_chunks(path, [data], kind=kind, size_hint=len(data), **details)

    def add_file(
        self, path: str, handle: IO[bytes], *, kind: FileKind, size_hint: int = 0, **details: Any
    ) -> dict[str, Any]:
        """Copy an open file into the archive, a megabyte at a time, and close it."""
        with handle:
            return self.add_chunks(
                path,
                iter(lambda: handle.read(CHUNK_SIZE), b""),
                kind=kind,
                size_hint=size_hint,
                **details,
            )

    def add_from(self, path: str, write: Callable[[IO[bytes]], None]) -> None:
        """A file written by `write` straight into the archive (a manifest),
        recorded without a digest: it cannot list itself."""
        with self._member(path, 0) as member:
            write(member)
        self.files += 1
