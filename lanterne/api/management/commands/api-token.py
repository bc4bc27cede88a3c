"""`lanterne api-token create|list|revoke`: API tokens, from the server's
console (a login makes its own on « Mes jetons d'API »)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from lanterne.accounts.models import User
from lanterne.condominiums.models import Agency

from ...choices import TokenScope
from ...models import ApiToken
from ...services import api_token_create, api_token_revoke


def _agency(user: User, name: str | None) -> Agency:
    """The agency named (by name or mail domain), among those that know the
    login; without a name, the only one that does."""
    agencies = Agency.objects.filter(persons__user=user).distinct().order_by("name")
    if name:
        agency = agencies.filter(Q(name__iexact=name) | Q(mail_domain__iexact=name)).first()
        if agency is None:
            raise CommandError(f"{user.email} is not known to an agency named {name!r}.")
        return agency
    found = list(agencies[:2])
    if not found:
        raise CommandError(f"{user.email} is known to no agency.")
    if len(found) > 1:
        raise CommandError(
            f"{user.email} is known to several agencies: choose one with --agency NAME."
        )
    return found[0]


class Command(BaseCommand):
    help = "Create, list or revoke API tokens. A token acts as its login, in one agency."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Make a token and print its secret, once.")
        create.add_argument("--email", required=True, help="The login the token acts as")
        create.add_argument(
            "--agency", help="The agency's name or mail domain (when the login has several)"
        )
        create.add_argument(
            "--scope", choices=TokenScope.values, default=TokenScope.READ, help="Default: read"
        )
        create.add_argument("--name", default="", help="What the token is for")
        listing = actions.add_parser("list", help="The tokens, revoked ones included.")
        listing.add_argument("--email", help="Only this login's tokens")
        revoke = actions.add_parser("revoke", help="Refuse a token from now on.")
        revoke.add_argument("id", type=int, help="The token's number (see `list`)")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _create(self, options: dict[str, Any]) -> None:
        user = User.objects.filter(email=options["email"].strip().lower()).first()
        if user is None:
            raise CommandError(f"No login {options['email']}.")
        agency = _agency(user, options["agency"])
        try:
            issued = api_token_create(
                actor=None,
                user=user,
                agency=agency,
                scope=options["scope"],
                name=options["name"] or f"Console ({options['scope']})",
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        token = issued.token
        self.stderr.write(
            f"Token {token.pk} « {token.name} » for {user.email} in {agency.name} "
            f"({token.scope}). Its secret, shown this once:"
        )
        self.stdout.write(issued.secret)

    def _list(self, options: dict[str, Any]) -> None:
        tokens = ApiToken.objects.select_related("user", "agency").order_by("id")
        if options["email"]:
            tokens = tokens.filter(user__email=options["email"].strip().lower())
        for token in tokens:
            state = f"revoked {token.revoked_at:%Y-%m-%d}" if token.revoked_at else "active"
            used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
            self.stdout.write(
                f"{token.pk}\t{token.prefix}…\t{token.scope}\t{state}\tlast used {used}\t"
                f"{token.user.email}\t{token.agency.name}\t{token.name}"
            )

    def _revoke(self, options: dict[str, Any]) -> None:
        token = ApiToken.objects.filter(pk=options["id"]).first()
        if token is None:
            raise CommandError(f"No token {options['id']}.")
        api_token_revoke(actor=None, token=token)
        self.stdout.write(f"Token {token.pk} « {token.name} » of {token.user.email} is revoked.")
