"""The second step of staff logins (lanterne.accounts.otp and its middleware).

Codes are real: computed from the device's key with django-otp's own TOTP
(RFC 6238), as an authenticator app computes them; nothing of the OTP maths is
mocked.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from base64 import b32decode
from typing import Any

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from lanterne.audit.models import AuditLog
from tests.core.test_csp import inline_code, urls
from tests.factories import PASSWORD

from .conftest import enrol, password_login, totp_code

pytestmark = pytest.mark.django_db

ENROL = reverse("accounts:two_factor")
VERIFY = reverse("accounts:two_factor_verify")
QR = reverse("accounts:two_factor_qr")
# The views an unverified staff session may still open.
OPEN = {
    "accounts:login",
    "accounts:logout",
    "accounts:two_factor",
    "accounts:two_factor_qr",
    "accounts:two_factor_verify",
    "set_language",
}


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def verified(client: Client, device: TOTPDevice, *, steps_ahead: int = 0) -> Client:
    response = client.post(VERIFY, {"code": totp_code(device, steps_ahead=steps_ahead)})
    assert response.status_code == 302, response.content.decode()[:2000]
    return client


# --- Who is asked -------------------------------------------------------------------------


def test_staff_without_an_app_reach_nothing_but_the_enrolment(  # type: ignore[no-untyped-def]
    world, two_factor, url_arguments
) -> None:
    """Every URL of the project (dossiers, triage, « À publier », rules,
    sources, quarantine, imports, contacts…) sends them to the enrolment."""
    client = signed_in(world.users["staff"])
    walked = set()
    for name, url in urls(url_arguments):
        if name in OPEN:
            continue
        response = client.get(url)
        assert response.status_code == 302, f"{name} {url}: {response.status_code}"
        assert response["Location"].startswith(ENROL + "?next="), f"{name} {url}"
        walked.add(name)
    assert {
        "home",
        "dossiers:detail",
        "mail:triage",
        "mail:review",
        "mail:rules",
        "mail:sources",
        "mail:quarantine",
        "condominiums:import",
        "condominiums:persons",
        "documents:download",
    } <= walked
    # Writes too, and htmx requests get their redirect as htmx wants it.
    response = client.post(reverse("dossiers:create"), {"title": "Ravalement"})
    assert response.status_code == 302 and response["Location"] == ENROL
    response = client.get(reverse("mail:triage_count"), headers={"HX-Request": "true"})
    assert response["HX-Redirect"] == ENROL


def test_staff_with_an_app_but_no_code_yet_are_sent_to_the_code_page(  # type: ignore[no-untyped-def]
    world, two_factor, url_arguments
) -> None:
    enrol(world.users["staff"])
    client = signed_in(world.users["staff"])
    for name, url in urls(url_arguments):
        if name in OPEN:
            continue
        response = client.get(url)
        assert response.status_code == 302, f"{name} {url}: {response.status_code}"
        assert response["Location"].startswith(VERIFY + "?next="), f"{name} {url}"
    # Nor can they set up another app: that takes a code of the current one.
    assert client.get(ENROL)["Location"].startswith(VERIFY)
    assert client.get(QR).status_code == 404
    assert TOTPDevice.objects.filter(user=world.users["staff"]).count() == 1


@pytest.mark.parametrize("role", ["owner_party", "council_member", "council_chair"])
def test_co_owners_and_council_are_never_asked(world, two_factor, role: str) -> None:  # type: ignore[no-untyped-def]
    client, response = password_login(world.users[role].email)
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert client.get(reverse("home")).status_code == 200
    dossier = client.get(reverse("dossiers:detail", args=[world.dossier.pk]))
    assert dossier.status_code == 200
    for url in (ENROL, VERIFY, QR):
        assert client.get(url).status_code == 404


def test_without_the_setting_staff_log_in_with_a_password_only(world, settings) -> None:  # type: ignore[no-untyped-def]
    settings.STAFF_2FA = False
    client, response = password_login(world.users["staff"].email)
    assert response.status_code == 302
    assert client.get(reverse("mail:triage")).status_code == 200
    for url in (ENROL, VERIFY, QR):
        assert client.get(url).status_code == 404


# --- Enrolment ---------------------------------------------------------------------------


def test_enrolment_shows_the_qr_code_and_the_secret_and_takes_a_first_code(  # type: ignore[no-untyped-def]
    world, two_factor
) -> None:
    staff = world.users["staff"]
    client, response = password_login(staff.email)
    assert client.get(response["Location"])["Location"].startswith(ENROL)

    page = client.get(ENROL)
    assert page.status_code == 200
    body = page.content.decode()
    assert "Double authentification" in body
    # Staff links are not offered before the second step.
    assert reverse("mail:triage") not in body
    secret = re.search(r"<code>([A-Z2-7 ]+)</code>", body)
    assert secret is not None
    # The page's own QR code, served by Lanterne as SVG with nothing to run.
    qr = client.get(QR)
    assert qr.status_code == 200
    assert qr["Content-Type"] == "image/svg+xml"
    assert qr.content.lstrip().startswith(b"<?xml") and b"<svg" in qr.content
    assert b"<script" not in qr.content and b"style" not in qr.content
    assert "no-store" in qr["Cache-Control"] and "no-store" in page["Cache-Control"]
    # Reloading shows the same secret: it is kept until confirmed.
    assert secret.group(1) in client.get(ENROL).content.decode()

    # The secret typed into an app, as a person without a camera would.
    key = b32decode(secret.group(1).replace(" ", ""))
    app = TOTP(key)
    wrong = f"{(app.token() + 1) % 1_000_000:06d}"
    refused = client.post(ENROL, {"action": "enrol", "code": wrong})
    assert refused.status_code == 400
    assert "Code incorrect" in refused.content.decode()
    assert not TOTPDevice.objects.filter(user=staff, confirmed=True).exists()

    device = TOTPDevice.objects.get(user=staff)
    device.throttling_failure_timestamp = timezone.now() - dt.timedelta(minutes=1)
    device.save()
    accepted = client.post(ENROL, {"action": "enrol", "code": f"{app.token():06d}"})
    assert accepted.status_code == 200, accepted.content.decode()[:2000]
    codes = re.findall(r"<code>([a-z2-7]{4}-[a-z2-7]{4})</code>", accepted.content.decode())
    assert len(codes) == 10 and len(set(codes)) == 10
    assert "La double authentification est activée." in accepted.content.decode()
    device.refresh_from_db()
    assert device.confirmed
    assert AuditLog.objects.filter(
        agency=world.agency, object_type="otp_totp.totpdevice", object_id=str(device.pk)
    ).exists()
    # The session is verified: staff pages open.
    assert client.get(reverse("mail:triage")).status_code == 200
    assert client.get(reverse("dossiers:detail", args=[world.dossier.pk])).status_code == 200
    # Shown once: the status page tells how many are left, not which.
    status = client.get(ENROL).content.decode()
    assert "Il vous reste 10 codes de secours." in status
    assert codes[0] not in status


def test_a_verified_session_may_replace_the_app_and_the_backup_codes(world, two_factor) -> None:  # type: ignore[no-untyped-def]
    staff = world.users["staff"]
    old, old_codes = enrol(staff)
    client = verified(signed_in(staff), old)

    again = client.post(ENROL, {"action": "backup_codes"})
    new_codes = re.findall(r"<code>([a-z2-7]{4}-[a-z2-7]{4})</code>", again.content.decode())
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    assert StaticToken.objects.filter(device__user=staff).count() == 10

    page = client.get(ENROL + "?changer=1").content.decode()
    assert "l'ancienne cessera de fonctionner" in page
    pending = TOTPDevice.objects.get(user=staff, confirmed=False)
    response = client.post(ENROL, {"action": "enrol", "code": totp_code(pending)})
    assert response.status_code == 200
    assert list(TOTPDevice.objects.filter(user=staff).values_list("pk", flat=True)) == [pending.pk]


# --- The code page -----------------------------------------------------------------------


def test_login_then_code_then_the_page_asked_for(world, two_factor) -> None:  # type: ignore[no-untyped-def]
    staff = world.users["staff"]
    device, _codes = enrol(staff)
    dossier = reverse("dossiers:detail", args=[world.dossier.pk])
    client = Client()
    response = client.post(
        reverse("accounts:login"), {"username": staff.email, "password": PASSWORD, "next": dossier}
    )
    assert response["Location"] == dossier
    response = client.get(dossier)
    assert response["Location"] == f"{VERIFY}?next={dossier.replace('/', '%2F')}"
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "Code de vérification" in page.content.decode()
    assert reverse("mail:triage") not in page.content.decode()

    wrong = f"{(int(totp_code(device)) + 1) % 1_000_000:06d}"
    refused = client.post(VERIFY, {"code": wrong, "next": dossier})
    assert refused.status_code == 400
    assert "Code incorrect" in refused.content.decode()
    assert client.get(dossier).status_code == 302

    device.refresh_from_db()
    device.throttling_failure_timestamp = timezone.now() - dt.timedelta(minutes=1)
    device.save()
    session_key = client.session.session_key
    accepted = client.post(VERIFY, {"code": totp_code(device), "next": dossier})
    assert accepted.status_code == 302 and accepted["Location"] == dossier
    assert client.session.session_key != session_key  # a new key once fully logged in
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    assert client.get(dossier).status_code == 200
    assert client.get(reverse("mail:triage")).status_code == 200


def test_a_code_works_once_and_next_stays_on_the_site(world, two_factor) -> None:  # type: ignore[no-untyped-def]
    staff = world.users["staff"]
    device, _codes = enrol(staff)
    code = totp_code(device)
    first = signed_in(staff)
    assert first.post(VERIFY, {"code": code, "next": "https://evil.example/"})["Location"] == (
        reverse("home")
    )
    # The same code, replayed in another session, is refused.
    second = signed_in(staff)
    assert second.post(VERIFY, {"code": code}).status_code == 400


def test_a_device_throttled_by_wrong_codes_says_how_long_to_wait(world, two_factor) -> None:  # type: ignore[no-untyped-def]
    staff = world.users["staff"]
    device, _codes = enrol(staff)
    client = signed_in(staff)
    wrong = f"{(int(totp_code(device)) + 1) % 1_000_000:06d}"
    client.post(VERIFY, {"code": wrong})
    client.post(VERIFY, {"code": wrong})  # within a second of the first: not even checked
    response = client.post(VERIFY, {"code": totp_code(device)})
    assert response.status_code == 400
    assert "patientez" in response.content.decode()
    device.refresh_from_db()
    assert device.throttling_failure_count == 1
    device.throttling_failure_timestamp = timezone.now() - dt.timedelta(seconds=2)
    device.save()
    assert client.post(VERIFY, {"code": totp_code(device)}).status_code == 302


def test_a_backup_code_works_once(world, two_factor) -> None:  # type: ignore[no-untyped-def]
    staff = world.users["staff"]
    _device, codes = enrol(staff)
    client = signed_in(staff)
    response = client.post(VERIFY, {"code": codes[0].upper().replace("-", " ")}, follow=True)
    assert response.status_code == 200
    assert "Code de secours utilisé : il vous en reste 9." in response.content.decode()
    assert client.get(reverse("mail:triage")).status_code == 200

    again = signed_in(staff)
    assert again.post(VERIFY, {"code": codes[0]}).status_code == 400
    assert again.get(reverse("mail:triage")).status_code == 302
    backup = StaticDevice.objects.get(user=staff)
    backup.throttling_failure_timestamp = timezone.now() - dt.timedelta(minutes=1)
    backup.save()
    assert again.post(VERIFY, {"code": codes[1]}).status_code == 302
    assert StaticToken.objects.filter(device__user=staff).count() == 8


def test_logout_ends_the_verification(world, two_factor) -> None:  # type: ignore[no-untyped-def]
    staff = world.users["staff"]
    device, _codes = enrol(staff)
    client = verified(signed_in(staff), device)
    client.post(reverse("accounts:logout"))
    client.force_login(staff)
    assert client.get(reverse("mail:triage"))["Location"].startswith(VERIFY)


# --- The pages keep to the Content-Security-Policy ----------------------------------------


def test_the_two_factor_pages_carry_the_policy_and_no_inline_code(world, two_factor) -> None:  # type: ignore[no-untyped-def]
    staff = world.users["staff"]
    client = signed_in(staff)
    pages = [client.get(ENROL)]
    pending = TOTPDevice.objects.get(user=staff)
    pages.append(client.post(ENROL, {"action": "enrol", "code": totp_code(pending)}))
    pages.append(client.get(ENROL))
    pages.append(signed_in(staff).get(VERIFY))
    for response in pages:
        assert response.status_code == 200
        assert response["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY
        assert inline_code(response.content.decode()) == []


def test_the_operator_resets_a_lost_phone(world, two_factor) -> None:  # type: ignore[no-untyped-def]
    staff = world.users["staff"]
    enrol(staff)
    out = io.StringIO()
    call_command("reset-two-factor", staff.email.upper(), stdout=out)
    assert "2 device(s) removed" in out.getvalue()
    assert not TOTPDevice.objects.filter(user=staff).exists()
    assert not StaticDevice.objects.filter(user=staff).exists()
    assert AuditLog.objects.filter(agency=world.agency, action="deleted").count() == 2
    client, _response = password_login(staff.email)
    assert client.get(reverse("home"))["Location"].startswith(ENROL)
    with pytest.raises(CommandError):
        call_command("reset-two-factor", "personne@exemple.fr")
