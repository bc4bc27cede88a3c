"""`lanterne send-reminders`: the daily run of the reminders (relances)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from lanterne.reminders.services import reminders_run


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--today must read YYYY-MM-DD, not {value!r}.") from None


class Command(BaseCommand):
    help = (
        "Close the reminders whose answer arrived; for those due without one, tell the "
        "manager and send the reminder mail when chosen. Safe to run twice (run it daily)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--today",
            type=_date,
            default=None,
            help="Act as if today were this date (YYYY-MM-DD): a catch-up run.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        run = reminders_run(today=options["today"])
        self.stdout.write(
            f"Reminders: {len(run.answered)} answered, {len(run.reminded)} due "
            f"(manager told), {len(run.mails)} reminder mails written, {len(run.failed)} failed."
        )
        if run.failed:
            raise CommandError(
                "Some reminders failed (see the log); they will be tried again next run: "
                + ", ".join(str(pk) for pk in run.failed)
            )
