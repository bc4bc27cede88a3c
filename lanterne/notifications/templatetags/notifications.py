"""The follow button of the dossier page."""

from __future__ import annotations

from typing import Any

from django import template

from lanterne.dossiers import policy
from lanterne.dossiers.models import Dossier

from ..selectors import is_following

register = template.Library()


@register.inclusion_tag("notifications/partials/follow_button.html", takes_context=True)
def follow_button(context: template.Context, dossier: Dossier) -> dict[str, Any]:
    """« Suivre ce dossier » or « Ne plus suivre », for whoever sees the page
    (one query: their explicit choice; the dossier's parties are prefetched)."""
    request = context.get("request")
    viewer = policy.viewer_of(request) if request is not None else policy.Viewer.anonymous()
    return {
        "dossier": dossier,
        "following": is_following(viewer, dossier),
        "show": not viewer.is_anonymous,
        "csrf_token": context.get("csrf_token"),
    }
