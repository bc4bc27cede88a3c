"""`lanterne export-messages`: every message of an agency as JSON Lines."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from lanterne.mail.selectors import message_export_rows

from ._agency import agency_from_option


class Command(BaseCommand):
    help = "Write one JSON object per message (for audits and archives) to a file or stdout."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--agency", help="Agency name (optional when there is only one)")
        parser.add_argument("--output", "-o", help="File to write (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        agency = agency_from_option(options["agency"])
        output = open(options["output"], "w", encoding="utf-8") if options["output"] else sys.stdout  # noqa: SIM115
        count = 0
        try:
            for row in message_export_rows(agency):
                output.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
                count += 1
        finally:
            if output is not sys.stdout:
                output.close()
        self.stderr.write(f"Exported {count} messages.")
