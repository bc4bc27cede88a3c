"""Logging in by e-mail, password hashing, and the password-reset mail."""

from __future__ import annotations

import importlib
import re

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.hashers import Argon2PasswordHasher, identify_hasher
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse

from lanterne.accounts.models import User
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

ARGON2 = "django.contrib.auth.hashers.Argon2PasswordHasher"


def logged_in_user_id(client: Client) -> str | None:
    return client.session.get(SESSION_KEY)


def test_login_page_is_in_french(world) -> None:  # type: ignore[no-untyped-def]
    response = Client().get(reverse("accounts:login"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Adresse e-mail" in body
    assert "Mot de passe oublié ?" in body


def test_login_by_email(world) -> None:  # type: ignore[no-untyped-def]
    user = world.users["owner_party"]
    client = Client()
    response = client.post(
        reverse("accounts:login"), {"username": user.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert logged_in_user_id(client) == str(user.pk)
    assert client.get(reverse("home")).status_code == 200


@pytest.mark.parametrize(
    "typed", ["OWNER-PARTY@EXEMPLE.FR", "Owner-Party@Exemple.fr", "  owner-party@exemple.fr "]
)
def test_login_email_is_case_insensitive(world, typed: str) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    response = client.post(reverse("accounts:login"), {"username": typed, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert logged_in_user_id(client) == str(world.users["owner_party"].pk)


def test_login_honours_a_safe_next(world) -> None:  # type: ignore[no-untyped-def]
    url = reverse("dossiers:detail", args=[world.dossier.pk])
    response = Client().post(
        reverse("accounts:login"),
        {"username": "owner-party@exemple.fr", "password": PASSWORD, "next": url},
    )
    assert response["Location"] == url
    response = Client().post(
        reverse("accounts:login"),
        {
            "username": "owner-party@exemple.fr",
            "password": PASSWORD,
            "next": "https://evil.example/",
        },
    )
    assert response["Location"] == reverse("home")


def test_wrong_password_gives_a_french_error(world) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    response = client.post(
        reverse("accounts:login"), {"username": "owner-party@exemple.fr", "password": "pas-le-bon"}
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Adresse e-mail ou mot de passe incorrect." in body
    # Not Django's generic message, which calls every field case-sensitive.
    assert "sensible à la casse" not in body
    assert 'role="alert"' in body
    assert logged_in_user_id(client) is None


def test_unknown_email_gives_the_same_error(world) -> None:  # type: ignore[no-untyped-def]
    wrong_password = Client().post(
        reverse("accounts:login"), {"username": "owner-party@exemple.fr", "password": "x"}
    )
    unknown = Client().post(
        reverse("accounts:login"), {"username": "personne@exemple.fr", "password": "x"}
    )
    error = re.compile(r'<div class="errors" role="alert">(.*?)</div>', re.S)
    first = error.search(wrong_password.content.decode())
    second = error.search(unknown.content.decode())
    assert first is not None and second is not None
    assert first.group(1) == second.group(1)


def test_inactive_user_cannot_log_in(world) -> None:  # type: ignore[no-untyped-def]
    user = world.users["owner_party"]
    user.is_active = False
    user.save(update_fields=["is_active"])
    client = Client()
    response = client.post(
        reverse("accounts:login"), {"username": user.email, "password": PASSWORD}
    )
    assert response.status_code == 200
    assert logged_in_user_id(client) is None


# --- Password hashing ------------------------------------------------------------------


def test_production_settings_hash_with_argon2_first() -> None:
    production = importlib.import_module("lanterne.settings")
    assert production.PASSWORD_HASHERS[0] == ARGON2
    # PBKDF2 stays available so that older hashes keep working.
    assert "django.contrib.auth.hashers.PBKDF2PasswordHasher" in production.PASSWORD_HASHERS
    # Only the test settings swap it for a fast hasher.
    assert settings.PASSWORD_HASHERS != production.PASSWORD_HASHERS
    assert ARGON2 not in settings.PASSWORD_HASHERS


def test_argon2_is_installed_and_used_with_production_hashers(db) -> None:  # type: ignore[no-untyped-def]
    hasher = Argon2PasswordHasher()
    encoded = hasher.encode(PASSWORD, hasher.salt())
    assert hasher.verify(PASSWORD, encoded)
    production = importlib.import_module("lanterne.settings")
    with override_settings(PASSWORD_HASHERS=production.PASSWORD_HASHERS):
        user = User.objects.create_user("argon@exemple.fr", PASSWORD)
        assert user.password.startswith("argon2$")
        assert identify_hasher(user.password).algorithm == "argon2"
        assert user.check_password(PASSWORD)


# --- Password reset ----------------------------------------------------------------------

RESET_LINK = re.compile(r"https?://[^/\s]+(/mot-de-passe/nouveau/[^/\s]+/[^/\s]+/)")


def test_password_reset_mail_lets_the_user_choose_a_new_password(world) -> None:  # type: ignore[no-untyped-def]
    user = world.users["owner_party"]
    client = Client()
    response = client.post(reverse("accounts:password_reset"), {"email": "Owner-Party@exemple.fr"})
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password_reset_done")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [user.email]
    assert message.subject == "Lanterne : nouveau mot de passe"
    assert "Pour choisir un nouveau mot de passe" in message.body
    found = RESET_LINK.search(message.body)
    assert found is not None, message.body
    link = found.group(1)

    # The link leads to the form (Django moves the token into the session first).
    response = client.get(link, follow=True)
    assert response.status_code == 200
    assert response.context["validlink"] is True
    form_url = response.redirect_chain[-1][0] if response.redirect_chain else link
    new_password = "Marronniers-2027?"
    response = client.post(form_url, {"new_password1": new_password, "new_password2": new_password})
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password_reset_complete")
    user.refresh_from_db()
    assert user.check_password(new_password)
    assert not user.check_password(PASSWORD)

    # The new password opens a session; the link is used up.
    fresh = Client()
    response = fresh.post(
        reverse("accounts:login"), {"username": user.email, "password": new_password}
    )
    assert response.status_code == 302
    response = Client().get(link, follow=True)
    assert response.context["validlink"] is False
    assert "Ce lien n'est plus valable" in response.content.decode()


def test_password_reset_mismatch_is_refused_in_french(world) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.post(reverse("accounts:password_reset"), {"email": "owner-party@exemple.fr"})
    found = RESET_LINK.search(mail.outbox[0].body)
    assert found is not None
    response = client.get(found.group(1), follow=True)
    form_url = response.redirect_chain[-1][0]
    response = client.post(
        form_url, {"new_password1": "Marronniers-2027?", "new_password2": "Autre-chose-2027?"}
    )
    assert response.status_code == 200
    assert "Les deux mots de passe ne correspondent pas" in response.content.decode()
    world.users["owner_party"].refresh_from_db()
    assert world.users["owner_party"].check_password(PASSWORD)


def test_password_reset_for_an_unknown_address_sends_nothing(world) -> None:  # type: ignore[no-untyped-def]
    response = Client().post(reverse("accounts:password_reset"), {"email": "inconnu@exemple.fr"})
    # Same answer as for a known address: existence is not revealed.
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password_reset_done")
    assert mail.outbox == []
