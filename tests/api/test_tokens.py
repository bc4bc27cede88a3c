"""API tokens: made with a secret shown once, stored as a hash, refused once
revoked; the console command; « Mes jetons d'API »."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from lanterne.api.models import ApiToken
from lanterne.api.services import (
    LAST_USED_RESOLUTION,
    TOKEN_PREFIX,
    api_token_authenticate,
    api_token_create,
    api_token_revoke,
)
from lanterne.audit.models import AuditLog

from ..conftest import World
from ..factories import StaffFactory, UserFactory
from .conftest import ApiClient

pytestmark = pytest.mark.django_db


def test_a_token_keeps_only_the_hash_of_its_secret(world: World) -> None:
    issued = api_token_create(
        actor=world.users["staff"],
        user=world.users["staff"],
        agency=world.agency,
        scope="read",
        name="  Logiciel   comptable ",
    )
    token = ApiToken.objects.get()
    assert issued.secret.startswith(TOKEN_PREFIX) and len(issued.secret) >= 40
    assert token.key_hash == hashlib.sha256(issued.secret.encode()).hexdigest()
    stored = [str(value) for value in ApiToken.objects.values_list(flat=False).get()]
    assert issued.secret not in stored
    assert token.prefix == issued.secret[:10] and token.name == "Logiciel comptable"
    log = AuditLog.objects.get(object_type="api.apitoken")
    assert log.actor == world.users["staff"] and "Logiciel comptable" in log.summary
    assert issued.secret not in log.summary
    other = api_token_create(
        actor=None, user=world.users["staff"], agency=world.agency, scope="read", name="x"
    )
    assert other.secret != issued.secret


def test_a_token_is_for_an_agency_that_knows_its_login(world: World) -> None:
    with pytest.raises(ValidationError, match="n'est pas connu"):
        api_token_create(
            actor=None,
            user=world.users["staff"],
            agency=world.other_agency,
            scope="write",
            name="Ailleurs",
        )
    with pytest.raises(ValidationError, match="Droits inconnus"):
        api_token_create(
            actor=None, user=world.users["staff"], agency=world.agency, scope="admin", name="x"
        )
    assert not ApiToken.objects.exists()


def test_revoked_unknown_and_deactivated_tokens_are_refused(world: World) -> None:
    user = world.users["owner_party"]
    assert user is not None
    issued = api_token_create(actor=None, user=user, agency=world.agency, scope="read", name="x")
    api = ApiClient(issued.secret)
    assert api.get("/api/dossiers").status_code == 200
    for secret in (
        issued.secret[:-1],
        issued.secret + "x",
        issued.secret.removeprefix(TOKEN_PREFIX),
        "",
    ):
        assert ApiClient(secret).get("/api/dossiers").status_code == 401, secret
    # Another scheme than Bearer is no token either.
    basic = Client().get("/api/dossiers", headers={"Authorization": f"Basic {issued.secret}"})
    assert basic.status_code == 401
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert api.get("/api/dossiers").status_code == 401
    user.is_active = True
    user.save(update_fields=["is_active"])
    api_token_revoke(actor=user, token=issued.token)
    response = api.get("/api/dossiers")
    assert response.status_code == 401
    assert response.json()["detail"].startswith("Jeton d'API absent, inconnu ou révoqué")
    assert api_token_authenticate(issued.secret) is None
    # Revoking twice changes nothing and logs once.
    api_token_revoke(actor=user, token=issued.token)
    assert AuditLog.objects.filter(object_type="api.apitoken", action="deleted").count() == 1


def test_the_last_use_is_written_at_most_once_a_minute(world: World) -> None:
    issued = api_token_create(
        actor=None, user=world.users["staff"], agency=world.agency, scope="read", name="x"
    )
    assert issued.token.last_used_at is None
    api = ApiClient(issued.secret)
    api.get("/api/persons")
    first = ApiToken.objects.get().last_used_at
    assert first is not None
    api.get("/api/persons")
    assert ApiToken.objects.get().last_used_at == first
    earlier = timezone.now() - LAST_USED_RESOLUTION - dt.timedelta(seconds=1)
    ApiToken.objects.update(last_used_at=earlier)
    api.get("/api/persons")
    assert ApiToken.objects.get().last_used_at > earlier


def test_a_session_opens_nothing_in_the_api(world: World, client_for: Any) -> None:
    """Token only: a logged-in browser reaches no data through the API, and
    a token needs no CSRF token to write."""
    response = client_for("staff").get("/api/dossiers")
    assert response.status_code == 401
    csrf_checked = Client(enforce_csrf_checks=True)
    csrf_checked.force_login(world.users["staff"])
    issued = api_token_create(
        actor=None, user=world.users["staff"], agency=world.agency, scope="write", name="x"
    )
    response = csrf_checked.post(
        f"/api/dossiers/{world.dossier.pk}/notes",
        {"text": "Appel du plombier"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {issued.secret}"},
    )
    assert response.status_code == 201
    refused = csrf_checked.post(
        f"/api/dossiers/{world.dossier.pk}/notes",
        {"text": "Sans jeton"},
        content_type="application/json",
    )
    assert refused.status_code == 401


# --- The console ------------------------------------------------------------------------


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("api-token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_makes_lists_and_revokes_tokens(world: World) -> None:
    secret, message = run(
        "create", "--email", "STAFF@exemple.fr", "--scope", "write", "--name", "Compta"
    )
    secret = secret.strip()
    assert secret.startswith(TOKEN_PREFIX)
    assert "shown this once" in message and secret not in message
    token = ApiToken.objects.get()
    assert (token.scope, token.name, token.agency) == ("write", "Compta", world.agency)
    assert ApiClient(secret).get("/api/dossiers").status_code == 200
    listing, _ = run("list")
    assert token.prefix in listing and "active" in listing and secret not in listing
    run("revoke", str(token.pk))
    assert ApiClient(secret).get("/api/dossiers").status_code == 401
    assert "revoked" in run("list", "--email", "staff@exemple.fr")[0]
    with pytest.raises(CommandError, match="No token"):
        run("revoke", "999999")
    with pytest.raises(CommandError, match="No login"):
        run("create", "--email", "personne@exemple.fr")


def test_the_command_asks_which_agency_when_the_login_has_several(world: World) -> None:
    user = world.users["staff"]
    StaffFactory(agency=world.other_agency, user=user)
    with pytest.raises(CommandError, match="several agencies"):
        run("create", "--email", user.email)
    with pytest.raises(CommandError, match="not known to an agency named"):
        run("create", "--email", user.email, "--agency", "Cabinet Inconnu")
    run("create", "--email", user.email, "--agency", "voisin.fr")
    assert ApiToken.objects.get().agency == world.other_agency
    loner = UserFactory(email="seul@exemple.fr")
    with pytest.raises(CommandError, match="known to no agency"):
        run("create", "--email", loner.email)


# --- « Mes jetons d'API » ---------------------------------------------------------------


def test_a_person_makes_and_revokes_their_tokens_on_the_web(
    world: World, client_for: Callable[[str], Client]
) -> None:
    client = client_for("owner_party")
    home = client.get(reverse("home"))
    assert reverse("api:tokens").encode() in home.content
    assert b"Mes jetons d&#x27;API" in home.content or "Mes jetons d'API" in home.content.decode()
    page = client.get(reverse("api:tokens"))
    assert page.status_code == 200
    assert 'name="agency"' not in page.content.decode()  # one agency: not asked
    made = client.post(reverse("api:tokens"), {"name": "Mon tableur", "scope": "read"})
    assert made.status_code == 201
    assert made["Cache-Control"] == "private, no-store"
    token = ApiToken.objects.get()
    body = made.content.decode()
    secret = body.split('<code class="secret">')[1].split("</code>")[0]
    assert secret.startswith(TOKEN_PREFIX)
    assert token.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert (token.user, token.agency, token.scope) == (
        world.users["owner_party"],
        world.agency,
        "read",
    )
    # Shown once: the list shows its first characters only.
    again = client.get(reverse("api:tokens")).content.decode()
    assert secret not in again and token.prefix in again and "Mon tableur" in again
    # Someone else's token is not theirs to revoke.
    theirs = api_token_create(
        actor=None, user=world.users["staff"], agency=world.agency, scope="read", name="x"
    )
    refused = client.post(reverse("api:token_revoke"), {"token": theirs.token.pk})
    assert refused.status_code == 404
    assert ApiClient(theirs.secret).get("/api/persons").status_code == 200
    revoked = client.post(reverse("api:token_revoke"), {"token": token.pk})
    assert revoked.status_code == 302
    assert ApiClient(secret).get("/api/persons").status_code == 401
    assert "Révoqué le" in client.get(reverse("api:tokens")).content.decode()


def test_the_token_form_asks_for_the_agency_and_checks_it(
    world: World, client_for: Callable[[str], Client]
) -> None:
    user = world.users["staff"]
    StaffFactory(agency=world.other_agency, user=user)
    client = client_for("staff")
    page = client.get(reverse("api:tokens")).content.decode()
    assert 'name="agency"' in page and "Cabinet Voisin" in page
    wrong = client.post(reverse("api:tokens"), {"name": "x", "scope": "write", "agency": 999_999})
    assert wrong.status_code == 400
    assert not ApiToken.objects.exists()
    made = client.post(
        reverse("api:tokens"),
        {"name": "Outil", "scope": "write", "agency": world.other_agency.pk},
    )
    assert made.status_code == 201
    assert ApiToken.objects.get().agency == world.other_agency
    empty = client.post(reverse("api:tokens"), {"name": "", "scope": "write"})
    assert empty.status_code == 400
    assert anonymous_redirect()


def anonymous_redirect() -> bool:
    """The page is for logged-in persons."""
    response = Client().get(reverse("api:tokens"))
    return response.status_code == 302 and reverse("accounts:login") in response["Location"]
