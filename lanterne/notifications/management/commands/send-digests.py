"""`lanterne send-digests`: send the daily digests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from lanterne.notifications.services import digests_send


class Command(BaseCommand):
    help = (
        "Send one digest mail per person who chose a daily summary, gathering what was "
        "queued for them until the end of --date (default: yesterday). Run it once a "
        "day, in the morning; running it twice sends nothing more."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="The day to summarise, YYYY-MM-DD (default: yesterday)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["date"]:
            try:
                day = dt.date.fromisoformat(options["date"])
            except ValueError as error:
                raise CommandError(
                    f"--date must read YYYY-MM-DD, not {options['date']!r}."
                ) from error
        else:
            day = timezone.localdate() - dt.timedelta(days=1)
        report = digests_send(day=day)
        self.stdout.write(
            f"{report.mails} digests sent for {day.isoformat()} "
            f"({report.sent} notifications, {report.dropped} dropped, {report.failed} failed)."
        )
        for failure in report.errors:
            self.stderr.write(failure)
