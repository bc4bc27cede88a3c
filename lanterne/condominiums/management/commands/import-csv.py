"""`lanterne import-csv KIND FILE [--agency NAME]`: import what an agency brings
from its previous software (see docs/csv-import.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from lanterne.condominiums.imports import CsvImportError, ImportKind, csv_import
from lanterne.condominiums.models import Agency
from lanterne.dossiers.policy import Viewer


class Command(BaseCommand):
    help = (
        "Import a CSV file into an agency, all or nothing. Import the kinds in this "
        "order: condominiums, lots, companies, persons, dossiers (docs/csv-import.md)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=ImportKind.values, help="What the file holds")
        parser.add_argument("file", help="Path of the CSV file (UTF-8 or Windows-1252)")
        parser.add_argument(
            "--agency", help="Name of the agency to import into (optional when only one exists)"
        )

    def _agency(self, name: str | None) -> Agency:
        if name:
            agency = Agency.objects.filter(name=name).first()
            if agency is None:
                agency = Agency.objects.filter(name__iexact=name.strip()).first()
            if agency is None:
                raise CommandError(_("Aucun cabinet ne s'appelle « %(name)s ».") % {"name": name})
            return agency
        agencies = list(Agency.objects.order_by("name")[:21])
        if not agencies:
            raise CommandError(
                _("Aucun cabinet n'existe encore : créez-le avec « lanterne create-agency ».")
            )
        if len(agencies) > 1:
            raise CommandError(
                _("Plusieurs cabinets existent : précisez --agency (%(names)s).")
                % {"names": ", ".join(f"« {agency.name} »" for agency in agencies[:20])}
            )
        return agencies[0]

    def handle(self, *args: Any, **options: Any) -> None:
        agency = self._agency(options.get("agency"))
        path = Path(options["file"])
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CommandError(
                _("Impossible de lire le fichier %(path)s : %(error)s.")
                % {"path": path, "error": error.strerror or error}
            ) from error
        try:
            report = csv_import(
                viewer=Viewer.system(agency.pk),
                actor=None,
                agency=agency,
                kind=options["kind"],
                data=data,
            )
        except CsvImportError as error:
            for message in error.messages:
                self.stderr.write(message)
            raise CommandError(_("Import refusé : rien n'a été enregistré.")) from error
        self.stdout.write(
            self.style.SUCCESS(
                _("Import réussi dans « %(agency)s » : %(summary)s.")
                % {"agency": agency.name, "summary": report.summary()}
            )
        )
