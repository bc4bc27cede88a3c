"""Model fields of Lanterne's own."""

from __future__ import annotations

import logging
from typing import Any

from django.db import models

from .secrets import PREFIX, SecretUnreadable, secret_decrypt, secret_encrypt

logger = logging.getLogger(__name__)


class EncryptedTextField(models.TextField):
    """Text kept encrypted in the database (`lanterne.core.secrets`) and
    plain in Python: the model attribute holds the value, the column its
    ``fernet:`` token. Not searchable: every encryption of a value differs.

    A value no configured key decrypts reads as "" (and is logged): the
    mailbox then fails to log in with a message staff understand, and
    entering the password again repairs it."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None:
            return None
        try:
            return secret_decrypt(value)
        except SecretUnreadable:
            logger.error(
                "%s.%s: a stored secret cannot be decrypted (was LANTERNE_SECRET_KEY changed "
                "without LANTERNE_SECRET_KEY_FALLBACKS?); it reads as empty until entered again",
                self.model.__name__,
                self.name,
            )
            return ""

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        if str(value).startswith(PREFIX):
            try:  # already a token (a value copied from another row)
                secret_decrypt(str(value))
            except SecretUnreadable:
                pass
            else:
                return value
        return secret_encrypt(str(value))
