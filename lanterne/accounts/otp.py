"""Staff two-factor authentication (django-otp).

Staff hold the agency's mail, co-owners' personal data included: a password
alone does not open their session. Each staff login is confirmed by a code
from an authenticator app (TOTP, RFC 6238: a secret shared once through a QR
code, a six-digit code every 30 seconds) or, when the phone is lost, by one of
ten single-use backup codes (django-otp's static device). Co-owners and
council members are not asked.

django-otp's own throttling stays on for both devices: after n wrong codes in
a row a device refuses to check another for 2^(n-1) seconds, whatever the
address they come from — on top of the per-address lockout of
lanterne.accounts.throttling.
"""

from __future__ import annotations

import io
from base64 import b32encode
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp import verify_token
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from lanterne.audit.models import AuditAction
from lanterne.audit.services import audit_record
from lanterne.dossiers.policy import Viewer, viewer_of

BACKUP_CODE_COUNT = 10
TOTP_NAME = "Application d'authentification"
BACKUP_NAME = "Codes de secours"


def two_factor_required(viewer: Viewer) -> bool:
    """Whether this viewer's logins need a second step: staff, when the
    installation asks for it (LANTERNE_STAFF_2FA)."""
    return bool(settings.STAFF_2FA) and viewer.is_staff_anywhere


def second_factor_pending(request: HttpRequest) -> bool:
    """Whether the session is a staff member's whose second step is still to
    come: they may reach nothing but the two-factor pages."""
    user = request.user
    if not settings.STAFF_2FA or not user.is_authenticated:
        return False
    return two_factor_required(viewer_of(request)) and not is_verified(user)


def is_verified(user: Any) -> bool:
    """Whether the session passed the second step (django-otp's OTPMiddleware
    gives the request's user `is_verified`)."""
    return bool(user.is_verified())


def confirmed_totp_device(user: Any) -> TOTPDevice | None:
    """The authenticator app the user confirmed, if any."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-pk").first()


def pending_totp_device(user: Any) -> TOTPDevice:
    """The app being set up: a fresh secret, kept until a first code confirms
    it, so that reloading the page shows the same QR code."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)
    return device


def secret_text(device: TOTPDevice) -> str:
    """The secret as an app asks to type it: base32 in groups of four."""
    secret = b32encode(device.bin_key).decode()
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_svg(device: TOTPDevice) -> bytes:
    """The QR code of the app's setup link (otpauth://), drawn as SVG with no
    style or script in it, so that Lanterne serves it under its own policy."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathFillImage)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()


def backup_code_display(token: str) -> str:
    return f"{token[:4]}-{token[4:]}"


def backup_codes_left(user: Any) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def _backup_codes_replace(user: Any) -> list[str]:
    """New backup codes; the earlier ones stop working."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=BACKUP_NAME, confirmed=True)
    tokens = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=t) for t in tokens])
    return [backup_code_display(token) for token in tokens]


def _audit(*, viewer: Viewer, actor: Any, target: Device, action: AuditAction, summary: str):
    for agency_id in sorted(viewer.staff_agency_ids):
        audit_record(
            actor=actor, agency_id=agency_id, action=action, target=target, summary=summary
        )


@transaction.atomic
def totp_enrolment_confirm(
    *, viewer: Viewer, actor: Any, device: TOTPDevice, code: str
) -> list[str] | None:
    """Confirm the app being set up with its first code. Returns the new
    backup codes (shown once), or None when the code is wrong. The app it
    replaces, if any, stops working."""
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=actor, confirmed=False)
    if not device.verify_token(_digits(code)):
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=actor).exclude(pk=device.pk).delete()
    codes = _backup_codes_replace(actor)
    _audit(
        viewer=viewer,
        actor=actor,
        target=device,
        action=AuditAction.CREATED,
        summary=f"Double authentification activée pour {actor.get_username()}",
    )
    return codes


@transaction.atomic
def backup_codes_regenerate(*, viewer: Viewer, actor: Any) -> list[str]:
    """Ten new backup codes, for a verified session; the old ones stop working."""
    codes = _backup_codes_replace(actor)
    device = StaticDevice.objects.get(user=actor)
    _audit(
        viewer=viewer,
        actor=actor,
        target=device,
        action=AuditAction.CHANGED,
        summary=f"Nouveaux codes de secours pour {actor.get_username()}",
    )
    return codes


@dataclass(frozen=True)
class SecondFactorResult:
    """The outcome of a second-step code: the device that accepted it, or
    none — and then, if the device refused to check it because of earlier
    wrong codes, when it will check again."""

    device: Device | None
    retry_at: datetime | None = None


def _digits(code: str) -> str:
    return "".join(code.split())


def _backup_token(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def second_factor_verify(*, user: Any, code: str) -> SecondFactorResult:
    """Check a second-step code: six digits go to the authenticator app, any
    other code to the backup codes (each works once)."""
    digits = _digits(code)
    if digits.isdigit() and len(digits) == 6:
        device: Device | None = confirmed_totp_device(user)
        token = digits
    else:
        device = StaticDevice.objects.filter(user=user, confirmed=True).first()
        token = _backup_token(code)
    if device is None:
        return SecondFactorResult(device=None)
    wait = throttled_until(device)
    if wait is not None:
        return SecondFactorResult(device=None, retry_at=wait)
    return SecondFactorResult(device=verify_token(user, device.persistent_id, token))


def throttled_until(device: Device) -> datetime | None:
    """When a device throttled by earlier wrong codes checks a code again, or
    None if it checks one now."""
    allowed, details = device.verify_is_allowed()
    if allowed:
        return None
    return (details or {}).get("locked_until") or timezone.now()


@transaction.atomic
def two_factor_reset(*, user: Any) -> int:
    """Forget a user's authenticator app and backup codes (a lost phone, run by
    the server's operator): their next login sets up a new app. Returns how
    many devices were removed."""
    removed = 0
    agency_ids = Viewer.for_user(user).staff_agency_ids
    for device in [*TOTPDevice.objects.filter(user=user), *StaticDevice.objects.filter(user=user)]:
        for agency_id in sorted(agency_ids):
            audit_record(
                actor=None,
                agency_id=agency_id,
                action=AuditAction.DELETED,
                target=device,
                summary=f"Double authentification réinitialisée pour {user.get_username()}",
            )
        device.delete()
        removed += 1
    return removed
