"""`lanterne load-demo`: load the demo agency and its mail history, and print
its logins."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse
from django.utils import timezone

from lanterne.core.demo import DemoSummary, demo_dossier, demo_load
from lanterne.core.demo_mail import DemoMailSummary, demo_mail_load
from lanterne.mail.references import ReplyAddressError, dossier_reply_address


class Command(BaseCommand):
    help = (
        "Load the demo agency « Cabinet Lumière Gestion » (three condominiums in Lyon, "
        "their co-owners and about ten dossiers with months of history), import its mail "
        "history through the mail pipeline, and print the demo logins. Running it again "
        "only prints the logins."
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
        today = options["today"] or timezone.localdate()
        summary = demo_load(today=today)
        # The mail history goes through the real pipeline (store, parse,
        # thread, file), after the demo's dossiers exist; once only.
        mail = demo_mail_load(summary.agency, today=today if summary.created else None)
        self._print(summary, mail_added=mail.loaded and not summary.created)
        self._print_mail(mail)
        self._print_logins(summary)

    def _print(self, summary: DemoSummary, *, mail_added: bool = False) -> None:
        write = self.stdout.write
        if summary.created:
            write(self.style.SUCCESS(f"Cabinet de démonstration « {summary.agency.name} » créé."))
        elif mail_added:
            # A demo loaded before it came with a mail history.
            write(
                f"Le cabinet de démonstration « {summary.agency.name} » existe déjà : seul son "
                "historique de courriels, qui manquait, a été importé."
            )
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

    def _print_mail(self, mail: DemoMailSummary) -> None:
        write = self.stdout.write
        # Messages rather than files imported: a forward by staff brings the
        # original it carries as a message of its own.
        filed = "classés automatiquement" if mail.loaded else "classés"
        counts = (
            f"{mail.messages} messages — {mail.filed} {filed} dans leur dossier, {mail.triage} "
            f"en attente dans la boîte de tri, {mail.not_related} sans rapport avec un dossier"
        )
        if mail.quarantined:
            counts += f", {mail.quarantined} en quarantaine"
        if mail.loaded:
            write(f"Historique des courriels importé : {counts}.")
        else:
            write(f"Courriels du cabinet : {counts}.")
        write(f"Boîte de tri : {settings.SITE_URL}{reverse('mail:triage')}")
        lift = demo_dossier("lift")
        try:
            address = dossier_reply_address(lift)
        except ReplyAddressError:
            return
        write(
            f"Un courriel adressé à {address} est classé automatiquement dans le dossier "
            f"{lift.reference} « {lift.title} »."
        )

    def _print_logins(self, summary: DemoSummary) -> None:
        write = self.stdout.write
        write("")
        write(f"Connexion : {settings.SITE_URL}{reverse('accounts:login')}")
        write(f"Mot de passe de tous les comptes de démonstration : {summary.password}")
        write("")
        for login in summary.logins:
            write(self.style.MIGRATE_HEADING(f"{login.email}"))
            write(f"  {login.name} — {login.role}")
            write(f"  Voit : {login.sees}")
