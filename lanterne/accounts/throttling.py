"""Login throttling with django-axes: the callables its settings name, and the
second step's share of the same count.

One count per (e-mail, IP address) covers both steps of a login: wrong
passwords (counted by axes itself, through its authentication backend) and
wrong second-step codes (counted here). It is reset only when a login is
complete — right after the password for those who have no second step,
after the code for staff — so that knowing a password never buys more
guesses at the code.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_ip_address, get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone


def login_username(request: HttpRequest, credentials: dict[str, Any] | None = None) -> str | None:
    """The login an attempt counts against (AXES_USERNAME_CALLABLE): the e-mail
    trimmed and lower-cased, as the login form and `User.save` store it, so
    that "Jean@X.fr" and " jean@x.fr" share one count."""
    value = (credentials or {}).get("username")
    if value is None and credentials is None:
        value = request.POST.get("username")
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().lower()


def _credentials(user: Any) -> dict[str, str]:
    return {"username": user.get_username()}


def login_locked_out(request: HttpRequest, user: Any) -> bool:
    """Whether this e-mail is locked out from this address right now."""
    if not getattr(settings, "AXES_ENABLED", True):
        return False
    return not AxesProxyHandler.is_allowed(request, _credentials(user))


def login_failure_record(request: HttpRequest, user: Any) -> bool:
    """Count a wrong second-step code like a wrong password; True when it
    locks the e-mail out (the caller then ends the half-open session)."""
    user_login_failed.send(sender=__name__, credentials=_credentials(user), request=request)
    return bool(getattr(request, "axes_locked_out", False))


def login_failures_reset(request: HttpRequest, user: Any) -> None:
    """A complete login: forget this e-mail's failures from this address."""
    if not getattr(settings, "AXES_ENABLED", True):
        return
    AxesProxyHandler.update_request(request)
    AxesProxyHandler.get_implementation().reset_user_attempts(request, _credentials(user))


def retry_at(request: HttpRequest, username: str | None) -> dt.datetime:
    """When the lockout of `username` from this address ends: the cool-off
    counted from its last counted failure."""
    cool_off = get_cool_off(request) or dt.timedelta(0)
    last = AccessAttempt.objects.filter(
        username=username, ip_address=get_client_ip_address(request)
    ).aggregate(last=Max("attempt_time"))["last"]
    return (last or timezone.now()) + cool_off


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """The page of a locked-out login (AXES_LOCKOUT_CALLABLE): in French, with
    the time to try again, as 429 Too Many Requests (RFC 6585 §4) with a
    Retry-After header."""
    username = login_username(request, credentials)
    until = retry_at(request, username)
    seconds = max(0, math.ceil((until - timezone.now()).total_seconds()))
    response = render(
        request,
        "accounts/lockout.html",
        {
            "retry_at": until,
            "minutes": max(1, math.ceil(seconds / 60)),
            "failure_limit": get_failure_limit(request, credentials),
        },
        status=429,
    )
    response["Retry-After"] = str(seconds)
    return response


def login_failures_reset_on_login(
    sender: Any, request: HttpRequest, user: Any, **kwargs: Any
) -> None:
    """On login (the user_logged_in signal): the password was right. Without a
    second step the login is complete and its failures are forgotten; with
    one they are kept until the code is right too."""
    from lanterne.dossiers.policy import Viewer

    from .otp import two_factor_required

    if request is None:
        return
    if settings.STAFF_2FA and two_factor_required(Viewer.for_user(user)):
        return
    login_failures_reset(request, user)
