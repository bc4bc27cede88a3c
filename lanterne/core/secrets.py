"""Secrets Lanterne must keep and use again — an IMAP mailbox's password —
encrypted at rest, so that a copy of the database (a backup, a dump handed
to support) does not give away the agency's mailbox.

Values are encrypted with Fernet (AES-128-CBC and HMAC-SHA256, from the
`cryptography` package) under a key derived with HKDF from the site's
`SECRET_KEY`. Keys follow Django's own rotation: values are written under
`SECRET_KEY` and read under it or any of `SECRET_KEY_FALLBACKS`
(`LANTERNE_SECRET_KEY_FALLBACKS`), so a new secret key is rolled out by
moving the old one to the fallbacks, then running `lanterne
rotate-secrets`, which writes every stored secret again under the new key.

A stored value reads ``fernet:<token>``. A value without that prefix is
taken as plain text (a row written before encryption), and is encrypted the
next time it is saved.
"""

from __future__ import annotations

import base64
import functools
import logging

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

logger = logging.getLogger(__name__)

PREFIX = "fernet:"

# Separates these keys from any other use of SECRET_KEY.
_CONTEXT = b"lanterne stored secrets v1"


class SecretUnreadable(ValueError):
    """A stored secret that no configured key decrypts: the secret key
    changed without its predecessor in the fallbacks, or the value was
    tampered with."""


def _fernet_key(secret_key: str) -> bytes:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_CONTEXT).derive(
        secret_key.encode("utf-8")
    )
    return base64.urlsafe_b64encode(derived)


@functools.lru_cache(maxsize=8)
def _cipher(secret_key: str, fallbacks: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(_fernet_key(key)) for key in (secret_key, *fallbacks)])


def _current() -> MultiFernet:
    return _cipher(settings.SECRET_KEY, tuple(getattr(settings, "SECRET_KEY_FALLBACKS", ())))


def secret_encrypt(value: str) -> str:
    """`value` as stored: ``fernet:<token>`` ("" stays "")."""
    if not value:
        return ""
    return PREFIX + _current().encrypt(value.encode("utf-8")).decode("ascii")


def secret_decrypt(stored: str) -> str:
    """The value of a stored secret; plain text is returned as it is.
    Raises `SecretUnreadable` when no configured key decrypts it."""
    if not stored.startswith(PREFIX):
        return stored
    try:
        return _current().decrypt(stored[len(PREFIX) :].encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError) as error:
        raise SecretUnreadable(
            "A stored secret cannot be decrypted with SECRET_KEY or SECRET_KEY_FALLBACKS."
        ) from error


def secret_is_current(stored: str) -> bool:
    """Whether `stored` is encrypted under the current `SECRET_KEY` (what
    `rotate-secrets` leaves behind)."""
    if not stored:
        return True
    if not stored.startswith(PREFIX):
        return False
    try:
        Fernet(_fernet_key(settings.SECRET_KEY)).decrypt(stored[len(PREFIX) :].encode("ascii"))
    except InvalidToken:
        return False
    return True
