"""`lanterne export-agency --output FILE.zip [--agency NAME]`: the whole of an
agency in one ZIP, for a successor syndic (see lanterne/exports/services.py)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from lanterne.exports.services import agency_archive_write
from lanterne.mail.management.commands._agency import agency_from_option


class _Progress:
    """One line on the terminal, redrawn in place at most ten times a second."""

    INTERVAL = 0.1

    def __init__(self, out: OutputWrapper) -> None:
        self.out = out
        self.drawn_at = 0.0
        self.width = 0

    def advanced(self, *, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.drawn_at < self.INTERVAL and done != total:
            return
        self.drawn_at = now
        label = {"dossiers": "dossiers", "unfiled": "unfiled mail"}.get(stage, stage)
        text = f"{label}: {done}/{total}" if total else f"{label}: {done}"
        self.out.write("\r" + text.ljust(self.width), ending="")
        self.out.flush()
        self.width = len(text)

    def clear(self) -> None:
        if self.width:
            self.out.write("\r" + " " * self.width + "\r", ending="")
            self.out.flush()


class Command(BaseCommand):
    help = (
        "Write the whole of an agency to one ZIP file for a successor syndic: a folder per "
        "condominium and dossier (its PDF, its mails as received, attachments and documents), "
        "the mail filed in no dossier, every message as JSON Lines, and a manifest with the "
        "sha256 of every file. `lanterne import-mail FILE.zip` imports its mails again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", "-o", required=True, help="The ZIP file to write")
        parser.add_argument("--agency", help="Agency name (optional when there is only one)")

    def handle(self, *args: Any, **options: Any) -> None:
        agency = agency_from_option(options["agency"])
        output = Path(options["output"])
        if output.exists():
            raise CommandError(f"{output} exists already: choose another file name.")
        if not output.parent.is_dir():
            raise CommandError(f"No folder {output.parent} to write {output.name} in.")
        progress = _Progress(self.stdout) if self.stdout.isatty() else None
        try:
            summary = agency_archive_write(agency=agency, output=output, observer=progress)
        finally:
            if progress is not None:
                progress.clear()
        self.stdout.write(
            f"Wrote {output}: {summary.condominiums} condominiums, {summary.dossiers} dossiers, "
            f"{summary.messages} mails as received, {summary.files} files "
            f"({summary.bytes / 1e6:,.1f} MB)."
        )
        if summary.missing:
            self.stderr.write(
                f"{len(summary.missing)} files were missing from the stores (listed in the "
                'manifest under "missing"):'
            )
            for path in summary.missing[:20]:
                self.stderr.write(f"  {path}")
