"""`lanterne load-demo`: load the demo agency and print its logins."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse

from lanterne.core.demo import DemoSummary, demo_load


class Command(BaseCommand):
    help = (
        "Load the demo agency « Cabinet Lumière Gestion » (three condominiums in Lyon, "
        "their co-owners and about ten dossiers with months of history) and print the demo "
        "logins. Running it again only prints the logins."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--today",
            type=dt.date.fromisoformat,
            default=None,
            help="Date the demo history is relative to (YYYY-MM-DD; default: today)",
        )
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Load the demo even though LANTERNE_MODE is production",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.MODE == "production" and not options["allow_production"]:
            raise CommandError(
                "Refus de charger la démonstration dans une installation de production "
                "(LANTERNE_MODE=production) : ses comptes ont un mot de passe public. "
                "Utilisez LANTERNE_MODE=demo, ou --allow-production pour forcer."
            )
        summary = demo_load(today=options["today"])
        self._print(summary)

    def _print(self, summary: DemoSummary) -> None:
        write = self.stdout.write
        if summary.created:
            write(self.style.SUCCESS(f"Cabinet de démonstration « {summary.agency.name} » créé."))
        else:
            write(
                f"Le cabinet de démonstration « {summary.agency.name} » existe déjà : "
                "rien n'a été modifié."
            )
        write(
            f"{summary.condominiums} copropriétés, {summary.lots} lots, {summary.persons} "
            f"contacts, {summary.companies} entreprises, {summary.dossiers} dossiers, "
            f"{summary.entries} entrées de chronologie, {summary.documents} documents."
        )
        write("")
        write(f"Connexion : {settings.SITE_URL}{reverse('accounts:login')}")
        write(f"Mot de passe de tous les comptes de démonstration : {summary.password}")
        write("")
        for login in summary.logins:
            write(self.style.MIGRATE_HEADING(f"{login.email}"))
            write(f"  {login.name} — {login.role}")
            write(f"  Voit : {login.sees}")
