"""Login throttling (django-axes, lanterne.accounts.throttling): wrong
passwords and wrong second-step codes lock an (e-mail, IP address) pair out
for the configured cool-off.

Time moves forward by moving the recorded attempts back, as the cool-off
counts from them."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.core.test_csp import inline_code
from tests.core.test_settings import run_lanterne
from tests.factories import PASSWORD

from .conftest import enrol, password_login, totp_code

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
VERIFY = reverse("accounts:two_factor_verify")
WRONG = "pas-le-bon-1"


def fail(email: str, times: int, **client: Any) -> list[Any]:
    return [password_login(email, WRONG, **client)[1] for _ in range(times)]


def cool_off_passes(email: str) -> None:
    """Move the recorded failures of `email` back past the cool-off."""
    moved = AccessAttempt.objects.filter(username=email).update(
        attempt_time=timezone.now()
        - settings.AXES_COOLOFF_TIME * dt.timedelta(hours=1)
        - dt.timedelta(seconds=1)
    )
    assert moved


def test_defaults_are_five_failures_and_fifteen_minutes() -> None:
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME * 60 == 15
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


def test_wrong_passwords_lock_out_then_the_cool_off_ends(world) -> None:  # type: ignore[no-untyped-def]
    email = world.users["owner_party"].email
    before = fail(email, settings.AXES_FAILURE_LIMIT - 1)
    assert [r.status_code for r in before] == [200] * (settings.AXES_FAILURE_LIMIT - 1)
    assert "Adresse e-mail ou mot de passe incorrect." in before[-1].content.decode()

    locking = fail(email, 1)[0]
    assert locking.status_code == 429
    body = locking.content.decode()
    assert "Connexion suspendue" in body
    assert "dans 15 minutes" in body
    # The hour to come back, in Paris time, from the last failure.
    last = AccessAttempt.objects.get(username=email).attempt_time
    until = timezone.localtime(last + dt.timedelta(minutes=15))
    assert f"jusqu'à {until:%H:%M}" in body.replace("&#x27;", "'")
    assert 899 <= int(locking["Retry-After"]) <= 900
    assert locking["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY
    assert inline_code(body) == []

    # The right password is refused during the cool-off, unchecked.
    client, response = password_login(email)
    assert response.status_code == 429
    assert SESSION_KEY not in client.session
    assert AccessAttempt.objects.get(username=email).failures_since_start == 5

    cool_off_passes(email)
    client, response = password_login(email)
    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(world.users["owner_party"].pk)
    # A complete login forgets the failures.
    assert not AccessAttempt.objects.filter(username=email).exists()


def test_the_count_is_per_email_and_address(world) -> None:  # type: ignore[no-untyped-def]
    email = world.users["owner_party"].email
    # The case and spaces of the typed address do not make another count.
    for typed in ("Owner-Party@Exemple.fr", " OWNER-PARTY@exemple.fr", email, email, email):
        response = password_login(typed, WRONG)[1]
    assert response.status_code == 429
    assert password_login(email)[1].status_code == 429
    # Another address is not locked out, nor another login from the same one.
    assert password_login(email, REMOTE_ADDR="192.0.2.7")[1].status_code == 302
    assert password_login(world.users["owner_not_party"].email)[1].status_code == 302


def test_the_limit_and_cool_off_follow_the_settings(world, settings) -> None:  # type: ignore[no-untyped-def]
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = 1 / 60  # one minute
    email = world.users["owner_party"].email
    assert [r.status_code for r in fail(email, 2)] == [200, 429]
    assert "dans 1 minute)" in password_login(email)[1].content.decode()
    cool_off_passes(email)
    assert password_login(email)[1].status_code == 302


def test_a_complete_login_resets_the_count(world) -> None:  # type: ignore[no-untyped-def]
    email = world.users["owner_party"].email
    fail(email, settings.AXES_FAILURE_LIMIT - 1)
    assert password_login(email)[1].status_code == 302
    responses = fail(email, settings.AXES_FAILURE_LIMIT - 1)
    assert {r.status_code for r in responses} == {200}


def test_nothing_typed_is_kept_in_the_attempts(world) -> None:  # type: ignore[no-untyped-def]
    fail(world.users["owner_party"].email, 1)
    attempt = AccessAttempt.objects.get()
    assert WRONG not in attempt.post_data
    assert "password=****" in attempt.post_data


def test_a_password_reset_does_not_lift_a_lockout(world) -> None:  # type: ignore[no-untyped-def]
    user = world.users["owner_party"]
    fail(user.email, settings.AXES_FAILURE_LIMIT)
    client = Client()
    client.post(reverse("accounts:password_reset"), {"email": user.email})
    link = re.search(r"https?://[^/\s]+(/mot-de-passe/nouveau/\S+/\S+/)", mail.outbox[0].body)
    assert link is not None
    form = client.get(link.group(1), follow=True)
    new_password = "Marronniers-2027?"
    response = client.post(
        form.redirect_chain[-1][0], {"new_password1": new_password, "new_password2": new_password}
    )
    assert response["Location"] == reverse("accounts:password_reset_complete")
    # The reset opened no session, and the new password waits for the cool-off too.
    assert SESSION_KEY not in client.session
    assert password_login(user.email, new_password)[1].status_code == 429
    cool_off_passes(user.email)
    assert password_login(user.email, new_password)[1].status_code == 302


# --- The second step shares the count -----------------------------------------------------


def test_wrong_codes_lock_out_like_wrong_passwords(world, two_factor) -> None:  # type: ignore[no-untyped-def]
    staff = world.users["staff"]
    device, _codes = enrol(staff)
    client, _response = password_login(staff.email)
    wrong = f"{(int(totp_code(device)) + 1) % 1_000_000:06d}"
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=None)
        assert client.post(VERIFY, {"code": wrong}).status_code == 400
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=None)
    locked = client.post(VERIFY, {"code": wrong})
    assert locked.status_code == 429
    assert "Connexion suspendue" in locked.content.decode()
    # The half-open session is over, and the password no longer opens one.
    assert SESSION_KEY not in client.session
    assert password_login(staff.email)[1].status_code == 429
    assert wrong not in AccessAttempt.objects.get(username=staff.email).post_data

    cool_off_passes(staff.email)
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=None)
    client, response = password_login(staff.email)
    assert response.status_code == 302
    assert client.post(VERIFY, {"code": totp_code(device)}).status_code == 302
    assert client.get(reverse("mail:triage")).status_code == 200
    assert not AccessAttempt.objects.filter(username=staff.email).exists()


def test_a_right_password_does_not_buy_more_guesses_at_the_code(world, two_factor) -> None:  # type: ignore[no-untyped-def]
    staff = world.users["staff"]
    device, _codes = enrol(staff)
    wrong = f"{(int(totp_code(device)) + 1) % 1_000_000:06d}"
    outcomes = []
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client, response = password_login(staff.email)
        if response.status_code != 302:
            outcomes.append(response.status_code)
            break
        TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=None)
        outcomes.append(client.post(VERIFY, {"code": wrong}).status_code)
    assert outcomes == [400] * (settings.AXES_FAILURE_LIMIT - 1) + [429]


def test_wrong_first_codes_at_enrolment_count_too(world, two_factor, settings) -> None:  # type: ignore[no-untyped-def]
    settings.AXES_FAILURE_LIMIT = 2
    staff = world.users["staff"]
    client, _response = password_login(staff.email)
    client.get(reverse("accounts:two_factor"))
    pending = TOTPDevice.objects.get(user=staff)
    wrong = f"{(int(totp_code(pending)) + 1) % 1_000_000:06d}"
    enrol_url = reverse("accounts:two_factor")
    assert client.post(enrol_url, {"action": "enrol", "code": wrong}).status_code == 400
    TOTPDevice.objects.filter(pk=pending.pk).update(throttling_failure_timestamp=None)
    assert client.post(enrol_url, {"action": "enrol", "code": wrong}).status_code == 429
    assert SESSION_KEY not in client.session
    assert not TOTPDevice.objects.filter(user=staff, confirmed=True).exists()


# --- The variables --------------------------------------------------------------------------


def test_the_environment_sets_the_limits_and_the_second_step(tmp_path) -> None:  # type: ignore[no-untyped-def]
    show = (
        "from django.conf import settings; print(settings.AXES_FAILURE_LIMIT, "
        "round(settings.AXES_COOLOFF_TIME * 60), settings.STAFF_2FA, settings.SESSION_IDLE_MINUTES)"
    )
    production = run_lanterne("shell", "-c", show, tmp_path=tmp_path, LANTERNE_SECRET_KEY="x" * 50)
    assert production.returncode == 0, production.stderr
    assert production.stdout.split()[-4:] == ["5", "15", "True", "60"]
    demo = run_lanterne("shell", "-c", show, tmp_path=tmp_path, LANTERNE_MODE="demo")
    assert demo.stdout.split()[-4:] == ["5", "15", "False", "60"]
    configured = run_lanterne(
        "shell",
        "-c",
        show,
        tmp_path=tmp_path,
        LANTERNE_MODE="demo",
        LANTERNE_STAFF_2FA="true",
        LANTERNE_LOGIN_FAILURE_LIMIT="3",
        LANTERNE_LOGIN_COOLOFF_MINUTES="30",
        LANTERNE_SESSION_IDLE_MINUTES="20",
    )
    assert configured.stdout.split()[-4:] == ["3", "30", "True", "20"]


def test_the_default_password_still_logs_in(world) -> None:  # type: ignore[no-untyped-def]
    """The suite's logins keep working with axes in the chain."""
    assert password_login(world.users["owner_party"].email, PASSWORD)[1].status_code == 302
