"""`lanterne import-mail PATH… [--agency NAME]`: import an agency's mail
history from .eml, .msg, maildir and mbox files (see docs/mail.md)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from lanterne.dossiers.models import Dossier
from lanterne.mail.importing import ImportSummary, MailImportError, mail_import, mail_import_size
from lanterne.mail.parallel import default_parse_processes

from ._agency import agency_from_option


class _ProgressLine:
    """One line on the terminal, redrawn in place (carriage return), at most
    ten times a second."""

    INTERVAL = 0.1

    def __init__(self, out: OutputWrapper, *, total_bytes: int) -> None:
        self.out = out
        self.total_bytes = total_bytes
        self.width = 0
        self.drawn_at = 0.0

    def draw(self, summary: ImportSummary, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.drawn_at < self.INTERVAL:
            return
        self.drawn_at = now
        done = f"{summary.bytes_read / 1e6:,.1f}/{self.total_bytes / 1e6:,.1f} MB"
        if self.total_bytes:
            done += f" ({min(100, 100 * summary.bytes_read // self.total_bytes)}%)"
        text = (
            f"messages: {summary.messages} · {done} · new {summary.imported}, "
            f"duplicates {summary.duplicates}, quarantined {summary.quarantined}"
        )
        self.out.write("\r" + text.ljust(self.width), ending="")
        self.out.flush()
        self.width = len(text)

    def clear(self) -> None:
        if self.width:
            self.out.write("\r" + " " * self.width + "\r", ending="")
            self.out.flush()
            self.width = 0


class _Observer:
    """Shows problems as they come, and the progress line on a terminal."""

    def __init__(self, stderr: OutputWrapper, progress: _ProgressLine | None) -> None:
        self.stderr = stderr
        self.progress = progress
        self.last: ImportSummary | None = None

    def advanced(self, summary: ImportSummary) -> None:
        self.last = summary
        if self.progress is not None:
            self.progress.draw(summary)

    def problem(self, location: str, reason: str) -> None:
        if self.progress is not None:
            self.progress.clear()
        self.stderr.write(f"{location}: {reason}")


class Command(BaseCommand):
    help = (
        "Import mail history into an agency: .eml and Outlook .msg files, folders of them "
        "(recursively), maildirs (with Maildir++ subfolders) and mbox files. Importing the "
        "same files again only finds duplicates."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH", help="A file or folder to import")
        parser.add_argument("--agency", help="Agency name (optional when there is only one)")
        parser.add_argument(
            "--dossier",
            metavar="REFERENCE",
            help="File every message found into this dossier of the agency (e.g. DOS-2026-0042), "
            "as a manual filing: for agencies that kept one mail folder per dossier",
        )
        parser.add_argument(
            "--jobs",
            type=int,
            default=default_parse_processes(),
            help="Processes parsing messages alongside the import "
            "(default: one per CPU, at most 4, none on one CPU; 0: parse in this process)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        agency = agency_from_option(options["agency"])
        dossier = None
        if options["dossier"]:
            dossier = Dossier.objects.filter(agency=agency, reference=options["dossier"]).first()
            if dossier is None:
                raise CommandError(f"No dossier {options['dossier']!r} in agency {agency.name!r}.")
        paths = [Path(path) for path in options["paths"]]
        progress = None
        if self.stdout.isatty():
            progress = _ProgressLine(self.stdout, total_bytes=mail_import_size(paths))
        observer = _Observer(self.stderr, progress)
        try:
            summary = mail_import(
                agency=agency,
                paths=paths,
                observer=observer,
                parse_processes=max(0, options["jobs"]),
                dossier=dossier,
            )
        except MailImportError as error:
            raise CommandError(str(error)) from error
        finally:
            if progress is not None:
                if observer.last is not None:
                    progress.draw(observer.last, force=True)
                self.stdout.write("")
        self.stdout.write(summary.text())
        if summary.messages == 0:
            raise CommandError("Nothing could be read: no message found under the given paths.")
