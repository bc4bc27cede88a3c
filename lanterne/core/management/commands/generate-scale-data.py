"""`lanterne generate-scale-data`: the scale agency for benchmarks (see
`lanterne.core.scale`), with its logins and big dossier printed."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from lanterne.core.scale import (
    BIG_DOSSIER_ENTRIES,
    ScaleDataExistsError,
    ScaleSize,
    ScaleSummary,
    scale_generate,
)


class Command(BaseCommand):
    help = (
        "Generate one agency at scale for benchmarks: 500 condominiums, 20,000 lots, "
        "30,000 persons, 20,000 dossiers and 1,000,000 mails by default (--scale 0.01 "
        "for a hundredth), written in bulk, with its search index, a dossier of "
        f"{BIG_DOSSIER_ENTRIES} timeline entries and logins to benchmark with."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        default = ScaleSize()
        parser.add_argument(
            "--scale",
            type=float,
            default=None,
            help="Multiply the default sizes (e.g. 0.01); explicit sizes below win",
        )
        for name in ("condominiums", "lots", "persons", "dossiers", "messages"):
            parser.add_argument(
                f"--{name}", type=int, default=None, help=f"default {getattr(default, name)}"
            )
        parser.add_argument("--seed", type=int, default=1965, help="Random seed (default 1965)")
        parser.add_argument(
            "--today",
            type=dt.date.fromisoformat,
            default=None,
            help="The last day of the generated history (YYYY-MM-DD; default: today)",
        )
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Delete the scale agency first when the database already holds it",
        )
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Generate even though LANTERNE_MODE is production",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.MODE == "production" and not options["allow_production"]:
            raise CommandError(
                "Refus de générer des données d'échelle dans une installation de production "
                "(LANTERNE_MODE=production) : leurs comptes ont un mot de passe public."
            )
        base = ScaleSize.scaled(options["scale"]) if options["scale"] else ScaleSize()
        size = ScaleSize(
            **{
                name: options[name] if options[name] is not None else getattr(base, name)
                for name in ("condominiums", "lots", "persons", "dossiers", "messages")
            }
        )
        self.stdout.write(
            f"Génération ({connection.vendor}) : {size.condominiums} copropriétés, {size.lots} "
            f"lots, {size.persons} personnes, {size.dossiers} dossiers, {size.messages} "
            f"courriels (graine {options['seed']})."
        )
        started = time.monotonic()
        try:
            summary = scale_generate(
                size=size,
                seed=options["seed"],
                today=options["today"],
                replace=options["replace"],
                progress=lambda line: self.stdout.write(line),
            )
        except ScaleDataExistsError as error:
            raise CommandError(
                f"Le cabinet « {error} » existe déjà dans cette base : rien n'a été fait. "
                "Ajoutez --replace pour le supprimer et le générer à nouveau."
            ) from error
        self._print(summary, time.monotonic() - started)

    def _print(self, summary: ScaleSummary, elapsed: float) -> None:
        write = self.stdout.write
        write(self.style.SUCCESS(f"Terminé en {elapsed:.0f} s."))
        for label, seconds in summary.timings:
            write(f"  {label} : {seconds:.1f} s")
        for label, count in sorted(summary.counts.items()):
            write(f"  {label} : {count}")
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
                write(f"Taille de la base : {cursor.fetchone()[0]}")
        write(
            f"Grand dossier : {summary.big_dossier_reference} (id {summary.big_dossier_id}, "
            f"{BIG_DOSSIER_ENTRIES} entrées) — /dossiers/{summary.big_dossier_id}/"
        )
        write(f"Mot de passe de tous les comptes : {summary.password}")
        write(f"Personnel : {', '.join(summary.staff_logins)}")
        write(f"Parties au grand dossier : {', '.join(summary.party_logins)}")
        write(f"Présidence du conseil syndical de sa copropriété : {summary.council_login}")
        logins = summary.coowner_logins
        write(
            f"Copropriétaires ({len(logins)}) : {logins[0]} … {logins[-1]} "
            f"(les {min(40, len(logins))} premiers dans la copropriété du grand dossier)"
        )
