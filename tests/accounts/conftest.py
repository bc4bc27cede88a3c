"""Fixtures of the login-security tests: the second step turned on, real TOTP
codes computed from a device's key, and logins through the real form."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from lanterne.accounts import otp
from lanterne.dossiers.policy import Viewer
from tests.core.test_csp import url_arguments  # noqa: F401  (a value for every URL argument)
from tests.factories import PASSWORD


@pytest.fixture
def two_factor(settings: Any) -> Any:
    """The installation asks staff for a second step (the production default)."""
    settings.STAFF_2FA = True
    return settings


def totp_code(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """The code an authenticator app shows for `device` now (or `steps_ahead`
    periods of 30 s later, still within the device's tolerance), computed
    from its key as the app does (RFC 6238)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def enrol(user: Any) -> tuple[TOTPDevice, list[str]]:
    """A confirmed authenticator app and backup codes for `user`."""
    device = TOTPDevice.objects.create(user=user, name="Téléphone", confirmed=True)
    codes = otp.backup_codes_regenerate(viewer=Viewer.for_user(user), actor=user)
    return device, codes


def password_login(email: str, password: str = PASSWORD, **extra: Any) -> tuple[Client, Any]:
    """A fresh browser posting the login form; returns it and the response."""
    client = Client(**extra)
    response = client.post(reverse("accounts:login"), {"username": email, "password": password})
    return client, response
