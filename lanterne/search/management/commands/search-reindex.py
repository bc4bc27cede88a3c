"""`lanterne search-reindex [--agency ID]`: rebuild the search index."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from lanterne.condominiums.models import Agency
from lanterne.search.services import REBUILD_BATCH, search_index_rebuild


class Command(BaseCommand):
    help = (
        "Rebuild the full-text search index from the dossiers, notes, decisions, tasks, "
        "documents and mail (of one agency, or of all). Safe to run while Lanterne serves."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--agency", type=int, help="only this agency (its id)")
        parser.add_argument("--batch-size", type=int, default=REBUILD_BATCH)

    def handle(self, *args: Any, **options: Any) -> None:
        agency_id = options.get("agency")
        if agency_id is not None and not Agency.objects.filter(pk=agency_id).exists():
            raise CommandError(f"No agency with id {agency_id}.")
        verbosity = options.get("verbosity", 1)

        def progress(kind: str, count: int) -> None:
            if verbosity > 1:
                self.stdout.write(f"  {kind}: {count}")

        counts = search_index_rebuild(
            agency_id=agency_id, batch_size=options["batch_size"], progress=progress
        )
        for kind, count in counts.items():
            self.stdout.write(f"{kind}: {count} indexed")
        self.stdout.write(self.style.SUCCESS("Search index rebuilt."))
