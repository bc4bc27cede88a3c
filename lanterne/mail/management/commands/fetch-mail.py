"""`lanterne fetch-mail`: read the agencies' IMAP mailboxes."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from lanterne.mail.models import MailSource
from lanterne.mail.sources.imap import imap_source_sync, imap_sources_to_fetch, imap_watch_sources

from ._agency import agency_from_option


class Command(BaseCommand):
    help = (
        "Read the active IMAP sources. With --once: sync every folder once and exit "
        "(non-zero when a source failed). Without: keep watching them (IDLE where the "
        "server offers it, polling otherwise) until Ctrl-C or SIGTERM."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Sync once, then exit")
        parser.add_argument("--agency", help="Only the sources of this agency")
        parser.add_argument("--source", help="Only the source of this name")

    def handle(self, *args: Any, **options: Any) -> None:
        agency = agency_from_option(options["agency"]) if options["agency"] else None
        name = options["source"]
        sources = list(imap_sources_to_fetch(agency=agency, name=name))
        if name and not sources:
            raise CommandError(f"No active IMAP source named {name!r}.")
        if options["once"]:
            self.sync_once(sources)
        else:
            self.watch(agency=agency, name=name, count=len(sources))

    def sync_once(self, sources: list[MailSource]) -> None:
        if not sources:
            self.stdout.write("No active IMAP source.")
            return
        failed = 0
        for source in sources:
            report = imap_source_sync(source)
            for folder in report.folders:
                self.stdout.write(f"{source.agency} / {source} / {folder}")
            for error in report.errors:
                self.stderr.write(f"{source.agency} / {source}: {error}")
            failed += not report.ok
        if failed:
            raise CommandError(f"{failed} of {len(sources)} IMAP sources had errors.")

    def watch(self, *, agency: Any, name: str | None, count: int) -> None:
        stop = threading.Event()
        previous = signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
        if not count:
            self.stdout.write("No active IMAP source yet: waiting for one to be added.")
        try:
            imap_watch_sources(
                stop=stop,
                agency=agency,
                name=name,
                on_start=lambda source: self.stdout.write(f"Watching {source.agency} / {source}"),
            )
        except KeyboardInterrupt:
            self.stdout.write("Interrupted: stopping.")
        finally:
            signal.signal(signal.SIGTERM, previous)
        self.stdout.write("Stopped.")
