"""`lanterne create-agency`: a fresh installation starts here."""

from __future__ import annotations

import getpass
import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from lanterne.condominiums.services import agency_create


class Command(BaseCommand):
    help = "Create an agency (syndic firm) and its first staff account, a manager."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", help="Name of the agency")
        parser.add_argument(
            "--mail-domain", help="The agency's mail domain, e.g. syndic-exemple.fr"
        )
        parser.add_argument("--shared-mailbox", help="The shared mailbox address Lanterne reads")
        parser.add_argument("--email", help="E-mail address of the first manager (their login)")
        parser.add_argument("--first-name", default="", help="First name of the first manager")
        parser.add_argument("--last-name", default="", help="Last name of the first manager")
        parser.add_argument(
            "--password",
            help="Password of the first manager (asked for when omitted; "
            "the environment variable LANTERNE_FIRST_PASSWORD is read too)",
        )

    def _ask(self, options: dict[str, Any], key: str, prompt: str) -> str:
        value = options.get(key)
        if value:
            return str(value)
        if not sys.stdin.isatty():
            raise CommandError(f"--{key.replace('_', '-')} is required")
        return input(prompt).strip()

    def handle(self, *args: Any, **options: Any) -> None:
        import os

        name = self._ask(options, "name", "Nom du cabinet : ")
        domain = self._ask(options, "mail_domain", "Domaine de messagerie : ")
        mailbox = self._ask(options, "shared_mailbox", "Boîte partagée : ")
        email = self._ask(options, "email", "Adresse e-mail du gestionnaire : ")
        password = options.get("password") or os.environ.get("LANTERNE_FIRST_PASSWORD", "")
        if not password:
            if not sys.stdin.isatty():
                raise CommandError("--password (or LANTERNE_FIRST_PASSWORD) is required")
            password = getpass.getpass("Mot de passe : ")
        try:
            agency, person = agency_create(
                name=name,
                mail_domain=domain,
                shared_mailbox=mailbox,
                staff_email=email,
                staff_password=password,
                staff_first_name=options["first_name"],
                staff_last_name=options["last_name"],
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        self.stdout.write(
            self.style.SUCCESS(f"Agency “{agency.name}” created; manager login: {email}")
        )
