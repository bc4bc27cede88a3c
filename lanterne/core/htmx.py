"""htmx: one view, two renderings (the full page, or the partial htmx asked for)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def render_page(
    request: HttpRequest, template: str, context: dict[str, Any], *, partial: str | None = None
) -> HttpResponse:
    """Render `template`, or `partial` when the request comes from htmx."""
    if partial is not None and getattr(request, "htmx", False):
        return render(request, partial, context)
    return render(request, template, context)
