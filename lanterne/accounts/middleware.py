"""Send every request to the first-run page until an agency exists."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect


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
