"""Invitations: staff send a one-time link; the invited person chooses a password."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.test import Client
from django.urls import reverse

from lanterne.accounts.models import Invitation, User
from lanterne.audit.models import AuditAction, AuditLog
from lanterne.condominiums.models import Person
from tests.factories import PASSWORD, OwnershipFactory, PersonFactory

pytestmark = pytest.mark.django_db

INVITATION_LINK = re.compile(r"https?://[^/\s]+(/invitation/([^/\s]+)/)")
NEW_PASSWORD = "Glycines-2026!"


@pytest.fixture
def invitee(world) -> Person:  # type: ignore[no-untyped-def]
    """A co-owner of « Les Tilleuls » with an e-mail address and no login yet."""
    person = PersonFactory(
        agency=world.agency,
        first_name="Nadia",
        last_name="Nouvelle",
        email="Nadia.Nouvelle@exemple.fr",
    )
    OwnershipFactory(person=person, lot=world.party_lot)
    return person


@pytest.fixture
def send_invitation(world, client_for, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """POST the invitation as the world's staff member; returns (response, link path, token).

    The mail leaves on commit: the callbacks are run as a real commit would."""

    def send(person: Person, role: str = "staff"):  # type: ignore[no-untyped-def]
        with django_capture_on_commit_callbacks(execute=True):
            response = client_for(role).post(
                reverse("accounts:invite", args=[person.pk]),
                {"next": reverse("condominiums:persons")},
            )
        link, token = None, None
        if mail.outbox:
            found = INVITATION_LINK.search(mail.outbox[-1].body)
            assert found is not None, mail.outbox[-1].body
            link, token = found.group(1), found.group(2)
        return response, link, token

    return send


def test_staff_invites_a_person_by_mail(world, invitee, send_invitation) -> None:  # type: ignore[no-untyped-def]
    response, link, token = send_invitation(invitee)
    assert response.status_code == 302
    assert response["Location"] == reverse("condominiums:persons")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["nadia.nouvelle@exemple.fr"]
    assert message.subject == "Votre accès à l'extranet de Cabinet Lumière"
    assert "Bonjour Nadia Nouvelle" in message.body
    assert "Ce lien ne sert qu'une fois" in message.body
    assert link == reverse("accounts:invitation", args=[token])

    invitation = Invitation.objects.get(person=invitee)
    assert invitation.email == "nadia.nouvelle@exemple.fr"
    assert invitation.invited_by == world.users["staff"]
    assert invitation.accepted_at is None
    assert AuditLog.objects.filter(action=AuditAction.INVITED).count() == 1


def test_invitation_token_is_not_stored_in_clear(invitee, send_invitation) -> None:  # type: ignore[no-untyped-def]
    _response, _link, token = send_invitation(invitee)
    invitation = Invitation.objects.get(person=invitee)
    assert token
    assert invitation.token_hash != token
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert not Invitation.objects.filter(token_hash__contains=token).exists()


def test_invitation_link_shows_the_form(invitee, send_invitation) -> None:  # type: ignore[no-untyped-def]
    _response, link, _token = send_invitation(invitee)
    response = Client().get(link)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Créer votre accès" in body
    assert "Votre identifiant sera nadia.nouvelle@exemple.fr" in body
    assert 'name="password"' in body and 'name="password_again"' in body


def test_mismatched_passwords_are_refused_in_french(invitee, send_invitation) -> None:  # type: ignore[no-untyped-def]
    _response, link, _token = send_invitation(invitee)
    client = Client()
    response = client.post(link, {"password": NEW_PASSWORD, "password_again": "Autre-2026!"})
    assert response.status_code == 400
    assert "Les deux mots de passe ne correspondent pas." in response.content.decode()
    assert not User.objects.filter(email="nadia.nouvelle@exemple.fr").exists()
    invitee.refresh_from_db()
    assert invitee.user_id is None
    assert Invitation.objects.get(person=invitee).accepted_at is None
    assert client.session.get(SESSION_KEY) is None
    # The link still works.
    assert client.get(link).status_code == 200


def test_weak_password_is_refused_in_french(invitee, send_invitation) -> None:  # type: ignore[no-untyped-def]
    _response, link, _token = send_invitation(invitee)
    response = Client().post(link, {"password": "1234", "password_again": "1234"})
    assert response.status_code == 400
    assert "Ce mot de passe est trop court" in response.content.decode()
    assert not User.objects.filter(email="nadia.nouvelle@exemple.fr").exists()


def test_accepting_creates_the_login_and_uses_up_the_link(world, invitee, send_invitation) -> None:  # type: ignore[no-untyped-def]
    _response, link, _token = send_invitation(invitee)
    client = Client()
    response = client.post(link, {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")

    user = User.objects.get(email="nadia.nouvelle@exemple.fr")
    assert user.check_password(NEW_PASSWORD)
    assert user.full_name == "Nadia Nouvelle"
    invitee.refresh_from_db()
    assert invitee.user == user
    assert Invitation.objects.get(person=invitee).accepted_at is not None
    assert AuditLog.objects.filter(action=AuditAction.INVITATION_ACCEPTED).count() == 1

    # Logged in, and sees the building's dossier as a co-owner.
    assert client.session.get(SESSION_KEY) == str(user.pk)
    home = client.get(reverse("home"))
    assert home.status_code == 200
    assert world.dossier.title in home.content.decode()
    assert "Votre compte est créé. Bienvenue !" in home.content.decode()

    # The link is spent: « Lien expiré », with a 404, for everyone.
    for visitor in (client, Client()):
        response = visitor.get(link)
        assert response.status_code == 404
        assert "Lien expiré" in response.content.decode()
    response = Client().post(link, {"password": "x", "password_again": "x"})
    assert response.status_code == 404
    assert User.objects.filter(email="nadia.nouvelle@exemple.fr").count() == 1

    # The new login works through the login form too.
    fresh = Client()
    response = fresh.post(
        reverse("accounts:login"),
        {"username": "NADIA.NOUVELLE@exemple.fr", "password": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert fresh.session.get(SESSION_KEY) == str(user.pk)


def test_a_new_invitation_cancels_the_previous_link(invitee, send_invitation) -> None:  # type: ignore[no-untyped-def]
    _response, first_link, _token = send_invitation(invitee)
    _response, second_link, _token = send_invitation(invitee)
    assert first_link != second_link
    assert Client().get(first_link).status_code == 404
    assert Client().get(second_link).status_code == 200


def test_unknown_token_shows_the_expired_page(world) -> None:  # type: ignore[no-untyped-def]
    response = Client().get(reverse("accounts:invitation", args=["pas-un-jeton"]))
    assert response.status_code == 404
    assert "Lien expiré" in response.content.decode()


@pytest.mark.parametrize("role", ["owner_party", "owner_not_party", "council_chair"])
def test_co_owner_cannot_invite(world, invitee, send_invitation, role: str) -> None:  # type: ignore[no-untyped-def]
    response, _link, _token = send_invitation(invitee, role=role)
    # Another person's record is not even visible to a co-owner.
    assert response.status_code in (403, 404)
    assert mail.outbox == []
    assert not Invitation.objects.exists()


def test_co_owner_cannot_invite_through_their_own_record(world, client_for) -> None:  # type: ignore[no-untyped-def]
    person = world.persons["owner_party"]
    response = client_for("owner_party").post(reverse("accounts:invite", args=[person.pk]))
    assert response.status_code == 403
    assert not Invitation.objects.exists()


def test_staff_of_another_agency_cannot_invite(world, invitee, send_invitation) -> None:  # type: ignore[no-untyped-def]
    response, _link, _token = send_invitation(invitee, role="staff_other_agency")
    assert response.status_code == 404
    assert mail.outbox == []


def test_anonymous_cannot_invite(world, invitee, send_invitation) -> None:  # type: ignore[no-untyped-def]
    response, _link, _token = send_invitation(invitee, role="anonymous")
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]
    assert mail.outbox == []


def test_invite_is_post_only(world, invitee, client_for) -> None:  # type: ignore[no-untyped-def]
    response = client_for("staff").get(reverse("accounts:invite", args=[invitee.pk]))
    assert response.status_code == 405
    assert not Invitation.objects.exists()


def test_person_with_a_login_is_not_invited(world, send_invitation) -> None:  # type: ignore[no-untyped-def]
    person = world.persons["owner_party"]
    response, _link, _token = send_invitation(person)
    assert response.status_code == 302
    assert mail.outbox == []
    assert not Invitation.objects.exists()
    # The refusal is explained on the next page.
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == ["Cette personne a déjà un compte."]


def test_person_without_an_address_is_not_invited(world, send_invitation) -> None:  # type: ignore[no-untyped-def]
    person = PersonFactory(agency=world.agency, last_name="Sansmail")
    response, _link, _token = send_invitation(person)
    assert response.status_code == 302
    assert mail.outbox == []
    assert [str(m) for m in response.wsgi_request._messages] == [
        "Cette personne n'a pas d'adresse e-mail."
    ]


def test_invite_does_not_redirect_off_site(
    world, invitee, client_for, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for("staff").post(
            reverse("accounts:invite", args=[invitee.pk]), {"next": "https://evil.example/"}
        )
    assert response.status_code == 302
    assert response["Location"] == reverse("condominiums:persons")
    assert len(mail.outbox) == 1


def test_an_existing_login_must_give_its_password(world, send_invitation) -> None:  # type: ignore[no-untyped-def]
    """A person already known under the same address elsewhere (say, at another
    agency) links their existing login, proving it is theirs."""
    existing = User.objects.create_user("nadia.nouvelle@exemple.fr", PASSWORD)
    person = PersonFactory(
        agency=world.agency, last_name="Nouvelle", email="nadia.nouvelle@exemple.fr"
    )
    _response, link, _token = send_invitation(person)
    response = Client().post(link, {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    assert response.status_code == 400
    assert "Un compte existe déjà pour nadia.nouvelle@exemple.fr" in response.content.decode()
    person.refresh_from_db()
    assert person.user_id is None

    response = Client().post(link, {"password": PASSWORD, "password_again": PASSWORD})
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.user == existing
    existing.refresh_from_db()
    assert existing.check_password(PASSWORD)
