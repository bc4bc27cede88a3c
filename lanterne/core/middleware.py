"""Lanterne's own middleware: a Content-Security-Policy on every response,
and the client's address behind reverse proxies (`ForwardedClientMiddleware`).

Lanterne shows hostile input to its users: the e-mails filed into dossiers.
Their HTML is sanitised when parsed (`lanterne.mail.sanitize`) and shown in a
sandboxed frame with its own policy (`lanterne.mail.display`), but a page of
Lanterne itself must not depend on the sanitiser alone: with a policy that
allows no inline script, no `eval` and no script from elsewhere, markup that
slips through (a sanitiser bug, a template that forgot to escape) still runs
nothing. Lanterne's own pages keep to that: their behaviour comes from static
files (`lanterne/static/lanterne/lanterne.js`, htmx), their look from the
static stylesheet, never from inline `<script>`, `on…=` or `style=`
(tests/core/test_csp.py scans the templates).

The policy is the `CONTENT_SECURITY_POLICY` setting. A response that already
carries its own policy keeps it: the HTML version of a mail and the files
served from a mail or a dossier set a stricter, sandboxing one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponse

__all__ = ["ContentSecurityPolicyMiddleware", "ForwardedClientMiddleware"]

HEADER = "Content-Security-Policy"


class ContentSecurityPolicyMiddleware:
    """Add `settings.CONTENT_SECURITY_POLICY` to every response without a
    policy of its own.

    Every response, not only HTML pages: a redirect, an error page or a JSON
    body opened directly in a tab is a document too, and the header costs
    nothing on the others. Placed near the top of `MIDDLEWARE` so that it also
    sees the responses other middleware answer by themselves (CSRF failures,
    the first-run redirect)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.policy: str = settings.CONTENT_SECURITY_POLICY

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if HEADER not in response:
            response[HEADER] = self.policy
        return response


class ForwardedClientMiddleware:
    """Behind `settings.TRUSTED_PROXIES` reverse proxies, put the client's
    address, as those proxies saw it, in `REMOTE_ADDR`.

    Each proxy appends the address it was reached from to X-Forwarded-For, so
    with N proxies the client is the Nth address from the right; whatever
    stands further left was sent by the client and proves nothing. One place
    rewrites the address and every reader then agrees: django-axes counts
    failed logins per client rather than per proxy (else one guesser would
    lock every co-owner out), and gunicorn's access log, which reads the
    same WSGI environ once the response is sent, names the client too.

    Without trusted proxies (the default) the middleware is left out of the
    chain: X-Forwarded-For is then the client's own claim, and ignored. A
    request with fewer addresses than proxies did not come through all of
    them (a direct connection, a proxy misconfigured): it keeps the socket's
    address, as does a value that is not an IP address."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.proxies: int = settings.TRUSTED_PROXIES
        if self.proxies <= 0:
            raise MiddlewareNotUsed

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chain = [
            address.strip()
            for address in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if address.strip()
        ]
        if len(chain) >= self.proxies:
            try:
                client = ipaddress.ip_address(chain[-self.proxies])
            except ValueError:
                pass
            else:
                request.META["REMOTE_ADDR"] = str(client)
        return self.get_response(request)
