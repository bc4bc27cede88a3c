"""`lanterne apply-retention [--dry-run] [--today YYYY-MM-DD]`: delete the
documents past their retention period and purge what erased persons left
(`privacy.retention.retention_apply`). Meant to run daily."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from lanterne.privacy.retention import retention_apply


class Command(BaseCommand):
    help = (
        "Delete the documents past their retention period (settings.RETENTION_YEARS) and "
        "purge erased persons' remaining data (settings.ERASED_PERSON_RETENTION_YEARS)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would go, change nothing"
        )
        parser.add_argument("--today", help="Run as on this day (YYYY-MM-DD); default: today")

    def handle(self, *args: Any, **options: Any) -> None:
        today = timezone.localdate()
        if options["today"]:
            try:
                today = dt.date.fromisoformat(options["today"])
            except ValueError as error:
                raise CommandError(f"--today: not a YYYY-MM-DD date: {options['today']}") from error
        report = retention_apply(today=today, dry_run=options["dry_run"])
        for line in report.lines():
            self.stdout.write(line)
        verb = "would be" if report.dry_run else "were"
        self.stdout.write(
            f"{today.isoformat()}: {len(report.documents)} document(s) {verb} deleted, "
            f"{len(report.purged_person_ids)} erased person(s)' remaining data {verb} purged."
        )
