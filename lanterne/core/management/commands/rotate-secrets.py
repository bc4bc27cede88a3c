"""`lanterne rotate-secrets`: write every stored secret again under the
current secret key (see lanterne.core.secrets)."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from lanterne.core.fields import EncryptedTextField
from lanterne.core.secrets import (
    SecretUnreadable,
    secret_decrypt,
    secret_encrypt,
    secret_is_current,
)


class Command(BaseCommand):
    help = (
        "Encrypt every stored secret (IMAP passwords) again under LANTERNE_SECRET_KEY. Run it "
        "after moving the former key to LANTERNE_SECRET_KEY_FALLBACKS; then the former key "
        "can be removed from the fallbacks."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        rewritten = unreadable = 0
        for model in apps.get_models():
            fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
            for field in fields:
                for pk, stored in _stored_tokens(model, field):
                    if secret_is_current(stored or ""):
                        continue
                    try:
                        value = secret_decrypt(stored)
                    except SecretUnreadable:
                        unreadable += 1
                        self.stderr.write(
                            f"{model._meta.label} {pk}: {field.name} cannot be decrypted "
                            "with any configured key; enter it again."
                        )
                        continue
                    with transaction.atomic():
                        model._default_manager.filter(pk=pk).update(
                            **{field.name: secret_encrypt(value)}
                        )
                    rewritten += 1
        self.stdout.write(f"Secrets written again under the current key: {rewritten}.")
        if unreadable:
            raise CommandError(f"{unreadable} secret(s) could not be decrypted.")


def _stored_tokens(model: Any, field: EncryptedTextField) -> list[tuple[Any, str | None]]:
    """(pk, column value as stored) of every row: the tokens, which the
    ORM would decrypt on reading."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {quote(model._meta.pk.column)}, {quote(field.column)} "  # noqa: S608
            f"FROM {quote(model._meta.db_table)}"
        )
        return list(cursor.fetchall())
