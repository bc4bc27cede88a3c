"""`lanterne extract-text [--pending | --all] [--agency ID]`: read the text of
mail attachments and documents for search, in bulk."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from lanterne.condominiums.models import Agency
from lanterne.documents.texts import texts_extract_pending


class Command(BaseCommand):
    help = (
        "Read the text of mail attachments and uploaded documents for search, then index "
        "them again: those not read yet (--pending, the default: after an upgrade, after a "
        "bulk import, or when the task queue was down), or all of them again (--all, after "
        "the extraction improved). Safe to run while Lanterne serves, and to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group()
        which.add_argument(
            "--pending", action="store_true", help="only the files not read yet (the default)"
        )
        which.add_argument("--all", action="store_true", help="every file, read again")
        parser.add_argument("--agency", type=int, help="only this agency (its id)")

    def handle(self, *args: Any, **options: Any) -> None:
        agency_id = options.get("agency")
        if agency_id is not None and not Agency.objects.filter(pk=agency_id).exists():
            raise CommandError(f"No agency with id {agency_id}.")
        verbosity = options.get("verbosity", 1)

        def progress(kind: str, count: int) -> None:
            if verbosity > 1:
                self.stdout.write(f"  {kind}: {count}")

        counts = texts_extract_pending(agency_id=agency_id, again=options["all"], progress=progress)
        for kind, count in counts.items():
            self.stdout.write(f"{kind}: {count} read")
        self.stdout.write(self.style.SUCCESS("Texts extracted."))
