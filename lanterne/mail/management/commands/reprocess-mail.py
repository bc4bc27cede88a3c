"""`lanterne reprocess-mail`: run the pipeline again from the stored bytes."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from lanterne.mail.choices import RawState
from lanterne.mail.models import RawMessage
from lanterne.mail.services import raw_message_ingest

from ._agency import agency_from_option


class Command(BaseCommand):
    help = (
        "Parse stored messages again from their raw bytes (after a parser fix). "
        "By default: quarantined and not-yet-processed messages; --all for every message."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--agency", help="Agency name (optional when there is only one)")
        parser.add_argument("--all", action="store_true", help="Reprocess every stored message")
        parser.add_argument("--sha256", nargs="*", default=[], help="Only these raw messages")

    def handle(self, *args: Any, **options: Any) -> None:
        agency = agency_from_option(options["agency"])
        raws = RawMessage.objects.filter(agency=agency).exclude(storage_name="").order_by("pk")
        if options["sha256"]:
            raws = raws.filter(sha256__in=options["sha256"])
        elif not options["all"]:
            raws = raws.filter(state__in=[RawState.STORED, RawState.QUARANTINED])
        counts: dict[str, int] = {}
        for raw in raws.iterator(chunk_size=500):
            raw_message_ingest(raw)
            counts[raw.state] = counts.get(raw.state, 0) + 1
        summary = ", ".join(f"{state}: {count}" for state, count in sorted(counts.items()))
        self.stdout.write(f"Reprocessed {sum(counts.values())} messages ({summary or 'none'}).")
