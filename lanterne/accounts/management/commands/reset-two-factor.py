"""`lanterne reset-two-factor EMAIL`: a staff member lost their phone and their
backup codes."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from lanterne.accounts.models import User
from lanterne.accounts.otp import two_factor_reset


class Command(BaseCommand):
    help = (
        "Forget a login's authenticator app and backup codes: at their next login they "
        "set up a new app. Check who is asking first: this opens the account to its password."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email", help="The login's e-mail address")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(email=options["email"].strip().lower()).first()
        if user is None:
            raise CommandError(f"No login {options['email']}.")
        removed = two_factor_reset(user=user)
        self.stdout.write(
            f"{user.email}: {removed} device(s) removed; the next login sets up a new app."
        )
