"""The client's address behind reverse proxies (LANTERNE_TRUSTED_PROXIES,
lanterne.core.middleware.ForwardedClientMiddleware), as django-axes counts
failed logins against it."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD, World


def _log_in(client: Client, email: str, password: str) -> int:
    response = client.post(reverse("accounts:login"), {"username": email, "password": password})
    return response.status_code


@pytest.mark.parametrize(
    ("proxies", "forwarded_for", "counted_against"),
    [
        # No proxy trusted: the header is the client's own claim.
        (0, "203.0.113.7", "127.0.0.1"),
        # The proxy appended what it saw; what the client sent is further left.
        (1, "198.51.100.20, 203.0.113.7", "203.0.113.7"),
        (2, "198.51.100.20, 203.0.113.7", "198.51.100.20"),
        (1, "2001:DB8::1", "2001:db8::1"),
        # Fewer addresses than proxies: not through them all; the socket's.
        (2, "203.0.113.7", "127.0.0.1"),
        (1, "", "127.0.0.1"),
        (1, "pas-une-adresse", "127.0.0.1"),
    ],
)
def test_a_failed_login_counts_against_the_address_the_proxies_saw(
    world: World, settings, proxies: int, forwarded_for: str, counted_against: str
) -> None:
    settings.TRUSTED_PROXIES = proxies
    client = Client(HTTP_X_FORWARDED_FOR=forwarded_for)
    user = world.users["owner_party"]
    assert user is not None

    assert _log_in(client, user.email, "pas-le-bon") == 200

    attempt = AccessAttempt.objects.get()
    assert attempt.ip_address == counted_against


def test_behind_a_proxy_one_guesser_does_not_lock_the_others_out(world: World, settings) -> None:
    settings.TRUSTED_PROXIES = 1
    user = world.users["owner_party"]
    assert user is not None
    guesser = Client(HTTP_X_FORWARDED_FOR="203.0.113.66")
    owner = Client(HTTP_X_FORWARDED_FOR="198.51.100.20")

    for _ in range(settings.AXES_FAILURE_LIMIT):
        _log_in(guesser, user.email, "pas-le-bon")

    assert _log_in(guesser, user.email, PASSWORD) == 429
    assert _log_in(owner, user.email, PASSWORD) == 302


def test_without_trusted_proxies_every_client_is_the_proxy(world: World, settings) -> None:
    """The reason for the setting: left at 0 behind a proxy, every request
    comes from the proxy's address, and a guesser locks the owner out too."""
    settings.TRUSTED_PROXIES = 0
    user = world.users["owner_party"]
    assert user is not None
    guesser = Client(HTTP_X_FORWARDED_FOR="203.0.113.66")
    owner = Client(HTTP_X_FORWARDED_FOR="198.51.100.20")

    for _ in range(settings.AXES_FAILURE_LIMIT):
        _log_in(guesser, user.email, "pas-le-bon")

    assert _log_in(owner, user.email, PASSWORD) == 429
