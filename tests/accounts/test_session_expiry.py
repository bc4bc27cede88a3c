"""Sessions end LANTERNE_SESSION_AGE after the login however busy, and staff
sessions after LANTERNE_SESSION_IDLE_MINUTES without a request
(lanterne.accounts.middleware.SessionExpiryMiddleware).

Time moves forward by moving the session's clocks back."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from lanterne.accounts.middleware import ACTIVITY_AT, LOGIN_AT

from .conftest import password_login

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def move_back(client: Client, *, seconds: float, keys: tuple[str, ...]) -> None:
    session = client.session
    for key in keys:
        session[key] -= seconds
    session.save()


def test_the_login_starts_both_clocks(world) -> None:  # type: ignore[no-untyped-def]
    client, _response = password_login(world.users["staff"].email)
    session = client.session
    assert session[LOGIN_AT] == session[ACTIVITY_AT]
    assert settings.SESSION_IDLE_MINUTES == 60


def test_an_idle_staff_session_ends(world) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(world.users["staff"])
    dossier = reverse("dossiers:detail", args=[world.dossier.pk])
    move_back(client, seconds=59 * 60, keys=(LOGIN_AT, ACTIVITY_AT))
    assert client.get(dossier).status_code == 200
    # That request counted as activity: another 59 minutes are fine.
    move_back(client, seconds=59 * 60, keys=(LOGIN_AT, ACTIVITY_AT))
    assert client.get(dossier).status_code == 200

    move_back(client, seconds=61 * 60, keys=(LOGIN_AT, ACTIVITY_AT))
    response = client.get(dossier)
    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next={dossier.replace('/', '%2F')}"
    assert SESSION_KEY not in client.session
    page = client.get(response["Location"])
    assert "Votre session a expiré : reconnectez-vous." in page.content.decode()


def test_an_idle_htmx_request_is_sent_to_the_login_page(world) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(world.users["staff"])
    move_back(client, seconds=61 * 60, keys=(LOGIN_AT, ACTIVITY_AT))
    response = client.get(reverse("mail:triage_count"), headers={"HX-Request": "true"})
    assert response["HX-Redirect"] == LOGIN


def test_the_idle_timeout_follows_the_setting(world, settings) -> None:  # type: ignore[no-untyped-def]
    settings.SESSION_IDLE_MINUTES = 10
    client = signed_in(world.users["staff"])
    move_back(client, seconds=11 * 60, keys=(LOGIN_AT, ACTIVITY_AT))
    assert client.get(reverse("home")).status_code == 302
    settings.SESSION_IDLE_MINUTES = 0  # never
    client = signed_in(world.users["staff"])
    move_back(client, seconds=10 * 60 * 60, keys=(LOGIN_AT, ACTIVITY_AT))
    assert client.get(reverse("home")).status_code == 200


@pytest.mark.parametrize("role", ["owner_party", "council_member"])
def test_co_owners_are_not_timed_out_for_idleness(world, role: str) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(world.users[role])
    move_back(client, seconds=3 * 60 * 60, keys=(LOGIN_AT, ACTIVITY_AT))
    assert client.get(reverse("home")).status_code == 200


@pytest.mark.parametrize("role", ["staff", "owner_party"])
def test_every_session_ends_its_lifetime_after_the_login(world, role: str) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(world.users[role])
    move_back(client, seconds=settings.SESSION_COOKIE_AGE - 60, keys=(LOGIN_AT,))
    assert client.get(reverse("home")).status_code == 200
    move_back(client, seconds=120, keys=(LOGIN_AT,))
    # Busy a second ago, but the login is older than the lifetime.
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
    assert SESSION_KEY not in client.session


def test_a_session_from_before_the_clocks_gets_them_on_its_next_request(world) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(world.users["staff"])
    session = client.session
    del session[LOGIN_AT], session[ACTIVITY_AT]
    session.save()
    assert client.get(reverse("home")).status_code == 200
    assert LOGIN_AT in client.session and ACTIVITY_AT in client.session


def test_pages_seen_within_a_minute_do_not_rewrite_the_session(world) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(world.users["staff"])
    home = reverse("home")
    with CaptureQueriesContext(connection) as queries:
        client.get(home)
    assert not [q for q in queries if "django_session" in q["sql"] and "UPDATE" in q["sql"]]
    move_back(client, seconds=61, keys=(LOGIN_AT, ACTIVITY_AT))
    with CaptureQueriesContext(connection) as queries:
        client.get(home)
    assert [q for q in queries if "django_session" in q["sql"] and "UPDATE" in q["sql"]]
