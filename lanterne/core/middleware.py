"""A Content-Security-Policy on every response Lanterne serves.

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

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

__all__ = ["ContentSecurityPolicyMiddleware"]

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
