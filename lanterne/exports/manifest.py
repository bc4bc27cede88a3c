"""The manifest of Lanterne's ZIP exports, and how an import reads it back.

Every ZIP Lanterne writes — a dossier's (`/exports/dossiers/<id>/zip/`) or an
agency's archive (`lanterne export-agency`) — holds a `manifest.json` at its
root listing each file with its kind, size and sha256, so that whoever receives
it (an insurer, a lawyer, the successor syndic) can check that nothing was
altered. The `message` kind marks the mails' original bytes (.eml, or Outlook
.msg): `lanterne import-mail ARCHIVE.zip` imports those and nothing else, so
that a mail attached to another mail (an .eml attachment) is not taken for a
mail of the dossier.

This module depends on the standard library only: the mail importer reads
manifests through it without depending on the rest of the exports app."""

from __future__ import annotations

import enum
import json
import zipfile
from collections.abc import Iterable, Iterator
from typing import IO, Any

__all__ = [
    "MANIFEST_FORMAT",
    "MANIFEST_NAME",
    "MANIFEST_VERSION",
    "MAIL_SUFFIXES",
    "FileKind",
    "manifest_write",
    "zip_mail_members",
]

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "lanterne-export"
MANIFEST_VERSION = 1
# Members taken for mail in a ZIP without a Lanterne manifest (any ZIP of
# .eml files someone made by hand).
MAIL_SUFFIXES = (".eml", ".msg")
# A manifest larger than this is not read (the import then falls back to
# every .eml and .msg member): about two million files listed.
MANIFEST_MAX_BYTES = 512 * 1024 * 1024


class FileKind(enum.StrEnum):
    """What a file of an export is."""

    PDF = "pdf"  # the dossier's timeline
    MESSAGE = "message"  # a mail's original bytes, as received or sent
    MESSAGE_TEXT = "message_text"  # a mail's texts as the requester is served them (masked)
    ATTACHMENT = "attachment"  # a file attached to a mail
    DOCUMENT = "document"  # a document of a dossier or of a condominium
    MANIFEST = "manifest"  # a dossier's own manifest, inside an agency archive
    MESSAGES_JSONL = "messages_jsonl"  # every message as JSON Lines (export-messages)


def manifest_write(
    stream: IO[bytes], header: dict[str, Any], rows: Iterable[dict[str, Any]]
) -> None:
    """Write a manifest: `header`'s fields, then `files`, one row per line.

    The rows are written as they come, so that an agency's manifest never has
    to be held in memory whole."""
    opening = json.dumps({**header, "files": []}, ensure_ascii=False, indent=1)
    assert opening.endswith('"files": []\n}')
    stream.write(opening.removesuffix("]\n}").encode())
    separator = "\n  "
    for row in rows:
        stream.write((separator + json.dumps(row, ensure_ascii=False, sort_keys=True)).encode())
        separator = ",\n  "
    stream.write(b"\n ]\n}\n")


def _manifest_message_paths(archive: zipfile.ZipFile) -> set[str] | None:
    """The paths of the `message` files a Lanterne manifest at the root of
    `archive` lists, or None when there is no such manifest (or it cannot be
    read: then the caller takes every mail-looking member)."""
    try:
        info = archive.getinfo(MANIFEST_NAME)
    except KeyError:
        return None
    if info.file_size > MANIFEST_MAX_BYTES:
        return None
    try:
        with archive.open(info) as handle:
            manifest = json.load(handle)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        return None
    files = manifest.get("files")
    if not isinstance(files, list):
        return None
    return {
        row["path"]
        for row in files
        if isinstance(row, dict)
        and row.get("kind") == FileKind.MESSAGE
        and isinstance(row.get("path"), str)
    }


def zip_mail_members(archive: zipfile.ZipFile) -> Iterator[zipfile.ZipInfo]:
    """The members of `archive` that hold one mail each, in archive order:
    those its Lanterne manifest lists as `message`, or, in a ZIP without
    one, every .eml and .msg file."""
    listed = _manifest_message_paths(archive)
    for info in archive.infolist():
        if info.is_dir():
            continue
        if listed is None:
            if info.filename.lower().endswith(MAIL_SUFFIXES):
                yield info
        elif info.filename in listed:
            yield info
