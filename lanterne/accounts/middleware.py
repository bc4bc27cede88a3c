"""Request gates of the accounts: the first-run page until an agency exists,
the end of sessions (absolute lifetime, staff idle timeout), and the second
step of staff logins."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django_htmx.http import HttpResponseClientRedirect


class FirstRunMiddleware:
    """A fresh installation has no agency: offer the setup page instead of a login
    nobody can use. Once an agency exists the check is skipped for good."""

    # /webhooks/: a provider posting mail must get the webhook's own answer,
    # never a redirect to a page meant for a person.
    EXEMPT_PREFIXES = ("/installation/", "/static/", "/i18n/", "/webhooks/")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.installed = False

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not self.installed:
            from lanterne.condominiums.models import Agency

            if Agency.objects.exists():
                self.installed = True
            elif not request.path.startswith(self.EXEMPT_PREFIXES):
                return redirect("accounts:setup")
        return self.get_response(request)


def _redirect(request: HttpRequest, url: str) -> HttpResponse:
    """Send the browser to `url`, back to the page asked for afterwards when
    it was a plain GET; an htmx request gets its redirect as htmx wants it
    (a 302 would only swap the target page into a fragment)."""
    if request.headers.get("HX-Request") == "true":
        return HttpResponseClientRedirect(url)
    if request.method == "GET":
        url = f"{url}?{urlencode({'next': request.get_full_path()})}"
    return redirect(url)


# Session keys: when the login happened and when the session was last used,
# as POSIX timestamps (set at login by `session_times_start`).
LOGIN_AT = "lanterne_login_at"
ACTIVITY_AT = "lanterne_activity_at"
# The last activity is written at most once a minute, not on every request:
# a session saved on each page would cost a write per page.
ACTIVITY_RESOLUTION = 60


def session_times_start(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    """On login (the user_logged_in signal): start both clocks."""
    if request is None or not hasattr(request, "session"):
        return
    now = timezone.now().timestamp()
    request.session[LOGIN_AT] = now
    request.session[ACTIVITY_AT] = now


class SessionExpiryMiddleware:
    """Ends a session LANTERNE_SESSION_AGE seconds after its login, however
    busy (Django's own expiry slides with every save), and a staff session
    after LANTERNE_SESSION_IDLE_MINUTES without a request: an agency's
    computer left open gives nobody its mail."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated and self._expired(request):
            logout(request)
            messages.info(request, _("Votre session a expiré : reconnectez-vous."))
            return _redirect(request, reverse("accounts:login"))
        return self.get_response(request)

    def _expired(self, request: HttpRequest) -> bool:
        from lanterne.dossiers.policy import viewer_of

        session = request.session
        now = timezone.now().timestamp()
        login_at = session.get(LOGIN_AT)
        if login_at is None:
            # A session opened before these clocks existed: they start now.
            session[LOGIN_AT] = session[ACTIVITY_AT] = now
            return False
        if now - login_at > settings.SESSION_COOKIE_AGE:
            return True
        last = session.get(ACTIVITY_AT, login_at)
        idle = settings.SESSION_IDLE_MINUTES * 60
        if idle and now - last > idle and viewer_of(request).is_staff_anywhere:
            return True
        if now - last >= ACTIVITY_RESOLUTION:
            session[ACTIVITY_AT] = now
        return False


class StaffTwoFactorMiddleware:
    """A staff member whose session has not passed the second step reaches
    nothing but the pages of that step: every other view sends them to the
    code page, or to the setup of an authenticator app if they have none.
    Co-owners and council members are not asked (lanterne.accounts.otp)."""

    OPEN_VIEWS = frozenset(
        {
            "accounts:login",
            "accounts:logout",
            "accounts:two_factor",
            "accounts:two_factor_qr",
            "accounts:two_factor_verify",
            "set_language",
        }
    )

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        from . import otp

        match = request.resolver_match
        if match is not None and match.view_name in self.OPEN_VIEWS:
            return None
        if not otp.second_factor_pending(request):
            return None
        if otp.confirmed_totp_device(request.user) is None:
            return _redirect(request, reverse("accounts:two_factor"))
        return _redirect(request, reverse("accounts:two_factor_verify"))
