"""`{% dossier_reminders %}`: the « Relances » block of a dossier page."""

from __future__ import annotations

from typing import Any

from django import template

from lanterne.dossiers import policy

from ..selectors import dossier_reminders as reminders_of

register = template.Library()


@register.inclusion_tag("reminders/partials/dossier_reminders.html", takes_context=True)
def dossier_reminders(context: template.Context) -> dict[str, Any]:
    """The reminders of the page's `dossier`, for its staff (nothing for
    anyone else): read here so that the dossier page's view needs no change
    to show them."""
    request = context["request"]
    dossier = context["dossier"]
    viewer = policy.viewer_of(request)
    return {
        "dossier": dossier,
        "reminders": reminders_of(viewer, dossier),
        "is_staff": policy.may_edit_dossier(viewer, dossier),
    }
