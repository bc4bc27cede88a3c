"""Stored secrets encrypted at rest (lanterne.core.secrets, EncryptedTextField):
the column holds a token, the model the value; key rotation through
SECRET_KEY_FALLBACKS and `rotate-secrets`."""

from __future__ import annotations

import io
import logging

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from lanterne.core.secrets import (
    PREFIX,
    SecretUnreadable,
    secret_decrypt,
    secret_encrypt,
    secret_is_current,
)
from lanterne.mail.choices import SourceKind
from lanterne.mail.models import MailSource

from ..factories import AgencyFactory

OLD_KEY = "an-old-key-of-the-site-0123456789-abcdefghij"
NEW_KEY = "the-new-key-of-the-site-9876543210-klmnopqrst"


def stored_password(source: MailSource) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT imap_password FROM mail_mailsource WHERE id = %s", [source.pk])
        return cursor.fetchone()[0]


def source_with(password: str) -> MailSource:
    return MailSource.objects.create(
        agency=AgencyFactory(),
        kind=SourceKind.IMAP,
        name="Boîte principale",
        imap_host="imap.example.org",
        imap_username="gestion",
        imap_password=password,
    )


def test_a_round_trip_and_every_encryption_differs() -> None:
    first, second = secret_encrypt("Mot de passe é!"), secret_encrypt("Mot de passe é!")
    assert first.startswith(PREFIX) and first != second
    assert secret_decrypt(first) == secret_decrypt(second) == "Mot de passe é!"
    assert secret_encrypt("") == ""
    assert secret_decrypt("written before encryption") == "written before encryption"


def test_a_tampered_token_is_refused() -> None:
    token = secret_encrypt("secret")
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(SecretUnreadable):
        secret_decrypt(tampered)


@pytest.mark.django_db
def test_the_database_holds_a_token_and_the_model_the_password() -> None:
    source = source_with("Tilleuls-2026!")

    stored = stored_password(source)
    assert stored.startswith(PREFIX) and "Tilleuls" not in stored
    source.refresh_from_db()
    assert source.imap_password == "Tilleuls-2026!"
    # Saved again unchanged, it stays readable (not encrypted twice).
    source.save()
    source.refresh_from_db()
    assert source.imap_password == "Tilleuls-2026!"
    # A password that merely looks like a token is encrypted like any other.
    source.imap_password = PREFIX + "not-a-token"
    source.save()
    source.refresh_from_db()
    assert source.imap_password == PREFIX + "not-a-token"


@pytest.mark.django_db
def test_a_new_key_with_the_old_one_in_fallbacks_then_rotate_secrets() -> None:
    with override_settings(SECRET_KEY=OLD_KEY, SECRET_KEY_FALLBACKS=[]):
        source = source_with("Tilleuls-2026!")
        before = stored_password(source)

    with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[OLD_KEY]):
        source.refresh_from_db()
        assert source.imap_password == "Tilleuls-2026!"  # read under the fallback
        assert not secret_is_current(before)
        out = io.StringIO()
        call_command("rotate-secrets", stdout=out)
        assert "Secrets written again under the current key: 1." in out.getvalue()
        after = stored_password(source)
        assert after != before and secret_is_current(after)

    with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[]):
        source.refresh_from_db()
        assert source.imap_password == "Tilleuls-2026!"  # the old key is no longer needed
        out = io.StringIO()
        call_command("rotate-secrets", stdout=out)
        assert "current key: 0." in out.getvalue()


@pytest.mark.django_db
def test_a_secret_no_key_decrypts_reads_empty_and_is_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with override_settings(SECRET_KEY=OLD_KEY, SECRET_KEY_FALLBACKS=[]):
        source = source_with("Tilleuls-2026!")

    with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[]):
        with caplog.at_level(logging.ERROR, logger="lanterne.core.fields"):
            source.refresh_from_db()
        assert source.imap_password == ""
        assert "cannot be decrypted" in caplog.text
        errors = io.StringIO()
        with pytest.raises(CommandError, match="1 secret"):
            call_command("rotate-secrets", stdout=io.StringIO(), stderr=errors)
        assert f"mail.MailSource {source.pk}: imap_password" in errors.getvalue()
